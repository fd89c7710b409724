"""Smoke tests of the S3 stand-ins: moto's state read back with boto3 (moto.s3), the fault proxy
in front of moto, and the IMDSv2 stand-in whose rotating credentials moto accepts."""
import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import time
import urllib.parse

import pytest

from harness.imds import CREDS_PATH, TOKEN_PATH
from harness.moto import MotoError, sigv4_headers


def s3(conn, creds, method, path, body=b"", headers=None, chunked=False, expect=False):
    """One SigV4-signed request on an open http.client connection (to moto or to the proxy):
    signed for the host:port the connection goes to. Returns (status, headers, body)."""
    host = "%s:%d" % (conn.host, conn.port)
    hdrs = sigv4_headers(method, "http://%s%s" % (host, path), "us-east-1", "s3",
                         creds["access_key"], creds["secret_key"], body, headers or {})
    if expect:
        hdrs["Expect"] = "100-continue"         # not signed, as curl adds it
    if chunked:
        pieces = [body[i:i + 7000] for i in range(0, len(body), 7000)]
        conn.request(method, path, body=iter(pieces), headers=hdrs, encode_chunked=True)
    else:
        conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    return r.status, r.headers, r.read()


def boot(moto):
    return {"access_key": moto.access_key, "secret_key": moto.secret_key}


def conn_to(endpoint, timeout=10):
    u = urllib.parse.urlsplit(endpoint)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)


def q(key):
    return urllib.parse.quote(key, safe="/-_.~")


# --- moto.s3: the tests' view of moto's state ------------------------------------------------

def test_s3_state_roundtrip(moto):
    bucket = moto.s3.new_bucket()
    assert bucket in moto.s3.list_buckets()
    keys = {"plain.txt": b"plain", "dir/with space.bin": bytes(range(256)) * 40,
            "dir/ünï cødé 日本.txt": "ünï\n".encode(), "dir/a+b=c@d.txt": b"\x00\r\n"}
    for key, data in keys.items():
        moto.s3.put_object(bucket, key, data, content_type="application/x-lf",
                           metadata={"owner": "lf"})
    for key, data in keys.items():
        o = moto.s3.get_object(bucket, key)
        assert o.body == data
        assert o.content_type == "application/x-lf"
        assert o.metadata == {"owner": "lf"}
        assert o.content_length == len(data)
        assert o.etag == '"%s"' % hashlib.md5(data).hexdigest()
    assert moto.s3.list_keys(bucket) == sorted(keys)
    assert moto.s3.list_keys(bucket, prefix="dir/ü") == ["dir/ünï cødé 日本.txt"]
    assert [o["size"] for o in moto.s3.list_objects(bucket, "plain")] == [5]
    assert moto.s3.head_object(bucket, "plain.txt").content_length == 5
    assert moto.s3.exists(bucket, "plain.txt") and not moto.s3.exists(bucket, "nope")
    with pytest.raises(MotoError) as e:
        moto.s3.get_object(bucket, "nope")
    assert e.value.code == "NoSuchKey" and e.value.status == 404
    assert moto.s3.list_multipart_uploads(bucket) == []
    moto.s3.delete_bucket(bucket)
    assert bucket not in moto.s3.list_buckets()


# --- the fault proxy ------------------------------------------------------------------------

def test_faultproxy_forwards_signed_requests(moto, faultproxy):
    bucket = moto.s3.new_bucket()
    creds = boot(moto)
    c = conn_to(faultproxy.endpoint)
    data = os.urandom(300000)
    # one kept-alive connection: Content-Length with Expect: 100-continue, chunked, GET, HEAD
    assert s3(c, creds, "PUT", "/%s/cl" % bucket, data, expect=True)[0] == 200
    assert s3(c, creds, "PUT", "/%s/chunked" % bucket, data[:50000], chunked=True)[0] == 200
    status, hdrs, body = s3(c, creds, "GET", "/%s/cl" % bucket)
    assert status == 200 and body == data
    status, hdrs, body = s3(c, creds, "HEAD", "/%s/chunked" % bucket)
    assert status == 200 and hdrs["Content-Length"] == "50000" and body == b""
    assert c.sock is not None                   # still the same connection
    c.close()
    assert moto.s3.get_bytes(bucket, "cl") == data
    assert moto.s3.get_bytes(bucket, "chunked") == data[:50000]
    assert faultproxy.requests[1].body == data[:50000]          # de-chunked
    got = [(e.method, e.target, e.status, e.injected, e.body_len) for e in faultproxy.requests]
    assert got == [("PUT", "/%s/cl" % bucket, 200, False, 300000),
                   ("PUT", "/%s/chunked" % bucket, 200, False, 50000),
                   ("GET", "/%s/cl" % bucket, 200, False, 0),
                   ("HEAD", "/%s/chunked" % bucket, 200, False, 0)]
    # a signature made for moto's own host:port does not pass with the proxy's Host header:
    # moto checks the Host it receives (which the proxy forwards unchanged)
    c = conn_to(faultproxy.endpoint)
    hdrs = sigv4_headers("GET", moto.endpoint + "/", "us-east-1", "s3", moto.access_key,
                         moto.secret_key)
    hdrs["host"] = faultproxy.host
    c.request("GET", "/", headers=hdrs)
    r = c.getresponse()
    assert r.status == 403 and b"SignatureDoesNotMatch" in r.read()


def test_faultproxy_with_libcurl(moto, faultproxy, tmp_path):
    """curl (libcurl, as the module) through the proxy: a 2 MB PUT with Expect: 100-continue,
    then two GETs that reuse one connection."""
    bucket = moto.s3.new_bucket()
    data = os.urandom(2 * 1024 * 1024)
    src = tmp_path / "src"
    src.write_bytes(data)
    url = "%s/%s/big" % (faultproxy.endpoint, bucket)
    curl = ["curl", "-sS", "-v", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
            "%s:%s" % (moto.access_key, moto.secret_key),
            # moto recomputes the signature with this header; curl signs it when given
            "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
    r = subprocess.run(curl + ["-T", str(src), url, "-o", "/dev/null", "-w", "%{http_code}"],
                       capture_output=True, timeout=60)
    assert r.stdout == b"200", r.stderr.decode()
    assert b"Expect: 100-continue" in r.stderr
    r = subprocess.run(curl + [url, "-o", str(tmp_path / "a"), url, "-o", str(tmp_path / "b")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert b"Re-using existing connection" in r.stderr
    assert (tmp_path / "a").read_bytes() == data and (tmp_path / "b").read_bytes() == data


def test_faultproxy_injects_503_once_then_forwards(moto, faultproxy):
    bucket = moto.s3.new_bucket()
    moto.s3.put_object(bucket, "k", b"value")
    rule = faultproxy.add_rule("GET", r"^/%s/k$" % bucket, status=503, count=1)
    c = conn_to(faultproxy.endpoint)
    status, hdrs, body = s3(c, boot(moto), "GET", "/%s/k" % bucket)
    assert status == 503
    assert hdrs["Content-Type"] == "application/xml" and hdrs["x-amz-request-id"]
    assert b"<Code>SlowDown</Code>" in body and b"<Resource>/%s/k</Resource>" % bucket.encode() \
        in body
    # the connection stays usable, and the second GET reaches moto
    status, hdrs, body = s3(c, boot(moto), "GET", "/%s/k" % bucket)
    assert (status, body) == (200, b"value")
    assert rule.applied == 1 and rule.matched == 2 and rule.exhausted
    assert faultproxy.count("GET", r"/k$") == 2
    assert [(e.status, e.injected) for e in faultproxy.find("GET", r"/k$")] == \
        [(503, True), (200, False)]
    # after=1: the first match passes, the next one gets a 500 InternalError
    faultproxy.clear()
    faultproxy.add_rule("GET", "/k$", status=500, after=1, count=1)
    assert s3(c, boot(moto), "GET", "/%s/k" % bucket)[0] == 200
    status, _, body = s3(c, boot(moto), "GET", "/%s/k" % bucket)
    assert status == 500 and b"<Code>InternalError</Code>" in body
    assert s3(c, boot(moto), "GET", "/%s/k" % bucket)[0] == 200
    # delay: forwarded, late
    faultproxy.add_rule("GET", "/k$", action="delay", seconds=0.3, count=1)
    t0 = time.monotonic()
    assert s3(c, boot(moto), "GET", "/%s/k" % bucket)[0] == 200
    assert time.monotonic() - t0 >= 0.3
    assert faultproxy.requests[-1].action == "delay" and not faultproxy.requests[-1].injected


def test_faultproxy_stall(moto, faultproxy):
    bucket = moto.s3.new_bucket()
    faultproxy.add_rule("PUT", "/stalled$", action="stall")
    c = conn_to(faultproxy.endpoint, timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(socket.timeout):
        s3(c, boot(moto), "PUT", "/%s/stalled" % bucket, b"x" * 1000)
    assert time.monotonic() - t0 >= 0.5
    (ex,) = faultproxy.find("PUT", "/stalled$")
    assert ex.injected and ex.status is None and ex.body_len == 1000 and not ex.done
    c.close()                                   # the client gives up: the stall ends
    faultproxy.wait_for("PUT", "/stalled$", done=True, timeout=5)
    assert not moto.s3.exists(bucket, "stalled")
    # a stall with a time limit closes the connection afterwards
    faultproxy.add_rule("GET", "/short$", action="stall", seconds=0.3)
    c = conn_to(faultproxy.endpoint, timeout=5)
    t0 = time.monotonic()
    with pytest.raises(http.client.RemoteDisconnected):
        s3(c, boot(moto), "GET", "/%s/short" % bucket)
    assert 0.3 <= time.monotonic() - t0 < 4


def test_faultproxy_multipart_error200_abort(moto, faultproxy):
    bucket = moto.s3.new_bucket()
    creds = boot(moto)
    c = conn_to(faultproxy.endpoint)

    def create(key):
        status, _, body = s3(c, creds, "POST", "/%s/%s?uploads" % (bucket, key))
        assert status == 200, body
        return re.search(rb"<UploadId>([^<]+)</UploadId>", body).group(1).decode()

    uid = create("mp")
    part = os.urandom(1000)
    qs = "partNumber=1&uploadId=%s" % urllib.parse.quote(uid, safe="")
    status, hdrs, _ = s3(c, creds, "PUT", "/%s/mp?%s" % (bucket, qs), part)
    assert status == 200
    assert [u["key"] for u in moto.s3.list_multipart_uploads(bucket)] == ["mp"]
    assert [p["size"] for p in moto.s3.list_parts(bucket, "mp", uid)] == [1000]
    faultproxy.add_rule("POST", "uploadId=", action="error200", count=1)
    done = ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
            "</CompleteMultipartUpload>" % hdrs["ETag"]).encode()
    status, _, body = s3(c, creds, "POST", "/%s/mp?uploadId=%s"
                         % (bucket, urllib.parse.quote(uid, safe="")), done)
    assert status == 200 and b"<Error><Code>InternalError</Code>" in body
    (ex,) = faultproxy.find("POST", "uploadId=")
    assert ex.injected and ex.upstream_status == 200 and ex.body == done
    assert moto.s3.get_bytes(bucket, "mp") == part       # moto did complete it
    # AbortMultipartUpload is visible in the record
    uid2 = create("other")
    status, _, _ = s3(c, creds, "DELETE", "/%s/other?uploadId=%s"
                      % (bucket, urllib.parse.quote(uid2, safe="")))
    assert status == 204
    assert faultproxy.count("DELETE", r"/other\?uploadId=") == 1
    assert moto.s3.list_multipart_uploads(bucket) == []


def test_faultproxy_close_reset_truncate(moto, faultproxy):
    bucket = moto.s3.new_bucket()
    data = os.urandom(100000)
    moto.s3.put_object(bucket, "obj", data)
    faultproxy.add_rule("GET", "/obj$", action="close", count=1)
    faultproxy.add_rule("GET", "/obj$", action="reset", count=1)
    faultproxy.add_rule("GET", "/obj$", action="truncate", nbytes=1000, count=1)
    with pytest.raises(http.client.RemoteDisconnected):
        s3(conn_to(faultproxy.endpoint), boot(moto), "GET", "/%s/obj" % bucket)
    with pytest.raises(ConnectionResetError) as e:
        s3(conn_to(faultproxy.endpoint), boot(moto), "GET", "/%s/obj" % bucket)
    assert not isinstance(e.value, http.client.RemoteDisconnected)
    with pytest.raises(http.client.IncompleteRead) as e:
        s3(conn_to(faultproxy.endpoint), boot(moto), "GET", "/%s/obj" % bucket)
    assert e.value.partial == data[:1000]
    status, _, body = s3(conn_to(faultproxy.endpoint), boot(moto), "GET", "/%s/obj" % bucket)
    assert status == 200 and body == data
    assert [(e.action, e.status, e.injected) for e in faultproxy.requests] == [
        ("close", None, True), ("reset", None, True), ("truncate", 200, True),
        ("forward", 200, False)]


# --- the IMDSv2 stand-in ----------------------------------------------------------------------

def imds_req(imds, method, path, headers=None):
    c = conn_to(imds.endpoint)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.headers, r.read().decode()
    finally:
        c.close()


def imds_creds(imds):
    status, hdrs, token = imds_req(imds, "PUT", TOKEN_PATH,
                                   {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert status == 200 and hdrs["X-aws-ec2-metadata-token-ttl-seconds"] == "60"
    auth = {"X-aws-ec2-metadata-token": token}
    status, _, role = imds_req(imds, "GET", CREDS_PATH, auth)
    assert status == 200
    status, _, doc = imds_req(imds, "GET", CREDS_PATH + role, auth)
    assert status == 200
    assert '"Code" : "Success"' in doc             # the real service's spacing
    return json.loads(doc)


def list_buckets_with(moto, access_key, secret_key, token):
    """GET / signed with temporary credentials (the token is a signed header)."""
    c = conn_to(moto.endpoint)
    hdrs = {"X-Amz-Security-Token": token} if token is not None else {}
    status, _, body = s3(c, {"access_key": access_key, "secret_key": secret_key}, "GET", "/",
                         headers=hdrs)
    return status, body


def test_imds_hands_out_credentials_moto_accepts(moto, imds):
    doc = imds_creds(imds)
    assert doc["Type"] == "AWS-HMAC" and doc["AccessKeyId"].startswith("ASIA")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["Expiration"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["LastUpdated"])
    status, body = list_buckets_with(moto, doc["AccessKeyId"], doc["SecretAccessKey"],
                                     doc["Token"])
    assert status == 200 and b"ListAllMyBucketsResult" in body
    # moto checks the session token
    status, body = list_buckets_with(moto, doc["AccessKeyId"], doc["SecretAccessKey"],
                                     ("y" if doc["Token"][0] == "x" else "x") + doc["Token"][1:])
    assert status == 400 and b"<Code>InvalidToken</Code>" in body
    # rotation: other keys, also accepted
    imds.rotate()
    doc2 = imds_creds(imds)
    assert doc2["AccessKeyId"] != doc["AccessKeyId"]
    assert list_buckets_with(moto, doc2["AccessKeyId"], doc2["SecretAccessKey"],
                             doc2["Token"])[0] == 200
    # a zero lifetime: every credentials request after expiration rotates by itself
    imds.lifetime = 0
    seen = {imds_creds(imds)["AccessKeyId"] for _ in range(3)}
    assert len(seen) == 3
    assert imds.count(imds.credentials_path) == 5
    assert imds.count(TOKEN_PATH, method="PUT", status=200) == 5


def test_imds_refuses_what_the_real_one_refuses(imds):
    assert imds_req(imds, "GET", CREDS_PATH)[0] == 401                      # no token
    assert imds_req(imds, "GET", CREDS_PATH, {"X-aws-ec2-metadata-token": "bogus"})[0] == 401
    assert imds_req(imds, "PUT", TOKEN_PATH)[0] == 400                      # no TTL
    assert imds_req(imds, "PUT", TOKEN_PATH,
                    {"X-aws-ec2-metadata-token-ttl-seconds": "21601"})[0] == 400
    assert imds_req(imds, "PUT", TOKEN_PATH, {"X-aws-ec2-metadata-token-ttl-seconds": "5",
                                              "X-Forwarded-For": "10.0.0.1"})[0] == 403
    status, _, token = imds_req(imds, "PUT", TOKEN_PATH,
                                {"X-aws-ec2-metadata-token-ttl-seconds": "5"})
    auth = {"X-aws-ec2-metadata-token": token}
    assert imds_req(imds, "GET", CREDS_PATH + "other-role", auth)[0] == 404
    imds.fail(500, count=1, path=CREDS_PATH)
    assert imds_req(imds, "GET", CREDS_PATH, auth)[0] == 500
    assert imds_req(imds, "GET", CREDS_PATH, auth)[0] == 200
    imds.expire_tokens()
    assert imds_req(imds, "GET", CREDS_PATH, auth)[0] == 401
    assert [r.status for r in imds.requests if r.path == CREDS_PATH] == [401, 401, 500, 200, 401]


def test_user_keys_and_revocation(moto):
    k = moto.create_user_key()
    assert list_buckets_with(moto, k["access_key"], k["secret_key"], None)[0] == 200
    # moto refuses a session token with an IAM user's key
    status, body = list_buckets_with(moto, k["access_key"], k["secret_key"], "token")
    assert status == 400 and b"<Code>InvalidToken</Code>" in body
    moto.delete_access_key(k["user"], k["access_key"])
    status, body = list_buckets_with(moto, k["access_key"], k["secret_key"], None)
    assert status == 403 and b"InvalidAccessKeyId" in body
