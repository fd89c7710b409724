"""mod_s3 downloads against moto (SigV4 checking on): GET and HEAD stream the object with its
headers, Range and conditional requests pass through, x-amz-* headers never reach the client,
bad keys are refused before S3 is asked."""
import os
import socket
import time

import pytest

from harness import s3
from harness.http import request



def test_get_streams_the_object_with_its_headers(httpd, moto, logs, bucket):
    data = os.urandom(3 * 1024 * 1024 + 17)
    moto.s3.put_object(bucket, "docs/report one.pdf", data, content_type="application/pdf",
                       metadata={"owner": "u42", "secret-note": "internal"})
    srv = s3.start(httpd, moto, logs, bucket, upload=False, extra="S3ExposeMeta owner")
    r = srv.get("/files/docs/report%20one.pdf", timeout=30)
    assert r.status == 200
    assert r.body == data
    assert r.header("Content-Type") == "application/pdf"
    assert r.header("Content-Length") == str(len(data))
    assert r.header("ETag") == moto.s3.head_object(bucket, "docs/report one.pdf").etag
    assert r.header("Last-Modified")
    assert r.header("Accept-Ranges") == "bytes"
    # x-amz-* stay inside, but the one meta header the location exposes
    assert r.header("x-amz-meta-owner") == "u42"
    assert r.header("x-amz-meta-secret-note") is None
    assert not [k for k in r.headers.keys()
                if k.lower().startswith("x-amz-") and k.lower() != "x-amz-meta-owner"]


def test_head_has_the_headers_and_no_body(httpd, moto, logs, bucket):
    moto.s3.put_object(bucket, "a.txt", b"hello world", content_type="text/plain")
    srv = s3.start(httpd, moto, logs, bucket, upload=False)
    r = srv.request("HEAD", "/files/a.txt")
    assert r.status == 200 and r.body == b""
    assert r.header("Content-Length") == "11"
    assert r.header("Content-Type") == "text/plain"


def test_range_gives_206_and_416(httpd, moto, logs, bucket):
    data = bytes(range(256)) * 1000
    moto.s3.put_object(bucket, "bin", data, content_type="application/octet-stream")
    srv = s3.start(httpd, moto, logs, bucket, upload=False)
    r = srv.get("/files/bin", headers={"Range": "bytes=1000-1999"})
    assert r.status == 206
    assert r.body == data[1000:2000]
    assert r.header("Content-Range") == "bytes 1000-1999/%d" % len(data)
    assert r.header("Content-Length") == "1000"
    r = srv.get("/files/bin", headers={"Range": "bytes=-10"})
    assert r.status == 206 and r.body == data[-10:]
    r = srv.get("/files/bin", headers={"Range": "bytes=999999999-"})
    assert r.status == 416
    assert b"InvalidRange" not in r.body  # S3's XML never reaches the client


def test_conditional_requests_give_304(httpd, moto, logs, bucket):
    moto.s3.put_object(bucket, "c.txt", b"cache me", content_type="text/plain")
    srv = s3.start(httpd, moto, logs, bucket, upload=False)
    first = srv.get("/files/c.txt")
    etag, modified = first.header("ETag"), first.header("Last-Modified")
    r = srv.get("/files/c.txt", headers={"If-None-Match": etag})
    assert r.status == 304 and r.body == b""
    assert r.header("ETag") == etag
    r = srv.get("/files/c.txt", headers={"If-Modified-Since": modified})
    assert r.status == 304
    r = srv.get("/files/c.txt", headers={"If-None-Match": '"not-the-etag"'})
    assert r.status == 200 and r.body == b"cache me"


def test_missing_object_is_404_without_s3_xml(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket, upload=False)
    r = srv.get("/files/nope/never.txt")
    assert r.status == 404
    assert b"NoSuchKey" not in r.body and b"<Error>" not in r.body
    assert srv.get("/files/").status == 404  # no listing of the location


@pytest.mark.parametrize("path,status", [
    ("/files/a/%2e%2e/b", 400),         # a dot segment after decoding
    ("/files/a/../b", 400),             # a plain one, as sent (httpd would resolve it)
    ("/files/a/%00b", 404),             # NUL: httpd itself refuses it, before any module
    ("/files/a/%01b", 400),             # control character
    ("/files/a%2Fb", 400),              # an encoded slash (not allowed by default)
    ("/files/" + "k" * 1030, 400),      # over 1024 bytes
    ("/files/%ff%fe", 400),             # not UTF-8
])
def test_bad_keys_are_refused_and_s3_is_not_asked(httpd, moto, logs, bucket, faultproxy, path,
                                                  status):
    srv = s3.start(httpd, moto, logs, bucket, endpoint=faultproxy.endpoint, upload=False,
                   conf_extra="AllowEncodedSlashes NoDecode\n")
    r = srv.get(path)
    assert r.status == status, r
    assert faultproxy.requests == []


def test_download_off_is_405(httpd, moto, logs, bucket):
    moto.s3.put_object(bucket, "x", b"x", content_type="text/plain")
    srv = s3.start(httpd, moto, logs, bucket, extra="S3Download off")
    r = srv.get("/files/x")
    assert r.status == 405


def test_disposition_attachment(httpd, moto, logs, bucket):
    # ASCII key: moto rejects correct signatures of non-ASCII keys (DESIGN.md); the UTF-8
    # filename* form is covered by tests/unit/test_s3_mime.c
    moto.s3.put_object(bucket, "d/annual report 2024.pdf", b"%PDF", content_type="application/pdf")
    srv = s3.start(httpd, moto, logs, bucket, upload=False, extra="S3Disposition attachment")
    r = srv.get("/files/d/annual%20report%202024.pdf")
    assert r.status == 200 and r.body == b"%PDF"
    assert r.header("Content-Disposition") == 'attachment; filename="annual report 2024.pdf"'


def test_client_going_away_cancels_the_transfer(httpd, moto, logs, bucket, faultproxy):
    """A client that reads a few bytes of a large object and closes: the upstream transfer is
    cancelled (moto's connection closed early), the server goes on serving."""
    data = os.urandom(64 * 1024 * 1024)
    moto.s3.put_object(bucket, "big", data, content_type="application/octet-stream")
    srv = s3.start(httpd, moto, logs, bucket, endpoint=faultproxy.endpoint, upload=False)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /files/big HTTP/1.1\r\nHost: x\r\n\r\n")
    got = s.recv(65536)
    assert got.startswith(b"HTTP/1.1 200")
    s.close()
    # the module gives up the upstream request instead of pulling the rest of the object
    faultproxy.wait_for("GET", r"/big", done=True, timeout=20)
    assert srv.get("/files/big", headers={"Range": "bytes=0-9"}).body == data[:10]
