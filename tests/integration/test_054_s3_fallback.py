"""mod_s3 S3FallbackDirectory (issue 19 part 1): a key S3 does not have is served from the old
upload directory the way httpd serves a file (Content-Type from its MIME configuration, ETag,
Last-Modified, 304, Range), never a file outside it, a hidden one or one through a symbolic
link; S3's own objects and uploads are untouched by it; configuration errors stop startup."""
import email.utils
from concurrent.futures import ThreadPoolExecutor
import os
import time

import pytest

from harness import paths, s3

JPEG = b"\xff\xd8\xff\xe0" + os.urandom(20000)


def old_uploads(logs):
    """The old upload directory (and a secret next to it): photos/cat.jpg, notes.txt, .htaccess,
    unreadable.txt (mode 000), a link to the secret, a linked directory, a dir with the secret."""
    base = os.path.join(logs, "app")
    up, outside = os.path.join(base, "uploads"), os.path.join(base, "private")
    os.makedirs(os.path.join(up, "photos"))
    os.makedirs(outside)
    files = {"photos/cat.jpg": JPEG, "notes.txt": b"plain notes\n", ".htaccess": b"Deny\n",
             "unreadable.txt": b"nobody may read this\n"}
    for name, data in files.items():
        with open(os.path.join(up, name), "wb") as f:
            f.write(data)
        # an hour old: httpd makes the ETag of a file changed within the second a weak one
        os.utime(os.path.join(up, name), (time.time() - 3600,) * 2)
    with open(os.path.join(outside, "secret.txt"), "wb") as f:
        f.write(b"TOP SECRET\n")
    os.chmod(os.path.join(up, "unreadable.txt"), 0)
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(up, "secret-link.txt"))
    os.symlink(outside, os.path.join(up, "linked"))
    for d in (up, os.path.join(up, "photos"), outside):
        paths.make_traversable(d)
    for name in ("photos/cat.jpg", "notes.txt", ".htaccess"):
        os.chmod(os.path.join(up, name), 0o644)
    os.chmod(os.path.join(outside, "secret.txt"), 0o644)
    return up


def start(httpd, moto, logs, bucket, extra="", **kw):
    up = old_uploads(logs)
    return s3.start(httpd, moto, logs, bucket, extra="S3FallbackDirectory %s\n%s" % (up, extra),
                    **kw), up


def test_a_key_only_on_disk_is_served_as_httpd_serves_a_file(httpd, moto, logs, bucket):
    srv, up = start(httpd, moto, logs, bucket, upload=False)
    r = srv.get("/files/photos/cat.jpg")
    assert r.status == 200 and r.body == JPEG
    assert r.header("Content-Type") == "image/jpeg"  # /etc/mime.types, through mod_mime
    assert r.header("Content-Length") == str(len(JPEG))
    assert r.header("Accept-Ranges") == "bytes"
    mtime = os.stat(os.path.join(up, "photos/cat.jpg")).st_mtime
    assert r.header("Last-Modified") == email.utils.formatdate(int(mtime), usegmt=True)
    etag = r.header("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"')
    assert srv.get("/files/notes.txt").header("Content-Type").startswith("text/plain")

    head = srv.request("HEAD", "/files/photos/cat.jpg")
    assert head.status == 200 and head.body == b""
    assert head.header("Content-Length") == str(len(JPEG)) and head.header("ETag") == etag

    r = srv.get("/files/photos/cat.jpg", headers={"If-None-Match": etag})
    assert r.status == 304 and r.body == b"" and r.header("ETag") == etag
    r = srv.get("/files/photos/cat.jpg", headers={"If-Modified-Since": r.header("Last-Modified")
                                                  or head.header("Last-Modified")})
    assert r.status == 304
    r = srv.get("/files/photos/cat.jpg", headers={"If-None-Match": '"other"'})
    assert r.status == 200 and r.body == JPEG

    r = srv.get("/files/photos/cat.jpg", headers={"Range": "bytes=100-199"})
    assert r.status == 206 and r.body == JPEG[100:200]
    assert r.header("Content-Range") == "bytes 100-199/%d" % len(JPEG)
    r = srv.get("/files/photos/cat.jpg", headers={"Range": "bytes=99999999-"})
    assert r.status == 416


def test_a_key_in_s3_still_comes_from_s3(httpd, moto, logs, bucket):
    moto.s3.put_object(bucket, "notes.txt", b"the copy in S3", content_type="text/x-s3")
    srv, _ = start(httpd, moto, logs, bucket, upload=False)
    r = srv.get("/files/notes.txt")
    assert r.status == 200 and r.body == b"the copy in S3"
    assert r.header("Content-Type") == "text/x-s3"


def test_a_key_prefix_maps_onto_the_directory(httpd, moto, logs, bucket):
    srv, _ = start(httpd, moto, logs, bucket, extra="S3KeyPrefix uploads/", upload=False)
    r = srv.get("/files/photos/cat.jpg")
    assert r.status == 200 and r.body == JPEG


@pytest.mark.parametrize("path,status", [
    ("/files/missing.jpg", 404),
    ("/files/unreadable.txt", 404),      # mode 000: httpd's children run as nobody
    ("/files/.htaccess", 404),           # hidden files never
    ("/files/photos/.hidden", 404),
    ("/files/secret-link.txt", 404),     # a link out of the directory
    ("/files/linked/secret.txt", 404),   # a linked directory on the way
    ("/files/photos", 404),              # a directory is no file
    ("/files/photos//cat.jpg", 404),     # an empty segment: another key than the file's
    # httpd resolves these to /private/secret.txt, outside the location: not S3's URL space
    ("/files/../private/secret.txt", 404),
    ("/files/photos/../../private/secret.txt", 404),
    ("/files/photos/../notes.txt", 400),       # refused by the key rules, before S3
    ("/files/%2e%2e/private/secret.txt", 404),
    ("/files/photos/%2e%2e/notes.txt", 400),
    ("/files/photos%2F..%2F..%2Fprivate%2Fsecret.txt", 400),
])
def test_what_is_not_a_file_of_the_directory_stays_404(httpd, moto, logs, bucket, path, status):
    srv, _ = start(httpd, moto, logs, bucket, upload=False,
                   conf_extra="AllowEncodedSlashes NoDecode\n")
    r = srv.get(path)
    assert r.status == status, r
    assert b"SECRET" not in r.body and b"nobody may" not in r.body and b"Deny" not in r.body


def test_uploads_during_the_move_go_to_s3(httpd, moto, logs, bucket):
    srv, up = start(httpd, moto, logs, bucket)
    r = s3.put(srv, "/files/notes.txt", b"new notes", s3.mint(prefix=""),
               headers={"Content-Type": "text/plain"})
    assert r.status in (200, 201), r
    assert moto.s3.get_bytes(bucket, "notes.txt") == b"new notes"
    assert srv.get("/files/notes.txt").body == b"new notes"
    with open(os.path.join(up, "notes.txt"), "rb") as f:
        assert f.read() == b"plain notes\n"  # the old file is left alone


@pytest.mark.one_mpm
def test_off_in_a_nested_location(httpd, moto, logs, bucket):
    srv, _ = start(httpd, moto, logs, bucket, upload=False,
                   conf_extra="<Location /files/photos>\n S3FallbackDirectory off\n</Location>\n")
    assert srv.get("/files/photos/cat.jpg").status == 404
    assert srv.get("/files/notes.txt").status == 200


def check(httpd, conf):
    return httpd.config_test(conf, modules=("s3",), env={s3.TOKEN_ENV: s3.TOKEN_SECRET})


@pytest.mark.one_mpm
def test_configuration_errors_stop_startup(httpd, logs):
    afile = os.path.join(logs, "a-file")
    open(afile, "w").close()
    for conf, text in [
        ("S3FallbackDirectory %s" % afile, "S3FallbackDirectory: %s is not a directory" % afile),
        ("S3FallbackDirectory no-such-dir", "S3FallbackDirectory: cannot use /"),
        ("S3FallbackDirectory %s\nS3Download redirect" % logs,
         "S3FallbackDirectory works with S3Download stream only"),
        ("S3FallbackCopy maybe", "S3FallbackCopy must be On or Off"),
    ]:
        rc, out = check(httpd, "<Location /f>\nS3Bucket bbb\n%s\n</Location>" % conf)
        assert rc != 0 and text in out, out
    rc, out = check(httpd, "<Location /f>\nS3Bucket bbb\nS3FallbackDirectory %s\n</Location>"
                    % logs)
    assert rc == 0, out
    assert "no-such-dir: No such file or directory" in check(
        httpd, "<Location /f>\nS3FallbackDirectory no-such-dir\n</Location>")[1]


# --- S3FallbackCopy ----------------------------------------------------------------------------

def wait_object(moto, bucket, key, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if moto.s3.exists(bucket, key):
            return moto.s3.get_object(bucket, key)
        time.sleep(0.05)
    raise AssertionError("%s never appeared in %s" % (key, bucket))


def srv_log(srv):
    with open(os.path.join(srv.log_dir, "error_log"), errors="replace") as f:
        return f.read()


def wait_log(srv, text, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in srv_log(srv):
            return
        time.sleep(0.05)
    raise AssertionError("%s never logged" % text)


def test_copy_stores_the_same_bytes_and_type(httpd, moto, logs, bucket):
    srv, _ = start(httpd, moto, logs, bucket, extra="S3KeyPrefix uploads/\nS3FallbackCopy On",
                   upload=False)
    assert srv.get("/files/photos/cat.jpg").body == JPEG
    obj = wait_object(moto, bucket, "uploads/photos/cat.jpg")
    assert obj.body == JPEG
    assert obj.content_type == "image/jpeg"
    r = srv.get("/files/photos/cat.jpg")  # now from S3
    assert r.status == 200 and r.body == JPEG and r.header("Content-Type") == "image/jpeg"
    assert srv.request("HEAD", "/files/notes.txt").status == 200
    assert not moto.s3.exists(bucket, "uploads/notes.txt")  # HEAD copies nothing


# Each process holds a key once (its queue); across processes S3's If-None-Match: * decides:
# one PUT stores the object, a second process's PUT, if any, is refused (412, LF02052).
def test_concurrent_requests_copy_once(httpd, moto, logs, bucket, faultproxy):
    srv, _ = start(httpd, moto, logs, bucket, endpoint=faultproxy.endpoint,
                   extra="S3FallbackCopy On", upload=False)
    with ThreadPoolExecutor(20) as ex:
        results = list(ex.map(lambda i: srv.get("/files/photos/cat.jpg"), range(20)))
    assert all(r.status == 200 and r.body == JPEG for r in results)
    wait_object(moto, bucket, "photos/cat.jpg")
    def lines(text):
        return [l for l in srv_log(srv).splitlines() if text in l]

    pids = {l.split("[pid ")[1].split(":")[0] for l in lines("LF02048: photos/cat.jpg: queued")}
    deadline = time.monotonic() + 30
    while len(lines("LF02051") + lines("LF02052")) < len(pids):  # each queued copy ended
        assert time.monotonic() < deadline, srv_log(srv)
        time.sleep(0.05)
    puts = [x for x in faultproxy.requests if x.method == "PUT"]
    assert len(puts) == len(pids), (puts, pids)  # one copy per process that served it
    assert [x.status for x in puts].count(200) == 1, puts  # stored once
    assert all(x.status in (200, 412) for x in puts), puts
    assert moto.s3.get_bytes(bucket, "photos/cat.jpg") == JPEG


def test_an_object_that_appeared_meanwhile_is_not_overwritten(httpd, moto, logs, bucket,
                                                              faultproxy):
    moto.s3.put_object(bucket, "notes.txt", b"uploaded meanwhile", content_type="text/x-new")
    # S3 said 404 (the proxy answers for it), then the object appeared before the copy
    faultproxy.add_rule("GET", r"/notes\.txt", status=404, count=1,
                        body=b"<Error><Code>NoSuchKey</Code></Error>")
    srv, _ = start(httpd, moto, logs, bucket, endpoint=faultproxy.endpoint,
                   extra="S3FallbackCopy On", upload=False)
    assert srv.get("/files/notes.txt").body == b"plain notes\n"
    wait_log(srv, "LF02052")
    obj = moto.s3.get_object(bucket, "notes.txt")
    assert obj.body == b"uploaded meanwhile" and obj.content_type == "text/x-new"


@pytest.mark.expect_log("LF02053")
def test_a_failed_copy_is_a_warning_and_the_file_still_served(httpd, moto, logs, bucket,
                                                             faultproxy):
    faultproxy.add_rule("PUT", status=503, code="SlowDown")
    srv, _ = start(httpd, moto, logs, bucket, endpoint=faultproxy.endpoint,
                   extra="S3FallbackCopy On\nS3Attempts 1", upload=False)
    assert srv.get("/files/notes.txt").body == b"plain notes\n"
    wait_log(srv, "LF02053")
    assert "SlowDown" in srv_log(srv)
    assert not moto.s3.exists(bucket, "notes.txt")
