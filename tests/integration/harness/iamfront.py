"""An ElastiCache IAM authentication stand-in: a RESP front in front of a real redis-server.

This is a hand-written stand-in. ElastiCache (Valkey 7.2+, Redis OSS 7.0+) takes an IAM
authentication token as the password of AUTH or HELLO ... AUTH, and nothing off AWS validates
such tokens: redis-server and valkey-server know nothing of them. So this front (a thread in the
test process, on 127.0.0.1 and its own port) does what ElastiCache does at the door, and lets a
real redis-server do the rest:

  - every AUTH <user> <token> and HELLO <proto> AUTH <user> <token> is checked: the token is
    recomputed with botocore's SigV4QueryAuth (in the interpreter that has botocore, see
    BotocoreSigner) from the front's cache name (lower case), region and serverless flag, the
    AUTH user, the known credentials of the token's access key and the token's own X-Amz-Date,
    and must carry exactly the same parameters (so the same signature); Action=connect,
    X-Amz-Expires=900, and its date must not be more than 900 s in the past (nor more than
    `skew` in the future) by the front's clock, which a test can replace;
  - a good AUTH is answered +OK by the front (a good HELLO goes to redis without its AUTH
    words, and redis answers it); a bad one gets ElastiCache's (and redis') answer
    `-WRONGPASS invalid username-password pair or user is disabled.`;
  - before a connection authenticated, other commands get `-NOAUTH Authentication required.`;
    afterwards they go to redis as they came, and redis' replies come back in order
    (pipelining is fine: replies are parsed, RESP2 and RESP3);
  - like ElastiCache, it drops a connection whose last successful authentication is
    `max_auth_age` seconds old or more (None: never; ElastiCache's is 12 hours, a test sets a
    short one, or advances the clock), when the connection sends its next command and from a
    sweep every 50 ms.

Every AUTH is recorded (`.auths`: connection id, front time, user, token, ok, reason, command),
and every connection (`.connections`: opened, last_auth, closed, why), so a test can assert that
tokens are refreshed and connections re-authenticate in time. Redis itself needs no ACL: the
front never sends it an AUTH.

Not modelled: MULTI/EXEC around AUTH (ElastiCache refuses IAM AUTH there), pub/sub and client
tracking (pushes break the one reply per command pairing), and IAM policies (which user may
connect to which cache: any known credentials may sign for any user the test allows, `users`).
"""
import datetime
import os
import socket
import threading
import time
from urllib.parse import unquote

from .moto import _Worker, moto_python
from .threadserver import ThreadServer

SERVICE = "elasticache"
EXPIRES = 900
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
NOAUTH = b"-NOAUTH Authentication required.\r\n"
SWEEP = 0.05

# botocore in the moto interpreter: one JSON request line in, one answer line out (the protocol
# of harness/moto.py's worker). "sign" makes a token the way AWS's Developer Toolkit for
# ElastiCache does: SigV4QueryAuth(credentials, "elasticache", region, expires=900) over
# https://<cache name lower-cased>/?urlencode(Action, User[, ResourceType]), scheme stripped;
# the signing time is pinned by replacing botocore's clock for the call.
_SIGNER = r"""
import datetime, json, os, sys
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
from unittest import mock
from urllib.parse import urlencode
import botocore, botocore.auth
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(a):
    params = {"Action": "connect", "User": a["user"]}
    if a["serverless"]:
        params["ResourceType"] = "ServerlessCache"
    url = "https://" + a["cache"].lower() + "/?" + urlencode(params)
    when = datetime.datetime.strptime(a["time"], "%Y%m%dT%H%M%SZ")
    req = AWSRequest(method="GET", url=url)
    auth = SigV4QueryAuth(Credentials(a["ak"], a["sk"], a.get("token")), "elasticache",
                          a["region"], expires=a.get("expires", 900))
    if hasattr(botocore.auth, "get_current_datetime"):
        with mock.patch.object(botocore.auth, "get_current_datetime",
                               lambda remove_tzinfo=True: when):
            auth.add_auth(req)
    else:  # older botocore: add_auth's steps with the time set
        req.context["timestamp"] = a["time"]
        auth._modify_request_before_signing(req)
        sts = auth.string_to_sign(req, auth.canonical_request(req))
        auth._inject_signature_to_request(req, auth.signature(sts, req))
    return {"token": req.url[len("https://"):], "botocore": botocore.__version__}


for line in sys.stdin:
    r = json.loads(line)
    try:
        res = {"ok": True, "result": sign(r["args"])}
    except Exception as e:  # noqa: BLE001 - the caller sees it
        res = {"ok": False, "code": type(e).__name__, "message": str(e), "status": None}
    out.write(json.dumps(res) + "\n")
    out.flush()
"""


class BotocoreSigner:
    """botocore's SigV4 query signer, in the interpreter that has it (pytest's has not)."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.worker = None

    def start(self):
        self.worker = _Worker([moto_python(), "-c", _SIGNER],
                              os.path.join(self.log_dir, "botocore-signer.stderr"),
                              dict(os.environ), timeout=60)
        return self

    def token(self, user, cache, region, time, access_key, secret_key, session_token=None,
              serverless=False, expires=EXPIRES):
        """The token botocore makes, signed at `time` (YYYYMMDDTHHMMSSZ)."""
        return self.worker.call("sign", {
            "user": user, "cache": cache, "region": region, "time": time, "ak": access_key,
            "sk": secret_key, "token": session_token, "serverless": bool(serverless),
            "expires": expires})["token"]

    def stop(self):
        if self.worker:
            self.worker.stop()
            self.worker = None


def amz_date(t):
    """Seconds since the epoch as X-Amz-Date: 20240102T030405Z."""
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc) \
        .strftime("%Y%m%dT%H%M%SZ")


def parse_amz_date(s):
    return datetime.datetime.strptime(s, "%Y%m%dT%H%M%SZ") \
        .replace(tzinfo=datetime.timezone.utc).timestamp()


def token_params(token):
    """(host, [(name, value)] as on the wire) of a token, or None if it is no presigned URL."""
    host, sep, query = token.partition("/?")
    if not sep or not host or "/" in host:
        return None
    pairs = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        pairs.append((name, value))
    return host, pairs


class ManualClock:
    """A clock for the front that moves only when told: clock.advance(seconds)."""

    def __init__(self, start=None):
        self.now = float(start if start is not None else time.time())
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            return self.now

    def advance(self, seconds):
        with self.lock:
            self.now += seconds

    def set(self, t):
        with self.lock:
            self.now = float(t)


class AuthRecord:
    """One AUTH (or HELLO AUTH) the front checked."""

    def __init__(self, conn, at, command, user, token, ok, reason):
        self.conn = conn          # connection id (1, 2, ...)
        self.at = at              # front clock
        self.command = command    # "AUTH" or "HELLO"
        self.user = user
        self.token = token
        self.ok = ok
        self.reason = reason      # why it was refused ("" when ok)

    @property
    def signed_at(self):
        """The token's X-Amz-Date as seconds since the epoch (None if it has none)."""
        tp = token_params(self.token)
        d = dict(tp[1]) if tp else {}
        try:
            return parse_amz_date(unquote(d.get("X-Amz-Date", "")))
        except ValueError:
            return None

    def __repr__(self):
        return "<AUTH conn=%d at=%.0f %s %s%s>" % (self.conn, self.at, self.user,
                                                    "ok" if self.ok else "refused: ",
                                                    self.reason)


class ConnRecord:
    def __init__(self, cid, opened):
        self.id = cid
        self.opened = opened      # front clock
        self.last_auth = None     # front clock of the last successful AUTH
        self.user = None
        self.closed = None        # front clock when it ended
        self.why = None           # "client" (it closed), "max_auth_age", "error", "stopped"

    def __repr__(self):
        return "<conn %d user=%s last_auth=%s closed=%s (%s)>" % (
            self.id, self.user, self.last_auth, self.closed, self.why)


class _Conn:
    """A client connection and its own connection to redis."""

    def __init__(self, front, cid, client):
        self.front = front
        self.rec = ConnRecord(cid, front.clock())
        self.client = client
        self.redis = socket.create_connection(("127.0.0.1", front.redis_port), timeout=5)
        self.redis.settimeout(None)
        self.cin = client.makefile("rb")
        self.rin = self.redis.makefile("rb")
        self.slots = []           # replies in order: bytes (the front's own) or None (redis')
        self.cond = threading.Condition()
        self.done = False
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True,
                                       name="iamfront-read-%d" % cid)
        self.writer = threading.Thread(target=self._write, daemon=True,
                                       name="iamfront-write-%d" % cid)

    def start(self):
        self.reader.start()
        self.writer.start()

    def expired(self, now):
        age = self.front.max_auth_age
        return (age is not None and self.rec.last_auth is not None
                and now - self.rec.last_auth >= age)

    def close(self, why):
        with self.lock:
            if self.rec.closed is not None:
                return
            self.rec.closed = self.front.clock()
            self.rec.why = why
        if why == "max_auth_age":
            self.front._write_log("conn %d dropped: last AUTH at %s, now %s" % (
                self.rec.id, amz_date(self.rec.last_auth), amz_date(self.rec.closed)))
        for s in (self.client, self.redis):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def _push(self, slot):
        with self.cond:
            self.slots.append(slot)
            self.cond.notify_all()

    def _read(self):
        try:
            while True:
                cmd = read_command(self.cin)
                if cmd is None:
                    break
                args, raw = cmd
                if not args:
                    continue
                if self.expired(self.front.clock()):
                    self.close("max_auth_age")
                    return
                self._handle(args, raw)
        except (OSError, ValueError):
            pass
        # the client is gone (or sent garbage): finish the replies in flight, then close
        with self.cond:
            self.slots.append(EOFError)
            self.cond.notify_all()

    def _handle(self, args, raw):
        name = args[0].decode("latin-1").upper()
        if name == "AUTH":
            if len(args) == 3:
                user, token = args[1].decode("utf-8", "replace"), args[2].decode("latin-1")
            elif len(args) == 2:
                user, token = "default", args[1].decode("latin-1")
            else:
                self._push(b"-ERR wrong number of arguments for 'auth' command\r\n")
                return
            self._push(b"+OK\r\n" if self._auth("AUTH", user, token) else WRONGPASS)
        elif name == "HELLO":
            rest, auth = hello_split(args)
            if auth is None and self.rec.last_auth is None:
                self._push(NOAUTH)
            elif auth is not None and not self._auth("HELLO", auth[0], auth[1]):
                self._push(WRONGPASS)
            else:
                self._forward(encode_command(rest))
        elif self.rec.last_auth is None:
            self._push(NOAUTH)
        else:
            self._forward(raw)

    def _auth(self, command, user, token):
        ok, reason = self.front.verify(user, token)
        now = self.front.clock()
        if ok:
            self.rec.last_auth = now
            self.rec.user = user
        self.front._record(AuthRecord(self.rec.id, now, command, user, token, ok, reason))
        return ok

    def _forward(self, raw):
        self._push(None)
        self.redis.sendall(raw)

    def _write(self):
        try:
            while True:
                with self.cond:
                    while not self.slots and not self.done:
                        self.cond.wait()
                    if not self.slots:
                        return
                    slot = self.slots.pop(0)
                if slot is EOFError:
                    break
                if slot is None:
                    slot = read_reply(self.rin)
                self.client.sendall(slot)
        except (OSError, ValueError, EOFError):
            self.close("error")
            return
        self.close("client")


def read_command(f):
    """(args, raw bytes) of the next client command (RESP array of bulk strings, or an inline
    command), or None at the end."""
    line = f.readline()
    if not line:
        return None
    if not line.endswith(b"\r\n") and not line.endswith(b"\n"):
        return None
    if line[:1] == b"*":
        n = int(line[1:].strip())
        raw, args = [line], []
        for _ in range(n):
            head = f.readline()
            if head[:1] != b"$":
                raise ValueError("expected a bulk string in a command")
            size = int(head[1:].strip())
            data = f.read(size + 2)
            if len(data) != size + 2:
                return None
            raw += [head, data]
            args.append(data[:-2])
        return args, b"".join(raw)
    return line.split(), line


def read_reply(f):
    """The raw bytes of one complete reply (RESP2 or RESP3)."""
    line = f.readline()
    if not line or not line.endswith(b"\r\n"):
        raise EOFError("redis closed the connection")
    out = [line]
    kind = line[:1]
    if kind in b"$!=":
        n = int(line[1:-2])
        if n >= 0:
            data = f.read(n + 2)
            if len(data) != n + 2:
                raise EOFError("redis closed the connection")
            out.append(data)
    elif kind in b"*~>":
        for _ in range(max(int(line[1:-2]), 0)):
            out.append(read_reply(f))
    elif kind == b"%":
        for _ in range(2 * max(int(line[1:-2]), 0)):
            out.append(read_reply(f))
    elif kind == b"|":  # attributes, then the reply they belong to
        for _ in range(2 * max(int(line[1:-2]), 0)):
            out.append(read_reply(f))
        out.append(read_reply(f))
    return b"".join(out)


def encode_command(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def hello_split(args):
    """HELLO's words without AUTH user pass, and (user, pass) or None."""
    rest, auth, i = [args[0]], None, 1
    while i < len(args):
        if args[i].upper() == b"AUTH" and i + 2 < len(args):
            auth = (args[i + 1].decode("utf-8", "replace"), args[i + 2].decode("latin-1"))
            i += 3
        else:
            rest.append(args[i])
            i += 1
    return rest, auth


class IamFront(ThreadServer):
    """The front on 127.0.0.1:.port before redis on redis_port.

        front = IamFront(redis.port, logs, signer, cache="replication-group-01",
                         credentials=[{"access_key": AK, "secret_key": SK}]).start()
        ... module AUTHs through front.target ...
        assert [a.ok for a in front.auths] == [True]

    credentials: what IAM knows, a list of dicts access_key, secret_key and optionally
    session_token (temporary credentials: the token must carry it). users: the ElastiCache
    user ids that exist (None: any). clock: seconds since the epoch (time.time, or a
    ManualClock). max_auth_age: drop connections whose last AUTH is that many seconds old.
    """

    name = "iamfront"
    tick = SWEEP        # reap() between connections

    def __init__(self, redis_port, log_dir, signer, cache="replication-group-01",
                 region="us-east-1", serverless=False, credentials=(), users=None,
                 clock=time.time, max_auth_age=None, skew=300):
        self.redis_port = redis_port
        self.log_dir = log_dir
        self.signer = signer
        self.cache = cache
        self.region = region
        self.serverless = serverless
        self.credentials = {c["access_key"]: dict(c) for c in credentials}
        self.users = set(users) if users is not None else None
        self.clock = clock
        self.max_auth_age = max_auth_age
        self.skew = skew
        self.auths = []
        self.connections = []
        self._conns = []
        self._lock = threading.Lock()
        self._log = open(os.path.join(log_dir, "iamfront.log"), "a")
        self._cid = 0
        super().__init__()

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        super().stop()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.close("stopped")
        self._log.close()

    # --- what a test looks at ------------------------------------------------------------

    def ok_auths(self, conn=None):
        with self._lock:
            return [a for a in self.auths if a.ok and (conn is None or a.conn == conn)]

    def refused_auths(self):
        with self._lock:
            return [a for a in self.auths if not a.ok]

    def dropped(self):
        """Connections the front closed for max_auth_age."""
        with self._lock:
            return [c for c in self.connections if c.why == "max_auth_age"]

    def reap(self):
        """Close the connections whose last AUTH is max_auth_age old (done every 50 ms too)."""
        now = self.clock()
        with self._lock:
            conns = [c for c in self._conns if c.rec.closed is None and c.expired(now)]
        for c in conns:
            c.close("max_auth_age")

    # --- the check -----------------------------------------------------------------------

    def verify(self, user, token):
        """(ok, reason) for AUTH user token at the front's clock, as ElastiCache decides."""
        now = self.clock()
        tp = token_params(token)
        if tp is None:
            return False, "not a presigned URL without scheme"
        host, pairs = tp
        names = [n for n, _ in pairs]
        if len(set(names)) != len(names):
            return False, "a parameter appears twice"
        q = {n: unquote(v) for n, v in pairs}
        if host != self.cache.lower():
            return False, "signed for cache %r, not %r" % (host, self.cache.lower())
        if q.get("Action") != "connect":
            return False, "Action is %r, not connect" % q.get("Action")
        if q.get("User") != user:
            return False, "signed for user %r, AUTH is for %r" % (q.get("User"), user)
        if self.users is not None and user not in self.users:
            return False, "no such user %r" % user
        if self.serverless and q.get("ResourceType") != "ServerlessCache":
            return False, "no ResourceType=ServerlessCache for a serverless cache"
        if not self.serverless and "ResourceType" in q:
            return False, "ResourceType=%s for a replication group" % q["ResourceType"]
        if q.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            return False, "X-Amz-Algorithm is %r" % q.get("X-Amz-Algorithm")
        if q.get("X-Amz-Expires") != str(EXPIRES):
            return False, "X-Amz-Expires is %r, not %d" % (q.get("X-Amz-Expires"), EXPIRES)
        scope = q.get("X-Amz-Credential", "").split("/")
        if len(scope) != 5 or scope[3:] != [SERVICE, "aws4_request"]:
            return False, "X-Amz-Credential is not for elasticache"
        if scope[2] != self.region:
            return False, "signed for region %r, not %r" % (scope[2], self.region)
        creds = self.credentials.get(scope[0])
        if creds is None:
            return False, "unknown access key %r" % scope[0]
        try:
            signed = parse_amz_date(q.get("X-Amz-Date", ""))
        except ValueError:
            return False, "X-Amz-Date %r does not parse" % q.get("X-Amz-Date")
        if scope[1] != q["X-Amz-Date"][:8]:
            return False, "the credential's date is not the X-Amz-Date's"
        if signed > now + self.skew:
            return False, "not yet valid: signed at %s, now %s" % (q["X-Amz-Date"], amz_date(now))
        if now > signed + EXPIRES:
            return False, "expired: signed at %s, now %s" % (q["X-Amz-Date"], amz_date(now))
        want = self.signer.token(user, self.cache, self.region, q["X-Amz-Date"],
                                 creds["access_key"], creds["secret_key"],
                                 creds.get("session_token"), self.serverless)
        want_pairs = token_params(want)[1]
        if sorted(pairs) != sorted(want_pairs):
            if dict(pairs).get("X-Amz-Signature") != dict(want_pairs).get("X-Amz-Signature"):
                return False, "the signature does not match"
            return False, "the signed parameters differ"
        return True, ""

    # --- the server ----------------------------------------------------------------------

    def _record(self, rec):
        with self._lock:
            self.auths.append(rec)
        tp = token_params(rec.token)
        date = dict(tp[1]).get("X-Amz-Date", "?") if tp else "?"
        self._write_log("conn %d %s user=%s token signed %s: %s" % (
            rec.conn, rec.command, rec.user, date, "ok" if rec.ok else "refused, " + rec.reason))

    def _write_log(self, line):
        with self._lock:
            if not self._log.closed:
                self._log.write("%s %s\n" % (amz_date(self.clock()), line))
                self._log.flush()

    def handle(self, client, addr):
        self._cid += 1
        try:
            conn = _Conn(self, self._cid, client)
        except OSError as e:
            self._write_log("conn %d: redis unreachable (%s)" % (self._cid, e))
            client.close()
            return
        with self._lock:
            self._conns = [c for c in self._conns if c.rec.closed is None]
            self._conns.append(conn)
            self.connections.append(conn.rec)
        conn.start()
        self.reap()

    def idle(self):
        self.reap()
