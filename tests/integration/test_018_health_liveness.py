"""mod_health: liveness (HealthStallTimeout). Liveness fails only when the check thread has
not run for HealthStallTimeout; never because a dependency is down."""
import os
import signal
import time

import pytest

from harness.health import LIVE, READY, details
from harness.procfs import pids_in_group, socket_owner
from harness.proc import free_port, wait_until


def test_liveness_ignores_dependencies(httpd):
    srv = httpd.start("""
HealthCheck db tcp 127.0.0.1:%d interval=200ms timeout=100ms fall=1
HealthStallTimeout 1s
""" % free_port())
    httpd.expect_log("LF04010")
    srv.wait_status(READY, 503)
    t_end = time.monotonic() + 2.0   # twice the stall timeout: the thread keeps running
    while time.monotonic() < t_end:
        r = srv.get(LIVE)
        assert r.status == 200 and r.text == "OK\n", r
        time.sleep(0.05)
    status, doc = details(srv, LIVE)
    assert status == 200 and doc["live"] is True


def _check_thread_pid(srv, hang_server):
    """The process that runs the checks: the one holding a probe's connection to our
    listener (found in /proc while the probe waits for its timeout)."""
    pids = pids_in_group(srv.pid)

    def find():
        for c in list(hang_server.conns)[-3:]:
            try:
                port = c.getpeername()[1]
            except OSError:
                continue
            pid = socket_owner(port, pids)
            if pid:
                return pid
        return None

    return wait_until(find, 10, 0.02, what="the process running the checks")


@pytest.mark.timeout(60)
@pytest.mark.expect_log("LF04015", "LF04010")
def test_liveness_fails_when_check_thread_stalls(httpd, hang_server):
    """Stop (SIGSTOP) the process running the check thread: after HealthStallTimeout the
    other processes answer liveness 503 and log LF04015; after SIGCONT it is 200 again."""
    srv = httpd.start("""
HealthCheck hang http http://%s/ interval=1s timeout=900ms severity=degraded
HealthStallTimeout 1s
""" % hang_server.target)
    assert srv.get(LIVE).status == 200
    pid = _check_thread_pid(srv, hang_server)
    if pid == srv.pid:
        pytest.skip("checks run in the parent process")  # cannot stop it and keep serving
    # other processes must be there to answer while this one is stopped
    assert len(pids_in_group(srv.pid)) >= 3
    # A stopped prefork child may still be handed a new connection by the kernel (it sleeps in
    # accept()); such a request hangs until SIGCONT, so ask with a short timeout and retry.
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = srv.wait_status(LIVE, 503, timeout=6, interval=0.1, request_timeout=0.5)
        took = time.monotonic() - t0
        assert r.text == "UNAVAILABLE\n"
        assert took <= 1.0 + 2.0, took
        r = srv.wait_status(LIVE + "?details", 503, timeout=3, request_timeout=0.5)
        doc = r.json()
        assert doc["live"] is False
        wait_until(lambda: "LF04015" in srv.error_log.read(), 5, what="LF04015 logged")
        line = [x for x in srv.error_log.read().splitlines() if "LF04015" in x][0]
        assert ":error]" in line
    finally:
        os.kill(pid, signal.SIGCONT)
    srv.wait_status(LIVE, 200, timeout=5)


def test_stall_timeout_default_and_values(httpd):
    """Accepted values; with a working thread liveness stays 200."""
    for value in ("30s", "2m", "1h", "5", "1500ms"):
        rc, out = httpd.config_test("HealthStallTimeout %s" % value)
        assert rc == 0, (value, out)
    srv = httpd.start("HealthStallTimeout 2s")
    assert srv.get(LIVE).status == 200
