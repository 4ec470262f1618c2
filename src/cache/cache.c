/* SPDX-License-Identifier: MIT
 * cache/cache.c — the cache of caps.md §5: blob and working tiers in open-addressing tables,
 * refcounts with worklist removal, put/hold/get, copy-on-write get_mut, working-entry edits,
 * names, and the undo log that makes each operation atomic. Design in cache/cache.h. */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "store/store.h"
#include "util/grow.h"
#include "util/search.h"

/* ==== tables ============================================================================= */

static uint64_t entry_tag(const cache_tab *t, const cache_entry *e)
{
    return t->by_ref ? util_table_mix(e->ref) : util_table_tag_bytes(e->hash.b);
}

static bool slot_is_entry(const void *slot, const void *e)
{
    return ((const cache_slot *)slot)->e == e;
}

static bool slot_has_hash(const void *slot, const void *h)
{
    return memcmp(((const cache_slot *)slot)->e->hash.b, h, 32) == 0;
}

/* Links e where room is known to exist: reserved before, or left by the removal being undone
 * (tables never shrink). A store load may have filled the table to its load limit since the
 * removal, so this links without growing (util_table_link): rollback cannot fail. */
static void tab_link(cache_tab *t, cache_entry *e)
{
    cache_slot *s = util_table_link(&t->t, entry_tag(t, e));
    s->e = e;
}

int cache_tab_reserve(cache_tab *t, size_t more)
{
    return util_table_reserve(&t->t, more) ? CAP_ERR(JAVM_ERR_ALLOC) : JAVM_OK;
}

int cache_tab_insert(cache_tab *t, cache_entry *e)
{
    cache_slot *s = util_table_add(&t->t, entry_tag(t, e));
    if (!s)
        return CAP_ERR(JAVM_ERR_ALLOC);
    s->e = e;
    return JAVM_OK;
}

void cache_tab_remove(cache_tab *t, cache_entry *e)
{
    void *s = util_table_find(&t->t, entry_tag(t, e), e, slot_is_entry);
    if (s)
        util_table_delete(&t->t, s);
}

cache_entry *cache_tab_find_hash(cache_tab *t, const javm_hash *h)
{
    cache_slot *s = util_table_find(&t->t, util_table_tag_bytes(h->b), h->b, slot_has_hash);
    return s ? s->e : NULL;
}

/* A ref's tag identifies it (util_table_mix is a bijection): no equality to call. */
static cache_entry *tab_find_ref(cache_tab *t, javm_ref ref)
{
    cache_slot *s = util_table_find(&t->t, util_table_mix(ref), NULL, NULL);
    return s ? s->e : NULL;
}

/* ---- forwarding map ---- */

int cache_fwd_get(const javm_cache *c, javm_ref ref, javm_hash *out)
{
    const cache_fwd_slot *s = ref ? util_table_find(&c->fwd, util_table_mix(ref), NULL, NULL) : NULL;
    if (!s)
        return JAVM_ERR_NOT_FOUND;
    *out = s->hash;
    return JAVM_OK;
}

int cache_fwd_put(javm_cache *c, javm_ref ref, const javm_hash *h)
{
    int rc = util_table_reserve(&c->fwd, 1) ? CAP_ERR(JAVM_ERR_ALLOC) : JAVM_OK;
    if (rc == JAVM_OK && cache_logging(c)) {
        cache_undo u = { .kind = U_FWD, .key = javm_key_of_ref(ref) };
        rc = cache_log_push(c, &u);
    }
    if (rc)
        return rc;
    uint64_t tag = util_table_mix(ref);
    cache_fwd_slot *s = util_table_find(&c->fwd, tag, NULL, NULL);
    if (!s)
        s = util_table_add(&c->fwd, tag); /* reserved above: cannot fail */
    s->hash = *h;
    return JAVM_OK;
}

static void fwd_delete(javm_cache *c, javm_ref ref)
{
    void *s = util_table_find(&c->fwd, util_table_mix(ref), NULL, NULL);
    if (s)
        util_table_delete(&c->fwd, s);
}

void cache_fwd_clear(javm_cache *c)
{
    util_table_free(&c->fwd);
}

int javm_cache_forward(javm_cache *c, javm_ref ref, javm_hash *out)
{
    return cache_fwd_get(c, ref, out);
}

/* ==== dirty list, log ===================================================================== */

void cache_dirty_add(javm_cache *c, cache_entry *e)
{
    if (e->flags & CE_DIRTY)
        return;
    e->flags |= CE_DIRTY;
    e->dnext = &c->dirty;
    e->dprev = c->dirty.dprev;
    c->dirty.dprev->dnext = e;
    c->dirty.dprev = e;
}

void cache_dirty_del(cache_entry *e)
{
    if (!(e->flags & CE_DIRTY))
        return;
    e->dprev->dnext = e->dnext;
    e->dnext->dprev = e->dprev;
    e->flags &= ~(uint32_t)CE_DIRTY;
}

bool cache_logging(const javm_cache *c)
{
    return c->journal || c->guard > 0;
}

int cache_log_push(javm_cache *c, const cache_undo *u)
{
    if (util_grow((void **)&c->log, &c->log_cap, c->log_len + 1, sizeof *c->log, 64))
        return CAP_ERR(JAVM_ERR_ALLOC);
    c->log[c->log_len++] = *u;
    return JAVM_OK;
}

void cache_entry_free(cache_entry *e)
{
    if (e) {
        javm_cap_free(e->cap);
        free(e);
    }
}

/* Slot and overlay edits that undo replays: capacity never shrinks, so they cannot fail. */
static void raw_slot_set(javm_cap *cn, uint32_t slot, bool present, const javm_key *k)
{
    /* a removal, a replacement or an insertion into reserved room: cannot fail */
    javm_cnode_set_slot(cn, slot, present ? k : NULL);
}

static void raw_overlay_set(javm_instance *in, uint32_t start, bool present, const javm_hash *h)
{
    uint32_t i = (uint32_t)UTIL_LOWER_BOUND(in->overlays, in->n_overlays, start, start);
    bool found = i < in->n_overlays && in->overlays[i].start == start;
    if (!present) {
        if (found) {
            memmove(&in->overlays[i], &in->overlays[i + 1],
                    (in->n_overlays - i - 1) * sizeof in->overlays[0]);
            in->n_overlays--;
        }
        return;
    }
    if (!found) {
        memmove(&in->overlays[i + 1], &in->overlays[i], (in->n_overlays - i) * sizeof in->overlays[0]);
        in->n_overlays++;
        in->overlays[i].start = start;
    }
    in->overlays[i].data = *h;
}

static void undo_one(javm_cache *c, cache_undo *u)
{
    cache_entry *e = u->e;
    switch (u->kind) {
    case U_RC:
        e->rc = u->u32;
        break;
    case U_INSERT:
        cache_tab_remove(&c->blobs, e);
        cache_dirty_del(e);
        cache_entry_free(e);
        c->live_blobs--;
        break;
    case U_REVIVE:
        javm_cap_free(e->cap);
        e->cap = NULL;
        e->rc = 0;
        e->flags |= CE_DEAD;
        c->live_blobs--;
        break;
    case U_REMOVE:
        e->cap = u->cap;
        if (u->flag) {
            tab_link(&c->blobs, e);
            cache_dirty_add(c, e);
        } else {
            e->flags &= ~(uint32_t)CE_DEAD;
        }
        c->live_blobs++;
        break;
    case U_WINSERT:
        cache_tab_remove(&c->work, e);
        cache_entry_free(e);
        break;
    case U_WREMOVE:
        e->cap = u->cap;
        tab_link(&c->work, e);
        break;
    case U_MOVE:
        cache_tab_remove(&c->work, u->e2);
        e->cap = u->e2->cap;
        free(u->e2);
        if (u->flag) {
            tab_link(&c->blobs, e);
            cache_dirty_add(c, e);
        } else {
            e->flags &= ~(uint32_t)CE_DEAD;
        }
        c->live_blobs++;
        break;
    case U_GRADUATE:
        e->cap = u->e2->cap;
        u->e2->cap = NULL;
        if (u->flag) {
            u->e2->rc = 0;
            u->e2->flags |= CE_DEAD;
        } else {
            cache_tab_remove(&c->blobs, u->e2);
            cache_dirty_del(u->e2);
            free(u->e2);
        }
        c->live_blobs--;
        tab_link(&c->work, e);
        break;
    case U_CAP:
        javm_cap_free(e->cap);
        e->cap = u->cap;
        break;
    case U_SLOT:
        raw_slot_set(e->cap, u->u32, u->flag != 0, &u->key);
        break;
    case U_OVERLAY:
        raw_overlay_set(&e->cap->instance, u->u32, u->flag != 0, &u->key.hash);
        break;
    case U_FWD:
        fwd_delete(c, u->key.ref);
        break;
    case U_NAME: {
        cache_name *n = &c->names[u->u32];
        if (u->flag & 2) {
            c->n_names--;
        } else {
            n->present = (u->flag & 1) != 0;
            n->hash = u->key.hash;
            n->dirty = (u->flag & 4) != 0; /* clean again: a shared store's is re-read */
        }
        break;
    }
    }
}

static bool rc_record_at(const javm_cache *c, const cache_entry *e, size_t pos)
{
    return pos < c->log_len && c->log[pos].kind == U_RC && c->log[pos].e == e;
}

/* Undo replays the log backwards and U_RC only sets a count, so of several records of one
 * entry the oldest decides what an undo restores; later ones are needed only when an undo
 * stops between them. An operation's undo stops at its mark, so inside an operation a record
 * at or after the mark suffices; between operations inside a journal the only undo is the
 * journal's (to 0), so any record suffices. Outside a journal the log is discarded when the
 * operation ends. This bounds a journal's log by the entries it touches, not by gas. */
int cache_log_rc(javm_cache *c, cache_entry *e)
{
    if (!cache_logging(c))
        return JAVM_OK;
    if (c->guard == 0 ? rc_record_at(c, e, e->rc_first) || rc_record_at(c, e, e->rc_last)
                      : e->rc_last >= c->op_mark && rc_record_at(c, e, e->rc_last))
        return JAVM_OK;
    cache_undo u = { .kind = U_RC, .u32 = e->rc, .e = e };
    int rc = cache_log_push(c, &u);
    if (rc)
        return rc;
    e->rc_last = c->log_len - 1;
    if (!rc_record_at(c, e, e->rc_first))
        e->rc_first = e->rc_last;
    return JAVM_OK;
}

/* After an operation inside a journal succeeded: its U_RC records of entries that already
 * have an older record are dropped (the older one restores the count the journal's undo
 * needs). Nothing else refers to log positions between operations. */
static void log_fold(javm_cache *c, size_t mark)
{
    size_t w = mark;
    for (size_t i = mark; i < c->log_len; i++) {
        cache_undo *u = &c->log[i];
        if (u->kind == U_RC) {
            cache_entry *e = u->e;
            if (e->rc_first < w && rc_record_at(c, e, e->rc_first))
                continue;
            e->rc_first = e->rc_last = w;
        }
        c->log[w++] = *u;
    }
    c->log_len = w;
}

void cache_undo_to(javm_cache *c, size_t mark)
{
    while (c->log_len > mark)
        undo_one(c, &c->log[--c->log_len]);
}

void cache_discard_log(javm_cache *c)
{
    for (size_t i = 0; i < c->log_len; i++) {
        cache_undo *u = &c->log[i];
        switch (u->kind) {
        case U_REMOVE:
            javm_cap_free(u->cap);
            if (u->flag)
                free(u->e);
            break;
        case U_WREMOVE:
            javm_cap_free(u->cap);
            free(u->e);
            break;
        case U_MOVE:
            if (u->flag)
                free(u->e);
            break;
        case U_GRADUATE:
            free(u->e);
            break;
        case U_CAP:
            javm_cap_free(u->cap);
            break;
        default:
            break;
        }
    }
    c->log_len = 0;
}

size_t cache_op_begin(javm_cache *c)
{
    c->guard++;
    c->op_mark = c->log_len;
    return c->log_len;
}

int cache_op_end(javm_cache *c, size_t mark, int rc)
{
    if (rc)
        cache_undo_to(c, mark);
    c->guard--;
    if (c->guard == 0 && !c->journal)
        cache_discard_log(c);
    else if (c->guard == 0 && rc == 0)
        log_fold(c, mark);
    return rc;
}

/* ==== entries ============================================================================= */

void cache_set_missing(javm_cache *c, const javm_hash *h)
{
    c->has_missing = true;
    c->missing = *h;
}

int javm_cache_last_missing(javm_cache *c, javm_hash *out)
{
    if (!c->has_missing)
        return JAVM_ERR_NOT_FOUND;
    *out = c->missing;
    return JAVM_OK;
}

/* A blob record read through the store's get_stream: decoded as it arrives, an Image's body
 * hashed on the way (its hash is H(0x20 ‖ H(body)), caps.md §4), so the record is never held
 * whole beside the cap it becomes. */
typedef struct stream_load {
    javm_cap *cap;
    javm_decode_err derr;
    bool decode_failed; /* the bytes are wrong (not the store) */
    bool hashed;        /* inner holds H(body) */
    bool called;        /* consume ran: the record exists */
    javm_hash inner;
} stream_load;

static int consume_record(void *arg, uint64_t len, javm_store_read_fn read, void *rarg)
{
    stream_load *L = arg;
    const uint8_t *p = NULL;
    size_t n = 0;
    L->called = true;
    L->derr.reason = JAVM_ERR_TRUNCATED;
    if (len < 1 || len - 1 > SIZE_MAX) {
        L->decode_failed = true;
        return JAVM_ERR_TRUNCATED;
    }
    int rc = read(rarg, &p, &n);
    if (rc)
        return rc;
    if (n == 0 || !p) {
        L->decode_failed = true;
        return JAVM_ERR_TRUNCATED;
    }
    crypto_generichash_state st;
    bool image = p[0] == JAVM_KIND_IMAGE;
    if (image)
        crypto_generichash_init(&st, NULL, 0, 32);
    bool src_failed = false;
    rc = cap_decode_stream(p[0], (size_t)(len - 1), p + 1, n - 1, read, rarg, image ? &st : NULL,
                           &L->cap, &L->derr, &src_failed);
    if (rc) {
        L->decode_failed = !src_failed;
        return rc;
    }
    if (image) {
        crypto_generichash_final(&st, L->inner.b, 32);
        L->hashed = true;
    }
    return JAVM_OK;
}

/* Loads a committed blob record into the blob tier (not a semantic change: not logged). */
static int load_blob(javm_cache *c, const javm_hash *h, cache_entry **out)
{
    const uint8_t *val;
    size_t vlen;
    javm_cap *cap = NULL;
    cache_entry *e = NULL;
    *out = NULL;
    javm_decode_err derr = { JAVM_ERR_TRUNCATED, 0, false, { { 0 } } };
    stream_load L = { .cap = NULL };
    bool decode_failed = false;
    int rc;
    if (c->store->vtbl->get_stream) {
        L.derr = derr;
        rc = c->store->vtbl->get_stream(c->store, JAVM_TABLE_BLOBS, h->b, 32, consume_record, &L);
        cap = L.cap;
        derr = L.derr;
        decode_failed = rc && L.decode_failed;
        if (rc == JAVM_ERR_NOT_FOUND && !L.called)
            return JAVM_OK;
        if (rc && !decode_failed) {
            javm_cap_free(cap);
            return rc;
        }
        /* consume may not call the store: the runs of a format-2 Data are read after it */
        if (rc == JAVM_OK && cap->kind == JAVM_KIND_DATA && cap->data.paged &&
            (rc = cache_pages_fill(c->store, h, cap))) {
            javm_cap_free(cap);
            return rc;
        }
    } else {
        rc = c->store->vtbl->get(c->store, JAVM_TABLE_BLOBS, h->b, 32, &val, &vlen);
        if (rc == JAVM_ERR_NOT_FOUND)
            return JAVM_OK;
        if (rc)
            return rc;
        rc = cap_decode_record(val, vlen, &cap, &derr);
        decode_failed = rc != JAVM_OK;
        /* Format 2: the pages a Data record names by hash are records of their own */
        if (rc == JAVM_OK && cap->kind == JAVM_KIND_DATA && cap->data.paged &&
            (rc = cache_pages_fill(c->store, h, cap))) {
            javm_cap_free(cap);
            return rc;
        }
    }
    if (decode_failed && rc != JAVM_ERR_ALLOC) {
        /* Name the record, so that a corrupt store can be repaired by hand. */
        char hex[65];
        javm_hash_to_hex(h, hex);
        store_set_errmsg(c->store, "blobs[%s]: record does not decode: %s at offset %llu", hex,
                         javm_strerror(derr.reason), (unsigned long long)derr.offset + 1);
        return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    }
    if (rc)
        return rc;
    /* The store is content addressed: a record whose bytes do not hash to its key is corrupt
     * (a flipped bit would otherwise change guest state silently). Decoding already hashed
     * every Loaded page, so this costs the cap's own hash (issue 13 item 12); a streamed
     * Image's body was hashed as it arrived. */
    javm_hash got;
    if (L.hashed) {
        cap_image_hash_of_body(&L.inner, &got);
        rc = JAVM_OK;
    } else {
        rc = javm_cap_hash(cap, &got);
    }
    if (rc == JAVM_OK && memcmp(got.b, h->b, 32) != 0) {
        char hex[65], ghex[65];
        javm_hash_to_hex(h, hex);
        javm_hash_to_hex(&got, ghex);
        store_set_errmsg(c->store, "blobs[%s]: record hashes to %s", hex, ghex);
        rc = CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    } else if (rc && rc != JAVM_ERR_ALLOC) {
        char hex[65];
        javm_hash_to_hex(h, hex);
        store_set_errmsg(c->store, "blobs[%s]: record cannot be hashed: %s", hex, javm_strerror(rc));
        rc = CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    }
    if (rc) {
        javm_cap_free(cap);
        return rc;
    }
    uint32_t count = 0;
    if (c->store->flags & JAVM_STORE_SHARED)
        count = CACHE_STORE_HOLD; /* no stored counts: the store holds it (JAVM_STORE_SHARED) */
    else if ((rc = c->store->vtbl->get(c->store, JAVM_TABLE_REFCOUNTS, h->b, 32, &val, &vlen)) ==
                 JAVM_OK &&
             vlen == 4)
        count = cap_get_u32(val);
    else if (rc == JAVM_OK || rc == JAVM_ERR_NOT_FOUND) {
        char hex[65];
        javm_hash_to_hex(h, hex);
        store_set_errmsg(c->store, "refcounts[%s]: %s", hex,
                         rc ? "missing for a stored blob" : "not a u32 record");
        rc = CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    }
    /* A load is not logged, so room is kept for every removal the log may put back too:
     * rolling back must link without growing (tab_link). */
    if (rc == JAVM_OK)
        rc = cache_tab_reserve(&c->blobs, 1 + c->log_len);
    if (rc == JAVM_OK && !(e = calloc(1, sizeof *e)))
        rc = CAP_ERR(JAVM_ERR_ALLOC);
    if (rc) {
        javm_cap_free(cap);
        return rc;
    }
    e->cap = cap;
    e->rc = count;
    e->hash = *h;
    e->flags = CE_STORED;
    tab_link(&c->blobs, e);
    c->live_blobs++;
    *out = e;
    return JAVM_OK;
}

int cache_blob(javm_cache *c, const javm_hash *h, cache_entry **out)
{
    cache_entry *e = cache_tab_find_hash(&c->blobs, h);
    if (e) {
        *out = (e->flags & CE_DEAD) ? NULL : e;
        return JAVM_OK;
    }
    return load_blob(c, h, out);
}

cache_entry *cache_working_entry(javm_cache *c, javm_ref ref)
{
    return ref ? tab_find_ref(&c->work, ref) : NULL;
}

int cache_resolve(javm_cache *c, const javm_key *key, cache_entry **out)
{
    *out = NULL;
    if (!key)
        return JAVM_OK;
    if (key->tag == JAVM_KEY_HASH)
        return cache_blob(c, &key->hash, out);
    if (key->tag != JAVM_KEY_REF)
        return JAVM_OK;
    cache_entry *e = cache_working_entry(c, key->ref);
    if (e) {
        *out = e;
        return JAVM_OK;
    }
    javm_hash h;
    if (cache_fwd_get(c, key->ref, &h) == JAVM_OK)
        return cache_blob(c, &h, out);
    return JAVM_OK;
}

int cache_rc_inc(javm_cache *c, cache_entry *e, uint32_t n)
{
    if (e->rc > JAVM_REFCOUNT_MAX - n)
        return CAP_ERR(JAVM_ERR_REFCOUNT_OVERFLOW);
    int lrc = cache_log_rc(c, e);
    if (lrc)
        return lrc;
    e->rc += n;
    if (!(e->flags & CE_WORKING))
        cache_dirty_add(c, e);
    return JAVM_OK;
}

/* Takes e (refcount 0) out of its tier; the cap goes to the log, or to *freed_cap. */
static int remove_entry(javm_cache *c, cache_entry *e, bool *unlinked)
{
    bool working = (e->flags & CE_WORKING) != 0;
    *unlinked = working || !(e->flags & CE_STORED);
    if (cache_logging(c)) {
        cache_undo u = { .kind = working ? U_WREMOVE : U_REMOVE, .e = e, .cap = e->cap,
                         .flag = *unlinked };
        int rc = cache_log_push(c, &u);
        if (rc)
            return rc;
    }
    if (working) {
        cache_tab_remove(&c->work, e);
    } else if (*unlinked) {
        cache_tab_remove(&c->blobs, e);
        cache_dirty_del(e);
        c->live_blobs--;
    } else {
        e->flags |= CE_DEAD;
        c->live_blobs--;
    }
    e->cap = NULL;
    return JAVM_OK;
}

typedef struct release_ctx {
    javm_cache *c;
    cache_entry *work; /* intrusive worklist of entries that reached 0 */
} release_ctx;

static int dec_one(javm_cache *c, cache_entry *e, cache_entry **work)
{
    if (e->rc == 0)
        return CAP_ERR(JAVM_ERR_INTERNAL);
    int lrc = cache_log_rc(c, e);
    if (lrc)
        return lrc;
    e->rc--;
    if (!(e->flags & CE_WORKING))
        cache_dirty_add(c, e);
    if (e->rc == 0) {
        e->wnext = *work;
        *work = e;
    }
    return JAVM_OK;
}

static int release_edge(void *arg, const javm_key *k)
{
    release_ctx *r = arg;
    cache_entry *t;
    int rc = cache_resolve(r->c, k, &t);
    if (rc || !t)
        return rc; /* an absent target holds nothing (only after a repaired restart) */
    return dec_one(r->c, t, &r->work);
}

/* Drains the worklist: each entry leaves its tier and releases its edges. No recursion, so a
 * long chain of caps cannot overflow the host stack. */
static int drain(javm_cache *c, release_ctx *r)
{
    int rc = JAVM_OK;
    while (r->work && rc == JAVM_OK) {
        cache_entry *e = r->work;
        r->work = e->wnext;
        javm_cap *cap = e->cap;
        bool unlinked;
        rc = remove_entry(c, e, &unlinked);
        if (rc)
            break;
        rc = cap_for_each_edge(cap, release_edge, r);
        if (!cache_logging(c)) {
            javm_cap_free(cap);
            if (unlinked)
                free(e);
        }
    }
    return rc;
}

int cache_rc_dec(javm_cache *c, cache_entry *e)
{
    release_ctx r = { c, NULL };
    int rc = dec_one(c, e, &r.work);
    if (rc == JAVM_OK)
        rc = drain(c, &r);
    return rc;
}

int cache_drop(javm_cache *c, cache_entry *e)
{
    release_ctx r = { c, NULL };
    int lrc = cache_log_rc(c, e);
    if (lrc)
        return lrc;
    e->rc = 0;
    e->wnext = NULL;
    r.work = e;
    return drain(c, &r);
}

int cache_release_edges(javm_cache *c, const javm_cap *cap)
{
    release_ctx r = { c, NULL };
    int rc = cap_for_each_edge(cap, release_edge, &r);
    if (rc == JAVM_OK)
        rc = drain(c, &r);
    return rc;
}

static int hold_edge(void *arg, const javm_key *k)
{
    javm_cache *c = arg;
    cache_entry *t;
    int rc = cache_resolve(c, k, &t);
    if (rc)
        return rc;
    if (!t) {
        if (k->tag == JAVM_KEY_HASH)
            cache_set_missing(c, &k->hash);
        return CAP_ERR(JAVM_ERR_TARGET_MISSING);
    }
    return cache_rc_inc(c, t, 1);
}

int cache_hold_edges(javm_cache *c, const javm_cap *cap)
{
    return cap_for_each_edge(cap, hold_edge, c);
}

int cache_blob_insert(javm_cache *c, const javm_hash *h, javm_cap *cap, uint32_t count,
                      cache_entry **out)
{
    int rc;
    cache_entry *e = cache_tab_find_hash(&c->blobs, h);
    if (e) { /* a dead entry comes back */
        if (cache_logging(c)) {
            cache_undo u = { .kind = U_REVIVE, .e = e };
            if ((rc = cache_log_push(c, &u)))
                return rc;
        }
        e->cap = cap;
        e->rc = count;
        e->flags &= ~(uint32_t)CE_DEAD;
        cache_dirty_add(c, e);
        c->live_blobs++;
        if (out)
            *out = e;
        return JAVM_OK;
    }
    if ((rc = cache_tab_reserve(&c->blobs, 1)))
        return rc;
    e = calloc(1, sizeof *e);
    if (!e)
        return CAP_ERR(JAVM_ERR_ALLOC);
    if (cache_logging(c)) {
        cache_undo u = { .kind = U_INSERT, .e = e };
        if ((rc = cache_log_push(c, &u))) {
            free(e);
            return rc;
        }
    }
    e->cap = cap;
    e->rc = count;
    e->hash = *h;
    tab_link(&c->blobs, e);
    cache_dirty_add(c, e);
    c->live_blobs++;
    if (out)
        *out = e;
    return JAVM_OK;
}

int cache_working_insert(javm_cache *c, javm_cap *cap, uint32_t count, cache_entry **out)
{
    int rc;
    if ((rc = cache_tab_reserve(&c->work, 1)))
        return rc;
    cache_entry *e = calloc(1, sizeof *e);
    if (!e)
        return CAP_ERR(JAVM_ERR_ALLOC);
    if (cache_logging(c)) {
        cache_undo u = { .kind = U_WINSERT, .e = e };
        if ((rc = cache_log_push(c, &u))) {
            free(e);
            return rc;
        }
    }
    e->cap = cap;
    e->rc = count;
    e->flags = CE_WORKING;
    e->ref = c->next_ref++;
    e->touched = c->journal ? c->epoch : 0; /* created in this journal: no backup needed */
    tab_link(&c->work, e);
    if (out)
        *out = e;
    return JAVM_OK;
}

/* ==== open, close, get ===================================================================== */

static const char profile_name[] = "blake2b-256-tagged";

int javm_cache_open(javm_store *store, javm_cache **out)
{
    int rc = JAVM_OK;
    const uint8_t *v;
    size_t vlen;
    if (!store || !out)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    if ((rc = cap_crypto_init()))
        return CAP_ERR(rc);
    javm_cache *c = calloc(1, sizeof *c);
    if (!c)
        return CAP_ERR(JAVM_ERR_ALLOC);
    c->store = store;
    c->blobs.t = UTIL_TABLE_INIT(cache_slot);
    c->work.t = UTIL_TABLE_INIT(cache_slot);
    c->work.by_ref = true;
    c->fwd = UTIL_TABLE_INIT(cache_fwd_slot);
    c->chunk_delta = UTIL_TABLE_INIT(cache_delta);
    c->run_delta = UTIL_TABLE_INIT(cache_delta);
    c->next_ref = 1;
    c->dirty.dnext = c->dirty.dprev = &c->dirty;

    /* A new store is format 3 unless it is shared (which never holds records of formats 2 and
     * 3: pages.c); a store of format 1 or 2 stays so until its first record of a later one. */
    c->format = (store->flags & JAVM_STORE_SHARED) ? 1 : 3;
    rc = store->vtbl->get(store, JAVM_TABLE_META, (const uint8_t *)"format", 6, &v, &vlen);
    if (rc == JAVM_ERR_NOT_FOUND) {
        uint8_t one[4];
        cap_put_u32(one, c->format);
        rc = store->vtbl->begin(store);
        if (rc == JAVM_OK) {
            rc = store->vtbl->put(store, JAVM_TABLE_META, (const uint8_t *)"format", 6, one, 4);
            if (rc == JAVM_OK)
                rc = store->vtbl->put(store, JAVM_TABLE_META, (const uint8_t *)"hash_profile", 12,
                                      (const uint8_t *)profile_name, sizeof profile_name - 1);
            if (rc == JAVM_OK)
                rc = store->vtbl->commit(store);
            else
                store->vtbl->abort(store);
        }
    } else if (rc == JAVM_OK) {
        if (vlen != 4 || cap_get_u32(v) < 1 || cap_get_u32(v) > 3) {
            rc = CAP_ERR(JAVM_ERR_STORE_FORMAT);
            store_set_errmsg(store, "the store is format %lu; this library reads formats 1 to 3",
                             vlen == 4 ? (unsigned long)cap_get_u32(v) : 0ul);
        } else if ((c->format = cap_get_u32(v)) >= 2 && (store->flags & JAVM_STORE_SHARED)) {
            rc = CAP_ERR(JAVM_ERR_STORE_FORMAT); /* never written so (pages.c) */
            store_set_errmsg(store, "a shared store of format %lu", (unsigned long)c->format);
        }
        else if (store->vtbl->get(store, JAVM_TABLE_META, (const uint8_t *)"hash_profile", 12, &v,
                                  &vlen) != JAVM_OK ||
                 vlen != sizeof profile_name - 1 || memcmp(v, profile_name, vlen) != 0)
            rc = CAP_ERR(JAVM_ERR_STORE_FORMAT);
    }
    if (rc == JAVM_OK && !(store->flags & JAVM_STORE_SHARED) &&
        store->vtbl->get(store, JAVM_TABLE_META, (const uint8_t *)"generation", 10, &v, &vlen) ==
            JAVM_OK &&
        vlen == 8)
        c->generation = cap_get_u64(v);
    if (rc == JAVM_OK && !(store->flags & JAVM_STORE_SHARED))
        rc = cache_load_names(c); /* a shared store's names are read when used */
    if (rc) {
        javm_cache_close(c);
        return rc;
    }
    *out = c;
    return JAVM_OK;
}

void javm_cache_close(javm_cache *c)
{
    if (!c)
        return;
    if (c->journal) {
        /* Both halves go back, as javm_journal_abort does: a kernel assist left with the
         * journal's saves would persist file records naming blobs that were never stored. */
        cache_undo_to(c, 0);
        if (c->journal_ka)
            c->journal_ka->vtbl->rollback(c->journal_ka);
        if (c->txn_open || (c->store->flags & JAVM_STORE_SHARED))
            c->store->vtbl->abort(c->store);
        c->journal = false;
    }
    cache_discard_log(c);
    cache_tab *tabs[2] = { &c->blobs, &c->work };
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < cache_tab_cap(tabs[t]); i++)
            cache_entry_free(cache_tab_at(tabs[t], i));
        util_table_free(&tabs[t]->t);
    }
    util_table_free(&c->fwd);
    cache_pages_discard(c, false);
    free(c->log);
    free(c->names);
    free(c);
}

int cache_get_hash(javm_cache *c, const javm_hash *h, const javm_cap **out)
{
    javm_key k = javm_key_of_hash(h);
    return cache_get_key(c, &k, out);
}

int cache_get_key(javm_cache *c, const javm_key *key, const javm_cap **out)
{
    cache_entry *e;
    *out = NULL;
    int rc = cache_resolve(c, key, &e);
    if (rc)
        return rc;
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    *out = e->cap;
    return JAVM_OK;
}

const javm_cap *javm_cache_get(javm_cache *c, const javm_key *key)
{
    cache_entry *e;
    if (cache_resolve(c, key, &e) != JAVM_OK || !e)
        return NULL;
    return e->cap;
}

const javm_cap *javm_cache_get_hash(javm_cache *c, const javm_hash *h)
{
    /* The hot lookup: resident hit without touching the store. */
    cache_entry *e = cache_tab_find_hash(&c->blobs, h);
    if (e)
        return (e->flags & CE_DEAD) ? NULL : e->cap;
    if (load_blob(c, h, &e) != JAVM_OK || !e)
        return NULL;
    return e->cap;
}

int javm_cache_refcount(javm_cache *c, const javm_key *key, uint32_t *out)
{
    cache_entry *e;
    int rc = cache_resolve(c, key, &e);
    if (rc)
        return rc;
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    *out = e->rc;
    return JAVM_OK;
}

size_t javm_cache_blob_count(javm_cache *c)
{
    return c->live_blobs;
}

size_t javm_cache_working_count(javm_cache *c)
{
    return c->work.t.count;
}

/* ==== put, hold, refcounts ================================================================= */

static uint64_t round_up_page(uint64_t x)
{
    return (x + JAVM_PAGE_SIZE - 1) / JAVM_PAGE_SIZE * JAVM_PAGE_SIZE;
}

typedef struct present_ctx {
    javm_cache *c;
} present_ctx;

static int edge_present(void *arg, const javm_key *k)
{
    javm_cache *c = arg;
    cache_entry *t;
    int rc = cache_resolve(c, k, &t);
    if (rc)
        return rc;
    if (!t) {
        if (k->tag == JAVM_KEY_HASH)
            cache_set_missing(c, &k->hash);
        return CAP_ERR(JAVM_ERR_TARGET_MISSING);
    }
    return JAVM_OK;
}

/* Size of the Data an overlay names (present and a Data, checked before). */
static uint64_t overlay_size(javm_cache *c, const javm_hash *h)
{
    cache_entry *e;
    if (cache_blob(c, h, &e) != JAVM_OK || !e)
        return 0;
    return e->cap->data.size;
}

int cache_check_targets(javm_cache *c, const javm_cap *cap)
{
    int rc = cap_for_each_edge(cap, edge_present, c);
    if (rc || cap->kind != JAVM_KIND_INSTANCE)
        return rc;
    const javm_instance *in = &cap->instance;
    cache_entry *e;
    javm_key k = javm_key_of_hash(&in->image_hash);
    if ((rc = cache_resolve(c, &k, &e)))
        return rc;
    if (e->cap->kind != JAVM_KIND_IMAGE)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    if ((rc = cache_resolve(c, &in->root_cnode, &e)))
        return rc;
    if (e->cap->kind != JAVM_KIND_CNODE)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    for (uint32_t i = 0; i < in->n_overlays; i++) {
        k = javm_key_of_hash(&in->overlays[i].data);
        if ((rc = cache_resolve(c, &k, &e)))
            return rc;
        if (e->cap->kind != JAVM_KIND_DATA)
            return CAP_ERR(JAVM_ERR_WRONG_KIND);
    }
    for (uint32_t i = 0; i < in->n_overlays; i++) {
        uint64_t size = overlay_size(c, &in->overlays[i].data);
        uint64_t end = (uint64_t)in->overlays[i].start + round_up_page(size);
        uint64_t limit = i + 1 < in->n_overlays ? in->overlays[i + 1].start : (1ull << 32);
        if (size == 0 || end > limit)
            return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    }
    return JAVM_OK;
}

static int all_hash(void *arg, const javm_key *k)
{
    (void)arg;
    return k->tag == JAVM_KEY_HASH ? JAVM_OK : CAP_ERR(JAVM_ERR_UNSETTLED);
}

static int put_hashed(javm_cache *c, const javm_cap *cap, javm_cap *owned, const javm_hash *hp,
                      javm_hash *out);

int cache_put_internal(javm_cache *c, const javm_cap *cap, javm_cap *owned, javm_hash *out)
{
    javm_hash h;
    int rc = javm_cap_check(cap);
    if (rc == JAVM_OK)
        rc = cap_for_each_edge(cap, all_hash, NULL);
    if (rc == JAVM_OK)
        rc = javm_cap_hash(cap, &h);
    return rc ? rc : put_hashed(c, cap, owned, &h, out);
}

int cache_put_owned_hashed(javm_cache *c, javm_cap *owned, const javm_hash *h, javm_hash *out)
{
    int rc = javm_cap_check(owned);
    if (rc == JAVM_OK)
        rc = cap_for_each_edge(owned, all_hash, NULL);
    return rc ? rc : put_hashed(c, owned, owned, h, out);
}

static int put_hashed(javm_cache *c, const javm_cap *cap, javm_cap *owned, const javm_hash *hp,
                      javm_hash *out)
{
    javm_hash h = *hp;
    cache_entry *e;
    int rc = cache_blob(c, &h, &e);
    if (rc)
        return rc;
    if (e) { /* hot path: present, refcount only */
        rc = cache_rc_inc(c, e, 1);
        if (rc == JAVM_OK) {
            javm_cap_free(owned);
            *out = h;
        }
        return rc;
    }
    if ((rc = cache_check_targets(c, cap)))
        return rc;
    size_t mark = cache_op_begin(c);
    javm_cap *copy = owned;
    if (!copy)
        rc = javm_cap_clone(cap, &copy);
    if (rc == JAVM_OK)
        rc = cache_hold_edges(c, copy);
    if (rc == JAVM_OK)
        rc = cache_blob_insert(c, &h, copy, 1, NULL);
    if (rc && copy != owned)
        javm_cap_free(copy);
    rc = cache_op_end(c, mark, rc);
    if (rc == JAVM_OK)
        *out = h;
    return rc;
}

int javm_cache_put(javm_cache *c, const javm_cap *cap, javm_hash *out)
{
    if (!c || !cap || !out)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    return cache_put_internal(c, cap, NULL, out);
}

int javm_cache_put_owned(javm_cache *c, javm_cap *cap, javm_hash *out)
{
    if (!c || !cap || !out)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    return cache_put_internal(c, cap, cap, out);
}

int javm_cache_hold(javm_cache *c, const javm_hash *h)
{
    cache_entry *e = cache_tab_find_hash(&c->blobs, h);
    int rc = JAVM_OK;
    if (!e || (e->flags & CE_DEAD)) {
        if (e || (rc = load_blob(c, h, &e)) || !e)
            return rc ? rc : JAVM_ERR_NOT_FOUND;
    }
    return cache_rc_inc(c, e, 1);
}

const javm_cap *cache_peek_live(javm_cache *c, const javm_hash *h)
{
    cache_entry *e = cache_tab_find_hash(&c->blobs, h);
    return e && !(e->flags & CE_DEAD) ? e->cap : NULL;
}

int cache_hold_live(javm_cache *c, const javm_hash *h)
{
    cache_entry *e = cache_tab_find_hash(&c->blobs, h);
    if (!e || (e->flags & CE_DEAD) || !e->cap)
        return JAVM_ERR_NOT_FOUND;
    return cache_rc_inc(c, e, 1);
}

int javm_cache_incref(javm_cache *c, const javm_key *key)
{
    cache_entry *e;
    int rc = cache_resolve(c, key, &e);
    if (rc)
        return rc;
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    return cache_rc_inc(c, e, 1);
}

int javm_cache_decref(javm_cache *c, const javm_key *key)
{
    cache_entry *e;
    int rc = cache_resolve(c, key, &e);
    if (rc)
        return rc;
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    size_t mark = cache_op_begin(c);
    return cache_op_end(c, mark, cache_rc_dec(c, e));
}

/* ==== working tier ========================================================================= */

/* A copy of cap whose REF edges that were forwarded become HASH edges. */
static void rewrite_forwarded(javm_cache *c, javm_cap *cap)
{
    javm_hash h;
    if (cap->kind == JAVM_KIND_CNODE) {
        for (uint32_t i = 0; i < cap->cnode.n_slots; i++) {
            javm_key *k = &cap->cnode.slots[i].target;
            if (k->tag == JAVM_KEY_REF && !cache_working_entry(c, k->ref) &&
                cache_fwd_get(c, k->ref, &h) == JAVM_OK)
                *k = javm_key_of_hash(&h);
        }
    } else if (cap->kind == JAVM_KIND_INSTANCE) {
        javm_key *k = &cap->instance.root_cnode;
        if (k->tag == JAVM_KEY_REF && !cache_working_entry(c, k->ref) &&
            cache_fwd_get(c, k->ref, &h) == JAVM_OK)
            *k = javm_key_of_hash(&h);
    }
}

int javm_cache_put_working(javm_cache *c, const javm_cap *cap, javm_ref *out)
{
    int rc = JAVM_OK;
    javm_cap *copy = NULL;
    cache_entry *e = NULL;
    if (!c || !cap || !out)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    if (cap->kind != JAVM_KIND_DATA && cap->kind != JAVM_KIND_CNODE &&
        cap->kind != JAVM_KIND_INSTANCE)
        return CAP_ERR(JAVM_ERR_NON_MUTABLE_KIND);
    if (cap->kind != JAVM_KIND_DATA && (rc = javm_cap_check(cap)))
        return rc;
    if ((rc = cache_check_targets(c, cap)))
        return rc;
    size_t mark = cache_op_begin(c);
    rc = javm_cap_clone(cap, &copy);
    if (rc == JAVM_OK) {
        rewrite_forwarded(c, copy);
        rc = cache_hold_edges(c, copy);
    }
    if (rc == JAVM_OK)
        rc = cache_working_insert(c, copy, 1, &e);
    if (rc)
        javm_cap_free(copy);
    rc = cache_op_end(c, mark, rc);
    if (rc == JAVM_OK)
        *out = e->ref;
    return rc;
}

int javm_cache_get_mut(javm_cache *c, const javm_key *key, javm_ref *out)
{
    int rc = JAVM_OK;
    cache_entry *e, *w = NULL;
    if (!c || !key || !out)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    if (key->tag == JAVM_KEY_REF && (e = cache_working_entry(c, key->ref))) {
        *out = e->ref;
        return JAVM_OK;
    }
    if ((rc = cache_resolve(c, key, &e)))
        return rc;
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    if (e->cap->kind == JAVM_KIND_IMAGE || e->cap->kind == JAVM_KIND_TYPE)
        return CAP_ERR(JAVM_ERR_NON_MUTABLE_KIND);
    size_t mark = cache_op_begin(c);
    if (e->rc == 1) {
        /* Move: the caller is the only holder; edges go with the cap unchanged. */
        bool unlinked = !(e->flags & CE_STORED);
        rc = cache_tab_reserve(&c->work, 1);
        if (rc == JAVM_OK && !(w = calloc(1, sizeof *w)))
            rc = CAP_ERR(JAVM_ERR_ALLOC);
        if (rc == JAVM_OK && cache_logging(c)) {
            rc = cache_log_rc(c, e);
            cache_undo m = { .kind = U_MOVE, .e = e, .e2 = w, .flag = unlinked };
            if (rc == JAVM_OK)
                rc = cache_log_push(c, &m);
        }
        if (rc) {
            free(w);
        } else {
            w->cap = e->cap;
            w->rc = 1;
            w->flags = CE_WORKING;
            w->ref = c->next_ref++;
            w->touched = 0; /* restoring the blob needs the cap as it was: back up on write */
            tab_link(&c->work, w);
            e->cap = NULL;
            e->rc = 0;
            if (unlinked) {
                cache_tab_remove(&c->blobs, e);
                cache_dirty_del(e);
            } else {
                e->flags |= CE_DEAD;
                cache_dirty_add(c, e);
            }
            c->live_blobs--;
            if (!cache_logging(c) && unlinked)
                free(e);
        }
    } else {
        /* Shallow clone: own tables copied, each target +1, the caller's hold moves. */
        javm_cap *copy = NULL;
        rc = javm_cap_clone(e->cap, &copy);
        if (rc == JAVM_OK)
            rc = cache_hold_edges(c, copy);
        if (rc == JAVM_OK)
            rc = cache_working_insert(c, copy, 1, &w);
        if (rc)
            javm_cap_free(copy);
        if (rc == JAVM_OK)
            rc = cache_rc_dec(c, e);
    }
    rc = cache_op_end(c, mark, rc);
    if (rc == JAVM_OK)
        *out = w->ref;
    return rc;
}

/* Working entry of a given kind: JAVM_ERR_NOT_FOUND / JAVM_ERR_WRONG_KIND. */
static int working_of_kind(javm_cache *c, javm_ref ref, javm_kind kind, cache_entry **out)
{
    cache_entry *e = cache_working_entry(c, ref);
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    if (e->cap->kind != kind)
        return CAP_ERR(JAVM_ERR_WRONG_KIND);
    *out = e;
    return JAVM_OK;
}

/* A forwarded REF target becomes its HASH (the count moved with graduation). */
static javm_key normalise_key(javm_cache *c, const javm_key *k)
{
    javm_hash h;
    if (k->tag == JAVM_KEY_REF && !cache_working_entry(c, k->ref) &&
        cache_fwd_get(c, k->ref, &h) == JAVM_OK)
        return javm_key_of_hash(&h);
    return *k;
}

int javm_cache_cnode_set(javm_cache *c, javm_ref ref, uint32_t slot, const javm_key *target)
{
    cache_entry *e = NULL, *t = NULL, *old = NULL;
    int rc = working_of_kind(c, ref, JAVM_KIND_CNODE, &e);
    if (rc)
        return rc;
    javm_cnode *cn = &e->cap->cnode;
    if (slot >= (1u << cn->size_log))
        return CAP_ERR(JAVM_ERR_SLOT_OUT_OF_RANGE);
    bool set = target && target->tag != JAVM_KEY_NONE;
    javm_key k = set ? normalise_key(c, target) : (javm_key){ .tag = JAVM_KEY_NONE };
    if (set) {
        if ((rc = cache_resolve(c, &k, &t)))
            return rc;
        if (!t)
            return JAVM_ERR_NOT_FOUND;
    }
    const javm_key *prev = javm_cnode_get_slot(e->cap, slot);
    javm_key prev_key = prev ? *prev : (javm_key){ .tag = JAVM_KEY_NONE };
    if (prev && (rc = cache_resolve(c, &prev_key, &old)))
        return rc;
    size_t mark = cache_op_begin(c);
    /* Grow before any effect, so the edit below cannot fail. */
    if (set && !prev && util_grow_u32((void **)&cn->slots, &cn->cap_slots, cn->n_slots + 1,
                                      sizeof *cn->slots, 4))
        rc = CAP_ERR(JAVM_ERR_ALLOC);
    if (rc == JAVM_OK && t)
        rc = cache_rc_inc(c, t, 1);
    if (rc == JAVM_OK) {
        cache_undo u = { .kind = U_SLOT, .e = e, .u32 = slot, .flag = prev != NULL, .key = prev_key };
        rc = cache_log_push(c, &u);
    }
    if (rc == JAVM_OK) {
        raw_slot_set(e->cap, slot, set, &k);
        if (old)
            rc = cache_rc_dec(c, old);
    }
    return cache_op_end(c, mark, rc);
}

int javm_cache_instance_set_overlay(javm_cache *c, javm_ref ref, uint32_t start,
                                    const javm_hash *data)
{
    cache_entry *e = NULL, *t = NULL, *old = NULL;
    int rc = working_of_kind(c, ref, JAVM_KIND_INSTANCE, &e);
    if (rc)
        return rc;
    javm_instance *in = &e->cap->instance;
    if (start % JAVM_PAGE_SIZE)
        return CAP_ERR(JAVM_ERR_NON_CANONICAL);
    uint32_t i = (uint32_t)UTIL_LOWER_BOUND(in->overlays, in->n_overlays, start, start);
    bool had = i < in->n_overlays && in->overlays[i].start == start;
    javm_key prev_key = had ? javm_key_of_hash(&in->overlays[i].data)
                            : (javm_key){ .tag = JAVM_KEY_NONE };
    if (had && (rc = cache_resolve(c, &prev_key, &old)))
        return rc;
    if (data) {
        if ((rc = cache_blob(c, data, &t)))
            return rc;
        if (!t)
            return JAVM_ERR_NOT_FOUND;
        if (t->cap->kind != JAVM_KIND_DATA)
            return CAP_ERR(JAVM_ERR_WRONG_KIND);
        uint64_t size = t->cap->data.size;
        uint64_t end = (uint64_t)start + round_up_page(size);
        uint32_t next = had ? i + 1 : i;
        uint64_t limit = next < in->n_overlays ? in->overlays[next].start : (1ull << 32);
        if (size == 0 || end > limit)
            return CAP_ERR(JAVM_ERR_NON_CANONICAL);
        if (i > 0) {
            const javm_overlay *p = &in->overlays[i - 1];
            if ((uint64_t)p->start + round_up_page(overlay_size(c, &p->data)) > start)
                return CAP_ERR(JAVM_ERR_NON_CANONICAL);
        }
    }
    size_t mark = cache_op_begin(c);
    if (data && !had && util_grow_u32((void **)&in->overlays, &in->cap_overlays,
                                      in->n_overlays + 1, sizeof *in->overlays, 4))
        rc = CAP_ERR(JAVM_ERR_ALLOC);
    if (rc == JAVM_OK && t)
        rc = cache_rc_inc(c, t, 1);
    if (rc == JAVM_OK) {
        cache_undo u = { .kind = U_OVERLAY, .e = e, .u32 = start, .flag = had, .key = prev_key };
        rc = cache_log_push(c, &u);
    }
    if (rc == JAVM_OK) {
        raw_overlay_set(in, start, data != NULL, data);
        if (old)
            rc = cache_rc_dec(c, old);
    }
    return cache_op_end(c, mark, rc);
}

int javm_cache_working(javm_cache *c, javm_ref ref, javm_cap **out)
{
    cache_entry *e = cache_working_entry(c, ref);
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    if (c->journal && e->touched != c->epoch) {
        /* First write access in this journal: keep the original (its capacity intact for the
         * slot and overlay undo records) and hand out a copy. */
        javm_cap *copy;
        int rc = javm_cap_clone(e->cap, &copy);
        if (rc)
            return rc;
        cache_undo u = { .kind = U_CAP, .e = e, .cap = e->cap };
        if ((rc = cache_log_push(c, &u))) {
            javm_cap_free(copy);
            return rc;
        }
        e->cap = copy;
        e->touched = c->epoch;
    }
    /* The caller may write page bytes: a buffer shared with another Data (settle of a
     * post-instance shares clean pages, cap/cap.c) gets a private copy first. */
    if (e->cap->kind == JAVM_KIND_DATA) {
        int rc = cap_data_unshare(&e->cap->data);
        if (rc)
            return rc;
    }
    *out = e->cap;
    return JAVM_OK;
}

/* ==== names ================================================================================ */

static cache_name *name_find(javm_cache *c, const uint8_t *name, size_t len, size_t *idx)
{
    for (size_t i = 0; i < c->n_names; i++)
        if (c->names[i].len == len && memcmp(c->names[i].bytes, name, len) == 0) {
            if (idx)
                *idx = i;
            return &c->names[i];
        }
    return NULL;
}

static int name_append(javm_cache *c, const uint8_t *name, size_t len, size_t *idx)
{
    if (util_grow((void **)&c->names, &c->cap_names, c->n_names + 1, sizeof *c->names, 8))
        return CAP_ERR(JAVM_ERR_ALLOC);
    cache_name *nm = &c->names[c->n_names];
    memset(nm, 0, sizeof *nm);
    nm->len = (uint8_t)len;
    memcpy(nm->bytes, name, len);
    *idx = c->n_names++;
    return JAVM_OK;
}

static int load_name_cb(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                        size_t vlen)
{
    javm_cache *c = arg;
    size_t idx;
    if (klen < 1 || klen > JAVM_NAME_MAX || vlen != 32)
        return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    int rc = name_append(c, key, klen, &idx);
    if (rc == JAVM_OK) {
        c->names[idx].present = true;
        memcpy(c->names[idx].hash.b, val, 32);
    }
    return rc;
}

int cache_load_names(javm_cache *c)
{
    return c->store->vtbl->scan(c->store, JAVM_TABLE_NAMES, load_name_cb, c);
}

/* A stored name not changed in memory since the last commit: re-read it; a name with an
 * uncommitted change keeps it. */
static int reload_name_cb(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen)
{
    javm_cache *c = arg;
    if (name_find(c, key, klen, NULL))
        return 0;
    return load_name_cb(arg, key, klen, val, vlen);
}

int cache_reload_clean_names(javm_cache *c)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->n_names; i++)
        if (c->names[i].dirty)
            c->names[kept++] = c->names[i];
    c->n_names = kept;
    return c->store->vtbl->scan(c->store, JAVM_TABLE_NAMES, reload_name_cb, c);
}

/* On a shared store, a name without an uncommitted change here is read through the store
 * each time it is used (another process may have moved it); not logged, like a blob load. */
static int name_refresh(javm_cache *c, const uint8_t *name, size_t len)
{
    if (!(c->store->flags & JAVM_STORE_SHARED))
        return JAVM_OK;
    size_t idx;
    cache_name *nm = name_find(c, name, len, &idx);
    if (nm && nm->dirty)
        return JAVM_OK;
    const uint8_t *v;
    size_t vlen;
    int rc = c->store->vtbl->get(c->store, JAVM_TABLE_NAMES, name, len, &v, &vlen);
    if (rc == JAVM_ERR_NOT_FOUND) {
        if (nm)
            nm->present = false;
        return JAVM_OK;
    }
    if (rc)
        return rc;
    if (vlen != 32)
        return CAP_ERR(JAVM_ERR_STORE_CORRUPT);
    if (!nm && (rc = name_append(c, name, len, &idx)))
        return rc;
    c->names[idx].present = true;
    memcpy(c->names[idx].hash.b, v, 32);
    return JAVM_OK;
}

int javm_name_set(javm_cache *c, const uint8_t *name, size_t len, const javm_hash *h)
{
    cache_entry *t = NULL, *old = NULL;
    size_t idx = 0;
    int rc = JAVM_OK;
    if (!c || !name || len < 1 || len > JAVM_NAME_MAX)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    if (h) {
        if ((rc = cache_blob(c, h, &t)))
            return rc;
        if (!t)
            return JAVM_ERR_NOT_FOUND;
        if (t->cap->kind != JAVM_KIND_INSTANCE)
            return CAP_ERR(JAVM_ERR_WRONG_KIND);
    }
    if ((rc = name_refresh(c, name, len)))
        return rc;
    cache_name *nm = name_find(c, name, len, &idx);
    bool was = nm && nm->present;
    if (!h && !was)
        return JAVM_ERR_NOT_FOUND;
    if (was && (rc = cache_blob(c, &nm->hash, &old)))
        return rc;
    size_t mark = cache_op_begin(c);
    bool appended = false;
    if (!nm) {
        rc = name_append(c, name, len, &idx);
        appended = rc == JAVM_OK;
    }
    if (rc == JAVM_OK && t)
        rc = cache_rc_inc(c, t, 1);
    if (rc == JAVM_OK) {
        nm = &c->names[idx];
        cache_undo u = { .kind = U_NAME, .u32 = (uint32_t)idx,
                         .flag = (was ? 1u : 0u) | (appended ? 2u : 0u) | (nm->dirty ? 4u : 0u),
                         .key = javm_key_of_hash(&nm->hash) };
        rc = cache_log_push(c, &u);
    }
    if (rc == JAVM_OK) {
        nm->present = h != NULL;
        if (h)
            nm->hash = *h;
        nm->dirty = true;
        if (old)
            rc = cache_rc_dec(c, old);
    } else if (appended) {
        c->n_names--; /* not logged yet: take it back by hand */
    }
    return cache_op_end(c, mark, rc);
}

int javm_name_get(javm_cache *c, const uint8_t *name, size_t len, javm_hash *out)
{
    if (!c || !name || len < 1 || len > JAVM_NAME_MAX)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    int rc = name_refresh(c, name, len);
    if (rc)
        return rc;
    cache_name *nm = name_find(c, name, len, NULL);
    if (!nm || !nm->present)
        return JAVM_ERR_NOT_FOUND;
    *out = nm->hash;
    return JAVM_OK;
}

int cache_vec_push(cache_vec *v, const void *el, size_t size)
{
    if (util_grow(&v->p, &v->cap, v->n + 1, size, 16))
        return CAP_ERR(JAVM_ERR_ALLOC);
    memcpy((uint8_t *)v->p + v->n * size, el, size);
    v->n++;
    return JAVM_OK;
}
