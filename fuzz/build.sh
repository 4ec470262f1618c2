#!/usr/bin/env bash
# fuzz/build.sh — builds the libFuzzer targets (fuzz/fuzz_*.c) with clang-19, ASan and UBSan,
# straight from the library sources (no CMake): src/*/*.c, tests/ref/{ref,diff,gas_ref}.c, and the
# target. Output: fuzz/out/TARGET. Usage: fuzz/build.sh [TARGET...] (default: every target).
# Needs clang-19 and libclang-rt-19-dev (scripts/deps.sh fuzz).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cc="${CC:-clang-19}"
command -v "$cc" >/dev/null || { echo "fuzz/build.sh: $cc not found (scripts/deps.sh fuzz)" >&2; exit 2; }
mkdir -p "$root/fuzz/out"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$root"/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
flags=(-std=gnu11 -O1 -g -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -Wall -Wextra -Wno-unknown-warning-option -Wno-unused-parameter
       -I"$root/include" -I"$root/src" -I"$root/tests" -I"$root/tools/lib")
# The library's own sources are fuzzed too; link what they need.
libs=($(pkg-config --libs libsodium 2>/dev/null || echo -lsodium) -llmdb -lpthread)
for t in "${targets[@]}"; do
  src="$root/fuzz/$t.c"
  [ -f "$src" ] || { echo "fuzz/build.sh: no $src" >&2; exit 2; }
  extra=()
  case "$t" in
    fuzz_store_records) extra=("$root/tools/lib/fsck.c") ;; # tl_fsck (tests/support/fsck_seen.h)
  esac
  echo "build $t" >&2
  "$cc" "${flags[@]}" "$root"/src/*/*.c "$root/tests/ref/ref.c" "$root/tests/ref/diff.c" "$root/tests/ref/gas_ref.c" \
    "${extra[@]}" "$src" \
    "${libs[@]}" -o "$root/fuzz/out/$t"
done
