"""A test certificate authority made by openssl: the CA and a server certificate it signed, for
the TLS stand-ins and servers of the tests (the SMTP sink, MariaDB, the TLS front of moto,
TLSServer); and TLSServer, an HTTPS endpoint with such a certificate that counts the connections
and handshakes it saw, and can be slow on purpose."""
import os
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


class TLSServer:
    """An HTTPS endpoint on 127.0.0.1 (a thread of the test process) whose certificate comes
    from its own test CA (make_test_ca in d), which nothing trusts unless told to (.ca: the CA
    file). It counts what a client did: .accepted (TCP connections, each one a TLS handshake
    begun), .handshakes (handshakes that succeeded), .failures (the ssl module's reasons for
    those that did not, e.g. 'TLSV1_ALERT_UNKNOWN_CA'), .requests (request lines read); every
    request that gets through is answered `status` with a short body, and the connection closed.
    With `delay`, each connection waits that many seconds before its handshake.

    A hand-written stand-in (Python's ssl module, a thread per connection): no real server
    counts handshakes per test or can be told to hold every handshake for a chosen time, which
    the tests need to have TLS work in flight in a module's thread when a child process exits.
    """

    def __init__(self, d, status=200, delay=0):
        import socket
        import ssl
        self.ca, self.cert, self.key = make_test_ca(d)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(self.cert, self.key)
        self.status = status
        self.delay = delay
        self.accepted = 0
        self.handshakes = 0
        self.failures = []
        self.requests = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tls-%d" % self.port, daemon=True)

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def _run(self):
        import socket
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with self.lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        import ssl
        conn.settimeout(5)
        if self.delay:
            time.sleep(self.delay)
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.lock:
                self.failures.append(getattr(e, "reason", None) or str(e))
            conn.close()
            return
        with self.lock:
            self.handshakes += 1
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode(errors="replace")
            with self.lock:
                self.requests.append(line)
            body = b"tls ok\n"
            tls.sendall(b"HTTP/1.1 %d Scripted\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                        % (self.status, len(body)) + body)
        except (ssl.SSLError, OSError):
            pass
        finally:
            tls.close()
