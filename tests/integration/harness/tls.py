"""A test certificate authority made by openssl: the CA and a server certificate it signed, for
the TLS stand-ins and servers of the tests (the SMTP sink, MariaDB, the TLS front of moto), and a
slow https endpoint."""
import os
import socket
import ssl
import threading
import time

from .proc import run


def make_test_ca(d, host="localhost"):
    """A CA and a server certificate for host (and 127.0.0.1) signed by it, made by openssl in
    d: returns (ca.pem, server.pem, server.key)."""
    os.makedirs(d, exist_ok=True)
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr, crt = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.pem"))
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" % host)
    for argv in (
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
         "-out", ca, "-days", "2", "-subj", "/CN=lampfarm test CA"],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", "/CN=%s" % host],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", crt, "-days", "2", "-extfile", ext],
    ):
        rc, out = run(argv)
        if rc != 0:
            raise RuntimeError("openssl failed: %s\n%s" % (" ".join(argv), out))
    return ca, crt, key


class SlowTLSServer:
    """An https endpoint that is slow on purpose: each connection waits `delay` seconds before
    its TLS handshake, then answers any request `200 ok` and closes.

    A hand-written stand-in (Python's ssl module, a thread per connection): no real server can
    be told to hold every handshake for a chosen time, and the tests need TLS work in flight in
    a module's thread at the moment a child process exits."""

    def __init__(self, crt, key, delay=0.3):
        self.delay = delay
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(crt, key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopping = False

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            time.sleep(self.delay)
            conn.settimeout(10)
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping = True
        self.sock.close()
