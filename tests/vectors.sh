#!/usr/bin/env bash
# JAM PVM conformance through the CLI: all 307 v0.4 vectors must pass on every field
# under the GP-compat profile. The vectors live in tests/vectors/; their checksums are
# verified first.
set -uo pipefail
javm=$1 root=$2
dir=$root/tests/vectors/v0.4-w3f-pr3/programs
(cd "$root/tests/vectors" && sha256sum -c --quiet SHA256SUMS) || { echo "FAIL: tests/vectors/SHA256SUMS"; exit 1; }
n=$(ls "$dir"/*.json | wc -l)
[ "$n" = 307 ] || { echo "FAIL: $n vector files in $dir, expected 307"; exit 1; }
out=$("$javm" vectors "$dir"); rc=$?
echo "$out" | tail -20
last=$(echo "$out" | tail -1)
[ "$last" = "307 passed, 0 failed" ] && [ $rc -eq 0 ] || { echo "FAIL: expected 307 passed, 0 failed"; exit 1; }
