/* SPDX-License-Identifier: MIT
 * tests/test_engine.c — the engine switch of the public API: names and parsing, what AUTO
 * resolves to with and without $JAVM_ENGINE, javm_state.ran, javm_program_compile and
 * javm_program_jit_info statuses, javm_vm_set_engine's argument check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tprog.h"

static void test_names_and_parse(void **state)
{
    (void)state;
    static const javm_engine all[3] = { JAVM_ENGINE_AUTO, JAVM_ENGINE_INTERP, JAVM_ENGINE_JIT };
    for (int k = 0; k < 3; k++) {
        javm_engine e = (javm_engine)99;
        assert_int_equal(javm_engine_parse(javm_engine_name(all[k]), &e), JAVM_OK);
        assert_int_equal(e, all[k]);
    }
    javm_engine e = JAVM_ENGINE_JIT;
    assert_int_equal(javm_engine_parse("JIT", &e), JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_engine_parse("", &e), JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_engine_parse(NULL, &e), JAVM_ERR_INVALID_ARG);
    assert_int_equal(e, JAVM_ENGINE_JIT); /* unchanged on failure */
    assert_string_equal(javm_engine_name((javm_engine)7), "?");
}

static void test_resolve(void **state)
{
    (void)state;
    javm_engine jit = javm_jit_available() ? JAVM_ENGINE_JIT : JAVM_ENGINE_INTERP;
    assert_int_equal(setenv("JAVM_ENGINE", "interp", 1), 0);
    assert_int_equal(javm_engine_resolve(JAVM_ENGINE_AUTO), JAVM_ENGINE_INTERP);
    assert_int_equal(javm_engine_resolve(JAVM_ENGINE_JIT), jit); /* explicit wins */
    assert_int_equal(setenv("JAVM_ENGINE", "jit", 1), 0);
    assert_int_equal(javm_engine_resolve(JAVM_ENGINE_AUTO), jit);
    assert_int_equal(javm_engine_resolve(JAVM_ENGINE_INTERP), JAVM_ENGINE_INTERP);
    assert_int_equal(setenv("JAVM_ENGINE", "nonsense", 1), 0);
    assert_int_equal(javm_engine_resolve(JAVM_ENGINE_AUTO), jit); /* ignored: the default */
    assert_int_equal(unsetenv("JAVM_ENGINE"), 0);
    assert_int_equal(javm_engine_resolve(JAVM_ENGINE_AUTO), jit);
}

/* r7 = 5; trap */
static javm_program *small(void)
{
    tprog p;
    tprog_init(&p);
    TI(&p, 51, 7, 5);
    TI(&p, 0);
    return tprog_prepare(&p, JAVM_PROFILE_JAVM, 25);
}

static void test_ran_and_compile_status(void **state)
{
    (void)state;
    javm_program *prog = small();
    size_t bytes = 1;
    uint64_t ns = 1;
    if (javm_jit_available())
        assert_int_equal(javm_program_jit_info(prog, JAVM_GAS_PIPELINE, &bytes, &ns), JAVM_ERR_NOT_FOUND);
    else
        assert_int_equal(javm_program_jit_info(prog, JAVM_GAS_PIPELINE, &bytes, &ns), JAVM_ERR_JIT_UNSUPPORTED);
    assert_int_equal(javm_program_compile(NULL, JAVM_GAS_PIPELINE), JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_program_compile(prog, (javm_gas_model)1000), JAVM_ERR_INVALID_ARG);
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    static const javm_engine engines[2] = { JAVM_ENGINE_INTERP, JAVM_ENGINE_JIT };
    for (int k = 0; k < 2; k++) {
        javm_state st;
        memset(&st, 0, sizeof st);
        st.gas = 100;
        st.mem = mem;
        st.engine = engines[k];
        javm_exit ex = javm_run(prog, &st, JAVM_GAS_PIPELINE, NULL, NULL);
        assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
        assert_int_equal(st.regs[7], 5);
        assert_int_equal(st.steps, 2);
        assert_int_equal(st.ran, k == 1 && javm_jit_available() ? JAVM_ENGINE_JIT : JAVM_ENGINE_INTERP);
    }
    if (javm_jit_available()) {
        /* the JIT run compiled it: info now answers, compile returns at once */
        assert_int_equal(javm_program_jit_info(prog, JAVM_GAS_PIPELINE, &bytes, &ns), JAVM_OK);
        assert_true(bytes > 0);
        assert_int_equal(javm_program_compile(prog, JAVM_GAS_PIPELINE), JAVM_OK);
        assert_int_equal(javm_program_jit_info(prog, JAVM_GAS_INSTR, NULL, NULL), JAVM_ERR_NOT_FOUND);
        assert_int_equal(javm_program_compile(prog, JAVM_GAS_INSTR), JAVM_OK);
        assert_int_equal(javm_program_jit_info(prog, JAVM_GAS_INSTR, NULL, NULL), JAVM_OK);
    } else {
        assert_int_equal(javm_program_compile(prog, JAVM_GAS_PIPELINE), JAVM_ERR_JIT_UNSUPPORTED);
    }
    javm_memory_free(mem);
    javm_program_free(prog);
}

static void test_vm_set_engine(void **state)
{
    (void)state;
    javm_vm *vm;
    assert_int_equal(javm_vm_new(&vm, 0), JAVM_OK);
    assert_int_equal(javm_vm_set_engine(vm, JAVM_ENGINE_INTERP), JAVM_OK);
    assert_int_equal(javm_vm_set_engine(vm, JAVM_ENGINE_JIT), JAVM_OK);
    assert_int_equal(javm_vm_set_engine(vm, JAVM_ENGINE_AUTO), JAVM_OK);
    assert_int_equal(javm_vm_set_engine(vm, (javm_engine)3), JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_vm_set_engine(NULL, JAVM_ENGINE_JIT), JAVM_ERR_INVALID_ARG);
    javm_vm_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_parse),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_ran_and_compile_status),
        cmocka_unit_test(test_vm_set_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
