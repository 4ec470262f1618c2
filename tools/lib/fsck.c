/* SPDX-License-Identifier: MIT
 * tools/lib/fsck.c — see fsck.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cap/cap.h"
#include "fsck.h"

typedef struct fblob {
    javm_hash h;
    javm_cap *cap;    /* NULL when the record is bad, or a page */
    bool page;        /* a good run record (format 2: docs/store.md) */
    javm_chunk *chunk; /* a good chunk record (format 3), its page list */
    unsigned chunk_n;  /* its slots */
    bool by_chunks;   /* cap is a format-3 Data record, its chunks read from their records */
    bool has_count;
    uint32_t count, holders;
    bool reached;
} fblob;

typedef struct fctx {
    javm_store *s;
    tl_fsck_report report;
    void *arg;
    tl_fsck_stats *st;
    fblob *b;
    size_t n, cap;
    int rc;
    bool format2_records; /* a run or by-hash Data record was seen */
    bool format3_records; /* a chunk or by-chunk Data record was seen */
    javm_hash *stack; /* reachability worklist */
    size_t sn, scap;
} fctx;

static void problem(fctx *f, const char *kind, const char *table, const uint8_t *key,
                    size_t klen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void problem(fctx *f, const char *kind, const char *table, const uint8_t *key,
                    size_t klen, const char *fmt, ...)
{
    char where[160], detail[256];
    int w = snprintf(where, sizeof where, "%s[", table);
    for (size_t i = 0; i < klen && w < (int)sizeof where - 4; i++)
        w += snprintf(where + w, sizeof where - (size_t)w, "%02x", key[i]);
    snprintf(where + w, sizeof where - (size_t)w, "]");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    f->st->problems++;
    f->report(f->arg, kind, where, detail);
}

static int cmp_blob(const void *a, const void *b)
{
    return memcmp(((const fblob *)a)->h.b, ((const fblob *)b)->h.b, 32);
}

static fblob *find(fctx *f, const javm_hash *h)
{
    if (f->n == 0)
        return NULL; /* no blobs: f->b may be NULL, which bsearch must not be given */
    fblob k;
    k.h = *h;
    return bsearch(&k, f->b, f->n, sizeof *f->b, cmp_blob);
}

static int on_blob(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    fctx *f = arg;
    f->st->blobs++;
    if (klen != 32) {
        problem(f, "blob-key", "blobs", key, klen, "a key of %zu bytes", klen);
        return 0;
    }
    if (f->n == f->cap) {
        size_t c = f->cap ? 2 * f->cap : 256;
        fblob *nb = realloc(f->b, c * sizeof *nb);
        if (!nb)
            return f->rc = JAVM_ERR_ALLOC;
        f->b = nb;
        f->cap = c;
    }
    fblob *b = &f->b[f->n++];
    memset(b, 0, sizeof *b);
    memcpy(b->h.b, key, 32);
    if (vlen >= 1 && val[0] == CAP_RECORD_RUN) {
        size_t n = (vlen - 1) / JAVM_PAGE_SIZE;
        javm_hash hs[CAP_RUN_PAGES], k;
        if (n < 1 || n > CAP_RUN_PAGES || (vlen - 1) % JAVM_PAGE_SIZE) {
            problem(f, "run-size", "blobs", key, 32, "a run record of %zu bytes", vlen);
        } else {
            for (size_t i = 0; i < n; i++)
                javm_blake2b(val + 1 + i * JAVM_PAGE_SIZE, JAVM_PAGE_SIZE, &hs[i]);
            cap_run_key(hs, n, &k);
            if (memcmp(k.b, key, 32) != 0)
                problem(f, "blob-hash", "blobs", key, 32, "the run's pages hash to another key");
            else
                b->page = true;
        }
        f->format2_records = true;
        return 0;
    }
    if (vlen >= 1 && val[0] == CAP_RECORD_CHUNK) {
        javm_hash h;
        javm_chunk *ch = cap_chunk_new();
        if (!ch)
            return f->rc = JAVM_ERR_ALLOC;
        f->format3_records = true;
        javm_blake2b(val, vlen, &h);
        if (vlen < 2 || cap_chunk_from_record(val, vlen, val[1], ch)) { /* it refuses a count over 64 */
            problem(f, "blob-decode", "blobs", key, 32, "not a chunk record");
            cap_chunk_unref(ch);
        } else if (memcmp(h.b, key, 32) != 0) {
            problem(f, "blob-hash", "blobs", key, 32, "the chunk record hashes to another key");
            cap_chunk_unref(ch);
        } else {
            b->chunk = ch;
            b->chunk_n = val[1];
        }
        return 0;
    }
    javm_decode_err err;
    javm_cap *cap = NULL;
    int rc = cap_decode_record(val, vlen, &cap, &err);
    f->format2_records |= vlen >= 1 && val[0] == CAP_RECORD_DATA_REFS;
    f->format3_records |= vlen >= 1 && val[0] == CAP_RECORD_DATA_CHUNKS;
    if (rc == JAVM_ERR_ALLOC)
        return f->rc = rc;
    if (rc) {
        problem(f, "blob-decode", "blobs", key, 32, "does not decode: %s at offset %llu",
                javm_strerror(vlen < 1 ? rc : err.reason),
                (unsigned long long)(vlen < 1 ? 0 : err.offset + 1));
        return 0;
    }
    if (val[0] == CAP_RECORD_DATA_CHUNKS) { /* hashed once its chunks are read (resolve) */
        b->cap = cap;
        b->by_chunks = true;
        return 0;
    }
    javm_hash h;
    if ((rc = javm_cap_hash(cap, &h)) || memcmp(h.b, key, 32) != 0) {
        char hex[65] = "(cannot hash)";
        if (!rc)
            javm_hash_to_hex(&h, hex);
        problem(f, "blob-hash", "blobs", key, 32, "the record hashes to %s", hex);
        javm_cap_free(cap);
        return 0;
    }
    b->cap = cap;
    return 0;
}

static int on_refcount(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    fctx *f = arg;
    fblob *b = NULL;
    if (klen == 32) {
        javm_hash h;
        memcpy(h.b, key, 32);
        b = find(f, &h);
    }
    if (!b) {
        problem(f, "refcount-orphan", "refcounts", key, klen, "no blob with this key");
        return 0;
    }
    if (vlen != 4) {
        problem(f, "refcount-size", "refcounts", key, klen, "a record of %zu bytes", vlen);
        return 0;
    }
    b->has_count = true;
    b->count = (uint32_t)val[0] | (uint32_t)val[1] << 8 | (uint32_t)val[2] << 16 |
               (uint32_t)val[3] << 24;
    return 0;
}

static int push(fctx *f, const javm_hash *h)
{
    if (f->sn == f->scap) {
        size_t c = f->scap ? 2 * f->scap : 256;
        javm_hash *ns = realloc(f->stack, c * sizeof *ns);
        if (!ns)
            return f->rc = JAVM_ERR_ALLOC;
        f->stack = ns;
        f->scap = c;
    }
    f->stack[f->sn++] = *h;
    return 0;
}

/* A root (name or file record): one holder, reachable. */
static void root(fctx *f, const char *kind, const char *table, const uint8_t *key, size_t klen,
                 const uint8_t *val, size_t vlen, javm_kind want)
{
    if (vlen != 32) {
        problem(f, kind[0] == 'n' ? "name-size" : "file-size", table, key, klen,
                "a record of %zu bytes", vlen);
        return;
    }
    javm_hash h;
    memcpy(h.b, val, 32);
    fblob *b = find(f, &h);
    if (!b || !b->cap || b->cap->kind != want) {
        char hex[65];
        javm_hash_to_hex(&h, hex);
        problem(f, kind, table, key, klen, "names %s, %s", hex,
                !b ? "absent" : !b->cap ? "a bad record" : "of the wrong kind");
        return;
    }
    b->holders++;
    push(f, &h);
}

static int on_name(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    fctx *f = arg;
    f->st->names++;
    root(f, "name-target", "names", key, klen, val, vlen, JAVM_KIND_INSTANCE);
    return f->rc;
}

static int on_file(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    fctx *f = arg;
    f->st->files++;
    if (klen != 8)
        problem(f, "file-size", "files", key, klen, "a key of %zu bytes", klen);
    else
        root(f, "file-target", "files", key, klen, val, vlen, JAVM_KIND_DATA);
    return f->rc;
}

static int on_quota(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void)val;
    fctx *f = arg;
    f->st->quotas++;
    if (klen != 8 || vlen != 8)
        problem(f, "quota-size", "quotas", key, klen, "a record of %zu bytes under a key of %zu",
                vlen, klen);
    return 0;
}

typedef struct edge_ctx {
    fctx *f;
    const fblob *from;
} edge_ctx;

static int count_edge(void *arg, const javm_key *k)
{
    edge_ctx *e = arg;
    fblob *t = k->tag == JAVM_KEY_HASH ? find(e->f, &k->hash) : NULL;
    if (!t || !t->cap) {
        char hex[65] = "(not a hash)";
        if (k->tag == JAVM_KEY_HASH)
            javm_hash_to_hex(&k->hash, hex);
        problem(e->f, "edge-dangling", "blobs", e->from->h.b, 32, "an edge names %s, %s", hex,
                t ? "a bad record" : "absent");
        return 0;
    }
    t->holders++;
    return 0;
}

/* Run k, named by record `from` for its pages first..: held once more, or reached (reach), or
 * reported missing. */
static void visit_run(fctx *f, const fblob *from, uint64_t first, const javm_hash *k, bool reach)
{
    fblob *t = find(f, k);
    if (reach) {
        if (t && t->page)
            t->reached = true;
    } else if (!t || !t->page) {
        char hex[65];
        javm_hash_to_hex(k, hex);
        problem(f, "run-missing", "blobs", from->h.b, 32, "pages %llu.. are run %s, %s", (unsigned long long)first,
                hex, t ? "a bad record" : "absent");
    } else {
        t->holders++;
    }
}

/* The runs of a format-2 Data record (the Loaded pages of each group of CAP_RUN_PAGES page
 * slots, named by hash): each must be a good run record, held once per Data naming it; with
 * reach, those of a reached Data are reached. */
static void walk_runs(fctx *f, const fblob *from, bool reach)
{
    const javm_data *d = &from->cap->data;
    if (from->cap->kind != JAVM_KIND_DATA || !d->paged)
        return;
    for (uint64_t g = 0; g * CAP_RUN_PAGES < d->n_pages; g++) {
        javm_hash hs[CAP_RUN_PAGES], k;
        size_t n = 0;
        bool by_hash = false;
        for (uint64_t i = g * CAP_RUN_PAGES; i < d->n_pages && i < (g + 1) * CAP_RUN_PAGES; i++) {
            const javm_page *p = javm_data_page(d, i);
            if (p->state == JAVM_PAGE_LOADED) {
                by_hash = cap_page_unfilled(p);
                hs[n++] = p->hash;
            }
        }
        if (!n || !by_hash)
            continue;
        cap_run_key(hs, n, &k);
        visit_run(f, from, g * CAP_RUN_PAGES, &k, reach);
    }
}

/* A format-3 Data record's chunks read from the chunk records (each held once per Data naming
 * it), then its hash checked; a Data whose chunks cannot be read is a bad record. */
static void resolve_chunks(fctx *f, fblob *b)
{
    javm_data *d = &b->cap->data;
    bool ok = true;
    for (uint64_t j = 0; j < cap_chunk_count(d->n_pages); j++) {
        javm_chunk *ch = d->chunks[j];
        if (!ch)
            continue;
        fblob *t = find(f, &ch->key);
        unsigned n = j + 1 < cap_chunk_count(d->n_pages) ? CAP_CHUNK_PAGES
                                                          : (unsigned)(d->n_pages - j * CAP_CHUNK_PAGES);
        if (!t || !t->chunk || t->chunk_n != n) {
            char hex[65];
            javm_hash_to_hex(&ch->key, hex);
            problem(f, "chunk-missing", "blobs", b->h.b, 32, "chunk %llu is record %s, %s",
                    (unsigned long long)j, hex,
                    !t ? "absent" : !t->chunk ? "a bad record" : "of another slot count");
            ok = false;
            continue;
        }
        t->holders++;
        memcpy(ch->pages, t->chunk->pages, sizeof ch->pages);
        ch->pending = false;
    }
    javm_hash h;
    char hex[65] = "(cannot hash)";
    int rc = JAVM_ERR_DATA_MISSING;
    if (ok && (rc = javm_cap_hash(b->cap, &h)) == JAVM_OK && memcmp(h.b, b->h.b, 32) == 0)
        return;
    if (ok) {
        if (!rc)
            javm_hash_to_hex(&h, hex);
        problem(f, "blob-hash", "blobs", b->h.b, 32, "the record hashes to %s", hex);
    }
    javm_cap_free(b->cap);
    b->cap = NULL;
}

/* The runs of a chunk record: each a good run record, held once per chunk record naming it;
 * with reach, those of a reached chunk are reached. */
static void walk_chunk_runs(fctx *f, const fblob *from, bool reach)
{
    javm_hash hs[CAP_RUN_PAGES], k;
    for (unsigned g = 0; g * CAP_RUN_PAGES < from->chunk_n; g++) {
        size_t n = 0;
        for (unsigned i = g * CAP_RUN_PAGES; i < from->chunk_n && i < (g + 1) * CAP_RUN_PAGES; i++)
            if (from->chunk->pages[i].state == JAVM_PAGE_LOADED)
                hs[n++] = from->chunk->pages[i].hash;
        if (!n)
            continue;
        cap_run_key(hs, n, &k);
        visit_run(f, from, g * CAP_RUN_PAGES, &k, reach);
    }
}

/* A reached format-3 Data: its chunks reached, and their runs. */
static void reach_chunks(fctx *f, const fblob *b)
{
    const javm_data *d = &b->cap->data;
    for (uint64_t j = 0; j < cap_chunk_count(d->n_pages); j++) {
        fblob *t = d->chunks[j] ? find(f, &d->chunks[j]->key) : NULL;
        if (t && t->chunk && !t->reached) {
            t->reached = true;
            walk_chunk_runs(f, t, true);
        }
    }
}

static int mark_edge(void *arg, const javm_key *k)
{
    edge_ctx *e = arg;
    fblob *t = k->tag == JAVM_KEY_HASH ? find(e->f, &k->hash) : NULL;
    if (t && t->cap && !t->reached)
        return push(e->f, &k->hash);
    return 0;
}

static void check_meta(fctx *f)
{
    const uint8_t *v;
    size_t vlen;
    static const uint8_t kf[] = "format", kp[] = "hash_profile";
    if (f->s->vtbl->get(f->s, JAVM_TABLE_META, kf, 6, &v, &vlen) != JAVM_OK || vlen != 4 ||
        v[0] < 1 || v[0] > 3 || v[1] || v[2] || v[3])
        problem(f, "meta", "meta", kf, 6, "format is not u32 1, 2 or 3");
    else if (v[0] < 2 && f->format2_records)
        problem(f, "meta", "meta", kf, 6, "format 1, but the store holds format-2 records");
    else if (v[0] < 3 && f->format3_records)
        problem(f, "meta", "meta", kf, 6, "format %u, but the store holds format-3 records", v[0]);
    if (f->s->vtbl->get(f->s, JAVM_TABLE_META, kp, 12, &v, &vlen) != JAVM_OK || vlen != 18 ||
        memcmp(v, "blake2b-256-tagged", 18) != 0)
        problem(f, "meta", "meta", kp, 12, "hash_profile is not blake2b-256-tagged");
}

int tl_fsck(javm_store *s, tl_fsck_report report, void *arg, tl_fsck_stats *st)
{
    memset(st, 0, sizeof *st);
    fctx f = { .s = s, .report = report, .arg = arg, .st = st };
    int rc = s->vtbl->scan(s, JAVM_TABLE_BLOBS, on_blob, &f);
    if (rc == JAVM_OK && f.rc == JAVM_OK) {
        if (f.n > 1)
            qsort(f.b, f.n, sizeof *f.b, cmp_blob);
        rc = s->vtbl->scan(s, JAVM_TABLE_REFCOUNTS, on_refcount, &f);
    }
    for (size_t i = 0; rc == JAVM_OK && i < f.n; i++)
        if (f.b[i].by_chunks)
            resolve_chunks(&f, &f.b[i]);
    for (size_t i = 0; rc == JAVM_OK && i < f.n; i++) {
        edge_ctx e = { &f, &f.b[i] };
        if (f.b[i].chunk)
            walk_chunk_runs(&f, &f.b[i], false);
        if (f.b[i].cap) {
            cap_for_each_edge(f.b[i].cap, count_edge, &e);
            if (!f.b[i].by_chunks)
                walk_runs(&f, &f.b[i], false);
        }
    }
    if (rc == JAVM_OK)
        rc = s->vtbl->scan(s, JAVM_TABLE_NAMES, on_name, &f);
    if (rc == JAVM_OK)
        rc = s->vtbl->scan(s, JAVM_TABLE_FILES, on_file, &f);
    if (rc == JAVM_OK)
        rc = s->vtbl->scan(s, JAVM_TABLE_QUOTAS, on_quota, &f);
    if (rc == JAVM_OK)
        check_meta(&f);
    while (rc == JAVM_OK && f.rc == JAVM_OK && f.sn) {
        javm_hash h = f.stack[--f.sn];
        fblob *b = find(&f, &h);
        if (!b || b->reached)
            continue;
        b->reached = true;
        edge_ctx e = { &f, b };
        cap_for_each_edge(b->cap, mark_edge, &e);
        if (b->by_chunks)
            reach_chunks(&f, b);
        else
            walk_runs(&f, b, true);
    }
    bool shared = (s->flags & JAVM_STORE_SHARED) != 0; /* no stored refcounts */
    for (size_t i = 0; rc == JAVM_OK && i < f.n; i++) {
        fblob *b = &f.b[i];
        if (!b->cap && !b->page && !b->chunk)
            continue;
        if (shared)
            ;
        else if (!b->has_count)
            problem(&f, "refcount-missing", "refcounts", b->h.b, 32, "no refcount for a stored blob");
        else if (b->count < b->holders)
            problem(&f, "refcount-low", "refcounts", b->h.b, 32,
                    "count %u, but %u holders (names, files, edges) were found", b->count,
                    b->holders);
        else if ((b->page || b->chunk) && b->count != b->holders && b->count != JAVM_REFCOUNT_MAX)
            problem(&f, "refcount-high", "refcounts", b->h.b, 32, "a %s counted %u times but named by %u records",
                    b->page ? "run" : "chunk", b->count, b->holders);
        else
            st->extra_holds += b->count - b->holders;
        st->unreachable += !b->reached;
    }
    for (size_t i = 0; i < f.n; i++) {
        javm_cap_free(f.b[i].cap);
        cap_chunk_unref(f.b[i].chunk);
    }
    free(f.b);
    free(f.stack);
    return rc ? rc : f.rc;
}
