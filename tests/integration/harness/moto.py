"""moto server (S3, CloudWatch, IAM, ... stand-in) with SigV4 checking switched on.

moto lives in another interpreter than pytest (see docs/testing.md): LAMPFARM_MOTO_PYTHON names
it; otherwise the first python3 on PATH (or pyenv's) that can `import moto, boto3` is used.

Bootstrap: while auth is still off, an IAM user, an access key and an allow-all policy are
created (boto3 in the moto interpreter), then `POST /moto-api/reset-auth` with the text/plain
body `0` switches checking on. Only keys created that way are accepted afterwards.
"""
import datetime
import hashlib
import hmac
import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from .proc import Process, free_port, port_open, run, wait_until

_BOOTSTRAP = r"""
import json, sys, boto3
ep = sys.argv[1]
iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="lampfarm")
key = iam.create_access_key(UserName="lampfarm")["AccessKey"]
pol = iam.create_policy(PolicyName="lampfarm-allow-all", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
iam.attach_user_policy(UserName="lampfarm", PolicyArn=pol["Policy"]["Arn"])
print(json.dumps({"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}))
"""

_moto_python = None


def _candidates():
    env = os.environ.get("LAMPFARM_MOTO_PYTHON")
    if env:
        yield env
        return
    seen = set()
    for d in os.environ.get("PATH", "").split(os.pathsep):
        for n in ("python3",):
            p = os.path.join(d, n)
            if os.access(p, os.X_OK):
                real = os.path.realpath(p)
                if real not in seen:
                    seen.add(real)
                    yield p
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    vers = os.path.join(root, "versions")
    if os.path.isdir(vers):
        for v in sorted(os.listdir(vers), reverse=True):
            yield os.path.join(vers, v, "bin", "python3")


def moto_python():
    """The interpreter that has moto and boto3 (cached)."""
    global _moto_python
    if _moto_python:
        return _moto_python
    tried = []
    for c in _candidates():
        if not os.access(c, os.X_OK):
            continue
        try:
            r = subprocess.run([c, "-c", "import moto, boto3, sys; print(sys.executable)"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        tried.append(c)
        if r.returncode == 0:
            # resolve pyenv shims to the real interpreter
            _moto_python = r.stdout.decode().strip() or c
            return _moto_python
    raise RuntimeError("no python3 with moto and boto3 found (tried %s); set LAMPFARM_MOTO_PYTHON"
                       % ", ".join(tried))


class Moto:
    """A moto server on 127.0.0.1:port with SigV4 checking on; .access_key / .secret_key."""

    name = "moto"

    def __init__(self, log_dir, port=None, region="us-east-1"):
        self.log_dir = log_dir
        self.port = port or free_port()
        self.region = region
        self.process = None
        self.access_key = None
        self.secret_key = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=60):
        py = moto_python()
        env = dict(os.environ)
        env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        self.process = Process(self.name, [py, "-m", "moto.server", "-H", "127.0.0.1",
                                           "-p", str(self.port)], self.log_dir, env=env).start()
        wait_until(lambda: not self.process.alive() or port_open(self.port), timeout,
                   what="moto on port %d" % self.port)
        if not self.process.alive():
            raise RuntimeError("moto exited at start:\n%s" % self.process.output()[-4000:])
        rc, out = run([py, "-c", _BOOTSTRAP, self.endpoint], timeout=120)
        with open(os.path.join(self.log_dir, "moto-bootstrap.log"), "w") as f:
            f.write(out)
        if rc != 0:
            raise RuntimeError("moto IAM bootstrap failed:\n%s" % out[-4000:])
        keys = json.loads(out.strip().splitlines()[-1])
        self.access_key = keys["access_key"]
        self.secret_key = keys["secret_key"]
        req = urllib.request.Request(self.endpoint + "/moto-api/reset-auth", data=b"0",
                                     method="POST", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read().decode()
        with open(os.path.join(self.log_dir, "moto-bootstrap.log"), "a") as f:
            f.write("reset-auth: %s\n" % body)
        return self

    def stop(self):
        if self.process is not None:
            self.process.stop()

    def signed_request(self, method, path, service="s3", body=b"", secret=None, query="",
                       headers=None):
        """Send a SigV4-signed request (stdlib signer); returns (status, body bytes)."""
        url = self.endpoint + path + ("?" + query if query else "")
        hdrs = sigv4_headers(method, url, self.region, service, self.access_key,
                             secret if secret is not None else self.secret_key, body,
                             headers or {})
        req = urllib.request.Request(url, data=body or None, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(method, url, region, service, access_key, secret_key, body=b"",
                  headers=None, now=None):
    """Headers (Authorization, x-amz-date, x-amz-content-sha256, host) for a SigV4 request."""
    u = urllib.parse.urlsplit(url)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body or b"").hexdigest()
    hdrs = {k.lower(): str(v).strip() for k, v in (headers or {}).items()}
    hdrs["host"] = u.netloc
    hdrs["x-amz-date"] = amz_date
    hdrs["x-amz-content-sha256"] = payload_hash
    signed = ";".join(sorted(hdrs))
    canon_headers = "".join("%s:%s\n" % (k, hdrs[k]) for k in sorted(hdrs))
    q = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    canon_query = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                                      urllib.parse.quote(v, safe="-_.~")) for k, v in sorted(q))
    canon_path = urllib.parse.quote(u.path or "/", safe="/-_.~")
    creq = "\n".join([method, canon_path, canon_query, canon_headers, signed, payload_hash])
    scope = "%s/%s/%s/aws4_request" % (date, region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = _sign(("AWS4" + secret_key).encode(), date)
    k = _sign(k, region)
    k = _sign(k, service)
    k = _sign(k, "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    out = {k2: v for k2, v in hdrs.items()}
    out["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                            % (access_key, scope, signed, sig))
    return out

