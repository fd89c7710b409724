"""Helpers for mod_health tests: read readiness/liveness/details, wait for a state."""
import re
import time

from .proc import wait_until

READY = "/health/ready"
LIVE = "/health/live"
DRAIN = "/health/drain"

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def details(srv, path=READY, **kw):
    """GET <path>?details from an allowed client: (status, parsed JSON)."""
    r = srv.get(path + "?details", **kw)
    assert r.header("Content-Type", "").startswith("application/json"), r
    return r.status, r.json()


def check(doc, name):
    for c in doc["checks"]:
        if c["name"] == name:
            return c
    raise KeyError("no check %r in %r" % (name, doc))


def wait_check(srv, name, state, timeout=10, path=READY):
    """Wait until check `name` has `state` ('up', 'down', 'unknown'); return the details doc."""
    last = {}

    def probe():
        _, doc = details(srv, path)
        last["doc"] = doc
        return doc if check(doc, name)["state"] == state else None

    try:
        return wait_until(probe, timeout, 0.05, what="check %s %s" % (name, state))
    except TimeoutError as e:
        raise TimeoutError("%s; last details: %r" % (e, last.get("doc"))) from None


def wait_ready(srv, status, timeout=10, path=READY, **kw):
    """Wait until the readiness path answers `status`; return the response."""
    return srv.wait_status(path, status, timeout=timeout, **kw)


def wait_details(srv, pred, timeout=10, path=READY, what="details condition"):
    last = {}

    def probe():
        _, doc = details(srv, path)
        last["doc"] = doc
        return doc if pred(doc) else None

    try:
        return wait_until(probe, timeout, 0.05, what=what)
    except TimeoutError as e:
        raise TimeoutError("%s; last details: %r" % (e, last.get("doc"))) from None


def sample(srv, path, seconds, interval=0.02, **kw):
    """Ask path repeatedly for `seconds`; return the list of responses."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(srv.get(path, **kw))
        time.sleep(interval)
    return out
