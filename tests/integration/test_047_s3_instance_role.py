"""mod_s3 with the EC2 instance role: credentials come from a local IMDSv2 stand-in (token PUT,
then role, then credentials), are refreshed before they expire and picked up when rotated, and
an ExpiredToken answer makes the module fetch fresh ones and sign again."""
import pytest

from harness import s3
from harness.procfs import pids_in_group
from test_046_s3_redirect import imds_env



def start(httpd, imds, bucket, endpoint):
    conf = s3.location(bucket, endpoint, None)
    env = imds_env(imds)
    env[s3.TOKEN_ENV] = s3.TOKEN_SECRET
    return httpd.start(conf, modules=("s3",), env=env)


def key_ids(faultproxy, method, path):
    """The access key ids of the Authorization headers of matching requests, in order."""
    out = []
    for e in faultproxy.find(method, path):
        auth = dict((k.lower(), v) for k, v in e.headers).get("authorization", "")
        out.append(auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth
                   else None)
    return out


def test_instance_role_credentials_are_used(httpd, moto, imds, faultproxy, bucket):
    """(Refreshing ahead of the expiration, with the clock injected, is in test_aws_creds.c.)"""
    moto.s3.put_object(bucket, "a", b"role works", content_type="text/plain")
    srv = start(httpd, imds, bucket, faultproxy.endpoint)
    key = imds.current["access_key"]
    assert srv.get("/files/a").body == b"role works"
    r = s3.put(srv, "/files/b", b"written with the role", s3.mint(key="b"),
               headers={"Content-Type": "text/plain"})
    assert r.status == 201
    assert moto.s3.get_bytes(bucket, "b") == b"written with the role"
    assert key_ids(faultproxy, "GET", r"/a$") == [key]
    assert key_ids(faultproxy, "PUT", r"/b$") == [key]
    # IMDSv2: a session token obtained by PUT, and no request refused for want of it
    assert imds.count(method="PUT") >= 1
    assert imds.count(path=imds.credentials_path, status=200) >= 1
    assert imds.count(status=401) == 0


def test_long_lived_credentials_are_fetched_once_per_process(httpd, moto, imds, bucket):
    moto.s3.put_object(bucket, "a", b"x", content_type="text/plain")
    imds.lifetime = 6 * 3600
    srv = start(httpd, imds, bucket, moto.endpoint)
    for _ in range(30):
        assert srv.get("/files/a").status == 200
    processes = len(pids_in_group(srv.process.pid)) - 1  # the children, not the parent
    fetches = imds.count(path=imds.credentials_path, status=200)
    assert 1 <= fetches <= processes < 30


def test_expired_token_answer_fetches_fresh_credentials(httpd, moto, imds, faultproxy, bucket):
    moto.s3.put_object(bucket, "a", b"fresh", content_type="text/plain")
    imds.lifetime = 6 * 3600
    srv = start(httpd, imds, bucket, faultproxy.endpoint)
    old = imds.current["access_key"]
    assert srv.get("/files/a").status == 200  # credentials cached in this child
    imds.rotate()
    faultproxy.add_rule("GET", r"/a$", status=400, code="ExpiredToken",
                        message="The provided token has expired.", count=1)
    # in whichever child answers, the first attempt of this GET is refused as expired
    r = srv.get("/files/a")
    assert r.status == 200 and r.body == b"fresh"
    assert key_ids(faultproxy, "GET", r"/a$")[-1] == imds.current["access_key"] != old


@pytest.mark.expect_log("LF02003")
def test_no_credentials_anywhere_is_a_clear_error(httpd, moto, imds, bucket):
    imds.fail(404, count=1000, path="/latest/meta-data/iam")
    srv = start(httpd, imds, bucket, moto.endpoint)
    r = srv.get("/files/a")
    assert r.status == 502
    assert "no credentials" in srv.error_log.read()
