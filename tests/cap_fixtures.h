/* SPDX-License-Identifier: MIT
 * tests/cap_fixtures.h — shared helpers for the capability-layer tests: hex hashes, the spec's
 * images (IMG1, IMG2, IMG3 of caps.md §4.5, §10), Data from strings, and an independent byte
 * builder for hand-made preimages. Header-only (static inline) so each test stays one file. */
#ifndef JAVM_TESTS_CAP_FIXTURES_H
#define JAVM_TESTS_CAP_FIXTURES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "javm.h"

static inline javm_hash hx(const char *hex)
{
    javm_hash h;
    assert_int_equal(javm_hash_from_hex(hex, &h), JAVM_OK);
    return h;
}

static inline javm_hash fill(uint8_t b)
{
    javm_hash h;
    memset(h.b, b, 32);
    return h;
}

#define assert_hash_equal(a, b)                                                                \
    do {                                                                                       \
        char ha_[65], hb_[65];                                                                 \
        javm_hash_to_hex(&(a), ha_);                                                           \
        javm_hash_to_hex(&(b), hb_);                                                           \
        assert_string_equal(ha_, hb_);                                                         \
    } while (0)

#define assert_hash_hex(a, hex)                                                                \
    do {                                                                                       \
        char ha_[65];                                                                          \
        javm_hash_to_hex(&(a), ha_);                                                           \
        assert_string_equal(ha_, hex);                                                         \
    } while (0)

/* ---- a byte builder for hand-written preimages (independent of the library encoder) ---- */

typedef struct bb {
    uint8_t *p;
    size_t n, cap;
} bb;

static inline void bb_raw(bb *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}
static inline void bb_u8(bb *b, uint8_t v) { bb_raw(b, &v, 1); }
static inline void bb_u32(bb *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    bb_raw(b, x, 4);
}
static inline void bb_u64(bb *b, uint64_t v)
{
    bb_u32(b, (uint32_t)v);
    bb_u32(b, (uint32_t)(v >> 32));
}
static inline void bb_h(bb *b, const javm_hash *h) { bb_raw(b, h->b, 32); }
static inline void bb_free(bb *b) { free(b->p); memset(b, 0, sizeof *b); }

/* Blake2b-256 straight from libsodium. */
static inline javm_hash sodium_h(const void *p, size_t n)
{
    javm_hash h;
    crypto_generichash(h.b, 32, p, n, NULL, 0);
    return h;
}
static inline javm_hash bb_hash(const bb *b) { return sodium_h(b->p, b->n); }

/* ---- caps of the spec -------------------------------------------------------------------- */

static inline javm_cap *data_str(const char *s)
{
    javm_cap *c;
    assert_int_equal(javm_data_new((const uint8_t *)s, strlen(s), &c), JAVM_OK);
    return c;
}

/* IMG1 = {code [0x0A,0x00], bitmask [0x01]}; IMG2 = IMG1 + one all-zero endpoint. */
static inline javm_cap *img1(void)
{
    static const uint8_t code[2] = { 0x0A, 0x00 }, bm[1] = { 0x01 };
    javm_cap *c;
    assert_int_equal(javm_image_new(code, 2, bm, 1, &c), JAVM_OK);
    return c;
}

static inline javm_cap *img2(void)
{
    javm_cap *c = img1();
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    assert_int_equal(javm_image_add_endpoint(c, &ep), JAVM_OK);
    return c;
}

/* IMG3 = IMG2 + mapping {0x1000, 0x2000, writable, path [1]} + initial [(1, Data "hello")]. */
static inline javm_cap *img3(void)
{
    javm_cap *c = img2(), *d = data_str("hello");
    javm_hash dh;
    javm_mapping m;
    memset(&m, 0, sizeof m);
    m.start = 0x1000;
    m.size = 0x2000;
    m.flags = 1;
    m.path_len = 1;
    m.path[0] = 1;
    assert_int_equal(javm_image_add_mapping(c, &m), JAVM_OK);
    assert_int_equal(javm_cap_hash(d, &dh), JAVM_OK);
    assert_int_equal(javm_image_add_initial(c, 1, &dh), JAVM_OK);
    javm_cap_free(d);
    return c;
}

static inline javm_hash cap_h(const javm_cap *c)
{
    javm_hash h;
    assert_int_equal(javm_cap_hash(c, &h), JAVM_OK);
    return h;
}

static inline javm_hash put_free(javm_cache *cache, javm_cap *c)
{
    javm_hash h;
    assert_int_equal(javm_cache_put(cache, c, &h), JAVM_OK);
    javm_cap_free(c);
    return h;
}

static inline uint32_t rc_of(javm_cache *cache, const javm_hash *h)
{
    uint32_t n = 0;
    javm_key k = javm_key_of_hash(h);
    if (javm_cache_refcount(cache, &k, &n) != JAVM_OK)
        return 0;
    return n;
}

static inline uint32_t rc_ref(javm_cache *cache, javm_ref r)
{
    uint32_t n = 0;
    javm_key k = javm_key_of_ref(r);
    if (javm_cache_refcount(cache, &k, &n) != JAVM_OK)
        return 0;
    return n;
}

#endif
