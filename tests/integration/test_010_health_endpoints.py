"""mod_health: the readiness and liveness endpoints as a load balancer sees them
(HealthReadyPath, HealthLivePath, methods, headers, quick handler, every vhost)."""
import pytest

from harness.health import LIVE, READY


def assert_terse(r, status):
    assert r.status == status, r
    assert r.header("Content-Type", "").startswith("text/plain"), r
    assert r.header("Cache-Control") == "no-store", r
    assert r.text == ("OK\n" if status == 200 else "UNAVAILABLE\n"), r


def test_ready_and_live_defaults(httpd):
    srv = httpd.start()
    assert_terse(srv.get(READY), 200)
    assert_terse(srv.get(LIVE), 200)
    # normal pages are untouched
    r = srv.get("/")
    assert r.status == 200 and r.text == "hello from httpd\n"


def test_head(httpd):
    srv = httpd.start()
    for path in (READY, LIVE):
        r = srv.head(path)
        assert r.status == 200
        assert r.body == b""
        assert r.header("Content-Type", "").startswith("text/plain")
        assert r.header("Cache-Control") == "no-store"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_405(httpd, method):
    srv = httpd.start()
    for path in (READY, LIVE):
        r = srv.request(method, path, body=b"x" if method in ("POST", "PUT", "PATCH") else None)
        assert r.status == 405, (path, r)
        assert r.header("Allow") == "GET, HEAD", (path, r)


def test_custom_paths(httpd):
    srv = httpd.start("""
HealthReadyPath /lb/ready
HealthLivePath /lb/alive
""")
    assert_terse(srv.get("/lb/ready"), 200)
    assert_terse(srv.get("/lb/alive"), 200)
    # the defaults are no longer health endpoints: the normal 404 of the docroot
    assert srv.get(READY).status == 404
    assert srv.get(LIVE).status == 404
    assert srv.get("/lb/ready?details").header("Content-Type").startswith("application/json")


def test_paths_none(httpd):
    srv = httpd.start("""
HealthReadyPath none
HealthLivePath none
HealthDrainPath none
""")
    for path in (READY, LIVE, "/health/drain"):
        r = srv.get(path)
        assert r.status == 404, (path, r)
    assert srv.request("POST", "/health/drain").status in (404, 405)


def test_query_other_than_details_is_terse(httpd):
    srv = httpd.start()
    for q in ("?x=1", "?detail", "?details=1&x"):
        r = srv.get(READY + q)
        assert_terse(r, 200)


@pytest.mark.expect_log("AH01630")
def test_answered_before_auth_and_rewrite(httpd):
    """A quick handler: <Location /> denials and rewrites of the application do not apply."""
    srv = httpd.start("""
<Location "/">
    Require all denied
</Location>
RewriteEngine on
RewriteRule ^/health/(.*)$ /elsewhere/$1 [R=302,L]
""", apache_modules=("authz_core", "authz_host", "mime", "dir", "alias", "rewrite"))
    assert_terse(srv.get(READY), 200)
    assert_terse(srv.get(LIVE), 200)
    assert srv.get("/health/other").status == 302
    assert srv.get("/index.html").status == 403


def test_every_vhost(httpd):
    srv = httpd.start("""
<VirtualHost 127.0.0.1:@PORT@>
    ServerName one.example
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName two.example
    HealthReadyPath /two/ready
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName three.example
    HealthLivePath /three/live
</VirtualHost>
""", extra_ports=1)
    one = {"Host": "one.example"}
    two = {"Host": "two.example"}
    assert_terse(srv.get(READY, headers=one), 200)
    assert_terse(srv.get(LIVE, headers=one), 200)
    assert_terse(srv.get("/two/ready", headers=two), 200)
    assert srv.get(READY, headers=two).status == 404
    assert_terse(srv.get(LIVE, headers=two), 200)
    p3 = srv.ports[1]
    assert_terse(srv.get(READY, port=p3), 200)
    assert_terse(srv.get("/three/live", port=p3), 200)
    assert srv.get(LIVE, port=p3).status == 404
