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
    javm_decode_err err;
    javm_cap *cap = NULL;
    int rc = cap_decode_record(val, vlen, &cap, &err);
    f->format2_records |= vlen >= 1 && val[0] == CAP_RECORD_DATA_REFS;
    if (rc == JAVM_ERR_ALLOC)
        return f->rc = rc;
    if (rc) {
        problem(f, "blob-decode", "blobs", key, 32, "does not decode: %s at offset %llu",
                javm_strerror(vlen < 1 ? rc : err.reason),
                (unsigned long long)(vlen < 1 ? 0 : err.offset + 1));
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
        for (uint64_t i = g * CAP_RUN_PAGES; i < d->n_pages && i < (g + 1) * CAP_RUN_PAGES; i++)
            if (d->pages[i].state == JAVM_PAGE_LOADED) {
                by_hash = cap_page_unfilled(&d->pages[i]);
                hs[n++] = d->pages[i].hash;
            }
        if (!n || !by_hash)
            continue;
        cap_run_key(hs, n, &k);
        fblob *t = find(f, &k);
        if (reach) {
            if (t && t->page)
                t->reached = true;
        } else if (!t || !t->page) {
            char hex[65];
            javm_hash_to_hex(&k, hex);
            problem(f, "run-missing", "blobs", from->h.b, 32, "pages %llu.. are run %s, %s",
                    (unsigned long long)(g * CAP_RUN_PAGES), hex, t ? "a bad record" : "absent");
        } else {
            t->holders++;
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
        v[0] < 1 || v[0] > 2 || v[1] || v[2] || v[3])
        problem(f, "meta", "meta", kf, 6, "format is not u32 1 or 2");
    else if (v[0] == 1 && f->format2_records)
        problem(f, "meta", "meta", kf, 6, "format 1, but the store holds format-2 records");
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
        qsort(f.b, f.n, sizeof *f.b, cmp_blob);
        rc = s->vtbl->scan(s, JAVM_TABLE_REFCOUNTS, on_refcount, &f);
    }
    for (size_t i = 0; rc == JAVM_OK && i < f.n; i++) {
        edge_ctx e = { &f, &f.b[i] };
        if (f.b[i].cap) {
            cap_for_each_edge(f.b[i].cap, count_edge, &e);
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
        walk_runs(&f, b, true);
    }
    bool shared = (s->flags & JAVM_STORE_SHARED) != 0; /* no stored refcounts */
    for (size_t i = 0; rc == JAVM_OK && i < f.n; i++) {
        fblob *b = &f.b[i];
        if (!b->cap && !b->page)
            continue;
        if (shared)
            ;
        else if (!b->has_count)
            problem(&f, "refcount-missing", "refcounts", b->h.b, 32, "no refcount for a stored blob");
        else if (b->count < b->holders)
            problem(&f, "refcount-low", "refcounts", b->h.b, 32,
                    "count %u, but %u holders (names, files, edges) were found", b->count,
                    b->holders);
        else if (b->page && b->count != b->holders && b->count != JAVM_REFCOUNT_MAX)
            problem(&f, "refcount-high", "refcounts", b->h.b, 32,
                    "a run counted %u times but named by %u Data records", b->count, b->holders);
        else
            st->extra_holds += b->count - b->holders;
        st->unreachable += !b->reached;
    }
    for (size_t i = 0; i < f.n; i++)
        javm_cap_free(f.b[i].cap);
    free(f.b);
    free(f.stack);
    return rc ? rc : f.rc;
}
