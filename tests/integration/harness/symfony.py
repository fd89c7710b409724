"""The Symfony application of tests/symfony on httpd nodes: PHP-FPM through mod_proxy_fcgi,
Symfony's usual Apache setup (the public/ directory as the document root, `FallbackResource
/index.php`, or mod_rewrite's front-controller rule), and mod_session + mod_session_kv with
php/LampfarmSessionHandler.php as php/README.md describes; two such nodes behind HAProxy form a
farm.

    app = App(base_dir).install()            # copy, handler in lib/, container built once
    farm = Farm(log_dir, app, kv).start()    # nodes "a" and "b", HAProxy in front ("lb")
    browser = Browser(farm)
    browser.login("alice", to="a")
    browser.get("/me", to="b").json()["user"] == "alice"

The app (tests/symfony/src/Controller/SessionController.php has its pages) runs with
APP_ENV=prod and debug off. Its cache and logs live in <base>/var, owned by nobody (the FPM
workers), and the container is built by App.install(), once, as nobody: no request builds it
(tests/symfony/bin/install.sh, which the dev farm of `make run` uses too).
A slow request (`sleep=MS&mark=M&until=U`) writes <var>/marks/M.in once it has read the session
and waits until <var>/marks/U.go exists: Marks.wait_in() and Marks.release() drive it, so a test
knows that the request is in flight rather than hoping so.
"""
import base64
import os
import re
import socket
import subprocess
import time
import urllib.parse
import uuid

from . import health, paths
from .backends import HAProxy
from .http import request
from .httpd import DEFAULT_APACHE_MODULES, Httpd
from .php import PhpFpm
from .proc import wait_until
from .session import HEADER, backend_key, set_cookies

APP_SRC = os.path.join(paths.REPO, "tests", "symfony")
INSTALL = os.path.join(APP_SRC, "bin", "install.sh")
FPM_USER, FPM_GROUP = "nobody", "nogroup"
COOKIE = "session"

# Symfony's Apache configuration for PHP-FPM (symfony.com/doc/5.4/setup/web_server_configuration),
# with php/README.md's session settings for the whole server. "rewrite" is the front-controller
# rule of symfony/apache-pack's .htaccess instead of FallbackResource.
FRONT = {
    "fallback": "    FallbackResource /index.php",
    "rewrite": "\n".join([
        "    RewriteEngine On",
        "    RewriteCond %{REQUEST_FILENAME} !-f",
        "    RewriteRule ^ index.php [QSA,L]",
    ]),
}

SITE = """
SetEnv APP_ENV prod
SetEnv APP_DEBUG 0
SetEnv APP_CACHE_DIR %(var)s/cache
SetEnv APP_LOG_DIR %(var)s/log
SetEnv APP_MARK_DIR %(var)s/marks
SetEnv LAMPFARM_NODE @NAME@
Header always set X-Node @NAME@

# php/README.md, "httpd configuration"
Session On
SessionEnv On
SessionHeader %(header)s
SessionKVStore %(store)s
# not in php/README.md: without it mod_session has no store (docs/mod_session_kv.md)
SessionKV On
# plain HTTP here; behind TLS keep the default (Secure)
SessionKVCookie %(cookie)s Secure=Off

DocumentRoot "%(public)s"
<Directory "%(public)s">
    AllowOverride None
    Require all granted
%(front)s
</Directory>
<FilesMatch "\\.php$">
    SetHandler "%(handler)s"
</FilesMatch>
"""


class Marks:
    """The app's marker directory: which slow requests are waiting, and releasing them."""

    def __init__(self, path):
        self.path = path

    @staticmethod
    def new(prefix="m"):
        return "%s%s" % (prefix, uuid.uuid4().hex[:16])

    def is_in(self, name):
        return os.path.exists(os.path.join(self.path, name + ".in"))

    def wait_in(self, *names, timeout=10):
        """Wait until every named request is in its wait (it has read the session)."""
        wait_until(lambda: all(self.is_in(n) for n in names), timeout, 0.01,
                   what="slow requests %s in flight" % ", ".join(names))

    def release(self, name):
        with open(os.path.join(self.path, name + ".go"), "w"):
            pass


class App:
    """tests/symfony installed under base: base/app (with lib/LampfarmSessionHandler.php) and
    base/var (cache, log, marks; owned by the FPM user)."""

    def __init__(self, base):
        self.base = base
        self.dir = os.path.join(base, "app")
        self.public = os.path.join(self.dir, "public")
        self.var = os.path.join(base, "var")
        self.marks = Marks(os.path.join(self.var, "marks"))

    def install(self):
        """tests/symfony/bin/install.sh: copy the app, add the handler (php/README.md: "copy it
        into the application"), and build the container with every cache warmed, as the FPM
        user."""
        os.makedirs(self.base, exist_ok=True)
        paths.make_traversable(self.base)      # the FPM user reaches the app and var in it
        out = subprocess.run([INSTALL, self.dir, self.var, "%s:%s" % (FPM_USER, FPM_GROUP)],
                             capture_output=True, timeout=120)
        if out.returncode != 0 or out.stderr:
            raise RuntimeError("installing the Symfony app failed (%d):\n%s%s"
                               % (out.returncode, out.stdout.decode(errors="replace"),
                                  out.stderr.decode(errors="replace")))
        self.containers_at_install = self.container_files()
        return self

    def conf(self, store, handler, front="fallback", srv_extra=""):
        """httpd configuration of one node: the app at /, sessions in store, PHP-FPM at
        handler (a SetHandler target), front "fallback" or "rewrite", srv_extra appended."""
        return SITE % {"var": self.var, "header": HEADER, "store": store, "cookie": COOKIE,
                       "public": self.public, "front": FRONT[front],
                       "handler": handler} + srv_extra

    def container_files(self):
        """The compiled container in the cache: [(file, mtime)] (one, unchanged, when no request
        rebuilt it)."""
        d = os.path.join(self.var, "cache", "prod")
        return sorted((f, os.stat(os.path.join(d, f)).st_mtime_ns) for f in os.listdir(d)
                      if re.match(r"(Container\w+|\w+Container\.php)$", f))


APACHE_MODULES = DEFAULT_APACHE_MODULES + ("session", "proxy", "proxy_fcgi", "rewrite")
HEALTH = "HealthCheck sessions session-kv interval=500ms timeout=400ms rise=1\n"


class Node:
    """One web server: PHP-FPM of its own and httpd in front of it."""

    def __init__(self, name, log_dir, app, store, mpm, workers, modules=("health", "session_kv"),
                 **conf):
        self.name = name
        self.fpm = PhpFpm(paths.sub_dir(log_dir, "php-fpm"), workers=workers)
        self.app = app
        self.store = store
        self.conf = conf
        self.httpd = Httpd(name, log_dir, mpm=mpm, modules=modules,
                           apache_modules=APACHE_MODULES)

    def start(self):
        self.fpm.start()
        self.httpd.conf = self.app.conf(self.store, self.fpm.handler, **self.conf)
        self.httpd.start()
        return self

    @property
    def port(self):
        return self.httpd.port

    def stop(self):
        try:
            self.httpd.cleanup()
        finally:
            self.fpm.stop()

    def php_errors(self):
        return self.fpm.php_errors()


class Farm:
    """Nodes "a" and "b" (each httpd + PHP-FPM) on one store, HAProxy ("lb") in front, round
    robin, both UP."""

    def __init__(self, log_dir, app, kv, mpm="event", workers=16):
        self.log_dir = log_dir
        self.app = app
        self.kv = kv
        self.mpm = mpm
        self.workers = workers
        self.nodes = {}
        self.lb = None

    def start(self):
        try:
            for name in ("a", "b"):
                node = Node(name, paths.sub_dir(self.log_dir, name), self.app, self.kv.url,
                            self.mpm, self.workers, srv_extra=HEALTH)
                self.nodes[name] = node
                node.start()
            for node in self.nodes.values():
                health.wait_ready(node.httpd, 200)
            # a connection to a node per request, as in test_066
            self.lb = HAProxy(paths.sub_dir(self.log_dir, "haproxy"),
                              [(n.name, n.port) for n in self.nodes.values()], inter="300ms",
                              fall=2, rise=1, extra_backend="    option http-server-close")
            self.lb.start()
            for name in self.nodes:
                self.lb.wait_status(name, "UP")
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def servers(self):
        """The httpd instances (for the error-log check)."""
        return [n.httpd for n in self.nodes.values()]

    def port(self, to):
        return self.lb.port if to == "lb" else self.nodes[to].port

    def stop(self):
        if self.lb is not None:
            self.lb.cleanup()
            # let httpd take HAProxy's closed connections down first (conftest's haproxy)
            time.sleep(0.3)
        for node in self.nodes.values():
            node.stop()

    def php_log_sizes(self):
        """How far each node's PHP log goes now: for php_errors_since()."""
        return {name: len(n.php_errors()) for name, n in self.nodes.items()}

    def php_errors_since(self, sizes):
        """What PHP (and Symfony's logger) logged on any node since php_log_sizes()."""
        return "".join(n.php_errors()[sizes.get(name, 0):] for name, n in self.nodes.items())


class Browser:
    """One browser: keeps the session cookie (Set-Cookie applied in the order the responses are
    taken), talks to a node ("a", "b") or to HAProxy ("lb")."""

    def __init__(self, farm, to="lb"):
        self.farm = farm
        self.to = to
        self.sid = None
        self.seen = []      # every session id it was given, in order

    def request(self, method, path, to=None, form=None, take=True, timeout=10):
        headers = {}
        if self.sid:
            headers["Cookie"] = "%s=%s" % (COOKIE, self.sid)
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        r = request(self.farm.port(to or self.to), method, path, headers=headers, body=body,
                    timeout=timeout)
        if take:
            self.take(r)
        return r

    def take(self, r):
        """Apply the response's session Set-Cookie (if any)."""
        for c in session_cookies(r):
            value = c.split("=", 1)[1].split(";", 1)[0]
            self.sid = value if value and "max-age=0" not in c.lower() else None
            if self.sid:
                self.seen.append(self.sid)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form=None, **kw):
        return self.request("POST", path, form=form or {}, **kw)

    def csrf_token(self, to=None):
        """GET /login: the form's CSRF token (the token is now in the session)."""
        r = self.get("/login", to=to)
        assert r.status == 200, r
        m = re.search(r'name="_csrf_token" value="([^"]+)"', r.text)
        assert m, r.text
        return m.group(1)

    def login(self, user, to=None, form_to=None):
        """The login form (on form_to), then POST /login (on to): the POST's response."""
        token = self.csrf_token(form_to or to)
        r = self.post("/login", {"_username": user, "_csrf_token": token}, to=to)
        assert r.status == 200 and r.json()["user"] == user, r
        return r

    def me(self, to=None, query="", **kw):
        r = self.get("/me" + ("?" + query if query else ""), to=to, **kw)
        assert r.status == 200, r
        return r.json()


def session_cookies(r):
    return set_cookies(r, COOKIE)


def query(**kw):
    return urllib.parse.urlencode(kw)


# --- what the store holds ---------------------------------------------------------------------

def _recv_exact(s, n, buf):
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


def _redis_get(port, key):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key.encode()))
        buf = b""
        while b"\r\n" not in buf:
            buf = _recv_exact(s, len(buf) + 1, buf)
        head, _, rest = buf.partition(b"\r\n")
        n = int(head[1:])
        if n < 0:
            return None
        return _recv_exact(s, n + 2, rest)[:n]


def _memcached_get(port, key):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"get %s\r\n" % key.encode())
        buf = b""
        while b"\r\n" not in buf:
            buf = _recv_exact(s, len(buf) + 1, buf)
        head, _, rest = buf.partition(b"\r\n")
        if head == b"END":
            return None
        n = int(head.split()[3])
        return _recv_exact(s, n + 2, rest)[:n]


def flush(kv):
    """Empty the store."""
    if kv.kind == "redis":
        assert kv.server.command("FLUSHALL") == b"+OK\r\n"
        return
    with socket.create_connection(("127.0.0.1", kv.server.port), timeout=2) as s:
        s.sendall(b"flush_all\r\n")
        assert _recv_exact(s, 4, b"") == b"OK\r\n"


def stored_session(kv, key):
    """The mod_session pairs held under backend key (values decoded; the handler's b64: values
    too), or None when the key holds nothing. See modules/session_kv/skv_envelope.h."""
    get = _redis_get if kv.kind == "redis" else _memcached_get
    raw = get(kv.server.port, key)
    if raw is None:
        return None
    assert raw[:3] == b"SK\x01" and raw[3] & 1 == 0, raw[:32]
    user_len = int.from_bytes(raw[20:22], "big")
    text = raw[22 + user_len:].decode("utf-8", "replace")
    pairs = {}
    for pair in text.split("&"):
        if "=" in pair:
            k, v = pair.split("=", 1)
            v = urllib.parse.unquote_plus(v)
            if v.startswith("b64:"):
                v = base64.b64decode(v[4:]).decode("utf-8", "replace")
            pairs[urllib.parse.unquote_plus(k)] = v
    return pairs


def keys(kv, sids=()):
    """The store's keys, and those of the session ids sids that hold something. memcached
    lists its keys with the LRU crawler (lru_crawler metadump), which can miss an entry written
    a moment ago: the sessions a test knows of are looked up by key as well."""
    found = set(kv.keys()) if kv.kind == "redis" else set(_memcached_keys(kv))
    found.update(k for k in map(key_of, filter(None, sids)) if stored_session(kv, k) is not None)
    return sorted(found)


def _memcached_keys(kv, timeout=5):
    end = time.monotonic() + timeout
    while True:
        out = kv.server.command(b"lru_crawler metadump all\r\n").decode()
        if not out.startswith("BUSY") or time.monotonic() > end:   # a crawl of its own runs
            break
        time.sleep(0.01)
    assert out.endswith("END\r\n"), out
    return [urllib.parse.unquote(line.split()[0][4:]) for line in out.splitlines()
            if line.startswith("key=")]


def stored_sessions(kv, sids=()):
    """{backend key: pairs} of every session in the store (see keys())."""
    out = {}
    for key in keys(kv, sids):
        s = stored_session(kv, key)
        if s is not None:
            out[key] = s
    return out


def holding(kv, text, sids=()):
    """Backend keys whose session mentions text (a user name, say); see keys() for sids."""
    return sorted(k for k, s in stored_sessions(kv, sids).items()
                  if any(text in k2 or text in v for k2, v in s.items()))


def key_of(sid):
    return backend_key(sid)
