#!/usr/bin/env bash
# The guest demo end to end on the RADOS store (rados://javm/NAMESPACE on the test cluster):
# the same results as on LMDB (docs/scale-out.md). Skipped (77) without a cluster or clang-19,
# except that CI (CI=true) must have the cluster.
set -uo pipefail
javm=$1
root=$2
if [ -z "${JAVM_TEST_RADOS_CONF:-}" ]; then
  [ -n "${CI:-}" ] && { echo "FAIL: CI without the test cluster"; exit 1; }
  echo "skipped: no test cluster (JAVM_TEST_RADOS_CONF unset)"; exit 77
fi
export CEPH_CONF=$JAVM_TEST_RADOS_CONF
store="rados://javm/demo-$$-$(date +%s)"
out=$(JAVM_DEMO_STORE="$store" bash "$root/scripts/guest-demo.sh" "$javm" 2>&1)
rc=$?
[ $rc -eq 77 ] && { echo "$out"; exit 77; }
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
check "demo exits 0 (got $rc)" '[ $rc -eq 0 ]'
check "counter persists" 'grep -q "add 27 -> 1042" <<<"$out"'
check "fib(90)" 'grep -q "fib(90) iterative = 2880067194370816120" <<<"$out"'
check "dense file ids 1 2" 'grep -q "saved file ids: 1 2" <<<"$out"'
check "note read back" 'grep -q "note 1: buy milk" <<<"$out"'
g=$(sed -n 's/^  guest : //p' <<<"$out"); b=$(sed -n 's/^  b2sum : //p' <<<"$out")
check "guest blake2b = b2sum" '[ -n "$g" ] && [ "$g" = "$b" ]'
ls=$("$javm" ls --store "$store")
check "ls lists 5 names" 'grep -q "^5 names" <<<"$ls"'
"$javm" fsck --store "$store" >/dev/null 2>&1; frc=$?
check "fsck on rados is clean (exit 0, got $frc)" '[ $frc -eq 0 ]'
# gc (docs/scale-out.md §5): epoch 1 keeps what the demo just wrote, epoch 2 deletes the old
# instance versions; nothing a name reaches goes, so fsck stays clean and the counter goes on
blobs() { "$javm" ls --store "$store" | sed -n 's/^5 names, \([0-9]*\) blobs.*/\1/p'; }
b0=$(blobs)
g1=$("$javm" gc --store "$store" --grace 0 --json); g1rc=$?
g2=$("$javm" gc --store "$store" --grace 0 --json); g2rc=$?
b2=$(blobs)
check "gc runs (exit $g1rc, $g2rc)" '[ $g1rc -eq 0 ] && [ $g2rc -eq 0 ]'
check "gc epoch 1 deletes nothing" 'grep -q "\"deleted\":0," <<<"$g1"'
check "gc epoch 2 deletes the old versions ($b0 -> $b2 blobs)" '[ -n "$b2" ] && [ "$b2" -lt "$b0" ]'
"$javm" fsck --store "$store" >/dev/null 2>&1; frc=$?
check "fsck after gc is clean (exit $frc)" '[ $frc -eq 0 ]'
after=$("$javm" invoke counter --store "$store" --arg 1 2>&1 | sed -n 's/^return: //p')
check "counter goes on after gc (1043, got $after)" '[ "$after" = 1043 ]'
g3=$("$javm" gc --store "$store" 2>&1); g3rc=$?
check "gc inside the grace is refused (exit 3, got $g3rc)" '[ $g3rc -eq 3 ] && grep -q grace <<<"$g3"'
[ $fail -ne 0 ] && echo "$out"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
