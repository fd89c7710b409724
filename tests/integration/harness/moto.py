"""moto server (S3, CloudWatch, IAM, ... stand-in) with SigV4 checking switched on.

moto lives in another interpreter than pytest (see docs/testing.md): LAMPFARM_MOTO_PYTHON names
it; otherwise the first python3 on PATH (or pyenv's) that can `import moto, boto3` is used.

Bootstrap: while auth is still off, an IAM user, an access key and an allow-all policy are
created (boto3 in the moto interpreter), then `POST /moto-api/reset-auth` with the text/plain
body `0` switches checking on. Only keys created that way are accepted afterwards.

Reading and setting up state (moto.s3.*, moto.create_user_key(), moto.assume_role_credentials())
goes through one long-lived boto3 worker in the moto interpreter, signed with the bootstrap key
(JSON lines on its stdin/stdout, object bodies through temporary files).
"""
import datetime
import hashlib
import hmac
import json
import os
import select
import subprocess
import tempfile
import threading
import time
import uuid
import urllib.error
import urllib.parse
import urllib.request

from .proc import Daemon, free_port, run

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

# The worker: boto3 in the moto interpreter, one request per JSON line on stdin, one answer per
# line on the original stdout (anything else the libraries print goes to stderr).
_WORKER = r"""
import json, os, sys, urllib.parse
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
import boto3, botocore.auth, botocore.config, botocore.exceptions
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

ep, region = sys.argv[1:3]
ak, sk = os.environ["LF_MOTO_ACCESS_KEY"], os.environ["LF_MOTO_SECRET_KEY"]


# moto recomputes an S3 signature from werkzeug's request.url, which turns the %XX of non-ASCII
# characters and of sub-delimiters (+ = @ : ...) back into characters, so a correct signature for
# such a key does not match (see DESIGN.md). This worker is the tests' view of moto's state, not
# a signer under test: it signs the path and query the way moto will see them (the request still
# goes out encoded as usual).
def _moto_view(path, query):
    env = EnvironBuilder(path="/").get_environ()
    env["PATH_INFO"] = urllib.parse.unquote_to_bytes(path).decode("latin-1")
    env["QUERY_STRING"] = query
    return urllib.parse.urlsplit(Request(env).url)


def _normalize_url_path(self, path):
    return _moto_view(path, "").path


_orig_cqs = botocore.auth.SigV4Auth._canonical_query_string_url


def _canonical_query_string_url(self, parts):
    return _orig_cqs(self, _moto_view("/", parts.query))


botocore.auth.S3SigV4Auth._normalize_url_path = _normalize_url_path
botocore.auth.S3SigV4Auth._canonical_query_string_url = _canonical_query_string_url

cfg = botocore.config.Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"},
                             connect_timeout=10, read_timeout=60)
_clients = {}


def client(svc):
    if svc not in _clients:
        _clients[svc] = boto3.client(svc, endpoint_url=ep, region_name=region, config=cfg,
                                     aws_access_key_id=ak, aws_secret_access_key=sk)
    return _clients[svc]


ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _meta(r):
    h = r["ResponseMetadata"]["HTTPHeaders"]
    return {"content_type": r.get("ContentType"), "content_length": r.get("ContentLength"),
            "etag": r.get("ETag"), "metadata": r.get("Metadata", {}),
            "content_disposition": r.get("ContentDisposition"),
            "content_encoding": r.get("ContentEncoding"), "cache_control": r.get("CacheControl"),
            "last_modified": r["LastModified"].isoformat() if r.get("LastModified") else None,
            "headers": dict(h)}


def op_create_bucket(a):
    client("s3").create_bucket(Bucket=a["bucket"])


def op_delete_bucket(a):
    s3 = client("s3")
    if a.get("force"):
        for u in s3.list_multipart_uploads(Bucket=a["bucket"]).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=a["bucket"], Key=u["Key"], UploadId=u["UploadId"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=a["bucket"]):
            for o in page.get("Contents", []):
                s3.delete_object(Bucket=a["bucket"], Key=o["Key"])
    s3.delete_bucket(Bucket=a["bucket"])


def op_put_object(a):
    with open(a["file"], "rb") as f:
        data = f.read()
    kw = {"Bucket": a["bucket"], "Key": a["key"], "Body": data}
    if a.get("content_type"):
        kw["ContentType"] = a["content_type"]
    if a.get("metadata"):
        kw["Metadata"] = a["metadata"]
    return {"etag": client("s3").put_object(**kw)["ETag"]}


def op_get_object(a):
    r = client("s3").get_object(Bucket=a["bucket"], Key=a["key"])
    with open(a["file"], "wb") as f:
        f.write(r["Body"].read())
    return _meta(r)


def op_head_object(a):
    return _meta(client("s3").head_object(Bucket=a["bucket"], Key=a["key"]))


def op_delete_object(a):
    client("s3").delete_object(Bucket=a["bucket"], Key=a["key"])


def op_list_objects(a):
    out = []
    for page in client("s3").get_paginator("list_objects_v2").paginate(
            Bucket=a["bucket"], Prefix=a.get("prefix", "")):
        out += [{"key": o["Key"], "size": o["Size"], "etag": o["ETag"]}
                for o in page.get("Contents", [])]
    return out


def op_list_buckets(a):
    return [b["Name"] for b in client("s3").list_buckets().get("Buckets", [])]


def op_list_multipart_uploads(a):
    r = client("s3").list_multipart_uploads(Bucket=a["bucket"])
    return [{"key": u["Key"], "upload_id": u["UploadId"]} for u in r.get("Uploads", [])]


def op_list_parts(a):
    r = client("s3").list_parts(Bucket=a["bucket"], Key=a["key"], UploadId=a["upload_id"])
    return [{"part_number": p["PartNumber"], "size": p["Size"], "etag": p["ETag"]}
            for p in r.get("Parts", [])]


def op_abort_multipart_upload(a):
    client("s3").abort_multipart_upload(Bucket=a["bucket"], Key=a["key"],
                                        UploadId=a["upload_id"])


def op_create_user_key(a):
    iam = client("iam")
    iam.create_user(UserName=a["user"])
    iam.put_user_policy(UserName=a["user"], PolicyName="allow-all", PolicyDocument=ALLOW_ALL)
    k = iam.create_access_key(UserName=a["user"])["AccessKey"]
    return {"user": a["user"], "access_key": k["AccessKeyId"],
            "secret_key": k["SecretAccessKey"]}


def op_delete_access_key(a):
    client("iam").delete_access_key(UserName=a["user"], AccessKeyId=a["access_key"])


def op_assume_role_credentials(a):
    iam = client("iam")
    try:
        arn = iam.get_role(RoleName=a["role"])["Role"]["Arn"]
    except botocore.exceptions.ClientError:
        arn = iam.create_role(RoleName=a["role"], AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                                                    "Principal": {"AWS": "*"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        iam.put_role_policy(RoleName=a["role"], PolicyName="allow-all", PolicyDocument=ALLOW_ALL)
    out = []
    for i in range(a["n"]):
        c = client("sts").assume_role(RoleArn=arn, RoleSessionName="lampfarm-%d" % i,
                                      DurationSeconds=a["duration"])["Credentials"]
        out.append({"access_key": c["AccessKeyId"], "secret_key": c["SecretAccessKey"],
                    "token": c["SessionToken"], "expiration": c["Expiration"].isoformat()})
    return out


def op_ping(a):
    return "pong"


def _plain(v):
    # a boto3 answer as JSON can carry it (times as ISO 8601 strings)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items() if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def op_call(a):
    # any API call: {"service", "method" (boto3's snake_case name), "params"}; times in the
    # params are ISO 8601 strings, which botocore accepts
    return _plain(getattr(client(a["service"]), a["method"])(**a.get("params", {})))


for line in sys.stdin:
    req = json.loads(line)
    try:
        res = {"ok": True, "result": globals()["op_" + req["op"]](req["args"])}
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        res = {"ok": False, "code": err.get("Code"), "message": err.get("Message", str(e)),
               "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")}
    except Exception as e:
        res = {"ok": False, "code": type(e).__name__, "message": str(e), "status": None}
    out.write(json.dumps(res) + "\n")
    out.flush()
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


class Moto(Daemon):
    """A moto server on 127.0.0.1:port with SigV4 checking on; .access_key / .secret_key."""

    name = "moto"
    start_timeout = 60

    def __init__(self, log_dir, port=None, region="us-east-1", auth=True):
        super().__init__(log_dir)
        self.env = dict(os.environ)
        self.env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        self.auth = auth  # False: no signature checking (moto cannot serve presigned URLs with)
        self.port = port or free_port()
        self.region = region
        self.access_key = None
        self.secret_key = None
        self._worker = None
        self.s3 = S3State(self)

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def argv(self):
        return [moto_python(), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def start(self, timeout=None):
        """Start, then create the IAM user and key and switch SigV4 checking on."""
        super().start(timeout)
        rc, out = run([moto_python(), "-c", _BOOTSTRAP, self.endpoint], timeout=120)
        with open(os.path.join(self.log_dir, "moto-bootstrap.log"), "w") as f:
            f.write(out)
        if rc != 0:
            raise RuntimeError("moto IAM bootstrap failed:\n%s" % out[-4000:])
        keys = json.loads(out.strip().splitlines()[-1])
        self.access_key = keys["access_key"]
        self.secret_key = keys["secret_key"]
        if not self.auth:
            return self
        req = urllib.request.Request(self.endpoint + "/moto-api/reset-auth", data=b"0",
                                     method="POST", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read().decode()
        with open(os.path.join(self.log_dir, "moto-bootstrap.log"), "a") as f:
            f.write("reset-auth: %s\n" % body)
        return self

    def stop(self):
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        super().stop()

    def call(self, op, **args):
        """Run one operation of the boto3 worker (signed with the bootstrap key); raises
        MotoError with moto's error code when moto refuses it."""
        if self._worker is None:
            env = dict(os.environ, LF_MOTO_ACCESS_KEY=self.access_key,
                       LF_MOTO_SECRET_KEY=self.secret_key)
            self._worker = _Worker([moto_python(), "-c", _WORKER, self.endpoint, self.region],
                                   os.path.join(self.log_dir, "moto-worker.stderr"), env)
        return self._worker.call(op, args)

    def create_user_key(self, user=None):
        """A new IAM user with an allow-all inline policy and an access key (accepted by moto's
        signature check at once): {"user", "access_key", "secret_key"}."""
        return self.call("create_user_key", user=user or "lf-%s" % uuid.uuid4().hex[:10])

    def delete_access_key(self, user, access_key):
        """Revoke a key made by create_user_key: moto refuses it from then on."""
        self.call("delete_access_key", user=user, access_key=access_key)

    def assume_role_credentials(self, n=1, role="lampfarm-instance-role", duration=3600):
        """n sets of STS temporary credentials (sts:AssumeRole on a role with an allow-all
        policy, created on first use): [{"access_key", "secret_key", "token", "expiration"}].
        moto accepts them only with their X-Amz-Security-Token (it checks the token); it does
        not enforce the expiration."""
        return self.call("assume_role_credentials", n=n, role=role, duration=duration)

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



class MotoError(Exception):
    """moto (or boto3) refused a worker operation: .code (S3/IAM error code), .status."""

    def __init__(self, op, code, message, status):
        super().__init__("%s: %s (%s): %s" % (op, code, status, message))
        self.op = op
        self.code = code
        self.message = message
        self.status = status


class _Worker:
    """The boto3 worker process: one JSON request line in, one JSON answer line out."""

    def __init__(self, argv, stderr_path, env, timeout=120):
        self.timeout = timeout
        self.lock = threading.Lock()
        with open(stderr_path, "ab") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, env=env, start_new_session=True)
        self.stderr_path = stderr_path
        self.buf = b""

    def call(self, op, args):
        with self.lock:
            try:
                self.proc.stdin.write((json.dumps({"op": op, "args": args}) + "\n").encode())
                self.proc.stdin.flush()
            except OSError as e:
                raise RuntimeError("moto worker is gone (%s); see %s" % (e, self.stderr_path))
            line = self._readline()
        res = json.loads(line)
        if not res["ok"]:
            raise MotoError(op, res["code"], res["message"], res["status"])
        return res["result"]

    def _readline(self):
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("moto worker did not answer in %ds; see %s"
                                   % (self.timeout, self.stderr_path))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise RuntimeError("moto worker exited (%s); see %s"
                                       % (self.proc.poll(), self.stderr_path))
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def stop(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()


class S3Object:
    """An object read back from moto: .body (bytes; None after head_object), .content_type,
    .content_length, .etag, .metadata (dict, x-amz-meta-* without the prefix),
    .content_disposition, .content_encoding, .cache_control, .last_modified (ISO 8601),
    .headers (moto's response headers, lower-case names)."""

    def __init__(self, bucket, key, body, meta):
        self.bucket = bucket
        self.key = key
        self.body = body
        self.__dict__.update(meta)

    def __repr__(self):
        return "<S3Object %s/%s %s bytes %s>" % (self.bucket, self.key, self.content_length,
                                                 self.content_type)


class S3State:
    """The tests' view of moto's S3 (boto3 in the moto interpreter, bootstrap key). Errors raise
    MotoError (e.g. .code == "NoSuchKey"; head_object's 404 has .code == "404")."""

    def __init__(self, moto):
        self.moto = moto

    def _tmp(self):
        fd, path = tempfile.mkstemp(prefix="lf-s3-")
        os.close(fd)
        return path

    def new_bucket(self, prefix="lf"):
        """Create a bucket with a unique name; returns the name."""
        name = "%s-%s" % (prefix, uuid.uuid4().hex[:12])
        self.create_bucket(name)
        return name

    def create_bucket(self, bucket):
        self.moto.call("create_bucket", bucket=bucket)

    def delete_bucket(self, bucket, force=True):
        """Delete a bucket; force: abort its multipart uploads and delete its objects first."""
        self.moto.call("delete_bucket", bucket=bucket, force=force)

    def list_buckets(self):
        return self.moto.call("list_buckets")

    def put_object(self, bucket, key, data, content_type=None, metadata=None):
        """Store bytes (or str, as UTF-8); returns the ETag."""
        path = self._tmp()
        try:
            with open(path, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
            return self.moto.call("put_object", bucket=bucket, key=key, file=path,
                                  content_type=content_type, metadata=metadata or {})["etag"]
        finally:
            os.unlink(path)

    def get_object(self, bucket, key):
        """The object with its bytes and metadata (S3Object)."""
        path = self._tmp()
        try:
            meta = self.moto.call("get_object", bucket=bucket, key=key, file=path)
            with open(path, "rb") as f:
                return S3Object(bucket, key, f.read(), meta)
        finally:
            os.unlink(path)

    def get_bytes(self, bucket, key):
        return self.get_object(bucket, key).body

    def head_object(self, bucket, key):
        """Metadata only (S3Object with body None)."""
        return S3Object(bucket, key, None, self.moto.call("head_object", bucket=bucket, key=key))

    def exists(self, bucket, key):
        try:
            self.head_object(bucket, key)
            return True
        except MotoError as e:
            if e.status == 404:
                return False
            raise

    def delete_object(self, bucket, key):
        self.moto.call("delete_object", bucket=bucket, key=key)

    def list_objects(self, bucket, prefix=""):
        """[{"key", "size", "etag"}] in key order (all pages)."""
        return self.moto.call("list_objects", bucket=bucket, prefix=prefix)

    def list_keys(self, bucket, prefix=""):
        return [o["key"] for o in self.list_objects(bucket, prefix)]

    def list_multipart_uploads(self, bucket):
        """Multipart uploads in progress: [{"key", "upload_id"}]."""
        return self.moto.call("list_multipart_uploads", bucket=bucket)

    def list_parts(self, bucket, key, upload_id):
        """[{"part_number", "size", "etag"}] of an upload in progress."""
        return self.moto.call("list_parts", bucket=bucket, key=key, upload_id=upload_id)

    def abort_multipart_upload(self, bucket, key, upload_id):
        self.moto.call("abort_multipart_upload", bucket=bucket, key=key, upload_id=upload_id)
