/* SPDX-License-Identifier: MIT
 * cache/journal.c — persistence of the cache (caps.md §5.7): explicit commit, and the
 * per-invocation journal (begin / commit / abort / suspend / resume) built on the undo log of
 * cache.c. Writes go through one store transaction; memory is marked clean only after the
 * store commit succeeds, so a failed commit can be retried. Design in cache/cache.h. */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "store/store.h"

static const uint8_t key_generation[] = "generation";

/* The record of a cap, encoded piece by piece into the store's put_stream. */
static int produce_record(void *arg, javm_store_write_fn write, void *warg)
{
    const javm_cap *cap = arg;
    cap_sink sink = { .write = write, .warg = warg };
    cap_sink_u8(&sink, (uint8_t)cap->kind);
    int rc = cap_encode_body(cap, &sink);
    if (rc == JAVM_OK)
        rc = cap_sink_flush(&sink);
    free(sink.buf);
    return rc;
}

/* Writes blob e's record (kind byte then body, the encoder of the hash): streamed when the
 * store can take it so (its length counted by a first pass of the encoder), so the record is
 * never built whole beside the cap; else in one buffer. A Paged Data on a store that keeps
 * counts is written in format 3 (its chunks and runs records of their own), or 2 when it has
 * Missing pages (its pages by hash, in runs): pages.c. */
static int put_record(javm_cache *c, const cache_entry *e)
{
    javm_store *s = c->store;
    if (cache_by_chunks(c, e->cap))
        return cache_chunks_put(c, &e->hash, &e->cap->data);
    if (cache_by_ref(c, e->cap)) {
        cap_sink sink = { .page_refs = true };
        cap_sink_u8(&sink, CAP_RECORD_DATA_REFS);
        int rc = cap_encode_body(e->cap, &sink);
        if (rc == JAVM_OK)
            rc = s->vtbl->put(s, JAVM_TABLE_BLOBS, e->hash.b, 32, sink.buf, sink.len);
        free(sink.buf);
        return rc ? rc : cache_pages_ref(c, &e->cap->data);
    }
    if (s->vtbl->put_stream) {
        cap_sink count = { .count_only = true };
        cap_sink_u8(&count, (uint8_t)e->cap->kind);
        int rc = cap_encode_body(e->cap, &count);
        if (rc == JAVM_OK)
            rc = s->vtbl->put_stream(s, JAVM_TABLE_BLOBS, e->hash.b, 32, count.len,
                                     produce_record, (void *)e->cap);
        return rc;
    }
    cap_sink sink = { 0 };
    cap_sink_u8(&sink, (uint8_t)e->cap->kind);
    int rc = cap_encode_body(e->cap, &sink);
    if (rc == JAVM_OK)
        rc = s->vtbl->put(s, JAVM_TABLE_BLOBS, e->hash.b, 32, sink.buf, sink.len);
    free(sink.buf);
    return rc;
}

static int touch_edges(javm_cache *c, const javm_cap *cap);

/* On a shared store, what a commit refers to without writing it is touched, so the store's gc
 * keeps it (docs/scale-out.md §3 step 2). One that gc removed meanwhile is written again from
 * memory, with its own edges touched; one no longer in memory is TARGET_MISSING. */
static int shared_touch(javm_cache *c, const javm_hash *h)
{
    javm_store *s = c->store;
    cache_entry *e = cache_tab_find_hash(&c->blobs, h);
    if (e && !(e->flags & CE_STORED))
        return JAVM_OK; /* written by this commit */
    int rc = s->vtbl->touch(s, h->b);
    if (rc != JAVM_ERR_NOT_FOUND)
        return rc;
    if (!e || !e->cap || (e->flags & CE_DEAD)) {
        char hex[65];
        javm_hash_to_hex(h, hex);
        store_set_errmsg(s, "the commit refers to blob %s, which gc removed", hex);
        return JAVM_ERR_TARGET_MISSING;
    }
    if ((rc = put_record(c, e)))
        return rc;
    return touch_edges(c, e->cap);
}

static int touch_edge(void *arg, const javm_key *k)
{
    return k->tag == JAVM_KEY_HASH ? shared_touch(arg, &k->hash) : JAVM_OK;
}

static int touch_edges(javm_cache *c, const javm_cap *cap)
{
    return cap_for_each_edge(cap, touch_edge, c);
}

int cache_write_dirty(javm_cache *c)
{
    javm_store *s = c->store;
    int rc = JAVM_OK;
    bool shared = (s->flags & JAVM_STORE_SHARED) != 0; /* no refcounts, no deletions */
    for (cache_entry *e = c->dirty.dnext; e != &c->dirty && rc == JAVM_OK; e = e->dnext) {
        if ((e->flags & CE_DEAD) && shared)
            continue;
        if (e->flags & CE_DEAD) {
            if (!c->recount_pages)
                rc = cache_pages_release(c, &e->hash);
            if (rc == JAVM_OK)
                rc = s->vtbl->del(s, JAVM_TABLE_BLOBS, e->hash.b, 32);
            if (rc == JAVM_OK)
                rc = s->vtbl->del(s, JAVM_TABLE_REFCOUNTS, e->hash.b, 32);
            continue;
        }
        if (!(e->flags & CE_STORED)) {
            rc = put_record(c, e);
            if (rc == JAVM_OK && shared && s->vtbl->touch)
                rc = touch_edges(c, e->cap);
        }
        if (rc == JAVM_OK && !shared) {
            uint8_t v[4];
            cap_put_u32(v, e->rc);
            rc = s->vtbl->put(s, JAVM_TABLE_REFCOUNTS, e->hash.b, 32, v, 4);
        }
    }
    for (size_t i = 0; i < c->n_names && rc == JAVM_OK; i++) {
        cache_name *n = &c->names[i];
        if (!n->dirty)
            continue;
        if (n->present && shared && s->vtbl->touch)
            rc = shared_touch(c, &n->hash);
        if (n->present && rc == JAVM_OK)
            rc = s->vtbl->put(s, JAVM_TABLE_NAMES, n->bytes, n->len, n->hash.b, 32);
        else
            rc = s->vtbl->del(s, JAVM_TABLE_NAMES, n->bytes, n->len);
    }
    if (rc == JAVM_OK)
        rc = cache_pages_flush(c);
    else
        cache_pages_discard(c, true);
    return rc;
}

void cache_mark_clean(javm_cache *c)
{
    cache_entry *e = c->dirty.dnext;
    while (e != &c->dirty) {
        cache_entry *next = e->dnext;
        e->flags &= ~(uint32_t)CE_DIRTY;
        if (e->flags & CE_DEAD) {
            cache_tab_remove(&c->blobs, e);
            cache_entry_free(e);
        } else {
            e->flags |= CE_STORED;
        }
        e = next;
    }
    c->dirty.dnext = c->dirty.dprev = &c->dirty;
    size_t k = 0;
    for (size_t i = 0; i < c->n_names; i++) {
        c->names[i].dirty = false;
        if (c->names[i].present)
            c->names[k++] = c->names[i];
    }
    c->n_names = k;
}

/* Inside an open transaction: dirty state, kernel assist, generation + 1, commit. The store
 * transaction is closed on return, committed or aborted. */
int cache_store_commit(javm_cache *c, javm_ka *ka)
{
    javm_store *s = c->store;
    uint8_t g[8];
    c->format_pending = 0;
    int rc = cache_write_dirty(c);
    if (rc == JAVM_OK && c->recount_pages)
        rc = cache_pages_recount(c);
    if (rc == JAVM_OK && ka)
        rc = ka->vtbl->persist(ka, s);
    if (rc == JAVM_OK && !(s->flags & JAVM_STORE_SHARED)) {
        cap_put_u64(g, c->generation + 1);
        rc = s->vtbl->put(s, JAVM_TABLE_META, key_generation, sizeof key_generation - 1, g, 8);
    }
    if (rc == JAVM_OK)
        rc = s->vtbl->commit(s);
    else
        s->vtbl->abort(s);
    if (rc == JAVM_OK) {
        c->generation++;
        if (c->format_pending > c->format)
            c->format = c->format_pending;
    }
    c->format_pending = 0;
    return rc;
}

/* Reads the committed generation through the open transaction (another writer may have
 * advanced it since this cache last looked). */
static uint64_t read_generation(javm_cache *c)
{
    const uint8_t *v;
    size_t vlen;
    if (c->store->vtbl->get(c->store, JAVM_TABLE_META, key_generation, sizeof key_generation - 1,
                            &v, &vlen) == JAVM_OK &&
        vlen == 8)
        return cap_get_u64(v);
    return 0;
}

void javm_cache_evict_clean(javm_cache *c)
{
    cache_tab *t = &c->blobs;
    for (size_t i = 0; i < cache_tab_cap(t);) {
        cache_entry *e = cache_tab_at(t, i);
        if (e && (e->flags & (CE_STORED | CE_DIRTY | CE_DEAD)) == CE_STORED) {
            /* Backward shift may pull another entry into slot i: look at it again. */
            cache_tab_remove(t, e);
            c->live_blobs--;
            cache_entry_free(e);
            continue;
        }
        i++;
    }
}

/* At the start of a write transaction: when another writer has committed since this cache
 * last committed or looked (the store's generation moved), the refcounts of clean resident
 * blobs may be stale, so those entries are dropped and reloaded through the transaction on
 * their next use (caps.md §5.7, "reading through the transaction"). A single writer never
 * pays for this: its own commits advance the generation it remembers. */
int cache_sync_generation(javm_cache *c)
{
    if (c->store->flags & JAVM_STORE_SHARED)
        return JAVM_OK; /* no generation: names are read when used, counts are not stored */
    uint64_t g = read_generation(c);
    int rc = JAVM_OK;
    if (g != c->generation) {
        javm_cache_evict_clean(c);
        rc = cache_reload_clean_names(c);
    }
    if (rc == JAVM_OK)
        c->generation = g; /* on failure the next transaction tries again */
    return rc;
}

int javm_commit(javm_cache *c, javm_ka *ka)
{
    if (!c)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    if (c->journal)
        return CAP_ERR(JAVM_ERR_BUSY);
    if (c->work.t.count)
        return CAP_ERR(JAVM_ERR_UNSETTLED);
    int rc = c->store->vtbl->begin(c->store);
    if (rc)
        return rc;
    if ((rc = cache_sync_generation(c))) {
        c->store->vtbl->abort(c->store);
        return rc;
    }
    rc = cache_store_commit(c, ka);
    if (rc == JAVM_OK)
        cache_mark_clean(c);
    return rc;
}

int javm_journal_begin(javm_cache *c, javm_ka *ka)
{
    if (!c)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    if (c->journal)
        return CAP_ERR(JAVM_ERR_BUSY);
    int rc = c->store->vtbl->begin(c->store);
    if (rc)
        return rc;
    if ((rc = cache_sync_generation(c)) || (ka && (rc = ka->vtbl->begin(ka, c->store)))) {
        c->store->vtbl->abort(c->store);
        return rc;
    }
    /* Earlier records belong to no journal (the log is empty between operations). */
    c->journal = true;
    c->journal_ka = ka;
    c->txn_open = true;
    c->epoch++;
    c->generation_at_begin = c->generation;
    return JAVM_OK;
}

void javm_journal_abort(javm_cache *c, javm_ka *ka)
{
    if (!c || !c->journal)
        return;
    cache_undo_to(c, 0);
    if (ka)
        ka->vtbl->rollback(ka);
    if (c->txn_open || (c->store->flags & JAVM_STORE_SHARED)) /* suspended: still open */
        c->store->vtbl->abort(c->store);
    c->txn_open = false;
    c->journal = false;
    c->journal_ka = NULL;
}

int javm_journal_commit(javm_cache *c, javm_ka *ka)
{
    if (!c || !c->journal)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    int rc = JAVM_OK;
    if (!c->txn_open)
        rc = javm_journal_resume(c);
    if (rc == JAVM_OK) {
        rc = cache_store_commit(c, ka);
        c->txn_open = false;
    }
    if (rc) {
        javm_journal_abort(c, ka);
        return rc;
    }
    c->journal = false;
    c->journal_ka = NULL;
    cache_discard_log(c);
    cache_mark_clean(c);
    return JAVM_OK;
}

int javm_journal_suspend(javm_cache *c)
{
    if (!c || !c->journal || !c->txn_open)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    /* A shared store's transaction holds no lock: it stays open, with what it read, and its
     * commit checks that the names it read are unchanged. */
    if (!(c->store->flags & JAVM_STORE_SHARED))
        c->store->vtbl->abort(c->store);
    c->txn_open = false;
    return JAVM_OK;
}

int javm_journal_resume(javm_cache *c)
{
    if (!c || !c->journal || c->txn_open)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    if (c->store->flags & JAVM_STORE_SHARED) {
        c->txn_open = true; /* never closed by suspend */
        return JAVM_OK;
    }
    int rc = c->store->vtbl->begin(c->store);
    if (rc)
        return rc;
    if (read_generation(c) != c->generation_at_begin) {
        c->store->vtbl->abort(c->store);
        return CAP_ERR(JAVM_ERR_CONFLICT);
    }
    c->txn_open = true;
    return JAVM_OK;
}

bool javm_journal_is_open(const javm_cache *c)
{
    return c && c->journal;
}

uint64_t javm_cache_generation(const javm_cache *c)
{
    return c->generation;
}
