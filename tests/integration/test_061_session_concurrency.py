"""Parallel requests of one user (AJAX calls): with the default merge mode every request's
change survives, because a write is a compare-and-set and a conflict merges only the keys that
request changed into the newer session."""
import concurrent.futures

import pytest

from harness import session


def parallel(c, n, make_query):
    def one(i):
        r = c.get("/app/app.cgi?" + make_query(i), timeout=20)
        return r.status
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_twenty_parallel_writers_all_keys_survive(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url,
                        srv="SessionKVTouchInterval 0")
    c = session.Client(srv)
    c.app(set="base:1")
    # each request waits a little before answering, so all of them load the same version
    statuses = parallel(c, 20, lambda i: session.query(set="k%d:%d" % (i, i), sleep=200))
    assert statuses == [200] * 20
    got = c.app()
    assert got == dict({"base": "1"}, **{"k%d" % i: str(i) for i in range(20)})
    counters = session.status_counters(srv)
    assert counters["Conflicts"] > 0 and counters["Merges"] > 0


def test_parallel_removals_and_sets_merge(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url, srv="SessionKVConcurrency merge 50")
    c = session.Client(srv)
    c.app(set=["a:1", "b:2", "c:3", "d:4"])
    queries = [session.query(**{"del": "a", "sleep": 200}), session.query(set="b:20", sleep=200),
               session.query(**{"del": "c", "sleep": 200}), session.query(set="e:5", sleep=200)]
    assert parallel(c, 4, lambda i: queries[i]) == [200] * 4
    assert c.app() == {"b": "20", "d": "4", "e": "5"}


def test_last_write_wins_is_plain_set(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url, srv="SessionKVConcurrency last-write-wins")
    c = session.Client(srv)
    c.app(set="a:1")
    assert parallel(c, 5, lambda i: session.query(set="k%d:%d" % (i, i), sleep=100)) == [200] * 5
    got = c.app()
    # every write replaced the whole session: some keys may be lost, the session is intact
    assert got["a"] == "1" and 1 <= len(got) <= 6
    assert session.status_counters(srv)["Conflicts"] == 0


# --- a request in flight across a logout or a login ------------------------------------------
# The browser sends a slow request (a background poll), then logs out (or in) in another tab
# while it runs; the slow request ends last. With file sessions PHP's lock made the logout wait;
# here the stored session is ended and the slow request's changes are dropped: it neither brings
# the old session back nor replaces the cookie the browser got from the newer request. The store
# decides this, not the MPM: one MPM.

def slow_app(c, **q):
    """A request of c to the app, held in it (session.while_held) once it has its session."""
    return lambda hold: c.get("/app/app.cgi?" + session.query(hold=hold, **q), timeout=30)


@pytest.mark.one_mpm
def test_logout_during_a_slow_request_stays_a_logout(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url, srv="SessionKVTouchInterval 0")
    c = session.Client(srv)
    c.app(set="user:alice", regen=1)
    logged_in = c.sid

    def logout():   # in another tab: the cookie is expired, the stored session deleted
        assert c.app(clear=1) == {"user": "alice"} and c.sid is None
        assert not kv.holds(logged_in)

    r = session.while_held(slow_app(c, set="poll:1"), logout)
    # the slow request answers, and neither stores nor sends a session
    assert r.status == 200 and r.json()["session"] == {"user": "alice"}
    assert session.set_cookies(r, "session") == []
    assert not kv.holds(logged_in)
    assert c.app() == {}
    stale = session.Client(srv)
    stale.sid = logged_in
    assert stale.app() == {}
    assert session.status_counters(srv)["Dropped"] == 1


@pytest.mark.one_mpm
def test_login_during_a_slow_anonymous_request_stays_a_login(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url, srv="SessionKVTouchInterval 0")
    c = session.Client(srv)
    c.app(set="csrf:t1")
    anonymous = c.sid
    # the login, meanwhile: a new id for the session, with the user in it
    r = session.while_held(slow_app(c, set="poll:1"), lambda: c.app(set="user:alice", regen=1))
    logged_in = c.sid
    assert logged_in not in (None, anonymous)
    assert r.status == 200
    assert session.set_cookies(r, "session") == []
    # still logged in; the anonymous request's change went with the anonymous session
    assert c.app() == {"csrf": "t1", "user": "alice"}
    assert c.sid == logged_in
    assert kv.holds(logged_in) and not kv.holds(anonymous)


@pytest.mark.one_mpm
def test_last_write_wins_does_not_bring_a_logged_out_session_back(httpd, logs, mpm, redis):
    kv = session.KV("redis", redis)
    srv = session.start(httpd, logs, mpm, kv.url, srv="SessionKVConcurrency last-write-wins")
    c = session.Client(srv)
    c.app(set="user:alice", regen=1)
    r = session.while_held(slow_app(c, set="poll:1"), lambda: c.app(clear=1))
    assert r.status == 200 and session.set_cookies(r, "session") == []
    assert kv.keys() == []
    assert c.app() == {}
