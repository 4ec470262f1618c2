/* SPDX-License-Identifier: MIT
 * exec/interp.c — the PVM interpreter (pvm.md §2.5, §3, §5, §6): runs predecoded exec_rec
 * records (exec/exec.h) with computed-goto dispatch, or a switch when built with
 * JAVM_SWITCH_DISPATCH (the test build exercises both).
 *
 * Hot-loop rules: pc, gas and the record pointer live in locals; registers are the state's
 * own array; gas is charged only on arrival at a block start, which can only follow a
 * terminator, so non-terminators just step to the next record. The points where locals are
 * written back to the state are the handler call and the exits (see finish:). */
#ifndef EXEC_INTERP_INSTANCE
#include "exec/exec.h"

/* ---- arithmetic edge cases (pvm.md §5), all in unsigned arithmetic ---------------------- */

#define SIGN64 (UINT64_C(1) << 63)

static inline uint64_t sx32(uint64_t v) { return ((v & 0xFFFFFFFFu) ^ 0x80000000u) - 0x80000000u; }
static inline uint64_t sx8(uint64_t v) { return ((v & 0xFFu) ^ 0x80u) - 0x80u; }
static inline uint64_t sx16(uint64_t v) { return ((v & 0xFFFFu) ^ 0x8000u) - 0x8000u; }
/* s32(v) as a signed 64-bit value; sx32 already made it two's complement in 64 bits. */
static inline int64_t s32(uint64_t v) { return (int64_t)sx32(v); }
static inline bool lt_s(uint64_t a, uint64_t b) { return (a ^ SIGN64) < (b ^ SIGN64); }

/* Arithmetic right shift without implementation-defined behaviour. */
static inline uint64_t sar64(uint64_t x, unsigned s)
{
    uint64_t m = 0 - (x >> 63);
    return ((x ^ m) >> s) ^ m;
}
static inline uint64_t rotr64(uint64_t x, uint64_t s) { s &= 63; return (x >> s) | (x << ((64 - s) & 63)); }
static inline uint64_t rotl64(uint64_t x, uint64_t s) { s &= 63; return (x << s) | (x >> ((64 - s) & 63)); }
static inline uint64_t rotr32(uint64_t x, uint64_t s)
{
    uint32_t v = (uint32_t)x, k = (uint32_t)(s & 31);
    return sx32((v >> k) | (v << ((32 - k) & 31)));
}
static inline uint64_t rotl32(uint64_t x, uint64_t s)
{
    uint32_t v = (uint32_t)x, k = (uint32_t)(s & 31);
    return sx32((v << k) | (v >> ((32 - k) & 31)));
}

/* Division and remainder (pvm.md §5, ThreeReg 193-196, 203-206): by zero gives all ones
 * (div) or the dividend (rem); MIN / -1 gives the dividend (div) or 0 (rem). The 32-bit
 * forms work on s32 values in 64 bits, where -2^31 / -1 = 2^31 cannot overflow and sx32
 * folds it back to the dividend. */
static inline uint64_t div_u32(uint64_t a, uint64_t b)
{
    uint32_t x = (uint32_t)a, y = (uint32_t)b;
    return y == 0 ? UINT64_MAX : sx32(x / y);
}
static inline uint64_t div_s32(uint64_t a, uint64_t b)
{
    int64_t x = s32(a), y = s32(b);
    return y == 0 ? UINT64_MAX : sx32((uint64_t)(x / y));
}
static inline uint64_t rem_u32(uint64_t a, uint64_t b)
{
    uint32_t x = (uint32_t)a, y = (uint32_t)b;
    return y == 0 ? sx32(x) : sx32(x % y);
}
static inline uint64_t rem_s32(uint64_t a, uint64_t b)
{
    int64_t x = s32(a), y = s32(b);
    return y == 0 ? sx32(a) : sx32((uint64_t)(x % y));
}
static inline uint64_t div_u64(uint64_t a, uint64_t b) { return b == 0 ? UINT64_MAX : a / b; }
static inline uint64_t div_s64(uint64_t a, uint64_t b)
{
    if (b == 0)
        return UINT64_MAX;
    if (a == SIGN64 && b == UINT64_MAX)
        return a;
    return (uint64_t)((int64_t)a / (int64_t)b);
}
static inline uint64_t rem_u64(uint64_t a, uint64_t b) { return b == 0 ? a : a % b; }
static inline uint64_t rem_s64(uint64_t a, uint64_t b)
{
    if (a == SIGN64 && b == UINT64_MAX)
        return 0;
    if (b == 0)
        return a;
    return (uint64_t)((int64_t)a % (int64_t)b);
}

/* High 64 bits of 128-bit products (pvm.md §5 identities for the signed forms). */
static inline uint64_t mulh_uu(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
#else
    uint64_t al = a & 0xFFFFFFFFu, ah = a >> 32, bl = b & 0xFFFFFFFFu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFu) + (hl & 0xFFFFFFFFu);
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}
static inline uint64_t mulh_su(uint64_t a, uint64_t b) { return mulh_uu(a, b) - ((a >> 63) ? b : 0); }
static inline uint64_t mulh_ss(uint64_t a, uint64_t b)
{
    return mulh_uu(a, b) - ((a >> 63) ? b : 0) - ((b >> 63) ? a : 0);
}

static inline uint64_t clz64(uint64_t x) { return x ? (uint64_t)__builtin_clzll(x) : 64; }
static inline uint64_t clz32(uint64_t x) { uint32_t v = (uint32_t)x; return v ? (uint64_t)__builtin_clz(v) : 32; }
static inline uint64_t ctz64(uint64_t x) { return x ? (uint64_t)__builtin_ctzll(x) : 64; }
static inline uint64_t ctz32(uint64_t x) { uint32_t v = (uint32_t)x; return v ? (uint64_t)__builtin_ctz(v) : 32; }

/* Little-endian host loads and stores at any alignment (the build is for little-endian
 * hosts; exec/exec.h users never see host byte order). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "javm-c's interpreter assumes a little-endian host"
#endif
static inline uint64_t ld1(const uint8_t *p) { return p[0]; }
static inline uint64_t ld2(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint64_t ld4(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t ld8(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void st1(uint8_t *p, uint64_t v) { p[0] = (uint8_t)v; }
static inline void st2(uint8_t *p, uint64_t v) { uint16_t w = (uint16_t)v; memcpy(p, &w, 2); }
static inline void st4(uint8_t *p, uint64_t v) { uint32_t w = (uint32_t)v; memcpy(p, &w, 4); }
static inline void st8(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

const char *javm_exit_name(javm_exit_reason r)
{
    switch (r) {
    case JAVM_EXIT_HALT: return "halt";
    case JAVM_EXIT_PANIC: return "panic";
    case JAVM_EXIT_OUT_OF_GAS: return "out-of-gas";
    case JAVM_EXIT_PAGE_FAULT: return "page-fault";
    case JAVM_EXIT_HOST_CALL: return "host-call";
    case JAVM_EXIT_ECALL: return "ecall";
    case JAVM_EXIT_TRAP: return "trap";
    case JAVM_EXIT_STOPPED: return "stopped";
    }
    return "?";
}

/* ---- the loop ------------------------------------------------------------------------- */

#ifdef JAVM_SWITCH_DISPATCH
#define OP(n) case n:
#define DISPATCH() goto dispatch
#else
#define OP(n) L_##n:
#define DISPATCH() goto *disp[rec->op]
#endif

#define NEXT() do { rec++; DISPATCH(); } while (0)

/* Arrival at record tp (pvm.md §2.5): charge it if it is a block start (cost > 0). The
 * instructions of the segment that ends here are added to the step count. */
#define ARRIVE(tp) do { \
        const exec_rec *t_ = (tp); \
        done += (uint64_t)(rec - seg) + 1; \
        int64_t c_ = t_->cost[m]; \
        if (EXEC_UNLIKELY(gas < c_) && c_ != 0) { rec = t_; goto out_of_gas; } \
        gas -= c_; \
        rec = seg = t_; \
        DISPATCH(); \
    } while (0)

#define EXIT(rsn, a, pcv) do { ex.reason = (rsn); ex.arg = (a); exit_pc = (pcv); goto finish; } while (0)
#define PANIC_HERE() EXIT(JAVM_EXIT_PANIC, 0, rec->pc)

#define BRANCH(cond) do { \
        if (cond) { \
            if (EXEC_UNLIKELY(rec->y == EXEC_NO_TARGET)) PANIC_HERE(); \
            ARRIVE(recs + rec->y); \
        } \
        ARRIVE(rec + 1); \
    } while (0)

/* djump (pvm.md §6.3); the GP halt address is tested by the _GP ops before this. */
#define DJUMP(t) do { \
        uint64_t t2_ = (t); \
        if (EXEC_UNLIKELY(t2_ == 0 || (t2_ & 1) || t2_ > 2 * njt)) PANIC_HERE(); \
        uint32_t i_ = jt_rec[t2_ / 2 - 1]; \
        if (EXEC_UNLIKELY(i_ == EXEC_NO_TARGET)) PANIC_HERE(); \
        ARRIVE(recs + i_); \
    } while (0)

#define MEM_FAIL(e, f) do { \
        if ((e) == JAVM_EXIT_PAGE_FAULT) EXIT(JAVM_EXIT_PAGE_FAULT, (f), rec->pc); \
        PANIC_HERE(); \
    } while (0)

/* A guest load of N bytes: one state-byte test when the access stays inside one page.
 * LOW_OK is 1 except in the jam-draft instance, where it sends every access below 2^16 to
 * the slow path, which holds the profile's rules (exec_mem_slow). */
#define LOAD(N, ld, addr, dst, conv) do { \
        uint32_t ad_ = (uint32_t)(addr); \
        if (EXEC_UNLIKELY(!(LOW_OK(ad_) && (ad_ & 0xFFF) <= 4096 - (N) && (EXEC_PAGE_STATE(mb, ad_ >> 12) & EXEC_P_R)))) { \
            uint32_t f_; \
            javm_exit_reason e_ = exec_mem_slow(mem, ad_, (N), false, RUN_PROF, &f_); \
            if (e_ != JAVM_EXIT_HALT) MEM_FAIL(e_, f_); \
        } \
        dst = conv(ld(mb + ad_)); \
    } while (0)

/* A guest store: the fast path needs a writable page that is already dirty. */
#define STORE(N, st, addr, val) do { \
        uint32_t ad_ = (uint32_t)(addr); \
        uint64_t v_ = (val); \
        if (EXEC_UNLIKELY(!(LOW_OK(ad_) && (ad_ & 0xFFF) <= 4096 - (N) && EXEC_PAGE_STATE(mb, ad_ >> 12) == EXEC_P_STORE))) { \
            uint32_t f_; \
            javm_exit_reason e_ = exec_mem_slow(mem, ad_, (N), true, RUN_PROF, &f_); \
            if (e_ != JAVM_EXIT_HALT) MEM_FAIL(e_, f_); \
        } \
        st(mb + ad_, v_); \
        NEXT(); \
    } while (0)

/* ecall/ecalli (pvm.md §3.2): pc goes past the instruction, then the handler is called with
 * the gas synced to the state; no handler exits with `none`. CONTINUE runs `then`. */
#define CALL_HANDLER(kind, imm, none, then) do { \
        const exec_rec *nx_ = rec + 1; \
        if (!handler) EXIT((none), (imm), nx_->pc); \
        st->gas = gas; \
        st->pc = nx_->pc; \
        javm_answer an_ = handler(user, (kind), (imm), r, mem, &st->gas); \
        gas = st->gas; \
        if (!an_.cont) EXIT(an_.exit.reason, an_.exit.arg, nx_->pc); \
        then; \
    } while (0)

#define ID(v) (v)

#define RA r[rec->a]
#define RB r[rec->b]
#define RD r[rec->d]
#define X rec->x
#define Y rec->y

/* The loop is compiled four times, by including this file into itself (the #else part at
 * the bottom): for the JAVM and GP profiles (std) and for jam-draft (draft), whose memory
 * fast paths add one test, LOW_OK(ad_) = (ad_ >= 2^16); and for each record cost slot, so
 * the slot is a constant. A run-time `ad_ >= low` in a single loop cost 6-7% on the `mem`
 * and `sieve` benchmarks, and a run-time slot that the compiler spilled one load per block
 * arrival (+1-2% executed instructions); this way the JAVM loop is what it was. */
#define EXEC_INTERP_INSTANCE 1
#define RUN_PROF JAVM_PROFILE_JAVM /* exec_mem_slow treats GP as JAVM */
#define LOW_OK(a) 1
#define RUN_FN run_std0
#define RUN_SLOT 0
#include "exec/interp.c"
#undef RUN_FN
#undef RUN_SLOT
#define RUN_FN run_std1
#define RUN_SLOT 1
#include "exec/interp.c"
#undef RUN_FN
#undef RUN_SLOT
#undef RUN_PROF
#undef LOW_OK
#define RUN_PROF JAVM_PROFILE_JAM_DRAFT
#define LOW_OK(a) ((a) >= EXEC_DRAFT_LOW)
#define RUN_FN run_draft0
#define RUN_SLOT 0
#include "exec/interp.c"
#undef RUN_FN
#undef RUN_SLOT
#define RUN_FN run_draft1
#define RUN_SLOT 1
#include "exec/interp.c"
#undef RUN_FN
#undef RUN_SLOT
#undef RUN_PROF
#undef LOW_OK

javm_exit exec_interp_run(const javm_program *p, javm_state *st, javm_gas_model model,
                          javm_handler handler, void *user)
{
    /* The record slot of the model (exec_rec_cost); an unknown value means pipeline. A model
     * the program does not hold: Panic at the start pc, nothing dispatched, state unchanged. */
    unsigned m = p->cost_slot[(unsigned)model < EXEC_NUM_MODELS ? model : JAVM_GAS_PIPELINE];
    if (m == EXEC_NO_SLOT)
        return (javm_exit){ JAVM_EXIT_PANIC, 0 };
    if (p->profile == JAVM_PROFILE_JAM_DRAFT)
        return m ? run_draft1(p, st, handler, user) : run_draft0(p, st, handler, user);
    return m ? run_std1(p, st, handler, user) : run_std0(p, st, handler, user);
}

#else /* EXEC_INTERP_INSTANCE: one instance of the loop, named RUN_FN */

static javm_exit RUN_FN(const javm_program *p, javm_state *st, javm_handler handler, void *user)
{
    const exec_rec *const recs = p->recs;
    const uint32_t *const jt_rec = p->jt_rec;
    const uint64_t njt = p->njt;
    const unsigned m = RUN_SLOT; /* the record cost slot of the run's gas model */
    uint64_t *const r = st->regs;
    javm_memory *const mem = st->mem;
    uint8_t *const mb = mem->base;
    int64_t gas = st->gas;
    uint64_t done = 0;
    javm_exit ex = { JAVM_EXIT_PANIC, 0 };
    uint32_t exit_pc = st->pc;
    const exec_rec *rec, *seg;

#ifndef JAVM_SWITCH_DISPATCH
    /* Every byte defaults to the panic handler, then the defined ops override it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
    static const void *const disp[256] = {
        [0 ... 255] = &&L_255,
#define X_LABEL(n, name, cls, term) [n] = &&L_##n,
        EXEC_OPCODES(X_LABEL)
#undef X_LABEL
        [EXEC_OP_ECALLI_GP] = &&L_254, [EXEC_OP_JUMP_IND_GP] = &&L_253,
        [EXEC_OP_LIJI_GP] = &&L_252, [EXEC_OP_NOP] = &&L_251,
    };
#pragma GCC diagnostic pop
#endif

    /* Arrival at the start position (pvm.md §2.5). */
    /* A start at k = 0 panics before anything is dispatched, also at a position that has a
     * record only because a capped skip lands there. */
    if (st->pc > p->L || p->pc2rec[st->pc] == EXEC_NO_TARGET ||
        (st->pc < p->L && !((p->bitmask[st->pc >> 3] >> (st->pc & 7)) & 1))) {
        st->gas = gas;
        return ex; /* Panic at the start pc; nothing dispatched */
    }
    rec = seg = recs + p->pc2rec[st->pc];
    {
        int64_t c0 = rec->cost[m];
        if (gas < c0 && c0 != 0)
            goto out_of_gas;
        gas -= c0;
    }
    DISPATCH();

#ifdef JAVM_SWITCH_DISPATCH
dispatch:
    switch (rec->op) {
#endif

    /* ---- NoArgs, OneImm ---- */
    OP(0) EXIT(JAVM_EXIT_TRAP, 0, rec->pc);
    OP(1) OP(2) ARRIVE(rec + 1);
    OP(3) CALL_HANDLER(JAVM_CALL_ECALL, 0, JAVM_EXIT_ECALL, ARRIVE(nx_));
    OP(10) CALL_HANDLER(JAVM_CALL_ECALLI, (uint32_t)X, JAVM_EXIT_HOST_CALL, ARRIVE(nx_));
    /* GP ecalli: not a terminator, so CONTINUE steps on without a charge */
    OP(254) CALL_HANDLER(JAVM_CALL_ECALLI, (uint32_t)X, JAVM_EXIT_HOST_CALL, NEXT());
    OP(255) PANIC_HERE();
    OP(251) NEXT(); /* jam-draft `unlikely`: a no-op inside its block */

    /* ---- immediate loads, stores, jumps ---- */
    OP(20) RA = X; NEXT();
    OP(30) STORE(1, st1, X, Y);
    OP(31) STORE(2, st2, X, Y);
    OP(32) STORE(4, st4, X, Y);
    OP(33) STORE(8, st8, X, Y);
    OP(40) BRANCH(1);
    OP(50) DJUMP((uint32_t)(RA + X));
    OP(253) {
        uint32_t t = (uint32_t)(RA + X);
        if (t == 0xFFFF0000u)
            EXIT(JAVM_EXIT_HALT, 0, rec->pc);
        DJUMP(t);
    }
    OP(51) RA = X; NEXT();
    OP(52) LOAD(1, ld1, X, RA, ID); NEXT();
    OP(53) LOAD(1, ld1, X, RA, sx8); NEXT();
    OP(54) LOAD(2, ld2, X, RA, ID); NEXT();
    OP(55) LOAD(2, ld2, X, RA, sx16); NEXT();
    OP(56) LOAD(4, ld4, X, RA, ID); NEXT();
    OP(57) LOAD(4, ld4, X, RA, sx32); NEXT();
    OP(58) LOAD(8, ld8, X, RA, ID); NEXT();
    OP(59) STORE(1, st1, X, RA);
    OP(60) STORE(2, st2, X, RA);
    OP(61) STORE(4, st4, X, RA);
    OP(62) STORE(8, st8, X, RA);
    OP(70) STORE(1, st1, RA + X, Y);
    OP(71) STORE(2, st2, RA + X, Y);
    OP(72) STORE(4, st4, RA + X, Y);
    OP(73) STORE(8, st8, RA + X, Y);
    OP(80) RA = X; BRANCH(1);
    OP(81) BRANCH(RA == X);
    OP(82) BRANCH(RA != X);
    OP(83) BRANCH(RA < X);
    OP(84) BRANCH(RA <= X);
    OP(85) BRANCH(RA >= X);
    OP(86) BRANCH(RA > X);
    OP(87) BRANCH(lt_s(RA, X));
    OP(88) BRANCH(!lt_s(X, RA));
    OP(89) BRANCH(!lt_s(RA, X));
    OP(90) BRANCH(lt_s(X, RA));

    /* ---- TwoReg: RD = f(RA) ---- */
    OP(100) RD = RA; NEXT();
    OP(101) PANIC_HERE(); /* never predecoded: sbrk becomes EXEC_OP_PANIC */
    OP(102) RD = (uint64_t)__builtin_popcountll(RA); NEXT();
    OP(103) RD = (uint64_t)__builtin_popcount((uint32_t)RA); NEXT();
    OP(104) RD = clz64(RA); NEXT();
    OP(105) RD = clz32(RA); NEXT();
    OP(106) RD = ctz64(RA); NEXT();
    OP(107) RD = ctz32(RA); NEXT();
    OP(108) RD = sx8(RA); NEXT();
    OP(109) RD = sx16(RA); NEXT();
    OP(110) RD = RA & 0xFFFF; NEXT();
    OP(111) RD = __builtin_bswap64(RA); NEXT();

    /* ---- TwoRegOneImm: RA = f(RB, X) ---- */
    OP(120) STORE(1, st1, RB + X, RA);
    OP(121) STORE(2, st2, RB + X, RA);
    OP(122) STORE(4, st4, RB + X, RA);
    OP(123) STORE(8, st8, RB + X, RA);
    OP(124) LOAD(1, ld1, RB + X, RA, ID); NEXT();
    OP(125) LOAD(1, ld1, RB + X, RA, sx8); NEXT();
    OP(126) LOAD(2, ld2, RB + X, RA, ID); NEXT();
    OP(127) LOAD(2, ld2, RB + X, RA, sx16); NEXT();
    OP(128) LOAD(4, ld4, RB + X, RA, ID); NEXT();
    OP(129) LOAD(4, ld4, RB + X, RA, sx32); NEXT();
    OP(130) LOAD(8, ld8, RB + X, RA, ID); NEXT();
    OP(131) RA = sx32(RB + X); NEXT();
    OP(132) RA = RB & X; NEXT();
    OP(133) RA = RB ^ X; NEXT();
    OP(134) RA = RB | X; NEXT();
    OP(135) RA = sx32(RB * X); NEXT();
    OP(136) RA = RB < X; NEXT();
    OP(137) RA = lt_s(RB, X); NEXT();
    OP(138) RA = sx32((RB & 0xFFFFFFFFu) << (X & 31)); NEXT();
    OP(139) RA = sx32((RB & 0xFFFFFFFFu) >> (X & 31)); NEXT();
    OP(140) RA = sar64(sx32(RB), (unsigned)(X & 31)); NEXT();
    OP(141) RA = sx32(X - RB); NEXT();
    OP(142) RA = RB > X; NEXT();
    OP(143) RA = lt_s(X, RB); NEXT();
    OP(144) RA = sx32((X & 0xFFFFFFFFu) << (RB & 31)); NEXT();
    OP(145) RA = sx32((X & 0xFFFFFFFFu) >> (RB & 31)); NEXT();
    OP(146) RA = sar64(sx32(X), (unsigned)(RB & 31)); NEXT();
    OP(147) if (RB == 0) RA = X; NEXT();
    OP(148) if (RB != 0) RA = X; NEXT();
    OP(149) RA = RB + X; NEXT();
    OP(150) RA = RB * X; NEXT();
    OP(151) RA = RB << (X & 63); NEXT();
    OP(152) RA = RB >> (X & 63); NEXT();
    OP(153) RA = sar64(RB, (unsigned)(X & 63)); NEXT();
    OP(154) RA = X - RB; NEXT();
    OP(155) RA = X << (RB & 63); NEXT();
    OP(156) RA = X >> (RB & 63); NEXT();
    OP(157) RA = sar64(X, (unsigned)(RB & 63)); NEXT();
    OP(158) RA = rotr64(RB, X); NEXT();
    OP(159) RA = rotr64(X, RB); NEXT();
    OP(160) RA = rotr32(RB, X); NEXT();
    OP(161) RA = rotr32(X, RB); NEXT();

    /* ---- TwoRegOneOffset, TwoRegTwoImm ---- */
    OP(170) BRANCH(RA == RB);
    OP(171) BRANCH(RA != RB);
    OP(172) BRANCH(RA < RB);
    OP(173) BRANCH(lt_s(RA, RB));
    OP(174) BRANCH(RA >= RB);
    OP(175) BRANCH(!lt_s(RA, RB));
    OP(180) {
        uint32_t t = (uint32_t)(RB + Y); /* the old RB (pvm.md §5, decision) */
        RA = X;
        DJUMP(t);
    }
    OP(252) {
        uint32_t t = (uint32_t)(RB + Y);
        RA = X;
        if (t == 0xFFFF0000u)
            EXIT(JAVM_EXIT_HALT, 0, rec->pc);
        DJUMP(t);
    }

    /* ---- ThreeReg: RD = f(RA, RB) ---- */
    OP(190) RD = sx32(RA + RB); NEXT();
    OP(191) RD = sx32(RA - RB); NEXT();
    OP(192) RD = sx32(RA * RB); NEXT();
    OP(193) RD = div_u32(RA, RB); NEXT();
    OP(194) RD = div_s32(RA, RB); NEXT();
    OP(195) RD = rem_u32(RA, RB); NEXT();
    OP(196) RD = rem_s32(RA, RB); NEXT();
    OP(197) RD = sx32((RA & 0xFFFFFFFFu) << (RB & 31)); NEXT();
    OP(198) RD = sx32((RA & 0xFFFFFFFFu) >> (RB & 31)); NEXT();
    OP(199) RD = sar64(sx32(RA), (unsigned)(RB & 31)); NEXT();
    OP(200) RD = RA + RB; NEXT();
    OP(201) RD = RA - RB; NEXT();
    OP(202) RD = RA * RB; NEXT();
    OP(203) RD = div_u64(RA, RB); NEXT();
    OP(204) RD = div_s64(RA, RB); NEXT();
    OP(205) RD = rem_u64(RA, RB); NEXT();
    OP(206) RD = rem_s64(RA, RB); NEXT();
    OP(207) RD = RA << (RB & 63); NEXT();
    OP(208) RD = RA >> (RB & 63); NEXT();
    OP(209) RD = sar64(RA, (unsigned)(RB & 63)); NEXT();
    OP(210) RD = RA & RB; NEXT();
    OP(211) RD = RA ^ RB; NEXT();
    OP(212) RD = RA | RB; NEXT();
    OP(213) RD = mulh_ss(RA, RB); NEXT();
    OP(214) RD = mulh_uu(RA, RB); NEXT();
    OP(215) RD = mulh_su(RA, RB); NEXT();
    OP(216) RD = RA < RB; NEXT();
    OP(217) RD = lt_s(RA, RB); NEXT();
    OP(218) if (RB == 0) RD = RA; NEXT();
    OP(219) if (RB != 0) RD = RA; NEXT();
    OP(220) RD = rotl64(RA, RB); NEXT();
    OP(221) RD = rotl32(RA, RB); NEXT();
    OP(222) RD = rotr64(RA, RB); NEXT();
    OP(223) RD = rotr32(RA, RB); NEXT();
    OP(224) RD = RA & ~RB; NEXT();
    OP(225) RD = RA | ~RB; NEXT();
    OP(226) RD = ~(RA ^ RB); NEXT();
    OP(227) RD = lt_s(RA, RB) ? RB : RA; NEXT();
    OP(228) RD = RA < RB ? RB : RA; NEXT();
    OP(229) RD = lt_s(RA, RB) ? RA : RB; NEXT();
    OP(230) RD = RA < RB ? RA : RB; NEXT();

#ifdef JAVM_SWITCH_DISPATCH
    default:
        PANIC_HERE();
    }
#endif

out_of_gas:
    /* pvm.md §7.1: pc at the unpaid block, gas unchanged, no instruction of it ran. */
    st->pc = rec->pc;
    st->gas = gas;
    st->steps += done;
    ex.reason = JAVM_EXIT_OUT_OF_GAS;
    ex.arg = 0;
    return ex;

finish:
    st->pc = exit_pc;
    st->gas = gas;
    st->steps += done + (uint64_t)(rec - seg) + 1;
    return ex;
}

#endif /* EXEC_INTERP_INSTANCE */
