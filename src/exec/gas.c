/* SPDX-License-Identifier: MIT
 * exec/gas.c — block costs under the two gas models (pvm.md §7): the JAVM pipeline model,
 * a cycle estimate of an in-order-issue, out-of-order-complete core with four decode slots,
 * and the instruction-count model. Computed once per block start in javm_prepare. */
#include "exec/exec.h"

/* One row of the pipeline table (pvm.md §7.2). */
typedef struct gas_row {
    uint32_t cycles;
    uint32_t slots;
    uint8_t srcs;     /* bit 0: B is a source; bit 1: D is a source; bit 2: A is a source */
    bool dst_a;       /* A is written */
    bool move;        /* move_reg: ready[A] = ready[B] */
} gas_row;

enum { SRC_B = 1, SRC_D = 2, SRC_A = 4 };

bool exec_branch_target(const exec_code *cd, uint64_t pc, uint32_t *target)
{
    const uint8_t *c = cd->c;
    uint32_t l = exec_skip(cd, pc);
    uint64_t off;
    switch (exec_op_class(c[pc])) {
    case EXEC_CLS_ONEOFF: {
        unsigned lx = l < 4 ? l : 4;
        off = exec_sx(lx, exec_le(c, pc + 1, lx));
        break;
    }
    case EXEC_CLS_ONEREG_IMM_OFF: {
        unsigned lx = (c[pc + 1] >> 4) & 7;
        lx = lx < 4 ? lx : 4;
        int64_t rest = (int64_t)l - (int64_t)lx - 1;
        unsigned ly = rest < 0 ? 0 : rest > 4 ? 4 : (unsigned)rest;
        off = exec_sx(ly, exec_le(c, pc + 2 + lx, ly));
        break;
    }
    case EXEC_CLS_TWOREG_ONEOFF: {
        unsigned lx = l == 0 ? 0 : l - 1 > 4 ? 4 : l - 1;
        off = exec_sx(lx, exec_le(c, pc + 2, lx));
        break;
    }
    default:
        return false;
    }
    *target = (uint32_t)(pc + off);
    return true;
}

static uint32_t ov(uint8_t A, uint8_t B, uint8_t D, bool has_d, uint32_t x, uint32_t y)
{
    return (A == B || (has_d && A == D)) ? x : y;
}

static gas_row row_for(const exec_code *cd, uint64_t p, uint32_t M)
{
    gas_row r = { 1, 1, 0, false, false }; /* the "anything else" row */
    if (p >= cd->L) {
        r.cycles = 2; /* position L: the trap row */
        return r;
    }
    if (!exec_bit(cd, p))
        return r;
    const uint8_t *c = cd->c;
    uint8_t op = c[p];
    uint8_t n1 = c[p + 1] & 15, n2 = c[p + 1] >> 4, n3 = c[p + 2] & 15;
    uint8_t A = n1 < 12 ? n1 : 12, B = n2 < 12 ? n2 : 12, D = n3 < 12 ? n3 : 12;
#define ROW(cy, sl, sr, da) do { r.cycles = (cy); r.slots = (sl); r.srcs = (sr); r.dst_a = (da); } while (0)
    switch (op) {
    case 0: case 1: ROW(2, 1, 0, false); break;
    case 2: ROW(40, 1, 0, false); break;
    case 3: case 10: ROW(100, 4, 0, false); break;
    case 40: ROW(15, 1, 0, false); break;
    case 80: ROW(15, 1, 0, true); break;
    case 50: ROW(22, 1, 0, false); break;
    case 180: ROW(22, 1, SRC_B, true); break;
    case 81: case 82: case 83: case 84: case 85: case 86: case 87: case 88: case 89: case 90:
    case 170: case 171: case 172: case 173: case 174: case 175: {
        uint32_t t = 0, br = 20;
        if (exec_branch_target(cd, p, &t) && t < cd->L && exec_bit(cd, t) &&
            (c[t] == 0 || c[t] == 2))
            br = 1;
        ROW(br, 1, op >= 170 ? SRC_A | SRC_B : SRC_A, false);
        break;
    }
    case 52: case 53: case 54: case 55: case 56: case 57: case 58:
    case 124: case 125: case 126: case 127: case 128: case 129: case 130:
        ROW(M, 1, SRC_B, true); break;
    case 59: case 60: case 61: case 62: case 120: case 121: case 122: case 123:
        ROW(M, 1, SRC_A | SRC_B, false); break;
    case 30: case 31: case 32: case 33: ROW(M, 1, 0, false); break;
    case 70: case 71: case 72: case 73: ROW(M, 1, SRC_A, false); break;
    case 51: ROW(1, 1, 0, true); break;
    case 20: ROW(1, 2, 0, true); break;
    case 100: ROW(0, 1, SRC_B, true); r.move = true; break;
    case 101: ROW(2, 1, 0, false); break;
    case 102: case 103: case 104: case 105: case 108: case 109: case 111:
        ROW(1, 1, SRC_B, true); break;
    case 106: case 107: ROW(2, 1, SRC_B, true); break;
    case 110: case 132: case 133: case 134: case 149: case 151: case 152: case 153: case 158:
        ROW(1, ov(A, B, D, false, 1, 2), SRC_B, true); break;
    case 131: case 138: case 139: case 140: case 160:
        ROW(2, ov(A, B, D, false, 2, 3), SRC_B, true); break;
    case 135: ROW(4, ov(A, B, D, false, 2, 3), SRC_B, true); break;
    case 150: ROW(3, ov(A, B, D, false, 1, 2), SRC_B, true); break;
    case 136: case 137: case 142: case 143: ROW(3, 3, SRC_B, true); break;
    case 141: ROW(3, 4, SRC_B, true); break;
    case 154: ROW(2, 3, SRC_B, true); break;
    case 144: case 145: case 146: case 161: ROW(2, 4, SRC_B, true); break;
    case 155: case 156: case 157: case 159: ROW(1, 3, SRC_B, true); break;
    case 147: case 148: ROW(2, 3, SRC_B, true); break;
    case 190: case 191: ROW(2, ov(A, B, D, true, 2, 3), SRC_B | SRC_D, true); break;
    case 192: ROW(4, ov(A, B, D, true, 2, 3), SRC_B | SRC_D, true); break;
    case 200: case 201: case 210: case 211: case 212:
        ROW(1, ov(A, B, D, true, 1, 2), SRC_B | SRC_D, true); break;
    case 202: ROW(3, ov(A, B, D, true, 1, 2), SRC_B | SRC_D, true); break;
    case 193: case 194: case 195: case 196: case 203: case 204: case 205: case 206:
        ROW(60, 4, SRC_B | SRC_D, true); break;
    case 197: case 198: case 199: case 221: case 223:
        ROW(2, n2 == n1 ? 3 : 4, SRC_B | SRC_D, true); break;
    case 207: case 208: case 209: case 220: case 222:
        ROW(1, n2 == n1 ? 2 : 3, SRC_B | SRC_D, true); break;
    case 213: case 214: ROW(4, 4, SRC_B | SRC_D, true); break;
    case 215: ROW(6, 4, SRC_B | SRC_D, true); break;
    case 216: case 217: ROW(3, 3, SRC_B | SRC_D, true); break;
    case 218: case 219: ROW(2, 2, SRC_B | SRC_D, true); break;
    case 224: case 225: ROW(2, 3, SRC_B | SRC_D, true); break;
    case 226: ROW(2, ov(A, B, D, true, 2, 3), SRC_B | SRC_D, true); break;
    case 227: case 228: case 229: case 230:
        ROW(3, ov(A, B, D, true, 2, 3), SRC_B | SRC_D, true); break;
    default: break;
    }
#undef ROW
    return r;
}

void exec_block_costs(const exec_code *cd, uint64_t b, uint32_t M, uint64_t *pipe,
                      uint64_t *instr)
{
    uint64_t ready[13] = { 0 };
    uint64_t cycle = 0, used = 0, max_done = 0, count = 0;
    uint64_t p = b;
    for (;;) {
        gas_row row = row_for(cd, p, M);
        count++;
        if (used >= 4) {
            cycle++;
            used = row.slots;
        } else {
            used += row.slots;
        }
        const uint8_t *c = cd->c;
        uint8_t n1 = 0, n2 = 0, n3 = 0;
        if (p < cd->L) {
            n1 = c[p + 1] & 15;
            n2 = c[p + 1] >> 4;
            n3 = c[p + 2] & 15;
        }
        uint8_t A = n1 < 12 ? n1 : 12, B = n2 < 12 ? n2 : 12, D = n3 < 12 ? n3 : 12;
        if (row.move) {
            ready[A] = ready[B];
        } else {
            uint64_t start = cycle;
            if ((row.srcs & SRC_A) && ready[A] > start) start = ready[A];
            if ((row.srcs & SRC_B) && ready[B] > start) start = ready[B];
            if ((row.srcs & SRC_D) && ready[D] > start) start = ready[D];
            uint64_t done = start + row.cycles;
            if (row.dst_a)
                ready[A] = done;
            if (done > max_done)
                max_done = done;
        }
        if (exec_block_last(cd, p))
            break;
        p = p + 1 + exec_skip(cd, p);
    }
    *pipe = max_done > 3 ? max_done - 3 : 1;
    *instr = count;
}
