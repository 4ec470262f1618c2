/* SPDX-License-Identifier: MIT
 * tests/test_guest.c — C guests end to end: every example of guest/examples built with
 * clang-19, linked by rvld and run through spawn and invoke with checked results, and the
 * differential test: the same kernels (blake2b, sort, a 64-bit arithmetic mix, a switch-heavy
 * loop) compiled natively and as a guest agree on 1,000 random inputs each. Exits 77 when
 * clang-19 is not installed. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "asm.h"
#include "disasm.h"
#include "guestbuild.h"

/* The native halves of the differential test: the very same sources. */
#include "../guest/examples/lib/blake2b.c"
#include "../guest/examples/lib/kernels.c"

#define GAS 10000000000ull
#define EX "guest/examples/"

/* Extra compiler flags of the current build (the differential test also runs without Zbb). */
typedef struct build_cfg {
    const char *cflags;
} build_cfg;

static void build_with(const char *extra, const char *const *srcs, size_t n, uint8_t **img, size_t *len)
{
    char msg[1024], root[1024], fl[1200];
    snprintf(fl, sizeof fl, "-I%s/guest/examples %s", gb_root(root, sizeof root), extra ? extra : "");
    int rc = gb_build(srcs, n, fl, img, len, NULL, NULL, msg, sizeof msg);
    if (rc)
        fail_msg("build failed: %s", msg);
}

static void open_guest_with(gb_guest *g, const char *extra, const char *const *srcs, size_t n)
{
    uint8_t *img;
    size_t len;
    build_with(extra, srcs, n, &img, &len);
    /* every example image also round trips through the disassembler byte for byte */
    asm_unit u, back;
    asm_err err;
    asm_unit_init(&u);
    asm_unit_init(&back);
    assert_int_equal(disasm_jimg(&u, img, len, &err), JAVM_OK);
    char *text = NULL;
    size_t tl = 0;
    FILE *f = open_memstream(&text, &tl);
    assert_int_equal(asm_print(&u, f), JAVM_OK);
    fclose(f);
    if (asm_parse(&back, text, tl, &err))
        fail_msg("%u:%u: %s", err.line, err.col, err.msg);
    uint8_t *img2;
    size_t len2;
    assert_int_equal(asm_write_jimg(&back, &img2, &len2, &err), JAVM_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(img, img2, len);
    javm_free(img2);
    free(text);
    asm_unit_free(&u);
    asm_unit_free(&back);
    assert_int_equal(gb_open(g, img, len), JAVM_OK);
    javm_free(img);
}

static void open_guest(gb_guest *g, const char *const *srcs, size_t n) { open_guest_with(g, NULL, srcs, n); }

static uint64_t call(gb_guest *g, uint32_t ep, uint64_t a0, uint64_t a1, const javm_hash *in,
                     javm_call_result *r)
{
    javm_call_result tmp;
    if (!r)
        r = &tmp;
    assert_int_equal(gb_invoke(g, ep, a0, a1, in, GAS, r), JAVM_OK);
    if (r->kind != JAVM_RES_HALT)
        fail_msg("endpoint %u faulted: exit %d at 0x%x, trap %s", ep, r->fault_reason, r->fault_addr,
                 javm_trap_name(r->trap));
    return r->return_value;
}

static void test_counter(void **state)
{
    (void)state;
    const char *src[] = { EX "counter.c" };
    gb_guest g;
    open_guest(&g, src, 1);
    assert_int_equal(call(&g, 0, 5, 0, NULL, NULL), 1005);
    assert_int_equal(call(&g, 0, 10, 0, NULL, NULL), 1015);
    assert_int_equal(call(&g, 0, 1, 0, NULL, NULL), 1016);
    assert_int_equal(call(&g, 1, 0, 0, NULL, NULL), 3);
    gb_close(&g);
}

static void test_fib(void **state)
{
    (void)state;
    const char *src[] = { EX "fib.c" };
    gb_guest g;
    open_guest(&g, src, 1);
    assert_int_equal(call(&g, 0, 20, 0, NULL, NULL), 6765);
    assert_int_equal(call(&g, 1, 90, 0, NULL, NULL), 2880067194370816120ull);
    assert_int_equal(call(&g, 0, 1, 0, NULL, NULL), 1);
    gb_close(&g);
}

static void test_notes(void **state)
{
    (void)state;
    const char *src[] = { EX "notes.c" };
    gb_guest g;
    javm_hash in;
    javm_call_result r;
    open_guest(&g, src, 1);
    static const char text[] = "buy milk";
    assert_int_equal(gb_put_data(&g, text, strlen(text), &in), JAVM_OK);
    uint64_t id = call(&g, 0, 0, 0, &in, NULL);
    assert_int_equal(gb_put_data(&g, "call bob", 8, &in), JAVM_OK);
    uint64_t id2 = call(&g, 0, 0, 0, &in, NULL);
    assert_true(id2 != id);
    assert_int_equal(call(&g, 2, 0, 0, NULL, NULL), 2);
    uint64_t n = call(&g, 1, id, 0, NULL, &r);
    assert_int_equal(n, strlen("note 1: buy milk"));
    assert_true(r.has_slot0);
    const javm_cap *c = javm_cache_get_hash(g.cache, &r.slot0);
    assert_non_null(c);
    char back[64] = { 0 };
    assert_int_equal(javm_data_read(c, 0, (uint8_t *)back, n), JAVM_OK);
    assert_string_equal(back, "note 1: buy milk");
    gb_close(&g);
}

static void test_blake2b(void **state)
{
    (void)state;
    const char *src[] = { EX "blake2b.c", EX "lib/blake2b.c" };
    gb_guest g;
    javm_hash in;
    javm_call_result r;
    open_guest(&g, src, 2);
    size_t n = 100000;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(i * 7 + (i >> 8));
    assert_int_equal(gb_put_data(&g, buf, n, &in), JAVM_OK);
    call(&g, 0, 0, 0, &in, &r);
    assert_true(r.has_slot0);
    uint8_t got[32];
    javm_hash want;
    assert_int_equal(javm_data_read(javm_cache_get_hash(g.cache, &r.slot0), 0, got, 32), JAVM_OK);
    javm_blake2b(buf, n, &want); /* libsodium's BLAKE2b-256, an independent implementation */
    assert_memory_equal(got, want.b, 32);
    free(buf);
    gb_close(&g);
}

static void test_sort(void **state)
{
    (void)state;
    const char *src[] = { EX "sort.c", EX "lib/kernels.c" };
    gb_guest g;
    open_guest(&g, src, 2);
    static uint32_t a[100000];
    g_fill(a, 100000, 42);
    g_sort(a, 100000);
    uint64_t want = g_sorted_sum(a, 100000);
    assert_true(want != ~(uint64_t)0);
    assert_int_equal(call(&g, 0, 100000, 42, NULL, NULL), want);
    gb_close(&g);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Interesting 64-bit values more often than uniform ones: edges of division and shifts. */
static uint64_t pick(uint64_t *s)
{
    static const uint64_t edge[] = { 0, 1, 2, 63, 64, ~0ull, 0x8000000000000000ull, 0x7FFFFFFFFFFFFFFFull,
                                     0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0xFFFFFFFF80000000ull };
    uint64_t r = rnd(s);
    switch (r % 4) {
    case 0: return edge[(r >> 8) % (sizeof edge / sizeof edge[0])];
    case 1: return rnd(s) >> (r >> 8) % 64;
    default: return rnd(s);
    }
}

static void test_differential(void **state)
{
    const build_cfg *cfg = *state;
    const char *src[] = { EX "diff.c", EX "lib/kernels.c", EX "lib/blake2b.c" };
    gb_guest g;
    open_guest_with(&g, cfg ? cfg->cflags : NULL, src, 3);
    uint64_t s = 0x1234567887654321ull;
    int checked = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = pick(&s), b = pick(&s);
        assert_int_equal(call(&g, 0, a, b, NULL, NULL), g_mix(a, b));
        assert_int_equal(call(&g, 1, a, b, NULL, NULL), g_switchy(a, b));
        checked += 2;
    }
    static uint8_t buf[2048];
    static uint32_t keys[1 << 14];
    for (int i = 0; i < 1000; i++) {
        size_t n = rnd(&s) % (i < 500 ? 300 : sizeof buf);
        for (size_t j = 0; j < n; j++)
            buf[j] = (uint8_t)rnd(&s);
        if (n)
            buf[n - 1] |= 1; /* a Data cap drops trailing zeros; keep the length exact */
        javm_hash in;
        uint8_t d[32];
        assert_int_equal(gb_put_data(&g, buf, n, &in), JAVM_OK);
        g_blake2b(d, 32, buf, n);
        uint64_t v = 0;
        for (int k = 7; k >= 0; k--)
            v = v << 8 | d[k];
        assert_int_equal(call(&g, 2, 0, 0, &in, NULL), v);
        uint64_t kn = rnd(&s) % 3000, seed = rnd(&s);
        g_fill(keys, kn, seed);
        g_sort(keys, kn);
        assert_int_equal(call(&g, 3, kn, seed, NULL, NULL), g_sorted_sum(keys, kn));
        checked += 2;
    }
    print_message("differential (%s): %d guest results equal the native ones\n",
                  cfg ? cfg->cflags : "default flags", checked);
    gb_close(&g);
}

int main(void)
{
    if (!gb_have_clang()) {
        printf("skipped: clang-19 not installed (scripts/deps.sh guest)\n");
        return 77;
    }
    build_cfg plain = { "-march=rv64em -mstrict-align" }; /* base ISA: no Zbb, byte loads */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter),  cmocka_unit_test(test_fib),  cmocka_unit_test(test_notes),
        cmocka_unit_test(test_blake2b),  cmocka_unit_test(test_sort), cmocka_unit_test(test_differential),
        cmocka_unit_test_prestate(test_differential, &plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
