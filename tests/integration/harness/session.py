"""mod_session_kv in tests: an httpd with mod_session + mod_session_kv in front of a small CGI
application, a client that keeps the session cookie, and read-back of what the backends hold.

mod_session (httpd 2.4) encodes the session as a form: keys and values urlencoded with "+" for a
space. The application (app.cgi, Python run by httpd's mod_cgid/mod_cgi) answers with the session it
received in HTTP_SESSION (or HTTP_SESSION_1..N, joined) as JSON and changes it through the SessionHeader, driven by the query:

  set=k:v      set key k to v (repeatable)      del=k      remove key k (repeatable)
  big=N        set key "big" to N bytes          regen=1    ask for a new session id
  clear=1      remove every key it received      sleep=MS   wait before answering
  split=1      send the SessionHeader in numbered 8000-byte parts, as PHP-FPM has to
  hold=PATH    once the session is read, create PATH.started and wait for PATH.go (Hold)

With php= (a SetHandler target: PhpFpm.handler for PHP-FPM through mod_proxy_fcgi, or MOD_PHP),
/php/ serves the PHP scripts a test writes into php_dir(logs) (which holds
php/LampfarmSessionHandler.php too), with the same session settings as /app.
"""
import concurrent.futures
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

from . import paths
from .http import request
from .httpd import DEFAULT_APACHE_MODULES

HEADER = "X-Replace-Session"

# conf(php=MOD_PHP): .php files run by mod_php (Debian's libapache2-mod-php; prefork only)
MOD_PHP = "application/x-httpd-php"
PHP_HANDLER = os.path.join(paths.REPO, "php", "LampfarmSessionHandler.php")

APP = r'''#!/usr/bin/python3 -S
import json, os, sys, time, urllib.parse
q = urllib.parse.parse_qs(os.environ.get("QUERY_STRING", ""), keep_blank_values=True)
raw = os.environ.get("HTTP_SESSION", "")
if "HTTP_SESSION_PARTS" in os.environ:   # a long one, in SessionKVEnvPartSize pieces
    raw = "".join(os.environ["HTTP_SESSION_%d" % i]
                  for i in range(1, int(os.environ["HTTP_SESSION_PARTS"]) + 1))
session = {}
for pair in raw.split("&"):
    if "=" in pair:
        k, v = pair.split("=", 1)
        session[urllib.parse.unquote_plus(k)] = urllib.parse.unquote_plus(v)
out = []
def enc(s):
    return urllib.parse.quote(s, safe="")
for kv in q.get("set", []):
    k, v = kv.split(":", 1)
    out.append(enc(k) + "=" + enc(v))
for k in q.get("del", []):
    out.append(enc(k) + "=")
if "big" in q:
    out.append("big=" + "x" * int(q["big"][0]))
if "clear" in q:
    out += [enc(k) + "=" for k in session if k != "expiry"]
if "sleep" in q:
    time.sleep(int(q["sleep"][0]) / 1000.0)
if "hold" in q:
    open(q["hold"][0] + ".started", "w").close()
    end = time.time() + 20
    while not os.path.exists(q["hold"][0] + ".go") and time.time() < end:
        time.sleep(0.01)
headers = ["Content-Type: application/json"]
value = "&".join(out)
if value and "split" in q:
    parts = [value[i:i + 8000] for i in range(0, len(value), 8000)]
    headers += ["X-Replace-Session-%d: %s" % (i + 1, p) for i, p in enumerate(parts)]
elif value:
    headers.append("X-Replace-Session: " + value)
if "regen" in q:
    headers.append("X-Session-Regenerate: 1")
body = json.dumps({"session": session, "raw": raw})
sys.stdout.write("\r\n".join(headers) + "\r\n\r\n" + body)
'''


def app_dir(logs):
    d = os.path.join(logs, "cgi")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "app.cgi")
    with open(path, "w") as f:
        f.write(APP)
    os.chmod(path, 0o755)
    os.chmod(logs, 0o755)
    return d


def php_dir(logs):
    """<logs>/php/ (served as /php/ with conf(php=...)), holding LampfarmSessionHandler.php;
    scripts written here are run as nobody."""
    d = os.path.join(logs, "php")
    os.makedirs(d, exist_ok=True)
    shutil.copy(PHP_HANDLER, d)
    paths.make_traversable(d)
    return d


def mod_php_so():
    """Debian's mod_php (libphp<version>.so), or None when it is not installed."""
    found = sorted(glob.glob(os.path.join(paths.APACHE_MODULES, "libphp*.so")))
    return found[-1] if found else None


PHP_CONF = """
%(load)s
Alias /php/ "%(dir)s/"
<Directory "%(dir)s">
    Require all granted
    <FilesMatch "\\.php$">
        SetHandler "%(handler)s"
    </FilesMatch>
</Directory>
%(session)s
"""

# mod_session on mod_session_kv for one location, the same for /app and /php
SESSION_LOCATION = """<Location %(path)s>
    Session On
    SessionEnv On
    SessionHeader %(header)s
    SessionKV On
    %(cookie)s
    %(loc)s
</Location>"""


def session_location(path, cookie, loc):
    return SESSION_LOCATION % {"path": path, "header": HEADER, "cookie": cookie, "loc": loc}


def conf(logs, store, srv="", loc="", cookie="SessionKVCookie session Secure=Off", php=None):
    """Configuration text: the store, and /app/ with mod_session on mod_session_kv; with php
    (a SetHandler target), /php/ as well (see the module comment)."""
    php_conf = ""
    if php:
        php_conf = PHP_CONF % {
            "load": 'LoadModule php_module "%s"' % mod_php_so() if php == MOD_PHP else "",
            "dir": php_dir(logs), "handler": php,
            "session": session_location("/php", cookie, loc)}
    return """
SessionKVStore %(store)s
%(srv)s
ScriptAlias /app/ "%(cgi)s/"
<Location /server-status>
    SetHandler server-status
</Location>
<Directory "%(cgi)s">
    Require all granted
</Directory>
%(session)s
%(php)s""" % {"store": store, "srv": srv, "cgi": app_dir(logs),
              "session": session_location("/app", cookie, loc), "php": php_conf}


def apache_modules(mpm, extra=()):
    return (DEFAULT_APACHE_MODULES + ("status", "session", "cgid" if mpm == "event" else "cgi")
            + tuple(extra))


def start(httpd, logs, mpm, store, srv="", loc="", modules=("session_kv",), extra_apache=(),
          name="httpd", **kw):
    if (kw.get("php") or "").startswith("proxy:"):
        extra_apache = tuple(extra_apache) + ("proxy", "proxy_fcgi")
    return httpd.start(conf(logs, store, srv, loc, **kw), name=name, modules=modules,
                       apache_modules=apache_modules(mpm, extra_apache))


def query(**kw):
    """The app's query string: query(set=["a:1", "b:2"], regen=1)."""
    return urllib.parse.urlencode(kw, doseq=True)


def set_cookies(resp, name=None):
    """The response's Set-Cookie lines; with name, only those of that cookie."""
    lines = resp.headers.get_all("Set-Cookie") or []
    return [c for c in lines if c.startswith(name + "=")] if name else lines


class Client:
    """One browser: sends its session cookie, takes what Set-Cookie says."""

    def __init__(self, srv, name="session", port=None):
        self.srv = srv
        self.name = name
        self.port = port
        self.sid = None

    def get(self, path="/app/app.cgi", headers=None, **kw):
        return self.request("GET", path, headers, **kw)

    def post(self, path, body, headers=None, **kw):
        return self.request("POST", path, headers, body=body, **kw)

    def request(self, method, path, headers=None, **kw):
        hdrs = dict(headers or {})
        if self.sid and "Cookie" not in hdrs:
            hdrs["Cookie"] = "%s=%s" % (self.name, self.sid)
        port = self.port or self.srv.port
        r = request(port, method, path, headers=hdrs, **kw)
        for c in set_cookies(r):
            name, _, rest = c.partition("=")
            if name == self.name:
                value = rest.split(";", 1)[0]
                self.sid = value if value and "Max-Age=0" not in c else None
        return r

    def app(self, **q):
        """GET the app with a query; the session it saw, as a dict."""
        r = self.get("/app/app.cgi?" + query(**q))
        assert r.status == 200, r
        return r.json()["session"]


class Hold:
    """A request held inside the application after it has read its session, until the test
    releases it: the app's hold=PATH (app.cgi here, app.php in test_065) creates PATH.started
    and waits for PATH.go (at most 20 s). PATH is in /tmp: the application runs as nobody."""

    def __init__(self):
        fd, self.path = tempfile.mkstemp(prefix="lf-hold-", dir="/tmp")
        os.close(fd)
        os.unlink(self.path)

    def wait_started(self, timeout=10):
        wait(lambda: os.path.exists(self.path + ".started"), timeout)

    def release(self):
        open(self.path + ".go", "w").close()

    def cleanup(self):
        for end in (".started", ".go"):
            try:
                os.unlink(self.path + end)
            except OSError:
                pass


def while_held(send, meanwhile):
    """A slow request in flight while something else happens: send(hold_path) in a thread
    (a request with hold=hold_path); once the application has read its session, meanwhile();
    then the slow request is released. Returns its response.

        r = session.while_held(lambda h: c.get("/app/app.cgi?" + session.query(hold=h)),
                               lambda: c.app(clear=1))      # a logout while it runs
    """
    hold = Hold()
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        slow = pool.submit(send, hold.path)
        hold.wait_started()
        meanwhile()
        hold.release()
        return slow.result(timeout=30)
    finally:
        hold.release()
        pool.shutdown()
        hold.cleanup()


def backend_key(sid, prefix="skv:"):
    return prefix + hashlib.sha256(sid.encode()).hexdigest()


def redis_cli(port, *args):
    out = subprocess.run([paths.which("redis-cli"), "-p", str(port), "--raw"] + [str(a) for a in args],
                         capture_output=True, timeout=10)
    return out.stdout.decode("utf-8", "replace").rstrip("\n")


def redis_commandstats(port):
    """{"set": calls, ...} from INFO commandstats."""
    stats = {}
    for line in redis_cli(port, "INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line.partition(":")
            stats[name[len("cmdstat_"):]] = int(rest.split(",")[0].split("=")[1])
    return stats


def memcached_stats(mc):
    stats = {}
    for line in mc.command(b"stats\r\n").decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT":
            stats[parts[1]] = parts[2]
    return stats


def server_status(srv):
    """Every "Name: value" line of server-status?auto, values as text (needs mod_status and
    /server-status): BusyWorkers, IdleWorkers, the SessionKV counters, ..."""
    r = srv.get("/server-status?auto")
    assert r.status == 200, r
    out = {}
    for line in r.text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out


def status_counters(srv, index=0):
    """The SessionKV counters of server-status?auto (needs mod_status and /server-status)."""
    prefix = "SessionKV%d" % index
    return {k[len(prefix):]: int(v) for k, v in server_status(srv).items()
            if k.startswith(prefix)}


def wait(cond, timeout=10, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("condition not met within %ss" % timeout)


class KV:
    """A backend as the tests see it: its URL for SessionKVStore and read-back helpers."""

    def __init__(self, kind, server):
        self.kind = kind
        self.server = server
        self.url = "%s://127.0.0.1:%d" % (kind, server.port)

    def keys(self):
        if self.kind == "redis":
            out = redis_cli(self.server.port, "KEYS", "*")
            return [k for k in out.splitlines() if k]
        # memcached 1.6: the LRU crawler lists every key
        out = self.server.command(b"lru_crawler metadump all\r\n").decode()
        return [urllib.parse.unquote(line.split()[0][4:]) for line in out.splitlines()
                if line.startswith("key=")]

    def exists(self, sid, prefix="skv:"):
        return backend_key(sid, prefix) in self.keys()

    def holds(self, sid, prefix="skv:"):
        """Whether the backend has sid's session now, by a read of its key (memcached's LRU
        crawler, behind keys(), may not list an item written a moment ago)."""
        key = backend_key(sid, prefix)
        if self.kind == "redis":
            return redis_cli(self.server.port, "EXISTS", key) == "1"
        return self.server.command(b"get " + key.encode() + b"\r\n").startswith(b"VALUE")

    def raw(self, sid, prefix="skv:"):
        key = backend_key(sid, prefix)
        if self.kind == "redis":
            out = subprocess.run([paths.which("redis-cli"), "-p", str(self.server.port), "--no-raw",
                                  "GET", key], capture_output=True, timeout=10)
            return out.stdout
        return self.server.command(b"get " + key.encode() + b"\r\n")

    def writes(self):
        """Commands that rewrite a value, as the backend counts them."""
        if self.kind == "redis":
            s = redis_commandstats(self.server.port)
            return s.get("set", 0) + s.get("evalsha", 0) + s.get("eval", 0)
        s = memcached_stats(self.server)
        return int(s["cmd_set"])

    def touches(self):
        if self.kind == "redis":
            s = redis_commandstats(self.server.port)
            return s.get("pexpire", 0) + s.get("expire", 0)
        return int(memcached_stats(self.server)["cmd_touch"])


class RedisPrimaryProxy:
    """HAProxy in TCP mode sending connections to whichever redis says role:master — what an
    ElastiCache primary endpoint does after a failover (there by DNS, here by a health check)."""

    def __new__(cls, log_dir, servers):
        from .backends import HAProxy

        proxy = HAProxy(log_dir, [(name, port) for name, port, *_ in servers])
        lines = [
            "global",
            "    log stdout format raw local0 info",
            "    stats socket %s mode 600 level admin" % proxy.sock,
            "defaults",
            "    mode tcp",
            "    timeout connect 1s",
            "    timeout client 60s",
            "    timeout server 60s",
            "    timeout check 1s",
            "frontend fe",
            "    bind 127.0.0.1:%d" % proxy.port,
            "    default_backend be",
            "backend be",
            "    option tcp-check",
            "    tcp-check send PING\\r\\n",
            "    tcp-check expect string +PONG",
            "    tcp-check send info\\ replication\\r\\n",
            "    tcp-check expect string role:master",
            "    tcp-check send QUIT\\r\\n",
            "    tcp-check expect string +OK",
            "    default-server inter 200ms fall 1 rise 1 on-marked-down shutdown-sessions",
        ]
        for name, port, *check_port in servers:
            # (name, port[, check_port]): a TLS port is checked on the server's plain port
            lines.append("    server %s 127.0.0.1:%d check%s"
                         % (name, port, " port %d" % check_port[0] if check_port else ""))
        with open(proxy.cfg_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return proxy
