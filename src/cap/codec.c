/* SPDX-License-Identifier: MIT
 * cap/codec.c — the one canonical encoder and hostile-input decoder per cap kind (caps.md
 * §11.1, §11.3), and the JCAP export file (§11.2). The encoder writes through a cap_sink, so
 * the same bytes feed the Image hash, files and store records. Capability layer. */
#include <stdlib.h>
#include <string.h>

#include "cap/cap.h"

/* ---- sink ------------------------------------------------------------------------------ */

void cap_sink_bytes(cap_sink *s, const void *p, size_t n)
{
    if (s->status || n == 0)
        return;
    if (s->hs) {
        crypto_generichash_update(s->hs, p, n);
        return;
    }
    if (s->count_only) {
        s->len += n;
        return;
    }
    if (s->write) {
        if (n > CAP_SINK_PIECE - s->len && cap_sink_flush(s))
            return;
        if (n >= CAP_SINK_PIECE) {
            s->status = s->write(s->warg, p, n);
            return;
        }
        if (!s->buf && !(s->buf = malloc(CAP_SINK_PIECE))) {
            s->status = CAP_ERR(JAVM_ERR_ALLOC);
            return;
        }
        s->cap = CAP_SINK_PIECE;
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        return;
    }
    if (n > s->cap - s->len) {
        size_t want = s->cap ? s->cap : 64;
        while (want - s->len < n) {
            if (want > SIZE_MAX / 2) {
                s->status = CAP_ERR(JAVM_ERR_ALLOC);
                return;
            }
            want *= 2;
        }
        uint8_t *b = realloc(s->buf, want);
        if (!b) {
            s->status = CAP_ERR(JAVM_ERR_ALLOC);
            return;
        }
        s->buf = b;
        s->cap = want;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

int cap_sink_flush(cap_sink *s)
{
    if (s->write && !s->status && s->len) {
        s->status = s->write(s->warg, s->buf, s->len);
        s->len = 0;
    }
    return s->status;
}

void cap_sink_u8(cap_sink *s, uint8_t v)
{
    cap_sink_bytes(s, &v, 1);
}

void cap_sink_u32(cap_sink *s, uint32_t v)
{
    uint8_t b[4];
    cap_put_u32(b, v);
    cap_sink_bytes(s, b, 4);
}

void cap_sink_u64(cap_sink *s, uint64_t v)
{
    uint8_t b[8];
    cap_put_u64(b, v);
    cap_sink_bytes(s, b, 8);
}

static void sink_hash(cap_sink *s, const javm_hash *h)
{
    cap_sink_bytes(s, h->b, 32);
}

/* ---- encoder --------------------------------------------------------------------------- */

static int settled(void *arg, const javm_key *k)
{
    (void)arg;
    return k->tag == JAVM_KEY_HASH ? JAVM_OK : CAP_ERR(JAVM_ERR_UNSETTLED);
}

static void encode_slot_list(cap_sink *s, const javm_slot_cap *l, uint32_t n)
{
    cap_sink_u32(s, n);
    for (uint32_t i = 0; i < n; i++) {
        cap_sink_u32(s, l[i].slot);
        sink_hash(s, &l[i].cap);
    }
}

int cap_encode_body(const javm_cap *c, cap_sink *s)
{
    int rc = javm_cap_check(c);
    if (rc == JAVM_OK)
        rc = cap_for_each_edge(c, settled, NULL);
    if (rc)
        return rc;
    switch (c->kind) {
    case JAVM_KIND_INSTANCE: {
        const javm_instance *in = &c->instance;
        sink_hash(s, &in->image_hash_chain);
        sink_hash(s, &in->image_hash);
        sink_hash(s, &in->root_cnode.hash);
        cap_sink_u32(s, in->n_overlays);
        for (uint32_t i = 0; i < in->n_overlays; i++) {
            cap_sink_u32(s, in->overlays[i].start);
            sink_hash(s, &in->overlays[i].data);
        }
        for (int i = 0; i < 13; i++)
            cap_sink_u64(s, in->regs[i]);
        cap_sink_u64(s, in->pc);
        cap_sink_u64(s, in->gas_remaining);
        cap_sink_u32(s, in->mem_size);
        break;
    }
    case JAVM_KIND_IMAGE: {
        const javm_image *im = &c->image;
        cap_sink_u32(s, im->code_len);
        cap_sink_bytes(s, im->code, im->code_len);
        cap_sink_u32(s, im->bitmask_len);
        cap_sink_bytes(s, im->bitmask, im->bitmask_len);
        cap_sink_u32(s, im->jt_count);
        for (uint32_t i = 0; i < im->jt_count; i++)
            cap_sink_u32(s, im->jump_table[i]);
        cap_sink_u32(s, im->n_endpoints);
        for (uint32_t i = 0; i < im->n_endpoints; i++) {
            const javm_endpoint *e = &im->endpoints[i];
            cap_sink_u64(s, e->entry_pc);
            cap_sink_u64(s, e->stack_top);
            cap_sink_u32(s, e->arg_cnode_slot);
            cap_sink_u8(s, e->arg_cnode_size);
            for (int r = 0; r < 13; r++)
                cap_sink_u64(s, e->initial_regs[r]);
        }
        cap_sink_u32(s, im->n_mappings);
        for (uint32_t i = 0; i < im->n_mappings; i++) {
            const javm_mapping *m = &im->mappings[i];
            cap_sink_u64(s, m->start);
            cap_sink_u64(s, m->size);
            cap_sink_u8(s, m->flags);
            cap_sink_u8(s, m->path_len);
            for (unsigned p = 0; p < m->path_len; p++)
                cap_sink_u32(s, m->path[p]);
        }
        encode_slot_list(s, im->pinned, im->n_pinned);
        encode_slot_list(s, im->initial, im->n_initial);
        if (im->has_yield_marker) {
            cap_sink_u8(s, 1);
            cap_sink_u32(s, im->yield_marker_slot);
        } else {
            cap_sink_u8(s, 0);
        }
        break;
    }
    case JAVM_KIND_DATA: {
        const javm_data *d = &c->data;
        cap_sink_u64(s, d->size);
        cap_sink_u8(s, d->paged ? 1 : 0);
        if (!d->paged) {
            cap_sink_bytes(s, d->bytes, (size_t)d->size);
            break;
        }
        cap_sink_u32(s, (uint32_t)d->n_pages); /* canonical: ceil(size/4096) fits (decoded) */
        for (uint64_t i = 0; i < d->n_pages; i++) {
            const javm_page *p = javm_data_page(d, i);
            cap_sink_u8(s, (uint8_t)p->state);
            if (p->state == JAVM_PAGE_LOADED && s->page_refs)
                sink_hash(s, &p->hash);
            else if (p->state == JAVM_PAGE_LOADED && !p->bytes) /* unfilled: no bytes to write */
                return s->status = CAP_ERR(JAVM_ERR_NON_CANONICAL);
            else if (p->state == JAVM_PAGE_LOADED)
                cap_sink_bytes(s, p->bytes, JAVM_PAGE_SIZE);
            else if (p->state == JAVM_PAGE_MISSING)
                sink_hash(s, &p->hash);
        }
        break;
    }
    case JAVM_KIND_CNODE:
        cap_sink_u8(s, c->cnode.size_log);
        cap_sink_u32(s, c->cnode.n_slots);
        for (uint32_t i = 0; i < c->cnode.n_slots; i++) {
            cap_sink_u32(s, c->cnode.slots[i].slot);
            sink_hash(s, &c->cnode.slots[i].target.hash);
        }
        break;
    case JAVM_KIND_TYPE:
        sink_hash(s, &c->type.image_hash_chain);
        break;
    }
    return s->status;
}

int javm_cap_encode(const javm_cap *c, uint8_t **out, size_t *len)
{
    cap_sink s = { 0 };
    int rc = cap_encode_body(c, &s);
    if (rc) {
        free(s.buf);
        return rc;
    }
    *out = s.buf;
    *len = s.len;
    return JAVM_OK;
}

int javm_cap_export(const javm_cap *c, uint8_t **out, size_t *len)
{
    cap_sink s = { 0 };
    cap_sink_bytes(&s, "JCAP", 4);
    cap_sink_u32(&s, 1);
    cap_sink_u8(&s, (uint8_t)c->kind);
    int rc = cap_encode_body(c, &s);
    if (rc) {
        free(s.buf);
        return rc;
    }
    *out = s.buf;
    *len = s.len;
    return JAVM_OK;
}

/* ---- decoder --------------------------------------------------------------------------- */

/* A bounded reader over a record of len bytes, given whole (javm_cap_decode) or in pieces
 * pulled from a source (cap_decode_stream): every read checks the remaining length against
 * len before it is made, and copies across piece boundaries, so no read depends on how the
 * record was cut. The first failure records its reason and offset and every later read
 * fails too; a failure of the source itself is kept as it is (src_failed). */
typedef struct reader {
    const uint8_t *p; /* the current piece */
    size_t n;         /* its length (at most what is left of len) */
    size_t pos;       /* bytes of it consumed */
    size_t len;       /* the whole record */
    size_t off;       /* bytes of the record consumed */
    cap_source_fn src;
    void *src_arg;
    crypto_generichash_state *hs; /* non-NULL: every byte of the record goes through it */
    int err;
    size_t err_off;
    bool src_failed;
    bool page_refs; /* a CAP_RECORD_DATA_REFS body: Loaded pages are hashes */
    bool chunk_refs; /* a CAP_RECORD_DATA_CHUNKS body: chunks are keys */
} reader;

static int fail(reader *r, int reason, size_t off)
{
    if (!r->err) {
        r->err = reason;
        r->err_off = off;
    }
    return r->err;
}

static bool need(reader *r, size_t n)
{
    if (r->err)
        return false;
    if (n > r->len - r->off) {
        fail(r, CAP_ERR(JAVM_ERR_TRUNCATED), r->len);
        return false;
    }
    return true;
}

/* Takes the next piece of the record from the source, cut to what is left of len (a source
 * that gives more is not read further; one that ends early is TRUNCATED). */
static bool refill(reader *r)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    int rc = r->src ? r->src(r->src_arg, &p, &n) : JAVM_OK;
    if (rc) {
        r->src_failed = true;
        fail(r, rc, r->off);
        return false;
    }
    if (n == 0 || !p) {
        fail(r, CAP_ERR(JAVM_ERR_TRUNCATED), r->off);
        return false;
    }
    if (n > r->len - r->off)
        n = r->len - r->off;
    if (r->hs)
        crypto_generichash_update(r->hs, p, n);
    r->p = p;
    r->n = n;
    r->pos = 0;
    return true;
}

/* Copies the next k bytes of the record to dst (after need(k)). */
static bool rd_copy(reader *r, void *dst, size_t k)
{
    if (!need(r, k))
        return false;
    uint8_t *d = dst;
    while (k) {
        if (r->pos == r->n && !refill(r))
            return false;
        size_t m = r->n - r->pos < k ? r->n - r->pos : k;
        memcpy(d, r->p + r->pos, m);
        d += m;
        r->pos += m;
        r->off += m;
        k -= m;
    }
    return true;
}

static uint8_t rd_u8(reader *r)
{
    uint8_t b = 0;
    return rd_copy(r, &b, 1) ? b : 0;
}

static uint32_t rd_u32(reader *r)
{
    uint8_t b[4];
    return rd_copy(r, b, 4) ? cap_get_u32(b) : 0;
}

static uint64_t rd_u64(reader *r)
{
    uint8_t b[8];
    return rd_copy(r, b, 8) ? cap_get_u64(b) : 0;
}

static void rd_hash(reader *r, javm_hash *h)
{
    rd_copy(r, h->b, 32);
}

/* A count of elements of at least `min_size` bytes each must fit in what is left, checked
 * before anything is allocated for them. at = offset of the count field. */
static bool count_fits(reader *r, uint64_t count, size_t min_size, size_t at)
{
    if (r->err)
        return false;
    if (count > (r->len - r->off) / min_size) {
        fail(r, CAP_ERR(JAVM_ERR_OVERSIZED), at);
        return false;
    }
    return true;
}

/* malloc of count elements that already passed count_fits; count 0 gives NULL. */
static void *rd_alloc(reader *r, uint64_t count, size_t size)
{
    if (r->err || count == 0)
        return NULL;
    void *p = calloc((size_t)count, size);
    if (!p)
        fail(r, CAP_ERR(JAVM_ERR_ALLOC), r->off);
    return p;
}

static void *rd_blob(reader *r, uint32_t *n_out)
{
    size_t at = r->off;
    uint32_t n = rd_u32(r);
    if (!count_fits(r, n, 1, at))
        return NULL;
    uint8_t *b = rd_alloc(r, n, 1);
    if (b)
        rd_copy(r, b, n);
    *n_out = r->err ? 0 : n;
    return b;
}

static void decode_slot_list(reader *r, javm_slot_cap **out, uint32_t *n_out)
{
    size_t at = r->off;
    uint32_t n = rd_u32(r);
    if (!count_fits(r, n, 36, at))
        return;
    javm_slot_cap *l = rd_alloc(r, n, sizeof *l);
    *out = l;
    for (uint32_t i = 0; i < n && !r->err; i++) {
        size_t el = r->off;
        l[i].slot = rd_u32(r);
        rd_hash(r, &l[i].cap);
        if (!r->err && (l[i].slot >= JAVM_IMAGE_SLOT_LIMIT || (i > 0 && l[i - 1].slot >= l[i].slot)))
            fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
        *n_out = i + 1;
    }
}

static void decode_image(reader *r, javm_image *im)
{
    im->code = rd_blob(r, &im->code_len);
    size_t at = r->off;
    im->bitmask = rd_blob(r, &im->bitmask_len);
    if (!r->err && im->bitmask_len != im->code_len / 8u + (im->code_len % 8u != 0))
        fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), at);
    if (!r->err && im->code_len % 8u && (im->bitmask[im->bitmask_len - 1] >> (im->code_len % 8u)))
        fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), r->off - 1);

    at = r->off;
    uint32_t n = rd_u32(r);
    if (count_fits(r, n, 4, at)) {
        im->jump_table = rd_alloc(r, n, 4);
        for (uint32_t i = 0; i < n && !r->err; i++)
            im->jump_table[i] = rd_u32(r);
        im->jt_count = r->err ? 0 : n;
    }

    at = r->off;
    n = rd_u32(r);
    if (!r->err && n > JAVM_MAX_ENDPOINTS)
        fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), at);
    if (count_fits(r, n, 125, at)) {
        im->endpoints = rd_alloc(r, n, sizeof(javm_endpoint));
        for (uint32_t i = 0; i < n && !r->err; i++) {
            javm_endpoint *e = &im->endpoints[i];
            size_t el = r->off;
            e->entry_pc = rd_u64(r);
            e->stack_top = rd_u64(r);
            e->arg_cnode_slot = rd_u32(r);
            e->arg_cnode_size = rd_u8(r);
            for (int k = 0; k < 13; k++)
                e->initial_regs[k] = rd_u64(r);
            if (!r->err && (e->entry_pc >= (1ull << 32) || e->arg_cnode_size > 16))
                fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
            im->n_endpoints = i + 1;
        }
    }

    at = r->off;
    n = rd_u32(r);
    if (count_fits(r, n, 18, at)) {
        im->mappings = rd_alloc(r, n, sizeof(javm_mapping));
        for (uint32_t i = 0; i < n && !r->err; i++) {
            javm_mapping *m = &im->mappings[i];
            size_t el = r->off;
            m->start = rd_u64(r);
            m->size = rd_u64(r);
            m->flags = rd_u8(r);
            m->path_len = rd_u8(r);
            if (!r->err && m->path_len > JAVM_MAX_SOURCE_DEPTH) {
                fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
                break;
            }
            for (unsigned p = 0; p < m->path_len; p++)
                m->path[p] = rd_u32(r);
            if (!r->err && (m->start % JAVM_PAGE_SIZE || m->size == 0 || m->start > (1ull << 32) ||
                            m->size > (1ull << 32) - m->start || (m->flags & 0xFE) ||
                            (i > 0 && im->mappings[i - 1].start + im->mappings[i - 1].size > m->start)))
                fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
            im->n_mappings = i + 1;
        }
    }

    decode_slot_list(r, &im->pinned, &im->n_pinned);
    at = r->off;
    decode_slot_list(r, &im->initial, &im->n_initial);
    for (uint32_t i = 0, j = 0; !r->err && i < im->n_pinned && j < im->n_initial;) {
        if (im->pinned[i].slot == im->initial[j].slot)
            fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), at);
        else if (im->pinned[i].slot < im->initial[j].slot)
            i++;
        else
            j++;
    }

    at = r->off;
    uint8_t tag = rd_u8(r);
    if (!r->err && tag > 1)
        fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), at);
    if (tag == 1) {
        im->has_yield_marker = true;
        im->yield_marker_slot = rd_u32(r);
        if (!r->err && im->yield_marker_slot >= JAVM_IMAGE_SLOT_LIMIT)
            fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), at + 1);
    }
}

static void decode_data(reader *r, javm_data *d)
{
    size_t at = r->off;
    d->size = rd_u64(r);
    size_t form_at = r->off;
    uint8_t form = rd_u8(r);
    if (r->err)
        return;
    if (form == 0) {
        if (d->size > JAVM_DATA_INLINE_MAX) {
            fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), at);
            return;
        }
        if (!count_fits(r, d->size, 1, at))
            return;
        d->bytes = rd_alloc(r, d->size, 1);
        if (r->err)
            return;
        if (d->size && !rd_copy(r, d->bytes, (size_t)d->size))
            return;
        if (d->size && d->bytes[d->size - 1] == 0)
            fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), r->off - 1);
        return;
    }
    if (form != 1 || d->size <= JAVM_DATA_INLINE_MAX) {
        fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), form != 1 ? form_at : at);
        return;
    }
    d->paged = true;
    size_t count_at = r->off;
    uint32_t n = rd_u32(r);
    if (!count_fits(r, n, 1, count_at))
        return;
    if (n != d->size / JAVM_PAGE_SIZE + (d->size % JAVM_PAGE_SIZE != 0)) {
        fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), count_at);
        return;
    }
    if (cap_data_alloc_pages(d, n)) { /* n <= the body's length (count_fits) */
        fail(r, CAP_ERR(JAVM_ERR_ALLOC), count_at);
        return;
    }
    for (uint32_t i = 0; i < n && !r->err; i++) {
        bool last = i + 1 == n;
        size_t el = r->off;
        uint8_t st = rd_u8(r);
        if (r->err)
            break;
        if (st == JAVM_PAGE_EMPTY) {
            if (last)
                fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
            continue;
        }
        javm_page *p = cap_data_page_mut(d, i);
        if (!p) {
            fail(r, CAP_ERR(JAVM_ERR_ALLOC), el);
            break;
        }
        if (st == JAVM_PAGE_LOADED && r->page_refs) {
            /* Filled by the store's reader, which checks the page against the hash and
             * the Data's canonical form (a zero page would be Empty) */
            rd_hash(r, &p->hash);
            p->state = JAVM_PAGE_LOADED;
            if (!r->err && (sodium_memcmp(&p->hash, &cap_hash_empty, 32) == 0 ||
                            sodium_memcmp(&p->hash, &cap_hash_zero_page, 32) == 0))
                fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
        } else if (st == JAVM_PAGE_LOADED) {
            if (!need(r, JAVM_PAGE_SIZE))
                break;
            uint8_t *b = cap_page_alloc();
            if (!b) {
                fail(r, CAP_ERR(JAVM_ERR_ALLOC), el);
                break;
            }
            if (!rd_copy(r, b, JAVM_PAGE_SIZE)) {
                cap_page_unref(b);
                break;
            }
            bool ok;
            if (last) {
                size_t in = (size_t)((d->size - 1) % JAVM_PAGE_SIZE);
                ok = b[in] != 0 && cap_all_zero(b + in + 1, JAVM_PAGE_SIZE - in - 1);
            } else {
                ok = !cap_all_zero(b, JAVM_PAGE_SIZE);
            }
            if (!ok) {
                cap_page_unref(b);
                fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
                break;
            }
            p->bytes = b;
            p->state = JAVM_PAGE_LOADED;
            javm_blake2b(p->bytes, JAVM_PAGE_SIZE, &p->hash);
        } else if (st == JAVM_PAGE_MISSING) {
            rd_hash(r, &p->hash);
            p->state = JAVM_PAGE_MISSING;
            d->n_missing++;
            if (!r->err && (sodium_memcmp(&p->hash, &cap_hash_empty, 32) == 0 ||
                            sodium_memcmp(&p->hash, &cap_hash_zero_page, 32) == 0))
                fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
        } else {
            fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
        }
    }
}

/* A CAP_RECORD_DATA_CHUNKS body: u64 size ‖ u32 n_pages ‖ one key a chunk (zeros: Empty). */
static void decode_chunked(reader *r, javm_data *d)
{
    size_t at = r->off;
    d->size = rd_u64(r);
    size_t count_at = r->off;
    uint32_t n = rd_u32(r);
    if (r->err)
        return;
    if (d->size <= JAVM_DATA_INLINE_MAX || n != d->size / JAVM_PAGE_SIZE + (d->size % JAVM_PAGE_SIZE != 0)) {
        fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), d->size <= JAVM_DATA_INLINE_MAX ? at : count_at);
        return;
    }
    uint64_t nc = cap_chunk_count(n);
    if (!count_fits(r, nc, 32, count_at))
        return;
    d->paged = true;
    if (cap_data_alloc_pages(d, n)) {
        fail(r, CAP_ERR(JAVM_ERR_ALLOC), count_at);
        return;
    }
    for (uint64_t j = 0; j < nc && !r->err; j++) {
        size_t el = r->off;
        javm_hash k;
        rd_hash(r, &k);
        if (r->err)
            break;
        if (cap_all_zero(k.b, 32)) {
            if (j + 1 == nc) /* the last page is Loaded */
                fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
            continue;
        }
        javm_chunk *c = cap_chunk_new();
        if (!c) {
            fail(r, CAP_ERR(JAVM_ERR_ALLOC), el);
            break;
        }
        c->pending = true;
        c->key_n = (uint8_t)cap_chunk_slots(n, j);
        c->key = k;
        d->chunks[j] = c;
    }
}

size_t cap_chunk_record(const javm_chunk *c, unsigned n, uint8_t *out)
{
    size_t len = 2, loaded = 0;
    out[0] = CAP_RECORD_CHUNK;
    out[1] = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        const javm_page *p = &c->pages[i];
        if (p->state == JAVM_PAGE_MISSING)
            return 0;
        out[len++] = (uint8_t)p->state;
        if (p->state == JAVM_PAGE_LOADED) {
            memcpy(out + len, p->hash.b, 32);
            len += 32;
            loaded++;
        }
    }
    return loaded ? len : 0;
}

int cap_chunk_from_record(const uint8_t *rec, size_t len, unsigned n, javm_chunk *c)
{
    if (n == 0 || n > CAP_CHUNK_PAGES || len < 2 || rec[0] != CAP_RECORD_CHUNK || rec[1] != n)
        return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    size_t at = 2;
    unsigned loaded = 0;
    for (unsigned i = 0; i < n; i++) {
        if (at >= len)
            return CAP_ERR(JAVM_ERR_TRUNCATED);
        uint8_t st = rec[at++];
        javm_page *p = &c->pages[i];
        if (st == JAVM_PAGE_EMPTY)
            continue;
        if (st != JAVM_PAGE_LOADED)
            return CAP_ERR(JAVM_ERR_NON_CANONICAL);
        if (len - at < 32)
            return CAP_ERR(JAVM_ERR_TRUNCATED);
        memcpy(p->hash.b, rec + at, 32);
        at += 32;
        if (memcmp(&p->hash, &cap_hash_empty, 32) == 0 || memcmp(&p->hash, &cap_hash_zero_page, 32) == 0)
            return CAP_ERR(JAVM_ERR_NON_CANONICAL); /* a zero page is Empty (public values) */
        p->state = JAVM_PAGE_LOADED; /* unfilled until its run is read */
        loaded++;
    }
    if (at != len)
        return CAP_ERR(JAVM_ERR_TRAILING);
    return loaded ? JAVM_OK : CAP_ERR(JAVM_ERR_NON_CANONICAL); /* an Empty chunk has no record */
}

static void decode_cnode(reader *r, javm_cnode *cn)
{
    size_t at = r->off;
    cn->size_log = rd_u8(r);
    if (!r->err && cn->size_log > JAVM_CNODE_MAX_SIZE_LOG) {
        fail(r, CAP_ERR(JAVM_ERR_INVALID_CNODE_SIZE), at);
        return;
    }
    at = r->off;
    uint32_t n = rd_u32(r);
    if (!count_fits(r, n, 36, at))
        return;
    cn->slots = rd_alloc(r, n, sizeof(javm_cnode_slot));
    cn->cap_slots = cn->slots ? n : 0;
    for (uint32_t i = 0; i < n && !r->err; i++) {
        size_t el = r->off;
        cn->slots[i].slot = rd_u32(r);
        cn->slots[i].target.tag = JAVM_KEY_HASH;
        rd_hash(r, &cn->slots[i].target.hash);
        cn->n_slots = i + 1;
        if (!r->err && (cn->slots[i].slot >= (1u << cn->size_log) ||
                        (i > 0 && cn->slots[i - 1].slot >= cn->slots[i].slot)))
            fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
    }
}

static void decode_instance(reader *r, javm_instance *in)
{
    rd_hash(r, &in->image_hash_chain);
    rd_hash(r, &in->image_hash);
    in->root_cnode.tag = JAVM_KEY_HASH;
    rd_hash(r, &in->root_cnode.hash);
    size_t at = r->off;
    uint32_t n = rd_u32(r);
    if (!count_fits(r, n, 36, at))
        return;
    if (n > JAVM_MAX_OVERLAYS) {
        fail(r, CAP_ERR(JAVM_ERR_LIMIT), at);
        return;
    }
    in->overlays = rd_alloc(r, n, sizeof(javm_overlay));
    in->cap_overlays = in->overlays ? n : 0;
    for (uint32_t i = 0; i < n && !r->err; i++) {
        size_t el = r->off;
        in->overlays[i].start = rd_u32(r);
        rd_hash(r, &in->overlays[i].data);
        in->n_overlays = i + 1;
        if (!r->err && (in->overlays[i].start % JAVM_PAGE_SIZE ||
                        (i > 0 && in->overlays[i - 1].start >= in->overlays[i].start)))
            fail(r, CAP_ERR(JAVM_ERR_NON_CANONICAL), el);
    }
    for (int i = 0; i < 13; i++)
        in->regs[i] = rd_u64(r);
    in->pc = rd_u64(r);
    in->gas_remaining = rd_u64(r);
    in->mem_size = rd_u32(r);
}

static int decode(reader *r, uint8_t kind, javm_cap **out, javm_decode_err *err)
{
    javm_cap *c = NULL;
    if (kind != JAVM_KIND_INSTANCE && kind != JAVM_KIND_IMAGE && kind != JAVM_KIND_DATA &&
        kind != JAVM_KIND_CNODE && kind != JAVM_KIND_TYPE) {
        fail(r, CAP_ERR(JAVM_ERR_BAD_KIND), 0);
        goto done;
    }
    if (kind == JAVM_KIND_IMAGE && r->len > JAVM_MAX_IMAGE_SIZE) {
        fail(r, CAP_ERR(JAVM_ERR_LIMIT), 0);
        goto done;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        fail(r, CAP_ERR(JAVM_ERR_ALLOC), 0);
        goto done;
    }
    c->kind = (javm_kind)kind;
    switch (c->kind) {
    case JAVM_KIND_INSTANCE: decode_instance(r, &c->instance); break;
    case JAVM_KIND_IMAGE: decode_image(r, &c->image); break;
    case JAVM_KIND_DATA:
        if (r->chunk_refs)
            decode_chunked(r, &c->data);
        else
            decode_data(r, &c->data);
        break;
    case JAVM_KIND_CNODE: decode_cnode(r, &c->cnode); break;
    case JAVM_KIND_TYPE: rd_hash(r, &c->type.image_hash_chain); break;
    }
    if (!r->err && r->off != r->len)
        fail(r, CAP_ERR(JAVM_ERR_TRAILING), r->off);
done:
    if (r->err) {
        javm_cap_free(c);
        if (err) {
            memset(err, 0, sizeof *err);
            err->reason = r->err;
            err->offset = r->err_off;
        }
        return r->err;
    }
    *out = c;
    return JAVM_OK;
}

int javm_cap_decode(uint8_t kind, const uint8_t *body, size_t len, javm_cap **out,
                    javm_decode_err *err)
{
    reader r = { .p = body, .n = len, .len = len };
    return decode(&r, kind, out, err);
}

/* decode() of a store record's kind: a CAP_RECORD_DATA_REFS body is a Paged Data whose
 * Loaded pages are hashes (never the Inline form: the encoder writes Paged Data so only). */
static int decode_record_kind(reader *r, uint8_t kind, javm_cap **out, javm_decode_err *err)
{
    if (kind == CAP_RECORD_DATA_CHUNKS) {
        r->chunk_refs = true;
        return decode(r, JAVM_KIND_DATA, out, err);
    }
    if (kind != CAP_RECORD_DATA_REFS)
        return decode(r, kind, out, err);
    r->page_refs = true;
    javm_cap *c = NULL;
    int rc = decode(r, JAVM_KIND_DATA, &c, err);
    if (rc == JAVM_OK && !c->data.paged) {
        javm_cap_free(c);
        if (err) {
            memset(err, 0, sizeof *err);
            err->reason = JAVM_ERR_NON_CANONICAL;
            err->offset = 8;
        }
        return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    }
    if (rc == JAVM_OK)
        *out = c;
    return rc;
}

int cap_decode_record(const uint8_t *rec, size_t n, javm_cap **out, javm_decode_err *err)
{
    if (n < 1) {
        if (err) {
            memset(err, 0, sizeof *err);
            err->reason = JAVM_ERR_TRUNCATED;
        }
        return CAP_ERR(JAVM_ERR_TRUNCATED);
    }
    reader r = { .p = rec + 1, .n = n - 1, .len = n - 1 };
    return decode_record_kind(&r, rec[0], out, err);
}

int cap_decode_stream(uint8_t kind, size_t len, const uint8_t *first, size_t first_n,
                      cap_source_fn src, void *src_arg, crypto_generichash_state *hs,
                      javm_cap **out, javm_decode_err *err, bool *src_failed)
{
    reader r = { .p = first, .n = first_n < len ? first_n : len, .len = len, .src = src,
                 .src_arg = src_arg, .hs = hs };
    if (hs && r.n)
        crypto_generichash_update(hs, first, r.n);
    int rc = decode_record_kind(&r, kind, out, err);
    *src_failed = r.src_failed;
    return rc;
}

int javm_cap_parse_export(const uint8_t *file, size_t len, javm_cap **out, javm_decode_err *err)
{
    int rc = JAVM_OK;
    size_t off = 0;
    if (len < 4) {
        rc = CAP_ERR(JAVM_ERR_TRUNCATED);
        off = len;
    } else if (memcmp(file, "JCAP", 4) != 0) {
        rc = CAP_ERR(JAVM_ERR_BAD_MAGIC);
    } else if (len < 8) {
        rc = CAP_ERR(JAVM_ERR_TRUNCATED);
        off = len;
    } else if (cap_get_u32(file + 4) != 1) {
        rc = CAP_ERR(JAVM_ERR_BAD_VERSION);
        off = 4;
    } else if (len < 9) {
        rc = CAP_ERR(JAVM_ERR_TRUNCATED);
        off = len;
    } else {
        rc = javm_cap_decode(file[8], file + 9, len - 9, out, err);
        if (rc && err)
            err->offset += err->reason == JAVM_ERR_BAD_KIND ? 8 : 9;
        return rc;
    }
    if (err) {
        memset(err, 0, sizeof *err);
        err->reason = rc;
        err->offset = off;
    }
    return rc;
}
