/* SPDX-License-Identifier: MIT
 * tests/test_ka.c — the in-process kernel assist and yield catchers (caps.md §9, §10.5):
 * quotas, file saves and ids, gas meters, catcher creation, marker sets, and the journal
 * snapshot (begin / rollback / persist). */
#include "cap_fixtures.h"

typedef struct fx {
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(javm_store_mem_new(&f->store), JAVM_OK);
    assert_int_equal(javm_cache_open(f->store, &f->cache), JAVM_OK);
    assert_int_equal(javm_ka_mem_new(&f->ka), JAVM_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    javm_cache_close(f->cache);
    javm_ka_free(f->ka);
    javm_store_close(f->store);
    free(f);
    return 0;
}

static void test_quota_and_files(void **state)
{
    fx *f = *state;
    javm_ka *ka = f->ka;
    const javm_ka_vtbl *v = ka->vtbl;
    javm_hash z = fill(0), got;
    uint64_t id = 0;
    assert_int_equal(v->storage_quota_get(ka, 0), 0);               /* absent quota */
    assert_int_equal(v->storage_quota_set(ka, 0, 1000), 0);         /* previous value */
    assert_int_equal(v->storage_quota_set(ka, 0, 1000), 1000);
    assert_int_equal(v->host_save(ka, &z, 0, 32, &id), JAVM_OK);
    assert_int_equal(id, 1);
    assert_int_equal(v->storage_quota_get(ka, 0), 968);
    assert_int_equal(v->host_save(ka, &z, 0, 32, &id), JAVM_OK);
    assert_int_equal(id, 2);
    assert_int_equal(javm_ka_mem_next_file_id(ka), 3);
    id = 77;
    assert_int_equal(v->host_save(ka, &z, 7, 32, &id), JAVM_ERR_QUOTA); /* quota 7 never set */
    assert_int_equal(id, 77);
    assert_int_equal(javm_ka_mem_next_file_id(ka), 3);
    assert_int_equal(v->host_open(ka, 1, &got), JAVM_OK);
    assert_hash_equal(got, z);
    assert_int_equal(v->host_open(ka, 3, &got), JAVM_ERR_NOT_FOUND);
    /* Gas meters: embedder accounting only. */
    assert_int_equal(v->gas_meter_get(ka, 5), 0);
    assert_int_equal(v->gas_meter_set(ka, 5, 9), 0);
    assert_int_equal(v->gas_meter_set(ka, 5, 10), 9);
    assert_int_equal(v->gas_meter_get(ka, 5), 10);
    /* Many quotas: set never fails. */
    for (uint64_t q = 100; q < 400; q++)
        assert_int_equal(v->storage_quota_set(ka, q, q), 0);
    for (uint64_t q = 100; q < 400; q++)
        assert_int_equal(v->storage_quota_get(ka, q), q);
}

static void test_register_file(void **state)
{
    fx *f = *state;
    javm_hash file = put_free(f->cache, data_str("file")), stored = put_free(f->cache, data_str("x"));
    javm_hash absent = fill(0xaa), got;
    assert_int_equal(javm_ka_mem_register_file(f->ka, f->cache, 9, &absent), JAVM_ERR_NOT_FOUND);
    assert_int_equal(javm_ka_mem_register_file(f->ka, f->cache, 9, &file), JAVM_OK);
    assert_int_equal(rc_of(f->cache, &file), 2);
    assert_int_equal(javm_ka_mem_next_file_id(f->ka), 1);
    assert_int_equal(f->ka->vtbl->host_open(f->ka, 9, &got), JAVM_OK);
    assert_hash_hex(got, "1a83709bcf29cfe780ec30a0439bcba86ada53db3e8fe1aed1fc5742c46e6460");
    /* Replacing a record moves its hold. */
    assert_int_equal(javm_ka_mem_register_file(f->ka, f->cache, 9, &stored), JAVM_OK);
    assert_int_equal(rc_of(f->cache, &file), 1);
    assert_int_equal(rc_of(f->cache, &stored), 2);
    /* Files iterate in id order, saved ids continue from next_file_id. */
    uint64_t id;
    f->ka->vtbl->storage_quota_set(f->ka, 0, 10);
    assert_int_equal(f->ka->vtbl->host_save(f->ka, &file, 0, 4, &id), JAVM_OK);
    assert_int_equal(id, 1);
}

static void test_yield_catchers(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_ka *ka = f->ka;
    javm_hash c1, c2;
    assert_int_equal(javm_yield_catcher_new(c, ka, &c1), JAVM_OK);
    assert_hash_hex(c1, "0050be316bdec96228348e1051aa70d66e6fc56c12bc897dcc997c53ee74bfc2");
    const javm_cap *t = javm_cache_get_hash(c, &c1);
    assert_non_null(t);
    assert_int_equal(t->kind, JAVM_KIND_TYPE);
    assert_hash_hex(t->type.image_hash_chain,
                    "90bb7b364e6f8a9f4db0d57d2cc62ed334912c26fb9528e96a4718a45ef031bb");
    assert_int_equal(rc_of(c, &c1), 1);
    assert_int_equal(javm_yield_catcher_new(c, ka, &c2), JAVM_OK);
    assert_hash_hex(c2, "2c8aecf7716d52874cbc347d9a85f00464c063ac25a214ace22bb763d3e0c304");

    javm_hash m = put_free(c, data_str("marker")), absent = fill(0x61);
    assert_false(ka->vtbl->yield_catcher_contains(ka, &c1, &m));
    assert_int_equal(javm_yield_catcher_add(c, ka, &c1, &absent), JAVM_ERR_NOT_FOUND);
    assert_false(ka->vtbl->yield_catcher_contains(ka, &c1, &absent));
    assert_int_equal(javm_yield_catcher_add(c, ka, &c1, &m), JAVM_OK);
    assert_int_equal(javm_yield_catcher_add(c, ka, &c1, &m), JAVM_OK); /* twice: same set */
    assert_true(ka->vtbl->yield_catcher_contains(ka, &c1, &m));
    assert_false(ka->vtbl->yield_catcher_contains(ka, &c2, &m));
    assert_int_equal(rc_of(c, &m), 1); /* no hold on markers */
    /* An unregistered catcher: NOT_FOUND even when it is a Type in the cache, and a Data
     * registered by hand is WRONG_KIND. */
    javm_hash chain = fill(0x42);
    javm_cap *ty;
    assert_int_equal(javm_type_new(&chain, &ty), JAVM_OK);
    javm_hash th = put_free(c, ty);
    assert_int_equal(javm_yield_catcher_add(c, ka, &th, &m), JAVM_ERR_NOT_FOUND);
    assert_int_equal(javm_yield_catcher_remove(c, ka, &th, &m), JAVM_ERR_NOT_FOUND);
    assert_int_equal(ka->vtbl->yield_catcher_register(ka, &m), JAVM_OK);
    assert_int_equal(javm_yield_catcher_add(c, ka, &m, &m), JAVM_ERR_WRONG_KIND);
    assert_false(ka->vtbl->yield_catcher_contains(ka, &m, &m));
    /* Remove twice: same set; unknown catcher contains nothing. */
    assert_int_equal(javm_yield_catcher_remove(c, ka, &c1, &m), JAVM_OK);
    assert_int_equal(javm_yield_catcher_remove(c, ka, &c1, &m), JAVM_OK);
    assert_false(ka->vtbl->yield_catcher_contains(ka, &c1, &m));
    assert_false(ka->vtbl->yield_catcher_contains(ka, &absent, &m));
}

static void test_ka_journal(void **state)
{
    fx *f = *state;
    javm_ka *ka = f->ka;
    const javm_ka_vtbl *v = ka->vtbl;
    javm_hash z = fill(0), got;
    uint64_t id;
    v->storage_quota_set(ka, 0, 100);
    assert_int_equal(v->host_save(ka, &z, 0, 10, &id), JAVM_OK);
    assert_int_equal(v->begin(ka, f->store), JAVM_OK);
    assert_int_equal(v->host_save(ka, &z, 0, 10, &id), JAVM_OK);
    v->storage_quota_set(ka, 3, 3);
    v->gas_meter_set(ka, 1, 5); /* not journaled */
    uint64_t n0 = v->yield_catcher_nonce(ka);
    v->rollback(ka);
    assert_int_equal(v->storage_quota_get(ka, 0), 90);
    assert_int_equal(v->storage_quota_get(ka, 3), 0);
    assert_int_equal(javm_ka_mem_next_file_id(ka), 2);
    assert_int_equal(v->host_open(ka, 2, &got), JAVM_ERR_NOT_FOUND);
    assert_int_equal(v->gas_meter_get(ka, 1), 5);
    assert_int_equal(v->yield_catcher_nonce(ka), n0 + 1); /* catchers are never journaled */
    /* begin, persist: the changes stay; a rollback after persist (the store commit failed)
     * still restores the state at begin. */
    assert_int_equal(v->begin(ka, f->store), JAVM_OK);
    assert_int_equal(v->host_save(ka, &z, 0, 10, &id), JAVM_OK);
    assert_int_equal(v->persist(ka, f->store), JAVM_OK);
    assert_int_equal(javm_ka_mem_next_file_id(ka), 3);
    assert_int_equal(v->storage_quota_get(ka, 0), 80);
    v->rollback(ka);
    assert_int_equal(javm_ka_mem_next_file_id(ka), 2);
    assert_int_equal(v->storage_quota_get(ka, 0), 90);
    v->rollback(ka); /* no journal: nothing to do */
    assert_int_equal(javm_ka_mem_next_file_id(ka), 2);
}

/* Thousands of meters, quotas, catchers and markers (tables since issue 13 item 24): every
 * value reads back, removals remove only what they name, and a rollback restores every quota
 * set before begin while dropping those set after. */
static void test_many_entries(void **state)
{
    fx *f = *state;
    javm_ka *ka = f->ka;
    const javm_ka_vtbl *v = ka->vtbl;
    enum { N = 3000 };
    for (uint64_t id = 0; id < N; id++) {
        assert_int_equal(v->storage_quota_set(ka, id * 977, id + 1), 0);
        assert_int_equal(v->gas_meter_set(ka, id << 40, id + 2), 0);
    }
    assert_int_equal(v->storage_quota_set(ka, 5 * 977, 42), 6);
    for (uint64_t id = 0; id < N; id++) {
        assert_int_equal(v->storage_quota_get(ka, id * 977), id == 5 ? 42 : id + 1);
        assert_int_equal(v->gas_meter_get(ka, id << 40), id + 2);
    }
    assert_int_equal(v->storage_quota_get(ka, 1), 0);
    assert_int_equal(v->gas_meter_get(ka, 1), 0);
    assert_int_equal(v->begin(ka, f->store), JAVM_OK);
    for (uint64_t id = 0; id < N; id++)
        v->storage_quota_set(ka, id * 977 + 1, 7); /* new ids */
    v->storage_quota_set(ka, 0, 99);
    v->rollback(ka);
    for (uint64_t id = 0; id < N; id++) {
        assert_int_equal(v->storage_quota_get(ka, id * 977), id == 5 ? 42 : id + 1);
        assert_int_equal(v->storage_quota_get(ka, id * 977 + 1), 0);
    }
    /* 40 catchers with 100 markers each; every other marker removed */
    javm_hash cs[40];
    for (int i = 0; i < 40; i++) {
        cs[i] = fill((uint8_t)(100 + i));
        assert_int_equal(v->yield_catcher_register(ka, &cs[i]), JAVM_OK);
        for (int j = 0; j < 100; j++) {
            javm_hash m = fill((uint8_t)j);
            m.b[31] = (uint8_t)i; /* markers differ across catchers */
            m.b[30] = 1;
            assert_int_equal(v->yield_catcher_add(ka, &cs[i], &m), JAVM_OK);
        }
    }
    for (int i = 0; i < 40; i++)
        for (int j = 0; j < 100; j += 2) {
            javm_hash m = fill((uint8_t)j);
            m.b[31] = (uint8_t)i;
            m.b[30] = 1;
            assert_int_equal(v->yield_catcher_remove(ka, &cs[i], &m), JAVM_OK);
        }
    for (int i = 0; i < 40; i++)
        for (int j = 0; j < 100; j++) {
            javm_hash m = fill((uint8_t)j);
            m.b[31] = (uint8_t)i;
            m.b[30] = 1;
            assert_int_equal(v->yield_catcher_contains(ka, &cs[i], &m), j % 2 == 1);
            m.b[31] = (uint8_t)(i + 1); /* the next catcher's marker */
            assert_false(v->yield_catcher_contains(ka, &cs[i], &m));
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quota_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yield_catchers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ka_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_entries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
