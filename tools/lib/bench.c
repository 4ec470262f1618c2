/* SPDX-License-Identifier: MIT
 * tools/lib/bench.c — see bench.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "vector.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int tb_exec_programs(const char *dir, int runs, FILE *out)
{
    static const struct { const char *name; double upstream; } progs[] = {
        { "fib", 1.32 }, { "mem", 1.32 }, { "muldiv", 1.39 }, { "sieve", 1.47 },
    };
    int status = 0;
    if (runs < 1)
        runs = 1;
    fprintf(out, "%-8s %14s %12s %12s %10s  %s\n", "program", "instructions", "best ms",
            "ns/instr", "upstream", "ratio (upstream/ours)");
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        char path[4096], err[512];
        snprintf(path, sizeof path, "%s/%s.json", dir, progs[i].name);
        tv_vector v;
        if (tv_load(path, &v, err, sizeof err)) {
            fprintf(out, "%-8s skipped: %s\n", progs[i].name, err);
            status = -1;
            continue;
        }
        javm_program *prog = NULL;
        javm_memory *mem = NULL;
        if (javm_prepare_blob(v.program, v.program_len, NULL, &prog) || javm_memory_new(&mem)) {
            fprintf(out, "%-8s cannot prepare\n", progs[i].name);
            javm_program_free(prog);
            tv_free(&v);
            status = -1;
            continue;
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
        double nspi = (double)best / (double)(steps ? steps : 1);
        fprintf(out, "%-8s %14" PRIu64 " %12.3f %12.3f %10.2f  %.2fx%s\n", progs[i].name, steps,
                (double)best / 1e6, nspi, progs[i].upstream, progs[i].upstream / nspi,
                ok ? "" : "  (RESULT MISMATCH)");
        if (!ok)
            status = -1;
        javm_memory_free(mem);
        javm_program_free(prog);
        tv_free(&v);
    }
    return status;
}
