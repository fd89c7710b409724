"""The AWS transport end to end: lampfarm-sigv4 --send signs requests and sends them through
modules/aws/aws_http.c to moto (SigV4 checking on); what it stores is read back with the
harness's independent signer, and a wrong secret shows S3's error code, message and request
id."""
import os
import subprocess
import uuid

from harness.paths import BUILD

CLI = os.path.join(BUILD, "bin", "lampfarm-sigv4")


def send(moto, method, path, body=b"", secret=None, time=None):
    host = moto.endpoint.split("//", 1)[1]
    request = ("%s %s HTTP/1.1\nHost:%s\n\n" % (method, path, host)).encode() + body
    from datetime import datetime, timezone
    now = time or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args = [CLI, "--access-key", moto.access_key, "--secret-key", secret or moto.secret_key,
            "--region", moto.region, "--service", "s3", "--time", now, "--no-normalize-path",
            "--no-double-encode", "--content-sha256", "--send", moto.endpoint]
    r = subprocess.run(args, input=request, capture_output=True, timeout=60)
    out = r.stdout.decode(errors="replace")
    return r.returncode, out.split("--- response ---\n", 1)[-1], r.stderr.decode()


def test_put_get_through_the_transport(moto):
    bucket = "lf-send-%s" % uuid.uuid4().hex[:8]
    rc, resp, err = send(moto, "PUT", "/" + bucket)
    assert rc == 0 and resp.startswith("HTTP 200"), (resp, err)
    body = b"hello \x00 world\n" * 100
    rc, resp, _ = send(moto, "PUT", "/%s/dir/hello-there.txt" % bucket, body)
    assert rc == 0 and resp.startswith("HTTP 200"), resp
    # read back with the harness's own signer: the bytes arrived intact, under the decoded key
    status, got = moto.signed_request("GET", "/%s/dir/hello-there.txt" % bucket)
    assert status == 200 and got == body
    rc, resp, _ = send(moto, "GET", "/%s/dir/hello-there.txt" % bucket)
    assert rc == 0 and resp.startswith("HTTP 200")
    assert "hello " in resp


def test_wrong_secret_shows_signature_does_not_match(moto):
    rc, resp, _ = send(moto, "GET", "/", secret="wrong" + moto.secret_key[5:])
    assert rc == 1
    assert resp.startswith("HTTP 403"), resp
    assert "error code: SignatureDoesNotMatch" in resp
    assert "request id:" in resp


def test_missing_key_is_a_clean_404(moto):
    bucket = "lf-send-%s" % uuid.uuid4().hex[:8]
    assert send(moto, "PUT", "/" + bucket)[0] == 0
    rc, resp, _ = send(moto, "GET", "/%s/nope" % bucket)
    assert rc == 1 and resp.startswith("HTTP 404")
    assert "error code: NoSuchKey" in resp


def test_unreachable_endpoint_says_so(moto):
    host = moto.endpoint.split("//", 1)[1]
    request = ("GET / HTTP/1.1\nHost:%s\n\n" % host).encode()
    args = [CLI, "--access-key", "AK", "--secret-key", "SK", "--region", "us-east-1",
            "--service", "s3", "--time", "20261125T000000Z", "--send", "http://127.0.0.1:9"]
    r = subprocess.run(args, input=request, capture_output=True, timeout=60)
    assert r.returncode == 1
    assert "no answer:" in r.stdout.decode()
