"""The ElastiCache IAM stand-in itself (harness/iamfront.py), proven against a real redis-server
with tokens made by botocore before any module relies on it: it accepts a good token and passes
the connection on to redis, refuses bad ones as ElastiCache does (-WRONGPASS; -NOAUTH before
authentication), keeps pipelined replies in order, records every AUTH, and drops a connection
whose last AUTH is older than its limit unless it re-authenticated. It also accepts the tokens
lampfarm makes (build/bin/lampfarm-sigv4 --elasticache-*)."""
import os
import socket
import subprocess
import time

import pytest

from harness.iamfront import EXPIRES, ManualClock, amz_date, encode_command, read_reply
from harness.paths import BUILD
from harness.proc import wait_until

AK, SK = "AKIDIAMFRONT", "iamfront/SeCrEt/key+="
TMP_AK, TMP_SK, TMP_TOKEN = "ASIATEMPORARY", "temp/SeCrEt", "IQoJb3JpZ2lu//session+token="
CREDS = [{"access_key": AK, "secret_key": SK},
         {"access_key": TMP_AK, "secret_key": TMP_SK, "session_token": TMP_TOKEN}]
USER, CACHE, REGION = "iam-user-01", "Replication-Group-01", "eu-west-1"
T0 = 1767225600  # 2026-01-01T00:00:00Z
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
NOAUTH = b"-NOAUTH Authentication required.\r\n"
CLI = os.path.join(BUILD, "bin", "lampfarm-sigv4")


class Client:
    """A raw RESP client: send commands, read whole replies."""

    def __init__(self, target):
        host, port = target.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.f = self.sock.makefile("rb")

    def send(self, *commands):
        self.sock.sendall(b"".join(encode_command(c) for c in commands))

    def reply(self):
        return read_reply(self.f)

    def call(self, *args):
        self.send(args)
        return self.reply()

    def closed(self, timeout=2.0):
        """True when the server closed the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def sign(signer, t, user=USER, cache=CACHE, region=REGION, ak=AK, sk=SK, session_token=None,
         serverless=False):
    return signer.token(user, cache, region, amz_date(t), ak, sk, session_token, serverless)


def test_good_token_passes_the_connection_to_redis(iamfront, redis, botocore_signer):
    clock = ManualClock(T0)
    front = iamfront(cache=CACHE, region=REGION, credentials=CREDS, clock=clock)
    c = Client(front.target)
    assert c.call("GET", "k") == NOAUTH                      # not authenticated yet
    assert c.call("AUTH", USER, sign(botocore_signer, T0)) == b"+OK\r\n"
    assert c.call("SET", "k", "through the front") == b"+OK\r\n"
    assert c.call("GET", "k") == b"$17\r\nthrough the front\r\n"
    assert redis.command("GET", "k") == b"$17\r\nthrough the front\r\n"   # in the real redis
    # temporary credentials: the session token is part of what is signed
    assert c.call("AUTH", USER, sign(botocore_signer, T0, ak=TMP_AK, sk=TMP_SK,
                                     session_token=TMP_TOKEN)) == b"+OK\r\n"
    c.close()
    assert [(a.conn, a.user, a.ok) for a in front.auths] == [(1, USER, True), (1, USER, True)]
    assert front.auths[0].signed_at == T0
    assert front.connections[0].last_auth == T0


def test_bad_tokens_are_refused(iamfront, botocore_signer):
    clock = ManualClock(T0)
    front = iamfront(cache=CACHE, region=REGION, credentials=CREDS, clock=clock)
    s = botocore_signer
    cases = [
        ("wrong signature", USER, sign(s, T0, sk="not/the/key")),
        ("expired", USER, sign(s, T0 - EXPIRES - 1)),
        ("not yet valid", USER, sign(s, T0 + 301)),
        ("wrong user", "other-user", sign(s, T0)),
        ("wrong cache", USER, sign(s, T0, cache="another-group")),
        ("wrong region", USER, sign(s, T0, region="us-east-1")),
        ("serverless token, replication group", USER, sign(s, T0, serverless=True)),
        ("unknown key", USER, sign(s, T0, ak="AKIDUNKNOWN")),
        ("no session token", USER, sign(s, T0, ak=TMP_AK, sk=TMP_SK)),
        ("not a token", USER, "hunter2"),
    ]
    c = Client(front.target)
    for what, user, token in cases:
        assert c.call("AUTH", user, token) == WRONGPASS, what
    assert c.call("PING") == NOAUTH                           # still not authenticated
    reasons = [a.reason for a in front.auths]
    assert not any(a.ok for a in front.auths)
    for want, got in zip(["signature does not match", "expired", "not yet valid",
                          "signed for user 'iam-user-01', AUTH is for 'other-user'",
                          "signed for cache 'another-group'", "region 'us-east-1'",
                          "ResourceType=ServerlessCache for a replication group",
                          "unknown access key", "signature does not match",
                          "not a presigned URL"], reasons):
        assert want in got, (want, got)
    # the edges of the 15 minutes
    assert c.call("AUTH", USER, sign(s, T0 - EXPIRES)) == b"+OK\r\n"
    assert c.call("AUTH", USER, sign(s, T0 + 300)) == b"+OK\r\n"
    c.close()


def test_serverless_cache(iamfront, botocore_signer):
    front = iamfront(cache="my-serverless", region=REGION, serverless=True, credentials=CREDS,
                     clock=ManualClock(T0))
    c = Client(front.target)
    assert c.call("AUTH", USER, sign(botocore_signer, T0, cache="My-Serverless")) == WRONGPASS
    assert c.call("AUTH", USER, sign(botocore_signer, T0, cache="My-Serverless",
                                     serverless=True)) == b"+OK\r\n"
    c.close()
    assert "no ResourceType=ServerlessCache" in front.auths[0].reason


def test_pipelining_and_hello(iamfront, botocore_signer):
    front = iamfront(cache=CACHE, region=REGION, credentials=CREDS, clock=ManualClock(T0))
    token = sign(botocore_signer, T0)
    c = Client(front.target)
    c.send(("AUTH", USER, token), ("SET", "p", "1"), ("INCR", "p"), ("AUTH", USER, "bad"),
           ("GET", "p"))
    assert [c.reply() for _ in range(5)] == [b"+OK\r\n", b"+OK\r\n", b":2\r\n", WRONGPASS,
                                             b"$1\r\n2\r\n"]
    c.close()
    c = Client(front.target)
    assert c.call("HELLO", "3") == NOAUTH
    assert c.call("HELLO", "3", "AUTH", USER, "bad") == WRONGPASS
    hello = c.call("HELLO", "3", "AUTH", USER, token, "SETNAME", "lf")
    assert hello.startswith(b"%") and b"redis" in hello      # redis' own RESP3 answer
    assert c.call("CLIENT", "GETNAME") == b"$2\r\nlf\r\n"
    c.close()
    assert [a.command for a in front.auths] == ["AUTH", "AUTH", "HELLO", "HELLO"]


def test_connections_dropped_after_max_auth_age(iamfront, botocore_signer):
    clock = ManualClock(T0)
    front = iamfront(cache=CACHE, region=REGION, credentials=CREDS, clock=clock,
                     max_auth_age=60)
    s = botocore_signer
    a, b, idle = Client(front.target), Client(front.target), Client(front.target)
    assert a.call("AUTH", USER, sign(s, T0)) == b"+OK\r\n"
    assert b.call("AUTH", USER, sign(s, T0)) == b"+OK\r\n"
    clock.advance(59)
    assert a.call("PING") == b"+PONG\r\n"
    assert b.call("AUTH", USER, sign(s, T0 + 59)) == b"+OK\r\n"     # b re-authenticates
    clock.advance(1)                                                 # a: 60 s since its AUTH
    assert a.closed()                                                # the sweep dropped it
    assert b.call("PING") == b"+PONG\r\n"
    clock.advance(58)                                                # b: 59 s since its last
    assert b.call("PING") == b"+PONG\r\n"
    clock.advance(1)
    b.send(("PING",))                                                # at its next command
    assert b.closed()
    assert not idle.closed(timeout=0.2)                              # never authenticated
    idle.close()
    assert sorted(c.id for c in front.dropped()) == [1, 2]
    assert [a.at - T0 for a in front.ok_auths(conn=2)] == [0, 59]


def test_lampfarm_tokens_are_accepted(iamfront):
    if not os.access(CLI, os.X_OK):
        pytest.fail("%s is missing: run make" % CLI)
    front = iamfront(cache=CACHE, region=REGION, credentials=CREDS)   # the real clock
    c = Client(front.target)
    for ak, sk, tok in [(AK, SK, None), (TMP_AK, TMP_SK, TMP_TOKEN)]:
        args = [CLI, "--access-key", ak, "--secret-key", sk, "--region", REGION,
                "--time", amz_date(time.time()), "--elasticache-user", USER,
                "--elasticache-cache", CACHE] + (["--session-token", tok] if tok else [])
        r = subprocess.run(args, capture_output=True, timeout=10)
        assert r.returncode == 0, r.stderr.decode()
        token = r.stdout.decode().split("--- token ---\n", 1)[1].strip()
        assert c.call("AUTH", USER, token) == b"+OK\r\n", front.auths[-1].reason
    c.close()
    wait_until(lambda: len(front.ok_auths()) == 2, 2, what="two good AUTHs")
