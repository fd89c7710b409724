"""mod_health: readiness while starting up (a critical check has no result yet)."""
import time

from harness.health import LIVE, READY, check, details, wait_details


def test_starting_until_first_result(httpd, hang_server):
    """A critical check whose first result takes its full timeout (a listener that never
    answers a MySQL greeting): 503 with reason 'starting' until then, then 'check failed'."""
    srv = httpd.start("HealthCheck db mysql %s interval=3s timeout=3s" % hang_server.target)
    httpd.expect_log("LF04010")
    t_start = time.monotonic()
    r = srv.get(READY)
    assert r.status == 503 and r.text == "UNAVAILABLE\n"
    status, doc = details(srv)
    assert status == 503
    assert doc["status"] == "unavailable"
    assert doc["reason"] == "starting"
    c = check(doc, "db")
    assert c["state"] == "unknown"
    assert c["checked_at"] is None
    # liveness is not affected by a pending check
    assert srv.get(LIVE).status == 200
    assert srv.get("/").status == 200
    # still starting a moment later (the probe is blocked for 3s)
    time.sleep(0.5)
    if time.monotonic() - t_start < 2.5:
        assert details(srv)[1]["reason"] == "starting"
    doc = wait_details(srv, lambda d: check(d, "db")["state"] != "unknown", timeout=8)
    assert check(doc, "db")["state"] == "down"
    assert check(doc, "db")["error"]
    assert doc["reason"] == "check failed: db"


def test_degraded_pending_is_not_starting(httpd, hang_server):
    srv = httpd.start("HealthCheck slow mysql %s interval=3s timeout=3s severity=degraded"
                      % hang_server.target)
    httpd.expect_log("LF04010")
    status, doc = details(srv)
    assert status == 200
    assert doc["reason"] == "ok"
    assert check(doc, "slow")["state"] == "unknown"


def test_no_checks_ready_at_once(httpd):
    srv = httpd.start()
    status, doc = details(srv)
    assert (status, doc["status"], doc["reason"], doc["checks"]) == (200, "ready", "ok", [])
