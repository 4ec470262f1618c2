/* SPDX-License-Identifier: MIT
 * tests/test_store_faults.c — issue 13 item 8: a store whose reads fail (a fault-injecting
 * wrapper around the in-memory store) is reported as a store failure, never as an absent
 * cap, file or quota: ops trap CACHE (not NOT_FOUND, UNKNOWN_FILE or QUOTA), build_entry
 * returns the store's status (not INSTANCE_NOT_FOUND), `quota` reads report the failure; and
 * (item 9) an invocation that fails after the guest halted (settle, commit) returns a result
 * that is a fault, not a HALT. Runs on the in-memory store and, as test_store_faults_rados,
 * wrapping the RADOS store (tests/support/test_store.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cap_fixtures.h"
#include "fault_store.h"
#include "test_store.h"

typedef struct env {
    fault_store *fs;
    javm_cache *cache;
    javm_ka *ka;
    javm_vm *vm;
    javm_hash inst, data;
    char loc[TSTORE_LOC];
} env;

/* Two endpoints, each ending in ecalli 0 and a fallthrough:
 *   0: φ7 = 1, φ8 = 6, HOST_OPEN (file 1 names the Data "payload", which nothing loads first)
 *   1: the same, then φ7 = 6, φ8 = 0, HOST_SAVE (slot 6 under quota 0) */
static const uint8_t code[] = {
    0x33, 0x07, 0x01, 0x33, 0x08, 0x06, 0x0a, 24, 0x0a, 0x00, 0x01,
    0x33, 0x07, 0x01, 0x33, 0x08, 0x06, 0x0a, 24, 0x33, 0x07, 0x06, 0x33, 0x08, 0x00, 0x0a, 25,
    0x0a, 0x00, 0x01,
};
static const uint32_t starts[] = { 0, 3, 6, 8, 10, 11, 14, 17, 19, 22, 25, 27, 29 };

static int setup(void **state)
{
    env *E = calloc(1, sizeof *E);
    javm_store *mem;
    tstore_make(E->loc);
    assert_int_equal(tstore_open(E->loc, false, &mem), JAVM_OK);
    E->fs = fault_store_new(mem);
    javm_store *s = &E->fs->base;
    javm_cache *c;
    javm_ka *ka;
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_ka_store_new(s, &ka), JAVM_OK);
    javm_cap *d = data_str("payload");
    assert_int_equal(javm_cache_put(c, d, &E->data), JAVM_OK); /* this hold keeps it */
    javm_cap_free(d);
    uint8_t mask[(sizeof code + 7) / 8] = { 0 };
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        mask[starts[i] / 8] |= (uint8_t)(1u << (starts[i] % 8));
    javm_cap *img;
    assert_int_equal(javm_image_new(code, sizeof code, mask, sizeof mask, &img), JAVM_OK);
    uint64_t pcs[2] = { 0, 11 };
    for (int i = 0; i < 2; i++) {
        javm_endpoint ep;
        memset(&ep, 0, sizeof ep);
        ep.entry_pc = pcs[i];
        assert_int_equal(javm_image_add_endpoint(img, &ep), JAVM_OK);
    }
    javm_hash ih = put_free(c, img);
    assert_int_equal(javm_spawn(c, &ih, 4, &E->inst), JAVM_OK);
    ka->vtbl->storage_quota_set(ka, 0, 100);
    uint64_t id;
    assert_int_equal(ka->vtbl->host_save(ka, &E->data, 0, 0, &id), JAVM_OK);
    assert_int_equal(id, 1);
    assert_int_equal(javm_commit(c, ka), JAVM_OK);
    javm_ka_free(ka);
    javm_cache_close(c);
    /* A fresh cache and kernel assist: nothing resident, everything read from the store. */
    assert_int_equal(javm_cache_open(s, &E->cache), JAVM_OK);
    assert_int_equal(javm_ka_store_new(s, &E->ka), JAVM_OK);
    assert_int_equal(javm_vm_new(&E->vm, 0), JAVM_OK);
    *state = E;
    return 0;
}

static int teardown(void **state)
{
    env *E = *state;
    javm_vm_free(E->vm);
    javm_ka_free(E->ka);
    javm_cache_close(E->cache);
    javm_store_close(&E->fs->base);
    tstore_remove(E->loc);
    free(E);
    return 0;
}

static javm_call_result run(env *E, uint32_t endpoint, int want_rc)
{
    javm_call_result r;
    memset(&r, 0, sizeof r);
    assert_int_equal(javm_invoke(E->vm, E->cache, E->ka, &E->inst, endpoint, NULL, 1000, NULL,
                                 NULL, &r),
                     want_rc);
    return r;
}

static void assert_trap(javm_call_result r, javm_trap t)
{
    assert_int_equal(r.kind, JAVM_RES_FAULT);
    assert_int_equal(r.fault_reason, JAVM_EXIT_TRAP);
    assert_string_equal(javm_trap_name(r.trap), javm_trap_name(t));
}

/* Without faults both endpoints halt. */
static void test_no_fault(void **state)
{
    env *E = *state;
    assert_int_equal(run(E, 0, JAVM_OK).kind, JAVM_RES_HALT);
    javm_call_result r = run(E, 1, JAVM_OK);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    assert_int_equal(r.return_value, 2); /* the new file id */
}

static void test_op_lookup_fails(void **state)
{
    env *E = *state;
    fault_store_fail(E->fs, JAVM_TABLE_BLOBS, E->data.b, 32, JAVM_ERR_STORE);
    assert_trap(run(E, 0, JAVM_OK), JAVM_TRAP_CACHE); /* was NOT_FOUND */
    assert_true(E->fs->failed > 0);
}

static void test_build_entry_lookup_fails(void **state)
{
    env *E = *state;
    fault_store_fail(E->fs, JAVM_TABLE_BLOBS, E->inst.b, 32, JAVM_ERR_STORE_CORRUPT);
    run(E, 0, JAVM_ERR_STORE_CORRUPT); /* was INSTANCE_NOT_FOUND */
    fault_store_fail(E->fs, JAVM_TABLE_BLOBS, NULL, 0, JAVM_ERR_STORE);
    run(E, 0, JAVM_ERR_STORE);
    javm_hash h;
    assert_int_equal(javm_spawn(E->cache, &E->inst, 4, &h), JAVM_ERR_STORE); /* not IMAGE_NOT_FOUND */
    javm_key k = javm_key_of_hash(&E->inst);
    uint32_t rc;
    assert_int_equal(javm_cache_refcount(E->cache, &k, &rc), JAVM_ERR_STORE);
}

/* Item 9: whatever fails, the result is a FAULT(TRAP), never the zeroed HALT. */
static void test_error_results_are_faults(void **state)
{
    env *E = *state;
    javm_call_result r = run(E, 0, JAVM_OK); /* warms the cache */
    assert_int_equal(r.kind, JAVM_RES_HALT);
    javm_key k = javm_key_of_hash(&r.post_instance);
    assert_int_equal(javm_cache_decref(E->cache, &k), JAVM_OK);
    assert_int_equal(javm_commit(E->cache, E->ka), JAVM_OK);
    /* Everything build_entry needs is resident; settle's puts of the new root CNode look in
     * the store and fail there. */
    fault_store_fail(E->fs, JAVM_TABLE_BLOBS, NULL, 0, JAVM_ERR_STORE);
    r = run(E, 0, JAVM_ERR_STORE);
    assert_int_equal(r.kind, JAVM_RES_FAULT);
    assert_int_equal(r.fault_reason, JAVM_EXIT_TRAP);
    assert_string_equal(javm_trap_name(r.trap), "CACHE");
    assert_false(r.has_slot0);
    /* what the guest ran (pvm.md §7.2, caps.md §7.3): load_imm x2 + ecalli 24 done at cycle
     * 100 (97) + the op (10), ecalli 0 (97) + the op (10) */
    assert_int_equal(r.gas_used, 97 + 10 + 97 + 10);
    fault_store_fail(E->fs, -1, NULL, 0, 0);
    /* build_entry's failures too */
    javm_hash absent = fill(0x42);
    assert_int_equal(javm_invoke(E->vm, E->cache, E->ka, &absent, 0, NULL, 1000, NULL, NULL, &r),
                     JAVM_ERR_INSTANCE_NOT_FOUND);
    assert_int_equal(r.kind, JAVM_RES_FAULT);
    assert_string_equal(javm_trap_name(r.trap), "NOT_FOUND");
    assert_int_equal(javm_invoke(E->vm, E->cache, E->ka, &E->inst, 9, NULL, 1000, NULL, NULL, &r),
                     JAVM_ERR_NO_SUCH_ENDPOINT);
    assert_int_equal(r.kind, JAVM_RES_FAULT);
    assert_string_equal(javm_trap_name(r.trap), "NO_ENDPOINT");
}

/* Item 12: one flipped bit in a stored blob is detected when the blob is loaded (the store is
 * content addressed), named in the store's message, and never used. */
static void test_flipped_bit_detected(void **state)
{
    env *E = *state;
    javm_store *s = E->fs->inner;
    const uint8_t *val;
    size_t vlen;
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_BLOBS, E->data.b, 32, &val, &vlen), JAVM_OK);
    uint8_t rec[64];
    assert_true(vlen <= sizeof rec);
    memcpy(rec, val, vlen);
    rec[vlen - 1] ^= 1; /* "payload" -> "payloae" */
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_BLOBS, E->data.b, 32, rec, vlen), JAVM_OK);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
    if (tstore_is_rados()) {
        /* scale-out.md §2: a blob is immutable (an existing hash is "exists", success), so
         * the flipped record never lands: the blob loads intact. The flipped record under a
         * hash it does not match, named by file 1, is what the check must catch. */
        const javm_cap *d = javm_cache_get_hash(E->cache, &E->data);
        assert_non_null(d);
        assert_memory_equal(d->data.bytes, "payload", 7);
        javm_cache_evict_clean(E->cache);
        E->data = fill(0xb7);
        uint8_t one[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
        assert_int_equal(s->vtbl->begin(s), JAVM_OK);
        assert_int_equal(s->vtbl->put(s, JAVM_TABLE_BLOBS, E->data.b, 32, rec, vlen), JAVM_OK);
        assert_int_equal(s->vtbl->put(s, JAVM_TABLE_FILES, one, 8, E->data.b, 32), JAVM_OK);
        assert_int_equal(s->vtbl->commit(s), JAVM_OK);
    }
    assert_null(javm_cache_get_hash(E->cache, &E->data));
    javm_key k = javm_key_of_hash(&E->data);
    uint32_t rc;
    assert_int_equal(javm_cache_refcount(E->cache, &k, &rc), JAVM_ERR_STORE_CORRUPT);
    char hex[65];
    javm_hash_to_hex(&E->data, hex);
    assert_non_null(strstr(javm_store_errmsg(&E->fs->base), hex));
    /* the guest opening it traps CACHE, nothing is committed */
    assert_trap(run(E, 0, JAVM_OK), JAVM_TRAP_CACHE);
}

static void test_host_open_fails(void **state)
{
    env *E = *state;
    fault_store_fail(E->fs, JAVM_TABLE_FILES, NULL, 0, JAVM_ERR_STORE);
    assert_trap(run(E, 0, JAVM_OK), JAVM_TRAP_CACHE); /* was UNKNOWN_FILE */
}

static void test_quota_read_fails(void **state)
{
    env *E = *state;
    fault_store_fail(E->fs, JAVM_TABLE_QUOTAS, NULL, 0, JAVM_ERR_STORE);
    assert_trap(run(E, 1, JAVM_OK), JAVM_TRAP_CACHE); /* was QUOTA */
    uint64_t q = 7;
    assert_int_equal(E->ka->vtbl->storage_quota_read(E->ka, 0, &q), JAVM_ERR_STORE);
    fault_store_fail(E->fs, -1, NULL, 0, 0);
    assert_int_equal(E->ka->vtbl->storage_quota_read(E->ka, 0, &q), JAVM_OK);
    assert_int_equal(q, 100);
}

int main(void)
{
    int st = tstore_init("test_store_faults", TSTORE_MEM);
    if (st >= 0)
        return st;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_op_lookup_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_entry_lookup_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_results_are_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bit_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_open_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_read_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
