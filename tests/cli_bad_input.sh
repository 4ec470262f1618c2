#!/usr/bin/env bash
# One bad input per javm subcommand (issue 13 item 17): each exits with the code its --help
# documents, never crashes, and every --help documents its exit codes.
set -uo pipefail
javm=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export JAVM_STORE=$tmp/store
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { local want=$1; shift; "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ $rc -eq "$want" ]; then ok; else bad "exit $rc (want $want): $*"; cat "$tmp/out"; fi; }
mkdir "$tmp/empty"
for c in asm disasm ld run vectors demo put spawn invoke cat ls quota files gc fsck backup restore bench gas; do
  "$javm" $c --help >"$tmp/out" 2>&1 || bad "$c --help exited $?"
  grep -q 'Exit' "$tmp/out" && ok || bad "$c --help documents no exit codes"
done
expect 3 "$javm" asm "$tmp/none.s" -o "$tmp/x.jimg"
expect 3 "$javm" disasm "$tmp/none.jimg"
expect 3 "$javm" ld "$tmp/none.elf" -o "$tmp/x.jimg"
expect 3 "$javm" run "$tmp/none.bin"
grep -qi 'no such file' "$tmp/out" && ok || bad "run of a missing file: $(cat "$tmp/out")"
expect 3 "$javm" vectors "$tmp/none"
grep -qi 'no such file' "$tmp/out" && ok || bad "vectors on a missing dir: $(cat "$tmp/out")"
expect 3 "$javm" vectors "$tmp/empty"
grep -q 'no .json vectors' "$tmp/out" && ok || bad "vectors on an empty dir: $(cat "$tmp/out")"
expect 2 "$javm" demo extra
expect 3 "$javm" put "$tmp/none.jimg"
expect 3 "$javm" spawn deadbeef00
expect 3 "$javm" invoke no-such-name
expect 3 "$javm" cat deadbeef00
expect 3 "$javm" ls --store /proc/self/javm-store
expect 3 "$javm" ls --store "$tmp/no-store"
grep -q 'not found' "$tmp/out" && ok || bad "ls of a missing store: $(cat "$tmp/out")"
[ ! -e "$tmp/no-store" ] && ok || bad "ls created a store"
expect 2 "$javm" quota get not-a-number
expect 3 "$javm" files --store /proc/self/javm-store
expect 3 "$javm" gc --store /proc/self/javm-store
expect 3 "$javm" fsck --store /proc/self/javm-store
expect 3 "$javm" backup "$tmp/bk" --store /proc/self/javm-store
expect 3 "$javm" restore "$tmp/none"
expect 3 "$javm" gas "$tmp/none.bin"
grep -qi 'no such file' "$tmp/out" && ok || bad "gas of a missing file: $(cat "$tmp/out")"
expect 3 "$javm" bench --programs "$tmp/empty" --runs 1 --invocations 1
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
