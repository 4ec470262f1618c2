/* SPDX-License-Identifier: MIT
 * exec/exec.h — internals of the exec layer: the prepared program, the predecoded record
 * layout, guest memory, and the decoding helpers shared by preparation and the gas model.
 * Behaviour: docs/isa.md and docs/gas.md. */
#ifndef EXEC_EXEC_H
#define EXEC_EXEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "javm.h"
#include "exec/opcodes.h"

#if defined(__GNUC__)
#define EXEC_LIKELY(x) __builtin_expect(!!(x), 1)
#define EXEC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define EXEC_LIKELY(x) (x)
#define EXEC_UNLIKELY(x) (x)
#endif

/* Bytes of zero padding after the copied code: the longest operand read reaches pc + 11
 * (pvm.md §4.4), so reads through ζ need no bounds check. */
#define EXEC_CODE_PAD 16

/* Bytes of zero padding after the copied bitmask, so a word-wide read of it at any position
 * up to L needs no bounds check (exec/gas_draft.c). */
#define EXEC_MASK_PAD 8

/* Internal ops beyond the PVM opcode bytes (a byte no PVM opcode uses). */
enum {
    EXEC_OP_PANIC = 255,       /* not an instruction start, undefined opcode, sbrk, GP trap */
    EXEC_OP_ECALLI_GP = 254,   /* ecalli in GP-compat: not a terminator */
    EXEC_OP_JUMP_IND_GP = 253, /* jump_ind with GP's halt address */
    EXEC_OP_LIJI_GP = 252,     /* load_imm_jump_ind with GP's halt address */
    EXEC_OP_NOP = 251          /* jam-draft `unlikely` (byte 3): a no-op, not a terminator */
};

/* Gas models known to the exec layer (javm_gas_model values), and the marker of a model whose
 * costs a program does not hold in its records. */
#define EXEC_NUM_MODELS 3
#define EXEC_NO_SLOT 0xFF

/* The jam-draft profile's low-address rule: a load or store whose address is below this
 * panics (docs/exec.md, "jam-draft profile"). */
#define EXEC_DRAFT_LOW 0x10000u

#define EXEC_NO_TARGET UINT32_MAX

/* One predecoded instruction: 32 bytes, two per cache line.
 *
 *   byte  0      1  2  3  4..7   8..15   16..23              24..27        28..31
 *        +------+--+--+--+------+-------+-------------------+-------------+------------+
 *        |  op  | a| b| d|  pc  |   x   | y or target index |   cost[0]   |   cost[1]  |
 *        +------+--+--+--+------+-------+-------------------+-------------+------------+
 *
 * op: PVM opcode byte or EXEC_OP_*. a, b, d: register indices already clamped to 0..12, in
 * the roles of pvm.md §4.4 (TwoReg: d = rD destination, a = rA source; ThreeReg: d = rD).
 * x: first immediate. y: second immediate, or for static branches and jumps the record index
 * of the target (EXEC_NO_TARGET when the target is not a valid branch target: taking it
 * panics). cost: the block cost under the two gas models the program holds (its profile
 * chooses them: javm_program.cost_slot maps a model to its slot, see exec_rec_cost) when
 * this record is a block start, 0 otherwise (every block costs >= 1, so 0 marks "not a block
 * start"; both slots are zero or non-zero together).
 * Records are laid out in pc order and record i + 1 is always at next(pc of record i), so
 * sequential flow is rec++. */
typedef struct exec_rec {
    uint8_t op, a, b, d;
    uint32_t pc;
    uint64_t x;
    uint64_t y;
    uint32_t cost[2];
} exec_rec;
_Static_assert(sizeof(exec_rec) == 32, "two records per cache line; models share the two cost slots");

/* A JIT slot of a program (jit/jit.c): compiled code for one gas model, or the JIT's
 * failure marker. The exec layer knows only how to free it, so it depends on nothing above
 * it; the JIT publishes a slot once with a compare-and-swap and never changes it again. */
typedef struct exec_jit_hdr {
    void (*destroy)(struct exec_jit_hdr *h);
} exec_jit_hdr;
#define EXEC_JIT_SLOTS 4

struct javm_program {
    atomic_uint refs;
    _Atomic(exec_jit_hdr *) jit[EXEC_JIT_SLOTS]; /* by gas model; NULL until first compiled */
    atomic_int jit_status[EXEC_JIT_SLOTS];       /* why a slot holds the failure marker */
    javm_profile profile;
    uint32_t mem_latency;
    uint64_t L;
    uint8_t *code;       /* L bytes + EXEC_CODE_PAD zero bytes */
    uint8_t *bitmask;    /* ceil(L/8) bytes, packed, + EXEC_MASK_PAD zero bytes */
    uint32_t *jt;        /* raw jump table */
    uint64_t njt;
    exec_rec *recs;
    uint32_t nrecs;
    uint32_t *pc2rec;    /* L + 1 entries: record index of each position, or EXEC_NO_TARGET */
    uint32_t *jt_rec;    /* record index of each jump-table target in V, or EXEC_NO_TARGET */
    /* Which record cost slot holds each gas model's block costs, or EXEC_NO_SLOT. JAVM and
     * GP profiles: pipeline 0, instr 1; jam-draft profile: jam-draft 0, instr 1. */
    uint8_t cost_slot[EXEC_NUM_MODELS];
};

/* A read-only view of code and bitmask used while preparing (and by the gas model). */
typedef struct exec_code {
    const uint8_t *c;    /* padded code */
    const uint8_t *k;    /* packed bitmask, padded (EXEC_MASK_PAD) */
    uint64_t L;
    int profile;         /* a javm_profile: 0 JAVM, 1 GP, 2 jam-draft */
} exec_code;

/* bit(i) of pvm.md §4.1: the bitmask, with every position >= L counting as 1. */
static inline bool exec_bit(const exec_code *cd, uint64_t i)
{
    return i >= cd->L || ((cd->k[i >> 3] >> (i & 7)) & 1);
}

/* skip(i) = min(24, smallest j >= 0 with bit(i + 1 + j) = 1). */
static inline uint32_t exec_skip(const exec_code *cd, uint64_t i)
{
    uint32_t j = 0;
    while (j < 24 && !exec_bit(cd, i + 1 + j))
        j++;
    return j;
}

/* A valid instruction start: n < L, k[n] = 1, c[n] defined in the profile (pvm.md §6.1). */
static inline bool exec_valid_start(const exec_code *cd, uint64_t n)
{
    return n < cd->L && exec_bit(cd, n) && exec_op_defined(cd->c[n], cd->profile);
}

/* LE(i, n) read through ζ from the padded code, and sx(n, v). */
static inline uint64_t exec_le(const uint8_t *c, uint64_t i, unsigned n)
{
    uint64_t v = 0;
    for (unsigned b = 0; b < n; b++)
        v |= (uint64_t)c[i + b] << (8 * b);
    return v;
}

static inline uint64_t exec_sx(unsigned n, uint64_t v)
{
    if (n == 0)
        return 0;
    if (n >= 8)
        return v;
    uint64_t sign = UINT64_C(1) << (8 * n - 1);
    v &= (sign << 1) - 1;
    return (v ^ sign) - sign;
}

/* The static branch target T of the instruction at pc (pvm.md §4.3, §4.4), for classes
 * ONEOFF, ONEREG_IMM_OFF and TWOREG_ONEOFF; returns false for any other class. */
bool exec_branch_target(const exec_code *cd, uint64_t pc, uint32_t *target);

/* Block costs of the block starting at b under both models (pvm.md §7.2, §7.3). */
void exec_block_costs(const exec_code *cd, uint64_t b, uint32_t M, uint64_t *pipe,
                      uint64_t *instr);

/* Whether position p is the last of its block under cd's profile: for JAVM and GP the first
 * valid start whose opcode is a terminator, or L (pvm.md §6.1); for jam-draft the first
 * position whose model opcode is a terminator, invalid positions and L counting as trap
 * (gas.md §2.2). */
static inline bool exec_block_last(const exec_code *cd, uint64_t p)
{
    if (p >= cd->L)
        return true;
    bool valid = exec_valid_start(cd, p);
    if (cd->profile == JAVM_PROFILE_JAM_DRAFT && !valid)
        return true;
    return valid && exec_is_terminator(cd->c[p], cd->profile);
}

/* Cost of the block starting at b under the jam-draft model (gas.md §5) with load latency m:
 * the block is the one of cd's profile (exec_block_last), every position costed by gas.md §4
 * whatever the profile. *npos (unless NULL) receives the number of positions of the block's
 * walk, the instr model's cost, so preparation walks the block once. exec/gas_draft.c. */
uint32_t exec_draft_block_cost(const exec_code *cd, uint64_t b, uint32_t m, uint32_t *npos);

/* The cost of the block at block start pc under any model, computed now from the program's
 * code (for models the records do not hold; exec/prepare.c). */
uint32_t exec_block_cost_slow(const javm_program *p, uint32_t pc, javm_gas_model model);

/* The cost of record r under model m: what the interpreter charges on arrival at r, and what
 * a compiler charges at block entry; 0 when r is not a block start. A model the program
 * holds (cost_slot) is one load; any other is computed from the code (slow, but exact:
 * javm_run refuses such a model, so a compiler should too). */
static inline uint32_t exec_rec_cost(const javm_program *p, const exec_rec *r, javm_gas_model m)
{
    unsigned s = (unsigned)m < EXEC_NUM_MODELS ? p->cost_slot[m] : EXEC_NO_SLOT;
    if (s < 2)
        return r->cost[s];
    return r->cost[0] ? exec_block_cost_slow(p, r->pc, m) : 0;
}

/* ---- memory --------------------------------------------------------------------------- */

/* Page state byte: bit 0 readable, bit 1 writable, bit 2 dirty (written since the dirty
 * record was cleared), bit 3 touched (in the touched list: state or contents ever changed
 * since the last reset), bit 4 written (contents ever written since the last reset).
 * The interpreter's fast paths test `state & EXEC_P_R` for loads and `state == EXEC_P_STORE`
 * for stores: a store to a writable page already written and dirty costs one load and one
 * compare; the slow path sets the bookkeeping bits. */
/* A lazily mapped page (exec_memory_map_lazy) has bit 5 set, bits 0-1 clear (so every guest
 * access takes the slow path, which copies its contents in on first use) and its permission
 * in bits 6 (readable) and 7 (writable). */
enum {
    EXEC_P_R = 1, EXEC_P_W = 2, EXEC_P_D = 4, EXEC_P_T = 8, EXEC_P_WR = 16,
    EXEC_P_STORE = EXEC_P_R | EXEC_P_W | EXEC_P_D | EXEC_P_T | EXEC_P_WR,
    EXEC_P_L = 32, EXEC_P_LR = 64, EXEC_P_LW = 128
};

/* A layer of build_entry's layout (exec_memory_layer_*): a range of pages with a permission
 * (groups NULL) or with contents: page k of the range reads the 4096 bytes whose pointer is
 * stored at groups[k >> shift] + off + (k mod 2^shift) * stride (a NULL group, a NULL
 * pointer or k >= nitems: zeros; a Paged Data's chunks are its groups). An untouched page
 * (state byte 0) takes the permission of the last permission layer over it and the contents
 * of the last content layer, when it is first touched (exec/memory.c): laying out a region
 * costs O(1), not a state byte per page (issue 13 item 2). */
typedef struct exec_layer {
    uint32_t first, count;
    uint8_t perm;       /* EXEC_P_R | EXEC_P_W bits */
    uint8_t shift;
    const void *const *groups;
    size_t off, stride;
    uint64_t nitems;
} exec_layer;

struct javm_memory {
    uint8_t *base;     /* 4 GiB reservation; page contents */
    uint8_t *page;     /* JAVM_NUM_PAGES state bytes, immediately before base (the same
                        * reservation), so page == base - JAVM_NUM_PAGES */
    uint32_t *dirty;   /* pages in first-written order; capacity JAVM_NUM_PAGES */
    size_t ndirty;
    uint32_t *touched; /* pages whose state or contents changed since the last reset, so a
                        * reset costs O(touched) instead of O(address space) */
    size_t ntouched;
    const uint8_t **src; /* lazily mapped pages: the 4096 bytes copied in on first access */
    /* dirty, touched and src share one anonymous mapping, committed only where written */
    exec_layer *layers;  /* build_entry's layout, in order (later layers win); reset drops them */
    size_t nlayers, caplayers;
};

/* The state byte of page pg, addressed from the contents base (one register for both). */
#define EXEC_PAGE_STATE(base, pg) ((base)[(ptrdiff_t)(pg) - (ptrdiff_t)JAVM_NUM_PAGES])

/* javm_stop (exec/stop.c). first_slice is for tests: the gas of a sliced run's first slice
 * (0: EXEC_STOP_FIRST_SLICE); it is set before runs use the stop. */
struct javm_stop {
    _Atomic bool requested;
    _Atomic uint64_t deadline; /* CLOCK_MONOTONIC ns; 0: none */
    int64_t first_slice;
};
#define EXEC_STOP_FIRST_SLICE ((int64_t)1 << 14)
uint64_t exec_monotonic_ns(void);

/* The interpreter (exec/interp.c): javm_run's contract, on the interpreter only. */
javm_exit exec_interp_run(const javm_program *p, javm_state *st, javm_gas_model model,
                          javm_handler handler, void *user);

/* Slow path of a guest access of n bytes at addr: checks every page (pvm.md §2.4); for
 * writes, marks the pages dirty. Returns JAVM_EXIT_HALT (used as "ok"), PAGE_FAULT with
 * *fault set, or PANIC (access passes 2^32). Every profile-dependent memory rule lives here:
 * under JAVM_PROFILE_JAM_DRAFT an access at addr < EXEC_DRAFT_LOW panics, and a store whose
 * lowest unwritable byte lies in a read-only page panics instead of faulting. */
javm_exit_reason exec_mem_slow(javm_memory *m, uint32_t addr, unsigned n, bool write,
                               javm_profile profile, uint32_t *fault);

/* Maps page pg lazily: its contents are the 4096 bytes at src (borrowed: they must stay valid
 * and unchanged until the page is first accessed or the memory is reset) and its permission
 * stays what set_perm gave it. Reading it through any accessor sees those bytes; the first
 * guest access, write or poke copies them in. The page must already be mapped (not NONE):
 * JAVM_ERR_MEM_RANGE otherwise. */
int exec_memory_map_lazy(javm_memory *m, uint32_t pg, const uint8_t *src);
/* The 4096 bytes page pg reads as now (its lazy source, or the contents), valid until the
 * next change to the memory. pg < JAVM_NUM_PAGES. */
const uint8_t *exec_memory_page_bytes(const javm_memory *m, uint32_t pg);
/* Copies every touched lazily mapped page in. Untouched pages of a content layer still
 * borrow their source (exec_memory_layer_repoint moves it). */
void exec_memory_materialize(javm_memory *m);

/* Layers (exec_layer): what javm_memory_set_perm(start, size, perm) and exec_memory_map_lazy
 * on each page would do, in O(1) plus O(pages already touched). A permission layer must be
 * RO or RW (JAVM_ERR_MEM_RANGE otherwise, or for a range that is not page-aligned inside 2^32);
 * a content layer maps pages lazily from groups (see exec_layer; the pointers and the bytes are
 * borrowed until the memory is reset or the layer repointed) where they are mapped when first
 * touched. The page states accessors report are those of the per-page calls. JAVM_ERR_ALLOC. */
int exec_memory_layer_perm(javm_memory *m, uint64_t start, uint64_t size, javm_perm perm);
int exec_memory_layer_content(javm_memory *m, uint32_t first, uint64_t count, const void *const *groups,
                              unsigned shift, size_t off, size_t stride, uint64_t nitems);
/* The content layer starting at page `first` reads its groups from `groups` from now on (the
 * same groups, moved: a paused invocation's own copy). */
void exec_memory_layer_repoint(javm_memory *m, uint32_t first, const void *const *groups);

#endif
