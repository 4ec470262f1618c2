/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_exec_diff.c — libFuzzer target: the input decodes to a run configuration and a
 * program (the format is documented in tests/ref/diff.c: config bytes, registers, page
 * permissions, gas, then a blob or raw code + bitmask), which runs on the fast interpreter and
 * on the reference under both profiles and both gas models. Any disagreement aborts with a
 * report and a dump; `test_differential FILE` replays a saved input.
 *
 * The fast side is the engine JAVM_ENGINE names. Unset (the default of make fuzz and CI), the
 * engine alternates by input, bit 62 of the handler seed: 0 the interpreter, 1 the JIT (an
 * unset JAVM_ENGINE alone would always pick the JIT on x86-64, and the interpreter was never
 * compared with the reference here); the report says which, and `JAVM_ENGINE=interp` or
 * `=jit test_differential FILE` replays it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "ref/diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static bool g_alternate; /* JAVM_ENGINE was unset: pick the engine per input */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *e = getenv("JAVM_ENGINE");
    g_alternate = !e || !*e;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The two guest memories are kept between inputs, as fuzz_jit_diff does (diff_run leaves
     * them all-NONE and zero, as test_differential relies on): creating and freeing them
     * (page faults on fresh mappings, and ASan re-reserving the shadow of 4 GiB on munmap) was
     * most of an input's time. Fresh ones every 4096 inputs bound the RSS (every page an input
     * touched stays resident, zeroed). Everything else is per input. */
    static diff_ctx ctx;
    static bool ready;
    static unsigned uses;
    if (ready && ++uses % 4096 == 0) {
        diff_ctx_free(&ctx);
        ready = false;
    }
    if (!ready) {
        if (diff_ctx_init(&ctx) != JAVM_OK) {
            fprintf(stderr, "fuzz_exec_diff: out of memory\n");
            abort();
        }
        ready = true;
    }
    diff_case *c = malloc(sizeof *c);
    diff_prog *p = malloc(sizeof *p);
    char *report = malloc(16384);
    if (!c || !p || !report) {
        fprintf(stderr, "fuzz_exec_diff: out of memory\n");
        abort();
    }
    diff_decode(data, size, c, p);
    const char *engine = getenv("JAVM_ENGINE");
    if (g_alternate) {
        engine = (c->handler_seed >> 62) & 1 ? "jit" : "interp";
        setenv("JAVM_ENGINE", engine, 1);
    }
    if (diff_run(&ctx, c, p, report, 16384) != 0) {
        fprintf(stderr, "fast engine (JAVM_ENGINE=%s) and reference interpreter disagree:\n%s",
                engine, report);
        diff_dump(stderr, c, p);
        abort();
    }
    free(report);
    free(p);
    free(c);
    return 0;
}
