"""PHP sessions through the real thing: php/LampfarmSessionHandler.php behind httpd's mod_session
and mod_session_kv, on memcached and on redis, under PHP-FPM (mod_proxy_fcgi; event and prefork
MPMs) and under mod_php (prefork only). A PHP application sets, reads, regenerates and destroys
its session with PHP's own session functions; a large session travels from PHP-FPM as numbered
X-Replace-Session-N headers and arrives intact; a session over SessionKVMaxSize is refused by
the module (LF01001) or, with the handler's max_size set to match, by the handler itself, and
the stored one stays. A session over 16 KB, which mod_proxy_fcgi could not hand PHP-FPM in one
variable, reaches PHP in SessionKVEnvPartSize pieces."""
import json
import random
import string

import pytest

from harness import session

APP = r'''<?php
// app.php (tests/integration/test_065_session_php.py): answers with the session as PHP read it
// and changes it as the JSON body says: {"set": {key: value}, "del": [key], "op": "login"|"logout"}.
declare(strict_types=1);
require __DIR__ . '/LampfarmSessionHandler.php';

LampfarmSessionHandler::register(isset($_GET['max_size']) ? ['max_size' => (int) $_GET['max_size']] : []);
session_start();
$seen = $_SESSION;
if (isset($_GET['hold'])) { // session.Hold: say the session is read, wait for the test's go
    touch($_GET['hold'] . '.started');
    for ($end = microtime(true) + 20; microtime(true) < $end; usleep(10000)) {
        clearstatcache();
        if (file_exists($_GET['hold'] . '.go')) {
            break;
        }
    }
}
$in = json_decode((string) file_get_contents('php://input'), true) ?: [];
foreach ($in['set'] ?? [] as $key => $value) {
    $_SESSION[$key] = $value;
}
foreach ($in['del'] ?? [] as $key) {
    unset($_SESSION[$key]);
}
$saved = true;
switch ($in['op'] ?? '') {
    case 'login':
        session_regenerate_id(true);
        break;
    case 'logout':
        $_SESSION = [];
        $saved = session_destroy();
        break;
    case 'logout-flash': // log out, then a fresh session for a message on the next page
        $_SESSION = [];
        session_destroy();
        session_start();
        $_SESSION['flash'] = 'logged out';
        break;
}
if (session_status() === PHP_SESSION_ACTIVE) {
    $saved = session_write_close() && $saved;
}
// the session headers the handler sent (names only: the values can be large)
$sent = [];
foreach (headers_list() as $line) {
    $name = strstr($line, ':', true);
    if (preg_match('/^X-(Replace-Session|Session-Regenerate)/i', $name)) {
        $sent[] = $name;
    }
}
// the session variables httpd handed in (names only)
$env = array_values(array_filter(array_keys($_SERVER), fn ($k) => str_starts_with((string) $k, 'HTTP_SESSION')));
sort($env);
header('Content-Type: application/json');
echo json_encode(['sapi' => PHP_SAPI, 'session' => (object) $seen, 'saved' => $saved, 'sent' => $sent,
    'env' => $env], JSON_THROW_ON_ERROR);
'''

SAPI_NAME = {"fpm": "fpm-fcgi", "mod_php": "apache2handler"}


class Php:
    """How PHP runs in a test: kind "fpm" or "mod_php", the SetHandler target, and PHP's log."""

    def __init__(self, kind, handler, fpm=None):
        self.kind = kind
        self.handler = handler
        self.fpm = fpm

    def errors(self, srv):
        """What PHP logged: php-fpm's error log, or (mod_php) httpd's error log."""
        return self.fpm.php_errors() if self.fpm else srv.error_log.read()


@pytest.fixture(params=["fpm", "mod_php"])
def php(request, mpm):
    if request.param == "mod_php":
        if mpm != "prefork":
            pytest.skip("mod_php (Debian's libphp8.2.so) is not thread-safe: httpd refuses to "
                        "load it under the event MPM, it runs under prefork only")
        if not session.mod_php_so():
            pytest.skip("mod_php is not installed (Debian: libapache2-mod-php)")
        return Php("mod_php", session.MOD_PHP)
    fpm = request.getfixturevalue("php_fpm")
    return Php("fpm", fpm.handler, fpm)


@pytest.fixture
def redis_kv(redis):
    """redis only, for what does not depend on the store (memcached costs a second a test)."""
    return session.KV("redis", redis)


def start(httpd, logs, mpm, php, kv, srv="", loc=""):
    server = session.start(httpd, logs, mpm, kv.url, srv=srv, loc=loc, php=php.handler)
    with open(session.php_dir(logs) + "/app.php", "w") as f:
        f.write(APP)
    return server


def call(c, php, body=None, query=""):
    """One request to app.php (POST with a JSON body, or GET): the parsed answer, checked."""
    path = "/php/app.php" + ("?" + query if query else "")
    r = c.get(path) if body is None else c.post(path, json.dumps(body),
                                                 headers={"Content-Type": "application/json"})
    assert r.status == 200, r
    # the session headers are httpd's business: none of them reaches the browser
    leaked = [k for k in r.headers.keys() if k.lower().startswith(("x-replace-session",
                                                                    "x-session-regenerate"))]
    assert not leaked, r
    out = r.json()
    assert out["sapi"] == SAPI_NAME[php.kind], out
    out["response"] = r
    return out


def expired(r):
    return any(c.startswith("session=;") and "Max-Age=0" in c for c in session.set_cookies(r))


DATA = {
    "user": "alice",
    "Cart.Items": [3, 7],                       # upper case and a dot: escaped in the key
    "note": "a b&c=d%e+f;g\"h' é € \n\t",       # everything mod_session's encoding escapes
    "nul": "a\u0000b",                          # a NUL: stored base64-encoded
    "n": 42,
    "flag": False,
    "nested": {"x": {"y": [1, "two", None]}},
}


def test_set_and_read_back(httpd, logs, mpm, php, kv):
    srv = start(httpd, logs, mpm, php, kv)
    c = session.Client(srv)
    out = call(c, php, {"set": DATA})
    assert out["session"] == {} and out["saved"] is True
    assert out["sent"] == ["X-Replace-Session"]
    assert c.sid and kv.keys() == [session.backend_key(c.sid)]

    # the next request sees it; nothing changed, so nothing is sent, written or set
    writes = kv.writes()
    out = call(c, php)
    assert out["session"] == DATA
    assert out["sent"] == [] and session.set_cookies(out["response"]) == []
    assert kv.writes() == writes

    # the handler's layout, as any other mod_session application sees it
    raw = c.app()
    assert raw["php:user"] == 's:5:"alice";'
    assert raw["php:flag"] == "b:0;"
    assert raw["php:.43art.2e.49tems"] == "a:2:{i:0;i:3;i:1;i:7;}"
    assert raw["php:nul"].startswith("b64:")
    assert len(raw) == len(DATA)

    # change one key, remove another, keep the rest
    call(c, php, {"set": {"n": 43}, "del": ["note"]})
    want = dict(DATA, n=43)
    del want["note"]
    assert call(c, php)["session"] == want


def test_regenerate_gives_a_new_id_and_keeps_the_data(httpd, logs, mpm, php, redis_kv):
    srv = start(httpd, logs, mpm, php, redis_kv)
    c = session.Client(srv)
    call(c, php, {"set": {"cart": [1, 2]}})
    old = c.sid
    out = call(c, php, {"set": {"user": "bob"}, "op": "login"})
    assert out["sent"] == ["X-Session-Regenerate", "X-Replace-Session"]
    assert c.sid and c.sid != old
    cookies = session.set_cookies(out["response"])
    assert len(cookies) == 1 and cookies[0].startswith("session=%s;" % c.sid), cookies
    assert call(c, php)["session"] == {"cart": [1, 2], "user": "bob"}
    # the old id is dead, in the store and for a client that still holds it
    assert redis_kv.keys() == [session.backend_key(c.sid)]
    stale = session.Client(srv)
    stale.sid = old
    assert call(stale, php)["session"] == {}
    # a new id alone, with nothing else changed
    before = c.sid
    out = call(c, php, {"op": "login"})
    assert out["sent"] == ["X-Session-Regenerate"]
    assert c.sid and c.sid != before
    assert call(c, php)["session"] == {"cart": [1, 2], "user": "bob"}
    assert redis_kv.keys() == [session.backend_key(c.sid)]


def test_destroy_expires_the_cookie_and_deletes_the_session(httpd, logs, mpm, php, redis_kv):
    srv = start(httpd, logs, mpm, php, redis_kv)
    c = session.Client(srv)
    call(c, php, {"set": {"user": "carol", "cart": [5]}})
    sid = c.sid
    assert redis_kv.exists(sid)
    out = call(c, php, {"op": "logout"})
    assert out["saved"] is True and out["session"] == {"user": "carol", "cart": [5]}
    assert expired(out["response"]), session.set_cookies(out["response"])
    assert c.sid is None
    assert redis_kv.keys() == []
    # the old cookie brings nothing back
    stale = session.Client(srv)
    stale.sid = sid
    assert call(stale, php)["session"] == {}


def test_destroy_then_start_again_gives_a_fresh_session(httpd, logs, mpm, php, redis_kv):
    srv = start(httpd, logs, mpm, php, redis_kv)
    c = session.Client(srv)
    call(c, php, {"set": {"user": "heidi", "cart": [5]}})
    old = c.sid
    out = call(c, php, {"op": "logout-flash"})
    assert c.sid and c.sid != old, session.set_cookies(out["response"])
    assert call(c, php)["session"] == {"flash": "logged out"}
    assert redis_kv.keys() == [session.backend_key(c.sid)]
    stale = session.Client(srv)
    stale.sid = old
    assert call(stale, php)["session"] == {}


def big_value(size, seed=65):
    """size characters: hex blocks with every character mod_session's encoding escapes."""
    rnd = random.Random(seed)
    specials = " &=%+;:\"'\\/?#\n\té€"
    out = []
    while sum(map(len, out)) < size:
        out.append("".join(rnd.choice(string.hexdigits) for _ in range(60)) + rnd.choice(specials))
    return "".join(out)[:size]


def stored(value):
    """What PHP's serialize() makes of a string: the handler's stored form of it."""
    return 's:%d:"%s";' % (len(value.encode()), value)


def test_large_session_travels_in_numbered_headers_and_arrives_intact(httpd, logs, mpm, php, kv):
    srv = start(httpd, logs, mpm, php, kv)
    c = session.Client(srv)
    big = big_value(12000)
    out = call(c, php, {"set": {"user": "dave", "big": big}})
    assert out["saved"] is True
    # over 12 KB encoded: in 8000-byte pieces (PHP-FPM cannot send a header line over 8 KB)
    assert out["sent"] == ["X-Replace-Session-1", "X-Replace-Session-2"], out["sent"]
    assert c.app()["php:big"] == stored(big)
    assert call(c, php)["session"] == {"user": "dave", "big": big}
    # a change of a small key sends only that key, and the big one stays as it was
    out = call(c, php, {"set": {"user": "erin"}})
    assert out["sent"] == ["X-Replace-Session"]
    assert call(c, php)["session"] == {"user": "erin", "big": big}


# mod_proxy_fcgi packs the environment into FastCGI records of at most 16 KiB (a constant in
# httpd, not a directive) and skips a variable that does not fit in one, with AH02536. So a long
# HTTP_SESSION goes to the application in pieces (SessionKVEnvPartSize, 8000 bytes by default),
# which the handler joins.
def test_session_over_16k_reaches_php_in_pieces(httpd, logs, mpm, php, kv):
    srv = start(httpd, logs, mpm, php, kv)
    c = session.Client(srv)
    big = big_value(30000)
    out = call(c, php, {"set": {"user": "dave", "big": big}})
    assert out["saved"] is True
    assert out["sent"] == ["X-Replace-Session-%d" % i for i in range(1, 5)], out["sent"]
    # stored intact (the CGI application reads it through mod_cgi(d), which has no limit)
    assert c.app()["php:big"] == stored(big)
    out = call(c, php)
    assert out["session"] == {"user": "dave", "big": big}
    # about 30.5 KB encoded: four pieces, and no HTTP_SESSION for mod_proxy_fcgi to drop
    assert out["env"] == ["HTTP_SESSION_1", "HTTP_SESSION_2", "HTTP_SESSION_3",
                          "HTTP_SESSION_4", "HTTP_SESSION_PARTS"], out["env"]
    # a small session again: one variable
    out = call(c, php, {"del": ["big"]})
    assert call(c, php)["env"] == ["HTTP_SESSION"]
    assert "AH02536" not in srv.error_log.read()


FPM_16K = ("with SessionKVEnvPartSize Off, mod_proxy_fcgi drops an HTTP_SESSION over about 16 KB "
           "(AH02536 couldn't encode envvar 'HTTP_SESSION' in 16384 bytes)")


def test_env_part_size_off_hands_the_whole_session(request, httpd, logs, mpm, php, redis_kv):
    """SessionKVEnvPartSize Off: HTTP_SESSION whole, as mod_session sets it; PHP-FPM then cannot
    get one over 16 KB, mod_php can."""
    if php.kind == "fpm":
        request.applymarker(pytest.mark.xfail(strict=True, reason=FPM_16K))
        httpd.expect_log("AH02536")     # mod_proxy_fcgi's; mod_php has no such limit
    srv = start(httpd, logs, mpm, php, redis_kv, loc="SessionKVEnvPartSize Off")
    c = session.Client(srv)
    big = big_value(20000)
    assert call(c, php, {"set": {"big": big}})["saved"] is True
    out = call(c, php)
    assert out["env"] == ["HTTP_SESSION"], out["env"]
    assert out["session"] == {"big": big}


@pytest.mark.expect_log("LF01001")
def test_session_over_max_size_is_refused_by_the_module(httpd, logs, mpm, php, kv):
    srv = start(httpd, logs, mpm, php, kv, srv="SessionKVMaxSize 40K")
    c = session.Client(srv)
    call(c, php, {"set": {"user": "frank"}})
    writes = kv.writes()
    # the handler's max_size is its default (64 KiB): it sends the 50 KB, httpd refuses them
    out = call(c, php, {"set": {"big": "x" * 50000}})
    assert out["saved"] is True
    assert len(out["sent"]) == 7, out["sent"]
    line = srv.error_log.wait_for("LF01001")
    assert "more than SessionKVMaxSize 40960" in line and "kept as it was" in line, line
    assert kv.writes() == writes
    assert session.status_counters(srv)["Oversize"] == 1
    assert call(c, php)["session"] == {"user": "frank"}


def test_session_over_max_size_is_refused_by_the_handler(httpd, logs, mpm, php, redis_kv):
    if php.kind == "mod_php":
        # PHP's warnings (no log id): mod_php logs them here, PHP-FPM in its own log
        httpd.expect_log("LampfarmSessionHandler: the session would be",
                         "Failed to write session data")
    srv = start(httpd, logs, mpm, php, redis_kv, srv="SessionKVMaxSize 40K")
    c = session.Client(srv)
    call(c, php, {"set": {"user": "grace"}}, query="max_size=40960")
    writes = redis_kv.writes()
    out = call(c, php, {"set": {"big": "x" * 50000}}, query="max_size=40960")
    # (session_write_close() still says true: PHP 8.2 only warns when a write fails)
    assert out["sent"] == []
    assert redis_kv.writes() == writes
    errors = php.errors(srv)
    assert "over the limit of 40960 bytes" in errors, errors[-2000:]
    assert "LF01001" not in srv.error_log.read()
    assert call(c, php, query="max_size=40960")["session"] == {"user": "grace"}


# --- a request in flight across a logout or a login (test_061 has the same without PHP) ------

def race(c, php, slow_body, meanwhile):
    """A slow call holding the session it read while meanwhile() runs: the slow response."""
    r = session.while_held(
        lambda hold: c.post("/php/app.php?" + session.query(hold=hold), json.dumps(slow_body),
                            headers={"Content-Type": "application/json"}, timeout=30),
        meanwhile)
    assert r.status == 200, r
    return r


def fpm_only(php):
    if php.kind != "fpm":
        pytest.skip("the race is decided in the store: PHP-FPM is enough")


@pytest.mark.one_mpm
def test_logout_during_a_slow_request_stays_a_logout(httpd, logs, mpm, php, kv):
    fpm_only(php)
    srv = start(httpd, logs, mpm, php, kv)
    c = session.Client(srv)
    call(c, php, {"set": {"user": "ivan"}, "op": "login"})
    logged_in = c.sid
    r = race(c, php, {"set": {"poll": 1}}, lambda: call(c, php, {"op": "logout"}))
    assert r.json()["session"] == {"user": "ivan"}
    assert session.set_cookies(r, "session") == []
    assert c.sid is None and not kv.holds(logged_in)
    assert call(c, php)["session"] == {}
    stale = session.Client(srv)
    stale.sid = logged_in
    assert call(stale, php)["session"] == {}


@pytest.mark.one_mpm
def test_login_during_a_slow_anonymous_request_stays_a_login(httpd, logs, mpm, php, redis_kv):
    fpm_only(php)
    srv = start(httpd, logs, mpm, php, redis_kv)
    c = session.Client(srv)
    call(c, php, {"set": {"csrf": "t1"}})
    anonymous = c.sid
    r = race(c, php, {"set": {"poll": 1}},
             lambda: call(c, php, {"set": {"user": "judy"}, "op": "login"}))
    assert session.set_cookies(r, "session") == []
    assert c.sid not in (None, anonymous)
    assert call(c, php)["session"] == {"csrf": "t1", "user": "judy"}
    assert redis_kv.keys() == [session.backend_key(c.sid)]
