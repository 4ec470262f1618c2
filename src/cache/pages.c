/* SPDX-License-Identifier: MIT
 * cache/pages.c — store formats 2 and 3 (docs/store.md, "Format 2: pages stored in runs" and
 * "Format 3: chunks"). Format 2: a Paged Data is written as a record naming its Loaded pages
 * by hash (CAP_RECORD_DATA_REFS), and its pages in runs: the Loaded pages of each group of
 * CAP_RUN_PAGES page slots, one record in the blobs table (CAP_RECORD_RUN ‖ bytes, keyed by
 * cap_run_key, which no cap hash can equal), counted in the refcounts table by the records
 * that name it. A run of 16 pages is 64 KiB, so LMDB stores it in 17 overflow pages (a page
 * alone would take two). Format 3, for a Paged Data without Missing pages: its record names
 * its chunks (CAP_RECORD_DATA_CHUNKS), each chunk a record of its page hashes
 * (CAP_RECORD_CHUNK, keyed by its hash, counted by the Data records naming it) whose Loaded
 * pages are runs as in format 2. The counts of chunks and runs change through tables of
 * pending changes applied at the end of a commit (cache_pages_flush), so that a Data derived
 * from the one it replaces writes and deletes only the chunks and runs that differ. Only
 * stores that keep counts (not JAVM_STORE_SHARED, whose gc would have to be told of every
 * run) are written so. */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "store/store.h"
#include "util/grow.h"
#include "util/table.h"

static const uint8_t key_format[] = "format";

bool cache_by_ref(const javm_cache *c, const javm_cap *cap)
{
    if ((c->store->flags & JAVM_STORE_SHARED) || cap->kind != JAVM_KIND_DATA || !cap->data.paged)
        return false;
    return cap->data.n_pages > cap->data.n_missing; /* a Loaded page (Empty ones are zeros) */
}

bool cache_by_chunks(const javm_cache *c, const javm_cap *cap)
{
    return cache_by_ref(c, cap) && cap->data.n_missing == 0;
}

/* Raises the store's format to f in the open transaction (the first record that needs it), so
 * that an older library refuses the store instead of misreading it. */
static int raise_format(javm_cache *c, uint32_t f)
{
    if (c->format >= f || c->format_pending >= f)
        return JAVM_OK;
    uint8_t v[4];
    cap_put_u32(v, f);
    int rc = c->store->vtbl->put(c->store, JAVM_TABLE_META, key_format, sizeof key_format - 1, v, 4);
    if (rc == JAVM_OK && f > c->format_pending)
        c->format_pending = f;
    return rc;
}

static int run_errmsg(javm_store *s, const javm_hash *run, const char *what)
{
    char hex[65];
    javm_hash_to_hex(run, hex);
    store_set_errmsg(s, "run %s: %s", hex, what);
    return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
}

/* The Loaded pages of group g of d (at most CAP_RUN_PAGES; their hashes, and their indexes
 * when idx is not NULL) and the run's key; 0 when the group has none. */
static size_t run_of(const javm_data *d, uint64_t g, javm_hash *hashes, uint64_t *idx,
                     javm_hash *key)
{
    size_t n = 0;
    uint64_t end = (g + 1) * CAP_RUN_PAGES < d->n_pages ? (g + 1) * CAP_RUN_PAGES : d->n_pages;
    for (uint64_t i = g * CAP_RUN_PAGES; i < end; i++) {
        const javm_page *p = javm_data_page(d, i);
        if (p->state != JAVM_PAGE_LOADED)
            continue;
        if (idx)
            idx[n] = i;
        hashes[n++] = p->hash;
    }
    if (n)
        cap_run_key(hashes, n, key);
    return n;
}

/* The same for group g (0..3) of chunk c's first n slots, indexes within the chunk. */
static size_t chunk_run(const javm_chunk *c, unsigned n, unsigned g, javm_hash *hashes, unsigned *idx,
                        javm_hash *key)
{
    size_t k = 0;
    unsigned end = (g + 1) * CAP_RUN_PAGES < n ? (g + 1) * CAP_RUN_PAGES : n;
    for (unsigned i = g * CAP_RUN_PAGES; i < end; i++) {
        if (c->pages[i].state != JAVM_PAGE_LOADED)
            continue;
        if (idx)
            idx[k] = i;
        hashes[k++] = c->pages[i].hash;
    }
    if (k)
        cap_run_key(hashes, k, key);
    return k;
}

static uint64_t n_groups(const javm_data *d)
{
    return (d->n_pages + CAP_RUN_PAGES - 1) / CAP_RUN_PAGES;
}

/* The stored count of run h (0 when absent), read through the transaction. */
static int run_count(javm_store *s, const javm_hash *h, uint32_t *out)
{
    const uint8_t *v;
    size_t vlen;
    int rc = s->vtbl->get(s, JAVM_TABLE_REFCOUNTS, h->b, 32, &v, &vlen);
    *out = 0;
    if (rc == JAVM_ERR_NOT_FOUND)
        return JAVM_OK;
    if (rc)
        return rc;
    if (vlen != 4)
        return run_errmsg(s, h, "its refcount is not a u32 record");
    *out = cap_get_u32(v);
    return JAVM_OK;
}

static int run_set_count(javm_store *s, const javm_hash *h, uint32_t n)
{
    uint8_t v[4];
    cap_put_u32(v, n);
    return s->vtbl->put(s, JAVM_TABLE_REFCOUNTS, h->b, 32, v, 4);
}

int cache_pages_ref(javm_cache *c, const javm_data *d)
{
    javm_store *s = c->store;
    uint8_t *rec = NULL;
    javm_hash hashes[CAP_RUN_PAGES], key;
    uint64_t idx[CAP_RUN_PAGES];
    int rc = JAVM_OK;
    for (uint64_t g = 0; g < n_groups(d) && rc == JAVM_OK; g++) {
        size_t n = run_of(d, g, hashes, idx, &key);
        uint32_t count;
        if (n == 0 || (rc = run_count(s, &key, &count)))
            continue;
        if (count == 0) {
            if (!rec && !(rec = malloc(1 + (size_t)CAP_RUN_PAGES * JAVM_PAGE_SIZE))) {
                rc = CAP_ERR(JAVM_ERR_ALLOC);
                break;
            }
            rec[0] = CAP_RECORD_RUN;
            for (size_t k = 0; k < n; k++)
                memcpy(rec + 1 + k * JAVM_PAGE_SIZE, javm_data_page(d, idx[k])->bytes, JAVM_PAGE_SIZE);
            rc = s->vtbl->put(s, JAVM_TABLE_BLOBS, key.b, 32, rec, 1 + n * JAVM_PAGE_SIZE);
        }
        if (rc == JAVM_OK && count < JAVM_REFCOUNT_MAX) /* saturated counts stick, as blobs' do */
            rc = run_set_count(s, &key, count + 1);
    }
    free(rec);
    return rc == JAVM_OK ? raise_format(c, 2) : rc;
}

/* ---- format 3: chunk records, counted through the commit's deltas ---- */

static bool delta_is(const void *slot, const void *h)
{
    return memcmp(((const cache_delta *)slot)->h.b, h, 32) == 0;
}

/* Adds d to the pending change of record h; chunk (with a reference taken), its n slots and
 * the run's group say where the record's contents are, if it has to be written. */
static int delta_add(util_table *t, const javm_hash *h, int64_t d, javm_chunk *chunk, unsigned n,
                     unsigned group)
{
    uint64_t tag = util_table_tag_bytes(h->b);
    cache_delta *s = util_table_find(t, tag, h->b, delta_is);
    if (!s) {
        if (!(s = util_table_add(t, tag)))
            return CAP_ERR(JAVM_ERR_ALLOC);
        s->h = *h;
    }
    s->delta += d;
    if (chunk && !s->chunk) {
        cap_chunk_ref(chunk);
        s->chunk = chunk;
        s->n = (uint8_t)n;
        s->group = (uint8_t)group;
    }
    return JAVM_OK;
}

/* Empties t, its array kept for the next commit when keep is true and it is small (a large
 * one, grown by a commit of many chunks, would cost its size to empty at every commit). */
static void delta_clear(util_table *t, bool keep)
{
    for (size_t i = 0; t->count && i < util_table_cap(t); i++) {
        cache_delta *s = util_table_at(t, i);
        if (util_table_used(s))
            cap_chunk_unref(s->chunk);
    }
    if (keep && util_table_cap(t) <= 64)
        util_table_clear(t);
    else
        util_table_free(t);
}

void cache_pages_discard(javm_cache *c, bool keep)
{
    delta_clear(&c->chunk_delta, keep);
    delta_clear(&c->run_delta, keep);
    for (size_t i = 0; i < c->n_dels; i++)
        free(c->dels[i].keys);
    c->n_puts = c->n_dels = 0;
    if (!keep) {
        free(c->puts);
        free(c->dels);
        c->puts = c->dels = NULL;
        c->cap_puts = c->cap_dels = 0;
    }
}

/* Appends r to the commit's list *l (of *n, capacity *cap). */
static int rec_push(cache_chunks_rec **l, size_t *n, size_t *cap, cache_chunks_rec r)
{
    if (util_grow((void **)l, cap, *n + 1, sizeof **l, 8))
        return CAP_ERR(JAVM_ERR_ALLOC);
    (*l)[(*n)++] = r;
    return JAVM_OK;
}

int cache_chunks_put(javm_cache *c, const javm_hash *h, const javm_data *d)
{
    uint64_t nc = cap_chunk_count(d->n_pages);
    size_t len = 13 + (size_t)nc * 32;
    uint8_t *rec = malloc(len), chunk_rec[CAP_CHUNK_RECORD_MAX];
    if (!rec)
        return CAP_ERR(JAVM_ERR_ALLOC);
    rec[0] = CAP_RECORD_DATA_CHUNKS;
    cap_put_u64(rec + 1, d->size);
    cap_put_u32(rec + 9, (uint32_t)d->n_pages);
    for (uint64_t j = 0; j < nc; j++) {
        javm_chunk *ch = d->chunks[j];
        unsigned n = cap_chunk_slots(d->n_pages, j);
        if (ch && ch->key_n != n) { /* its record's hash, once: a chunk shared unchanged keeps it */
            size_t cl = cap_chunk_record(ch, n, chunk_rec);
            if (cl)
                javm_blake2b(chunk_rec, cl, &ch->key);
            else
                memset(ch->key.b, 0, 32);
            ch->key_n = (uint8_t)n;
        }
        if (ch)
            memcpy(rec + 13 + j * 32, ch->key.b, 32);
        else
            memset(rec + 13 + j * 32, 0, 32);
    }
    int rc = c->store->vtbl->put(c->store, JAVM_TABLE_BLOBS, h->b, 32, rec, len);
    free(rec);
    if (rc == JAVM_OK)
        rc = rec_push(&c->puts, &c->n_puts, &c->cap_puts, (cache_chunks_rec){ nc, d, NULL });
    return rc == JAVM_OK ? raise_format(c, 3) : rc;
}

/* The chunk keys of a CAP_RECORD_DATA_CHUNKS record, kept for the flush (a record that does
 * not parse is fsck's to report, as a broken one of format 2). */
static int chunks_release(javm_cache *c, const uint8_t *v, size_t vlen)
{
    if (vlen < 13)
        return JAVM_OK;
    uint64_t np = cap_get_u32(v + 9), nc = cap_chunk_count(np);
    if (vlen != 13 + nc * 32 || nc == 0)
        return JAVM_OK;
    uint8_t *keys = malloc((size_t)nc * 32);
    if (!keys)
        return CAP_ERR(JAVM_ERR_ALLOC);
    memcpy(keys, v + 13, (size_t)nc * 32);
    int rc = rec_push(&c->dels, &c->n_dels, &c->cap_dels, (cache_chunks_rec){ nc, NULL, keys });
    if (rc)
        free(keys);
    return rc;
}

/* -1 on chunk key k (32 bytes; none for zeros, a chunk of Empty pages). */
static int chunk_drop(javm_cache *c, const uint8_t *k)
{
    javm_hash h;
    if (cap_all_zero(k, 32))
        return JAVM_OK;
    memcpy(h.b, k, 32);
    return delta_add(&c->chunk_delta, &h, -1, NULL, 0, 0);
}

/* -1 on each chunk of deleted record r. */
static int dels_count(javm_cache *c, const cache_chunks_rec *r)
{
    int rc = JAVM_OK;
    for (uint64_t j = 0; j < r->nc && rc == JAVM_OK; j++)
        rc = chunk_drop(c, r->keys + j * 32);
    return rc;
}

static int by_chunk_count(const void *a, const void *b)
{
    uint64_t x = ((const cache_chunks_rec *)a)->nc, y = ((const cache_chunks_rec *)b)->nc;
    return (x > y) - (x < y);
}

/* The count changes of the commit's Data records on their chunks: +1 on each chunk of a
 * written one, -1 on each of a deleted one. A written record is paired with a deleted one of
 * as many chunks (both lists sorted by it), and a chunk key the two hold at the same place
 * cancels there: a Data derived from the one it replaces (settle) changes the counts of the
 * chunks that differ, not two of every chunk. Any pairing is correct, as +1 and -1 on one key
 * cancel in the table too. */
static int chunks_count(javm_cache *c)
{
    if (c->n_puts > 1)
        qsort(c->puts, c->n_puts, sizeof *c->puts, by_chunk_count);
    if (c->n_dels > 1)
        qsort(c->dels, c->n_dels, sizeof *c->dels, by_chunk_count);
    size_t k = 0;
    int rc = JAVM_OK;
    for (size_t i = 0; i < c->n_puts && rc == JAVM_OK; i++) {
        const javm_data *d = c->puts[i].d;
        uint64_t nc = c->puts[i].nc;
        for (; k < c->n_dels && c->dels[k].nc < nc && rc == JAVM_OK; k++)
            rc = dels_count(c, &c->dels[k]);
        const uint8_t *old = k < c->n_dels && c->dels[k].nc == nc ? c->dels[k++].keys : NULL;
        for (uint64_t j = 0; j < nc && rc == JAVM_OK; j++) {
            javm_chunk *ch = d->chunks[j];
            const uint8_t *o = old ? old + j * 32 : NULL;
            bool named = ch && !cap_all_zero(ch->key.b, 32);
            if (o && (named ? memcmp(o, ch->key.b, 32) == 0 : cap_all_zero(o, 32)))
                continue;
            if (named)
                rc = delta_add(&c->chunk_delta, &ch->key, 1, ch, cap_chunk_slots(d->n_pages, j), 0);
            if (rc == JAVM_OK && o)
                rc = chunk_drop(c, o);
        }
    }
    for (; k < c->n_dels && rc == JAVM_OK; k++)
        rc = dels_count(c, &c->dels[k]);
    return rc;
}

/* A chunk record read back into a chunk of its own (*out, of *n slots; for its runs), CORRUPT
 * naming it. */
static int chunk_read(javm_store *s, const javm_hash *key, javm_chunk **out, unsigned *n)
{
    const uint8_t *v;
    size_t vlen;
    int rc = s->vtbl->get(s, JAVM_TABLE_BLOBS, key->b, 32, &v, &vlen);
    if (rc == JAVM_ERR_NOT_FOUND)
        return run_errmsg(s, key, "a chunk counted but absent");
    if (rc)
        return rc;
    javm_chunk *ch = cap_chunk_new();
    if (!ch)
        return CAP_ERR(JAVM_ERR_ALLOC);
    if (vlen < 2 || cap_chunk_from_record(v, vlen, v[1], ch) != JAVM_OK) {
        cap_chunk_unref(ch);
        return run_errmsg(s, key, "not a chunk record");
    }
    *n = v[1];
    *out = ch;
    return JAVM_OK;
}

/* The Loaded pages of a run, to be written as its record. */
typedef struct run_src {
    const javm_chunk *c;
    size_t n;
    unsigned idx[CAP_RUN_PAGES];
} run_src;

static int run_produce(void *arg, javm_store_write_fn write, void *warg)
{
    const run_src *r = arg;
    static const uint8_t kind = CAP_RECORD_RUN;
    int rc = write(warg, &kind, 1);
    for (size_t k = 0; rc == JAVM_OK && k < r->n; k++)
        rc = write(warg, r->c->pages[r->idx[k]].bytes, JAVM_PAGE_SIZE);
    return rc;
}

/* Writes run h: streamed into the store when it can take it so (no copy of 64 KiB beside the
 * pages), else from one buffer. */
static int run_put(javm_store *s, const javm_hash *h, const run_src *r)
{
    size_t len = 1 + r->n * JAVM_PAGE_SIZE;
    if (s->vtbl->put_stream)
        return s->vtbl->put_stream(s, JAVM_TABLE_BLOBS, h->b, 32, len, run_produce, (void *)r);
    uint8_t *rec = malloc(len);
    if (!rec)
        return CAP_ERR(JAVM_ERR_ALLOC);
    rec[0] = CAP_RECORD_RUN;
    for (size_t k = 0; k < r->n; k++)
        memcpy(rec + 1 + k * JAVM_PAGE_SIZE, r->c->pages[r->idx[k]].bytes, JAVM_PAGE_SIZE);
    int rc = s->vtbl->put(s, JAVM_TABLE_BLOBS, h->b, 32, rec, len);
    free(rec);
    return rc;
}

/* Applies the pending change of one record (a chunk when runs is not NULL, else a run). */
static int delta_apply(javm_cache *c, cache_delta *d, util_table *runs)
{
    javm_store *s = c->store;
    uint32_t count;
    if (d->delta == 0) /* named as often as released: nothing to do */
        return JAVM_OK;
    int rc = run_count(s, &d->h, &count);
    if (rc || count == JAVM_REFCOUNT_MAX) /* saturated counts stick */
        return rc;
    if (count == 0 && d->delta > 0) { /* a new record: every positive change came with one */
        if (!d->chunk)
            return CAP_ERR(JAVM_ERR_INTERNAL);
        if (runs) {
            uint8_t rec[CAP_CHUNK_RECORD_MAX];
            size_t len = cap_chunk_record(d->chunk, d->n, rec);
            rc = s->vtbl->put(s, JAVM_TABLE_BLOBS, d->h.b, 32, rec, len);
            for (unsigned g = 0; rc == JAVM_OK && g * CAP_RUN_PAGES < d->n; g++) {
                javm_hash hashes[CAP_RUN_PAGES], rk;
                if (chunk_run(d->chunk, d->n, g, hashes, NULL, &rk))
                    rc = delta_add(runs, &rk, 1, d->chunk, d->n, g);
            }
        } else {
            run_src r = { .c = d->chunk };
            javm_hash hashes[CAP_RUN_PAGES], rk;
            r.n = chunk_run(d->chunk, d->n, d->group, hashes, r.idx, &rk);
            rc = run_put(s, &d->h, &r);
        }
        if (rc)
            return rc;
    }
    int64_t now = (int64_t)count + d->delta;
    if (now < 0)
        return run_errmsg(s, &d->h, runs ? "a chunk named by more Data records than counted"
                                         : "named by more records than counted");
    if (now > 0)
        return run_set_count(s, &d->h, now < JAVM_REFCOUNT_MAX ? (uint32_t)now : JAVM_REFCOUNT_MAX);
    if (runs) { /* a chunk no longer named: -1 on each of its runs */
        javm_chunk *ch = NULL;
        unsigned n = 0;
        if ((rc = chunk_read(s, &d->h, &ch, &n)))
            return rc;
        for (unsigned g = 0; rc == JAVM_OK && g * CAP_RUN_PAGES < n; g++) {
            javm_hash hashes[CAP_RUN_PAGES], rk;
            if (chunk_run(ch, n, g, hashes, NULL, &rk))
                rc = delta_add(runs, &rk, -1, NULL, 0, 0);
        }
        cap_chunk_unref(ch);
    }
    if (rc == JAVM_OK && (rc = s->vtbl->del(s, JAVM_TABLE_BLOBS, d->h.b, 32)) == JAVM_OK)
        rc = s->vtbl->del(s, JAVM_TABLE_REFCOUNTS, d->h.b, 32);
    return rc;
}

int cache_pages_flush(javm_cache *c)
{
    int rc = JAVM_OK;
    if (c->n_puts == 0 && c->n_dels == 0 && c->chunk_delta.count == 0 && c->run_delta.count == 0)
        return JAVM_OK; /* no format-3 Data written or deleted */
    rc = chunks_count(c);
    /* chunks first: a chunk written or deleted changes its runs' counts */
    for (size_t i = 0; i < util_table_cap(&c->chunk_delta) && rc == JAVM_OK; i++) {
        cache_delta *d = util_table_at(&c->chunk_delta, i);
        if (util_table_used(d))
            rc = delta_apply(c, d, &c->run_delta);
    }
    for (size_t i = 0; i < util_table_cap(&c->run_delta) && rc == JAVM_OK; i++) {
        cache_delta *d = util_table_at(&c->run_delta, i);
        if (util_table_used(d))
            rc = delta_apply(c, d, NULL);
    }
    cache_pages_discard(c, true);
    return rc;
}

/* Decodes a CAP_RECORD_DATA_REFS record of blob h (CORRUPT naming it when it does not). */
static int decode_refs(javm_store *s, const uint8_t *hash, const uint8_t *v, size_t vlen,
                       javm_cap **out)
{
    javm_decode_err err;
    int rc = cap_decode_record(v, vlen, out, &err);
    if (rc && rc != JAVM_ERR_ALLOC) {
        char hex[65];
        javm_hash h;
        memcpy(h.b, hash, 32);
        javm_hash_to_hex(&h, hex);
        store_set_errmsg(s, "blobs[%s]: record does not decode: %s at offset %llu", hex,
                         javm_strerror(err.reason), (unsigned long long)err.offset + 1);
        rc = CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    }
    return rc;
}

int cache_pages_release(javm_cache *c, const javm_hash *h)
{
    javm_store *s = c->store;
    const uint8_t *v;
    size_t vlen;
    int rc = s->vtbl->get(s, JAVM_TABLE_BLOBS, h->b, 32, &v, &vlen);
    if (rc == JAVM_ERR_NOT_FOUND)
        return JAVM_OK;
    if (rc == JAVM_OK && vlen >= 1 && v[0] == CAP_RECORD_DATA_CHUNKS)
        return chunks_release(c, v, vlen);
    if (rc || vlen < 1 || v[0] != CAP_RECORD_DATA_REFS)
        return rc; /* no runs of its own (a broken record is fsck's to report) */
    javm_cap *cap;
    if ((rc = decode_refs(s, h->b, v, vlen, &cap)))
        return rc;
    const javm_data *d = &cap->data;
    javm_hash hashes[CAP_RUN_PAGES], key;
    for (uint64_t g = 0; g < n_groups(d) && rc == JAVM_OK; g++) {
        uint32_t n;
        if (run_of(d, g, hashes, NULL, &key) == 0 || (rc = run_count(s, &key, &n)))
            continue;
        if (n == 0)
            rc = run_errmsg(s, &key, "named by a Data record but not counted");
        else if (n == JAVM_REFCOUNT_MAX)
            ; /* stuck: only gc's recount frees it */
        else if (n > 1)
            rc = run_set_count(s, &key, n - 1);
        else if ((rc = s->vtbl->del(s, JAVM_TABLE_BLOBS, key.b, 32)) == JAVM_OK)
            rc = s->vtbl->del(s, JAVM_TABLE_REFCOUNTS, key.b, 32);
    }
    javm_cap_free(cap);
    return rc;
}

/* A run read into page buffers, straight from the store's pieces when it streams (no copy of
 * the record beside them). */
typedef struct run_read {
    size_t n;                       /* pages expected */
    uint8_t *pages[CAP_RUN_PAGES];  /* filled, owned until handed to the Data */
    const char *bad;                /* the record is not such a run */
} run_read;

static int run_take(run_read *r, const uint8_t *v, size_t vlen)
{
    if (vlen != 1 + r->n * JAVM_PAGE_SIZE || v[0] != CAP_RECORD_RUN) {
        r->bad = "not a run of this many pages";
        return JAVM_OK;
    }
    for (size_t k = 0; k < r->n; k++) {
        if (!(r->pages[k] = cap_page_alloc()))
            return CAP_ERR(JAVM_ERR_ALLOC);
        memcpy(r->pages[k], v + 1 + k * JAVM_PAGE_SIZE, JAVM_PAGE_SIZE);
    }
    return JAVM_OK;
}

static int run_consume(void *arg, uint64_t len, javm_store_read_fn read, void *rarg)
{
    run_read *r = arg;
    if (len != 1 + r->n * JAVM_PAGE_SIZE) {
        r->bad = "not a run of this many pages";
        return JAVM_OK;
    }
    uint64_t at = 0; /* bytes of the record placed */
    for (;;) {
        const uint8_t *p;
        size_t n;
        int rc = read(rarg, &p, &n);
        if (rc || n == 0)
            return rc;
        if (at == 0) {
            if (p[0] != CAP_RECORD_RUN) {
                r->bad = "not a run record";
                return JAVM_OK;
            }
            p++, n--, at++;
        }
        while (n) {
            size_t k = (size_t)((at - 1) / JAVM_PAGE_SIZE), o = (size_t)((at - 1) % JAVM_PAGE_SIZE);
            size_t m = n < JAVM_PAGE_SIZE - o ? n : JAVM_PAGE_SIZE - o;
            if (!r->pages[k] && !(r->pages[k] = cap_page_alloc()))
                return CAP_ERR(JAVM_ERR_ALLOC);
            memcpy(r->pages[k] + o, p, m);
            p += m, n -= m, at += m;
        }
    }
}

/* The pending chunks of a decoded CAP_RECORD_DATA_CHUNKS record read from their records. */
static int chunks_fill(javm_store *s, const javm_hash *h, javm_data *d)
{
    int rc = JAVM_OK;
    for (uint64_t j = 0; j < cap_chunk_count(d->n_pages) && rc == JAVM_OK; j++) {
        javm_chunk *ch = d->chunks[j];
        if (!ch || !ch->pending)
            continue;
        const uint8_t *v;
        size_t vlen;
        const char *bad = NULL;
        javm_hash kh;
        rc = s->vtbl->get(s, JAVM_TABLE_BLOBS, ch->key.b, 32, &v, &vlen);
        if (rc == JAVM_OK) /* its key is kept in the chunk, to name it again: it must be its hash */
            javm_blake2b(v, vlen, &kh);
        if (rc == JAVM_ERR_NOT_FOUND)
            bad = "absent";
        else if (rc == JAVM_OK &&
                 cap_chunk_from_record(v, vlen, cap_chunk_slots(d->n_pages, j), ch) != JAVM_OK)
            bad = "not a chunk record of its slots";
        else if (rc == JAVM_OK && memcmp(kh.b, ch->key.b, 32) != 0)
            bad = "its hash is not its key";
        if (bad) {
            char hex[65], khex[65];
            javm_hash_to_hex(h, hex);
            javm_hash_to_hex(&ch->key, khex);
            store_set_errmsg(s, "blobs[%s]: chunk %llu: %s (record %.16s...)", hex, (unsigned long long)j, bad,
                             khex);
            return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
        }
        ch->pending = false;
    }
    return rc;
}

int cache_pages_fill(javm_store *s, const javm_hash *h, javm_cap *cap)
{
    javm_data *d = &cap->data;
    javm_hash hashes[CAP_RUN_PAGES], key;
    uint64_t idx[CAP_RUN_PAGES];
    char hex[65];
    uint64_t first = 0;
    int frc = chunks_fill(s, h, d);
    if (frc)
        return frc;
    while (first < d->n_pages && !cap_page_unfilled(javm_data_page(d, first)))
        first++;
    if (first == d->n_pages)
        return JAVM_OK; /* a record of format 1: every page came with it */
    int rc = JAVM_OK;
    for (uint64_t g = first / CAP_RUN_PAGES; g < n_groups(d) && rc == JAVM_OK; g++) {
        size_t n = run_of(d, g, hashes, idx, &key);
        if (n == 0 || !cap_page_unfilled(javm_data_page(d, idx[0])))
            continue; /* a record of format 2 names every Loaded page by hash */
        run_read r = { .n = n };
        if (s->vtbl->get_stream) {
            rc = s->vtbl->get_stream(s, JAVM_TABLE_BLOBS, key.b, 32, run_consume, &r);
        } else {
            const uint8_t *v;
            size_t vlen;
            if ((rc = s->vtbl->get(s, JAVM_TABLE_BLOBS, key.b, 32, &v, &vlen)) == JAVM_OK)
                rc = run_take(&r, v, vlen);
        }
        if (rc == JAVM_ERR_NOT_FOUND) {
            r.bad = "absent";
            rc = JAVM_OK;
        }
        for (size_t k = 0; rc == JAVM_OK && !r.bad && k < n; k++) {
            javm_hash got;
            javm_blake2b(r.pages[k], JAVM_PAGE_SIZE, &got);
            if (memcmp(got.b, hashes[k].b, 32) != 0)
                r.bad = "a page's bytes hash to another value";
        }
        if (rc == JAVM_OK && r.bad) { /* the Data first: the message has 191 characters */
            char khex[65];
            javm_hash_to_hex(h, hex);
            javm_hash_to_hex(&key, khex);
            store_set_errmsg(s, "blobs[%s]: pages %llu..: %s (run %.16s...)", hex,
                             (unsigned long long)(g * CAP_RUN_PAGES), r.bad, khex);
            rc = CAP_ERR(JAVM_ERR_STORE_CORRUPT);
        }
        for (size_t k = 0; k < n; k++) {
            if (rc == JAVM_OK)
                cap_data_page_fill(d, idx[k], r.pages[k]);
            else
                cap_page_unref(r.pages[k]);
        }
    }
    if (rc == JAVM_OK && !cap_data_is_canonical(d)) { /* the last page's tail, read now */
        javm_hash_to_hex(h, hex);
        store_set_errmsg(s, "blobs[%s]: its last page does not end the Data's size", hex);
        rc = CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    }
    return rc;
}

/* ---- gc: every run's count recomputed from the Data records that name it ---- */

typedef struct run_slot {
    uint64_t tag;
    uint32_t count;
    javm_hash h;
} run_slot;

static bool run_is(const void *slot, const void *h)
{
    return memcmp(((const run_slot *)slot)->h.b, h, 32) == 0;
}

/* +1 on key k of a recount table. */
static int name_add(util_table *t, const javm_hash *k)
{
    run_slot *s = util_table_find(t, util_table_tag_bytes(k->b), k->b, run_is);
    if (s) {
        s->count += s->count < JAVM_REFCOUNT_MAX;
        return JAVM_OK;
    }
    if (!(s = util_table_add(t, util_table_tag_bytes(k->b))))
        return CAP_ERR(JAVM_ERR_ALLOC);
    s->count = 1;
    s->h = *k;
    return JAVM_OK;
}

/* A chunk record met by the recount: its key and the keys of its runs. */
typedef struct chunk_seen {
    javm_hash key;
    unsigned nruns;
    javm_hash runs[CAP_CHUNK_PAGES / CAP_RUN_PAGES];
} chunk_seen;

typedef struct recount {
    javm_cache *c;
    util_table named;  /* run key -> how many stored records (format 2 Data, chunks) name it */
    util_table chunks; /* chunk key -> how many stored format-3 Data records name it */
    cache_vec runs;    /* the run records' keys */
    cache_vec seen;    /* the chunk records (chunk_seen) */
} recount;

static int recount_chunk(recount *r, const uint8_t *key, const uint8_t *val, size_t vlen)
{
    chunk_seen cs = { .nruns = 0 };
    memcpy(cs.key.b, key, 32);
    javm_chunk *ch = cap_chunk_new();
    if (!ch)
        return CAP_ERR(JAVM_ERR_ALLOC);
    if (vlen < 2 || cap_chunk_from_record(val, vlen, val[1], ch) != JAVM_OK) {
        /* as a format-2 record that does not decode: no recount (its runs would go) */
        cap_chunk_unref(ch);
        return run_errmsg(r->c->store, &cs.key, "not a chunk record");
    }
    javm_hash hashes[CAP_RUN_PAGES];
    for (unsigned g = 0; g * CAP_RUN_PAGES < val[1]; g++)
        if (chunk_run(ch, val[1], g, hashes, NULL, &cs.runs[cs.nruns]))
            cs.nruns++;
    cap_chunk_unref(ch);
    return cache_vec_push(&r->seen, &cs, sizeof cs);
}

static int recount_record(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen)
{
    recount *r = arg;
    if (klen != 32 || vlen < 1)
        return JAVM_OK; /* not ours to judge (fsck reports it) */
    if (val[0] == CAP_RECORD_RUN)
        return cache_vec_push(&r->runs, key, 32);
    if (val[0] == CAP_RECORD_CHUNK)
        return recount_chunk(r, key, val, vlen);
    if (val[0] == CAP_RECORD_DATA_CHUNKS) {
        uint64_t nc = vlen >= 13 ? cap_chunk_count(cap_get_u32(val + 9)) : 0;
        int rc = JAVM_OK;
        for (uint64_t j = 0; vlen == 13 + nc * 32 && j < nc && rc == JAVM_OK; j++) {
            javm_hash k;
            memcpy(k.b, val + 13 + j * 32, 32);
            if (!cap_all_zero(k.b, 32))
                rc = name_add(&r->chunks, &k);
        }
        return rc;
    }
    if (val[0] != CAP_RECORD_DATA_REFS)
        return JAVM_OK;
    javm_cap *cap;
    int rc = decode_refs(r->c->store, key, val, vlen, &cap);
    if (rc)
        return rc;
    const javm_data *d = &cap->data;
    javm_hash hashes[CAP_RUN_PAGES], rk;
    for (uint64_t g = 0; g < n_groups(d) && rc == JAVM_OK; g++)
        if (run_of(d, g, hashes, NULL, &rk))
            rc = name_add(&r->named, &rk);
    javm_cap_free(cap);
    return rc;
}

/* Every key of table t has a record in the blobs table (a Data could not be read back
 * otherwise): present of them were seen by the scan. */
static int all_present(javm_store *s, const util_table *t, size_t present, const char *what)
{
    if (present == t->count)
        return JAVM_OK;
    for (size_t i = 0; i < util_table_cap(t); i++) {
        run_slot *n = util_table_at(t, i);
        const uint8_t *v;
        size_t vlen;
        if (util_table_used(n) && s->vtbl->get(s, JAVM_TABLE_BLOBS, n->h.b, 32, &v, &vlen) != JAVM_OK)
            return run_errmsg(s, &n->h, what);
    }
    return JAVM_OK;
}

/* The record h's count set to named (its record and count deleted when 0). */
static int set_or_delete(javm_store *s, const javm_hash *h, uint32_t named)
{
    int rc;
    uint32_t old;
    if (named == 0) {
        if ((rc = s->vtbl->del(s, JAVM_TABLE_BLOBS, h->b, 32)) == JAVM_OK)
            rc = s->vtbl->del(s, JAVM_TABLE_REFCOUNTS, h->b, 32);
        return rc;
    }
    if ((rc = run_count(s, h, &old)) == JAVM_OK && old != named)
        rc = run_set_count(s, h, named);
    return rc;
}

int cache_pages_recount(javm_cache *c)
{
    javm_store *s = c->store;
    recount r = { .c = c, .named = UTIL_TABLE_INIT(run_slot), .chunks = UTIL_TABLE_INIT(run_slot) };
    int rc = s->vtbl->scan(s, JAVM_TABLE_BLOBS, recount_record, &r);
    size_t present = 0;
    /* chunks first: a chunk still named names its runs */
    for (size_t i = 0; rc == JAVM_OK && i < r.seen.n; i++) {
        const chunk_seen *cs = (const chunk_seen *)r.seen.p + i;
        run_slot *n = util_table_find(&r.chunks, util_table_tag_bytes(cs->key.b), cs->key.b, run_is);
        present += n != NULL;
        rc = set_or_delete(s, &cs->key, n ? n->count : 0);
        for (unsigned k = 0; n && rc == JAVM_OK && k < cs->nruns; k++)
            rc = name_add(&r.named, &cs->runs[k]);
    }
    if (rc == JAVM_OK)
        rc = all_present(s, &r.chunks, present, "a chunk named by a Data record but absent");
    present = 0;
    for (size_t i = 0; rc == JAVM_OK && i < r.runs.n; i++) {
        javm_hash h;
        memcpy(h.b, (const uint8_t *)r.runs.p + 32 * i, 32);
        run_slot *n = util_table_find(&r.named, util_table_tag_bytes(h.b), h.b, run_is);
        present += n != NULL;
        rc = set_or_delete(s, &h, n ? n->count : 0);
    }
    if (rc == JAVM_OK)
        rc = all_present(s, &r.named, present, "named by a Data record but absent");
    util_table_free(&r.named);
    util_table_free(&r.chunks);
    free(r.runs.p);
    free(r.seen.p);
    return rc;
}
