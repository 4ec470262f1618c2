/* SPDX-License-Identifier: MIT
 * tests/test_rados_gc.c — gc on the RADOS store (docs/scale-out.md §5) against the test
 * cluster: unreachable blobs (small, chunked, orphan chunks) go two epochs after their last
 * stamp and reachable ones never; a touch keeps a blob one more epoch; a commit that gc
 * fenced resends with new stamps; a commit whose new blob gc collected meanwhile is a CONFLICT,
 * never a name pointing at a missing blob; javm_gc on a live counter. Store-level cases use
 * records of their own ("kind 0x99 ‖ child hashes"), read back through the collect callbacks.
 * Each run uses its own RADOS namespace. Skipped (77) without a cluster, except in CI. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cap_fixtures.h"
#include "tprog.h"
#include "vmfix.h"

#ifndef JAVM_TEST_HAVE_LIBRADOS
int main(void)
{
    printf("skipped: built without librados\n");
    return getenv("CI") && *getenv("CI") ? 1 : 77;
}
#else
#include <rados/librados.h>

#define NODE 0x99 /* a test record with edges: kind then 32-byte child hashes */
#define LEAF 0x30

#include "rados_fix.h"

/* A store of namespace ns with no grace between gc epochs. */
static javm_store *open_ns(const char *ns)
{
    javm_store *s = rfx_open(ns);
    assert_int_equal(javm_store_rados_gc_grace(s, 0), JAVM_OK);
    return s;
}

/* ---- test records and the collect callbacks ---- */

static bool may_have_edges(void *arg, uint8_t kind)
{
    (void)arg;
    return kind == NODE;
}

static int node_edges(void *arg, const uint8_t *hash, const uint8_t *rec, size_t n,
                      javm_store_edge_fn add, void *add_arg)
{
    (void)arg;
    (void)hash;
    if (n < 1 || rec[0] != NODE || (n - 1) % 32)
        return JAVM_ERR_STORE_CORRUPT;
    for (size_t o = 1; o < n; o += 32) {
        int rc = add(add_arg, rec + o);
        if (rc)
            return rc;
    }
    return JAVM_OK;
}

static const javm_store_collect HOW = { NULL, 0, may_have_edges, node_edges, NULL, NULL };

typedef struct blob {
    uint8_t h[32];
    uint8_t *rec;
    size_t n;
} blob;

static void hash_of(uint8_t h[32], const char *label)
{
    char b[128];
    int n = snprintf(b, sizeof b, "%s-%s", rfx_prefix, label);
    memset(h, 0, 32);
    memcpy(h, b, n < 32 ? (size_t)n : 32);
}

static blob leaf(const char *label, size_t n)
{
    blob b;
    hash_of(b.h, label);
    b.n = n;
    b.rec = malloc(n);
    assert_non_null(b.rec);
    for (size_t i = 0; i < n; i++)
        b.rec[i] = (uint8_t)(i * 7 + (unsigned char)label[0]);
    b.rec[0] = LEAF;
    return b;
}

static blob node(const char *label, const blob *kids, size_t nk)
{
    blob b;
    hash_of(b.h, label);
    b.n = 1 + 32 * nk;
    b.rec = malloc(b.n);
    assert_non_null(b.rec);
    b.rec[0] = NODE;
    for (size_t k = 0; k < nk; k++)
        memcpy(b.rec + 1 + 32 * k, kids[k].h, 32);
    return b;
}

static void put(javm_store *s, const blob *b)
{
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_BLOBS, b->h, 32, b->rec, b->n), JAVM_OK);
}

static void name_to(javm_store *s, const char *name, const blob *b)
{
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_NAMES, (const uint8_t *)name, strlen(name), b->h,
                                  32),
                     JAVM_OK);
}

/* What a new store gets from the cache: its format and hash profile (the meta object). */
static void init_meta(javm_store *s)
{
    static const uint8_t one[4] = { 1, 0, 0, 0 };
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_META, (const uint8_t *)"format", 6, one, 4),
                     JAVM_OK);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_META, (const uint8_t *)"hash_profile", 12,
                                  (const uint8_t *)"blake2b-256-tagged", 18),
                     JAVM_OK);
}

static bool present(javm_store *s, const blob *b)
{
    const uint8_t *v;
    size_t n;
    int rc = s->vtbl->get(s, JAVM_TABLE_BLOBS, b->h, 32, &v, &n);
    if (rc == JAVM_ERR_NOT_FOUND)
        return false;
    assert_int_equal(rc, JAVM_OK);
    assert_int_equal(n, b->n);
    assert_memory_equal(v, b->rec, n);
    return true;
}

static javm_rados_gc_stats gc(javm_store *s)
{
    int rc = s->vtbl->collect(s, &HOW);
    if (rc)
        fail_msg("gc: %s: %s", javm_strerror(rc), javm_store_errmsg(s));
    javm_rados_gc_stats st;
    assert_int_equal(javm_store_rados_gc_stats(s, &st), JAVM_OK);
    return st;
}

/* Objects of namespace ns whose name starts with prefix, counted with librados itself. */
static size_t count_objects(const char *ns, const char *prefix)
{
    rados_t cl;
    rados_ioctx_t io;
    char full[128];
    snprintf(full, sizeof full, "%s-%s", rfx_prefix, ns);
    assert_int_equal(rados_create(&cl, NULL), 0);
    assert_int_equal(rados_conf_read_file(cl, rfx_conf), 0);
    assert_int_equal(rados_connect(cl), 0);
    assert_int_equal(rados_ioctx_create(cl, "javm", &io), 0);
    rados_ioctx_set_namespace(io, full);
    rados_list_ctx_t lc;
    assert_int_equal(rados_nobjects_list_open(io, &lc), 0);
    const char *e, *k, *nsp;
    size_t n = 0;
    while (rados_nobjects_list_next(lc, &e, &k, &nsp) == 0)
        n += strncmp(e, prefix, strlen(prefix)) == 0;
    rados_nobjects_list_close(lc);
    rados_ioctx_destroy(io);
    rados_shutdown(cl);
    return n;
}

/* An orphan chunk, as a writer killed before its first object leaves it. */
static void orphan_chunk(const char *ns, const blob *of)
{
    rados_t cl;
    rados_ioctx_t io;
    char full[128], oid[160];
    snprintf(full, sizeof full, "%s-%s", rfx_prefix, ns);
    assert_int_equal(rados_create(&cl, NULL), 0);
    assert_int_equal(rados_conf_read_file(cl, rfx_conf), 0);
    assert_int_equal(rados_connect(cl), 0);
    assert_int_equal(rados_ioctx_create(cl, "javm", &io), 0);
    rados_ioctx_set_namespace(io, full);
    int w = snprintf(oid, sizeof oid, "b.");
    for (int i = 0; i < 32; i++)
        w += snprintf(oid + w, sizeof oid - (size_t)w, "%02x", of->h[i]);
    snprintf(oid + w, sizeof oid - (size_t)w, ".%016x.%u", 0x1234u, 1u); /* as chunk_oid */
    uint8_t t[8] = { 0 };
    assert_int_equal(rados_write_full(io, oid, "chunk", 5), 0);
    assert_int_equal(rados_setxattr(io, oid, "javm.t", (const char *)t, 8), 0);
    rados_ioctx_destroy(io);
    rados_shutdown(cl);
}

/* ---- cases ---- */

/* Unreachable blobs go in the second epoch after their stamp (the first never deletes
 * anything of its own epoch or the one before), with their chunks; reachable ones stay,
 * chunked or not; an orphan chunk goes too. */
static void test_reclaims_unreachable_only(void **state)
{
    (void)state;
    javm_store *s = open_ns("reclaim");
    blob r2 = leaf("r2", 100), big = leaf("big", (9u << 20) + 5);
    blob r1 = node("r1", (blob[]){ r2, big }, 2);
    blob g2 = leaf("g2", 200), gbig = leaf("gbig", (9u << 20) + 7);
    blob g1 = node("g1", (blob[]){ g2, r2 }, 2); /* garbage that shares a child with a root */
    blob gone_parent = leaf("never-written", 10);
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    init_meta(s);
    put(s, &r2);
    put(s, &big);
    put(s, &r1);
    put(s, &g2);
    put(s, &gbig);
    put(s, &g1);
    name_to(s, "root", &r1);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
    orphan_chunk("reclaim", &gone_parent);
    assert_int_equal(count_objects("reclaim", "b."), 6 + 2 + 2 + 1); /* firsts, chunks, orphan */

    javm_rados_gc_stats st = gc(s); /* epoch 1: everything is recent */
    assert_int_equal(st.epoch, 1);
    assert_int_equal(st.deleted, 0);
    assert_int_equal(st.kept_stamped, 2); /* g1 (g2 with it, as its child) and gbig */
    assert_true(present(s, &g1) && present(s, &gbig));

    st = gc(s); /* epoch 2: stamps of epoch 0 are two epochs old */
    assert_int_equal(st.epoch, 2);
    assert_int_equal(st.deleted, 3);
    assert_int_equal(st.chunks_deleted, 2 + 1);
    assert_false(present(s, &g1));
    assert_false(present(s, &g2));
    assert_false(present(s, &gbig));
    assert_true(present(s, &r1) && present(s, &r2) && present(s, &big));
    assert_int_equal(count_objects("reclaim", "b."), 3 + 2);

    st = gc(s); /* nothing more to do, and never a reachable blob */
    assert_int_equal(st.deleted, 0);
    assert_int_equal(st.chunks_deleted, 0);
    assert_true(present(s, &r1) && present(s, &r2) && present(s, &big));
    for (blob *b = (blob[]){ r2, big, r1, g2, gbig, g1, gone_parent }, *e = b + 7; b < e; b++)
        free(b->rec);
    javm_store_close(s);
}

/* A touch in a transaction (even one that is aborted) stamps the blob with the current epoch:
 * it survives one more gc. */
static void test_touch_keeps_one_more_epoch(void **state)
{
    (void)state;
    javm_store *s = open_ns("touch");
    blob k = leaf("k", 64), root = leaf("root", 8);
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    init_meta(s);
    put(s, &k);
    put(s, &root);
    name_to(s, "x", &root);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
    gc(s); /* epoch 1 */
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->touch(s, k.h), JAVM_OK); /* stamp 1 */
    s->vtbl->abort(s);
    javm_rados_gc_stats st = gc(s); /* epoch 2: k's stamp 1 is recent */
    assert_int_equal(st.deleted, 0);
    assert_true(present(s, &k));
    st = gc(s); /* epoch 3 */
    assert_int_equal(st.deleted, 1);
    assert_false(present(s, &k));
    /* a touch of a collected blob says so, and creates nothing */
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->touch(s, k.h), JAVM_ERR_NOT_FOUND);
    s->vtbl->abort(s);
    assert_false(present(s, &k));
    free(k.rec);
    free(root.rec);
    javm_store_close(s);
}

/* gc fences a head between a transaction's read and its commit: the commit restamps what it
 * wrote and goes through (no CONFLICT: the version did not move), and stays reachable. */
static void test_fenced_commit_resends(void **state)
{
    (void)state;
    javm_store *a = open_ns("fence"), *g = open_ns("fence");
    blob a0 = leaf("a0", 16), m = leaf("m", 16);
    assert_int_equal(a->vtbl->begin(a), JAVM_OK);
    init_meta(a);
    put(a, &a0);
    name_to(a, "n", &a0);
    assert_int_equal(a->vtbl->commit(a), JAVM_OK);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(a->vtbl->begin(a), JAVM_OK);
    assert_int_equal(a->vtbl->get(a, JAVM_TABLE_NAMES, (const uint8_t *)"n", 1, &v, &vl), JAVM_OK);
    put(a, &m);
    name_to(a, "n", &m);
    javm_rados_gc_stats st = gc(g);
    assert_int_equal(st.heads, 1);
    assert_int_equal(a->vtbl->commit(a), JAVM_OK);
    gc(g);
    gc(g);
    st = gc(g);
    assert_true(present(g, &m));
    assert_int_equal(g->vtbl->get(g, JAVM_TABLE_NAMES, (const uint8_t *)"n", 1, &v, &vl), JAVM_OK);
    assert_memory_equal(v, m.h, 32);
    assert_false(present(g, &a0)); /* the old value went */
    free(a0.rec);
    free(m.rec);
    javm_store_close(a);
    javm_store_close(g);
}

/* A transaction that waited through two gc epochs: the blob it wrote was unreachable and two
 * epochs old, so gc removed it; the commit must not name it (CONFLICT), and the name keeps
 * its old, complete value. */
static void test_stale_commit_conflicts(void **state)
{
    (void)state;
    javm_store *a = open_ns("stale"), *g = open_ns("stale");
    blob a0 = leaf("a0", 16), nb = leaf("new", 16);
    assert_int_equal(a->vtbl->begin(a), JAVM_OK);
    init_meta(a);
    put(a, &a0);
    name_to(a, "n", &a0);
    assert_int_equal(a->vtbl->commit(a), JAVM_OK);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(a->vtbl->begin(a), JAVM_OK);
    assert_int_equal(a->vtbl->get(a, JAVM_TABLE_NAMES, (const uint8_t *)"n", 1, &v, &vl), JAVM_OK);
    put(a, &nb);
    name_to(a, "n", &nb);
    gc(g);
    javm_rados_gc_stats st = gc(g);
    assert_int_equal(st.deleted, 1); /* nb: unreachable, stamped two epochs ago */
    assert_int_equal(a->vtbl->commit(a), JAVM_ERR_CONFLICT);
    assert_non_null(strstr(javm_store_errmsg(a), "collected"));
    assert_int_equal(g->vtbl->get(g, JAVM_TABLE_NAMES, (const uint8_t *)"n", 1, &v, &vl), JAVM_OK);
    assert_memory_equal(v, a0.h, 32);
    assert_true(present(g, &a0));
    free(a0.rec);
    free(nb.rec);
    javm_store_close(a);
    javm_store_close(g);
}

/* A transaction read a name; another client moved it and gc took the old state: reading the
 * old state now is a CONFLICT (re-run), never "not found". A blob that was never there, with
 * the name unmoved, is still NOT_FOUND. */
static void test_read_of_collected_state_conflicts(void **state)
{
    (void)state;
    javm_store *a = open_ns("readgone"), *b = open_ns("readgone");
    blob old = leaf("old", 24), young = leaf("young", 24), never = leaf("never", 4);
    assert_int_equal(b->vtbl->begin(b), JAVM_OK);
    init_meta(b);
    put(b, &old);
    name_to(b, "n", &old);
    assert_int_equal(b->vtbl->commit(b), JAVM_OK);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(a->vtbl->begin(a), JAVM_OK);
    assert_int_equal(a->vtbl->get(a, JAVM_TABLE_NAMES, (const uint8_t *)"n", 1, &v, &vl), JAVM_OK);
    assert_int_equal(a->vtbl->get(a, JAVM_TABLE_BLOBS, never.h, 32, &v, &vl), JAVM_ERR_NOT_FOUND);
    assert_int_equal(b->vtbl->begin(b), JAVM_OK);
    put(b, &young);
    name_to(b, "n", &young);
    assert_int_equal(b->vtbl->commit(b), JAVM_OK);
    gc(b);
    javm_rados_gc_stats st = gc(b);
    assert_int_equal(st.deleted, 1); /* old */
    assert_int_equal(a->vtbl->get(a, JAVM_TABLE_BLOBS, old.h, 32, &v, &vl), JAVM_ERR_CONFLICT);
    assert_non_null(strstr(javm_store_errmsg(a), "moved"));
    a->vtbl->abort(a);
    free(old.rec);
    free(young.rec);
    free(never.rec);
    javm_store_close(a);
    javm_store_close(b);
}

/* A client touches a garbage blob after gc read the stamps and before it deletes: the
 * conditional delete refuses, and the blob stays with everything below it (parents go first,
 * so its child was not deleted before it). */
typedef struct racer {
    javm_store *s;
    const uint8_t *h;
    int touched;
} racer;

static void race_step(void *arg, const char *name)
{
    racer *r = arg;
    if (strcmp(name, "stamped") != 0)
        return;
    assert_int_equal(r->s->vtbl->begin(r->s), JAVM_OK);
    r->touched = r->s->vtbl->touch(r->s, r->h);
    r->s->vtbl->abort(r->s);
}

static void test_touch_during_sweep_keeps(void **state)
{
    (void)state;
    javm_store *s = open_ns("race"), *c = open_ns("race");
    blob kid = leaf("kid", 40), root = leaf("root", 8);
    blob top = node("top", &kid, 1);
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    init_meta(s);
    put(s, &kid);
    put(s, &top);
    put(s, &root);
    name_to(s, "x", &root);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
    gc(s); /* epoch 1: top and kid are recent */
    racer r = { c, top.h, -1 };
    javm_store_collect how = HOW;
    how.arg = &r;
    how.step = race_step;
    assert_int_equal(s->vtbl->collect(s, &how), JAVM_OK); /* epoch 2, raced */
    javm_rados_gc_stats st;
    assert_int_equal(javm_store_rados_gc_stats(s, &st), JAVM_OK);
    assert_int_equal(r.touched, JAVM_OK);
    assert_int_equal(st.kept_racing, 1);
    assert_int_equal(st.deleted, 0);
    assert_true(present(s, &top));
    assert_true(present(s, &kid));
    st = gc(s); /* epoch 3: the touch (stamp 2, the epoch it raced) still counts */
    assert_int_equal(st.deleted, 0);
    st = gc(s); /* epoch 4: both go, parent first */
    assert_int_equal(st.deleted, 2);
    assert_false(present(s, &top));
    assert_false(present(s, &kid));
    free(kid.rec);
    free(top.rec);
    free(root.rec);
    javm_store_close(s);
    javm_store_close(c);
}

/* ---- through javm_gc: a counter, its old instances, and a cache that outlives a gc ---- */

static const uint64_t NOARGS[4] = { 0, 0, 0, 0 };

static uint64_t bump(rfx_client *c, const char *name)
{
    javm_hash inst;
    size_t len = strlen(name);
    assert_int_equal(javm_name_get(c->cache, (const uint8_t *)name, len, &inst), JAVM_OK);
    javm_invoke_opts o = { (const uint8_t *)name, len };
    javm_call_result r;
    int rc = javm_invoke(c->vm, c->cache, c->ka, &inst, 0, NOARGS, 1000, NULL, &o, &r);
    if (rc)
        fail_msg("invoke %s: %s: %s", name, javm_strerror(rc), javm_store_errmsg(c->store));
    assert_int_equal(r.kind, JAVM_RES_HALT);
    javm_key k = javm_key_of_hash(&r.post_instance);
    assert_int_equal(javm_cache_decref(c->cache, &k), JAVM_OK);
    return r.return_value;
}

static void test_javm_gc_counter(void **state)
{
    (void)state;
    rfx_client a, g;
    rfx_client_open(&a, "counter");
    rfx_client_open(&g, "counter");
    assert_int_equal(javm_store_rados_gc_grace(g.store, 0), JAVM_OK);
    javm_hash inst = rfx_spawn_counter(a.cache);
    assert_int_equal(javm_name_set(a.cache, (const uint8_t *)"c", 1, &inst), JAVM_OK);
    assert_int_equal(javm_commit(a.cache, a.ka), JAVM_OK);
    uint64_t v = 0;
    for (int i = 0; i < 4; i++)
        v = bump(&a, "c");
    assert_int_equal(v, 4);
    size_t before = count_objects("counter", "b.");
    javm_rados_gc_stats st;
    for (int i = 0; i < 3; i++) {
        int rc = javm_gc(g.vm, g.cache, g.ka, NULL, 0);
        if (rc)
            fail_msg("javm_gc: %s: %s", javm_strerror(rc), javm_store_errmsg(g.store));
        assert_int_equal(javm_store_rados_gc_stats(g.store, &st), JAVM_OK);
        v = bump(&a, "c"); /* commits go on between the runs */
    }
    assert_int_equal(v, 7);
    size_t after = count_objects("counter", "b.");
    printf("# counter: %zu blob objects before gc, %zu after three runs\n", before, after);
    assert_true(after < before);
    /* a fresh client finds everything the name reaches */
    rfx_client b;
    rfx_client_open(&b, "counter");
    assert_int_equal(bump(&b, "c"), 8);
    rfx_client_close(&b);
    /* javm_gc on RADOS before the grace: BUSY, nothing changed */
    assert_int_equal(javm_store_rados_gc_grace(g.store, 3600), JAVM_OK);
    assert_int_equal(javm_gc(g.vm, g.cache, g.ka, NULL, 0), JAVM_ERR_BUSY);
    assert_non_null(strstr(javm_store_errmsg(g.store), "grace"));
    rfx_client_close(&a);
    rfx_client_close(&g);
}

int main(void)
{
    int st = rfx_setup("test_rados_gc", 'g');
    if (st >= 0)
        return st;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reclaims_unreachable_only),
        cmocka_unit_test(test_touch_keeps_one_more_epoch),
        cmocka_unit_test(test_fenced_commit_resends),
        cmocka_unit_test(test_stale_commit_conflicts),
        cmocka_unit_test(test_touch_during_sweep_keeps),
        cmocka_unit_test(test_read_of_collected_state_conflicts),
        cmocka_unit_test(test_javm_gc_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
