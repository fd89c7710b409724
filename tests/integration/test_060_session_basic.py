"""mod_session_kv basics, on memcached and on redis: sessions are created lazily, the cookie
holds only a random id, the backend only a key derived from it, and the application sees and
changes the session through mod_session's SessionEnv / SessionHeader."""
import re

from harness import session


def test_no_data_no_session(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url)
    r = srv.get("/app/app.cgi")
    assert r.status == 200
    assert session.set_cookies(r) == []
    assert r.json()["session"] == {}
    assert kv.keys() == []


def test_first_write_creates_session_and_cookie(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url)
    c = session.Client(srv)
    r = c.get("/app/app.cgi?" + session.query(set="user:alice"))
    cookies = session.set_cookies(r)
    assert len(cookies) == 1, cookies
    m = re.fullmatch(r"session=([A-Za-z0-9_-]{43}); Path=/; HttpOnly; SameSite=Lax", cookies[0])
    assert m, cookies[0]
    assert r.header("Cache-Control") == "private"
    sid = m.group(1)
    # the backend holds a key derived from the id, and nowhere the id itself
    assert kv.keys() == [session.backend_key(sid)]
    assert sid.encode() not in kv.raw(sid)
    # the next request sees it, and nothing is set again
    r = c.get("/app/app.cgi")
    assert r.json()["session"] == {"user": "alice"}
    assert session.set_cookies(r) == []
    assert r.header(session.HEADER) is None


def test_update_delete_and_destroy(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url)
    c = session.Client(srv)
    c.app(set=["a:1", "b:two words & more=%"])
    sid = c.sid
    assert c.app() == {"a": "1", "b": "two words & more=%"}
    c.app(set="a:3", **{"del": "b"})
    assert c.app() == {"a": "3"}
    assert c.sid == sid
    r = c.get("/app/app.cgi?" + session.query(clear=1))
    assert any("Max-Age=0" in x for x in session.set_cookies(r))
    assert c.sid is None
    assert kv.keys() == []


def test_regenerate_moves_the_session_to_a_new_id(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url)
    c = session.Client(srv)
    c.app(set="cart:3")
    old = c.sid
    c.app(set="user:bob", regen=1)
    assert c.sid and c.sid != old
    assert c.app() == {"cart": "3", "user": "bob"}
    assert kv.keys() == [session.backend_key(c.sid)]
    # the old id is dead: a client holding it gets an empty session
    stale = session.Client(srv)
    stale.sid = old
    assert stale.app() == {}


def test_client_cannot_inject_a_session_header(httpd, logs, mpm, kv):
    srv = session.start(httpd, logs, mpm, kv.url)
    c = session.Client(srv)
    c.app(set="role:user")
    r = c.get("/app/app.cgi", headers={"Cookie": "session=%s" % c.sid,
                                        "Session": "role=admin"})
    assert r.json()["session"] == {"role": "user"}
