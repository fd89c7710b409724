"""A session backend that hangs (SIGSTOP: its connections stay open and nothing is refused) costs
one I/O timeout per server per SessionKVRetryInterval, not one per request: after the first
timeout the server is marked down (LF01012), requests meanwhile get the failure policy at once
without touching the network (open: 200 with an empty session; closed: 503 with Retry-After),
one request at a time tries the server again after the interval (LF01014 when it still does not
answer), and once it answers again (SIGCONT) it is marked up (LF01013) and the sessions are there
as before.

The down state is shared by all children of the httpd (docs/mod_session_kv.md, "What happens on
failover"), so each of these happens once for the whole server, whatever the MPM."""
import os
import re
import signal
import time

import pytest

from harness import paths, session
from harness.backends import Memcached
from harness.load import Timed, percentile

# the down state is the whole server's, in shared memory: the MPM plays no part
pytestmark = pytest.mark.one_mpm

TIMEOUT = 1.0       # SessionKVTimeout
RETRY = 3.0         # SessionKVRetryInterval
DOWN = 4.5          # seconds of load measured while the backend hangs, after the first timeout
                    # (more than RETRY: a retry falls in it)
THREADS = 16        # client threads: 12 on the open location, 4 on the closed one

# two cheap locations (a static file: no CGI, so the server's own time is the store's) that
# load the session on every request, one under each failure policy
LOCATIONS = """
SessionKVTimeout %(timeout)dms
SessionKVRetryInterval %(retry)dms
Alias /open/ "@DOCROOT@/"
Alias /closed/ "@DOCROOT@/"
<Location /open/>
    Session On
    SessionKV On
    SessionKVCookie session Secure=Off
</Location>
<Location /closed/>
    Session On
    SessionKV On
    SessionKVCookie session Secure=Off
    SessionKVFailurePolicy closed
</Location>
""" % {"timeout": TIMEOUT * 1000, "retry": RETRY * 1000}

OPEN, CLOSED = "/open/index.html", "/closed/index.html"
LOG_TIME = re.compile(r"^\[\w+ (\w+ \d+ [\d:]+)\.(\d+) (\d+)\] .*\[pid (\d+)")


def log_lines(srv, log_id):
    """(pid, seconds since the epoch) of each error log line with log_id."""
    out = []
    for line in srv.error_log.lines():
        m = LOG_TIME.match(line)
        if m and log_id + ":" in line:
            t = time.mktime(time.strptime("%s %s" % (m.group(1), m.group(3)),
                                          "%b %d %H:%M:%S %Y")) + int(m.group(2)) / 1e6
            out.append((int(m.group(4)), t))
    return out


def busy_workers(srv):
    """(BusyWorkers, workers processing a request): the second is the scoreboard's "W", where a
    worker waiting for the store is; BusyWorkers also counts closing connections ("C"), which
    prefork (not event) keeps in a worker until the client has closed its end."""
    status = session.server_status(srv)
    return int(status["BusyWorkers"]), status["Scoreboard"].count("W")


@pytest.mark.timeout(90)
@pytest.mark.expect_log("LF01001", "LF01012")
def test_hung_backend_costs_one_timeout_per_interval(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url, srv=LOCATIONS)
    c = session.Client(srv)
    c.app(set="user:alice")
    cookie = {"Cookie": "session=%s" % c.sid}
    for path in (OPEN, CLOSED):
        assert srv.get(path, headers=cookie).status == 200
    backend = kv.server.process
    load = Timed(srv, [OPEN] * 3 + [CLOSED], threads=THREADS, headers=cookie).start()
    busy_before, busy = [], []
    try:
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            busy_before.append(busy_workers(srv))
            time.sleep(0.25)
        stopped = time.monotonic()
        wall_stopped = time.time()
        os.kill(backend.pid, signal.SIGSTOP)
        # the requests in flight when it stopped, and those sent before the first timeout, wait
        # for that timeout; measured are the requests sent after it
        time.sleep(TIMEOUT + 0.5)
        measured = time.monotonic()
        during = {"open": c.get("/app/app.cgi"), "closed": srv.get(CLOSED, headers=cookie),
                  # a change: not stored, and only logged at debug (LF01005), like LF01001
                  "write": c.get("/app/app.cgi?" + session.query(set="lost:1"))}
        while time.monotonic() < measured + DOWN:
            busy.append(busy_workers(srv))
            time.sleep(0.25)
        continued = time.monotonic()
        wall_continued = time.time()
        os.kill(backend.pid, signal.SIGCONT)
        # within an interval it is tried again, and found answering
        time.sleep(RETRY + TIMEOUT + 1.5)
    finally:
        os.kill(backend.pid, signal.SIGCONT)
        ended = time.monotonic()
        load.stop()

    before = [s for s in load.between(0, stopped) if s.start + s.elapsed < stopped]
    hung = load.between(measured, continued)
    lat = sorted(s.elapsed for s in hung)
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    processing = [w for _, w in busy]
    figures = ("%s: %d requests while hung, p50 %.1f ms, p99 %.1f ms, max %.0f ms, slowest %s; "
               "workers processing a request %s (before the hang %s), BusyWorkers %s (before %s)"
               % (kv.kind, len(hung), p50 * 1000, p99 * 1000, lat[-1] * 1000,
                  [round(x, 2) for x in lat[-8:]], sorted(processing),
                  sorted(w for _, w in busy_before), sorted(b for b, _ in busy),
                  sorted(b for b, _ in busy_before)))
    print(figures)
    # one timeout per interval, not one per request: well below the timeout
    assert p99 < TIMEOUT / 4, figures
    assert len(hung) >= 200, figures          # and it was under load
    assert sum(x >= TIMEOUT * 0.9 for x in lat) <= DOWN // RETRY + 1, figures  # the retries
    # the workers are not held: most of the time only a few are processing a request (the
    # status request itself, a retry, requests being answered), not one per client thread
    assert percentile(processing, 50) <= THREADS // 4, figures

    # what clients saw: the failure policy, at once
    assert all(s.status == 200 for s in before), [s for s in before if s.status != 200][:5]
    assert all(s.status == 200 for s in hung if s.path == OPEN)
    closed = [s for s in hung if s.path == CLOSED]
    assert closed and all(s.status == 503 for s in closed), closed[:5]
    assert all(s.headers.get("Retry-After") == "5" for s in closed)
    assert during["open"].status == 200 and during["open"].json()["session"] == {}
    assert during["closed"].status == 503 and during["closed"].header("Retry-After") == "5"
    assert during["write"].status == 200 and during["write"].json()["session"] == {}
    assert not session.set_cookies(during["write"])   # the browser keeps its session cookie

    # marked down (LF01012) once, after the first timeout; then at most one failed retry
    # (LF01014) per interval; marked up (LF01013) once, after SIGCONT
    downs, retries = log_lines(srv, "LF01012"), log_lines(srv, "LF01014")
    ups = log_lines(srv, "LF01013")
    assert len(downs) == 1, downs
    down = downs[0][1]
    tried = sorted(t for _, t in retries)
    assert down >= wall_stopped + TIMEOUT - 0.2, (down, wall_stopped)
    assert all(b - a >= RETRY for a, b in zip([down] + tried, tried)), (down, tried)
    assert tried and tried[-1] < wall_continued + TIMEOUT, (tried, wall_continued)
    assert len(ups) == 1 and ups[0][1] >= wall_continued, (ups, wall_continued)
    counters = session.status_counters(srv)
    assert counters["MarkedDown"] == 1, counters
    assert counters["ErrorsMarkedDown"] >= len(hung) // 2, counters

    # everything is back: the last second of load was served as before the hang (no failure
    # policy, no timeout), the session was kept, and it can be changed again
    last = load.between(ended - 1.0, ended)
    assert last and all(s.status == 200 and s.elapsed < TIMEOUT * 0.9 for s in last), \
        [s for s in last if s.status != 200 or s.elapsed >= TIMEOUT * 0.9][:5]
    for _ in range(5):
        assert c.app() == {"user": "alice"}
    c.app(set="seen:1")
    assert c.app() == {"user": "alice", "seen": "1"}
    assert srv.alive()


@pytest.mark.timeout(60)
@pytest.mark.expect_log("LF01001", "LF01012")
def test_one_hung_memcached_server_of_two(httpd, logs, mpm):
    """Only the server that hangs is marked down: the sessions on the other one are served as
    before, those on the hung one get the failure policy, at once after the first timeout."""
    servers = [Memcached(paths.sub_dir(logs, "mc%d" % i)).start() for i in range(2)]
    try:
        url = "memcached://127.0.0.1:%d,127.0.0.1:%d" % (servers[0].port, servers[1].port)
        srv = session.start(httpd, logs, mpm, url,
                            srv="SessionKVTimeout %dms\nSessionKVRetryInterval 60s"
                                % (TIMEOUT * 1000))
        clients = {0: [], 1: []}
        while min(len(c) for c in clients.values()) < 4:
            c = session.Client(srv)
            c.app(set="n:%d" % len(clients[0] + clients[1]))
            key = session.backend_key(c.sid)
            owner = [i for i, s in enumerate(servers) if session.KV("memcached", s).holds(c.sid)]
            assert len(owner) == 1, (key, owner)
            clients[owner[0]].append(c)
        os.kill(servers[1].process.pid, signal.SIGSTOP)
        slow = []
        for _ in range(5):
            for i in (0, 1):
                for c in clients[i]:
                    r = c.get("/app/app.cgi")
                    assert r.status == 200, r
                    got = r.json()["session"]
                    if i == 0:
                        assert "n" in got, got          # served as before
                    else:
                        assert got == {}, got           # the failure policy: an empty session
                    if r.elapsed >= TIMEOUT * 0.9:
                        slow.append((i, round(r.elapsed, 2)))
        # one timeout, by the first request for the hung server; none for the other's sessions
        assert [i for i, _ in slow] == [1], slow
        assert len(log_lines(srv, "LF01012")) == 1
        log = srv.error_log.read()
        assert "memcached 127.0.0.1:%d marked down" % servers[1].port in log
        assert "memcached 127.0.0.1:%d marked down" % servers[0].port not in log
    finally:
        os.kill(servers[1].process.pid, signal.SIGCONT)
        for s in servers:
            s.stop()
