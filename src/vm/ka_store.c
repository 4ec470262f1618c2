/* SPDX-License-Identifier: MIT
 * vm/ka_store.c — the persistent kernel assist (caps.md §9): quotas, the file map and
 * next_file_id live in the store's §5.7 tables and are read through whatever transaction the
 * store has open; this process's changes are buffered on top until persist writes them into
 * the committing transaction. Gas meters and yield catchers are delegated to an in-process
 * kernel assist (never persisted). Buffering rules: docs/store.md. */
#include <stdlib.h>
#include <string.h>

#include "cap/cap.h"
#include "store/store.h"
#include "util/grow.h"
#include "util/search.h"

typedef struct qrec {
    uint64_t id, v;
} qrec;

typedef struct frec {
    uint64_t id;
    javm_hash h;
} frec;

/* The changes not yet published: quotas (sorted by id), file records (increasing ids, all
 * above the committed ones) and next_file_id. next_base is the committed next_file_id the
 * first buffered save counted from; persist refuses (CONFLICT) if another writer moved it. */
typedef struct kbuf {
    qrec *q;
    size_t nq, capq;
    frec *f;
    size_t nf, capf;
    bool has_next;
    uint64_t next, next_base;
} kbuf;

typedef struct ka_store {
    javm_ka base;      /* first: the javm_ka header */
    javm_store *store; /* borrowed */
    javm_ka *mem;      /* gas meters, yield catchers and the nonce */
    kbuf buf;
    /* The journal: the buffer as it was at begin (quotas copied; files and next by value,
     * since files are only appended). */
    bool journal;
    qrec *jq;
    size_t jnq;
    size_t jnf;
    bool j_has_next;
    uint64_t j_next, j_next_base;
} ka_store;

static const uint8_t key_next[] = "next_file_id";

static void be64(uint8_t k[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        k[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t k[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | k[i];
    return v;
}

/* The arrays double from 8 (util/grow.h). */
static int grow(void **p, size_t *cap, size_t need, size_t el)
{
    return util_grow(p, cap, need, el, 8) ? CAP_ERR(JAVM_ERR_ALLOC) : JAVM_OK;
}

/* ==== committed state, read through the store ============================================= */

/* A u64 LE record; absent gives dflt. A record of the wrong size is reported and read as
 * absent: quota and id reads cannot fail by contract. */
static int read_u64(ka_store *k, javm_table t, const uint8_t *key, size_t klen, uint64_t dflt,
                    uint64_t *out)
{
    const uint8_t *v;
    size_t vlen;
    int rc = k->store->vtbl->get(k->store, t, key, klen, &v, &vlen);
    *out = dflt;
    if (rc == JAVM_ERR_NOT_FOUND)
        return JAVM_OK;
    if (rc)
        return rc;
    if (vlen != 8) {
        char where[120];
        store_describe_key(where, sizeof where, t, key, klen);
        store_set_errmsg(k->store, "%s: a u64 record of %zu bytes", where, vlen);
        return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    }
    *out = cap_get_u64(v);
    return JAVM_OK;
}

static int committed_next(ka_store *k, uint64_t *out)
{
    int rc = read_u64(k, JAVM_TABLE_META, key_next, sizeof key_next - 1, 1, out);
    if (rc == JAVM_OK && *out == 0)
        *out = 1; /* ids start at 1 */
    return rc;
}

/* ==== the buffer =========================================================================== */

static qrec *q_find(kbuf *b, uint64_t id, size_t *pos)
{
    size_t lo = UTIL_LOWER_BOUND(b->q, b->nq, id, id);
    if (pos)
        *pos = lo;
    return lo < b->nq && b->q[lo].id == id ? &b->q[lo] : NULL;
}

/* Sets a buffered quota. Room for one more record is kept at all times (reserved after every
 * insertion and by host_save before it commits to anything), so this cannot fail; should the
 * spare room be missing after an earlier allocation failure, the change is lost and reported
 * in the store's message. */
static void q_set(ka_store *k, uint64_t id, uint64_t v)
{
    kbuf *b = &k->buf;
    size_t pos;
    qrec *r = q_find(b, id, &pos);
    if (r) {
        r->v = v;
        return;
    }
    /* The spare kept by the last insertion may be missing (its best-effort growth failed, or
     * a rollback restored a full array): try again before giving up. A caller that must know
     * reads the quota back (HOST_MINT_DATA_CAP does). */
    if (b->nq == b->capq && grow((void **)&b->q, &b->capq, b->nq + 1, sizeof(qrec)) != JAVM_OK) {
        store_set_errmsg(k->store, "kernel assist: out of memory, quota %llu not set",
                         (unsigned long long)id);
        return;
    }
    memmove(&b->q[pos + 1], &b->q[pos], (b->nq - pos) * sizeof(qrec));
    b->q[pos].id = id;
    b->q[pos].v = v;
    b->nq++;
    grow((void **)&b->q, &b->capq, b->nq + 1, sizeof(qrec)); /* best effort: keep one spare */
}

static frec *f_find(kbuf *b, uint64_t id)
{
    size_t lo = UTIL_LOWER_BOUND(b->f, b->nf, id, id);
    return lo < b->nf && b->f[lo].id == id ? &b->f[lo] : NULL;
}

static void buf_clear(kbuf *b)
{
    b->nq = 0;
    b->nf = 0;
    b->has_next = false;
}

static void journal_close(ka_store *k)
{
    free(k->jq);
    k->jq = NULL;
    k->jnq = 0;
    k->journal = false;
}

/* ==== quotas, files ======================================================================== */

static int ka_quota_read(void *ka, uint64_t id, uint64_t *out)
{
    ka_store *k = ka;
    qrec *r = q_find(&k->buf, id, NULL);
    if (r) {
        *out = r->v;
        return JAVM_OK;
    }
    uint8_t key[8];
    be64(key, id);
    return read_u64(k, JAVM_TABLE_QUOTAS, key, 8, 0, out);
}

static uint64_t ka_quota_get(void *ka, uint64_t id)
{
    uint64_t v;
    if (ka_quota_read(ka, id, &v))
        v = 0; /* the vtbl's get cannot fail: the VM reads through ka_quota_read */
    return v;
}

static uint64_t ka_quota_set(void *ka, uint64_t id, uint64_t v)
{
    uint64_t old = ka_quota_get(ka, id);
    q_set(ka, id, v);
    return old;
}

static int ka_host_open(void *ka, uint64_t id, javm_hash *out)
{
    ka_store *k = ka;
    frec *f = f_find(&k->buf, id);
    if (f) {
        *out = f->h;
        return JAVM_OK;
    }
    uint8_t key[8];
    const uint8_t *v;
    size_t vlen;
    be64(key, id);
    int rc = k->store->vtbl->get(k->store, JAVM_TABLE_FILES, key, 8, &v, &vlen);
    if (rc)
        return rc;
    if (vlen != 32) {
        char where[120];
        store_describe_key(where, sizeof where, JAVM_TABLE_FILES, key, 8);
        store_set_errmsg(k->store, "%s: a file record of %zu bytes", where, vlen);
        return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    }
    memcpy(out->b, v, 32);
    return JAVM_OK;
}

static int ka_host_save(void *ka, const javm_hash *data, uint64_t quota_id, uint64_t size,
                        uint64_t *file_id)
{
    ka_store *k = ka;
    kbuf *b = &k->buf;
    uint64_t q;
    int qrc = ka_quota_read(ka, quota_id, &q);
    if (qrc)
        return qrc;
    if (q < size)
        return JAVM_ERR_QUOTA;
    /* Read and reserve everything first: once the record is in, nothing can fail. */
    uint64_t next = b->next;
    int rc = JAVM_OK;
    if (!b->has_next)
        rc = committed_next(k, &next);
    /* An id already holding a record (one written at or above next_file_id by other means) is
     * skipped, never replaced: the in-memory kernel assist does the same (docs/vm.md). */
    uint64_t id = next;
    while (rc == JAVM_OK) {
        javm_hash h;
        int orc = ka_host_open(ka, id, &h);
        if (orc == JAVM_ERR_NOT_FOUND)
            break;
        if (orc && orc != JAVM_ERR_STORE_CORRUPT)
            rc = orc;
        else
            id++; /* present (or a malformed record: not ours to replace either) */
    }
    if (rc == JAVM_OK)
        rc = grow((void **)&b->f, &b->capf, b->nf + 1, sizeof(frec));
    if (rc == JAVM_OK)
        rc = grow((void **)&b->q, &b->capq, b->nq + 1, sizeof(qrec));
    if (rc)
        return rc;
    if (!b->has_next) {
        b->has_next = true;
        b->next_base = next;
    }
    b->f[b->nf].id = id;
    b->f[b->nf].h = *data;
    b->nf++;
    q_set(k, quota_id, q - size);
    b->next = id + 1;
    *file_id = id;
    return JAVM_OK;
}

/* file_iter merges the committed records (a scan of the files table) with the buffered ones,
 * in increasing id order; a buffered record replaces a committed one with the same id. */
typedef struct iter_ctx {
    ka_store *k;
    size_t bi; /* next buffered record to visit */
    int (*cb)(void *arg, uint64_t id, const javm_hash *h);
    void *arg;
} iter_ctx;

static int iter_committed(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen)
{
    iter_ctx *it = arg;
    kbuf *b = &it->k->buf;
    if (klen != 8 || vlen != 32) {
        char where[120];
        store_describe_key(where, sizeof where, JAVM_TABLE_FILES, key, klen);
        store_set_errmsg(it->k->store, "%s: a file record of %zu bytes", where, vlen);
        return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    }
    uint64_t id = get_be64(key);
    int rc = JAVM_OK;
    while (rc == JAVM_OK && it->bi < b->nf && b->f[it->bi].id < id) {
        rc = it->cb(it->arg, b->f[it->bi].id, &b->f[it->bi].h);
        it->bi++;
    }
    if (rc || (it->bi < b->nf && b->f[it->bi].id == id))
        return rc; /* replaced by the buffered record, visited next */
    javm_hash h;
    memcpy(h.b, val, 32);
    return it->cb(it->arg, id, &h);
}

static int ka_file_iter(void *ka, int (*cb)(void *arg, uint64_t id, const javm_hash *h), void *arg)
{
    ka_store *k = ka;
    iter_ctx it = { k, 0, cb, arg };
    int rc = k->store->vtbl->scan(k->store, JAVM_TABLE_FILES, iter_committed, &it);
    for (; rc == JAVM_OK && it.bi < k->buf.nf; it.bi++)
        rc = cb(arg, k->buf.f[it.bi].id, &k->buf.f[it.bi].h);
    return rc;
}

/* ==== journal and persistence ============================================================== */

static int ka_begin(void *ka, javm_store *store)
{
    ka_store *k = ka;
    if (store != k->store)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    journal_close(k);
    if (k->buf.nq) {
        k->jq = malloc(k->buf.nq * sizeof(qrec));
        if (!k->jq)
            return CAP_ERR(JAVM_ERR_ALLOC);
        memcpy(k->jq, k->buf.q, k->buf.nq * sizeof(qrec));
    }
    k->jnq = k->buf.nq;
    k->jnf = k->buf.nf;
    k->j_has_next = k->buf.has_next;
    k->j_next = k->buf.next;
    k->j_next_base = k->buf.next_base;
    k->journal = true;
    return JAVM_OK;
}

/* The store's verdict on the transaction persist wrote into: published changes leave the
 * buffer (reads now find them committed); on failure the buffer stays for a retry, and an
 * invocation's journal is rolled back by the cache right after. */
static void on_txn_end(void *arg, bool committed)
{
    ka_store *k = arg;
    if (!committed)
        return;
    buf_clear(&k->buf);
    journal_close(k);
}

static int ka_persist(void *ka, javm_store *store)
{
    ka_store *k = ka;
    kbuf *b = &k->buf;
    uint8_t key[8], val[8];
    int rc = JAVM_OK;
    if (store != k->store)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    if (b->nf) {
        /* Saves buffered outside a transaction counted from the committed next_file_id of
         * their time; if another writer has saved since, those ids are taken. */
        uint64_t now;
        rc = committed_next(k, &now);
        if (rc == JAVM_OK && now != b->next_base) {
            store_set_errmsg(store, "kernel assist: next_file_id moved from %llu to %llu "
                                    "under buffered saves",
                             (unsigned long long)b->next_base, (unsigned long long)now);
            rc = CAP_ERR(JAVM_ERR_CONFLICT);
        }
    }
    for (size_t i = 0; rc == JAVM_OK && i < b->nq; i++) {
        be64(key, b->q[i].id);
        cap_put_u64(val, b->q[i].v);
        rc = store->vtbl->put(store, JAVM_TABLE_QUOTAS, key, 8, val, 8);
    }
    for (size_t i = 0; rc == JAVM_OK && i < b->nf; i++) {
        be64(key, b->f[i].id);
        rc = store->vtbl->put(store, JAVM_TABLE_FILES, key, 8, b->f[i].h.b, 32);
    }
    if (rc == JAVM_OK && b->has_next) {
        cap_put_u64(val, b->next);
        rc = store->vtbl->put(store, JAVM_TABLE_META, key_next, sizeof key_next - 1, val, 8);
    }
    if (rc == JAVM_OK) {
        store->txn_end = on_txn_end;
        store->txn_end_arg = k;
    }
    return rc;
}

static void ka_rollback(void *ka)
{
    ka_store *k = ka;
    if (!k->journal)
        return;
    kbuf *b = &k->buf;
    /* The begin-time quotas fit: the array never shrinks. */
    if (k->jnq)
        memcpy(b->q, k->jq, k->jnq * sizeof(qrec));
    b->nq = k->jnq;
    b->nf = k->jnf;
    b->has_next = k->j_has_next;
    b->next = k->j_next;
    b->next_base = k->j_next_base;
    journal_close(k);
}

/* ==== delegated to the in-process kernel assist =========================================== */

#define MEM(ka) (((ka_store *)(ka))->mem)

static uint64_t ka_gas_get(void *ka, uint64_t id)
{
    return MEM(ka)->vtbl->gas_meter_get(MEM(ka), id);
}

static uint64_t ka_gas_set(void *ka, uint64_t id, uint64_t v)
{
    return MEM(ka)->vtbl->gas_meter_set(MEM(ka), id, v);
}

static uint64_t ka_nonce(void *ka)
{
    return MEM(ka)->vtbl->yield_catcher_nonce(MEM(ka));
}

static int ka_catcher_register(void *ka, const javm_hash *c)
{
    return MEM(ka)->vtbl->yield_catcher_register(MEM(ka), c);
}

static int ka_catcher_add(void *ka, const javm_hash *c, const javm_hash *m)
{
    return MEM(ka)->vtbl->yield_catcher_add(MEM(ka), c, m);
}

static int ka_catcher_remove(void *ka, const javm_hash *c, const javm_hash *m)
{
    return MEM(ka)->vtbl->yield_catcher_remove(MEM(ka), c, m);
}

static bool ka_catcher_contains(void *ka, const javm_hash *c, const javm_hash *m)
{
    return MEM(ka)->vtbl->yield_catcher_contains(MEM(ka), c, m);
}

static void ka_destroy(void *ka)
{
    ka_store *k = ka;
    if (k->store->txn_end_arg == k) {
        k->store->txn_end = NULL;
        k->store->txn_end_arg = NULL;
    }
    javm_ka_free(k->mem);
    journal_close(k);
    free(k->buf.q);
    free(k->buf.f);
    free(k);
}

static const javm_ka_vtbl ka_store_vtbl = {
    .gas_meter_get = ka_gas_get,
    .gas_meter_set = ka_gas_set,
    .storage_quota_get = ka_quota_get,
    .storage_quota_read = ka_quota_read,
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

int javm_ka_store_new(javm_store *store, javm_ka **out)
{
    if (!store || !out)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    ka_store *k = calloc(1, sizeof *k);
    if (!k)
        return CAP_ERR(JAVM_ERR_ALLOC);
    k->base.vtbl = &ka_store_vtbl;
    k->store = store;
    int rc = javm_ka_mem_new(&k->mem);
    /* One spare quota record, so that the first set cannot fail (see q_set). */
    if (rc == JAVM_OK)
        rc = grow((void **)&k->buf.q, &k->buf.capq, 1, sizeof(qrec));
    if (rc) {
        javm_ka_free(k->mem);
        free(k->buf.q);
        free(k);
        return rc;
    }
    *out = &k->base;
    return JAVM_OK;
}

uint64_t javm_ka_store_next_file_id(javm_ka *ka)
{
    if (!ka || ka->vtbl != &ka_store_vtbl)
        return 0;
    ka_store *k = (ka_store *)ka;
    uint64_t next;
    if (k->buf.has_next)
        return k->buf.next;
    return committed_next(k, &next) == JAVM_OK ? next : 0;
}
