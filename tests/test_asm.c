/* SPDX-License-Identifier: MIT
 * tests/test_asm.c — the assembler and disassembler (tools/lib/asm.h, disasm.h): byte-exact
 * round trips on every JAM PVM vector program, on hand-made non-canonical encodings and on a
 * JIMG image with every directive; every opcode with random operands; errors with line:col;
 * an assembled image run through spawn and invoke. */
#define _GNU_SOURCE
#include <dirent.h>
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
#include "exec/opcodes.h"
#include "vector.h"

/* Prints u, parses the text into a fresh unit and lays it out; returns the text (free()). */
static char *reprint(const asm_unit *u, asm_unit *back)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(asm_print(u, f), JAVM_OK);
    fclose(f);
    asm_err err;
    asm_unit_init(back);
    int rc = asm_parse(back, text, len, &err);
    if (rc)
        fail_msg("re-assembly failed at %u:%u: %s\n%s", err.line, err.col, err.msg, text);
    return text;
}

static void blob_round_trip(const uint8_t *blob, size_t n)
{
    asm_unit u, back;
    asm_err err;
    asm_unit_init(&u);
    int rc = disasm_blob(&u, blob, n, &err);
    if (rc)
        fail_msg("disasm: %s", err.msg);
    char *text = reprint(&u, &back);
    uint8_t *out = NULL;
    size_t on = 0;
    assert_int_equal(asm_write_blob(&back.prog, &out, &on, &err), JAVM_OK);
    if (on != n || memcmp(out, blob, n) != 0)
        fail_msg("round trip differs:\n%s", text);
    free(out);
    free(text);
    asm_unit_free(&u);
    asm_unit_free(&back);
}

static void test_vectors_round_trip(void **state)
{
    (void)state;
    const char *dir = JAVM_VECTORS_DIR;
    DIR *d = opendir(dir);
    assert_non_null(d); /* tests/vectors/ is part of the repository */
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        char path[1024], msg[256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        tv_vector v;
        assert_int_equal(tv_load(path, &v, msg, sizeof msg), JAVM_OK);
        blob_round_trip(v.program, v.program_len);
        tv_free(&v);
        count++;
    }
    closedir(d);
    assert_int_equal(count, 307);
    print_message("round trip: %d vector programs byte for byte\n", count);
}

/* Encodings no assembler would choose: padding after operands, register nibbles 13-15, a
 * 4-byte zero immediate, a ThreeReg destination byte above 12, an undefined opcode, a code
 * start with k[0] = 0, load_imm_64 cut by the end of the code, and a jump table of width 3. */
static void test_noncanonical_round_trip(void **state)
{
    (void)state;
    static const uint8_t blobs[][40] = {
        /* |j|=0 z=0 L=4: add_imm_64 r7, r8, 0 with 2 padding bytes; k = 1 */
        { 0, 0, 4, 149, 0x87, 0, 0, 0x01 },
        /* move_reg with nibbles 15 and 13, then trap: L=3, k = 0b101 */
        { 0, 0, 3, 100, 0xDF, 0, 0x05 },
        /* load_imm r1, 0 as four zero bytes; L=6 */
        { 0, 0, 6, 51, 1, 0, 0, 0, 0, 0x01 },
        /* add_64 with destination byte 0x20; L=3 */
        { 0, 0, 3, 200, 0x21, 0x20, 0x01 },
        /* undefined opcode 255 then fallthrough; L=3, k = 0b101 */
        { 0, 0, 3, 255, 7, 1, 0x05 },
        /* k[0] = 0: a raw byte, then trap; L=2, k = 0b10 */
        { 0, 0, 2, 9, 0, 0x02 },
        /* load_imm_64 r3 with 4 of its 8 bytes; L=6 */
        { 0, 0, 6, 20, 3, 1, 2, 3, 4, 0x01 },
        /* jump table of width 3 with two entries (0 and 2): jump .+2 ; trap ; L=3 */
        { 2, 3, 3, 0, 0, 0, 2, 0, 0, 40, 2, 0, 0x05 },
        /* branch with a 4-byte offset to itself: branch_eq r1, r2, +0 ; L=6 */
        { 0, 0, 6, 170, 0x21, 0, 0, 0, 0, 0x01 },
    };
    static const size_t lens[] = { 8, 7, 10, 7, 7, 6, 10, 13, 10 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        blob_round_trip(blobs[i], lens[i]);
}

/* Every opcode with random operands: assemble, check the decode, disassemble, round trip. */
static void test_every_opcode(void **state)
{
    (void)state;
    uint64_t seed = 0x9E3779B97F4A7C15u;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int n = 0;
    fputs("start:\n", f);
    for (int rep = 0; rep < 8; rep++)
        for (int op = 0; op < 256; op++) {
            exec_class c = exec_op_class((uint8_t)op);
            if (c == EXEC_CLS_NONE)
                continue;
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            unsigned r1 = (seed >> 33) % 13, r2 = (seed >> 40) % 13, r3 = (seed >> 50) % 13;
            long long x = (long long)(int32_t)(seed >> 20) >> ((seed >> 8) % 32);
            long long y = (long long)(int32_t)(seed >> 3) >> ((seed >> 14) % 32);
            const char *nm = exec_op_name((uint8_t)op);
            switch (c) {
            case EXEC_CLS_NOARGS: fprintf(f, "  %s\n", nm); break;
            case EXEC_CLS_ONEIMM: fprintf(f, "  %s %lld\n", nm, x); break;
            case EXEC_CLS_ONEREG_EXTIMM: fprintf(f, "  %s r%u, 0x%llx\n", nm, r1, (unsigned long long)seed); break;
            case EXEC_CLS_TWOIMM: fprintf(f, "  %s %lld, %lld\n", nm, x, y); break;
            case EXEC_CLS_ONEOFF: fprintf(f, "  %s start\n", nm); break;
            case EXEC_CLS_ONEREG_ONEIMM: fprintf(f, "  %s r%u, %lld\n", nm, r1, x); break;
            case EXEC_CLS_ONEREG_TWOIMM: fprintf(f, "  %s r%u, %lld, %lld\n", nm, r1, x, y); break;
            case EXEC_CLS_ONEREG_IMM_OFF: fprintf(f, "  %s r%u, %lld, start\n", nm, r1, x); break;
            case EXEC_CLS_TWOREG: fprintf(f, "  %s r%u, r%u\n", nm, r1, r2); break;
            case EXEC_CLS_TWOREG_ONEIMM: fprintf(f, "  %s r%u, r%u, %lld\n", nm, r1, r2, x); break;
            case EXEC_CLS_TWOREG_ONEOFF: fprintf(f, "  %s r%u, r%u, start\n", nm, r1, r2); break;
            case EXEC_CLS_TWOREG_TWOIMM: fprintf(f, "  %s r%u, r%u, %lld, %lld\n", nm, r1, r2, x, y); break;
            case EXEC_CLS_THREEREG: fprintf(f, "  %s r%u, r%u, r%u\n", nm, r1, r2, r3); break;
            default: break;
            }
            n++;
        }
    fclose(f);
    asm_unit u, back;
    asm_err err;
    asm_unit_init(&u);
    if (asm_parse(&u, text, len, &err))
        fail_msg("%u:%u: %s", err.line, err.col, err.msg);
    assert_int_equal((int)u.prog.n, n);
    assert_int_equal(n, 141 * 8);
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t n1, n2;
    assert_int_equal(asm_write_blob(&u.prog, &b1, &n1, &err), JAVM_OK);
    blob_round_trip(b1, n1);
    /* the text printed from the parsed unit parses to the same bytes */
    char *t2 = reprint(&u, &back);
    assert_int_equal(asm_write_blob(&back.prog, &b2, &n2, &err), JAVM_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
    free(t2);
    free(text);
    asm_unit_free(&u);
    asm_unit_free(&back);
}

static const char image_src[] =
    "; every image directive\n"
    ".rodata 0x10000\n"
    "msg: .ascii \"hi\\n\"\n"
    "     .u64 &back, msg+1, 0x1234\n"
    "     .u16 7\n"
    ".rwdata 0x20000, 0x2000\n"
    "count: .u32 0\n"
    ".bss 0x30000, 0x1000\n"
    ".cap blob data\n"
    "  .hex 00ff\n"
    "  .zero 3\n"
    "  .byte 1, 2\n"
    ".endcap\n"
    ".pinned 9 blob\n"
    ".mapping 0x40000, 0x100, ro, 9\n"
    ".yield_marker 7\n"
    ".jumptable entry\n"
    ".endpoint entry\n"
    ".stack 0x31000\n"
    ".reg a1, 5\n"
    ".arg_cnode 3, 2\n"
    ".endpoint second\n"
    ".text\n"
    "entry:\n"
    "    load_u32 a0, count\n"
    "    add_64 a0, a0, a1\n"
    "    store_u32 a0, count\n"
    "    load_imm_jump ra, &back, sub\n"
    "back:\n"
    "    ecalli 0\n"
    "sub:\n"
    "    load_u8 a2, msg+1\n"
    "    add_64 a0, a0, a2\n"
    "    jump_ind ra, 0\n"
    "second:\n"
    "    load_imm a0, 42\n"
    "    ecalli 0\n";

static void test_jimg_round_trip_and_run(void **state)
{
    (void)state;
    asm_unit u, v, back;
    asm_err err;
    uint8_t *f1 = NULL, *f2 = NULL;
    size_t n1, n2;
    asm_unit_init(&u);
    asm_unit_init(&v);
    if (asm_parse(&u, image_src, sizeof image_src - 1, &err))
        fail_msg("%u:%u: %s", err.line, err.col, err.msg);
    assert_int_equal(asm_write_jimg(&u, &f1, &n1, &err), JAVM_OK);
    assert_int_equal(disasm_jimg(&v, f1, n1, &err), JAVM_OK);
    char *text = reprint(&v, &back);
    assert_int_equal(asm_write_jimg(&back, &f2, &n2, &err), JAVM_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);

    /* spawn and invoke twice: state persists (count), the read-only string is mapped */
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
    javm_vm *vm;
    javm_hash img, inst, inst2;
    javm_decode_err de;
    assert_int_equal(javm_store_mem_new(&store), JAVM_OK);
    assert_int_equal(javm_cache_open(store, &cache), JAVM_OK);
    assert_int_equal(javm_ka_mem_new(&ka), JAVM_OK);
    assert_int_equal(javm_vm_new(&vm, 0), JAVM_OK);
    assert_int_equal(javm_image_load(cache, f1, n1, &img, &de), JAVM_OK);
    assert_int_equal(javm_spawn(cache, &img, 8, &inst), JAVM_OK);
    uint64_t args[4] = { 0, 10, 0, 0 };
    javm_call_result r;
    assert_int_equal(javm_invoke(vm, cache, ka, &inst, 0, args, 100000, NULL, NULL, &r), JAVM_OK);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    assert_int_equal(r.return_value, 10 + 'i');
    inst2 = r.post_instance;
    assert_int_equal(javm_invoke(vm, cache, ka, &inst2, 0, args, 100000, NULL, NULL, &r), JAVM_OK);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    assert_int_equal(r.return_value, 20 + 'i');
    assert_int_equal(javm_invoke(vm, cache, ka, &inst2, 1, args, 100000, NULL, NULL, &r), JAVM_OK);
    assert_int_equal(r.return_value, 42);
    javm_vm_free(vm);
    javm_ka_free(ka);
    javm_cache_close(cache);
    javm_store_close(store);
    javm_free(f1);
    javm_free(f2);
    free(text);
    asm_unit_free(&u);
    asm_unit_free(&v);
    asm_unit_free(&back);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        unsigned line, col;
        const char *msg;
    } cases[] = {
        { "  add_64 r1, r2\n", 1, 16, "expected ','" },
        { "\n  bogus r1\n", 2, 3, "unknown instruction" },
        { "  jump nowhere\n", 1, 8, "undefined label" },
        { "  load_imm r1, 0x123456789\n", 1, 3, "does not fit" },
        { "  move_reg r13, r1\n", 1, 12, "expected a register" },
        { "x:\nx:\n", 2, 1, "defined twice" },
        { ".rodata 0x10001\n", 1, 1, "page-aligned" },
        { ".stack 5\n", 1, 1, "no .endpoint" },
        { "  add_64 r1, r2, r3 !c9\n", 1, 3, "encoding override" },
        { "  add_64 r1, r2, r3 !c82101\n", 1, 3, "does not decode" },
        { "  trap\n  .raw 00\n", 1, 3, "does not decode as written" },
        { ".frob 1\n", 1, 1, "unknown directive" },
        { ".cap x data\n", 1, 0, "missing .endcap" },
        { ".initial 1 nope\n", 1, 12, "expected the name of a cap" },
        { "  trap extra\n", 1, 8, "unexpected text" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        asm_unit u;
        asm_err err;
        asm_unit_init(&u);
        int rc = asm_parse(&u, cases[i].src, strlen(cases[i].src), &err);
        if (rc == JAVM_OK || err.line != cases[i].line || (cases[i].col && err.col != cases[i].col)
            || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d at %u:%u: %s", i, rc, err.line, err.col, err.msg);
        asm_unit_free(&u);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_round_trip),
        cmocka_unit_test(test_noncanonical_round_trip),
        cmocka_unit_test(test_every_opcode),
        cmocka_unit_test(test_jimg_round_trip_and_run),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
