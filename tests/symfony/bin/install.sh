#!/usr/bin/env bash
# install.sh — installs this Symfony application (tests/symfony) where httpd and PHP-FPM serve it,
# as a deploy would: a copy of the application with php/LampfarmSessionHandler.php in its lib/
# (php/README.md: "copy it into the application"; autoload.php maps it there), a var directory
# (cache, log, marks) that the PHP-FPM user owns, and the container built with every cache warmed
# once, as that user, so that no request builds it. Used by the integration tests
# (tests/integration/harness/symfony.py) and by the dev farm (scripts/farm.sh).
#
# Usage (as root): tests/symfony/bin/install.sh APP_DIR VAR_DIR [USER:GROUP]
#   APP_DIR, VAR_DIR  emptied first; httpd serves APP_DIR/public, with the environment
#                     APP_ENV=prod APP_DEBUG=0 APP_CACHE_DIR=VAR_DIR/cache APP_LOG_DIR=VAR_DIR/log
#                     APP_MARK_DIR=VAR_DIR/marks (what the warm-up runs with)
#   USER:GROUP        the PHP-FPM workers' (default nobody:nogroup)
# Their parent directories must let USER through. Prints the cache directory. Fails, with PHP's
# output, when the warm-up fails or writes anything to stderr (a deprecation, say).
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 APP_DIR VAR_DIR [USER:GROUP]" >&2
    exit 2
fi
app_dir=$1
var_dir=$2
owner=${3:-nobody:nogroup}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
handler="$src/../../php/LampfarmSessionHandler.php"

rm -rf "$app_dir" "$var_dir"
mkdir -p "$(dirname "$app_dir")" "$(dirname "$var_dir")"
cp -R "$src" "$app_dir"
mkdir -p "$app_dir/lib"
cp "$handler" "$app_dir/lib/"
# Readable by everyone (the FPM user), writable by root only.
chmod -R u=rwX,go=rX "$app_dir"
mkdir -p "$var_dir/cache" "$var_dir/log" "$var_dir/marks"
app_dir=$(cd "$app_dir" && pwd)
var_dir=$(cd "$var_dir" && pwd)
chown -R "$owner" "$var_dir"
chmod 0755 "$var_dir"

err=$(mktemp)
trap 'rm -f "$err"' EXIT
# cd: the FPM user may not be allowed to read the caller's working directory.
if ! (cd "$var_dir" && env APP_ENV=prod APP_DEBUG=0 APP_CACHE_DIR="$var_dir/cache" \
        APP_LOG_DIR="$var_dir/log" APP_MARK_DIR="$var_dir/marks" \
        setpriv --reuid="${owner%%:*}" --regid="${owner#*:}" --clear-groups \
        php "$app_dir/bin/warmup.php" 2>"$err") || [ -s "$err" ]; then
    echo "$0: the Symfony app's warm-up failed:" >&2
    cat "$err" >&2
    exit 1
fi
