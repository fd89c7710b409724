"""mod_health: health requests carry an environment variable (HealthEnv) so that
`CustomLog ... env=!health-check` keeps them out of the access log."""
import time

from harness.health import DRAIN, LIVE, READY
from harness.proc import wait_until

LOGS = """
CustomLog "@LOGDIR@/app_log" "%%h \\"%%r\\" %%>s" env=!%(var)s
CustomLog "@LOGDIR@/health_log" "%%h \\"%%r\\" %%>s" env=%(var)s
"""


def _lines(srv, name):
    return srv.access_log_lines(name)


def _wait_logged(srv, n):
    # access log lines are written at the end of each request; the last one may lag a little
    wait_until(lambda: len(srv.access_log_lines("access_log")) >= n, 5, what="access log")


def _exercise(srv):
    srv.get(READY)
    srv.get(LIVE)
    srv.head(READY)
    srv.get(READY + "?details")
    srv.get(DRAIN)
    srv.request("POST", READY)   # 405: still a health request
    srv.get("/")
    srv.get("/index.html")
    _wait_logged(srv, 8)
    wait_until(lambda: len(_lines(srv, "app_log")) + len(_lines(srv, "health_log")) >= 8, 5,
               what="app_log and health_log")


def _assert_split(srv):
    app = _lines(srv, "app_log")
    health = _lines(srv, "health_log")
    # (lines of different workers may land in any order)
    assert sorted(x.split('"')[1] for x in app) == \
        ["GET / HTTP/1.1", "GET /index.html HTTP/1.1"], app
    assert sorted(x.split('"')[1] for x in health) == sorted([
        "GET /health/ready HTTP/1.1", "GET /health/live HTTP/1.1", "HEAD /health/ready HTTP/1.1",
        "GET /health/ready?details HTTP/1.1", "GET /health/drain HTTP/1.1",
        "POST /health/ready HTTP/1.1"]), health
    # the unconditional access log has them all
    assert len(_lines(srv, "access_log")) == 8


def test_default_env_health_check(httpd):
    srv = httpd.start(LOGS % {"var": "health-check"})
    _exercise(srv)
    _assert_split(srv)


def test_custom_env(httpd):
    srv = httpd.start("HealthEnv lb-probe\n" + LOGS % {"var": "lb-probe"})
    _exercise(srv)
    _assert_split(srv)


def test_custom_env_default_not_set(httpd):
    srv = httpd.start("HealthEnv lb-probe\n"
                      'CustomLog "@LOGDIR@/hc_log" "%r" env=health-check\n'
                      'CustomLog "@LOGDIR@/probe_log" "%r" env=lb-probe\n')
    srv.get(READY)
    srv.get(LIVE)
    # probe_log is written after hc_log for each request: once it has both, hc_log is final
    wait_until(lambda: len(_lines(srv, "probe_log")) >= 2, 5, what="probe_log")
    assert _lines(srv, "hc_log") == []


def test_env_in_vhost(httpd):
    """HealthEnv is server config: a vhost may name its own variable."""
    srv = httpd.start("""
<VirtualHost 127.0.0.1:@PORT2@>
    HealthEnv vhost-probe
    CustomLog "@LOGDIR@/vhost_app_log" "%r" env=!vhost-probe
</VirtualHost>
""", extra_ports=1)
    p2 = srv.ports[1]
    srv.get(READY, port=p2)
    srv.get("/", port=p2)
    wait_until(lambda: len(_lines(srv, "vhost_app_log")) >= 1, 5)
    time.sleep(0.1)
    assert _lines(srv, "vhost_app_log") == ["GET / HTTP/1.1"]
