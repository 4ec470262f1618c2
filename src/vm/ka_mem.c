/* SPDX-License-Identifier: MIT
 * vm/ka_mem.c — the in-process kernel assist (caps.md §9): gas meters, storage quotas, the file
 * map with next_file_id, yield-catcher sets and the nonce, all in memory. A journal is a
 * snapshot of quotas, files and next_file_id taken at begin and restored by rollback. */
#include <stdlib.h>
#include <string.h>

#include "cap/cap.h"
#include "util/search.h"

typedef struct kv {
    uint64_t k, v;
} kv;

typedef struct kvec {
    kv *p;
    size_t n, cap;
} kvec;

typedef struct file_rec {
    uint64_t id;
    javm_hash h;
} file_rec;

typedef struct catcher {
    javm_hash c;
    javm_hash *markers;
    size_t n, cap;
} catcher;

typedef struct ka_mem {
    javm_ka base; /* first: the javm_ka header */
    kvec meters, quotas;
    file_rec *files;
    size_t n_files, cap_files;
    uint64_t next_file_id;
    uint64_t nonce;
    catcher *catchers;
    size_t n_catchers, cap_catchers;
    /* journal snapshot */
    bool snap;
    kvec snap_quotas;
    file_rec *snap_files;
    size_t snap_n_files;
    uint64_t snap_next_file_id;
} ka_mem;

static int grow(void **p, size_t *cap, size_t need, size_t el)
{
    if (need <= *cap)
        return JAVM_OK;
    size_t n = *cap ? *cap * 2 : 8;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * el);
    if (!q)
        return CAP_ERR(JAVM_ERR_ALLOC);
    *p = q;
    *cap = n;
    return JAVM_OK;
}

static kv *kv_find(kvec *v, uint64_t k)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->p[i].k == k)
            return &v->p[i];
    return NULL;
}

/* set must not fail (caps.md §9): the table keeps room for one more entry at all times, so
 * an insertion never allocates here; the room is restored when convenient. */
static uint64_t kv_set(kvec *v, uint64_t k, uint64_t val)
{
    kv *e = kv_find(v, k);
    uint64_t old = e ? e->v : 0;
    if (e) {
        e->v = val;
        return old;
    }
    /* The spare may be missing (its best-effort growth failed): try again before dropping
     * the set; a caller that must know reads the value back (HOST_MINT_DATA_CAP does). */
    if (v->n == v->cap)
        grow((void **)&v->p, &v->cap, v->n + 1, sizeof(kv));
    if (v->n < v->cap) {
        v->p[v->n].k = k;
        v->p[v->n].v = val;
        v->n++;
    }
    grow((void **)&v->p, &v->cap, v->n + 1, sizeof(kv)); /* best effort: keep one spare */
    return old;
}

static uint64_t ka_gas_get(void *ka, uint64_t id)
{
    kv *e = kv_find(&((ka_mem *)ka)->meters, id);
    return e ? e->v : 0;
}

static uint64_t ka_gas_set(void *ka, uint64_t id, uint64_t v)
{
    return kv_set(&((ka_mem *)ka)->meters, id, v);
}

static uint64_t ka_quota_get(void *ka, uint64_t id)
{
    kv *e = kv_find(&((ka_mem *)ka)->quotas, id);
    return e ? e->v : 0;
}

static uint64_t ka_quota_set(void *ka, uint64_t id, uint64_t v)
{
    return kv_set(&((ka_mem *)ka)->quotas, id, v);
}

static uint64_t ka_nonce(void *ka)
{
    return ((ka_mem *)ka)->nonce++;
}

static catcher *catcher_find(ka_mem *m, const javm_hash *c)
{
    for (size_t i = 0; i < m->n_catchers; i++)
        if (memcmp(m->catchers[i].c.b, c->b, 32) == 0)
            return &m->catchers[i];
    return NULL;
}

static int ka_catcher_register(void *ka, const javm_hash *c)
{
    ka_mem *m = ka;
    if (catcher_find(m, c))
        return JAVM_OK;
    int rc = grow((void **)&m->catchers, &m->cap_catchers, m->n_catchers + 1, sizeof(catcher));
    if (rc)
        return rc;
    catcher *k = &m->catchers[m->n_catchers++];
    memset(k, 0, sizeof *k);
    k->c = *c;
    return JAVM_OK;
}

static size_t marker_index(const catcher *k, const javm_hash *mk)
{
    for (size_t i = 0; i < k->n; i++)
        if (memcmp(k->markers[i].b, mk->b, 32) == 0)
            return i;
    return SIZE_MAX;
}

static int ka_catcher_add(void *ka, const javm_hash *c, const javm_hash *mk)
{
    catcher *k = catcher_find(ka, c);
    if (!k)
        return JAVM_ERR_NOT_FOUND;
    if (marker_index(k, mk) != SIZE_MAX)
        return JAVM_OK;
    int rc = grow((void **)&k->markers, &k->cap, k->n + 1, sizeof(javm_hash));
    if (rc == JAVM_OK)
        k->markers[k->n++] = *mk;
    return rc;
}

static int ka_catcher_remove(void *ka, const javm_hash *c, const javm_hash *mk)
{
    catcher *k = catcher_find(ka, c);
    if (!k)
        return JAVM_ERR_NOT_FOUND;
    size_t i = marker_index(k, mk);
    if (i != SIZE_MAX)
        k->markers[i] = k->markers[--k->n];
    return JAVM_OK;
}

static bool ka_catcher_contains(void *ka, const javm_hash *c, const javm_hash *mk)
{
    catcher *k = catcher_find(ka, c);
    return k && marker_index(k, mk) != SIZE_MAX;
}

static file_rec *file_find(ka_mem *m, uint64_t id, size_t *pos)
{
    size_t lo = UTIL_LOWER_BOUND(m->files, m->n_files, id, id);
    if (pos)
        *pos = lo;
    return lo < m->n_files && m->files[lo].id == id ? &m->files[lo] : NULL;
}

/* Inserts or replaces a record, keeping the array sorted by id. */
static int file_put(ka_mem *m, uint64_t id, const javm_hash *h)
{
    size_t pos;
    file_rec *f = file_find(m, id, &pos);
    if (f) {
        f->h = *h;
        return JAVM_OK;
    }
    int rc = grow((void **)&m->files, &m->cap_files, m->n_files + 1, sizeof(file_rec));
    if (rc)
        return rc;
    memmove(&m->files[pos + 1], &m->files[pos], (m->n_files - pos) * sizeof(file_rec));
    m->files[pos].id = id;
    m->files[pos].h = *h;
    m->n_files++;
    return JAVM_OK;
}

static int ka_host_open(void *ka, uint64_t id, javm_hash *out)
{
    file_rec *f = file_find(ka, id, NULL);
    if (!f)
        return JAVM_ERR_NOT_FOUND;
    *out = f->h;
    return JAVM_OK;
}

static int ka_host_save(void *ka, const javm_hash *data, uint64_t quota_id, uint64_t size,
                        uint64_t *file_id)
{
    ka_mem *m = ka;
    uint64_t q = ka_quota_get(ka, quota_id);
    if (q < size)
        return JAVM_ERR_QUOTA;
    /* An id seeded by javm_ka_mem_register_file at or above next_file_id is skipped: replacing
     * that record would drop a file-map holder without releasing its hold (caps.md §5.2). */
    uint64_t id = m->next_file_id;
    while (file_find(m, id, NULL))
        id++;
    /* Reserve first: after the record is in, the quota debit cannot fail. */
    int rc = grow((void **)&m->quotas.p, &m->quotas.cap, m->quotas.n + 1, sizeof(kv));
    if (rc == JAVM_OK)
        rc = file_put(m, id, data);
    if (rc)
        return rc;
    kv_set(&m->quotas, quota_id, q - size);
    m->next_file_id = id + 1;
    *file_id = id;
    return JAVM_OK;
}

static int ka_file_iter(void *ka, int (*cb)(void *arg, uint64_t id, const javm_hash *h), void *arg)
{
    ka_mem *m = ka;
    int rc = JAVM_OK;
    for (size_t i = 0; i < m->n_files && rc == JAVM_OK; i++)
        rc = cb(arg, m->files[i].id, &m->files[i].h);
    return rc;
}

static void snap_free(ka_mem *m)
{
    free(m->snap_quotas.p);
    free(m->snap_files);
    memset(&m->snap_quotas, 0, sizeof m->snap_quotas);
    m->snap_files = NULL;
    m->snap_n_files = 0;
    m->snap = false;
}

static int ka_begin(void *ka, javm_store *store)
{
    (void)store;
    ka_mem *m = ka;
    snap_free(m);
    size_t nq = m->quotas.cap ? m->quotas.cap : 1;
    m->snap_quotas.p = malloc(nq * sizeof(kv));
    m->snap_files = malloc((m->n_files ? m->n_files : 1) * sizeof(file_rec));
    if (!m->snap_quotas.p || !m->snap_files) {
        snap_free(m);
        return CAP_ERR(JAVM_ERR_ALLOC);
    }
    if (m->quotas.n)
        memcpy(m->snap_quotas.p, m->quotas.p, m->quotas.n * sizeof(kv));
    m->snap_quotas.n = m->quotas.n;
    m->snap_quotas.cap = nq;
    if (m->n_files)
        memcpy(m->snap_files, m->files, m->n_files * sizeof(file_rec));
    m->snap_n_files = m->n_files;
    m->snap_next_file_id = m->next_file_id;
    m->snap = true;
    return JAVM_OK;
}

static int ka_persist(void *ka, javm_store *store)
{
    /* Nothing to write. The snapshot stays until the next begin: if the store commit that
     * follows fails, the journal is aborted and rollback still has it. */
    (void)ka;
    (void)store;
    return JAVM_OK;
}

static void ka_rollback(void *ka)
{
    ka_mem *m = ka;
    if (!m->snap)
        return;
    /* Swap the snapshot in: no allocation, so rollback cannot fail. */
    free(m->quotas.p);
    m->quotas = m->snap_quotas;
    free(m->files);
    m->files = m->snap_files;
    m->n_files = m->snap_n_files;
    m->cap_files = m->snap_n_files ? m->snap_n_files : 1;
    m->next_file_id = m->snap_next_file_id;
    m->snap_quotas.p = NULL;
    m->snap_files = NULL;
    snap_free(m);
}

static void ka_destroy(void *ka)
{
    ka_mem *m = ka;
    snap_free(m);
    free(m->meters.p);
    free(m->quotas.p);
    free(m->files);
    for (size_t i = 0; i < m->n_catchers; i++)
        free(m->catchers[i].markers);
    free(m->catchers);
    free(m);
}

static const javm_ka_vtbl ka_mem_vtbl = {
    .gas_meter_get = ka_gas_get,
    .gas_meter_set = ka_gas_set,
    .storage_quota_get = ka_quota_get,
    .storage_quota_set = ka_quota_set,
    .yield_catcher_nonce = ka_nonce,
    .yield_catcher_register = ka_catcher_register,
    .yield_catcher_add = ka_catcher_add,
    .yield_catcher_remove = ka_catcher_remove,
    .yield_catcher_contains = ka_catcher_contains,
    .host_open = ka_host_open,
    .host_save = ka_host_save,
    .file_iter = ka_file_iter,
    .begin = ka_begin,
    .persist = ka_persist,
    .rollback = ka_rollback,
    .destroy = ka_destroy,
};

int javm_ka_mem_new(javm_ka **out)
{
    ka_mem *m = calloc(1, sizeof *m);
    if (!m)
        return CAP_ERR(JAVM_ERR_ALLOC);
    m->base.vtbl = &ka_mem_vtbl;
    m->next_file_id = 1;
    /* One spare entry each, so that the first set cannot fail (see kv_set). */
    if (grow((void **)&m->quotas.p, &m->quotas.cap, 1, sizeof(kv)) ||
        grow((void **)&m->meters.p, &m->meters.cap, 1, sizeof(kv))) {
        ka_destroy(m);
        return CAP_ERR(JAVM_ERR_ALLOC);
    }
    *out = &m->base;
    return JAVM_OK;
}

void javm_ka_free(javm_ka *ka)
{
    if (ka)
        ka->vtbl->destroy(ka);
}

int javm_ka_mem_register_file(javm_ka *ka, javm_cache *cache, uint64_t id, const javm_hash *h)
{
    if (!ka || ka->vtbl != &ka_mem_vtbl || !h)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    ka_mem *m = (ka_mem *)ka;
    file_rec *f = file_find(m, id, NULL);
    javm_hash old = f ? f->h : (javm_hash){ { 0 } };
    bool had = f != NULL;
    javm_key k = javm_key_of_hash(h);
    int rc = cache ? javm_cache_incref(cache, &k) : JAVM_OK;
    if (rc)
        return rc;
    rc = file_put(m, id, h);
    if (rc) {
        if (cache)
            javm_cache_decref(cache, &k);
        return rc;
    }
    if (had && cache) {
        javm_key ok = javm_key_of_hash(&old);
        javm_cache_decref(cache, &ok);
    }
    return JAVM_OK;
}

uint64_t javm_ka_mem_next_file_id(javm_ka *ka)
{
    if (!ka || ka->vtbl != &ka_mem_vtbl)
        return 0;
    return ((ka_mem *)ka)->next_file_id;
}
