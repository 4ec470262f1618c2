#!/usr/bin/env bash
# Store errors from the javm command (issue 17): a full disk (ENOSPC, here a 512 KiB tmpfs
# mounted for the test) is "store full", exit 3, not "lmdb commit: Input/output error", and
# the commits made before it survive; a damaged LMDB meta page (the free-list root pointing
# past the file) makes put, spawn and quota set exit 3 (store error), as --help says, not 4.
# Needs root and tmpfs mounts (in a private mount namespace): exit 77 otherwise.
set -uo pipefail
javm=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
if [ -z "${JAVM_IN_NS:-}" ]; then
  [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null ||
    { echo "skipped: needs root to mount a small tmpfs"; exit 77; }
  # a private mount namespace, so the tmpfs can never outlive the test
  JAVM_IN_NS=1 unshare -m --propagation private bash "$0" "$@"; rc=$?
  [ $rc -eq 99 ] && { echo "skipped: cannot mount a tmpfs here"; exit 77; }
  exit $rc
fi
tmp=$(mktemp -d)
mount -t tmpfs -o size=512k javm-full "$tmp" 2>/dev/null || { rmdir "$tmp"; exit 99; }
trap 'umount "$tmp"; rmdir "$tmp"' EXIT
work=$(mktemp -d); trap 'umount "$tmp"; rmdir "$tmp"; rm -rf "$work"' EXIT
export JAVM_STORE=$tmp/store
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { local want=$1; shift; "$@" >"$work/out" 2>&1; local rc=$?
  if [ $rc -eq "$want" ]; then ok; else bad "exit $rc (want $want): $*"; head -c 2000 "$work/out"; fi; }
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done; }

# the counter guest of cli_store.sh: each invocation returns the previous value + 1
{
  printf 'JIMG'; le 1 4; le 0 4
  le 15 4; printf '\x3a\x07\x00\x00\x01\x95\x77\x01\x3e\x07\x00\x00\x01\x0a\x00'
  le 2 4; printf '\x21\x21'
  le 0 4
  le 1 4; le 0 8; le 0 8; le 0 4; le 0 1; for r in $(seq 13); do le 0 8; done
  le 1 4; le $((0x10000)) 8; le 8 8; le 1 1; le 0 1
  le 0 4; le 0 4; le 0 1
} > "$work/counter.jimg"
expect 0 "$javm" put "$work/counter.jimg"; img=$(cat "$work/out")
expect 0 "$javm" spawn "$img" --name counter
# fill the disk with invocations carrying 100 KB inputs (kept as slot 0 of each post-instance)
full=0 last=0
for i in $(seq 1 20); do
  head -c 100000 /dev/urandom > "$work/in"
  "$javm" invoke counter --input "$work/in" >"$work/out" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then last=$(sed -n 's/^return: //p' "$work/out"); continue; fi
  full=1
  [ $rc -eq 3 ] && ok || bad "invoke on a full disk: exit $rc"
  grep -q 'store full' "$work/out" && ok || bad "invoke on a full disk: $(cat "$work/out")"
  grep -q 'Input/output error' "$work/out" && bad "still an I/O error: $(cat "$work/out")" || ok
  break
done
[ $full -eq 1 ] && ok || bad "20 invocations of 100 KB fitted in a 512 KiB tmpfs"
[ "$last" -ge 1 ] 2>/dev/null && ok || bad "no invocation committed before the disk filled"
# the earlier commits survive: the store checks clean and the counter continues from them
expect 0 "$javm" fsck
expect 0 "$javm" invoke counter
grep -qx "return: $((last + 1))" "$work/out" && ok || bad "after the full disk: $(cat "$work/out") (last $last)"
# other writers on the full disk: exit 3 (store full), never 4
head -c 200000 /dev/urandom > "$work/big"
{ printf 'trap\n.rodata 0x10000\n.hex '; od -An -v -tx1 "$work/big" | tr -d ' \n'; printf '\n'; } > "$work/big.s"
expect 0 "$javm" asm "$work/big.s" -o "$work/big.jimg"
expect 3 "$javm" put "$work/big.jimg"
grep -q 'store full' "$work/out" && ok || bad "put on a full disk: $(cat "$work/out")"

# a damaged meta page: the free-list root (md_root of mm_dbs[0] at byte 80 of the meta page)
# of the newer meta page points at page 0xFFFF, far past the end of the file
export JAVM_STORE=$work/meta
expect 0 "$javm" put "$work/counter.jimg"
expect 0 "$javm" spawn "$img" --name counter
expect 0 "$javm" invoke counter
t0=$(od -An -tu8 -j 144 -N 8 "$JAVM_STORE/data.mdb" | tr -d ' ')
t1=$(od -An -tu8 -j $((4096 + 144)) -N 8 "$JAVM_STORE/data.mdb" | tr -d ' ')
base=0; [ "$t1" -gt "$t0" ] && base=4096
printf '\xff\xff\x00\x00\x00\x00\x00\x00' | dd of="$JAVM_STORE/data.mdb" bs=1 seek=$((base + 80)) conv=notrunc status=none
cp -r "$JAVM_STORE" "$work/meta0"
for c in "put $work/counter.jimg" "spawn $img" "quota set 1 5" "invoke counter"; do
  rm -rf "$JAVM_STORE"; cp -r "$work/meta0" "$JAVM_STORE"
  expect 3 "$javm" $c
  grep -qi 'corrupt' "$work/out" && ok || bad "$c on a damaged meta page: $(cat "$work/out")"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
