/* SPDX-License-Identifier: MIT
 * cache/settle.c — settle (caps.md §5.5): working entries become blobs bottom-up. A first
 * pass walks the REF graph iteratively and rejects cycles before anything changes; the second
 * pass rewrites edges, canonicalises Data, hashes and graduates (with dedup) or, for an
 * Instance, publishes a snapshot. Every change is logged, so a failure undoes all of it. */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"

typedef struct frame {
    cache_entry *e;
    uint32_t next; /* next edge index to visit */
} frame;


/* The working entry behind edge i of e (CNode slot i, or an Instance's root), or NULL when the
 * edge is a HASH or a forwarded REF. */
static cache_entry *child(javm_cache *c, cache_entry *e, uint32_t i, bool *more)
{
    const javm_key *k = NULL;
    *more = false;
    if (e->cap->kind == JAVM_KIND_CNODE && i < e->cap->cnode.n_slots) {
        k = &e->cap->cnode.slots[i].target;
        *more = true;
    } else if (e->cap->kind == JAVM_KIND_INSTANCE && i == 0) {
        k = &e->cap->instance.root_cnode;
        *more = true;
    }
    return k && k->tag == JAVM_KEY_REF ? cache_working_entry(c, k->ref) : NULL;
}

/* Post-order of the working entries reachable from root; JAVM_ERR_CYCLE on a back edge. */
static int collect(javm_cache *c, cache_entry *root, cache_vec *order)
{
    cache_vec stack = { 0 };
    frame f = { root, 0 };
    int rc = cache_vec_push(&stack, &f, sizeof f);
    root->visit = 1;
    while (rc == JAVM_OK && stack.n) {
        frame *top = &((frame *)stack.p)[stack.n - 1];
        bool more;
        cache_entry *ch = child(c, top->e, top->next, &more);
        if (!more) {
            top->e->visit = 2;
            rc = cache_vec_push(order, &top->e, sizeof top->e);
            stack.n--;
            continue;
        }
        top->next++;
        if (!ch || ch->visit == 2)
            continue;
        if (ch->visit == 1) {
            rc = CAP_ERR(JAVM_ERR_CYCLE);
            break;
        }
        ch->visit = 1;
        frame nf = { ch, 0 };
        rc = cache_vec_push(&stack, &nf, sizeof nf);
    }
    /* Grey entries left on the stack after a failure are reset by the caller via order too. */
    for (size_t i = 0; i < stack.n; i++)
        ((frame *)stack.p)[i].e->visit = 0;
    free(stack.p);
    return rc;
}

/* The settled key for a REF edge: a graduated entry's forward hash or an Instance's snapshot. */
static int settled_key(javm_cache *c, const javm_key *k, javm_key *out, cache_entry **inst)
{
    *inst = NULL;
    *out = *k;
    if (k->tag != JAVM_KEY_REF)
        return JAVM_OK;
    cache_entry *w = cache_working_entry(c, k->ref);
    if (w && w->visit == 3) {
        *inst = w;
        *out = javm_key_of_hash(&w->settled);
        return JAVM_OK;
    }
    javm_hash h;
    if (cache_fwd_get(c, k->ref, &h) != JAVM_OK)
        return CAP_ERR(JAVM_ERR_INTERNAL);
    *out = javm_key_of_hash(&h);
    return JAVM_OK;
}

/* Rewrites e's REF edges into HASH edges (installing a new cap through the log). Each edge that
 * named a working Instance now holds its snapshot: +1 on the snapshot, -1 on the Instance. */
static int rewrite_edges(javm_cache *c, cache_entry *e)
{
    javm_cap *cap = e->cap;
    bool any = false;
    if (cap->kind == JAVM_KIND_CNODE) {
        for (uint32_t i = 0; i < cap->cnode.n_slots; i++)
            any |= cap->cnode.slots[i].target.tag == JAVM_KEY_REF;
    } else if (cap->kind == JAVM_KIND_INSTANCE) {
        any = cap->instance.root_cnode.tag == JAVM_KEY_REF;
    }
    if (!any)
        return JAVM_OK;
    javm_cap *copy;
    int rc = javm_cap_clone(cap, &copy);
    if (rc)
        return rc;
    javm_key *keys = cap->kind == JAVM_KIND_CNODE ? NULL : &copy->instance.root_cnode;
    uint32_t n = cap->kind == JAVM_KIND_CNODE ? copy->cnode.n_slots : 1;
    cache_entry *insts[1];
    for (uint32_t i = 0; i < n && rc == JAVM_OK; i++) {
        javm_key *k = keys ? keys : &copy->cnode.slots[i].target;
        rc = settled_key(c, k, k, insts);
    }
    if (rc == JAVM_OK) {
        cache_undo u = { .kind = U_CAP, .e = e, .cap = cap };
        rc = cache_log_push(c, &u);
    }
    if (rc) {
        javm_cap_free(copy);
        return rc;
    }
    e->cap = copy;
    /* Holds for edges that named working Instances, read from the original cap. */
    for (uint32_t i = 0; i < n && rc == JAVM_OK; i++) {
        const javm_key *k = keys ? &cap->instance.root_cnode : &cap->cnode.slots[i].target;
        javm_key dummy;
        cache_entry *w;
        if (k->tag != JAVM_KEY_REF || settled_key(c, k, &dummy, &w) || !w)
            continue;
        cache_entry *snap;
        rc = cache_blob(c, &w->settled, &snap);
        if (rc == JAVM_OK && !snap)
            rc = CAP_ERR(JAVM_ERR_INTERNAL);
        if (rc == JAVM_OK)
            rc = cache_rc_inc(c, snap, 1);
        if (rc == JAVM_OK)
            rc = cache_rc_dec(c, w);
    }
    return rc;
}

/* A working Data is brought to canonical form: page hashes recomputed (the bytes may have been
 * written through javm_cache_working), then a canonical copy installed when needed. */
static int canonical_data(javm_cache *c, cache_entry *e)
{
    javm_data *d = &e->cap->data;
    for (uint64_t i = 0; d->paged && i < d->n_pages; i++) {
        const javm_page *p = javm_data_page(d, i);
        javm_hash h;
        if (p->state != JAVM_PAGE_LOADED)
            continue;
        javm_blake2b(p->bytes, JAVM_PAGE_SIZE, &h);
        if (memcmp(&h, &p->hash, sizeof h) == 0)
            continue;
        javm_page *w = cap_data_page_mut(d, i); /* private already (javm_cache_working) */
        if (!w)
            return CAP_ERR(JAVM_ERR_ALLOC);
        w->hash = h;
    }
    if (cap_data_is_canonical(d))
        return JAVM_OK;
    javm_cap *copy;
    int rc = cap_data_canonical(e->cap, &copy);
    if (rc)
        return rc;
    cache_undo u = { .kind = U_CAP, .e = e, .cap = e->cap };
    if ((rc = cache_log_push(c, &u))) {
        javm_cap_free(copy);
        return rc;
    }
    e->cap = copy;
    return JAVM_OK;
}

/* Non-Instance: dedup into an existing blob, or move into the blob tier; forward the ref. */
static int graduate(javm_cache *c, cache_entry *e, const javm_hash *h)
{
    cache_entry *b;
    int rc = cache_blob(c, h, &b);
    if (rc)
        return rc;
    javm_ref ref = e->ref;
    if (b) {
        rc = cache_rc_inc(c, b, e->rc);
        if (rc == JAVM_OK)
            rc = cache_drop(c, e); /* the blob already counts its own edges */
    } else {
        cache_entry *dead = cache_tab_find_hash(&c->blobs, h);
        cache_entry *e2 = dead;
        rc = cache_tab_reserve(&c->blobs, 1);
        if (rc == JAVM_OK && !e2 && !(e2 = calloc(1, sizeof *e2)))
            rc = CAP_ERR(JAVM_ERR_ALLOC);
        if (rc == JAVM_OK) {
            cache_undo u = { .kind = U_GRADUATE, .e = e, .e2 = e2, .flag = dead != NULL };
            rc = cache_log_push(c, &u);
            if (rc && !dead)
                free(e2);
        }
        if (rc == JAVM_OK) {
            cache_tab_remove(&c->work, e);
            e2->cap = e->cap;
            e->cap = NULL;
            e2->rc = e->rc;
            if (dead) {
                e2->flags &= ~(uint32_t)CE_DEAD;
            } else {
                e2->hash = *h;
                cache_tab_insert(&c->blobs, e2); /* reserved above: cannot fail */
            }
            cache_dirty_add(c, e2);
            c->live_blobs++;
        }
    }
    if (rc == JAVM_OK)
        rc = cache_fwd_put(c, ref, h);
    return rc;
}

int javm_cache_settle(javm_cache *c, const javm_key *key, javm_hash *out)
{
    int rc = JAVM_OK;
    cache_vec order = { 0 }, nested = { 0 };
    cache_entry *root;
    if (!c || !key || !out)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    if (key->tag == JAVM_KEY_HASH) {
        if ((rc = cache_blob(c, &key->hash, &root)))
            return rc;
        if (!root)
            return JAVM_ERR_NOT_FOUND;
        *out = key->hash;
        return JAVM_OK;
    }
    if (key->tag != JAVM_KEY_REF)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    root = cache_working_entry(c, key->ref);
    if (!root)
        return cache_fwd_get(c, key->ref, out);

    rc = collect(c, root, &order);
    cache_entry **ord = order.p;
    if (rc) {
        for (size_t i = 0; i < order.n; i++)
            ord[i]->visit = 0;
        free(order.p);
        return rc;
    }
    javm_ref *refs = malloc(order.n * sizeof *refs);
    if (!refs) {
        for (size_t i = 0; i < order.n; i++)
            ord[i]->visit = 0;
        free(order.p);
        return CAP_ERR(JAVM_ERR_ALLOC);
    }
    for (size_t i = 0; i < order.n; i++)
        refs[i] = ord[i]->ref;
    javm_hash result = { { 0 } };
    size_t mark = cache_op_begin(c);
    for (size_t i = 0; i < order.n && rc == JAVM_OK; i++) {
        cache_entry *e = ord[i];
        javm_hash h;
        rc = rewrite_edges(c, e);
        if (rc == JAVM_OK && e->cap->kind == JAVM_KIND_DATA)
            rc = canonical_data(c, e);
        if (rc == JAVM_OK)
            rc = javm_cap_check(e->cap);
        if (rc == JAVM_OK)
            rc = javm_cap_hash(e->cap, &h);
        if (rc)
            break;
        if (e->cap->kind == JAVM_KIND_INSTANCE) {
            /* The Instance stays editable; its snapshot is put as by put (one new hold). */
            rc = cache_put_internal(c, e->cap, NULL, &h);
            if (rc)
                break;
            e->settled = h;
            e->visit = 3;
            if (e != root)
                rc = cache_vec_push(&nested, &h, sizeof h);
        } else {
            rc = graduate(c, e, &h);
        }
        if (e == root)
            result = h;
    }
    /* A nested snapshot's put hold was only a bridge: its parent edges took their own. */
    for (size_t i = 0; rc == JAVM_OK && i < nested.n; i++) {
        cache_entry *b;
        rc = cache_blob(c, &((javm_hash *)nested.p)[i], &b);
        if (rc == JAVM_OK && b)
            rc = cache_rc_dec(c, b);
    }
    rc = cache_op_end(c, mark, rc);
    /* Graduated and dropped entries may be freed by now: reset colours through the refs. */
    for (size_t i = 0; i < order.n; i++) {
        cache_entry *w = cache_working_entry(c, refs[i]);
        if (w)
            w->visit = 0;
    }
    free(refs);
    free(order.p);
    free(nested.p);
    if (rc == JAVM_OK)
        *out = result;
    return rc;
}
