"""A Redis Cluster of real redis-server 7 processes on 127.0.0.1, set up the way ElastiCache runs
one with encryption in transit: TLS only (no plain port; the cluster bus and replication over TLS
too), every node announcing a host name (`cluster-announce-hostname`,
`cluster-preferred-endpoint-type hostname`) that its certificate names, and no IP address in the
certificate, so that a client connecting to the announced IP would fail to verify it. Made with
`redis-cli --cluster create`; resharded, grown and failed over with redis-cli as an operator
would. Cluster bus ports are free ports of their own (port + 10000 may not exist)."""
import os
import subprocess

from . import paths
from .proc import Daemon, free_port, wait_until
from .tls import make_cert, make_test_ca

HOST = "localhost"   # what the nodes announce and the certificate names


def make_tls(d):
    """(ca, crt, key): a CA and a certificate for HOST only, without an IP address."""
    ca, _, _ = make_test_ca(d)
    crt, key = make_cert(d, "cluster", ca_dir=d, host=HOST, ip=None, client=True)
    return ca, crt, key


class Node(Daemon):
    """One redis-server of the cluster, its files in <cluster log dir>/node<i>."""

    def __init__(self, cluster, i):
        self.cluster = cluster
        self.port = cluster.free_port()
        self.bus_port = cluster.free_port()
        self.dir = os.path.join(cluster.log_dir, "node%d" % i)
        os.makedirs(self.dir, exist_ok=True)
        super().__init__(self.dir)
        self.name = "redis-%d" % self.port
        self.log_paths = (os.path.join(self.dir, "redis.log"),)

    def argv(self):
        ca, crt, key = self.cluster.tls
        return [paths.which("redis-server"), "--port", "0", "--tls-port", str(self.port),
                "--cluster-port", str(self.bus_port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--logfile",
                os.path.join(self.dir, "redis.log"), "--daemonize", "no", "--protected-mode", "no",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.cluster.node_timeout_ms),
                # replicas ask for what they miss every second (10 s by default): a manual
                # failover waits until the replica has all its primary wrote
                "--repl-ping-replica-period", "1",
                "--cluster-announce-hostname", HOST,
                "--cluster-preferred-endpoint-type", "hostname",
                "--tls-cert-file", crt, "--tls-key-file", key, "--tls-ca-cert-file", ca,
                "--tls-auth-clients", "no", "--tls-cluster", "yes", "--tls-replication", "yes"]

    def cli(self, *args, follow=False):
        return self.cluster.cli(self.port, *args, follow=follow)

    def info(self, section, field):
        """A field of INFO <section>, or of CLUSTER INFO for section "cluster"."""
        text = self.cli("CLUSTER", "INFO") if section == "cluster" else self.cli("INFO", section)
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
        return None

    def commands(self, name):
        """How many times this node ran the command `name` (INFO commandstats)."""
        text = self.cli("INFO", "commandstats")
        for line in text.splitlines():
            if line.startswith("cmdstat_%s:" % name):
                return int(line.split("calls=")[1].split(",")[0])
        return 0


class RedisCluster:
    """`primaries` primaries with `replicas` replicas each, TLS only."""

    def __init__(self, log_dir, primaries=3, replicas=1, node_timeout_ms=3000):
        self.log_dir = log_dir
        os.makedirs(log_dir, exist_ok=True)
        self.tls = make_tls(os.path.join(log_dir, "tls"))
        self.node_timeout_ms = node_timeout_ms
        self.ports = set()
        self.nodes = [Node(self, i) for i in range(primaries * (1 + replicas))]
        self.replicas = replicas

    def free_port(self):
        """A free port no node of this cluster has taken yet: the system hands a port it gave
        out a moment ago out again, and the nodes bind theirs only when they start."""
        while True:
            port = free_port()
            if port not in self.ports:
                self.ports.add(port)
                return port

    @property
    def ca(self):
        return self.tls[0]

    def url(self, node=0, db=None):
        """The URL of the store: a node by its announced name (ElastiCache's configuration
        endpoint is a name too)."""
        return "rediss://%s:%d%s" % (HOST, self.nodes[node].port,
                                     "" if db is None else "/%d" % db)

    def cli(self, port, *args, follow=False, timeout=60):
        argv = [paths.which("redis-cli"), "--tls", "--cacert", self.ca, "-h", "127.0.0.1",
                "-p", str(port)] + (["-c"] if follow else []) + ["--raw"] + [str(a) for a in args]
        out = subprocess.run(argv, capture_output=True, timeout=timeout)
        return out.stdout.decode("utf-8", "replace").rstrip("\n")

    def admin(self, *args, timeout=120):
        """redis-cli --cluster ...; raises with its output when it fails."""
        argv = [paths.which("redis-cli"), "--tls", "--cacert", self.ca, "--cluster"] + \
            [str(a) for a in args]
        out = subprocess.run(argv, capture_output=True, timeout=timeout)
        text = out.stdout.decode("utf-8", "replace") + out.stderr.decode("utf-8", "replace")
        if out.returncode != 0:
            raise RuntimeError("redis-cli --cluster %s failed:\n%s" % (args[0], text[-4000:]))
        return text

    def start(self):
        for n in self.nodes:
            n.start()
        if len(self.nodes) // (1 + self.replicas) >= 3:
            self.admin("create", *["127.0.0.1:%d" % n.port for n in self.nodes],
                       "--cluster-replicas", self.replicas, "--cluster-yes")
        else:
            self._create_small()
        self.wait_ok()
        self.wait_replicas()
        return self

    def wait_replicas(self, timeout=30):
        """Until every node sees each primary with its replicas (they are told after the
        primaries, and learn of each other by gossip)."""
        def complete():
            for n in self.live():
                rows = self.nodes_table(n)
                for p in (r for r in rows if r["role"] == "master" and r["slots"]):
                    if sum(r["primary"] == p["id"] for r in rows) < self.replicas:
                        return False
            return True
        wait_until(complete, timeout, what="every primary's replicas known to every node")

    def _create_small(self):
        """One primary with every slot and its replicas (redis-cli --cluster create wants three
        primaries): the shape of an ElastiCache Serverless endpoint, whose map names one
        endpoint for every slot, and its replicas on a read port."""
        primary, replicas = self.nodes[0], self.nodes[1:]
        assert primary.cli("CLUSTER", "ADDSLOTSRANGE", 0, 16383) == "OK"
        for n in replicas:
            assert primary.cli("CLUSTER", "MEET", "127.0.0.1", n.port, n.bus_port) == "OK"
        pid = self.node_id(primary)
        wait_until(lambda: all(any(r["id"] == pid for r in self.nodes_table(n))
                               for n in replicas), 20, what="the replicas meeting the primary")
        for n in replicas:
            assert n.cli("CLUSTER", "REPLICATE", pid) == "OK"

    def stop(self):
        for n in self.nodes:
            n.stop()

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def wait_ok(self, timeout=30):
        """Until every live node says cluster_state:ok and agrees on the primaries."""
        def ok():
            if not all(n.info("cluster", "cluster_state") == "ok" for n in self.live()):
                return False
            views = {tuple(sorted(p["port"] for p in self.primaries(n))) for n in self.live()}
            return len(views) == 1
        wait_until(ok, timeout, what="cluster_state:ok on every node")

    def nodes_table(self, via=None):
        """CLUSTER NODES as dicts: id, port, role ("master"/"slave"), primary id, slots,
        failed."""
        via = via or self.live()[0]
        rows = []
        for line in via.cli("CLUSTER", "NODES").splitlines():
            f = line.split()
            if len(f) < 8:
                continue
            flags = f[2].split(",")
            rows.append({"id": f[0], "port": int(f[1].split("@")[0].split(":")[-1]),
                         "role": "master" if "master" in flags else "slave",
                         "primary": f[3], "failed": "fail" in flags or "fail?" in flags,
                         "slots": f[8:]})
        return rows

    def primaries(self, via=None):
        return [r for r in self.nodes_table(via) if r["role"] == "master" and not r["failed"]
                and r["slots"]]

    def node(self, port):
        return next(n for n in self.nodes if n.port == port)

    def primary_nodes(self):
        return [self.node(r["port"]) for r in self.primaries()]

    def owner(self, key):
        """The live primary node holding `key` (by EXISTS on each), or None."""
        for n in self.primary_nodes():
            if n.cli("EXISTS", key) == "1":
                return n
        return None

    def slots_of(self, node):
        """The slots the primary `node` serves, in order."""
        row = next(r for r in self.nodes_table(node) if r["port"] == node.port)
        slots = []
        for r in row["slots"]:
            if not r.startswith("["):         # "[slot->-id]": a slot being moved
                a, _, b = r.partition("-")
                slots += range(int(a), int(b or a) + 1)
        return sorted(slots)

    def key_slot(self, key):
        return int(self.live()[0].cli("CLUSTER", "KEYSLOT", key))

    def add_primary(self):
        """A new empty primary, joined to the cluster (no slots yet)."""
        n = Node(self, len(self.nodes))
        self.nodes.append(n)
        n.start()
        self.admin("add-node", "127.0.0.1:%d" % n.port, "127.0.0.1:%d" % self.live()[0].port)
        ports = sorted(m.port for m in self.live())

        def agreed():
            return all(sorted(r["port"] for r in self.nodes_table(m)) == ports
                       for m in self.live())
        wait_until(agreed, 20, what="every node knowing every other")
        self.wait_ok()          # the new node, too, sees every slot served
        return n

    def node_id(self, node):
        return next(r["id"] for r in self.nodes_table(node) if r["port"] == node.port)

    def wait_agreed(self, timeout=30):
        """Until redis-cli --cluster check finds every node agreeing on the configuration (the
        nodes learn a change by gossip; redis-cli refuses to reshard before)."""
        def agreed():
            try:
                return "[ERR]" not in self.admin("check", "127.0.0.1:%d" % self.live()[0].port)
            except RuntimeError:
                return False
        wait_until(agreed, timeout, interval=0.2, what="every node agreeing (--cluster check)")

    def reshard(self, src, dst, slots):
        """Move `slots` slots (with their keys) from node src to node dst, as an operator
        would: redis-cli --cluster reshard (MIGRATE key by key, so ASK is answered meanwhile)."""
        for attempt in range(3):
            self.wait_agreed()
            try:
                self.admin("reshard", "127.0.0.1:%d" % src.port, "--cluster-from",
                           self.node_id(src), "--cluster-to", self.node_id(dst),
                           "--cluster-slots", slots, "--cluster-yes", "--cluster-pipeline", "1")
                return
            except RuntimeError:
                # a node that had not caught up yet (CLUSTERDOWN, a refused MIGRATE): close the
                # slot left half-moved and go on, as an operator would
                if attempt == 2:
                    raise
                self.admin("fix", "127.0.0.1:%d" % src.port, "--cluster-yes")
