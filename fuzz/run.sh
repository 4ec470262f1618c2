#!/usr/bin/env bash
# fuzz/run.sh — runs one libFuzzer target for a number of seconds on its corpus
# (fuzz/corpus/TARGET, created by gen_corpus.sh when absent), building it first when needed.
# Crashing inputs go to fuzz/out/artifacts/. Exits non-zero on any finding (crash, sanitizer
# report, leak, timeout, out-of-memory), so CI fails on it: libFuzzer's own status, and any
# artifact this run wrote. Usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]" >&2; exit 2; }
target="$1"; seconds="$2"; shift 2
bin="$root/fuzz/out/$target"
[ -x "$bin" ] || "$root/fuzz/build.sh" "$target"
[ -d "$root/fuzz/corpus/$target" ] || "$root/fuzz/gen_corpus.sh"
mkdir -p "$root/fuzz/corpus/$target"
arts="$root/fuzz/out/artifacts"
mkdir -p "$arts"
case "$target" in
  fuzz_exec_diff|fuzz_jit_diff) maxlen=9000 ;;
  fuzz_caps) maxlen=16384 ;;     # room for a few Paged Data pages
  fuzz_dispatch) maxlen=1024 ;;  # at most 64 ops are read
  fuzz_ld) maxlen=32768 ;;       # the seed ELFs are 9.7-14.4 KB: 4096 truncated every one
  fuzz_store_records) maxlen=1536 ;; # 2 header bytes and at most 32 edits of at most 44 bytes
  *) maxlen=4096 ;;
esac
# FUZZ_SEED fixes libFuzzer's random seed (CI sets it, so a red run can be reproduced).
seed=()
[ -n "${FUZZ_SEED:-}" ] && seed=(-seed="$FUZZ_SEED")
stamp="$(mktemp)"
trap 'rm -f "$stamp"' EXIT
status=0
"$bin" -max_total_time="$seconds" -max_len="$maxlen" -timeout=20 -rss_limit_mb=2048 \
  -detect_leaks=1 -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
  -artifact_prefix="$arts/$target-" "${seed[@]}" "$@" "$root/fuzz/corpus/$target" || status=$?
new="$(find "$arts" -maxdepth 1 -name "$target-*" -newer "$stamp" | head -20)"
if [ -n "$new" ]; then
  echo "fuzz/run.sh: $target wrote findings:" >&2
  echo "$new" >&2
  [ "$status" -ne 0 ] || status=1
fi
[ "$status" -eq 0 ] || echo "fuzz/run.sh: $target FAILED (status $status)" >&2
exit "$status"
