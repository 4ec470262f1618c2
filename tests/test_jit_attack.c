/* SPDX-License-Identifier: MIT
 * tests/test_jit_attack.c — hostile programs on the JIT, each run on the interpreter and on the
 * JIT from the same state with every observable compared (tests/support/jitcmp.h), under
 * JAVM_JIT_CPU unset and =baseline (the program is prepared afresh after each change: compiled
 * code belongs to the program). Also the regression tests of JIT bugs found by the
 * differential tests. Skipped (77) where the build has no JIT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jitcmp.h"
#include "tprog.h"

#define MAXU UINT64_MAX

/* Prepares p under profile prof, runs it on both engines from (regs, pc 0, gas) with o, and
 * does so twice: every CPU feature, then JAVM_JIT_CPU=baseline. r receives the baseline run. */
static void both_cpus(const tprog *p, javm_profile prof, const javm_state *init, const jc_opts *o,
                      jc_result *r)
{
    for (int baseline = 0; baseline < 2; baseline++) {
        jc_set_baseline(baseline);
        javm_program *prog = tprog_prepare(p, prof, 25);
        jc_run(prog, init, o, r);
        javm_program_free(prog);
    }
    jc_set_baseline(false);
}

static javm_state state_with(uint64_t gas)
{
    javm_state st;
    memset(&st, 0, sizeof st);
    st.gas = (int64_t)gas;
    return st;
}

/* ---- regressions ------------------------------------------------------------------------- */

/* Regression (found by test_differential --jit, 947 of 100,000 programs): the portable popcount
 * (JAVM_JIT_CPU=baseline, no POPCNT) addressed its four [rip + disp32] constants as if every
 * instruction ended 4 bytes after its own start, so it read 3 or 4 bytes past each constant
 * and counted wrong (count_set_bits_64 of 7 gave 0xa8). */
static void test_regress_portable_popcount(void **state)
{
    (void)state;
    static const uint64_t values[] = {
        0, 1, 2, 3, 7, 0x80, 0xFF, 0x8000000000000000u, 0x5555555555555555u, 0xAAAAAAAAAAAAAAAAu,
        0xFFFFFFFF00000000u, 0x00000000FFFFFFFFu, 0xFFFFFFFF00000001u, MAXU, 0x0123456789ABCDEFu,
    };
    for (unsigned op = 102; op <= 103; op++) {
        for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
            tprog p;
            tprog_init(&p);
            TI(&p, (uint8_t)op, 0x89); /* r9 = popcount(r8) */
            TI(&p, 0);
            javm_state init = state_with(100);
            init.regs[8] = values[k];
            jc_opts o = { .model = JAVM_GAS_PIPELINE };
            jc_result r;
            both_cpus(&p, JAVM_PROFILE_JAVM, &init, &o, &r);
            uint64_t v = op == 102 ? values[k] : (uint32_t)values[k];
            assert_int_equal(r.st.regs[9], (uint64_t)__builtin_popcountll(v));
        }
    }
}

int main(void)
{
    if (!javm_jit_available()) {
        printf("test_jit_attack: this build has no JIT; skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regress_portable_popcount),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
