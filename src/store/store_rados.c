/* SPDX-License-Identifier: MIT
 * store/store_rados.c — the store on Ceph RADOS (docs/scale-out.md): blobs are immutable
 * objects written before the commit, every name has a head object whose version decides its
 * commits with one compare-and-swap, and no key is shared by every commit (no refcounts, no
 * global generation, file ids from blocks leased per head), so commits of different names
 * never conflict. The cache sees a JAVM_STORE_SHARED store. Built with librados when CMake
 * finds it (JAVM_HAVE_RADOS); otherwise javm_store_rados_open says so. Persistence layer. */
#include "javm.h"

#include <stdio.h>

#ifndef JAVM_HAVE_RADOS

JAVM_API int javm_store_rados_open(const char *url, const javm_rados_opts *opts, javm_store **out,
                                   char *msg, size_t msglen)
{
    (void)url;
    (void)opts;
    if (out)
        *out = NULL;
    if (msg && msglen)
        snprintf(msg, msglen, "this build of libjavm has no RADOS store (built without librados)");
    return JAVM_ERR_STORE_UNSUPPORTED;
}

JAVM_API int javm_store_rados_home(javm_store *st, const uint8_t *name, size_t len)
{
    (void)st;
    (void)name;
    (void)len;
    return JAVM_ERR_INVALID_ARG; /* no store here is a RADOS store */
}

#else

#include <errno.h>
#include <inttypes.h>
#include <rados/librados.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store/store.h"
#include "util/grow.h"

#define CHUNK ((size_t)4 << 20)     /* a blob object holds at most this; the rest in chunks */
#define BLOCK_IDS 65536ull          /* file ids per leased block */
#define OMAP_PAGE 512               /* omap values fetched per read while listing */
#define META_OID "javm.meta"
#define ARENA_RECYCLE ((size_t)64 << 20)

/* A head read or written by the open transaction (scale-out.md §1). */
typedef struct rhead {
    uint8_t len;        /* 0: the default head "h." */
    uint8_t name[255];
    bool known;         /* read from the cluster in this transaction */
    bool exists;
    uint64_t v0;        /* version when read */
    bool present;       /* i names an instance */
    uint8_t i[32];
    uint64_t nf;        /* the head's next file id (its omap nf), 0 when it has none */
    uint64_t nf_new;    /* nf as this transaction leaves it, or 0 */
} rhead;

/* A write of the open transaction, applied by the commit's head op. */
typedef struct pend {
    javm_table t;
    size_t head;        /* index in heads (NAMES, QUOTAS, FILES) */
    bool tomb;
    size_t klen, vlen;
    uint8_t key[255];
    uint8_t val[32];
} pend;

/* A leased block of file ids and its head (blocks never change hands: safe to remember). */
typedef struct lease {
    uint64_t block;
    uint8_t len;
    uint8_t name[255];
} lease;

typedef struct copy {
    struct copy *next;
    uint8_t bytes[];
} copy;

typedef struct store_rados {
    javm_store base; /* first: the javm_store header */
    rados_t cluster;
    rados_ioctx_t io;
    bool connected, has_io, read_only, in_txn; /* connected: a cluster handle exists */
    rhead *heads;
    size_t nh, caph;
    long home;       /* the transaction's home head, or -1 before its first use */
    pend *pend;
    size_t np, capp;
    lease *leases;
    size_t nl, capl;
    bool meta_pending; /* format and hash_profile to create */
    uint8_t meta_format[4];
    uint8_t meta_profile[64];
    size_t meta_profile_len;
    copy *copies;    /* get's results, freed at the next put/del/begin/commit/abort/close */
    size_t copied;
    uint8_t dflt_len; /* javm_store_rados_home: the head used when nothing else chooses one */
    uint8_t dflt[255];
    uint8_t tag[8];  /* this handle's commits: tag ‖ sequence in the head's c */
    uint64_t seq;
} store_rados;

/* ==== errors =============================================================================== */

static int map_errno(int e)
{
    switch (e) {
    case ENOENT: return JAVM_ERR_NOT_FOUND;
    case ETIMEDOUT: return JAVM_ERR_STORE_TIMEOUT;
    case ENOSPC:
    case EDQUOT: return JAVM_ERR_STORE_FULL;
    case EPERM:
    case EACCES:
    case EROFS: return JAVM_ERR_STORE_READONLY;
    case ENOMEM: return JAVM_ERR_ALLOC;
    case ECANCELED:
    case EEXIST: return JAVM_ERR_CONFLICT;
    default: return JAVM_ERR_STORE;
    }
}

/* A librados failure (negative errno): the status and "rados OP OBJECT: reason". */
static int rfail(store_rados *s, int rrc, const char *op, const char *oid)
{
    store_set_errmsg(&s->base, "rados %s %s: %s", op, oid, strerror(-rrc));
    return map_errno(-rrc);
}

/* ==== names of objects and keys ============================================================ */

static void hex(char *out, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int unhex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Lower-case hex of exactly n bytes; false on anything else. */
static bool unhex(const char *in, size_t inlen, uint8_t *out, size_t n)
{
    if (inlen != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = unhex_digit(in[2 * i]), lo = unhex_digit(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static void u64hex(char out[17], uint64_t v)
{
    snprintf(out, 17, "%016" PRIx64, v);
}

static bool parse_u64hex(const char *p, size_t n, uint64_t *v)
{
    uint8_t b[8];
    if (!unhex(p, n, b, 8))
        return false;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v = *v << 8 | b[i];
    return true;
}

/* "h.<hex name>" (the default head is "h."). */
static void head_oid(char out[520], const uint8_t *name, size_t len)
{
    memcpy(out, "h.", 2);
    hex(out + 2, name, len);
}

static void blob_oid(char out[80], const uint8_t *h)
{
    memcpy(out, "b.", 2);
    hex(out + 2, h, 32);
}

static void chunk_oid(char out[120], const uint8_t *h, uint64_t nonce, uint64_t k)
{
    char hh[65];
    hex(hh, h, 32);
    snprintf(out, 120, "b.%s.%016" PRIx64 ".%" PRIu64, hh, nonce, k);
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* ==== get's results ======================================================================== */

static void copies_free(store_rados *s)
{
    while (s->copies) {
        copy *c = s->copies;
        s->copies = c->next;
        free(c);
    }
    s->copied = 0;
}

/* A buffer of n bytes that lives until the next put/del/begin/commit/abort/close. */
static uint8_t *copy_new(store_rados *s, size_t n)
{
    if (s->copied > ARENA_RECYCLE && !s->in_txn)
        copies_free(s);
    copy *c = malloc(sizeof *c + (n ? n : 1));
    if (!c)
        return NULL;
    c->next = s->copies;
    s->copies = c;
    s->copied += n;
    return c->bytes;
}

static int give(store_rados *s, const uint8_t *p, size_t n, const uint8_t **val, size_t *vlen)
{
    uint8_t *b = copy_new(s, n);
    if (!b)
        return JAVM_ERR_ALLOC;
    memcpy(b, p, n);
    *val = b;
    *vlen = n;
    return JAVM_OK;
}

/* ==== omap reads =========================================================================== */

/* Reads the values of nkeys omap keys of one object; a key that is absent leaves found[k]
 * false. JAVM_ERR_NOT_FOUND when the object does not exist. vals[k] holds up to cap bytes. */
static int omap_get(store_rados *s, const char *oid, const char *const *keys, size_t nkeys,
                    uint8_t (*vals)[64], size_t *lens, bool *found)
{
    rados_read_op_t op = rados_create_read_op();
    rados_omap_iter_t it = NULL;
    int prval = 0;
    if (!op)
        return JAVM_ERR_ALLOC;
    rados_read_op_omap_get_vals_by_keys(op, keys, nkeys, &it, &prval);
    int rrc = rados_read_op_operate(op, s->io, oid, 0);
    for (size_t k = 0; k < nkeys; k++)
        found[k] = false;
    int rc = JAVM_OK;
    if (rrc == -ENOENT)
        rc = JAVM_ERR_NOT_FOUND;
    else if (rrc < 0 || prval < 0)
        rc = rfail(s, rrc < 0 ? rrc : prval, "omap read", oid);
    else {
        char *key, *val;
        size_t klen, vlen;
        while (rados_omap_get_next2(it, &key, &val, &klen, &vlen) == 0 && key) {
            for (size_t k = 0; k < nkeys; k++)
                if (strlen(keys[k]) == klen && memcmp(keys[k], key, klen) == 0) {
                    if (vlen > 64) {
                        store_set_errmsg(&s->base, "rados %s: omap key %s has %zu bytes", oid,
                                         keys[k], vlen);
                        rc = JAVM_ERR_STORE_CORRUPT;
                        break;
                    }
                    if (vlen) /* an empty value may come as NULL */
                        memcpy(vals[k], val, vlen);
                    lens[k] = vlen;
                    found[k] = true;
                }
        }
    }
    if (it)
        rados_omap_get_end(it);
    rados_release_read_op(op);
    return rc;
}

typedef int (*omap_fn)(store_rados *s, void *arg, const char *key, size_t klen, const char *val,
                       size_t vlen);

/* Visits the omap keys of oid that start with prefix, in key order, in pages. An absent
 * object has none. */
static int omap_list(store_rados *s, const char *oid, const char *prefix, omap_fn fn, void *arg)
{
    char after[600] = "";
    for (;;) {
        rados_read_op_t op = rados_create_read_op();
        rados_omap_iter_t it = NULL;
        unsigned char more = 0;
        int prval = 0;
        if (!op)
            return JAVM_ERR_ALLOC;
        rados_read_op_omap_get_vals2(op, after, prefix, OMAP_PAGE, &it, &more, &prval);
        int rrc = rados_read_op_operate(op, s->io, oid, 0);
        int rc = JAVM_OK;
        size_t n = 0;
        if (rrc == -ENOENT)
            more = 0;
        else if (rrc < 0 || prval < 0)
            rc = rfail(s, rrc < 0 ? rrc : prval, "omap list", oid);
        else {
            char *key, *val;
            size_t klen, vlen;
            while (rc == JAVM_OK && rados_omap_get_next2(it, &key, &val, &klen, &vlen) == 0 && key) {
                n++;
                if (klen >= sizeof after) {
                    store_set_errmsg(&s->base, "rados %s: an omap key of %zu bytes", oid, klen);
                    rc = JAVM_ERR_STORE_CORRUPT;
                    break;
                }
                memcpy(after, key, klen);
                after[klen] = 0;
                rc = fn(s, arg, key, klen, val, vlen);
            }
        }
        if (it)
            rados_omap_get_end(it);
        rados_release_read_op(op);
        if (rc || !more || n == 0)
            return rc;
    }
}

/* ==== heads ================================================================================ */

static const uint8_t default_name[1] = { 0 };

static int head_find(store_rados *s, const uint8_t *name, size_t len, size_t *idx)
{
    for (size_t k = 0; k < s->nh; k++)
        if (s->heads[k].len == len && memcmp(s->heads[k].name, name, len) == 0) {
            *idx = k;
            return JAVM_OK;
        }
    if (util_grow((void **)&s->heads, &s->caph, s->nh + 1, sizeof *s->heads, 4))
        return JAVM_ERR_ALLOC;
    rhead *h = &s->heads[s->nh];
    memset(h, 0, sizeof *h);
    h->len = (uint8_t)len;
    memcpy(h->name, name, len);
    *idx = s->nh++;
    return JAVM_OK;
}

/* Reads a head's version and instance (absent: exists = false, version 0). */
static int head_read(store_rados *s, const uint8_t *name, size_t len, rhead *h)
{
    static const char *const keys[3] = { "v", "i", "nf" };
    uint8_t vals[3][64];
    size_t lens[3] = { 0, 0, 0 };
    bool found[3];
    char oid[520];
    head_oid(oid, name, len);
    int rc = omap_get(s, oid, keys, 3, vals, lens, found);
    h->exists = rc == JAVM_OK;
    h->v0 = 0;
    h->nf = h->nf_new = 0;
    h->present = false;
    if (rc == JAVM_ERR_NOT_FOUND)
        return JAVM_OK;
    if (rc)
        return rc;
    if (!found[0] || !parse_u64hex((const char *)vals[0], lens[0], &h->v0) ||
        (found[1] && lens[1] != 0 && lens[1] != 32) ||
        (found[2] && (!parse_u64hex((const char *)vals[2], lens[2], &h->nf) || h->nf == 0))) {
        store_set_errmsg(&s->base, "rados %s: not a head (v or i malformed)", oid);
        return JAVM_ERR_STORE_CORRUPT;
    }
    h->present = found[1] && lens[1] == 32;
    if (h->present)
        memcpy(h->i, vals[1], 32);
    return JAVM_OK;
}

/* The transaction's head of name (read once per transaction). */
static int txn_head(store_rados *s, const uint8_t *name, size_t len, size_t *idx)
{
    int rc = head_find(s, name, len, idx);
    if (rc)
        return rc;
    rhead *h = &s->heads[*idx];
    if (!h->known) {
        if ((rc = head_read(s, name, len, h)))
            return rc;
        h->known = true;
    }
    if (s->home < 0)
        s->home = (long)*idx;
    return JAVM_OK;
}

/* The transaction's home head: the first name it used, else the one javm_store_rados_home
 * chose, else the default head. */
static int txn_home(store_rados *s, size_t *idx)
{
    if (s->home >= 0) {
        *idx = (size_t)s->home;
        return JAVM_OK;
    }
    return txn_head(s, s->dflt_len ? s->dflt : default_name, s->dflt_len, idx);
}

/* ==== the transaction's writes ============================================================= */

static pend *pend_find(store_rados *s, javm_table t, const uint8_t *key, size_t klen)
{
    for (size_t k = 0; k < s->np; k++)
        if (s->pend[k].t == t && s->pend[k].klen == klen && memcmp(s->pend[k].key, key, klen) == 0)
            return &s->pend[k];
    return NULL;
}

static int pend_set(store_rados *s, javm_table t, size_t head, const uint8_t *key, size_t klen,
                    const uint8_t *val, size_t vlen, bool tomb)
{
    pend *p = pend_find(s, t, key, klen);
    if (!p) {
        if (util_grow((void **)&s->pend, &s->capp, s->np + 1, sizeof *s->pend, 8))
            return JAVM_ERR_ALLOC;
        p = &s->pend[s->np++];
        p->t = t;
        p->klen = klen;
        memcpy(p->key, key, klen);
    }
    p->head = head;
    p->tomb = tomb;
    p->vlen = tomb ? 0 : vlen;
    if (!tomb)
        memcpy(p->val, val, vlen);
    return JAVM_OK;
}

static void txn_clear(store_rados *s)
{
    s->in_txn = false;
    s->nh = 0;
    s->np = 0;
    s->home = -1;
    s->meta_pending = false;
}

/* ==== file-id leases ======================================================================= */

/* The meta object's nfb (next free block); 0 when unset. */
static int meta_nfb(store_rados *s, uint64_t *nfb, bool *found)
{
    static const char *const keys[1] = { "nfb" };
    uint8_t v[1][64];
    size_t len[1] = { 0 };
    int rc = omap_get(s, META_OID, keys, 1, v, len, found);
    *nfb = 0;
    if (rc == JAVM_OK && found[0] && !parse_u64hex((const char *)v[0], len[0], nfb)) {
        store_set_errmsg(&s->base, "rados %s: nfb malformed", META_OID);
        rc = JAVM_ERR_STORE_CORRUPT;
    }
    return rc;
}

static int lease_remember(store_rados *s, uint64_t block, const uint8_t *name, size_t len)
{
    if (util_grow((void **)&s->leases, &s->capl, s->nl + 1, sizeof *s->leases, 4))
        return JAVM_ERR_ALLOC;
    lease *l = &s->leases[s->nl++];
    l->block = block;
    l->len = (uint8_t)len;
    memcpy(l->name, name, len);
    return JAVM_OK;
}

/* The first id past the block that id is in. */
static uint64_t block_end(uint64_t id)
{
    return ((id - 1) / BLOCK_IDS + 1) * BLOCK_IDS + 1;
}

/* Leases a new block of file ids to the head: one compare-and-swap on the meta object's nfb
 * that also records the block's head. A head's next id (its nf) is written by its commits, so
 * ids within a block are dense, and two commits handing out the same id conflict on the
 * head's version. A block leased by a commit that then fails stays unused. */
static int lease_block(store_rados *s, const rhead *h, uint64_t *first)
{
    for (int tries = 0; tries < 64; tries++) {
        uint64_t x;
        bool found;
        int rc = meta_nfb(s, &x, &found);
        if (rc == JAVM_ERR_NOT_FOUND) {
            store_set_errmsg(&s->base, "rados %s: missing (the store was never created)", META_OID);
            return JAVM_ERR_STORE_CORRUPT;
        }
        if (rc)
            return rc;
        if (x >= UINT64_MAX / BLOCK_IDS - 1) {
            store_set_errmsg(&s->base, "rados: file ids exhausted");
            return JAVM_ERR_LIMIT;
        }
        char cur[17], nxt[17], key[20];
        u64hex(cur, x);
        u64hex(nxt, x + 1);
        snprintf(key, sizeof key, "fb.%s", cur);
        const char *keys[2] = { "nfb", key };
        const char *vals[2] = { nxt, (const char *)h->name };
        size_t lens[2] = { 16, h->len };
        rados_write_op_t op = rados_create_write_op();
        int prval = 0;
        if (!op)
            return JAVM_ERR_ALLOC;
        rados_write_op_assert_exists(op);
        if (found)
            rados_write_op_omap_cmp(op, "nfb", LIBRADOS_CMPXATTR_OP_EQ, cur, 16, &prval);
        rados_write_op_omap_set(op, keys, vals, lens, 2);
        int rrc = rados_write_op_operate(op, s->io, META_OID, NULL, 0);
        rados_release_write_op(op);
        if (rrc == -ECANCELED)
            continue; /* another process leased x first */
        if (rrc < 0)
            return rfail(s, rrc, "lease file ids", META_OID);
        *first = x * BLOCK_IDS + 1;
        return lease_remember(s, x, h->name, h->len);
    }
    store_set_errmsg(&s->base, "rados %s: file-id lease kept losing to other processes", META_OID);
    return JAVM_ERR_CONFLICT;
}

/* The transaction's next file id for head h, leasing a block when h has none left. */
static int next_file_id(store_rados *s, rhead *h, uint64_t *next)
{
    uint64_t n = h->nf_new ? h->nf_new : h->nf;
    if (n == 0 || n == block_end(n)) {
        int rc = lease_block(s, h, &n);
        if (rc)
            return rc;
        h->nf_new = n;
    }
    *next = n;
    return JAVM_OK;
}

/* The head a file id's block was leased to (blocks never change hands). */
static int block_head(store_rados *s, uint64_t id, uint8_t *name, size_t *len)
{
    for (size_t k = 0; k < s->nl; k++) {
        lease *l = &s->leases[k];
        if (l->block == (id - 1) / BLOCK_IDS) {
            memcpy(name, l->name, l->len);
            *len = l->len;
            return JAVM_OK;
        }
    }
    char b[17], key[20];
    u64hex(b, (id - 1) / BLOCK_IDS);
    snprintf(key, sizeof key, "fb.%s", b);
    const char *keys[1] = { key };
    /* Names are up to 255 bytes but omap_get keeps 64: read the block's record directly. */
    rados_read_op_t op = rados_create_read_op();
    rados_omap_iter_t it = NULL;
    int prval = 0;
    if (!op)
        return JAVM_ERR_ALLOC;
    rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
    int rrc = rados_read_op_operate(op, s->io, META_OID, 0);
    int rc = JAVM_ERR_NOT_FOUND;
    if (rrc < 0 && rrc != -ENOENT)
        rc = rfail(s, rrc, "omap read", META_OID);
    else if (rrc == 0 && prval < 0)
        rc = rfail(s, prval, "omap read", META_OID);
    else if (rrc == 0) {
        char *k, *val;
        size_t klen, vlen;
        if (rados_omap_get_next2(it, &k, &val, &klen, &vlen) == 0 && k) {
            if (vlen > 255) {
                store_set_errmsg(&s->base, "rados %s: %s names no head", META_OID, key);
                rc = JAVM_ERR_STORE_CORRUPT;
            } else {
                if (vlen)
                    memcpy(name, val, vlen); /* the default head's name is empty */
                *len = vlen;
                rc = lease_remember(s, (id - 1) / BLOCK_IDS, name, vlen);
            }
        }
    }
    if (it)
        rados_omap_get_end(it);
    rados_release_read_op(op);
    return rc;
}

/* ==== blobs ================================================================================ */

static int blob_put(store_rados *s, const uint8_t *h, const uint8_t *rec, size_t n)
{
    char oid[80];
    blob_oid(oid, h);
    uint64_t nonce = 0;
    int rrc;
    if (n > CHUNK) {
        /* Chunks first, under a nonce of this writer: b.<h> exists only once they all do. */
        if (getrandom(&nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce) {
            store_set_errmsg(&s->base, "getrandom: %s", strerror(errno));
            return JAVM_ERR_STORE;
        }
        for (uint64_t k = 1; k * CHUNK < n; k++) {
            char coid[120];
            chunk_oid(coid, h, nonce, k);
            size_t len = n - k * CHUNK < CHUNK ? n - k * CHUNK : CHUNK;
            if ((rrc = rados_write_full(s->io, coid, (const char *)rec + k * CHUNK, len)) < 0)
                return rfail(s, rrc, "write", coid);
        }
    }
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return JAVM_ERR_ALLOC;
    char nhex[17], khex[17];
    rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
    rados_write_op_write_full(op, (const char *)rec, n > CHUNK ? CHUNK : n);
    if (n > CHUNK) {
        u64hex(nhex, n);
        u64hex(khex, nonce);
        rados_write_op_setxattr(op, "javm.n", nhex, 16);
        rados_write_op_setxattr(op, "javm.k", khex, 16);
    }
    rrc = rados_write_op_operate(op, s->io, oid, NULL, 0);
    rados_release_write_op(op);
    if (rrc == -EEXIST)
        return JAVM_OK; /* content addressed: the same bytes are there (chunks of ours: gc's) */
    return rrc < 0 ? rfail(s, rrc, "write", oid) : JAVM_OK;
}

/* A u64 xattr in 16 hex digits; JAVM_ERR_NOT_FOUND when the object has no such xattr. */
static int xattr_u64(store_rados *s, const char *oid, const char *name, uint64_t *v)
{
    char b[32];
    int r = rados_getxattr(s->io, oid, name, b, sizeof b);
    if (r == -ENODATA)
        return JAVM_ERR_NOT_FOUND;
    if (r < 0)
        return rfail(s, r, "getxattr", oid);
    if (!parse_u64hex(b, (size_t)r, v)) {
        store_set_errmsg(&s->base, "rados %s: xattr %s malformed", oid, name);
        return JAVM_ERR_STORE_CORRUPT;
    }
    return JAVM_OK;
}

static int blob_get(store_rados *s, const uint8_t *h, const uint8_t **val, size_t *vlen)
{
    char oid[80];
    blob_oid(oid, h);
    uint64_t size = 0;
    time_t mtime;
    int rrc = rados_stat(s->io, oid, &size, &mtime);
    if (rrc == -ENOENT)
        return JAVM_ERR_NOT_FOUND;
    if (rrc < 0)
        return rfail(s, rrc, "stat", oid);
    uint64_t total = size, nonce = 0;
    int rc;
    if (size == CHUNK) {
        rc = xattr_u64(s, oid, "javm.n", &total);
        if (rc == JAVM_ERR_NOT_FOUND)
            total = size, rc = JAVM_OK; /* exactly one chunk's worth, not chunked */
        else if (rc == JAVM_OK && (rc = xattr_u64(s, oid, "javm.k", &nonce)) == JAVM_ERR_NOT_FOUND) {
            store_set_errmsg(&s->base, "rados %s: javm.n without javm.k", oid);
            rc = JAVM_ERR_STORE_CORRUPT;
        }
        if (rc)
            return rc;
        if (total < CHUNK || total > SIZE_MAX / 2) {
            store_set_errmsg(&s->base, "rados %s: javm.n = %" PRIu64, oid, total);
            return JAVM_ERR_STORE_CORRUPT;
        }
    } else if (size > CHUNK) {
        store_set_errmsg(&s->base, "rados %s: %" PRIu64 " bytes, more than a chunk", oid, size);
        return JAVM_ERR_STORE_CORRUPT;
    }
    uint8_t *b = copy_new(s, (size_t)total);
    if (!b)
        return JAVM_ERR_ALLOC;
    for (uint64_t off = 0, k = 0; off < total; off += CHUNK, k++) {
        char coid[120];
        size_t len = total - off < CHUNK ? (size_t)(total - off) : CHUNK;
        if (k)
            chunk_oid(coid, h, nonce, k);
        else
            snprintf(coid, sizeof coid, "%s", oid);
        rrc = rados_read(s->io, coid, (char *)b + off, len, 0);
        if (rrc == -ENOENT || (rrc >= 0 && (size_t)rrc != len)) {
            store_set_errmsg(&s->base, "rados %s: %s of blob %s", coid,
                             rrc == -ENOENT ? "missing chunk" : "short chunk", oid + 2);
            return JAVM_ERR_STORE_CORRUPT;
        }
        if (rrc < 0)
            return rfail(s, rrc, "read", coid);
    }
    *val = b;
    *vlen = (size_t)total;
    return JAVM_OK;
}

/* ==== the vtbl ============================================================================= */

static int check_key(store_rados *s, javm_table t, size_t klen)
{
    size_t want = t == JAVM_TABLE_BLOBS || t == JAVM_TABLE_REFCOUNTS ? 32
                  : t == JAVM_TABLE_FILES || t == JAVM_TABLE_QUOTAS  ? 8
                                                                      : 0;
    if ((want && klen != want) || klen == 0 || klen > 255 || (unsigned)t >= JAVM_TABLE_COUNT) {
        store_set_errmsg(&s->base, "rados: a %zu-byte key in table %s", klen, store_table_name(t));
        return JAVM_ERR_INVALID_ARG;
    }
    return JAVM_OK;
}

static bool is_key(const uint8_t *key, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

/* One omap value of a head outside any transaction's buffer: q.<id> or f.<id>. */
static int head_value(store_rados *s, const uint8_t *name, size_t len, char pfx, uint64_t id,
                      size_t want, const uint8_t **val, size_t *vlen)
{
    char oid[520], key[24], idh[17];
    head_oid(oid, name, len);
    u64hex(idh, id);
    snprintf(key, sizeof key, "%c.%s", pfx, idh);
    const char *keys[1] = { key };
    uint8_t v[1][64];
    size_t vl[1] = { 0 };
    bool found[1];
    int rc = omap_get(s, oid, keys, 1, v, vl, found);
    if (rc)
        return rc;
    if (!found[0])
        return JAVM_ERR_NOT_FOUND;
    if (vl[0] != want) {
        store_set_errmsg(&s->base, "rados %s: %s has %zu bytes", oid, key, vl[0]);
        return JAVM_ERR_STORE_CORRUPT;
    }
    return give(s, v[0], want, val, vlen);
}

static int r_get(javm_store *st, javm_table t, const uint8_t *key, size_t klen,
                 const uint8_t **val, size_t *vlen)
{
    store_rados *s = (store_rados *)st;
    int rc = check_key(s, t, klen);
    if (rc)
        return rc;
    pend *p = s->in_txn ? pend_find(s, t, key, klen) : NULL;
    if (p)
        return p->tomb ? JAVM_ERR_NOT_FOUND : give(s, p->val, p->vlen, val, vlen);
    switch (t) {
    case JAVM_TABLE_BLOBS:
        return blob_get(s, key, val, vlen);
    case JAVM_TABLE_REFCOUNTS:
        return JAVM_ERR_NOT_FOUND; /* none stored (JAVM_STORE_SHARED) */
    case JAVM_TABLE_NAMES: {
        rhead one, *h = &one;
        size_t idx;
        if (s->in_txn) {
            if ((rc = txn_head(s, key, klen, &idx)))
                return rc;
            h = &s->heads[idx];
        } else if ((rc = head_read(s, key, klen, &one))) {
            return rc;
        }
        return h->present ? give(s, h->i, 32, val, vlen) : JAVM_ERR_NOT_FOUND;
    }
    case JAVM_TABLE_QUOTAS: {
        size_t idx;
        if (!s->in_txn)
            return head_value(s, s->dflt, s->dflt_len, 'q', be64_get(key), 8, val, vlen);
        if ((rc = txn_home(s, &idx)))
            return rc;
        return head_value(s, s->heads[idx].name, s->heads[idx].len, 'q', be64_get(key), 8, val,
                          vlen);
    }
    case JAVM_TABLE_FILES: {
        uint8_t name[255];
        size_t len;
        uint64_t id = be64_get(key);
        if (id == 0)
            return JAVM_ERR_NOT_FOUND;
        if ((rc = block_head(s, id, name, &len)))
            return rc;
        return head_value(s, name, len, 'f', id, 32, val, vlen);
    }
    case JAVM_TABLE_META: {
        if (is_key(key, klen, "next_file_id")) {
            /* The home head's next id (a new block is leased inside a transaction only). */
            uint64_t next = 0;
            size_t idx;
            rhead one;
            if (s->in_txn) {
                if ((rc = txn_home(s, &idx)) || (rc = next_file_id(s, &s->heads[idx], &next)))
                    return rc;
            } else {
                if ((rc = head_read(s, s->dflt, s->dflt_len, &one)))
                    return rc;
                if (one.nf == 0)
                    return JAVM_ERR_NOT_FOUND;
                next = one.nf;
            }
            uint8_t b[8];
            for (int i = 0; i < 8; i++)
                b[i] = (uint8_t)(next >> (8 * i)); /* u64 LE, as the kernel assist reads it */
            return give(s, b, 8, val, vlen);
        }
        if (!is_key(key, klen, "format") && !is_key(key, klen, "hash_profile"))
            return JAVM_ERR_NOT_FOUND;
        char k[16];
        memcpy(k, key, klen);
        k[klen] = 0;
        const char *keys[1] = { k };
        uint8_t v[1][64];
        size_t vl[1] = { 0 };
        bool found[1];
        if ((rc = omap_get(s, META_OID, keys, 1, v, vl, found)))
            return rc;
        return found[0] ? give(s, v[0], vl[0], val, vlen) : JAVM_ERR_NOT_FOUND;
    }
    default:
        return JAVM_ERR_INVALID_ARG;
    }
}

static int r_begin(javm_store *st)
{
    store_rados *s = (store_rados *)st;
    if (s->in_txn)
        return JAVM_ERR_BUSY;
    if (s->read_only) {
        store_set_errmsg(st, "rados: the store was opened read-only");
        return JAVM_ERR_STORE_READONLY;
    }
    copies_free(s);
    txn_clear(s);
    s->in_txn = true;
    return JAVM_OK;
}

static int r_write(javm_store *st, javm_table t, const uint8_t *key, size_t klen,
                   const uint8_t *val, size_t vlen, bool tomb)
{
    store_rados *s = (store_rados *)st;
    if (!s->in_txn)
        return JAVM_ERR_INVALID_ARG;
    int rc = check_key(s, t, klen);
    if (rc)
        return rc;
    size_t idx = 0;
    switch (t) {
    case JAVM_TABLE_BLOBS:
        /* Immutable and content addressed: written now, reachable only once a head names it;
         * never deleted but by gc. */
        return tomb ? JAVM_OK : blob_put(s, key, val, vlen);
    case JAVM_TABLE_REFCOUNTS:
        return JAVM_OK; /* not stored (JAVM_STORE_SHARED) */
    case JAVM_TABLE_NAMES:
        if (!tomb && vlen != 32)
            return JAVM_ERR_INVALID_ARG;
        if ((rc = txn_head(s, key, klen, &idx)))
            return rc;
        return pend_set(s, t, idx, key, klen, val, vlen, tomb);
    case JAVM_TABLE_QUOTAS:
        if (!tomb && vlen != 8)
            return JAVM_ERR_INVALID_ARG;
        if ((rc = txn_home(s, &idx)))
            return rc;
        return pend_set(s, t, idx, key, klen, val, vlen, tomb);
    case JAVM_TABLE_FILES: {
        uint64_t id = be64_get(key);
        uint8_t name[255];
        size_t len;
        if (!tomb && vlen != 32)
            return JAVM_ERR_INVALID_ARG;
        /* The record goes to the head its id's block was leased to. */
        if ((rc = block_head(s, id, name, &len)) == JAVM_ERR_NOT_FOUND) {
            store_set_errmsg(st, "rados: file id %" PRIu64 " is in no leased block", id);
            return JAVM_ERR_INVALID_ARG;
        }
        if (rc || (rc = head_find(s, name, len, &idx)))
            return rc;
        if (!s->heads[idx].known) {
            if ((rc = head_read(s, name, len, &s->heads[idx])))
                return rc;
            s->heads[idx].known = true;
        }
        return pend_set(s, t, idx, key, klen, val, vlen, tomb);
    }
    case JAVM_TABLE_META:
        if (is_key(key, klen, "next_file_id")) {
            if (tomb || vlen != 8)
                return JAVM_ERR_INVALID_ARG;
            uint64_t next = 0;
            for (int i = 7; i >= 0; i--)
                next = next << 8 | val[i];
            uint64_t first;
            if ((rc = txn_home(s, &idx)) || (rc = next_file_id(s, &s->heads[idx], &first)))
                return rc;
            if (next < first || next > block_end(first)) {
                store_set_errmsg(st, "rados: next_file_id %" PRIu64 " outside the block of %" PRIu64
                                     " (at most %llu saves a commit)",
                                 next, first, (unsigned long long)BLOCK_IDS);
                return JAVM_ERR_LIMIT;
            }
            s->heads[idx].nf_new = next;
            return JAVM_OK;
        }
        if (!tomb && is_key(key, klen, "format") && vlen == 4) {
            memcpy(s->meta_format, val, 4);
            s->meta_pending = true;
            return JAVM_OK;
        }
        if (!tomb && is_key(key, klen, "hash_profile") && vlen <= sizeof s->meta_profile) {
            memcpy(s->meta_profile, val, vlen);
            s->meta_profile_len = vlen;
            return JAVM_OK;
        }
        store_set_errmsg(st, "rados: meta key %.*s is not kept by this store", (int)klen, key);
        return JAVM_ERR_INVALID_ARG;
    default:
        return JAVM_ERR_INVALID_ARG;
    }
}

static int r_put(javm_store *st, javm_table t, const uint8_t *key, size_t klen,
                 const uint8_t *val, size_t vlen)
{
    copies_free((store_rados *)st);
    return r_write(st, t, key, klen, val, vlen, false);
}

static int r_del(javm_store *st, javm_table t, const uint8_t *key, size_t klen)
{
    copies_free((store_rados *)st);
    return r_write(st, t, key, klen, NULL, 0, true);
}

/* The store's meta object, created once with format, hash profile and the first free block;
 * a concurrent creator's identical object is fine, a different one is STORE_FORMAT. */
static int meta_create(store_rados *s)
{
    static const char zero[17] = "0000000000000000";
    const char *keys[3] = { "format", "hash_profile", "nfb" };
    const char *vals[3] = { (const char *)s->meta_format, (const char *)s->meta_profile, zero };
    size_t lens[3] = { 4, s->meta_profile_len, 16 };
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return JAVM_ERR_ALLOC;
    rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
    rados_write_op_omap_set(op, keys, vals, lens, 3);
    int rrc = rados_write_op_operate(op, s->io, META_OID, NULL, 0);
    rados_release_write_op(op);
    if (rrc != -EEXIST)
        return rrc < 0 ? rfail(s, rrc, "create", META_OID) : JAVM_OK;
    const char *rk[2] = { "format", "hash_profile" };
    uint8_t v[2][64];
    size_t vl[2] = { 0, 0 };
    bool found[2];
    int rc = omap_get(s, META_OID, rk, 2, v, vl, found);
    if (rc == JAVM_OK && (!found[0] || vl[0] != 4 || memcmp(v[0], s->meta_format, 4) != 0 ||
                          !found[1] || vl[1] != s->meta_profile_len ||
                          memcmp(v[1], s->meta_profile, vl[1]) != 0)) {
        store_set_errmsg(&s->base, "rados %s: created by another process with another format",
                         META_OID);
        rc = JAVM_ERR_STORE_FORMAT;
    }
    return rc;
}

/* Registers a new name in the meta object, so that listing and gc find its head. */
static int name_register(store_rados *s, const rhead *h)
{
    char key[520];
    memcpy(key, "n.", 2);
    hex(key + 2, h->name, h->len);
    const char *keys[1] = { key };
    const char *vals[1] = { "" };
    size_t lens[1] = { 0 };
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return JAVM_ERR_ALLOC;
    rados_write_op_assert_exists(op);
    rados_write_op_omap_set(op, keys, vals, lens, 1);
    int rrc = rados_write_op_operate(op, s->io, META_OID, NULL, 0);
    rados_release_write_op(op);
    if (rrc == -ENOENT) { /* as lease_block: the name is there, the store is not */
        store_set_errmsg(&s->base, "rados %s: missing (the store was never created)", META_OID);
        return JAVM_ERR_STORE_CORRUPT;
    }
    return rrc < 0 ? rfail(s, rrc, "register name", META_OID) : JAVM_OK;
}

/* The head op: compare the version read, write the new one with every change of this head.
 * Returns the raw librados result (0, or a negative errno). */
static int head_op(store_rados *s, const rhead *h, size_t hidx, const char *oid, bool seal)
{
    enum { MAXK = 3 };
    char vcur[17], vnew[17], ctag[25];
    u64hex(vcur, h->v0);
    u64hex(vnew, h->v0 + 1);
    memcpy(ctag, s->tag, 8);
    for (int i = 0; i < 8; i++)
        ctag[8 + i] = (char)(s->seq >> (8 * i));
    ctag[16] = seal ? 'x' : 'c';
    size_t n = 0, nrm = 0, cap = MAXK + s->np;
    const char **keys = malloc(cap * sizeof *keys), **rm = malloc(cap * sizeof *rm);
    const char **vals = malloc(cap * sizeof *vals);
    size_t *lens = malloc(cap * sizeof *lens), *rmlens = malloc(cap * sizeof *rmlens);
    char (*kb)[24] = malloc(cap * sizeof *kb);
    int rrc = -ENOMEM;
    rados_write_op_t op = NULL;
    if (!keys || !rm || !vals || !lens || !rmlens || !kb || !(op = rados_create_write_op()))
        goto out;
    char nf[17];
    keys[n] = "v", vals[n] = vnew, lens[n++] = 16;
    keys[n] = "c", vals[n] = ctag, lens[n++] = 17;
    if (h->nf_new && !seal) {
        u64hex(nf, h->nf_new);
        keys[n] = "nf", vals[n] = nf, lens[n++] = 16;
    }
    for (size_t k = 0; k < s->np && !seal; k++) {
        const pend *p = &s->pend[k];
        if (p->head != hidx)
            continue;
        const char *key;
        if (p->t == JAVM_TABLE_NAMES) {
            key = "i";
        } else {
            char idh[17];
            u64hex(idh, be64_get(p->key));
            snprintf(kb[k], sizeof kb[k], "%c.%s", p->t == JAVM_TABLE_QUOTAS ? 'q' : 'f', idh);
            key = kb[k];
        }
        if (p->tomb && p->t != JAVM_TABLE_NAMES) {
            rm[nrm] = key;
            rmlens[nrm++] = strlen(key);
        } else {
            keys[n] = key;
            vals[n] = (const char *)p->val;
            lens[n++] = p->vlen; /* a removed name: i = "" */
        }
    }
    int prval = 0;
    if (h->exists) {
        rados_write_op_assert_exists(op);
        rados_write_op_omap_cmp(op, "v", LIBRADOS_CMPXATTR_OP_EQ, vcur, 16, &prval);
    } else {
        rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
    }
    rados_write_op_omap_set(op, keys, vals, lens, n);
    if (nrm)
        rados_write_op_omap_rm_keys2(op, rm, rmlens, nrm);
    rrc = rados_write_op_operate(op, s->io, oid, NULL, 0);
out:
    if (op)
        rados_release_write_op(op);
    free(keys);
    free(rm);
    free(vals);
    free(lens);
    free(rmlens);
    free(kb);
    return rrc;
}

/* After a head op timed out, its outcome is learnt by sealing the version it compared: the
 * seal and the op cannot both apply (scale-out.md §6). */
static int head_seal(store_rados *s, const rhead *h, size_t hidx, const char *oid)
{
    int rrc = head_op(s, h, hidx, oid, true);
    if (rrc == 0) {
        store_set_errmsg(&s->base, "rados %s: commit timed out and was not applied", oid);
        return JAVM_ERR_STORE_TIMEOUT;
    }
    if (rrc == -ECANCELED || rrc == -EEXIST) {
        static const char *const keys[1] = { "c" };
        uint8_t v[1][64];
        size_t vl[1] = { 0 };
        bool found[1];
        int rc = omap_get(s, oid, keys, 1, v, vl, found);
        if (rc == JAVM_OK && found[0] && vl[0] == 17 && memcmp(v[0], s->tag, 8) == 0 &&
            v[0][16] == 'c') {
            uint64_t seq = 0;
            for (int i = 7; i >= 0; i--)
                seq = seq << 8 | v[0][8 + i];
            if (seq == s->seq)
                return JAVM_OK; /* ours applied after all */
        }
        if (rc == JAVM_OK) {
            store_set_errmsg(&s->base, "rados %s: another commit came first", oid);
            return JAVM_ERR_CONFLICT;
        }
    }
    store_set_errmsg(&s->base, "rados %s: commit timed out, outcome unknown (version %" PRIu64
                               ", tag seq %" PRIu64 ")", oid, h->v0, s->seq);
    return JAVM_ERR_STORE_TIMEOUT;
}

static int commit_head(store_rados *s, size_t hidx)
{
    rhead *h = &s->heads[hidx];
    char oid[520];
    head_oid(oid, h->name, h->len);
    int rc;
    if (!h->known) {
        if ((rc = head_read(s, h->name, h->len, h)))
            return rc;
        h->known = true;
    }
    if (!h->exists && (rc = name_register(s, h)))
        return rc;
    s->seq++;
    int rrc = head_op(s, h, hidx, oid, false);
    if (rrc == 0)
        return JAVM_OK;
    if (rrc == -ECANCELED || rrc == -EEXIST || rrc == -ENOENT) {
        store_set_errmsg(&s->base, "rados %s: another commit moved it from version %" PRIu64, oid,
                         h->v0);
        return JAVM_ERR_CONFLICT;
    }
    if (rrc == -ETIMEDOUT)
        return head_seal(s, h, hidx, oid);
    return rfail(s, rrc, "commit", oid);
}

/* Byte order of head names, the shorter first on a common prefix. */
static int head_cmp(const rhead *a, const rhead *b)
{
    int c = memcmp(a->name, b->name, a->len < b->len ? a->len : b->len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int r_commit(javm_store *st)
{
    store_rados *s = (store_rados *)st;
    if (!s->in_txn)
        return JAVM_ERR_INVALID_ARG;
    copies_free(s);
    int rc = JAVM_OK;
    if (s->meta_pending)
        rc = meta_create(s);
    /* One op per head with writes, in the order of their names (scale-out.md §3; the heads
     * array is in the order the transaction first used them); heads only read are not
     * validated (docs/scale-out.md §4). */
    size_t done = 0, last = s->nh;
    while (rc == JAVM_OK) {
        size_t k = s->nh; /* the first name after the last one committed */
        for (size_t j = 0; j < s->nh; j++)
            if ((last == s->nh || head_cmp(&s->heads[j], &s->heads[last]) > 0) &&
                (k == s->nh || head_cmp(&s->heads[j], &s->heads[k]) < 0))
                k = j;
        if (k == s->nh)
            break;
        last = k;
        bool writes = s->heads[k].nf_new != 0 && s->heads[k].nf_new != s->heads[k].nf;
        for (size_t j = 0; j < s->np && !writes; j++)
            writes = s->pend[j].head == k && s->pend[j].t != JAVM_TABLE_META;
        if (!writes)
            continue;
        rc = commit_head(s, k);
        if (rc == JAVM_OK)
            done++;
        else if (done) {
            size_t m = strlen(st->errmsg);
            snprintf(st->errmsg + m, sizeof st->errmsg - m, " (%zu other head%s committed)", done,
                     done == 1 ? " was" : "s were");
        }
    }
    txn_clear(s);
    store_txn_ended(st, rc == JAVM_OK);
    return rc;
}

static void r_abort(javm_store *st)
{
    store_rados *s = (store_rados *)st;
    if (!s->in_txn)
        return;
    copies_free(s);
    txn_clear(s);
    store_txn_ended(st, false);
}

/* ==== scan ================================================================================= */

typedef struct srec {
    uint8_t key[255];
    size_t klen;
    uint8_t *val;
    size_t vlen;
    bool tomb;
} srec;

typedef struct svec {
    srec *r;
    size_t n, cap;
} svec;

static int svec_add(svec *v, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    if (util_grow((void **)&v->r, &v->cap, v->n + 1, sizeof *v->r, 16))
        return JAVM_ERR_ALLOC;
    srec *r = &v->r[v->n];
    r->val = malloc(vlen ? vlen : 1);
    if (!r->val)
        return JAVM_ERR_ALLOC;
    if (klen)
        memcpy(r->key, key, klen);
    r->klen = klen;
    if (vlen)
        memcpy(r->val, val, vlen);
    r->vlen = vlen;
    r->tomb = false;
    v->n++;
    return JAVM_OK;
}

static void svec_free(svec *v)
{
    for (size_t k = 0; k < v->n; k++)
        free(v->r[k].val);
    free(v->r);
}

static int srec_cmp(const void *a, const void *b)
{
    const srec *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

typedef struct scan_ctx {
    svec *v;
    const char *prefix; /* of the omap keys */
    size_t want;        /* value size, or 0 for any */
} scan_ctx;

static int collect_ids(store_rados *s, void *arg, const char *key, size_t klen, const char *val,
                       size_t vlen)
{
    scan_ctx *c = arg;
    uint64_t id;
    uint8_t k[8];
    if (klen != 18 || !parse_u64hex(key + 2, 16, &id) || vlen != c->want) {
        store_set_errmsg(&s->base, "rados: omap key %.*s malformed", (int)klen, key);
        return JAVM_ERR_STORE_CORRUPT;
    }
    be64_put(k, id);
    return svec_add(c->v, k, 8, (const uint8_t *)val, vlen);
}

static int collect_names(store_rados *s, void *arg, const char *key, size_t klen, const char *val,
                         size_t vlen)
{
    (void)val;
    (void)vlen;
    scan_ctx *c = arg;
    uint8_t name[255];
    size_t len = (klen - 2) / 2;
    if (klen < 4 || len > 255 || !unhex(key + 2, klen - 2, name, len)) {
        store_set_errmsg(&s->base, "rados %s: name key %.*s malformed", META_OID, (int)klen, key);
        return JAVM_ERR_STORE_CORRUPT;
    }
    rhead h;
    int rc = head_read(s, name, len, &h);
    return rc || !h.present ? rc : svec_add(c->v, name, len, h.i, 32);
}

/* File records: every block's head, its f.* keys. */
static int collect_blocks(store_rados *s, void *arg, const char *key, size_t klen, const char *val,
                          size_t vlen)
{
    (void)key;
    (void)klen;
    scan_ctx *c = arg;
    if (vlen > 255) {
        store_set_errmsg(&s->base, "rados %s: a block names no head", META_OID);
        return JAVM_ERR_STORE_CORRUPT;
    }
    /* A head with several blocks is listed once. */
    for (size_t k = 0; k < c->v->n; k++)
        if (c->v->r[k].klen == vlen && memcmp(c->v->r[k].key, val, vlen) == 0)
            return JAVM_OK;
    return svec_add(c->v, (const uint8_t *)val, vlen, NULL, 0);
}

static int scan_blobs(store_rados *s, svec *v)
{
    rados_list_ctx_t lc;
    int rrc = rados_nobjects_list_open(s->io, &lc);
    if (rrc < 0)
        return rfail(s, rrc, "list", "b.*");
    int rc = JAVM_OK;
    const char *entry, *key, *nspace;
    while (rc == JAVM_OK && (rrc = rados_nobjects_list_next(lc, &entry, &key, &nspace)) == 0) {
        uint8_t h[32];
        if (strncmp(entry, "b.", 2) == 0 && unhex(entry + 2, strlen(entry) - 2, h, 32))
            rc = svec_add(v, h, 32, NULL, 0);
    }
    if (rc == JAVM_OK && rrc != -ENOENT)
        rc = rfail(s, rrc, "list", "b.*");
    rados_nobjects_list_close(lc);
    return rc;
}

static int r_scan(javm_store *st, javm_table t, javm_store_scan_fn cb, void *arg)
{
    store_rados *s = (store_rados *)st;
    svec v = { 0 };
    scan_ctx c = { &v, NULL, 0 };
    int rc = JAVM_OK;
    size_t idx;
    switch (t) {
    case JAVM_TABLE_BLOBS:
        rc = scan_blobs(s, &v);
        break;
    case JAVM_TABLE_REFCOUNTS:
        break;
    case JAVM_TABLE_NAMES:
        rc = omap_list(s, META_OID, "n.", collect_names, &c);
        break;
    case JAVM_TABLE_QUOTAS: {
        const rhead *h = NULL;
        char oid[520];
        if (s->in_txn) {
            if ((rc = txn_home(s, &idx)))
                break;
            h = &s->heads[idx];
        }
        head_oid(oid, h ? h->name : s->dflt, h ? h->len : s->dflt_len);
        c.want = 8;
        rc = omap_list(s, oid, "q.", collect_ids, &c);
        break;
    }
    case JAVM_TABLE_FILES: {
        svec heads = { 0 };
        scan_ctx hc = { &heads, NULL, 0 };
        rc = omap_list(s, META_OID, "fb.", collect_blocks, &hc);
        c.want = 32;
        for (size_t k = 0; rc == JAVM_OK && k < heads.n; k++) {
            char oid[520];
            head_oid(oid, heads.r[k].key, heads.r[k].klen);
            rc = omap_list(s, oid, "f.", collect_ids, &c);
        }
        svec_free(&heads);
        break;
    }
    case JAVM_TABLE_META: {
        static const char *const keys[2] = { "format", "hash_profile" };
        uint8_t vals[2][64];
        size_t lens[2] = { 0, 0 };
        bool found[2];
        rc = omap_get(s, META_OID, keys, 2, vals, lens, found);
        if (rc == JAVM_ERR_NOT_FOUND)
            rc = JAVM_OK, found[0] = found[1] = false;
        for (int k = 0; k < 2 && rc == JAVM_OK; k++)
            if (found[k])
                rc = svec_add(&v, (const uint8_t *)keys[k], strlen(keys[k]), vals[k], lens[k]);
        break;
    }
    default:
        rc = JAVM_ERR_INVALID_ARG;
    }
    /* The transaction's own writes over what is committed. */
    for (size_t k = 0; rc == JAVM_OK && s->in_txn && k < s->np; k++) {
        const pend *p = &s->pend[k];
        if (p->t != t)
            continue;
        size_t j = 0;
        while (j < v.n && (v.r[j].klen != p->klen || memcmp(v.r[j].key, p->key, p->klen) != 0))
            j++;
        if (j == v.n && !p->tomb)
            rc = svec_add(&v, p->key, p->klen, p->val, p->vlen);
        else if (j < v.n && p->tomb)
            v.r[j].tomb = true;
        else if (j < v.n) {
            uint8_t *nv = malloc(p->vlen ? p->vlen : 1);
            if (!nv) {
                rc = JAVM_ERR_ALLOC;
                break;
            }
            memcpy(nv, p->val, p->vlen);
            free(v.r[j].val);
            v.r[j].val = nv;
            v.r[j].vlen = p->vlen;
        }
    }
    if (rc == JAVM_OK && v.n)
        qsort(v.r, v.n, sizeof *v.r, srec_cmp);
    for (size_t k = 0; rc == JAVM_OK && k < v.n; k++) {
        if (v.r[k].tomb)
            continue;
        if (t == JAVM_TABLE_BLOBS) {
            const uint8_t *val;
            size_t vlen;
            rc = blob_get(s, v.r[k].key, &val, &vlen);
            if (rc == JAVM_ERR_NOT_FOUND) { /* removed by gc since the listing */
                rc = JAVM_OK;
                continue;
            }
            if (rc == JAVM_OK)
                rc = cb(arg, v.r[k].key, 32, val, vlen);
            if (!s->in_txn)
                copies_free(s);
        } else {
            rc = cb(arg, v.r[k].key, v.r[k].klen, v.r[k].val, v.r[k].vlen);
        }
    }
    svec_free(&v);
    return rc;
}

static void r_close(javm_store *st)
{
    store_rados *s = (store_rados *)st;
    r_abort(st);
    copies_free(s);
    if (s->has_io)
        rados_ioctx_destroy(s->io);
    if (s->connected)
        rados_shutdown(s->cluster);
    free(s->heads);
    free(s->pend);
    free(s->leases);
    free(s);
}

static const javm_store_vtbl rados_vtbl = {
    r_get, r_begin, r_put, r_del, r_commit, r_abort, r_scan, r_close,
};

JAVM_API int javm_store_rados_home(javm_store *st, const uint8_t *name, size_t len)
{
    if (!st || st->vtbl != &rados_vtbl || (len && !name) || len > 255)
        return JAVM_ERR_INVALID_ARG;
    store_rados *s = (store_rados *)st;
    if (s->in_txn)
        return JAVM_ERR_BUSY;
    if (len)
        memcpy(s->dflt, name, len);
    s->dflt_len = (uint8_t)len;
    return JAVM_OK;
}

/* ==== open ================================================================================= */

/* "rados://POOL[/NAMESPACE][?conf=PATH&timeout=S]" into its parts (each NUL-terminated). */
static int parse_url(const char *url, char *pool, char *ns, char *conf, unsigned *timeout)
{
    static const char scheme[] = "rados://";
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0)
        return JAVM_ERR_INVALID_ARG;
    const char *p = url + sizeof scheme - 1;
    size_t n = strcspn(p, "/?");
    if (n == 0 || n > 255)
        return JAVM_ERR_INVALID_ARG;
    memcpy(pool, p, n);
    pool[n] = 0;
    p += n;
    ns[0] = 0;
    if (*p == '/') {
        p++;
        n = strcspn(p, "?");
        if (n > 255 || memchr(p, '/', n))
            return JAVM_ERR_INVALID_ARG;
        memcpy(ns, p, n);
        ns[n] = 0;
        p += n;
    }
    conf[0] = 0;
    if (*p == '?') {
        p++;
        while (*p) {
            n = strcspn(p, "&");
            if (n > 5 && strncmp(p, "conf=", 5) == 0 && n - 5 < 4096) {
                memcpy(conf, p + 5, n - 5);
                conf[n - 5] = 0;
            } else if (n > 8 && strncmp(p, "timeout=", 8) == 0) {
                unsigned v = 0;
                for (size_t k = 8; k < n; k++) {
                    if (p[k] < '0' || p[k] > '9' || v > 100000)
                        return JAVM_ERR_INVALID_ARG;
                    v = v * 10 + (unsigned)(p[k] - '0');
                }
                if (v == 0)
                    return JAVM_ERR_INVALID_ARG;
                *timeout = v;
            } else {
                return JAVM_ERR_INVALID_ARG;
            }
            p += n;
            if (*p == '&')
                p++;
        }
    } else if (*p) {
        return JAVM_ERR_INVALID_ARG;
    }
    return JAVM_OK;
}

JAVM_API int javm_store_rados_open(const char *url, const javm_rados_opts *opts, javm_store **out,
                                   char *msg, size_t msglen)
{
    char pool[256], ns[256], conf[4096];
    unsigned timeout = 0;
    if (msg && msglen)
        msg[0] = 0;
    if (!out)
        return JAVM_ERR_INVALID_ARG;
    *out = NULL;
    if (parse_url(url, pool, ns, conf, &timeout)) {
        if (msg && msglen)
            snprintf(msg, msglen, "not a RADOS store URL (rados://POOL[/NAMESPACE]"
                                  "[?conf=PATH&timeout=S]): %s", url ? url : "(null)");
        return JAVM_ERR_INVALID_ARG;
    }
    if (opts && opts->timeout_s)
        timeout = opts->timeout_s;
    if (!timeout)
        timeout = 30;
    const char *cpath = opts && opts->conf ? opts->conf : conf[0] ? conf : getenv("CEPH_CONF");
    store_rados *s = calloc(1, sizeof *s);
    if (!s)
        return JAVM_ERR_ALLOC;
    s->base.vtbl = &rados_vtbl;
    s->base.flags = JAVM_STORE_SHARED;
    s->home = -1;
    s->read_only = opts && opts->read_only;
    int rrc = rados_create(&s->cluster, NULL);
    if (getrandom(s->tag, sizeof s->tag, 0) != (ssize_t)sizeof s->tag || rrc < 0) {
        if (msg && msglen)
            snprintf(msg, msglen, "rados: cannot create a client: %s",
                     strerror(rrc < 0 ? -rrc : errno));
        if (rrc == 0)
            rados_shutdown(s->cluster);
        free(s);
        return JAVM_ERR_STORE;
    }
    s->connected = true; /* a cluster handle to shut down, connected or not */
    char t[16];
    snprintf(t, sizeof t, "%u", timeout);
    const char *what = "read the configuration";
    if ((rrc = rados_conf_read_file(s->cluster, cpath)) == 0 &&
        (what = "set the timeouts",
         (rrc = rados_conf_set(s->cluster, "rados_osd_op_timeout", t)) == 0) &&
        (rrc = rados_conf_set(s->cluster, "rados_mon_op_timeout", t)) == 0 &&
        (rrc = rados_conf_set(s->cluster, "client_mount_timeout", t)) == 0 &&
        (what = "connect", (rrc = rados_connect(s->cluster)) == 0)) {
        s->connected = true;
        what = "open the pool";
        if ((rrc = rados_ioctx_create(s->cluster, pool, &s->io)) == 0) {
            s->has_io = true;
            rados_ioctx_set_namespace(s->io, ns);
        }
    }
    if (rrc < 0) {
        int rc = map_errno(-rrc);
        if (rc == JAVM_ERR_CONFLICT || (rc == JAVM_ERR_NOT_FOUND && s->has_io == false &&
                                        strcmp(what, "open the pool") != 0))
            rc = JAVM_ERR_STORE; /* only a missing pool is "not found" */
        if (msg && msglen)
            snprintf(msg, msglen, "rados: cannot %s (pool %s%s%s): %s", what, pool,
                     cpath ? ", conf " : "", cpath ? cpath : "", strerror(-rrc));
        r_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return JAVM_OK;
}

#endif
