"""Nothing measured is lost on a stop or a restart (issue 14): `apachectl stop` and
`graceful-stop` publish the interval under way (with a one-minute interval, nothing else would
have); what CloudWatch did not take during an outage survives a graceful restart and a stop and
start (the stopping publisher leaves its backlog in DefaultRuntimeDir for the next one), and is
published once CloudWatch is back: each request exactly once."""
import os
import signal

import pytest

from harness import cloudwatch as cw
from harness.proc import wait_until

FLEET_ONLY = "CloudWatchDimensions AutoScalingGroupName"
FLEET = {"AutoScalingGroupName": cw.ASG}


def requests_sum(moto, ns, want):
    got = cw.statistics_reaching(moto, ns, "Requests", FLEET, "Sum", want, timeout=30,
                                 stats=("Sum",))
    return got["Sum"] if got else 0


@pytest.mark.parametrize("how", ["stop", "graceful-stop"])
def test_stop_publishes_the_interval_under_way(httpd, logs, mpm, moto, how):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, srv=FLEET_ONLY, interval="60")
    for _ in range(9):
        assert srv.get("/index.html").status == 200
    assert cw.status(srv)["Intervals"] == 0   # the first interval ends in a minute
    # apachectl stop = SIGTERM, graceful-stop = SIGWINCH
    rc = srv.process.stop(signal.SIGTERM if how == "stop" else signal.SIGWINCH, timeout=20)
    assert rc == 0
    assert requests_sum(moto, ns, 9) == 9
    lat = cw.statistics(moto, ns, "Latency", FLEET)
    assert lat["SampleCount"] == 9


def outage(faultproxy):
    faultproxy.add_rule("POST", r"^/$", status=503)


def wait_backlog(srv, n):
    return wait_until(lambda: cw.status(srv)["Backlog"] >= n and cw.status(srv), 20,
                      what="%d intervals in the backlog" % n)


@pytest.mark.one_mpm  # files and shared memory, whatever the MPM (test_090 restarts both)
def test_backlog_survives_a_graceful_restart_during_an_outage(httpd, logs, mpm, moto,
                                                              faultproxy):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, endpoint=faultproxy.endpoint,
                   srv=FLEET_ONLY + "\nCloudWatchAttempts 1")
    srv.expect_log("LF03015")   # 503: kept for later
    outage(faultproxy)
    for _ in range(7):
        assert srv.get("/index.html").status == 200
    wait_backlog(srv, 1)
    srv.graceful()
    for _ in range(5):
        assert srv.get("/index.html").status == 200
    # the new generation took the old one's backlog over
    wait_until(lambda: "LF03023" in srv.error_log.read(), 20, what="LF03023")
    assert "LF03021" in srv.error_log.read()
    assert cw.status(srv)["DroppedIntervals"] == 0
    faultproxy.clear()
    assert requests_sum(moto, ns, 12) == 12
    wait_until(lambda: cw.status(srv)["Backlog"] == 0, 20, what="an empty backlog")
    assert requests_sum(moto, ns, 12) == 12   # and nothing twice
    srv.stop()   # while the proxy is there: the last interval has somewhere to go


@pytest.mark.one_mpm
def test_backlog_survives_a_stop_and_start_during_an_outage(httpd, logs, mpm, moto,
                                                            faultproxy):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, endpoint=faultproxy.endpoint,
                   srv=FLEET_ONLY + "\nCloudWatchAttempts 1")
    srv.expect_log("LF03015")
    outage(faultproxy)
    for _ in range(4):
        assert srv.get("/index.html").status == 200
    wait_backlog(srv, 1)
    srv.stop()
    left = os.path.join(srv.run_dir, "lampfarm-cloudwatch")
    assert [f for f in os.listdir(left) if f.endswith(".iv")]
    faultproxy.clear()
    srv.start()
    assert requests_sum(moto, ns, 4) == 4
    wait_until(lambda: not [f for f in os.listdir(left) if f.endswith(".iv")], 10,
               what="the files to be taken")
    srv.stop()
