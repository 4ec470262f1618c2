/* SPDX-License-Identifier: MIT
 * tools/lib/disasm.c — the PVM disassembler (code, deblob, JIMG) on top of the program builder:
 * it decodes every instruction, names targets with labels, then lays the program out again and
 * pins the exact bytes of any instruction whose canonical encoding differs, so the text round
 * trips byte for byte. See tools/lib/disasm.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disasm.h"
#include "exec/opcodes.h"

static int fail(asm_err *err, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->line = err->col = 0;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return rc;
}

static bool kbit(const uint8_t *bm, uint32_t L, uint32_t i)
{
    return i >= L || ((bm[i >> 3] >> (i & 7)) & 1);
}

/* The label at a target, creating it, or -1 when the target is not an item boundary. */
static long target_label(asm_prog *p, const uint32_t *item_at, uint32_t L, uint64_t t)
{
    if (t > L || item_at[t] == UINT32_MAX)
        return -1;
    char nm[24];
    int n = snprintf(nm, sizeof nm, ".L%" PRIu64, t);
    long l = asm_label_get(p, nm, (size_t)n, 0, 0);
    if (l < 0)
        return -2;
    if (!p->labels[l].defined) {
        p->labels[l].defined = p->labels[l].is_code = true;
        p->labels[l].item = item_at[t];
    }
    return l;
}

static int set_target(asm_prog *p, const uint32_t *item_at, uint32_t L, uint64_t t, asm_opd *o)
{
    memset(o, 0, sizeof *o);
    long l = target_label(p, item_at, L, t);
    if (l == -1) {
        o->kind = ASM_OPD_NUM;
        o->num = t;
        return JAVM_OK;
    }
    if (l < 0)
        return JAVM_ERR_ALLOC;
    o->kind = ASM_OPD_LABEL;
    o->label = (uint32_t)l;
    return JAVM_OK;
}

static int set_bytes(asm_item *it, const uint8_t *b, uint32_t n)
{
    free(it->bytes);
    it->bytes = malloc(n ? n : 1);
    if (!it->bytes)
        return JAVM_ERR_ALLOC;
    memcpy(it->bytes, b, n);
    it->nbytes = n;
    return JAVM_OK;
}

int disasm_code(asm_unit *u, const uint8_t *code, uint32_t L, const uint8_t *bm, const uint32_t *jt,
                uint32_t njt, const uint64_t *extra, size_t nextra, asm_err *err)
{
    int rc = JAVM_ERR_ALLOC;
    asm_prog *p = &u->prog;
    uint32_t *item_at = malloc(((size_t)L + 1) * sizeof *item_at);
    uint32_t *opc = NULL;
    if (!item_at)
        goto oom;
    for (size_t i = 0; i <= L; i++)
        item_at[i] = UINT32_MAX;
    /* 1. items */
    for (uint32_t pc = 0; pc < L;) {
        asm_item it;
        memset(&it, 0, sizeof it);
        uint32_t end;
        asm_dec d;
        if (!kbit(bm, L, pc)) {
            end = pc + 1;
            while (end < L && !kbit(bm, L, end))
                end++;
            it.kind = ASM_ITEM_RAW;
        } else if (asm_decode(code, L, bm, pc, &d)) {
            end = d.next;
            it.kind = ASM_ITEM_INSN;
            it.op = d.op;
            memcpy(it.r, d.r, 3);
            it.x = (asm_opd){ ASM_OPD_NUM, 0, d.x };
            it.y = (asm_opd){ ASM_OPD_NUM, 0, d.y };
            it.t = (asm_opd){ ASM_OPD_NUM, 0, d.t };
        } else {
            end = d.next;
            it.kind = ASM_ITEM_RAWINSN;
            it.op = code[pc];
        }
        if (it.kind != ASM_ITEM_INSN && set_bytes(&it, code + pc, end - pc))
            goto oom;
        item_at[pc] = (uint32_t)p->n;
        if (asm_add(p, &it) < 0) {
            free(it.bytes);
            goto oom;
        }
        pc = end;
    }
    item_at[L] = (uint32_t)p->n;
    if (!(opc = malloc((p->n + 1) * sizeof *opc)))
        goto oom;
    for (uint32_t pc = 0; pc < L; pc++)
        if (item_at[pc] != UINT32_MAX)
            opc[item_at[pc]] = pc;
    opc[p->n] = L;
    /* 2. labels for branch targets, jump-table entries and extra targets */
    for (size_t i = 0; i < p->n; i++) {
        asm_item *it = &p->items[i];
        exec_class c = exec_op_class(it->op);
        if (it->kind == ASM_ITEM_INSN
            && (c == EXEC_CLS_ONEOFF || c == EXEC_CLS_ONEREG_IMM_OFF || c == EXEC_CLS_TWOREG_ONEOFF)
            && set_target(p, item_at, L, it->t.num, &it->t))
            goto oom;
    }
    for (uint32_t j = 0; j < njt; j++) {
        asm_opd o;
        if (set_target(p, item_at, L, jt[j], &o))
            goto oom;
        asm_opd *g = realloc(p->jt, (p->njt + 1) * sizeof *g);
        if (!g)
            goto oom;
        p->jt = g;
        p->capjt = p->njt + 1;
        p->jt[p->njt++] = o;
    }
    for (size_t j = 0; j < nextra; j++)
        if (extra[j] <= L && target_label(p, item_at, L, extra[j]) == -2)
            goto oom;
    /* 3. fit: pin the exact bytes of instructions whose length, then bytes, differ. An
     * instruction followed by .raw bytes keeps its length only through its exact bytes. */
    for (size_t i = 0; i + 1 < p->n; i++)
        if (p->items[i].kind == ASM_ITEM_INSN && p->items[i + 1].kind == ASM_ITEM_RAW
            && set_bytes(&p->items[i], code + opc[i], opc[i + 1] - opc[i]))
            goto oom;
    p->no_verify = true;
    for (int phase = 0; phase < 2;) {
        if ((rc = asm_layout(p, err)))
            goto done;
        bool changed = false;
        for (size_t i = 0; i < p->n; i++) {
            asm_item *it = &p->items[i];
            uint32_t olen = opc[i + 1] - opc[i];
            if (it->kind != ASM_ITEM_INSN || it->bytes)
                continue;
            bool differ = it->len != olen
                          || (phase == 1 && memcmp(p->code + it->pc, code + opc[i], olen) != 0);
            if (differ) {
                if (set_bytes(it, code + opc[i], olen))
                    goto oom;
                changed = true;
            }
        }
        if (!changed)
            phase++;
    }
    p->no_verify = false;
    if ((rc = asm_layout(p, err)))
        goto done;
    if (p->code_len != L || (L && memcmp(p->code, code, L) != 0)
        || memcmp(p->bitmask, bm, (L + 7) / 8) != 0) {
        rc = fail(err, JAVM_ERR_INTERNAL, "disassembly does not reproduce the code");
        goto done;
    }
    rc = JAVM_OK;
    goto done;
oom:
    rc = fail(err, JAVM_ERR_ALLOC, "out of memory");
done:
    free(item_at);
    free(opc);
    return rc;
}

/* ---- deblob ---------------------------------------------------------------------------- */

int disasm_blob(asm_unit *u, const uint8_t *blob, size_t len, asm_err *err)
{
    javm_program *prog = NULL;
    javm_prepare_opts o = { JAVM_PROFILE_JAVM, 0 };
    int rc = javm_prepare_blob(blob, len, &o, &prog);
    if (rc)
        return fail(err, rc, "not a valid program blob: %s", javm_strerror(rc));
    /* The entry width z is the byte after the first varint (already validated). */
    size_t k = 0;
    uint8_t f = blob[0];
    while (k < 8 && (f & (0x80u >> k)))
        k++;
    u->prog.jt_width = blob[1 + k];
    uint64_t L, bl, n;
    const uint8_t *code = javm_program_code(prog, &L);
    const uint8_t *bm = javm_program_bitmask(prog, &bl);
    const uint32_t *jt = javm_program_jump_table(prog, &n);
    rc = disasm_code(u, code, (uint32_t)L, bm, jt, (uint32_t)n, NULL, 0, err);
    javm_program_free(prog);
    return rc;
}

/* ---- JIMG ------------------------------------------------------------------------------ */

typedef struct walk {
    javm_cache *cache;
    asm_unit *u;
    size_t capcaps;
    asm_err *err;
} walk;

static long cap_index(const asm_unit *u, const javm_hash *h)
{
    for (size_t i = 0; i < u->ncaps; i++)
        if (memcmp(u->caps[i].hash.b, h->b, 32) == 0)
            return (long)i;
    return -1;
}

static long visit(walk *w, const javm_hash *h, int depth);

static int visit_edges(walk *w, const javm_cap *c, int depth)
{
    switch (c->kind) {
    case JAVM_KIND_CNODE:
        for (uint32_t i = 0; i < c->cnode.n_slots; i++)
            if (c->cnode.slots[i].target.tag == JAVM_KEY_HASH && visit(w, &c->cnode.slots[i].target.hash, depth) < 0)
                return -1;
        return 0;
    case JAVM_KIND_INSTANCE:
        if (visit(w, &c->instance.image_hash, depth) < 0
            || (c->instance.root_cnode.tag == JAVM_KEY_HASH && visit(w, &c->instance.root_cnode.hash, depth) < 0))
            return -1;
        for (uint32_t i = 0; i < c->instance.n_overlays; i++)
            if (visit(w, &c->instance.overlays[i].data, depth) < 0)
                return -1;
        return 0;
    case JAVM_KIND_IMAGE:
        for (uint32_t i = 0; i < c->image.n_pinned; i++)
            if (visit(w, &c->image.pinned[i].cap, depth) < 0)
                return -1;
        for (uint32_t i = 0; i < c->image.n_initial; i++)
            if (visit(w, &c->image.initial[i].cap, depth) < 0)
                return -1;
        return 0;
    default:
        return 0;
    }
}

/* Post-order: a cap's dependencies are defined before it, as the assembler needs. */
static long visit(walk *w, const javm_hash *h, int depth)
{
    long i = cap_index(w->u, h);
    if (i >= 0)
        return i;
    if (depth > 64)
        return fail(w->err, JAVM_ERR_LIMIT, "caps nested too deeply"), -1;
    const javm_cap *c = javm_cache_get_hash(w->cache, h);
    if (!c)
        return fail(w->err, JAVM_ERR_NOT_FOUND, "a cap of the image is missing"), -1;
    if (visit_edges(w, c, depth + 1) < 0)
        return -1;
    c = javm_cache_get_hash(w->cache, h); /* lent pointers end at the next cache call */
    asm_unit *u = w->u;
    if (u->ncaps + 1 > w->capcaps) {
        size_t nc = w->capcaps ? w->capcaps * 2 : 8;
        asm_capdef *g = realloc(u->caps, nc * sizeof *g);
        if (!g)
            return fail(w->err, JAVM_ERR_ALLOC, "out of memory"), -1;
        u->caps = g;
        w->capcaps = nc;
    }
    asm_capdef *cd = &u->caps[u->ncaps];
    memset(cd, 0, sizeof *cd);
    cd->hash = *h;
    cd->kind = (uint8_t)c->kind;
    char nm[24];
    snprintf(nm, sizeof nm, "c%zu", u->ncaps);
    if (!(cd->name = strdup(nm)))
        return fail(w->err, JAVM_ERR_ALLOC, "out of memory"), -1;
    u->ncaps++;
    int rc = JAVM_ERR_WRONG_KIND;
    if (c->kind == JAVM_KIND_DATA && c->data.size <= (UINT64_C(1) << 31)) {
        cd->buf = malloc(c->data.size ? c->data.size : 1);
        if (!cd->buf)
            return fail(w->err, JAVM_ERR_ALLOC, "out of memory"), -1;
        rc = javm_data_read(c, 0, cd->buf, c->data.size);
        cd->len = c->data.size;
    }
    if (rc) { /* anything else (or a Data with Missing pages) as its canonical body */
        free(cd->buf);
        cd->buf = NULL;
        cd->raw = true;
        if ((rc = javm_cap_encode(c, &cd->buf, &cd->len)))
            return fail(w->err, rc, "cannot encode a cap: %s", javm_strerror(rc)), -1;
    }
    return (long)u->ncaps - 1;
}

static int slot_list(walk *w, const javm_slot_cap *s, uint32_t n, asm_slotref **out, size_t *nout)
{
    if (!n)
        return JAVM_OK;
    if (!(*out = calloc(n, sizeof **out)))
        return fail(w->err, JAVM_ERR_ALLOC, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        long c = cap_index(w->u, &s[i].cap);
        if (c < 0)
            return fail(w->err, JAVM_ERR_INTERNAL, "slot cap not visited");
        (*out)[i] = (asm_slotref){ s[i].slot, (uint32_t)c };
    }
    *nout = n;
    return JAVM_OK;
}

int disasm_jimg(asm_unit *u, const uint8_t *file, size_t len, asm_err *err)
{
    int rc;
    javm_store *store = NULL;
    javm_cache *cache = NULL;
    javm_cap *img = NULL;
    uint64_t *extra = NULL;
    javm_hash h;
    javm_decode_err de;
    if ((rc = javm_store_mem_new(&store)) || (rc = javm_cache_open(store, &cache))) {
        rc = fail(err, rc, "cannot open an in-memory cache: %s", javm_strerror(rc));
        goto done;
    }
    if ((rc = javm_image_load(cache, file, len, &h, &de))) {
        rc = fail(err, rc, "not a valid JIMG file: %s at offset %" PRIu64, javm_strerror(rc), de.offset);
        goto done;
    }
    if ((rc = javm_cap_clone(javm_cache_get_hash(cache, &h), &img))) {
        rc = fail(err, rc, "out of memory");
        goto done;
    }
    const javm_image *im = &img->image;
    walk w = { cache, u, 0, err };
    for (uint32_t i = 0; i < im->n_pinned; i++)
        if (visit(&w, &im->pinned[i].cap, 0) < 0) {
            rc = JAVM_ERR_INVALID_ARG;
            goto done;
        }
    for (uint32_t i = 0; i < im->n_initial; i++)
        if (visit(&w, &im->initial[i].cap, 0) < 0) {
            rc = JAVM_ERR_INVALID_ARG;
            goto done;
        }
    if ((rc = slot_list(&w, im->pinned, im->n_pinned, &u->pinned, &u->npinned))
        || (rc = slot_list(&w, im->initial, im->n_initial, &u->initial, &u->ninitial)))
        goto done;
    if (im->n_mappings) {
        if (!(u->maps = calloc(im->n_mappings, sizeof *u->maps))) {
            rc = fail(err, JAVM_ERR_ALLOC, "out of memory");
            goto done;
        }
        memcpy(u->maps, im->mappings, im->n_mappings * sizeof *u->maps);
        u->nmaps = im->n_mappings;
    }
    u->has_yield = im->has_yield_marker;
    u->yield_slot = im->yield_marker_slot;
    if (!(extra = calloc(im->n_endpoints + 1, sizeof *extra))
        || (im->n_endpoints && !(u->eps = calloc(im->n_endpoints, sizeof *u->eps)))) {
        rc = fail(err, JAVM_ERR_ALLOC, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < im->n_endpoints; i++)
        extra[i] = im->endpoints[i].entry_pc;
    if ((rc = disasm_code(u, im->code, im->code_len, im->bitmask, im->jump_table, im->jt_count, extra,
                          im->n_endpoints, err)))
        goto done;
    for (uint32_t i = 0; i < im->n_endpoints; i++) {
        const javm_endpoint *e = &im->endpoints[i];
        asm_ep *ep = &u->eps[i];
        char nm[24];
        int n = snprintf(nm, sizeof nm, ".L%" PRIu64, e->entry_pc);
        long l = asm_label_find(&u->prog, nm, (size_t)n);
        if (l >= 0 && u->prog.labels[l].defined)
            ep->entry = (asm_opd){ ASM_OPD_LABEL, (uint32_t)l, 0 };
        else
            ep->entry = (asm_opd){ ASM_OPD_NUM, 0, e->entry_pc };
        ep->stack_top = e->stack_top;
        memcpy(ep->regs, e->initial_regs, sizeof ep->regs);
        ep->arg_slot = e->arg_cnode_slot;
        ep->arg_size = e->arg_cnode_size;
    }
    u->neps = im->n_endpoints;
    rc = JAVM_OK;
done:
    free(extra);
    javm_cap_free(img);
    javm_cache_close(cache);
    javm_store_close(store);
    return rc;
}
