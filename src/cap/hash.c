/* SPDX-License-Identifier: MIT
 * cap/hash.c — the kind-tagged Blake2b-256 cap hash, the balanced Merkle tree and the
 * image-hash chain (caps.md §4). Capability layer; see cap/cap.h. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cap/cap.h"

int cap_crypto_init(void)
{
    return sodium_init() < 0 ? JAVM_ERR_INTERNAL : JAVM_OK;
}

void javm_blake2b(const void *x, size_t len, javm_hash *out)
{
    crypto_generichash(out->b, 32, x, len, NULL, 0);
}

/* H(0x01 ‖ left ‖ right): an inner node of both Merkle trees. */
void cap_node_hash(const javm_hash *l, const javm_hash *r, javm_hash *out)
{
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l->b, 32);
    memcpy(buf + 33, r->b, 32);
    javm_blake2b(buf, sizeof buf, out);
}

/* ---- Merkle levels (caps.md §4.2; the chunks' caches of them, cap.c) ------------------------ */

uint64_t cap_bmt_total(uint64_t n)
{
    uint64_t t = n;
    while (n > 1) {
        n = (n + 1) / 2;
        t += n;
    }
    return t;
}

void cap_bmt_build(javm_hash *levels, uint64_t n)
{
    javm_hash *lvl = levels;
    while (n > 1) {
        javm_hash *up = lvl + n;
        for (uint64_t i = 0; i < n; i += 2)
            cap_node_hash(&lvl[i], i + 1 < n ? &lvl[i + 1] : &lvl[i], &up[i / 2]);
        lvl = up;
        n = (n + 1) / 2;
    }
}

uint64_t cap_bmt_update(const javm_hash *levels, uint64_t n, uint64_t *idx, javm_hash *val, size_t k,
                        javm_hash *copy, javm_hash *root)
{
    uint64_t hashed = 0;
    const javm_hash *lvl = levels;
    javm_hash *cl = copy;
    if (n == 0) {
        *root = cap_hash_empty;
        return 0;
    }
    while (n > 1) {
        for (size_t j = 0; cl && j < k; j++)
            cl[idx[j]] = val[j];
        size_t m = 0;
        for (size_t j = 0; j < k;) {
            uint64_t p = idx[j] / 2, li = 2 * p, ri = li + 1 < n ? li + 1 : li;
            javm_hash l = lvl[li], r = lvl[ri];
            if (idx[j] == li)
                l = val[j++];
            if (ri != li && j < k && idx[j] == ri)
                r = val[j++];
            else if (ri == li)
                r = l;
            cap_node_hash(&l, &r, &val[m]); /* m <= the j just read: nothing unread is overwritten */
            idx[m++] = p;
            hashed++;
        }
        k = m;
        lvl += n;
        if (cl)
            cl += n;
        n = (n + 1) / 2;
    }
    if (cl && k)
        cl[0] = val[0];
    *root = k ? val[0] : lvl[0];
    return hashed;
}

void cap_data_hash_of_root(uint64_t size, const javm_hash *root, javm_hash *out)
{
    uint8_t buf[41];
    buf[0] = JAVM_KIND_DATA;
    cap_put_u64(buf + 1, size);
    memcpy(buf + 9, root->b, 32);
    javm_blake2b(buf, sizeof buf, out);
}

void cap_image_hash_of_body(const javm_hash *body, javm_hash *out)
{
    uint8_t buf[33];
    buf[0] = JAVM_KIND_IMAGE;
    memcpy(buf + 1, body->b, 32);
    javm_blake2b(buf, sizeof buf, out);
}

static int data_root(const javm_data *d, javm_hash *out)
{
    if (!d->paged) {
        javm_blake2b(d->bytes, (size_t)d->size, out);
        return JAVM_OK;
    }
    return cap_data_pages_root(d, out, NULL);
}

/* Root of the subtree of 2^level leaves starting at slot `base`, whose populated slots are
 * slots[lo..hi). Empty subtrees come from the precomputed table; depth is at most 16. */
static int cnode_subtree(const javm_cnode_slot *slots, uint32_t lo, uint32_t hi, unsigned level,
                         uint32_t base, javm_hash *out)
{
    if (lo == hi) {
        *out = cap_empty_cnode_roots[level];
        return JAVM_OK;
    }
    if (level == 0) {
        if (slots[lo].target.tag != JAVM_KEY_HASH)
            return CAP_ERR(JAVM_ERR_UNSETTLED);
        uint8_t buf[33];
        buf[0] = 0x01;
        memcpy(buf + 1, slots[lo].target.hash.b, 32);
        javm_blake2b(buf, sizeof buf, out);
        return JAVM_OK;
    }
    uint32_t mid = base + (1u << (level - 1));
    uint32_t split = lo;
    while (split < hi && slots[split].slot < mid)
        split++;
    javm_hash l, r;
    int rc = cnode_subtree(slots, lo, split, level - 1, base, &l);
    if (rc == JAVM_OK)
        rc = cnode_subtree(slots, split, hi, level - 1, mid, &r);
    if (rc == JAVM_OK)
        cap_node_hash(&l, &r, out);
    return rc;
}

static int instance_hash(const javm_instance *in, javm_hash *out)
{
    if (in->root_cnode.tag != JAVM_KEY_HASH)
        return CAP_ERR(JAVM_ERR_UNSETTLED);
    crypto_generichash_state st;
    uint8_t b[8];
    javm_hash overlays, content;
    crypto_generichash_init(&st, NULL, 0, 32);
    cap_put_u32(b, in->n_overlays);
    crypto_generichash_update(&st, b, 4);
    for (uint32_t i = 0; i < in->n_overlays; i++) {
        cap_put_u32(b, in->overlays[i].start);
        crypto_generichash_update(&st, b, 4);
        crypto_generichash_update(&st, in->overlays[i].data.b, 32);
    }
    crypto_generichash_final(&st, overlays.b, 32);

    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, in->image_hash.b, 32);
    crypto_generichash_update(&st, in->root_cnode.hash.b, 32);
    crypto_generichash_update(&st, overlays.b, 32);
    for (int i = 0; i < 13; i++) {
        cap_put_u64(b, in->regs[i]);
        crypto_generichash_update(&st, b, 8);
    }
    cap_put_u64(b, in->pc);
    crypto_generichash_update(&st, b, 8);
    cap_put_u64(b, in->gas_remaining);
    crypto_generichash_update(&st, b, 8);
    cap_put_u32(b, in->mem_size);
    crypto_generichash_update(&st, b, 4);
    crypto_generichash_final(&st, content.b, 32);

    uint8_t top[65];
    top[0] = JAVM_KIND_INSTANCE;
    memcpy(top + 1, in->image_hash_chain.b, 32);
    memcpy(top + 33, content.b, 32);
    javm_blake2b(top, sizeof top, out);
    return JAVM_OK;
}

void cap_run_key(const javm_hash *hashes, size_t n, javm_hash *out)
{
    crypto_generichash_state st;
    const uint8_t tag = CAP_RECORD_RUN;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, &tag, 1);
    crypto_generichash_update(&st, hashes->b, 32 * n);
    crypto_generichash_final(&st, out->b, 32);
}

int javm_cap_hash(const javm_cap *c, javm_hash *out)
{
    int rc = JAVM_OK;
    uint8_t buf[73];
    javm_hash inner;
    switch (c->kind) {
    case JAVM_KIND_INSTANCE:
        return instance_hash(&c->instance, out);
    case JAVM_KIND_IMAGE: {
        crypto_generichash_state st;
        cap_sink s = { 0 };
        crypto_generichash_init(&st, NULL, 0, 32);
        s.hs = &st;
        rc = cap_encode_body(c, &s);
        if (rc)
            return rc;
        crypto_generichash_final(&st, inner.b, 32);
        cap_image_hash_of_body(&inner, out);
        return JAVM_OK;
    }
    case JAVM_KIND_DATA:
        rc = data_root(&c->data, &inner);
        if (rc)
            return rc;
        cap_data_hash_of_root(c->data.size, &inner, out);
        return JAVM_OK;
    case JAVM_KIND_CNODE:
        if (c->cnode.size_log > JAVM_CNODE_MAX_SIZE_LOG)
            return CAP_ERR(JAVM_ERR_INVALID_CNODE_SIZE);
        rc = cnode_subtree(c->cnode.slots, 0, c->cnode.n_slots, c->cnode.size_log, 0, &inner);
        if (rc)
            return rc;
        buf[0] = JAVM_KIND_CNODE;
        memcpy(buf + 1, inner.b, 32);
        javm_blake2b(buf, 33, out);
        return JAVM_OK;
    case JAVM_KIND_TYPE:
        buf[0] = JAVM_KIND_TYPE;
        memcpy(buf + 1, c->type.image_hash_chain.b, 32);
        javm_blake2b(buf, 33, out);
        return JAVM_OK;
    }
    return CAP_ERR(JAVM_ERR_BAD_KIND);
}

void javm_chain_extend(const javm_hash *chain, const javm_hash *image_hash, javm_hash *out)
{
    uint8_t buf[64];
    memcpy(buf, chain->b, 32);
    memcpy(buf + 32, image_hash->b, 32);
    javm_blake2b(buf, sizeof buf, out);
}

void javm_hash_to_hex(const javm_hash *h, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[h->b[i] >> 4];
        hex[2 * i + 1] = digits[h->b[i] & 15];
    }
    hex[64] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int javm_hash_from_hex(const char *hex, javm_hash *out)
{
    javm_hash h;
    for (int i = 0; i < 32; i++) {
        int hi = hex[2 * i] ? hexval(hex[2 * i]) : -1;
        int lo = hi >= 0 && hex[2 * i + 1] ? hexval(hex[2 * i + 1]) : -1;
        if (hi < 0 || lo < 0)
            return CAP_ERR(JAVM_ERR_INVALID_ARG);
        h.b[i] = (uint8_t)(hi << 4 | lo);
    }
    if (hex[64] != 0)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    *out = h;
    return JAVM_OK;
}
