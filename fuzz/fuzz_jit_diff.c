/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_jit_diff.c — libFuzzer target: the JIT against the interpreter. The input is
 * fuzz_exec_diff's (tests/ref/diff.c: config bytes, registers, page permissions, gas, then a
 * blob or raw code + bitmask); the program runs with javm_state.engine = JIT and = INTERP
 * under both profiles and both gas models, with the scripted handler and resumes, and every
 * observable is compared after each run segment (tests/ref/diff.h, DIFF_MODE_JIT). The top
 * bit of the handler seed compiles the program with JAVM_JIT_CPU=baseline (no BMI1/BMI2/
 * LZCNT/POPCNT), so both code generators are fuzzed.
 *
 * An input shorter than GEN_BELOW bytes (in the format above it would be an empty program)
 * is instead a seed for the program generators of test_differential (structured or random
 * bytes, sometimes as a blob): libFuzzer's coverage cannot see into the native code, and a
 * wrong condition code in the JIT (branch_ge_s_imm taken as >) went unnoticed by 93k
 * decoded inputs but not by the generators. Any disagreement aborts with a report and a dump
 * whose fuzz input (the decoded form) `test_differential --jit FILE` replays. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "ref/diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GEN_BELOW 22 /* the registers start at byte 22 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The two guest memories are kept between inputs (diff_run leaves them all-NONE and
     * zero, as test_differential relies on): on this project's VMs javm_memory_new + free
     * costs about 0.6 ms, ten times a typical input. Everything else is per input. The
     * counters of ctx start again with each pair of memories (they are not reported). */
    static diff_ctx ctx;
    static bool ready;
    static unsigned uses;
    if (ready && ++uses % 4096 == 0) {
        /* fresh memories now and then: every page an input touched stays resident (zeroed) in
         * the reused ones, and the fuzzer's RSS limit would be reached in about 10^6 inputs */
        diff_ctx_free(&ctx);
        ready = false;
    }
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
    if (size < GEN_BELOW) {
        uint64_t rng = UINT64_C(0x6A69742D67656E00) ^ size;
        for (size_t i = 0; i < size; i++)
            rng = (rng ^ data[i]) * UINT64_C(0x100000001B3);
        if (diff_below(&rng, 2))
            diff_gen_structured(&rng, c, p);
        else
            diff_gen_random(&rng, c, p);
        if (diff_below(&rng, 6) == 0)
            diff_to_blob(&rng, p);
        /* run what the dump's fuzz input decodes to, so that a dump replays exactly */
        uint8_t *in = malloc(DIFF_MAX_BLOB + 1024);
        if (!in)
            abort();
        size_t n = diff_encode(c, p, in, DIFF_MAX_BLOB + 1024);
        diff_decode(in, n, c, p);
        free(in);
    } else {
        diff_decode(data, size, c, p);
    }
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
