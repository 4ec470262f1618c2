#!/usr/bin/env bash
# guest/build.sh — builds a JAVM guest image from C sources with clang-19 and `javm ld`.
# Usage: guest/build.sh JAVM OUT.jimg SRC.c... [-- EXTRA_CFLAGS...]
# Exits 77 with "skipped: clang-19 not installed" when the compiler is absent.
set -euo pipefail
javm=$1 out=$2; shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v clang-19 >/dev/null && command -v ld.lld-19 >/dev/null || { echo "skipped: clang-19 not installed (scripts/deps.sh guest)"; exit 77; }
srcs=(); extra=()
while [ $# -gt 0 ]; do if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi; srcs+=("$1"); shift; done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
objs=(); i=0
for s in "${srcs[@]}"; do
  i=$((i + 1)); o="$tmp/$i-$(basename "$s").o"
  clang-19 --target=riscv64-unknown-elf -march=rv64em_zbb -mabi=lp64e -mno-strict-align -mno-relax -fno-pic -mcmodel=medany \
    -msmall-data-limit=0 -ffreestanding -nostdlib -O2 -ffunction-sections -fdata-sections \
    -fno-asynchronous-unwind-tables -I"$here/include" "${extra[@]}" -c "$s" -o "$o"
  objs+=("$o")
done
ld.lld-19 -static --emit-relocs -T "$here/javm.ld" "${objs[@]}" -o "$tmp/guest.elf"
"$javm" ld "$tmp/guest.elf" -o "$out"
