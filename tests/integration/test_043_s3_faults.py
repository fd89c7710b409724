"""mod_s3 when S3 misbehaves, through a fault-injecting proxy in front of moto: throttling is
retried, a persistent failure ends in the documented status with the multipart upload aborted,
a CompleteMultipartUpload that answers 200 with an <Error> is a failure, a stalled answer times
out (holding no request but its own), and a wrong secret is a clear 502 naming
SignatureDoesNotMatch in the log."""
import concurrent.futures
import os

import pytest

from harness import s3

OCTETS = {"Content-Type": "application/octet-stream"}



def start(httpd, moto, logs, bucket, faultproxy, extra=""):
    return s3.start(httpd, moto, logs, bucket, endpoint=faultproxy.endpoint,
                    extra="S3Timeout 2s\n" + extra)


def test_slowdown_on_a_part_is_retried(httpd, moto, logs, bucket, faultproxy):
    srv = start(httpd, moto, logs, bucket, faultproxy)
    faultproxy.add_rule("PUT", r"partNumber=2&", status=503, count=1)
    data = os.urandom(2 * s3.PART + 10)
    r = s3.put(srv, "/files/retried", data, s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 201, r
    assert moto.s3.get_bytes(bucket, "retried") == data
    assert faultproxy.count("PUT", r"partNumber=2&") == 2  # the part went twice, whole


def test_slowdown_on_a_get_is_retried(httpd, moto, logs, bucket, faultproxy):
    moto.s3.put_object(bucket, "g", b"got it", content_type="text/plain")
    srv = start(httpd, moto, logs, bucket, faultproxy)
    faultproxy.add_rule("GET", r"/g$", status=503, count=2)
    r = srv.get("/files/g")
    assert r.status == 200 and r.body == b"got it"
    assert faultproxy.count("GET", r"/g$") == 3


@pytest.mark.expect_log("LF02002")
def test_persistent_slowdown_is_503_and_the_upload_is_aborted(httpd, moto, logs, bucket,
                                                              faultproxy):
    srv = start(httpd, moto, logs, bucket, faultproxy, extra="S3Attempts 2")
    faultproxy.add_rule("PUT", r"partNumber=2&", status=503)
    r = s3.put(srv, "/files/never", os.urandom(2 * s3.PART + 10), s3.mint(prefix=""),
               headers=OCTETS)
    assert r.status == 503
    assert b"SlowDown" not in r.body
    assert faultproxy.count("DELETE", r"uploadId=") == 1  # AbortMultipartUpload
    assert moto.s3.list_multipart_uploads(bucket) == []
    assert not moto.s3.exists(bucket, "never")


@pytest.mark.expect_log("LF02002")
def test_internal_error_is_502_and_aborted(httpd, moto, logs, bucket, faultproxy):
    srv = start(httpd, moto, logs, bucket, faultproxy, extra="S3Attempts 2")
    faultproxy.add_rule("PUT", r"partNumber=1&", status=500, code="InternalError")
    r = s3.put(srv, "/files/broken", os.urandom(s3.PART + 10), s3.mint(prefix=""),
               headers=OCTETS)
    assert r.status == 502
    assert moto.s3.list_multipart_uploads(bucket) == []


def test_complete_answering_200_with_a_transient_error_is_retried(httpd, moto, logs, bucket,
                                                                  faultproxy):
    srv = start(httpd, moto, logs, bucket, faultproxy)
    faultproxy.add_rule("POST", r"uploadId=", action="error200", code="InternalError",
                        count=1)
    data = os.urandom(s3.PART + 10)
    r = s3.put(srv, "/files/again", data, s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 201
    assert faultproxy.count("POST", r"uploadId=") == 2
    assert moto.s3.get_bytes(bucket, "again") == data


@pytest.mark.expect_log("LF02002")
def test_complete_answering_200_with_an_error_is_a_failure(httpd, moto, logs, bucket,
                                                          faultproxy):
    srv = start(httpd, moto, logs, bucket, faultproxy)
    faultproxy.add_rule("POST", r"uploadId=", action="error200", code="InvalidPart", count=1)
    r = s3.put(srv, "/files/half", os.urandom(s3.PART + 10), s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 502
    assert "CompleteMultipartUpload half: S3 answered 200 InvalidPart" in srv.error_log.read()
    assert faultproxy.count("DELETE", r"uploadId=") == 1
    assert moto.s3.list_multipart_uploads(bucket) == []


@pytest.mark.one_mpm  # libcurl times the stall out, whatever the MPM
@pytest.mark.expect_log("LF02003")
def test_stalled_part_times_out_as_504_and_is_aborted(httpd, moto, logs, bucket, faultproxy):
    srv = start(httpd, moto, logs, bucket, faultproxy, extra="S3Attempts 2")
    faultproxy.add_rule("PUT", r"partNumber=1&", action="stall", seconds=30)
    r = s3.put(srv, "/files/stalled", os.urandom(s3.PART + 10), s3.mint(prefix=""),
               headers=OCTETS, timeout=60)
    assert r.status == 504
    assert faultproxy.count("PUT", r"partNumber=1&") == 2
    assert s3.wait_no_uploads(moto, bucket) == []


@pytest.mark.one_mpm  # libcurl times the stall out, whatever the MPM
@pytest.mark.expect_log("LF02003")
def test_stalled_get_times_out_as_504(httpd, moto, logs, bucket, faultproxy):
    moto.s3.put_object(bucket, "s", b"slow", content_type="text/plain")
    srv = start(httpd, moto, logs, bucket, faultproxy, extra="S3Attempts 1")
    faultproxy.add_rule("GET", r"/s$", action="stall", seconds=30)
    r = srv.get("/files/s", timeout=30)
    assert r.status == 504


@pytest.mark.one_mpm  # libcurl times the stall out, whatever the MPM
@pytest.mark.expect_log("LF02003")
def test_stalled_object_holds_only_its_own_requests(httpd, moto, logs, bucket, faultproxy):
    """While requests to one object stall, each waits for its own timeout and nothing else does:
    the other objects of the same endpoint are served meanwhile as fast as ever."""
    moto.s3.put_object(bucket, "s", b"slow", content_type="text/plain")
    moto.s3.put_object(bucket, "f", b"fast", content_type="text/plain")
    srv = start(httpd, moto, logs, bucket, faultproxy, extra="S3Attempts 1")
    faultproxy.add_rule("GET", r"/s$", action="stall", seconds=30)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        stalled = [pool.submit(srv.get, "/files/s", timeout=30) for _ in range(4)]
        faultproxy.wait_for("GET", r"/s$", n=4)
        fast = [srv.get("/files/f") for _ in range(20)]
        stalled = [f.result() for f in stalled]
    assert all(r.status == 200 and r.body == b"fast" for r in fast), fast
    assert max(r.elapsed for r in fast) < 1.0, [round(r.elapsed, 3) for r in fast]
    # S3Timeout 2s each, not one after the other
    assert all(r.status == 504 and 1.5 < r.elapsed < 4.0 for r in stalled), stalled


@pytest.mark.expect_log("LF02002")
def test_wrong_secret_is_a_clear_error(httpd, moto, logs, bucket):
    moto.s3.put_object(bucket, "w", b"w", content_type="text/plain")
    conf = s3.location(bucket, moto.endpoint, s3.keyfile(logs, moto, secret="wrong" * 8),
                       upload=False)
    srv = httpd.start(conf, modules=("s3",))
    r = srv.get("/files/w")
    assert r.status == 502
    assert b"SignatureDoesNotMatch" not in r.body
    log = srv.error_log.read()
    assert "GET w: S3 answered 403 SignatureDoesNotMatch" in log
    assert "request id" in log
    assert "wrongwrong" not in log  # the secret never reaches the log


def test_endpoint_down_is_502(httpd, moto, logs, bucket):
    from harness.proc import free_port
    srv = s3.start(httpd, moto, logs, bucket, endpoint="http://127.0.0.1:%d" % free_port(),
                   upload=False, extra="S3Attempts 1")
    httpd.expect_log("LF02003")
    r = srv.get("/files/x")
    assert r.status == 502


@pytest.mark.one_mpm  # the transport's policy, whatever the MPM
@pytest.mark.expect_log("LF02003")
def test_untrusted_certificate_fails_at_once_with_the_reason(httpd, moto, logs, bucket,
                                                             tls_server):
    """An endpoint whose certificate is not trusted fails the same way every time: one TLS
    connection, no retries (S3Attempts 3 is the default), 502, and the log names the
    certificate problem (curl's words), not an APR status that says nothing."""
    srv = s3.start(httpd, moto, logs, bucket, endpoint=tls_server.url, upload=False)
    r = srv.get("/files/x")
    assert r.status == 502
    assert tls_server.accepted == 1, tls_server.failures
    assert tls_server.handshakes == 0 and tls_server.requests == []
    line = srv.error_log.wait_for("LF02003")
    assert "GET x: no answer from S3: SSL certificate problem" in line, line
    assert "(20014)" not in line and "Internal error" not in line, line
    assert "LF00200" not in srv.error_log.read()  # no "retrying"
