<?php
// index.php — the demo page of the lampfarm dev farm (`make run`, http://127.0.0.1:8080/).
//
// Shows which Apache node answered this request, that node's readiness as mod_health reports it
// (fetched server-side from the node's own /health/ready?details: only loopback clients may see
// details), HAProxy's view of the nodes, and the exact commands that drain a node and bring it
// back, by file and over HTTP. The node's name, port and the farm's paths come from SetEnv lines
// in the node's config (scripts/farm/node.conf.tmpl).

header('Cache-Control: no-store');

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

$node = $_SERVER['LAMPFARM_NODE'] ?? 'unknown';
$port = (int) ($_SERVER['LAMPFARM_NODE_PORT'] ?? 0);
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

[$readyCode, $readyBody] = fetch("http://127.0.0.1:$port/health/ready?details");
$details = json_decode($readyBody, true);

// HAProxy's view: the CSV stats export, one line per server.
$lb = [];
[$csvCode, $csv] = fetch("http://127.0.0.1:$statsPort/;csv");
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
<p class="muted">
  Apache node on 127.0.0.1:<?= $port ?>,
  <?= $via !== null ? 'reached through HAProxy (X-Forwarded-For: ' . h($via) . ')' : 'reached directly, not through HAProxy' ?>.
  Reload: HAProxy sends each request to the next ready node.
  <?= $refresh ? '<a href="?">stop auto-refresh</a>' : '<a href="?refresh=2">auto-refresh every 2 s</a>' ?>
</p>

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
</body>
</html>
