/* SPDX-License-Identifier: MIT
 * tests/test_jit_x86.c — the JIT's x86-64 encoder (src/jit/x86.h) against an independent
 * decoder, capstone: every emitter, with all 16 registers in each operand position where the
 * form allows it, extreme immediates (0, 1, -1, 127, 128, -128, -129, INT32_MIN, INT32_MAX,
 * 2^32 - 1, 2^63, ...) and memory operands with every base and index (the rsp/r12 SIB and
 * rbp/r13 mod = 0 specials), every scale, 0 / 8-bit / 32-bit displacements and rip-relative.
 * Each emitted instruction must decode as exactly one instruction of the emitted length, with
 * the intended mnemonic and operands (capstone's operand details: register names, immediate
 * values, base / index / scale / displacement, access size).
 *
 * Capstone is a test-only dependency (Debian libcapstone-dev, scripts/deps.sh); without it
 * this test is skipped (77). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#ifdef HAVE_CAPSTONE

#include <capstone/capstone.h>

#include "jit/x86.h"

static csh cs;
static unsigned long checked, failures;

static const char *const r64[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                     "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
static const char *const r32[16] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                                     "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d" };
static const char *const r16[16] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
                                     "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w" };
static const char *const r8[16] = { "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
                                    "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b" };

static const char *rname(int r, unsigned size)
{
    return size == 8 ? r64[r] : size == 4 ? r32[r] : size == 2 ? r16[r] : r8[r];
}

static const char *const ccs[16] = { "o", "no", "b", "ae", "e", "ne", "be", "a",
                                     "s", "ns", "p", "np", "l", "ge", "le", "g" };

/* An expected operand: a register (name), an immediate (value, compared in size bytes), or
 * memory (x86_mem, access size). */
typedef struct xop {
    char kind; /* 'r', 'i', 'm' */
    const char *reg;
    int64_t imm;
    x86_mem m;
    unsigned size;
} xop;

static xop R(int r, unsigned size) { return (xop){ .kind = 'r', .reg = rname(r, size), .size = size }; }
static xop I(int64_t v, unsigned size) { return (xop){ .kind = 'i', .imm = v, .size = size }; }
static xop M(x86_mem m, unsigned size) { return (xop){ .kind = 'm', .m = m, .size = size }; }

#define BASE_ADDR 0x100000u

static void hexdump(char *out, size_t cap, const uint8_t *p, size_t n)
{
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%02x ", p[i]);
}

static bool mem_equal(const x86_op_mem *cm, x86_mem m)
{
    if (m.base == X86_RIP) {
        if (cm->base != X86_REG_RIP)
            return false;
    } else if (cm->base == X86_REG_INVALID || strcmp(cs_reg_name(cs, cm->base), r64[m.base]) != 0) {
        return false;
    }
    if (m.index < 0) {
        if (cm->index != X86_REG_INVALID)
            return false;
    } else {
        if (cm->index == X86_REG_INVALID || strcmp(cs_reg_name(cs, cm->index), r64[m.index]) != 0)
            return false;
        if (cm->scale != 1 << m.scale)
            return false;
    }
    return cm->disp == m.disp;
}

/* Decodes buf[0..n) and compares it with mnemonic mn and the operands; counts a failure
 * (printing the first few) on any difference. */
static void expect(const char *what, const uint8_t *buf, size_t n, const char *mn, int nops, const xop *ops)
{
    checked++;
    cs_insn *insn = NULL;
    size_t cnt = cs_disasm(cs, buf, n, BASE_ADDR, 1, &insn);
    char why[256] = "";
    if (cnt != 1) {
        snprintf(why, sizeof why, "does not decode");
    } else if (insn->size != n) {
        snprintf(why, sizeof why, "decodes %u of %zu bytes", insn->size, n);
    } else if (strcmp(insn->mnemonic, mn) != 0) {
        snprintf(why, sizeof why, "mnemonic %s, want %s", insn->mnemonic, mn);
    } else {
        const cs_x86 *x = &insn->detail->x86;
        if (x->op_count != nops)
            snprintf(why, sizeof why, "%u operands, want %d", x->op_count, nops);
        for (int k = 0; k < nops && !why[0]; k++) {
            const cs_x86_op *o = &x->operands[k];
            const xop *e = &ops[k];
            if (e->kind == 'r') {
                if (o->type != X86_OP_REG || strcmp(cs_reg_name(cs, o->reg), e->reg) != 0)
                    snprintf(why, sizeof why, "operand %d: want register %s", k, e->reg);
            } else if (e->kind == 'i') {
                uint64_t mask = e->size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * e->size)) - 1;
                if (o->type != X86_OP_IMM || (((uint64_t)o->imm ^ (uint64_t)e->imm) & mask) != 0)
                    snprintf(why, sizeof why, "operand %d: want immediate 0x%llx", k, (unsigned long long)e->imm);
            } else {
                if (o->type != X86_OP_MEM || !mem_equal(&o->mem, e->m) || o->size != e->size)
                    snprintf(why, sizeof why, "operand %d: want %u-byte [%s + %s*%d + %d], got %u-byte [%s + %s*%d + %lld]",
                             k, e->size, e->m.base == X86_RIP ? "rip" : r64[e->m.base],
                             e->m.index < 0 ? "-" : r64[e->m.index], 1 << e->m.scale, e->m.disp, o->size,
                             o->type == X86_OP_MEM && o->mem.base ? cs_reg_name(cs, o->mem.base) : "-",
                             o->type == X86_OP_MEM && o->mem.index ? cs_reg_name(cs, o->mem.index) : "-",
                             o->type == X86_OP_MEM ? o->mem.scale : 0, o->type == X86_OP_MEM ? (long long)o->mem.disp : 0);
            }
        }
    }
    if (why[0]) {
        failures++;
        if (failures <= 25) {
            char hex[128];
            hexdump(hex, sizeof hex, buf, n);
            printf("MISMATCH %s: [%s] -> %s %s: %s\n", what, hex, cnt == 1 ? insn->mnemonic : "?",
                   cnt == 1 ? insn->op_str : "", why);
        }
    }
    if (cnt)
        cs_free(insn, cnt);
}

/* Emits with the statement S into a fresh buffer `b`, then checks it. */
#define EMIT_CHECK(what, S, mn, ...)                                                      \
    do {                                                                                  \
        uint8_t mem_[64];                                                                 \
        x86_buf bb_ = { mem_, mem_ };                                                     \
        x86_buf *b = &bb_;                                                                \
        S;                                                                                \
        const xop ops_[] = { __VA_ARGS__ };                                               \
        expect(what, mem_, (size_t)(bb_.p - mem_), mn, (int)(sizeof ops_ / sizeof ops_[0]), ops_); \
    } while (0)
#define EMIT_CHECK0(what, S, mn)                                                          \
    do {                                                                                  \
        uint8_t mem_[64];                                                                 \
        x86_buf bb_ = { mem_, mem_ };                                                     \
        x86_buf *b = &bb_;                                                                \
        S;                                                                                \
        expect(what, mem_, (size_t)(bb_.p - mem_), mn, 0, NULL);                          \
    } while (0)

static const int64_t imm32s[] = { 0, 1, -1, 2, 127, 128, -128, -129, 255, 256, 0x7FFF, -0x8000,
                                  0x12345678, INT32_MAX, INT32_MIN, INT32_MIN + 1, INT32_MAX - 1 };
static const uint64_t imm64s[] = { 0, 1, 2, 127, 128, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                   UINT64_C(0x100000000), UINT64_C(0x7FFFFFFFFFFFFFFF), UINT64_C(0x8000000000000000),
                                   UINT64_C(0xFFFFFFFF80000000), UINT64_C(0xFFFFFFFF7FFFFFFF), UINT64_C(0xFFFFFFFFFFFFFF80),
                                   UINT64_MAX, UINT64_C(0x123456789ABCDEF0), (uint64_t)-129 };
static const int32_t disps[] = { 0, 1, -1, 8, 127, -128, 128, -129, 0x1000, -0x100000, INT32_MAX, INT32_MIN };

/* Memory operands: every base (and rip) without index, every base with every legal index
 * (not rsp) and scale, each displacement. *n receives the count. */
static x86_mem *all_mems(size_t *n)
{
    size_t cap = (16 * (1 + 15 * 4) + 1) * (sizeof disps / sizeof disps[0]);
    x86_mem *v = malloc(cap * sizeof *v);
    assert_non_null(v);
    size_t k = 0;
    for (size_t d = 0; d < sizeof disps / sizeof disps[0]; d++) {
        v[k++] = x86_m(X86_RIP, disps[d]);
        for (int base = 0; base < 16; base++) {
            v[k++] = x86_m(base, disps[d]);
            for (int index = 0; index < 16; index++) {
                if (index == RSP)
                    continue;
                for (unsigned sc = 0; sc < 4; sc++)
                    v[k++] = x86_mi(base, index, sc, disps[d]);
            }
        }
    }
    *n = k;
    return v;
}

/* A few memory operands with the specials, for loops over registers. */
static const x86_mem *few_mems(size_t *n)
{
    static x86_mem v[12];
    v[0] = x86_m(RSP, 0);
    v[1] = x86_m(R12, 8);
    v[2] = x86_m(RBP, 0);
    v[3] = x86_m(R13, -1);
    v[4] = x86_mi(R15, RAX, 0, -(int32_t)(1u << 20));
    v[5] = x86_mi(R15, R12, 3, 0);
    v[6] = x86_mi(R13, R13, 2, 0);
    v[7] = x86_mi(RSP, R9, 1, INT32_MAX);
    v[8] = x86_m(X86_RIP, -7);
    v[9] = x86_m(RAX, INT32_MIN);
    v[10] = x86_mi(RBP, RBP, 0, 128);
    v[11] = x86_m(R11, 127);
    *n = 12;
    return v;
}

static void finish(const char *name)
{
    printf("%s: %lu instructions checked, %lu mismatching\n", name, checked, failures);
    unsigned long bad = failures;
    checked = failures = 0;
    assert_int_equal(bad, 0);
}

/* ---- moves ------------------------------------------------------------------------------ */

static void test_moves(void **state)
{
    (void)state;
    for (int d = 0; d < 16; d++) {
        for (int s = 0; s < 16; s++) {
            EMIT_CHECK("mov_rr w", x86_mov_rr(b, 0, d, s), "mov", R(d, 4), R(s, 4));
            if (d != s)
                EMIT_CHECK("mov_rr", x86_mov_rr(b, 1, d, s), "mov", R(d, 8), R(s, 8));
            EMIT_CHECK("movsxd", x86_movsxd(b, d, s), "movsxd", R(d, 8), R(s, 4));
            EMIT_CHECK("movsx8", x86_movsx8(b, d, s), "movsx", R(d, 8), R(s, 1));
            EMIT_CHECK("movsx16", x86_movsx16(b, d, s), "movsx", R(d, 8), R(s, 2));
            EMIT_CHECK("movzx8", x86_movzx8(b, d, s), "movzx", R(d, 4), R(s, 1));
            EMIT_CHECK("movzx16", x86_movzx16(b, d, s), "movzx", R(d, 4), R(s, 2));
        }
        /* mov r, r with w = 1 and the same register emits nothing */
        uint8_t m[8];
        x86_buf bb = { m, m };
        x86_mov_rr(&bb, 1, d, d);
        checked++;
        if (bb.p != m) {
            failures++;
            printf("MISMATCH mov_rr %s, %s emitted %zu bytes\n", r64[d], r64[d], (size_t)(bb.p - m));
        }
        for (size_t k = 0; k < sizeof imm64s / sizeof imm64s[0]; k++) {
            uint64_t v = imm64s[k];
            if (v == 0)
                EMIT_CHECK("mov_ri 0", x86_mov_ri(b, d, v), "xor", R(d, 4), R(d, 4));
            else if (v <= UINT32_MAX)
                EMIT_CHECK("mov_ri u32", x86_mov_ri(b, d, v), "mov", R(d, 4), I((int64_t)v, 4));
            else if (x86_is32((int64_t)v))
                EMIT_CHECK("mov_ri s32", x86_mov_ri(b, d, v), "mov", R(d, 8), I((int64_t)v, 8));
            else
                EMIT_CHECK("mov_ri 64", x86_mov_ri(b, d, v), "movabs", R(d, 8), I((int64_t)v, 8));
            if (v <= UINT32_MAX)
                EMIT_CHECK("mov_ri_keepflags", x86_mov_ri_keepflags(b, d, v), "mov", R(d, 4), I((int64_t)v, 4));
        }
    }
    finish("moves");
}

static void test_loads_stores(void **state)
{
    (void)state;
    size_t nm, nf;
    x86_mem *mems = all_mems(&nm);
    const x86_mem *few = few_mems(&nf);
    /* every register with a few operands, every operand with two registers */
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass ? nm : nf;
        const x86_mem *ms = pass ? mems : few;
        for (size_t i = 0; i < n; i++) {
            for (int r = 0; r < 16; r++) {
                if (pass && r != R8 && r != RSI)
                    continue;
                x86_mem m = ms[i];
                EMIT_CHECK("load u8", x86_load(b, r, m, 1, false), "movzx", R(r, 4), M(m, 1));
                EMIT_CHECK("load i8", x86_load(b, r, m, 1, true), "movsx", R(r, 8), M(m, 1));
                EMIT_CHECK("load u16", x86_load(b, r, m, 2, false), "movzx", R(r, 4), M(m, 2));
                EMIT_CHECK("load i16", x86_load(b, r, m, 2, true), "movsx", R(r, 8), M(m, 2));
                EMIT_CHECK("load u32", x86_load(b, r, m, 4, false), "mov", R(r, 4), M(m, 4));
                EMIT_CHECK("load i32", x86_load(b, r, m, 4, true), "movsxd", R(r, 8), M(m, 4));
                EMIT_CHECK("load 64", x86_load(b, r, m, 8, false), "mov", R(r, 8), M(m, 8));
                EMIT_CHECK("store 8", x86_store(b, m, r, 1), "mov", M(m, 1), R(r, 1));
                EMIT_CHECK("store 16", x86_store(b, m, r, 2), "mov", M(m, 2), R(r, 2));
                EMIT_CHECK("store 32", x86_store(b, m, r, 4), "mov", M(m, 4), R(r, 4));
                EMIT_CHECK("store 64", x86_store(b, m, r, 8), "mov", M(m, 8), R(r, 8));
                EMIT_CHECK("lea 32", x86_lea(b, 0, r, m), "lea", R(r, 4), M(m, 4));
                EMIT_CHECK("lea 64", x86_lea(b, 1, r, m), "lea", R(r, 8), M(m, 8));
            }
            x86_mem m = ms[i];
            for (size_t k = 0; k < sizeof imm32s / sizeof imm32s[0]; k++) {
                if (pass && k % 4)
                    continue;
                int64_t v = imm32s[k];
                EMIT_CHECK("store_imm 8", x86_store_imm(b, m, (uint64_t)v, 1), "mov", M(m, 1), I(v, 1));
                EMIT_CHECK("store_imm 16", x86_store_imm(b, m, (uint64_t)v, 2), "mov", M(m, 2), I(v, 2));
                EMIT_CHECK("store_imm 32", x86_store_imm(b, m, (uint64_t)v, 4), "mov", M(m, 4), I(v, 4));
                EMIT_CHECK("store_imm 64", x86_store_imm(b, m, (uint64_t)v, 8), "mov", M(m, 8), I(v, 8));
                EMIT_CHECK("cmp_m8i", x86_cmp_m8i(b, m, (uint8_t)v), "cmp", M(m, 1), I(v, 1));
                EMIT_CHECK("test_m8i", x86_test_m8i(b, m, (uint8_t)v), "test", M(m, 1), I(v, 1));
            }
            EMIT_CHECK("jmp_m", x86_jmp_m(b, m), "jmp", M(m, 8));
        }
    }
    free(mems);
    finish("loads and stores");
}

/* ---- arithmetic ------------------------------------------------------------------------- */

static const struct { unsigned op; const char *mn; } alus[] = {
    { ALU_ADD, "add" }, { ALU_OR, "or" }, { ALU_AND, "and" }, { ALU_SUB, "sub" }, { ALU_XOR, "xor" }, { ALU_CMP, "cmp" },
};

static void test_alu(void **state)
{
    (void)state;
    size_t nf;
    const x86_mem *few = few_mems(&nf);
    for (size_t a = 0; a < sizeof alus / sizeof alus[0]; a++) {
        unsigned op = alus[a].op;
        const char *mn = alus[a].mn;
        for (int w = 0; w < 2; w++) {
            unsigned sz = w ? 8 : 4;
            for (int d = 0; d < 16; d++) {
                for (int s = 0; s < 16; s++)
                    EMIT_CHECK("alu_rr", x86_alu_rr(b, w, op, d, s), mn, R(d, sz), R(s, sz));
                for (size_t k = 0; k < sizeof imm32s / sizeof imm32s[0]; k++)
                    EMIT_CHECK("alu_ri", x86_alu_ri(b, w, op, d, (int32_t)imm32s[k]), mn, R(d, sz), I(imm32s[k], sz));
                for (size_t i = 0; i < nf; i++)
                    EMIT_CHECK("alu_rm", x86_alu_rm(b, w, op, d, few[i]), mn, R(d, sz), M(few[i], sz));
            }
            for (size_t i = 0; i < nf; i++)
                for (size_t k = 0; k < sizeof imm32s / sizeof imm32s[0]; k++)
                    EMIT_CHECK("alu_mi", x86_alu_mi(b, w, op, few[i], (int32_t)imm32s[k]), mn, M(few[i], sz),
                               I(imm32s[k], sz));
        }
    }
    static const struct { unsigned op; const char *mn; } g3[] = {
        { G3_NOT, "not" }, { G3_NEG, "neg" }, { G3_MUL, "mul" }, { G3_IMUL, "imul" }, { G3_DIV, "div" }, { G3_IDIV, "idiv" },
    };
    static const struct { unsigned op; const char *mn; } sh[] = {
        { SH_ROL, "rol" }, { SH_ROR, "ror" }, { SH_SHL, "shl" }, { SH_SHR, "shr" }, { SH_SAR, "sar" },
    };
    static const uint8_t counts[] = { 0, 1, 2, 31, 32, 63 };
    for (int w = 0; w < 2; w++) {
        unsigned sz = w ? 8 : 4;
        for (int d = 0; d < 16; d++) {
            for (int s = 0; s < 16; s++) {
                EMIT_CHECK("test_rr", x86_test_rr(b, w, d, s), "test", R(d, sz), R(s, sz));
                EMIT_CHECK("imul_rr", x86_imul_rr(b, w, d, s), "imul", R(d, sz), R(s, sz));
                for (size_t k = 0; k < sizeof imm32s / sizeof imm32s[0]; k++)
                    EMIT_CHECK("imul_rri", x86_imul_rri(b, w, d, s, (int32_t)imm32s[k]), "imul", R(d, sz), R(s, sz),
                               I(imm32s[k], sz));
                for (unsigned cc = 0; cc < 16; cc++) {
                    char mn[16];
                    snprintf(mn, sizeof mn, "cmov%s", ccs[cc]);
                    EMIT_CHECK("cmov", x86_cmov(b, w, cc, d, s), mn, R(d, sz), R(s, sz));
                }
                EMIT_CHECK("popcnt", x86_popcnt(b, w, d, s), "popcnt", R(d, sz), R(s, sz));
                EMIT_CHECK("lzcnt", x86_lzcnt(b, w, d, s), "lzcnt", R(d, sz), R(s, sz));
                EMIT_CHECK("tzcnt", x86_tzcnt(b, w, d, s), "tzcnt", R(d, sz), R(s, sz));
                EMIT_CHECK("bsr", x86_bsr(b, w, d, s), "bsr", R(d, sz), R(s, sz));
                EMIT_CHECK("bsf", x86_bsf(b, w, d, s), "bsf", R(d, sz), R(s, sz));
            }
            for (size_t g = 0; g < sizeof g3 / sizeof g3[0]; g++)
                EMIT_CHECK("g3", x86_g3(b, w, g3[g].op, d), g3[g].mn, R(d, sz));
            for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) {
                for (size_t c = 0; c < sizeof counts; c++)
                    EMIT_CHECK("shift_ri", x86_shift_ri(b, w, sh[k].op, d, counts[c]), sh[k].mn, R(d, sz),
                               I(counts[c], 1));
                EMIT_CHECK("shift_cl", x86_shift_cl(b, w, sh[k].op, d), sh[k].mn, R(d, sz), R(RCX, 1));
            }
        }
    }
    for (int d = 0; d < 16; d++) {
        EMIT_CHECK("bswap", x86_bswap(b, d), "bswap", R(d, 8));
        for (unsigned cc = 0; cc < 16; cc++) {
            char mn[16];
            snprintf(mn, sizeof mn, "set%s", ccs[cc]);
            EMIT_CHECK("setcc", x86_setcc(b, cc, d), mn, R(d, 1));
        }
    }
    for (unsigned v = 0; v < 256; v += 17)
        EMIT_CHECK("test_al", x86_test_al(b, (uint8_t)v), "test", R(RAX, 1), I(v, 1));
    EMIT_CHECK0("cqo", x86_cqo(b), "cqo");
    finish("arithmetic");
}

static void test_bmi(void **state)
{
    (void)state;
    static const uint8_t rot[] = { 0, 1, 31, 32, 63 };
    for (int w = 0; w < 2; w++) {
        unsigned sz = w ? 8 : 4;
        for (int d = 0; d < 16; d++) {
            for (int s = 0; s < 16; s++) {
                for (int c = 0; c < 16; c++) {
                    EMIT_CHECK("andn", x86_andn(b, w, d, s, c), "andn", R(d, sz), R(s, sz), R(c, sz));
                    EMIT_CHECK("shlx", x86_shlx(b, w, d, s, c), "shlx", R(d, sz), R(s, sz), R(c, sz));
                    EMIT_CHECK("shrx", x86_shrx(b, w, d, s, c), "shrx", R(d, sz), R(s, sz), R(c, sz));
                    EMIT_CHECK("sarx", x86_sarx(b, w, d, s, c), "sarx", R(d, sz), R(s, sz), R(c, sz));
                }
                for (size_t k = 0; k < sizeof rot; k++)
                    EMIT_CHECK("rorx", x86_rorx(b, w, d, s, rot[k]), "rorx", R(d, sz), R(s, sz), I(rot[k], 1));
            }
        }
    }
    finish("BMI");
}

/* ---- control flow ----------------------------------------------------------------------- */

static void test_control(void **state)
{
    (void)state;
    /* targets around a 1 MiB buffer: backward, forward, the instruction itself, far */
    static uint8_t big[1 << 21];
    static const long offs[] = { 0, 1, -1, 5, 6, -5, -6, 127, -128, 1 << 20, -(1 << 20) };
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        uint8_t *at = big + (1 << 20);
        for (int kind = 0; kind < 18; kind++) {
            x86_buf b = { at, big };
            const uint8_t *target = at + offs[k];
            char mn[16];
            if (kind == 16) {
                x86_jmp_to(&b, target);
                snprintf(mn, sizeof mn, "jmp");
            } else if (kind == 17) {
                x86_call_to(&b, target);
                snprintf(mn, sizeof mn, "call");
            } else {
                x86_jcc_to(&b, (unsigned)kind, target);
                snprintf(mn, sizeof mn, "j%s", ccs[kind]);
            }
            xop t = I((int64_t)BASE_ADDR + offs[k], 8);
            expect("branch", at, (size_t)(b.p - at), mn, 1, &t);
        }
    }
    for (int r = 0; r < 16; r++) {
        EMIT_CHECK("jmp_r", x86_jmp_r(b, r), "jmp", R(r, 8));
        EMIT_CHECK("call_r", x86_call_r(b, r), "call", R(r, 8));
        EMIT_CHECK("push", x86_push(b, r), "push", R(r, 8));
        EMIT_CHECK("pop", x86_pop(b, r), "pop", R(r, 8));
    }
    EMIT_CHECK0("ret", x86_ret(b), "ret");
    /* the rel32 returned by x86_jmp32 / x86_jcc32 / x86_call32 is the last 4 bytes */
    uint8_t m[16];
    x86_buf bb = { m, m };
    uint8_t *rel = x86_jcc32(&bb, CC_NE);
    checked++;
    if (rel != bb.p - 4)
        failures++;
    finish("control flow");
}

/* Every emitter x86.h declares is exercised here: a new one fails this test until it is. The
 * sources are found from __FILE__ (CMake compiles with absolute paths); skipped otherwise. */
static void test_every_emitter_covered(void **state)
{
    (void)state;
    static const char *const internal[] = { /* helpers, exercised through every form above */
        "x86_m", "x86_mi", "x86_b", "x86_d", "x86_q", "x86_is8", "x86_is32", "x86_prefix_op", "x86_rr",
        "x86_modrm_mem", "x86_rm", "x86_vex_rr", "x86_jmp32", "x86_jcc32", "x86_call32", "x86_patch",
    };
    char path[4096];
    const char *slash = strrchr(__FILE__, '/');
    if (__FILE__[0] != '/' || !slash) {
        printf("emitter coverage: no absolute source path; not checked\n");
        return;
    }
    char *text[2] = { NULL, NULL };
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - __FILE__), __FILE__,
                 k == 0 ? "../src/jit/x86.h" : "test_jit_x86.c");
        FILE *f = fopen(path, "rb");
        if (!f) {
            printf("emitter coverage: %s not found; not checked\n", path);
            free(text[0]);
            return;
        }
        text[k] = calloc(1, 1 << 20);
        assert_non_null(text[k]);
        assert_true(fread(text[k], 1, (1 << 20) - 1, f) > 0);
        fclose(f);
    }
    unsigned found = 0, missing = 0;
    for (const char *at = text[0]; (at = strstr(at, "static inline ")) != NULL; at++) {
        const char *paren = strchr(at, '(');
        const char *eol = strchr(at, '\n');
        if (!paren || (eol && paren > eol))
            continue;
        const char *name = paren; /* the identifier just before the parenthesis */
        while (name > at && (isalnum((unsigned char)name[-1]) || name[-1] == '_'))
            name--;
        if (strncmp(name, "x86_", 4) != 0)
            continue;
        char fn[64], call[72];
        snprintf(fn, sizeof fn, "%.*s", (int)(paren - name), name);
        bool skip = false;
        for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++)
            skip |= strcmp(fn, internal[i]) == 0;
        if (skip)
            continue;
        found++;
        snprintf(call, sizeof call, "%s(", fn);
        if (!strstr(text[1], call)) {
            missing++;
            printf("emitter %s is not checked by this test\n", fn);
        }
    }
    printf("emitter coverage: %u emitters in x86.h, %u not checked\n", found, missing);
    free(text[0]);
    free(text[1]);
    assert_true(found > 40);
    assert_int_equal(missing, 0);
}

static int setup(void **state)
{
    (void)state;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
        return -1;
    cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cs_close(&cs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moves),
        cmocka_unit_test(test_loads_stores),
        cmocka_unit_test(test_alu),
        cmocka_unit_test(test_bmi),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_every_emitter_covered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

#else

int main(void)
{
    printf("test_jit_x86: built without capstone (libcapstone-dev); skipped\n");
    return 77;
}

#endif
