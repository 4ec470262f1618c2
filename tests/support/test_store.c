/* SPDX-License-Identifier: MIT
 * tests/support/test_store.c — the store factory of the store-interface tests (test_store.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw */
#endif
#include "test_store.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static tstore_kind kind = TSTORE_LMDB; /* tests that never call tstore_init */
static const char *rados_conf;
static char prefix[96];
static unsigned made;

static bool ci(void)
{
    const char *c = getenv("CI");
    return c && *c && strcmp(c, "0") != 0 && strcmp(c, "false") != 0;
}

static void rados_url(char *buf, size_t n, const char *ns)
{
    snprintf(buf, n, "rados://javm/%s?conf=%s&timeout=20", ns, rados_conf);
}

int tstore_init(const char *test, tstore_kind dflt)
{
    const char *e = getenv("JAVM_TEST_STORE");
    if (!e || !*e)
        kind = dflt;
    else if (strcmp(e, "mem") == 0)
        kind = TSTORE_MEM;
    else if (strcmp(e, "lmdb") == 0)
        kind = TSTORE_LMDB;
    else if (strcmp(e, "rados") == 0)
        kind = TSTORE_RADOS;
    else {
        fprintf(stderr, "%s: JAVM_TEST_STORE=%s: not mem, lmdb or rados\n", test, e);
        return 1;
    }
    if (kind != TSTORE_RADOS)
        return -1;
    rados_conf = getenv("JAVM_TEST_RADOS_CONF");
    if (!rados_conf || !*rados_conf) {
        if (ci()) {
            fprintf(stderr, "%s: CI without a test cluster (JAVM_TEST_RADOS_CONF)\n", test);
            return 1;
        }
        printf("skipped: no test cluster (JAVM_TEST_RADOS_CONF unset)\n");
        return 77;
    }
    snprintf(prefix, sizeof prefix, "%s-%ld-%ld", test, (long)getpid(), (long)time(NULL));
    char url[4300], msg[256], ns[TSTORE_LOC];
    snprintf(ns, sizeof ns, "%.*s-probe", (int)sizeof prefix, prefix);
    rados_url(url, sizeof url, ns);
    javm_store *s = NULL;
    int rc = javm_store_rados_open(url, NULL, &s, msg, sizeof msg);
    if (rc == JAVM_ERR_STORE_UNSUPPORTED) {
        printf("skipped: libjavm built without librados\n");
        return ci() ? 1 : 77;
    }
    if (rc) {
        fprintf(stderr, "%s: the test cluster does not answer: %s\n", test, msg);
        return 1;
    }
    javm_store_close(s);
    printf("store: rados, namespaces %s-N\n", prefix);
    return -1;
}

tstore_kind tstore_kind_of(void)
{
    return kind;
}

bool tstore_is_rados(void)
{
    return kind == TSTORE_RADOS;
}

const char *tstore_kind_name(void)
{
    return kind == TSTORE_MEM ? "mem" : kind == TSTORE_LMDB ? "lmdb" : "rados";
}

void tstore_make(char loc[TSTORE_LOC])
{
    switch (kind) {
    case TSTORE_MEM:
        strcpy(loc, "mem");
        break;
    case TSTORE_LMDB:
        strcpy(loc, "/tmp/javm-store-XXXXXX");
        if (!mkdtemp(loc)) {
            perror("mkdtemp");
            abort();
        }
        break;
    case TSTORE_RADOS:
        snprintf(loc, TSTORE_LOC, "%s-%u", prefix, ++made);
        break;
    }
}

int tstore_open(const char *loc, bool read_only, javm_store **out)
{
    *out = NULL;
    switch (kind) {
    case TSTORE_MEM:
        return javm_store_mem_new(out);
    case TSTORE_LMDB: {
        javm_lmdb_opts o = { 0, false, read_only };
        return javm_store_lmdb_open(loc, &o, out);
    }
    case TSTORE_RADOS: {
        char url[4300], msg[256];
        rados_url(url, sizeof url, loc);
        javm_rados_opts o = { NULL, 0, read_only };
        int rc = javm_store_rados_open(url, &o, out, msg, sizeof msg);
        if (rc)
            fprintf(stderr, "open %s: %s\n", url, msg);
        return rc;
    }
    }
    return JAVM_ERR_INVALID_ARG;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void tstore_remove(const char *loc)
{
    if (kind == TSTORE_LMDB)
        nftw(loc, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tstore_home(javm_store *s, const uint8_t *name, size_t len)
{
    return kind == TSTORE_RADOS ? javm_store_rados_home(s, name, len) : JAVM_OK;
}
