"""mod_health: the details JSON (`?details`) and who may see it (HealthDetailsAllow)."""
import pytest

from harness.health import LIVE, READY, RFC3339, check, details, wait_check

CHECK_KEYS = {"name", "type", "target", "severity", "state", "since", "latency_ms", "error",
              "checked_at"}
TOP_KEYS = {"status", "reason", "live", "draining", "draining_since", "drain_source",
            "in_flight", "checks"}


def assert_terse(r, status=200):
    assert r.status == status, r
    assert r.header("Content-Type", "").startswith("text/plain"), r
    assert r.text == ("OK\n" if status == 200 else "UNAVAILABLE\n"), r


def test_details_document(httpd, hang_server):
    """The JSON document, with one check up and one degraded check down."""
    srv = httpd.new()
    srv.conf = """
HealthCheck self tcp 127.0.0.1:@PORT@ interval=200ms timeout=100ms
HealthCheck gone tcp 127.0.0.1:1 interval=200ms timeout=100ms severity=degraded
"""
    srv.start()
    httpd.expect_log("LF04010")
    wait_check(srv, "self", "up")
    doc = wait_check(srv, "gone", "down")
    status, doc = details(srv)
    assert status == 200
    assert TOP_KEYS <= set(doc), doc
    assert doc["status"] == "ready"
    assert doc["reason"] == "ok"
    assert doc["live"] is True
    assert doc["draining"] is False
    assert doc["draining_since"] is None
    assert doc["drain_source"] is None
    assert isinstance(doc["in_flight"], int) and doc["in_flight"] >= 0
    assert [c["name"] for c in doc["checks"]] == ["self", "gone"]
    for c in doc["checks"]:
        assert CHECK_KEYS <= set(c), c
        assert c["type"] == "tcp"
        assert RFC3339.match(c["since"]), c
        assert RFC3339.match(c["checked_at"]), c
        assert isinstance(c["latency_ms"], (int, float)) and c["latency_ms"] >= 0, c
    up = check(doc, "self")
    assert up["target"] == "127.0.0.1:%d" % srv.port
    assert up["severity"] == "critical"
    assert up["state"] == "up"
    assert up["error"] is None
    down = check(doc, "gone")
    assert down["target"] == "127.0.0.1:1"
    assert down["severity"] == "degraded"
    assert down["state"] == "down"
    assert isinstance(down["error"], str) and down["error"]
    r = srv.get(READY + "?details")
    assert r.header("Cache-Control") == "no-store"


def test_details_on_liveness(httpd):
    srv = httpd.start()
    status, doc = details(srv, LIVE)
    assert status == 200
    assert doc["live"] is True
    assert doc["checks"] == []


def test_details_unknown_check_before_first_result(httpd):
    """A check with no result yet: state unknown, since/latency/error/checked_at null."""
    srv = httpd.start("HealthCheck later tcp 127.0.0.1:@PORT@ interval=1h timeout=100ms "
                      "severity=degraded")
    status, doc = details(srv)
    c = check(doc, "later")
    if c["state"] == "unknown":
        assert c["since"] is None and c["checked_at"] is None
        assert c["latency_ms"] is None and c["error"] is None
    else:  # the first run was quicker than our request
        assert c["state"] == "up"
    assert status == 200  # degraded: never affects readiness


def test_details_denied_to_client_not_allowed(httpd):
    """HealthDetailsAllow 10.0.0.0/8: 127.0.0.1 gets the terse answer, no JSON, no error."""
    srv = httpd.start("HealthDetailsAllow 10.0.0.0/8")
    assert_terse(srv.get(READY + "?details"))
    assert_terse(srv.get(LIVE + "?details"))


def test_details_allow_list_and_cidr(httpd):
    """Several entries, addresses and CIDRs; ask from 127.0.0.1 and 127.0.0.2."""
    srv = httpd.start("HealthDetailsAllow 10.1.2.3 127.0.0.2/32 192.168.0.0/16")
    assert_terse(srv.get(READY + "?details"))
    r = srv.get(READY + "?details", source="127.0.0.2")
    assert r.status == 200 and r.json()["status"] == "ready"


def test_details_allow_default_is_localhost(httpd):
    """Default `127.0.0.1 ::1`: 127.0.0.1 sees details, another loopback address does not."""
    srv = httpd.start()
    assert details(srv)[1]["status"] == "ready"
    assert_terse(srv.get(READY + "?details", source="127.0.0.2"))


def test_details_allow_none(httpd):
    srv = httpd.start("HealthDetailsAllow none")
    assert_terse(srv.get(READY + "?details"))
    assert_terse(srv.get(LIVE + "?details"))


def test_details_allow_in_vhost(httpd):
    """HealthDetailsAllow is server config: a vhost can open details that the main server
    keeps closed."""
    srv = httpd.start("""
HealthDetailsAllow none
<VirtualHost 127.0.0.1:@PORT2@>
    HealthDetailsAllow 127.0.0.1
</VirtualHost>
""", extra_ports=1)
    assert_terse(srv.get(READY + "?details"))
    r = srv.get(READY + "?details", port=srv.ports[1])
    assert r.status == 200 and r.json()["status"] == "ready"


@pytest.mark.parametrize("path", [READY, LIVE])
def test_details_head(httpd, path):
    srv = httpd.start()
    r = srv.head(path + "?details")
    assert r.status == 200 and r.body == b""
    assert r.header("Content-Type", "").startswith("application/json")
