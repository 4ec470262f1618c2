/* SPDX-License-Identifier: MIT
 * store/store_lmdb.c — the persistent javm_store on LMDB (caps.md §5.7): one environment per
 * directory, the six tables as named databases, the vtbl's write transaction as LMDB's (so
 * writers in different processes serialise on its lock), reads outside it copied out of short
 * read transactions. Persistence layer; decisions in docs/store.md. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "store/lmdb_file.h"
#include "store/store.h"

#define LMDB_DEFAULT_MAP (1ull << 30)
/* LMDB's compile-time key limit (mdb_env_get_maxkeysize) in the Debian build. */
#define LMDB_MAX_KEY 511
/* Copies handed out by get outside a write transaction are kept until the next
 * put/del/begin/commit/abort/close (the vtbl's lifetime); a process that only reads would grow
 * them without bound, so past this many bytes the oldest are recycled (docs/store.md). */
#define ARENA_RECYCLE (64u << 20)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    uint8_t bytes[];
} arena_chunk;

typedef struct store_lmdb {
    javm_store base; /* first: the javm_store header */
    MDB_env *env;
    MDB_dbi dbi[JAVM_TABLE_COUNT];
    MDB_txn *wtxn;   /* the vtbl's write transaction, or NULL */
    int wfail;       /* a write failed: the LMDB transaction is gone, awaiting abort */
    MDB_txn *rtxn;   /* reusable read transaction, reset between gets */
    arena_chunk *copies;
    size_t copied;
    bool read_only;
    int lock_fd;     /* javm.lock: this process's open-file-description lock, or -1 */
    /* The shared read-only file mapping found by in_file_map (LMDB's map), [0, 0) until one
     * is found; forgotten whenever LMDB may map the file elsewhere (mdb_env_set_mapsize). */
    uintptr_t map_lo, map_hi;
} store_lmdb;

static int check_file(int fd, const char *fp, bool every_page, lmdbf_info *out, char *msg,
                      size_t msglen);

/* ==== errors =============================================================================== */

static int map_lmdb_rc(int mrc)
{
    switch (mrc) {
    case MDB_NOTFOUND: return JAVM_ERR_NOT_FOUND;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case ENOSPC: return JAVM_ERR_STORE_FULL;
    case EACCES:
    case EROFS:
    case EPERM: return JAVM_ERR_STORE_READONLY;
    case ENOMEM: return JAVM_ERR_ALLOC;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH: return JAVM_ERR_STORE_FORMAT;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND: return JAVM_ERR_STORE_CORRUPT;
    default: return JAVM_ERR_STORE;
    }
}

/* Every LMDB failure comes through here: the status, and a message naming what was being done
 * and to which record, with mdb_strerror's text. */
static int lmdb_fail(store_lmdb *s, int mrc, const char *op, javm_table t, const uint8_t *key,
                     size_t klen)
{
    char where[120] = "";
    if (key)
        store_describe_key(where, sizeof where, t, key, klen);
    store_set_errmsg(&s->base, "lmdb %s%s%s: %s", op, key ? " " : "", where, mdb_strerror(mrc));
    return map_lmdb_rc(mrc);
}

/* Whether the filesystem holding data.mdb is full. LMDB turns a short pwrite of its dirty
 * pages (the disk filled part-way) into EIO ("short write, filesystem full?" in mdb.c), so a
 * failed commit is checked here: less than DISK_FULL_SLACK bytes left (for root, counting the
 * blocks reserved for root, which it may use) is a full disk, i.e. STORE_FULL. */
#define DISK_FULL_SLACK (1u << 20)
static bool disk_full(store_lmdb *s, uint64_t *free_bytes)
{
    int fd;
    struct statvfs sv;
    if (mdb_env_get_fd(s->env, &fd) || fstatvfs(fd, &sv))
        return false;
    uint64_t blocks = geteuid() == 0 ? sv.f_bfree : sv.f_bavail;
    *free_bytes = blocks * (uint64_t)sv.f_frsize;
    return *free_bytes < DISK_FULL_SLACK;
}

/* ==== copies for reads outside the write transaction ====================================== */

static void arena_reset(store_lmdb *s)
{
    arena_chunk *c = s->copies;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    s->copies = NULL;
    s->copied = 0;
}

static const uint8_t *arena_copy(store_lmdb *s, const void *p, size_t n)
{
    if (s->copied > ARENA_RECYCLE)
        arena_reset(s);
    arena_chunk *c = malloc(sizeof *c + (n ? n : 1));
    if (!c)
        return NULL;
    c->next = s->copies;
    c->size = n;
    if (n)
        memcpy(c->bytes, p, n);
    s->copies = c;
    s->copied += n;
    return c->bytes;
}

/* ==== transactions ========================================================================= */

/* Begins an LMDB transaction, adopting a map grown by another process (MDB_MAP_RESIZED) and
 * clearing reader slots of dead processes when the table is full. */
static int txn_begin(store_lmdb *s, unsigned flags, MDB_txn **out)
{
    int mrc = mdb_txn_begin(s->env, NULL, flags, out);
    for (int tries = 0; tries < 2 && (mrc == MDB_MAP_RESIZED || mrc == MDB_READERS_FULL); tries++) {
        if (mrc == MDB_MAP_RESIZED)
            s->map_lo = s->map_hi = 0, mdb_env_set_mapsize(s->env, 0);
        else
            mdb_reader_check(s->env, NULL);
        mrc = mdb_txn_begin(s->env, NULL, flags, out);
    }
    return mrc;
}

/* The reusable read transaction, renewed to the latest committed state. */
static int rtxn_renew(store_lmdb *s)
{
    if (!s->rtxn)
        return txn_begin(s, MDB_RDONLY, &s->rtxn);
    int mrc = mdb_txn_renew(s->rtxn);
    if (mrc == MDB_MAP_RESIZED || mrc == MDB_READERS_FULL) {
        mdb_txn_abort(s->rtxn);
        s->rtxn = NULL;
        return txn_begin(s, MDB_RDONLY, &s->rtxn);
    }
    return mrc;
}

/* Ends the vtbl transaction after a failed write: LMDB accepts only abort once a write has
 * failed (MDB_TXN_ERROR), so the lock is released now and the vtbl's abort just clears the
 * failure. */
static int poison(store_lmdb *s, int status)
{
    if (s->wtxn) {
        mdb_txn_abort(s->wtxn);
        s->wtxn = NULL;
        store_txn_ended(&s->base, false);
    }
    s->wfail = status;
    return status;
}

/* ==== the vtbl ============================================================================= */

static bool key_ok(javm_table t, size_t klen)
{
    return (unsigned)t < JAVM_TABLE_COUNT && klen >= 1 && klen <= LMDB_MAX_KEY;
}

static int lmdb_get(javm_store *base, javm_table t, const uint8_t *key, size_t klen,
                    const uint8_t **val, size_t *vlen)
{
    store_lmdb *s = (store_lmdb *)base;
    if ((unsigned)t >= JAVM_TABLE_COUNT)
        return JAVM_ERR_INVALID_ARG;
    if (!key_ok(t, klen))
        return JAVM_ERR_NOT_FOUND; /* such a key can never have been written */
    if (s->wfail)
        return s->wfail;
    MDB_val k = { klen, (void *)key }, v;
    if (s->wtxn) {
        /* Pointers into the write transaction stay valid until its next write or its end:
         * exactly the vtbl's lifetime. */
        int mrc = mdb_get(s->wtxn, s->dbi[t], &k, &v);
        if (mrc)
            return mrc == MDB_NOTFOUND ? JAVM_ERR_NOT_FOUND : lmdb_fail(s, mrc, "get", t, key, klen);
        *val = v.mv_data;
        *vlen = v.mv_size;
        return JAVM_OK;
    }
    int mrc = rtxn_renew(s);
    if (mrc)
        return lmdb_fail(s, mrc, "read txn", t, key, klen);
    mrc = mdb_get(s->rtxn, s->dbi[t], &k, &v);
    int rc = JAVM_OK;
    if (mrc == MDB_NOTFOUND)
        rc = JAVM_ERR_NOT_FOUND;
    else if (mrc)
        rc = lmdb_fail(s, mrc, "get", t, key, klen);
    else if (!(*val = arena_copy(s, v.mv_data, v.mv_size)))
        rc = JAVM_ERR_ALLOC;
    else
        *vlen = v.mv_size;
    /* Reset at once: an idle reader slot would pin old pages against reuse by writers. */
    mdb_txn_reset(s->rtxn);
    return rc;
}

static int lmdb_begin(javm_store *base)
{
    store_lmdb *s = (store_lmdb *)base;
    if (s->wtxn || s->wfail)
        return JAVM_ERR_BUSY;
    if (s->read_only) {
        store_set_errmsg(base, "lmdb begin: the store was opened read-only");
        return JAVM_ERR_STORE_READONLY;
    }
    arena_reset(s);
    int mrc = txn_begin(s, 0, &s->wtxn);
    if (mrc) {
        s->wtxn = NULL;
        return lmdb_fail(s, mrc, "begin", JAVM_TABLE_META, NULL, 0);
    }
    return JAVM_OK;
}

static int lmdb_put(javm_store *base, javm_table t, const uint8_t *key, size_t klen,
                    const uint8_t *val, size_t vlen)
{
    store_lmdb *s = (store_lmdb *)base;
    if (s->wfail)
        return s->wfail;
    if (!s->wtxn || !key_ok(t, klen))
        return JAVM_ERR_INVALID_ARG;
    arena_reset(s);
    MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
    int mrc = mdb_put(s->wtxn, s->dbi[t], &k, &v, 0);
    if (mrc)
        return poison(s, lmdb_fail(s, mrc, "put", t, key, klen));
    return JAVM_OK;
}

static int lmdb_del(javm_store *base, javm_table t, const uint8_t *key, size_t klen)
{
    store_lmdb *s = (store_lmdb *)base;
    if (s->wfail)
        return s->wfail;
    if (!s->wtxn || (unsigned)t >= JAVM_TABLE_COUNT)
        return JAVM_ERR_INVALID_ARG;
    if (!key_ok(t, klen))
        return JAVM_OK; /* such a key can never have been written */
    arena_reset(s);
    MDB_val k = { klen, (void *)key };
    int mrc = mdb_del(s->wtxn, s->dbi[t], &k, NULL);
    if (mrc && mrc != MDB_NOTFOUND)
        return poison(s, lmdb_fail(s, mrc, "del", t, key, klen));
    return JAVM_OK;
}

static int lmdb_commit(javm_store *base)
{
    store_lmdb *s = (store_lmdb *)base;
    if (s->wfail) {
        int rc = s->wfail;
        s->wfail = 0;
        return rc;
    }
    if (!s->wtxn)
        return JAVM_ERR_INVALID_ARG;
    arena_reset(s);
    /* mdb_txn_commit frees the transaction whether or not it succeeds. */
    int mrc = mdb_txn_commit(s->wtxn);
    s->wtxn = NULL;
    store_txn_ended(base, mrc == 0);
    if (mrc == EIO || mrc == ENOSPC) {
        uint64_t free_bytes;
        if (disk_full(s, &free_bytes)) {
            store_set_errmsg(base, "lmdb commit: no space left on device (%llu bytes free where "
                             "data.mdb lives); the store keeps its last commit",
                             (unsigned long long)free_bytes);
            return JAVM_ERR_STORE_FULL;
        }
    }
    return mrc ? lmdb_fail(s, mrc, "commit", JAVM_TABLE_META, NULL, 0) : JAVM_OK;
}

static void lmdb_abort(javm_store *base)
{
    store_lmdb *s = (store_lmdb *)base;
    arena_reset(s);
    s->wfail = 0;
    if (s->wtxn) {
        mdb_txn_abort(s->wtxn);
        s->wtxn = NULL;
        store_txn_ended(base, false);
    }
}

static int lmdb_scan(javm_store *base, javm_table t, javm_store_scan_fn cb, void *arg)
{
    store_lmdb *s = (store_lmdb *)base;
    if ((unsigned)t >= JAVM_TABLE_COUNT)
        return JAVM_ERR_INVALID_ARG;
    if (s->wfail)
        return s->wfail;
    /* Outside the write transaction the walk gets its own read transaction (MDB_NOTLS allows
     * several per thread), so a callback may call get, which renews the shared one. */
    MDB_txn *txn = s->wtxn;
    MDB_cursor *cur = NULL;
    int mrc = 0, rc = JAVM_OK;
    if (!txn && (mrc = txn_begin(s, MDB_RDONLY, &txn)))
        return lmdb_fail(s, mrc, "read txn", t, NULL, 0);
    if ((mrc = mdb_cursor_open(txn, s->dbi[t], &cur))) {
        rc = lmdb_fail(s, mrc, "cursor", t, NULL, 0);
        goto out;
    }
    MDB_val k, v;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == JAVM_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        rc = cb(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
    if (rc == JAVM_OK && mrc != MDB_NOTFOUND)
        rc = lmdb_fail(s, mrc, "scan", t, NULL, 0);
    mdb_cursor_close(cur);
out:
    if (txn != s->wtxn)
        mdb_txn_abort(txn);
    return rc;
}

static void lmdb_close(javm_store *base)
{
    store_lmdb *s = (store_lmdb *)base;
    lmdb_abort(base);
    if (s->rtxn)
        mdb_txn_abort(s->rtxn);
    if (s->env)
        mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the lock */
    arena_reset(s);
    free(s);
}

/* ---- streamed records (docs/store.md "Streamed blobs") ---------------------------------- */

typedef struct lmdb_writer {
    uint8_t *dst; /* the reserved value, filled in order */
    size_t left;
} lmdb_writer;

static int lmdb_write_piece(void *warg, const uint8_t *p, size_t n)
{
    lmdb_writer *w = warg;
    if (n > w->left)
        return JAVM_ERR_INVALID_ARG;
    memcpy(w->dst, p, n);
    w->dst += n;
    w->left -= n;
    return JAVM_OK;
}

/* MDB_RESERVE: LMDB makes room for the value in the transaction's pages and the producer
 * writes straight into it, so no caller buffer holds the record. A failure leaves a partly
 * written value, so the transaction is ended (poisoned) as after a failed put. */
static int lmdb_put_stream(javm_store *base, javm_table t, const uint8_t *key, size_t klen,
                           uint64_t len, int (*produce)(void *, javm_store_write_fn, void *),
                           void *arg)
{
    store_lmdb *s = (store_lmdb *)base;
    if (s->wfail)
        return s->wfail;
    if (!s->wtxn || !key_ok(t, klen) || len > SIZE_MAX)
        return JAVM_ERR_INVALID_ARG;
    arena_reset(s);
    MDB_val k = { klen, (void *)key }, v = { (size_t)len, NULL };
    int mrc = mdb_put(s->wtxn, s->dbi[t], &k, &v, MDB_RESERVE);
    if (mrc)
        return poison(s, lmdb_fail(s, mrc, "put", t, key, klen));
    lmdb_writer w = { v.mv_data, (size_t)len };
    int rc = produce(arg, lmdb_write_piece, &w);
    if (rc == JAVM_OK && w.left)
        rc = JAVM_ERR_INVALID_ARG;
    if (rc) {
        char what[96];
        store_describe_key(what, sizeof what, t, key, klen);
        store_set_errmsg(base, "lmdb put_stream %s: the record was not written whole (%s); the "
                         "transaction is aborted", what, javm_strerror(rc));
        return poison(s, rc);
    }
    return JAVM_OK;
}

/* Pieces of a value read in place. A piece of the memory map that has been consumed is given
 * back (MADV_DONTNEED on its whole pages: the next touch maps it again from the page cache),
 * so reading a large value does not leave it in this process's resident set. Values written
 * by the open transaction live in LMDB's heap pages, which are never advised. */
#define LMDB_PIECE ((size_t)1 << 20)

typedef struct lmdb_reader {
    const uint8_t *start; /* the value's first byte */
    const uint8_t *p;    /* next byte to give */
    size_t left;
    const uint8_t *kept; /* start of the given bytes not yet released */
    bool in_map;
    size_t page;
} lmdb_reader;

static void lmdb_release(lmdb_reader *r)
{
    if (!r->in_map)
        return;
    uintptr_t lo = ((uintptr_t)r->kept + r->page - 1) & ~(uintptr_t)(r->page - 1);
    uintptr_t hi = (uintptr_t)r->p & ~(uintptr_t)(r->page - 1);
    if (r->left == 0) {
        /* Everything given: a value this large fills overflow pages of its own, header page
         * first, so the pages holding its first and last bytes go too. */
        lo = r->kept == r->start ? (uintptr_t)r->start & ~(uintptr_t)(r->page - 1) : lo;
        hi = ((uintptr_t)r->p + r->page - 1) & ~(uintptr_t)(r->page - 1);
    }
    if (hi > lo) {
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED); /* advice: a failure only costs RSS */
        r->kept = (const uint8_t *)hi;
    }
}

static int lmdb_read_piece(void *rarg, const uint8_t **p, size_t *n)
{
    lmdb_reader *r = rarg;
    lmdb_release(r);
    size_t k = r->left < LMDB_PIECE ? r->left : LMDB_PIECE;
    *p = r->p;
    *n = k;
    r->p += k;
    r->left -= k;
    return JAVM_OK;
}

/* Whether [p, p + n) lies in a shared read-only file mapping: LMDB's map of data.mdb (without
 * MDB_WRITEMAP), the only such mapping LMDB hands out values from; its dirty pages are heap.
 * LMDB does not publish the map's address (mdb_env_info gives it only for MDB_FIXEDMAP), so
 * /proc/self/maps says; read only for values worth releasing. */
static bool in_file_map(store_lmdb *s, const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    if (a >= s->map_lo && a < s->map_hi)
        return n <= s->map_hi - a;
    FILE *fp = fopen("/proc/self/maps", "r");
    if (!fp)
        return false;
    char *line = NULL;
    size_t cap = 0;
    bool ok = false;
    while (getline(&line, &cap, fp) > 0) {
        unsigned long lo, hi, off, ino;
        unsigned maj, mnr;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms, &off, &maj, &mnr, &ino) != 7)
            continue;
        if (a >= lo && a < hi) {
            ok = n <= hi - a && ino != 0 && strcmp(perms, "r--s") == 0;
            if (ino != 0 && strcmp(perms, "r--s") == 0) {
                s->map_lo = lo;
                s->map_hi = hi;
            }
            break;
        }
    }
    free(line);
    fclose(fp);
    return ok;
}

/* Values from LMDB_RELEASE_MIN bytes up have their map pages released once read (a format-2
 * run is 64 KiB: the runs of a 64 MiB Data would otherwise stay resident beside it). */
#define LMDB_RELEASE_MIN ((size_t)32 << 10)

static int lmdb_consume(store_lmdb *s, const MDB_val *v,
                        int (*consume)(void *, uint64_t, javm_store_read_fn, void *), void *arg)
{
    long page = sysconf(_SC_PAGESIZE);
    lmdb_reader r = { v->mv_data, v->mv_data, v->mv_size, v->mv_data, false,
                      page > 0 ? (size_t)page : 4096 };
    r.in_map = v->mv_size >= LMDB_RELEASE_MIN && in_file_map(s, v->mv_data, v->mv_size);
    int rc = consume(arg, v->mv_size, lmdb_read_piece, &r);
    lmdb_release(&r); /* everything given */
    return rc;
}

static int lmdb_get_stream(javm_store *base, javm_table t, const uint8_t *key, size_t klen,
                           int (*consume)(void *, uint64_t, javm_store_read_fn, void *), void *arg)
{
    store_lmdb *s = (store_lmdb *)base;
    if ((unsigned)t >= JAVM_TABLE_COUNT)
        return JAVM_ERR_INVALID_ARG;
    if (!key_ok(t, klen))
        return JAVM_ERR_NOT_FOUND;
    if (s->wfail)
        return s->wfail;
    MDB_val k = { klen, (void *)key }, v;
    if (s->wtxn) {
        int mrc = mdb_get(s->wtxn, s->dbi[t], &k, &v);
        if (mrc)
            return mrc == MDB_NOTFOUND ? JAVM_ERR_NOT_FOUND : lmdb_fail(s, mrc, "get", t, key, klen);
        return lmdb_consume(s, &v, consume, arg);
    }
    int mrc = rtxn_renew(s);
    if (mrc)
        return lmdb_fail(s, mrc, "read txn", t, key, klen);
    mrc = mdb_get(s->rtxn, s->dbi[t], &k, &v);
    int rc;
    if (mrc == MDB_NOTFOUND)
        rc = JAVM_ERR_NOT_FOUND;
    else if (mrc)
        rc = lmdb_fail(s, mrc, "get", t, key, klen);
    else
        rc = lmdb_consume(s, &v, consume, arg); /* read in place, under the read txn */
    mdb_txn_reset(s->rtxn);
    return rc;
}

static const javm_store_vtbl store_lmdb_vtbl = {
    lmdb_get, lmdb_begin, lmdb_put, lmdb_del, lmdb_commit, lmdb_abort, lmdb_scan, lmdb_close, NULL, NULL,
    lmdb_put_stream, lmdb_get_stream,
};

/* ==== open ================================================================================= */

static const char *const db_names[JAVM_TABLE_COUNT] = {
    "blobs", "refcounts", "files", "quotas", "names", "meta",
};

/* Opens the six named databases. A writer creates them (the first open of a store); a
 * read-only open of an environment without them is not a javm store. Handles opened in a
 * transaction become the environment's at its commit. */
static int open_tables(store_lmdb *s)
{
    MDB_txn *txn;
    int mrc = txn_begin(s, s->read_only ? MDB_RDONLY : 0, &txn);
    if (mrc)
        return lmdb_fail(s, mrc, "open tables", JAVM_TABLE_META, NULL, 0);
    for (int t = 0; t < JAVM_TABLE_COUNT && mrc == 0; t++)
        mrc = mdb_dbi_open(txn, db_names[t], s->read_only ? 0 : MDB_CREATE, &s->dbi[t]);
    if (mrc) {
        mdb_txn_abort(txn);
        if (mrc == MDB_NOTFOUND || mrc == MDB_INCOMPATIBLE) {
            store_set_errmsg(&s->base, "lmdb: the environment holds no javm tables");
            return JAVM_ERR_STORE_FORMAT;
        }
        return lmdb_fail(s, mrc, "open tables", JAVM_TABLE_META, NULL, 0);
    }
    mrc = mdb_txn_commit(txn);
    return mrc ? lmdb_fail(s, mrc, "open tables", JAVM_TABLE_META, NULL, 0) : JAVM_OK;
}

/* LMDB forbids opening one environment twice in a process (closing the second handle drops
 * the first one's POSIX locks), and nothing in LMDB stops it. Each handle takes an
 * open-file-description lock on byte `pid` of <path>/javm.lock: a second handle of the same
 * process conflicts with it (another open file description), other processes lock their own
 * byte, and the lock goes with the handle or the process. No process-wide registry is needed.
 * Writers lock for writing; a read-only handle locks for reading when the file exists (so two
 * read-only handles of one process are not told apart). JAVM_ERR_BUSY when already open. */
static int claim_path(store_lmdb *s, const char *path)
{
    char lp[4096];
    if ((size_t)snprintf(lp, sizeof lp, "%s/javm.lock", path) >= sizeof lp)
        return JAVM_ERR_INVALID_ARG;
    s->lock_fd = open(lp, s->read_only ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0)
        return s->read_only || errno == EACCES || errno == EROFS ? JAVM_OK : JAVM_ERR_STORE;
    struct flock fl = { .l_type = s->read_only ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET,
                        .l_start = (off_t)getpid(), .l_len = 1 };
    if (fcntl(s->lock_fd, F_OFD_SETLK, &fl) == 0)
        return JAVM_OK;
    if (errno == EAGAIN || errno == EACCES)
        return JAVM_ERR_BUSY;
    return JAVM_OK; /* no OFD locks here (EINVAL): go on undetected, as before */
}

/* The cheap checks of an existing data.mdb before LMDB maps it (store/lmdb_file.c; docs/store.md,
 * "What a damaged store does"): both meta pages sane, the file as long as the newer one says
 * (LMDB would fault with SIGBUS on a missing page), the main tree and the six table records
 * and root pages in range. Any failure is JAVM_ERR_STORE_CORRUPT with the reason in errmsg: an
 * empty or shortened file is never re-initialised (issue 13 item 11), a missing table never
 * recreated. An absent file is a store to create; *fresh is an environment created but never
 * committed (its tables are then created by open_tables). A read-only open where no file
 * exists is JAVM_ERR_NOT_FOUND: there is no store (`javm ls --store TYPO`). */
static int check_data_file(store_lmdb *s, const char *path, bool *fresh)
{
    char fp[4096];
    *fresh = true;
    if ((size_t)snprintf(fp, sizeof fp, "%s/data.mdb", path) >= sizeof fp)
        return JAVM_ERR_INVALID_ARG;
    int fd = open(fp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) /* absent (created below) or unreadable (mdb_env_open reports it) */
        return s->read_only && errno == ENOENT ? JAVM_ERR_NOT_FOUND : JAVM_OK;
    char msg[sizeof s->base.errmsg] = "";
    lmdbf_info info;
    int rc = check_file(fd, fp, false, &info, msg, sizeof msg);
    close(fd);
    if (rc == JAVM_OK)
        *fresh = info.fresh;
    else if (*msg)
        store_set_errmsg(&s->base, "%s", msg);
    return rc;
}

int javm_store_lmdb_open(const char *path, const javm_lmdb_opts *opts, javm_store **out)
{
    javm_lmdb_opts o = { 0, false, false };
    if (opts)
        o = *opts;
    if (!path || !*path || !out)
        return JAVM_ERR_INVALID_ARG;
    if (!o.read_only && mkdir(path, 0755) != 0 && errno != EEXIST)
        return errno == EACCES || errno == EROFS || errno == EPERM ? JAVM_ERR_STORE_READONLY
                                                                   : JAVM_ERR_STORE;
    store_lmdb *s = calloc(1, sizeof *s);
    if (!s)
        return JAVM_ERR_ALLOC;
    s->base.vtbl = &store_lmdb_vtbl;
    s->read_only = o.read_only;
    s->lock_fd = -1;
    int rc = claim_path(s, path), mrc = 0;
    bool fresh = true;
    if (rc == JAVM_OK)
        rc = check_data_file(s, path, &fresh);
    if (rc) {
        if (s->lock_fd >= 0)
            close(s->lock_fd);
        free(s);
        return rc;
    }
    mrc = mdb_env_create(&s->env);
    if (mrc) {
        s->env = NULL;
        rc = map_lmdb_rc(mrc);
        goto fail;
    }
    /* MDB_NOTLS: read transactions belong to their handle, not the thread, so a scan's own
     * read transaction can coexist with the reusable one. */
    unsigned flags = MDB_NOTLS | (o.no_sync ? MDB_NOSYNC : 0) | (o.read_only ? MDB_RDONLY : 0);
    if ((mrc = mdb_env_set_maxdbs(s->env, JAVM_TABLE_COUNT + 2)) ||
        (mrc = mdb_env_set_mapsize(s->env, o.map_size ? o.map_size : LMDB_DEFAULT_MAP)) ||
        (mrc = mdb_env_open(s->env, path, flags, 0644))) {
        rc = mrc == ENOENT ? JAVM_ERR_STORE : map_lmdb_rc(mrc);
        goto fail;
    }
    /* A process killed inside a read transaction leaves its reader slot behind, pinning old
     * pages; clear those of dead processes now. (A writer killed holding the write lock is
     * recovered by LMDB's robust mutex at the next begin.) */
    int dead = 0;
    mdb_reader_check(s->env, &dead);
    if ((rc = open_tables(s)))
        goto fail;
    *out = &s->base;
    return JAVM_OK;
fail:
    lmdb_close(&s->base);
    return rc;
}

/* ==== verification ======================================================================== */

/* Checks the data file open on fd (at path fp): lmdbf_check, and with every_page the walk.
 * No LMDB reader slot pins the pages read here, so a writer in another process may commit
 * meanwhile. It reuses the pages of transaction T only once T + 2 is committed: a failure is
 * final when the newer meta page then is at most one commit past the state read, and the check
 * is redone otherwise. Used at every open and by javm_store_lmdb_verify. */
static int check_file(int fd, const char *fp, bool every_page, lmdbf_info *out, char *msg,
                      size_t msglen)
{
    int rc = JAVM_OK;
    for (int tries = 0; tries < 8; tries++) {
        struct stat st;
        lmdbf_info info = { 0 }, now;
        if (fstat(fd, &st)) {
            snprintf(msg, msglen, "stat %s: %s", fp, strerror(errno));
            rc = JAVM_ERR_STORE;
            break;
        }
        rc = lmdbf_check(fd, (uint64_t)st.st_size, db_names, JAVM_TABLE_COUNT, &info, msg, msglen);
        if (rc == JAVM_OK && every_page && !info.fresh)
            rc = lmdbf_walk(fd, (uint64_t)st.st_size, info.txnid, db_names, JAVM_TABLE_COUNT, msg,
                            msglen);
        if (rc == JAVM_OK && out)
            *out = info;
        if (rc != JAVM_ERR_STORE_CORRUPT && rc != JAVM_ERR_CONFLICT)
            break;
        char again[64];
        if (fstat(fd, &st) || lmdbf_check(fd, (uint64_t)st.st_size, db_names, JAVM_TABLE_COUNT,
                                          &now, again, sizeof again) != JAVM_OK ||
            (rc == JAVM_ERR_STORE_CORRUPT && info.txnid && now.txnid <= info.txnid + 1) ||
            (rc == JAVM_ERR_STORE_CORRUPT && !info.txnid && now.txnid == 0))
            break;
        rc = JAVM_ERR_STORE_CORRUPT; /* the file kept changing: the last reason stands */
    }
    return rc;
}


int javm_store_lmdb_verify(const char *path, bool every_page, char *msg, size_t msglen)
{
    if (!path || !*path || !msg || !msglen)
        return JAVM_ERR_INVALID_ARG;
    msg[0] = 0;
    char fp[4096];
    if ((size_t)snprintf(fp, sizeof fp, "%s/data.mdb", path) >= sizeof fp)
        return JAVM_ERR_INVALID_ARG;
    int fd = open(fp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        snprintf(msg, msglen, "%s: %s", fp, strerror(err));
        return err == ENOENT ? JAVM_ERR_NOT_FOUND
               : err == EACCES || err == EPERM ? JAVM_ERR_STORE_READONLY : JAVM_ERR_STORE;
    }
    int rc = check_file(fd, fp, every_page, NULL, msg, msglen);
    close(fd);
    return rc;
}

/* ==== backup and restore =================================================================== */

/* fsyncs path (a file or a directory); errno on failure. */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int err = errno;
    close(fd);
    errno = err;
    return r;
}

int javm_store_lmdb_backup(javm_store *base, const char *dest)
{
    if (!base || base->vtbl != &store_lmdb_vtbl || !dest || !*dest)
        return JAVM_ERR_INVALID_ARG;
    store_lmdb *s = (store_lmdb *)base;
    char fp[4096];
    if ((size_t)snprintf(fp, sizeof fp, "%s/data.mdb", dest) >= sizeof fp)
        return JAVM_ERR_INVALID_ARG;
    if (mkdir(dest, 0755) && errno != EEXIST) {
        int err = errno;
        store_set_errmsg(base, "backup: cannot create %s: %s", dest, strerror(err));
        return err == EACCES || err == EROFS || err == EPERM ? JAVM_ERR_STORE_READONLY : JAVM_ERR_STORE;
    }
    /* One read transaction for the whole copy: a consistent snapshot while other processes
     * keep committing; MDB_CP_COMPACT leaves out free pages. LMDB creates data.mdb with
     * O_EXCL, so an existing backup is never overwritten. */
    int mrc = mdb_env_copy2(s->env, dest, MDB_CP_COMPACT);
    if (mrc == EEXIST) {
        store_set_errmsg(base, "backup: %s already exists (not overwritten)", fp);
        return JAVM_ERR_INVALID_ARG;
    }
    if (mrc) {
        unlink(fp); /* a partial copy must not look like a backup */
        if (mrc == ENOSPC || mrc == EIO) {
            store_set_errmsg(base, "backup to %s: %s", dest, mdb_strerror(mrc));
            return JAVM_ERR_STORE_FULL;
        }
        return lmdb_fail(s, mrc, "backup", JAVM_TABLE_META, NULL, 0);
    }
    if (sync_path(fp) || sync_path(dest)) {
        int err = errno;
        unlink(fp);
        store_set_errmsg(base, "backup: fsync %s: %s", fp, strerror(err));
        return err == ENOSPC ? JAVM_ERR_STORE_FULL : JAVM_ERR_STORE;
    }
    return JAVM_OK;
}

int javm_store_lmdb_restore(const char *src, const char *dest, char *msg, size_t msglen)
{
    if (!src || !*src || !dest || !*dest || !msg || !msglen)
        return JAVM_ERR_INVALID_ARG;
    msg[0] = 0;
    char lp[4096], tmp[4096], tf[4096], df[4096], lk[4096];
    if ((size_t)snprintf(lp, sizeof lp, "%s/javm.lock", dest) >= sizeof lp ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/restore.tmp", dest) >= sizeof tmp ||
        (size_t)snprintf(tf, sizeof tf, "%s/data.mdb", tmp) >= sizeof tf ||
        (size_t)snprintf(df, sizeof df, "%s/data.mdb", dest) >= sizeof df ||
        (size_t)snprintf(lk, sizeof lk, "%s/lock.mdb", dest) >= sizeof lk)
        return JAVM_ERR_INVALID_ARG;
    if (mkdir(dest, 0755) && errno != EEXIST) {
        snprintf(msg, msglen, "cannot create %s: %s", dest, strerror(errno));
        return JAVM_ERR_STORE_READONLY;
    }
    /* No process may have the store open: every handle locks one byte of javm.lock, so a
     * lock on the whole file succeeds only when there is none, and keeps new handles out
     * (their open is JAVM_ERR_BUSY) until the restore is done. */
    int lfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) {
        snprintf(msg, msglen, "cannot open %s: %s", lp, strerror(errno));
        return errno == EACCES || errno == EROFS ? JAVM_ERR_STORE_READONLY : JAVM_ERR_STORE;
    }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    if (fcntl(lfd, F_OFD_SETLK, &fl)) {
        close(lfd);
        snprintf(msg, msglen, "the store %s is open in another process", dest);
        return JAVM_ERR_BUSY;
    }
    javm_store *from = NULL;
    javm_lmdb_opts o = { 0, false, true };
    int rc = javm_store_lmdb_open(src, &o, &from);
    if (rc) {
        snprintf(msg, msglen, "cannot open the backup %s: %s", src, javm_strerror(rc));
        goto done;
    }
    unlink(tf);
    if (mkdir(tmp, 0755) && errno != EEXIST) {
        snprintf(msg, msglen, "cannot create %s: %s", tmp, strerror(errno));
        rc = JAVM_ERR_STORE;
        goto done;
    }
    if ((rc = javm_store_lmdb_backup(from, tmp))) {
        snprintf(msg, msglen, "%s", javm_store_errmsg(from));
        goto done;
    }
    /* the copy is complete and synced: it replaces data.mdb in one rename; LMDB's lock.mdb
     * (reader table of the old file) goes, it is rebuilt at the next open */
    if (rename(tf, df) || sync_path(dest)) {
        snprintf(msg, msglen, "cannot move the copy to %s: %s", df, strerror(errno));
        rc = JAVM_ERR_STORE;
        goto done;
    }
    unlink(lk);
done:
    unlink(tf);
    rmdir(tmp);
    javm_store_close(from);
    close(lfd);
    return rc;
}
