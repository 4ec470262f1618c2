/* SPDX-License-Identifier: MIT
 * tests/test_fsck.c — `javm fsck` (issue 13 item 13, tools/lib/fsck.c): a consistent store has
 * no problem; a copy damaged in each way (a flipped blob bit, a missing or low refcount, an
 * orphan refcount, a dangling edge, a name or a file record naming nothing, a bad quota
 * record, a wrong format) is reported with the kind of that damage. */
#include "cap_fixtures.h"
#include "support/fsck_seen.h"

typedef struct world {
    javm_store *store;
    javm_hash data, cnode, inst;
} world;

/* Data "payload" <- CNode slot 1 <- Instance (named "app"); file 1 names the Data. */
static void build(world *w)
{
    javm_cache *c;
    javm_ka *ka;
    assert_int_equal(javm_store_mem_new(&w->store), JAVM_OK);
    assert_int_equal(javm_cache_open(w->store, &c), JAVM_OK);
    assert_int_equal(javm_ka_store_new(w->store, &ka), JAVM_OK);
    static const uint8_t code[2] = { 10, 0 }, mask[1] = { 1 };
    javm_cap *img;
    assert_int_equal(javm_image_new(code, 2, mask, 1, &img), JAVM_OK);
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    assert_int_equal(javm_image_add_endpoint(img, &ep), JAVM_OK);
    w->data = put_free(c, data_str("payload"));
    assert_int_equal(javm_image_add_initial(img, 1, &w->data), JAVM_OK);
    javm_hash ih = put_free(c, img);
    assert_int_equal(javm_spawn(c, &ih, 4, &w->inst), JAVM_OK);
    assert_int_equal(javm_name_set(c, (const uint8_t *)"app", 3, &w->inst), JAVM_OK);
    javm_key k = javm_key_of_hash(&w->inst);
    assert_int_equal(javm_cache_decref(c, &k), JAVM_OK); /* the name holds it */
    w->cnode = javm_cache_get_hash(c, &w->inst)->instance.root_cnode.hash;
    uint64_t id;
    assert_int_equal(javm_cache_hold(c, &w->data), JAVM_OK); /* the file record's hold */
    assert_int_equal(ka->vtbl->host_save(ka, &w->data, 0, 0, &id), JAVM_OK);
    assert_int_equal(javm_commit(c, ka), JAVM_OK);
    javm_ka_free(ka);
    javm_cache_close(c);
}

static seen run(world *w, tl_fsck_stats *st)
{
    seen s = seen_fsck(w->store, st);
    assert_int_not_equal(s.n, (size_t)-1);
    return s;
}

static void put_raw(world *w, javm_table t, const void *k, size_t kl, const void *v, size_t vl)
{
    assert_int_equal(store_raw_set(w->store, t, k, kl, v, vl), JAVM_OK);
}

static void expect_only(world *w, const char *kind)
{
    tl_fsck_stats st;
    seen s = run(w, &st);
    if (s.n != 1 || strcmp(s.kinds[0], kind) != 0) {
        for (size_t i = 0; i < s.n; i++)
            print_message("reported: %s\n", s.kinds[i]);
        fail_msg("expected exactly one %s", kind);
    }
    javm_store_close(w->store);
}

static void test_clean(void **state)
{
    (void)state;
    world w;
    build(&w);
    tl_fsck_stats st;
    seen s = run(&w, &st);
    assert_int_equal(s.n, 0);
    assert_int_equal(st.names, 1);
    assert_int_equal(st.files, 1);
    assert_int_equal(st.unreachable, 0);
    javm_store_close(w.store);
    /* a store with no blob at all, only its meta records (UBSan: no qsort of a NULL array) */
    javm_store *empty;
    javm_cache *c;
    assert_int_equal(javm_store_mem_new(&empty), JAVM_OK);
    assert_int_equal(javm_cache_open(empty, &c), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    javm_cache_close(c);
    s = seen_fsck(empty, &st);
    assert_int_equal(s.n, 0);
    assert_int_equal(st.blobs, 0);
    /* and a refcount then: looked up among no blobs (UBSan: no bsearch of a NULL array; found
     * by fuzz/fuzz_store_records.c) */
    const uint8_t key[32] = { 7 }, one[4] = { 1 };
    assert_int_equal(store_raw_set(empty, JAVM_TABLE_REFCOUNTS, key, 32, one, 4), JAVM_OK);
    s = seen_fsck(empty, &st);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.kinds[0], "refcount-orphan");
    javm_store_close(empty);
}

static void test_damage(void **state)
{
    (void)state;
    world w;
    const uint8_t *v;
    size_t vl;
    uint8_t rec[256];
    /* one flipped bit in the Data's record */
    build(&w);
    assert_int_equal(w.store->vtbl->get(w.store, JAVM_TABLE_BLOBS, w.data.b, 32, &v, &vl), JAVM_OK);
    memcpy(rec, v, vl);
    rec[vl - 1] ^= 1;
    put_raw(&w, JAVM_TABLE_BLOBS, w.data.b, 32, rec, vl);
    tl_fsck_stats st;
    seen s = run(&w, &st);
    assert_true(s.n >= 1);
    assert_string_equal(s.kinds[0], "blob-hash"); /* and what named it now dangles */
    javm_store_close(w.store);
    /* a missing refcount */
    build(&w);
    put_raw(&w, JAVM_TABLE_REFCOUNTS, w.cnode.b, 32, NULL, 0);
    expect_only(&w, "refcount-missing");
    /* a count below its holders: the Data is held by the file record and the CNode's edge */
    build(&w);
    uint8_t one[4] = { 1, 0, 0, 0 };
    put_raw(&w, JAVM_TABLE_REFCOUNTS, w.data.b, 32, one, 4);
    expect_only(&w, "refcount-low");
    /* a refcount with no blob */
    build(&w);
    javm_hash ghost = fill(0x66);
    put_raw(&w, JAVM_TABLE_REFCOUNTS, ghost.b, 32, one, 4);
    expect_only(&w, "refcount-orphan");
    /* a name naming nothing */
    build(&w);
    put_raw(&w, JAVM_TABLE_NAMES, "ghost", 5, ghost.b, 32);
    expect_only(&w, "name-target");
    /* a file record naming nothing */
    build(&w);
    uint8_t id2[8] = { 0, 0, 0, 0, 0, 0, 0, 2 };
    put_raw(&w, JAVM_TABLE_FILES, id2, 8, ghost.b, 32);
    expect_only(&w, "file-target");
    /* a quota record of the wrong size */
    build(&w);
    put_raw(&w, JAVM_TABLE_QUOTAS, id2, 8, "abc", 3);
    expect_only(&w, "quota-size");
    /* a dangling edge: the CNode's Data gone (with its refcount and file record) */
    build(&w);
    uint8_t id1[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
    put_raw(&w, JAVM_TABLE_FILES, id1, 8, NULL, 0);
    put_raw(&w, JAVM_TABLE_REFCOUNTS, w.data.b, 32, NULL, 0);
    put_raw(&w, JAVM_TABLE_BLOBS, w.data.b, 32, NULL, 0);
    s = run(&w, &st);
    assert_true(s.n >= 1);
    for (size_t i = 0; i < s.n; i++)
        assert_string_equal(s.kinds[i], "edge-dangling"); /* the CNode's and the Image's */
    javm_store_close(w.store);
    /* a foreign format */
    build(&w);
    uint8_t two[4] = { 4, 0, 0, 0 } /* format 4: unknown */;
    put_raw(&w, JAVM_TABLE_META, "format", 6, two, 4);
    expect_only(&w, "meta");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
