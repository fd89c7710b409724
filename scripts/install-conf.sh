#!/usr/bin/env bash
# install-conf.sh — install the httpd configuration snippets of one lampfarm module.
#
# Called by `make install` for each module, after `apxs -i` has put mod_<m>.so into
# $DESTDIR$LIBEXECDIR. Writes the LoadModule line and the module's reference configuration
# (conf.d/<m>.conf in this repository) where the distribution's httpd layout expects them:
#
#   debian  $SYSCONFDIR/mods-available/<m>.load and <m>.conf     (then `a2enmod <m>`)
#   rhel    $SYSCONFDIR/conf.modules.d/10-lampfarm-<m>.conf      (LoadModule, active at once)
#           $SYSCONFDIR/conf.d/lampfarm-<m>.conf
#
# A .conf that already exists with other content is the operator's: it is never overwritten; the
# new one goes next to it as <name>.dist (like rpm's .rpmnew) and this says so. The Debian .load
# file holds nothing but the LoadModule line (and a2enmod's "# Depends:") and is always rewritten
# (a2dismod disables a module, not an edit of its .load). Paths in the LoadModule lines are the
# real ones, without DESTDIR.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/install-conf.sh LAYOUT DESTDIR SYSCONFDIR LIBEXECDIR MODULE

  LAYOUT      debian | rhel
  DESTDIR     staging root prepended to every written path ("" for a real install)
  SYSCONFDIR  httpd's configuration directory (apxs -q SYSCONFDIR), e.g. /etc/apache2
  LIBEXECDIR  where mod_MODULE.so is installed (apxs -q LIBEXECDIR)
  MODULE      module name without the mod_ prefix, e.g. health

Example: scripts/install-conf.sh debian /tmp/x /etc/apache2 /usr/lib/apache2/modules health
EOF
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
esac
if [ "$#" -ne 5 ]; then
    usage >&2
    exit 2
fi

layout=$1 destdir=$2 sysconfdir=$3 libexecdir=$4 module=$5
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

die() { echo "install-conf: ERROR: $*" >&2; exit 1; }
say() { echo "install-conf: $*"; }

[[ "$module" =~ ^[a-z0-9_]+$ ]] || die "bad module name '$module'"
[ -n "$sysconfdir" ] || die "SYSCONFDIR is empty (is apxs installed? try scripts/install-deps.sh)"
[ -n "$libexecdir" ] || die "LIBEXECDIR is empty (is apxs installed? try scripts/install-deps.sh)"

src_conf="$repo/conf.d/$module.conf"
[ -f "$src_conf" ] || die "missing $src_conf: every module ships its reference config in conf.d/"
[ -f "$destdir$libexecdir/mod_$module.so" ] ||
    say "note: $destdir$libexecdir/mod_$module.so is not there (was apxs -i run first?)"

# install_file SRC DEST: write SRC to DEST unless DEST exists with other content, in which case
# SRC goes to DEST.dist and DEST is left alone.
install_file() {
    local src=$1 dest=$2
    install -d -m 0755 "$(dirname "$dest")"
    if [ -e "$dest" ] && ! cmp -s "$src" "$dest"; then
        install -m 0644 "$src" "$dest.dist"
        say "kept $dest (it differs from this version: edited locally?);" \
            "new version written to $dest.dist — compare and merge by hand"
    elif [ -e "$dest" ]; then
        say "unchanged $dest"
    else
        install -m 0644 "$src" "$dest"
        say "wrote $dest"
    fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

so="$libexecdir/mod_$module.so"
# httpd modules this one needs loaded first (mod_session_kv is a mod_session provider)
case "$module" in
    session_kv) depends=session ;;
    *) depends="" ;;
esac
case "$layout" in
    debian)
        printf '# lampfarm mod_%s (installed by make install; enable with: a2enmod %s)\n' \
            "$module" "$module" >"$tmp/load"
        # a2enmod enables what a .load file's "# Depends:" line names first
        [ -z "$depends" ] || printf '# Depends: %s\n' "$depends" >>"$tmp/load"
        printf 'LoadModule %s_module %s\n' "$module" "$so" >>"$tmp/load"
        load="$destdir$sysconfdir/mods-available/$module.load"
        if cmp -s "$tmp/load" "$load"; then
            say "unchanged $load"
        else
            install -d -m 0755 "$(dirname "$load")"
            install -m 0644 "$tmp/load" "$load"
            say "wrote $load"
        fi
        install_file "$src_conf" "$destdir$sysconfdir/mods-available/$module.conf"
        ;;
    rhel)
        # Fedora/RHEL/AL2023 build httpd with sysconfdir=/etc/httpd/conf (where httpd.conf lives),
        # while conf.modules.d/ and conf.d/ sit beside it under the ServerRoot /etc/httpd.
        if [ "$(basename "$sysconfdir")" = conf ]; then
            sysconfdir=$(dirname "$sysconfdir")
        fi
        {
            printf '# lampfarm mod_%s (installed by make install)\n' "$module"
            for d in $depends; do
                printf '<IfModule !%s_module>\n' "$d"
                printf '    LoadModule %s_module modules/mod_%s.so\n' "$d" "$d"
                printf '</IfModule>\n'
            done
            printf 'LoadModule %s_module %s\n' "$module" "$so"
        } >"$tmp/load"
        install_file "$tmp/load" "$destdir$sysconfdir/conf.modules.d/10-lampfarm-$module.conf"
        install_file "$src_conf" "$destdir$sysconfdir/conf.d/lampfarm-$module.conf"
        ;;
    *)
        die "unknown LAYOUT '$layout' (debian or rhel)"
        ;;
esac
