/* SPDX-License-Identifier: MIT
 * store/store_mem.c — the in-memory javm_store (caps.md §5.7): six tables in chained hash maps,
 * one write transaction held as an overlay map whose records are moved into the base at
 * commit, so that a commit cannot fail half-way. Persistence layer; interface in javm/cap.h. */
#include <stdlib.h>
#include <string.h>

#include "javm.h"
#include "store/store.h"

typedef struct rec {
    struct rec *next;
    size_t klen;
    size_t vlen;
    bool tomb; /* overlay only: the key is deleted by the transaction */
    uint8_t *val;
    uint8_t key[];
} rec;

typedef struct bmap {
    rec **buckets;
    size_t nb; /* power of two, or 0 */
    size_t count;
} bmap;

typedef struct store_mem {
    javm_store base; /* first: the javm_store header */
    bmap tables[JAVM_TABLE_COUNT];
    bmap txn[JAVM_TABLE_COUNT];
    bool in_txn;
} store_mem;

/* FNV-1a over the key; keys are hashes, big-endian ids or short names. */
static uint64_t key_hash(const uint8_t *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= k[i];
        h *= 1099511628211ull;
    }
    return h;
}

static rec **bmap_slot(bmap *m, const uint8_t *k, size_t n)
{
    if (m->nb == 0)
        return NULL;
    rec **pp = &m->buckets[key_hash(k, n) & (m->nb - 1)];
    while (*pp && ((*pp)->klen != n || memcmp((*pp)->key, k, n) != 0))
        pp = &(*pp)->next;
    return pp;
}

static rec *bmap_find(bmap *m, const uint8_t *k, size_t n)
{
    rec **pp = bmap_slot(m, k, n);
    return pp ? *pp : NULL;
}

/* Doubles the bucket array when the load passes 1. Failure only costs speed, except for an
 * empty map, which needs its first array. */
static int bmap_reserve(bmap *m, size_t more)
{
    if (m->nb && m->count + more <= m->nb)
        return JAVM_OK;
    size_t nb = m->nb ? m->nb : 16;
    while (nb < m->count + more)
        nb *= 2;
    rec **b = calloc(nb, sizeof *b);
    if (!b)
        return m->nb ? JAVM_OK : JAVM_ERR_ALLOC;
    for (size_t i = 0; i < m->nb; i++) {
        rec *r = m->buckets[i];
        while (r) {
            rec *next = r->next;
            size_t j = key_hash(r->key, r->klen) & (nb - 1);
            r->next = b[j];
            b[j] = r;
            r = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nb = nb;
    return JAVM_OK;
}

static void rec_free(rec *r)
{
    if (r) {
        free(r->val);
        free(r);
    }
}

/* Links r into m, replacing (and freeing) a record with the same key. */
static void bmap_link(bmap *m, rec *r)
{
    rec **pp = bmap_slot(m, r->key, r->klen);
    if (*pp) {
        rec *old = *pp;
        r->next = old->next;
        *pp = r;
        rec_free(old);
        return;
    }
    r->next = NULL;
    *pp = r;
    m->count++;
}

static void bmap_unlink_free(bmap *m, const uint8_t *k, size_t n)
{
    rec **pp = bmap_slot(m, k, n);
    if (pp && *pp) {
        rec *r = *pp;
        *pp = r->next;
        rec_free(r);
        m->count--;
    }
}

static void bmap_clear(bmap *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        rec *r = m->buckets[i];
        while (r) {
            rec *next = r->next;
            rec_free(r);
            r = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof *m);
}

static int mem_get(javm_store *s, javm_table t, const uint8_t *key, size_t klen,
                   const uint8_t **val, size_t *vlen)
{
    store_mem *m = (store_mem *)s;
    if ((unsigned)t >= JAVM_TABLE_COUNT)
        return JAVM_ERR_INVALID_ARG;
    rec *r = m->in_txn ? bmap_find(&m->txn[t], key, klen) : NULL;
    if (!r)
        r = bmap_find(&m->tables[t], key, klen);
    if (!r || r->tomb)
        return JAVM_ERR_NOT_FOUND;
    *val = r->val;
    *vlen = r->vlen;
    return JAVM_OK;
}

static int mem_begin(javm_store *s)
{
    store_mem *m = (store_mem *)s;
    if (m->in_txn)
        return JAVM_ERR_BUSY;
    m->in_txn = true;
    return JAVM_OK;
}

static int txn_write(store_mem *m, javm_table t, const uint8_t *key, size_t klen,
                     const uint8_t *val, size_t vlen, bool tomb)
{
    if (!m->in_txn || (unsigned)t >= JAVM_TABLE_COUNT)
        return JAVM_ERR_INVALID_ARG;
    if (bmap_reserve(&m->txn[t], 1))
        return JAVM_ERR_ALLOC;
    rec *r = malloc(sizeof *r + klen);
    if (!r)
        return JAVM_ERR_ALLOC;
    r->klen = klen;
    r->vlen = tomb ? 0 : vlen;
    r->tomb = tomb;
    r->val = NULL;
    memcpy(r->key, key, klen);
    if (!tomb && vlen) {
        r->val = malloc(vlen);
        if (!r->val) {
            free(r);
            return JAVM_ERR_ALLOC;
        }
        memcpy(r->val, val, vlen);
    }
    bmap_link(&m->txn[t], r);
    return JAVM_OK;
}

static int mem_put(javm_store *s, javm_table t, const uint8_t *key, size_t klen,
                   const uint8_t *val, size_t vlen)
{
    return txn_write((store_mem *)s, t, key, klen, val, vlen, false);
}

static int mem_del(javm_store *s, javm_table t, const uint8_t *key, size_t klen)
{
    return txn_write((store_mem *)s, t, key, klen, NULL, 0, true);
}

static void mem_abort(javm_store *s)
{
    store_mem *m = (store_mem *)s;
    for (int t = 0; t < JAVM_TABLE_COUNT; t++)
        bmap_clear(&m->txn[t]);
    if (m->in_txn)
        store_txn_ended(s, false);
    m->in_txn = false;
}

static int mem_commit(javm_store *s)
{
    store_mem *m = (store_mem *)s;
    if (!m->in_txn)
        return JAVM_ERR_INVALID_ARG;
    /* Grow first (the only step that allocates), then move records: cannot fail. */
    for (int t = 0; t < JAVM_TABLE_COUNT; t++)
        if (bmap_reserve(&m->tables[t], m->txn[t].count)) {
            mem_abort(s);
            return JAVM_ERR_ALLOC;
        }
    for (int t = 0; t < JAVM_TABLE_COUNT; t++) {
        bmap *o = &m->txn[t];
        for (size_t i = 0; i < o->nb; i++) {
            rec *r = o->buckets[i];
            while (r) {
                rec *next = r->next;
                if (r->tomb) {
                    bmap_unlink_free(&m->tables[t], r->key, r->klen);
                    rec_free(r);
                } else {
                    bmap_link(&m->tables[t], r);
                }
                r = next;
            }
            o->buckets[i] = NULL;
        }
        o->count = 0;
        bmap_clear(o);
    }
    m->in_txn = false;
    store_txn_ended(s, true);
    return JAVM_OK;
}

static int rec_cmp(const void *a, const void *b)
{
    const rec *x = *(const rec *const *)a, *y = *(const rec *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static int mem_scan(javm_store *s, javm_table t, javm_store_scan_fn cb, void *arg)
{
    store_mem *m = (store_mem *)s;
    if ((unsigned)t >= JAVM_TABLE_COUNT)
        return JAVM_ERR_INVALID_ARG;
    bmap *base = &m->tables[t];
    bmap *ov = m->in_txn ? &m->txn[t] : NULL;
    size_t n = base->count + (ov ? ov->count : 0);
    rec **v = n ? malloc(n * sizeof *v) : NULL;
    if (n && !v)
        return JAVM_ERR_ALLOC;
    size_t k = 0;
    for (size_t i = 0; i < base->nb; i++)
        for (rec *r = base->buckets[i]; r; r = r->next)
            if (!ov || !bmap_find(ov, r->key, r->klen))
                v[k++] = r;
    for (size_t i = 0; ov && i < ov->nb; i++)
        for (rec *r = ov->buckets[i]; r; r = r->next)
            if (!r->tomb)
                v[k++] = r;
    if (k > 1)
        qsort(v, k, sizeof *v, rec_cmp);
    int rc = JAVM_OK;
    for (size_t i = 0; i < k && rc == JAVM_OK; i++)
        rc = cb(arg, v[i]->key, v[i]->klen, v[i]->val, v[i]->vlen);
    free(v);
    return rc;
}

static void mem_close(javm_store *s)
{
    store_mem *m = (store_mem *)s;
    for (int t = 0; t < JAVM_TABLE_COUNT; t++) {
        bmap_clear(&m->txn[t]);
        bmap_clear(&m->tables[t]);
    }
    free(m);
}

static const javm_store_vtbl store_mem_vtbl = {
    mem_get, mem_begin, mem_put, mem_del, mem_commit, mem_abort, mem_scan, mem_close, NULL, NULL, NULL, NULL,
};

int javm_store_mem_new(javm_store **out)
{
    store_mem *m = calloc(1, sizeof *m);
    if (!m)
        return JAVM_ERR_ALLOC;
    m->base.vtbl = &store_mem_vtbl;
    *out = &m->base;
    return JAVM_OK;
}

void javm_store_close(javm_store *s)
{
    if (s)
        s->vtbl->close(s);
}
