<?php
// index.php — the demo page of the lampfarm dev farm (`make run`, http://127.0.0.1:8080/).
//
// Shows which Apache node answered this request, that node's readiness as mod_health reports it
// (fetched server-side from the node's own /health/ready?details: only loopback clients may see
// details), HAProxy's view of the nodes, and the exact commands that drain a node and bring it
// back, by file and over HTTP. The node's name, port and the farm's paths come from SetEnv lines
// in the node's config (scripts/farm/node.conf.tmpl).
//
// It also uploads files through mod_s3 (<Location /files> in the node's config): the form posts
// straight to /files/ with an upload token minted here, so the bytes go from the browser through
// Apache into S3 (moto) and never through PHP. mod_s3 answers with a 303 back to this page with
// the stored keys (/?uploaded=1&key=uploads/...); the page remembers them in a cookie, not on the
// node, and lists them as links served by mod_s3.
//
// And a login (any name, no password: a demo) with a per-session page counter, kept in the
// session that httpd stores in redis (mod_session + mod_session_kv, LAMPFARM_SESSION_STORE set by
// the node's config; httpd talks to redis over TLS, PHP never does) and that PHP reads and writes
// through php/LampfarmSessionHandler.php: reload through HAProxy and the counter goes on while the
// node that serves the page changes.
//
// And what mod_cloudwatch measured on this node: the figures of the last interval it published
// to CloudWatch (moto) per group — requests, p50/p99 latency, 5xx — and when and how the last
// PutMetricData went, from the node's own /cloudwatch-status (JSON).
//
// On the farm it links to the Symfony app that the nodes serve under /symfony/ (tests/symfony,
// see scripts/farm/node.conf.tmpl).
//
// Outside the farm (no LAMPFARM_NODE, e.g. tests/integration/test_049_s3_browser.py) only the
// upload part is shown; it needs LAMPFARM_UPLOAD_SECRET_FILE, the file of S3UploadTokenSecret.

require_once __DIR__ . '/../../../docs/examples/s3-upload-token.php'; // lampfarm_upload_token()
require_once __DIR__ . '/../../../php/LampfarmSessionHandler.php';

header('Cache-Control: no-store');

// What the upload form may send; these match <Location /files> in scripts/farm/node.conf.tmpl.
const UPLOAD_URL = '/files';             // the location
const UPLOAD_PREFIX = 'uploads/';        // its S3KeyPrefix (tokens name whole keys)
const UPLOAD_MAX = 20 * 1024 * 1024;     // bytes; its S3MaxUploadSize 20M
const UPLOAD_TOKEN_TTL = 600;            // seconds a token (and so the form) stays usable
const UPLOAD_COOKIE = 'lampfarm_uploads';
const UPLOAD_KEEP = 20;                  // files remembered per visitor
// A key below the prefix as mod_s3 generates it: 32 hex digits and the file's extension
// (lower-case ASCII letters and digits, at most 10). Nothing else is ever rendered or linked.
const UPLOAD_NAME = '/^[0-9a-f]{32}(?:\.[a-z0-9]{1,10})?$/D';

function h($v): string
{
    if ($v === null) {
        return '—';
    }
    if (is_bool($v)) {
        return $v ? 'true' : 'false';
    }
    return htmlspecialchars((string) $v, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

/** An RFC 3339 time as HH:MM:SS, the full stamp in a tooltip. */
function t(?string $stamp): string
{
    if ($stamp === null || !preg_match('/T(\d\d:\d\d:\d\d)/', $stamp, $m)) {
        return h($stamp);
    }
    return '<span title="' . h($stamp) . '">' . h($m[1]) . '</span>';
}

/** GET a loopback URL; returns [status code or 0, body or error text]. Never throws. */
function fetch(string $url): array
{
    $ctx = stream_context_create(['http' => [
        'method' => 'GET',
        'timeout' => 2,
        'ignore_errors' => true, // a 503 from /health/ready still has a body worth showing
    ]]);
    $body = @file_get_contents($url, false, $ctx);
    if ($body === false) {
        $err = error_get_last();
        return [0, $err['message'] ?? 'request failed'];
    }
    $status = 0;
    foreach ($http_response_header ?? [] as $line) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
            $status = (int) $m[1];
        }
    }
    return [$status, $body];
}

/** The names (below UPLOAD_PREFIX) in the visitor's cookie, newest first; others dropped. */
function remembered_uploads(): array
{
    $out = [];
    $raw = $_COOKIE[UPLOAD_COOKIE] ?? '';
    foreach (explode(',', is_string($raw) ? $raw : '') as $name) {
        if (preg_match(UPLOAD_NAME, $name) && !in_array($name, $out, true)) {
            $out[] = $name;
        }
    }
    return array_slice($out, 0, UPLOAD_KEEP);
}

/** Keep @p $names (below UPLOAD_PREFIX, newest first) in the visitor's cookie. */
function remember_uploads(array $names): void
{
    setcookie(UPLOAD_COOKIE, implode(',', $names), [
        'expires' => time() + 30 * 86400, 'path' => '/', 'httponly' => true, 'samesite' => 'Lax',
    ]);
}

/** Every key=... of the query string (mod_s3 sends one per stored file; $_GET keeps one). */
function redirected_keys(): array
{
    $keys = [];
    foreach (explode('&', (string) ($_SERVER['QUERY_STRING'] ?? '')) as $pair) {
        [$k, $v] = array_pad(explode('=', $pair, 2), 2, '');
        if (urldecode($k) === 'key') {
            $keys[] = urldecode($v);
        }
    }
    return $keys;
}

/**
 * HEAD an upload through this node's mod_s3: [HTTP status or 0, original file name or null,
 * size in bytes or null]. The name is in the Content-Disposition mod_s3 stored with the object.
 */
function upload_info(int $port, string $name): array
{
    $ctx = stream_context_create(['http' => ['method' => 'HEAD', 'timeout' => 1,
                                             'ignore_errors' => true]]);
    if (@file_get_contents("http://127.0.0.1:$port" . UPLOAD_URL . "/$name", false, $ctx) === false) {
        return [0, null, null];
    }
    $status = 0;
    $file = $size = null;
    foreach ($http_response_header ?? [] as $line) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
            $status = (int) $m[1];
        } elseif (preg_match('/^Content-Length:\s*(\d+)/i', $line, $m)) {
            $size = (int) $m[1];
        } elseif (preg_match('/^Content-Disposition:(.*)$/i', $line, $m)) {
            if (preg_match("/filename\\*=UTF-8''([^;\\s]+)/i", $m[1], $f)) {
                $file = rawurldecode($f[1]);
            } elseif (preg_match('/filename="([^"]*)"/i', $m[1], $f)) {
                $file = $f[1];
            }
        }
    }
    return [$status, $file, $size];
}

/** A Unix time from mod_cloudwatch as HH:MM:SS and how long ago, or "never" for 0. */
function unix_time(int $t): string
{
    if ($t <= 0) {
        return 'never';
    }
    return '<span title="' . h(date(DATE_ATOM, $t)) . '">' . h(date('H:i:s', $t)) . '</span> ('
        . h(max(0, time() - $t)) . ' s ago)';
}

/** Microseconds as milliseconds with a sensible precision. */
function ms(int $us): string
{
    return $us < 10000 ? sprintf('%.2f ms', $us / 1000) : sprintf('%.0f ms', $us / 1000);
}

function size_text(?int $bytes): string
{
    if ($bytes === null) {
        return '—';
    }
    return $bytes < 1024 ? "$bytes B"
        : ($bytes < 1048576 ? sprintf('%.1f KiB', $bytes / 1024) : sprintf('%.1f MiB', $bytes / 1048576));
}

$onFarm = isset($_SERVER['LAMPFARM_NODE']);
$node = $_SERVER['LAMPFARM_NODE'] ?? ($_SERVER['SERVER_NAME'] ?? 'unknown');
$port = (int) ($_SERVER['LAMPFARM_NODE_PORT'] ?? ($_SERVER['SERVER_PORT'] ?? 0));
$farm = $_SERVER['LAMPFARM_FARM_DIR'] ?? '/path/to/build/farm';
$httpPort = (int) ($_SERVER['LAMPFARM_HTTP_PORT'] ?? 8080);
$statsPort = (int) ($_SERVER['LAMPFARM_STATS_PORT'] ?? 8404);
$nodes = [];
foreach (preg_split('/\s+/', trim($_SERVER['LAMPFARM_NODES'] ?? ''), -1, PREG_SPLIT_NO_EMPTY) as $pair) {
    [$n, $p] = array_pad(explode('=', $pair, 2), 2, '');
    $nodes[$n] = (int) $p;
}
$via = $_SERVER['HTTP_X_FORWARDED_FOR'] ?? null;
$refresh = isset($_GET['refresh']) ? max(1, min(60, (int) $_GET['refresh'])) : 0;

// --- the session (mod_session + mod_session_kv; php/LampfarmSessionHandler.php) ---
// Only logged-in visitors have a session: an anonymous page view stores nothing. Everything here
// runs before the page prints a byte, because the session goes back to httpd in a response
// header (the page is larger than PHP's output buffer).
$sessionStore = $onFarm ? ($_SERVER['LAMPFARM_SESSION_STORE'] ?? null) : null;
$user = null;
$loginError = null;
$sessionId = null;
if ($sessionStore !== null) {
    LampfarmSessionHandler::register();
    session_start();
    $action = ($_SERVER['REQUEST_METHOD'] ?? 'GET') === 'POST' ? (string) ($_POST['action'] ?? '') : '';
    if ($action === 'login') {
        $name = trim((string) ($_POST['user'] ?? ''));
        if (preg_match('/^[^\x00-\x1f\x7f]{1,40}$/u', $name)) {
            // A new session id at login (session fixation): httpd makes it, moves the session
            // over and deletes the old one.
            session_regenerate_id(true);
            $_SESSION = ['user' => $name, 'since' => date(DATE_ATOM), 'views' => 0, 'nodes' => []];
            session_write_close();
            header('Location: /', true, 303);
            exit;
        }
        $loginError = 'A user name is 1 to 40 characters, no control characters.';
    } elseif ($action === 'logout') {
        // Every key of ours removed: httpd deletes the session and expires the cookie.
        $_SESSION = [];
        session_destroy();
        header('Location: /', true, 303);
        exit;
    }
    if (isset($_SESSION['user'])) {
        $user = [
            'name' => (string) $_SESSION['user'],
            'since' => (string) ($_SESSION['since'] ?? ''),
            'previous' => $_SESSION['last_node'] ?? null,
        ];
        $_SESSION['views'] = (int) ($_SESSION['views'] ?? 0) + 1;
        $_SESSION['nodes'][$node] = (int) ($_SESSION['nodes'][$node] ?? 0) + 1;
        $_SESSION['last_node'] = $node;
        $user['views'] = $_SESSION['views'];
        $user['nodes'] = $_SESSION['nodes'];
        // httpd's session id, from its cookie: only to show where the session lives in redis
        $cookie = $_COOKIE['lampfarm_session'] ?? null;
        $sessionId = is_string($cookie) && preg_match('/^[A-Za-z0-9_-]{43}$/D', $cookie) ? $cookie : null;
    }
    session_write_close();
}
$redisPort = $sessionStore !== null && preg_match('/:(\d+)/', $sessionStore, $portMatch) ? $portMatch[1] : '6379';
// redis-cli as httpd reaches redis: over TLS (rediss://, the farm's CA) or not
$redisCli = 'redis-cli -p ' . $redisPort;
if ($sessionStore !== null && str_starts_with($sessionStore, 'rediss://')) {
    $redisCa = $_SERVER['LAMPFARM_SESSION_CA'] ?? null;
    $redisCli = 'redis-cli --tls' . ($redisCa !== null ? ' --cacert ' . $redisCa : '') . ' -p ' . $redisPort;
}

// --- uploads (mod_s3) ---
// Back from mod_s3's 303: remember the new keys (newest first) in the cookie. Only keys of the
// shape mod_s3 generates below our prefix are taken; the cookie is re-validated when read.
$names = remembered_uploads();
$justStored = [];
$ignored = 0;
foreach (redirected_keys() as $key) {
    $name = substr($key, strlen(UPLOAD_PREFIX));
    if (str_starts_with($key, UPLOAD_PREFIX) && preg_match(UPLOAD_NAME, $name)) {
        $justStored[] = $name;
    } else {
        $ignored++;
    }
}
if ($justStored) {
    $names = array_slice(array_values(array_unique(array_merge(array_reverse($justStored), $names))),
                         0, UPLOAD_KEEP);
    remember_uploads($names);
}
// The token: uploads below our prefix, up to UPLOAD_MAX bytes, for a few minutes.
$uploadAction = null;
$uploadError = null;
$secretFile = $_SERVER['LAMPFARM_UPLOAD_SECRET_FILE'] ?? null;
if ($secretFile === null) {
    $uploadError = 'uploads are not configured here (no LAMPFARM_UPLOAD_SECRET_FILE)';
} elseif (($secret = @file_get_contents($secretFile)) === false) {
    $uploadError = 'cannot read the upload token secret ' . $secretFile . ': '
        . (error_get_last()['message'] ?? 'unknown error');
} else {
    // as mod_s3 reads a file: secret: trailing line breaks dropped, nothing else
    $token = lampfarm_upload_token(rtrim($secret, "\r\n"), [
        'prefix' => UPLOAD_PREFIX, 'max' => UPLOAD_MAX, 'exp' => time() + UPLOAD_TOKEN_TTL,
    ]);
    $uploadAction = UPLOAD_URL . '/?upload_token=' . rawurlencode($token);
}
// Each listed file's original name and size, from a HEAD through this node's mod_s3; within a
// time budget, so a slow S3 cannot hold the page.
$uploads = [];
$budget = microtime(true) + 2.0;
foreach ($names as $name) {
    $uploads[$name] = microtime(true) < $budget ? upload_info($port, $name) : [0, null, null];
}
// Files S3 no longer has (moto forgets everything when the farm stops) are shown once more, as
// gone, and forgotten.
$kept = array_keys(array_filter($uploads, static fn (array $u): bool => $u[0] !== 404));
if (count($kept) !== count($names)) {
    remember_uploads($kept);
}

// --- the farm: readiness and HAProxy's view (not outside the farm) ---
$readyCode = 0;
$readyBody = '';
$cwCode = 0;
$cwBody = '';
$cw = null;
$details = null;
$lb = [];
if ($onFarm) {
    [$readyCode, $readyBody] = fetch("http://127.0.0.1:$port/health/ready?details");
    $details = json_decode($readyBody, true);
    // HAProxy's view: the CSV stats export, one line per server.
    [$csvCode, $csv] = fetch("http://127.0.0.1:$statsPort/;csv");
    // mod_cloudwatch's figures on this node (its last published interval).
    [$cwCode, $cwBody] = fetch("http://127.0.0.1:$port/cloudwatch-status");
    $cw = $cwCode === 200 ? json_decode($cwBody, true) : null;
} else {
    $csvCode = 0;
}
if ($csvCode === 200) {
    $lines = preg_split('/\r?\n/', $csv);
    $head = str_getcsv(ltrim(array_shift($lines), '# '));
    foreach ($lines as $line) {
        if ($line === '') {
            continue;
        }
        $row = array_combine($head, array_pad(str_getcsv($line), count($head), ''));
        if ($row['pxname'] === 'nodes' && isset($nodes[$row['svname']])) {
            $lb[$row['svname']] = $row;
        }
    }
}
?>
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<?php if ($refresh): ?><meta http-equiv="refresh" content="<?= $refresh ?>"><?php endif; ?>
<title>lampfarm — <?= h($node) ?></title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 62em; color: #222; }
  h1 { font-size: 1.6em; margin-bottom: .2em; }
  h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
  .node { font-size: 1.4em; padding: .1em .5em; border-radius: .3em; color: #fff;
          background: <?= $node === 'nodeA' ? '#2a6fb0' : '#8a3fb0' ?>; }
  .ok { color: #17803d; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; }
  .warn { color: #a05a00; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; font-size: .92em; }
  th, td { text-align: left; padding: .3em .5em; border-bottom: 1px solid #eee; vertical-align: top; }
  code, pre { font: 13px/1.4 ui-monospace, monospace; background: #f5f5f5; }
  pre { padding: .6em .8em; overflow-x: auto; }
  .muted { color: #777; }
</style>
</head>
<body>
<h1>Served by <span class="node" id="node"><?= h($node) ?></span></h1>
<?php if ($sessionStore !== null): ?>
<div id="session">
<?php if ($user !== null): ?>
  <p>Logged in as <strong id="user"><?= h($user['name']) ?></strong> since <?= t($user['since']) ?>.
     This session has loaded this page <strong id="views"><?= h($user['views']) ?></strong>
     time<?= $user['views'] === 1 ? '' : 's' ?>: <span id="per-node"><?php
     $parts = [];
     foreach ($user['nodes'] as $n => $count) {
         $parts[] = h($n) . ' ' . h($count);
     }
     echo implode(', ', $parts); ?></span>.
     <?php if ($user['previous'] !== null): ?>The previous load was served by
     <strong id="previous"><?= h($user['previous']) ?></strong><?= $user['previous'] !== $node
         ? ', this one by ' . h($node) . ': the session came along' : '' ?>.<?php endif; ?></p>
  <form method="post" action="/" id="logout">
    <input type="hidden" name="action" value="logout">
    <button type="submit" id="logout-submit">Log out</button>
    <span class="muted">The session lives in redis (<?= h($sessionStore) ?>), not on the node:
      httpd hands it to PHP and stores PHP's changes (mod_session + mod_session_kv).<?php
      if ($sessionId !== null): ?> Its key:
      <code><?= h($redisCli) ?> TTL skv:<?= h(hash('sha256', $sessionId)) ?></code><?php endif; ?></span>
  </form>
<?php else: ?>
  <form method="post" action="/" id="login">
    <input type="hidden" name="action" value="login">
    <label>User name <input name="user" id="login-user" required maxlength="40" autocomplete="username"></label>
    <button type="submit" id="login-submit">Log in</button>
    <span class="muted">any name, no password (a demo); then reload and watch the counter
      go on on both nodes</span>
  </form>
  <?php if ($loginError !== null): ?><p class="bad" id="login-error"><?= h($loginError) ?></p><?php endif; ?>
<?php endif; ?>
</div>
<?php endif; ?>
<?php if ($onFarm): ?>
<p id="symfony">And a Symfony application on the same two nodes, its sessions in redis too:
  <a href="/symfony/">/symfony/</a>.</p>
<p class="muted">
  Apache node on 127.0.0.1:<?= $port ?>,
  <?= $via !== null ? 'reached through HAProxy (X-Forwarded-For: ' . h($via) . ')' : 'reached directly, not through HAProxy' ?>.
  Reload: HAProxy sends each request to the next ready node.
  <?= $refresh ? '<a href="?">stop auto-refresh</a>' : '<a href="?refresh=2">auto-refresh every 2 s</a>' ?>
</p>
<?php else: ?>
<p class="muted" id="not-farm">
  Not a node of the dev farm (no LAMPFARM_NODE from the Apache config): readiness, HAProxy's
  view and draining are shown on the farm only (<code>make run</code>).
</p>
<?php endif; ?>

<h2>Uploads (mod_s3)</h2>
<?php if ($justStored): ?>
  <p class="ok" id="upload-result">Stored <?= count($justStored) ?> file<?= count($justStored) > 1 ? 's' : '' ?> in S3.</p>
<?php endif; ?>
<?php if ($ignored): ?>
  <p class="warn">Ignored <?= $ignored ?> key<?= $ignored > 1 ? 's' : '' ?> in the address that mod_s3 would not have generated.</p>
<?php endif; ?>
<?php if ($uploadAction === null): ?>
  <p class="bad" id="upload-error"><?= h($uploadError) ?></p>
<?php else: ?>
  <form id="upload" method="post" enctype="multipart/form-data" action="<?= h($uploadAction) ?>">
    <input type="file" name="file" id="upload-file" required>
    <button type="submit" id="upload-submit">Upload</button>
    <span class="muted">up to <?= size_text(UPLOAD_MAX) ?>; the form works for <?= UPLOAD_TOKEN_TTL / 60 ?> minutes</span>
  </form>
  <p class="muted">The file goes from your browser through this node's mod_s3 straight into S3
     (<code>POST <?= h(UPLOAD_URL) ?>/</code> with an upload token for keys below
     <code><?= h(UPLOAD_PREFIX) ?></code>, minted by this page); PHP never sees the bytes. Any
     node serves it back: nothing is stored on the node.</p>
<?php endif; ?>
<?php if ($uploads): ?>
  <table id="uploads">
    <tr><th>your files (newest first)</th><th>stored as</th><th>size</th></tr>
    <?php foreach ($uploads as $name => [$status, $file, $size]): ?>
    <tr class="upload">
      <td><?php if ($status === 200): ?><a href="<?= h(UPLOAD_URL . '/' . $name) ?>"><?= h($file ?? $name) ?></a><?php
          elseif ($status === 404): ?><span class="muted"><?= h($name) ?> (gone)</span><?php
          else: ?><a href="<?= h(UPLOAD_URL . '/' . $name) ?>"><?= h($name) ?></a>
            <span class="warn">(HEAD: <?= $status ? 'HTTP ' . $status : 'no answer' ?>)</span><?php
          endif; ?></td>
      <td><code><?= h(UPLOAD_PREFIX . $name) ?></code></td><td><?= h(size_text($size)) ?></td>
    </tr>
    <?php endforeach; ?>
  </table>
  <p class="muted">Remembered in a cookie of your browser (the last <?= UPLOAD_KEEP ?>), not on the node.</p>
<?php else: ?>
  <p class="muted" id="no-uploads">No files uploaded from this browser yet.</p>
<?php endif; ?>

<?php if ($onFarm): ?>
<h2>Readiness of <?= h($node) ?> (mod_health)</h2>
<?php if (!is_array($details)): ?>
  <p class="bad">Could not read http://127.0.0.1:<?= $port ?>/health/ready?details
     (HTTP <?= h($readyCode) ?>):</p>
  <pre><?= h($readyBody) ?></pre>
<?php else: ?>
  <p>
    <code>GET /health/ready</code> answers
    <span class="<?= $readyCode === 200 ? 'ok' : 'bad' ?>"><?= h($readyCode) ?> <?= h($details['status'] ?? '') ?></span>
    — reason: <strong><?= h($details['reason'] ?? '') ?></strong>;
    draining: <strong><?= h($details['draining'] ?? null) ?></strong><?php
    if (!empty($details['draining'])): ?> (since <?= t($details['draining_since'] ?? null) ?>,
      by <?= h($details['drain_source'] ?? null) ?>)<?php endif; ?>;
    requests in flight (this page's included): <?= h($details['in_flight'] ?? null) ?>.
  </p>
  <table>
    <tr><th>check</th><th>type</th><th>target</th><th>severity</th><th>state</th><th>since</th>
        <th>latency</th><th>last checked</th><th>error</th></tr>
    <?php foreach ($details['checks'] ?? [] as $c):
        $state = $c['state'] ?? 'unknown';
        $cls = $state === 'up' ? 'ok' : (($c['severity'] ?? '') === 'critical' ? 'bad' : 'warn'); ?>
    <tr>
      <td><?= h($c['name'] ?? null) ?></td><td><?= h($c['type'] ?? null) ?></td>
      <td><code><?= h($c['target'] ?? null) ?></code></td><td><?= h($c['severity'] ?? null) ?></td>
      <td class="<?= $cls ?>"><?= h($state) ?></td><td><?= t($c['since'] ?? null) ?></td>
      <td><?= isset($c['latency_ms']) ? h(sprintf('%.1f ms', $c['latency_ms'])) : '—' ?></td>
      <td><?= t($c['checked_at'] ?? null) ?></td><td><?= h($c['error'] ?? null) ?></td>
    </tr>
    <?php endforeach; ?>
  </table>
  <p class="muted">Critical checks decide readiness; degraded ones are shown but never take the
     node out. Raw: <code>curl -s 'http://127.0.0.1:<?= $port ?>/health/ready?details' | jq</code></p>
<?php endif; ?>

<h2>Requests of <?= h($node) ?> (mod_cloudwatch)</h2>
<?php if (!is_array($cw)): ?>
  <p class="bad">Could not read http://127.0.0.1:<?= $port ?>/cloudwatch-status
     (HTTP <?= h($cwCode) ?>):</p>
  <pre><?= h($cwBody) ?></pre>
<?php else:
    $lastAttempt = (int) ($cw['last_attempt'] ?? 0);
    $lastError = (string) ($cw['last_error'] ?? '');
    $lastStatus = (int) ($cw['last_status'] ?? 0); ?>
  <p id="cloudwatch-publish">
    Last <code>PutMetricData</code> to CloudWatch (moto): <?= unix_time($lastAttempt) ?>,
    <?php if ($lastAttempt === 0): ?><span class="muted">nothing sent yet (every 10 s)</span><?php
    elseif ($lastError === '' && $lastStatus === 200): ?><span class="ok">accepted</span><?php
    else: ?><span class="bad"><?= h($lastError !== '' ? $lastError : "HTTP $lastStatus") ?></span><?php endif; ?>;
    last accepted <?= unix_time((int) ($cw['last_success'] ?? 0)) ?>.
    Since the node started: <?= h($cw['Intervals'] ?? 0) ?> intervals,
    <?= h($cw['RequestsSent'] ?? 0) ?> requests accepted (<?= h($cw['DatumsSent'] ?? 0) ?> datums),
    <?= h($cw['RequestsFailed'] ?? 0) ?> failed, <?= h($cw['Backlog'] ?? 0) ?> waiting,
    <?= h($cw['DroppedIntervals'] ?? 0) ?> dropped.
  </p>
  <?php if (empty($cw['groups'])): ?>
  <p class="muted" id="cloudwatch-none">No requests in the last published interval yet.</p>
  <?php else: ?>
  <table id="cloudwatch-groups">
    <tr><th>group</th><th>requests</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>5xx</th></tr>
    <?php foreach ($cw['groups'] as $g): ?>
    <tr class="cloudwatch-group">
      <td><?= h($g['group'] ?? null) ?></td><td class="requests"><?= h($g['requests'] ?? null) ?></td>
      <td class="p50"><?= h(ms((int) ($g['p50_us'] ?? 0))) ?></td><td><?= h(ms((int) ($g['p90_us'] ?? 0))) ?></td>
      <td class="p99"><?= h(ms((int) ($g['p99_us'] ?? 0))) ?></td><td><?= h(ms((int) ($g['max_us'] ?? 0))) ?></td>
      <td><?= h($g['5xx'] ?? null) ?></td>
    </tr>
    <?php endforeach; ?>
  </table>
  <?php endif; ?>
  <p class="muted">This node's last 10-second interval, as published (the histogram's percentiles,
     within 3 %); CloudWatch adds both nodes up. Health checks are not counted. Raw:
     <code>curl -s http://127.0.0.1:<?= $port ?>/cloudwatch-status | jq</code>; in moto's
     CloudWatch: namespace <code>Lampfarm/Farm</code>, dimension
     <code>AutoScalingGroupName=lampfarm-local</code> (and per <code>Group</code>).</p>
<?php endif; ?>

<h2>HAProxy's view</h2>
<?php if (!$lb): ?>
  <p class="warn">HAProxy's stats (http://127.0.0.1:<?= $statsPort ?>/) did not answer.</p>
<?php else: ?>
  <table>
    <tr><th>server</th><th>status</th><th>last check</th><th>requests sent</th><th>since last change</th></tr>
    <?php foreach ($lb as $name => $row): ?>
    <tr>
      <td><?= h($name) ?><?= $name === $node ? ' (this one)' : '' ?></td>
      <td class="<?= str_starts_with($row['status'], 'UP') ? 'ok' : 'bad' ?>"><?= h($row['status']) ?></td>
      <td><?= h($row['check_status'] ?? '') ?> <?= h($row['check_code'] ?? '') ?></td>
      <td><?= h($row['stot'] ?? '') ?></td><td><?= h($row['lastchg'] ?? '') ?> s</td>
    </tr>
    <?php endforeach; ?>
  </table>
  <p class="muted">Checks: <code>GET /health/ready</code> every 1 s; out after 2 failures, back after
     2 successes. Stats page: <a href="http://127.0.0.1:<?= $statsPort ?>/">http://127.0.0.1:<?= $statsPort ?>/</a></p>
<?php endif; ?>

<h2>Drain a node</h2>
<p>A draining node keeps serving the requests it gets, but its readiness turns 503, so HAProxy
   stops sending it new ones within about 2 seconds. Run these on this machine:</p>
<?php foreach ($nodes as $n => $p): ?>
  <h3><?= h($n) ?><?= $n === $node ? ' (the node that answered)' : '' ?></h3>
  <p>By file (readiness is 503 while the file exists):</p>
  <pre># start draining
touch <?= h("$farm/$n.drain") ?>

# stop draining
rm <?= h("$farm/$n.drain") ?></pre>
  <p>Over HTTP (from 127.0.0.1, with the farm's drain token; <code>DELETE</code> ends the drain,
     unless the drain file exists, which wins):</p>
  <pre># start draining
curl -X POST -H "Authorization: Bearer $(cat <?= h("$farm/drain.token") ?>)" http://127.0.0.1:<?= $p ?>/health/drain
# stop draining
curl -X DELETE -H "Authorization: Bearer $(cat <?= h("$farm/drain.token") ?>)" http://127.0.0.1:<?= $p ?>/health/drain
# drain state
curl -s http://127.0.0.1:<?= $p ?>/health/drain</pre>
<?php endforeach; ?>
<p>Watch the balancer react:</p>
<pre>for i in $(seq 6); do curl -s -o /dev/null -D - http://127.0.0.1:<?= $httpPort ?>/ | grep -i x-lampfarm-node; done
curl -s 'http://127.0.0.1:<?= $statsPort ?>/;csv' | cut -d, -f1,2,18 | grep ^nodes</pre>
<p class="muted">Stop the farm with <code>make stop</code>; its logs are in <code><?= h("$farm/logs") ?></code>.</p>
<?php endif; ?>
</body>
</html>
