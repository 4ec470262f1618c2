#!/usr/bin/env bash
# The four shared benchmark programs, run once each under the JAVM profile: registers, pc,
# memory hash, instruction count, and remaining gas under both gas models (the pipeline
# model's end-to-end check). Skips (exit 77) when ../shared/bench-programs is absent.
set -uo pipefail
javm=$1 shared=$2
dir=$shared/bench-programs
if [ ! -d "$dir" ]; then echo "skipped: $dir not found"; exit 77; fi
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
