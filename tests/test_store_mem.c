/* SPDX-License-Identifier: MIT
 * tests/test_store_mem.c — the in-memory javm_store (caps.md §5.7): one write transaction at a
 * time whose reads see its writes, atomic commit, abort, deletes, and ordered scans. Runs on
 * the in-memory store and, as test_store_mem_rados, on RADOS (tests/support/test_store.h). */
#include "cap_fixtures.h"
#include "support/test_store.h"

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

/* A 32-byte value (what the names table holds on every store) starting with digit c. */
static const uint8_t *v32(uint8_t out[32], char c)
{
    memset(out, c, 32);
    return out;
}
#define V32(d) v32((uint8_t[32]){ 0 }, (char)('0' + (d)))

static void test_transactions(void **state)
{
    (void)state;
    javm_store *s;
    const uint8_t *v;
    size_t vl;
    char loc[TSTORE_LOC];
    tstore_make(loc);
    assert_int_equal(tstore_open(loc, false, &s), JAVM_OK);
    const javm_store_vtbl *t = s->vtbl;
    if (tstore_is_rados()) {
        /* A RADOS store is created by its first cache (javm.meta with the format records,
         * scale-out.md §1); a commit in a namespace where none did says so, as a file-id
         * lease there does, and writes no head. */
        assert_int_equal(t->begin(s), JAVM_OK);
        assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, V32(1), 32), 0);
        assert_int_equal(t->commit(s), JAVM_ERR_STORE_CORRUPT);
        assert_non_null(strstr(javm_store_errmsg(s), "never created"));
        assert_int_equal(t->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, &v, &vl),
                         JAVM_ERR_NOT_FOUND);
        javm_cache *c;
        assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
        javm_cache_close(c);
    }
    assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, V32(1), 32),
                     JAVM_ERR_INVALID_ARG);
    assert_int_equal(t->begin(s), JAVM_OK);
    assert_int_equal(t->begin(s), JAVM_ERR_BUSY);
    assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"b", 1, V32(2), 32), JAVM_OK);
    assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, V32(1), 32), JAVM_OK);
    assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"ab", 2, V32(3), 32), JAVM_OK);
    assert_int_equal(t->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, &v, &vl), JAVM_OK);
    assert_int_equal(vl, 32);
    assert_int_equal(v[0], '1');
    assert_int_equal(t->get(s, JAVM_TABLE_META, (const uint8_t *)"a", 1, &v, &vl), JAVM_ERR_NOT_FOUND);
    assert_int_equal(t->commit(s), JAVM_OK);
    assert_int_equal(t->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"ab", 2, &v, &vl), JAVM_OK);

    /* A transaction's deletes and overwrites are visible to it, not to others until commit. */
    assert_int_equal(t->begin(s), JAVM_OK);
    assert_int_equal(t->del(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1), JAVM_OK);
    assert_int_equal(t->del(s, JAVM_TABLE_NAMES, (const uint8_t *)"zz", 2), JAVM_OK);
    assert_int_equal(t->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"b", 1, V32(9), 32), JAVM_OK);
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

    /* Many keys: growth of the hash maps, and big-endian ids scan in numeric order. On RADOS
     * in the quotas table (8-byte values): a file id must come from a block leased to a head
     * (scale-out.md §4), so a file record under an id nobody leased is refused. */
    javm_table many = tstore_is_rados() ? JAVM_TABLE_QUOTAS : JAVM_TABLE_FILES;
    assert_int_equal(t->begin(s), JAVM_OK);
    if (tstore_is_rados()) {
        uint8_t k[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
        assert_int_equal(t->put(s, JAVM_TABLE_FILES, k, 8, V32(7), 32), JAVM_ERR_INVALID_ARG);
    }
    for (uint64_t id = 1000; id > 0; id--) {
        uint8_t k[8];
        for (int i = 0; i < 8; i++)
            k[i] = (uint8_t)(id >> (56 - 8 * i));
        assert_int_equal(t->put(s, many, k, 8, k, 8), JAVM_OK);
    }
    assert_int_equal(t->commit(s), JAVM_OK);
    acc.count = 0;
    assert_int_equal(t->scan(s, many, collect, &acc), JAVM_OK);
    assert_int_equal(acc.count, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(acc.keys.p[i * 9 + 7] | acc.keys.p[i * 9 + 6] << 8, i + 1);
    bb_free(&acc.keys);
    javm_store_close(s);
    tstore_remove(loc);
}

static void test_format_checked(void **state)
{
    (void)state;
    javm_store *s;
    javm_cache *c;
    char loc[TSTORE_LOC];
    tstore_make(loc);
    assert_int_equal(tstore_open(loc, false, &s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    javm_cache_close(c);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_META, (const uint8_t *)"hash_profile", 12, &v, &vl), JAVM_OK);
    assert_int_equal(vl, 18);
    assert_memory_equal(v, "blake2b-256-tagged", 18);
    uint8_t two[4] = { 4, 0, 0, 0 } /* format 4: unknown */;
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_META, (const uint8_t *)"format", 6, two, 4), JAVM_OK);
    if (tstore_is_rados()) {
        /* the format is fixed when the store's meta object is created (scale-out.md §1) */
        assert_int_equal(s->vtbl->commit(s), JAVM_ERR_STORE_FORMAT);
        assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
        javm_cache_close(c);
    } else {
        assert_int_equal(s->vtbl->commit(s), JAVM_OK);
        assert_int_equal(javm_cache_open(s, &c), JAVM_ERR_STORE_FORMAT);
    }
    javm_store_close(s);
    tstore_remove(loc);
}

int main(void)
{
    int st = tstore_init("test_store_mem", TSTORE_MEM);
    if (st >= 0)
        return st;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_format_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
