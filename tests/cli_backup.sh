#!/usr/bin/env bash
# `javm backup` and `javm restore` (issue 17): backups taken while another process keeps
# invoking are consistent (each fscks clean and holds a counter value the live store had),
# an existing backup is never overwritten, and a restore brings the store back to a backup.
set -uo pipefail
javm=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d); trap 'kill $loop 2>/dev/null; rm -rf "$tmp"' EXIT
export JAVM_STORE=$tmp/store
fail=0 pass=0 loop=
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { local want=$1; shift; "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ $rc -eq "$want" ]; then ok; else bad "exit $rc (want $want): $*"; head -c 2000 "$tmp/out"; fi; }
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done; }
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
expect 0 "$javm" spawn "$img" --name counter
# another process invokes the counter 300 times, each with a 4 KB input, while we back up
head -c 4000 /dev/urandom > "$tmp/in"
( for i in $(seq 1 300); do
    "$javm" invoke counter --input "$tmp/in" >/dev/null 2>"$tmp/loop.err" || { echo "invoke $i: exit $?" >>"$tmp/loop.fail"; break; }
  done; touch "$tmp/loop.done" ) &
loop=$!
n=0 prev=0
while [ ! -e "$tmp/loop.done" ] && [ $n -lt 8 ]; do
  n=$((n + 1))
  expect 0 "$javm" backup "$tmp/b$n"
  grep -q 'checked clean' "$tmp/out" && ok || bad "backup $n: $(cat "$tmp/out")"
  # the copy is a store of its own: clean, and its counter is one the live store had
  expect 0 "$javm" fsck --store "$tmp/b$n"
  expect 0 "$javm" invoke counter --store "$tmp/b$n" --no-sync
  v=$(sed -n 's/^return: //p' "$tmp/out")
  [ -n "$v" ] && [ "$v" -ge $((prev + 1)) ] && [ "$v" -le 301 ] && ok || bad "backup $n continues at '$v' (previous $prev)"
  prev=$((v - 1))
  rm -rf "$tmp/b$n.used"; mv "$tmp/b$n" "$tmp/b$n.used"
  expect 0 "$javm" backup "$tmp/b$n"
done
wait $loop; loop=
[ -e "$tmp/loop.fail" ] && bad "the invoke loop failed during backups: $(cat "$tmp/loop.fail" "$tmp/loop.err")" || ok
[ $n -ge 2 ] && ok || bad "only $n backups during the loop"
expect 0 "$javm" invoke counter
grep -qx 'return: 301' "$tmp/out" && ok || bad "after the loop: $(cat "$tmp/out")"
# an existing backup is never overwritten
cp "$tmp/b1/data.mdb" "$tmp/b1.before"
expect 3 "$javm" backup "$tmp/b1"
cmp -s "$tmp/b1/data.mdb" "$tmp/b1.before" && ok || bad "backup overwrote an existing copy"
# restore the first backup: the counter goes back to its value (read on a copy of it)
cp -r "$tmp/b1" "$tmp/b1.probe"; rm -f "$tmp/b1.probe/javm.lock" "$tmp/b1.probe/lock.mdb"
expect 0 "$javm" invoke counter --store "$tmp/b1.probe" --no-sync
want=$(sed -n 's/^return: //p' "$tmp/out")
[ "$want" -lt 300 ] 2>/dev/null && ok || bad "backup 1 holds '$want': nothing to go back to"
expect 0 "$javm" restore "$tmp/b1"
expect 0 "$javm" fsck
expect 0 "$javm" invoke counter
grep -qx "return: $want" "$tmp/out" && ok || bad "after restore: $(cat "$tmp/out") (want $want)"
# a restore into a new store path, and from something that is not a store
expect 0 "$javm" restore "$tmp/b1" --store "$tmp/fresh"
expect 0 "$javm" invoke counter --store "$tmp/fresh"
grep -qx "return: $want" "$tmp/out" && ok || bad "restore into a new path: $(cat "$tmp/out")"
mkdir "$tmp/junk"; head -c 65536 /dev/urandom > "$tmp/junk/data.mdb"
expect 3 "$javm" restore "$tmp/junk"
expect 0 "$javm" invoke counter
grep -qx "return: $((want + 1))" "$tmp/out" && ok || bad "a refused restore changed the store: $(cat "$tmp/out")"
expect 2 "$javm" backup
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
