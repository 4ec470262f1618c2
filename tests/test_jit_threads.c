/* SPDX-License-Identifier: MIT
 * tests/test_jit_threads.c — compiled code belongs to the program and is shared by threads:
 * four threads run one fresh program at once (so they race to compile it: one result is
 * published, the others are freed), each with its own state and memory, on the JIT and with a
 * handler; every result must equal the interpreter's. Repeated on many fresh programs. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tprog.h"

enum { THREADS = 4, ROUNDS = 40 };

static javm_answer triple(void *user, javm_call_kind kind, uint32_t imm, uint64_t regs[JAVM_NUM_REGS],
                          javm_memory *mem, int64_t *gas)
{
    (void)user; (void)kind; (void)mem; (void)gas;
    regs[10] = regs[7] * 3 + imm;
    return (javm_answer){ .cont = true };
}

/* r7 = sum of 1..n stored to [0x10000] each step, then ecalli 1 (r10 = 3 r7 + 1), trap. */
static void build(tprog *p, uint8_t n)
{
    tprog_init(p);
    TI(p, 51, 7, 0);
    TI(p, 51, 8, n);
    TI(p, 51, 9, 0x00, 0x00, 0x01);
    TI(p, 1);                                   /* fallthrough: the loop head is a block start */
    uint32_t head = TI(p, 200, 7 | 8 << 4, 7);  /* r7 += r8 */
    TI(p, 123, 7 | 9 << 4);                     /* [r9] = r7 */
    TI(p, 149, 8 | 8 << 4, 0xFF);               /* r8 -= 1 */
    uint32_t br = (uint32_t)p->L;
    TI(p, 82, 8 | 1 << 4, 0, (uint8_t)(int8_t)(head - br)); /* branch_ne_imm r8, 0, head */
    TI(p, 10, 1);
    TI(p, 0);
}

typedef struct result {
    javm_exit ex;
    javm_state st;
    uint64_t mem;
} result;

static void run(const javm_program *prog, javm_engine e, result *r)
{
    javm_memory *mem;
    if (javm_memory_new(&mem) != JAVM_OK) {
        r->ex.reason = JAVM_EXIT_TRAP + 100; /* marks a failure to set up */
        return;
    }
    javm_memory_set_perm(mem, 0x10000, 4096, JAVM_PERM_RW);
    memset(&r->st, 0, sizeof r->st);
    r->st.gas = 100000;
    r->st.mem = mem;
    r->st.engine = e;
    r->ex = javm_run(prog, &r->st, JAVM_GAS_PIPELINE, triple, NULL);
    javm_memory_read(mem, 0x10000, 8, &r->mem);
    r->st.mem = NULL;
    javm_memory_free(mem);
}

typedef struct job {
    const javm_program *prog;
    pthread_barrier_t *go;
    result r;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    pthread_barrier_wait(j->go);
    run(j->prog, JAVM_ENGINE_JIT, &j->r);
    return NULL;
}

static void test_threads_share_compiled_code(void **state)
{
    (void)state;
    tprog p;
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, THREADS), 0);
    for (int round = 0; round < ROUNDS; round++) {
        build(&p, (uint8_t)(50 + round));
        javm_program *prog = tprog_prepare(&p, JAVM_PROFILE_JAVM, 25);
        result want;
        run(prog, JAVM_ENGINE_INTERP, &want);
        assert_int_equal(want.ex.reason, JAVM_EXIT_TRAP);
        job jobs[THREADS];
        pthread_t th[THREADS];
        for (int t = 0; t < THREADS; t++) {
            jobs[t].prog = prog;
            jobs[t].go = &go;
            assert_int_equal(pthread_create(&th[t], NULL, worker, &jobs[t]), 0);
        }
        for (int t = 0; t < THREADS; t++) {
            assert_int_equal(pthread_join(th[t], NULL), 0);
            const result *g = &jobs[t].r;
            assert_int_equal(g->ex.reason, want.ex.reason);
            assert_int_equal(g->ex.arg, want.ex.arg);
            assert_int_equal(g->st.pc, want.st.pc);
            assert_memory_equal(g->st.regs, want.st.regs, sizeof want.st.regs);
            assert_int_equal(g->st.gas, want.st.gas);
            assert_int_equal(g->st.steps, want.st.steps);
            assert_int_equal(g->mem, want.mem);
            if (javm_jit_available())
                assert_int_equal(g->st.ran, JAVM_ENGINE_JIT);
        }
        javm_program_free(prog);
    }
    pthread_barrier_destroy(&go);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_share_compiled_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
