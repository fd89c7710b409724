"""Headless Chromium driven over W3C WebDriver: Debian's chromium + chromium-driver, and a small
client on the standard library (no selenium in the test interpreter).

    b = Browser(log_dir).start()
    b.get("http://127.0.0.1:%d/form" % port)
    b.find("input[type=file]").send_keys("/tmp/upload.bin")
    b.find("button[type=submit]").click()
    b.wait_for("#result")
    assert "stored" in b.text()
    b.quit()

chromedriver runs in its own session (setsid) and starts Chromium as its child, so quit() ends
the WebDriver session and then stops chromedriver's whole process group by PID; nothing is looked
up by name. Chromium gets a fresh --user-data-dir per browser and the flags that keep it from
reaching out to the network (no background networking, component updates, sync, QUIC).
"""
import base64
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request

from . import paths
from .proc import Daemon, free_port, wait_until

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"      # the W3C web element reference key

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--no-proxy-server", "--disable-extensions", "--window-size=1280,900"]


class WebDriverError(Exception):
    """An error answer of chromedriver: .error (W3C error code, e.g. "no such element")."""

    def __init__(self, error, message, status):
        super().__init__("%s (%s): %s" % (error, status, message.splitlines()[0] if message
                                          else ""))
        self.error = error
        self.message = message
        self.status = status


def chromium_binary():
    return paths.which("chromium", "chromium-browser", "/usr/bin/chromium")


def chromedriver_binary():
    return paths.which("chromedriver", "/usr/bin/chromedriver",
                       "/usr/lib/chromium/chromedriver")


class Element:
    def __init__(self, browser, eid):
        self.browser = browser
        self.id = eid

    def _cmd(self, method, what, body=None):
        return self.browser._cmd(method, "/element/%s%s" % (self.id, what), body)

    def send_keys(self, text):
        """Type text; for input[type=file], text is the absolute path of the file to pick."""
        self._cmd("POST", "/value", {"text": text})
        return self

    def click(self):
        self._cmd("POST", "/click", {})
        return self

    def clear(self):
        self._cmd("POST", "/clear", {})
        return self

    @property
    def text(self):
        return self._cmd("GET", "/text")

    def attribute(self, name):
        return self._cmd("GET", "/attribute/%s" % name)

    def property(self, name):
        return self._cmd("GET", "/property/%s" % name)


class Browser(Daemon):
    """One chromedriver + one headless Chromium (one WebDriver session)."""

    name = "chromedriver"
    start_timeout = 30
    stop_timeout = 5

    def __init__(self, log_dir, chromedriver=None, chromium=None, extra_args=(),
                 page_load_timeout=30):
        super().__init__(log_dir)
        self.chromedriver = chromedriver or chromedriver_binary()
        self.chromium = chromium or chromium_binary()
        self.extra_args = list(extra_args)
        self.page_load_timeout = page_load_timeout
        self.port = free_port()
        self.log_paths = (os.path.join(log_dir, "chromedriver.log"),)
        self.session = None
        self.profile = None

    # --- lifecycle ------------------------------------------------------------------------

    def prepare(self):
        if not self.chromedriver or not self.chromium:
            raise RuntimeError("chromium / chromedriver not found (Debian: chromium "
                               "chromium-driver; scripts/install-deps.sh installs them)")
        self.profile = tempfile.mkdtemp(prefix="lf-chromium-")

    def argv(self):
        return [self.chromedriver, "--port=%d" % self.port, "--log-path=%s" % self.log_paths[0]]

    def start(self, timeout=None):
        """chromedriver, then a WebDriver session (Chromium)."""
        try:
            super().start(timeout)
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "goog:chromeOptions": {
                    "binary": self.chromium,
                    "args": CHROMIUM_ARGS + ["--user-data-dir=%s" % self.profile]
                    + self.extra_args,
                }}}}
            value = self._http("POST", "/session", caps, timeout=timeout or self.start_timeout)
            self.session = value["sessionId"]
            self._cmd("POST", "/timeouts", {"pageLoad": int(self.page_load_timeout * 1000),
                                            "script": 30000, "implicit": 0})
        except BaseException:
            self.quit()
            raise
        return self

    def stop(self):
        """End the session (Chromium exits), stop chromedriver and whatever is left of its
        process group, remove the profile. Safe to call twice."""
        if self.session is not None:
            try:
                self._http("DELETE", "/session/%s" % self.session, timeout=10)
            except (OSError, WebDriverError):
                pass
            self.session = None
        super().stop()
        self.process = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    quit = stop

    # --- commands -------------------------------------------------------------------------

    def get(self, url):
        """Navigate and wait for the page load."""
        self._cmd("POST", "/url", {"url": url})
        return self

    @property
    def url(self):
        return self._cmd("GET", "/url")

    @property
    def title(self):
        return self._cmd("GET", "/title")

    @property
    def source(self):
        """The page's current DOM as HTML."""
        return self._cmd("GET", "/source")

    def text(self, css="body"):
        """The rendered text of the first element matching css (default: the whole page)."""
        return self.find(css).text

    def find(self, css):
        """The first element matching the CSS selector; WebDriverError "no such element" if
        there is none."""
        v = self._cmd("POST", "/element", {"using": "css selector", "value": css})
        return Element(self, v[ELEMENT])

    def find_all(self, css):
        v = self._cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, e[ELEMENT]) for e in v]

    def execute(self, script, *args):
        """Run JavaScript in the page (`return ...` gives a value); args are arguments[i]."""
        return self._cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, css=None, predicate=None, timeout=10, what=None):
        """Wait until an element matches css (returns it), or until predicate(browser) is
        truthy (returns its value)."""
        def probe():
            if css is not None:
                found = self.find_all(css)
                if not found:
                    return None
                if predicate is None:
                    return found[0]
            return predicate(self)
        return wait_until(probe, timeout, 0.05, what=what or css or "browser condition")

    def screenshot(self, path):
        """Save a PNG of the viewport."""
        with open(path, "wb") as f:
            f.write(base64.b64decode(self._cmd("GET", "/screenshot")))
        return path

    # --- the wire -------------------------------------------------------------------------

    def _cmd(self, method, path, body=None, timeout=60):
        if self.session is None:
            raise RuntimeError("browser is not started")
        return self._http(method, "/session/%s%s" % (self.session, path), body, timeout)

    def _http(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"})
        # chromedriver answers on loopback only; never use a proxy from the environment
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=timeout) as r:
                payload = json.loads(r.read().decode() or "{}")
        except urllib.error.HTTPError as e:
            try:
                v = json.loads(e.read().decode()).get("value", {})
            except ValueError:
                v = {}
            raise WebDriverError(v.get("error", "unknown error"), v.get("message", ""), e.code)
        return payload.get("value")

