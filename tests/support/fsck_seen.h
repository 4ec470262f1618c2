/* SPDX-License-Identifier: MIT
 * tests/support/fsck_seen.h — damaging a store by hand and collecting the kinds of problem
 * tl_fsck then reports (tests/test_fsck.c, tests/test_store_pages.c). */
#ifndef JAVM_TESTS_FSCK_SEEN_H
#define JAVM_TESTS_FSCK_SEEN_H

#include <stdio.h>

#include "fsck.h"

typedef struct seen {
    char kinds[16][24];
    size_t n;
} seen;

static inline void seen_collect(void *arg, const char *kind, const char *where, const char *detail)
{
    (void)where;
    (void)detail;
    seen *s = arg;
    if (s->n < 16)
        snprintf(s->kinds[s->n++], sizeof s->kinds[0], "%s", kind);
}

/* Runs tl_fsck on s (which must succeed) and returns the kinds it reported, in order. */
static inline seen seen_fsck(javm_store *s, tl_fsck_stats *st)
{
    seen r = { .n = 0 };
    int rc = tl_fsck(s, seen_collect, &r, st);
    if (rc != JAVM_OK)
        r.n = (size_t)-1; /* no kind list: the caller's count check fails */
    return r;
}

/* One transaction writing t[k] = v (deleting it when v is NULL); the first failing status. */
static inline int store_raw_set(javm_store *s, javm_table t, const void *k, size_t kl,
                                const void *v, size_t vl)
{
    int rc = s->vtbl->begin(s);
    if (rc)
        return rc;
    rc = v ? s->vtbl->put(s, t, k, kl, v, vl) : s->vtbl->del(s, t, k, kl);
    if (rc) {
        s->vtbl->abort(s);
        return rc;
    }
    return s->vtbl->commit(s);
}

#endif
