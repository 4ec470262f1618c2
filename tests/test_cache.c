/* SPDX-License-Identifier: MIT
 * tests/test_cache.c — the cache of caps.md §5: put and hold, target and kind checks,
 * copy-on-write get_mut, working-entry edits, settle (graduation, dedup, Instance snapshots,
 * cycles), removal cascades and atomic failure. */
#include "cache/cache.h"
#include "cap_fixtures.h"

typedef struct fx {
    javm_store *store;
    javm_cache *cache;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(javm_store_mem_new(&f->store), JAVM_OK);
    assert_int_equal(javm_cache_open(f->store, &f->cache), JAVM_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    javm_cache_close(f->cache);
    javm_store_close(f->store);
    free(f);
    return 0;
}

static javm_hash put_cnode(javm_cache *c, unsigned log, const uint32_t *slots,
                           const javm_hash *targets, size_t n)
{
    javm_cap *cn;
    assert_int_equal(javm_cnode_new(log, &cn), JAVM_OK);
    for (size_t i = 0; i < n; i++) {
        javm_key k = javm_key_of_hash(&targets[i]);
        assert_int_equal(javm_cnode_set_slot(cn, slots[i], &k), JAVM_OK);
    }
    return put_free(c, cn);
}

static void test_put_twice(void **state)
{
    fx *f = *state;
    javm_hash a = put_free(f->cache, data_str("hello"));
    javm_hash b = put_free(f->cache, data_str("hello"));
    assert_hash_equal(a, b);
    assert_int_equal(javm_cache_blob_count(f->cache), 1);
    assert_int_equal(rc_of(f->cache, &a), 2);
    const javm_cap *g = javm_cache_get_hash(f->cache, &a);
    assert_non_null(g);
    assert_int_equal(g->kind, JAVM_KIND_DATA);
    assert_int_equal(g->data.size, 5);
    assert_memory_equal(g->data.bytes, "hello", 5);
    assert_int_equal(javm_cache_hold(f->cache, &a), JAVM_OK);
    assert_int_equal(rc_of(f->cache, &a), 3);
    javm_hash absent = fill(0xee);
    assert_int_equal(javm_cache_hold(f->cache, &absent), JAVM_ERR_NOT_FOUND);
    assert_null(javm_cache_get_hash(f->cache, &absent));
    javm_key k = javm_key_of_hash(&absent);
    assert_int_equal(javm_cache_incref(f->cache, &k), JAVM_ERR_NOT_FOUND);
    assert_int_equal(javm_cache_decref(f->cache, &k), JAVM_ERR_NOT_FOUND);
}

static void test_target_checks(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash img;
    javm_cap *tmp = img1();
    img = cap_h(tmp);
    javm_cap_free(tmp);
    javm_hash root = put_cnode(c, 4, NULL, NULL, 0);
    javm_hash chain = fill(0x42);
    javm_key rk = javm_key_of_hash(&root);
    javm_cap *inst;
    javm_hash h, miss;
    size_t before = javm_cache_blob_count(c);

    /* Image absent: TARGET_MISSING naming it, nothing changed. */
    assert_int_equal(javm_instance_new(&chain, &img, &rk, &inst), JAVM_OK);
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_ERR_TARGET_MISSING);
    assert_int_equal(javm_cache_last_missing(c, &miss), JAVM_OK);
    assert_hash_equal(miss, img);
    assert_int_equal(javm_cache_blob_count(c), before);
    assert_int_equal(rc_of(c, &root), 1);

    javm_hash imgh = put_free(c, img1());
    assert_hash_equal(imgh, img);
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_OK);
    assert_hash_hex(h, "e104e014d334390565d6d78845dc14fe3d29022d75551bcbba716fa626302f0d");
    assert_int_equal(rc_of(c, &root), 2);
    assert_int_equal(rc_of(c, &img), 2);
    javm_cap_free(inst);

    /* Overlay naming a CNode: WRONG_KIND; image naming a CNode: WRONG_KIND. */
    assert_int_equal(javm_instance_new(&chain, &img, &rk, &inst), JAVM_OK);
    assert_int_equal(javm_instance_add_overlay(inst, 0x1000, &root), JAVM_OK);
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_ERR_WRONG_KIND);
    javm_cap_free(inst);
    assert_int_equal(javm_instance_new(&chain, &root, &rk, &inst), JAVM_OK);
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_ERR_WRONG_KIND);
    javm_cap_free(inst);
    javm_key ik = javm_key_of_hash(&img);
    assert_int_equal(javm_instance_new(&chain, &img, &ik, &inst), JAVM_OK);
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_ERR_WRONG_KIND);
    javm_cap_free(inst);

    /* Overlay extents: a 2-page Data at 0x1000 overlaps one at 0x2000; one at 0xFFFFF000
     * fits exactly below 2^32; a 2-page Data there does not. */
    uint8_t big[5000];
    memset(big, 1, sizeof big);
    javm_cap *d;
    assert_int_equal(javm_data_new(big, sizeof big, &d), JAVM_OK);
    javm_hash two = put_free(c, d);
    javm_hash hello = put_free(c, data_str("hello"));
    assert_int_equal(javm_instance_new(&chain, &img, &rk, &inst), JAVM_OK);
    assert_int_equal(javm_instance_add_overlay(inst, 0x1000, &two), JAVM_OK);
    assert_int_equal(javm_instance_add_overlay(inst, 0x2000, &hello), JAVM_OK);
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_ERR_NON_CANONICAL);
    inst->instance.overlays[1].start = 0x3000;
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_OK);
    javm_cap_free(inst);
    assert_int_equal(javm_instance_new(&chain, &img, &rk, &inst), JAVM_OK);
    assert_int_equal(javm_instance_add_overlay(inst, 0xFFFFF000u, &hello), JAVM_OK);
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_OK);
    inst->instance.overlays[0].data = two;
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_ERR_NON_CANONICAL);
    /* Unsorted overlays are intrinsically non-canonical. */
    inst->instance.overlays[0].data = hello;
    assert_int_equal(javm_instance_add_overlay(inst, 0x1000, &hello), JAVM_OK);
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_ERR_NON_CANONICAL);
    javm_cap_free(inst);
    /* A REF inside a cap given to put: UNSETTLED. */
    javm_key ref = javm_key_of_ref(1);
    assert_int_equal(javm_instance_new(&chain, &img, &ref, &inst), JAVM_OK);
    assert_int_equal(javm_cache_put(c, inst, &h), JAVM_ERR_UNSETTLED);
    javm_cap_free(inst);
}

static void test_put_non_canonical_data(void **state)
{
    fx *f = *state;
    javm_cap *d;
    javm_hash h;
    size_t before = javm_cache_blob_count(f->cache);
    assert_int_equal(javm_data_new_paged(3 * 4096, &d), JAVM_OK);
    javm_hash m = fill(0x12);
    assert_int_equal(javm_data_page_missing(d, 0, &m), JAVM_OK);
    assert_int_equal(javm_cache_put(f->cache, d, &h), JAVM_ERR_NON_CANONICAL); /* last Empty */
    javm_hash e = sodium_h("", 0);
    assert_int_equal(javm_data_page_missing(d, 2, &e), JAVM_OK);
    assert_int_equal(javm_cache_put(f->cache, d, &h), JAVM_ERR_NON_CANONICAL); /* H("") */
    uint8_t *z = calloc(1, 4096);
    javm_hash zh = sodium_h(z, 4096);
    free(z);
    assert_int_equal(javm_data_page_missing(d, 2, &zh), JAVM_OK);
    assert_int_equal(javm_cache_put(f->cache, d, &h), JAVM_ERR_NON_CANONICAL); /* Z */
    assert_int_equal(javm_data_page_missing(d, 2, &m), JAVM_OK);
    assert_int_equal(javm_cache_put(f->cache, d, &h), JAVM_OK);
    assert_int_equal(javm_cache_blob_count(f->cache), before + 1);
    javm_cap_free(d);
}

static void test_get_mut(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash a = put_free(c, data_str("a")), b = put_free(c, data_str("b"));
    uint32_t slots[2] = { 1, 2 };
    javm_hash t[2] = { a, b };
    javm_hash cn = put_cnode(c, 2, slots, t, 2);
    assert_int_equal(rc_of(c, &a), 2);

    /* refcount 2: clone. Targets +1, blob -1. */
    assert_int_equal(javm_cache_hold(c, &cn), JAVM_OK);
    size_t blobs = javm_cache_blob_count(c);
    javm_ref r;
    javm_key k = javm_key_of_hash(&cn);
    assert_int_equal(javm_cache_get_mut(c, &k, &r), JAVM_OK);
    assert_int_equal(rc_of(c, &cn), 1);
    assert_int_equal(rc_of(c, &a), 3);
    assert_int_equal(rc_of(c, &b), 3);
    assert_int_equal(rc_ref(c, r), 1);
    assert_int_equal(javm_cache_blob_count(c), blobs);
    assert_int_equal(javm_cache_working_count(c), 1);
    /* A REF comes back as is. */
    javm_ref r2;
    javm_key rk = javm_key_of_ref(r);
    assert_int_equal(javm_cache_get_mut(c, &rk, &r2), JAVM_OK);
    assert_int_equal(r2, r);

    /* refcount 1: move. Blobs -1, working +1, targets unchanged. */
    assert_int_equal(javm_cache_get_mut(c, &k, &r2), JAVM_OK);
    assert_true(r2 != r);
    assert_int_equal(javm_cache_blob_count(c), blobs - 1);
    assert_int_equal(javm_cache_working_count(c), 2);
    assert_int_equal(rc_of(c, &a), 3);
    assert_null(javm_cache_get_hash(c, &cn));
    const javm_cap *w = javm_cache_get(c, &(javm_key){ .tag = JAVM_KEY_REF, .ref = r2 });
    assert_non_null(w);
    assert_int_equal(w->cnode.n_slots, 2);

    /* Image and Type refuse; absent is NOT_FOUND. */
    javm_hash img = put_free(c, img1());
    javm_key ik = javm_key_of_hash(&img);
    assert_int_equal(javm_cache_get_mut(c, &ik, &r2), JAVM_ERR_NON_MUTABLE_KIND);
    javm_hash ch = fill(0x42);
    javm_cap *ty;
    assert_int_equal(javm_type_new(&ch, &ty), JAVM_OK);
    javm_hash th = put_free(c, ty);
    javm_key tk = javm_key_of_hash(&th);
    assert_int_equal(javm_cache_get_mut(c, &tk, &r2), JAVM_ERR_NON_MUTABLE_KIND);
    javm_hash absent = fill(0x99);
    javm_key ak = javm_key_of_hash(&absent);
    assert_int_equal(javm_cache_get_mut(c, &ak, &r2), JAVM_ERR_NOT_FOUND);
    assert_int_equal(javm_cache_put_working(c, javm_cache_get_hash(c, &img), &r2),
                     JAVM_ERR_NON_MUTABLE_KIND);
}

static void test_settle_graph(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    /* Working graph: outer CNode(4) { 1: REF data "x", 2: REF inner CNode(2) { 0: REF data
     * "y", 3: HASH "z" } , 5: HASH "z" } */
    javm_hash z = put_free(c, data_str("z"));
    javm_cap *x = data_str("x"), *y = data_str("y"), *inner, *outer;
    javm_ref rx, ry, rin, rout;
    assert_int_equal(javm_cache_put_working(c, x, &rx), JAVM_OK);
    assert_int_equal(javm_cache_put_working(c, y, &ry), JAVM_OK);
    assert_int_equal(javm_cnode_new(2, &inner), JAVM_OK);
    assert_int_equal(javm_cache_put_working(c, inner, &rin), JAVM_OK);
    javm_key k = javm_key_of_ref(ry);
    assert_int_equal(javm_cache_cnode_set(c, rin, 0, &k), JAVM_OK);
    k = javm_key_of_hash(&z);
    assert_int_equal(javm_cache_cnode_set(c, rin, 3, &k), JAVM_OK);
    assert_int_equal(javm_cnode_new(4, &outer), JAVM_OK);
    assert_int_equal(javm_cache_put_working(c, outer, &rout), JAVM_OK);
    k = javm_key_of_ref(rx);
    assert_int_equal(javm_cache_cnode_set(c, rout, 1, &k), JAVM_OK);
    k = javm_key_of_ref(rin);
    assert_int_equal(javm_cache_cnode_set(c, rout, 2, &k), JAVM_OK);
    k = javm_key_of_hash(&z);
    assert_int_equal(javm_cache_cnode_set(c, rout, 5, &k), JAVM_OK);
    assert_int_equal(javm_cnode_set_slot(outer, 99, &k), JAVM_ERR_SLOT_OUT_OF_RANGE);
    assert_int_equal(javm_cache_cnode_set(c, rout, 16, &k), JAVM_ERR_SLOT_OUT_OF_RANGE);
    assert_int_equal(javm_cache_cnode_set(c, rx, 0, &k), JAVM_ERR_WRONG_KIND);
    /* The caller drops its holds on the inner nodes: the edges keep them. */
    javm_key dk = javm_key_of_ref(rx);
    assert_int_equal(javm_cache_decref(c, &dk), JAVM_OK);
    dk = javm_key_of_ref(ry);
    assert_int_equal(javm_cache_decref(c, &dk), JAVM_OK);
    dk = javm_key_of_ref(rin);
    assert_int_equal(javm_cache_decref(c, &dk), JAVM_OK);
    assert_int_equal(javm_cache_working_count(c), 4);
    assert_int_equal(rc_of(c, &z), 3);

    javm_hash h;
    javm_key root = javm_key_of_ref(rout);
    assert_int_equal(javm_cache_settle(c, &root, &h), JAVM_OK);
    assert_int_equal(javm_cache_working_count(c), 0);

    /* The same graph built directly from hashes. */
    javm_hash xh = cap_h(x), yh = cap_h(y);
    uint32_t is[2] = { 0, 3 };
    javm_hash it[2] = { yh, z };
    javm_cap *ic, *oc;
    assert_int_equal(javm_cnode_new(2, &ic), JAVM_OK);
    for (int i = 0; i < 2; i++) {
        javm_key kk = javm_key_of_hash(&it[i]);
        javm_cnode_set_slot(ic, is[i], &kk);
    }
    javm_hash ih = cap_h(ic);
    assert_int_equal(javm_cnode_new(4, &oc), JAVM_OK);
    javm_key kk = javm_key_of_hash(&xh);
    javm_cnode_set_slot(oc, 1, &kk);
    kk = javm_key_of_hash(&ih);
    javm_cnode_set_slot(oc, 2, &kk);
    kk = javm_key_of_hash(&z);
    javm_cnode_set_slot(oc, 5, &kk);
    javm_hash want = cap_h(oc);
    assert_hash_equal(h, want);
    /* Counts: the caller holds the outer; each inner is held by its one edge. */
    assert_int_equal(rc_of(c, &h), 1);
    assert_int_equal(rc_of(c, &ih), 1);
    assert_int_equal(rc_of(c, &xh), 1);
    assert_int_equal(rc_of(c, &yh), 1);
    assert_int_equal(rc_of(c, &z), 3);
    /* Graduated refs are forwarded. */
    javm_hash fw;
    assert_int_equal(javm_cache_forward(c, rin, &fw), JAVM_OK);
    assert_hash_equal(fw, ih);
    assert_int_equal(javm_cache_settle(c, &root, &fw), JAVM_OK);
    assert_hash_equal(fw, h);
    assert_non_null(javm_cache_get(c, &root));

    /* Release the outer: everything but z's put hold goes. */
    assert_int_equal(javm_cache_decref(c, &root), JAVM_OK);
    assert_null(javm_cache_get_hash(c, &ih));
    assert_null(javm_cache_get_hash(c, &xh));
    assert_int_equal(rc_of(c, &z), 1);
    assert_int_equal(javm_cache_blob_count(c), 1);
    javm_cap_free(x);
    javm_cap_free(y);
    javm_cap_free(inner);
    javm_cap_free(outer);
    javm_cap_free(ic);
    javm_cap_free(oc);
}

static void test_settle_dedup(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash abc = put_free(c, data_str("abc"));
    /* A working Data edited to equal the blob. */
    javm_ref r;
    javm_cap *w = data_str("abd");
    assert_int_equal(javm_cache_put_working(c, w, &r), JAVM_OK);
    javm_cap_free(w);
    javm_cap *m;
    assert_int_equal(javm_cache_working(c, r, &m), JAVM_OK);
    m->data.bytes[2] = 'c';
    javm_hash h;
    javm_key k = javm_key_of_ref(r);
    size_t blobs = javm_cache_blob_count(c);
    assert_int_equal(javm_cache_settle(c, &k, &h), JAVM_OK);
    assert_hash_equal(h, abc);
    assert_int_equal(javm_cache_blob_count(c), blobs);
    assert_int_equal(javm_cache_working_count(c), 0);
    assert_int_equal(rc_of(c, &abc), 2);

    /* A working Data with trailing zeros and a Paged form for 3 bytes is canonicalised. */
    assert_int_equal(javm_data_new_paged(8192, &w), JAVM_OK);
    uint8_t page[4096] = { 'a', 'b', 'c' };
    assert_int_equal(javm_data_page_load(w, 0, page), JAVM_OK);
    assert_int_equal(javm_cache_put_working(c, w, &r), JAVM_OK);
    javm_cap_free(w);
    k = javm_key_of_ref(r);
    assert_int_equal(javm_cache_settle(c, &k, &h), JAVM_OK);
    assert_hash_equal(h, abc);
    assert_int_equal(rc_of(c, &abc), 3);
}

static void test_settle_instance(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash img = put_free(c, img2());
    javm_cap *root;
    assert_int_equal(javm_cnode_new(8, &root), JAVM_OK);
    javm_ref rr, ri;
    assert_int_equal(javm_cache_put_working(c, root, &rr), JAVM_OK);
    javm_cap_free(root);
    javm_key rk = javm_key_of_ref(rr);
    javm_cap *inst;
    assert_int_equal(javm_instance_new(&img, &img, &rk, &inst), JAVM_OK);
    assert_int_equal(javm_cache_put_working(c, inst, &ri), JAVM_OK);
    javm_cap_free(inst);
    assert_int_equal(javm_cache_decref(c, &rk), JAVM_OK); /* the edge holds the root */

    javm_hash h;
    javm_key ik = javm_key_of_ref(ri);
    assert_int_equal(javm_cache_settle(c, &ik, &h), JAVM_OK);
    assert_hash_hex(h, "7b056bd563af2252b45a22931f5926a97d127dbbcfa46b3ed2fee80a57e10ec9");
    /* The Instance stays working, its root edge rewritten to the hash. */
    assert_int_equal(javm_cache_working_count(c), 1);
    const javm_cap *w = javm_cache_get(c, &ik);
    assert_int_equal(w->instance.root_cnode.tag, JAVM_KEY_HASH);
    assert_int_equal(rc_of(c, &h), 1); /* the caller's new hold */
    javm_hash r8 = w->instance.root_cnode.hash;
    assert_int_equal(rc_of(c, &r8), 2); /* the working Instance and the snapshot */
    /* Edit and settle again: a different snapshot. */
    javm_cap *m;
    assert_int_equal(javm_cache_working(c, ri, &m), JAVM_OK);
    m->instance.regs[7] = 42;
    javm_hash h2;
    assert_int_equal(javm_cache_settle(c, &ik, &h2), JAVM_OK);
    assert_memory_not_equal(h.b, h2.b, 32);

    /* Nested: a working CNode whose slot names the working Instance. */
    javm_cap *holder;
    javm_ref rh;
    assert_int_equal(javm_cnode_new(1, &holder), JAVM_OK);
    assert_int_equal(javm_cache_put_working(c, holder, &rh), JAVM_OK);
    javm_cap_free(holder);
    assert_int_equal(javm_cache_cnode_set(c, rh, 1, &ik), JAVM_OK);
    assert_int_equal(rc_ref(c, ri), 2);
    javm_key hk = javm_key_of_ref(rh);
    javm_hash hh;
    assert_int_equal(javm_cache_settle(c, &hk, &hh), JAVM_OK);
    /* The slot's count moved from the working Instance to the snapshot h2. */
    assert_int_equal(rc_ref(c, ri), 1);
    assert_int_equal(rc_of(c, &h2), 2);
    const javm_cap *g = javm_cache_get_hash(c, &hh);
    assert_non_null(g);
    assert_int_equal(g->cnode.slots[0].target.tag, JAVM_KEY_HASH);
    assert_hash_equal(g->cnode.slots[0].target.hash, h2);
}

static void test_cycle(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_cap *a;
    javm_ref ra, rb;
    assert_int_equal(javm_cnode_new(1, &a), JAVM_OK);
    assert_int_equal(javm_cache_put_working(c, a, &ra), JAVM_OK);
    assert_int_equal(javm_cache_put_working(c, a, &rb), JAVM_OK);
    javm_cap_free(a);
    javm_key ka = javm_key_of_ref(ra), kb = javm_key_of_ref(rb);
    assert_int_equal(javm_cache_cnode_set(c, ra, 0, &kb), JAVM_OK);
    assert_int_equal(javm_cache_cnode_set(c, rb, 1, &ka), JAVM_OK);
    javm_hash h;
    assert_int_equal(javm_cache_settle(c, &ka, &h), JAVM_ERR_CYCLE);
    assert_int_equal(javm_cache_working_count(c), 2);
    assert_int_equal(javm_cache_blob_count(c), 0);
    assert_int_equal(javm_cache_get(c, &ka)->cnode.slots[0].target.tag, JAVM_KEY_REF);
    /* Breaking the cycle lets it settle. */
    assert_int_equal(javm_cache_cnode_set(c, rb, 1, NULL), JAVM_OK);
    assert_int_equal(javm_cache_settle(c, &ka, &h), JAVM_OK);
    assert_int_equal(javm_cache_working_count(c), 0);
    assert_int_equal(javm_cache_blob_count(c), 2);
}

static void test_decref_cascade(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash a = put_free(c, data_str("a"));
    uint32_t s[1] = { 0 };
    javm_hash t[1] = { a };
    javm_hash cn = put_cnode(c, 0, s, t, 1);
    javm_key ak = javm_key_of_hash(&a);
    assert_int_equal(javm_cache_decref(c, &ak), JAVM_OK); /* only the edge holds "a" now */
    assert_int_equal(rc_of(c, &a), 1);
    javm_key ck = javm_key_of_hash(&cn);
    assert_int_equal(javm_cache_decref(c, &ck), JAVM_OK);
    assert_int_equal(javm_cache_blob_count(c), 0);

    /* A chain of 100000 CNodes, each holding the previous: the worklist frees it without
     * recursing. */
    javm_hash prev = put_free(c, data_str("leaf"));
    for (int i = 0; i < 100000; i++) {
        javm_hash next = put_cnode(c, 0, s, &prev, 1);
        javm_key pk = javm_key_of_hash(&prev);
        assert_int_equal(javm_cache_decref(c, &pk), JAVM_OK);
        prev = next;
    }
    assert_int_equal(javm_cache_blob_count(c), 100001);
    javm_key pk = javm_key_of_hash(&prev);
    assert_int_equal(javm_cache_decref(c, &pk), JAVM_OK);
    assert_int_equal(javm_cache_blob_count(c), 0);
}

static void test_overlay_edits(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash img = put_free(c, img2());
    javm_hash root = put_cnode(c, 8, NULL, NULL, 0);
    javm_hash hello = put_free(c, data_str("hello"));
    uint8_t big[5000];
    memset(big, 3, sizeof big);
    javm_cap *d;
    assert_int_equal(javm_data_new(big, sizeof big, &d), JAVM_OK);
    javm_hash two = put_free(c, d);
    javm_hash empty = put_free(c, data_str(""));
    javm_key rk = javm_key_of_hash(&root);
    javm_cap *inst;
    assert_int_equal(javm_instance_new(&img, &img, &rk, &inst), JAVM_OK);
    javm_ref r;
    assert_int_equal(javm_cache_put_working(c, inst, &r), JAVM_OK);
    javm_cap_free(inst);
    assert_int_equal(javm_cache_instance_set_overlay(c, r, 0x1000, &two), JAVM_OK);
    assert_int_equal(rc_of(c, &two), 2);
    assert_int_equal(javm_cache_instance_set_overlay(c, r, 0x2000, &hello), JAVM_ERR_NON_CANONICAL);
    assert_int_equal(javm_cache_instance_set_overlay(c, r, 0x3000, &hello), JAVM_OK);
    assert_int_equal(javm_cache_instance_set_overlay(c, r, 0x3001, &hello), JAVM_ERR_NON_CANONICAL);
    assert_int_equal(javm_cache_instance_set_overlay(c, r, 0x5000, &root), JAVM_ERR_WRONG_KIND);
    assert_int_equal(javm_cache_instance_set_overlay(c, r, 0x5000, &empty), JAVM_ERR_NON_CANONICAL);
    javm_hash absent = fill(0x31);
    assert_int_equal(javm_cache_instance_set_overlay(c, r, 0x5000, &absent), JAVM_ERR_NOT_FOUND);
    assert_int_equal(javm_cache_instance_set_overlay(c, r, 0xFFFFF000u, &two), JAVM_ERR_NON_CANONICAL);
    /* Replace 0x1000 by "hello" (the old Data is released), then remove it. */
    assert_int_equal(javm_cache_instance_set_overlay(c, r, 0x1000, &hello), JAVM_OK);
    assert_int_equal(rc_of(c, &two), 1);
    assert_int_equal(rc_of(c, &hello), 3);
    assert_int_equal(javm_cache_instance_set_overlay(c, r, 0x1000, NULL), JAVM_OK);
    assert_int_equal(rc_of(c, &hello), 2);
    const javm_cap *w = javm_cache_get(c, &(javm_key){ .tag = JAVM_KEY_REF, .ref = r });
    assert_int_equal(w->instance.n_overlays, 1);
    assert_int_equal(w->instance.overlays[0].start, 0x3000);
    javm_hash s;
    javm_key k = javm_key_of_ref(r);
    assert_int_equal(javm_cache_settle(c, &k, &s), JAVM_OK);
    assert_int_equal(rc_of(c, &hello), 3);
}

static void test_refcount_overflow(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash a = put_free(c, data_str("a"));
    cache_entry *e = cache_tab_find_hash(&c->blobs, &a);
    e->rc = JAVM_REFCOUNT_MAX;
    assert_int_equal(javm_cache_hold(c, &a), JAVM_ERR_REFCOUNT_OVERFLOW);
    javm_hash h;
    assert_int_equal(javm_cache_put(c, javm_cache_get_hash(c, &a), &h), JAVM_ERR_REFCOUNT_OVERFLOW);
    /* A CNode whose put would push "a" over: fails, nothing added. */
    uint32_t s[1] = { 0 };
    javm_cap *cn;
    assert_int_equal(javm_cnode_new(0, &cn), JAVM_OK);
    javm_key k = javm_key_of_hash(&a);
    javm_cnode_set_slot(cn, s[0], &k);
    size_t before = javm_cache_blob_count(c);
    assert_int_equal(javm_cache_put(c, cn, &h), JAVM_ERR_REFCOUNT_OVERFLOW);
    assert_int_equal(javm_cache_blob_count(c), before);
    assert_int_equal(e->rc, JAVM_REFCOUNT_MAX);
    javm_cap_free(cn);
    e->rc = 1;
}

/* Issue 13 item 1: inside a journal each entry's refcount is logged once (its value before
 * the journal, or before the running operation), so the undo log grows with the entries
 * touched, not with the number of changes; rollback still restores every count. */
static void test_journal_log_bounded(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash a = put_free(c, data_str("a"));
    javm_hash b = put_free(c, data_str("b"));
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    assert_int_equal(javm_journal_begin(c, NULL), JAVM_OK);
    javm_key ak = javm_key_of_hash(&a);
    /* A guest looping COPY/DROP on one slot: one hold and one decref per iteration. */
    for (int i = 0; i < 1000000; i++) {
        assert_int_equal(javm_cache_hold(c, &a), JAVM_OK);
        assert_int_equal(javm_cache_decref(c, &ak), JAVM_OK);
    }
    assert_true(c->log_len <= 2);
    assert_int_equal(javm_cache_hold(c, &a), JAVM_OK);
    assert_int_equal(rc_of(c, &a), 2);
    /* Operations of several steps log again inside themselves, so a failing one is undone to
     * its own start, not to the journal's: a CNode put holding "a" then missing a target. */
    uint32_t s[2] = { 0, 1 };
    javm_hash t[2] = { a, fill(0x77) };
    javm_cap *cn;
    assert_int_equal(javm_cnode_new(1, &cn), JAVM_OK);
    for (int i = 0; i < 2; i++) {
        javm_key k = javm_key_of_hash(&t[i]);
        assert_int_equal(javm_cnode_set_slot(cn, s[i], &k), JAVM_OK);
    }
    javm_hash h;
    assert_int_equal(javm_cache_put(c, cn, &h), JAVM_ERR_TARGET_MISSING);
    javm_cap_free(cn);
    assert_int_equal(rc_of(c, &a), 2);
    /* A successful one: its records of "a" fold into the journal's, "b" gets its first. */
    t[1] = b;
    javm_hash cnh = put_cnode(c, 1, s, t, 2);
    assert_int_equal(rc_of(c, &a), 3);
    assert_int_equal(rc_of(c, &b), 2);
    for (int i = 0; i < 100000; i++) {
        javm_hash again = put_cnode(c, 1, s, t, 2);
        assert_hash_equal(again, cnh);
        javm_key ck = javm_key_of_hash(&cnh);
        assert_int_equal(javm_cache_decref(c, &ck), JAVM_OK);
    }
    assert_true(c->log_len <= 8);
    javm_journal_abort(c, NULL);
    assert_int_equal(rc_of(c, &a), 1);
    assert_int_equal(rc_of(c, &b), 1);
    assert_null(javm_cache_get_hash(c, &cnh));

    /* The same changes committed. */
    assert_int_equal(javm_journal_begin(c, NULL), JAVM_OK);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(javm_cache_hold(c, &a), JAVM_OK);
    assert_int_equal(javm_journal_commit(c, NULL), JAVM_OK);
    assert_int_equal(rc_of(c, &a), 1001);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_target_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_non_canonical_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_mut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_graph, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_dedup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decref_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_edits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refcount_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_log_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
