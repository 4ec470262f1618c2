/* SPDX-License-Identifier: MIT
 * tests/test_store_rados.c — the store on Ceph RADOS (docs/scale-out.md) against the test
 * cluster (tests/cluster/cluster.sh; JAVM_TEST_RADOS_CONF names its ceph.conf): URLs, a
 * counter instance invoked and reopened, commits of one name serialised (one CONFLICT, no lost
 * update), commits of two names independent, a paused invocation's commit checked, blobs
 * larger than a chunk, quotas and file records through the persistent kernel assist. Each run
 * uses its own RADOS namespace. Skipped (77) without a cluster, except in CI. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cap_fixtures.h"
#include "tprog.h"
#include "vmfix.h"

#include "rados_fix.h"

static const uint8_t NAME[] = "counter";
static const uint64_t NOARGS[4] = { 0, 0, 0, 0 };

/* Invokes the instance NAME points at, under that name; returns the status. */
static int bump(rfx_client *c, const uint8_t *name, size_t len, uint64_t *value)
{
    javm_hash inst;
    int rc = javm_name_get(c->cache, name, len, &inst);
    if (rc)
        return rc;
    javm_invoke_opts o = { name, len };
    javm_call_result r;
    rc = javm_invoke(c->vm, c->cache, c->ka, &inst, 0, NOARGS, 1000, NULL, &o, &r);
    if (rc == JAVM_OK) {
        assert_int_equal(r.kind, JAVM_RES_HALT);
        *value = r.return_value;
        javm_key k = javm_key_of_hash(&r.post_instance);
        assert_int_equal(javm_cache_decref(c->cache, &k), JAVM_OK);
    }
    return rc;
}

static void test_urls(void **state)
{
    (void)state;
    javm_store *s = (javm_store *)1;
    char msg[256];
    static const char *const bad[] = { "", "rados:/javm", "rados://", "lmdb://x", "rados://p/a/b",
                                       "rados://p?color=red", "rados://p?timeout=0",
                                       "rados://p?timeout=x" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(javm_store_rados_open(bad[i], NULL, &s, msg, sizeof msg),
                         JAVM_ERR_INVALID_ARG);
        assert_null(s);
        assert_non_null(strstr(msg, "rados://POOL"));
    }
    char url[4200];
    snprintf(url, sizeof url, "rados://no-such-pool?conf=%s&timeout=20", rfx_conf);
    assert_int_equal(javm_store_rados_open(url, NULL, &s, msg, sizeof msg), JAVM_ERR_NOT_FOUND);
    assert_non_null(strstr(msg, "no-such-pool"));
    snprintf(url, sizeof url, "rados://javm?conf=/nonexistent/ceph.conf");
    assert_int_not_equal(javm_store_rados_open(url, NULL, &s, msg, sizeof msg), JAVM_OK);
    assert_non_null(strstr(msg, "configuration"));
}

static void test_counter_survives_reopen(void **state)
{
    (void)state;
    rfx_client a;
    rfx_client_open(&a, "counter");
    javm_hash inst = rfx_spawn_counter(a.cache);
    assert_int_equal(javm_name_set(a.cache, NAME, sizeof NAME - 1, &inst), JAVM_OK);
    assert_int_equal(javm_commit(a.cache, a.ka), JAVM_OK);
    uint64_t v = 0;
    for (uint64_t want = 1; want <= 3; want++) {
        assert_int_equal(bump(&a, NAME, sizeof NAME - 1, &v), JAVM_OK);
        assert_int_equal(v, want);
    }
    rfx_client_close(&a);

    rfx_client b;
    rfx_client_open(&b, "counter");
    assert_int_equal(bump(&b, NAME, sizeof NAME - 1, &v), JAVM_OK);
    assert_int_equal(v, 4);
    /* the name is listed, and its instance loads and hashes */
    javm_hash got;
    assert_int_equal(javm_name_get(b.cache, NAME, sizeof NAME - 1, &got), JAVM_OK);
    assert_non_null(javm_cache_get_hash(b.cache, &got));
    rfx_client_close(&b);
}

/* Two clients at the same version of one name: the first commit wins, the second is a
 * CONFLICT, and after a re-run both increments are there (no lost update). */
static void test_same_name_conflicts(void **state)
{
    (void)state;
    rfx_client a, b;
    rfx_client_open(&a, "same");
    javm_hash inst = rfx_spawn_counter(a.cache);
    assert_int_equal(javm_name_set(a.cache, NAME, sizeof NAME - 1, &inst), JAVM_OK);
    assert_int_equal(javm_commit(a.cache, a.ka), JAVM_OK);
    rfx_client_open(&b, "same");

    /* B reads the name inside its journal, then A commits an increment of it */
    javm_hash hb;
    assert_int_equal(javm_journal_begin(b.cache, b.ka), JAVM_OK);
    assert_int_equal(javm_name_get(b.cache, NAME, sizeof NAME - 1, &hb), JAVM_OK);
    uint64_t v = 0;
    assert_int_equal(bump(&a, NAME, sizeof NAME - 1, &v), JAVM_OK);
    assert_int_equal(v, 1);
    /* B's change of the name, based on what it read, must not land */
    javm_hash fresh = rfx_spawn_counter(b.cache);
    assert_int_equal(javm_name_set(b.cache, NAME, sizeof NAME - 1, &fresh), JAVM_OK);
    assert_int_equal(javm_journal_commit(b.cache, b.ka), JAVM_ERR_CONFLICT);
    assert_non_null(strstr(javm_store_errmsg(b.store), "moved"));
    /* B runs again from what is committed now */
    assert_int_equal(bump(&b, NAME, sizeof NAME - 1, &v), JAVM_OK);
    assert_int_equal(v, 2);
    assert_int_equal(bump(&a, NAME, sizeof NAME - 1, &v), JAVM_OK);
    assert_int_equal(v, 3);
    rfx_client_close(&a);
    rfx_client_close(&b);
}

/* Two names, each journal open across the other's commit: both commit. */
static void test_different_names_independent(void **state)
{
    (void)state;
    static const uint8_t N1[] = "one", N2[] = "two";
    rfx_client a, b;
    rfx_client_open(&a, "indep");
    rfx_client_open(&b, "indep");
    javm_hash i1 = rfx_spawn_counter(a.cache);
    assert_int_equal(javm_name_set(a.cache, N1, 3, &i1), JAVM_OK);
    assert_int_equal(javm_commit(a.cache, a.ka), JAVM_OK);
    javm_hash i2 = rfx_spawn_counter(b.cache);
    assert_int_equal(javm_name_set(b.cache, N2, 3, &i2), JAVM_OK);
    assert_int_equal(javm_commit(b.cache, b.ka), JAVM_OK);

    javm_hash h1, h2;
    assert_int_equal(javm_journal_begin(a.cache, a.ka), JAVM_OK);
    assert_int_equal(javm_name_get(a.cache, N1, 3, &h1), JAVM_OK);
    assert_int_equal(javm_journal_begin(b.cache, b.ka), JAVM_OK);
    assert_int_equal(javm_name_get(b.cache, N2, 3, &h2), JAVM_OK);
    javm_hash n1 = rfx_spawn_counter(a.cache), n2 = rfx_spawn_counter(b.cache);
    assert_int_equal(javm_name_set(a.cache, N1, 3, &n1), JAVM_OK);
    assert_int_equal(javm_name_set(b.cache, N2, 3, &n2), JAVM_OK);
    assert_int_equal(javm_journal_commit(b.cache, b.ka), JAVM_OK);
    assert_int_equal(javm_journal_commit(a.cache, a.ka), JAVM_OK);
    uint64_t v;
    assert_int_equal(bump(&b, N1, 3, &v), JAVM_OK); /* B sees A's commit */
    assert_int_equal(v, 1);
    rfx_client_close(&a);
    rfx_client_close(&b);
}

/* A record of more than one 4 MiB object: chunks written first, read back whole. */
static void test_large_blob(void **state)
{
    (void)state;
    size_t n = (9u << 20) + 12345;
    uint8_t *bytes = malloc(n);
    assert_non_null(bytes);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        bytes[i] = (uint8_t)x;
    }
    rfx_client a;
    rfx_client_open(&a, "large");
    javm_cap *d;
    assert_int_equal(javm_data_new(bytes, n, &d), JAVM_OK);
    javm_hash h;
    assert_int_equal(javm_cache_put_owned(a.cache, d, &h), JAVM_OK);
    assert_int_equal(javm_commit(a.cache, a.ka), JAVM_OK);
    rfx_client_close(&a);

    rfx_client b;
    rfx_client_open(&b, "large");
    const javm_cap *got = javm_cache_get_hash(b.cache, &h);
    assert_non_null(got);
    uint8_t *back = malloc(n);
    assert_non_null(back);
    assert_int_equal(javm_data_read(got, 0, back, n), JAVM_OK);
    assert_memory_equal(back, bytes, n);
    free(back);
    free(bytes);
    rfx_client_close(&b);
}

/* Quotas and file records go through the kernel assist into the home head, file ids come from
 * a leased block, and another client reads them back. */
static void test_quotas_and_files(void **state)
{
    (void)state;
    rfx_client a;
    rfx_client_open(&a, "files");
    a.ka->vtbl->storage_quota_set(a.ka, 5, 1000);
    assert_int_equal(javm_commit(a.cache, a.ka), JAVM_OK);
    javm_hash d = vm_put(a.cache, data_str("saved"));
    uint64_t id1, id2;
    assert_int_equal(javm_journal_begin(a.cache, a.ka), JAVM_OK);
    assert_int_equal(a.ka->vtbl->host_save(a.ka, &d, 5, 300, &id1), JAVM_OK);
    assert_int_equal(a.ka->vtbl->host_save(a.ka, &d, 5, 300, &id2), JAVM_OK);
    assert_int_equal(a.ka->vtbl->host_save(a.ka, &d, 5, 500, &id2), JAVM_ERR_QUOTA);
    assert_int_equal(javm_journal_commit(a.cache, a.ka), JAVM_OK);
    assert_int_equal(id2, id1 + 1);
    rfx_client_close(&a);

    rfx_client b;
    rfx_client_open(&b, "files");
    uint64_t q = 0;
    assert_int_equal(b.ka->vtbl->storage_quota_read(b.ka, 5, &q), JAVM_OK);
    assert_int_equal(q, 400);
    javm_hash got;
    assert_int_equal(b.ka->vtbl->host_open(b.ka, id1, &got), JAVM_OK);
    assert_hash_equal(got, d);
    assert_int_equal(b.ka->vtbl->host_open(b.ka, id2, &got), JAVM_OK);
    assert_int_equal(b.ka->vtbl->host_open(b.ka, id2 + 1, &got), JAVM_ERR_NOT_FOUND);
    /* B's saves get ids of its own block, never A's */
    uint64_t id3;
    assert_int_equal(javm_journal_begin(b.cache, b.ka), JAVM_OK);
    assert_int_equal(b.ka->vtbl->host_save(b.ka, &d, 5, 100, &id3), JAVM_OK);
    assert_int_equal(javm_journal_commit(b.cache, b.ka), JAVM_OK);
    assert_true(id3 > id2);
    assert_int_equal(b.ka->vtbl->host_open(b.ka, id3, &got), JAVM_OK);
    assert_hash_equal(got, d);
    rfx_client_close(&b);
}

int main(void)
{
    int st = rfx_setup("test_store_rados", 't');
    if (st >= 0)
        return st;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_counter_survives_reopen),
        cmocka_unit_test(test_same_name_conflicts),
        cmocka_unit_test(test_different_names_independent),
        cmocka_unit_test(test_large_blob),
        cmocka_unit_test(test_quotas_and_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
