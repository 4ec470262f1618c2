/* SPDX-License-Identifier: MIT
 * bench/bench_vm.c — VM-layer speed (caps.md §6, §7): an empty endpoint invocation round trip
 * (build_entry, run, settle, journal commit on the in-memory store), a host call round trip
 * (ecalli to a no-op embedder function and back, many in one invocation), and SET_IMAGE on an
 * image already in the decode cache, and an invocation writing one byte of a 64 MiB instance
 * (one writable mapping whose overlay is a Paged Data with every page Loaded), each invoking
 * the previous post-instance as a name does: the same value each time (the post-instance is
 * the same) or a new one (a new post-instance Data is stored at every commit), the latter
 * also for instances of 1, 16 and 256 MiB (what a new value costs as the mapped size grows).
 * Best of RUNS batches (default 7). Usage: bench_vm [RUNS [LMDB_DIR]]: the in-memory store, or a new
 * LMDB store in LMDB_DIR (commits synced). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "javm.h"
#include "vm/vm.h"

#define CHECK(x)                                                                               \
    do {                                                                                       \
        int rc_ = (x);                                                                         \
        if (rc_) {                                                                             \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, javm_strerror(rc_));    \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static javm_host_rc noop_fn(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13], javm_memory *mem,
                            int64_t *gas, void *user)
{
    (void)ctx; (void)op; (void)regs; (void)mem; (void)gas; (void)user;
    return JAVM_HOST_CONTINUE;
}

/* Puts an image of `code` (every instruction 2 bytes long) with one zero endpoint; spawns it. */
static javm_hash spawn_code(javm_cache *c, const uint8_t *code, uint32_t L)
{
    uint8_t *mask = calloc((L + 7) / 8, 1);
    for (uint32_t i = 0; i < L; i += 2)
        mask[i / 8] |= (uint8_t)(1u << (i % 8));
    javm_cap *img;
    CHECK(javm_image_new(code, L, mask, (L + 7) / 8, &img));
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    CHECK(javm_image_add_endpoint(img, &ep));
    javm_hash ih, inst;
    CHECK(javm_cache_put(c, img, &ih));
    CHECK(javm_spawn(c, &ih, 8, &inst));
    javm_cap_free(img);
    free(mask);
    return inst;
}

/* An instance of 64 MiB (one writable mapping at 0x10000 whose overlay has every page Loaded)
 * whose endpoint stores one byte (store_u8 [0x10000], φ7) and halts. */
static javm_hash spawn_big(javm_cache *c, uint64_t size)
{
    static const uint8_t code[7] = { 0x3b, 0x07, 0x00, 0x00, 0x01, 10, 0 };
    static const uint8_t mask[1] = { 0x21 };
    javm_cap *d;
    CHECK(javm_data_new_paged(size, &d));
    uint8_t page[4096];
    for (uint64_t i = 0; i < size / 4096; i++) {
        memset(page, (int)(i % 251) + 1, sizeof page);
        CHECK(javm_data_page_load(d, i, page));
    }
    javm_hash dh;
    CHECK(javm_cache_put_owned(c, d, &dh));
    javm_cap *img;
    CHECK(javm_image_new(code, sizeof code, mask, sizeof mask, &img));
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    CHECK(javm_image_add_endpoint(img, &ep));
    javm_mapping m = { .start = 0x10000, .size = size, .flags = 1, .path_len = 1, .path = { 1 } };
    CHECK(javm_image_add_mapping(img, &m));
    CHECK(javm_image_add_initial(img, 1, &dh));
    javm_hash ih, inst;
    CHECK(javm_cache_put(c, img, &ih));
    CHECK(javm_spawn(c, &ih, 8, &inst));
    javm_cap_free(img);
    javm_key k = javm_key_of_hash(&dh);
    CHECK(javm_cache_decref(c, &k)); /* the image and the instance hold it */
    return inst;
}

/* Invokes inst with φ7 = a0 and returns the post-instance (held), releasing inst unless it
 * is `keep` (the spawned instance, kept for the other engine). */
static javm_hash invoke_chain(javm_vm *vm, javm_cache *c, javm_ka *ka, const javm_hash *inst, uint64_t a0,
                              const javm_hash *keep)
{
    const uint64_t args[4] = { a0, 0, 0, 0 };
    javm_call_result r;
    CHECK(javm_invoke(vm, c, ka, inst, 0, args, UINT64_C(1) << 40, NULL, NULL, &r));
    if (r.kind != JAVM_RES_HALT) {
        fprintf(stderr, "invocation did not halt (kind %d, fault %d)\n", r.kind, r.fault_reason);
        exit(1);
    }
    if (!keep || memcmp(inst, keep, sizeof *inst) != 0) {
        javm_key k = javm_key_of_hash(inst);
        CHECK(javm_cache_decref(c, &k));
    }
    return r.post_instance;
}

/* Best time (ns) of a chain of invocations of a new instance of `size` bytes, each writing a
 * new value: best of `runs` batches of 20. */
static double new_value_ns(javm_vm *vm, javm_cache *c, javm_ka *ka, uint64_t size, int runs)
{
    javm_hash big = spawn_big(c, size);
    javm_hash cur = invoke_chain(vm, c, ka, &big, 0, &big);
    double best = 1e30;
    uint64_t v = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ns();
        for (int i = 0; i < 20; i++)
            cur = invoke_chain(vm, c, ka, &cur, 1 + (v++ % 250), &big);
        double dt = (now_ns() - t0) / 20;
        if (dt < best)
            best = dt;
    }
    javm_key k = javm_key_of_hash(&cur);
    CHECK(javm_cache_decref(c, &k));
    k = javm_key_of_hash(&big);
    CHECK(javm_cache_decref(c, &k));
    return best;
}

/* One invocation of inst, its post-instance released. */
static void invoke_once(javm_vm *vm, javm_cache *c, javm_ka *ka, const javm_hash *inst)
{
    javm_hash post = invoke_chain(vm, c, ka, inst, 0, inst);
    javm_key k = javm_key_of_hash(&post);
    CHECK(javm_cache_decref(c, &k));
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (argc > 3 || runs < 1) {
        fprintf(stderr, "usage: bench_vm [RUNS [LMDB_DIR]]   (RUNS >= 1, default 7; with\n"
                        "       LMDB_DIR, a new LMDB store there instead of the in-memory one)\n");
        return 2;
    }
    javm_vm *vm;
    javm_store *store;
    javm_cache *c;
    javm_ka *ka;
    CHECK(javm_vm_new(&vm, 0));
    if (argc > 2) {
        javm_lmdb_opts lo = { (uint64_t)4 << 30, false, false }; /* fdatasync at each commit */
        CHECK(javm_store_lmdb_open(argv[2], &lo, &store));
        printf("store: LMDB at %s (synced commits)\n", argv[2]);
    } else {
        CHECK(javm_store_mem_new(&store));
    }
    CHECK(javm_cache_open(store, &c));
    CHECK(javm_ka_mem_new(&ka));
    CHECK(javm_vm_register_host_fn(vm, 64, noop_fn, NULL));

    /* 1: empty invocation (ecalli 0) */
    static const uint8_t halt[2] = { 10, 0 };
    javm_hash empty = spawn_code(c, halt, 2);
    enum { INV = 20000, NCALLS = 200000 };
    uint8_t *code = malloc(2 * NCALLS + 2);
    for (int i = 0; i < NCALLS; i++) {
        code[2 * i] = 10;
        code[2 * i + 1] = 64;
    }
    code[2 * NCALLS] = 10;
    code[2 * NCALLS + 1] = 0;
    javm_hash calls = spawn_code(c, code, 2 * NCALLS + 2);
    free(code);
    static const javm_engine engines[2] = { JAVM_ENGINE_INTERP, JAVM_ENGINE_JIT };
    double inv_e[2] = { 0, 0 }, call_e[2] = { 0, 0 }, big_e[2] = { 0, 0 }, new_e[2] = { 0, 0 };
    javm_hash big = spawn_big(c, UINT64_C(64) << 20);
    for (int e = 0; e < (javm_jit_available() ? 2 : 1); e++) {
    javm_vm_set_engine(vm, engines[e]);
    double best_inv = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ns();
        for (int i = 0; i < INV; i++)
            invoke_once(vm, c, ka, &empty);
        double dt = (now_ns() - t0) / INV;
        if (dt < best_inv)
            best_inv = dt;
    }

    /* 2: host calls: N × ecalli 64, then ecalli 0, in one invocation, less an empty one */
    invoke_once(vm, c, ka, &calls); /* decode (and compile) once */
    double best_call = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ns();
        invoke_once(vm, c, ka, &calls);
        double dt = (now_ns() - t0 - best_inv) / NCALLS;
        if (dt < best_call)
            best_call = dt;
    }
    inv_e[e] = best_inv;
    call_e[e] = best_call;

    /* 4: one byte written into a 64 MiB instance (every page Loaded), committed. As a name
     * would: each invocation runs the previous post-instance, which is then released. Writing
     * the byte that is already there gives the same post-instance each time. */
    javm_hash cur = invoke_chain(vm, c, ka, &big, 0, &big); /* decode (and compile) once */
    enum { BIG = 20 };
    double best_big = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ns();
        for (int i = 0; i < BIG; i++)
            cur = invoke_chain(vm, c, ka, &cur, 0, &big);
        double dt = (now_ns() - t0) / BIG;
        if (dt < best_big)
            best_big = dt;
    }
    big_e[e] = best_big;

    /* 5: the same, writing a new value each time: a new post-instance Data is stored at each
     * commit (and the previous one, released, is deleted) */
    double best_new = 1e30;
    uint64_t v = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ns();
        for (int i = 0; i < BIG; i++)
            cur = invoke_chain(vm, c, ka, &cur, 1 + (v++ % 250), &big);
        double dt = (now_ns() - t0) / BIG;
        if (dt < best_new)
            best_new = dt;
    }
    javm_key ck = javm_key_of_hash(&cur);
    if (memcmp(&cur, &big, sizeof cur) != 0)
        CHECK(javm_cache_decref(c, &ck));
    new_e[e] = best_new;
    }
    javm_vm_set_engine(vm, JAVM_ENGINE_AUTO);

    /* 3: SET_IMAGE through the dispatcher on an unaccounted entry, image already decoded */
    static const uint8_t code1[1] = { 0 }, bm1[1] = { 1 }, img1code[2] = { 10, 0 };
    javm_program *p;
    javm_prepare_opts o = { JAVM_PROFILE_JAVM, 25 };
    CHECK(javm_prepare(code1, 1, bm1, NULL, 0, &o, &p));
    javm_cap *img1;
    javm_hash h1;
    CHECK(javm_image_new(img1code, 2, bm1, 1, &img1));
    CHECK(javm_cache_put(c, img1, &h1));
    javm_cap_free(img1);
    uint32_t slot = 3;
    javm_test_entry te;
    memset(&te, 0, sizeof te);
    te.size_log = 4;
    te.slot_ids = &slot;
    te.slot_vals = &h1;
    te.n_slots = 1;
    te.M = 25;
    te.program = p;
    javm_vm *vm2;
    CHECK(javm_vm_new(&vm2, 0));
    CHECK(javm_vm_push_test_entry(vm2, &te));
    javm_ecall_ctx ctx = { vm2, c, ka };
    uint64_t regs[13] = { 0 };
    int64_t gas = INT64_MAX;
    enum { SETS = 200000 };
    double best_set = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ns();
        for (int i = 0; i < SETS; i++) {
            regs[7] = 3;
            javm_answer a = javm_dispatch(&ctx, JAVM_CALL_ECALLI, 17, regs, NULL, &gas);
            if (a.cont || a.exit.reason != JAVM_EXIT_HOST_CALL) {
                fprintf(stderr, "set_image failed: %s\n", javm_trap_name(javm_vm_last_trap(vm2)));
                return 1;
            }
        }
        double dt = (now_ns() - t0) / SETS;
        if (dt < best_set)
            best_set = dt;
    }

    for (int e = 0; e < (javm_jit_available() ? 2 : 1); e++) {
        printf("[%-6s] empty invocation round trip: %8.2f us   (target <= 5 us)\n", javm_engine_name(engines[e]),
               inv_e[e] / 1000.0);
        printf("[%-6s] one byte of a 64 MiB instance, same value each time:%10.2f us   (target <= 2x the empty invocation)\n",
               javm_engine_name(engines[e]), big_e[e] / 1000.0);
        printf("[%-6s] one byte of a 64 MiB instance, new value each time: %10.2f us\n",
               javm_engine_name(engines[e]), new_e[e] / 1000.0);
        printf("[%-6s] host call round trip:        %8.2f ns   (target <= 40 ns; JIT <= 10 ns)\n",
               javm_engine_name(engines[e]), call_e[e]);
    }
    printf("set_image, decoded image:    %8.2f ns\n", best_set);
    /* 6: a new value as the mapped size grows (O(pages changed) plus O(pages / 64) pointers) */
    for (unsigned mib = 1; mib <= 256; mib *= 16) {
        double t = new_value_ns(vm, c, ka, (uint64_t)mib << 20, runs);
        printf("[%-6s] one byte of a %u MiB instance, new value each time: %10.2f us\n",
               javm_engine_name(JAVM_ENGINE_AUTO), mib, t / 1000.0);
    }

    javm_vm_free(vm2);
    javm_program_free(p);
    javm_vm_free(vm);
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(store);
    return 0;
}
