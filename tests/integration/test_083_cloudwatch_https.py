"""mod_cloudwatch over HTTPS (issue 15): PutMetricData goes through a TLS front of moto whose
certificate only `CloudWatchCAFile` trusts, and CloudWatch holds exactly what was measured.

An endpoint that must be refused (a certificate for another name; a plain HTTP server on the
https port; a server that never finishes the handshake; test_052 has every other certificate
cause, through the same aws_http code) is refused: LF03014 names the cause, the status page says it, nothing reaches
CloudWatch, and the intervals wait in the backlog. When the endpoint has a good certificate
again, the backlog goes out: nothing measured is lost (docs/mod_cloudwatch.md, "When CloudWatch
is slow, throttles or is down").
"""
import pytest

from harness import cloudwatch as cw
from harness import paths, tls
from harness.backends import HangServer, PlainFront, TlsFront
from harness.proc import free_port, wait_until

# TLS is libcurl's, in the publisher thread, whatever the MPM (both MPMs publish over https in
# test_090)
pytestmark = pytest.mark.one_mpm

FLEET_ONLY = "CloudWatchDimensions AutoScalingGroupName"
FLEET = {"AutoScalingGroupName": cw.ASG}


def get_pages(srv, n):
    for _ in range(n):
        assert srv.get("/index.html").status == 200
    return n


def test_metrics_reach_cloudwatch_over_https(httpd, logs, mpm, moto, moto_tls):
    """CloudWatchCAFile names the test CA: PutMetricData over https is accepted, and
    CloudWatch counts every request once."""
    ns = cw.namespace()
    srv = cw.start(httpd, logs, mpm, moto, ns, endpoint=moto_tls.endpoint + "/",
                   srv=FLEET_ONLY + "\nCloudWatchCAFile %s" % moto_tls.ca)
    served = get_pages(srv, 5)
    got = cw.statistics_reaching(moto, ns, "Requests", FLEET, "Sum", served, stats=("Sum",))
    assert got == {"Sum": served}
    st = cw.status(srv)
    assert st["last_status"] == 200 and st["last_error"] == "", st


# The endpoint's server, one after the other on the same port: (name, the cause LF03014 names
# (curl's and OpenSSL's words), attempts per PutMetricData). Certificates come from the CA that
# CloudWatchCAFile names, unless the case is about the CA.
# One case of each kind: a certificate refused (another name), a server that does not speak TLS,
# a handshake that never ends. (Each phase waits for a publish attempt: the suite's time.)
REFUSED = [
    ("other-name",
     "SSL: no alternative certificate subject name matches target host name '127.0.0.1'", 1),
    ("plain", "SSL routines::wrong version number", 2),         # retried: CloudWatchAttempts 2
    ("no-handshake", "Connection timed out after", 2),           # after CloudWatchTimeout
]


def refused_server(name, d, moto, moto_tls, port):
    """The server of one refused case, on port."""
    sub = paths.sub_dir(d, name)
    if name == "no-handshake":
        return HangServer(port)
    if name == "plain":
        return PlainFront(sub, moto.port, port=port)
    crt, key = tls.make_cert(sub, name, ca_dir=moto_tls.ca_dir, host="cw.other.example", ip=None)
    return TlsFront(sub, moto.port, crt, key, port=port)


def test_refused_endpoints_keep_the_metrics_until_one_is_trusted(httpd, logs, mpm, moto,
                                                                 moto_tls):
    """One refused endpoint after the other on the same port, requests measured meanwhile:
    each refusal logs LF03014 naming its cause, which the status page shows too;
    nothing reaches CloudWatch and nothing passes a front to moto. Then the port gets a
    trusted certificate and the backlog goes out: CloudWatch counts every request once.
    (CloudWatchBacklog 60: the default 15 intervals of 1 s could fill up before the end.)"""
    ns = cw.namespace()
    port = free_port()
    srv = cw.start(httpd, logs, mpm, moto, ns, endpoint="https://127.0.0.1:%d/" % port,
                   srv=FLEET_ONLY + "\nCloudWatchCAFile %s\nCloudWatchBacklog 60\n"
                   "CloudWatchAttempts 2\nCloudWatchTimeout 1s" % moto_tls.ca)
    # refusals, and "Connection refused" while one server makes way for the next
    srv.expect_log("LF03014")
    served = 0
    server = None
    try:
        for name, cause, attempts in REFUSED:
            log_start = srv.error_log.size()
            server = refused_server(name, logs, moto, moto_tls, port).start()
            served += get_pages(srv, 2)
            line = wait_until(lambda: next(
                (x for x in srv.error_log.lines(log_start) if "LF03014" in x and cause in x),
                None), 15, what="LF03014 naming %r" % cause)
            assert "PutMetricData: no answer from https://127.0.0.1:%d/: " % port in line, line
            assert "(after %d attempts); kept for later" % attempts in line, line
            st = cw.status(srv)
            assert cause in st["last_error"], st
            assert st["RequestsSent"] == 0 and st["Backlog"] >= 1, st
            assert st["DroppedIntervals"] == 0, st
            if isinstance(server, HangServer):
                assert server.accepted >= attempts     # connected: it was the handshake
            else:
                assert server.relayed() == 0, name     # nothing passed the front to moto
            server.stop()
            server = None
        assert cw.statistics(moto, ns, "Requests", FLEET, stats=("Sum",)) is None

        # the certificate is renewed: the backlog goes out, nothing measured was lost
        server = TlsFront(paths.sub_dir(logs, "trusted"), moto.port,
                          *tls.make_cert(paths.sub_dir(logs, "trusted"), "server",
                                         ca_dir=moto_tls.ca_dir), port=port).start()
        served += get_pages(srv, 2)
        got = cw.statistics_reaching(moto, ns, "Requests", FLEET, "Sum", served, stats=("Sum",))
        assert got == {"Sum": served}
        st = cw.wait_published(srv)
        assert st["last_error"] == "" and st["DroppedIntervals"] == 0, st
        srv.stop()  # publishes its last interval while the endpoint is still there
    finally:
        if server is not None:
            server.stop()
