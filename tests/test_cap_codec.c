/* SPDX-License-Identifier: MIT
 * tests/test_cap_codec.c — canonical encodings (caps.md §11.1): round trips for every kind, and
 * every decoder error path of §11.3: truncation at each offset, oversized counts, bad
 * size_log, unsorted or duplicate slots, non-canonical values, trailing bytes, bad kind, and
 * the JCAP file's magic and version; the streaming decoder (cap_decode_stream, used by stores
 * with get_stream) decides exactly as javm_cap_decode however the input is cut. */
#include "cap_fixtures.h"
#include "cap/cap.h" /* cap_decode_stream */

static javm_cap *sample_image(void)
{
    static const uint8_t code[3] = { 0, 1, 0 }, bm[1] = { 0x07 };
    static const uint32_t jt[1] = { 2 };
    javm_cap *im;
    assert_int_equal(javm_image_new(code, 3, bm, 1, &im), JAVM_OK);
    assert_int_equal(javm_image_set_jump_table(im, jt, 1), JAVM_OK);
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    ep.entry_pc = 1;
    ep.initial_regs[1] = 0xfeff0000;
    assert_int_equal(javm_image_add_endpoint(im, &ep), JAVM_OK);
    javm_mapping m;
    memset(&m, 0, sizeof m);
    m.start = 0x2000;
    m.size = 5;
    m.flags = 1;
    m.path_len = 2;
    m.path[0] = 4;
    m.path[1] = 6;
    assert_int_equal(javm_image_add_mapping(im, &m), JAVM_OK);
    javm_hash a = fill(0xaa), b = fill(0xbb);
    assert_int_equal(javm_image_add_pinned(im, 1, &a), JAVM_OK);
    assert_int_equal(javm_image_add_initial(im, 2, &b), JAVM_OK);
    im->image.has_yield_marker = true;
    im->image.yield_marker_slot = 7;
    return im;
}

static javm_cap *sample_paged(void)
{
    javm_cap *d;
    uint8_t page[4096];
    assert_int_equal(javm_data_new_paged(3 * 4096 + 3, &d), JAVM_OK);
    memset(page, 0x33, sizeof page);
    assert_int_equal(javm_data_page_load(d, 0, page), JAVM_OK);
    javm_hash m = fill(0x77);
    assert_int_equal(javm_data_page_missing(d, 2, &m), JAVM_OK);
    memset(page, 0, sizeof page);
    page[2] = 1;
    assert_int_equal(javm_data_page_load(d, 3, page), JAVM_OK);
    return d;
}

static javm_cap *sample_cnode(void)
{
    javm_cap *c;
    assert_int_equal(javm_cnode_new(4, &c), JAVM_OK);
    for (uint32_t s = 1; s < 16; s += 5) {
        javm_hash h = fill((uint8_t)s);
        javm_key k = javm_key_of_hash(&h);
        assert_int_equal(javm_cnode_set_slot(c, s, &k), JAVM_OK);
    }
    return c;
}

static javm_cap *sample_instance(void)
{
    javm_hash a = fill(1), b = fill(2), r = fill(3), d1 = fill(4), d2 = fill(5);
    javm_key root = javm_key_of_hash(&r);
    javm_cap *in;
    assert_int_equal(javm_instance_new(&a, &b, &root, &in), JAVM_OK);
    assert_int_equal(javm_instance_add_overlay(in, 0x1000, &d1), JAVM_OK);
    assert_int_equal(javm_instance_add_overlay(in, 0x8000, &d2), JAVM_OK);
    in->instance.regs[0] = 1;
    in->instance.regs[12] = UINT64_MAX;
    in->instance.pc = 5;
    in->instance.gas_remaining = 6;
    in->instance.mem_size = 0x9000;
    return in;
}

static javm_cap *sample(int i)
{
    javm_hash t = fill(0x42);
    javm_cap *c = NULL;
    switch (i) {
    case 0: return sample_instance();
    case 1: return sample_image();
    case 2: return data_str("hello");
    case 3: return data_str("");
    case 4: return sample_paged();
    case 5: return sample_cnode();
    case 6: assert_int_equal(javm_cnode_new(0, &c), JAVM_OK); return c;
    case 7: assert_int_equal(javm_type_new(&t, &c), JAVM_OK); return c;
    case 8: return img1();
    case 9: return img3();
    }
    return NULL;
}
#define N_SAMPLES 10

static void test_round_trips(void **state)
{
    (void)state;
    for (int i = 0; i < N_SAMPLES; i++) {
        javm_cap *c = sample(i), *d;
        uint8_t *e1, *e2;
        size_t l1, l2;
        assert_int_equal(javm_cap_check(c), JAVM_OK);
        assert_int_equal(javm_cap_encode(c, &e1, &l1), JAVM_OK);
        assert_int_equal(javm_cap_decode((uint8_t)c->kind, e1, l1, &d, NULL), JAVM_OK);
        assert_int_equal(javm_cap_encode(d, &e2, &l2), JAVM_OK);
        assert_int_equal(l1, l2);
        assert_memory_equal(e1, e2, l1);
        javm_hash h1 = cap_h(c), h2 = cap_h(d);
        assert_hash_equal(h1, h2);
        /* JCAP export and parse round trip too. */
        uint8_t *x;
        size_t xl;
        javm_cap *p;
        assert_int_equal(javm_cap_export(c, &x, &xl), JAVM_OK);
        assert_int_equal(xl, l1 + 9);
        assert_int_equal(javm_cap_parse_export(x, xl, &p, NULL), JAVM_OK);
        javm_hash h3 = cap_h(p);
        assert_hash_equal(h1, h3);
        javm_cap_free(p);
        javm_free(x);
        javm_free(e1);
        javm_free(e2);
        javm_cap_free(c);
        javm_cap_free(d);
    }
}

/* Every strict prefix of every valid encoding fails cleanly, at an offset within the input;
 * one byte more fails as trailing. Run under ASan, this is also the out-of-bounds check. */
static void test_truncation_and_trailing(void **state)
{
    (void)state;
    for (int i = 0; i < N_SAMPLES; i++) {
        javm_cap *c = sample(i), *d = NULL;
        uint8_t *e;
        size_t l;
        javm_decode_err err;
        assert_int_equal(javm_cap_encode(c, &e, &l), JAVM_OK);
        for (size_t cut = 0; cut < l; cut++) {
            uint8_t *p = malloc(cut ? cut : 1); /* exact-size copy: ASan sees any overread */
            memcpy(p, e, cut);
            int rc = javm_cap_decode((uint8_t)c->kind, p, cut, &d, &err);
            assert_true(rc == JAVM_ERR_TRUNCATED || rc == JAVM_ERR_OVERSIZED);
            assert_int_equal(err.reason, rc);
            assert_true(err.offset <= cut);
            free(p);
        }
        uint8_t *q = malloc(l + 1);
        memcpy(q, e, l);
        q[l] = 0;
        assert_int_equal(javm_cap_decode((uint8_t)c->kind, q, l + 1, &d, &err), JAVM_ERR_TRAILING);
        assert_int_equal(err.offset, l);
        free(q);
        javm_free(e);
        javm_cap_free(c);
    }
}

/* A source handing out an input in pieces of `step` bytes, each an exact-size heap copy (ASan
 * sees any read past a piece); fail_at >= 0: that piece fails with JAVM_ERR_STORE instead. */
typedef struct pieces {
    const uint8_t *in;
    size_t len, at, step;
    long fail_at, given;
    uint8_t *cur;
} pieces;

static int next_piece(void *arg, const uint8_t **p, size_t *n)
{
    pieces *ps = arg;
    free(ps->cur);
    ps->cur = NULL;
    if (ps->fail_at >= 0 && ps->given == ps->fail_at)
        return JAVM_ERR_STORE;
    size_t k = ps->len - ps->at < ps->step ? ps->len - ps->at : ps->step;
    *n = k;
    *p = NULL;
    if (k) {
        ps->cur = malloc(k);
        memcpy(ps->cur, ps->in + ps->at, k);
        *p = ps->cur;
        ps->at += k;
        ps->given++;
    }
    return JAVM_OK;
}

/* Decodes in[0..len) whole and streamed in pieces of step bytes: the same status, reason and
 * offset, or the same cap. */
static void same_both_ways(uint8_t kind, const uint8_t *in, size_t len, size_t step)
{
    javm_cap *a = NULL, *b = NULL;
    javm_decode_err ea, eb;
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    int ra = javm_cap_decode(kind, in, len, &a, &ea);
    pieces ps = { in, len, 0, step, -1, 0, NULL };
    bool src_failed = true;
    int rb = cap_decode_stream(kind, len, NULL, 0, next_piece, &ps, NULL, &b, &eb, &src_failed);
    free(ps.cur);
    assert_int_equal(ra, rb);
    assert_false(src_failed);
    if (ra) {
        assert_null(b);
        assert_int_equal(ea.reason, eb.reason);
        assert_int_equal(ea.offset, eb.offset);
        return;
    }
    uint8_t *e1, *e2;
    size_t l1, l2;
    assert_int_equal(javm_cap_encode(a, &e1, &l1), JAVM_OK);
    assert_int_equal(javm_cap_encode(b, &e2, &l2), JAVM_OK);
    assert_int_equal(l1, l2);
    assert_memory_equal(e1, e2, l1);
    javm_free(e1);
    javm_free(e2);
    javm_cap_free(a);
    javm_cap_free(b);
}

static void test_stream_decode_matches(void **state)
{
    (void)state;
    static const size_t steps[] = { 1, 3, 4097 };
    for (int i = 0; i < N_SAMPLES; i++) {
        javm_cap *c = sample(i);
        uint8_t *e;
        size_t l;
        assert_int_equal(javm_cap_encode(c, &e, &l), JAVM_OK);
        uint8_t kind = (uint8_t)c->kind;
        for (size_t s = 0; s < 3; s++) {
            same_both_ways(kind, e, l, steps[s]);
            for (size_t cut = 0; cut < l; cut += cut < 64 ? 1 : 61)
                same_both_ways(kind, e, cut, steps[s]); /* truncated */
            for (size_t at = 0; at < l; at += at < 300 ? 1 : 97) {
                e[at] ^= 0xff; /* damaged */
                same_both_ways(kind, e, l, steps[s]);
                e[at] ^= 0xff;
            }
        }
        /* the body hashed as it streams is the body's hash */
        crypto_generichash_state st;
        javm_hash want, got;
        javm_blake2b(e, l, &want);
        crypto_generichash_init(&st, NULL, 0, 32);
        pieces ps = { e, l, 1, 5, -1, 0, NULL };
        javm_cap *d = NULL;
        bool src_failed = true;
        assert_int_equal(cap_decode_stream(kind, l, e, l ? 1 : 0, next_piece, &ps, &st, &d, NULL,
                                           &src_failed), JAVM_OK);
        free(ps.cur);
        crypto_generichash_final(&st, got.b, 32);
        assert_hash_equal(want, got);
        javm_cap_free(d);
        d = NULL;
        /* a source that fails is the source's status, not a decode failure; one that ends
         * early is TRUNCATED at the offset it ended */
        if (l > 8) {
            pieces bad = { e, l, 0, 4, 1, 0, NULL };
            javm_decode_err err;
            assert_int_equal(cap_decode_stream(kind, l, NULL, 0, next_piece, &bad, NULL, &d, &err,
                                               &src_failed), JAVM_ERR_STORE);
            free(bad.cur);
            assert_true(src_failed);
            assert_null(d);
            pieces shortp = { e, l - 3, 0, 4, -1, 0, NULL };
            assert_int_equal(cap_decode_stream(kind, l, NULL, 0, next_piece, &shortp, NULL, &d,
                                               &err, &src_failed), JAVM_ERR_TRUNCATED);
            free(shortp.cur);
            assert_false(src_failed);
            assert_null(d);
        }
        javm_free(e);
        javm_cap_free(c);
    }
}

/* Decodes a patched copy of sample i's encoding and expects reason and offset. */
static void expect_patched(int i, size_t at, const uint8_t *bytes, size_t n, int reason,
                           long offset)
{
    javm_cap *c = sample(i), *d = NULL;
    uint8_t *e;
    size_t l;
    javm_decode_err err;
    assert_int_equal(javm_cap_encode(c, &e, &l), JAVM_OK);
    assert_true(at + n <= l);
    memcpy(e + at, bytes, n);
    assert_int_equal(javm_cap_decode((uint8_t)c->kind, e, l, &d, &err), reason);
    assert_null(d);
    if (offset >= 0)
        assert_int_equal(err.offset, (uint64_t)offset);
    javm_free(e);
    javm_cap_free(c);
}

static const uint8_t FF4[4] = { 0xff, 0xff, 0xff, 0xff };

static void test_oversized(void **state)
{
    (void)state;
    /* CNode count (offset 1), Instance overlay count (96), Image code length (0), Image
     * jump-table count, Data paged page count (9). Rejected before allocating: ASan would
     * report a 4 GiB x element allocation otherwise. */
    expect_patched(5, 1, FF4, 4, JAVM_ERR_OVERSIZED, 1);
    expect_patched(0, 96, FF4, 4, JAVM_ERR_OVERSIZED, 96);
    expect_patched(1, 0, FF4, 4, JAVM_ERR_OVERSIZED, 0);
    expect_patched(1, 4 + 3 + 4 + 1, FF4, 4, JAVM_ERR_OVERSIZED, 12);
    expect_patched(4, 9, FF4, 4, JAVM_ERR_OVERSIZED, 9);
    /* Image endpoint count (after code 3, bitmask 1, jt 1): count 65 is non-canonical. */
    const uint8_t n65[4] = { 65, 0, 0, 0 };
    expect_patched(1, 4 + 3 + 4 + 1 + 4 + 4, n65, 4, JAVM_ERR_NON_CANONICAL, 20);
    expect_patched(1, 4 + 3 + 4 + 1 + 4 + 4, FF4, 4, JAVM_ERR_NON_CANONICAL, 20);
}

static void test_cnode_errors(void **state)
{
    (void)state;
    const uint8_t s17 = 17, s1 = 1;
    expect_patched(5, 0, &s17, 1, JAVM_ERR_INVALID_CNODE_SIZE, 0);
    expect_patched(5, 0, &s1, 1, JAVM_ERR_NON_CANONICAL, 41); /* size_log 1: slot 6 is out */
    /* Sample CNode slots 1, 6, 11 at offsets 5, 41, 77. Unsorted: second slot 0. */
    const uint8_t zero4[4] = { 0 }, one4[4] = { 1, 0, 0, 0 }, s16[4] = { 16, 0, 0, 0 };
    expect_patched(5, 41, zero4, 4, JAVM_ERR_NON_CANONICAL, 41);
    expect_patched(5, 41, one4, 4, JAVM_ERR_NON_CANONICAL, 41); /* duplicate */
    expect_patched(5, 77, s16, 4, JAVM_ERR_NON_CANONICAL, 77);  /* out of range */
}

static void test_data_errors(void **state)
{
    (void)state;
    /* Inline "hello" = u64 5, form 0, bytes. Trailing zero byte in the content. */
    const uint8_t z = 0, two = 2, one = 1;
    expect_patched(2, 13, &z, 1, JAVM_ERR_NON_CANONICAL, 13);
    /* Form 1 for a 5-byte Data, unknown form 2. */
    expect_patched(2, 8, &one, 1, JAVM_ERR_NON_CANONICAL, 0);
    expect_patched(2, 8, &two, 1, JAVM_ERR_NON_CANONICAL, 8);
    /* Inline size 4097. */
    const uint8_t big[8] = { 0x01, 0x10, 0, 0, 0, 0, 0, 0 };
    expect_patched(2, 0, big, 8, JAVM_ERR_NON_CANONICAL, 0);

    /* Paged sample: size 12291, pages L(0) E(1) M(2) L(3). Page states at 13, 4110, 4111,
     * 4144. Page count 3 (mismatch). */
    const uint8_t three[4] = { 3, 0, 0, 0 };
    expect_patched(4, 9, three, 4, JAVM_ERR_NON_CANONICAL, 9);
    /* Loaded page 0 all zero. */
    uint8_t *zp = calloc(1, 4096);
    expect_patched(4, 14, zp, 4096, JAVM_ERR_NON_CANONICAL, 13);
    free(zp);
    /* Missing carrying H("") or Z. */
    javm_hash e = sodium_h("", 0);
    expect_patched(4, 4112, e.b, 32, JAVM_ERR_NON_CANONICAL, 4111);
    uint8_t *zz = calloc(1, 4096);
    javm_hash zh = sodium_h(zz, 4096);
    free(zz);
    expect_patched(4, 4112, zh.b, 32, JAVM_ERR_NON_CANONICAL, 4111);
    /* Unknown page state. */
    const uint8_t st3 = 3;
    expect_patched(4, 4110, &st3, 1, JAVM_ERR_NON_CANONICAL, 4110);
    /* Last page: its last byte (index 2) zero, or a byte after it non-zero. */
    expect_patched(4, 4145 + 2, &z, 1, JAVM_ERR_NON_CANONICAL, 4144);
    expect_patched(4, 4145 + 3, &one, 1, JAVM_ERR_NON_CANONICAL, 4144);

    /* A paged Data whose last page is Empty: built by hand. */
    bb b = { 0 };
    bb_u64(&b, 4097);
    bb_u8(&b, 1);
    bb_u32(&b, 2);
    bb_u8(&b, 2);
    javm_hash m = fill(9);
    bb_h(&b, &m);
    bb_u8(&b, 0);
    javm_cap *d;
    javm_decode_err err;
    assert_int_equal(javm_cap_decode(JAVM_KIND_DATA, b.p, b.n, &d, &err), JAVM_ERR_NON_CANONICAL);
    assert_int_equal(err.offset, 46);
    bb_free(&b);
    /* Paged form for a size <= 4096. */
    bb_u64(&b, 4096);
    bb_u8(&b, 1);
    bb_u32(&b, 1);
    bb_u8(&b, 2);
    bb_h(&b, &m);
    assert_int_equal(javm_cap_decode(JAVM_KIND_DATA, b.p, b.n, &d, &err), JAVM_ERR_NON_CANONICAL);
    bb_free(&b);
}

static void test_image_errors(void **state)
{
    (void)state;
    /* Sample image layout: code_len@0 code@4 bm_len@7 bm@11 jt_count@12 jt@16 ep_count@20
     * ep@24 (125 bytes) map_count@149 map@153 (start, size, flags@169, path_len@170, path)
     * pinned_count@179 pinned@183 initial_count@219 initial@223 yield@259 slot@260. */
    const uint8_t bm_pad = 0x0f, two4[4] = { 2, 0, 0, 0 };
    expect_patched(1, 11, &bm_pad, 1, JAVM_ERR_NON_CANONICAL, 11); /* padding bit */
    expect_patched(1, 7, two4, 4, JAVM_ERR_NON_CANONICAL, -1);     /* bitmask length */
    const uint8_t pc32[8] = { 0, 0, 0, 0, 1, 0, 0, 0 };
    expect_patched(1, 24, pc32, 8, JAVM_ERR_NON_CANONICAL, 24); /* entry_pc >= 2^32 */
    const uint8_t a17 = 17;
    expect_patched(1, 24 + 20, &a17, 1, JAVM_ERR_NON_CANONICAL, 24);
    const uint8_t mis[8] = { 0x01, 0x20, 0, 0, 0, 0, 0, 0 };
    expect_patched(1, 153, mis, 8, JAVM_ERR_NON_CANONICAL, 153); /* start not page-aligned */
    const uint8_t zero8[8] = { 0 };
    expect_patched(1, 161, zero8, 8, JAVM_ERR_NON_CANONICAL, 153); /* size 0 */
    const uint8_t top[8] = { 0, 0, 0, 0, 1, 0, 0, 0 };
    expect_patched(1, 161, top, 8, JAVM_ERR_NON_CANONICAL, 153); /* past 2^32 */
    const uint8_t f2 = 2, p9 = 9;
    expect_patched(1, 169, &f2, 1, JAVM_ERR_NON_CANONICAL, 153);
    expect_patched(1, 170, &p9, 1, JAVM_ERR_NON_CANONICAL, 153);
    const uint8_t s2[4] = { 2, 0, 0, 0 }, s1[4] = { 1, 0, 0, 0 }, big[4] = { 0, 0, 1, 0 };
    expect_patched(1, 223, s1, 4, JAVM_ERR_NON_CANONICAL, 219); /* slot in pinned and initial */
    expect_patched(1, 183, big, 4, JAVM_ERR_NON_CANONICAL, 183); /* slot >= 65536 */
    expect_patched(1, 260, big, 4, JAVM_ERR_NON_CANONICAL, 260); /* yield marker slot */
    const uint8_t y2 = 2;
    expect_patched(1, 259, &y2, 1, JAVM_ERR_NON_CANONICAL, 259);
    (void)s2;

    /* Unsorted and overlapping mappings, unsorted pinned: hand-built from IMG1's fields. */
    bb b = { 0 };
    bb_u32(&b, 2); bb_u8(&b, 0x0a); bb_u8(&b, 0); bb_u32(&b, 1); bb_u8(&b, 1);
    bb_u32(&b, 0); bb_u32(&b, 0);
    bb_u32(&b, 2);
    bb_u64(&b, 0x2000); bb_u64(&b, 0x1000); bb_u8(&b, 0); bb_u8(&b, 0);
    bb_u64(&b, 0x2000); bb_u64(&b, 0x1000); bb_u8(&b, 0); bb_u8(&b, 0);
    bb_u32(&b, 0); bb_u32(&b, 0); bb_u8(&b, 0);
    javm_cap *d;
    javm_decode_err err;
    assert_int_equal(javm_cap_decode(JAVM_KIND_IMAGE, b.p, b.n, &d, &err), JAVM_ERR_NON_CANONICAL);
    assert_int_equal(err.offset, 23 + 18);
    bb_free(&b);
    bb_u32(&b, 0); bb_u32(&b, 0); bb_u32(&b, 0); bb_u32(&b, 0); bb_u32(&b, 0);
    bb_u32(&b, 2);
    javm_hash h = fill(1);
    bb_u32(&b, 5); bb_h(&b, &h); bb_u32(&b, 5); bb_h(&b, &h);
    bb_u32(&b, 0); bb_u8(&b, 0);
    assert_int_equal(javm_cap_decode(JAVM_KIND_IMAGE, b.p, b.n, &d, &err), JAVM_ERR_NON_CANONICAL);
    assert_int_equal(err.offset, 24 + 36);
    bb_free(&b);
}

static void test_instance_errors(void **state)
{
    (void)state;
    /* Overlays at 100 (start 0x1000) and 136 (start 0x8000). */
    const uint8_t mis[4] = { 1, 0x10, 0, 0 }, same[4] = { 0, 0x10, 0, 0 };
    expect_patched(0, 100, mis, 4, JAVM_ERR_NON_CANONICAL, 100);
    expect_patched(0, 136, same, 4, JAVM_ERR_NON_CANONICAL, 136);
}

static void test_kind_and_jcap(void **state)
{
    (void)state;
    javm_cap *d = NULL;
    javm_decode_err err;
    uint8_t body[32];
    memset(body, 0x42, 32);
    assert_int_equal(javm_cap_decode(0x60, body, 32, &d, &err), JAVM_ERR_BAD_KIND);
    assert_int_equal(javm_cap_decode(0x00, body, 32, &d, &err), JAVM_ERR_BAD_KIND);
    assert_int_equal(err.offset, 0);

    javm_cap *t = sample(7);
    uint8_t *x;
    size_t xl;
    assert_int_equal(javm_cap_export(t, &x, &xl), JAVM_OK);
    static const uint8_t head[9] = { 0x4a, 0x43, 0x41, 0x50, 1, 0, 0, 0, 0x50 };
    assert_int_equal(xl, 41);
    assert_memory_equal(x, head, 9);
    assert_memory_equal(x + 9, body, 32);
    uint8_t *y = malloc(xl);
    memcpy(y, x, xl);
    y[0] = 'X';
    assert_int_equal(javm_cap_parse_export(y, xl, &d, &err), JAVM_ERR_BAD_MAGIC);
    memcpy(y, x, xl);
    y[4] = 2;
    assert_int_equal(javm_cap_parse_export(y, xl, &d, &err), JAVM_ERR_BAD_VERSION);
    assert_int_equal(err.offset, 4);
    memcpy(y, x, xl);
    y[8] = 0x51;
    assert_int_equal(javm_cap_parse_export(y, xl, &d, &err), JAVM_ERR_BAD_KIND);
    assert_int_equal(err.offset, 8);
    for (size_t cut = 0; cut < xl; cut++) {
        int rc = javm_cap_parse_export(x, cut, &d, &err);
        assert_true(rc == JAVM_ERR_TRUNCATED || rc == JAVM_ERR_OVERSIZED);
    }
    free(y);
    javm_free(x);
    javm_cap_free(t);
}

static void test_check_rejects(void **state)
{
    (void)state;
    /* Canonical checks on values built through the API. */
    javm_cap *d;
    assert_int_equal(javm_data_new_paged(4097, &d), JAVM_OK); /* last page Empty */
    assert_int_equal(javm_cap_check(d), JAVM_ERR_NON_CANONICAL);
    javm_hash z = sodium_h("", 0);
    assert_int_equal(javm_data_page_missing(d, 1, &z), JAVM_OK);
    assert_int_equal(javm_cap_check(d), JAVM_ERR_NON_CANONICAL);
    javm_hash ok = fill(3);
    assert_int_equal(javm_data_page_missing(d, 1, &ok), JAVM_OK);
    assert_int_equal(javm_cap_check(d), JAVM_OK);
    uint8_t *enc;
    size_t len;
    javm_cap_free(d);
    javm_cap *im = img1();
    javm_hash h = fill(1);
    assert_int_equal(javm_image_add_pinned(im, 4, &h), JAVM_OK);
    assert_int_equal(javm_image_add_initial(im, 4, &h), JAVM_OK);
    assert_int_equal(javm_cap_check(im), JAVM_ERR_NON_CANONICAL);
    assert_int_equal(javm_cap_encode(im, &enc, &len), JAVM_ERR_NON_CANONICAL);
    javm_cap_free(im);
    javm_cap *c;
    assert_int_equal(javm_cnode_new(2, &c), JAVM_OK);
    javm_key k = javm_key_of_hash(&h);
    assert_int_equal(javm_cnode_set_slot(c, 4, &k), JAVM_ERR_SLOT_OUT_OF_RANGE);
    assert_int_equal(javm_cnode_set_slot(c, 3, &k), JAVM_OK);
    assert_non_null(javm_cnode_get_slot(c, 3));
    assert_int_equal(javm_cnode_set_slot(c, 3, NULL), JAVM_OK);
    assert_null(javm_cnode_get_slot(c, 3));
    javm_cap_free(c);
    assert_int_equal(javm_strip_len((const uint8_t *)"\1\2\3", 3), 3);
    assert_int_equal(javm_strip_len((const uint8_t *)"\1\2\3\0\0", 5), 3);
    assert_int_equal(javm_strip_len((const uint8_t *)"\0\0\0", 3), 0);
    assert_int_equal(javm_strip_len(NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_truncation_and_trailing),
        cmocka_unit_test(test_stream_decode_matches),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_cnode_errors),
        cmocka_unit_test(test_data_errors),
        cmocka_unit_test(test_image_errors),
        cmocka_unit_test(test_instance_errors),
        cmocka_unit_test(test_kind_and_jcap),
        cmocka_unit_test(test_check_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
