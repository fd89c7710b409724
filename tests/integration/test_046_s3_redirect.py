"""mod_s3 redirect mode: GET answers 302/307 to a presigned URL, which curl follows to the
object; the URL never outlives the credentials that signed it. moto cannot serve presigned URLs
with signature checking on (DESIGN.md), so the URL is followed to a second moto without it; the
signature itself is checked against AWS's published examples in tests/unit/test_aws_sigv4.c."""
import os
import subprocess
import urllib.parse

import pytest

from harness import s3
from harness.moto import Moto


@pytest.fixture(scope="module")
def open_moto(session_logs):
    d = os.path.join(session_logs, "moto-noauth")
    os.makedirs(d, exist_ok=True)
    m = Moto(d, auth=False).start()
    yield m
    m.stop()


def query_of(location):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def test_redirect_followed_by_curl(httpd, open_moto, logs):
    bucket = open_moto.s3.new_bucket("lf-redir")
    data = os.urandom(100000)
    open_moto.s3.put_object(bucket, "pics/cat 1.jpg", data, content_type="image/jpeg")
    srv = s3.start(httpd, open_moto, logs, bucket, upload=False,
                   extra="S3Download redirect\nS3RedirectExpires 10m\nS3Disposition attachment")
    r = srv.get("/files/pics/cat%201.jpg")
    assert r.status == 302
    loc = r.header("Location")
    assert loc.startswith(open_moto.endpoint + "/" + bucket + "/pics/cat%201.jpg?")
    q = query_of(loc)
    assert q["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert q["X-Amz-Expires"] == "600"
    assert q["X-Amz-Credential"].startswith(open_moto.access_key + "/")
    assert q["X-Amz-SignedHeaders"] == "host"
    assert q["response-content-disposition"] == 'attachment; filename="cat 1.jpg"'
    assert "no-store" in r.header("Cache-Control")
    # (moto ignores response-content-disposition; S3 answers with it: the URL carries it, above)
    out = subprocess.run(["curl", "-sS", "-L", "-o", "-",
                          "http://127.0.0.1:%d/files/pics/cat%%201.jpg" % srv.port],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == data


def test_redirect_307(httpd, open_moto, logs):
    bucket = open_moto.s3.new_bucket("lf-redir")
    srv = s3.start(httpd, open_moto, logs, bucket, upload=False, extra="S3Download redirect 307")
    r = srv.get("/files/x")
    assert r.status == 307
    assert query_of(r.header("Location"))["X-Amz-Expires"] == "300"  # the default


def test_redirect_never_outlives_the_credentials(httpd, moto, imds, logs):
    """Instance-role credentials that expire in 20 minutes cap a 7-day URL at 20 minutes."""
    imds.lifetime = 1200
    bucket = moto.s3.new_bucket("lf-redir")
    conf = s3.location(bucket, moto.endpoint, None, upload=False,
                       extra="S3Download redirect\nS3RedirectExpires 7d")
    srv = httpd.start(conf, modules=("s3",), env=imds_env(imds))
    q = query_of(srv.get("/files/k").header("Location"))
    assert 1100 <= int(q["X-Amz-Expires"]) <= 1200
    assert q["X-Amz-Security-Token"] == imds.current["token"]


def imds_env(imds):
    """An environment where only the instance role has credentials."""
    return {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint, "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_EC2_METADATA_DISABLED": ""}
