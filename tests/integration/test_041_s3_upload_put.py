"""mod_s3 uploads by PUT against moto (SigV4 checking on): every size around the single/multipart
threshold and a chunked body of unknown length arrive byte for byte (read back with boto3);
writes need a valid token; limits are enforced before the body is read; a client that vanishes
mid-upload leaves no multipart upload behind."""
import os
import signal
import threading
import time

import pytest

from harness import s3
from harness.http import request
from harness.proc import wait_until
from harness.procfs import connection_owner, pids_in_group

OCTETS = {"Content-Type": "application/octet-stream"}



@pytest.mark.parametrize("size", [0, 1, s3.PART - 1, s3.PART, s3.PART + 1, 3 * s3.PART + 12345])
def test_put_sizes_arrive_byte_for_byte(httpd, moto, logs, bucket, size):
    srv = s3.start(httpd, moto, logs, bucket)
    data = os.urandom(size)
    r = s3.put(srv, "/files/up/o-%d.bin" % size, data, s3.mint(prefix="up/"),
               headers={"Content-Type": "application/x-lampfarm"})
    assert r.status == 201, r
    body = r.json()
    assert body["key"] == "up/o-%d.bin" % size and body["size"] == size
    assert body["url"] == "/files/up/o-%d.bin" % size
    obj = moto.s3.get_object(bucket, "up/o-%d.bin" % size)
    assert obj.body == data
    assert obj.content_type == "application/x-lampfarm"
    assert body["etag"] == obj.etag == r.header("ETag")
    # above one part it was a multipart upload (S3's ETag says how many parts), below not
    parts = (size + s3.PART - 1) // s3.PART
    assert obj.etag.endswith('-%d"' % parts) == (parts > 1)
    assert moto.s3.list_multipart_uploads(bucket) == []


def test_chunked_body_of_unknown_length(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket)
    for size in (100, 2 * s3.PART + 777):
        data = os.urandom(size)
        r = s3.put(srv, "/files/chunked-%d" % size, data, s3.mint(key="chunked-%d" % size),
                   headers=OCTETS, chunked=True)
        assert r.status == 201, r
        assert moto.s3.get_bytes(bucket, "chunked-%d" % size) == data


def test_awkward_keys(httpd, moto, logs, bucket):
    """Keys of moto's safe alphabet with spaces, tildes, double and trailing slashes."""
    srv = s3.start(httpd, moto, logs, bucket)
    for key in ("a b/c~d.e_f-g", "dir//double", "trailing/", "x/y/z 1 2 3.txt"):
        path = "/files/" + key.replace(" ", "%20")
        r = s3.put(srv, path, key.encode(), s3.mint(prefix=""), headers=OCTETS)
        assert r.status == 201, (key, r)
        assert moto.s3.get_bytes(bucket, key) == key.encode()
        assert srv.get(path).body == key.encode()


def test_concurrent_uploads(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket)
    datas = {i: os.urandom(s3.PART + i * 1000) for i in range(6)}
    results = {}

    def one(i):
        results[i] = s3.put(srv, "/files/c/%d" % i, datas[i], s3.mint(prefix="c/"),
                            headers=OCTETS).status

    threads = [threading.Thread(target=one, args=(i,)) for i in datas]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    assert results == {i: 201 for i in datas}
    for i, d in datas.items():
        assert moto.s3.get_bytes(bucket, "c/%d" % i) == d


@pytest.mark.parametrize("token,why", [
    (None, "no upload token"),
    (s3.mint(secret="another-secret-of-enough-length", prefix=""), "bad signature"),
    (s3.mint(prefix="", ttl=-5), "expired"),
    (s3.mint(key="other"), "does not grant key"),
    ("garbage", "upload token"),
])
def test_writes_need_a_valid_token(httpd, moto, logs, bucket, token, why):
    srv = s3.start(httpd, moto, logs, bucket)
    r = s3.put(srv, "/files/k", b"data", token, headers=OCTETS)
    assert r.status == 403
    assert not moto.s3.exists(bucket, "k")
    assert why in srv.error_log.read()


def test_token_in_the_query(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket)
    r = s3.put(srv, "/files/q?upload_token=" + s3.mint(key="q"), b"via query", headers=OCTETS)
    assert r.status == 201
    assert moto.s3.get_bytes(bucket, "q") == b"via query"


def test_limits_before_the_body(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket,
                   extra="S3MaxUploadSize 1M\nS3AllowedTypes image/* application/pdf")
    tok = s3.mint(prefix="", max=1000)
    # over the token's max and over the location's: 413 from the headers alone
    r = s3.put(srv, "/files/big", b"x" * 1001, tok, headers={"Content-Type": "image/png"})
    assert r.status == 413
    r = s3.put(srv, "/files/big", b"x" * (1024 * 1024 + 1), s3.mint(prefix=""),
               headers={"Content-Type": "image/png"})
    assert r.status == 413
    # a type neither the location nor the token allows
    r = s3.put(srv, "/files/t", b"x", tok, headers={"Content-Type": "text/html"})
    assert r.status == 415
    r = s3.put(srv, "/files/t", b"x", s3.mint(prefix="", types="application/pdf"),
               headers={"Content-Type": "image/png"})
    assert r.status == 415
    # chunked over the limit: found while streaming
    r = s3.put(srv, "/files/chunky", b"y" * 2000, tok, headers={"Content-Type": "image/png"},
               chunked=True)
    assert r.status == 413
    assert moto.s3.list_keys(bucket) == []
    # what is allowed goes through
    r = s3.put(srv, "/files/ok.png", b"z" * 1000, tok, headers={"Content-Type": "image/png"})
    assert r.status == 201


def test_chunked_over_the_limit_aborts_the_multipart_upload(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket, extra="S3MaxUploadSize 11M")
    r = s3.put(srv, "/files/huge", os.urandom(12 * 1024 * 1024), s3.mint(prefix=""),
               headers=OCTETS, chunked=True)
    assert r.status == 413
    assert s3.wait_no_uploads(moto, bucket) == []
    assert moto.s3.list_keys(bucket) == []


def test_no_overwrite(httpd, moto, logs, bucket):
    moto.s3.put_object(bucket, "taken", b"first", content_type="text/plain")
    srv = s3.start(httpd, moto, logs, bucket, extra="S3NoOverwrite On")
    r = s3.put(srv, "/files/taken", b"second", s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 412
    assert moto.s3.get_bytes(bucket, "taken") == b"first"
    r = s3.put(srv, "/files/free", b"second", s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 201
    # a multipart upload too: S3 checks the condition when the upload completes
    r = s3.put(srv, "/files/taken", os.urandom(s3.PART + 1), s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 412
    assert moto.s3.get_bytes(bucket, "taken") == b"first"
    assert s3.wait_no_uploads(moto, bucket) == []


def test_methods_and_allow_header(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket, conf_extra=s3.location(
        bucket, moto.endpoint, s3.keyfile(logs, moto), path="/ro", upload=False))
    r = request(srv.port, "OPTIONS", "/files/x")
    assert r.status == 200
    assert set(r.header("Allow").replace(" ", "").split(",")) >= {"GET", "HEAD", "PUT", "POST"}
    r = s3.put(srv, "/ro/x", b"x", s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 405
    allow = set(r.header("Allow").replace(" ", "").split(","))
    assert {"GET", "HEAD"} <= allow and not {"PUT", "POST"} & allow
    r = request(srv.port, "DELETE", "/files/x")
    assert r.status == 405


def test_client_vanishing_mid_upload_leaves_no_multipart_upload(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket)
    s3.put_and_vanish(srv, "/files/gone", s3.mint(prefix=""), declared=4 * s3.PART,
                      send=2 * s3.PART + 100)
    assert s3.wait_no_uploads(moto, bucket, timeout=20) == []
    assert moto.s3.list_keys(bucket) == []
    # the server is fine
    r = s3.put(srv, "/files/after", b"ok", s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 201


@pytest.mark.expect_log("LF02031")
def test_spool_memory_cap_gives_503_with_retry_after(httpd, moto, logs, bucket):
    """With room for one upload's spool, a second concurrent upload is turned away."""
    srv = s3.start(httpd, moto, logs, bucket, conf_extra="S3MemoryLimit 6M\n",
                   extra="S3SpoolMemory 5M")
    import socket
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(("PUT /files/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
               "X-Upload-Token: %s\r\nContent-Type: application/octet-stream\r\n\r\n"
               % s3.mint(prefix="")).encode() + b"x" * 1000)
    time.sleep(0.5)  # the first upload holds its reservation while it waits for its body
    r = s3.put(srv, "/files/second", b"y" * 10, s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 503
    assert r.header("Retry-After") == "5"
    s.sendall(b"x" * (1000000 - 1000))
    assert s.recv(100).startswith(b"HTTP/1.1 201")
    s.close()
    r = s3.put(srv, "/files/third", b"z" * 10, s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 201


@pytest.mark.expect_log("LF02031")  # the refusals (httpd does not report a child it lost to SIGKILL)
def test_spool_memory_of_a_killed_child_is_given_back(httpd, moto, logs, bucket):
    """S3MemoryLimit holds two uploads' spool memory. A child killed (kill -9) during an upload
    never releases its reservation: the limit must not count it, and admits two uploads after
    the kill as before."""
    srv = s3.start(httpd, moto, logs, bucket, conf_extra="S3MemoryLimit 10M\n",
                   extra="S3SpoolMemory 5M")
    token, size = s3.mint(prefix=""), 100000

    def two_admitted_then_full(tag):
        a, sa = s3.start_held_put(srv, "/files/%s-a" % tag, token, size)
        b, sb = s3.start_held_put(srv, "/files/%s-b" % tag, token, size)
        _, sc = s3.start_held_put(srv, "/files/%s-c" % tag, token, size)
        assert (sa, sb, sc) == (100, 100, 503), tag
        assert (s3.finish_held_put(a, size), s3.finish_held_put(b, size)) == (201, 201), tag

    two_admitted_then_full("before")
    victim, status = s3.start_held_put(srv, "/files/victim", token, size)
    assert status == 100
    pid = wait_until(lambda: connection_owner(srv.port, victim.getsockname()[1],
                                              pids_in_group(srv.pid)), 10, 0.02,
                     what="the child holding the upload")
    assert pid != srv.pid
    os.kill(pid, signal.SIGKILL)
    victim.close()
    wait_until(lambda: not os.path.exists("/proc/%d" % pid), 10, 0.02,
               what="the killed child reaped")
    two_admitted_then_full("after")
    assert moto.s3.list_keys(bucket) == sorted(["before-a", "before-b", "after-a", "after-b"])
