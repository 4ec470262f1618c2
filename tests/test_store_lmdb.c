/* SPDX-License-Identifier: MIT
 * tests/test_store_lmdb.c — the LMDB store and the persistent kernel assist: one vtbl
 * conformance body run on the in-memory and the LMDB store, bad input (corrupt records, a full
 * map, read-only stores, foreign formats), the kernel-assist bullet of caps.md §10.5 and its
 * buffering rules on LMDB, and gc on LMDB. */
#include "store_fixtures.h" /* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/test_store.h"

/* ---- store vtbl conformance -------------------------------------------------------------- */

typedef struct seen {
    char keys[16][8];
    size_t n;
    int stop_at;
} seen;

static int collect(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    seen *s = arg;
    (void)val;
    (void)vlen;
    assert_true(klen < 8 && s->n < 16);
    for (size_t i = 0; i < klen; i++)
        s->keys[s->n][i] = (char)(key[i] ? key[i] : '0');
    s->keys[s->n][klen] = 0;
    s->n++;
    return s->stop_at && (int)s->n == s->stop_at ? 7 : 0;
}

/* Records the first byte of each 32-byte key. */
static int collect32(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    seen *s = arg;
    (void)val;
    (void)vlen;
    assert_true(klen == 32 && s->n < 16);
    s->keys[s->n][0] = (char)key[0];
    s->keys[s->n][1] = 0;
    s->n++;
    return s->stop_at && (int)s->n == s->stop_at ? 7 : 0;
}

#define PUT(s, t, k, v)                                                                        \
    assert_int_equal((s)->vtbl->put((s), (t), (const uint8_t *)(k), strlen(k),                 \
                                    (const uint8_t *)(v), strlen(v)),                          \
                     JAVM_OK)

static void expect_val(javm_store *s, javm_table t, const char *k, const char *v)
{
    const uint8_t *val;
    size_t vlen;
    int rc = s->vtbl->get(s, t, (const uint8_t *)k, strlen(k), &val, &vlen);
    if (!v) {
        assert_int_equal(rc, JAVM_ERR_NOT_FOUND);
        return;
    }
    assert_int_equal(rc, JAVM_OK);
    assert_int_equal(vlen, strlen(v));
    assert_memory_equal(val, v, vlen);
}

static void expect_scan(javm_store *s, javm_table t, const char *const *keys, size_t n)
{
    seen sn = { .n = 0 };
    assert_int_equal(s->vtbl->scan(s, t, collect, &sn), JAVM_OK);
    assert_int_equal(sn.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(sn.keys[i], keys[i]);
}

/* The same body for every store: get/put/del/scan order/commit/abort, reads see own writes. */
static void conform(javm_store *s)
{
    expect_val(s, JAVM_TABLE_NAMES, "a", NULL);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1,
                                  (const uint8_t *)"x", 1),
                     JAVM_ERR_INVALID_ARG); /* no transaction */
    s->vtbl->abort(s);                     /* no-op without one */
    assert_int_equal(s->vtbl->commit(s), JAVM_ERR_INVALID_ARG);

    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->begin(s), JAVM_ERR_BUSY);
    PUT(s, JAVM_TABLE_NAMES, "b", "vb");
    PUT(s, JAVM_TABLE_NAMES, "ab", "vab");
    PUT(s, JAVM_TABLE_NAMES, "a", "va");
    PUT(s, JAVM_TABLE_NAMES, "c", "vc");
    PUT(s, JAVM_TABLE_META, "a", "meta-a"); /* tables are separate */
    expect_val(s, JAVM_TABLE_NAMES, "a", "va");
    expect_val(s, JAVM_TABLE_META, "a", "meta-a");
    PUT(s, JAVM_TABLE_NAMES, "a", "va2"); /* overwrite */
    expect_val(s, JAVM_TABLE_NAMES, "a", "va2");
    assert_int_equal(s->vtbl->del(s, JAVM_TABLE_NAMES, (const uint8_t *)"c", 1), JAVM_OK);
    assert_int_equal(s->vtbl->del(s, JAVM_TABLE_NAMES, (const uint8_t *)"zz", 2), JAVM_OK);
    expect_val(s, JAVM_TABLE_NAMES, "c", NULL);
    static const char *const k3[] = { "a", "ab", "b" };
    expect_scan(s, JAVM_TABLE_NAMES, k3, 3); /* own writes and deletes, in order */
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);

    expect_val(s, JAVM_TABLE_NAMES, "a", "va2");
    expect_scan(s, JAVM_TABLE_NAMES, k3, 3);
    /* Two borrowed values at once, outside a transaction: both stay valid. */
    const uint8_t *v1, *v2;
    size_t l1, l2;
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, &v1, &l1), 0);
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"b", 1, &v2, &l2), 0);
    assert_memory_equal(v1, "va2", 3);
    assert_memory_equal(v2, "vb", 2);

    /* Abort discards. */
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    PUT(s, JAVM_TABLE_NAMES, "a", "gone");
    PUT(s, JAVM_TABLE_NAMES, "d", "gone");
    assert_int_equal(s->vtbl->del(s, JAVM_TABLE_NAMES, (const uint8_t *)"b", 1), JAVM_OK);
    static const char *const k3d[] = { "a", "ab", "d" };
    expect_scan(s, JAVM_TABLE_NAMES, k3d, 3);
    s->vtbl->abort(s);
    expect_val(s, JAVM_TABLE_NAMES, "a", "va2");
    expect_val(s, JAVM_TABLE_NAMES, "d", NULL);
    expect_scan(s, JAVM_TABLE_NAMES, k3, 3);

    /* memcmp order, shorter first on a tie; binary keys; a stopping callback. */
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    static const uint8_t kb[][2] = { { 2, 0 }, { 1, 0 }, { 0, 0xff }, { 1, 0 } };
    static const size_t kl[] = { 1, 2, 2, 1 };
    for (int i = 0; i < 4; i++)
        assert_int_equal(s->vtbl->put(s, JAVM_TABLE_BLOBS, kb[i], kl[i], kb[i], kl[i]), 0);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
    seen sn = { .n = 0 };
    assert_int_equal(s->vtbl->scan(s, JAVM_TABLE_BLOBS, collect, &sn), JAVM_OK);
    assert_int_equal(sn.n, 4);
    assert_int_equal((uint8_t)sn.keys[0][0], '0'); /* 00 ff */
    assert_int_equal((uint8_t)sn.keys[0][1], 0xff);
    assert_string_equal(sn.keys[1], "\x01");
    assert_string_equal(sn.keys[2], "\x01" "0");
    assert_string_equal(sn.keys[3], "\x02");
    seen st = { .n = 0, .stop_at = 2 };
    assert_int_equal(s->vtbl->scan(s, JAVM_TABLE_BLOBS, collect, &st), 7);
    assert_int_equal(st.n, 2);
    expect_val(s, JAVM_TABLE_REFCOUNTS, "a", NULL);
    assert_int_equal(s->vtbl->get(s, (javm_table)9, (const uint8_t *)"a", 1, &v1, &l1),
                     JAVM_ERR_INVALID_ARG);
}

/* The same contract with records every store keeps (a RADOS store keeps only what its tables
 * mean: names to 32-byte hashes, u64 quotas under 8-byte ids, blobs under 32-byte hashes), on
 * the test's store (tests/support/test_store.h), closed and reopened. One departure on RADOS
 * (docs/scale-out.md §2): a blob is written when it is put, before the commit, and stays after
 * an abort: immutable and content addressed, unreachable until a name refers to it. */
static void hash32(uint8_t out[32], char c)
{
    memset(out, c, 32);
}

static void put_name(javm_store *s, const char *k, char c)
{
    uint8_t v[32];
    hash32(v, c);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_NAMES, (const uint8_t *)k, strlen(k), v, 32),
                     JAVM_OK);
}

static void expect_name(javm_store *s, const char *k, char c)
{
    const uint8_t *val;
    size_t vlen;
    int rc = s->vtbl->get(s, JAVM_TABLE_NAMES, (const uint8_t *)k, strlen(k), &val, &vlen);
    if (!c) {
        assert_int_equal(rc, JAVM_ERR_NOT_FOUND);
        return;
    }
    assert_int_equal(rc, JAVM_OK);
    assert_int_equal(vlen, 32);
    uint8_t v[32];
    hash32(v, c);
    assert_memory_equal(val, v, 32);
}

static void conform_shapes(javm_store *s)
{
    expect_name(s, "a", 0);
    uint8_t v32[32], k8[8] = { 0, 0, 0, 0, 0, 0, 0, 1 }, q8[8] = { 7 };
    hash32(v32, 'x');
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, v32, 32),
                     JAVM_ERR_INVALID_ARG); /* no transaction */
    s->vtbl->abort(s);
    assert_int_equal(s->vtbl->commit(s), JAVM_ERR_INVALID_ARG);

    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->begin(s), JAVM_ERR_BUSY);
    put_name(s, "b", 'b');
    put_name(s, "ab", 'B');
    put_name(s, "a", 'a');
    put_name(s, "c", 'c');
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_QUOTAS, k8, 8, q8, 8), JAVM_OK);
    expect_name(s, "a", 'a');
    put_name(s, "a", 'A'); /* overwrite */
    expect_name(s, "a", 'A');
    assert_int_equal(s->vtbl->del(s, JAVM_TABLE_NAMES, (const uint8_t *)"c", 1), JAVM_OK);
    assert_int_equal(s->vtbl->del(s, JAVM_TABLE_NAMES, (const uint8_t *)"zz", 2), JAVM_OK);
    expect_name(s, "c", 0);
    static const char *const k3[] = { "a", "ab", "b" };
    expect_scan(s, JAVM_TABLE_NAMES, k3, 3); /* own writes and deletes, in order */
    const uint8_t *val;
    size_t vlen;
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_QUOTAS, k8, 8, &val, &vlen), JAVM_OK);
    assert_int_equal(vlen, 8);
    assert_int_equal(val[0], 7);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);

    expect_name(s, "a", 'A');
    expect_scan(s, JAVM_TABLE_NAMES, k3, 3);
    if (tstore_is_rados()) {
        /* scale-out.md §4: the quota is in the transaction's home head, the first name it
         * used ("b"), not in the default head that reads outside a transaction start at. */
        assert_int_equal(s->vtbl->get(s, JAVM_TABLE_QUOTAS, k8, 8, &val, &vlen),
                         JAVM_ERR_NOT_FOUND);
        assert_int_equal(tstore_home(s, (const uint8_t *)"b", 1), JAVM_OK);
    }
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_QUOTAS, k8, 8, &val, &vlen), JAVM_OK);
    assert_int_equal(val[0], 7);
    /* Two borrowed values at once, outside a transaction: both stay valid. */
    const uint8_t *v1, *v2;
    size_t l1, l2;
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"a", 1, &v1, &l1), 0);
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_NAMES, (const uint8_t *)"b", 1, &v2, &l2), 0);
    assert_int_equal(v1[0], 'A');
    assert_int_equal(v2[0], 'b');

    /* Abort discards (a blob put excepted on RADOS, see above). */
    uint8_t bh[32], rec[6] = { 0x30, 1, 0, 0, 0, 'z' };
    hash32(bh, 0x5a);
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    put_name(s, "b", 'b'); /* the same home head as before on RADOS */
    put_name(s, "a", 'g');
    put_name(s, "d", 'g');
    assert_int_equal(s->vtbl->del(s, JAVM_TABLE_NAMES, (const uint8_t *)"b", 1), JAVM_OK);
    assert_int_equal(s->vtbl->del(s, JAVM_TABLE_QUOTAS, k8, 8), JAVM_OK);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_BLOBS, bh, 32, rec, sizeof rec), JAVM_OK);
    static const char *const k3d[] = { "a", "ab", "d" };
    expect_scan(s, JAVM_TABLE_NAMES, k3d, 3);
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_QUOTAS, k8, 8, &val, &vlen), JAVM_ERR_NOT_FOUND);
    s->vtbl->abort(s);
    expect_name(s, "a", 'A');
    expect_name(s, "d", 0);
    expect_scan(s, JAVM_TABLE_NAMES, k3, 3);
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_QUOTAS, k8, 8, &val, &vlen), JAVM_OK);
    int brc = s->vtbl->get(s, JAVM_TABLE_BLOBS, bh, 32, &val, &vlen);
    if (tstore_is_rados()) {
        assert_int_equal(brc, JAVM_OK);
        assert_int_equal(vlen, sizeof rec);
        assert_memory_equal(val, rec, sizeof rec);
    } else {
        assert_int_equal(brc, JAVM_ERR_NOT_FOUND);
    }

    /* Blobs scan in hash order; a stopping callback's result is returned. */
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    static const char order[4] = { 0x42, 0x11, 0x7f, 0x20 };
    for (int i = 0; i < 4; i++) {
        hash32(bh, order[i]);
        assert_int_equal(s->vtbl->put(s, JAVM_TABLE_BLOBS, bh, 32, rec, sizeof rec), JAVM_OK);
    }
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
    seen sn = { .n = 0, .stop_at = 3 };
    assert_int_equal(s->vtbl->scan(s, JAVM_TABLE_BLOBS, collect32, &sn), 7);
    assert_int_equal(sn.n, 3);
    assert_int_equal((uint8_t)sn.keys[0][0], 0x11);
    assert_int_equal((uint8_t)sn.keys[1][0], 0x20);
    assert_int_equal((uint8_t)sn.keys[2][0], 0x42);
    hash32(bh, 0x42); /* no refcount was put (a RADOS store keeps none: scale-out.md §4) */
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_REFCOUNTS, bh, 32, &val, &vlen),
                     JAVM_ERR_NOT_FOUND);
    assert_int_equal(s->vtbl->get(s, (javm_table)9, (const uint8_t *)"a", 1, &v1, &l1),
                     JAVM_ERR_INVALID_ARG);
}

static void test_conform_store(void **state)
{
    (void)state;
    char loc[TSTORE_LOC];
    tstore_make(loc);
    javm_store *s;
    assert_int_equal(tstore_open(loc, false, &s), JAVM_OK);
    /* A store is created by its first cache (format and hash profile: caps.md §5.7). */
    javm_cache *c;
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    javm_cache_close(c);
    conform_shapes(s);
    /* An open transaction is aborted by close. */
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    put_name(s, "zz", 'z');
    javm_store_close(s);
    /* Committed records survive a reopen; the aborted one does not. */
    assert_int_equal(tstore_open(loc, false, &s), JAVM_OK);
    expect_name(s, "a", 'A');
    expect_name(s, "zz", 0);
    static const char *const k3[] = { "a", "ab", "b" };
    expect_scan(s, JAVM_TABLE_NAMES, k3, 3);
    javm_store_close(s);
    tstore_remove(loc);
}

static void test_conform_mem(void **state)
{
    (void)state;
    javm_store *s;
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    conform(s);
    assert_string_equal(javm_store_errmsg(s), "");
    javm_store_close(s);
}

static void test_conform_lmdb(void **state)
{
    (void)state;
    char dir[64];
    tmp_make(dir);
    javm_store *s;
    assert_int_equal(javm_store_lmdb_open(dir, NULL, &s), JAVM_OK);
    conform(s);
    /* An open transaction is aborted by close. */
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    PUT(s, JAVM_TABLE_NAMES, "zz", "lost");
    javm_store_close(s);
    /* Committed records survive a reopen; the aborted one does not. */
    assert_int_equal(javm_store_lmdb_open(dir, NULL, &s), JAVM_OK);
    expect_val(s, JAVM_TABLE_NAMES, "a", "va2");
    expect_val(s, JAVM_TABLE_NAMES, "zz", NULL);
    static const char *const k3[] = { "a", "ab", "b" };
    expect_scan(s, JAVM_TABLE_NAMES, k3, 3);
    javm_store_close(s);
    tmp_remove(dir);
}

/* ---- bad input --------------------------------------------------------------------------- */

static javm_hash put_data_str(javm_cache *c, const char *str)
{
    javm_cap *d;
    javm_hash h;
    assert_int_equal(javm_data_new((const uint8_t *)str, strlen(str), &d), JAVM_OK);
    assert_int_equal(javm_cache_put(c, d, &h), JAVM_OK);
    javm_cap_free(d);
    return h;
}

static void raw_put(javm_store *s, javm_table t, const void *k, size_t kl, const void *v, size_t vl)
{
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->put(s, t, k, kl, v, vl), JAVM_OK);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
}

static void test_corrupt_record(void **state)
{
    (void)state;
    char dir[64];
    tmp_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    javm_hash good = put_data_str(f.cache, "good");
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);

    /* Garbage under a hash: a Data kind byte with a truncated body; a foreign kind byte; and
     * a valid blob whose refcount record is malformed. */
    javm_hash bad1, bad2, bad3;
    memset(bad1.b, 0xb1, 32);
    memset(bad2.b, 0xb2, 32);
    bad3 = put_data_str(f.cache, "refcount broken");
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);

    javm_store *s;
    assert_int_equal(javm_store_lmdb_open(dir, NULL, &s), JAVM_OK);
    static const uint8_t g1[] = { 0x30, 0xff, 0xff, 0xff };
    static const uint8_t g2[] = { 0x99, 1, 2, 3 };
    static const uint8_t rc4[] = { 1, 0, 0, 0 };
    raw_put(s, JAVM_TABLE_BLOBS, bad1.b, 32, g1, sizeof g1);
    raw_put(s, JAVM_TABLE_REFCOUNTS, bad1.b, 32, rc4, 4);
    raw_put(s, JAVM_TABLE_BLOBS, bad2.b, 32, g2, sizeof g2);
    raw_put(s, JAVM_TABLE_REFCOUNTS, bad3.b, 32, rc4, 3);
    javm_store_close(s);

    sfx_must_open(&f, dir);
    char hex[65];
    assert_null(javm_cache_get_hash(f.cache, &bad1));
    javm_hash_to_hex(&bad1, hex);
    assert_non_null(strstr(javm_store_errmsg(f.store), hex));
    assert_null(javm_cache_get_hash(f.cache, &bad2));
    javm_hash_to_hex(&bad2, hex);
    assert_non_null(strstr(javm_store_errmsg(f.store), hex));
    assert_null(javm_cache_get_hash(f.cache, &bad3));
    javm_hash_to_hex(&bad3, hex);
    assert_non_null(strstr(javm_store_errmsg(f.store), hex));
    assert_non_null(strstr(javm_store_errmsg(f.store), "refcounts"));
    /* The status through the API that reports it. */
    javm_key k = javm_key_of_hash(&bad1);
    uint32_t rcount;
    assert_int_equal(javm_cache_refcount(f.cache, &k, &rcount), JAVM_ERR_STORE_CORRUPT);
    assert_int_equal(javm_cache_hold(f.cache, &bad1), JAVM_ERR_STORE_CORRUPT);
    /* The store stays usable. */
    const javm_cap *g = javm_cache_get_hash(f.cache, &good);
    assert_non_null(g);
    assert_int_equal(g->data.size, 4);
    put_data_str(f.cache, "after");
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    /* A corrupt quota or file record reads as absent / an error, never a crash. */
    uint8_t qk[8] = { 0, 0, 0, 0, 0, 0, 0, 3 };
    raw_put(f.store, JAVM_TABLE_QUOTAS, qk, 8, "xyz", 3);
    raw_put(f.store, JAVM_TABLE_FILES, qk, 8, "short", 5);
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 3), 0);
    assert_non_null(strstr(javm_store_errmsg(f.store), "quotas[0000000000000003]"));
    javm_hash fh;
    assert_int_equal(f.ka->vtbl->host_open(f.ka, 3, &fh), JAVM_ERR_STORE_CORRUPT);
    assert_non_null(strstr(javm_store_errmsg(f.store), "files[0000000000000003]"));
    sfx_close(&f);
    tmp_remove(dir);
}

static int count_cb(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    (*(size_t *)arg)++;
    return 0;
}

static size_t table_count(javm_store *s, javm_table t)
{
    size_t n = 0;
    assert_int_equal(s->vtbl->scan(s, t, count_cb, &n), JAVM_OK);
    return n;
}

static void test_disk_full(void **state)
{
    (void)state;
    char dir[64];
    tmp_make(dir);
    javm_lmdb_opts o = { 1u << 20, true, false }; /* a 1 MiB map */
    sfx f;
    assert_int_equal(sfx_open(&f, dir, &o), JAVM_OK);
    uint8_t *buf = malloc(64 * 1024);
    uint64_t seed = 1;
    int rc = JAVM_OK, committed = 0;
    javm_hash last = { { 0 } };
    for (int i = 0; i < 64 && rc == JAVM_OK; i++) {
        for (size_t j = 0; j < 64 * 1024; j++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            buf[j] = (uint8_t)(seed >> 56) | 1;
        }
        javm_cap *d;
        javm_hash h;
        assert_int_equal(javm_data_new(buf, 64 * 1024, &d), JAVM_OK);
        assert_int_equal(javm_cache_put(f.cache, d, &h), JAVM_OK);
        javm_cap_free(d);
        f.ka->vtbl->storage_quota_set(f.ka, 5, (uint64_t)i + 100);
        rc = javm_commit(f.cache, f.ka);
        if (rc == JAVM_OK) {
            committed++;
            last = h;
        }
    }
    free(buf);
    assert_int_equal(rc, JAVM_ERR_STORE_FULL);
    assert_true(committed >= 4);
    assert_non_null(strstr(javm_store_errmsg(f.store), "MDB_MAP_FULL"));
    /* The failed commit kept memory dirty and the buffered quota; the store itself is the last
     * committed state and still serves reads and small transactions. */
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 5), (uint64_t)committed + 100);
    sfx_close(&f);

    assert_int_equal(sfx_open(&f, dir, &o), JAVM_OK);
    /* format 3: each 64 KiB Data is its record, its one chunk and one run of its 16 pages */
    assert_int_equal(table_count(f.store, JAVM_TABLE_BLOBS), 3 * (size_t)committed);
    assert_non_null(javm_cache_get_hash(f.cache, &last));
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 5), (uint64_t)committed - 1 + 100);
    put_data_str(f.cache, "small");
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);
    tmp_remove(dir);
}

static void test_read_only(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    javm_hash h = put_data_str(f.cache, "kept");
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);

    if (tstore_is_rados()) {
        /* javm_rados_opts.read_only: the same contract as LMDB's below */
    } else if (geteuid() != 0) {
        /* A directory we may not write: opening for writing fails clearly. */
        assert_int_equal(chmod(dir, 0500), 0);
        char sub[TSTORE_LOC + 8];
        snprintf(sub, sizeof sub, "%s/inner", dir);
        javm_store *s = NULL;
        assert_int_equal(javm_store_lmdb_open(sub, NULL, &s), JAVM_ERR_STORE_READONLY);
        assert_int_equal(chmod(dir, 0700), 0);
    } else {
        /* As root, chmod 0500 does not stop writes, so the read-only mode is what is tested:
         * reads work, every write attempt fails with STORE_READONLY. */
        print_message("running as root: testing read_only = true instead of chmod 0500\n");
    }
    javm_lmdb_opts ro = { 0, false, true };
    memset(&f, 0, sizeof f);
    assert_int_equal(tstore_open(dir, true, &f.store), JAVM_OK);
    assert_int_equal(javm_cache_open(f.store, &f.cache), JAVM_OK);
    assert_int_equal(javm_ka_store_new(f.store, &f.ka), JAVM_OK);
    const javm_cap *c = javm_cache_get_hash(f.cache, &h);
    assert_non_null(c);
    assert_int_equal(f.store->vtbl->begin(f.store), JAVM_ERR_STORE_READONLY);
    put_data_str(f.cache, "not kept");
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_ERR_STORE_READONLY);
    assert_non_null(strstr(javm_store_errmsg(f.store), "read-only"));
    sfx_close(&f);
    if (tstore_is_rados()) {
        tstore_remove(dir);
        return;
    }
    /* Read-only open of a directory holding no store, or of no directory: not found (it
     * said "store failure"); nothing is created. */
    char empty[64], none[80];
    tmp_make(empty);
    snprintf(none, sizeof none, "%s/none", empty);
    javm_store *s = NULL;
    assert_int_equal(javm_store_lmdb_open(empty, &ro, &s), JAVM_ERR_NOT_FOUND);
    assert_null(s);
    assert_int_equal(javm_store_lmdb_open(none, &ro, &s), JAVM_ERR_NOT_FOUND);
    assert_null(s);
    struct stat nst;
    assert_int_equal(stat(none, &nst), -1);
    tmp_remove(empty);
    tstore_remove(dir);
}

/* Issue 13 item 7: a second handle on the same environment in one process is refused (LMDB
 * forbids it and would drop the first handle's locks when the second closes); another
 * process may open it. */
static void test_open_twice(void **state)
{
    (void)state;
    char dir[64];
    tmp_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    javm_store *s2 = NULL;
    assert_int_equal(javm_store_lmdb_open(dir, NULL, &s2), JAVM_ERR_BUSY);
    assert_null(s2);
    javm_lmdb_opts ro = { 0, false, true };
    assert_int_equal(javm_store_lmdb_open(dir, &ro, &s2), JAVM_ERR_BUSY);
    char alias[80]; /* another spelling of the same directory */
    snprintf(alias, sizeof alias, "%s/.", dir);
    assert_int_equal(javm_store_lmdb_open(alias, NULL, &s2), JAVM_ERR_BUSY);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        javm_store *s3 = NULL;
        int rc = javm_store_lmdb_open(dir, NULL, &s3);
        if (rc == JAVM_OK)
            javm_store_close(s3);
        _exit(rc == JAVM_OK ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The first handle is intact. */
    javm_hash h = put_data_str(f.cache, "still mine");
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);
    sfx_must_open(&f, dir);
    assert_non_null(javm_cache_get_hash(f.cache, &h));
    sfx_close(&f);
    tmp_remove(dir);
}

/* Issue 13 item 11: a truncated data.mdb is detected at open (it made LMDB fault with SIGBUS
 * inside mdb_dbi_open), and an empty one is corrupt, not a store to recreate. */
static void test_truncated_data_file(void **state)
{
    (void)state;
    char dir[64], file[96];
    tmp_make(dir);
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    sfx f;
    sfx_must_open(&f, dir);
    uint8_t big[3000];
    for (int i = 0; i < 200; i++) { /* enough pages that the file is well past 8 KiB */
        for (size_t j = 0; j < sizeof big; j++)
            big[j] = (uint8_t)(i + j + 1);
        javm_cap *d;
        assert_int_equal(javm_data_new(big, sizeof big, &d), JAVM_OK);
        javm_hash h;
        assert_int_equal(javm_cache_put_owned(f.cache, d, &h), JAVM_OK);
    }
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    off_t full = st.st_size;
    assert_true(full > 64 * 1024);
    off_t cuts[3] = { full - 4096, 8192, 0 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(truncate(file, cuts[i]), 0);
        javm_store *s = NULL;
        assert_int_equal(javm_store_lmdb_open(dir, NULL, &s), JAVM_ERR_STORE_CORRUPT);
        assert_null(s);
        javm_lmdb_opts ro = { 0, false, true };
        assert_int_equal(javm_store_lmdb_open(dir, &ro, &s), JAVM_ERR_STORE_CORRUPT);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_size, cuts[i]); /* never recreated */
    }
    tmp_remove(dir);
}

static void test_foreign_format(void **state)
{
    (void)state;
    char dir[64];
    tmp_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    sfx_close(&f);
    javm_store *s;
    javm_cache *c = NULL;
    assert_int_equal(javm_store_lmdb_open(dir, NULL, &s), JAVM_OK);
    static const uint8_t two[4] = { 4, 0, 0, 0 } /* format 4: unknown */;
    raw_put(s, JAVM_TABLE_META, "format", 6, two, 4);
    assert_int_equal(javm_cache_open(s, &c), JAVM_ERR_STORE_FORMAT);
    static const uint8_t one[4] = { 1, 0, 0, 0 };
    raw_put(s, JAVM_TABLE_META, "format", 6, one, 4);
    raw_put(s, JAVM_TABLE_META, "hash_profile", 12, "sha256", 6);
    assert_int_equal(javm_cache_open(s, &c), JAVM_ERR_STORE_FORMAT);
    raw_put(s, JAVM_TABLE_META, "hash_profile", 12, "blake2b-256-tagged", 18);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    javm_cache_close(c);
    javm_store_close(s);
    tmp_remove(dir);
}

/* On every store: a store whose meta records name another format or hash profile is refused
 * by javm_cache_open; rewriting the format of a store in use is refused at commit on RADOS
 * (the format is fixed when its meta object is created) and makes the store foreign on LMDB. */
static void test_foreign_format_store(void **state)
{
    (void)state;
    static const uint8_t one[4] = { 1, 0, 0, 0 }, two[4] = { 4, 0, 0, 0 } /* format 4: unknown */;
    char loc[TSTORE_LOC];
    javm_store *s;
    javm_cache *c = NULL;
    for (int k = 0; k < 2; k++) {
        tstore_make(loc);
        assert_int_equal(tstore_open(loc, false, &s), JAVM_OK);
        assert_int_equal(s->vtbl->begin(s), JAVM_OK);
        assert_int_equal(s->vtbl->put(s, JAVM_TABLE_META, (const uint8_t *)"format", 6,
                                      k ? one : two, 4), JAVM_OK);
        const char *prof = k ? "sha256" : "blake2b-256-tagged";
        assert_int_equal(s->vtbl->put(s, JAVM_TABLE_META, (const uint8_t *)"hash_profile", 12,
                                      (const uint8_t *)prof, strlen(prof)), JAVM_OK);
        assert_int_equal(s->vtbl->commit(s), JAVM_OK);
        assert_int_equal(javm_cache_open(s, &c), JAVM_ERR_STORE_FORMAT);
        javm_store_close(s);
        tstore_remove(loc);
    }
    tstore_make(loc);
    assert_int_equal(tstore_open(loc, false, &s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    javm_cache_close(c);
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_META, (const uint8_t *)"format", 6, two, 4), 0);
    if (tstore_is_rados()) {
        assert_int_equal(s->vtbl->commit(s), JAVM_ERR_STORE_FORMAT);
        assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
        javm_cache_close(c);
    } else {
        assert_int_equal(s->vtbl->commit(s), JAVM_OK);
        assert_int_equal(javm_cache_open(s, &c), JAVM_ERR_STORE_FORMAT);
    }
    javm_store_close(s);
    tstore_remove(loc);
}

/* On every store: a blob record that does not decode, or does not hash to its key, is
 * reported as corrupt naming the hash, never used, and the store stays usable. */
static void test_corrupt_blob_store(void **state)
{
    (void)state;
    char loc[TSTORE_LOC];
    tstore_make(loc);
    sfx f;
    sfx_must_open(&f, loc);
    javm_hash good = put_data_str(f.cache, "good");
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    javm_hash bad[3];
    memset(bad[0].b, 0xb1, 32);
    memset(bad[1].b, 0xb2, 32);
    memset(bad[2].b, 0xb3, 32);
    static const uint8_t g1[] = { 0x30, 0xff, 0xff, 0xff };      /* truncated Data */
    static const uint8_t g2[] = { 0x99, 1, 2, 3 };               /* no such kind */
    static const uint8_t g3[] = { 0x30, 2, 0, 0, 0, 'o', 'k' };  /* Data "ok", another hash */
    const uint8_t *g[3] = { g1, g2, g3 };
    size_t gl[3] = { sizeof g1, sizeof g2, sizeof g3 };
    for (int i = 0; i < 3; i++)
        raw_put(f.store, JAVM_TABLE_BLOBS, bad[i].b, 32, g[i], gl[i]);
    sfx_close(&f);
    sfx_must_open(&f, loc);
    for (int i = 0; i < 3; i++) {
        char hex[65];
        assert_null(javm_cache_get_hash(f.cache, &bad[i]));
        javm_hash_to_hex(&bad[i], hex);
        assert_non_null(strstr(javm_store_errmsg(f.store), hex));
        assert_int_equal(javm_cache_hold(f.cache, &bad[i]), JAVM_ERR_STORE_CORRUPT);
    }
    const javm_cap *gc = javm_cache_get_hash(f.cache, &good);
    assert_non_null(gc);
    assert_int_equal(gc->data.size, 4);
    put_data_str(f.cache, "after");
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);
    tstore_remove(loc);
}

/* ---- the persistent kernel assist --------------------------------------------------------- */

/* On RADOS a file record stamps the blob it names for gc and is refused (TARGET_MISSING) when
 * there is no such blob (scale-out.md §3 step 2): the synthetic hashes these tests save get a
 * blob first, after that refusal is checked once. LMDB stores the record as it is. */
static void file_blob(sfx *f, const javm_hash *h)
{
    if (!tstore_is_rados())
        return;
    static const uint8_t rec[1] = { 0x30 };
    javm_store *s = f->store;
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_BLOBS, h->b, 32, rec, 1), JAVM_OK);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
}

static void test_ka_bullet(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    javm_ka *ka = f.ka;
    const javm_ka_vtbl *v = ka->vtbl;
    javm_hash z = { { 0 } };
    uint64_t id = 0;
    file_blob(&f, &z);
    assert_int_equal(v->storage_quota_get(ka, 0), 0);
    assert_int_equal(v->storage_quota_set(ka, 0, 1000), 0);
    assert_int_equal(v->storage_quota_set(ka, 0, 1000), 1000);
    assert_int_equal(javm_ka_store_next_file_id(ka), 1);
    assert_int_equal(v->host_save(ka, &z, 0, 32, &id), JAVM_OK);
    assert_int_equal(id, 1);
    assert_int_equal(v->storage_quota_get(ka, 0), 968);
    assert_int_equal(v->host_save(ka, &z, 0, 32, &id), JAVM_OK);
    assert_int_equal(id, 2);
    assert_int_equal(v->host_save(ka, &z, 7, 32, &id), JAVM_ERR_QUOTA);
    assert_int_equal(javm_ka_store_next_file_id(ka), 3);
    assert_int_equal(v->storage_quota_get(ka, 7), 0);
    javm_hash got;
    assert_int_equal(v->host_open(ka, 2, &got), JAVM_OK);
    assert_int_equal(v->host_open(ka, 3, &got), JAVM_ERR_NOT_FOUND);
    /* Gas meters and catchers: memory only. */
    assert_int_equal(v->gas_meter_set(ka, 4, 77), 0);
    assert_int_equal(v->gas_meter_get(ka, 4), 77);
    assert_int_equal(v->yield_catcher_nonce(ka), 0);
    assert_int_equal(v->yield_catcher_nonce(ka), 1);

    /* Outside a transaction the changes are buffered: nothing in the store yet. */
    const uint8_t *val;
    size_t vlen;
    uint8_t k1[8] = { 0, 0, 0, 0, 0, 0, 0, 1 }, k0[8] = { 0 };
    assert_int_equal(f.store->vtbl->get(f.store, JAVM_TABLE_FILES, k1, 8, &val, &vlen),
                     JAVM_ERR_NOT_FOUND);
    assert_int_equal(f.store->vtbl->get(f.store, JAVM_TABLE_QUOTAS, k0, 8, &val, &vlen),
                     JAVM_ERR_NOT_FOUND);
    /* javm_commit persists them: big-endian ids, u64 LE values. */
    assert_int_equal(javm_commit(f.cache, ka), JAVM_OK);
    assert_int_equal(f.store->vtbl->get(f.store, JAVM_TABLE_QUOTAS, k0, 8, &val, &vlen), 0);
    assert_int_equal(vlen, 8);
    assert_int_equal(val[0], 936 & 0xff);
    assert_int_equal(val[1], 936 >> 8);
    assert_int_equal(f.store->vtbl->get(f.store, JAVM_TABLE_FILES, k1, 8, &val, &vlen), 0);
    assert_int_equal(vlen, 32);
    sfx_close(&f);

    sfx_must_open(&f, dir);
    ka = f.ka;
    v = ka->vtbl;
    assert_int_equal(v->storage_quota_get(ka, 0), 936);
    assert_int_equal(javm_ka_store_next_file_id(ka), 3);
    assert_int_equal(v->gas_meter_get(ka, 4), 0);      /* never persisted */
    assert_int_equal(v->yield_catcher_nonce(ka), 0);   /* empty in each process */
    sfx_close(&f);
    tstore_remove(dir);
}

/* A file record naming no blob: RADOS refuses the commit (TARGET_MISSING, nothing
 * committed); LMDB stores it (the kernel assist's caller vouches for the blob there). */
static void test_file_without_blob(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    javm_hash z = { { 7 } };
    uint64_t id = 0;
    f.ka->vtbl->storage_quota_set(f.ka, 0, 1000);
    assert_int_equal(f.ka->vtbl->host_save(f.ka, &z, 0, 32, &id), JAVM_OK);
    const uint8_t *val;
    size_t vlen;
    uint8_t k[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    for (int i = 0; i < 8; i++)
        k[i] = (uint8_t)(id >> (56 - 8 * i));
    if (tstore_is_rados()) {
        assert_int_equal(javm_commit(f.cache, f.ka), JAVM_ERR_TARGET_MISSING);
        assert_non_null(strstr(javm_store_errmsg(f.store), "gc removed"));
        assert_int_equal(f.store->vtbl->get(f.store, JAVM_TABLE_FILES, k, 8, &val, &vlen),
                         JAVM_ERR_NOT_FOUND);
    } else {
        assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
        assert_int_equal(f.store->vtbl->get(f.store, JAVM_TABLE_FILES, k, 8, &val, &vlen),
                         JAVM_OK);
        assert_memory_equal(val, z.b, 32);
    }
    sfx_close(&f);
    tstore_remove(dir);
}

typedef struct files_seen {
    uint64_t ids[16];
    size_t n;
} files_seen;

static int file_cb(void *arg, uint64_t id, const javm_hash *h)
{
    files_seen *s = arg;
    assert_true(s->n < 16);
    assert_int_equal(h->b[0], (uint8_t)id);
    s->ids[s->n++] = id;
    return 0;
}

static void test_ka_journal_and_iter(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    javm_ka *ka = f.ka;
    const javm_ka_vtbl *v = ka->vtbl;
    javm_hash h;
    uint64_t id;
    v->storage_quota_set(ka, 0, 10000);
    for (int i = 1; i <= 6; i++) {
        memset(h.b, i, 32);
        file_blob(&f, &h);
    }
    for (int i = 1; i <= 3; i++) {
        memset(h.b, i, 32);
        assert_int_equal(v->host_save(ka, &h, 0, 10, &id), JAVM_OK);
    }
    assert_int_equal(javm_commit(f.cache, ka), JAVM_OK);
    /* Two buffered saves on top of three committed ones, iterated in id order. */
    for (int i = 4; i <= 5; i++) {
        memset(h.b, i, 32);
        assert_int_equal(v->host_save(ka, &h, 0, 10, &id), JAVM_OK);
        assert_int_equal(id, (uint64_t)i);
    }
    v->storage_quota_set(ka, 9, 99); /* buffered before the journal */
    files_seen s = { .n = 0 };
    assert_int_equal(v->file_iter(ka, file_cb, &s), JAVM_OK);
    assert_int_equal(s.n, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(s.ids[i], i + 1);

    /* A journal that aborts drops only what it did. */
    assert_int_equal(javm_journal_begin(f.cache, ka), JAVM_OK);
    memset(h.b, 6, 32);
    assert_int_equal(v->host_save(ka, &h, 0, 10, &id), JAVM_OK);
    assert_int_equal(id, 6);
    v->storage_quota_set(ka, 9, 1);
    v->storage_quota_set(ka, 8, 1);
    javm_journal_abort(f.cache, ka);
    assert_int_equal(javm_ka_store_next_file_id(ka), 6);
    assert_int_equal(v->storage_quota_get(ka, 9), 99);
    assert_int_equal(v->storage_quota_get(ka, 8), 0);
    assert_int_equal(v->storage_quota_get(ka, 0), 10000 - 50);
    assert_int_equal(v->host_open(ka, 6, &h), JAVM_ERR_NOT_FOUND);

    /* A journal that commits publishes the earlier buffered changes with its own. */
    assert_int_equal(javm_journal_begin(f.cache, ka), JAVM_OK);
    memset(h.b, 6, 32);
    assert_int_equal(v->host_save(ka, &h, 0, 10, &id), JAVM_OK);
    assert_int_equal(javm_journal_commit(f.cache, ka), JAVM_OK);
    sfx_close(&f);

    sfx_must_open(&f, dir);
    ka = f.ka;
    v = ka->vtbl;
    s.n = 0;
    assert_int_equal(v->file_iter(ka, file_cb, &s), JAVM_OK);
    assert_int_equal(s.n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(s.ids[i], i + 1);
    assert_int_equal(v->storage_quota_get(ka, 9), 99);
    assert_int_equal(v->storage_quota_get(ka, 0), 10000 - 60);
    assert_int_equal(javm_ka_store_next_file_id(ka), 7);
    sfx_close(&f);
    tstore_remove(dir);
}

/* The kernel assist on the in-memory store behaves the same (its observer is wired there too). */
static void test_ka_on_mem_store(void **state)
{
    (void)state;
    javm_store *s;
    javm_cache *c;
    javm_ka *ka;
    assert_int_equal(javm_store_mem_new(&s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_ka_store_new(s, &ka), JAVM_OK);
    ka->vtbl->storage_quota_set(ka, 1, 5);
    assert_int_equal(javm_commit(c, ka), JAVM_OK);
    const uint8_t *val;
    size_t vlen;
    uint8_t k1[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
    assert_int_equal(s->vtbl->get(s, JAVM_TABLE_QUOTAS, k1, 8, &val, &vlen), JAVM_OK);
    assert_int_equal(val[0], 5);
    /* Another writer of the same store changes the quota: we read it, nothing stale. */
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    static const uint8_t six[8] = { 6 };
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_QUOTAS, k1, 8, six, 8), JAVM_OK);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
    assert_int_equal(ka->vtbl->storage_quota_get(ka, 1), 6);
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(s);
}

/* ---- gc on LMDB --------------------------------------------------------------------------- */

static void test_gc_lmdb(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    javm_hash img = put_counter_image(f.cache, false, 1);
    javm_hash inst = spawn_instance(f.cache, &img);
    assert_int_equal(javm_name_set(f.cache, (const uint8_t *)"n", 1, &inst), JAVM_OK);
    javm_hash filed = put_data_str(f.cache, "filed");
    f.ka->vtbl->storage_quota_set(f.ka, 0, 100);
    uint64_t id;
    assert_int_equal(f.ka->vtbl->host_save(f.ka, &filed, 0, 5, &id), JAVM_OK);
    javm_hash rooted = put_data_str(f.cache, "rooted");
    for (int i = 0; i < 50; i++) {
        char b[32];
        snprintf(b, sizeof b, "garbage %d", i);
        put_data_str(f.cache, b);
    }
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    size_t before = table_count(f.store, JAVM_TABLE_BLOBS);
    sfx_close(&f);

    /* A new process: everything is stored, nothing resident. */
    sfx_must_open(&f, dir);
    if (tstore_is_rados()) {
        /* scale-out.md §4-§5: no stored refcounts; blobs leave by the store's own
         * mark-and-sweep gc, two epochs after they were last written or touched. */
        assert_int_equal(javm_store_rados_gc_grace(f.store, 0), JAVM_OK);
        assert_int_equal(javm_gc(f.vm, f.cache, f.ka, &rooted, 1), JAVM_OK);
        assert_int_equal(table_count(f.store, JAVM_TABLE_BLOBS), before); /* epoch 1 */
        assert_int_equal(javm_gc(f.vm, f.cache, f.ka, &rooted, 1), JAVM_OK);
        assert_int_equal(table_count(f.store, JAVM_TABLE_BLOBS), before - 50);
        assert_int_equal(table_count(f.store, JAVM_TABLE_REFCOUNTS), 0);
        sfx_close(&f);
        sfx_must_open(&f, dir);
        javm_hash named;
        assert_int_equal(javm_name_get(f.cache, (const uint8_t *)"n", 1, &named), JAVM_OK);
        size_t n = 0;
        assert_true(graph_present(f.cache, &named, &n, 0));
        assert_non_null(javm_cache_get_hash(f.cache, &filed));
        assert_non_null(javm_cache_get_hash(f.cache, &rooted));
        sfx_close(&f);
        tstore_remove(dir);
        return;
    }
    assert_int_equal(javm_gc(f.vm, f.cache, f.ka, &rooted, 1), JAVM_OK);
    size_t after = table_count(f.store, JAVM_TABLE_BLOBS);
    assert_int_equal(before - after, 50);
    assert_int_equal(after, table_count(f.store, JAVM_TABLE_REFCOUNTS));
    sfx_close(&f);

    sfx_must_open(&f, dir);
    javm_hash named;
    assert_int_equal(javm_name_get(f.cache, (const uint8_t *)"n", 1, &named), JAVM_OK);
    size_t n = 0;
    assert_true(graph_present(f.cache, &named, &n, 0));
    assert_non_null(javm_cache_get_hash(f.cache, &filed));
    assert_non_null(javm_cache_get_hash(f.cache, &rooted));
    uint32_t rc;
    javm_key k = javm_key_of_hash(&filed);
    assert_int_equal(javm_cache_refcount(f.cache, &k, &rc), JAVM_OK);
    assert_int_equal(rc, 1); /* the file record only */
    k = javm_key_of_hash(&rooted);
    assert_int_equal(javm_cache_refcount(f.cache, &k, &rc), JAVM_OK);
    assert_int_equal(rc, 1); /* the root occurrence */
    sfx_close(&f);
    tstore_remove(dir);
}

/* gc with nothing to mark (no roots, names or files) and only stored blobs: all go. This
 * crashed before gc.c allocated its mark table up front. */
static void test_gc_nothing_marked(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    for (int i = 0; i < 20; i++) {
        char b[32];
        snprintf(b, sizeof b, "blob %d", i);
        put_data_str(f.cache, b);
    }
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);
    sfx_must_open(&f, dir);
    assert_int_equal(table_count(f.store, JAVM_TABLE_BLOBS), 20);
    if (tstore_is_rados()) { /* as in test_gc_lmdb: the second epoch deletes them */
        assert_int_equal(javm_store_rados_gc_grace(f.store, 0), JAVM_OK);
        assert_int_equal(javm_gc(f.vm, f.cache, f.ka, NULL, 0), JAVM_OK);
        assert_int_equal(table_count(f.store, JAVM_TABLE_BLOBS), 20);
        assert_int_equal(javm_gc(f.vm, f.cache, f.ka, NULL, 0), JAVM_OK);
        assert_int_equal(table_count(f.store, JAVM_TABLE_BLOBS), 0);
    } else {
        assert_int_equal(javm_gc(f.vm, f.cache, f.ka, NULL, 0), JAVM_OK);
        assert_int_equal(table_count(f.store, JAVM_TABLE_BLOBS), 0);
    }
    assert_int_equal(table_count(f.store, JAVM_TABLE_REFCOUNTS), 0);
    sfx_close(&f);
    tstore_remove(dir);
}

int main(void)
{
    int st = tstore_init("test_store_lmdb", TSTORE_LMDB);
    if (st >= 0)
        return st;
    /* On both stores (docs/testing-rados.md, "The store suite on both backends"). */
    const struct CMUnitTest both[] = {
        cmocka_unit_test(test_conform_store),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_foreign_format_store),
        cmocka_unit_test(test_corrupt_blob_store),
        cmocka_unit_test(test_ka_bullet),
        cmocka_unit_test(test_ka_journal_and_iter),
        cmocka_unit_test(test_file_without_blob),
        cmocka_unit_test(test_gc_lmdb),
        cmocka_unit_test(test_gc_nothing_marked),
    };
    /* The in-memory store and LMDB's own: its data file, map size, lock file, stored
     * refcounts. */
    const struct CMUnitTest lmdb_only[] = {
        cmocka_unit_test(test_conform_mem),
        cmocka_unit_test(test_conform_lmdb),
        cmocka_unit_test(test_corrupt_record),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_open_twice),
        cmocka_unit_test(test_truncated_data_file),
        cmocka_unit_test(test_foreign_format),
        cmocka_unit_test(test_ka_on_mem_store),
    };
    int failed = cmocka_run_group_tests_name(tstore_kind_name(), both, NULL, NULL);
    if (!tstore_is_rados())
        failed += cmocka_run_group_tests_name("lmdb-only", lmdb_only, NULL, NULL);
    return failed;
}
