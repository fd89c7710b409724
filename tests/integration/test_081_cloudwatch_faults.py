"""mod_cloudwatch under faults, restarts and bad configuration: what was published (recorded by
the fault proxy in front of moto) gives percentiles within 5 % of the client's; a CloudWatch that
hangs for several intervals slows no request, the backlog stays within its bound and drops are
counted, and the data flows again when it is back; throttling answers are retried with backoff;
a graceful restart neither loses nor counts anything twice; a bad configuration stops
`apache2 -t` with a clear message."""
import concurrent.futures
import gzip
import http.client
import os
import random
import time
import urllib.parse

import pytest

from harness import cloudwatch as cw
from harness.procfs import pids_in_group
from harness.proc import wait_until

FLEET_ONLY = "CloudWatchDimensions AutoScalingGroupName"

THROTTLED = (b'<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error>'
             b'<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>'
             b'</Error><RequestId>1</RequestId></ErrorResponse>')


def posts(fp):
    return [e for e in fp.find("POST", r"^/$")]


def latency_pairs(entries):
    """The Latency Values/Counts of the recorded PutMetricData bodies: [(ms, count)]."""
    pairs = []
    for e in entries:
        body = e.body
        if e.header("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        datums = {}
        for k, v in form.items():
            if k.startswith("MetricData.member."):
                n, _, field = k[len("MetricData.member."):].partition(".")
                datums.setdefault(n, {})[field] = v[0]
        for d in datums.values():
            if d.get("MetricName") != "Latency":
                continue
            i = 1
            while "Values.member.%d" % i in d:
                pairs.append((float(d["Values.member.%d" % i]),
                              int(float(d["Counts.member.%d" % i]))))
                i += 1
    return pairs


def quantile(sorted_values, q):
    """Nearest rank, as the module computes it."""
    rank = max(1, int(-(-q * len(sorted_values) // 1)))
    return sorted_values[rank - 1]


def pairs_quantile(pairs, q):
    total = sum(c for _, c in pairs)
    rank = max(1, int(-(-q * total // 1)))
    seen = 0
    for v, c in sorted(pairs):
        seen += c
        if seen >= rank:
            return v
    return None


@pytest.mark.one_mpm  # the histogram's arithmetic, whatever the MPM
def test_published_percentiles_match_the_client(httpd, logs, mpm, moto, faultproxy):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, endpoint=faultproxy.endpoint, srv=FLEET_ONLY)
    rnd = random.Random(7)
    # 80 requests of 50 ms to 600 ms, log-uniform, 4 at a time (fewer than the idle workers of
    # either MPM: time waiting to be accepted is the client's, not the server's)
    sleeps = [round(0.05 * 12 ** rnd.random(), 3) for _ in range(80)]

    def one(s):
        # a connection of its own per request, timed around the request alone
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        try:
            conn.connect()
            t = time.monotonic()
            conn.request("GET", "/slow/sleep.cgi?%s" % s)
            r = conn.getresponse()
            r.read()
            t = time.monotonic() - t
        finally:
            conn.close()
        assert r.status == 200
        return t
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        client = sorted(pool.map(one, sleeps))
    # all of them published (in one interval or two)
    wait_until(lambda: sum(c for _, c in latency_pairs(posts(faultproxy))) >= len(sleeps), 15,
               what="80 latencies published")
    pairs = latency_pairs(posts(faultproxy))
    assert sum(c for _, c in pairs) == len(sleeps), pairs
    for q in (0.5, 0.9, 0.99):
        truth = quantile(client, q) * 1000
        got = pairs_quantile(pairs, q)
        assert abs(got - truth) <= 0.05 * truth, (q, got, truth)


@pytest.mark.one_mpm  # the publisher's thread under both MPMs: test_090
def test_cloudwatch_down_slows_no_request_and_the_backlog_is_bounded(httpd, logs, mpm, moto,
                                                                      faultproxy):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, endpoint=faultproxy.endpoint,
                   srv=FLEET_ONLY + "\nCloudWatchBacklog 3\nCloudWatchTimeout 500ms\n"
                                    "CloudWatchAttempts 2")
    srv.expect_log("LF03014", "LF03013")
    # CloudWatch hangs: every PutMetricData waits for the module's timeout
    faultproxy.add_rule("POST", r"^/$", action="stall", seconds=None)
    worst, served, started = 0.0, 0, time.monotonic()
    while time.monotonic() - started < 8:          # eight intervals of requests
        r, t = cw.timed_get(srv, "/index.html")
        assert r.status == 200
        worst = max(worst, t)
        served += 1
        time.sleep(0.02)
    st = cw.status(srv)
    assert faultproxy.count("POST", r"^/$") >= 2     # it did try, and kept trying
    assert 1 <= st["Backlog"] <= 3, st             # (drops are counted: the next test)
    assert st["RequestsSent"] == 0 and st["last_status"] == 0 and st["last_error"], st
    # no request waited for CloudWatch (its timeout is 500 ms; a static file takes ~1 ms)
    assert worst < 0.4, worst
    # back: what the backlog kept arrives, and later intervals too
    faultproxy.clear()
    st = cw.wait_published(srv, timeout=20)
    assert st["last_status"] == 200 and st["last_error"] == "", st
    got = cw.statistics(moto, ns, "Requests", {"AutoScalingGroupName": cw.ASG},
                        stats=("Sum",))
    # what the backlog kept, and what came after: some of what was served, maybe all
    assert 0 < got["Sum"] <= served, (got, served)


@pytest.mark.one_mpm  # the backlog's bound, whatever the MPM
def test_memory_stays_bounded_while_cloudwatch_is_down(httpd, logs, mpm, moto, faultproxy):
    """Many groups, 20 intervals refused with 503: the publisher's process does not grow with
    the number of intervals (the backlog holds at most CloudWatchBacklog of them)."""
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, endpoint=faultproxy.endpoint,
                   srv="CloudWatchBacklog 2\nCloudWatchAttempts 1\nCloudWatchMaxGroups 100",
                   loc='SetEnvIf Request_URI "^/g/(.*)$" CLOUDWATCH_GROUP=$1')
    # LF03014: at the end the proxy goes before httpd, whose stop still sends the last interval
    srv.expect_log("LF03015", "LF03013", "LF03014")
    faultproxy.add_rule("POST", r"^/$", status=503)

    def rss_total():
        total = 0
        for pid in pids_in_group(srv.process.pid):
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def traffic(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for g in range(60):
                srv.get("/g/group%d" % g)
    traffic(4)
    early = rss_total()
    traffic(12)
    late = rss_total()
    st = cw.status(srv)
    assert st["Backlog"] <= 2 and st["DroppedIntervals"] >= 5, st
    # 12 more intervals of 60 groups: kept, they would be several MB
    assert late - early < 3 * 1024, (early, late)


def test_throttling_is_retried_with_backoff(httpd, logs, mpm, moto, faultproxy):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, endpoint=faultproxy.endpoint, srv=FLEET_ONLY)
    faultproxy.add_rule("POST", r"^/$", status=400, body=THROTTLED, count=2,
                        headers={"Content-Type": "text/xml"})
    for _ in range(5):
        assert srv.get("/index.html").status == 200
    st = cw.wait_published(srv)
    tries = posts(faultproxy)
    assert [e.status for e in tries[:3]] == [400, 400, 200], tries
    # (the waits between them are "full jitter", a random share of 100 ms, 200 ms, ...: any of
    # them may be close to 0, so their lengths are checked in test_aws_http.c, not here)
    assert st["RequestsFailed"] == 0
    got = cw.statistics(moto, ns, "Requests", {"AutoScalingGroupName": cw.ASG}, stats=("Sum",))
    assert got["Sum"] == 5


@pytest.mark.one_mpm  # the publisher's transport, whatever the MPM
def test_untrusted_certificate_is_not_retried_and_the_log_says_why(httpd, logs, mpm, moto,
                                                                   tls_server):
    """A CloudWatch endpoint whose certificate is not trusted: each PutMetricData is one TLS
    connection (CloudWatchAttempts 3 is the default: a certificate does not get better in 100 ms),
    the interval stays queued, and LF03014 names the certificate problem in curl's words, without
    the meaningless "(20014)Internal error" prefix."""
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, endpoint=tls_server.url, srv=FLEET_ONLY)
    srv.expect_log("LF03014")
    assert srv.get("/index.html").status == 200
    line = srv.error_log.wait_for("LF03014", timeout=10)
    assert "PutMetricData: no answer from %s/: SSL certificate problem" % tls_server.url in line, \
        line
    assert "(after 1 attempts)" in line, line
    assert "(20014)" not in line and "Internal error" not in line, line
    assert tls_server.handshakes == 0 and tls_server.requests == []
    st = cw.status(srv)
    assert "SSL certificate problem" in st["last_error"], st
    assert st["RequestsSent"] == 0 and st["Backlog"] >= 1, st


@pytest.mark.one_mpm  # graceful restarts under both MPMs, counted exactly: test_090
def test_graceful_restart_counts_everything_once(httpd, logs, mpm, moto):
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, srv=FLEET_ONLY, interval="3")
    for _ in range(7):
        assert srv.get("/index.html").status == 200
    srv.graceful()
    for _ in range(5):
        assert srv.get("/index.html").status == 200
    srv.graceful()
    for _ in range(3):
        assert srv.get("/index.html").status == 200

    def total():
        s = cw.statistics(moto, ns, "Requests", {"AutoScalingGroupName": cw.ASG},
                          stats=("Sum",))
        return s["Sum"] if s else 0
    deadline = time.monotonic() + 20
    while total() < 15 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(4)   # one more interval: nothing may come twice
    assert total() == 15
    lat = cw.statistics(moto, ns, "Latency", {"AutoScalingGroupName": cw.ASG})
    assert lat["SampleCount"] == 15


@pytest.mark.parametrize("conf,text", [
    ("CloudWatchNamespace AWS/EC2", "CloudWatchNamespace: namespace 'AWS/EC2' starts with AWS/"),
    ("CloudWatchDimensions " + " ".join("D%d=v" % i for i in range(31)),
     "CloudWatchDimensions: 31 dimensions; CloudWatch takes at most 30 per metric"),
    ("CloudWatchDimensions AutoScalingGroupName Shard", "unknown dimension 'Shard'"),
    ("CloudWatchDimensions Group Group", "dimension 'Group' twice"),
    ("CloudWatchInterval 0", "CloudWatchInterval: '0' is not a whole number of seconds"),
    ("CloudWatchInterval soon", "CloudWatchInterval: 'soon' is not a whole number of seconds"),
    ("CloudWatchInterval 2h", "from 1s to 1h"),
    ("CloudWatchStorageResolution 5", "neither 60 (standard) nor 1 (high resolution)"),
    ("CloudWatchStorageResolution 1\nCloudWatchInterval 120", "pointless with a"),
    ("CloudWatchMaxGroups 0", "CloudWatchMaxGroups: '0' is not a number from 1 to 1000"),
    ("CloudWatchBacklog many", "CloudWatchBacklog: 'many' is not a number of intervals"),
    ("CloudWatchEndpoint monitoring.example", "is not an http:// or https:// URL"),
    ("CloudWatchCredentials keyfile /nonexistent/keys", "CloudWatchCredentials:"),
    ("CloudWatchRegion 'us east'", "is not a region name"),
    ("<VirtualHost 127.0.0.1:9>\nCloudWatchNamespace X\n</VirtualHost>",
     "cannot occur within <VirtualHost> section"),
    ("<Location />\nCloudWatchGroup %s\n</Location>" % ("g" * 70),
     "CloudWatchGroup: a group name has at most 63 characters"),
])
def test_bad_configuration_stops_configtest(httpd, logs, conf, text):
    rc, out = httpd.config_test("CloudWatch On\n" + conf, modules=("cloudwatch",))
    assert rc != 0, out
    assert text in out, out


def test_good_configuration_passes(httpd, logs, moto):
    keys = os.path.join(logs, "keys")
    with open(keys, "w") as f:
        f.write("AKIDEXAMPLE\nsecret\n")
    rc, out = httpd.config_test("""
CloudWatch On
CloudWatchNamespace MyShop/Web
CloudWatchRegion eu-west-1
CloudWatchEndpoint https://monitoring.eu-west-1.amazonaws.com
CloudWatchCredentials keyfile %s
CloudWatchCAFile /etc/ssl/certs/ca-certificates.crt
CloudWatchInterval 60
CloudWatchStorageResolution 60
CloudWatchDimensions AutoScalingGroupName
CloudWatchDimensions AutoScalingGroupName Group Environment=prod
CloudWatchDimensions InstanceId VirtualHost
CloudWatchAutoScalingGroup none
CloudWatchInstanceId i-0123456789abcdef0
CloudWatchIMDSEndpoint http://127.0.0.1:9
CloudWatchMaxGroups 50
CloudWatchBacklog 30
CloudWatchTimeout 2s
CloudWatchAttempts 5
CloudWatchTimeToFirstByte On
<Location /shop>
    CloudWatchGroup shop
</Location>
<Location /health>
    CloudWatch Off
</Location>
""" % keys, modules=("cloudwatch",))
    assert rc == 0 and "Syntax OK" in out, out
    assert "secret" not in out
