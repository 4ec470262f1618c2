#!/usr/bin/env bash
# The four benchmark programs, run once each under the JAVM profile: registers, pc,
# memory hash, instruction count, and remaining gas under both gas models (the pipeline
# model's end-to-end check). The programs live in bench/programs/.
set -uo pipefail
javm=$1 root=$2
dir=$root/bench/programs
fail=0 pass=0
for b in fib mem muldiv sieve; do
  for model in pipeline instr; do
    if out=$("$javm" run "$dir/$b.json" --gas-model "$model" --check); then
      pass=$((pass + 1)); echo "ok   $b ($model): $(echo "$out" | grep ns/instr)"
    else
      fail=$((fail + 1)); echo "FAIL $b ($model)"; echo "$out"
    fi
  done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
