/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_jit_diff.c — libFuzzer target: the JIT against the interpreter. The input is
 * fuzz_exec_diff's (tests/ref/diff.c: config bytes, registers, page permissions, gas, then a
 * blob or raw code + bitmask); the program runs with javm_state.engine = JIT and = INTERP
 * under both profiles and both gas models, with the scripted handler and resumes, and every
 * observable is compared after each run segment (tests/ref/diff.h, DIFF_MODE_JIT). The top
 * bit of the handler seed compiles the program with JAVM_JIT_CPU=baseline (no BMI1/BMI2/
 * LZCNT/POPCNT), so both code generators are fuzzed. Any disagreement aborts with a report
 * and a dump; `test_differential --jit FILE` replays a saved input. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "ref/diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The two guest memories are kept between inputs (diff_run leaves them all-NONE and
     * zero, as test_differential relies on): on this project's VMs javm_memory_new + free
     * costs about 0.6 ms, ten times a typical input. Everything else is per input. */
    static diff_ctx ctx;
    static bool ready;
    if (!ready) {
        if (!javm_jit_available()) {
            fprintf(stderr, "fuzz_jit_diff: this build has no JIT\n");
            abort();
        }
        if (diff_ctx_init(&ctx) != JAVM_OK) {
            fprintf(stderr, "fuzz_jit_diff: out of memory\n");
            abort();
        }
        ctx.mode = DIFF_MODE_JIT;
        ctx.cpu = DIFF_CPU_CASE;
        ready = true;
    }
    diff_case *c = malloc(sizeof *c);
    diff_prog *p = malloc(sizeof *p);
    char *report = malloc(16384);
    if (!c || !p || !report) {
        fprintf(stderr, "fuzz_jit_diff: out of memory\n");
        abort();
    }
    diff_decode(data, size, c, p);
    if (diff_run(&ctx, c, p, report, 16384) != 0) {
        fprintf(stderr, "JIT and interpreter disagree:\n%s", report);
        diff_dump(stderr, c, p);
        abort();
    }
    free(report);
    free(p);
    free(c);
    return 0;
}
