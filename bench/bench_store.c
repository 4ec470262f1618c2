/* SPDX-License-Identifier: MIT
 * bench/bench_store.c — the store: committed invocations per second of a trivial endpoint
 * (durable and no_sync, beside the disk's fdatasync latency), blob put/get per second through
 * the cache and through the raw vtbl, and gc time per 100k blobs, on LMDB; with --rados, the
 * RADOS rows of docs/scale-out.md §8 beside them: committed invocations per second of 1, 2 and
 * 4 client processes (each its own name; median commit latency, conflicts, the OSDs' and the
 * clients' CPU seconds), blob put/get at 4 KiB and 8 MiB, gc time over N unreachable blobs.
 *
 *   bench_store [DIR] [--rados CEPH_CONF] [--seconds S] [--gc-blobs N] [--no-lmdb]
 *
 * DIR: the LMDB stores' directory (default: a fresh one under /tmp, removed afterwards).
 * CEPH_CONF: a running cluster's ceph.conf (tests/cluster/cluster.sh start DIR writes
 * DIR/ceph.conf; its OSDs' CPU time is read from DIR/pid/osd.*.pid), pool javm, a namespace of
 * this run. S: seconds per client row (5); N: blobs for the gc row (10000). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/wait.h>
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

/* ==== RADOS (--rados CEPH_CONF; docs/scale-out.md §8) ===================================== */

typedef struct rbench {
    const char *conf;
    char run[48];  /* namespaces are <run>-<row> */
    double seconds; /* per client row */
} rbench;

static javm_store *rados_open_ns(const rbench *b, const char *row)
{
    char url[4400], msg[256];
    snprintf(url, sizeof url, "rados://javm/%s-%s?conf=%s&timeout=30", b->run, row, b->conf);
    javm_store *s = NULL;
    int rc = javm_store_rados_open(url, NULL, &s, msg, sizeof msg);
    if (rc) {
        fprintf(stderr, "bench_store: %s: %s: %s\n", url, javm_strerror(rc), msg);
        exit(rc == JAVM_ERR_STORE_UNSUPPORTED ? 77 : 1);
    }
    return s;
}

/* The counter guest (as tests/rados_gc_load.sh): φ7 = u64 [0x10000] + 1, stored back, returned;
 * each invocation commits a new Data page and Instance and moves its name. */
static javm_hash counter_instance(javm_cache *c, javm_store *s)
{
    static const uint8_t code[] = { 0x3a, 0x07, 0x00, 0x00, 0x01, 0x95, 0x77, 0x01,
                                    0x3e, 0x07, 0x00, 0x00, 0x01, 0x0a, 0x00 };
    static const uint8_t mask[] = { 0x21, 0x21 };
    javm_cap *img;
    javm_hash ih, inst;
    javm_endpoint ep;
    javm_mapping m;
    memset(&ep, 0, sizeof ep);
    memset(&m, 0, sizeof m);
    m.start = 0x10000;
    m.size = 8;
    m.flags = 1;
    int rc = javm_image_new(code, sizeof code, mask, sizeof mask, &img);
    if (!rc)
        rc = javm_image_add_endpoint(img, &ep);
    if (!rc)
        rc = javm_image_add_mapping(img, &m);
    if (!rc)
        rc = javm_cache_put(c, img, &ih);
    javm_cap_free(img);
    if (!rc)
        rc = javm_spawn(c, &ih, 4, &inst);
    if (rc)
        die("counter image", rc, s);
    return inst;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* What a client process reports to the parent through a pipe. */
typedef struct rclient_res {
    long commits, conflicts;
    double secs, median_ms;
} rclient_res;

/* One client process: its own name <n>-<idx>, ready on ready_fd, starts when go_fd gives a
 * byte, invokes for b->seconds, reports on res_fd. Never returns. */
static void rados_client(const rbench *b, int n, int idx, int ready_fd, int go_fd, int res_fd)
{
    char row[16], name[32];
    snprintf(row, sizeof row, "c%d", n);
    snprintf(name, sizeof name, "c%d-%d", n, idx);
    javm_store *s = rados_open_ns(b, row);
    javm_cache *c;
    javm_ka *ka;
    javm_vm *vm;
    int rc;
    if ((rc = javm_cache_open(s, &c)) || (rc = javm_ka_store_new(s, &ka)) ||
        (rc = javm_vm_new(&vm, 0)))
        die("client setup", rc, s);
    javm_hash inst = counter_instance(c, s);
    if ((rc = javm_name_set(c, (const uint8_t *)name, strlen(name), &inst)) ||
        (rc = javm_commit(c, ka)))
        die("client name", rc, s);
    size_t cap = 4096, nlat = 0;
    double *lat = malloc(cap * sizeof *lat);
    char x = 'r';
    if (!lat || write(ready_fd, &x, 1) != 1 || read(go_fd, &x, 1) != 1)
        exit(1);
    rclient_res res = { 0, 0, 0, 0 };
    javm_invoke_opts opts = { (const uint8_t *)name, strlen(name) };
    static const uint64_t args[4] = { 0 };
    uint64_t expect = 1;
    double t0 = now_s(), t = t0;
    while (t - t0 < b->seconds) {
        javm_call_result r;
        rc = javm_invoke(vm, c, ka, &inst, 0, args, 1000, NULL, &opts, &r);
        double t1 = now_s();
        if (rc == JAVM_ERR_CONFLICT) { /* not expected on an own name: counted, read again */
            res.conflicts++;
            if ((rc = javm_name_get(c, (const uint8_t *)name, strlen(name), &inst)))
                die("name_get", rc, s);
            t = t1;
            continue;
        }
        if (rc || r.kind != JAVM_RES_HALT || r.return_value != expect)
            die("invoke (or a wrong counter value)", rc ? rc : JAVM_ERR_INTERNAL, s);
        expect++;
        inst = r.post_instance;
        javm_key k = javm_key_of_hash(&r.post_instance);
        javm_cache_decref(c, &k);
        if (nlat == cap) {
            double *nl = realloc(lat, 2 * cap * sizeof *lat);
            if (!nl)
                exit(1);
            lat = nl;
            cap *= 2;
        }
        lat[nlat++] = (t1 - t) * 1e3;
        t = t1;
    }
    res.commits = (long)nlat;
    res.secs = t - t0;
    if (nlat) {
        qsort(lat, nlat, sizeof *lat, cmp_double);
        res.median_ms = lat[nlat / 2];
    }
    free(lat);
    javm_vm_free(vm);
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(s);
    if (write(res_fd, &res, sizeof res) != (ssize_t)sizeof res)
        exit(1);
    exit(0);
}

/* CPU seconds (user + system) the cluster's OSDs have used so far: DIR/pid/osd.*.pid beside
 * the ceph.conf. -1 when none is found (a cluster not started by tests/cluster/cluster.sh). */
static double osd_cpu_s(const char *conf)
{
    char pat[4200];
    const char *slash = strrchr(conf, '/');
    int dl = slash ? (int)(slash - conf) : 1;
    snprintf(pat, sizeof pat, "%.*s/pid/osd.*.pid", dl, slash ? conf : ".");
    glob_t g;
    if (glob(pat, 0, NULL, &g))
        return -1;
    double sum = 0;
    long tck = sysconf(_SC_CLK_TCK);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        long pid = 0;
        if (!f)
            continue;
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
        char sp[64], buf[1024];
        snprintf(sp, sizeof sp, "/proc/%ld/stat", pid);
        if (!pid || !(f = fopen(sp, "r")))
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        /* fields after "(comm)": state is the 3rd field, utime the 14th, stime the 15th */
        const char *p = strrchr(buf, ')');
        unsigned long long ut, st;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                        &st) == 2)
            sum += (double)(ut + st) / (double)tck;
    }
    globfree(&g);
    return sum;
}

/* n client processes, each its own name, for b->seconds together. Returns commits per s. */
static double rados_invoke_row(const rbench *b, int n)
{
    int ready[2], go[2], res[2];
    if (pipe(ready) || pipe(go) || pipe(res)) {
        perror("bench_store: pipe");
        exit(1);
    }
    pid_t pids[8];
    for (int i = 0; i < n; i++) {
        fflush(stdout);
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("bench_store: fork");
            exit(1);
        }
        if (pids[i] == 0) {
            close(ready[0]);
            close(go[1]);
            close(res[0]);
            rados_client(b, n, i, ready[1], go[0], res[1]);
        }
    }
    close(ready[1]);
    close(go[0]);
    close(res[1]);
    char x;
    for (int i = 0; i < n; i++)
        if (read(ready[0], &x, 1) != 1) {
            fprintf(stderr, "bench_store: a client died in its setup\n");
            exit(1);
        }
    double cpu0 = osd_cpu_s(b->conf), t0 = now_s();
    for (int i = 0; i < n; i++)
        if (write(go[1], "g", 1) != 1)
            exit(1);
    rclient_res r[8];
    double ccpu = 0;
    bool ok = true;
    for (int i = 0; i < n; i++) {
        int st;
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        if (wait4(pids[i], &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            ok = false;
        ccpu += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    }
    double wall = now_s() - t0, cpu1 = osd_cpu_s(b->conf);
    for (int i = 0; ok && i < n; i++)
        ok = read(res[0], &r[i], sizeof r[i]) == (ssize_t)sizeof r[i];
    close(ready[0]);
    close(go[1]);
    close(res[0]);
    if (!ok) {
        fprintf(stderr, "bench_store: a client failed\n");
        exit(1);
    }
    long commits = 0, conflicts = 0;
    double rate = 0, med[8];
    for (int i = 0; i < n; i++) {
        commits += r[i].commits;
        conflicts += r[i].conflicts;
        rate += r[i].secs > 0 ? (double)r[i].commits / r[i].secs : 0;
        med[i] = r[i].median_ms;
    }
    qsort(med, (size_t)n, sizeof med[0], cmp_double);
    printf("rados invoke %d client%s %7ld committed invocations  %9.0f /s  median %.2f ms"
           "  conflicts %ld\n",
           n, n > 1 ? "s" : " ", commits, rate, med[n / 2], conflicts);
    printf("             per client:");
    for (int i = 0; i < n; i++)
        printf(" %ld", r[i].commits);
    if (cpu0 >= 0)
        printf("; CPU: OSDs %.1f s, clients %.1f s of %.1f s wall\n", cpu1 - cpu0, ccpu, wall);
    else
        printf("; CPU: clients %.1f s of %.1f s wall (OSD pids not found)\n", ccpu, wall);
    return rate;
}

/* n blobs of size bytes (a Data record: kind byte and size - 1 bytes, each distinct) put
 * through the vtbl, one transaction each, then read back outside a transaction. */
static void rados_blobs(const rbench *b, size_t size, int n)
{
    char row[24];
    snprintf(row, sizeof row, "blobs%zu", size);
    javm_store *s = rados_open_ns(b, row);
    uint8_t *rec = malloc(size), k[32];
    if (!rec)
        die("blob buffer", JAVM_ERR_ALLOC, s);
    for (size_t i = 0; i < size; i++)
        rec[i] = (uint8_t)(i * 131u + 7u);
    rec[0] = JAVM_KIND_DATA;
    memset(k, 0x5a, sizeof k);
    int rc;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        memcpy(k, &i, sizeof i);
        memcpy(rec + 1, &i, sizeof i);
        if ((rc = s->vtbl->begin(s)) ||
            (rc = s->vtbl->put(s, JAVM_TABLE_BLOBS, k, 32, rec, size)) ||
            (rc = s->vtbl->commit(s)))
            die("blob put", rc, s);
    }
    double dput = now_s() - t0;
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        const uint8_t *v;
        size_t vlen;
        memcpy(k, &i, sizeof i);
        memcpy(rec + 1, &i, sizeof i);
        if ((rc = s->vtbl->get(s, JAVM_TABLE_BLOBS, k, 32, &v, &vlen)))
            die("blob get", rc, s);
        if (vlen != size || memcmp(v, rec, size) != 0)
            die("blob get: other bytes", JAVM_ERR_STORE_CORRUPT, s);
    }
    double dget = now_s() - t0;
    printf("rados blob %5zu KiB x %4d  put %7.1f MB/s (%.2f ms each)  get %7.1f MB/s"
           " (%.2f ms each)\n",
           size >> 10, n, (double)size * n / dput / 1e6, dput * 1e3 / n,
           (double)size * n / dget / 1e6, dget * 1e3 / n);
    free(rec);
    javm_store_close(s);
}

/* n unreachable 64-byte Data blobs (put through the cache, a commit every 1000), then two gc
 * runs with grace 0: the first starts an epoch and keeps them (written in the epoch before),
 * the second deletes them. Run before the blob rows' namespace is collected too. */
static void rados_gc(const rbench *b, const char *row, int n, bool print)
{
    javm_store *s = rados_open_ns(b, row);
    javm_cache *c;
    javm_ka *ka;
    javm_vm *vm;
    int rc;
    if ((rc = javm_cache_open(s, &c)) || (rc = javm_ka_store_new(s, &ka)) ||
        (rc = javm_vm_new(&vm, 0)) || (rc = javm_store_rados_gc_grace(s, 0)))
        die("gc setup", rc, s);
    uint8_t bb[64];
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        javm_cap *d;
        javm_hash h;
        blob_bytes(bb, (uint32_t)i);
        if ((rc = javm_data_new(bb, 64, &d)) || (rc = javm_cache_put_owned(c, d, &h)))
            die("gc put", rc, s);
        if ((i + 1) % 1000 == 0 && (rc = javm_commit(c, NULL)))
            die("gc commit", rc, s);
    }
    if ((rc = javm_commit(c, NULL)))
        die("gc commit", rc, s);
    double dput = now_s() - t0;
    javm_cache_close(c);
    if ((rc = javm_cache_open(s, &c)))
        die("gc reopen", rc, s);
    double d[2];
    javm_rados_gc_stats st[2];
    for (int r = 0; r < 2; r++) {
        t0 = now_s();
        if ((rc = javm_gc(vm, c, ka, NULL, 0)))
            die("gc", rc, s);
        d[r] = now_s() - t0;
        javm_store_rados_gc_stats(s, &st[r]);
    }
    if (print) {
        printf("rados put  %7d Data of 64 B, commit every 1000       %9.0f /s\n", n, n / dput);
        printf("rados gc   %7d unreachable blobs: run 1 (keeps, epoch %" PRIu64 ") %.3f s, listed "
               "%" PRIu64 "; run 2 deletes %" PRIu64 " in %.3f s  (%.2f s per 100k, both runs "
               "%.2f s per 100k)\n",
               n, st[0].epoch, d[0], st[0].listed, st[1].deleted, d[1],
               d[1] * 100000.0 / n, (d[0] + d[1]) * 100000.0 / n);
    }
    javm_vm_free(vm);
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(s);
}

static void bench_rados(const rbench *b, int gc_blobs)
{
    printf("rados: %s, pool javm, namespaces %s-*, %.1f s per client row\n", b->conf, b->run,
           b->seconds);
    double r1 = rados_invoke_row(b, 1);
    rados_invoke_row(b, 2);
    double r4 = rados_invoke_row(b, 4);
    printf("rados invoke 4 clients / 1 client: %.2fx (target >= 3x)\n", r1 > 0 ? r4 / r1 : 0);
    rados_blobs(b, 4096, 1000);
    rados_blobs(b, (size_t)8 << 20, 8);
    rados_gc(b, "gc", gc_blobs, true);
    /* the blob rows' objects are unreachable: two gc runs remove them from the cluster */
    rados_gc(b, "blobs4096", 0, false);
    rados_gc(b, "blobs8388608", 0, false);
}

static void usage(void)
{
    fputs("usage: bench_store [DIR] [--rados CEPH_CONF] [--seconds S] [--gc-blobs N] "
          "[--no-lmdb]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    rbench rb = { NULL, "", 5 };
    int gc_blobs = 10000;
    bool lmdb = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(a, "--rados") == 0 && v) {
            rb.conf = v;
            i++;
        } else if (strcmp(a, "--seconds") == 0 && v) {
            rb.seconds = strtod(v, &end);
            if (*end || !(rb.seconds > 0 && rb.seconds <= 3600))
                usage();
            i++;
        } else if (strcmp(a, "--gc-blobs") == 0 && v) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 10000000)
                usage();
            gc_blobs = (int)n;
            i++;
        } else if (strcmp(a, "--no-lmdb") == 0) {
            lmdb = false;
        } else if (a[0] != '-' && !dir) {
            dir = a;
        } else {
            usage();
        }
    }
    if (lmdb) {
        char base[256];
        if (!dir) {
            strcpy(base, "/tmp/javm-bench-store-XXXXXX");
            if (!mkdtemp(base))
                return 1;
        } else {
            snprintf(base, sizeof base, "%s", dir);
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
        if (!dir)
            rm_tree(base);
    }
    if (rb.conf) {
        snprintf(rb.run, sizeof rb.run, "bench_store.%ld.%ld", (long)getpid(), (long)time(NULL));
        fflush(stdout);
        bench_rados(&rb, gc_blobs);
    }
    return 0;
}
