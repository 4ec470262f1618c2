/* SPDX-License-Identifier: MIT
 * tests/test_cache_persist.c — persistence of the cache (caps.md §5.6, §5.7, §11.2): explicit
 * commit through the store, per-invocation journals (abort restores everything exactly, commit
 * persists, a foreign commit makes resume conflict), names, gc from roots, JIMG image files and
 * JCAP import. Runs on the in-memory store and, as test_cache_persist_rados, on RADOS
 * (tests/support/test_store.h), where the cache sees a JAVM_STORE_SHARED store and the rules
 * of docs/scale-out.md §2/§4 replace stored refcounts, deletions, the global generation and
 * javm_gc: each test checks the rule of the store it runs on. */
#include "cap_fixtures.h"
#include "cache/cache.h" /* CACHE_STORE_HOLD */
#include "support/test_store.h"

typedef struct fx {
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
    char loc[TSTORE_LOC];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tstore_make(f->loc);
    assert_int_equal(tstore_open(f->loc, false, &f->store), JAVM_OK);
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
    tstore_remove(f->loc);
    free(f);
    return 0;
}

/* The count a fresh cache gives a committed blob that n holds refer to: n stored refcounts, or
 * on RADOS none stored and the store's one implicit hold (scale-out.md §4). */
static uint32_t committed_rc(uint32_t n)
{
    return tstore_is_rados() ? CACHE_STORE_HOLD : n;
}

/* ---- snapshot of everything a journal must restore ------------------------------------- */

typedef struct snap {
    size_t n;
    javm_hash h[64];
    uint32_t rc[64];
    uint8_t kind[64];
    size_t working;
    bool name_set;
    javm_hash name;
    uint64_t quota0, quota1, next_file;
    size_t n_files;
    uint64_t file_id[16];
    javm_hash file_h[16];
} snap;

static int snap_blob(void *arg, const javm_hash *h, const javm_cap *cap, uint32_t rc)
{
    snap *s = arg;
    assert_true(s->n < 64);
    s->h[s->n] = *h;
    s->rc[s->n] = rc;
    s->kind[s->n] = (uint8_t)cap->kind;
    s->n++;
    return 0;
}

static int snap_file(void *arg, uint64_t id, const javm_hash *h)
{
    snap *s = arg;
    s->file_id[s->n_files] = id;
    s->file_h[s->n_files] = *h;
    s->n_files++;
    return 0;
}

static void take(fx *f, snap *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(javm_cache_iter_blobs(f->cache, snap_blob, s), JAVM_OK);
    s->working = javm_cache_working_count(f->cache);
    s->name_set = javm_name_get(f->cache, (const uint8_t *)"N", 1, &s->name) == JAVM_OK;
    s->quota0 = f->ka->vtbl->storage_quota_get(f->ka, 0);
    s->quota1 = f->ka->vtbl->storage_quota_get(f->ka, 1);
    s->next_file = javm_ka_mem_next_file_id(f->ka);
    assert_int_equal(f->ka->vtbl->file_iter(f->ka, snap_file, s), 0);
}

static void same(const snap *a, const snap *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_hash_equal(a->h[i], b->h[i]);
        assert_int_equal(a->rc[i], b->rc[i]);
        assert_int_equal(a->kind[i], b->kind[i]);
    }
    assert_int_equal(a->working, b->working);
    assert_int_equal(a->name_set, b->name_set);
    if (a->name_set)
        assert_hash_equal(a->name, b->name);
    assert_int_equal(a->quota0, b->quota0);
    assert_int_equal(a->quota1, b->quota1);
    assert_int_equal(a->next_file, b->next_file);
    assert_int_equal(a->n_files, b->n_files);
    for (size_t i = 0; i < a->n_files; i++) {
        assert_int_equal(a->file_id[i], b->file_id[i]);
        assert_hash_equal(a->file_h[i], b->file_h[i]);
    }
}

/* An Instance of IMG2 with an empty size_log 8 root and mem_size m (distinct hashes). */
static javm_hash put_instance(javm_cache *c, uint32_t m)
{
    javm_hash img = put_free(c, img2());
    javm_cap *root;
    assert_int_equal(javm_cnode_new(8, &root), JAVM_OK);
    javm_hash rh = put_free(c, root);
    javm_key rk = javm_key_of_hash(&rh);
    javm_cap *inst;
    assert_int_equal(javm_instance_new(&img, &img, &rk, &inst), JAVM_OK);
    inst->instance.mem_size = m;
    javm_hash h = put_free(c, inst);
    javm_key k = javm_key_of_hash(&img);
    assert_int_equal(javm_cache_decref(c, &k), JAVM_OK);
    k = javm_key_of_hash(&rh);
    assert_int_equal(javm_cache_decref(c, &k), JAVM_OK);
    return h;
}

static void populate(fx *f, javm_hash *inst, javm_hash *stored)
{
    *inst = put_instance(f->cache, 0);
    assert_int_equal(javm_name_set(f->cache, (const uint8_t *)"N", 1, inst), JAVM_OK);
    *stored = put_free(f->cache, data_str("stored"));
    f->ka->vtbl->storage_quota_set(f->ka, 0, 100);
    assert_int_equal(javm_ka_mem_register_file(f->ka, f->cache, 9, stored), JAVM_OK);
    put_free(f->cache, data_str("temp"));
}

static void test_journal_abort_restores(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash inst, stored;
    populate(f, &inst, &stored);
    assert_int_equal(javm_commit(c, f->ka), JAVM_OK);
    /* Uncommitted changes before the journal are kept by the abort too. */
    javm_hash pre = put_free(c, data_str("pre-journal"));
    snap before, after;
    take(f, &before);

    assert_int_equal(javm_journal_begin(c, f->ka), JAVM_OK);
    assert_true(javm_journal_is_open(c));
    assert_int_equal(javm_commit(c, f->ka), JAVM_ERR_BUSY);
    assert_int_equal(javm_journal_begin(c, f->ka), JAVM_ERR_BUSY);
    assert_int_equal(javm_gc(NULL, c, f->ka, NULL, 0), JAVM_ERR_BUSY);
    /* New blobs, holds, a removal cascade, a move, working edits, settle, names, ka. */
    javm_hash n1 = put_free(c, data_str("new"));
    assert_int_equal(javm_cache_hold(c, &stored), JAVM_OK);
    javm_hash temp = cap_h(javm_cache_get_hash(c, &pre));
    javm_key pk = javm_key_of_hash(&temp);
    assert_int_equal(javm_cache_decref(c, &pk), JAVM_OK); /* removes "pre-journal" */
    assert_null(javm_cache_get_hash(c, &pre));
    javm_hash other = put_instance(c, 4096);
    assert_int_equal(javm_name_set(c, (const uint8_t *)"N", 1, &other), JAVM_OK);
    assert_int_equal(javm_name_set(c, (const uint8_t *)"M", 1, &other), JAVM_OK);
    javm_ref r;
    javm_key nk = javm_key_of_hash(&n1);
    assert_int_equal(javm_cache_get_mut(c, &nk, &r), JAVM_OK); /* move */
    javm_cap *w;
    assert_int_equal(javm_cache_working(c, r, &w), JAVM_OK);
    w->data.bytes[0] = 'N';
    javm_hash settled;
    javm_key rk = javm_key_of_ref(r);
    assert_int_equal(javm_cache_settle(c, &rk, &settled), JAVM_OK);
    uint64_t fid;
    assert_int_equal(f->ka->vtbl->host_save(f->ka, &stored, 0, 6, &fid), JAVM_OK);
    assert_int_equal(fid, 1);
    f->ka->vtbl->storage_quota_set(f->ka, 1, 5);
    assert_int_equal(javm_ka_mem_register_file(f->ka, c, 11, &settled), JAVM_OK);
    javm_journal_abort(c, f->ka);
    assert_false(javm_journal_is_open(c));

    take(f, &after);
    same(&before, &after);
    javm_hash got;
    assert_int_equal(javm_name_get(c, (const uint8_t *)"M", 1, &got), JAVM_ERR_NOT_FOUND);
    assert_non_null(javm_cache_get_hash(c, &pre));
}

static void test_journal_abort_working(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    /* A working CNode edited (slots and direct access) inside a journal comes back as it was. */
    javm_hash a = put_free(c, data_str("a")), b = put_free(c, data_str("b"));
    javm_cap *cn;
    assert_int_equal(javm_cnode_new(2, &cn), JAVM_OK);
    javm_ref r;
    assert_int_equal(javm_cache_put_working(c, cn, &r), JAVM_OK);
    javm_cap_free(cn);
    javm_key ak = javm_key_of_hash(&a), bk = javm_key_of_hash(&b);
    assert_int_equal(javm_cache_cnode_set(c, r, 0, &ak), JAVM_OK);
    javm_cap *wd = data_str("xyz");
    javm_ref rd;
    assert_int_equal(javm_cache_put_working(c, wd, &rd), JAVM_OK);
    javm_cap_free(wd);
    snap before, after;
    take(f, &before);
    assert_int_equal(javm_journal_begin(c, f->ka), JAVM_OK);
    assert_int_equal(javm_cache_cnode_set(c, r, 0, &bk), JAVM_OK);
    assert_int_equal(javm_cache_cnode_set(c, r, 1, &ak), JAVM_OK);
    assert_int_equal(javm_cache_cnode_set(c, r, 3, &bk), JAVM_OK);
    javm_cap *w;
    assert_int_equal(javm_cache_working(c, rd, &w), JAVM_OK);
    w->data.bytes[0] = 'Q';
    javm_hash h;
    javm_key rk = javm_key_of_ref(r);
    assert_int_equal(javm_cache_settle(c, &rk, &h), JAVM_OK);
    assert_int_equal(javm_cache_working_count(c), 1);
    javm_journal_abort(c, f->ka);
    take(f, &after);
    same(&before, &after);
    const javm_cap *g = javm_cache_get(c, &rk);
    assert_non_null(g);
    assert_int_equal(g->cnode.n_slots, 1);
    assert_hash_equal(g->cnode.slots[0].target.hash, a);
    javm_key dk = javm_key_of_ref(rd);
    g = javm_cache_get(c, &dk);
    assert_memory_equal(g->data.bytes, "xyz", 3);
    assert_int_equal(rc_of(c, &a), 2);
    assert_int_equal(rc_of(c, &b), 1);
}

/* scale-out.md §4 on RADOS: no stored counts; a blob loaded from the store carries the store's
 * implicit hold, so dropping every hold this process has never deletes it, and only the
 * store's own gc removes blobs. */
static void commit_and_reopen_shared(fx *f, const javm_hash *inst, const javm_hash *stored,
                                     const javm_hash *dirty)
{
    javm_cache *c = f->cache, *c2;
    assert_int_equal(rc_of(c, stored), CACHE_STORE_HOLD);
    assert_int_equal(rc_of(c, dirty), 1);
    javm_key dk = javm_key_of_hash(dirty);
    assert_int_equal(javm_cache_decref(c, &dk), JAVM_OK);
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_int_equal(javm_cache_blob_count(c2), 0);
    javm_hash got;
    assert_int_equal(javm_name_get(c2, (const uint8_t *)"N", 1, &got), JAVM_OK);
    assert_hash_equal(got, *inst);
    const javm_cap *g = javm_cache_get_hash(c2, inst);
    assert_non_null(g);
    assert_int_equal(g->kind, JAVM_KIND_INSTANCE);
    assert_int_equal(rc_of(c2, inst), CACHE_STORE_HOLD);
    javm_cache_close(c2);
    /* Two decrefs (the put's and the file's hold in the LMDB run) and a commit: still
     * stored, still loadable here and by another cache. */
    javm_key sk = javm_key_of_hash(stored);
    assert_int_equal(javm_cache_decref(c, &sk), JAVM_OK);
    assert_int_equal(javm_cache_decref(c, &sk), JAVM_OK);
    assert_non_null(javm_cache_get_hash(c, stored));
    assert_int_equal(javm_commit(c, f->ka), JAVM_OK);
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_non_null(javm_cache_get_hash(c2, stored));
    assert_int_equal(rc_of(c2, stored), CACHE_STORE_HOLD);
    javm_cache_close(c2);
}

static void test_commit_and_reopen(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash inst, stored;
    populate(f, &inst, &stored);
    javm_cap *wd = data_str("w");
    javm_ref r;
    assert_int_equal(javm_cache_put_working(c, wd, &r), JAVM_OK);
    javm_cap_free(wd);
    assert_int_equal(javm_commit(c, f->ka), JAVM_ERR_UNSETTLED);
    javm_key rk = javm_key_of_ref(r);
    assert_int_equal(javm_cache_decref(c, &rk), JAVM_OK);
    uint64_t g0 = javm_cache_generation(c);
    assert_int_equal(javm_commit(c, f->ka), JAVM_OK);
    assert_int_equal(javm_cache_generation(c), g0 + 1);

    /* Clean entries can be evicted and come back from the store with their counts; a dirty
     * one stays. */
    javm_hash dirty = put_free(c, data_str("dirty"));
    javm_cache_evict_clean(c);
    assert_int_equal(javm_cache_blob_count(c), 1);
    if (tstore_is_rados()) {
        commit_and_reopen_shared(f, &inst, &stored, &dirty);
        return;
    }
    assert_int_equal(rc_of(c, &stored), 2);
    assert_int_equal(rc_of(c, &dirty), 1);
    javm_key dk = javm_key_of_hash(&dirty);
    assert_int_equal(javm_cache_decref(c, &dk), JAVM_OK);
    /* A second cache on the same store sees the committed state, loaded on demand. */
    javm_cache *c2;
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_int_equal(javm_cache_blob_count(c2), 0);
    javm_hash got;
    assert_int_equal(javm_name_get(c2, (const uint8_t *)"N", 1, &got), JAVM_OK);
    assert_hash_equal(got, inst);
    assert_int_equal(rc_of(c2, &stored), 2);
    const javm_cap *g = javm_cache_get_hash(c2, &inst);
    assert_non_null(g);
    assert_int_equal(g->kind, JAVM_KIND_INSTANCE);
    assert_int_equal(rc_of(c2, &inst), 2); /* the put and the name */
    javm_cache_close(c2);

    /* A removal is a queued deletion until the next commit. */
    javm_key sk = javm_key_of_hash(&stored);
    assert_int_equal(javm_cache_decref(c, &sk), JAVM_OK);
    assert_int_equal(javm_cache_decref(c, &sk), JAVM_OK);
    assert_null(javm_cache_get_hash(c, &stored));
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_non_null(javm_cache_get_hash(c2, &stored));
    javm_cache_close(c2);
    assert_int_equal(javm_commit(c, f->ka), JAVM_OK);
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_null(javm_cache_get_hash(c2, &stored));
    javm_cache_close(c2);
    /* It can come back. */
    javm_hash again = put_free(c, data_str("stored"));
    assert_hash_equal(again, stored);
    assert_int_equal(rc_of(c, &stored), 1);
    assert_int_equal(javm_commit(c, f->ka), JAVM_OK);
}

/* A store whose commit can be made to fail, delegating everything else to a memory store. */
typedef struct flaky {
    javm_store base;
    javm_store *inner;
    bool fail_commit;
} flaky;

static int fl_get(javm_store *s, javm_table t, const uint8_t *k, size_t kl, const uint8_t **v,
                  size_t *vl)
{
    flaky *f = (flaky *)s;
    return f->inner->vtbl->get(f->inner, t, k, kl, v, vl);
}
static int fl_begin(javm_store *s) { return ((flaky *)s)->inner->vtbl->begin(((flaky *)s)->inner); }
static int fl_put(javm_store *s, javm_table t, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    flaky *f = (flaky *)s;
    return f->inner->vtbl->put(f->inner, t, k, kl, v, vl);
}
static int fl_del(javm_store *s, javm_table t, const uint8_t *k, size_t kl)
{
    flaky *f = (flaky *)s;
    return f->inner->vtbl->del(f->inner, t, k, kl);
}
static int fl_commit(javm_store *s)
{
    flaky *f = (flaky *)s;
    if (f->fail_commit) {
        f->inner->vtbl->abort(f->inner);
        return JAVM_ERR_STORE;
    }
    return f->inner->vtbl->commit(f->inner);
}
static void fl_abort(javm_store *s) { ((flaky *)s)->inner->vtbl->abort(((flaky *)s)->inner); }
static int fl_scan(javm_store *s, javm_table t, javm_store_scan_fn cb, void *arg)
{
    flaky *f = (flaky *)s;
    return f->inner->vtbl->scan(f->inner, t, cb, arg);
}
static void fl_close(javm_store *s)
{
    flaky *f = (flaky *)s;
    javm_store_close(f->inner);
    free(f);
}
static const javm_store_vtbl flaky_vtbl = { fl_get, fl_begin, fl_put, fl_del,
                                            fl_commit, fl_abort, fl_scan, fl_close, NULL, NULL, NULL, NULL };

static void test_journal_commit_failure(void **state)
{
    (void)state;
    fx fx0, *f = &fx0;
    flaky *fl = calloc(1, sizeof *fl);
    fl->base.vtbl = &flaky_vtbl;
    char loc[TSTORE_LOC];
    tstore_make(loc);
    assert_int_equal(tstore_open(loc, false, &fl->inner), JAVM_OK);
    fl->base.flags = fl->inner->flags;
    f->store = &fl->base;
    assert_int_equal(javm_cache_open(f->store, &f->cache), JAVM_OK);
    assert_int_equal(javm_ka_mem_new(&f->ka), JAVM_OK);
    javm_hash inst, stored;
    populate(f, &inst, &stored);
    assert_int_equal(javm_commit(f->cache, f->ka), JAVM_OK);
    snap before, after;
    take(f, &before);
    uint64_t gen = javm_cache_generation(f->cache);

    assert_int_equal(javm_journal_begin(f->cache, f->ka), JAVM_OK);
    put_free(f->cache, data_str("lost"));
    javm_hash other = put_instance(f->cache, 8192);
    assert_int_equal(javm_name_set(f->cache, (const uint8_t *)"N", 1, &other), JAVM_OK);
    uint64_t id;
    assert_int_equal(f->ka->vtbl->host_save(f->ka, &stored, 0, 6, &id), JAVM_OK);
    javm_cap *lc = data_str("lost");
    javm_hash lost = cap_h(lc);
    javm_cap_free(lc);
    fl->fail_commit = true;
    assert_int_equal(javm_journal_commit(f->cache, f->ka), JAVM_ERR_STORE);
    assert_false(javm_journal_is_open(f->cache));
    take(f, &after);
    if (tstore_is_rados()) {
        /* scale-out.md §2: the blobs were written before the commit that failed; they stay,
         * unreachable (the name is unchanged), for gc. Everything else is as before. */
        snap kept = after;
        kept.n = 0;
        for (size_t i = 0; i < after.n; i++) {
            if (memcmp(after.h[i].b, lost.b, 32) == 0 || memcmp(after.h[i].b, other.b, 32) == 0)
                continue;
            kept.h[kept.n] = after.h[i];
            kept.rc[kept.n] = after.rc[i];
            kept.kind[kept.n++] = after.kind[i];
        }
        assert_int_equal(after.n, before.n + 2);
        same(&before, &kept);
    } else {
        same(&before, &after);
    }
    assert_int_equal(javm_cache_generation(f->cache), gen);

    /* javm_commit keeps memory dirty on failure and can be retried. */
    put_free(f->cache, data_str("retry"));
    assert_int_equal(javm_commit(f->cache, f->ka), JAVM_ERR_STORE);
    fl->fail_commit = false;
    assert_int_equal(javm_commit(f->cache, f->ka), JAVM_OK);
    javm_cache *c2;
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    javm_cap *r = data_str("retry");
    javm_hash rh = cap_h(r);
    javm_cap_free(r);
    assert_int_equal(rc_of(c2, &rh), committed_rc(1));
    javm_cache_close(c2);
    javm_cache_close(f->cache);
    javm_ka_free(f->ka);
    javm_store_close(f->store);
    tstore_remove(loc);
}

static void test_journal_commit_and_conflict(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache, *c2;
    assert_int_equal(javm_journal_begin(c, f->ka), JAVM_OK);
    javm_hash h = put_free(c, data_str("journal"));
    assert_int_equal(javm_journal_commit(c, f->ka), JAVM_OK);
    assert_false(javm_journal_is_open(c));
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_int_equal(rc_of(c2, &h), committed_rc(1));

    /* Pause, a foreign commit, resume: CONFLICT; the invocation is then discarded. */
    assert_int_equal(javm_journal_begin(c, f->ka), JAVM_OK);
    javm_hash p = put_free(c, data_str("paused"));
    assert_int_equal(javm_journal_suspend(c), JAVM_OK);
    if (tstore_is_rados()) {
        /* JAVM_STORE_SHARED (javm/cap.h): a paused journal keeps its store transaction, so
         * another cache on the same store handle cannot commit meanwhile; another client (a
         * second handle, as another process would have) can. */
        javm_hash fh = put_free(c2, data_str("foreign"));
        assert_int_equal(javm_commit(c2, NULL), JAVM_ERR_BUSY);
        javm_cache_close(c2);
        javm_store *s2;
        assert_int_equal(tstore_open(f->loc, false, &s2), JAVM_OK);
        assert_int_equal(javm_cache_open(s2, &c2), JAVM_OK);
        fh = put_free(c2, data_str("foreign"));
        assert_int_equal(javm_commit(c2, NULL), JAVM_OK);
        /* scale-out.md §3-§4: no global generation; a commit conflicts only with one that
         * moved a head it writes. The foreign commit wrote no name: resume and commit go
         * through. A name the paused journal read and another client moved: CONFLICT. */
        assert_int_equal(javm_journal_resume(c), JAVM_OK);
        assert_int_equal(javm_journal_commit(c, f->ka), JAVM_OK);
        assert_non_null(javm_cache_get_hash(c2, &p));
        javm_hash i0 = put_instance(c, 0);
        assert_int_equal(javm_name_set(c, (const uint8_t *)"N", 1, &i0), JAVM_OK);
        assert_int_equal(javm_commit(c, NULL), JAVM_OK);
        javm_hash got, i1 = put_instance(c2, 8192);
        assert_int_equal(javm_journal_begin(c, f->ka), JAVM_OK);
        assert_int_equal(javm_name_get(c, (const uint8_t *)"N", 1, &got), JAVM_OK);
        assert_hash_equal(got, i0);
        javm_hash i2 = put_instance(c, 4096);
        assert_int_equal(javm_journal_suspend(c), JAVM_OK);
        assert_int_equal(javm_name_set(c2, (const uint8_t *)"N", 1, &i1), JAVM_OK);
        assert_int_equal(javm_commit(c2, NULL), JAVM_OK);
        assert_int_equal(javm_journal_resume(c), JAVM_OK);
        assert_int_equal(javm_name_set(c, (const uint8_t *)"N", 1, &i2), JAVM_OK);
        assert_int_equal(javm_journal_commit(c, f->ka), JAVM_ERR_CONFLICT);
        assert_non_null(strstr(javm_store_errmsg(f->store), "moved"));
        javm_cache *c3;
        assert_int_equal(javm_cache_open(f->store, &c3), JAVM_OK);
        assert_int_equal(javm_name_get(c3, (const uint8_t *)"N", 1, &got), JAVM_OK);
        assert_hash_equal(got, i1); /* no lost update */
        assert_non_null(javm_cache_get_hash(c3, &fh));
        javm_cache_close(c3);
        javm_cache_close(c2);
        javm_store_close(s2);
        assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    } else {
        put_free(c2, data_str("foreign"));
        assert_int_equal(javm_commit(c2, NULL), JAVM_OK);
        assert_int_equal(javm_journal_resume(c), JAVM_ERR_CONFLICT);
        javm_journal_abort(c, f->ka);
        assert_null(javm_cache_get_hash(c, &p));
    }

    /* Pause and resume without a foreign commit: the commit goes through. */
    assert_int_equal(javm_journal_begin(c, f->ka), JAVM_OK);
    p = put_free(c, data_str("paused"));
    assert_int_equal(javm_journal_suspend(c), JAVM_OK);
    assert_int_equal(javm_journal_resume(c), JAVM_OK);
    assert_int_equal(javm_journal_commit(c, f->ka), JAVM_OK);
    assert_int_equal(rc_of(c2, &p), committed_rc(1));
    javm_cache_close(c2);
}

static void test_names(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash i1 = put_instance(c, 0), i2 = put_instance(c, 4096);
    javm_hash d = put_free(c, data_str("d")), absent = fill(0x71), got;
    uint8_t long_name[256];
    memset(long_name, 'n', sizeof long_name);
    assert_int_equal(javm_name_set(c, long_name, 0, &i1), JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_name_set(c, long_name, 256, &i1), JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_name_set(c, long_name, 255, &i1), JAVM_OK);
    assert_int_equal(javm_name_set(c, (const uint8_t *)"x", 1, &d), JAVM_ERR_WRONG_KIND);
    assert_int_equal(javm_name_set(c, (const uint8_t *)"x", 1, &absent), JAVM_ERR_NOT_FOUND);
    assert_int_equal(javm_name_get(c, (const uint8_t *)"x", 1, &got), JAVM_ERR_NOT_FOUND);
    assert_int_equal(rc_of(c, &i1), 2);
    assert_int_equal(javm_name_set(c, long_name, 255, &i2), JAVM_OK);
    assert_int_equal(rc_of(c, &i1), 1);
    assert_int_equal(rc_of(c, &i2), 2);
    assert_int_equal(javm_name_get(c, long_name, 255, &got), JAVM_OK);
    assert_hash_equal(got, i2);
    assert_int_equal(javm_name_set(c, long_name, 255, NULL), JAVM_OK);
    assert_int_equal(rc_of(c, &i2), 1);
    assert_int_equal(javm_name_set(c, long_name, 255, NULL), JAVM_ERR_NOT_FOUND);
    /* Name changes persist with a commit. */
    assert_int_equal(javm_name_set(c, (const uint8_t *)"keep", 4, &i1), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    javm_cache *c2;
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_int_equal(javm_name_get(c2, (const uint8_t *)"keep", 4, &got), JAVM_OK);
    assert_hash_equal(got, i1);
    assert_int_equal(javm_name_get(c2, long_name, 255, &got), JAVM_ERR_NOT_FOUND);
    javm_cache_close(c2);
}

/* RADOS (scale-out.md §4-§5): blobs leave through the store's own mark-and-sweep gc, from
 * the names, the kernel assist's file records and the roots given, two epochs after they were
 * last written or touched. A fresh cache sees what the store kept. */
static void gc_shared(fx *f, const javm_hash *root, const javm_hash *leaf, const javm_hash *file,
                      const javm_hash *inst, const javm_hash *junk, const javm_hash *orphan)
{
    assert_int_equal(javm_store_rados_gc_grace(f->store, 0), JAVM_OK);
    assert_int_equal(javm_gc(NULL, f->cache, f->ka, root, 1), JAVM_OK); /* epoch 1: all recent */
    javm_cache *c2;
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_non_null(javm_cache_get_hash(c2, junk));
    javm_cache_close(c2);
    assert_int_equal(javm_gc(NULL, f->cache, f->ka, root, 1), JAVM_OK);
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_null(javm_cache_get_hash(c2, junk));
    assert_null(javm_cache_get_hash(c2, orphan));
    assert_non_null(javm_cache_get_hash(c2, root));
    assert_non_null(javm_cache_get_hash(c2, leaf));
    assert_non_null(javm_cache_get_hash(c2, file));
    assert_non_null(javm_cache_get_hash(c2, inst));
    javm_cache_close(c2);
}

static void test_gc(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    /* Named instance (with its image and root), a file's Data, an embedder root CNode holding
     * a Data, and garbage: an unheld-but-counted Data and a committed orphan. */
    javm_hash inst = put_instance(c, 0);
    assert_int_equal(javm_name_set(c, (const uint8_t *)"N", 1, &inst), JAVM_OK);
    javm_hash file = put_free(c, data_str("file"));
    assert_int_equal(javm_ka_mem_register_file(f->ka, c, 9, &file), JAVM_OK);
    javm_hash leaf = put_free(c, data_str("leaf"));
    javm_cap *cn;
    assert_int_equal(javm_cnode_new(1, &cn), JAVM_OK);
    javm_key lk = javm_key_of_hash(&leaf);
    javm_cnode_set_slot(cn, 0, &lk);
    javm_cnode_set_slot(cn, 1, &lk);
    javm_hash root = put_free(c, cn);
    javm_hash junk = put_free(c, data_str("junk"));
    javm_hash orphan = put_free(c, data_str("orphan"));
    assert_int_equal(javm_commit(c, f->ka), JAVM_OK);
    if (tstore_is_rados()) {
        gc_shared(f, &root, &leaf, &file, &inst, &junk, &orphan);
        return;
    }
    javm_hash img = javm_cache_get_hash(c, &inst)->instance.image_hash;
    javm_hash r8 = javm_cache_get_hash(c, &inst)->instance.root_cnode.hash;
    /* Working entries block gc. */
    javm_cap *wd = data_str("w");
    javm_ref r;
    assert_int_equal(javm_cache_put_working(c, wd, &r), JAVM_OK);
    javm_cap_free(wd);
    assert_int_equal(javm_gc(NULL, c, f->ka, &root, 1), JAVM_ERR_BUSY);
    javm_key rk = javm_key_of_ref(r);
    assert_int_equal(javm_cache_decref(c, &rk), JAVM_OK);
    javm_hash absent = fill(0x55);
    assert_int_equal(javm_gc(NULL, c, f->ka, &absent, 1), JAVM_ERR_NOT_FOUND);

    javm_hash roots[2] = { root, root };
    assert_int_equal(javm_gc(NULL, c, f->ka, roots, 2), JAVM_OK);
    assert_int_equal(javm_cache_blob_count(c), 6);
    assert_null(javm_cache_get_hash(c, &junk));
    assert_null(javm_cache_get_hash(c, &orphan));
    assert_int_equal(rc_of(c, &root), 2);  /* two root occurrences */
    assert_int_equal(rc_of(c, &leaf), 2);  /* two slots */
    assert_int_equal(rc_of(c, &file), 1);  /* the file record */
    assert_int_equal(rc_of(c, &inst), 1);  /* the name */
    assert_int_equal(rc_of(c, &img), 1);   /* the instance's edge */
    assert_int_equal(rc_of(c, &r8), 1);
    /* Deleted from the store too. */
    javm_cache *c2;
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_null(javm_cache_get_hash(c2, &orphan));
    assert_int_equal(rc_of(c2, &leaf), 2);
    javm_cache_close(c2);

    /* gc without roots keeps only file-map targets, named instances and their descendants. */
    assert_int_equal(javm_gc(NULL, c, f->ka, NULL, 0), JAVM_OK);
    assert_int_equal(javm_cache_blob_count(c), 4);
    assert_null(javm_cache_get_hash(c, &root));
    assert_null(javm_cache_get_hash(c, &leaf));
    assert_non_null(javm_cache_get_hash(c, &file));
    assert_non_null(javm_cache_get_hash(c, &r8));
}

static void test_gc_stored_only(void **state)
{
    fx *f = *state;
    /* Blobs committed by another cache, never resident here: gc deletes them from the store. */
    javm_cache *c2;
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    javm_hash a = put_free(c2, data_str("a")), b = put_free(c2, data_str("b"));
    assert_int_equal(javm_commit(c2, NULL), JAVM_OK);
    javm_cache_close(c2);
    if (tstore_is_rados()) {
        gc_shared(f, &b, &b, &b, &b, &a, &a);
        return;
    }
    assert_int_equal(javm_gc(NULL, f->cache, NULL, &b, 1), JAVM_OK);
    assert_int_equal(javm_cache_open(f->store, &c2), JAVM_OK);
    assert_null(javm_cache_get_hash(c2, &a));
    assert_int_equal(rc_of(c2, &b), 1);
    javm_cache_close(c2);
}

static int count_blob(void *arg, const javm_hash *h, const javm_cap *cap, uint32_t rc)
{
    (void)cap;
    (void)rc;
    javm_hash *prev = arg;
    assert_true(memcmp(prev->b, h->b, 32) < 0);
    *prev = *h;
    return 0;
}

static void test_iter_order(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 50; i++) {
        char s[16];
        snprintf(s, sizeof s, "d%d", i);
        put_free(f->cache, data_str(s));
    }
    assert_int_equal(javm_commit(f->cache, NULL), JAVM_OK);
    for (int i = 50; i < 60; i++) {
        char s[16];
        snprintf(s, sizeof s, "d%d", i);
        put_free(f->cache, data_str(s));
    }
    javm_hash prev = fill(0);
    assert_int_equal(javm_cache_iter_blobs(f->cache, count_blob, &prev), JAVM_OK);
}

/* ---- files ---- */

static void test_image_file_img3(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash hello = put_free(c, data_str("hello"));
    javm_hash i3 = put_free(c, img3());
    uint8_t *file;
    size_t len;
    assert_int_equal(javm_image_save(c, &i3, &file, &len), JAVM_OK);
    assert_int_equal(len, 246);
    static const uint8_t head[] = { 0x4a, 0x49, 0x4d, 0x47, 1, 0, 0, 0, 1, 0, 0, 0,
                                    0x30, 0x0e, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0,
                                    'h', 'e', 'l', 'l', 'o' };
    assert_memory_equal(file, head, sizeof head);
    javm_cap *im3 = img3();
    uint8_t *body;
    size_t blen;
    assert_int_equal(javm_cap_encode(im3, &body, &blen), JAVM_OK);
    assert_int_equal(sizeof head + blen, 246);
    assert_memory_equal(file + sizeof head, body, blen);
    javm_free(body);
    javm_cap_free(im3);

    /* Load into an empty cache: "hello" then IMG3; the caller holds only IMG3. */
    javm_store *s2;
    javm_cache *e;
    assert_int_equal(javm_store_mem_new(&s2), JAVM_OK);
    assert_int_equal(javm_cache_open(s2, &e), JAVM_OK);
    javm_hash got;
    javm_decode_err err;
    assert_int_equal(javm_image_load(e, file, len, &got, &err), JAVM_OK);
    assert_hash_hex(got, "c7824f6ae8bce86a43b1123600b2c7f7cbf572f70a0cbd88535c3a76f2f4adb0");
    assert_int_equal(javm_cache_blob_count(e), 2);
    assert_int_equal(rc_of(e, &got), 1);
    assert_int_equal(rc_of(e, &hello), 1);

    /* The same file with n = 0 and no record: TARGET_MISSING naming "hello", no change. */
    size_t rec = sizeof head - 12;
    uint8_t *bare = malloc(len - rec);
    memcpy(bare, file, 12);
    bare[8] = 0;
    memcpy(bare + 12, file + 12 + rec, len - 12 - rec);
    javm_cache *e2;
    javm_store *s3;
    assert_int_equal(javm_store_mem_new(&s3), JAVM_OK);
    assert_int_equal(javm_cache_open(s3, &e2), JAVM_OK);
    assert_int_equal(javm_image_load(e2, bare, len - rec, &got, &err), JAVM_ERR_TARGET_MISSING);
    assert_true(err.has_missing);
    assert_hash_hex(err.missing, "8d701b885ff92c129847ea844f81d7a9a62b718e47830c4c9ff057a1d82eeb1e");
    assert_int_equal(javm_cache_blob_count(e2), 0);
    /* With the Data present it loads, and the Data keeps its own count. */
    javm_hash h2 = put_free(e2, data_str("hello"));
    assert_int_equal(javm_image_load(e2, bare, len - rec, &got, &err), JAVM_OK);
    assert_int_equal(rc_of(e2, &h2), 2);
    free(bare);
    javm_cache_close(e2);
    javm_store_close(s3);

    /* Loading into a cache where a record's put would fail half-way leaves it unchanged: a
     * file whose image body is corrupt is rejected before any put. */
    uint8_t *bad = malloc(len);
    memcpy(bad, file, len);
    bad[len - 1] = 2; /* yield tag */
    size_t before = javm_cache_blob_count(e);
    assert_int_equal(javm_image_load(e, bad, len, &got, &err), JAVM_ERR_NON_CANONICAL);
    assert_int_equal(err.offset, len - 1);
    assert_int_equal(javm_cache_blob_count(e), before);
    free(bad);
    javm_cache_close(e);
    javm_store_close(s2);
    javm_free(file);
}

static void test_image_file_errors(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash i1 = put_free(c, img1());
    uint8_t *file;
    size_t len;
    assert_int_equal(javm_image_save(c, &i1, &file, &len), JAVM_OK);
    assert_int_equal(len, 44);
    static const uint8_t head[12] = { 0x4a, 0x49, 0x4d, 0x47, 1, 0, 0, 0, 0, 0, 0, 0 };
    assert_memory_equal(file, head, 12);
    javm_hash d = put_free(c, data_str("hello"));
    assert_int_equal(javm_image_save(c, &d, &file, &len) == JAVM_ERR_WRONG_KIND, 1);
    javm_hash absent = fill(3);
    uint8_t *x;
    assert_int_equal(javm_image_save(c, &absent, &x, &len), JAVM_ERR_NOT_FOUND);
    len = 44;

    javm_hash got;
    javm_decode_err err;
    uint8_t *p = malloc(len + 1);
    memcpy(p, file, len);
    p[0] = 'X';
    assert_int_equal(javm_image_load(c, p, len, &got, &err), JAVM_ERR_BAD_MAGIC);
    memcpy(p, file, len);
    p[4] = 9;
    assert_int_equal(javm_image_load(c, p, len, &got, &err), JAVM_ERR_BAD_VERSION);
    memcpy(p, file, len);
    p[8] = 0xff;
    p[9] = 0xff;
    assert_int_equal(javm_image_load(c, p, len, &got, &err), JAVM_ERR_OVERSIZED);
    assert_int_equal(err.offset, 8);
    memcpy(p, file, len);
    p[len] = 0;
    assert_int_equal(javm_image_load(c, p, len + 1, &got, &err), JAVM_ERR_TRAILING);
    for (size_t cut = 0; cut < len; cut++) {
        int rc = javm_image_load(c, file, cut, &got, &err);
        assert_true(rc == JAVM_ERR_TRUNCATED || rc == JAVM_ERR_OVERSIZED);
    }
    free(p);
    javm_free(file);

    /* A record whose length is one more than its body: the body decoder sees a trailing byte;
     * one less: truncated. A record of unknown kind. */
    bb b = { 0 };
    bb_raw(&b, "JIMG", 4);
    bb_u32(&b, 1);
    bb_u32(&b, 1);
    bb_u8(&b, 0x50);
    bb_u32(&b, 33);
    javm_hash t = fill(0x42);
    bb_h(&b, &t);
    bb_u8(&b, 0);
    javm_cap *im = img1();
    uint8_t *body;
    size_t blen;
    assert_int_equal(javm_cap_encode(im, &body, &blen), JAVM_OK);
    bb_raw(&b, body, blen);
    assert_int_equal(javm_image_load(c, b.p, b.n, &got, &err), JAVM_ERR_TRAILING);
    assert_int_equal(err.offset, 17 + 32);
    b.p[13] = 31;
    assert_int_equal(javm_image_load(c, b.p, b.n, &got, &err), JAVM_ERR_TRUNCATED);
    b.p[13] = 32;
    b.p[12] = 0x60;
    assert_int_equal(javm_image_load(c, b.p, b.n, &got, &err), JAVM_ERR_BAD_KIND);
    assert_int_equal(err.offset, 12);
    bb_free(&b);
    javm_free(body);
    javm_cap_free(im);
}

static void test_image_file_graph(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    /* pinned [(0, CNode{0: A, 1: B})], initial [(2, B), (3, Type)]: post-order A, B, CNode,
     * Type; B written once. */
    javm_hash a = put_free(c, data_str("A")), b = put_free(c, data_str("B"));
    javm_cap *cn;
    assert_int_equal(javm_cnode_new(1, &cn), JAVM_OK);
    javm_key k = javm_key_of_hash(&a);
    javm_cnode_set_slot(cn, 0, &k);
    k = javm_key_of_hash(&b);
    javm_cnode_set_slot(cn, 1, &k);
    javm_hash cnh = put_free(c, cn);
    javm_hash chain = fill(0x42);
    javm_cap *ty;
    assert_int_equal(javm_type_new(&chain, &ty), JAVM_OK);
    javm_hash th = put_free(c, ty);
    javm_cap *im = img1();
    javm_image_add_pinned(im, 0, &cnh);
    javm_image_add_initial(im, 2, &b);
    javm_image_add_initial(im, 3, &th);
    javm_hash ih = put_free(c, im);
    uint8_t *file;
    size_t len;
    assert_int_equal(javm_image_save(c, &ih, &file, &len), JAVM_OK);
    assert_int_equal(file[8], 4);
    size_t off = 12;
    const uint8_t kinds[4] = { 0x30, 0x30, 0x40, 0x50 };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(file[off], kinds[i]);
        uint32_t l = file[off + 1] | (uint32_t)file[off + 2] << 8;
        off += 5 + l;
    }
    javm_store *s2;
    javm_cache *e;
    assert_int_equal(javm_store_mem_new(&s2), JAVM_OK);
    assert_int_equal(javm_cache_open(s2, &e), JAVM_OK);
    javm_hash got;
    assert_int_equal(javm_image_load(e, file, len, &got, NULL), JAVM_OK);
    assert_hash_equal(got, ih);
    assert_int_equal(javm_cache_blob_count(e), 5);
    assert_int_equal(rc_of(e, &b), 2); /* the CNode slot and the initial entry */
    assert_int_equal(rc_of(e, &cnh), 1);
    javm_cache_close(e);
    javm_store_close(s2);
    javm_free(file);
}

static void test_cap_import(void **state)
{
    fx *f = *state;
    javm_cache *c = f->cache;
    javm_hash hello = fill(0);
    javm_cap *h = data_str("hello");
    javm_hash hh = cap_h(h);
    javm_cap *cn;
    assert_int_equal(javm_cnode_new(0, &cn), JAVM_OK);
    javm_key k = javm_key_of_hash(&hh);
    javm_cnode_set_slot(cn, 0, &k);
    uint8_t *x, *y;
    size_t xl, yl;
    assert_int_equal(javm_cap_export(cn, &x, &xl), JAVM_OK);
    assert_int_equal(javm_cap_export(h, &y, &yl), JAVM_OK);
    javm_decode_err err;
    javm_hash got;
    assert_int_equal(javm_cap_import(c, x, xl, &got, &err), JAVM_ERR_TARGET_MISSING);
    assert_true(err.has_missing);
    assert_hash_equal(err.missing, hh);
    assert_int_equal(javm_cap_import(c, y, yl, &hello, &err), JAVM_OK);
    assert_int_equal(javm_cap_import(c, x, xl, &got, &err), JAVM_OK);
    javm_hash want = cap_h(cn);
    assert_hash_equal(got, want);
    assert_int_equal(rc_of(c, &hello), 2);
    javm_free(x);
    javm_free(y);
    javm_cap_free(cn);
    javm_cap_free(h);
}

int main(void)
{
    int st = tstore_init("test_cache_persist", TSTORE_MEM);
    if (st >= 0)
        return st;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_journal_abort_restores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_abort_working, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_commit_and_conflict, setup, teardown),
        cmocka_unit_test(test_journal_commit_failure),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_stored_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iter_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_file_img3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_file_graph, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_import, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
