#!/usr/bin/env bash
# install-deps.sh — the one place that knows lampfarm's system package names.
#
# Installs what building, testing and running the local farm need, and only what is missing:
# every package is checked first (dpkg-query / rpm -q), and the package index is refreshed only
# when something has to be installed, so `make test` and `make run` can call this every time.
# apt on Debian/Ubuntu, dnf on Amazon Linux 2023 / RHEL and its rebuilds (only apt is exercised
# by the project's CI). Runs non-interactively with no stdin (CI, EC2 user data).
#
# Debian packages start their daemons when installed; tests and the farm start their own on free
# ports, so while apt runs a policy-rc.d that answers 101 ("action forbidden") keeps them down.
# An existing policy-rc.d (as in Docker images) is put back afterwards.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/install-deps.sh [--build-only] [--fuzz] [--check] [--help]

Install the system packages lampfarm needs (only those that are missing).

  --build-only   only what building and running the modules needs (httpd, its headers, APR,
                 libcurl, OpenSSL, a compiler): the machine-image path (scripts/build-ami.sh)
  --fuzz         also clang with its sanitizer and libFuzzer runtimes: what `make fuzz` needs
                 (which runs this with --build-only --fuzz)
  --check        install nothing; list what is missing and exit 1 if anything is
  --help         this text

Without --build-only it also installs the test tools (cmocka, pytest, redis, memcached,
MariaDB, HAProxy, Chromium and chromedriver, ...) and the local farm and bench tools (php-fpm, wrk, ...).
Needs root (or sudo) only when something is missing.
EOF
}

build_only=0
check_only=0
fuzz=0
for arg in "$@"; do
    case "$arg" in
        --build-only) build_only=1 ;;
        --fuzz) fuzz=1 ;;
        --check) check_only=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install-deps: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
    esac
done

log() { echo "install-deps: $*"; }
warn() { echo "install-deps: WARNING: $*" >&2; }
die() { echo "install-deps: ERROR: $*" >&2; exit 1; }

# --- package names -------------------------------------------------------------------------------
# Debian / Ubuntu.
# build: compile modules with apxs and run them in Apache (libmariadb-dev: MariaDB Connector/C,
#        the client of mysql:// session stores; the C toolchain is listed because
#        apache2-dev only recommends a compiler, and gcc only recommends libc6-dev).
DEB_BUILD=(apache2 apache2-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libmemcached-dev libhiredis-dev
           libmariadb-dev gcc libc6-dev make pkg-config)
# test: unit tests (cmocka), integration tests (pytest against real backends on 127.0.0.1),
#       headless Chromium driven over WebDriver (chromedriver) for the browser tests, and mod_php
#       (prefork) for the PHP session handler tests; BIND (the old registrar's name server, dig)
#       and a private Postfix instance for the cutover scripts' tests; Symfony 5.4 (the test
#       application under tests/symfony, also the demo of `make run`); libfaketime, the clock
#       that the ElastiCache IAM test moves forward in httpd (15 minutes, 11 hours).
DEB_TEST=(libcmocka-dev python3-pytest python3-pytest-xdist redis-server memcached mariadb-server mariadb-client
          haproxy curl netcat-openbsd jq chromium chromium-driver libapache2-mod-php8.2 faketime
          bind9 bind9-utils bind9-dnsutils postfix libsasl2-modules
          php-symfony-framework-bundle php-symfony-security-csrf)
# farm and dev tools: `make run` (HAProxy + php-fpm app), `make bench` (wrk; the session bench
# compares with mod_session_dbd on SQLite and on MariaDB, through apr_dbd's sqlite3 and mysql
# drivers, and PHP's own redis session handler), `make format`, and a linter for the scripts
# (shellcheck).
DEB_FARM=(haproxy php-fpm php-cli wrk clang-format shellcheck libaprutil1-dbd-sqlite3
          libaprutil1-dbd-mysql php-redis)
# fuzz: `make fuzz` (--fuzz): clang and its compiler-rt, which holds libFuzzer and the ASan and
#       UBSan runtimes (Debian 12's clang is 14; its runtime is not a dependency of clang).
DEB_FUZZ=(clang libclang-rt-14-dev)

# Amazon Linux 2023 / RHEL 9 family. Same purposes, mapped names. Packages that live outside the
# base repositories (EPEL/CRB on RHEL; absent on AL2023) are "best effort": a failure is a warning.
rpm_lists() {
    local id="$1"
    local redis=redis mariadb=mariadb
    if [ "$id" = amzn ]; then
        redis=redis6
        mariadb=mariadb105
    fi
    RPM_BUILD=(httpd httpd-devel apr-devel apr-util-devel libcurl-devel openssl-devel zlib-devel
               libmemcached-awesome-devel hiredis-devel mariadb-connector-c-devel gcc make
               pkgconf-pkg-config)
    RPM_TEST=(python3-pytest "$redis" memcached "$mariadb-server" "$mariadb" haproxy curl
              nmap-ncat jq bind bind-utils postfix cyrus-sasl-plain)
    RPM_FARM=(haproxy php-fpm php-cli apr-util-mysql)
    RPM_FUZZ=(clang compiler-rt)
    # cmocka is in CRB (RHEL 9) / not shipped on AL2023; wrk, ShellCheck, Chromium (with its
    # chromedriver) and libfaketime come from EPEL.
    RPM_OPTIONAL=(libcmocka-devel wrk clang-tools-extra ShellCheck chromium chromedriver
                  libfaketime)
}

# --- helpers -------------------------------------------------------------------------------------
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@" || die "need root to run: $* (sudo -n failed)"
    else
        die "need root to run: $*"
    fi
}

dedup() { printf '%s\n' "$@" | awk 'NF && !seen[$0]++'; }

deb_missing() {
    local p
    for p in "$@"; do
        case "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)" in
            ?i*) ;; # installed (also when held: "hi")
            *) echo "$p" ;;
        esac
    done
}

rpm_missing() {
    local p
    for p in "$@"; do
        # --whatprovides also finds a package installed under another name (curl-minimal).
        rpm -q --whatprovides "$p" >/dev/null 2>&1 || echo "$p"
    done
}

policy_backup=""
policy_installed=0
restore_policy() {
    [ "$policy_installed" -eq 1 ] || return 0
    if [ -n "$policy_backup" ]; then
        as_root mv -f "$policy_backup" /usr/sbin/policy-rc.d
    else
        as_root rm -f /usr/sbin/policy-rc.d
    fi
    policy_installed=0
}

block_service_starts() {
    local stale
    # A run killed before it could clean up leaves our policy-rc.d (and maybe the backup of the
    # one before it): put the original back first, so it is not mistaken for the original.
    if grep -qs 'written by lampfarm' /usr/sbin/policy-rc.d; then
        stale=$(find /usr/sbin -maxdepth 1 -name 'policy-rc.d.lampfarm.*' -print | sort | tail -n 1)
        if [ -n "$stale" ]; then
            as_root mv -f "$stale" /usr/sbin/policy-rc.d
        else
            as_root rm -f /usr/sbin/policy-rc.d
        fi
    fi
    if [ -e /usr/sbin/policy-rc.d ]; then
        policy_backup=$(as_root mktemp /usr/sbin/policy-rc.d.lampfarm.XXXXXX)
        as_root cp -p /usr/sbin/policy-rc.d "$policy_backup"
    fi
    policy_installed=1
    trap restore_policy EXIT
    trap 'restore_policy; exit 130' INT TERM
    printf '#!/bin/sh\n# written by lampfarm scripts/install-deps.sh while apt runs\nexit 101\n' |
        as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 0755 /usr/sbin/policy-rc.d
}

apt_install() {
    local -a opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
                   -o DPkg::Lock::Timeout=300 --no-install-recommends)
    block_service_starts
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 update \
        </dev/null
    # Postfix would otherwise configure itself as an "Internet Site" (the tests run their own
    # instance from a private configuration directory).
    if command -v debconf-set-selections >/dev/null 2>&1; then
        echo "postfix postfix/main_mailer_type select No configuration" \
            | as_root debconf-set-selections
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a apt-get "${opts[@]}" \
        install "$@" </dev/null
    restore_policy
}

install_debian() {
    local -a want missing
    if [ "$build_only" -eq 1 ]; then
        want=("${DEB_BUILD[@]}")
    else
        mapfile -t want < <(dedup "${DEB_BUILD[@]}" "${DEB_TEST[@]}" "${DEB_FARM[@]}")
    fi
    if [ "$fuzz" -eq 1 ]; then
        want+=("${DEB_FUZZ[@]}")
    fi
    mapfile -t missing < <(deb_missing "${want[@]}")
    if [ "${#missing[@]}" -eq 0 ]; then
        log "all ${#want[@]} packages present"
        return 0
    fi
    if [ "$check_only" -eq 1 ]; then
        log "missing: ${missing[*]}"
        return 1
    fi
    apt_install "${missing[@]}"
    mapfile -t missing < <(deb_missing "${want[@]}")
    [ "${#missing[@]}" -eq 0 ] || die "still missing after apt-get install: ${missing[*]}"
    log "installed; all ${#want[@]} packages present"
}

install_rpm() {
    local id="$1" p
    local -a want optional missing missing_opt
    rpm_lists "$id"
    if [ "$build_only" -eq 1 ]; then
        want=("${RPM_BUILD[@]}")
        optional=()
    else
        mapfile -t want < <(dedup "${RPM_BUILD[@]}" "${RPM_TEST[@]}" "${RPM_FARM[@]}")
        optional=("${RPM_OPTIONAL[@]}")
    fi
    if [ "$fuzz" -eq 1 ]; then
        want+=("${RPM_FUZZ[@]}")
    fi
    mapfile -t missing < <(rpm_missing "${want[@]}")
    missing_opt=()
    if [ "${#optional[@]}" -gt 0 ]; then
        mapfile -t missing_opt < <(rpm_missing "${optional[@]}")
    fi
    if [ "${#missing[@]}" -eq 0 ] && [ "${#missing_opt[@]}" -eq 0 ]; then
        log "all $(( ${#want[@]} + ${#optional[@]} )) packages present"
        return 0
    fi
    if [ "$check_only" -eq 1 ]; then
        log "missing: ${missing[*]} ${missing_opt[*]}"
        return 1
    fi
    # rpm packages do not start their services on install, so no policy-rc.d equivalent is needed.
    if [ "${#missing[@]}" -gt 0 ]; then
        log "dnf install ${missing[*]}"
        as_root dnf -y -q install "${missing[@]}" </dev/null
    fi
    if [ "${#missing_opt[@]}" -gt 0 ]; then
        if [ "$id" != amzn ] && [ "$id" != fedora ]; then
            # EPEL and CRB carry cmocka, wrk, ShellCheck and Chromium on the RHEL 9 family.
            as_root dnf -y -q install dnf-plugins-core epel-release </dev/null ||
                warn "could not install epel-release (on RHEL proper, enable EPEL by hand)"
            as_root dnf config-manager --set-enabled crb </dev/null ||
                warn "could not enable the CRB repository"
        fi
        for p in "${missing_opt[@]}"; do
            as_root dnf -y -q install "$p" </dev/null ||
                warn "package '$p' is not available here; install it by other means if needed"
        done
    fi
    mapfile -t missing < <(rpm_missing "${want[@]}")
    [ "${#missing[@]}" -eq 0 ] || die "still missing after dnf install: ${missing[*]}"
    log "installed"
}

check_moto() {
    # moto is not a system package: the machine's default python3 brings it (see DESIGN.md).
    if ! command -v python3 >/dev/null 2>&1; then
        warn "no python3 on PATH: tests and the farm that use moto (S3/CloudWatch stand-in) will skip or fail"
    elif ! python3 -c 'import moto.server' >/dev/null 2>&1; then
        warn "$(command -v python3) cannot import moto: install moto[server] for it (pip), or the" \
             "moto-backed tests and the farm's 'moto' check will not work"
    fi
}

# --- main ----------------------------------------------------------------------------------------
os_id="" os_like=""
if [ -r /etc/os-release ]; then
    # the system's /etc/os-release (not in this repository, so shellcheck cannot read it)
    # shellcheck disable=SC1091
    os_id=$(. /etc/os-release && echo "${ID:-}")
    # shellcheck disable=SC1091
    os_like=$(. /etc/os-release && echo "${ID_LIKE:-}")
fi

if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    install_debian
elif command -v dnf >/dev/null 2>&1 && command -v rpm >/dev/null 2>&1; then
    case "$os_id $os_like" in
        *amzn* | *rhel* | *fedora* | *centos*) install_rpm "$os_id" ;;
        *) die "dnf found but '$os_id' is not Amazon Linux / RHEL / Fedora; install by hand" ;;
    esac
else
    die "neither apt-get nor dnf found (supported: Debian/Ubuntu, Amazon Linux 2023, RHEL 9 family)"
fi

if [ "$build_only" -eq 0 ]; then
    check_moto
fi
