"""mod_session_kv: configuration (every directive accepted in its documented forms; each error
stops `apache2 -t` with a clear message), the server-status counters and the session-kv check
for mod_health."""
import os

import pytest

from harness import session
from harness.health import check, wait_check
from harness.tls import make_test_ca

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def config(httpd, conf):
    return httpd.config_test(conf, modules=("session_kv",),
                             apache_modules=session.apache_modules(httpd.mpm),
                             env={"LF_REDIS_PW": "s3cret-pw"})


def write(logs, name, text):
    path = os.path.join(logs, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_all_directives_accepted(httpd, logs):
    keys = write(logs, "keys", "# current\n%s\n# old\n%s\n" % (KEY, KEY[::-1]))
    ca = make_test_ca(os.path.join(logs, "ca"))[0]
    rc, out = config(httpd, """
SessionKVStore redis://app@127.0.0.1:6379/3
SessionKVPassword env:LF_REDIS_PW
SessionKVConnectTimeout 100
SessionKVTimeout 1s
SessionKVRetryInterval 30s
SessionKVConnections 8
SessionKVKeyPrefix myapp:
SessionKVEncryptionKeyFile %s
SessionKVIdleTimeout 30m
SessionKVMaxLifetime 12h
SessionKVTouchInterval 2m
SessionKVMaxSize 128K
SessionKVConcurrency merge 20
<VirtualHost 127.0.0.1:9>
    SessionKVStore memcached://127.0.0.1:11211,127.0.0.1:11212
    SessionKVConcurrency last-write-wins
</VirtualHost>
<VirtualHost 127.0.0.1:10>
    SessionKVStore rediss://app-iam@master.sessions.abc123.euw1.cache.amazonaws.com:6379
    SessionKVCAFile %s
    SessionKVIAMAuth sessions eu-west-1
    SessionKVCredentials profile web
</VirtualHost>
<VirtualHost 127.0.0.1:11>
    SessionKVStore rediss://app-iam@sessions-xyz.serverless.euw1.cache.amazonaws.com
    SessionKVIAMAuth Sessions-Serverless eu-west-1 Serverless
</VirtualHost>
<Location />
    Session On
    SessionKV On
    SessionKVCookie __Host-sid SameSite=Strict Max-Age=3600
    SessionKVFailurePolicy closed
    SessionKVRegenerateHeader X-New-Id
    SessionKVEnvPartSize 12K
</Location>
<Location /legacy>
    SessionKVEnvPartSize Off
</Location>
""" % (keys, ca))
    assert rc == 0 and "Syntax OK" in out, out
    assert "s3cret-pw" not in out


@pytest.mark.parametrize("conf,text", [
    ("SessionKVStore http://127.0.0.1:1", "SessionKVStore: unknown scheme"),
    ("SessionKVStore redis://127.0.0.1:6379/16", "SessionKVStore:"),
    ("SessionKVStore redis://app@127.0.0.1", "a redis user needs a password"),
    ("SessionKVPassword env:LF_NOT_SET_ANYWHERE", "SessionKVPassword:"),
    ("SessionKVStore redis://127.0.0.1\nSessionKVIdleTimeout 60s\nSessionKVTouchInterval 60s",
     "SessionKVTouchInterval must be shorter than SessionKVIdleTimeout"),
    ("SessionKVStore redis://127.0.0.1\nSessionKVIdleTimeout 1h\nSessionKVMaxLifetime 10m",
     "SessionKVMaxLifetime shorter than SessionKVIdleTimeout"),
    ("SessionKVStore redis://127.0.0.1\nSessionKVEncryptionKeyFile /nonexistent/keys",
     "SessionKVEncryptionKeyFile /nonexistent/keys"),
    ("SessionKVStore rediss://127.0.0.1\nSessionKVCAFile /nonexistent/ca.pem",
     "SessionKVCAFile: cannot load the CA file /nonexistent/ca.pem"),
    ("SessionKVStore redis://app@127.0.0.1\nSessionKVIAMAuth sessions eu-west-1",
     "SessionKVIAMAuth needs a rediss:// store"),
    ("SessionKVStore rediss://127.0.0.1\nSessionKVIAMAuth sessions eu-west-1",
     "SessionKVIAMAuth: the store's URL names the user"),
    ("SessionKVStore rediss://app:pw@127.0.0.1\nSessionKVIAMAuth sessions eu-west-1",
     "SessionKVIAMAuth: the token is the password"),
    ("SessionKVIAMAuth master.sessions.abc123.cache.amazonaws.com eu-west-1",
     "SessionKVIAMAuth: "),
    ("SessionKVIAMAuth sessions EU_WEST_1", "SessionKVIAMAuth: "),
    ("SessionKVIAMAuth sessions eu-west-1 serverles", "'serverles' is not 'serverless'"),
    ("SessionKVCredentials vault", "SessionKVCredentials: expected"),
    ("SessionKVStore rediss://app@127.0.0.1\nSessionKVIAMAuth sessions eu-west-1\n"
     "SessionKVCredentials keyfile /nonexistent/keys", "SessionKVCredentials: "),
    ("SessionKVTimeout soon", "SessionKVTimeout: 'soon' is not a duration"),
    ("SessionKVMaxSize 10M", "SessionKVMaxSize: '10M' is not a size from 1K to 512K"),
    ("SessionKVConcurrency optimistic", "neither merge nor last-write-wins"),
    ("SessionKVKeyPrefix 'a b'", "SessionKVKeyPrefix: no spaces"),
    ("SessionKVConnections 0", "SessionKVConnections: '0' is not a number"),
    ("<Location />\nSessionKVCookie __Host-sid Secure=Off\n</Location>",
     "a __Host- cookie must be Secure"),
    ("<Location />\nSessionKVCookie sid SameSite=None Secure=Off\n</Location>",
     "SameSite=None needs Secure"),
    ("<Location />\nSessionKVCookie sid Expires=never\n</Location>",
     "unknown cookie attribute 'Expires'"),
    ("<Location />\nSessionKVCookie 'bad name'\n</Location>", "is not a valid cookie name"),
    ("<Location />\nSessionKVFailurePolicy maybe\n</Location>", "neither open nor closed"),
    ("<Location />\nSessionKVEnvPartSize 100\n</Location>",
     "SessionKVEnvPartSize: '100' is neither Off nor a size from 1K to 1M"),
])
def test_config_errors(httpd, logs, conf, text):
    rc, out = config(httpd, conf)
    assert rc != 0, out
    assert text in out, out


def test_bad_key_file_names_the_line(httpd, logs):
    keys = write(logs, "keys", "%s\nnot-a-key\n" % KEY)
    rc, out = config(httpd, "SessionKVStore redis://127.0.0.1\nSessionKVEncryptionKeyFile %s"
                     % keys)
    assert rc != 0 and "line 2 is not a key" in out and "not-a-key" not in out, out


def test_encrypted_sessions_work_and_hold_no_clear_text(httpd, logs, mpm, kv):
    keys = write(logs, "keys", KEY + "\n")
    srv = session.start(httpd, logs, mpm, kv.url, srv="SessionKVEncryptionKeyFile %s" % keys)
    c = session.Client(srv)
    c.app(set="user:alice-the-admin")
    assert c.app() == {"user": "alice-the-admin"}
    assert b"alice-the-admin" not in kv.raw(c.sid)


def test_cookie_attributes_as_configured(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url,
                        cookie="SessionKVCookie lf Secure=Off SameSite=Strict Max-Age=600 "
                               "Path=/app Domain=example.test")
    c = session.Client(srv, name="lf")
    r = c.get("/app/app.cgi?" + session.query(set="a:1"))
    cookie = session.set_cookies(r)[0]
    assert cookie == "lf=%s; Path=/app; Domain=example.test; Max-Age=600; HttpOnly; " \
                     "SameSite=Strict" % c.sid


def test_regenerate_header_name_is_configurable(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url, loc="SessionKVRegenerateHeader X-Session-Regenerate")
    c = session.Client(srv)
    c.app(set="a:1")
    old = c.sid
    r = c.get("/app/app.cgi?" + session.query(regen=1))
    assert r.header("X-Session-Regenerate") is None
    assert c.sid != old


def test_status_counters(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url)
    c = session.Client(srv)
    c.app(set="a:1")
    c.app()
    got = session.status_counters(srv)
    assert got["Writes"] == 1 and got["Loads"] == 1 and got["Hits"] == 1
    assert got["Ops"] >= 2 and got["OpMaxMicroseconds"] > 0
    html = srv.get("/server-status").text
    assert "mod_session_kv: %s://127.0.0.1:" % kv.kind in html


@pytest.mark.expect_log("LF04010")
def test_health_check(httpd, logs, mpm, kv):
    # memcached leaves a failed server out for SessionKVRetryInterval
    conf = session.conf(logs, kv.url, srv="SessionKVRetryInterval 1s") + """
HealthCheck sessions session-kv interval=300ms timeout=300ms
"""
    srv = httpd.start(conf, modules=("session_kv", "health"),
                      apache_modules=session.apache_modules(mpm))
    doc = wait_check(srv, "sessions", "up")
    kv.server.stop()
    doc = wait_check(srv, "sessions", "down")
    assert check(doc, "sessions")["error"]
    kv.server.start()
    wait_check(srv, "sessions", "up")
