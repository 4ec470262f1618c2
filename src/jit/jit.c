/* SPDX-License-Identifier: MIT
 * jit/jit.c — a single-pass x86-64 compiler from a prepared program's records to native
 * code, and the driver that runs it. The design (docs/jit.md):
 *
 * - Registers. 12 of the 13 PVM registers live in host registers; the least used one of the
 *   program lives in the frame (F_SPILL). rax and rcx are scratch, r15 is the base of the
 *   guest's memory reservation, rsp points at the frame (gas, steps, exit fields).
 * - Gas. Every segment start (block starts and every record after a terminator) gets a
 *   prologue: `sub [rsp], cost; jl out_of_gas` when it is a block start, then
 *   `add [rsp+8], n` where n counts the records from here to the end of the segment. An exit
 *   at record e subtracts the records after e that did not run (seg_end(e) - e), so `steps`
 *   is exact without a per-instruction counter.
 * - Memory. Every access tests the page-state byte the interpreter keeps (exec/exec.h) with
 *   the same fast-path rule; anything else calls exec_mem_slow out of line. No guest
 *   address can reach host memory outside [base, base + 2^32 + 7] (u32 + a 8-byte access),
 *   which is the memory's own reservation.
 * - Exits. Out-of-line stubs set the exit reason and the record index and leave through one
 *   exit path that stores the registers back; host calls go through a trampoline that calls
 *   the handler in C and comes back into the code when it answers CONTINUE.
 * - Code is written into an anonymous mapping that is made read+execute (never both
 *   writable and executable) before it is published. */
#define _GNU_SOURCE /* memfd_create */
#include "jit/jit.h"

#if JIT_ENABLED

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "jit/x86.h"

/* ---- the frame (rsp while compiled code runs) --------------------------------------------- */

typedef struct jit_frame {
    int64_t gas;        /* 0 */
    uint64_t steps;     /* 8 */
    uint64_t spill;     /* 16: the PVM register that has no host register */
    uint64_t save_rdx;  /* 24: rdx across div/mul */
    uint64_t tmp;       /* 32 */
    uint32_t reason;    /* 40: javm_exit_reason */
    uint32_t rec;       /* 44: record index of the exit */
    uint32_t arg;       /* 48 */
    uint32_t flags;     /* 52: EXIT_NEXT_PC, EXIT_UNCOUNTED */
    struct jit_run *run;/* 56 */
    uint64_t *regs;     /* 64: the state's register array */
    uint64_t save[8];   /* 72: caller-saved registers across the memory slow path */
} jit_frame;

enum { EXIT_NEXT_PC = 1,   /* the exit pc is that of the next record (host calls) */
       EXIT_UNCOUNTED = 2 }; /* out of gas at a block start: its records never counted */
enum { F_GAS = 0, F_STEPS = 8, F_SPILL = 16, F_SAVE_RDX = 24, F_TMP = 32, F_REASON = 40,
       F_REC = 44, F_ARG = 48, F_FLAGS = 52, F_RUN = 56, F_REGS = 64, F_SAVE = 72,
       FRAME_SIZE = 136 };
_Static_assert(sizeof(jit_frame) == FRAME_SIZE, "frame layout");
_Static_assert(FRAME_SIZE % 16 == 8, "six pushes + frame keep rsp 16-aligned");

/* What the entry trampoline reads and the exit path writes (first 56 bytes of the frame). */
typedef struct jit_run {
    int64_t gas;          /* 0: in */
    uint64_t *regs;       /* 8: in */
    uint8_t *base;        /* 16: in */
    jit_frame out;        /* 24: out (gas .. flags) */
    const javm_program *p;
    javm_state *st;
    javm_handler handler;
    void *user;
} jit_run;
enum { R_GAS = 0, R_REGS = 8, R_BASE = 16, R_OUT = 24 };

typedef void (*jit_entry_fn)(jit_run *r, const void *target);

struct jit_code {
    exec_jit_hdr hdr;     /* first: the program frees its slots through hdr.destroy */
    uint8_t *mem;         /* the mapping (read+execute once published) */
    size_t map_size;
    size_t code_size;     /* bytes used */
    uint32_t *addr;       /* nrecs native offsets: arrival of segment starts, else body */
    uint32_t stubs;       /* offset of the out-of-line stubs */
    jit_entry_fn enter;
    uint64_t compile_ns;
};

static void code_free(exec_jit_hdr *h);
static void failed_free(exec_jit_hdr *h) { (void)h; }
/* The failure sentinel stored in a program's slot when it cannot be compiled. */
static struct jit_code jit_failed = { .hdr = { failed_free } };

/* ---- CPU features ------------------------------------------------------------------------- */

/* CPUID traps to the hypervisor in a VM (3-4 us each here), so the answer is computed once
 * per process. This is the library's one written static: a cache of a constant of the
 * machine, written with the same value by any racing threads. */
static unsigned cpuid_features(void)
{
    static atomic_uint cached; /* 0: not yet asked; else features | 0x80000000 */
    unsigned f = atomic_load_explicit(&cached, memory_order_relaxed);
    if (f)
        return f & ~0x80000000u;
    unsigned a, b, c, d;
    f = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 23)))
        f |= JIT_CPU_POPCNT;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if (b & (1u << 3))
            f |= JIT_CPU_BMI1;
        if (b & (1u << 8))
            f |= JIT_CPU_BMI2;
    }
    if (__get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 5)))
        f |= JIT_CPU_LZCNT;
    atomic_store_explicit(&cached, f | 0x80000000u, memory_order_relaxed);
    return f;
}

unsigned jit_cpu_features(void)
{
    const char *env = getenv("JAVM_JIT_CPU");
    if (env && strcmp(env, "baseline") == 0)
        return 0;
    return cpuid_features();
}

/* ---- segments ------------------------------------------------------------------------------ */

/* Internal ops after which the interpreter never steps to the next record without an
 * arrival (a terminator) or at all (an exit). */
static bool ender(uint8_t op)
{
    switch (op) {
    case 0: case 1: case 2: case 3: case 10: case 40: case 50:
    case 80: case 81: case 82: case 83: case 84: case 85: case 86: case 87: case 88: case 89: case 90:
    case 170: case 171: case 172: case 173: case 174: case 175: case 180:
    case EXEC_OP_LIJI_GP: case EXEC_OP_JUMP_IND_GP: case EXEC_OP_PANIC:
        return true;
    default:
        return false;
    }
}

static bool seg_start(const javm_program *p, uint32_t i) { return i == 0 || ender(p->recs[i - 1].op); }

/* The last record of the segment containing i (the record at L always ends one). */
static uint32_t seg_end(const javm_program *p, uint32_t i)
{
    while (!ender(p->recs[i].op))
        i++;
    return i;
}

/* ---- the compiler ------------------------------------------------------------------------- */

enum { STUB_OOG, STUB_PANIC, STUB_HALT, STUB_MEM };

typedef struct stub {
    uint8_t kind;
    uint8_t nrel;
    uint16_t nw;          /* STUB_MEM: size | write << 8 */
    uint32_t rec;
    uint32_t cost;        /* STUB_OOG */
    uint8_t *rel[2];      /* rel32 fields jumping here */
    uint8_t *low;         /* STUB_MEM, jam-draft: the address < 2^16 test, to the slow call */
    uint8_t *back;        /* STUB_MEM: where to continue */
} stub;

typedef struct fixup {
    uint8_t *rel;
    uint32_t target;      /* record index */
} fixup;

typedef struct jcomp {
    x86_buf b;
    uint8_t *limit;
    const javm_program *p;
    unsigned m;           /* gas model */
    unsigned cpu;
    int8_t host[JAVM_NUM_REGS]; /* host register of each PVM register, -1 = the frame slot */
    stub *stubs;
    size_t nstubs, capstubs;
    fixup *fix;
    size_t nfix, capfix;
    uint8_t **tabrel;     /* lea rcx, [rip + table] sites */
    size_t ntab, captab;
    /* trampolines and shared exits */
    uint8_t *exit_common, *exit_stored, *exit_trap, *exit_panic, *exit_halt, *exit_oog;
    uint8_t *host_tramp, *mem_tramp, *panic_eax, *consts;
    uint8_t *nocheck;     /* per record: the access is covered by its segment's group check */
    bool version;         /* emit checked-once fast versions of segments */
    bool skip_next;       /* emit_rec fused the next record: jump over its own code */
    bool oom;             /* an allocation failed */
    bool full;            /* the code buffer is full */
} jcomp;

#define SPILL_M x86_m(RSP, F_SPILL)
#define BASE R15
#define NP ((int32_t)JAVM_NUM_PAGES)

static void *grow(void *arr, size_t *cap, size_t n, size_t size, bool *oom)
{
    if (n < *cap)
        return arr;
    size_t nc = *cap ? *cap * 2 : 64;
    void *a = realloc(arr, nc * size);
    if (!a) {
        *oom = true;
        return NULL;
    }
    *cap = nc;
    return a;
}

static stub *add_stub(jcomp *j, unsigned kind, uint32_t rec)
{
    stub *s = grow(j->stubs, &j->capstubs, j->nstubs, sizeof *s, &j->oom);
    if (!s)
        return NULL;
    j->stubs = s;
    s = &j->stubs[j->nstubs++];
    memset(s, 0, sizeof *s);
    s->kind = (uint8_t)kind;
    s->rec = rec;
    return s;
}

static void add_fix(jcomp *j, uint8_t *rel, uint32_t target)
{
    fixup *f = grow(j->fix, &j->capfix, j->nfix, sizeof *f, &j->oom);
    if (!f)
        return;
    j->fix = f;
    j->fix[j->nfix++] = (fixup){ rel, target };
}

/* A jump (cc < 0: unconditional) to the arrival of record t, or a panic at rec i when t is
 * not a valid target. */
static void jump_to(jcomp *j, int cc, uint32_t t, uint32_t i)
{
    if (t == EXEC_NO_TARGET) {
        stub *s = add_stub(j, STUB_PANIC, i);
        uint8_t *rel = cc < 0 ? x86_jmp32(&j->b) : x86_jcc32(&j->b, (unsigned)cc);
        if (s)
            s->rel[s->nrel++] = rel;
        return;
    }
    add_fix(j, cc < 0 ? x86_jmp32(&j->b) : x86_jcc32(&j->b, (unsigned)cc), t);
}

/* PVM register g as a host register: its own, or the frame slot loaded into scratch. */
static int src(jcomp *j, unsigned g, int scratch)
{
    if (j->host[g] >= 0)
        return j->host[g];
    x86_load(&j->b, scratch, SPILL_M, 8, false);
    return scratch;
}

/* Writes host register r to PVM register g. */
static void put(jcomp *j, unsigned g, int r)
{
    if (j->host[g] < 0)
        x86_store(&j->b, SPILL_M, r, 8);
    else
        x86_mov_rr(&j->b, 1, j->host[g], r);
}

/* The register to compute PVM register g into: its own, or rax (then put(g, RAX)). */
static int dst(jcomp *j, unsigned g) { return j->host[g] >= 0 ? j->host[g] : RAX; }

static void set_imm(jcomp *j, unsigned g, uint64_t v)
{
    int d = dst(j, g);
    x86_mov_ri(&j->b, d, v);
    put(j, g, d);
}

/* Finishes a 32-bit result in host register r (low 32 bits valid): sign-extend, store. */
static void fin32(jcomp *j, unsigned g, int r)
{
    int d = dst(j, g);
    x86_movsxd(&j->b, d, r);
    put(j, g, d);
}

/* Writes a result in host register r to PVM register g: as is (w), or its low 32 bits
 * sign-extended. */
static void finish(jcomp *j, int w, unsigned g, int r)
{
    if (w)
        put(j, g, r);
    else
        fin32(j, g, r);
}

/* D = A op B for the group-1 ALU ops and imul (op = 100); w = 0: the 32-bit form, with the
 * result sign-extended. */
#define OP_IMUL 100u
static void apply(jcomp *j, unsigned op, int w, int d, int s)
{
    if (op == OP_IMUL)
        x86_imul_rr(&j->b, w, d, s);
    else
        x86_alu_rr(&j->b, w, op, d, s);
}

static void alu3(jcomp *j, unsigned op, int w, unsigned gd, unsigned ga, unsigned gb, bool comm)
{
    int b = src(j, gb, RCX);
    int d = j->host[gd];
    if (d >= 0 && d != b) {
        int a = src(j, ga, RAX);
        if (a != d)
            x86_mov_rr(&j->b, w, d, a);
        apply(j, op, w, d, b);
    } else if (d >= 0 && comm) {
        int a = src(j, ga, RAX);
        apply(j, op, w, d, a);
    } else {
        int a = src(j, ga, RAX);
        x86_mov_rr(&j->b, w, RAX, a);
        apply(j, op, w, RAX, b);
        d = RAX;
    }
    finish(j, w, gd, d);
}

/* D = S op imm (group-1 ALU op), imm sign-extended from 32 bits. */
static void alu_imm(jcomp *j, unsigned op, int w, unsigned gd, unsigned gs, int32_t imm)
{
    int d = dst(j, gd), s = src(j, gs, RAX);
    if (s != d || !w)
        x86_mov_rr(&j->b, w, d, s);
    x86_alu_ri(&j->b, w, op, d, imm);
    finish(j, w, gd, d);
}

/* D = S shifted by a constant. */
static void shift_imm(jcomp *j, unsigned sh, int w, unsigned gd, unsigned gs, unsigned k)
{
    int d = dst(j, gd), s = src(j, gs, RAX);
    x86_mov_rr(&j->b, w, d, s);
    if (k)
        x86_shift_ri(&j->b, w, sh, d, (uint8_t)k);
    finish(j, w, gd, d);
}

/* rax = v shifted by register gc (masked to 5 or 6 bits), then finished into gd. v is in
 * host register vr (may be RAX). */
static void shift_var(jcomp *j, unsigned sh, int w, unsigned gd, int vr, unsigned gc)
{
    bool bmi2 = j->cpu & JIT_CPU_BMI2;
    if (bmi2 && sh != SH_ROL && sh != SH_ROR) {
        int c = src(j, gc, RCX);
        if (sh == SH_SHL)
            x86_shlx(&j->b, w, RAX, vr, c);
        else if (sh == SH_SHR)
            x86_shrx(&j->b, w, RAX, vr, c);
        else
            x86_sarx(&j->b, w, RAX, vr, c);
    } else {
        int c = src(j, gc, RCX);
        if (c != RCX)
            x86_mov_rr(&j->b, 0, RCX, c);
        if (vr != RAX)
            x86_mov_rr(&j->b, w, RAX, vr);
        x86_shift_cl(&j->b, w, sh, RAX);
    }
    finish(j, w, gd, RAX);
}

/* if (cc) PVM register g = host register r, flags already set: a cmov, or a branch around
 * the store when g lives in the frame. */
static void cmov_to(jcomp *j, unsigned cc, unsigned g, int r)
{
    if (j->host[g] >= 0) {
        x86_cmov(&j->b, 1, cc, j->host[g], r);
    } else {
        uint8_t *skip = x86_jcc32(&j->b, cc ^ 1);
        x86_store(&j->b, SPILL_M, r, 8);
        x86_patch(skip, j->b.p);
    }
}

/* D = (cond) for cmp a, b already emitted. */
static void setcc_to(jcomp *j, unsigned cc, unsigned gd)
{
    x86_setcc(&j->b, cc, RAX);
    int d = dst(j, gd);
    x86_movzx8(&j->b, d, RAX);
    put(j, gd, d);
}

/* ---- memory ------------------------------------------------------------------------------- */

/* eax holds the guest address. Emits the page-state test of the interpreter's fast path
 * (load: readable; store: state == EXEC_P_STORE; both: the access stays in one page) with
 * the slow path out of line; the access that follows uses [r15 + rax]. */
static void mem_check(jcomp *j, uint32_t i, unsigned n, bool write)
{
    if (j->nocheck[i])
        return;
    stub *s = add_stub(j, STUB_MEM, i);
    uint8_t *rlow = NULL;
    if (j->p->profile == JAVM_PROFILE_JAM_DRAFT) {
        /* jam-draft: an address below 2^16 goes to exec_mem_slow, which panics (docs/exec.md) */
        x86_alu_ri(&j->b, 0, ALU_CMP, RAX, (int32_t)EXEC_DRAFT_LOW);
        rlow = x86_jcc32(&j->b, CC_B);
    }
    x86_mov_rr(&j->b, 0, RCX, RAX);
    x86_shift_ri(&j->b, 0, SH_SHR, RCX, 12);
    x86_mem st = x86_mi(BASE, RCX, 0, -NP);
    uint8_t *r0, *r1 = NULL;
    if (write) {
        x86_cmp_m8i(&j->b, st, EXEC_P_STORE);
        r0 = x86_jcc32(&j->b, CC_NE);
    } else {
        x86_test_m8i(&j->b, st, EXEC_P_R);
        r0 = x86_jcc32(&j->b, CC_E);
    }
    if (n > 1) {
        /* an aligned access stays in its page; a misaligned one is checked out of line */
        x86_test_al(&j->b, (uint8_t)(n - 1));
        r1 = x86_jcc32(&j->b, CC_NE);
    }
    if (!s)
        return;
    s->nw = (uint16_t)(n | (write ? 0x100 : 0));
    s->low = rlow;
    s->rel[s->nrel++] = r0;
    if (r1)
        s->rel[s->nrel++] = r1;
    s->back = j->b.p;
}

/* eax = u32(g + off), or u32(off) when g < 0. */
static void addr_to_eax(jcomp *j, int g, uint64_t off)
{
    int32_t o = (int32_t)(uint32_t)off;
    if (g < 0) {
        x86_mov_ri(&j->b, RAX, (uint32_t)off);
    } else if (j->host[g] >= 0) {
        if (o)
            x86_lea(&j->b, 0, RAX, x86_m(j->host[g], o));
        else
            x86_mov_rr(&j->b, 0, RAX, j->host[g]);
    } else {
        x86_load(&j->b, RAX, SPILL_M, 4, false);
        if (o)
            x86_alu_ri(&j->b, 0, ALU_ADD, RAX, o);
    }
}

static void emit_load(jcomp *j, uint32_t i, int gbase, uint64_t off, unsigned gd, unsigned n, bool sx)
{
    addr_to_eax(j, gbase, off);
    mem_check(j, i, n, false);
    int d = j->host[gd] >= 0 ? j->host[gd] : RCX;
    x86_load(&j->b, d, x86_mi(BASE, RAX, 0, 0), n, sx);
    put(j, gd, d);
}

/* Stores register gv (gv >= 0) or the immediate imm. */
static void emit_store(jcomp *j, uint32_t i, int gbase, uint64_t off, int gv, uint64_t imm, unsigned n)
{
    addr_to_eax(j, gbase, off);
    mem_check(j, i, n, true);
    x86_mem m = x86_mi(BASE, RAX, 0, 0);
    if (gv >= 0)
        x86_store(&j->b, m, src(j, (unsigned)gv, RCX), n);
    else
        x86_store_imm(&j->b, m, imm, n);
}

/* ---- dynamic jumps ------------------------------------------------------------------------ */

/* eax = the target address t. GP: t = 2^32 - 2^16 halts. Then djump (pvm.md §6.3) through
 * the table of arrival addresses, whose invalid entries lead to panic_eax. */
static void djump_eax(jcomp *j, uint32_t i, bool gp_halt)
{
    const javm_program *p = j->p;
    if (gp_halt) {
        x86_alu_ri(&j->b, 0, ALU_CMP, RAX, (int32_t)0xFFFF0000u);
        stub *s = add_stub(j, STUB_HALT, i);
        uint8_t *rel = x86_jcc32(&j->b, CC_E);
        if (s)
            s->rel[s->nrel++] = rel;
    }
    if (p->njt == 0) {
        jump_to(j, -1, EXEC_NO_TARGET, i);
        return;
    }
    x86_alu_ri(&j->b, 0, ALU_SUB, RAX, 2);
    x86_shift_ri(&j->b, 0, SH_ROR, RAX, 1);
    x86_alu_ri(&j->b, 0, ALU_CMP, RAX, (int32_t)(p->njt - 1));
    jump_to(j, CC_A, EXEC_NO_TARGET, i);
    x86_lea(&j->b, 1, RCX, x86_m(X86_RIP, 0));
    uint8_t **t = grow(j->tabrel, &j->captab, j->ntab, sizeof *t, &j->oom);
    if (t) {
        j->tabrel = t;
        j->tabrel[j->ntab++] = j->b.p - 4;
    }
    x86_load(&j->b, RAX, x86_mi(RCX, RAX, 2, 0), 4, true); /* entries: offsets from the table */
    x86_alu_rr(&j->b, 1, ALU_ADD, RCX, RAX);
    x86_mov_ri(&j->b, RAX, i);
    x86_jmp_r(&j->b, RCX);
}

/* ---- division, high products ---------------------------------------------------------------- */

/* Division and remainder with the pvm.md §5 edge cases: the quotient goes to PVM register
 * gq and the remainder to gr (either may be -1: not wanted), so a div and rem of the same
 * operands share one division. op is the div or rem opcode of the width and signedness;
 * 32-bit forms work on values in 64 bits. */
static void divrem(jcomp *j, unsigned op, int gq, int gr, unsigned ga, unsigned gb)
{
    x86_buf *b = &j->b;
    bool is32 = op <= 196, sgn = op == 194 || op == 196 || op == 204 || op == 206;
    int a = src(j, ga, RAX);
    /* operands into rax (dividend) and rcx (divisor), before rdx is touched */
    int bb = j->host[gb] >= 0 ? j->host[gb] : -1;
    if (bb < 0)
        x86_load(b, RCX, SPILL_M, 8, false);
    else if (is32 && sgn)
        x86_movsxd(b, RCX, bb);
    else
        x86_mov_rr(b, is32 ? 0 : 1, RCX, bb);
    if (bb < 0 && is32)
        sgn ? x86_movsxd(b, RCX, RCX) : x86_mov_rr(b, 0, RCX, RCX);
    if (is32 && sgn)
        x86_movsxd(b, RAX, a);
    else
        x86_mov_rr(b, is32 ? 0 : 1, RAX, a);
    x86_store(b, x86_m(RSP, F_SAVE_RDX), RDX, 8);
    x86_test_rr(b, 1, RCX, RCX);
    uint8_t *jz = x86_jcc32(b, CC_E);
    uint8_t *jm1 = NULL;
    if (sgn && !is32) {
        x86_alu_ri(b, 1, ALU_CMP, RCX, -1);
        jm1 = x86_jcc32(b, CC_E);
    }
    if (sgn) {
        x86_cqo(b);
        x86_g3(b, 1, G3_IDIV, RCX);
    } else {
        x86_rr(b, OP1(0x31), 0, RDX, RDX); /* xor edx, edx */
        x86_g3(b, is32 ? 0 : 1, G3_DIV, RCX);
    }
    x86_mov_rr(b, 1, RCX, RDX);
    uint8_t *jdone = x86_jmp32(b);
    /* divisor zero: quotient all ones, remainder the dividend */
    x86_patch(jz, b->p);
    x86_mov_rr(b, 1, RCX, RAX);
    x86_mov_ri(b, RAX, UINT64_MAX);
    uint8_t *jdone2 = x86_jmp32(b);
    if (jm1) {
        /* 64-bit signed divisor -1: quotient -a (wrapping: MIN stays MIN), remainder 0 */
        x86_patch(jm1, b->p);
        x86_g3(b, 1, G3_NEG, RAX);
        x86_mov_ri(b, RCX, 0);
    }
    x86_patch(jdone, b->p);
    x86_patch(jdone2, b->p);
    x86_load(b, RDX, x86_m(RSP, F_SAVE_RDX), 8, false);
    /* the quotient first: when both name one register, the remainder (written later by the
     * PVM order div-then-rem) wins; fin32/put may use rax, so the remainder stays in rcx */
    if (gq >= 0)
        finish(j, !is32, (unsigned)gq, RAX);
    if (gr >= 0)
        finish(j, !is32, (unsigned)gr, RCX);
}

/* Whether record i (a div) and i + 1 (the rem of the same operands, in the same segment)
 * can share one division: the div must not overwrite an operand the rem reads. */
static bool fuse_divrem(const exec_rec *r)
{
    static const uint8_t pair[4][2] = { { 193, 195 }, { 194, 196 }, { 203, 205 }, { 204, 206 } };
    for (int k = 0; k < 4; k++)
        if (r[0].op == pair[k][0] && r[1].op == pair[k][1] && r[0].a == r[1].a && r[0].b == r[1].b &&
            r[0].d != r[0].a && r[0].d != r[0].b)
            return true;
    return false;
}

/* D = high 64 bits of A * B: op 213 signed x signed, 214 unsigned, 215 signed x unsigned. */
static void mulh(jcomp *j, unsigned op, unsigned gd, unsigned ga, unsigned gb)
{
    x86_buf *b = &j->b;
    if (op == 215) {
        /* tmp = A < 0 ? B : 0, subtracted from the unsigned high product */
        int a = src(j, ga, RAX);
        x86_mov_rr(b, 1, RCX, a);
        x86_shift_ri(b, 1, SH_SAR, RCX, 63);
        int bb = src(j, gb, RAX);
        x86_alu_rr(b, 1, ALU_AND, RCX, bb);
        x86_store(b, x86_m(RSP, F_TMP), RCX, 8);
    }
    int a = src(j, ga, RAX);
    x86_mov_rr(b, 1, RAX, a);
    int bb = src(j, gb, RCX);
    x86_store(b, x86_m(RSP, F_SAVE_RDX), RDX, 8);
    x86_g3(b, 1, op == 213 ? G3_IMUL : G3_MUL, bb);
    if (op == 215)
        x86_alu_rm(b, 1, ALU_SUB, RDX, x86_m(RSP, F_TMP));
    x86_mov_rr(b, 1, RCX, RDX);
    x86_load(b, RDX, x86_m(RSP, F_SAVE_RDX), 8, false);
    put(j, gd, RCX);
}

/* ---- bit counting --------------------------------------------------------------------------- */

static void popcnt(jcomp *j, int w, unsigned gd, unsigned ga)
{
    x86_buf *b = &j->b;
    int a = src(j, ga, RAX);
    if (j->cpu & JIT_CPU_POPCNT) {
        int d = dst(j, gd);
        x86_popcnt(b, w, d, a);
        put(j, gd, d);
        return;
    }
    /* SWAR popcount with the constants at j->consts, addressed rip-relative: each such
     * instruction ends with its disp32, patched once the instruction is complete */
#define CONST_FIX(k) x86_patch(b->p - 4, j->consts + 8 * (k))
    x86_mov_rr(b, w, RAX, a);
    x86_mov_rr(b, 1, RCX, RAX);
    x86_shift_ri(b, 1, SH_SHR, RCX, 1);
    x86_alu_rm(b, 1, ALU_AND, RCX, x86_m(X86_RIP, 0)); CONST_FIX(0); /* 0x5555... */
    x86_alu_rr(b, 1, ALU_SUB, RAX, RCX);
    x86_mov_rr(b, 1, RCX, RAX);
    x86_shift_ri(b, 1, SH_SHR, RCX, 2);
    x86_alu_rm(b, 1, ALU_AND, RCX, x86_m(X86_RIP, 0)); CONST_FIX(1); /* 0x3333... */
    x86_alu_rm(b, 1, ALU_AND, RAX, x86_m(X86_RIP, 0)); CONST_FIX(1);
    x86_alu_rr(b, 1, ALU_ADD, RAX, RCX);
    x86_mov_rr(b, 1, RCX, RAX);
    x86_shift_ri(b, 1, SH_SHR, RCX, 4);
    x86_alu_rr(b, 1, ALU_ADD, RAX, RCX);
    x86_alu_rm(b, 1, ALU_AND, RAX, x86_m(X86_RIP, 0)); CONST_FIX(2); /* 0x0F0F... */
    x86_rm(b, OP2(0x0F, 0xAF), X86_W, RAX, x86_m(X86_RIP, 0)); CONST_FIX(3); /* imul 0x0101... */
#undef CONST_FIX
    x86_shift_ri(b, 1, SH_SHR, RAX, 56);
    put(j, gd, RAX);
}

/* leading (lz) or trailing zeros of A in w bits (64 or 32). */
static void zcount(jcomp *j, bool lz, int w, unsigned gd, unsigned ga)
{
    x86_buf *b = &j->b;
    int a = src(j, ga, RAX);
    if (j->cpu & (lz ? JIT_CPU_LZCNT : JIT_CPU_BMI1)) {
        int d = dst(j, gd);
        lz ? x86_lzcnt(b, w, d, a) : x86_tzcnt(b, w, d, a);
        put(j, gd, d);
        return;
    }
    unsigned bits = w ? 64 : 32;
    /* bsr/bsf leave the destination undefined for 0: pick the answer with cmov */
    x86_mov_ri_keepflags(b, RCX, lz ? 2 * bits - 1 : bits);
    lz ? x86_bsr(b, w, RAX, a) : x86_bsf(b, w, RAX, a);
    x86_cmov(b, w, CC_E, RAX, RCX);
    if (lz)
        x86_alu_ri(b, w, ALU_XOR, RAX, (int32_t)(bits - 1));
    put(j, gd, RAX);
}

/* ---- one instruction ------------------------------------------------------------------------ */

static void emit_rec(jcomp *j, uint32_t i)
{
    const exec_rec *r = &j->p->recs[i];
    x86_buf *b = &j->b;
    unsigned A = r->a, B = r->b, D = r->d;
    uint64_t X = r->x, Y = r->y;
    int32_t xi = (int32_t)X;
    switch (r->op) {
    /* NoArgs, OneImm */
    case 0: x86_mov_ri(b, RCX, i); x86_jmp_to(b, j->exit_trap); break;
    case 1: case 2: case EXEC_OP_NOP: break; /* EXEC_OP_NOP: jam-draft `unlikely` */
    case 3: case 10: case EXEC_OP_ECALLI_GP:
        x86_mov_ri(b, RCX, i);
        x86_call_to(b, j->host_tramp);
        break;
    case EXEC_OP_PANIC: x86_mov_ri(b, RCX, i); x86_jmp_to(b, j->exit_panic); break;

    /* immediates, absolute memory, jumps */
    case 20: case 51: set_imm(j, A, X); break;
    case 30: emit_store(j, i, -1, X, -1, Y, 1); break;
    case 31: emit_store(j, i, -1, X, -1, Y, 2); break;
    case 32: emit_store(j, i, -1, X, -1, Y, 4); break;
    case 33: emit_store(j, i, -1, X, -1, Y, 8); break;
    case 40: jump_to(j, -1, (uint32_t)Y, i); break;
    case 50: case EXEC_OP_JUMP_IND_GP:
        addr_to_eax(j, (int)A, X);
        djump_eax(j, i, r->op == EXEC_OP_JUMP_IND_GP);
        break;
    case 52: emit_load(j, i, -1, X, A, 1, false); break;
    case 53: emit_load(j, i, -1, X, A, 1, true); break;
    case 54: emit_load(j, i, -1, X, A, 2, false); break;
    case 55: emit_load(j, i, -1, X, A, 2, true); break;
    case 56: emit_load(j, i, -1, X, A, 4, false); break;
    case 57: emit_load(j, i, -1, X, A, 4, true); break;
    case 58: emit_load(j, i, -1, X, A, 8, false); break;
    case 59: emit_store(j, i, -1, X, (int)A, 0, 1); break;
    case 60: emit_store(j, i, -1, X, (int)A, 0, 2); break;
    case 61: emit_store(j, i, -1, X, (int)A, 0, 4); break;
    case 62: emit_store(j, i, -1, X, (int)A, 0, 8); break;
    case 70: emit_store(j, i, (int)A, X, -1, Y, 1); break;
    case 71: emit_store(j, i, (int)A, X, -1, Y, 2); break;
    case 72: emit_store(j, i, (int)A, X, -1, Y, 4); break;
    case 73: emit_store(j, i, (int)A, X, -1, Y, 8); break;
    case 80: set_imm(j, A, X); jump_to(j, -1, (uint32_t)Y, i); break;
    case 81: case 82: case 83: case 84: case 85: case 86: case 87: case 88: case 89: case 90: {
        static const uint8_t cc[] = { CC_E, CC_NE, CC_B, CC_BE, CC_AE, CC_A, CC_L, CC_LE, CC_GE, CC_G };
        int a = src(j, A, RAX);
        x86_alu_ri(b, 1, ALU_CMP, a, xi);
        jump_to(j, cc[r->op - 81], (uint32_t)Y, i);
        break;
    }

    /* TwoReg: D = f(A) */
    case 100: { int a = src(j, A, RAX); put(j, D, a); break; }
    case 102: popcnt(j, 1, D, A); break;
    case 103: popcnt(j, 0, D, A); break;
    case 104: zcount(j, true, 1, D, A); break;
    case 105: zcount(j, true, 0, D, A); break;
    case 106: zcount(j, false, 1, D, A); break;
    case 107: zcount(j, false, 0, D, A); break;
    case 108: { int a = src(j, A, RAX), d = dst(j, D); x86_movsx8(b, d, a); put(j, D, d); break; }
    case 109: { int a = src(j, A, RAX), d = dst(j, D); x86_movsx16(b, d, a); put(j, D, d); break; }
    case 110: { int a = src(j, A, RAX), d = dst(j, D); x86_movzx16(b, d, a); put(j, D, d); break; }
    case 111: { int a = src(j, A, RAX), d = dst(j, D); x86_mov_rr(b, 1, d, a); x86_bswap(b, d); put(j, D, d); break; }

    /* TwoRegOneImm: A = f(B, X) */
    case 120: emit_store(j, i, (int)B, X, (int)A, 0, 1); break;
    case 121: emit_store(j, i, (int)B, X, (int)A, 0, 2); break;
    case 122: emit_store(j, i, (int)B, X, (int)A, 0, 4); break;
    case 123: emit_store(j, i, (int)B, X, (int)A, 0, 8); break;
    case 124: emit_load(j, i, (int)B, X, A, 1, false); break;
    case 125: emit_load(j, i, (int)B, X, A, 1, true); break;
    case 126: emit_load(j, i, (int)B, X, A, 2, false); break;
    case 127: emit_load(j, i, (int)B, X, A, 2, true); break;
    case 128: emit_load(j, i, (int)B, X, A, 4, false); break;
    case 129: emit_load(j, i, (int)B, X, A, 4, true); break;
    case 130: emit_load(j, i, (int)B, X, A, 8, false); break;
    case 131: alu_imm(j, ALU_ADD, 0, A, B, xi); break;
    case 132: alu_imm(j, ALU_AND, 1, A, B, xi); break;
    case 133: alu_imm(j, ALU_XOR, 1, A, B, xi); break;
    case 134: alu_imm(j, ALU_OR, 1, A, B, xi); break;
    case 135: { int s = src(j, B, RAX), d = dst(j, A); x86_imul_rri(b, 0, d, s, xi); fin32(j, A, d); break; }
    case 136: case 137: case 142: case 143: {
        int s = src(j, B, RAX);
        x86_alu_ri(b, 1, ALU_CMP, s, xi);
        setcc_to(j, r->op == 136 ? CC_B : r->op == 137 ? CC_L : r->op == 142 ? CC_A : CC_G, A);
        break;
    }
    case 138: shift_imm(j, SH_SHL, 0, A, B, X & 31); break;
    case 139: shift_imm(j, SH_SHR, 0, A, B, X & 31); break;
    case 140: shift_imm(j, SH_SAR, 0, A, B, X & 31); break;
    case 141: case 154: { /* A = X - B */
        int w = r->op == 154;
        int s = src(j, B, RCX);
        x86_mov_ri(b, RAX, (uint64_t)(int64_t)xi);
        x86_alu_rr(b, w, ALU_SUB, RAX, s);
        finish(j, w, A, RAX);
        break;
    }
    case 144: case 145: case 146: case 155: case 156: case 157: {
        int w = r->op >= 155;
        unsigned k = (r->op - (w ? 155 : 144));
        x86_mov_ri(b, RAX, w ? (uint64_t)(int64_t)xi : (uint32_t)xi);
        shift_var(j, k == 0 ? SH_SHL : k == 1 ? SH_SHR : SH_SAR, w, A, RAX, B);
        break;
    }
    case 147: case 148: { /* cmov_iz_imm / cmov_nz_imm: if (B ==/!= 0) A = X */
        int s = src(j, B, RCX);
        x86_mov_ri(b, RAX, (uint64_t)(int64_t)xi);
        x86_test_rr(b, 1, s, s);
        cmov_to(j, r->op == 147 ? CC_E : CC_NE, A, RAX);
        break;
    }
    case 149: {
        int d = dst(j, A);
        if (j->host[B] >= 0)
            x86_lea(b, 1, d, x86_m(j->host[B], xi));
        else {
            x86_load(b, d, SPILL_M, 8, false);
            x86_alu_ri(b, 1, ALU_ADD, d, xi);
        }
        put(j, A, d);
        break;
    }
    case 150: { int s = src(j, B, RAX), d = dst(j, A); x86_imul_rri(b, 1, d, s, xi); put(j, A, d); break; }
    case 151: shift_imm(j, SH_SHL, 1, A, B, X & 63); break;
    case 152: shift_imm(j, SH_SHR, 1, A, B, X & 63); break;
    case 153: shift_imm(j, SH_SAR, 1, A, B, X & 63); break;
    case 158: {
        if (j->cpu & JIT_CPU_BMI2) {
            int s = src(j, B, RAX), d = dst(j, A);
            x86_rorx(b, 1, d, s, (uint8_t)(X & 63));
            put(j, A, d);
        } else {
            shift_imm(j, SH_ROR, 1, A, B, X & 63);
        }
        break;
    }
    case 159: x86_mov_ri(b, RAX, (uint64_t)(int64_t)xi); shift_var(j, SH_ROR, 1, A, RAX, B); break;
    case 160: shift_imm(j, SH_ROR, 0, A, B, X & 31); break;
    case 161: x86_mov_ri(b, RAX, (uint32_t)xi); shift_var(j, SH_ROR, 0, A, RAX, B); break;

    /* TwoRegOneOffset, TwoRegTwoImm */
    case 170: case 171: case 172: case 173: case 174: case 175: {
        static const uint8_t cc[] = { CC_E, CC_NE, CC_B, CC_L, CC_AE, CC_GE };
        int bb = src(j, B, RCX), a = src(j, A, RAX);
        x86_alu_rr(b, 1, ALU_CMP, a, bb);
        jump_to(j, cc[r->op - 170], (uint32_t)Y, i);
        break;
    }
    case 180: case EXEC_OP_LIJI_GP:
        addr_to_eax(j, (int)B, Y); /* the old B */
        if (j->host[A] >= 0)
            x86_mov_ri_keepflags(b, j->host[A], X);
        else {
            x86_mov_ri_keepflags(b, RCX, X);
            x86_store(b, SPILL_M, RCX, 8);
        }
        djump_eax(j, i, r->op == EXEC_OP_LIJI_GP);
        break;

    /* ThreeReg: D = f(A, B) */
    case 190: alu3(j, ALU_ADD, 0, D, A, B, true); break;
    case 191: alu3(j, ALU_SUB, 0, D, A, B, false); break;
    case 192: alu3(j, OP_IMUL, 0, D, A, B, true); break;
    case 193: case 194: case 203: case 204:
        if (!ender(r->op) && fuse_divrem(r)) {
            /* div and the rem after it in one division; record i + 1 keeps its own code
             * (jumped over) for runs that start there */
            divrem(j, r->op, (int)D, (int)r[1].d, A, B);
            j->skip_next = true;
            break;
        }
        divrem(j, r->op, (int)D, -1, A, B);
        break;
    case 195: case 196: case 205: case 206:
        divrem(j, r->op, -1, (int)D, A, B);
        break;
    case 197: case 198: case 199: case 207: case 208: case 209: {
        int w = r->op >= 207;
        unsigned k = r->op - (w ? 207 : 197);
        int a = src(j, A, RAX);
        shift_var(j, k == 0 ? SH_SHL : k == 1 ? SH_SHR : SH_SAR, w, D, a, B);
        break;
    }
    case 200:
        if (j->host[A] >= 0 && j->host[B] >= 0) {
            int d = dst(j, D);
            x86_lea(b, 1, d, x86_mi(j->host[A], j->host[B], 0, 0));
            put(j, D, d);
        } else {
            alu3(j, ALU_ADD, 1, D, A, B, true);
        }
        break;
    case 201: alu3(j, ALU_SUB, 1, D, A, B, false); break;
    case 202: alu3(j, OP_IMUL, 1, D, A, B, true); break;
    case 210: alu3(j, ALU_AND, 1, D, A, B, true); break;
    case 211: alu3(j, ALU_XOR, 1, D, A, B, true); break;
    case 212: alu3(j, ALU_OR, 1, D, A, B, true); break;
    case 213: case 214: case 215: mulh(j, r->op, D, A, B); break;
    case 216: case 217: {
        int bb = src(j, B, RCX), a = src(j, A, RAX);
        x86_alu_rr(b, 1, ALU_CMP, a, bb);
        setcc_to(j, r->op == 216 ? CC_B : CC_L, D);
        break;
    }
    case 218: case 219: { /* if (B ==/!= 0) D = A */
        int bb = src(j, B, RCX), a = src(j, A, RAX);
        x86_test_rr(b, 1, bb, bb);
        cmov_to(j, r->op == 218 ? CC_E : CC_NE, D, a);
        break;
    }
    case 220: case 221: case 222: case 223: {
        int w = r->op == 220 || r->op == 222;
        int a = src(j, A, RAX);
        shift_var(j, r->op <= 221 ? SH_ROL : SH_ROR, w, D, a, B);
        break;
    }
    case 224: /* D = A & ~B */
        if (j->cpu & JIT_CPU_BMI1) {
            int bb = src(j, B, RCX), a = src(j, A, RAX), d = dst(j, D);
            x86_andn(b, 1, d, bb, a);
            put(j, D, d);
            break;
        }
        /* fall through */
    case 225: case 226: { /* and_inv, or_inv: ~B op A; xnor: ~(A ^ B) */
        int bb = src(j, B, RCX);
        x86_mov_rr(b, 1, RAX, bb);
        if (r->op != 226)
            x86_g3(b, 1, G3_NOT, RAX);
        int a = src(j, A, RCX);
        x86_alu_rr(b, 1, r->op == 224 ? ALU_AND : r->op == 225 ? ALU_OR : ALU_XOR, RAX, a);
        if (r->op == 226)
            x86_g3(b, 1, G3_NOT, RAX);
        put(j, D, RAX);
        break;
    }
    case 227: case 228: case 229: case 230: {
        /* max: D = A < B ? B : A; min: D = A < B ? A : B */
        int bb = src(j, B, RCX), a = src(j, A, RAX);
        bool mx = r->op <= 228; /* min keeps A unless !(A < B) */
        unsigned cc = (r->op == 227 || r->op == 229) ? CC_L : CC_B;
        x86_mov_rr(b, 1, RAX, a);
        x86_alu_rr(b, 1, ALU_CMP, a, bb);
        x86_cmov(b, 1, mx ? cc : cc ^ 1, RAX, bb);
        put(j, D, RAX);
        break;
    }
    default: /* every op the predecoder can produce is above; anything else panics */
        x86_mov_ri(b, RCX, i);
        x86_jmp_to(b, j->exit_panic);
        break;
    }
}

/* ---- segments checked once ------------------------------------------------------------------ */

/* The PVM register an instruction writes, -1 for none, -2 when it may call out (a GP
 * ecalli inside a segment: the handler may change anything, memory permissions included). */
static int rec_writes(const exec_rec *r)
{
    uint8_t op = r->op;
    if (op == EXEC_OP_ECALLI_GP || op == 3 || op == 10)
        return -2;
    if (op == 20 || (op >= 51 && op <= 58) || op == 80 || op == 180 || op == EXEC_OP_LIJI_GP ||
        (op >= 124 && op <= 161))
        return r->a;
    if ((op >= 100 && op <= 111) || (op >= 190 && op <= 230))
        return r->d;
    return -1;
}

/* A register-based access: base register, offset, size, store. */
static bool rec_access(const exec_rec *r, unsigned *base, int64_t *off, unsigned *size, bool *store)
{
    uint8_t op = r->op;
    static const uint8_t lsz[7] = { 1, 1, 2, 2, 4, 4, 8 };
    if (op >= 70 && op <= 73) {
        *base = r->a; *size = 1u << (op - 70); *store = true;
    } else if (op >= 120 && op <= 123) {
        *base = r->b; *size = 1u << (op - 120); *store = true;
    } else if (op >= 124 && op <= 130) {
        *base = r->b; *size = lsz[op - 124]; *store = false;
    } else {
        return false;
    }
    *off = (int32_t)r->x;
    return true;
}

typedef struct mgroup {
    int64_t lo, hi;       /* offsets covered: [lo, hi) */
    unsigned n;
    bool store;
} mgroup;

/* Plans the segment [s, t]: accesses through a base register whose value is still its value
 * at the segment start plus a known constant (only `add_imm_64 r, r, k` has changed it) are
 * grouped by register, offsets taken from the start value; a group of two or more within 4096 bytes is checked once at the
 * segment's start (its whole range in one page with the needed state) and its accesses go
 * unchecked in the fast version. Marks them in nocheck[]; false when nothing is gained or
 * the segment calls out. */
static bool plan_segment(jcomp *j, uint32_t s, uint32_t t, mgroup g[JAVM_NUM_REGS])
{
    const exec_rec *recs = j->p->recs;
    bool written[JAVM_NUM_REGS] = { false };
    int64_t delta[JAVM_NUM_REGS] = { 0 };
    for (unsigned k = 0; k < JAVM_NUM_REGS; k++)
        g[k] = (mgroup){ INT64_MAX, INT64_MIN, 0, false };
    for (uint32_t i = s; i <= t; i++) {
        unsigned base, size;
        int64_t off;
        bool store;
        if (rec_access(&recs[i], &base, &off, &size, &store) && !written[base]) {
            mgroup *m = &g[base];
            off += delta[base];
            m->lo = off < m->lo ? off : m->lo;
            m->hi = off + size > m->hi ? off + size : m->hi;
            m->store |= store;
            m->n++;
            j->nocheck[i] = (uint8_t)(base + 1); /* tentative: group base + 1 */
        }
        int w = rec_writes(&recs[i]);
        if (w == -2 && i < t) {
            for (uint32_t k = s; k <= i; k++)
                j->nocheck[k] = 0;
            return false;
        }
        if (w >= 0 && recs[i].op == 149 && recs[i].b == w && !written[w] &&
            delta[w] + (int32_t)recs[i].x > -(INT64_C(1) << 32) && delta[w] + (int32_t)recs[i].x < (INT64_C(1) << 32))
            delta[w] += (int32_t)recs[i].x; /* r += k: still the start value plus a constant */
        else if (w >= 0)
            written[w] = true;
    }
    bool any = false;
    for (unsigned k = 0; k < JAVM_NUM_REGS; k++) {
        if (g[k].n >= 2 && g[k].hi - g[k].lo <= 4096)
            any = true;
        else
            g[k].n = 0;
    }
    for (uint32_t i = s; i <= t; i++)
        if (j->nocheck[i] && !g[j->nocheck[i] - 1].n)
            j->nocheck[i] = 0;
    return any;
}

/* Whether control can go on from record t (a segment's end) to record t + 1. */
static bool falls_through(uint8_t op)
{
    return op == 1 || op == 2 || op == 3 || op == 10 || (op >= 81 && op <= 90) || (op >= 170 && op <= 175);
}

/* The group checks of a planned segment; each failure jumps to the checked version, whose
 * address is patched into rel[] by the caller (3 a group at most: jam-draft's low-address
 * test, the page range, the page state). Returns the number of rel32 fields. */
static unsigned group_checks(jcomp *j, const mgroup g[JAVM_NUM_REGS], uint8_t **rel)
{
    x86_buf *b = &j->b;
    unsigned n = 0;
    for (unsigned k = 0; k < JAVM_NUM_REGS; k++) {
        if (!g[k].n)
            continue;
        addr_to_eax(j, (int)k, (uint64_t)g[k].lo);
        if (j->p->profile == JAVM_PROFILE_JAM_DRAFT) {
            /* the group lies in one page, so it is above 2^16 exactly when its start is */
            x86_alu_ri(b, 0, ALU_CMP, RAX, (int32_t)EXEC_DRAFT_LOW);
            rel[n++] = x86_jcc32(b, CC_B);
        }
        int64_t span = g[k].hi - g[k].lo;
        if (span <= 8 && !(span & (span - 1))) {
            /* one word: aligned to its size, it cannot cross a page (misaligned: checked) */
            x86_test_al(b, (uint8_t)(span - 1));
            rel[n++] = x86_jcc32(b, CC_NE);
        } else {
            x86_mov_rr(b, 0, RCX, RAX);
            x86_alu_ri(b, 0, ALU_AND, RCX, 0xFFF);
            x86_alu_ri(b, 0, ALU_CMP, RCX, (int32_t)(4096 - span));
            rel[n++] = x86_jcc32(b, CC_A);
        }
        x86_shift_ri(b, 0, SH_SHR, RAX, 12);
        x86_mem st = x86_mi(BASE, RAX, 0, -NP);
        if (g[k].store) {
            x86_cmp_m8i(b, st, EXEC_P_STORE);
            rel[n++] = x86_jcc32(b, CC_NE);
        } else {
            x86_test_m8i(b, st, EXEC_P_R);
            rel[n++] = x86_jcc32(b, CC_E);
        }
    }
    return n;
}

/* ---- trampolines -------------------------------------------------------------------------- */

static const int callee_saved[6] = { RBX, RBP, R12, R13, R14, R15 };
static const int caller_saved[8] = { RAX, RDX, RSI, RDI, R8, R9, R10, R11 };

/* Stores the PVM registers to the array whose pointer is at [rsp + off + F_REGS]; uses rax
 * and, after the registers are out, rdx. */
static void store_regs(jcomp *j, int off)
{
    x86_buf *b = &j->b;
    x86_load(b, RAX, x86_m(RSP, off + F_REGS), 8, false);
    int spilled = -1;
    for (unsigned g = 0; g < JAVM_NUM_REGS; g++) {
        if (j->host[g] >= 0)
            x86_store(b, x86_m(RAX, 8 * (int32_t)g), j->host[g], 8);
        else
            spilled = (int)g;
    }
    if (spilled >= 0) {
        x86_load(b, RDX, x86_m(RSP, off + F_SPILL), 8, false);
        x86_store(b, x86_m(RAX, 8 * spilled), RDX, 8);
    }
}

static void load_regs(jcomp *j, int off)
{
    x86_buf *b = &j->b;
    x86_load(b, RAX, x86_m(RSP, off + F_REGS), 8, false);
    for (unsigned g = 0; g < JAVM_NUM_REGS; g++) {
        if (j->host[g] < 0) {
            x86_load(b, RDX, x86_m(RAX, 8 * (int32_t)g), 8, false);
            x86_store(b, x86_m(RSP, off + F_SPILL), RDX, 8);
        }
    }
    for (unsigned g = 0; g < JAVM_NUM_REGS; g++)
        if (j->host[g] >= 0)
            x86_load(b, j->host[g], x86_m(RAX, 8 * (int32_t)g), 8, false);
}

static int jit_host_c(jit_frame *f, uint32_t i);
static int jit_mem_c(jit_frame *f, uint32_t addr, uint32_t nw);

static uint8_t *emit_tramps(jcomp *j)
{
    x86_buf *b = &j->b;
    /* constants for the portable popcount, 8-aligned */
    while ((b->p - b->start) & 7)
        x86_b(b, 0xCC);
    j->consts = b->p;
    x86_q(b, UINT64_C(0x5555555555555555));
    x86_q(b, UINT64_C(0x3333333333333333));
    x86_q(b, UINT64_C(0x0F0F0F0F0F0F0F0F));
    x86_q(b, UINT64_C(0x0101010101010101));

    /* entry: void enter(jit_run *rdi, const void *target rsi) */
    while ((b->p - b->start) & 15)
        x86_b(b, 0xCC);
    uint8_t *entry = b->p;
    for (int k = 0; k < 6; k++)
        x86_push(b, callee_saved[k]);
    x86_alu_ri(b, 1, ALU_SUB, RSP, FRAME_SIZE);
    x86_store(b, x86_m(RSP, F_RUN), RDI, 8);
    x86_load(b, RAX, x86_m(RDI, R_GAS), 8, false);
    x86_store(b, x86_m(RSP, F_GAS), RAX, 8);
    x86_load(b, RAX, x86_m(RDI, R_REGS), 8, false);
    x86_store(b, x86_m(RSP, F_REGS), RAX, 8);
    x86_load(b, BASE, x86_m(RDI, R_BASE), 8, false);
    x86_mov_rr(b, 1, RCX, RSI);
    x86_mov_ri(b, RAX, 0);
    x86_store(b, x86_m(RSP, F_STEPS), RAX, 8);
    x86_store(b, x86_m(RSP, F_ARG), RAX, 8); /* arg and flags */
    load_regs(j, 0);
    x86_jmp_r(b, RCX);

    /* exits: ecx = record index; the reason is in the frame */
    j->exit_common = b->p;
    x86_store(b, x86_m(RSP, F_REC), RCX, 4);
    store_regs(j, 0);
    j->exit_stored = b->p;
    x86_load(b, RDI, x86_m(RSP, F_RUN), 8, false);
    for (int k = 0; k < 7; k++) {
        x86_load(b, RAX, x86_m(RSP, 8 * k), 8, false);
        x86_store(b, x86_m(RDI, R_OUT + 8 * k), RAX, 8);
    }
    x86_alu_ri(b, 1, ALU_ADD, RSP, FRAME_SIZE);
    for (int k = 5; k >= 0; k--)
        x86_pop(b, callee_saved[k]);
    x86_ret(b);

    static const javm_exit_reason reasons[4] = { JAVM_EXIT_TRAP, JAVM_EXIT_PANIC, JAVM_EXIT_HALT,
                                                 JAVM_EXIT_OUT_OF_GAS };
    uint8_t **at[4] = { &j->exit_trap, &j->exit_panic, &j->exit_halt, &j->exit_oog };
    for (int k = 0; k < 4; k++) {
        *at[k] = b->p;
        x86_rm(b, OP1(0xC7), 0, 0, x86_m(RSP, F_REASON));
        x86_d(b, (uint32_t)reasons[k]);
        if (reasons[k] == JAVM_EXIT_OUT_OF_GAS) {
            /* at a block start, before its records were counted: no steps to take back */
            x86_rm(b, OP1(0xC7), 0, 0, x86_m(RSP, F_FLAGS));
            x86_d(b, EXIT_UNCOUNTED);
        }
        x86_jmp_to(b, j->exit_common);
    }
    /* a djump through an invalid table entry: eax = record index */
    j->panic_eax = b->p;
    x86_mov_rr(b, 0, RCX, RAX);
    x86_jmp_to(b, j->exit_panic);

    /* host calls: called with ecx = record index; rsp + 8 is the frame */
    j->host_tramp = b->p;
    store_regs(j, 8);
    x86_lea(b, 1, RDI, x86_m(RSP, 8));
    x86_mov_rr(b, 0, RSI, RCX);
    x86_mov_ri(b, RAX, (uint64_t)(uintptr_t)&jit_host_c);
    x86_alu_ri(b, 1, ALU_SUB, RSP, 8);
    x86_call_r(b, RAX);
    x86_alu_ri(b, 1, ALU_ADD, RSP, 8);
    x86_test_rr(b, 0, RAX, RAX);
    uint8_t *jexit = x86_jcc32(b, CC_NE);
    load_regs(j, 8);
    x86_ret(b);
    x86_patch(jexit, b->p);
    x86_alu_ri(b, 1, ALU_ADD, RSP, 8); /* drop the return address: rsp is the frame again */
    x86_jmp_to(b, j->exit_stored);

    /* memory slow path: eax = address, ecx = size | write << 8; returns ZF = 1 when the
     * access may go ahead, with every register as it was */
    j->mem_tramp = b->p;
    for (int k = 0; k < 8; k++)
        x86_store(b, x86_m(RSP, 8 + F_SAVE + 8 * k), caller_saved[k], 8);
    x86_lea(b, 1, RDI, x86_m(RSP, 8));
    x86_mov_rr(b, 0, RSI, RAX);
    x86_mov_rr(b, 0, RDX, RCX);
    x86_mov_ri(b, RAX, (uint64_t)(uintptr_t)&jit_mem_c);
    x86_alu_ri(b, 1, ALU_SUB, RSP, 8);
    x86_call_r(b, RAX);
    x86_alu_ri(b, 1, ALU_ADD, RSP, 8);
    x86_mov_rr(b, 0, RCX, RAX);
    for (int k = 0; k < 8; k++)
        x86_load(b, caller_saved[k], x86_m(RSP, 8 + F_SAVE + 8 * k), 8, false);
    x86_test_rr(b, 0, RCX, RCX);
    x86_ret(b);

    return entry;
}

static void emit_stubs(jcomp *j)
{
    x86_buf *b = &j->b;
    for (size_t k = 0; k < j->nstubs; k++) {
        if (b->p + 64 > j->limit) {
            j->full = true;
            return;
        }
        stub *s = &j->stubs[k];
        for (unsigned r = 0; r < s->nrel && s->kind != STUB_MEM; r++)
            x86_patch(s->rel[r], b->p);
        if (s->kind == STUB_MEM && s->nrel == 1)
            x86_patch(s->rel[0], b->p);
        switch (s->kind) {
        case STUB_OOG:
            if (s->cost <= INT32_MAX)
                x86_alu_mi(b, 1, ALU_ADD, x86_m(RSP, F_GAS), (int32_t)s->cost);
            else {
                x86_mov_ri(b, RAX, s->cost);
                x86_rm(b, OP1(0x01), X86_W, RAX, x86_m(RSP, F_GAS));
            }
            x86_mov_ri(b, RCX, s->rec);
            x86_jmp_to(b, j->exit_oog);
            break;
        case STUB_PANIC:
            x86_mov_ri(b, RCX, s->rec);
            x86_jmp_to(b, j->exit_panic);
            break;
        case STUB_HALT:
            x86_mov_ri(b, RCX, s->rec);
            x86_jmp_to(b, j->exit_halt);
            break;
        case STUB_MEM:
            if (s->nrel > 1) {
                /* misaligned: fine unless it crosses into the next page */
                x86_patch(s->rel[1], b->p);
                x86_mov_rr(b, 0, RCX, RAX);
                x86_alu_ri(b, 0, ALU_AND, RCX, 0xFFF);
                x86_alu_ri(b, 0, ALU_CMP, RCX, (int32_t)(4096 - (s->nw & 0xFF)));
                x86_jcc_to(b, CC_BE, s->back);
                x86_patch(s->rel[0], b->p);
            }
            if (s->low)
                x86_patch(s->low, b->p);
            x86_mov_ri(b, RCX, s->nw);
            x86_call_to(b, j->mem_tramp);
            x86_jcc_to(b, CC_E, s->back);
            x86_mov_ri(b, RCX, s->rec);
            x86_jmp_to(b, j->exit_common);
            break;
        }
    }
}

/* Host registers by PVM register usage, most used first: rdx last but one because division
 * and high products borrow it, and the least used PVM register gets the frame slot. */
static void assign_registers(const javm_program *p, int8_t host[JAVM_NUM_REGS])
{
    static const int8_t hosts[JAVM_NUM_REGS] = { RBX, RBP, R12, R13, R14, RSI, RDI, R8, R9, R10, R11, RDX, -1 };
    uint64_t use[JAVM_NUM_REGS] = { 0 };
    for (uint32_t i = 0; i < p->nrecs; i++) {
        const exec_rec *r = &p->recs[i];
        switch (exec_op_class(r->op)) {
        case EXEC_CLS_ONEREG_EXTIMM: case EXEC_CLS_ONEREG_ONEIMM: case EXEC_CLS_ONEREG_TWOIMM:
        case EXEC_CLS_ONEREG_IMM_OFF:
            use[r->a]++;
            break;
        case EXEC_CLS_TWOREG: use[r->a]++; use[r->d]++; break;
        case EXEC_CLS_TWOREG_ONEIMM: case EXEC_CLS_TWOREG_ONEOFF: case EXEC_CLS_TWOREG_TWOIMM:
            use[r->a]++; use[r->b]++; break;
        case EXEC_CLS_THREEREG: use[r->a]++; use[r->b]++; use[r->d]++; break;
        default: break;
        }
    }
    uint8_t order[JAVM_NUM_REGS];
    for (unsigned g = 0; g < JAVM_NUM_REGS; g++) {
        unsigned k = g; /* insertion sort, stable: ties keep register order */
        while (k > 0 && use[order[k - 1]] < use[g]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = (uint8_t)g;
    }
    for (unsigned k = 0; k < JAVM_NUM_REGS; k++)
        host[order[k]] = hosts[k];
}

/* Bytes reserved per record: more than the longest instruction sequence plus its stubs. */
#define REC_ROOM 256u

/* Maps n bytes of position-independent code read + execute. The code goes into a memfd with
 * write() and the file is mapped read + execute, so no mapping of it is ever writable; where
 * memfd_create is refused, an anonymous mapping is written and then made read + execute
 * (never both). NULL when neither works. */
static uint8_t *publish(const uint8_t *code, size_t n, size_t *map_size)
{
    size_t size = (n + 4095) / 4096 * 4096;
    int fd = memfd_create("javm-jit", MFD_CLOEXEC);
    if (fd >= 0) {
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(fd, code + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        void *m = off == n ? mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) : MAP_FAILED;
        close(fd);
        if (m != MAP_FAILED) {
            *map_size = size;
            return m;
        }
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    memcpy(m, code, n);
    if (mprotect(m, size, PROT_READ | PROT_EXEC) != 0) {
        munmap(m, size);
        return NULL;
    }
    *map_size = size;
    return m;
}
#define FIXED_ROOM 4096u

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Compiles into a buffer of `per_rec` bytes a record (plus fixed room); JAVM_ERR_JIT_TOO_LARGE
 * when the code does not fit it. */
static int compile_in(const javm_program *p, javm_gas_model model, uint64_t per_rec, bool version,
                      jit_code **out)
{
    uint64_t t0 = now_ns();
    int rc = JAVM_ERR_ALLOC;
    jcomp j = { 0 };
    jit_code *c = calloc(1, sizeof *c);
    if (c)
        c->hdr.destroy = code_free;
    uint64_t need = FIXED_ROOM + (uint64_t)p->nrecs * per_rec + p->njt * 8u;
    if (need > JAVM_MAX_JIT_CODE_SIZE) {
        free(c);
        return JAVM_ERR_JIT_TOO_LARGE;
    }
    uint8_t *buf = NULL;
    if (!c || !(c->addr = malloc((size_t)p->nrecs * sizeof *c->addr)) || !(buf = malloc((size_t)need)) ||
        !(j.nocheck = calloc(p->nrecs, 1)))
        goto fail;
    j.version = version;
    j.b.p = j.b.start = buf;
    j.limit = buf + need;
    j.p = p;
    j.m = (unsigned)model;
    j.cpu = jit_cpu_features();
    assign_registers(p, j.host);
    uint32_t entry = (uint32_t)(emit_tramps(&j) - buf);
    /* segments in pc order: a prologue (gas, steps), then, when it pays, a fast version with
     * the group checks in front, then the version with every access checked; entries in
     * the middle of a segment go to the checked version */
    for (uint32_t sg = 0; sg < p->nrecs && !j.oom;) {
        uint32_t t = seg_end(p, sg);
        if (j.b.p + REC_ROOM > j.limit)
            goto too_large;
        c->addr[sg] = (uint32_t)(j.b.p - j.b.start);
        uint32_t cost = exec_rec_cost(p, &p->recs[sg], model);
        if (cost) {
            if (cost <= INT32_MAX)
                x86_alu_mi(&j.b, 1, ALU_SUB, x86_m(RSP, F_GAS), (int32_t)cost);
            else {
                x86_mov_ri(&j.b, RAX, cost);
                x86_rm(&j.b, OP1(0x29), X86_W, RAX, x86_m(RSP, F_GAS));
            }
            stub *s = add_stub(&j, STUB_OOG, sg);
            uint8_t *rel = x86_jcc32(&j.b, CC_L);
            if (s) {
                s->cost = cost;
                s->rel[s->nrel++] = rel;
            }
        }
        x86_alu_mi(&j.b, 1, ALU_ADD, x86_m(RSP, F_STEPS), (int32_t)(t - sg + 1));
        mgroup g[JAVM_NUM_REGS];
        if (j.version && plan_segment(&j, sg, t, g)) {
            uint8_t *rel[3 * JAVM_NUM_REGS]; /* group_checks: up to 3 a group */
            if (j.b.p + 80 * JAVM_NUM_REGS > j.limit)
                goto too_large;
            unsigned nrel = group_checks(&j, g, rel);
            for (uint32_t i = sg; i <= t; i++) {
                if (j.b.p + REC_ROOM > j.limit)
                    goto too_large;
                emit_rec(&j, i);
                if (j.skip_next) { /* no entry lands inside the fast version */
                    j.skip_next = false;
                    i++;
                }
            }
            if (falls_through(p->recs[t].op))
                add_fix(&j, x86_jmp32(&j.b), t + 1);
            for (unsigned k = 0; k < nrel; k++)
                x86_patch(rel[k], j.b.p);
            for (uint32_t i = sg; i <= t; i++)
                j.nocheck[i] = 0;
        }
        for (uint32_t i = sg; i <= t; i++) {
            if (j.b.p + REC_ROOM > j.limit)
                goto too_large;
            if (i != sg)
                c->addr[i] = (uint32_t)(j.b.p - j.b.start);
            emit_rec(&j, i);
            if (j.skip_next) {
                j.skip_next = false;
                uint8_t *over = x86_jmp32(&j.b);
                c->addr[++i] = (uint32_t)(j.b.p - j.b.start);
                emit_rec(&j, i);
                x86_patch(over, j.b.p);
            }
        }
        sg = t + 1;
    }
    c->stubs = (uint32_t)(j.b.p - j.b.start);
    emit_stubs(&j);
    if (j.full)
        rc = JAVM_ERR_JIT_TOO_LARGE;
    if (j.oom || j.full)
        goto fail;
    /* the jump table: arrival offsets from the table, invalid entries to panic_eax */
    while ((j.b.p - buf) & 3)
        x86_b(&j.b, 0xCC);
    uint8_t *table = j.b.p;
    if (table + p->njt * 4 > j.limit) {
        rc = JAVM_ERR_JIT_TOO_LARGE;
        goto fail;
    }
    for (uint64_t k = 0; k < p->njt; k++) {
        uint32_t t = p->jt_rec[k];
        const uint8_t *to = t == EXEC_NO_TARGET ? j.panic_eax : buf + c->addr[t];
        x86_d(&j.b, (uint32_t)(int32_t)(to - table));
    }
    for (size_t k = 0; k < j.ntab; k++)
        x86_patch(j.tabrel[k], table);
    for (size_t k = 0; k < j.nfix; k++)
        x86_patch(j.fix[k].rel, buf + c->addr[j.fix[k].target]);
    c->code_size = (size_t)(j.b.p - buf);
    if (!(c->mem = publish(buf, c->code_size, &c->map_size)))
        goto fail;
    c->enter = (jit_entry_fn)(void *)(c->mem + entry);
    free(buf);
    free(j.stubs);
    free(j.fix);
    free(j.tabrel);
    free(j.nocheck);
    c->compile_ns = now_ns() - t0;
    *out = c;
    return JAVM_OK;
    if (0) {
too_large:
        rc = JAVM_ERR_JIT_TOO_LARGE;
    }
fail:
    free(buf);
    free(j.nocheck);
    free(j.stubs);
    free(j.fix);
    free(j.tabrel);
    if (c) {
        if (c->mem)
            munmap(c->mem, c->map_size);
        free(c->addr);
        free(c);
    }
    return rc;
}

/* Most code needs well under 64 bytes a record: a first pass in a buffer that small (no
 * page faults, often no mmap inside malloc); the worst-case buffer only when it overflows. */
#define REC_TYPICAL 64u

static int compile(const javm_program *p, javm_gas_model model, jit_code **out)
{
    int rc = compile_in(p, model, REC_TYPICAL, true, out);
    if (rc == JAVM_ERR_JIT_TOO_LARGE)
        rc = compile_in(p, model, REC_ROOM, true, out);
    if (rc == JAVM_ERR_JIT_TOO_LARGE) /* the fast versions double some code: do without */
        rc = compile_in(p, model, REC_ROOM, false, out);
    return rc;
}

static void code_free(exec_jit_hdr *h)
{
    jit_code *c = (jit_code *)h;
    if (!c || c == &jit_failed)
        return;
    munmap(c->mem, c->map_size);
    free(c->addr);
    free(c);
}

const jit_code *jit_get(const javm_program *p, javm_gas_model model, int *status)
{
    javm_program *mp = (javm_program *)p; /* the jit slots are the program's one mutable part */
    if ((unsigned)model >= EXEC_JIT_SLOTS) {
        *status = JAVM_ERR_INVALID_ARG;
        return NULL;
    }
    /* only the models whose costs the records hold (exec/exec.h cost_slot); javm_run then
     * leaves the run to the interpreter, which refuses it the same way */
    if ((unsigned)model >= EXEC_NUM_MODELS || p->cost_slot[model] == EXEC_NO_SLOT) {
        *status = JAVM_ERR_INVALID_ARG;
        return NULL;
    }
    exec_jit_hdr *cur = atomic_load_explicit(&mp->jit[model], memory_order_acquire);
    if (!cur) {
        jit_code *c = NULL;
        int rc = compile(p, model, &c);
        exec_jit_hdr *mine = rc == JAVM_OK ? &c->hdr : &jit_failed.hdr;
        if (rc != JAVM_OK)
            atomic_store_explicit(&mp->jit_status[model], rc, memory_order_relaxed);
        exec_jit_hdr *expect = NULL;
        if (atomic_compare_exchange_strong_explicit(&mp->jit[model], &expect, mine, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            cur = mine;
        } else {
            if (c)
                code_free(&c->hdr);
            cur = expect;
        }
    }
    if (cur == &jit_failed.hdr) {
        *status = atomic_load_explicit(&mp->jit_status[model], memory_order_relaxed);
        return NULL;
    }
    *status = JAVM_OK;
    return (const jit_code *)cur;
}

size_t jit_code_size(const jit_code *jc) { return jc->code_size; }
uint64_t jit_code_compile_ns(const jit_code *jc) { return jc->compile_ns; }
const uint8_t *jit_code_bytes(const jit_code *jc) { return jc->mem; }
uint32_t jit_code_rec_offset(const jit_code *jc, uint32_t i) { return jc->addr[i]; }
uint32_t jit_code_stubs_offset(const jit_code *jc) { return jc->stubs; }

/* ---- run time ------------------------------------------------------------------------------- */

static int jit_host_c(jit_frame *f, uint32_t i)
{
    jit_run *r = f->run;
    const exec_rec *rec = &r->p->recs[i];
    javm_call_kind kind = rec->op == 3 ? JAVM_CALL_ECALL : JAVM_CALL_ECALLI;
    uint32_t imm = kind == JAVM_CALL_ECALL ? 0 : (uint32_t)rec->x;
    f->rec = i;
    f->flags = EXIT_NEXT_PC;
    if (!r->handler) {
        f->reason = kind == JAVM_CALL_ECALL ? JAVM_EXIT_ECALL : JAVM_EXIT_HOST_CALL;
        f->arg = imm;
        return 1;
    }
    javm_state *st = r->st;
    st->gas = f->gas;
    st->pc = rec[1].pc;
    javm_answer an = r->handler(r->user, kind, imm, f->regs, st->mem, &st->gas);
    f->gas = st->gas;
    if (an.cont) {
        f->flags = 0;
        return 0;
    }
    f->reason = an.exit.reason;
    f->arg = an.exit.arg;
    return 1;
}

static int jit_mem_c(jit_frame *f, uint32_t addr, uint32_t nw)
{
    uint32_t fault = 0;
    javm_exit_reason e = exec_mem_slow(f->run->st->mem, addr, nw & 0xFF, (nw >> 8) != 0,
                                       f->run->p->profile, &fault);
    if (e == JAVM_EXIT_HALT)
        return 0;
    f->reason = e;
    f->arg = e == JAVM_EXIT_PAGE_FAULT ? fault : 0;
    return 1;
}

javm_exit jit_exec(const javm_program *p, const jit_code *jc, javm_state *st, javm_handler h,
                   void *user)
{
    javm_exit ex = { JAVM_EXIT_PANIC, 0 };
    uint32_t pc = st->pc;
    if (pc > p->L || p->pc2rec[pc] == EXEC_NO_TARGET ||
        (pc < p->L && !((p->bitmask[pc >> 3] >> (pc & 7)) & 1)))
        return ex; /* panic at the start pc; nothing dispatched (as the interpreter) */
    uint32_t i = p->pc2rec[pc];
    uint64_t pre = seg_start(p, i) ? 0 : seg_end(p, i) - i + 1;
    jit_run r;
    r.gas = st->gas;
    r.regs = st->regs;
    r.base = st->mem->base;
    r.p = p;
    r.st = st;
    r.handler = h;
    r.user = user;
    jc->enter(&r, jc->mem + jc->addr[i]);
    uint32_t e = r.out.rec;
    uint64_t steps = pre + r.out.steps;
    if (!(r.out.flags & EXIT_UNCOUNTED))
        steps -= seg_end(p, e) - e;
    st->steps += steps;
    st->gas = r.out.gas;
    st->pc = (r.out.flags & EXIT_NEXT_PC) ? p->recs[e + 1].pc : p->recs[e].pc;
    ex.reason = (javm_exit_reason)r.out.reason;
    ex.arg = r.out.arg;
    return ex;
}

#else /* !JIT_ENABLED */

unsigned jit_cpu_features(void) { return 0; }

const jit_code *jit_get(const javm_program *p, javm_gas_model model, int *status)
{
    (void)p;
    (void)model;
    *status = JAVM_ERR_JIT_UNSUPPORTED;
    return NULL;
}

javm_exit jit_exec(const javm_program *p, const jit_code *jc, javm_state *st, javm_handler h,
                   void *user)
{
    (void)jc;
    return exec_interp_run(p, st, JAVM_GAS_PIPELINE, h, user);
}

size_t jit_code_size(const jit_code *jc) { (void)jc; return 0; }
uint64_t jit_code_compile_ns(const jit_code *jc) { (void)jc; return 0; }
const uint8_t *jit_code_bytes(const jit_code *jc) { (void)jc; return NULL; }
uint32_t jit_code_rec_offset(const jit_code *jc, uint32_t i) { (void)jc; (void)i; return 0; }
uint32_t jit_code_stubs_offset(const jit_code *jc) { (void)jc; return 0; }

#endif
