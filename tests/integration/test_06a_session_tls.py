"""mod_session_kv over TLS (rediss://) to a real redis-server 7 listening with --tls-port and a
certificate from the harness's test CA (SessionKVCAFile trusts that CA): sessions are stored and
read as over plain TCP, parallel writers merge (the compare-and-set script), connections are
kept (redis counts no new connection per request), an ACL user authenticates over TLS, a restart
and a replica promotion heal as over TCP, and a reconnect after redis closed an idle connection
resumes the TLS session (the module's trace says so). A certificate that does not verify
(another CA, another name), a port that does not speak TLS and a handshake that never finishes
each give the failure policy at once, a log line that says why, and leave the stored session as
it was.

The redis servers also listen on a plain port, through which the tests read back what the
module wrote over TLS."""
import concurrent.futures
import os
import time

import pytest

from harness import paths, session
from harness.backends import HangServer, Redis
from harness.tls import make_test_cas

# the name in redis's certificate (with IP:127.0.0.1); "localhost" is not in it
CERT_HOST = "redis.test"


@pytest.fixture(scope="module")
def ca():
    """(ca, crt, key) for redis, and the CA file of another CA."""
    return make_test_cas(paths.log_dir("_session-redis-tls"), CERT_HOST)


@pytest.fixture
def redis_tls(logs, ca):
    s = Redis(paths.sub_dir(logs, "redis-tls"), tls=ca[0]).start()
    yield s
    s.stop()


def store(r, host="127.0.0.1", user=""):
    return "rediss://%s%s:%d" % (user, host, r.tls_port)


def ca_conf(ca_file, extra=""):
    return 'SessionKVCAFile "%s"\n%s' % (ca_file, extra)


def info_field(r, section, name):
    """A number of redis's INFO, read over the plain port."""
    info = session.redis_cli(r.port, "INFO", section)
    return int(info.split(name + ":")[1].split()[0])


def connects(srv):
    """The pids of the module's connects to redis, one per connect, from its trace (LF01920)."""
    return [line.split("[pid ")[1].split(":")[0] for line in srv.error_log.lines()
            if "LF01920" in line]


def test_sessions_over_tls(httpd, logs, mpm, ca, redis_tls):
    srv = session.start(httpd, logs, mpm, store(redis_tls),
                        srv=ca_conf(ca[0][0], "LogLevel session_kv:trace1"))
    c = session.Client(srv)
    c.app(set="user:alice")
    assert c.app() == {"user": "alice"}
    assert session.KV("redis", redis_tls).exists(c.sid)    # read back over the plain port
    # connections are kept: over 60 requests, each a read and a write, redis sees one connect
    # per child process that had none yet (prefork starts more as it goes), and no other
    for i in range(30):
        c.app(set="n:%d" % i)
    before, pids = info_field(redis_tls, "stats", "total_connections_received"), connects(srv)
    for i in range(30):
        c.app(set="m:%d" % i)
    assert c.app()["m"] == "29"
    after, new = info_field(redis_tls, "stats", "total_connections_received"), connects(srv)
    assert after - before == 1 + len(new) - len(pids)      # 1: the redis-cli asking
    assert len(set(new)) == len(new)                       # no child connected twice

    
@pytest.mark.one_mpm  # the compare-and-set script over TLS, whatever the MPM
def test_parallel_writers_merge_over_tls(httpd, logs, mpm, ca, redis_tls):
    """Ten parallel requests of one session, each setting its own key: the writes are
    compare-and-set (the Lua script, EVALSHA) over TLS, conflicts merge, no key is lost."""
    srv = session.start(httpd, logs, mpm, store(redis_tls),
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
    assert session.redis_commandstats(redis_tls.port).get("evalsha", 0) > 0


@pytest.mark.one_mpm  # AUTH's bytes over TLS, whatever the MPM
def test_acl_user_over_tls(httpd, logs, mpm, ca, redis_tls):
    session.redis_cli(redis_tls.port, "ACL", "SETUSER", "app", "on", ">s3cret-tls", "~skv:*",
                      "+@all")
    pw = os.path.join(logs, "redis-password")
    with open(pw, "w") as f:
        f.write("s3cret-tls\n")
    srv = session.start(httpd, logs, mpm, store(redis_tls, user="app@"),
                        srv=ca_conf(ca[0][0], 'SessionKVPassword "file:%s"' % pw))
    c = session.Client(srv)
    c.app(set="user:alice")
    assert c.app() == {"user": "alice"}
    assert session.redis_cli(redis_tls.port, "ACL", "LOG") == ""      # no failed AUTH
    assert session.redis_commandstats(redis_tls.port).get("auth", 0) >= 1
    assert "s3cret-tls" not in "".join(srv.error_log.lines())


@pytest.mark.one_mpm  # the driver's reading of a handshake, whatever the MPM
@pytest.mark.expect_log("LF01001", "LF01005", "LF01012")
def test_refused_servers_get_the_failure_policy(httpd, logs, mpm, ca, redis_tls, hang_server):
    """Each bad server: the request is served with an empty session (policy open), the cookie
    is kept, LF01001 says why, and the session stored in redis is unchanged."""
    good = session.start(httpd, logs, mpm, store(redis_tls), srv=ca_conf(ca[0][0]), name="good")
    c = session.Client(good)
    c.app(set="user:alice")
    key = session.backend_key(c.sid)
    stored = session.redis_cli(redis_tls.port, "GET", key)
    assert stored
    cases = [
        ("other-ca", store(redis_tls), ca[1],
         "certificate verify failed (self-signed certificate in certificate chain)"),
        ("other-name", store(redis_tls, host="localhost"), ca[0][0],
         "certificate verify failed (hostname mismatch)"),
        ("plain-port", "rediss://127.0.0.1:%d" % redis_tls.port, ca[0][0], "TLS handshake: "),
        ("stalled", "rediss://%s" % hang_server.target, ca[0][0], "TLS handshake: timed out"),
    ]
    for name, url, ca_file, reason in cases:
        srv = session.start(httpd, logs, mpm, url, srv=ca_conf(ca_file), name=name)
        bad = session.Client(srv)
        bad.sid = c.sid
        for _ in range(2):
            t = time.monotonic()
            r = bad.get("/app/app.cgi?" + session.query(set="user:mallory"))
            assert r.status == 200, name
            assert r.json()["session"] == {}, name
            assert session.set_cookies(r) == [], name              # the cookie is kept
        assert time.monotonic() - t < 1.0, name    # the second one: at once
        line = srv.error_log.wait_for("LF01001")
        assert reason in line, (name, line)
        assert session.redis_cli(redis_tls.port, "GET", key) == stored, name
        srv.stop()
    assert good.alive()


@pytest.mark.one_mpm  # the driver's reconnect, whatever the MPM
# a request may meet the promotion or the restart (a cut connection, READONLY again on the
# retry): the test lets a few writes fail, so their lines may appear
@pytest.mark.allow_log("LF01001", "LF01005")
def test_restart_and_promotion_over_tls(httpd, logs, mpm, ca):
    a = Redis(paths.sub_dir(logs, "redis-a"), tls=ca[0]).start()
    b = Redis(paths.sub_dir(logs, "redis-b"), tls=ca[0]).start()
    proxy = None
    try:
        # the replica follows the primary over TLS too (--tls-replication)
        session.redis_cli(b.port, "REPLICAOF", "127.0.0.1", a.tls_port)
        session.wait(lambda: "master_link_status:up" in session.redis_cli(b.port, "INFO",
                                                                          "replication"))
        proxy = session.RedisPrimaryProxy(paths.sub_dir(logs, "haproxy"),
                                          [("a", a.tls_port, a.port), ("b", b.tls_port, b.port)])
        proxy.start()
        proxy.wait_status("a", "UP")
        proxy.wait_status("b", "DOWN")
        srv = session.start(httpd, logs, mpm, "rediss://127.0.0.1:%d" % proxy.port,
                            srv=ca_conf(ca[0][0]))
        c = session.Client(srv)
        c.app(set="user:alice")
        session.wait(lambda: session.redis_cli(b.port, "EXISTS",
                                               session.backend_key(c.sid)) == "1")
        # promotion: b becomes the primary, a follows it
        session.redis_cli(b.port, "REPLICAOF", "NO", "ONE")
        session.redis_cli(a.port, "REPLICAOF", "127.0.0.1", b.tls_port)
        proxy.wait_status("b", "UP")
        proxy.wait_status("a", "DOWN")
        ok = 0
        for i in range(20):
            assert c.get("/app/app.cgi?" + session.query(set="step:%d" % i)).status == 200
            ok = ok + 1 if c.app().get("step") == str(i) else 0
            if ok >= 3:
                break
        assert ok >= 3, "writes did not recover after the promotion"
        assert c.app()["user"] == "alice"
        # a restart of the primary (no persistence: the data goes, the connections die)
        b.restart()
        proxy.wait_status("b", "UP")
        c = session.Client(srv)
        session.wait(lambda: c.get("/app/app.cgi?" + session.query(set="user:bob")).status == 200
                     and c.app() == {"user": "bob"}, timeout=10, interval=0.2)
        assert session.redis_cli(b.port, "EXISTS", session.backend_key(c.sid)) == "1"
    finally:
        if proxy:
            proxy.stop()
        a.stop()
        b.stop()


@pytest.mark.one_mpm  # TLS session resumption, whatever the MPM
def test_reconnect_resumes_the_tls_session(httpd, logs, mpm, ca, redis_tls):
    """redis closes connections idle for a second (timeout 1); a child process that connected
    before finds its connection closed, connects again, and the handshake resumes the session
    of the first (sessions are kept per child process)."""
    srv = session.start(httpd, logs, mpm, store(redis_tls),
                        srv=ca_conf(ca[0][0], "LogLevel session_kv:trace1"))
    c = session.Client(srv)
    for i in range(4):
        c.app(set="user:alice%d" % i)
    first = [line for line in srv.error_log.lines() if "LF01920" in line]
    assert first and all("connected (TLSv1.3, full handshake)" in line for line in first), first
    pids, seen = set(connects(srv)), len(srv.error_log.lines())
    session.redis_cli(redis_tls.port, "CONFIG", "SET", "timeout", "1")
    # only the redis-cli asking is left connected once redis has closed the idle ones
    session.wait(lambda: info_field(redis_tls, "clients", "connected_clients") == 1,
                 timeout=10, interval=0.2)
    again = []
    for _ in range(20):            # until a child that had connected before connects again
        assert c.app() == {"user": "alice3"}
        again = [line for line in srv.error_log.lines()[seen:]
                 if "LF01920" in line and line.split("[pid ")[1].split(":")[0] in pids]
        if again:
            break
    assert again, "no child process connected again"
    assert all("connected (TLSv1.3, resumed)" in line for line in again), again
