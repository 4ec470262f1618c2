/* SPDX-License-Identifier: MIT
 * store/lmdb_file.c — see lmdb_file.h. The layout read here (LMDB 0.9, 64-bit, from the public
 * lmdb.h/mdb.c documentation of MDB_meta, MDB_db, MDB_page and MDB_node):
 *   page header (16 bytes): u64 page number, u16 pad, u16 flags (1 branch, 2 leaf, 4 overflow,
 *     8 meta), then u16 lower, u16 upper (free space bounds) or, on an overflow page, u32 count
 *     of pages in its run.
 *   meta page body (at 16): u32 magic 0xBEEFC0DE, u32 version 1, u64 address, u64 mapsize, two
 *     48-byte table records (free list, main tree; the free list's u32 pad is the page size),
 *     u64 last page used, u64 txnid. Meta page i holds the commits of parity i.
 *   table record (48 bytes): u32 pad, u16 flags, u16 depth, u64 branch, leaf and overflow page
 *     counts, u64 entries, u64 root page (all ones: empty).
 *   branch and leaf pages: (lower - 16) / 2 u16 node offsets at 16; a node is u16 lo, u16 hi,
 *     u16 flags, u16 key size, key, then on a leaf the value (lo | hi << 16 bytes) or, flag 1,
 *     the u64 first page of an overflow run; on a branch lo | hi << 16 | flags << 32 is the
 *     child page. Flag 2 marks a named table's record (48 bytes) in the main tree.
 *   free list: key a u64 txnid, value a u64 count followed by that many u64 page numbers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "javm.h"
#include "store/lmdb_file.h"

#define HDR 16
#define NODE 8
#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_OVERFLOW 0x04
#define P_META 0x08
#define F_BIGDATA 0x01
#define F_SUBDATA 0x02
#define MAGIC 0xBEEFC0DEu
#define VERSION 1
#define INTEGERKEY 0x08
#define FIXEDMAP 0x01
#define DBREC 48
#define NOPAGE UINT64_MAX
#define MAX_DEPTH 32 /* LMDB's cursor stack */
#define MAX_KEY 511
#define MAX_TABLES 16

typedef struct dbrec {
    uint16_t flags, depth;
    uint64_t branch, leaf, overflow, entries, root;
} dbrec;

typedef struct meta {
    uint64_t pgno, last_pg, txnid;
    uint32_t magic, version, psize;
    uint16_t pflags;
    dbrec db[2]; /* free list, main tree */
} meta;

typedef struct rd {
    int fd;
    uint64_t size;
    uint32_t psize;
    uint64_t last_pg;
    char *msg;
    size_t msglen;
    const char *table;  /* being walked, for messages */
    bool is_free, is_main;
    uint8_t *used, *freed; /* bitmaps of last_pg + 1 bits (full walk), or NULL */
    uint8_t *lvl[MAX_DEPTH];
    uint8_t *chunk;        /* free-list values read from overflow runs */
    uint64_t *spans;       /* a page's nodes: offset << 32 | size, sorted to find overlaps */
    uint64_t budget;       /* pages the record allows this tree */
    uint64_t branch, leaf, overflow, entries;
    uint64_t max_txnid;
    /* named tables found in the main tree */
    int ntables;
    char tname[MAX_TABLES][MAX_KEY + 1];
    dbrec tab[MAX_TABLES];
} rd;

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static int corrupt(rd *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, r->msglen, fmt, ap);
    va_end(ap);
    return JAVM_ERR_STORE_CORRUPT;
}

/* "page N of table T: <detail>" */
static int bad_page(rd *r, uint64_t pgno, const char *fmt, ...)
{
    char detail[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return corrupt(r, "page %llu of table %s is corrupt: %s", (unsigned long long)pgno, r->table,
                   detail);
}

/* Reads n bytes at off; a short read is a file shorter than its meta page says. */
static int read_at(rd *r, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(r->fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            snprintf(r->msg, r->msglen, "read of data.mdb at %llu: %s", (unsigned long long)off,
                     strerror(errno));
            return JAVM_ERR_STORE;
        }
        if (k == 0 && r->psize == 0) /* a meta page: the page size is not known yet */
            return corrupt(r, "data.mdb ends at %llu, inside a meta page",
                           (unsigned long long)(off + got));
        if (k == 0)
            return corrupt(r, "data.mdb ends at %llu, inside page %llu",
                           (unsigned long long)(off + got), (unsigned long long)(off / r->psize));
        got += (size_t)k;
    }
    return JAVM_OK;
}

static void parse_db(const uint8_t *p, dbrec *d)
{
    d->flags = rd16(p + 4);
    d->depth = rd16(p + 6);
    d->branch = rd64(p + 8);
    d->leaf = rd64(p + 16);
    d->overflow = rd64(p + 24);
    d->entries = rd64(p + 32);
    d->root = rd64(p + 40);
}

/* A table record against a file of last_pg + 1 pages. */
static const char *db_problem(const dbrec *d, uint64_t last_pg)
{
    if (d->depth > MAX_DEPTH)
        return "depth beyond 32";
    if (d->root == NOPAGE) {
        if (d->depth || d->branch || d->leaf || d->overflow || d->entries)
            return "empty, but with pages or entries";
        return NULL;
    }
    if (d->depth == 0)
        return "a root page but depth 0";
    if (d->root < 2 || d->root > last_pg)
        return "root page beyond the end of the file";
    if (d->leaf == 0 || d->branch > last_pg || d->leaf > last_pg || d->overflow > last_pg ||
        d->branch + d->leaf + d->overflow > last_pg - 1)
        return "more pages than the file holds";
    if ((d->depth > 1) != (d->branch > 0) || d->depth - 1u > d->branch)
        return "depth and branch pages disagree";
    return NULL;
}

static void parse_meta(const uint8_t *p, meta *m)
{
    m->pgno = rd64(p);
    m->pflags = rd16(p + 10);
    m->magic = rd32(p + 16);
    m->version = rd32(p + 20);
    parse_db(p + 40, &m->db[0]);
    parse_db(p + 88, &m->db[1]);
    m->psize = rd32(p + 40);
    m->last_pg = rd64(p + 136);
    m->txnid = rd64(p + 144);
}

/* Reads and checks both meta pages; *newer is the index of the one LMDB would use. */
static int read_metas(rd *r, meta m[2], int *newer)
{
    uint8_t buf[HDR + 136];
    if (r->size == 0)
        return corrupt(r, "data.mdb is empty: the store was truncated; not recreating it");
    if (r->size < sizeof buf)
        return corrupt(r, "data.mdb is truncated: %llu bytes", (unsigned long long)r->size);
    int rc;
    for (int i = 0; i < 2; i++) {
        uint64_t off = i ? m[0].psize : 0;
        if (i && r->size < off + sizeof buf)
            return corrupt(r, "data.mdb is truncated: %llu bytes, the second meta page is at %llu",
                           (unsigned long long)r->size, (unsigned long long)off);
        if ((rc = read_at(r, buf, sizeof buf, off)))
            return rc;
        parse_meta(buf, &m[i]);
        meta *x = &m[i];
        if (x->magic != MAGIC)
            return corrupt(r, "meta page %d: bad magic %08x (not LMDB, or damaged)", i, x->magic);
        if (i == 0 && (x->psize < 512 || x->psize > 65536 || (x->psize & (x->psize - 1))))
            return corrupt(r, "meta page 0: page size %u", x->psize);
    }
    if (m[1].psize != m[0].psize)
        return corrupt(r, "meta pages disagree on the page size (%u, %u)", m[0].psize, m[1].psize);
    if (m[0].version != VERSION && m[0].version == m[1].version) {
        snprintf(r->msg, r->msglen, "data.mdb has LMDB data version %u (this build reads %d)",
                 m[0].version, VERSION);
        return JAVM_ERR_STORE_FORMAT;
    }
    r->psize = m[0].psize;
    uint64_t pages = r->size / r->psize;
    for (int i = 0; i < 2; i++) {
        meta *x = &m[i];
        if (x->version != VERSION)
            return corrupt(r, "meta page %d: version %u", i, x->version);
        if (x->pgno != (uint64_t)i || x->pflags != P_META)
            return corrupt(r, "meta page %d: header says page %llu, flags %#x", i,
                           (unsigned long long)x->pgno, x->pflags);
        if (x->txnid >= (UINT64_C(1) << 62) || (x->txnid && (x->txnid & 1) != (uint64_t)i))
            return corrupt(r, "meta page %d: transaction id %llu", i, (unsigned long long)x->txnid);
        if (x->last_pg < 1 || x->last_pg >= (UINT64_C(1) << 48))
            return corrupt(r, "meta page %d: last page %llu", i, (unsigned long long)x->last_pg);
        if (x->last_pg >= pages)
            return corrupt(r,
                           "data.mdb is truncated: %llu bytes, meta page %d needs %llu (%llu "
                           "pages of %u)",
                           (unsigned long long)r->size, i,
                           (unsigned long long)((x->last_pg + 1) * r->psize),
                           (unsigned long long)(x->last_pg + 1), r->psize);
        if ((x->db[0].flags & ~FIXEDMAP) != INTEGERKEY || x->db[1].flags != 0)
            return corrupt(r, "meta page %d: table flags %#x, %#x", i, x->db[0].flags,
                           x->db[1].flags);
        for (int t = 0; t < 2; t++) {
            const char *p = db_problem(&x->db[t], x->last_pg);
            if (p)
                return corrupt(r, "meta page %d: the %s record: %s", i, t ? "main tree" : "free list",
                               p);
        }
    }
    if (m[0].txnid == m[1].txnid && m[0].txnid != 0)
        return corrupt(r, "both meta pages hold transaction %llu", (unsigned long long)m[0].txnid);
    *newer = m[1].txnid > m[0].txnid;
    return JAVM_OK;
}

static bool mark(uint8_t *bm, uint64_t pg)
{
    uint8_t bit = (uint8_t)(1u << (pg & 7));
    if (bm[pg >> 3] & bit)
        return false;
    bm[pg >> 3] |= bit;
    return true;
}

/* LMDB's default order (bytes, shorter first on a tie) or, for the free list, u64 keys. */
static int span_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* LMDB keeps a page's nodes tiled from upper to the page end, each of its size rounded up to
 * even: a node that overlaps another (a grown value or key size) makes its page edits move the
 * wrong bytes (a heap overflow in mdb_cursor_del, fuzz_store_file's first finding). */
static int check_tiling(rd *r, const uint8_t *buf, uint64_t pgno, uint16_t n)
{
    uint64_t sum = 0;
    qsort(r->spans, n, sizeof *r->spans, span_cmp);
    for (uint16_t i = 0; i < n; i++) {
        uint32_t off = (uint32_t)(r->spans[i] >> 32), sz = (uint32_t)r->spans[i];
        sum += sz;
        if (i + 1 < n && off + sz > r->spans[i + 1] >> 32)
            return bad_page(r, pgno, "the node at %u (%u bytes) overlaps the one at %u", off, sz,
                            (uint32_t)(r->spans[i + 1] >> 32));
    }
    if (sum != r->psize - rd16(buf + 14))
        return bad_page(r, pgno, "its nodes take %llu bytes, its free-space bound leaves %u",
                        (unsigned long long)sum, r->psize - rd16(buf + 14));
    return JAVM_OK;
}

static int key_cmp(const rd *r, const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    if (r->is_free) {
        uint64_t x = rd64(a), y = rd64(b);
        return x < y ? -1 : x > y;
    }
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (al < bl ? -1 : al > bl);
}

/* An overflow run starting at pg for a value of dsize bytes. */
static int check_overflow(rd *r, uint64_t pgno, uint64_t pg, uint64_t dsize)
{
    uint8_t h[HDR];
    if (pg < 2 || pg > r->last_pg)
        return bad_page(r, pgno, "overflow page %llu out of range", (unsigned long long)pg);
    int rc = read_at(r, h, sizeof h, pg * r->psize);
    if (rc)
        return rc;
    uint64_t need = (HDR - 1 + dsize) / r->psize + 1, n = rd32(h + 12);
    if (rd64(h) != pg || rd16(h + 10) != P_OVERFLOW || n != need || pg + n - 1 > r->last_pg)
        return bad_page(r, pg, "overflow run (from page %llu: a value of %llu bytes) has header "
                        "page %llu, flags %#x, %llu pages",
                        (unsigned long long)pgno, (unsigned long long)dsize,
                        (unsigned long long)rd64(h), rd16(h + 10), (unsigned long long)n);
    if (r->budget < n)
        return bad_page(r, pg, "more pages than the table's record says");
    r->budget -= n;
    r->overflow += n;
    for (uint64_t i = 0; r->used && i < n; i++)
        if (!mark(r->used, pg + i))
            return bad_page(r, pg + i, "reached twice (a loop or a shared page)");
    return JAVM_OK;
}

/* Records the page numbers of one free-list value (count, then the pages). */
static int free_list_value(rd *r, uint64_t pgno, const uint8_t *inl, uint64_t ovpg, uint64_t dsize)
{
    if (dsize < 8 || dsize % 8)
        return bad_page(r, pgno, "a free-list value of %llu bytes", (unsigned long long)dsize);
    const size_t cap = 8192;
    uint64_t count = 0;
    for (uint64_t off = 0; off < dsize;) {
        const uint8_t *p;
        size_t n = dsize - off < cap ? (size_t)(dsize - off) : cap;
        if (inl) {
            p = inl + off;
        } else {
            int rc = read_at(r, r->chunk, n, ovpg * r->psize + HDR + off);
            if (rc)
                return rc;
            p = r->chunk;
        }
        for (size_t i = 0; i < n; i += 8) {
            uint64_t v = rd64(p + i);
            if (off + i == 0) {
                /* LMDB reads count entries: fewer than the value holds is harmless */
                count = v;
                if (count > dsize / 8 - 1)
                    return bad_page(r, pgno, "a free-list value counts %llu pages in %llu bytes",
                                    (unsigned long long)count, (unsigned long long)dsize);
            } else if ((off + i) / 8 > count) {
                return JAVM_OK;
            } else if (v < 2 || v > r->last_pg) {
                return bad_page(r, pgno, "free page %llu out of range", (unsigned long long)v);
            } else if (r->freed && !mark(r->freed, v)) {
                return bad_page(r, pgno, "page %llu is free twice", (unsigned long long)v);
            }
        }
        off += n;
    }
    return JAVM_OK;
}

/* Checks one branch or leaf page in buf (read from pgno) and its nodes' bounds; on a leaf,
 * overflow runs, free-list values and the main tree's table records too. */
static int check_page(rd *r, const uint8_t *buf, uint64_t pgno, uint16_t type, uint16_t *nkeys)
{
    uint32_t ps = r->psize;
    if (rd64(buf) != pgno)
        return bad_page(r, pgno, "its header says page %llu", (unsigned long long)rd64(buf));
    if (rd16(buf + 10) != type)
        return bad_page(r, pgno, "flags %#x where a %s page belongs", rd16(buf + 10),
                        type == P_LEAF ? "leaf" : "branch");
    uint16_t lower = rd16(buf + 12), upper = rd16(buf + 14);
    if (lower < HDR + 2 || (lower - HDR) % 2 || upper < lower || upper > ps)
        return bad_page(r, pgno, "free-space bounds %u..%u", lower, upper);
    uint16_t n = (uint16_t)((lower - HDR) / 2);
    const uint8_t *prev = NULL;
    size_t prevlen = 0;
    for (uint16_t i = 0; i < n; i++) {
        uint32_t off = rd16(buf + HDR + 2 * i);
        if (off < upper || off % 2 || off + NODE > ps)
            return bad_page(r, pgno, "node %u at offset %u (free space ends at %u)", i, off, upper);
        const uint8_t *nd = buf + off;
        uint16_t lo = rd16(nd), hi = rd16(nd + 2), fl = rd16(nd + 4), ks = rd16(nd + 6);
        if (ks > MAX_KEY || off + NODE + ks > ps)
            return bad_page(r, pgno, "node %u: a key of %u bytes", i, ks);
        const uint8_t *key = nd + NODE;
        bool keyed = type == P_LEAF || i > 0; /* a branch page's first key is not compared */
        if (keyed && r->is_free && ks != 8)
            return bad_page(r, pgno, "node %u: a free-list key of %u bytes", i, ks);
        if (keyed && prev && key_cmp(r, prev, prevlen, key, ks) >= 0)
            return bad_page(r, pgno, "node %u: keys out of order", i);
        if (keyed) {
            prev = key;
            prevlen = ks;
        }
        if (type == P_BRANCH) {
            r->spans[i] = (uint64_t)off << 32 | ((NODE + ks + 1u) & ~1u);
            uint64_t child = lo | (uint64_t)hi << 16 | (uint64_t)fl << 32;
            if (child < 2 || child > r->last_pg)
                return bad_page(r, pgno, "node %u: child page %llu out of range", i,
                                (unsigned long long)child);
            continue;
        }
        uint64_t dsize = lo | (uint64_t)hi << 16;
        if (fl & ~(F_BIGDATA | F_SUBDATA) || fl == (F_BIGDATA | F_SUBDATA) ||
            (r->is_main != (fl == F_SUBDATA)))
            return bad_page(r, pgno, "node %u: flags %#x", i, fl);
        uint64_t room = fl & F_BIGDATA ? 8 : dsize;
        if (off + NODE + ks + room > ps)
            return bad_page(r, pgno, "node %u: a value of %llu bytes past the page end", i,
                            (unsigned long long)dsize);
        r->spans[i] = (uint64_t)off << 32 | ((NODE + ks + room + 1) & ~UINT64_C(1));
        const uint8_t *val = key + ks;
        int rc = JAVM_OK;
        uint64_t ovpg = fl & F_BIGDATA ? rd64(val) : 0;
        if (fl & F_BIGDATA)
            rc = check_overflow(r, pgno, ovpg, dsize);
        if (rc == JAVM_OK && r->is_free) {
            if (rd64(key) > r->max_txnid)
                return bad_page(r, pgno, "node %u: free-list record of future transaction %llu", i,
                                (unsigned long long)rd64(key));
            rc = free_list_value(r, pgno, fl & F_BIGDATA ? NULL : val, ovpg, dsize);
        }
        if (rc)
            return rc;
        if (r->is_main) {
            if (dsize != DBREC || ks == 0 || memchr(key, 0, ks))
                return bad_page(r, pgno, "node %u: a table record of %llu bytes", i,
                                (unsigned long long)dsize);
            if (r->ntables == MAX_TABLES)
                return bad_page(r, pgno, "more than %d tables", MAX_TABLES);
            memcpy(r->tname[r->ntables], key, ks);
            r->tname[r->ntables][ks] = 0;
            parse_db(val, &r->tab[r->ntables]);
            r->ntables++;
        }
    }
    *nkeys = n;
    return check_tiling(r, buf, pgno, n);
}

/* Walks the tree under pgno, levels levels deep (1: a leaf). */
static int walk(rd *r, uint64_t pgno, unsigned levels, unsigned depth)
{
    if (r->budget == 0)
        return bad_page(r, pgno, "more pages than the table's record says");
    r->budget--;
    if (r->used && !mark(r->used, pgno))
        return bad_page(r, pgno, "reached twice (a loop or a shared page)");
    if (!r->lvl[depth] && !(r->lvl[depth] = malloc(r->psize)))
        return JAVM_ERR_ALLOC;
    uint8_t *buf = r->lvl[depth];
    int rc = read_at(r, buf, r->psize, pgno * r->psize);
    if (rc)
        return rc;
    uint16_t type = levels == 1 ? P_LEAF : P_BRANCH, n;
    if ((rc = check_page(r, buf, pgno, type, &n)))
        return rc;
    if (type == P_LEAF) {
        r->leaf++;
        r->entries += n;
        return JAVM_OK;
    }
    r->branch++;
    for (uint16_t i = 0; i < n; i++) {
        const uint8_t *nd = buf + rd16(buf + HDR + 2 * i);
        uint64_t child = rd16(nd) | (uint64_t)rd16(nd + 2) << 16 | (uint64_t)rd16(nd + 4) << 32;
        if ((rc = walk(r, child, levels - 1, depth + 1)))
            return rc;
    }
    return JAVM_OK;
}

/* One tree: the whole of it (full), or its root page only (cheap; the main tree is always
 * walked whole: it holds the table records and is a page or two). */
static int tree(rd *r, const char *name, const dbrec *d, bool whole)
{
    r->table = name;
    r->branch = r->leaf = r->overflow = r->entries = 0;
    const char *p = db_problem(d, r->last_pg);
    if (p)
        return corrupt(r, "the record of table %s: %s", name, p);
    if (d->root == NOPAGE)
        return JAVM_OK;
    int rc;
    if (!whole) {
        r->budget = d->overflow;
        if (!r->lvl[0] && !(r->lvl[0] = malloc(r->psize)))
            return JAVM_ERR_ALLOC;
        uint16_t n;
        if ((rc = read_at(r, r->lvl[0], r->psize, d->root * r->psize)))
            return rc;
        return check_page(r, r->lvl[0], d->root, d->depth == 1 ? P_LEAF : P_BRANCH, &n);
    }
    r->budget = d->branch + d->leaf + d->overflow;
    if ((rc = walk(r, d->root, d->depth, 0)))
        return rc;
    if (r->branch != d->branch || r->leaf != d->leaf || r->overflow != d->overflow ||
        r->entries != d->entries)
        return corrupt(r,
                       "table %s: its record counts %llu/%llu/%llu branch/leaf/overflow pages "
                       "and %llu entries, the tree has %llu/%llu/%llu and %llu",
                       name, (unsigned long long)d->branch, (unsigned long long)d->leaf,
                       (unsigned long long)d->overflow, (unsigned long long)d->entries,
                       (unsigned long long)r->branch, (unsigned long long)r->leaf,
                       (unsigned long long)r->overflow, (unsigned long long)r->entries);
    return JAVM_OK;
}

static void rd_free(rd *r)
{
    for (int i = 0; i < MAX_DEPTH; i++)
        free(r->lvl[i]);
    free(r->used);
    free(r->freed);
    free(r->chunk);
    free(r->spans);
}

static int run(rd *r, const meta *m, bool full, const char *const *names, int count, bool *fresh)
{
    int rc;
    r->last_pg = m->last_pg;
    r->max_txnid = m->txnid;
    if (!(r->chunk = malloc(8192)) || !(r->spans = malloc(r->psize / 2 * sizeof *r->spans)))
        return JAVM_ERR_ALLOC;
    if (full) {
        size_t bytes = (size_t)(m->last_pg / 8 + 1);
        r->used = calloc(1, bytes);
        r->freed = calloc(1, bytes);
        if (!r->used || !r->freed)
            return JAVM_ERR_ALLOC;
        mark(r->used, 0);
        mark(r->used, 1);
    }
    r->is_free = true;
    rc = tree(r, "(free list)", &m->db[0], full);
    r->is_free = false;
    if (rc)
        return rc;
    r->is_main = true;
    rc = tree(r, "(main)", &m->db[1], true);
    r->is_main = false;
    if (rc)
        return rc;
    *fresh = m->txnid == 0 && r->ntables == 0;
    if (*fresh)
        return JAVM_OK;
    for (int k = 0; k < count; k++) {
        int i = 0;
        while (i < r->ntables && strcmp(r->tname[i], names[k]) != 0)
            i++;
        if (i == r->ntables)
            return corrupt(r, "table %s is missing (the store has committed transactions)",
                           names[k]);
        if (r->tab[i].flags != 0)
            return corrupt(r, "table %s has flags %#x (javm's tables have none)", names[k],
                           r->tab[i].flags);
        if ((rc = tree(r, names[k], &r->tab[i], full)))
            return rc;
    }
    for (int i = 0; i < r->ntables; i++) {
        int k = 0;
        while (k < count && strcmp(r->tname[i], names[k]) != 0)
            k++;
        if (k == count) {
            char shown[64];
            size_t j = 0;
            for (const char *c = r->tname[i]; *c && j + 1 < sizeof shown; c++)
                shown[j++] = *c >= 0x20 && *c < 0x7f ? *c : '?';
            shown[j] = 0;
            return corrupt(r, "the main tree names a table '%s' that is not javm's", shown);
        }
    }
    if (full)
        for (uint64_t pg = 2; pg <= r->last_pg; pg++)
            if ((r->used[pg >> 3] & r->freed[pg >> 3]) & (1u << (pg & 7)))
                return corrupt(r, "page %llu is both on the free list and in use",
                               (unsigned long long)pg);
    return JAVM_OK;
}

int lmdbf_check(int fd, uint64_t size, const char *const *names, int count, lmdbf_info *info,
                char *msg, size_t msglen)
{
    rd *r = calloc(1, sizeof *r);
    if (!r)
        return JAVM_ERR_ALLOC;
    r->fd = fd;
    r->size = size;
    r->msg = msg;
    r->msglen = msglen;
    meta m[2];
    int newer = 0, rc = read_metas(r, m, &newer);
    bool fresh = false;
    /* the older meta page's records are checked by read_metas; its pages are not LMDB's to
     * read (it always uses the newer one) */
    if (rc == JAVM_OK)
        rc = run(r, &m[newer], false, names, count, &fresh);
    if (rc == JAVM_OK) {
        info->psize = r->psize;
        info->last_pg = m[newer].last_pg;
        info->txnid = m[newer].txnid;
        info->fresh = fresh;
    }
    rd_free(r);
    free(r);
    return rc;
}

int lmdbf_walk(int fd, uint64_t size, uint64_t txnid, const char *const *names, int count,
               char *msg, size_t msglen)
{
    rd *r = calloc(1, sizeof *r);
    if (!r)
        return JAVM_ERR_ALLOC;
    r->fd = fd;
    r->size = size;
    r->msg = msg;
    r->msglen = msglen;
    meta m[2];
    int newer = 0, rc = read_metas(r, m, &newer);
    if (rc == JAVM_OK && txnid && m[newer].txnid != txnid) {
        newer = !newer;
        if (m[newer].txnid != txnid) {
            snprintf(msg, msglen, "no meta page holds transaction %llu",
                     (unsigned long long)txnid);
            rc = JAVM_ERR_CONFLICT;
        }
    }
    bool fresh;
    if (rc == JAVM_OK)
        rc = run(r, &m[newer], true, names, count, &fresh);
    rd_free(r);
    free(r);
    return rc;
}
