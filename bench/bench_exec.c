/* SPDX-License-Identifier: MIT
 * bench/bench_exec.c — exec-layer speed: ns per executed instruction on the four programs of
 * shared/bench-programs (JAVM profile, pipeline gas on), best of N runs (default 7), beside
 * the upstream Rust interpreter's figures on the project machine. Prints; asserts nothing
 * about time. Usage: bench_exec [RUNS] [DIR] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vector.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    const char *dir = argc > 2 ? argv[2] : JAVM_SHARED_DIR "/bench-programs";
    static const struct { const char *name; double upstream; } progs[] = {
        { "fib", 1.32 }, { "mem", 1.32 }, { "muldiv", 1.39 }, { "sieve", 1.47 },
    };
    if (runs < 1)
        runs = 1;
    printf("%-8s %14s %12s %12s %10s  %s\n", "program", "instructions", "best ms", "ns/instr",
           "upstream", "ratio (upstream/ours)");
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        char path[4096], err[512];
        snprintf(path, sizeof path, "%s/%s.json", dir, progs[i].name);
        tv_vector v;
        if (tv_load(path, &v, err, sizeof err)) {
            fprintf(stderr, "bench_exec: %s\n", err);
            return 1;
        }
        javm_program *prog;
        javm_memory *mem;
        if (javm_prepare_blob(v.program, v.program_len, NULL, &prog) || javm_memory_new(&mem)) {
            fprintf(stderr, "bench_exec: cannot prepare %s\n", path);
            return 1;
        }
        uint64_t best = UINT64_MAX, steps = 0;
        bool ok = true;
        for (int r = 0; r < runs; r++) {
            javm_state st;
            javm_memory_reset(mem);
            tv_setup(&v, mem, &st);
            uint64_t t0 = now_ns();
            javm_exit ex = javm_run(prog, &st, JAVM_GAS_PIPELINE, NULL, NULL);
            uint64_t dt = now_ns() - t0;
            char report[1024];
            ok = ok && tv_compare(&v, &st, ex, JAVM_PROFILE_JAVM, false, report, sizeof report) == 0;
            steps = st.steps;
            if (dt < best)
                best = dt;
        }
        double nspi = (double)best / (double)steps;
        printf("%-8s %14" PRIu64 " %12.3f %12.3f %10.2f  %.2fx%s\n", progs[i].name, steps,
               (double)best / 1e6, nspi, progs[i].upstream, progs[i].upstream / nspi,
               ok ? "" : "  (RESULT MISMATCH)");
        javm_memory_free(mem);
        javm_program_free(prog);
        tv_free(&v);
    }
    return 0;
}
