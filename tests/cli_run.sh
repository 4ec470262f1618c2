#!/usr/bin/env bash
# javm run / vectors / demo from the shell: outputs, exit codes and hostile input.
set -uo pipefail
javm=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { # name, expected exit code, command...
  local name=$1 want=$2; shift 2
  "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ $rc -eq "$want" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $name: exit $rc, want $want"; cat "$tmp/out"; fi
}
# add_32 program of pvm.md §9.5 as a .bin: registers start at zero, so r9 = 0; implicit trap
printf '\x00\x00\x03\xbe\x87\x09\x01' > "$tmp/add.bin"
check "run bin" 0 "$javm" run "$tmp/add.bin" --gas 10
grep -q '^exit: trap' "$tmp/out" && grep -q 'pc: 3' "$tmp/out" && grep -q 'gas left: 9$' "$tmp/out" \
  && grep -q 'instructions: 2' "$tmp/out" && grep -q 'ns/instr' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL run output"; cat "$tmp/out"; }
check "run gp instr" 0 "$javm" run "$tmp/add.bin" --gas 10 --profile gp --gas-model instr --json
grep -q '"exit":"panic"' "$tmp/out" && grep -q '"gas":8' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL json output"; cat "$tmp/out"; }
check "run out of gas" 0 "$javm" run "$tmp/add.bin" --gas 0
grep -q '^exit: out-of-gas' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL oog output"; cat "$tmp/out"; }
# a store into a --page region, then a read-only one
printf '\x00\x00\x06\x1e\x03\x00\x00\x01\x07\x01' > "$tmp/st.bin" # store_imm_u8 [0x10000] = 7
check "page rw" 0 "$javm" run "$tmp/st.bin" --page 0x10000:4096
grep -q '^exit: trap' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL page rw"; cat "$tmp/out"; }
check "page ro" 0 "$javm" run "$tmp/st.bin" --page 0x10000:4096:ro
grep -q '^exit: page-fault at 0x10000' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL page ro"; cat "$tmp/out"; }
check "repeat" 0 "$javm" run "$tmp/st.bin" --page 0x10000:4096 --repeat 3
# hostile input
printf '\x80' > "$tmp/trunc.bin"
check "truncated blob" 3 "$javm" run "$tmp/trunc.bin"
grep -q 'truncated' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL truncated message"; cat "$tmp/out"; }
printf '{"initial-regs": [1,2]}' > "$tmp/bad.json"
check "bad json" 3 "$javm" run "$tmp/bad.json"
printf 'not json' > "$tmp/junk.json"
check "junk json" 3 "$javm" run "$tmp/junk.json"
check "missing file" 3 "$javm" run "$tmp/nope.bin"
check "bad option" 2 "$javm" run "$tmp/add.bin" --gas-model fast
check "bad page" 2 "$javm" run "$tmp/add.bin" --page 0xFFFFF000:0x2000
check "no dir" 3 "$javm" vectors "$tmp/nodir"
mkdir "$tmp/vec" && cp "$tmp/bad.json" "$tmp/vec/x.json"
check "failing vectors" 1 "$javm" vectors "$tmp/vec"
grep -qx '0 passed, 1 failed' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL vectors summary"; cat "$tmp/out"; }
check "help" 0 "$javm" run --help
check "unknown command" 2 "$javm" frobnicate
check "demo" 0 "$javm" demo
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
