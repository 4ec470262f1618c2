/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_caps.c — libFuzzer target for the capability decoders (caps.md §11): cap bodies of
 * every kind byte, JCAP files and JIMG files. Input byte 0 picks the form (0: kind byte 1 then a
 * body (kind 0x31: a store record of format 2, cap_decode_record; 0x32 and 0x61: records of
 * format 3, a Data naming its chunks and a chunk), 1: a JCAP file, 2: a JIMG file), the rest
 * is the input. Checks: nothing crashes; an
 * accepted body or JCAP re-encodes to exactly the input (§11.1) and decodes again to the same
 * encoding; javm_image_load into a fresh cache either fails with the cache empty or succeeds,
 * and then javm_image_save writes a file that loads into another fresh cache to the same image
 * hash, every blob's refcount being its holders (§5.2: edges plus the caller's hold). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "javm.h"
#include "cap/cap.h" /* cap_decode_record, cap_chunk_*: store records of formats 2 and 3 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *g_in;
static size_t g_len;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_caps: %s; input (%zu bytes):", what, g_len);
    for (size_t i = 0; i < g_len && i < 256; i++)
        fprintf(stderr, " %02x", g_in[i]);
    fputc('\n', stderr);
    abort();
}

static bool same_bytes(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

/* An accepted cap: encodes to `body`, passes the intrinsic check, hashes, clones to the same
 * encoding, and its encoding decodes again to itself. */
static void check_accepted(const javm_cap *c, const uint8_t *body, size_t len)
{
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t n = 0, n2 = 0;
    if (javm_cap_encode(c, &enc, &n) != JAVM_OK)
        fail("accepted cap does not encode");
    if (!same_bytes(enc, n, body, len))
        fail("encode(decode(x)) != x");
    if (javm_cap_check(c) != JAVM_OK)
        fail("accepted cap fails javm_cap_check");
    javm_hash h1, h2;
    if (javm_cap_hash(c, &h1) != JAVM_OK)
        fail("accepted cap does not hash");
    javm_cap *again = NULL, *clone = NULL;
    if (javm_cap_decode((uint8_t)c->kind, enc, n, &again, NULL) != JAVM_OK)
        fail("re-encoding does not decode");
    if (javm_cap_encode(again, &enc2, &n2) != JAVM_OK || !same_bytes(enc, n, enc2, n2))
        fail("decode -> encode -> decode not stable");
    if (javm_cap_hash(again, &h2) != JAVM_OK || memcmp(&h1, &h2, sizeof h1) != 0)
        fail("decoded again to a different hash");
    javm_free(enc2);
    enc2 = NULL;
    if (javm_cap_clone(c, &clone) != JAVM_OK || javm_cap_encode(clone, &enc2, &n2) != JAVM_OK ||
        !same_bytes(enc, n, enc2, n2))
        fail("clone encodes differently");
    javm_cap_free(clone);
    javm_cap_free(again);
    javm_free(enc2);
    javm_free(enc);
}

/* A store record decoded (NULL: refused, with a reason and an offset inside the input). */
static javm_cap *decode_record(const uint8_t *p, size_t n)
{
    javm_cap *c = NULL;
    javm_decode_err err;
    int rc = cap_decode_record(p, n, &c, &err);
    if (rc != JAVM_OK && (rc >= 0 || err.reason != rc || err.offset > n - 1))
        fail("record decode failure without a reason and an offset inside the input");
    return rc == JAVM_OK ? c : NULL;
}

/* A store record of format 2 (docs/store.md): a Paged Data naming its pages by hash. An
 * accepted one re-encodes to exactly the input with the same encoder and hashes. */
static void fuzz_record(const uint8_t *p, size_t n)
{
    javm_cap *c = decode_record(p, n);
    if (!c)
        return;
    cap_sink sink = { .page_refs = true };
    cap_sink_u8(&sink, CAP_RECORD_DATA_REFS);
    javm_hash h;
    if (cap_encode_body(c, &sink) != JAVM_OK || !same_bytes(sink.buf, sink.len, p, n))
        fail("a format-2 record does not re-encode to itself");
    if (javm_cap_hash(c, &h) != JAVM_OK)
        fail("a format-2 record does not hash");
    uint8_t *enc = NULL;
    size_t en = 0;
    bool unfilled = false;
    for (uint64_t i = 0; c->data.paged && i < c->data.n_pages; i++)
        unfilled |= cap_page_unfilled(javm_data_page(&c->data, i));
    int rc = javm_cap_encode(c, &enc, &en);
    if (rc == JAVM_OK && unfilled) /* unfilled pages have no bytes to write */
        fail("a Data with unfilled pages encoded as a cap body");
    if (rc != JAVM_OK && !unfilled)
        fail("a format-2 record without by-hash pages does not encode as a cap body");
    javm_free(enc);
    free(sink.buf);
    javm_cap_free(c);
}

/* A Data record of format 3: accepted, it is a Paged Data whose chunks wait for their records
 * (keyed, pending; a zero key an Empty chunk, never the last), and writes back to the input. */
static void fuzz_chunked(const uint8_t *p, size_t n)
{
    javm_cap *c = decode_record(p, n);
    if (!c)
        return;
    const javm_data *d = &c->data;
    uint64_t nc = cap_chunk_count(d->n_pages);
    uint8_t *w = malloc(13 + nc * 32);
    if (!w)
        abort();
    w[0] = CAP_RECORD_DATA_CHUNKS;
    cap_put_u64(w + 1, d->size);
    cap_put_u32(w + 9, (uint32_t)d->n_pages);
    for (uint64_t j = 0; j < nc; j++) {
        const javm_chunk *ch = d->chunks[j];
        if (ch && (ch->key_n != cap_chunk_slots(d->n_pages, j) || !ch->pending || cap_all_zero(ch->key.b, 32)))
            fail("a chunk of a format-3 record not waiting for its record");
        if (!ch && j + 1 == nc)
            fail("a format-3 record whose last chunk is Empty was accepted");
        if (ch)
            memcpy(w + 13 + j * 32, ch->key.b, 32);
        else
            memset(w + 13 + j * 32, 0, 32);
    }
    if (!d->paged || d->size <= JAVM_DATA_INLINE_MAX || !same_bytes(w, 13 + nc * 32, p, n))
        fail("a format-3 Data record does not write back to itself");
    free(w);
    javm_cap_free(c);
}

/* A chunk record: accepted (for the slot count it names), it writes back to the input. */
static void fuzz_chunk(const uint8_t *p, size_t n)
{
    javm_chunk *ch = cap_chunk_new();
    uint8_t out[CAP_CHUNK_RECORD_MAX];
    if (!ch)
        abort();
    if (n >= 2 && p[1] >= 1 && p[1] <= CAP_CHUNK_PAGES && cap_chunk_from_record(p, n, p[1], ch) == JAVM_OK) {
        size_t len = cap_chunk_record(ch, p[1], out);
        if (!same_bytes(out, len, p, n))
            fail("a chunk record does not write back to itself");
    }
    cap_chunk_unref(ch);
}

static void fuzz_body(const uint8_t *p, size_t n)
{
    if (n < 1)
        return;
    if (p[0] == CAP_RECORD_DATA_REFS) {
        fuzz_record(p, n);
        return;
    }
    if (p[0] == CAP_RECORD_DATA_CHUNKS) {
        fuzz_chunked(p, n);
        return;
    }
    if (p[0] == CAP_RECORD_CHUNK) {
        fuzz_chunk(p, n);
        return;
    }
    javm_cap *c = NULL;
    javm_decode_err err;
    int rc = javm_cap_decode(p[0], p + 1, n - 1, &c, &err);
    if (rc == JAVM_OK) {
        check_accepted(c, p + 1, n - 1);
        javm_cap_free(c);
    } else if (rc >= 0 || err.reason != rc || err.offset > n - 1) {
        fail("decode failure without a reason and an offset inside the input");
    }
}

static void fuzz_jcap(const uint8_t *p, size_t n)
{
    javm_cap *c = NULL;
    javm_decode_err err;
    int rc = javm_cap_parse_export(p, n, &c, &err);
    if (rc != JAVM_OK) {
        if (rc >= 0 || err.reason != rc || err.offset > n)
            fail("JCAP failure without a reason and an offset inside the input");
        return;
    }
    check_accepted(c, p + 9, n - 9);
    uint8_t *file = NULL;
    size_t len = 0;
    if (javm_cap_export(c, &file, &len) != JAVM_OK || !same_bytes(file, len, p, n))
        fail("export(parse(x)) != x");
    javm_free(file);
    javm_cap_free(c);
}

/* ---- JIMG ---------------------------------------------------------------------------------- */

typedef struct fresh {
    javm_store *store;
    javm_cache *cache;
} fresh;

static void fresh_open(fresh *f)
{
    if (javm_store_mem_new(&f->store) != JAVM_OK || javm_cache_open(f->store, &f->cache) != JAVM_OK)
        fail("cannot open an in-memory cache");
}

static void fresh_close(fresh *f)
{
    javm_cache_close(f->cache);
    javm_store_close(f->store);
}

/* Every live blob with its refcount, and every edge of every blob (one entry per edge). */
typedef struct blobs {
    javm_hash *h;
    uint32_t *rc;
    size_t n, cap;
    javm_hash *edge;
    size_t nedge, capedge;
} blobs;

static void *grow(void *p, size_t *cap, size_t need, size_t el)
{
    if (need <= *cap)
        return p;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *q = realloc(p, nc * el);
    if (!q)
        abort();
    *cap = nc;
    return q;
}

static void add_edge(blobs *b, const javm_hash *h)
{
    b->edge = grow(b->edge, &b->capedge, b->nedge + 1, sizeof *b->edge);
    b->edge[b->nedge++] = *h;
}

static int collect(void *arg, const javm_hash *h, const javm_cap *c, uint32_t rc)
{
    blobs *b = arg;
    size_t c1 = b->cap;
    b->h = grow(b->h, &c1, b->n + 1, sizeof *b->h);
    b->rc = grow(b->rc, &b->cap, b->n + 1, sizeof *b->rc);
    b->h[b->n] = *h;
    b->rc[b->n++] = rc;
    switch (c->kind) {
    case JAVM_KIND_INSTANCE:
        add_edge(b, &c->instance.image_hash);
        add_edge(b, &c->instance.root_cnode.hash);
        for (uint32_t i = 0; i < c->instance.n_overlays; i++)
            add_edge(b, &c->instance.overlays[i].data);
        break;
    case JAVM_KIND_IMAGE:
        for (uint32_t i = 0; i < c->image.n_pinned; i++)
            add_edge(b, &c->image.pinned[i].cap);
        for (uint32_t i = 0; i < c->image.n_initial; i++)
            add_edge(b, &c->image.initial[i].cap);
        break;
    case JAVM_KIND_CNODE:
        for (uint32_t i = 0; i < c->cnode.n_slots; i++)
            add_edge(b, &c->cnode.slots[i].target.hash);
        break;
    default:
        break;
    }
    return 0;
}

/* After a load the holders are the blobs' edges and the caller's one hold on the Image; every
 * edge names a live blob. */
static void check_holders(javm_cache *c, const javm_hash *image)
{
    blobs b = { 0 };
    javm_cache_iter_blobs(c, collect, &b);
    for (size_t i = 0; i < b.n; i++) {
        uint32_t want = memcmp(&b.h[i], image, sizeof *image) == 0;
        for (size_t e = 0; e < b.nedge; e++)
            want += memcmp(&b.edge[e], &b.h[i], sizeof b.h[i]) == 0;
        if (b.rc[i] != want)
            fail("a refcount is not its number of holders after javm_image_load");
    }
    for (size_t e = 0; e < b.nedge; e++)
        if (!javm_cache_get_hash(c, &b.edge[e]))
            fail("an edge names no blob after javm_image_load");
    free(b.h);
    free(b.rc);
    free(b.edge);
}

static void fuzz_jimg(const uint8_t *p, size_t n)
{
    fresh a, b;
    fresh_open(&a);
    javm_hash ih, ih2;
    javm_decode_err err;
    int rc = javm_image_load(a.cache, p, n, &ih, &err);
    if (rc != JAVM_OK) {
        if (rc >= 0 || err.reason != rc || err.offset > n)
            fail("JIMG failure without a reason and an offset inside the input");
        if (javm_cache_blob_count(a.cache) != 0 || javm_cache_working_count(a.cache) != 0)
            fail("a failed javm_image_load left entries in the cache");
        fresh_close(&a);
        return;
    }
    const javm_cap *img = javm_cache_get_hash(a.cache, &ih);
    if (!img || img->kind != JAVM_KIND_IMAGE)
        fail("javm_image_load's hash does not name an Image");
    check_holders(a.cache, &ih);
    uint8_t *file = NULL, *file2 = NULL;
    size_t len = 0, len2 = 0;
    if (javm_image_save(a.cache, &ih, &file, &len) != JAVM_OK)
        fail("a loaded Image does not save");
    fresh_open(&b);
    if (javm_image_load(b.cache, file, len, &ih2, &err) != JAVM_OK)
        fail("the saved file does not load");
    if (memcmp(&ih, &ih2, sizeof ih) != 0)
        fail("the saved file loads to another image hash");
    if (javm_cache_blob_count(a.cache) != javm_cache_blob_count(b.cache))
        fail("the saved file loads to another number of blobs");
    check_holders(b.cache, &ih2);
    if (javm_image_save(b.cache, &ih2, &file2, &len2) != JAVM_OK || !same_bytes(file, len, file2, len2))
        fail("save(load(save(x))) != save(x)");
    javm_free(file2);
    javm_free(file);
    fresh_close(&b);
    fresh_close(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* An exact-size copy, so that ASan reports any read past the input. */
    uint8_t *in = malloc(size - 1 ? size - 1 : 1);
    if (!in)
        abort();
    memcpy(in, data + 1, size - 1);
    g_in = data;
    g_len = size;
    switch (data[0] % 3) {
    case 0: fuzz_body(in, size - 1); break;
    case 1: fuzz_jcap(in, size - 1); break;
    default: fuzz_jimg(in, size - 1); break;
    }
    free(in);
    return 0;
}
