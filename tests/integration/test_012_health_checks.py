"""mod_health: the built-in check types (tcp, http, mysql, file), their options (expect=,
want=, severity=, rise=, fall=, interval=) and what readiness makes of them."""
import os
import time

import pytest

from harness.health import READY, check, details, wait_check, wait_details, wait_ready
from harness.proc import free_port, run

FAST = "interval=200ms timeout=150ms"


def test_tcp_up_and_down(httpd):
    dead = free_port()
    srv = httpd.start("""
HealthCheck self tcp 127.0.0.1:@PORT@ %s
HealthCheck dead tcp 127.0.0.1:%d %s severity=degraded
""" % (FAST, dead, FAST))
    httpd.expect_log("LF04010")
    wait_check(srv, "self", "up")
    doc = wait_check(srv, "dead", "down")
    assert check(doc, "dead")["error"]
    assert srv.get(READY).status == 200


def test_tcp_critical_down_fails_readiness(httpd):
    dead = free_port()
    srv = httpd.start("HealthCheck db tcp 127.0.0.1:%d %s" % (dead, FAST))
    httpd.expect_log("LF04010")
    wait_check(srv, "db", "down")
    r = wait_ready(srv, 503)
    assert r.text == "UNAVAILABLE\n"
    status, doc = details(srv)
    assert status == 503
    assert doc["status"] == "unavailable"
    assert doc["reason"] == "check failed: db"
    # liveness never fails because a dependency is down
    assert srv.get("/health/live").status == 200
    # the application keeps being served
    assert srv.get("/").status == 200
    log = srv.error_log.read()
    assert "LF04010" in log and "'db'" in log


def test_http_check_expect(httpd):
    """http: status must equal expect= (default 200)."""
    srv = httpd.start("""
HealthCheck page http http://127.0.0.1:@PORT@/index.html %(f)s
HealthCheck missing http http://127.0.0.1:@PORT@/nope %(f)s expect=404
HealthCheck wrong http http://127.0.0.1:@PORT@/nope %(f)s severity=degraded
HealthCheck redirect http http://127.0.0.1:@PORT@/moved %(f)s expect=302 severity=degraded
Redirect 302 /moved /index.html
""" % {"f": FAST})
    httpd.expect_log("LF04010")
    wait_check(srv, "page", "up")
    wait_check(srv, "missing", "up")
    wait_check(srv, "redirect", "up")  # redirects are not followed
    doc = wait_check(srv, "wrong", "down")
    assert "404" in check(doc, "wrong")["error"]
    assert srv.get(READY).status == 200


def test_http_check_tls_verified(httpd, logs):
    """https targets are verified: a self-signed certificate fails the check."""
    key, crt = os.path.join(logs, "tls.key"), os.path.join(logs, "tls.crt")
    rc, out = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                   "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                   "-keyout", key, "-out", crt])
    assert rc == 0, out
    srv = httpd.start("""
<VirtualHost 127.0.0.1:@PORT2@>
    SSLEngine on
    SSLCertificateFile %(crt)s
    SSLCertificateKeyFile %(key)s
</VirtualHost>
HealthCheck selfsigned http https://127.0.0.1:@PORT2@/index.html %(f)s
HealthCheck plain http http://127.0.0.1:@PORT@/index.html %(f)s
""" % {"crt": crt, "key": key, "f": FAST}, extra_ports=1,
        apache_modules=("authz_core", "mime", "dir", "alias", "socache_shmcb", "ssl"))
    # mod_ssl's start-up warnings about a test certificate and library versions
    httpd.expect_log("LF04010", "AH01882", "AH01906", "AH01909", "AH01873")
    wait_check(srv, "plain", "up")
    doc = wait_check(srv, "selfsigned", "down")
    err = check(doc, "selfsigned")["error"].lower()
    assert "certificate" in err or "ssl" in err or "tls" in err, err


# The option is no concern of the MPM's.
@pytest.mark.one_mpm
def test_http_check_tls_private_ca(httpd, tls_server):
    """An https endpoint with a certificate from a private CA: cafile= names the CA and the check
    is up (verification stays on: the name and the chain are checked against that CA); the same
    endpoint without cafile= is down, and its details say why in curl's words."""
    srv = httpd.start("""
HealthCheck private http %(url)s/ping cafile=%(ca)s %(f)s
HealthCheck system http %(url)s/ping %(f)s severity=degraded
""" % {"url": tls_server.url, "ca": tls_server.ca, "f": FAST})
    httpd.expect_log("LF04010")
    wait_check(srv, "private", "up")
    doc = wait_check(srv, "system", "down")
    err = check(doc, "system")["error"]
    assert "SSL certificate problem" in err, err
    assert check(doc, "private")["error"] is None
    assert srv.get(READY).status == 200
    assert "GET /ping HTTP/1.1" in tls_server.requests


def test_http_check_connection_refused(httpd):
    srv = httpd.start("HealthCheck api http http://127.0.0.1:%d/ %s" % (free_port(), FAST))
    httpd.expect_log("LF04010")
    doc = wait_check(srv, "api", "down")
    assert check(doc, "api")["error"]
    wait_ready(srv, 503)


def test_file_check_present_absent(httpd, logs):
    flag = os.path.join(logs, "flags")
    os.makedirs(flag, exist_ok=True)
    os.chmod(flag, 0o755)
    present = os.path.join(flag, "mounted")
    absent = os.path.join(flag, "maintenance")
    srv = httpd.start("""
HealthCheck mount file %s %s
HealthCheck maint file %s want=absent %s
""" % (present, FAST, absent, FAST))
    httpd.expect_log("LF04010")
    # no file yet: 'mount' is down, 'maint' is up
    wait_check(srv, "mount", "down")
    wait_check(srv, "maint", "up")
    wait_ready(srv, 503)
    open(present, "w").close()
    wait_check(srv, "mount", "up", timeout=5)
    wait_ready(srv, 200)
    open(absent, "w").close()
    doc = wait_check(srv, "maint", "down", timeout=5)
    assert details(srv)[1]["reason"] == "check failed: maint"
    assert check(doc, "maint")["target"] == absent
    os.unlink(absent)
    wait_ready(srv, 200, timeout=5)


def test_mysql_check_up(httpd, mariadb):
    srv = httpd.start("HealthCheck db mysql %s %s" % (mariadb.target, FAST))
    doc = wait_check(srv, "db", "up")
    c = check(doc, "db")
    assert c["type"] == "mysql" and c["target"] == mariadb.target
    assert c["error"] is None
    assert srv.get(READY).status == 200


def test_mysql_check_not_mysql(httpd):
    """A server that answers something else than a MySQL greeting (httpd itself) fails."""
    srv = httpd.start("HealthCheck db mysql 127.0.0.1:@PORT@ interval=300ms timeout=250ms")
    httpd.expect_log("LF04010")
    doc = wait_check(srv, "db", "down")
    assert check(doc, "db")["error"]


def test_degraded_never_fails_readiness(httpd):
    srv = httpd.start("""
HealthCheck cache tcp 127.0.0.1:%d %s severity=degraded
HealthCheck search http http://127.0.0.1:%d/ %s severity=degraded
""" % (free_port(), FAST, free_port(), FAST))
    httpd.expect_log("LF04010")
    wait_check(srv, "cache", "down")
    wait_check(srv, "search", "down")
    for _ in range(10):
        r = srv.get(READY)
        assert r.status == 200 and r.text == "OK\n"
    status, doc = details(srv)
    assert (status, doc["status"], doc["reason"]) == (200, "ready", "ok")


@pytest.mark.timeout(60)
def test_fall_and_rise(httpd, logs):
    """An UP check goes DOWN only after `fall` failures in a row and comes back after `rise`
    successes in a row; the transitions are logged (LF04010 warn, LF04011 notice)."""
    flag = os.path.join(logs, "flag")
    open(flag, "w").close()
    interval = 0.3
    srv = httpd.start("HealthCheck flag file %s interval=300ms timeout=100ms rise=3 fall=4"
                      % flag)
    httpd.expect_log("LF04010")
    wait_check(srv, "flag", "up")
    wait_ready(srv, 200)
    t0 = time.monotonic()
    os.unlink(flag)
    wait_ready(srv, 503, timeout=10)
    took = time.monotonic() - t0
    # 4 failed runs: at least 3 intervals after the first failing run, at most 4 + slack
    assert took >= 3 * interval - 0.05, took
    assert took <= 4 * interval + 1.0, took
    t0 = time.monotonic()
    open(flag, "w").close()
    wait_ready(srv, 200, timeout=10)
    took = time.monotonic() - t0
    assert took >= 2 * interval - 0.05, took
    assert took <= 3 * interval + 1.0, took
    log = srv.error_log.read()
    assert "LF04010" in log and "LF04011" in log
    down_line = [x for x in log.splitlines() if "LF04010" in x][0]
    up_line = [x for x in log.splitlines() if "LF04011" in x][0]
    assert ":warn]" in down_line and "'flag'" in down_line
    assert ":notice]" in up_line and "'flag'" in up_line


def test_first_result_sets_state_directly(httpd):
    """No rise/fall for the first result: a failing check is DOWN after its first run."""
    srv = httpd.start("HealthCheck db tcp 127.0.0.1:%d interval=2s timeout=100ms fall=5"
                      % free_port())
    httpd.expect_log("LF04010")
    t0 = time.monotonic()
    doc = wait_details(srv, lambda d: check(d, "db")["state"] != "unknown", timeout=5)
    assert check(doc, "db")["state"] == "down"
    assert time.monotonic() - t0 < 1.9  # well before a second run at interval=2s
    assert srv.get(READY).status == 503


def test_interval_is_respected(httpd, hang_server):
    """interval=: a TCP check against our listener connects about once per interval."""
    srv = httpd.start("HealthCheck l tcp %s interval=500ms timeout=200ms" % hang_server.target)
    wait_check(srv, "l", "up")
    n0 = hang_server.accepted
    time.sleep(2.1)
    n = hang_server.accepted - n0
    assert 3 <= n <= 6, n
