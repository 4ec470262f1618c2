#!/usr/bin/env bash
# fuzz/gen_corpus.sh — writes the seed corpora fuzz/corpus/<target>/ (git-ignored): inputs from
# our own generators (fuzz/gen_corpus.c over tests/ref/diff.c), and every v0.4 vector (tests/vectors)'s
# `program` field: as a blob for fuzz_deblob, and with the vector's registers, pc, gas and page
# map in the fuzz_exec_diff format (tests/ref/diff.c) for fuzz_exec_diff and fuzz_jit_diff; and the seeds of
# fuzz_caps and fuzz_dispatch from caps the library builds (fuzz/gen_corpus_caps.c); and edit lists
# for fuzz_store_records (its input format: fuzz/fuzz_store_records.c), a few on each record kind.
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

# fuzz_store_records: header (what is released, gc roots) then edits `op ‖ selector ‖ args`;
# selector class << 5: 1 chunk 0x61, 2 Data by chunks 0x32, 3 format-2 Data 0x31, 4 run 0x60,
# 5 a refcount. Big-endian args (take() in the target).
store_dir="$root/fuzz/corpus/fuzz_store_records"
mkdir -p "$store_dir"
python3 - "$store_dir" <<'PY'
import os, sys
d = sys.argv[1]
CH, DC, DR, RUN, RC = 1 << 5, 2 << 5, 3 << 5, 4 << 5, 5 << 5
def u16(v): return bytes([v >> 8 & 255, v & 255])
def u32(v): return v.to_bytes(4, "big")
def flip(sel, off, b=1): return bytes([0, sel]) + u16(off) + bytes([b])
def setb(sel, off, v): return bytes([1, sel]) + u16(off) + bytes([v])
def count(sel, v): return bytes([2, sel]) + u32(v)
def trunc(sel, n): return bytes([3, sel]) + u16(n)
def append(sel, pat, k): return bytes([4, sel, len(pat) - 1, k - 1]) + pat
def copy(sel, frm): return bytes([5, sel, frm])
def delete(sel): return bytes([6, sel])
def orphan(sel): return bytes([7, sel])
def refset(sel, v): return bytes([8, sel]) + u32(v)
slot = bytes([1]) + bytes([0x5A]) * 32  # a Loaded chunk slot
seeds = {"none": b"", "release_all": bytes([4, 0])}
for i in range(6):  # every chunk: slot count 255 and one more Loaded slot (a 64-slot chunk overflows)
    seeds["chunk_count255_%d" % i] = bytes([i % 4, 15]) + count(CH | i, 255) + append(CH | i, slot, 4)
    seeds["chunk_count0_%d" % i] = bytes([i % 4, 5]) + count(CH | i, 0)
    seeds["chunk_count66_%d" % i] = bytes([4, 0]) + count(CH | i, 66) + append(CH | i, slot, 2)
    seeds["chunk_flip_%d" % i] = bytes([i % 4, 3]) + flip(CH | i, 2 + 33 * i)
    seeds["chunk_state2_%d" % i] = bytes([4, 15]) + setb(CH | i, 2, 2)
    seeds["chunk_del_%d" % i] = bytes([i % 4, 0]) + delete(CH | i)
    seeds["chunk_copy_%d" % i] = bytes([i % 4, 15]) + copy(CH | i, CH | (i + 1))
    seeds["chunk_refcount_%d" % i] = bytes([4, 1]) + refset(CH | i, [0, 1, 2, 100, 0x7FFFFFFF, 0xFFFFFFFF][i])
    # released: only C (format 2), so a damaged chunk is first read by fsck or gc's recount
    seeds["chunk_orphan_%d" % i] = bytes([2, 15]) + count(CH | i, 255) + append(CH | i, slot, 4) + orphan(CH | i)
for i in range(2):
    seeds["dchunks_pages_%d" % i] = bytes([i, 15]) + count(DC | i, [151, 0xFFFFFFFF][i])
    seeds["dchunks_key_%d" % i] = bytes([i, 3]) + flip(DC | i, 13 + 32 * i)
    seeds["dchunks_zero_key_%d" % i] = bytes([3, 8]) + setb(DC | i, 13, 0) + trunc(DC | i, 45)
    seeds["dchunks_trunc_%d" % i] = bytes([i, 15]) + trunc(DC | i, 12)
    seeds["dchunks_refcount_%d" % i] = bytes([i, 0]) + refset(DC | i, 0)
    seeds["dchunks_kind_%d" % i] = bytes([i, 15]) + setb(DC | i, 0, 0x31)
seeds["drefs_flip"] = bytes([2, 15]) + flip(DR, 20)
seeds["drefs_kind"] = bytes([2, 4]) + setb(DR, 0, 0x32)
seeds["drefs_trunc"] = bytes([2, 0]) + trunc(DR, 40)
seeds["drefs_count"] = bytes([2, 15]) + count(DR, 41)
for i in range(4):
    seeds["run_trunc_%d" % i] = bytes([i, 15]) + trunc(RUN | i, 4096)
    seeds["run_flip_%d" % i] = bytes([4, 15]) + flip(RUN | i, 1 + 4096 * i)
    seeds["run_del_%d" % i] = bytes([i, 0]) + delete(RUN | i)
    seeds["run_append_%d" % i] = bytes([i, 15]) + append(RUN | i, bytes([7]) * 32, 64)
    seeds["refcount_%d" % i] = bytes([i, 15]) + refset(RC | i, [0, 1, 2, 0xFFFFFFFF][i])
    seeds["refcount_del_%d" % i] = bytes([4, 0]) + delete(RC | i)
seeds["mixed"] = (bytes([4, 5]) + count(CH | 1, 64) + delete(RUN | 2) + refset(DC, 7) +
                  copy(RUN | 1, RUN | 3) + flip(DR, 50) + orphan(DC | 1))
for name, b in seeds.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(b)
print(f"gen_corpus: {len(seeds)} inputs in {d}")
PY

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
