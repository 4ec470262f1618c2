/* SPDX-License-Identifier: MIT
 * bench/bench_exec.c — exec-layer speed: ns per executed instruction on the four programs of
 * bench/programs (JAVM profile, pipeline gas on), best of N runs (default 7), beside
 * the upstream Rust interpreter's figures. Usage: bench_exec [RUNS] [DIR] */
#include <stdlib.h>

#include "bench.h"

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    const char *dir = argc > 2 ? argv[2] : JAVM_BENCH_PROGRAMS_DIR;
    return tb_exec_programs(dir, runs, TB_INTERP | TB_JIT, stdout) ? 1 : 0;
}
