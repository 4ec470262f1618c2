/* SPDX-License-Identifier: MIT
 * bench/bench_store_walk.c — what checking a store's file costs (docs/store.md, "What a damaged
 * store does"): javm_store_lmdb_verify's open checks and its page walk on two stores of 20,000
 * blobs, small (100 bytes) and on overflow pages (5,000 bytes), best of 5, page cache warm.
 * Usage: bench_store_walk [dir] (default: a fresh directory under /tmp, removed afterwards). */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "javm.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int build(const char *dir, int n, size_t size)
{
    javm_lmdb_opts o = { 4ull << 30, true, false };
    javm_store *s;
    javm_cache *c;
    javm_ka *ka;
    if (javm_store_lmdb_open(dir, &o, &s) || javm_cache_open(s, &c) || javm_ka_store_new(s, &ka))
        return 1;
    uint8_t *b = malloc(size);
    if (!b)
        return 1;
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < size; j++)
            b[j] = (uint8_t)((uint64_t)i * 1000003 + j * 7);
        memcpy(b, &i, sizeof i);
        javm_cap *d;
        javm_hash h;
        if (javm_data_new(b, size, &d) || javm_cache_put_owned(c, d, &h))
            return 1;
        if (i % 1000 == 999 && javm_commit(c, ka))
            return 1;
    }
    int rc = javm_commit(c, ka);
    free(b);
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    char base[64] = "/tmp/javm-bench-walk-XXXXXX";
    const char *root = argc > 1 ? argv[1] : mkdtemp(base);
    if (!root)
        return 1;
    const size_t sizes[2] = { 100, 5000 };
    for (int k = 0; k < 2; k++) {
        char dir[512], msg[256], file[600];
        snprintf(dir, sizeof dir, "%s/s%zu", root, sizes[k]);
        if (build(dir, 20000, sizes[k])) {
            fprintf(stderr, "bench_store_walk: building %s failed\n", dir);
            return 1;
        }
        snprintf(file, sizeof file, "%s/data.mdb", dir);
        struct stat st;
        stat(file, &st);
        double walk = 1e9, cheap = 1e9;
        for (int r = 0; r < 5; r++) {
            double t0 = now();
            if (javm_store_lmdb_verify(dir, true, msg, sizeof msg)) {
                fprintf(stderr, "bench_store_walk: %s\n", msg);
                return 1;
            }
            double t1 = now();
            javm_store_lmdb_verify(dir, false, msg, sizeof msg);
            double t2 = now();
            walk = t1 - t0 < walk ? t1 - t0 : walk;
            cheap = t2 - t1 < cheap ? t2 - t1 : cheap;
        }
        printf("20000 blobs of %5zu bytes, %6.1f MB: page walk %8.2f ms, open checks %6.1f us\n",
               sizes[k], (double)st.st_size / 1e6, walk * 1e3, cheap * 1e6);
    }
    if (argc <= 1)
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
