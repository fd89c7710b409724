"""mod_s3 hand-off (the X-Sendfile pattern): the application authorizes and answers with an
X-S3-Key header; Apache replaces that response with the object streamed from S3. The header
never reaches the client; a missing object is a 404 page; ranges pass through. The application
here is a CGI script run by httpd's own mod_cgid/mod_cgi."""
import os

import pytest

from harness import s3
from harness.httpd import DEFAULT_APACHE_MODULES


def start(httpd, moto, logs, bucket, mpm):
    conf, cgi = s3.handoff_app(logs, mpm, bucket, moto.endpoint, s3.keyfile(logs, moto))
    return httpd.start(conf, modules=("s3",), apache_modules=DEFAULT_APACHE_MODULES + (cgi,))


def test_handoff_streams_the_object_instead_of_the_page(httpd, moto, logs, bucket, mpm):
    data = os.urandom(2 * 1024 * 1024 + 3)
    moto.s3.put_object(bucket, "private/u1/invoice 7.pdf", data, content_type="application/pdf")
    srv = start(httpd, moto, logs, bucket, mpm)
    r = srv.get("/app/download.cgi?u1/invoice%207.pdf,attachment", timeout=30)
    assert r.status == 200
    assert r.body == data
    assert r.header("Content-Type") == "application/pdf"
    assert r.header("Content-Length") == str(len(data))
    assert r.header("X-S3-Key") is None and r.header("X-S3-Disposition") is None
    assert r.header("Content-Disposition") == 'attachment; filename="invoice 7.pdf"'
    # a leading slash is relative to the prefix too
    r = srv.get("/app/download.cgi?/u1/invoice%207.pdf,", headers={"Range": "bytes=0-99"})
    assert r.status == 206 and r.body == data[:100]


def test_handoff_of_a_missing_object_is_a_404_page(httpd, moto, logs, bucket, mpm):
    srv = start(httpd, moto, logs, bucket, mpm)
    r = srv.get("/app/download.cgi?nope.txt,")
    assert r.status == 404
    assert b"replaced" not in r.body and b"NoSuchKey" not in r.body
    assert r.header("X-S3-Key") is None


def test_application_errors_pass_untouched(httpd, moto, logs, bucket, mpm):
    srv = start(httpd, moto, logs, bucket, mpm)
    r = srv.get("/app/download.cgi?denied")
    assert r.status == 403 and r.body == b"no\n"


@pytest.mark.expect_log("LF02012")
def test_handoff_of_a_bad_key_is_500(httpd, moto, logs, bucket, mpm):
    srv = start(httpd, moto, logs, bucket, mpm)
    r = srv.get("/app/download.cgi?../../etc/passwd,")
    assert r.status == 500
