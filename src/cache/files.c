/* SPDX-License-Identifier: MIT
 * cache/files.c — JIMG image files and JCAP import (caps.md §11.2). Saving walks the caps an
 * Image needs in depth-first post-order; loading decodes the whole file before the first put
 * and runs every put inside one cache operation, so any failure leaves the cache unchanged. */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "util/grow.h"

/* Edge i of a blob cap in encoding order, as a hash; false past the last. */
static bool edge_at(const javm_cap *c, uint32_t i, javm_hash *out)
{
    switch (c->kind) {
    case JAVM_KIND_INSTANCE:
        if (i == 0) {
            *out = c->instance.image_hash;
            return true;
        }
        if (i == 1) {
            *out = c->instance.root_cnode.hash;
            return true;
        }
        if (i - 2 < c->instance.n_overlays) {
            *out = c->instance.overlays[i - 2].data;
            return true;
        }
        return false;
    case JAVM_KIND_IMAGE:
        if (i < c->image.n_pinned) {
            *out = c->image.pinned[i].cap;
            return true;
        }
        if (i - c->image.n_pinned < c->image.n_initial) {
            *out = c->image.initial[i - c->image.n_pinned].cap;
            return true;
        }
        return false;
    case JAVM_KIND_CNODE:
        if (i < c->cnode.n_slots) {
            *out = c->cnode.slots[i].target.hash;
            return true;
        }
        return false;
    default:
        return false;
    }
}

typedef struct save_ctx {
    javm_cache *c;
    cap_sink out;
    javm_hash *done; /* caps already written */
    size_t n_done, cap_done;
    struct { javm_hash h; uint32_t next; } *stack;
    size_t sn, scap;
    uint32_t records;
} save_ctx;

static bool is_done(const save_ctx *s, const javm_hash *h)
{
    for (size_t i = 0; i < s->n_done; i++)
        if (memcmp(s->done[i].b, h->b, 32) == 0)
            return true;
    return false;
}

static int push_frame(save_ctx *s, const javm_hash *h)
{
    if (util_grow((void **)&s->stack, &s->scap, s->sn + 1, sizeof *s->stack, 16))
        return CAP_ERR(JAVM_ERR_ALLOC);
    s->stack[s->sn].h = *h;
    s->stack[s->sn].next = 0;
    s->sn++;
    return JAVM_OK;
}

static int emit(save_ctx *s, const javm_hash *h, const javm_cap *cap)
{
    cap_sink body = { 0 };
    int rc = cap_encode_body(cap, &body);
    if (rc == JAVM_OK && body.len > UINT32_MAX)
        rc = CAP_ERR(JAVM_ERR_LIMIT);
    if (rc == JAVM_OK) {
        cap_sink_u8(&s->out, (uint8_t)cap->kind);
        cap_sink_u32(&s->out, (uint32_t)body.len);
        cap_sink_bytes(&s->out, body.buf, body.len);
        rc = s->out.status;
    }
    free(body.buf);
    if (rc == JAVM_OK && util_grow((void **)&s->done, &s->cap_done, s->n_done + 1, sizeof *s->done, 16))
        return CAP_ERR(JAVM_ERR_ALLOC);
    if (rc == JAVM_OK) {
        s->done[s->n_done++] = *h;
        s->records++;
    }
    return rc;
}

/* Post-order walk from one root, iteratively (graphs of hashes have no cycles). */
static int walk(save_ctx *s, const javm_hash *root)
{
    if (is_done(s, root))
        return JAVM_OK;
    int rc = push_frame(s, root);
    while (rc == JAVM_OK && s->sn) {
        cache_entry *e;
        javm_hash top = s->stack[s->sn - 1].h, child;
        rc = cache_blob(s->c, &top, &e);
        if (rc == JAVM_OK && !e) {
            cache_set_missing(s->c, &top);
            rc = CAP_ERR(JAVM_ERR_TARGET_MISSING);
        }
        if (rc)
            break;
        if (edge_at(e->cap, s->stack[s->sn - 1].next++, &child)) {
            if (!is_done(s, &child))
                rc = push_frame(s, &child);
            continue;
        }
        s->sn--;
        rc = emit(s, &top, e->cap);
    }
    return rc;
}

int javm_image_save(javm_cache *c, const javm_hash *image, uint8_t **out, size_t *len)
{
    save_ctx s = { .c = c };
    cache_entry *e;
    int rc = cache_blob(c, image, &e);
    if (rc)
        return rc;
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    if (e->cap->kind != JAVM_KIND_IMAGE)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    const javm_image *im = &e->cap->image;
    cap_sink_bytes(&s.out, "JIMG", 4);
    cap_sink_u32(&s.out, 1);
    cap_sink_u32(&s.out, 0); /* record count, patched below */
    for (uint32_t i = 0; i < im->n_pinned && rc == JAVM_OK; i++)
        rc = walk(&s, &im->pinned[i].cap);
    for (uint32_t i = 0; i < im->n_initial && rc == JAVM_OK; i++)
        rc = walk(&s, &im->initial[i].cap);
    if (rc == JAVM_OK) {
        /* Loading a record may have moved the image entry: look it up again. */
        rc = cache_blob(c, image, &e);
        if (rc == JAVM_OK)
            rc = cap_encode_body(e->cap, &s.out);
    }
    if (rc == JAVM_OK) {
        cap_put_u32(s.out.buf + 8, s.records);
        *out = s.out.buf;
        *len = s.out.len;
        s.out.buf = NULL;
    }
    free(s.out.buf);
    free(s.done);
    free(s.stack);
    return rc;
}

static void set_err(javm_decode_err *err, int reason, uint64_t offset)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->reason = reason;
        err->offset = offset;
    }
}

/* A JIMG file decoded: its records' caps and its Image, all owned. */
typedef struct jimg {
    javm_cap **caps;
    uint32_t n;
    javm_cap *image;
} jimg;

static void jimg_free(jimg *j)
{
    for (uint32_t i = 0; j->caps && i < j->n; i++)
        javm_cap_free(j->caps[i]);
    free(j->caps);
    javm_cap_free(j->image);
}

/* Decodes every record and the Image body, bounded before anything is allocated
 * (javm/limits.h); nothing touches the cache. */
static int jimg_decode(const uint8_t *file, size_t len, jimg *j, javm_decode_err *err)
{
    javm_decode_err sub;
    size_t off = 12;
    int rc;
    if (len > JAVM_MAX_IMAGE_SIZE) {
        rc = CAP_ERR(JAVM_ERR_LIMIT);
        set_err(err, rc, 0);
        return rc;
    }
    if (len < 4 || memcmp(file, "JIMG", 4) != 0) {
        rc = CAP_ERR(len < 4 ? JAVM_ERR_TRUNCATED : JAVM_ERR_BAD_MAGIC);
        set_err(err, rc, len < 4 ? len : 0);
        return rc;
    }
    if (len < 8 || cap_get_u32(file + 4) != 1) {
        rc = CAP_ERR(len < 8 ? JAVM_ERR_TRUNCATED : JAVM_ERR_BAD_VERSION);
        set_err(err, rc, len < 8 ? len : 4);
        return rc;
    }
    if (len < 12) {
        rc = CAP_ERR(JAVM_ERR_TRUNCATED);
        set_err(err, rc, len);
        return rc;
    }
    uint32_t n = cap_get_u32(file + 8);
    if (n > (len - 12) / 5) { /* a record is at least kind + length */
        rc = CAP_ERR(JAVM_ERR_OVERSIZED);
        set_err(err, rc, 8);
        return rc;
    }
    if (!(j->caps = calloc(n ? n : 1, sizeof *j->caps))) {
        rc = CAP_ERR(JAVM_ERR_ALLOC);
        set_err(err, rc, 8);
        return rc;
    }
    j->n = n;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < 5) {
            rc = CAP_ERR(JAVM_ERR_TRUNCATED);
            set_err(err, rc, len);
            return rc;
        }
        uint8_t kind = file[off];
        uint32_t blen = cap_get_u32(file + off + 1);
        if (blen > len - off - 5) {
            rc = CAP_ERR(JAVM_ERR_OVERSIZED);
            set_err(err, rc, off + 1);
            return rc;
        }
        if ((rc = javm_cap_decode(kind, file + off + 5, blen, &j->caps[i], &sub))) {
            set_err(err, rc, off + (rc == JAVM_ERR_BAD_KIND ? 0 : 5 + sub.offset));
            return rc;
        }
        off += 5 + (size_t)blen;
    }
    if ((rc = javm_cap_decode(JAVM_KIND_IMAGE, file + off, len - off, &j->image, &sub)))
        set_err(err, rc, off + sub.offset);
    return rc;
}

/* Puts the records and the Image as one operation, then releases the records' own holds (the
 * Image and each other's edges keep what they need); the cache takes the caps it puts. */
static int jimg_put(javm_cache *c, jimg *j, javm_hash *image_hash)
{
    int rc = JAVM_OK;
    javm_hash *hashes = calloc(j->n ? j->n : 1, sizeof *hashes);
    if (!hashes)
        return CAP_ERR(JAVM_ERR_ALLOC);
    size_t mark = cache_op_begin(c);
    for (uint32_t i = 0; i < j->n && rc == JAVM_OK; i++) {
        rc = cache_put_internal(c, j->caps[i], j->caps[i], &hashes[i]);
        if (rc == JAVM_OK)
            j->caps[i] = NULL; /* owned by the cache now */
    }
    if (rc == JAVM_OK) {
        rc = cache_put_internal(c, j->image, j->image, image_hash);
        if (rc == JAVM_OK)
            j->image = NULL;
    }
    for (uint32_t i = 0; i < j->n && rc == JAVM_OK; i++) {
        cache_entry *e;
        rc = cache_blob(c, &hashes[i], &e);
        if (rc == JAVM_OK && e)
            rc = cache_rc_dec(c, e);
    }
    free(hashes);
    return cache_op_end(c, mark, rc);
}

int javm_image_load(javm_cache *c, const uint8_t *file, size_t len, javm_hash *out,
                    javm_decode_err *err)
{
    if (!c || !file || !out)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    jimg j = { NULL, 0, NULL };
    javm_hash ih;
    int rc = jimg_decode(file, len, &j, err);
    if (rc == JAVM_OK && (rc = jimg_put(c, &j, &ih))) {
        set_err(err, rc, len);
        if (rc == JAVM_ERR_TARGET_MISSING && err) {
            err->has_missing = true;
            err->missing = c->missing;
        }
    }
    if (rc == JAVM_OK)
        *out = ih;
    jimg_free(&j);
    return rc;
}

int javm_cap_import(javm_cache *c, const uint8_t *file, size_t len, javm_hash *out,
                    javm_decode_err *err)
{
    javm_cap *cap = NULL;
    int rc = javm_cap_parse_export(file, len, &cap, err);
    if (rc)
        return rc;
    rc = javm_cache_put_owned(c, cap, out);
    if (rc) {
        set_err(err, rc, len);
        if (rc == JAVM_ERR_TARGET_MISSING && err) {
            err->has_missing = true;
            err->missing = c->missing;
        }
        javm_cap_free(cap);
    }
    return rc;
}
