"""Processes the tests start: free ports, waiting, and stopping by PID (never by name).

Every server is started in its own session (setsid), so that it and all its children form one
process group with the server's PID as group id. Stopping sends SIGTERM to the PID, waits, and
then SIGKILLs whatever is left in that group. A registry remembers every live process, so a
forgotten or crashed fixture still gets its servers stopped at interpreter exit.
"""
import atexit
import os
import resource
import signal as _signal
import socket
import subprocess
import time

_LIVE = {}


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on host."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


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

