"""Parallel requests of one user (AJAX calls): with the default merge mode every request's
change survives, because a write is a compare-and-set and a conflict merges only the keys that
request changed into the newer session."""
import concurrent.futures

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
