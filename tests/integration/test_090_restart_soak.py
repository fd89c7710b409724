"""Process life (issue 14): children exit all the time — graceful restarts, MaxConnectionsPerChild,
idle children reaped after a load peak, the final stop — while mod_health runs https checks
against a slow TLS endpoint and mod_cloudwatch publishes every second over https. Under both
MPMs, with load throughout: no child dies on a signal and none leaves a core (the harness fails
any test on an `exit signal` line or a core file; asserted here too), no request fails, and
CloudWatch counts each request the access log shows exactly once.

Before the lifecycle kit, the same run killed children with SIGSEGV on their way out (a check or
publisher thread still in OpenSSL while exit() tore it down) and lost what the last publisher had
not sent. LAMPFARM_SOAK_SECONDS makes the run longer (default 18 s of load per MPM)."""
import os
import threading
import time

from harness import cloudwatch as cw
from harness import paths, tls
from harness.backends import TlsFront

SOAK_SECONDS = float(os.environ.get("LAMPFARM_SOAK_SECONDS", "18"))
GRACEFUL_EVERY = 3.0
CHECKS = 8

# Few threads and processes, recycled often: children come and go many times a second.
MPM_SOAK = {
    "event": """
<IfModule mpm_event_module>
    StartServers 1
    ServerLimit 16
    ThreadsPerChild 8
    MaxRequestWorkers 32
    MinSpareThreads 4
    MaxSpareThreads 12
    MaxConnectionsPerChild 200
</IfModule>""",
    "prefork": """
<IfModule mpm_prefork_module>
    StartServers 2
    MinSpareServers 1
    MaxSpareServers 3
    MaxConnectionsPerChild 60
</IfModule>""",
}


class Load:
    """Clients that request a page over and over (a new connection each time) until stopped;
    every answer that is not a 200, and every request that got no answer, is a failure."""

    def __init__(self, srv, clients):
        self.srv = srv
        self.ok = 0
        self.failed = []
        self.lock = threading.Lock()
        self.stop_at = None
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self):
        while self.stop_at is None or time.monotonic() < self.stop_at:
            try:
                r = self.srv.get("/index.html", timeout=10)
                good, what = r.status == 200, r.status
            except OSError as e:
                good, what = False, repr(e)
            with self.lock:
                if good:
                    self.ok += 1
                else:
                    self.failed.append(what)

    def start(self, seconds):
        self.stop_at = time.monotonic() + seconds
        for t in self.threads:
            t.start()
        return self

    def join(self):
        for t in self.threads:
            t.join(timeout=30)


def test_children_exit_cleanly_and_every_request_is_published_once(httpd, logs, mpm, moto):
    slow = tls.TLSServer(paths.sub_dir(logs, "tls"), delay=0.3).start()
    front = TlsFront(paths.sub_dir(logs, "tls-front"), moto.port, slow.cert, slow.key).start()
    try:
        ns = cw.namespace()
        checks = "\n".join(
            "HealthCheck tls%d http %s/ interval=500ms timeout=500ms severity=degraded "
            "cafile=%s" % (i, slow.url, slow.ca) for i in range(CHECKS))
        conf = cw.conf(logs, moto, ns, endpoint=front.endpoint + "/",
                       srv="CloudWatchDimensions AutoScalingGroupName\nCloudWatchCAFile %s"
                           % slow.ca) + checks + MPM_SOAK[mpm]
        srv = httpd.start(conf, modules=("health", "cloudwatch"),
                          apache_modules=cw.apache_modules(mpm))
        # LF04010: a check whose answer comes after its timeout (the handshake waits 0.3 s, the
        # timeout is 0.5 s: only when the soak's load delays it further)
        httpd.allow_log("LF04010")

        load = Load(srv, clients=3).start(SOAK_SECONDS)
        restarts = 0
        end = time.monotonic() + SOAK_SECONDS
        peak = None
        while time.monotonic() < end - GRACEFUL_EVERY:
            time.sleep(GRACEFUL_EVERY)
            if peak is None and time.monotonic() > end - SOAK_SECONDS / 2:
                # a peak: many more clients for a moment, more children; afterwards the MPM
                # reaps the idle ones
                peak = Load(srv, clients=24).start(2.0)
                peak.join()
                continue
            srv.graceful()
            restarts += 1
        load.join()
        assert restarts >= 3
        assert slow.handshakes > 0  # the checks had TLS handshakes in flight throughout

        srv.stop()   # `apachectl stop`: the last interval is published on the way out
        served = [line for line in srv.access_log_lines() if '"GET /index.html ' in line]
        failed = load.failed + (peak.failed if peak else [])
        assert not failed, failed[:10]
        ok = load.ok + (peak.ok if peak else 0)
        assert ok > 0 and len(served) == ok, (len(served), ok)

        errors = srv.error_log.read()
        assert "exit signal" not in errors
        assert not os.listdir(srv.core_dir)

        got = cw.statistics_reaching(moto, ns, "Requests", {"AutoScalingGroupName": cw.ASG},
                                     "Sum", len(served), timeout=30, stats=("Sum",))
        assert got is not None and got["Sum"] == len(served), (got, len(served))
    finally:
        slow.stop()
        front.stop()
