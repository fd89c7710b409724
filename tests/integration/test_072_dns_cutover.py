"""scripts/dns-cutover end to end: BIND (named, Debian bind9) on 127.0.0.1 is the registrar's
name server, moto (SigV4 checking on) is Route 53 and ELBv2. Import (AXFR and zone file, in
batches within Route 53's limits), the comparison (injected differences are caught), lower-ttl,
the switch (ALIAS to the ELB's CanonicalHostedZoneId, weighted, CNAME), verification through the
API and with dig against a second named that serves the switched zone, rollback, dry run, re-run,
and bad input (zone file with errors, unreachable name server, refused credentials, missing
tools).

moto serves no DNS, so the "authoritative name server after the switch" is a second named loaded
with what Route 53 would answer (the ELB's addresses), and the ELB's own name is served there too.
"""
import json
import os
import shutil
import subprocess
import uuid

import pytest

from harness.dns import Bind, aws_env
from harness.moto import moto_python
from harness.paths import REPO
from harness.proc import free_port

SCRIPT = os.path.join(REPO, "scripts", "dns-cutover")

OLD_ZONE = """$TTL 3600
@       IN SOA ns1.{z}. hostmaster.{z}. {serial} 7200 900 1209600 300
@       IN NS  ns1.{z}.
@       IN A   192.0.2.10
@       IN MX  10 mail.{z}.
@       IN TXT "v=spf1 mx -all" "a second  string"
www 1800 IN A  192.0.2.10
mail    IN A   192.0.2.12
ns1     IN A   192.0.2.1
*.wild  IN A   192.0.2.11
ipv6    IN AAAA 2001:db8::1
sub     IN NS  ns.elsewhere.test.
_sip._tcp IN SRV 10 5 5060 sip.{z}.
sip     IN CNAME mail.{z}.
"""


def zone_text(z, serial=1, extra=""):
    return OLD_ZONE.format(z=z, serial=serial) + extra


@pytest.fixture(scope="module")
def aws(moto, tmp_path_factory):
    """Environment for the aws CLI and the script: a fresh IAM key accepted by moto."""
    key = moto.create_user_key()
    return aws_env(moto, key, str(tmp_path_factory.mktemp("aws")))


@pytest.fixture
def zone():
    return "z%s.test" % uuid.uuid4().hex[:10]


@pytest.fixture
def state(tmp_path):
    d = tmp_path / "state"
    return str(d)


@pytest.fixture
def named(logs):
    started = []

    def make(zones, name="named"):
        d = os.path.join(logs, name)
        os.makedirs(d, exist_ok=True)
        b = Bind(d, zones).start()
        started.append(b)
        return b

    yield make
    for b in started:
        b.stop()


class Runner:
    def __init__(self, moto, env, state):
        self.moto = moto
        self.env = env
        self.state = state

    def __call__(self, *args, env=None, state=None, input=None, timeout=120):
        argv = [SCRIPT] + list(args) + ["--endpoint-url", self.moto.endpoint,
                                        "--state-dir", state or self.state]
        r = subprocess.run(argv, env=env or self.env, capture_output=True, text=True,
                           timeout=timeout, input=input)
        r.out = r.stdout + r.stderr
        return r

    def aws(self, *args):
        r = subprocess.run(["aws", "--endpoint-url", self.moto.endpoint] + list(args)
                           + ["--output", "json"], env=self.env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout) if r.stdout.strip() else None

    def zones(self, z):
        res = self.aws("route53", "list-hosted-zones-by-name", "--dns-name", z + ".")
        return [h["Id"].split("/")[-1] for h in res["HostedZones"] if h["Name"] == z + "."]

    def records(self, z):
        (zid,) = self.zones(z)
        rr = self.aws("route53", "list-resource-record-sets", "--hosted-zone-id", zid)
        return {(r["Name"].replace("\\052", "*"), r["Type"], r.get("SetIdentifier")): r
                for r in rr["ResourceRecordSets"]}

    def change(self, z, action, rrset):
        (zid,) = self.zones(z)
        self.aws("route53", "change-resource-record-sets", "--hosted-zone-id", zid,
                 "--change-batch", json.dumps({"Changes": [{"Action": action,
                                                             "ResourceRecordSet": rrset}]}))


@pytest.fixture
def dns(moto, aws, state):
    return Runner(moto, aws, state)


@pytest.fixture(scope="module")
def elb(moto, aws):
    """An application load balancer in moto: (name, DNSName, CanonicalHostedZoneId)."""
    r = Runner(moto, aws, None)
    vpc = r.aws("ec2", "create-vpc", "--cidr-block", "10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [r.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.9.%d.0/24" % i,
                     "--availability-zone", "us-east-1" + az)["Subnet"]["SubnetId"]
               for i, az in ((1, "a"), (2, "b"))]
    name = "lf-web-%s" % uuid.uuid4().hex[:6]
    lb = r.aws("elbv2", "create-load-balancer", "--name", name, "--subnets",
               *subnets)["LoadBalancers"][0]
    return name, lb["DNSName"].lower(), lb["CanonicalHostedZoneId"]


def switched_zone(z, elb_dns, elb_ip="127.0.0.10"):
    """What Route 53's name servers answer after the switch: the apex and www resolve to the
    load balancer's address (ALIAS), the rest as before."""
    text = zone_text(z, serial=5).replace("@       IN A   192.0.2.10\n", "@ IN A %s\n" % elb_ip)
    return text.replace("www 1800 IN A  192.0.2.10\n", "www 60 IN A %s\n" % elb_ip)


def elb_zone(elb_dns, ip="127.0.0.10"):
    host, _, domain = elb_dns.partition(".")
    return domain, ("$TTL 60\n@ IN SOA ns. h. 1 1 1 1 1\n@ IN NS ns.%s.\nns IN A 127.0.0.1\n"
                    "%s IN A %s\n" % (domain, host, ip))


# --- help and usage ------------------------------------------------------------------------------

def test_help_documents_each_step_in_order(dns):
    r = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    pos = [r.stdout.index("\n  %s " % s) for s in
           ("import", "compare", "lower-ttl", "switch", "verify", "rollback")]
    assert pos == sorted(pos)
    for opt in ("--dry-run", "--yes", "--endpoint-url", "--state-dir", "--log", "--weight",
                "--api-only", "CanonicalHostedZoneId", "named-checkzone", "AXFR"):
        assert opt in r.stdout
    r = subprocess.run([SCRIPT], capture_output=True, text=True)
    assert r.returncode == 2 and "no subcommand" in r.stderr
    r = dns("import", "--zone", "x.test", "--bogus")
    assert r.returncode == 2 and "unknown option '--bogus'" in r.stderr


# --- the whole night -----------------------------------------------------------------------------

@pytest.mark.timeout(240)
def test_import_compare_lower_switch_verify_rollback(dns, named, zone, elb, state, tmp_path):
    old = named({zone: zone_text(zone)})
    # import by AXFR from the old server
    r = dns("import", "--zone", zone, "--old-ns", old.address)
    assert r.returncode == 0, r.out
    assert len(dns.zones(zone)) == 1
    rec = dns.records(zone)
    assert rec[(zone + ".", "A", None)]["ResourceRecords"] == [{"Value": "192.0.2.10"}]
    assert rec[(zone + ".", "TXT", None)]["ResourceRecords"] == [
        {"Value": '"v=spf1 mx -all" "a second  string"'}]
    assert rec[("*.wild.%s." % zone, "A", None)]["TTL"] == 3600
    assert rec[("www.%s." % zone, "A", None)]["TTL"] == 1800
    assert rec[("sub.%s." % zone, "NS", None)]["ResourceRecords"] == [
        {"Value": "ns.elsewhere.test."}]
    # SOA and apex NS are Route 53's own
    assert rec[(zone + ".", "NS", None)]["ResourceRecords"][0]["Value"].startswith("ns-")
    zid = dns.zones(zone)[0]
    assert "zone_id=%s" % zid in open(os.path.join(state, "dns-cutover.%s.state" % zone)).read()

    # re-run: steps skipped; a fresh state directory finds the zone by name: never a second one
    r = dns("import", "--zone", zone, "--old-ns", old.address)
    assert r.returncode == 0 and "already done" in r.out
    r = dns("import", "--zone", zone, "--old-ns", old.address, state=str(tmp_path / "other"))
    assert r.returncode == 0, r.out
    assert "hosted zone %s. exists: %s" % (zone, zid) in r.out
    assert dns.zones(zone) == [zid]

    # compare: equal
    r = dns("compare", "--zone", zone, "--old-ns", old.address)
    assert r.returncode == 0, r.out
    # injected differences: a changed value in Route 53, a record only at the old server
    dns.change(zone, "UPSERT", {"Name": "mail.%s." % zone, "Type": "A", "TTL": 3600,
                                "ResourceRecords": [{"Value": "192.0.2.99"}]})
    old.set_zone(zone, zone_text(zone, 2, "extra IN A 192.0.2.50\n"))
    r = dns("compare", "--zone", zone, "--old-ns", old.address)
    assert r.returncode == 1
    assert "differs:" in r.stdout and "mail.%s. A: old TTL 3600 192.0.2.12; Route 53 TTL 3600 " \
        "192.0.2.99" % zone in r.stdout
    assert "only at the old server: extra.%s. A" % zone in r.stdout
    assert "2 difference(s)" in r.stderr
    # the switch refuses while they differ
    name, elb_dns, elb_zone_id = elb
    r = dns("switch", "--zone", zone, "--old-ns", old.address, "--elb-name", name, "--yes")
    assert r.returncode == 1 and "differ" in r.out
    assert dns.records(zone)[(zone + ".", "A", None)]["ResourceRecords"][0]["Value"] == "192.0.2.10"
    # put it right: import again
    r = dns("import", "--zone", zone, "--old-ns", old.address, "--redo")
    assert r.returncode == 0, r.out
    assert dns("compare", "--zone", zone, "--old-ns", old.address).returncode == 0

    # lower-ttl: Route 53 lowered, the registrar's zone written, the wait announced
    zf = tmp_path / "registrar.zone"
    zf.write_text(zone_text(zone, 2, "extra IN A 192.0.2.50\n"))
    r = dns("lower-ttl", "--zone", zone, "--ttl", "60", "--old-zone-file", str(zf))
    assert r.returncode == 0, r.out
    assert "Wait at least 3600 seconds" in r.stdout, r.stdout
    rec = dns.records(zone)
    assert rec[(zone + ".", "A", None)]["TTL"] == 60
    assert rec[("www.%s." % zone, "A", None)]["TTL"] == 60
    assert rec[("mail.%s." % zone, "A", None)]["TTL"] == 3600
    lowered = os.path.join(state, "dns-cutover.%s.registrar-lowered-ttl.zone" % zone)
    assert "www.%s.\t1800" % zone in r.stdout.replace(" ", "\t") or "1800" in r.stdout
    # the registrar applies it: the zones agree again
    old.set_zone(zone, open(lowered).read())
    r = dns("compare", "--zone", zone, "--old-ns", old.address)
    assert r.returncode == 0, r.out

    # switch (the TTL wait is not over: --yes answers that question too)
    r = dns("switch", "--zone", zone, "--old-ns", old.address, "--elb-name", name, "--yes")
    assert r.returncode == 0, r.out
    rb = os.path.join(state, "dns-cutover.%s.rollback.json" % zone)
    assert "Rollback change batch: %s" % rb in r.stdout
    rec = dns.records(zone)
    apex = rec[(zone + ".", "A", None)]
    assert apex["AliasTarget"]["HostedZoneId"] == elb_zone_id
    assert apex["AliasTarget"]["DNSName"].rstrip(".").lower() == elb_dns
    assert rec[("www.%s." % zone, "A", None)]["AliasTarget"]["HostedZoneId"] == elb_zone_id
    assert rec[(zone + ".", "MX", None)]["ResourceRecords"] == [{"Value": "10 mail.%s." % zone}]
    assert "change" in r.out and "INSYNC" in r.out
    # switching again changes nothing
    r = dns("switch", "--zone", zone, "--old-ns", old.address, "--elb-name", name, "--yes")
    assert r.returncode == 0 and "already point at" in r.out

    # verify: through the API, and with dig against the switched zone's name server
    r = dns("verify", "--zone", zone, "--elb-name", name, "--api-only")
    assert r.returncode == 0, r.out
    domain, text = elb_zone(elb_dns)
    new = named({zone: switched_zone(zone, elb_dns), domain: text}, name="new")
    r = dns("verify", "--zone", zone, "--elb-name", name, "--ns", new.address,
            "--resolver", new.address)
    assert r.returncode == 0, r.out
    assert "%s: www.%s. A 127.0.0.10 (the load balancer)" % (new.address, zone) in r.out
    # the old server still answers the old address: verify says so
    r = dns("verify", "--zone", zone, "--elb-name", name, "--ns", old.address,
            "--resolver", new.address)
    assert r.returncode == 1
    assert "A 192.0.2.10 is not an address of the load balancer" in r.out
    # without --ns: the delegation set, which moto does not serve: a clear message
    r = dns("verify", "--zone", zone, "--elb-name", name, "--resolver", new.address)
    assert r.returncode == 1 and "--api-only" in r.out

    # rollback: the records before the switch, exactly
    before = json.load(open(rb))
    r = dns("rollback", "--zone", zone)
    assert r.returncode == 1 and "--yes" in r.out        # no tty, no --yes: refused
    r = dns("rollback", "--zone", zone, "--yes")
    assert r.returncode == 0, r.out
    rec = dns.records(zone)
    assert rec[(zone + ".", "A", None)]["ResourceRecords"] == [{"Value": "192.0.2.10"}]
    assert rec[(zone + ".", "A", None)]["TTL"] == 60
    assert "AliasTarget" not in rec[("www.%s." % zone, "A", None)]
    assert before["Changes"]
    assert dns("compare", "--zone", zone, "--old-ns", old.address).returncode == 0
    log = open(os.path.join(state, "dns-cutover.%s.log" % zone)).read()
    assert "run: aws" in log and "change-resource-record-sets" in log


def test_weighted_then_full_switch_and_cname_www(dns, named, zone, elb, state):
    old = named({zone: zone_text(zone)})
    assert dns("import", "--zone", zone, "--old-ns", old.address).returncode == 0
    name, elb_dns, elb_zone_id = elb
    r = dns("switch", "--zone", zone, "--old-ns", old.address, "--elb-name", name, "--weight",
            "10", "--yes")
    assert r.returncode == 0, r.out
    rec = dns.records(zone)
    assert rec[(zone + ".", "A", "lampfarm-old")]["Weight"] == 90
    assert rec[(zone + ".", "A", "lampfarm-old")]["ResourceRecords"] == [{"Value": "192.0.2.10"}]
    assert rec[(zone + ".", "A", "lampfarm-elb")]["Weight"] == 10
    assert rec[(zone + ".", "A", "lampfarm-elb")]["AliasTarget"]["HostedZoneId"] == elb_zone_id
    assert (zone + ".", "A", None) not in rec
    # more weight, then the full switch with www as a CNAME
    r = dns("switch", "--zone", zone, "--elb-name", name, "--weight", "50", "--yes")
    assert r.returncode == 0, r.out
    assert dns.records(zone)[(zone + ".", "A", "lampfarm-elb")]["Weight"] == 50
    r = dns("switch", "--zone", zone, "--elb-name", name, "--www", "cname", "--yes")
    assert r.returncode == 0, r.out
    rec = dns.records(zone)
    assert (zone + ".", "A", "lampfarm-old") not in rec
    assert rec[("www.%s." % zone, "CNAME", None)]["ResourceRecords"][0]["Value"].rstrip(".") \
        == elb_dns
    assert ("www.%s." % zone, "A", None) not in rec
    r = dns("verify", "--zone", zone, "--elb-name", name, "--api-only")
    assert r.returncode == 0, r.out
    # rollback goes back to before the first switch
    r = dns("rollback", "--zone", zone, "--yes")
    assert r.returncode == 0, r.out
    rec = dns.records(zone)
    assert rec[("www.%s." % zone, "A", None)]["ResourceRecords"] == [{"Value": "192.0.2.10"}]
    assert ("www.%s." % zone, "CNAME", None) not in rec
    assert not [k for k in rec if k[2]]
    assert dns("compare", "--zone", zone, "--old-ns", old.address).returncode == 0


def test_dry_run_changes_nothing(dns, named, zone, elb, state, tmp_path):
    old = named({zone: zone_text(zone)})
    r = dns("import", "--zone", zone, "--old-ns", old.address, "--dry-run")
    assert r.returncode == 0, r.out
    assert "DRY-RUN: aws" in r.stdout and "create-hosted-zone" in r.stdout
    assert "DRY-RUN:   UPSERT mail.%s. A 3600 192.0.2.12" % zone in r.stdout
    assert dns.zones(zone) == []
    assert not os.path.exists(os.path.join(state, "dns-cutover.%s.state" % zone))
    assert dns("import", "--zone", zone, "--old-ns", old.address).returncode == 0
    before = dns.records(zone)
    name = elb[0]
    for args in (("lower-ttl",), ("switch", "--old-ns", old.address, "--elb-name", name),
                 ("switch", "--old-ns", old.address, "--elb-name", name, "--weight", "5")):
        r = dns(*args, "--zone", zone, "--dry-run")
        assert r.returncode == 0, r.out
        assert "DRY-RUN:" in r.stdout
        assert dns.records(zone) == before
    assert "DRY-RUN:   CREATE %s. A [lampfarm-elb weight 5] ALIAS" % zone in r.stdout
    assert not os.path.exists(os.path.join(state, "dns-cutover.%s.rollback.json" % zone))


def test_import_from_zone_file_in_batches(dns, zone, tmp_path):
    # 700 record sets: 1400 UPSERT records > 1000 per request -> two batches
    extra = "".join("h%03d IN A 198.51.100.%d\n" % (i, i % 250 + 1) for i in range(700))
    zf = tmp_path / "big.zone"
    zf.write_text(zone_text(zone, extra=extra))
    r = dns("import", "--zone", zone, "--zone-file", str(zf))
    assert r.returncode == 0, r.out
    assert "import-batch.1.json: 500 record sets" in r.out
    assert "import-batch.2.json:" in r.out and "import-batch.3.json" not in r.out
    rec = dns.records(zone)
    assert ("h699.%s." % zone, "A", None) in rec
    assert len(rec) == 700 + 11 + 2
    assert dns("compare", "--zone", zone, "--zone-file", str(zf)).returncode == 0


def test_batches_respect_the_character_limit(dns, zone, tmp_path):
    # 40 TXT record sets of ~500 characters: 2 x 20,000 characters > 32,000 per request
    txt = '"%s"' % ("x" * 250)
    extra = "".join("t%02d IN TXT %s %s\n" % (i, txt, txt) for i in range(40))
    zf = tmp_path / "txt.zone"
    zf.write_text(zone_text(zone, extra=extra))
    r = dns("import", "--zone", zone, "--zone-file", str(zf))
    assert r.returncode == 0, r.out
    batches = [line for line in r.out.splitlines() if "import-batch." in line and "record sets" in line]
    assert len(batches) >= 2, r.out
    assert dns("compare", "--zone", zone, "--zone-file", str(zf)).returncode == 0


def test_point_one_name_and_restore(dns, zone, tmp_path, state):
    """point: another name (what rds-cutover does for the database's name) as a CNAME to a host,
    then back with --restore; a dry run, a re-run and the conflicts it must refuse."""
    zf = tmp_path / "z.zone"
    zf.write_text(zone_text(zone))
    assert dns("import", "--zone", zone, "--zone-file", str(zf)).returncode == 0
    before = dns.records(zone)
    mail = ("mail.%s." % zone, "A", None)
    assert before[mail]["ResourceRecords"] == [{"Value": "192.0.2.12"}]
    target = "Relay-1.Example.NET"

    r = dns("point", "--zone", zone, "--name", "mail", "--target", target, "--dry-run")
    assert r.returncode == 0, r.out
    assert "DRY-RUN:   DELETE mail.%s. A 3600 192.0.2.12" % zone in r.stdout
    assert "DRY-RUN:   CREATE mail.%s. CNAME 60 relay-1.example.net." % zone in r.stdout
    assert dns.records(zone) == before
    assert not os.path.exists(os.path.join(state, "dns-cutover.%s.point.mail.%s.json" % (zone, zone)))

    r = dns("point", "--zone", zone, "--name", "mail", "--target", target, "--yes")
    assert r.returncode == 0, r.out
    after = dns.records(zone)
    assert mail not in after
    cname = after[("mail.%s." % zone, "CNAME", None)]
    assert cname["TTL"] == 60 and cname["ResourceRecords"] == [{"Value": "relay-1.example.net."}]
    assert "--name mail --restore" in r.out
    # a re-run changes nothing; an IPv6 address instead of a host is an AAAA record
    r = dns("point", "--zone", zone, "--name", "mail", "--target", target, "--yes")
    assert r.returncode == 0 and "already leads at %s" % target in r.out, r.out
    r = dns("point", "--zone", zone, "--name", "mail.%s." % zone, "--target", "2001:db8::25",
            "--ttl", "120", "--yes")
    assert r.returncode == 0, r.out
    aaaa = dns.records(zone)[("mail.%s." % zone, "AAAA", None)]
    assert aaaa["TTL"] == 120 and aaaa["ResourceRecords"] == [{"Value": "2001:db8::25"}]

    # back to the records from before the first point
    r = dns("point", "--zone", zone, "--name", "mail", "--restore", "--yes")
    assert r.returncode == 0, r.out
    assert dns.records(zone) == before
    r = dns("point", "--zone", zone, "--name", "mail", "--restore", "--yes")
    assert r.returncode == 1 and "no saved records for mail.%s." % zone in r.stderr

    # refused, nothing changed: a CNAME beside other types, the apex, a name outside the zone,
    # a target that is no host name, both --target and --restore, no confirmation
    for args, code, msg in (
            (["--name", "_sip._tcp", "--target", target], 1, "also has SRV record(s)"),
            (["--name", "@", "--target", target], 2, "point does not change the apex"),
            (["--name", "db.elsewhere.test.", "--target", target], 2, "is not in the zone"),
            (["--name", "mail", "--target", "no host!"], 2, "neither an address nor a host name"),
            (["--name", "mail", "--target", target, "--restore"], 2, "one of them"),
            (["--name", "mail", "--target", target, "--no-such"], 2, "unknown option")):
        r = dns("point", "--zone", zone, *args, "--yes")
        assert r.returncode == code and msg in r.stderr, (args, r.out)
    r = dns("point", "--zone", zone, "--name", "mail", "--target", target, input="")
    assert r.returncode == 1 and "--yes" in r.stderr, r.out
    assert dns.records(zone) == before


def test_point_needs_the_zone(dns, zone):
    r = dns("point", "--zone", zone, "--name", "db", "--target", "db.example.net")
    assert r.returncode == 1
    assert "no public hosted zone %s. in Route 53" % zone in r.stderr
    assert "--zone-id" in r.stderr
    r = dns("point", "--zone", zone, "--name", "db", "--target", "db.example.net",
            "--zone-id", "ZNOSUCHZONE")
    assert r.returncode == 1 and "aws route53 list-resource-record-sets failed" in r.stderr


# --- bad input -----------------------------------------------------------------------------------

def test_zone_file_with_errors_changes_nothing(dns, zone, tmp_path):
    zf = tmp_path / "bad.zone"
    zf.write_text(zone_text(zone, extra="broken IN A 300.1.2.3\n"))
    r = dns("import", "--zone", zone, "--zone-file", str(zf))
    assert r.returncode == 1
    assert "has errors" in r.stderr and "named-checkzone:" in r.stderr
    assert "300.1.2.3" in r.stderr or "bad dotted quad" in r.stderr
    assert dns.zones(zone) == []


def test_unreachable_name_server(dns, zone):
    r = dns("import", "--zone", zone, "--old-ns", "127.0.0.1:%d" % free_port())
    assert r.returncode == 1
    assert "zone transfer (AXFR) of %s. from 127.0.0.1 port" % zone in r.stderr
    assert dns.zones(zone) == []


def test_unreachable_endpoint(dns, named, zone, aws):
    old = named({zone: zone_text(zone)})
    r = subprocess.run([SCRIPT, "import", "--zone", zone, "--old-ns", old.address,
                        "--endpoint-url", "http://127.0.0.1:%d" % free_port(), "--state-dir",
                        dns.state], env=dict(aws, AWS_MAX_ATTEMPTS="1"), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1
    assert "the endpoint is not reachable" in r.stderr


def test_wrong_credentials(dns, named, zone, aws):
    old = named({zone: zone_text(zone)})
    env = dict(aws, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
               AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    r = dns("import", "--zone", zone, "--old-ns", old.address, env=env)
    assert r.returncode == 1
    assert "the credentials were refused" in r.stderr
    # a wrong secret for the right key: its first character changed (to one it is not)
    secret = aws["AWS_SECRET_ACCESS_KEY"]
    env = dict(aws, AWS_SECRET_ACCESS_KEY=("y" if secret[0] == "x" else "x") + secret[1:])
    r = dns("import", "--zone", zone, "--old-ns", old.address, env=env)
    assert r.returncode == 1 and "the credentials were refused" in r.stderr
    assert dns.zones(zone) == []


def _path_without(tmp_path, *tools):
    """A PATH directory with links to everything the script uses except `tools`."""
    d = tmp_path / "bin"
    d.mkdir()
    for t in ("bash", "jq", "aws", "dig", "named-checkzone", "date", "mktemp", "chmod", "mkdir",
              "rm", "cp", "mv", "cat", "sed", "awk", "grep", "wc", "tr", "basename", "dirname",
              "readlink", "flock", "sleep", "tail", "sort", "python3", "env"):
        if t in tools:
            continue
        p = shutil.which(t)
        if t == "aws":
            # the real script, not a pyenv shim (which needs pyenv's own PATH)
            beside = os.path.join(os.path.dirname(moto_python()), "aws")
            p = beside if os.access(beside, os.X_OK) else p
        if p:
            os.symlink(p, d / t)
    return str(d)


@pytest.mark.parametrize("tool,args,hint", [
    ("aws", (), "the AWS CLI"),
    ("dig", ("--old-ns", "127.0.0.1:53"), "bind9-dnsutils"),
    ("named-checkzone", ("--zone-file", "/dev/null"), "bind9-utils"),
])
def test_missing_tool(dns, zone, aws, tmp_path, tool, args, hint):
    env = dict(aws, PATH=_path_without(tmp_path, tool))
    r = dns("import", "--zone", zone, *args, env=env)
    assert r.returncode == 1, r.out
    assert "%s not found on PATH: install" % tool in r.stderr and hint in r.stderr
    assert dns.zones(zone) == []
