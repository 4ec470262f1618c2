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

/* One program on one engine: best ns over runs, instructions, and whether every run matched
 * the vector's expected state. */
static int time_engine(const tv_vector *v, javm_program *prog, javm_memory *mem, javm_engine e,
                       int runs, uint64_t *best, uint64_t *steps)
{
    javm_profile profile = javm_program_profile(prog);
    javm_gas_model model = profile == JAVM_PROFILE_JAM_DRAFT ? JAVM_GAS_JAM_DRAFT : JAVM_GAS_PIPELINE;
    tv_vector vv = *v; /* another profile's gas is not the programs' expected gas */
    bool ok = true;
    *best = UINT64_MAX;
    for (int r = 0; r < runs; r++) {
        javm_state st;
        javm_memory_reset(mem);
        tv_setup(v, mem, &st);
        st.engine = e;
        uint64_t t0 = now_ns();
        javm_exit ex = javm_run(prog, &st, model, NULL, NULL);
        uint64_t dt = now_ns() - t0;
        char report[1024];
        if (profile != JAVM_PROFILE_JAVM)
            vv.exp_gas = st.gas;
        ok = ok && tv_compare(&vv, &st, ex, profile, false, report, sizeof report) == 0 &&
             st.ran == e;
        *steps = st.steps;
        if (dt < *best)
            *best = dt;
    }
    return ok ? 0 : -1;
}

int tb_exec_programs(const char *dir, int runs, unsigned engines, FILE *out)
{
    return tb_exec_programs_profile(dir, runs, engines, JAVM_PROFILE_JAVM, out);
}

int tb_exec_programs_profile(const char *dir, int runs, unsigned engines, javm_profile profile,
                             FILE *out)
{
    javm_prepare_opts opts = { profile, 25 };
    javm_gas_model model = profile == JAVM_PROFILE_JAM_DRAFT ? JAVM_GAS_JAM_DRAFT : JAVM_GAS_PIPELINE;
    /* upstream JAVM's interpreter and recompiler on this machine class (issue figures) */
    static const struct { const char *name; double up_interp, up_jit; } progs[] = {
        { "fib", 1.32, 0.11 }, { "mem", 1.32, 0.13 }, { "muldiv", 1.39, 0.55 }, { "sieve", 1.47, 0.21 },
    };
    int status = 0;
    bool jit = javm_jit_available() && (engines & TB_JIT), interp = engines & TB_INTERP;
    if (runs < 1)
        runs = 1;
    fprintf(out, "ns per executed PVM instruction, best of %d runs (%s profile, %s gas)%s\n", runs,
            profile == JAVM_PROFILE_JAM_DRAFT ? "jam-draft" : profile == JAVM_PROFILE_GP ? "GP" : "JAVM",
            model == JAVM_GAS_JAM_DRAFT ? "jam-draft" : "pipeline", jit ? "" : "; this build has no JIT");
    fprintf(out, "%-8s %12s %9s %9s %11s %10s %9s %9s\n", "program", "instructions", "interp", "jit",
            "compile us", "jit/interp", "up.interp", "up.jit");
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
        if (javm_prepare_blob(v.program, v.program_len, &opts, &prog) || javm_memory_new(&mem)) {
            fprintf(out, "%-8s cannot prepare\n", progs[i].name);
            javm_program_free(prog);
            tv_free(&v);
            status = -1;
            continue;
        }
        uint64_t bi = 0, bj = 0, steps = 0, cns = 0;
        int bad = interp ? time_engine(&v, prog, mem, JAVM_ENGINE_INTERP, runs, &bi, &steps) : 0;
        if (jit) {
            /* compile time on a fresh program, then runs on the compiled code */
            javm_program *fresh = NULL;
            if (javm_prepare_blob(v.program, v.program_len, &opts, &fresh) == JAVM_OK &&
                javm_program_compile(fresh, model) == JAVM_OK)
                javm_program_jit_info(fresh, model, NULL, &cns);
            javm_program_free(fresh);
            bad |= time_engine(&v, prog, mem, JAVM_ENGINE_JIT, runs, &bj, &steps);
        }
        double ni = (double)bi / (double)(steps ? steps : 1), nj = (double)bj / (double)(steps ? steps : 1);
        if (jit && interp)
            fprintf(out, "%-8s %12" PRIu64 " %9.3f %9.3f %11.1f %9.2fx %9.2f %9.2f%s\n", progs[i].name, steps,
                    ni, nj, (double)cns / 1e3, ni / nj, progs[i].up_interp, progs[i].up_jit,
                    bad ? "  (RESULT MISMATCH)" : "");
        else if (jit)
            fprintf(out, "%-8s %12" PRIu64 " %9s %9.3f %11.1f %10s %9.2f %9.2f%s\n", progs[i].name, steps,
                    "-", nj, (double)cns / 1e3, "-", progs[i].up_interp, progs[i].up_jit,
                    bad ? "  (RESULT MISMATCH)" : "");
        else
            fprintf(out, "%-8s %12" PRIu64 " %9.3f %9s %11s %10s %9.2f %9.2f%s\n", progs[i].name, steps, ni,
                    "-", "-", "-", progs[i].up_interp, progs[i].up_jit, bad ? "  (RESULT MISMATCH)" : "");
        if (bad)
            status = -1;
        javm_memory_free(mem);
        javm_program_free(prog);
        tv_free(&v);
    }
    return status;
}
