/* SPDX-License-Identifier: MIT
 * exec/gas_draft.c — the jam-draft gas model (shared/spec/gas.md): a block's cost is the
 * cycle count of a small out-of-order core (4 decode slots, 5 starts per cycle, a 32-entry
 * reorder buffer, a unit pool) simulated over the block's instructions. Computed once per
 * block start in javm_prepare (exec/prepare.c) or on demand (exec_block_cost_slow).
 *
 * Two ways to the same number. fast_block: when no cycle runs out of units or start slots
 * the schedule is a closed formula per instruction, checked afterwards (about 80% of the
 * blocks of compiled code). sim_block: gas.md §5.3's micro-step loop organised per cycle
 * (decode as far as the slots allow, start in age order, retire), on absolute cycle numbers,
 * jumping over cycles in which nothing can happen; loads (25 cycles) and divisions (60) made
 * a plain countdown loop spend most of its time idle. Speed: bench/bench_gas.c and
 * docs/exec.md. tests/ref/gas_ref.c is the literal transcription both are checked against
 * (tests/test_gas_diff.c, fuzz/fuzz_gas_diff.c). */
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

/* Register selectors per role: index into {none, lo, hi, d3} for src0, src1 and dst. */
static const uint8_t role_sel[][3] = {
    [ROLE_NONE] = { 0, 0, 0 }, [ROLE_D_LO] = { 0, 0, 1 }, [ROLE_S_LO] = { 1, 0, 0 },
    [ROLE_HI_LO] = { 2, 0, 1 }, [ROLE_S_LOHI] = { 1, 2, 0 }, [ROLE_3REG] = { 1, 2, 3 },
};

/* Decodes position p of the block under model load latency m (gas.md §4). Table-driven
 * without switches: with random opcodes two indirect jumps per instruction were most of
 * its cost (23 ns per instruction before, bench/bench_gas.c). */
static inline __attribute__((always_inline)) void draft_decode(const exec_code *cd, uint64_t p,
                                                                uint32_t m, draft_ins *in)
{
    bool inside = p < cd->L;
    uint8_t op = inside && ((cd->k[p >> 3] >> (p & 7)) & 1) ? cd->c[p] : 0;
    if (!rows[op].lat)
        op = 0; /* not a model opcode: trap */
    const draft_row *r = &rows[op];
    const uint8_t *c = cd->c; /* padded: reads at p + 1, p + 2 stay inside (ζ) */
    uint8_t b1 = inside ? c[p + 1] : 0, b2 = inside ? c[p + 2] : 0;
    uint8_t lo = (b1 & 15) < 12 ? (b1 & 15) : 12;
    uint8_t hi = (b1 >> 4) < 12 ? (b1 >> 4) : 12;
    uint8_t d3 = b2 < 12 ? b2 : 12;
    const int8_t f[4] = { -1, (int8_t)lo, (int8_t)hi, (int8_t)d3 };
    const uint8_t *sel = role_sel[r->role];
    in->src0 = f[sel[0]];
    in->src1 = f[sel[1]];
    in->dst = f[sel[2]];
    bool ov = r->rule == SL_P ? (in->dst >= 0 && (in->dst == in->src0 || in->dst == in->src1))
                              : lo == d3; /* PS; fixed rows have sa == sb */
    in->slots = ov ? r->sa : r->sb;
    in->lat = r->lat == LAT_MEM ? m : r->lat;
    if (EXEC_UNLIKELY(r->lat == LAT_BR)) {
        /* gas.md §4.4: 1 when either successor's raw byte is trap or unlikely */
        uint32_t t = 0;
        exec_branch_target(cd, p, &t);
        uint8_t fb = zeta(cd, draft_next(cd, p)), g = zeta(cd, t);
        in->lat = (fb == 0 || fb == 3 || g == 0 || g == 3) ? 1 : 20;
    }
    in->units = unit_vec[r->units];
    in->move = (r->flags & F_MOVE) != 0;
    in->last = cd->profile == JAVM_PROFILE_JAM_DRAFT ? (r->flags & F_TERM) != 0
                                                     : exec_block_last(cd, p);
}

/* ---- the simulation (gas.md §5.3) ------------------------------------------------------- */

#define ROB 32
#define NOSEQ UINT32_MAX
#define UNSTARTED UINT32_MAX

static inline bool fits(uint64_t units, uint64_t free)
{
    return (((free | U_GUARD) - units) & U_GUARD) == U_GUARD;
}

/* A dependency on entry d is met in cycle c when d retired or left <= 0 (fin <= c). */
static inline bool dep_met(uint32_t d, uint32_t head, const uint32_t *start, const uint32_t *fin,
                           uint32_t c)
{
    return d == NOSEQ || d < head || (start[d % ROB] != UNSTARTED && fin[d % ROB] <= c);
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
 * first unit return / dependency release (some fin) or the oldest entry's retirement. */
static uint32_t sim_block(const exec_code *cd, uint64_t b, uint32_t m)
{
    /* Entry number seq (decode order) lives in slot seq % ROB; live entries are seq head ..
     * tail - 1. Masks are over slots. */
    uint32_t start[ROB], fin[ROB], dcyc[ROB];
    uint64_t units[ROB];
    uint32_t lat[ROB], dep0[ROB], dep1[ROB];
    uint32_t writer[13];
    for (int i = 0; i < 13; i++)
        writer[i] = NOSEQ;
    uint32_t unstarted = 0, holding = 0;
    uint32_t head = 0, tail = 0;
    uint64_t free = U_POOL;
    uint32_t c = 0; /* cycles fit: a block's cost is below 2^32 (exec/exec.h limits) */
    uint64_t pc = b;
    bool more = true, first = true;
    draft_ins in;
    draft_decode(cd, pc, m, &in);
    for (;;) {
        /* units whose last execution cycle has passed come back (left == 1 steps) */
        for (uint32_t h = holding; h; h &= h - 1) {
            unsigned s = (unsigned)__builtin_ctz(h);
            if (fin[s] <= c) {
                free += units[s];
                holding &= ~(1u << s);
            }
        }
        /* (a) decode while slots and the ROB allow; a failed decode stays failed for the
         * rest of the cycle (starts change neither dec nor the ROB size) */
        uint32_t dec = 4;
        bool decoded = false; /* an entry was decoded in this cycle */
        while (more && tail - head < ROB && (first || in.slots <= dec)) {
            first = false;
            dec -= in.slots < dec ? in.slots : dec;
            if (in.move) {
                writer[in.dst] = writer[in.src0];
            } else {
                unsigned s = tail % ROB;
                lat[s] = in.lat;
                start[s] = UNSTARTED;
                dcyc[s] = c;
                units[s] = in.units;
                dep0[s] = in.src0 >= 0 ? writer[in.src0] : NOSEQ;
                dep1[s] = in.src1 >= 0 ? writer[in.src1] : NOSEQ;
                if (in.dst >= 0)
                    writer[in.dst] = tail;
                unstarted |= 1u << s;
                tail++;
                decoded = true;
            }
            if (in.last) {
                more = false;
            } else {
                pc = draft_next(cd, pc);
                draft_decode(cd, pc, m, &in);
            }
        }
        /* (b) start the oldest ready entries, up to 5, in age order (bit i of `age` is the
         * slot i places after the oldest); an entry that cannot start now cannot start later
         * in this cycle (free only shrinks, dependencies change between cycles) */
        unsigned iss = 5, h0 = head % ROB;
        bool busy = false; /* a ready entry was left for lack of start slots */
        for (uint32_t age = rotr32(unstarted, h0); age; age &= age - 1) {
            unsigned s = (h0 + (unsigned)__builtin_ctz(age)) % ROB;
            if (dcyc[s] == c || !fits(units[s], free))
                continue; /* still DECODED, or units busy */
            if (!dep_met(dep0[s], head, start, fin, c) || !dep_met(dep1[s], head, start, fin, c))
                continue;
            if (!iss) {
                busy = true;
                break;
            }
            start[s] = c;
            fin[s] = c + lat[s];
            free -= units[s];
            unstarted &= ~(1u << s);
            holding |= 1u << s;
            iss--;
        }
        /* (c) stop */
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
        while (head != tail && start[head % ROB] != UNSTARTED && fin[head % ROB] < c)
            head++;
        /* The next cycle in which anything can happen: the next one if it can decode, if an
         * entry becomes WAITING, or if starts were short; otherwise the first unit return or
         * dependency release (a fin of an executing entry) or the oldest entry's retirement.
         * Every cycle before that would decode, start and retire nothing. */
        if (busy || decoded || (more && tail - head < ROB) || head == tail) {
            c++;
            continue;
        }
        uint32_t nx = UINT32_MAX;
        for (uint32_t h = holding; h; h &= h - 1) {
            unsigned s = (unsigned)__builtin_ctz(h);
            if (fin[s] < nx)
                nx = fin[s];
        }
        if (start[head % ROB] != UNSTARTED && fin[head % ROB] + 1 < nx)
            nx = fin[head % ROB] + 1;
        c = nx != UINT32_MAX && nx > c ? nx : c + 1;
    }
    return c > 4 ? c - 3 : 1;
}

/* ---- the contention-free fast path ------------------------------------------------------ */

#define FAST_N 32   /* instructions of a block the fast path takes */

/* When no cycle ever runs out of units or start slots, §5.3 reduces to a formula per entry,
 * in decode order: decoded in cycle d (4 slots a cycle, the ROB holding 32: entry e waits
 * for entry e - 32 to retire), started at s = max(d + 1, fin of its producers), fin = s + lat,
 * retired at r = max(fin + 1, r of the entry before); the loop stops in cycle r_last + 1.
 * The schedule is then checked at every start (units held over [s, fin), at most 5 starts
 * a cycle); if it never exceeds the pool it is the one the simulation makes, because every
 * entry the formula starts in a cycle fits. Otherwise (or for a long block) *cost is left
 * and false comes back: sim_block decides. Most blocks pass; see bench/bench_gas.c. */
static bool fast_block(const exec_code *cd, uint64_t b, uint32_t m, uint32_t *cost)
{
    uint32_t fin[FAST_N], start[FAST_N], ret[FAST_N];
    uint64_t units[FAST_N];
    int32_t writer[13];
    for (int i = 0; i < 13; i++)
        writer[i] = -1;
    uint32_t cur = 0, dec = 4, e = 0;
    bool first = true;
    uint64_t pc = b;
    for (unsigned n = 0;; n++) {
        if (n == FAST_N)
            return false;
        draft_ins in;
        draft_decode(cd, pc, m, &in);
        if (e >= ROB && ret[e - ROB] + 1 > cur) {
            cur = ret[e - ROB] + 1; /* the ROB was full: decoding resumes after a retirement */
            dec = 4;
        }
        if (!first && in.slots > dec) {
            cur++;
            dec = 4;
            if (e >= ROB && ret[e - ROB] + 1 > cur)
                cur = ret[e - ROB] + 1;
        }
        first = false;
        dec -= in.slots < dec ? in.slots : dec;
        if (in.move) {
            writer[in.dst] = writer[in.src0];
        } else {
            uint32_t s = cur + 1;
            if (in.src0 >= 0 && writer[in.src0] >= 0 && fin[writer[in.src0]] > s)
                s = fin[writer[in.src0]];
            if (in.src1 >= 0 && writer[in.src1] >= 0 && fin[writer[in.src1]] > s)
                s = fin[writer[in.src1]];
            start[e] = s;
            fin[e] = s + in.lat;
            units[e] = in.units;
            ret[e] = fin[e] + 1 > (e ? ret[e - 1] : 0) ? fin[e] + 1 : ret[e - 1];
            if (in.dst >= 0)
                writer[in.dst] = (int32_t)e;
            e++;
        }
        if (in.last)
            break;
        pc = draft_next(cd, pc);
    }
    /* The check. Units held only grow at a start, so checking the cycle of every start is
     * enough: there, the entries started at or before it and not yet finished must fit in
     * the pool, and at most 5 may start in it. O(e^2) on a few entries beats a per-cycle
     * sweep over the whole block. */
    for (uint32_t i = 0; i < e; i++) {
        uint32_t c = start[i];
        uint64_t held = 0;
        unsigned nstart = 0;
        for (uint32_t k = 0; k < e; k++) {
            if (start[k] <= c && fin[k] > c)
                held += units[k];
            nstart += start[k] == c;
        }
        if (nstart > 5 || !fits(held, U_POOL))
            return false;
    }
    uint32_t c = ret[e - 1] + 1;
    *cost = c > 4 ? c - 3 : 1;
    return true;
}

uint32_t exec_draft_block_cost(const exec_code *cd, uint64_t b, uint32_t m)
{
    uint32_t cost;
    if (fast_block(cd, b, m, &cost))
        return cost;
    return sim_block(cd, b, m);
}
