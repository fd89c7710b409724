#!/usr/bin/env bash
# check-source.sh — the source rules of `make check` that a compiler does not enforce:
#  1. core files (everything in modules/ that is not mod_*.c / mod_*.h) never include httpd
#     headers nor call ap_* functions: they must stay usable by unit tests and CLI tools;
#  2. every log id LFLOGNO(nnnnn) is used at exactly one call site;
#  3. the C sources are formatted as .clang-format says (`make format` fixes it);
#  4. each built build/mod_<x>.so exports nothing but <x>_module;
#  5. no two glue files of a module depend on each other in a circle (one calls a function of the
#     other and back, directly or through others): from the symbols of the built objects.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
mapfile -t core < <(git ls-files 'modules/*.c' 'modules/*.h' | grep -v '/mod_[^/]*$' || true)
if [ "${#core[@]}" -gt 0 ]; then
  # comment lines may name httpd functions; code lines may not
  if grep -nE '#include *[<"](httpd|http_[a-z_]+|ap_[a-z_]+|util_[a-z_]+|mod_[a-z_]+)\.h[>"]|\bap_[a-z_]+\(' "${core[@]}" \
     | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|/\*|//)'; then
    echo "check: core files above use httpd (keep httpd in the mod_*.c glue)"; status=1
  fi
fi

dups=$(git ls-files 'modules/*.c' | xargs grep -ho 'LFLOGNO([0-9]*)' | sort | uniq -d || true)
if [ -n "$dups" ]; then
  echo "check: log ids used at more than one call site:"; echo "$dups"; status=1
fi

mapfile -t src < <(git ls-files 'modules/*.c' 'modules/*.h' 'tests/unit/*.c' 'tests/unit/*.h' \
      'tests/fuzz/*.c' 'tests/fuzz/*.h' 'tests/bench/*.c')
if command -v clang-format >/dev/null; then
  if ! clang-format --dry-run -Werror "${src[@]}" 2>/dev/null; then
    echo "check: formatting differs from .clang-format (run: make format)"; status=1
  fi
else
  echo "check: clang-format not installed (scripts/install-deps.sh installs it)"; status=1
fi
for so in build/mod_*.so; do
  [ -e "$so" ] || continue
  x=$(basename "$so" .so); x=${x#mod_}
  extra=$(nm -D --defined-only "$so" | awk '{ print $NF }' | grep -vx "${x}_module" || true)
  if [ -n "$extra" ]; then
    echo "check: $so exports more than ${x}_module: $(echo "$extra" | tr '\n' ' ')"; status=1
  fi
done
# 5. glue files in a circle: an edge A -> B when A's object needs a symbol B's defines
obj=${BUILD:-build}/obj
for dir in "$obj"/*/; do
  mapfile -t glue < <(find "$dir" -maxdepth 1 -name 'mod_*.o' ! -name 'mod_lf_*.o' | sort)
  [ "${#glue[@]}" -gt 1 ] || continue
  # the module struct (<x>_module) is every glue file's (APLOG_USE_MODULE, its configs): no edge
  edges=$(for o in "${glue[@]}"; do
            nm "$o" | awk -v f="$(basename "$o" .o)" '$1 == "U" { print "U", f, $2 }
                                                       $2 ~ /^[TDBR]$/ { print "D", f, $3 }'
          done | awk '$1 == "D" { def[$3] = $2 } $1 == "U" { use[NR] = $2 " " $3 }
                      END { for (i in use) { split(use[i], u, " ")
                                             if ((u[2] in def) && def[u[2]] != u[1] \
                                                 && u[2] !~ /_module$/)
                                               print u[1], def[u[2]] } }' | sort -u)
  if [ -n "$edges" ] && ! echo "$edges" | tsort >/dev/null 2>&1; then
    echo "check: glue files of $(basename "$dir") depend on each other in a circle:"
    echo "$edges" | sed 's/ / -> /; s/^/  /'; status=1
  fi
done
exit $status
