#!/usr/bin/env bash
# tests/bench/s3.sh — what streaming through mod_s3 costs: download throughput compared with
# fetching from S3 directly, upload memory and CPU compared with uploading to S3 directly.
#
# Starts its own moto server (the S3 stand-in, signature checking left OFF: mod_s3 still signs
# every request, moto does not check, and curl talks to moto directly with an unchecked dummy
# Authorization header) and its own Apache httpd (event MPM, 127.0.0.1, free ports, no access
# log) that loads build/mod_s3.so with a <Location /files> mapped onto a bucket, then:
#   GET  a 256 MiB object through mod_s3 and straight from moto with curl, in rounds that rotate
#        the order (so drift in the machine's load hits all alike): the medians and their ratio
#        (expectation >= 0.9: streaming adds a hop, not a bottleneck). For reference the same
#        object also goes through httpd's own reverse proxy (mod_proxy_http) in the same server:
#        the cost of a hop through httpd, without mod_s3;
#   PUT  a 1 GiB body through mod_s3 with the default settings (S3PartSize and S3SpoolMemory
#        8 MiB: a multipart upload, one part spooled in memory at a time) while
#        tests/bench/procsample.py samples every httpd process from /proc every 50 ms: the peak
#        resident memory above idle (expectation <= 64 MiB) and httpd's CPU seconds per GiB,
#        compared with the CPU of curl uploading the same body to moto directly (one PutObject).
#        The stored objects are checked (size and MD5), so a failed upload cannot pass.
#   PUT over TLS: the same body through mod_s3 to an https endpoint (HAProxy terminating TLS in
#        front of moto, its certificate from a CA made for the run, S3CAFile naming it), once with
#        the payload signed (S3PayloadSigning On: SHA-256 of every part) and once as by default
#        over https (UNSIGNED-PAYLOAD and a CRC32 per part), against curl uploading the same body
#        over TLS to the same front directly: httpd's CPU per GiB on each mod_s3 path, curl's on
#        the direct one, and their ratios (expectation for the default: <= 2).
# Before those, without moto: what mod_s3 costs a request that has nothing to do with S3. Its
# hand-off filter goes on every main response wherever the module is loaded (it looks for
# X-S3-Key when the first data passes, then removes itself), so two more servers serve the same
# 1 KB static file, one with mod_s3 loaded (a bucket location elsewhere, no S3HandOff anywhere)
# and one without it, under wrk in alternating rounds (tests/bench/lib.sh, shared with
# tests/bench/cloudwatch.sh): the medians, their ratio (expectation >= 0.97) and httpd's CPU
# per request on each. BENCH_ONLY=filter runs only that part, BENCH_ONLY=stream only GET and PUT
# (plain and over TLS), BENCH_ONLY=tls only the PUT over TLS.
# Never part of `make test` (`make bench` runs it). Exit 0 whatever the figures; 1 on errors.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: tests/bench/s3.sh [--help]

Environment:
  BENCH_GET_MIB=256     size of the downloaded object, MiB
  BENCH_PUT_MIB=1024    size of the uploaded body, MiB
  BENCH_ROUNDS=6        download rounds; each runs mod_s3, mod_proxy_http and direct once
  BENCH_PUT_ROUNDS=2    upload rounds; each uploads through mod_s3 and directly once
  BENCH_TLS_ROUNDS=2    upload rounds over TLS (0 skips them); each uploads through mod_s3
                        signed, through mod_s3 with CRC32, and directly, once each
  BENCH_TLS_PORT=       port for the TLS front before moto (default: a free one from 18550 up)
  BENCH_PORT=           port for the benchmark httpd (default: a free one from 18400 up)
  BENCH_MOTO_PORT=      port for moto (default: a free one from 18500 up)
  LAMPFARM_MOTO_PYTHON= the python3 that has moto (default: the first python3 on PATH, then
                        ~/.pyenv/versions/*, that can import moto)
  BENCH_FILTER_ROUNDS=3 rounds of the static-file comparison with and without mod_s3 (0 skips
                        it); each runs both servers once
  BENCH_FILTER_DURATION=10s  wrk -d per run of that comparison (wrk -t2 -c32)
  BENCH_FILTER_PORT=    first of its three ports (default: free ones from 18450 up)
  BENCH_ONLY=           filter: only that comparison; stream: only GET and PUT (plain and TLS);
                        tls: only the PUT over TLS; empty: all
Needs root (httpd serves as nobody), curl, /usr/bin/python3, moto (GET and PUT), wrk (the
comparison), haproxy and openssl (PUT over TLS), and build/mod_s3.so (`make`).
Logs, configuration and reports go to build/bench/s3/.
EOF
}

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args "$@"
get_mib=${BENCH_GET_MIB:-256}
put_mib=${BENCH_PUT_MIB:-1024}
rounds=${BENCH_ROUNDS:-6}
put_rounds=${BENCH_PUT_ROUNDS:-2}
tls_rounds=${BENCH_TLS_ROUNDS:-2}
filter_rounds=${BENCH_FILTER_ROUNDS:-3}
only=${BENCH_ONLY:-}
case $only in
    "" | filter | stream | tls) ;;
    *) echo "bench: ERROR: BENCH_ONLY must be filter, stream or tls" >&2; exit 2 ;;
esac

so="$bench_repo/build/mod_s3.so"
work="$bench_repo/build/bench/s3"
sampler="$bench_repo/tests/bench/procsample.py"
bucket=lampfarm-bench
syspy=/usr/bin/python3

bench_setup "$so" curl
[ -x "$syspy" ] || die "$syspy not found"
# What runs: the filter comparison, GET and the plain PUT (plain=1), the PUT over TLS.
plain=1
if [ "$only" = stream ]; then filter_rounds=0; fi
if [ "$only" = tls ]; then filter_rounds=0 plain=0; fi
if [ "$only" = filter ]; then tls_rounds=0; fi
if [ "$only" = filter ] && ((filter_rounds == 0)); then die "BENCH_ONLY=filter with BENCH_FILTER_ROUNDS=0"; fi
if [ "$only" = tls ] && ((tls_rounds == 0)); then die "BENCH_ONLY=tls with BENCH_TLS_ROUNDS=0"; fi
((filter_rounds == 0)) || bench_need_tools wrk
if ((tls_rounds > 0)); then bench_need_tools haproxy openssl; fi

# The interpreter with moto: not Debian's python3 (see docs/testing.md).
moto_python() {
    local c
    if [ -n "${LAMPFARM_MOTO_PYTHON:-}" ]; then
        echo "$LAMPFARM_MOTO_PYTHON"
        return
    fi
    for c in $(type -ap python3) "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python3; do
        [ -x "$c" ] || continue
        # sys.executable: the real interpreter behind a pyenv shim
        "$c" -c 'import moto, sys; print(sys.executable)' 2>/dev/null && return
    done
    return 1
}
if [ "$only" != filter ]; then
    motopy=$(moto_python) || die "no python3 with moto found: set LAMPFARM_MOTO_PYTHON"
fi

port=${BENCH_PORT:-$(bench_free_port 18400)}
moto_port=${BENCH_MOTO_PORT:-$(bench_free_port 18500)}
tls_port=${BENCH_TLS_PORT:-$(bench_free_port 18550)}
[ "$port" != "$moto_port" ] || die "BENCH_PORT and BENCH_MOTO_PORT are the same"
if [ "$tls_port" = "$moto_port" ] || [ "$tls_port" = "$port" ]; then die "BENCH_TLS_PORT is taken"; fi

bench_init "$work"
mkdir -p "$work/run"
# shellcheck disable=SC2016  # expanded at exit, by eval
bench_at_exit 'rm -f "$work/get.bin" "$work/put.bin"'

# --- 0. what mod_s3 costs a request that has nothing to do with S3 ------------------------------
# Two servers from one configuration serve the same 1 KB file; one loads mod_s3 with a bucket at
# /files (an endpoint nobody listens on: no request goes there) and S3HandOff nowhere. Every
# response of that server still passes the hand-off filter once, and the module's other
# per-request work (its translate_name hook, its per-directory configuration) is counted too.
filter_bench() {
    local closed
    ab_work="$work/filter"
    bench_duration=${BENCH_FILTER_DURATION:-10s}
    bench_rounds=$filter_rounds
    ab_free_ports 3 "${BENCH_FILTER_PORT:-18450}"
    closed=${ab_free[2]}
    ab_init
    printf 'AKIDBENCH\nbenchsecretbenchsecretbenchsecret\n' >"$ab_work/s3.key"
    chmod 600 "$ab_work/s3.key"
    ab_conf baseline "${ab_free[0]}" "" "# mod_s3 not loaded"
    ab_conf s3 "${ab_free[1]}" "" "LoadModule s3_module $so
# A bucket where a site would have one, away from /static.txt; nobody listens at the endpoint,
# and no request of the benchmark goes there.
<Location /files>
    SetHandler s3
    S3Bucket $bucket
    S3Region us-east-1
    S3Endpoint http://127.0.0.1:$closed
    S3Credentials keyfile \"$ab_work/s3.key\"
</Location>
# No S3HandOff anywhere: the hand-off filter is on every main response all the same."
    ab_start baseline "${ab_free[0]}"
    ab_start s3 "${ab_free[1]}"
    echo "bench: the hand-off filter on responses without X-S3-Key: httpd" \
         "$(bench_httpd_version), event MPM, 1 KB static file;" \
         "baseline 127.0.0.1:${ab_free[0]} (no mod_s3), s3 127.0.0.1:${ab_free[1]} (mod_s3 loaded)"
    ab_rounds baseline s3 0.97
    ab_log_warnings baseline s3
    ab_stop
    echo "bench: wrk output in $ab_work/wrk.log"
}
if ((filter_rounds > 0)); then
    filter_bench
    if [ "$only" = filter ]; then exit 0; fi
    echo
fi

# --- moto ------------------------------------------------------------------------------------
# Signature checking stays off (no INITIAL_NO_AUTH_ACTION_COUNT): moto then accepts any
# credentials. It still answers 403 to a request without an Authorization header, so direct
# requests carry a dummy one that nothing checks.
bench_spawn moto env -u INITIAL_NO_AUTH_ACTION_COUNT "$motopy" -m moto.server -H 127.0.0.1 \
    -p "$moto_port" >"$work/moto.log" 2>&1
moto_pid=${bench_pid[moto]}
moto="http://127.0.0.1:$moto_port"
auth="Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
for ((i = 0; i < 300; i++)); do
    bench_port_open "$moto_port" && break
    kill -0 "$moto_pid" 2>/dev/null || { cat "$work/moto.log" >&2; die "moto died at start"; }
    sleep 0.1
done
bench_port_open "$moto_port" || die "moto does not listen on $moto_port (see $work/moto.log)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "$auth" "$moto/$bucket")" = 200 ] ||
    die "cannot create bucket $bucket in moto"

# moto_size KEY: the object's Content-Length as moto reports it (HEAD), or nothing.
moto_size() {
    curl -s -I -H "$auth" "$moto/$bucket/$1" | tr -d '\r' |
        awk -F': ' 'tolower($1) == "content-length" { print $2 }'
}
# moto_md5 KEY: the MD5 of the object's bytes as moto serves them.
moto_md5() {
    curl -s -H "$auth" "$moto/$bucket/$1" | md5sum | cut -d' ' -f1
}
moto_delete() { curl -s -o /dev/null -X DELETE -H "$auth" "$moto/$bucket/$1"; }

get_bytes=$((get_mib << 20))
put_bytes=$((put_mib << 20))
head -c "$put_bytes" /dev/urandom >"$work/put.bin"
put_md5=$(md5sum "$work/put.bin" | cut -d' ' -f1)
# A small object that tells when httpd answers through mod_s3.
# (A type of its own: moto would read curl's default, a form, as no body at all.)
[ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary ready -H "$auth" \
    -H 'Content-Type: text/plain' "$moto/$bucket/ready.txt")" = 200 ] ||
    die "cannot store ready.txt in moto"
if ((plain)); then
    head -c "$get_bytes" /dev/urandom >"$work/get.bin"
    [ "$(curl -s -o /dev/null -w '%{http_code}' -T "$work/get.bin" -H "$auth" -H 'Expect:' \
        "$moto/$bucket/get.bin")" = 200 ] || die "cannot store get.bin in moto"
    [ "$(moto_size get.bin)" = "$get_bytes" ] || die "moto holds get.bin with the wrong size"
fi

# --- the TLS front before moto ---------------------------------------------------------------
# HAProxy terminating TLS (TCP mode: the bytes pass unchanged), with a certificate for 127.0.0.1
# from a CA made for this run, which only S3CAFile and curl --cacert trust.
tls_locations=''
if ((tls_rounds > 0)); then
    mkdir -p "$work/tls"
    (
        cd "$work/tls"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
            -subj "/CN=lampfarm bench CA"
        openssl req -newkey rsa:2048 -nodes -keyout front.key -out front.csr -subj "/CN=127.0.0.1"
        printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >front.ext
        openssl x509 -req -in front.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile front.ext -out front.pem
        cat front.pem front.key >front-bundle.pem
    ) >"$work/tls/openssl.log" 2>&1 || die "cannot make the test certificates (see $work/tls/openssl.log)"
    cat >"$work/tls/haproxy.cfg" <<EOF
global
    maxconn 200
defaults
    mode tcp
    timeout connect 2s
    timeout client 120s
    timeout server 120s
frontend fe
    bind 127.0.0.1:$tls_port ssl crt $work/tls/front-bundle.pem
    default_backend be
backend be
    server moto 127.0.0.1:$moto_port
EOF
    bench_spawn front haproxy -db -f "$work/tls/haproxy.cfg" >"$work/tls/haproxy.log" 2>&1
    front_pid=${bench_pid[front]}
    tls="https://127.0.0.1:$tls_port"
    for ((i = 0; i < 100; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/tls/ca.pem" -H "$auth" \
            "$tls/$bucket/ready.txt" || true)" = 200 ] && break
        kill -0 "$front_pid" 2>/dev/null || { cat "$work/tls/haproxy.log" >&2; die "haproxy died"; }
        sleep 0.1
    done
    [ "$(curl -s --cacert "$work/tls/ca.pem" -H "$auth" "$tls/$bucket/ready.txt")" = ready ] ||
        die "moto does not answer through the TLS front (see $work/tls/haproxy.log)"
    # The same bucket over https: as by default (UNSIGNED-PAYLOAD and CRC32 over https), and
    # with the payload signed (SHA-256), as before S3PayloadSigning.
    for sect in "/tls auto" "/tls-signed on"; do
        read -r loc signing <<<"$sect"
        tls_locations+="
<Location $loc>
    SetHandler s3
    Require all granted
    S3Bucket $bucket
    S3Region us-east-1
    S3Endpoint $tls
    S3CAFile \"$work/tls/ca.pem\"
    S3Credentials keyfile \"$work/s3.key\"
    S3Upload On
    S3UploadTokenSecret env:LF_BENCH_S3_TOKEN_SECRET
    S3PayloadSigning $signing
</Location>"
    done
fi

# --- httpd -----------------------------------------------------------------------------------
# Dummy credentials (moto does not check them) and a per-run token secret.
printf 'AKIDBENCH\nbenchsecretbenchsecretbenchsecret\n' >"$work/s3.key"
chmod 600 "$work/s3.key"
LF_BENCH_S3_TOKEN_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export LF_BENCH_S3_TOKEN_SECRET

{
    echo "# Generated by tests/bench/s3.sh"
    bench_conf_head "$work"
    bench_conf_event
    cat <<EOF
Listen 127.0.0.1:$port
PidFile "$work/run/httpd.pid"
Mutex file:$work/run default
ErrorLog "$work/error.log"
LogLevel warn s3:info
LoadModule s3_module $so
# Only for the reference path /proxied: httpd's own reverse proxy in front of moto.
LoadModule proxy_module $bench_libexecdir/mod_proxy.so
LoadModule proxy_http_module $bench_libexecdir/mod_proxy_http.so
LoadModule headers_module $bench_libexecdir/mod_headers.so
Timeout 60
# No access log: this measures the module, not logging.
<Location /files>
    SetHandler s3
    Require all granted
    S3Bucket $bucket
    S3Region us-east-1
    S3Endpoint $moto
    S3Credentials keyfile "$work/s3.key"
    S3Upload On
    S3UploadTokenSecret env:LF_BENCH_S3_TOKEN_SECRET
    # Everything else at its default: S3PartSize 8M, S3SpoolMemory 8M, S3MemoryLimit 256M.
</Location>
<Location /proxied/>
    ProxyPass $moto/$bucket/
    RequestHeader set Authorization "${auth#Authorization: }"
    Require all granted
</Location>
$tls_locations
EOF
} >"$work/httpd.conf"

bench_httpd_start httpd "$work/httpd.conf" "$work/stdout.log"
pid=${bench_pid[httpd]}
base="http://127.0.0.1:$port"
bench_show_logs=("$work/stdout.log" "$work/error.log")
bench_wait_ok httpd "$base/files/ready.txt" -I ||
    die "HEAD /files/ready.txt through mod_s3 is not 200 (see $work/error.log)"
if ((tls_rounds > 0)); then
    [ "$(curl -s -I -o /dev/null -w '%{http_code}' "$base/tls/ready.txt")" = 200 ] ||
        die "HEAD /tls/ready.txt through mod_s3 over TLS is not 200 (see $work/error.log)"
fi

echo "bench: httpd $(bench_httpd_version), event MPM, 127.0.0.1:$port;" \
     "moto $("$motopy" -c 'import moto; print(moto.__version__)') on 127.0.0.1:$moto_port" \
     "(signature checking off)"
echo "bench: curl $(curl --version | awk 'NR == 1 { print $2 }'); $(bench_machine); load" \
     "average $(cut -d' ' -f1-3 /proc/loadavg)"

mibs() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# median FORMAT VALUE...: the median, printed with FORMAT.
median() { bench_median -f "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# --- 1. downloads ------------------------------------------------------------------------------
# get_mibs URL [HEADER]: one download to /dev/null; prints MiB/s; fails unless 200 and complete.
get_mibs() {
    local out code size speed
    out=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' \
        ${2:+-H "$2"} "$1")
    echo "GET $1: $out" >>"$work/curl.log"
    read -r code size speed <<<"$out"
    [ "$code" = 200 ] || die "GET $1 answered $code (see $work/error.log, $work/moto.log)"
    [ "$size" = "$get_bytes" ] || die "GET $1 gave $size bytes, not $get_bytes"
    mibs "$speed"
}

get_phase() {
    echo "bench: GET of a $get_mib MiB object, $rounds rounds rotating the order; curl -o /dev/null"
    urls=("$base/files/get.bin" "$base/proxied/get.bin" "$moto/$bucket/get.bin")
    hdrs=("" "" "$auth")
    # A warm-up of each, not counted.
    for i in 0 1 2; do get_mibs "${urls[$i]}" "${hdrs[$i]}" >/dev/null; done

    # group_ticks: user+system CPU of the httpd processes so far, in clock ticks (no child starts
    # or exits during one download: the server has spare threads).
    group_ticks() { bench_group_ticks "$pid"; }
    tick=$(getconf CLK_TCK)

    via=() proxied=() direct=() cpu_ticks=(0 0 0)
    printf '\n  %-16s %14s %14s %14s %10s %10s\n' round "mod_s3 MiB/s" "proxy MiB/s" "direct MiB/s" \
        "s3/direct" "s3/proxy"
    for ((r = 1; r <= rounds; r++)); do
        res=()
        for ((k = 0; k < 3; k++)); do
            i=$(((r - 1 + k) % 3))
            t0=$(group_ticks)
            res[i]=$(get_mibs "${urls[$i]}" "${hdrs[$i]}")
            cpu_ticks[i]=$((cpu_ticks[i] + $(group_ticks) - t0))
        done
        via+=("${res[0]}")
        proxied+=("${res[1]}")
        direct+=("${res[2]}")
        printf '  %-16s %14s %14s %14s %10s %10s\n' "$r" "${res[0]}" "${res[1]}" "${res[2]}" \
            "$(ratio "${res[0]}" "${res[2]}")" "$(ratio "${res[0]}" "${res[1]}")"
    done
    via_med=$(median %.1f "${via[@]}")
    proxied_med=$(median %.1f "${proxied[@]}")
    direct_med=$(median %.1f "${direct[@]}")
    get_ratio=$(ratio "$via_med" "$direct_med")
    proxy_ratio=$(ratio "$proxied_med" "$direct_med")
    printf '  %-16s %14s %14s %14s %10s %10s\n' median "$via_med" "$proxied_med" "$direct_med" \
        "$get_ratio" "$(ratio "$via_med" "$proxied_med")"
    # cpu_per_gib TICKS: CPU seconds per GiB over all rounds of one path.
    cpu_per_gib() { awk -v t="$1" -v k="$tick" -v b="$((rounds * get_bytes))" 'BEGIN { printf "%.2f", t / k / (b / 1073741824) }'; }
    printf '  %-16s %14s %14s %14s\n\n' "httpd CPU s/GiB" "$(cpu_per_gib "${cpu_ticks[0]}")" \
        "$(cpu_per_gib "${cpu_ticks[1]}")" -
}
if ((plain)); then get_phase; fi

# --- 2. uploads --------------------------------------------------------------------------------
# The token the application would mint (format in modules/s3/s3_token.h): any key, 10 minutes.
token=$("$syspy" -c '
import base64, hashlib, hmac, json, os, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
p = b64(json.dumps({"prefix": "", "exp": int(time.time()) + 600}, separators=(",", ":")).encode())
m = hmac.new(os.environ["LF_BENCH_S3_TOKEN_SECRET"].encode(), p, hashlib.sha256).digest()
print((p + b"." + b64(m)).decode())')

# report KEY FILE: one value of a procsample.py report.
report() { sed -n "s/^$1=//p" "$2"; }

# check_stored KEY: the object moto holds has the body's size and MD5.
check_stored() {
    local size md5
    size=$(moto_size "$1")
    [ "$size" = "$put_bytes" ] || die "moto holds $1 with ${size:-no} size, not $put_bytes bytes"
    md5=$(moto_md5 "$1")
    [ "$md5" = "$put_md5" ] || die "moto holds $1 with MD5 $md5, not $put_md5"
}

# moto_phases KEY: "parts_s complete_s" of the multipart upload of KEY, from the times (whole
# seconds) in moto's request log: CreateMultipartUpload to the last UploadPart answered, and from
# there to the CompleteMultipartUpload answered.
moto_phases() {
    awk -v k="/$bucket/$1?" '
        index($0, k) {
            split(substr($0, index($0, "[") + 1, 20), d, /[ :\]]/)
            t = d[2] * 3600 + d[3] * 60 + d[4]
            if (t0 == "") t0 = t
            if (t < t0) t += 86400
            if ($0 ~ /partNumber=/) tp = t
            else if ($0 ~ /"POST .*uploadId=/) tc = t
        }
        END { if (tp != "" && tc != "") print tp - t0, tc - tp; else print "? ?" }' "$work/moto.log"
}

# put_via N [LOCATION]: upload through mod_s3 (the section at LOCATION, default /files),
# sampling httpd; prints "peak_MiB cpu_s MiB/s client_cpu_s anon_peak_MiB idle_MiB procs parts_s
# complete_s".
put_via() {
    local rep="$work/put-via-$1.report" out code size speed
    "$syspy" "$sampler" --pgid "$pid" --report "$rep" --interval 0.05 --idle 1 -- \
        curl -s -o "$work/put-via-$1.json" -w '%{http_code} %{size_upload} %{speed_upload}' \
        -T "$work/put.bin" -H "X-Upload-Token: $token" "$base${2:-/files}/up/via-$1" \
        >"$work/put-via-$1.curl"
    out=$(cat "$work/put-via-$1.curl")
    echo "PUT via mod_s3 ($1): $out" >>"$work/curl.log"
    read -r code size speed <<<"$out"
    [ "$code" = 201 ] || die "PUT through mod_s3 answered ${code:-nothing}: $(cat "$work/put-via-$1.json" 2>/dev/null) (see $work/error.log)"
    [ "$size" = "$put_bytes" ] || die "curl sent $size bytes through mod_s3, not $put_bytes"
    check_stored "up/via-$1"
    moto_delete "up/via-$1"
    cat "$rep" >>"$work/reports.log"
    echo "$(awk -v p="$(report peak_rss_kib "$rep")" -v i="$(report idle_rss_kib "$rep")" \
        'BEGIN { printf "%.1f", (p - i) / 1024 }') $(report group_cpu_s "$rep")" \
        "$(mibs "$speed") $(report cmd_cpu_s "$rep")" \
        "$(awk -v p="$(report peak_anon_kib "$rep")" -v i="$(report idle_anon_kib "$rep")" \
        'BEGIN { printf "%.1f", (p - i) / 1024 }')" \
        "$(awk -v i="$(report idle_rss_kib "$rep")" 'BEGIN { printf "%.1f", i / 1024 }')" \
        "$(report procs_min "$rep")-$(report procs_max "$rep")" "$(moto_phases "up/via-$1")"
}

# put_direct N [ENDPOINT CAFILE]: upload to moto with curl (to ENDPOINT, default moto itself, over
# https trusting CAFILE); prints "curl_cpu_s MiB/s".
put_direct() {
    local rep="$work/put-direct-$1.report" out code size speed
    "$syspy" "$sampler" --pgid "$pid" --report "$rep" --interval 0.05 --idle 0.2 -- \
        curl -s -o "$work/put-direct-$1.xml" -w '%{http_code} %{size_upload} %{speed_upload}' \
        ${3:+--cacert "$3"} -T "$work/put.bin" -H "$auth" -H 'Expect:' \
        "${2:-$moto}/$bucket/direct/$1" >"$work/put-direct-$1.curl"
    out=$(cat "$work/put-direct-$1.curl")
    echo "PUT direct ($1): $out" >>"$work/curl.log"
    read -r code size speed <<<"$out"
    [ "$code" = 200 ] || die "PUT to moto answered ${code:-nothing} (see $work/moto.log)"
    [ "$size" = "$put_bytes" ] || die "curl sent $size bytes to moto, not $put_bytes"
    check_stored "direct/$1"
    moto_delete "direct/$1"
    cat "$rep" >>"$work/reports.log"
    echo "$(report cmd_cpu_s "$rep") $(mibs "$speed")"
}

gib=$(awk -v b="$put_bytes" 'BEGIN { print b / 1073741824 }')
# per_gib SECONDS: SECONDS of CPU for the body, per GiB.
per_gib() { awk -v c="$1" -v g="$gib" 'BEGIN { printf "%.2f", c / g }'; }

put_phase() {
    echo "bench: PUT of a $put_mib MiB body (curl -T), $put_rounds round(s); httpd sampled every 50 ms"
    peaks=() cpus=() ccpus=()
    printf '\n  %-6s %14s %16s %14s %16s %14s\n' round "RSS peak MiB" "httpd CPU s/GiB" \
        "mod_s3 MiB/s" "direct curl s/GiB" "direct MiB/s"
    for ((r = 1; r <= put_rounds; r++)); do
        if ((r % 2)); then
            v=$(put_via "$r")
            d=$(put_direct "$r")
        else
            d=$(put_direct "$r")
            v=$(put_via "$r")
        fi
        read -r peak hcpu vspeed vclient anon idle procs parts_s complete_s <<<"$v"
        read -r dcpu dspeed <<<"$d"
        hcpu=$(awk -v c="$hcpu" -v g="$gib" 'BEGIN { printf "%.2f", c / g }')
        dcpu=$(awk -v c="$dcpu" -v g="$gib" 'BEGIN { printf "%.2f", c / g }')
        peaks+=("$peak")
        cpus+=("$hcpu")
        ccpus+=("$dcpu")
        printf '  %-6s %14s %16s %14s %16s %14s\n' "$r" "$peak" "$hcpu" "$vspeed" "$dcpu" "$dspeed"
        echo "         httpd idle RSS $idle MiB in $procs processes, private anonymous memory peak" \
             "above idle $anon MiB; the uploading curl used $(awk -v c="$vclient" -v g="$gib" \
             'BEGIN { printf "%.2f", c / g }') CPU s/GiB"
        echo "         moto's log: parts sent in ~$parts_s s, CompleteMultipartUpload took ~$complete_s s"
    done
    peak_max=$(printf '%s\n' "${peaks[@]}" | sort -g | tail -n 1)
    cpu_med=$(median %.2f "${cpus[@]}")
    ccpu_med=$(median %.2f "${ccpus[@]}")
    cpu_ratio=$(ratio "$cpu_med" "$ccpu_med")
}
if ((plain)); then put_phase; echo; fi

# --- 3. uploads over TLS -------------------------------------------------------------------------
# The same body through mod_s3 to the https front, signed (S3PayloadSigning On) and with CRC32
# (the default over https), and with curl over TLS to the same front directly; the order rotates.
tls_phase() {
    local r k i v s1 s2 s3 signed=() crc=() direct=()
    echo "bench: PUT of a $put_mib MiB body over TLS (HAProxy before moto), $tls_rounds round(s)" \
         "rotating the order: mod_s3 signed (S3PayloadSigning On), mod_s3 with CRC32 (the" \
         "default over https), curl directly to the front"
    printf '\n  %-6s %18s %18s %18s %14s %14s   %s\n' round "signed httpd s/GiB" \
        "CRC32 httpd s/GiB" "direct curl s/GiB" "signed/direct" "CRC32/direct" \
        "MiB/s signed, CRC32, direct"
    for ((r = 1; r <= tls_rounds; r++)); do
        for ((k = 0; k < 3; k++)); do
            i=$(((r - 1 + k) % 3))
            case $i in
                0) read -r _ v s1 _ <<<"$(put_via "tls-signed-$r" /tls-signed)"
                   signed+=("$(per_gib "$v")") ;;
                1) read -r _ v s2 _ <<<"$(put_via "tls-crc32-$r" /tls)"
                   crc+=("$(per_gib "$v")") ;;
                2) read -r v s3 <<<"$(put_direct "tls-$r" "$tls" "$work/tls/ca.pem")"
                   direct+=("$(per_gib "$v")") ;;
            esac
        done
        printf '  %-6s %18s %18s %18s %14s %14s   %s\n' "$r" "${signed[-1]}" "${crc[-1]}" \
            "${direct[-1]}" "$(ratio "${signed[-1]}" "${direct[-1]}")" \
            "$(ratio "${crc[-1]}" "${direct[-1]}")" "$s1, $s2, $s3"
    done
    tls_signed_med=$(median %.2f "${signed[@]}")
    tls_crc_med=$(median %.2f "${crc[@]}")
    tls_direct_med=$(median %.2f "${direct[@]}")
    tls_signed_ratio=$(ratio "$tls_signed_med" "$tls_direct_med")
    tls_crc_ratio=$(ratio "$tls_crc_med" "$tls_direct_med")
    printf '  %-6s %18s %18s %18s %14s %14s\n\n' median "$tls_signed_med" "$tls_crc_med" \
        "$tls_direct_med" "$tls_signed_ratio" "$tls_crc_ratio"
}
if ((tls_rounds > 0)); then tls_phase; fi

verdict() { if awk -v v="$1" -v l="$3" "BEGIN { exit !(v $2 l) }"; then echo met; else echo "NOT met"; fi; }
if ((plain)); then
    echo "bench: GET mod_s3/direct = $get_ratio ($via_med against $direct_med MiB/s;" \
         "expectation >= 0.9: $(verdict "$get_ratio" '>=' 0.9)); for reference" \
         "mod_proxy_http/direct = $proxy_ratio"
    echo "bench: PUT peak httpd RSS above idle = $peak_max MiB (expectation <= 64: $(verdict "$peak_max" '<=' 64))"
    echo "bench: PUT httpd CPU = $cpu_med s/GiB against $ccpu_med s/GiB for curl uploading directly:" \
         "ratio $cpu_ratio"
fi
if ((tls_rounds > 0)); then
    echo "bench: PUT over TLS httpd CPU = $tls_crc_med s/GiB with CRC32 (the default over https)," \
         "$tls_signed_med s/GiB signed, against $tls_direct_med s/GiB for curl uploading over TLS" \
         "directly: ratio $tls_crc_ratio with CRC32 (expectation <= 2:" \
         "$(verdict "$tls_crc_ratio" '<=' 2)), $tls_signed_ratio signed"
fi
bench_log_warnings "$work/error.log"
echo "bench: load average at the end $(cut -d' ' -f1-3 /proc/loadavg); logs and reports in $work"
