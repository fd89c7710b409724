#!/usr/bin/env bash
# farm.sh — the local lampfarm dev farm: `make run` starts it, `make stop` stops it.
#
# Everything runs on 127.0.0.1 with its state, configs and logs under build/farm/:
#   redis-server and memcached     the ElastiCache stand-ins (own ports, no persistence); redis
#                                  also on a TLS port, with a certificate from the farm's own CA
#                                  (build/farm/tls/, made once), which the nodes use: their
#                                  sessions go to redis over TLS (rediss://, SessionKVCAFile) as
#                                  to ElastiCache with in-transit encryption
#   moto server                    the S3/AWS stand-in (python3 -m moto.server, PATH's python3,
#                                  signature checking on), with the bucket lampfarm-uploads
#   php-fpm                        one pool on a unix socket (not the system service)
#   two Apache nodes (event MPM)   each loading build/mod_health.so, build/mod_s3.so,
#                                  build/mod_session_kv.so and build/mod_cloudwatch.so, serving
#                                  the demo PHP app (scripts/farm/htdocs) and, under /symfony/,
#                                  the Symfony app of tests/symfony through mod_proxy_fcgi, both
#                                  with their sessions in redis (mod_session + mod_session_kv,
#                                  shared by both nodes), uploads to/from the bucket under /files
#                                  (mod_s3), and request metrics to moto's CloudWatch every 10 s
#                                  (mod_cloudwatch)
#   the Symfony app                installed into build/farm/symfony when php-fpm starts
#                                  (tests/symfony/bin/install.sh, as the tests install it: the
#                                  session handler in its lib/, its container built once as nobody)
#   HAProxy on :8080               round robin, `option httpchk GET /health/ready`, stats page
# Configs are rendered from scripts/farm/*.tmpl. Every process is started with setsid, its PID
# kept in build/farm/run/<name>.pid, and stopped by that PID (and its process group).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/farm.sh start|stop|status|--help

  start    start whatever part of the farm is not running, wait until every component answers
           and HAProxy sees both nodes ready, then print what runs where (a second start only
           says it is running). The nodes serve the demo page at / and the Symfony app of
           tests/symfony at /symfony/, installed into build/farm/symfony whenever php-fpm starts
  stop     stop every component by PID (safe to run twice)
  status   what runs, readiness of each node, HAProxy's view; exit 0 all running, 3 none, 1 some

Ports (environment, read at start and remembered in build/farm/ports.env until stop):
  FARM_HTTP_PORT=8080  FARM_STATS_PORT=8404  FARM_NODEA_PORT=8101  FARM_NODEB_PORT=8102
  FARM_REDIS_PORT=16379  FARM_REDIS_TLS_PORT=16380  FARM_MEMCACHED_PORT=11311
  FARM_MOTO_PORT=15000
redis's TLS port is what the nodes use; its plain port is there for redis-cli and farm.sh's probe.
The farm's CA (build/farm/tls/ca.pem) and redis's certificate are made once with openssl and kept
across stop/start (the certificate is made again when it has less than a day left); rm -r
build/farm/tls makes new ones at the next start.
Needs root (the nodes serve as nobody/nogroup), build/mod_health.so, build/mod_s3.so,
build/mod_session_kv.so and build/mod_cloudwatch.so (`make`).
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
tmpl_dir="$here/farm"
htdocs="$tmpl_dir/htdocs"
farm_dir="$repo/build/farm"
run_dir="$farm_dir/run"
log_dir="$farm_dir/logs"
conf_dir="$farm_dir/conf"
ports_file="$farm_dir/ports.env"
token_file="$farm_dir/drain.token"
health_so="$repo/build/mod_health.so"
s3_so="$repo/build/mod_s3.so"
session_kv_so="$repo/build/mod_session_kv.so"
cloudwatch_so="$repo/build/mod_cloudwatch.so"
# The Symfony app as the nodes serve it: app/ (a copy of tests/symfony) and var/ (its cache, logs).
symfony_src="$repo/tests/symfony"
symfony_dir="$farm_dir/symfony"
# mod_s3's S3 key file (also mod_cloudwatch's), and the upload token secret shared by mod_s3 (S3UploadTokenSecret) and
# PHP (which mints the tokens): written once, kept across stop/start.
s3_keys_file="$farm_dir/s3.keys"
upload_secret_file="$farm_dir/upload-token.secret"
s3_bucket=lampfarm-uploads
fpm_sock="$run_dir/php-fpm.sock"
# The farm's CA and redis's certificate signed by it (write_redis_tls).
tls_dir="$farm_dir/tls"
redis_ca="$tls_dir/ca.pem"

# Start order; stop runs it backwards.
components=(redis memcached moto php-fpm nodeA nodeB haproxy)

say() { echo "farm: $*"; }
warn() { echo "farm: WARNING: $*" >&2; }
die() { echo "farm: ERROR: $*" >&2; exit 1; }

# --- ports ---------------------------------------------------------------------------------------
load_ports() {
    HTTP_PORT=${FARM_HTTP_PORT:-8080}
    STATS_PORT=${FARM_STATS_PORT:-8404}
    NODEA_PORT=${FARM_NODEA_PORT:-8101}
    NODEB_PORT=${FARM_NODEB_PORT:-8102}
    REDIS_PORT=${FARM_REDIS_PORT:-16379}
    REDIS_TLS_PORT=${FARM_REDIS_TLS_PORT:-16380}
    MEMCACHED_PORT=${FARM_MEMCACHED_PORT:-11311}
    MOTO_PORT=${FARM_MOTO_PORT:-15000}
    # A running farm keeps the ports it was started with.
    if [ -f "$ports_file" ]; then
        # save_ports wrote it at start (KEY=VALUE lines); its path is known only at run time
        # shellcheck disable=SC1090
        . "$ports_file"
    fi
}

save_ports() {
    cat >"$ports_file" <<EOF
HTTP_PORT=$HTTP_PORT
STATS_PORT=$STATS_PORT
NODEA_PORT=$NODEA_PORT
NODEB_PORT=$NODEB_PORT
REDIS_PORT=$REDIS_PORT
REDIS_TLS_PORT=$REDIS_TLS_PORT
MEMCACHED_PORT=$MEMCACHED_PORT
MOTO_PORT=$MOTO_PORT
EOF
}

port_of() {
    case "$1" in
        redis) echo "$REDIS_PORT $REDIS_TLS_PORT" ;;
        memcached) echo "$MEMCACHED_PORT" ;;
        moto) echo "$MOTO_PORT" ;;
        nodeA) echo "$NODEA_PORT" ;;
        nodeB) echo "$NODEB_PORT" ;;
        haproxy) echo "$HTTP_PORT $STATS_PORT" ;;
        *) echo "" ;;
    esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- processes -----------------------------------------------------------------------------------
pid_file() { echo "$run_dir/$1.pid"; }
log_file() { echo "$log_dir/$1.log"; }

# What /proc/PID/cmdline of a live component contains, so a reused PID is not taken for it.
marker_of() {
    case "$1" in
        redis) echo redis-server ;;
        memcached) echo "memcached -l 127.0.0.1" ;;
        moto) echo "moto.server -H 127.0.0.1" ;;
        php-fpm) echo "$conf_dir/php-fpm.conf" ;;
        nodeA | nodeB) echo "$conf_dir/$1.conf" ;;
        haproxy) echo "$conf_dir/haproxy.cfg" ;;
    esac
}

# Prints the PID of a running component, or fails.
running_pid() {
    local f pid
    f=$(pid_file "$1")
    [ -f "$f" ] || return 1
    pid=$(head -n 1 "$f")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(marker_of "$1")" || return 1
    echo "$pid"
}

# Prints the end of each log, from this run's "====" start marker on where there is one.
show_log_tail() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "---- last lines of $f ----" >&2
        awk '/^==== / { n = 0 } { buf[n++] = $0 } END { for (i = 0; i < n; i++) print buf[i] }' \
            "$f" | tail -n 30 >&2
    done
}

# launch NAME CMD...: start CMD in its own session, output to the component's log.
launch() {
    local name=$1
    shift
    printf '==== %s farm.sh start: %s\n' "$(date '+%F %T')" "$*" >>"$(log_file "$name")"
    setsid "$@" >>"$(log_file "$name")" 2>&1 </dev/null &
    echo "$!" >"$(pid_file "$name")"
}

# wait_for NAME SECONDS PROBE...: until PROBE succeeds; fails if the process dies or time is up.
wait_for() {
    local name=$1 secs=$2 i pid
    shift 2
    pid=$(head -n 1 "$(pid_file "$name")")
    for ((i = 0; i < secs * 10; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        # Only kill -0 here: until it has exec'd and renamed itself, the cmdline is not final.
        kill -0 "$pid" 2>/dev/null || { warn "$name exited during startup"; return 1; }
        sleep 0.1
    done
    warn "$name did not answer within ${secs}s"
    return 1
}

stop_component() {
    local name=$1 pid i
    if ! pid=$(running_pid "$name"); then
        rm -f "$(pid_file "$name")"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    # setsid made it a process group leader: take any straggling children (workers) with it.
    if kill -0 -- "-$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$(pid_file "$name")"
    say "stopped $name (pid $pid)"
}

# --- probes --------------------------------------------------------------------------------------
probe_line() {
    # probe_line PORT REQUEST EXPECTED-PREFIX: one request line over TCP, check the reply.
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf '%s\r\n' "$2" >&3
    IFS= read -r -t 2 reply <&3 || true
    exec 3>&-
    [[ "$reply" == "$3"* ]]
}
http_code() { curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true; }
probe_http_200() { [ "$(http_code "$1")" = 200 ]; }
probe_node() {
    probe_http_200 "http://127.0.0.1:$1/health/live" && probe_http_200 "http://127.0.0.1:$1/ping.php"
}
# HAProxy's state of server $1 in backend "nodes" (UP, DOWN, MAINT, "UP 1/2", ...).
lb_status() {
    curl -s -m 3 "http://127.0.0.1:$STATS_PORT/;csv" 2>/dev/null |
        awk -F, -v s="$1" '$1 == "nodes" && $2 == s { print $18 }'
}
probe_lb() { [ "$(lb_status nodeA)" = UP ] && [ "$(lb_status nodeB)" = UP ]; }
# redis answers on its plain port and listens on its TLS port.
probe_redis() { probe_line "$REDIS_PORT" PING +PONG && port_open "$REDIS_TLS_PORT"; }

# --- config rendering ----------------------------------------------------------------------------
# render TEMPLATE OUT NAME=VALUE...: replace each @NAME@ in TEMPLATE.
render() {
    local tmpl=$1 out=$2 text kv
    shift 2
    text=$(<"$tmpl")
    for kv in "$@"; do
        # Quoted replacement: bash 5.2 would otherwise expand '&' in it to the match.
        text=${text//"@${kv%%=*}@"/"${kv#*=}"}
    done
    if [[ "$text" =~ @[A-Z_]+@ ]]; then
        die "unfilled placeholder ${BASH_REMATCH[0]} in $tmpl"
    fi
    printf '%s\n' "$text" >"$out"
}

apxs_bin() { command -v apxs 2>/dev/null || command -v apxs2 2>/dev/null || true; }

find_php_fpm() {
    local c
    c=$(command -v php-fpm 2>/dev/null || true)
    [ -n "$c" ] || c=$(find /usr/sbin /usr/local/sbin -maxdepth 1 -name 'php-fpm*' -type f \
        2>/dev/null | sort -V | tail -n 1)
    echo "$c"
}

# --- S3 (mod_s3 on the nodes, moto) --------------------------------------------------------------
# The upload token secret, written once. The key file the nodes sign with is written when moto
# starts (moto_bootstrap): moto checks signatures, and only for keys it made itself.
write_s3_files() {
    if [ ! -s "$upload_secret_file" ]; then
        (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$upload_secret_file")
    fi
    # Read by httpd as root at startup and by PHP (php-fpm workers: nobody/nogroup) per request.
    chgrp nogroup "$upload_secret_file"
    chmod 0640 "$upload_secret_file"
    # A placeholder key until moto_bootstrap writes moto's: the nodes' config test (before moto
    # starts) needs a readable key file (mod_cloudwatch checks CloudWatchCredentials keyfile).
    if [ ! -s "$s3_keys_file" ]; then
        (umask 077 && printf '%s\n' "# placeholder, replaced when moto starts (scripts/farm.sh)" \
            "aws_access_key_id = AKIDPLACEHOLDER00000" \
            "aws_secret_access_key = placeholder" >"$s3_keys_file")
    fi
}

# A freshly started moto (its state is in memory): while it does not check signatures yet, an IAM
# user with an allow-all policy and an access key for the nodes (into $s3_keys_file), and the
# uploads bucket; then signature checking on, as in the tests (tests/integration/harness/moto.py).
# A moto that was already running keeps its key, its bucket and its uploads.
moto_bootstrap() {
    local python=$1
    if [ -s "$s3_keys_file" ] && [ -e "$run_dir/moto.bootstrapped" ]; then
        return 0
    fi
    (umask 077 && "$python" - "http://127.0.0.1:$MOTO_PORT" "$s3_bucket" >"$s3_keys_file.new" <<'PY'
import json, sys, boto3
ep, bucket = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=ep, region_name="us-east-1", aws_access_key_id="bootstrap",
          aws_secret_access_key="bootstrap")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="lampfarm-farm")
key = iam.create_access_key(UserName="lampfarm-farm")["AccessKey"]
pol = iam.create_policy(PolicyName="lampfarm-farm-allow-all", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
iam.attach_user_policy(UserName="lampfarm-farm", PolicyArn=pol["Policy"]["Arn"])
boto3.client("s3", **kw).create_bucket(Bucket=bucket)
print("# S3 credentials of the farm's Apache nodes (S3Credentials keyfile), written by")
print("# scripts/farm.sh: a key of the farm's moto, which checks signatures.")
print("aws_access_key_id = " + key["AccessKeyId"])
print("aws_secret_access_key = " + key["SecretAccessKey"])
PY
    ) || { warn "bootstrapping moto (IAM key, bucket $s3_bucket) failed"; return 1; }
    mv "$s3_keys_file.new" "$s3_keys_file"
    curl -s -o /dev/null -m 10 "http://127.0.0.1:$MOTO_PORT/moto-api/reset-auth" -X POST \
        -H 'Content-Type: text/plain' --data-binary '0' ||
        { warn "switching moto's signature checking on failed"; return 1; }
    touch "$run_dir/moto.bootstrapped"
}

# --- TLS for redis (the nodes' sessions go over it) ------------------------------------------------
# The farm's own CA and a certificate for redis signed by it (RSA 2048, as ElastiCache's; names
# localhost and 127.0.0.1, the address the nodes connect to), made with openssl once and kept
# across stop/start: a CA that lasts ten years, a server certificate for a year, made again when
# it has less than a day left. The keys stay root's (redis runs as root here); the CA
# certificate is for anyone (httpd reads it as root at startup, redis-cli --cacert as anyone).
write_redis_tls() {
    local out made="redis's TLS certificate (the farm's CA kept: ${redis_ca#"$repo"/})"
    mkdir -p "$tls_dir"
    chmod 0755 "$tls_dir"
    if [ -s "$redis_ca" ] && [ -s "$tls_dir/ca.key" ] &&
        openssl x509 -checkend 86400 -noout -in "$tls_dir/redis.pem" >/dev/null 2>&1 &&
        openssl verify -CAfile "$redis_ca" "$tls_dir/redis.pem" >/dev/null 2>&1; then
        return 0
    fi
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
        >"$tls_dir/redis.ext"
    if [ ! -s "$redis_ca" ] || [ ! -s "$tls_dir/ca.key" ] ||
        ! openssl x509 -checkend 86400 -noout -in "$redis_ca" >/dev/null 2>&1; then
        made="the farm's CA (${redis_ca#"$repo"/}) and redis's TLS certificate"
        out=$(umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls_dir/ca.key" \
            -out "$redis_ca" -days 3650 -subj '/CN=lampfarm dev farm CA' 2>&1) ||
            { echo "$out" >&2; die "making the farm's CA in $tls_dir (openssl)"; }
    fi
    if ! out=$(
        umask 077
        openssl req -newkey rsa:2048 -nodes -keyout "$tls_dir/redis.key" \
            -out "$tls_dir/redis.csr" -subj /CN=localhost 2>&1 &&
            openssl x509 -req -in "$tls_dir/redis.csr" -CA "$redis_ca" -CAkey "$tls_dir/ca.key" \
                -CAcreateserial -out "$tls_dir/redis.pem" -days 365 \
                -extfile "$tls_dir/redis.ext" 2>&1
    ); then
        echo "$out" >&2
        die "making redis's certificate in $tls_dir (openssl)"
    fi
    chmod 0644 "$redis_ca" "$tls_dir/redis.pem"
    say "made $made"
}

# --- the Symfony app (/symfony/ on the nodes) ----------------------------------------------------
# A fresh copy of tests/symfony with the session handler in its lib/ and its container built once,
# as the php-fpm workers' user, so that no request builds it: what the integration tests do
# (tests/symfony/bin/install.sh). Not while php-fpm runs: a running pool keeps the copy it has.
install_symfony() {
    local out
    if running_pid php-fpm >/dev/null && [ -d "$symfony_dir/var/cache" ]; then
        return 0
    fi
    if ! out=$("$symfony_src/bin/install.sh" "$symfony_dir/app" "$symfony_dir/var" \
        nobody:nogroup 2>&1); then
        echo "$out" >&2
        die "installing the Symfony app ($symfony_src) into $symfony_dir"
    fi
    say "Symfony app installed into ${symfony_dir#"$repo"/} (container built)"
}

# --- start ---------------------------------------------------------------------------------------
started_any=0

start_failed() {
    local name=$1
    shift
    show_log_tail "$(log_file "$name")" "$@"
    say "start failed at $name; stopping what runs"
    do_stop >/dev/null
    exit 1
}

# start_one NAME WAIT-SECONDS PROBE-ARGS... -- CMD...
start_one() {
    local name=$1 secs=$2 pid p
    shift 2
    local -a probe=()
    while [ "$1" != -- ]; do
        probe+=("$1")
        shift
    done
    shift
    if pid=$(running_pid "$name"); then
        say "$name already running (pid $pid)"
        return 0
    fi
    for p in $(port_of "$name"); do
        if port_open "$p"; then
            say "127.0.0.1:$p (for $name) is taken by another program;" \
                "pick another port (see scripts/farm.sh --help) or stop that program"
            do_stop >/dev/null
            exit 1
        fi
    done
    launch "$name" "$@"
    started_any=1
    if ! wait_for "$name" "$secs" "${probe[@]}"; then
        case "$name" in
            nodeA | nodeB) start_failed "$name" "$log_dir/$name.error.log" ;;
            *) start_failed "$name" ;;
        esac
    fi
    say "$name up (pid $(running_pid "$name" || echo '?'))"
}

do_start() {
    local apxs libexecdir httpd fpm n port python
    [ "$(id -u)" -eq 0 ] || die "start needs root: the Apache nodes and php-fpm serve as nobody"
    [ -f "$health_so" ] || die "$health_so is missing: run make first (or make run)"
    [ -f "$s3_so" ] || die "$s3_so is missing: run make first (or make run)"
    [ -f "$session_kv_so" ] || die "$session_kv_so is missing: run make first (or make run)"
    [ -f "$cloudwatch_so" ] || die "$cloudwatch_so is missing: run make first (or make run)"
    apxs=$(apxs_bin)
    [ -n "$apxs" ] || die "apxs not found: run scripts/install-deps.sh"
    libexecdir=$("$apxs" -q LIBEXECDIR)
    httpd="$("$apxs" -q SBINDIR)/$("$apxs" -q TARGET)"
    fpm=$(find_php_fpm)
    local -a need=(redis-server memcached haproxy curl php setpriv openssl "$httpd")
    for n in "${need[@]}"; do
        command -v "$n" >/dev/null 2>&1 || die "$n not found: run scripts/install-deps.sh"
    done
    [ -n "$fpm" ] || die "php-fpm not found: run scripts/install-deps.sh"

    mkdir -p "$run_dir" "$log_dir" "$conf_dir"
    load_ports
    save_ports
    if [ ! -s "$token_file" ]; then
        (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$token_file")
    fi
    write_s3_files
    write_redis_tls

    local -a common=(FARM_DIR="$farm_dir" RUN_DIR="$run_dir" LOG_DIR="$log_dir" HTDOCS="$htdocs"
                     LIBEXECDIR="$libexecdir" HEALTH_SO="$health_so" FPM_SOCK="$fpm_sock"
                     S3_SO="$s3_so" S3_BUCKET="$s3_bucket" S3_KEYS="$s3_keys_file"
                     SESSION_KV_SO="$session_kv_so" CLOUDWATCH_SO="$cloudwatch_so"
                     UPLOAD_SECRET="$upload_secret_file" SYMFONY_DIR="$symfony_dir"
                     REDIS_PORT="$REDIS_PORT" REDIS_TLS_PORT="$REDIS_TLS_PORT"
                     REDIS_CA="$redis_ca" MEMCACHED_PORT="$MEMCACHED_PORT"
                     MOTO_PORT="$MOTO_PORT" HTTP_PORT="$HTTP_PORT" STATS_PORT="$STATS_PORT"
                     NODEA_PORT="$NODEA_PORT" NODEB_PORT="$NODEB_PORT"
                     NODES="nodeA=$NODEA_PORT nodeB=$NODEB_PORT")
    render "$tmpl_dir/php-fpm.conf.tmpl" "$conf_dir/php-fpm.conf" "${common[@]}"
    render "$tmpl_dir/haproxy.cfg.tmpl" "$conf_dir/haproxy.cfg" "${common[@]}"
    for n in nodeA nodeB; do
        port=$(port_of "$n")
        mkdir -p "$run_dir/$n"
        render "$tmpl_dir/node.conf.tmpl" "$conf_dir/$n.conf" "${common[@]}" NODE="$n" \
            NODE_PORT="$port"
    done

    # Configuration errors, with the program's own message, before anything is started.
    local out
    out=$("$fpm" -t -y "$conf_dir/php-fpm.conf" 2>&1) || { echo "$out" >&2; die "php-fpm config"; }
    out=$(haproxy -c -f "$conf_dir/haproxy.cfg" 2>&1) || { echo "$out" >&2; die "haproxy config"; }
    for n in nodeA nodeB; do
        out=$("$httpd" -t -f "$conf_dir/$n.conf" 2>&1) ||
            { echo "$out" >&2; die "Apache config of $n ($conf_dir/$n.conf)"; }
    done

    install_symfony
    # Clients need no certificate (--tls-auth-clients no), as with ElastiCache.
    start_one redis 10 probe_redis -- \
        redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --tls-port "$REDIS_TLS_PORT" --tls-cert-file "$tls_dir/redis.pem" \
        --tls-key-file "$tls_dir/redis.key" --tls-ca-cert-file "$redis_ca" \
        --tls-auth-clients no --daemonize no --dir "$run_dir" --protected-mode yes
    start_one memcached 10 probe_line "$MEMCACHED_PORT" version VERSION -- \
        memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 -u nobody
    # The interpreter itself, not a pyenv shim, so the PID we keep is moto's.
    python=$(python3 -c 'import moto.server, sys; print(sys.executable)' 2>/dev/null || true)
    if [ -n "$python" ]; then
        rm -f "$run_dir/moto.skipped"
        start_one moto 60 probe_http_200 "http://127.0.0.1:$MOTO_PORT/moto-api/" -- \
            "$python" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT"
        moto_bootstrap "$python" || start_failed moto
    else
        touch "$run_dir/moto.skipped"
        warn "python3 ($(command -v python3 || echo none)) cannot import moto: no moto server;" \
             "the nodes' 'moto' check (degraded) will show down"
    fi
    start_one php-fpm 15 test -S "$fpm_sock" -- "$fpm" --nodaemonize -y "$conf_dir/php-fpm.conf"
    for n in nodeA nodeB; do
        port=$(port_of "$n")
        start_one "$n" 20 probe_node "$port" -- "$httpd" -f "$conf_dir/$n.conf" -DFOREGROUND
    done
    start_one haproxy 15 probe_http_200 "http://127.0.0.1:$STATS_PORT/" -- \
        haproxy -f "$conf_dir/haproxy.cfg"

    # Ready means HAProxy would send traffic to both nodes (their critical checks passed).
    if ! wait_for haproxy 30 probe_lb; then
        for n in nodeA nodeB; do
            port=$(port_of "$n")
            echo "$n: HAProxy says '$(lb_status "$n")'; its details:" >&2
            curl -s -m 3 "http://127.0.0.1:$port/health/ready?details" >&2 || true
            echo >&2
        done
        start_failed haproxy "$log_dir/nodeA.error.log" "$log_dir/nodeB.error.log"
    fi

    if [ "$started_any" -eq 0 ]; then
        say "the farm is already running"
        for n in "$health_so" "$s3_so" "$session_kv_so" "$cloudwatch_so"; do
            if [ "$n" -nt "$(pid_file nodeA)" ]; then
                say "note: build/${n##*/} changed since the nodes started;" \
                    "to load it: make stop && make run"
            fi
        done
    else
        say "the farm is up"
    fi
    print_summary
}

print_summary() {
    local rel=${farm_dir#"$repo"/} moto_note="(check: degraded)"
    [ -e "$run_dir/moto.skipped" ] && moto_note="(not started: python3 has no moto)"
    echo
    printf '  %-10s %-74s %s\n' component address "log ($rel/logs/)" \
        haproxy "http://127.0.0.1:$HTTP_PORT  (stats http://127.0.0.1:$STATS_PORT/)" haproxy.log \
        nodeA "http://127.0.0.1:$NODEA_PORT  (mod_health, mod_s3, mod_session_kv, mod_cloudwatch)" \
        "nodeA.error.log nodeA.access.log" \
        nodeB "http://127.0.0.1:$NODEB_PORT  (mod_health, mod_s3, mod_session_kv, mod_cloudwatch)" \
        "nodeB.error.log nodeB.access.log" \
        php-fpm "unix:$rel/run/php-fpm.sock" php-fpm.log \
        symfony "http://127.0.0.1:$HTTP_PORT/symfony/  (tests/symfony, in $rel/symfony/)" \
        "php-fpm.log" \
        redis "127.0.0.1:$REDIS_TLS_PORT TLS (sessions; check: critical), 127.0.0.1:$REDIS_PORT plain" \
        redis.log \
        memcached "127.0.0.1:$MEMCACHED_PORT  (check: degraded)" memcached.log \
        moto "http://127.0.0.1:$MOTO_PORT  S3, CloudWatch $moto_note" moto.log
    cat <<EOF

  Open:    http://127.0.0.1:$HTTP_PORT/   (log in with any name, reload: the session counter
           goes on across both nodes; uploads files into moto's $s3_bucket, /files/)
  Symfony: http://127.0.0.1:$HTTP_PORT/symfony/   (a Symfony app: log in, reload, set an attribute;
           its session, in redis, follows you from node to node)
  Redis:   redis-cli --tls --cacert $redis_ca -p $REDIS_TLS_PORT
           (TLS, as the nodes connect; or redis-cli -p $REDIS_PORT, the plain port)
  Metrics: curl -s http://127.0.0.1:$NODEA_PORT/cloudwatch-status   (published to moto every 10 s;
           namespace Lampfarm/Farm, AutoScalingGroupName lampfarm-local)
  Drain:   touch $farm_dir/nodeA.drain     (undo: rm $farm_dir/nodeA.drain)
  or:      curl -X POST -H "Authorization: Bearer \$(cat $token_file)" http://127.0.0.1:$NODEA_PORT/health/drain
  Status:  scripts/farm.sh status
  Stop:    make stop
EOF
}

# --- stop / status -------------------------------------------------------------------------------
do_stop() {
    local i any=0
    for ((i = ${#components[@]} - 1; i >= 0; i--)); do
        if running_pid "${components[$i]}" >/dev/null; then
            any=1
        fi
        stop_component "${components[$i]}"
    done
    rm -f "$ports_file" "$fpm_sock" "$run_dir/moto.skipped" "$run_dir/moto.bootstrapped"
    if [ "$any" -eq 1 ]; then
        say "the farm is stopped (logs kept in $log_dir)"
    else
        say "the farm is not running"
    fi
}

do_status() {
    local c pid up=0 total=0 port
    load_ports
    for c in "${components[@]}"; do
        total=$((total + 1))
        if pid=$(running_pid "$c"); then
            up=$((up + 1))
            printf '  %-10s running  pid %-8s %s\n' "$c" "$pid" "$(port_of "$c")"
        elif [ "$c" = moto ] && [ -e "$run_dir/moto.skipped" ]; then
            total=$((total - 1))
            printf '  %-10s skipped  (python3 has no moto)\n' "$c"
        else
            printf '  %-10s stopped\n' "$c"
        fi
    done
    if [ "$up" -gt 0 ]; then
        for c in nodeA nodeB; do
            port=$(port_of "$c")
            printf '  %s: /health/ready %s, HAProxy says %s\n' "$c" \
                "$(http_code "http://127.0.0.1:$port/health/ready")" "$(lb_status "$c" || true)"
        done
    fi
    if [ "$up" -eq "$total" ]; then
        say "running: http://127.0.0.1:$HTTP_PORT/"
        return 0
    elif [ "$up" -eq 0 ]; then
        say "not running"
        return 3
    fi
    say "partly running (scripts/farm.sh start starts the rest; make stop stops all)"
    return 1
}

case "${1:-}" in
    start) do_start ;;
    stop) load_ports; do_stop ;;
    status) do_status ;;
    -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
