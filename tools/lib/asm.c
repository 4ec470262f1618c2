/* SPDX-License-Identifier: MIT
 * tools/lib/asm.c — the PVM program builder: items and labels, layout with smallest operand
 * widths, encoding and decoding (pvm.md §4), and the image (caps.md §11.2) and deblob
 * (pvm.md §9.2) writers. The text syntax lives in asm_text.c; see tools/lib/asm.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asm.h"
#include "exec/exec.h" /* exec_sx: the decoder's sign extension */

#define ASM_MAX_CODE (UINT32_C(1) << 30) /* code bytes; far above any real guest */

static int grow(void **arr, size_t *cap, size_t need, size_t elsz)
{
    if (need <= *cap)
        return JAVM_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*arr, c * elsz);
    if (!q)
        return JAVM_ERR_ALLOC;
    *arr = q;
    *cap = c;
    return JAVM_OK;
}

static int fail(asm_err *err, uint32_t line, uint32_t col, int rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->line = line;
        err->col = col;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void asm_prog_init(asm_prog *p)
{
    memset(p, 0, sizeof *p);
    p->jt_width = -1;
}


void asm_prog_free(asm_prog *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].bytes);
    for (size_t i = 0; i < p->nlabels; i++)
        free(p->labels[i].name);
    free(p->items);
    free(p->labels);
    free(p->lhash);
    free(p->jt);
    free(p->jt_auto);
    free(p->code);
    free(p->bitmask);
    free(p->jt_final);
    free(p->jt_label);
    free(p->jt_of_label);
    asm_prog_init(p);
}

long asm_add(asm_prog *p, const asm_item *it)
{
    if (grow((void **)&p->items, &p->cap, p->n + 1, sizeof *p->items))
        return -1;
    p->items[p->n] = *it;
    return (long)p->n++;
}

long asm_label_new(asm_prog *p)
{
    if (grow((void **)&p->labels, &p->caplabels, p->nlabels + 1, sizeof *p->labels))
        return -1;
    memset(&p->labels[p->nlabels], 0, sizeof *p->labels);
    return (long)p->nlabels++;
}

static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3u;
    return h;
}

static int lhash_insert(asm_prog *p, uint32_t label)
{
    if ((p->nlabels + 1) * 2 > p->lhash_cap) {
        size_t nc = p->lhash_cap ? p->lhash_cap * 2 : 64;
        while (nc < (p->nlabels + 1) * 2)
            nc *= 2;
        uint32_t *nh = calloc(nc, sizeof *nh);
        if (!nh)
            return JAVM_ERR_ALLOC;
        for (size_t i = 0; i < p->lhash_cap; i++) {
            uint32_t v = p->lhash[i];
            if (!v)
                continue;
            const char *nm = p->labels[v - 1].name;
            size_t j = name_hash(nm, strlen(nm)) & (nc - 1);
            while (nh[j])
                j = (j + 1) & (nc - 1);
            nh[j] = v;
        }
        free(p->lhash);
        p->lhash = nh;
        p->lhash_cap = nc;
    }
    const char *nm = p->labels[label].name;
    size_t j = name_hash(nm, strlen(nm)) & (p->lhash_cap - 1);
    while (p->lhash[j])
        j = (j + 1) & (p->lhash_cap - 1);
    p->lhash[j] = label + 1;
    return JAVM_OK;
}

long asm_label_find(const asm_prog *p, const char *name, size_t len)
{
    if (p->lhash_cap) {
        size_t j = name_hash(name, len) & (p->lhash_cap - 1);
        while (p->lhash[j]) {
            const char *nm = p->labels[p->lhash[j] - 1].name;
            if (strlen(nm) == len && memcmp(nm, name, len) == 0)
                return (long)p->lhash[j] - 1;
            j = (j + 1) & (p->lhash_cap - 1);
        }
    }
    return -1;
}

long asm_label_get(asm_prog *p, const char *name, size_t len, uint32_t line, uint32_t col)
{
    long found = asm_label_find(p, name, len);
    if (found >= 0)
        return found;
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, name, len);
    copy[len] = 0;
    long l = asm_label_new(p);
    if (l < 0) {
        free(copy);
        return -1;
    }
    p->labels[l].name = copy;
    p->labels[l].line = line;
    p->labels[l].col = col;
    if (lhash_insert(p, (uint32_t)l)) {
        p->labels[l].name = NULL;
        free(copy);
        p->nlabels--;
        return -1;
    }
    return l;
}

void asm_label_here(asm_prog *p, uint32_t label)
{
    p->labels[label].defined = true;
    p->labels[label].is_code = true;
    p->labels[label].item = (uint32_t)p->n;
}

int asm_jt_use(asm_prog *p, uint32_t label)
{
    for (size_t i = 0; i < p->njt_auto; i++)
        if (p->jt_auto[i] == label)
            return JAVM_OK;
    if (grow((void **)&p->jt_auto, &p->capjt_auto, p->njt_auto + 1, sizeof *p->jt_auto))
        return JAVM_ERR_ALLOC;
    p->jt_auto[p->njt_auto++] = label;
    return JAVM_OK;
}

bool asm_last_is_terminator(const asm_prog *p)
{
    if (!p->n)
        return true; /* position 0 is always a block start */
    const asm_item *it = &p->items[p->n - 1];
    return it->kind == ASM_ITEM_INSN && exec_is_terminator(it->op, 0);
}

/* ---- values and widths ----------------------------------------------------------------- */

/* Smallest n in 0..4 with exec_sx(n, v) == v, or 5 when v is not a sign-extended 32-bit value. */
static unsigned imm_width(uint64_t v)
{
    if (v == 0)
        return 0;
    for (unsigned n = 1; n <= 4; n++)
        if (exec_sx(n, v) == v)
            return n;
    return 5;
}

uint32_t asm_jt_addr(const asm_prog *p, uint32_t label)
{
    if (!p->jt_of_label || label >= p->nlabels || !p->jt_of_label[label])
        return 0;
    return 2 * p->jt_of_label[label];
}

static uint64_t label_value(const asm_prog *p, uint32_t l, const uint32_t *pcs)
{
    const asm_label *lb = &p->labels[l];
    if (!lb->is_code)
        return lb->value;
    return pcs ? pcs[lb->item] : lb->value;
}

static uint64_t opd_value(const asm_prog *p, const asm_opd *o, const uint32_t *pcs)
{
    switch (o->kind) {
    case ASM_OPD_LABEL: return label_value(p, o->label, pcs) + o->num;
    case ASM_OPD_JT: return (uint64_t)asm_jt_addr(p, o->label) + o->num;
    default: return o->num;
    }
}

uint64_t asm_opd_value(const asm_prog *p, const asm_opd *o) { return opd_value(p, o, NULL); }

/* An immediate field's value: a number below 2^32 that is not already a sign-extended 32-bit
 * value is read as a u32 and sign-extended (so 0xFFFF0000 means what the decoder gives back). */
static uint64_t imm_value(const asm_prog *p, const asm_opd *o, const uint32_t *pcs)
{
    uint64_t v = opd_value(p, o, pcs);
    if (imm_width(v) == 5 && v >> 32 == 0)
        v = exec_sx(4, v);
    return v;
}

/* Which fields a class has: bit 0 x, bit 1 y, bit 2 target. */
static unsigned class_fields(exec_class c)
{
    switch (c) {
    case EXEC_CLS_ONEIMM: case EXEC_CLS_ONEREG_EXTIMM: case EXEC_CLS_ONEREG_ONEIMM:
    case EXEC_CLS_TWOREG_ONEIMM:
        return 1;
    case EXEC_CLS_TWOIMM: case EXEC_CLS_ONEREG_TWOIMM: case EXEC_CLS_TWOREG_TWOIMM:
        return 3;
    case EXEC_CLS_ONEOFF: case EXEC_CLS_TWOREG_ONEOFF:
        return 4;
    case EXEC_CLS_ONEREG_IMM_OFF:
        return 5;
    default:
        return 0;
    }
}

static uint32_t class_len(exec_class c, const uint8_t *w)
{
    switch (c) {
    case EXEC_CLS_NOARGS: return 1;
    case EXEC_CLS_ONEIMM: return 1u + w[0];
    case EXEC_CLS_ONEREG_EXTIMM: return 10;
    case EXEC_CLS_TWOIMM: return 2u + w[0] + w[1];
    case EXEC_CLS_ONEOFF: return 1u + w[2];
    case EXEC_CLS_ONEREG_ONEIMM: return 2u + w[0];
    case EXEC_CLS_ONEREG_TWOIMM: return 2u + w[0] + w[1];
    case EXEC_CLS_ONEREG_IMM_OFF: return 2u + w[0] + w[2];
    case EXEC_CLS_TWOREG: return 2;
    case EXEC_CLS_TWOREG_ONEIMM: return 2u + w[0];
    case EXEC_CLS_TWOREG_ONEOFF: return 2u + w[2];
    case EXEC_CLS_TWOREG_TWOIMM: return 3u + w[0] + w[1];
    case EXEC_CLS_THREEREG: return 3;
    default: return 1;
    }
}

static uint32_t item_len(const asm_item *it)
{
    if (it->kind != ASM_ITEM_INSN || it->bytes)
        return it->nbytes;
    return class_len(exec_op_class(it->op), it->w);
}

static void put_le(uint8_t *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* Canonical encoding of an instruction at pc with widths it->w; returns its length. */
static uint32_t encode(const asm_prog *p, const asm_item *it, uint32_t pc, const uint32_t *pcs,
                       uint8_t out[16])
{
    exec_class c = exec_op_class(it->op);
    const uint8_t *w = it->w;
    uint64_t x = c == EXEC_CLS_ONEREG_EXTIMM ? opd_value(p, &it->x, pcs) : imm_value(p, &it->x, pcs);
    uint64_t y = imm_value(p, &it->y, pcs);
    uint64_t off = (uint32_t)(opd_value(p, &it->t, pcs) - pc);
    const uint8_t *r = it->r;
    out[0] = it->op;
    switch (c) {
    case EXEC_CLS_ONEIMM: put_le(out + 1, x, w[0]); break;
    case EXEC_CLS_ONEREG_EXTIMM: out[1] = r[0]; put_le(out + 2, x, 8); break;
    case EXEC_CLS_TWOIMM: out[1] = w[0]; put_le(out + 2, x, w[0]); put_le(out + 2 + w[0], y, w[1]); break;
    case EXEC_CLS_ONEOFF: put_le(out + 1, off, w[2]); break;
    case EXEC_CLS_ONEREG_ONEIMM: out[1] = r[0]; put_le(out + 2, x, w[0]); break;
    case EXEC_CLS_ONEREG_TWOIMM:
        out[1] = (uint8_t)(r[0] | w[0] << 4);
        put_le(out + 2, x, w[0]);
        put_le(out + 2 + w[0], y, w[1]);
        break;
    case EXEC_CLS_ONEREG_IMM_OFF:
        out[1] = (uint8_t)(r[0] | w[0] << 4);
        put_le(out + 2, x, w[0]);
        put_le(out + 2 + w[0], off, w[2]);
        break;
    case EXEC_CLS_TWOREG: out[1] = (uint8_t)(r[0] | r[1] << 4); break;
    case EXEC_CLS_TWOREG_ONEIMM: out[1] = (uint8_t)(r[0] | r[1] << 4); put_le(out + 2, x, w[0]); break;
    case EXEC_CLS_TWOREG_ONEOFF: out[1] = (uint8_t)(r[0] | r[1] << 4); put_le(out + 2, off, w[2]); break;
    case EXEC_CLS_TWOREG_TWOIMM:
        out[1] = (uint8_t)(r[0] | r[1] << 4);
        out[2] = w[0];
        put_le(out + 3, x, w[0]);
        put_le(out + 3 + w[0], y, w[1]);
        break;
    case EXEC_CLS_THREEREG: out[1] = (uint8_t)(r[1] | r[2] << 4); out[2] = r[0]; break;
    default: break;
    }
    return class_len(c, w);
}

/* ---- decoding -------------------------------------------------------------------------- */

static bool kbit(const uint8_t *bm, uint32_t L, uint64_t i)
{
    return i >= L || ((bm[i >> 3] >> (i & 7)) & 1);
}

uint32_t asm_skip(const uint8_t *bm, uint32_t L, uint32_t pc)
{
    uint32_t j = 0;
    while (j < 24 && !kbit(bm, L, (uint64_t)pc + 1 + j))
        j++;
    return j;
}

static uint64_t le_z(const uint8_t *c, uint32_t L, uint64_t i, unsigned n)
{
    uint64_t v = 0;
    for (unsigned b = 0; b < n; b++)
        if (i + b < L)
            v |= (uint64_t)c[i + b] << (8 * b);
    return v;
}

static unsigned clamp4(int64_t v) { return v < 0 ? 0 : v > 4 ? 4 : (unsigned)v; }
static uint8_t reg12(unsigned n) { return (uint8_t)(n < 12 ? n : 12); }

bool asm_decode(const uint8_t *code, uint32_t L, const uint8_t *bm, uint32_t pc, asm_dec *d)
{
    memset(d, 0, sizeof *d);
    uint32_t l = asm_skip(bm, L, pc);
    d->op = code[pc];
    d->next = pc + 1 + l;
    exec_class c = exec_op_class(d->op);
    if (c == EXEC_CLS_NONE)
        return false;
    uint8_t b1 = (uint8_t)le_z(code, L, (uint64_t)pc + 1, 1);
    uint8_t b2 = (uint8_t)le_z(code, L, (uint64_t)pc + 2, 1);
    uint8_t lo = b1 & 15, hi = b1 >> 4;
    unsigned lx, ly;
    uint64_t p1 = (uint64_t)pc + 1, p2 = (uint64_t)pc + 2, p3 = (uint64_t)pc + 3;
    switch (c) {
    case EXEC_CLS_ONEIMM:
        lx = clamp4(l);
        d->x = exec_sx(lx, le_z(code, L, p1, lx));
        break;
    case EXEC_CLS_ONEREG_EXTIMM:
        d->r[0] = reg12(lo);
        d->x = le_z(code, L, p2, 8);
        break;
    case EXEC_CLS_TWOIMM:
        lx = clamp4(b1 % 8);
        ly = clamp4((int64_t)l - lx - 1);
        d->x = exec_sx(lx, le_z(code, L, p2, lx));
        d->y = exec_sx(ly, le_z(code, L, p2 + lx, ly));
        break;
    case EXEC_CLS_ONEOFF:
        lx = clamp4(l);
        d->t = (uint32_t)(pc + exec_sx(lx, le_z(code, L, p1, lx)));
        break;
    case EXEC_CLS_ONEREG_ONEIMM:
        d->r[0] = reg12(lo);
        lx = clamp4((int64_t)l - 1);
        d->x = exec_sx(lx, le_z(code, L, p2, lx));
        break;
    case EXEC_CLS_ONEREG_TWOIMM:
    case EXEC_CLS_ONEREG_IMM_OFF:
        d->r[0] = reg12(lo);
        lx = clamp4(hi % 8);
        ly = clamp4((int64_t)l - lx - 1);
        d->x = exec_sx(lx, le_z(code, L, p2, lx));
        if (c == EXEC_CLS_ONEREG_TWOIMM)
            d->y = exec_sx(ly, le_z(code, L, p2 + lx, ly));
        else
            d->t = (uint32_t)(pc + exec_sx(ly, le_z(code, L, p2 + lx, ly)));
        break;
    case EXEC_CLS_TWOREG:
        d->r[0] = reg12(lo);
        d->r[1] = reg12(hi);
        break;
    case EXEC_CLS_TWOREG_ONEIMM:
    case EXEC_CLS_TWOREG_ONEOFF:
        d->r[0] = reg12(lo);
        d->r[1] = reg12(hi);
        lx = clamp4((int64_t)l - 1);
        if (c == EXEC_CLS_TWOREG_ONEIMM)
            d->x = exec_sx(lx, le_z(code, L, p2, lx));
        else
            d->t = (uint32_t)(pc + exec_sx(lx, le_z(code, L, p2, lx)));
        break;
    case EXEC_CLS_TWOREG_TWOIMM:
        d->r[0] = reg12(lo);
        d->r[1] = reg12(hi);
        lx = clamp4(b2 % 8);
        ly = clamp4((int64_t)l - lx - 2);
        d->x = exec_sx(lx, le_z(code, L, p3, lx));
        d->y = exec_sx(ly, le_z(code, L, p3 + lx, ly));
        break;
    case EXEC_CLS_THREEREG:
        d->r[1] = reg12(lo);
        d->r[2] = reg12(hi);
        d->r[0] = reg12(b2);
        break;
    default:
        break;
    }
    return true;
}

/* ---- layout ---------------------------------------------------------------------------- */

static int resolve_jt(asm_prog *p, asm_err *err)
{
    size_t n = p->njt + p->njt_auto;
    free(p->jt_final);
    free(p->jt_label);
    p->jt_final = calloc(n ? n : 1, sizeof *p->jt_final);
    p->jt_label = calloc(n ? n : 1, sizeof *p->jt_label);
    if (!p->jt_final || !p->jt_label)
        return fail(err, 0, 0, JAVM_ERR_ALLOC, "out of memory");
    uint32_t k = 0;
    for (size_t i = 0; i < p->njt; i++)
        p->jt_label[k++] = p->jt[i].kind == ASM_OPD_NUM ? UINT32_MAX : p->jt[i].label;
    for (size_t i = 0; i < p->njt_auto; i++) {
        bool dup = false;
        for (uint32_t j = 0; j < k && !dup; j++)
            dup = p->jt_label[j] == p->jt_auto[i];
        if (!dup)
            p->jt_label[k++] = p->jt_auto[i];
    }
    p->jt_count = k;
    free(p->jt_of_label);
    if (!(p->jt_of_label = calloc(p->nlabels ? p->nlabels : 1, sizeof *p->jt_of_label)))
        return fail(err, 0, 0, JAVM_ERR_ALLOC, "out of memory");
    for (uint32_t j = k; j-- > 0;)
        if (p->jt_label[j] != UINT32_MAX)
            p->jt_of_label[p->jt_label[j]] = j + 1;
    return JAVM_OK;
}

static bool field_matches(const asm_prog *p, const asm_item *it, const asm_dec *d, uint32_t pc,
                          const uint32_t *pcs)
{
    exec_class c = exec_op_class(it->op);
    unsigned f = class_fields(c);
    if (d->op != it->op || memcmp(d->r, it->r, 3) != 0)
        return false;
    uint64_t x = c == EXEC_CLS_ONEREG_EXTIMM ? opd_value(p, &it->x, pcs) : imm_value(p, &it->x, pcs);
    if ((f & 1) && d->x != x)
        return false;
    if ((f & 2) && d->y != imm_value(p, &it->y, pcs))
        return false;
    if ((f & 4) && d->t != (uint32_t)opd_value(p, &it->t, pcs))
        return false;
    (void)pc;
    return true;
}

int asm_layout(asm_prog *p, asm_err *err)
{
    int rc;
    uint32_t *pcs = NULL;
    for (size_t i = 0; i < p->nlabels; i++)
        if (!p->labels[i].defined)
            return fail(err, p->labels[i].line, p->labels[i].col, JAVM_ERR_INVALID_ARG,
                        "undefined label '%s'", p->labels[i].name ? p->labels[i].name : "?");
    for (size_t i = 0; i < p->njt_auto; i++)
        if (!p->labels[p->jt_auto[i]].is_code)
            return fail(err, p->labels[p->jt_auto[i]].line, p->labels[p->jt_auto[i]].col,
                        JAVM_ERR_INVALID_ARG, "&%s: not a code label",
                        p->labels[p->jt_auto[i]].name ? p->labels[p->jt_auto[i]].name : "?");
    if ((rc = resolve_jt(p, err)))
        return rc;
    if (!(pcs = calloc(p->n + 1, sizeof *pcs)))
        return fail(err, 0, 0, JAVM_ERR_ALLOC, "out of memory");
    for (size_t i = 0; i < p->n; i++)
        memset(p->items[i].w, 0, 3);
    /* Grow widths until stable: lengths only grow, so this ends (each field at most 4 steps). */
    for (bool changed = true; changed;) {
        changed = false;
        uint64_t pc = 0;
        for (size_t i = 0; i < p->n; i++) {
            pcs[i] = (uint32_t)pc;
            pc += item_len(&p->items[i]);
            if (pc > ASM_MAX_CODE) {
                rc = fail(err, 0, 0, JAVM_ERR_LIMIT, "code larger than %u bytes", ASM_MAX_CODE);
                goto done;
            }
        }
        pcs[p->n] = (uint32_t)pc;
        for (size_t i = 0; i < p->n; i++) {
            asm_item *it = &p->items[i];
            if (it->kind != ASM_ITEM_INSN || it->bytes)
                continue;
            exec_class c = exec_op_class(it->op);
            unsigned f = class_fields(c), need[3] = { 0, 0, 0 };
            if ((f & 1) && c != EXEC_CLS_ONEREG_EXTIMM)
                need[0] = imm_width(imm_value(p, &it->x, pcs));
            if (f & 2)
                need[1] = imm_width(imm_value(p, &it->y, pcs));
            if (f & 4)
                need[2] = imm_width(exec_sx(4, (uint32_t)(opd_value(p, &it->t, pcs) - pcs[i])));
            for (int k = 0; k < 3; k++) {
                if (need[k] == 5) {
                    rc = fail(err, it->line, it->col, JAVM_ERR_INVALID_ARG,
                              "%s: immediate 0x%llx does not fit a sign-extended 32-bit field",
                              exec_op_name(it->op),
                              (unsigned long long)(k == 0 ? opd_value(p, &it->x, pcs)
                                                          : opd_value(p, &it->y, pcs)));
                    goto done;
                }
                if (need[k] > it->w[k]) {
                    it->w[k] = (uint8_t)need[k];
                    changed = true;
                }
            }
        }
    }
    uint32_t L = pcs[p->n];
    free(p->code);
    free(p->bitmask);
    p->code = calloc(L ? L : 1, 1);
    p->bitmask = calloc(L ? (L + 7) / 8 : 1, 1);
    if (!p->code || !p->bitmask) {
        rc = fail(err, 0, 0, JAVM_ERR_ALLOC, "out of memory");
        goto done;
    }
    p->code_len = L;
    p->bitmask_len = (L + 7) / 8;
    for (size_t i = 0; i < p->nlabels; i++)
        if (p->labels[i].is_code)
            p->labels[i].value = pcs[p->labels[i].item];
    for (uint32_t j = 0; j < p->jt_count; j++)
        p->jt_final[j] = p->jt_label[j] == UINT32_MAX ? 0 : (uint32_t)p->labels[p->jt_label[j]].value;
    for (size_t j = 0, k = 0; j < p->njt; j++, k++)
        if (p->jt[j].kind == ASM_OPD_NUM)
            p->jt_final[k] = (uint32_t)p->jt[j].num;
    for (size_t i = 0; i < p->n; i++) {
        asm_item *it = &p->items[i];
        it->pc = pcs[i];
        it->len = item_len(it);
        if (it->kind == ASM_ITEM_INSN && !it->bytes) {
            uint8_t b[16];
            encode(p, it, pcs[i], pcs, b);
            memcpy(p->code + pcs[i], b, it->len);
        } else if (it->nbytes) {
            memcpy(p->code + pcs[i], it->bytes, it->nbytes);
        }
        if (it->kind != ASM_ITEM_RAW && it->len)
            p->bitmask[pcs[i] >> 3] |= (uint8_t)(1u << (pcs[i] & 7));
    }
    for (size_t i = 0; i < p->n; i++) {
        asm_item *it = &p->items[i];
        asm_dec d;
        if (it->kind != ASM_ITEM_INSN || p->no_verify)
            continue;
        if (!asm_decode(p->code, L, p->bitmask, it->pc, &d) || !field_matches(p, it, &d, it->pc, pcs)
            || d.next != it->pc + it->len) {
            rc = fail(err, it->line, it->col, JAVM_ERR_INVALID_ARG,
                      it->bytes ? "%s: the encoding given after '!' does not decode to this instruction"
                                : "%s: does not decode as written (is it followed by .raw bytes?)",
                      exec_op_name(it->op));
            goto done;
        }
    }
    rc = JAVM_OK;
done:
    free(pcs);
    return rc;
}

/* ---- writers --------------------------------------------------------------------------- */

static size_t put_varint(uint8_t *b, uint64_t x)
{
    if (x < 128) {
        b[0] = (uint8_t)x;
        return 1;
    }
    for (unsigned l = 1; l < 8; l++) {
        if (x < UINT64_C(1) << (7 * (l + 1))) {
            b[0] = (uint8_t)(256 - (1u << (8 - l)) + (x >> (8 * l)));
            put_le(b + 1, x, l);
            return 1 + l;
        }
    }
    b[0] = 0xFF;
    put_le(b + 1, x, 8);
    return 9;
}

int asm_write_blob(const asm_prog *p, uint8_t **out, size_t *len, asm_err *err)
{
    unsigned z = 0;
    if (p->jt_width >= 0) {
        z = (unsigned)p->jt_width;
        if (z > 4 || (z == 0 && p->jt_count))
            return fail(err, 0, 0, JAVM_ERR_INVALID_ARG, ".jt_width %u cannot hold the jump table", z);
    } else if (p->jt_count) {
        z = 1;
    }
    for (uint32_t i = 0; i < p->jt_count; i++)
        while (z < 4 && p->jt_final[i] >> (8 * z))
            z++;
    for (uint32_t i = 0; i < p->jt_count; i++)
        if (z < 4 && p->jt_final[i] >> (8 * z))
            return fail(err, 0, 0, JAVM_ERR_INVALID_ARG, "jump-table entry %u does not fit .jt_width %u",
                        p->jt_final[i], z);
    size_t n = 9 + 1 + 9 + (size_t)p->jt_count * z + p->code_len + p->bitmask_len;
    uint8_t *b = malloc(n);
    if (!b)
        return fail(err, 0, 0, JAVM_ERR_ALLOC, "out of memory");
    size_t k = put_varint(b, p->jt_count);
    b[k++] = (uint8_t)z;
    k += put_varint(b + k, p->code_len);
    for (uint32_t i = 0; i < p->jt_count; i++, k += z)
        put_le(b + k, p->jt_final[i], z);
    if (p->code_len)
        memcpy(b + k, p->code, p->code_len);
    k += p->code_len;
    if (p->bitmask_len)
        memcpy(b + k, p->bitmask, p->bitmask_len);
    k += p->bitmask_len;
    *out = b;
    *len = k;
    return JAVM_OK;
}

void asm_unit_init(asm_unit *u)
{
    memset(u, 0, sizeof *u);
    asm_prog_init(&u->prog);
}

void asm_unit_free(asm_unit *u)
{
    asm_prog_free(&u->prog);
    for (size_t i = 0; i < u->ncaps; i++) {
        free(u->caps[i].name);
        free(u->caps[i].buf);
        free(u->caps[i].fix);
    }
    free(u->caps);
    free(u->eps);
    free(u->maps);
    free(u->pinned);
    free(u->initial);
    asm_unit_init(u);
}

static int cmp_slotref(const void *a, const void *b)
{
    uint32_t x = ((const asm_slotref *)a)->slot, y = ((const asm_slotref *)b)->slot;
    return x < y ? -1 : x > y;
}

static int cmp_map(const void *a, const void *b)
{
    uint64_t x = ((const javm_mapping *)a)->start, y = ((const javm_mapping *)b)->start;
    return x < y ? -1 : x > y;
}

int asm_write_jimg(asm_unit *u, uint8_t **out, size_t *len, asm_err *err)
{
    int rc;
    javm_store *store = NULL;
    javm_cache *cache = NULL;
    javm_cap *img = NULL, *cap = NULL;
    asm_prog *p = &u->prog;
    if ((rc = javm_store_mem_new(&store)) || (rc = javm_cache_open(store, &cache))) {
        rc = fail(err, 0, 0, rc, "cannot open an in-memory cache: %s", javm_strerror(rc));
        goto done;
    }
    for (size_t i = 0; i < u->ncaps; i++) {
        asm_capdef *cd = &u->caps[i];
        for (size_t f = 0; f < cd->nfix; f++) {
            asm_fixup *fx = &cd->fix[f];
            put_le(cd->buf + fx->off, asm_opd_value(p, &fx->v), fx->width);
        }
        if (cd->raw) {
            javm_decode_err de;
            rc = javm_cap_decode(cd->kind, cd->buf, cd->len, &cap, &de);
            if (rc) {
                rc = fail(err, 0, 0, rc, "cap '%s': body does not decode (%s at offset %llu)", cd->name,
                          javm_strerror(rc), (unsigned long long)de.offset);
                goto done;
            }
        } else if ((rc = javm_data_new(cd->buf, cd->len, &cap))) {
            rc = fail(err, 0, 0, rc, "cap '%s': %s", cd->name, javm_strerror(rc));
            goto done;
        }
        rc = javm_cache_put(cache, cap, &cd->hash);
        javm_cap_free(cap);
        cap = NULL;
        if (rc) {
            rc = fail(err, 0, 0, rc, "cap '%s': %s", cd->name, javm_strerror(rc));
            goto done;
        }
    }
    if ((rc = javm_image_new(p->code, p->code_len, p->bitmask, p->bitmask_len, &img))
        || (rc = javm_image_set_jump_table(img, p->jt_final, p->jt_count)))
        goto lib_fail;
    for (size_t i = 0; i < u->neps; i++) {
        javm_endpoint ep;
        memset(&ep, 0, sizeof ep);
        ep.entry_pc = asm_opd_value(p, &u->eps[i].entry);
        ep.stack_top = u->eps[i].stack_top;
        ep.arg_cnode_slot = u->eps[i].arg_slot;
        ep.arg_cnode_size = u->eps[i].arg_size;
        memcpy(ep.initial_regs, u->eps[i].regs, sizeof ep.initial_regs);
        if ((rc = javm_image_add_endpoint(img, &ep)))
            goto lib_fail;
    }
    if (u->nmaps)
        qsort(u->maps, u->nmaps, sizeof *u->maps, cmp_map);
    for (size_t i = 0; i < u->nmaps; i++)
        if ((rc = javm_image_add_mapping(img, &u->maps[i])))
            goto lib_fail;
    if (u->npinned)
        qsort(u->pinned, u->npinned, sizeof *u->pinned, cmp_slotref);
    if (u->ninitial)
        qsort(u->initial, u->ninitial, sizeof *u->initial, cmp_slotref);
    for (size_t i = 0; i < u->npinned; i++)
        if ((rc = javm_image_add_pinned(img, u->pinned[i].slot, &u->caps[u->pinned[i].cap].hash)))
            goto lib_fail;
    for (size_t i = 0; i < u->ninitial; i++)
        if ((rc = javm_image_add_initial(img, u->initial[i].slot, &u->caps[u->initial[i].cap].hash)))
            goto lib_fail;
    img->image.has_yield_marker = u->has_yield;
    img->image.yield_marker_slot = u->yield_slot;
    javm_hash h;
    if ((rc = javm_cache_put(cache, img, &h))) {
        rc = fail(err, 0, 0, rc, "the image is not valid: %s", javm_strerror(rc));
        goto done;
    }
    if ((rc = javm_image_save(cache, &h, out, len)))
        goto lib_fail;
    rc = JAVM_OK;
    goto done;
lib_fail:
    rc = fail(err, 0, 0, rc, "building the image: %s", javm_strerror(rc));
done:
    javm_cap_free(img);
    javm_cache_close(cache);
    javm_store_close(store);
    return rc;
}
