/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_store_file.c — libFuzzer target for a damaged LMDB store (issue 17). A small real
 * store is built once (a named instance of an image with a writable mapping and an initial
 * Data, 2 Data on overflow pages, 60 small ones, several commits so the free list is used);
 * each input is a list of mutations of its data.mdb:
 *   op % 7 == 0 flip bit b of byte (u24 % len)          1 fill page (u8) with the input
 *             2 truncate to u24 % (len + 1)             3 swap pages (u8, u8)
 *             4 u16 at byte o of page p (header fields) 5 u64 at byte o of page p
 *             6 copy page (u8) over page (u8)
 * The damaged file goes through what the javm command does with a store: the page walk
 * (javm_store_lmdb_verify with every page), and only when it passes, open, ls (names scan and
 * javm_cache_iter_blobs), cat (the named instance), invoke (commits), gc and commit; the cheap
 * open checks alone (javm_store_lmdb_open) run on every input. Acceptable: success, or a
 * clean status (a store status from the walk). A fault, a sanitizer report or an LMDB
 * assertion is a finding: either the walk missed damage or the library mishandled a status.
 * What the in-process API guarantees (docs/store.md): a store that passes the page walk does not
 * make LMDB fault in these operations; one that passes only the open checks may. */
#define _GNU_SOURCE /* kill */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "javm.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64];
static uint8_t *g_tmpl, *g_buf;
static size_t g_tlen;
static const uint8_t *g_in;
static size_t g_len;
static javm_vm *g_vm; /* one for every input (freeing a vm's memory dominated the run time) */

static void fail(const char *what, int rc)
{
    fuzz_report("fuzz_store_file", what, rc, g_in, g_len);
}

static void must(int rc, const char *what)
{
    if (rc)
        fail(what, rc);
}

static void rm_store(const char *dir)
{
    const char *files[] = { "data.mdb", "lock.mdb", "javm.lock" };
    char p[400];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
}

/* libFuzzer ends with _Exit (no atexit): a run removes the directories of runs whose process
 * is gone instead. */
static void drop_stale(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        int pid;
        char dir[300];
        if (sscanf(de->d_name, "javm-fuzz-store-%d", &pid) != 1 || pid <= 0 ||
            kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(dir, sizeof dir, "%s/%s", base, de->d_name);
        rm_store(dir);
        rmdir(dir);
    }
    if (d)
        closedir(d);
}

/* The healthy store, built once in g_dir and kept in memory as g_tmpl. */
static void build_template(void)
{
    /* in memory when there is a tmpfs: each input rewrites the file */
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    drop_stale(base);
    snprintf(g_dir, sizeof g_dir, "%s/javm-fuzz-store-%d", base, (int)getpid());
    rm_store(g_dir);
    if (mkdir(g_dir, 0700) && errno != EEXIST)
        fail("mkdir", 0);
    javm_store *s;
    javm_cache *c;
    javm_ka *ka;
    javm_lmdb_opts nosync = { 4u << 20, true, false };
    must(javm_store_lmdb_open(g_dir, &nosync, &s), "open");
    must(javm_cache_open(s, &c), "cache");
    must(javm_ka_store_new(s, &ka), "ka");
    static const uint8_t code[2] = { 0x0A, 0x00 }, bm[1] = { 0x01 }; /* ecalli 0 */
    javm_cap *img, *d;
    must(javm_image_new(code, 2, bm, 1, &img), "image");
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    must(javm_image_add_endpoint(img, &ep), "endpoint");
    javm_mapping m;
    memset(&m, 0, sizeof m);
    m.start = 0x1000;
    m.size = 0x2000;
    m.flags = 1;
    m.path_len = 1;
    m.path[0] = 1;
    must(javm_image_add_mapping(img, &m), "mapping");
    must(javm_data_new((const uint8_t *)"hello", 5, &d), "data");
    javm_hash dh, ih, inst;
    must(javm_cache_put_owned(c, d, &dh), "put data");
    must(javm_image_add_initial(img, 1, &dh), "initial");
    must(javm_cache_put_owned(c, img, &ih), "put image");
    must(javm_spawn(c, &ih, 4, &inst), "spawn");
    must(javm_name_set(c, (const uint8_t *)"app", 3, &inst), "name");
    must(javm_commit(c, ka), "commit");
    uint8_t b[3000];
    for (int i = 0; i < 62; i++) {
        size_t n = i < 2 ? sizeof b : 24 + (size_t)i;
        for (size_t j = 0; j < n; j++)
            b[j] = (uint8_t)(i * 13 + j + 1);
        javm_cap *x;
        javm_hash h;
        must(javm_data_new(b, n, &x), "data");
        must(javm_cache_put_owned(c, x, &h), "put");
        if (i % 20 == 19)
            must(javm_commit(c, ka), "commit");
    }
    must(javm_commit(c, ka), "commit");
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(s);
    char p[128];
    snprintf(p, sizeof p, "%s/data.mdb", g_dir);
    FILE *f = fopen(p, "rb");
    if (!f)
        fail("read template", 0);
    fseek(f, 0, SEEK_END);
    g_tlen = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    g_tmpl = malloc(g_tlen);
    g_buf = malloc(g_tlen);
    if (!g_tmpl || !g_buf || fread(g_tmpl, 1, g_tlen, f) != g_tlen)
        fail("read template", 0);
    fclose(f);
    char msg[256];
    must(javm_store_lmdb_verify(g_dir, true, msg, sizeof msg), "template walk");
    must(javm_vm_new(&g_vm, 0), "vm");
}

/* Applies the input's mutations to g_buf (a copy of the template); returns the new length. */
static size_t mutate(const uint8_t *in, size_t n)
{
    memcpy(g_buf, g_tmpl, g_tlen);
    size_t len = g_tlen, ps = 4096;
    cur c = { in, n, 0 };
    while (c.i < c.n) {
        size_t pages = len / ps;
        unsigned op = take(&c, 1) % 7;
        if (len == 0)
            break;
        switch (op) {
        case 0: {
            size_t o = take(&c, 3) % len;
            g_buf[o] ^= (uint8_t)(1u << (take(&c, 1) & 7));
            break;
        }
        case 1: {
            if (!pages)
                break;
            size_t pg = take(&c, 1) % pages;
            unsigned k = take(&c, 1) % 32 + 1; /* a pattern of k input bytes */
            uint8_t pat[32];
            for (unsigned j = 0; j < k; j++)
                pat[j] = (uint8_t)take(&c, 1);
            for (size_t j = 0; j < ps; j++)
                g_buf[pg * ps + j] = pat[j % k];
            break;
        }
        case 2:
            len = take(&c, 3) % (len + 1);
            break;
        case 3:
        case 6: {
            if (!pages)
                break;
            size_t a = take(&c, 1) % pages, b = take(&c, 1) % pages;
            uint8_t tmp[4096];
            memcpy(tmp, g_buf + a * ps, ps);
            if (op == 3)
                memcpy(g_buf + a * ps, g_buf + b * ps, ps);
            memcpy(g_buf + b * ps, tmp, ps);
            break;
        }
        case 4:
        case 5: {
            if (!pages)
                break;
            size_t pg = take(&c, 1) % pages, w = op == 4 ? 2 : 8;
            size_t o = take(&c, 2) % (ps - w + 1);
            uint64_t v = (uint64_t)take(&c, 4) << 32 | take(&c, 4);
            for (size_t j = 0; j < w; j++)
                g_buf[pg * ps + o + j] = (uint8_t)(v >> 8 * j);
            break;
        }
        }
    }
    return len;
}

static int count_blob(void *arg, const javm_hash *h, const javm_cap *cap, uint32_t refcount)
{
    (void)h;
    (void)cap;
    (void)refcount;
    (*(size_t *)arg)++;
    return 0;
}

static int count_name(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    (void)k;
    (void)kl;
    (void)v;
    (void)vl;
    (*(size_t *)arg)++;
    return 0;
}

/* What the javm command does with the store: open, ls, cat, invoke, gc. Statuses are fine. */
static void operate(void)
{
    javm_store *s;
    javm_cache *c = NULL;
    javm_ka *ka = NULL;
    javm_vm *vm = g_vm;
    javm_lmdb_opts nosync = { 4u << 20, true, false }; /* a durable commit is two fdatasyncs */
    if (javm_store_lmdb_open(g_dir, &nosync, &s))
        return;
    if (javm_cache_open(s, &c) || javm_ka_store_new(s, &ka))
        goto out;
    size_t n = 0;
    s->vtbl->scan(s, JAVM_TABLE_NAMES, count_name, &n);
    javm_cache_iter_blobs(c, count_blob, &n);
    javm_hash inst;
    if (javm_name_get(c, (const uint8_t *)"app", 3, &inst) == JAVM_OK) {
        (void)javm_cache_get_hash(c, &inst);
        javm_invoke_opts o = { (const uint8_t *)"app", 3 };
        javm_call_result r;
        uint64_t args[4] = { 0 };
        (void)javm_invoke(vm, c, ka, &inst, 0, args, 100000, NULL, &o, &r);
    }
    (void)javm_gc(vm, c, ka, NULL, 0);
    (void)javm_commit(c, ka);
out:
    if (c)
        javm_abort(vm, c, ka);
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_tmpl)
        build_template();
    g_in = data;
    g_len = size;
    size_t len = mutate(data, size);
    rm_store(g_dir);
    char p[128];
    snprintf(p, sizeof p, "%s/data.mdb", g_dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, g_buf, len) != (ssize_t)len)
        fail("write data.mdb", 0);
    close(fd);
    /* FUZZ_STORE_DUMP=DIR keeps the template and the damaged file there (to study a finding) */
    const char *dump = getenv("FUZZ_STORE_DUMP");
    if (dump) {
        const uint8_t *bufs[2] = { g_tmpl, g_buf };
        size_t lens[2] = { g_tlen, len };
        for (int i = 0; i < 2; i++) {
            char dp[512];
            snprintf(dp, sizeof dp, "%s/%s.mdb", dump, i ? "damaged" : "template");
            FILE *f = fopen(dp, "wb");
            if (f) {
                fwrite(bufs[i], 1, lens[i], f);
                fclose(f);
            }
        }
    }
    char msg[256];
    int vrc = javm_store_lmdb_verify(g_dir, true, msg, sizeof msg);
    if (vrc != JAVM_OK && vrc != JAVM_ERR_STORE_CORRUPT && vrc != JAVM_ERR_STORE_FORMAT)
        fail("page walk status", vrc);
    if (vrc == JAVM_OK) {
        operate();
    } else {
        /* the cheap open checks alone: refuse or open, never fault */
        javm_store *s;
        javm_lmdb_opts nosync = { 4u << 20, true, false };
        if (javm_store_lmdb_open(g_dir, &nosync, &s) == JAVM_OK)
            javm_store_close(s);
    }
    return 0;
}
