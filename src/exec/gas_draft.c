/* SPDX-License-Identifier: MIT
 * exec/gas_draft.c — the jam-draft gas model (shared/spec/gas.md): a block's cost is the
 * cycle count of a small out-of-order core (4 decode slots, 5 starts per cycle, a 32-entry
 * reorder buffer, a unit pool) simulated over the block's instructions. Computed once per
 * block start in javm_prepare (exec/prepare.c) or on demand (exec_block_cost_slow).
 *
 * The simulation is gas.md §5.3's micro-step loop, organised per cycle (decode as far as
 * the slots allow, then start in age order, then the end-of-cycle step) with one shortcut:
 * an idle cycle (nothing to decode, nothing startable, nothing to retire) is followed by
 * idle cycles until an executing instruction reaches its last cycle, so they are skipped in
 * one step. Loads (25 cycles) and divisions (60) made the plain loop spend ~80% of its time
 * counting down; the skip is what lets the model run at hundreds of MB of code per second
 * (bench/bench_gas.c). tests/ref/gas_ref.c is the literal transcription it is checked
 * against. */
#include "exec/exec.h"

/* ---- per-opcode parameters (gas.md §4) -------------------------------------------------- */

/* Register roles (gas.md §4.1): which raw fields are read and written. */
enum {
    ROLE_NONE = 0, /* no registers */
    ROLE_D_LO,     /* writes lo */
    ROLE_S_LO,     /* reads lo */
    ROLE_HI_LO,    /* reads hi, writes lo */
    ROLE_S_LOHI,   /* reads lo and hi */
    ROLE_3REG      /* reads lo and hi, writes d3 */
};

/* Decode-slot rules (gas.md §4.2, §4.3). */
enum { SL_FIXED = 0, SL_P, SL_PS };

/* Unit vectors (gas.md §4.3) as 8-bit lanes ALU, LOAD, STORE, MUL, DIV of a u64, so "units
 * <= free" is one subtraction with guard bits (see fits()). */
#define U_A UINT64_C(0x1)
#define U_L UINT64_C(0x100)
#define U_S UINT64_C(0x10000)
#define U_M UINT64_C(0x1000000)
#define U_D UINT64_C(0x100000000)
#define U_POOL (4 * U_A + 4 * U_L + 4 * U_S + U_M + U_D)
#define U_GUARD UINT64_C(0x8080808080)

enum { UN_NONE = 0, UN_A, UN_2A, UN_AL, UN_AS, UN_AM, UN_AD };
static const uint64_t unit_vec[] = { 0, U_A, 2 * U_A, U_A + U_L, U_A + U_S, U_A + U_M, U_A + U_D };

/* Latency markers: the load latency m and the branch latency br are not constants. */
enum { LAT_MEM = 255, LAT_BR = 254 };

typedef struct draft_row {
    uint8_t lat;     /* cycles, or LAT_MEM / LAT_BR; 0 = not a model opcode (reads as trap) */
    uint8_t rule;    /* SL_* */
    uint8_t sa, sb;  /* slots: fixed sa, or the a/b of P(a, b) / PS(a, b) */
    uint8_t units;   /* UN_* */
    uint8_t role;    /* ROLE_* */
    uint8_t flags;   /* F_* */
} draft_row;

enum { F_TERM = 1, F_BR = 2, F_MOVE = 4 };

#define R(l, r, a, b, u, ro, f) { (l), (r), (a), (b), (u), (ro), (f) }
#define FIX(l, s, u, ro) R(l, SL_FIXED, s, s, u, ro, 0)
#define OVP(l, a, b, u, ro) R(l, SL_P, a, b, u, ro, 0)
#define OVS(l, a, b, u, ro) R(l, SL_PS, a, b, u, ro, 0)

/* Every model opcode has exactly one row (gas.md §4.3); byte 2 is not a model opcode. */
static const draft_row rows[256] = {
    [0] = R(2, SL_FIXED, 1, 1, UN_NONE, ROLE_NONE, F_TERM),
    [1] = R(2, SL_FIXED, 1, 1, UN_NONE, ROLE_NONE, F_TERM),
    [3] = FIX(40, 1, UN_NONE, ROLE_NONE),
    [10] = FIX(100, 4, UN_A, ROLE_NONE),
    [20] = FIX(1, 2, UN_NONE, ROLE_D_LO),
    [30 ... 33] = FIX(25, 1, UN_AS, ROLE_NONE),
    [40] = R(15, SL_FIXED, 1, 1, UN_NONE, ROLE_NONE, F_TERM),
    [50] = R(22, SL_FIXED, 1, 1, UN_NONE, ROLE_S_LO, F_TERM),
    [51] = FIX(1, 1, UN_NONE, ROLE_D_LO),
    [52 ... 58] = FIX(LAT_MEM, 1, UN_AL, ROLE_D_LO),
    [59 ... 62] = FIX(25, 1, UN_AS, ROLE_S_LO),
    [70 ... 73] = FIX(25, 1, UN_AS, ROLE_S_LO),
    [80] = R(15, SL_FIXED, 1, 1, UN_NONE, ROLE_D_LO, F_TERM),
    [81 ... 90] = R(LAT_BR, SL_FIXED, 1, 1, UN_A, ROLE_S_LO, F_TERM | F_BR),
    [100] = R(1, SL_FIXED, 1, 1, UN_NONE, ROLE_HI_LO, F_MOVE), /* lat unused: renamed */
    [101] = FIX(100, 4, UN_A, ROLE_HI_LO),
    [102 ... 105] = FIX(1, 1, UN_A, ROLE_HI_LO),
    [106 ... 107] = FIX(2, 1, UN_2A, ROLE_HI_LO),
    [108 ... 110] = FIX(1, 1, UN_A, ROLE_HI_LO),
    [111] = OVP(1, 1, 2, UN_A, ROLE_HI_LO),
    [120 ... 123] = FIX(25, 1, UN_AS, ROLE_S_LOHI),
    [124 ... 130] = FIX(LAT_MEM, 1, UN_AL, ROLE_HI_LO),
    [131] = OVP(2, 2, 3, UN_A, ROLE_HI_LO),
    [132 ... 134] = OVP(1, 1, 2, UN_A, ROLE_HI_LO),
    [135] = OVP(4, 2, 3, UN_AM, ROLE_HI_LO),
    [136 ... 137] = FIX(3, 3, UN_A, ROLE_HI_LO),
    [138 ... 140] = OVP(2, 2, 3, UN_A, ROLE_HI_LO),
    [141] = FIX(3, 4, UN_A, ROLE_HI_LO),
    [142 ... 143] = FIX(3, 3, UN_A, ROLE_HI_LO),
    [144 ... 146] = FIX(2, 4, UN_A, ROLE_HI_LO),
    [147 ... 148] = FIX(2, 3, UN_A, ROLE_HI_LO),
    [149] = OVP(1, 1, 2, UN_A, ROLE_HI_LO),
    [150] = OVP(3, 1, 2, UN_AM, ROLE_HI_LO),
    [151 ... 153] = OVP(1, 1, 2, UN_A, ROLE_HI_LO),
    [154] = FIX(2, 3, UN_A, ROLE_HI_LO),
    [155 ... 157] = FIX(1, 3, UN_A, ROLE_HI_LO),
    [158] = OVP(1, 1, 2, UN_A, ROLE_HI_LO),
    [159] = FIX(1, 3, UN_A, ROLE_HI_LO),
    [160] = OVP(2, 2, 3, UN_A, ROLE_HI_LO),
    [161] = FIX(2, 4, UN_A, ROLE_HI_LO),
    [170 ... 175] = R(LAT_BR, SL_FIXED, 1, 1, UN_A, ROLE_S_LOHI, F_TERM | F_BR),
    [180] = R(22, SL_FIXED, 1, 1, UN_NONE, ROLE_HI_LO, F_TERM),
    [190 ... 191] = OVP(2, 2, 3, UN_A, ROLE_3REG),
    [192] = OVP(4, 2, 3, UN_AM, ROLE_3REG),
    [193 ... 196] = FIX(60, 4, UN_AD, ROLE_3REG),
    [197 ... 199] = OVS(2, 3, 4, UN_A, ROLE_3REG),
    [200 ... 201] = OVP(1, 1, 2, UN_A, ROLE_3REG),
    [202] = OVP(3, 1, 2, UN_AM, ROLE_3REG),
    [203 ... 206] = FIX(60, 4, UN_AD, ROLE_3REG),
    [207 ... 209] = OVS(1, 2, 3, UN_A, ROLE_3REG),
    [210 ... 212] = OVP(1, 1, 2, UN_A, ROLE_3REG),
    [213 ... 214] = FIX(4, 4, UN_AM, ROLE_3REG),
    [215] = FIX(6, 4, UN_AM, ROLE_3REG),
    [216 ... 217] = FIX(3, 3, UN_A, ROLE_3REG),
    [218 ... 219] = FIX(2, 2, UN_A, ROLE_3REG),
    [220] = OVS(1, 2, 3, UN_A, ROLE_3REG),
    [221] = OVS(2, 3, 4, UN_A, ROLE_3REG),
    [222] = OVS(1, 2, 3, UN_A, ROLE_3REG),
    [223] = OVS(2, 3, 4, UN_A, ROLE_3REG),
    [224 ... 225] = FIX(2, 3, UN_A, ROLE_3REG),
    [226] = OVP(2, 2, 3, UN_A, ROLE_3REG),
    [227 ... 230] = OVP(3, 2, 3, UN_A, ROLE_3REG),
};

#undef R
#undef FIX
#undef OVP
#undef OVS

/* gas.md §1 valid(p): p < L, k[p] = 1 and c[p] a GP-compat opcode or 3. */
static inline bool draft_valid(const exec_code *cd, uint64_t p)
{
    return p < cd->L && exec_bit(cd, p) && exec_op_defined(cd->c[p], JAVM_PROFILE_JAM_DRAFT);
}

/* ζ[x]: the byte at x, 0 at or past L. */
static inline uint8_t zeta(const exec_code *cd, uint64_t x) { return x < cd->L ? cd->c[x] : 0; }

/* One decoded instruction of the block, as the simulation needs it. */
typedef struct draft_ins {
    uint32_t lat;
    uint32_t slots;
    uint64_t units;
    int8_t src0, src1, dst; /* registers, -1 for none */
    bool move, last;
} draft_ins;

/* next(p) with a word-wide bitmask read where the bitmask allows it (skip is ~1/3 of the
 * work per instruction otherwise). */
static inline uint64_t draft_next(const exec_code *cd, uint64_t p)
{
    uint64_t q = p + 1;
    uint64_t byte = q >> 3;
    if (q + 24 < cd->L && byte + 8 <= (cd->L + 7) / 8) {
        uint64_t w;
        memcpy(&w, cd->k + byte, 8);
        w >>= q & 7;            /* bit 0 = k[q]; at least 57 valid bits, all below L */
        w |= UINT64_C(1) << 24; /* skip is capped at 24 */
        return q + (uint64_t)__builtin_ctzll(w);
    }
    return q + exec_skip(cd, p);
}

/* Decodes position p of the block under model load latency m (gas.md §4). */
static void draft_decode(const exec_code *cd, uint64_t p, uint32_t m, draft_ins *in)
{
    uint8_t op = draft_valid(cd, p) ? cd->c[p] : 0;
    const draft_row *r = &rows[op];
    const uint8_t *c = cd->c; /* padded: reads at p + 1, p + 2 stay inside (ζ) */
    uint8_t b1 = p < cd->L ? c[p + 1] : 0, b2 = p < cd->L ? c[p + 2] : 0;
    int8_t lo = (int8_t)((b1 & 15) < 12 ? (b1 & 15) : 12);
    int8_t hi = (int8_t)((b1 >> 4) < 12 ? (b1 >> 4) : 12);
    int8_t d3 = (int8_t)(b2 < 12 ? b2 : 12);
    in->src0 = in->src1 = in->dst = -1;
    switch (r->role) {
    case ROLE_D_LO: in->dst = lo; break;
    case ROLE_S_LO: in->src0 = lo; break;
    case ROLE_HI_LO: in->src0 = hi; in->dst = lo; break;
    case ROLE_S_LOHI: in->src0 = lo; in->src1 = hi; break;
    case ROLE_3REG: in->src0 = lo; in->src1 = hi; in->dst = d3; break;
    default: break;
    }
    switch (r->rule) {
    case SL_P:
        in->slots = (in->dst >= 0 && (in->dst == in->src0 || in->dst == in->src1)) ? r->sa : r->sb;
        break;
    case SL_PS:
        in->slots = lo == d3 ? r->sa : r->sb;
        break;
    default:
        in->slots = r->sa;
        break;
    }
    in->lat = r->lat;
    if (r->lat == LAT_MEM) {
        in->lat = m;
    } else if (r->lat == LAT_BR) {
        /* gas.md §4.4: 1 when either successor's raw byte is trap or unlikely */
        uint32_t t = 0;
        exec_branch_target(cd, p, &t);
        uint8_t f = zeta(cd, draft_next(cd, p)), g = zeta(cd, t);
        in->lat = (f == 0 || f == 3 || g == 0 || g == 3) ? 1 : 20;
    }
    in->units = unit_vec[r->units];
    in->move = (r->flags & F_MOVE) != 0;
    in->last = cd->profile == JAVM_PROFILE_JAM_DRAFT ? (r->flags & F_TERM) != 0
                                                     : exec_block_last(cd, p);
}

/* ---- the simulation (gas.md §5.3) ------------------------------------------------------- */

enum { ST_DECODED = 0, ST_WAITING, ST_EXECUTING, ST_DONE };

#define ROB 32
#define NOSEQ UINT32_MAX

static inline bool fits(uint64_t units, uint64_t free)
{
    return (((free | U_GUARD) - units) & U_GUARD) == U_GUARD;
}

uint32_t exec_draft_block_cost(const exec_code *cd, uint64_t b, uint32_t m)
{
    /* Entries are numbered by decode order (seq); entry seq lives in slot seq % ROB. The
     * live entries are seq head .. tail - 1. A dependency is a producer's seq: it is met
     * once the producer retired (seq < head) or its left is <= 0. writer[r] is the newest
     * pending writer of r (gas.md §6's inverted `regs`). */
    int32_t left[ROB];
    uint8_t state[ROB];
    uint64_t units[ROB];
    uint32_t dep0[ROB], dep1[ROB];
    uint32_t writer[13];
    for (int i = 0; i < 13; i++)
        writer[i] = NOSEQ;
    uint32_t head = 0, tail = 0;
    uint64_t free = U_POOL;
    uint64_t cycle = 0;
    uint64_t pc = b;
    bool more = true, first = true;
    unsigned ndecoded = 0; /* live entries in state DECODED */
    draft_ins in;
    draft_decode(cd, pc, m, &in);
    for (;;) {
        /* (a) decode while slots and the ROB allow; a failed decode stays failed for the
         * rest of the cycle (starts change neither dec nor the ROB size) */
        uint32_t dec = 4;
        bool progress = false;
        while (more && tail - head < ROB && (first || in.slots <= dec)) {
            first = false;
            dec -= in.slots < dec ? in.slots : dec;
            progress = true;
            if (in.move) {
                writer[in.dst] = writer[in.src0];
            } else {
                uint32_t s = tail % ROB;
                left[s] = (int32_t)in.lat;
                state[s] = ST_DECODED;
                units[s] = in.units;
                dep0[s] = in.src0 >= 0 ? writer[in.src0] : NOSEQ;
                dep1[s] = in.src1 >= 0 ? writer[in.src1] : NOSEQ;
                if (in.dst >= 0)
                    writer[in.dst] = tail;
                tail++;
                ndecoded++;
            }
            if (in.last) {
                more = false;
            } else {
                pc = draft_next(cd, pc);
                draft_decode(cd, pc, m, &in);
            }
        }
        /* (b) start the oldest ready entries, up to 5; an entry that cannot start now
         * cannot start later in this cycle (free only shrinks, deps change at (d)) */
        unsigned iss = 5;
        for (uint32_t q = head; q != tail && iss; q++) {
            uint32_t s = q % ROB;
            if (state[s] != ST_WAITING || !fits(units[s], free))
                continue;
            uint32_t d0 = dep0[s], d1 = dep1[s];
            if (d0 != NOSEQ && d0 >= head && left[d0 % ROB] > 0)
                continue;
            if (d1 != NOSEQ && d1 >= head && left[d1 % ROB] > 0)
                continue;
            state[s] = ST_EXECUTING;
            free -= units[s];
            iss--;
            progress = true;
        }
        /* (c) stop */
        if (!more && head == tail)
            break;
        /* Idle cycle: nothing decoded or started, nothing DECODED, the oldest not DONE.
         * Until an executing entry reaches left 1, the following cycles are idle too:
         * nothing can start (no dep reaches left 0, no unit comes back), nothing retires,
         * no decode (the ROB is full or nothing is left). Skip them at once. */
        if (!progress && ndecoded == 0 && head != tail && state[head % ROB] != ST_DONE &&
            (!more || tail - head == ROB)) {
            int32_t mn = INT32_MAX;
            for (uint32_t q = head; q != tail; q++)
                if (state[q % ROB] == ST_EXECUTING && left[q % ROB] < mn)
                    mn = left[q % ROB];
            if (mn != INT32_MAX && mn >= 2) {
                int32_t k = mn - 1; /* then this cycle's (d) below sees left 1 */
                for (uint32_t q = head; q != tail; q++)
                    if (state[q % ROB] == ST_EXECUTING)
                        left[q % ROB] -= k;
                cycle += (uint64_t)k;
            }
        }
        /* (d) end of cycle: retire the leading DONE entries, then advance the others */
        while (head != tail && state[head % ROB] == ST_DONE)
            head++;
        for (uint32_t q = head; q != tail; q++) {
            uint32_t s = q % ROB;
            if (state[s] == ST_DECODED) {
                state[s] = ST_WAITING;
            } else if (state[s] == ST_EXECUTING) {
                if (left[s] == 1) {
                    for (int r = 0; r < 13; r++)
                        if (writer[r] == q)
                            writer[r] = NOSEQ;
                    free += units[s];
                } else if (left[s] == 0) {
                    state[s] = ST_DONE;
                }
                left[s]--;
            }
        }
        ndecoded = 0;
        cycle++;
    }
    return cycle > 4 ? (uint32_t)(cycle - 3) : 1;
}
