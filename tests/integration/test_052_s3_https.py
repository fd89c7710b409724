"""mod_s3 over HTTPS (issue 15): S3 behind a TLS front (HAProxy terminating TLS in front of
moto, the session's `moto_tls`) whose certificate comes from a test CA that only `S3CAFile`
trusts. Downloads (GET, Range, HEAD), PUT (single and multipart), form uploads, the hand-off,
the redirect and mod_health's s3 check all work through it.

Endpoints that must be refused are refused, each with a clear status and a log line that names
the cause: a certificate from another CA, a self-signed one, an expired one, one for another
name, a plain HTTP server on the https port, a server that never finishes the handshake.
Nothing is stored (moto holds no new object), nothing passes the front to moto, and nothing
goes out as plain HTTP instead.

One httpd for the whole file, under one MPM: TLS is libcurl's, in the request's thread,
whatever the MPM (the publisher's and the checks' TLS under both MPMs: test_090).
"""
import os
import re
import types
import urllib.parse

import pytest

from harness import paths, s3, tls
from harness.backends import HangServer, PlainFront, TlsFront
from harness.health import READY, wait_check
from harness.http import request
from harness.httpd import DEFAULT_APACHE_MODULES, Httpd, selected_mpms

LOG = "test_052_s3_https"
OCTETS = {"Content-Type": "application/octet-stream"}

# The endpoints that must be refused: (name, status the client gets, the cause in the log line
# (curl's and OpenSSL's words), attempts per request). Certificates come from the
# same test CA that S3CAFile names, unless the case is about the CA.
REFUSED = [
    ("wrong-ca", 502, "SSL certificate problem: unable to get local issuer certificate", 1),
    ("self-signed", 502, "SSL certificate problem: self-signed certificate", 1),
    ("expired", 502, "SSL certificate problem: certificate has expired", 1),
    ("other-name", 502,
     "SSL: no alternative certificate subject name matches target host name '127.0.0.1'", 1),
    # the answer of a plain server is no TLS record: OpenSSL's reason; retried (a handshake cut
    # short may go otherwise next time), so S3Attempts 2 here
    ("plain", 502, "SSL routines::wrong version number", 2),
    # S3ConnectTimeout covers the handshake: 504 after it, as for any timeout
    ("no-handshake", 504, "SSL connection timeout", 1),
]


def _endpoints(moto, moto_tls, d):
    """The servers to be refused, by case name: TLS fronts of moto with bad certificates, a
    plain HTTP front of moto, a listener that never answers."""
    certs = os.path.join(d, "certs")
    other_ca = tls.make_test_ca(os.path.join(certs, "other-ca"))
    made = {
        "wrong-ca": other_ca[1:],
        "self-signed": tls.make_cert(certs, "self-signed"),
        "expired": tls.make_cert(certs, "expired", ca_dir=moto_tls.ca_dir, expired=True),
        "other-name": tls.make_cert(certs, "other-name", ca_dir=moto_tls.ca_dir,
                                    host="s3.other.example", ip=None),
    }
    out = {name: TlsFront(paths.sub_dir(d, name), moto.port, crt, key)
           for name, (crt, key) in made.items()}
    out["plain"] = PlainFront(paths.sub_dir(d, "plain"), moto.port)
    return out


@pytest.fixture(scope="module")
def site(moto, moto_tls):
    """httpd whose S3 sections all reach S3 over https and trust the test CA (S3CAFile once,
    at server level): /files (downloads, uploads), /redirect, /app (hand-off), a health check;
    and /refused/<case> onto each endpoint to be refused, with a bucket of its own holding one
    object. Yields a namespace: srv, bucket, buckets (by case), servers (by case)."""
    logs = paths.log_dir(LOG)
    keys = s3.keyfile(logs, moto)
    bucket = moto.s3.new_bucket("lf-https")
    mpm = selected_mpms()[0]
    servers = _endpoints(moto, moto_tls, logs)
    servers["no-handshake"] = HangServer()
    buckets = {}
    started = []
    try:
        for name, server in servers.items():
            started.append(server.start())
            buckets[name] = moto.s3.new_bucket("lf-https-" + name)
            moto.s3.put_object(buckets[name], "there", b"an object S3 holds",
                               content_type="text/plain")
        app, cgi = s3.handoff_app(logs, mpm, bucket, moto_tls.endpoint, keys)
        conf = "".join([
            "S3CAFile %s\n" % moto_tls.ca,
            s3.location(bucket, moto_tls.endpoint, keys),
            s3.location(bucket, moto_tls.endpoint, keys, path="/redirect", upload=False,
                        extra="S3Download redirect"),
            app,
            "HealthCheck s3-over-https s3 %s interval=1s timeout=1s\n" % bucket,
        ] + [
            s3.location(buckets[name], endpoint_of(servers[name]), keys,
                        path="/refused/" + name, extra="S3ConnectTimeout 1s\nS3Attempts %d"
                        % attempts)
            for name, _, _, attempts in REFUSED
        ])
        srv = Httpd("httpd", logs, mpm=mpm, conf=conf, modules=("s3", "health"),
                    apache_modules=DEFAULT_APACHE_MODULES + (cgi,),
                    env={s3.TOKEN_ENV: s3.TOKEN_SECRET})
        started.append(srv)
        srv.start()
        yield types.SimpleNamespace(srv=srv, bucket=bucket, buckets=buckets, servers=servers)
    finally:
        for server in reversed(started):
            if isinstance(server, Httpd):
                server.cleanup()
            else:
                server.stop()
        for b in [bucket] + list(buckets.values()):
            moto.s3.delete_bucket(b)
    bad = srv.error_log.bad_lines()
    assert not bad, "unexpected lines in %s:\n%s" % (srv.error_log.path, "\n".join(bad))


def endpoint_of(server):
    if isinstance(server, HangServer):
        return "https://127.0.0.1:%d" % server.port
    return server.endpoint.replace("http://", "https://")   # the plain front: https:// too


@pytest.fixture(autouse=True)
def attach(request, site):
    """Let conftest check the shared server's error log after each test (lines written during
    the test must be declared with expect_log, as for the `httpd` fixture)."""
    request.node._lf_httpds = [site.srv]


def test_download_range_and_head_over_https(site, moto):
    """GET streams the object through the TLS front, byte for byte with its headers; a Range
    gives 206 and its bytes; HEAD the headers without a body."""
    data = os.urandom(3 * 1024 * 1024 + 17)
    moto.s3.put_object(site.bucket, "docs/big file.bin", data, content_type="application/pdf")
    r = site.srv.get("/files/docs/big%20file.bin", timeout=30)
    assert r.status == 200, r
    assert r.body == data
    assert r.header("Content-Type") == "application/pdf"
    assert r.header("ETag") == moto.s3.head_object(site.bucket, "docs/big file.bin").etag
    r = site.srv.get("/files/docs/big%20file.bin", headers={"Range": "bytes=1000-1999"})
    assert r.status == 206 and r.body == data[1000:2000]
    assert r.header("Content-Range") == "bytes 1000-1999/%d" % len(data)
    r = site.srv.head("/files/docs/big%20file.bin")
    assert r.status == 200 and r.body == b""
    assert r.header("Content-Length") == str(len(data))


@pytest.mark.parametrize("size", [1000, s3.PART + 1])
def test_put_over_https_arrives_byte_for_byte(site, moto, size):
    """PUT below one part is one PutObject, above it a multipart upload (S3's ETag counts
    the parts); both arrive whole, and no upload is left open."""
    data = os.urandom(size)
    key = "up/put-%d.bin" % size
    r = s3.put(site.srv, "/files/" + key, data, s3.mint(prefix="up/"), headers=OCTETS)
    assert r.status == 201, r
    obj = moto.s3.get_object(site.bucket, key)
    assert obj.body == data
    assert obj.etag == r.header("ETag")
    assert obj.etag.endswith('-2"') == (size > s3.PART)
    assert moto.s3.list_multipart_uploads(site.bucket) == []


def test_form_upload_over_https(site, moto):
    """A browser form's file goes to S3 over https under a generated key."""
    photo = b"\x89PNG" + os.urandom(5000)
    ctype, body = s3.form_body([("f", "photo.png", "image/png", photo)])
    r = request(site.srv.port, "POST", "/files/", body=body, timeout=30,
                headers={"Content-Type": ctype, "X-Upload-Token": s3.mint(prefix="form/")})
    assert r.status == 201, r
    f = r.json()["files"][0]
    assert re.fullmatch(r"form/[0-9a-f]{32}\.png", f["key"]), f
    assert moto.s3.get_bytes(site.bucket, f["key"]) == photo


def test_handoff_over_https(site, moto):
    """The application's X-S3-Key answer is replaced by the object, fetched over https."""
    data = os.urandom(300 * 1024)
    moto.s3.put_object(site.bucket, "private/u1/invoice 7.pdf", data,
                       content_type="application/pdf")
    r = site.srv.get("/app/download.cgi?u1/invoice%207.pdf,attachment", timeout=30)
    assert r.status == 200, r
    assert r.body == data
    assert r.header("X-S3-Key") is None
    assert r.header("Content-Disposition") == 'attachment; filename="invoice 7.pdf"'


def test_redirect_points_at_the_https_endpoint(site, moto, moto_tls):
    """S3Download redirect answers with a URL on the https endpoint, presigned for its
    host:port. (moto cannot serve presigned URLs with signature checking on, see test_046: the
    signature is checked here the way S3 checks it.)"""
    r = site.srv.get("/redirect/docs/a%20b.txt")
    assert r.status == 302, r
    loc = r.header("Location")
    assert loc.startswith(moto_tls.endpoint + "/" + site.bucket + "/docs/a%20b.txt?"), loc
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
    assert q["X-Amz-SignedHeaders"] == "host"
    assert q["X-Amz-Signature"] == s3.presigned_signature(loc, moto.secret_key)


def test_health_check_over_https(site):
    """mod_health's s3 check runs HeadBucket with its section's settings, S3CAFile too."""
    wait_check(site.srv, "s3-over-https", "up")
    assert site.srv.get(READY).status == 200


@pytest.mark.expect_log("LF02003")
@pytest.mark.parametrize("case,status,cause,attempts", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_endpoint(site, moto, case, status, cause, attempts):
    """A download and an upload to an endpoint that must be refused: the status, one LF02003
    line each that names the cause, no retry unless the failure may pass; S3 holds what it
    held, nothing reached moto through the front, and nothing went out as plain HTTP."""
    server, bucket = site.servers[case], site.buckets[case]
    log_start = site.srv.error_log.size()
    r = site.srv.get("/refused/%s/there" % case)
    assert r.status == status, r
    assert b"an object S3 holds" not in r.body
    r = s3.put(site.srv, "/refused/%s/new" % case, b"must not be stored", s3.mint(prefix=""),
               headers=OCTETS)
    assert r.status == status, r
    lines = [line for line in site.srv.error_log.lines(log_start) if "LF02003" in line]
    assert len(lines) == 2, lines
    assert "GET there: no answer from S3: " in lines[0] and cause in lines[0], lines[0]
    assert "PutObject new: no answer from S3: " in lines[1] and cause in lines[1], lines[1]
    retries = [line for line in site.srv.error_log.lines(log_start) if "LF00200" in line]
    assert len(retries) == 2 * (attempts - 1), retries
    assert moto.s3.list_keys(bucket) == ["there"]
    assert moto.s3.list_multipart_uploads(bucket) == []
    if isinstance(server, HangServer):
        assert server.accepted == 2 * attempts
        return
    assert server.relayed() == 0   # nothing passed the front: no request reached moto
    if isinstance(server, PlainFront):
        # what the plain server refused began with a TLS handshake record (\x16\x03), not a
        # request line: the module spoke TLS, and never HTTP
        refused = server.errors()
        assert "invalid request" in refused, refused
        assert re.search(r"00000  \\x16\\x03", refused), refused
