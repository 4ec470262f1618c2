#!/usr/bin/env bash
# scripts/guest-demo.sh — builds the C example guests with clang-19 and runs them end to end on
# an embedded (LMDB) store with the javm command: put, spawn, several invocations with state
# persisting across runs, and a note saved as a file and read back.
# Usage: scripts/guest-demo.sh BUILD/javm   (exits 77 when clang-19 is not installed)
set -euo pipefail
javm=$(realpath "$1")
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v clang-19 >/dev/null || { echo "skipped: clang-19 not installed (scripts/deps.sh guest)"; exit 77; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
store="${JAVM_DEMO_STORE:-$work/store}"
ex="$root/guest/examples"
say() { printf '\n== %s\n' "$*"; }
ret() { "$javm" invoke "$@" --store "$store" | sed -n 's/^return: //p'; }

say "building guests (clang-19 -> ELF -> javm ld -> .jimg)"
"$root/guest/build.sh" "$javm" "$work/counter.jimg" "$ex/counter.c"
"$root/guest/build.sh" "$javm" "$work/notes.jimg" "$ex/notes.c"
"$root/guest/build.sh" "$javm" "$work/fib.jimg" "$ex/fib.c"
"$root/guest/build.sh" "$javm" "$work/blake2b.jimg" "$ex/blake2b.c" "$ex/lib/blake2b.c" -- -I"$ex"
"$root/guest/build.sh" "$javm" "$work/sort.jimg" "$ex/sort.c" "$ex/lib/kernels.c" -- -I"$ex"
ls -l "$work"/*.jimg | awk '{print "  " $NF ": " $5 " bytes"}'

for g in counter notes fib blake2b sort; do
  h=$("$javm" put "$work/$g.jimg" --store "$store")
  "$javm" spawn "$h" --name "$g" --store "$store" >/dev/null
done
# quota 0 for every name: one global quota on LMDB, one per name on RADOS (docs/scale-out.md)
for g in counter notes fib blake2b sort; do
  "$javm" quota set 0 1000000 --name "$g" --store "$store" >/dev/null
done
echo "  images put and spawned as names: counter notes fib blake2b sort; quota 0 = 1000000 bytes"

say "counter: state persists between invocations"
for n in 5 10 27; do echo "  add $n -> $(ret counter --arg "$n")"; done
echo "  calls so far: $(ret counter --endpoint 1)"

say "fib: recursion through the jump table"
echo "  fib(25) recursive = $(ret fib --arg 25)"
echo "  fib(90) iterative = $(ret fib --endpoint 1 --arg 90)"

say "notes: mint a Data cap from input, host_save it, host_open it later"
printf 'buy milk' > "$work/in1"; printf 'call bob' > "$work/in2"
id1=$(ret notes --input "$work/in1"); id2=$(ret notes --input "$work/in2")
[ -n "$id1" ] && [ -n "$id2" ] || { echo "notes failed"; "$javm" invoke notes --input "$work/in1" --store "$store"; exit 1; }
echo "  saved file ids: $id1 $id2; notes count: $(ret notes --endpoint 2)"
len=$(ret notes --endpoint 1 --arg "$id1" --output "$work/out1")
echo "  file $id1 read back ($len bytes): \"$(cat "$work/out1")\""

say "blake2b: hash an input Data cap"
# a Data holds no trailing zero bytes (caps.md §3.3): the input ends in a non-zero byte, else
# the guest would hash fewer bytes than b2sum does (1 run in 256 did)
head -c 99999 /dev/urandom > "$work/blob"
printf 'j' >> "$work/blob"
"$javm" invoke blake2b --input "$work/blob" --output "$work/digest" --store "$store" >/dev/null
echo "  guest : $(od -An -tx1 "$work/digest" | tr -d ' \n')"
if command -v b2sum >/dev/null; then echo "  b2sum : $(b2sum -l 256 "$work/blob" | cut -d' ' -f1)"; fi

say "sort: 100000 keys"
echo "  checksum: $(ret sort --arg 100000 --arg 42)"
echo "  quota 0 left (sort): $("$javm" quota get 0 --name sort --store "$store")"
