#!/usr/bin/env bash
# The javm command end to end on the embedded LMDB store: put an image, spawn it under a
# name, invoke it 100 times (a new process each time), inspect, collect, and the bad-input
# cases (truncated image, unknown and malformed hashes, unwritable store, full store, a
# faulting invocation), checking after each failure that the store is intact.
set -uo pipefail
javm=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export JAVM_STORE=$tmp/store
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect CODE CMD...: run, keep output in $tmp/out, check the exit code
expect() { local want=$1; shift; "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ $rc -eq "$want" ]; then ok; else bad "exit $rc (want $want): $*"; cat "$tmp/out"; fi; }
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done; }

# A counter guest (pvm.md encodings): φ7 = u64 [0x10000] + 1; store it back; ecalli 0 (halt).
#   0: load_u64 φ7, [0x10000]   5: add_imm_64 φ7 = φ7 + 1   8: store_u64 [0x10000], φ7   13: ecalli 0
# One endpoint at pc 0; one writable mapping {0x10000, 8} whose contents persist.
{
  printf 'JIMG'; le 1 4; le 0 4
  le 15 4; printf '\x3a\x07\x00\x00\x01\x95\x77\x01\x3e\x07\x00\x00\x01\x0a\x00'
  le 2 4; printf '\x21\x21'
  le 0 4
  le 1 4; le 0 8; le 0 8; le 0 4; le 0 1; for r in $(seq 13); do le 0 8; done
  le 1 4; le $((0x10000)) 8; le 8 8; le 1 1; le 0 1
  le 0 4; le 0 4; le 0 1
} > "$tmp/counter.jimg"

expect 0 "$javm" put "$tmp/counter.jimg"; img=$(cat "$tmp/out")
[ ${#img} -eq 64 ] && ok || bad "put printed '$img'"
expect 0 "$javm" put "$tmp/counter.jimg" # idempotent
[ "$(cat "$tmp/out")" = "$img" ] && ok || bad "second put gave another hash"
expect 0 "$javm" spawn "${img:0:10}" --name counter; inst=$(cat "$tmp/out")
[ ${#inst} -eq 64 ] && ok || bad "spawn printed '$inst'"
for i in $(seq 1 100); do
  "$javm" invoke counter >"$tmp/out" 2>&1 || { bad "invoke $i failed"; cat "$tmp/out"; break; }
  grep -qx "return: $i" "$tmp/out" || { bad "invoke $i: $(head -3 "$tmp/out")"; break; }
done
[ $fail -eq 0 ] && ok
expect 0 "$javm" invoke counter --json
grep -q '"status":"halt","gas_used":[0-9]*,"return":101' "$tmp/out" && ok || bad "json invoke: $(cat "$tmp/out")"
# inspection
expect 0 "$javm" ls; grep -q '^counter ' "$tmp/out" && grep -q 'blobs' "$tmp/out" && ok || bad "ls: $(cat "$tmp/out")"
post=$(awk '/^counter /{print $2}' "$tmp/out")
expect 0 "$javm" cat "$post"; grep -q '^kind: Instance' "$tmp/out" && grep -q 'overlays: 1' "$tmp/out" && ok || bad "cat: $(cat "$tmp/out")"
expect 0 "$javm" cat "$img" --json; grep -q '"kind":"Image"' "$tmp/out" && ok || bad "cat json: $(cat "$tmp/out")"
"$javm" cat "$img" --raw > "$tmp/raw" && [ "$(head -c 4 "$tmp/raw")" = JCAP ] && ok || bad "cat --raw"
expect 0 "$javm" quota set 7 1000; expect 0 "$javm" quota get 7; [ "$(cat "$tmp/out")" = 1000 ] && ok || bad "quota get"
expect 0 "$javm" files; grep -qx 'no files' "$tmp/out" && ok || bad "files: $(cat "$tmp/out")"
expect 0 "$javm" gc; grep -q 'freed' "$tmp/out" && ok || bad "gc: $(cat "$tmp/out")"
expect 0 "$javm" fsck; grep -q ' 0 problems' "$tmp/out" && ok || bad "fsck: $(cat "$tmp/out")"
expect 0 "$javm" invoke counter; grep -qx 'return: 102' "$tmp/out" && ok || bad "after gc: $(cat "$tmp/out")"
# failures leave the store as it was
head -c 40 "$tmp/counter.jimg" > "$tmp/trunc.jimg"
expect 3 "$javm" put "$tmp/trunc.jimg"; grep -q 'truncated\|Truncated\|TRUNCATED' "$tmp/out" && ok || bad "truncated message: $(cat "$tmp/out")"
expect 3 "$javm" cat deadbeef00
expect 2 "$javm" cat xyz
expect 3 "$javm" invoke no-such-name
expect 1 "$javm" invoke counter --gas 5; grep -q 'out-of-gas' "$tmp/out" && ok || bad "oog: $(cat "$tmp/out")"
expect 3 "$javm" invoke counter --endpoint 3; grep -q 'no such endpoint' "$tmp/out" && ok || bad "endpoint message"
expect 0 "$javm" invoke counter; grep -qx 'return: 103' "$tmp/out" && ok || bad "after failures: $(cat "$tmp/out")"
expect 3 "$javm" ls --store /proc/self/javm-store
# a full store: a tiny map and a large input Data
head -c 3000000 /dev/urandom > "$tmp/big"
expect 0 "$javm" put "$tmp/counter.jimg" --store "$tmp/small" --map-size 1048576
expect 0 "$javm" spawn "$img" --name c --store "$tmp/small" --map-size 1048576
expect 3 "$javm" invoke c --input "$tmp/big" --store "$tmp/small" --map-size 1048576
grep -qi 'full' "$tmp/out" && ok || bad "full store message: $(cat "$tmp/out")"
expect 0 "$javm" invoke c --store "$tmp/small" --map-size 1048576; grep -qx 'return: 1' "$tmp/out" && ok || bad "full store intact: $(cat "$tmp/out")"
# --output (issue 13 item 15): an unwritable path fails before anything is invoked; a write
# that fails after the commit says so with its own exit code (5)
cur=$("$javm" invoke counter | awk '/^return:/{print $2}')
expect 3 "$javm" invoke counter --output "$tmp/no-such-dir/out"
grep -q 'nothing was invoked' "$tmp/out" && ok || bad "unwritable output message: $(cat "$tmp/out")"
expect 0 "$javm" invoke counter; grep -qx "return: $((cur + 1))" "$tmp/out" && ok || bad "unwritable --output committed: $(cat "$tmp/out")"
expect 5 "$javm" invoke counter --output /dev/full
grep -q 'committed' "$tmp/out" && ok || bad "failed output after commit: $(cat "$tmp/out")"
expect 0 "$javm" invoke counter; grep -qx "return: $((cur + 3))" "$tmp/out" && ok || bad "after exit 5: $(cat "$tmp/out")"
# CONFLICT retried (issue 13 item 16): 4 writers moving one name, 25 invocations each, all
# succeed and every one counts
base=$(( cur + 3 ))
for w in 1 2 3 4; do
  ( for i in $(seq 25); do "$javm" invoke counter --no-sync >/dev/null 2>"$tmp/w$w.err" || { echo "writer $w: $(cat "$tmp/w$w.err")"; exit 1; }; done ) &
done
werr=0; for w in 1 2 3 4; do wait -n || werr=$((werr + 1)); done
[ $werr -eq 0 ] && ok || bad "$werr concurrent writers saw a failure"
expect 0 "$javm" invoke counter; grep -qx "return: $((base + 101))" "$tmp/out" && ok || bad "after 4 writers: $(cat "$tmp/out")"
expect 3 "$javm" invoke counter --no-retry --endpoint 9 # the flag parses
expect 2 "$javm" invoke
expect 0 "$javm" invoke --help
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
