#!/usr/bin/env bash
# tests/bench/cloudwatch.sh — what mod_cloudwatch's recording costs per request, compared with the
# same server without the module.
#
# Starts two Apache httpd servers (event MPM, 127.0.0.1, free ports, no access log) from the same
# generated configuration, serving the same 1 KB static file:
#   baseline    mod_cloudwatch not loaded
#   cloudwatch  build/mod_cloudwatch.so loaded, `CloudWatch On` for the whole server (every
#               request is measured into the shared-memory histograms in log_transaction, and
#               its request body counted by the module's input filter), the publisher running
#               with `CloudWatchInterval 10`
# The publisher sends to CloudWatchEndpoint http://127.0.0.1:<a port nobody listens on>: every
# interval it builds its PutMetricData request, is refused at connect, and keeps the interval in
# its backlog. It runs in a background thread, never on a request thread, so what
# it costs is the CPU of that thread (one failed connect every few seconds), not request time.
# wrk runs against the two servers in alternating rounds (tests/bench/lib.sh, shared with the
# hand-off filter part of tests/bench/s3.sh, says how): requests/s per round, the medians, the
# ratio cloudwatch/baseline, and the cost per request in microseconds, from throughput and
# measured as httpd's own CPU per request.
# The issue's expectation is a ratio >= 0.97. Never part of `make test`; no timed assertion:
# exit 0 whatever the figures, 1 on errors (a non-2xx answer, a server that does not start, a
# cloudwatch server that did not measure the requests).
set -euo pipefail

usage() {
    bench_usage "baseline and cloudwatch"
    cat <<'EOF'
  BENCH_PORT=          first of the three ports used (two servers and the closed endpoint port;
                       default: free ones from 18700 up)
Needs root (httpd serves as nobody), wrk, and build/mod_cloudwatch.so (`make`).
Configurations, logs and wrk's output go to build/bench/cloudwatch/.
EOF
}

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_wrk_args 10s 32 2 3 "$@"
so="$bench_repo/build/mod_cloudwatch.so"
ab_work="$bench_repo/build/bench/cloudwatch"
bench_setup "$so" wrk

# Three ports: the two servers and the endpoint nobody listens on.
ab_free_ports 3 "${BENCH_PORT:-18700}"
port_base=${ab_free[0]} port_cw=${ab_free[1]} port_closed=${ab_free[2]}

bench_init "$ab_work"
ab_init
# A key file so that the credential chain never asks the instance metadata (not on EC2 here);
# nothing checks the signature, the endpoint refuses the connection.
cat >"$ab_work/bench.keys" <<'EOF'
aws_access_key_id = AKIDBENCHBENCHBENCH0
aws_secret_access_key = benchbenchbenchbenchbenchbenchbenchbench
EOF
chmod 0600 "$ab_work/bench.keys"

ab_conf baseline "$port_base" "" "# mod_cloudwatch not loaded"
ab_conf cloudwatch "$port_cw" "" "LoadModule cloudwatch_module $so
CloudWatch On
CloudWatchNamespace Lampfarm/Bench
CloudWatchRegion us-east-1
# Nobody listens here: every PutMetricData is refused at connect and kept in the backlog (the
# publisher is a background thread; the requests never wait for it).
CloudWatchEndpoint http://127.0.0.1:$port_closed
CloudWatchCredentials keyfile $ab_work/bench.keys
CloudWatchInterval 10
# Set, so that the publisher never asks the instance metadata service.
CloudWatchAutoScalingGroup bench
# The expected warnings (CloudWatch unreachable, backlog full) are not what is measured.
LogLevel warn cloudwatch:error
<Location /cloudwatch-status>
    SetHandler cloudwatch-status
    CloudWatch Off
</Location>"

ab_start baseline "$port_base"
ab_start cloudwatch "$port_cw"
curl -sf -o /dev/null "http://127.0.0.1:$port_cw/cloudwatch-status" ||
    die "the cloudwatch server has no cloudwatch-status (is the module measuring?)"

echo "bench: httpd $(bench_httpd_version), event MPM;" \
     "baseline 127.0.0.1:$port_base, cloudwatch 127.0.0.1:$port_cw (endpoint 127.0.0.1:$port_closed, closed)"
ab_rounds baseline cloudwatch 0.97

# What the module counted: the publisher's view (intervals measured, sends refused, backlog).
# A short run may end before the first interval (10 s and its jitter): wait for it.
field() { sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p" <<<"$2"; }
for ((i = 0; i < 150; i++)); do
    status_after=$(curl -s "http://127.0.0.1:$port_cw/cloudwatch-status")
    [ "$(field Intervals "$status_after")" -gt 0 ] && break
    sleep 0.1
done
echo "bench: cloudwatch-status after the rounds: Intervals $(field Intervals "$status_after")," \
     "RequestsFailed $(field RequestsFailed "$status_after") (the closed port), Backlog" \
     "$(field Backlog "$status_after"), DroppedIntervals $(field DroppedIntervals "$status_after")"
[ "$(field Intervals "$status_after")" -gt 0 ] ||
    die "the publisher measured no interval: $status_after"
grep -q '"group": "default", "requests": [1-9]' <<<"$status_after" ||
    die "the last interval measured no request: $status_after"
echo "$status_after" >"$ab_work/cloudwatch-status.json"
ab_log_warnings baseline cloudwatch
echo "bench: wrk output in $ab_work/wrk.log"
