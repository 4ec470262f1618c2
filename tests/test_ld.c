/* SPDX-License-Identifier: MIT
 * tests/test_ld.c — the guest linker on bad input (tools/lib/rvld.h): not an ELF, another
 * machine, 32-bit, truncated at every length, an unsupported, compressed, floating-point or
 * x16-using instruction, a missing endpoint, and random corruption; each must fail with a
 * clear message and never read out of bounds (run under ASan). Needs clang-19 (else 77). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "guestbuild.h"
#include "rvld.h"

typedef struct elf_fixture {
    uint8_t *elf;
    size_t len;
} elf_fixture;

static int setup(void **state)
{
    static const char *const src[] = { "guest/examples/counter.c" };
    elf_fixture *f = calloc(1, sizeof *f);
    uint8_t *img;
    size_t n;
    char msg[1024];
    if (!f || gb_build(src, 1, "", &img, &n, &f->elf, &f->len, msg, sizeof msg)) {
        fprintf(stderr, "build: %s\n", msg);
        free(f);
        return -1;
    }
    javm_free(img);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    elf_fixture *f = *state;
    free(f->elf);
    free(f);
    return 0;
}

/* Links and expects failure with msg containing want. */
static void expect_fail(const uint8_t *b, size_t n, const char *want)
{
    asm_unit u;
    char msg[512] = "";
    asm_unit_init(&u);
    int rc = rvld_link(b, n, NULL, &u, msg, sizeof msg);
    asm_unit_free(&u);
    if (rc == JAVM_OK)
        fail_msg("linked although %s was expected", want);
    if (want && !strstr(msg, want))
        fail_msg("message '%s' lacks '%s'", msg, want);
}

static void test_ok(void **state)
{
    elf_fixture *f = *state;
    asm_unit u;
    char msg[512];
    asm_unit_init(&u);
    assert_int_equal(rvld_link(f->elf, f->len, NULL, &u, msg, sizeof msg), JAVM_OK);
    assert_int_equal(u.neps, 2);
    asm_unit_free(&u);
}

static void test_not_elf(void **state)
{
    (void)state;
    expect_fail((const uint8_t *)"hello", 5, "not an ELF");
    expect_fail((const uint8_t *)"", 0, "not an ELF");
}

static void test_other_machine(void **state)
{
    elf_fixture *f = *state;
    uint8_t *b = malloc(f->len);
    memcpy(b, f->elf, f->len);
    b[18] = 62; /* EM_X86_64 */
    expect_fail(b, f->len, "not a RISC-V ELF");
    memcpy(b, f->elf, f->len);
    b[4] = 1; /* ELFCLASS32 */
    expect_fail(b, f->len, "32-bit ELF");
    memcpy(b, f->elf, f->len);
    b[16] = 3; /* ET_DYN */
    expect_fail(b, f->len, "-pie");
    free(b);
}

static void test_truncated(void **state)
{
    elf_fixture *f = *state;
    for (size_t n = 0; n < f->len; n += n < 128 ? 1 : 61) {
        uint8_t *b = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
        memcpy(b, f->elf, n);
        expect_fail(b, n, NULL);
        free(b);
    }
}

/* Replaces the first `ret` (jalr x0, 0(ra)) of the code with w. */
static void patch_ret(const elf_fixture *f, uint32_t w, const char *want)
{
    uint8_t *b = malloc(f->len);
    memcpy(b, f->elf, f->len);
    size_t i = 0x1000; /* .text starts on the first page after the headers */
    while (i + 4 <= f->len && !(b[i] == 0x67 && b[i + 1] == 0x80 && b[i + 2] == 0 && b[i + 3] == 0))
        i += 4;
    assert_true(i + 4 <= f->len);
    memcpy(b + i, &w, 4);
    expect_fail(b, f->len, want);
    free(b);
}

static void test_bad_instructions(void **state)
{
    elf_fixture *f = *state;
    patch_ret(f, 0x00b5252f, "atomic");           /* amoadd.w-style word, opcode 0x2f */
    patch_ret(f, 0x00100813, "uses x16");         /* addi x16, x0, 1 */
    patch_ret(f, 0x00018193, "uses x3");          /* addi x3, x3, 0 */
    patch_ret(f, 0x00014501, "compressed");       /* c.li a0, 0 */
    patch_ret(f, 0x02b57553, "floating point");   /* fadd.d */
    patch_ret(f, 0x30002573, "CSR");              /* csrr a0, mstatus */
    patch_ret(f, 0x0005c067, "jalr");             /* jalr with funct3 4 */
}

static void test_missing_endpoint(void **state)
{
    (void)state;
    static const char *const src[] = { "guest/examples/lib/kernels.c" };
    uint8_t *img = NULL, *elf = NULL;
    size_t n, en;
    char msg[1024];
    assert_int_not_equal(gb_build(src, 1, "", &img, &n, &elf, &en, msg, sizeof msg), JAVM_OK);
    assert_non_null(strstr(msg, "missing endpoint"));
}

static void test_random_corruption(void **state)
{
    elf_fixture *f = *state;
    uint64_t s = 0xC0FFEE;
    uint8_t *b = malloc(f->len);
    for (int round = 0; round < 3000; round++) {
        memcpy(b, f->elf, f->len);
        int flips = 1 + round % 8;
        for (int i = 0; i < flips; i++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            size_t at = (s >> 20) % (round % 2 ? 64 + 64 * 16 : f->len); /* headers often */
            if (round % 2 && at >= 64)
                at = (f->len - 64 * 16) + (at - 64) % (64 * 16); /* section table at the end */
            b[at % f->len] ^= (uint8_t)(s >> 56 | 1);
        }
        asm_unit u;
        char msg[512];
        asm_unit_init(&u);
        (void)rvld_link(b, f->len, NULL, &u, msg, sizeof msg); /* any answer, but no crash */
        asm_unit_free(&u);
    }
    free(b);
}

/* A stack size near 2^64 wrapped data_end + stack around to below 4 GiB and was accepted. */
static void test_stack_wraps(void **state)
{
    elf_fixture *f = *state;
    static const uint64_t sizes[] = { UINT64_C(0xFFFFFFFFFFFFF000), UINT64_C(0xFFFFFFFF00000000),
                                      UINT64_C(1) << 32 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        rvld_opts o = { sizes[i] };
        asm_unit u;
        char msg[512] = "";
        asm_unit_init(&u);
        int rc = rvld_link(f->elf, f->len, &o, &u, msg, sizeof msg);
        asm_unit_free(&u);
        if (rc == JAVM_OK)
            fail_msg("stack of 0x%llx bytes linked", (unsigned long long)sizes[i]);
        assert_non_null(strstr(msg, "the stack"));
    }
}

/* A copy of the fixture whose NOBITS sections (.bss) are size bytes long. */
static uint8_t *with_bss(const elf_fixture *f, uint64_t size)
{
    uint8_t *b = malloc(f->len);
    assert_non_null(b);
    memcpy(b, f->elf, f->len);
    uint64_t shoff;
    uint16_t shentsize, shnum;
    memcpy(&shoff, b + 0x28, 8);
    memcpy(&shentsize, b + 0x3A, 2);
    memcpy(&shnum, b + 0x3C, 2);
    int n = 0;
    for (uint16_t i = 0; i < shnum; i++) {
        uint8_t *sh = b + shoff + (size_t)i * shentsize;
        uint32_t type;
        memcpy(&type, sh + 4, 4);
        if (type == 8) {
            memcpy(sh + 32, &size, 8);
            n++;
        }
    }
    assert_int_equal(n, 1);
    return b;
}

/* .bss is a mapping beyond the Data, never a zero-filled buffer (a 0x80001028-byte .bss was
 * backed by a 2 GiB calloc); what one image may declare is capped with a clear error. */
static void test_bss_not_allocated(void **state)
{
    elf_fixture *f = *state;
    uint8_t *b = with_bss(f, 64u << 20);
    asm_unit u;
    char msg[512] = "";
    asm_unit_init(&u);
    assert_int_equal(rvld_link(b, f->len, NULL, &u, msg, sizeof msg), JAVM_OK);
    size_t bytes = 0;
    for (size_t i = 0; i < u.ncaps; i++)
        bytes += u.caps[i].len;
    uint64_t mapped = 0;
    for (size_t i = 0; i < u.nmaps; i++)
        mapped += u.maps[i].size;
    assert_true(bytes < 4096);
    assert_true(mapped >= (64u << 20));
    asm_unit_free(&u);
    free(b);
    b = with_bss(f, 0x80001028u);
    expect_fail(b, f->len, "at most 1073741824");
    free(b);
}

int main(void)
{
    if (!gb_have_clang()) {
        printf("skipped: clang-19 not installed (scripts/deps.sh guest)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),           cmocka_unit_test(test_not_elf),
        cmocka_unit_test(test_other_machine), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_instructions), cmocka_unit_test(test_missing_endpoint),
        cmocka_unit_test(test_random_corruption), cmocka_unit_test(test_stack_wraps),
        cmocka_unit_test(test_bss_not_allocated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
