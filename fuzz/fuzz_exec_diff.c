/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_exec_diff.c — libFuzzer target: the input decodes to a run configuration and a
 * program (the format is documented in tests/ref/diff.c: config bytes, registers, page
 * permissions, gas, then a blob or raw code + bitmask), which runs on the fast interpreter and
 * on the reference under both profiles and both gas models. Any disagreement aborts with a
 * report and a dump; `test_differential FILE` replays a saved input. */
#include <stdio.h>
#include <stdlib.h>

#include "ref/diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Everything per input, nothing kept between inputs (two guest memories cost about
     * 20 us to create and free, small beside the runs). */
    diff_case *c = malloc(sizeof *c);
    diff_prog *p = malloc(sizeof *p);
    char *report = malloc(16384);
    diff_ctx ctx;
    if (!c || !p || !report || diff_ctx_init(&ctx) != JAVM_OK) {
        fprintf(stderr, "fuzz_exec_diff: out of memory\n");
        abort();
    }
    diff_decode(data, size, c, p);
    if (diff_run(&ctx, c, p, report, 16384) != 0) {
        fprintf(stderr, "fast and reference interpreters disagree:\n%s", report);
        diff_dump(stderr, c, p);
        abort();
    }
    diff_ctx_free(&ctx);
    free(report);
    free(p);
    free(c);
    return 0;
}
