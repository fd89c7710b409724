"""mod_health: a critical mysql check against a real MariaDB that goes away and comes back."""
import time

import pytest

from harness.backends import ScriptedServer, mysql_error_packet
from harness.health import LIVE, check, details, wait_check, wait_ready

INTERVAL = 0.25


@pytest.mark.timeout(90)
def test_mariadb_down_and_back(httpd, mariadb):
    srv = httpd.start("HealthCheck db mysql %s interval=250ms timeout=200ms fall=3 rise=2"
                      % mariadb.target)
    httpd.expect_log("LF04010")
    wait_check(srv, "db", "up")
    wait_ready(srv, 200)

    t0 = time.monotonic()
    mariadb.kill()   # gone at once, like a crash: the timing below starts here
    r = wait_ready(srv, 503, timeout=10)
    took = time.monotonic() - t0
    assert r.text == "UNAVAILABLE\n"
    # three failed runs in a row: not at the first failure, not much later than the third
    assert took >= 2 * INTERVAL - 0.05, took
    assert took <= 3 * INTERVAL + 1.0, took
    status, doc = details(srv)
    assert status == 503 and doc["reason"] == "check failed: db"
    db = check(doc, "db")
    assert db["state"] == "down" and db["error"]
    # liveness and the application are not affected
    for _ in range(5):
        assert srv.get(LIVE).status == 200
    assert srv.get("/").status == 200

    mariadb.start()
    t0 = time.monotonic()
    wait_ready(srv, 200, timeout=10)
    took = time.monotonic() - t0
    assert took <= 2 * INTERVAL + 1.0, took
    status, doc = details(srv)
    assert (status, doc["reason"]) == (200, "ok")
    db = check(doc, "db")
    assert db["state"] == "up" and db["error"] is None
    log = srv.error_log.read()
    assert "LF04010" in log and "LF04011" in log

    # once more with a clean shutdown of the database
    mariadb.stop()
    wait_ready(srv, 503, timeout=10)
    assert srv.get(LIVE).status == 200
    mariadb.start()
    wait_ready(srv, 200, timeout=10)


def test_mysql_error_packet(httpd):
    """An error packet in place of the greeting (too many connections) fails the check, and
    the details show the server's message."""
    srv_db = ScriptedServer(mysql_error_packet(1040, "Too many connections")).start()
    try:
        srv = httpd.start("HealthCheck db mysql %s interval=300ms timeout=250ms"
                          % srv_db.target)
        httpd.expect_log("LF04010")
        doc = wait_check(srv, "db", "down", timeout=10)
        err = check(doc, "db")["error"]
        assert err and "Too many connections" in err, err
        assert details(srv)[0] == 503
    finally:
        srv_db.stop()
