/* SPDX-License-Identifier: MIT
 * tests/support/fault_store.c — see fault_store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_store.h"

static javm_store *inner(javm_store *s) { return ((fault_store *)s)->inner; }

static int f_get(javm_store *s, javm_table t, const uint8_t *key, size_t klen, const uint8_t **val,
                 size_t *vlen)
{
    fault_store *f = (fault_store *)s;
    if (f->fail_table == (int)t &&
        (!f->fail_key_set || (klen == f->fail_klen && memcmp(key, f->fail_key, klen) == 0))) {
        f->failed++;
        snprintf(s->errmsg, sizeof s->errmsg, "injected read failure in table %d", (int)t);
        return f->fail_status;
    }
    return f->inner->vtbl->get(f->inner, t, key, klen, val, vlen);
}

static int f_begin(javm_store *s)
{
    return inner(s)->vtbl->begin(inner(s));
}

/* The inner store reports the end of its transaction to whoever watches this one. */
static void forward_end(fault_store *f)
{
    if (f->base.txn_end) {
        f->inner->txn_end = f->base.txn_end;
        f->inner->txn_end_arg = f->base.txn_end_arg;
        f->base.txn_end = NULL;
        f->base.txn_end_arg = NULL;
    }
}

static int f_put(javm_store *s, javm_table t, const uint8_t *key, size_t klen, const uint8_t *val,
                 size_t vlen)
{
    return inner(s)->vtbl->put(inner(s), t, key, klen, val, vlen);
}

static int f_del(javm_store *s, javm_table t, const uint8_t *key, size_t klen)
{
    return inner(s)->vtbl->del(inner(s), t, key, klen);
}

static int f_commit(javm_store *s)
{
    forward_end((fault_store *)s);
    return inner(s)->vtbl->commit(inner(s));
}

static void f_abort(javm_store *s)
{
    forward_end((fault_store *)s);
    inner(s)->vtbl->abort(inner(s));
}

static int f_scan(javm_store *s, javm_table t, javm_store_scan_fn cb, void *arg)
{
    return inner(s)->vtbl->scan(inner(s), t, cb, arg);
}

static void f_close(javm_store *s)
{
    fault_store *f = (fault_store *)s;
    f->inner->vtbl->close(f->inner);
    free(f);
}

static const javm_store_vtbl fault_vtbl = { f_get, f_begin, f_put, f_del, f_commit, f_abort,
                                            f_scan, f_close, NULL, NULL, NULL, NULL };

fault_store *fault_store_new(javm_store *in)
{
    fault_store *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->base.vtbl = &fault_vtbl;
    f->base.flags = in->flags; /* a shared store stays shared (javm/cap.h) */
    f->inner = in;
    f->fail_table = -1;
    f->fail_status = JAVM_ERR_STORE;
    return f;
}

void fault_store_fail(fault_store *f, int t, const void *key, size_t klen, int status)
{
    f->fail_table = t;
    f->fail_key_set = key != NULL;
    if (key) {
        memcpy(f->fail_key, key, klen < 32 ? klen : 32);
        f->fail_klen = klen < 32 ? klen : 32;
    }
    f->fail_status = status;
}
