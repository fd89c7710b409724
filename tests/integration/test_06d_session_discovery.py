"""mod_session_kv with ElastiCache Memcached auto-discovery (SessionKVAutoDiscovery On): the store
URL names the cluster's configuration endpoint — here the hand-written stand-in of
harness/discovery.py, in front of real memcached servers — and every child follows the node list
it answers (SessionKVDiscoveryInterval).

Sessions spread over the discovered nodes as libmemcached's ketama ring puts them (modelled below,
and checked against where the keys really are); a node added, and one removed, while requests
keep coming, move only the sessions of that node, and no request fails; a configuration endpoint
that is down, or answers garbage, an oversize answer, no node or too many, leaves the node list
as it was, with one WARNING per child and state change; before any list, a request discovers the
nodes itself; a configuration that cannot work stops startup with a clear error."""
import bisect
import hashlib
import re
import threading

import pytest

from harness import paths, session
from harness.backends import Memcached
from harness.discovery import DiscoveryEndpoint

POLL = "SessionKVAutoDiscovery On\nSessionKVDiscoveryInterval 1s"
# StartServers of harness/httpd.py's MPM configurations: the children that log each change
CHILDREN = {"event": 2, "prefork": 6}


def ring(ports):
    """libmemcached 1.1's weighted ketama continuum (the driver sets KETAMA_WEIGHTED) over
    memcached servers 127.0.0.1:<port> (not 11211): per server 40 MD5s of "<host>:<port>-<i>",
    4 points of each, little-endian; sorted by point, then by the server's place in the list,
    which the driver sorts (by port, here)."""
    points = []
    for port in sorted(ports):
        for i in range(40):
            d = hashlib.md5(b"127.0.0.1:%d-%d" % (port, i)).digest()
            points += [(int.from_bytes(d[4 * x:4 * x + 4], "little"), port) for x in range(4)]
    return sorted(points)


def owner(points, sid):
    """The port of the server that holds sid's session: the first point at or after the MD5 of
    its key (wrapping around)."""
    h = int.from_bytes(hashlib.md5(session.backend_key(sid).encode()).digest()[:4], "little")
    return points[bisect.bisect_left(points, (h, -1)) % len(points)][1]


def holders(servers, sid):
    """The ports of the real memcached servers that hold sid's session."""
    return [s.port for s in servers if session.KV("memcached", s).holds(sid)]


def lines(srv, text):
    return [line for line in srv.error_log.lines() if text in line]


def pids(found):
    return {re.search(r"\[pid (\d+)", line).group(1) for line in found}


def children_at(srv, version):
    """The children that took the node list of version (LF01016 is each child's first sight of
    a version), once every child that ever took one has taken this one; else None."""
    took = lines(srv, "LF01016")
    now = pids([line for line in took if "now version %d," % version in line])
    return now if took and pids(took) <= now else None


def all_took(srv, mpm, version):
    """Wait until every child runs with the node list of version; their pids."""
    return session.wait(lambda: (lambda c: c if c and len(c) >= CHILDREN[mpm] else None)(
        children_at(srv, version)), timeout=15)


@pytest.fixture
def cluster(logs):
    """Factory: cluster(n) -> (n real memcached servers, the discovery stand-in listing them,
    started unless start=False). Stopped after httpd when a test lists it before httpd: an
    endpoint stopped first would be a refresh failure in the log."""
    made = []

    def make(n, start=True):
        nodes = [Memcached(paths.sub_dir(logs, "mc%d" % i)).start() for i in range(n)]
        ep = DiscoveryEndpoint([s.port for s in nodes])
        made.append((nodes, ep))
        return nodes, ep.start() if start else ep

    yield make
    for nodes, ep in made:
        ep.stop()
        for s in nodes:
            s.stop()


def new_sessions(srv, n, tag):
    """n new sessions, each holding {"n": "<tag><i>"}: [(sid, value)]."""
    out = []
    for i in range(n):
        c = session.Client(srv)
        value = "%s%d" % (tag, i)
        c.app(set="n:" + value)
        assert c.sid, "no session stored"
        out.append((c.sid, value))
    return out


def read(srv, sid):
    c = session.Client(srv)
    c.sid = sid
    r = c.get("/app/app.cgi")
    return r.status, r.json()["session"] if r.status == 200 else None


class Load:
    """Requests in a loop on two threads while the nodes change, each reading one of the sessions:
    every answer must be a 200 with the session's value, or, for a session in .may_go (its node
    was removed, or its key moved to a new node), an empty session."""

    def __init__(self, srv, sessions):
        self.srv = srv
        self.sessions = list(sessions)
        self.may_go = set()
        self.failures = []
        self.done = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k,), daemon=True)
                         for k in range(2)]

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def _run(self, k):
        i = k
        while not self._stop.is_set():
            sid, value = self.sessions[i % len(self.sessions)]
            i += len(self._threads)
            try:
                status, got = read(self.srv, sid)
            except Exception as e:  # noqa: BLE001 - a failed request is what the test counts
                status, got = repr(e), None
            if got != {"n": value} and not (sid in self.may_go and got == {}):
                self.failures.append((sid, value, status, got))
            self.done += 1

    def wait_requests(self, n):
        start = self.done
        session.wait(lambda: self.done >= start + n, timeout=30)


def test_nodes_spread_added_and_removed_under_load(cluster, httpd, logs, mpm):
    """Three discovered nodes share the sessions; a fourth is added and then one of the first
    three removed while requests keep coming: no request fails, only the sessions whose node
    changed are gone (exactly those the ring says), and new sessions use the new node."""
    nodes, ep = cluster(4)
    ports = [s.port for s in nodes]
    ep.ports = ports[:3]                    # the fourth joins later
    srv = session.start(httpd, logs, mpm, ep.url, srv=POLL)
    all_took(srv, mpm, 1)
    line = lines(srv, "LF01016")[0]
    assert "now version 1, 3 nodes: 127.0.0.1:" in line, line
    # spread: each session on exactly the server the ring says, and on every server
    three = ring(ports[:3])
    old = new_sessions(srv, 30, "old")
    for sid, _ in old:
        assert holders(nodes, sid) == [owner(three, sid)]
    assert {owner(three, sid) for sid, _ in old} == set(ports[:3])

    # a node added under load: only the sessions whose key moved to it are gone
    four = ring(ports)
    moved = {sid for sid, _ in old if owner(four, sid) == ports[3]}
    assert all(owner(four, sid) == owner(three, sid) for sid, _ in old if sid not in moved)
    assert moved, "some session should move to the new node"
    with Load(srv, old) as load:
        load.may_go = moved
        load.wait_requests(20)
        ep.set_nodes(ports)
        all_took(srv, mpm, 2)
        load.wait_requests(40)
    assert not load.failures, load.failures[:5]
    for sid, value in old:
        assert read(srv, sid) == (200, {} if sid in moved else {"n": value}), sid
    # new sessions land where the ring says, the new node among them
    added = []
    while sum(owner(four, sid) == ports[3] for sid, _ in added) < 3:
        assert len(added) < 100, "no new session lands on the new node"
        added += new_sessions(srv, 4, "new%d-" % len(added))
    for sid, _ in added:
        assert holders(nodes, sid) == [owner(four, sid)]

    # a node removed under load: exactly its sessions are gone, every other one survives
    living = [(sid, v) for sid, v in old if sid not in moved] + added
    gone = {sid for sid, _ in living if owner(four, sid) == ports[1]}
    assert gone and len(gone) < len(living)
    with Load(srv, living) as load:
        load.may_go = gone
        load.wait_requests(20)
        ep.set_nodes([ports[0], ports[2], ports[3]])
        all_took(srv, mpm, 3)
        nodes[1].stop()             # ElastiCache deletes the node once it is out of the list
        load.wait_requests(40)
    assert not load.failures, load.failures[:5]
    lost = [sid for sid, v in living if read(srv, sid) != (200, {"n": v})]
    assert sorted(lost) == sorted(gone) and len(lost) < len(living)
    assert not lines(srv, "LF01001")


@pytest.mark.one_mpm  # the refresher and the driver, whatever the MPM
@pytest.mark.expect_log("LF01017")
def test_endpoint_down_keeps_the_nodes(cluster, httpd, logs, mpm):
    """The configuration endpoint stops answering: each child says so once (a WARNING), keeps the
    nodes it has and serves every session as before; when the endpoint is back, it says that."""
    nodes, ep = cluster(2)
    srv = session.start(httpd, logs, mpm, ep.url, srv=POLL)
    children = all_took(srv, mpm, 1)
    before = new_sessions(srv, 8, "a")
    ep.stop()
    # each child fails three polls in a row: one WARNING, then debug lines
    session.wait(lambda: pids(lines(srv, "(3 in a row)")) >= children, timeout=15)
    warned = lines(srv, "LF01017")
    assert len(warned) == len(pids(warned)) == len(children), warned
    assert "[session_kv:warn]" in warned[0]
    assert ("refresh failed: config get cluster at 127.0.0.1:%d: connect: Connection refused; "
            "the 2 nodes of version 1 are kept" % ep.port) in warned[0], warned[0]
    for sid, value in before:
        assert read(srv, sid) == (200, {"n": value})
    after = new_sessions(srv, 8, "b")
    assert all(len(holders(nodes, sid)) == 1 for sid, _ in after)
    ep.start()
    session.wait(lambda: pids(lines(srv, "LF01018")) >= children, timeout=15)
    assert len(lines(srv, "LF01017")) == len(children)


@pytest.mark.one_mpm  # the refresher and the driver, whatever the MPM
@pytest.mark.expect_log("LF01017")
def test_bad_answers_keep_the_nodes(cluster, httpd, logs, mpm):
    """Garbage, an answer announcing a megabyte, zero nodes, 400 nodes: each is refused with a
    WARNING that says what is wrong, the node list stays, sessions keep working."""
    nodes, ep = cluster(2)
    srv = session.start(httpd, logs, mpm, ep.url, srv=POLL)
    children = all_took(srv, mpm, 1)
    sessions = new_sessions(srv, 6, "a")
    cases = [
        ("garbage", "a bad answer: not an answer to config get cluster: 'HTTP/1.1 200 OK'"),
        ("oversize", "a bad answer: bad header 'CONFIG cluster 0 1048576'"),
        ("no nodes", "a bad answer: no node"),
        ("too many", "400 nodes, more than the 300 taken"),
    ]
    for round_, (kind, text) in enumerate(cases):
        ep.bad(kind)
        session.wait(lambda: pids([line for line in lines(srv, "LF01017") if text in line])
                     >= children, timeout=15)
        found = [line for line in lines(srv, "LF01017") if text in line]
        assert len(found) == len(children), found
        assert "the 2 nodes of version %d are kept" % (round_ + 1) in found[0], found[0]
        for sid, value in sessions:
            assert read(srv, sid) == (200, {"n": value})
        # good again (the same nodes, a new version): said once per child
        ep.set_nodes([s.port for s in nodes])
        session.wait(lambda: len(lines(srv, "LF01018")) >= len(children) * (round_ + 1),
                     timeout=15)
    assert len(lines(srv, "LF01017")) == len(children) * len(cases)
    assert not lines(srv, "LF01001")


@pytest.mark.one_mpm  # the driver's first discovery, whatever the MPM
@pytest.mark.expect_log("LF01017", "LF01001")
def test_first_request_discovers_the_nodes(cluster, httpd, logs, mpm):
    """The endpoint is down when httpd starts: requests get the failure policy with a clear line,
    and once it is up, a request discovers the nodes itself (the background poll is a minute
    away)."""
    nodes, ep = cluster(2, start=False)
    srv = session.start(httpd, logs, mpm, ep.url,
                        srv="SessionKVAutoDiscovery On\nSessionKVRetryInterval 1s")
    assert "nodes discovered (every 1m" in srv.error_log.wait_for("LF01009")
    c = session.Client(srv)
    r = c.get("/app/app.cgi?" + session.query(set="n:1"))
    assert r.status == 200 and c.sid is None           # open: served without a session
    line = srv.error_log.wait_for("LF01001")
    assert ("add: no memcached nodes discovered yet: config get cluster at 127.0.0.1:%d: "
            "connect: Connection refused" % ep.port) in line, line
    ep.start()

    def stored():
        c = session.Client(srv)
        c.app(set="n:2")
        return c.sid and c.app() == {"n": "2"} and len(holders(nodes, c.sid)) == 1
    session.wait(stored, timeout=10, interval=0.2)
    assert ep.asked >= 1


@pytest.mark.one_mpm  # configuration checks
@pytest.mark.parametrize("conf,text", [
    ("SessionKVStore redis://127.0.0.1:6379\nSessionKVAutoDiscovery On",
     "SessionKVAutoDiscovery needs a memcached:// store"),
    ("SessionKVStore memcacheds://127.0.0.1:11211\nSessionKVAutoDiscovery On",
     "SessionKVAutoDiscovery is not supported with memcacheds://"),
    ("SessionKVStore memcached://127.0.0.1:11211,127.0.0.1:11212\nSessionKVAutoDiscovery On",
     "SessionKVAutoDiscovery: the store URL names one server"),
    ("SessionKVStore memcached://127.0.0.1:11211\nSessionKVDiscoveryInterval 500ms",
     "SessionKVDiscoveryInterval: at least 1s"),
    ("SessionKVStore memcached://127.0.0.1:11211\nSessionKVDiscoveryInterval soon",
     "SessionKVDiscoveryInterval: 'soon' is not a duration"),
])
def test_bad_configuration(httpd, conf, text):
    rc, out = httpd.config_test(conf, modules=("session_kv",),
                                apache_modules=session.apache_modules(httpd.mpm))
    assert rc != 0 and text in out, out


@pytest.mark.one_mpm  # configuration checks
def test_configuration_accepted(httpd):
    rc, out = httpd.config_test("""
SessionKVStore memcached://sessions.abc123.cfg.use1.cache.amazonaws.com:11211
SessionKVAutoDiscovery On
SessionKVDiscoveryInterval 30s
<VirtualHost 127.0.0.1:9>
    SessionKVStore memcached://127.0.0.1:11211,127.0.0.1:11212
    SessionKVAutoDiscovery Off
</VirtualHost>
""", modules=("session_kv",), apache_modules=session.apache_modules(httpd.mpm))
    assert rc == 0 and "Syntax OK" in out, out
