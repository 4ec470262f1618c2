/* SPDX-License-Identifier: MIT
 * tests/test_cache_alloc.c — fail every allocation in turn (STYLE.md, "Tests"): each cache
 * operation is run with its 1st, 2nd, ... allocation failing until it succeeds, and every
 * failure must return an error and leave the cache exactly as it was (caps.md §5.4).
 * Allocation failures are injected by wrapping the allocator at link time
 * (tests/support/failalloc.h), so the failure paths also run under the sanitizers (issue 13
 * item 18); the library keeps no allocator hook (no global state). */
#include "cache/cache.h"
#include "cap_fixtures.h"
#include "failalloc.h"

typedef struct fx {
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
    javm_hash img, root, hello, two, inst, solo, chain;
    javm_ref wcn, wdata;
} fx;

/* A populated cache: an Instance with an overlay, a working CNode and a working Data. */
static void build(fx *f)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(javm_store_mem_new(&f->store), JAVM_OK);
    assert_int_equal(javm_cache_open(f->store, &f->cache), JAVM_OK);
    assert_int_equal(javm_ka_mem_new(&f->ka), JAVM_OK);
    javm_cache *c = f->cache;
    f->hello = put_free(c, data_str("hello"));
    f->img = put_free(c, img3());
    javm_cap *cn;
    assert_int_equal(javm_cnode_new(8, &cn), JAVM_OK);
    javm_key k = javm_key_of_hash(&f->hello);
    javm_cnode_set_slot(cn, 1, &k);
    f->root = put_free(c, cn);
    uint8_t big[6000];
    memset(big, 9, sizeof big);
    javm_cap *d;
    assert_int_equal(javm_data_new(big, sizeof big, &d), JAVM_OK);
    f->two = put_free(c, d);
    javm_key rk = javm_key_of_hash(&f->root);
    javm_cap *in;
    assert_int_equal(javm_instance_new(&f->img, &f->img, &rk, &in), JAVM_OK);
    javm_instance_add_overlay(in, 0x1000, &f->hello);
    f->inst = put_free(c, in);
    assert_int_equal(javm_name_set(c, (const uint8_t *)"N", 1, &f->inst), JAVM_OK);
    for (int i = 0; i < 7; i++) { /* the name table is full: a new name reallocates */
        uint8_t nm[2] = { 'n', (uint8_t)('0' + i) };
        assert_int_equal(javm_name_set(c, nm, 2, &f->inst), JAVM_OK);
    }
    assert_int_equal(javm_commit(c, f->ka), JAVM_OK);
    assert_int_equal(javm_cnode_new(4, &cn), JAVM_OK);
    assert_int_equal(javm_cache_put_working(c, cn, &f->wcn), JAVM_OK);
    javm_cap_free(cn);
    javm_cap *w = data_str("working");
    assert_int_equal(javm_cache_put_working(c, w, &f->wdata), JAVM_OK);
    javm_cap_free(w);
    k = javm_key_of_ref(f->wdata);
    assert_int_equal(javm_cache_cnode_set(c, f->wcn, 2, &k), JAVM_OK);
    k = javm_key_of_hash(&f->two);
    assert_int_equal(javm_cache_cnode_set(c, f->wcn, 3, &k), JAVM_OK);
    /* Fill the working CNode's slot array to its capacity (4), so one more slot reallocates. */
    assert_int_equal(javm_cache_cnode_set(c, f->wcn, 0, &k), JAVM_OK);
    assert_int_equal(javm_cache_cnode_set(c, f->wcn, 1, &k), JAVM_OK);
    /* A blob held once, and a chain of 100 CNodes held only by its head's hold: releasing it
     * logs more records than the undo log has room for. */
    f->solo = put_free(c, data_str("solo"));
    javm_hash prev = put_free(c, data_str("leaf"));
    for (int i = 0; i < 100; i++) {
        javm_cap *link;
        assert_int_equal(javm_cnode_new(0, &link), JAVM_OK);
        javm_key pk = javm_key_of_hash(&prev);
        javm_cnode_set_slot(link, 0, &pk);
        javm_hash next = put_free(c, link);
        assert_int_equal(javm_cache_decref(c, &pk), JAVM_OK);
        prev = next;
    }
    f->chain = prev;
}

static void destroy(fx *f)
{
    javm_cache_close(f->cache);
    javm_ka_free(f->ka);
    javm_store_close(f->store);
}

/* Everything observable: blobs with refcounts, working entries with their slots, names. */
typedef struct view {
    bb bytes;
} view;

static int view_blob(void *arg, const javm_hash *h, const javm_cap *cap, uint32_t rc)
{
    bb *b = arg;
    bb_h(b, h);
    bb_u32(b, rc);
    bb_u8(b, (uint8_t)cap->kind);
    return 0;
}

static void look(fx *f, bb *b)
{
    memset(b, 0, sizeof *b);
    assert_int_equal(javm_cache_iter_blobs(f->cache, view_blob, b), JAVM_OK);
    bb_u64(b, javm_cache_working_count(f->cache));
    for (javm_ref r = 1; r < 64; r++) {
        javm_key k = javm_key_of_ref(r);
        javm_hash fw;
        if (javm_cache_forward(f->cache, r, &fw) == JAVM_OK) {
            bb_u64(b, r);
            bb_h(b, &fw);
        }
        const javm_cap *w = javm_cache_get(f->cache, &k);
        if (!w)
            continue;
        uint32_t rc = 0;
        javm_cache_refcount(f->cache, &k, &rc);
        bb_u64(b, r);
        bb_u32(b, rc);
        uint8_t *enc = NULL;
        size_t len = 0;
        if (w->kind == JAVM_KIND_CNODE) {
            for (uint32_t i = 0; i < w->cnode.n_slots; i++) {
                bb_u32(b, w->cnode.slots[i].slot);
                bb_u8(b, (uint8_t)w->cnode.slots[i].target.tag);
                bb_raw(b, &w->cnode.slots[i].target.hash, sizeof(javm_hash));
            }
        } else if (javm_cap_encode(w, &enc, &len) == JAVM_OK) {
            bb_raw(b, enc, len);
            javm_free(enc);
        }
    }
    javm_hash n;
    if (javm_name_get(f->cache, (const uint8_t *)"N", 1, &n) == JAVM_OK)
        bb_h(b, &n);
}

typedef int (*op_fn)(fx *f);

/* Runs op with allocation k failing, for k = 0, 1, ... until it succeeds. */
static void each_failure(op_fn op, bool journal)
{
    for (long k = 0; k < 100000; k++) {
        fx f;
        bb before, after;
        build(&f);
        if (journal)
            assert_int_equal(javm_journal_begin(f.cache, f.ka), JAVM_OK);
        look(&f, &before);
        failalloc_arm(k);
        int rc = op(&f);
        failalloc_disarm();
        if (rc == JAVM_OK) {
            bb_free(&before);
            if (journal) {
                /* The journal's own abort restores the pre-journal state after success. */
                bb pre;
                javm_journal_abort(f.cache, f.ka);
                look(&f, &pre);
                bb_free(&pre);
            }
            destroy(&f);
            assert_true(k > 0);
            return;
        }
        assert_int_equal(rc, JAVM_ERR_ALLOC);
        look(&f, &after);
        assert_int_equal(before.n, after.n);
        assert_memory_equal(before.p, after.p, before.n);
        bb_free(&before);
        bb_free(&after);
        if (journal)
            javm_journal_abort(f.cache, f.ka);
        destroy(&f);
    }
    fail();
}

static int op_put_instance(fx *f)
{
    javm_key rk = javm_key_of_hash(&f->root);
    javm_cap *in;
    javm_hash h;
    if (javm_instance_new(&f->img, &f->img, &rk, &in))
        return JAVM_ERR_ALLOC;
    in->instance.mem_size = 77;
    int rc = javm_instance_add_overlay(in, 0x1000, &f->two);
    if (rc == JAVM_OK)
        rc = javm_instance_add_overlay(in, 0x4000, &f->hello);
    if (rc == JAVM_OK)
        rc = javm_cache_put(f->cache, in, &h);
    javm_cap_free(in);
    return rc;
}

static int op_get_mut_clone(fx *f)
{
    javm_ref r;
    javm_key k = javm_key_of_hash(&f->root); /* refcount 2: the put and the Instance */
    return javm_cache_get_mut(f->cache, &k, &r);
}

static int op_get_mut_move(fx *f)
{
    javm_ref r;
    javm_key k = javm_key_of_hash(&f->solo);
    return javm_cache_get_mut(f->cache, &k, &r);
}

static int op_cnode_set(fx *f)
{
    javm_key k = javm_key_of_hash(&f->hello);
    return javm_cache_cnode_set(f->cache, f->wcn, 5, &k);
}

static int op_settle(fx *f)
{
    javm_hash h;
    javm_key k = javm_key_of_ref(f->wcn);
    return javm_cache_settle(f->cache, &k, &h);
}

static int op_name_set(fx *f)
{
    return javm_name_set(f->cache, (const uint8_t *)"a-new-name", 10, &f->inst);
}

static int op_decref_cascade(fx *f)
{
    javm_key k = javm_key_of_hash(&f->chain);
    return javm_cache_decref(f->cache, &k);
}

/* A journal that removed a blob, then loaded another from the store (a load is not logged)
 * with the blob tier at its load limit: the abort puts the removed blob back, which must not
 * need an allocation (it used to grow the table there, and crashed when that failed). */
static javm_hash put_text(javm_cache *c, const char *s)
{
    javm_cap *d;
    javm_hash h;
    assert_int_equal(javm_data_new((const uint8_t *)s, strlen(s), &d), JAVM_OK);
    assert_int_equal(javm_cache_put_owned(c, d, &h), JAVM_OK);
    return h;
}

static void test_abort_relinks_without_allocating(void **state)
{
    (void)state;
    javm_store *st;
    javm_ka *ka;
    javm_cache *c;
    assert_int_equal(javm_store_mem_new(&st), JAVM_OK);
    assert_int_equal(javm_ka_mem_new(&ka), JAVM_OK);
    assert_int_equal(javm_cache_open(st, &c), JAVM_OK);
    javm_hash x = put_text(c, "stored blob X");
    assert_int_equal(javm_commit(c, ka), JAVM_OK);
    javm_cache_close(c);
    assert_int_equal(javm_cache_open(st, &c), JAVM_OK);
    javm_hash y = put_text(c, "Y, never stored");
    char name[32];
    for (int i = 0; c->blobs.t.count * 2 < cache_tab_cap(&c->blobs); i++) {
        snprintf(name, sizeof name, "filler %d", i);
        put_text(c, name);
    }
    size_t before = c->blobs.t.count;
    assert_int_equal(javm_journal_begin(c, ka), JAVM_OK);
    javm_key yk = javm_key_of_hash(&y);
    assert_int_equal(javm_cache_decref(c, &yk), JAVM_OK);
    assert_int_equal(c->blobs.t.count, before - 1);
    assert_non_null(javm_cache_get_hash(c, &x)); /* loaded from the store, not logged */
    failalloc_arm(0);
    javm_journal_abort(c, ka);
    failalloc_disarm();
    assert_int_equal(c->blobs.t.count, before + 1);
    assert_non_null(javm_cache_get_hash(c, &y));
    javm_cache_close(c);
    javm_ka_free(ka);
    javm_store_close(st);
}

static void test_put(void **state) { (void)state; each_failure(op_put_instance, false); }
static void test_put_journal(void **state) { (void)state; each_failure(op_put_instance, true); }
static void test_get_mut_clone(void **state) { (void)state; each_failure(op_get_mut_clone, false); }
static void test_get_mut_move(void **state) { (void)state; each_failure(op_get_mut_move, true); }
static void test_cnode_set(void **state) { (void)state; each_failure(op_cnode_set, true); }
static void test_settle(void **state) { (void)state; each_failure(op_settle, false); }
static void test_settle_journal(void **state) { (void)state; each_failure(op_settle, true); }
static void test_decref(void **state) { (void)state; each_failure(op_decref_cascade, true); }
static void test_decref_plain(void **state) { (void)state; each_failure(op_decref_cascade, false); }
static void test_name_set(void **state) { (void)state; each_failure(op_name_set, true); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abort_relinks_without_allocating),
        cmocka_unit_test(test_put),
        cmocka_unit_test(test_put_journal),
        cmocka_unit_test(test_get_mut_clone),
        cmocka_unit_test(test_get_mut_move),
        cmocka_unit_test(test_cnode_set),
        cmocka_unit_test(test_settle),
        cmocka_unit_test(test_settle_journal),
        cmocka_unit_test(test_decref),
        cmocka_unit_test(test_decref_plain),
        cmocka_unit_test(test_name_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
