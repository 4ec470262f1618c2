/* SPDX-License-Identifier: MIT
 * tests/ref/diff.c — differential runs of the fast interpreter against the reference
 * (tests/ref/diff.h): state setup and teardown on two reused memories, the scripted handler,
 * the comparison of every observable, the fuzz input format and the program generators. */
#include "diff.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

/* ---- reporting ------------------------------------------------------------------------------ */

static void say(char *report, size_t cap, const char *fmt, ...)
{
    size_t used = strlen(report);
    if (used + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(report + used, cap - used, fmt, ap);
    va_end(ap);
}

static const char *profile_name(javm_profile p) { return p == JAVM_PROFILE_GP ? "GP" : "JAVM"; }
static const char *model_name(javm_gas_model m) { return m == JAVM_GAS_INSTR ? "instr" : "pipeline"; }

/* ---- memory setup and teardown ------------------------------------------------------------- */

static uint8_t fill_byte(uint8_t fill, uint32_t i)
{
    return (uint8_t)(fill * 0x9Du + i * (fill | 1u) + (i >> 8));
}

static void setup_mem(javm_memory *m, const diff_case *c)
{
    uint8_t buf[JAVM_PAGE_SIZE];
    for (size_t i = 0; i < c->npages; i++) {
        const diff_page *pg = &c->pages[i];
        javm_memory_set_perm(m, (uint64_t)pg->page << JAVM_PAGE_SHIFT, JAVM_PAGE_SIZE, pg->perm);
        if (pg->fill) {
            for (uint32_t b = 0; b < JAVM_PAGE_SIZE; b++)
                buf[b] = fill_byte(pg->fill, b);
            javm_memory_poke(m, pg->page << JAVM_PAGE_SHIFT, JAVM_PAGE_SIZE, buf);
        }
    }
    javm_memory_clear_dirty(m);
}

static void wipe_page(javm_memory *m, uint32_t page)
{
    static const uint8_t zero[JAVM_PAGE_SIZE];
    javm_memory_poke(m, page << JAVM_PAGE_SHIFT, JAVM_PAGE_SIZE, zero);
    javm_memory_set_perm(m, (uint64_t)page << JAVM_PAGE_SHIFT, JAVM_PAGE_SIZE, JAVM_PERM_NONE);
}

/* Back to all-NONE and zero, touching only the pages a case can have written: its own, those
 * mapped on resume, and (should an interpreter misbehave) every page either marked dirty. */
static void teardown_mem(javm_memory *m, const diff_case *c, const uint32_t *extra, size_t nextra)
{
    size_t nd;
    const uint32_t *d = javm_memory_dirty(m, &nd);
    uint32_t dirty[256];
    size_t keep = nd < 256 ? nd : 256;
    memcpy(dirty, d, keep * sizeof *dirty);
    for (size_t i = 0; i < keep; i++)
        wipe_page(m, dirty[i]);
    for (size_t i = 0; i < c->npages; i++)
        wipe_page(m, c->pages[i].page);
    for (size_t i = 0; i < nextra; i++)
        wipe_page(m, extra[i]);
    javm_memory_clear_dirty(m);
    if (nd > 256)
        javm_memory_reset(m);
}

int diff_ctx_init(diff_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    int rc = javm_memory_new(&ctx->mf);
    if (rc == JAVM_OK)
        rc = javm_memory_new(&ctx->mr);
    if (rc != JAVM_OK)
        diff_ctx_free(ctx);
    return rc;
}

void diff_ctx_free(diff_ctx *ctx)
{
    javm_memory_free(ctx->mf);
    javm_memory_free(ctx->mr);
    ctx->mf = ctx->mr = NULL;
}

/* ---- the scripted handler ------------------------------------------------------------------ */

typedef struct hstate {
    uint64_t rng;
    unsigned calls;
    uint64_t log;   /* hash of everything the handler saw and every result it got */
} hstate;

static void mix(uint64_t *h, uint64_t v)
{
    *h ^= v;
    *h *= UINT64_C(0x100000001b3);
    *h ^= *h >> 29;
}

static javm_answer script(void *user, javm_call_kind kind, uint32_t imm,
                          uint64_t regs[JAVM_NUM_REGS], javm_memory *mem, int64_t *gas)
{
    static const javm_exit_reason reasons[] = {
        JAVM_EXIT_HALT, JAVM_EXIT_PANIC, JAVM_EXIT_OUT_OF_GAS, JAVM_EXIT_PAGE_FAULT,
        JAVM_EXIT_HOST_CALL, JAVM_EXIT_ECALL, JAVM_EXIT_TRAP,
    };
    hstate *h = user;
    javm_answer a = { true, { JAVM_EXIT_HALT, 0 } };
    h->calls++;
    mix(&h->log, kind);
    mix(&h->log, imm);
    mix(&h->log, (uint64_t)*gas);
    for (int i = 0; i < JAVM_NUM_REGS; i++)
        mix(&h->log, regs[i]);
    if (h->calls > DIFF_MAX_CALLS) {
        a.cont = false;
        return a;
    }
    uint64_t r = diff_rand(&h->rng);
    switch (r % 10) {
    case 3:
        regs[(r >> 8) % JAVM_NUM_REGS] = r >> 16;
        break;
    case 4:
        *gas -= (int64_t)((r >> 8) % 64);
        break;
    case 5:
        *gas += (int64_t)((r >> 8) % 64);
        break;
    case 6: {
        /* guest-checked accesses at an address a register holds, as a host call would do */
        uint8_t buf[8];
        uint32_t addr = (uint32_t)regs[(r >> 8) % JAVM_NUM_REGS];
        uint64_t len = (r >> 12) % 9;
        for (unsigned i = 0; i < 8; i++)
            buf[i] = (uint8_t)(r >> (8 * i));
        mix(&h->log, (uint64_t)javm_memory_write(mem, addr, len, buf));
        uint32_t fault = 0;
        mix(&h->log, (uint64_t)javm_memory_probe(mem, addr + 3, 8, JAVM_ACCESS_READ, &fault));
        mix(&h->log, fault);
        if (javm_memory_read(mem, addr + 3, 8, buf) == JAVM_OK)
            for (unsigned i = 0; i < 8; i++)
                mix(&h->log, buf[i]);
        break;
    }
    case 7: case 8:
        a.cont = false;
        a.exit.reason = reasons[(r >> 8) % (sizeof reasons / sizeof reasons[0])];
        a.exit.arg = (uint32_t)(r >> 32);
        break;
    case 9:
        a.cont = false;
        a.exit.reason = JAVM_EXIT_HOST_CALL;
        a.exit.arg = imm;
        break;
    default:
        break;
    }
    return a;
}

/* ---- comparison ---------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The dirty set of m, sorted, in out[0..*n) (at most cap pages; *n may exceed cap). */
static void dirty_set(const javm_memory *m, uint32_t *out, size_t cap, size_t *n)
{
    const uint32_t *d = javm_memory_dirty(m, n);
    size_t k = *n < cap ? *n : cap;
    memcpy(out, d, k * sizeof *out);
    qsort(out, k, sizeof *out, cmp_u32);
}

typedef struct pages_seen {
    uint32_t page[DIFF_MAX_PAGES + DIFF_MAX_RESUMES];
    size_t n;
} pages_seen;

static int compare_after(diff_ctx *ctx, const pages_seen *ps, const javm_state *sf,
                         const javm_state *sr, javm_exit ef, javm_exit er, const hstate *hf,
                         const hstate *hr, char *report, size_t cap)
{
    int bad = 0;
    if (ef.reason != er.reason || ef.arg != er.arg) {
        say(report, cap, "  exit: fast %s(0x%x), ref %s(0x%x)\n", javm_exit_name(ef.reason), ef.arg,
            javm_exit_name(er.reason), er.arg);
        bad++;
    }
    if (sf->pc != sr->pc) {
        say(report, cap, "  pc: fast %u, ref %u\n", sf->pc, sr->pc);
        bad++;
    }
    for (int i = 0; i < JAVM_NUM_REGS; i++) {
        if (sf->regs[i] != sr->regs[i]) {
            say(report, cap, "  r%d: fast 0x%" PRIx64 ", ref 0x%" PRIx64 "\n", i, sf->regs[i], sr->regs[i]);
            bad++;
        }
    }
    if (sf->gas != sr->gas) {
        say(report, cap, "  gas: fast %" PRId64 ", ref %" PRId64 "\n", sf->gas, sr->gas);
        bad++;
    }
    if (sf->steps != sr->steps) {
        say(report, cap, "  steps: fast %" PRIu64 ", ref %" PRIu64 "\n", sf->steps, sr->steps);
        bad++;
    }
    if (hf->calls != hr->calls || hf->log != hr->log) {
        say(report, cap, "  handler: fast %u calls (log %016" PRIx64 "), ref %u calls (log %016" PRIx64 ")\n",
            hf->calls, hf->log, hr->calls, hr->log);
        bad++;
    }
    uint8_t bf[JAVM_PAGE_SIZE], br[JAVM_PAGE_SIZE];
    for (size_t i = 0; i < ps->n; i++) {
        uint32_t pg = ps->page[i];
        javm_perm pf = javm_memory_get_perm(ctx->mf, pg), pr = javm_memory_get_perm(ctx->mr, pg);
        if (pf != pr) {
            say(report, cap, "  page 0x%x: perm fast %d, ref %d\n", pg, (int)pf, (int)pr);
            bad++;
        }
        javm_memory_peek(ctx->mf, pg << JAVM_PAGE_SHIFT, JAVM_PAGE_SIZE, bf);
        javm_memory_peek(ctx->mr, pg << JAVM_PAGE_SHIFT, JAVM_PAGE_SIZE, br);
        for (uint32_t b = 0; b < JAVM_PAGE_SIZE; b++) {
            if (bf[b] != br[b]) {
                say(report, cap, "  memory at 0x%x: fast 0x%02x, ref 0x%02x\n",
                    (pg << JAVM_PAGE_SHIFT) + b, bf[b], br[b]);
                bad++;
                break;
            }
        }
    }
    uint32_t df[64], dr[64];
    size_t nf, nr;
    dirty_set(ctx->mf, df, 64, &nf);
    dirty_set(ctx->mr, dr, 64, &nr);
    if (nf != nr || (nf <= 64 && memcmp(df, dr, nf * sizeof *df) != 0)) {
        say(report, cap, "  dirty pages: fast %zu [", nf);
        for (size_t i = 0; i < nf && i < 64; i++)
            say(report, cap, " 0x%x", df[i]);
        say(report, cap, " ], ref %zu [", nr);
        for (size_t i = 0; i < nr && i < 64; i++)
            say(report, cap, " 0x%x", dr[i]);
        say(report, cap, " ]\n");
        bad++;
    }
    return bad;
}

/* One profile x model: both runs from the same state, segment by segment. */
static int run_pair(diff_ctx *ctx, const diff_case *c, const javm_program *fp,
                    const ref_program *rp, javm_gas_model model, char *report, size_t cap)
{
    pages_seen ps = { .n = 0 };
    for (size_t i = 0; i < c->npages; i++)
        ps.page[ps.n++] = c->pages[i].page;
    setup_mem(ctx->mf, c);
    setup_mem(ctx->mr, c);
    javm_state sf = { .pc = c->pc, .gas = c->gas, .mem = ctx->mf, .steps = 0 };
    memcpy(sf.regs, c->regs, sizeof sf.regs);
    javm_state sr = sf;
    sr.mem = ctx->mr;
    hstate hf = { c->handler_seed, 0, 0 }, hr = hf;
    uint64_t resume_rng = c->handler_seed ^ UINT64_C(0x5EED);
    javm_handler h = c->handler ? script : NULL;
    int bad = 0;
    bool jit = ctx->mode == DIFF_MODE_JIT;
    if (jit) {
        sf.engine = JAVM_ENGINE_JIT;
        sr.engine = JAVM_ENGINE_INTERP;
    }
    for (unsigned seg = 0; seg <= c->resumes && !bad; seg++) {
        javm_exit ef = javm_run(fp, &sf, model, h, &hf);
        javm_exit er = jit ? javm_run(fp, &sr, model, h, &hr) : ref_run(rp, &sr, model, h, &hr);
        ctx->runs++;
        ctx->exits[er.reason & 7]++;
        bad = compare_after(ctx, &ps, &sf, &sr, ef, er, &hf, &hr, report, cap);
        if (jit && (sf.ran != JAVM_ENGINE_JIT || sr.ran != JAVM_ENGINE_INTERP)) {
            /* every program here is far below JAVM_MAX_JIT_CODE_SIZE: the JIT must run it */
            say(report, cap, "  engines: fast ran %s, ref ran %s\n", javm_engine_name(sf.ran),
                javm_engine_name(sr.ran));
            bad++;
        }
        if (bad) {
            say(report, cap, "  (profile %s, gas model %s, run segment %u%s)\n",
                profile_name(rp->profile), model_name(model), seg,
                jit ? "; fast = JIT, ref = interpreter" : "");
            break;
        }
        /* Resume: pay for the block, map the faulting page, or start somewhere else. */
        uint64_t r = diff_rand(&resume_rng);
        if (ef.reason == JAVM_EXIT_OUT_OF_GAS) {
            sf.gas = sr.gas = sf.gas + 1 + (int64_t)(r % 2000);
        } else if (ef.reason == JAVM_EXIT_PAGE_FAULT) {
            javm_memory_set_perm(ctx->mf, ef.arg, JAVM_PAGE_SIZE, JAVM_PERM_RW);
            javm_memory_set_perm(ctx->mr, ef.arg, JAVM_PAGE_SIZE, JAVM_PERM_RW);
            ps.page[ps.n++] = ef.arg >> JAVM_PAGE_SHIFT;
        } else if (ef.reason != JAVM_EXIT_HOST_CALL && ef.reason != JAVM_EXIT_ECALL) {
            sf.pc = sr.pc = (uint32_t)(r % (rp->L + 2));
        }
    }
    ctx->steps += sr.steps;   /* steps accumulate over the segments */
    teardown_mem(ctx->mf, c, ps.page + c->npages, ps.n - c->npages);
    teardown_mem(ctx->mr, c, ps.page + c->npages, ps.n - c->npages);
    return bad;
}

static int compare_parts(const javm_program *fp, const ref_program *rp, char *report, size_t cap)
{
    uint64_t L, kl, n;
    const uint8_t *code = javm_program_code(fp, &L);
    const uint8_t *mask = javm_program_bitmask(fp, &kl);
    const uint32_t *jt = javm_program_jump_table(fp, &n);
    if (L != rp->L || kl != (rp->L + 7) / 8 || n != rp->njt ||
        (L && memcmp(code, rp->code, L) != 0) || (kl && memcmp(mask, rp->bitmask, kl) != 0) ||
        (n && memcmp(jt, rp->jt, n * sizeof *jt) != 0)) {
        say(report, cap, "  parts differ: fast L=%" PRIu64 " |j|=%" PRIu64 ", ref L=%" PRIu64 " |j|=%" PRIu64 "\n",
            L, n, rp->L, rp->njt);
        return 1;
    }
    return 0;
}

static int compare_costs(const javm_program *fp, const ref_program *rp, char *report, size_t cap)
{
    for (uint64_t pos = 0; pos <= rp->L; pos++) {
        for (int m = 0; m < 2; m++) {
            uint64_t f = javm_program_block_cost(fp, (uint32_t)pos, (javm_gas_model)m);
            uint64_t r = ref_block_cost(rp, pos, (javm_gas_model)m);
            if (f != r) {
                say(report, cap, "  block cost at %" PRIu64 " (%s, %s): fast %" PRIu64 ", ref %" PRIu64 "\n",
                    pos, profile_name(rp->profile), model_name((javm_gas_model)m), f, r);
                return 1;
            }
        }
    }
    return 0;
}

/* JIT mode: sets $JAVM_JIT_CPU for the programs diff_run is about to compile. */
static void choose_cpu(diff_ctx *ctx, const diff_case *c)
{
    if (ctx->mode != DIFF_MODE_JIT || ctx->cpu == DIFF_CPU_ENV)
        return;
    bool baseline = ctx->cpu == DIFF_CPU_BASELINE || (ctx->cpu == DIFF_CPU_CASE && (c->handler_seed >> 63));
    if (baseline) {
        setenv("JAVM_JIT_CPU", "baseline", 1);
        ctx->baseline_runs++;
    } else {
        unsetenv("JAVM_JIT_CPU");
    }
}

int diff_run(diff_ctx *ctx, const diff_case *c, const diff_prog *p, char *report, size_t cap)
{
    report[0] = 0;
    int bad = 0;
    choose_cpu(ctx, c);
    for (int prof = 0; prof < 2 && !bad; prof++) {
        javm_prepare_opts opts = { (javm_profile)prof, c->M };
        javm_program *fp = NULL;
        ref_program rp;
        int sf, sr;
        if (p->is_blob) {
            sf = javm_prepare_blob(p->blob, p->blob_len, &opts, &fp);
            sr = ref_prepare_blob(p->blob, p->blob_len, (javm_profile)prof, c->M, &rp);
        } else {
            sf = javm_prepare(p->code, p->L, p->mask, p->jt, p->njt, &opts, &fp);
            sr = ref_prepare(p->code, p->L, p->mask, p->jt, p->njt, (javm_profile)prof, c->M, &rp);
        }
        if (sf != sr) {
            say(report, cap, "  prepare (%s): fast %d %s, ref %d %s\n", profile_name((javm_profile)prof),
                sf, javm_strerror(sf), sr, javm_strerror(sr));
            bad++;
        } else if (sf != JAVM_OK) {
            ctx->rejected++;
        } else {
            if (ctx->mode == DIFF_MODE_REF) {
                bad += compare_parts(fp, &rp, report, cap);
                if (!bad)
                    bad += compare_costs(fp, &rp, report, cap);
            }
            for (int m = 0; m < 2 && !bad; m++)
                bad += run_pair(ctx, c, fp, &rp, (javm_gas_model)m, report, cap);
        }
        if (sr == JAVM_OK)
            ref_free(&rp);
        javm_program_free(fp);
    }
    return bad;
}

/* ---- the fuzz input format ------------------------------------------------------------------
 *
 *   byte 0      flags: bit 0 blob (else raw parts), bits 1-2 M = 25 * (1 + value),
 *               bit 3 handler installed, bits 4-5 resumes
 *   byte 1      number of pages, mod DIFF_MAX_PAGES + 1
 *   2..9        handler seed (u64 LE)
 *   10..17      gas (i64 LE), reduced mod DIFF_MAX_GAS when |gas| exceeds it
 *   18..21      pc (u32 LE)
 *   22..125     13 registers (u64 LE each)
 *   then        4 bytes per page (u32 LE): bits 0-19 page, 20-21 perm (3 = RW), 24-31 fill
 *   blob:       the rest is the blob (at most DIFF_MAX_BLOB bytes are used)
 *   raw parts:  |j| (u8, mod DIFF_MAX_JT + 1), |j| entries (u32 LE), L (u32 LE, mod
 *               DIFF_MAX_CODE + 1, then at most the bytes left), L code bytes, ceil(L/8)
 *               bitmask bytes (padding bits as given).
 * Bytes past the end of the input read as zero, so every input is a case. */

typedef struct reader {
    const uint8_t *in;
    size_t len, pos;
} reader;

static uint64_t get(reader *r, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++, r->pos++)
        if (r->pos < r->len)
            v |= (uint64_t)r->in[r->pos] << (8 * i);
    return v;
}

void diff_decode(const uint8_t *in, size_t len, diff_case *c, diff_prog *p)
{
    reader r = { in, len, 0 };
    memset(c, 0, sizeof *c);
    p->is_blob = false;
    p->L = p->njt = p->blob_len = 0;
    unsigned flags = (unsigned)get(&r, 1);
    p->is_blob = flags & 1;
    c->M = 25 * (1 + ((flags >> 1) & 3));
    c->handler = (flags >> 3) & 1;
    c->resumes = (flags >> 4) & 3;
    c->npages = get(&r, 1) % (DIFF_MAX_PAGES + 1);
    c->handler_seed = get(&r, 8);
    int64_t gas = (int64_t)get(&r, 8);
    if (gas > DIFF_MAX_GAS || gas < -DIFF_MAX_GAS)
        gas %= DIFF_MAX_GAS;
    c->gas = gas;
    c->pc = (uint32_t)get(&r, 4);
    for (int i = 0; i < JAVM_NUM_REGS; i++)
        c->regs[i] = get(&r, 8);
    for (size_t i = 0; i < c->npages; i++) {
        uint32_t v = (uint32_t)get(&r, 4);
        unsigned perm = (v >> 20) & 3;
        c->pages[i].page = v & 0xFFFFF;
        c->pages[i].perm = perm == 3 ? JAVM_PERM_RW : (javm_perm)perm;
        c->pages[i].fill = (uint8_t)(v >> 24);
    }
    size_t left = r.pos < len ? len - r.pos : 0;
    if (p->is_blob) {
        p->blob_len = left < DIFF_MAX_BLOB ? left : DIFF_MAX_BLOB;
        if (p->blob_len)
            memcpy(p->blob, in + r.pos, p->blob_len);
        return;
    }
    p->njt = get(&r, 1) % (DIFF_MAX_JT + 1);
    for (uint64_t i = 0; i < p->njt; i++)
        p->jt[i] = (uint32_t)get(&r, 4);
    uint64_t L = get(&r, 4) % (DIFF_MAX_CODE + 1);
    left = r.pos < len ? len - r.pos : 0;
    p->L = L < left ? L : left;
    for (uint64_t i = 0; i < p->L; i++)
        p->code[i] = (uint8_t)get(&r, 1);
    for (uint64_t i = 0; i < (p->L + 7) / 8; i++)
        p->mask[i] = (uint8_t)get(&r, 1);
}

static size_t put(uint8_t *out, size_t cap, size_t pos, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++, pos++)
        if (pos < cap)
            out[pos] = (uint8_t)(v >> (8 * i));
    return pos;
}

size_t diff_encode(const diff_case *c, const diff_prog *p, uint8_t *out, size_t cap)
{
    size_t pos = 0;
    unsigned flags = (p->is_blob ? 1u : 0u) | ((c->M / 25 - 1) & 3) << 1 | (c->handler ? 8u : 0u) |
                     (c->resumes & 3) << 4;
    pos = put(out, cap, pos, flags, 1);
    pos = put(out, cap, pos, c->npages, 1);
    pos = put(out, cap, pos, c->handler_seed, 8);
    pos = put(out, cap, pos, (uint64_t)c->gas, 8);
    pos = put(out, cap, pos, c->pc, 4);
    for (int i = 0; i < JAVM_NUM_REGS; i++)
        pos = put(out, cap, pos, c->regs[i], 8);
    for (size_t i = 0; i < c->npages; i++)
        pos = put(out, cap, pos, c->pages[i].page | (uint32_t)c->pages[i].perm << 20 |
                                     (uint32_t)c->pages[i].fill << 24, 4);
    if (p->is_blob) {
        for (size_t i = 0; i < p->blob_len; i++)
            pos = put(out, cap, pos, p->blob[i], 1);
    } else {
        pos = put(out, cap, pos, p->njt, 1);
        for (uint64_t i = 0; i < p->njt; i++)
            pos = put(out, cap, pos, p->jt[i], 4);
        pos = put(out, cap, pos, p->L, 4);
        for (uint64_t i = 0; i < p->L; i++)
            pos = put(out, cap, pos, p->code[i], 1);
        for (uint64_t i = 0; i < (p->L + 7) / 8; i++)
            pos = put(out, cap, pos, p->mask[i], 1);
    }
    return pos <= cap ? pos : 0;
}

/* ---- blobs (pvm.md §9.1, §9.2) ------------------------------------------------------------- */

static size_t put_varint(uint8_t *out, size_t cap, size_t pos, uint64_t x)
{
    unsigned l = 0;
    while (l < 8 && x >= (UINT64_C(1) << (7 * (l + 1))))
        l++;
    if (l == 8)
        return put(out, cap, put(out, cap, pos, 0xFF, 1), x, 8);
    uint64_t first = (uint64_t)(0x100 - (0x100u >> l)) + (l ? x >> (8 * l) : x);
    pos = put(out, cap, pos, first, 1);
    return put(out, cap, pos, l ? x & ((UINT64_C(1) << (8 * l)) - 1) : 0, l);
}

size_t diff_blob_encode(const uint8_t *code, uint64_t L, const uint8_t *mask, const uint32_t *jt,
                        uint64_t njt, unsigned z, uint8_t *out, size_t cap)
{
    size_t pos = put_varint(out, cap, 0, njt);
    pos = put(out, cap, pos, z, 1);
    pos = put_varint(out, cap, pos, L);
    for (uint64_t i = 0; i < njt; i++)
        pos = put(out, cap, pos, jt[i], z);
    for (uint64_t i = 0; i < L; i++)
        pos = put(out, cap, pos, code[i], 1);
    for (uint64_t i = 0; i < (L + 7) / 8; i++)
        pos = put(out, cap, pos, mask[i], 1);
    return pos <= cap ? pos : 0;
}

/* ---- generators ---------------------------------------------------------------------------- */

static bool op_defined_javm(unsigned op)
{
    return op <= 3 || op == 10 || op == 20 || (op >= 30 && op <= 33) || op == 40 ||
           (op >= 50 && op <= 62) || (op >= 70 && op <= 90) || (op >= 100 && op <= 111) ||
           (op >= 120 && op <= 161) || (op >= 170 && op <= 175) || op == 180 ||
           (op >= 190 && op <= 230);
}

static uint8_t random_opcode(uint64_t *rng)
{
    for (;;) {
        unsigned op = (unsigned)diff_below(rng, 256);
        if (op_defined_javm(op))
            return (uint8_t)op;
    }
}

static uint32_t pick_page(uint64_t *rng)
{
    static const uint32_t interesting[] = { 0, 1, 2, 0x10, 0x11, 0x20, 0x80000, 0xFFFFE, 0xFFFFF };
    if (diff_below(rng, 8) == 0)
        return (uint32_t)diff_below(rng, JAVM_NUM_PAGES);
    return interesting[diff_below(rng, sizeof interesting / sizeof interesting[0])];
}

/* An address worth touching: mostly in or at the edges of the case's pages. */
static uint64_t pick_addr(uint64_t *rng, const diff_case *c)
{
    static const uint32_t offs[] = { 0, 1, 7, 0x7FF, 0xFF8, 0xFFC, 0xFFD, 0xFFF };
    uint32_t page = c->npages && diff_below(rng, 5) ? c->pages[diff_below(rng, c->npages)].page
                                                     : pick_page(rng);
    uint32_t off = diff_below(rng, 2) ? offs[diff_below(rng, 8)] : (uint32_t)diff_below(rng, 4096);
    return ((uint64_t)page << JAVM_PAGE_SHIFT) + off;
}

static uint64_t pick_value(uint64_t *rng, const diff_case *c)
{
    switch (diff_below(rng, 10)) {
    case 0: case 1: return diff_below(rng, 17);
    case 2: case 3: return pick_addr(rng, c);
    case 4: return 2 * (1 + diff_below(rng, 8));      /* a jump-table address */
    case 5: return diff_below(rng, 2) ? 0xFFFF0000u : UINT64_C(0xFFFFFFFFFFFF0000);
    case 6: return (uint64_t)0 - diff_below(rng, 5);
    case 7: return (UINT64_C(1) << 63) - diff_below(rng, 2);
    case 8: return diff_rand(rng) & 0xFFFFFFFFu;
    default: return diff_rand(rng);
    }
}

void diff_gen_case(uint64_t *rng, diff_case *c)
{
    memset(c, 0, sizeof *c);
    c->M = 25 * (1 + (uint32_t)diff_below(rng, 4));
    c->handler = diff_below(rng, 4) != 0;
    c->handler_seed = diff_rand(rng);
    c->resumes = (unsigned)diff_below(rng, DIFF_MAX_RESUMES + 1);
    c->npages = diff_below(rng, 5);
    for (size_t i = 0; i < c->npages; i++) {
        c->pages[i].page = pick_page(rng);
        unsigned k = (unsigned)diff_below(rng, 6);
        c->pages[i].perm = k == 0 ? JAVM_PERM_NONE : k <= 2 ? JAVM_PERM_RO : JAVM_PERM_RW;
        c->pages[i].fill = diff_below(rng, 2) ? (uint8_t)diff_rand(rng) : 0;
    }
    switch (diff_below(rng, 20)) {
    case 0: case 1: c->gas = (int64_t)diff_below(rng, 4); break;
    case 2: c->gas = -(int64_t)diff_below(rng, 100); break;
    case 3: case 4: case 5: case 6: case 7: c->gas = (int64_t)diff_below(rng, 60); break;
    case 8: case 9: c->gas = (int64_t)diff_below(rng, DIFF_MAX_GAS + 1); break;
    default: c->gas = (int64_t)diff_below(rng, 3000); break;
    }
    for (int i = 0; i < JAVM_NUM_REGS; i++)
        c->regs[i] = pick_value(rng, c);
}

/* The start pc: usually 0, sometimes anywhere up to L + 1. */
static void pick_pc(uint64_t *rng, diff_case *c, uint64_t L)
{
    c->pc = diff_below(rng, 4) ? 0 : (uint32_t)diff_below(rng, L + 2);
    if (diff_below(rng, 64) == 0)
        c->pc = (uint32_t)diff_rand(rng);
}

static void clear_padding(diff_prog *p)
{
    if (p->L % 8)
        p->mask[p->L / 8] &= (uint8_t)((1u << (p->L % 8)) - 1);
}

void diff_gen_random(uint64_t *rng, diff_case *c, diff_prog *p)
{
    diff_gen_case(rng, c);
    p->is_blob = false;
    p->L = diff_below(rng, 97);
    memset(p->mask, 0, (p->L + 7) / 8 + 1);
    unsigned density = 2 + (unsigned)diff_below(rng, 4);
    for (uint64_t i = 0; i < p->L; i++) {
        p->code[i] = diff_below(rng, 5) < 3 ? random_opcode(rng) : (uint8_t)diff_rand(rng);
        if (i == 0 ? diff_below(rng, 10) != 0 : diff_below(rng, density) == 0)
            p->mask[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    if (diff_below(rng, 50) == 0 && p->L % 8)
        p->mask[p->L / 8] |= 0x80;  /* a padding bit: both must refuse the program */
    p->njt = p->L ? diff_below(rng, 7) : 0;
    for (uint64_t i = 0; i < p->njt; i++)
        p->jt[i] = (uint32_t)diff_below(rng, p->L + (diff_below(rng, 40) == 0));
    pick_pc(rng, c, p->L);
}

/* ---- the structured generator: real instructions, small offsets, valid targets ------------- */

#define ASM_MAX_INS 96

typedef struct asm_fix {
    uint32_t at;      /* where the offset bytes go */
    uint32_t pc;      /* the branch's own pc */
    unsigned width;   /* 0..4 bytes */
    size_t target;    /* instruction index */
} asm_fix;

typedef struct asm_state {
    diff_prog *p;
    uint64_t *rng;
    const diff_case *c;
    uint32_t start[ASM_MAX_INS];
    bool after_term[ASM_MAX_INS];   /* instruction follows a terminator: a valid target */
    size_t n;
    asm_fix fix[ASM_MAX_INS];
    size_t nfix;
    bool prev_term;
} asm_state;

static bool asm_room(const asm_state *a) { return a->n < ASM_MAX_INS && a->p->L + 40 < DIFF_MAX_CODE; }

static void asm_byte(asm_state *a, uint64_t v) { a->p->code[a->p->L++] = (uint8_t)v; }

static void asm_le(asm_state *a, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        asm_byte(a, v >> (8 * i));
}

static void asm_begin(asm_state *a, uint8_t op, bool term)
{
    a->start[a->n] = (uint32_t)a->p->L;
    a->after_term[a->n] = a->prev_term || a->n == 0;
    a->p->mask[a->p->L / 8] |= (uint8_t)(1u << (a->p->L % 8));
    a->n++;
    a->prev_term = term;
    asm_byte(a, op);
}

/* Whether n bytes of v, sign-extended, give v back. */
static bool sx_fits(uint64_t v, unsigned n)
{
    if (n == 0)
        return v == 0;
    uint64_t top = v >> (8 * n - 1);   /* the sign bit and everything above it */
    return top == 0 || top == (UINT64_MAX >> (8 * n - 1));
}

/* Bytes needed for v as a sign-extended immediate, sometimes fewer (truncated on purpose). */
static unsigned imm_len(asm_state *a, uint64_t v)
{
    unsigned n = 0;
    while (n < 4 && !sx_fits(v, n))
        n++;
    if (diff_below(a->rng, 8) == 0)
        n = (unsigned)diff_below(a->rng, 5);
    return n;
}

static unsigned reg_field(asm_state *a)
{
    return diff_below(a->rng, 10) ? (unsigned)diff_below(a->rng, 13) : 12 + (unsigned)diff_below(a->rng, 4);
}

static void asm_offset(asm_state *a, uint32_t pc)
{
    unsigned w = diff_below(a->rng, 12) ? (diff_below(a->rng, 4) ? 1 : 2) : (unsigned)diff_below(a->rng, 5);
    asm_fix *f = &a->fix[a->nfix++];
    f->at = (uint32_t)a->p->L;
    f->pc = pc;
    f->width = w;
    f->target = ASM_MAX_INS; /* chosen once every instruction is laid out */
    asm_le(a, 0, w);
}

static void asm_one(asm_state *a)
{
    uint64_t *rng = a->rng;
    uint32_t pc = (uint32_t)a->p->L;
    unsigned ra = reg_field(a), rb = reg_field(a), rd = reg_field(a);
    uint64_t v = pick_value(rng, a->c), w = pick_value(rng, a->c);
    unsigned lv, lw;
    switch (diff_below(rng, 20)) {
    case 0: case 1: case 2: {                                   /* ThreeReg */
        asm_begin(a, (uint8_t)(190 + diff_below(rng, 41)), false);
        asm_byte(a, ra | rb << 4);
        asm_byte(a, diff_below(rng, 8) ? rd : diff_rand(rng));
        break;
    }
    case 3: case 4: {                                           /* TwoRegOneImm ALU */
        asm_begin(a, (uint8_t)(131 + diff_below(rng, 31)), false);
        asm_byte(a, ra | rb << 4);
        v = diff_below(rng, 2) ? diff_below(rng, 70) : v;
        asm_le(a, v, imm_len(a, v));
        break;
    }
    case 5:                                                     /* TwoReg */
        asm_begin(a, (uint8_t)(100 + diff_below(rng, 12)), false);
        asm_byte(a, ra | rb << 4);
        break;
    case 6:                                                     /* load_imm, load_imm_64 */
        if (diff_below(rng, 3)) {
            asm_begin(a, 51, false);
            asm_byte(a, ra);
            asm_le(a, v, imm_len(a, v));
        } else {
            asm_begin(a, 20, false);
            asm_byte(a, ra);
            asm_le(a, v, 8);
        }
        break;
    case 7: {                                                   /* direct load or store */
        v = pick_addr(rng, a->c);
        asm_begin(a, (uint8_t)(52 + diff_below(rng, 11)), false);
        asm_byte(a, ra);
        asm_le(a, v, imm_len(a, v));
        break;
    }
    case 8: case 9: {                                           /* indirect load or store */
        asm_begin(a, 51, false);                                /* base register first */
        asm_byte(a, rb);
        v = pick_addr(rng, a->c);
        asm_le(a, v, 4);
        if (!asm_room(a))
            break;
        asm_begin(a, (uint8_t)(120 + diff_below(rng, 11)), false);
        asm_byte(a, ra | rb << 4);
        w = diff_below(rng, 3) ? diff_below(rng, 16) : w;
        asm_le(a, w, imm_len(a, w));
        break;
    }
    case 10: {                                                  /* store_imm, store_imm_ind */
        bool ind = diff_below(rng, 2);
        asm_begin(a, (uint8_t)((ind ? 70 : 30) + diff_below(rng, 4)), false);
        v = ind ? diff_below(rng, 16) : pick_addr(rng, a->c);
        lv = imm_len(a, v);
        lw = imm_len(a, w);
        asm_byte(a, ind ? (ra | lv << 4) : lv);
        asm_le(a, v, lv);
        asm_le(a, w, lw);
        break;
    }
    case 11: case 12: {                                         /* branch_*_imm, load_imm_jump */
        uint8_t op = diff_below(rng, 8) ? (uint8_t)(81 + diff_below(rng, 10)) : 80;
        asm_begin(a, op, true);
        v = diff_below(rng, 2) ? diff_below(rng, 8) : v;
        lv = imm_len(a, v);
        asm_byte(a, ra | lv << 4);
        asm_le(a, v, lv);
        asm_offset(a, pc);
        break;
    }
    case 13:                                                    /* branch_* */
        asm_begin(a, (uint8_t)(170 + diff_below(rng, 6)), true);
        asm_byte(a, ra | rb << 4);
        asm_offset(a, pc);
        break;
    case 14:                                                    /* jump */
        asm_begin(a, 40, true);
        asm_offset(a, pc);
        break;
    case 15: {                                                  /* jump_ind, load_imm_jump_ind */
        uint64_t addr = 2 * (1 + diff_below(rng, 6));
        if (diff_below(rng, 2)) {
            asm_begin(a, 50, true);
            asm_byte(a, ra);
            v = diff_below(rng, 2) ? 0 : addr;
            asm_le(a, v, imm_len(a, v));
        } else {
            asm_begin(a, 180, true);
            asm_byte(a, ra | rb << 4);
            v = diff_below(rng, 2) ? diff_below(rng, 100) : v;
            w = diff_below(rng, 2) ? 0 : addr;
            lv = imm_len(a, v);
            asm_byte(a, lv);
            asm_le(a, v, lv);
            asm_le(a, w, imm_len(a, w));
        }
        break;
    }
    case 16: {                                                  /* ecalli, ecall */
        if (diff_below(rng, 3)) {
            asm_begin(a, 10, true);
            v = diff_below(rng, 2) ? diff_below(rng, 300) : v;
            asm_le(a, v, imm_len(a, v));
        } else {
            asm_begin(a, 3, true);
        }
        break;
    }
    case 17:                                                    /* fallthrough, unlikely */
        asm_begin(a, diff_below(rng, 3) ? 1 : 2, true);
        break;
    case 18:                                                    /* trap, sbrk, undefined */
        switch (diff_below(rng, 4)) {
        case 0: asm_begin(a, 0, true); break;
        case 1: asm_begin(a, 101, false); asm_byte(a, ra | rb << 4); break;
        default: asm_begin(a, (uint8_t)(231 + diff_below(rng, 25)), false); break;
        }
        break;
    default: {                                                  /* ThreeReg with junk after */
        asm_begin(a, (uint8_t)(190 + diff_below(rng, 41)), false);
        asm_byte(a, ra | rb << 4);
        asm_byte(a, rd);
        unsigned junk = diff_below(rng, 8) ? (unsigned)diff_below(rng, 4) : 20 + (unsigned)diff_below(rng, 10);
        for (unsigned i = 0; i < junk; i++)
            asm_byte(a, diff_rand(rng));
        break;
    }
    }
}

/* A target index: mostly instructions that follow a terminator (valid targets). */
static size_t pick_target(asm_state *a)
{
    size_t t = diff_below(a->rng, a->n);
    for (int tries = 0; tries < 8 && !a->after_term[t] && diff_below(a->rng, 6); tries++)
        t = diff_below(a->rng, a->n);
    return t;
}

void diff_gen_structured(uint64_t *rng, diff_case *c, diff_prog *p)
{
    diff_gen_case(rng, c);
    memset(p->mask, 0, sizeof p->mask);
    p->is_blob = false;
    p->L = 0;
    asm_state a = { .p = p, .rng = rng, .c = c, .n = 0, .nfix = 0, .prev_term = true };
    size_t want = 1 + diff_below(rng, 40);
    while (a.n < want && asm_room(&a)) {
        /* a fallthrough now and then, so that later instructions are valid targets */
        if (!a.prev_term && diff_below(rng, 4) == 0)
            asm_begin(&a, 1, true);
        else
            asm_one(&a);
    }
    if (diff_below(rng, 3) == 0 && asm_room(&a)) {
        asm_begin(&a, 10, true);   /* end like a real program: ecalli 0 */
        asm_byte(&a, 0);
    }
    for (size_t i = 0; i < a.nfix; i++) {
        asm_fix *f = &a.fix[i];
        uint64_t t = diff_below(rng, 16) ? a.start[pick_target(&a)] : diff_below(rng, p->L + 2);
        uint64_t off = t - f->pc;
        for (unsigned b = 0; b < f->width; b++)
            p->code[f->at + b] = (uint8_t)(off >> (8 * b));
    }
    p->njt = diff_below(rng, 9);
    for (uint64_t i = 0; i < p->njt; i++)
        p->jt[i] = diff_below(rng, 10) ? a.start[pick_target(&a)] : (uint32_t)diff_below(rng, p->L);
    pick_pc(rng, c, p->L);
    if (c->pc && c->pc <= p->L && diff_below(rng, 2))
        c->pc = a.start[pick_target(&a)];
}

void diff_gen_mutate(uint64_t *rng, const diff_seed *s, diff_case *c, diff_prog *p)
{
    diff_gen_case(rng, c);
    p->is_blob = false;
    p->L = s->L < DIFF_MAX_CODE ? s->L : DIFF_MAX_CODE;
    memcpy(p->code, s->code, p->L);
    memset(p->mask, 0, sizeof p->mask);
    memcpy(p->mask, s->mask, (p->L + 7) / 8);
    clear_padding(p);
    p->njt = s->njt < DIFF_MAX_JT ? s->njt : DIFF_MAX_JT;
    memcpy(p->jt, s->jt, p->njt * sizeof *p->jt);
    if (diff_below(rng, 2)) {   /* the seed's own state, where its memory accesses land */
        memcpy(c->regs, s->regs, sizeof c->regs);
        c->npages = s->npages < DIFF_MAX_PAGES ? s->npages : DIFF_MAX_PAGES;
        memcpy(c->pages, s->pages, c->npages * sizeof *c->pages);
        c->pc = s->pc;
    } else {
        pick_pc(rng, c, p->L);
    }
    unsigned nmut = 1 + (unsigned)diff_below(rng, 4);
    for (unsigned m = 0; m < nmut; m++) {
        switch (diff_below(rng, 8)) {
        case 0: case 1:
            if (p->L)
                p->code[diff_below(rng, p->L)] = (uint8_t)diff_rand(rng);
            break;
        case 2:
            if (p->L)
                p->code[diff_below(rng, p->L)] = random_opcode(rng);
            break;
        case 3: case 4:
            if (p->L) {
                uint64_t i = diff_below(rng, p->L);
                p->mask[i / 8] ^= (uint8_t)(1u << (i % 8));
            }
            break;
        case 5:
            if (p->njt)
                p->jt[diff_below(rng, p->njt)] = (uint32_t)diff_below(rng, p->L + 1);
            else if (p->L)
                p->jt[p->njt++] = (uint32_t)diff_below(rng, p->L);
            break;
        case 6:
            p->L -= diff_below(rng, p->L / 4 + 1);
            clear_padding(p);
            break;
        default:
            c->regs[diff_below(rng, JAVM_NUM_REGS)] = pick_value(rng, c);
            break;
        }
    }
    for (uint64_t i = 0; i < p->njt; i++)
        if (p->jt[i] >= p->L && diff_below(rng, 8))
            p->jt[i] = p->L ? (uint32_t)diff_below(rng, p->L) : 0;
    if (p->L == 0)
        p->njt = 0;
}

void diff_to_blob(uint64_t *rng, diff_prog *p)
{
    uint32_t maxe = 0;
    for (uint64_t i = 0; i < p->njt; i++)
        maxe = p->jt[i] > maxe ? p->jt[i] : maxe;
    unsigned z = maxe < 0x100 ? 1 : maxe < 0x10000 ? 2 : maxe < 0x1000000 ? 3 : 4;
    z += (unsigned)diff_below(rng, 5 - z);
    if (p->njt == 0)
        z = diff_below(rng, 4) ? 0 : 1 + (unsigned)diff_below(rng, 4);
    p->blob_len = diff_blob_encode(p->code, p->L, p->mask, p->jt, p->njt, z, p->blob, DIFF_MAX_BLOB);
    p->is_blob = true;
    switch (diff_below(rng, 24)) {
    case 0:
        if (p->blob_len)
            p->blob[diff_below(rng, p->blob_len)] = (uint8_t)diff_rand(rng);
        break;
    case 1:
        p->blob_len -= diff_below(rng, p->blob_len + 1);
        break;
    case 2:
        if (p->blob_len < DIFF_MAX_BLOB)
            p->blob[p->blob_len++] = (uint8_t)diff_rand(rng);
        break;
    case 3:
        if (p->blob_len)
            p->blob[diff_below(rng, p->blob_len < 4 ? p->blob_len : 4)] = (uint8_t)(0x80 | diff_rand(rng));
        break;
    default:
        break;
    }
}

/* ---- dumps --------------------------------------------------------------------------------- */

static void hex(FILE *f, const char *label, const uint8_t *b, size_t n)
{
    fprintf(f, "  %s (%zu):", label, n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%02x", i % 32 ? " " : "\n    ", b[i]);
    fputc('\n', f);
}

void diff_dump(FILE *f, const diff_case *c, const diff_prog *p)
{
    fprintf(f, "  pc %u, gas %" PRId64 ", M %u, handler %s (seed 0x%016" PRIx64 "), resumes %u\n", c->pc,
            c->gas, c->M, c->handler ? "on" : "off", c->handler_seed, c->resumes);
    for (int i = 0; i < JAVM_NUM_REGS; i++)
        fprintf(f, "  r%d = 0x%016" PRIx64 "%s", i, c->regs[i], i % 3 == 2 ? "\n" : "");
    fputc('\n', f);
    for (size_t i = 0; i < c->npages; i++)
        fprintf(f, "  page 0x%05x perm %d fill 0x%02x\n", c->pages[i].page, (int)c->pages[i].perm,
                c->pages[i].fill);
    if (p->is_blob) {
        hex(f, "blob", p->blob, p->blob_len);
    } else {
        hex(f, "code", p->code, (size_t)p->L);
        hex(f, "bitmask", p->mask, (size_t)(p->L + 7) / 8);
        fprintf(f, "  jump table (%" PRIu64 "):", p->njt);
        for (uint64_t i = 0; i < p->njt; i++)
            fprintf(f, " %u", p->jt[i]);
        fputc('\n', f);
    }
    uint8_t *in = malloc(DIFF_MAX_BLOB + 1024);
    if (in) {
        size_t n = diff_encode(c, p, in, DIFF_MAX_BLOB + 1024);
        hex(f, "fuzz input (replay with fuzz_exec_diff FILE or test_differential FILE)", in, n);
        free(in);
    }
}
