"""A fault-injecting HTTP/1.1 reverse proxy in front of moto: S3's transient failures on demand.

This is a hand-written stand-in. Real S3 fails now and then (503 SlowDown, 500 InternalError, a
CompleteMultipartUpload that answers 200 with an <Error> body, a connection that stalls or drops),
but neither S3 nor moto can be told to do so at a chosen request, and TCP-level fault proxies do
not know what a request is. This proxy sits between the module and moto, relays every request
byte for byte (the Host header too: the client signs for the proxy's host:port and moto recomputes
the signature from the Host header it receives, so SigV4 stays valid), and lets a test decide,
while it runs, what happens to the requests that match a rule.

    fp.add_rule("PUT", r"partNumber=2", status=503, count=1)          # SlowDown once
    fp.add_rule("POST", r"uploadId=", action="error200")               # 200 + <Error> body
    fp.add_rule("GET", r"^/bucket/big", action="stall", seconds=30)     # read it, say nothing
    fp.add_rule("GET", r"^/bucket/", action="close")                    # drop the connection
    ...
    assert fp.count("PUT", r"partNumber=2") == 2
    assert fp.count("DELETE", r"uploadId=") == 1                        # AbortMultipartUpload

Actions (rules are tried in the order they were added; the first one whose method, path regex
and count window match takes the request; a request no rule takes is forwarded):
  respond   answer `status` with `body` (default: S3's <Error> XML for the status) without
            forwarding; `headers` adds or replaces response headers
  error200  forward; if moto answers 200, replace the answer by a 200 carrying an <Error> body
            (`code`, `message`; the CompleteMultipartUpload case)
  stall     read the request, send nothing for `seconds` (None: until the client closes or the
            proxy stops), then close the connection
  delay     wait `seconds`, then forward
  close     read the request, then close the connection without answering (FIN)
  reset     read the request, then reset the connection (RST)
  truncate  forward, relay the status line, headers and the first `nbytes` bytes of the body,
            then close the connection (a download that dies midway)

Requests with `Expect: 100-continue` get the proxy's own `100 Continue`; the request is then read
whole and forwarded (with its Expect header), and moto's interim 100 is dropped.
"""
import re
import select
import socket
import struct
import threading
import time
import uuid

from .threadserver import ThreadServer

ACTIONS = ("respond", "error200", "stall", "delay", "close", "reset", "truncate")
BODY_KEEP = 1 << 20         # request bodies up to this size are kept in the record (Exchange.body)

# S3's error codes and messages for the statuses a test injects most
S3_ERRORS = {
    400: ("RequestTimeout", "Your socket connection to the server was not read from or written "
                            "to within the timeout period. Idle connections will be closed."),
    403: ("AccessDenied", "Access Denied"),
    404: ("NoSuchKey", "The specified key does not exist."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


def s3_error_xml(code, message=None, resource="", request_id=None):
    """S3's error document: <Error><Code>..</Code><Message>..</Message>...</Error>, as bytes."""
    if message is None:
        message = next((m for c, m in S3_ERRORS.values() if c == code), code)
    request_id = request_id or uuid.uuid4().hex[:16].upper()
    esc = (lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<Resource>%s</Resource><RequestId>%s</RequestId><HostId>lampfarm-faultproxy'
            '</HostId></Error>' % (esc(code), esc(message), esc(resource), request_id)).encode()


class Rule:
    """What to do with requests whose method and path+query match. `after` matching requests
    pass untouched first; then the action is taken `count` times (None: always)."""

    def __init__(self, method=None, path=None, action="respond", status=503, body=None,
                 headers=None, count=None, after=0, seconds=None, nbytes=0, code=None,
                 message=None):
        if action not in ACTIONS:
            raise ValueError("unknown action %r (one of %s)" % (action, ", ".join(ACTIONS)))
        self.method = method.upper() if method else None
        self.path = path
        self.regex = re.compile(path) if path else None
        self.action = action
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = dict(headers or {})
        self.count = count
        self.after = after
        self.seconds = seconds
        self.nbytes = nbytes
        self.code = code
        self.message = message
        self.matched = 0    # requests that matched method and path
        self.applied = 0    # requests the action was taken on

    def _take(self, method, target):
        if self.method and self.method != method:
            return False
        if self.regex and not self.regex.search(target):
            return False
        self.matched += 1
        if self.matched <= self.after:
            return False
        if self.count is not None and self.applied >= self.count:
            return False
        self.applied += 1
        return True

    @property
    def exhausted(self):
        return self.count is not None and self.applied >= self.count

    def __repr__(self):
        return "<Rule %s %s %s applied=%d/%s>" % (self.method or "*", self.path or "*",
                                                  self.action, self.applied, self.count)


class Exchange:
    """One request the proxy received and what it returned.

    method, target (path+query as sent), path, query, headers (list of (name, value)),
    body_len (bytes of body, after de-chunking), body (the payload, de-chunked, when at most
    BODY_KEEP bytes; else None), status (what the client got; None when it got no answer),
    injected (the client did not get moto's own answer), action ("forward" or the rule's
    action), upstream_status (moto's status when it was forwarded), time (monotonic)."""

    def __init__(self, method, target, version, headers, body_len, body):
        self.method = method
        self.target = target
        self.path, _, self.query = target.partition("?")
        self.version = version
        self.headers = headers
        self.body_len = body_len
        self.body = body
        self.status = None
        self.upstream_status = None
        self.injected = False
        self.action = "forward"
        self.done = False
        self.time = time.monotonic()

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def __repr__(self):
        return "<%s %s -> %s%s%s>" % (self.method, self.target, self.status,
                                      " injected" if self.injected else "",
                                      "" if self.action == "forward" else " (%s)" % self.action)


class _Closed(Exception):
    """The peer closed the connection."""


class _Reader:
    """Buffered reads from a socket: lines, exact sizes, whatever is there."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(262144)
        if not data:
            raise _Closed()
        self.buf += data

    def readline(self, limit=65536):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > limit:
                raise ValueError("line too long")
            self._fill()

    def read_exact(self, n):
        parts = []
        while n > 0:
            if not self.buf:
                self._fill()
            take = bytes(self.buf[:n])
            del self.buf[:len(take)]
            parts.append(take)
            n -= len(take)
        return b"".join(parts)

    def read_some(self, n=262144):
        if not self.buf:
            data = self.sock.recv(n)
            if not data:
                raise _Closed()
            return data
        take = bytes(self.buf[:n])
        del self.buf[:len(take)]
        return take


def _read_head(reader):
    """Start line and headers; returns (start line str, [(name, value)], raw bytes)."""
    raw = [reader.readline()]
    while raw[0] in (b"\r\n", b"\n"):          # tolerate empty lines between requests
        raw = [reader.readline()]
    headers = []
    while True:
        line = reader.readline()
        raw.append(line)
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return raw[0].decode("latin-1").rstrip("\r\n"), headers, b"".join(raw)


def _get(headers, name):
    name = name.lower()
    vals = [v for k, v in headers if k.lower() == name]
    return ", ".join(vals) if vals else None


def _has_token(headers, name, token):
    v = _get(headers, name)
    return v is not None and token in [t.strip().lower() for t in v.split(",")]


def _body_iter(reader, headers, no_body=False, until_close=True):
    """Yield the raw bytes of a message body as framed on the wire (chunked stays chunked)
    and count the payload; the generator's return value is the payload length."""
    if no_body:
        return 0
    if _has_token(headers, "transfer-encoding", "chunked"):
        total = 0
        while True:
            line = reader.readline()
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            yield line
            if size == 0:
                while True:                      # trailers up to the empty line
                    t = reader.readline()
                    yield t
                    if t in (b"\r\n", b"\n"):
                        return total
            left = size + 2                     # data and its CRLF
            total += size
            while left > 0:
                piece = reader.read_some(min(left, 262144))
                left -= len(piece)
                yield piece
    cl = _get(headers, "content-length")
    if cl is not None:
        left = int(cl.split(",")[0])
        total = left
        while left > 0:
            piece = reader.read_some(min(left, 262144))
            left -= len(piece)
            yield piece
        return total
    if not until_close:
        return 0
    total = 0
    while True:
        try:
            piece = reader.read_some()
        except _Closed:
            return total
        total += len(piece)
        yield piece


def _dechunk(raw):
    out, i = [], 0
    while True:
        j = raw.index(b"\n", i)
        size = int(raw[i:j].split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            return b"".join(out)
        out.append(raw[j + 1:j + 1 + size])
        i = j + 1 + size + 2


def _collect(gen):
    parts = []
    while True:
        try:
            parts.append(next(gen))
        except StopIteration as e:
            return b"".join(parts), (e.value or 0)


class FaultProxy(ThreadServer):
    """The proxy: .endpoint, .add_rule(), .clear(), .requests, .count(), .wait_for()."""

    name = "faultproxy"

    def __init__(self, upstream_port, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self._lock = threading.Lock()
        self._rules = []
        self._log = []
        self._conns = set()
        self._threads = []
        super().__init__()

    # --- the test's side ------------------------------------------------------------------

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def host(self):
        """host:port, as a client puts it in its Host header."""
        return "127.0.0.1:%d" % self.port

    def add_rule(self, method=None, path=None, action="respond", **kw):
        """Add a rule (see the module docstring and Rule) and return it; rule.applied counts
        the requests it took."""
        r = Rule(method, path, action, **kw)
        with self._lock:
            self._rules.append(r)
        return r

    def remove_rule(self, rule):
        with self._lock:
            self._rules = [r for r in self._rules if r is not rule]

    def clear(self, rules=True, requests=True):
        """Forget the rules and/or the recorded requests."""
        with self._lock:
            if rules:
                self._rules = []
            if requests:
                self._log = []

    @property
    def rules(self):
        with self._lock:
            return list(self._rules)

    @property
    def requests(self):
        """Every request received so far (Exchange objects), oldest first."""
        with self._lock:
            return list(self._log)

    def find(self, method=None, path=None, injected=None):
        """The recorded requests with that method, path+query regex (re.search) and injected
        flag (None: either)."""
        rx = re.compile(path) if path else None
        return [e for e in self.requests
                if (method is None or e.method == method.upper())
                and (rx is None or rx.search(e.target))
                and (injected is None or e.injected == injected)]

    def count(self, method=None, path=None, injected=None):
        return len(self.find(method, path, injected))

    def wait_for(self, method=None, path=None, n=1, timeout=10.0, done=False):
        """Wait until at least n matching requests arrived (done=True: and were answered or
        given up); returns them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.find(method, path) if e.done or not done]
            if len(found) >= n:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError("faultproxy: %d of %d %s %s requests after %.1fs; saw %r"
                                   % (len(found), n, method or "*", path or "*", timeout,
                                      self.requests[-20:]))
            time.sleep(0.02)

    # --- lifecycle ------------------------------------------------------------------------

    def stop(self):
        super().stop()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        for t in list(self._threads):
            t.join(2)

    def handle(self, c, addr):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._conns.add(c)
        t = threading.Thread(target=self._serve, args=(c,), daemon=True, name="faultproxy-conn")
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    # --- one client connection --------------------------------------------------------------

    def _serve(self, client):
        reader = _Reader(client)
        up = _Upstream(self.upstream, self._conns, self._lock)
        try:
            while not self._stop.is_set():
                if not self._one(client, reader, up):
                    break
        except (_Closed, OSError, ValueError):
            pass
        finally:
            up.close()
            with self._lock:
                self._conns.discard(client)
            try:
                client.close()
            except OSError:
                pass

    def _one(self, client, reader, up):
        """Handle one request; returns whether the client connection stays open."""
        try:
            start, headers, raw_head = _read_head(reader)
        except _Closed:
            return False
        method, target, version = (start.split(" ", 2) + ["", ""])[:3]
        has_body = (_get(headers, "content-length") not in (None, "0")
                    or _has_token(headers, "transfer-encoding", "chunked"))
        if has_body and _has_token(headers, "expect", "100-continue"):
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        raw_body, body_len = _collect(_body_iter(reader, headers, until_close=False))
        body = None
        if body_len <= BODY_KEEP:
            body = _dechunk(raw_body) if _has_token(headers, "transfer-encoding", "chunked") \
                else raw_body
        ex = Exchange(method, target, version, headers, body_len, body)
        with self._lock:
            self._log.append(ex)
            rule = next((r for r in self._rules if r._take(method, target)), None)
        keep = version == "HTTP/1.1" and not _has_token(headers, "connection", "close")
        try:
            return self._act(rule, ex, client, up, raw_head + raw_body, keep)
        finally:
            ex.done = True

    def _act(self, rule, ex, client, up, raw_request, keep):
        action = rule.action if rule else "forward"
        if action != "forward":
            ex.action = action
        if action == "respond":
            ex.injected = True
            ex.status = rule.status
            code, message = S3_ERRORS.get(rule.status, ("InternalError", None))
            body = rule.body if rule.body is not None else \
                s3_error_xml(rule.code or code, rule.message or message, ex.path)
            client.sendall(_response(rule.status, body, rule.headers, keep,
                                     head_only=ex.method == "HEAD"))
            return keep
        if action in ("stall", "close", "reset"):
            ex.injected = True
            if action == "stall":
                self._stall(client, rule.seconds)
            elif action == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if action == "delay" and rule.seconds:
            if self._stop.wait(rule.seconds):
                return False
        # forward
        try:
            status, head, resp_headers, body_gen, up_keep, framed = \
                up.exchange(raw_request, ex.method)
        except (OSError, _Closed, ValueError) as e:
            ex.injected = True
            ex.action = "upstream-error"
            ex.status = 502
            client.sendall(_response(502, ("faultproxy: upstream %s:%d: %s\n"
                                           % (self.upstream + (e,))).encode(), {}, False))
            return False
        ex.upstream_status = status
        ex.status = status
        if action == "error200" and status == 200:
            _collect(body_gen)
            if not up_keep:
                up.close()
            ex.injected = True
            client.sendall(_response(200, s3_error_xml(rule.code or "InternalError",
                                                       rule.message, ex.path),
                                     rule.headers, keep))
            return keep
        if action == "truncate":
            ex.injected = True
            client.sendall(head)
            left = rule.nbytes
            try:
                while left > 0:
                    piece = next(body_gen)[:left]
                    client.sendall(piece)
                    left -= len(piece)
            except StopIteration:
                pass
            up.close()
            return False
        if keep and framed and not up_keep:
            # moto closes every connection after one answer; S3 keeps them open. The client
            # keeps its connection to the proxy (the next request goes to moto on a new one),
            # so connection reuse and a stale kept-alive connection can be tested.
            head = _drop_connection_close(head)
        client.sendall(head)
        for piece in body_gen:
            client.sendall(piece)
        if not up_keep:
            up.close()
        return keep and framed

    def _stall(self, client, seconds):
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._stop.is_set():
            wait = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
            if wait <= 0:
                return
            r, _, _ = select.select([client], [], [], wait)
            if r:
                try:
                    if not client.recv(65536):
                        return                  # the client gave up
                except OSError:
                    return


class _Upstream:
    """The connection to moto that belongs to one client connection (kept alive, reopened
    when moto closed it)."""

    def __init__(self, addr, conns, lock):
        self.addr = addr
        self.sock = None
        self.reader = None
        self.conns = conns
        self.lock = lock

    def close(self):
        if self.sock is not None:
            with self.lock:
                self.conns.discard(self.sock)
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.reader = None

    def _connect(self):
        self.sock = socket.create_connection(self.addr, timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.conns.add(self.sock)
        self.reader = _Reader(self.sock)

    def exchange(self, raw_request, method):
        """Send the request; return (status, raw head, headers, body generator, keep-alive)."""
        for attempt in (1, 2):
            fresh = self.sock is None
            if fresh:
                self._connect()
            try:
                self.sock.sendall(raw_request)
                while True:                         # drop interim 1xx answers
                    start, headers, raw = _read_head(self.reader)
                    status = int(start.split(" ", 2)[1])
                    if not 100 <= status < 200:
                        break
                break
            except (_Closed, ConnectionError):
                # a kept-alive connection that moto had closed: once more on a new one
                self.close()
                if fresh or attempt == 2:
                    raise
        no_body = method == "HEAD" or status in (204, 304)
        framed = no_body or _get(headers, "content-length") is not None or \
            _has_token(headers, "transfer-encoding", "chunked")
        keep = framed and not _has_token(headers, "connection", "close")
        return status, raw, headers, _body_iter(self.reader, headers, no_body), keep, framed


def _drop_connection_close(raw_head):
    lines = raw_head.split(b"\r\n")
    return b"\r\n".join(l for l in lines
                         if not (l.lower().startswith(b"connection:") and b"close" in l.lower()))


def _response(status, body, headers, keep, head_only=False):
    reasons = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
               500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    hdrs = {"Content-Type": "application/xml", "Content-Length": str(len(body)),
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(), "Server": "AmazonS3",
            "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())}
    if not keep:
        hdrs["Connection"] = "close"
    for k, v in (headers or {}).items():
        for old in [h for h in hdrs if h.lower() == k.lower()]:
            del hdrs[old]
        hdrs[k] = str(v)
    head = "HTTP/1.1 %d %s\r\n" % (status, reasons.get(status, "Status"))
    head += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
    return head.encode("latin-1") + (b"" if head_only else body)
