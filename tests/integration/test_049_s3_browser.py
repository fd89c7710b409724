"""A browser form upload from headless Chromium through the demo page of the dev farm.

The page (scripts/farm/htdocs/index.php, through a real php-fpm) mints an upload token with the
secret it shares with mod_s3 and renders a multipart/form-data form that posts straight to
/files/; mod_s3 streams the file into moto and answers with a 303 back to the page, which
remembers the key in a cookie and links the file, served by mod_s3. The /files location is the
farm's own, taken from scripts/farm/node.conf.tmpl, so this also checks the farm's configuration.
"""
import grp
import os
import re
import urllib.parse

from harness import paths, s3
from harness.httpd import DEFAULT_APACHE_MODULES

HTDOCS = os.path.join(paths.REPO, "scripts", "farm", "htdocs")
NODE_TEMPLATE = os.path.join(paths.REPO, "scripts", "farm", "node.conf.tmpl")
KEY = re.compile(r"uploads/[0-9a-f]{32}\.jpg")


def farm_location(values):
    """The <Location /files> section of the farm's node template, its @NAME@ filled in."""
    with open(NODE_TEMPLATE) as f:
        m = re.search(r"^<Location /files>$.*?^</Location>$", f.read(), re.S | re.M)
    assert m, "no <Location /files> section in %s" % NODE_TEMPLATE
    text = m.group(0)
    for name, value in values.items():
        text = text.replace("@%s@" % name, value)
    left = re.findall(r"@[A-Z_]+@", text)
    assert not left, "placeholders of the farm template the test does not fill: %s" % left
    return text + "\n"


def secret_file(logs):
    """The upload token secret as the farm keeps it: root:nogroup 0640, so that httpd (root,
    at startup) and PHP (php-fpm workers, nobody/nogroup) both read it."""
    path = os.path.join(logs, "upload-token.secret")
    with open(path, "w") as f:
        f.write(s3.TOKEN_SECRET + "\n")
    os.chown(path, 0, grp.getgrnam("nogroup").gr_gid)
    os.chmod(path, 0o640)
    return path


def start(httpd, php_fpm, moto, logs, bucket):
    secret = secret_file(logs)
    conf = farm_location({
        "S3_BUCKET": bucket,
        "MOTO_PORT": str(moto.port),
        "S3_KEYS": s3.keyfile(logs, moto),
        "UPLOAD_SECRET": secret,
    })
    conf += """
DocumentRoot "%(htdocs)s"
<Directory "%(htdocs)s">
    Require all granted
    DirectoryIndex index.php
</Directory>
<FilesMatch "\\.php$">
    SetHandler "%(handler)s"
</FilesMatch>
SetEnv LAMPFARM_UPLOAD_SECRET_FILE "%(secret)s"
""" % {"htdocs": HTDOCS, "handler": php_fpm.handler, "secret": secret}
    return httpd.start(conf, modules=("s3",),
                       apache_modules=DEFAULT_APACHE_MODULES + ("proxy", "proxy_fcgi"))


def test_browser_uploads_through_the_demo_page(httpd, php_fpm, browser, moto, logs, bucket):
    srv = start(httpd, php_fpm, moto, logs, bucket)
    base = "http://127.0.0.1:%d" % srv.port
    data = os.urandom(300 * 1024)
    photo = os.path.join(logs, "holiday photo.jpg")
    with open(photo, "wb") as f:
        f.write(data)

    # the page renders outside the farm: the upload part only, nothing uploaded yet
    browser.get(base + "/")
    browser.find("#not-farm")
    browser.find("#no-uploads")
    action = browser.find("form#upload").attribute("action")
    assert action.startswith("/files/?upload_token=")

    browser.find("#upload-file").send_keys(photo)
    browser.find("#upload-submit").click()
    result = browser.wait_for("#upload-result")
    assert result.text == "Stored 1 file in S3."

    # the page after mod_s3's 303 carries the key, and lists the file under its own name
    url = urllib.parse.urlsplit(browser.url)
    assert url.path == "/"
    query = urllib.parse.parse_qs(url.query)
    assert query["uploaded"] == ["1"]
    (key,) = query["key"]
    assert KEY.fullmatch(key), key
    links = browser.find_all("#uploads a")
    assert [a.text for a in links] == ["holiday photo.jpg"]
    href = links[0].attribute("href")
    assert href == "/files/" + key[len("uploads/"):]

    # what moto stored
    assert moto.s3.list_keys(bucket, "uploads/") == [key]
    obj = moto.s3.get_object(bucket, key)
    assert obj.body == data
    assert obj.content_type == "image/jpeg"
    assert obj.content_disposition == 'attachment; filename="holiday photo.jpg"'

    # the link, through httpd
    r = srv.get(href)
    assert r.status == 200, r
    assert r.body == data
    assert r.header("Content-Type") == "image/jpeg"

    # the list lives in the browser's cookie: a fresh visit still shows it
    browser.get(base + "/")
    assert [a.text for a in browser.find_all("#uploads a")] == ["holiday photo.jpg"]
    assert php_fpm.php_errors() == ""
