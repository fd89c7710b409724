"""Bad input and faults: cookie values that are not session ids never reach the backend (its own
counters tell), a session over SessionKVMaxSize is refused with a clear error and the stored one
stays, and a backend that is down is handled by the failure policy without losing the stored
session."""
import os
import socket

import pytest

from harness import session


def backend_reads(kv):
    if kv.kind == "redis":
        return session.redis_commandstats(kv.server.port).get("get", 0)
    return int(session.memcached_stats(kv.server)["cmd_get"])


BAD_VALUES = [
    "a b\r\nflush_all",                       # memcached protocol injection (sent raw below)
    "x" * 43 + "y",                           # one character too long
    "x" * 42,                                 # too short
    "A" * 42 + "B",                           # right length, impossible last character
    "A" * 42 + "*",                           # wrong alphabet
    "../../etc/passwd" + "A" * 27,            # path-looking, 43 characters
    "%41" * 14 + "A",                         # percent-encoded
    "A" * 5000,                               # overlong
]


def raw_get(port, cookie_line):
    """Send a request with a Cookie header written byte for byte (http.client refuses CR LF)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /app/app.cgi HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                  + b"Cookie: " + cookie_line + b"\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_bad_cookies_never_reach_the_backend(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url)
    owner = session.Client(srv)
    owner.app(set="user:alice")
    keys = kv.keys()
    before = backend_reads(kv)
    for value in BAD_VALUES[1:] + [os.urandom(22).hex()]:  # random, 44 characters
        c = session.Client(srv)
        c.sid = value
        r = c.get("/app/app.cgi")
        assert r.status in (200, 400), (value, r)
        if r.status == 200:
            assert r.json()["session"] == {}
            assert session.set_cookies(r) == []
    # random bytes, and the injection attempt, byte for byte
    for line in [b"session=" + os.urandom(43).replace(b"\r", b"").replace(b"\n", b""),
                 b"session=a b\r\nflush_all", b"session=a b\r\n flush_all",
                 b"session=\x00\x01\x02"]:
        answer = raw_get(srv.port, line)
        assert answer.startswith(b"HTTP/1.1 200") or answer.startswith(b"HTTP/1.1 400"), answer
    assert backend_reads(kv) == before
    assert kv.keys() == keys
    assert owner.app() == {"user": "alice"}
    assert session.status_counters(srv)["Rejected"] >= len(BAD_VALUES) - 1


def test_duplicate_cookies_start_a_fresh_session(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url)
    a, b = session.Client(srv), session.Client(srv)
    a.app(set="user:alice")
    b.app(set="user:bob")
    before = backend_reads(kv)
    r = a.get("/app/app.cgi", headers={"Cookie": "session=%s; session=%s" % (a.sid, b.sid)})
    assert r.json()["session"] == {}
    assert backend_reads(kv) == before
    # the same cookie twice is one session
    r = a.get("/app/app.cgi", headers={"Cookie": "session=%s; other=1; session=%s"
                                       % (a.sid, a.sid)})
    assert r.json()["session"] == {"user": "alice"}
    assert a.app() == {"user": "alice"} and b.app() == {"user": "bob"}


@pytest.mark.expect_log("LF01001")
def test_oversize_session_is_refused_and_the_old_one_kept(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url, srv="SessionKVMaxSize 4K")
    c = session.Client(srv)
    c.app(set="user:alice")
    writes = kv.writes()
    r = c.get("/app/app.cgi?" + session.query(big=5000))
    assert r.status == 200
    assert kv.writes() == writes
    assert c.app() == {"user": "alice"}
    line = srv.error_log.wait_for("LF01001")
    assert "more than SessionKVMaxSize 4096" in line and "kept as it was" in line
    assert "No space left" not in line, line   # not APR_ENOSPC's text: the disk is not full
    assert session.status_counters(srv)["Oversize"] == 1


@pytest.mark.expect_log("LF01001", "LF01005")
def test_backend_down_policy_open_serves_and_keeps_the_stored_session(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url)
    c = session.Client(srv)
    c.app(set="user:alice")
    sid = c.sid
    kv.server.stop()
    r = c.get("/app/app.cgi?" + session.query(set="user:mallory"))
    assert r.status == 200
    assert r.json()["session"] == {}
    assert session.set_cookies(r) == []            # the cookie is kept
    assert c.sid == sid
    line = srv.error_log.wait_for("LF01001")
    assert "session load failed" in line
    srv.error_log.wait_for("LF01005")
    if kv.kind == "memcached":
        kv.server.start()                           # memcached loses its data on restart
        return
    kv.server.start()
    # redis without persistence starts empty too; what matters is that no request wrote a
    # replacement while it was down: the key is simply absent, not overwritten by mallory
    assert kv.keys() == []


@pytest.mark.expect_log("LF01001")
def test_backend_down_policy_closed_answers_503(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url, srv="SessionKVRetryInterval 1s",
                        loc="SessionKVFailurePolicy closed")
    c = session.Client(srv)
    c.app(set="user:alice")
    kv.server.stop()
    r = c.get("/app/app.cgi")
    assert r.status == 503
    assert r.header("Retry-After") == "5"
    kv.server.start()
    # memcached leaves the failed server out for SessionKVRetryInterval (1s here)
    session.wait(lambda: c.get("/app/app.cgi").status == 200, timeout=10, interval=0.2)
