"""mod_s3 test helpers: a <Location> onto a moto bucket, upload tokens, raw uploads.

Upload tokens are minted here as the PHP example in docs/examples/s3-upload-token.php mints
them (base64url(JSON) "." base64url(HMAC-SHA256)), independently of the C code under test.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import time
import urllib.parse

TOKEN_SECRET = "lampfarm-test-upload-secret-0123456789"
TOKEN_ENV = "LF_S3_TOKEN_SECRET"
PART = 5 * 1024 * 1024  # the smallest part size S3 (and moto) allow: tests use it as S3PartSize


def _b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(secret=TOKEN_SECRET, ttl=300, **claims):
    """An upload token for claims key=/prefix=, max=, types=; exp = now + ttl."""
    claims.setdefault("exp", int(time.time()) + ttl)
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = _b64url(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return payload + "." + sig


def keyfile(logs, moto, secret=None):
    """A key file (two lines) with moto's IAM user's keys; returns its path."""
    path = os.path.join(logs, "s3-keys")
    with open(path, "w") as f:
        f.write("%s\n%s\n" % (moto.access_key, secret or moto.secret_key))
    os.chmod(path, 0o644)  # read by the config reader as root; children never reopen it
    return path


def location(bucket, endpoint, keys, path="/files", region="us-east-1", extra="",
             upload=True, handler=True):
    """A <Location path> mapped onto bucket; uploads on with tokens unless upload=False; with
    handler=False no `SetHandler s3` (the application answers: the hand-off's sections)."""
    lines = ["<Location %s>" % path] + (["    SetHandler s3"] if handler else [])
    lines += ["    S3Bucket %s" % bucket,
              "    S3Region %s" % region,
              "    S3Endpoint %s" % endpoint]
    if keys:
        lines.append("    S3Credentials keyfile %s" % keys)
    if upload:
        lines += ["    S3Upload On",
                  "    S3UploadTokenSecret env:%s" % TOKEN_ENV,
                  "    S3PartSize 5M"]
    lines += ["    " + l.strip() for l in extra.strip().splitlines() if l.strip()]
    lines.append("</Location>")
    return "\n".join(lines) + "\n"


def presigned_signature(url, secret_key):
    """The SigV4 signature that S3 expects in a presigned GET url (query authentication: only
    host signed, UNSIGNED-PAYLOAD), computed from the url's own parameters, independently of the
    C code; moto cannot check one with signature checking on (it wants an Authorization
    header)."""
    u = urllib.parse.urlsplit(url)
    q = [(k, v) for k, v in urllib.parse.parse_qsl(u.query, keep_blank_values=True)
         if k != "X-Amz-Signature"]
    enc = (lambda s: urllib.parse.quote(s, safe="-_.~"))
    canon_query = "&".join("%s=%s" % (enc(k), enc(v)) for k, v in sorted(q))
    creq = "\n".join(["GET", u.path, canon_query, "host:%s\n" % u.netloc, "host",
                      "UNSIGNED-PAYLOAD"])
    params = dict(q)
    date, region, service = params["X-Amz-Credential"].split("/")[1:4]
    sts = "\n".join(["AWS4-HMAC-SHA256", params["X-Amz-Date"],
                     "%s/%s/%s/aws4_request" % (date, region, service),
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def handoff_location(bucket, endpoint, keys, path, prefix="private/"):
    """A <Location path> whose application's X-S3-Key answers are handed off to bucket, keys
    below prefix (no SetHandler: the application answers)."""
    return location(bucket, endpoint, keys, path=path, upload=False, handler=False,
                    extra="S3HandOff On\nS3KeyPrefix %s" % prefix)


# The application of the hand-off tests: decides which object the user may have, says so in a
# header. /app/download.cgi?KEY,DISPOSITION (%20 for spaces); ?denied answers 403 itself.
HANDOFF_CGI = """#!/bin/sh
case "$QUERY_STRING" in
  denied) printf 'Status: 403 Forbidden\\r\\nContent-Type: text/plain\\r\\n\\r\\nno\\n' ;;
  *) printf 'Content-Type: text/html\\r\\nX-S3-Key: %s\\r\\nX-S3-Disposition: %s\\r\\n\\r\\n' \\
        "$(echo "$QUERY_STRING" | cut -d, -f1 | sed 's/%20/ /g')" "$(echo "$QUERY_STRING" | cut -d, -f2)"
     echo '<p>this page body is replaced</p>' ;;
esac
"""


def handoff_app(logs, mpm, bucket, endpoint, keys, path="/app"):
    """The hand-off application (HANDOFF_CGI as download.cgi, run by httpd's mod_cgid/mod_cgi)
    at path, its answers handed off to bucket: (configuration text, the httpd module to load
    for it)."""
    cgi = os.path.join(logs, "cgi")
    os.makedirs(cgi, exist_ok=True)
    script = os.path.join(cgi, "download.cgi")
    with open(script, "w") as f:
        f.write(HANDOFF_CGI)
    os.chmod(script, 0o755)
    os.chmod(cgi, 0o755)
    conf = """
ScriptAlias %(path)s/ "%(cgi)s/"
<Directory "%(cgi)s">
    Require all granted
</Directory>
%(location)s""" % {"path": path, "cgi": cgi,
                   "location": handoff_location(bucket, endpoint, keys, path)}
    return conf, "cgid" if mpm == "event" else "cgi"


def start(httpd, moto, logs, bucket, endpoint=None, extra="", conf_extra="", env=None,
          modules=("s3",), **kw):
    """Start httpd with one S3 location (/files) on bucket; returns the server."""
    e = {TOKEN_ENV: TOKEN_SECRET}
    e.update(env or {})
    conf = location(bucket, endpoint or moto.endpoint, keyfile(logs, moto), extra=extra,
                    **kw) + conf_extra
    return httpd.start(conf, modules=modules, env=e)


def put(srv, path, data, token=None, headers=None, chunked=False, timeout=60):
    """PUT data to srv (Content-Length, or chunked in 64 KiB pieces); returns harness Response."""
    from .http import Response
    hdrs = {"Host": "127.0.0.1:%d" % srv.port, "Connection": "close"}
    if token:
        hdrs["X-Upload-Token"] = token
    hdrs.update(headers or {})
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        if chunked:
            conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(data), 65536):
                piece = data[i:i + 65536]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            conn.request("PUT", path, body=data, headers=hdrs)
        r = conn.getresponse()
        return Response(r.status, r.reason, r.headers, r.read(), time.monotonic() - t0)
    finally:
        conn.close()


def put_and_vanish(srv, path, token, declared, send, headers=None):
    """Start a PUT declaring `declared` bytes, send `send` bytes, then close the connection."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    head = ("PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n"
            "X-Upload-Token: %s\r\nContent-Type: application/octet-stream\r\n" %
            (path, srv.port, declared, token))
    for k, v in (headers or {}).items():
        head += "%s: %s\r\n" % (k, v)
    s.sendall((head + "\r\n").encode())
    chunk = os.urandom(65536)
    left = send
    while left > 0:
        n = min(left, len(chunk))
        s.sendall(chunk[:n])
        left -= n
    s.close()


def start_held_put(srv, path, token, length):
    """Start a PUT of length bytes with `Expect: 100-continue` and send no body yet: returns
    (socket, status) where status is 100 once mod_s3 has reserved its spool memory and reads the
    body (httpd sends 100 Continue then), or the refusal (503 when S3MemoryLimit is taken, the
    socket then closed). finish_held_put() sends the body."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(("PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n"
               "Expect: 100-continue\r\nX-Upload-Token: %s\r\n"
               "Content-Type: application/octet-stream\r\n\r\n"
               % (path, srv.port, length, token)).encode())
    status = _read_status(s, b"\r\n\r\n")
    if status != 100:
        s.close()
    return s, status


def finish_held_put(s, length):
    """Send the body of a start_held_put() upload; the final status."""
    s.sendall(b"x" * length)
    status = _read_status(s, b"\r\n")
    s.close()
    return status


def _read_status(s, until):
    """Read from s until the bytes `until` came; the status code of the status line."""
    head = b""
    while until not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return int(head.split(b" ", 2)[1])


def form_body(files, fields=None, boundary="----lampfarmTestBoundary7MA4YWxkTrZu0gW"):
    """A multipart/form-data body as a browser builds it: files = [(field, filename, type,
    bytes)]; returns (content_type, body)."""
    out = []
    for name, value in (fields or {}).items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" %
                    (boundary, name)).encode() + value.encode() + b"\r\n")
    for name, filename, ctype, data in files:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                    "Content-Type: %s\r\n\r\n" % (boundary, name, filename, ctype)).encode()
                   + data + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return "multipart/form-data; boundary=%s" % boundary, b"".join(out)


def wait_no_uploads(moto, bucket, timeout=10):
    """Wait until moto lists no multipart upload in progress for bucket; returns the list."""
    deadline = time.monotonic() + timeout
    while True:
        ups = moto.s3.list_multipart_uploads(bucket)
        if not ups or time.monotonic() > deadline:
            return ups
        time.sleep(0.2)
