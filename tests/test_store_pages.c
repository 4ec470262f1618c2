/* SPDX-License-Identifier: MIT
 * tests/test_store_pages.c — store formats 2 and 3 (docs/store.md, "Format 2: pages stored in
 * runs" and "Format 3: chunks"; issue 13 item 2). A Paged Data's record names its chunks (64
 * page slots each, a record of their page hashes) and the chunks' Loaded pages are stored in
 * runs of 16; a chunk is counted by the Data records naming it, a run by the chunk records
 * (and format-2 Data records) naming it. A Data that differs from a stored one in one page
 * writes one chunk and one run; releasing a Data releases what only it named; gc recounts a
 * wrong count; fsck reports a missing chunk or run and a wrong count; a damaged run or chunk is
 * STORE_CORRUPT naming the Data; a Data with a Missing page is still written in format 2; a
 * store of format 1 is read and becomes format 3 at its first such record; Data written and
 * released in one commit cancel their shared chunks, however they pair. On the in-memory
 * store (the cache does all of it: every store that keeps counts is written so). */
#include "cap_fixtures.h"
#include "cap/cap.h"
#include "support/fsck_seen.h"

#define NPAGES 150                  /* three chunks: 64, 64 and 22 page slots */
#define NCHUNKS 3
#define NRUNS 10                    /* 4 + 4 + 2 (16 and 6 pages) */
#define LAST_N (NPAGES - 2 * CAP_CHUNK_PAGES)

static void page_of(uint64_t i, uint8_t seed, uint8_t out[JAVM_PAGE_SIZE])
{
    for (size_t k = 0; k < JAVM_PAGE_SIZE; k++)
        out[k] = (uint8_t)((i * 131 + k * 7 + seed) % 251 + 1);
}

/* A Data of NPAGES Loaded pages; page `alt` (when < NPAGES) made with seed 99. */
static javm_cap *data_of(uint64_t alt)
{
    javm_cap *d;
    uint8_t page[JAVM_PAGE_SIZE];
    assert_int_equal(javm_data_new_paged((uint64_t)NPAGES * JAVM_PAGE_SIZE, &d), JAVM_OK);
    for (uint64_t i = 0; i < NPAGES; i++) {
        page_of(i, i == alt ? 99 : 1, page);
        assert_int_equal(javm_data_page_load(d, i, page), JAVM_OK);
    }
    return d;
}

typedef struct census {
    size_t records, runs, data_refs, data_chunks, chunks;
    uint64_t bytes;
} census;

static int count_blob(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void)key;
    (void)klen;
    census *c = arg;
    c->records++;
    c->bytes += vlen;
    c->runs += val[0] == CAP_RECORD_RUN;
    c->data_refs += val[0] == CAP_RECORD_DATA_REFS;
    c->data_chunks += val[0] == CAP_RECORD_DATA_CHUNKS;
    c->chunks += val[0] == CAP_RECORD_CHUNK;
    return 0;
}

static census take_census(javm_store *s)
{
    census c = { 0, 0, 0, 0, 0, 0 };
    assert_int_equal(s->vtbl->scan(s, JAVM_TABLE_BLOBS, count_blob, &c), JAVM_OK);
    return c;
}

/* The key of run g of data_of(alt) (g < NRUNS). */
static void run_key(uint64_t alt, uint64_t g, javm_hash *key)
{
    javm_hash hs[CAP_RUN_PAGES];
    uint8_t page[JAVM_PAGE_SIZE];
    size_t n = 0;
    for (uint64_t p = g * CAP_RUN_PAGES; p < NPAGES && p < (g + 1) * CAP_RUN_PAGES; p++) {
        page_of(p, p == alt ? 99 : 1, page);
        javm_blake2b(page, sizeof page, &hs[n++]);
    }
    cap_run_key(hs, n, key);
}

/* The key of chunk j of data_of(alt), computed here from its page hashes: H(0x61 ‖ u8 n ‖
 * n × (u8 1 ‖ hash)) (docs/store.md). */
static void chunk_key(uint64_t alt, uint64_t j, javm_hash *key)
{
    uint8_t rec[CAP_CHUNK_RECORD_MAX], page[JAVM_PAGE_SIZE];
    unsigned n = j + 1 < NCHUNKS ? CAP_CHUNK_PAGES : LAST_N;
    size_t len = 2;
    rec[0] = 0x61;
    rec[1] = (uint8_t)n;
    for (uint64_t p = j * CAP_CHUNK_PAGES; p < j * CAP_CHUNK_PAGES + n; p++) {
        page_of(p, p == alt ? 99 : 1, page);
        rec[len++] = 1;
        javm_blake2b(page, sizeof page, (javm_hash *)(void *)(rec + len));
        len += 32;
    }
    javm_blake2b(rec, len, key);
}

static uint32_t stored_count(javm_store *s, const javm_hash *h)
{
    const uint8_t *v;
    size_t vlen;
    if (s->vtbl->get(s, JAVM_TABLE_REFCOUNTS, h->b, 32, &v, &vlen) != JAVM_OK)
        return 0;
    assert_int_equal(vlen, 4);
    return cap_get_u32(v);
}

static bool stored(javm_store *s, const javm_hash *h)
{
    const uint8_t *v;
    size_t vlen;
    return s->vtbl->get(s, JAVM_TABLE_BLOBS, h->b, 32, &v, &vlen) == JAVM_OK;
}

static uint32_t meta_format(javm_store *s)
{
    const uint8_t *v;
    size_t vlen;
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_META, (const uint8_t *)"format", 6, &v, &vlen), JAVM_OK);
    assert_int_equal(vlen, 4);
    return cap_get_u32(v);
}

static seen fsck(javm_store *s)
{
    tl_fsck_stats st;
    seen r = seen_fsck(s, &st);
    assert_int_not_equal(r.n, (size_t)-1);
    return r;
}

static bool has_kind(const seen *f, const char *kind)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->kinds[i], kind) == 0)
            return true;
    return false;
}

/* Whether c is data_of(alt), page for page (page `missing`, when < NPAGES, Missing). */
static bool data_equal(const javm_cap *c, uint64_t alt, uint64_t missing)
{
    uint8_t page[JAVM_PAGE_SIZE];
    if (!c || c->kind != JAVM_KIND_DATA || c->data.n_pages != NPAGES)
        return false;
    for (uint64_t i = 0; i < NPAGES; i++) {
        const javm_page *p = javm_data_page(&c->data, i);
        page_of(i, i == alt ? 99 : 1, page);
        if (i == missing) {
            if (p->state != JAVM_PAGE_MISSING)
                return false;
        } else if (p->state != JAVM_PAGE_LOADED || memcmp(p->bytes, page, sizeof page) != 0) {
            return false;
        }
    }
    return true;
}

static void raw_put(javm_store *s, javm_table t, const void *k, size_t kl, const void *v, size_t vl)
{
    assert_int_equal(store_raw_set(s, t, k, kl, v, vl), JAVM_OK);
}

static void test_chunks_shared_released_recounted(void **state)
{
    (void)state;
    javm_store *s;
    javm_cache *c;
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(meta_format(s), 3); /* a new store is format 3 */

    javm_hash h1, h2, k;
    assert_int_equal(javm_cache_put_owned(c, data_of(NPAGES), &h1), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census a = take_census(s);
    assert_int_equal(a.data_chunks, 1);
    assert_int_equal(a.chunks, NCHUNKS);
    assert_int_equal(a.runs, NRUNS);
    /* the Data record (kind, size, page count, a key a chunk), the chunk records (kind, slot
     * count, 33 bytes a page), the runs (9 of 16 pages, one of 6) */
    assert_int_equal(a.bytes, (uint64_t)(1 + 8 + 4 + 32 * NCHUNKS) + (2 + 33 * (uint64_t)NPAGES) * 1 +
                                  2 * (NCHUNKS - 1) + 9 * (1 + CAP_RUN_PAGES * JAVM_PAGE_SIZE) +
                                  (1 + 6 * JAVM_PAGE_SIZE));
    for (uint64_t j = 0; j < NCHUNKS; j++) {
        chunk_key(NPAGES, j, &k);
        assert_int_equal(stored_count(s, &k), 1);
    }

    /* one page differs: one chunk and one run more, and one more count on the other chunks;
     * the runs the two chunk 0s share are counted by both */
    assert_int_equal(javm_cache_put_owned(c, data_of(37), &h2), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census b = take_census(s);
    assert_int_equal(b.data_chunks, 2);
    assert_int_equal(b.chunks, a.chunks + 1);
    assert_int_equal(b.runs, a.runs + 1);
    assert_int_equal(b.bytes - a.bytes, (1 + 8 + 4 + 32 * NCHUNKS) + (2 + 33 * CAP_CHUNK_PAGES) +
                                            (1 + CAP_RUN_PAGES * JAVM_PAGE_SIZE));
    for (uint64_t j = 0; j < NCHUNKS; j++) {
        chunk_key(NPAGES, j, &k);
        assert_int_equal(stored_count(s, &k), j == 0 ? 1 : 2);
    }
    chunk_key(37, 0, &k);
    assert_int_equal(stored_count(s, &k), 1);
    for (uint64_t g = 0; g < NRUNS; g++) {
        run_key(NPAGES, g, &k);
        assert_int_equal(stored_count(s, &k), g == 2 ? 1 : g < 4 ? 2 : 1);
    }
    run_key(37, 2, &k);
    assert_int_equal(stored_count(s, &k), 1);
    assert_int_equal(fsck(s).n, 0);

    /* a fresh cache reads both back, page for page */
    javm_cache_close(c);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_true(data_equal(javm_cache_get_hash(c, &h1), NPAGES, NPAGES));
    assert_true(data_equal(javm_cache_get_hash(c, &h2), 37, NPAGES));

    /* releasing the first: its record, its own chunk and run go, the shared ones count 1 */
    javm_key k1 = javm_key_of_hash(&h1);
    assert_int_equal(javm_cache_decref(c, &k1), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census d = take_census(s);
    assert_int_equal(d.data_chunks, 1);
    assert_int_equal(d.chunks, a.chunks);
    assert_int_equal(d.runs, a.runs);
    chunk_key(NPAGES, 0, &k);
    assert_false(stored(s, &k));
    assert_int_equal(stored_count(s, &k), 0);
    run_key(NPAGES, 2, &k);
    assert_false(stored(s, &k));
    for (uint64_t j = 0; j < NCHUNKS; j++) {
        chunk_key(37, j, &k);
        assert_int_equal(stored_count(s, &k), 1);
    }
    for (uint64_t g = 0; g < NRUNS; g++) {
        run_key(37, g, &k);
        assert_int_equal(stored_count(s, &k), 1);
    }
    assert_int_equal(fsck(s).n, 0);

    /* wrong counts on a chunk and a run: fsck says so, gc sets them right */
    uint8_t seven[4] = { 7, 0, 0, 0 };
    javm_hash kc, kr;
    chunk_key(37, 1, &kc);
    run_key(37, 0, &kr);
    raw_put(s, JAVM_TABLE_REFCOUNTS, kc.b, 32, seven, 4);
    raw_put(s, JAVM_TABLE_REFCOUNTS, kr.b, 32, seven, 4);
    seen f = fsck(s);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.kinds[0], "refcount-high");
    assert_string_equal(f.kinds[1], "refcount-high");
    javm_cache_close(c);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_gc(NULL, c, NULL, &h2, 1), JAVM_OK);
    assert_int_equal(stored_count(s, &kc), 1);
    assert_int_equal(stored_count(s, &kr), 1);
    assert_int_equal(fsck(s).n, 0);

    /* gc with no root: the Data, every chunk and every run go */
    javm_key k2 = javm_key_of_hash(&h2);
    assert_int_equal(javm_cache_decref(c, &k2), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    assert_int_equal(javm_gc(NULL, c, NULL, NULL, 0), JAVM_OK);
    census e = take_census(s);
    assert_int_equal(e.records, 0);
    javm_cache_close(c);
    javm_store_close(s);
}

/* A Data of n Loaded pages, page i as in data_of(NPAGES). */
static javm_cap *data_n(uint64_t n)
{
    javm_cap *d;
    uint8_t page[JAVM_PAGE_SIZE];
    assert_int_equal(javm_data_new_paged(n * JAVM_PAGE_SIZE, &d), JAVM_OK);
    for (uint64_t i = 0; i < n; i++) {
        page_of(i, 1, page);
        assert_int_equal(javm_data_page_load(d, i, page), JAVM_OK);
    }
    return d;
}

static void drop(javm_cache *c, const javm_hash *h)
{
    javm_key k = javm_key_of_hash(h);
    assert_int_equal(javm_cache_decref(c, &k), JAVM_OK);
}

/* Data written and Data released in one commit (as settle's post-instance replaces the one it
 * was derived from): the counts of their chunks cancel where they hold the same chunk, in
 * whichever pairs the commit matches them, or none when their chunk counts differ. */
static void test_replaced_in_one_commit(void **state)
{
    (void)state;
    javm_store *s;
    javm_cache *c;
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    javm_hash x, y, x2, y2, z, k;
    assert_int_equal(javm_cache_put_owned(c, data_of(NPAGES), &x), JAVM_OK);
    assert_int_equal(javm_cache_put_owned(c, data_of(100), &y), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);

    /* two of one size replaced by two of that size: each differs in one chunk */
    assert_int_equal(javm_cache_put_owned(c, data_of(37), &x2), JAVM_OK);
    assert_int_equal(javm_cache_put_owned(c, data_of(101), &y2), JAVM_OK);
    drop(c, &x);
    drop(c, &y);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census a = take_census(s);
    assert_int_equal(a.data_chunks, 2);
    assert_int_equal(a.chunks, 5); /* chunk 0 twice, chunk 1 twice, chunk 2 */
    assert_int_equal(a.runs, NRUNS + 2);
    chunk_key(NPAGES, 0, &k);
    assert_int_equal(stored_count(s, &k), 1);
    chunk_key(NPAGES, 1, &k);
    assert_int_equal(stored_count(s, &k), 1);
    chunk_key(NPAGES, 2, &k);
    assert_int_equal(stored_count(s, &k), 2);
    chunk_key(37, 0, &k);
    assert_int_equal(stored_count(s, &k), 1);
    chunk_key(101, 1, &k);
    assert_int_equal(stored_count(s, &k), 1);
    chunk_key(100, 1, &k);
    assert_false(stored(s, &k));
    run_key(100, 6, &k);
    assert_false(stored(s, &k));
    assert_int_equal(fsck(s).n, 0);

    /* both replaced by a Data of two chunks, the first of which y2 holds */
    assert_int_equal(javm_cache_put_owned(c, data_n(CAP_CHUNK_PAGES + 6), &z), JAVM_OK);
    drop(c, &x2);
    drop(c, &y2);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census b = take_census(s);
    assert_int_equal(b.data_chunks, 1);
    assert_int_equal(b.chunks, 2);
    assert_int_equal(b.runs, 5);
    chunk_key(NPAGES, 0, &k);
    assert_int_equal(stored_count(s, &k), 1);
    assert_int_equal(fsck(s).n, 0);
    javm_cache_close(c);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    const javm_cap *zc = javm_cache_get_hash(c, &z);
    assert_non_null(zc);
    assert_int_equal(zc->data.n_pages, CAP_CHUNK_PAGES + 6);
    drop(c, &z);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    assert_int_equal(take_census(s).records, 0);
    javm_cache_close(c);
    javm_store_close(s);
}

/* A new in-memory store holding data_of(alt) (its hash in *h), committed, no cache open. */
static javm_store *stored_data_of(uint64_t alt, javm_hash *h)
{
    javm_store *s;
    javm_cache *c;
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_cache_put_owned(c, data_of(alt), h), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    javm_cache_close(c);
    return s;
}

static void test_damaged_and_missing_runs(void **state)
{
    (void)state;
    javm_cache *c;
    char hex[65];
    javm_hash h, k;
    javm_store *s = stored_data_of(5, &h);
    javm_hash_to_hex(&h, hex);

    /* one byte of run 2 flipped */
    run_key(5, 2, &k);
    const uint8_t *v;
    size_t vlen;
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_BLOBS, k.b, 32, &v, &vlen), JAVM_OK);
    assert_int_equal(vlen, 1 + CAP_RUN_PAGES * JAVM_PAGE_SIZE);
    uint8_t *copy = malloc(vlen);
    assert_non_null(copy);
    memcpy(copy, v, vlen);
    copy[1 + 3 * JAVM_PAGE_SIZE + 100] ^= 1;
    raw_put(s, JAVM_TABLE_BLOBS, k.b, 32, copy, vlen);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_null(javm_cache_get_hash(c, &h));
    uint32_t rc;
    javm_key dk = javm_key_of_hash(&h);
    assert_int_equal(javm_cache_refcount(c, &dk, &rc), JAVM_ERR_STORE_CORRUPT);
    assert_non_null(strstr(javm_store_errmsg(s), hex));
    assert_non_null(strstr(javm_store_errmsg(s), "pages 32..: a page's bytes hash"));
    javm_cache_close(c);
    seen f = fsck(s);
    assert_true(f.n >= 1);
    assert_string_equal(f.kinds[0], "blob-hash");

    /* the run gone (with its count) */
    raw_put(s, JAVM_TABLE_BLOBS, k.b, 32, NULL, 0);
    raw_put(s, JAVM_TABLE_REFCOUNTS, k.b, 32, NULL, 0);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_cache_refcount(c, &dk, &rc), JAVM_ERR_STORE_CORRUPT);
    assert_non_null(strstr(javm_store_errmsg(s), "pages 32..: absent"));
    javm_cache_close(c);
    f = fsck(s);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.kinds[0], "run-missing");
    free(copy);
    javm_store_close(s);
}

static void test_damaged_and_missing_chunks(void **state)
{
    (void)state;
    javm_cache *c;
    char hex[65];
    javm_hash h, k;
    javm_store *s = stored_data_of(5, &h);
    javm_hash_to_hex(&h, hex);
    uint32_t rc;
    javm_key dk = javm_key_of_hash(&h);

    /* chunk 1's record one byte short */
    chunk_key(5, 1, &k);
    const uint8_t *v;
    size_t vlen;
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_BLOBS, k.b, 32, &v, &vlen), JAVM_OK);
    assert_int_equal(vlen, 2 + 33 * CAP_CHUNK_PAGES);
    uint8_t *copy = malloc(vlen);
    assert_non_null(copy);
    memcpy(copy, v, vlen);
    raw_put(s, JAVM_TABLE_BLOBS, k.b, 32, copy, vlen - 1);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_cache_refcount(c, &dk, &rc), JAVM_ERR_STORE_CORRUPT);
    assert_non_null(strstr(javm_store_errmsg(s), hex));
    assert_non_null(strstr(javm_store_errmsg(s), "chunk 1: not a chunk record"));
    /* gc does not recount over it (its runs would go as named by nothing) */
    census before = take_census(s);
    assert_int_equal(javm_gc(NULL, c, NULL, NULL, 0), JAVM_ERR_STORE_CORRUPT);
    assert_int_equal(take_census(s).records, before.records);
    javm_cache_close(c);
    seen f = fsck(s);
    assert_true(has_kind(&f, "blob-decode"));
    assert_true(has_kind(&f, "chunk-missing"));

    /* one page hash of it changed (a record of the right shape, under another content) */
    copy[2 + 33 * 3 + 1] ^= 1;
    raw_put(s, JAVM_TABLE_BLOBS, k.b, 32, copy, vlen);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_cache_refcount(c, &dk, &rc), JAVM_ERR_STORE_CORRUPT);
    assert_non_null(strstr(javm_store_errmsg(s), hex));
    javm_cache_close(c);
    f = fsck(s);
    assert_true(has_kind(&f, "blob-hash"));

    /* the chunk gone (with its count) */
    raw_put(s, JAVM_TABLE_BLOBS, k.b, 32, NULL, 0);
    raw_put(s, JAVM_TABLE_REFCOUNTS, k.b, 32, NULL, 0);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_cache_refcount(c, &dk, &rc), JAVM_ERR_STORE_CORRUPT);
    assert_non_null(strstr(javm_store_errmsg(s), "chunk 1: absent"));
    javm_cache_close(c);
    f = fsck(s);
    assert_true(has_kind(&f, "chunk-missing"));
    free(copy);
    javm_store_close(s);
}

/* A Data with a Missing page is written in format 2 (its pages by hash, in runs counted by the
 * Data record) beside format-3 Data that share its runs; both read back, each release takes
 * off its own counts, and gc's recount agrees. */
/* A chunk record whose slot count is out of range (0, or over 64: 255 slots of 33 bytes)
 * under a chunk's key: refused as not a chunk record by a load, gc's recount and the release
 * that reads it back (never read past the chunk's 64 slots); a chunk record of another chunk
 * under its key: refused by a load, its hash not being its key. */
static void test_chunk_record_out_of_range(void **state)
{
    (void)state;
    enum { BIG = 2 + 255 * 33 };
    uint8_t *bad = malloc(BIG);
    assert_non_null(bad);
    bad[0] = CAP_RECORD_CHUNK;
    bad[1] = 255;
    for (size_t i = 0; i < 255; i++) {
        bad[2 + 33 * i] = 1;
        memset(bad + 3 + 33 * i, (int)(i % 250) + 1, 32);
    }
    javm_chunk *ch = cap_chunk_new();
    assert_non_null(ch);
    assert_int_equal(cap_chunk_from_record(bad, BIG, 255, ch), JAVM_ERR_NON_CANONICAL);
    const uint8_t none[2] = { CAP_RECORD_CHUNK, 0 };
    assert_int_equal(cap_chunk_from_record(none, 2, 0, ch), JAVM_ERR_NON_CANONICAL);
    cap_chunk_unref(ch);

    const size_t lens[2] = { BIG, 2 };
    for (int t = 0; t < 2; t++) {
        javm_hash h, k;
        javm_cache *c;
        uint32_t rc;
        javm_store *s = stored_data_of(5, &h);
        javm_key dk = javm_key_of_hash(&h);
        chunk_key(5, 1, &k);
        if (t == 1)
            bad[1] = 0;
        /* the Data loaded before the damage, then released: the chunk reaches 0 and is read
         * back for its runs */
        assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
        assert_int_equal(javm_cache_refcount(c, &dk, &rc), JAVM_OK);
        raw_put(s, JAVM_TABLE_BLOBS, k.b, 32, bad, lens[t]);
        census before = take_census(s);
        assert_int_equal(javm_cache_decref(c, &dk), JAVM_OK);
        assert_int_equal(javm_commit(c, NULL), JAVM_ERR_STORE_CORRUPT);
        assert_non_null(strstr(javm_store_errmsg(s), "not a chunk record"));
        javm_cache_close(c);
        assert_int_equal(take_census(s).records, before.records);
        /* loaded after it, and gc's recount */
        assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
        assert_int_equal(javm_cache_refcount(c, &dk, &rc), JAVM_ERR_STORE_CORRUPT);
        assert_non_null(strstr(javm_store_errmsg(s), "chunk 1: not a chunk record"));
        assert_int_equal(javm_gc(NULL, c, NULL, &h, 1), JAVM_ERR_STORE_CORRUPT);
        assert_non_null(strstr(javm_store_errmsg(s), "not a chunk record"));
        assert_int_equal(javm_gc(NULL, c, NULL, NULL, 0), JAVM_ERR_STORE_CORRUPT);
        assert_non_null(strstr(javm_store_errmsg(s), "not a chunk record"));
        assert_int_equal(take_census(s).records, before.records);
        javm_cache_close(c);
        javm_store_close(s);
    }

    /* chunk 0's record (of 64 slots too) under chunk 1's key */
    javm_hash h, k0, k1;
    javm_cache *c;
    uint32_t rc;
    javm_store *s = stored_data_of(5, &h);
    javm_key dk = javm_key_of_hash(&h);
    chunk_key(5, 0, &k0);
    chunk_key(5, 1, &k1);
    const uint8_t *v;
    size_t vlen;
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_BLOBS, k0.b, 32, &v, &vlen), JAVM_OK);
    memcpy(bad, v, vlen);
    raw_put(s, JAVM_TABLE_BLOBS, k1.b, 32, bad, vlen);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_cache_refcount(c, &dk, &rc), JAVM_ERR_STORE_CORRUPT);
    assert_non_null(strstr(javm_store_errmsg(s), "chunk 1: its hash is not its key"));
    javm_cache_close(c);
    javm_store_close(s);
    free(bad);
}

static void test_format2_beside_format3(void **state)
{
    (void)state;
    javm_store *s;
    javm_cache *c;
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    javm_cap *m = data_of(NPAGES);
    javm_hash mh = { { 0xAB } }, hm, h3, k;
    assert_int_equal(javm_data_page_missing(m, 70, &mh), JAVM_OK);
    assert_int_equal(javm_cache_put_owned(c, m, &hm), JAVM_OK);
    assert_int_equal(javm_cache_put_owned(c, data_of(NPAGES), &h3), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census a = take_census(s);
    assert_int_equal(a.data_refs, 1);
    assert_int_equal(a.data_chunks, 1);
    assert_int_equal(a.runs, NRUNS + 1); /* run 4 differs: page 70 is not in the format-2 one */
    run_key(NPAGES, 0, &k);
    assert_int_equal(stored_count(s, &k), 2);
    assert_int_equal(fsck(s).n, 0);
    javm_cache_close(c);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_true(data_equal(javm_cache_get_hash(c, &hm), NPAGES, 70));
    assert_true(data_equal(javm_cache_get_hash(c, &h3), NPAGES, NPAGES));
    javm_key km = javm_key_of_hash(&hm);
    assert_int_equal(javm_cache_decref(c, &km), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    assert_int_equal(stored_count(s, &k), 1);
    assert_int_equal(take_census(s).runs, NRUNS);
    assert_int_equal(fsck(s).n, 0);
    assert_int_equal(javm_gc(NULL, c, NULL, &h3, 1), JAVM_OK);
    assert_int_equal(stored_count(s, &k), 1);
    assert_int_equal(fsck(s).n, 0);
    javm_cache_close(c);
    javm_store_close(s);
}

/* A store of format 1 (a Paged Data record holding its pages' bytes) is read as it is and
 * becomes format 3 with its first format-3 record. */
static void test_format1_store(void **state)
{
    (void)state;
    javm_store *s;
    javm_cache *c;
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    javm_cap *d = data_of(9);
    javm_hash h;
    assert_int_equal(javm_cap_hash(d, &h), JAVM_OK);
    uint8_t *body;
    size_t blen;
    assert_int_equal(javm_cap_encode(d, &body, &blen), JAVM_OK);
    uint8_t *rec = malloc(blen + 1);
    assert_non_null(rec);
    rec[0] = JAVM_KIND_DATA;
    memcpy(rec + 1, body, blen);
    uint8_t one[4] = { 1, 0, 0, 0 };
    raw_put(s, JAVM_TABLE_META, "format", 6, one, 4);
    raw_put(s, JAVM_TABLE_META, "hash_profile", 12, "blake2b-256-tagged", 18);
    raw_put(s, JAVM_TABLE_BLOBS, h.b, 32, rec, blen + 1);
    raw_put(s, JAVM_TABLE_REFCOUNTS, h.b, 32, one, 4);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_true(data_equal(javm_cache_get_hash(c, &h), 9, NPAGES));
    assert_int_equal(meta_format(s), 1);
    assert_int_equal(fsck(s).n, 0);
    /* a commit without a Paged Data keeps format 1 */
    javm_hash small;
    assert_int_equal(javm_cache_put_owned(c, data_str("small"), &small), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    assert_int_equal(meta_format(s), 1);
    javm_hash h2;
    assert_int_equal(javm_cache_put_owned(c, data_of(NPAGES), &h2), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    assert_int_equal(meta_format(s), 3);
    assert_int_equal(fsck(s).n, 0);
    /* the format-1 record, released, is deleted without touching any chunk or run */
    javm_key k = javm_key_of_hash(&h);
    assert_int_equal(javm_cache_decref(c, &k), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census e = take_census(s);
    assert_int_equal(e.data_chunks, 1);
    assert_int_equal(e.chunks, NCHUNKS);
    assert_int_equal(e.runs, NRUNS);
    assert_int_equal(fsck(s).n, 0);
    /* a store of format 3 read as format 2 by its meta record: fsck says which records */
    uint8_t two[4] = { 2, 0, 0, 0 };
    raw_put(s, JAVM_TABLE_META, "format", 6, two, 4);
    seen f = fsck(s);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.kinds[0], "meta");
    javm_cache_close(c);
    free(rec);
    free(body);
    javm_cap_free(d);
    javm_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunks_shared_released_recounted),
        cmocka_unit_test(test_replaced_in_one_commit),
        cmocka_unit_test(test_damaged_and_missing_runs),
        cmocka_unit_test(test_damaged_and_missing_chunks),
        cmocka_unit_test(test_chunk_record_out_of_range),
        cmocka_unit_test(test_format2_beside_format3),
        cmocka_unit_test(test_format1_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
