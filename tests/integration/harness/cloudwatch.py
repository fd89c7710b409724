"""mod_cloudwatch in tests: an httpd that measures its requests and publishes them to moto's
CloudWatch (signature checking on), a CGI script that answers after a given time, and reading
back what CloudWatch received (GetMetricStatistics / ListMetrics through moto's boto3 worker).

Each test gets its own namespace (moto is shared by the whole session), and a short interval
(CloudWatchInterval 1 by default) so that a flush comes within a second or two.
"""
import datetime
import os
import time
import uuid

from . import s3
from .httpd import DEFAULT_APACHE_MODULES
from .proc import wait_until

ASG = "test-asg"

# /slow/sleep.cgi?SECONDS answers after that long (sh + sleep: a few ms of its own);
# ?status=NNN answers with that status; a request body is read and thrown away.
SLEEP_CGI = """#!/bin/sh
[ -n "$CONTENT_LENGTH" ] && head -c "$CONTENT_LENGTH" >/dev/null
case "$QUERY_STRING" in
  status=*) echo "Status: ${QUERY_STRING#status=}" ;;
  *) sleep "$QUERY_STRING" ;;
esac
echo "Content-Type: text/plain"
echo
echo slept
"""


def namespace():
    return "Lampfarm/Test-%s" % uuid.uuid4().hex[:12]


def cgi_dir(logs):
    d = os.path.join(logs, "cgi")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "sleep.cgi")
    with open(path, "w") as f:
        f.write(SLEEP_CGI)
    os.chmod(path, 0o755)
    os.chmod(d, 0o755)
    return d


def conf(logs, moto, ns, endpoint=None, interval="1", srv="", loc="", keys=None):
    """Measure every request of the server, publish to moto (or endpoint) every interval."""
    return """
CloudWatch On
CloudWatchNamespace %(ns)s
CloudWatchRegion us-east-1
CloudWatchEndpoint %(endpoint)s
CloudWatchCredentials keyfile %(keys)s
CloudWatchInterval %(interval)s
CloudWatchAutoScalingGroup %(asg)s
%(srv)s
ScriptAlias /slow/ "%(cgi)s/"
<Directory "%(cgi)s">
    Require all granted
</Directory>
<Location /server-status>
    SetHandler server-status
    CloudWatch Off
</Location>
<Location /cloudwatch-status>
    SetHandler cloudwatch-status
    CloudWatch Off
</Location>
%(loc)s
""" % {"ns": ns, "endpoint": endpoint or moto.endpoint, "keys": keys or s3.keyfile(logs, moto),
       "interval": interval, "asg": ASG, "srv": srv, "cgi": cgi_dir(logs), "loc": loc}


def apache_modules(mpm, extra=()):
    return DEFAULT_APACHE_MODULES + ("status", "cgid" if mpm == "event" else "cgi") + tuple(extra)


def start(httpd, logs, mpm, moto, ns, **kw):
    extra = kw.pop("extra_apache", ())
    return httpd.start(conf(logs, moto, ns, **kw), modules=("cloudwatch",),
                       apache_modules=apache_modules(mpm, extra))


def status(srv):
    """The cloudwatch-status handler's JSON."""
    r = srv.get("/cloudwatch-status")
    assert r.status == 200, r
    return r.json()


def wait_published(srv, datums=1, timeout=15):
    """Wait until CloudWatch accepted at least this many datums in all; the status."""
    out = {}

    def done():
        out.update(status(srv))
        return out["DatumsSent"] >= datums and out["Backlog"] == 0
    wait_until(done, timeout, what="mod_cloudwatch to publish %d datums" % datums)
    return out


def statistics(moto, ns, metric, dims, stats=("SampleCount", "Sum", "Minimum", "Maximum"),
               unit=None, minutes=10):
    """GetMetricStatistics over the last minutes in one period: one dict, or None."""
    now = datetime.datetime.now(datetime.timezone.utc)
    params = {"Namespace": ns, "MetricName": metric,
              "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
              "StartTime": (now - datetime.timedelta(minutes=minutes)).isoformat(),
              "EndTime": (now + datetime.timedelta(minutes=1)).isoformat(),
              "Period": 60 * (minutes + 1), "Statistics": list(stats)}
    if unit:
        params["Unit"] = unit
    points = moto.call("call", service="cloudwatch", method="get_metric_statistics",
                       params=params)["Datapoints"]
    if not points:
        return None
    out = {}
    for p in points:    # moto may split the period; add the points up
        for s in stats:
            if s == "SampleCount" or s == "Sum":
                out[s] = out.get(s, 0) + p[s]
            elif s == "Minimum":
                out[s] = min(out.get(s, p[s]), p[s])
            elif s == "Maximum":
                out[s] = max(out.get(s, p[s]), p[s])
    return out


def statistics_reaching(moto, ns, metric, dims, stat, want, timeout=20, **kw):
    """statistics() once its stat reached want (a count the test made: requests published in
    the interval after the one it waited for arrive later); the last seen, or None, when it did
    not within timeout. The caller asserts the exact value: more than want is a failure too."""
    seen = {}

    def reached():
        seen["v"] = statistics(moto, ns, metric, dims, **kw)
        return seen["v"] is not None and seen["v"].get(stat, 0) >= want
    try:
        wait_until(reached, timeout, what="%s %s to reach %s" % (metric, stat, want))
    except TimeoutError:
        pass
    return seen.get("v")


def metrics(moto, ns):
    """ListMetrics of the namespace: [(name, {dimension: value})], each once (moto lists a
    metric once per datum)."""
    res = moto.call("call", service="cloudwatch", method="list_metrics",
                    params={"Namespace": ns})["Metrics"]
    seen = {(m["MetricName"], tuple(sorted((d["Name"], d["Value"])
                                           for d in m.get("Dimensions", [])))) for m in res}
    return [(name, dict(dims)) for name, dims in sorted(seen)]


def timed_get(srv, path):
    """GET path; (response, seconds the client waited)."""
    t = time.monotonic()
    r = srv.get(path)
    return r, time.monotonic() - t
