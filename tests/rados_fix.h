/* SPDX-License-Identifier: MIT
 * tests/rados_fix.h — what the RADOS tests share (test_store_rados, test_rados_gc): the test
 * cluster from JAVM_TEST_RADOS_CONF with a RADOS namespace per run and case, a client (store,
 * cache, persistent kernel assist, VM) and the counter guest. Include after cap_fixtures.h,
 * tprog.h and vmfix.h. */
#ifndef JAVM_TESTS_RADOS_FIX_H
#define JAVM_TESTS_RADOS_FIX_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define RFX_BASE 0x10000u

static const char *rfx_conf;
static char rfx_prefix[64];

/* The URL of namespace <prefix>-ns on the test cluster (op timeout 20 s). */
static inline void rfx_url(char *buf, size_t n, const char *ns)
{
    snprintf(buf, n, "rados://javm/%s-%s?conf=%s&timeout=20", rfx_prefix, ns, rfx_conf);
}

static inline javm_store *rfx_open(const char *ns)
{
    char url[4200], msg[256];
    rfx_url(url, sizeof url, ns);
    javm_store *s = NULL;
    int rc = javm_store_rados_open(url, NULL, &s, msg, sizeof msg);
    if (rc)
        fail_msg("open %s: %s: %s", url, javm_strerror(rc), msg);
    assert_true(s->flags & JAVM_STORE_SHARED);
    return s;
}

/* Before the cases: the cluster named, answering, and a store built with librados. Returns
 * -1 to go on, else the exit code (77: skipped; 1 in CI, which must have the cluster). */
static inline int rfx_setup(const char *test, char letter)
{
    const char *ci = getenv("CI");
    bool in_ci = ci && *ci;
    rfx_conf = getenv("JAVM_TEST_RADOS_CONF");
    if (!rfx_conf || !*rfx_conf) {
        printf("%s: %s without a test cluster (JAVM_TEST_RADOS_CONF unset)\n", test,
               in_ci ? "FAIL: CI" : "skipped:");
        return in_ci ? 1 : 77;
    }
    snprintf(rfx_prefix, sizeof rfx_prefix, "%c%ld-%ld", letter, (long)getpid(),
             (long)time(NULL));
    javm_store *s = NULL;
    char url[4200], msg[256];
    rfx_url(url, sizeof url, "probe");
    int rc = javm_store_rados_open(url, NULL, &s, msg, sizeof msg);
    if (rc == JAVM_ERR_STORE_UNSUPPORTED) {
        printf("%s: skipped: libjavm built without librados\n", test);
        return in_ci ? 1 : 77;
    }
    if (rc) {
        fprintf(stderr, "%s: the test cluster does not answer: %s\n", test, msg);
        return 1;
    }
    javm_store_close(s);
    return -1;
}

/* One client: store, cache, persistent kernel assist, VM. */
typedef struct rfx_client {
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
    javm_vm *vm;
} rfx_client;

static inline void rfx_client_open(rfx_client *c, const char *ns)
{
    c->store = rfx_open(ns);
    assert_int_equal(javm_cache_open(c->store, &c->cache), JAVM_OK);
    assert_int_equal(javm_ka_store_new(c->store, &c->ka), JAVM_OK);
    assert_int_equal(javm_vm_new(&c->vm, 0), JAVM_OK);
}

static inline void rfx_client_close(rfx_client *c)
{
    javm_vm_free(c->vm);
    javm_ka_free(c->ka);
    javm_cache_close(c->cache);
    javm_store_close(c->store);
}

/* A counter instance: load_u64 φ7, [BASE]; add_imm_64 φ7, φ7, 1; store_u64 [BASE], φ7;
 * ecalli 0 (halt, φ7). */
static inline javm_hash rfx_spawn_counter(javm_cache *c)
{
    tprog p;
    tprog_init(&p);
    TI(&p, 58, 7, 0x00, 0x00, 0x01);
    TI(&p, 149, 0x77, 1);
    TI(&p, 62, 7, 0x00, 0x00, 0x01);
    TI(&p, 10, 0);
    javm_hash img;
    return vm_spawn_image(c, vm_image_of(&p, RFX_BASE, 4096, 1), &img);
}

#endif
