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
check "fsck on rados is a usage error (exit 2, got $frc)" '[ $frc -eq 2 ]'
[ $fail -ne 0 ] && echo "$out"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
