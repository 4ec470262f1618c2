/* SPDX-License-Identifier: MIT
 * tests/test_ref_vectors.c — the reference interpreter (tests/ref) against the shared golden
 * files: every JAM PVM v0.4 vector the conformance way (pvm.md §9.4: GP-compat profile,
 * instruction-count gas, every field), and the four benchmark programs under the JAVM profile
 * and the pipeline model (remaining gas, registers, memory hash, executed instructions). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sanitizer.h"
#include "ref/ref.h"
#include "vector.h"

#define VECTOR_DIR JAVM_VECTORS_DIR
#define BENCH_DIR JAVM_BENCH_PROGRAMS_DIR
#define VECTOR_COUNT 307

/* The benchmarks run 14M to 55M instructions each; the reference takes about 36 ns per
 * instruction optimised but ten times that under ASan at -O0, so a sanitizer build runs only
 * the smallest (sieve, which covers loads, stores and the pipeline model's memory rows). */
#define SANITIZED TESTS_ASAN

/* Runs one vector file on the reference; returns the number of mismatching fields. */
static int run_ref(const char *path, javm_profile profile, javm_gas_model model, bool gas_1pi,
                   char *report, size_t cap)
{
    tv_vector v;
    char err[512];
    int rc = tv_load(path, &v, err, sizeof err);
    if (rc) {
        snprintf(report, cap, "  load: %s\n", err);
        return 1;
    }
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    javm_state st;
    assert_int_equal(tv_setup(&v, mem, &st), JAVM_OK);
    ref_program prog;
    javm_exit ex = { JAVM_EXIT_PANIC, 0 };
    /* pvm.md §9.4 step 1: an undecodable blob is an immediate panic, state unchanged. */
    if (ref_prepare_blob(v.program, v.program_len, profile, 25, &prog) == JAVM_OK) {
        ex = ref_run(&prog, &st, model, NULL, NULL);
        ref_free(&prog);
    }
    int bad = tv_compare(&v, &st, ex, profile, gas_1pi, report, cap);
    javm_memory_free(mem);
    tv_free(&v);
    return bad;
}

static void test_vectors(void **state)
{
    (void)state;
    struct { char **names; size_t n; } l;
    assert_int_equal(tv_list_json(VECTOR_DIR, &l.names, &l.n), JAVM_OK);
    assert_int_equal(l.n, VECTOR_COUNT);
    size_t failed = 0;
    char path[4096], report[8192];
    for (size_t i = 0; i < l.n; i++) {
        snprintf(path, sizeof path, "%s/%s", VECTOR_DIR, l.names[i]);
        int bad = run_ref(path, JAVM_PROFILE_GP, JAVM_GAS_INSTR, false, report, sizeof report);
        if (bad) {
            printf("FAIL %s\n%s", l.names[i], report);
            failed++;
        }
    }
    printf("reference: %zu of %zu vectors passed\n", l.n - failed, l.n);
    tv_names_free(l.names, l.n);
    assert_int_equal(failed, 0);
}

static void run_bench(const char *name, bool heavy)
{
    char path[4096], report[8192];
    if (heavy && SANITIZED) {
        printf("skipped: bench %s under a sanitizer build (too slow; run in release)\n", name);
        return;
    }
    snprintf(path, sizeof path, "%s/%s.json", BENCH_DIR, name);
    int bad = run_ref(path, JAVM_PROFILE_JAVM, JAVM_GAS_PIPELINE, false, report, sizeof report);
    if (bad)
        printf("FAIL bench %s (JAVM, pipeline)\n%s", name, report);
    else
        printf("reference: bench %s passed (JAVM, pipeline)\n", name);
    assert_int_equal(bad, 0);
}

static void test_bench_fib(void **state) { (void)state; run_bench("fib", true); }
static void test_bench_mem(void **state) { (void)state; run_bench("mem", true); }
static void test_bench_muldiv(void **state) { (void)state; run_bench("muldiv", true); }
static void test_bench_sieve(void **state) { (void)state; run_bench("sieve", false); }

int main(void)
{
    DIR *d = opendir(VECTOR_DIR);
    if (!d) {
        printf("FAIL: vector directory %s is absent (tests/vectors/ is part of the repository)\n",
               VECTOR_DIR);
        return 1;
    }
    closedir(d);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_bench_fib),
        cmocka_unit_test(test_bench_mem),
        cmocka_unit_test(test_bench_muldiv),
        cmocka_unit_test(test_bench_sieve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
