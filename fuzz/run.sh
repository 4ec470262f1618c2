#!/usr/bin/env bash
# fuzz/run.sh — runs one libFuzzer target for a number of seconds on its corpus
# (fuzz/corpus/TARGET, created by gen_corpus.sh when absent), building it first when needed.
# Crashing inputs go to fuzz/out/artifacts/. Usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]" >&2; exit 2; }
target="$1"; seconds="$2"; shift 2
bin="$root/fuzz/out/$target"
[ -x "$bin" ] || "$root/fuzz/build.sh" "$target"
[ -d "$root/fuzz/corpus/$target" ] || "$root/fuzz/gen_corpus.sh"
mkdir -p "$root/fuzz/out/artifacts"
case "$target" in
  fuzz_exec_diff) maxlen=9000 ;;
  *) maxlen=4096 ;;
esac
exec "$bin" -max_total_time="$seconds" -max_len="$maxlen" -timeout=20 -print_final_stats=1 \
  -artifact_prefix="$root/fuzz/out/artifacts/$target-" "$@" "$root/fuzz/corpus/$target"
