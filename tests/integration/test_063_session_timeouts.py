"""Timeouts are enforced by the server: an idle session expires, a session past its absolute
lifetime expires however active it is, and an active but unchanged session is kept alive by
refreshing its expiry (memcached touch, redis PEXPIRE) at most once per interval, without being
rewritten: its stored bytes stay the same."""
import time

import pytest

from harness import session

# the store and the backend keep the time, whatever the MPM
pytestmark = pytest.mark.one_mpm


def test_idle_session_expires(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url,
                        srv="SessionKVIdleTimeout 2s\nSessionKVTouchInterval 1s")
    c = session.Client(srv)
    c.app(set="user:alice")
    assert c.app() == {"user": "alice"}
    time.sleep(3.2)
    assert c.app() == {}
    assert kv.keys() == []


def test_absolute_lifetime_ends_an_active_session(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url,
                        srv="SessionKVIdleTimeout 2s\nSessionKVMaxLifetime 3s\n"
                            "SessionKVTouchInterval 200ms")
    c = session.Client(srv)
    c.app(set="user:alice")
    start = time.monotonic()
    while time.monotonic() - start < 2.5:
        assert c.app() == {"user": "alice"}
        time.sleep(0.3)
    time.sleep(max(0.0, 3.3 - (time.monotonic() - start)))
    assert c.app() == {}
    counters = session.status_counters(srv)
    assert counters["Expired"] == 1 and counters["Deletes"] >= 1
    assert kv.keys() == []


def test_touch_keeps_an_active_session_without_rewriting_it(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url,
                        srv="SessionKVIdleTimeout 3s\nSessionKVTouchInterval 1s")
    c = session.Client(srv)
    c.app(set="user:alice")
    stored = kv.raw(c.sid)
    writes, touches = kv.writes(), kv.touches()
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < 7:          # well past the idle timeout
        assert c.app() == {"user": "alice"}
        n += 1
        time.sleep(0.25)
    touched = kv.touches() - touches
    # refreshed, but at most about once a second, not on each of the ~25 requests
    assert 3 <= touched <= 9, (touched, n)
    assert kv.raw(c.sid) == stored                # never rewritten
    if kv.kind == "redis":
        assert kv.writes() == writes
    else:
        # memcached cannot report a TTL: each touch also stores a small marker of the expiry
        assert kv.writes() - writes == touched
    assert session.status_counters(srv)["Touches"] == touched
    assert session.status_counters(srv)["Writes"] == 1


def test_session_max_age_rewrites_only_at_the_touch_interval(httpd, logs, mpm, kv):
    # mod_session's SessionMaxAge changes its "expiry" entry on every save; that alone is
    # written at most once per SessionKVTouchInterval, so the stored expiry never falls behind
    srv = session.start(httpd, logs, mpm, kv.url, srv="SessionKVTouchInterval 1s",
                        loc="SessionMaxAge 30")
    c = session.Client(srv)
    c.app(set="user:alice")
    writes = session.status_counters(srv)["Writes"]
    start = time.monotonic()
    while time.monotonic() - start < 3:
        assert c.app()["user"] == "alice"
        time.sleep(0.2)
    rewrites = session.status_counters(srv)["Writes"] - writes
    assert 2 <= rewrites <= 4, rewrites
