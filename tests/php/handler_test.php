<?php

/*
 * CLI tests of php/LampfarmSessionHandler.php: `php tests/php/handler_test.php`.
 *
 * No PHPUnit. httpd's side is played by ModSessionSim below, which does what mod_session 2.4
 * does (checked against httpd 2.4 with SessionEnv / SessionHeader): HTTP_SESSION is the session
 * in application/x-www-form-urlencoded form (lower-case %xx, '+' for a space); a header pair
 * `key=value` sets the decoded key, `key=` removes the key *as written* (not decoded); keys are
 * case-insensitive; a value that decodes to a NUL is dropped. The X-Replace-Session-N pieces
 * are joined the way mod_session_kv joins them, and parallel requests are merged the way it
 * merges them (skv_merge: what each request changed against the session it loaded, applied to
 * the stored session in turn). symfony() plays what Symfony's NativeSessionStorage does around
 * a request.
 *
 * Output goes straight to STDOUT (fwrite), never through PHP's output layer, so that
 * headers_sent() stays false and session_start() works as under PHP-FPM.
 */

declare(strict_types=1);

ini_set('display_errors', 'stderr');
error_reporting(E_ALL);

require __DIR__ . '/../../php/LampfarmSessionHandler.php';

/* ------------------------------------------------------------------------------ harness */

$passed = 0;
$failed = 0;
$current = '';

function out(string $s): void
{
    fwrite(STDOUT, $s . "\n");
}

function test(string $name, callable $fn): void
{
    global $current, $failed;
    $current = $name;
    out("- $name");
    try {
        $fn();
    } catch (\Throwable $e) {
        $failed++;
        out("  FAIL: exception " . get_class($e) . ': ' . $e->getMessage() . ' at ' . $e->getFile() . ':' . $e->getLine());
    }
    if (session_status() === PHP_SESSION_ACTIVE) {
        session_abort();
    }
}

function check(bool $cond, string $what, mixed $got = null, mixed $want = null): void
{
    global $passed, $failed;
    if ($cond) {
        $passed++;

        return;
    }
    $failed++;
    $msg = "  FAIL: $what";
    if (func_num_args() > 2) {
        $msg .= "\n    got:  " . show($got) . "\n    want: " . show($want);
    }
    out($msg);
}

function same(mixed $got, mixed $want, string $what): void
{
    check($got === $want, $what, $got, $want);
}

function show(mixed $v): string
{
    $s = is_string($v) ? '"' . addcslashes($v, "\0..\37\"\\") . '"' : var_export($v, true);
    $s = str_replace("\n", ' ', $s);

    return strlen($s) > 400 ? substr($s, 0, 400) . '...(' . strlen($s) . ' bytes)' : $s;
}

/** Warnings raised while running $fn: list of [level, message]. */
function warnings(callable $fn, mixed &$result = null): array
{
    $seen = [];
    set_error_handler(function (int $level, string $message) use (&$seen): bool {
        $seen[] = [$level, $message];

        return true;
    });
    try {
        $result = $fn();
    } finally {
        restore_error_handler();
    }

    return $seen;
}

/** Stand-in for PHP's header list: header(), header_remove(), headers_sent(). */
final class FakeHeaders
{
    /** @var array<string, array{0: string, 1: string}> lower-case name => [name, value] */
    public array $headers = [];
    /** @var list<string> every header() line, in order */
    public array $log = [];
    public bool $sent = false;

    public function options(array $more = []): array
    {
        return $more + [
            'header' => function (string $line): void {
                $this->log[] = $line;
                [$name, $value] = explode(':', $line, 2);
                $this->headers[strtolower($name)] = [$name, ltrim($value, ' ')];
            },
            'header_remove' => function (string $name): void {
                unset($this->headers[strtolower($name)]);
            },
            'headers_sent' => function (&$file = null, &$line = null): bool {
                if ($this->sent) {
                    $file = 'test.php';
                    $line = 1;
                }

                return $this->sent;
            },
        ];
    }

    public function get(string $name): ?string
    {
        return $this->headers[strtolower($name)][1] ?? null;
    }

    /** @return list<string> header names, as sent */
    public function names(): array
    {
        return array_values(array_map(fn ($h) => $h[0], $this->headers));
    }
}

/** What httpd's mod_session (+ mod_session_kv's join) does with the session and the headers. */
final class ModSessionSim
{
    /** @var list<array{0: string, 1: string}> [key, value], in table order */
    public array $entries = [];
    public ?string $expiry = null;
    public bool $regenerated = false;

    public function __construct(array $entries = [], ?string $expiry = null)
    {
        foreach ($entries as $k => $v) {
            $this->set((string) $k, $v);
        }
        $this->expiry = $expiry;
    }

    public function get(string $key): ?string
    {
        foreach ($this->entries as [$k, $v]) {
            if (strcasecmp($k, $key) === 0) {
                return $v;
            }
        }

        return null;
    }

    public function set(string $key, string $value): void
    {
        foreach ($this->entries as $i => [$k, $v]) {
            if (strcasecmp($k, $key) === 0) {
                $this->entries[$i][1] = $value; // APR keeps the first key's spelling

                return;
            }
        }
        $this->entries[] = [$key, $value];
    }

    public function unset(string $key): void
    {
        $this->entries = array_values(array_filter($this->entries, fn ($e) => strcasecmp($e[0], $key) !== 0));
    }

    /** ap_escape_urlencoded(): alnum and ".-*_" stay, space is '+', the rest %xx (lower case). */
    public static function escape(string $s): string
    {
        $escaped = preg_replace_callback('/[^A-Za-z0-9.\-*_ ]/', fn ($m) => sprintf('%%%02x', ord($m[0])), $s);

        return strtr($escaped, ' ', '+');
    }

    /** ap_unescape_urlencoded(): null when httpd would refuse the value (bad escape, NUL). */
    public static function unescape(string $s): ?string
    {
        if (preg_match('/%(?![0-9A-Fa-f]{2})/', $s) || preg_match('/%00/', $s)) {
            return null;
        }

        return urldecode($s);
    }

    /** HTTP_SESSION, as `SessionEnv On` sets it. */
    public function encode(): string
    {
        $pairs = [];
        foreach ($this->entries as [$k, $v]) {
            $pairs[] = self::escape($k) . '=' . self::escape($v);
        }
        if ($this->expiry !== null) {
            $pairs[] = 'expiry=' . $this->expiry;
        }

        return implode('&', $pairs);
    }

    /** mod_session_kv's join of X-Replace-Session-1..N, then mod_session's SessionHeader. */
    public function apply(FakeHeaders $h, string $name = 'X-Replace-Session'): void
    {
        if ($h->get('X-Session-Regenerate') === '1') {
            $this->regenerated = true;
        }
        $value = $h->get($name);
        if ($value === null) {
            $parts = [];
            for ($i = 1; ($part = $h->get("$name-$i")) !== null; $i++) {
                $parts[] = $part;
            }
            $value = $parts ? implode('', $parts) : null;
        }
        if ($value === null) {
            return;
        }
        // session_identity_decode(): apr_strtok() on '&' then '=' (empty tokens skipped).
        foreach (explode('&', $value) as $pair) {
            $pair = ltrim($pair, '=');
            if ($pair === '') {
                continue;
            }
            $eq = strpos($pair, '=');
            $key = $eq === false ? $pair : substr($pair, 0, $eq);
            $val = $eq === false ? '' : substr($pair, $eq + 1);
            if ($val === '') {
                $this->unset($key); // the key as written, not decoded
                continue;
            }
            $k = self::unescape($key);
            $v = self::unescape($val);
            if ($k === null || $v === null) {
                continue;
            }
            if ($k === 'expiry') {
                $this->expiry = $v;
            } else {
                $this->set($k, $v);
            }
        }
    }

    /**
     * What mod_session_kv's merge takes from a request that loaded this session and left it as
     * $after (skv_merge_diff): the entries it set or changed, then the ones it removed (null).
     *
     * @return list<array{0: string, 1: ?string}>
     */
    public function changesTo(ModSessionSim $after): array
    {
        $changes = [];
        foreach ($after->entries as [$k, $v]) {
            if ($this->get($k) !== $v) {
                $changes[] = [$k, $v];
            }
        }
        foreach ($this->entries as [$k]) {
            if ($after->get($k) === null) {
                $changes[] = [$k, null];
            }
        }

        return $changes;
    }

    /** skv_merge_apply(): a request's changes applied to the session as it is stored now. */
    public function applyChanges(array $changes): void
    {
        foreach ($changes as [$k, $v]) {
            if ($v === null) {
                $this->unset($k);
            } else {
                $this->set($k, $v);
            }
        }
    }

    /** @return array<string, string> */
    public function asArray(): array
    {
        $a = [];
        foreach ($this->entries as [$k, $v]) {
            $a[$k] = $v;
        }

        return $a;
    }
}

/** A handler with fake headers, as a request under httpd with $sim as the stored session. */
function handler(?ModSessionSim $sim, array $options = []): array
{
    $h = new FakeHeaders();
    if ($sim === null) {
        unset($_SERVER['HTTP_SESSION']);
    } else {
        $_SERVER['HTTP_SESSION'] = $sim->encode();
    }

    return [new LampfarmSessionHandler($h->options($options)), $h];
}

/**
 * One request through PHP's own session machinery: session_start(), $body($_SESSION), end of
 * request (session_write_close()). Then httpd applies the headers to $sim.
 *
 * @return array{0: FakeHeaders, 1: list<array{0:int,1:string}>, 2: LampfarmSessionHandler}
 */
function request(ModSessionSim $sim, ?callable $body = null, array $options = [], ?callable $wrap = null): array
{
    [$handler, $h] = handler($sim, $options);
    $seen = warnings(function () use ($handler, $body, $wrap) {
        session_id('');
        session_set_save_handler($wrap ? $wrap($handler) : $handler, false);
        if (!session_start()) {
            throw new \RuntimeException('session_start() failed');
        }
        if ($body) {
            $body();
        }
        if (session_status() === PHP_SESSION_ACTIVE) {
            session_write_close();
        }
    });
    $sim->apply($h);

    return [$h, $seen, $handler];
}

/** A session array as PHP would hand it to write(). */
function data(array $session): string
{
    return serialize($session);
}

/**
 * Requests that all loaded the session $sim holds now and save one after the other, the way
 * mod_session_kv merges a save that finds the session changed: what the request changed
 * against the session it loaded (entries set or removed) is applied to the stored session.
 *
 * @param list<callable> $bodies
 * @return list<FakeHeaders>
 */
function parallel(ModSessionSim $sim, array $bodies, array $options = []): array
{
    $changes = $headers = [];
    foreach ($bodies as $body) {
        $copy = clone $sim;
        [$headers[]] = request($copy, $body, $options);
        $changes[] = $sim->changesTo($copy);
    }
    foreach ($changes as $change) {
        $sim->applyChanges($change);
    }

    return $headers;
}

/**
 * $body inside what Symfony's NativeSessionStorage (5.4, 6, 7) does around it: on start each
 * bag is an array (created empty when missing); on save the empty bags are left out, and
 * `_sf2_meta` too when nothing else is left.
 */
function symfony(?callable $body = null): callable
{
    return function () use ($body): void {
        foreach (['_sf2_attributes', '_symfony_flashes', '_sf2_meta'] as $key) {
            $_SESSION[$key] = isset($_SESSION[$key]) && is_array($_SESSION[$key]) ? $_SESSION[$key] : [];
        }
        if ($body) {
            $body();
        }
        foreach (['_sf2_attributes', '_symfony_flashes'] as $key) {
            if (empty($_SESSION[$key])) {
                unset($_SESSION[$key]);
            }
        }
        if ($_SESSION && array_keys($_SESSION) === ['_sf2_meta']) {
            unset($_SESSION['_sf2_meta']);
        }
    };
}

/** The session as a Symfony request sees it (after the bags are set up). */
function symfonyView(ModSessionSim $sim, array $options = []): array
{
    $seen = null;
    request($sim, symfony(function () use (&$seen) {
        $seen = $_SESSION;
    }), $options);

    return $seen;
}

/** $a with its keys sorted: for comparing bags whose order does not matter. */
function sorted(array $a): array
{
    ksort($a);

    return $a;
}

/* ------------------------------------------------------------------------------ fixtures */

class WithPrivate
{
    private string $secret = "s\0cret & = % + \n";
    protected array $list = [1, 2];
    public ?WithPrivate $child = null;

    public function secret(): string
    {
        return $this->secret;
    }
}

enum Colour: string
{
    case Red = 'red';
}

/** A wrapper like Symfony's SessionHandlerProxy: no create_sid(), so PHP makes the ids. */
class ProxyLikeSymfony implements \SessionHandlerInterface, \SessionUpdateTimestampHandlerInterface
{
    public function __construct(private \SessionHandlerInterface&\SessionUpdateTimestampHandlerInterface $h)
    {
    }

    public function open(string $p, string $n): bool { return $this->h->open($p, $n); }
    public function close(): bool { return $this->h->close(); }
    public function read(string $id): string|false { return $this->h->read($id); }
    public function write(string $id, string $d): bool { return $this->h->write($id, $d); }
    public function destroy(string $id): bool { return $this->h->destroy($id); }
    public function gc(int $m): int|false { return $this->h->gc($m); }
    public function validateId(string $id): bool { return $this->h->validateId($id); }
    public function updateTimestamp(string $id, string $d): bool { return $this->h->updateTimestamp($id, $d); }
}

/** Records the order in which PHP calls the handler. */
class Recorder extends LampfarmSessionHandler
{
    public array $calls = [];

    public function open(string $path, string $name): bool { $this->calls[] = 'open'; return parent::open($path, $name); }
    public function close(): bool { $this->calls[] = 'close'; return parent::close(); }
    public function read(string $id): string|false { $this->calls[] = 'read'; return parent::read($id); }
    public function write(string $id, string $data): bool { $this->calls[] = 'write'; return parent::write($id, $data); }
    public function destroy(string $id): bool { $this->calls[] = 'destroy'; return parent::destroy($id); }
    public function create_sid(): string { $this->calls[] = 'create_sid'; return parent::create_sid(); }
    public function validateId(string $id): bool { $this->calls[] = 'validateId'; return parent::validateId($id); }
    public function updateTimestamp(string $id, string $data): bool { $this->calls[] = 'updateTimestamp'; return parent::updateTimestamp($id, $data); }
}

/* PHP's side, as register() sets it (without installing a handler: each test does). */
LampfarmSessionHandler::configureIni();
ini_set('session.cache_limiter', '');
ini_set('session.save_path', sys_get_temp_dir());

/* --------------------------------------------------------------------------------- tests */

test('settings: configureIni() sets what the handler needs', function () {
    foreach (LampfarmSessionHandler::iniSettings() as $name => $value) {
        same(ini_get($name), $value, $name);
    }
});

test('read: a long session in pieces (HTTP_SESSION_1..N, HTTP_SESSION_PARTS) is joined', function () {
    same(LampfarmSessionHandler::sessionFromServer(['HTTP_SESSION' => 'a=1']), 'a=1', 'one variable');
    same(LampfarmSessionHandler::sessionFromServer([]), '', 'none');
    $server = ['HTTP_SESSION_PARTS' => '3', 'HTTP_SESSION_1' => 'php:a=i%3a', 'HTTP_SESSION_2' => '1%3b&php:b=',
        'HTTP_SESSION_3' => 'i%3a2%3b'];
    same(LampfarmSessionHandler::sessionFromServer($server), 'php:a=i%3a1%3b&php:b=i%3a2%3b', 'joined in order');
    // read() through the handler: the joined session is the one PHP sees
    unset($_SERVER['HTTP_SESSION']);
    $_SERVER += $server;
    try {
        $handler = new LampfarmSessionHandler((new FakeHeaders())->options([]));
        same(unserialize($handler->read('x')), ['a' => 1, 'b' => 2], 'read() of the pieces');
    } finally {
        unset($_SERVER['HTTP_SESSION_PARTS'], $_SERVER['HTTP_SESSION_1'], $_SERVER['HTTP_SESSION_2'], $_SERVER['HTTP_SESSION_3']);
    }
    // a missing piece, or a count that is not one: empty, with a warning, never half a session
    foreach ([['HTTP_SESSION_PARTS' => '2', 'HTTP_SESSION_1' => 'php:a=i%3a1%3b'],
              ['HTTP_SESSION_PARTS' => 'x', 'HTTP_SESSION_1' => 'php:a=i%3a1%3b'],
              ['HTTP_SESSION_PARTS' => '0', 'HTTP_SESSION' => 'php:a=i%3a1%3b']] as $bad) {
        $seen = warnings(fn () => LampfarmSessionHandler::sessionFromServer($bad), $got);
        same($got, '', 'pieces ' . json_encode($bad));
        same(count($seen), 1, 'one warning');
        check(str_contains($seen[0][1], 'not every piece'), 'the warning says why', $seen[0][1]);
    }
});

test('read: HTTP_SESSION missing or empty is an empty session', function () {
    [$handler] = handler(null);
    check($handler->open('', 'PHPSESSID'), 'open');
    same($handler->read('x'), 'a:0:{}', 'HTTP_SESSION unset');
    [$handler] = handler(new ModSessionSim());
    same($_SERVER['HTTP_SESSION'], '', 'HTTP_SESSION empty');
    same($handler->read('x'), 'a:0:{}', 'HTTP_SESSION empty');
    $sim = new ModSessionSim();
    [$h] = request($sim, function () {
        same($_SESSION, [], '$_SESSION');
    });
    same($h->log, [], 'nothing sent for an untouched empty session');
});

test('read: only prefixed keys are ours; foreign keys and expiry are not in $_SESSION', function () {
    $sim = new ModSessionSim(['user' => 'bob', 'pw' => 'x y', 'php:a' => 'i:1;', 'PHP:b' => 's:1:"B";'], '1700000000000000');
    [$handler] = handler($sim);
    same(unserialize($handler->read('x')), ['a' => 1, 'b' => 'B'], 'session data');
});

$values = [
    'string' => 'hello',
    'int' => 42,
    'negative' => -7,
    'float' => 0.1,
    'true' => true,
    'false' => false,
    'null' => null,
    'empty string' => '',
    'array' => [1, 2, 3],
    'nested' => ['a' => ['b' => ['c' => [1, 'x' => null]]], 'list' => [[], [[]]]],
    'unicode' => "h\u{e9}llo w\u{f6}rld \u{1F600} \u{65e5}\u{672c}",
    'specials' => "a&b=c%d+e f\ng\r\nh\t;\"'<>#?/\\*~",
    'percent escapes' => '%00 %zz %2b %26 %3d + %',
    'looks like the marker' => 'b64:aGVsbG8=',
    'binary' => "\x00\x01\xff\xfe",
    'enum' => Colour::Red,
];
$keys = [
    'plain', 'Upper', 'UPPER', 'upper', 'dots.in.key', 'space key', 'brackets[a][b]', 'amp&eq=pct%plus+',
    "new\nline", "nul\0byte", "\u{e9}t\u{e9}", '', '0', '123', 'php:inner', 'expiry', 'b64:', '-_', '.2e',
];

test('round trip: values of every kind, through httpd and back', function () use ($values) {
    $sim = new ModSessionSim(['user' => 'alice'], '1700000000000000');
    request($sim, function () use ($values) {
        foreach ($values as $k => $v) {
            $_SESSION[$k] = $v;
        }
    });
    foreach ($sim->entries as [$k, $v]) {
        check(!str_contains($v, "\0"), "no NUL stored in $k");
    }
    request($sim, function () use ($values) {
        foreach ($values as $k => $v) {
            same(array_key_exists($k, $_SESSION) ? $_SESSION[$k] : 'MISSING', $v, "value $k");
        }
        same(count($_SESSION), count($values), 'key count');
    });
});

test('round trip: keys of every kind (case, dots, spaces, brackets, &, =, %, +, newline, NUL, unicode, numeric)', function () use ($keys) {
    $sim = new ModSessionSim(['user' => 'alice']);
    request($sim, function () use ($keys) {
        foreach ($keys as $i => $k) {
            $_SESSION[$k] = "value $i";
        }
    });
    request($sim, function () use ($keys) {
        foreach ($keys as $i => $k) {
            same($_SESSION[$k] ?? 'MISSING', "value $i", 'key ' . show($k));
        }
        same(count($_SESSION), count($keys), 'key count');
    });
    same($sim->get('user'), 'alice', 'foreign key kept');
    check($sim->expiry === null, 'no expiry invented');
});

test('round trip: objects with private/protected properties (NUL bytes) are stored as b64:', function () {
    $o = new WithPrivate();
    $o->child = new WithPrivate();
    $sim = new ModSessionSim();
    request($sim, function () use ($o) {
        $_SESSION['obj'] = $o;
    });
    $stored = $sim->get('php:obj');
    check(str_starts_with((string) $stored, 'b64:'), 'stored with the b64: marker', $stored);
    same(base64_decode(substr((string) $stored, 4)), serialize($o), 'marker + base64 of the serialization');
    request($sim, function () use ($o) {
        check($_SESSION['obj'] == $o, 'object equal after the round trip');
        same($_SESSION['obj']->child->secret(), "s\0cret & = % + \n", 'private property');
    });
    // a plain serialization without NUL is stored as it is
    same(LampfarmSessionHandler::storedValue('s:3:"abc";'), 's:3:"abc";', 'no marker without NUL');
    same(LampfarmSessionHandler::serializationOf('s:3:"abc";'), 's:3:"abc";', 'plain value read back');
    same(LampfarmSessionHandler::serializationOf('b64:' . base64_encode("a\0b")), "a\0b", 'marker read back');
    same(LampfarmSessionHandler::serializationOf('b64:***'), null, 'bad base64 is refused');
});

test('round trip: references inside one key survive; shared objects across keys become copies', function () {
    $sim = new ModSessionSim();
    request($sim, function () {
        $o = new stdClass();
        $o->n = 1;
        $_SESSION['pair'] = [$o, $o];
        $_SESSION['again'] = $o;
        $x = 5;
        $_SESSION['refs'] = ['a' => &$x, 'b' => &$x];
    });
    request($sim, function () {
        $_SESSION['pair'][0]->n = 2;
        same($_SESSION['pair'][1]->n, 2, 'same object twice inside one key');
        same($_SESSION['again']->n, 1, 'another key holds its own copy');
        $_SESSION['refs']['a'] = 6;
        same($_SESSION['refs']['b'], 6, 'PHP reference inside one key');
    });
});

test('write: only changed keys are sent; nothing at all when nothing changed', function () {
    $sim = new ModSessionSim(['php:a' => 'i:1;', 'php:b' => 's:1:"x";', 'php:c' => 'a:1:{i:0;i:1;}', 'user' => 'bob']);
    [$h] = request($sim, function () {
        $_SESSION['b'] = 'y';
        $_SESSION['c'] = [1];  // same value, written again
        $_SESSION['d'] = 4;
    });
    same($h->get('X-Replace-Session'), 'php:b=' . rawurlencode('s:1:"y";') . '&php:d=' . rawurlencode('i:4;'), 'header');
    same($h->names(), ['X-Replace-Session'], 'one header');
    [$h] = request($sim, function () {
        $_SESSION['a'] = 1;
    });
    same($h->log, [], 'no header when nothing changed');
    [$h] = request($sim);
    same($h->log, [], 'no header when the session is only read');
    same($sim->asArray(), ['php:a' => 'i:1;', 'php:b' => 's:1:"y";', 'php:c' => 'a:1:{i:0;i:1;}', 'user' => 'bob', 'php:d' => 'i:4;'], 'stored');
});

test('write: removed keys are sent with an empty value and httpd removes them', function () {
    $sim = new ModSessionSim(['php:a' => 'i:1;', 'php:.4dixed.2e.43ase' => 'i:3;', 'user' => 'bob']);
    [$h] = request($sim, function () {
        unset($_SESSION['a'], $_SESSION['Mixed.Case']);
    });
    same($h->get('X-Replace-Session'), 'php:a=&php:.4dixed.2e.43ase=', 'header');
    same($sim->asArray(), ['user' => 'bob'], 'stored: only the foreign key is left');
    $sim = new ModSessionSim(['php:x' => 'i:1;']);
    request($sim, function () {
        $_SESSION = [];
    });
    same($sim->asArray(), [], '$_SESSION = [] removes everything of ours');
});

test('foreign keys and expiry are never sent, whatever happens', function () {
    $sim = new ModSessionSim(['user' => 'bob', 'pw' => 'secret', 'other:k' => 'v', 'php:a' => 'i:1;'], '1700000000000000');
    [$h] = request($sim, function () {
        $_SESSION['a'] = 2;
        $_SESSION['user'] = 'mallory';  // a PHP key "user" is php:user, not httpd's "user"
    });
    $header = (string) $h->get('X-Replace-Session');
    same($header, 'php:a=' . rawurlencode('i:2;') . '&php:user=' . rawurlencode('s:7:"mallory";'), 'header');
    [$h2] = request($sim, function () {
        session_destroy();
    });
    same($sim->asArray(), ['user' => 'bob', 'pw' => 'secret', 'other:k' => 'v'], 'foreign keys left after destroy');
    same($sim->expiry, '1700000000000000', 'expiry untouched');
    check(!preg_match('/(^|&)(user|pw|other%3A|other:|expiry)/i', $header . '&' . $h2->get('X-Replace-Session')), 'no foreign key in any header');
});

test('destroy: every key of ours is sent empty', function () {
    $sim = new ModSessionSim(['php:a' => 'i:1;', 'php:b' => 'i:2;', 'user' => 'bob']);
    [$h, $seen] = request($sim, function () {
        $_SESSION['c'] = 3; // set and destroyed in the same request: never sent
        session_destroy();
    });
    same($seen, [], 'no warnings');
    same($h->get('X-Replace-Session'), 'php:a=&php:b=', 'header');
    same($h->get('X-Session-Regenerate'), null, 'no regeneration');
    same($sim->asArray(), ['user' => 'bob'], 'stored');
    // destroy of a session that had nothing of ours: nothing to say
    $sim = new ModSessionSim(['user' => 'bob']);
    [$h] = request($sim, fn () => session_destroy());
    same($h->log, [], 'nothing sent');
});

test('destroy, then session_start() again: a fresh session under a new id', function () {
    $sim = new ModSessionSim(['php:a' => 'i:1;']);
    [$h] = request($sim, function () {
        session_destroy();
        session_start();
        same($_SESSION, [], 'empty after destroy');
        $_SESSION['b'] = 2;
    });
    same($h->get('X-Replace-Session'), 'php:b=' . rawurlencode('i:2;') . '&php:a=', 'header (sets, then removals)');
    same($h->get('X-Session-Regenerate'), '1', 'new id asked for');
    same($sim->asArray(), ['php:b' => 'i:2;'], 'stored');
});

foreach ([true, false] as $delete) {
    foreach (['0', '1'] as $strict) {
        test("regenerate: session_regenerate_id(" . var_export($delete, true) . ") with use_strict_mode=$strict sends X-Session-Regenerate: 1 and keeps the data", function () use ($delete, $strict) {
            ini_set('session.use_strict_mode', $strict);
            try {
                $sim = new ModSessionSim(['php:a' => 'i:1;', 'php:gone' => 'i:0;', 'user' => 'bob']);
                [$h, $seen] = request($sim, function () use ($delete) {
                    $before = session_id();
                    $_SESSION['login'] = 'alice';
                    unset($_SESSION['gone']);
                    check(session_regenerate_id($delete), 'session_regenerate_id() succeeds');
                    check(session_id() !== $before, 'PHP has a new placeholder id');
                    same($_SESSION, ['a' => 1, 'login' => 'alice'], '$_SESSION kept');
                });
                same($seen, [], 'no warnings');
                same($h->get('X-Session-Regenerate'), '1', 'regenerate header');
                same($h->get('X-Replace-Session'), 'php:login=' . rawurlencode('s:5:"alice";') . '&php:gone=', 'only the changes');
                $names = $h->names();
                sort($names);
                same($names, ['X-Replace-Session', 'X-Session-Regenerate'], 'headers');
                same($sim->asArray(), ['php:a' => 'i:1;', 'user' => 'bob', 'php:login' => 's:5:"alice";'], 'stored');
            } finally {
                ini_set('session.use_strict_mode', '0');
            }
        });
    }
}

test('regenerate without any change still asks for a new id; a plain request never does', function () {
    $sim = new ModSessionSim(['php:a' => 'i:1;']);
    foreach ([true, false] as $delete) {
        [$h] = request($sim, fn () => session_regenerate_id($delete));
        same($h->names(), ['X-Session-Regenerate'], 'only the regenerate header, regenerate_id(' . var_export($delete, true) . ')');
        same($sim->asArray(), ['php:a' => 'i:1;'], 'stored session unchanged');
    }
    [$h] = request($sim, function () {
        $_SESSION['b'] = 1;
        session_write_close();
        session_start();   // same id again: not a regeneration
        $_SESSION['c'] = 1;
    });
    same($h->get('X-Session-Regenerate'), null, 'no regenerate header');
});

test('regenerate through a Symfony-like proxy (PHP makes the ids, no create_sid)', function () {
    $sim = new ModSessionSim(['php:a' => 'i:1;']);
    [$h, $seen] = request($sim, function () {
        $_SESSION = ['_sf2_attributes' => ['x' => 1]];
        session_regenerate_id(true);
    }, [], fn ($handler) => new ProxyLikeSymfony($handler));
    same($seen, [], 'no warnings');
    same($h->get('X-Session-Regenerate'), '1', 'regenerate header');
    same($sim->asArray(), ['php:_sf2_attributes:x' => 'i:1;'], 'stored');
});

test('PHP 8.2 calls the handler in this order (what regeneration detection relies on)', function () {
    $runs = [
        'plain write' => [fn () => $_SESSION['a'] = 2,
            ['open', 'create_sid', 'read', 'write', 'close']],
        'no change (lazy_write)' => [fn () => null,
            ['open', 'create_sid', 'read', 'updateTimestamp', 'close']],
        'regenerate_id(false)' => [fn () => session_regenerate_id(false),
            ['open', 'create_sid', 'read', 'write', 'close', 'open', 'create_sid', 'read', 'write', 'close']],
        'regenerate_id(true)' => [fn () => session_regenerate_id(true),
            ['open', 'create_sid', 'read', 'destroy', 'close', 'open', 'create_sid', 'read', 'write', 'close']],
        'destroy' => [fn () => session_destroy(),
            ['open', 'create_sid', 'read', 'destroy', 'close']],
        'write_close + start' => [function () { session_write_close(); session_start(); },
            ['open', 'create_sid', 'read', 'updateTimestamp', 'close', 'open', 'read', 'updateTimestamp', 'close']],
    ];
    foreach ($runs as $name => [$body, $want]) {
        $handler = new Recorder((new FakeHeaders())->options());
        $_SERVER['HTTP_SESSION'] = 'php%3aa=i%3a1%3b';
        warnings(function () use ($handler, $body) {
            session_id('');
            session_set_save_handler($handler, false);
            session_start();
            $body();
            if (session_status() === PHP_SESSION_ACTIVE) {
                session_write_close();
            }
        });
        same($handler->calls, $want, $name);
    }
});

test('split: a header over 8000 bytes goes out as X-Replace-Session-1..N, joined back exactly', function () {
    $big = str_repeat("0123456789 & = % + \u{e9}\n", 1200);
    $want = 'php:big=' . rawurlencode(serialize($big));
    check(strlen($want) > 3 * 8000, 'test value needs several pieces');
    $sim = new ModSessionSim();
    [$h, $seen] = request($sim, fn () => $_SESSION['big'] = $big, ['max_size' => 1 << 20]);
    same($seen, [], 'no warnings');
    $n = intdiv(strlen($want) + 7999, 8000);
    $names = [];
    $joined = '';
    for ($i = 1; $i <= $n; $i++) {
        $names[] = "X-Replace-Session-$i";
        $part = (string) $h->get("X-Replace-Session-$i");
        check(strlen($part) <= 8000 && $part !== '', "piece $i is 1..8000 bytes");
        $joined .= $part;
    }
    same($h->names(), $names, 'numbered from 1 without gaps, no plain header');
    same($joined, $want, 'pieces joined = unsplit value');
    request($sim, fn () => same($_SESSION['big'], $big, 'value through httpd'));
});

test('split: exactly 8000 bytes is one header, 8001 bytes is two', function () {
    $overhead = strlen('php:k=' . rawurlencode(serialize('')));
    foreach ([8000 => ['X-Replace-Session'], 8001 => ['X-Replace-Session-1', 'X-Replace-Session-2']] as $len => $want) {
        // a value of 'a's is not escaped except its serialization's own punctuation
        $s = str_repeat('a', $len - $overhead - (strlen((string) ($len - $overhead)) - 1));
        [$handler, $h] = handler(new ModSessionSim());
        $handler->read('x');
        check($handler->write('x', data(['k' => $s])), "write $len");
        same(strlen(implode('', array_map(fn ($n) => $h->get($n), $h->names()))), $len, "header length $len");
        same($h->names(), $want, "headers for $len bytes");
    }
});

test('split: a later write in the same request replaces the earlier pieces', function () {
    [$handler, $h] = handler(new ModSessionSim());
    $handler->read('x');
    $handler->write('x', data(['k' => str_repeat('x', 20000)]));
    same(count($h->names()), 3, 'three pieces');
    $handler->read('x');
    $handler->write('x', data(['k' => 'small']));
    same($h->names(), ['X-Replace-Session'], 'pieces gone, one header');
    $handler->read('x');
    $handler->write('x', data([]));
    same($h->names(), [], 'back to the original session: no header');
});

test('size limit: over max_size, write() returns false with a warning and sends nothing', function () {
    $sim = new ModSessionSim(['php:a' => 'i:1;', 'user' => 'bob']);
    [$handler, $h] = handler($sim);
    $handler->read('x');
    $seen = warnings(fn () => $handler->write('x', data(['a' => 1, 'big' => str_repeat('x', 70000)])), $ok);
    same($ok, false, 'write() returns false');
    same(count($seen), 1, 'one warning');
    same($seen[0][0] ?? null, E_USER_WARNING, 'E_USER_WARNING');
    check(preg_match('/would be (\d+) bytes encoded, over the limit of 65536 bytes/', $seen[0][1] ?? '', $m) === 1, 'message names size and limit', $seen[0][1] ?? '');
    same($h->log, [], 'no header');
    // the size is httpd's encoding of the whole session, foreign keys included
    $exact = strlen((new ModSessionSim(['php:a' => 'i:1;', 'user' => 'bob', 'php:b' => serialize(str_repeat('y', 40))]))->encode());
    [$handler, $h] = handler($sim, ['max_size' => $exact]);
    $handler->read('x');
    check($handler->write('x', data(['a' => 1, 'b' => str_repeat('y', 40)])), "exactly max_size ($exact) is accepted");
    [$handler, $h] = handler($sim, ['max_size' => $exact - 1]);
    $handler->read('x');
    same(warnings(fn () => $handler->write('x', data(['a' => 1, 'b' => str_repeat('y', 40)])), $ok) !== [] && $ok === false, true, 'one byte over is refused');
});

test('size limit: through session_write_close(), the stored session stays as it was', function () {
    $sim = new ModSessionSim(['php:a' => 'i:1;']);
    [$h, $seen] = request($sim, fn () => $_SESSION['big'] = str_repeat('x', 70000));
    same($h->log, [], 'no header');
    check(count(array_filter($seen, fn ($w) => $w[0] === E_USER_WARNING && str_contains($w[1], 'over the limit'))) === 1, 'our warning');
    same($sim->asArray(), ['php:a' => 'i:1;'], 'stored session unchanged');
});

test('headers already sent: write() and destroy() fail loudly', function () {
    [$handler, $h] = handler(new ModSessionSim(['php:a' => 'i:1;']));
    $handler->read('x');
    $h->sent = true;
    $seen = warnings(fn () => $handler->write('x', data(['a' => 2])), $ok);
    same($ok, false, 'write() false');
    check(str_contains($seen[0][1] ?? '', 'headers were already sent (output started at test.php:1)'), 'warning says where', $seen);
    $seen = warnings(fn () => $handler->destroy('x'), $ok);
    same($ok, false, 'destroy() false');
    same($seen === [], false, 'warning');
    same(warnings(fn () => $handler->write('x', data(['a' => 1])), $ok), [], 'an unchanged session needs no header: no warning');
    same($ok, true, 'and write() succeeds');
});

test('several writes in one request: the header always says the whole change against HTTP_SESSION', function () {
    $sim = new ModSessionSim(['php:a' => 'i:1;', 'php:b' => 'i:2;']);
    [$h] = request($sim, function () {
        $_SESSION['a'] = 10;
        session_write_close();
        session_start();
        same($_SESSION, ['a' => 10, 'b' => 2], 'second start sees the first write');
        unset($_SESSION['b']);
        session_write_close();
        session_start();
        $_SESSION['a'] = 1; // back to what httpd has
    });
    same($h->get('X-Replace-Session'), 'php:b=', 'header');
    same($sim->asArray(), ['php:a' => 'i:1;'], 'stored');
});

test('session_reset() and session_abort() go back to the last saved state', function () {
    $sim = new ModSessionSim(['php:a' => 'i:1;']);
    [$h] = request($sim, function () {
        $_SESSION['a'] = 2;
        session_reset();
        same($_SESSION, ['a' => 1], 'after session_reset()');
        $_SESSION['b'] = 3;
        session_abort();
    });
    same($h->log, [], 'nothing sent');
});

test('a stored value that does not unserialize is dropped with a warning, and removed on the next write', function () {
    $sim = new ModSessionSim(['php:bad' => 's:99:"short";', 'php:bad64' => 'b64:@@@', 'php:ok' => 'i:1;', 'php:Bad.Key!' => 'i:1;']);
    [$handler, $h] = handler($sim);
    $seen = warnings(fn () => $handler->read('x'), $data);
    same(unserialize($data), ['ok' => 1], 'only the good key');
    same(count($seen), 2, 'a warning per broken value', $seen);
    $handler->write('x', data(['ok' => 1, 'new' => 1]));
    same($h->get('X-Replace-Session'), 'php:new=' . rawurlencode('i:1;') . '&php:bad=&php:bad64=', 'broken values removed');
    $sim->apply($h);
    same(array_keys($sim->asArray()), ['php:ok', 'php:Bad.Key!', 'php:new'], 'a key that is not in our layout is left alone');
});

test('options and layout', function () {
    $handler = new LampfarmSessionHandler(['prefix' => 'app_']);
    same($handler->storageKey('userId'), 'app_user.49d', 'upper case escaped');
    same($handler->storageKey('cart.items'), 'app_cart.2eitems', 'dot escaped');
    same($handler->storageKey('_sf2_attributes'), 'app__sf2_attributes', 'Symfony keys stay readable');
    same($handler->storageKey(7), 'app_7', 'int key');
    same($handler->phpKey('APP_USER.49D'), 'userId', 'case-insensitive decoding');
    same($handler->phpKey('php:x'), null, 'other prefix');
    same($handler->phpKey('app_a.4'), null, 'bad escape');
    same((new LampfarmSessionHandler())->phpKey('expiry'), null, 'expiry is never ours');
    same((new LampfarmSessionHandler(['prefix' => 'e']))->phpKey('expiry'), null, 'expiry is never ours, even under prefix "e"');
    $sim = new ModSessionSim(['php:a' => 'i:1;', 'app_a' => 'i:2;']);
    [$handler] = handler($sim, ['prefix' => 'app_']);
    same(unserialize($handler->read('x')), ['a' => 2], 'prefix option');
    foreach ([['prefix' => ''], ['prefix' => 'a&b'], ['prefix' => 'a b'], ['max_size' => 0], ['nope' => 1], ['header_name' => 'X Bad']] as $bad) {
        $threw = false;
        try {
            new LampfarmSessionHandler($bad);
        } catch (\InvalidArgumentException) {
            $threw = true;
        }
        check($threw, 'refused: ' . show($bad));
    }
    [$handler, $h] = handler(new ModSessionSim(), ['header_name' => 'X-My-Session']);
    $handler->read('x');
    $handler->write('x', data(['a' => 1]));
    same($h->names(), ['X-My-Session'], 'header_name option');
});

test('open() refuses a serialize_handler other than php_serialize', function () {
    ini_set('session.serialize_handler', 'php');
    try {
        $handler = new LampfarmSessionHandler((new FakeHeaders())->options());
        $seen = warnings(fn () => $handler->open('', 'PHPSESSID'), $ok);
        same($ok, false, 'open() false');
        check(str_contains($seen[0][1] ?? '', 'php_serialize'), 'warning names php_serialize');
    } finally {
        ini_set('session.serialize_handler', 'php_serialize');
    }
});

test('create_sid / validateId: placeholders are unique, only the current id is valid', function () {
    $handler = new LampfarmSessionHandler((new FakeHeaders())->options());
    $a = $handler->create_sid();
    check($a !== $handler->create_sid() && preg_match('/^lampfarm-[0-9a-f]{24}$/', $a) === 1, 'unique placeholder', $a);
    check(!$handler->validateId($a), 'unknown id invalid before read');
    $_SERVER['HTTP_SESSION'] = '';
    $handler->read($a);
    check($handler->validateId($a), 'current id valid');
    check(!$handler->validateId('other'), 'other id invalid');
});

test('reset() forgets the request (long-running workers)', function () {
    [$handler, $h] = handler(new ModSessionSim(['php:a' => 'i:1;']));
    $handler->read('x');
    $handler->write('x', data(['a' => 2]));
    $_SERVER['HTTP_SESSION'] = 'php%3aa=i%3a2%3b';
    $handler->reset();
    same(unserialize($handler->read('y')), ['a' => 2], 'HTTP_SESSION read again');
    same($h->get('X-Session-Regenerate'), null, 'a new request is not a regeneration');
});

/* ------------------------------------------------- Symfony's bags, one entry per member */

test('split keys: each Symfony attribute and each flash type is its own entry; read back as the bags', function () {
    $sim = new ModSessionSim(['user' => 'bob']);
    $meta = ['u' => 1700000000, 'c' => 1700000000, 'l' => 0];
    [$h, $seen] = request($sim, symfony(function () use ($meta) {
        $_SESSION['_sf2_attributes']['_security_main'] = 'token';
        $_SESSION['_sf2_attributes']['_csrf/https-authenticate'] = 'csrf';
        $_SESSION['_sf2_attributes']['_security.last_username'] = 'Bob';
        $_SESSION['_symfony_flashes']['notice'] = ['saved', 'really'];
        $_SESSION['_symfony_flashes']['error'] = ['oops'];
        $_SESSION['_sf2_meta'] = $meta;
    }));
    same($seen, [], 'no warnings');
    same($h->get('X-Replace-Session'), implode('&', [
        'php:_sf2_attributes:_security_main=' . rawurlencode(serialize('token')),
        'php:_sf2_attributes:_csrf.2fhttps-authenticate=' . rawurlencode(serialize('csrf')),
        'php:_sf2_attributes:_security.2elast_username=' . rawurlencode(serialize('Bob')),
        'php:_symfony_flashes:notice=' . rawurlencode(serialize(['saved', 'really'])),
        'php:_symfony_flashes:error=' . rawurlencode(serialize(['oops'])),
        'php:_sf2_meta=' . rawurlencode(serialize($meta)),
    ]), 'header: an entry per attribute and per flash type, _sf2_meta whole');
    same(array_keys($sim->asArray()), ['user', 'php:_sf2_attributes:_security_main', 'php:_sf2_attributes:_csrf.2fhttps-authenticate',
        'php:_sf2_attributes:_security.2elast_username', 'php:_symfony_flashes:notice', 'php:_symfony_flashes:error', 'php:_sf2_meta'], 'stored');
    same(symfonyView($sim), [
        '_sf2_attributes' => ['_security_main' => 'token', '_csrf/https-authenticate' => 'csrf', '_security.last_username' => 'Bob'],
        '_symfony_flashes' => ['notice' => ['saved', 'really'], 'error' => ['oops']],
        '_sf2_meta' => $meta,
    ], 'what Symfony reads back');
});

test('split keys: 20 parallel requests that each set a different attribute keep all 20 (merged per attribute)', function () {
    foreach (['split layout' => false, 'old layout, each request converts it' => true] as $how => $old) {
        $sim = new ModSessionSim(['php:_sf2_meta' => serialize(['u' => 1000])]);
        if ($old) {
            $sim->set('php:_sf2_attributes', serialize(['_security_main' => 'token']));
        } else {
            $sim->set('php:_sf2_attributes:_security_main', serialize('token'));
        }
        $bodies = [];
        for ($i = 1; $i <= 20; $i++) {
            $bodies[] = symfony(function () use ($i) {
                $_SESSION['_sf2_attributes']["attr$i"] = "value $i";
                $_SESSION['_sf2_meta'] = ['u' => 1000 + $i];
            });
        }
        $headers = parallel($sim, $bodies);
        same($headers[4]->get('X-Replace-Session'), 'php:_sf2_meta=' . rawurlencode(serialize(['u' => 1005]))
            . ($old ? '&php:_sf2_attributes:_security_main=' . rawurlencode(serialize('token')) : '')
            . '&php:_sf2_attributes:attr5=' . rawurlencode(serialize('value 5')) . ($old ? '&php:_sf2_attributes=' : ''), "$how: one request's header");
        $want = ['_security_main' => 'token'];
        for ($i = 1; $i <= 20; $i++) {
            $want["attr$i"] = "value $i";
        }
        $view = symfonyView($sim);
        same(sorted($view['_sf2_attributes'] ?? []), sorted($want), "$how: all 20 attributes, and the one before");
        same($view['_sf2_meta'] ?? null, ['u' => 1020], "$how: _sf2_meta is one entry, the last write wins");
        same($sim->get('php:_sf2_attributes'), null, "$how: no whole-bag entry left");
    }
});

test('split keys: flashes merge per type; two requests that change the same type: the last write wins', function () {
    $sim = new ModSessionSim(['php:_symfony_flashes:warning' => serialize(['w1']), 'php:_symfony_flashes:notice' => serialize(['n0'])]);
    parallel($sim, [
        symfony(fn () => $_SESSION['_symfony_flashes']['error'][] = 'e1'),
        symfony(function () {
            unset($_SESSION['_symfony_flashes']['warning']); // FlashBag::get('warning') shows and removes them
        }),
        symfony(fn () => $_SESSION['_symfony_flashes']['info'][] = 'i1'),
    ]);
    same(sorted(symfonyView($sim)['_symfony_flashes']), ['error' => ['e1'], 'info' => ['i1'], 'notice' => ['n0']],
        'a flash added in each of two requests, and one read in a third');
    parallel($sim, [
        symfony(fn () => $_SESSION['_symfony_flashes']['notice'][] = 'n1'),
        symfony(fn () => $_SESSION['_symfony_flashes']['notice'][] = 'n2'),
    ]);
    same(symfonyView($sim)['_symfony_flashes']['notice'], ['n0', 'n2'], 'same type: the list is one entry, the last write wins');
});

test('split keys: an unchanged session sends nothing; an empty bag is no entry', function () {
    $meta = ['u' => 1, 'c' => 1, 'l' => 0];
    $sim = new ModSessionSim(['user' => 'bob', 'php:_sf2_attributes:a' => 'i:1;', 'php:_sf2_meta' => serialize($meta),
        'php:_sf2_attributes:b' => 'i:2;']);
    $before = $sim->asArray();
    [$h] = request($sim, symfony(fn () => same($_SESSION['_sf2_attributes'] ?? null, ['a' => 1, 'b' => 2], 'attributes read')));
    same($h->log, [], 'a Symfony request that changes nothing sends nothing');
    [$handler, $h] = handler($sim);
    $data = $handler->read('x');
    same(unserialize($data), ['_sf2_attributes' => ['a' => 1, 'b' => 2], '_sf2_meta' => $meta], 'read(): the bag whole, no empty bag added');
    check($handler->write('x', $data), 'write() of what read() gave');
    $session = unserialize($data);
    $session['_symfony_flashes'] = []; // the bags as Symfony holds them, before its save() drops the empty ones
    check($handler->write('x', data($session)), 'write() with an empty flash bag');
    check($handler->updateTimestamp('x', $data), 'updateTimestamp()');
    same($h->log, [], 'nothing sent');
    same($sim->asArray(), $before, 'stored session unchanged');
    // Symfony drops an empty bag before saving; a bag with no entry reads as none, Symfony makes it []
    $sim->set('php:_symfony_flashes:notice', serialize(['hi']));
    [$h] = request($sim, symfony(function () {
        $_SESSION['_sf2_attributes'] = [];
    }));
    same($h->get('X-Replace-Session'), 'php:_sf2_attributes:a=&php:_sf2_attributes:b=', 'emptying the bag removes its entries, nothing else');
    [$handler] = handler($sim);
    same(array_keys(unserialize($handler->read('x'))), ['_sf2_meta', '_symfony_flashes'], 'no entry, no key');
    same(symfonyView($sim)['_sf2_attributes'], [], 'Symfony sees an empty bag');
    // an old layout's empty bag (a Symfony that kept empty bags) stays as it is
    $sim = new ModSessionSim(['php:_sf2_attributes' => 'a:0:{}', 'php:_sf2_meta' => serialize($meta)]);
    [$handler, $h] = handler($sim);
    $data = $handler->read('x');
    same(unserialize($data), ['_sf2_attributes' => [], '_sf2_meta' => $meta], 'old empty bag read');
    check($handler->write('x', $data), 'write()');
    same($h->log, [], 'old empty bag unchanged: nothing sent');
});

test('split keys: a session of the old layout (whole bags) loads, and the first write that changes a bag converts it', function () {
    $bag = ['_security_main' => 'token', '_csrf/https-authenticate' => 'csrf'];
    $sim = new ModSessionSim(['user' => 'bob', 'php:_sf2_attributes' => serialize($bag), 'php:_sf2_meta' => serialize(['u' => 1]),
        'php:_symfony_flashes' => serialize(['notice' => ['hi']])]);
    [$h] = request($sim, symfony(fn () => same($_SESSION['_sf2_attributes'], $bag, 'attributes read as before')));
    same($h->log, [], 'nothing changed: nothing sent, no conversion');
    [$h] = request($sim, symfony(fn () => $_SESSION['_sf2_meta'] = ['u' => 2]));
    same($h->get('X-Replace-Session'), 'php:_sf2_meta=' . rawurlencode(serialize(['u' => 2])),
        'a change elsewhere leaves the whole bags alone (a parallel request may be changing them)');
    [$h] = request($sim, symfony(fn () => $_SESSION['_sf2_attributes']['new'] = 1));
    same($h->get('X-Replace-Session'), 'php:_sf2_attributes:_security_main=' . rawurlencode(serialize('token'))
        . '&php:_sf2_attributes:_csrf.2fhttps-authenticate=' . rawurlencode(serialize('csrf'))
        . '&php:_sf2_attributes:new=' . rawurlencode('i:1;') . '&php:_sf2_attributes=', 'converted: every member, and the whole bag emptied');
    same($sim->asArray(), ['user' => 'bob', 'php:_sf2_meta' => serialize(['u' => 2]), 'php:_symfony_flashes' => serialize(['notice' => ['hi']]),
        'php:_sf2_attributes:_security_main' => serialize('token'), 'php:_sf2_attributes:_csrf.2fhttps-authenticate' => serialize('csrf'),
        'php:_sf2_attributes:new' => 'i:1;'], 'stored: attributes split, the flashes still whole');
    [$h] = request($sim, symfony(fn () => same($_SESSION['_symfony_flashes'], ['notice' => ['hi']], 'old flashes read')));
    same($h->log, [], 'nothing sent');
    same(sorted(symfonyView($sim)), ['_sf2_attributes' => $bag + ['new' => 1], '_sf2_meta' => ['u' => 2], '_symfony_flashes' => ['notice' => ['hi']]], 'read back');
    [$h] = request($sim, symfony(function () {
        unset($_SESSION['_symfony_flashes']['notice']);
    }));
    same($h->get('X-Replace-Session'), 'php:_symfony_flashes=', 'an old bag emptied: its entry removed');
});

test('split keys: both forms of one bag present (an older handler wrote it whole beside the members): merged, the whole bag wins', function () {
    $sim = new ModSessionSim(['php:_sf2_attributes:a' => serialize('member a'), 'php:_sf2_attributes:b' => serialize('member b'),
        'php:_sf2_attributes' => serialize(['a' => 'whole a', 'c' => 'whole c']), 'php:_sf2_meta' => 'a:0:{}']);
    [$handler, $h] = handler($sim);
    $data = $handler->read('x');
    same(unserialize($data), ['_sf2_attributes' => ['a' => 'whole a', 'b' => 'member b', 'c' => 'whole c'], '_sf2_meta' => []],
        'read: members, the whole bag laid over them');
    check($handler->write('x', $data), 'write() unchanged');
    same($h->log, [], 'unchanged: nothing sent');
    [$h] = request($sim, symfony(fn () => $_SESSION['_sf2_attributes']['d'] = 'new d'));
    same($h->get('X-Replace-Session'), 'php:_sf2_attributes:a=' . rawurlencode(serialize('whole a'))
        . '&php:_sf2_attributes:c=' . rawurlencode(serialize('whole c')) . '&php:_sf2_attributes:d=' . rawurlencode(serialize('new d'))
        . '&php:_sf2_attributes=', 'a change converts: what differs from the members, and the whole bag emptied');
    same(sorted($sim->asArray()), sorted(['php:_sf2_attributes:a' => serialize('whole a'), 'php:_sf2_attributes:b' => serialize('member b'),
        'php:_sf2_attributes:c' => serialize('whole c'), 'php:_sf2_attributes:d' => serialize('new d'), 'php:_sf2_meta' => 'a:0:{}']), 'stored');
    // a whole value that is not an array beside members: the whole value
    $sim = new ModSessionSim(['php:_sf2_attributes:a' => 'i:1;', 'php:_sf2_attributes' => 's:1:"x";']);
    [$handler, $h] = handler($sim);
    same(unserialize($handler->read('x')), ['_sf2_attributes' => 'x'], 'read: the value that is not an array');
    $handler->write('x', data(['_sf2_attributes' => 'y']));
    same($h->get('X-Replace-Session'), 'php:_sf2_attributes=' . rawurlencode('s:1:"y";') . '&php:_sf2_attributes:a=', 'written whole, members removed');
});

test('split keys: removing one member sends only that entry empty; destroy removes every entry', function () {
    $sim = new ModSessionSim(['php:_sf2_attributes:a' => 'i:1;', 'php:_sf2_attributes:b' => 'i:2;', 'php:_symfony_flashes:notice' => serialize(['hi']),
        'php:_sf2_meta' => 'a:0:{}', 'user' => 'bob']);
    [$h] = request($sim, symfony(function () {
        unset($_SESSION['_sf2_attributes']['b']);
    }));
    same($h->get('X-Replace-Session'), 'php:_sf2_attributes:b=', 'one attribute removed');
    [$h] = request($sim, symfony(fn () => $_SESSION['_symfony_flashes'] = [])); // FlashBag::all()
    same($h->get('X-Replace-Session'), 'php:_symfony_flashes:notice=', 'flashes read: the type removed');
    same($sim->asArray(), ['php:_sf2_attributes:a' => 'i:1;', 'php:_sf2_meta' => 'a:0:{}', 'user' => 'bob'], 'stored');
    $sim->set('php:_symfony_flashes:error', serialize(['x']));
    [$h] = request($sim, fn () => session_destroy());
    same($h->get('X-Replace-Session'), 'php:_sf2_attributes:a=&php:_sf2_meta=&php:_symfony_flashes:error=', 'destroy: every entry of ours');
    same($sim->asArray(), ['user' => 'bob'], 'stored: only the foreign key');
    // a broken member is dropped with a warning and removed by the next write
    $sim = new ModSessionSim(['php:_sf2_attributes:a' => 'i:1;', 'php:_sf2_attributes:bad' => 's:9:"x";']);
    [$handler, $h] = handler($sim);
    same(count(warnings(fn () => $handler->read('x'), $data)), 1, 'a warning');
    same(unserialize($data), ['_sf2_attributes' => ['a' => 1]], 'read without it');
    $handler->write('x', data(['_sf2_attributes' => ['a' => 1], 'k' => 1]));
    same($h->get('X-Replace-Session'), 'php:k=' . rawurlencode('i:1;') . '&php:_sf2_attributes:bad=', 'removed on the next write');
});

test('split keys: member names of every kind (/ . : upper case, &, =, %, +, NUL, empty, integers) and values that need base64', function () {
    $names = ['_csrf/https-authenticate', '_security.last_username', '_security_main', 'UPPER', 'a&b=c%d+e f', "nul\0byte",
        "new\nline", "\u{e9}t\u{e9}", '', 'x:y', 'php:_sf2_attributes', 0, 7, -1, '07', '1.5', 'b64:', 'expiry'];
    $o = new WithPrivate();
    $bag = [];
    foreach ($names as $i => $name) {
        $bag[$name] = "value $i";
    }
    $bag['object'] = $o;
    $bag['nul value'] = "a\0b";
    $sim = new ModSessionSim(['user' => 'bob']);
    [, $seen] = request($sim, symfony(fn () => $_SESSION['_sf2_attributes'] = $bag));
    same($seen, [], 'no warnings');
    $stored = $sim->asArray();
    foreach (['php:_sf2_attributes:_csrf.2fhttps-authenticate', 'php:_sf2_attributes:_security.2elast_username', 'php:_sf2_attributes:.55.50.50.45.52',
              'php:_sf2_attributes:x.3ay', 'php:_sf2_attributes:php.3a_sf2_attributes', 'php:_sf2_attributes:', 'php:_sf2_attributes:0',
              'php:_sf2_attributes:7', 'php:_sf2_attributes:-1', 'php:_sf2_attributes:07', 'php:_sf2_attributes:1.2e5',
              'php:_sf2_attributes:expiry'] as $key) {
        check(isset($stored[$key]), "entry $key");
    }
    foreach ($stored as $key => $value) {
        if (str_starts_with($key, 'php:_sf2_attributes')) {
            check(preg_match('/^php:_sf2_attributes:[a-z0-9_.-]*$/', $key) === 1, "key $key: lower case, one ':', nothing httpd decodes");
            check(!str_contains($value, "\0"), "no NUL stored in $key");
        }
    }
    check(str_starts_with($stored['php:_sf2_attributes:object'] ?? '', 'b64:'), 'object with private properties: b64:');
    same($stored['php:_sf2_attributes:nul.20value'] ?? null, 'b64:' . base64_encode(serialize("a\0b")), 'string with a NUL: b64:');
    request($sim, symfony(function () use ($bag) {
        $got = $_SESSION['_sf2_attributes'] ?? [];
        check($got == $bag, 'the bag after the round trip', $got, $bag);
        same(array_keys($got), array_keys($bag), 'member names, integers as integers, in order');
        same($got['object']->secret(), "s\0cret & = % + \n", 'private property');
    }));
    [$h] = request($sim, symfony());
    same($h->log, [], 'read back unchanged: nothing sent');
    [$h] = request($sim, symfony(function () {
        unset($_SESSION['_sf2_attributes']['a&b=c%d+e f'], $_SESSION['_sf2_attributes'][7], $_SESSION['_sf2_attributes']["nul\0byte"]);
    }));
    same($h->get('X-Replace-Session'), 'php:_sf2_attributes:a.26b.3dc.25d.2be.20f=&php:_sf2_attributes:nul.00byte=&php:_sf2_attributes:7=', 'removals by name as stored');
    $left = array_diff_key($bag, ['a&b=c%d+e f' => 1, 7 => 1, "nul\0byte" => 1]);
    check((symfonyView($sim)['_sf2_attributes'] ?? null) == $left, 'removed in the store');
});

test('split keys: a plain PHP application (no split key) is stored and sent exactly as before', function () {
    $sim = new ModSessionSim(['user' => 'bob', 'php:a' => 'i:1;']);
    [$h] = request($sim, function () {
        $_SESSION['cart'] = [3, 7];
        $_SESSION['userId'] = 42;
        $_SESSION['attrs'] = ['x' => 1];
        unset($_SESSION['a']);
    });
    same($h->get('X-Replace-Session'), 'php:cart=' . rawurlencode('a:2:{i:0;i:3;i:1;i:7;}') . '&php:user.49d=' . rawurlencode('i:42;')
        . '&php:attrs=' . rawurlencode('a:1:{s:1:"x";i:1;}') . '&php:a=', 'header');
    same($sim->asArray(), ['user' => 'bob', 'php:cart' => 'a:2:{i:0;i:3;i:1;i:7;}', 'php:user.49d' => 'i:42;', 'php:attrs' => 'a:1:{s:1:"x";i:1;}'], 'stored');
    [$h] = request($sim, fn () => $_SESSION['cart'][] = 9);
    same($h->get('X-Replace-Session'), 'php:cart=' . rawurlencode('a:3:{i:0;i:3;i:1;i:7;i:2;i:9;}'), 'an array changed: sent whole');
});

test('split keys: split_keys option; a split key whose value is not an array is one entry', function () {
    // not an array: one entry, and it replaces the members
    $sim = new ModSessionSim(['php:_sf2_attributes:a' => 'i:1;']);
    [$h] = request($sim, fn () => $_SESSION['_sf2_attributes'] = 'not an array');
    same($h->get('X-Replace-Session'), 'php:_sf2_attributes=' . rawurlencode(serialize('not an array')) . '&php:_sf2_attributes:a=', 'whole, members removed');
    [$h] = request($sim, fn () => $_SESSION['_sf2_attributes'] = ['b' => 2]);
    same($h->get('X-Replace-Session'), 'php:_sf2_attributes:b=' . rawurlencode('i:2;') . '&php:_sf2_attributes=', 'an array again: split');
    // split_keys names the keys
    $sim = new ModSessionSim();
    [$h] = request($sim, function () {
        $_SESSION['cart'] = ['x' => 1];
        $_SESSION['_sf2_attributes'] = ['y' => 2];
    }, ['split_keys' => ['cart']]);
    same($h->get('X-Replace-Session'), 'php:cart:x=' . rawurlencode('i:1;') . '&php:_sf2_attributes=' . rawurlencode(serialize(['y' => 2])), 'split_keys [cart]');
    // split_keys []: everything whole (the first step of a rolling deploy); members are still read,
    // written back whole by a change, and removed by destroy
    $sim = new ModSessionSim(['php:_sf2_attributes:a' => 'i:1;', 'php:_sf2_attributes:b' => 'i:2;', 'php:_symfony_flashes:n' => serialize(['x'])]);
    $opts = ['split_keys' => []];
    same(symfonyView($sim, $opts)['_sf2_attributes'], ['a' => 1, 'b' => 2], 'split_keys []: members read');
    [$h] = request($sim, symfony(fn () => $_SESSION['_sf2_attributes']['c'] = 3), $opts);
    same($h->get('X-Replace-Session'), 'php:_sf2_attributes=' . rawurlencode(serialize(['a' => 1, 'b' => 2, 'c' => 3]))
        . '&php:_sf2_attributes:a=&php:_sf2_attributes:b=', 'split_keys []: a changed bag is written whole, its members removed');
    [$h] = request($sim, fn () => session_destroy(), $opts);
    same($sim->asArray(), [], 'split_keys []: destroy removes the members too');
    foreach (['nope', [[1]], [1.5], [null], [true]] as $bad) {
        $threw = false;
        try {
            new LampfarmSessionHandler(['split_keys' => $bad]);
        } catch (\InvalidArgumentException) {
            $threw = true;
        }
        check($threw, 'split_keys refused: ' . show($bad));
    }
});

test('split keys: max_size counts every entry, members one by one, as httpd encodes the whole session', function () {
    $sim = new ModSessionSim(['user' => 'bob b', 'php:_sf2_meta' => serialize(['u' => 1]), 'php:_symfony_flashes:notice' => serialize(['hi there']),
        'php:_sf2_attributes' => serialize(['old' => str_repeat('o', 30), '_csrf/x' => 'c'])], '1700000000000000');
    $session = [
        '_sf2_attributes' => ['old' => str_repeat('o', 30), '_csrf/x' => 'c', 'Obj' => new WithPrivate(), 'k & v' => "\u{e9}"],
        '_symfony_flashes' => ['notice' => ['hi there']],
        '_sf2_meta' => ['u' => 2],
    ];
    [$handler, $h] = handler($sim, ['max_size' => 1 << 20]);
    $handler->read('x');
    check($handler->write('x', data($session)), 'write');
    check(str_contains((string) $h->get('X-Replace-Session'), 'php:_sf2_attributes:.4fbj=b64%3A'), 'split, with a b64: member', $h->get('X-Replace-Session'));
    $after = clone $sim;
    $after->apply($h);
    $exact = strlen($after->encode());
    [$handler] = handler($sim, ['max_size' => $exact]);
    $handler->read('x');
    same(warnings(fn () => $handler->write('x', data($session)), $ok), [], "exactly max_size ($exact): no warning");
    same($ok, true, "exactly max_size ($exact) is accepted");
    [$handler] = handler($sim, ['max_size' => $exact - 1]);
    $handler->read('x');
    same(count(warnings(fn () => $handler->write('x', data($session)), $ok)), 1, 'one byte over: a warning');
    same($ok, false, 'one byte over is refused');
    // both forms of an unchanged bag stay, and count
    $sim = new ModSessionSim(['php:_sf2_attributes' => serialize(['a' => str_repeat('a', 50)]), 'php:_sf2_attributes:b' => serialize(str_repeat('b', 50)),
        'php:_sf2_meta' => 'i:1;']);
    $exact = strlen((new ModSessionSim(['php:_sf2_attributes' => serialize(['a' => str_repeat('a', 50)]),
        'php:_sf2_attributes:b' => serialize(str_repeat('b', 50)), 'php:_sf2_meta' => 'i:2;']))->encode());
    foreach ([$exact => true, $exact - 1 => false] as $max => $want) {
        [$handler] = handler($sim, ['max_size' => $max]);
        $session = unserialize($handler->read('x'));
        $session['_sf2_meta'] = 2;
        warnings(fn () => $handler->write('x', data($session)), $ok);
        same($ok, $want, "unchanged bag in both forms, max_size $max");
    }
});

/* ------------------------------------------------------------------------------ summary */

out('');
out("$passed passed, $failed failed");
exit($failed === 0 ? 0 : 1);
