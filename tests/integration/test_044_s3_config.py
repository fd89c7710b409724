"""mod_s3: configuration. Every directive is accepted in its documented forms, and every
configuration error (open writes included) stops `apache2 -t` with a clear message."""
import os

import pytest

from harness import s3


def check(httpd, conf, logs):
    return httpd.config_test(conf, modules=("s3",), env={s3.TOKEN_ENV: s3.TOKEN_SECRET})


def ok(httpd, logs, conf):
    rc, out = check(httpd, conf, logs)
    assert rc == 0, out
    assert "Syntax OK" in out


def fails(httpd, logs, conf, *texts):
    rc, out = check(httpd, conf, logs)
    assert rc != 0, out
    for t in texts:
        assert t in out, out


def test_all_directives_accepted(httpd, logs, moto):
    keys = s3.keyfile(logs, moto)
    ok(httpd, logs, """
S3MemoryLimit 128M
<Location /files>
    SetHandler s3
    S3Bucket my-bucket
    S3Region eu-west-1
    S3Endpoint http://127.0.0.1:9
    S3Addressing path
    S3KeyPrefix uploads/
    S3Credentials keyfile %(keys)s
    S3CAFile /etc/ssl/certs/ca-certificates.crt
    S3PayloadSigning auto
    S3ConnectTimeout 500ms
    S3Timeout 10s
    S3Attempts 5
    S3Download redirect 307
    S3RedirectExpires 10m
    S3Disposition attachment
    S3ExposeMeta owner x-amz-meta-title
    S3Upload On
    S3UploadTokenSecret env:%(env)s
    S3UploadRequireUser Off
    S3MaxUploadSize 2G
    S3AllowedTypes image/* application/pdf
    S3PartSize 16M
    S3SpoolMemory 1M
    S3TempDir /tmp
    S3NoOverwrite On
    S3FormRedirect /thanks
    S3AllowEncodedSlashes On
</Location>
<Location /app>
    S3HandOff On
    S3Bucket my-bucket
    S3Credentials profile default
    S3Addressing virtual
    S3Download stream
    S3PayloadSigning on
</Location>
<Location /old>
    SetHandler s3
    S3Bucket other-bucket
    S3Credentials default
    S3Addressing auto
    S3Download off
    S3PayloadSigning Off
</Location>
""" % {"keys": keys, "env": s3.TOKEN_ENV})


@pytest.mark.parametrize("conf,text", [
    ("<Location /f>\nS3Bucket b1b\nS3Upload On\n</Location>",
     "S3Upload On needs an authorization"),
    ("<Location /f>\nS3Upload On\nS3UploadRequireUser On\n</Location>",
     "S3Upload or S3HandOff without S3Bucket"),
    ("<Location /f>\nS3Bucket Not_A!Bucket\n</Location>", "not a valid bucket name"),
    ("<Location /f>\nS3Bucket my.dotted.bucket\nS3Addressing virtual\n</Location>",
     "path-style"),
    ("<Location /f>\nS3Endpoint ftp://x\n</Location>", "S3Endpoint: 'ftp://x' is not an http"),
    ("<Location /f>\nS3Bucket bbb\nS3Endpoint http://h/some/path\n</Location>",
     "the endpoint is not a URL like"),
    ("<Location /f>\nS3Addressing sideways\n</Location>", "S3Addressing: 'sideways'"),
    ("<Location /f>\nS3PayloadSigning sometimes\n</Location>",
     "S3PayloadSigning: 'sometimes' is not auto, on or off"),
    ("<Location /f>\nS3PartSize 1M\n</Location>", "S3PartSize: '1M' is outside"),
    ("<Location /f>\nS3MaxUploadSize lots\n</Location>", "S3MaxUploadSize: 'lots'"),
    ("<Location /f>\nS3Download sometimes\n</Location>", "S3Download: expected"),
    ("<Location /f>\nS3Download redirect 301\n</Location>", "is not 302 or 307"),
    ("<Location /f>\nS3RedirectExpires 8d\n</Location>", "not between 1s and 7 days"),
    ("<Location /f>\nS3Disposition maybe\n</Location>", "S3Disposition: 'maybe'"),
    ("<Location /f>\nS3ExposeMeta 'bad name'\n</Location>", "S3ExposeMeta"),
    ("<Location /f>\nS3Attempts 0\n</Location>", "S3Attempts: '0'"),
    ("<Location /f>\nS3Timeout never\n</Location>", "S3Timeout: 'never'"),
    ("<Location /f>\nS3AllowedTypes image\n</Location>", "S3AllowedTypes:"),
    ("<Location /f>\nS3UploadTokenSecret env:LF_NOT_SET_ANYWHERE\n</Location>",
     "S3UploadTokenSecret:"),
    ("<Location /f>\nS3UploadTokenSecret env:LF_SHORT\n</Location>", "shorter than 16 bytes"),
    ("<Location /f>\nS3Credentials keyfile\n</Location>", "S3Credentials: expected"),
    ("<Location /f>\nS3Bucket bbb\nS3Credentials keyfile /nonexistent/keys\n</Location>",
     "S3Bucket bbb:"),
    ("<Location /f>\nS3MemoryLimit 1G\n</Location>", "S3MemoryLimit"),
    ("<Location /f>\nS3KeyPrefix /abs\n</Location>", "S3KeyPrefix: '/abs'"),
    ("<LocationMatch ^/f>\nS3Bucket bbb\n</LocationMatch>", "not a regular expression"),
    ("<Location ~ ^/f>\nS3Bucket bbb\n</Location>", "not a regular expression"),
])
def test_bad_configuration_stops_configtest(httpd, logs, conf, text):
    os.environ["LF_SHORT"] = "short"
    try:
        fails(httpd, logs, conf, text)
    finally:
        del os.environ["LF_SHORT"]


def test_writes_with_require_user_and_no_token_accepted(httpd, logs):
    ok(httpd, logs, "<Location /f>\nS3Bucket bbb\nS3Upload On\nS3UploadRequireUser On\n</Location>")
