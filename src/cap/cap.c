/* SPDX-License-Identifier: MIT
 * cap/cap.c — the five cap kinds as owned C values: constructors, clone, free, the intrinsic
 * canonical-form check of caps.md §3 and edge walking. Capability layer; see cap/cap.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cap/cap.h"
#include "util/grow.h"
#include "util/search.h"

int cap_error(int status, const char *file, int line)
{
    /* A breakpoint here stops at the birth of every capability-layer error. The volatile
     * keeps file and line visible to a debugger in optimised debug builds. */
    volatile const char *f = file;
    volatile int l = line;
    (void)f;
    (void)l;
    return status;
}

#define HB(...) {{ __VA_ARGS__ }}
const javm_hash cap_hash_empty = HB(
    0x0e, 0x57, 0x51, 0xc0, 0x26, 0xe5, 0x43, 0xb2, 0xe8, 0xab, 0x2e, 0xb0, 0x60, 0x99, 0xda, 0xa1,
    0xd1, 0xe5, 0xdf, 0x47, 0x77, 0x8f, 0x77, 0x87, 0xfa, 0xab, 0x45, 0xcd, 0xf1, 0x2f, 0xe3, 0xa8);
const javm_hash cap_hash_zero_page = HB(
    0x68, 0x6e, 0xde, 0x92, 0x88, 0xc3, 0x91, 0xe7, 0xe0, 0x50, 0x26, 0xe5, 0x6f, 0x2f, 0x91, 0xbf,
    0xd8, 0x79, 0x98, 0x7a, 0x04, 0x0e, 0xa9, 0x84, 0x45, 0xda, 0xbc, 0x76, 0xf5, 0x5b, 0x8e, 0x5f);

/* 17 levels, precomputed so that hashing a sparse CNode of size_log 16 costs O(populated x 16)
 * hashes instead of 65535 (caps.md §4.3 recommends it). */
const javm_hash cap_empty_cnode_roots[JAVM_CNODE_MAX_SIZE_LOG + 1] = {
    HB(0x03, 0x17, 0x0a, 0x2e, 0x75, 0x97, 0xb7, 0xb7, 0xe3, 0xd8, 0x4c, 0x05, 0x39, 0x1d, 0x13, 0x9a,
       0x62, 0xb1, 0x57, 0xe7, 0x87, 0x86, 0xd8, 0xc0, 0x82, 0xf2, 0x9d, 0xcf, 0x4c, 0x11, 0x13, 0x14),
    HB(0x0c, 0x01, 0x64, 0x37, 0xc7, 0x8e, 0xfa, 0x22, 0xc4, 0x64, 0x48, 0x9e, 0xbd, 0x96, 0x8d, 0x46,
       0x7e, 0xe4, 0xde, 0x4d, 0x6f, 0xdb, 0x88, 0xd4, 0xa5, 0xd2, 0x0a, 0xb1, 0x4a, 0xae, 0x01, 0x8b),
    HB(0xd4, 0x1e, 0xd0, 0x5a, 0xb8, 0x1c, 0x03, 0xa8, 0x26, 0x9c, 0xc8, 0x80, 0x9a, 0xef, 0xa0, 0x79,
       0x8c, 0x03, 0x82, 0x93, 0xca, 0x06, 0x26, 0x54, 0x5f, 0x06, 0x3c, 0xa9, 0x25, 0x8c, 0xb0, 0xb0),
    HB(0x8e, 0x23, 0xcf, 0x3e, 0x82, 0x21, 0xcf, 0x25, 0x6a, 0xe2, 0x96, 0x4c, 0x1d, 0xfa, 0x1f, 0xa5,
       0x92, 0x94, 0x45, 0xff, 0xc4, 0xba, 0x13, 0xa4, 0x0f, 0x95, 0x55, 0xd3, 0x3f, 0x5a, 0x1c, 0xd6),
    HB(0x8e, 0x06, 0x1a, 0xfd, 0x94, 0xa5, 0x0f, 0x61, 0x99, 0xf1, 0x8e, 0xf9, 0x7d, 0x94, 0x26, 0x92,
       0xef, 0x43, 0xb9, 0x27, 0xe1, 0xd9, 0x41, 0x5f, 0x6f, 0x15, 0xde, 0x59, 0x86, 0xc9, 0x98, 0xf8),
    HB(0xa1, 0xdf, 0x0c, 0x2a, 0xb5, 0xa9, 0x32, 0x73, 0xc3, 0x68, 0x42, 0xb4, 0x30, 0x1c, 0xa7, 0xc0,
       0x53, 0x55, 0xb9, 0xad, 0x7d, 0x2f, 0x53, 0x41, 0x26, 0x89, 0xa6, 0x3d, 0x9d, 0xd7, 0xd3, 0x08),
    HB(0x57, 0xfb, 0xf6, 0xc5, 0x45, 0x1d, 0xec, 0xca, 0x57, 0xf6, 0xfa, 0x8b, 0xb3, 0x90, 0x5c, 0x0a,
       0x16, 0x08, 0x46, 0xd1, 0xb6, 0xf8, 0x75, 0x8a, 0x9e, 0x9b, 0x86, 0xce, 0x81, 0x80, 0xcc, 0x79),
    HB(0x6c, 0xec, 0x21, 0x1b, 0x97, 0x54, 0x8d, 0x13, 0xf8, 0xdc, 0x28, 0x40, 0x60, 0xca, 0xa2, 0xc4,
       0x6b, 0x48, 0x63, 0x0d, 0xf9, 0xb6, 0xf8, 0xf5, 0x28, 0x55, 0x73, 0x72, 0x9c, 0x68, 0x4c, 0x9e),
    HB(0x40, 0xa9, 0x02, 0x29, 0x5c, 0xc7, 0xaf, 0x74, 0x8c, 0xdb, 0xda, 0x86, 0x4d, 0xb4, 0x76, 0x06,
       0x1a, 0x0a, 0xd3, 0x1c, 0x4c, 0xad, 0xeb, 0xe1, 0x0b, 0xc9, 0x54, 0xa8, 0x1b, 0x1b, 0xfd, 0x70),
    HB(0x1e, 0x78, 0x5d, 0x15, 0x46, 0xa7, 0xed, 0x7b, 0x3b, 0x0c, 0xc9, 0xeb, 0xdf, 0x33, 0x07, 0x53,
       0x71, 0x8e, 0x97, 0x8f, 0xd8, 0x03, 0x00, 0x74, 0x92, 0x9b, 0x7c, 0x50, 0x76, 0x3f, 0x3f, 0xe9),
    HB(0x97, 0x63, 0x35, 0xb2, 0x52, 0x6d, 0x62, 0xe8, 0xfb, 0x67, 0x8f, 0x3d, 0x1d, 0x22, 0x89, 0x11,
       0x40, 0x53, 0xfe, 0xa2, 0xe9, 0xfd, 0x46, 0xa6, 0x44, 0x83, 0x08, 0xb7, 0xdf, 0x29, 0xbf, 0xb5),
    HB(0x78, 0x6f, 0x93, 0x1e, 0xdd, 0x02, 0xd0, 0x07, 0x1f, 0xb3, 0x3c, 0x00, 0x3a, 0x88, 0xe0, 0x12,
       0x75, 0x52, 0x01, 0x16, 0x15, 0x2c, 0xe5, 0xcc, 0x68, 0x30, 0x7a, 0xf6, 0xbf, 0x7a, 0xc9, 0xbf),
    HB(0x39, 0x0f, 0xdc, 0x7a, 0x2a, 0xda, 0x38, 0x42, 0xec, 0xb8, 0x55, 0x49, 0x67, 0x53, 0xaa, 0x40,
       0xb7, 0x75, 0xb1, 0x54, 0xb0, 0x24, 0x89, 0x72, 0x4a, 0x19, 0x48, 0x99, 0x08, 0x38, 0x41, 0x64),
    HB(0x04, 0x9a, 0xab, 0xce, 0x3a, 0x75, 0x8b, 0x20, 0xb0, 0x0a, 0x5d, 0x84, 0x49, 0x3f, 0x2a, 0xba,
       0x56, 0x93, 0xf2, 0x44, 0xe6, 0x58, 0x55, 0xbc, 0xaa, 0x9d, 0x9b, 0xaf, 0x4b, 0xf7, 0x4e, 0x30),
    HB(0xe4, 0x26, 0xda, 0x64, 0x2e, 0x24, 0x1e, 0xe2, 0xbf, 0x39, 0x1d, 0xbf, 0x7b, 0xa3, 0x8d, 0x03,
       0x49, 0x34, 0x1b, 0x89, 0x2b, 0x1d, 0x71, 0x0a, 0x99, 0xa7, 0xb3, 0x66, 0xba, 0x19, 0x9c, 0xe6),
    HB(0x0f, 0x6a, 0x96, 0x45, 0x0b, 0xea, 0xa6, 0x11, 0x03, 0xb4, 0xe9, 0xe4, 0x07, 0x96, 0x19, 0x03,
       0xef, 0xf8, 0x5b, 0x0f, 0x66, 0x28, 0x18, 0x1e, 0xab, 0xf6, 0x87, 0xb3, 0x87, 0x4a, 0x3d, 0x5b),
    HB(0x6d, 0x26, 0x6b, 0xa3, 0x4e, 0x94, 0xe8, 0x29, 0x47, 0xbf, 0x0e, 0xa3, 0x51, 0xe1, 0x6c, 0x82,
       0x0b, 0x98, 0xe5, 0xfc, 0xc9, 0x32, 0x75, 0x5b, 0xd3, 0xcd, 0xee, 0x8d, 0xdb, 0xac, 0x70, 0xcd),
};
#undef HB

bool cap_all_zero(const uint8_t *p, size_t n)
{
    /* Word-at-a-time: the canonical check scans every Loaded page on each put. */
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != 0)
            return false;
    }
    for (; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

uint64_t javm_strip_len(const uint8_t *b, uint64_t n)
{
    while (n > 0 && b[n - 1] == 0)
        n--;
    return n;
}

void javm_free(void *p)
{
    free(p);
}

static javm_cap *cap_alloc(javm_kind kind)
{
    javm_cap *c = calloc(1, sizeof *c);
    if (c)
        c->kind = kind;
    return c;
}

/* Grows an array of elements of size `el` so that it holds at least `need`; doubling from 4
 * (util/grow.h). */
static int grow(void **arr, uint32_t *capacity, uint32_t need, size_t el)
{
    return util_grow_u32(arr, capacity, need, el, 4) ? CAP_ERR(JAVM_ERR_ALLOC) : JAVM_OK;
}

/* ---- Data ---------------------------------------------------------------------------- */

/* Page buffers (caps.md §3.3: "page buffers MAY be shared between Data values by reference
 * counting"). Every Loaded page's bytes come from cap_page_alloc: a 16-byte header with the
 * count sits before the 4096 bytes, so javm_page keeps its layout. Settle of a post-instance
 * shares the clean pages of the Data it started from (vm/vm.c); everything that may write
 * into a buffer (javm_data_page_load, javm_cache_working) first makes it private. The count is
 * atomic: a buffer may be released by caps that two threads own (docs/caps-impl.md). */
typedef struct cap_page_hdr {
    _Atomic uint32_t rc;
    uint32_t pad[3];
} cap_page_hdr;

static cap_page_hdr *page_hdr(const uint8_t *bytes)
{
    return (cap_page_hdr *)(void *)((uint8_t *)(uintptr_t)bytes - sizeof(cap_page_hdr));
}

uint8_t *cap_page_alloc(void)
{
    cap_page_hdr *h = malloc(sizeof *h + JAVM_PAGE_SIZE);
    if (!h)
        return NULL;
    atomic_init(&h->rc, 1);
    return (uint8_t *)(h + 1);
}

void cap_page_ref(const uint8_t *bytes)
{
    atomic_fetch_add_explicit(&page_hdr(bytes)->rc, 1, memory_order_relaxed);
}

void cap_page_unref(uint8_t *bytes)
{
    if (!bytes)
        return;
    cap_page_hdr *h = page_hdr(bytes);
    if (atomic_fetch_sub_explicit(&h->rc, 1, memory_order_acq_rel) == 1)
        free(h);
}

bool cap_page_shared(const uint8_t *bytes)
{
    return atomic_load_explicit(&page_hdr(bytes)->rc, memory_order_acquire) > 1;
}

int cap_data_unshare(javm_data *d)
{
    for (uint64_t i = 0; d->paged && i < d->n_pages; i++) {
        const javm_page *r = javm_data_page(d, i);
        if (r->state != JAVM_PAGE_LOADED || !r->bytes)
            continue;
        /* a shared chunk shares its buffers: the private copy of the chunk takes a reference
         * on each, which the test below then sees */
        javm_page *p = cap_data_page_mut(d, i);
        if (!p)
            return CAP_ERR(JAVM_ERR_ALLOC);
        if (!cap_page_shared(p->bytes))
            continue;
        uint8_t *b = cap_page_alloc();
        if (!b)
            return CAP_ERR(JAVM_ERR_ALLOC);
        memcpy(b, p->bytes, JAVM_PAGE_SIZE);
        cap_page_unref(p->bytes);
        p->bytes = b;
    }
    return JAVM_OK;
}

/* ---- chunks ------------------------------------------------------------------------------ */

const javm_page cap_page_empty = { JAVM_PAGE_EMPTY, NULL, { { 0 } } };

const javm_page *javm_data_page(const javm_data *d, uint64_t i)
{
    if (!d || !d->paged || i >= d->n_pages)
        return NULL;
    const javm_chunk *c = d->chunks[i >> CAP_CHUNK_SHIFT];
    return c ? &c->pages[i & (CAP_CHUNK_PAGES - 1)] : &cap_page_empty;
}

javm_chunk *cap_chunk_new(void)
{
    javm_chunk *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    atomic_init(&c->refs, 1);
    c->lv_n = 0;
    c->node_level = 0xFF;
    c->dirty = 0;
    c->pending = c->checked = false;
    c->key_n = 0;
    c->n_missing = 0;
    memset(c->pages, 0, sizeof c->pages);
    return c;
}

void cap_chunk_ref(javm_chunk *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void cap_chunk_unref(javm_chunk *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (unsigned i = 0; i < CAP_CHUNK_PAGES; i++)
        cap_page_unref(c->pages[i].bytes);
    free(c);
}

/* A private copy of a shared chunk: its page buffers gain a sharer, its Merkle cache is kept. */
static javm_chunk *chunk_copy(const javm_chunk *s)
{
    javm_chunk *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    atomic_init(&c->refs, 1);
    c->lv_n = s->lv_n;
    c->node_level = s->node_level;
    c->node = s->node;
    c->dirty = s->dirty;
    c->key_n = s->key_n;
    c->pending = s->pending;
    c->checked = s->checked;
    c->n_missing = s->n_missing;
    c->key = s->key;
    memcpy(c->pages, s->pages, sizeof c->pages);
    if (s->lv_n)
        memcpy(c->lv, s->lv, cap_bmt_total(s->lv_n) * sizeof(javm_hash));
    for (unsigned i = 0; i < CAP_CHUNK_PAGES; i++)
        if (c->pages[i].bytes)
            cap_page_ref(c->pages[i].bytes);
    return c;
}

/* d->top of a Data of nc > 1 chunks: the Merkle levels above the chunks (cap_bmt_total(nc)
 * hashes, level 6 first: the chunks' nodes as the Data last saw them), then one bit a chunk
 * set by cap_data_page_mut: the chunks changed since, the only ones the next root looks at. */
static size_t top_bytes(uint64_t nc)
{
    return (size_t)cap_bmt_total(nc) * sizeof(javm_hash) + (size_t)(nc + 63) / 64 * sizeof(uint64_t);
}

static uint64_t *top_stale(const javm_data *d, uint64_t nc)
{
    return (uint64_t *)(void *)(d->top + cap_bmt_total(nc));
}

javm_page *cap_data_page_mut(javm_data *d, uint64_t i)
{
    javm_chunk **slot = &d->chunks[i >> CAP_CHUNK_SHIFT], *c = *slot;
    if (!c) {
        if (!(c = cap_chunk_new()))
            return NULL;
        *slot = c;
    } else if (atomic_load_explicit(&c->refs, memory_order_acquire) > 1) {
        javm_chunk *n = chunk_copy(c);
        if (!n)
            return NULL;
        cap_chunk_unref(c);
        *slot = c = n;
    }
    c->dirty |= UINT64_C(1) << (i & (CAP_CHUNK_PAGES - 1));
    c->checked = false;
    c->key_n = 0;
    if (d->top) {
        uint64_t j = i >> CAP_CHUNK_SHIFT;
        top_stale(d, cap_chunk_count(d->n_pages))[j / 64] |= UINT64_C(1) << (j % 64);
    }
    return &c->pages[i & (CAP_CHUNK_PAGES - 1)];
}

void cap_data_page_fill(javm_data *d, uint64_t i, uint8_t *bytes)
{
    d->chunks[i >> CAP_CHUNK_SHIFT]->pages[i & (CAP_CHUNK_PAGES - 1)].bytes = bytes;
}

int cap_data_alloc_pages(javm_data *d, uint64_t n_pages)
{
    uint64_t nc = cap_chunk_count(n_pages);
    if (nc > SIZE_MAX / sizeof(javm_chunk *))
        return CAP_ERR(JAVM_ERR_ALLOC);
    d->chunks = NULL;
    d->top = NULL;
    if (nc && !(d->chunks = calloc((size_t)nc, sizeof *d->chunks)))
        return CAP_ERR(JAVM_ERR_ALLOC);
    d->n_pages = n_pages;
    return JAVM_OK;
}

void cap_data_free_pages(javm_data *d)
{
    for (uint64_t j = 0; d->chunks && j < cap_chunk_count(d->n_pages); j++)
        cap_chunk_unref(d->chunks[j]);
    free(d->chunks);
    free(d->top);
    d->chunks = NULL;
    d->top = NULL;
    d->n_pages = 0;
}

int cap_data_derive(javm_chunk *const *chunks, uint64_t n_pages, uint64_t n_missing, const javm_hash *top,
                    javm_cap **out)
{
    javm_cap *c = cap_alloc(JAVM_KIND_DATA);
    if (!c)
        return CAP_ERR(JAVM_ERR_ALLOC);
    c->data.paged = true;
    if (cap_data_alloc_pages(&c->data, n_pages)) {
        free(c);
        return CAP_ERR(JAVM_ERR_ALLOC);
    }
    uint64_t nc = cap_chunk_count(n_pages);
    for (uint64_t j = 0; j < nc; j++)
        if ((c->data.chunks[j] = chunks[j]) != NULL)
            cap_chunk_ref(chunks[j]);
    c->data.n_missing = n_missing;
    if (top && nc > 1) { /* a cache: without it the first hash rebuilds it */
        size_t t = top_bytes(nc);
        if ((c->data.top = malloc(t)) != NULL)
            memcpy(c->data.top, top, t);
    }
    *out = c;
    return JAVM_OK;
}

/* ---- the Merkle root of the pages (caps.md §4.2) ------------------------------------------
 * Leaf i is H("") for an Empty page, else the page hash. The BMT pairs the odd last node of a
 * level with itself, so the node at level 6 over chunk c is the chunk's own tree of its n
 * leaves followed, for a short last chunk, by pairings with itself up to level 6: the
 * chunks' nodes are the global tree's level 6, and the levels above are the BMT over them
 * (kept in d->top). A Data of at most 64 pages has one chunk whose tree is the whole tree. */

static inline const javm_hash *leaf_of(const javm_page *p)
{
    return p->state == JAVM_PAGE_EMPTY ? &cap_hash_empty : &p->hash;
}

static unsigned ceil_log2(uint64_t n)
{
    unsigned h = 0;
    while ((UINT64_C(1) << h) < n)
        h++;
    return h;
}

/* The node at level `level` over chunk c's first n leaves (n <= 64, level >= ceil_log2(n)),
 * its levels brought up to date along the changed leaves' paths. */
static void chunk_node(javm_chunk *c, unsigned n, unsigned level, javm_hash *out, uint64_t *hashed)
{
    uint64_t total = cap_bmt_total(n);
    if (c->lv_n == n && !c->dirty && c->node_level == level) {
        *out = c->node;
        return;
    }
    if (c->lv_n != n) {
        for (unsigned i = 0; i < n; i++)
            c->lv[i] = *leaf_of(&c->pages[i]);
        cap_bmt_build(c->lv, n);
        *hashed += total - n;
        c->lv_n = (uint8_t)n;
    } else if (c->dirty) {
        uint64_t idx[CAP_CHUNK_PAGES];
        javm_hash val[CAP_CHUNK_PAGES], root;
        size_t k = 0;
        for (unsigned i = 0; i < n; i++)
            if ((c->dirty >> i & 1) && memcmp(leaf_of(&c->pages[i]), &c->lv[i], sizeof(javm_hash)) != 0) {
                idx[k] = i;
                val[k++] = *leaf_of(&c->pages[i]);
            }
        if (k)
            *hashed += cap_bmt_update(c->lv, n, idx, val, k, c->lv, &root);
    }
    c->dirty = 0;
    *out = c->lv[total - 1];
    for (unsigned h = ceil_log2(n); h < level; h++, (*hashed)++)
        cap_node_hash(out, out, out);
    c->node = *out;
    c->node_level = (uint8_t)level;
}

/* The first chunk marked in stale (of nc bits) from word *w on, its bit cleared; nc if none. */
static uint64_t next_stale(uint64_t *stale, uint64_t nc, uint64_t *w)
{
    for (; *w < (nc + 63) / 64; (*w)++)
        if (stale[*w]) {
            uint64_t j = *w * 64 + (uint64_t)__builtin_ctzll(stale[*w]);
            stale[*w] &= stale[*w] - 1;
            return j;
        }
    return nc;
}

int cap_data_pages_root(const javm_data *cd, javm_hash *root, uint64_t *hashed)
{
    javm_data *d = (javm_data *)(uintptr_t)cd; /* only the caches change */
    uint64_t scratch = 0, np = d->n_pages, nc = cap_chunk_count(np);
    if (!hashed)
        hashed = &scratch;
    if (np == 0) {
        *root = cap_hash_empty;
        return JAVM_OK;
    }
    unsigned level = np > CAP_CHUNK_PAGES ? CAP_CHUNK_SHIFT : ceil_log2(np);
    javm_hash empty[CAP_CHUNK_SHIFT + 1]; /* the node over Empty leaves, by level */
    bool have_empty = false;
    uint64_t idx[32];
    javm_hash val[32], node;
    size_t k = 0;
    bool fresh = !d->top;
    if (nc > 1 && fresh) {
        if (!(d->top = calloc(1, top_bytes(nc))))
            return CAP_ERR(JAVM_ERR_ALLOC);
    }
    uint64_t *stale = nc > 1 ? top_stale(d, nc) : NULL, w = 0;
    /* every chunk for a new top, else those changed since it was last brought up to date */
    for (uint64_t j = fresh ? 0 : next_stale(stale, nc, &w); j < nc;
         j = fresh ? j + 1 : next_stale(stale, nc, &w)) {
        unsigned n = cap_chunk_slots(np, j);
        if (d->chunks[j]) {
            chunk_node(d->chunks[j], n, level, &node, hashed);
        } else {
            if (!have_empty) {
                empty[0] = cap_hash_empty;
                for (unsigned h = 1; h <= CAP_CHUNK_SHIFT; h++)
                    cap_node_hash(&empty[h - 1], &empty[h - 1], &empty[h]);
                *hashed += CAP_CHUNK_SHIFT;
                have_empty = true;
            }
            node = empty[level];
        }
        if (nc == 1) {
            *root = node;
            return JAVM_OK;
        }
        if (fresh) {
            d->top[j] = node;
        } else if (memcmp(&node, &d->top[j], sizeof node) != 0) {
            idx[k] = j;
            val[k++] = node;
            if (k == 32) { /* increasing within a batch; batches apply in place one by one */
                *hashed += cap_bmt_update(d->top, nc, idx, val, k, d->top, &node);
                k = 0;
            }
        }
    }
    if (fresh) {
        cap_bmt_build(d->top, nc);
        *hashed += cap_bmt_total(nc) - nc;
    } else if (k) {
        *hashed += cap_bmt_update(d->top, nc, idx, val, k, d->top, &node);
    }
    *root = d->top[cap_bmt_total(nc) - 1];
    return JAVM_OK;
}

static int data_fill(javm_data *d, const uint8_t *bytes, uint64_t size)
{
    d->size = size;
    if (size <= JAVM_DATA_INLINE_MAX) {
        d->paged = false;
        if (size == 0)
            return JAVM_OK;
        d->bytes = malloc((size_t)size);
        if (!d->bytes)
            return CAP_ERR(JAVM_ERR_ALLOC);
        memcpy(d->bytes, bytes, (size_t)size);
        return JAVM_OK;
    }
    uint64_t np = (size + JAVM_PAGE_SIZE - 1) / JAVM_PAGE_SIZE;
    d->paged = true;
    if (cap_data_alloc_pages(d, np))
        return CAP_ERR(JAVM_ERR_ALLOC);
    for (uint64_t i = 0; i < np; i++) {
        uint64_t off = i * JAVM_PAGE_SIZE;
        uint64_t n = size - off < JAVM_PAGE_SIZE ? size - off : JAVM_PAGE_SIZE;
        if (cap_all_zero(bytes + off, (size_t)n))
            continue;
        /* malloc, copy, zero only the tail: calloc would write each page twice, which
         * cost about 5% of Data hashing throughput (bench_cap, 1 MiB). */
        javm_page *p = cap_data_page_mut(d, i);
        uint8_t *pg = p ? cap_page_alloc() : NULL;
        if (!pg)
            return CAP_ERR(JAVM_ERR_ALLOC);
        memcpy(pg, bytes + off, (size_t)n);
        if (n < JAVM_PAGE_SIZE)
            memset(pg + n, 0, (size_t)(JAVM_PAGE_SIZE - n));
        p->state = JAVM_PAGE_LOADED;
        p->bytes = pg;
        javm_blake2b(pg, JAVM_PAGE_SIZE, &p->hash);
    }
    return JAVM_OK;
}

int javm_data_new(const uint8_t *bytes, uint64_t len, javm_cap **out)
{
    int rc = JAVM_OK;
    javm_cap *c = cap_alloc(JAVM_KIND_DATA);
    if (!c)
        return CAP_ERR(JAVM_ERR_ALLOC);
    rc = data_fill(&c->data, bytes, len ? javm_strip_len(bytes, len) : 0);
    if (rc == JAVM_OK)
        *out = c;
    else
        javm_cap_free(c);
    return rc;
}

int javm_data_new_paged(uint64_t size, javm_cap **out)
{
    uint64_t np = size / JAVM_PAGE_SIZE + (size % JAVM_PAGE_SIZE != 0);
    javm_cap *c = cap_alloc(JAVM_KIND_DATA);
    if (!c)
        return CAP_ERR(JAVM_ERR_ALLOC);
    c->data.size = size;
    c->data.paged = true;
    if (cap_data_alloc_pages(&c->data, np)) {
        free(c);
        return CAP_ERR(JAVM_ERR_ALLOC);
    }
    *out = c;
    return JAVM_OK;
}

int javm_data_page_load(javm_cap *data, uint64_t i, const uint8_t *page)
{
    if (!data || data->kind != JAVM_KIND_DATA || !data->data.paged || i >= data->data.n_pages)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    javm_page *p = cap_data_page_mut(&data->data, i);
    if (!p)
        return CAP_ERR(JAVM_ERR_ALLOC);
    uint8_t *b = p->bytes && !cap_page_shared(p->bytes) ? p->bytes : cap_page_alloc();
    if (!b)
        return CAP_ERR(JAVM_ERR_ALLOC);
    if (b != p->bytes)
        cap_page_unref(p->bytes); /* shared with another Data: that one keeps it */
    memcpy(b, page, JAVM_PAGE_SIZE);
    if (p->state == JAVM_PAGE_MISSING)
        data->data.n_missing--;
    p->state = JAVM_PAGE_LOADED;
    p->bytes = b;
    javm_blake2b(b, JAVM_PAGE_SIZE, &p->hash);
    return JAVM_OK;
}

int javm_data_page_missing(javm_cap *data, uint64_t i, const javm_hash *hash)
{
    if (!data || data->kind != JAVM_KIND_DATA || !data->data.paged || i >= data->data.n_pages)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    javm_page *p = cap_data_page_mut(&data->data, i);
    if (!p)
        return CAP_ERR(JAVM_ERR_ALLOC);
    cap_page_unref(p->bytes);
    p->bytes = NULL;
    if (p->state != JAVM_PAGE_MISSING)
        data->data.n_missing++;
    p->state = JAVM_PAGE_MISSING;
    p->hash = *hash;
    return JAVM_OK;
}

int javm_data_read(const javm_cap *cap, uint64_t off, uint8_t *dst, uint64_t n)
{
    if (!cap || cap->kind != JAVM_KIND_DATA)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    const javm_data *d = &cap->data;
    if (n == 0)
        return JAVM_OK;
    uint64_t end = off + n < off ? UINT64_MAX : off + n;
    uint64_t have = d->size;
    if (!d->paged) {
        /* Zeros first, then the bytes that exist. */
        if (n)
            memset(dst, 0, (size_t)n);
        if (off < have) {
            uint64_t m = (end < have ? end : have) - off;
            memcpy(dst, d->bytes + off, (size_t)m);
        }
        return JAVM_OK;
    }
    for (uint64_t pos = off; pos < end;) {
        uint64_t pi = pos / JAVM_PAGE_SIZE;
        uint64_t in = pos % JAVM_PAGE_SIZE;
        uint64_t m = JAVM_PAGE_SIZE - in;
        if (m > end - pos)
            m = end - pos;
        uint8_t *to = dst + (pos - off);
        const javm_page *p = javm_data_page(d, pi);
        if (p && p->state == JAVM_PAGE_MISSING)
            return CAP_ERR(JAVM_ERR_DATA_MISSING);
        if (p && p->state == JAVM_PAGE_LOADED)
            memcpy(to, p->bytes + in, (size_t)m);
        else
            memset(to, 0, (size_t)m);
        pos += m;
    }
    return JAVM_OK;
}

/* ---- CNode, Type, Instance, Image ------------------------------------------------------- */

int javm_cnode_new(unsigned size_log, javm_cap **out)
{
    if (size_log > JAVM_CNODE_MAX_SIZE_LOG)
        return CAP_ERR(JAVM_ERR_INVALID_CNODE_SIZE);
    javm_cap *c = cap_alloc(JAVM_KIND_CNODE);
    if (!c)
        return CAP_ERR(JAVM_ERR_ALLOC);
    c->cnode.size_log = (uint8_t)size_log;
    *out = c;
    return JAVM_OK;
}

/* Index of the first populated slot >= slot (binary search). */
static uint32_t cnode_lower_bound(const javm_cnode *cn, uint32_t slot)
{
    return (uint32_t)UTIL_LOWER_BOUND(cn->slots, cn->n_slots, slot, slot);
}

int javm_cnode_set_slot(javm_cap *cap, uint32_t slot, const javm_key *target)
{
    if (!cap || cap->kind != JAVM_KIND_CNODE)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    javm_cnode *cn = &cap->cnode;
    if (cn->size_log > JAVM_CNODE_MAX_SIZE_LOG || slot >= (1u << cn->size_log))
        return CAP_ERR(JAVM_ERR_SLOT_OUT_OF_RANGE);
    uint32_t i = cnode_lower_bound(cn, slot);
    bool found = i < cn->n_slots && cn->slots[i].slot == slot;
    if (!target || target->tag == JAVM_KEY_NONE) {
        if (found) {
            memmove(&cn->slots[i], &cn->slots[i + 1], (cn->n_slots - i - 1) * sizeof cn->slots[0]);
            cn->n_slots--;
        }
        return JAVM_OK;
    }
    if (!found) {
        int rc = grow((void **)&cn->slots, &cn->cap_slots, cn->n_slots + 1, sizeof cn->slots[0]);
        if (rc)
            return rc;
        memmove(&cn->slots[i + 1], &cn->slots[i], (cn->n_slots - i) * sizeof cn->slots[0]);
        cn->n_slots++;
        cn->slots[i].slot = slot;
    }
    cn->slots[i].target = *target;
    return JAVM_OK;
}

const javm_key *javm_cnode_get_slot(const javm_cap *cap, uint32_t slot)
{
    if (!cap || cap->kind != JAVM_KIND_CNODE)
        return NULL;
    uint32_t i = cnode_lower_bound(&cap->cnode, slot);
    if (i < cap->cnode.n_slots && cap->cnode.slots[i].slot == slot)
        return &cap->cnode.slots[i].target;
    return NULL;
}

int javm_type_new(const javm_hash *chain, javm_cap **out)
{
    javm_cap *c = cap_alloc(JAVM_KIND_TYPE);
    if (!c)
        return CAP_ERR(JAVM_ERR_ALLOC);
    c->type.image_hash_chain = *chain;
    *out = c;
    return JAVM_OK;
}

int javm_instance_new(const javm_hash *chain, const javm_hash *image_hash, const javm_key *root,
                      javm_cap **out)
{
    javm_cap *c = cap_alloc(JAVM_KIND_INSTANCE);
    if (!c)
        return CAP_ERR(JAVM_ERR_ALLOC);
    c->instance.image_hash_chain = *chain;
    c->instance.image_hash = *image_hash;
    c->instance.root_cnode = *root;
    *out = c;
    return JAVM_OK;
}

int javm_instance_add_overlay(javm_cap *cap, uint32_t start, const javm_hash *data)
{
    if (!cap || cap->kind != JAVM_KIND_INSTANCE)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    javm_instance *in = &cap->instance;
    if (in->n_overlays >= JAVM_MAX_OVERLAYS)
        return CAP_ERR(JAVM_ERR_LIMIT);
    int rc = grow((void **)&in->overlays, &in->cap_overlays, in->n_overlays + 1,
                  sizeof in->overlays[0]);
    if (rc)
        return rc;
    in->overlays[in->n_overlays].start = start;
    in->overlays[in->n_overlays].data = *data;
    in->n_overlays++;
    return JAVM_OK;
}

static void *dup_bytes(const void *p, size_t n, int *rc)
{
    if (n == 0)
        return NULL;
    void *q = malloc(n);
    if (!q)
        *rc = CAP_ERR(JAVM_ERR_ALLOC);
    else
        memcpy(q, p, n);
    return q;
}

int javm_image_new(const uint8_t *code, uint32_t code_len, const uint8_t *bitmask,
                   uint32_t bitmask_len, javm_cap **out)
{
    int rc = JAVM_OK;
    javm_cap *c = cap_alloc(JAVM_KIND_IMAGE);
    if (!c)
        return CAP_ERR(JAVM_ERR_ALLOC);
    c->image.code = dup_bytes(code, code_len, &rc);
    c->image.code_len = code_len;
    c->image.bitmask = dup_bytes(bitmask, bitmask_len, &rc);
    c->image.bitmask_len = bitmask_len;
    if (rc) {
        javm_cap_free(c);
        return rc;
    }
    *out = c;
    return JAVM_OK;
}

/* Appends one element to an image list; capacity is kept equal to the count (lists are built
 * once, so the realloc per element is not on any hot path). */
static int image_append(void **arr, uint32_t *n, const void *el, size_t size)
{
    if (*n == UINT32_MAX)
        return CAP_ERR(JAVM_ERR_LIMIT);
    void *p = realloc(*arr, ((size_t)*n + 1) * size);
    if (!p)
        return CAP_ERR(JAVM_ERR_ALLOC);
    memcpy((uint8_t *)p + (size_t)*n * size, el, size);
    *arr = p;
    (*n)++;
    return JAVM_OK;
}

int javm_image_set_jump_table(javm_cap *cap, const uint32_t *entries, uint32_t n)
{
    if (!cap || cap->kind != JAVM_KIND_IMAGE)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    int rc = JAVM_OK;
    uint32_t *jt = dup_bytes(entries, (size_t)n * 4, &rc);
    if (rc)
        return rc;
    free(cap->image.jump_table);
    cap->image.jump_table = jt;
    cap->image.jt_count = n;
    return JAVM_OK;
}

int javm_image_add_endpoint(javm_cap *cap, const javm_endpoint *ep)
{
    if (!cap || cap->kind != JAVM_KIND_IMAGE)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    return image_append((void **)&cap->image.endpoints, &cap->image.n_endpoints, ep, sizeof *ep);
}

int javm_image_add_mapping(javm_cap *cap, const javm_mapping *m)
{
    if (!cap || cap->kind != JAVM_KIND_IMAGE)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    return image_append((void **)&cap->image.mappings, &cap->image.n_mappings, m, sizeof *m);
}

int javm_image_add_pinned(javm_cap *cap, uint32_t slot, const javm_hash *h)
{
    if (!cap || cap->kind != JAVM_KIND_IMAGE)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    javm_slot_cap sc = { slot, *h };
    return image_append((void **)&cap->image.pinned, &cap->image.n_pinned, &sc, sizeof sc);
}

int javm_image_add_initial(javm_cap *cap, uint32_t slot, const javm_hash *h)
{
    if (!cap || cap->kind != JAVM_KIND_IMAGE)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    javm_slot_cap sc = { slot, *h };
    return image_append((void **)&cap->image.initial, &cap->image.n_initial, &sc, sizeof sc);
}

/* ---- free and clone -------------------------------------------------------------------- */

void cap_release_fields(javm_cap *c)
{
    switch (c->kind) {
    case JAVM_KIND_INSTANCE:
        free(c->instance.overlays);
        break;
    case JAVM_KIND_IMAGE:
        free(c->image.code);
        free(c->image.bitmask);
        free(c->image.jump_table);
        free(c->image.endpoints);
        free(c->image.mappings);
        free(c->image.pinned);
        free(c->image.initial);
        break;
    case JAVM_KIND_DATA:
        free(c->data.bytes);
        cap_data_free_pages(&c->data);
        break;
    case JAVM_KIND_CNODE:
        free(c->cnode.slots);
        break;
    case JAVM_KIND_TYPE:
        break;
    }
}

void javm_cap_free(javm_cap *c)
{
    if (!c)
        return;
    cap_release_fields(c);
    free(c);
}

int javm_cap_clone(const javm_cap *src, javm_cap **out)
{
    int rc = JAVM_OK;
    javm_cap *c = cap_alloc(src->kind);
    if (!c)
        return CAP_ERR(JAVM_ERR_ALLOC);
    *c = *src;
    /* Reset every owned pointer first so that a partial failure frees only what was copied. */
    switch (src->kind) {
    case JAVM_KIND_INSTANCE:
        c->instance.overlays = dup_bytes(src->instance.overlays,
                                         (size_t)src->instance.n_overlays * sizeof(javm_overlay), &rc);
        c->instance.cap_overlays = c->instance.overlays ? src->instance.n_overlays : 0;
        break;
    case JAVM_KIND_IMAGE: {
        const javm_image *s = &src->image;
        javm_image *d = &c->image;
        d->code = dup_bytes(s->code, s->code_len, &rc);
        d->bitmask = dup_bytes(s->bitmask, s->bitmask_len, &rc);
        d->jump_table = dup_bytes(s->jump_table, (size_t)s->jt_count * 4, &rc);
        d->endpoints = dup_bytes(s->endpoints, (size_t)s->n_endpoints * sizeof(javm_endpoint), &rc);
        d->mappings = dup_bytes(s->mappings, (size_t)s->n_mappings * sizeof(javm_mapping), &rc);
        d->pinned = dup_bytes(s->pinned, (size_t)s->n_pinned * sizeof(javm_slot_cap), &rc);
        d->initial = dup_bytes(s->initial, (size_t)s->n_initial * sizeof(javm_slot_cap), &rc);
        break;
    }
    case JAVM_KIND_DATA: {
        const javm_data *s = &src->data;
        javm_data *d = &c->data;
        d->bytes = NULL;
        d->chunks = NULL;
        d->top = NULL;
        d->n_pages = 0;
        if (!s->paged) {
            d->bytes = dup_bytes(s->bytes, (size_t)s->size, &rc);
            break;
        }
        if ((rc = cap_data_alloc_pages(d, s->n_pages)))
            break;
        d->n_missing = s->n_missing;
        for (uint64_t i = 0; i < s->n_pages && rc == JAVM_OK; i++) {
            const javm_page *sp = javm_data_page(s, i);
            if (sp->state == JAVM_PAGE_EMPTY)
                continue;
            javm_page *p = cap_data_page_mut(d, i);
            if (!p) {
                rc = CAP_ERR(JAVM_ERR_ALLOC);
                break;
            }
            *p = *sp;
            p->bytes = NULL;
            if (sp->state == JAVM_PAGE_LOADED && sp->bytes) {
                if (!(p->bytes = cap_page_alloc()))
                    rc = CAP_ERR(JAVM_ERR_ALLOC);
                else
                    memcpy(p->bytes, sp->bytes, JAVM_PAGE_SIZE);
            }
        }
        break;
    }
    case JAVM_KIND_CNODE:
        c->cnode.slots = dup_bytes(src->cnode.slots,
                                   (size_t)src->cnode.n_slots * sizeof(javm_cnode_slot), &rc);
        c->cnode.cap_slots = c->cnode.slots ? src->cnode.n_slots : 0;
        break;
    case JAVM_KIND_TYPE:
        break;
    }
    if (rc) {
        javm_cap_free(c);
        return rc;
    }
    *out = c;
    return JAVM_OK;
}

/* ---- canonical form (caps.md §3, §11.1) ------------------------------------------------ */

/* The canonical checks of page p of a Paged Data of `size` bytes (caps.md §3.3); *missing
 * grows by a Missing page. */
static bool page_canonical(const javm_page *p, bool last, uint64_t size, uint64_t *missing)
{
    switch (p->state) {
    case JAVM_PAGE_EMPTY:
        return !last;
    case JAVM_PAGE_LOADED:
        if (!p->bytes) {
            /* a by-hash page of a store record not yet filled (cap_decode_record): its
             * bytes, the last page's tail included, are checked when it is filled */
            return sodium_memcmp(&p->hash, &cap_hash_zero_page, 32) != 0;
        }
        if (last) {
            size_t in = (size_t)((size - 1) % JAVM_PAGE_SIZE);
            return p->bytes[in] != 0 && cap_all_zero(p->bytes + in + 1, JAVM_PAGE_SIZE - in - 1);
        }
        /* A Loaded page carries H(bytes) (every constructor, the decoder and settle compute
         * it), so it is all zero iff its hash is Z: no need to read 4 KiB per page, which made
         * every put of a 64 MiB Data read 64 MiB (issue 13 item 2). */
        return memcmp(&p->hash, &cap_hash_zero_page, 32) != 0;
    case JAVM_PAGE_MISSING:
        (*missing)++;
        return sodium_memcmp(&p->hash, &cap_hash_empty, 32) != 0 &&
               sodium_memcmp(&p->hash, &cap_hash_zero_page, 32) != 0;
    default:
        return false;
    }
}

bool cap_data_is_canonical(const javm_data *d)
{
    if (!d->paged) {
        if (d->size > JAVM_DATA_INLINE_MAX)
            return false;
        return d->size == 0 || d->bytes[d->size - 1] != 0;
    }
    if (d->size <= JAVM_DATA_INLINE_MAX)
        return false;
    if (d->n_pages != (d->size + JAVM_PAGE_SIZE - 1) / JAVM_PAGE_SIZE)
        return false;
    /* A chunk that passed (every page but the Data's last) is not looked at again until it
     * changes: a Data derived from a checked one costs its changed chunks (issue 13 item 2). */
    uint64_t missing = 0, nc = cap_chunk_count(d->n_pages);
    for (uint64_t j = 0; j < nc; j++) {
        javm_chunk *c = d->chunks[j];
        bool last_chunk = j + 1 == nc;
        unsigned n = cap_chunk_slots(d->n_pages, j);
        if (!c) {
            if (last_chunk)
                return false; /* the last page is Empty */
            continue;
        }
        if (c->checked && !last_chunk) {
            missing += c->n_missing;
            continue;
        }
        uint64_t m = 0;
        for (unsigned i = 0; i < n; i++)
            if (!page_canonical(&c->pages[i], last_chunk && i + 1 == n, d->size, &m))
                return false;
        missing += m;
        if (!last_chunk) {
            c->checked = true; /* a cache in a chunk of a const Data (cap.h) */
            c->n_missing = (uint8_t)m;
        }
    }
    return missing == d->n_missing;
}

static bool slot_list_sorted(const javm_slot_cap *l, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (l[i].slot >= JAVM_IMAGE_SLOT_LIMIT)
            return false;
        if (i > 0 && l[i - 1].slot >= l[i].slot)
            return false;
    }
    return true;
}

/* Bytes of the Image body encoding (caps.md §11.1), in 64 bits so that no count overflows. */
static uint64_t image_encoded_size(const javm_image *im)
{
    uint64_t n = 4 + (uint64_t)im->code_len + 4 + (uint64_t)im->bitmask_len + 4 +
                 4 * (uint64_t)im->jt_count + 4 + 125 * (uint64_t)im->n_endpoints + 4 +
                 18 * (uint64_t)im->n_mappings + 4 + 36 * (uint64_t)im->n_pinned + 4 +
                 36 * (uint64_t)im->n_initial + 1 + (im->has_yield_marker ? 4 : 0);
    for (uint32_t i = 0; i < im->n_mappings; i++)
        n += 4 * (uint64_t)im->mappings[i].path_len;
    return n;
}

static int image_check(const javm_image *im)
{
    /* An Image the decoder would refuse cannot be put (javm/limits.h). */
    if (image_encoded_size(im) > JAVM_MAX_IMAGE_SIZE)
        return CAP_ERR(JAVM_ERR_LIMIT);
    if (im->bitmask_len != im->code_len / 8u + (im->code_len % 8u != 0))
        return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    if (im->code_len % 8u && (im->bitmask[im->bitmask_len - 1] >> (im->code_len % 8u)) != 0)
        return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    if (im->n_endpoints > JAVM_MAX_ENDPOINTS)
        return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    for (uint32_t i = 0; i < im->n_endpoints; i++)
        if (im->endpoints[i].entry_pc >= (1ull << 32) || im->endpoints[i].arg_cnode_size > 16)
            return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    for (uint32_t i = 0; i < im->n_mappings; i++) {
        const javm_mapping *m = &im->mappings[i];
        if (m->start % JAVM_PAGE_SIZE || m->size == 0 || m->start > (1ull << 32) ||
            m->size > (1ull << 32) - m->start || (m->flags & 0xFE) ||
            m->path_len > JAVM_MAX_SOURCE_DEPTH)
            return CAP_ERR(JAVM_ERR_NON_CANONICAL);
        if (i > 0 && im->mappings[i - 1].start + im->mappings[i - 1].size > m->start)
            return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    }
    if (!slot_list_sorted(im->pinned, im->n_pinned) || !slot_list_sorted(im->initial, im->n_initial))
        return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    /* No slot in both lists: a merge walk over the two sorted lists. */
    for (uint32_t i = 0, j = 0; i < im->n_pinned && j < im->n_initial;) {
        if (im->pinned[i].slot == im->initial[j].slot)
            return CAP_ERR(JAVM_ERR_NON_CANONICAL);
        if (im->pinned[i].slot < im->initial[j].slot)
            i++;
        else
            j++;
    }
    if (im->has_yield_marker && im->yield_marker_slot >= JAVM_IMAGE_SLOT_LIMIT)
        return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    return JAVM_OK;
}

int javm_cap_check(const javm_cap *c)
{
    switch (c->kind) {
    case JAVM_KIND_INSTANCE: {
        const javm_instance *in = &c->instance;
        if (in->root_cnode.tag != JAVM_KEY_HASH && in->root_cnode.tag != JAVM_KEY_REF)
            return CAP_ERR(JAVM_ERR_NON_CANONICAL);
        if (in->n_overlays > JAVM_MAX_OVERLAYS)
            return CAP_ERR(JAVM_ERR_LIMIT);
        for (uint32_t i = 0; i < in->n_overlays; i++) {
            if (in->overlays[i].start % JAVM_PAGE_SIZE)
                return CAP_ERR(JAVM_ERR_NON_CANONICAL);
            if (i > 0 && in->overlays[i - 1].start >= in->overlays[i].start)
                return CAP_ERR(JAVM_ERR_NON_CANONICAL);
        }
        return JAVM_OK;
    }
    case JAVM_KIND_IMAGE:
        return image_check(&c->image);
    case JAVM_KIND_DATA:
        return cap_data_is_canonical(&c->data) ? JAVM_OK : CAP_ERR(JAVM_ERR_NON_CANONICAL);
    case JAVM_KIND_CNODE: {
        const javm_cnode *cn = &c->cnode;
        if (cn->size_log > JAVM_CNODE_MAX_SIZE_LOG)
            return CAP_ERR(JAVM_ERR_INVALID_CNODE_SIZE);
        for (uint32_t i = 0; i < cn->n_slots; i++) {
            if (cn->slots[i].slot >= (1u << cn->size_log))
                return CAP_ERR(JAVM_ERR_NON_CANONICAL);
            if (i > 0 && cn->slots[i - 1].slot >= cn->slots[i].slot)
                return CAP_ERR(JAVM_ERR_NON_CANONICAL);
            if (cn->slots[i].target.tag != JAVM_KEY_HASH && cn->slots[i].target.tag != JAVM_KEY_REF)
                return CAP_ERR(JAVM_ERR_NON_CANONICAL);
        }
        return JAVM_OK;
    }
    case JAVM_KIND_TYPE:
        return JAVM_OK;
    }
    return CAP_ERR(JAVM_ERR_BAD_KIND);
}

int cap_data_canonical(const javm_cap *src, javm_cap **out)
{
    const javm_data *d = &src->data;
    int rc = JAVM_OK;
    javm_cap *c = NULL;
    if (!d->paged) {
        uint64_t n = d->size ? javm_strip_len(d->bytes, d->size) : 0;
        return javm_data_new(d->bytes, n, out);
    }
    /* Last page that is not Empty and not an all-zero Loaded page. */
    uint64_t last = d->n_pages;
    while (last > 0) {
        const javm_page *p = javm_data_page(d, last - 1);
        if (p->state == JAVM_PAGE_MISSING ||
            (p->state == JAVM_PAGE_LOADED && !cap_all_zero(p->bytes, JAVM_PAGE_SIZE)))
            break;
        last--;
    }
    uint64_t size = 0;
    if (last > 0) {
        const javm_page *p = javm_data_page(d, last - 1);
        uint64_t base = (last - 1) * JAVM_PAGE_SIZE;
        if (p->state == JAVM_PAGE_LOADED) {
            size = base + javm_strip_len(p->bytes, JAVM_PAGE_SIZE);
        } else {
            /* A Missing last page keeps the recorded size, which must fall inside it. */
            if (d->size <= base || d->size > base + JAVM_PAGE_SIZE)
                return CAP_ERR(JAVM_ERR_NON_CANONICAL);
            size = d->size;
        }
    }
    if (size <= JAVM_DATA_INLINE_MAX) {
        if (last == 1 && javm_data_page(d, 0)->state == JAVM_PAGE_MISSING)
            return CAP_ERR(JAVM_ERR_NON_CANONICAL);
        if (last == 0)
            return javm_data_new(NULL, 0, out);
        return javm_data_new(javm_data_page(d, 0)->bytes, size, out);
    }
    rc = javm_data_new_paged(size, &c);
    for (uint64_t i = 0; rc == JAVM_OK && i < last; i++) {
        const javm_page *p = javm_data_page(d, i);
        if (p->state == JAVM_PAGE_MISSING) {
            if (sodium_memcmp(&p->hash, &cap_hash_empty, 32) == 0 ||
                sodium_memcmp(&p->hash, &cap_hash_zero_page, 32) == 0)
                continue; /* stands for a zero page, which is Empty */
            rc = javm_data_page_missing(c, i, &p->hash);
        } else if (p->state == JAVM_PAGE_LOADED && !cap_all_zero(p->bytes, JAVM_PAGE_SIZE)) {
            rc = javm_data_page_load(c, i, p->bytes);
        }
    }
    if (rc == JAVM_OK && !cap_data_is_canonical(&c->data))
        rc = CAP_ERR(JAVM_ERR_NON_CANONICAL);
    if (rc) {
        javm_cap_free(c);
        return rc;
    }
    *out = c;
    return JAVM_OK;
}

/* ---- edges ------------------------------------------------------------------------------- */

int cap_for_each_edge(const javm_cap *c, cap_edge_fn fn, void *arg)
{
    int rc = JAVM_OK;
    javm_key k;
    k.tag = JAVM_KEY_HASH;
    switch (c->kind) {
    case JAVM_KIND_INSTANCE:
        k.hash = c->instance.image_hash;
        if ((rc = fn(arg, &k)))
            return rc;
        if ((rc = fn(arg, &c->instance.root_cnode)))
            return rc;
        for (uint32_t i = 0; i < c->instance.n_overlays; i++) {
            k.hash = c->instance.overlays[i].data;
            if ((rc = fn(arg, &k)))
                return rc;
        }
        break;
    case JAVM_KIND_IMAGE:
        for (uint32_t i = 0; i < c->image.n_pinned; i++) {
            k.hash = c->image.pinned[i].cap;
            if ((rc = fn(arg, &k)))
                return rc;
        }
        for (uint32_t i = 0; i < c->image.n_initial; i++) {
            k.hash = c->image.initial[i].cap;
            if ((rc = fn(arg, &k)))
                return rc;
        }
        break;
    case JAVM_KIND_CNODE:
        for (uint32_t i = 0; i < c->cnode.n_slots; i++)
            if ((rc = fn(arg, &c->cnode.slots[i].target)))
                return rc;
        break;
    case JAVM_KIND_DATA:
    case JAVM_KIND_TYPE:
        break;
    }
    return rc;
}

size_t cap_edge_count(const javm_cap *c)
{
    switch (c->kind) {
    case JAVM_KIND_INSTANCE:
        return 2 + (size_t)c->instance.n_overlays;
    case JAVM_KIND_IMAGE:
        return (size_t)c->image.n_pinned + c->image.n_initial;
    case JAVM_KIND_CNODE:
        return c->cnode.n_slots;
    default:
        return 0;
    }
}
