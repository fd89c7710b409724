"""mod_health behind a real load balancer: two httpd nodes behind HAProxy
(`option httpchk GET /health/ready`, inter 1s, fall 2, rise 2). Draining node A (drain file,
then the authenticated POST) takes it out of rotation within fall x inter; wrk through HAProxy
sees zero failed requests while A is drained and re-enabled."""
import os
import time

import pytest

from harness.health import DRAIN, READY
from harness.http import request
from harness.load import Wrk

INTER, FALL, RISE = 1.0, 2, 2
MARGIN = 1.5          # one check may be in flight when the state flips, plus polling
TOKEN = "lb-drain-token"


def _node(httpd, logs, name):
    d = os.path.join(logs, name + "-drain")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    tok = os.path.join(logs, name + ".token")
    with open(tok, "w") as f:
        f.write(TOKEN)
    srv = httpd.start("""
HealthDrainFile %s/drain
HealthDrainToken file:%s
HealthCheck self tcp 127.0.0.1:@PORT@ interval=500ms timeout=200ms
""" % (d, tok), name=name)
    srv.drain_path = os.path.join(d, "drain")
    return srv


def _sessions(hp, name):
    return int(hp.server(name)["stot"])


def _frontend(hp):
    row = [r for r in hp.stats() if r["pxname"] == "fe" and r["svname"] == "FRONTEND"][0]
    return {k: int(row[k]) for k in ("hrsp_4xx", "hrsp_5xx", "req_tot")}


def _timed(hp, name, status, limit):
    t0 = time.monotonic()
    hp.wait_status(name, status, timeout=limit + 5)
    took = time.monotonic() - t0
    assert took <= limit, "%s took %.2fs to become %s (limit %.1fs)" % (name, took, status,
                                                                        limit)
    return took


def _assert_out_of_rotation(hp, a):
    """While A is DOWN in HAProxy, it gets no new sessions but still serves what it gets."""
    n = _sessions(hp, "a")
    r = a.get(READY)
    assert r.status == 503 and r.text == "UNAVAILABLE\n"
    assert a.get("/").status == 200          # a drained node still serves pages
    time.sleep(0.5)
    assert _sessions(hp, "a") == n


@pytest.mark.one_mpm  # HAProxy's view of the drain, whatever the MPM
@pytest.mark.timeout(120)
def test_drain_takes_node_out_of_rotation_without_errors(httpd, haproxy, logs):
    a = _node(httpd, logs, "a")
    b = _node(httpd, logs, "b")
    hp = haproxy([("a", a.port), ("b", b.port)], check_path=READY, inter="1s", fall=FALL,
                 rise=RISE)
    hp.wait_status("a", "UP", timeout=10)
    hp.wait_status("b", "UP", timeout=10)
    fe0 = _frontend(hp)   # (the harness's port probes count as 400s at start)
    wrk = Wrk("http://127.0.0.1:%d/index.html" % hp.port, logs).start()
    timings = {}
    try:
        time.sleep(0.5)
        # both serve
        assert _sessions(hp, "a") > 0 and _sessions(hp, "b") > 0
        assert request(hp.port, "GET", "/").text in ("hello from a\n", "hello from b\n")

        # 1. drain file
        open(a.drain_path, "w").close()
        timings["file down"] = _timed(hp, "a", "DOWN", FALL * INTER + MARGIN)
        _assert_out_of_rotation(hp, a)
        os.unlink(a.drain_path)
        timings["file up"] = _timed(hp, "a", "UP", RISE * INTER + MARGIN)

        # 2. the authenticated POST
        r = a.post(DRAIN, headers={"Authorization": "Bearer " + TOKEN})
        assert r.status == 200 and r.json()["draining"] is True
        timings["api down"] = _timed(hp, "a", "DOWN", FALL * INTER + MARGIN)
        _assert_out_of_rotation(hp, a)
        r = a.delete(DRAIN, headers={"Authorization": "Bearer " + TOKEN})
        assert r.status == 200 and r.json()["draining"] is False
        timings["api up"] = _timed(hp, "a", "UP", RISE * INTER + MARGIN)

        # A takes traffic again
        n = _sessions(hp, "a")
        time.sleep(0.5)
        assert _sessions(hp, "a") > n
        assert b.get(READY).status == 200
    finally:
        res = wrk.stop()
    with open(os.path.join(logs, "timings.txt"), "w") as f:
        f.write("%r\n%s\n" % (timings, res["output"]))
    assert res["requests"] > 500, res["output"]
    assert wrk.failures() == 0, res["output"]
    assert res["ok"] == res["requests"], res["output"]
    fe = _frontend(hp)
    assert fe["hrsp_5xx"] == fe0["hrsp_5xx"], (fe0, fe)
    # HAProxy logs only abnormal sessions (dontlog-normal): none may be a request (a connection
    # closed before sending anything, like wrk's initial connect test, is <BADREQ>, CR--)
    bad = [x for x in hp.log_lines() if " fe " in x and '"GET ' in x]
    assert not bad, bad[:10]
