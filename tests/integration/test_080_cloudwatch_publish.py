"""mod_cloudwatch publishes what it measured to CloudWatch (moto, signature checking on): N
requests of known latency through a CGI script that sleeps come back from GetMetricStatistics
as SampleCount N with Minimum, Maximum and Sum within the histogram's error of what the client
measured, per group and per status class; dimension sets, groups from <Location> and from the
application, the cap on groups, excluded locations, and the status views."""
import pytest

from harness import cloudwatch as cw

# moto's GetMetricStatistics matches every datum whose dimensions *include* the ones asked for
# (CloudWatch matches them exactly): with the default sets, {AutoScalingGroupName} would also
# count the per-group datums. Tests that ask for a set that another set extends publish only it.
FLEET_ONLY = "CloudWatchDimensions AutoScalingGroupName"

# The server's latency is the client's less the connection set-up and the network (on
# loopback: well under a millisecond), within the histogram's 5 % (3.1 % by construction). It
# can also be a little more: the server stops its clock when it logs the request, after the
# client has the last byte (2.8 ms later seen on a busy 2-core machine).
REL = 0.05
SLACK = 0.004  # seconds: what one side waits that the other does not see


def within(server_ms, client_s):
    return client_s * (1 - REL) - SLACK <= server_ms / 1000.0 <= client_s * (1 + REL) + SLACK


def test_latency_statistics_match_the_client(httpd, logs, mpm, moto):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, srv=FLEET_ONLY)
    seconds = [0.02, 0.05, 0.08, 0.11, 0.15, 0.2, 0.03, 0.07, 0.12, 0.25]
    waited = []
    for s in seconds:
        r, t = cw.timed_get(srv, "/slow/sleep.cgi?%s" % s)
        assert r.status == 200
        waited.append(t)
    # the requests may span two intervals: wait for the count of them all, not for a first datum
    fleet = cw.statistics_reaching(moto, ns, "Latency", {"AutoScalingGroupName": cw.ASG},
                                   "SampleCount", len(seconds), unit="Milliseconds")
    assert fleet is not None, cw.metrics(moto, ns)
    assert fleet["SampleCount"] == len(seconds), fleet
    assert within(fleet["Minimum"], min(waited)), (fleet, min(waited))
    assert within(fleet["Maximum"], max(waited)), (fleet, max(waited))
    assert within(fleet["Sum"], sum(waited)), (fleet, sum(waited))
    for metric in ("Responses2xx", "Requests"):
        counts = cw.statistics_reaching(moto, ns, metric, {"AutoScalingGroupName": cw.ASG},
                                        "Sum", len(seconds), stats=("Sum",))
        assert counts is not None and counts["Sum"] == len(seconds), (metric, counts)


def test_status_classes_and_bytes(httpd, logs, mpm, moto):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, srv=FLEET_ONLY)
    for status, n in ((200, 3), (302, 2), (404, 4), (503, 1)):
        for _ in range(n):
            assert srv.get("/slow/sleep.cgi?status=%d" % status).status == status
    body = b"x" * 5000
    assert srv.post("/slow/sleep.cgi?0", body=body).status == 200
    cw.wait_published(srv)
    dims = {"AutoScalingGroupName": cw.ASG}

    def total(metric):
        s = cw.statistics(moto, ns, metric, dims, stats=("Sum",))
        return s["Sum"] if s else None
    assert total("Responses2xx") == 4
    assert total("Responses3xx") == 2
    assert total("Responses4xx") == 4
    assert total("Responses5xx") == 1
    assert total("Aborted") == 0
    assert total("Requests") == 11
    assert total("BytesIn") == len(body)
    assert total("BytesOut") > 0


def test_groups_from_location_and_application(httpd, logs, mpm, moto):
    ns = cw.namespace()
    loc = """
<Location /slow/sleep.cgi>
    CloudWatchGroup checkout
</Location>
<Location /static>
    CloudWatchGroup assets
</Location>
<Location /health>
    CloudWatch Off
</Location>
SetEnvIf Request_URI "^/api" CLOUDWATCH_GROUP=api
"""
    srv = cw.start(httpd, logs, mpm, moto, ns, loc=loc)
    for _ in range(3):
        assert srv.get("/slow/sleep.cgi?0").status == 200
    for _ in range(2):
        assert srv.get("/static/none").status == 404
        assert srv.get("/api/x").status == 404
        assert srv.get("/health/x").status == 404   # not measured
    cw.wait_published(srv)
    base = {"AutoScalingGroupName": cw.ASG}

    def n(group):
        s = cw.statistics(moto, ns, "Requests", dict(base, Group=group), stats=("Sum",))
        return s["Sum"] if s else 0
    assert n("checkout") == 3
    assert n("assets") == 2
    assert n("api") == 2
    # the default sets: the fleet and the fleet per group
    lat = cw.statistics(moto, ns, "Latency", dict(base, Group="checkout"))
    assert lat["SampleCount"] == 3 and lat["Minimum"] > 0
    groups = {d.get("Group") for name, d in cw.metrics(moto, ns) if name == "Requests"}
    assert groups == {None, "checkout", "assets", "api"}


def test_groups_over_the_cap_go_to_other(httpd, logs, mpm, moto):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, srv="CloudWatchMaxGroups 3",
                   loc='SetEnvIf Request_URI "^/g/(.*)$" CLOUDWATCH_GROUP=$1')
    for i in range(6):
        assert srv.get("/g/group%d" % i).status == 404
    cw.wait_published(srv)
    groups = {d.get("Group") for name, d in cw.metrics(moto, ns) if name == "Requests"}
    assert None in groups and "other" in groups
    named = groups - {None, "other"}
    assert len(named) == 3, groups
    other = cw.statistics(moto, ns, "Requests", {"AutoScalingGroupName": cw.ASG,
                                                 "Group": "other"}, stats=("Sum",))
    assert other["Sum"] == 3


def test_dimension_sets_are_configurable(httpd, logs, mpm, moto):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, srv="""
CloudWatchDimensions AutoScalingGroupName VirtualHost Environment=test
CloudWatchDimensions None
""")
    for _ in range(2):
        assert srv.get("/index.html").status == 200
    cw.wait_published(srv)
    found = [d for name, d in cw.metrics(moto, ns) if name == "Latency"]
    assert {} in found
    full = [d for d in found if d]
    assert len(full) == 1 and full[0]["Environment"] == "test" and \
        full[0]["AutoScalingGroupName"] == cw.ASG and "VirtualHost" in full[0], found
    assert cw.statistics(moto, ns, "Latency", full[0])["SampleCount"] == 2
    # worker saturation: an instance-level gauge, once per set without group dimensions
    sat = cw.statistics(moto, ns, "WorkerSaturation", {}, unit="Percent")
    assert sat is not None and 0 <= sat["Minimum"] <= sat["Maximum"] <= 100, sat


def test_status_views(httpd, logs, mpm, moto):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns)
    for _ in range(5):
        assert srv.get("/slow/sleep.cgi?0.01").status == 200
    st = cw.wait_published(srv)
    assert st["last_status"] == 200 and st["last_error"] == "" and st["RequestsSent"] >= 1
    assert st["DroppedIntervals"] == 0 and st["RequestsFailed"] == 0
    g = [x for x in st["groups"] if x["group"] == "default"]
    assert g and g[0]["requests"] == 5 and 10000 <= g[0]["p50_us"] <= g[0]["max_us"], st
    auto = srv.get("/server-status?auto").body.decode()
    assert "CloudWatchDatumsSent: %d" % st["DatumsSent"] in auto or "CloudWatchDatumsSent:" in auto
    assert "CloudWatchDroppedIntervals: 0" in auto
