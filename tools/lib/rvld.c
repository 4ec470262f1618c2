/* SPDX-License-Identifier: MIT
 * tools/lib/rvld.c — RV64EM (+ Zbb, XTheadCondMov) ELF to JAVM image translation. One RISC-V
 * instruction becomes at most one PVM instruction (plus a `fallthrough` where a branch target
 * needs a block start, pvm.md §6.1); code addresses become jump-table addresses wherever the
 * program can see them (return addresses, function pointers, switch tables), so calls and
 * returns work at any depth through djump. Register map and conventions: docs/guest.md. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/opcodes.h"
#include "rvld.h"

enum {
    R_32 = 1, R_64 = 2, R_BRANCH = 16, R_JAL = 17, R_CALL = 18, R_CALL_PLT = 19, R_GOT_HI20 = 20,
    R_TLS_GOT_HI20 = 21, R_TLS_GD_HI20 = 22, R_PCREL_HI20 = 23, R_PCREL_LO12_I = 24,
    R_PCREL_LO12_S = 25, R_HI20 = 26, R_LO12_I = 27, R_LO12_S = 28, R_TPREL_HI20 = 29,
    R_TPREL_ADD = 32, R_ADD8 = 33, R_SUB64 = 40, R_32_PCREL = 57
};

#define ZERO 0xFF /* x0 in the register map */
#define NONE_INSN UINT32_MAX
#define DEFAULT_STACK (64u * 1024)

/* x1→φ0 (ra), x2→φ1 (sp), x5–x7→φ2–φ4, x8–x9→φ5–φ6, x10–x15→φ7–φ12; x3, x4, x16+ unmapped. */
static const uint8_t reg_map[32] = { ZERO, 0, 1, 0xFE, 0xFE, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                     0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE,
                                     0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE };

typedef struct section {
    const char *name;
    uint32_t type;
    uint64_t flags, addr, off, size, link, info, entsize;
} section;

typedef struct linker {
    const uint8_t *elf;
    size_t len;
    section *sec;
    uint32_t nsec;
    const uint8_t *symtab, *strtab;
    size_t nsym, strtab_len;
    /* text: every 4-byte word of the executable sections, by address */
    uint64_t *addr;
    uint32_t *word;
    size_t n;
    uint8_t *rtype;       /* per instruction: the relocation that matters here, or 0 */
    uint64_t *rtarget;    /* S + A of that relocation */
    bool *start;          /* needs a block start */
    uint32_t *label;      /* asm label of each instruction (label[n]: the final trap) */
    asm_unit *u;
    asm_prog *p;
    char *msg;
    size_t msglen;
} linker;

static int fail(linker *k, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->msg, k->msglen, fmt, ap);
    va_end(ap);
    return rc;
}

static uint64_t rd64(const uint8_t *b) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | b[i]; return v; }
static uint32_t rd32(const uint8_t *b) { return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24; }
static uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] | b[1] << 8); }

static bool in_file(const linker *k, uint64_t off, uint64_t size)
{
    return off <= k->len && size <= k->len - off;
}

/* ---- ELF ------------------------------------------------------------------------------- */

static int read_elf(linker *k)
{
    const uint8_t *e = k->elf;
    if (k->len < 4 || memcmp(e, "\177ELF", 4) != 0)
        return fail(k, JAVM_ERR_INVALID_ARG, "not an ELF file");
    if (k->len < 64)
        return fail(k, JAVM_ERR_INVALID_ARG, "truncated ELF header");
    if (e[4] != 2)
        return fail(k, JAVM_ERR_INVALID_ARG, "32-bit ELF: only RV64 (ELFCLASS64) is supported");
    if (e[5] != 1)
        return fail(k, JAVM_ERR_INVALID_ARG, "big-endian ELF: RISC-V is little-endian");
    uint16_t type = rd16(e + 16), machine = rd16(e + 18);
    if (machine != 243)
        return fail(k, JAVM_ERR_INVALID_ARG, "not a RISC-V ELF (e_machine %u, want 243)", machine);
    if (type != 2)
        return fail(k, JAVM_ERR_INVALID_ARG,
                    type == 3 ? "a shared or position-independent executable: link with -static, not -pie"
                              : "not an executable (e_type %u): link the objects with ld.lld-19 first",
                    type);
    uint32_t flags = rd32(e + 48);
    if (flags & 0x6)
        return fail(k, JAVM_ERR_INVALID_ARG, "hard-float ABI: floating point is not supported (use -mabi=lp64e)");
    uint64_t shoff = rd64(e + 40);
    uint16_t shentsize = rd16(e + 58), shnum = rd16(e + 60), shstrndx = rd16(e + 62);
    if (shnum == 0 || shentsize != 64 || !in_file(k, shoff, (uint64_t)shnum * 64) || shstrndx >= shnum)
        return fail(k, JAVM_ERR_INVALID_ARG, "truncated or malformed ELF section table");
    if (!(k->sec = calloc(shnum, sizeof *k->sec)))
        return fail(k, JAVM_ERR_ALLOC, "out of memory");
    k->nsec = shnum;
    for (uint32_t i = 0; i < shnum; i++) {
        const uint8_t *s = e + shoff + (uint64_t)i * 64;
        section *sc = &k->sec[i];
        sc->type = rd32(s + 4);
        sc->flags = rd64(s + 8);
        sc->addr = rd64(s + 16);
        sc->off = rd64(s + 24);
        sc->size = rd64(s + 32);
        sc->link = rd32(s + 40);
        sc->info = rd32(s + 44);
        sc->entsize = rd64(s + 56);
        sc->name = (const char *)(uintptr_t)rd32(s); /* offset for now */
        if (sc->type != 8 /* NOBITS */ && sc->type != 0 && !in_file(k, sc->off, sc->size))
            return fail(k, JAVM_ERR_INVALID_ARG, "ELF section %u runs past the end of the file", i);
    }
    const section *ss = &k->sec[shstrndx];
    for (uint32_t i = 0; i < shnum; i++) {
        uint64_t o = (uint64_t)(uintptr_t)k->sec[i].name;
        const char *nm = "";
        if (ss->type == 3 && o < ss->size && memchr(e + ss->off + o, 0, ss->size - o))
            nm = (const char *)e + ss->off + o;
        k->sec[i].name = nm;
    }
    for (uint32_t i = 0; i < shnum; i++) {
        section *sc = &k->sec[i];
        if (sc->type == 6 || sc->type == 11 || strcmp(sc->name, ".interp") == 0)
            return fail(k, JAVM_ERR_INVALID_ARG, "dynamic linking (%s): link with -static", sc->name);
        if (sc->type == 4 && strcmp(sc->name, ".rela.dyn") == 0 && sc->size)
            return fail(k, JAVM_ERR_INVALID_ARG, "dynamic relocations (.rela.dyn): link with -static, not -pie");
        if ((sc->flags & 0x400) && sc->size) /* SHF_TLS */
            return fail(k, JAVM_ERR_INVALID_ARG, "thread-local storage (%s) is not supported", sc->name);
        if (sc->type == 2) {
            if (sc->entsize != 24 || sc->link >= shnum || k->sec[sc->link].type != 3)
                return fail(k, JAVM_ERR_INVALID_ARG, "malformed symbol table");
            k->symtab = e + sc->off;
            k->nsym = sc->size / 24;
            k->strtab = e + k->sec[sc->link].off;
            k->strtab_len = k->sec[sc->link].size;
        }
        /* Only sections whose bytes were checked to lie in the file are read: a NULL or
         * NOBITS section may carry any offset (fuzz_ld found one named .riscv.attributes). */
        bool has_bytes = sc->type != 0 && sc->type != 8;
        if (has_bytes && (sc->type == 0x70000003 || strcmp(sc->name, ".riscv.attributes") == 0)) {
            /* The arch string: every extension must be one we translate. */
            const uint8_t *a = e + sc->off;
            for (uint64_t j = 0; j + 4 < sc->size; j++) {
                if (memcmp(a + j, "rv64", 4) != 0)
                    continue;
                const uint8_t *end = memchr(a + j, 0, sc->size - j);
                if (!end)
                    break;
                const char *arch = (const char *)a + j;
                for (const char *t = arch; t; t = strchr(t, '_')) {
                    if (*t == '_')
                        t++;
                    char c = t == arch ? 0 : *t;
                    if (c == 'f' || c == 'd' || c == 'q' || c == 'a' || c == 'c' || strncmp(t, "zc", 2) == 0
                        || strncmp(t, "zf", 2) == 0 || strncmp(t, "zaamo", 5) == 0)
                        return fail(k, JAVM_ERR_INVALID_ARG,
                                    "the ELF targets %s; extension '%.*s' is not supported (build with "
                                    "-march=rv64em, optionally _zbb or _xtheadcondmov)",
                                    arch, (int)strcspn(t, "_0123456789"), t);
                }
                break;
            }
        }
    }
    if (!k->symtab)
        return fail(k, JAVM_ERR_INVALID_ARG, "no symbol table (do not strip the ELF)");
    return JAVM_OK;
}

static bool sym_value(const linker *k, uint64_t idx, uint64_t *out)
{
    if (idx >= k->nsym)
        return false;
    *out = rd64(k->symtab + idx * 24 + 8);
    return true;
}

/* ---- text ------------------------------------------------------------------------------ */

static bool is_text(const section *s) { return s->type == 1 && (s->flags & 0x6) == 0x6 && s->size; }

static size_t find_insn(const linker *k, uint64_t a)
{
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (k->addr[m] < a)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < k->n && k->addr[lo] == a ? lo : NONE_INSN;
}

static bool in_text(const linker *k, uint64_t a)
{
    for (uint32_t i = 0; i < k->nsec; i++)
        if (is_text(&k->sec[i]) && a >= k->sec[i].addr && a - k->sec[i].addr < k->sec[i].size)
            return true;
    return false;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int collect_text(linker *k)
{
    size_t n = 0;
    for (uint32_t i = 0; i < k->nsec; i++) {
        const section *s = &k->sec[i];
        if (!is_text(s))
            continue;
        if (s->addr % 4 || s->size % 2)
            return fail(k, JAVM_ERR_INVALID_ARG, "section %s is not 4-byte aligned", s->name);
        n += s->size / 4 + 1;
    }
    if (!n)
        return fail(k, JAVM_ERR_INVALID_ARG, "no executable code in the ELF");
    uint64_t *pairs = calloc(n, sizeof *pairs);
    k->addr = calloc(n, sizeof *k->addr);
    k->word = calloc(n, sizeof *k->word);
    if (!pairs || !k->addr || !k->word) {
        free(pairs);
        return fail(k, JAVM_ERR_ALLOC, "out of memory");
    }
    for (uint32_t i = 0; i < k->nsec; i++) {
        const section *s = &k->sec[i];
        if (!is_text(s))
            continue;
        const uint8_t *b = k->elf + s->off;
        for (uint64_t o = 0; o < s->size; o += 4) {
            if (o + 2 > s->size) /* never read past the section (it may end the file) */
                return free(pairs), fail(k, JAVM_ERR_INVALID_ARG, "truncated instruction at 0x%" PRIx64, s->addr + o);
            if ((rd16(b + o) & 3) != 3 && rd16(b + o) != 0)
                return free(pairs), fail(k, JAVM_ERR_INVALID_ARG,
                                         "compressed instruction at 0x%" PRIx64
                                         ": build without the C extension (-march=rv64em)",
                                         s->addr + o);
            if (o + 4 > s->size)
                return free(pairs), fail(k, JAVM_ERR_INVALID_ARG, "truncated instruction at 0x%" PRIx64, s->addr + o);
            k->addr[k->n] = s->addr + o;
            k->word[k->n] = rd32(b + o);
            k->n++;
        }
    }
    /* Sort by address (sections may come in any order), keeping words with their address. */
    for (size_t i = 0; i < k->n; i++)
        pairs[i] = i;
    uint64_t *key = calloc(k->n, sizeof *key);
    uint32_t *w2 = calloc(k->n, sizeof *w2);
    if (!key || !w2) {
        free(pairs);
        free(key);
        free(w2);
        return fail(k, JAVM_ERR_ALLOC, "out of memory");
    }
    memcpy(key, k->addr, k->n * sizeof *key);
    qsort(k->addr, k->n, sizeof *k->addr, cmp_u64);
    for (size_t i = 0; i < k->n; i++) {
        size_t j = 0, lo = 0, hi = k->n;
        (void)j;
        while (lo < hi) { /* position of key[i] in the sorted addresses */
            size_t m = (lo + hi) / 2;
            if (k->addr[m] < key[i])
                lo = m + 1;
            else
                hi = m;
        }
        w2[lo] = k->word[i];
    }
    free(k->word);
    k->word = w2;
    free(key);
    free(pairs);
    for (size_t i = 1; i < k->n; i++)
        if (k->addr[i] == k->addr[i - 1])
            return fail(k, JAVM_ERR_INVALID_ARG, "overlapping code sections at 0x%" PRIx64, k->addr[i]);
    return JAVM_OK;
}

/* ---- relocations ----------------------------------------------------------------------- */

typedef struct dataref { uint64_t addr; unsigned width; uint64_t target; } dataref;

typedef struct region {
    uint64_t start, end; /* start page-aligned; end = last byte + 1 */
    bool writable;
    long cap;
} region;

static int read_relocs(linker *k, dataref **drefs, size_t *ndref)
{
    size_t cap = 0;
    for (uint32_t i = 0; i < k->nsec; i++) {
        const section *rs = &k->sec[i];
        if (rs->type != 4 || rs->info >= k->nsec)
            continue;
        if (rs->entsize != 24)
            return fail(k, JAVM_ERR_INVALID_ARG, "malformed relocation section %s", rs->name);
        const section *tgt = &k->sec[rs->info];
        if (!(tgt->flags & 2)) /* relocations of non-allocated sections (debug info) */
            continue;
        bool code = is_text(tgt);
        for (uint64_t o = 0; o + 24 <= rs->size; o += 24) {
            const uint8_t *r = k->elf + rs->off + o;
            uint64_t off = rd64(r), info = rd64(r + 8), add = rd64(r + 16), s;
            uint32_t type = (uint32_t)info;
            if (!sym_value(k, info >> 32, &s))
                return fail(k, JAVM_ERR_INVALID_ARG, "relocation at 0x%" PRIx64 " names a missing symbol", off);
            uint64_t target = s + add;
            if ((type >= R_TLS_GOT_HI20 && type <= R_TLS_GD_HI20) || (type >= R_TPREL_HI20 && type <= R_TPREL_ADD))
                return fail(k, JAVM_ERR_INVALID_ARG, "thread-local storage relocation at 0x%" PRIx64 " is not supported", off);
            if (type == R_GOT_HI20)
                return fail(k, JAVM_ERR_INVALID_ARG, "GOT-relative code at 0x%" PRIx64 ": build with -fno-pic", off);
            if (code) {
                size_t j = find_insn(k, off);
                if (j == NONE_INSN)
                    continue;
                if (type == R_CALL || type == R_CALL_PLT || type == R_PCREL_HI20 || type == R_PCREL_LO12_I
                    || type == R_PCREL_LO12_S || type == R_HI20 || type == R_LO12_I || type == R_LO12_S) {
                    k->rtype[j] = (uint8_t)type;
                    k->rtarget[j] = target;
                }
                continue;
            }
            if (type == R_64 || type == R_32) {
                if (!in_text(k, target))
                    continue; /* a data pointer: lld already wrote its final value */
                if (*ndref + 1 > cap) {
                    cap = cap ? cap * 2 : 64;
                    dataref *g = realloc(*drefs, cap * sizeof *g);
                    if (!g)
                        return fail(k, JAVM_ERR_ALLOC, "out of memory");
                    *drefs = g;
                }
                (*drefs)[(*ndref)++] = (dataref){ off, type == R_64 ? 8u : 4u, target };
            } else if (type == R_32_PCREL || (type >= R_ADD8 && type <= R_SUB64)) {
                if (in_text(k, target))
                    return fail(k, JAVM_ERR_INVALID_ARG,
                                "relative code address in data at 0x%" PRIx64 " (a PIC jump table?): build with -fno-pic",
                                off);
            }
        }
    }
    return JAVM_OK;
}

/* ---- translation ----------------------------------------------------------------------- */

static int64_t sext(uint64_t v, unsigned bits) { return (int64_t)(v << (64 - bits)) >> (64 - bits); }
static int64_t imm_i(uint32_t w) { return sext(w >> 20, 12); }
static int64_t imm_s(uint32_t w) { return sext(((w >> 25) << 5) | ((w >> 7) & 31), 12); }
static int64_t imm_u(uint32_t w) { return (int64_t)(int32_t)(w & 0xFFFFF000u); }
static int64_t imm_b(uint32_t w)
{
    return sext(((w >> 31) & 1) << 12 | ((w >> 7) & 1) << 11 | ((w >> 25) & 63) << 5 | ((w >> 8) & 15) << 1, 13);
}
static int64_t imm_j(uint32_t w)
{
    return sext(((w >> 31) & 1) << 20 | ((w >> 12) & 255) << 12 | ((w >> 20) & 1) << 11 | ((w >> 21) & 1023) << 1, 21);
}

typedef struct tr {
    linker *k;
    size_t i;        /* instruction index */
    uint64_t a;      /* its address */
} tr;

static int emit(tr *t, uint8_t op, uint8_t r0, uint8_t r1, uint8_t r2, asm_opd x, asm_opd y, asm_opd tg)
{
    asm_item it;
    memset(&it, 0, sizeof it);
    it.kind = ASM_ITEM_INSN;
    it.op = op;
    it.r[0] = r0;
    it.r[1] = r1;
    it.r[2] = r2;
    it.x = x;
    it.y = y;
    it.t = tg;
    if (asm_add(t->k->p, &it) < 0)
        return fail(t->k, JAVM_ERR_ALLOC, "out of memory");
    return JAVM_OK;
}

static asm_opd num(int64_t v) { return (asm_opd){ ASM_OPD_NUM, 0, (uint64_t)v }; }
static asm_opd lab(uint32_t l) { return (asm_opd){ ASM_OPD_LABEL, l, 0 }; }
static asm_opd jt(uint32_t l) { return (asm_opd){ ASM_OPD_JT, l, 0 }; }

static int e3(tr *t, uint8_t op, uint8_t d, uint8_t a, uint8_t b) { return emit(t, op, d, a, b, num(0), num(0), num(0)); }
static int e2(tr *t, uint8_t op, uint8_t d, uint8_t a) { return emit(t, op, d, a, 0, num(0), num(0), num(0)); }
static int e2i(tr *t, uint8_t op, uint8_t d, uint8_t a, int64_t x) { return emit(t, op, d, a, 0, num(x), num(0), num(0)); }
static int e1i(tr *t, uint8_t op, uint8_t a, asm_opd x) { return emit(t, op, a, 0, 0, x, num(0), num(0)); }
static int li(tr *t, uint8_t d, int64_t v)
{
    if (v != (int64_t)(int32_t)v)
        return emit(t, 20, d, 0, 0, num(v), num(0), num(0)); /* load_imm_64 */
    return e1i(t, 51, d, num(v));
}
static int mv(tr *t, uint8_t d, uint8_t s) { return d == s ? JAVM_OK : e2(t, 100, d, s); }

static int use_jt(tr *t, uint32_t label)
{
    if (asm_jt_use(t->k->p, label))
        return fail(t->k, JAVM_ERR_ALLOC, "out of memory");
    return JAVM_OK;
}

/* The label of the instruction at a code address (a branch, call or pointer target). */
static int target(tr *t, uint64_t addr, uint32_t *label)
{
    size_t j = find_insn(t->k, addr);
    if (j == NONE_INSN)
        return fail(t->k, JAVM_ERR_INVALID_ARG, "instruction at 0x%" PRIx64 " jumps to 0x%" PRIx64
                                                ", which is not an instruction", t->a, addr);
    *label = t->k->label[j];
    return JAVM_OK;
}

static int unsupported(tr *t, const char *what)
{
    return fail(t->k, JAVM_ERR_INVALID_ARG, "unsupported instruction 0x%08" PRIx32 " at 0x%" PRIx64 ": %s",
                t->k->word[t->i], t->a, what);
}

static int regs_ok(tr *t, int nregs, unsigned r1, unsigned r2, unsigned r3)
{
    unsigned r[3] = { r1, r2, r3 };
    for (int i = 0; i < nregs; i++)
        if (reg_map[r[i]] == 0xFE)
            return fail(t->k, JAVM_ERR_INVALID_ARG,
                        "instruction 0x%08" PRIx32 " at 0x%" PRIx64 " uses x%u, which has no PVM register "
                        "(only x0-x2 and x5-x15 map; build with -march=rv64em -mabi=lp64e)",
                        t->k->word[t->i], t->a, r[i]);
    return JAVM_OK;
}

/* Register-register ALU: PVM opcode for (opcode, funct7, funct3), and how x0 operands fold. */
typedef struct alu { uint8_t op; char zb, za; } alu;
/* zb (rs2 = x0) / za (rs1 = x0): 'm' move the other, 'w' sign-extend the other from 32 bits,
 * '0' zero, '1' all ones, 'n' negate (64), 'N' negate (32), '~' bitwise not, 'L' set_lt_s_imm 0,
 * 'G' set_gt_s_imm 0 / 'g' set_gt_u_imm 0, 'x' unsupported. */
static bool alu_op(uint32_t opc, uint32_t f7, uint32_t f3, alu *o)
{
    static const struct { uint8_t opc, f7, f3; alu a; } t[] = {
        { 0x33, 0, 0, { 200, 'm', 'm' } }, { 0x33, 0, 1, { 207, 'm', '0' } }, { 0x33, 0, 2, { 217, 'L', 'G' } },
        { 0x33, 0, 3, { 216, '0', 'g' } }, { 0x33, 0, 4, { 211, 'm', 'm' } }, { 0x33, 0, 5, { 208, 'm', '0' } },
        { 0x33, 0, 6, { 212, 'm', 'm' } }, { 0x33, 0, 7, { 210, '0', '0' } },
        { 0x33, 0x20, 0, { 201, 'm', 'n' } }, { 0x33, 0x20, 5, { 209, 'm', '0' } },
        { 0x33, 0x20, 4, { 226, '~', '~' } }, { 0x33, 0x20, 6, { 225, '1', '~' } }, { 0x33, 0x20, 7, { 224, 'm', '0' } },
        { 0x33, 1, 0, { 202, '0', '0' } }, { 0x33, 1, 1, { 213, '0', '0' } }, { 0x33, 1, 2, { 215, '0', '0' } },
        { 0x33, 1, 3, { 214, '0', '0' } }, { 0x33, 1, 4, { 204, '1', 'x' } }, { 0x33, 1, 5, { 203, '1', 'x' } },
        { 0x33, 1, 6, { 206, 'm', 'x' } }, { 0x33, 1, 7, { 205, 'm', 'x' } },
        { 0x33, 5, 4, { 229, 'x', 'x' } }, { 0x33, 5, 5, { 230, 'x', 'x' } }, { 0x33, 5, 6, { 227, 'x', 'x' } },
        { 0x33, 5, 7, { 228, 'x', 'x' } }, { 0x33, 0x30, 1, { 220, 'm', '0' } }, { 0x33, 0x30, 5, { 222, 'm', '0' } },
        { 0x3b, 0, 0, { 190, 'w', 'w' } }, { 0x3b, 0, 1, { 197, 'w', '0' } }, { 0x3b, 0, 5, { 198, 'w', '0' } },
        { 0x3b, 0x20, 0, { 191, 'w', 'N' } }, { 0x3b, 0x20, 5, { 199, 'w', '0' } },
        { 0x3b, 1, 0, { 192, '0', '0' } }, { 0x3b, 1, 4, { 194, '1', 'x' } }, { 0x3b, 1, 5, { 193, '1', 'x' } },
        { 0x3b, 1, 6, { 196, 'w', 'x' } }, { 0x3b, 1, 7, { 195, 'w', 'x' } },
        { 0x3b, 0x30, 1, { 221, 'w', '0' } }, { 0x3b, 0x30, 5, { 223, 'w', '0' } },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].opc == opc && t[i].f7 == f7 && t[i].f3 == f3) {
            *o = t[i].a;
            return true;
        }
    return false;
}

static int fold_zero(tr *t, char how, uint8_t d, uint8_t other)
{
    switch (how) {
    case 'm': return other == ZERO ? li(t, d, 0) : mv(t, d, other);
    case 'w': return other == ZERO ? li(t, d, 0) : e2i(t, 131, d, other, 0);
    case '0': return li(t, d, 0);
    case '1': return li(t, d, -1);
    case 'n': return other == ZERO ? li(t, d, 0) : e2i(t, 154, d, other, 0);
    case 'N': return other == ZERO ? li(t, d, 0) : e2i(t, 141, d, other, 0);
    case '~': return other == ZERO ? li(t, d, -1) : e2i(t, 133, d, other, -1);
    case 'L': return other == ZERO ? li(t, d, 0) : e2i(t, 137, d, other, 0);
    case 'G': return other == ZERO ? li(t, d, 0) : e2i(t, 143, d, other, 0);
    case 'g': return other == ZERO ? li(t, d, 0) : e2i(t, 142, d, other, 0);
    default: return unsupported(t, "an x0 operand this operation cannot fold");
    }
}

/* Whether instruction j's low-12 relocation completes the address of code (a function pointer
 * built with auipc/lui + addi): then the high part loaded the jump-table address already. */
static bool lo12_is_code(const linker *k, size_t j)
{
    uint8_t ty = k->rtype[j];
    if (ty == R_LO12_I || ty == R_LO12_S)
        return in_text(k, k->rtarget[j]);
    if (ty == R_PCREL_LO12_I || ty == R_PCREL_LO12_S) {
        size_t h = find_insn(k, k->rtarget[j]);
        return h != NONE_INSN && k->rtype[h] == R_PCREL_HI20 && in_text(k, k->rtarget[h]);
    }
    return false;
}

static int branch(tr *t, uint32_t w, uint8_t a, uint8_t b, uint32_t tl)
{
    static const uint8_t rr[8] = { 170, 171, 0, 0, 173, 175, 172, 174 };
    /* x0 on one side: compare the other with the immediate 0 (swapping the condition). */
    static const uint8_t a_zero[8] = { 81, 82, 0, 0, 90, 88, 82, 81 }; /* 0 <op> b */
    static const uint8_t b_zero[8] = { 81, 82, 0, 0, 87, 89, 0, 0 };   /* a <op> 0 */
    uint32_t f3 = (w >> 12) & 7;
    if (!rr[f3])
        return unsupported(t, "unknown branch");
    if (a == ZERO && b == ZERO) {
        bool taken = f3 == 0 || f3 == 5 || f3 == 7;
        return taken ? emit(t, 40, 0, 0, 0, num(0), num(0), lab(tl)) : JAVM_OK;
    }
    if (a == ZERO)
        return emit(t, a_zero[f3], b, 0, 0, num(0), num(0), lab(tl));
    if (b == ZERO) {
        if (f3 == 6) /* a <u 0: never */
            return JAVM_OK;
        if (f3 == 7) /* a >=u 0: always */
            return emit(t, 40, 0, 0, 0, num(0), num(0), lab(tl));
        return emit(t, b_zero[f3], a, 0, 0, num(0), num(0), lab(tl));
    }
    return emit(t, rr[f3], a, b, 0, num(0), num(0), lab(tl));
}

static int translate(tr *t, bool *skip_next)
{
    linker *k = t->k;
    uint32_t w = k->word[t->i];
    uint32_t opc = w & 0x7F, rdn = (w >> 7) & 31, f3 = (w >> 12) & 7, r1n = (w >> 15) & 31, r2n = (w >> 20) & 31,
             f7 = w >> 25;
    uint8_t rd = reg_map[rdn], r1 = reg_map[r1n], r2 = reg_map[r2n];
    uint32_t tl = 0;
    int rc;
    alu al;
    if (w == 0)
        return emit(t, 0, 0, 0, 0, num(0), num(0), num(0)); /* unimp padding: trap */
    switch (opc) {
    case 0x37: /* lui */
    case 0x17: /* auipc */
        if ((rc = regs_ok(t, 1, rdn, 0, 0)))
            return rc;
        if (opc == 0x17 && (k->rtype[t->i] == R_CALL || k->rtype[t->i] == R_CALL_PLT)) {
            /* auipc + jalr: a call or tail call to a known function */
            uint32_t w2 = t->i + 1 < k->n ? k->word[t->i + 1] : 0;
            if ((w2 & 0x707F) != 0x67 || ((w2 >> 15) & 31) != rdn)
                return unsupported(t, "a call relocation not followed by its jalr");
            if ((rc = regs_ok(t, 1, (w2 >> 7) & 31, 0, 0)) || (rc = target(t, t->a + (uint64_t)imm_u(w) + (uint64_t)imm_i(w2), &tl)))
                return rc;
            *skip_next = true;
            uint8_t link = reg_map[(w2 >> 7) & 31];
            if (link == ZERO)
                return emit(t, 40, 0, 0, 0, num(0), num(0), lab(tl));
            if ((rc = use_jt(t, k->label[t->i + 2])))
                return rc;
            return emit(t, 80, link, 0, 0, jt(k->label[t->i + 2]), num(0), lab(tl));
        }
        if (rd == ZERO)
            return JAVM_OK;
        if ((k->rtype[t->i] == R_PCREL_HI20 || k->rtype[t->i] == R_HI20) && in_text(k, k->rtarget[t->i])) {
            if ((rc = target(t, k->rtarget[t->i], &tl)) || (rc = use_jt(t, tl)))
                return rc;
            return e1i(t, 51, rd, jt(tl));
        }
        if (opc == 0x37)
            return li(t, rd, imm_u(w));
        if (!k->rtype[t->i] && 0)
            return unsupported(t, "auipc without a relocation");
        {
            uint64_t v = t->a + (uint64_t)imm_u(w);
            if (v >= (UINT64_C(1) << 32))
                return fail(k, JAVM_ERR_INVALID_ARG, "auipc at 0x%" PRIx64 " makes an address above 4 GiB", t->a);
            return li(t, rd, (int64_t)v);
        }
    case 0x6F: /* jal */
        if ((rc = regs_ok(t, 1, rdn, 0, 0)) || (rc = target(t, t->a + (uint64_t)imm_j(w), &tl)))
            return rc;
        if (rd == ZERO)
            return emit(t, 40, 0, 0, 0, num(0), num(0), lab(tl));
        if ((rc = use_jt(t, k->label[t->i + 1])))
            return rc;
        return emit(t, 80, rd, 0, 0, jt(k->label[t->i + 1]), num(0), lab(tl));
    case 0x67: /* jalr through a code pointer (a jump-table address) */
        if (f3 || (rc = regs_ok(t, 2, rdn, r1n, 0)))
            return f3 ? unsupported(t, "jalr with funct3 != 0") : rc;
        if (r1 == ZERO || imm_i(w))
            return unsupported(t, "jalr to an absolute address or with an offset (only code pointers can be jumped to)");
        if (rd == ZERO)
            return e1i(t, 50, r1, num(0));
        if ((rc = use_jt(t, k->label[t->i + 1])))
            return rc;
        return emit(t, 180, rd, r1, 0, jt(k->label[t->i + 1]), num(0), num(0));
    case 0x63: /* branches */
        if ((rc = regs_ok(t, 2, r1n, r2n, 0)) || (rc = target(t, t->a + (uint64_t)imm_b(w), &tl)))
            return rc;
        return branch(t, w, r1, r2, tl);
    case 0x03: { /* loads */
        static const uint8_t ind[8] = { 125, 127, 129, 130, 124, 126, 128, 0 };
        static const uint8_t abs_[8] = { 53, 55, 57, 58, 52, 54, 56, 0 };
        if (!ind[f3])
            return unsupported(t, "unknown load");
        if ((rc = regs_ok(t, 2, rdn, r1n, 0)))
            return rc;
        if (lo12_is_code(k, t->i))
            return unsupported(t, "a load from a code address");
        if (rd == ZERO)
            return JAVM_OK;
        if (r1 == ZERO)
            return e1i(t, abs_[f3], rd, num(imm_i(w)));
        return e2i(t, ind[f3], rd, r1, imm_i(w));
    }
    case 0x23: /* stores */
        if (f3 > 3)
            return unsupported(t, "unknown store");
        if ((rc = regs_ok(t, 2, r1n, r2n, 0)))
            return rc;
        if (lo12_is_code(k, t->i))
            return unsupported(t, "a store to a code address");
        if (r1 == ZERO && r2 == ZERO)
            return emit(t, (uint8_t)(30 + f3), 0, 0, 0, num(imm_s(w)), num(0), num(0));
        if (r1 == ZERO)
            return e1i(t, (uint8_t)(59 + f3), r2, num(imm_s(w)));
        if (r2 == ZERO)
            return emit(t, (uint8_t)(70 + f3), r1, 0, 0, num(imm_s(w)), num(0), num(0));
        return e2i(t, (uint8_t)(120 + f3), r2, r1, imm_s(w));
    case 0x13: { /* op-imm */
        int64_t im = imm_i(w);
        uint32_t i12 = w >> 20;
        if ((rc = regs_ok(t, 2, rdn, r1n, 0)))
            return rc;
        if (f3 == 0 && lo12_is_code(k, t->i))
            return rd == ZERO ? JAVM_OK : mv(t, rd, r1); /* completes a code pointer */
        if (rd == ZERO)
            return JAVM_OK;
        switch (f3) {
        case 0:
            if (r1 == ZERO)
                return li(t, rd, im);
            return im ? e2i(t, 149, rd, r1, im) : mv(t, rd, r1);
        case 2: return r1 == ZERO ? li(t, rd, 0 < im) : e2i(t, 137, rd, r1, im);
        case 3: return r1 == ZERO ? li(t, rd, im != 0) : e2i(t, 136, rd, r1, im);
        case 4: return r1 == ZERO ? li(t, rd, im) : e2i(t, 133, rd, r1, im);
        case 6: return r1 == ZERO ? li(t, rd, im) : e2i(t, 134, rd, r1, im);
        case 7: return r1 == ZERO ? li(t, rd, 0) : e2i(t, 132, rd, r1, im);
        case 1:
            if ((i12 >> 6) == 0)
                return r1 == ZERO ? li(t, rd, 0) : e2i(t, 151, rd, r1, i12 & 63);
            {
                static const struct { uint32_t i; uint8_t op; int64_t zero; } un[] = {
                    { 0x600, 104, 64 }, { 0x601, 106, 64 }, { 0x602, 102, 0 }, { 0x604, 108, 0 }, { 0x605, 109, 0 } };
                for (size_t j = 0; j < 5; j++)
                    if (un[j].i == i12)
                        return r1 == ZERO ? li(t, rd, un[j].zero) : e2(t, un[j].op, rd, r1);
            }
            return unsupported(t, "unknown op-imm");
        case 5:
            if (i12 == 0x6B8)
                return r1 == ZERO ? li(t, rd, 0) : e2(t, 111, rd, r1);
            if (i12 == 0x287)
                return unsupported(t, "orc.b has no PVM operation");
            if ((i12 >> 6) == 0 || (i12 >> 6) == 0x10 || (i12 >> 6) == 0x18) {
                uint8_t op = (i12 >> 6) == 0 ? 152 : (i12 >> 6) == 0x10 ? 153 : 158;
                return r1 == ZERO ? li(t, rd, 0) : e2i(t, op, rd, r1, i12 & 63);
            }
            return unsupported(t, "unknown shift");
        default: break;
        }
        return unsupported(t, "unknown op-imm");
    }
    case 0x1B: { /* op-imm-32 */
        uint32_t i12 = w >> 20;
        if ((rc = regs_ok(t, 2, rdn, r1n, 0)))
            return rc;
        if (rd == ZERO)
            return JAVM_OK;
        if (f3 == 0)
            return r1 == ZERO ? li(t, rd, imm_i(w)) : e2i(t, 131, rd, r1, imm_i(w));
        if (f3 == 1 && f7 == 0)
            return r1 == ZERO ? li(t, rd, 0) : e2i(t, 138, rd, r1, r2n);
        if (f3 == 1 && (i12 == 0x600 || i12 == 0x601 || i12 == 0x602)) {
            uint8_t op = i12 == 0x600 ? 105 : i12 == 0x601 ? 107 : 103;
            return r1 == ZERO ? li(t, rd, i12 == 0x602 ? 0 : 32) : e2(t, op, rd, r1);
        }
        if (f3 == 5 && (f7 == 0 || f7 == 0x20 || f7 == 0x30)) {
            uint8_t op = f7 == 0 ? 139 : f7 == 0x20 ? 140 : 160;
            return r1 == ZERO ? li(t, rd, 0) : e2i(t, op, rd, r1, r2n);
        }
        return unsupported(t, "unknown op-imm-32");
    }
    case 0x33:
    case 0x3B:
        if ((rc = regs_ok(t, 3, rdn, r1n, r2n)))
            return rc;
        if (opc == 0x3B && f7 == 4 && f3 == 4 && r2n == 0) /* zext.h */
            return rd == ZERO ? JAVM_OK : r1 == ZERO ? li(t, rd, 0) : e2(t, 110, rd, r1);
        if (!alu_op(opc, f7, f3, &al))
            return unsupported(t, f7 == 1 || opc == 0x33 ? "unknown operation" : "unknown 32-bit operation");
        if (rd == ZERO)
            return JAVM_OK;
        if (r2 == ZERO)
            return fold_zero(t, al.zb, rd, r1);
        if (r1 == ZERO)
            return fold_zero(t, al.za, rd, r2);
        return e3(t, al.op, rd, r1, r2);
    case 0x0F: /* fence */
        return JAVM_OK;
    case 0x73:
        if (w == 0x73)
            return emit(t, 3, 0, 0, 0, num(0), num(0), num(0)); /* ecall: op in a4 (φ11) */
        if (w == 0x100073)
            return emit(t, 0, 0, 0, 0, num(0), num(0), num(0)); /* ebreak: trap */
        return unsupported(t, "CSR and privileged instructions are not supported");
    case 0x0B: /* custom-0: the SDK's host-call marker, and XTheadCondMov */
        if (f3 == 0 && rdn == 0 && r1n == 0 && imm_i(w) >= 0)
            return e1i(t, 10, 0, num(imm_i(w)));
        if (f3 == 1 && (f7 == 0x20 || f7 == 0x21)) {
            if ((rc = regs_ok(t, 3, rdn, r1n, r2n)))
                return rc;
            bool iz = f7 == 0x20;
            if (rd == ZERO)
                return JAVM_OK;
            if (r2 == ZERO)
                return iz ? (r1 == ZERO ? li(t, rd, 0) : mv(t, rd, r1)) : JAVM_OK;
            if (r1 == ZERO)
                return e2i(t, iz ? 147 : 148, rd, r2, 0);
            return e3(t, iz ? 218 : 219, rd, r1, r2);
        }
        return unsupported(t, "unknown custom-0 instruction (host calls are `.insn i 0x0b, 0, x0, x0, N`)");
    case 0x2F:
        return unsupported(t, "atomic instructions (A extension) are not supported");
    case 0x07: case 0x27: case 0x43: case 0x47: case 0x4B: case 0x4F: case 0x53:
        return unsupported(t, "floating point is not supported (use -march=rv64em -mabi=lp64e)");
    default:
        return unsupported(t, "unknown opcode");
    }
}

/* auipc pairs the assembler resolved itself (calls and code addresses inside one section carry
 * no relocation): auipc rX + jalr _, o(rX) is a call; auipc rX + addi _, rX, o to code is a
 * code pointer. Recorded as the relocations lld would have emitted. */
static void infer_pairs(linker *k)
{
    for (size_t i = 0; i + 1 < k->n; i++) {
        uint32_t w = k->word[i], w2 = k->word[i + 1];
        if ((w & 0x7F) != 0x17 || k->addr[i + 1] != k->addr[i] + 4)
            continue;
        uint32_t rd = (w >> 7) & 31;
        uint64_t v = k->addr[i] + (uint64_t)imm_u(w);
        if ((w2 & 0x707F) == 0x67 && ((w2 >> 15) & 31) == rd) {
            k->rtype[i] = R_CALL;
            k->rtarget[i] = v + (uint64_t)imm_i(w2);
        } else if (!k->rtype[i] && (w2 & 0x707F) == 0x13 && ((w2 >> 15) & 31) == rd
                   && in_text(k, v + (uint64_t)imm_i(w2))) {
            k->rtype[i] = R_PCREL_HI20;
            k->rtarget[i] = v + (uint64_t)imm_i(w2);
            k->rtype[i + 1] = R_PCREL_LO12_I;
            k->rtarget[i + 1] = k->addr[i];
        }
    }
}

/* Block starts: every branch, jump and call target and every code address the program can
 * see (pointers in data, auipc/lui code addresses, endpoints). */
static int mark_starts(linker *k, const dataref *dr, size_t ndr)
{
    for (size_t i = 0; i < k->n; i++) {
        uint32_t w = k->word[i], opc = w & 0x7F;
        uint64_t tg = UINT64_MAX;
        if (opc == 0x63)
            tg = k->addr[i] + (uint64_t)imm_b(w);
        else if (opc == 0x6F)
            tg = k->addr[i] + (uint64_t)imm_j(w);
        else if ((opc == 0x17 || opc == 0x37) && k->rtype[i] && in_text(k, k->rtarget[i]))
            tg = (k->rtype[i] == R_CALL || k->rtype[i] == R_CALL_PLT) ? k->rtarget[i] : k->rtarget[i];
        if (tg != UINT64_MAX) {
            size_t j = find_insn(k, tg);
            if (j != NONE_INSN)
                k->start[j] = true;
        }
    }
    for (size_t i = 0; i < ndr; i++) {
        size_t j = find_insn(k, dr[i].target);
        if (j == NONE_INSN)
            return fail(k, JAVM_ERR_INVALID_ARG, "data at 0x%" PRIx64 " points into code at 0x%" PRIx64
                                                 ", which is not an instruction", dr[i].addr, dr[i].target);
        k->start[j] = true;
    }
    return JAVM_OK;
}

/* ---- data and endpoints ---------------------------------------------------------------- */

static bool is_data(const section *s)
{
    return (s->flags & 2) && !(s->flags & 4) && (s->type == 1 || s->type == 8 || s->type == 14 || s->type == 15)
           && s->size && strcmp(s->name, ".javm_endpoints") != 0;
}

static int build_data(linker *k, const dataref *dr, size_t ndr, uint64_t *data_end)
{
    asm_unit *u = k->u;
    region *rg = calloc(k->nsec + 1, sizeof *rg);
    size_t nr = 0;
    if (!rg)
        return fail(k, JAVM_ERR_ALLOC, "out of memory");
    /* sections by address */
    uint32_t *order = calloc(k->nsec + 1, sizeof *order);
    size_t no = 0;
    if (!order)
        return free(rg), fail(k, JAVM_ERR_ALLOC, "out of memory");
    for (uint32_t i = 0; i < k->nsec; i++)
        if (is_data(&k->sec[i]))
            order[no++] = i;
    for (size_t a = 1; a < no; a++)
        for (size_t b = a; b > 0 && k->sec[order[b]].addr < k->sec[order[b - 1]].addr; b--) {
            uint32_t x = order[b];
            order[b] = order[b - 1];
            order[b - 1] = x;
        }
    int rc = JAVM_OK;
    for (size_t a = 0; a < no; a++) {
        const section *s = &k->sec[order[a]];
        bool wr = (s->flags & 1) != 0;
        if (s->addr + s->size > (UINT64_C(1) << 32) || s->addr + s->size < s->addr) {
            rc = fail(k, JAVM_ERR_INVALID_ARG, "section %s lies above 4 GiB: use the javm linker script", s->name);
            goto done;
        }
        uint64_t page = s->addr & ~(uint64_t)(JAVM_PAGE_SIZE - 1);
        if (nr && page < ((rg[nr - 1].end + JAVM_PAGE_SIZE - 1) & ~(uint64_t)(JAVM_PAGE_SIZE - 1))) {
            if (rg[nr - 1].writable != wr) {
                rc = fail(k, JAVM_ERR_INVALID_ARG,
                          "section %s shares a page with a section of other permissions: use the javm linker script",
                          s->name);
                goto done;
            }
            if (s->addr + s->size > rg[nr - 1].end)
                rg[nr - 1].end = s->addr + s->size;
            continue;
        }
        rg[nr++] = (region){ page, s->addr + s->size, wr, -1 };
    }
    /* What one image may declare: the mappings' sizes are checked before anything is
     * allocated (a fuzzed .bss of 0x80001028 bytes was backed by a 2 GiB buffer) */
    uint64_t declared = 0;
    for (size_t r = 0; r < nr; r++)
        declared += rg[r].end - rg[r].start; /* each < 2^32, at most nsec of them */
    if (declared > RVLD_MAX_MEMORY) {
        rc = fail(k, JAVM_ERR_INVALID_ARG,
                  "the sections declare %" PRIu64 " bytes of data and bss; one image may declare at most %" PRIu64,
                  declared, (uint64_t)RVLD_MAX_MEMORY);
        goto done;
    }
    *data_end = 0x10000;
    for (size_t r = 0; r < nr; r++) {
        uint64_t size = rg[r].end - rg[r].start;
        /* The Data cap holds the bytes up to the end of the last section with contents (or
         * data reference); the mapping covers the whole region, and what lies beyond the
         * Data (.bss) reads as zero, so bss is never allocated. */
        uint64_t init = 0;
        for (size_t a = 0; a < no; a++) {
            const section *s = &k->sec[order[a]];
            if (s->addr >= rg[r].start && s->addr < rg[r].end && s->type != 8 &&
                s->addr + s->size - rg[r].start > init)
                init = s->addr + s->size - rg[r].start;
        }
        for (size_t d = 0; d < ndr; d++)
            if (dr[d].addr >= rg[r].start && dr[d].addr + dr[d].width <= rg[r].end &&
                dr[d].addr + dr[d].width - rg[r].start > init)
                init = dr[d].addr + dr[d].width - rg[r].start;
        asm_capdef *g = realloc(u->caps, (u->ncaps + 1) * sizeof *g);
        if (!g) {
            rc = fail(k, JAVM_ERR_ALLOC, "out of memory");
            goto done;
        }
        u->caps = g;
        asm_capdef *cd = &u->caps[u->ncaps];
        memset(cd, 0, sizeof *cd);
        char nm[32];
        snprintf(nm, sizeof nm, "seg_%" PRIx64, rg[r].start);
        cd->name = strdup(nm);
        cd->kind = JAVM_KIND_DATA;
        cd->buf = calloc(init ? init : 1, 1);
        cd->len = cd->cap = init;
        u->ncaps++;
        if (!cd->name || !cd->buf) {
            rc = fail(k, JAVM_ERR_ALLOC, "out of memory");
            goto done;
        }
        rg[r].cap = (long)u->ncaps - 1;
        for (size_t a = 0; a < no; a++) {
            const section *s = &k->sec[order[a]];
            if (s->addr >= rg[r].start && s->addr < rg[r].end && s->type != 8)
                memcpy(cd->buf + (s->addr - rg[r].start), k->elf + s->off, s->size);
        }
        for (size_t d = 0; d < ndr; d++) {
            if (dr[d].addr < rg[r].start || dr[d].addr + dr[d].width > rg[r].end)
                continue;
            size_t j = find_insn(k, dr[d].target);
            if (asm_jt_use(k->p, k->label[j]))
                return fail(k, JAVM_ERR_ALLOC, "out of memory");
            asm_fixup *fx = realloc(cd->fix, (cd->nfix + 1) * sizeof *fx);
            if (!fx) {
                rc = fail(k, JAVM_ERR_ALLOC, "out of memory");
                goto done;
            }
            cd->fix = fx;
            cd->fix[cd->nfix++] = (asm_fixup){ dr[d].addr - rg[r].start, dr[d].width, jt(k->label[j]), 0, 0 };
        }
        uint32_t slot = (uint32_t)r + 1;
        asm_slotref *sr = realloc(u->initial, (u->ninitial + 1) * sizeof *sr);
        javm_mapping *mp = realloc(u->maps, (u->nmaps + 2) * sizeof *mp);
        if (sr)
            u->initial = sr;
        if (mp)
            u->maps = mp;
        if (!sr || !mp) {
            rc = fail(k, JAVM_ERR_ALLOC, "out of memory");
            goto done;
        }
        u->initial[u->ninitial++] = (asm_slotref){ slot, (uint32_t)rg[r].cap };
        javm_mapping *m = &u->maps[u->nmaps++];
        memset(m, 0, sizeof *m);
        m->start = rg[r].start;
        m->size = size;
        m->flags = rg[r].writable;
        m->path_len = 1;
        m->path[0] = slot;
        uint64_t e = (rg[r].end + JAVM_PAGE_SIZE - 1) & ~(uint64_t)(JAVM_PAGE_SIZE - 1);
        if (e > *data_end)
            *data_end = e;
    }
done:
    free(rg);
    free(order);
    return rc;
}

static int endpoints(linker *k, uint64_t **fns, size_t *n)
{
    const section *s = NULL;
    for (uint32_t i = 0; i < k->nsec; i++)
        if (strcmp(k->sec[i].name, ".javm_endpoints") == 0)
            s = &k->sec[i];
    if (!s || !s->size || s->type != 1)
        return fail(k, JAVM_ERR_INVALID_ARG, "missing endpoint: no .javm_endpoints section "
                                             "(mark entry functions with JAVM_ENDPOINT(index, fn))");
    if (s->size % 16 || s->size / 16 > JAVM_MAX_ENDPOINTS)
        return fail(k, JAVM_ERR_INVALID_ARG, "malformed .javm_endpoints section");
    size_t m = s->size / 16;
    uint64_t *f = calloc(m, sizeof *f);
    if (!f)
        return fail(k, JAVM_ERR_ALLOC, "out of memory");
    for (size_t i = 0; i < m; i++) {
        uint64_t idx = rd64(k->elf + s->off + 16 * i), fn = rd64(k->elf + s->off + 16 * i + 8);
        if (idx >= m || f[idx])
            return free(f), fail(k, JAVM_ERR_INVALID_ARG, "endpoint indices must be 0..%zu, each once", m - 1);
        if (find_insn(k, fn) == NONE_INSN)
            return free(f), fail(k, JAVM_ERR_INVALID_ARG, "endpoint %" PRIu64 " is not a function in .text", idx);
        f[idx] = fn;
    }
    *fns = f;
    *n = m;
    return JAVM_OK;
}

int rvld_link(const uint8_t *elf, size_t len, const rvld_opts *opts, asm_unit *u, char *msg, size_t msglen)
{
    linker k;
    memset(&k, 0, sizeof k);
    k.elf = elf;
    k.len = len;
    k.u = u;
    k.p = &u->prog;
    k.msg = msg;
    k.msglen = msglen;
    dataref *dr = NULL;
    size_t ndr = 0, neps = 0;
    uint64_t *fns = NULL, data_end = 0;
    uint64_t stack = opts && opts->stack_size ? opts->stack_size : DEFAULT_STACK;
    int rc;
    if ((rc = read_elf(&k)) || (rc = collect_text(&k)))
        goto done;
    k.rtype = calloc(k.n, 1);
    k.rtarget = calloc(k.n, sizeof *k.rtarget);
    k.start = calloc(k.n, sizeof *k.start);
    k.label = calloc(k.n + 1, sizeof *k.label);
    if (!k.rtype || !k.rtarget || !k.start || !k.label) {
        rc = fail(&k, JAVM_ERR_ALLOC, "out of memory");
        goto done;
    }
    if ((rc = read_relocs(&k, &dr, &ndr)) || (rc = endpoints(&k, &fns, &neps)) || (infer_pairs(&k), 0) || (rc = mark_starts(&k, dr, ndr)))
        goto done;
    for (size_t i = 0; i < neps; i++)
        k.start[find_insn(&k, fns[i])] = true;
    for (size_t i = 0; i <= k.n; i++) {
        long l = asm_label_new(k.p);
        if (l < 0) {
            rc = fail(&k, JAVM_ERR_ALLOC, "out of memory");
            goto done;
        }
        k.label[i] = (uint32_t)l;
    }
    if ((rc = build_data(&k, dr, ndr, &data_end)))
        goto done;
    /* compared without adding: data_end + stack wrapped around for a stack near 2^64 */
    if (stack % JAVM_PAGE_SIZE || data_end > (UINT64_C(1) << 32) - JAVM_PAGE_SIZE ||
        stack > (UINT64_C(1) << 32) - JAVM_PAGE_SIZE - data_end) {
        rc = fail(&k, JAVM_ERR_INVALID_ARG, "the stack (%" PRIu64 " bytes) must be page-sized and fit below 4 GiB", stack);
        goto done;
    }
    uint64_t stack_top = data_end + stack;
    {
        javm_mapping *mp = realloc(u->maps, (u->nmaps + 1) * sizeof *mp);
        if (!mp) {
            rc = fail(&k, JAVM_ERR_ALLOC, "out of memory");
            goto done;
        }
        u->maps = mp;
        memset(&u->maps[u->nmaps], 0, sizeof *mp);
        u->maps[u->nmaps].start = data_end;
        u->maps[u->nmaps].size = stack;
        u->maps[u->nmaps].flags = 1;
        u->nmaps++;
    }
    /* Entry stubs: sp, then call the function with a return address that halts (ecalli 0). */
    tr t = { &k, 0, 0 };
    long halt = asm_label_new(k.p);
    long *ep_label = calloc(neps, sizeof *ep_label);
    if (halt < 0 || !ep_label || !(u->eps = calloc(neps, sizeof *u->eps))) {
        free(ep_label);
        rc = fail(&k, JAVM_ERR_ALLOC, "out of memory");
        goto done;
    }
    if ((rc = use_jt(&t, (uint32_t)halt)))
        goto eps_done;
    for (size_t i = 0; i < neps; i++) {
        if ((ep_label[i] = asm_label_new(k.p)) < 0) {
            rc = fail(&k, JAVM_ERR_ALLOC, "out of memory");
            goto eps_done;
        }
        asm_label_here(k.p, (uint32_t)ep_label[i]);
        if ((rc = li(&t, 1, (int64_t)stack_top))
            || (rc = emit(&t, 80, 0, 0, 0, jt((uint32_t)halt), num(0), lab(k.label[find_insn(&k, fns[i])]))))
            goto eps_done;
        asm_ep *ep = &u->eps[i];
        ep->entry = lab((uint32_t)ep_label[i]);
        ep->stack_top = stack_top;
        ep->regs[1] = stack_top;
    }
    u->neps = neps;
    asm_label_here(k.p, (uint32_t)halt);
    if ((rc = e1i(&t, 10, 0, num(0))) || (rc = emit(&t, 0, 0, 0, 0, num(0), num(0), num(0))))
        goto eps_done;
    for (size_t i = 0; i < k.n; i++) {
        bool skip = false;
        if (k.start[i] && !asm_last_is_terminator(k.p)
            && (rc = emit(&t, 1, 0, 0, 0, num(0), num(0), num(0))))
            goto eps_done;
        asm_label_here(k.p, k.label[i]);
        t.i = i;
        t.a = k.addr[i];
        if (i + 1 < k.n && k.addr[i + 1] != k.addr[i] + 4 && (k.word[i] & 0x7F) != 0x6F && (k.word[i] & 0x7F) != 0x67) {
            /* a gap in the code: nothing may fall through it */
        }
        if ((rc = translate(&t, &skip)))
            goto eps_done;
        if (skip) {
            i++;
            asm_label_here(k.p, k.label[i]);
        }
    }
    asm_label_here(k.p, k.label[k.n]);
    if ((rc = emit(&t, 0, 0, 0, 0, num(0), num(0), num(0))))
        goto eps_done;
    asm_err err;
    if ((rc = asm_layout(k.p, &err)))
        fail(&k, rc, "layout: %s", err.msg);
eps_done:
    free(ep_label);
done:
    free(dr);
    free(fns);
    free(k.sec);
    free(k.addr);
    free(k.word);
    free(k.rtype);
    free(k.rtarget);
    free(k.start);
    free(k.label);
    return rc;
}
