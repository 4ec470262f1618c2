#!/usr/bin/env bash
# JAM PVM conformance through the CLI: all 307 v0.4 vectors must pass on every field
# (pvm.md §9.4). Skips (exit 77) when ../shared/pvm-vectors is absent.
set -uo pipefail
javm=$1 shared=$2
dir=$shared/pvm-vectors/v0.4-w3f-pr3/programs
if [ ! -d "$dir" ]; then echo "skipped: $dir not found"; exit 77; fi
out=$("$javm" vectors "$dir"); rc=$?
echo "$out" | tail -20
last=$(echo "$out" | tail -1)
[ "$last" = "307 passed, 0 failed" ] && [ $rc -eq 0 ] || { echo "FAIL: expected 307 passed, 0 failed"; exit 1; }
