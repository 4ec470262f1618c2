/* SPDX-License-Identifier: MIT
 * cache/pages.c — store format 2 (docs/store.md, "Format 2: pages stored in runs"): a Paged
 * Data is written as a record naming its Loaded pages by hash (CAP_RECORD_DATA_REFS), and its
 * pages in runs: the Loaded pages of each group of CAP_RUN_PAGES page slots, one record in
 * the blobs table (CAP_RECORD_RUN ‖ bytes, keyed by cap_run_key, which no cap hash can
 * equal), counted in the refcounts table by the Data records that name it. A new Data that
 * differs from a stored one in k pages then writes at most k runs, a record of 33 bytes a
 * page and one count a run, instead of every page's bytes. A run of 16 pages is 64 KiB, so
 * LMDB stores it in 17 overflow pages (a page alone would take two). Only stores that keep
 * counts (not JAVM_STORE_SHARED, whose gc would have to be told of every run) are written
 * so. */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "store/store.h"
#include "util/table.h"

static const uint8_t key_format[] = "format";

bool cache_by_ref(const javm_cache *c, const javm_cap *cap)
{
    if ((c->store->flags & JAVM_STORE_SHARED) || cap->kind != JAVM_KIND_DATA || !cap->data.paged)
        return false;
    return cap->data.n_pages > cap->data.n_missing; /* a Loaded page (Empty ones are zeros) */
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
        if (d->pages[i].state != JAVM_PAGE_LOADED)
            continue;
        if (idx)
            idx[n] = i;
        hashes[n++] = d->pages[i].hash;
    }
    if (n)
        cap_run_key(hashes, n, key);
    return n;
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
                memcpy(rec + 1 + k * JAVM_PAGE_SIZE, d->pages[idx[k]].bytes, JAVM_PAGE_SIZE);
            rc = s->vtbl->put(s, JAVM_TABLE_BLOBS, key.b, 32, rec, 1 + n * JAVM_PAGE_SIZE);
        }
        if (rc == JAVM_OK && count < JAVM_REFCOUNT_MAX) /* saturated counts stick, as blobs' do */
            rc = run_set_count(s, &key, count + 1);
    }
    free(rec);
    /* The first record of format 2 makes the store format 2, in the same transaction, so
     * that a library that only knows format 1 refuses it instead of misreading it. */
    if (rc == JAVM_OK && c->format < 2) {
        uint8_t two[4];
        cap_put_u32(two, 2);
        rc = s->vtbl->put(s, JAVM_TABLE_META, key_format, sizeof key_format - 1, two, 4);
        if (rc == JAVM_OK)
            c->format_pending = true;
    }
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

int cache_pages_fill(javm_store *s, const javm_hash *h, javm_cap *cap)
{
    javm_data *d = &cap->data;
    javm_hash hashes[CAP_RUN_PAGES], key;
    uint64_t idx[CAP_RUN_PAGES];
    char hex[65];
    uint64_t first = 0;
    while (first < d->n_pages && !cap_page_unfilled(&d->pages[first]))
        first++;
    if (first == d->n_pages)
        return JAVM_OK; /* a record of format 1: every page came with it */
    int rc = JAVM_OK;
    for (uint64_t g = first / CAP_RUN_PAGES; g < n_groups(d) && rc == JAVM_OK; g++) {
        size_t n = run_of(d, g, hashes, idx, &key);
        if (n == 0 || !cap_page_unfilled(&d->pages[idx[0]]))
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
                d->pages[idx[k]].bytes = r.pages[k];
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

typedef struct recount {
    javm_cache *c;
    util_table named; /* run key -> how many stored Data records name it */
    cache_vec runs;   /* the run records' keys */
} recount;

static int recount_record(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen)
{
    recount *r = arg;
    if (klen != 32 || vlen < 1)
        return JAVM_OK; /* not ours to judge (fsck reports it) */
    if (val[0] == CAP_RECORD_RUN)
        return cache_vec_push(&r->runs, key, 32);
    if (val[0] != CAP_RECORD_DATA_REFS)
        return JAVM_OK;
    javm_cap *cap;
    int rc = decode_refs(r->c->store, key, val, vlen, &cap);
    if (rc)
        return rc;
    const javm_data *d = &cap->data;
    javm_hash hashes[CAP_RUN_PAGES], rk;
    for (uint64_t g = 0; g < n_groups(d) && rc == JAVM_OK; g++) {
        if (run_of(d, g, hashes, NULL, &rk) == 0)
            continue;
        run_slot *s = util_table_find(&r->named, util_table_tag_bytes(rk.b), rk.b, run_is);
        if (s) {
            s->count += s->count < JAVM_REFCOUNT_MAX;
        } else if (util_table_reserve(&r->named, 1)) {
            rc = CAP_ERR(JAVM_ERR_ALLOC);
        } else {
            s = util_table_add(&r->named, util_table_tag_bytes(rk.b));
            s->count = 1;
            s->h = rk;
        }
    }
    javm_cap_free(cap);
    return rc;
}

int cache_pages_recount(javm_cache *c)
{
    javm_store *s = c->store;
    recount r = { .c = c, .named = UTIL_TABLE_INIT(run_slot) };
    int rc = s->vtbl->scan(s, JAVM_TABLE_BLOBS, recount_record, &r);
    size_t present = 0;
    for (size_t i = 0; rc == JAVM_OK && i < r.runs.n; i++) {
        javm_hash h;
        memcpy(h.b, (const uint8_t *)r.runs.p + 32 * i, 32);
        run_slot *n = util_table_find(&r.named, util_table_tag_bytes(h.b), h.b, run_is);
        if (!n) {
            if ((rc = s->vtbl->del(s, JAVM_TABLE_BLOBS, h.b, 32)) == JAVM_OK)
                rc = s->vtbl->del(s, JAVM_TABLE_REFCOUNTS, h.b, 32);
            continue;
        }
        present++;
        uint32_t old;
        if ((rc = run_count(s, &h, &old)) == JAVM_OK && old != n->count)
            rc = run_set_count(s, &h, n->count);
    }
    /* Every named run must exist: its Data could not be read back otherwise. */
    if (rc == JAVM_OK && present != r.named.count) {
        for (size_t i = 0; i < util_table_cap(&r.named); i++) {
            run_slot *n = util_table_at(&r.named, i);
            const uint8_t *v;
            size_t vlen;
            if (util_table_used(n) && s->vtbl->get(s, JAVM_TABLE_BLOBS, n->h.b, 32, &v, &vlen) != JAVM_OK) {
                rc = run_errmsg(s, &n->h, "named by a Data record but absent");
                break;
            }
        }
    }
    util_table_free(&r.named);
    free(r.runs.p);
    return rc;
}
