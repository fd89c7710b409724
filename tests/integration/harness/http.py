"""A tiny HTTP client on http.client: one request per connection, timing, source address."""
import http.client
import json
import time


class Response:
    def __init__(self, status, reason, headers, body, elapsed):
        self.status = status
        self.reason = reason
        self.headers = headers          # http.client.HTTPMessage (case-insensitive get)
        self.body = body                # bytes
        self.elapsed = elapsed          # seconds, connect to last byte

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %d %r %r>" % (self.status, dict(self.headers.items()), self.body[:300])


def request(port, method="GET", path="/", headers=None, body=None, host="127.0.0.1",
            source=None, timeout=5.0):
    """Send one request to host:port (optionally from source ip) and read the whole answer."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        # one request per connection: say so, no connection of ours lingers in keep-alive
        hdrs = {"Host": "127.0.0.1:%d" % port, "Connection": "close"}
        hdrs.update(headers or {})
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.headers, data, time.monotonic() - t0)
    finally:
        conn.close()
