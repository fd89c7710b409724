"""An IMDSv2 stand-in: the EC2 instance metadata service, as far as instance-role credentials go.

This is a hand-written stand-in: the real IMDS exists only inside EC2 (169.254.169.254) and
nothing real can be run off EC2 (moto does not serve the metadata API with IMDSv2 tokens). It
follows the documented behaviour of the real one:

  PUT /latest/api/token  with X-aws-ec2-metadata-token-ttl-seconds: 1..21600
        -> 200, the token (text), the TTL echoed in the same header; without/with a bad TTL 400
  GET /latest/meta-data/iam/security-credentials/         -> the role name
  GET /latest/meta-data/iam/security-credentials/<role>   -> JSON: Code, LastUpdated, Type,
        AccessKeyId, SecretAccessKey, Token, Expiration (ISO 8601, Z), pretty-printed with
        " : " as the real one does
  every GET needs X-aws-ec2-metadata-token with a valid, unexpired token: 401 otherwise
  (IMDSv2 required; allow_v1=True serves tokenless GETs too)
  a request that carries X-Forwarded-For is refused with 403 (the real IMDS does this so that a
  proxy on the instance cannot be used to reach it)

The credentials it hands out come from the test: a list of dicts with access_key, secret_key
and token (see Moto.assume_role_credentials: moto checks X-Amz-Security-Token against the
temporary credentials it issued, and refuses a token with an IAM user's key). Expiration is
LastUpdated + `lifetime` seconds; rotate() switches to the next set (as EC2 does before the old
ones expire), and with auto_rotate (default) a credentials request after the expiration rotates
by itself, so a short lifetime makes the module refresh and see new keys.

Every request is recorded (method, path, status); count(path) counts them per path.
"""
import datetime
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .threadserver import ThreadServer

CREDS_PATH = "/latest/meta-data/iam/security-credentials/"
TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"


def iso8601(t):
    """Seconds since the epoch as IMDS writes them: 2024-01-02T03:04:05Z."""
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


class ImdsRequest:
    def __init__(self, method, path, headers):
        self.method = method
        self.path = path
        self.headers = headers          # email.message.Message (case-insensitive .get)
        self.status = None
        self.time = time.monotonic()

    def __repr__(self):
        return "<%s %s -> %s>" % (self.method, self.path, self.status)


class Imds(ThreadServer):
    """The stand-in on 127.0.0.1:port: .endpoint, .rotate(), .current, .requests, .count()."""

    name = "imds"

    def __init__(self, credentials, role="lampfarm-role", lifetime=6 * 3600, auto_rotate=True,
                 allow_v1=False):
        if not credentials:
            raise ValueError("Imds needs at least one set of credentials")
        self.role = role
        self.lifetime = lifetime            # seconds from LastUpdated to Expiration
        self.auto_rotate = auto_rotate
        self.allow_v1 = allow_v1
        self._lock = threading.Lock()
        self._creds = [dict(c) for c in credentials]
        self._index = 0
        self._issued = time.time()
        self._tokens = {}                   # token -> expiry (time.time())
        self._log = []
        self._faults = []                   # [status, count left, path prefix]
        self.rotations = 0
        imds = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "EC2ws"
            sys_version = ""

            def log_message(self, *args):
                pass

            def do_PUT(self):
                imds._handle(self, "PUT")

            def do_GET(self):
                imds._handle(self, "GET")

            def do_HEAD(self):
                imds._handle(self, "HEAD")

            def do_POST(self):
                imds._handle(self, "POST")

        # the HTTP server only serves the connections ThreadServer accepts
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.http.socket.close()     # a socket of its own it never uses
        super().__init__()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def handle(self, conn, addr):
        self.http.process_request(conn, addr)

    # --- the test's side ------------------------------------------------------------------

    @property
    def current(self):
        """The credentials served now: dict with access_key, secret_key, token (+ whatever the
        test put in), and expiration (seconds since the epoch)."""
        with self._lock:
            return self._current_locked()

    def _current_locked(self):
        c = dict(self._creds[self._index])
        c["last_updated"] = self._issued
        c["expiration"] = self._issued + self.lifetime
        return c

    def rotate(self):
        """Serve the next credentials (wrapping around), with a fresh LastUpdated/Expiration;
        returns them."""
        with self._lock:
            self._rotate_locked()
            return self._current_locked()

    def _rotate_locked(self):
        self._index = (self._index + 1) % len(self._creds)
        self._issued = time.time()
        self.rotations += 1

    def set_credentials(self, credentials, lifetime=None):
        """Replace the list; serve its first entry from now on."""
        with self._lock:
            self._creds = [dict(c) for c in credentials]
            self._index = 0
            self._issued = time.time()
            if lifetime is not None:
                self.lifetime = lifetime

    def fail(self, status, count=1, path=""):
        """Answer the next `count` requests (None: all) whose path starts with `path` with
        `status` and no useful body (an IMDS having a bad moment)."""
        with self._lock:
            self._faults.append([status, count, path])

    def expire_tokens(self):
        """Make every session token issued so far invalid (as if their TTL had passed)."""
        with self._lock:
            self._tokens.clear()

    @property
    def requests(self):
        with self._lock:
            return list(self._log)

    def count(self, path=None, method=None, status=None):
        """Requests to `path` exactly (None: any; CREDS_PATH + role for the credentials), with
        that method and answer status if given."""
        return len([r for r in self.requests if (path is None or r.path == path)
                    and (method is None or r.method == method)
                    and (status is None or r.status == status)])

    @property
    def credentials_path(self):
        return CREDS_PATH + self.role

    # --- serving --------------------------------------------------------------------------

    def _handle(self, h, method):
        path = h.path.split("?", 1)[0]
        rec = ImdsRequest(method, path, h.headers)
        with self._lock:
            self._log.append(rec)
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        status, body, extra = self._answer(method, path, h.headers)
        rec.status = status
        h.send_response(status)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            h.send_header(k, v)
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(body)

    def _answer(self, method, path, headers):
        with self._lock:
            for f in self._faults:
                if path.startswith(f[2]) and (f[1] is None or f[1] > 0):
                    if f[1] is not None:
                        f[1] -= 1
                    return f[0], b"", {}
        if headers.get("X-Forwarded-For") is not None:
            return 403, b"", {}
        if path == TOKEN_PATH:
            if method != "PUT":
                return 405, b"", {}
            ttl = headers.get(TTL_HEADER)
            try:
                ttl = int(ttl)
            except (TypeError, ValueError):
                return 400, b"", {}
            if not 1 <= ttl <= 21600:
                return 400, b"", {}
            token = secrets.token_urlsafe(42)
            with self._lock:
                self._tokens[token] = time.time() + ttl
            return 200, token.encode(), {TTL_HEADER: str(ttl)}
        if method not in ("GET", "HEAD"):
            return 405, b"", {}
        token = headers.get(TOKEN_HEADER)
        with self._lock:
            if token is None and not self.allow_v1:
                return 401, b"", {}
            if token is not None and self._tokens.get(token, 0) < time.time():
                return 401, b"", {}
            if path in (CREDS_PATH, CREDS_PATH.rstrip("/")):
                return 200, self.role.encode(), {}
            if path == CREDS_PATH + self.role:
                if self.auto_rotate and time.time() >= self._issued + self.lifetime:
                    self._rotate_locked()
                c = self._current_locked()
        if path != CREDS_PATH + self.role:
            return 404, b"", {}
        doc = {"Code": "Success", "LastUpdated": iso8601(c["last_updated"]),
               "Type": "AWS-HMAC", "AccessKeyId": c["access_key"],
               "SecretAccessKey": c["secret_key"]}
        if c.get("token") is not None:
            doc["Token"] = c["token"]
        doc["Expiration"] = iso8601(c["expiration"])
        return 200, json.dumps(doc, indent=2, separators=(",", " : ")).encode(), {}
