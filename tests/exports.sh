#!/usr/bin/env bash
# The shared libjavm exports exactly the functions the public headers declare with JAVM_API:
# every other symbol is hidden (STYLE.md: the exported symbols are exactly the header).
set -uo pipefail
javm=$1
lib="$(dirname "$javm")/libjavm.so"
inc="$(cd "$(dirname "${BASH_SOURCE[0]}")/../include" && pwd)"
[ -f "$lib" ] || { echo "FAIL: $lib not built"; exit 1; }
command -v nm >/dev/null || { echo "skipped: nm not installed"; exit 77; }
exported=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
declared=$(grep -hE '^JAVM_API' "$inc"/javm/*.h | grep -oE 'javm_[a-z0-9_]+\(' | tr -d '(' | sort -u)
if [ "$exported" != "$declared" ]; then
  echo "FAIL: exported symbols differ from the JAVM_API declarations"
  diff <(echo "$exported") <(echo "$declared")
  echo "0 passed, 1 failed"; exit 1
fi
# The test harness's mutators break slot holds on accounted entries: never in the ABI.
leaked=$(echo "$exported" | grep -E '^javm_vm_(push_test_entry|top_slot_set|top_set_pinned)$')
if [ -n "$leaked" ]; then
  echo "FAIL: test-only mutators exported: $leaked"
  echo "0 passed, 1 failed"; exit 1
fi
echo "libjavm.so exports exactly the $(echo "$declared" | wc -l) declared functions"
echo "1 passed, 0 failed"
