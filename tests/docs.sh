#!/usr/bin/env bash
# The documentation stands on its own: every relative link in README.md, CHANGELOG.md and the
# Markdown files under docs/, bindings/, tests/vectors/ and bench/programs/ names a file or
# folder of the repository; nothing sends the reader to ../shared; docs/README.md indexes every
# page of docs/.
set -uo pipefail
javm=$1 root=$2
cd "$root" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
pages=$(ls README.md CHANGELOG.md docs/*.md docs/bench/README.md bindings/python/README.md \
           tests/vectors/README.md bench/programs/README.md 2>/dev/null)
for f in $pages; do
  dir=$(dirname "$f")
  # [text](target) links, without URL schemes and in-page anchors
  for target in $(grep -oE '\]\([^)#]+' "$f" | sed 's/^](//' | grep -vE '^[a-z]+:'); do
    [ -e "$dir/$target" ] && ok || bad "$f links to missing $target"
  done
  grep -n '\.\./shared\|shared/spec' "$f" && bad "$f points at ../shared" || ok
done
for f in docs/*.md; do
  n=$(basename "$f")
  [ "$n" = README.md ] && continue
  grep -q "($n)" docs/README.md && ok || bad "docs/README.md does not index $n"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
