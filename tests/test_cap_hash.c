/* SPDX-License-Identifier: MIT
 * tests/test_cap_hash.c — cap hashes (caps.md §4) checked against preimages built here byte by
 * byte and hashed with libsodium directly, and every anchor of §4.5. */
#include "cap_fixtures.h"
#include "cap/cap.h"

/* ---- independent reference ------------------------------------------------------------- */

static javm_hash ref_node(const javm_hash *l, const javm_hash *r)
{
    bb b = { 0 };
    bb_u8(&b, 0x01);
    bb_h(&b, l);
    bb_h(&b, r);
    javm_hash h = bb_hash(&b);
    bb_free(&b);
    return h;
}

/* BMT by building each level into a fresh array (the library reduces in place). */
static javm_hash ref_bmt(const javm_hash *leaves, size_t n)
{
    if (n == 0)
        return sodium_h("", 0);
    javm_hash *lv = malloc(n * sizeof *lv);
    memcpy(lv, leaves, n * sizeof *lv);
    while (n > 1) {
        size_t m = (n + 1) / 2;
        javm_hash *up = malloc(m * sizeof *up);
        for (size_t i = 0; i < m; i++)
            up[i] = ref_node(&lv[2 * i], 2 * i + 1 < n ? &lv[2 * i + 1] : &lv[2 * i]);
        free(lv);
        lv = up;
        n = m;
    }
    javm_hash r = lv[0];
    free(lv);
    return r;
}

typedef struct ref_slot {
    uint32_t slot;
    javm_hash target;
} ref_slot;

/* All 2^size_log leaves materialised: no empty-subtree shortcut. */
static javm_hash ref_cnode(unsigned size_log, const ref_slot *s, size_t n)
{
    size_t leaves = (size_t)1 << size_log;
    javm_hash *v = malloc(leaves * sizeof *v);
    uint8_t zero = 0;
    javm_hash empty = sodium_h(&zero, 1);
    for (size_t i = 0; i < leaves; i++)
        v[i] = empty;
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[33];
        buf[0] = 1;
        memcpy(buf + 1, s[i].target.b, 32);
        v[s[i].slot] = sodium_h(buf, 33);
    }
    javm_hash root = ref_bmt(v, leaves);
    free(v);
    bb b = { 0 };
    bb_u8(&b, 0x40);
    bb_h(&b, &root);
    javm_hash h = bb_hash(&b);
    bb_free(&b);
    return h;
}

static javm_hash ref_data_root_hash(uint64_t size, const javm_hash *root)
{
    bb b = { 0 };
    bb_u8(&b, 0x30);
    bb_u64(&b, size);
    bb_h(&b, root);
    javm_hash h = bb_hash(&b);
    bb_free(&b);
    return h;
}

static javm_hash ref_data_inline(const void *p, size_t n)
{
    javm_hash root = sodium_h(p, n);
    return ref_data_root_hash(n, &root);
}

static javm_hash ref_type(const javm_hash *chain)
{
    bb b = { 0 };
    bb_u8(&b, 0x50);
    bb_h(&b, chain);
    javm_hash h = bb_hash(&b);
    bb_free(&b);
    return h;
}

static javm_hash ref_instance(const javm_hash *chain, const javm_hash *image, const javm_hash *root,
                              const uint32_t *starts, const javm_hash *datas, uint32_t n_ov,
                              const uint64_t regs[13], uint64_t pc, uint64_t gas, uint32_t mem)
{
    bb ov = { 0 }, ct = { 0 }, top = { 0 };
    bb_u32(&ov, n_ov);
    for (uint32_t i = 0; i < n_ov; i++) {
        bb_u32(&ov, starts[i]);
        bb_h(&ov, &datas[i]);
    }
    javm_hash ovh = bb_hash(&ov);
    bb_h(&ct, image);
    bb_h(&ct, root);
    bb_h(&ct, &ovh);
    for (int i = 0; i < 13; i++)
        bb_u64(&ct, regs ? regs[i] : 0);
    bb_u64(&ct, pc);
    bb_u64(&ct, gas);
    bb_u32(&ct, mem);
    javm_hash content = bb_hash(&ct);
    bb_u8(&top, 0x10);
    bb_h(&top, chain);
    bb_h(&top, &content);
    javm_hash h = bb_hash(&top);
    bb_free(&ov);
    bb_free(&ct);
    bb_free(&top);
    return h;
}

static javm_hash ref_image_of_body(const bb *body)
{
    javm_hash inner = bb_hash(body);
    bb b = { 0 };
    bb_u8(&b, 0x20);
    bb_h(&b, &inner);
    javm_hash h = bb_hash(&b);
    bb_free(&b);
    return h;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_blake2b_anchors(void **state)
{
    (void)state;
    javm_hash h;
    javm_blake2b("", 0, &h);
    assert_hash_hex(h, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
    javm_blake2b("abc", 3, &h);
    assert_hash_hex(h, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
    uint8_t zero = 0;
    javm_blake2b(&zero, 1, &h);
    assert_hash_hex(h, "03170a2e7597b7b7e3d84c05391d139a62b157e78786d8c082f29dcf4c111314");
    uint8_t *z = calloc(1, 4096);
    javm_blake2b(z, 4096, &h);
    assert_hash_hex(h, "686ede9288c391e7e05026e56f2f91bfd879987a040ea98445dabc76f55b8e5f");
    free(z);
    javm_hash l[3];
    javm_blake2b("a", 1, &l[0]);
    javm_blake2b("b", 1, &l[1]);
    javm_blake2b("c", 1, &l[2]);
    h = ref_bmt(l, 3);
    assert_hash_hex(h, "54d784d71c7d9e4901a978857ed44d89f3990c8aeb4b28d494ea88cf955d183b");
}

static void test_data_anchors(void **state)
{
    (void)state;
    static const struct { const char *s; const char *hex; } v[] = {
        { "", "b26d8e6487ca5bd7c8a427bb52d61291bb3628087ad725ea2e940998f8760b48" },
        { "abc", "b34d0c2d1dacaee9f376e3d2b88bd3be4670820d9b31e5cd3059ff3a43f770fc" },
        { "hello", "8d701b885ff92c129847ea844f81d7a9a62b718e47830c4c9ff057a1d82eeb1e" },
        { "stored", "1cd36dd0e2630a034d9d6a9d4c502f98b5075537c30632f6f3f8f75b427977e7" },
        { "file", "1a83709bcf29cfe780ec30a0439bcba86ada53db3e8fe1aed1fc5742c46e6460" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        javm_cap *d = data_str(v[i].s);
        javm_hash h = cap_h(d);
        assert_hash_hex(h, v[i].hex);
        javm_hash r = ref_data_inline(v[i].s, strlen(v[i].s));
        assert_hash_equal(h, r);
        javm_cap_free(d);
    }
    /* 4096 zero bytes then 0x07: Empty, Loaded. */
    uint8_t *b = calloc(1, 4097);
    b[4096] = 7;
    javm_cap *d;
    assert_int_equal(javm_data_new(b, 4097, &d), JAVM_OK);
    assert_true(d->data.paged);
    assert_int_equal(d->data.n_pages, 2);
    assert_int_equal((*javm_data_page(&d->data, 0)).state, JAVM_PAGE_EMPTY);
    javm_hash h = cap_h(d);
    assert_hash_hex(h, "30c7299fe5a8a27ae8ae483d02c7abb6f8d7b2e7ab28771336f3509e4d0aa4da");
    javm_cap_free(d);
    /* Trailing zeros are stripped: "abc\0\0" is Data "abc". */
    assert_int_equal(javm_data_new((const uint8_t *)"abc\0\0", 5, &d), JAVM_OK);
    h = cap_h(d);
    assert_hash_hex(h, "b34d0c2d1dacaee9f376e3d2b88bd3be4670820d9b31e5cd3059ff3a43f770fc");
    javm_cap_free(d);
    free(b);
}

/* Paged Data with Empty, Loaded and Missing pages, against a hand-built preimage. */
static void test_data_paged_reference(void **state)
{
    (void)state;
    uint64_t size = 5 * 4096 + 100;
    javm_cap *d;
    assert_int_equal(javm_data_new_paged(size, &d), JAVM_OK);
    uint8_t page[4096];
    javm_hash leaves[6];
    javm_hash empty = sodium_h("", 0);
    javm_hash missing = fill(0x5a);
    for (int i = 0; i < 6; i++)
        leaves[i] = empty;
    /* page 0 Loaded, 1 Empty, 2 Missing, 3 Loaded, 4 Empty, 5 Loaded partial (last). */
    memset(page, 0x11, sizeof page);
    assert_int_equal(javm_data_page_load(d, 0, page), JAVM_OK);
    leaves[0] = sodium_h(page, 4096);
    assert_int_equal(javm_data_page_missing(d, 2, &missing), JAVM_OK);
    leaves[2] = missing;
    memset(page, 0, sizeof page);
    page[17] = 9;
    assert_int_equal(javm_data_page_load(d, 3, page), JAVM_OK);
    leaves[3] = sodium_h(page, 4096);
    memset(page, 0, sizeof page);
    page[99] = 0xff;
    page[3] = 1;
    assert_int_equal(javm_data_page_load(d, 5, page), JAVM_OK);
    leaves[5] = sodium_h(page, 4096);
    assert_int_equal(javm_cap_check(d), JAVM_OK);
    javm_hash root = ref_bmt(leaves, 6);
    javm_hash want = ref_data_root_hash(size, &root);
    javm_hash got = cap_h(d);
    assert_hash_equal(got, want);
    javm_cap_free(d);

    /* A Data of 300 pages (beyond the 256-leaf stack buffer) built from bytes. */
    size_t n = 300 * 4096;
    uint8_t *bytes = malloc(n);
    for (size_t i = 0; i < n; i++)
        bytes[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(javm_data_new(bytes, n, &d), JAVM_OK);
    javm_hash *lv = malloc(300 * sizeof *lv);
    for (size_t i = 0; i < 300; i++)
        lv[i] = sodium_h(bytes + i * 4096, 4096);
    root = ref_bmt(lv, 300);
    want = ref_data_root_hash(n, &root);
    got = cap_h(d);
    assert_hash_equal(got, want);
    javm_cap_free(d);
    free(lv);
    free(bytes);
}

/* The chunks' Merkle caches (cap.h): for every page count from 2 to 300 (one chunk, a short
 * last one, whole chunks of Empty pages), a Data hashed, then changed page by page — in place
 * and in a copy sharing its chunks (cap_data_derive, as settle does) — and hashed after each
 * change, always equal to the reference BMT over its leaves, and the original unchanged. */
static void test_data_chunk_caches(void **state)
{
    (void)state;
    uint32_t seed = 7;
    uint8_t page[4096];
    javm_hash empty = sodium_h("", 0);
    for (uint64_t n = 2; n <= 300; n += n < 70 ? 1 : 23) {
        javm_hash *lv = malloc(n * sizeof *lv), *orig = malloc(n * sizeof *orig);
        javm_cap *d;
        assert_int_equal(javm_data_new_paged(n * 4096, &d), JAVM_OK);
        for (uint64_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            bool loaded = i + 1 == n || (n > 130 && i >= 64 && i < 128 ? false : (seed >> 16) % 3 != 0);
            lv[i] = empty;
            if (loaded) {
                memset(page, (int)(seed >> 8) | 1, sizeof page);
                assert_int_equal(javm_data_page_load(d, i, page), JAVM_OK);
                lv[i] = sodium_h(page, 4096);
            }
        }
        memcpy(orig, lv, n * sizeof *lv);
        javm_hash root = ref_bmt(lv, n), want = ref_data_root_hash(n * 4096, &root);
        javm_hash got = cap_h(d);
        assert_hash_equal(got, want);
        javm_cap *e;
        assert_int_equal(cap_data_derive(d->data.chunks, n, 0, d->data.top, &e), JAVM_OK);
        e->data.size = n * 4096;
        for (int step = 0; step < 6; step++) {
            seed = seed * 1103515245u + 12345u;
            uint64_t i = (seed >> 8) % n;
            javm_cap *target = step % 2 ? d : e;
            if (i + 1 < n && step % 3 == 0) { /* made Empty */
                javm_page *p = cap_data_page_mut(&target->data, i);
                assert_non_null(p);
                cap_page_unref(p->bytes);
                *p = cap_page_empty;
                (target == d ? orig : lv)[i] = empty;
            } else {
                memset(page, (int)(seed >> 4) | 1, sizeof page);
                assert_int_equal(javm_data_page_load(target, i, page), JAVM_OK);
                (target == d ? orig : lv)[i] = sodium_h(page, 4096);
            }
            root = ref_bmt(lv, n);
            want = ref_data_root_hash(n * 4096, &root);
            got = cap_h(e);
            assert_hash_equal(got, want);
            root = ref_bmt(orig, n);
            want = ref_data_root_hash(n * 4096, &root);
            got = cap_h(d);
            assert_hash_equal(got, want);
        }
        /* a checked chunk is checked again once changed: a Loaded page of zeros is not canonical */
        assert_int_equal(javm_cap_check(d), JAVM_OK);
        memset(page, 0, sizeof page);
        assert_int_equal(javm_data_page_load(d, 0, page), JAVM_OK);
        assert_int_equal(javm_cap_check(d), JAVM_ERR_NON_CANONICAL);
        javm_cap_free(e);
        javm_cap_free(d);
        free(lv);
        free(orig);
    }
}

static void check_cnode(unsigned size_log, const uint32_t *slots, size_t n)
{
    javm_cap *c;
    ref_slot rs[8];
    assert_int_equal(javm_cnode_new(size_log, &c), JAVM_OK);
    for (size_t i = 0; i < n; i++) {
        rs[i].slot = slots[i];
        rs[i].target = fill((uint8_t)(0x30 + i));
        javm_key k = javm_key_of_hash(&rs[i].target);
        assert_int_equal(javm_cnode_set_slot(c, slots[i], &k), JAVM_OK);
    }
    javm_hash got = cap_h(c);
    javm_hash want = ref_cnode(size_log, rs, n);
    assert_hash_equal(got, want);
    javm_cap_free(c);
}

static void test_cnode_reference(void **state)
{
    (void)state;
    static const uint32_t s0[] = { 0 }, s1[] = { 1 }, s01[] = { 0, 1 };
    check_cnode(0, NULL, 0);
    check_cnode(0, s0, 1);
    check_cnode(1, NULL, 0);
    check_cnode(1, s0, 1);
    check_cnode(1, s1, 1);
    check_cnode(1, s01, 2);
    static const uint32_t a1[] = { 7 }, a3[] = { 0, 5, 15 }, a5[] = { 1, 2, 3, 9, 14 };
    static const uint32_t b1[] = { 200 }, b3[] = { 0, 128, 255 }, b5[] = { 3, 64, 65, 130, 254 };
    check_cnode(4, NULL, 0);
    check_cnode(4, a1, 1);
    check_cnode(4, a3, 3);
    check_cnode(4, a5, 5);
    check_cnode(8, NULL, 0);
    check_cnode(8, b1, 1);
    check_cnode(8, b3, 3);
    check_cnode(8, b5, 5);
    static const uint32_t c3[] = { 0, 40000, 65535 };
    check_cnode(16, c3, 3);
}

static void test_cnode_anchors(void **state)
{
    (void)state;
    static const struct { unsigned log; const char *hex; } v[] = {
        { 0, "5da748e14c61a98f0609fc49062e3c53bbbf41e4e13af282c90f4d34df331742" },
        { 3, "fc95656c1a7ee42c1967373ca504168177184d82571c284199154b17ad4d18b0" },
        { 4, "fdd4e2487e23ca5e952614d858fddf6b8cb74572bb02a8b2aa5a411b245bdecb" },
        { 8, "7c676e03b0634d761e7579a5e73c14eebcefcb69e201231d2daac9e32d3bf6d4" },
        { 16, "9c9bfdc53d1f63073666e3f806eff257977b20162a27bb930e6344215c53c742" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        javm_cap *c;
        assert_int_equal(javm_cnode_new(v[i].log, &c), JAVM_OK);
        javm_hash h = cap_h(c);
        assert_hash_hex(h, v[i].hex);
        javm_cap_free(c);
    }
    javm_cap *c;
    assert_int_equal(javm_cnode_new(17, &c), JAVM_ERR_INVALID_CNODE_SIZE);
}

static void test_type_and_catchers(void **state)
{
    (void)state;
    javm_hash chain = fill(0x42);
    javm_cap *t;
    assert_int_equal(javm_type_new(&chain, &t), JAVM_OK);
    javm_hash h = cap_h(t);
    assert_hash_hex(h, "73ef859848fda7aa7bdc08db16c86d4a85a3f1f779bcaf401be531672c0ffd05");
    javm_hash r = ref_type(&chain);
    assert_hash_equal(h, r);
    javm_cap_free(t);
    /* First and second yield catcher types, from their preimages. */
    for (uint64_t n = 0; n < 2; n++) {
        bb b = { 0 };
        bb_raw(&b, "javm:yield-catcher", 18);
        bb_u64(&b, n);
        javm_hash ch = bb_hash(&b);
        bb_free(&b);
        if (n == 0)
            assert_hash_hex(ch, "90bb7b364e6f8a9f4db0d57d2cc62ed334912c26fb9528e96a4718a45ef031bb");
        assert_int_equal(javm_type_new(&ch, &t), JAVM_OK);
        h = cap_h(t);
        assert_hash_hex(h, n == 0 ? "0050be316bdec96228348e1051aa70d66e6fc56c12bc897dcc997c53ee74bfc2"
                                  : "2c8aecf7716d52874cbc347d9a85f00464c063ac25a214ace22bb763d3e0c304");
        javm_cap_free(t);
    }
}

static void img1_body(bb *b, bool endpoint)
{
    bb_u32(b, 2);
    bb_u8(b, 0x0a);
    bb_u8(b, 0x00);
    bb_u32(b, 1);
    bb_u8(b, 0x01);
    bb_u32(b, 0); /* jump table */
    bb_u32(b, endpoint ? 1 : 0);
    if (endpoint) {
        for (int i = 0; i < 2; i++)
            bb_u64(b, 0);
        bb_u32(b, 0);
        bb_u8(b, 0);
        for (int i = 0; i < 13; i++)
            bb_u64(b, 0);
    }
}

static void test_image_anchors(void **state)
{
    (void)state;
    javm_cap *i1 = img1(), *i2 = img2();
    uint8_t *enc;
    size_t len;
    assert_int_equal(javm_cap_encode(i1, &enc, &len), JAVM_OK);
    char hex[65] = { 0 };
    assert_int_equal(len, 32);
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", enc[i]);
    assert_string_equal(hex, "020000000a000100000001000000000000000000000000000000000000000000");
    javm_free(enc);
    assert_int_equal(javm_cap_encode(i2, &enc, &len), JAVM_OK);
    assert_int_equal(len, 157);
    javm_free(enc);

    javm_hash h1 = cap_h(i1), h2 = cap_h(i2);
    assert_hash_hex(h1, "d494df000b04de5de60e79ce174c72e8728391c44b523e5d9c50ed6e7d18c12d");
    assert_hash_hex(h2, "8aad376327f4885542f7829b74e33bec15a45bdacc8e73ce395b413bf16942ff");
    bb b = { 0 };
    img1_body(&b, false);
    bb_u32(&b, 0); bb_u32(&b, 0); bb_u32(&b, 0); bb_u8(&b, 0);
    javm_hash r = ref_image_of_body(&b);
    assert_hash_equal(h1, r);
    bb_free(&b);

    javm_hash one = fill(0x01), ch;
    javm_chain_extend(&one, &h1, &ch);
    assert_hash_hex(ch, "c74ad395b2bddc8977ac2d55592286459c320bcf663d9d37eac9f06bca0e4efa");
    javm_chain_extend(&one, &h2, &ch);
    assert_hash_hex(ch, "af6a6d9cb089ec203837513d12bfa1b2bfe840665c37c4873ba5e8347420c793");

    javm_cap *i3 = img3();
    javm_hash h3 = cap_h(i3);
    assert_hash_hex(h3, "c7824f6ae8bce86a43b1123600b2c7f7cbf572f70a0cbd88535c3a76f2f4adb0");
    javm_cap_free(i1);
    javm_cap_free(i2);
    javm_cap_free(i3);
}

/* An Image with two endpoints, a read-only and a writable mapping, pinned and initial lists
 * and a yield marker, against a hand-built body. */
static void test_image_reference(void **state)
{
    (void)state;
    static const uint8_t code[10] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
    static const uint8_t bm[2] = { 0xff, 0x03 };
    static const uint32_t jt[2] = { 0, 5 };
    javm_cap *im;
    assert_int_equal(javm_image_new(code, 10, bm, 2, &im), JAVM_OK);
    assert_int_equal(javm_image_set_jump_table(im, jt, 2), JAVM_OK);
    javm_endpoint ep[2];
    memset(ep, 0, sizeof ep);
    ep[0].entry_pc = 3;
    ep[0].stack_top = 0x10000;
    ep[0].arg_cnode_slot = 4;
    ep[0].arg_cnode_size = 16;
    for (int i = 0; i < 13; i++)
        ep[0].initial_regs[i] = 1000u + (uint64_t)i;
    ep[1].entry_pc = 0xffffffffu;
    ep[1].initial_regs[12] = UINT64_MAX;
    assert_int_equal(javm_image_add_endpoint(im, &ep[0]), JAVM_OK);
    assert_int_equal(javm_image_add_endpoint(im, &ep[1]), JAVM_OK);
    javm_mapping m[2];
    memset(m, 0, sizeof m);
    m[0].start = 0x1000; m[0].size = 10; m[0].flags = 0; m[0].path_len = 0;
    m[1].start = 0x3000; m[1].size = 0x5000; m[1].flags = 1; m[1].path_len = 3;
    m[1].path[0] = 1; m[1].path[1] = 2; m[1].path[2] = 300;
    assert_int_equal(javm_image_add_mapping(im, &m[0]), JAVM_OK);
    assert_int_equal(javm_image_add_mapping(im, &m[1]), JAVM_OK);
    javm_hash p0 = fill(0xa0), p1 = fill(0xa1), i0 = fill(0xb0);
    assert_int_equal(javm_image_add_pinned(im, 2, &p0), JAVM_OK);
    assert_int_equal(javm_image_add_pinned(im, 9, &p1), JAVM_OK);
    assert_int_equal(javm_image_add_initial(im, 3, &i0), JAVM_OK);
    im->image.has_yield_marker = true;
    im->image.yield_marker_slot = 65535;
    assert_int_equal(javm_cap_check(im), JAVM_OK);

    bb b = { 0 };
    bb_u32(&b, 10); bb_raw(&b, code, 10);
    bb_u32(&b, 2); bb_raw(&b, bm, 2);
    bb_u32(&b, 2); bb_u32(&b, 0); bb_u32(&b, 5);
    bb_u32(&b, 2);
    for (int e = 0; e < 2; e++) {
        bb_u64(&b, ep[e].entry_pc); bb_u64(&b, ep[e].stack_top);
        bb_u32(&b, ep[e].arg_cnode_slot); bb_u8(&b, ep[e].arg_cnode_size);
        for (int i = 0; i < 13; i++)
            bb_u64(&b, ep[e].initial_regs[i]);
    }
    bb_u32(&b, 2);
    bb_u64(&b, 0x1000); bb_u64(&b, 10); bb_u8(&b, 0); bb_u8(&b, 0);
    bb_u64(&b, 0x3000); bb_u64(&b, 0x5000); bb_u8(&b, 1); bb_u8(&b, 3);
    bb_u32(&b, 1); bb_u32(&b, 2); bb_u32(&b, 300);
    bb_u32(&b, 2); bb_u32(&b, 2); bb_h(&b, &p0); bb_u32(&b, 9); bb_h(&b, &p1);
    bb_u32(&b, 1); bb_u32(&b, 3); bb_h(&b, &i0);
    bb_u8(&b, 1); bb_u32(&b, 65535);
    javm_hash want = ref_image_of_body(&b);
    javm_hash got = cap_h(im);
    assert_hash_equal(got, want);
    uint8_t *enc;
    size_t len;
    assert_int_equal(javm_cap_encode(im, &enc, &len), JAVM_OK);
    assert_int_equal(len, b.n);
    assert_memory_equal(enc, b.p, len);
    javm_free(enc);
    bb_free(&b);
    javm_cap_free(im);
}

static void test_instance_anchors(void **state)
{
    (void)state;
    javm_cap *i1 = img1(), *i2 = img2(), *c4, *c8, *inst;
    assert_int_equal(javm_cnode_new(4, &c4), JAVM_OK);
    assert_int_equal(javm_cnode_new(8, &c8), JAVM_OK);
    javm_hash h1 = cap_h(i1), h2 = cap_h(i2), r4 = cap_h(c4), r8 = cap_h(c8);
    javm_hash chain = fill(0x42);
    javm_key root = javm_key_of_hash(&r4);
    assert_int_equal(javm_instance_new(&chain, &h1, &root, &inst), JAVM_OK);
    javm_hash h = cap_h(inst);
    assert_hash_hex(h, "e104e014d334390565d6d78845dc14fe3d29022d75551bcbba716fa626302f0d");
    javm_hash r = ref_instance(&chain, &h1, &r4, NULL, NULL, 0, NULL, 0, 0, 0);
    assert_hash_equal(h, r);
    javm_cap_free(inst);

    /* spawn(IMG2, 8) built by hand: chain = image hash (genesis). */
    root = javm_key_of_hash(&r8);
    assert_int_equal(javm_instance_new(&h2, &h2, &root, &inst), JAVM_OK);
    h = cap_h(inst);
    assert_hash_hex(h, "7b056bd563af2252b45a22931f5926a97d127dbbcfa46b3ed2fee80a57e10ec9");
    javm_cap_free(inst);

    /* derive_spawn result of §10.2 test 12: chain H(01x32 ‖ IMG2), root empty size_log 4. */
    javm_hash one = fill(1), ch;
    javm_chain_extend(&one, &h2, &ch);
    root = javm_key_of_hash(&r4);
    assert_int_equal(javm_instance_new(&ch, &h2, &root, &inst), JAVM_OK);
    h = cap_h(inst);
    assert_hash_hex(h, "ab3f1eebfc2433cb9887d3c4d0554620b69052faea736cc9af43fc2edaa87fd9");
    javm_cap_free(inst);

    /* spawn(IMG3, 8) by hand: root with slot 1 = "hello", overlay (0x1000, "hello"). */
    javm_cap *i3 = img3(), *hello = data_str("hello"), *root3;
    javm_hash h3 = cap_h(i3), hh = cap_h(hello);
    assert_int_equal(javm_cnode_new(8, &root3), JAVM_OK);
    javm_key hk = javm_key_of_hash(&hh);
    assert_int_equal(javm_cnode_set_slot(root3, 1, &hk), JAVM_OK);
    javm_hash rh = cap_h(root3);
    assert_hash_hex(rh, "02069af9501916d2136966f2e1c77e95883aaf148298f394a990ca5893abc065");
    root = javm_key_of_hash(&rh);
    assert_int_equal(javm_instance_new(&h3, &h3, &root, &inst), JAVM_OK);
    assert_int_equal(javm_instance_add_overlay(inst, 0x1000, &hh), JAVM_OK);
    inst->instance.mem_size = 0x3000;
    h = cap_h(inst);
    assert_hash_hex(h, "17eaf1b77dab7a7331dd31bec219444961c6419f5b7aa829f88d3c845803b812");
    uint32_t st = 0x1000;
    r = ref_instance(&h3, &h3, &rh, &st, &hh, 1, NULL, 0, 0, 0x3000);
    assert_hash_equal(h, r);
    /* Registers, pc and gas are hashed. */
    uint64_t regs[13];
    for (int i = 0; i < 13; i++)
        regs[i] = inst->instance.regs[i] = (uint64_t)i * 0x0101010101010101ull;
    inst->instance.pc = 77;
    inst->instance.gas_remaining = 99;
    h = cap_h(inst);
    r = ref_instance(&h3, &h3, &rh, &st, &hh, 1, regs, 77, 99, 0x3000);
    assert_hash_equal(h, r);

    javm_cap_free(inst);
    javm_cap_free(i3);
    javm_cap_free(hello);
    javm_cap_free(root3);
    javm_cap_free(i1);
    javm_cap_free(i2);
    javm_cap_free(c4);
    javm_cap_free(c8);
}

static void test_unsettled(void **state)
{
    (void)state;
    javm_cap *c;
    javm_hash h;
    assert_int_equal(javm_cnode_new(2, &c), JAVM_OK);
    javm_key k = javm_key_of_ref(5);
    assert_int_equal(javm_cnode_set_slot(c, 3, &k), JAVM_OK);
    assert_int_equal(javm_cap_hash(c, &h), JAVM_ERR_UNSETTLED);
    uint8_t *enc;
    size_t len;
    assert_int_equal(javm_cap_encode(c, &enc, &len), JAVM_ERR_UNSETTLED);
    javm_cap_free(c);
    javm_hash z = fill(0);
    assert_int_equal(javm_instance_new(&z, &z, &k, &c), JAVM_OK);
    assert_int_equal(javm_cap_hash(c, &h), JAVM_ERR_UNSETTLED);
    assert_int_equal(javm_cap_encode(c, &enc, &len), JAVM_ERR_UNSETTLED);
    javm_cap_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blake2b_anchors),
        cmocka_unit_test(test_data_anchors),
        cmocka_unit_test(test_data_paged_reference),
        cmocka_unit_test(test_data_chunk_caches),
        cmocka_unit_test(test_cnode_reference),
        cmocka_unit_test(test_cnode_anchors),
        cmocka_unit_test(test_type_and_catchers),
        cmocka_unit_test(test_image_anchors),
        cmocka_unit_test(test_image_reference),
        cmocka_unit_test(test_instance_anchors),
        cmocka_unit_test(test_unsettled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
