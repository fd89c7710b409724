"""Backend failures the farm will meet: a memcached server of two dies (only its sessions go,
requests keep being served, it is used again once back), redis restarts (the module reconnects
without an httpd restart), and an ElastiCache-style failover where the primary becomes a replica
(writes answer READONLY; the module drops the connection and the next one reaches the new
primary). No worker crashes: the conftest fails a test on any crash in the error log."""
import os
import socket
import struct
import threading
import time

import pytest

from harness import session
from harness.backends import Memcached, Redis


def subdir(logs, name):
    d = os.path.join(logs, name)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)
    return d


def owner_of(sid, servers):
    key = session.backend_key(sid)
    return [i for i, s in enumerate(servers) if key in session.KV("memcached", s).keys()]


@pytest.mark.expect_log("LF01001")
def test_memcached_one_of_two_stops(httpd, logs, mpm):
    servers = [Memcached(subdir(logs, "mc%d" % i)).start() for i in range(2)]
    try:
        url = "memcached://127.0.0.1:%d,127.0.0.1:%d" % (servers[0].port, servers[1].port)
        srv = session.start(httpd, logs, mpm, url, srv="SessionKVRetryInterval 2s")
        clients = []
        for i in range(16):
            c = session.Client(srv)
            c.app(set="n:%d" % i)
            clients.append(c)
        placed = [owner_of(c.sid, servers) for c in clients]
        assert all(len(p) == 1 for p in placed), placed
        assert {p[0] for p in placed} == {0, 1}, "consistent hashing should use both servers"
        servers[1].stop()
        for i, c in enumerate(clients):
            r = c.get("/app/app.cgi")
            assert r.status == 200
            got = r.json()["session"]
            if placed[i] == [0]:
                assert got == {"n": str(i)}, (i, got)      # the survivors' sessions survive
            else:
                assert got == {}                            # the lost server's sessions are gone
        # new sessions are still made (on the survivor, once each child has seen the failure)
        def new_session():
            c = session.Client(srv)
            c.app(set="new:1")
            return c.sid and c.app() == {"new": "1"}
        session.wait(new_session, timeout=10, interval=0.1)
        # the stopped server comes back and is used again after the retry interval
        servers[1].start()
        time.sleep(2.5)

        def second_used():
            c = session.Client(srv)
            c.app(set="x:1")
            # a child that has not retried the server yet still fails a new session there
            return c.sid is not None and owner_of(c.sid, servers) == [1]
        session.wait(second_used, timeout=10, interval=0.1)
    finally:
        for s in servers:
            s.stop()


def test_redis_restart_reconnects(httpd, logs, mpm, redis):
    srv = session.start(httpd, logs, mpm, "redis://127.0.0.1:%d" % redis.port)
    c = session.Client(srv)
    c.app(set="user:alice")
    redis.restart()                         # no persistence: the data is gone, the port is back
    # the pooled connections are dead; the first use of each finds that out and reconnects
    for _ in range(5):
        assert c.get("/app/app.cgi").status == 200
    c = session.Client(srv)
    c.app(set="user:bob")
    assert c.app() == {"user": "bob"}
    assert session.KV("redis", redis).exists(c.sid)


@pytest.mark.one_mpm  # the driver's reconnect, whatever the MPM
# a request may meet the failover (a cut connection, READONLY again on the retry): the test lets a
# few writes fail, so their lines may appear
@pytest.mark.allow_log("LF01001", "LF01005")
def test_redis_failover_to_a_promoted_replica(httpd, logs, mpm):
    a = Redis(subdir(logs, "redis-a")).start()
    b = Redis(subdir(logs, "redis-b")).start()
    proxy = None
    try:
        session.redis_cli(b.port, "REPLICAOF", "127.0.0.1", a.port)
        session.wait(lambda: "master_link_status:up" in session.redis_cli(b.port, "INFO",
                                                                          "replication"))
        proxy = session.RedisPrimaryProxy(subdir(logs, "haproxy"), [("a", a.port), ("b", b.port)])
        proxy.start()
        proxy.wait_status("a", "UP")
        proxy.wait_status("b", "DOWN")
        srv = session.start(httpd, logs, mpm, "redis://127.0.0.1:%d" % proxy.port)
        c = session.Client(srv)
        c.app(set="user:alice")
        for _ in range(5):
            c.app(set="k:v")                # warm the connection pool through the proxy
        session.wait(lambda: session.redis_cli(b.port, "EXISTS",
                                               session.backend_key(c.sid)) == "1")
        # failover: the replica becomes the primary, the old primary follows it
        session.redis_cli(b.port, "REPLICAOF", "NO", "ONE")
        session.redis_cli(a.port, "REPLICAOF", "127.0.0.1", b.port)
        proxy.wait_status("b", "UP")
        proxy.wait_status("a", "DOWN")
        # writes recover: at most a few requests meet READONLY (or a cut connection) first
        ok = 0
        for i in range(20):
            r = c.get("/app/app.cgi?" + session.query(set="step:%d" % i))
            assert r.status == 200
            ok = ok + 1 if c.app().get("step") == str(i) else 0
            if ok >= 3:
                break
        assert ok >= 3, "writes did not recover after the failover"
        assert c.app()["user"] == "alice"   # the session was replicated and survived
        assert srv.alive()
    finally:
        if proxy:
            proxy.stop()
        a.stop()
        b.stop()


@pytest.mark.one_mpm  # a log line's wording, whatever the MPM
@pytest.mark.expect_log("LF01001")
def test_redis_error_reply_is_logged_as_the_cause(httpd, logs, mpm, redis):
    """Redis refuses the write with an error reply (out of memory: maxmemory reached under
    noeviction): LF01001 carries redis's own words, without the "(20014)Internal error (specific
    information not available)" prefix that the APR status behind it would add."""
    srv = session.start(httpd, logs, mpm, "redis://127.0.0.1:%d" % redis.port)
    session.redis_cli(redis.port, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    session.redis_cli(redis.port, "CONFIG", "SET", "maxmemory", "1")
    c = session.Client(srv)
    assert c.get("/app/app.cgi?" + session.query(set="user:alice")).status == 200
    line = srv.error_log.wait_for("LF01001")
    assert "session save failed" in line and "OOM command not allowed" in line, line
    assert "(20014)" not in line and "Internal error" not in line, line


class HostileServer:
    """A hand-written stand-in for a hostile or broken server (no real redis or memcached sends
    what it does): it answers everything it reads with reply(the bytes read)."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.commands = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    while True:
                        data = conn.recv(65536)
                        if not data:
                            break
                        self.commands += 1
                        conn.sendall(self.reply(data))
                except OSError:
                    pass

    def close(self):
        self.sock.close()


@pytest.mark.one_mpm  # the driver's reading of a reply, whatever the MPM
@pytest.mark.expect_log("LF01001")
def test_redis_huge_array_header_is_a_protocol_error(httpd, logs, mpm):
    """A reply announcing an array of 399,999,999 elements is refused at its header (hiredis
    0.14's reader allocated the array's 3.2 GB table from those 12 bytes): the request is served
    (the failure policy, open), LF01001 names the protocol error, and the worker neither
    allocates the table nor waits for the elements (it would wait for the I/O timeout, then log
    a timeout)."""
    bad = HostileServer(lambda data: b"*399999999\r\n")
    try:
        srv = session.start(httpd, logs, mpm, "redis://127.0.0.1:%d" % bad.port,
                            srv="SessionKVTimeout 10s")
        c = session.Client(srv)
        t = time.monotonic()
        r = c.get("/app/app.cgi?" + session.query(set="user:alice"))
        assert r.status == 200
        assert time.monotonic() - t < 5           # not the 10 s I/O timeout
        line = srv.error_log.wait_for("LF01001")
        assert "protocol error: a reply of more than 1024 elements" in line, line
        assert bad.commands >= 1
    finally:
        bad.close()


def memcached_huge_value(data):
    """A binary-protocol answer to the first request in data: a value of 0xF0000000 bytes (by
    its header; none of them follow), with its 4 bytes of flags."""
    opcode = data[1] if data[:1] == b"\x80" else 0x0D
    return struct.pack(">BBHBBHIIQ", 0x81, opcode, 0, 4, 0, 0, 0xF0000000, 0, 0) + b"\0" * 4


@pytest.mark.one_mpm  # the driver's reading of a reply, whatever the MPM
@pytest.mark.expect_log("LF01001")
def test_memcached_huge_value_header_is_a_protocol_error(httpd, logs, mpm):
    """A reply whose header announces a value of 3.75 GiB is refused before anything is
    allocated (libmemcached allocates the value's buffer from that header): the session load
    fails with a protocol error in LF01001, the request is served with an empty session, and the
    worker does not wait for the value."""
    bad = HostileServer(memcached_huge_value)
    try:
        srv = session.start(httpd, logs, mpm, "memcached://127.0.0.1:%d" % bad.port,
                            srv="SessionKVTimeout 10s")
        c = session.Client(srv)
        c.sid = "A" * 43                          # a well-formed id: the module asks the server
        t = time.monotonic()
        r = c.get("/app/app.cgi")
        assert r.status == 200
        assert r.json()["session"] == {}
        assert time.monotonic() - t < 5           # not the 10 s I/O timeout
        line = srv.error_log.wait_for("LF01001")
        assert "session load failed" in line, line
        assert "protocol error: a reply larger than 4 MiB" in line, line
        assert bad.commands >= 1
    finally:
        bad.close()
