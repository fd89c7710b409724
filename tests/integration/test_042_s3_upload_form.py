"""mod_s3 uploads by browser form (multipart/form-data POST): each file is streamed to S3 under a
server-generated key, its original name kept only in Content-Disposition; 201 with JSON or a
303 for classic forms; malformed bodies are refused and nothing is stored."""
import os
import re

import pytest

from harness import s3
from harness.http import request



def post(srv, body, ctype, token=None, path="/files/", headers=None):
    hdrs = {"Content-Type": ctype}
    if token:
        hdrs["X-Upload-Token"] = token
    hdrs.update(headers or {})
    return request(srv.port, "POST", path, headers=hdrs, body=body, timeout=60)


def test_form_upload_stores_each_file_under_a_generated_key(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket, extra="S3KeyPrefix uploads/")
    photo = os.urandom(s3.PART + 4321)  # over one part: a multipart upload inside a form
    notes = b"line 1\r\n--not a boundary\r\nline 3"
    ctype, body = s3.form_body(
        [("photo", "Holiday Photo.JPG", "image/jpeg", photo),
         ("notes", "C:\\Users\\me\\notes.txt", "text/plain", notes)],
        fields={"title": "my files"})
    r = post(srv, body, ctype, s3.mint(prefix="uploads/u42/"))
    assert r.status == 201, r
    files = r.json()["files"]
    assert [f["size"] for f in files] == [len(photo), len(notes)]
    assert re.fullmatch(r"uploads/u42/[0-9a-f]{32}\.jpg", files[0]["key"])
    assert re.fullmatch(r"uploads/u42/[0-9a-f]{32}\.txt", files[1]["key"])
    assert files[0]["url"] == "/files/" + files[0]["key"][len("uploads/"):]
    for f, data, ctype in ((files[0], photo, "image/jpeg"), (files[1], notes, "text/plain")):
        obj = moto.s3.get_object(bucket, f["key"])
        assert obj.body == data
        assert obj.content_type == ctype == f["content_type"]
        assert obj.etag == f["etag"]
    # the original name lives in the disposition only, without its Windows path
    assert moto.s3.head_object(bucket, files[0]["key"]).content_disposition == \
        'attachment; filename="Holiday Photo.JPG"'
    assert moto.s3.head_object(bucket, files[1]["key"]).content_disposition == \
        'attachment; filename="notes.txt"'
    # and the upload is served back through the location
    assert srv.get(files[1]["url"]).body == notes


def test_classic_form_gets_a_303(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket, extra="S3FormRedirect /done?from=form")
    ctype, body = s3.form_body([("f", "a.png", "image/png", b"\x89PNG....")])
    r = post(srv, body, ctype, s3.mint(prefix=""))
    assert r.status == 303
    loc = r.header("Location")
    m = re.fullmatch(r"/done\?from=form&key=([0-9a-f]{32})\.png", loc)
    assert m, loc
    assert moto.s3.get_bytes(bucket, m.group(1) + ".png") == b"\x89PNG...."


def test_token_for_one_key(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket)
    ctype, body = s3.form_body([("f", "avatar.png", "image/png", b"img")])
    r = post(srv, body, ctype, s3.mint(key="avatars/u7.png"))
    assert r.status == 201
    assert r.json()["files"][0]["key"] == "avatars/u7.png"
    assert moto.s3.get_bytes(bucket, "avatars/u7.png") == b"img"


@pytest.mark.parametrize("ctype,body,why", [
    ("multipart/form-data", b"--x\r\n\r\n--x--\r\n", "without a boundary"),
    ("multipart/form-data; boundary=XyZ",
     b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n"
     b"Content-Type: application/octet-stream\r\n\r\nhalf a file", "truncated"),
    ("multipart/form-data; boundary=XyZ",
     b"--XyZ\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n--XyZ--\r\n", "Disposition"),
    ("multipart/form-data; boundary=XyZ",
     b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\nX-Long: "
     + b"h" * 9000 + b"\r\n\r\nx\r\n--XyZ--\r\n", "too long"),
    ("multipart/form-data; boundary=XyZ",
     b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nno file\r\n--XyZ--\r\n",
     "without a file"),
])
def test_malformed_forms_are_400_and_nothing_is_stored(httpd, moto, logs, bucket, ctype, body,
                                                       why):
    srv = s3.start(httpd, moto, logs, bucket)
    r = post(srv, body, ctype, s3.mint(prefix=""))
    assert r.status == 400, r
    assert why in srv.error_log.read()
    assert moto.s3.list_keys(bucket) == []
    assert moto.s3.list_multipart_uploads(bucket) == []


def test_a_failing_file_undoes_the_whole_form(httpd, moto, logs, bucket):
    """The second file is over the token's max: 413, and the first, already stored, is removed."""
    srv = s3.start(httpd, moto, logs, bucket)
    ctype, body = s3.form_body([("a", "small.txt", "text/plain", b"small"),
                                ("b", "big.bin", "application/octet-stream", b"B" * 5000)])
    r = post(srv, body, ctype, s3.mint(prefix="", max=4000))
    assert r.status == 413
    assert moto.s3.list_keys(bucket) == []


def test_form_type_not_allowed_is_415(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket, extra="S3AllowedTypes image/*")
    ctype, body = s3.form_body([("a", "x.html", "text/html", b"<script>")])
    r = post(srv, body, ctype, s3.mint(prefix=""))
    assert r.status == 415
    assert moto.s3.list_keys(bucket) == []


def test_post_that_is_not_a_form_is_415(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket)
    r = post(srv, b"{}", "application/json", s3.mint(prefix=""))
    assert r.status == 415


def test_oversize_request_headers_are_refused_by_httpd(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket)
    ctype, body = s3.form_body([("a", "x.txt", "text/plain", b"x")])
    r = post(srv, body, ctype, s3.mint(prefix=""), headers={"X-Big": "v" * 10000})
    assert r.status == 400
    assert moto.s3.list_keys(bucket) == []


def test_token_outside_the_location_prefix_is_refused(httpd, moto, logs, bucket):
    srv = s3.start(httpd, moto, logs, bucket, extra="S3KeyPrefix public/")
    ctype, body = s3.form_body([("f", "a.png", "image/png", b"img")])
    r = post(srv, body, ctype, s3.mint(prefix="private/"))
    assert r.status == 403
    r = post(srv, body, ctype, s3.mint(key="private/x.png"))
    assert r.status == 403
    assert moto.s3.list_keys(bucket) == []
    r = post(srv, body, ctype, s3.mint(prefix="public/u1/"))
    assert r.status == 201
