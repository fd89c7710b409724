"""mod_health: a dependency that accepts connections and never answers. The checks time out
(the details say why) and the health endpoints keep answering fast."""
import time

import pytest

from harness.health import LIVE, READY, check, details, sample, wait_check


@pytest.mark.timeout(60)
def test_hung_dependency_times_out_answers_stay_fast(httpd, hang_server):
    srv = httpd.start("""
HealthCheck db mysql %(t)s interval=600ms timeout=500ms fall=1
HealthCheck api http http://%(t)s/status interval=600ms timeout=500ms severity=degraded
HealthCheck sock tcp %(t)s interval=600ms timeout=500ms
""" % {"t": hang_server.target})
    httpd.expect_log("LF04010")
    doc = wait_check(srv, "db", "down", timeout=10)
    doc = wait_check(srv, "api", "down", timeout=10)
    db, api = check(doc, "db"), check(doc, "api")
    for c in (db, api):
        assert c["error"], c
        # it took about the timeout, not less, and not much more
        assert 400 <= c["latency_ms"] <= 1500, c
    # tcp only connects: the listener accepts, so that one is up
    assert check(doc, "sock")["state"] == "up"
    assert doc["reason"] == "check failed: db"
    # every answer stays fast while the probes hang in the background
    slow = []
    for path in (READY, LIVE, READY + "?details", LIVE + "?details"):
        for r in sample(srv, path, 0.7, interval=0.01):
            if r.elapsed >= 0.2:
                slow.append((path, r.status, round(r.elapsed * 1000)))
            want = 200 if path.startswith(LIVE) else 503
            assert r.status == want, (path, r)
    assert not slow, slow
    assert hang_server.accepted >= 4  # the probes really kept hanging on it


def test_timeout_error_message(httpd, hang_server):
    srv = httpd.start("HealthCheck db mysql %s interval=400ms timeout=300ms"
                      % hang_server.target)
    httpd.expect_log("LF04010")
    t0 = time.monotonic()
    doc = wait_check(srv, "db", "down", timeout=5)
    assert time.monotonic() - t0 >= 0.25
    err = check(doc, "db")["error"].lower()
    assert "time" in err or "300" in err, err   # says it was the timeout
    status, _ = details(srv)
    assert status == 503
