"""A real Symfony 5.4 application (tests/symfony) on a farm: two httpd nodes with mod_session +
mod_session_kv, PHP-FPM through mod_proxy_fcgi behind `FallbackResource /index.php`, sessions
kept by php/LampfarmSessionHandler.php configured as php/README.md says, HAProxy in front; on
redis and on memcached.

What a user of such an application sees: a login with a CSRF token on one node holds on the
other, and a wrong token is refused; a logout stays a logout and a login stays a login although
a slow request of the same browser (a background poll) was in flight and changed the session
when it ended; twenty parallel requests that each set an attribute all keep theirs; flash
messages set on one node are read on the other; the HTML page (what `make run` shows at
/symfony/) logs in, sets an attribute and logs out through its forms, each coming back to it. And a download that the application hands to
mod_s3 (X-S3-Key) behind the front controller, through FallbackResource and through a
RewriteRule, reaches the browser as the object's bytes.

The farm (nodes, FPM, HAProxy, store) is started once per store for the whole module, and the
container once per run (harness/symfony.py). A slow request says when it has read the session
(a marker file) and waits until the test releases it, so every race here runs the same way each
time. PHP runs in PHP-FPM, so the MPM does not matter: one MPM (event).
"""
import concurrent.futures
import html
import os
import re
import sys

import pytest

from harness import http, paths, s3, session, symfony
from harness.backends import Memcached, Redis
from harness.httpd import MPMS

# PHP runs in PHP-FPM: the MPM does not matter here, event unless LAMPFARM_MPM excludes it
MPM = next((m for m in os.environ.get("LAMPFARM_MPM", "event").split(",") if m.strip() in MPMS),
           "event").strip()
NAME = os.path.splitext(os.path.basename(__file__))[0]
SLOW_MS = 8000      # only a cap: a slow request ends as soon as the test releases it
POOL = concurrent.futures.ThreadPoolExecutor(max_workers=24, thread_name_prefix="browser")
redis_only = pytest.mark.parametrize("farm_of_store", ["redis"], indirect=True)


@pytest.fixture(scope="module")
def app():
    """tests/symfony installed, its container built (once for the module)."""
    return symfony.App(paths.log_dir(NAME + ".app")).install()


@pytest.fixture(scope="module", params=["redis", "memcached"])
def farm_of_store(request, app):
    """The farm on one store, started once for the module."""
    base = paths.log_dir("%s.farm-%s" % (NAME, request.param))
    server = (Redis if request.param == "redis" else Memcached)(
        paths.sub_dir(base, request.param)).start()
    try:
        f = symfony.Farm(base, app, session.KV(request.param, server), mpm=MPM).start()
    except BaseException:
        server.stop()
        raise
    yield f
    f.stop()
    server.stop()
    assert_quiet_stop(f.servers)


@pytest.fixture
def farm(request, farm_of_store):
    """The farm with an empty store; afterwards no PHP error (nor anything Symfony logs), and
    the container still the one built at install. conftest checks the httpd error logs."""
    f = farm_of_store
    request.node._lf_httpds = f.servers
    symfony.flush(f.kv)
    assert symfony.keys(f.kv) == []
    php_before = f.php_log_sizes()
    yield f
    show_lines_of_a_failed_test(request, f.servers)
    errors = f.php_errors_since(php_before)
    assert not errors.strip(), "PHP logged:\n" + errors[-4000:]
    assert f.app.container_files() == f.app.containers_at_install, \
        "a request rebuilt the container"


def show_lines_of_a_failed_test(request, servers):
    """After a failed test conftest does not check the error logs: show what it logged (as
    conftest's httpd fixture does) so that the next test on the same servers is not blamed."""
    if getattr(request.node, "_lf_call_failed", False):
        bad = ["%s: %s" % (srv.name, line) for srv in servers
               for line in srv.error_log.bad_lines()]
        if bad:
            print("error log lines of the failed test:\n" + "\n".join(bad), file=sys.stderr)


def assert_quiet_stop(servers):
    """Nothing bad in the error logs since the last test's check (lines written while
    stopping, say)."""
    bad = ["%s: %s" % (srv.name, line) for srv in servers for line in srv.error_log.bad_lines()]
    assert not bad, "unexpected lines in the httpd error logs:\n" + "\n".join(bad)


def user_name(prefix):
    return "%s-%s" % (prefix, symfony.Marks.new(""))


def slow(browser, path, to, **q):
    """Start a slow request of browser in a thread; it is taken (its cookies applied) only when
    the test takes it. Returns (mark, future)."""
    mark = symfony.Marks.new()
    q.update(sleep=SLOW_MS, mark=mark, until=mark)
    future = POOL.submit(browser.request, q.pop("method", "GET"),
                         path + "?" + symfony.query(**q), to=to, take=False,
                         timeout=SLOW_MS / 1000 + 10)
    return mark, future


def finish(farm, mark, future):
    """Release a slow request and return its response (not yet taken by the browser)."""
    farm.app.marks.release(mark)
    r = future.result()
    assert r.status == 200, r
    assert r.json()["waited"] == "released", r
    return r


@redis_only
def test_login_with_a_csrf_token_holds_on_the_other_node(farm):
    user = user_name("alice")
    b = symfony.Browser(farm)
    token = b.csrf_token(to="b")
    anonymous = b.sid
    assert anonymous, "the CSRF token lives in a session"
    r = b.post("/login", {"_username": user, "_csrf_token": token}, to="a")
    assert r.status == 200 and r.json() == {"node": "a", "user": user}, r
    assert b.sid and b.sid != anonymous, "a new session id at login"
    for node in ("b", "a"):
        me = b.me(to=node)
        assert (me["node"], me["user"]) == (node, user), me
    assert symfony.keys(farm.kv, b.seen) == [symfony.key_of(b.sid)]
    # the id from before the login is dead (no session fixation)
    stale = symfony.Browser(farm)
    stale.sid = anonymous
    assert stale.me(to="b")["user"] is None

    # a wrong token, and another session's token: 403, nobody logged in
    eve = symfony.Browser(farm)
    intruder = user_name("eve")
    eve.csrf_token(to="a")
    for given in ("wrong", token):
        r = eve.post("/login", {"_username": intruder, "_csrf_token": given}, to="b")
        assert r.status == 403 and r.json()["error"] == "Invalid CSRF token.", r
    assert eve.me(to="a")["user"] is None and eve.me(to="b")["user"] is None
    assert symfony.holding(farm.kv, intruder, eve.seen) == []


def test_logout_stays_a_logout(farm):
    """A background poll in flight on node A while the user logs out on node B must not bring
    the session back when it ends."""
    user = user_name("bob")
    b = symfony.Browser(farm)
    b.login(user, to="a")
    mark, poll = slow(b, "/me", "a", set="poll:1")
    farm.app.marks.wait_in(mark)
    r = b.post("/logout", to="b")
    assert r.status == 200 and r.json() == {"node": "b", "user": None}, r
    assert b.sid is None, symfony.session_cookies(r)
    polled = finish(farm, mark, poll)
    assert polled.json()["user"] == user     # it read the session before the logout
    b.take(polled)                           # its cookies arrive after the logout's

    seen = {node: b.me(to=node)["user"] for node in ("a", "b")}
    assert seen == {"a": None, "b": None}, \
        "logged in again after the logout: %r; the slow request sent %r" % (
            seen, symfony.session_cookies(polled))
    assert symfony.session_cookies(polled) == []
    assert symfony.holding(farm.kv, user, b.seen) == []


def test_login_stays_a_login(farm):
    """An anonymous background poll in flight on node A while the user logs in on node B must
    not log the user out when it ends."""
    user = user_name("carol")
    b = symfony.Browser(farm)
    token = b.csrf_token(to="a")
    mark, poll = slow(b, "/me", "a", set="poll:1")
    farm.app.marks.wait_in(mark)
    r = b.post("/login", {"_username": user, "_csrf_token": token}, to="b")
    assert r.status == 200 and r.json()["user"] == user, r
    polled = finish(farm, mark, poll)
    assert polled.json()["user"] is None
    b.take(polled)

    seen = {node: b.me(to=node)["user"] for node in ("a", "b")}
    assert seen == {"a": user, "b": user}, \
        "logged out by the slow request: %r; it sent %r" % (seen,
                                                            symfony.session_cookies(polled))
    assert symfony.holding(farm.kv, user, b.seen) == [symfony.key_of(b.sid)]


@redis_only
def test_twenty_parallel_attribute_writes_all_survive(farm):
    user = user_name("dave")
    b = symfony.Browser(farm)
    b.login(user)
    sid = b.sid
    # all twenty have read the session before any of them writes
    go = symfony.Marks.new("go")
    marks, futures = [], []
    for i in range(20):
        mark = symfony.Marks.new()
        marks.append(mark)
        futures.append(POOL.submit(
            b.request, "POST", "/attr?" + symfony.query(name="a%02d" % i, value=str(i),
                                                         sleep=SLOW_MS, mark=mark, until=go),
            take=False, timeout=SLOW_MS / 1000 + 10))
    farm.app.marks.wait_in(*marks, timeout=20)
    farm.app.marks.release(go)
    answers = [f.result() for f in futures]
    assert all(r.status == 200 and r.json()["waited"] == "released" for r in answers), answers
    assert {r.json()["node"] for r in answers} == {"a", "b"}
    assert all(symfony.session_cookies(r) == [] for r in answers)
    assert b.sid == sid

    want = {"a%02d" % i: str(i) for i in range(20)}
    for node in ("a", "b"):
        me = b.me(to=node)
        assert me["user"] == user, me
        got = {k: v for k, v in me["attributes"].items() if k in want}
        lost = sorted(set(want) - set(got))
        assert not lost, "%d of 20 attributes lost on node %s: %s" % (len(lost), node,
                                                                      " ".join(lost))
        assert got == want


@redis_only
def test_flashes_set_on_one_node_are_read_on_the_other(farm):
    b = symfony.Browser(farm)
    assert b.get("/flash?" + symfony.query(type="notice", msg="saved"), to="a").status == 200
    assert b.get("/flash?" + symfony.query(type="error", msg="twice é"), to="b").status == 200
    r = b.get("/flashes", to="a")
    assert r.status == 200 and r.json() == {
        "node": "a", "flashes": {"notice": ["saved"], "error": ["twice é"]}}, r
    # read once: gone everywhere (and the session, now empty, with them)
    r = b.get("/flashes", to="b")
    assert r.json()["flashes"] == {}, r
    assert b.sid is None and symfony.keys(farm.kv, b.seen) == []


@redis_only
def test_the_page_logs_in_sets_an_attribute_and_logs_out_through_its_forms(farm):
    """The forms of GET / post with _target_path: each answers 303 back to the page, whose flash
    names the node that did it, instead of JSON. A target elsewhere leads back to the page."""
    user = user_name("erin <&>")
    b = symfony.Browser(farm)
    page = b.get("/", to="a")
    assert page.status == 200 and 'id="anonymous"' in page.text, page
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)

    r = b.post("/login", {"_username": user, "_csrf_token": token, "_target_path": "/"}, to="b")
    assert (r.status, r.header("Location")) == (303, "/"), r
    page = b.get("/", to="a")
    logged_in = '<strong id="user">%s</strong>' % html.escape(user)
    assert logged_in in page.text and "b: Logged in as %s." % html.escape(user) in page.text, \
        page.text
    page = b.get("/", to="b")
    assert logged_in in page.text and 'class="flash' not in page.text, "a flash is shown once"

    r = b.post("/attr", {"name": "colour", "value": "<blue>", "_target_path": "//evil.example/"},
               to="a")
    assert (r.status, r.header("Location")) == (303, "/"), r
    assert "&lt;blue&gt;" in b.get("/", to="b").text
    # the framework's own attributes are not the form's to set
    r = b.post("/attr", {"name": "_security_main", "value": "x", "_target_path": "/"}, to="b")
    assert r.status == 303, r
    page = b.get("/", to="a")
    assert "b: Not set: " in page.text and logged_in in page.text, page.text
    me = b.me(to="a")
    assert (me["user"], me["attributes"]["colour"]) == (user, "<blue>"), me

    r = b.post("/logout", {"_target_path": "/"}, to="a")
    assert (r.status, r.header("Location")) == (303, "/"), r
    page = b.get("/", to="b")
    assert 'id="anonymous"' in page.text and "a: Logged out." in page.text, page.text
    assert symfony.holding(farm.kv, user, b.seen) == []


# --- a download handed to mod_s3 (the X-S3-Key pattern) behind Symfony's front controller ---

DOWNLOAD = os.urandom(200 * 1024 + 3)


@pytest.fixture(scope="module")
def s3_nodes(app, moto):
    """A node per front controller ("fallback": FallbackResource, "rewrite": the RewriteRule of
    Symfony's .htaccess), each with /download handed to S3; started once for the module."""
    base = paths.log_dir(NAME + ".s3")
    bucket = moto.s3.new_bucket("lf-symfony")
    moto.s3.put_object(bucket, "private/u1/invoice 7.pdf", DOWNLOAD,
                       content_type="application/pdf")
    store = Redis(paths.sub_dir(base, "redis")).start()
    location = s3.handoff_location(bucket, moto.endpoint, s3.keyfile(base, moto), "/download")
    nodes = {}
    try:
        for front in ("fallback", "rewrite"):
            nodes[front] = symfony.Node(front, paths.sub_dir(base, front), app,
                                        "redis://127.0.0.1:%d" % store.port, MPM, workers=2,
                                        modules=("session_kv", "s3"), front=front,
                                        srv_extra=location)
            nodes[front].start()
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()
        store.stop()
        moto.s3.delete_bucket(bucket)
    assert_quiet_stop([n.httpd for n in nodes.values()])


@pytest.fixture
def s3_node(request, s3_nodes):
    """The node of the test's front controller; its error log checked as for `farm`."""
    node = s3_nodes[request.node.callspec.params["front"]]
    request.node._lf_httpds = [node.httpd]
    yield node
    show_lines_of_a_failed_test(request, [node.httpd])


@pytest.mark.parametrize("front", ["fallback", "rewrite"])
def test_download_handed_to_s3_behind_the_front_controller(s3_node, front):
    """The application answers /download/{name} with X-S3-Key and an empty body; the browser
    gets the object's bytes and never the header."""
    node = s3_node
    r = http.request(node.port, "GET", "/download/u1/invoice%207.pdf", timeout=30)
    assert r.status == 200, r
    assert r.header("X-S3-Key") is None, r
    assert r.body == DOWNLOAD
    assert r.header("Content-Type") == "application/pdf"
    assert node.php_errors() == ""
