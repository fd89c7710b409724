"""mod_session_kv on a Redis Cluster, set up as ElastiCache runs one with cluster mode on and
encryption in transit (harness/rcluster.py): 3 primaries and 3 replicas, TLS only, each node
announcing a host name that its certificate names (and no IP address: a client that connected to
the addresses in CLUSTER SLOTS would fail to verify it). The store's URL is one node, by name,
as an ElastiCache configuration endpoint is; the module learns by itself that it is a cluster.

Under load (clients writing their sessions in a loop, SessionKVFailurePolicy closed so that a
failed request is a 503, and each client checking that its session is the one it wrote last):
sessions spread over every shard; slots move (MOVED, and ASK while they move) with no request
failed and no session lost; a node added takes sessions; a replica taking over with CLUSTER
FAILOVER fails no request; a primary killed with kill -9 fails requests only until the cluster
promotes its replica (the count is printed), then every session is there without an httpd
restart."""
import threading
import time

import pytest

from harness import paths, session
from harness.rcluster import RedisCluster


@pytest.fixture(scope="module")
def shared_cluster():
    """One cluster for the tests that leave it whole (they move slots and add a primary, which
    the others do not mind): a cluster takes seconds to make."""
    c = RedisCluster(paths.log_dir("_session-redis-cluster")).start()
    yield c
    c.stop()


@pytest.fixture
def cluster(logs):
    """A cluster of the test's own (for a test that fails nodes over)."""
    c = RedisCluster(paths.sub_dir(logs, "cluster")).start()
    yield c
    c.stop()


def start(httpd, logs, mpm, cluster, extra="", url=None):
    return session.start(httpd, logs, mpm, url or cluster.url(),
                         srv='SessionKVCAFile "%s"\nSessionKVFailurePolicy closed\n%s'
                         % (cluster.ca, extra))


class Load:
    """`n` clients, each in its own thread writing a counter into its session in a loop and
    checking that the session it gets back holds the value it wrote last: failed requests
    (status other than 200) and lost sessions (another value, or none) are counted. A pause
    after each request leaves the two cores to the servers."""

    def __init__(self, srv, n=6):
        self.clients = [session.Client(srv) for _ in range(n)]
        self.counts = [0] * n
        self.failed = []
        self.lost = []
        self.done = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        for i, c in enumerate(self.clients):
            c.app(set="n:0")
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(n)]

    def _run(self, i):
        c = self.clients[i]
        while not self.stopping.is_set():
            want = self.counts[i]
            r = c.get("/app/app.cgi?" + session.query(set="n:%d" % (want + 1)))
            with self.lock:
                self.done += 1
                if r.status != 200:
                    self.failed.append((i, r.status, time.monotonic()))
            if r.status != 200:
                time.sleep(0.05)     # a failure is quick: the count stays a count of attempts
                continue
            with self.lock:
                got = r.json()["session"].get("n")
                if got != str(want):
                    self.lost.append((i, want, got))
                self.counts[i] = want + 1
            time.sleep(0.01)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(30)

    def wait_requests(self, n, timeout=60):
        """Until `n` more requests were answered."""
        target = self.done + n
        session.wait(lambda: self.done >= target, timeout)

    def sessions_intact(self):
        """Every client's session as it wrote it last."""
        return [c.app().get("n") for c in self.clients] == [str(n) for n in self.counts]


@pytest.mark.one_mpm
@pytest.mark.expect_log("LF01001")
def test_sessions_spread_over_every_shard(httpd, logs, mpm, shared_cluster):
    cluster = shared_cluster
    srv = start(httpd, logs, mpm, cluster, "LogLevel session_kv:debug")
    clients = []
    for i in range(24):
        c = session.Client(srv)
        c.app(set="n:%d" % i)
        clients.append(c)
    owners = [cluster.owner(session.backend_key(c.sid)) for c in clients]
    assert None not in owners
    assert {o.port for o in owners} == {n.port for n in cluster.primary_nodes()}
    for i, c in enumerate(clients):
        assert c.app() == {"n": str(i)}
    # the module learnt the map and connects to the nodes by the name they announce: the
    # certificate has no IP address
    assert any("LF01923" in line and "a cluster of 3 primaries" in line
               for line in srv.error_log.lines())
    assert not any("certificate verify failed" in line for line in srv.error_log.lines())
    # a bad cookie reaches no node
    before = sum(n.commands("get") for n in cluster.nodes)
    bad = session.Client(srv)
    bad.sid = "x" * 10 + "'\";"
    assert bad.get("/app/app.cgi").status == 200
    assert sum(n.commands("get") for n in cluster.nodes) == before
    # a database other than 0: every operation fails with the reason and how to mend it
    srv.stop()
    srv = start(httpd, logs, mpm, cluster, url=cluster.url(db=2))
    c = session.Client(srv)
    c.app(set="a:1")
    assert c.sid is None                 # nothing could be saved
    srv.error_log.wait_for("a cluster has database 0 only")


@pytest.mark.one_mpm
def test_serverless_shape_reads_and_writes_on_the_primary(httpd, logs, mpm):
    """The shape of an ElastiCache Serverless endpoint: one primary serving every slot, its
    replica on another port (Serverless: 6380, reads from replicas). The module treats it as a
    cluster and never connects to the replica: reads and writes go to the primary."""
    cluster = RedisCluster(paths.sub_dir(logs, "serverless"), primaries=1, replicas=1).start()
    try:
        primary, replica = cluster.nodes
        session.wait(lambda: replica.info("replication", "master_link_status") == "up", 20)
        before = int(replica.info("stats", "total_connections_received"))
        srv = start(httpd, logs, mpm, cluster, "LogLevel session_kv:debug")
        clients = [session.Client(srv) for _ in range(8)]
        for i, c in enumerate(clients):
            c.app(set="n:%d" % i)
        for i, c in enumerate(clients):
            assert c.app() == {"n": str(i)}
        assert any("LF01923" in line and "a cluster of 1 primaries" in line
                   for line in srv.error_log.lines())
        assert primary.cli("DBSIZE") == "8"
        # the replica has the sessions, and saw no connection but the test's own
        asked = []

        def replicated():
            asked.append(1)
            return replica.cli("DBSIZE") == "8"
        session.wait(replicated, 10)
        after = int(replica.info("stats", "total_connections_received"))
        assert after - before == len(asked) + 1, (before, after, len(asked))
    finally:
        cluster.stop()


@pytest.mark.one_mpm
def test_slots_move_under_load(httpd, logs, mpm, shared_cluster):
    cluster = shared_cluster
    """A reshard moves slots of a primary, among them one holding a client's session, to
    another while the clients write: MOVED is followed (and ASK while the keys move); no request
    fails, no session is lost, and the module asked for the map again. Then one slot is left
    half-migrated by hand (MIGRATING on its source, IMPORTING on its target, the key moved): the
    source answers ASK and the module asks the target with ASKING."""
    srv = start(httpd, logs, mpm, cluster, "LogLevel session_kv:debug")

    def maps():
        return sum("LF01923" in line for line in srv.error_log.lines())
    with Load(srv) as load:
        # redis-cli moves a primary's lowest slots first: the session nearest the start of its
        # primary's slots moves with the fewest
        moves = []
        for c in load.clients:
            key = session.backend_key(c.sid)
            src = cluster.owner(key)
            moves.append((cluster.slots_of(src).index(cluster.key_slot(key)) + 1, key, src))
        count, key, src = min(moves, key=lambda m: m[0])
        dst = next(n for n in cluster.primary_nodes() if n.port != src.port)
        load.wait_requests(12)
        before = maps()
        cluster.reshard(src, dst, count)
        load.wait_requests(18)
    assert load.failed == [] and load.lost == [], (load.failed, load.lost)
    assert load.sessions_intact()
    assert cluster.owner(key).port == dst.port
    assert maps() > before
    src, dst = dst, next(n for n in cluster.primary_nodes() if n.port != dst.port)

    # ASK, made to happen: a session whose slot is on src, moved by hand half-way
    c = session.Client(srv)
    while True:
        c.sid = None
        c.app(set="ask:1")
        key = session.backend_key(c.sid)
        if cluster.owner(key).port == src.port:
            break
    slot = cluster.key_slot(key)
    src_id, dst_id = cluster.node_id(src), cluster.node_id(dst)
    assert dst.cli("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id) == "OK"
    assert src.cli("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id) == "OK"
    assert src.cli("MIGRATE", "localhost", dst.port, key, 0, 5000) == "OK"
    asking = dst.commands("asking")
    assert c.app(set="ask:2") == {"ask": "1"}
    assert c.app() == {"ask": "2"}
    assert dst.commands("asking") >= asking + 2
    for n in (dst, src):
        n.cli("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    assert c.app() == {"ask": "2"}


@pytest.mark.one_mpm
def test_node_added_under_load(httpd, logs, mpm, shared_cluster):
    cluster = shared_cluster
    srv = start(httpd, logs, mpm, cluster)
    with Load(srv) as load:
        load.wait_requests(12)
        new = cluster.add_primary()
        old = next(n for n in cluster.primary_nodes() if n.port != new.port)
        cluster.reshard(old, new, 1500)
        load.wait_requests(18)
    assert load.failed == [] and load.lost == [], (load.failed, load.lost)
    assert load.sessions_intact()

    def lands_on_new():
        c = session.Client(srv)
        c.app(set="new:1")
        return c if cluster.owner(session.backend_key(c.sid)).port == new.port else None
    c = session.wait(lands_on_new, timeout=20, interval=0)
    # the compare-and-set script reached the new primary the way it reaches any node that has
    # not seen it (NOSCRIPT, then EVAL: once, or a few times when connections meet it together);
    # from then on it goes by EVALSHA
    scripts = new.commands("evalsha")
    assert c.app(set="new:2") == {"new": "1"}
    assert c.app() == {"new": "2"}
    assert 1 <= new.commands("eval") <= 8
    assert new.commands("evalsha") == scripts + 1


def save_failures(srv):
    """The module's log lines of failed saves (a save fails after the answer has gone out:
    the client saw a 200 and its session keeps the value before)."""
    return [line for line in srv.error_log.lines() if "LF01001" in line and "save" in line]


def failover(cluster, load, srv, how):
    """Fail over the first primary's slots `how` ("CLUSTER FAILOVER" or "kill -9") under load;
    returns (failed requests, failed saves) up to the point where the cluster is whole again,
    and checks that nothing fails after that."""
    def primary_with_replica():
        rows = cluster.nodes_table()
        for p in (r for r in rows if r["role"] == "master" and r["slots"] and not r["failed"]):
            heirs = [cluster.node(r["port"]) for r in rows
                     if r["primary"] == p["id"] and not r["failed"]]
            # only a replica that has synchronised may take over (a replica that never got its
            # primary's data refuses: "Disconnected from master for longer than allowed")
            heirs = [h for h in heirs if h.info("replication", "master_link_status") == "up"]
            if heirs:
                return cluster.node(p["port"]), heirs[0]
        return None
    # after a failover the old primary becomes its successor's replica: wait until one is known
    # and in sync
    victim, heir = session.wait(primary_with_replica, 30)
    before = (len(load.failed), len(save_failures(srv)))
    start = time.monotonic()
    if how == "kill -9":
        victim.kill()
    else:
        assert heir.cli("CLUSTER", "FAILOVER") == "OK"
    session.wait(lambda: heir.info("replication", "role") == "master", 30)
    promoted = time.monotonic() - start
    cluster.wait_ok()
    load.wait_requests(18)
    during = (len(load.failed) - before[0], len(save_failures(srv)) - before[1])
    mark = (len(load.failed), len(save_failures(srv)))
    load.wait_requests(24)
    assert (len(load.failed), len(save_failures(srv))) == mark, load.failed[mark[0]:]
    times = [t - start for _, _, t in load.failed[before[0]:]]
    print("%s: replica promoted after %.1f s; %d requests failed (503)%s, %d saves failed"
          % (how, promoted, during[0],
             " from +%.2f s to +%.2f s" % (min(times), max(times)) if times else "", during[1]))
    return during


@pytest.mark.one_mpm
@pytest.mark.expect_log("LF01001")
# LF01005 only for a request whose load failed before its node was marked down and that then
# saves: a race with the failover
@pytest.mark.allow_log("LF01005")
def test_failover_under_load(httpd, logs, mpm, cluster):
    """A replica takes over with CLUSTER FAILOVER, then a primary is killed with kill -9:
    requests fail only until the cluster has a primary for their slots again (the counts are
    printed), then everything works without an httpd restart, and every session is there."""
    srv = start(httpd, logs, mpm, cluster)
    with Load(srv, n=8) as load:
        load.wait_requests(12)
        manual = failover(cluster, load, srv, "CLUSTER FAILOVER")
        killed = failover(cluster, load, srv, "kill -9")
    # a client's write is missing only where its save failed, or (kill -9: replication is
    # asynchronous) the last one it made before the primary died; never the whole session
    assert all(got is not None for _, _, got in load.lost), load.lost
    assert len(load.lost) <= manual[1] + killed[1] + len(load.clients), load.lost
    assert load.sessions_intact()
