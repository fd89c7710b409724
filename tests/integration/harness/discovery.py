"""A stand-in for the configuration endpoint of a node-based ElastiCache Memcached cluster.

Hand-written, because nothing real can be run here: the configuration endpoint is an ElastiCache
service, and stock memcached does not answer `config get cluster` (it says ERROR). This tiny TCP
server on 127.0.0.1 answers that one command in ElastiCache's format,

    CONFIG cluster 0 <bytes>\\r\\n<version>\\n<host>|<ip>|<port> ...\\n\\r\\nEND\\r\\n

for a node list the test sets and changes (each change a new version, as ElastiCache does), in
front of REAL memcached servers (harness/backends.Memcached): the module asks it for the nodes
and then talks to those servers directly. Each node is given as a host name that does not
resolve (node-<n>.lampfarm.invalid) with its IP, 127.0.0.1, so a client that connected to the
name instead of the IP would fail. Anything else it is sent is answered ERROR, as memcached does.

A test can also make it answer what a broken or hostile endpoint would (bad(...): garbage, an
answer announcing a megabyte, zero nodes, more nodes than a cluster can have), and stop and
start it on the same port (the endpoint down).
"""
import threading

from .threadserver import ThreadServer

# what bad() can answer instead of the node list
BAD_ANSWERS = {
    # not an answer at all
    "garbage": lambda version, nodes: b"HTTP/1.1 200 OK\r\n\r\nhello\r\n",
    # a header announcing a megabyte, and more bytes than any answer may have
    "oversize": lambda version, nodes: (b"CONFIG cluster 0 1048576\r\n" + b"x" * 200000),
    # a well-formed answer that lists no node
    "no nodes": lambda version, nodes: frame(b"%d\n\n" % version),
    # well-formed, with 400 nodes: more than any ElastiCache cluster has
    "too many": lambda version, nodes: frame(
        b"%d\n%s\n" % (version, b" ".join(b"n%d.lampfarm.invalid|127.0.0.1|%d" % (i, 20000 + i)
                                          for i in range(400)))),
}


def frame(payload):
    return b"CONFIG cluster 0 %d\r\n%s\r\nEND\r\n" % (len(payload), payload)


class DiscoveryEndpoint(ThreadServer):
    """The stand-in endpoint on 127.0.0.1:.port (see the module comment). nodes are ports of
    memcached servers on 127.0.0.1; .version is what it answers now, .asked how many times it was
    asked."""

    name = "discovery"
    backlog = 64

    def __init__(self, ports=(), version=1):
        self.ports = list(ports)
        self.version = version
        self.bad_answer = None
        self.asked = 0
        self._lock = threading.Lock()
        super().__init__(listen=False)     # refused until start()

    @property
    def url(self):
        return "memcached://127.0.0.1:%d" % self.port

    def set_nodes(self, ports):
        """A new node list (memcached ports), with a new version; good answers again."""
        with self._lock:
            self.ports = list(ports)
            self.version += 1
            self.bad_answer = None

    def bad(self, kind):
        """Answer one of BAD_ANSWERS from now on (set_nodes() ends it)."""
        with self._lock:
            self.bad_answer = BAD_ANSWERS[kind]

    def answer(self):
        with self._lock:
            if self.bad_answer:
                return self.bad_answer(self.version, self.ports)
            nodes = " ".join("node-%d.lampfarm.invalid|127.0.0.1|%d" % (i + 1, port)
                             for i, port in enumerate(self.ports))
            return frame(b"%d\n%s\n" % (self.version, nodes.encode()))

    def handle(self, conn, addr):
        threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn):
        with conn:
            conn.settimeout(5)
            buf = b""
            try:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buf += data
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        if line.strip() == b"config get cluster":
                            with self._lock:
                                self.asked += 1
                            conn.sendall(self.answer())
                        else:
                            conn.sendall(b"ERROR\r\n")
            except OSError:
                pass
