"""Smoke test of the browser driver: headless Chromium fills a form with a file input and
uploads a file to a small stdlib server, which must receive exactly the file's bytes."""
import email.parser
import email.policy
import hashlib
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.browser import WebDriverError

FORM = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>upload form</title></head><body>
<form method="post" action="/upload" enctype="multipart/form-data">
  <input type="text" name="title" id="title">
  <input type="file" name="file" id="file">
  <button type="submit" id="go">Upload</button>
</form></body></html>
"""


class FormServer:
    """GET / serves FORM; POST /upload records the multipart parts and answers with a page
    that names the size and SHA-256 of the uploaded file."""

    def __init__(self):
        self.uploads = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._send(200, FORM)

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n"
                    + body)
                parts = {p.get_param("name", header="content-disposition"):
                         (p.get_filename(), p.get_payload(decode=True))
                         for p in msg.iter_parts()}
                srv.uploads.append(parts)
                name, data = parts["file"]
                self._send(200, ('<p id="result">%s %d %s</p>' % (
                    name, len(data), hashlib.sha256(data).hexdigest())).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def form_server():
    s = FormServer()
    yield s
    s.stop()


def test_browser_uploads_exact_bytes(browser, form_server, tmp_path):
    # bytes that break naive multipart handling: CR/LF, NUL, a boundary-like line, all bytes
    data = (b"--boundary\r\n\r\n\x00\xff" + bytes(range(256)) + os.urandom(200000)
            + b"\r\n--\r\n")
    path = tmp_path / "upload me.bin"
    path.write_bytes(data)
    browser.get("http://127.0.0.1:%d/" % form_server.port)
    assert browser.title == "upload form"
    browser.find("#title").send_keys("a title")
    browser.find("input[type=file]").send_keys(str(path))
    browser.find("#go").click()
    result = browser.wait_for("#result")
    assert result.text == "upload me.bin %d %s" % (len(data), hashlib.sha256(data).hexdigest())
    assert len(form_server.uploads) == 1
    up = form_server.uploads[0]
    assert up["file"] == ("upload me.bin", data)
    assert up["title"][1] == b"a title"
    assert "/upload" in browser.url


def test_browser_errors_and_script(browser, form_server):
    browser.get("http://127.0.0.1:%d/" % form_server.port)
    with pytest.raises(WebDriverError) as e:
        browser.find("#nope")
    assert e.value.error == "no such element"
    assert browser.execute("return arguments[0] + 1", 41) == 42
    assert 'id="file"' in browser.source
