/* SPDX-License-Identifier: MIT
 * tests/test_threads.c — the threading contract of javm.h (issue 13 item 20): one prepared
 * program shared by every thread (runs, references taken and dropped concurrently), and one
 * VM + cache + in-memory store + kernel assist per thread, each invoking and committing in
 * parallel. Built also with ThreadSanitizer (`make tsan`, part of `make test`), where a data
 * race between the threads fails the run. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "javm.h"

#define THREADS 4
#define ROUNDS 40

/* fib(90) in φ7, then ecalli 0 (tools/cmd_demo.c) */
static const uint8_t fib_code[] = { 51, 7, 51, 8, 1, 51, 9, 90, 1, 200, 0x87, 10, 100, 0x87,
                                    100, 0xA8, 149, 0x99, 0xFF, 82, 0x09, 0xF6, 10, 0 };
static const uint8_t fib_mask[] = { 0x25, 0x53, 0x49 };
#define FIB90 UINT64_C(2880067194370816120)

typedef struct worker {
    javm_program *shared;
    int id;
    int failures;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    javm_memory *mem = NULL;
    javm_store *store = NULL;
    javm_cache *cache = NULL;
    javm_ka *ka = NULL;
    javm_vm *vm = NULL;
    if (javm_memory_new(&mem) || javm_store_mem_new(&store) || javm_cache_open(store, &cache) ||
        javm_ka_mem_new(&ka) || javm_vm_new(&vm, 0)) {
        w->failures++;
        goto done;
    }
    /* a counter instance of this thread: φ7 = [0x10000] + 1, stored back, halt */
    static const uint8_t code[] = { 0x3a, 0x07, 0x00, 0x00, 0x01, 0x95, 0x77, 0x01,
                                    0x3e, 0x07, 0x00, 0x00, 0x01, 0x0a, 0x00 };
    static const uint8_t mask[] = { 0x21, 0x21 };
    javm_cap *img;
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    javm_mapping m = { .start = 0x10000, .size = 8, .flags = 1 };
    javm_hash ih, inst;
    if (javm_image_new(code, sizeof code, mask, sizeof mask, &img) ||
        javm_image_add_endpoint(img, &ep) || javm_image_add_mapping(img, &m) ||
        javm_cache_put(cache, img, &ih) || javm_spawn(cache, &ih, 4, &inst)) {
        w->failures++;
        goto done;
    }
    javm_cap_free(img);
    for (int r = 0; r < ROUNDS; r++) {
        /* the shared program, with a reference of this thread's own */
        javm_program *p = javm_program_ref(w->shared);
        javm_state st;
        memset(&st, 0, sizeof st);
        st.mem = mem;
        st.gas = 100000;
        javm_exit ex = javm_run(p, &st, JAVM_GAS_PIPELINE, NULL, NULL);
        if (ex.reason != JAVM_EXIT_HOST_CALL || st.regs[7] != FIB90)
            w->failures++;
        javm_program_free(p);
        /* an invocation of this thread's instance, committed */
        javm_call_result res;
        if (javm_invoke(vm, cache, ka, &inst, 0, NULL, 1000, NULL, NULL, &res) ||
            res.kind != JAVM_RES_HALT || res.return_value != (uint64_t)r + 1) {
            w->failures++;
            break;
        }
        javm_key k = javm_key_of_hash(&inst);
        javm_cache_decref(cache, &k);
        inst = res.post_instance;
        if (javm_commit(cache, ka))
            w->failures++;
    }
done:
    javm_vm_free(vm);
    javm_ka_free(ka);
    javm_cache_close(cache);
    javm_store_close(store);
    javm_memory_free(mem);
    return NULL;
}

static void test_parallel_units(void **state)
{
    (void)state;
    javm_program *shared;
    assert_int_equal(javm_prepare(fib_code, sizeof fib_code, fib_mask, NULL, 0, NULL, &shared),
                     JAVM_OK);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ shared, i, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    javm_program_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_parallel_units) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
