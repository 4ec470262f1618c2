#!/usr/bin/env bash
# --timeout on `javm run` and `javm invoke` (issue 17): an endless guest stops with exit 6,
# `run` prints exit reason `stopped`, a stopped invocation leaves the store as it was (names,
# blobs and the next invocation's result), bad durations are usage errors, and a guest that
# finishes before its timeout is not affected. Runs on the engine $JAVM_ENGINE selects.
set -uo pipefail
javm=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export JAVM_STORE=$tmp/store
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { local want=$1; shift; timeout 120 "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ $rc -eq "$want" ]; then ok; else bad "exit $rc (want $want): $*"; head -c 2000 "$tmp/out"; fi; }

# an endless loop: a raw program for run, an image with one endpoint for invoke
printf 'top:\nadd_imm_64 r7, r7, 1\njump top\n' > "$tmp/loop.s"
printf '.endpoint main\n.stack 0\nmain:\nadd_imm_64 r7, r7, 1\njump main\n' > "$tmp/loopimg.s"
# counts to 1000, then halts with r7 = 1000
printf '.endpoint main\n.stack 0\nmain:\nadd_imm_64 r7, r7, 1\nbranch_ne_imm r7, 1000, main\necalli 0\n' > "$tmp/count.s"
expect 0 "$javm" asm --blob "$tmp/loop.s" -o "$tmp/loop.bin"
expect 0 "$javm" asm "$tmp/loopimg.s" -o "$tmp/loop.jimg"
expect 0 "$javm" asm "$tmp/count.s" -o "$tmp/count.jimg"

# run: stopped, exit 6, at the loop's block start, having counted
expect 6 "$javm" run "$tmp/loop.bin" --timeout 0.2
grep -q '^exit: stopped' "$tmp/out" && ok || bad "run --timeout: $(cat "$tmp/out")"
grep -q '^pc: 0$' "$tmp/out" && ok || bad "run --timeout pc: $(cat "$tmp/out")"
expect 6 "$javm" run "$tmp/loop.bin" --timeout 0.1 --json
grep -q '"exit":"stopped"' "$tmp/out" && ok || bad "run --timeout --json: $(cat "$tmp/out")"
# with finite gas the loop ends out of gas well before a generous timeout
expect 0 "$javm" run "$tmp/loop.bin" --gas 100000 --timeout 60
grep -q '^exit: out-of-gas' "$tmp/out" && ok || bad "run --gas --timeout: $(cat "$tmp/out")"
# bad durations
for t in 0 0.0 -1 ' 1' 1. .5 1e3 abc '' 12345678901 0.5s; do
  expect 2 "$javm" run "$tmp/loop.bin" --timeout "$t"
done
expect 2 "$javm" run "$tmp/loop.bin" --timeout

# invoke: stopped, exit 6, store unchanged
expect 0 "$javm" put "$tmp/loop.jimg"; img=$(cat "$tmp/out")
expect 0 "$javm" spawn "$img" --name loop
expect 0 "$javm" put "$tmp/count.jimg"; cimg=$(cat "$tmp/out")
expect 0 "$javm" spawn "$cimg" --name count
expect 0 "$javm" ls --json; cp "$tmp/out" "$tmp/ls.before"
expect 6 "$javm" invoke loop --gas 9000000000000000000 --timeout 0.3
grep -q 'status: stopped' "$tmp/out" && ok || bad "invoke --timeout: $(cat "$tmp/out")"
grep -q 'nothing was committed' "$tmp/out" && ok || bad "invoke --timeout message: $(cat "$tmp/out")"
expect 6 "$javm" invoke loop --gas 9000000000000000000 --timeout 0.1 --json --input <(printf 'some input')
grep -q '"fault":"stopped"' "$tmp/out" && ok || bad "invoke --timeout --json: $(cat "$tmp/out")"
expect 0 "$javm" ls --json
cmp -s "$tmp/out" "$tmp/ls.before" && ok || bad "the store changed: $(diff "$tmp/ls.before" "$tmp/out")"
expect 0 "$javm" fsck
# a guest that halts before the timeout commits as usual
expect 0 "$javm" invoke count --timeout 30
grep -q '^return: 1000$' "$tmp/out" && ok || bad "invoke count: $(cat "$tmp/out")"
expect 2 "$javm" invoke loop --timeout 0

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
