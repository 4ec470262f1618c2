/* SPDX-License-Identifier: MIT
 * bench/bench_jit.c — JIT compile speed and one-shot cost, printed side by side:
 *  1. compile throughput (MB of PVM code per second, ns per PVM instruction) on generated
 *     straight-line programs of 10^4 and 10^5 instructions (a mix of ALU, loads, stores and
 *     branches, in blocks of 8) and on the four shared benchmark programs;
 *  2. one-shot runs: prepare + run of a 1,000-instruction program once, on the interpreter and
 *     on the JIT (compile included), best of N.
 * Usage: bench_jit [RUNS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "javm.h"

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

typedef struct prog {
    uint8_t *code, *mask;
    uint64_t L, n;
} prog;

static void emit(prog *p, const uint8_t *b, unsigned len)
{
    p->mask[p->L / 8] |= (uint8_t)(1u << (p->L % 8));
    memcpy(p->code + p->L, b, len);
    p->L += len;
    p->n++;
}

/* About n instructions: blocks of 7 ALU and memory instructions and a branch to the next
 * block, then a trap. */
static prog gen(uint64_t n)
{
    prog p = { malloc(n * 8 + 64), calloc((n * 8 + 64) / 8 + 1, 1), 0, 0 };
    uint64_t i = 0;
    while (p.n + 8 < n) {
        uint8_t r1 = (uint8_t)(i % 7 + 2), r2 = (uint8_t)((i + 3) % 7 + 2);
        uint8_t add[3] = { 200, (uint8_t)(r1 | r2 << 4), r1 };        /* add_64 */
        uint8_t mul[3] = { 202, (uint8_t)(r2 | r1 << 4), r2 };        /* mul_64 */
        uint8_t xori[3] = { 133, (uint8_t)(r1 | r1 << 4), 0x5A };     /* xor_imm */
        uint8_t shl[3] = { 151, (uint8_t)(r2 | r2 << 4), 3 };         /* shlo_l_imm_64 */
        uint8_t st[4] = { 123, (uint8_t)(r1 | 1 << 4), 0x10, 0 };     /* store_ind_u64 [r1+16] */
        uint8_t ld[4] = { 130, (uint8_t)(r2 | 1 << 4), 0x10, 0 };     /* load_ind_u64 */
        uint8_t sub[3] = { 201, (uint8_t)(r1 | r2 << 4), r1 };        /* sub_64 */
        emit(&p, add, 3); emit(&p, mul, 3); emit(&p, xori, 3); emit(&p, shl, 3);
        emit(&p, st, 4); emit(&p, ld, 4); emit(&p, sub, 3);
        uint8_t br[6] = { 172, (uint8_t)(r1 | r2 << 4), 6, 0, 0, 0 };  /* branch_lt_u to next */
        emit(&p, br, 6);
        i++;
    }
    uint8_t trap[1] = { 0 };
    emit(&p, trap, 1);
    return p;
}

static int compile_row(const char *name, const uint8_t *code, uint64_t L, const uint8_t *mask, uint64_t n,
                       int runs)
{
    double best = 1e30;
    size_t bytes = 0;
    for (int r = 0; r < runs; r++) {
        javm_program *p;
        if (javm_prepare(code, L, mask, NULL, 0, NULL, &p))
            return 1;
        double t0 = now_ns();
        int rc = javm_program_compile(p, JAVM_GAS_PIPELINE);
        double dt = now_ns() - t0;
        if (rc) {
            printf("%-22s compile failed: %s\n", name, javm_strerror(rc));
            javm_program_free(p);
            return 1;
        }
        javm_program_jit_info(p, JAVM_GAS_PIPELINE, &bytes, NULL);
        javm_program_free(p);
        if (dt < best)
            best = dt;
    }
    printf("%-22s %10llu %12llu %10.1f %10.1f %9.1f %10zu\n", name, (unsigned long long)n,
           (unsigned long long)L, best / 1e3, (double)L / best * 1e3, best / (double)n, bytes);
    return 0;
}

static int blob_row(const char *name, const char *path, int runs)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("%-22s skipped: %s not found\n", name, path);
        return 0;
    }
    static uint8_t b[1 << 20];
    size_t len = fread(b, 1, sizeof b, f);
    fclose(f);
    javm_program *p;
    if (javm_prepare_blob(b, len, NULL, &p))
        return 1;
    uint64_t L, kl, n = 0;
    const uint8_t *code = javm_program_code(p, &L), *mask = javm_program_bitmask(p, &kl);
    for (uint64_t i = 0; i < L; i++)
        n += (mask[i / 8] >> (i % 8)) & 1;
    /* the jump table is left out: the compile cost of code is what is measured */
    int rc = compile_row(name, code, L, mask, n, runs);
    javm_program_free(p);
    return rc;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (!javm_jit_available()) {
        printf("skipped: this build has no JIT\n");
        return 0;
    }
    printf("JIT compile (pipeline gas model), best of %d\n", runs);
    printf("%-22s %10s %12s %10s %10s %9s %10s\n", "program", "instrs", "code bytes", "us", "MB/s", "ns/instr",
           "native B");
    int bad = 0;
    static const char *const names[4] = { "fib", "mem", "muldiv", "sieve" };
    for (int k = 0; k < 4; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.bin", JAVM_BENCH_PROGRAMS_DIR, names[k]);
        bad |= blob_row(names[k], path, runs);
    }
    uint64_t sizes[2] = { 10000, 100000 };
    for (int k = 0; k < 2; k++) {
        prog p = gen(sizes[k]);
        char name[64];
        snprintf(name, sizeof name, "generated %llu", (unsigned long long)sizes[k]);
        bad |= compile_row(name, p.code, p.L, p.mask, p.n, runs);
        free(p.code);
        free(p.mask);
    }
    /* one-shot: a fresh 1,000-instruction program prepared and run once per engine */
    prog p = gen(1000);
    double best[2] = { 1e30, 1e30 };
    static const javm_engine eng[2] = { JAVM_ENGINE_INTERP, JAVM_ENGINE_JIT };
    javm_memory *mem;
    if (javm_memory_new(&mem))
        return 1;
    javm_memory_set_perm(mem, 0, 1u << 20, JAVM_PERM_RW);
    for (int r = 0; r < runs; r++) {
        for (int e = 0; e < 2; e++) {
            double t0 = now_ns();
            javm_program *pr;
            if (javm_prepare(p.code, p.L, p.mask, NULL, 0, NULL, &pr))
                return 1;
            javm_state st;
            memset(&st, 0, sizeof st);
            st.gas = 1 << 30;
            st.mem = mem;
            st.regs[1] = 4096;
            st.engine = eng[e];
            javm_run(pr, &st, JAVM_GAS_PIPELINE, NULL, NULL);
            javm_program_free(pr);
            double dt = now_ns() - t0;
            if (dt < best[e])
                best[e] = dt;
        }
    }
    printf("one-shot 1,000-instruction program (prepare + run once): interp %.1f us, jit %.1f us "
           "(compile included), jit - interp %+.1f us (target <= +20 us)\n",
           best[0] / 1e3, best[1] / 1e3, (best[1] - best[0]) / 1e3);
    javm_memory_free(mem);
    free(p.code);
    free(p.mask);
    return bad;
}
