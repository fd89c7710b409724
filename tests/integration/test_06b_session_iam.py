"""ElastiCache IAM authentication (SessionKVIAMAuth) through httpd: the module's AUTH carries an
IAM token for the store URL's user, made from its credentials (SessionKVCredentials keyfile),
over TLS (rediss://), and ElastiCache's rules hold as time passes: a token is made anew well
before its 15 minutes are over, and a connection is replaced before ElastiCache would drop it
12 hours after it authenticated.

Nothing off AWS validates IAM tokens, so the module talks to harness/iamfront.py (a stand-in
that checks every token with botocore, then passes the connection on to a real redis-server),
behind HAProxy terminating TLS with a certificate of the test CA. httpd's clock is moved with
libfaketime (LD_PRELOAD, an offset file the test rewrites); the front's clock is moved with it.
"""
import glob
import os
import time

import pytest

from harness import paths, session
from harness.backends import TlsFront
from harness.iamfront import ManualClock
from harness.tls import make_test_ca

AK, SK = "AKIDLAMPFARMIAM", "lampfarm/IAM/SeCrEt+key"
USER, CACHE, REGION = "app-iam", "Sessions-01", "eu-west-1"

pytestmark = pytest.mark.one_mpm  # tokens and their ages, whatever the MPM


def faketime_lib():
    libs = (glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
            + glob.glob("/usr/lib64/faketime/libfaketimeMT.so.1"))
    if not libs:
        pytest.skip("libfaketime is not installed (scripts/install-deps.sh installs faketime)")
    return libs[0]


class Farm:
    """httpd with its clock offset (self.offset seconds), the front's clock kept in step."""

    def __init__(self, httpd, logs, mpm, iamfront, max_auth_age=12 * 3600):
        self.logs = logs
        self.clock = ManualClock()
        self.offset = 0
        self.offset_file = os.path.join(logs, "faketime-offset")
        self.front = iamfront(cache=CACHE, region=REGION, users=[USER], clock=self.clock,
                              credentials=[{"access_key": AK, "secret_key": SK}],
                              max_auth_age=max_auth_age)
        ca, crt, key = make_test_ca(os.path.join(logs, "ca"))
        self.tls = TlsFront(paths.sub_dir(logs, "tls-front"), self.front.port, crt, key).start()
        keys = os.path.join(logs, "aws-keys")
        with open(keys, "w") as f:
            f.write("%s\n%s\n" % (AK, SK))
        self.move(0)
        conf = session.conf(logs, "rediss://%s@127.0.0.1:%d" % (USER, self.tls.port), srv="""
SessionKVCAFile "%s"
SessionKVIAMAuth %s %s
SessionKVCredentials keyfile "%s"
""" % (ca, CACHE, REGION, keys))
        self.srv = httpd.start(conf, modules=("session_kv",),
                               apache_modules=session.apache_modules(mpm),
                               env={"LD_PRELOAD": faketime_lib(),
                                    "FAKETIME_TIMESTAMP_FILE": self.offset_file,
                                    "FAKETIME_NO_CACHE": "1",
                                    "FAKETIME_DONT_FAKE_MONOTONIC": "1"})

    def move(self, offset):
        """Set httpd's clock to real time + offset seconds, and the front's with it."""
        self.offset = offset
        with open(self.offset_file, "w") as f:
            f.write("%+ds\n" % offset)
        self.clock.set(time.time() + offset)

    def request(self):
        """A new session (so that no expiry plays a part): AUTH happens on connect."""
        c = session.Client(self.srv)
        c.app(set="user:alice")
        assert c.app() == {"user": "alice"}

    def reconnect_all(self):
        """Cut every connection (HAProxy restarts): each child connects again."""
        self.tls.restart()


def test_iam_tokens_refreshed_and_connections_replaced(httpd, logs, mpm, iamfront):
    farm = Farm(httpd, logs, mpm, iamfront)
    front = farm.front
    farm.request()
    assert front.auths and all(a.ok and a.user == USER for a in front.auths), front.auths
    first = {a.token for a in front.auths}

    # 5 minutes later, new connections: the tokens of before, not one per connection
    farm.move(5 * 60)
    farm.reconnect_all()
    n = len(front.auths)
    for _ in range(3):
        farm.request()
    later = front.auths[n:]
    assert later and all(a.ok for a in later), later
    # (a child that had made none yet makes its own now)
    assert all(a.token in first or a.signed_at >= farm.clock() - 60 for a in later), later

    # 11 minutes after the first tokens: ElastiCache would still take them (15 minutes), but
    # the module makes a new one once its token is 10 minutes old: no AUTH carries an older one
    farm.move(11 * 60)
    farm.reconnect_all()
    n = len(front.auths)
    for _ in range(3):
        farm.request()
    fresh = front.auths[n:]
    assert fresh and all(a.ok for a in fresh), fresh
    assert all(a.signed_at > farm.clock() - 600 for a in fresh), \
        [(a.signed_at, farm.clock()) for a in fresh]
    assert not {a.token for a in fresh} & first

    # 11 hours and 12 minutes after those connections authenticated (ElastiCache, and the
    # front, would still serve them for 48 minutes): the next request on each replaces it first,
    # a new connection with a new token, the old one closed by the module
    open_before = [c for c in front.connections if c.closed is None and c.last_auth]
    assert open_before
    farm.move(11 * 3600 + 12 * 60)
    n = len(front.auths)
    for _ in range(3):
        farm.request()
    again = front.auths[n:]
    assert again and all(a.ok and a.signed_at > farm.clock() - 600 for a in again), again
    replaced = session.wait(lambda: [c for c in open_before if c.closed is not None], timeout=5)
    assert all(c.why == "client" for c in replaced), replaced
    assert front.dropped() == []
    # a day and a half on: the connections left idle past 12 hours are dropped by ElastiCache
    # (here at once: the clock jumps); the next request on each finds it closed before it sends
    # anything and connects again, without an error
    farm.move(36 * 3600)
    session.wait(lambda: front.dropped(), timeout=5)
    for _ in range(3):
        farm.request()
    assert front.refused_auths() == []
    assert not [line for line in farm.srv.error_log.lines() if "LF01001" in line]
    text = "".join(farm.srv.error_log.lines())
    assert SK not in text and "X-Amz-Signature" not in text


@pytest.mark.expect_log("LF01001")
def test_refused_token_is_a_clear_error(httpd, logs, mpm, iamfront):
    """The front knows other credentials than the module signs with: AUTH is refused, the
    request gets the failure policy, LF01001 says WRONGPASS, and the token is not in the log."""
    farm = Farm(httpd, logs, mpm, iamfront)
    farm.front.credentials = {"AKIDSOMEONEELSE": {"access_key": "AKIDSOMEONEELSE",
                                                  "secret_key": "other"}}
    c = session.Client(farm.srv)
    r = c.get("/app/app.cgi?" + session.query(set="user:alice"))
    assert r.status == 200
    line = farm.srv.error_log.wait_for("LF01001")
    assert "AUTH failed: WRONGPASS" in line, line
    assert farm.front.refused_auths()
    text = "".join(farm.srv.error_log.lines())
    assert "X-Amz-Signature" not in text and SK not in text
