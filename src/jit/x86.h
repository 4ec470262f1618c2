/* SPDX-License-Identifier: MIT
 * jit/x86.h — a small x86-64 instruction encoder for the JIT (jit/jit.c). Every function
 * appends one instruction to an x86_buf; the caller guarantees room (jit.c checks the buffer
 * before each PVM instruction, and no single PVM instruction needs more than X86_MAX_INSN
 * bytes per call here). Operand conventions follow Intel order: destination first.
 *
 * Only the forms the JIT uses are here; tests/test_jit_x86.c decodes every one of them with
 * an independent disassembler (capstone) over extreme registers and immediates. */
#ifndef JIT_X86_H
#define JIT_X86_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

/* Condition codes (the low nibble of Jcc / SETcc / CMOVcc). */
enum {
    CC_O = 0, CC_NO = 1, CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_BE = 6, CC_A = 7,
    CC_S = 8, CC_NS = 9, CC_P = 10, CC_NP = 11, CC_L = 12, CC_GE = 13, CC_LE = 14, CC_G = 15
};

/* Group-1 ALU ops: the /digit of 0x81/0x83 and (op << 3 | 1) for the r/m, reg form. */
enum { ALU_ADD = 0, ALU_OR = 1, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7 };
/* Group-2 shift ops: the /digit of 0xC1 / 0xD3. */
enum { SH_ROL = 0, SH_ROR = 1, SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

typedef struct x86_buf {
    uint8_t *p;   /* next byte */
    uint8_t *start;
} x86_buf;

/* A memory operand [base + index*2^scale + disp]; index < 0 means none; base == -1 with
 * rip means [rip + disp] (disp relative to the end of the instruction). */
typedef struct x86_mem {
    int8_t base, index;
    uint8_t scale;
    int32_t disp;
} x86_mem;

#define X86_NOREG (-1)
#define X86_RIP (-2)

static inline x86_mem x86_m(int base, int32_t disp) { return (x86_mem){ (int8_t)base, X86_NOREG, 0, disp }; }
static inline x86_mem x86_mi(int base, int index, unsigned scale, int32_t disp)
{
    return (x86_mem){ (int8_t)base, (int8_t)index, (uint8_t)scale, disp };
}

static inline void x86_b(x86_buf *b, unsigned v) { *b->p++ = (uint8_t)v; }
static inline void x86_d(x86_buf *b, uint32_t v) { memcpy(b->p, &v, 4); b->p += 4; }
static inline void x86_q(x86_buf *b, uint64_t v) { memcpy(b->p, &v, 8); b->p += 8; }
static inline bool x86_is8(int64_t v) { return v >= -128 && v <= 127; }
static inline bool x86_is32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

/* Opcode: up to 3 bytes, most significant first, with an optional mandatory prefix (0x66,
 * 0xF2, 0xF3) that must precede REX. */
typedef struct x86_op {
    uint8_t pfx;
    uint8_t n;
    uint8_t b[3];
} x86_op;

#define OP1(a) ((x86_op){ 0, 1, { (a), 0, 0 } })
#define OP2(a, c) ((x86_op){ 0, 2, { (a), (c), 0 } })
#define OPP2(p, a, c) ((x86_op){ (p), 2, { (a), (c), 0 } })
#define OPP1(p, a) ((x86_op){ (p), 1, { (a), 0, 0 } })

/* Flags for x86_rr / x86_rm. */
enum { X86_W = 1,      /* REX.W: 64-bit operand size */
       X86_B8 = 2 };   /* byte registers: SPL/BPL/SIL/DIL need a REX prefix */

static inline void x86_prefix_op(x86_buf *b, x86_op op, unsigned flags, int reg, int index, int base,
                                 bool byte_rm_reg)
{
    if (op.pfx)
        x86_b(b, op.pfx);
    unsigned rex = 0x40 | ((flags & X86_W) ? 8 : 0) | ((reg & 8) ? 4 : 0) |
                   ((index >= 0 && (index & 8)) ? 2 : 0) | ((base >= 0 && (base & 8)) ? 1 : 0);
    bool need = rex != 0x40 ||
                ((flags & X86_B8) && ((reg >= 4 && reg <= 7) || (byte_rm_reg && base >= 4 && base <= 7)));
    if (need)
        x86_b(b, rex);
    for (unsigned i = 0; i < op.n; i++)
        x86_b(b, op.b[i]);
}

/* op reg, rm (register direct, mod = 3). */
static inline void x86_rr(x86_buf *b, x86_op op, unsigned flags, int reg, int rm)
{
    x86_prefix_op(b, op, flags, reg, X86_NOREG, rm, true);
    x86_b(b, 0xC0 | ((reg & 7) << 3) | (rm & 7));
}

/* ModRM (+ SIB + displacement) for a memory operand; reg is the reg field (or /digit). */
static inline void x86_modrm_mem(x86_buf *b, int reg, x86_mem m)
{
    reg &= 7;
    if (m.base == X86_RIP) {
        x86_b(b, (reg << 3) | 5);
        x86_d(b, (uint32_t)m.disp);
        return;
    }
    int base = m.base & 7;
    unsigned mod = m.disp == 0 && base != RBP ? 0 : x86_is8(m.disp) ? 1 : 2;
    if (m.index >= 0 || base == RSP) {
        int index = m.index >= 0 ? (m.index & 7) : RSP; /* 100 = no index */
        x86_b(b, (mod << 6) | (reg << 3) | 4);
        x86_b(b, ((unsigned)m.scale << 6) | ((unsigned)index << 3) | (unsigned)base);
    } else {
        x86_b(b, (mod << 6) | (reg << 3) | (unsigned)base);
    }
    if (mod == 1)
        x86_b(b, (uint8_t)(int8_t)m.disp);
    else if (mod == 2)
        x86_d(b, (uint32_t)m.disp);
}

/* op reg, [mem]. */
static inline void x86_rm(x86_buf *b, x86_op op, unsigned flags, int reg, x86_mem m)
{
    x86_prefix_op(b, op, flags, reg, m.index, m.base >= 0 ? m.base : X86_NOREG, false);
    x86_modrm_mem(b, reg, m);
}

/* ---- moves ------------------------------------------------------------------------------ */

static inline void x86_mov_rr(x86_buf *b, int w, int dst, int src)
{
    if (dst != src || !w)
        x86_rr(b, OP1(0x89), w ? X86_W : 0, src, dst);
}

/* dst = imm (64-bit register), the shortest form. */
static inline void x86_mov_ri(x86_buf *b, int dst, uint64_t imm)
{
    if (imm == 0) {
        x86_rr(b, OP1(0x31), 0, dst, dst); /* xor r32, r32 (flags clobbered) */
    } else if (imm <= UINT32_MAX) {
        if (dst & 8)
            x86_b(b, 0x41);
        x86_b(b, 0xB8 + (dst & 7));
        x86_d(b, (uint32_t)imm);
    } else if (x86_is32((int64_t)imm)) {
        x86_rr(b, OP1(0xC7), X86_W, 0, dst);
        x86_d(b, (uint32_t)imm);
    } else {
        x86_b(b, 0x48 | ((dst & 8) ? 1 : 0));
        x86_b(b, 0xB8 + (dst & 7));
        x86_q(b, imm);
    }
}

/* dst = imm without touching flags (mov only). */
static inline void x86_mov_ri_keepflags(x86_buf *b, int dst, uint64_t imm)
{
    if (imm <= UINT32_MAX) {
        if (dst & 8)
            x86_b(b, 0x41);
        x86_b(b, 0xB8 + (dst & 7));
        x86_d(b, (uint32_t)imm);
    } else {
        x86_mov_ri(b, dst, imm);
    }
}

/* Loads: size 1, 2, 4, 8 bytes; sx = sign-extend to 64 bits, else zero-extend. */
static inline void x86_load(x86_buf *b, int dst, x86_mem m, unsigned size, bool sx)
{
    switch (size) {
    case 1: x86_rm(b, OP2(0x0F, sx ? 0xBE : 0xB6), sx ? X86_W : 0, dst, m); break;
    case 2: x86_rm(b, OP2(0x0F, sx ? 0xBF : 0xB7), sx ? X86_W : 0, dst, m); break;
    case 4: x86_rm(b, OP1(sx ? 0x63 : 0x8B), sx ? X86_W : 0, dst, m); break;
    default: x86_rm(b, OP1(0x8B), X86_W, dst, m); break;
    }
}

static inline void x86_store(x86_buf *b, x86_mem m, int src, unsigned size)
{
    switch (size) {
    case 1: x86_rm(b, OP1(0x88), X86_B8, src, m); break;
    case 2: x86_rm(b, OPP1(0x66, 0x89), 0, src, m); break;
    case 4: x86_rm(b, OP1(0x89), 0, src, m); break;
    default: x86_rm(b, OP1(0x89), X86_W, src, m); break;
    }
}

/* [m] = imm, size 1, 2, 4 or 8 (8: imm sign-extended from 32 bits). */
static inline void x86_store_imm(x86_buf *b, x86_mem m, uint64_t imm, unsigned size)
{
    switch (size) {
    case 1: x86_rm(b, OP1(0xC6), 0, 0, m); x86_b(b, (uint8_t)imm); break;
    case 2: x86_rm(b, OPP1(0x66, 0xC7), 0, 0, m); x86_b(b, (uint8_t)imm); x86_b(b, (uint8_t)(imm >> 8)); break;
    case 4: x86_rm(b, OP1(0xC7), 0, 0, m); x86_d(b, (uint32_t)imm); break;
    default: x86_rm(b, OP1(0xC7), X86_W, 0, m); x86_d(b, (uint32_t)imm); break;
    }
}

/* Register-to-register extensions. */
static inline void x86_movsxd(x86_buf *b, int dst, int src) { x86_rr(b, OP1(0x63), X86_W, dst, src); }
static inline void x86_movsx8(x86_buf *b, int dst, int src) { x86_rr(b, OP2(0x0F, 0xBE), X86_W | X86_B8, dst, src); }
static inline void x86_movsx16(x86_buf *b, int dst, int src) { x86_rr(b, OP2(0x0F, 0xBF), X86_W, dst, src); }
static inline void x86_movzx8(x86_buf *b, int dst, int src) { x86_rr(b, OP2(0x0F, 0xB6), X86_B8, dst, src); }
static inline void x86_movzx16(x86_buf *b, int dst, int src) { x86_rr(b, OP2(0x0F, 0xB7), 0, dst, src); }

/* lea dst, [m] (w = 0: the 32-bit result, zero-extended). */
static inline void x86_lea(x86_buf *b, int w, int dst, x86_mem m) { x86_rm(b, OP1(0x8D), w ? X86_W : 0, dst, m); }

/* ---- arithmetic ------------------------------------------------------------------------- */

static inline void x86_alu_rr(x86_buf *b, int w, unsigned alu, int dst, int src)
{
    x86_rr(b, OP1((uint8_t)((alu << 3) | 1)), w ? X86_W : 0, src, dst);
}

static inline void x86_alu_rm(x86_buf *b, int w, unsigned alu, int dst, x86_mem m)
{
    x86_rm(b, OP1((uint8_t)((alu << 3) | 3)), w ? X86_W : 0, dst, m);
}

/* dst op= imm (imm sign-extended from 32 bits). */
static inline void x86_alu_ri(x86_buf *b, int w, unsigned alu, int dst, int32_t imm)
{
    if (x86_is8(imm)) {
        x86_rr(b, OP1(0x83), w ? X86_W : 0, (int)alu, dst);
        x86_b(b, (uint8_t)(int8_t)imm);
    } else {
        x86_rr(b, OP1(0x81), w ? X86_W : 0, (int)alu, dst);
        x86_d(b, (uint32_t)imm);
    }
}

/* [m] op= imm (qword when w). */
static inline void x86_alu_mi(x86_buf *b, int w, unsigned alu, x86_mem m, int32_t imm)
{
    if (x86_is8(imm)) {
        x86_rm(b, OP1(0x83), w ? X86_W : 0, (int)alu, m);
        x86_b(b, (uint8_t)(int8_t)imm);
    } else {
        x86_rm(b, OP1(0x81), w ? X86_W : 0, (int)alu, m);
        x86_d(b, (uint32_t)imm);
    }
}

/* byte [m] op imm8 (cmp), test byte [m], imm8. */
static inline void x86_cmp_m8i(x86_buf *b, x86_mem m, uint8_t imm) { x86_rm(b, OP1(0x80), 0, ALU_CMP, m); x86_b(b, imm); }
static inline void x86_test_m8i(x86_buf *b, x86_mem m, uint8_t imm) { x86_rm(b, OP1(0xF6), 0, 0, m); x86_b(b, imm); }
static inline void x86_test_al(x86_buf *b, uint8_t imm) { x86_b(b, 0xA8); x86_b(b, imm); }
static inline void x86_test_rr(x86_buf *b, int w, int a, int c) { x86_rr(b, OP1(0x85), w ? X86_W : 0, c, a); }

static inline void x86_imul_rr(x86_buf *b, int w, int dst, int src) { x86_rr(b, OP2(0x0F, 0xAF), w ? X86_W : 0, dst, src); }
static inline void x86_imul_rri(x86_buf *b, int w, int dst, int src, int32_t imm)
{
    if (x86_is8(imm)) {
        x86_rr(b, OP1(0x6B), w ? X86_W : 0, dst, src);
        x86_b(b, (uint8_t)(int8_t)imm);
    } else {
        x86_rr(b, OP1(0x69), w ? X86_W : 0, dst, src);
        x86_d(b, (uint32_t)imm);
    }
}

/* Group 3 (F7 /digit): 2 not, 3 neg, 4 mul, 5 imul, 6 div, 7 idiv. */
enum { G3_NOT = 2, G3_NEG = 3, G3_MUL = 4, G3_IMUL = 5, G3_DIV = 6, G3_IDIV = 7 };
static inline void x86_g3(x86_buf *b, int w, unsigned op, int rm) { x86_rr(b, OP1(0xF7), w ? X86_W : 0, (int)op, rm); }
static inline void x86_cqo(x86_buf *b) { x86_b(b, 0x48); x86_b(b, 0x99); }

static inline void x86_shift_ri(x86_buf *b, int w, unsigned sh, int dst, uint8_t imm)
{
    x86_rr(b, OP1(0xC1), w ? X86_W : 0, (int)sh, dst);
    x86_b(b, imm);
}
static inline void x86_shift_cl(x86_buf *b, int w, unsigned sh, int dst) { x86_rr(b, OP1(0xD3), w ? X86_W : 0, (int)sh, dst); }

static inline void x86_bswap(x86_buf *b, int reg)
{
    x86_b(b, 0x48 | ((reg & 8) ? 1 : 0));
    x86_b(b, 0x0F);
    x86_b(b, 0xC8 + (reg & 7));
}

static inline void x86_setcc(x86_buf *b, unsigned cc, int dst) { x86_rr(b, OP2(0x0F, (uint8_t)(0x90 + cc)), X86_B8, 0, dst); }
static inline void x86_cmov(x86_buf *b, int w, unsigned cc, int dst, int src) { x86_rr(b, OP2(0x0F, (uint8_t)(0x40 + cc)), w ? X86_W : 0, dst, src); }

/* Bit counting: F3 0F B8 popcnt, F3 0F BD lzcnt, F3 0F BC tzcnt; 0F BD bsr, 0F BC bsf. */
static inline void x86_popcnt(x86_buf *b, int w, int dst, int src) { x86_rr(b, OPP2(0xF3, 0x0F, 0xB8), w ? X86_W : 0, dst, src); }
static inline void x86_lzcnt(x86_buf *b, int w, int dst, int src) { x86_rr(b, OPP2(0xF3, 0x0F, 0xBD), w ? X86_W : 0, dst, src); }
static inline void x86_tzcnt(x86_buf *b, int w, int dst, int src) { x86_rr(b, OPP2(0xF3, 0x0F, 0xBC), w ? X86_W : 0, dst, src); }
static inline void x86_bsr(x86_buf *b, int w, int dst, int src) { x86_rr(b, OP2(0x0F, 0xBD), w ? X86_W : 0, dst, src); }
static inline void x86_bsf(x86_buf *b, int w, int dst, int src) { x86_rr(b, OP2(0x0F, 0xBC), w ? X86_W : 0, dst, src); }

/* VEX-encoded BMI forms (three-byte VEX, map 0F38 or 0F3A, L = 0). pp: 0 none, 1 66, 2 F3,
 * 3 F2. reg = ModRM.reg, vvvv = the extra source, rm = ModRM.rm (register). */
static inline void x86_vex_rr(x86_buf *b, unsigned map, unsigned pp, int w, int reg, int vvvv, int rm, uint8_t opc)
{
    x86_b(b, 0xC4);
    x86_b(b, (uint8_t)(((reg & 8) ? 0 : 0x80) | 0x40 | ((rm & 8) ? 0 : 0x20) | map));
    x86_b(b, (uint8_t)((w ? 0x80 : 0) | ((~(unsigned)vvvv & 15) << 3) | pp));
    x86_b(b, opc);
    x86_b(b, (uint8_t)(0xC0 | ((reg & 7) << 3) | (rm & 7)));
}
/* andn dst, a, c: dst = ~a & c */
static inline void x86_andn(x86_buf *b, int w, int dst, int a, int c) { x86_vex_rr(b, 2, 0, w, dst, a, c, 0xF2); }
/* shlx/shrx/sarx dst, src, count: the count masked to 5 or 6 bits by the CPU. */
static inline void x86_shlx(x86_buf *b, int w, int dst, int src, int cnt) { x86_vex_rr(b, 2, 1, w, dst, cnt, src, 0xF7); }
static inline void x86_shrx(x86_buf *b, int w, int dst, int src, int cnt) { x86_vex_rr(b, 2, 3, w, dst, cnt, src, 0xF7); }
static inline void x86_sarx(x86_buf *b, int w, int dst, int src, int cnt) { x86_vex_rr(b, 2, 2, w, dst, cnt, src, 0xF7); }
/* rorx dst, src, imm8 */
static inline void x86_rorx(x86_buf *b, int w, int dst, int src, uint8_t imm)
{
    x86_vex_rr(b, 3, 3, w, dst, 0, src, 0xF0);
    x86_b(b, imm);
}

/* ---- control flow ----------------------------------------------------------------------- */

/* Jumps and calls with a rel32 to be patched: each returns the offset of the rel32 field. */
static inline uint8_t *x86_jmp32(x86_buf *b) { x86_b(b, 0xE9); x86_d(b, 0); return b->p - 4; }
static inline uint8_t *x86_jcc32(x86_buf *b, unsigned cc) { x86_b(b, 0x0F); x86_b(b, 0x80 + cc); x86_d(b, 0); return b->p - 4; }
static inline uint8_t *x86_call32(x86_buf *b) { x86_b(b, 0xE8); x86_d(b, 0); return b->p - 4; }
/* Points a rel32 field (as returned above) at target. */
static inline void x86_patch(uint8_t *rel, const uint8_t *target)
{
    int32_t d = (int32_t)(target - (rel + 4));
    memcpy(rel, &d, 4);
}
static inline void x86_jmp_to(x86_buf *b, const uint8_t *t) { x86_patch(x86_jmp32(b), t); }
static inline void x86_jcc_to(x86_buf *b, unsigned cc, const uint8_t *t) { x86_patch(x86_jcc32(b, cc), t); }
static inline void x86_call_to(x86_buf *b, const uint8_t *t) { x86_patch(x86_call32(b), t); }

static inline void x86_jmp_r(x86_buf *b, int r) { x86_rr(b, OP1(0xFF), 0, 4, r); }
static inline void x86_call_r(x86_buf *b, int r) { x86_rr(b, OP1(0xFF), 0, 2, r); }
static inline void x86_jmp_m(x86_buf *b, x86_mem m) { x86_rm(b, OP1(0xFF), 0, 4, m); }
static inline void x86_ret(x86_buf *b) { x86_b(b, 0xC3); }
static inline void x86_push(x86_buf *b, int r) { if (r & 8) x86_b(b, 0x41); x86_b(b, 0x50 + (r & 7)); }
static inline void x86_pop(x86_buf *b, int r) { if (r & 8) x86_b(b, 0x41); x86_b(b, 0x58 + (r & 7)); }

#endif
