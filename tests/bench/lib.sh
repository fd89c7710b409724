# shellcheck shell=bash
# tests/bench/lib.sh — what the benchmarks (tests/bench/health.sh, s3.sh, session.sh, cloudwatch.sh)
# share, sourced by each:
#   the prelude   the command line (--help, nothing else), the wrk settings from BENCH_* with the
#                 script's defaults, die, the checks of what a run needs (root, tools, modules),
#                 httpd and its modules directory from apxs, free ports on 127.0.0.1;
#   processes     servers started in a process group of their own and stopped at exit (bench_init
#                 sets the traps);
#   httpd         the head of every benchmark httpd.conf and the event MPM's settings (those of the
#                 integration tests' harness), the config test and start, waiting until it answers;
#   figures       medians, the machine line, the warnings of an error log;
#   A/B           (ab_*, used by cloudwatch.sh and the hand-off filter part of s3.sh) the shared
#                 two-server comparison, described further down.

# The scripts that source this file read it (shellcheck, checking this file alone, cannot see them).
# shellcheck disable=SC2034
bench_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_httpd=''        # the httpd binary (bench_setup)
bench_libexecdir=''   # its modules directory
bench_duration=10s    # wrk -d (bench_wrk_args)
bench_conns=32        # wrk -c
bench_threads=2       # wrk -t
bench_rounds=3        # rounds; each runs every variant once
bench_next_port=''    # bench_take_port: where the search for the next free port starts
bench_port=''         # bench_take_port: the port it took

die() { echo "bench: ERROR: $*" >&2; exit 1; }

# bench_args ARGS...: the command line of a benchmark: --help prints the script's usage, any other
# argument is bad usage (exit 2); everything else comes from the environment.
bench_args() {
    case "${1:-}" in
        -h | --help) usage; exit 0 ;;
        "") ;;
        *) usage >&2; exit 2 ;;
    esac
}

# bench_wrk_args DURATION CONNS THREADS ROUNDS ARGS...: the wrk settings from BENCH_DURATION,
# BENCH_CONNS, BENCH_THREADS and BENCH_ROUNDS, else these defaults (which bench_usage shows); then
# the command line ARGS (bench_args).
bench_wrk_defaults=()
bench_wrk_args() {
    bench_wrk_defaults=("$1" "$2" "$3" "$4")
    bench_duration=${BENCH_DURATION:-$1}
    bench_conns=${BENCH_CONNS:-$2}
    bench_threads=${BENCH_THREADS:-$3}
    bench_rounds=${BENCH_ROUNDS:-$4}
    shift 4
    bench_args "$@"
}

# bench_usage WHAT: the start of the usage of a benchmark with the four wrk settings (after
# bench_wrk_args): its name, and the environment variables of those settings; WHAT is what a
# round runs once each. The script's own variables follow.
bench_usage() {
    printf 'Usage: tests/bench/%s [--help]\n\nEnvironment:\n' "${0##*/}"
    printf '  %-21s%s\n' "BENCH_DURATION=${bench_wrk_defaults[0]}" "wrk -d per run" \
        "BENCH_CONNS=${bench_wrk_defaults[1]}" "wrk -c" \
        "BENCH_THREADS=${bench_wrk_defaults[2]}" "wrk -t" \
        "BENCH_ROUNDS=${bench_wrk_defaults[3]}" "rounds; each round runs $1 once"
}

# bench_need_tools TOOL...: each on PATH, else the run stops naming the installer.
bench_need_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || die "$t not found: run scripts/install-deps.sh"
    done
}

# bench_setup MODULE-SO TOOL...: what every benchmark needs: the module built (make), the tools,
# root (httpd serves as nobody); then bench_httpd and bench_libexecdir from apxs (apxs2 on Debian).
bench_setup() {
    local apxs
    [ -f "$1" ] || die "$1 is missing: run make first"
    shift
    bench_need_tools "$@"
    [ "$(id -u)" -eq 0 ] || die "needs root (httpd serves as nobody)"
    apxs=$(command -v apxs 2>/dev/null || command -v apxs2 2>/dev/null) || die "apxs not found"
    bench_libexecdir=$("$apxs" -q LIBEXECDIR)
    bench_httpd="$("$apxs" -q SBINDIR)/$("$apxs" -q TARGET)"
}

# bench_httpd_version: "Apache/2.4.x (Debian)", from httpd -v.
bench_httpd_version() { "$bench_httpd" -v | sed -n 's/^Server version: //p'; }

# bench_machine: "<n> CPUs (<model>)".
bench_machine() {
    echo "$(nproc) CPUs ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1))"
}

# --- ports ---------------------------------------------------------------------------------------

bench_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# bench_take_port: sets bench_port to the next port from bench_next_port up (200 tried) that
# nobody listens on, and moves bench_next_port past it (not in a subshell, so that it moves on).
bench_take_port() {
    local limit=$((bench_next_port + 200))
    while ((bench_next_port < limit)); do
        bench_port=$bench_next_port
        bench_next_port=$((bench_next_port + 1))
        bench_port_open "$bench_port" || return 0
    done
    die "no free port below $limit"
}

# bench_free_port FROM: prints the first port from FROM up that nobody listens on.
bench_free_port() {
    local bench_next_port=$1 bench_port
    bench_take_port
    echo "$bench_port"
}

# --- processes -----------------------------------------------------------------------------------

bench_pids=()            # every process bench_spawn started, in order
declare -A bench_pid     # NAME -> its pid
bench_exit_cmds=()       # run at exit, after the processes are stopped

# bench_spawn NAME CMD...: CMD in the background in a process group of its own (setsid: the group
# is its pid), stdin from /dev/null, stdout and stderr as the call's (redirect the call); its pid in
# bench_pid[NAME].
bench_spawn() {
    local name=$1
    shift
    setsid "$@" </dev/null &
    bench_pid[$name]=$!
    bench_pids+=("$!")
}

# bench_stop_group PID: TERM the process, wait up to 10 s, then KILL its group.
bench_stop_group() {
    local i
    kill -TERM "$1" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$1" 2>/dev/null || true
}

# bench_stop NAME: stops what bench_spawn NAME started.
bench_stop() {
    local pid=${bench_pid[$1]:-} p rest=()
    [ -n "$pid" ] || return 0
    bench_stop_group "$pid"
    unset 'bench_pid[$1]'
    for p in "${bench_pids[@]}"; do
        [ "$p" = "$pid" ] || rest+=("$p")
    done
    bench_pids=("${rest[@]}")
}

# bench_at_exit CMD: CMD (with eval) at exit, after the processes are stopped.
bench_at_exit() { bench_exit_cmds+=("$1"); }

# bench_cleanup: stops every process still running, the last started first; then bench_at_exit's.
bench_cleanup() {
    local i c
    for ((i = ${#bench_pids[@]} - 1; i >= 0; i--)); do
        bench_stop_group "${bench_pids[i]}"
    done
    bench_pids=()
    for c in "${bench_exit_cmds[@]}"; do eval "$c" || true; done
}

# bench_init DIR: the traps (every process stopped at exit, also on ^C), and DIR emptied.
bench_init() {
    trap bench_cleanup EXIT
    trap 'exit 1' INT TERM   # so that the EXIT trap runs
    rm -rf "$1"
    mkdir -p "$1"
}

# --- httpd ---------------------------------------------------------------------------------------

# bench_conf_head ROOT: the start of every benchmark server's configuration: ServerRoot ROOT, its
# runtime files in ROOT/run, serving as nobody, unixd and authz_core loaded. The caller adds the
# MPM (bench_conf_event for event), PidFile, ErrorLog, Listen and what is measured.
bench_conf_head() {
    cat <<EOF
ServerRoot "$1"
ServerName 127.0.0.1
DefaultRuntimeDir "$1/run"
LogLevel warn
User nobody
Group nogroup
<IfModule !mod_unixd.c>
    LoadModule unixd_module $bench_libexecdir/mod_unixd.so
</IfModule>
LoadModule authz_core_module $bench_libexecdir/mod_authz_core.so
EOF
}

# bench_conf_event: the event MPM with the settings the integration tests run it with (2-4
# children of 32 threads: enough that wrk's connections never queue for one), read from the
# harness (MPM_CONF in tests/integration/harness/httpd.py) so that they are written once.
bench_conf_event() {
    echo "LoadModule mpm_event_module $bench_libexecdir/mod_mpm_event.so"
    python3 -c 'import sys; sys.path.insert(0, sys.argv[1])
from harness.httpd import MPM_CONF
print(MPM_CONF["event"], end="")' "$bench_repo/tests/integration" ||
        die "cannot read MPM_CONF from tests/integration/harness/httpd.py"
}

# bench_conf_many_spares: after bench_conf_event, for a server that wrk loads with 32 keep-alive
# connections on a static file: httpd's default spare threads instead of the harness's (which
# start 2 children, not 3). With only 2, the event MPM closes some kept-alive connections under
# that load (wrk: "Socket errors: read", which stops the A/B comparison), and the figures of the
# static-file benchmarks were all measured with 3.
bench_conf_many_spares() {
    printf 'MinSpareThreads 75\nMaxSpareThreads 250\n'
}

# bench_httpd_start NAME CONF LOG: config test of CONF, then httpd -f CONF in the foreground of a
# process group of its own (bench_spawn NAME), its stdout and stderr appended to LOG.
bench_httpd_start() {
    "$bench_httpd" -t -f "$2" >/dev/null 2>&1 ||
        { "$bench_httpd" -t -f "$2" || true; die "httpd config test failed ($2)"; }
    bench_spawn "$1" "$bench_httpd" -f "$2" -DFOREGROUND >>"$3" 2>&1
}

# bench_wait_ok NAME URL [CURL-OPTION...]: waits until URL answers 200 (10 s at the most; 1 if it
# never did); stops the run when the server NAME has died, showing the files in bench_show_logs.
bench_show_logs=()
bench_wait_ok() {
    local name=$1 url=$2 i
    shift 2
    for ((i = 0; i < 100; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" || true)" = 200 ] && return 0
        if ! kill -0 "${bench_pid[$name]}" 2>/dev/null; then
            [ "${#bench_show_logs[@]}" -eq 0 ] || cat "${bench_show_logs[@]}" >&2 || true
            die "$name died at start"
        fi
        sleep 0.1
    done
    return 1
}

# --- figures -------------------------------------------------------------------------------------

# bench_median [-f FORMAT | -m FORMAT] VALUE...: the median: for an odd count the middle value as
# given, for an even one the mean of the middle two as awk prints a number; -m FORMAT prints that
# mean with FORMAT, -f FORMAT prints either with FORMAT.
bench_median() {
    local f='' m=''
    case "${1:-}" in
        -f) f=$2; shift 2 ;;
        -m) m=$2; shift 2 ;;
    esac
    printf '%s\n' "$@" | sort -g |
        awk -v f="$f" -v m="$m" '{ v[NR] = $1 } END {
            if (NR % 2) x = v[(NR + 1) / 2]; else x = (v[NR / 2] + v[NR / 2 + 1]) / 2
            if (f != "") printf f "\n", x
            else if (m != "" && NR % 2 == 0) printf m "\n", x
            else print x }'
}

# bench_group_ticks PGID...: user+system CPU so far of the processes of the groups PGID, in clock
# ticks (a process started by bench_spawn leads a group whose id is its pid; a child that exits
# meanwhile takes its ticks along).
bench_group_ticks() {
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } |   # processes come and go meanwhile
        awk -v gs="$*" 'BEGIN { n = split(gs, x, " "); for (i = 1; i <= n; i++) g[x[i]] = 1 }
                        { sub(/^.*\) /, ""); if ($3 in g) t += $12 + $13 } END { print t + 0 }'
}

# bench_log_warnings LOG...: for each LOG with [warn] or worse lines, says so and shows the last
# five.
bench_log_warnings() {
    local log
    for log in "$@"; do
        if grep -E '\[([a-z_0-9]+:)?(warn|error|crit|alert|emerg)\]' "$log" >/dev/null 2>&1; then
            echo "bench: warnings in $log:"
            grep -E ':(warn|error|crit|alert|emerg)\]' "$log" | tail -n 5
        fi
    done
}

# --- A/B: what a module costs a request that has nothing to do with it ---------------------------
#
# Two Apache httpd servers (event MPM, 127.0.0.1, no access log) from the same generated
# configuration serve the same 1 KB static file; they differ only in what the caller adds to one
# of them (the module loaded and configured). wrk runs against the two in alternating rounds
# (each round both, the order swapped every round, so drift in the machine's load hits both
# alike). ab_rounds prints requests/s per round, the medians, their ratio, and the cost per
# request in microseconds two ways:
#   from throughput  (1/rps_subj - 1/rps_base) x CPUs, subj being the server with the module:
#                    wrk and httpd keep every CPU of the box busy, so one request takes CPUs/rps
#                    CPU-seconds of the box, and the difference is the module's share
#   measured         httpd's own CPU (user + system of every process of its group, from
#                    /proc/<pid>/stat) per request served, subj minus base
#
# The caller sets ab_work and the variables of bench_setup and bench_wrk_args (or sets
# bench_duration and bench_rounds itself), then calls ab_init, ab_conf and ab_start for both
# servers, ab_rounds. Servers started here are stopped by ab_stop, and at exit.

ab_work=''         # a directory of its own, emptied by ab_init
ab_names=()        # the servers ab_start started
ab_free=()         # ab_free_ports
declare -A ab_port ab_rps ab_ticks ab_reqs

# ab_free_ports N FROM: sets the array ab_free to N ports from FROM up that nobody listens on.
ab_free_ports() {
    local bench_next_port=$2 bench_port
    ab_free=()
    while [ "${#ab_free[@]}" -lt "$1" ]; do
        bench_take_port
        ab_free+=("$bench_port")
    done
}

# ab_init: empties ab_work and puts the static file in ab_work/htdocs.
ab_init() {
    rm -rf "$ab_work"
    mkdir -p "$ab_work/htdocs"
    head -c 1024 /dev/zero | tr '\0' 'x' >"$ab_work/htdocs/static.txt"
}

# ab_conf NAME PORT COMMON EXTRA: writes ab_work/NAME/httpd.conf; COMMON is what both servers of
# the comparison load besides the base (the same for both), EXTRA what only this one has.
ab_conf() {
    local name=$1 port=$2 common=$3 extra=$4
    mkdir -p "$ab_work/$name/run"
    {
        echo "# Generated by ${0##*/} ($name)"
        bench_conf_head "$ab_work/$name"
        bench_conf_event
        bench_conf_many_spares
        cat <<EOC
Listen 127.0.0.1:$port
PidFile "$ab_work/$name/run/httpd.pid"
ErrorLog "$ab_work/$name/error.log"
# No access log: this measures the module's hooks, not logging (with an access log both
# servers would pay the same extra).
DocumentRoot "$ab_work/htdocs"
<Directory "$ab_work/htdocs">
    Require all granted
</Directory>
$common
$extra
EOC
    } >"$ab_work/$name/httpd.conf"
}

# ab_start NAME PORT: starts the server configured by ab_conf NAME and waits until it serves the
# static file.
ab_start() {
    local name=$1 url="http://127.0.0.1:$2/static.txt"
    bench_httpd_start "$name" "$ab_work/$name/httpd.conf" "$ab_work/$name/stdout.log"
    ab_names+=("$name")
    ab_port[$name]=$2
    bench_show_logs=("$ab_work/$name/stdout.log" "$ab_work/$name/error.log")
    bench_wait_ok "$name" "$url" || true
    [ "$(curl -s "$url" | wc -c)" -eq 1024 ] || die "static file not served by $name"
}

# ab_stop: stops every server ab_start started.
ab_stop() {
    local name
    for name in "${ab_names[@]}"; do bench_stop "$name"; done
    ab_names=()
}

# ab_run_wrk NAME: one wrk run against NAME; its requests/s in ab_last, added to its list, its
# CPU ticks and requests to its totals (not in a subshell: it keeps the totals).
ab_run_wrk() {
    local name=$1 out r n t0 t1
    t0=$(bench_group_ticks "${bench_pid[$name]}")
    out=$(wrk -t"$bench_threads" -c"$bench_conns" -d"$bench_duration" --latency \
        "http://127.0.0.1:${ab_port[$name]}/static.txt")
    t1=$(bench_group_ticks "${bench_pid[$name]}")
    printf '### %s\n%s\n' "$name" "$out" >>"$ab_work/wrk.log"
    if grep -q 'Non-2xx or 3xx responses\|Socket errors' <<<"$out"; then
        die "non-2xx answers or socket errors from $name (see $ab_work/wrk.log)"
    fi
    r=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    n=$(awk '/ requests in / { print $1 }' <<<"$out")
    if [ -z "$r" ] || [ -z "$n" ]; then die "no Requests/sec from wrk (see $ab_work/wrk.log)"; fi
    ab_ticks[$name]=$((${ab_ticks[$name]:-0} + t1 - t0))
    ab_reqs[$name]=$((${ab_reqs[$name]:-0} + n))
    ab_rps[$name]="${ab_rps[$name]:-} $r"
    ab_last=$r
}

# ab_rounds BASE SUBJ MIN_RATIO: the warm-up and the rounds against two started servers; prints
# the table, the medians, their ratio SUBJ/BASE against the expectation MIN_RATIO and the cost
# per request. Sets ab_ratio and ab_cpu_base, ab_cpu_subj (httpd CPU microseconds per request).
ab_rounds() {
    local base=$1 subj=$2 min=$3 tick r b c med_b med_c from_rps name rps
    tick=$(getconf CLK_TCK)
    echo "bench: wrk -t$bench_threads -c$bench_conns -d$bench_duration, $bench_rounds rounds, alternating;" \
         "$(bench_machine);" \
         "load average $(cut -d' ' -f1-3 /proc/loadavg)"
    # A short warm-up of both, not counted.
    for name in "$base" "$subj"; do
        wrk -t1 -c4 -d1s "http://127.0.0.1:${ab_port[$name]}/static.txt" >/dev/null
    done
    printf '\n  %-6s %18s %18s %8s\n' round "$base req/s" "$subj req/s" ratio
    for ((r = 1; r <= bench_rounds; r++)); do
        if ((r % 2)); then
            ab_run_wrk "$base"; b=$ab_last
            ab_run_wrk "$subj"; c=$ab_last
        else
            ab_run_wrk "$subj"; c=$ab_last
            ab_run_wrk "$base"; b=$ab_last
        fi
        printf '  %-6s %18.0f %18.0f %8.3f\n' "$r" "$b" "$c" "$(awk -v a="$c" -v b="$b" 'BEGIN { print a / b }')"
    done
    read -ra rps <<<"${ab_rps[$base]}"
    med_b=$(bench_median "${rps[@]}")
    read -ra rps <<<"${ab_rps[$subj]}"
    med_c=$(bench_median "${rps[@]}")
    ab_ratio=$(awk -v a="$med_c" -v b="$med_b" 'BEGIN { printf "%.3f", a / b }')
    printf '  %-6s %18.0f %18.0f %8s\n' median "$med_b" "$med_c" "$ab_ratio"
    from_rps=$(awk -v a="$med_c" -v b="$med_b" -v n="$(nproc)" 'BEGIN { printf "%.2f", (1 / a - 1 / b) * n * 1e6 }')
    ab_cpu_base=$(awk -v t="${ab_ticks[$base]}" -v n="${ab_reqs[$base]}" -v k="$tick" \
        'BEGIN { printf "%.1f", n ? t / k * 1e6 / n : 0 }')
    ab_cpu_subj=$(awk -v t="${ab_ticks[$subj]}" -v n="${ab_reqs[$subj]}" -v k="$tick" \
        'BEGIN { printf "%.1f", n ? t / k * 1e6 / n : 0 }')
    echo
    echo "bench: cost per request, from throughput: (1/$med_c - 1/$med_b) x $(nproc) CPUs = $from_rps us"
    echo "bench: cost per request, measured: httpd CPU $ab_cpu_subj us ($subj) - $ab_cpu_base us ($base)" \
         "= $(awk -v a="$ab_cpu_subj" -v b="$ab_cpu_base" 'BEGIN { printf "%.1f", a - b }') us" \
         "(over ${ab_reqs[$subj]} and ${ab_reqs[$base]} requests; CPU clock tick $((1000000 / tick)) us)"
    if awk -v r="$ab_ratio" -v m="$min" 'BEGIN { exit !(r >= m) }'; then
        echo "bench: $subj/$base = $ab_ratio (expectation >= $min: met)"
    else
        echo "bench: $subj/$base = $ab_ratio (expectation >= $min: NOT met)"
    fi
}

# ab_log_warnings NAME...: shows the last [warn] and worse lines of each server's error log.
ab_log_warnings() {
    local name
    for name in "$@"; do bench_log_warnings "$ab_work/$name/error.log"; done
}
