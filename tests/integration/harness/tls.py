"""A test certificate authority made by openssl: the CA and a server certificate it signed, for
the TLS stand-ins and servers of the tests (the SMTP sink, MariaDB)."""
import os

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
