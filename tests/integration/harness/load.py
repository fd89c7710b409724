"""Load on a server: wrk in the background (every non-2xx answer and every socket error is
counted), or threads of the test process that time every request (Timed)."""
import math
import os
import re
import signal
import subprocess
import threading
import time

from . import paths

# wrk runs one Lua state per thread: setup() keeps the threads so done() can add their counts.
LUA = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; bad = 0; codes = "" end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1
  else
    bad = bad + 1
    if #codes < 200 then codes = codes .. status .. " " end
  end
end
function done(summary, latency, requests)
  local o, b, c = 0, 0, ""
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); b = b + t:get("bad"); c = c .. t:get("codes")
  end
  io.write(string.format(
    "LF-RESULT requests=%d ok=%d bad=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, o, b, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status))
  io.write("LF-CODES " .. c .. "\n")
end
"""


class Wrk:
    """wrk -t<threads> -c<connections> for up to `duration`, stopped early with stop()."""

    def __init__(self, url, log_dir, threads=2, connections=8, duration="120s",
                 timeout="5s"):
        self.url = url
        self.log_dir = log_dir
        self.script = os.path.join(log_dir, "wrk-count.lua")
        with open(self.script, "w") as f:
            f.write(LUA)
        self.argv = [paths.which("wrk"), "-t%d" % threads, "-c%d" % connections,
                     "-d%s" % duration, "--timeout", timeout, "-s", self.script, url]
        self.out_path = os.path.join(log_dir, "wrk.out")
        self.proc = None
        self.result = None

    def start(self):
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def stop(self, timeout=15):
        """SIGINT makes wrk stop and print its summary; returns the parsed counts."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        with open(self.out_path, errors="replace") as f:
            text = f.read()
        m = re.search(r"LF-RESULT (.*)", text)
        if not m:
            raise RuntimeError("no result from wrk:\n" + text)
        self.result = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
        codes = re.search(r"LF-CODES (.*)", text)
        self.result["codes"] = codes.group(1).strip() if codes else ""
        self.result["output"] = text
        return self.result

    def failures(self):
        r = self.result
        return r["bad"] + r["connect"] + r["read"] + r["write"] + r["timeout"]


class Timed:
    """Load from threads of the test process, each sending one request after another (one
    connection each, as harness.http does) and timing every one: for assertions on per-request
    latencies, which wrk only summarises. Thread i asks paths[i % len(paths)].

        load = Timed(srv, ["/a", "/b"], threads=16, headers={"Cookie": "session=..."}).start()
        ...
        samples = load.stop()        # [Sample], in the order they ended
        slow = percentile([s.elapsed for s in load.between(t0, t1)], 99)
    """

    class Sample:
        __slots__ = ("path", "start", "elapsed", "status", "headers")

        def __init__(self, path, start, elapsed, status, headers):
            self.path = path
            self.start = start          # time.monotonic() when it was sent
            self.elapsed = elapsed      # seconds to the last byte of the answer
            self.status = status        # None when no answer came (socket error, timeout)
            self.headers = headers

        def __repr__(self):
            return "<%s %s %.3fs>" % (self.path, self.status, self.elapsed)

    def __init__(self, srv, paths, threads=16, headers=None, timeout=10.0):
        self.srv = srv
        self.paths = list(paths)
        self.threads = threads
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.samples = []
        self._stop = threading.Event()
        self._workers = []
        self._lock = threading.Lock()

    def _run(self, path):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                r = self.srv.get(path, headers=self.headers, timeout=self.timeout)
                s = Timed.Sample(path, t0, r.elapsed, r.status, r.headers)
            except OSError:
                s = Timed.Sample(path, t0, time.monotonic() - t0, None, None)
            with self._lock:
                self.samples.append(s)

    def start(self):
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(self.paths[i % len(self.paths)],),
                                 name="timed-load-%d" % i, daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._workers:
            t.join(self.timeout + 5)
        return self.samples

    def between(self, t0, t1, path=None):
        """The samples sent in [t0, t1) (time.monotonic()), optionally of one path only."""
        with self._lock:
            return [s for s in self.samples
                    if t0 <= s.start < t1 and (path is None or s.path == path)]


def percentile(values, p):
    """The p-th percentile (nearest rank) of values; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(math.ceil(p / 100.0 * len(ordered))))
    return ordered[rank - 1]
