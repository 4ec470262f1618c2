/* SPDX-License-Identifier: MIT
 * exec/prepare.c — program preparation (pvm.md §2.1, §9): the deblob splitter, validation,
 * and the one-time predecode into exec_rec records with resolved branch targets and both
 * block-cost tables. Everything the interpreter trusts is checked here. */
#include <stdlib.h>

#include "exec/exec.h"

/* ---- deblob (pvm.md §9.1, §9.2) ------------------------------------------------------- */

typedef struct blob_reader {
    const uint8_t *p;
    size_t len, pos;
} blob_reader;

/* JAM codec natural number; rejects truncation and non-canonical forms. */
static int read_varint(blob_reader *r, uint64_t *out)
{
    if (r->pos >= r->len)
        return JAVM_ERR_BLOB_TRUNCATED;
    uint8_t f = r->p[r->pos++];
    unsigned l = 0;
    while (l < 8 && (f & (0x80u >> l)))
        l++;
    if (r->len - r->pos < l)
        return JAVM_ERR_BLOB_TRUNCATED;
    uint64_t low = 0;
    for (unsigned i = 0; i < l; i++)
        low |= (uint64_t)r->p[r->pos + i] << (8 * i);
    r->pos += l;
    uint64_t x;
    if (l == 0) {
        x = f;
    } else if (l == 8) {
        x = low;
    } else {
        uint64_t high = f & ((1u << (7 - l)) - 1);
        x = (high << (8 * l)) | low;
    }
    /* Canonical: l is the smallest with x < 2^(7(l+1)) (l = 8 covers 2^56 .. 2^64). */
    if (l > 0 && x < (UINT64_C(1) << (7 * l)))
        return JAVM_ERR_BLOB_VARINT;
    *out = x;
    return JAVM_OK;
}

int javm_prepare_blob(const uint8_t *blob, size_t len, const javm_prepare_opts *opts,
                      javm_program **out)
{
    int rc;
    blob_reader r = { blob, len, 0 };
    uint64_t njt, L;
    uint32_t *entries = NULL;
    if (!blob && len)
        return JAVM_ERR_INVALID_ARG;
    if ((rc = read_varint(&r, &njt)) != JAVM_OK)
        goto done;
    if (r.pos >= r.len) {
        rc = JAVM_ERR_BLOB_TRUNCATED;
        goto done;
    }
    unsigned z = r.p[r.pos++];
    if ((rc = read_varint(&r, &L)) != JAVM_OK)
        goto done;
    rc = JAVM_ERR_BLOB_TOO_LARGE;
    if (njt > UINT32_MAX || L > UINT32_MAX)
        goto done;
    rc = JAVM_ERR_BLOB_JT_WIDTH;
    if (z > 4 || (z == 0 && njt > 0))
        goto done;
    /* Section bounds before any allocation: entries, code, bitmask, then nothing. */
    uint64_t remaining = r.len - r.pos, klen = (L + 7) / 8;
    rc = JAVM_ERR_BLOB_TRUNCATED;
    if (njt * z > remaining || L > remaining - njt * z || klen > remaining - njt * z - L)
        goto done;
    rc = JAVM_ERR_BLOB_TRAILING;
    if (njt * z + L + klen != remaining)
        goto done;
    rc = njt > JAVM_MAX_JUMP_TABLE ? JAVM_ERR_JT_TOO_LARGE : JAVM_ERR_ALLOC;
    if (njt > JAVM_MAX_JUMP_TABLE || (njt && !(entries = malloc(njt * sizeof *entries))))
        goto done;
    for (uint64_t i = 0; i < njt; i++) {
        uint32_t e = 0;
        for (unsigned b = 0; b < z; b++)
            e |= (uint32_t)r.p[r.pos + i * z + b] << (8 * b);
        entries[i] = e;
    }
    r.pos += njt * z;
    rc = javm_prepare(r.p + r.pos, L, r.p + r.pos + L, entries, njt, opts, out);
done:
    free(entries);
    return rc;
}

/* ---- predecode ------------------------------------------------------------------------ */

static unsigned clamp_len(int64_t v) { return v < 0 ? 0 : v > 4 ? 4 : (unsigned)v; }
static uint8_t reg(uint8_t nibble) { return nibble < 12 ? nibble : 12; }

/* Internal op for a byte at a valid instruction start, by profile (pvm.md §8; jam-draft is
 * GP plus `unlikely` at byte 3). */
static uint8_t internal_op(uint8_t op, int profile)
{
    if (op == 101)
        return EXEC_OP_PANIC; /* sbrk: no heap pointer, every profile */
    if (profile == JAVM_PROFILE_JAVM)
        return op;
    switch (op) {
    case 3: return EXEC_OP_NOP; /* defined only in jam-draft */
    case 0: return EXEC_OP_PANIC;
    case 10: return EXEC_OP_ECALLI_GP;
    case 50: return EXEC_OP_JUMP_IND_GP;
    case 180: return EXEC_OP_LIJI_GP;
    default: return op;
    }
}

/* Decodes the operands of the instruction at pc into rec (pvm.md §4.4). */
static void decode_operands(const exec_code *cd, uint64_t pc, exec_rec *rec)
{
    const uint8_t *c = cd->c;
    uint32_t l = exec_skip(cd, pc);
    uint8_t b1 = c[pc + 1], b2 = c[pc + 2];
    unsigned lx, ly;
    switch (exec_op_class(c[pc])) {
    case EXEC_CLS_ONEIMM:
        lx = clamp_len(l);
        rec->x = exec_sx(lx, exec_le(c, pc + 1, lx));
        break;
    case EXEC_CLS_ONEREG_EXTIMM:
        rec->a = reg(b1 & 15);
        rec->x = exec_le(c, pc + 2, 8);
        break;
    case EXEC_CLS_TWOIMM:
        lx = clamp_len(b1 & 7);
        ly = clamp_len((int64_t)l - lx - 1);
        rec->x = exec_sx(lx, exec_le(c, pc + 2, lx));
        rec->y = exec_sx(ly, exec_le(c, pc + 2 + lx, ly));
        break;
    case EXEC_CLS_ONEOFF:
        break; /* target resolved by the caller */
    case EXEC_CLS_ONEREG_ONEIMM:
        rec->a = reg(b1 & 15);
        lx = clamp_len((int64_t)l - 1);
        rec->x = exec_sx(lx, exec_le(c, pc + 2, lx));
        break;
    case EXEC_CLS_ONEREG_TWOIMM:
    case EXEC_CLS_ONEREG_IMM_OFF:
        rec->a = reg(b1 & 15);
        lx = clamp_len((b1 >> 4) & 7);
        ly = clamp_len((int64_t)l - lx - 1);
        rec->x = exec_sx(lx, exec_le(c, pc + 2, lx));
        rec->y = exec_sx(ly, exec_le(c, pc + 2 + lx, ly));
        break;
    case EXEC_CLS_TWOREG:
        rec->d = reg(b1 & 15);
        rec->a = reg(b1 >> 4);
        break;
    case EXEC_CLS_TWOREG_ONEIMM:
    case EXEC_CLS_TWOREG_ONEOFF:
        rec->a = reg(b1 & 15);
        rec->b = reg(b1 >> 4);
        lx = clamp_len((int64_t)l - 1);
        rec->x = exec_sx(lx, exec_le(c, pc + 2, lx));
        break;
    case EXEC_CLS_TWOREG_TWOIMM:
        rec->a = reg(b1 & 15);
        rec->b = reg(b1 >> 4);
        lx = clamp_len(b2 & 7);
        ly = clamp_len((int64_t)l - lx - 2);
        rec->x = exec_sx(lx, exec_le(c, pc + 3, lx));
        rec->y = exec_sx(ly, exec_le(c, pc + 3 + lx, ly));
        break;
    case EXEC_CLS_THREEREG:
        rec->a = reg(b1 & 15);
        rec->b = reg(b1 >> 4);
        rec->d = b2 < 12 ? b2 : 12;
        break;
    default:
        break;
    }
}

static bool is_block_start(const javm_program *p, uint64_t pos)
{
    return pos <= p->L && p->pc2rec[pos] != EXEC_NO_TARGET && p->recs[p->pc2rec[pos]].cost[0];
}

/* Valid branch target (V = B minus {L}, pvm.md §6.1): record index or EXEC_NO_TARGET. */
static uint32_t target_rec(const javm_program *p, uint64_t t)
{
    return t < p->L && is_block_start(p, t) ? p->pc2rec[t] : EXEC_NO_TARGET;
}

/* Positions the block walk visits from b (pvm.md §7.3, over the profile's block). */
static uint32_t block_instrs(const exec_code *cd, uint64_t b)
{
    uint32_t n = 1;
    for (uint64_t q = b; !exec_block_last(cd, q); q = q + 1 + exec_skip(cd, q))
        n++;
    return n;
}

/* The cost of block b under one model, from the code. */
static uint32_t model_cost(const exec_code *cd, uint64_t b, uint32_t M, javm_gas_model model)
{
    uint64_t pipe, instr;
    switch (model) {
    case JAVM_GAS_JAM_DRAFT:
        return exec_draft_block_cost(cd, b, M, NULL);
    case JAVM_GAS_INSTR:
        return block_instrs(cd, b);
    default:
        exec_block_costs(cd, b, M, &pipe, &instr);
        return (uint32_t)pipe;
    }
}

static void set_block_cost(javm_program *p, const exec_code *cd, uint64_t b)
{
    exec_rec *r = &p->recs[p->pc2rec[b]];
    if (p->profile == JAVM_PROFILE_JAM_DRAFT) {
        uint32_t npos;
        r->cost[p->cost_slot[JAVM_GAS_JAM_DRAFT]] = exec_draft_block_cost(cd, b, p->mem_latency, &npos);
        r->cost[p->cost_slot[JAVM_GAS_INSTR]] = npos;
        return;
    }
    uint64_t pipe, instr;
    exec_block_costs(cd, b, p->mem_latency, &pipe, &instr);
    r->cost[p->cost_slot[JAVM_GAS_PIPELINE]] = (uint32_t)pipe;
    r->cost[p->cost_slot[JAVM_GAS_INSTR]] = (uint32_t)instr;
}

uint32_t exec_block_cost_slow(const javm_program *p, uint32_t pc, javm_gas_model model)
{
    exec_code cd = { p->code, p->bitmask, p->L, (int)p->profile };
    return model_cost(&cd, pc, p->mem_latency, model);
}

/* Whether the terminator at n makes L a block start when next(n) = L: every terminator in
 * JAVM and GP (pvm.md §6.1); in jam-draft only fallthrough and the conditional branches,
 * after which execution can flow into L (gas.md §2.1 item 3). */
static bool ends_into_L(int profile, uint8_t op)
{
    return profile != JAVM_PROFILE_JAM_DRAFT || op == 1 || (op >= 81 && op <= 90) ||
           (op >= 170 && op <= 175);
}

static int predecode(javm_program *p)
{
    exec_code cd = { p->code, p->bitmask, p->L, (int)p->profile };
    uint64_t L = p->L;
    int rc = JAVM_ERR_ALLOC;
    uint8_t *isrec = calloc(L + 1, 1);
    if (!isrec)
        goto done;
    /* Records: every k = 1 position, every position a capped skip lands on, and L. */
    uint64_t n = 1;
    isrec[L] = 1;
    for (uint64_t i = 0; i < L; i++) {
        if (!exec_bit(&cd, i))
            continue;
        if (!isrec[i]) { isrec[i] = 1; n++; }
        uint64_t nx = i + 1 + exec_skip(&cd, i);
        if (nx < L && !isrec[nx]) { isrec[nx] = 1; n++; }
    }
    p->nrecs = (uint32_t)n;
    p->recs = calloc(n, sizeof *p->recs);
    p->pc2rec = malloc((L + 1) * sizeof *p->pc2rec);
    p->jt_rec = malloc((p->njt ? p->njt : 1) * sizeof *p->jt_rec);
    if (!p->recs || !p->pc2rec || !p->jt_rec)
        goto done;
    uint32_t idx = 0;
    for (uint64_t i = 0; i <= L; i++) {
        p->pc2rec[i] = isrec[i] ? idx : EXEC_NO_TARGET;
        if (!isrec[i])
            continue;
        exec_rec *r = &p->recs[idx++];
        r->pc = (uint32_t)i;
        if (i == L)
            r->op = cd.profile ? EXEC_OP_PANIC : 0; /* implicit trap (pvm.md §4.2) */
        else if (!exec_valid_start(&cd, i))
            r->op = EXEC_OP_PANIC;
        else {
            r->op = internal_op(p->code[i], cd.profile);
            decode_operands(&cd, i, r);
        }
    }
    /* Block starts B (pvm.md §6.1, gas.md §2.1) and their costs. Blocks are disjoint, so
     * this is O(L). jam-draft: L = 0 has no block start; L is one only after fallthrough or
     * a conditional branch. */
    bool draft = cd.profile == JAVM_PROFILE_JAM_DRAFT;
    if ((L == 0 && !draft) || exec_valid_start(&cd, 0))
        set_block_cost(p, &cd, 0);
    for (uint64_t i = 0; i < L; i++) {
        if (!exec_valid_start(&cd, i) || !exec_is_terminator(p->code[i], cd.profile))
            continue;
        uint64_t b = i + 1 + exec_skip(&cd, i);
        if (!(b == L ? ends_into_L(cd.profile, p->code[i]) : exec_valid_start(&cd, b)))
            continue;
        set_block_cost(p, &cd, b);
    }
    /* Static targets, now that B is known. */
    for (uint32_t j = 0; j < n; j++) {
        exec_rec *r = &p->recs[j];
        uint32_t t;
        if (r->pc < L && r->op != EXEC_OP_PANIC && exec_branch_target(&cd, r->pc, &t))
            r->y = target_rec(p, t);
    }
    for (uint64_t j = 0; j < p->njt; j++)
        p->jt_rec[j] = target_rec(p, p->jt[j]);
    rc = JAVM_OK;
done:
    free(isrec);
    return rc;
}

int javm_prepare(const uint8_t *code, uint64_t L, const uint8_t *bitmask, const uint32_t *entries,
                 uint64_t n, const javm_prepare_opts *opts, javm_program **out)
{
    int rc;
    javm_program *p = NULL;
    javm_prepare_opts o = { JAVM_PROFILE_JAVM, 25 };
    if (opts) {
        o = *opts;
        if (!o.mem_latency)
            o.mem_latency = 25;
    }
    rc = JAVM_ERR_INVALID_ARG;
    if (!out || (L && (!code || !bitmask)) || (n && !entries) ||
        (o.profile != JAVM_PROFILE_JAVM && o.profile != JAVM_PROFILE_GP &&
         o.profile != JAVM_PROFILE_JAM_DRAFT) || o.mem_latency > JAVM_MAX_MEM_LATENCY ||
        (o.profile == JAVM_PROFILE_JAM_DRAFT && o.mem_latency != 25 && o.mem_latency != 37))
        goto done;
    rc = JAVM_ERR_CODE_TOO_LARGE;
    if (L > JAVM_MAX_CODE_SIZE)
        goto done;
    rc = JAVM_ERR_JT_TOO_LARGE;
    if (n > JAVM_MAX_JUMP_TABLE)
        goto done;
    uint64_t klen = (L + 7) / 8;
    rc = JAVM_ERR_BITMASK_PADDING;
    if ((L & 7) && (bitmask[klen - 1] >> (L & 7)))
        goto done;
    rc = JAVM_ERR_JT_ENTRY;
    for (uint64_t i = 0; i < n; i++)
        if (entries[i] >= L)
            goto done;
    rc = JAVM_ERR_ALLOC;
    if (!(p = calloc(1, sizeof *p)))
        goto done;
    atomic_init(&p->refs, 1);
    for (unsigned k = 0; k < EXEC_JIT_SLOTS; k++) {
        atomic_init(&p->jit[k], NULL);
        atomic_init(&p->jit_status[k], JAVM_OK);
    }
    p->profile = o.profile;
    p->mem_latency = o.mem_latency;
    /* The two record cost slots: the profile's default model and instr (exec/exec.h). */
    memset(p->cost_slot, EXEC_NO_SLOT, sizeof p->cost_slot);
    p->cost_slot[o.profile == JAVM_PROFILE_JAM_DRAFT ? JAVM_GAS_JAM_DRAFT : JAVM_GAS_PIPELINE] = 0;
    p->cost_slot[JAVM_GAS_INSTR] = 1;
    p->L = L;
    p->njt = n;
    p->code = calloc(L + EXEC_CODE_PAD, 1);
    p->bitmask = calloc(klen + EXEC_MASK_PAD, 1);
    p->jt = malloc(n ? n * sizeof *p->jt : 1);
    if (!p->code || !p->bitmask || !p->jt)
        goto done;
    if (L) {
        memcpy(p->code, code, L);
        memcpy(p->bitmask, bitmask, klen);
    }
    if (n)
        memcpy(p->jt, entries, n * sizeof *p->jt);
    if ((rc = predecode(p)) != JAVM_OK)
        goto done;
    *out = p;
    p = NULL;
done:
    javm_program_free(p);
    return rc;
}

javm_program *javm_program_ref(javm_program *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void javm_program_free(javm_program *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (unsigned k = 0; k < EXEC_JIT_SLOTS; k++) {
        exec_jit_hdr *h = atomic_load_explicit(&p->jit[k], memory_order_acquire);
        if (h)
            h->destroy(h);
    }
    free(p->code);
    free(p->bitmask);
    free(p->jt);
    free(p->recs);
    free(p->pc2rec);
    free(p->jt_rec);
    free(p);
}

const uint8_t *javm_program_code(const javm_program *p, uint64_t *len)
{
    *len = p->L;
    return p->code;
}

const uint8_t *javm_program_bitmask(const javm_program *p, uint64_t *len)
{
    *len = (p->L + 7) / 8;
    return p->bitmask;
}

const uint32_t *javm_program_jump_table(const javm_program *p, uint64_t *n)
{
    *n = p->njt;
    return p->jt;
}

javm_profile javm_program_profile(const javm_program *p) { return p->profile; }
uint32_t javm_program_mem_latency(const javm_program *p) { return p->mem_latency; }

uint64_t javm_program_block_cost(const javm_program *p, uint32_t pc, javm_gas_model model)
{
    if (pc > p->L || p->pc2rec[pc] == EXEC_NO_TARGET || (unsigned)model >= EXEC_NUM_MODELS)
        return 0;
    return exec_rec_cost(p, &p->recs[p->pc2rec[pc]], model);
}
