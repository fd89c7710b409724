"""mod_s3 redirect mode to CloudFront: with S3CloudFrontDomain and S3CloudFrontKey, a GET answers
a redirect to a CloudFront signed URL (canned policy; a custom one with S3CloudFrontAllowIP)
instead of a presigned S3 URL. The signature is checked with the public key (OpenSSL's
command line) and against botocore's CloudFrontSigner for the same key and expiry (a policy
signed with RSA PKCS#1 v1.5 is deterministic: the URLs must be equal); the URL is followed by
curl and by Chromium through a CloudFront stand-in (harness/cloudfront.py: nothing real checks
CloudFront signatures on 127.0.0.1) that serves the object from moto."""
import os
import subprocess
import time
import urllib.parse

import pytest

from harness import s3
from harness.browser import Browser
from harness.cloudfront import (CloudFrontStandIn, botocore_signed_url, canned_policy,
                                cf_b64decode, public_pem, verify)
from harness.proc import run

KEY_A, KEY_B = "K2JCJMDEHXQW5F", "K3ROTATEDKEY7Q"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a0e6ed2a0000000049454e44"
                    "ae426082")


@pytest.fixture(scope="module")
def pems(session_logs):
    d = os.path.join(session_logs, "cloudfront-keys")
    os.makedirs(d, exist_ok=True)
    out = {}
    for kid in (KEY_A, KEY_B):
        path = os.path.join(d, kid + ".pem")
        if not os.path.exists(path):
            rc, text = run(("openssl", "genrsa", "-out", path, "2048"))
            assert rc == 0, text
            os.chmod(path, 0o600)
        out[kid] = path
    return out


@pytest.fixture
def cdn(logs, moto, bucket, pems):
    c = CloudFrontStandIn(os.path.join(logs, "cloudfront"), moto, bucket,
                          {kid: public_pem(p) for kid, p in pems.items()}).start()
    yield c
    c.stop()


def cf_conf(cdn, pems, keys=(KEY_A,), extra=""):
    lines = ["S3Download redirect", "S3RedirectExpires 10m", "S3CloudFrontDomain " + cdn.domain]
    lines += ["S3CloudFrontKey %s %s" % (k, pems[k]) for k in keys]
    return "\n".join(lines) + "\n" + extra


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def curl(url, cdn, follow=True):
    out = subprocess.run(["curl", "-sS", "--cacert", cdn.ca, "-o", "-", "-w", "\n%{http_code}"]
                         + (["-L"] if follow else []) + [url], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    body, _, code = out.stdout.rpartition(b"\n")
    return int(code), body


@pytest.mark.one_mpm
def test_signed_redirect_verifies_and_curl_follows_it(httpd, moto, logs, bucket, pems, cdn):
    data = os.urandom(100000)
    moto.s3.put_object(bucket, "pics/cat 1.jpg", data, content_type="image/jpeg")
    srv = s3.start(httpd, moto, logs, bucket, upload=False, extra=cf_conf(cdn, pems))
    before = int(time.time())
    r = srv.get("/files/pics/cat%201.jpg")
    after = int(time.time())
    assert r.status == 302
    assert "no-store" in r.header("Cache-Control")
    loc = r.header("Location")
    resource = "https://%s/pics/cat%%201.jpg" % cdn.domain
    assert loc.startswith(resource + "?Expires=")
    q = query_of(loc)
    assert sorted(q) == ["Expires", "Key-Pair-Id", "Signature"]
    assert q["Key-Pair-Id"] == KEY_A
    assert before + 600 <= int(q["Expires"]) <= after + 600      # S3RedirectExpires 10m
    assert set(q["Signature"]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_~")
    # OpenSSL verifies it with the public key over the canned policy
    policy = canned_policy(resource, int(q["Expires"])).encode()
    assert verify(public_pem(pems[KEY_A]), policy, cf_b64decode(q["Signature"]))
    assert not verify(public_pem(pems[KEY_B]), policy, cf_b64decode(q["Signature"]))
    # botocore's CloudFrontSigner makes the same URL for the same key and expiry
    assert botocore_signed_url(pems[KEY_A], KEY_A, resource, int(q["Expires"])) == loc
    # curl follows it through the distribution to the object in S3
    code, body = curl("http://127.0.0.1:%d/files/pics/cat%%201.jpg" % srv.port, cdn)
    assert (code, body) == (200, data)
    assert cdn.requests[-1] == ("/pics/cat%201.jpg", 200, "ok")
    # what the distribution refuses: a tampered signature, another resource, an unknown key,
    # no signature, an expired URL
    sig = q["Signature"]
    bad = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    assert curl(loc.replace(sig, bad), cdn)[0] == 403
    assert curl(loc.replace("cat%201.jpg", "cat%202.jpg"), cdn)[0] == 403
    assert curl(loc.replace(KEY_A, "KUNKNOWN"), cdn)[0] == 403
    assert curl(resource, cdn)[0] == 403
    assert curl(loc, cdn)[0] == 200
    cdn.now = lambda: int(q["Expires"])
    assert curl(loc, cdn)[0] == 403
    assert cdn.requests[-1][2] == "Access denied: expired"
    # the private key never reaches the error log
    with open(pems[KEY_A]) as f:
        secret_line = f.read().splitlines()[5]
    assert secret_line not in srv.error_log.read()


def test_rotation(httpd, moto, logs, bucket, pems, cdn):
    moto.s3.put_object(bucket, "a.txt", b"rotated\n", content_type="text/plain")
    # the next key is listed second: checked at startup, the first still signs
    srv = s3.start(httpd, moto, logs, bucket, upload=False,
                   extra=cf_conf(cdn, pems, keys=(KEY_A, KEY_B)))
    old = srv.get("/files/a.txt").header("Location")
    assert query_of(old)["Key-Pair-Id"] == KEY_A
    # swapped, and reloaded: the new key signs; URLs already handed out stay good while the key
    # group trusts both
    line_a, line_b = ("S3CloudFrontKey %s %s" % (k, pems[k]) for k in (KEY_A, KEY_B))
    assert line_a + "\n    " + line_b in srv.conf
    srv.conf = srv.conf.replace(line_a + "\n    " + line_b, line_b + "\n    " + line_a)
    srv.graceful()
    new = srv.get("/files/a.txt").header("Location")
    q = query_of(new)
    assert q["Key-Pair-Id"] == KEY_B
    resource = "https://%s/a.txt" % cdn.domain
    assert botocore_signed_url(pems[KEY_B], KEY_B, resource, int(q["Expires"])) == new
    assert curl(old, cdn) == (200, b"rotated\n")
    assert curl(new, cdn) == (200, b"rotated\n")
    # the old key leaves the key group: its URLs stop working, the new ones do not
    del cdn.keys[KEY_A]
    assert curl(old, cdn)[0] == 403
    assert curl(new, cdn) == (200, b"rotated\n")


@pytest.mark.one_mpm
def test_custom_policy_with_source_ip(httpd, moto, logs, bucket, pems, cdn):
    moto.s3.put_object(bucket, "ip.txt", b"local only\n", content_type="text/plain")
    srv = s3.start(httpd, moto, logs, bucket, upload=False,
                   extra=cf_conf(cdn, pems, extra="S3CloudFrontAllowIP 127.0.0.0/8\n"))
    loc = srv.get("/files/ip.txt").header("Location")
    q = query_of(loc)
    assert sorted(q) == ["Key-Pair-Id", "Policy", "Signature"]
    resource = "https://%s/ip.txt" % cdn.domain
    policy = cf_b64decode(q["Policy"]).decode()
    assert '"IpAddress":{"AWS:SourceIp":"127.0.0.0/8"}' in policy
    expires = int(policy.split('"AWS:EpochTime":')[1].split("}")[0])
    assert botocore_signed_url(pems[KEY_A], KEY_A, resource, expires, ip="127.0.0.0/8") == loc
    assert curl(loc, cdn) == (200, b"local only\n")
    # a range that is not the client's: the distribution refuses it
    assert "S3CloudFrontAllowIP 127.0.0.0/8" in srv.conf
    srv.conf = srv.conf.replace("127.0.0.0/8", "192.0.2.0/24")
    srv.graceful()
    loc = srv.get("/files/ip.txt").header("Location")
    assert curl(loc, cdn)[0] == 403
    assert cdn.requests[-1][2] == "Access denied: source ip"


@pytest.mark.one_mpm
def test_chromium_loads_an_image_through_the_distribution(httpd, moto, logs, bucket, pems, cdn):
    moto.s3.put_object(bucket, "pic.png", PNG, content_type="image/png")
    docs = os.path.join(logs, "htdocs")
    os.makedirs(docs, exist_ok=True)
    with open(os.path.join(docs, "page.html"), "w") as f:
        f.write('<!doctype html><title>cf</title><img id="pic" src="/private/pic.png">\n')
    conf = s3.location(bucket, moto.endpoint, s3.keyfile(logs, moto), path="/private",
                       upload=False, extra=cf_conf(cdn, pems))
    conf += 'DocumentRoot "%s"\n<Directory "%s">\n    Require all granted\n</Directory>\n' % (
        docs, docs)
    srv = httpd.start(conf, modules=("s3",))
    # the stand-in's certificate is from the test's own CA, which Chromium does not know
    os.makedirs(os.path.join(logs, "browser"), exist_ok=True)
    b = Browser(os.path.join(logs, "browser"), extra_args=["--ignore-certificate-errors"])
    try:
        b.start()
        b.get("http://127.0.0.1:%d/page.html" % srv.port)
        b.wait_for(predicate=lambda br: br.execute(
            "var i = document.getElementById('pic'); return i.complete && i.naturalWidth > 0"),
            what="the image through CloudFront")
    finally:
        b.quit()
    assert ("/pic.png", 200, "ok") in cdn.requests


def config_fails(httpd, conf, *texts):
    rc, out = httpd.config_test(conf, modules=("s3",), env={s3.TOKEN_ENV: s3.TOKEN_SECRET})
    assert rc != 0, out
    for t in texts:
        assert t in out, out


@pytest.mark.one_mpm
def test_configuration_errors(httpd, logs, moto, pems):
    keys = s3.keyfile(logs, moto)

    def loc(extra):
        return s3.location("b", moto.endpoint, keys, upload=False, extra=extra)

    config_fails(httpd, loc("S3Download redirect\nS3CloudFrontDomain d1.cloudfront.net"),
                 "S3CloudFrontDomain d1.cloudfront.net without S3CloudFrontKey")
    config_fails(httpd, loc("S3Download redirect\nS3CloudFrontKey %s %s" % (KEY_A, pems[KEY_A])),
                 "S3CloudFrontKey or S3CloudFrontAllowIP without S3CloudFrontDomain")
    config_fails(httpd, loc("S3CloudFrontDomain d1.cloudfront.net\nS3CloudFrontKey %s %s"
                            % (KEY_A, pems[KEY_A])),
                 "S3CloudFrontDomain needs S3Download redirect")
    config_fails(httpd, loc("S3CloudFrontDomain https://d1.cloudfront.net/"),
                 "S3CloudFrontDomain: 'https://d1.cloudfront.net/' is not a host name")
    config_fails(httpd, loc("S3CloudFrontAllowIP 10.0.0.1"),
                 "S3CloudFrontAllowIP: '10.0.0.1' is not an address with a /prefix")
    config_fails(httpd, loc("S3CloudFrontKey %s /nonexistent/cf.pem" % KEY_A),
                 "S3CloudFrontKey %s: cannot read /nonexistent/cf.pem" % KEY_A)
    # an encrypted key, a public key, a key of another kind: said so, the key never shown
    enc = os.path.join(logs, "enc.pem")
    assert run(("openssl", "genrsa", "-aes256", "-passout", "pass:pw", "-out", enc, "2048"))[0] == 0
    config_fails(httpd, loc("S3CloudFrontKey K1 %s" % enc),
                 "S3CloudFrontKey K1: %s holds an encrypted private key" % enc)
    pub = os.path.join(logs, "pub.pem")
    with open(pub, "wb") as f:
        f.write(public_pem(pems[KEY_A]))
    config_fails(httpd, loc("S3CloudFrontKey K1 %s" % pub), "%s holds no PEM private key" % pub)
    ec = os.path.join(logs, "ec.pem")
    assert run(("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", ec))[0] == 0
    config_fails(httpd, loc("S3CloudFrontKey K1 %s" % ec),
                 "holds a 256-bit non-RSA key: CloudFront signs with 2048-bit RSA keys only")
    config_fails(httpd, loc("S3CloudFrontKey k1 %s" % pems[KEY_A]),
                 "S3CloudFrontKey: 'k1' is not a CloudFront public key id")
    three = "\n".join("S3CloudFrontKey %s %s" % (k, pems[KEY_A]) for k in ("K1", "K2", "K3"))
    config_fails(httpd, loc(three), "S3CloudFrontKey: at most 2 per section")
