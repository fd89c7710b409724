"""mod_health: configuration. Every directive is accepted in its documented forms, and every
configuration error stops `apache2 -t` with a non-zero exit and a clear message."""
import os
import re

import pytest

from harness import paths
from harness.health import READY, check, wait_check


def ok(httpd, conf, **kw):
    rc, out = httpd.config_test(conf, **kw)
    assert rc == 0, out
    assert "Syntax OK" in out
    return out


def fails(httpd, conf, *texts, **kw):
    rc, out = httpd.config_test(conf, **kw)
    assert rc != 0, out
    for t in texts:
        assert t in out, out
    return out


# --- accepted forms -----------------------------------------------------------------------

def test_all_directives_accepted(httpd, logs):
    tok = os.path.join(logs, "tok")
    with open(tok, "w") as f:
        f.write("t0ken\n")
    ok(httpd, """
HealthReadyPath /lb/ready
HealthLivePath /lb/live
HealthDrainPath /lb/drain
HealthCheck a tcp 127.0.0.1:3306
HealthCheck b http http://127.0.0.1:8080/status interval=10s timeout=3s rise=1 fall=5 expect=204
HealthCheck c http https://127.0.0.1:8443/ severity=degraded
HealthCheck c2 http https://127.0.0.1:8443/ cafile=/etc/ssl/certs/ca-certificates.crt
HealthCheck d mysql 127.0.0.1:3306 interval=250ms timeout=250ms
HealthCheck e file %(logs)s/flag want=absent interval=1h timeout=2m
HealthCheck f file %(logs)s/other want=present severity=critical interval=7 timeout=7
HealthDetailsAllow 127.0.0.1 ::1 10.0.0.0/8 fd00::/8
HealthDrainFile %(logs)s/drain
HealthDrainToken file:%(tok)s
HealthEnv lb-probe
HealthStallTimeout 45s
""" % {"logs": logs, "tok": tok})


def test_path_directives_none(httpd):
    ok(httpd, "HealthReadyPath none\nHealthLivePath none\nHealthDrainPath none")


def test_server_config_directives_in_vhost(httpd):
    ok(httpd, """
<VirtualHost 127.0.0.1:@PORT@>
    HealthReadyPath /v/ready
    HealthLivePath none
    HealthDrainPath /v/drain
    HealthDetailsAllow none
    HealthEnv v-probe
</VirtualHost>
""")


def test_drain_token_env_accepted(httpd):
    ok(httpd, "HealthDrainToken env:LF_CONF_TOKEN", env={"LF_CONF_TOKEN": "abc"})


# --- errors -----------------------------------------------------------------------------------

def test_cafile_missing(httpd):
    fails(httpd, "HealthCheck x http https://127.0.0.1:1/ cafile=/nonexistent/ca.pem",
          "HealthCheck: bad cafile '/nonexistent/ca.pem': cannot read it")


def test_cafile_not_pem(httpd, logs):
    junk = os.path.join(logs, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    fails(httpd, "HealthCheck x http https://127.0.0.1:1/ cafile=%s" % junk,
          "HealthCheck: bad cafile '%s': no PEM certificate in it" % junk)


def test_cafile_for_plain_http(httpd):
    fails(httpd, "HealthCheck x http http://127.0.0.1:1/ cafile=/etc/ssl/certs/ca-certificates.crt",
          "HealthCheck: cafile= is for https:// targets")


def test_unknown_check_type(httpd):
    fails(httpd, "HealthCheck x foo 127.0.0.1:1", "HealthCheck: unknown check type 'foo'")


@pytest.mark.parametrize("opt", ["interval", "timeout"])
def test_bad_duration(httpd, opt):
    fails(httpd, "HealthCheck x tcp 127.0.0.1:1 %s=xyz" % opt,
          "HealthCheck: bad duration 'xyz' for %s" % opt)


def test_timeout_exceeds_interval(httpd):
    fails(httpd, "HealthCheck x tcp 127.0.0.1:1 interval=1s timeout=2s",
          "HealthCheck: timeout must not exceed interval")
    # the default timeout (2s) against a shorter interval
    fails(httpd, "HealthCheck x tcp 127.0.0.1:1 interval=1s",
          "HealthCheck: timeout must not exceed interval")


@pytest.mark.parametrize("typ", ["tcp", "http", "mysql", "file"])
def test_missing_target(httpd, typ):
    fails(httpd, "HealthCheck x %s" % typ, "HealthCheck: missing target")
    fails(httpd, "HealthCheck x %s interval=5s" % typ, "HealthCheck: missing target")


def test_duplicate_check_name(httpd):
    fails(httpd, "HealthCheck x tcp 127.0.0.1:1\nHealthCheck x tcp 127.0.0.1:2",
          "HealthCheck: duplicate check name 'x'")


def test_file_check_directory_missing(httpd, logs):
    p = os.path.join(logs, "no-such-dir", "flag")
    fails(httpd, "HealthCheck x file %s" % p, "HealthCheck: cannot read directory of '%s'" % p)
    # the "directory" is a regular file
    notdir = os.path.join(logs, "plainfile")
    open(notdir, "w").close()
    p = os.path.join(notdir, "flag")
    fails(httpd, "HealthCheck x file %s" % p, "HealthCheck: cannot read directory of '%s'" % p)


def test_drain_file_directory_missing(httpd, logs):
    p = os.path.join(logs, "no-such-dir", "drain")
    fails(httpd, "HealthDrainFile %s" % p, "HealthDrainFile: cannot read directory of '%s'" % p)


def test_drain_token_unreadable_file(httpd, logs):
    p = os.path.join(logs, "no-such-token")
    out = fails(httpd, "HealthDrainToken file:%s" % p, "HealthDrainToken: ")
    assert p in out or "no-such-token" in out, out
    # a directory is not a readable token file either
    fails(httpd, "HealthDrainToken file:%s" % logs, "HealthDrainToken: ")


def test_drain_token_unset_env(httpd):
    env_name = "LF_SURELY_UNSET_TOKEN"
    assert env_name not in os.environ
    out = fails(httpd, "HealthDrainToken env:%s" % env_name, "HealthDrainToken: ")
    assert env_name in out, out


def test_drain_token_empty(httpd, logs):
    p = os.path.join(logs, "empty-token")
    open(p, "w").close()
    fails(httpd, "HealthDrainToken file:%s" % p, "HealthDrainToken: ")
    p2 = os.path.join(logs, "blank-token")
    with open(p2, "w") as f:
        f.write("\n")
    fails(httpd, "HealthDrainToken file:%s" % p2, "HealthDrainToken: ")
    fails(httpd, "HealthDrainToken env:LF_EMPTY_TOKEN", "HealthDrainToken: ",
          env={"LF_EMPTY_TOKEN": ""})


def test_drain_token_secret_not_in_error(httpd, logs):
    """A token that is fine but whose line is wrong never shows the secret."""
    out = fails(httpd, "HealthDrainToken env:LF_SECRET_TOKEN\n"
                       "<VirtualHost 127.0.0.1:@PORT@>\n"
                       "HealthDrainToken env:LF_SECRET_TOKEN\n"
                       "</VirtualHost>", env={"LF_SECRET_TOKEN": "very-secret-value"})
    assert "very-secret-value" not in out


@pytest.mark.parametrize("value", ["xyz", "-1s", "10q", "1s5"])
def test_stall_timeout_bad_duration(httpd, value):
    fails(httpd, 'HealthStallTimeout "%s"' % value, "HealthStallTimeout: bad duration")


@pytest.mark.parametrize("value", ["10.0.0.300", "not-an-ip", "10.0.0.0/33", "1.2.3.4/x"])
def test_details_allow_bad_address(httpd, value):
    fails(httpd, "HealthDetailsAllow 127.0.0.1 %s" % value,
          "HealthDetailsAllow: bad address '%s'" % value)


@pytest.mark.parametrize("line", [
    "HealthCheck x tcp 127.0.0.1:1",
    "HealthDrainFile /tmp/lf-drain",
    "HealthDrainToken env:HOME",
])
def test_global_only_directives_in_vhost(httpd, line):
    out = fails(httpd, "<VirtualHost 127.0.0.1:@PORT@>\n%s\n</VirtualHost>" % line)
    assert line.split()[0] in out, out


def test_start_fails_on_config_error(httpd):
    """The same error stops a real start (not only -t)."""
    srv = httpd.new("HealthCheck x foo 127.0.0.1:1")
    with pytest.raises(RuntimeError) as e:
        srv.start()
    assert "HealthCheck: unknown check type 'foo'" in str(e.value)


# --- check types resolved once every module is loaded -----------------------------------------

def test_provider_loaded_after_its_check_line(httpd):
    """The module providing a check type may be loaded after the HealthCheck line naming it.
    (httpd runs every LoadModule while it reads the files, before any other directive, so this
    held when the type was looked up in the directive too; mod_health now looks it up in
    check_config, and this keeps it so.)"""
    conf = ("HealthCheck uploads s3 lf-not-configured interval=300ms timeout=300ms "
            "severity=degraded\n"
            'LoadModule s3_module "%s"\n' % paths.module_so("s3"))
    ok(httpd, conf)
    httpd.expect_log("LF04010")
    srv = httpd.start(conf)
    # mod_s3's check ran: it knows no S3 section for the bucket
    doc = wait_check(srv, "uploads", "down")
    assert check(doc, "uploads")["type"] == "s3"
    assert "no S3 section for bucket lf-not-configured" in check(doc, "uploads")["error"]
    assert srv.get(READY).status == 200  # degraded


def test_unknown_type_stops_startup_with_its_line(httpd):
    """A type that no loaded module provides stops startup, naming the directive and its line."""
    srv = httpd.new("HealthReadyPath /lb/ready\nHealthCheck sessions session-kv")
    with pytest.raises(RuntimeError) as e:
        srv.start()
    msg = str(e.value)
    assert "HealthCheck: unknown check type 'session-kv'" in msg, msg
    assert re.search(r"\(line \d+ of %s\)" % re.escape(srv.conf_path), msg), msg
