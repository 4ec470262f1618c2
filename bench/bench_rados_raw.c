/* SPDX-License-Identifier: MIT
 * bench/bench_rados_raw.c — raw librados figures on a cluster (the test fixture of
 * docs/testing-rados.md): the baseline the RADOS store's benchmarks are compared with
 * (docs/scale-out.md §8). Sequential omap compare-and-swap commits (the shape of a head commit),
 * 4 KiB write_full one at a time and all in flight (aio), and 8 MiB / 64 MiB objects written and
 * read whole. Everything in a namespace of its own in pool javm, removed at the end.
 *
 *   bench_rados_raw [CEPH_CONF [N]]   CEPH_CONF defaults to $JAVM_TEST_RADOS_CONF; N = 1000 ops
 *
 * A cluster by hand: tests/cluster/cluster.sh start /tmp/rc; bench_rados_raw /tmp/rc/ceph.conf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef JAVM_BENCH_HAVE_LIBRADOS
int main(void)
{
    puts("bench_rados_raw: not built with librados (scripts/deps.sh rados)");
    return 0;
}
#else
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, int r)
{
    fprintf(stderr, "bench_rados_raw: %s: %s\n", what, strerror(-r));
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* N sequential one-op commits on one object: omap_cmp(v, EQ, i) + omap_set{v: i+1, c: tag} */
static int bench_cas(rados_ioctx_t io, int n)
{
    char cur[24], next[24];
    snprintf(cur, sizeof cur, "%d", 0);
    const char *k0[] = {"v"}, *v0[] = {cur};
    size_t l0[] = {strlen(cur)};
    rados_write_op_t op = rados_create_write_op();
    rados_write_op_omap_set(op, k0, v0, l0, 1);
    int r = rados_write_op_operate(op, io, "cas", NULL, 0);
    rados_release_write_op(op);
    if (r < 0)
        return fail("omap_set", r);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(cur, sizeof cur, "%d", i);
        snprintf(next, sizeof next, "%d", i + 1);
        const char *keys[] = {"v", "c"}, *vals[] = {next, "tag-of-this-commit"};
        size_t lens[] = {strlen(next), 18};
        int prval = 0;
        op = rados_create_write_op();
        rados_write_op_omap_cmp(op, "v", LIBRADOS_CMPXATTR_OP_EQ, cur, strlen(cur), &prval);
        rados_write_op_omap_set(op, keys, vals, lens, 2);
        r = rados_write_op_operate(op, io, "cas", NULL, 0);
        rados_release_write_op(op);
        if (r < 0)
            return fail("omap CAS", r);
    }
    double dt = now_s() - t0;
    printf("omap CAS commits, sequential: %.0f per s (%.3f ms each, %d commits)\n", n / dt,
           dt * 1e3 / n, n);
    return 0;
}

/* N 4 KiB write_full to N objects: one at a time, then all in flight */
static int bench_small(rados_ioctx_t io, int n)
{
    char buf[4096], oid[32];
    memset(buf, 0xa5, sizeof buf);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(oid, sizeof oid, "s.%d", i);
        int r = rados_write_full(io, oid, buf, sizeof buf);
        if (r < 0)
            return fail("write_full 4 KiB", r);
    }
    double dt = now_s() - t0;
    printf("4 KiB write_full, sequential: %.0f per s (%.3f ms each, %d objects)\n", n / dt,
           dt * 1e3 / n, n);

    rados_completion_t *c = calloc((unsigned)n, sizeof *c);
    if (!c)
        return fail("calloc", -ENOMEM);
    int rc = 0;
    t0 = now_s();
    for (int i = 0; i < n && rc == 0; i++) {
        snprintf(oid, sizeof oid, "a.%d", i);
        int r = rados_aio_create_completion2(NULL, NULL, &c[i]);
        if (r == 0)
            r = rados_aio_write_full(io, oid, c[i], buf, sizeof buf);
        if (r < 0)
            rc = fail("aio_write_full 4 KiB", r);
    }
    for (int i = 0; i < n && c[i]; i++) {
        rados_aio_wait_for_complete(c[i]);
        int r = rados_aio_get_return_value(c[i]);
        if (r < 0 && rc == 0)
            rc = fail("aio_write_full 4 KiB", r);
        rados_aio_release(c[i]);
    }
    dt = now_s() - t0;
    free(c);
    if (rc == 0)
        printf("4 KiB write_full, all in flight (aio): %.0f per s (%.3f ms each, %d objects)\n",
               n / dt, dt * 1e3 / n, n);
    return rc;
}

/* one object of SIZE bytes written whole and read whole, REPS times; median MB/s of each */
static int bench_large(rados_ioctx_t io, size_t size, int reps)
{
    char *w = malloc(size), *rd = malloc(size), oid[32];
    double tw[8], tr[8];
    if (!w || !rd || reps > 8) {
        free(w);
        free(rd);
        return fail("malloc", -ENOMEM);
    }
    for (size_t i = 0; i < size; i++)
        w[i] = (char)(i * 2654435761u >> 13);
    snprintf(oid, sizeof oid, "l.%zu", size);
    for (int k = 0; k < reps; k++) {
        double t0 = now_s();
        int r = rados_write_full(io, oid, w, size);
        tw[k] = now_s() - t0;
        if (r < 0) {
            free(w);
            free(rd);
            return fail("write_full large", r);
        }
        t0 = now_s();
        r = rados_read(io, oid, rd, size, 0);
        tr[k] = now_s() - t0;
        if (r != (int)size || memcmp(w, rd, size) != 0) {
            free(w);
            free(rd);
            fprintf(stderr, "bench_rados_raw: read of %zu bytes gave %d or other bytes\n", size, r);
            return 1;
        }
    }
    qsort(tw, (size_t)reps, sizeof *tw, cmp_double);
    qsort(tr, (size_t)reps, sizeof *tr, cmp_double);
    double mb = (double)size / 1e6;
    printf("%zu MiB object: write %.0f MB/s (%.3f s), read %.0f MB/s (%.3f s) (median of %d)\n",
           size >> 20, mb / tw[reps / 2], tw[reps / 2], mb / tr[reps / 2], tr[reps / 2], reps);
    free(w);
    free(rd);
    return 0;
}

/* remove every object of the ioctx's namespace */
static void clear_ns(rados_ioctx_t io)
{
    rados_list_ctx_t ctx;
    if (rados_nobjects_list_open(io, &ctx) < 0)
        return;
    const char *entry, *key, *space;
    while (rados_nobjects_list_next(ctx, &entry, &key, &space) == 0)
        rados_remove(io, entry);
    rados_nobjects_list_close(ctx);
}

int main(int argc, char **argv)
{
    const char *conf = argc > 1 ? argv[1] : getenv("JAVM_TEST_RADOS_CONF");
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    if (!conf || !*conf) {
        puts("bench_rados_raw: no cluster (pass a ceph.conf or set JAVM_TEST_RADOS_CONF; "
             "tests/cluster/cluster.sh start DIR makes one)");
        return 0;
    }
    if (n < 1 || n > 1000000) {
        fprintf(stderr, "usage: bench_rados_raw [CEPH_CONF [N]]  (1 <= N <= 1000000)\n");
        return 2;
    }
    rados_t cluster;
    rados_ioctx_t io;
    int r;
    if ((r = rados_create2(&cluster, "ceph", "client.admin", 0)) < 0)
        return fail("rados_create2", r);
    if ((r = rados_conf_read_file(cluster, conf)) < 0 ||
        (r = rados_conf_set(cluster, "rados_osd_op_timeout", "30")) < 0 ||
        (r = rados_conf_set(cluster, "rados_mon_op_timeout", "30")) < 0 ||
        (r = rados_conf_set(cluster, "client_mount_timeout", "30")) < 0 ||
        (r = rados_connect(cluster)) < 0 || (r = rados_ioctx_create(cluster, "javm", &io)) < 0) {
        rados_shutdown(cluster);
        return fail(conf, r);
    }
    char ns[64];
    snprintf(ns, sizeof ns, "bench_rados_raw.%ld", (long)getpid());
    rados_ioctx_set_namespace(io, ns);
    printf("bench_rados_raw: %s, pool javm, namespace %s\n", conf, ns);
    int rc = bench_cas(io, n);
    if (rc == 0)
        rc = bench_small(io, n);
    if (rc == 0)
        rc = bench_large(io, (size_t)8 << 20, 5);
    if (rc == 0)
        rc = bench_large(io, (size_t)64 << 20, 3);
    clear_ns(io);
    rados_ioctx_destroy(io);
    rados_shutdown(cluster);
    return rc;
}
#endif
