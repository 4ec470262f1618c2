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

JAVM_API int javm_store_rados_gc_grace(javm_store *st, unsigned seconds)
{
    (void)st;
    (void)seconds;
    return JAVM_ERR_INVALID_ARG;
}

JAVM_API int javm_store_rados_gc_stats(const javm_store *st, javm_rados_gc_stats *out)
{
    (void)st;
    (void)out;
    return JAVM_ERR_INVALID_ARG;
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
#include "util/table.h"

#define CHUNK ((size_t)4 << 20)     /* a blob object holds at most this; the rest in chunks */
#define BLOCK_IDS 65536ull          /* file ids per leased block */
#define OMAP_PAGE 512               /* omap values fetched per read while listing */
#define META_OID "javm.meta"
#define ARENA_RECYCLE ((size_t)64 << 20)
#define TOUCHED_MAX ((size_t)1 << 20) /* stamped blobs remembered, then forgotten at once */
#define GC_GRACE_DEFAULT 600u          /* seconds: an epoch is at least this long */
#define GC_LOCK_S 60                   /* the gc lock's lease, renewed every third of it */

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
    uint8_t elen;       /* e as read: 16 hex digits, or 0 bytes when the head has none */
    char e[16];
    uint64_t ep;        /* e as a number (0 when absent): the gc epoch it was last fenced in */
} rhead;

/* A blob the open transaction wrote or refers to, and the stamp it was given (§2). */
typedef struct tblob {
    uint8_t h[32];
    uint64_t stamp;
} tblob;

/* A blob this handle stamped (in util_table touched, tag = its first 8 bytes). */
typedef struct tslot {
    uint64_t tag;
    uint8_t h[32];
} tslot;

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
    /* gc epochs (§3, §5): the blobs of the open transaction and their stamps, the gce read
     * for it (for blobs put before any head and for new heads), and the blobs this handle
     * stamped with touched_stamp, which need no new touch while that stamp serves. */
    tblob *tb;
    size_t ntb, captb;
    bool gce_known;
    uint64_t gce;
    uint8_t gce_len;
    char gce_raw[16];
    util_table touched;
    uint64_t touched_stamp;
    unsigned gc_grace;           /* seconds between gc epochs (javm_store_rados_gc_grace) */
    javm_rados_gc_stats gcst;    /* the last gc run */
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
    static const char *const keys[4] = { "v", "i", "nf", "e" };
    uint8_t vals[4][64];
    size_t lens[4] = { 0, 0, 0, 0 };
    bool found[4];
    char oid[520];
    head_oid(oid, name, len);
    int rc = omap_get(s, oid, keys, 4, vals, lens, found);
    h->exists = rc == JAVM_OK;
    h->v0 = 0;
    h->nf = h->nf_new = 0;
    h->present = false;
    h->elen = 0;
    h->ep = 0;
    if (rc == JAVM_ERR_NOT_FOUND)
        return JAVM_OK;
    if (rc)
        return rc;
    if (!found[0] || !parse_u64hex((const char *)vals[0], lens[0], &h->v0) ||
        (found[1] && lens[1] != 0 && lens[1] != 32) ||
        (found[2] && (!parse_u64hex((const char *)vals[2], lens[2], &h->nf) || h->nf == 0)) ||
        (found[3] && (lens[3] != 16 || !parse_u64hex((const char *)vals[3], 16, &h->ep)))) {
        store_set_errmsg(&s->base, "rados %s: not a head (v, i, nf or e malformed)", oid);
        return JAVM_ERR_STORE_CORRUPT;
    }
    if (found[3]) {
        h->elen = 16;
        memcpy(h->e, vals[3], 16);
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
    s->ntb = 0;
    s->gce_known = false;
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

static int blob_touch(store_rados *s, const uint8_t *h, uint64_t stamp);

/* Writes blob h (record rec of n bytes) stamped with stamp (§2); "already there" is success
 * once the existing object carries the stamp too. */
static int blob_put(store_rados *s, const uint8_t *h, const uint8_t *rec, size_t n, uint64_t stamp)
{
    char oid[80];
    blob_oid(oid, h);
    uint64_t nonce = 0;
    uint8_t t[8];
    be64_put(t, stamp);
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
            rados_write_op_t cop = rados_create_write_op();
            if (!cop)
                return JAVM_ERR_ALLOC;
            rados_write_op_write_full(cop, (const char *)rec + k * CHUNK, len);
            rados_write_op_setxattr(cop, "javm.t", (const char *)t, 8);
            rrc = rados_write_op_operate(cop, s->io, coid, NULL, 0);
            rados_release_write_op(cop);
            if (rrc < 0)
                return rfail(s, rrc, "write", coid);
        }
    }
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return JAVM_ERR_ALLOC;
    char nhex[17], khex[17];
    rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
    rados_write_op_write_full(op, (const char *)rec, n > CHUNK ? CHUNK : n);
    rados_write_op_setxattr(op, "javm.t", (const char *)t, 8);
    if (n > CHUNK) {
        u64hex(nhex, n);
        u64hex(khex, nonce);
        rados_write_op_setxattr(op, "javm.n", nhex, 16);
        rados_write_op_setxattr(op, "javm.k", khex, 16);
    }
    rrc = rados_write_op_operate(op, s->io, oid, NULL, 0);
    rados_release_write_op(op);
    if (rrc == -EEXIST) {
        /* Content addressed: the same bytes are there (chunks of ours are gc's). Removed by
         * gc between the create and the touch: write it again. */
        int rc = blob_touch(s, h, stamp);
        return rc == JAVM_ERR_NOT_FOUND ? blob_put(s, h, rec, n, stamp) : rc;
    }
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

/* Where blob h's record is: its length and, for a chunked one (total > CHUNK), the nonce of
 * its chunks. JAVM_ERR_NOT_FOUND when b.<h> does not exist. */
static int blob_layout(store_rados *s, const uint8_t *h, char oid[80], uint64_t *total_out,
                       uint64_t *nonce_out)
{
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
    *total_out = total;
    *nonce_out = nonce;
    return JAVM_OK;
}

/* The status of a chunk read of len bytes that returned rrc (a missing or short chunk of a
 * present b.<h> is corruption, naming the chunk). */
static int chunk_status(store_rados *s, const char *coid, const char *oid, int rrc, size_t len)
{
    if (rrc == -ENOENT || (rrc >= 0 && (size_t)rrc != len)) {
        store_set_errmsg(&s->base, "rados %s: %s of blob %s", coid,
                         rrc == -ENOENT ? "missing chunk" : "short chunk", oid + 2);
        return JAVM_ERR_STORE_CORRUPT;
    }
    return rrc < 0 ? rfail(s, rrc, "read", coid) : JAVM_OK;
}

static void piece_oid(char coid[120], const char *oid, const uint8_t *h, uint64_t nonce, uint64_t k)
{
    if (k)
        chunk_oid(coid, h, nonce, k);
    else
        snprintf(coid, 120, "%s", oid);
}

static int blob_get(store_rados *s, const uint8_t *h, const uint8_t **val, size_t *vlen)
{
    char oid[80];
    uint64_t total = 0, nonce = 0;
    int rrc, rc = blob_layout(s, h, oid, &total, &nonce);
    if (rc)
        return rc;
    uint8_t *b = copy_new(s, (size_t)total);
    if (!b)
        return JAVM_ERR_ALLOC;
    for (uint64_t off = 0, k = 0; off < total; off += CHUNK, k++) {
        char coid[120];
        size_t len = total - off < CHUNK ? (size_t)(total - off) : CHUNK;
        piece_oid(coid, oid, h, nonce, k);
        rrc = rados_read(s->io, coid, (char *)b + off, len, 0);
        if ((rc = chunk_status(s, coid, oid, rrc, len)))
            return rc;
    }
    *val = b;
    *vlen = (size_t)total;
    return JAVM_OK;
}

/* ==== gc epochs: stamps and touches (§2, §3) ============================================== */

/* The meta object's gce (absent, or no meta yet: epoch 0 and an empty raw value), read once
 * per transaction unless fresh. */
static int meta_gce(store_rados *s, bool fresh)
{
    if (s->gce_known && !fresh)
        return JAVM_OK;
    static const char *const keys[1] = { "gce" };
    uint8_t v[1][64];
    size_t vl[1] = { 0 };
    bool found[1];
    int rc = omap_get(s, META_OID, keys, 1, v, vl, found);
    s->gce = 0;
    s->gce_len = 0;
    if (rc == JAVM_ERR_NOT_FOUND)
        rc = JAVM_OK, found[0] = false;
    if (rc)
        return rc;
    if (found[0]) {
        if (vl[0] != 16 || !parse_u64hex((const char *)v[0], 16, &s->gce)) {
            store_set_errmsg(&s->base, "rados %s: gce malformed", META_OID);
            return JAVM_ERR_STORE_CORRUPT;
        }
        memcpy(s->gce_raw, v[0], 16);
        s->gce_len = 16;
    }
    s->gce_known = true;
    return JAVM_OK;
}

/* The stamp the open transaction gives blobs now: the epoch of its home head once that head
 * exists, else gce (commit raises stamps if a head needs more, restamp below). */
static int txn_stamp(store_rados *s, uint64_t *stamp)
{
    if (s->home >= 0 && s->heads[s->home].known && s->heads[s->home].exists) {
        *stamp = s->heads[s->home].ep;
        return JAVM_OK;
    }
    int rc = meta_gce(s, false);
    *stamp = s->gce;
    return rc;
}

static bool tslot_is(const void *slot, const void *h)
{
    return memcmp(((const tslot *)slot)->h, h, 32) == 0;
}

/* Did this handle stamp h with stamp (which has not changed since)? */
static bool touched_has(store_rados *s, const uint8_t *h, uint64_t stamp)
{
    return stamp == s->touched_stamp &&
           util_table_find(&s->touched, util_table_tag_bytes(h), h, tslot_is) != NULL;
}

/* Remembers that h carries stamp; a new stamp, or too many, forgets the rest. Only an
 * optimisation: a failed allocation remembers nothing. */
static void touched_add(store_rados *s, const uint8_t *h, uint64_t stamp)
{
    if (stamp != s->touched_stamp || s->touched.count >= TOUCHED_MAX) {
        util_table_clear(&s->touched);
        s->touched_stamp = stamp;
    }
    if (touched_has(s, h, stamp))
        return;
    tslot *t = util_table_add(&s->touched, util_table_tag_bytes(h));
    if (t)
        memcpy(t->h, h, 32);
}

/* The open transaction wrote or refers to h, stamped with stamp. */
static int tb_add(store_rados *s, const uint8_t *h, uint64_t stamp)
{
    if (util_grow((void **)&s->tb, &s->captb, s->ntb + 1, sizeof *s->tb, 16))
        return JAVM_ERR_ALLOC;
    memcpy(s->tb[s->ntb].h, h, 32);
    s->tb[s->ntb++].stamp = stamp;
    touched_add(s, h, stamp);
    return JAVM_OK;
}

/* Raises the stamp of blob h to at least stamp: one op, assert_exists first so a blob gc
 * removed is never recreated empty. JAVM_ERR_NOT_FOUND when it is gone. */
static int blob_touch(store_rados *s, const uint8_t *h, uint64_t stamp)
{
    char oid[80];
    uint8_t t[8];
    blob_oid(oid, h);
    be64_put(t, stamp);
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return JAVM_ERR_ALLOC;
    int prval = 0;
    rados_write_op_assert_exists(op);
    /* passes when stamp > the stored one (the given value on the left; none stored = "") */
    rados_write_op_cmpxattr(op, "javm.t", LIBRADOS_CMPXATTR_OP_GT, (const char *)t, 8);
    rados_write_op_setxattr(op, "javm.t", (const char *)t, 8);
    int rrc = rados_write_op_operate(op, s->io, oid, NULL, 0);
    rados_release_write_op(op);
    (void)prval;
    if (rrc == -ENOENT)
        return JAVM_ERR_NOT_FOUND;
    if (rrc == -ECANCELED)
        return JAVM_OK; /* it already carries this stamp or a later one */
    return rrc < 0 ? rfail(s, rrc, "touch", oid) : JAVM_OK;
}

/* Before a head op that needs stamp: every blob of the transaction carries at least it. */
static int restamp(store_rados *s, uint64_t stamp)
{
    for (size_t k = 0; k < s->ntb; k++) {
        if (s->tb[k].stamp >= stamp)
            continue;
        int rc = blob_touch(s, s->tb[k].h, stamp);
        if (rc == JAVM_ERR_NOT_FOUND) {
            char hx[65];
            hex(hx, s->tb[k].h, 32);
            store_set_errmsg(&s->base, "rados: blob %s was collected during the commit", hx);
            return JAVM_ERR_CONFLICT;
        }
        if (rc)
            return rc;
        s->tb[k].stamp = stamp;
        touched_add(s, s->tb[k].h, stamp);
    }
    return JAVM_OK;
}

static int r_touch(javm_store *st, const uint8_t *h)
{
    store_rados *s = (store_rados *)st;
    uint64_t stamp;
    if (!s->in_txn)
        return JAVM_ERR_INVALID_ARG;
    int rc = txn_stamp(s, &stamp);
    if (rc == JAVM_OK && !touched_has(s, h, stamp))
        rc = blob_touch(s, h, stamp);
    return rc ? rc : tb_add(s, h, stamp);
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

/* rc of a read of blob key: a NOT_FOUND inside a transaction may be gone because its name
 * moved on and gc took the old state (§3): that is a conflict, not an absence. */
static int blob_gone(store_rados *s, const uint8_t *key, int rc)
{
    if (rc == JAVM_ERR_NOT_FOUND && s->in_txn && s->home >= 0 && s->heads[s->home].known &&
        s->heads[s->home].exists) {
        rhead now;
        const rhead *h = &s->heads[s->home];
        int hrc = head_read(s, h->name, h->len, &now);
        if (hrc)
            return hrc;
        if (now.v0 != h->v0) {
            char hx[65];
            hex(hx, key, 32);
            store_set_errmsg(&s->base, "rados: blob %s is gone and the name moved since it was "
                                       "read (gc took its old state)", hx);
            return JAVM_ERR_CONFLICT;
        }
    }
    return rc;
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
        return blob_gone(s, key, blob_get(s, key, val, vlen));
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
        if (tomb)
            return JAVM_OK;
        uint64_t stamp;
        if ((rc = txn_stamp(s, &stamp)) || (rc = blob_put(s, key, val, vlen, stamp)))
            return rc;
        return tb_add(s, key, stamp);
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
        /* the file's Data is kept by gc from now on (§3 step 2) */
        if (!tomb && (rc = r_touch(st, val)) == JAVM_ERR_NOT_FOUND) {
            store_set_errmsg(st, "rados: file %" PRIu64 " names a blob gc removed", id);
            return JAVM_ERR_TARGET_MISSING;
        }
        if (rc)
            return rc;
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

/* ==== streamed blobs (§2; docs/store.md "Streamed blobs") =================================== */

/* The one piece of a record read whole. */
typedef struct spiece {
    const uint8_t *p;
    size_t n;
} spiece;

static int sr_one(void *rarg, const uint8_t **p, size_t *n)
{
    spiece *one = rarg;
    *p = one->p;
    *n = one->n;
    one->n = 0;
    return JAVM_OK;
}

#define STREAM_WRITES 4 /* chunk writes in flight */
#define STREAM_READS 1  /* chunk reads in flight ahead of the one being consumed */

/* A chunked blob being written: chunk 0 (for b.<h>, written last) kept in first, the chunk
 * being filled in fill; a full chunk k >= 1 is sent at once (librados copies it into its op)
 * with at most STREAM_WRITES in flight. */
typedef struct swriter {
    store_rados *s;
    const uint8_t *h;
    uint64_t len, nonce, done; /* done: bytes taken */
    uint8_t t[8];              /* the stamp */
    uint8_t *first, *fill;
    size_t filled; /* bytes in the chunk being filled */
    struct {
        rados_write_op_t op;
        rados_completion_t c;
        char oid[120];
    } fly[STREAM_WRITES];
    size_t nfly;
    int status;
} swriter;

/* Waits for the oldest chunk write in flight. */
static int sw_wait_one(swriter *w)
{
    rados_aio_wait_for_complete(w->fly[0].c);
    int rrc = rados_aio_get_return_value(w->fly[0].c);
    rados_aio_release(w->fly[0].c);
    rados_release_write_op(w->fly[0].op);
    int rc = rrc < 0 ? rfail(w->s, rrc, "write", w->fly[0].oid) : JAVM_OK;
    memmove(&w->fly[0], &w->fly[1], (w->nfly - 1) * sizeof w->fly[0]);
    w->nfly--;
    return rc;
}

static int sw_wait_all(swriter *w)
{
    int rc = JAVM_OK;
    while (w->nfly) {
        int r = sw_wait_one(w);
        if (!rc)
            rc = r;
    }
    return rc;
}

/* Sends chunk k of the bytes in fill. */
static int sw_send(swriter *w, uint64_t k, size_t n)
{
    int rc = JAVM_OK;
    if (w->nfly == STREAM_WRITES && (rc = sw_wait_one(w)))
        return rc;
    rados_write_op_t op = rados_create_write_op();
    rados_completion_t c = NULL;
    if (!op || rados_aio_create_completion2(NULL, NULL, &c) < 0) {
        if (op)
            rados_release_write_op(op);
        return JAVM_ERR_ALLOC;
    }
    char *oid = w->fly[w->nfly].oid;
    chunk_oid(oid, w->h, w->nonce, k);
    rados_write_op_write_full(op, (const char *)w->fill, n);
    rados_write_op_setxattr(op, "javm.t", (const char *)w->t, 8);
    int rrc = rados_aio_write_op_operate(op, w->s->io, c, oid, NULL, 0);
    if (rrc < 0) {
        rados_aio_release(c);
        rados_release_write_op(op);
        return rfail(w->s, rrc, "write", oid);
    }
    w->fly[w->nfly].op = op;
    w->fly[w->nfly].c = c;
    w->nfly++;
    return JAVM_OK;
}

static int sw_write(void *warg, const uint8_t *p, size_t n)
{
    swriter *w = warg;
    if (w->status)
        return w->status;
    if (n > w->len - w->done)
        return w->status = JAVM_ERR_INVALID_ARG;
    while (n) {
        uint64_t k = w->done / CHUNK;
        uint8_t *dst = k ? w->fill : w->first;
        size_t m = CHUNK - w->filled < n ? CHUNK - w->filled : n;
        memcpy(dst + w->filled, p, m);
        w->filled += m;
        w->done += m;
        p += m;
        n -= m;
        if (w->filled == CHUNK || (k && w->done == w->len)) {
            if (k && (w->status = sw_send(w, k, w->filled)))
                return w->status;
            w->filled = 0;
        }
    }
    return JAVM_OK;
}

/* blob_put of a record of len > CHUNK bytes that produce writes piece by piece: the chunks
 * under a new nonce, at most STREAM_WRITES in flight, then b.<h> by exclusive create, as
 * blob_put does with a whole record. */
static int blob_put_stream(store_rados *s, const uint8_t *h, uint64_t len,
                           int (*produce)(void *, javm_store_write_fn, void *), void *arg,
                           uint64_t stamp)
{
    swriter w = { .s = s, .h = h, .len = len };
    be64_put(w.t, stamp);
    if (getrandom(&w.nonce, sizeof w.nonce, 0) != (ssize_t)sizeof w.nonce) {
        store_set_errmsg(&s->base, "getrandom: %s", strerror(errno));
        return JAVM_ERR_STORE;
    }
    w.first = malloc(CHUNK);
    w.fill = malloc(CHUNK);
    int rc = w.first && w.fill ? produce(arg, sw_write, &w) : JAVM_ERR_ALLOC;
    if (rc == JAVM_OK && w.done != len)
        rc = JAVM_ERR_INVALID_ARG;
    int wrc = sw_wait_all(&w);
    if (!rc)
        rc = wrc;
    free(w.fill);
    if (rc) {
        free(w.first);
        return rc; /* chunks written so far are orphans for gc (§5) */
    }
    char oid[80], nhex[17], khex[17];
    blob_oid(oid, h);
    rados_write_op_t op = rados_create_write_op();
    if (!op) {
        free(w.first);
        return JAVM_ERR_ALLOC;
    }
    u64hex(nhex, len);
    u64hex(khex, w.nonce);
    rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
    rados_write_op_write_full(op, (const char *)w.first, CHUNK);
    rados_write_op_setxattr(op, "javm.t", (const char *)w.t, 8);
    rados_write_op_setxattr(op, "javm.n", nhex, 16);
    rados_write_op_setxattr(op, "javm.k", khex, 16);
    int rrc = rados_write_op_operate(op, s->io, oid, NULL, 0);
    rados_release_write_op(op);
    free(w.first);
    if (rrc == -EEXIST) {
        /* as blob_put: another writer finished it first; gone again before the touch: the
         * content is produced once more */
        rc = blob_touch(s, h, stamp);
        return rc == JAVM_ERR_NOT_FOUND ? blob_put_stream(s, h, len, produce, arg, stamp) : rc;
    }
    return rrc < 0 ? rfail(s, rrc, "write", oid) : JAVM_OK;
}

/* A record of at most one chunk, or of another table: gathered, then put as usual. */
typedef struct sgather {
    uint8_t *b;
    size_t len, done;
} sgather;

static int sg_write(void *warg, const uint8_t *p, size_t n)
{
    sgather *g = warg;
    if (n > g->len - g->done)
        return JAVM_ERR_INVALID_ARG;
    memcpy(g->b + g->done, p, n);
    g->done += n;
    return JAVM_OK;
}

static int r_put_stream(javm_store *st, javm_table t, const uint8_t *key, size_t klen, uint64_t len,
                        int (*produce)(void *, javm_store_write_fn, void *), void *arg)
{
    store_rados *s = (store_rados *)st;
    copies_free(s);
    if (!s->in_txn)
        return JAVM_ERR_INVALID_ARG;
    int rc = check_key(s, t, klen);
    if (rc)
        return rc;
    if (t != JAVM_TABLE_BLOBS || len <= CHUNK) {
        if (len > SIZE_MAX / 2)
            return JAVM_ERR_INVALID_ARG;
        sgather g = { malloc(len ? (size_t)len : 1), (size_t)len, 0 };
        rc = g.b ? produce(arg, sg_write, &g) : JAVM_ERR_ALLOC;
        if (rc == JAVM_OK && g.done != g.len)
            rc = JAVM_ERR_INVALID_ARG;
        if (rc == JAVM_OK)
            rc = r_write(st, t, key, klen, g.b, g.len, false);
        free(g.b);
        return rc;
    }
    uint64_t stamp;
    if ((rc = txn_stamp(s, &stamp)) || (rc = blob_put_stream(s, key, len, produce, arg, stamp)))
        return rc;
    return tb_add(s, key, stamp);
}

/* A chunked blob being read: chunk k's read is sent STREAM_READS ahead of the one given, each
 * into its own CHUNK buffer; a buffer is reused once the piece it held has been consumed. */
typedef struct sreader {
    store_rados *s;
    const uint8_t *h;
    const char *oid;
    uint64_t total, nonce, nchunks;
    uint64_t next_send, next_give;
    struct {
        uint8_t *buf;
        rados_completion_t c;
        size_t len;
        char oid[120];
    } ring[STREAM_READS + 1];
} sreader;

static int sr_send(sreader *r)
{
    uint64_t k = r->next_send;
    if (k >= r->nchunks)
        return JAVM_OK;
    size_t slot = (size_t)(k % (STREAM_READS + 1));
    if (!r->ring[slot].buf && !(r->ring[slot].buf = malloc(CHUNK)))
        return JAVM_ERR_ALLOC;
    uint64_t off = k * CHUNK;
    r->ring[slot].len = r->total - off < CHUNK ? (size_t)(r->total - off) : CHUNK;
    piece_oid(r->ring[slot].oid, r->oid, r->h, r->nonce, k);
    if (rados_aio_create_completion2(NULL, NULL, &r->ring[slot].c) < 0) {
        r->ring[slot].c = NULL;
        return JAVM_ERR_ALLOC;
    }
    int rrc = rados_aio_read(r->s->io, r->ring[slot].oid, r->ring[slot].c,
                             (char *)r->ring[slot].buf, r->ring[slot].len, 0);
    if (rrc < 0) {
        rados_aio_release(r->ring[slot].c);
        r->ring[slot].c = NULL;
        return rfail(r->s, rrc, "read", r->ring[slot].oid);
    }
    r->next_send++;
    return JAVM_OK;
}

static int sr_read(void *rarg, const uint8_t **p, size_t *n)
{
    sreader *r = rarg;
    *n = 0;
    if (r->next_give >= r->nchunks)
        return JAVM_OK;
    int rc;
    /* the previous piece is consumed: its buffer takes the next read ahead */
    while (r->next_send < r->nchunks && r->next_send <= r->next_give + STREAM_READS)
        if ((rc = sr_send(r)))
            return rc;
    size_t slot = (size_t)(r->next_give % (STREAM_READS + 1));
    rados_aio_wait_for_complete(r->ring[slot].c);
    int rrc = rados_aio_get_return_value(r->ring[slot].c);
    rados_aio_release(r->ring[slot].c);
    r->ring[slot].c = NULL;
    if ((rc = chunk_status(r->s, r->ring[slot].oid, r->oid, rrc, r->ring[slot].len)))
        return rc;
    r->next_give++;
    *p = r->ring[slot].buf;
    *n = r->ring[slot].len;
    return JAVM_OK;
}

static int r_get_stream(javm_store *st, javm_table t, const uint8_t *key, size_t klen,
                        int (*consume)(void *, uint64_t, javm_store_read_fn, void *), void *arg)
{
    store_rados *s = (store_rados *)st;
    const uint8_t *val;
    size_t vlen;
    int rc = check_key(s, t, klen);
    if (rc)
        return rc;
    char oid[80];
    uint64_t total = 0, nonce = 0;
    if (t == JAVM_TABLE_BLOBS &&
        (rc = blob_gone(s, key, blob_layout(s, key, oid, &total, &nonce))))
        return rc;
    if (t != JAVM_TABLE_BLOBS) {
        if ((rc = r_get(st, t, key, klen, &val, &vlen)))
            return rc;
        spiece one = { val, vlen };
        return consume(arg, vlen, sr_one, &one);
    }
    if (total <= CHUNK) { /* one object, read whole as get does */
        uint8_t *b = copy_new(s, (size_t)total);
        if (!b)
            return JAVM_ERR_ALLOC;
        int rrc = rados_read(s->io, oid, (char *)b, (size_t)total, 0);
        if ((rc = chunk_status(s, oid, oid, rrc, (size_t)total)))
            return rc == JAVM_ERR_STORE_CORRUPT && rrc == -ENOENT ? blob_gone(s, key, JAVM_ERR_NOT_FOUND)
                                                                  : rc;
        spiece one = { b, (size_t)total };
        return consume(arg, total, sr_one, &one);
    }
    sreader r = { .s = s, .h = key, .oid = oid, .total = total, .nonce = nonce,
                  .nchunks = (total + CHUNK - 1) / CHUNK };
    rc = consume(arg, total, sr_read, &r);
    for (size_t i = 0; i <= STREAM_READS; i++) {
        if (r.ring[i].c) {
            rados_aio_wait_for_complete(r.ring[i].c); /* the buffer is the OSD's until then */
            rados_aio_release(r.ring[i].c);
        }
        free(r.ring[i].buf);
    }
    return rc;
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

/* Registers a new name in the meta object, so that listing and gc find its head, in the gc
 * epoch the head will start in (§3 "New names"): the registration compares gce, so a gc that
 * started an epoch after it sees the name when it fences. */
static int name_register(store_rados *s, rhead *h)
{
    char key[520];
    memcpy(key, "n.", 2);
    hex(key + 2, h->name, h->len);
    const char *keys[1] = { key };
    const char *vals[1] = { "" };
    size_t lens[1] = { 0 };
    for (int tries = 0;; tries++) {
        int rc = meta_gce(s, tries > 0);
        if (rc)
            return rc;
        rados_write_op_t op = rados_create_write_op();
        if (!op)
            return JAVM_ERR_ALLOC;
        int prval = 0;
        rados_write_op_assert_exists(op);
        rados_write_op_omap_cmp(op, "gce", LIBRADOS_CMPXATTR_OP_EQ, s->gce_raw, s->gce_len,
                                &prval);
        rados_write_op_omap_set(op, keys, vals, lens, 1);
        int rrc = rados_write_op_operate(op, s->io, META_OID, NULL, 0);
        rados_release_write_op(op);
        if (rrc == -ECANCELED && tries < 8)
            continue; /* a gc started an epoch meanwhile */
        if (rrc == -ENOENT) { /* as lease_block: the name is there, the store is not */
            store_set_errmsg(&s->base, "rados %s: missing (the store was never created)",
                             META_OID);
            return JAVM_ERR_STORE_CORRUPT;
        }
        if (rrc < 0)
            return rfail(s, rrc, "register name", META_OID);
        h->ep = s->gce;
        u64hex(key, s->gce);
        memcpy(h->e, key, 16);
        h->elen = 16;
        return JAVM_OK;
    }
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
    size_t n = 0, nrm = 0, cap = MAXK + 1 + s->np;
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
    if (!h->exists) /* a new head starts in the epoch its name was registered in */
        keys[n] = "e", vals[n] = h->e, lens[n++] = 16;
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
    int prval = 0, eprval = 0;
    if (h->exists) {
        rados_write_op_assert_exists(op);
        rados_write_op_omap_cmp(op, "v", LIBRADOS_CMPXATTR_OP_EQ, vcur, 16, &prval);
        /* gc fenced the head since it was read: the stamps may be too old (§3 step 4) */
        rados_write_op_omap_cmp(op, "e", LIBRADOS_CMPXATTR_OP_EQ, h->e, h->elen, &eprval);
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
    int rrc;
    for (int tries = 0;; tries++) {
        /* Every blob the commit wrote or refers to carries the head's epoch before the op
         * that compares it (§3 steps 2-3). */
        if ((rc = restamp(s, h->ep)))
            return rc;
        s->seq++;
        rrc = head_op(s, h, hidx, oid, false);
        if (rrc != -ECANCELED || !h->exists || tries == 3)
            break;
        rhead now;
        if ((rc = head_read(s, h->name, h->len, &now)))
            return rc;
        if (!now.exists || now.v0 != h->v0 || (now.elen == h->elen && memcmp(now.e, h->e, h->elen) == 0))
            break; /* another commit moved it */
        h->elen = now.elen; /* only gc's fence moved it: restamp and send again */
        memcpy(h->e, now.e, now.elen);
        h->ep = now.ep;
    }
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

/* ==== gc (§5): fence every head, mark, sweep unreachable blobs of old epochs ============= */

/* An unmarked blob object the listing found, with what its xattrs say. */
typedef struct gblob {
    uint8_t h[32];
    bool has_t;       /* javm.t present */
    uint64_t t;
    uint64_t nonce;   /* javm.k of a large blob, else 0 */
    uint64_t total;   /* javm.n of a large blob, else 0 */
    bool gone;        /* vanished since the listing */
    uint32_t indeg;   /* candidate parents not swept yet */
    size_t e0, ne;    /* its candidate children: gc->edges[e0 .. e0 + ne) */
} gblob;

/* A chunk object b.<h>.<nonce>.<k>. */
typedef struct gchunk {
    uint8_t h[32];
    uint64_t nonce, k;
} gchunk;

typedef struct gcx {
    store_rados *s;
    const javm_store_collect *how;
    util_table marks; /* of tslot */
    uint8_t (*stack)[32];
    size_t sn, scap;
    gblob *b;         /* unmarked blobs, sorted by hash */
    size_t nb, capb;
    gchunk *c;
    size_t nc, capc;
    size_t *edges;    /* indexes into b */
    size_t ne, cape;
    uint8_t *peek;    /* PEEK bytes */
    char cookie[40];
    time_t renewed;
    uint64_t E;       /* the epoch this run starts */
    javm_rados_gc_stats st;
} gcx;

#define PEEK ((size_t)64 << 10) /* bytes read first: the whole of most records */
#define GC_BATCH 64              /* stamp reads and deletes in flight at once */

static bool gc_marked(gcx *g, const uint8_t *h)
{
    return util_table_find(&g->marks, util_table_tag_bytes(h), h, tslot_is) != NULL;
}

/* Marks h and queues it for its edges. */
static int gc_mark(void *arg, const uint8_t *h)
{
    gcx *g = arg;
    if (gc_marked(g, h))
        return JAVM_OK;
    if (util_table_reserve(&g->marks, 1) ||
        util_grow((void **)&g->stack, &g->scap, g->sn + 1, sizeof *g->stack, 256))
        return JAVM_ERR_ALLOC;
    tslot *t = util_table_add(&g->marks, util_table_tag_bytes(h));
    memcpy(t->h, h, 32);
    memcpy(g->stack[g->sn++], h, 32);
    g->st.marked++;
    return JAVM_OK;
}

/* The gc lock, renewed when a third of its lease has passed (a killed gc's lock expires). */
static int gc_lock(gcx *g, bool renew)
{
    time_t now = time(NULL);
    if (renew && now - g->renewed < GC_LOCK_S / 3)
        return JAVM_OK;
    struct timeval tv = { GC_LOCK_S, 0 };
    int rrc = rados_lock_exclusive(g->s->io, META_OID, "javm.gc", g->cookie, "javm gc", &tv,
                                   renew ? LIBRADOS_LOCK_FLAG_MUST_RENEW : 0);
    if (rrc == -EBUSY || rrc == -EEXIST) {
        store_set_errmsg(&g->s->base, "rados %s: %s", META_OID,
                         renew ? "the gc lock was lost (held too long without renewal)"
                               : "another gc holds the lock");
        return JAVM_ERR_BUSY;
    }
    if (rrc < 0)
        return rfail(g->s, rrc, "lock", META_OID);
    g->renewed = now;
    return JAVM_OK;
}

/* Reads blob h for its edges: its first PEEK bytes, then (only for a kind with edges and a
 * longer record) the whole record. *rec is NULL for a record that cannot have edges.
 * JAVM_ERR_NOT_FOUND when the blob does not exist. */
static int gc_read(gcx *g, const uint8_t *h, const uint8_t **rec, size_t *n)
{
    store_rados *s = g->s;
    char oid[80];
    blob_oid(oid, h);
    uint64_t size = 0;
    time_t mtime;
    size_t got = 0;
    int prs = 0, prr = 0;
    rados_read_op_t op = rados_create_read_op();
    if (!op)
        return JAVM_ERR_ALLOC;
    rados_read_op_stat(op, &size, &mtime, &prs);
    rados_read_op_read(op, 0, PEEK, (char *)g->peek, &got, &prr);
    int rrc = rados_read_op_operate(op, s->io, oid, 0);
    rados_release_read_op(op);
    if (rrc == -ENOENT)
        return JAVM_ERR_NOT_FOUND;
    if (rrc < 0 || prs < 0 || prr < 0)
        return rfail(s, rrc < 0 ? rrc : prs < 0 ? prs : prr, "read", oid);
    *rec = NULL;
    *n = 0;
    if (got == 0) {
        store_set_errmsg(&s->base, "rados %s: an empty blob", oid);
        return JAVM_ERR_STORE_CORRUPT;
    }
    if (!g->how->may_have_edges(g->how->arg, g->peek[0]))
        return JAVM_OK;
    if (size <= PEEK && got == size) {
        *rec = g->peek;
        *n = got;
        return JAVM_OK;
    }
    copies_free(s);
    return blob_get(s, h, rec, n);
}

/* Calls add for each edge of blob h. A missing blob sets *gone when gone is not NULL (a
 * candidate another gc removed), else it is STORE_CORRUPT (a reachable blob is missing). */
static int gc_edges_of(gcx *g, const uint8_t *h, javm_store_edge_fn add, void *arg, bool *gone)
{
    const uint8_t *rec;
    size_t n;
    int rc = gc_read(g, h, &rec, &n);
    if (rc == JAVM_ERR_NOT_FOUND && gone) {
        *gone = true;
        return JAVM_OK;
    }
    if (rc == JAVM_ERR_NOT_FOUND) {
        char hx[65];
        hex(hx, h, 32);
        store_set_errmsg(&g->s->base, "rados: blob %s is reachable but missing", hx);
        return JAVM_ERR_STORE_CORRUPT;
    }
    if (rc == JAVM_OK && rec)
        rc = g->how->edges(g->how->arg, h, rec, n, add, arg);
    copies_free(g->s);
    return rc;
}

/* Marks the closure of everything queued. */
static int gc_drain(gcx *g)
{
    int rc = JAVM_OK;
    while (rc == JAVM_OK && g->sn) {
        uint8_t h[32];
        memcpy(h, g->stack[--g->sn], 32);
        if ((rc = gc_lock(g, true)) == JAVM_OK)
            rc = gc_edges_of(g, h, gc_mark, g, NULL);
    }
    return rc;
}

typedef struct fence_vals {
    gcx *g;
    int rc;
} fence_vals;

/* Each f.<id> of a head is a root. */
static int fence_file(store_rados *s, void *arg, const char *key, size_t klen, const char *val,
                      size_t vlen)
{
    (void)s;
    (void)key;
    (void)klen;
    gcx *g = arg;
    return vlen == 32 ? gc_mark(g, (const uint8_t *)val) : JAVM_OK;
}

/* Fences head name (§5 step 2): reads its version, instance and files, then sets e to the new
 * epoch with a compare of that version, again until no commit lands in between. A name that
 * is registered but has no head gets one, fenced and empty. Its roots are marked. */
static int gc_fence(gcx *g, const uint8_t *name, size_t len)
{
    store_rados *s = g->s;
    char oid[520], ehex[17], zero[17];
    head_oid(oid, name, len);
    u64hex(ehex, g->E);
    u64hex(zero, 0);
    for (unsigned tries = 0;; tries++) {
        rhead h;
        int rc = head_read(s, name, len, &h);
        if (rc)
            return rc;
        rados_write_op_t op = rados_create_write_op();
        if (!op)
            return JAVM_ERR_ALLOC;
        int prval = 0;
        char vcur[17];
        if (h.exists) {
            static const char *const keys[1] = { "e" };
            const char *vals[1] = { ehex };
            size_t lens[1] = { 16 };
            u64hex(vcur, h.v0);
            rados_write_op_assert_exists(op);
            rados_write_op_omap_cmp(op, "v", LIBRADOS_CMPXATTR_OP_EQ, vcur, 16, &prval);
            rados_write_op_omap_set(op, keys, vals, lens, 1);
        } else {
            static const char *const keys[3] = { "v", "e", "i" };
            const char *vals[3] = { zero, ehex, "" };
            size_t lens[3] = { 16, 16, 0 };
            rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
            rados_write_op_omap_set(op, keys, vals, lens, 3);
        }
        int rrc = rados_write_op_operate(op, s->io, oid, NULL, 0);
        rados_release_write_op(op);
        if (rrc == -ECANCELED || rrc == -EEXIST || rrc == -ENOENT) {
            g->st.fence_retries++;
            if (tries == 1000) {
                store_set_errmsg(&s->base, "rados %s: commits kept moving it while gc fenced it",
                                 oid);
                return JAVM_ERR_BUSY;
            }
            continue;
        }
        if (rrc < 0)
            return rfail(s, rrc, "fence", oid);
        g->st.heads++;
        if (!h.exists)
            return JAVM_OK;
        /* The version did not move between the reads and the fence: they are one state. */
        if (h.present && (rc = gc_mark(g, h.i)))
            return rc;
        return omap_list(s, oid, "f.", fence_file, g);
    }
}

static int fence_name(store_rados *s, void *arg, const char *key, size_t klen, const char *val,
                      size_t vlen)
{
    (void)val;
    (void)vlen;
    gcx *g = arg;
    uint8_t name[255];
    size_t len = (klen - 2) / 2;
    if (klen < 2 || len > 255 || !unhex(key + 2, klen - 2, name, len)) {
        store_set_errmsg(&s->base, "rados %s: a malformed name key", META_OID);
        return JAVM_ERR_STORE_CORRUPT;
    }
    int rc = gc_lock(g, true);
    return rc ? rc : gc_fence(g, name, len);
}

static int gblob_cmp(const void *a, const void *b)
{
    return memcmp(((const gblob *)a)->h, ((const gblob *)b)->h, 32);
}

static gblob *gc_find(gcx *g, const uint8_t *h)
{
    gblob k;
    memcpy(k.h, h, 32);
    return g->nb ? bsearch(&k, g->b, g->nb, sizeof *g->b, gblob_cmp) : NULL;
}

/* Lists the namespace: blob objects not marked, and every chunk object. */
static int gc_list(gcx *g)
{
    store_rados *s = g->s;
    rados_list_ctx_t lc;
    int rrc = rados_nobjects_list_open(s->io, &lc);
    if (rrc < 0)
        return rfail(s, rrc, "list", "b.*");
    int rc = JAVM_OK;
    const char *entry, *key, *nspace;
    while (rc == JAVM_OK && (rrc = rados_nobjects_list_next(lc, &entry, &key, &nspace)) == 0) {
        size_t el = strlen(entry);
        uint8_t h[32];
        if (el < 66 || strncmp(entry, "b.", 2) != 0 || !unhex(entry + 2, 64, h, 32))
            continue;
        if (el == 66) {
            g->st.listed++;
            if (gc_marked(g, h))
                continue;
            if (util_grow((void **)&g->b, &g->capb, g->nb + 1, sizeof *g->b, 256)) {
                rc = JAVM_ERR_ALLOC;
                break;
            }
            gblob *b = &g->b[g->nb++];
            memset(b, 0, sizeof *b);
            memcpy(b->h, h, 32);
        } else {
            uint64_t nonce, k = 0;
            if (el < 85 || el > 104 || entry[66] != '.' || entry[83] != '.' ||
                !parse_u64hex(entry + 67, 16, &nonce))
                continue;
            size_t d = 84;
            while (d < el && entry[d] >= '0' && entry[d] <= '9' && k < UINT64_MAX / 10)
                k = k * 10 + (uint64_t)(entry[d++] - '0');
            if (d != el || k == 0)
                continue; /* not a chunk_oid name */
            if (util_grow((void **)&g->c, &g->capc, g->nc + 1, sizeof *g->c, 64)) {
                rc = JAVM_ERR_ALLOC;
                break;
            }
            gchunk *c = &g->c[g->nc++];
            memcpy(c->h, h, 32);
            c->nonce = nonce;
            c->k = k;
        }
        if (rc == JAVM_OK && (g->nb + g->nc) % 1024 == 0)
            rc = gc_lock(g, true);
    }
    if (rc == JAVM_OK && rrc != -ENOENT)
        rc = rfail(s, rrc, "list", "b.*");
    rados_nobjects_list_close(lc);
    if (rc == JAVM_OK && g->nb)
        qsort(g->b, g->nb, sizeof *g->b, gblob_cmp);
    return rc;
}

/* The stamp (and a large blob's length and nonce) from a getxattrs read of blob object oid
 * that returned rrc and prval. */
static int xattrs_parse(gcx *g, const char *oid, int rrc, int prval, rados_xattrs_iter_t it,
                        bool *gone, bool *has_t, uint64_t *t, uint64_t *nonce, uint64_t *total)
{
    int rc = JAVM_OK;
    *gone = *has_t = false;
    *t = *nonce = *total = 0;
    if (rrc == -ENOENT)
        *gone = true;
    else if (rrc < 0 || prval < 0)
        rc = rfail(g->s, rrc < 0 ? rrc : prval, "getxattrs", oid);
    else {
        const char *name, *val;
        size_t len;
        while (rados_getxattrs_next(it, &name, &val, &len) == 0 && name) {
            if (strcmp(name, "javm.t") == 0 && len == 8) {
                *has_t = true;
                *t = be64_get((const uint8_t *)val);
            } else if (strcmp(name, "javm.k") == 0 && !parse_u64hex(val, len, nonce)) {
                rc = JAVM_ERR_STORE_CORRUPT;
            } else if (strcmp(name, "javm.n") == 0 && !parse_u64hex(val, len, total)) {
                rc = JAVM_ERR_STORE_CORRUPT;
            }
        }
        if (rc)
            store_set_errmsg(&g->s->base, "rados %s: javm.k or javm.n malformed", oid);
    }
    return rc;
}

static int gc_xattrs(gcx *g, const char *oid, bool *gone, bool *has_t, uint64_t *t,
                     uint64_t *nonce, uint64_t *total)
{
    rados_read_op_t op = rados_create_read_op();
    rados_xattrs_iter_t it = NULL;
    int prval = 0;
    if (!op)
        return JAVM_ERR_ALLOC;
    rados_read_op_getxattrs(op, &it, &prval);
    int rrc = rados_read_op_operate(op, g->s->io, oid, 0);
    int rc = xattrs_parse(g, oid, rrc, prval, it, gone, has_t, t, nonce, total);
    if (it)
        rados_getxattrs_end(it);
    rados_release_read_op(op);
    return rc;
}

/* One op of a batch in flight. */
typedef struct aop {
    rados_read_op_t rop;
    rados_write_op_t wop;
    rados_completion_t c;
    rados_xattrs_iter_t it;
    int prval;
    char oid[80];
} aop;

/* Waits for the ops of a batch that were sent and returns each one's result in res. */
static void batch_wait(aop *a, size_t n, int *res)
{
    for (size_t i = 0; i < n; i++) {
        if (!a[i].c) {
            res[i] = -ENOMEM;
            continue;
        }
        rados_aio_wait_for_complete(a[i].c);
        res[i] = rados_aio_get_return_value(a[i].c);
        rados_aio_release(a[i].c);
        a[i].c = NULL;
    }
}

/* The xattrs of g->b[from .. from + n), n <= GC_BATCH, all in flight together. */
static int gc_xattrs_batch(gcx *g, size_t from, size_t n)
{
    aop a[GC_BATCH];
    int res[GC_BATCH];
    memset(a, 0, sizeof a);
    for (size_t i = 0; i < n; i++) {
        blob_oid(a[i].oid, g->b[from + i].h);
        if (!(a[i].rop = rados_create_read_op()) ||
            rados_aio_create_completion2(NULL, NULL, &a[i].c) < 0) {
            a[i].c = NULL;
            continue;
        }
        rados_read_op_getxattrs(a[i].rop, &a[i].it, &a[i].prval);
        if (rados_aio_read_op_operate(a[i].rop, g->s->io, a[i].c, a[i].oid, 0) < 0) {
            rados_aio_release(a[i].c);
            a[i].c = NULL;
        }
    }
    batch_wait(a, n, res);
    int rc = JAVM_OK;
    for (size_t i = 0; i < n; i++) {
        gblob *b = &g->b[from + i];
        if (rc == JAVM_OK)
            rc = res[i] == -ENOMEM ? JAVM_ERR_ALLOC
                                   : xattrs_parse(g, a[i].oid, res[i], a[i].prval, a[i].it,
                                                  &b->gone, &b->has_t, &b->t, &b->nonce,
                                                  &b->total);
        if (a[i].it)
            rados_getxattrs_end(a[i].it);
        if (a[i].rop)
            rados_release_read_op(a[i].rop);
    }
    return rc;
}

/* One candidate's child among the candidates (an edge to a candidate). */
static int gc_child(void *arg, const uint8_t *h)
{
    gcx *g = arg;
    gblob *c = gc_find(g, h);
    if (!c || gc_marked(g, h))
        return JAVM_OK;
    if (util_grow((void **)&g->edges, &g->cape, g->ne + 1, sizeof *g->edges, 256))
        return JAVM_ERR_ALLOC;
    g->edges[g->ne++] = (size_t)(c - g->b);
    c->indeg++;
    return JAVM_OK;
}

/* Deletes the chunks k = 1 .. of a large blob's nonce (its first object is gone). */
static int gc_drop_chunks(gcx *g, const uint8_t *h, uint64_t nonce, uint64_t total)
{
    for (uint64_t k = 1; k * CHUNK < total; k++) {
        char coid[120];
        chunk_oid(coid, h, nonce, k);
        int rrc = rados_remove(g->s->io, coid);
        if (rrc < 0 && rrc != -ENOENT)
            return rfail(g->s, rrc, "remove", coid);
        g->st.chunks_deleted += rrc == 0;
    }
    return JAVM_OK;
}

/* One conditional delete: the object goes only while its stamp is at most limit
 * (cmpxattr(GTE, limit) passes when limit >= stamp; none stored passes). 1 when deleted, 0
 * when it was touched meanwhile or is already gone. */
static int gc_delete(gcx *g, const char *oid, uint64_t limit)
{
    uint8_t l[8];
    be64_put(l, limit);
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return JAVM_ERR_ALLOC;
    rados_write_op_cmpxattr(op, "javm.t", LIBRADOS_CMPXATTR_OP_GTE, (const char *)l, 8);
    rados_write_op_remove(op);
    int rrc = rados_write_op_operate(op, g->s->io, oid, NULL, 0);
    rados_release_write_op(op);
    if (rrc == 0)
        return 1;
    if (rrc == -ECANCELED || rrc == -ENOENT)
        return 0;
    return rfail(g->s, rrc, "remove", oid);
}

/* gc_delete of the blobs idx[0 .. n), n <= GC_BATCH, in flight together: d[i] is 1 deleted,
 * 0 kept (touched meanwhile, or gone), 2 not sent (gone or marked), or a status. */
static int gc_delete_batch(gcx *g, const size_t *idx, size_t n, uint64_t limit, int *d)
{
    aop a[GC_BATCH];
    int res[GC_BATCH];
    uint8_t l[8];
    be64_put(l, limit);
    memset(a, 0, sizeof a);
    for (size_t i = 0; i < n; i++) {
        gblob *b = &g->b[idx[i]];
        d[i] = 2;
        if (b->gone || gc_marked(g, b->h))
            continue;
        d[i] = JAVM_ERR_ALLOC;
        blob_oid(a[i].oid, b->h);
        if (!(a[i].wop = rados_create_write_op()) ||
            rados_aio_create_completion2(NULL, NULL, &a[i].c) < 0) {
            a[i].c = NULL;
            continue;
        }
        rados_write_op_cmpxattr(a[i].wop, "javm.t", LIBRADOS_CMPXATTR_OP_GTE, (const char *)l, 8);
        rados_write_op_remove(a[i].wop);
        if (rados_aio_write_op_operate(a[i].wop, g->s->io, a[i].c, a[i].oid, NULL, 0) < 0) {
            rados_aio_release(a[i].c);
            a[i].c = NULL;
        }
    }
    batch_wait(a, n, res);
    for (size_t i = 0; i < n; i++) {
        if (a[i].wop)
            rados_release_write_op(a[i].wop);
        if (d[i] == 2 || !a[i].wop)
            continue;
        d[i] = res[i] == 0                             ? 1
               : res[i] == -ECANCELED || res[i] == -ENOENT ? 0
               : res[i] == -ENOMEM                    ? JAVM_ERR_ALLOC
                                                      : rfail(g->s, res[i], "remove", a[i].oid);
    }
    return JAVM_OK;
}

/* Steps 4-5: stamps of the unmarked blobs, keeps by stamp, then the sweep, parents first. */
static int gc_sweep(gcx *g)
{
    int rc = JAVM_OK;
    /* Kept by stamp: written or touched since the previous epoch began. */
    for (size_t i = 0; i < g->nb && rc == JAVM_OK; i += GC_BATCH)
        if ((rc = gc_xattrs_batch(g, i, g->nb - i < GC_BATCH ? g->nb - i : GC_BATCH)) == JAVM_OK)
            rc = gc_lock(g, true);
    for (size_t i = 0; i < g->nb && rc == JAVM_OK; i++) {
        gblob *b = &g->b[i];
        if (!b->gone && b->has_t && b->t + 1 >= g->E && !gc_marked(g, b->h)) {
            g->st.kept_stamped++;
            if ((rc = gc_mark(g, b->h)) == JAVM_OK)
                rc = gc_drain(g);
        }
    }
    if (rc == JAVM_OK && g->how->step)
        g->how->step(g->how->arg, "stamped");
    if (rc || g->E < 2)
        return rc; /* the first epoch deletes nothing: no stamp is two epochs old */
    uint64_t limit = g->E - 2;
    /* The candidates' edges among themselves. */
    for (size_t i = 0; i < g->nb && rc == JAVM_OK; i++) {
        gblob *b = &g->b[i];
        b->e0 = g->ne;
        if (!b->gone && !gc_marked(g, b->h))
            rc = gc_edges_of(g, b->h, gc_child, g, &b->gone);
        b->ne = g->ne - b->e0;
        if (rc == JAVM_OK)
            rc = gc_lock(g, true);
    }
    /* Parents first (Kahn): a candidate goes only after every candidate parent went. */
    size_t *queue = rc == JAVM_OK ? malloc((g->nb + 1) * sizeof *queue) : NULL;
    if (rc == JAVM_OK && !queue)
        rc = JAVM_ERR_ALLOC;
    size_t qh = 0, qt = 0;
    for (size_t i = 0; i < g->nb && rc == JAVM_OK; i++)
        if (g->b[i].indeg == 0)
            queue[qt++] = i;
    while (rc == JAVM_OK && qh < qt) {
        /* The front of the queue goes at once: none of it is below another (a child is queued
         * only once all its candidate parents were dealt with). */
        size_t n = qt - qh < GC_BATCH ? qt - qh : GC_BATCH;
        int d[GC_BATCH];
        rc = gc_delete_batch(g, queue + qh, n, limit, d);
        for (size_t i = 0; i < n && rc == JAVM_OK; i++) {
            gblob *b = &g->b[queue[qh + i]];
            if (d[i] != 2) { /* 2: not sent (gone or marked) */
                if (d[i] < 0) {
                    rc = d[i];
                    break;
                }
                if (d[i] == 1) {
                    g->st.deleted++;
                    if (b->total)
                        rc = gc_drop_chunks(g, b->h, b->nonce, b->total);
                } else {
                    /* touched since it was listed: it and everything below it stay */
                    g->st.kept_racing++;
                    if ((rc = gc_mark(g, b->h)) == JAVM_OK)
                        rc = gc_drain(g);
                }
                b->gone = true;
            }
            for (size_t e = b->e0; e < b->e0 + b->ne && rc == JAVM_OK; e++)
                if (--g->b[g->edges[e]].indeg == 0)
                    queue[qt++] = g->edges[e];
        }
        qh += n;
        if (rc == JAVM_OK)
            rc = gc_lock(g, true);
    }
    free(queue);
    /* Orphan chunks: of a writer killed before its first object, or of one that lost the
     * race for it (another nonce). */
    for (size_t i = 0; i < g->nc && rc == JAVM_OK; i++) {
        gchunk *c = &g->c[i];
        gblob *b = gc_find(g, c->h);
        if (b && b->total && b->nonce == c->nonce)
            continue; /* its blob is unmarked: dropped with it, or kept */
        if (!b) {
            char oid[80];
            bool gone, has_t;
            uint64_t t, nonce, total;
            blob_oid(oid, c->h);
            if ((rc = gc_xattrs(g, oid, &gone, &has_t, &t, &nonce, &total)))
                break;
            if (!gone && nonce == c->nonce)
                continue; /* the chunks of a live (marked) blob */
        }
        char coid[120];
        chunk_oid(coid, c->h, c->nonce, c->k);
        int d = gc_delete(g, coid, limit);
        if (d < 0)
            rc = d;
        else
            g->st.chunks_deleted += (uint64_t)d;
    }
    return rc;
}

static int r_collect(javm_store *st, const javm_store_collect *how)
{
    store_rados *s = (store_rados *)st;
    if (!how || !how->edges || !how->may_have_edges || (how->n_roots && !how->roots))
        return JAVM_ERR_INVALID_ARG;
    if (s->in_txn)
        return JAVM_ERR_BUSY;
    if (s->read_only) {
        store_set_errmsg(st, "rados: the store was opened read-only");
        return JAVM_ERR_STORE_READONLY;
    }
    gcx g = { .s = s, .how = how, .marks = UTIL_TABLE_INIT(tslot) };
    g.peek = malloc(PEEK);
    if (!g.peek)
        return JAVM_ERR_ALLOC;
    snprintf(g.cookie, sizeof g.cookie, "%02x%02x%02x%02x%02x%02x%02x%02x.%" PRIu64, s->tag[0],
             s->tag[1], s->tag[2], s->tag[3], s->tag[4], s->tag[5], s->tag[6], s->tag[7],
             ++s->seq);
    int rc = gc_lock(&g, false);
    bool locked = rc == JAVM_OK;
    /* Step 1: the new epoch, unless the last one is younger than the grace. */
    if (rc == JAVM_OK)
        rc = meta_gce(s, true);
    if (rc == JAVM_OK) {
        static const char *const keys[1] = { "gcs" };
        uint8_t v[1][64];
        size_t vl[1] = { 0 };
        bool found[1];
        uint64_t gcs = 0;
        time_t now = time(NULL);
        rc = omap_get(s, META_OID, keys, 1, v, vl, found);
        if (rc == JAVM_ERR_NOT_FOUND) {
            store_set_errmsg(st, "rados: an empty store (no %s)", META_OID);
        } else if (rc == JAVM_OK && found[0] && !parse_u64hex((const char *)v[0], vl[0], &gcs)) {
            store_set_errmsg(st, "rados %s: gcs malformed", META_OID);
            rc = JAVM_ERR_STORE_CORRUPT;
        } else if (rc == JAVM_OK && found[0] && (uint64_t)now < gcs + s->gc_grace) {
            store_set_errmsg(st, "rados: the gc epoch %" PRIu64 " began %" PRIu64
                                 " s ago, less than the grace of %u s",
                             s->gce, (uint64_t)now - gcs, s->gc_grace);
            rc = JAVM_ERR_BUSY;
        }
        if (rc == JAVM_OK) {
            char e1[17], t1[17];
            g.E = s->gce + 1;
            u64hex(e1, g.E);
            u64hex(t1, (uint64_t)now);
            const char *k2[2] = { "gce", "gcs" }, *v2[2] = { e1, t1 };
            size_t l2[2] = { 16, 16 };
            int prval = 0;
            rados_write_op_t op = rados_create_write_op();
            if (!op)
                rc = JAVM_ERR_ALLOC;
            else {
                rados_write_op_assert_exists(op);
                rados_write_op_omap_cmp(op, "gce", LIBRADOS_CMPXATTR_OP_EQ, s->gce_raw, s->gce_len,
                                        &prval);
                rados_write_op_omap_set(op, k2, v2, l2, 2);
                int rrc = rados_write_op_operate(op, s->io, META_OID, NULL, 0);
                rados_release_write_op(op);
                if (rrc < 0)
                    rc = rfail(s, rrc, "new gc epoch", META_OID);
            }
        }
    }
    s->gce_known = false;
    memset(&g.st, 0, sizeof g.st);
    g.st.epoch = g.E;
    /* Steps 2-3: fence every registered head (after the new epoch: every name registered in
     * an older one is seen), the default head, mark from their roots and the embedder's. */
    if (rc == JAVM_OK)
        rc = omap_list(s, META_OID, "n.", fence_name, &g);
    if (rc == JAVM_OK && how->step)
        how->step(how->arg, "fenced");
    for (size_t i = 0; i < how->n_roots && rc == JAVM_OK; i++)
        rc = gc_mark(&g, how->roots[i]);
    if (rc == JAVM_OK)
        rc = gc_drain(&g);
    if (rc == JAVM_OK && how->step)
        how->step(how->arg, "marked");
    if (rc == JAVM_OK)
        rc = gc_list(&g);
    if (rc == JAVM_OK)
        rc = gc_sweep(&g);
    if (rc == JAVM_OK && how->step)
        how->step(how->arg, "swept");
    if (locked)
        rados_unlock(s->io, META_OID, "javm.gc", g.cookie);
    s->gcst = g.st;
    copies_free(s);
    util_table_free(&g.marks);
    free(g.stack);
    free(g.b);
    free(g.c);
    free(g.edges);
    free(g.peek);
    return rc;
}

JAVM_API int javm_store_rados_gc_grace(javm_store *st, unsigned seconds)
{
    if (!st || st->vtbl->collect != r_collect)
        return JAVM_ERR_INVALID_ARG;
    ((store_rados *)st)->gc_grace = seconds;
    return JAVM_OK;
}

JAVM_API int javm_store_rados_gc_stats(const javm_store *st, javm_rados_gc_stats *out)
{
    if (!st || !out || st->vtbl->collect != r_collect)
        return JAVM_ERR_INVALID_ARG;
    *out = ((const store_rados *)st)->gcst;
    return JAVM_OK;
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
    free(s->tb);
    util_table_free(&s->touched);
    free(s);
}

static const javm_store_vtbl rados_vtbl = {
    r_get, r_begin, r_put, r_del, r_commit, r_abort, r_scan, r_close, r_touch, r_collect, r_put_stream,
    r_get_stream,
};

JAVM_API int javm_store_rados_home(javm_store *st, const uint8_t *name, size_t len)
{
    /* by a member, as the gc calls: a wrapper copying the vtbl (tools/testhook.c) is this store */
    if (!st || st->vtbl->collect != r_collect || (len && !name) || len > 255)
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
    s->touched = UTIL_TABLE_INIT(tslot);
    s->gc_grace = GC_GRACE_DEFAULT;
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
