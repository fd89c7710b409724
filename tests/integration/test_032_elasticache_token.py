"""ElastiCache IAM tokens (modules/aws/aws_elasticache.c, through build/bin/lampfarm-sigv4
--elasticache-*) against an independent signer: botocore's SigV4QueryAuth as AWS's Developer
Toolkit for ElastiCache uses it, in the interpreter on this machine that has botocore (the
`botocore_signer` fixture). Over a corpus of users, caches, regions and credentials, with and
without a session token, serverless or not, mixed-case cache names and user ids that need
encoding, our token must be botocore's: the same host, the same operation parameters in the
same order and encoding, the same set of X-Amz-* parameters (so the same signature).

botocore writes X-Amz-Expires before X-Amz-SignedHeaders, aws_sigv4 after: the order does not
matter to ElastiCache, which checks the signature over the sorted (canonical) query; AWS's Java
sample orders them differently again. So the X-Amz-* parameters are compared as a set.

The known-good tokens of the unit test (tests/unit/test_aws_elasticache.c) were made with
botocore when they were written; they are made again here with the botocore on the machine."""
import os
import re
import subprocess

import pytest

from harness.paths import BUILD, REPO

CLI = os.path.join(BUILD, "bin", "lampfarm-sigv4")
UNIT = os.path.join(REPO, "tests", "unit", "test_aws_elasticache.c")
AK, SK = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
STS = ("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+example/token+with=padding"
       "AiB8fRgkLmNsd/f2X+xYz==")

USERS = ["iam-user-01", "App-User", "app+user@example.com", "a/b=c&d", "caf\u00e9",
         "100%", "tilde~dot.under_dash-", "x*y(z)!$'"]
CACHES = ["replication-group-01", "My-Cache", "MYCACHE2", "a", "Serverless-7"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
TOKENS = [None, "FwoGZXIvYXdz//tok+en=", STS]
TIMES = ["20240102T030405Z", "20261231T235959Z", "20250228T120000Z"]


def corpus():
    for i, user in enumerate(USERS):
        for serverless in (False, True):
            j = 2 * i + serverless
            yield {"user": user, "serverless": serverless, "cache": CACHES[j % len(CACHES)],
                   "region": REGIONS[j % len(REGIONS)], "token": TOKENS[j % len(TOKENS)],
                   "time": TIMES[j % len(TIMES)], "ak": AK, "sk": SK}


def ours(c):
    args = [CLI, "--access-key", c["ak"], "--secret-key", c["sk"], "--region", c["region"],
            "--time", c["time"], "--elasticache-user", c["user"],
            "--elasticache-cache", c["cache"]]
    if c["token"]:
        args += ["--session-token", c["token"]]
    if c["serverless"]:
        args.append("--serverless")
    r = subprocess.run(args, capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode().split("--- token ---\n", 1)[1].strip()


def botocore(signer, c):
    return signer.token(c["user"], c["cache"], c["region"], c["time"], c["ak"], c["sk"],
                        c["token"], c["serverless"])


def split(token):
    """(the part before the X-Amz-* parameters, sorted X-Amz-* parameters)."""
    head, _, amz = token.partition("&X-Amz-")
    return head, sorted(("X-Amz-" + amz).split("&"))


def need_cli():
    if not os.access(CLI, os.X_OK):
        pytest.fail("%s is missing: run make" % CLI)


def test_tokens_match_botocore(botocore_signer):
    need_cli()
    cases = list(corpus())
    mismatches = []
    for c in cases:
        got, want = ours(c), botocore(botocore_signer, c)
        if split(got) != split(want):
            mismatches.append("%r\n  botocore %s\n  ours     %s" % (c, want, got))
    assert not mismatches, "%d of %d differ:\n%s" % (len(mismatches), len(cases),
                                                      "\n".join(mismatches[:3]))
    assert len(cases) >= 16
    # the corpus covers what it claims to
    assert any(c["token"] for c in cases) and any(not c["token"] for c in cases)
    assert any(c["cache"] != c["cache"].lower() for c in cases)


def _c_strings(text, macros):
    """The values of a C initializer's fields: adjacent string literals joined, macros
    replaced, NULL as None, numbers as int."""
    fields = []
    for field in re.findall(r'((?:"(?:[^"\\]|\\.)*"\s*)+|\bNULL\b|\b\d+\b|\b[A-Z_][A-Z0-9_]*\b)',
                            text):
        if field.startswith('"'):
            fields.append("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', field)))
        elif field == "NULL":
            fields.append(None)
        elif field.isdigit():
            fields.append(int(field))
        else:
            fields.append(macros[field])
    return fields


def known_tokens():
    src = open(UNIT).read()
    macros = {}
    for name, body in re.findall(r'#define (\w+)[\s\\]+((?:"(?:[^"\\]|\\.)*"[\s\\]*)+)', src):
        macros[name] = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', body))
    table = src.split("/* known-tokens: begin */", 1)[1].split("/* known-tokens: end */", 1)[0]
    table = table.split("= {", 1)[1]
    out = []
    for entry in re.findall(r"\{(.*?)\},", table, re.S):
        region, user, cache, serverless, token, t, expected = _c_strings(entry, macros)
        out.append({"region": region, "user": user, "cache": cache, "serverless": serverless,
                    "token": token, "time": t, "expected": expected,
                    "ak": macros["DOC_AK"], "sk": macros["DOC_SK"]})
    return out


def test_unit_test_tokens_are_botocores(botocore_signer):
    need_cli()
    known = known_tokens()
    assert len(known) >= 3
    for k in known:
        assert botocore(botocore_signer, k) == k["expected"], k
        assert split(ours(k)) == split(k["expected"]), k


def test_cli_says_what_is_wrong():
    need_cli()
    base = [CLI, "--access-key", AK, "--secret-key", SK, "--region", "us-east-1",
            "--time", TIMES[0], "--session-token", "SeCrEt-token"]
    for extra, says in [
            (["--elasticache-user", "iam-user-01", "--elasticache-cache", "bad_name"],
             "cache name 'bad_name' is not valid"),
            (["--elasticache-user", "", "--elasticache-cache", "rg-1"], "user id is missing"),
            (["--elasticache-user", "iam-user-01", "--elasticache-cache",
              "rg-1.abc.cache.amazonaws.com"], "not the host name of an endpoint")]:
        r = subprocess.run(base + extra, capture_output=True, timeout=10)
        assert r.returncode == 2
        err = r.stderr.decode()
        assert says in err, err
        assert SK not in err and "SeCrEt" not in err and not r.stdout
