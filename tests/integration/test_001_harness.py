"""Smoke tests of the harness itself: every fixture starts a real, working server."""
import os
import signal
import socket

import pytest

from harness.errorlog import is_bad, matches
from harness.proc import port_open, wait_until


def test_memcached_set_get(memcached):
    assert memcached.command(b"set lf 0 0 5\r\nhello\r\n") == b"STORED\r\n"
    assert memcached.command(b"get lf\r\n") == b"VALUE lf 0 5\r\nhello\r\nEND\r\n"


def test_redis_ping(redis):
    assert redis.command("PING") == b"+PONG\r\n"
    assert redis.command("SET", "lf", "x") == b"+OK\r\n"


def test_mariadb_greeting_select_restart(mariadb):
    # the server greeting: protocol version 10, then the version string
    with socket.create_connection(("127.0.0.1", mariadb.port), timeout=5) as s:
        hdr = s.recv(4)
        payload = s.recv(int.from_bytes(hdr[:3], "little"))
    assert payload[0] == 10
    assert b"MariaDB" in payload[1:payload.index(b"\0", 1)]
    assert mariadb.query("SELECT 1") == (0, "1\n")
    port = mariadb.port
    mariadb.stop()
    assert not port_open(port)
    mariadb.start()
    assert mariadb.port == port
    assert mariadb.query("SELECT 1+1") == (0, "2\n")


def test_moto_sigv4_checked(moto):
    status, body = moto.signed_request("GET", "/")
    assert status == 200, body
    assert b"ListAllMyBucketsResult" in body
    status, body = moto.signed_request("GET", "/", secret="wrong" + moto.secret_key)
    assert status == 403, body
    assert b"SignatureDoesNotMatch" in body
    # unsigned: never accepted (moto answers 500 for a missing Authorization header)
    import urllib.request
    import urllib.error
    try:
        with urllib.request.urlopen(moto.endpoint + "/", timeout=10) as r:
            code = r.status
    except urllib.error.HTTPError as e:
        code = e.code
    assert code != 200


def test_httpd_static(httpd, mpm):
    srv = httpd.start(modules=())
    r = srv.get("/")
    assert r.status == 200
    assert r.text == "hello from httpd\n"
    r = srv.get("/index.html")
    assert r.status == 200 and r.header("Content-Type").startswith("text/html")
    assert srv.get("/nope").status == 404
    assert "[mpm_%s:notice]" % mpm in srv.error_log.read()
    # the access log has the requests
    wait_until(lambda: any('"GET /index.html HTTP/1.1" 200' in line
                           for line in srv.access_log_lines()), 5, what="access log line")


def test_httpd_graceful_and_stop(httpd):
    srv = httpd.start(modules=())
    gen = srv.generation
    srv.graceful()
    assert srv.generation == gen + 1
    assert srv.get("/").status == 200
    pid = srv.pid
    srv.stop()
    assert not srv.alive()
    # nothing of the process group survives
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not port_open(srv.port)


def test_httpd_config_test(httpd):
    rc, out = httpd.config_test("ServerTokens Prod", modules=())
    assert rc == 0, out
    assert "Syntax OK" in out
    rc, out = httpd.config_test("NoSuchDirective 1", modules=())
    assert rc != 0
    assert "Invalid command 'NoSuchDirective'" in out


def test_httpd_two_servers_vhost_ports(httpd):
    a = httpd.start(modules=(), name="a", extra_ports=1, conf="""
<VirtualHost 127.0.0.1:@PORT2@>
    DocumentRoot "@DOCROOT@/v2"
</VirtualHost>
""")
    os.makedirs(os.path.join(a.docroot, "v2"), exist_ok=True)
    with open(os.path.join(a.docroot, "v2", "index.html"), "w") as f:
        f.write("vhost two\n")
    b = httpd.start(modules=(), name="b")
    assert a.get("/").text == "hello from a\n"
    assert a.get("/", port=a.ports[1]).text == "vhost two\n"
    assert b.get("/").text == "hello from b\n"


def test_haproxy_forwards(httpd, haproxy):
    a = httpd.start(modules=(), name="a")
    b = httpd.start(modules=(), name="b")
    hp = haproxy([("a", a.port), ("b", b.port)], check_path="/index.html", inter="200ms")
    hp.wait_status("a", "UP")
    hp.wait_status("b", "UP")
    seen = set()
    for _ in range(6):
        r = hp_get(hp, "/")
        assert r.status == 200
        seen.add(r.text)
    assert seen == {"hello from a\n", "hello from b\n"}
    b.stop()
    hp.wait_status("b", "DOWN", timeout=10)


def hp_get(hp, path):
    from harness.http import request
    return request(hp.port, "GET", path)


def test_hang_server(hang_server):
    s = socket.create_connection(("127.0.0.1", hang_server.port), timeout=0.3)
    with s, pytest.raises(socket.timeout):
        s.recv(1)
    wait_until(lambda: hang_server.accepted >= 1, 2)


def test_tls_server_counts_handshakes(tls_server):
    import ssl
    import urllib.error
    import urllib.request
    with pytest.raises(urllib.error.URLError) as e:       # its CA is nobody's
        urllib.request.urlopen(tls_server.url + "/x", timeout=5)
    assert "CERTIFICATE_VERIFY_FAILED" in str(e.value)
    ctx = ssl.create_default_context(cafile=tls_server.ca)  # told to trust it: verified
    with urllib.request.urlopen(tls_server.url + "/y", timeout=5, context=ctx) as r:
        assert r.status == 200 and r.read() == b"tls ok\n"
    wait_until(lambda: len(tls_server.failures) == 1, 5)
    assert tls_server.accepted == 2 and tls_server.handshakes == 1
    assert tls_server.requests == ["GET /y HTTP/1.1"]


# --- the error-log scan ------------------------------------------------------------------------

def test_errorlog_classifier():
    assert is_bad("[Mon Jan 01 00:00:00.1 2024] [health:warn] [pid 1:tid 2] LF04010: x")
    assert is_bad("[Mon Jan 01 00:00:00.1 2024] [:error] [pid 1] AH00001: x")
    assert is_bad("[...] [core:notice] [pid 1] AH00052: child pid 7 exit signal "
                  "Segmentation fault (11)")
    assert not is_bad("[...] [health:notice] [pid 1] LF04011: check 'db' is UP")
    assert not is_bad("[...] [core:info] [pid 1] AH00128: File does not exist")


def test_declared_log_id_matches_exactly():
    line = "[...] [health:warn] [pid 1:tid 2] LF04010: check 'db' is DOWN"
    assert matches("LF04010", line)
    assert not matches("LF0401", line)      # a prefix is no id: it forgives nothing
    assert not matches("LF04011", line)
    assert matches("is DOWN", line)         # text that is no log id matches as text


DENIED_LOCATION = """
<Location /denied>
    Require all denied
</Location>
"""


@pytest.mark.expect_log("AH01630")
def test_expected_log_is_forgiven(httpd):
    srv = httpd.start(modules=(), conf=DENIED_LOCATION)
    assert srv.get("/denied").status == 403
    # AH01630 "client denied by server configuration" is [authz_core:error]
    wait_until(lambda: "AH01630" in srv.error_log.read(), 5)


def test_unexpected_log_is_reported(httpd):
    srv = httpd.start(modules=(), conf=DENIED_LOCATION)
    assert srv.get("/denied").status == 403
    wait_until(lambda: "AH01630" in srv.error_log.read(), 5)
    lines = srv.error_log.bad_lines(advance=False)
    assert any("AH01630" in line for line in lines)
    # declared at run time: the scan after the test forgives it
    srv.expect_log("AH01630")


def test_httpd_crash_is_visible(httpd):
    """A child killed by a signal is reported by the parent; the scan would catch it."""
    srv = httpd.start(modules=())
    httpd.expect_log("AH00051")   # child pid N exit signal Segmentation fault (11), possible coredump
    # a child of ours: any process in the server's group other than the parent
    kids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == srv.pid
            and int(p) != srv.pid]
    assert kids
    os.kill(kids[0], signal.SIGSEGV)
    wait_until(lambda: "exit signal" in srv.error_log.read(), 10)
    bad = srv.error_log.bad_lines(advance=False)
    assert any("exit signal Segmentation fault" in line for line in bad), bad
    # the core is kept in the test's log directory (removed here: it is big)
    cores = wait_until(lambda: os.listdir(srv.core_dir), 5, what="a core dump")
    for c in cores:
        os.unlink(os.path.join(srv.core_dir, c))


def _pgid(pid):
    try:
        return os.getpgid(pid)
    except OSError:
        return None
