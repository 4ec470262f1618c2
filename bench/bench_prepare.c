/* SPDX-License-Identifier: MIT
 * bench/bench_prepare.c — compile throughput of the exec layer: how fast javm_prepare
 * validates and predecodes code (the interpreter's "compile" step), on the four programs of
 * bench/programs and on a synthetic 1 MiB straight-line program. Best of N runs (default 7).
 * One row per (program, engine); an engine that compiles to native code adds its own rows.
 * Usage: bench_prepare [RUNS] [DIR] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "javm.h"
#include "vector.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Best time of `runs` javm_prepare calls on one program; 0 when it does not prepare. */
static uint64_t best_prepare(const uint8_t *code, uint64_t L, const uint8_t *mask, int runs)
{
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < runs; r++) {
        javm_program *p = NULL;
        uint64_t t0 = now_ns();
        int rc = javm_prepare(code, L, mask, NULL, 0, NULL, &p);
        uint64_t dt = now_ns() - t0;
        javm_program_free(p);
        if (rc)
            return 0;
        if (dt < best)
            best = dt;
    }
    return best;
}

static void row(const char *name, uint64_t L, uint64_t instrs, uint64_t ns)
{
    printf("%-10s %-7s %13" PRIu64 " %13" PRIu64 " %12.1f %10.1f %10.2f\n", name, "interp", L, instrs,
           (double)ns / 1e3, (double)L / ((double)ns / 1e9) / 1e6, (double)ns / (double)instrs);
}

static uint64_t count_starts(const uint8_t *mask, uint64_t L)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < L; i++)
        n += (mask[i / 8] >> (i % 8)) & 1;
    return n;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    const char *dir = argc > 2 ? argv[2] : JAVM_BENCH_PROGRAMS_DIR;
    if (runs < 1)
        runs = 1;
    printf("%-10s %-7s %13s %13s %12s %10s %10s\n", "program", "engine", "code bytes", "instructions",
           "best us", "MB/s", "ns/instr");
    static const char *const names[] = { "fib", "mem", "muldiv", "sieve" };
    int status = 0;
    for (size_t i = 0; i < 4; i++) {
        char path[4096], err[512];
        snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
        tv_vector v;
        javm_program *p = NULL;
        if (tv_load(path, &v, err, sizeof err) || javm_prepare_blob(v.program, v.program_len, NULL, &p)) {
            fprintf(stderr, "bench_prepare: %s: cannot load or prepare\n", path);
            status = 1;
            continue;
        }
        uint64_t L, ml;
        const uint8_t *code = javm_program_code(p, &L), *mask = javm_program_bitmask(p, &ml);
        uint64_t ns = best_prepare(code, L, mask, runs * 100);
        if (ns)
            row(names[i], L, count_starts(mask, L), ns);
        else
            status = 1;
        javm_program_free(p);
        tv_free(&v);
    }
    /* 1 MiB of the fib loop's body without its branch, repeated: add_64 φ10 = φ7 + φ8,
     * move_reg φ7 = φ8, move_reg φ8 = φ10, add_imm_64 φ9 = φ9 - 1; then trap. */
    static const uint8_t unit[] = { 200, 0x87, 10, 100, 0x87, 100, 0xA8, 149, 0x99, 0xFF };
    static const uint8_t starts[] = { 1, 0, 0, 1, 0, 1, 0, 1, 0, 0 };
    uint64_t units = (1u << 20) / sizeof unit, L = units * sizeof unit + 1;
    uint8_t *code = malloc(L), *mask = calloc((L + 7) / 8, 1);
    if (!code || !mask)
        return 1;
    for (uint64_t u = 0; u < units; u++)
        for (size_t k = 0; k < sizeof unit; k++) {
            uint64_t at = u * sizeof unit + k;
            code[at] = unit[k];
            mask[at / 8] |= (uint8_t)(starts[k] << (at % 8));
        }
    code[L - 1] = 0;
    mask[(L - 1) / 8] |= (uint8_t)(1u << ((L - 1) % 8));
    uint64_t ns = best_prepare(code, L, mask, runs);
    if (ns)
        row("straight", L, units * 4 + 1, ns);
    else
        status = 1;
    free(code);
    free(mask);
    return status;
}
