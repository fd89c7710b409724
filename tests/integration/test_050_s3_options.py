"""mod_s3 options that change who may write and where bytes go: httpd's own authentication as
the upload authorization (S3UploadRequireUser), encoded slashes in keys, credentials from a
profile of the shared credentials file, and the spool's temp directory."""
import base64
import os
import subprocess

import pytest

from harness import s3
from harness.httpd import DEFAULT_APACHE_MODULES
from harness.http import request

OCTETS = {"Content-Type": "application/octet-stream"}
AUTH_MODULES = DEFAULT_APACHE_MODULES + ("auth_basic", "authn_core", "authn_file", "authz_user")


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode())
            .decode()}


def test_require_user_with_httpd_basic_auth(httpd, moto, logs, bucket):
    users = os.path.join(logs, "htpasswd")
    subprocess.run(["htpasswd", "-bc", users, "alice", "s3cret"], check=True,
                   capture_output=True)
    os.chmod(users, 0o644)
    conf = s3.location(bucket, moto.endpoint, s3.keyfile(logs, moto), upload=False, extra="""
S3Upload On
S3UploadRequireUser On
AuthType Basic
AuthName uploads
AuthBasicProvider file
AuthUserFile %s
<LimitExcept GET HEAD>
    Require valid-user
</LimitExcept>
""" % users)
    srv = httpd.start(conf, modules=("s3",), apache_modules=AUTH_MODULES)
    r = s3.put(srv, "/files/by-alice", b"no token needed", headers=OCTETS)
    assert r.status == 401
    r = s3.put(srv, "/files/by-alice", b"no token needed", headers=dict(OCTETS, **basic(
        "alice", "s3cret")))
    assert r.status == 201
    assert moto.s3.get_bytes(bucket, "by-alice") == b"no token needed"
    assert srv.get("/files/by-alice").body == b"no token needed"  # reads stay open


@pytest.mark.expect_log("LF02021")
def test_require_user_without_authentication_configured_refuses(httpd, moto, logs, bucket):
    conf = s3.location(bucket, moto.endpoint, s3.keyfile(logs, moto), upload=False,
                       extra="S3Upload On\nS3UploadRequireUser On")
    srv = httpd.start(conf, modules=("s3",))
    r = s3.put(srv, "/files/x", b"x", headers=OCTETS)
    assert r.status == 403
    assert "is there an AuthType and Require?" in srv.error_log.read()
    assert moto.s3.list_keys(bucket) == []


def test_encoded_slashes_when_allowed(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket, extra="S3AllowEncodedSlashes On",
                   conf_extra="AllowEncodedSlashes NoDecode\n")
    r = s3.put(srv, "/files/a%2Fb", b"slash", s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 201
    assert moto.s3.get_bytes(bucket, "a/b") == b"slash"


def test_credentials_from_a_profile(httpd, moto, logs, bucket):
    moto.s3.put_object(bucket, "p", b"profile works", content_type="text/plain")
    creds = os.path.join(logs, "aws-credentials")
    with open(creds, "w") as f:
        f.write("[default]\naws_access_key_id = AKIAWRONGWRONGWRONG1\n"
                "aws_secret_access_key = wrong\n\n[farm]\naws_access_key_id = %s\n"
                "aws_secret_access_key = %s\n" % (moto.access_key, moto.secret_key))
    conf = s3.location(bucket, moto.endpoint, None, upload=False,
                       extra="S3Credentials profile farm")
    srv = httpd.start(conf, modules=("s3",), env={
        "AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
        "AWS_PROFILE": ""})
    assert srv.get("/files/p").body == b"profile works"


def test_spool_goes_to_the_temp_dir(httpd, moto, logs, bucket):
    spool = os.path.join(logs, "spool")
    os.makedirs(spool)
    os.chmod(spool, 0o777)
    srv = s3.start(httpd, moto, logs, bucket, extra="S3SpoolMemory 64K\nS3TempDir %s" % spool)
    data = os.urandom(s3.PART + 300000)  # parts of 5 MiB through files of the spool
    r = s3.put(srv, "/files/spooled", data, s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 201
    assert moto.s3.get_bytes(bucket, "spooled") == data
    assert os.listdir(spool) == []  # nothing left behind


@pytest.mark.expect_log("LF02028")  # the spool file is made once the body outgrows memory
def test_missing_temp_dir_is_a_clear_500(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket,
                   extra="S3SpoolMemory 64K\nS3TempDir /nonexistent/lampfarm-spool")
    r = s3.put(srv, "/files/nowhere", os.urandom(200000), s3.mint(prefix=""), headers=OCTETS)
    assert r.status == 500
    assert "/nonexistent/lampfarm-spool" in srv.error_log.read() or \
        "cannot spool" in srv.error_log.read()
    assert moto.s3.list_keys(bucket) == []
    assert moto.s3.list_multipart_uploads(bucket) == []
