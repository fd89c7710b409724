"""The base of the stand-ins served by threads of the test process (no process of their own).

A ThreadServer listens on 127.0.0.1 from construction (so .port is known before start(); with
listen=False from start() on, on a port free at construction, so that connections are refused
until then), accepts in a thread of its own from start() to stop(), and hands every connection to
handle(conn, addr), in that thread (start another thread there for anything that takes
time); idle() runs every `tick` seconds without a new connection. stop() ends the accept loop
and closes the listener, so connections are refused from then on; start() again listens on
the same port. Subclasses that keep connections close them in their own stop().
"""
import socket
import threading

from .proc import free_port


def read_head(sock, limit=65536):
    """An HTTP request's head from sock, up to the blank line or limit bytes: (head, eof), eof
    true when the peer closed the connection before the blank line."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            return head, True
        head += chunk
    return head, False


class ThreadServer:
    name = "stand-in"
    backlog = 128
    tick = 0.2

    def __init__(self, port=0, listen=True):
        self.sock = None
        self.port = port
        self._thread = None
        self._stop = threading.Event()
        if listen:
            self._listen()
        elif not port:
            self.port = free_port()

    def _listen(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(self.backlog)
        s.settimeout(self.tick)
        self.sock = s
        self.port = s.getsockname()[1]

    def start(self):
        if self.sock is None:
            self._listen()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="%s-%d" % (self.name, self.port))
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except socket.timeout:
                self.idle()
                continue
            except OSError:
                break
            self.handle(conn, addr)

    def handle(self, conn, addr):
        raise NotImplementedError

    def idle(self):
        """Every tick seconds without a new connection."""

    def stop(self):
        if self.sock is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.sock.close()
        self.sock = None
