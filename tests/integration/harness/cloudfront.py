"""A CloudFront distribution stand-in for signed URLs, and botocore's CloudFrontSigner.

CloudFrontStandIn is a hand-written stand-in: nothing that checks CloudFront signed URLs runs on
127.0.0.1 (CloudFront is a global service with no local emulator; moto models its API, not its
edge). It is an HTTPS endpoint (its own test CA, harness/tls.py) that does what a distribution
with "restrict viewer access" and a trusted key group does with a viewer's GET, as CloudFront
documents it:
  - Key-Pair-Id must name a public key of the trusted key group (`keys`: id -> public key PEM);
  - a canned policy (Expires, Signature): the policy is rebuilt from the URL the viewer asked
    for (https://<Host><path>, other query parameters included) and Expires, and the signature
    (RSA-SHA1, CloudFront's URL-safe base64) must verify over it with that public key;
  - a custom policy (Policy, Signature): the signature must verify over the policy's bytes, its
    Resource must match the URL (with '*' wildcards), DateGreaterThan and IpAddress must hold;
  - the URL must not have expired (DateLessThan / Expires, against the stand-in's clock,
    `now`, which a test can replace);
  - anything else is answered 403 with CloudFront's XML error (AccessDenied, MissingKey, ...).
A request that passes is served from the origin, the bucket in moto (GET through moto's boto3
worker, as origin access control signs CloudFront's requests to S3), with the object's
Content-Type and bytes; a key S3 does not have is 404. `.requests` records (path, status,
reason) of every request.

Not modelled: caching, ranges, cookies-signed access, field-level anything.
"""
import base64
import datetime
import fnmatch
import ipaddress
import json
import os
import re
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse

from .moto import MotoError, moto_python
from .threadserver import ThreadServer, read_head
from .tls import make_test_ca


def cf_b64decode(s):
    return base64.b64decode(s.replace("-", "+").replace("_", "=").replace("~", "/"))


def canned_policy(resource, expires):
    return ('{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}'
            % (resource, int(expires)))


def public_pem(private_pem_path):
    """The public key of a private key file, PEM (OpenSSL's command line: the test process uses
    the standard library only)."""
    return subprocess.run(["openssl", "pkey", "-in", private_pem_path, "-pubout"],
                          capture_output=True, check=True).stdout


def verify(public_key_pem, data, signature):
    """Whether signature is RSA-SHA1 (PKCS#1 v1.5) over data with the key, by OpenSSL."""
    with tempfile.TemporaryDirectory(prefix="lf-cf-") as d:
        pub, sig = os.path.join(d, "pub.pem"), os.path.join(d, "sig")
        with open(pub, "wb") as f:
            f.write(public_key_pem)
        with open(sig, "wb") as f:
            f.write(signature)
        return subprocess.run(["openssl", "dgst", "-sha1", "-verify", pub, "-signature", sig],
                              input=data, capture_output=True).returncode == 0


class CloudFrontStandIn(ThreadServer):
    name = "cloudfront"

    def __init__(self, d, moto, bucket, keys):
        self.ca, self.cert, self.key = make_test_ca(d)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(self.cert, self.key)
        self.moto = moto
        self.bucket = bucket
        self.keys = dict(keys)          # the trusted key group: id -> public key PEM
        self.now = time.time
        self.requests = []
        self.lock = threading.Lock()
        d_files = os.path.join(d, "objects")
        os.makedirs(d_files, exist_ok=True)
        self.files = d_files
        super().__init__()

    @property
    def domain(self):
        return "localhost:%d" % self.port

    def handle(self, conn, addr):
        threading.Thread(target=self._serve, args=(conn, addr), daemon=True).start()

    def _serve(self, conn, addr):
        conn.settimeout(10)
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        try:
            head, eof = read_head(tls)
            if eof:
                return
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
                       for l in lines[1:] if ":" in l}
            status, ctype, body, reason = self.answer(method, target, headers.get("host", ""),
                                                      addr[0])
            path = urllib.parse.urlsplit(target).path
            with self.lock:
                self.requests.append((path, status, reason))
            tls.sendall(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                        b"Connection: close\r\n\r\n" % (status, ctype.encode(), len(body))
                        + (body if method != "HEAD" else b""))
        except (ssl.SSLError, OSError, ValueError):
            pass
        finally:
            tls.close()

    def denied(self, code, message):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                "<Message>%s</Message></Error>" % (code, message)).encode()
        return 403, "text/xml", body, message

    def answer(self, method, target, host, client_ip):
        if method not in ("GET", "HEAD"):
            return self.denied("MethodNotAllowed", "GET and HEAD only")
        u = urllib.parse.urlsplit(target)
        params = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
        q = dict(params)
        kid, sig = q.get("Key-Pair-Id"), q.get("Signature")
        if not kid or not sig or not ("Expires" in q or "Policy" in q):
            return self.denied("MissingKey", "Missing Key-Pair-Id query parameter or cookie value")
        if kid not in self.keys:
            return self.denied("InvalidKey", "Unknown Key")
        try:
            signature = cf_b64decode(sig)
        except ValueError:
            return self.denied("MalformedSignature", "Could not unencode Signature")
        others = [(k, v) for k, v in params
                  if k not in ("Expires", "Policy", "Signature", "Key-Pair-Id")]
        resource = "https://%s%s" % (host, u.path) + (
            "?" + urllib.parse.urlencode(others) if others else "")
        now = self.now()
        if "Policy" in q:
            policy = cf_b64decode(q["Policy"])
            if not verify(self.keys[kid], policy, signature):
                return self.denied("AccessDenied", "Access denied")
            st = json.loads(policy)["Statement"][0]
            cond = st.get("Condition", {})
            if not fnmatch.fnmatchcase(resource, st.get("Resource", "")):
                return self.denied("AccessDenied", "Access denied: resource")
            if "DateGreaterThan" in cond and now < cond["DateGreaterThan"]["AWS:EpochTime"]:
                return self.denied("AccessDenied", "Access denied: not yet valid")
            if "IpAddress" in cond and ipaddress.ip_address(client_ip) not in \
                    ipaddress.ip_network(cond["IpAddress"]["AWS:SourceIp"], strict=False):
                return self.denied("AccessDenied", "Access denied: source ip")
            expires = cond["DateLessThan"]["AWS:EpochTime"]
        else:
            if not re.fullmatch(r"[0-9]+", q["Expires"]):
                return self.denied("AccessDenied", "Access denied")
            expires = int(q["Expires"])
            if not verify(self.keys[kid], canned_policy(resource, expires).encode(), signature):
                return self.denied("AccessDenied", "Access denied")
        if now >= expires:
            return self.denied("AccessDenied", "Access denied: expired")
        return self.origin(urllib.parse.unquote(u.path[1:]))

    def origin(self, key):
        """The object from the bucket, as origin access control fetches it."""
        out = os.path.join(self.files, "%d-%d" % (os.getpid(), threading.get_ident()))
        try:
            meta = self.moto.call("get_object", bucket=self.bucket, key=key, file=out)
        except MotoError as e:
            return 404 if e.code == "NoSuchKey" else 502, "text/plain", b"origin\n", e.code
        with open(out, "rb") as f:
            data = f.read()
        os.unlink(out)
        return 200, meta.get("content_type") or "binary/octet-stream", data, "ok"


_SIGNER = r"""
import datetime, json, sys
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
a = json.load(sys.stdin)
key = serialization.load_pem_private_key(open(a["pem"], "rb").read(), password=None)
signer = CloudFrontSigner(a["id"], lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA1()))
when = datetime.datetime.fromtimestamp(a["expires"], tz=datetime.timezone.utc)
if a.get("ip"):
    policy = signer.build_policy(a["url"], when, ip_address=a["ip"])
    print(signer.generate_presigned_url(a["url"], policy=policy))
else:
    print(signer.generate_presigned_url(a["url"], date_less_than=when))
"""


def botocore_signed_url(pem, key_id, url, expires, ip=None):
    """The signed URL botocore's CloudFrontSigner makes (in the interpreter that has botocore)."""
    out = subprocess.run([moto_python(), "-c", _SIGNER], capture_output=True, timeout=60,
                         input=json.dumps({"pem": pem, "id": key_id, "url": url,
                                           "expires": expires, "ip": ip}).encode())
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode().strip()
