"""SigV4 (S3 mode) against an independent signer: botocore's S3SigV4Auth, on this machine in the
interpreter that has moto/boto3, over a corpus of awkward keys and query strings (the encodings
moto's own checking gets wrong, see DESIGN.md). build/bin/lampfarm-sigv4 must produce the same
canonical request and signature for every case."""
import json
import os
import subprocess
from urllib.parse import quote

import pytest

from harness.moto import moto_python
from harness.paths import BUILD

CLI = os.path.join(BUILD, "bin", "lampfarm-sigv4")
AK, SK, TOKEN = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdz//tok+en="
HOST = "examplebucket.s3.amazonaws.com"
TIME = "20261125T101112Z"

KEYS = ["plain.txt", "a+b.txt", "x=y", "user@example.com", "it's (1).jpg", "100%.txt",
        "with space.txt", "caf\u00e9/\u6587\u4ef6.png", "dir//double", "trailing/", "!$&*,;:",
        "tilde~dash-under_dot.", "emoji-\U0001F600", "..", "a/./b/../c"]
# queries as they go on the wire: already encoded
QUERIES = ["", "uploads=", "partNumber=1&uploadId=x%2By%3D", "prefix=a%20b&delimiter=%2F",
           "list-type=2&continuation-token=a%2Bb%3D&max-keys=10", "versionId=", "acl="]

BOTOCORE = r'''
import json, sys
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
out = []
for c in json.load(sys.stdin):
    creds = Credentials(c["ak"], c["sk"], c["token"])
    req = AWSRequest(method=c["method"], url=c["url"], data=c["body"].encode(),
                     headers={"Content-Type": "application/octet-stream"})
    auth = S3SigV4Auth(creds, "s3", "us-east-1")
    req.context["timestamp"] = c["time"]
    auth._modify_request_before_signing(req)
    creq = auth.canonical_request(req)
    sts = auth.string_to_sign(req, creq)
    out.append({"creq": creq, "signature": auth.signature(sts, req)})
json.dump(out, sys.stdout)
'''


def cases():
    for i, key in enumerate(KEYS):
        for j, query in enumerate(QUERIES if i < 3 else QUERIES[:2]):
            path = "/" + quote(key, safe="/~")
            yield {"method": "PUT" if j % 2 else "GET",
                   "url": "http://%s%s%s" % (HOST, path, "?" + query if query else ""),
                   "path": path, "query": query, "body": "x" * (i + j),
                   "token": TOKEN if (i + j) % 3 == 0 else None,
                   "ak": AK, "sk": SK, "time": TIME}


def botocore_results(corpus):
    r = subprocess.run([moto_python(), "-c", BOTOCORE], input=json.dumps(corpus).encode(),
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def ours(c):
    target = c["path"] + ("?" + c["query"] if c["query"] else "")
    request = ("%s %s HTTP/1.1\nHost:%s\nContent-Type:application/octet-stream\n\n%s"
               % (c["method"], target, HOST, c["body"])).encode()
    args = [CLI, "--access-key", AK, "--secret-key", SK, "--region", "us-east-1",
            "--service", "s3", "--time", TIME, "--no-normalize-path", "--no-double-encode",
            "--content-sha256"]
    if c["token"]:
        args += ["--session-token", c["token"]]
    r = subprocess.run(args, input=request, capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr.decode()
    text = r.stdout.decode()
    creq = text.split("--- canonical-request ---\n", 1)[1].split("\n--- string-to-sign ---", 1)[0]
    sig = text.split("Signature=", 1)[1].split()[0]
    return creq, sig


def test_cli_matches_botocore_s3_signer():
    if not os.access(CLI, os.X_OK):
        pytest.fail("%s is missing: run make" % CLI)
    corpus = list(cases())
    expected = botocore_results(corpus)
    mismatches = []
    for c, want in zip(corpus, expected):
        creq, sig = ours(c)
        if creq != want["creq"] or sig != want["signature"]:
            mismatches.append("%s %s\n--- botocore\n%s\n--- ours\n%s"
                              % (c["method"], c["url"], want["creq"], creq))
    assert not mismatches, "%d of %d differ:\n%s" % (len(mismatches), len(corpus),
                                                      "\n".join(mismatches[:3]))
    assert len(corpus) >= 40
