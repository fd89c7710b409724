#!/usr/bin/env bash
# tests/bench/session.sh — what a session costs per request with mod_session_kv, compared with
# no session, httpd's own session stores (mod_session_cookie, mod_session_dbd on SQLite and on
# MariaDB) and PHP's own redis session handler.
#
# Starts its own redis-server, a Redis Cluster of 3 primaries over TLS and memcached (127.0.0.1,
# free ports, no persistence), one MariaDB (127.0.0.1, a data directory of its own made by
# mariadb-install-db in the work directory) and its own Apache httpd servers (127.0.0.1, free
# ports, no access log), then measures with wrk requests/s and p99 latency of one request,
# GET /s.txt (a 128-byte static file), whose session is loaded by mod_session's fixup (SessionEnv
# On) and handed to nothing: the session is the only work besides serving the smallest file.
# Ten variants, one virtual host each on its own port of one event-MPM server (BENCH_VARIANTS
# picks some):
#   none          no session at all (the baseline)
#   cookie        mod_session_cookie (the session is the cookie)
#   dbd           mod_session_dbd, mod_dbd with the apr_dbd sqlite3 driver
#   dbd-mysql     mod_session_dbd, mod_dbd with the apr_dbd mysql driver on the MariaDB (the
#                 stock-httpd way to keep sessions in RDS), the same table and queries as dbd
#   kv-redis      mod_session_kv on redis
#   kv-redis-tls  mod_session_kv on the same redis through its TLS port (rediss://, a certificate
#                 from a test CA that the script makes with openssl, SessionKVCAFile)
#   kv-memcached  mod_session_kv on memcached (memcached://: libmemcached, plain TCP)
#   kv-memcached-tls  mod_session_kv on the same memcached through its TLS listener
#                 (memcacheds://: the module's own meta-protocol client; the same certificate
#                 and SessionKVCAFile as kv-redis-tls)
#   kv-redis-cluster  mod_session_kv on a Redis Cluster of 3 primaries (no replicas), TLS only
#                 (cluster bus too), each node announcing the host name localhost that its
#                 certificate names, as tests/integration/harness/rcluster.py sets one up
#                 (rediss://localhost:<first node>, the module learns that it is a cluster and
#                 routes each key to its slot's primary); after the sessions' setup the keys of
#                 each primary are printed (DBSIZE), and a primary without any fails the run
#   kv-mysql      mod_session_kv on a table of the same MariaDB (mysql://, its own database and
#                 account, the table from modules/session_kv/sql/session_kv.mysql.sql)
# Every wrk connection carries its own session, created through httpd beforehand (a CGI sets it
# with SessionHeader) and checked to load: wrk runs one thread per connection and
# tests/bench/session.lua gives each thread its own cookie.
#   reads   the session is only read (no SessionMaxAge: mod_session saves nothing).
#   writes  SessionMaxAge 3600 makes mod_session save the session on every request, and
#           SessionKVTouchInterval 0 makes mod_session_kv really rewrite it every time (by
#           default an unchanged session only has its expiry refreshed once a minute). Afterwards
#           every session is read back (through httpd; for dbd and dbd-mysql also its row in the
#           database): a session that no longer loads is lost.
#   lost updates  then, on the same servers, BENCH_LOST_ROUNDS times a new session and
#           BENCH_LOST_WRITERS requests on it at once, each adding its own key 200 ms after the
#           session was loaded; the keys the final session lacks are lost updates (a store
#           without concurrency control keeps the last save only; mod_session_kv merges).
#   MariaDB's statements and CPU per request of dbd-mysql and kv-mysql over the rounds (its
#   userstat's USER_STATISTICS, one database account per variant).
# The event server logs mod_session_kv's connects (LogLevel session_kv:trace1, LF01920): how many
# connections each store opened in a phase, and over TLS how many handshakes were full or resumed
# (the cluster: one connection per primary of each pooled connection, counted per primary).
# Then reconnects, with tests/bench/reconnect (`make bench-build`; lf_conn, the module's
# connection code): one connection at a time to the same redis, connect + PING + close, over TCP,
# over TLS with a full handshake each time, and over TLS resuming the previous session; connects/s,
# microseconds per connect of the client and of redis, in rounds rotating the order.
# Then a prefork server with mod_php (as PHP applications run without FPM) serves, for reads:
#   static        the same static file (the baseline of this server)
#   php-none      a PHP page that starts no session
#   php-redis     the same page with session_start() on PHP's redis handler (php-redis,
#                 session.save_handler=redis)
#   php-kv        the same page with session_start() on php/LampfarmSessionHandler.php, the
#                 session loaded by mod_session_kv on redis
# Rounds rotate the order of the variants (so drift in the machine's load hits all alike); each
# figure is the median over the rounds. Prints the tables and the ratios: kv/cookie for reads
# (expectation >= 0.8), kv/dbd for writes (expectation >= 10), kv-redis-tls/kv-redis for both
# (expectation >= 0.9: connections are kept, a handshake is paid once per connection),
# kv-redis-cluster/kv-redis-tls for both (expectation >= 0.9: a cluster of 3 primaries against one
# node, both over TLS), kv-memcached-tls/kv-memcached and kv-memcached-tls/kv-redis-tls (stated,
# no expectation), kv-mysql/dbd-mysql for writes (expectation >= 2, nothing lost) and for reads
# (expectation >= 1), kv-mysql/kv-redis for both (stated), a reconnect's cost over TLS against TCP
# and resumed against full, kv against PHP's redis handler.
# Never part of `make test` (`make bench` runs it). Exit 0 whatever the figures; 1 on errors
# (including a session that does not load before the load starts).
set -eEuo pipefail
trap 'echo "bench: ERROR: unexpected failure at line $LINENO: $BASH_COMMAND" >&2' ERR

usage() {
    cat <<'EOF'
Usage: tests/bench/session.sh [--help]

Environment:
  BENCH_DURATION=5s        wrk -d per run
  BENCH_CONNS=32           wrk connections = wrk threads = sessions per variant
  BENCH_ROUNDS=3           rounds; each runs every variant of a phase once
  BENCH_SESSION_BYTES=200  size of the session's data value
  BENCH_PHP=1              0 skips the prefork / mod_php part
  BENCH_LOST_WRITERS=8     lost updates: concurrent writers on one session, each its own key
  BENCH_LOST_ROUNDS=5      lost updates: sessions so written, each with a new session
  BENCH_RECONNECT=5s       reconnect runs' length (tests/bench/reconnect); 0 skips them
  BENCH_PORT=              first of the ports for the benchmark servers (default: free ones
                           from 18600 up)
  BENCH_VARIANTS=          the event server's variants to run, space-separated (default: all:
                           cookie dbd dbd-mysql kv-redis kv-redis-tls kv-memcached
                           kv-memcached-tls kv-redis-cluster kv-mysql); none, the baseline, always
                           runs, and only the backends they need are started
  LAMPFARM_BUILD=build     the build directory (make BUILD=...)
Needs root (httpd serves as nobody), wrk, redis-server and redis-cli 7 or later with TLS (the
cluster's nodes announce a host name), memcached, sqlite3, openssl, mariadbd, mariadb and
mariadb-install-db (mariadb-server, mariadb-client), mod_session_dbd with the apr_dbd sqlite3
and mysql drivers (libaprutil1-dbd-sqlite3, libaprutil1-dbd-mysql), mod_php with php-redis
(libapache2-mod-php, php-redis) for the PHP part, build/mod_session_kv.so (`make`) and
build/tests/bench/reconnect (`make bench-build`); of the backends only what BENCH_VARIANTS,
BENCH_PHP and BENCH_RECONNECT need.
Logs, configurations, the test CA and wrk's output go to build/bench/session/. A run takes about
8 minutes (BENCH_DURATION=10s BENCH_RECONNECT=0 BENCH_PHP=0: 12 minutes); the MariaDB
comparison alone, BENCH_VARIANTS="dbd-mysql kv-mysql kv-redis" BENCH_PHP=0 BENCH_RECONNECT=0,
2.5 minutes.
EOF
}

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# wrk runs one thread per connection: BENCH_THREADS does not apply
bench_wrk_args 5s 32 - 3 "$@"
session_bytes=${BENCH_SESSION_BYTES:-200}
with_php=${BENCH_PHP:-1}
lost_writers=${BENCH_LOST_WRITERS:-8}
lost_rounds=${BENCH_LOST_ROUNDS:-5}
reconnect_duration=${BENCH_RECONNECT:-5s}

repo=$bench_repo
build=${LAMPFARM_BUILD:-$repo/build}
so="$build/mod_session_kv.so"
lua="$repo/tests/bench/session.lua"
reconnect="$build/tests/bench/reconnect"
work="$build/bench/session"

# The event server's variants: none (the baseline) and those BENCH_VARIANTS names, in this order.
all_variants=(none cookie dbd dbd-mysql kv-redis kv-redis-tls kv-memcached kv-memcached-tls
    kv-redis-cluster kv-mysql)
variants=(none)
if [ -n "${BENCH_VARIANTS:-}" ]; then
    for v in ${BENCH_VARIANTS}; do
        [[ " ${all_variants[*]} " == *" $v "* ]] ||
            die "BENCH_VARIANTS: no variant '$v' (${all_variants[*]})"
    done
    for v in "${all_variants[@]:1}"; do
        [[ " ${BENCH_VARIANTS} " == *" $v "* ]] && variants+=("$v")
    done
else
    variants=("${all_variants[@]}")
fi
# has VARIANT: whether the run measures VARIANT.
has() { [[ " ${variants[*]} " == *" $1 "* ]]; }
kv_variants=()
for v in "${variants[@]}"; do
    [[ $v != kv-* ]] || kv_variants+=("$v")
done
# The backends the run needs (redis also for the PHP part and the reconnects).
need_redis=0 need_mc=0 need_cluster=0 need_mysql=0
if has kv-redis || has kv-redis-tls || [ "$with_php" = 1 ] ||
    { [ "$reconnect_duration" != 0 ] && [ "$reconnect_duration" != 0s ]; }; then
    need_redis=1
fi
if has kv-memcached || has kv-memcached-tls; then need_mc=1; fi
if has kv-redis-cluster; then need_cluster=1; fi
if has dbd-mysql || has kv-mysql; then need_mysql=1; fi

tools=(wrk curl openssl)
((need_redis + need_cluster == 0)) || tools+=(redis-server redis-cli)
((need_mc == 0)) || tools+=(memcached)
! has dbd || tools+=(sqlite3)
((need_mysql == 0)) || tools+=(mariadbd mariadb mariadb-install-db)
bench_setup "$so" "${tools[@]}"
for m in session session_cookie session_dbd dbd cgid headers status; do
    [ -f "$bench_libexecdir/mod_$m.so" ] || die "$bench_libexecdir/mod_$m.so not found"
done
# apr_dbd_driver NAME PACKAGE: the apr_dbd driver NAME must be installed (Debian: PACKAGE).
apr_dbd_driver() {
    local f
    for f in /usr/lib/*/apr-util-1/apr_dbd_"$1"*.so /usr/lib*/apr-util-1/apr_dbd_"$1"*.so; do
        [ -f "$f" ] && return 0
    done
    die "the apr_dbd $1 driver is missing (Debian: $2)"
}
! has dbd || apr_dbd_driver sqlite3 libaprutil1-dbd-sqlite3
! has dbd-mysql || apr_dbd_driver mysql libaprutil1-dbd-mysql
if [ "$with_php" = 1 ]; then
    libphp=''
    for f in "$bench_libexecdir"/libphp*.so; do
        [ -f "$f" ] && { libphp=$f; break; }
    done
    [ -n "$libphp" ] ||
        die "mod_php not found in $bench_libexecdir (libapache2-mod-php; BENCH_PHP=0 skips)"
    [ -f "$repo/php/LampfarmSessionHandler.php" ] || die "php/LampfarmSessionHandler.php missing"
fi
((bench_conns >= 1 && bench_conns <= 64)) || die "BENCH_CONNS must be 1..64 (one wrk thread each)"
case $reconnect_duration in
    0 | 0s) reconnect_duration=0 ;;
    *[0-9]s) ;;
    *) die "BENCH_RECONNECT must be seconds (5s) or 0" ;;
esac
[ "$reconnect_duration" = 0 ] || [ -x "$reconnect" ] ||
    die "$reconnect is missing: run make bench-build (BENCH_RECONNECT=0 skips)"

bench_next_port=${BENCH_PORT:-18600}

reconnect_modes=(tcp full resumed)
php_variants=(static php-none php-redis php-kv)
declare -A port
for v in "${variants[@]}"; do bench_take_port; port[$v]=$bench_port; done
bench_take_port; prefork_port=$bench_port
bench_take_port; redis_port=$bench_port
bench_take_port; redis_tls_port=$bench_port
bench_take_port; mc_port=$bench_port
bench_take_port; mc_tls_port=$bench_port
bench_take_port; mysql_port=$bench_port
# The cluster's nodes: a TLS port and a cluster bus port each (the bus is not port + 10000, which
# may not exist or be taken).
cl_nodes=3
cl_port=() cl_bus=()
for ((i = 0; i < cl_nodes; i++)); do
    bench_take_port; cl_port[i]=$bench_port
    bench_take_port; cl_bus[i]=$bench_port
done

bench_init "$work"
mkdir -p "$work/htdocs/php/redis" "$work/htdocs/php/kv" "$work/cgi" "$work/run" "$work/logs" \
    "$work/db" "$work/sessions" "$work/tls"

pid=''
cl_pid=()

# --- backends ------------------------------------------------------------------------------------
# A test CA and certificates signed by it (as tests/integration/harness/tls.py makes them): RSA
# 2048, as ElastiCache's.
# make_cert NAME SAN EKU: $work/tls/NAME.pem and NAME.key for subjectAltName SAN and
# extendedKeyUsage EKU, signed by the test CA.
make_cert() {
    local d=$work/tls
    printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$2" "$3" >"$d/$1.ext"
    openssl req -newkey rsa:2048 -nodes -keyout "$d/$1.key" -out "$d/$1.csr" -subj /CN=localhost &&
        openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
            -out "$d/$1.pem" -days 2 -extfile "$d/$1.ext"
}
# server: redis's and memcached's; the name checked is 127.0.0.1, an IP SAN. cluster: the
# cluster's nodes', for the name they announce only (localhost, as rcluster.py makes it), and for
# TLS clients too: a node presents it as a client certificate on the cluster bus.
make_test_ca() {
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/tls/ca.key" -out "$work/tls/ca.pem" \
        -days 2 -subj '/CN=lampfarm bench CA' &&
        make_cert server DNS:localhost,IP:127.0.0.1 serverAuth &&
        make_cert cluster DNS:localhost serverAuth,clientAuth
}
make_test_ca >"$work/logs/openssl.log" 2>&1 || die "openssl failed (see $work/logs/openssl.log)"
# One redis for kv-redis and kv-redis-tls: a plain port and a TLS port (clients need no
# certificate), so that the two variants differ only in TLS.
# wait_port PORT WHAT LOG: until PORT listens (10 s), else the run stops naming WHAT and LOG.
wait_port() {
    local k
    for ((k = 0; k < 100; k++)); do bench_port_open "$1" && return 0; sleep 0.1; done
    die "$2 does not listen on $1 (see $3)"
}
if ((need_redis)); then
    bench_spawn redis redis-server --bind 127.0.0.1 --port "$redis_port" --save '' \
        --appendonly no --tls-port "$redis_tls_port" --tls-cert-file "$work/tls/server.pem" \
        --tls-key-file "$work/tls/server.key" --tls-ca-cert-file "$work/tls/ca.pem" \
        --tls-auth-clients no \
        --protected-mode no --dir "$work/run" --logfile "$work/logs/redis.log" --daemonize no \
        >/dev/null 2>&1
    redis_pid=${bench_pid[redis]}
    wait_port "$redis_port" redis "$work/logs/redis.log"
    wait_port "$redis_tls_port" "redis (TLS)" "$work/logs/redis.log"
fi
# One memcached for kv-memcached and kv-memcached-tls likewise: a plain listener ("notls:") and a
# TLS one (-Z) with the same certificate (as tests/integration/harness/backends.py runs it).
if ((need_mc)); then
    bench_spawn memcached memcached -l "notls:127.0.0.1:$mc_port,127.0.0.1:$mc_tls_port" -U 0 \
        -m 64 -c 4096 -u nobody -Z \
        -o "ssl_chain_cert=$work/tls/server.pem,ssl_key=$work/tls/server.key" \
        >"$work/logs/memcached.log" 2>&1
    mc_pid=${bench_pid[memcached]}
    wait_port "$mc_port" memcached "$work/logs/memcached.log"
    wait_port "$mc_tls_port" "memcached (TLS)" "$work/logs/memcached.log"
fi

# The Redis Cluster of kv-redis-cluster, as tests/integration/harness/rcluster.py sets one up (the
# way ElastiCache runs one with encryption in transit): TLS only (the cluster bus too), every node
# announcing the host name its certificate names, 3 primaries made by redis-cli --cluster create,
# no replicas.
# cl_cli PORT ARG...: redis-cli to the node on PORT.
cl_cli() {
    local p=$1
    shift
    redis-cli --tls --cacert "$work/tls/ca.pem" -h 127.0.0.1 -p "$p" --raw "$@"
}
if ((need_cluster)); then
    for ((i = 0; i < cl_nodes; i++)); do
        mkdir -p "$work/cluster/node$i"
        bench_spawn "cluster$i" redis-server --port 0 --tls-port "${cl_port[i]}" \
            --cluster-port "${cl_bus[i]}" \
            --bind 127.0.0.1 --save '' --appendonly no --dir "$work/cluster/node$i" \
            --logfile "$work/logs/cluster-node$i.log" --daemonize no --protected-mode no \
            --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 3000 \
            --cluster-announce-hostname localhost --cluster-preferred-endpoint-type hostname \
            --tls-cert-file "$work/tls/cluster.pem" --tls-key-file "$work/tls/cluster.key" \
            --tls-ca-cert-file "$work/tls/ca.pem" --tls-auth-clients no --tls-cluster yes \
            --tls-replication yes >/dev/null 2>&1
        cl_pid[i]=${bench_pid[cluster$i]}
    done
    for ((i = 0; i < cl_nodes; i++)); do
        wait_port "${cl_port[i]}" "cluster node $i" "$work/logs/cluster-node$i.log"
    done
    cl_addr=()
    for p in "${cl_port[@]}"; do cl_addr+=("127.0.0.1:$p"); done
    redis-cli --tls --cacert "$work/tls/ca.pem" --cluster create "${cl_addr[@]}" \
        --cluster-replicas 0 --cluster-yes </dev/null >"$work/logs/cluster-create.log" 2>&1 ||
        die "redis-cli --cluster create failed (see $work/logs/cluster-create.log)"
    # Until every node says cluster_state:ok (30 s).
    for ((k = 0; k < 300; k++)); do
        ok=0
        for p in "${cl_port[@]}"; do
            [[ "$(cl_cli "$p" CLUSTER INFO 2>/dev/null || true)" == *cluster_state:ok* ]] &&
                ok=$((ok + 1))
        done
        ((ok == cl_nodes)) && break
        sleep 0.1
    done
    ((ok == cl_nodes)) || die "the cluster is not ok after 30 s (see $work/logs/cluster-node*.log)"
fi

# One MariaDB for dbd-mysql and kv-mysql, as tests/integration/harness/backends.py runs one:
# mariadbd --no-defaults on a data directory of its own made by mariadb-install-db, no binary
# log, InnoDB's defaults otherwise (every commit flushed to disk, as RDS does) but for a small
# buffer pool and a redo log of 128 MB: with the harness's 8 MB the write rounds measure InnoDB's
# checkpoints (a write cost MariaDB 4 times the CPU, and both variants ran at a third of the
# rate), not the session stores. Each variant has a database and an account of its own (the
# password of kv-mysql's in a file, SessionKVPassword file:; apr_dbd takes dbd-mysql's in
# DBDParams).
# mysql_sql [DATABASE]: the mariadb client as root over TCP, the SQL on stdin or after -e.
mysql_sql() {
    mariadb --no-defaults -h 127.0.0.1 -P "$mysql_port" -uroot --batch --skip-column-names "$@"
}
if ((need_mysql)); then
    mysql_opts=(--innodb-log-file-size=128M --innodb-buffer-pool-size=64M)
    mkdir -p "$work/mysql"
    mariadb-install-db --no-defaults --datadir="$work/mysql/data" --user=root \
        --auth-root-authentication-method=normal --skip-test-db "${mysql_opts[@]}" \
        >"$work/logs/mariadb-install-db.log" 2>&1 ||
        die "mariadb-install-db failed (see $work/logs/mariadb-install-db.log)"
    # enough connections for dbd-mysql's DBDMax per child (4 children at the most) and kv-mysql
    bench_spawn mariadb mariadbd --no-defaults --datadir="$work/mysql/data" \
        --socket="$work/mysql/mysqld.sock" --port="$mysql_port" --bind-address=127.0.0.1 \
        --user=root --pid-file="$work/mysql/mariadbd.pid" --log-error="$work/logs/mariadb.err" \
        --skip-name-resolve --max-connect-errors=1000000 --max-connections=500 --skip-log-bin \
        --userstat=1 "${mysql_opts[@]}" >/dev/null 2>&1
    mysql_pid=${bench_pid[mariadb]}
    # the port opens a little before the server takes logins (30 s)
    for ((k = 0; k < 300; k++)); do
        mysql_sql -e 'SELECT 1' >/dev/null 2>&1 && break
        kill -0 "$mysql_pid" 2>/dev/null || die "mariadbd died (see $work/logs/mariadb.err)"
        sleep 0.1
    done
    mysql_sql -e 'SELECT 1' >/dev/null || die "MariaDB does not answer (see $work/logs/mariadb.err)"
    dbd_pw=$(openssl rand -hex 16)
    openssl rand -hex 16 >"$work/mysql/kv.password"
    # dbd-mysql: mod_session_dbd's documented table; `key` quoted, a reserved word in MySQL.
    mysql_sql <<EOF || die "cannot create the databases in MariaDB"
CREATE DATABASE dbd;
CREATE TABLE dbd.session (\`key\` VARCHAR(255) PRIMARY KEY, value VARCHAR(4096), expiry BIGINT);
CREATE USER 'dbd'@'%' IDENTIFIED BY '$dbd_pw';
GRANT SELECT, INSERT, UPDATE, DELETE ON dbd.session TO 'dbd'@'%';
CREATE DATABASE kv;
CREATE USER 'kv'@'%' IDENTIFIED BY '$(cat "$work/mysql/kv.password")';
EOF
    # kv-mysql: the table from the module's SQL file, and its account's privileges as the file
    # says
    mysql_sql kv <"$repo/modules/session_kv/sql/session_kv.mysql.sql" ||
        die "cannot create kv.session_kv from modules/session_kv/sql/session_kv.mysql.sql"
    mysql_sql -e "GRANT SELECT, INSERT, UPDATE, DELETE ON kv.session_kv TO 'kv'@'%'" ||
        die "cannot grant kv's privileges in MariaDB"
fi

# --- content -------------------------------------------------------------------------------------
head -c 127 /dev/zero | tr '\0' 'x' >"$work/htdocs/s.txt"
echo >>"$work/htdocs/s.txt"
# /check.txt: the same kind of file; its answer carries the session httpd loaded (X-Session).
cp "$work/htdocs/s.txt" "$work/htdocs/check.txt"
pad=$(head -c "$session_bytes" /dev/zero | tr '\0' 'x')
# /setup: sets the session given in the query through mod_session's SessionHeader.
cat >"$work/cgi/setup.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\nX-Replace-Session: %s\r\n\r\nset\n' "$QUERY_STRING"
EOF
chmod 755 "$work/cgi/setup.cgi"
# /setslow: the same, 200 ms after the request came in (the application's work between the
# session's load and its save), for the lost updates.
cat >"$work/cgi/setslow.cgi" <<'EOF'
#!/bin/sh
sleep 0.2
printf 'Content-Type: text/plain\r\nX-Replace-Session: %s\r\n\r\nset\n' "$QUERY_STRING"
EOF
chmod 755 "$work/cgi/setslow.cgi"

php_session_start() {
    # $1: kv or redis
    if [ "$1" = kv ]; then
        printf "require '%s';\nLampfarmSessionHandler::register();\n" \
            "$repo/php/LampfarmSessionHandler.php"
    fi
    echo 'session_start();'
}
printf '<?php\necho "ok\\n";\n' >"$work/htdocs/php/none.php"
for kind in redis kv; do
    {
        echo '<?php'
        php_session_start "$kind"
        echo "\$i = (int)(\$_GET['i'] ?? 0);"
        echo "\$_SESSION['user'] = \"bench-\$i\";"
        echo "\$_SESSION['data'] = str_repeat('x', $session_bytes);"
        echo 'session_write_close();'
        printf '%s\n' 'echo "set\n";'
    } >"$work/htdocs/php/$kind/setup.php"
    {
        echo '<?php'
        php_session_start "$kind"
        printf '%s\n' "echo \$_SESSION['user'] ?? '-', ' ', strlen(\$_SESSION['data'] ?? ''), \"\\n\";"
    } >"$work/htdocs/php/$kind/read.php"
done

# SQLite as mod_session_dbd's documentation has it: a table "session" with key, value and expiry
# (mod_session's apr_time_t, microseconds since the epoch; 0 = none). The key is the primary key,
# as any real deployment would have it. Default journal mode (rollback journal):
# apr_dbd_sqlite3 opens the file with SQLite's defaults. Owned by nobody: httpd's children write
# it, and SQLite writes its journal next to it.
if has dbd; then
    sqlite3 "$work/db/sessions.db" \
        'CREATE TABLE session (key VARCHAR(255) PRIMARY KEY, value VARCHAR(4096), expiry BIGINT);'
    chown -R nobody:nogroup "$work/db"
fi
chmod 755 "$work"

# --- httpd configurations ---------------------------------------------------------------------
conf_common() {
    bench_conf_head "$work"
    cat <<EOF
Mutex file:$work/run default
LoadModule alias_module $bench_libexecdir/mod_alias.so
LoadModule headers_module $bench_libexecdir/mod_headers.so
LoadModule status_module $bench_libexecdir/mod_status.so
LoadModule session_module $bench_libexecdir/mod_session.so
LoadModule session_kv_module $so
# No access log: this measures sessions, not logging. Connections are kept for the whole run
# (MaxKeepAliveRequests 0): reconnects would cost the same for every variant and blur the
# difference. ExtendedStatus Off: mod_status only for mod_session_kv's counters.
KeepAlive On
MaxKeepAliveRequests 0
ExtendedStatus Off
DocumentRoot "$work/htdocs"
<Directory "$work/htdocs">
    Require all granted
</Directory>
<Location /check.txt>
    Header always set X-Session "%{HTTP_SESSION}e"
</Location>
<Location /server-status>
    SetHandler server-status
</Location>
EOF
}

# kv_vhost VARIANT URL [DIRECTIVE]: the virtual host of a mod_session_kv variant (the store at
# URL, with DIRECTIVE when given), in the event server's phase ($phase, $touch, $maxage).
kv_vhost() {
    cat <<EOF

<VirtualHost 127.0.0.1:${port[$1]}>
    ErrorLog "$work/logs/$1-$phase.error.log"
    SessionKVStore $2
    ${3:-}
    $touch
    Session On
    SessionEnv On
    SessionHeader X-Replace-Session
    SessionKV On
    SessionKVCookie session Secure=Off
    $maxage
</VirtualHost>
EOF
}

# dbd_vhost VARIANT DRIVER PARAMS KEY: the virtual host of a mod_session_dbd variant on the apr_dbd
# driver DRIVER with DBDParams PARAMS, the table's key column named KEY in its statements (in the
# phase's $maxage).
dbd_vhost() {
    cat <<EOF

<VirtualHost 127.0.0.1:${port[$1]}>
    ErrorLog "$work/logs/$1-$phase.error.log"
    DBDriver $2
    DBDParams "$3"
    # a connection for every thread, opened when the child starts, so that no request waits
    # for one and none is opened (and its statements prepared) while the database is busy
    DBDMin 32
    DBDKeep 32
    DBDMax 32
    # mod_session_dbd's documented queries, except the update: httpd 2.4.71 passes it four
    # values (value, expiry, new key, old key) where the documentation shows three.
    DBDPrepareSQL "delete from session where $4 = %s" deletesession
    DBDPrepareSQL "update session set value = %s, expiry = %lld, $4 = %s where $4 = %s" updatesession
    DBDPrepareSQL "insert into session (value, expiry, $4) values (%s, %lld, %s)" insertsession
    DBDPrepareSQL "select value from session where $4 = %s and (expiry = 0 or expiry > %lld)" selectsession
    DBDPrepareSQL "delete from session where expiry != 0 and expiry < %lld" cleansession
    Session On
    SessionEnv On
    SessionHeader X-Replace-Session
    SessionDBDCookieName session path=/
    $maxage
</VirtualHost>
EOF
}

# conf_event PHASE: the event-MPM server of the variants; PHASE is read or write.
conf_event() {
    local phase=$1 maxage='' touch=''
    if [ "$phase" = write ]; then
        maxage='SessionMaxAge 3600'
        touch='SessionKVTouchInterval 0'
    fi
    echo "# Generated by tests/bench/session.sh ($phase phase)"
    conf_common
    cat <<EOF
PidFile "$work/run/event.pid"
ErrorLog "$work/logs/event-$phase.error.log"
# mod_session_kv's connects (LF01920, with the TLS handshake's kind), in this log: its core logs
# through the main server. One line per connect, nothing per request.
LogLevel warn session_kv:trace1
EOF
    bench_conf_event
    cat <<EOF
LoadModule cgid_module $bench_libexecdir/mod_cgid.so
LoadModule session_cookie_module $bench_libexecdir/mod_session_cookie.so
LoadModule dbd_module $bench_libexecdir/mod_dbd.so
LoadModule session_dbd_module $bench_libexecdir/mod_session_dbd.so
ScriptSock "$work/run/cgid.sock"
ScriptAlias /setup "$work/cgi/setup.cgi"
ScriptAlias /setslow "$work/cgi/setslow.cgi"
<Directory "$work/cgi">
    Require all granted
</Directory>
EOF
    local v
    for v in "${variants[@]}"; do
        echo "Listen 127.0.0.1:${port[$v]}"
    done
    cat <<EOF

<VirtualHost 127.0.0.1:${port[none]}>
    ErrorLog "$work/logs/none-$phase.error.log"
</VirtualHost>
EOF
    has cookie && cat <<EOF

<VirtualHost 127.0.0.1:${port[cookie]}>
    ErrorLog "$work/logs/cookie-$phase.error.log"
    Session On
    SessionEnv On
    SessionHeader X-Replace-Session
    SessionCookieName session path=/
    $maxage
</VirtualHost>
EOF
    has dbd && dbd_vhost dbd sqlite3 "$work/db/sessions.db" key
    # apr_dbd_mysql's parameters: space-separated key=value pairs
    has dbd-mysql && dbd_vhost dbd-mysql mysql \
        "host=127.0.0.1 port=$mysql_port user=dbd pass=$dbd_pw dbname=dbd" "\`key\`"
    has kv-redis && kv_vhost kv-redis "redis://127.0.0.1:$redis_port"
    has kv-redis-tls && kv_vhost kv-redis-tls "rediss://127.0.0.1:$redis_tls_port" \
        "SessionKVCAFile \"$work/tls/ca.pem\""
    has kv-memcached && kv_vhost kv-memcached "memcached://127.0.0.1:$mc_port"
    # the cluster's first node as the seed, by the name the nodes announce (as an ElastiCache
    # configuration endpoint is a name): the module asks it CLUSTER SLOTS and goes to each key's
    # primary
    has kv-redis-cluster && kv_vhost kv-redis-cluster "rediss://localhost:${cl_port[0]}" \
        "SessionKVCAFile \"$work/tls/ca.pem\""
    has kv-memcached-tls && kv_vhost kv-memcached-tls "memcacheds://127.0.0.1:$mc_tls_port" \
        "SessionKVCAFile \"$work/tls/ca.pem\""
    has kv-mysql && kv_vhost kv-mysql "mysql://kv@127.0.0.1:$mysql_port/kv" \
        "SessionKVPassword file:$work/mysql/kv.password"
    return 0
}

# conf_prefork: the prefork server with mod_php.
conf_prefork() {
    echo "# Generated by tests/bench/session.sh (PHP phase)"
    conf_common
    cat <<EOF
PidFile "$work/run/prefork.pid"
ErrorLog "$work/logs/prefork.error.log"
Listen 127.0.0.1:$prefork_port
LoadModule mpm_prefork_module $bench_libexecdir/mod_mpm_prefork.so
LoadModule php_module $libphp
# Twice as many processes as connections, all started before the load and never stopped: wrk
# opens its connections anew for every run while the previous run's may still be closing, and
# prefork starts new processes only slowly. (MinSpareServers stays low: prefork says "reached
# MaxRequestWorkers" whenever fewer than MinSpareServers are idle and no slot is free.)
StartServers $((2 * bench_conns + 8))
MinSpareServers 5
MaxSpareServers $((2 * bench_conns + 8))
ServerLimit $((2 * bench_conns + 8))
MaxRequestWorkers $((2 * bench_conns + 8))
MaxConnectionsPerChild 0
<FilesMatch "\.php\$">
    SetHandler application/x-httpd-php
</FilesMatch>
SessionKVStore redis://127.0.0.1:$redis_port
<Directory "$work/htdocs/php/redis">
    php_admin_value session.save_handler redis
    php_admin_value session.save_path "tcp://127.0.0.1:$redis_port"
</Directory>
<Directory "$work/htdocs/php/kv">
    Session On
    SessionEnv On
    SessionHeader X-Replace-Session
    SessionKV On
    SessionKVCookie session Secure=Off
</Directory>
EOF
}

# start_httpd NAME: start the server configured in $work/NAME.conf; sets pid.
start_httpd() {
    bench_httpd_start httpd "$work/$1.conf" "$work/logs/$1.stdout.log"
    bench_show_logs=("$work/logs/$1.stdout.log")
    pid=${bench_pid[httpd]}
}
stop_httpd() {
    bench_stop httpd
    pid=''
}
# wait_ok URL: until URL answers 200 (10 s).
wait_ok() { bench_wait_ok httpd "$1" || die "$1 does not answer 200"; }

# --- sessions ------------------------------------------------------------------------------------
# setup_sessions VARIANT: creates $conns sessions through httpd; writes their cookies
# ("name=value", the i-th line holds user bench-i) to $work/sessions/VARIANT.
setup_sessions() {
    local v=$1 i url name line
    : >"$work/sessions/$v"
    for ((i = 1; i <= bench_conns; i++)); do
        case $v in
            php-redis) url="http://127.0.0.1:$prefork_port/php/redis/setup.php?i=$i" name=PHPSESSID ;;
            php-kv) url="http://127.0.0.1:$prefork_port/php/kv/setup.php?i=$i" name=session ;;
            *) url="http://127.0.0.1:${port[$v]}/setup?user=bench-$i&data=$pad" name=session ;;
        esac
        line=$(curl -s -D - -o /dev/null "$url" | tr -d '\r' |
            sed -n "s/^[Ss]et-[Cc]ookie: \($name=[^;]*\).*/\1/p" | tail -n 1)
        [ -n "$line" ] || die "$v: no session cookie from $url (see $work/logs/)"
        echo "$line" >>"$work/sessions/$v"
    done
}

# session_loads VARIANT I COOKIE: whether httpd loads session I with all its data.
session_loads() {
    local v=$1 i=$2 cookie=$3 got
    case $v in
        php-redis | php-kv)
            got=$(curl -s -H "Cookie: $cookie" \
                "http://127.0.0.1:$prefork_port/php/${v#php-}/read.php")
            [ "$got" = "bench-$i $session_bytes" ]
            ;;
        *)
            got=$(curl -s -D - -o /dev/null -H "Cookie: $cookie" \
                "http://127.0.0.1:${port[$v]}/check.txt" | tr -d '\r' |
                sed -n 's/^[Xx]-[Ss]ession: //p')
            [[ "&$got&" == *"&user=bench-$i&"* && "&$got&" == *"&data=$pad&"* ]]
            ;;
    esac
}

# lost_sessions VARIANT: how many of VARIANT's sessions no longer load through httpd.
lost_sessions() {
    local v=$1 i=0 lost=0 cookie
    while IFS= read -r cookie; do
        i=$((i + 1))
        session_loads "$v" "$i" "$cookie" || lost=$((lost + 1))
    done <"$work/sessions/$v"
    echo "$lost"
}

# dbd_lost_rows VARIANT: how many sessions of dbd (SQLite) or dbd-mysql (MariaDB) have no row in
# the database holding their data.
dbd_lost_rows() {
    local i=0 lost=0 cookie key value
    declare -A rows
    if [ "$1" = dbd ]; then
        while IFS='|' read -r key value; do
            rows[$key]=$value
        done < <(sqlite3 "$work/db/sessions.db" 'SELECT key, value FROM session;')
    else
        while IFS=$'\t' read -r key value; do
            rows[$key]=$value
        done < <(mysql_sql dbd -e "SELECT \`key\`, value FROM session")
    fi
    while IFS= read -r cookie; do
        i=$((i + 1))
        key=${cookie#session=}
        value=${rows[$key]:-}
        [[ "&$value&" == *"&user=bench-$i&"* && "&$value&" == *"&data=$pad&"* ]] ||
            lost=$((lost + 1))
    done <"$work/sessions/$1"
    echo "$lost"
}
# lost_updates VARIANT: BENCH_LOST_ROUNDS times, a new session, then $lost_writers requests on it at
# once, the i-th adding its own key wi=i (/setslow: the application takes 200 ms between the
# session's load and its save, as a real one does); prints "LOST WRITTEN": how many of the keys
# the final session lacks, of how many were written. The final session is the one of the cookie
# a browser keeps: the last one set by the responses, in the order they came (mod_session_dbd
# gives a changed session a new key, and so a new cookie, each time it saves it), else the first.
lost_updates() {
    local v=$1 r i cookie got set lost=0 pids
    for ((r = 1; r <= lost_rounds; r++)); do
        cookie=$(curl -s -D - -o /dev/null "http://127.0.0.1:${port[$v]}/setup?user=lost-$r" |
            tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(session=[^;]*\).*/\1/p' | tail -n 1)
        [ -n "$cookie" ] || die "$v: no session cookie from /setup (lost updates)"
        pids=()
        : >"$work/lost.cookies"
        for ((i = 1; i <= lost_writers; i++)); do
            {
                set=$(curl -s -D - -o /dev/null -H "Cookie: $cookie" \
                    "http://127.0.0.1:${port[$v]}/setslow?w$i=$i" | tr -d '\r' |
                    sed -n 's/^[Ss]et-[Cc]ookie: \(session=[^;]*\).*/\1/p' | tail -n 1)
                [ -z "$set" ] || echo "$set" >>"$work/lost.cookies"
            } &
            pids+=($!)
        done
        wait "${pids[@]}"
        set=$(tail -n 1 "$work/lost.cookies")
        cookie=${set:-$cookie}
        got=$(curl -s -D - -o /dev/null -H "Cookie: $cookie" \
            "http://127.0.0.1:${port[$v]}/check.txt" | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ession: //p')
        for ((i = 1; i <= lost_writers; i++)); do
            [[ "&$got&" == *"&w$i=$i&"* ]] || lost=$((lost + 1))
        done
    done
    echo "$lost $((lost_rounds * lost_writers))"
}
# mysql_stats: MariaDB's statements and CPU per account (userstat's USER_STATISTICS), a line
# "ACCOUNT SELECTS UPDATES OTHERS CPU_SECONDS" each for dbd and kv.
mysql_stats() {
    mysql_sql -e "SELECT USER, SELECT_COMMANDS, UPDATE_COMMANDS, OTHER_COMMANDS, CPU_TIME
                  FROM information_schema.USER_STATISTICS WHERE USER IN ('dbd', 'kv')"
}
# mysql_per_req BEFORE AFTER ACCOUNT REQUESTS: ACCOUNT's statements and MariaDB's CPU (its
# connection threads') per request between two mysql_stats outputs.
mysql_per_req() {
    awk -v b="$1" -v a="$2" -v u="$3" -v n="$4" 'BEGIN {
        split(b, x, "\n"); for (i in x) { split(x[i], f, "\t"); if (f[1] == u) for (j = 2; j <= 5; j++) vb[j] = f[j] }
        split(a, x, "\n"); for (i in x) { split(x[i], f, "\t"); if (f[1] == u) for (j = 2; j <= 5; j++) va[j] = f[j] }
        if (!n) n = 1
        printf "SELECT %.2f, UPDATE/INSERT/DELETE %.2f, other %.2f statements, %.0f us of CPU in its connection threads",
            (va[2] - vb[2]) / n, (va[3] - vb[3]) / n, (va[4] - vb[4]) / n, (va[5] - vb[5]) * 1e6 / n }'
}
# mysql_conns: the connections MariaDB holds per account, "dbd N, kv M".
mysql_conns() {
    mysql_sql -e "SELECT user, COUNT(*) FROM information_schema.PROCESSLIST
                  WHERE user IN ('dbd', 'kv') GROUP BY user" |
        awk -F'\t' '{ n[$1] = $2 } END { printf "dbd %d, kv %d\n", n["dbd"], n["kv"] }'
}

# kv_counters PORT: mod_session_kv's counters of every store ("SessionKV<n><Name> <value>").
kv_counters() {
    curl -s "http://127.0.0.1:$1/server-status?auto" | awk -F': ' '/^SessionKV/ { print $1, $2 }'
}
# kv_delta BEFORE AFTER INDEX NAME: the change of one counter between two kv_counters outputs.
kv_delta() {
    awk -v k="SessionKV$3$4" -v b="$1" -v a="$2" 'BEGIN {
        n = split(b, x, "\n"); for (i = 1; i <= n; i++) { split(x[i], f, " "); if (f[1] == k) vb = f[2] }
        n = split(a, x, "\n"); for (i = 1; i <= n; i++) { split(x[i], f, " "); if (f[1] == k) va = f[2] }
        print va - vb }'
}

# --- measuring -----------------------------------------------------------------------------------
tick=$(getconf CLK_TCK)
# group_ticks PGID...: bench_group_ticks (httpd and the backends run under setsid; a child that
# exits during a run takes its ticks along, which the spare threads and MaxConnectionsPerChild 0
# make rare).
group_ticks() { bench_group_ticks "$@"; }
# backend_of VARIANT: the pids of the servers that hold VARIANT's sessions outside httpd (the
# cluster: its nodes, space-separated), or 0.
backend_of() {
    case $1 in
        kv-redis | kv-redis-tls | php-redis | php-kv) echo "$redis_pid" ;;
        kv-memcached | kv-memcached-tls) echo "$mc_pid" ;;
        kv-redis-cluster) echo "${cl_pid[*]}" ;;
        dbd-mysql | kv-mysql) echo "$mysql_pid" ;;
        *) echo 0 ;;
    esac
}

declare -A rps p99 reqs non2xx sockerr lost logn hticks bticks
# run_wrk KEY URL COOKIES BACKEND_PID: one wrk run; appends its figures to the arrays under KEY.
run_wrk() {
    local key=$1 url=$2 cookies=$3 bpid=$4 out r p n s t h0 b0=0 h1 b1=0
    h0=$(group_ticks "$pid")
    [ "$bpid" = 0 ] || b0=$(group_ticks "$bpid")
    out=$(BENCH_COOKIES=$cookies wrk -t"$bench_conns" -c"$bench_conns" -d"$bench_duration" --latency -s "$lua" "$url")
    h1=$(group_ticks "$pid")
    [ "$bpid" = 0 ] || b1=$(group_ticks "$bpid")
    hticks[$key]=$((${hticks[$key]:-0} + h1 - h0))
    bticks[$key]=$((${bticks[$key]:-0} + b1 - b0))
    printf '### %s %s\n%s\n' "$key" "$url" "$out" >>"$work/wrk.log"
    r=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    [ -n "$r" ] || die "no Requests/sec from wrk for $key (see $work/wrk.log)"
    p=$(awk '$1 == "99%" { v = $2
            if (v ~ /us$/) ms = v / 1000; else if (v ~ /ms$/) ms = v + 0
            else if (v ~ /s$/) ms = v * 1000; else if (v ~ /m$/) ms = v * 60000
            printf "%.2f", ms }' <<<"$out")
    t=$(awk '/ requests in / { print $1 }' <<<"$out")
    n=$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 }' <<<"$out")
    s=$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' <<<"$out")
    rps[$key]="${rps[$key]:-} $r"
    p99[$key]="${p99[$key]:-} $p"
    reqs[$key]=$((${reqs[$key]:-0} + ${t:-0}))
    non2xx[$key]=$((${non2xx[$key]:-0} + ${n:-0}))
    sockerr[$key]=$((${sockerr[$key]:-0} + ${s:-0}))
}

# median "VALUE VALUE...": the median, as given (or the mean of the middle two).
median() {
    local v
    read -ra v <<<"$1"
    bench_median -m %.2f "${v[@]}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# log_lines FILE: warnings and errors in an error log.
log_lines() {
    if [ -f "$1" ]; then
        grep -cE '\[([a-z_]+:)?(warn|error|crit|alert|emerg)\]' "$1" || true
    else
        echo 0
    fi
}

# url_of VARIANT
url_of() {
    case $1 in
        static) echo "http://127.0.0.1:$prefork_port/s.txt" ;;
        php-none) echo "http://127.0.0.1:$prefork_port/php/none.php" ;;
        php-redis) echo "http://127.0.0.1:$prefork_port/php/redis/read.php" ;;
        php-kv) echo "http://127.0.0.1:$prefork_port/php/kv/read.php" ;;
        *) echo "http://127.0.0.1:${port[$1]}/s.txt" ;;
    esac
}
cookies_of() {
    case $1 in
        none | static | php-none) echo '' ;;
        *) echo "$work/sessions/$1" ;;
    esac
}

# warm_up VARIANT...: a second of each, not counted.
warm_up() {
    local v
    for v in "$@"; do
        BENCH_COOKIES=$(cookies_of "$v") wrk -t"$bench_conns" -c"$bench_conns" -d1s -s "$lua" \
            "$(url_of "$v")" >/dev/null
    done
}

# run_rounds PHASE VARIANT...: the rounds, rotating the order.
run_rounds() {
    local phase=$1 n k v r
    shift
    local vs=("$@")
    n=${#vs[@]}
    for ((r = 1; r <= bench_rounds; r++)); do
        printf '  round %d:' "$r"
        for ((k = 0; k < n; k++)); do
            v=${vs[$(((r - 1 + k) % n))]}
            run_wrk "$phase:$v" "$(url_of "$v")" "$(cookies_of "$v")" "$(backend_of "$v")"
            printf ' %s %.0f' "$v" "${rps[$phase:$v]##* }"
        done
        echo
    done
}

# print_table PHASE BASELINE VARIANT...
print_table() {
    local phase=$1 base=$2 v r med store
    shift 2
    printf '\n  %-16s' variant
    for ((r = 1; r <= bench_rounds; r++)); do printf ' %9s' "r$r req/s"; done
    printf ' %10s %8s %7s %6s %6s %8s %7s %5s %5s\n' "median" "p99 ms" "/$base" "httpd" \
        "store" non-2xx sockerr lost log
    for v in "$@"; do
        printf '  %-16s' "$v"
        for r in ${rps[$phase:$v]}; do printf ' %9.0f' "$r"; done
        med=$(median "${rps[$phase:$v]}")
        store=-
        if [ "$(backend_of "$v")" != 0 ]; then
            store=$(us_per_req "${bticks[$phase:$v]}" "${reqs[$phase:$v]}")
        fi
        printf ' %10.0f %8s %7s %6s %6s %8s %7s %5s %5s\n' "$med" "$(median "${p99[$phase:$v]}")" \
            "$(ratio "$med" "$(median "${rps[$phase:$base]}")")" \
            "$(us_per_req "${hticks[$phase:$v]}" "${reqs[$phase:$v]}")" "$store" \
            "${non2xx[$phase:$v]}" "${sockerr[$phase:$v]}" "${lost[$phase:$v]:-n/a}" \
            "${logn[$phase:$v]:-0}"
    done
}
# us_per_req TICKS REQUESTS: CPU microseconds per request.
us_per_req() { awk -v t="$1" -v n="$2" -v k="$tick" 'BEGIN { printf "%.0f", n ? t / k * 1e6 / n : 0 }'; }

# --- the event server: reads, then writes ---------------------------------------------------------
versions="httpd $(bench_httpd_version)"
((need_redis + need_cluster == 0)) ||
    versions+="; $(redis-server --version | awk '{ print $1, $2, $3 }')"
((need_mc == 0)) || versions+="; memcached $(memcached -V | awk '{ print $2 }')"
! has dbd || versions+="; SQLite $(sqlite3 --version | awk '{ print $1 }')"
((need_mysql == 0)) || versions+="; MariaDB $(mysql_sql -e 'SELECT VERSION()')"
echo "bench: $versions; $({ wrk -v 2>&1 || true; } | awk 'NR == 1 { print $1, $2 }')"
echo "bench: variants: ${variants[*]}"
echo "bench: $(bench_machine);" \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: wrk -t$bench_conns -c$bench_conns -d$bench_duration (one session per connection), $bench_rounds rounds" \
     "rotating the order, medians; sessions of $session_bytes bytes of data"

# kv_index VARIANT: the number of VARIANT's store in the counters (the order in which httpd
# lists its virtual hosts, which is not the order of the configuration).
kv_index() {
    local url
    case $1 in
        kv-redis) url=redis://127.0.0.1 ;;
        kv-redis-tls) url=rediss://127.0.0.1 ;;
        kv-redis-cluster) url=rediss://localhost ;;
        kv-memcached-tls) url=memcacheds:// ;;
        *) url=${1#kv-}:// ;;
    esac
    curl -s "http://127.0.0.1:${port[none]}/server-status" |
        awk -v k="$url" '/mod_session_kv: / { if (index($0, k) && i == "") i = n + 0; n++ }
                         END { print i }'   # no early exit: curl would get SIGPIPE
}
# kv_connects VARIANT LOG [FROM]: mod_session_kv's connects to VARIANT's store logged in LOG
# (redis: LF01920; memcacheds: the meta-protocol client's LF01940) from line FROM on: "N", over
# TLS "N (full F, resumed R)", for the cluster also per primary; "-" for memcached://
# (libmemcached logs no such line).
kv_connects() {
    local v=$1 log=$2 from=${3:-1} lines pattern p per=''
    case $v in
        kv-redis-cluster)
            lines=$(tail -n +"$from" "$log" | grep -E "LF01920: redis localhost:[0-9]+: connected" ||
                true)
            for p in "${cl_port[@]}"; do
                per+="${per:+/}$(grep -c "redis localhost:$p: connected" <<<"$lines" || true)"
            done
            printf '%s (full %s, resumed %s; per primary %s)\n' "$(grep -c . <<<"$lines" || true)" \
                "$(grep -c 'full handshake' <<<"$lines" || true)" \
                "$(grep -c 'resumed)' <<<"$lines" || true)" "$per"
            ;;
        kv-redis) tail -n +"$from" "$log" | grep -c "LF01920: redis 127.0.0.1:$redis_port: connected" || true ;;
        kv-redis-tls | kv-memcached-tls)
            pattern="LF01920: redis 127.0.0.1:$redis_tls_port: connected"
            [ "$v" = kv-memcached-tls ] &&
                pattern="LF01940: memcached 127.0.0.1:$mc_tls_port: connected"
            lines=$(tail -n +"$from" "$log" | grep "$pattern" || true)
            printf '%s (full %s, resumed %s)\n' "$(grep -c . <<<"$lines" || true)" \
                "$(grep -c 'full handshake' <<<"$lines" || true)" "$(grep -c 'resumed)' <<<"$lines" || true)"
            ;;
        *) echo - ;;
    esac
}
# cluster_keys: the number of keys on each of the cluster's primaries (DBSIZE), space-separated.
cluster_keys() {
    local p n out=''
    for p in "${cl_port[@]}"; do
        n=$(cl_cli "$p" DBSIZE) || die "DBSIZE on cluster node $p failed"
        [[ "$n" =~ ^[0-9]+$ ]] || die "DBSIZE on cluster node $p answered '$n'"
        out+="${out:+ }$n"
    done
    echo "$out"
}
# cluster_spread PHASE BEFORE: prints how the phase's new sessions (the keys added since
# cluster_keys said BEFORE) spread over the primaries; fails the run when a primary got none, as
# the variant would then not measure a cluster of 3.
cluster_spread() {
    local phase=$1 before after now k empty=0 line=''
    read -ra before <<<"$2"
    now=$(cluster_keys)
    read -ra after <<<"$now"
    for ((k = 0; k < cl_nodes; k++)); do
        line+="${line:+, }localhost:${cl_port[k]} $((after[k] - before[k]))"
        ((after[k] - before[k] > 0)) || empty=1
    done
    echo "  kv-redis-cluster ($phase): the $bench_conns sessions' keys per primary (DBSIZE): $line"
    ((empty == 0)) ||
        die "kv-redis-cluster ($phase): a primary holds none of the sessions (BENCH_CONNS=$bench_conns)"
}
declare -A kvinfo kvconn mysqlconn mysqlstat lostupd
event_phase() {
    local phase=$1 v before after i mark log keys=''
    log="$work/logs/event-$phase.error.log"
    conf_event "$phase" >"$work/event-$phase.conf"
    start_httpd "event-$phase"
    for v in "${variants[@]}"; do wait_ok "http://127.0.0.1:${port[$v]}/s.txt"; done
    for v in "${variants[@]:1}"; do
        [ "$v" != kv-redis-cluster ] || keys=$(cluster_keys)
        setup_sessions "$v"
        i=$(lost_sessions "$v")
        [ "$i" = 0 ] || die "$v ($phase): $i of $bench_conns sessions do not load right after setup"
        [ "$v" != kv-redis-cluster ] || cluster_spread "$phase" "$keys"
    done
    declare -A idx
    for v in "${kv_variants[@]}"; do
        idx[$v]=$(kv_index "$v")
        [ -n "${idx[$v]}" ] || die "$v: no counters in server-status"
    done
    warm_up "${variants[@]}"
    before=$(kv_counters "${port[none]}")
    ((need_mysql == 0)) || mysqlstat[$phase]=$(mysql_stats)
    mark=$(($(wc -l <"$log") + 1))
    run_rounds "$phase" "${variants[@]}"
    after=$(kv_counters "${port[none]}")
    ((need_mysql == 0)) || mysqlstat[$phase]+=$'\n--\n'$(mysql_stats)
    # the connections of dbd-mysql's pools and kv-mysql's, as the rounds left them
    ((need_mysql == 0)) || mysqlconn[$phase]=$(mysql_conns)
    for v in "${variants[@]:1}"; do
        [ "$v" != cookie ] || continue
        lost[$phase:$v]=$(lost_sessions "$v")
        if [ "$phase" = write ] && [[ $v == dbd* ]]; then
            lost[$phase:$v]="${lost[$phase:$v]}/$(dbd_lost_rows "$v")"
        fi
    done
    for v in "${kv_variants[@]}"; do
        i=${idx[$v]}
        kvinfo[$phase:$v]="loads $(kv_delta "$before" "$after" "$i" Loads)"
        kvinfo[$phase:$v]+=" hits $(kv_delta "$before" "$after" "$i" Hits)"
        kvinfo[$phase:$v]+=" writes $(kv_delta "$before" "$after" "$i" Writes)"
        kvinfo[$phase:$v]+=" touches $(kv_delta "$before" "$after" "$i" Touches)"
        kvinfo[$phase:$v]+=" conflicts $(kv_delta "$before" "$after" "$i" Conflicts)"
        kvinfo[$phase:$v]+=" errors $(($(kv_delta "$before" "$after" "$i" ErrorsTimeout) +
            $(kv_delta "$before" "$after" "$i" ErrorsDown) + $(kv_delta "$before" "$after" "$i" ErrorsOther)))"
        kvinfo[$phase:$v]+=" backend-ops $(kv_delta "$before" "$after" "$i" Ops)"
        kvinfo[$phase:$v]+=" mean-op-us $(awk -v u="$(kv_delta "$before" "$after" "$i" OpMicroseconds)" \
            -v n="$(kv_delta "$before" "$after" "$i" Ops)" 'BEGIN { printf "%.0f", n ? u / n : 0 }')"
        kvconn[$phase:$v]="$(kv_connects "$v" "$log" "$mark") in the rounds, $(kv_connects "$v" "$log")"
        kvconn[$phase:$v]+=" in the whole phase (sessions' setup and warm-up included)"
    done
    if [ "$phase" = write ]; then
        for v in "${variants[@]:1}"; do
            [ "$v" != cookie ] || continue
            lostupd[$v]=$(lost_updates "$v")
        done
    fi
    stop_httpd
    for v in "${variants[@]}"; do
        logn[$phase:$v]=$(log_lines "$work/logs/$v-$phase.error.log")
    done
}

echo
echo "bench: reads — the session is loaded and not saved (no SessionMaxAge)"
event_phase read
print_table read none "${variants[@]}"

echo
echo "bench: writes — SessionMaxAge 3600: mod_session saves on every request; mod_session_kv with" \
     "SessionKVTouchInterval 0 rewrites the session every time (by default it would only refresh" \
     "the expiry once a minute)"
event_phase write
print_table write none "${variants[@]}"

for v in dbd dbd-mysql; do
    has "$v" || continue
    dbd_log="$work/logs/$v-write.error.log"
    why=' (SQLite: database is locked)'
    if [ "$v" = dbd-mysql ]; then
        why=$(grep -m 1 -o 'AH0185[47]: .*' "$dbd_log" | cut -c1-160 || true)
        [ -z "$why" ] || why=" (the first: $why)"
    fi
    echo "  $v: $(grep -c AH01857 "$dbd_log" || true) saves (AH01857) and" \
         "$(grep -c AH01854 "$dbd_log" || true) loads (AH01854) failed during the write" \
         "rounds$why; those requests were still answered 200, without their session saved or loaded"
done
echo "  lost updates (after the write rounds, on the same servers): $lost_rounds times a new" \
     "session, then $lost_writers requests on it at once, each adding its own key 200 ms after" \
     "the session was loaded; keys missing from the final session, of those written:"
for v in "${variants[@]:1}"; do
    [ "$v" != cookie ] || continue
    read -r i n <<<"${lostupd[$v]}"
    printf '    %-16s %s of %s lost\n' "$v" "$i" "$n"
done
if ((need_mysql)); then
    echo "  MariaDB's connections per account at the end of the rounds (dbd: dbd-mysql's DBDMax" \
         "pools, kv: kv-mysql's): reads ${mysqlconn[read]}; writes ${mysqlconn[write]};" \
         "$(sed -n '/ready for connections/,$p' "$work/logs/mariadb.err" |
             grep -cE '\[(ERROR|Warning)\]' || true) [ERROR] and [Warning] lines in" \
         "$work/logs/mariadb.err since it is ready"
    echo "  MariaDB per request over the rounds (USER_STATISTICS of each variant's account):"
    for phase in read write; do
        for v in dbd-mysql kv-mysql; do
            has "$v" || continue
            printf '    %-5s %-9s %s\n' "$phase" "$v" "$(mysql_per_req "${mysqlstat[$phase]%%$'\n--\n'*}" \
                "${mysqlstat[$phase]#*$'\n--\n'}" "${v%-mysql}" "${reqs[$phase:$v]}")"
        done
    done
fi
echo
echo "  mod_session_kv's own counters over the rounds (server-status), per request:"
for phase in read write; do
    for v in "${kv_variants[@]}"; do
        printf '    %-5s %-16s %s requests: %s\n' "$phase" "$v" "${reqs[$phase:$v]}" "${kvinfo[$phase:$v]}"
    done
done
if has kv-redis || has kv-redis-tls || has kv-memcached-tls || has kv-redis-cluster; then
    echo "  mod_session_kv's connects to redis and over memcacheds:// (LF01920, LF01940 in the" \
         "event server's log; connections are kept per thread, so a connect is a thread's first" \
         "use of the store; kv-redis-cluster: a connection per primary of each, per primary in" \
         "the order ${cl_port[*]}):"
    for phase in read write; do
        for v in kv-redis kv-redis-tls kv-memcached-tls kv-redis-cluster; do
            has "$v" || continue
            printf '    %-5s %-16s %s\n' "$phase" "$v" "${kvconn[$phase:$v]}"
        done
    done
fi
echo "  httpd, store: CPU microseconds per request used by httpd's processes and by the redis," \
     "memcached or MariaDB server (SQLite runs inside httpd; dbd-mysql and kv-mysql share the" \
     "MariaDB, measured during each one's own runs); p99: median of the rounds' p99; lost:" \
     "sessions that no longer load through httpd after the rounds (dbd and dbd-mysql writes:" \
     "through httpd/rows in the database without the data); n/a: the session is the cookie; log:" \
     "[warn] and worse lines in the variant's error log (build/bench/session/logs/; one log for" \
     "the whole prefork server)"

# --- reconnects: TCP, TLS with a full handshake, TLS resumed -----------------------------------------
# reconnect_run MODE: one run of tests/bench/reconnect against the bench's redis; its figures are
# appended under rc:MODE (connects/s as the wrk runs' requests/s), redis's CPU ticks to its total.
declare -A rc_conn rc_wall rc_cpu rc_full rc_resumed rc_create
# rc_field NAME LINE: the value of NAME=value in reconnect's output LINE.
rc_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
reconnect_run() {
    local mode=$1 out b0 b1 p=$redis_tls_port
    [ "$mode" = tcp ] && p=$redis_port
    b0=$(group_ticks "$redis_pid")
    out=$("$reconnect" --port "$p" --mode "$mode" --ca "$work/tls/ca.pem" \
        --seconds "${reconnect_duration%s}") || die "reconnect ($mode) failed"
    b1=$(group_ticks "$redis_pid")
    printf '### reconnect %s\n%s\n' "$mode" "$out" >>"$work/wrk.log"
    rps[rc:$mode]="${rps[rc:$mode]:-} $(rc_field per_second "$out")"
    rc_wall[$mode]="${rc_wall[$mode]:-} $(rc_field wall_us "$out")"
    rc_cpu[$mode]="${rc_cpu[$mode]:-} $(rc_field cpu_us "$out")"
    rc_create[$mode]="${rc_create[$mode]:-} $(rc_field create_us "$out")"
    rc_conn[$mode]=$((${rc_conn[$mode]:-0} + $(rc_field connects "$out")))
    rc_full[$mode]=$((${rc_full[$mode]:-0} + $(rc_field full "$out")))
    rc_resumed[$mode]=$((${rc_resumed[$mode]:-0} + $(rc_field resumed "$out")))
    bticks[rc:$mode]=$((${bticks[rc:$mode]:-0} + b1 - b0))
}
if [ "$reconnect_duration" != 0 ]; then
    echo
    echo "bench: reconnects — tests/bench/reconnect, one connection at a time to the same redis:" \
         "connect, PING, close, for $reconnect_duration per run; tcp: plain port; full: TLS, a new" \
         "TLS configuration for every connect (full handshake, RSA 2048 certificate); resumed: TLS," \
         "one configuration (each connect resumes the previous session, as a child of httpd does)"
    for ((r = 1; r <= bench_rounds; r++)); do
        printf '  round %d:' "$r"
        for ((k = 0; k < ${#reconnect_modes[@]}; k++)); do
            m=${reconnect_modes[$(((r - 1 + k) % ${#reconnect_modes[@]}))]}
            reconnect_run "$m"
            printf ' %s %.0f' "$m" "${rps[rc:$m]##* }"
        done
        echo
    done
    printf '\n  %-13s' mode
    for ((r = 1; r <= bench_rounds; r++)); do printf ' %9s' "r$r conn/s"; done
    printf ' %10s %7s %8s %10s %8s %13s %s\n' median /tcp "wall us" "client us" "redis us" \
        "full/resumed" "tls-create us"
    for m in "${reconnect_modes[@]}"; do
        printf '  %-13s' "$m"
        for r in ${rps[rc:$m]}; do printf ' %9.0f' "$r"; done
        printf ' %10.0f %7s %8s %10s %8s %13s %s\n' "$(median "${rps[rc:$m]}")" \
            "$(ratio "$(median "${rps[rc:$m]}")" "$(median "${rps[rc:tcp]}")")" \
            "$(median "${rc_wall[$m]}")" "$(median "${rc_cpu[$m]}")" \
            "$(us_per_req "${bticks[rc:$m]}" "${rc_conn[$m]}")" \
            "${rc_full[$m]}/${rc_resumed[$m]}" "$(median "${rc_create[$m]}")"
    done
    echo "  wall us: microseconds per connect (connect, handshake, PING, close), median of the rounds;" \
         "client us: the client thread's CPU per connect (median); redis us: redis's CPU per" \
         "connect over the rounds (10 ms ticks); full/resumed: the handshakes of all rounds;" \
         "tls-create us: one lf_tls_create (the trust store loaded), not counted in the connect"
    [ "${rc_resumed[full]}" = 0 ] || die "reconnect: a handshake of the 'full' runs resumed"
    [ "${rc_full[resumed]}" = 0 ] || die "reconnect: a handshake of the 'resumed' runs was full"
fi

# --- the prefork server with mod_php ----------------------------------------------------------------
if [ "$with_php" = 1 ]; then
    echo
    echo "bench: PHP (prefork MPM, mod_php $(php -r 'echo PHP_VERSION;' 2>/dev/null), opcache), reads:" \
         "php-redis: session_start() on session.save_handler=redis (phpredis); php-kv:" \
         "session_start() on LampfarmSessionHandler, session from mod_session_kv on redis"
    conf_prefork >"$work/prefork.conf"
    start_httpd prefork
    wait_ok "$(url_of static)"
    wait_ok "$(url_of php-none)"
    for v in php-redis php-kv; do
        setup_sessions "$v"
        i=$(lost_sessions "$v")
        [ "$i" = 0 ] || die "$v: $i of $bench_conns sessions do not load right after setup"
    done
    warm_up "${php_variants[@]}"
    run_rounds php "${php_variants[@]}"
    for v in php-redis php-kv; do lost[php:$v]=$(lost_sessions "$v"); done
    stop_httpd
    for v in "${php_variants[@]}"; do logn[php:$v]=$(log_lines "$work/logs/prefork.error.log"); done
    print_table php static "${php_variants[@]}"
fi

# --- the ratios ---------------------------------------------------------------------------------------
med() { median "${rps[$1]}"; }
# verdict VALUE TARGET
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t ? "met" : "NOT met") }'; }
echo
# both A B: whether the run measured the variants A and B (a ratio needs both).
both() { has "$1" && has "$2"; }
echo "bench: ratios of the medians"
# The expectations against cookie and dbd (SQLite) are those of the in-memory stores; kv-mysql
# has its own against dbd-mysql, below.
for v in "${kv_variants[@]}"; do
    if [ "$v" = kv-mysql ] || ! has cookie; then continue; fi
    x=$(ratio "$(med "read:$v")" "$(med read:cookie)")
    echo "  reads   $v / cookie = $x (expectation >= 0.8: $(verdict "$x" 0.8))"
done
for v in "${kv_variants[@]}"; do
    if [ "$v" = kv-mysql ] || ! has dbd; then continue; fi
    x=$(ratio "$(med "write:$v")" "$(med write:dbd)")
    echo "  writes  $v / dbd = $x (expectation >= 10: $(verdict "$x" 10))"
done
for v in "${kv_variants[@]}"; do
    has cookie || continue
    echo "  writes  $v / cookie = $(ratio "$(med "write:$v")" "$(med write:cookie)")"
done
for phase in read write; do
    both kv-redis-tls kv-redis || continue
    x=$(ratio "$(med "$phase:kv-redis-tls")" "$(med "$phase:kv-redis")")
    printf '  %-7s kv-redis-tls / kv-redis = %s (expectation >= 0.9: %s)\n' "${phase}s" "$x" \
        "$(verdict "$x" 0.9)"
done
for phase in read write; do
    both kv-redis-cluster kv-redis-tls || continue
    x=$(ratio "$(med "$phase:kv-redis-cluster")" "$(med "$phase:kv-redis-tls")")
    printf '  %-7s kv-redis-cluster / kv-redis-tls = %s (expectation >= 0.9: %s; a cluster of %d' \
        "${phase}s" "$x" "$(verdict "$x" 0.9)" "$cl_nodes"
    echo " primaries against one node, both over TLS)"
done
for phase in read write; do
    if ! has kv-memcached-tls || ! both kv-memcached kv-redis-tls; then continue; fi
    printf '  %-7s kv-memcached-tls / kv-memcached = %s, kv-memcached-tls / kv-redis-tls = %s' \
        "${phase}s" "$(ratio "$(med "$phase:kv-memcached-tls")" "$(med "$phase:kv-memcached")")" \
        "$(ratio "$(med "$phase:kv-memcached-tls")" "$(med "$phase:kv-redis-tls")")"
    echo " (memcacheds://, the meta protocol over TLS, against memcached:// with libmemcached" \
         "over TCP and against rediss://; stated)"
done
# kv-mysql against mod_session_dbd on the same MariaDB: writes >= 2 with no session lost (through
# httpd) and no failed request, reads >= 1; against kv-redis stated.
if both kv-mysql dbd-mysql; then
    x=$(ratio "$(med write:kv-mysql)" "$(med write:dbd-mysql)")
    ok=$(verdict "$x" 2)
    if [ "${lost[write:kv-mysql]}" != 0 ] || [ "${non2xx[write:kv-mysql]}" != 0 ] ||
        [ "${lostupd[kv-mysql]%% *}" != 0 ]; then
        ok='NOT met'
    fi
    echo "  writes  kv-mysql / dbd-mysql = $x (expectation >= 2 with nothing lost: $ok; lost" \
         "kv-mysql ${lost[write:kv-mysql]}, dbd-mysql ${lost[write:dbd-mysql]} (through" \
         "httpd/rows); non-2xx kv-mysql ${non2xx[write:kv-mysql]}," \
         "dbd-mysql ${non2xx[write:dbd-mysql]}; lost updates kv-mysql ${lostupd[kv-mysql]/ / of }," \
         "dbd-mysql ${lostupd[dbd-mysql]/ / of })"
    x=$(ratio "$(med read:kv-mysql)" "$(med read:dbd-mysql)")
    echo "  reads   kv-mysql / dbd-mysql = $x (expectation >= 1: $(verdict "$x" 1))"
fi
if both kv-mysql kv-redis; then
    for phase in read write; do
        printf '  %-7s kv-mysql / kv-redis = %s (the same module on MariaDB and on redis;' \
            "${phase}s" "$(ratio "$(med "$phase:kv-mysql")" "$(med "$phase:kv-redis")")"
        echo ' stated)'
    done
fi
if both dbd-mysql dbd; then
    for phase in read write; do
        printf '  %-7s dbd-mysql / dbd = %s (mod_session_dbd on MariaDB and on SQLite; stated)\n' \
            "${phase}s" "$(ratio "$(med "$phase:dbd-mysql")" "$(med "$phase:dbd")")"
    done
fi
if [ "$reconnect_duration" != 0 ]; then
    echo "  reconnects, connects/s: full / tcp = $(ratio "$(med rc:full)" "$(med rc:tcp)")," \
         "resumed / tcp = $(ratio "$(med rc:resumed)" "$(med rc:tcp)")," \
         "resumed / full = $(ratio "$(med rc:resumed)" "$(med rc:full)"); one reconnect costs" \
         "$(awk -v f="$(median "${rc_wall[full]}")" -v t="$(median "${rc_wall[tcp]}")" \
             'BEGIN { printf "%.0f", f - t }') us more than over TCP with a full handshake," \
         "$(awk -v f="$(median "${rc_wall[resumed]}")" -v t="$(median "${rc_wall[tcp]}")" \
             'BEGIN { printf "%.0f", f - t }') us resumed"
fi
if [ "$with_php" = 1 ]; then
    echo "  reads   php-kv / php-redis = $(ratio "$(med php:php-kv)" "$(med php:php-redis)")" \
         "(the same PHP page; session from mod_session_kv against PHP's redis handler)"
    kv_none='-'
    ! has kv-redis || kv_none=$(ratio "$(med read:kv-redis)" "$(med read:none)")
    echo "  reads   session cost against the server's own static file: kv-redis/none (event)" \
         "$kv_none, php-redis/static (prefork)" \
         "$(ratio "$(med php:php-redis)" "$(med php:static)"), php-kv/static (prefork)" \
         "$(ratio "$(med php:php-kv)" "$(med php:static)"), php-none/static" \
         "$(ratio "$(med php:php-none)" "$(med php:static)")"
fi
problems=0
for f in "$work"/logs/*.error.log; do
    [ "$(log_lines "$f")" = 0 ] || problems=1
done
if [ "$problems" = 1 ]; then
    echo "bench: warnings or errors in the error logs:"
    for f in "$work"/logs/*.error.log; do
        [ "$(log_lines "$f")" = 0 ] && continue
        echo "  $f ($(log_lines "$f") lines), first ones:"
        # grep -m, not head: head would leave grep to die of SIGPIPE, a failure with pipefail
        grep -m 3 -E '\[([a-z_]+:)?(warn|error|crit|alert|emerg)\]' "$f" | cut -c1-300 |
            sed 's/^/    /'
    done
fi
echo "bench: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: wrk output in $work/wrk.log, configurations and logs in $work/"
