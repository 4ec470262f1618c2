#!/usr/bin/env bash
# tests/guest_cli.sh — javm asm / disasm / ld from the shell: file:line:col errors, the
# assembler round trip on a vector through the CLI, linker errors, and the end-to-end guest
# demo (scripts/guest-demo.sh) with its results checked. Exits 77 without clang-19.
set -uo pipefail
javm=$1 root=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL $*"; fail=1; }
printf '  add_64 r1, r2\n' > "$tmp/e.s"
"$javm" asm "$tmp/e.s" -o "$tmp/e.jimg" 2> "$tmp/err"; rc=$?
[ $rc -eq 3 ] && grep -q "e.s:1:16: error: expected ','" "$tmp/err" || bad "asm error position (rc $rc): $(cat "$tmp/err")"
v="$root/tests/vectors/v0.4-w3f-pr3/programs/riscv_rv64ui_add.json"
"$javm" disasm "$v" -o "$tmp/v.s" && "$javm" asm --blob "$tmp/v.s" -o "$tmp/v.bin" || bad "vector disasm/asm"
python3 -c "import json,sys; sys.stdout.buffer.write(bytes(json.load(open('$v'))['program']))" > "$tmp/orig.bin" \
  && { cmp -s "$tmp/orig.bin" "$tmp/v.bin" || bad "vector blob differs after the CLI round trip"; } || bad "python3 reading $v"
printf 'hello' > "$tmp/x.elf"
"$javm" ld "$tmp/x.elf" -o "$tmp/x.jimg" 2> "$tmp/err"; rc=$?
[ $rc -eq 3 ] && grep -q "not an ELF" "$tmp/err" || bad "ld on junk (rc $rc)"
"$javm" ld "$javm" -o "$tmp/x.jimg" 2> "$tmp/err"; rc=$?
[ $rc -eq 3 ] && grep -q "not a RISC-V ELF" "$tmp/err" || bad "ld on a host binary (rc $rc): $(cat "$tmp/err")"
command -v clang-19 >/dev/null || { echo "skipped: clang-19 not installed (scripts/deps.sh guest)"; exit $([ $fail = 0 ] && echo 77 || echo 1); }
bash "$root/scripts/guest-demo.sh" "$javm" > "$tmp/demo" 2>&1 || bad "demo failed: $(tail -5 "$tmp/demo")"
for want in "add 27 -> 1042" "calls so far: 3" "fib(25) recursive = 75025" "fib(90) iterative = 2880067194370816120" \
            'read back (16 bytes): "note 1: buy milk"' "notes count: 2"; do
  grep -qF "$want" "$tmp/demo" || bad "demo output lacks: $want"
done
g=$(sed -n 's/^  guest : //p' "$tmp/demo"); b=$(sed -n 's/^  b2sum : //p' "$tmp/demo")
[ -z "$b" ] || [ "$g" = "$b" ] || bad "blake2b digest differs from b2sum"
[ $fail = 0 ] && echo "guest CLI: all checks passed"
exit $fail
