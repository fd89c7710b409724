"""Fixtures of the integration suite: real httpd and real backends on 127.0.0.1.

Every server is started on a free port, logs into build/test-logs/<test>/ and is stopped by PID
when the test ends, also when it fails. After a test that used httpd, its error log is scanned:
lines at [warn] or worse, or a child that exited on a signal, fail the test unless the test
declared them (marker `@pytest.mark.expect_log("LF04010", ...)` or `httpd.expect_log(...)`), and
a declared line that never appeared fails it too (`allow_log` declares a line that may appear).
See docs/testing.md.
"""
import os
import shutil
import signal
import sys
import tempfile
import time
import types

import pytest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))

from harness import paths  # noqa: E402
from harness.backends import (HAProxy, HangServer, MariaDB, Memcached, Redis,  # noqa: E402
                              mariadb_install_template)
from harness.errorlog import LogFile  # noqa: E402
from harness.httpd import Httpd, config_test, selected_mpms  # noqa: E402
from harness.moto import Moto  # noqa: E402
from harness.session import KV  # noqa: E402

DEFAULT_TIMEOUT = float(os.environ.get("LAMPFARM_TEST_TIMEOUT", "120"))


def pytest_collection_modifyitems(config, items):
    """A test marked one_mpm runs under the first selected MPM only: what it checks is decided
    outside the MPM (in the store, in the backend, in libcurl's timeouts), and running it twice
    costs suite time (make test stays under about 12 minutes)."""
    first = selected_mpms()[0]
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        mpm = callspec.params.get("mpm") if callspec else None
        if mpm and mpm != first and item.get_closest_marker("one_mpm"):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _test_dir_name(node):
    mod = os.path.splitext(os.path.basename(str(node.fspath)))[0]
    return "%s.%s" % (mod, node.name)


# --- per-test timeout (pytest-timeout is not installed) --------------------------------------

class TimeLimitExceeded(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    m = item.get_closest_marker("timeout")
    seconds = float(m.args[0]) if m else DEFAULT_TIMEOUT

    def on_alarm(signum, frame):
        raise TimeLimitExceeded("test exceeded its timeout of %.0fs" % seconds)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        outcome = yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    item._lf_call_failed = outcome.excinfo is not None
    # error log check while the servers still run (a failure here fails the test itself)
    if outcome.excinfo is None:
        bad = _bad_log_lines(item)
        if bad:
            pytest.fail(_format_bad(bad), pytrace=False)
        if getattr(item, "_lf_httpd_factory", None) is None:
            # servers shared by a module: no teardown of ours follows, check now
            _fail_on_missing(item)


def _declared(item, server=None):
    """(required, allowed): the log lines the test declared, by the markers expect_log (must
    appear) and allow_log (may appear), on the httpd factory and on server."""
    req, allow = set(), set()
    for m in item.iter_markers("expect_log"):
        req.update(m.args)
    for m in item.iter_markers("allow_log"):
        allow.update(m.args)
    fac = getattr(item, "_lf_httpd_factory", None)
    for d in ([fac] if fac is not None else []) + ([server] if server is not None else []):
        req.update(d.expected_logs)
        allow.update(d.allowed_logs)
    return req, allow


def _matched(item):
    """The declarations that forgave a line of this test (a set kept on the item)."""
    if not hasattr(item, "_lf_logs_matched"):
        item._lf_logs_matched = set()
    return item._lf_logs_matched


def _bad_log_lines(item):
    out = []
    for srv in getattr(item, "_lf_httpds", []):
        req, allow = _declared(item, srv)
        mine = []
        for lf in _server_logs(srv):
            mine += ["%s: %s" % (srv.name, line)
                     for line in lf.bad_lines(req | allow, matched=_matched(item))]
        if mine and os.path.isdir(srv.core_dir) and os.listdir(srv.core_dir):
            mine.append("%s: core dumps in %s (gdb %s <core>)" % (srv.name, srv.core_dir,
                                                                 paths.APACHE2))
        out += mine
    return out


def _fail_on_missing(item):
    """Fail the test if a line it declared with expect_log appeared in none of its servers'
    logs: a declaration that never happens would forgive a line the test does not provoke."""
    req = set()
    for srv in getattr(item, "_lf_httpds", []):
        req |= _declared(item, srv)[0]
    missing = sorted(req - _matched(item))
    if missing:
        pytest.fail("declared with expect_log, but in no error log of the test: %s (make the "
                    "declaration exact, remove it, or use allow_log with a reason if the line "
                    "appears only sometimes)" % ", ".join(missing), pytrace=False)


def _server_logs(srv):
    # the error log, plus what httpd wrote to stderr before its error log was open
    if not hasattr(srv, "_lf_stderr_log"):
        srv._lf_stderr_log = LogFile(os.path.join(srv.log_dir, "httpd.stderr"))
    return [srv.error_log, srv._lf_stderr_log]


def _format_bad(bad):
    return ("unexpected lines in the httpd error log (declare them with "
            "@pytest.mark.expect_log(<log id>) if the test provokes them):\n  "
            + "\n  ".join(bad))


# --- basic fixtures ------------------------------------------------------------------------

@pytest.fixture(params=selected_mpms())
def mpm(request):
    """The MPM httpd runs with; every test that uses `httpd` runs under each."""
    return request.param


@pytest.fixture
def logs(request):
    """build/test-logs/<test file>.<test name>/ (emptied first, kept afterwards)."""
    return paths.log_dir(_test_dir_name(request.node))


_sub_log_dir = paths.sub_dir


class HttpdFactory:
    """Creates httpd instances for one test. new() = configured, not started; start() = both."""

    def __init__(self, request, logs, mpm):
        self.request = request
        self.logs = logs
        self.mpm = mpm
        self.servers = []
        self.expected_logs = set()
        self.allowed_logs = set()
        request.node._lf_httpd_factory = self
        request.node._lf_httpds = self.servers

    def new(self, conf="", name="httpd", **kw):
        kw.setdefault("mpm", self.mpm)
        log_dir = self.logs if not self.servers and name == "httpd" else \
            _sub_log_dir(self.logs, name)
        h = Httpd(name, log_dir, conf=conf, **kw)
        self.servers.append(h)
        return h

    def start(self, conf="", name="httpd", **kw):
        return self.new(conf, name, **kw).start()

    def config_test(self, conf, **kw):
        """`apache2 -t` on a full configuration around conf: (exit code, output)."""
        kw.setdefault("mpm", self.mpm)
        d = _sub_log_dir(self.logs, "config-test")
        return config_test(conf, d, **kw)

    def expect_log(self, *strings):
        """Declare lines (log ids, or text) that must appear in the logs of this test's servers."""
        self.expected_logs.update(strings)

    def allow_log(self, *strings):
        """Declare lines that may appear (the test cannot make them certain: say why)."""
        self.allowed_logs.update(strings)

    def stop_all(self):
        for h in self.servers:
            try:
                h.cleanup()
            except Exception as e:  # noqa: BLE001 - stop the others anyway
                print("stopping %s failed: %s" % (h.name, e), file=sys.stderr)


@pytest.fixture
def httpd(request, logs, mpm):
    """Factory of httpd servers (event and prefork: the test runs once under each).

        srv = httpd.start('HealthCheck db tcp 127.0.0.1:3306')
        assert srv.get('/health/ready').status == 200
    """
    fac = HttpdFactory(request, logs, mpm)
    yield fac
    fac.stop_all()
    # lines written while stopping (a child crashing on shutdown, ...) fail at teardown; when
    # the test failed already, they are only shown with its report
    bad = _bad_log_lines(request.node)
    if getattr(request.node, "_lf_call_failed", True):
        # failed (or never ran): lines are only shown with its report, none is missing
        if bad:
            print(_format_bad(bad), file=sys.stderr)
    elif bad:
        pytest.fail(_format_bad(bad), pytrace=False)
    else:
        _fail_on_missing(request.node)


@pytest.fixture
def memcached(logs):
    s = Memcached(_sub_log_dir(logs, "memcached")).start()
    yield s
    s.stop()


@pytest.fixture
def redis(logs):
    s = Redis(_sub_log_dir(logs, "redis")).start()
    yield s
    s.stop()


@pytest.fixture(params=["memcached", "redis"])
def kv(request, logs):
    """A session backend for mod_session_kv, once memcached and once redis."""
    cls = Memcached if request.param == "memcached" else Redis
    server = cls(_sub_log_dir(logs, request.param)).start()
    yield KV(request.param, server)
    server.stop()


@pytest.fixture(scope="session")
def session_logs():
    # one per pytest-xdist worker: each has its own session servers (moto, ...)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return paths.log_dir("_session" + ("-" + worker if worker else ""))


@pytest.fixture(scope="session")
def mariadb_template(session_logs):
    """A data directory made once by mariadb-install-db; each MariaDB instance copies it."""
    tmp = tempfile.mkdtemp(prefix="lf-mariadb-tmpl-")
    yield mariadb_install_template(os.path.join(tmp, "data"), session_logs)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def mariadb(logs, mariadb_template):
    """A MariaDB server of its own for the test (stop()/start() keep port and data)."""
    s = MariaDB(_sub_log_dir(logs, "mariadb"), mariadb_template).start()
    yield s
    s.cleanup()


@pytest.fixture
def haproxy(logs):
    """Factory: haproxy([("a", port_a), ("b", port_b)], inter="1s", fall=2, rise=2)."""
    started = []

    def make(servers, **kw):
        h = HAProxy(_sub_log_dir(logs, "haproxy"), servers, **kw).start()
        started.append(h)
        return h

    yield make
    for h in started:
        h.cleanup()
    if started:
        # HAProxy closed its keep-alive connections to the httpd nodes just now; let httpd
        # take them down before it is stopped (see QUIET_BEFORE_STOP in harness/httpd.py)
        time.sleep(0.3)


@pytest.fixture(scope="session")
def moto(session_logs):
    """moto server with SigV4 checking on: .endpoint, .access_key, .secret_key."""
    m = Moto(_sub_log_dir(session_logs, "moto")).start()
    yield m
    m.stop()


@pytest.fixture(scope="session")
def botocore_signer(session_logs):
    """botocore's SigV4 query signer in the interpreter that has botocore (harness/iamfront.py
    BotocoreSigner): .token(user, cache, region, time, access_key, secret_key, session_token=,
    serverless=) makes an ElastiCache IAM token as AWS's own Python code does."""
    from harness.iamfront import BotocoreSigner
    s = BotocoreSigner(_sub_log_dir(session_logs, "botocore-signer")).start()
    yield s
    s.stop()


@pytest.fixture
def iamfront(redis, logs, botocore_signer):
    """Factory of ElastiCache IAM stand-ins in front of the test's redis (harness/iamfront.py):
    iamfront(cache=, region=, serverless=, credentials=[{access_key, secret_key[,
    session_token]}], users=, clock=, max_auth_age=) -> IamFront with .target, .auths,
    .connections, .dropped(), .verify(user, token)."""
    from harness.iamfront import IamFront
    started = []

    def make(**kw):
        f = IamFront(redis.port, _sub_log_dir(logs, "iamfront"), botocore_signer, **kw).start()
        started.append(f)
        return f

    yield make
    for f in started:
        f.stop()


@pytest.fixture(scope="session")
def moto_tls(moto, session_logs):
    """The session's moto behind HAProxy terminating TLS (harness/backends.TlsFront), with a
    certificate from a test CA that nothing trusts unless told to: .endpoint
    (https://127.0.0.1:port), .ca (the CA file, for S3CAFile / CloudWatchCAFile), .ca_dir (for
    tls.make_cert: more certificates from the same CA), .front (.relayed()), .moto."""
    from harness.backends import TlsFront
    from harness.tls import make_test_ca
    d = _sub_log_dir(session_logs, "moto-tls")
    ca, crt, key = make_test_ca(d)
    front = TlsFront(d, moto.port, crt, key).start()
    yield types.SimpleNamespace(endpoint=front.endpoint, ca=ca, ca_dir=d, front=front, moto=moto)
    front.stop()


@pytest.fixture
def hang_server():
    """A TCP listener that accepts connections and never answers."""
    s = HangServer().start()
    yield s
    s.stop()


@pytest.fixture
def tls_server(logs):
    """An HTTPS endpoint (harness/tls.py TLSServer) with a certificate from its own test CA:
    .url, .ca (the CA file), .accepted, .handshakes, .failures, .requests."""
    from harness.tls import TLSServer
    s = TLSServer(_sub_log_dir(logs, "tls")).start()
    yield s
    s.stop()


# --- S3 stand-ins: fault proxy, IMDS, browser --------------------------------------------------

@pytest.fixture
def faultproxy(moto):
    """A fault-injecting proxy in front of the session's moto (harness/faultproxy.py):
    .endpoint, .add_rule(method, path_regex, action=..., count=...), .clear(), .requests,
    .count(method, path_regex), .wait_for(...)."""
    from harness.faultproxy import FaultProxy
    p = FaultProxy(moto.port).start()
    yield p
    p.stop()


@pytest.fixture
def imds(moto):
    """An IMDSv2 stand-in (harness/imds.py) handing out three sets of STS temporary credentials
    that moto accepts: .endpoint, .rotate(), .current, .requests, .count(path)."""
    from harness.imds import Imds
    s = Imds(moto.assume_role_credentials(3)).start()
    yield s
    s.stop()


@pytest.fixture
def browser(logs):
    """Headless Chromium over WebDriver (harness/browser.py); always quit, chromedriver and
    Chromium stopped by PID."""
    from harness.browser import Browser
    b = Browser(_sub_log_dir(logs, "browser"))
    try:
        b.start()
        yield b
    finally:
        b.quit()


@pytest.fixture
def bucket(moto, request):
    """A fresh bucket in the session's moto, named after the test module; deleted with its
    objects and uploads afterwards."""
    topic = request.module.__name__.split("_", 2)[-1].replace("_", "-")[:20]
    b = moto.s3.new_bucket("lf-" + topic)
    yield b
    moto.s3.delete_bucket(b)


@pytest.fixture
def php_fpm(logs):
    """php-fpm (harness/php.py) with one pool on 127.0.0.1:.port, workers as nobody; .handler is
    the `SetHandler` target for mod_proxy_fcgi. Stopped by PID."""
    from harness.php import PhpFpm
    s = PhpFpm(_sub_log_dir(logs, "php-fpm")).start()
    yield s
    s.stop()
