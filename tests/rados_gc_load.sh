#!/usr/bin/env bash
# gc on RADOS while other clients commit (docs/scale-out.md §5): three clients invoke their own
# counter in a loop, a fourth churns a name between two images (so one image is unreachable
# most of the time and is put again, deduplicated, and spawned by hash while gc may be deleting
# it: the race of §5), and gc runs in a loop with --grace 0, for JAVM_GC_LOAD_SECONDS (20).
# Then: every success a client logged is there (final counter = successes, values distinct),
# fsck is clean (no name reaches a missing blob), and two more gc runs leave no unreachable
# blob. Skipped (77) without a cluster, except in CI.
set -uo pipefail
javm=$1
if [ -z "${JAVM_TEST_RADOS_CONF:-}" ]; then
  [ -n "${CI:-}" ] && { echo "FAIL: CI without the test cluster"; exit 1; }
  echo "skipped: no test cluster (JAVM_TEST_RADOS_CONF unset)"; exit 77
fi
export CEPH_CONF=$JAVM_TEST_RADOS_CONF
store="rados://javm/gcload-$$-$(date +%s)"
secs=${JAVM_GC_LOAD_SECONDS:-20}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
. "$(dirname "$0")/support/counter_image.sh"
counter_image "$tmp/one.jimg" 1
counter_image "$tmp/two.jimg" 2
one=$("$javm" put "$tmp/one.jimg" --store "$store") || { echo "FAIL: put"; exit 1; }
for c in 1 2 3; do
  "$javm" spawn "$one" --name "c$c" --store "$store" >/dev/null || { echo "FAIL: spawn c$c"; exit 1; }
done
"$javm" spawn "$one" --name churn --store "$store" >/dev/null || { echo "FAIL: spawn churn"; exit 1; }
end=$(( $(date +%s) + secs ))

client() { # NAME: invoke until the end, log each value returned
  local n=$1 out
  while [ "$(date +%s)" -lt "$end" ]; do
    if out=$("$javm" invoke "$n" --store "$store" 2>"$tmp/$n.err"); then
      sed -n 's/^return: //p' <<<"$out" >> "$tmp/$n.log"
    else
      echo x >> "$tmp/$n.fail"; cat "$tmp/$n.err" >> "$tmp/$n.errs"
    fi
  done
}
churn() { # point churn at image two (one deduplicated put, then by hash), then back at one
  local h
  while [ "$(date +%s)" -lt "$end" ]; do
    if h=$("$javm" put "$tmp/two.jimg" --store "$store" 2>>"$tmp/churn.errs") &&
       "$javm" spawn "$h" --name churn --store "$store" >/dev/null 2>>"$tmp/churn.errs"; then
      echo ok >> "$tmp/churn.log"
    else
      echo x >> "$tmp/churn.fail"
    fi
    "$javm" spawn "$one" --name churn --store "$store" >/dev/null 2>>"$tmp/churn.errs" ||
      echo x >> "$tmp/churn.fail"
  done
}
gcloop() {
  while [ "$(date +%s)" -lt "$end" ]; do
    if "$javm" gc --store "$store" --grace 0 --json >> "$tmp/gc.log" 2>>"$tmp/gc.errs"; then :
    else echo x >> "$tmp/gc.fail"; fi
  done
}
for c in 1 2 3; do client "c$c" & done
churn & gcloop &
wait

runs=$(wc -l < "$tmp/gc.log" 2>/dev/null || echo 0)
deleted=$(sed -n 's/.*"deleted":\([0-9]*\).*/\1/p' "$tmp/gc.log" | awk '{s += $1} END {print s + 0}')
racing=$(sed -n 's/.*"kept_racing":\([0-9]*\).*/\1/p' "$tmp/gc.log" | awk '{s += $1} END {print s + 0}')
gcfail=$(cat "$tmp/gc.fail" 2>/dev/null | wc -l)
echo "gc: $runs runs ($gcfail failed), $deleted blobs deleted, $racing kept because touched meanwhile"
check "gc ran (at least 3 runs: $runs)" '[ "$runs" -ge 3 ]'
check "gc never failed ($gcfail)" '[ "$gcfail" -eq 0 ] || { cat "$tmp/gc.errs"; false; }'
check "gc deleted garbage meanwhile ($deleted)" '[ "$deleted" -gt 0 ]'
for c in 1 2 3; do
  n=$(cat "$tmp/c$c.log" 2>/dev/null | wc -l); nf=$(cat "$tmp/c$c.fail" 2>/dev/null | wc -l)
  distinct=$(sort -n "$tmp/c$c.log" 2>/dev/null | uniq | wc -l)
  top=$(sort -n "$tmp/c$c.log" 2>/dev/null | tail -1)
  echo "c$c: $n successes, $nf failures"
  check "c$c succeeded ($n)" '[ "$n" -gt 0 ]'
  check "c$c: every value distinct and the last is the count ($distinct, $top)" \
    '[ "$distinct" -eq "$n" ] && [ "${top:-0}" -eq "$n" ]'
  next=$("$javm" invoke "c$c" --store "$store" | sed -n 's/^return: //p')
  check "c$c: nothing lost (next value $next = $n + 1)" '[ "$next" = $((n + 1)) ]'
done
echo "churn: $(cat "$tmp/churn.log" 2>/dev/null | wc -l) spawns of the second image, $(cat "$tmp/churn.fail" 2>/dev/null | wc -l) failed"
"$javm" fsck --store "$store" > "$tmp/fsck" 2>&1; frc=$?
check "fsck clean after the load (exit $frc)" '[ $frc -eq 0 ] || { cat "$tmp/fsck"; false; }'
"$javm" gc --store "$store" --grace 0 >/dev/null && "$javm" gc --store "$store" --grace 0 >/dev/null
"$javm" fsck --store "$store" > "$tmp/fsck" 2>&1; frc=$?
check "two more gc runs leave nothing unreachable, fsck clean ($(tail -1 "$tmp/fsck"))" \
  '[ $frc -eq 0 ] && grep -q "(0 blobs unreachable" "$tmp/fsck"'
for c in 1 2 3; do
  "$javm" invoke "c$c" --store "$store" >/dev/null 2>&1 || check "c$c invokes after gc" false
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
