"""scripts/ses-relay end to end: a private Postfix instance (Debian postfix, `postfix -c DIR`)
is configured to relay through a local SMTP sink that stands in for SES (harness/smtp.py:
STARTTLS with a certificate from a test CA, then AUTH with the access key id and the derived
password). A message relayed by Postfix arrives authenticated; the derived password matches the
published values; wrong credentials, an unreachable relay, dry run and rollback.

The SMTP password vectors are the ones terraform-provider-aws tests its ses_smtp_password_v4
against (internal/service/iam/access_key_test.go): the SES documentation publishes the
algorithm and example code, not an input/output pair. An independent Python implementation of
the documented algorithm checks further keys and regions.
"""
import base64
import hashlib
import hmac
import os
import subprocess

import pytest

from harness.paths import REPO
from harness.proc import free_port
from harness.smtp import Postfix, SmtpSink
from harness.tls import make_test_ca

SCRIPT = os.path.join(REPO, "scripts", "ses-relay")

ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-1"

PUBLISHED = [
    ("eu-central-1", "some+secret+key", "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"),
    ("eu-central-1", "another+secret+key", "BBbphbrQmrKMx42d1N6+C7VINYEBGI5v9VsZeTxwskfh"),
    ("us-west-1", "some+secret+key", "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"),
    ("us-west-1", "another+secret+key", "BKVmjjMDFk/qqw8EROW99bjCS65PF8WKvK5bSr4Y6EqF"),
]


def ses_password(secret, region):
    """SES's documented version-4 SMTP password, independently in Python."""
    def sign(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    k = ("AWS4" + secret).encode()
    for m in ("11111111", region, "ses", "aws4_request", "SendRawEmail"):
        k = sign(k, m)
    return base64.b64encode(b"\x04" + k).decode()


def script(*args, env=None, state=None, timeout=180):
    e = dict(os.environ)
    e.pop("AWS_ACCESS_KEY_ID", None)
    e.pop("AWS_SECRET_ACCESS_KEY", None)
    e.update(env or {})
    argv = [SCRIPT] + list(args) + (["--state-dir", state] if state else [])
    r = subprocess.run(argv, env=e, capture_output=True, text=True, timeout=timeout)
    r.out = r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_test_ca(str(tmp_path_factory.mktemp("ca")))


@pytest.fixture
def sink(ca):
    s = SmtpSink(ca[1], ca[2], ACCESS_KEY_ID, ses_password(SECRET, REGION)).start()
    yield s
    s.stop()


@pytest.fixture
def postfix(logs):
    p = Postfix(logs).setup().start()
    yield p
    p.stop()


@pytest.fixture
def secret_file(tmp_path):
    f = tmp_path / "secret"
    f.write_text(SECRET + "\n")
    f.chmod(0o600)
    return str(f)


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / "state")


def configure_args(postfix, sink, ca, secret_file, *extra):
    return ("configure", "--region", REGION, "--access-key-id", ACCESS_KEY_ID,
            "--secret-key-file", secret_file, "--smtp-host", "localhost",
            "--smtp-port", str(sink.port), "--ca-file", ca[0],
            "--postfix-config-dir", postfix.config_dir) + extra


def test_help():
    r = script("--help")
    assert r.returncode == 0
    pos = [r.stdout.index("\n  %s " % s) for s in ("password", "configure", "test", "rollback")]
    assert pos == sorted(pos)
    for opt in ("--dry-run", "--yes", "--smtp-host", "--ca-file", "--postfix-config-dir",
                "ses:SendRawEmail", "0x04"):
        assert opt in r.stdout
    assert script().returncode == 2
    assert script("configure", "--bogus").returncode == 2


@pytest.mark.parametrize("region,secret,expected", PUBLISHED)
def test_password_matches_the_published_values(region, secret, expected, state):
    r = script("password", "--region", region, env={"AWS_SECRET_ACCESS_KEY": secret},
               state=state)
    assert r.returncode == 0, r.out
    assert r.stdout.strip() == expected
    assert ses_password(secret, region) == expected


def test_password_matches_an_independent_implementation(tmp_path, state):
    f = tmp_path / "s"
    for secret, region in ((SECRET, "us-east-1"), ("a" * 40, "ap-southeast-2"),
                           ("x/+=" * 10, "eu-west-1")):
        f.write_text(secret + "\n")
        r = script("password", "--region", region, "--secret-key-file", str(f), state=state)
        assert r.returncode == 0, r.out
        assert r.stdout.strip() == ses_password(secret, region)
        log = open(os.path.join(state, "ses-relay.log")).read()
        assert secret not in log and ses_password(secret, region) not in log


@pytest.mark.timeout(180)
def test_configure_relay_and_rollback(postfix, sink, ca, secret_file, state):
    main_before = open(os.path.join(postfix.config_dir, "main.cf")).read()
    r = script(*configure_args(postfix, sink, ca, secret_file), state=state)
    assert r.returncode == 0, r.out
    pc = postfix.postconf("-h", "relayhost", "smtp_sasl_auth_enable", "smtp_tls_security_level",
                          "smtp_sasl_security_options", "smtp_tls_CAfile").split("\n")
    assert pc[:5] == ["[localhost]:%d" % sink.port, "yes", "secure", "noanonymous", ca[0]]
    sp = os.path.join(postfix.config_dir, "sasl_passwd")
    assert oct(os.stat(sp).st_mode & 0o777) == "0o600"
    assert oct(os.stat(sp + ".db").st_mode & 0o777) == "0o600"
    # the secret and the password never in the log or on the output
    log = open(os.path.join(state, "ses-relay.log")).read()
    password = ses_password(SECRET, REGION)
    for s in (SECRET, password):
        assert s not in log and s not in r.out

    # a message through Postfix arrives at the stand-in, over TLS, authenticated as the key id
    r = script("test", "--from", "app@example.test", "--to", "someone@example.test",
               "--postfix-config-dir", postfix.config_dir, "--timeout", "60", state=state)
    assert r.returncode == 0, r.out + postfix.log_text()[-3000:]
    assert "sent:" in r.out
    assert len(sink.messages) == 1
    m = sink.messages[0]
    assert m["tls"] and m["user"] == ACCESS_KEY_ID
    assert m["mail_from"] == "app@example.test" and m["rcpt_to"] == ["someone@example.test"]
    assert "Subject: lampfarm ses-relay test" in m["data"]
    assert "Verified TLS connection established to localhost" in postfix.log_text() or \
        "Trusted TLS connection" in postfix.log_text()

    # re-run: the backup of the first run is kept
    r = script(*configure_args(postfix, sink, ca, secret_file), state=state)
    assert r.returncode == 0 and "backup from an earlier run kept" in r.out

    # rollback: main.cf as before, no sasl_passwd
    assert script("rollback", "--postfix-config-dir", postfix.config_dir,
                  state=state).returncode == 1          # no --yes, no tty
    r = script("rollback", "--postfix-config-dir", postfix.config_dir, "--yes", state=state)
    assert r.returncode == 0, r.out
    assert open(os.path.join(postfix.config_dir, "main.cf")).read() == main_before
    assert not os.path.exists(sp) and not os.path.exists(sp + ".db")
    assert postfix.postconf("-h", "relayhost").strip() == ""


@pytest.mark.timeout(180)
def test_wrong_credentials_are_a_clear_error(postfix, sink, ca, tmp_path, state):
    bad = tmp_path / "bad"
    bad.write_text("not-the-secret\n")
    r = script(*configure_args(postfix, sink, ca, str(bad)), state=state)
    assert r.returncode == 0, r.out
    r = script("test", "--from", "app@example.test", "--to", "someone@example.test",
               "--postfix-config-dir", postfix.config_dir, "--timeout", "60", state=state)
    assert r.returncode == 1
    assert "refused the credentials" in r.stderr and "--region" in r.stderr
    assert sink.messages == []
    assert sink.auths and not sink.auths[-1]["ok"]
    assert sink.auths[-1]["user"] == ACCESS_KEY_ID
    assert "Mail queue is empty" in postfix.queue()


@pytest.mark.timeout(180)
def test_unreachable_relay(postfix, ca, secret_file, state):
    class Nowhere:
        port = free_port()
    r = script(*configure_args(postfix, Nowhere, ca, secret_file), state=state)
    assert r.returncode == 0, r.out
    r = script("test", "--from", "app@example.test", "--to", "someone@example.test",
               "--postfix-config-dir", postfix.config_dir, "--timeout", "60", state=state)
    assert r.returncode == 1
    assert "cannot reach the relay [localhost]:%d" % Nowhere.port in r.stderr


def test_dry_run_changes_nothing(postfix, sink, ca, secret_file, state):
    files = {n: open(os.path.join(postfix.config_dir, n)).read() for n in ("main.cf",
                                                                          "master.cf")}
    r = script(*configure_args(postfix, sink, ca, secret_file, "--dry-run"), state=state)
    assert r.returncode == 0, r.out
    assert "DRY-RUN: postconf -c" in r.stdout and "relayhost=" in r.stdout, r.stdout
    assert "DRY-RUN: write %s/sasl_passwd" % postfix.config_dir in r.stdout
    assert SECRET not in r.out and ses_password(SECRET, REGION) not in r.out
    for n, text in files.items():
        assert open(os.path.join(postfix.config_dir, n)).read() == text
    assert not os.path.exists(os.path.join(postfix.config_dir, "sasl_passwd"))
    assert not [d for d in os.listdir(state) if d.startswith("ses-relay.backup")]


def test_bad_input(postfix, tmp_path, state, secret_file):
    # no secret at all
    r = script("password", state=state)
    assert r.returncode == 1 and "no secret access key" in r.stderr
    # an unreadable CA file: nothing changed
    before = open(os.path.join(postfix.config_dir, "main.cf")).read()
    r = script("configure", "--access-key-id", ACCESS_KEY_ID, "--secret-key-file", secret_file,
               "--ca-file", str(tmp_path / "nope.pem"), "--postfix-config-dir",
               postfix.config_dir, state=state)
    assert r.returncode == 1 and "cannot read the CA file" in r.stderr
    assert open(os.path.join(postfix.config_dir, "main.cf")).read() == before
    # no postfix configuration there
    r = script("configure", "--access-key-id", ACCESS_KEY_ID, "--secret-key-file", secret_file,
               "--postfix-config-dir", str(tmp_path), state=state)
    assert r.returncode == 1 and "no %s/main.cf" % tmp_path in r.stderr
    # a bad region
    r = script("password", "--region", "nowhere", state=state)
    assert r.returncode == 2
    # postfix missing from PATH
    d = tmp_path / "bin"
    d.mkdir()
    for t in ("bash", "openssl", "od", "tr", "date", "mkdir", "chmod", "readlink", "dirname",
              "flock", "cat", "mktemp", "rm"):
        p = __import__("shutil").which(t)
        if p:
            os.symlink(p, d / t)
    r = script(*("configure", "--access-key-id", ACCESS_KEY_ID, "--secret-key-file",
                 secret_file, "--postfix-config-dir", postfix.config_dir),
               env={"PATH": str(d)}, state=state)
    assert r.returncode == 1 and "postconf not found on PATH: install postfix" in r.stderr
