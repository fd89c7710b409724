"""Processes the tests start: free ports, waiting, and stopping by PID (never by name).

Every server is started in its own session (setsid), so that it and all its children form one
process group with the server's PID as group id. Stopping sends SIGTERM to the PID, waits, and
then SIGKILLs whatever is left in that group. A registry remembers every live process, so a
forgotten or crashed fixture still gets its servers stopped at interpreter exit.

Process is one such process; Daemon is the base of every server the tests run (httpd, the
backends, moto, php-fpm, ...): start, wait until ready, alive, stop, restart.
"""
import atexit
import os
import random
import resource
import signal as _signal
import socket
import subprocess
import time

_LIVE = {}


# Ports handed out for servers come from below the kernel's ephemeral range (32768-60999 on
# Linux), so that no client socket's local port and no server bound to port 0 takes a port
# between the moment it is handed out and the moment its server binds it; and when the suite
# runs in parallel (pytest-xdist), each worker has a slice of its own, so two workers never hand
# out the same port.
PORT_RANGE = (20000, 32000)
_HANDED = set()


def _port_slice():
    lo, hi = PORT_RANGE
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    size = (hi - lo) // max(count, 1)
    return lo + index * size, lo + (index + 1) * size


def free_port(host="127.0.0.1"):
    """A TCP port of this process's slice that was free a moment ago on host, and that this
    process has not handed out before (until the slice wraps around)."""
    lo, hi = _port_slice()
    start = random.randrange(lo, hi)
    for i in range(hi - lo):
        port = lo + (start - lo + i) % (hi - lo)
        if port in _HANDED:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _HANDED.add(port)
        if len(_HANDED) > (hi - lo) // 2:
            _HANDED.clear()
        return port
    raise RuntimeError("no free port in %d-%d on %s" % (lo, hi, host))


def port_open(port, host="127.0.0.1", timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a truthy value; return that value, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s (last: %r)"
                               % (timeout, what, last))
        time.sleep(interval)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _allow_cores():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class Process:
    """A server process in its own session; output goes to files in a log directory."""

    def __init__(self, name, argv, log_dir, env=None, cwd=None, core_dumps=False):
        self.core_dumps = core_dumps
        self.name = name
        self.argv = list(argv)
        self.log_dir = log_dir
        self.env = env
        self.cwd = cwd
        self.proc = None
        self.stdout_path = os.path.join(log_dir, "%s.stdout" % name)
        self.stderr_path = os.path.join(log_dir, "%s.stderr" % name)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        with open(os.path.join(self.log_dir, "%s.cmd" % self.name), "a") as f:
            f.write(" ".join(self.argv) + "\n")
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=self.env, cwd=self.cwd,
                                         start_new_session=True,
                                         preexec_fn=_allow_cores if self.core_dumps else None)
        finally:
            out.close()
            err.close()
        _LIVE[self.proc.pid] = self
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def stop(self, sig=_signal.SIGTERM, timeout=10.0):
        """Stop the process by PID, then kill what is left of its process group. Returns the
        exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        pid = self.proc.pid
        rc = self.proc.poll()
        if rc is None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(pid, _signal.SIGKILL)
                except ProcessLookupError:
                    pass
                rc = None
                self.proc.wait(5)
        # leftovers (httpd children that outlived the parent, etc.)
        deadline = time.monotonic() + 5
        while _group_alive(pid) and time.monotonic() < deadline:
            try:
                os.killpg(pid, _signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        _LIVE.pop(pid, None)
        return rc

    def kill(self):
        return self.stop(sig=_signal.SIGKILL, timeout=5)

    def output(self):
        parts = []
        for p in (self.stdout_path, self.stderr_path):
            try:
                with open(p, errors="replace") as f:
                    parts.append(f.read())
            except OSError:
                pass
        return "".join(parts)


class Daemon:
    """A server process: argv() started in its own session in log_dir (output to <name>.stdout
    and <name>.stderr there), ready once ready() says so, stopped by PID. Subclasses give name
    and argv(); they may give prepare() (configuration, run before every start), ready()
    (default: self.port takes connections), log_paths (their own log files, shown when the
    start fails), env, cwd, core_dumps, start_timeout and stop_timeout. The process (a Process)
    is .process while there is one."""

    name = "daemon"
    program = None          # the file names of its output, when not name
    log_paths = ()
    env = None
    cwd = None
    core_dumps = False
    start_timeout = 20
    stop_timeout = 10

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.process = None

    def argv(self):
        raise NotImplementedError

    def prepare(self):
        """Before every start: write configuration and the like."""

    def ready(self):
        return port_open(self.port)

    def start(self, timeout=None):
        """Start and wait until ready(); raise with the tail of its output and logs if it exits
        or is not ready within timeout (then it is stopped)."""
        assert not self.alive(), "%s already running" % self.name
        timeout = self.start_timeout if timeout is None else timeout
        self.prepare()
        self.process = Process(self.program or self.name, self.argv(), self.log_dir,
                               env=self.env, cwd=self.cwd, core_dumps=self.core_dumps).start()
        try:
            wait_until(lambda: not self.process.alive() or self.ready(), timeout,
                       what="%s to be ready" % self.name)
        except TimeoutError as e:
            out = self.output(tail=3000)
            self.stop()
            raise TimeoutError("%s:\n%s" % (e, out)) from None
        if not self.process.alive():
            rc, out = self.process.proc.returncode, self.output(tail=3000)
            self.stop()
            raise RuntimeError("%s exited with %s at start:\n%s" % (self.name, rc, out))
        return self

    def alive(self):
        return self.process is not None and self.process.alive()

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def signal(self, sig):
        self.process.signal(sig)

    def stop(self):
        """SIGTERM to the PID, then SIGKILL to what is left of its process group."""
        if self.process is not None:
            self.process.stop(timeout=self.stop_timeout)

    def kill(self):
        """SIGKILL: gone at once, as after a crash; start() again is a restart."""
        if self.process is not None:
            self.process.kill()

    def restart(self, timeout=None):
        """Stop and start again (on the same ports)."""
        self.stop()
        return self.start(timeout)

    def output(self, tail=None):
        """Its stdout and stderr, then its own log files (tail: the last characters of each)."""
        texts = [("output", self.process.output() if self.process else "")]
        for path in self.log_paths:
            try:
                with open(path, errors="replace") as f:
                    texts.append((os.path.basename(path), f.read()))
            except OSError:
                pass
        return "".join("--- %s ---\n%s\n" % (label, text[-tail:] if tail else text)
                       for label, text in texts if text)


def run(argv, timeout=60, env=None, cwd=None, input=None):
    """Run a short command; return (exit code, stdout+stderr as text)."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       env=env, cwd=cwd, input=input)
    return p.returncode, p.stdout.decode(errors="replace")


def stop_all():
    for p in list(_LIVE.values()):
        try:
            p.stop(timeout=5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(stop_all)

