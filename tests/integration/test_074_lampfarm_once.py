"""lampfarm-once (tools/lampfarm-once.c, docs/lampfarm-once.md): a cron job that every node starts
runs on one, against real redis, memcached and MariaDB on 127.0.0.1. No httpd: the command is run as cron
runs it, and the tests look at what a user sees — which jobs ran (each appends a line to a file),
exit codes, stderr, the keys in the store. TTLs are 1-2 s (memcached counts whole seconds: a key
of TTL 2 s lives between 1 and 2 s there), and every wait is for a state, not a fixed time."""
import os
import signal
import subprocess
import time

import pytest

from harness import paths
from harness.backends import MariaDB, Memcached, Redis, TlsFront
from harness.proc import free_port, wait_until
from harness.rcluster import RedisCluster
from harness.tls import make_test_ca, make_test_cas

ONCE = os.path.join(paths.BUILD, "bin", "lampfarm-once")
SKIPPED, STORE_DOWN, USAGE = 75, 69, 64

# a job that records its token, then runs until the test creates the file "go"
HOLD = 'echo "$LAMPFARM_ONCE_TOKEN" >> runs; while [ ! -e go ]; do sleep 0.01; done'


class Store:
    def __init__(self, kind, server, path=""):
        self.kind, self.server = kind, server
        self.url = "%s://%s127.0.0.1:%d%s" % (kind, "root@" if kind == "mysql" else "",
                                               server.port, path)
        # memcached's TTL of 1 s can end at its next clock tick, and MariaDB Connector/C counts
        # its timeouts in whole seconds: give them 2 s
        self.ttl = 1 if kind == "redis" else 2


@pytest.fixture(scope="module")
def mysqld(mariadb_template):
    """A MariaDB with the sessions table of modules/session_kv/sql/ in the database "once" (the
    database driver of mysql:// stores; the lease uses the same table as the sessions)."""
    s = MariaDB(paths.log_dir("_once-mysql"), mariadb_template).start()
    with open(os.path.join(paths.REPO, "modules", "session_kv", "sql",
                           "session_kv.mysql.sql")) as f:
        rc, out = s.query("CREATE DATABASE once; USE once; " + f.read())
    assert rc == 0, out
    yield s
    s.cleanup()


@pytest.fixture(params=["redis", "memcached", "mysql"])
def store(request):
    if request.param == "mysql":
        return Store("mysql", request.getfixturevalue("mysqld"), "/once")
    return Store(request.param, request.getfixturevalue(request.param))


def argv(url, name, ttl, *rest):
    return [ONCE, "--store", url, "--name", name, "--ttl", "%ds" % ttl] + list(rest)


def start(tmp_path, url, name, ttl, job, *opts, **kw):
    """lampfarm-once running `sh -c job` in tmp_path, in the background."""
    return subprocess.Popen(argv(url, name, ttl, *opts) + ["--", "sh", "-c", job], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def once(tmp_path, url, name, ttl, job, *opts, timeout=30, **kw):
    p = start(tmp_path, url, name, ttl, job, *opts, **kw)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def runs(tmp_path):
    path = tmp_path / "runs"
    return path.read_text().split() if path.exists() else []


def test_five_at_once_one_runs_each_round(store, tmp_path):
    """5 nodes start the same job at once, 10 times: one runs each time, the others skip (75)
    while it runs; the fencing tokens grow."""
    for n in range(10):
        procs = [start(tmp_path, store.url, "report", store.ttl, HOLD) for _ in range(5)]
        wait_until(lambda: sum(p.poll() is not None for p in procs) >= 4, 10, what="4 exits")
        (tmp_path / "go").touch()
        codes = sorted(p.wait(10) for p in procs)
        errs = [p.stderr.read() for p in procs]
        assert codes == [0, SKIPPED, SKIPPED, SKIPPED, SKIPPED], errs
        assert errs == [""] * 5  # skipping is silent: cron mails whatever is printed
        assert len(runs(tmp_path)) == n + 1
        (tmp_path / "go").unlink()
    tokens = [int(t) for t in runs(tmp_path)]
    assert tokens == sorted(set(tokens)) and tokens[0] > 1700000000


def test_holder_killed_runs_again_after_ttl(store, tmp_path):
    """The holder's node dies (kill -9 of lampfarm-once and its job): no release, so the other
    nodes skip until the TTL has passed, and then one runs."""
    ttl = 2
    holder = start(tmp_path, store.url, "cleanup", ttl, HOLD, start_new_session=True)
    wait_until(lambda: len(runs(tmp_path)) == 1, 10, what="the first run")
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(10)
    killed = time.monotonic()
    rc, out, err = once(tmp_path, store.url, "cleanup", ttl, 'echo "$LAMPFARM_ONCE_TOKEN" >> runs')
    assert rc == SKIPPED and len(runs(tmp_path)) == 1, err
    rc, out, err = once(tmp_path, store.url, "cleanup", ttl, 'echo "$LAMPFARM_ONCE_TOKEN" >> runs',
                        "--wait", "10s", "--verbose")
    waited = time.monotonic() - killed
    assert rc == 0, err
    assert "took the lease (token %s)" % runs(tmp_path)[1] in err
    first, second = (int(t) for t in runs(tmp_path))
    assert second > first
    # renewed every TTL/3: the lease outlived the kill by 2/3 TTL at least (redis: to the ms;
    # memcached's clock ticks in seconds), and by no more than the TTL
    assert waited < ttl + 1.5
    if store.kind == "redis":
        assert waited > ttl * 2 / 3 - 0.1


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_store_down_policies(kind, tmp_path):
    """Nothing listens at the store's port: skip (the default) exits 69 without running and says
    why; run runs the command anyway, with a warning, and exits with its code."""
    url = "%s://127.0.0.1:%d" % (kind, free_port())
    rc, out, err = once(tmp_path, url, "job", 2, "echo ran >> runs")
    assert rc == STORE_DOWN and runs(tmp_path) == []
    assert "lampfarm-once: job: cannot reach the store (taking the lease: " in err
    assert err.rstrip().endswith("): not run (--on-store-down skip)")
    rc, out, err = once(tmp_path, url, "job", 2, 'echo "$LAMPFARM_ONCE_TOKEN" >> runs; exit 3',
                        "--on-store-down", "run")
    assert rc == 3 and runs(tmp_path) == ["0"]
    assert "lampfarm-once: job: warning: cannot reach the store (taking the lease: " in err
    assert "running the command without a lease (--on-store-down run)" in err
    # --wait keeps asking a store that is down, then applies the policy
    t = time.monotonic()
    rc, out, err = once(tmp_path, url, "job", 2, "echo ran >> runs", "--wait", "1s")
    assert rc == STORE_DOWN and 1 <= time.monotonic() - t < 5


def test_store_hangs(hang_server, tmp_path):
    """A store that accepts and never answers: the same as down, within the timeouts (TTL/6)."""
    t = time.monotonic()
    rc, out, err = once(tmp_path, "redis://%s" % hang_server.target, "job", 2, "echo ran >> runs")
    assert rc == STORE_DOWN and runs(tmp_path) == [], err
    assert time.monotonic() - t < 3
    assert "cannot reach the store" in err


def test_renewals_keep_a_long_job(store, tmp_path):
    """A job that runs for more than 3 TTLs keeps the lease: every node that tries meanwhile
    skips; the job itself sees with --check that its token still holds it."""
    ttl = store.ttl
    job = HOLD + '; %s --store %s --name long --check "$LAMPFARM_ONCE_TOKEN"; echo $? > checked' % (
        ONCE, store.url)
    holder = start(tmp_path, store.url, "long", ttl, job)
    wait_until(lambda: len(runs(tmp_path)) == 1, 10, what="the run")
    t = time.monotonic()
    tries = 0
    while time.monotonic() - t < 3 * ttl + 0.5:
        rc, out, err = once(tmp_path, store.url, "long", ttl, "echo again >> runs")
        assert rc == SKIPPED, err
        tries += 1
    assert tries > 3 and len(runs(tmp_path)) == 1
    (tmp_path / "go").touch()
    assert holder.wait(10) == 0
    assert (tmp_path / "checked").read_text().strip() == "0"
    assert holder.stderr.read() == ""
    # released: the next node runs at once
    rc, out, err = once(tmp_path, store.url, "long", ttl, "echo again >> runs")
    assert rc == 0 and len(runs(tmp_path)) == 2


def test_lost_lease_seen_through_check(store, tmp_path):
    """lampfarm-once is stopped (SIGSTOP: no renewals) while its job runs on: the lease expires,
    another node takes it; the job's --check with its token says so (exit 1), and lampfarm-once,
    once it runs again, says on stderr that it lost the lease, and leaves the other's alone."""
    ttl = store.ttl
    job = ('echo "$LAMPFARM_ONCE_TOKEN" >> runs; while [ ! -e go ]; do sleep 0.01; done; '
           '%s --store %s --name nightly --check "$LAMPFARM_ONCE_TOKEN" 2> check.err; '
           'echo $? > checked; while [ ! -e end ]; do sleep 0.01; done; exit 7') % (ONCE, store.url)
    holder = start(tmp_path, store.url, "nightly", ttl, job)
    wait_until(lambda: len(runs(tmp_path)) == 1, 10, what="the run")
    os.kill(holder.pid, signal.SIGSTOP)
    try:
        # another node waits for the lease and gets it once it expired; it holds it a while
        other = start(tmp_path, store.url, "nightly", ttl * 5, HOLD.replace("go", "go2"),
                      "--wait", "10s")
        wait_until(lambda: len(runs(tmp_path)) == 2, 10, what="the other node's run")
        (tmp_path / "go").touch()
        wait_until(lambda: (tmp_path / "checked").exists(), 10, what="the job's --check")
        assert (tmp_path / "checked").read_text().strip() == "1"
        assert "token %s does not hold the lease: the lease is held by " % runs(tmp_path)[0] in (
            tmp_path / "check.err").read_text()
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    # the next renewal finds the other's lease
    wait_until(lambda: b"lost the lease" in _peek(holder), 10, what="the lost lease on stderr")
    (tmp_path / "end").touch()
    assert holder.wait(10) == 7
    # the other's lease is untouched: its token holds it
    r = subprocess.run([ONCE, "--store", store.url, "--name", "nightly", "--check",
                        runs(tmp_path)[1]], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    (tmp_path / "go2").touch()
    assert other.wait(10) == 0


def _peek(proc):
    """What proc wrote to stderr so far (without waiting for its end)."""
    buf = getattr(proc, "_peeked", b"")
    fd = proc.stderr.fileno()
    os.set_blocking(fd, False)
    try:
        chunk = os.read(fd, 65536)
        buf += chunk or b""
    except BlockingIOError:
        pass
    proc._peeked = buf
    return buf


def test_lease_deleted_by_hand(redis, tmp_path):
    """The lease deleted in the store (an operator's DEL): the next renewal says it is lost."""
    url = "redis://127.0.0.1:%d" % redis.port
    holder = start(tmp_path, url, "manual", 1, HOLD)
    wait_until(lambda: len(runs(tmp_path)) == 1, 10, what="the run")
    assert redis.command("DEL", "lampfarm-once:manual") == b":1\r\n"
    wait_until(lambda: b"lost the lease (the lease is gone" in _peek(holder), 10,
               what="the lost lease on stderr")
    (tmp_path / "go").touch()
    assert holder.wait(10) == 0


def test_periodic_once_per_period(store, tmp_path):
    """--period 1d: a second run the same (UTC) day skips, whoever asks; the job sees the
    period's number."""
    job = 'echo "$LAMPFARM_ONCE_PERIOD" >> runs'
    day = int(time.time() // 86400)
    rc, out, err = once(tmp_path, store.url, "daily", 2, job, "--period", "1d")
    assert rc == 0, err
    rc, out, err = once(tmp_path, store.url, "daily", 2, job, "--period", "1d", "--verbose")
    assert rc == SKIPPED
    assert "lampfarm-once: daily: skipped: period %d (from %s) already run by " % (
        day, time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(day * 86400))) in err
    assert runs(tmp_path) == [str(day)]


def test_periodic_next_period_runs(redis, tmp_path):
    """--period 2s: two runs in one period give one; the next period runs again."""
    url = "redis://127.0.0.1:%d" % redis.port
    job = 'echo "$LAMPFARM_ONCE_PERIOD" >> runs'
    # start just after a boundary, so both runs fall in one period
    wait_until(lambda: time.time() % 2 < 0.5, 5, interval=0.01, what="a period's start")
    period = int(time.time() // 2)
    assert once(tmp_path, url, "p2", 1, job, "--period", "2s")[0] == 0
    assert once(tmp_path, url, "p2", 1, job, "--period", "2s")[0] == SKIPPED
    assert int(time.time() // 2) == period
    wait_until(lambda: int(time.time() // 2) > period, 5, interval=0.01, what="the next period")
    assert once(tmp_path, url, "p2", 1, job, "--period", "2s")[0] == 0
    assert [int(n) for n in runs(tmp_path)] == [period, period + 1]


def test_signals_forwarded_and_lease_released(store, tmp_path):
    """SIGTERM to lampfarm-once reaches the job; the exit code is the job's, and the lease is
    given back (the next node runs at once)."""
    job = ("trap 'echo term >> got; exit 143' TERM; echo x >> runs; "
           "while :; do sleep 0.01; done")
    holder = start(tmp_path, store.url, "term", store.ttl, job)
    wait_until(lambda: len(runs(tmp_path)) == 1, 10, what="the run")
    holder.send_signal(signal.SIGTERM)
    assert holder.wait(10) == 143
    assert (tmp_path / "got").read_text() == "term\n"
    rc, out, err = once(tmp_path, store.url, "term", store.ttl, "echo x >> runs")
    assert rc == 0 and len(runs(tmp_path)) == 2, err


def test_command_cannot_run(redis, tmp_path):
    """A command that does not exist: 127 and why, and the lease is given back."""
    url = "redis://127.0.0.1:%d" % redis.port
    r = subprocess.run(argv(url, "missing", 1, "--", "/nonexistent/job"), capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 127
    assert "lampfarm-once: missing: cannot run /nonexistent/job: No such file or directory" in r.stderr
    assert redis.command("EXISTS", "lampfarm-once:missing") == b":0\r\n"


def test_tls_and_password(logs, tmp_path):
    """rediss:// with --ca-file runs the job; without it the server's certificate does not
    verify against the system's trust store (verification is on by default), and a wrong
    --ca-file is refused too. A password comes from --password-file, never shown."""
    ca, other_ca = make_test_cas(os.path.join(logs, "ca"), "redis.test")
    r = Redis(paths.sub_dir(logs, "redis-tls"), tls=ca).start()
    try:
        url = "rediss://127.0.0.1:%d" % r.tls_port
        rc, out, err = once(tmp_path, url, "tls", 1, "echo ok >> runs", "--ca-file", ca[0])
        assert rc == 0 and runs(tmp_path) == ["ok"], err
        rc, out, err = once(tmp_path, url, "tls", 1, "echo ok >> runs")
        assert rc == STORE_DOWN and "cannot reach the store" in err
        rc, out, err = once(tmp_path, url, "tls", 1, "echo ok >> runs", "--ca-file", other_ca)
        assert rc == STORE_DOWN and "cannot reach the store" in err
        assert runs(tmp_path) == ["ok"]

        assert r.command("CONFIG", "SET", "requirepass", "s3cret-pw") == b"+OK\r\n"
        (tmp_path / "pw").write_text("s3cret-pw\n")
        (tmp_path / "bad").write_text("wrong-pw\n")
        rc, out, err = once(tmp_path, url, "tls", 1, "echo pw >> runs", "--ca-file", ca[0],
                            "--password-file", str(tmp_path / "pw"))
        assert rc == 0 and runs(tmp_path) == ["ok", "pw"], err
        rc, out, err = once(tmp_path, url, "tls", 1, "echo pw >> runs", "--ca-file", ca[0],
                            "--password-file", str(tmp_path / "bad"))
        assert rc == STORE_DOWN and "wrong-pw" not in err and "s3cret" not in err
        rc, out, err = once(tmp_path, url, "tls", 1, "echo env >> runs", "--ca-file", ca[0],
                            "--password-env", "ONCE_PW", env=dict(os.environ, ONCE_PW="s3cret-pw"))
        assert rc == 0 and runs(tmp_path) == ["ok", "pw", "env"], err
    finally:
        r.stop()


def test_elasticache_iam(iamfront, logs, tmp_path):
    """ElastiCache IAM authentication (harness/iamfront.py checks each token with botocore,
    behind HAProxy's TLS): AUTH with a token for the URL's user, signed with the key file's
    credentials; a token for another cache is refused, and the store counts as down."""
    ak, sk = "AKIDLAMPFARMONCE", "lampfarm/once/SeCrEt+key"
    front = iamfront(cache="Jobs-01", region="eu-west-1", users=["cron-user"],
                     credentials=[{"access_key": ak, "secret_key": sk}])
    ca, crt, key = make_test_ca(os.path.join(logs, "ca"))
    tls = TlsFront(paths.sub_dir(logs, "tls-front"), front.port, crt, key).start()
    try:
        (tmp_path / "aws-keys").write_text("%s\n%s\n" % (ak, sk))
        url = "rediss://cron-user@127.0.0.1:%d" % tls.port
        iam = ["--ca-file", ca, "--iam-region", "eu-west-1",
               "--aws-credentials", "keyfile:%s" % (tmp_path / "aws-keys")]
        rc, out, err = once(tmp_path, url, "iam", 1, "echo iam >> runs", "--iam-cache", "Jobs-01",
                            *iam)
        assert rc == 0 and runs(tmp_path) == ["iam"], err
        assert front.auths and all(a.ok and a.user == "cron-user" for a in front.auths)
        n = len(front.auths)
        rc, out, err = once(tmp_path, url, "iam", 1, "echo iam >> runs", "--iam-cache",
                            "Other-02", *iam)
        assert rc == STORE_DOWN and "cannot reach the store" in err
        assert sk not in err and not any(a.token in err for a in front.auths)
        assert front.auths[n:] and not any(a.ok for a in front.auths[n:])
    finally:
        tls.stop()


def one_of_five(tmp_path, url, name, ttl, *opts):
    """5 nodes start the job at once: one runs, 4 skip while it runs."""
    procs = [start(tmp_path, url, name, ttl, HOLD, *opts) for _ in range(5)]
    wait_until(lambda: sum(p.poll() is not None for p in procs) >= 4, 10, what="4 exits")
    (tmp_path / "go").touch()
    codes = sorted(p.wait(10) for p in procs)
    assert codes == [0, SKIPPED, SKIPPED, SKIPPED, SKIPPED], [p.stderr.read() for p in procs]
    (tmp_path / "go").unlink()


def test_memcacheds(logs, tmp_path):
    """memcacheds:// (memcached over TLS, the meta protocol): the lease works the same; a server
    whose certificate does not chain to --ca-file is refused."""
    ca, other_ca = make_test_cas(os.path.join(logs, "ca"), "memcached.test")
    m = Memcached(paths.sub_dir(logs, "memcached-tls"), tls=ca).start()
    try:
        url = "memcacheds://127.0.0.1:%d" % m.tls_port
        one_of_five(tmp_path, url, "mtls", 2, "--ca-file", ca[0])
        one_of_five(tmp_path, url, "mtls", 2, "--ca-file", ca[0])
        assert len(runs(tmp_path)) == 2
        rc, out, err = once(tmp_path, url, "mtls", 2, "echo no >> runs", "--ca-file", other_ca)
        assert rc == STORE_DOWN and "cannot reach the store" in err
    finally:
        m.stop()


def test_redis_cluster(logs, tmp_path):
    """A TLS redis cluster through its seed (ElastiCache with cluster mode): the lease, its
    counter and its period live in different slots, each operation goes to its key's primary."""
    c = RedisCluster(paths.sub_dir(logs, "cluster"), replicas=0).start()
    try:
        url = c.url()
        for _ in range(3):
            one_of_five(tmp_path, url, "clustered", 1, "--ca-file", c.ca)
        tokens = [int(t) for t in runs(tmp_path)]
        assert len(tokens) == 3 and tokens == sorted(set(tokens))
        job = 'echo "$LAMPFARM_ONCE_PERIOD" >> periods'
        assert once(tmp_path, url, "daily", 1, job, "--period", "1d", "--ca-file", c.ca)[0] == 0
        assert once(tmp_path, url, "daily", 1, job, "--period", "1d", "--ca-file", c.ca)[0] == \
            SKIPPED
        slots = {c.key_slot(k) for k in ("lampfarm-once:clustered",
                                         "lampfarm-once:clustered:fence")}
        assert len(slots) == 2
    finally:
        c.stop()


@pytest.mark.parametrize("args,message", [
    ([], "--store URL is missing"),
    (["--store", "redis://127.0.0.1", "--ttl", "5s", "--", "true"], "--name NAME is missing"),
    (["--store", "nowhere", "--name", "j", "--ttl", "5s", "--", "true"], "--store: not a URL"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--", "true"], "--ttl DURATION is missing"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--ttl", "5x", "--", "true"],
     "--ttl: '5x' is not a duration such as 30s, 5m, 1h or 1d"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--ttl", "500ms", "--", "true"],
     "--ttl: at least 1s"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--ttl", "5s"], "no command to run"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--ttl", "5s", "--wait"],
     "--wait needs a value"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--ttl", "5s", "--on-store-down", "maybe",
      "--", "true"], "--on-store-down: 'maybe' is neither skip nor run"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--ttl", "5s", "--period", "1500ms", "--",
      "true"], "--period: '1500ms' is not a whole number of seconds"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--check", "abc"],
     "--check: 'abc' is not a fencing token"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--check", "5", "--", "true"],
     "--check takes no command"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--ttl", "5s", "--ca-file", "/etc/hosts",
      "--", "true"], "--ca-file: the store is not over TLS"),
    (["--store", "memcached://127.0.0.1", "--name", "j", "--ttl", "5s", "--password-file",
      "/etc/hosts", "--", "true"], "memcached takes no password"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--ttl", "5s", "--password-file",
      "/nonexistent/pw", "--", "true"], "the password: "),
    (["--store", "redis://user@127.0.0.1", "--name", "j", "--ttl", "5s", "--", "true"],
     "a redis user needs a password"),
    (["--store", "redis://127.0.0.1", "--name", "j", "--ttl", "5s", "--frobnicate", "x"],
     "unknown option '--frobnicate'"),
    (["--store", "redis://u@127.0.0.1", "--name", "j", "--ttl", "5s", "--iam-cache", "c",
      "--iam-region", "eu-west-1", "--", "true"], "--iam-cache needs a rediss:// store"),
    (["--store", "rediss://u@127.0.0.1", "--name", "j", "--ttl", "5s", "--iam-cache", "c",
      "--", "true"], "--iam-cache NAME and --iam-region REGION go together"),
    (["--store", "rediss://u@127.0.0.1", "--name", "j", "--ttl", "5s", "--iam-cache", "c",
      "--iam-region", "eu-west-1", "--aws-credentials", "keyfile", "--", "true"],
     "--aws-credentials: 'keyfile' is not default, keyfile:PATH or profile:NAME"),
])
def test_bad_arguments(args, message, tmp_path):
    r = subprocess.run([ONCE] + args, capture_output=True, text=True, timeout=10, cwd=tmp_path)
    assert r.returncode == USAGE, r.stderr
    assert r.stderr.startswith("lampfarm-once: ") and message in r.stderr
    assert r.stderr.rstrip().endswith("(see lampfarm-once --help)")
    assert r.stdout == ""


def test_help():
    r = subprocess.run([ONCE, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("Usage: lampfarm-once --store URL")
    assert "75 skipped" in r.stdout and "69 the store did not answer" in r.stdout


def test_make_install_installs_it(tmp_path):
    """`make install` puts lampfarm-once in $(BINDIR) (/usr/bin) under DESTDIR."""
    r = subprocess.run(["make", "--no-print-directory", "-C", paths.REPO, "install",
                        "BUILD=" + paths.BUILD, "DESTDIR=" + str(tmp_path), "LAYOUT=debian"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    installed = tmp_path / "usr" / "bin" / "lampfarm-once"
    assert os.access(installed, os.X_OK)
    assert subprocess.run([str(installed), "--help"], capture_output=True).returncode == 0
