/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_store_records.c — libFuzzer target for hostile records in a store's tables: the
 * paths that read Data back from a store (docs/store.md "Format 2: pages stored in runs" and
 * "Format 3: chunks"; src/cache/pages.c), gc's recount, a release that reads chunk and run
 * records back at its commit, and fsck (tools/lib/fsck.c). Each input gets a new in-memory
 * store holding four Paged Data, put and committed:
 *   A  150 pages (chunks of 64, 64 and 22 slots), every fifth page Empty: 0x32, 0x61, 0x60
 *   B  A with page 70 changed: shares A's chunks 0 and 2 (counts of 2), its own chunk 1
 *   C  40 pages, page 17 Missing: format 2 (a 0x31 record and its runs)
 *   D  129 pages, only 64 and 128 Loaded: a 0x32 record naming an all-Empty chunk (zero key)
 * Input: byte 0 picks what is released (bits 0-1: a Data; bit 2: all four), byte 1 the gc
 * roots (bits 0-3: which Data), then up to 32 edits `op ‖ selector ‖ args`. A selector byte
 * s picks a record: class s >> 5 (0 any blob record, 1 chunk 0x61, 2 Data by chunks 0x32,
 * 3 format-2 Data 0x31, 4 run 0x60, 5-7 a refcount), number (s & 31) mod the class's size,
 * in the table's scan order. Arguments follow the selector (u16, u32: big-endian). op % 9:
 *   0 xor byte (u16 % len) with u8 | 1       1 set byte (u16 % len) to u8
 *   2 set the slot-count byte (0x61: offset 1) or the page count (0x32, 0x31: u32 at 9) to u32;
 *     a chunk or 0x32 record resized to agree (its slots or keys repeated: with_count)
 *   3 truncate to u16 % (len + 1)
 *   4 append a pattern: its length m = u8 % 40 + 1 (33: a chunk slot), its repeats u8 % 64 + 1,
 *     then its m bytes
 *   5 copy record (selector) under the key of this one     6 delete
 *   7 a copy under H(its bytes) (an orphan read by gc's recount and fsck)
 *   8 refcount of the record (by key) set to u32 (of a refcount selector: that entry's)
 * Then, each step allowed a status: a cache that loaded every Data before the damage takes
 * one hold off (bit 2: all) and commits (a release reads damaged chunks and runs back); fsck;
 * a new cache reads each Data's refcount and loads it; gc with the roots of byte 1, then
 * with none, loading each Data again after each; fsck again. Checks: no crash, sanitizer report or leak,
 * and a Data that loads equals the one put, page by page (state, hash and bytes): the store
 * is content addressed and every read verifies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "javm.h"
#include "fuzz_util.h"
#include "cap/cap.h" /* CAP_RECORD_*: the kind bytes of format-2 and format-3 records */
#include "support/fsck_seen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { N_DATA = 4, MAX_EDITS = 32, MAX_RECS = 128 };

static const uint8_t *g_in;
static size_t g_len;

static void fail(const char *what, int rc)
{
    fuzz_report("fuzz_store_records", what, rc, g_in, g_len);
}

static void must(int rc, const char *what)
{
    if (rc)
        fail(what, rc);
}

/* ---- the four Data ------------------------------------------------------------------- */

static const uint64_t n_pages[N_DATA] = { 150, 150, 40, 129 };
enum { C_MISSING = 17, B_CHANGED = 70 };

/* Page i of Data w: false when Empty; else its bytes in p (C's page 17 is Missing, with the
 * hash of these bytes). The last page of each has byte 7 non-zero: size = (n - 1) * 4096 + 8. */
static bool page_of(int w, uint64_t i, uint8_t *p)
{
    memset(p, 0, JAVM_PAGE_SIZE);
    if ((w <= 1 && i % 5 == 2) || (w == 3 && i != 64 && i != 128))
        return false;
    p[0] = (uint8_t)(w == 1 ? 0 : w); /* A and B share every page but one */
    p[1] = (uint8_t)i;
    p[2] = (uint8_t)(i >> 8);
    p[3] = (uint8_t)(w == 1 && i == B_CHANGED);
    p[7] = 0xA5;
    if (i + 1 < n_pages[w])
        p[100 + i % 3000] = (uint8_t)(w + 1);
    return true;
}

/* What was put: each Data's hash and its pages' hashes. */
typedef struct fixture {
    javm_hash held[N_DATA];
    javm_hash page[N_DATA][150];
} fixture;

static javm_cap *data_of(int w, fixture *fx)
{
    javm_cap *d;
    uint8_t p[JAVM_PAGE_SIZE];
    must(javm_data_new_paged((n_pages[w] - 1) * JAVM_PAGE_SIZE + 8, &d), "data_new_paged");
    for (uint64_t i = 0; i < n_pages[w]; i++)
        if (page_of(w, i, p)) {
            must(javm_data_page_load(d, i, p), "page_load");
            if (w == 2 && i == C_MISSING) {
                javm_hash h = javm_data_page(&d->data, i)->hash;
                must(javm_data_page_missing(d, i, &h), "page_missing");
            }
        }
    for (uint64_t i = 0; i < n_pages[w]; i++)
        fx->page[w][i] = javm_data_page(&d->data, i)->hash;
    return d;
}

/* A Data loaded from the store must be the one put: every page's state, hash and bytes. */
static void check_data(const fixture *fx, int w, const javm_cap *cap)
{
    uint8_t p[JAVM_PAGE_SIZE];
    if (cap->kind != JAVM_KIND_DATA || !cap->data.paged || cap->data.n_pages != n_pages[w] ||
        cap->data.size != (n_pages[w] - 1) * JAVM_PAGE_SIZE + 8)
        fail("a loaded Data is not the one put (form)", 0);
    for (uint64_t i = 0; i < n_pages[w]; i++) {
        const javm_page *pg = javm_data_page(&cap->data, i);
        bool loaded = page_of(w, i, p);
        javm_page_state want = !loaded ? JAVM_PAGE_EMPTY
                               : w == 2 && i == C_MISSING ? JAVM_PAGE_MISSING
                                                          : JAVM_PAGE_LOADED;
        if (!pg || pg->state != want)
            fail("a loaded Data is not the one put (page state)", (int)i);
        if (want == JAVM_PAGE_LOADED && memcmp(pg->bytes, p, JAVM_PAGE_SIZE) != 0)
            fail("a loaded Data is not the one put (page bytes)", (int)i);
        if (want != JAVM_PAGE_EMPTY && memcmp(pg->hash.b, fx->page[w][i].b, 32) != 0)
            fail("a loaded Data is not the one put (page hash)", (int)i);
    }
}

/* Reads each held Data's refcount and loads it: a status, or the Data that was put. */
static void load_all(javm_cache *c, const fixture *fx)
{
    for (int w = 0; w < N_DATA; w++) {
        javm_key k = javm_key_of_hash(&fx->held[w]);
        uint32_t rc;
        (void)javm_cache_refcount(c, &k, &rc);
        const javm_cap *cap = javm_cache_get_hash(c, &fx->held[w]);
        if (cap)
            check_data(fx, w, cap);
    }
}

/* ---- the edits ----------------------------------------------------------------------- */

typedef struct recs {
    javm_table t;
    uint8_t cls; /* 0: every record; else the kind byte wanted */
    size_t n;
    uint8_t keys[MAX_RECS][32];
} recs;

static int collect(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    recs *r = arg;
    if (kl == 32 && r->n < MAX_RECS && (r->cls == 0 || (vl >= 1 && v[0] == r->cls)))
        memcpy(r->keys[r->n++], k, 32);
    return 0;
}

/* The key picked by selector s (false when its class is empty); *t its table. */
static bool pick(javm_store *s, unsigned sel, uint8_t key[32], javm_table *t)
{
    static const uint8_t kinds[5] = { 0, CAP_RECORD_CHUNK, CAP_RECORD_DATA_CHUNKS,
                                      CAP_RECORD_DATA_REFS, CAP_RECORD_RUN };
    unsigned cls = sel >> 5;
    recs *r = malloc(sizeof *r);
    if (!r)
        fail("alloc", 0);
    r->t = cls < 5 ? JAVM_TABLE_BLOBS : JAVM_TABLE_REFCOUNTS;
    r->cls = cls < 5 ? kinds[cls] : 0;
    r->n = 0;
    must(s->vtbl->scan(s, r->t, collect, r), "scan");
    bool ok = r->n > 0;
    if (ok)
        memcpy(key, r->keys[(sel & 31) % r->n], 32);
    *t = r->t;
    free(r);
    return ok;
}

/* A copy of t[key] (NULL when absent); *len its length. */
static uint8_t *get_copy(javm_store *s, javm_table t, const uint8_t *key, size_t *len)
{
    const uint8_t *v;
    if (s->vtbl->get(s, t, key, 32, &v, len) != JAVM_OK)
        return NULL;
    uint8_t *b = malloc(*len + 1);
    if (!b)
        fail("alloc", 0);
    if (*len)
        memcpy(b, v, *len);
    return b;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int j = 0; j < 4; j++)
        p[j] = (uint8_t)(v >> 8 * j);
}

/* A record of v's kind naming x slots (a chunk: x as a u8) or pages (0x32, 0x31: the u32 at
 * offset 9), NULL when it is v with that field set (*nlen = len); else a new record, its
 * length in *nlen: a chunk or a 0x32 record is resized to agree with its new count, slots or
 * chunk keys repeated from its own (up to 64 KiB), so that it is not refused for its length
 * alone: a reader that trusts the count reads the record to its end. */
static uint8_t *with_count(uint8_t *v, size_t len, uint32_t x, size_t *nlen)
{
    *nlen = len;
    if (len >= 2 && v[0] == CAP_RECORD_CHUNK) {
        size_t at = 2, slots[64], ns = 0; /* offsets of v's first slots */
        while (at < len && ns < 64 && (v[at] == 0 || len - at > 32)) {
            slots[ns++] = at;
            at += v[at] ? 33 : 1;
        }
        v[1] = (uint8_t)x;
        if (ns == 0)
            return NULL;
        uint8_t *nv = malloc(2 + 33 * (size_t)v[1]);
        if (!nv)
            fail("alloc", 0);
        memcpy(nv, v, 2);
        *nlen = 2;
        for (unsigned i = 0; i < v[1]; i++) {
            size_t o = slots[i % ns], sl = v[o] ? 33 : 1;
            memcpy(nv + *nlen, v + o, sl);
            *nlen += sl;
        }
        return nv;
    }
    if (len < 13)
        return NULL;
    put_u32(v + 9, x);
    size_t nc = ((size_t)x + 63) / 64, have = (len - 13) / 32;
    if (v[0] != CAP_RECORD_DATA_CHUNKS || have == 0 || nc > 2048)
        return NULL;
    uint8_t *nv = malloc(13 + 32 * nc);
    if (!nv)
        fail("alloc", 0);
    memcpy(nv, v, 13);
    for (size_t j = 0; j < nc; j++)
        memcpy(nv + 13 + 32 * j, v + 13 + 32 * (j % have), 32);
    *nlen = 13 + 32 * nc;
    return nv;
}

/* Applies one edit; false when the input is used up. */
static bool edit(javm_store *s, cur *c)
{
    if (c->i >= c->n)
        return false;
    unsigned op = take(c, 1) % 9;
    uint8_t key[32];
    javm_table t;
    if (!pick(s, take(c, 1), key, &t))
        return true;
    size_t len = 0;
    uint8_t *v = get_copy(s, t, key, &len), *nv = NULL;
    if (!v)
        return true;
    size_t nlen = len;
    switch (op) {
    case 0:
    case 1: {
        size_t o = take(c, 2) % (len ? len : 1);
        unsigned b = take(c, 1);
        if (len)
            v[o] = op == 0 ? (uint8_t)(v[o] ^ (b | 1)) : (uint8_t)b;
        break;
    }
    case 2:
        nv = with_count(v, len, (uint32_t)take(c, 4), &nlen);
        break;
    case 3:
        nlen = take(c, 2) % (len + 1);
        break;
    case 4: {
        unsigned m = take(c, 1) % 40 + 1, k = take(c, 1) % 64 + 1;
        uint8_t pat[40];
        for (unsigned j = 0; j < m; j++)
            pat[j] = (uint8_t)take(c, 1);
        nv = malloc(len + (size_t)m * k);
        if (!nv)
            fail("alloc", 0);
        memcpy(nv, v, len);
        for (unsigned j = 0; j < k; j++)
            memcpy(nv + len + (size_t)j * m, pat, m);
        nlen = len + (size_t)m * k;
        break;
    }
    case 5: {
        uint8_t from[32];
        javm_table ft;
        size_t flen;
        if (pick(s, take(c, 1), from, &ft) && ft == t && (nv = get_copy(s, t, from, &flen)))
            nlen = flen;
        break;
    }
    case 6:
        (void)store_raw_set(s, t, key, 32, NULL, 0);
        free(v);
        return true;
    case 7: {
        javm_hash h;
        javm_blake2b(v, len, &h);
        memcpy(key, h.b, 32);
        break;
    }
    case 8: {
        uint8_t cnt[4];
        put_u32(cnt, (uint32_t)take(c, 4));
        (void)store_raw_set(s, JAVM_TABLE_REFCOUNTS, key, 32, cnt, 4);
        free(v);
        return true;
    }
    }
    (void)store_raw_set(s, t, key, 32, nv ? nv : v, nlen);
    free(nv);
    free(v);
    return true;
}

/* ---- one input ----------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_in = data;
    g_len = size;
    cur in = { data, size, 0 };
    unsigned release = take(&in, 1), rootmask = take(&in, 1);
    javm_store *s;
    javm_cache *c;
    fixture fx;
    must(javm_store_mem_new(&s), "store");
    must(javm_cache_open(s, &c), "cache");
    for (int w = 0; w < N_DATA; w++)
        must(javm_cache_put_owned(c, data_of(w, &fx), &fx.held[w]), "put");
    must(javm_commit(c, NULL), "commit");
    javm_cache_close(c);

    /* loaded before the damage, then released after it */
    must(javm_cache_open(s, &c), "cache");
    for (int w = 0; w < N_DATA; w++) {
        const javm_cap *cap = javm_cache_get_hash(c, &fx.held[w]);
        if (!cap)
            fail("an undamaged Data does not load", w);
        check_data(&fx, w, cap);
    }
    for (int e = 0; e < MAX_EDITS && edit(s, &in); e++)
        ;
    for (int w = 0; w < N_DATA; w++)
        if (release & 4 || (unsigned)w == (release & 3)) {
            javm_key k = javm_key_of_hash(&fx.held[w]);
            (void)javm_cache_decref(c, &k);
        }
    (void)javm_commit(c, NULL);
    javm_cache_close(c);

    tl_fsck_stats st;
    (void)seen_fsck(s, &st);

    must(javm_cache_open(s, &c), "cache"); /* meta records are never edited */
    load_all(c, &fx);
    javm_hash roots[N_DATA];
    size_t nr = 0;
    for (int w = 0; w < N_DATA; w++)
        if (rootmask >> w & 1)
            roots[nr++] = fx.held[w];
    (void)javm_gc(NULL, c, NULL, roots, nr);
    load_all(c, &fx);
    (void)javm_gc(NULL, c, NULL, NULL, 0);
    load_all(c, &fx);
    javm_cache_close(c);
    (void)seen_fsck(s, &st);
    javm_store_close(s);
    return 0;
}
