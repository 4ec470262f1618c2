#!/usr/bin/env bash
# fuzz/gen_corpus.sh — writes the seed corpora fuzz/corpus/<target>/ (git-ignored): inputs from
# our own generators (fuzz/gen_corpus.c over tests/ref/diff.c), and every v0.4 vector (tests/vectors)'s
# `program` field: as a blob for fuzz_deblob, and with the vector's registers, pc, gas and page
# map in the fuzz_exec_diff format (tests/ref/diff.c) for fuzz_exec_diff and fuzz_jit_diff; and the seeds of
# fuzz_caps and fuzz_dispatch from caps the library builds (fuzz/gen_corpus_caps.c).
# Usage: fuzz/gen_corpus.sh [COUNT]   (default 500 generated inputs per target)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
count="${1:-500}"
cc="${CC:-clang-19}"
exec_dir="$root/fuzz/corpus/fuzz_exec_diff"
blob_dir="$root/fuzz/corpus/fuzz_deblob"
caps_dir="$root/fuzz/corpus/fuzz_caps"
dispatch_dir="$root/fuzz/corpus/fuzz_dispatch"
mkdir -p "$exec_dir" "$blob_dir" "$caps_dir" "$dispatch_dir" "$root/fuzz/out"
"$cc" -std=gnu11 -O1 -g -I"$root/include" -I"$root/src" -I"$root/tests" \
  "$root"/src/*/*.c "$root/tests/ref/ref.c" "$root/tests/ref/diff.c" "$root/fuzz/gen_corpus.c" \
  $(pkg-config --libs libsodium 2>/dev/null || echo -lsodium) -llmdb -lpthread \
  -o "$root/fuzz/out/gen_corpus"
"$root/fuzz/out/gen_corpus" "$exec_dir" "$blob_dir" "$count"
"$cc" -std=gnu11 -O1 -g -I"$root/include" -I"$root/src" "$root"/src/*/*.c "$root/fuzz/gen_corpus_caps.c" \
  $(pkg-config --libs libsodium 2>/dev/null || echo -lsodium) -llmdb -lpthread \
  -o "$root/fuzz/out/gen_corpus_caps"
"$root/fuzz/out/gen_corpus_caps" "$caps_dir" "$dispatch_dir"
vectors="$root/tests/vectors/v0.4-w3f-pr3/programs"
[ -d "$vectors" ] || { echo "gen_corpus: $vectors missing (part of the repository)" >&2; exit 1; }
python3 - "$vectors" "$exec_dir" "$blob_dir" <<'PY'
import json, os, struct, sys
src, exec_dir, blob_dir = sys.argv[1:4]
n = 0
for name in sorted(os.listdir(src)):
    if not name.endswith(".json"):
        continue
    with open(os.path.join(src, name)) as f:
        v = json.load(f)
    blob = bytes(v["program"])
    stem = name[:-5]
    with open(os.path.join(blob_dir, "vec_" + stem), "wb") as f:
        f.write(blob)
    # every page of the page map, at most 8, RW or RO, filled with a pattern (fill = index + 1)
    pages = []
    for m in v["initial-page-map"]:
        a = m["address"] & ~0xFFF
        while a < m["address"] + m["length"] and len(pages) < 8:
            perm = 2 if m["is-writable"] else 1
            pages.append((a >> 12) | perm << 20 | (len(pages) + 1) << 24)
            a += 4096
    gas = max(-50000, min(50000, v["initial-gas"]))
    flags = 1 | 8          # blob, handler installed, M = 25, no resumes
    head = struct.pack("<BBQqI", flags, len(pages), 0x5EED0000 + n, gas, v["initial-pc"])
    head += b"".join(struct.pack("<Q", r) for r in v["initial-regs"])
    head += b"".join(struct.pack("<I", p) for p in pages)
    with open(os.path.join(exec_dir, "vec_" + stem), "wb") as f:
        f.write(head + blob)
    n += 1
print(f"gen_corpus: {n} vectors written to both corpora")
PY
# fuzz_jit_diff reads fuzz_exec_diff's format: the same seeds.
jit_dir="$root/fuzz/corpus/fuzz_jit_diff"
mkdir -p "$jit_dir"
cp -n "$exec_dir"/* "$jit_dir"/ 2>/dev/null || true
# and generator seeds (inputs under 22 bytes: fuzz/fuzz_jit_diff.c)
python3 - "$jit_dir" "$count" <<'PY'
import os, struct, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(min(n, 200)):
    with open(os.path.join(d, "gen_%04d" % i), "wb") as f:
        f.write(struct.pack("<Q", 0x9E3779B97F4A7C15 * (i + 1) % (1 << 64)))
PY
for d in "$exec_dir" "$jit_dir" "$blob_dir" "$caps_dir" "$dispatch_dir"; do
  echo "gen_corpus: $(ls "$d" | wc -l) inputs in $d"
done

# fuzz_ld: ELF files of the example guests, compiled and linked as guest/build.sh does.
ld_dir="$root/fuzz/corpus/fuzz_ld"
mkdir -p "$ld_dir"
if command -v clang-19 >/dev/null && command -v ld.lld-19 >/dev/null; then
  for g in counter notes fib; do
    clang-19 --target=riscv64-unknown-elf -march=rv64em_zbb -mabi=lp64e -mno-strict-align \
      -mno-relax -fno-pic -mcmodel=medany -msmall-data-limit=0 -ffreestanding -nostdlib -O2 \
      -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables \
      -I"$root/guest/include" -c "$root/guest/examples/$g.c" -o "$root/fuzz/out/$g.o"
    ld.lld-19 -static --emit-relocs -T "$root/guest/javm.ld" "$root/fuzz/out/$g.o" -o "$ld_dir/$g.elf"
  done
fi
