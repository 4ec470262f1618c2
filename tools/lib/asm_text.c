/* SPDX-License-Identifier: MIT
 * tools/lib/asm_text.c — the PVM assembly text syntax: a line parser that feeds the program
 * builder of asm.c and a printer whose output parses back to the same unit. The syntax is
 * documented in docs/guest.md; errors carry line and column. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asm.h"
#include "exec/opcodes.h"

typedef struct lexer {
    const char *s, *end, *line_start;
    uint32_t line;
    asm_err *err;
} lexer;

static int lfail(lexer *lx, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lx->err->line = lx->line;
    lx->err->col = (uint32_t)(at - lx->line_start) + 1;
    vsnprintf(lx->err->msg, sizeof lx->err->msg, fmt, ap);
    va_end(ap);
    return JAVM_ERR_INVALID_ARG;
}

static void skip_ws(lexer *lx)
{
    while (lx->s < lx->end && (*lx->s == ' ' || *lx->s == '\t' || *lx->s == '\r'))
        lx->s++;
}

/* End of the meaningful part of the line (a comment starts with ';', '#' or '//'). */
static bool at_eol(lexer *lx)
{
    skip_ws(lx);
    return lx->s >= lx->end || *lx->s == ';' || *lx->s == '#'
           || (*lx->s == '/' && lx->s + 1 < lx->end && lx->s[1] == '/');
}

static bool accept(lexer *lx, char c)
{
    skip_ws(lx);
    if (lx->s < lx->end && *lx->s == c) {
        lx->s++;
        return true;
    }
    return false;
}

static bool ident_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == '.' || c == '$' || (!first && isdigit((unsigned char)c));
}

/* An identifier (labels, mnemonics, directives, names); *len = 0 when none. */
static const char *ident(lexer *lx, size_t *len)
{
    skip_ws(lx);
    const char *b = lx->s;
    if (lx->s < lx->end && ident_char(*lx->s, true)) {
        lx->s++;
        while (lx->s < lx->end && ident_char(*lx->s, false))
            lx->s++;
    }
    *len = (size_t)(lx->s - b);
    return b;
}

static bool is_word(const char *s, size_t n, const char *w) { return strlen(w) == n && memcmp(s, w, n) == 0; }

static int number(lexer *lx, uint64_t *out)
{
    skip_ws(lx);
    const char *b = lx->s;
    bool neg = false;
    if (lx->s < lx->end && (*lx->s == '-' || *lx->s == '+'))
        neg = *lx->s++ == '-';
    unsigned base = 10;
    if (lx->end - lx->s > 2 && lx->s[0] == '0' && (lx->s[1] == 'x' || lx->s[1] == 'X')) {
        base = 16;
        lx->s += 2;
    }
    uint64_t v = 0;
    const char *digits = lx->s;
    while (lx->s < lx->end && isxdigit((unsigned char)*lx->s)) {
        unsigned d = isdigit((unsigned char)*lx->s) ? (unsigned)(*lx->s - '0')
                                                     : (unsigned)(tolower((unsigned char)*lx->s) - 'a' + 10);
        if (d >= base)
            break;
        if (v > (UINT64_MAX - d) / base)
            return lfail(lx, b, "number too large");
        v = v * base + d;
        lx->s++;
    }
    if (lx->s == digits || (lx->s < lx->end && ident_char(*lx->s, false)))
        return lfail(lx, b, "expected a number");
    *out = neg ? (uint64_t)0 - v : v;
    return JAVM_OK;
}

static int hexbytes(lexer *lx, uint8_t **out, uint32_t *n)
{
    skip_ws(lx);
    const char *b = lx->s;
    while (lx->s < lx->end && isxdigit((unsigned char)*lx->s))
        lx->s++;
    size_t digits = (size_t)(lx->s - b);
    if (digits == 0 || digits % 2)
        return lfail(lx, b, "expected an even number of hex digits");
    uint8_t *buf = malloc(digits / 2);
    if (!buf)
        return lfail(lx, b, "out of memory");
    for (size_t i = 0; i < digits / 2; i++) {
        char t[3] = { b[2 * i], b[2 * i + 1], 0 };
        buf[i] = (uint8_t)strtoul(t, NULL, 16);
    }
    *out = buf;
    *n = (uint32_t)(digits / 2);
    return JAVM_OK;
}

static int reg(lexer *lx, uint8_t *out)
{
    static const char *const abi[13] = { "ra", "sp", "t0", "t1", "t2", "s0", "s1",
                                         "a0", "a1", "a2", "a3", "a4", "a5" };
    skip_ws(lx);
    const char *b = lx->s;
    const char *digits = NULL;
    if (lx->s < lx->end && *lx->s == 'r')
        digits = lx->s + 1;
    else if (lx->end - lx->s >= 2 && (uint8_t)lx->s[0] == 0xCF && (uint8_t)lx->s[1] == 0x86)
        digits = lx->s + 2; /* φ */
    if (digits && digits < lx->end && isdigit((unsigned char)*digits)) {
        unsigned v = 0;
        const char *q = digits;
        while (q < lx->end && isdigit((unsigned char)*q) && v < 100)
            v = v * 10 + (unsigned)(*q++ - '0');
        if (v <= 12 && !(q < lx->end && ident_char(*q, false))) {
            lx->s = q;
            *out = (uint8_t)v;
            return JAVM_OK;
        }
    }
    size_t n;
    const char *id = ident(lx, &n);
    for (unsigned i = 0; i < 13; i++)
        if (is_word(id, n, abi[i])) {
            *out = (uint8_t)i;
            return JAVM_OK;
        }
    return lfail(lx, b, "expected a register (r0..r12, φ0..φ12 or ra, sp, t0-t2, s0, s1, a0-a5)");
}

/* value := number | label [(+|-) number] | &label */
static int value(lexer *lx, asm_prog *p, asm_opd *o)
{
    skip_ws(lx);
    const char *b = lx->s;
    memset(o, 0, sizeof *o);
    bool jt = accept(lx, '&');
    skip_ws(lx);
    if (!jt && lx->s < lx->end && (isdigit((unsigned char)*lx->s) || *lx->s == '-' || *lx->s == '+')) {
        o->kind = ASM_OPD_NUM;
        return number(lx, &o->num);
    }
    size_t n;
    const char *id = ident(lx, &n);
    if (!n)
        return lfail(lx, b, "expected a number or a label");
    long l = asm_label_get(p, id, n, lx->line, (uint32_t)(id - lx->line_start) + 1);
    if (l < 0)
        return lfail(lx, b, "out of memory");
    o->kind = jt ? ASM_OPD_JT : ASM_OPD_LABEL;
    o->label = (uint32_t)l;
    if (jt) {
        if (asm_jt_use(p, (uint32_t)l))
            return lfail(lx, b, "out of memory");
        return JAVM_OK;
    }
    skip_ws(lx);
    if (lx->s < lx->end && (*lx->s == '+' || *lx->s == '-'))
        return number(lx, &o->num);
    return JAVM_OK;
}

static int comma(lexer *lx)
{
    if (!accept(lx, ','))
        return lfail(lx, lx->s, "expected ','");
    return JAVM_OK;
}

/* ---- parser state ---------------------------------------------------------------------- */

typedef struct parser {
    asm_unit *u;
    lexer lx;
    long cur;     /* data container (cap index) receiving data directives; -1 = code */
    size_t capcaps, capeps, capmaps, cappin, capini;
} parser;

static int grow(void **arr, size_t *cap, size_t need, size_t elsz)
{
    if (need <= *cap)
        return JAVM_OK;
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *q = realloc(*arr, c * elsz);
    if (!q)
        return JAVM_ERR_ALLOC;
    *arr = q;
    *cap = c;
    return JAVM_OK;
}

static int data_append(parser *ps, const void *b, size_t n, const char *at)
{
    asm_capdef *cd = &ps->u->caps[ps->cur];
    if (cd->len + n > (UINT64_C(1) << 31))
        return lfail(&ps->lx, at, "data too large");
    if (grow((void **)&cd->buf, &cd->cap, cd->len + n, 1))
        return lfail(&ps->lx, at, "out of memory");
    if (b)
        memcpy(cd->buf + cd->len, b, n);
    else
        memset(cd->buf + cd->len, 0, n);
    cd->len += n;
    return JAVM_OK;
}

static long cap_new(parser *ps, const char *name, size_t n, const char *at)
{
    asm_unit *u = ps->u;
    for (size_t i = 0; i < u->ncaps; i++)
        if (u->caps[i].name && is_word(name, n, u->caps[i].name))
            return lfail(&ps->lx, at, "cap '%.*s' defined twice", (int)n, name), -1;
    if (grow((void **)&u->caps, &ps->capcaps, u->ncaps + 1, sizeof *u->caps))
        return lfail(&ps->lx, at, "out of memory"), -1;
    asm_capdef *cd = &u->caps[u->ncaps];
    memset(cd, 0, sizeof *cd);
    if (!(cd->name = malloc(n + 1)))
        return lfail(&ps->lx, at, "out of memory"), -1;
    memcpy(cd->name, name, n);
    cd->name[n] = 0;
    cd->kind = JAVM_KIND_DATA;
    return (long)u->ncaps++;
}

static long cap_find(parser *ps, const char *name, size_t n)
{
    for (size_t i = 0; i < ps->u->ncaps; i++)
        if (ps->u->caps[i].name && is_word(name, n, ps->u->caps[i].name))
            return (long)i;
    return -1;
}

static int data_values(parser *ps, unsigned width)
{
    lexer *lx = &ps->lx;
    do {
        const char *at = (skip_ws(lx), lx->s);
        asm_opd o;
        int rc = value(lx, &ps->u->prog, &o);
        if (rc)
            return rc;
        asm_capdef *cd = &ps->u->caps[ps->cur];
        if (o.kind == ASM_OPD_NUM) {
            uint8_t b[8];
            for (unsigned i = 0; i < width; i++)
                b[i] = (uint8_t)(o.num >> (8 * i));
            if ((rc = data_append(ps, b, width, at)))
                return rc;
        } else {
            if (grow((void **)&cd->fix, &cd->capfix, cd->nfix + 1, sizeof *cd->fix))
                return lfail(lx, at, "out of memory");
            cd->fix[cd->nfix++] = (asm_fixup){ cd->len, width, o, lx->line, (uint32_t)(at - lx->line_start) + 1 };
            if ((rc = data_append(ps, NULL, width, at)))
                return rc;
        }
    } while (accept(lx, ','));
    return JAVM_OK;
}

static int ascii(parser *ps)
{
    lexer *lx = &ps->lx;
    skip_ws(lx);
    const char *at = lx->s;
    if (!accept(lx, '"'))
        return lfail(lx, at, "expected a string");
    while (lx->s < lx->end && *lx->s != '"') {
        uint8_t c = (uint8_t)*lx->s++;
        if (c == '\\' && lx->s < lx->end) {
            char e = *lx->s++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '0': c = 0; break;
            case 'x':
                if (lx->end - lx->s < 2 || !isxdigit((unsigned char)lx->s[0]) || !isxdigit((unsigned char)lx->s[1]))
                    return lfail(lx, lx->s, "bad \\x escape");
                {
                    char t[3] = { lx->s[0], lx->s[1], 0 };
                    c = (uint8_t)strtoul(t, NULL, 16);
                    lx->s += 2;
                }
                break;
            default: c = (uint8_t)e; break;
            }
        }
        int rc = data_append(ps, &c, 1, at);
        if (rc)
            return rc;
    }
    if (!accept(lx, '"'))
        return lfail(lx, at, "unterminated string");
    return JAVM_OK;
}

static asm_ep *cur_ep(parser *ps, const char *at)
{
    if (!ps->u->neps) {
        lfail(&ps->lx, at, "no .endpoint before this directive");
        return NULL;
    }
    return &ps->u->eps[ps->u->neps - 1];
}

static int u32_arg(lexer *lx, uint32_t *out, uint64_t max)
{
    const char *at = (skip_ws(lx), lx->s);
    uint64_t v;
    int rc = number(lx, &v);
    if (rc)
        return rc;
    if (v > max)
        return lfail(lx, at, "value %" PRIu64 " above %" PRIu64, v, max);
    *out = (uint32_t)v;
    return JAVM_OK;
}

static int slotref(parser *ps, asm_slotref **arr, size_t *n, size_t *cap)
{
    lexer *lx = &ps->lx;
    uint32_t slot;
    int rc = u32_arg(lx, &slot, 65535);
    if (rc)
        return rc;
    size_t len;
    const char *nm = ident(lx, &len);
    long c = len ? cap_find(ps, nm, len) : -1;
    if (c < 0)
        return lfail(lx, nm, "expected the name of a cap defined earlier with .cap");
    if (grow((void **)arr, cap, *n + 1, sizeof **arr))
        return lfail(lx, nm, "out of memory");
    (*arr)[(*n)++] = (asm_slotref){ slot, (uint32_t)c };
    return JAVM_OK;
}

static int section(parser *ps, const char *dir, size_t dn, const char *at)
{
    lexer *lx = &ps->lx;
    uint64_t addr, size = 0;
    int rc = number(lx, &addr);
    if (rc)
        return rc;
    if (addr % JAVM_PAGE_SIZE || addr >= (UINT64_C(1) << 32))
        return lfail(lx, at, "section address must be page-aligned and below 2^32");
    if (accept(lx, ',') || is_word(dir, dn, ".bss") || !at_eol(lx)) {
        if ((rc = number(lx, &size)))
            return rc;
    }
    if (is_word(dir, dn, ".bss")) {
        asm_unit *u = ps->u;
        if (!size || addr + size > (UINT64_C(1) << 32))
            return lfail(lx, at, ".bss needs a size that fits below 2^32");
        if (grow((void **)&u->maps, &ps->capmaps, u->nmaps + 1, sizeof *u->maps))
            return lfail(lx, at, "out of memory");
        javm_mapping *m = &u->maps[u->nmaps++];
        memset(m, 0, sizeof *m);
        m->start = addr;
        m->size = size;
        m->flags = 1;
        ps->cur = -1;
        return JAVM_OK;
    }
    char nm[32];
    int k = snprintf(nm, sizeof nm, "%.*s_%" PRIx64, (int)dn - 1, dir + 1, addr);
    long c = cap_new(ps, nm, (size_t)k, at);
    if (c < 0)
        return JAVM_ERR_INVALID_ARG;
    asm_capdef *cd = &ps->u->caps[c];
    cd->is_section = true;
    cd->writable = is_word(dir, dn, ".rwdata");
    cd->addr = addr;
    cd->map_size = size;
    ps->cur = c;
    return JAVM_OK;
}

static int directive(parser *ps, const char *d, size_t dn)
{
    lexer *lx = &ps->lx;
    asm_unit *u = ps->u;
    asm_prog *p = &u->prog;
    int rc = JAVM_OK;
    const char *at = d;
    bool in_data = ps->cur >= 0;
    if (is_word(d, dn, ".text")) {
        ps->cur = -1;
    } else if (is_word(d, dn, ".rodata") || is_word(d, dn, ".rwdata") || is_word(d, dn, ".bss")) {
        rc = section(ps, d, dn, at);
    } else if (is_word(d, dn, ".cap")) {
        size_t n, kn;
        const char *nm = ident(lx, &n);
        if (!n)
            return lfail(lx, nm, "expected a cap name");
        const char *kind = ident(lx, &kn);
        long c = cap_new(ps, nm, n, nm);
        if (c < 0)
            return JAVM_ERR_INVALID_ARG;
        if (is_word(kind, kn, "raw")) {
            uint32_t k;
            if ((rc = u32_arg(lx, &k, 255)))
                return rc;
            u->caps[c].raw = true;
            u->caps[c].kind = (uint8_t)k;
        } else if (!is_word(kind, kn, "data")) {
            return lfail(lx, kind, "expected 'data' or 'raw KIND'");
        }
        ps->cur = c;
    } else if (is_word(d, dn, ".endcap")) {
        if (!in_data || u->caps[ps->cur].is_section)
            return lfail(lx, at, ".endcap without .cap");
        ps->cur = -1;
    } else if (is_word(d, dn, ".byte") || is_word(d, dn, ".u8") || is_word(d, dn, ".u16")
               || is_word(d, dn, ".u32") || is_word(d, dn, ".u64")) {
        if (!in_data)
            return lfail(lx, at, "data directive outside .rodata, .rwdata or .cap");
        rc = data_values(ps, dn == 5 && d[1] == 'b' ? 1 : dn == 3 ? 1 : (unsigned)(strtoul(d + 2, NULL, 10) / 8));
    } else if (is_word(d, dn, ".ascii")) {
        if (!in_data)
            return lfail(lx, at, "data directive outside .rodata, .rwdata or .cap");
        rc = ascii(ps);
    } else if (is_word(d, dn, ".zero")) {
        uint64_t n;
        if (!in_data)
            return lfail(lx, at, "data directive outside .rodata, .rwdata or .cap");
        if (!(rc = number(lx, &n)))
            rc = n > (UINT64_C(1) << 31) ? lfail(lx, at, ".zero too large") : data_append(ps, NULL, n, at);
    } else if (is_word(d, dn, ".hex")) {
        uint8_t *b;
        uint32_t n;
        if (!in_data)
            return lfail(lx, at, "data directive outside .rodata, .rwdata or .cap");
        if (!(rc = hexbytes(lx, &b, &n))) {
            rc = data_append(ps, b, n, at);
            free(b);
        }
    } else if (is_word(d, dn, ".raw") || is_word(d, dn, ".insn")) {
        asm_item it;
        memset(&it, 0, sizeof it);
        it.kind = d[1] == 'r' ? ASM_ITEM_RAW : ASM_ITEM_RAWINSN;
        it.line = lx->line;
        it.col = (uint32_t)(at - lx->line_start) + 1;
        if ((rc = hexbytes(lx, &it.bytes, &it.nbytes)))
            return rc;
        if (it.kind == ASM_ITEM_RAWINSN && it.nbytes > 25) {
            free(it.bytes);
            return lfail(lx, at, ".insn is at most 25 bytes long");
        }
        it.op = it.bytes[0];
        if (asm_add(p, &it) < 0) {
            free(it.bytes);
            return lfail(lx, at, "out of memory");
        }
    } else if (is_word(d, dn, ".endpoint")) {
        if (u->neps >= JAVM_MAX_ENDPOINTS)
            return lfail(lx, at, "more than %d endpoints", JAVM_MAX_ENDPOINTS);
        if (grow((void **)&u->eps, &ps->capeps, u->neps + 1, sizeof *u->eps))
            return lfail(lx, at, "out of memory");
        asm_ep *ep = &u->eps[u->neps];
        memset(ep, 0, sizeof *ep);
        if ((rc = value(lx, p, &ep->entry)))
            return rc;
        u->neps++;
    } else if (is_word(d, dn, ".stack")) {
        asm_ep *ep = cur_ep(ps, at);
        if (!ep)
            return JAVM_ERR_INVALID_ARG;
        if (!(rc = number(lx, &ep->stack_top)))
            ep->regs[1] = ep->stack_top;
    } else if (is_word(d, dn, ".reg")) {
        asm_ep *ep = cur_ep(ps, at);
        uint8_t r;
        if (!ep)
            return JAVM_ERR_INVALID_ARG;
        if (!(rc = reg(lx, &r)) && !(rc = comma(lx)))
            rc = number(lx, &ep->regs[r]);
    } else if (is_word(d, dn, ".arg_cnode")) {
        asm_ep *ep = cur_ep(ps, at);
        uint32_t sz;
        if (!ep)
            return JAVM_ERR_INVALID_ARG;
        if (!(rc = u32_arg(lx, &ep->arg_slot, UINT32_MAX)) && !(rc = comma(lx))
            && !(rc = u32_arg(lx, &sz, 16)))
            ep->arg_size = (uint8_t)sz;
    } else if (is_word(d, dn, ".jumptable")) {
        do {
            asm_opd o;
            if ((rc = value(lx, p, &o)))
                return rc;
            if (o.kind != ASM_OPD_NUM && (o.kind != ASM_OPD_LABEL || o.num))
                return lfail(lx, at, ".jumptable takes code labels or numbers");
            if (grow((void **)&p->jt, &p->capjt, p->njt + 1, sizeof *p->jt))
                return lfail(lx, at, "out of memory");
            p->jt[p->njt++] = o;
        } while (accept(lx, ','));
    } else if (is_word(d, dn, ".jt_width")) {
        uint32_t z;
        if (!(rc = u32_arg(lx, &z, 4)))
            p->jt_width = (int)z;
    } else if (is_word(d, dn, ".mapping")) {
        javm_mapping m;
        memset(&m, 0, sizeof m);
        size_t fn;
        if ((rc = number(lx, &m.start)) || (rc = comma(lx)) || (rc = number(lx, &m.size)) || (rc = comma(lx)))
            return rc;
        const char *f = ident(lx, &fn);
        if (is_word(f, fn, "rw"))
            m.flags = 1;
        else if (!is_word(f, fn, "ro"))
            return lfail(lx, f, "expected ro or rw");
        while (accept(lx, ',')) {
            if (m.path_len >= JAVM_MAX_SOURCE_DEPTH)
                return lfail(lx, lx->s, "source path longer than %d steps", JAVM_MAX_SOURCE_DEPTH);
            if ((rc = u32_arg(lx, &m.path[m.path_len], UINT32_MAX)))
                return rc;
            m.path_len++;
        }
        if (grow((void **)&u->maps, &ps->capmaps, u->nmaps + 1, sizeof *u->maps))
            return lfail(lx, at, "out of memory");
        u->maps[u->nmaps++] = m;
    } else if (is_word(d, dn, ".initial")) {
        rc = slotref(ps, &u->initial, &u->ninitial, &ps->capini);
    } else if (is_word(d, dn, ".pinned")) {
        rc = slotref(ps, &u->pinned, &u->npinned, &ps->cappin);
    } else if (is_word(d, dn, ".yield_marker")) {
        if (!(rc = u32_arg(lx, &u->yield_slot, 65535)))
            u->has_yield = true;
    } else {
        return lfail(lx, at, "unknown directive '%.*s'", (int)dn, d);
    }
    return rc;
}

static int instruction(parser *ps, const char *m, size_t mn)
{
    lexer *lx = &ps->lx;
    asm_prog *p = &ps->u->prog;
    char name[40];
    if (mn >= sizeof name)
        return lfail(lx, m, "unknown instruction '%.*s'", (int)mn, m);
    memcpy(name, m, mn);
    name[mn] = 0;
    int op = exec_op_by_name(name);
    if (op < 0)
        return lfail(lx, m, "unknown instruction '%s'", name);
    if (ps->cur >= 0)
        return lfail(lx, m, "instruction inside a data section (use .text)");
    asm_item it;
    memset(&it, 0, sizeof it);
    it.kind = ASM_ITEM_INSN;
    it.op = (uint8_t)op;
    it.line = lx->line;
    it.col = (uint32_t)(m - lx->line_start) + 1;
    int rc = JAVM_OK;
    exec_class c = exec_op_class((uint8_t)op);
    /* Registers first, then immediates, then the target (text order of asm.h). */
    int nregs = 0, nimm = 0;
    bool tgt = false;
    switch (c) {
    case EXEC_CLS_ONEIMM: nimm = 1; break;
    case EXEC_CLS_ONEREG_EXTIMM: case EXEC_CLS_ONEREG_ONEIMM: nregs = 1; nimm = 1; break;
    case EXEC_CLS_TWOIMM: nimm = 2; break;
    case EXEC_CLS_ONEOFF: tgt = true; break;
    case EXEC_CLS_ONEREG_TWOIMM: nregs = 1; nimm = 2; break;
    case EXEC_CLS_ONEREG_IMM_OFF: nregs = 1; nimm = 1; tgt = true; break;
    case EXEC_CLS_TWOREG: nregs = 2; break;
    case EXEC_CLS_TWOREG_ONEIMM: nregs = 2; nimm = 1; break;
    case EXEC_CLS_TWOREG_ONEOFF: nregs = 2; tgt = true; break;
    case EXEC_CLS_TWOREG_TWOIMM: nregs = 2; nimm = 2; break;
    case EXEC_CLS_THREEREG: nregs = 3; break;
    default: break;
    }
    int k = 0;
    for (int i = 0; i < nregs && !rc; i++, k++)
        rc = (k ? comma(lx) : JAVM_OK) ? JAVM_ERR_INVALID_ARG : reg(lx, &it.r[i]);
    for (int i = 0; i < nimm && !rc; i++, k++)
        rc = (k ? comma(lx) : JAVM_OK) ? JAVM_ERR_INVALID_ARG : value(lx, p, i ? &it.y : &it.x);
    if (tgt && !rc)
        rc = (k ? comma(lx) : JAVM_OK) ? JAVM_ERR_INVALID_ARG : value(lx, p, &it.t);
    if (!rc && tgt && it.t.kind == ASM_OPD_JT)
        rc = lfail(lx, m, "a branch target is a code label or a number, not &label");
    if (!rc && accept(lx, '!')) {
        if (!(rc = hexbytes(lx, &it.bytes, &it.nbytes)) && (it.nbytes > 25 || it.bytes[0] != op))
            rc = lfail(lx, m, "an encoding override starts with the opcode and is at most 25 bytes");
    }
    if (!rc && asm_add(p, &it) < 0)
        rc = lfail(lx, m, "out of memory");
    if (rc)
        free(it.bytes);
    return rc;
}

static int parse_line(parser *ps)
{
    lexer *lx = &ps->lx;
    asm_prog *p = &ps->u->prog;
    for (;;) {
        if (at_eol(lx))
            return JAVM_OK;
        const char *save = lx->s;
        size_t n;
        const char *id = ident(lx, &n);
        if (!n)
            return lfail(lx, lx->s, "unexpected character '%c'", *lx->s);
        if (accept(lx, ':')) {
            long l = asm_label_get(p, id, n, lx->line, (uint32_t)(id - lx->line_start) + 1);
            if (l < 0)
                return lfail(lx, id, "out of memory");
            asm_label *lb = &p->labels[l];
            if (lb->defined)
                return lfail(lx, id, "label '%.*s' defined twice", (int)n, id);
            lb->line = lx->line;
            lb->col = (uint32_t)(id - lx->line_start) + 1;
            if (ps->cur >= 0) {
                asm_capdef *cd = &ps->u->caps[ps->cur];
                if (!cd->is_section)
                    return lfail(lx, id, "labels inside .cap are not allowed");
                lb->defined = true;
                lb->is_code = false;
                lb->value = cd->addr + cd->len;
            } else {
                asm_label_here(p, (uint32_t)l);
            }
            continue;
        }
        (void)save;
        int rc = id[0] == '.' ? directive(ps, id, n) : instruction(ps, id, n);
        if (rc)
            return rc;
        if (!at_eol(lx))
            return lfail(lx, lx->s, "unexpected text after the statement");
        return JAVM_OK;
    }
}

/* Section sugar: each .rodata / .rwdata becomes a Data cap in the lowest free initial slot
 * (from 1: slot 0 carries invocation arguments) and a mapping sourced from it. */
static int place_sections(parser *ps)
{
    asm_unit *u = ps->u;
    uint32_t next = 1;
    for (size_t i = 0; i < u->ncaps; i++) {
        asm_capdef *cd = &u->caps[i];
        if (!cd->is_section)
            continue;
        for (bool used = true; used;) {
            used = false;
            for (size_t j = 0; j < u->ninitial; j++)
                used |= u->initial[j].slot == next;
            for (size_t j = 0; j < u->npinned; j++)
                used |= u->pinned[j].slot == next;
            if (used)
                next++;
        }
        if (grow((void **)&u->initial, &ps->capini, u->ninitial + 1, sizeof *u->initial)
            || grow((void **)&u->maps, &ps->capmaps, u->nmaps + 1, sizeof *u->maps))
            return JAVM_ERR_ALLOC;
        u->initial[u->ninitial++] = (asm_slotref){ next, (uint32_t)i };
        javm_mapping *m = &u->maps[u->nmaps++];
        memset(m, 0, sizeof *m);
        m->start = cd->addr;
        m->size = cd->map_size ? cd->map_size : cd->len ? cd->len : 1;
        m->flags = cd->writable ? 1 : 0;
        m->path_len = 1;
        m->path[0] = next++;
    }
    return JAVM_OK;
}

int asm_parse(asm_unit *u, const char *text, size_t len, asm_err *err)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.u = u;
    ps.cur = -1;
    ps.lx.err = err;
    memset(err, 0, sizeof *err);
    const char *s = text, *end = text + len;
    uint32_t line = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        ps.lx = (lexer){ s, le, s, ++line, err };
        int rc = parse_line(&ps);
        if (rc)
            return rc;
        s = nl ? nl + 1 : end;
    }
    if (ps.cur >= 0 && !u->caps[ps.cur].is_section) {
        err->line = line;
        snprintf(err->msg, sizeof err->msg, "missing .endcap");
        return JAVM_ERR_INVALID_ARG;
    }
    if (place_sections(&ps)) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return JAVM_ERR_ALLOC;
    }
    return asm_layout(&u->prog, err);
}

/* ---- printer --------------------------------------------------------------------------- */

static void print_imm(FILE *f, uint64_t v)
{
    int64_t s = (int64_t)v;
    if (s > -4096 && s < 4096)
        fprintf(f, "%" PRId64, s);
    else if (s < 0)
        fprintf(f, "-0x%" PRIx64, (uint64_t)0 - v);
    else
        fprintf(f, "0x%" PRIx64, v);
}

static void print_opd(FILE *f, const asm_prog *p, const asm_opd *o, bool ext)
{
    if (o->kind == ASM_OPD_NUM) {
        if (ext && o->num >= 4096)
            fprintf(f, "0x%" PRIx64, o->num);
        else
            print_imm(f, o->num);
        return;
    }
    fprintf(f, "%s%s", o->kind == ASM_OPD_JT ? "&" : "", p->labels[o->label].name);
    if (o->num) {
        int64_t s = (int64_t)o->num;
        fprintf(f, "%c%" PRIu64, s < 0 ? '-' : '+', s < 0 ? (uint64_t)0 - o->num : o->num);
    }
}

static void print_hex(FILE *f, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", b[i]);
}

static void print_item(FILE *f, const asm_prog *p, const asm_item *it)
{
    if (it->kind != ASM_ITEM_INSN) {
        fputs(it->kind == ASM_ITEM_RAW ? "    .raw " : "    .insn ", f);
        print_hex(f, it->bytes, it->nbytes);
        fputc('\n', f);
        return;
    }
    exec_class c = exec_op_class(it->op);
    fprintf(f, "    %s", exec_op_name(it->op));
    int k = 0;
    int nregs = c == EXEC_CLS_THREEREG ? 3
                : (c == EXEC_CLS_TWOREG || c == EXEC_CLS_TWOREG_ONEIMM || c == EXEC_CLS_TWOREG_ONEOFF
                   || c == EXEC_CLS_TWOREG_TWOIMM) ? 2
                : (c == EXEC_CLS_ONEREG_EXTIMM || c == EXEC_CLS_ONEREG_ONEIMM || c == EXEC_CLS_ONEREG_TWOIMM
                   || c == EXEC_CLS_ONEREG_IMM_OFF) ? 1 : 0;
    for (int i = 0; i < nregs; i++)
        fprintf(f, "%sr%u", k++ ? ", " : " ", it->r[i]);
    unsigned fl = 0;
    switch (c) {
    case EXEC_CLS_ONEIMM: case EXEC_CLS_ONEREG_EXTIMM: case EXEC_CLS_ONEREG_ONEIMM:
    case EXEC_CLS_TWOREG_ONEIMM: fl = 1; break;
    case EXEC_CLS_TWOIMM: case EXEC_CLS_ONEREG_TWOIMM: case EXEC_CLS_TWOREG_TWOIMM: fl = 3; break;
    case EXEC_CLS_ONEOFF: case EXEC_CLS_TWOREG_ONEOFF: fl = 4; break;
    case EXEC_CLS_ONEREG_IMM_OFF: fl = 5; break;
    default: break;
    }
    if (fl & 1) {
        fputs(k++ ? ", " : " ", f);
        print_opd(f, p, &it->x, c == EXEC_CLS_ONEREG_EXTIMM);
    }
    if (fl & 2) {
        fputs(k++ ? ", " : " ", f);
        print_opd(f, p, &it->y, false);
    }
    if (fl & 4) {
        fputs(k++ ? ", " : " ", f);
        if (it->t.kind == ASM_OPD_NUM)
            fprintf(f, "%" PRIu64, it->t.num);
        else
            print_opd(f, p, &it->t, false);
    }
    if (it->bytes) {
        fputs(" !", f);
        print_hex(f, it->bytes, it->nbytes);
    }
    fputc('\n', f);
}

void asm_print_insn(FILE *f, const asm_prog *p, const asm_item *it) { print_item(f, p, it); }

int asm_print(const asm_unit *u, FILE *f)
{
    const asm_prog *p = &u->prog;
    fputs("; javm assembly (docs/guest.md)\n", f);
    if (p->jt_width >= 0)
        fprintf(f, ".jt_width %d\n", p->jt_width);
    for (size_t i = 0; i < p->njt; i++) {
        fputs(i % 8 ? ", " : i ? "\n.jumptable " : ".jumptable ", f);
        if (p->jt[i].kind == ASM_OPD_NUM)
            fprintf(f, "%" PRIu64, p->jt[i].num);
        else
            fputs(p->labels[p->jt[i].label].name, f);
    }
    if (p->njt)
        fputc('\n', f);
    for (size_t i = 0; i < u->ncaps; i++) {
        const asm_capdef *cd = &u->caps[i];
        if (cd->raw)
            fprintf(f, ".cap %s raw 0x%02x\n", cd->name, cd->kind);
        else
            fprintf(f, ".cap %s data\n", cd->name);
        for (size_t o = 0; o < cd->len; o += 64) {
            fputs("    .hex ", f);
            print_hex(f, cd->buf + o, cd->len - o < 64 ? cd->len - o : 64);
            fputc('\n', f);
        }
        fputs(".endcap\n", f);
    }
    for (size_t i = 0; i < u->npinned; i++)
        fprintf(f, ".pinned %u %s\n", u->pinned[i].slot, u->caps[u->pinned[i].cap].name);
    for (size_t i = 0; i < u->ninitial; i++)
        fprintf(f, ".initial %u %s\n", u->initial[i].slot, u->caps[u->initial[i].cap].name);
    for (size_t i = 0; i < u->nmaps; i++) {
        const javm_mapping *m = &u->maps[i];
        fprintf(f, ".mapping 0x%" PRIx64 ", 0x%" PRIx64 ", %s", m->start, m->size, m->flags & 1 ? "rw" : "ro");
        for (unsigned j = 0; j < m->path_len; j++)
            fprintf(f, ", %u", m->path[j]);
        fputc('\n', f);
    }
    if (u->has_yield)
        fprintf(f, ".yield_marker %u\n", u->yield_slot);
    for (size_t i = 0; i < u->neps; i++) {
        const asm_ep *ep = &u->eps[i];
        fputs(".endpoint ", f);
        if (ep->entry.kind == ASM_OPD_NUM)
            fprintf(f, "%" PRIu64 "\n", ep->entry.num);
        else {
            print_opd(f, p, &ep->entry, false);
            fputc('\n', f);
        }
        if (ep->stack_top)
            fprintf(f, "    .stack 0x%" PRIx64 "\n", ep->stack_top);
        for (unsigned r = 0; r < 13; r++)
            if (ep->regs[r] != (r == 1 ? ep->stack_top : 0))
                fprintf(f, "    .reg r%u, 0x%" PRIx64 "\n", r, ep->regs[r]);
        if (ep->arg_slot || ep->arg_size)
            fprintf(f, "    .arg_cnode %u, %u\n", ep->arg_slot, ep->arg_size);
    }
    /* Code labels, bucketed by the item they precede. */
    size_t *first = calloc(p->n + 2, sizeof *first), *next = calloc(p->nlabels + 1, sizeof *next);
    if (!first || !next) {
        free(first);
        free(next);
        return JAVM_ERR_ALLOC;
    }
    for (size_t l = p->nlabels; l-- > 0;) {
        if (!p->labels[l].is_code || !p->labels[l].defined)
            continue;
        size_t at = p->labels[l].item;
        next[l] = first[at];
        first[at] = l + 1;
    }
    fputs(".text\n", f);
    for (size_t i = 0; i <= p->n; i++) {
        for (size_t l = first[i]; l; l = next[l - 1])
            fprintf(f, "%s:\n", p->labels[l - 1].name);
        if (i < p->n)
            print_item(f, p, &p->items[i]);
    }
    free(first);
    free(next);
    return ferror(f) ? JAVM_ERR_IO : JAVM_OK;
}
