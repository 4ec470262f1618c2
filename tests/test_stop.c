/* SPDX-License-Identifier: MIT
 * tests/test_stop.c — stopping a run (javm_stop, javm_state.stop): a request made before the
 * run, from another thread, or by a deadline ends it with JAVM_EXIT_STOPPED at a block start,
 * and the state runs on from there as if it had never stopped; a run with a stop that never
 * fires is cut into gas slices, which must change nothing: every vector and benchmark
 * program gives its expected results with slices of one gas upward, and a handler's
 * EXIT(OutOfGas) stays final. Runs on the engine $JAVM_ENGINE selects (ctest: both). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sanitizer.h"
#include "exec/exec.h"
#include "tprog.h"
#include "vector.h"

/* ThreadSanitizer runs this file for its threaded tests; the long single-threaded sweeps
 * (vectors, benchmark programs) run in the release and ASan builds. */
#define TSAN_BUILD TESTS_TSAN
#define BENCH_PROGRAMS (TESTS_TSAN ? 0 : TESTS_ASAN ? 1 : 4)

/* r7 counts up forever: one block of two instructions at pc 0. */
static const char loop_src[] = "top:\nadd_imm_64 r7, r7, 1\njump top\n";

static javm_state fresh(int64_t gas, javm_memory *mem)
{
    javm_state st;
    memset(&st, 0, sizeof st);
    st.gas = gas;
    st.mem = mem;
    return st;
}

static javm_stop *new_stop(int64_t first_slice)
{
    javm_stop *s = NULL;
    assert_int_equal(javm_stop_new(&s), JAVM_OK);
    s->first_slice = first_slice;
    return s;
}

static void assert_same_state(const javm_state *a, const javm_state *b)
{
    assert_memory_equal(a->regs, b->regs, sizeof a->regs);
    assert_int_equal(a->pc, b->pc);
    assert_int_equal(a->gas, b->gas);
    assert_int_equal(a->steps, b->steps);
}

static void test_api(void **state)
{
    (void)state;
    assert_int_equal(javm_stop_new(NULL), JAVM_ERR_INVALID_ARG);
    javm_stop *s = new_stop(0);
    assert_false(javm_stop_fired(s));
    javm_stop_request(s);
    assert_true(javm_stop_fired(s));
    javm_stop_reset(s);
    assert_false(javm_stop_fired(s));
    javm_stop_set_timeout(s, 1); /* one nanosecond: passed by the time we look */
    struct timespec ts = { 0, 1000000 };
    nanosleep(&ts, NULL);
    assert_true(javm_stop_fired(s));
    javm_stop_set_timeout(s, 0); /* removed */
    assert_false(javm_stop_fired(s));
    javm_stop_set_timeout(s, UINT64_MAX); /* saturates: never */
    assert_false(javm_stop_fired(s));
    javm_stop_free(s);
    javm_stop_free(NULL);
    javm_stop_request(NULL);
    assert_false(javm_stop_fired(NULL));
    assert_string_equal(javm_exit_name(JAVM_EXIT_STOPPED), "stopped");
}

/* Requested before the run: nothing runs, the state is untouched. */
static void test_request_before_run(void **state)
{
    (void)state;
    javm_program *p = tprog_prepare_asm(loop_src, JAVM_PROFILE_JAVM);
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    javm_stop *s = new_stop(0);
    javm_stop_request(s);
    javm_state st = fresh(1000, mem), before = st;
    st.stop = s;
    javm_exit ex = javm_run(p, &st, JAVM_GAS_PIPELINE, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_STOPPED);
    assert_same_state(&st, &before);
    javm_stop_free(s);
    javm_memory_free(mem);
    javm_program_free(p);
}

/* A deadline stops an endless loop; the stopped state then runs on exactly like a state that
 * never stopped: one more run with finite gas on a copy without a stop, one with a stop that
 * slices every gas unit, agree. */
static void test_deadline_and_resume(void **state)
{
    (void)state;
    javm_program *p = tprog_prepare_asm(loop_src, JAVM_PROFILE_JAVM);
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    javm_stop *s = new_stop(0);
    javm_stop_set_timeout(s, 20 * 1000000u);
    javm_state st = fresh(INT64_MAX, mem);
    st.stop = s;
    javm_exit ex = javm_run(p, &st, JAVM_GAS_PIPELINE, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_STOPPED);
    assert_int_equal(st.pc, 0); /* the loop's only block start */
    assert_true(st.regs[7] > 0);
    assert_int_equal(st.steps, st.regs[7] * 2); /* whole blocks only */
    assert_true(st.gas < INT64_MAX);
    /* resume both ways with 1000 gas */
    javm_state a = st, b = st;
    a.stop = NULL;
    a.gas = b.gas = 1000;
    javm_stop *every = new_stop(1);
    b.stop = every;
    javm_exit ea = javm_run(p, &a, JAVM_GAS_PIPELINE, NULL, NULL);
    javm_exit eb = javm_run(p, &b, JAVM_GAS_PIPELINE, NULL, NULL);
    assert_int_equal(ea.reason, JAVM_EXIT_OUT_OF_GAS);
    assert_int_equal(eb.reason, JAVM_EXIT_OUT_OF_GAS);
    assert_same_state(&a, &b);
    assert_true(a.regs[7] > st.regs[7]);
    javm_stop_free(every);
    javm_stop_free(s);
    javm_memory_free(mem);
    javm_program_free(p);
}

typedef struct requester {
    javm_stop *stop;
    int ms;
} requester;

static void *request_later(void *arg)
{
    requester *r = arg;
    struct timespec ts = { 0, (long)r->ms * 1000000L };
    nanosleep(&ts, NULL);
    javm_stop_request(r->stop);
    return NULL;
}

/* Another thread asks; two runs on two threads share the stop and both end. */
static void *run_loop(void *arg)
{
    javm_stop *s = arg;
    javm_program *p = tprog_prepare_asm(loop_src, JAVM_PROFILE_JAVM);
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    javm_state st = fresh(INT64_MAX, mem);
    st.stop = s;
    javm_exit ex = javm_run(p, &st, JAVM_GAS_PIPELINE, NULL, NULL);
    javm_memory_free(mem);
    javm_program_free(p);
    return (void *)(intptr_t)ex.reason;
}

static void test_request_from_another_thread(void **state)
{
    (void)state;
    javm_stop *s = new_stop(0);
    requester r = { s, 30 };
    pthread_t t1, t2, tr;
    assert_int_equal(pthread_create(&t1, NULL, run_loop, s), 0);
    assert_int_equal(pthread_create(&t2, NULL, run_loop, s), 0);
    assert_int_equal(pthread_create(&tr, NULL, request_later, &r), 0);
    void *r1, *r2;
    assert_int_equal(pthread_join(t1, &r1), 0);
    assert_int_equal(pthread_join(t2, &r2), 0);
    assert_int_equal(pthread_join(tr, NULL), 0);
    assert_int_equal((int)(intptr_t)r1, JAVM_EXIT_STOPPED);
    assert_int_equal((int)(intptr_t)r2, JAVM_EXIT_STOPPED);
    javm_stop_free(s);
}

/* Every conformance vector with slices of 1, 7 and 2^14 gas: all 307 still pass. */
static void test_vectors_sliced(void **state)
{
    if (TSAN_BUILD)
        skip();
    (void)state;
    char **names;
    size_t n;
    assert_int_equal(tv_list_json(JAVM_VECTORS_DIR, &names, &n), JAVM_OK);
    assert_int_equal(n, 307);
    static const int64_t slices[] = { 1, 7, 1 << 14 };
    char path[4096], err[512], report[8192];
    size_t failed = 0;
    for (size_t k = 0; k < 3; k++) {
        javm_stop *s = new_stop(slices[k]);
        for (size_t i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/%s", JAVM_VECTORS_DIR, names[i]);
            tv_vector v;
            assert_int_equal(tv_load(path, &v, err, sizeof err), JAVM_OK);
            if (tv_conform_with(&v, JAVM_ENGINE_AUTO, JAVM_PROFILE_GP, JAVM_GAS_INSTR, s, report,
                                sizeof report)) {
                printf("FAIL (slice %lld) %s\n%s", (long long)slices[k], names[i], report);
                failed++;
            }
            tv_free(&v);
        }
        javm_stop_free(s);
    }
    tv_names_free(names, n);
    assert_int_equal(failed, 0);
}

/* The benchmark programs (14M-55M instructions, pipeline gas) with slices growing from one
 * gas: registers, pc, gas, instruction count and memory hash as expected. */
static void test_bench_programs_sliced(void **state)
{
    (void)state;
    static const char *progs[] = { "sieve", "fib", "mem", "muldiv" };
    char path[4096], err[512], report[8192];
    for (int i = 0; i < BENCH_PROGRAMS; i++) {
        snprintf(path, sizeof path, "%s/%s.json", JAVM_BENCH_PROGRAMS_DIR, progs[i]);
        tv_vector v;
        assert_int_equal(tv_load(path, &v, err, sizeof err), JAVM_OK);
        javm_stop *s = new_stop(1);
        int bad = tv_conform_with(&v, JAVM_ENGINE_AUTO, JAVM_PROFILE_JAVM, JAVM_GAS_PIPELINE, s,
                                  report, sizeof report);
        if (bad)
            fail_msg("%s sliced:\n%s", progs[i], report);
        javm_stop_free(s);
        tv_free(&v);
    }
}

/* A handler that counts calls, and answers EXIT(OutOfGas) at the call numbered exit_at. */
typedef struct counter {
    unsigned calls, exit_at;
} counter;

static javm_answer count_calls(void *user, javm_call_kind kind, uint32_t imm,
                               uint64_t regs[JAVM_NUM_REGS], javm_memory *mem, int64_t *gas)
{
    (void)kind, (void)imm, (void)mem;
    counter *c = user;
    regs[8] += ++c->calls;
    /* The handler sees the run's whole gas, not a slice of it: it reports the gas it was
     * given and charges more than a first slice holds. */
    regs[9] ^= (uint64_t)*gas;
    if (*gas < 50000)
        return (javm_answer){ false, { JAVM_EXIT_OUT_OF_GAS, 0 } };
    *gas -= 50000;
    if (c->calls == c->exit_at)
        return (javm_answer){ false, { JAVM_EXIT_OUT_OF_GAS, 0 } };
    return (javm_answer){ true, { JAVM_EXIT_HALT, 0 } };
}

/* Handler calls inside a sliced run: the same calls, gas seen by the handler and state as
 * unsliced; an EXIT(OutOfGas) answer ends the run even though gas is left in reserve (a slicer that took it for its own
 * slice running out would run on: the deadline then ends the test with STOPPED). */
static void test_handler_under_slices(void **state)
{
    (void)state;
    javm_program *p = tprog_prepare_asm("top:\nadd_imm_64 r7, r7, 1\necalli 5\n"
                                        "branch_ne_imm r7, 5000, top\ntrap\n",
                                        JAVM_PROFILE_JAVM);
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    for (unsigned exit_at = 0; exit_at <= 3000; exit_at += 3000) {
        counter ca = { 0, exit_at }, cb = { 0, exit_at };
        javm_state a = fresh(1 << 30, mem), b = a;
        javm_stop *s = new_stop(1);
        javm_stop_set_timeout(s, 5000000000u);
        b.stop = s;
        javm_exit ea = javm_run(p, &a, JAVM_GAS_PIPELINE, count_calls, &ca);
        javm_exit eb = javm_run(p, &b, JAVM_GAS_PIPELINE, count_calls, &cb);
        assert_int_equal(ea.reason, exit_at ? JAVM_EXIT_OUT_OF_GAS : JAVM_EXIT_TRAP);
        assert_int_equal(eb.reason, ea.reason);
        assert_int_equal(cb.calls, ca.calls);
        assert_int_equal(ca.calls, exit_at ? exit_at : 5000);
        assert_same_state(&a, &b);
        javm_stop_free(s);
    }
    javm_memory_free(mem);
    javm_program_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_request_before_run),
        cmocka_unit_test(test_deadline_and_resume),
        cmocka_unit_test(test_request_from_another_thread),
        cmocka_unit_test(test_vectors_sliced),
        cmocka_unit_test(test_bench_programs_sliced),
        cmocka_unit_test(test_handler_under_slices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
