"""mod_s3 hand-off behind a front controller (issue 13, finding 4).

A Symfony-style application answers every URL from one script (index.php; here a CGI shell
script, index.cgi, run by mod_cgid/mod_cgi), reached through FallbackResource, a RewriteRule
(in a <Directory>, or at server level with and without [PT]) or an Alias. `S3HandOff On` sits
in the <Location> of the route's public URL (/download), which is not the front controller's
own URL: the hand-off must follow the URL the client asked for, with the S3 settings of that
section (its S3KeyPrefix, not the server's). An X-S3-Key where hand-off is not On never reaches
the client: the response is refused with a 500 and LF02041 in the error log.

One httpd for the whole module (a virtual host per routing, each on a port of its own), under
one MPM: what is tested is request routing, which the MPM does not change.
"""
import os
import urllib.parse

import pytest

from harness import paths, s3
from harness.httpd import DEFAULT_APACHE_MODULES, Httpd, selected_mpms

REFUSED = "LF02041"

# The application's front controller: routes on the URL the client asked for (REQUEST_URI is
# the original request line's, whatever httpd did to reach the script).
FRONT_CONTROLLER = """#!/bin/sh
path=${REQUEST_URI%%%%\\?*}
key=$(echo "${path##*/}" | sed 's/%%20/ /g')
case "$path" in
  */download/*|*/stray/*|*/dl-pt/*)
    printf 'Content-Type: text/html\\r\\nX-S3-Key: %%s\\r\\nX-S3-Disposition: attachment\\r\\n\\r\\n' \\
        "$key"
    echo '<p>this page body is replaced</p>' ;;
  */status-ok/*)
    printf 'Status: 200 OK\\r\\nContent-Type: text/html\\r\\nX-S3-Key: %%s\\r\\n\\r\\n' "$key"
    echo '<p>this page body is replaced</p>' ;;
  */denied/*)
    printf 'Status: 403 Forbidden\\r\\nContent-Type: text/plain\\r\\nX-S3-Key: %%s\\r\\n\\r\\nno\\n' \\
        "$key" ;;
  *) printf 'Content-Type: text/plain\\r\\n\\r\\nhome of %%s\\n' "$path" ;;
esac
"""

# The same in mod_lua, which (like mod_php and mod_proxy_http) sets headers in headers_out; CGI
# and FastCGI answers put theirs in err_headers_out.
LUA_APP = """function handle(r)
    r.content_type = "text/html"
    r.headers_out["X-S3-Key"] = "report 7.pdf"
    r.headers_out["X-S3-Disposition"] = "attachment"
    r:puts("<p>this page body is replaced</p>\\n")
    return apache2.OK
end
"""

DATA = os.urandom(300 * 1024 + 7)
KEY = "report 7.pdf"


@pytest.fixture(scope="module")
def fc(moto):
    """httpd with one virtual host per routing; yields (server, {routing: port})."""
    logs = paths.log_dir("test_051_s3_handoff_front_controller")
    public = os.path.join(logs, "app", "public")
    os.makedirs(public)
    paths.make_traversable(public)
    with open(os.path.join(public, "index.cgi"), "w") as f:
        f.write(FRONT_CONTROLLER % ())
    os.chmod(os.path.join(public, "index.cgi"), 0o755)
    lua = os.path.join(logs, "app", "lua")
    os.makedirs(lua)
    paths.make_traversable(lua)
    for name in ("download.lua", "stray.lua"):
        with open(os.path.join(lua, name), "w") as f:
            f.write(LUA_APP)
    bucket = moto.s3.new_bucket("lf-handoff-fc")
    moto.s3.put_object(bucket, "fc/" + KEY, DATA, content_type="application/pdf")
    mpm = selected_mpms()[0]
    values = {"public": public, "lua": lua, "bucket": bucket, "endpoint": moto.endpoint,
              "keys": s3.keyfile(logs, moto)}
    # The server-wide S3 settings carry a prefix that names no object: a hand-off made with
    # the front controller's configuration instead of the /download section's finds nothing.
    s3_server = """
    S3Bucket %(bucket)s
    S3Endpoint %(endpoint)s
    S3Credentials keyfile %(keys)s
    S3KeyPrefix wrong/""" % values
    app_dir = """
    <Directory "%(public)s">
        Require all granted
        Options +ExecCGI
        AddHandler cgi-script .cgi
        %(extra)s
    </Directory>"""
    handoff = """
    <Location %s>
        S3HandOff On
        S3KeyPrefix fc/
    </Location>"""

    def vhost(port, body):
        return "<VirtualHost 127.0.0.1:@PORT%d@>\n    DocumentRoot \"%s\"%s%s\n</VirtualHost>\n" % (
            port, public, s3_server, body)

    conf = "".join([
        # main server: an application, and no S3 configuration at all
        'ScriptAlias /cgi/ "%s/"\n' % public,
        # FallbackResource /index.cgi (mod_dir: an internal fast redirect)
        vhost(2, app_dir % dict(values, extra="FallbackResource /index.cgi")
              + handoff % "/download" + handoff % "/status-ok" + handoff % "/denied"),
        # Symfony's .htaccess: a per-directory RewriteRule (an internal redirect)
        vhost(3, app_dir % dict(values, extra="RewriteEngine On\n"
                                "        RewriteCond %{REQUEST_FILENAME} !-f\n"
                                "        RewriteRule ^ index.cgi [L]")
              + handoff % "/download"),
        # server-level RewriteRules, without [PT] (onto the file) and with [PT] (a new URI)
        vhost(4, app_dir % dict(values, extra="")
              + "\n    RewriteEngine On"
              + "\n    RewriteRule ^/download/ /index.cgi [L]"
              + "\n    RewriteRule ^/dl-pt/ /index.cgi [PT,L]"
              + handoff % "/download" + handoff % "/dl-pt"),
        # an Alias straight to the front controller, and one to the application's directory
        # with FallbackResource below it; a mod_lua application beside it
        vhost(5, app_dir % dict(values, extra="FallbackResource /shop/index.cgi")
              + '\n    Alias /download "%s/index.cgi"' % public
              + '\n    Alias /shop "%s"' % public
              + handoff % "/download" + handoff % "/shop/download"
              + '\n    Alias /lua "%(lua)s"'
                '\n    <Directory "%(lua)s">'
                '\n        Require all granted'
                '\n        SetHandler lua-script'
                '\n    </Directory>' % values
              + handoff % "/lua/download.lua"),
    ])
    cgi = "cgid" if mpm == "event" else "cgi"
    srv = Httpd("httpd", logs, mpm=mpm, conf=conf, modules=("s3",), extra_ports=4,
                apache_modules=DEFAULT_APACHE_MODULES + ("rewrite", "lua", cgi))
    try:
        srv.start()
        yield srv, {"main": srv.port, "fallback": srv.ports[1], "rewrite-dir": srv.ports[2],
                    "rewrite-server": srv.ports[3], "alias": srv.ports[4], "lua": srv.ports[4]}
    finally:
        srv.cleanup()
        moto.s3.delete_bucket(bucket)
    # what was logged while stopping (tests check their own lines, see `attach`)
    bad = srv.error_log.bad_lines()
    assert not bad, "unexpected lines in %s:\n%s" % (srv.error_log.path, "\n".join(bad))


@pytest.fixture(autouse=True)
def attach(request, fc):
    """Let conftest check the shared server's error log after each test (lines written during
    the test must be declared with expect_log, as for the `httpd` fixture)."""
    request.node._lf_httpds = [fc[0]]


def assert_handed_off(r):
    assert r.status == 200, r
    assert r.body == DATA
    assert r.header("Content-Type") == "application/pdf"
    assert r.header("Content-Disposition") == 'attachment; filename="report 7.pdf"'
    assert r.header("X-S3-Key") is None and r.header("X-S3-Disposition") is None


@pytest.mark.parametrize("routing,path", [
    ("fallback", "/download/report%207.pdf"),
    ("rewrite-dir", "/download/report%207.pdf"),
    ("rewrite-server", "/dl-pt/report%207.pdf"),
    ("alias", "/shop/download/report%207.pdf"),
    # these keep r->uri, and worked before the fix too: here so that they keep working
    ("rewrite-server", "/download/report%207.pdf"),
    ("alias", "/download/report%207.pdf"),
    ("lua", "/lua/download.lua"),
])
def test_handoff_through_the_front_controller(fc, routing, path):
    srv, ports = fc
    assert_handed_off(srv.get(path, port=ports[routing]))


def test_handoff_with_a_cgi_status_200_and_ranges(fc):
    srv, ports = fc
    r = srv.get("/status-ok/report%207.pdf", port=ports["fallback"],
                headers={"Range": "bytes=10-19"})
    assert r.status == 206 and r.body == DATA[10:20]
    assert r.header("X-S3-Key") is None


def test_application_error_passes_without_the_header(fc):
    srv, ports = fc
    r = srv.get("/denied/report%207.pdf", port=ports["fallback"])
    assert r.status == 403 and r.body == b"no\n"
    assert r.header("X-S3-Key") is None


def test_front_controller_pages_pass(fc):
    srv, ports = fc
    r = srv.get("/about", port=ports["fallback"])
    assert r.status == 200 and r.body == b"home of /about\n"


@pytest.mark.expect_log(REFUSED)
@pytest.mark.parametrize("routing,path", [
    ("main", "/cgi/index.cgi/stray/report%207.pdf"),  # no S3 settings in the whole server
    ("fallback", "/stray/report%207.pdf"),            # the app's URL outside /download
    ("lua", "/lua/stray.lua"),                        # X-S3-Key in headers_out
])
def test_stray_key_is_refused(fc, routing, path):
    srv, ports = fc
    log_start = srv.error_log.size()
    r = srv.get(path, port=ports[routing])
    assert r.status == 500, r
    assert b"replaced" not in r.body
    assert r.header("X-S3-Key") is None and r.header("X-S3-Disposition") is None
    # logged before the answer was sent
    mine = [l for l in srv.error_log.lines(log_start) if REFUSED in l]
    assert mine, "no %s line" % REFUSED
    assert "S3HandOff is not On for %s" % urllib.parse.unquote(path) in mine[0], mine
    if not path.endswith(".lua"):  # mod_lua runs no script for HEAD
        r = srv.head(path, port=ports[routing])
        assert r.status == 500 and r.header("X-S3-Key") is None


@pytest.mark.expect_log(REFUSED)
def test_stray_key_on_an_application_error_is_removed(fc):
    srv, ports = fc
    r = srv.get("/cgi/index.cgi/denied/x", port=ports["main"])
    assert r.status == 403 and r.body == b"no\n"
    assert r.header("X-S3-Key") is None
