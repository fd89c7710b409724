"""mod_s3 upload checksums (issue 15, S3PayloadSigning): over HTTPS an upload body goes out as the
AWS SDKs send it over TLS, `x-amz-content-sha256: UNSIGNED-PAYLOAD` with its CRC32 in a signed
`x-amz-checksum-crc32` header, for a PutObject and for every UploadPart; the multipart upload
declares `x-amz-checksum-algorithm: CRC32` when it is created and lists each part's
`<ChecksumCRC32>` when it is completed. Over plain HTTP, and where `S3PayloadSigning On` says so,
the body's SHA-256 is signed instead, with no checksum header; `S3PayloadSigning Off` sends CRC32
over plain HTTP too.

What went out is recorded by a FaultProxy between the TLS front and moto (httpd -> HAProxy TLS,
certificate from the session's test CA -> FaultProxy -> moto with SigV4 checking on, so every
signature, checksum headers included, is checked). moto does NOT check a checksum against the
bytes (test_moto_does_not_check_checksums pins that), so a wrong one would pass it: the tests
check each checksum that was sent against the bytes moto stored instead, and against the
composite checksum moto computes itself from the stored parts. How a refusal by S3 (400
BadDigest) ends is shown with the proxy answering one.

One httpd for the whole file, under one MPM: the checksum is computed in the request's thread
whatever the MPM.
"""
import base64
import hashlib
import os
import re
import types
import zlib

import pytest

from harness import paths, s3, tls
from harness.backends import TlsFront
from harness.faultproxy import FaultProxy, s3_error_xml
from harness.httpd import Httpd, selected_mpms

LOG = "test_053_s3_checksum"
OCTETS = {"Content-Type": "application/octet-stream"}
UNSIGNED = "UNSIGNED-PAYLOAD"

# The sections: (path, S3PayloadSigning or None, over https, CRC32 expected)
SECTIONS = [
    ("/auto", None, True, True),
    ("/signed", "On", True, False),
    ("/plain", None, False, False),
    ("/plain-off", "Off", False, True),
]


def crc32_b64(data):
    """x-amz-checksum-crc32 as S3 (and botocore) compute it: base64 of the big-endian CRC32."""
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def composite_crc32(part_checksums):
    """S3's checksum of a multipart object uploaded with CRC32 parts: the CRC32 of the parts'
    CRC32s (their 4 bytes each, in order), base64."""
    return crc32_b64(b"".join(base64.b64decode(c) for c in part_checksums))


def signed_headers(exchange):
    m = re.search(r"SignedHeaders=([^,]+)", exchange.header("Authorization", ""))
    return m.group(1).split(";") if m else []


@pytest.fixture(scope="module")
def site(moto, moto_tls):
    """httpd with one section per SECTIONS entry onto one bucket: the https ones through a TLS
    front (certificate from the session's test CA, S3CAFile at server level) before a recording
    FaultProxy before moto, the http ones through the proxy directly. Yields a namespace: srv,
    bucket, proxy."""
    logs = paths.log_dir(LOG)
    keys = s3.keyfile(logs, moto)
    bucket = moto.s3.new_bucket("lf-checksum")
    proxy = FaultProxy(moto.port).start()
    started = [proxy]
    try:
        crt, key = tls.make_cert(os.path.join(logs, "certs"), "front", ca_dir=moto_tls.ca_dir)
        front = TlsFront(paths.sub_dir(logs, "front"), proxy.port, crt, key).start()
        started.append(front)
        conf = "S3CAFile %s\n" % moto_tls.ca + "".join(
            s3.location(bucket, front.endpoint if https else proxy.endpoint, keys, path=path,
                        extra="S3PayloadSigning %s" % signing if signing else "")
            for path, signing, https, _ in SECTIONS)
        srv = Httpd("httpd", logs, mpm=selected_mpms()[0], conf=conf, modules=("s3",),
                    env={s3.TOKEN_ENV: s3.TOKEN_SECRET})
        started.append(srv)
        srv.start()
        yield types.SimpleNamespace(srv=srv, bucket=bucket, proxy=proxy)
    finally:
        for server in reversed(started):
            if isinstance(server, Httpd):
                server.cleanup()
            else:
                server.stop()
        moto.s3.delete_bucket(bucket)
    bad = srv.error_log.bad_lines()
    assert not bad, "unexpected lines in %s:\n%s" % (srv.error_log.path, "\n".join(bad))


@pytest.fixture(autouse=True)
def attach(request, site):
    """Let conftest check the shared server's error log after each test (lines written during
    the test must be declared with expect_log); each test sees only its own requests."""
    request.node._lf_httpds = [site.srv]
    site.proxy.clear()


def put(site, path, data):
    r = s3.put(site.srv, path, data, s3.mint(prefix="up/"), headers=OCTETS)
    assert r.status == 201, r
    return r


def head_checksum(moto, bucket, key):
    """moto's HeadObject with ChecksumMode ENABLED: the object's ChecksumCRC32, or None."""
    return moto.call("call", service="s3", method="head_object",
                     params={"Bucket": bucket, "Key": key,
                             "ChecksumMode": "ENABLED"}).get("ChecksumCRC32")


def test_put_over_https_sends_crc32_unsigned(site, moto):
    """A body of one part is one PutObject: UNSIGNED-PAYLOAD, its CRC32 in x-amz-checksum-crc32
    (signed) and x-amz-sdk-checksum-algorithm CRC32; the checksum is that of the bytes moto
    stored, which is what moto's HeadObject reports too; the log says how it went."""
    data = os.urandom(300 * 1024 + 7)
    log_start = site.srv.error_log.size()
    put(site, "/auto/up/single.bin", data)
    stored = moto.s3.get_bytes(site.bucket, "up/single.bin")
    assert stored == data
    (ex,) = site.proxy.find("PUT", r"/up/single\.bin")
    assert ex.header("x-amz-content-sha256") == UNSIGNED
    assert ex.header("x-amz-checksum-crc32") == crc32_b64(stored)
    assert ex.header("x-amz-sdk-checksum-algorithm") == "CRC32"
    assert {"x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm",
            "x-amz-content-sha256"} <= set(signed_headers(ex))
    assert ex.body == data and ex.upstream_status == 200
    assert head_checksum(moto, site.bucket, "up/single.bin") == crc32_b64(stored)
    lines = [l for l in site.srv.error_log.lines(log_start) if "LF02044" in l]
    assert len(lines) == 1 and "up/single.bin stored: %d bytes in 1 part, payload unsigned, " \
        "with CRC32" % len(data) in lines[0], lines


def test_multipart_over_https_sends_crc32_per_part(site, moto):
    """Above one part: CreateMultipartUpload declares CRC32, each UploadPart carries its own
    part's CRC32 with UNSIGNED-PAYLOAD, CompleteMultipartUpload lists them; each is the CRC32 of
    the bytes moto stored for that part, and moto's composite checksum, computed from the
    stored parts, is the one the sent checksums give."""
    data = os.urandom(2 * s3.PART + 12345)
    put(site, "/auto/up/multi.bin", data)
    assert moto.s3.get_bytes(site.bucket, "up/multi.bin") == data
    (create,) = site.proxy.find("POST", r"\?uploads")
    assert create.header("x-amz-checksum-algorithm") == "CRC32"
    assert "x-amz-checksum-algorithm" in signed_headers(create)
    parts = sorted(site.proxy.find("PUT", r"partNumber="),
                   key=lambda e: int(re.search(r"partNumber=(\d+)", e.query).group(1)))
    assert len(parts) == 3
    sent = []
    for i, ex in enumerate(parts):
        piece = data[i * s3.PART:(i + 1) * s3.PART]
        assert ex.body_len == len(piece)
        assert ex.header("x-amz-content-sha256") == UNSIGNED
        assert ex.header("x-amz-checksum-crc32") == crc32_b64(piece)
        assert "x-amz-checksum-crc32" in signed_headers(ex)
        sent.append(ex.header("x-amz-checksum-crc32"))
    (complete,) = site.proxy.find("POST", r"uploadId=")
    assert re.findall(r"<ChecksumCRC32>([^<]+)</ChecksumCRC32>", complete.body.decode()) == sent
    assert head_checksum(moto, site.bucket, "up/multi.bin") == composite_crc32(sent)


@pytest.mark.parametrize("path,signing,https,crc", SECTIONS[1:],
                         ids=[s[0].strip("/") for s in SECTIONS[1:]])
def test_where_the_payload_is_signed_or_not(site, moto, path, signing, https, crc):
    """S3PayloadSigning On signs the SHA-256 over https too; over plain http auto signs it;
    Off sends CRC32 over plain http as well. A signed upload carries no checksum header, does
    not declare an algorithm and lists no part checksums."""
    data = os.urandom(s3.PART + 1)
    key = "up/%s.bin" % path.strip("/")
    put(site, path + "/" + key, data)
    assert moto.s3.get_bytes(site.bucket, key) == data
    (create,) = site.proxy.find("POST", r"\?uploads")
    parts = site.proxy.find("PUT", r"partNumber=")
    (complete,) = site.proxy.find("POST", r"uploadId=")
    assert len(parts) == 2
    for ex in parts:
        n = int(re.search(r"partNumber=(\d+)", ex.query).group(1))
        piece = data[(n - 1) * s3.PART:n * s3.PART]
        if crc:
            assert ex.header("x-amz-content-sha256") == UNSIGNED
            assert ex.header("x-amz-checksum-crc32") == crc32_b64(piece)
        else:
            assert ex.header("x-amz-content-sha256") == hashlib.sha256(piece).hexdigest()
            assert ex.header("x-amz-checksum-crc32") is None
            assert ex.header("x-amz-sdk-checksum-algorithm") is None
    assert (create.header("x-amz-checksum-algorithm") == "CRC32") == crc
    assert ("<ChecksumCRC32>" in complete.body.decode()) == crc


@pytest.mark.expect_log("LF02002")
def test_a_refused_checksum_fails_the_upload(site, moto):
    """When S3 finds that a part's bytes do not match its checksum it answers 400 BadDigest (the
    proxy answers so here, moto would not): the client gets 502, the log names the refusal,
    the upload is aborted and nothing is stored."""
    site.proxy.add_rule("PUT", r"partNumber=2", status=400, count=1, body=s3_error_xml(
        "BadDigest", "The CRC32 you specified did not match the calculated checksum."))
    log_start = site.srv.error_log.size()
    r = s3.put(site.srv, "/auto/up/refused.bin", os.urandom(s3.PART + 1), s3.mint(prefix="up/"),
               headers=OCTETS)
    assert r.status == 502, r
    lines = [l for l in site.srv.error_log.lines(log_start) if "LF02002" in l]
    assert len(lines) == 1 and "UploadPart up/refused.bin: S3 answered 400 BadDigest" in lines[0], \
        lines
    assert site.proxy.count("PUT", r"partNumber=2") == 1   # a refused checksum is not retried
    assert site.proxy.count("DELETE", r"uploadId=") == 1
    assert not moto.s3.exists(site.bucket, "up/refused.bin")
    assert moto.s3.list_multipart_uploads(site.bucket) == []


def test_moto_does_not_check_checksums(site, moto):
    """The stand-in's limit that the tests above work around: moto stores an object sent with a
    wrong x-amz-checksum-crc32 (real S3 answers 400 BadDigest) and reports the wrong value
    back (botocore's GetObject then refuses it, which is why HeadObject is asked here). Should
    moto start checking, this fails, and the tests above can let it refuse a wrong checksum
    instead of comparing with the stored bytes."""
    data = b"not what the checksum says"
    moto.call("call", service="s3", method="put_object",
              params={"Bucket": site.bucket, "Key": "moto-wrong", "Body": data.decode(),
                      "ChecksumAlgorithm": "CRC32", "ChecksumCRC32": "AAAAAA=="})
    assert moto.s3.head_object(site.bucket, "moto-wrong").content_length == len(data)
    assert head_checksum(moto, site.bucket, "moto-wrong") == "AAAAAA=="
    assert crc32_b64(data) != "AAAAAA=="
