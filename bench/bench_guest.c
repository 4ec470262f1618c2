/* SPDX-License-Identifier: MIT
 * bench/bench_guest.c — C guests on the interpreter against the same C compiled natively
 * (-O2): BLAKE2b-256 of 1 MiB and sorting 1 M 32-bit keys, as a ratio reported side by side.
 * The guest time is a whole javm_invoke (input copy, run, settle and commit on the in-memory
 * store). Needs clang-19 (exits 77 without it). Usage: bench_guest [repetitions] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guestbuild.h"

#include "../guest/examples/lib/blake2b.c"
#include "../guest/examples/lib/kernels.c"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int open_example(gb_guest *g, const char *a, const char *b)
{
    const char *src[] = { a, b };
    char msg[1024], root[1024], fl[1100];
    uint8_t *img;
    size_t len;
    snprintf(fl, sizeof fl, "-I%s/guest/examples %s", gb_root(root, sizeof root), getenv("GUEST_CFLAGS") ? getenv("GUEST_CFLAGS") : "");
    if (gb_build(src, 2, fl, &img, &len, NULL, NULL, msg, sizeof msg)) {
        fprintf(stderr, "bench_guest: %s\n", msg);
        return -1;
    }
    int rc = gb_open(g, img, len);
    javm_free(img);
    return rc;
}

/* Both benchmarks on one engine; returns nonzero when a guest result differs from native. */
static int bench_engine(gb_guest *hgp, gb_guest *sgp, int reps, javm_engine e, uint8_t *buf, uint32_t *keys)
{
    char name_b[64], name_s[64];
    snprintf(name_b, sizeof name_b, "blake2b-256, 1 MiB [%s]", javm_engine_name(e));
    snprintf(name_s, sizeof name_s, "sort, 1 M u32 [%s]", javm_engine_name(e));
    javm_vm_set_engine(hgp->vm, e);
    javm_vm_set_engine(sgp->vm, e);
#define hg (*hgp)
#define sg (*sgp)
    /* BLAKE2b over 1 MiB */
    size_t n = 1u << 20;
    uint8_t d[32];
    double tn = 1e9, tg = 1e9;
    uint64_t vn = 0, vg = 0, gas = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        g_blake2b(d, 32, buf, n);
        double t1 = now();
        if (t1 - t0 < tn)
            tn = t1 - t0;
        vn = 0;
        for (int i = 7; i >= 0; i--)
            vn = vn << 8 | d[i];
        javm_hash in;
        javm_call_result res;
        if (gb_put_data(&hg, buf, n, &in))
            return 1;
        t0 = now();
        if (gb_invoke(&hg, 0, 0, 0, &in, UINT64_C(1) << 40, &res) || res.kind != JAVM_RES_HALT) {
            fprintf(stderr, "bench_guest: blake2b guest failed\n");
            return 1;
        }
        t1 = now();
        if (t1 - t0 < tg)
            tg = t1 - t0;
        vg = res.return_value;
        gas = res.gas_used;
    }
    printf("%-32s %10.2f %10.2f %7.1fx  %s (gas %llu)\n", name_b, tn * 1e3, tg * 1e3, tg / tn,
           vn == vg ? "same digest" : "DIGEST DIFFERS", (unsigned long long)gas);
    int bad = vn != vg;
    /* sort 1 M keys */
    uint64_t kn = 1u << 20, seed = 7;
    tn = tg = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        g_fill(keys, kn, seed);
        g_sort(keys, kn);
        vn = g_sorted_sum(keys, kn);
        double t1 = now();
        if (t1 - t0 < tn)
            tn = t1 - t0;
        javm_call_result res;
        t0 = now();
        if (gb_invoke(&sg, 0, kn, seed, NULL, UINT64_C(1) << 40, &res) || res.kind != JAVM_RES_HALT) {
            fprintf(stderr, "bench_guest: sort guest failed\n");
            return 1;
        }
        t1 = now();
        if (t1 - t0 < tg)
            tg = t1 - t0;
        vg = res.return_value;
        gas = res.gas_used;
    }
    printf("%-32s %10.2f %10.2f %7.1fx  %s (gas %llu)\n", name_s, tn * 1e3, tg * 1e3,
           tg / tn, vn == vg ? "same checksum" : "CHECKSUM DIFFERS", (unsigned long long)gas);
    bad |= vn != vg;
#undef hg
#undef sg
    return bad;
}

/* JIT compile time of a guest's image (code, bitmask, jump table), best of reps. */
static void compile_row(gb_guest *g, const char *name, int reps)
{
    const javm_cap *cap = javm_cache_get_hash(g->cache, &g->image);
    if (!cap || !javm_jit_available())
        return;
    const javm_image *im = &cap->image;
    double best = 1e30;
    size_t bytes = 0;
    for (int r = 0; r < reps; r++) {
        javm_program *p;
        if (javm_prepare(im->code, im->code_len, im->bitmask, im->jump_table, im->jt_count, NULL, &p))
            return;
        double t0 = now();
        int rc = javm_program_compile(p, JAVM_GAS_PIPELINE);
        double dt = now() - t0;
        javm_program_jit_info(p, JAVM_GAS_PIPELINE, &bytes, NULL);
        javm_program_free(p);
        if (rc)
            return;
        if (dt < best)
            best = dt;
    }
    printf("JIT compile of the %s image: %u bytes of PVM code in %.1f us (%.1f MB/s), %zu bytes native\n",
           name, im->code_len, best * 1e6, im->code_len / best / 1e6, bytes);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1)
        reps = 1;
    if (!gb_have_clang()) {
        printf("skipped: clang-19 not installed (scripts/deps.sh guest)\n");
        return 77;
    }
    gb_guest hg, sg;
    if (open_example(&hg, "guest/examples/blake2b.c", "guest/examples/lib/blake2b.c")
        || open_example(&sg, "guest/examples/sort.c", "guest/examples/lib/kernels.c"))
        return 1;
    size_t nb = 1u << 20;
    uint8_t *buf = malloc(nb);
    uint32_t *keys = malloc((1u << 20) * sizeof *keys);
    if (!buf || !keys)
        return 1;
    for (size_t i = 0; i < nb; i++)
        buf[i] = (uint8_t)(i * 131 + (i >> 9) + 1);
    printf("%-32s %10s %10s %8s  %s\n", "benchmark [engine]", "native ms", "guest ms", "ratio", "check");
    int bad = bench_engine(&hg, &sg, reps, JAVM_ENGINE_INTERP, buf, keys);
    if (javm_jit_available())
        bad |= bench_engine(&hg, &sg, reps, JAVM_ENGINE_JIT, buf, keys);
    compile_row(&hg, "blake2b", reps);
    compile_row(&sg, "sort", reps);
    free(buf);
    free(keys);
    gb_close(&hg);
    gb_close(&sg);
    return bad;
}
