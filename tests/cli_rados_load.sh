#!/usr/bin/env bash
# Independent commits on RADOS through the CLI (docs/scale-out.md §7; tests/test_rados_load.c is
# the same with long-lived clients, 30 s per phase): two phases of JAVM_CLI_LOAD_SECONDS (10)
# each, every client a loop of `javm invoke --no-retry` on a counter (a process, a cluster
# connection per invocation: a few per second on this machine).
#   own:    4 clients, each on its own name: every success logged (the counter returned) is
#           there afterwards (values 1..n, the next invocation returns n + 1), no conflict.
#   shared: 4 clients on one name: every success is there (the values of all clients are
#           distinct, together 1..S, the next returns S + 1: no update lost), conflicts > 0
#           (the clients did race), and no failure other than CONFLICT.
# Prints commits per client, conflicts and commits/s. Skipped (77) without a cluster, except in CI.
set -uo pipefail
javm=$1
if [ -z "${JAVM_TEST_RADOS_CONF:-}" ]; then
  [ -n "${CI:-}" ] && { echo "FAIL: CI without the test cluster"; exit 1; }
  echo "skipped: no test cluster (JAVM_TEST_RADOS_CONF unset)"; exit 77
fi
export CEPH_CONF=$JAVM_TEST_RADOS_CONF
store="rados://javm/cliload-$$-$(date +%s)"
secs=${JAVM_CLI_LOAD_SECONDS:-10}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
. "$(dirname "$0")/support/counter_image.sh"
counter_image "$tmp/counter.jimg" 1
img=$("$javm" put "$tmp/counter.jimg" --store "$store") || { echo "FAIL: put"; exit 1; }

# client LOG NAME END: invoke NAME until END (epoch seconds); each success's value to LOG, each
# conflict an "x" to LOG.conflict, any other failure's message to LOG.err
client() {
  local log=$1 n=$2 end=$3 out
  while [ "$(date +%s)" -lt "$end" ]; do
    if out=$("$javm" invoke "$n" --store "$store" --no-retry 2>"$log.last"); then
      sed -n 's/^return: //p' <<<"$out" >> "$log"
    elif grep -q "conflict with another writer" "$log.last"; then
      echo x >> "$log.conflict"
    else
      cat "$log.last" >> "$log.err"
    fi
  done
}
lines() { cat "$@" 2>/dev/null | wc -l; }
next_value() { "$javm" invoke "$1" --store "$store" | sed -n 's/^return: //p'; }

# Phase 1: each client its own name.
for c in 1 2 3 4; do
  "$javm" spawn "$img" --name "own$c" --store "$store" >/dev/null || { echo "FAIL: spawn own$c"; exit 1; }
done
t0=$(date +%s.%N); end=$(( $(date +%s) + secs ))
for c in 1 2 3 4; do client "$tmp/own$c" "own$c" "$end" & done
wait
t1=$(date +%s.%N)
total=0
for c in 1 2 3 4; do
  n=$(lines "$tmp/own$c"); nc=$(lines "$tmp/own$c.conflict"); ne=$(lines "$tmp/own$c.err")
  distinct=$(sort -n "$tmp/own$c" 2>/dev/null | uniq | wc -l)
  top=$(sort -n "$tmp/own$c" 2>/dev/null | tail -1)
  total=$((total + n))
  echo "own$c: $n commits, $nc conflicts, $ne other failures"
  check "own$c committed ($n)" '[ "$n" -gt 0 ]'
  check "own$c: no conflict on its own name ($nc)" '[ "$nc" -eq 0 ]'
  check "own$c: no other failure ($ne)" '[ "$ne" -eq 0 ] || { head -5 "$tmp/own$c.err"; false; }'
  check "own$c: values distinct, the last is the count ($distinct, ${top:-none}, $n)" \
    '[ "$distinct" -eq "$n" ] && [ "${top:-0}" -eq "$n" ]'
  next=$(next_value "own$c")
  check "own$c: every success present (next value $next = $n + 1)" '[ "$next" = $((n + 1)) ]'
done
awk -v n="$total" -v a="$t0" -v b="$t1" \
  'BEGIN { printf "own names: %d commits in %.1f s, %.1f commits/s\n", n, b - a, n / (b - a) }'

# Phase 2: all four on one name.
"$javm" spawn "$img" --name shared --store "$store" >/dev/null || { echo "FAIL: spawn shared"; exit 1; }
t0=$(date +%s.%N); end=$(( $(date +%s) + secs ))
for c in 1 2 3 4; do client "$tmp/sh$c" shared "$end" & done
wait
t1=$(date +%s.%N)
total=0 conflicts=0 errors=0
for c in 1 2 3 4; do
  n=$(lines "$tmp/sh$c"); nc=$(lines "$tmp/sh$c.conflict"); ne=$(lines "$tmp/sh$c.err")
  echo "shared, client $c: $n commits, $nc conflicts, $ne other failures"
  total=$((total + n)) conflicts=$((conflicts + nc)) errors=$((errors + ne))
  [ "$ne" -gt 0 ] && head -5 "$tmp/sh$c.err"
done
awk -v n="$total" -v k="$conflicts" -v a="$t0" -v b="$t1" \
  'BEGIN { printf "shared name: %d commits, %d conflicts in %.1f s, %.1f commits/s\n", n, k, b - a, n / (b - a) }'
distinct=$(sort -n "$tmp"/sh? 2>/dev/null | uniq | wc -l)
top=$(sort -n "$tmp"/sh? 2>/dev/null | tail -1)
dup=$(sort -n "$tmp"/sh? 2>/dev/null | uniq -d | head -3 | tr '\n' ' ')
check "shared: commits ($total)" '[ "$total" -gt 0 ]'
check "shared: no value returned twice (duplicates: ${dup:-none})" '[ "$distinct" -eq "$total" ]'
check "shared: the values are 1..$total (highest ${top:-none})" '[ "${top:-0}" -eq "$total" ]'
next=$(next_value shared)
check "shared: no update lost (next value $next = $total + 1)" '[ "$next" = $((total + 1)) ]'
check "shared: the clients raced (conflicts $conflicts > 0)" '[ "$conflicts" -gt 0 ]'
check "shared: no failure but CONFLICT ($errors)" '[ "$errors" -eq 0 ]'
"$javm" fsck --store "$store" > "$tmp/fsck" 2>&1; frc=$?
check "fsck clean after the load (exit $frc)" '[ $frc -eq 0 ] || { cat "$tmp/fsck"; false; }'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
