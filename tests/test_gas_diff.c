/* SPDX-License-Identifier: MIT
 * tests/test_gas_diff.c — differential test of the jam-draft gas model: the block costs a
 * jam-draft program holds (exec/gas_draft.c through javm_prepare) against the plain
 * transcription of gas.md in tests/ref/gas_ref.c, on random programs and on mutations of the
 * v0.4 vector programs and the benchmark programs, at both load latencies. Every position
 * 0..L is compared: the block-start set, the jam-draft cost and the instruction count.
 * Deterministic (fixed splitmix64 seed); at least 10^6 blocks must be compared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>

#include "javm.h"
#include "ref/gas_ref.h"
#include "vector.h"

#define VECTOR_DIR JAVM_VECTORS_DIR
#define BENCH_DIR JAVM_BENCH_PROGRAMS_DIR
#define SEED UINT64_C(0x6761732d64726166) /* "gas-draf" */
#define MIN_BLOCKS 1000000u
#define MAXL 4096

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

typedef struct prog {
    uint8_t code[MAXL];
    uint8_t mask[MAXL / 8 + 1];
    uint64_t L;
} prog;

typedef struct tally {
    uint64_t programs, blocks, positions;
} tally;

/* Compares every position of p under load latency m; returns the number of mismatches and
 * prints the first. */
static unsigned compare(const prog *p, uint32_t m, tally *t, const char *what)
{
    javm_prepare_opts o = { JAVM_PROFILE_JAM_DRAFT, m };
    javm_program *fp = NULL;
    int rc = javm_prepare(p->code, p->L, p->mask, NULL, 0, &o, &fp);
    if (rc != JAVM_OK) {
        printf("%s: javm_prepare failed: %s\n", what, javm_strerror(rc));
        return 1;
    }
    gas_ref_code g = { p->code, p->L, p->mask, m };
    bool *starts = malloc(p->L + 1);
    assert_non_null(starts);
    gas_ref_starts(&g, starts);
    unsigned bad = 0;
    for (uint64_t pos = 0; pos <= p->L; pos++) {
        uint64_t fc = javm_program_block_cost(fp, (uint32_t)pos, JAVM_GAS_JAM_DRAFT);
        uint64_t fi = javm_program_block_cost(fp, (uint32_t)pos, JAVM_GAS_INSTR);
        uint64_t rc_ = 0, ri = 0;
        if (starts[pos]) {
            rc_ = gas_ref_cost(&g, pos, &ri);
            t->blocks++;
        }
        if (fc != rc_ || fi != ri) {
            if (!bad)
                printf("%s (L %llu, m %u): pos %llu: cost %llu (ref %llu), instructions %llu "
                       "(ref %llu)\n", what, (unsigned long long)p->L, m,
                       (unsigned long long)pos, (unsigned long long)fc,
                       (unsigned long long)rc_, (unsigned long long)fi,
                       (unsigned long long)ri);
            bad++;
        }
    }
    t->positions += p->L + 1;
    t->programs++;
    free(starts);
    javm_program_free(fp);
    return bad;
}

/* Opcodes weighted toward what compilers emit, with every defined byte and some undefined
 * ones possible. */
static uint8_t pick_op(uint64_t *s)
{
    static const uint8_t common[] = {
        0, 1, 3, 10, 20, 40, 50, 51, 52, 56, 58, 59, 61, 62, 80, 81, 82, 83, 85, 86, 100,
        100, 100, 106, 124, 128, 130, 120, 122, 123, 131, 132, 149, 149, 150, 151, 153, 170,
        171, 172, 173, 174, 175, 180, 190, 192, 193, 197, 200, 200, 201, 202, 203, 207, 209,
        210, 211, 213, 216, 218, 219, 222, 223, 224, 227, 147, 155, 144, 141, 154, 226,
    };
    uint64_t r = rnd(s) % 100;
    if (r < 80)
        return common[rnd(s) % sizeof common];
    return (uint8_t)rnd(s); /* anything, undefined bytes included */
}

/* A random program of about `len` bytes: instructions of 1..n bytes with random operand
 * bytes (registers biased to a few so dependencies form), rarely a stray bitmask bit. */
static void gen_random(prog *p, uint64_t *s, uint64_t len)
{
    memset(p, 0, sizeof *p);
    uint64_t L = 0;
    while (L < len) {
        uint8_t o = pick_op(s);
        uint64_t n = 1 + rnd(s) % 5;
        if (rnd(s) % 16 == 0)
            n = 1 + rnd(s) % 30; /* long skips, capped at 24 */
        if (L + n > len)
            n = len - L;
        p->code[L] = o;
        p->mask[L / 8] |= (uint8_t)(1u << (L % 8));
        for (uint64_t i = 1; i < n; i++) {
            uint64_t r = rnd(s);
            if (i == 1)
                p->code[L + i] = (uint8_t)((r % 6) | ((r >> 8) % 6) << 4 | (r % 11 == 0 ? 0xDD : 0));
            else if (i == 2)
                p->code[L + i] = (uint8_t)(r % 9 == 0 ? r >> 16 : r % 14);
            else
                p->code[L + i] = (uint8_t)(r % 3 == 0 ? (r >> 8) % 32 - 16 : r >> 24);
        }
        L += n;
    }
    if (L && rnd(s) % 4 == 0) {
        uint64_t i = rnd(s) % L;
        p->mask[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    p->L = L;
}

/* A program of long blocks (tens to hundreds of instructions between terminators) of
 * long-latency, unit-hungry instructions: divisions, ecalli, loads, stores, multiplies and
 * ALU operations on a few registers. These reach what random programs rarely do: blocks of
 * more than 32 entries (the ROB fills), of more than 64 positions and past 1,024 cycles,
 * where the model's fast paths hand over to the simulation. With one register, operations
 * that read and write it: every instruction waits for the one before (long in-order
 * chains); with four, any of them, competing for units. */
static void gen_long_blocks(prog *p, uint64_t *s, uint64_t len, unsigned nregs)
{
    static const uint8_t ops[] = {
        193, 203, 206, 10, 52, 58, 124, 130, 59, 122, 123, 202, 192, 213, 200, 149, 190, 207,
        106, 100, 100, 51, 20, 3, 218, 216,
    };
    static const uint8_t chain[] = { 203, 193, 130, 124, 202, 200, 149, 190, 100, 216 };
    memset(p, 0, sizeof *p);
    uint64_t L = 0, run = 20 + rnd(s) % 300;
    while (L < len) {
        uint8_t o = nregs == 1 ? chain[rnd(s) % sizeof chain] : ops[rnd(s) % sizeof ops];
        if (!--run)
            o = (uint8_t)(rnd(s) % 2 ? 1 : 40);
        if (!run)
            run = 20 + rnd(s) % 300;
        uint64_t n = o == 20 ? 10 : 3;
        if (L + n > len)
            n = len - L;
        p->code[L] = o;
        p->mask[L / 8] |= (uint8_t)(1u << (L % 8));
        for (uint64_t i = 1; i < n; i++)
            p->code[L + i] = (uint8_t)(i == 1 ? (rnd(s) % nregs) | (rnd(s) % nregs) << 4 : rnd(s) % nregs);
        L += n;
    }
    p->L = L;
}

/* Blocks of one-slot instructions on three registers: immediates (no unit, no source), ALU
 * operations that overwrite their source (one slot), loads and `unlikely`, so that many
 * entries become ready in the same cycle and the five-starts-a-cycle limit binds (random
 * programs reach it a few times in 10^6 blocks). */
static void gen_narrow(prog *p, uint64_t *s, uint64_t len)
{
    static const uint8_t ops[] = { 51, 51, 51, 3, 149, 132, 133, 151, 130, 128, 100, 202 };
    memset(p, 0, sizeof *p);
    uint64_t L = 0, run = 4 + rnd(s) % 28;
    while (L < len) {
        uint8_t o = ops[rnd(s) % sizeof ops];
        if (!--run) {
            o = (uint8_t)(rnd(s) % 3 ? 1 : 82);
            run = 4 + rnd(s) % 28;
        }
        uint8_t a = (uint8_t)(rnd(s) % 3), b = o == 100 || o == 130 || o == 128 ? (uint8_t)(rnd(s) % 3) : a;
        uint8_t bytes[4] = { o, (uint8_t)(a | b << 4), (uint8_t)(o == 202 ? a : rnd(s) % 8), 0 };
        uint64_t n = o == 3 || o == 1 ? 1 : o == 100 ? 2 : 3;
        if (o == 82)
            n = 4;
        if (L + n > len)
            n = len - L;
        memcpy(p->code + L, bytes, n);
        p->mask[L / 8] |= (uint8_t)(1u << (L % 8));
        L += n;
    }
    p->L = L;
}

static void mutate(prog *p, uint64_t *s)
{
    unsigned k = 1 + (unsigned)(rnd(s) % 4);
    for (unsigned j = 0; j < k && p->L; j++) {
        uint64_t i = rnd(s) % p->L;
        switch (rnd(s) % 4) {
        case 0: p->code[i] = (uint8_t)rnd(s); break;
        case 1: p->code[i] = pick_op(s); break;
        case 2: p->mask[i / 8] ^= (uint8_t)(1u << (i % 8)); break;
        default: p->code[i] ^= (uint8_t)(1u << (rnd(s) % 8)); break;
        }
    }
}

/* Loads the code and bitmask of a deblob (any profile splits the same). */
static bool load_blob(const uint8_t *blob, size_t len, prog *out)
{
    javm_program *fp = NULL;
    javm_prepare_opts o = { JAVM_PROFILE_JAM_DRAFT, 25 };
    if (javm_prepare_blob(blob, len, &o, &fp) != JAVM_OK)
        return false;
    uint64_t L, kl;
    const uint8_t *c = javm_program_code(fp, &L);
    const uint8_t *k = javm_program_bitmask(fp, &kl);
    bool ok = L <= MAXL;
    if (ok) {
        memset(out, 0, sizeof *out);
        memcpy(out->code, c, L);
        memcpy(out->mask, k, kl);
        out->L = L;
    }
    javm_program_free(fp);
    return ok;
}

static size_t load_seed_programs(prog **out)
{
    size_t n = 0, cap = 512;
    prog *v = malloc(cap * sizeof *v);
    assert_non_null(v);
    DIR *d = opendir(VECTOR_DIR);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < cap) {
        size_t nl = strlen(e->d_name);
        if (nl < 5 || strcmp(e->d_name + nl - 5, ".json") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", VECTOR_DIR, e->d_name);
        tv_vector tv;
        char err[256];
        if (tv_load(path, &tv, err, sizeof err) != JAVM_OK)
            continue;
        if (load_blob(tv.program, tv.program_len, &v[n]))
            n++;
        tv_free(&tv);
    }
    if (d)
        closedir(d);
    static const char *const bins[] = { "fib", "mem", "muldiv", "sieve" };
    for (size_t i = 0; i < 4 && n < cap; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.bin", BENCH_DIR, bins[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        uint8_t buf[MAXL + 64];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        if (load_blob(buf, len, &v[n]))
            n++;
    }
    *out = v;
    return n;
}

static void test_gas_differential(void **state)
{
    (void)state;
    uint64_t s = SEED;
    tally t = { 0, 0, 0 };
    unsigned bad = 0;
    prog *p = malloc(sizeof *p);
    assert_non_null(p);
    /* the vector and benchmark programs themselves, then mutations of them */
    prog *seeds = NULL;
    size_t nseeds = load_seed_programs(&seeds);
    printf("%zu seed programs\n", nseeds);
    for (size_t i = 0; i < nseeds && bad < 5; i++) {
        bad += compare(&seeds[i], 25, &t, "seed");
        bad += compare(&seeds[i], 37, &t, "seed");
    }
    for (unsigned i = 0; nseeds && i < 20000 && bad < 5; i++) {
        *p = seeds[rnd(&s) % nseeds];
        mutate(p, &s);
        bad += compare(p, rnd(&s) % 2 ? 37 : 25, &t, "mutated seed");
    }
    /* long blocks */
    for (unsigned i = 0; i < 200 && bad < 5; i++) {
        gen_long_blocks(p, &s, 500 + rnd(&s) % (MAXL - 500), i % 2 ? 4 : 1);
        if (i % 3 == 0)
            mutate(p, &s);
        bad += compare(p, i % 2 ? 37 : 25, &t, "long blocks");
    }
    /* many starts in one cycle */
    for (unsigned i = 0; i < 3000 && bad < 5; i++) {
        gen_narrow(p, &s, 50 + rnd(&s) % 400);
        bad += compare(p, i % 2 ? 37 : 25, &t, "narrow");
    }
    /* random programs, short and long, until enough blocks have been compared */
    for (unsigned i = 0; (t.blocks < MIN_BLOCKS || i < 2000) && bad < 5; i++) {
        uint64_t len = i % 10 == 0 ? 1 + rnd(&s) % MAXL : 1 + rnd(&s) % 400;
        gen_random(p, &s, len);
        if (i % 3 == 0)
            mutate(p, &s);
        bad += compare(p, i % 2 ? 37 : 25, &t, "random");
    }
    printf("%llu programs, %llu positions, %llu blocks compared, %u mismatches\n",
           (unsigned long long)t.programs, (unsigned long long)t.positions,
           (unsigned long long)t.blocks, bad);
    free(seeds);
    free(p);
    assert_int_equal(bad, 0);
    assert_true(t.blocks >= MIN_BLOCKS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gas_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
