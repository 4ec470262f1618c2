/* SPDX-License-Identifier: MIT
 * bench/bench_gas.c — speed of the block-cost computation of the jam-draft gas model
 * (exec/gas_draft.c), in MB of code per second: on a generated program of 200,000
 * instructions with a compiler-like mix, on the largest guest program available (blake2b,
 * built with clang-19 when present), and on any deblob or JIMG files given as arguments.
 * Prints, per program, the block-cost computation alone (every block start, best of N
 * samples of at least ~4 MB of code, repeating a small program's blocks) and
 * the whole javm_prepare under the jam-draft and JAVM profiles. Usage: bench_gas [FILE...]
 * (BENCH_GAS_PASSES / BENCH_GAS_ONLY: see measure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disasm.h"
#include "exec/exec.h"
#include "guestbuild.h"

#define RUNS 7

/* CPU time of this thread: the project machine's two cores are shared, and wall time
 * measured the other tenants as much as this code. */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

typedef struct code_buf {
    uint8_t *c, *k;
    size_t L, cap;
    size_t ninstr;
} code_buf;

static void emit(code_buf *b, const uint8_t *bytes, size_t n)
{
    if (b->L + n > b->cap) {
        size_t oldk = b->cap ? b->cap / 8 + 1 : 0; /* bitmask bytes already zeroed */
        b->cap = (b->cap + n) * 2;
        b->c = realloc(b->c, b->cap);
        b->k = realloc(b->k, b->cap / 8 + 1);
        if (!b->c || !b->k)
            exit(4);
        memset(b->k + oldk, 0, b->cap / 8 + 1 - oldk);
    }
    memcpy(b->c + b->L, bytes, n);
    b->k[b->L / 8] |= (uint8_t)(1u << (b->L % 8));
    b->L += n;
    b->ninstr++;
}

#define E(b, ...) emit((b), (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

/* Blocks of 1..12 instructions (ALU, immediates, moves, loads, stores, multiplies, the odd
 * division) each ended by a branch, jump or fallthrough: roughly what clang emits. */
static void generate(code_buf *b, size_t ninstr)
{
    uint64_t s = 42;
    memset(b, 0, sizeof *b);
    while (b->ninstr < ninstr) {
        size_t n = 1 + rnd(&s) % 12;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rnd(&s);
            uint8_t ra = (uint8_t)(r % 13), rb = (uint8_t)((r >> 8) % 13), rd = (uint8_t)((r >> 16) % 13);
            uint8_t ab = (uint8_t)(rb << 4 | ra);
            switch ((r >> 24) % 20) {
            case 0: case 1: case 2: E(b, 200, ab, rd); break;                  /* add_64 */
            case 3: E(b, 201, ab, rd); break;                                  /* sub_64 */
            case 4: E(b, 210, ab, rd); break;                                  /* and */
            case 5: case 6: E(b, 149, ab, (uint8_t)(r >> 32)); break;          /* add_imm_64 */
            case 7: E(b, 151, ab, 3); break;                                   /* shlo_l_imm_64 */
            case 8: E(b, 100, (uint8_t)(ra << 4 | rd)); break;                 /* move_reg */
            case 9: E(b, 51, ra, (uint8_t)(r >> 40)); break;                   /* load_imm */
            case 10: case 11: E(b, 130, ab, 8); break;                         /* load_ind_u64 */
            case 12: E(b, 128, ab, 4); break;                                  /* load_ind_u32 */
            case 13: E(b, 123, ab, 16); break;                                 /* store_ind_u64 */
            case 14: E(b, 56, ra, 0, 0, 2); break;                             /* load_u32 abs */
            case 15: E(b, 202, ab, rd); break;                                 /* mul_64 */
            case 16: E(b, 216, ab, rd); break;                                 /* set_lt_u */
            case 17: E(b, 218, ab, rd); break;                                 /* cmov_iz */
            case 18: E(b, 207, ab, rd); break;                                 /* shlo_l_64 */
            default: E(b, (uint8_t)(r % 64 == 0 ? 203 : 190), ab, rd); break;  /* div / add_32 */
            }
        }
        uint64_t r = rnd(&s);
        switch (r % 8) {
        case 0: E(b, 1); break;                                               /* fallthrough */
        case 1: E(b, 40, (uint8_t)(r >> 8)); break;                           /* jump */
        case 2: case 3: E(b, 171, (uint8_t)(r >> 16), (uint8_t)(r >> 24)); break; /* branch_ne */
        default: E(b, 82, (uint8_t)(0x10 | (r >> 8) % 13), 0, (uint8_t)(r >> 32)); break;
        }
    }
}

static void measure(const char *name, const uint8_t *c, size_t L, const uint8_t *k, size_t ninstr)
{
    javm_prepare_opts od = { JAVM_PROFILE_JAM_DRAFT, 25 }, oj = { JAVM_PROFILE_JAVM, 25 };
    javm_program *p = NULL;
    if (javm_prepare(c, L, k, NULL, 0, &od, &p) != JAVM_OK) {
        printf("%-12s cannot prepare\n", name);
        return;
    }
    uint64_t best_cost = UINT64_MAX, best_prep_d = UINT64_MAX, best_prep_j = UINT64_MAX;
    uint64_t nblocks = 0, sum = 0;
    exec_code cd = { p->code, p->bitmask, p->L, JAVM_PROFILE_JAM_DRAFT };
    /* BENCH_GAS_PASSES=K (and BENCH_GAS_ONLY=name): K passes of the block costs and nothing
     * else timed, for an instruction count under cachegrind that does not depend on the
     * machine's load: (Ir with K passes - Ir with 0) / K is one pass. BENCH_GAS_BLOCK=PC: only
     * the block starting at PC (decimal), for a profile per block; BENCH_GAS_LIST=1 prints
     * every block start with its positions and cost. */
    const char *only = getenv("BENCH_GAS_ONLY"), *passes = getenv("BENCH_GAS_PASSES");
    const char *one = getenv("BENCH_GAS_BLOCK"); /* only the block start with this pc */
    if (passes) {
        uint64_t s = 0, K = strtoull(passes, NULL, 10), pc1 = one ? strtoull(one, NULL, 10) : 0;
        if (!only || strcmp(only, name) == 0)
            for (uint64_t rep = 0; rep < K; rep++)
                for (uint32_t i = 0; i < p->nrecs; i++)
                    if (p->recs[i].cost[0] && (!one || p->recs[i].pc == pc1))
                        s += exec_draft_block_cost(&cd, p->recs[i].pc, 25, NULL);
        printf("%-12s %llu passes, gas %llu\n", name, (unsigned long long)K, (unsigned long long)s);
        javm_program_free(p);
        return;
    }
    /* A sample costs at least ~4 MB of code (a small program's block costs many times over):
     * a single pass over 2 KB lasts microseconds, and the best of 7 of those measured the
     * caches javm_prepare left and the other tenants more than the code. */
    if (getenv("BENCH_GAS_LIST"))
        for (uint32_t i = 0; i < p->nrecs; i++)
            if (p->recs[i].cost[0]) {
                uint32_t npos = 0, cost = exec_draft_block_cost(&cd, p->recs[i].pc, 25, &npos);
                printf("%-12s block %llu: %u positions, cost %u\n", name,
                       (unsigned long long)p->recs[i].pc, npos, cost);
            }
    uint64_t reps = L ? 4000000 / L + 1 : 1;
    for (int run = 0; run < RUNS; run++) {
        uint64_t t0 = now_ns(), s = 0, nb = 0;
        for (uint64_t rep = 0; rep < reps; rep++) {
            s = nb = 0;
            for (uint32_t i = 0; i < p->nrecs; i++) {
                if (!p->recs[i].cost[0])
                    continue;
                s += exec_draft_block_cost(&cd, p->recs[i].pc, 25, NULL);
                nb++;
            }
        }
        uint64_t t1 = now_ns();
        if ((t1 - t0) / reps < best_cost)
            best_cost = (t1 - t0) / reps;
        nblocks = nb;
        sum = s;
        javm_program *q = NULL;
        t0 = now_ns();
        javm_prepare(c, L, k, NULL, 0, &od, &q);
        t1 = now_ns();
        javm_program_free(q);
        if (t1 - t0 < best_prep_d)
            best_prep_d = t1 - t0;
        t0 = now_ns();
        javm_prepare(c, L, k, NULL, 0, &oj, &q);
        t1 = now_ns();
        javm_program_free(q);
        if (t1 - t0 < best_prep_j)
            best_prep_j = t1 - t0;
    }
    javm_program_free(p);
    double mb = (double)L / 1e6;
    printf("%-12s %9zu %8zu %7llu %10llu %10.1f %10.1f %10.1f %8.1f\n", name, L, ninstr,
           (unsigned long long)nblocks, (unsigned long long)sum, mb / ((double)best_cost / 1e9),
           (double)best_cost / (double)(nblocks ? nblocks : 1), mb / ((double)best_prep_d / 1e9),
           mb / ((double)best_prep_j / 1e9));
}

static size_t count_instr(const uint8_t *k, size_t L)
{
    size_t n = 0;
    for (size_t i = 0; i < L; i++)
        n += (k[i / 8] >> (i % 8)) & 1;
    return n;
}

static void measure_unit(const char *name, const asm_unit *u)
{
    measure(name, u->prog.code, u->prog.code_len, u->prog.bitmask,
            count_instr(u->prog.bitmask, u->prog.code_len));
}

int main(int argc, char **argv)
{
    printf("jam-draft block costs, best of %d, thread CPU time (MB = 10^6 bytes of code)\n", RUNS);
    printf("%-12s %9s %8s %7s %10s %10s %10s %10s %8s\n", "program", "bytes", "instrs", "blocks",
           "total gas", "cost MB/s", "ns/block", "prep MB/s", "javm MB/s");
    const char *only = getenv("BENCH_GAS_ONLY");
    if (!only || strcmp(only, "generated") == 0) {
        code_buf b;
        generate(&b, 200000);
        measure("generated", b.c, b.L, b.k, b.ninstr);
        free(b.c);
        free(b.k);
    }
    if (gb_have_clang()) {
        char root[1024], fl[1200], msg[256];
        snprintf(fl, sizeof fl, "-I%s/guest/examples", gb_root(root, sizeof root));
        const char *src[] = { "guest/examples/blake2b.c", "guest/examples/lib/blake2b.c" };
        uint8_t *img = NULL;
        size_t len = 0;
        asm_unit u;
        asm_err err;
        asm_unit_init(&u);
        if (gb_build(src, 2, fl, &img, &len, NULL, NULL, msg, sizeof msg) == JAVM_OK &&
            disasm_jimg(&u, img, len, &err) == JAVM_OK)
            measure_unit("guest-blake", &u);
        asm_unit_free(&u);
        javm_free(img);
    } else {
        printf("(clang-19 absent: no guest program)\n");
    }
    for (int i = 1; i < argc; i++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        FILE *f = fopen(argv[i], "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (n > 0 && (bytes = malloc((size_t)n)) && fread(bytes, 1, (size_t)n, f) == (size_t)n) {
            len = (size_t)n;
            asm_unit u;
            asm_err err;
            asm_unit_init(&u);
            int rc = len >= 4 && memcmp(bytes, "JIMG", 4) == 0 ? disasm_jimg(&u, bytes, len, &err)
                                                              : disasm_blob(&u, bytes, len, &err);
            if (rc == JAVM_OK)
                measure_unit(argv[i], &u);
            asm_unit_free(&u);
        }
        free(bytes);
        fclose(f);
    }
    return 0;
}
