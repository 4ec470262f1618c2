/* SPDX-License-Identifier: MIT
 * tests/ref/gas_ref.c — see gas_ref.h. Section numbers are those of shared/spec/gas.md. */
#include <stdlib.h>
#include <string.h>

#include "gas_ref.h"

/* ---- code access: ζ, the bitmask, skip, next (pvm.md §4.1) ------------------------------ */

static uint8_t z(const gas_ref_code *g, uint64_t i) { return i < g->L ? g->code[i] : 0; }

static bool kbit(const gas_ref_code *g, uint64_t i)
{
    if (i >= g->L)
        return true;
    return (g->bitmask[i / 8] >> (i % 8)) & 1;
}

static uint64_t skip_of(const gas_ref_code *g, uint64_t i)
{
    for (uint64_t j = 0; j < 24; j++)
        if (kbit(g, i + 1 + j))
            return j;
    return 24;
}

static uint64_t next_of(const gas_ref_code *g, uint64_t i) { return i + 1 + skip_of(g, i); }

/* ---- §1: defined opcodes, terminators ---------------------------------------------------- */

static bool is_defined(uint8_t o)
{
    return o == 0 || o == 1 || o == 3 || o == 10 || o == 20 || (o >= 30 && o <= 33) || o == 40 ||
           (o >= 50 && o <= 62) || (o >= 70 && o <= 73) || (o >= 80 && o <= 90) ||
           (o >= 100 && o <= 111) || (o >= 120 && o <= 161) || (o >= 170 && o <= 175) ||
           o == 180 || (o >= 190 && o <= 230);
}

static bool valid(const gas_ref_code *g, uint64_t p)
{
    return p < g->L && kbit(g, p) && is_defined(g->code[p]);
}

static uint8_t op(const gas_ref_code *g, uint64_t p) { return valid(g, p) ? g->code[p] : 0; }

static bool is_cond(uint8_t o) { return (o >= 81 && o <= 90) || (o >= 170 && o <= 175); }

static bool is_term(uint8_t o)
{
    return o == 0 || o == 1 || o == 40 || o == 50 || o == 80 || o == 180 || is_cond(o);
}

/* ---- §2.1 block starts ------------------------------------------------------------------- */

void gas_ref_starts(const gas_ref_code *g, bool *is_start)
{
    memset(is_start, 0, g->L + 1);
    if (valid(g, 0))
        is_start[0] = true;
    for (uint64_t n = 0; n < g->L; n++) {
        if (!valid(g, n) || !is_term(g->code[n]))
            continue;
        uint64_t b = next_of(g, n);
        if (b < g->L && valid(g, b))
            is_start[b] = true;
        if (b == g->L && (g->code[n] == 1 || is_cond(g->code[n])))
            is_start[b] = true; /* the vectors' end-of-code rule (item 3) */
    }
}

/* ---- §4 parameters ------------------------------------------------------------------------ */

enum { K_ALU, K_LOAD, K_STORE, K_MUL, K_DIV, K_N };

typedef struct params {
    uint16_t srcs, dsts; /* register sets, bit r = φr */
    int64_t lat;
    int slots;
    int units[K_N];
    bool move;
} params;

static int64_t sx(unsigned n, uint64_t v)
{
    if (n == 0)
        return 0;
    uint64_t m = UINT64_C(1) << (8 * n - 1);
    v &= (m << 1) - 1;
    return (int64_t)((v ^ m) - m);
}

static uint64_t le(const gas_ref_code *g, uint64_t at, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)z(g, at + i) << (8 * i);
    return v;
}

static unsigned clamp4(int64_t v) { return v < 0 ? 0 : v > 4 ? 4 : (unsigned)v; }

/* The decoded branch target of the conditional branch at p (pvm.md §4.3, §4.4), mod 2^32. */
static uint64_t target_of(const gas_ref_code *g, uint64_t p)
{
    int64_t l = (int64_t)skip_of(g, p);
    uint8_t o = g->code[p];
    int64_t off;
    if (o >= 81 && o <= 90) { /* OneReg + imm + offset */
        unsigned lx = clamp4((z(g, p + 1) / 16) % 8);
        unsigned ly = clamp4(l - (int64_t)lx - 1);
        off = sx(ly, le(g, p + 2 + lx, ly));
    } else { /* 170..175: TwoReg + offset */
        unsigned lx = clamp4(l - 1);
        off = sx(lx, le(g, p + 2, lx));
    }
    return ((uint64_t)p + (uint64_t)off) & 0xFFFFFFFFu;
}

static void set_units(params *q, int alu, int load, int store, int mul, int div)
{
    q->units[K_ALU] = alu;
    q->units[K_LOAD] = load;
    q->units[K_STORE] = store;
    q->units[K_MUL] = mul;
    q->units[K_DIV] = div;
}

static params params_of(const gas_ref_code *g, uint64_t p)
{
    params q;
    memset(&q, 0, sizeof q);
    uint8_t o = op(g, p);
    unsigned lo = z(g, p + 1) % 16, hi = z(g, p + 1) / 16, d3 = z(g, p + 2);
    lo = lo > 12 ? 12 : lo;
    hi = hi > 12 ? 12 : hi;
    d3 = d3 > 12 ? 12 : d3;
    uint16_t LO = (uint16_t)(1u << lo), HI = (uint16_t)(1u << hi), D3 = (uint16_t)(1u << d3);

    /* §4.1 roles */
    if (o == 20 || o == 51 || (o >= 52 && o <= 58) || o == 80) {
        q.dsts = LO;
    } else if (o == 50 || (o >= 59 && o <= 62) || (o >= 70 && o <= 73) || (o >= 81 && o <= 90)) {
        q.srcs = LO;
    } else if (o >= 100 && o <= 111) {
        q.srcs = HI;
        q.dsts = LO;
    } else if (o >= 120 && o <= 123) {
        q.srcs = LO | HI;
    } else if (o >= 124 && o <= 161) {
        q.srcs = HI;
        q.dsts = LO;
    } else if (o >= 170 && o <= 175) {
        q.srcs = LO | HI;
    } else if (o == 180) {
        q.srcs = HI;
        q.dsts = LO;
    } else if (o >= 190 && o <= 230) {
        q.srcs = LO | HI;
        q.dsts = D3;
    }
    bool overlap = (q.srcs & q.dsts) != 0;
#define P(a, b) (overlap ? (a) : (b))
#define PS(a, b) (lo == d3 ? (a) : (b))

    /* §4.3 table, row by row */
    switch (o) {
    case 100: q.move = true; q.lat = 0; q.slots = 1; break;
    case 200: case 201: case 210: case 211: case 212:
        q.lat = 1; q.slots = P(1, 2); set_units(&q, 1, 0, 0, 0, 0); break;
    case 190: case 191: q.lat = 2; q.slots = P(2, 3); set_units(&q, 1, 0, 0, 0, 0); break;
    case 132: case 133: case 134: case 149:
        q.lat = 1; q.slots = P(1, 2); set_units(&q, 1, 0, 0, 0, 0); break;
    case 151: case 152: case 153: case 158:
        q.lat = 1; q.slots = P(1, 2); set_units(&q, 1, 0, 0, 0, 0); break;
    case 111: q.lat = 1; q.slots = P(1, 2); set_units(&q, 1, 0, 0, 0, 0); break;
    case 131: case 138: case 139: case 140: case 160:
        q.lat = 2; q.slots = P(2, 3); set_units(&q, 1, 0, 0, 0, 0); break;
    case 102: case 103: case 104: case 105: case 108: case 109: case 110:
        q.lat = 1; q.slots = 1; set_units(&q, 1, 0, 0, 0, 0); break;
    case 106: case 107: q.lat = 2; q.slots = 1; set_units(&q, 2, 0, 0, 0, 0); break;
    case 207: case 208: case 209: case 220: case 222:
        q.lat = 1; q.slots = PS(2, 3); set_units(&q, 1, 0, 0, 0, 0); break;
    case 197: case 198: case 199: case 221: case 223:
        q.lat = 2; q.slots = PS(3, 4); set_units(&q, 1, 0, 0, 0, 0); break;
    case 155: case 156: case 157: case 159:
        q.lat = 1; q.slots = 3; set_units(&q, 1, 0, 0, 0, 0); break;
    case 144: case 145: case 146: case 161:
        q.lat = 2; q.slots = 4; set_units(&q, 1, 0, 0, 0, 0); break;
    case 136: case 137: case 142: case 143: case 216: case 217:
        q.lat = 3; q.slots = 3; set_units(&q, 1, 0, 0, 0, 0); break;
    case 218: case 219: q.lat = 2; q.slots = 2; set_units(&q, 1, 0, 0, 0, 0); break;
    case 147: case 148: q.lat = 2; q.slots = 3; set_units(&q, 1, 0, 0, 0, 0); break;
    case 227: case 228: case 229: case 230:
        q.lat = 3; q.slots = P(2, 3); set_units(&q, 1, 0, 0, 0, 0); break;
    case 224: case 225: q.lat = 2; q.slots = 3; set_units(&q, 1, 0, 0, 0, 0); break;
    case 226: q.lat = 2; q.slots = P(2, 3); set_units(&q, 1, 0, 0, 0, 0); break;
    case 154: q.lat = 2; q.slots = 3; set_units(&q, 1, 0, 0, 0, 0); break;
    case 141: q.lat = 3; q.slots = 4; set_units(&q, 1, 0, 0, 0, 0); break;
    case 51: q.lat = 1; q.slots = 1; break;
    case 20: q.lat = 1; q.slots = 2; break;
    case 202: case 150: q.lat = 3; q.slots = P(1, 2); set_units(&q, 1, 0, 0, 1, 0); break;
    case 192: case 135: q.lat = 4; q.slots = P(2, 3); set_units(&q, 1, 0, 0, 1, 0); break;
    case 213: case 214: q.lat = 4; q.slots = 4; set_units(&q, 1, 0, 0, 1, 0); break;
    case 215: q.lat = 6; q.slots = 4; set_units(&q, 1, 0, 0, 1, 0); break;
    case 193: case 194: case 195: case 196: case 203: case 204: case 205: case 206:
        q.lat = 60; q.slots = 4; set_units(&q, 1, 0, 0, 0, 1); break;
    case 52: case 53: case 54: case 55: case 56: case 57: case 58:
    case 124: case 125: case 126: case 127: case 128: case 129: case 130:
        q.lat = g->m; q.slots = 1; set_units(&q, 1, 1, 0, 0, 0); break;
    case 30: case 31: case 32: case 33: case 59: case 60: case 61: case 62:
    case 70: case 71: case 72: case 73: case 120: case 121: case 122: case 123:
        q.lat = 25; q.slots = 1; set_units(&q, 1, 0, 1, 0, 0); break;
    case 81: case 82: case 83: case 84: case 85: case 86: case 87: case 88: case 89: case 90:
    case 170: case 171: case 172: case 173: case 174: case 175: {
        /* §4.4 */
        uint8_t f = z(g, next_of(g, p)), t = z(g, target_of(g, p));
        q.lat = (f == 0 || f == 3 || t == 0 || t == 3) ? 1 : 20;
        q.slots = 1;
        set_units(&q, 1, 0, 0, 0, 0);
        break;
    }
    case 0: case 1: q.lat = 2; q.slots = 1; break;
    case 3: q.lat = 40; q.slots = 1; break;
    case 40: case 80: q.lat = 15; q.slots = 1; break;
    case 50: case 180: q.lat = 22; q.slots = 1; break;
    case 10: case 101: q.lat = 100; q.slots = 4; set_units(&q, 1, 0, 0, 0, 0); break;
    default: abort(); /* every model opcode has a row */
    }
#undef P
#undef PS
    return q;
}

/* ---- §5.3, transcribed -------------------------------------------------------------------- */

enum { DECODED, WAITING, EXECUTING, DONE };

typedef struct entry {
    int state;
    int64_t left;
    int units[K_N];
    size_t *deps;
    size_t ndeps;
    uint16_t regs;
} entry;

uint64_t gas_ref_cost(const gas_ref_code *g, uint64_t b, uint64_t *count)
{
    *count = 0;
    /* every entry ever created stays in `all` (deps keep pointing at retired ones); `rob`
     * lists the live ones oldest first, as indices into `all` */
    size_t cap = 64, nall = 0, nrob = 0;
    entry *all = malloc(cap * sizeof *all);
    size_t rob[32];
    if (!all)
        abort();
    int64_t pc = (int64_t)b; /* -1 = NONE */
    int64_t cycle = 0, dec = 4, iss = 5;
    int freeu[K_N] = { 4, 4, 4, 1, 1 };
    bool first = true;
    for (;;) {
        /* (a) decode */
        if (pc >= 0 && nrob < 32) {
            params q = params_of(g, (uint64_t)pc);
            if (first || q.slots <= dec) {
                first = false;
                dec -= q.slots;
                (*count)++;
                if (q.move) {
                    for (size_t i = 0; i < nrob; i++) {
                        entry *e = &all[rob[i]];
                        if (e->regs & q.srcs)
                            e->regs |= q.dsts;
                        else
                            e->regs &= (uint16_t)~q.dsts;
                    }
                } else {
                    if (nall == cap) {
                        cap *= 2;
                        all = realloc(all, cap * sizeof *all);
                        if (!all)
                            abort();
                    }
                    entry *n = &all[nall];
                    n->state = DECODED;
                    n->left = q.lat;
                    memcpy(n->units, q.units, sizeof n->units);
                    n->deps = malloc(32 * sizeof *n->deps);
                    if (!n->deps)
                        abort();
                    n->ndeps = 0;
                    for (size_t i = 0; i < nrob; i++)
                        if (all[rob[i]].regs & q.srcs)
                            n->deps[n->ndeps++] = rob[i];
                    n->regs = q.dsts;
                    for (size_t i = 0; i < nrob; i++)
                        all[rob[i]].regs &= (uint16_t)~q.dsts;
                    rob[nrob++] = nall++;
                }
                pc = is_term(op(g, (uint64_t)pc)) ? -1 : (int64_t)next_of(g, (uint64_t)pc);
                continue;
            }
        }
        /* (b) start the oldest ready instruction */
        if (iss > 0) {
            size_t j = SIZE_MAX;
            for (size_t i = 0; i < nrob && j == SIZE_MAX; i++) {
                entry *e = &all[rob[i]];
                if (e->state != WAITING)
                    continue;
                bool ok = true;
                for (int k = 0; k < K_N; k++)
                    ok = ok && e->units[k] <= freeu[k];
                for (size_t d = 0; d < e->ndeps; d++)
                    ok = ok && all[e->deps[d]].left <= 0;
                if (ok)
                    j = rob[i];
            }
            if (j != SIZE_MAX) {
                all[j].state = EXECUTING;
                for (int k = 0; k < K_N; k++)
                    freeu[k] -= all[j].units[k];
                iss--;
                continue;
            }
        }
        /* (c) stop */
        if (pc < 0 && nrob == 0)
            break;
        /* (d) end of cycle, every test on the values from before this step */
        size_t k = 0;
        while (k < nrob && all[rob[k]].state == DONE)
            k++;
        memmove(rob, rob + k, (nrob - k) * sizeof rob[0]);
        nrob -= k;
        for (size_t i = 0; i < nrob; i++) {
            entry *e = &all[rob[i]];
            if (e->state == DECODED) {
                e->state = WAITING;
            } else if (e->state == EXECUTING) {
                int64_t before = e->left;
                if (before == 1) {
                    e->regs = 0;
                    for (int u = 0; u < K_N; u++)
                        freeu[u] += e->units[u];
                }
                if (before == 0)
                    e->state = DONE;
                e->left = before - 1;
            }
        }
        cycle++;
        dec = 4;
        iss = 5;
    }
    for (size_t i = 0; i < nall; i++)
        free(all[i].deps);
    free(all);
    return cycle - 3 > 1 ? (uint64_t)(cycle - 3) : 1;
}
