"""mod_session_kv on a MySQL/MariaDB table (mysql://, mysqls://), the RDS way, on a real MariaDB
on 127.0.0.1 (one server for the module, TLS on, a database of its own per test, created from the
SQL file the module ships; httpd logs in as an account with a password read from a file that
holds characters a DSN string cannot). Sessions round-trip with their rows visible in the table,
a read writes nothing, two nodes behind HAProxy share a session, 20 parallel writers merge
through the version column, a cookie that is not a session id never reaches SQL (MariaDB's
general log says so), an oversize session is refused with the stored one intact, the idle timeout
is the expires column (and a touch moves it), a restart of the database heals without an httpd
restart, a database that stops answering costs one read timeout and is then left alone for the
retry interval, a certificate of another CA or for another name fails the connection, a
missing or wrong table (or a missing privilege) stops startup while an unreachable database only
warns, and the expired rows are swept in batches by one process at a time."""
import base64
import concurrent.futures
import hashlib
import os
import re
import signal
import time

import pytest

from harness import health, paths, session
from harness.backends import MariaDB
from harness.tls import make_test_cas

SQL_FILE = os.path.join(paths.REPO, "modules", "session_kv", "sql", "session_kv.mysql.sql")
# what apr_dbd's DSN string would cut at (' ', ',', ';', '|')
PASSWORD = "s3cr3t, with; spaces|and bars"
NOW_MS = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)"


@pytest.fixture(scope="module")
def ca():
    """(ca, crt, key) for the database (a certificate for 127.0.0.1), and another CA's file."""
    return make_test_cas(paths.log_dir("_session-mysql-tls"), "db.test")


@pytest.fixture(scope="module")
def mysqld(mariadb_template, ca):
    (ca_file, crt, key), _ = ca
    s = MariaDB(paths.log_dir("_session-mysql"), mariadb_template,
                extra_args=["--ssl-ca=" + ca_file, "--ssl-cert=" + crt, "--ssl-key=" + key])
    s.start()
    yield s
    s.cleanup()


class DB:
    """A database of its own with the sessions table, and an account for httpd."""

    def __init__(self, server, name, logs):
        self.server, self.name = server, name
        self.sql("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s" % (name, name), db=None)
        with open(SQL_FILE) as f:
            self.sql(f.read())
        self.sql("CREATE USER IF NOT EXISTS 'sessions'@'%%' IDENTIFIED BY '%s'; "
                 "GRANT SELECT, INSERT, UPDATE, DELETE ON %s.* TO 'sessions'@'%%'"
                 % (PASSWORD, name), db=None)
        self.pw_file = os.path.join(logs, "db.password")
        with open(self.pw_file, "w") as f:
            f.write(PASSWORD + "\n")

    def url(self, scheme="mysql"):
        return "%s://sessions@127.0.0.1:%d/%s" % (scheme, self.server.port, self.name)

    def conf(self, extra=""):
        return "SessionKVPassword file:%s\n%s" % (self.pw_file, extra)

    def sql(self, q, db=True):
        rc, out = self.server.query(("USE %s; " % self.name if db else "") + q)
        assert rc == 0, out
        return out.strip()

    def rows(self):
        """(key, version) of every row, expired or not."""
        out = self.sql("SELECT k, version FROM session_kv ORDER BY k")
        return [(k, int(v)) for k, v in (line.split("\t") for line in out.splitlines())]

    def live(self):
        return int(self.sql("SET time_zone = '+00:00'; SELECT COUNT(*) FROM session_kv "
                            "WHERE expires > " + NOW_MS))

    def ms_left(self):
        return int(self.sql("SET time_zone = '+00:00'; SELECT expires - %s FROM session_kv"
                            % NOW_MS))


@pytest.fixture
def db(mysqld, request, logs):
    node = request.node.name
    name = "t_%s_%s" % (re.sub(r"[^a-z0-9]", "_", node.lower())[:40],
                        hashlib.sha256(node.encode()).hexdigest()[:8])
    return DB(mysqld, name, logs)


def start(httpd, logs, mpm, db, extra="", **kw):
    return session.start(httpd, logs, mpm, kw.pop("url", db.url()), srv=db.conf(extra), **kw)


def test_sessions_round_trip_with_rows_in_the_table(httpd, logs, mpm, db):
    srv = start(httpd, logs, mpm, db)
    c = session.Client(srv)
    assert c.app(set="user:alice") == {}
    key = session.backend_key(c.sid)
    assert db.rows() == [(key, 1)]
    assert c.sid not in db.sql("SELECT v FROM session_kv")     # the id is never stored
    assert c.app() == {"user": "alice"}
    assert db.rows() == [(key, 1)]                             # a read writes nothing
    assert c.app(set="cart:3") == {"user": "alice"}
    assert db.rows() == [(key, 2)]                             # a change: version + 1
    # the row expires the idle timeout (24 min) ahead, by the database's clock
    assert 1430 * 1000 < db.ms_left() <= 1440 * 1000
    assert c.app(clear=1) == {"user": "alice", "cart": "3"}    # logout: the row is gone
    assert db.rows() == []


@pytest.mark.one_mpm  # the version column's compare-and-set, whatever the MPM
def test_twenty_parallel_writers_merged(httpd, logs, mpm, db):
    srv = start(httpd, logs, mpm, db, "SessionKVTouchInterval 0")
    c = session.Client(srv)
    c.app(set="base:1")

    def one(i):
        return c.get("/app/app.cgi?" + session.query(set="k%d:%d" % (i, i), sleep=200),
                     timeout=20).status

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        assert list(pool.map(one, range(20))) == [200] * 20
    assert c.app() == dict({"base": "1"}, **{"k%d" % i: str(i) for i in range(20)})
    counters = session.status_counters(srv)
    assert counters["Conflicts"] > 0 and counters["Merges"] > 0
    assert db.rows()[0][1] == 21                               # 1 + one write per request


@pytest.mark.one_mpm  # the farm's shape, not the MPM
def test_two_nodes_behind_haproxy_share_a_session(httpd, logs, mpm, db, haproxy):
    nodes = []
    for name in ("a", "b"):
        srv = start(httpd, logs, mpm, db, "HealthCheck sessions session-kv interval=500ms "
                    "timeout=400ms rise=1\nHeader always set X-Node @NAME@", name=name,
                    modules=("health", "session_kv"))
        health.wait_ready(srv, 200)        # the check pings the database through the driver
        nodes.append(srv)
    hp = haproxy([("a", nodes[0].port), ("b", nodes[1].port)], inter="300ms", fall=2, rise=1,
                 extra_backend="    option http-server-close")
    hp.wait_status("a", "UP")
    hp.wait_status("b", "UP")
    c = session.Client(None, port=hp.port)
    c.app(set="user:bob", regen=1)
    seen = set()
    for i in range(1, 9):
        r = c.get("/app/app.cgi?" + session.query(set="n:%d" % i))
        assert r.status == 200
        seen.add(r.header("X-Node"))
        assert r.json()["session"] == dict({"user": "bob"}, **({"n": str(i - 1)} if i > 1 else {}))
    assert seen == {"a", "b"}
    assert db.rows() == [(session.backend_key(c.sid), 9)]     # created, then 8 writes


@pytest.mark.one_mpm  # the id check comes before any backend, whatever the MPM
def test_bad_cookies_never_reach_sql(httpd, logs, mpm, db, mysqld):
    srv = start(httpd, logs, mpm, db)
    general = os.path.join(logs, "mariadb-general.log")
    db.sql("SET GLOBAL general_log_file = '%s'; SET GLOBAL general_log = 1" % general, db=False)
    unknown = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    bad = ["' OR '1'='1", "x'; DROP TABLE session_kv; --", "../../etc/passwd", unknown[:-1] + "!",
           unknown + "A", "%27%20OR%201%3D1", "\\x00abc"]
    try:
        for value in bad + [unknown]:
            c = session.Client(srv)
            c.sid = value
            assert c.app() == {}, value
    finally:
        db.sql("SET GLOBAL general_log = 0", db=False)
    with open(general, errors="replace") as f:
        text = f.read()
    # a well-formed id reached the database as its hash, and nothing else of any cookie did
    assert session.backend_key(unknown) in text
    for value in bad + [unknown]:
        assert value not in text, value
    assert db.sql("SHOW TABLES") == "session_kv"
    assert session.status_counters(srv)["Rejected"] == len(bad)


@pytest.mark.one_mpm  # the store's size check, whatever the MPM
@pytest.mark.expect_log("LF01001")   # the save refused for size
def test_oversize_is_refused_and_the_stored_session_kept(httpd, logs, mpm, db):
    srv = start(httpd, logs, mpm, db, "SessionKVMaxSize 1K")
    c = session.Client(srv)
    c.app(set="user:alice")
    key = session.backend_key(c.sid)
    assert c.get("/app/app.cgi?" + session.query(big=2000)).status == 200
    assert db.rows() == [(key, 1)]
    assert c.app() == {"user": "alice"}
    assert session.status_counters(srv)["Oversize"] == 1


@pytest.mark.one_mpm  # expiry is the database's, whatever the MPM
def test_idle_timeout_is_the_expires_column(httpd, logs, mpm, db):
    srv = start(httpd, logs, mpm, db, "SessionKVIdleTimeout 2\nSessionKVTouchInterval 1")
    c = session.Client(srv)
    c.app(set="user:alice")
    assert 1500 < db.ms_left() <= 2000
    # a user who keeps coming back keeps the session: each touch moves expires ahead
    session.wait(lambda: db.ms_left() < 900, timeout=5)
    assert c.app() == {"user": "alice"}
    session.wait(lambda: db.ms_left() > 1500, timeout=2)       # touched after the response
    assert db.rows()[0][1] == 1                                # a touch, not a write
    # then idle: once the column says so, the session is gone
    session.wait(lambda: db.live() == 0, timeout=5)
    assert c.app() == {}


@pytest.mark.one_mpm  # the driver's reconnect, whatever the MPM
# while the database is down, requests get the failure policy (open: an empty session)
@pytest.mark.expect_log("LF01001")
@pytest.mark.allow_log("LF01005")   # a request that also tried to save
def test_database_restart_heals_without_httpd_restart(httpd, logs, mpm, db, mysqld):
    srv = start(httpd, logs, mpm, db)
    c = session.Client(srv)
    c.app(set="user:alice")
    mysqld.stop()
    assert c.app() == {}                                       # the failure policy: open
    mysqld.start()
    # the pooled connections the restart closed are replaced at their next use, unseen
    for _ in range(5):
        assert c.app() == {"user": "alice"}
    c.app(set="cart:1")
    assert c.app() == {"user": "alice", "cart": "1"}


@pytest.mark.one_mpm  # the driver's timeouts and the store's breaker, whatever the MPM
# the database stops answering: the operation times out, its server is marked down (once), and
# the requests meanwhile get the failure policy at once
@pytest.mark.expect_log("LF01001", "LF01012")
def test_hung_database_costs_one_timeout(httpd, logs, mpm, db, mysqld):
    srv = start(httpd, logs, mpm, db, "SessionKVTimeout 1s\nSessionKVConnectTimeout 1s\n"
                "SessionKVRetryInterval 1s")
    c = session.Client(srv)
    c.app(set="user:alice")
    # every child (2) gets a connection and keeps it: the hang meets a kept connection, whose
    # read must time out (the client library's connect timeout would not cover it)
    for _ in range(20):
        c.app()
    mysqld.signal(signal.SIGSTOP)
    try:
        began = time.monotonic()
        assert c.app() == {}                                   # one timeout, then open
        took = time.monotonic() - began
        assert 0.9 < took < 3, took
        began = time.monotonic()
        assert c.app() == {}                                   # marked down: no wait at all
        assert time.monotonic() - began < 0.5
    finally:
        mysqld.signal(signal.SIGCONT)
    # the retry interval later, one request tries the server again, and it answers
    session.wait(lambda: c.app() == {"user": "alice"}, timeout=10, interval=0.3)
    down = [line for line in srv.error_log.lines() if "LF01012" in line]
    assert len(down) == 1 and "get: mysql 127.0.0.1:%d: execute: " % mysqld.port in down[0], down


@pytest.mark.one_mpm  # the client library's TLS, whatever the MPM
def test_tls_with_the_right_ca(httpd, logs, mpm, db, ca, mysqld):
    before = int(db.sql("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'").split()[1])
    srv = start(httpd, logs, mpm, db, 'SessionKVCAFile "%s"' % ca[0][0], url=db.url("mysqls"))
    c = session.Client(srv)
    c.app(set="user:alice")
    assert c.app() == {"user": "alice"}
    assert db.rows() == [(session.backend_key(c.sid), 1)]
    assert int(db.sql("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'").split()[1]) > before


@pytest.mark.one_mpm
# startup warns that the table cannot be checked; each request's save fails and says why
@pytest.mark.expect_log("LF01022", "LF01001")
# the sweep of each child fails the same way, when its first run comes before the test ends
@pytest.mark.allow_log("LF01017")
@pytest.mark.parametrize("case", ["another CA", "another name"])
def test_tls_certificate_that_does_not_verify_fails_the_connection(httpd, logs, mpm, db, ca,
                                                                 case):
    if case == "another CA":
        ca_file, url, why = ca[1], db.url("mysqls"), "self-signed certificate in certificate chain"
    else:   # the right CA, but the certificate names db.test and 127.0.0.1, not localhost
        ca_file, url = ca[0][0], db.url("mysqls").replace("@127.0.0.1:", "@localhost:")
        why = "Validation of SSL server certificate failed"
    srv = start(httpd, logs, mpm, db, 'SessionKVCAFile "%s"' % ca_file, url=url)
    c = session.Client(srv)
    assert c.get("/app/app.cgi?" + session.query(set="user:alice")).status == 200
    assert c.sid is None and db.rows() == []
    failed = [line for line in srv.error_log.lines() if "LF01001" in line]
    assert failed and "TLS/SSL error" in failed[0] and why in failed[0], failed
    assert PASSWORD not in srv.error_log.read()


@pytest.mark.one_mpm  # startup, whatever the MPM
@pytest.mark.parametrize("change,text", [
    ("DROP TABLE session_kv", "does not exist: create it with"),
    ("ALTER TABLE session_kv MODIFY v BLOB NOT NULL", "v must be MEDIUMBLOB"),
    ("ALTER TABLE session_kv DROP COLUMN version", "lacks some of the columns"),
    ("ALTER TABLE session_kv MODIFY expires DATETIME NOT NULL",
     "version and expires must be BIGINT"),
    # the statements are prepared at startup: a missing privilege shows there too
    ("REVOKE DELETE ON {db}.* FROM 'sessions'@'%'", "DELETE command denied"),
])
def test_missing_or_wrong_table_stops_startup(httpd, logs, mpm, db, change, text):
    db.sql(change.format(db=db.name))
    rc, out = httpd.config_test("SessionKVStore %s\n%s" % (db.url(), db.conf()),
                                modules=("session_kv",),
                                apache_modules=session.apache_modules(httpd.mpm))
    assert rc != 0, out
    assert "SessionKVStore mysql://sessions@127.0.0.1:%d/%s: table %s.session_kv" % (
        db.server.port, db.name, db.name) in out, out
    assert text in out, out
    assert PASSWORD not in out


@pytest.mark.one_mpm
def test_unreachable_database_warns_and_starts(httpd, logs, mpm, db):
    url = "mysql://sessions@127.0.0.1:1/%s" % db.name
    rc, out = httpd.config_test("SessionKVStore %s\n%s" % (url, db.conf()),
                                modules=("session_kv",),
                                apache_modules=session.apache_modules(httpd.mpm))
    assert rc == 0, out
    assert "LF01022" in out and "cannot check the table now" in out, out


@pytest.mark.one_mpm  # the refresher thread of each child, whatever the MPM
def test_expired_rows_are_swept_in_batches(httpd, logs, mpm, db, mysqld):
    # 1200 expired sessions and 3 live ones, written as the module would
    values = ",".join("(CONCAT('skv:old', %d), 'x', 1, 1000)" % i for i in range(1200))
    db.sql("INSERT INTO session_kv VALUES " + values)
    db.sql("SET time_zone = '+00:00'; INSERT INTO session_kv VALUES "
           + ",".join("('skv:live%d', 'x', 1, %s + 600000)" % (i, NOW_MS) for i in range(3)))
    general = os.path.join(logs, "mariadb-general.log")
    db.sql("SET GLOBAL general_log_file = '%s'; SET GLOBAL general_log = 1" % general, db=False)
    try:
        start(httpd, logs, mpm, db, "SessionKVDiscoveryInterval 1")
        session.wait(lambda: len(db.rows()) == 3, timeout=10)
    finally:
        db.sql("SET GLOBAL general_log = 0", db=False)
    assert [k for k, _ in db.rows()] == ["skv:live0", "skv:live1", "skv:live2"]
    # "<connection id> <command>\t<statement>" lines: both children asked for the sweep lock,
    # and the one that got it deleted the rows in ranges of 500 keys (its first three deletes)
    locks, sweeps = 0, []
    with open(general, errors="replace") as f:
        for m in re.finditer(r"\s(\d+) (Query|Execute)\t(.*)", f.read()):
            locks += "GET_LOCK('skv_sweep:%s.session_kv', 0)" % db.name[:26] in m.group(3)
            if m.group(2) == "Execute" and m.group(3).startswith("DELETE FROM `session_kv`"):
                sweeps.append((m.group(1), m.group(3)))
    assert locks >= 2, locks
    assert len(sweeps) >= 3 and len({conn for conn, _ in sweeps[:3]}) == 1, sweeps
    assert all(" WHERE k > " in sql and " AND k <= " in sql for _, sql in sweeps), sweeps
