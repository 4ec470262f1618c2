#!/usr/bin/env bash
# A store that cannot be written (an immutable data.mdb: chattr +i, as on a read-only mount)
# can still be inspected: ls, cat, files, quota get and fsck open it read-only (issue 13 item 14);
# commands that write report the read-only store (exit 3) and change nothing.
set -uo pipefail
javm=$1
tmp=$(mktemp -d)
cleanup() { chattr -i "$tmp/store/data.mdb" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export JAVM_STORE=$tmp/store
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { local want=$1; shift; "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ $rc -eq "$want" ]; then ok; else bad "exit $rc (want $want): $*"; cat "$tmp/out"; fi; }
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done; }
# the counter image of cli_store.sh
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
expect 0 "$javm" quota set 3 77
chattr +i "$tmp/store/data.mdb" 2>/dev/null || { echo "skipped: chattr +i not permitted here"; exit 77; }
# as root, an immutable file is the one write barrier permissions cannot lift
expect 0 "$javm" ls; grep -q '^counter ' "$tmp/out" && ok || bad "ls: $(cat "$tmp/out")"
expect 0 "$javm" cat "$img"; grep -q '^kind: Image' "$tmp/out" && ok || bad "cat: $(cat "$tmp/out")"
expect 0 "$javm" files
expect 0 "$javm" fsck; grep -q " 0 problems" "$tmp/out" && ok || bad "fsck: $(cat "$tmp/out")"
expect 0 "$javm" quota get 3; [ "$(cat "$tmp/out")" = 77 ] && ok || bad "quota get: $(cat "$tmp/out")"
expect 3 "$javm" invoke counter
expect 3 "$javm" quota set 3 1
chattr -i "$tmp/store/data.mdb"
expect 0 "$javm" invoke counter; grep -qx 'return: 1' "$tmp/out" && ok || bad "after: $(cat "$tmp/out")"
expect 0 "$javm" quota get 3; [ "$(cat "$tmp/out")" = 77 ] && ok || bad "quota after: $(cat "$tmp/out")"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
