/* SPDX-License-Identifier: MIT
 * tests/ref/diff.h — differential execution of one program on the fast interpreter
 * (javm_prepare / javm_run) and on the reference (tests/ref/ref.h), under both profiles and
 * both gas models, with a scripted handler and resumes; plus the program generators and the
 * byte format shared by tests/test_differential.c and fuzz/fuzz_exec_diff.c. */
#ifndef TESTS_DIFF_H
#define TESTS_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "javm.h"

#define DIFF_MAX_PAGES 8
#define DIFF_MAX_JT 32
#define DIFF_MAX_CODE 4096
#define DIFF_MAX_BLOB (2 * DIFF_MAX_CODE + 8 * DIFF_MAX_JT + 64)
/* Gas is reduced below this so that a looping program stays cheap to run twice. */
#define DIFF_MAX_GAS 50000
#define DIFF_MAX_RESUMES 3
/* After this many calls the scripted handler always answers EXIT(Halt). */
#define DIFF_MAX_CALLS 24

/* splitmix64: the one PRNG of the differential tests; its state is the caller's. */
static inline uint64_t diff_rand(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}
static inline uint64_t diff_below(uint64_t *s, uint64_t n) { return n ? diff_rand(s) % n : 0; }

typedef struct diff_page {
    uint32_t page;    /* page number, < 2^20 */
    javm_perm perm;
    uint8_t fill;     /* 0: zero contents; else a pattern derived from this byte */
} diff_page;

/* One run configuration: the initial state and how the run is driven. */
typedef struct diff_case {
    uint64_t regs[JAVM_NUM_REGS];
    uint32_t pc;
    int64_t gas;
    diff_page pages[DIFF_MAX_PAGES];
    size_t npages;
    uint32_t M;              /* 25, 50, 75 or 100 */
    bool handler;            /* install the scripted handler (else HostCall/Ecall exits) */
    uint64_t handler_seed;
    unsigned resumes;        /* runs continued after an exit, 0..DIFF_MAX_RESUMES */
} diff_case;

/* A program as raw parts, or as a blob (then the parts are unused). */
typedef struct diff_prog {
    bool is_blob;
    uint8_t code[DIFF_MAX_CODE];
    uint8_t mask[DIFF_MAX_CODE / 8];
    uint64_t L;
    uint32_t jt[DIFF_MAX_JT];
    uint64_t njt;
    uint8_t blob[DIFF_MAX_BLOB];
    size_t blob_len;
} diff_prog;

/* What diff_run compares. REF (the default): javm_run on the engine javm_state.engine = AUTO
 * picks (so $JAVM_ENGINE decides) against the reference (tests/ref). JIT: javm_run with
 * engine JIT ("jit" in reports) against javm_run with engine INTERP ("interp"), both on the
 * same prepared program; the reference only checks the preparation. */
typedef enum diff_mode { DIFF_MODE_REF = 0, DIFF_MODE_JIT = 1 } diff_mode;
/* JIT mode: the CPU features the JIT may use, through $JAVM_JIT_CPU (read when a program is
 * compiled, i.e. at its first JIT run: every program of diff_run is prepared afresh). ENV
 * leaves the environment alone, NATIVE unsets it, BASELINE sets it to "baseline", CASE picks
 * one of the two from the top bit of the case's handler seed. */
typedef enum diff_cpu { DIFF_CPU_ENV = 0, DIFF_CPU_NATIVE, DIFF_CPU_BASELINE, DIFF_CPU_CASE } diff_cpu;

/* Two memories reused across cases (created once: javm_memory_new is not cheap). */
typedef struct diff_ctx {
    diff_mode mode;          /* set after diff_ctx_init (which zeroes it: REF) */
    diff_cpu cpu;
    uint64_t baseline_runs;  /* JIT mode: programs compiled with JAVM_JIT_CPU=baseline */
    javm_memory *mf, *mr;
    uint64_t runs;           /* runs compared (each profile x model x segment) */
    uint64_t exits[8];       /* how those runs ended, by javm_exit_reason */
    uint64_t steps;          /* instructions the reference executed in them */
    uint64_t rejected;       /* programs both preparations refused (per profile) */
} diff_ctx;

int diff_ctx_init(diff_ctx *ctx);
void diff_ctx_free(diff_ctx *ctx);

/* Runs the case on both sides (ctx->mode) under both profiles and both gas models, comparing
 * preparation status and parts, every block cost, and after every run segment the exit,
 * pc, registers, gas, steps, handler calls, every mapped page's bytes and permission, and the
 * dirty-page set. Returns the number of mismatches; report receives their description. */
int diff_run(diff_ctx *ctx, const diff_case *c, const diff_prog *p, char *report, size_t cap);

/* The fuzz input format (docs in diff.c): every byte string decodes to a case and program
 * (missing bytes read as zero); encode writes what decode reads back exactly. */
void diff_decode(const uint8_t *in, size_t len, diff_case *c, diff_prog *p);
size_t diff_encode(const diff_case *c, const diff_prog *p, uint8_t *out, size_t cap);

/* Writes a deblob blob (pvm.md §9.2) of the parts with entry width z (1..4, or 0 for an
 * empty table); returns its length, or 0 when cap is too small. */
size_t diff_blob_encode(const uint8_t *code, uint64_t L, const uint8_t *mask, const uint32_t *jt,
                        uint64_t njt, unsigned z, uint8_t *out, size_t cap);

/* Generators. A seed program (e.g. a v0.4 vector) to mutate: */
typedef struct diff_seed {
    const uint8_t *code, *mask;
    uint64_t L;
    const uint32_t *jt;
    uint64_t njt;
    const uint64_t *regs;
    uint32_t pc;
    const diff_page *pages;
    size_t npages;
} diff_seed;

void diff_gen_case(uint64_t *rng, diff_case *c);
void diff_gen_random(uint64_t *rng, diff_case *c, diff_prog *p);     /* random bytes */
void diff_gen_structured(uint64_t *rng, diff_case *c, diff_prog *p); /* real instructions */
void diff_gen_mutate(uint64_t *rng, const diff_seed *s, diff_case *c, diff_prog *p);
/* Turns raw parts into a blob, sometimes damaging it (for the blob-level checks). */
void diff_to_blob(uint64_t *rng, diff_prog *p);

/* Prints the case and program, and the fuzz input that reproduces them, in hex. */
void diff_dump(FILE *f, const diff_case *c, const diff_prog *p);

#endif
