/* SPDX-License-Identifier: MIT
 * tests/test_store_mem.c — the in-memory javm_store (caps.md §5.7): one write transaction at a
 * time whose reads see its writes, atomic commit, abort, deletes, and ordered scans. */
#include "cap_fixtures.h"

typedef struct scan_acc {
    bb keys;
    int count;
} scan_acc;

static int collect(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    scan_acc *a = arg;
    (void)val;
    (void)vlen;
    bb_raw(&a->keys, key, klen);
    bb_u8(&a->keys, '|');
    a->count++;
    return 0;
}

static int stop_at_two(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_transactions(void **state)
{
    (void)state;
    javm_store *s;
    const uint8_t *v;
    size_t vl;
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    const javm_store_vtbl *t = s->vtbl;
    assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, (const uint8_t *)"1", 1),
                     JAVM_ERR_INVALID_ARG);
    assert_int_equal(t->begin(s), JAVM_OK);
    assert_int_equal(t->begin(s), JAVM_ERR_BUSY);
    assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"b", 1, (const uint8_t *)"2", 1), JAVM_OK);
    assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, (const uint8_t *)"1", 1), JAVM_OK);
    assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"ab", 2, (const uint8_t *)"3", 1), JAVM_OK);
    assert_int_equal(t->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, &v, &vl), JAVM_OK);
    assert_int_equal(vl, 1);
    assert_int_equal(v[0], '1');
    assert_int_equal(t->get(s, JAVM_TABLE_META, (const uint8_t *)"a", 1, &v, &vl), JAVM_ERR_NOT_FOUND);
    assert_int_equal(t->commit(s), JAVM_OK);
    assert_int_equal(t->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"ab", 2, &v, &vl), JAVM_OK);

    /* A transaction's deletes and overwrites are visible to it, not to others until commit. */
    assert_int_equal(t->begin(s), JAVM_OK);
    assert_int_equal(t->del(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1), JAVM_OK);
    assert_int_equal(t->del(s, JAVM_TABLE_NAMES, (const uint8_t *)"zz", 2), JAVM_OK);
    assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"b", 1, (const uint8_t *)"9", 1), JAVM_OK);
    assert_int_equal(t->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, &v, &vl), JAVM_ERR_NOT_FOUND);
    scan_acc acc = { { 0 }, 0 };
    assert_int_equal(t->scan(s, JAVM_TABLE_NAMES, collect, &acc), JAVM_OK);
    assert_int_equal(acc.count, 2);
    assert_memory_equal(acc.keys.p, "ab|b|", 5);
    bb_free(&acc.keys);
    t->abort(s);
    assert_int_equal(t->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, &v, &vl), JAVM_OK);
    assert_int_equal(t->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"b", 1, &v, &vl), JAVM_OK);
    assert_int_equal(v[0], '2');
    acc.count = 0;
    assert_int_equal(t->scan(s, JAVM_TABLE_NAMES, collect, &acc), JAVM_OK);
    assert_int_equal(acc.count, 3);
    assert_memory_equal(acc.keys.p, "a|ab|b|", 7); /* shorter key first on a common prefix */
    bb_free(&acc.keys);
    int n = 0;
    assert_int_equal(t->scan(s, JAVM_TABLE_NAMES, stop_at_two, &n), 42);

    /* Many keys: growth of the hash maps, and big-endian ids scan in numeric order. */
    assert_int_equal(t->begin(s), JAVM_OK);
    for (uint64_t id = 1000; id > 0; id--) {
        uint8_t k[8];
        for (int i = 0; i < 8; i++)
            k[i] = (uint8_t)(id >> (56 - 8 * i));
        assert_int_equal(t->put(s, JAVM_TABLE_FILES, k, 8, k, 8), JAVM_OK);
    }
    assert_int_equal(t->commit(s), JAVM_OK);
    acc.count = 0;
    assert_int_equal(t->scan(s, JAVM_TABLE_FILES, collect, &acc), JAVM_OK);
    assert_int_equal(acc.count, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(acc.keys.p[i * 9 + 7] | acc.keys.p[i * 9 + 6] << 8, i + 1);
    bb_free(&acc.keys);
    javm_store_close(s);
}

static void test_format_checked(void **state)
{
    (void)state;
    javm_store *s;
    javm_cache *c;
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    javm_cache_close(c);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_META, (const uint8_t *)"hash_profile", 12, &v, &vl), JAVM_OK);
    assert_int_equal(vl, 18);
    assert_memory_equal(v, "blake2b-256-tagged", 18);
    uint8_t two[4] = { 2, 0, 0, 0 };
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_META, (const uint8_t *)"format", 6, two, 4), JAVM_OK);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_ERR_STORE_FORMAT);
    javm_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_format_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
