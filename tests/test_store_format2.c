/* SPDX-License-Identifier: MIT
 * tests/test_store_format2.c — store format 2 (docs/store.md, "Format 2: pages stored in
 * runs"; issue 13 item 2): a Paged Data's record names its pages by hash and its pages are
 * stored in runs of 16, counted by the Data records naming them. A Data that differs from a
 * stored one in one page writes one run; releasing a Data releases its runs; gc recounts a
 * wrong run count; fsck reports a missing run and a wrong count; a damaged run is
 * STORE_CORRUPT naming the Data; a store of format 1 is read and becomes format 2 at its
 * first format-2 record. On the in-memory store (the cache does all of it: every store that
 * keeps counts is written so). */
#include "cap_fixtures.h"
#include "cap/cap.h"
#include "support/fsck_seen.h"

#define NPAGES 64 /* four runs */

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
    size_t records, runs, data_refs;
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
    return 0;
}

static census take_census(javm_store *s)
{
    census c = { 0, 0, 0, 0 };
    assert_int_equal(s->vtbl->scan(s, JAVM_TABLE_BLOBS, count_blob, &c), JAVM_OK);
    return c;
}

/* The key and stored count of run g of data_of(alt). */
static void run_key(uint64_t alt, uint64_t g, javm_hash *key)
{
    javm_hash hs[CAP_RUN_PAGES];
    uint8_t page[JAVM_PAGE_SIZE];
    for (uint64_t i = 0; i < CAP_RUN_PAGES; i++) {
        uint64_t p = g * CAP_RUN_PAGES + i;
        page_of(p, p == alt ? 99 : 1, page);
        javm_blake2b(page, sizeof page, &hs[i]);
    }
    cap_run_key(hs, CAP_RUN_PAGES, key);
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

static bool data_equal(const javm_cap *c, uint64_t alt)
{
    uint8_t page[JAVM_PAGE_SIZE];
    if (!c || c->kind != JAVM_KIND_DATA || c->data.n_pages != NPAGES)
        return false;
    for (uint64_t i = 0; i < NPAGES; i++) {
        page_of(i, i == alt ? 99 : 1, page);
        if (c->data.pages[i].state != JAVM_PAGE_LOADED ||
            memcmp(c->data.pages[i].bytes, page, sizeof page) != 0)
            return false;
    }
    return true;
}

static void raw_put(javm_store *s, javm_table t, const void *k, size_t kl, const void *v, size_t vl)
{
    assert_int_equal(store_raw_set(s, t, k, kl, v, vl), JAVM_OK);
}

static void test_runs_shared_released_recounted(void **state)
{
    (void)state;
    javm_store *s;
    javm_cache *c;
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(meta_format(s), 2); /* a new store is format 2 */

    javm_hash h1, h2, k;
    assert_int_equal(javm_cache_put_owned(c, data_of(NPAGES), &h1), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census a = take_census(s);
    assert_int_equal(a.data_refs, 1);
    assert_int_equal(a.runs, NPAGES / CAP_RUN_PAGES);
    /* the Data record: 8 + 1 + 4 + 33 bytes a page, after its kind byte */
    assert_int_equal(a.bytes, (uint64_t)(1 + 13 + 33 * NPAGES) +
                                  NPAGES / CAP_RUN_PAGES * (1 + CAP_RUN_PAGES * JAVM_PAGE_SIZE));

    /* one page differs: one run more, and one more count on each of the other three */
    assert_int_equal(javm_cache_put_owned(c, data_of(37), &h2), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census b = take_census(s);
    assert_int_equal(b.data_refs, 2);
    assert_int_equal(b.runs, a.runs + 1);
    assert_true(b.bytes - a.bytes <= 1 + 13 + 33 * NPAGES + 1 + CAP_RUN_PAGES * JAVM_PAGE_SIZE);
    for (uint64_t g = 0; g < NPAGES / CAP_RUN_PAGES; g++) {
        run_key(NPAGES, g, &k);
        assert_int_equal(stored_count(s, &k), g == 37 / CAP_RUN_PAGES ? 1 : 2);
    }
    assert_int_equal(fsck(s).n, 0);

    /* a fresh cache reads both back, page for page */
    javm_cache_close(c);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_true(data_equal(javm_cache_get_hash(c, &h1), NPAGES));
    assert_true(data_equal(javm_cache_get_hash(c, &h2), 37));

    /* releasing the first: its record and its own run go, the shared runs count 1 */
    javm_key k1 = javm_key_of_hash(&h1);
    assert_int_equal(javm_cache_decref(c, &k1), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census d = take_census(s);
    assert_int_equal(d.data_refs, 1);
    assert_int_equal(d.runs, a.runs);
    run_key(NPAGES, 37 / CAP_RUN_PAGES, &k);
    assert_int_equal(stored_count(s, &k), 0);
    for (uint64_t g = 0; g < NPAGES / CAP_RUN_PAGES; g++) {
        run_key(37, g, &k);
        assert_int_equal(stored_count(s, &k), 1);
    }
    assert_int_equal(fsck(s).n, 0);

    /* a wrong count: fsck says so, gc sets it right */
    run_key(37, 0, &k);
    uint8_t seven[4] = { 7, 0, 0, 0 };
    raw_put(s, JAVM_TABLE_REFCOUNTS, k.b, 32, seven, 4);
    seen f = fsck(s);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.kinds[0], "refcount-high");
    javm_cache_close(c);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_gc(NULL, c, NULL, &h2, 1), JAVM_OK);
    assert_int_equal(stored_count(s, &k), 1);
    assert_int_equal(fsck(s).n, 0);

    /* gc with no root: the Data and every run go */
    javm_key k2 = javm_key_of_hash(&h2);
    assert_int_equal(javm_cache_decref(c, &k2), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    assert_int_equal(javm_gc(NULL, c, NULL, NULL, 0), JAVM_OK);
    census e = take_census(s);
    assert_int_equal(e.records, 0);
    javm_cache_close(c);
    javm_store_close(s);
}

static void test_damaged_and_missing_runs(void **state)
{
    (void)state;
    javm_store *s;
    javm_cache *c;
    char hex[65];
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    javm_hash h, k;
    assert_int_equal(javm_cache_put_owned(c, data_of(5), &h), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    javm_cache_close(c);
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

/* A store of format 1 (a Paged Data record holding its pages' bytes) is read as it is and
 * becomes format 2 with its first format-2 record. */
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
    assert_true(data_equal(javm_cache_get_hash(c, &h), 9));
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
    assert_int_equal(meta_format(s), 2);
    assert_int_equal(fsck(s).n, 0);
    /* the format-1 record, released, is deleted without touching any run */
    javm_key k = javm_key_of_hash(&h);
    assert_int_equal(javm_cache_decref(c, &k), JAVM_OK);
    assert_int_equal(javm_commit(c, NULL), JAVM_OK);
    census e = take_census(s);
    assert_int_equal(e.data_refs, 1);
    assert_int_equal(e.runs, NPAGES / CAP_RUN_PAGES);
    assert_int_equal(fsck(s).n, 0);
    javm_cache_close(c);
    free(rec);
    free(body);
    javm_cap_free(d);
    javm_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_shared_released_recounted),
        cmocka_unit_test(test_damaged_and_missing_runs),
        cmocka_unit_test(test_format1_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
