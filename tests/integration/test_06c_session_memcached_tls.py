"""mod_session_kv over memcacheds:// (memcached's meta protocol over TLS, what ElastiCache
Serverless for Memcached speaks) to a real memcached 1.6 started with -Z and a certificate from
the harness's test CA (SessionKVCAFile trusts that CA): sessions are stored and read, parallel
writers merge (ms with C<cas>), an active session is kept alive by touches (mg with T) and its
remaining TTL read back (mg's t flag: no "#t" expiry marker is written), a value the server
refuses as too large fails with a clear line, a stopped server gives the failure policy and
heals when it is back, kept connections closed by a restart are replaced before anything is
sent into them, a certificate from another CA gives the failure policy at once with a log line
that says why, and mod_health's session-kv check pings it (version, mn).

memcached also listens on a plain port ("notls:" listener), through which the tests read back
what the module wrote over TLS."""
import concurrent.futures
import time

import pytest

from harness import paths, session
from harness.backends import Memcached
from harness.health import check, wait_check
from harness.tls import make_test_cas

# the name in memcached's certificate (with IP:127.0.0.1)
CERT_HOST = "memcached.test"


@pytest.fixture(scope="module")
def ca():
    """(ca, crt, key) for memcached, and the CA file of another CA."""
    return make_test_cas(paths.log_dir("_session-memcached-tls"), CERT_HOST)


@pytest.fixture
def mc_tls(logs, ca):
    s = Memcached(paths.sub_dir(logs, "memcached-tls"), tls=ca[0]).start()
    yield s
    s.stop()


def store(mc):
    return "memcacheds://127.0.0.1:%d" % mc.tls_port


def ca_conf(ca_file, extra=""):
    return 'SessionKVCAFile "%s"\n%s' % (ca_file, extra)


def meta(mc, line):
    """One meta command over the plain port, its reply line(s)."""
    return mc.command(line.encode() + b"\r\nquit\r\n").decode()


def test_sessions_over_tls(httpd, logs, mpm, ca, mc_tls):
    srv = session.start(httpd, logs, mpm, store(mc_tls),
                        srv=ca_conf(ca[0][0], "LogLevel session_kv:trace1"))
    c = session.Client(srv)
    c.app(set="user:alice")
    assert c.app() == {"user": "alice"}
    kv = session.KV("memcached", mc_tls)                 # reads over the plain port
    assert kv.holds(c.sid)
    assert c.sid.encode() not in kv.raw(c.sid)
    c.app(set="user:bob")
    assert c.app() == {"user": "bob"}
    # no expiry marker beside the key: the meta protocol reports the remaining TTL itself
    assert not meta(mc_tls, "mg %s#t v" % session.backend_key(c.sid)).startswith("VA")
    connected = [line for line in srv.error_log.lines() if "LF01940" in line]
    assert connected and all("connected (TLSv1." in line for line in connected), connected
    r = c.get("/app/app.cgi?" + session.query(clear=1))
    assert r.status == 200
    assert not kv.holds(c.sid or "x")


@pytest.mark.one_mpm  # ms with C<cas> over TLS, whatever the MPM
def test_parallel_writers_merge_over_tls(httpd, logs, mpm, ca, mc_tls):
    srv = session.start(httpd, logs, mpm, store(mc_tls),
                        srv=ca_conf(ca[0][0], "SessionKVTouchInterval 0"))
    c = session.Client(srv)
    c.app(set="base:1")

    def one(i):
        return c.get("/app/app.cgi?" + session.query(set="k%d:%d" % (i, i), sleep=200),
                     timeout=20).status
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        assert list(pool.map(one, range(10))) == [200] * 10
    assert c.app() == dict({"base": "1"}, **{"k%d" % i: str(i) for i in range(10)})
    counters = session.status_counters(srv)
    assert counters["Conflicts"] > 0 and counters["Merges"] > 0


@pytest.mark.one_mpm  # the store and memcached keep the time, whatever the MPM
def test_touch_keeps_the_session_and_the_ttl_is_read_back(httpd, logs, mpm, ca, mc_tls):
    srv = session.start(httpd, logs, mpm, store(mc_tls),
                        srv=ca_conf(ca[0][0], "SessionKVIdleTimeout 2s\n"
                                              "SessionKVTouchInterval 1s"))
    c = session.Client(srv)
    c.app(set="user:alice")
    key = session.backend_key(c.sid)
    ttl = int(meta(mc_tls, "mg %s t" % key).split()[1][1:])
    assert 1 <= ttl <= 2
    sets = int(session.memcached_stats(mc_tls)["cmd_set"])
    start = time.monotonic()
    while time.monotonic() - start < 3.5:                # well past the idle timeout
        assert c.app() == {"user": "alice"}
        time.sleep(0.25)
    counters = session.status_counters(srv)
    assert counters["Touches"] >= 2 and counters["Writes"] == 1
    assert int(session.memcached_stats(mc_tls)["cmd_set"]) == sets     # touched, not rewritten
    assert 1 <= int(meta(mc_tls, "mg %s t" % key).split()[1][1:]) <= 2


@pytest.mark.one_mpm  # the driver's reading of an error reply, whatever the MPM
@pytest.mark.expect_log("LF01001")
def test_value_refused_by_the_server(httpd, logs, mpm, ca):
    """A value over memcached's largest item (-I): the write fails with a line that says so (the
    store's own SessionKVMaxSize check is test_062's), and the connection serves the next
    request. memcached itself drops the item a too large write was to replace (with set and ms
    alike: its "avoid stale data" rule), so that session is gone: SessionKVMaxSize must stay
    below the server's largest item."""
    # items of at most 4 KiB (slab_chunk_max, in bytes, must not exceed it)
    mc = Memcached(paths.sub_dir(logs, "memcached-small"), tls=ca[0],
                   extra_args=["-I", "4k", "-o", "slab_chunk_max=2048"]).start()
    try:
        srv = session.start(httpd, logs, mpm, store(mc), srv=ca_conf(ca[0][0]))
        c = session.Client(srv)
        c.app(set="user:alice")
        r = c.get("/app/app.cgi?" + session.query(big=6000))
        assert r.status == 200
        line = srv.error_log.wait_for("LF01001")
        assert "object too large" in line, line
        assert c.app() == {}                             # memcached dropped the old item
        c = session.Client(srv)
        c.app(set="user:bob")
        assert c.app() == {"user": "bob"}
    finally:
        mc.stop()


@pytest.mark.one_mpm  # the driver's reconnect, whatever the MPM
@pytest.mark.expect_log("LF01001", "LF01005")
def test_server_stopped_and_back(httpd, logs, mpm, ca, mc_tls):
    srv = session.start(httpd, logs, mpm, store(mc_tls),
                        srv=ca_conf(ca[0][0], "SessionKVRetryInterval 1s"))
    c = session.Client(srv)
    c.app(set="user:alice")
    mc_tls.stop()
    r = c.get("/app/app.cgi?" + session.query(set="user:mallory"))
    assert r.status == 200
    assert r.json()["session"] == {}
    assert session.set_cookies(r) == []                  # the cookie is kept
    assert "session load failed" in srv.error_log.wait_for("LF01001")
    mc_tls.start()                                       # empty: memcached keeps nothing
    c = session.Client(srv)
    session.wait(lambda: c.get("/app/app.cgi?" + session.query(set="user:bob")).status == 200
                 and c.app() == {"user": "bob"}, timeout=10, interval=0.2)


@pytest.mark.one_mpm  # the driver's reading of a handshake, whatever the MPM
@pytest.mark.expect_log("LF01001")
def test_another_ca_gets_the_failure_policy(httpd, logs, mpm, ca, mc_tls):
    srv = session.start(httpd, logs, mpm, store(mc_tls), srv=ca_conf(ca[1]))
    c = session.Client(srv)
    for _ in range(2):
        t = time.monotonic()
        r = c.get("/app/app.cgi?" + session.query(set="user:mallory"))
        assert r.status == 200
    assert time.monotonic() - t < 1.0                    # the second one: at once
    line = srv.error_log.wait_for("LF01001")
    assert "certificate verify failed" in line and "memcached 127.0.0.1:%d" % mc_tls.tls_port \
        in line, line
    assert session.KV("memcached", mc_tls).keys() == []


@pytest.mark.one_mpm  # the driver's ping, whatever the MPM
@pytest.mark.expect_log("LF04010")
def test_health_check_over_tls(httpd, logs, mpm, ca, mc_tls):
    """mod_health's session-kv check: version and mn over TLS; down when memcached stops."""
    conf = session.conf(logs, store(mc_tls), srv=ca_conf(ca[0][0], "SessionKVRetryInterval 1s")) \
        + "HealthCheck sessions session-kv interval=300ms timeout=300ms\n"
    srv = httpd.start(conf, modules=("session_kv", "health"),
                      apache_modules=session.apache_modules(mpm))
    wait_check(srv, "sessions", "up")            # up: VERSION and MN read over TLS
    mc_tls.stop()
    assert check(wait_check(srv, "sessions", "down"), "sessions")["error"]
    mc_tls.start()
    wait_check(srv, "sessions", "up")



@pytest.mark.one_mpm  # the driver's reconnect, whatever the MPM
def test_kept_connections_closed_by_a_restart(httpd, logs, mpm, ca, mc_tls):
    """memcached restarts between two requests: the kept connections are found closed before
    anything is sent into them (lf_conn_idle_alive), a new one is made, and the requests are
    served at once, with nothing in the error log."""
    srv = session.start(httpd, logs, mpm, store(mc_tls),
                        srv=ca_conf(ca[0][0], "LogLevel session_kv:trace1"))
    c = session.Client(srv)
    for i in range(4):                                   # a kept connection in each child
        c.app(set="n:%d" % i)
    seen = len([line for line in srv.error_log.lines() if "LF01940" in line])
    mc_tls.restart()                                     # empty: memcached keeps nothing
    for i in range(4):
        c = session.Client(srv)
        c.app(set="user:bob%d" % i)                      # add: never sent twice
        assert c.app() == {"user": "bob%d" % i}
    assert len([line for line in srv.error_log.lines() if "LF01940" in line]) > seen
