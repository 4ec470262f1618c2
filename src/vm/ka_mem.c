/* SPDX-License-Identifier: MIT
 * vm/ka_mem.c — the in-process kernel assist (caps.md §9): gas meters, storage quotas, the file
 * map with next_file_id, yield-catcher sets and the nonce, all in memory. A journal is a
 * snapshot of quotas, files and next_file_id taken at begin and restored by rollback. */
#include <stdlib.h>
#include <string.h>

#include "cap/cap.h"
#include "util/grow.h"
#include "util/search.h"
#include "util/table.h"

/* Gas meters and quotas: id -> value; yield catchers: hash -> a set of marker hashes. All
 * util/table.h tables, so every operation costs O(1) however many the embedder makes. */
typedef struct kv_slot {
    uint64_t tag;
    uint64_t k, v;
} kv_slot;

typedef struct marker_slot {
    uint64_t tag;
    javm_hash h;
} marker_slot;

typedef struct catcher_slot {
    uint64_t tag;
    javm_hash c;
    util_table markers; /* of marker_slot */
} catcher_slot;

typedef struct file_rec {
    uint64_t id;
    javm_hash h;
} file_rec;

typedef struct ka_mem {
    javm_ka base; /* first: the javm_ka header */
    util_table meters, quotas; /* of kv_slot */
    file_rec *files;
    size_t n_files, cap_files;
    uint64_t next_file_id;
    uint64_t nonce;
    util_table catchers; /* of catcher_slot */
    /* journal snapshot */
    bool snap;
    util_table snap_quotas;
    file_rec *snap_files;
    size_t snap_n_files;
    uint64_t snap_next_file_id;
} ka_mem;

/* The arrays double from 8 (util/grow.h). */
static int grow(void **p, size_t *cap, size_t need, size_t el)
{
    return util_grow(p, cap, need, el, 8) ? CAP_ERR(JAVM_ERR_ALLOC) : JAVM_OK;
}

static bool kv_is(const void *slot, const void *k)
{
    return ((const kv_slot *)slot)->k == *(const uint64_t *)k;
}

static kv_slot *kv_find(const util_table *t, uint64_t k)
{
    return util_table_find(t, util_table_mix(k), &k, kv_is);
}

/* set must not fail (caps.md §9): the table keeps room for one more entry at all times, so
 * an insertion never allocates here; the room is restored when convenient. */
static uint64_t kv_set(util_table *t, uint64_t k, uint64_t val)
{
    kv_slot *e = kv_find(t, k);
    uint64_t old = e ? e->v : 0;
    /* The spare may be missing (its best-effort growth failed): the add tries again before
     * the set is dropped; a caller that must know reads the value back (HOST_MINT_DATA_CAP
     * does). */
    if (!e && (e = util_table_add(t, util_table_mix(k))) != NULL)
        e->k = k;
    if (e)
        e->v = val;
    util_table_reserve(t, 1); /* best effort: keep one spare */
    return old;
}

static uint64_t ka_gas_get(void *ka, uint64_t id)
{
    kv_slot *e = kv_find(&((ka_mem *)ka)->meters, id);
    return e ? e->v : 0;
}

static uint64_t ka_gas_set(void *ka, uint64_t id, uint64_t v)
{
    return kv_set(&((ka_mem *)ka)->meters, id, v);
}

static uint64_t ka_quota_get(void *ka, uint64_t id)
{
    kv_slot *e = kv_find(&((ka_mem *)ka)->quotas, id);
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

static bool catcher_is(const void *slot, const void *c)
{
    return memcmp(((const catcher_slot *)slot)->c.b, c, 32) == 0;
}

static bool marker_is(const void *slot, const void *mk)
{
    return memcmp(((const marker_slot *)slot)->h.b, mk, 32) == 0;
}

static catcher_slot *catcher_find(ka_mem *m, const javm_hash *c)
{
    return util_table_find(&m->catchers, util_table_tag_bytes(c->b), c->b, catcher_is);
}

static marker_slot *marker_find(const catcher_slot *k, const javm_hash *mk)
{
    return util_table_find(&k->markers, util_table_tag_bytes(mk->b), mk->b, marker_is);
}

static int ka_catcher_register(void *ka, const javm_hash *c)
{
    ka_mem *m = ka;
    if (catcher_find(m, c))
        return JAVM_OK;
    catcher_slot *k = util_table_add(&m->catchers, util_table_tag_bytes(c->b));
    if (!k)
        return CAP_ERR(JAVM_ERR_ALLOC);
    k->c = *c;
    k->markers = UTIL_TABLE_INIT(marker_slot);
    return JAVM_OK;
}

static int ka_catcher_add(void *ka, const javm_hash *c, const javm_hash *mk)
{
    catcher_slot *k = catcher_find(ka, c);
    if (!k)
        return JAVM_ERR_NOT_FOUND;
    if (marker_find(k, mk))
        return JAVM_OK;
    marker_slot *s = util_table_add(&k->markers, util_table_tag_bytes(mk->b));
    if (!s)
        return CAP_ERR(JAVM_ERR_ALLOC);
    s->h = *mk;
    return JAVM_OK;
}

static int ka_catcher_remove(void *ka, const javm_hash *c, const javm_hash *mk)
{
    catcher_slot *k = catcher_find(ka, c);
    if (!k)
        return JAVM_ERR_NOT_FOUND;
    marker_slot *s = marker_find(k, mk);
    if (s)
        util_table_delete(&k->markers, s);
    return JAVM_OK;
}

static bool ka_catcher_contains(void *ka, const javm_hash *c, const javm_hash *mk)
{
    catcher_slot *k = catcher_find(ka, c);
    return k && marker_find(k, mk);
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
    int rc = util_table_reserve(&m->quotas, 1) ? CAP_ERR(JAVM_ERR_ALLOC) : JAVM_OK;
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
    util_table_free(&m->snap_quotas);
    free(m->snap_files);
    m->snap_files = NULL;
    m->snap_n_files = 0;
    m->snap = false;
}

static int ka_begin(void *ka, javm_store *store)
{
    (void)store;
    ka_mem *m = ka;
    snap_free(m);
    m->snap_files = malloc((m->n_files ? m->n_files : 1) * sizeof(file_rec));
    if (!m->snap_files || util_table_copy(&m->snap_quotas, &m->quotas)) {
        snap_free(m);
        return CAP_ERR(JAVM_ERR_ALLOC);
    }
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
    util_table_free(&m->quotas);
    m->quotas = m->snap_quotas;
    free(m->files);
    m->files = m->snap_files;
    m->n_files = m->snap_n_files;
    m->cap_files = m->snap_n_files ? m->snap_n_files : 1;
    m->next_file_id = m->snap_next_file_id;
    m->snap_quotas = UTIL_TABLE_INIT(kv_slot);
    m->snap_files = NULL;
    snap_free(m);
}

static void ka_destroy(void *ka)
{
    ka_mem *m = ka;
    snap_free(m);
    util_table_free(&m->meters);
    util_table_free(&m->quotas);
    free(m->files);
    for (size_t i = 0; i < util_table_cap(&m->catchers); i++) {
        catcher_slot *k = util_table_at(&m->catchers, i);
        if (util_table_used(k))
            util_table_free(&k->markers);
    }
    util_table_free(&m->catchers);
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
    m->meters = m->quotas = m->snap_quotas = UTIL_TABLE_INIT(kv_slot);
    m->catchers = UTIL_TABLE_INIT(catcher_slot);
    /* One spare entry each, so that the first set cannot fail (see kv_set). */
    if (util_table_reserve(&m->quotas, 1) || util_table_reserve(&m->meters, 1)) {
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
