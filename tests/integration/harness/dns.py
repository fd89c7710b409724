"""BIND (Debian `bind9`) as a name server on 127.0.0.1 for the dns-cutover tests.

`Bind(log_dir, {"example.test": zone_text}).start()` runs `named -g` (foreground, logs to
stderr) as root on a free port with a generated named.conf: authoritative only (no recursion),
AXFR allowed to 127.0.0.1, no control channel. `set_zone(name, text)` rewrites a zone file and
reloads it (SIGHUP); `.port`, `.address` ("127.0.0.1:PORT"), `.zone_path(name)`.

Also the aws CLI plugin that tests need against moto (see aws_env()).
"""
import os
import signal
import subprocess
import time

from .proc import Daemon, free_port, wait_until

NAMED = "/usr/sbin/named"

_CONF = """options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ any; }};
    allow-transfer {{ 127.0.0.1; }};
    dnssec-validation no;
    notify no;
}};
controls {{ }};
{zones}
"""


class Bind(Daemon):
    """named on 127.0.0.1:port serving the given zones (name -> zone file text)."""

    name = "named"

    def __init__(self, log_dir, zones, port=None):
        super().__init__(log_dir)
        self.dir = os.path.join(log_dir, "named")
        os.makedirs(self.dir, exist_ok=True)
        self.zones = dict(zones)
        self.port = port or free_port()
        self.conf_path = os.path.join(self.dir, "named.conf")

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def zone_path(self, zone):
        return os.path.join(self.dir, "%s.zone" % zone)

    def _write(self):
        parts = []
        for z, text in self.zones.items():
            with open(self.zone_path(z), "w") as f:
                f.write(text)
            parts.append('zone "%s" { type primary; file "%s"; };' % (z, self.zone_path(z)))
        with open(self.conf_path, "w") as f:
            f.write(_CONF.format(dir=self.dir, port=self.port, zones="\n".join(parts)))

    def prepare(self):
        self._write()
        rc = subprocess.run(["named-checkconf", self.conf_path], capture_output=True, text=True)
        if rc.returncode != 0:
            raise RuntimeError("named.conf: %s" % (rc.stdout + rc.stderr))

    def argv(self):
        return [NAMED, "-g", "-4", "-c", self.conf_path, "-n", "1"]

    def ready(self):
        """named answers for its first zone."""
        zone = next(iter(self.zones))
        r = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "+time=1", "+tries=1",
                            "+short", zone, "SOA"], capture_output=True, text=True)
        return r.returncode == 0 and r.stdout.strip() != ""

    def soa_serial(self, zone):
        r = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "+short", zone, "SOA"],
                           capture_output=True, text=True)
        f = r.stdout.split()
        return int(f[2]) if len(f) > 2 else None

    def set_zone(self, zone, text, timeout=10):
        """Replace a zone's text and reload named (the zone's SOA serial must change)."""
        self.zones[zone] = text
        self._write()
        self.signal(signal.SIGHUP)
        want = None
        for line in text.splitlines():
            if " SOA " in line:
                want = int(line.split()[-5])
        if want is not None:
            wait_until(lambda: self.soa_serial(zone) == want, timeout,
                       what="named to load serial %d of %s" % (want, zone))
        else:
            time.sleep(1)


# moto (5.x, SigV4 checking on) recomputes the signature of a request without a body (every
# Route 53 GET: ListHostedZonesByName, ListResourceRecordSets, GetChange, ...) over a made-up
# body, so it refuses those correctly signed requests. botocore takes the payload hash from a
# signed X-Amz-Content-SHA256 header when there is one, on both sides, so a request carrying it
# passes. This aws CLI plugin adds that header to Route 53 requests before signing (a valid
# signature for real AWS too); the tests load it with AWS_CONFIG_FILE + PYTHONPATH.
_PLUGIN = '''"""aws CLI plugin for the tests: X-Amz-Content-SHA256 on Route 53 requests (moto)."""
import hashlib


def _payload_hash(request, **kwargs):
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    if isinstance(body, bytes):
        request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()


def awscli_initialize(cli):
    cli.register("before-sign.route53", _payload_hash)
'''


def aws_env(moto, key, work_dir, region=None):
    """Environment for the aws CLI against moto with key {"access_key", "secret_key"}: the
    credentials, the region, and the plugin above (its own config file, no ~/.aws)."""
    plug = os.path.join(work_dir, "awscli-plugin")
    os.makedirs(plug, exist_ok=True)
    with open(os.path.join(plug, "lf_moto_payload_hash.py"), "w") as f:
        f.write(_PLUGIN)
    cfg = os.path.join(plug, "config")
    with open(cfg, "w") as f:
        f.write("[plugins]\nlf_moto = lf_moto_payload_hash\n")
    env = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env.pop(k, None)
    env.update(AWS_ACCESS_KEY_ID=key["access_key"], AWS_SECRET_ACCESS_KEY=key["secret_key"],
               AWS_DEFAULT_REGION=region or moto.region, AWS_CONFIG_FILE=cfg,
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(plug, "credentials"),
               PYTHONPATH=plug, AWS_PAGER="")
    return env
