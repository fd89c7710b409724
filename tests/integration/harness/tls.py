"""A test certificate authority made by openssl: the CA and a server certificate it signed, for
the TLS stand-ins and servers of the tests (the SMTP sink, MariaDB, the TLS front of moto,
TLSServer); the certificates a client must refuse (expired, for another name, self-signed:
make_cert); and TLSServer, an HTTPS endpoint with such a certificate that counts the connections
and handshakes it saw, and can be slow on purpose."""
import datetime
import os
import threading
import time

from .proc import run
from .threadserver import ThreadServer, read_head


def _openssl(*argv):
    rc, out = run(("openssl",) + argv)
    if rc != 0:
        raise RuntimeError("openssl failed: openssl %s\n%s" % (" ".join(argv), out))


def make_test_ca(d, host="localhost"):
    """A CA and a server certificate for host (and 127.0.0.1) signed by it, made by openssl in
    d: returns (ca.pem, server.pem, server.key)."""
    os.makedirs(d, exist_ok=True)
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
             "-days", "2", "-subj", "/CN=lampfarm test CA")
    crt, key = make_cert(d, "server", ca_dir=d, host=host)
    return ca, crt, key


def make_test_cas(d, host):
    """Two CAs in d/main and d/other: ((ca, crt, key) of main, with a server certificate for
    host, and the CA file of other, which a client trusting it must refuse main's with)."""
    main = make_test_ca(os.path.join(d, "main"), host=host)
    other = make_test_ca(os.path.join(d, "other"))
    return main, other[0]


def make_cert(d, name, ca_dir=None, host="localhost", ip="127.0.0.1", expired=False,
              client=False):
    """A server certificate d/<name>.pem and its key d/<name>.key for host (and ip, unless None):
    signed by the CA that make_test_ca() made in ca_dir, or self-signed without one. With
    expired, it was valid from two days ago until yesterday (made with `openssl ca`: `openssl
    x509` of OpenSSL 3.0 cannot set the dates). With client, also for TLS clients (a redis
    cluster node presents it on the cluster bus). Returns (cert, key)."""
    os.makedirs(d, exist_ok=True)
    key, csr, crt, ext = (os.path.join(d, name + s) for s in (".key", ".csr", ".pem", ".ext"))
    names = "DNS:%s" % host + (",IP:%s" % ip if ip else "")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth%s\n"
                % (names, ",clientAuth" if client else ""))
    if ca_dir is None:
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                 "-days", "2", "-subj", "/CN=%s" % host, "-addext", "subjectAltName=" + names)
        return crt, key
    ca, ca_key = os.path.join(ca_dir, "ca.pem"), os.path.join(ca_dir, "ca.key")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=%s" % host)
    if not expired:
        _openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                 "-out", crt, "-days", "2", "-extfile", ext)
        return crt, key
    db = os.path.join(d, name + ".ca-db")   # what `openssl ca` keeps: its index and serial
    os.makedirs(db, exist_ok=True)
    cnf = os.path.join(db, "ca.cnf")
    with open(cnf, "w") as f:
        f.write("[ca]\ndefault_ca = test_ca\n[test_ca]\ndatabase = %(db)s/index.txt\n"
                "new_certs_dir = %(db)s\nserial = %(db)s/serial\ndefault_md = sha256\n"
                "policy = any_name\nunique_subject = no\n[any_name]\ncommonName = supplied\n"
                % {"db": db})
    open(os.path.join(db, "index.txt"), "w").close()
    with open(os.path.join(db, "serial"), "w") as f:
        f.write("1000\n")
    now = datetime.datetime.now(datetime.timezone.utc)
    when = (lambda days: (now - datetime.timedelta(days=days)).strftime("%Y%m%d%H%M%SZ"))
    _openssl("ca", "-batch", "-config", cnf, "-cert", ca, "-keyfile", ca_key, "-in", csr,
             "-out", crt, "-startdate", when(2), "-enddate", when(1), "-extfile", ext, "-notext")
    return crt, key


class TLSServer(ThreadServer):
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

    name = "tls"
    backlog = 64

    def __init__(self, d, status=200, delay=0):
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
        super().__init__()

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def handle(self, conn, addr):
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
            head, _ = read_head(tls)
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
