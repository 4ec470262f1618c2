/* SPDX-License-Identifier: MIT
 * tests/test_invoke_alloc.c — allocation failure along a full invocation path (issue 8, and
 * STYLE.md "fail every allocation in turn"): for n = 1, 2, ... the n-th allocation made by
 * javm_invoke fails, in a fresh world each time (in-memory store, cache, kernel assist, VM,
 * an image with a mapping and an initial Data, a spawned instance). The guest writes memory,
 * mints a Data (op 23), saves it (op 25), calls a child instance (op 26) and halts, so the
 * path crosses build_entry, the dispatcher, HOST_CALL, settle and the journal commit.
 * Every failure must return an error or a FAULT, leave blobs, refcounts, quotas and the
 * file map exactly as before, and leak nothing: the program counts live allocations, which
 * must return to their level before the world was built. Allocations are wrapped at link time
 * (tests/support/failalloc.h), so these failure paths also run under the sanitizers (issue 13
 * item 18). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "failalloc.h"
#include "tprog.h"

typedef struct world {
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
    javm_vm *vm;
    javm_hash inst;
} world;

static javm_hash put_free(javm_cache *c, javm_cap *cap)
{
    javm_hash h;
    assert_int_equal(javm_cache_put(c, cap, &h), JAVM_OK);
    javm_cap_free(cap);
    return h;
}

static void build(world *w)
{
    memset(w, 0, sizeof *w);
    assert_int_equal(javm_store_mem_new(&w->store), JAVM_OK);
    assert_int_equal(javm_cache_open(w->store, &w->cache), JAVM_OK);
    assert_int_equal(javm_ka_mem_new(&w->ka), JAVM_OK);
    assert_int_equal(javm_vm_new(&w->vm, 0), JAVM_OK);
    javm_cache *c = w->cache;
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    /* the child: φ7 = 42, halt */
    tprog p;
    tprog_init(&p);
    TI(&p, 51, 7, 42);
    TI(&p, 10, 0);
    javm_cap *ci;
    assert_int_equal(javm_image_new(p.code, (uint32_t)p.L, p.mask, (uint32_t)((p.L + 7) / 8), &ci), JAVM_OK);
    assert_int_equal(javm_image_add_endpoint(ci, &ep), JAVM_OK);
    javm_hash child_img = put_free(c, ci), child;
    assert_int_equal(javm_spawn(c, &child_img, 4, &child), JAVM_OK);
    /* the parent: memory write, mint, save, call the child in slot 2, halt */
    tprog_init(&p);
    TI(&p, 30, 3, 0x00, 0x11, 0x01, 7);   /* store_imm_u8 [0x11100] = 7 */
    TI(&p, 51, 7, 0x00, 0x00, 0x01);      /* φ7 = 0x10000 (the initial Data "hello") */
    TI(&p, 51, 8, 5);                     /* φ8 = 5 bytes */
    TI(&p, 51, 9, 0);                     /* φ9 = quota 0 */
    TI(&p, 51, 10, 3);                    /* φ10 = slot 3 */
    TI(&p, 10, 23);                       /* mint */
    TI(&p, 51, 7, 3);
    TI(&p, 51, 8, 0);
    TI(&p, 10, 25);                       /* save slot 3 under quota 0 */
    TI(&p, 51, 7, 2);
    TI(&p, 51, 8, 0);
    TI(&p, 10, 26);                       /* call the child */
    TI(&p, 10, 0);
    javm_cap *hello, *pi;
    assert_int_equal(javm_data_new((const uint8_t *)"hello", 5, &hello), JAVM_OK);
    javm_hash hh = put_free(c, hello);
    assert_int_equal(javm_image_new(p.code, (uint32_t)p.L, p.mask, (uint32_t)((p.L + 7) / 8), &pi), JAVM_OK);
    assert_int_equal(javm_image_add_endpoint(pi, &ep), JAVM_OK);
    javm_mapping m = { 0x10000, 0x2000, 1, 1, { 1 } };
    assert_int_equal(javm_image_add_mapping(pi, &m), JAVM_OK);
    assert_int_equal(javm_image_add_initial(pi, 1, &hh), JAVM_OK);
    assert_int_equal(javm_image_add_initial(pi, 2, &child), JAVM_OK);
    javm_hash parent_img = put_free(c, pi);
    assert_int_equal(javm_spawn(c, &parent_img, 4, &w->inst), JAVM_OK);
    w->ka->vtbl->storage_quota_set(w->ka, 0, 1000);
    assert_int_equal(javm_commit(c, w->ka), JAVM_OK);
}

static void teardown_world(world *w)
{
    javm_vm_free(w->vm);
    javm_ka_free(w->ka);
    javm_cache_close(w->cache);
    javm_store_close(w->store);
}

/* Blobs with their refcounts, in ascending hash order, folded into one checksum, and the
 * kernel assist's quota and file count. */
typedef struct snap {
    uint64_t sum, blobs, quota, next_file;
} snap;

static int snap_blob(void *arg, const javm_hash *h, const javm_cap *cap, uint32_t rc)
{
    (void)cap;
    snap *s = arg;
    for (int i = 0; i < 32; i++)
        s->sum = s->sum * 1099511628211u ^ h->b[i];
    s->sum = s->sum * 1099511628211u ^ rc;
    s->blobs++;
    return 0;
}

static snap take(world *w)
{
    snap s = { 14695981039346656037u, 0, 0, 0 };
    javm_cache_iter_blobs(w->cache, snap_blob, &s);
    s.quota = w->ka->vtbl->storage_quota_get(w->ka, 0);
    s.next_file = javm_ka_mem_next_file_id(w->ka);
    return s;
}

static void test_every_allocation(void **state)
{
    (void)state;
    long n, failures_checked = 0, absorbed = 0;
    for (n = 0;; n++) {
        long base = failalloc_live();
        world w;
        build(&w);
        snap before = take(&w);
        javm_call_result r;
        uint64_t args[4] = { 0 };
        failalloc_arm(n);
        int rc = javm_invoke(w.vm, w.cache, w.ka, &w.inst, 0, args, 100000, NULL, NULL, &r);
        failalloc_disarm();
        if (rc == JAVM_OK && r.kind == JAVM_RES_HALT) {
            /* The path completed: either allocation n was never reached, or its failure was
             * absorbed (e.g. the VM's memory pool not growing): the result must be right. */
            assert_int_equal(r.return_value, 42);
            snap after = take(&w);
            assert_int_equal(after.quota, 990); /* mint debits 5, save debits 5 */
            assert_int_equal(after.next_file, 2);
            javm_cache_decref(w.cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = r.post_instance });
            teardown_world(&w);
            if (failalloc_live() != base)
                fail_msg("allocation %ld: %ld allocations leaked", n, failalloc_live() - base);
            if (!failalloc_injected())
                break;
            absorbed++;
            continue;
        }
        if (!failalloc_injected())
            fail_msg("no allocation failed, yet invocation ended with status %d, kind %d, fault %d, trap %s",
                     rc, r.kind, r.fault_reason, javm_trap_name(r.trap));
        /* allocation n failed: an error or a FAULT, and nothing changed */
        if (rc == JAVM_OK) {
            if (r.kind != JAVM_RES_FAULT)
                fail_msg("allocation %ld failed but the invocation ended with kind %d", n, r.kind);
        } else {
            assert_true(rc == JAVM_ERR_ALLOC || rc == JAVM_ERR_MAP_FAILED);
        }
        snap after = take(&w);
        if (memcmp(&before, &after, sizeof before) != 0)
            fail_msg("allocation %ld: state changed (blobs %llu -> %llu, quota %llu -> %llu)", n,
                     (unsigned long long)before.blobs, (unsigned long long)after.blobs,
                     (unsigned long long)before.quota, (unsigned long long)after.quota);
        teardown_world(&w);
        if (failalloc_live() != base)
            fail_msg("allocation %ld: %ld allocations leaked", n, failalloc_live() - base);
        failures_checked++;
    }
    printf("allocation failure points along the invocation path: %ld (%ld failing cleanly, %ld "
           "absorbed with a correct result)\n", n, failures_checked, absorbed);
    assert_true(failures_checked > 20);
}

/* Issue 13 item 10: the persistent kernel assist's quota buffer lost its spare slot (the
 * best-effort growth after an embedder's quota set failed); a mint under a quota that is only
 * in the store must still be debited, not dropped silently. */
static void test_quota_debit_without_spare(void **state)
{
    (void)state;
    world w;
    build(&w);
    javm_ka_free(w.ka);
    assert_int_equal(javm_ka_store_new(w.store, &w.ka), JAVM_OK);
    w.ka->vtbl->storage_quota_set(w.ka, 0, 1000);
    assert_int_equal(javm_commit(w.cache, w.ka), JAVM_OK);
    javm_ka_free(w.ka);
    assert_int_equal(javm_ka_store_new(w.store, &w.ka), JAVM_OK); /* empty buffer */
    /* Fill the buffer's capacity; the growth after the last insertion fails: no spare left. */
    for (uint64_t id = 11; ; id++) {
        failalloc_arm(0);
        w.ka->vtbl->storage_quota_set(w.ka, id, 1);
        failalloc_disarm();
        if (failalloc_injected())
            break;
        assert_true(id < 1000);
    }
    javm_call_result r;
    uint64_t args[4] = { 0 };
    assert_int_equal(javm_invoke(w.vm, w.cache, w.ka, &w.inst, 0, args, 100000, NULL, NULL, &r),
                     JAVM_OK);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    assert_int_equal(w.ka->vtbl->storage_quota_get(w.ka, 0), 990); /* mint 5, save 5 */
    assert_int_equal(w.ka->vtbl->storage_quota_get(w.ka, 11), 1);
    javm_cache_decref(w.cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = r.post_instance });
    teardown_world(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_every_allocation),
                                        cmocka_unit_test(test_quota_debit_without_spare) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
