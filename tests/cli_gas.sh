#!/usr/bin/env bash
# javm gas, and javm run / vectors under the jam-draft profile, from the shell. Expected costs
# are the worked examples of the jam-draft gas model (docs/exec.md) and the pipeline table.
set -uo pipefail
javm=$1 root=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { # name, expected exit code, command...
  local name=$1 want=$2; shift 2
  "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ $rc -eq "$want" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $name: exit $rc, want $want"; cat "$tmp/out"; fi
}
expect() { # name, exact expected output
  if [ "$(cat "$tmp/out")" = "$2" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $1: got"; cat "$tmp/out"; echo "want"; echo "$2"; fi
}
# add_32 then the implicit trap (pvm.md §9.5): pipeline 1 (pvm.md §7.5), jam-draft 2 (gas.md ex. 8)
printf '\x00\x00\x03\xbe\x87\x09\x01' > "$tmp/add.bin"
check "gas pipeline" 0 "$javm" gas "$tmp/add.bin" --json
expect "gas pipeline json" '{"blocks": [{"pc": 0, "instructions": 2, "cost": 1}], "total": 1}'
check "gas jam-draft" 0 "$javm" gas "$tmp/add.bin" --profile jam-draft --json
expect "gas jam-draft json" '{"blocks": [{"pc": 0, "instructions": 2, "cost": 2}], "total": 2}'
check "gas instr" 0 "$javm" gas "$tmp/add.bin" --profile jam-draft --gas-model instr --json
expect "gas instr json" '{"blocks": [{"pc": 0, "instructions": 2, "cost": 2}], "total": 2}'
# gas.md ex. 1: load_imm, load_u64, mul_64, fallthrough: 28, and L = 12 is a block costing 2
printf '\x00\x00\x0c\x33\x07\x05\x3a\x08\x00\x00\x02\xca\x87\x09\x01\x09\x09' > "$tmp/ex1.bin"
check "gas ex1" 0 "$javm" gas "$tmp/ex1.bin" --profile jam-draft --json
expect "gas ex1 json" '{"blocks": [{"pc": 0, "instructions": 4, "cost": 28}, {"pc": 12, "instructions": 1, "cost": 2}], "total": 30}'
# gas.md ex. 2: two divisions, trap: 120; --top 1 shows them
printf '\x00\x00\x07\xcb\x87\x09\xcb\x87\x0a\x00\x49' > "$tmp/ex2.bin"
check "gas ex2 top" 0 "$javm" gas "$tmp/ex2.bin" --profile jam-draft --top 1
grep -q '^ *0  *3  *120$' "$tmp/out" && [ "$(grep -c 'div_u_64' "$tmp/out")" = 2 ] && grep -q '^total 120$' "$tmp/out" \
  || { fail=$((fail + 1)); echo "FAIL gas ex2 top"; cat "$tmp/out"; }
# the same program as a JIMG image (disassembled and assembled back)
check "disasm ex2" 0 "$javm" disasm "$tmp/ex2.bin" -o "$tmp/ex2.s"
check "asm ex2" 0 "$javm" asm "$tmp/ex2.s" -o "$tmp/ex2.jimg"
check "gas ex2 jimg" 0 "$javm" gas "$tmp/ex2.jimg" --profile jam-draft --json
expect "gas ex2 jimg json" '{"blocks": [{"pc": 0, "instructions": 3, "cost": 120}], "total": 120}'
# gas.md ex. 6: load_ind_u32, store_ind_u32, trap: 50 with an L2 hit, 62 with an L3 hit
printf '\x00\x00\x06\x80\x78\x7a\x78\x04\x00\x25' > "$tmp/ex6.bin"
check "gas ex6 L2" 0 "$javm" gas "$tmp/ex6.bin" --profile jam-draft
grep -q '^total 50$' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL ex6 L2"; cat "$tmp/out"; }
check "gas ex6 L3" 0 "$javm" gas "$tmp/ex6.bin" --profile jam-draft --mem-latency 37
grep -q '^total 62$' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL ex6 L3"; cat "$tmp/out"; }
check "gas bad latency" 2 "$javm" gas "$tmp/ex6.bin" --profile jam-draft --mem-latency 30
check "gas bad profile" 2 "$javm" gas "$tmp/ex6.bin" --profile draft
check "gas bad model" 2 "$javm" gas "$tmp/ex6.bin" --gas-model fast
check "gas no file" 2 "$javm" gas
check "gas missing" 3 "$javm" gas "$tmp/nope.bin"
printf '\x80' > "$tmp/trunc.bin"
check "gas truncated" 3 "$javm" gas "$tmp/trunc.bin"
printf 'JIMGjunk' > "$tmp/junk.jimg"
check "gas junk jimg" 3 "$javm" gas "$tmp/junk.jimg"
# run: load_imm r7,1; unlikely; load_imm r8,2; trap is one block of cost 40 (unlikely runs 40)
printf '\x00\x00\x08\x33\x07\x01\x03\x33\x08\x02\x00\x99' > "$tmp/unl.bin"
check "run unlikely" 0 "$javm" run "$tmp/unl.bin" --profile jam-draft --gas 1000
grep -q '^exit: panic' "$tmp/out" && grep -q '^pc: 7' "$tmp/out" && grep -q 'r8=2' "$tmp/out" \
  && grep -q '^gas left: 960$' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL run unlikely"; cat "$tmp/out"; }
check "run unlikely oog" 0 "$javm" run "$tmp/unl.bin" --profile jam-draft --gas 39
grep -q '^exit: out-of-gas' "$tmp/out" && grep -q '^gas left: 39$' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL oog"; cat "$tmp/out"; }
check "run wrong model" 2 "$javm" run "$tmp/unl.bin" --profile jam-draft --gas-model pipeline
check "run wrong model 2" 2 "$javm" run "$tmp/unl.bin" --gas-model jam-draft
# store_imm_u8 [0x1000] = 7 on a mapped page: jam-draft panics below 2^16, javm stores
printf '\x00\x00\x05\x1e\x02\x00\x10\x07\x01' > "$tmp/low.bin"
check "run low jam-draft" 0 "$javm" run "$tmp/low.bin" --profile jam-draft --page 0x1000:4096
grep -q '^exit: panic' "$tmp/out" && grep -q '^pc: 0' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL low jam-draft"; cat "$tmp/out"; }
check "run low javm" 0 "$javm" run "$tmp/low.bin" --page 0x1000:4096
grep -q '^exit: trap' "$tmp/out" && grep -q '^pc: 5' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL low javm"; cat "$tmp/out"; }
# the v0.4 vectors keep passing under jam-draft's semantics with one gas per instruction
vec="$root/tests/vectors/v0.4-w3f-pr3/programs"
[ -d "$vec" ] || { fail=$((fail + 1)); echo "FAIL: $vec missing"; }
if [ -d "$vec" ]; then
  check "vectors jam-draft instr" 0 "$javm" vectors "$vec" --profile jam-draft --gas-model instr
  grep -q '^307 passed, 0 failed$' "$tmp/out" || { fail=$((fail + 1)); echo "FAIL vectors"; tail -3 "$tmp/out"; }
  check "gas vector" 0 "$javm" gas "$vec/inst_add_32.json" --profile jam-draft --json
  expect "gas vector json" '{"blocks": [{"pc": 0, "instructions": 2, "cost": 2}], "total": 2}'
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
