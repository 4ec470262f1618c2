/* SPDX-License-Identifier: MIT
 * exec/gas_draft.c — the jam-draft gas model (shared/spec/gas.md): a block's cost is the
 * cycle count of a small out-of-order core (4 decode slots, 5 starts per cycle, a 32-entry
 * reorder buffer, a unit pool) simulated over the block's instructions. Computed once per
 * block start in javm_prepare (exec/prepare.c) or on demand (exec_block_cost_slow).
 *
 * Three ways to the same number (docs/exec.md). fast_walk: decode and place the entries in
 * age order, each at the first cycle where it is ready, fits and has a start slot, with
 * units and starts as bit sets over cycles 0..63; exact unless a younger entry lands over an
 * older one's start (about 98% of the blocks of the generated benchmark program). long_walk:
 * the same past 64 cycles or 32 entries and for fast_walk's out-of-order overflows (the sets
 * as arrays, ROB stalls), going on from where fast_walk stopped when it can (fast_hand), and
 * repairing a younger entry's landing over
 * older starts exactly (lw_repair: the entries placed after it, placed again). sim_block:
 * gas.md §5.3's loop organised per cycle on absolute cycle numbers, jumping over cycles in
 * which nothing can happen; from the start, for what the walks leave (past long_walk's range,
 * a repair given up) and for the other profiles. Speed:
 * bench/bench_gas.c and docs/exec.md. tests/ref/gas_ref.c is the literal
 * transcription all are checked against (tests/test_gas_diff.c, fuzz/fuzz_gas_diff.c). */
#include "exec/exec.h"

/* ---- per-opcode parameters (gas.md §4) -------------------------------------------------- */

/* Register roles (gas.md §4.1): each row names the raw register field read as src0 and src1
 * and written as dst (ROLE_*, below); decode-slot rules (§4.2) as the field equalities that
 * make the overlap (EQ_*). */

/* Unit vectors (gas.md §4.3) as one byte: the ALU count in bits 0-2, MUL in bits 4-5, DIV in
 * bits 6-7 (so sums of them, the simulation's `held`, keep the fields apart). LOAD and STORE
 * need no field: every entry holding one of them also holds an ALU, and their pools equal
 * the ALU pool (4), so they can only run out when the ALUs already have. */
enum {
    UN_NONE = 0, UN_A = 0x01, UN_2A = 0x02, UN_AL = 0x01, UN_AS = 0x01, UN_AM = 0x11,
    UN_AD = 0x41
};

/* Latency markers: the load latency m and the branch latency br are not constants. */
enum { LAT_MEM = 255, LAT_BR = 254 };

/* A row (8 bytes, one byte a field, so decoding reads each with one load): latency (LAT_MEM /
 * LAT_BR), units, the overlap group ov (OV_*: which raw-field equality makes the slot
 * overlap, gas.md §4.2: lo == hi for P over two registers, lo == d3 or hi == d3 for P over
 * three, lo == d3 for PS, none for fixed slots), the slots sb without overlap (P(a, b) /
 * PS(a, b) all have a = b - 1), the register fields read as src0 and src1 and written as dst
 * (indices into the position's register bytes, see decode_pos), and flags: D_MOVE, D_LAST
 * (a terminator). */
typedef struct grow {
    uint8_t lat, units, ov, sb, i0, i1, id, fl;
} grow;

/* Register byte indices (decode_pos): 0 none (REG_NONE), 1 lo, 2 hi, 3 d3, 4 sink (REG_SINK). */
enum { D_MOVE = 1, D_LAST = 2 };
enum { OV_PS = 0, OV_P3 = 16, OV_P2 = 32, OV_FIX = 48 }; /* ovtab's bit groups */
#define ROLE_NONE 0, 0, 4
#define ROLE_D_LO 0, 0, 1
#define ROLE_S_LO 1, 0, 4
#define ROLE_HI_LO 2, 0, 1
#define ROLE_S_LOHI 1, 2, 4
#define ROLE_3REG 1, 2, 3
/* slots = sb - (the overlap bit at ov + d3): every overlapping row has a = b - 1 (checked
 * at compile time: a negative array size otherwise) */
#define AB1(a, b) ((b) + 0 * sizeof(char[(b) - (a) == 1 ? 1 : -1]))
#define R(l, ov, b, u, ...) { (l), (u), (ov), (b), __VA_ARGS__ } /* ..., role, flags */
#define FIX(l, s, u, ro) R(l, OV_FIX, s, u, ro, 0)
#define OVP(l, a, b, u, ro) R(l, OV_P2, AB1(a, b), u, ro, 0)  /* P over hi read, lo written */
#define OVP3(l, a, b, u, ro) R(l, OV_P3, AB1(a, b), u, ro, 0) /* P over three registers */
#define OVS(l, a, b, u, ro) R(l, OV_PS, AB1(a, b), u, ro, 0)
#define ROW_TRAP R(2, OV_FIX, 1, UN_NONE, ROLE_NONE, D_LAST)

/* Every model opcode has exactly one row (gas.md §4.3); any other byte (2, and the undefined
 * ones) is not a model opcode and reads as trap: the default row, overridden per opcode. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#define ROWS(ML) /* ML: the latency of loads, LAT_MEM or m itself */                           \
    {                                                                                          \
    [0 ... 255] = ROW_TRAP,                                                                    \
    [1] = R(2, OV_FIX, 1, UN_NONE, ROLE_NONE, D_LAST),                                         \
    [3] = FIX(40, 1, UN_NONE, ROLE_NONE),                                                      \
    [10] = FIX(100, 4, UN_A, ROLE_NONE),                                                       \
    [20] = FIX(1, 2, UN_NONE, ROLE_D_LO),                                                      \
    [30 ... 33] = FIX(25, 1, UN_AS, ROLE_NONE),                                                \
    [40] = R(15, OV_FIX, 1, UN_NONE, ROLE_NONE, D_LAST),                                       \
    [50] = R(22, OV_FIX, 1, UN_NONE, ROLE_S_LO, D_LAST),                                       \
    [51] = FIX(1, 1, UN_NONE, ROLE_D_LO),                                                      \
    [52 ... 58] = FIX(ML, 1, UN_AL, ROLE_D_LO),                                                \
    [59 ... 62] = FIX(25, 1, UN_AS, ROLE_S_LO),                                                \
    [70 ... 73] = FIX(25, 1, UN_AS, ROLE_S_LO),                                                \
    [80] = R(15, OV_FIX, 1, UN_NONE, ROLE_D_LO, D_LAST),                                       \
    [81 ... 90] = R(LAT_BR, OV_FIX, 1, UN_A, ROLE_S_LO, D_LAST),                               \
    [100] = R(1, OV_FIX, 1, UN_NONE, ROLE_HI_LO, D_MOVE), /* lat unused: renamed */            \
    [101] = FIX(100, 4, UN_A, ROLE_HI_LO),                                                     \
    [102 ... 105] = FIX(1, 1, UN_A, ROLE_HI_LO),                                               \
    [106 ... 107] = FIX(2, 1, UN_2A, ROLE_HI_LO),                                              \
    [108 ... 110] = FIX(1, 1, UN_A, ROLE_HI_LO),                                               \
    [111] = OVP(1, 1, 2, UN_A, ROLE_HI_LO),                                                    \
    [120 ... 123] = FIX(25, 1, UN_AS, ROLE_S_LOHI),                                            \
    [124 ... 130] = FIX(ML, 1, UN_AL, ROLE_HI_LO),                                             \
    [131] = OVP(2, 2, 3, UN_A, ROLE_HI_LO),                                                    \
    [132 ... 134] = OVP(1, 1, 2, UN_A, ROLE_HI_LO),                                            \
    [135] = OVP(4, 2, 3, UN_AM, ROLE_HI_LO),                                                   \
    [136 ... 137] = FIX(3, 3, UN_A, ROLE_HI_LO),                                               \
    [138 ... 140] = OVP(2, 2, 3, UN_A, ROLE_HI_LO),                                            \
    [141] = FIX(3, 4, UN_A, ROLE_HI_LO),                                                       \
    [142 ... 143] = FIX(3, 3, UN_A, ROLE_HI_LO),                                               \
    [144 ... 146] = FIX(2, 4, UN_A, ROLE_HI_LO),                                               \
    [147 ... 148] = FIX(2, 3, UN_A, ROLE_HI_LO),                                               \
    [149] = OVP(1, 1, 2, UN_A, ROLE_HI_LO),                                                    \
    [150] = OVP(3, 1, 2, UN_AM, ROLE_HI_LO),                                                   \
    [151 ... 153] = OVP(1, 1, 2, UN_A, ROLE_HI_LO),                                            \
    [154] = FIX(2, 3, UN_A, ROLE_HI_LO),                                                       \
    [155 ... 157] = FIX(1, 3, UN_A, ROLE_HI_LO),                                               \
    [158] = OVP(1, 1, 2, UN_A, ROLE_HI_LO),                                                    \
    [159] = FIX(1, 3, UN_A, ROLE_HI_LO),                                                       \
    [160] = OVP(2, 2, 3, UN_A, ROLE_HI_LO),                                                    \
    [161] = FIX(2, 4, UN_A, ROLE_HI_LO),                                                       \
    [170 ... 175] = R(LAT_BR, OV_FIX, 1, UN_A, ROLE_S_LOHI, D_LAST),                           \
    [180] = R(22, OV_FIX, 1, UN_NONE, ROLE_HI_LO, D_LAST),                                     \
    [190 ... 191] = OVP3(2, 2, 3, UN_A, ROLE_3REG),                                            \
    [192] = OVP3(4, 2, 3, UN_AM, ROLE_3REG),                                                   \
    [193 ... 196] = FIX(60, 4, UN_AD, ROLE_3REG),                                              \
    [197 ... 199] = OVS(2, 3, 4, UN_A, ROLE_3REG),                                             \
    [200 ... 201] = OVP3(1, 1, 2, UN_A, ROLE_3REG),                                            \
    [202] = OVP3(3, 1, 2, UN_AM, ROLE_3REG),                                                   \
    [203 ... 206] = FIX(60, 4, UN_AD, ROLE_3REG),                                              \
    [207 ... 209] = OVS(1, 2, 3, UN_A, ROLE_3REG),                                             \
    [210 ... 212] = OVP3(1, 1, 2, UN_A, ROLE_3REG),                                            \
    [213 ... 214] = FIX(4, 4, UN_AM, ROLE_3REG),                                               \
    [215] = FIX(6, 4, UN_AM, ROLE_3REG),                                                       \
    [216 ... 217] = FIX(3, 3, UN_A, ROLE_3REG),                                                \
    [218 ... 219] = FIX(2, 2, UN_A, ROLE_3REG),                                                \
    [220] = OVS(1, 2, 3, UN_A, ROLE_3REG),                                                     \
    [221] = OVS(2, 3, 4, UN_A, ROLE_3REG),                                                     \
    [222] = OVS(1, 2, 3, UN_A, ROLE_3REG),                                                     \
    [223] = OVS(2, 3, 4, UN_A, ROLE_3REG),                                                     \
    [224 ... 225] = FIX(2, 3, UN_A, ROLE_3REG),                                                \
    [226] = OVP3(2, 2, 3, UN_A, ROLE_3REG),                                                    \
    [227 ... 230] = OVP3(3, 2, 3, UN_A, ROLE_3REG),                                            \
    }
static const grow rows[256] = ROWS(LAT_MEM);
/* with the load latency in place of LAT_MEM, for the two latencies there are (gas.md
 * §4.3): decoding then tests the latency only against the rare markers */
static const grow rows_m25[256] = ROWS(25), rows_m37[256] = ROWS(37);
#undef ROWS
#pragma GCC diagnostic pop

#undef ROW_TRAP
#undef R
#undef FIX
#undef OVP
#undef OVP3
#undef OVS
#undef AB1
#undef ROLE_NONE
#undef ROLE_D_LO
#undef ROLE_S_LO
#undef ROLE_HI_LO
#undef ROLE_S_LOHI
#undef ROLE_3REG

/* ---- decoding (gas.md §2.2, §4) --------------------------------------------------------- */

/* One position of a block's walk, as the cost computation needs it (8 bytes). Registers are
 * 0..12; a missing source reads REG_NONE (never written: ready at once, no writer), a missing
 * destination writes REG_SINK (never read), so neither needs a test. */
typedef struct dins {
    uint8_t lat, slots, units, src0, src1, dst, flags, pad;
} dins;

enum { REG_NONE = 13, REG_SINK = 14, NREGS = 16 };

/* ζ[x]: the byte at x, 0 at or past L. */
static inline uint8_t zeta(const exec_code *cd, uint64_t x) { return x < cd->L ? cd->c[x] : 0; }

/* next(p) for p < L. The bitmask is padded (EXEC_MASK_PAD) and reads 0 past L, so one word
 * read gives it: skip capped at 24, and a result past L clamped to L (positions >= L count
 * as 1, exec_skip). */
static inline uint64_t draft_next(const exec_code *cd, uint64_t p)
{
    uint64_t q = p + 1, w;
    memcpy(&w, cd->k + (q >> 3), 8); /* q <= L: inside the padded bitmask */
    q += (uint64_t)__builtin_ctzll((w >> (q & 7)) | (UINT64_C(1) << 24));
    return q < cd->L ? q : cd->L;
}

/* draft_next, also giving k at the result (*kb, 0 or 1) from the same word: the first set
 * bit found is 1 unless the skip reached its cap. At L it does not matter (c[L] = 0). */
static inline uint64_t draft_step_k(const uint8_t *k, uint64_t L, uint64_t p, uint32_t *kb)
{
    uint64_t q = p + 1, w;
    memcpy(&w, k + (q >> 3), 8); /* q <= L: inside the padded bitmask */
    w >>= q & 7;
    unsigned z = (unsigned)__builtin_ctzll(w | (UINT64_C(1) << 24));
    *kb = (uint32_t)(w >> z) & 1;
    q += z;
    return q < L ? q : L;
}

/* draft_step_k with the bitmask and L of cd (the walks hoist them). */
static inline uint64_t draft_step(const exec_code *cd, uint64_t p, uint32_t *kb)
{
    return draft_step_k(cd->k, cd->L, p, kb);
}

/* k at p (p <= L), 0 or 1: k reads 0 at L. */
static inline uint32_t kbit_at(const exec_code *cd, uint64_t p)
{
    return (cd->k[p >> 3] >> (p & 7)) & 1;
}

/* sx(n, LE of n <= 4 bytes at c + i) modulo 2^32, from the padded code. */
static inline uint32_t off_at(const uint8_t *c, uint64_t i, unsigned n)
{
    if (!n)
        return 0;
    uint32_t v;
    memcpy(&v, c + i, 4);
    uint32_t sign = UINT32_C(1) << (8 * n - 1);
    v &= (sign << 1) - 1;
    return (v ^ sign) - sign;
}

/* gas.md §4.4: the latency of the conditional branch op at p (< L) whose next(p) is nx: 1
 * when the raw byte at the fall-through or at the target is trap or unlikely, else 20. The
 * target is pvm.md §4.3's, modulo 2^32 (what exec_branch_target computes, with the skip
 * already known). */
static uint8_t branch_lat(const exec_code *cd, uint64_t p, uint64_t nx, uint8_t op, uint8_t b1)
{
    const uint8_t *c = cd->c;
    unsigned l = (unsigned)(nx - p - 1), lx, ly;
    uint32_t off;
    if (op <= 90) { /* OneRegImmOff: register and immediate length, immediate, offset */
        lx = (b1 >> 4) & 7;
        lx = lx < 4 ? lx : 4;
        ly = l < lx + 1 ? 0 : l - lx - 1;
        ly = ly < 4 ? ly : 4;
        off = off_at(c, p + 2 + lx, ly);
    } else { /* TwoRegOneOff: registers, offset */
        lx = l == 0 ? 0 : l - 1 < 4 ? l - 1 : 4;
        off = off_at(c, p + 2, lx);
    }
    uint8_t fb = zeta(cd, nx), g = zeta(cd, (uint32_t)((uint32_t)p + off));
    return (fb == 0 || fb == 3 || g == 0 || g == 3) ? 1 : 20;
}

/* The register byte ζ[p+1] = b, decoded once for all 256 values. regtab: decode_pos's
 * register bytes 0-2 and 4 (byte 3, d3, is or'd in): REG_NONE, lo = min(12, b & 15),
 * hi = min(12, b >> 4), REG_SINK. ovtab: the slot overlaps (gas.md §4.2) as bits to be
 * picked at OV_* + d3 (d3 = min(12, ζ[p+2])): bit OV_PS + d set when lo == d (PS), OV_P3 + d
 * when lo == d or hi == d (P over three registers), OV_P2 + d for every d when lo == hi
 * (P over hi read, lo written); nothing at OV_FIX + d (fixed slots). Generated. */
static const uint64_t regtab[256] = {
    0x0E0000000D, 0x0E0000010D, 0x0E0000020D, 0x0E0000030D,
    0x0E0000040D, 0x0E0000050D, 0x0E0000060D, 0x0E0000070D,
    0x0E0000080D, 0x0E0000090D, 0x0E00000A0D, 0x0E00000B0D,
    0x0E00000C0D, 0x0E00000C0D, 0x0E00000C0D, 0x0E00000C0D,
    0x0E0001000D, 0x0E0001010D, 0x0E0001020D, 0x0E0001030D,
    0x0E0001040D, 0x0E0001050D, 0x0E0001060D, 0x0E0001070D,
    0x0E0001080D, 0x0E0001090D, 0x0E00010A0D, 0x0E00010B0D,
    0x0E00010C0D, 0x0E00010C0D, 0x0E00010C0D, 0x0E00010C0D,
    0x0E0002000D, 0x0E0002010D, 0x0E0002020D, 0x0E0002030D,
    0x0E0002040D, 0x0E0002050D, 0x0E0002060D, 0x0E0002070D,
    0x0E0002080D, 0x0E0002090D, 0x0E00020A0D, 0x0E00020B0D,
    0x0E00020C0D, 0x0E00020C0D, 0x0E00020C0D, 0x0E00020C0D,
    0x0E0003000D, 0x0E0003010D, 0x0E0003020D, 0x0E0003030D,
    0x0E0003040D, 0x0E0003050D, 0x0E0003060D, 0x0E0003070D,
    0x0E0003080D, 0x0E0003090D, 0x0E00030A0D, 0x0E00030B0D,
    0x0E00030C0D, 0x0E00030C0D, 0x0E00030C0D, 0x0E00030C0D,
    0x0E0004000D, 0x0E0004010D, 0x0E0004020D, 0x0E0004030D,
    0x0E0004040D, 0x0E0004050D, 0x0E0004060D, 0x0E0004070D,
    0x0E0004080D, 0x0E0004090D, 0x0E00040A0D, 0x0E00040B0D,
    0x0E00040C0D, 0x0E00040C0D, 0x0E00040C0D, 0x0E00040C0D,
    0x0E0005000D, 0x0E0005010D, 0x0E0005020D, 0x0E0005030D,
    0x0E0005040D, 0x0E0005050D, 0x0E0005060D, 0x0E0005070D,
    0x0E0005080D, 0x0E0005090D, 0x0E00050A0D, 0x0E00050B0D,
    0x0E00050C0D, 0x0E00050C0D, 0x0E00050C0D, 0x0E00050C0D,
    0x0E0006000D, 0x0E0006010D, 0x0E0006020D, 0x0E0006030D,
    0x0E0006040D, 0x0E0006050D, 0x0E0006060D, 0x0E0006070D,
    0x0E0006080D, 0x0E0006090D, 0x0E00060A0D, 0x0E00060B0D,
    0x0E00060C0D, 0x0E00060C0D, 0x0E00060C0D, 0x0E00060C0D,
    0x0E0007000D, 0x0E0007010D, 0x0E0007020D, 0x0E0007030D,
    0x0E0007040D, 0x0E0007050D, 0x0E0007060D, 0x0E0007070D,
    0x0E0007080D, 0x0E0007090D, 0x0E00070A0D, 0x0E00070B0D,
    0x0E00070C0D, 0x0E00070C0D, 0x0E00070C0D, 0x0E00070C0D,
    0x0E0008000D, 0x0E0008010D, 0x0E0008020D, 0x0E0008030D,
    0x0E0008040D, 0x0E0008050D, 0x0E0008060D, 0x0E0008070D,
    0x0E0008080D, 0x0E0008090D, 0x0E00080A0D, 0x0E00080B0D,
    0x0E00080C0D, 0x0E00080C0D, 0x0E00080C0D, 0x0E00080C0D,
    0x0E0009000D, 0x0E0009010D, 0x0E0009020D, 0x0E0009030D,
    0x0E0009040D, 0x0E0009050D, 0x0E0009060D, 0x0E0009070D,
    0x0E0009080D, 0x0E0009090D, 0x0E00090A0D, 0x0E00090B0D,
    0x0E00090C0D, 0x0E00090C0D, 0x0E00090C0D, 0x0E00090C0D,
    0x0E000A000D, 0x0E000A010D, 0x0E000A020D, 0x0E000A030D,
    0x0E000A040D, 0x0E000A050D, 0x0E000A060D, 0x0E000A070D,
    0x0E000A080D, 0x0E000A090D, 0x0E000A0A0D, 0x0E000A0B0D,
    0x0E000A0C0D, 0x0E000A0C0D, 0x0E000A0C0D, 0x0E000A0C0D,
    0x0E000B000D, 0x0E000B010D, 0x0E000B020D, 0x0E000B030D,
    0x0E000B040D, 0x0E000B050D, 0x0E000B060D, 0x0E000B070D,
    0x0E000B080D, 0x0E000B090D, 0x0E000B0A0D, 0x0E000B0B0D,
    0x0E000B0C0D, 0x0E000B0C0D, 0x0E000B0C0D, 0x0E000B0C0D,
    0x0E000C000D, 0x0E000C010D, 0x0E000C020D, 0x0E000C030D,
    0x0E000C040D, 0x0E000C050D, 0x0E000C060D, 0x0E000C070D,
    0x0E000C080D, 0x0E000C090D, 0x0E000C0A0D, 0x0E000C0B0D,
    0x0E000C0C0D, 0x0E000C0C0D, 0x0E000C0C0D, 0x0E000C0C0D,
    0x0E000C000D, 0x0E000C010D, 0x0E000C020D, 0x0E000C030D,
    0x0E000C040D, 0x0E000C050D, 0x0E000C060D, 0x0E000C070D,
    0x0E000C080D, 0x0E000C090D, 0x0E000C0A0D, 0x0E000C0B0D,
    0x0E000C0C0D, 0x0E000C0C0D, 0x0E000C0C0D, 0x0E000C0C0D,
    0x0E000C000D, 0x0E000C010D, 0x0E000C020D, 0x0E000C030D,
    0x0E000C040D, 0x0E000C050D, 0x0E000C060D, 0x0E000C070D,
    0x0E000C080D, 0x0E000C090D, 0x0E000C0A0D, 0x0E000C0B0D,
    0x0E000C0C0D, 0x0E000C0C0D, 0x0E000C0C0D, 0x0E000C0C0D,
    0x0E000C000D, 0x0E000C010D, 0x0E000C020D, 0x0E000C030D,
    0x0E000C040D, 0x0E000C050D, 0x0E000C060D, 0x0E000C070D,
    0x0E000C080D, 0x0E000C090D, 0x0E000C0A0D, 0x0E000C0B0D,
    0x0E000C0C0D, 0x0E000C0C0D, 0x0E000C0C0D, 0x0E000C0C0D,
};

/* min(12, b): the third register field (d3) of the byte b. */
static const uint8_t d3tab[256] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
#define D3_12X4 12, 12, 12, 12
#define D3_12X16 D3_12X4, D3_12X4, D3_12X4, D3_12X4
    D3_12X4, D3_12X16, D3_12X16, D3_12X16, D3_12X16, D3_12X16, D3_12X16, D3_12X16,
    D3_12X16, D3_12X16, D3_12X16, D3_12X16, D3_12X16, D3_12X16, D3_12X16, D3_12X16,
#undef D3_12X16
#undef D3_12X4
};

static const uint64_t ovtab[256] = {
    0x00001FFF00010001, 0x0000000000030002, 0x0000000000050004,
    0x0000000000090008, 0x0000000000110010, 0x0000000000210020,
    0x0000000000410040, 0x0000000000810080, 0x0000000001010100,
    0x0000000002010200, 0x0000000004010400, 0x0000000008010800,
    0x0000000010011000, 0x0000000010011000, 0x0000000010011000,
    0x0000000010011000, 0x0000000000030001, 0x00001FFF00020002,
    0x0000000000060004, 0x00000000000A0008, 0x0000000000120010,
    0x0000000000220020, 0x0000000000420040, 0x0000000000820080,
    0x0000000001020100, 0x0000000002020200, 0x0000000004020400,
    0x0000000008020800, 0x0000000010021000, 0x0000000010021000,
    0x0000000010021000, 0x0000000010021000, 0x0000000000050001,
    0x0000000000060002, 0x00001FFF00040004, 0x00000000000C0008,
    0x0000000000140010, 0x0000000000240020, 0x0000000000440040,
    0x0000000000840080, 0x0000000001040100, 0x0000000002040200,
    0x0000000004040400, 0x0000000008040800, 0x0000000010041000,
    0x0000000010041000, 0x0000000010041000, 0x0000000010041000,
    0x0000000000090001, 0x00000000000A0002, 0x00000000000C0004,
    0x00001FFF00080008, 0x0000000000180010, 0x0000000000280020,
    0x0000000000480040, 0x0000000000880080, 0x0000000001080100,
    0x0000000002080200, 0x0000000004080400, 0x0000000008080800,
    0x0000000010081000, 0x0000000010081000, 0x0000000010081000,
    0x0000000010081000, 0x0000000000110001, 0x0000000000120002,
    0x0000000000140004, 0x0000000000180008, 0x00001FFF00100010,
    0x0000000000300020, 0x0000000000500040, 0x0000000000900080,
    0x0000000001100100, 0x0000000002100200, 0x0000000004100400,
    0x0000000008100800, 0x0000000010101000, 0x0000000010101000,
    0x0000000010101000, 0x0000000010101000, 0x0000000000210001,
    0x0000000000220002, 0x0000000000240004, 0x0000000000280008,
    0x0000000000300010, 0x00001FFF00200020, 0x0000000000600040,
    0x0000000000A00080, 0x0000000001200100, 0x0000000002200200,
    0x0000000004200400, 0x0000000008200800, 0x0000000010201000,
    0x0000000010201000, 0x0000000010201000, 0x0000000010201000,
    0x0000000000410001, 0x0000000000420002, 0x0000000000440004,
    0x0000000000480008, 0x0000000000500010, 0x0000000000600020,
    0x00001FFF00400040, 0x0000000000C00080, 0x0000000001400100,
    0x0000000002400200, 0x0000000004400400, 0x0000000008400800,
    0x0000000010401000, 0x0000000010401000, 0x0000000010401000,
    0x0000000010401000, 0x0000000000810001, 0x0000000000820002,
    0x0000000000840004, 0x0000000000880008, 0x0000000000900010,
    0x0000000000A00020, 0x0000000000C00040, 0x00001FFF00800080,
    0x0000000001800100, 0x0000000002800200, 0x0000000004800400,
    0x0000000008800800, 0x0000000010801000, 0x0000000010801000,
    0x0000000010801000, 0x0000000010801000, 0x0000000001010001,
    0x0000000001020002, 0x0000000001040004, 0x0000000001080008,
    0x0000000001100010, 0x0000000001200020, 0x0000000001400040,
    0x0000000001800080, 0x00001FFF01000100, 0x0000000003000200,
    0x0000000005000400, 0x0000000009000800, 0x0000000011001000,
    0x0000000011001000, 0x0000000011001000, 0x0000000011001000,
    0x0000000002010001, 0x0000000002020002, 0x0000000002040004,
    0x0000000002080008, 0x0000000002100010, 0x0000000002200020,
    0x0000000002400040, 0x0000000002800080, 0x0000000003000100,
    0x00001FFF02000200, 0x0000000006000400, 0x000000000A000800,
    0x0000000012001000, 0x0000000012001000, 0x0000000012001000,
    0x0000000012001000, 0x0000000004010001, 0x0000000004020002,
    0x0000000004040004, 0x0000000004080008, 0x0000000004100010,
    0x0000000004200020, 0x0000000004400040, 0x0000000004800080,
    0x0000000005000100, 0x0000000006000200, 0x00001FFF04000400,
    0x000000000C000800, 0x0000000014001000, 0x0000000014001000,
    0x0000000014001000, 0x0000000014001000, 0x0000000008010001,
    0x0000000008020002, 0x0000000008040004, 0x0000000008080008,
    0x0000000008100010, 0x0000000008200020, 0x0000000008400040,
    0x0000000008800080, 0x0000000009000100, 0x000000000A000200,
    0x000000000C000400, 0x00001FFF08000800, 0x0000000018001000,
    0x0000000018001000, 0x0000000018001000, 0x0000000018001000,
    0x0000000010010001, 0x0000000010020002, 0x0000000010040004,
    0x0000000010080008, 0x0000000010100010, 0x0000000010200020,
    0x0000000010400040, 0x0000000010800080, 0x0000000011000100,
    0x0000000012000200, 0x0000000014000400, 0x0000000018000800,
    0x00001FFF10001000, 0x00001FFF10001000, 0x00001FFF10001000,
    0x00001FFF10001000, 0x0000000010010001, 0x0000000010020002,
    0x0000000010040004, 0x0000000010080008, 0x0000000010100010,
    0x0000000010200020, 0x0000000010400040, 0x0000000010800080,
    0x0000000011000100, 0x0000000012000200, 0x0000000014000400,
    0x0000000018000800, 0x00001FFF10001000, 0x00001FFF10001000,
    0x00001FFF10001000, 0x00001FFF10001000, 0x0000000010010001,
    0x0000000010020002, 0x0000000010040004, 0x0000000010080008,
    0x0000000010100010, 0x0000000010200020, 0x0000000010400040,
    0x0000000010800080, 0x0000000011000100, 0x0000000012000200,
    0x0000000014000400, 0x0000000018000800, 0x00001FFF10001000,
    0x00001FFF10001000, 0x00001FFF10001000, 0x00001FFF10001000,
    0x0000000010010001, 0x0000000010020002, 0x0000000010040004,
    0x0000000010080008, 0x0000000010100010, 0x0000000010200020,
    0x0000000010400040, 0x0000000010800080, 0x0000000011000100,
    0x0000000012000200, 0x0000000014000400, 0x0000000018000800,
    0x00001FFF10001000, 0x00001FFF10001000, 0x00001FFF10001000,
    0x00001FFF10001000,
};

/* Decodes position p (<= L), whose bit in k is kb, of a block under load latency m (gas.md
 * §4). D_LAST is set for a jam-draft terminator (gas.md §2.2: invalid positions and L read as
 * trap); other profiles' callers decide the end of the block themselves. Table driven and
 * branch-free but for the (rare) branch hint: the walk is a chain of dependent loads, and a
 * mispredicted branch per instruction on random opcodes cost more than the rest. The
 * register fields are picked by index from the position's register bytes (none, lo, hi, d3,
 * sink), the row's fields are one byte load each. */
/* The rows for load latency m: the latency in place for the two there are. */
static inline const grow *rows_for(uint32_t m)
{
    return m == 25 ? rows_m25 : m == 37 ? rows_m37 : rows;
}

static inline __attribute__((always_inline)) dins decode_pos(const exec_code *cd, uint64_t p,
                                                             uint32_t kb, uint32_t m,
                                                             const grow *rt)
{
    const uint8_t *c = cd->c;
    uint8_t op = kb ? c[p] : 0; /* kb: k at p (draft_step, kbit_at); c[L] = 0 */
    const grow *r = &rt[op]; /* rt = rows_for(m), chosen once a walk */
    uint32_t b1 = c[p + 1], b2 = c[p + 2]; /* padded: p <= L, ζ */
    uint32_t d3 = d3tab[b2];
    uint64_t packed = regtab[b1] | (uint64_t)d3 << 24;
    uint8_t rg[8];
    memcpy(rg, &packed, 8);
    dins d;
    d.src0 = rg[r->i0];
    d.src1 = rg[r->i1];
    d.dst = rg[r->id];
    d.slots = (uint8_t)(r->sb - ((ovtab[b1] >> (r->ov + d3)) & 1));
    d.units = r->units;
    uint32_t lat = r->lat;
    if (EXEC_UNLIKELY(lat >= LAT_BR)) /* a conditional branch (op = c[p], p < L), or a load */
        lat = lat == LAT_BR ? branch_lat(cd, p, draft_next(cd, p), op, (uint8_t)b1) : m;
    d.lat = (uint8_t)lat;
    d.flags = r->fl;
    d.pad = 0;
    return d;
}

/* lomask[k]: the k low bits set (k <= 64). */
static const uint64_t lomask[65] = {
#define LM1(k) (k) >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << ((k) & 63)) - 1
#define LM4(k) LM1(k), LM1((k) + 1), LM1((k) + 2), LM1((k) + 3)
#define LM16(k) LM4(k), LM4((k) + 4), LM4((k) + 8), LM4((k) + 12)
    LM16(0), LM16(16), LM16(32), LM16(48), LM1(64),
#undef LM16
#undef LM4
#undef LM1
};

/* ---- the fast path: age-order placement, checked ----------------------------------------- */

#define ROB 32

/* Under jam-draft, with at most a ROB's worth of entries, the decode cycle of every entry
 * follows from the slots alone (4 a cycle; the ROB never fills, and the last position is an
 * entry, so no move_reg waits for it either), and the rest of §5.3 is placed in decode
 * order (oldest first): entry e is ready at r = max(d + 1, fin of its producers) (kept per
 * register in `rdy`; a move_reg copies its source's; a finished producer is the same as
 * none) and starts at the first cycle s >= r in which its units fit beside those the older
 * entries hold in s and fewer than 5 older entries start in s; fin = s + lat, retirement
 * max(fin + 1, the previous entry's), and the loop stops in cycle r_last + 1.
 *
 * This is the simulation's schedule when, with every entry placed, no cycle holds more
 * units than the pool (checked as each interval is added: the only way to fail is a younger
 * entry placed over a cycle in which an older one already started; the simulation would
 * have given that cycle's units to the younger one first). By induction over cycles: in
 * cycle t the simulation scans the unstarted entries in age order; an entry placed at t is
 * ready and fits, since all entries holding units in t fit together; an entry placed later
 * but ready at t did not fit beside the older entries holding units in t (which the
 * simulation has started too), or 5 older entries start in t; and no entry that is not
 * ready starts. Otherwise false comes back and long_walk places the block from the start
 * (its repair is exact); so it does for more than 32 entries and for blocks that run past
 * cycle 64 (about 1% of the blocks of compiled code: chains of loads, divisions, ecalli), from
 * the hand-over where it can.
 *
 * What the placed entries use is kept as bit sets over cycles 0..63, in registers: the ALUs
 * held per cycle as a count bit-sliced over C0, C1, C2 (bit t of each is a bit of cycle t's
 * count: 4 ALUs held is C2, at least 3 is C2 | C1 & C0), MU and DV the cycles in which the
 * MUL and the DIV unit are held, S5 the cycles with 5 starts (counted per cycle in st).
 * Adding an interval M of one ALU is a half-adder chain (k = C0 & M, C0 ^= M, C2 |= C1 & k,
 * C1 ^= k); the cycles where an entry cannot start are S5 | C2 (C2 | C1 & C0 for two ALUs) |
 * MU | DV (those it uses), so the first cycle from r where it can is one count of trailing
 * zeros; and an added interval is over the pool exactly where it meets those sets again.
 * LOAD and STORE need no set (UN_*).
 *
 * Decoding is done in the same loop (gas.md §2.2 and §4, as decode_walk; the bitmask is
 * padded, so next(p) is one word read clamped to L). */
enum { FAST_OK, FAST_RANGE, FAST_ORDER }; /* placed; out of the path's range; not exact */

/* Where fast_walk left a block that runs past its 64 cycles, for long_walk to go on from
 * (ok): its sets, starts per cycle and register fins, the retirement cycle after each of its
 * e entries, and the position it could not place (the decode cycle and slots to decode
 * it from). Only when its e entries are at most 31: none of its positions could wait for the
 * ROB. */
typedef struct fast_hand {
    uint64_t C[3], MU, DV, S5;
    uint8_t st[64], rdy[NREGS], er[64];
    uint64_t p;
    uint32_t kb, n, e, cur, dec;
    bool ok;
} fast_hand;

static int fast_walk(const exec_code *cd, uint64_t b, uint32_t m, uint32_t *cost, uint32_t *npos,
                     fast_hand *h)
{
    /* Cycle t is bit t: the ALUs held as a count bit-sliced over C0, C1, C2 (c = C0 + 2 C1 +
     * 4 C2, at most 4 while the placement is exact: 4 is C2, at least 3 is C2 | C1 & C0),
     * MU / DV = MUL / DIV held, S5 = cycles with 5 starts. */
    uint64_t C0 = 0, C1 = 0, C2 = 0, MU = 0, DV = 0, S5 = 0;
    uint8_t st[64]; /* starts per cycle; S5 = the cycles with 5 */
    memset(st, 0, sizeof st);
    uint8_t rdy[NREGS] = { 0 }; /* fins: at most 64 here */
    uint8_t er8[64];            /* retirement after each entry, for long_walk (h) */
    uint32_t cur = 0, dec = 4, ret = 0, entries = 0, n = 0;
    uint64_t p = b;
    uint32_t kb = kbit_at(cd, b);
    const grow *rt = rows_for(m);
    for (;; n++) {
        dins d = decode_pos(cd, p, kb, m, rt);
        uint32_t wrap = d.slots > dec;
        cur += wrap;
        dec = (wrap ? 4 : dec) - d.slots;
        if (d.flags & D_MOVE) {
            rdy[d.dst] = rdy[d.src0];
        } else {
            uint32_t s = cur + 1, a = rdy[d.src0], bb = rdy[d.src1], lat = d.lat;
            s = s > a ? s : a;
            s = s > bb ? s : bb;
            /* cycles in which this entry's units do not fit beside the older entries' (two
             * ALUs, MUL and DIV are rare: a branch keeps them off the common path) */
            uint64_t full = C2 & -(uint64_t)(d.units != 0);
            if (EXEC_UNLIKELY(d.units & 0xF2))
                full = ((d.units & 2) ? C2 | (C1 & C0) : C2) | ((d.units & 0x10) ? MU : 0) |
                       ((d.units & 0x40) ? DV : 0);
            if (s > 63)
                goto range;
            uint64_t cand = ~(full | S5 | lomask[s]); /* from s on */
            if (!cand)
                goto range;
            s = (uint32_t)__builtin_ctzll(cand);
            uint32_t f = s + lat;
            if (f > 64)
                goto range;
            uint64_t M = lomask[lat] << s, bad = full & M; /* lat <= 64 here */
            if (++st[s] == 5)
                S5 |= UINT64_C(1) << s;
            uint64_t Ma = M & -(uint64_t)(d.units != 0), k0 = C0 & Ma; /* one ALU more */
            C0 ^= Ma;
            C2 |= C1 & k0;
            C1 ^= k0;
            if (EXEC_UNLIKELY(d.units & 0xF2)) {
                if (d.units & 2) { /* and the second */
                    k0 = C0 & Ma;
                    C0 ^= Ma;
                    C2 |= C1 & k0;
                    C1 ^= k0;
                }
                MU |= (d.units & 0x10) ? M : 0;
                DV |= (d.units & 0x40) ? M : 0;
            }
            if (bad)
                return FAST_ORDER; /* a younger entry over an older one's start */
            rdy[d.dst] = (uint8_t)f;
            ret = ret > f + 1 ? ret : f + 1;
            er8[entries % 64] = (uint8_t)ret;
            entries++;
        }
        if (d.flags & D_LAST)
            break;
        p = draft_step(cd, p, &kb); /* p < L: L reads as trap */
        continue;
    range: /* this entry does not fit in 64 cycles: hand over to long_walk */
        h->ok = entries < ROB;
        h->C[0] = C0;
        h->C[1] = C1;
        h->C[2] = C2;
        h->MU = MU;
        h->DV = DV;
        h->S5 = S5;
        memcpy(h->st, st, sizeof st);
        memcpy(h->rdy, rdy, sizeof rdy);
        memcpy(h->er, er8, sizeof er8);
        h->p = p;
        h->kb = kb;
        h->n = n;
        h->e = entries;
        h->cur = cur; /* as before this position, or (after a wrap) the same outcome */
        h->dec = dec + d.slots;
        return FAST_RANGE;
    }
    if (entries > ROB) {
        h->ok = false;
        return FAST_RANGE; /* the ROB would have filled: decoding would have waited */
    }
    uint32_t cyc = ret + 1;
    *cost = cyc > 4 ? cyc - 3 : 1;
    *npos = n + 1;
    return FAST_OK;
}

/* ---- the same placement for long blocks ------------------------------------------------- */

#define LONG_CYCLES 1024 /* long_walk's starts: below LONG_CYCLES + 64 (the words of LWORDS - 2) */
#define LWORDS (LONG_CYCLES / 64 + 3) /* past the last start word, two for its fins (lat <= 100) */
#define NOSEQ UINT32_MAX
#define UNSTARTED UINT32_MAX
#define RING 64 /* entries long_walk remembers: the live ones and those of the current cycle */

/* long_walk's placement state: the sets (a word per 64 cycles: C[k] bit k of the count of
 * ALUs held, as fast_walk's C0..C2, MU, DV, S5; st the starts per cycle) and, per entry by
 * seq % RING: start,
 * fin, retirement, producers (seq), units, and what its ready cycle was made of (the cycle
 * after its decode, its producers' fins then). */
typedef struct lw_state {
    uint64_t C[3][LWORDS], MU[LWORDS], DV[LWORDS], S5[LWORDS];
    uint8_t st[64 * LWORDS];
    uint32_t es[RING], ef[RING], er[RING], ed0[RING], ed1[RING], erd[RING], ea[RING], eb[RING];
    uint8_t eu[RING];
    uint32_t clean; /* words of the sets (and their 64 bytes of st) zeroed */
} lw_state;

#define LW_CLEAN0 3 /* words zeroed at the start; the others as placing reaches them */

/* Zeroes the words of the sets up to w (inclusive), where they are not yet. */
__attribute__((noinline)) static void lw_zero(lw_state *L, uint32_t w)
{
    for (uint32_t z = L->clean; z <= w; z++) {
        L->C[0][z] = L->C[1][z] = L->C[2][z] = 0;
        L->MU[z] = L->DV[z] = L->S5[z] = 0;
        memset(L->st + 64 * z, 0, 64);
    }
    L->clean = w + 1;
}

/* Adds units un over the word y's cycles M (words zeroed that far); returns the cycles of M
 * in which they did not fit beside those already held. The ALU count then exceeds 4 there
 * (5 or 6, still in three bits): only in cycles after the entry's start, which the repair
 * that follows clears and rebuilds (lw_repair), or the walk gives up. */
static inline __attribute__((always_inline)) uint64_t lw_word(lw_state *L, uint32_t un,
                                                                uint32_t y, uint64_t M)
{
    uint64_t bad, k;
    uint64_t c0 = L->C[0][y], c1 = L->C[1][y], c2 = L->C[2][y];
    if (EXEC_UNLIKELY(un & 0xF2)) { /* two ALUs, MUL, DIV */
        uint64_t full = (un & 2) ? c2 | (c1 & c0) : c2;
        full |= ((un & 0x10) ? L->MU[y] : 0) | ((un & 0x40) ? L->DV[y] : 0);
        bad = full & M;
        if (un & 2) { /* the first of two */
            k = c0 & M;
            c0 ^= M;
            c2 |= c1 & k;
            c1 ^= k;
        }
        L->MU[y] |= (un & 0x10) ? M : 0;
        L->DV[y] |= (un & 0x40) ? M : 0;
    } else {
        bad = c2 & M;
    }
    k = c0 & M; /* one ALU more (after the second's above) */
    L->C[0][y] = c0 ^ M;
    L->C[2][y] = c2 | (c1 & k);
    L->C[1][y] = c1 ^ k;
    return bad;
}

/* Adds units un over the cycles [s, s + lat) (lat >= 1, words zeroed that far); returns the
 * cycles in which they did not fit beside those already held (the count then exceeds 4 there,
 * lw_word). Most intervals lie in one word: that one is tested first. */
static inline __attribute__((always_inline)) uint64_t lw_add(lw_state *L, uint32_t un,
                                                               uint32_t s, uint32_t lat)
{
    uint32_t y = s / 64, sh = s % 64;
    if (EXEC_LIKELY(sh + lat <= 64)) /* one word */
        return lw_word(L, un, y, lomask[lat] << sh);
    uint32_t f1 = s + lat - 1, yl = f1 / 64; /* the interval's last cycle, its word */
    uint64_t bad = lw_word(L, un, y, ~UINT64_C(0) << sh);
    while (++y < yl)
        bad |= lw_word(L, un, y, ~UINT64_C(0));
    return bad | lw_word(L, un, y, lomask[f1 % 64 + 1]);
}

/* The exact repair of an age-order placement (long_walk) in which entry x, placed at F, lands
 * over the start of older entries placed after F. Up to cycle F the placement is the
 * simulation's (x starts at F there: the older entries placed after F had not started by
 * then, and x is the last of F's starts), so the entries placed after F are not started by
 * F + 1 and are placed again, in age order, from F + 1, with x's interval in place: the
 * units and starts past F are rebuilt from the entries that stay. Placing them again is the
 * simulation's for the same reason the first placement is, as long as none of them lands
 * over an older one's start again; when one does (y, at F'), the same repair applies to
 * the entries placed after F' (all older than y). Entries of the window x - 31 .. x only:
 * the older ones retired before x was decoded. Returns 1 (repaired: *ret, rdy, er follow
 * the new fins), 0 (an entry of the window has no record, fast_walk's: nothing changed) or
 * -1 (past the words' range or too many rounds: the caller simulates from the start). */
__attribute__((noinline)) static int lw_repair(lw_state *L, uint32_t x,
                                               uint32_t e0, uint32_t *rdy,
                                               const uint32_t *wseq, uint32_t *ret)
{
    uint32_t lo = x >= ROB - 1 ? x - (ROB - 1) : 0;
    if (lo < e0)
        return 0;
    uint32_t pend = 0, moved = 0, lb[ROB]; /* bit / index i: entry lo + i */
    uint32_t y = x;
    for (unsigned round = 0;; round++) {
        if (round > 64)
            return -1;
        uint32_t F = L->es[y % RING];
        for (uint32_t q = lo; q <= x; q++) {
            uint32_t i = q - lo;
            if (L->es[q % RING] > F && !((pend >> i) & 1)) {
                pend |= 1u << i;
                lb[i] = F + 1;
            }
        }
        moved |= pend;
        /* the sets past F: cleared, then the intervals of the entries that stay */
        uint32_t y0 = (F + 1) / 64, b0 = (F + 1) % 64;
        uint32_t top = L->clean;
        for (uint32_t w = y0; w < top; w++) {
            uint64_t keep = w == y0 && b0 ? ~UINT64_C(0) >> (64 - b0) : 0;
            for (int k = 0; k < 3; k++)
                L->C[k][w] &= keep;
            L->MU[w] &= keep;
            L->DV[w] &= keep;
            L->S5[w] &= keep;
        }
        if (F + 1 < 64 * top)
            memset(L->st + F + 1, 0, 64 * top - (F + 1));
        for (uint32_t st = ~pend & (UINT32_MAX >> (ROB - 1 - (x - lo))); st; st &= st - 1) {
            uint32_t qx = (lo + (uint32_t)__builtin_ctz(st)) % RING;
            if (L->eu[qx] && L->ef[qx] > F + 1) /* started by F (not pending) */
                lw_add(L, L->eu[qx], F + 1, L->ef[qx] - (F + 1));
        }
        /* the entries placed after F, again, oldest first */
        bool again = false;
        while (pend) {
            uint32_t i = (uint32_t)__builtin_ctz(pend), q = lo + i, qx = q % RING;
            uint32_t lat = L->ef[qx] - L->es[qx], un = L->eu[qx], s = lb[i];
            uint32_t p0 = L->ed0[qx], p1 = L->ed1[qx], r0 = L->ea[qx], r1 = L->eb[qx];
            if (p0 - lo < ROB && ((moved >> (p0 - lo)) & 1)) /* NOSEQ - lo >= ROB */
                r0 = L->ef[p0 % RING];
            if (p1 - lo < ROB && ((moved >> (p1 - lo)) & 1))
                r1 = L->ef[p1 % RING];
            L->ea[qx] = r0; /* for a later repair in which the producer stays */
            L->eb[qx] = r1;
            s = s > L->erd[qx] ? s : L->erd[qx];
            s = s > r0 ? s : r0;
            s = s > r1 ? s : r1;
            for (;;) {
                uint32_t w = s / 64;
                if (EXEC_UNLIKELY(w + 2 >= L->clean)) { /* and past the range: -1 */
                    if (w + 2 >= LWORDS)
                        return -1;
                    lw_zero(L, w + 2);
                }
                uint64_t full = un ? L->C[2][w] : 0; /* 4 ALUs held (at least 3: two) */
                if (EXEC_UNLIKELY(un & 0xF2))
                    full |= ((un & 2) ? L->C[1][w] & L->C[0][w] : 0) |
                            ((un & 0x10) ? L->MU[w] : 0) | ((un & 0x40) ? L->DV[w] : 0);
                uint64_t cand = ~(full | L->S5[w]) & (~UINT64_C(0) << (s % 64));
                if (cand) {
                    s = 64 * w + (uint32_t)__builtin_ctzll(cand);
                    break;
                }
                s = 64 * w + 64;
            }
            if (++L->st[s] == 5)
                L->S5[s / 64] |= UINT64_C(1) << (s % 64);
            L->es[qx] = s;
            L->ef[qx] = s + lat;
            pend &= ~(1u << i);
            if (un && lw_add(L, un, s, lat)) {
                y = q;
                again = true;
                break;
            }
        }
        if (!again)
            break;
    }
    uint32_t r = lo ? L->er[(lo - 1) % RING] : 0;
    for (uint32_t q = lo; q <= x; q++) {
        uint32_t f = L->ef[q % RING] + 1;
        r = r > f ? r : f;
        L->er[q % RING] = r;
    }
    *ret = r;
    for (int g = 0; g < NREGS; g++) { /* writers lo .. x - 1 (NOSEQ - lo >= ROB) */
        uint32_t w = wseq[g] - lo;
        if (w < ROB && ((moved >> w) & 1))
            rdy[g] = L->ef[(w + lo) % RING];
    }
    return 1;
}

/* fast_walk's placement without its limits, for the blocks it leaves (long unrolled loops,
 * ecalli, divisions, chains of loads). More than 32 entries: entry e (and any move_reg after
 * it) decodes no earlier than the cycle after entry e - 32 retired (the ROB is full until
 * then; retirement follows from the fins of older entries, so it is known). Units and starts
 * are fast_walk's bit sets as arrays, a word per 64 cycles, zeroed as far as they are used;
 * an interval of at most 100 cycles spans at most three words. A start past the range
 * (LONG_CYCLES + 64): FAST_RANGE.
 *
 * When a younger entry lands over an older one's start, lw_repair places the entries it
 * concerns again; when it cannot (the window has fast_walk's entries, without records),
 * FAST_REDO comes back: the caller places from the start without fast_walk's entries. */
enum { FAST_REDO = FAST_ORDER + 1 };
__attribute__((noinline)) static int long_walk(const exec_code *cd, uint64_t b, uint32_t m,
                                               uint32_t *cost, uint32_t *npos,
                                               const fast_hand *h)
{
    /* fast_walk's sets, a word per 64 cycles: C[k] bit k of the count of ALUs held, MU, DV,
     * S5; st the starts per cycle */
    lw_state L;
    for (int w = 0; w < LW_CLEAN0; w++)
        L.C[0][w] = L.C[1][w] = L.C[2][w] = L.MU[w] = L.DV[w] = L.S5[w] = 0;
    memset(L.st, 0, 64 * LW_CLEAN0);
    L.clean = LW_CLEAN0;
    uint64_t(*C)[LWORDS] = L.C, *MU = L.MU, *DV = L.DV, *S5 = L.S5;
    uint8_t *st = L.st;
    uint32_t rdy[NREGS] = { 0 }, wseq[NREGS];
    uint32_t *es = L.es, *ef = L.ef, *er = L.er, *ed0 = L.ed0, *ed1 = L.ed1;
    uint32_t *erd = L.erd, *ea = L.ea, *eb = L.eb;
    uint8_t *eu = L.eu;
    for (int i = 0; i < NREGS; i++)
        wseq[i] = NOSEQ;
    uint32_t cur = 0, dec = 4, ret = 0, e = 0, n = 0;
    uint64_t p = b;
    uint32_t kb = kbit_at(cd, b);
    const grow *rt = rows_for(m);
    const uint8_t *km = cd->k;
    const uint64_t Lc = cd->L;
    /* Going on from fast_walk (h): its entries 0 .. e0 - 1, decoded up to cycle h->cur, keep no
     * record but their retirement and their registers' fins (wseq NOSEQ): lw_repair cannot
     * place them again, FAST_REDO. */
    uint32_t e0 = 0;
    if (h) {
        for (int k = 0; k < 3; k++)
            C[k][0] = h->C[k];
        MU[0] = h->MU;
        DV[0] = h->DV;
        S5[0] = h->S5;
        memcpy(st, h->st, 64);
        for (int i = 0; i < NREGS; i++)
            rdy[i] = h->rdy[i];
        for (uint32_t x = 0; x < h->e; x++)
            er[x] = h->er[x];
        /* decoding p again gives the same cycle: these are the slots before it, or (after
         * a wrap) 4, which wrap no more but land in the same cycle with the same slots */
        cur = h->cur;
        dec = h->dec;
        ret = h->e ? h->er[h->e - 1] : 0;
        e = e0 = h->e;
        n = h->n;
        p = h->p;
        kb = h->kb;
    }
    for (;; n++) {
        dins d = decode_pos(cd, p, kb, m, rt);
        if (e >= ROB && er[(e - ROB) % RING] + 1 > cur) { /* entry e - 32 still live */
            cur = er[(e - ROB) % RING] + 1;
            dec = 4;
        }
        uint32_t wrap = d.slots > dec;
        cur += wrap;
        dec = (wrap ? 4 : dec) - d.slots;
        if (d.flags & D_MOVE) {
            rdy[d.dst] = rdy[d.src0];
            wseq[d.dst] = wseq[d.src0];
        } else {
            uint32_t s = cur + 1, a = rdy[d.src0], bb = rdy[d.src1], lat = d.lat, x = e % RING;
            /* what its ready cycle is made of, recorded before the search (fewer values live
             * across it) */
            eu[x] = d.units;
            ed0[x] = wseq[d.src0];
            ed1[x] = wseq[d.src1];
            erd[x] = s;
            ea[x] = a;
            eb[x] = bb;
            s = s > a ? s : a;
            s = s > bb ? s : bb;
            /* the first cycle from s with a start slot and the units, a word at a time */
            uint32_t un = d.units;
            for (;;) {
                uint32_t y = s / 64;
                /* the words of s and of any fin from it (lat <= 100), zeroed; a start past the
                 * range (no word left for its fin) is FAST_RANGE */
                if (EXEC_UNLIKELY(y + 2 >= L.clean)) {
                    if (y + 2 >= LWORDS)
                        return FAST_RANGE;
                    lw_zero(&L, y + 2);
                }
                uint64_t full = un ? C[2][y] : 0; /* 4 ALUs held (at least 3: two) */
                if (EXEC_UNLIKELY(un & 0xF2))
                    full |= ((un & 2) ? C[1][y] & C[0][y] : 0) | ((un & 0x10) ? MU[y] : 0) |
                            ((un & 0x40) ? DV[y] : 0);
                uint64_t cand = ~(full | S5[y]) & (~UINT64_C(0) << (s % 64));
                if (cand) {
                    s = 64 * y + (uint32_t)__builtin_ctzll(cand);
                    break;
                }
                s = 64 * y + 64;
            }
            if (++st[s] == 5)
                S5[s / 64] |= UINT64_C(1) << (s % 64);
            uint32_t f = s + lat;
            ret = ret > f + 1 ? ret : f + 1;
            es[x] = s;
            ef[x] = f;
            er[x] = ret;
            if (un) {
                uint64_t bad = lw_add(&L, un, s, lat);
                int rr = 0;
                if (bad) {
                    rr = lw_repair(&L, e, e0, rdy, wseq, &ret);
                    if (rr < 0)
                        return FAST_RANGE;
                }
                if (bad && !rr)
                    return FAST_REDO;
            }
            rdy[d.dst] = f;
            wseq[d.dst] = e;
            e++;
        }
        if (d.flags & D_LAST)
            break;
        p = draft_step_k(km, Lc, p, &kb);
    }
    uint32_t cyc = ret + 1;
    *cost = cyc > 4 ? cyc - 3 : 1;
    *npos = n + 1;
    return FAST_OK;
}

/* ---- the simulation (gas.md §5.3) ------------------------------------------------------- */

/* The block's positions in order, decoded one at a time as the simulation takes them. */
typedef struct walk {
    const exec_code *cd;
    const grow *rt; /* rows_for(m) */
    uint32_t m;
    uint32_t kb;    /* k at p */
    uint64_t p;     /* the position of the next record */
    uint32_t total; /* positions taken so far */
} walk;

/* The record at w->p: gas.md's under jam-draft, the profile's block (exec_block_last)
 * otherwise (other profiles' blocks end where their own rules say). */
static inline __attribute__((always_inline)) dins walk_pos(const walk *w, bool draft)
{
    const exec_code *cd = w->cd;
    if (draft)
        return decode_pos(cd, w->p, w->kb, w->m, w->rt);
    dins d = decode_pos(cd, w->p, kbit_at(cd, w->p), w->m, w->rt);
    d.flags = (uint8_t)((d.flags & D_MOVE) | (exec_block_last(cd, w->p) ? D_LAST : 0));
    return d;
}

/* To the position after w->p (a record without D_LAST). */
static inline __attribute__((always_inline)) void walk_step(walk *w, bool draft)
{
    const exec_code *cd = w->cd;
    if (draft)
        w->p = draft_step(cd, w->p, &w->kb); /* p < L: L reads as trap */
    else
        w->p = w->p < cd->L ? draft_next(cd, w->p) : w->p + 1;
}

/* The slots whose units do not fit beside `held` (ALU pool 4, MUL 1, DIV 1). */
static inline uint32_t blocked(uint64_t held, uint32_t needA, uint32_t need2A, uint32_t needM,
                               uint32_t needD)
{
    uint32_t alu = (uint32_t)held & 7;
    /* need2A is within needA; MUL and DIV users are rare (tested once) */
    uint32_t r = alu >= 4 ? needA : alu == 3 ? need2A : 0;
    if (EXEC_UNLIKELY(needM | needD))
        r |= ((held & 0x30) ? needM : 0) | ((held & 0xC0) ? needD : 0);
    return r;
}

static inline uint32_t rotr32(uint32_t x, unsigned k) { k &= 31; return k ? (x >> k) | (x << (32 - k)) : x; }

/* gas.md §5.3 with absolute cycle numbers instead of countdowns. An entry started in cycle s
 * with latency l has left = l - (c - s) in cycle c, so "left <= 0" is fin = s + l <= c; its
 * units come back for cycle fin (left == 1 at the end of cycle fin - 1); it is DONE after
 * cycle fin and retires at the end of the first cycle c > fin in which it is the oldest. A
 * producer's register roles end when left reaches 0, which is also when a dependency on it
 * is met, so `writer` is never cleared: a dependency on a finished (or retired) writer is
 * met at once, exactly as having none. Cycles in which nothing can happen are skipped: after
 * a cycle with no decode, no start and no retirement, the next cycle that can differ is the
 * first unit return / dependency release (some fin: nret, the first among the executing
 * entries) or the oldest entry's retirement. Dependencies are kept as masks of slots: pm[e]
 * the producers of e not done yet, dmask[q] the entries waiting on q; a producer clears its
 * bit in its dependants' pm when its fin comes, and an entry found waiting (waitdep) leaves
 * the start scan until one of its producers does. */
static inline __attribute__((always_inline)) uint32_t sim_block(walk *w, bool draft)
{
    /* Entry number seq (decode order) lives in slot seq % ROB; live entries are seq head ..
     * tail - 1. Masks are over slots. */
    uint32_t fin[ROB]; /* UNSTARTED until the entry starts */
    uint8_t units[ROB];
    uint32_t lat[ROB];
    /* per slot: the slots of its producers not done yet (pm), of the entries waiting on it
     * (dmask) */
    uint32_t pm[ROB], dmask[ROB];
    memset(pm, 0, sizeof pm);
    memset(dmask, 0, sizeof dmask);
    uint32_t writer[NREGS];
    for (int i = 0; i < NREGS; i++)
        writer[i] = NOSEQ;
    uint32_t unstarted = 0, holding = 0;
    /* slots whose entry needs an ALU, two ALUs, the MUL, the DIV; whose entry is done (left
     * <= 0: fin <= c); whose entry was found waiting on a producer that is not done since */
    uint32_t needA = 0, need2A = 0, needM = 0, needD = 0, done = 0, waitdep = 0;
/* Entry in slot sl (bit) reads the result of seq q: a dependency unless q is none, retired or
 * done. */
#define SIM_DEP(q)                                                                              \
    do {                                                                                        \
        uint32_t q_ = (q);                                                                      \
        if (q_ != NOSEQ && q_ >= head && !(done & (1u << (q_ % ROB)))) {                        \
            pm[sl] |= 1u << (q_ % ROB);                                                         \
            dmask[q_ % ROB] |= bit;                                                             \
        }                                                                                       \
    } while (0)
    walk wk = *w;              /* in registers: the walk and its current record */
    uint32_t wt = w->total;
    dins in = walk_pos(&wk, draft);
    uint32_t head = 0, tail = 0;
    uint64_t held = 0; /* sum of the executing entries' units (UN_* bytes) */
    uint32_t nret = UINT32_MAX; /* no holder's fin is below it */
    uint32_t c = 0;    /* cycles fit: a block's cost is below 2^32 (exec/exec.h limits) */
    for (;;) {
        /* units whose last execution cycle has passed come back (left == 1 steps); nret is
         * the first fin among the holders */
        if (nret <= c) {
            nret = UINT32_MAX;
            for (uint32_t h = holding; h; h &= h - 1) {
                unsigned s = (unsigned)__builtin_ctz(h);
                if (fin[s] <= c) {
                    held -= units[s];
                    holding &= ~(1u << s);
                    done |= 1u << s;
                    waitdep &= ~dmask[s]; /* its dependants may be ready */
                    for (uint32_t dm = dmask[s]; dm; dm &= dm - 1)
                        pm[__builtin_ctz(dm)] &= ~(1u << s);
                    dmask[s] = 0;
                } else if (fin[s] < nret) {
                    nret = fin[s];
                }
            }
        }
        /* (a) decode while slots and the ROB allow; a failed decode stays failed for the
         * rest of the cycle (starts change neither dec nor the ROB size) */
        uint32_t dec = 4, fresh = 0; /* slots decoded in this cycle (DECODED until its end) */
        for (uint32_t room = ROB - (tail - head); room;) { /* ROB entries free */
            if (in.slots > dec) /* never the block's first: slots <= 4 (gas.md §5.3) */
                break;
            dec -= in.slots;
            if (in.flags & D_MOVE) {
                writer[in.dst] = writer[in.src0];
            } else {
                unsigned sl = tail % ROB;
                uint32_t bit = 1u << sl, a = in.units & 7;
                lat[sl] = in.lat;
                fin[sl] = UNSTARTED;
                units[sl] = in.units;
                done &= ~bit; /* pm, dmask and waitdep were cleared when the slot's last
                               * entry became done */
                SIM_DEP(writer[in.src0]);
                SIM_DEP(writer[in.src1]);
                writer[in.dst] = tail;
                unstarted |= bit;
                fresh |= bit;
                needA = (needA & ~bit) | (a ? bit : 0);
                need2A &= ~bit;
                needM &= ~bit;
                needD &= ~bit;
                if (EXEC_UNLIKELY(in.units & 0xF2)) { /* two ALUs, MUL, DIV */
                    need2A |= a == 2 ? bit : 0;
                    needM |= (in.units & 0x10) ? bit : 0;
                    needD |= (in.units & 0x40) ? bit : 0;
                }
                tail++;
                room--;
            }
            wt++;
            if (in.flags & D_LAST) {
                in.slots = 0xFF; /* nothing more to decode: never fits */
                break;
            } else {
                walk_step(&wk, draft);
                in = walk_pos(&wk, draft);
            }
        }
        /* (b) start the oldest ready entries, up to 5, in age order (bit i of `age` is the
         * slot i places after the oldest); an entry that cannot start now cannot start later
         * in this cycle (held only grows, dependencies change between cycles). Entries whose
         * units are exhausted are masked out as a whole (`blocked`), not tried one by one. */
        unsigned iss = 5, h0 = head % ROB;
        bool busy = false; /* a ready entry was left for lack of start slots */
        uint32_t age = unstarted & ~fresh & ~waitdep & ~blocked(held, needA, need2A, needM, needD);
        age = rotr32(age, h0);
        while (age) {
            unsigned s = (h0 + (unsigned)__builtin_ctz(age)) % ROB;
            uint32_t bit = 1u << s;
            age &= age - 1;
            if (pm[s]) { /* a producer is not done: wait for one to be */
                waitdep |= bit;
                continue;
            }
            if (!iss) {
                busy = true;
                break;
            }
            fin[s] = c + lat[s];
            nret = fin[s] < nret ? fin[s] : nret;
            held += units[s];
            unstarted &= ~bit;
            holding |= bit;
            iss--;
            age &= ~rotr32(blocked(held, needA, need2A, needM, needD), h0);
        }
        /* (c) stop */
        bool more = in.slots != 0xFF;
        if (!more && head == tail)
            break;
        /* Everything decoded and started: only retirement is left. Entries retire in order,
         * each at the end of the first cycle after its fin, so the last at the end of cycle
         * R = max(c, max fin + 1); the loop would stop in cycle R + 1. */
        if (!more && !unstarted) {
            uint32_t r = c;
            for (uint32_t q = head; q != tail; q++)
                if (fin[q % ROB] + 1 > r)
                    r = fin[q % ROB] + 1;
            c = r + 1;
            break;
        }
        /* (d) end of cycle: retire the oldest entries that were DONE before it */
        while (head != tail && fin[head % ROB] < c) /* UNSTARTED is not */
            head++;
        /* The next cycle in which anything can happen: the next one if it can decode, if an
         * entry becomes WAITING, or if starts were short; otherwise the first unit return or
         * dependency release (a fin of an executing entry) or the oldest entry's retirement.
         * Every cycle before that would decode, start and retire nothing. */
        if (busy || fresh || (more && tail - head < ROB) || head == tail) {
            c++;
            continue;
        }
        uint32_t nx = nret; /* the first unit return or dependency release */
        if (fin[head % ROB] != UNSTARTED && fin[head % ROB] + 1 < nx)
            nx = fin[head % ROB] + 1;
        c = nx != UINT32_MAX && nx > c ? nx : c + 1;
    }
#undef SIM_DEP
    w->total = wt;
    return c > 4 ? c - 3 : 1;
}

/* sim_block for jam-draft's walk and for the other profiles' (the walk's test out of the
 * loop). */
__attribute__((noinline)) static uint32_t sim_draft(walk *w) { return sim_block(w, true); }

__attribute__((noinline)) static uint32_t sim_other(walk *w) { return sim_block(w, false); }

/* The blocks fast_walk leaves (about 2% of compiled code's): long_walk, or the simulation from
 * the start. Out of line, so the fast path's frame and registers are its own. */
__attribute__((noinline)) static uint32_t slow_cost(const exec_code *cd, uint64_t b, uint32_t m,
                                                    int rc, uint32_t *npos, const fast_hand *h)
{
    uint32_t cost, n = 0;
    if (rc == FAST_RANGE) {
        rc = long_walk(cd, b, m, &cost, &n, h);
        if (rc == FAST_REDO) /* placing from the start is cheaper than simulating, even when
                              * the overflow's decode cycle is early */
            rc = long_walk(cd, b, m, &cost, &n, NULL);
        if (rc == FAST_OK) {
            if (npos)
                *npos = n;
            return cost;
        }
    }
    walk w = { cd, rows_for(m), m, kbit_at(cd, b), b, 0 };
    cost = (cd->profile == JAVM_PROFILE_JAM_DRAFT ? sim_draft : sim_other)(&w);
    if (npos)
        *npos = w.total;
    return cost;
}

uint32_t exec_draft_block_cost(const exec_code *cd, uint64_t b, uint32_t m, uint32_t *npos)
{
    if (cd->profile == JAVM_PROFILE_JAM_DRAFT) {
        uint32_t cost, n;
        fast_hand h;
        int rc = fast_walk(cd, b, m, &cost, &n, &h);
        if (rc == FAST_OK) {
            if (npos)
                *npos = n;
            return cost;
        }
        /* past fast_walk's range: long_walk from the hand-over; a younger entry over an older
         * one's start (FAST_ORDER): long_walk from the start, whose repair places the
         * entries again (cheaper than the simulation from cycle 0, even on short blocks) */
        return slow_cost(cd, b, m, FAST_RANGE, npos, rc == FAST_RANGE && h.ok ? &h : NULL);
    }
    return slow_cost(cd, b, m, FAST_ORDER, npos, NULL);
}
