"""scripts/rds-cutover against two real MariaDB servers: a source with data (InnoDB tables, a
trigger, a view and a procedure whose DEFINER does not exist on the target, a MyISAM table,
utf8mb4 and latin1 text) and a target standing in for RDS for MariaDB (mysql.rds_* procedures,
a master user without SUPER; see harness/rds.py).

Asserts what the operator sees: exit status, messages, the state file and the log, and the rows
and checksums on both servers."""
import glob
import json
import os
import re
import subprocess
import uuid

import pytest

from harness import paths
from harness.dns import aws_env
from harness.tls import make_test_ca
from harness.proc import free_port
from harness.rds import (APP_PASSWORD, SOURCE_PASSWORD, TABLES, TARGET_PASSWORD, REPL_PASSWORD,
                         SCRIPT, Client, CutoverPair, snapshot)
from harness.proc import run

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ rds-cutover: ")
# distinctive parts of each password: none may show in output, log or a command line
SECRET_PARTS = ("src-Pw", "adm1n-Pw", "r3pl-Pw")


@pytest.fixture(scope="module")
def shared(mariadb_template):
    """One pair for the tests that must not change anything (each asserts that it did not)."""
    p = CutoverPair(paths.log_dir("test_070_rds_cutover.shared"), mariadb_template).start()
    yield p
    p.cleanup()


@pytest.fixture
def pair(logs, mariadb_template):
    p = CutoverPair(logs, mariadb_template).start()
    yield p
    p.cleanup()


def world(p):
    """Everything a run could change on either server."""
    ss = p.tgt_root.slave_status()
    return {
        "source": snapshot(p.src),
        "target": snapshot(p.tgt_root),
        "target_dbs": p.tgt_root.value("SELECT GROUP_CONCAT(SCHEMA_NAME ORDER BY 1) FROM "
                                       "information_schema.SCHEMATA"),
        "target_replication": (ss.get("Master_Host"), ss.get("Slave_IO_Running"),
                               ss.get("Exec_Master_Log_Pos")),
        "source_replication": p.src.slave_status().get("Master_Host"),
        "source_users": p.src.value("SELECT GROUP_CONCAT(CONCAT(User,'@',Host) ORDER BY 1) "
                                    "FROM mysql.user"),
        "target_users": p.tgt_root.value("SELECT GROUP_CONCAT(CONCAT(User,'@',Host) ORDER BY 1)"
                                         " FROM mysql.user"),
        "source_read_only": p.src.value("SELECT @@read_only"),
        "app_config": p.app_config(),
    }


def assert_no_secrets(p, out):
    texts = {"output": out}
    if os.path.exists(p.log_file):
        texts["log"] = p.log()
    if os.path.exists(p.argv_log):
        with open(p.argv_log) as f:
            texts["mysql/mysqldump command lines"] = f.read()
    for name, text in texts.items():
        for part in SECRET_PARTS:
            assert part not in text, "a password shows in the %s" % name


def assert_log_timestamped(p):
    lines = [line for line in p.log().splitlines() if line]
    assert lines
    bad = [line for line in lines if not LOG_LINE.match(line)]
    assert not bad, bad[:3]


def steps(p):
    return [k[len("step."):] for k in p.state() if k.startswith("step.")]


def start_and_sync(p):
    rc, out = p.run("start")
    assert rc == 0, out
    rc, out = p.run("wait")
    assert rc == 0, out
    return out


# --- help and checks -----------------------------------------------------------------------------

def test_help_lists_every_step_in_order():
    rc, out = run(["bash", SCRIPT, "--help"])
    assert rc == 0, out
    for cmd in ("preflight", "start", "status", "wait", "cutover", "verify", "rollback"):
        assert re.search(r"^  %s " % cmd, out, re.M), cmd
    order = ["1 preflight", "2 repl-user", "3 dump", "4 load", "5 replicate",
             "1 freeze", "2 catch-up", "3 verify", "4 prepare-rollback", "5 switch-app",
             "6 stop-replication", "1 rollback-stop-forward", "2 rollback-replicate",
             "3 rollback-catch-up", "4 rollback-verify", "5 rollback-switch-app",
             "6 rollback-stop", "7 rollback-unfreeze"]
    pos = [out.index(s) for s in order]
    assert pos == sorted(pos)
    for opt in ("--dry-run", "--yes", "--state-dir", "--log", "--target-kind", "--databases",
                "--source-password-file", "--repl-password-file", "--app-config", "--timeout"):
        assert opt in out
    rc, out = run(["bash", SCRIPT, "start", "--target-host", "x"])
    assert rc == 2 and "--target-user is required" in out
    rc, out = run(["bash", SCRIPT, "frobnicate", "--target-host", "x", "--target-user", "y"])
    assert rc == 2 and "unknown command 'frobnicate'" in out


def test_preflight_reports_and_changes_nothing(shared):
    before = world(shared)
    rc, out = shared.run("preflight")
    assert rc == 0, out
    assert "engine compatible (mariadb)" in out
    assert "source binlog_format ROW" in out
    assert "legacy.hits (MyISAM)" in out and "--lock-all-tables" in out
    assert "trigger shop.orders_ai definer shopadmin@localhost" in out
    assert "view shop.big_orders definer shopadmin@localhost" in out
    assert "procedure shop.order_count definer shopadmin@localhost" in out
    assert "rewritten to the target user admin@% in the dump: shopadmin@localhost" in out
    assert "legacy.hits.page latin1" in out
    assert "size of shop:" in out
    assert "DATABASE_URL uses 127.0.0.1:%d" % shared.source.port in out
    assert "preflight: passed" in out
    assert world(shared) == before
    assert steps(shared) == []
    assert_no_secrets(shared, out)


def test_preflight_problems_stop_with_what_to_fix(shared):
    before = world(shared)
    # a target that already holds one of the databases, and a wrong key for the app config
    assert shared.tgt_root.query("CREATE DATABASE legacy; CREATE TABLE legacy.x (i INT)")[0] == 0
    try:
        rc, out = shared.run("start", **{"--app-config-key": "DB_HOST"})
    finally:
        shared.tgt_root.query("DROP DATABASE legacy")
    assert rc == 1, out
    assert "preflight found 2 problem(s); nothing was changed" in out
    assert "target already has database legacy with 1 table(s)" in out
    assert "no 'DB_HOST' line containing '127.0.0.1:%d'" % shared.source.port in out
    rc, out = shared.run("preflight", **{"--databases": "shop,nosuchdb"})
    assert rc == 1 and "not on the source 127.0.0.1:%d: nosuchdb" % shared.source.port in out
    rc, out = shared.run("preflight", **{"--target-kind": "plain"})
    assert rc == 0, out     # plain: the definers are still rewritten (no such account there)
    assert world(shared) == before
    assert steps(shared) == []


def test_dry_run_prints_every_change_and_makes_none(shared):
    before = world(shared)
    rc, out = shared.run("start", "--dry-run")
    assert rc == 0, out
    plan = [line for line in out.splitlines() if line.startswith("DRY-RUN: ")]
    text = "\n".join(plan)
    assert "CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY '***'" in text
    assert re.search(r"mysqldump --defaults-file=\S+ --lock-all-tables --master-data=2 "
                     r"--routines --triggers --events", text)
    assert "from_file %s/rds-cutover.dump.sql mysql" % shared.state_dir in text
    assert "CALL mysql.rds_set_external_master('127.0.0.1', %d, 'repl', '***'" \
        % shared.source.port in text
    assert "CALL mysql.rds_start_replication()" in text
    assert world(shared) == before
    assert steps(shared) == []
    assert not os.path.exists(os.path.join(shared.state_dir, "rds-cutover.dump.sql"))
    assert "DRY-RUN: " in shared.log()
    assert_log_timestamped(shared)
    assert_no_secrets(shared, out)


# --- bad input: a clear message, nothing changed ---------------------------------------------------

def test_missing_tool(shared, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for d in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for f in glob.glob(d + "/*"):
            name = os.path.basename(f)
            if name in ("mysqldump", "mariadb-dump") or (bindir / name).exists():
                continue
            os.symlink(f, bindir / name)
    before = world(shared)
    rc, out = shared.run("start", path=str(bindir))
    assert rc == 1, out
    assert "mysqldump not found on PATH: install mariadb-client" in out
    assert world(shared) == before
    assert steps(shared) == []


def test_wrong_credentials(shared, tmp_path):
    bad = tmp_path / "bad.pw"
    bad.write_text("not-the-password\n")
    before = world(shared)
    rc, out = shared.run("start", **{"--target-password-file": str(bad)})
    assert rc == 1, out
    assert ("target 127.0.0.1:%d: wrong credentials for user 'admin' (access denied)"
            % shared.target.port) in out
    rc, out = shared.run("start", **{"--source-password-file": str(bad)})
    assert rc == 1, out
    assert ("source 127.0.0.1:%d: wrong credentials for user 'root'" % shared.source.port) in out
    rc, out = shared.run("start", **{"--repl-password-file": None})
    assert rc == 1 and "the replication user needs a password" in out
    assert world(shared) == before
    assert steps(shared) == []
    assert_no_secrets(shared, out)


def test_unreachable_host(shared):
    port = free_port()
    before = world(shared)
    rc, out = shared.run("start", **{"--target-port": str(port)})
    assert rc == 1, out
    assert "target 127.0.0.1:%d: unreachable: check --target-host/--target-port" % port in out
    assert world(shared) == before
    assert steps(shared) == []


def test_tls_verifies_the_target_and_needs_the_source(shared, logs, mariadb_template, tmp_path):
    # a CA that did not sign the target's certificate: refused, and said so
    other_ca, _, _ = make_test_ca(str(tmp_path / "other-ca"))
    rc, out = shared.run("preflight", **{"--target-ca": other_ca})
    assert rc == 1, out
    assert "target 127.0.0.1:%d: the TLS connection failed: check that --target-ca" \
        % shared.target.port in out
    rc, out = shared.run("preflight", **{"--target-ca": None})
    assert rc == 2 and "--target-ca FILE is required to verify the target's certificate" in out
    rc, out = shared.run("preflight", **{"--tls": "maybe"})
    assert rc == 2 and "--tls is on or off, not 'maybe'" in out
    # a source that offers no TLS cannot be replicated from encrypted
    p = CutoverPair(os.path.join(logs, "no-tls-source"), mariadb_template, tls=("target",)).start()
    try:
        rc, out = p.run("preflight")
        assert rc == 1, out
        assert "the source offers no TLS (have_ssl=DISABLED)" in out
        rc, out = p.run("preflight", **{"--tls": "off", "--target-ca": None})
        assert rc == 0, out
        assert "--tls off: the data and the replication passwords cross the network in the clear" \
            in out
    finally:
        p.cleanup()


def test_passwords_from_the_environment(shared):
    rc, out = shared.run("preflight", env={"RDS_CUTOVER_TARGET_PASSWORD": TARGET_PASSWORD,
                                           "RDS_CUTOVER_SOURCE_PASSWORD": SOURCE_PASSWORD},
                         **{"--target-password-file": None, "--source-password-file": None})
    assert rc == 0, out
    assert_no_secrets(shared, out)


# --- the night ------------------------------------------------------------------------------------

def test_full_cutover(pair):
    tmpdir = os.path.join(pair.tmp, "tmp")
    os.makedirs(tmpdir)
    rc, out = pair.run("start", env={"TMPDIR": tmpdir})
    assert rc == 0, out
    assert os.listdir(tmpdir) == []          # option files with passwords removed
    assert steps(pair) == ["preflight", "repl-user", "dump", "load", "replicate"]
    state = pair.state()
    assert state["binlog_file"].startswith("mysql-bin.") and int(state["binlog_pos"]) > 4
    # the definer the target could not create became its master user; utf8mb4 arrived intact
    assert pair.tgt.value("SELECT DEFINER FROM information_schema.TRIGGERS "
                          "WHERE TRIGGER_NAME='orders_ai'") == "admin@%"
    note = "SELECT note FROM shop.customers WHERE id=1"
    assert pair.tgt.value(note) == pair.src.value(note) == "naïve café ☕ 😀"

    # writes made on the source during replication arrive (the trigger's rows too)
    rc, out = pair.app.query("INSERT INTO shop.orders (customer_id, total) VALUES (2, 123.45);"
                             "INSERT INTO legacy.hits (page) VALUES ('/während');"
                             "UPDATE shop.customers SET note='🚀 moved' WHERE id=2")
    assert rc == 0, out
    pair.wait_replicated("SELECT COUNT(*) FROM shop.audit", "4")
    rc, out = pair.run("wait")
    assert rc == 0, out
    assert re.search(r"in sync: target executed (mysql-bin\.\d+:\d+), source at \1", out)
    rc, out = pair.run("status")
    assert rc == 0 and "in sync: yes" in out and "IO Yes, SQL Yes" in out
    # the target replicates over TLS (MASTER_SSL=1 fails rather than fall back to clear text)
    assert pair.tgt_root.slave_status()["Master_SSL_Allowed"] == "Yes"
    # the state belongs to this pair of servers
    other = free_port()
    rc, out = pair.run("cutover", "--yes", **{"--target-port": str(other)})
    assert rc == 1
    assert ("state file %s is for source and target 127.0.0.1:%d 127.0.0.1:%d, not "
            "127.0.0.1:%d 127.0.0.1:%d" % (pair.state_file, pair.source.port, pair.target.port,
                                           pair.source.port, other)) in out

    # a dry run of the cutover changes nothing
    before = world(pair)
    rc, out = pair.run("cutover", "--dry-run")
    assert rc == 0, out
    assert "DRY-RUN: sql_on source 'SET GLOBAL read_only=1'" in out
    assert "DRY-RUN: FLUSH TABLES WITH READ LOCK on the source" in out
    assert "DRY-RUN: sql_on target 'CALL mysql.rds_stop_replication()'" in out
    assert world(pair) == before
    assert "freeze" not in steps(pair)

    # no terminal, no --yes: refused before the first irreversible step
    rc, out = pair.run("cutover")
    assert rc == 1
    assert "refusing freeze the source 127.0.0.1:%d" % pair.source.port in out
    assert "without confirmation: re-run with --yes" in out
    assert pair.src.value("SELECT @@read_only") == "0"

    rc, out = pair.run("cutover", "--yes")
    assert rc == 0, out
    assert steps(pair) == ["preflight", "repl-user", "dump", "load", "replicate", "freeze",
                           "catch-up", "verify", "prepare-rollback", "switch-app",
                           "stop-replication"]
    src, tgt = snapshot(pair.src), snapshot(pair.tgt)
    assert set(src) == set(TABLES) and None not in src.values()
    assert src == tgt
    assert "every table has the same row count and checksum on both sides" in out
    # the application now points at the target; the old file is kept for rollback
    assert "@127.0.0.1:%d/shop" % pair.target.port in pair.app_config()
    with open(pair.app_env + ".before-rds-cutover") as f:
        assert "@127.0.0.1:%d/shop" % pair.source.port in f.read()
    # replication into the target is stopped and reset; the source is frozen
    assert pair.tgt_root.slave_status() == {}
    assert pair.src.value("SELECT @@read_only") == "1"
    rc, out = pair.app.query("INSERT INTO shop.orders (customer_id, total) VALUES (1, 1)")
    assert rc != 0 and "ERROR 1290" in out and "read-only" in out
    assert Client(pair.target.port, "admin", TARGET_PASSWORD).value(
        "SELECT COUNT(*) FROM shop.orders") == "4"
    assert_log_timestamped(pair)
    log = pair.log()
    assert "step verify: done" in log and "confirmed by --yes: freeze the source" in log
    assert_no_secrets(pair, log)


def test_resume_after_a_failure_in_the_middle(pair):
    # the target user may not create triggers: the load fails after the dump
    assert pair.tgt_root.query("REVOKE TRIGGER ON *.* FROM 'admin'@'%'")[0] == 0
    rc, out = pair.run("start")
    assert rc == 1, out
    assert "step load failed" in out and "re-run the same command to resume" in out
    assert "TRIGGER command denied" in out or "Access denied" in out
    assert steps(pair) == ["preflight", "repl-user", "dump"]
    # writes continue on the source meanwhile; then the cause is fixed and the run resumed
    assert pair.app.query("INSERT INTO shop.orders (customer_id, total) VALUES (3, 3.33)")[0] == 0
    assert pair.tgt_root.query("GRANT TRIGGER ON *.* TO 'admin'@'%'")[0] == 0
    rc, out = pair.run("start")
    assert rc == 0, out
    for s in ("preflight", "repl-user", "dump"):
        assert "step %s: already done, skipping" % s in out
    with open(pair.argv_log) as f:
        assert sum(1 for line in f if "/mysqldump " in line) == 1    # dumped once
    rc, out = pair.run("wait")
    assert rc == 0, out
    rc, out = pair.run("verify")
    assert rc == 0, out
    assert snapshot(pair.src) == snapshot(pair.tgt)
    assert pair.tgt.value("SELECT COUNT(*) FROM shop.orders") == "4"


def test_drift_on_the_target_stops_the_cutover(pair):
    start_and_sync(pair)
    # someone writes on the target behind replication's back
    assert pair.tgt_root.query("UPDATE shop.customers SET name='Bobby' WHERE id=2;"
                               "DELETE FROM legacy.hits WHERE id=3")[0] == 0
    config = pair.app_config()
    rc, out = pair.run("cutover", "--yes")
    assert rc == 1, out
    assert "verification failed, 2 table(s) differ between the source and the target" in out
    assert "legacy.hits (rows differ)" in out and "shop.customers (checksum differs)" in out
    assert "step verify failed" in out
    assert pair.app_config() == config
    assert "switch-app" not in steps(pair) and "verify" not in steps(pair)
    assert pair.tgt_root.slave_status().get("Slave_SQL_Running") == "Yes"
    # repaired, the same command resumes after the freeze and completes
    assert pair.tgt_root.query("UPDATE shop.customers SET name='Bob' WHERE id=2;"
                               "INSERT INTO legacy.hits (id, page) VALUES (3, '/caf\xe9')")[0] == 0
    rc, out = pair.run("cutover", "--yes")
    assert rc == 0, out
    assert "step freeze: already done, skipping" in out
    assert snapshot(pair.src) == snapshot(pair.tgt)
    assert "@127.0.0.1:%d/" % pair.target.port in pair.app_config()


def test_rollback_replicates_back_to_the_old_server(pair):
    original = pair.app_config()
    start_and_sync(pair)
    rc, out = pair.run("cutover", "--yes")
    assert rc == 0, out
    # the application works on the target for a while
    assert pair.tgt.query("INSERT INTO shop.orders (customer_id, total) VALUES (1, 77.70);"
                          "UPDATE shop.customers SET note='changed on RDS' WHERE id=3")[0] == 0
    rc, out = pair.run("rollback")
    assert rc == 1 and "without confirmation: re-run with --yes" in out
    rc, out = pair.run("rollback", "--yes")
    assert rc == 0, out
    assert "rollback complete" in out
    # the old server has the target's writes (and the trigger's audit row), is writable again,
    # replicates from nobody, and the application points at it again
    assert pair.src.value("SELECT COUNT(*) FROM shop.orders WHERE total=77.70") == "1"
    assert pair.src.value("SELECT note FROM shop.customers WHERE id=3") == "changed on RDS"
    assert snapshot(pair.src) == snapshot(pair.tgt)
    assert pair.src.value("SELECT @@read_only") == "0"
    assert pair.src.slave_status() == {}
    assert pair.app_config() == original
    rc, out = pair.app.query("INSERT INTO shop.orders (customer_id, total) VALUES (1, 2)")
    assert rc == 0, out
    assert glob.glob(pair.state_file + ".rolled-back.*") and not os.path.exists(pair.state_file)
    # the way back was encrypted and checked the target's certificate against --target-ca
    assert "MASTER_SSL=1, MASTER_SSL_CA='%s', MASTER_SSL_VERIFY_SERVER_CERT=1" % pair.ca \
        in pair.log()
    assert_no_secrets(pair, pair.log())


def test_rollback_before_the_switch_unfreezes_the_source(pair):
    start_and_sync(pair)
    assert pair.tgt_root.query("DELETE FROM legacy.hits WHERE id=1")[0] == 0   # drift
    rc, out = pair.run("cutover", "--yes")
    assert rc == 1 and "legacy.hits (rows differ)" in out
    assert pair.src.value("SELECT @@read_only") == "1"
    rc, out = pair.run("rollback", "--yes")
    assert rc == 0, out
    assert "the application was never switched" in out
    assert pair.src.value("SELECT @@read_only") == "0"
    assert pair.tgt_root.slave_status() == {}
    assert pair.app.query("INSERT INTO shop.orders (customer_id, total) VALUES (1, 2)")[0] == 0
    assert APP_PASSWORD in pair.app_config()     # untouched


def test_freeze_binds_privileged_users_while_the_cutover_runs(pair):
    """read_only does not bind root on MariaDB (READ ONLY ADMIN); the global read lock held
    during catch-up and verify does."""
    import subprocess
    import time
    start_and_sync(pair)
    # the target applies events 4 s late, so catch-up waits while the source is frozen
    assert pair.tgt_root.query("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=4; START SLAVE")[0] == 0
    assert pair.app.query("INSERT INTO shop.orders (customer_id, total) VALUES (2, 2.22)")[0] == 0
    env = dict(os.environ, PATH=pair.shim_dir + ":" + os.environ["PATH"])
    proc = subprocess.Popen(["bash", SCRIPT, "cutover", "--yes"] + pair.options(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 10
        while "FLUSH TABLES WITH READ LOCK on the source" not in open(pair.log_file).read():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        time.sleep(0.3)
        rc, out = pair.src.query("SET SESSION lock_wait_timeout=1;"
                                 "INSERT INTO shop.orders (customer_id, total) VALUES (1, 9)")
        assert rc != 0 and "Lock wait timeout exceeded" in out, out
        rc, out = pair.app.query("INSERT INTO shop.orders (customer_id, total) VALUES (1, 9)")
        assert rc != 0 and "ERROR 1290" in out
        assert proc.poll() is None      # still catching up
        out = proc.communicate(timeout=60)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "global read lock on the source released" in out
    assert snapshot(pair.src) == snapshot(pair.tgt)
    assert pair.tgt.value("SELECT COUNT(*) FROM shop.orders WHERE total=2.22") == "1"
    # after the command the lock is gone; read_only stays
    assert pair.src.value("SELECT @@read_only") == "1"
    rc, out = pair.src.query("SET SESSION lock_wait_timeout=1; CREATE DATABASE scratch")
    assert rc == 0, out


def test_plain_target_and_custom_log(pair, tmp_path):
    """--target-kind plain: CHANGE MASTER TO / START SLAVE as a privileged target user."""
    log = tmp_path / "night.log"
    opts = {"--target-kind": "plain", "--target-user": "root", "--target-password-file": None,
            "--app-config": None, "--log": str(log)}
    rc, out = pair.run("start", **opts)
    assert rc == 0, out
    assert "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='repl', " \
        "MASTER_PASSWORD='***'" % pair.source.port in out
    assert pair.tgt_root.slave_status()["Slave_SQL_Running"] == "Yes"
    assert pair.app.query("DELETE FROM shop.orders WHERE id=1")[0] == 0
    rc, out = pair.run("cutover", "--yes", **opts)
    assert rc == 0, out
    assert "point the application at 127.0.0.1:%d yourself now" % pair.target.port in out
    assert snapshot(pair.src) == snapshot(pair.tgt_root)
    assert pair.tgt_root.value("SELECT COUNT(*) FROM shop.orders") == "2"
    assert pair.tgt_root.slave_status() == {}
    text = log.read_text()
    assert "step stop-replication: done" in text
    assert not os.path.exists(pair.log_file)
    for part in SECRET_PARTS:
        assert part not in text


# --- the application switched by DNS (scripts/dns-cutover point, moto as Route 53) --------------

class Route53:
    """A private hosted zone in moto (signatures checked) holding the database's name."""

    def __init__(self, moto, work_dir):
        self.moto = moto
        full = aws_env(moto, moto.create_user_key(), work_dir)
        # only the AWS settings: PATH stays the pair's (its mysql shims)
        self.env = {k: v for k, v in full.items() if k.startswith("AWS_") or k == "PYTHONPATH"}
        self.zone = "shop%s.internal" % uuid.uuid4().hex[:8]
        vpc = self.aws("ec2", "create-vpc", "--cidr-block", "10.8.0.0/16")["Vpc"]["VpcId"]
        hz = self.aws("route53", "create-hosted-zone", "--name", self.zone, "--caller-reference",
                      uuid.uuid4().hex, "--vpc", "VPCRegion=%s,VPCId=%s" % (moto.region, vpc),
                      "--hosted-zone-config", "PrivateZone=true")
        self.zone_id = hz["HostedZone"]["Id"].split("/")[-1]
        self.name = "db.%s." % self.zone
        self.aws("route53", "change-resource-record-sets", "--hosted-zone-id", self.zone_id,
                 "--change-batch", json.dumps({"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
                     "Name": self.name, "Type": "A", "TTL": 300,
                     "ResourceRecords": [{"Value": "10.8.0.5"}]}}]}))

    def aws(self, *args):
        r = subprocess.run(["aws", "--endpoint-url", self.moto.endpoint] + list(args)
                           + ["--output", "json"], env=dict(os.environ, **self.env),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout) if r.stdout.strip() else None

    def db_records(self):
        rr = self.aws("route53", "list-resource-record-sets", "--hosted-zone-id", self.zone_id)
        return sorted((r["Type"], r.get("TTL"), tuple(v["Value"] for v in r["ResourceRecords"]))
                      for r in rr["ResourceRecordSets"] if r["Name"] == self.name)

    def options(self, **over):
        opts = {"--app-config": None, "--dns-name": self.name.rstrip("."), "--dns-zone": self.zone,
                "--dns-zone-id": self.zone_id, "--aws-endpoint-url": self.moto.endpoint}
        opts.update(over)
        return opts


def test_dns_name_pointed_at_the_target_and_back(pair, moto, tmp_path):
    """--dns-name: preflight checks the zone with a dry run of dns-cutover point, the cutover
    points the name at the target in Route 53, the rollback puts the old record back."""
    r53 = Route53(moto, str(tmp_path))
    before = r53.db_records()
    assert before == [("A", 300, ("10.8.0.5",))]
    # a wrong zone id is a preflight problem, named, and nothing changes
    rc, out = pair.run("preflight", env=r53.env, **r53.options(**{"--dns-zone-id": "ZNOSUCH"}))
    assert rc == 1, out
    assert "DNS: a dry run of dns-cutover point for %s failed" % r53.name.rstrip(".") in out
    # --dns-name alone is a usage error
    rc, out = pair.run("preflight", env=r53.env, **r53.options(**{"--dns-zone": None}))
    assert rc == 2 and "--dns-name needs --dns-zone" in out, out

    rc, out = pair.run("start", env=r53.env, **r53.options())
    assert rc == 0, out
    assert "DNS: %s can be pointed at 127.0.0.1" % r53.name.rstrip(".") in out
    assert r53.db_records() == before
    rc, out = pair.run("wait", env=r53.env, **r53.options())
    assert rc == 0, out
    # a dry run of the cutover shows the DNS change and makes none
    rc, out = pair.run("cutover", "--dry-run", env=r53.env, **r53.options())
    assert rc == 0, out
    assert "DRY-RUN:   UPSERT %s A 60 127.0.0.1" % r53.name in out
    assert r53.db_records() == before

    rc, out = pair.run("cutover", "--yes", env=r53.env, **r53.options())
    assert rc == 0, out
    assert r53.db_records() == [("A", 60, ("127.0.0.1",))]
    assert "application: %s now leads to 127.0.0.1" % r53.name.rstrip(".") in out
    assert pair.state().get("dns_switched")
    assert snapshot(pair.src) == snapshot(pair.tgt_root)

    rc, out = pair.run("rollback", "--yes", env=r53.env, **r53.options())
    assert rc == 0, out
    assert r53.db_records() == before
    assert "leads to the old server again" in out
    assert pair.src.value("SELECT @@read_only") == "0"
    assert_no_secrets(pair, out)
