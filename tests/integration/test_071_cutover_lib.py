"""scripts/lib/cutover.sh on its own: the state file, steps and resuming, dry-run, masking,
confirmation, tool checks, the log, one run at a time. (The cutover scripts' own tests use it
through the scripts.)"""
import os
import re
import stat
import subprocess

from harness import paths

LIB = os.path.join(paths.REPO, "scripts", "lib", "cutover.sh")


def bash(tmp_path, body, env=None, stdin=subprocess.DEVNULL):
    """Run body after sourcing the library with the state dir in tmp_path: (rc, stdout, stderr)."""
    script = "set -euo pipefail\n. %s\nCUTOVER_STATE_DIR=%s/state\n%s\n" % (
        LIB, tmp_path, body)
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(["bash", "-c", script], stdin=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=e, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


STEPS = """
cutover_init demo
mask_secret 'pa ss'
one() { run touch "$CUTOVER_STATE_DIR/one.touched"; state_set pos 'mysql-bin.000002 42=x'; }
two() { log_info "pos is $(state_get pos)"; [ -n "${FAIL:-}" ] && false; run echo 'pa ss'; }
step one "the first step" one
step two "the second step" two
"""


def test_steps_resume_after_a_failure(tmp_path):
    rc, out, err = bash(tmp_path, STEPS, env={"FAIL": "1"})
    assert rc == 1
    assert "step two failed (exit 1); fix the cause above and re-run the same command" in err
    state = (tmp_path / "state" / "demo.state").read_text()
    assert re.search(r"^step\.one=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", state, re.M)
    assert "pos=mysql-bin.000002 42=x" in state and "step.two" not in state
    rc, out, err = bash(tmp_path, STEPS)
    assert rc == 0, err
    assert "step one: already done, skipping" in err
    assert "pos is mysql-bin.000002 42=x" in err
    assert "step two: done" in err
    assert out == "pa ss\n"                        # the command itself runs unmasked
    log = (tmp_path / "state" / "demo.log").read_text()
    assert "run: echo '***'" in log and "pa ss" not in log
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ demo: ", line)
               for line in log.splitlines())
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "state" / "demo.log").st_mode) == 0o600


def test_dry_run_records_nothing(tmp_path):
    rc, out, err = bash(tmp_path, "CUTOVER_DRY_RUN=1\n" + STEPS)
    assert rc == 0, err
    assert "DRY-RUN: touch %s/state/one.touched" % tmp_path in out
    assert "DRY-RUN: echo '***'" in out
    assert "pos is mysql-bin.000002 42=x" in err    # kept in memory for the rest of the run
    assert not (tmp_path / "state" / "one.touched").exists()
    assert not (tmp_path / "state" / "demo.state").exists()


def test_confirm(tmp_path):
    body = 'cutover_init demo\nconfirm "drop the old zone"\necho confirmed'
    rc, out, err = bash(tmp_path, body)
    assert rc == 1
    assert "ERROR: refusing drop the old zone without confirmation: re-run with --yes" in err
    rc, out, err = bash(tmp_path, "CUTOVER_YES=1\n" + body)
    assert rc == 0 and out == "confirmed\n"
    assert "confirmed by --yes: drop the old zone" in err


def test_need_tool_die_usage_and_exit_cleanup(tmp_path):
    rc, out, err = bash(tmp_path, "cutover_init demo\nneed_tool no-such-tool-lf awscli")
    assert rc == 1 and "ERROR: no-such-tool-lf not found on PATH: install awscli" in err
    rc, out, err = bash(tmp_path, "die_usage 'no command given'")
    assert rc == 2 and "ERROR: no command given (see --help)" in err
    rc, out, err = bash(tmp_path, "cutover_init demo\ncutover_tmpdir\necho \"$CUTOVER_TMPDIR\"\n"
                        "cutover_atexit 'echo cleaned >&2'\nexit 3")
    assert rc == 3 and "cleaned" in err
    assert not os.path.exists(out.strip())


def test_one_run_at_a_time(tmp_path):
    holder = subprocess.Popen(["bash", "-c", "set -e\n. %s\nCUTOVER_STATE_DIR=%s/state\n"
                               "cutover_init demo\necho ready\nsleep 5" % (LIB, tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert holder.stdout.readline() == b"ready\n"
        rc, out, err = bash(tmp_path, "cutover_init demo")
        assert rc == 1 and "another demo run holds" in err
    finally:
        holder.kill()
        holder.wait()


PARSE = """
usage() { echo "the usage"; }
cmd="" zone="" redo=0 names=()
parse_option() {
    case "$1" in
        --zone) optarg; zone=$OPTVAL ;;
        --name) optarg; names+=("$OPTVAL") ;;
        --redo) redo=1 ;;
        -*) die_usage "unknown option '$1'" ;;
        *) cmd=$1 ;;
    esac
}
cutover_parse_options parse_option "$@"
echo "cmd=$cmd zone=$zone redo=$redo names=${names[*]} dry=$CUTOVER_DRY_RUN yes=$CUTOVER_YES" \\
    "state=$CUTOVER_STATE_DIR log=$CUTOVER_LOG"
"""


def parse(tmp_path, *args):
    body = "set -- %s\n%s" % (" ".join("'%s'" % a for a in args), PARSE)
    return bash(tmp_path, body)


def test_options_with_a_value_after_it_or_after_an_equals_sign(tmp_path):
    want = "cmd=import zone=example.com redo=1 names=a b=c dry=1 yes=1 state=/s log=/l\n"
    for args in (("import", "--zone", "example.com", "--name", "a", "--name", "b=c", "--redo",
                  "--dry-run", "--yes", "--state-dir", "/s", "--log", "/l"),
                 ("--zone=example.com", "--name=a", "--name=b=c", "import", "--redo", "--dry-run",
                  "--yes", "--state-dir=/s", "--log=/l")):
        rc, out, err = parse(tmp_path, *args)
        assert rc == 0 and out == want, (args, out, err)
    rc, out, err = parse(tmp_path, "import", "--help", "--bogus")
    assert rc == 0 and out == "the usage\n"
    for args, msg in ((("import", "--zone"), "--zone needs a value"),
                      (("import", "--zone="), "--zone needs a value"),
                      (("import", "--zone", ""), "--zone needs a value"),
                      (("import", "--redo=1"), "--redo takes no value"),
                      (("import", "--dry-run=yes"), "--dry-run takes no value"),
                      (("import", "--bogus", "x"), "unknown option '--bogus'")):
        rc, out, err = parse(tmp_path, *args)
        assert rc == 2 and "ERROR: %s (see --help)" % msg in err, (args, err)


def test_read_secret(tmp_path):
    f = tmp_path / "pw"
    f.write_bytes(b"s3cr3t pw\r\nsecond line\n")
    rc, out, err = bash(tmp_path, 'read_secret pw %s LF_NONE --pw-file\necho "[$pw]"\n'
                        'log_info "it is $pw"' % f)
    assert rc == 0 and out == "[s3cr3t pw]\n" and "it is ***" in err and "s3cr3t" not in err
    rc, out, err = bash(tmp_path, 'read_secret pw "" LF_PW --pw-file\necho "[$pw]"\n'
                        'log_info "it is $pw"', env={"LF_PW": "from-env"})
    assert rc == 0 and out == "[from-env]\n" and "it is ***" in err
    rc, out, err = bash(tmp_path, 'read_secret pw "" LF_NONE --pw-file\necho "[$pw]"')
    assert rc == 0 and out == "[]\n"
    rc, out, err = bash(tmp_path, 'read_secret pw %s/nope LF_NONE --pw-file' % tmp_path)
    assert rc == 1 and "ERROR: cannot read %s/nope (--pw-file)" % tmp_path in err
