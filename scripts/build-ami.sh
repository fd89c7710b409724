#!/usr/bin/env bash
# build-ami.sh — build and install the lampfarm modules into the system Apache of this machine.
#
# What a machine-image build (Packer, EC2 Image Builder) or an EC2 user-data script runs on a
# fresh instance from a checkout of this repository: install the build dependencies, `make`,
# `make install`, enable the modules (a2enmod on Debian/Ubuntu; on Amazon Linux / RHEL the
# conf.modules.d file loads them), check the configuration with `apachectl -t`, and print what was
# installed where. It never starts or restarts Apache: the image boots it. Safe to run again
# (nothing is rebuilt or rewritten that is already in place; an operator-edited .conf is kept).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/build-ami.sh [--no-enable] [--prefix-check] [--help]

Build the modules, install them into the system httpd (apxs), enable them, run `apachectl -t`.

  --no-enable     install but do not a2enmod (Debian/Ubuntu). On Amazon Linux / RHEL the
                  module is loaded by conf.modules.d/10-lampfarm-<m>.conf as soon as it is
                  installed; this flag changes nothing there.
  --prefix-check  change nothing: show where apxs would install (httpd binary, module and
                  config directories, layout) and check that they belong to the httpd that
                  runs here (same ServerRoot, same module magic number); exit 1 if not.
  --help          this text

Environment: APXS (path of apxs/apxs2, default: found on PATH).
EOF
}

enable=1
prefix_check=0
for arg in "$@"; do
    case "$arg" in
        --no-enable) enable=0 ;;
        --prefix-check) prefix_check=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "build-ami: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
    esac
done

say() { echo "build-ami: $*"; }
die() { echo "build-ami: ERROR: $*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

find_apxs() {
    if [ -n "${APXS:-}" ]; then
        command -v "$APXS" || true
    else
        command -v apxs 2>/dev/null || command -v apxs2 2>/dev/null || true
    fi
}

# The modules, as the Makefile sees them: every folder under modules/ but the shared ones.
modules=()
for d in modules/*/; do
    m=$(basename "$d")
    case "$m" in common | aws) continue ;; esac
    modules+=("$m")
done
[ "${#modules[@]}" -gt 0 ] || die "no module folders under $repo/modules"

# Fills the globals below from apxs and the httpd it belongs to; returns 1 on a mismatch.
prefix_info() {
    local ok=0 mmn_hdr mmn_srv root
    apxs=$(find_apxs)
    [ -n "$apxs" ] || { say "apxs not found (run scripts/install-deps.sh --build-only)"; return 1; }
    libexecdir=$("$apxs" -q LIBEXECDIR)
    sysconfdir=$("$apxs" -q SYSCONFDIR)
    httpd_bin="$("$apxs" -q SBINDIR)/$("$apxs" -q TARGET)"
    case "$sysconfdir" in *httpd*) layout=rhel ;; *) layout=debian ;; esac
    root=$("$httpd_bin" -V 2>/dev/null | sed -n 's/^ *-D HTTPD_ROOT="\(.*\)"$/\1/p' || true)
    mmn_srv=$("$httpd_bin" -V 2>/dev/null |
        sed -n "s/^Server's Module Magic Number: *\([0-9]*\):.*/\1/p" || true)
    mmn_hdr=$(sed -n 's/^#define MODULE_MAGIC_NUMBER_MAJOR \([0-9]*\).*/\1/p' \
        "$("$apxs" -q INCLUDEDIR)/ap_mmn.h" 2>/dev/null || true)

    printf '  %-22s %s\n' apxs "$apxs" "httpd binary" "$httpd_bin" "layout" "$layout" \
        "modules (LIBEXECDIR)" "$libexecdir" "config (SYSCONFDIR)" "$sysconfdir" \
        "httpd ServerRoot" "${root:-?}" "magic number hdr/srv" "${mmn_hdr:-?} / ${mmn_srv:-?}"

    [ -x "$httpd_bin" ] || { say "httpd binary $httpd_bin is missing"; ok=1; }
    [ -d "$libexecdir" ] || { say "module directory $libexecdir is missing"; ok=1; }
    [ -d "$sysconfdir" ] || { say "config directory $sysconfdir is missing"; ok=1; }
    if [ -n "$root" ] && [ "$sysconfdir" != "$root" ] && [ "$sysconfdir" != "$root/conf" ]; then
        say "apxs installs config under $sysconfdir but $httpd_bin reads $root:" \
            "this apxs belongs to another httpd (set APXS=...)"
        ok=1
    fi
    if [ -n "$mmn_hdr" ] && [ -n "$mmn_srv" ] && [ "$mmn_hdr" != "$mmn_srv" ]; then
        say "headers are for module magic number $mmn_hdr, the server is $mmn_srv:" \
            "modules built here would not load"
        ok=1
    fi
    return "$ok"
}

if [ "$prefix_check" -eq 1 ]; then
    say "install locations (nothing is changed):"
    if prefix_info; then
        say "prefix check: OK"
        exit 0
    fi
    die "prefix check failed"
fi

say "installing build dependencies"
scripts/install-deps.sh --build-only

say "checking install locations"
prefix_info || die "install locations do not match the installed httpd (see above)"

say "building"
make --no-print-directory all
say "installing"
make --no-print-directory install

if [ "$layout" = debian ]; then
    if [ "$enable" -eq 1 ]; then
        for m in "${modules[@]}"; do
            a2enmod -q "$m"
        done
        say "enabled: ${modules[*]} (a2enmod)"
    else
        say "not enabled (--no-enable); enable with: a2enmod ${modules[*]}"
    fi
    apachectl_bin=$(command -v apache2ctl || command -v apachectl) || die "apachectl not found"
else
    [ "$enable" -eq 1 ] || say "--no-enable has no effect on $layout: conf.modules.d loads modules"
    # Files copied into place keep the label of where they were built; give them httpd's.
    if command -v restorecon >/dev/null 2>&1; then
        restorecon -R "$libexecdir" "$(dirname "$sysconfdir")" 2>/dev/null || true
    fi
    apachectl_bin=$(command -v apachectl) || die "apachectl not found"
fi

say "checking the configuration: $apachectl_bin -t"
"$apachectl_bin" -t

say "installed:"
confroot=$sysconfdir
if [ "$layout" = rhel ] && [ "$(basename "$sysconfdir")" = conf ]; then
    confroot=$(dirname "$sysconfdir")
fi
for m in "${modules[@]}"; do
    so="$libexecdir/mod_$m.so"
    printf '  mod_%s\n    %s (%s bytes, sha256 %s)\n' "$m" "$so" "$(stat -c %s "$so")" \
        "$(sha256sum "$so" | cut -c1-16)"
    if [ "$layout" = debian ]; then
        files=("$confroot/mods-available/$m.load" "$confroot/mods-available/$m.conf")
    else
        files=("$confroot/conf.modules.d/10-lampfarm-$m.conf" "$confroot/conf.d/lampfarm-$m.conf")
    fi
    for f in "${files[@]}"; do
        if [ -e "$f" ]; then printf '    %s\n' "$f"; fi
        if [ -e "$f.dist" ]; then printf '    %s (new version; yours kept)\n' "$f.dist"; fi
    done
    if [ "$layout" = debian ]; then
        if [ -e "$confroot/mods-enabled/$m.load" ]; then
            printf '    enabled (mods-enabled/%s.load)\n' "$m"
        else
            printf '    not enabled\n'
        fi
    fi
done
say "done; Apache was not restarted (reload it to load new modules: apachectl graceful)"
