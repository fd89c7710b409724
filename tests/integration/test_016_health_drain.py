"""mod_health: draining by file (HealthDrainFile) and by authenticated request
(HealthDrainPath, HealthDrainToken), who may drain, and draining across a graceful restart."""
import os

import pytest

from harness.health import DRAIN, LIVE, READY, RFC3339, details, wait_ready

TOKEN = "s3cr3t-drain-token"
AUTH = {"Authorization": "Bearer " + TOKEN}


def token_file(logs, token=TOKEN):
    p = os.path.join(logs, "drain.token")
    with open(p, "w") as f:
        f.write(token + "\n")
    os.chmod(p, 0o600)
    return p


def drain_file(logs):
    d = os.path.join(logs, "drain")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    return os.path.join(d, "drain-now")


def assert_drain_doc(r, draining, source):
    assert r.status == 200, r
    assert r.header("Content-Type", "").startswith("application/json"), r
    doc = r.json()
    assert doc["draining"] is draining, doc
    assert doc["source"] == source, doc
    if draining:
        assert RFC3339.match(doc["since"]), doc
    else:
        assert doc["since"] is None, doc
    return doc


def test_drain_file(httpd, logs):
    f = drain_file(logs)
    srv = httpd.start("HealthDrainFile %s" % f)
    assert srv.get(READY).status == 200
    assert_drain_doc(srv.get(DRAIN), False, None)
    open(f, "w").close()
    r = wait_ready(srv, 503, timeout=5)
    assert r.text == "UNAVAILABLE\n"
    status, doc = details(srv)
    assert status == 503
    assert doc["status"] == "unavailable" and doc["reason"] == "draining"
    assert doc["draining"] is True and doc["drain_source"] == "file"
    assert RFC3339.match(doc["draining_since"]), doc
    assert_drain_doc(srv.get(DRAIN), True, "file")
    # still serving: the application and liveness
    assert srv.get("/").status == 200
    assert srv.get(LIVE).status == 200
    os.unlink(f)
    wait_ready(srv, 200, timeout=5)
    status, doc = details(srv)
    assert (doc["draining"], doc["drain_source"], doc["draining_since"]) == (False, None, None)


def test_drain_api(httpd, logs):
    srv = httpd.start("HealthDrainToken file:%s" % token_file(logs))
    assert srv.get(READY).status == 200
    r = srv.post(DRAIN, headers=AUTH)
    assert_drain_doc(r, True, "api")
    assert srv.get(READY).status == 503
    status, doc = details(srv)
    assert (status, doc["reason"], doc["draining"], doc["drain_source"]) == \
        (503, "draining", True, "api")
    assert srv.get("/").status == 200
    assert srv.get(LIVE).status == 200
    assert_drain_doc(srv.get(DRAIN), True, "api")
    # POST again: still draining, same since
    since = srv.get(DRAIN).json()["since"]
    assert_drain_doc(srv.post(DRAIN, headers=AUTH), True, "api")
    assert srv.get(DRAIN).json()["since"] == since
    r = srv.delete(DRAIN, headers=AUTH)
    assert_drain_doc(r, False, None)
    assert srv.get(READY).status == 200
    log = srv.error_log.read()
    assert "LF04012" in log and "LF04013" in log


def test_drain_token_from_env(httpd):
    srv = httpd.start("HealthDrainToken env:LF_TEST_DRAIN_TOKEN",
                      env={"LF_TEST_DRAIN_TOKEN": "from-the-environment"})
    httpd.expect_log("LF04014")
    assert srv.post(DRAIN, headers=AUTH).status == 401
    r = srv.post(DRAIN, headers={"Authorization": "Bearer from-the-environment"})
    assert_drain_doc(r, True, "api")
    assert srv.get(READY).status == 503


@pytest.mark.expect_log("LF04014")
def test_drain_refused(httpd, logs):
    srv = httpd.start("HealthDrainToken file:%s" % token_file(logs))
    for method in ("POST", "DELETE"):
        r = srv.request(method, DRAIN)
        assert r.status == 401, (method, r)
        assert r.header("WWW-Authenticate", "").startswith("Bearer"), r
        r = srv.request(method, DRAIN, headers={"Authorization": "Bearer wrong-" + TOKEN})
        assert r.status == 401, (method, r)
        assert r.header("WWW-Authenticate", "").startswith("Bearer"), r
        r = srv.request(method, DRAIN, headers={"Authorization": "Basic " + TOKEN})
        assert r.status == 401, (method, r)
        r = srv.request(method, DRAIN, headers={"Authorization": "Bearer " + TOKEN[:-1]})
        assert r.status == 401, (method, r)
    assert srv.get(READY).status == 200
    assert_drain_doc(srv.get(DRAIN), False, None)
    lines = [x for x in srv.error_log.read().splitlines() if "LF04014" in x]
    assert len(lines) >= 8, lines
    assert all(":warn]" in x and "127.0.0.1" in x for x in lines), lines
    # the secret never appears in the log
    assert TOKEN not in srv.error_log.read()


@pytest.mark.expect_log("LF04014")
def test_drain_refused_client_not_allowed(httpd, logs):
    srv = httpd.start("""
HealthDrainToken file:%s
HealthDetailsAllow 10.0.0.0/8
""" % token_file(logs))
    for method in ("POST", "DELETE"):
        r = srv.request(method, DRAIN, headers=AUTH)
        assert r.status == 403, (method, r)
    assert srv.get(DRAIN).status == 403
    assert srv.get(READY).status == 200
    log = srv.error_log.read()
    assert "LF04014" in log


@pytest.mark.expect_log("LF04014")
def test_drain_without_token_configured(httpd):
    """No HealthDrainToken: drain over HTTP is off, every POST/DELETE is 403."""
    srv = httpd.start()
    for method in ("POST", "DELETE"):
        for hdrs in ({}, AUTH, {"Authorization": "Bearer "}):
            r = srv.request(method, DRAIN, headers=hdrs)
            assert r.status == 403, (method, hdrs, r)
    assert_drain_doc(srv.get(DRAIN), False, None)
    assert srv.get(READY).status == 200


def test_delete_while_drain_file_exists(httpd, logs):
    f = drain_file(logs)
    srv = httpd.start("""
HealthDrainFile %s
HealthDrainToken file:%s
""" % (f, token_file(logs)))
    open(f, "w").close()
    wait_ready(srv, 503, timeout=5)
    r = srv.delete(DRAIN, headers=AUTH)
    assert r.status == 409, r
    assert srv.get(READY).status == 503
    # also when the API drains as well: the file wins
    assert srv.post(DRAIN, headers=AUTH).status == 200
    assert srv.delete(DRAIN, headers=AUTH).status == 409
    assert srv.get(READY).status == 503
    os.unlink(f)
    # the API drain is still on (DELETE was refused)
    assert_drain_doc(srv.get(DRAIN), True, "api")
    assert_drain_doc(srv.delete(DRAIN, headers=AUTH), False, None)
    wait_ready(srv, 200, timeout=5)


def test_custom_drain_path(httpd, logs):
    srv = httpd.start("""
HealthDrainPath /lb/drain
HealthDrainToken file:%s
""" % token_file(logs))
    assert_drain_doc(srv.post("/lb/drain", headers=AUTH), True, "api")
    assert srv.get(READY).status == 503
    assert srv.get(DRAIN).status == 404
    assert_drain_doc(srv.delete("/lb/drain", headers=AUTH), False, None)


@pytest.mark.timeout(60)
def test_drain_survives_graceful_restart(httpd, logs):
    srv = httpd.start("HealthDrainToken file:%s" % token_file(logs))
    assert_drain_doc(srv.post(DRAIN, headers=AUTH), True, "api")
    since = srv.get(DRAIN).json()["since"]
    srv.graceful()
    for _ in range(20):
        assert srv.get(READY).status == 503
    assert_drain_doc(srv.get(DRAIN), True, "api")
    assert srv.get(DRAIN).json()["since"] == since
    # and a second one, with a changed configuration
    srv.conf += "\nHealthEnv lb-probe\n"
    srv.graceful()
    assert srv.get(READY).status == 503
    assert_drain_doc(srv.delete(DRAIN, headers=AUTH), False, None)
    assert srv.get(READY).status == 200


def test_drain_does_not_survive_full_restart(httpd, logs):
    srv = httpd.start("HealthDrainToken file:%s" % token_file(logs))
    assert_drain_doc(srv.post(DRAIN, headers=AUTH), True, "api")
    srv.stop()
    srv.start()
    assert srv.get(READY).status == 200
    assert_drain_doc(srv.get(DRAIN), False, None)
