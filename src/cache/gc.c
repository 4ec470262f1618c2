/* SPDX-License-Identifier: MIT
 * cache/gc.c — mark and sweep from roots (caps.md §5.6): embedder roots, names and the kernel
 * assist's file records. Marking counts holders as it goes, so the sweep can set every
 * survivor's refcount exactly; everything unmarked is deleted, resident or stored, and the
 * result is committed. All allocation happens before the first change. */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "store/store.h"
#include "util/grow.h"

/* hash -> holder count: a util/table.h table tagged by the (uniform) first 8 hash bytes. */
typedef struct mark_slot {
    uint64_t tag;
    uint32_t count;
    javm_hash h;
} mark_slot;

typedef struct gc_ctx {
    javm_cache *c;
    util_table marks; /* of mark_slot */
    javm_hash *stack;
    size_t sn, scap;
    int rc;
} gc_ctx;

static bool mark_is(const void *slot, const void *h)
{
    return memcmp(((const mark_slot *)slot)->h.b, h, 32) == 0;
}

/* The mark of h, NULL when h is unmarked. */
static mark_slot *mark_find(gc_ctx *g, const javm_hash *h)
{
    return util_table_find(&g->marks, util_table_tag_bytes(h->b), h->b, mark_is);
}

/* One holder of h; a newly marked hash is pushed for traversal. */
static int hold(gc_ctx *g, const javm_hash *h)
{
    mark_slot *s = mark_find(g, h);
    if (s) {
        if (s->count < JAVM_REFCOUNT_MAX)
            s->count++;
        return JAVM_OK;
    }
    if (util_table_reserve(&g->marks, 1))
        return CAP_ERR(JAVM_ERR_ALLOC);
    if (util_grow((void **)&g->stack, &g->scap, g->sn + 1, sizeof *g->stack, 256))
        return CAP_ERR(JAVM_ERR_ALLOC);
    s = util_table_add(&g->marks, util_table_tag_bytes(h->b)); /* reserved: cannot fail */
    s->count = 1;
    s->h = *h;
    g->stack[g->sn++] = *h;
    return JAVM_OK;
}

static int file_root(void *arg, uint64_t id, const javm_hash *h)
{
    (void)id;
    gc_ctx *g = arg;
    cache_entry *e;
    int rc = cache_blob(g->c, h, &e);
    if (rc || !e)
        return rc; /* a record naming an absent blob roots nothing */
    return hold(g, h);
}

/* Without a kernel assist the file records are read from the store's files table, so that
 * gc(ka = NULL) cannot delete a blob that a stored file record names (issue 13 item 4). */
static int stored_file_root(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                            size_t vlen)
{
    gc_ctx *g = arg;
    if (klen != 8 || vlen != 32) {
        char where[120];
        store_describe_key(where, sizeof where, JAVM_TABLE_FILES, key, klen);
        store_set_errmsg(g->c->store, "%s: a file record of %zu bytes", where, vlen);
        return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    }
    javm_hash h;
    memcpy(h.b, val, 32);
    return file_root(g, 0, &h);
}

static int edge_hold(void *arg, const javm_key *k)
{
    return k->tag == JAVM_KEY_HASH ? hold(arg, &k->hash) : CAP_ERR(JAVM_ERR_INTERNAL);
}


typedef struct sweep_ctx {
    gc_ctx *g;
    cache_vec *stored_dead; /* hashes of stored, non-resident, unmarked blobs */
} sweep_ctx;

static int stored_blob(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    sweep_ctx *s = arg;
    javm_hash h;
    if (klen != 32)
        return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    if (vlen >= 1 && (val[0] == CAP_RECORD_RUN || val[0] == CAP_RECORD_CHUNK))
        return JAVM_OK; /* pages: recounted at the commit (cache_pages_recount) */
    memcpy(h.b, key, 32);
    if (cache_tab_find_hash(&s->g->c->blobs, &h) || mark_find(s->g, &h))
        return JAVM_OK;
    return cache_vec_push(s->stored_dead, &h, sizeof h);
}

/* Mark, counting holders: root occurrences, names, file records (through the kernel assist,
 * or the store's files table without one), then one per edge of each marked blob. */
static int gc_mark(gc_ctx *g, javm_ka *ka, const javm_hash *roots, size_t n_roots)
{
    javm_cache *c = g->c;
    int rc = JAVM_OK;
    for (size_t i = 0; i < n_roots && rc == JAVM_OK; i++) {
        cache_entry *e;
        rc = cache_blob(c, &roots[i], &e);
        if (rc == JAVM_OK && !e)
            rc = JAVM_ERR_NOT_FOUND;
        if (rc == JAVM_OK)
            rc = hold(g, &roots[i]);
    }
    for (size_t i = 0; i < c->n_names && rc == JAVM_OK; i++)
        if (c->names[i].present)
            rc = hold(g, &c->names[i].hash);
    if (rc == JAVM_OK && ka)
        rc = ka->vtbl->file_iter(ka, file_root, g);
    else if (rc == JAVM_OK)
        rc = c->store->vtbl->scan(c->store, JAVM_TABLE_FILES, stored_file_root, g);
    while (rc == JAVM_OK && g->sn) {
        javm_hash h = g->stack[--g->sn];
        cache_entry *e;
        rc = cache_blob(c, &h, &e);
        if (rc == JAVM_OK && e)
            rc = cap_for_each_edge(e->cap, edge_hold, g);
    }
    return rc;
}

/* What the sweep needs, allocated before it starts: the resident entries, and a dead
 * placeholder entry for each stored, non-resident, unmarked blob (room in the table too). */
typedef struct gc_sweep_plan {
    cache_vec resident, stored_dead, placeholders;
} gc_sweep_plan;

static int gc_prepare(gc_ctx *g, gc_sweep_plan *p)
{
    javm_cache *c = g->c;
    int rc = JAVM_OK;
    for (size_t i = 0; rc == JAVM_OK && i < cache_tab_cap(&c->blobs); i++) {
        cache_entry *e = cache_tab_at(&c->blobs, i);
        if (e)
            rc = cache_vec_push(&p->resident, &e, sizeof e);
    }
    if (rc == JAVM_OK) {
        sweep_ctx s = { g, &p->stored_dead };
        rc = c->store->vtbl->scan(c->store, JAVM_TABLE_BLOBS, stored_blob, &s);
    }
    if (rc == JAVM_OK)
        rc = cache_tab_reserve(&c->blobs, p->stored_dead.n);
    for (size_t i = 0; rc == JAVM_OK && i < p->stored_dead.n; i++) {
        cache_entry *e = calloc(1, sizeof *e);
        if (!e)
            rc = CAP_ERR(JAVM_ERR_ALLOC);
        else if ((rc = cache_vec_push(&p->placeholders, &e, sizeof e)))
            free(e);
        else
            e->hash = ((javm_hash *)p->stored_dead.p)[i];
    }
    return rc;
}

/* Sweep: survivors get their counted refcount, the rest die (queued deletion when stored);
 * nothing here can fail. */
static void gc_sweep(gc_ctx *g, gc_sweep_plan *p)
{
    javm_cache *c = g->c;
    cache_entry **res = p->resident.p;
    for (size_t i = 0; i < p->resident.n; i++) {
        cache_entry *e = res[i];
        mark_slot *m = mark_find(g, &e->hash);
        if (m) {
            e->rc = m->count;
            cache_dirty_add(c, e);
            continue;
        }
        if (e->flags & CE_DEAD)
            continue;
        javm_cap_free(e->cap);
        e->cap = NULL;
        e->rc = 0;
        c->live_blobs--;
        if (e->flags & CE_STORED) {
            e->flags |= CE_DEAD;
            cache_dirty_add(c, e);
        } else {
            cache_tab_remove(&c->blobs, e);
            cache_dirty_del(e);
            free(e);
        }
    }
    cache_entry **ph = p->placeholders.p;
    for (size_t i = 0; i < p->placeholders.n; i++) {
        ph[i]->flags = CE_STORED | CE_DEAD;
        cache_tab_insert(&c->blobs, ph[i]);
        cache_dirty_add(c, ph[i]);
    }
    p->placeholders.n = 0;
    cache_fwd_clear(c);
}

/* ---- a shared store collects itself (docs/scale-out.md §5) ---- */

static bool shared_may_have_edges(void *arg, uint8_t kind)
{
    (void)arg;
    return kind != JAVM_KIND_DATA;
}

typedef struct shared_edges_ctx {
    javm_store_edge_fn add;
    void *add_arg;
} shared_edges_ctx;

static int shared_edge(void *arg, const javm_key *k)
{
    shared_edges_ctx *x = arg;
    return k->tag == JAVM_KEY_HASH ? x->add(x->add_arg, k->hash.b) : JAVM_OK;
}

/* A stored record's edges, after the checks of every load: it decodes and hashes to its key. */
static int shared_edges(void *arg, const uint8_t *hash, const uint8_t *rec, size_t n,
                        javm_store_edge_fn add, void *add_arg)
{
    javm_cache *c = arg;
    javm_cap *cap = NULL;
    javm_decode_err err;
    javm_hash h;
    int rc = n < 1 ? JAVM_ERR_TRUNCATED : javm_cap_decode(rec[0], rec + 1, n - 1, &cap, &err);
    if (rc == JAVM_OK && ((rc = javm_cap_hash(cap, &h)) == JAVM_OK && memcmp(h.b, hash, 32) != 0))
        rc = JAVM_ERR_STORE_CORRUPT;
    if (rc && rc != JAVM_ERR_ALLOC) {
        char hex[65];
        memcpy(h.b, hash, 32);
        javm_hash_to_hex(&h, hex);
        store_set_errmsg(c->store, "blob %s: %s", hex,
                         rc == JAVM_ERR_STORE_CORRUPT ? "the record hashes to another key"
                                                      : "the record does not decode");
        rc = JAVM_ERR_STORE_CORRUPT;
    }
    shared_edges_ctx x = { add, add_arg };
    if (rc == JAVM_OK)
        rc = cap_for_each_edge(cap, shared_edge, &x);
    javm_cap_free(cap);
    return rc;
}

typedef struct shared_roots {
    uint8_t (*r)[32];
    size_t n, cap;
} shared_roots;

static int shared_root(void *arg, uint64_t id, const javm_hash *h)
{
    (void)id;
    shared_roots *x = arg;
    if (util_grow((void **)&x->r, &x->cap, x->n + 1, 32, 16))
        return CAP_ERR(JAVM_ERR_ALLOC);
    memcpy(x->r[x->n++], h->b, 32);
    return JAVM_OK;
}

/* The roots are the embedder's and the kernel assist's file records (a persistent one's are
 * the store's, which the store finds itself too; an in-memory one's only it knows). */
static int gc_shared(javm_cache *c, javm_ka *ka, const javm_hash *roots, size_t n_roots)
{
    javm_store *s = c->store;
    if (!s->vtbl->collect)
        return JAVM_ERR_STORE_UNSUPPORTED;
    shared_roots x = { NULL, 0, 0 };
    int rc = JAVM_OK;
    for (size_t i = 0; i < n_roots && rc == JAVM_OK; i++)
        rc = shared_root(&x, 0, &roots[i]);
    if (rc == JAVM_OK && ka)
        rc = ka->vtbl->file_iter(ka, shared_root, &x);
    javm_store_collect how = { (const uint8_t(*)[32])x.r, x.n, shared_may_have_edges,
                               shared_edges, c, NULL };
    if (rc == JAVM_OK)
        rc = s->vtbl->collect(s, &how);
    free(x.r);
    return rc;
}

int javm_gc(struct javm_vm *vm, javm_cache *c, javm_ka *ka, const javm_hash *roots,
            size_t n_roots)
{
    (void)vm;
    gc_ctx g = { .c = c, .marks = UTIL_TABLE_INIT(mark_slot) };
    gc_sweep_plan plan = { { 0 }, { 0 }, { 0 } };
    int rc = JAVM_OK;
    if (!c || (n_roots && !roots))
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    if (c->journal || c->work.t.count)
        return CAP_ERR(JAVM_ERR_BUSY);
    if (c->store->flags & JAVM_STORE_SHARED)
        return gc_shared(c, ka, roots, n_roots); /* the store collects itself (scale-out.md §5) */
    /* One write transaction from the first mark to the commit: no other writer can move a
     * name or add a file between the marking and the sweep (caps.md §5.6, issue 6). */
    if ((rc = c->store->vtbl->begin(c->store)))
        return rc;
    bool txn = true;
    if ((rc = cache_sync_generation(c)) == JAVM_OK && (rc = gc_mark(&g, ka, roots, n_roots)) == JAVM_OK &&
        (rc = gc_prepare(&g, &plan)) == JAVM_OK) {
        gc_sweep(&g, &plan);
        c->recount_pages = true; /* pages counted anew, not released one by one */
        rc = cache_store_commit(c, ka); /* closes the transaction, committed or not */
        c->recount_pages = false;
        txn = false;
        if (rc == JAVM_OK)
            cache_mark_clean(c);
    }
    if (txn)
        c->store->vtbl->abort(c->store);
    for (size_t i = 0; i < plan.placeholders.n; i++)
        free(((cache_entry **)plan.placeholders.p)[i]);
    free(plan.placeholders.p);
    free(plan.stored_dead.p);
    free(plan.resident.p);
    util_table_free(&g.marks);
    free(g.stack);
    return rc;
}

/* ---- blob iteration ---- */

typedef struct iter_ctx {
    javm_cache *c;
    cache_vec *hashes;
} iter_ctx;

static int iter_stored(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    iter_ctx *it = arg;
    javm_hash h;
    if (klen != 32)
        return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    if (vlen >= 1 && (val[0] == CAP_RECORD_RUN || val[0] == CAP_RECORD_CHUNK))
        return JAVM_OK; /* pages of a Data, not a cap */
    memcpy(h.b, key, 32);
    if (cache_tab_find_hash(&it->c->blobs, &h))
        return JAVM_OK; /* resident (live, counted below) or dead (queued deletion) */
    return cache_vec_push(it->hashes, &h, sizeof h);
}

static int hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

int javm_cache_iter_blobs(javm_cache *c,
                          int (*cb)(void *arg, const javm_hash *h, const javm_cap *cap,
                                    uint32_t refcount),
                          void *arg)
{
    cache_vec hashes = { 0 };
    int rc = JAVM_OK;
    for (size_t i = 0; rc == JAVM_OK && i < cache_tab_cap(&c->blobs); i++) {
        cache_entry *e = cache_tab_at(&c->blobs, i);
        if (e && !(e->flags & CE_DEAD))
            rc = cache_vec_push(&hashes, &e->hash, sizeof e->hash);
    }
    if (rc == JAVM_OK) {
        iter_ctx it = { c, &hashes };
        rc = c->store->vtbl->scan(c->store, JAVM_TABLE_BLOBS, iter_stored, &it);
    }
    if (rc == JAVM_OK && hashes.n > 1)
        qsort(hashes.p, hashes.n, sizeof(javm_hash), hash_cmp);
    /* A stored record that does not decode is skipped, so one bad record does not hide the
     * rest; the walk then ends with JAVM_ERR_STORE_CORRUPT (the store's error message names
     * the first such key). */
    int corrupt = JAVM_OK;
    char first[sizeof c->store->errmsg];
    for (size_t i = 0; rc == JAVM_OK && i < hashes.n; i++) {
        cache_entry *e;
        const javm_hash *h = &((javm_hash *)hashes.p)[i];
        rc = cache_blob(c, h, &e);
        if (rc == JAVM_ERR_STORE_CORRUPT) {
            if (corrupt == JAVM_OK)
                memcpy(first, c->store->errmsg, sizeof first);
            corrupt = rc;
            rc = JAVM_OK;
            continue;
        }
        if (rc == JAVM_OK && e)
            rc = cb(arg, h, e->cap, e->rc);
    }
    free(hashes.p);
    if (rc == JAVM_OK && corrupt) {
        memcpy(c->store->errmsg, first, sizeof first);
        rc = corrupt;
    }
    return rc;
}
