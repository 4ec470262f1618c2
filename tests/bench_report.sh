#!/usr/bin/env bash
# scripts/bench-report.py end to end on canned benchmark outputs (fake bench_* programs in a
# temporary build folder), once from a build without the JIT and once with both engines side
# by side: the page, its tables, the engine ratio, compile throughput and the SVG charts.
set -uo pipefail
javm=$1 root=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
fake() { mkdir -p "$1"; printf '#!/bin/sh\ncat <<"OUT"\n%s\nOUT\n' "$3" > "$1/$2"; chmod +x "$1/$2"; }
common() {
  fake "$1" bench_prepare "program    engine     code bytes  instructions      best us       MB/s   ns/instr
fib        interp             44            10          0.4      100.0      44.00"
  fake "$1" bench_vm "empty invocation round trip:     3.50 us   (target <= 5 us)
host call round trip:            9.00 ns   (target <= 40 ns)"
  fake "$1" bench_cap "get:                               9.8 ns/op   (target <= 40)"
  fake "$1" bench_store "invoke durable     3000 committed invocations        100 /s   10000.0 us each
invoke no_sync    50000 committed invocations      40000 /s     25.0 us each
raw get     100000 records, no transaction open             400000 /s
raw get     100000 records, inside a write transaction      500000 /s"
  fake "$1" bench_guest "benchmark [engine]                native ms   guest ms    ratio  check
blake2b-256, 1 MiB [interp]            2.00      80.00    40.0x  same digest (gas 1)
blake2b-256, 1 MiB [jit]               2.00      10.00     5.0x  same digest (gas 1)
JIT compile of the blake2b image: 1719 bytes of PVM code in 104.6 us (16.4 MB/s), 27972 bytes native"
}
common "$tmp/one"
fake "$tmp/one" bench_exec "ns per executed PVM instruction, best of 1 runs (JAVM profile, pipeline gas); this build has no JIT
program  instructions    interp       jit  compile us jit/interp up.interp    up.jit
fib          50000005     1.800         -           -          -      1.32      0.11
mem          41943366     2.003         -           -          -      1.32      0.13
sieve    skipped: missing"
common "$tmp/two"
fake "$tmp/two" bench_exec "ns per executed PVM instruction, best of 1 runs (JAVM profile, pipeline gas)
program  instructions    interp       jit  compile us jit/interp up.interp    up.jit
fib          50000005     1.800     0.180       165.2     10.00x      1.32      0.11
mem          41943366     2.000     0.500       141.3      4.00x      1.32      0.13"
fake "$tmp/two" bench_jit "JIT compile (pipeline gas model), best of 1
program                    instrs   code bytes         us       MB/s  ns/instr   native B
fib                            10           44        9.9        4.4     990.8        844
generated 10000              9993        36222     6505.4        5.6     651.0     280876
one-shot 1,000-instruction program (prepare + run once): interp 31.6 us, jit 172.9 us"
for v in one two; do
  python3 "$root/scripts/bench-report.py" "$tmp/$v" "$tmp/out-$v" --runs 1 2> "$tmp/log-$v" \
    && ok || { bad "bench-report ($v) failed"; cat "$tmp/log-$v"; }
done
r1=$tmp/out-one/README.md r2=$tmp/out-two/README.md
grep -q '^| fib | 50000005 | 1.800 | 1.32 |$' "$r1" && ok || bad "one engine: fib row"
grep -q '^| mem | 41943366 | 2.003 | 1.32 |$' "$r1" && ok || bad "one engine: mem row"
grep -q '^| sieve' "$r1" && bad "one engine: a skipped program became a row" || ok
grep -q 'interp / jit' "$r1" && bad "one engine: ratio column without a second engine" || ok
grep -q '^| program | instructions | interp ns/instr | jit ns/instr | interp / jit | JIT compile µs | upstream interp (quoted) | upstream jit (quoted) |$' "$r2" \
  && ok || bad "two engines: header"
grep -q '^| fib | 50000005 | 1.800 | 0.180 | 10.00x | 165.2 | 1.32 | 0.11 |$' "$r2" && ok || bad "two engines: fib row and ratio"
grep -q '^| mem | 41943366 | 2.000 | 0.500 | 4.00x | 141.3 | 1.32 | 0.13 |$' "$r2" && ok || bad "two engines: mem row"
grep -q '^| generated 10000 | jit | 36222 | 9993 | 6505.4 | 5.6 | 651.0 |$' "$r2" && ok || bad "two engines: JIT compile row"
grep -q '^| fib | interp | 44 | 10 | 0.4 | 100.0 | 44.00 |$' "$r2" && ok || bad "two engines: predecode row"
grep -q '^One-shot cost' "$r2" && ok || bad "two engines: one-shot line"
for f in "$r1" "$r2"; do
  grep -q '^| commit |' "$f" && grep -q '^| CPU |' "$f" && grep -q '^## How it was measured' "$f" && ok || bad "$f: run table"
  grep -q '^| raw get (2) | records, inside a write transaction | 500000 |$' "$f" && ok || bad "$f: store rows"
  grep -q '^| blake2b-256, 1 MiB | interp | 2.0 | 80.0 | 40.0x |' "$f" && ok || bad "$f: guest row (interp)"
  grep -q '^| blake2b-256, 1 MiB | jit | 2.0 | 10.0 | 5.0x |' "$f" && ok || bad "$f: guest row (jit)"
  grep -q '^\* JIT compile of the blake2b image' "$f" && ok || bad "$f: guest compile note"
done
if command -v gnuplot >/dev/null; then
  for c in exec prepare guest costs store; do
    [ -s "$tmp/out-two/$c.svg" ] && grep -q '<svg' "$tmp/out-two/$c.svg" && ok || bad "no $c.svg"
  done
  grep -q '>jit<' "$tmp/out-two/exec.svg" && grep -q '>interp<' "$tmp/out-two/exec.svg" && ok || bad "exec.svg lacks the engines' series"
  grep -q '!\[ns per instruction\](exec.svg)' "$r2" && ok || bad "page does not show exec.svg"
else
  echo "note: gnuplot not installed (scripts/deps.sh bench): charts not checked"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
