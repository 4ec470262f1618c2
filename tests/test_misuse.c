/* SPDX-License-Identifier: MIT
 * tests/test_misuse.c — API misuse that used to lose or corrupt data (issue 13): closing a
 * cache with a journal open (item 3) and gc without a kernel assist (item 4). The persistent
 * kernel assist runs on the in-memory store, so file records live in the store's files table. */
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
    assert_int_equal(javm_ka_store_new(f->store, &f->ka), JAVM_OK);
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

/* Item 3: put and host_save inside a journal, close the cache, reopen, commit: the file
 * record must not survive without its blob (it did: the kernel assist kept the save). */
static void test_close_with_journal_rolls_back_ka(void **state)
{
    fx *f = *state;
    assert_int_equal(javm_journal_begin(f->cache, f->ka), JAVM_OK);
    javm_cap *d = data_str("journaled");
    javm_hash h;
    assert_int_equal(javm_cache_put(f->cache, d, &h), JAVM_OK);
    javm_cap_free(d);
    uint64_t id;
    assert_int_equal(f->ka->vtbl->host_save(f->ka, &h, 0, 0, &id), JAVM_OK);
    javm_cache_close(f->cache);
    assert_int_equal(javm_cache_open(f->store, &f->cache), JAVM_OK);
    assert_int_equal(javm_commit(f->cache, f->ka), JAVM_OK);
    assert_null(javm_cache_get_hash(f->cache, &h));
    javm_hash got;
    assert_int_equal(f->ka->vtbl->host_open(f->ka, id, &got), JAVM_ERR_NOT_FOUND);
    assert_int_equal(javm_ka_store_next_file_id(f->ka), 1);
}

/* Item 4: gc with ka = NULL reads the file roots from the store's files table. */
static void test_gc_without_ka_keeps_files(void **state)
{
    fx *f = *state;
    javm_cap *d = data_str("saved");
    javm_hash h;
    assert_int_equal(javm_cache_put(f->cache, d, &h), JAVM_OK); /* the file record's hold */
    javm_cap_free(d);
    javm_hash gone = put_free(f->cache, data_str("unreachable"));
    (void)gone;
    uint64_t id;
    assert_int_equal(f->ka->vtbl->host_save(f->ka, &h, 0, 0, &id), JAVM_OK);
    assert_int_equal(javm_commit(f->cache, f->ka), JAVM_OK);
    assert_int_equal(javm_gc(NULL, f->cache, NULL, NULL, 0), JAVM_OK);
    assert_non_null(javm_cache_get_hash(f->cache, &h));
    assert_int_equal(rc_of(f->cache, &h), 1);
    /* a fresh cache reads it from the store too */
    javm_cache_close(f->cache);
    assert_int_equal(javm_cache_open(f->store, &f->cache), JAVM_OK);
    assert_non_null(javm_cache_get_hash(f->cache, &h));
    javm_hash got;
    assert_int_equal(f->ka->vtbl->host_open(f->ka, id, &got), JAVM_OK);
    assert_hash_equal(got, h);
}

/* Issue 13 item 21: both kernel assists skip a file id that already holds a record (one
 * written at or above next_file_id by other means) instead of replacing it. */
static void test_seeded_file_id_skipped(void **state)
{
    fx *f = *state;
    javm_cap *d = data_str("seeded");
    javm_hash h;
    assert_int_equal(javm_cache_put(f->cache, d, &h), JAVM_OK);
    javm_cap_free(d);
    assert_int_equal(javm_commit(f->cache, f->ka), JAVM_OK);
    /* the persistent one: a record at id 1 written straight into the store */
    uint8_t key[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
    assert_int_equal(f->store->vtbl->begin(f->store), JAVM_OK);
    assert_int_equal(f->store->vtbl->put(f->store, JAVM_TABLE_FILES, key, 8, h.b, 32), JAVM_OK);
    assert_int_equal(f->store->vtbl->commit(f->store), JAVM_OK);
    uint64_t id;
    assert_int_equal(f->ka->vtbl->host_save(f->ka, &h, 0, 0, &id), JAVM_OK);
    assert_int_equal(id, 2);
    assert_int_equal(javm_commit(f->cache, f->ka), JAVM_OK);
    javm_hash got;
    assert_int_equal(f->ka->vtbl->host_open(f->ka, 1, &got), JAVM_OK);
    assert_hash_equal(got, h);
    /* the in-memory one, seeded with javm_ka_mem_register_file */
    javm_ka *mem;
    assert_int_equal(javm_ka_mem_new(&mem), JAVM_OK);
    assert_int_equal(javm_ka_mem_register_file(mem, f->cache, 1, &h), JAVM_OK);
    assert_int_equal(mem->vtbl->host_save(mem, &h, 0, 0, &id), JAVM_OK);
    assert_int_equal(id, 2);
    javm_ka_free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_with_journal_rolls_back_ka, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_without_ka_keeps_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seeded_file_id_skipped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
