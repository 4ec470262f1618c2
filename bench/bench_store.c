/* SPDX-License-Identifier: MIT
 * bench/bench_store.c — the LMDB store: committed invocations per second of a trivial endpoint
 * (durable and no_sync, beside the disk's fdatasync latency), blob put/get per second through
 * the cache and through the raw vtbl, and gc time per 100k blobs. Usage: bench_store [dir]
 * (default: a fresh directory under /tmp, removed afterwards). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "javm.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rm_tree(const char *p)
{
    nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, int rc, javm_store *s)
{
    fprintf(stderr, "bench_store: %s: %s %s\n", what, javm_strerror(rc),
            s ? javm_store_errmsg(s) : "");
    exit(1);
}

/* Mean latency of 100 small write + fdatasync pairs in dir (microseconds). */
static double fdatasync_us(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    char buf[64];
    memset(buf, 'x', sizeof buf);
    double t0 = now_s();
    for (int i = 0; i < 100; i++) {
        if (pwrite(fd, buf, sizeof buf, (off_t)i * 64) != (ssize_t)sizeof buf || fdatasync(fd))
            break;
    }
    double us = (now_s() - t0) / 100 * 1e6;
    close(fd);
    unlink(path);
    return us;
}

static javm_hash trivial_instance(javm_cache *c, javm_store *s)
{
    static const uint8_t code[] = { 10, 0 }; /* ecalli 0 */
    static const uint8_t mask[] = { 0x01 };
    javm_cap *img;
    javm_hash ih, inst;
    int rc = javm_image_new(code, 2, mask, 1, &img);
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    if (!rc)
        rc = javm_image_add_endpoint(img, &ep);
    if (!rc)
        rc = javm_cache_put(c, img, &ih);
    javm_cap_free(img);
    if (!rc)
        rc = javm_spawn(c, &ih, 4, &inst);
    if (rc)
        die("image", rc, s);
    return inst;
}

static void bench_invoke(const char *dir, bool no_sync, int n)
{
    javm_lmdb_opts o = { 0, no_sync, false };
    javm_store *s;
    javm_cache *c;
    javm_ka *ka;
    javm_vm *vm;
    int rc = javm_store_lmdb_open(dir, &o, &s);
    if (rc)
        die("open", rc, NULL);
    if ((rc = javm_cache_open(s, &c)) || (rc = javm_ka_store_new(s, &ka)) ||
        (rc = javm_vm_new(&vm, 0)))
        die("setup", rc, s);
    javm_hash inst = trivial_instance(c, s);
    if ((rc = javm_commit(c, ka)))
        die("commit", rc, s);
    static const uint64_t args[4] = { 0 };
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        javm_call_result r;
        rc = javm_invoke(vm, c, ka, &inst, 0, args, 1000, NULL, NULL, &r);
        if (rc || r.kind != JAVM_RES_HALT)
            die("invoke", rc, s);
        /* The caller's hold on the post-instance (the same Instance): released, and that
         * change rides along with the next invocation's commit. */
        javm_key k = javm_key_of_hash(&r.post_instance);
        javm_cache_decref(c, &k);
    }
    double dt = now_s() - t0;
    printf("invoke %-8s %7d committed invocations  %9.0f /s  %7.1f us each\n",
           no_sync ? "no_sync" : "durable", n, n / dt, dt / n * 1e6);
    javm_vm_free(vm);
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(s);
}

static void blob_bytes(uint8_t b[64], uint32_t i)
{
    memset(b, 0, 64);
    memcpy(b, &i, 4);
    b[63] = 1;
}

static void bench_blobs_cache_and_gc(const char *dir, int n, int batch)
{
    javm_lmdb_opts o = { 0, true, false };
    javm_store *s;
    javm_cache *c;
    int rc = javm_store_lmdb_open(dir, &o, &s);
    if (rc || (rc = javm_cache_open(s, &c)))
        die("open", rc, NULL);
    uint8_t b[64];
    javm_hash *hs = malloc((size_t)n * sizeof *hs);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        javm_cap *d;
        blob_bytes(b, (uint32_t)i);
        if ((rc = javm_data_new(b, 64, &d)) || (rc = javm_cache_put_owned(c, d, &hs[i])))
            die("put", rc, s);
        if ((i + 1) % batch == 0 && (rc = javm_commit(c, NULL)))
            die("commit", rc, s);
    }
    if ((rc = javm_commit(c, NULL)))
        die("commit", rc, s);
    double dt = now_s() - t0;
    printf("cache put  %7d Data of 64 B, commit every %d (no_sync)  %9.0f /s\n", n, batch,
           n / dt);
    javm_cache_close(c);
    if ((rc = javm_cache_open(s, &c)))
        die("reopen", rc, s);
    t0 = now_s();
    for (int i = 0; i < n; i++)
        if (!javm_cache_get_hash(c, &hs[i]))
            die("get", JAVM_ERR_NOT_FOUND, s);
    dt = now_s() - t0;
    printf("cache get  %7d Data loaded from the store (cold)      %9.0f /s\n", n, n / dt);
    javm_cache_close(c);

    /* gc: all n blobs unreachable (the puts' holds persisted as counts, gc ignores them). */
    javm_vm *vm;
    javm_ka *ka;
    if ((rc = javm_cache_open(s, &c)) || (rc = javm_ka_store_new(s, &ka)) ||
        (rc = javm_vm_new(&vm, 0)))
        die("gc setup", rc, s);
    t0 = now_s();
    if ((rc = javm_gc(vm, c, ka, NULL, 0)))
        die("gc", rc, s);
    dt = now_s() - t0;
    printf("gc         %7d stored blobs, all unreachable          %9.3f s  (%.3f s per 100k)\n",
           n, dt, dt * 100000.0 / n);
    javm_vm_free(vm);
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(s);
    free(hs);
}

static void bench_raw(const char *dir, int n, int batch)
{
    javm_lmdb_opts o = { 0, true, false };
    javm_store *s;
    int rc = javm_store_lmdb_open(dir, &o, &s);
    if (rc)
        die("open", rc, NULL);
    uint8_t k[32], v[64];
    memset(k, 0, sizeof k);
    memset(v, 7, sizeof v);
    double t0 = now_s();
    for (int i = 0; i < n; i += batch) {
        if ((rc = s->vtbl->begin(s)))
            die("begin", rc, s);
        for (int j = i; j < i + batch && j < n; j++) {
            uint32_t x = (uint32_t)j * 2654435761u; /* scattered keys, like hashes */
            memcpy(k, &x, 4);
            if ((rc = s->vtbl->put(s, JAVM_TABLE_BLOBS, k, 32, v, 64)))
                die("put", rc, s);
        }
        if ((rc = s->vtbl->commit(s)))
            die("commit", rc, s);
    }
    double dt = now_s() - t0;
    printf("raw put    %7d records 32 B -> 64 B, commit every %d  %9.0f /s\n", n, batch, n / dt);
    const uint8_t *val;
    size_t vlen;
    t0 = now_s();
    for (int j = 0; j < n; j++) {
        uint32_t x = (uint32_t)j * 2654435761u;
        memcpy(k, &x, 4);
        if ((rc = s->vtbl->get(s, JAVM_TABLE_BLOBS, k, 32, &val, &vlen)))
            die("get", rc, s);
    }
    dt = now_s() - t0;
    printf("raw get    %7d records, no transaction open          %9.0f /s\n", n, n / dt);
    s->vtbl->begin(s);
    t0 = now_s();
    for (int j = 0; j < n; j++) {
        uint32_t x = (uint32_t)j * 2654435761u;
        memcpy(k, &x, 4);
        if ((rc = s->vtbl->get(s, JAVM_TABLE_BLOBS, k, 32, &val, &vlen)))
            die("get", rc, s);
    }
    dt = now_s() - t0;
    s->vtbl->abort(s);
    printf("raw get    %7d records, inside a write transaction   %9.0f /s\n", n, n / dt);
    javm_store_close(s);
}

int main(int argc, char **argv)
{
    char base[256];
    bool own = argc < 2;
    if (own) {
        strcpy(base, "/tmp/javm-bench-store-XXXXXX");
        if (!mkdtemp(base))
            return 1;
    } else {
        snprintf(base, sizeof base, "%s", argv[1]);
    }
    char d1[300], d2[300], d3[300], d4[300];
    snprintf(d1, sizeof d1, "%s/durable", base);
    snprintf(d2, sizeof d2, "%s/nosync", base);
    snprintf(d3, sizeof d3, "%s/blobs", base);
    snprintf(d4, sizeof d4, "%s/raw", base);
    printf("store directory %s\n", base);
    printf("fdatasync  100 small writes, each fdatasync'd: %.1f us each\n", fdatasync_us(base));
    bench_invoke(d1, false, 3000);
    bench_invoke(d2, true, 50000);
    bench_blobs_cache_and_gc(d3, 100000, 1000);
    bench_raw(d4, 100000, 1000);
    if (own)
        rm_tree(base);
    return 0;
}
