#!/usr/bin/env bash
# CLI edge cases (issue 17): ADDR:LEN and numeric options that would wrap around, an empty
# --store, and inputs that are not regular files (pipes, character devices) read as streams up
# to the 1 GiB limit and refused beyond it, never taken as 0 bytes. Reading 1 GiB of /dev/zero
# takes about 40 s under ASan on a loaded machine: each command gets 600 s.
set -uo pipefail
javm=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export JAVM_STORE=$tmp/store
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { local want=$1; shift; timeout 600 "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ $rc -eq "$want" ]; then ok; else bad "exit $rc (want $want): $*"; head -c 2000 "$tmp/out"; fi; }
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done; }

# a program that traps at once (one `trap` instruction, GP deblob)
printf 'trap\n' > "$tmp/a.s"
expect 0 "$javm" asm --blob "$tmp/a.s" -o "$tmp/t.bin"
expect 0 "$javm" run "$tmp/t.bin"
# ADDR + LEN wraps around 2^64: must be refused, not taken as [ADDR, 0)
expect 2 "$javm" run "$tmp/t.bin" --page 18446744073709551615:1
expect 2 "$javm" run "$tmp/t.bin" --page 1:18446744073709551615
expect 2 "$javm" run "$tmp/t.bin" --page 4294967295:2
expect 0 "$javm" run "$tmp/t.bin" --page 4294963200:4096
# strtoull takes " -1" as 2^64 - 1: a number with a sign or leading space is refused
expect 2 "$javm" run "$tmp/t.bin" --repeat ' -1' --gas 1
expect 2 "$javm" run "$tmp/t.bin" --gas ' -1'
expect 2 "$javm" run "$tmp/t.bin" --repeat '+1'
expect 2 "$javm" quota set 1 ' -1'
expect 2 "$javm" ls --map-size ' -4096'
# an empty store path is a usage error, not ./.javm
( cd "$tmp" && expect 2 "$javm" ls --store '' )
[ -e "$tmp/.javm" ] && bad "ls --store '' created ./.javm" || ok

# asm from a pipe reads the whole stream; from /dev/zero it is refused (over the limit)
expect 0 "$javm" asm "$tmp/a.s" -o "$tmp/a.jimg"
expect 0 "$javm" asm <(cat "$tmp/a.s") -o "$tmp/p.jimg"
cmp -s "$tmp/a.jimg" "$tmp/p.jimg" && ok || bad "asm from a pipe made another image"
expect 3 "$javm" asm /dev/zero -o "$tmp/z.jimg"
grep -qi 'limit\|too large' "$tmp/out" && ok || bad "asm /dev/zero: $(cat "$tmp/out")"
[ -e "$tmp/z.jimg" ] && bad "asm /dev/zero wrote an image" || ok
# a sparse regular file just over the limit is refused by its size
truncate -s $(( (1 << 30) + 1 )) "$tmp/huge.s"
expect 3 "$javm" asm "$tmp/huge.s" -o "$tmp/h.jimg"
grep -qi 'limit' "$tmp/out" && ok || bad "asm of a 1 GiB + 1 file: $(cat "$tmp/out")"

# the counter guest of cli_store.sh; slot 0 (the --input Data) is left as it was
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
expect 0 "$javm" invoke counter --input <(printf 'hello, pipe') --output "$tmp/o1"
[ "$(cat "$tmp/o1" 2>/dev/null)" = "hello, pipe" ] && ok || bad "--input from a pipe: '$(cat "$tmp/o1" 2>/dev/null)'"
expect 3 "$javm" invoke counter --input /dev/zero --output "$tmp/o2"
grep -qi 'limit\|too large' "$tmp/out" && ok || bad "--input /dev/zero: $(cat "$tmp/out")"
[ -e "$tmp/o2" ] && bad "--input /dev/zero wrote an output" || ok
expect 0 "$javm" invoke counter
grep -qx 'return: 2' "$tmp/out" && ok || bad "the refused invoke left a trace: $(cat "$tmp/out")"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
