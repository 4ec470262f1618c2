/* SPDX-License-Identifier: MIT
 * tests/ref/ref.c — the reference interpreter of tests/ref/ref.h, written section by section
 * from the PVM specification (pvm.md). Speed is not a goal: nothing is predecoded, every step
 * decodes the instruction at pc from the raw bytes, and every block start reached is costed by
 * walking its block. The only thing shared with the fast interpreter is the public memory object. */
#include "ref.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pvm.md §0, §4.1: ζ, the bitmask with bits past the end set, skip, next -------------- */

static uint8_t zeta(const ref_program *p, uint64_t i)
{
    return i < p->L ? p->code[i] : 0;
}

static bool bit(const ref_program *p, uint64_t i)
{
    return i >= p->L || ((p->bitmask[i / 8] >> (i % 8)) & 1);
}

static uint64_t skip(const ref_program *p, uint64_t i)
{
    uint64_t j = 0;
    while (j < 24 && !bit(p, i + 1 + j))
        j++;
    return j;
}

static uint64_t next_pos(const ref_program *p, uint64_t i)
{
    return i + 1 + skip(p, i);
}

/* LE(i, n) through ζ. */
static uint64_t le(const ref_program *p, uint64_t i, unsigned n)
{
    uint64_t v = 0;
    for (unsigned b = 0; b < n; b++)
        v |= (uint64_t)zeta(p, i + b) << (8 * b);
    return v;
}

/* sx(n, v) for n in 0..4 (pvm.md §0). */
static uint64_t sx(unsigned n, uint64_t v)
{
    if (n == 0)
        return 0;
    uint64_t width = 8 * (uint64_t)n;
    uint64_t low = v & ((UINT64_C(1) << width) - 1);
    uint64_t sign = UINT64_C(1) << (width - 1);
    return (low & sign) ? low | ~((UINT64_C(1) << width) - 1) : low;
}

static uint64_t sx32(uint64_t v) { return sx(4, v & 0xFFFFFFFFu); }

static unsigned min4(int64_t v) { return v < 0 ? 0 : v > 4 ? 4 : (unsigned)v; }
static unsigned clampreg(unsigned field) { return field < 12 ? field : 12; }

/* ---- pvm.md §5, §6.1, §8: which bytes are opcodes, which are terminators ----------------- */

static bool defined(javm_profile prof, uint8_t op)
{
    if (op <= 1)
        return true;
    if (op == 2 || op == 3)
        return prof == JAVM_PROFILE_JAVM;
    return op == 10 || op == 20 || (op >= 30 && op <= 33) || op == 40 || (op >= 50 && op <= 62) ||
           (op >= 70 && op <= 73) || (op >= 80 && op <= 90) || (op >= 100 && op <= 111) ||
           (op >= 120 && op <= 161) || (op >= 170 && op <= 175) || op == 180 || (op >= 190 && op <= 230);
}

static bool terminator(javm_profile prof, uint8_t op)
{
    if (op == 0 || op == 1 || op == 40 || op == 50 || op == 80 || (op >= 81 && op <= 90) ||
        (op >= 170 && op <= 175) || op == 180)
        return true;
    return prof == JAVM_PROFILE_JAVM && (op == 2 || op == 3 || op == 10);
}

static bool valid_start(const ref_program *p, uint64_t n)
{
    return n < p->L && bit(p, n) && defined(p->profile, p->code[n]);
}

/* B of pvm.md §6.1. pos is next(n) for a valid terminator n exactly when n is the last
 * position before pos with its bitmask bit set and pos - n <= 25: next(n) never passes the
 * first set bit after n (and pos, being a start or L, has its bit set), nor n + 25. So only
 * that one candidate needs looking at; next(n) = pos is checked anyway. */
static bool block_start(const ref_program *p, uint64_t pos)
{
    if (pos > p->L || (pos < p->L && !valid_start(p, pos)))
        return false;
    if (pos == 0)
        return true;
    for (uint64_t d = 1; d <= 25 && d <= pos; d++) {
        uint64_t n = pos - d;
        if (bit(p, n))
            return valid_start(p, n) && terminator(p->profile, p->code[n]) && next_pos(p, n) == pos;
    }
    return false;
}

/* V of pvm.md §6.1: block starts other than L. */
static bool branch_target(const ref_program *p, uint64_t t)
{
    return t < p->L && block_start(p, t);
}

/* ---- pvm.md §4.4: operands of the instruction at pc ---------------------------------------- */

typedef struct ins {
    uint8_t op;
    uint64_t len;          /* ℓ = skip(pc) */
    unsigned ra, rb, rd;
    uint64_t x, y;
    uint32_t t;            /* static target */
} ins;

static void decode(const ref_program *p, uint64_t pc, ins *in)
{
    memset(in, 0, sizeof *in);
    in->op = zeta(p, pc);
    in->len = skip(p, pc);
    int64_t l = (int64_t)in->len;
    uint8_t b1 = zeta(p, pc + 1), b2 = zeta(p, pc + 2);
    unsigned lx, ly;
    uint8_t op = in->op;
    if (op == 10) {                                   /* OneImm */
        lx = min4(l);
        in->x = sx(lx, le(p, pc + 1, lx));
    } else if (op == 20) {                            /* OneRegExtImm */
        in->ra = clampreg(b1 & 15);
        in->x = le(p, pc + 2, 8);
    } else if (op >= 30 && op <= 33) {                /* TwoImm */
        lx = min4(b1 % 8);
        ly = min4(l - lx - 1);
        in->x = sx(lx, le(p, pc + 2, lx));
        in->y = sx(ly, le(p, pc + 2 + lx, ly));
    } else if (op == 40) {                            /* OneOffset */
        lx = min4(l);
        in->t = (uint32_t)(pc + sx(lx, le(p, pc + 1, lx)));
    } else if (op >= 50 && op <= 62) {                /* OneRegOneImm */
        in->ra = clampreg(b1 & 15);
        lx = min4(l - 1);
        in->x = sx(lx, le(p, pc + 2, lx));
    } else if (op >= 70 && op <= 90) {                /* OneRegTwoImm, OneRegImmOffset */
        in->ra = clampreg(b1 & 15);
        lx = min4((b1 >> 4) % 8);
        ly = min4(l - lx - 1);
        in->x = sx(lx, le(p, pc + 2, lx));
        in->y = sx(ly, le(p, pc + 2 + lx, ly));
        in->t = (uint32_t)(pc + in->y);
    } else if (op >= 100 && op <= 111) {              /* TwoReg */
        in->rd = clampreg(b1 & 15);
        in->ra = clampreg(b1 >> 4);
    } else if (op >= 120 && op <= 175) {              /* TwoRegOneImm, TwoRegOneOffset */
        in->ra = clampreg(b1 & 15);
        in->rb = clampreg(b1 >> 4);
        lx = min4(l - 1);
        in->x = sx(lx, le(p, pc + 2, lx));
        in->t = (uint32_t)(pc + in->x);
    } else if (op == 180) {                           /* TwoRegTwoImm */
        in->ra = clampreg(b1 & 15);
        in->rb = clampreg(b1 >> 4);
        lx = min4(b2 % 8);
        ly = min4(l - lx - 2);
        in->x = sx(lx, le(p, pc + 3, lx));
        in->y = sx(ly, le(p, pc + 3 + lx, ly));
    } else if (op >= 190 && op <= 230) {              /* ThreeReg */
        in->ra = clampreg(b1 & 15);
        in->rb = clampreg(b1 >> 4);
        in->rd = clampreg(b2);
    }
}

/* ---- pvm.md §7.2: the pipeline model's rows ------------------------------------------------ */

enum { SRC_NONE = 0, SRC_A = 1, SRC_B = 2, SRC_AB = 3, SRC_BD = 4 };

typedef struct row {
    uint64_t cycles, slots;
    int srcs;        /* SRC_* */
    bool dst_a;      /* writes A */
    bool move;       /* move_reg: ready[A] = ready[B] */
} row;

/* br of §7.2: 1 when the target holds a trap or unlikely opcode at an instruction start. */
static uint64_t br_cycles(const ref_program *p, uint64_t t)
{
    return t < p->L && bit(p, t) && (p->code[t] == 0 || p->code[t] == 2) ? 1 : 20;
}

static row row_for(const ref_program *p, uint64_t pos)
{
    row r = { 1, 1, SRC_NONE, false, false };       /* "anything else" */
    if (pos == p->L) {                              /* the implicit trap uses the trap row */
        r.cycles = 2;
        return r;
    }
    if (!bit(p, pos))
        return r;
    uint8_t op = p->code[pos];
    uint8_t b1 = zeta(p, pos + 1), b2 = zeta(p, pos + 2);
    unsigned n1 = b1 & 15, n2 = b1 >> 4, n3 = b2 & 15;
    unsigned A = clampreg(n1), B = clampreg(n2), D = clampreg(n3);
    bool a_in_b = A == B, a_in_bd = A == B || A == D;
    uint64_t ovb1 = a_in_b ? 1 : 2, ovb2 = a_in_b ? 2 : 3;   /* ov(1|2), ov(2|3), sources B */
    uint64_t ovd1 = a_in_bd ? 1 : 2, ovd2 = a_in_bd ? 2 : 3; /* the same with sources B, D */
    ins in;
#define ROW(c, s, src, dst) do { r.cycles = (c); r.slots = (s); r.srcs = (src); r.dst_a = (dst); } while (0)
    switch (op) {
    case 0: case 1: ROW(2, 1, SRC_NONE, false); break;
    case 2: ROW(40, 1, SRC_NONE, false); break;
    case 3: case 10: ROW(100, 4, SRC_NONE, false); break;
    case 40: ROW(15, 1, SRC_NONE, false); break;
    case 80: ROW(15, 1, SRC_NONE, true); break;
    case 50: ROW(22, 1, SRC_NONE, false); break;
    case 180: ROW(22, 1, SRC_B, true); break;
    case 81: case 82: case 83: case 84: case 85: case 86: case 87: case 88: case 89: case 90:
        decode(p, pos, &in);
        ROW(br_cycles(p, in.t), 1, SRC_A, false);
        break;
    case 170: case 171: case 172: case 173: case 174: case 175:
        decode(p, pos, &in);
        ROW(br_cycles(p, in.t), 1, SRC_AB, false);
        break;
    case 52: case 53: case 54: case 55: case 56: case 57: case 58:
    case 124: case 125: case 126: case 127: case 128: case 129: case 130:
        ROW(p->M, 1, SRC_B, true); break;
    case 59: case 60: case 61: case 62: case 120: case 121: case 122: case 123:
        ROW(p->M, 1, SRC_AB, false); break;
    case 30: case 31: case 32: case 33: ROW(p->M, 1, SRC_NONE, false); break;
    case 70: case 71: case 72: case 73: ROW(p->M, 1, SRC_A, false); break;
    case 51: ROW(1, 1, SRC_NONE, true); break;
    case 20: ROW(1, 2, SRC_NONE, true); break;
    case 100: ROW(0, 1, SRC_B, true); r.move = true; break;
    case 101: ROW(2, 1, SRC_NONE, false); break;
    case 102: case 103: case 104: case 105: case 108: case 109: case 111: ROW(1, 1, SRC_B, true); break;
    case 106: case 107: ROW(2, 1, SRC_B, true); break;
    case 110: case 132: case 133: case 134: case 149: case 151: case 152: case 153: case 158:
        ROW(1, ovb1, SRC_B, true); break;
    case 131: case 138: case 139: case 140: case 160: ROW(2, ovb2, SRC_B, true); break;
    case 135: ROW(4, ovb2, SRC_B, true); break;
    case 150: ROW(3, ovb1, SRC_B, true); break;
    case 136: case 137: case 142: case 143: ROW(3, 3, SRC_B, true); break;
    case 141: ROW(3, 4, SRC_B, true); break;
    case 154: ROW(2, 3, SRC_B, true); break;
    case 144: case 145: case 146: case 161: ROW(2, 4, SRC_B, true); break;
    case 155: case 156: case 157: case 159: ROW(1, 3, SRC_B, true); break;
    case 147: case 148: ROW(2, 3, SRC_B, true); break;
    case 190: case 191: ROW(2, ovd2, SRC_BD, true); break;
    case 192: ROW(4, ovd2, SRC_BD, true); break;
    case 200: case 201: case 210: case 211: case 212: ROW(1, ovd1, SRC_BD, true); break;
    case 202: ROW(3, ovd1, SRC_BD, true); break;
    case 193: case 194: case 195: case 196: case 203: case 204: case 205: case 206:
        ROW(60, 4, SRC_BD, true); break;
    case 197: case 198: case 199: case 221: case 223: ROW(2, n2 == n1 ? 3 : 4, SRC_BD, true); break;
    case 207: case 208: case 209: case 220: case 222: ROW(1, n2 == n1 ? 2 : 3, SRC_BD, true); break;
    case 213: case 214: ROW(4, 4, SRC_BD, true); break;
    case 215: ROW(6, 4, SRC_BD, true); break;
    case 216: case 217: ROW(3, 3, SRC_BD, true); break;
    case 218: case 219: ROW(2, 2, SRC_BD, true); break;
    case 224: case 225: ROW(2, 3, SRC_BD, true); break;
    case 226: ROW(2, ovd2, SRC_BD, true); break;
    case 227: case 228: case 229: case 230: ROW(3, ovd2, SRC_BD, true); break;
    default: break;
    }
#undef ROW
    return r;
}

/* ---- pvm.md §6.1, §7.2, §7.3: costing a block by walking it -------------------------------- */

static bool block_ends_at(const ref_program *p, uint64_t pos)
{
    return pos == p->L || (valid_start(p, pos) && terminator(p->profile, p->code[pos]));
}

static uint64_t cost_instr(const ref_program *p, uint64_t b)
{
    uint64_t n = 0;
    for (uint64_t pos = b;; pos = next_pos(p, pos)) {
        n++;
        if (block_ends_at(p, pos))
            return n;
    }
}

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static uint64_t cost_pipeline(const ref_program *p, uint64_t b)
{
    uint64_t ready[JAVM_NUM_REGS] = { 0 };
    uint64_t cycle = 0, used = 0, max_done = 0;
    for (uint64_t pos = b;; pos = next_pos(p, pos)) {
        row r = row_for(p, pos);
        if (used >= 4) {
            cycle++;
            used = r.slots;
        } else {
            used += r.slots;
        }
        /* Raw roles (§7.2): A, B, D from the nibbles whatever the real operands are. */
        uint8_t b1 = zeta(p, pos + 1), b2 = zeta(p, pos + 2);
        unsigned A = clampreg(b1 & 15), B = clampreg(b1 >> 4), D = clampreg(b2 & 15);
        if (pos == p->L || !bit(p, pos))
            A = B = D = 0; /* such rows have no sources or destinations; values unused */
        if (r.move) {
            ready[A] = ready[B];
        } else {
            uint64_t start = cycle;
            if (r.srcs == SRC_A || r.srcs == SRC_AB)
                start = max64(start, ready[A]);
            if (r.srcs == SRC_B || r.srcs == SRC_AB || r.srcs == SRC_BD)
                start = max64(start, ready[B]);
            if (r.srcs == SRC_BD)
                start = max64(start, ready[D]);
            uint64_t done = start + r.cycles;
            if (r.dst_a)
                ready[A] = done;
            max_done = max64(max_done, done);
        }
        if (block_ends_at(p, pos))
            break;
    }
    return max_done > 3 ? max_done - 3 : 1;
}

uint64_t ref_block_cost(const ref_program *p, uint64_t pos, javm_gas_model model)
{
    if (!block_start(p, pos))
        return 0;
    return model == JAVM_GAS_PIPELINE ? cost_pipeline(p, pos) : cost_instr(p, pos);
}

/* ---- pvm.md §2.4: guest memory accesses ---------------------------------------------------- */

/* The checks of §2.4 byte by byte: the lowest in-range byte lacking the permission faults,
 * otherwise a range passing 2^32 panics. Returns true when the access may proceed. */
static bool mem_check(const javm_memory *m, uint32_t a, unsigned n, bool write, javm_exit *ex)
{
    for (uint64_t x = a; x < (uint64_t)a + n && x < (UINT64_C(1) << 32); x++) {
        javm_perm perm = javm_memory_get_perm(m, (uint32_t)(x >> 12));
        if (perm == JAVM_PERM_NONE || (write && perm != JAVM_PERM_RW)) {
            ex->reason = JAVM_EXIT_PAGE_FAULT;
            ex->arg = (uint32_t)(x & ~UINT64_C(0xFFF));
            return false;
        }
    }
    if ((uint64_t)a + n > (UINT64_C(1) << 32)) {
        ex->reason = JAVM_EXIT_PANIC;
        ex->arg = 0;
        return false;
    }
    return true;
}

/* The checked access itself goes through the guest-checked path, which marks dirty pages;
 * if it disagreed with the check above, the memory object and pvm.md disagree: stop loudly. */
static bool load(javm_state *st, uint32_t a, unsigned n, uint64_t *v, javm_exit *ex)
{
    uint8_t buf[8];
    if (!mem_check(st->mem, a, n, false, ex))
        return false;
    if (javm_memory_read(st->mem, a, n, buf) != JAVM_OK) {
        fprintf(stderr, "ref: javm_memory_read refused a permitted read at 0x%x\n", a);
        abort();
    }
    *v = 0;
    for (unsigned i = 0; i < n; i++)
        *v |= (uint64_t)buf[i] << (8 * i);
    return true;
}

static bool store(javm_state *st, uint32_t a, unsigned n, uint64_t v, javm_exit *ex)
{
    uint8_t buf[8];
    if (!mem_check(st->mem, a, n, true, ex))
        return false;
    for (unsigned i = 0; i < n; i++)
        buf[i] = (uint8_t)(v >> (8 * i));
    if (javm_memory_write(st->mem, a, n, buf) != JAVM_OK) {
        fprintf(stderr, "ref: javm_memory_write refused a permitted write at 0x%x\n", a);
        abort();
    }
    return true;
}

/* ---- pvm.md §5: arithmetic, all in unsigned C arithmetic ----------------------------------- */

static bool lt_s(uint64_t a, uint64_t b)
{
    bool na = a >> 63, nb = b >> 63;
    return na != nb ? na : a < b;
}

/* s64(x) >> s, arithmetic, for s in 0..63. */
static uint64_t sar(uint64_t x, unsigned s)
{
    uint64_t r = x >> s;
    if ((x >> 63) && s)
        r |= ~(UINT64_MAX >> s);
    return r;
}

static uint64_t rotr64(uint64_t x, unsigned s)
{
    s %= 64;
    return s ? (x >> s) | (x << (64 - s)) : x;
}

static uint64_t rotr32(uint64_t x, unsigned s)
{
    uint32_t v = (uint32_t)x;
    s %= 32;
    return sx32(s ? (v >> s) | (v << (32 - s)) : v);
}

static uint64_t rotl64(uint64_t x, unsigned s) { return rotr64(x, (64 - s % 64) % 64); }
static uint64_t rotl32(uint64_t x, unsigned s) { return rotr32(x, (32 - s % 32) % 32); }

/* Bits 64..127 of a · b by 32-bit schoolbook limbs. */
static uint64_t mul_hi_uu(uint64_t a, uint64_t b)
{
    uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32, b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
    return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* Signed forms through a 128-bit product of the sign-extended values (no overflow possible);
 * the unsigned cast then gives bits 64..127 of the two's-complement product. */
static uint64_t mul_hi_ss(uint64_t a, uint64_t b)
{
    __int128 pr = (__int128)(int64_t)a * (__int128)(int64_t)b;
    return (uint64_t)((unsigned __int128)pr >> 64);
}

static uint64_t mul_hi_su(uint64_t a, uint64_t b)
{
    __int128 pr = (__int128)(int64_t)a * (__int128)b;
    return (uint64_t)((unsigned __int128)pr >> 64);
}

static uint64_t div_u32(uint64_t a, uint64_t b)
{
    uint32_t x = (uint32_t)a, y = (uint32_t)b;
    return y == 0 ? UINT64_MAX : sx32(x / y);
}

static uint64_t div_s32(uint64_t a, uint64_t b)
{
    int32_t x = (int32_t)(uint32_t)a, y = (int32_t)(uint32_t)b;
    if (y == 0)
        return UINT64_MAX;
    if (x == INT32_MIN && y == -1)
        return sx32(a);
    return (uint64_t)(int64_t)(x / y);
}

static uint64_t rem_u32(uint64_t a, uint64_t b)
{
    uint32_t x = (uint32_t)a, y = (uint32_t)b;
    return y == 0 ? sx32(x) : sx32(x % y);
}

static uint64_t rem_s32(uint64_t a, uint64_t b)
{
    int32_t x = (int32_t)(uint32_t)a, y = (int32_t)(uint32_t)b;
    if (x == INT32_MIN && y == -1)
        return 0;
    if (y == 0)
        return sx32(a);
    return (uint64_t)(int64_t)(x % y);
}

static uint64_t div_s64(uint64_t a, uint64_t b)
{
    if (b == 0)
        return UINT64_MAX;
    if (a == (UINT64_C(1) << 63) && b == UINT64_MAX)
        return a;
    return (uint64_t)((int64_t)a / (int64_t)b);
}

static uint64_t rem_s64(uint64_t a, uint64_t b)
{
    if (a == (UINT64_C(1) << 63) && b == UINT64_MAX)
        return 0;
    if (b == 0)
        return a;
    return (uint64_t)((int64_t)a % (int64_t)b);
}

static uint64_t popcount(uint64_t v)
{
    uint64_t n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static uint64_t clz(uint64_t v, unsigned width)
{
    uint64_t n = 0;
    for (int i = (int)width - 1; i >= 0 && !((v >> i) & 1); i--)
        n++;
    return n;
}

static uint64_t ctz(uint64_t v, unsigned width)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < width && !((v >> i) & 1); i++)
        n++;
    return n;
}

static uint64_t bswap(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 8; i++)
        r |= ((v >> (8 * i)) & 0xFF) << (8 * (7 - i));
    return r;
}

/* ---- pvm.md §2.5, §3, §6: the run loop ----------------------------------------------------- */

static javm_exit mkexit(javm_exit_reason r, uint32_t arg)
{
    javm_exit e = { r, arg };
    return e;
}

/* Where the instruction sends execution, for the loop to arrive there. */
typedef enum flow { FLOW_NEXT, FLOW_GOTO, FLOW_EXIT } flow;

/* branch(T) of §6.2: arrive at T, or Panic at the branch. */
static flow branch(const ref_program *p, uint64_t t, uint64_t *dest, javm_exit *ex)
{
    if (!branch_target(p, t)) {
        *ex = mkexit(JAVM_EXIT_PANIC, 0);
        return FLOW_EXIT;
    }
    *dest = t;
    return FLOW_GOTO;
}

/* djump(t) of §6.3. */
static flow djump(const ref_program *p, uint32_t t, uint64_t *dest, javm_exit *ex)
{
    if (p->profile == JAVM_PROFILE_GP && t == 0xFFFF0000u) {
        *ex = mkexit(JAVM_EXIT_HALT, 0);
        return FLOW_EXIT;
    }
    if (t == 0 || t % 2 != 0 || (uint64_t)t > 2 * p->njt) {
        *ex = mkexit(JAVM_EXIT_PANIC, 0);
        return FLOW_EXIT;
    }
    return branch(p, p->jt[t / 2 - 1], dest, ex);
}

/* Executes a decoded instruction (from a valid instruction start). Registers and memory change
 * here; pc, gas and steps are the caller's. */
static flow exec_one(const ref_program *p, javm_state *st, const ins *in, uint64_t *dest,
                     javm_exit *ex)
{
    uint64_t *r = st->regs;
    uint64_t a = r[in->ra], b = r[in->rb], x = in->x, y = in->y;
    uint64_t v;
    bool javm = p->profile == JAVM_PROFILE_JAVM;
    switch (in->op) {
    /* NoArgs, OneImm (handler calls are the caller's: see ref_run) */
    case 0:
        *ex = mkexit(javm ? JAVM_EXIT_TRAP : JAVM_EXIT_PANIC, 0);
        return FLOW_EXIT;
    case 1: case 2:
        return FLOW_NEXT;
    /* immediate loads, stores, jumps */
    case 20: case 51: r[in->ra] = x; return FLOW_NEXT;
    case 30: return store(st, (uint32_t)x, 1, y, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 31: return store(st, (uint32_t)x, 2, y, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 32: return store(st, (uint32_t)x, 4, y, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 33: return store(st, (uint32_t)x, 8, y, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 40: return branch(p, in->t, dest, ex);
    case 50: return djump(p, (uint32_t)(a + x), dest, ex);
    case 52: case 53: case 54: case 55: case 56: case 57: case 58: {
        static const unsigned width[] = { 1, 1, 2, 2, 4, 4, 8 };
        unsigned n = width[in->op - 52];
        if (!load(st, (uint32_t)x, n, &v, ex))
            return FLOW_EXIT;
        r[in->ra] = (in->op == 53 || in->op == 55 || in->op == 57) ? sx(n, v) : v;
        return FLOW_NEXT;
    }
    case 59: return store(st, (uint32_t)x, 1, a, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 60: return store(st, (uint32_t)x, 2, a, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 61: return store(st, (uint32_t)x, 4, a, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 62: return store(st, (uint32_t)x, 8, a, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 70: return store(st, (uint32_t)(a + x), 1, y, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 71: return store(st, (uint32_t)(a + x), 2, y, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 72: return store(st, (uint32_t)(a + x), 4, y, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 73: return store(st, (uint32_t)(a + x), 8, y, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 80:
        r[in->ra] = x;  /* written even when the branch panics */
        return branch(p, in->t, dest, ex);
    case 81: case 82: case 83: case 84: case 85: case 86: case 87: case 88: case 89: case 90: {
        bool c;
        switch (in->op) {
        case 81: c = a == x; break;
        case 82: c = a != x; break;
        case 83: c = a < x; break;
        case 84: c = a <= x; break;
        case 85: c = a >= x; break;
        case 86: c = a > x; break;
        case 87: c = lt_s(a, x); break;
        case 88: c = !lt_s(x, a); break;
        case 89: c = !lt_s(a, x); break;
        default: c = lt_s(x, a); break;
        }
        return c ? branch(p, in->t, dest, ex) : FLOW_NEXT;
    }
    /* TwoReg: source φ[rA], destination φ[rD] */
    case 100: r[in->rd] = a; return FLOW_NEXT;
    case 101: *ex = mkexit(JAVM_EXIT_PANIC, 0); return FLOW_EXIT;
    case 102: r[in->rd] = popcount(a); return FLOW_NEXT;
    case 103: r[in->rd] = popcount(a & 0xFFFFFFFFu); return FLOW_NEXT;
    case 104: r[in->rd] = clz(a, 64); return FLOW_NEXT;
    case 105: r[in->rd] = clz(a & 0xFFFFFFFFu, 32); return FLOW_NEXT;
    case 106: r[in->rd] = ctz(a, 64); return FLOW_NEXT;
    case 107: r[in->rd] = ctz(a & 0xFFFFFFFFu, 32); return FLOW_NEXT;
    case 108: r[in->rd] = sx(1, a & 0xFF); return FLOW_NEXT;
    case 109: r[in->rd] = sx(2, a & 0xFFFF); return FLOW_NEXT;
    case 110: r[in->rd] = a & 0xFFFF; return FLOW_NEXT;
    case 111: r[in->rd] = bswap(a); return FLOW_NEXT;
    /* TwoRegOneImm: a = φ[rA], b = φ[rB]; result φ[rA] */
    case 120: return store(st, (uint32_t)(b + x), 1, a, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 121: return store(st, (uint32_t)(b + x), 2, a, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 122: return store(st, (uint32_t)(b + x), 4, a, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 123: return store(st, (uint32_t)(b + x), 8, a, ex) ? FLOW_NEXT : FLOW_EXIT;
    case 124: case 125: case 126: case 127: case 128: case 129: case 130: {
        static const unsigned width[] = { 1, 1, 2, 2, 4, 4, 8 };
        unsigned n = width[in->op - 124];
        if (!load(st, (uint32_t)(b + x), n, &v, ex))
            return FLOW_EXIT;
        r[in->ra] = (in->op == 125 || in->op == 127 || in->op == 129) ? sx(n, v) : v;
        return FLOW_NEXT;
    }
    case 131: r[in->ra] = sx32(b + x); return FLOW_NEXT;
    case 132: r[in->ra] = b & x; return FLOW_NEXT;
    case 133: r[in->ra] = b ^ x; return FLOW_NEXT;
    case 134: r[in->ra] = b | x; return FLOW_NEXT;
    case 135: r[in->ra] = sx32(b * x); return FLOW_NEXT;
    case 136: r[in->ra] = b < x; return FLOW_NEXT;
    case 137: r[in->ra] = lt_s(b, x); return FLOW_NEXT;
    case 138: r[in->ra] = sx32((uint32_t)b << (x % 32)); return FLOW_NEXT;
    case 139: r[in->ra] = sx32((uint32_t)b >> (x % 32)); return FLOW_NEXT;
    case 140: r[in->ra] = sar(sx32(b), (unsigned)(x % 32)); return FLOW_NEXT;
    case 141: r[in->ra] = sx32(x - b); return FLOW_NEXT;
    case 142: r[in->ra] = b > x; return FLOW_NEXT;
    case 143: r[in->ra] = lt_s(x, b); return FLOW_NEXT;
    case 144: r[in->ra] = sx32((uint32_t)x << (b % 32)); return FLOW_NEXT;
    case 145: r[in->ra] = sx32((uint32_t)x >> (b % 32)); return FLOW_NEXT;
    case 146: r[in->ra] = sar(sx32(x), (unsigned)(b % 32)); return FLOW_NEXT;
    case 147: if (b == 0) r[in->ra] = x; return FLOW_NEXT;
    case 148: if (b != 0) r[in->ra] = x; return FLOW_NEXT;
    case 149: r[in->ra] = b + x; return FLOW_NEXT;
    case 150: r[in->ra] = b * x; return FLOW_NEXT;
    case 151: r[in->ra] = b << (x % 64); return FLOW_NEXT;
    case 152: r[in->ra] = b >> (x % 64); return FLOW_NEXT;
    case 153: r[in->ra] = sar(b, (unsigned)(x % 64)); return FLOW_NEXT;
    case 154: r[in->ra] = x - b; return FLOW_NEXT;
    case 155: r[in->ra] = x << (b % 64); return FLOW_NEXT;
    case 156: r[in->ra] = x >> (b % 64); return FLOW_NEXT;
    case 157: r[in->ra] = sar(x, (unsigned)(b % 64)); return FLOW_NEXT;
    case 158: r[in->ra] = rotr64(b, (unsigned)(x % 64)); return FLOW_NEXT;
    case 159: r[in->ra] = rotr64(x, (unsigned)(b % 64)); return FLOW_NEXT;
    case 160: r[in->ra] = rotr32(b, (unsigned)(x % 32)); return FLOW_NEXT;
    case 161: r[in->ra] = rotr32(x, (unsigned)(b % 32)); return FLOW_NEXT;
    /* TwoRegOneOffset */
    case 170: return a == b ? branch(p, in->t, dest, ex) : FLOW_NEXT;
    case 171: return a != b ? branch(p, in->t, dest, ex) : FLOW_NEXT;
    case 172: return a < b ? branch(p, in->t, dest, ex) : FLOW_NEXT;
    case 173: return lt_s(a, b) ? branch(p, in->t, dest, ex) : FLOW_NEXT;
    case 174: return a >= b ? branch(p, in->t, dest, ex) : FLOW_NEXT;
    case 175: return !lt_s(a, b) ? branch(p, in->t, dest, ex) : FLOW_NEXT;
    /* TwoRegTwoImm: the old φ[rB] is read before φ[rA] is written */
    case 180: {
        uint32_t t = (uint32_t)(b + y);
        r[in->ra] = x;
        return djump(p, t, dest, ex);
    }
    default:
        break;
    }
    /* ThreeReg: a = φ[rA], b = φ[rB]; result φ[rD] */
    uint64_t *d = &r[in->rd];
    switch (in->op) {
    case 190: *d = sx32(a + b); break;
    case 191: *d = sx32(a - b); break;
    case 192: *d = sx32(a * b); break;
    case 193: *d = div_u32(a, b); break;
    case 194: *d = div_s32(a, b); break;
    case 195: *d = rem_u32(a, b); break;
    case 196: *d = rem_s32(a, b); break;
    case 197: *d = sx32((uint32_t)a << (b % 32)); break;
    case 198: *d = sx32((uint32_t)a >> (b % 32)); break;
    case 199: *d = sar(sx32(a), (unsigned)(b % 32)); break;
    case 200: *d = a + b; break;
    case 201: *d = a - b; break;
    case 202: *d = a * b; break;
    case 203: *d = b == 0 ? UINT64_MAX : a / b; break;
    case 204: *d = div_s64(a, b); break;
    case 205: *d = b == 0 ? a : a % b; break;
    case 206: *d = rem_s64(a, b); break;
    case 207: *d = a << (b % 64); break;
    case 208: *d = a >> (b % 64); break;
    case 209: *d = sar(a, (unsigned)(b % 64)); break;
    case 210: *d = a & b; break;
    case 211: *d = a ^ b; break;
    case 212: *d = a | b; break;
    case 213: *d = mul_hi_ss(a, b); break;
    case 214: *d = mul_hi_uu(a, b); break;
    case 215: *d = mul_hi_su(a, b); break;
    case 216: *d = a < b; break;
    case 217: *d = lt_s(a, b); break;
    case 218: if (b == 0) *d = a; break;
    case 219: if (b != 0) *d = a; break;
    case 220: *d = rotl64(a, (unsigned)(b % 64)); break;
    case 221: *d = rotl32(a, (unsigned)(b % 32)); break;
    case 222: *d = rotr64(a, (unsigned)(b % 64)); break;
    case 223: *d = rotr32(a, (unsigned)(b % 32)); break;
    case 224: *d = a & ~b; break;
    case 225: *d = a | ~b; break;
    case 226: *d = ~(a ^ b); break;
    case 227: *d = lt_s(a, b) ? b : a; break;
    case 228: *d = a < b ? b : a; break;
    case 229: *d = lt_s(a, b) ? a : b; break;
    case 230: *d = a < b ? a : b; break;
    default:
        /* ecall/ecalli are handled by the caller; nothing else reaches here. */
        *ex = mkexit(JAVM_EXIT_PANIC, 0);
        return FLOW_EXIT;
    }
    return FLOW_NEXT;
}

javm_exit ref_run(const ref_program *p, javm_state *st, javm_gas_model model, javm_handler h,
                  void *user)
{
    uint64_t pos = st->pc;
    javm_exit ex;
    /* A run that starts beyond L or at a position whose bitmask bit is 0 has nothing to
     * dispatch: it panics at once and counts no step (an arrival there later in a run, by
     * sequential flow, does count: it is where the run ended). */
    if (pos > p->L || (pos < p->L && !bit(p, pos)))
        return mkexit(JAVM_EXIT_PANIC, 0);
    for (;;) {
        /* §2.5 step 1: arrival at a block start charges it (§7.1). */
        if (block_start(p, pos)) {
            uint64_t cost = model == JAVM_GAS_PIPELINE ? cost_pipeline(p, pos) : cost_instr(p, pos);
            if (st->gas < 0 || (uint64_t)st->gas < cost) {
                st->pc = (uint32_t)pos;
                return mkexit(JAVM_EXIT_OUT_OF_GAS, 0);
            }
            st->gas -= (int64_t)cost;
        }
        st->steps++;
        st->pc = (uint32_t)pos;
        /* step 2: the implicit trap at L */
        if (pos == p->L)
            return mkexit(p->profile == JAVM_PROFILE_JAVM ? JAVM_EXIT_TRAP : JAVM_EXIT_PANIC, 0);
        /* step 3: not an instruction */
        if (!valid_start(p, pos))
            return mkexit(JAVM_EXIT_PANIC, 0);
        /* step 4 */
        ins in;
        decode(p, pos, &in);
        uint64_t next = pos + 1 + in.len;
        if (in.op == 3 || in.op == 10) {
            /* §3.2: pc is next(n) before the handler runs, whatever it answers. */
            javm_call_kind kind = in.op == 3 ? JAVM_CALL_ECALL : JAVM_CALL_ECALLI;
            uint32_t imm = in.op == 3 ? 0 : (uint32_t)in.x;
            st->pc = (uint32_t)next;
            if (!h)
                return kind == JAVM_CALL_ECALL ? mkexit(JAVM_EXIT_ECALL, 0)
                                               : mkexit(JAVM_EXIT_HOST_CALL, imm);
            javm_answer ans = h(user, kind, imm, st->regs, st->mem, &st->gas);
            if (!ans.cont)
                return ans.exit;
            pos = next;
            continue;
        }
        uint64_t dest = 0;
        switch (exec_one(p, st, &in, &dest, &ex)) {
        case FLOW_NEXT: pos = next; break;
        case FLOW_GOTO: pos = dest; break;
        case FLOW_EXIT: return ex;
        }
    }
}

/* ---- pvm.md §9.1, §9.2: preparation -------------------------------------------------------- */

int ref_prepare(const uint8_t *code, uint64_t L, const uint8_t *bitmask, const uint32_t *entries,
                uint64_t n, javm_profile profile, uint32_t M, ref_program *out)
{
    if (!out)
        return JAVM_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (M == 0)
        M = 25;
    if ((L && (!code || !bitmask)) || (n && !entries) ||
        (profile != JAVM_PROFILE_JAVM && profile != JAVM_PROFILE_GP) || M > JAVM_MAX_MEM_LATENCY)
        return JAVM_ERR_INVALID_ARG;
    if (L > JAVM_MAX_CODE_SIZE)
        return JAVM_ERR_CODE_TOO_LARGE;
    if (n > JAVM_MAX_JUMP_TABLE)
        return JAVM_ERR_JT_TOO_LARGE;
    uint64_t klen = (L + 7) / 8;
    for (uint64_t i = L; i < 8 * klen; i++)
        if ((bitmask[i / 8] >> (i % 8)) & 1)
            return JAVM_ERR_BITMASK_PADDING;
    for (uint64_t i = 0; i < n; i++)
        if (entries[i] >= L)
            return JAVM_ERR_JT_ENTRY;
    /* +1 so that empty parts still get a non-NULL allocation */
    out->code = malloc(L + 1);
    out->bitmask = malloc(klen + 1);
    out->jt = malloc((n + 1) * sizeof *out->jt);
    if (!out->code || !out->bitmask || !out->jt) {
        ref_free(out);
        return JAVM_ERR_ALLOC;
    }
    if (L) {
        memcpy(out->code, code, L);
        memcpy(out->bitmask, bitmask, klen);
    }
    if (n)
        memcpy(out->jt, entries, n * sizeof *entries);
    out->L = L;
    out->njt = n;
    out->profile = profile;
    out->M = M;
    return JAVM_OK;
}

void ref_free(ref_program *p)
{
    if (!p)
        return;
    free(p->code);
    free(p->bitmask);
    free(p->jt);
    memset(p, 0, sizeof *p);
}

/* §9.1: l = leading one bits of the first byte; canonical means no shorter form fits. */
static int varint(const uint8_t *b, size_t len, size_t *pos, uint64_t *out)
{
    if (*pos >= len)
        return JAVM_ERR_BLOB_TRUNCATED;
    uint8_t f = b[(*pos)++];
    unsigned l = 0;
    while (l < 8 && ((f << l) & 0x80))
        l++;
    if (len - *pos < l)
        return JAVM_ERR_BLOB_TRUNCATED;
    uint64_t tail = 0;
    for (unsigned i = 0; i < l; i++)
        tail |= (uint64_t)b[*pos + i] << (8 * i);
    *pos += l;
    uint64_t x;
    if (l == 0)
        x = f;
    else if (l == 8)
        x = tail;
    else
        x = ((uint64_t)(f & ((1u << (7 - l)) - 1)) << (8 * l)) + tail;
    /* the form with l extra bytes is used for 2^(7l) <= x; below that a shorter one fits */
    if (l >= 1 && x < (UINT64_C(1) << (7 * l)))
        return JAVM_ERR_BLOB_VARINT;
    *out = x;
    return JAVM_OK;
}

int ref_prepare_blob(const uint8_t *blob, size_t len, javm_profile profile, uint32_t M,
                     ref_program *out)
{
    size_t pos = 0;
    uint64_t njt, L;
    int rc;
    if (out)
        memset(out, 0, sizeof *out);
    if (!blob && len)
        return JAVM_ERR_INVALID_ARG;
    if ((rc = varint(blob, len, &pos, &njt)) != JAVM_OK)
        return rc;
    if (pos >= len)
        return JAVM_ERR_BLOB_TRUNCATED;
    uint64_t z = blob[pos++];
    if ((rc = varint(blob, len, &pos, &L)) != JAVM_OK)
        return rc;
    if (njt > UINT32_MAX || L > UINT32_MAX)
        return JAVM_ERR_BLOB_TOO_LARGE;
    if (z > 4 || (z == 0 && njt > 0))
        return JAVM_ERR_BLOB_JT_WIDTH;
    /* sizes are below 2^32 each, so their sums cannot wrap in 64 bits */
    uint64_t left = len - pos, klen = (L + 7) / 8;
    if (njt * z > left || njt * z + L > left || njt * z + L + klen > left)
        return JAVM_ERR_BLOB_TRUNCATED;
    if (njt * z + L + klen != left)
        return JAVM_ERR_BLOB_TRAILING;
    if (njt > JAVM_MAX_JUMP_TABLE)
        return JAVM_ERR_JT_TOO_LARGE;
    uint32_t *entries = malloc((size_t)(njt + 1) * sizeof *entries);
    if (!entries)
        return JAVM_ERR_ALLOC;
    for (uint64_t i = 0; i < njt; i++) {
        uint32_t e = 0;
        for (uint64_t k = 0; k < z; k++)
            e |= (uint32_t)blob[pos + i * z + k] << (8 * k);
        entries[i] = e;
    }
    pos += njt * z;
    rc = ref_prepare(blob + pos, L, blob + pos + L, entries, njt, profile, M, out);
    free(entries);
    return rc;
}
