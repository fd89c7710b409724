"""mod_s3's check for mod_health: `HealthCheck NAME s3 BUCKET` runs HeadBucket with the settings
of the S3 section of that bucket; a bucket that is gone (or refused) fails readiness."""

from harness import s3
from harness.health import READY, check, wait_check, wait_ready

FAST = "interval=300ms timeout=300ms"


def start(httpd, moto, logs, bucket, checked, endpoint=None):
    conf = s3.location(bucket, endpoint or moto.endpoint, s3.keyfile(logs, moto), upload=False)
    conf += "HealthCheck uploads s3 %s %s\n" % (checked, FAST)
    return httpd.start(conf, modules=("s3", "health"))


def test_bucket_there_is_ready(httpd, moto, logs):
    bucket = moto.s3.new_bucket("lf-hc")
    srv = start(httpd, moto, logs, bucket, bucket)
    wait_check(srv, "uploads", "up")
    assert srv.get(READY).status == 200


def test_bucket_gone_is_not_ready(httpd, moto, logs):
    bucket = moto.s3.new_bucket("lf-hc")
    srv = start(httpd, moto, logs, bucket, bucket)
    wait_check(srv, "uploads", "up")
    moto.s3.delete_bucket(bucket)
    httpd.expect_log("LF04010")
    doc = wait_check(srv, "uploads", "down")
    assert "HeadBucket: HTTP 404" in check(doc, "uploads")["error"]
    wait_ready(srv, 503)


def test_bucket_without_a_section_is_down(httpd, moto, logs):
    bucket = moto.s3.new_bucket("lf-hc")
    srv = start(httpd, moto, logs, bucket, "not-configured-here")
    httpd.expect_log("LF04010")
    doc = wait_check(srv, "uploads", "down")
    assert "no S3 section for bucket not-configured-here" in check(doc, "uploads")["error"]
