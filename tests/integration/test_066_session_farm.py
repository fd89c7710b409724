"""Sessions on a farm: two httpd nodes with mod_session + mod_session_kv on one redis, behind
HAProxy (round robin, `option httpchk GET /health/ready`, mod_health with the "session-kv"
check). A user who logs in on one node is logged in on the other; through HAProxy the requests
alternate between the nodes and each one sees what the one before wrote; when a node stops, the
user stays logged in through the other."""
import pytest

from harness import health, session

CHECK = "HealthCheck sessions session-kv interval=500ms timeout=400ms rise=1"


def node(httpd, logs, mpm, kv, name):
    srv = session.start(httpd, logs, mpm, kv.url, name=name, modules=("health", "session_kv"),
                        srv=CHECK + "\nHeader always set X-Node @NAME@")
    health.wait_ready(srv, 200)
    return srv


@pytest.fixture
def farm(httpd, haproxy, logs, mpm, redis):
    """(node a, node b, haproxy, the store) with both nodes UP in HAProxy."""
    kv = session.KV("redis", redis)
    a = node(httpd, logs, mpm, kv, "a")
    b = node(httpd, logs, mpm, kv, "b")
    # a connection to a node per request: no idle keep-alive connection of HAProxy's is cut
    # when a node stops
    hp = haproxy([("a", a.port), ("b", b.port)], inter="300ms", fall=2, rise=1,
                 extra_backend="    option http-server-close")
    hp.wait_status("a", "UP")
    hp.wait_status("b", "UP")
    return a, b, hp, kv


def served(c, **q):
    """(node that answered, session it saw) for one request of client c."""
    r = c.get("/app/app.cgi?" + session.query(**q))
    assert r.status == 200, r
    return r.header("X-Node"), r.json()["session"]


def test_login_on_one_node_is_seen_on_the_other(farm):
    a, b, hp, kv = farm
    c = session.Client(a)
    # log in on A (a new id at login)
    assert served(c, set="user:alice") == ("a", {})
    anonymous = c.sid
    assert served(c, set="role:admin", regen=1)[0] == "a"
    assert c.sid != anonymous
    # B knows the user
    c.port = b.port
    assert served(c) == ("b", {"user": "alice", "role": "admin"})
    # a change on B is seen on A
    assert served(c, set="cart:3")[0] == "b"
    c.port = a.port
    assert served(c) == ("a", {"user": "alice", "role": "admin", "cart": "3"})
    # the id from before the login is dead on both
    for srv in (a, b):
        stale = session.Client(srv)
        stale.sid = anonymous
        assert served(stale)[1] == {}
    # log out on B: gone on A too
    c.port = b.port
    r = c.get("/app/app.cgi?" + session.query(clear=1))
    assert r.status == 200 and c.sid is None
    assert kv.keys() == []


def test_through_haproxy_each_node_sees_the_last_write(farm):
    a, b, hp, kv = farm
    c = session.Client(None, port=hp.port)
    served(c, set="user:bob", regen=1)
    nodes = []
    for i in range(1, 9):
        who, seen = served(c, set="n:%d" % i)
        nodes.append(who)
        assert seen == {"user": "bob", "n": str(i - 1)} if i > 1 else {"user": "bob"}, (i, who)
    assert set(nodes) == {"a", "b"}, nodes
    assert len(kv.keys()) == 1


def test_user_stays_logged_in_when_a_node_stops(farm):
    a, b, hp, kv = farm
    c = session.Client(None, port=hp.port)
    served(c, set="user:carol", regen=1)
    sid = c.sid
    assert {served(c)[0] for _ in range(4)} == {"a", "b"}

    # A goes away while HAProxy still believes it is up (its checks paused): HAProxy's retry
    # takes each request to B
    hp.admin("disable health be/a")
    a.stop()
    for i in range(4):
        who, seen = served(c, set="n:%d" % i)
        assert who == "b"
        assert seen["user"] == "carol"
    # and once the checks see it, A is out of rotation
    hp.admin("enable health be/a")
    hp.wait_status("a", "DOWN", timeout=5)
    for _ in range(4):
        assert served(c) == ("b", {"user": "carol", "n": "3"})
    assert c.sid == sid
    assert kv.keys() == [session.backend_key(sid)]
