#!/usr/bin/python3
"""SigV4 conformance: run build/bin/lampfarm-sigv4 over the official AWS test vectors.

    make conformance VECTORS=../shared/vectors/sigv4
    /usr/bin/python3 tests/conformance/sigv4.py --cli build/bin/lampfarm-sigv4 DIR [-v]

DIR holds aws-c-auth/v4/<case>/ (header signing and presigning, context.json per case) and/or
botocore/**/<case>/<case>.{req,creq,sts,authz,sreq} (header signing, fixed parameters); the
layout is described in DIR/SOURCES.md. For every case the tool's canonical request, string to
sign and signed request must equal the expected files. Ends with the line
"N passed, M failed"; exits 1 on any failure.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

SECTIONS = ("canonical-request", "string-to-sign", "signed-request")
BOTOCORE = {"access_key": "AKIDEXAMPLE", "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "region": "us-east-1", "service": "service", "time": "20150830T123600Z"}


def run(cli, request, args):
    out = subprocess.run([cli] + args, input=request, capture_output=True, check=False)
    if out.returncode != 0:
        raise AssertionError("exit %d: %s" % (out.returncode, out.stderr.decode(errors="replace")))
    text = out.stdout.decode("utf-8", errors="surrogateescape")
    parts = re.split(r"^--- (%s) ---\n" % "|".join(SECTIONS), text, flags=re.M)
    got = dict(zip(parts[1::2], parts[2::2]))
    for name in ("canonical-request", "string-to-sign"):
        if got.get(name, "").endswith("\n"):
            got[name] = got[name][:-1]
    return got


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="surrogateescape")


def same_request(got, want, botocore=False):
    """Signed requests compare line by line; trailing blank lines do not matter.

    For botocore the Authorization line is left out: it is checked against the .authz file, and
    one upstream .sreq (get-vanilla-with-session-token) carries a stale signature that does not
    match its own .authz, .sts or SignedHeaders. botocore's own runner does not read .sreq."""
    def lines(t):
        ls = t.rstrip("\n").split("\n")
        if botocore:
            ls = [x for x in ls if not x.lower().startswith("authorization:")]
        return ls
    return lines(got) == lines(want)


def common_args(access_key, secret_key, region, service, time, token=None):
    args = ["--access-key", access_key, "--secret-key", secret_key, "--region", region,
            "--service", service, "--time", time]
    if token:
        args += ["--session-token", token]
    return args


def check(results, name, got, want, label, botocore=False):
    ok = (same_request(got, want, botocore) if label == "signed-request" else got == want)
    if not ok:
        results.append((name, "%s differs\n--- expected\n%s\n--- got\n%s" % (label, want, got)))
    return ok


def aws_c_auth_cases(root, cli, results, passed):
    for case in sorted(glob.glob(os.path.join(root, "aws-c-auth", "v4", "*", "context.json"))):
        d = os.path.dirname(case)
        name = "aws-c-auth/" + os.path.basename(d)
        ctx = json.loads(read(case))
        cred = ctx["credentials"]
        t = ctx["timestamp"].replace("-", "").replace(":", "")
        base = common_args(cred["access_key_id"], cred["secret_access_key"], ctx["region"],
                           ctx["service"], t, cred.get("token"))
        if not ctx.get("normalize", True):
            base.append("--no-normalize-path")
        if ctx.get("omit_session_token"):
            base.append("--omit-session-token")
        request = read(os.path.join(d, "request.txt")).encode("utf-8", errors="surrogateescape")
        for mode, extra in (("header", ["--content-sha256"] if ctx.get("sign_body") else []),
                            ("query", ["--presign", "--expires",
                                       str(ctx.get("expiration_in_seconds", 3600))])):
            label = "%s [%s]" % (name, mode)
            try:
                got = run(cli, request, base + extra)
            except AssertionError as e:
                results.append((label, str(e)))
                continue
            ok = all([
                check(results, label, got.get("canonical-request"),
                      read(os.path.join(d, mode + "-canonical-request.txt")), "canonical-request"),
                check(results, label, got.get("string-to-sign"),
                      read(os.path.join(d, mode + "-string-to-sign.txt")), "string-to-sign"),
                check(results, label, got.get("signed-request"),
                      read(os.path.join(d, mode + "-signed-request.txt")), "signed-request"),
            ])
            passed.append(label) if ok else None


def botocore_cases(root, cli, results, passed):
    for req in sorted(glob.glob(os.path.join(root, "botocore", "**", "*.req"), recursive=True)):
        d, base = os.path.split(req)
        case = base[:-4]
        if os.path.basename(d) != case:
            continue
        name = "botocore/" + os.path.relpath(d, os.path.join(root, "botocore"))
        creq = read(os.path.join(d, case + ".creq"))
        sreq = read(os.path.join(d, case + ".sreq"))
        token = re.search(r"^x-amz-security-token:(.*)$", creq, flags=re.M)
        args = common_args(**BOTOCORE, token=token.group(1) if token else None)
        if not token:
            # the token that is added after signing, unsigned (post-sts-header-after)
            late = re.search(r"^X-Amz-Security-Token:(.*)$", sreq, flags=re.M | re.I)
            if late:
                args += ["--session-token", late.group(1), "--omit-session-token"]
        try:
            got = run(cli, read(req).encode("utf-8", errors="surrogateescape"), args)
        except AssertionError as e:
            results.append((name, str(e)))
            continue
        authz = re.search(r"^Authorization:(.*)$", got.get("signed-request", ""), flags=re.M)
        ok = all([
            check(results, name, got.get("canonical-request"), creq, "canonical-request"),
            check(results, name, got.get("string-to-sign"),
                  read(os.path.join(d, case + ".sts")), "string-to-sign"),
            check(results, name, authz.group(1).strip() if authz else None,
                  read(os.path.join(d, case + ".authz")).strip(), "authorization"),
            check(results, name, got.get("signed-request"), sreq, "signed-request",
                  botocore=True),
        ])
        passed.append(name) if ok else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("vectors")
    a = ap.parse_args()
    if not os.path.isdir(a.vectors):
        print("conformance: no vectors at %s" % a.vectors)
        return 2
    results, passed = [], []
    aws_c_auth_cases(a.vectors, a.cli, results, passed)
    botocore_cases(a.vectors, a.cli, results, passed)
    failed = sorted({name for name, _ in results})
    for name, why in results:
        print("FAIL %s: %s" % (name, why if a.verbose else why.split("\n")[0]))
    if a.verbose:
        for name in passed:
            print("ok   %s" % name)
    print("%d passed, %d failed" % (len(passed), len(failed)))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
