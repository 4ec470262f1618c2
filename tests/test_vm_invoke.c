/* SPDX-License-Identifier: MIT
 * tests/test_vm_invoke.c — the VM driver of caps.md §6 through javm_invoke, javm_resume and
 * javm_abort on the in-memory store: the VM, kernel-assist, journal, name and image-file
 * bullets of §10.5, and end-to-end guest programs built here (mint and save then open and read
 * back, set_image continuing in the new code, nested HOST_CALL, out of gas, state persisting
 * between invocations). Expected values come from the spec or are computed here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cap_fixtures.h"
#include "vmfix.h"

#define HX_IMG2 "8aad376327f4885542f7829b74e33bec15a45bdacc8e73ce395b413bf16942ff"
#define HX_IMG3 "c7824f6ae8bce86a43b1123600b2c7f7cbf572f70a0cbd88535c3a76f2f4adb0"
#define HX_HELLO "8d701b885ff92c129847ea844f81d7a9a62b718e47830c4c9ff057a1d82eeb1e"
#define HX_SPAWN_IMG2 "7b056bd563af2252b45a22931f5926a97d127dbbcfa46b3ed2fee80a57e10ec9"
#define HX_IMG4_POST "03671d4929564a0e4bd99fd2d6774c9d7aace6a604b3905654fab0ae98b42c45"
#define HX_CATCHER0 "0050be316bdec96228348e1051aa70d66e6fc56c12bc897dcc997c53ee74bfc2"
#define HX_CATCHER0_CHAIN "90bb7b364e6f8a9f4db0d57d2cc62ed334912c26fb9528e96a4718a45ef031bb"
#define HX_CATCHER1 "2c8aecf7716d52874cbc347d9a85f00464c063ac25a214ace22bb763d3e0c304"

/* ---- fixture: a VM, an in-memory store, a cache and a kernel assist --------------------- */

typedef vmenv env;

static const uint64_t NOARGS[4] = { 0, 0, 0, 0 };

static javm_call_result invoke(env *e, const javm_hash *inst, uint64_t gas, const javm_hash *slot0,
                               const uint64_t args[4])
{
    javm_call_result r;
    int rc = javm_invoke(e->vm, e->cache, e->ka, inst, 0, args ? args : NOARGS, gas, slot0, NULL, &r);
    if (rc)
        fail_msg("javm_invoke: %s", javm_strerror(rc));
    return r;
}

static void assert_halt(const javm_call_result *r, uint64_t ret)
{
    if (r->kind != JAVM_RES_HALT)
        fail_msg("expected HALT, got kind %d fault %d trap %s", r->kind, r->fault_reason,
                 javm_trap_name(r->trap));
    assert_int_equal(r->return_value, ret);
}

static void assert_fault(const javm_call_result *r, int reason)
{
    if (r->kind != JAVM_RES_FAULT || r->fault_reason != reason)
        fail_msg("expected FAULT(%d), got kind %d fault %d trap %s", reason, r->kind,
                 r->fault_reason, javm_trap_name(r->trap));
}

/* Releases the holds a HALT result hands to the caller. */
static void drop_result(env *e, const javm_call_result *r)
{
    if (r->kind != JAVM_RES_HALT)
        return;
    javm_key k = javm_key_of_hash(&r->post_instance);
    assert_int_equal(javm_cache_decref(e->cache, &k), JAVM_OK);
    if (r->has_slot0) {
        k = javm_key_of_hash(&r->slot0);
        assert_int_equal(javm_cache_decref(e->cache, &k), JAVM_OK);
    }
}

/* Cache, quotas, files, next_file_id (no VM entry: the stack is empty between invocations). */
static void snap(env *e, vm_snap *s) { vm_snap_take(s, e->vm, e->cache, e->ka, NULL, NULL, NULL); }

/* ---- an independent Image body encoder (caps.md §11.1) and its cap hash ----------------- */

typedef struct simg {
    const uint8_t *code;
    uint32_t L;
    const uint8_t *mask;
    bool has_map;
    uint64_t map_start, map_size;
    uint8_t map_flags;
    uint8_t path_len;
    uint32_t path0;
    uint32_t n_initial;
    uint32_t initial_slot;
    javm_hash initial_cap;
} simg;

static void simg_body(bb *b, const simg *s)
{
    bb_u32(b, s->L);
    bb_raw(b, s->code, s->L);
    bb_u32(b, (s->L + 7) / 8);
    bb_raw(b, s->mask, (s->L + 7) / 8);
    bb_u32(b, 0);         /* jump table */
    bb_u32(b, 1);         /* one all-zero endpoint: 8 + 8 + 4 + 1 + 13 × 8 bytes */
    for (int i = 0; i < 125; i++)
        bb_u8(b, 0);
    bb_u32(b, s->has_map);
    if (s->has_map) {
        bb_u64(b, s->map_start);
        bb_u64(b, s->map_size);
        bb_u8(b, s->map_flags);
        bb_u8(b, s->path_len);
        if (s->path_len)
            bb_u32(b, s->path0);
    }
    bb_u32(b, 0); /* pinned */
    bb_u32(b, s->n_initial);
    if (s->n_initial) {
        bb_u32(b, s->initial_slot);
        bb_h(b, &s->initial_cap);
    }
    bb_u8(b, 0); /* no yield marker slot */
}

static javm_hash simg_hash(const simg *s)
{
    bb b = { 0 };
    simg_body(&b, s);
    uint8_t pre[33];
    pre[0] = 0x20;
    javm_hash inner = vm_h(b.p, b.n);
    memcpy(pre + 1, inner.b, 32);
    bb_free(&b);
    return vm_h(pre, 33);
}

/* ---- programs ---------------------------------------------------------------------------- */

#define ECALLI(p, n) TI((p), 10, (n))
#define LOAD_IMM(p, r, v) TI((p), 51, (r), (uint8_t)(v), (uint8_t)((v) >> 8))
#define LOAD_IMM64(p, r, v)                                                                    \
    TI((p), 20, (r), (uint8_t)(v), (uint8_t)((uint64_t)(v) >> 8), (uint8_t)((uint64_t)(v) >> 16), \
       (uint8_t)((uint64_t)(v) >> 24), (uint8_t)((uint64_t)(v) >> 32),                          \
       (uint8_t)((uint64_t)(v) >> 40), (uint8_t)((uint64_t)(v) >> 48),                          \
       (uint8_t)((uint64_t)(v) >> 56))

/* [20,7,42,0…0,10,0]: load_imm_64 φ7, 42; ecalli 0. */
static void prog_ret42(tprog *p)
{
    tprog_init(p);
    LOAD_IMM64(p, 7, 42);
    ECALLI(p, 0);
}

static javm_hash spawn_prog(env *e, const tprog *p, uint64_t map_start, uint64_t map_size,
                            uint8_t flags, javm_hash *img)
{
    return vm_spawn_image(e->cache, vm_image_of(p, map_start, map_size, flags), img);
}

/* ---- §10.5 VM bullets ------------------------------------------------------------------- */

static void test_trap_code(void **state)
{
    env *e = *state;
    tprog p;
    tprog_init(&p);
    TI(&p, 0);
    javm_hash inst = spawn_prog(e, &p, 0, 0, 0, NULL);
    javm_call_result r = invoke(e, &inst, 1000, NULL, NULL);
    assert_fault(&r, JAVM_EXIT_TRAP);
    assert_int_equal(r.fault_reason, 7);
    assert_int_equal(javm_vm_depth(e->vm), 0);
    assert_false(javm_journal_is_open(e->cache));
}

static void test_img2_twice(void **state)
{
    env *e = *state;
    javm_hash img = vm_put(e->cache, img2()), inst;
    assert_hash_hex(img, HX_IMG2);
    assert_int_equal(javm_spawn(e->cache, &img, 8, &inst), JAVM_OK);
    static const uint64_t gases[2] = { 1000, 1000000 };
    for (int i = 0; i < 2; i++) {
        javm_call_result r = invoke(e, &inst, gases[i], NULL, NULL);
        assert_halt(&r, 0);
        assert_int_equal(r.gas_used, 107);
        assert_hash_hex(r.post_instance, HX_SPAWN_IMG2);
        assert_false(r.has_slot0);
        drop_result(e, &r);
    }
}

static void test_ret42(void **state)
{
    env *e = *state;
    tprog p;
    prog_ret42(&p);
    assert_int_equal(p.L, 12);
    assert_int_equal(p.mask[0], 0x01);
    assert_int_equal(p.mask[1], 0x04);
    javm_hash inst = spawn_prog(e, &p, 0, 0, 0, NULL);
    javm_call_result r = invoke(e, &inst, 1000, NULL, NULL);
    assert_halt(&r, 42);
    assert_int_equal(r.gas_used, 107);
    drop_result(e, &r);
}

static void test_fallthrough_oog(void **state)
{
    env *e = *state;
    tprog p;
    tprog_init(&p);
    for (int i = 0; i < 50; i++)
        TI(&p, 1);
    javm_hash inst = spawn_prog(e, &p, 0, 0, 0, NULL);
    javm_call_result r = invoke(e, &inst, 3, NULL, NULL);
    assert_fault(&r, JAVM_EXIT_OUT_OF_GAS);
}

/* IMG4: store_imm_u8 [0x1000], 1; ecalli 0, with a mapping {0x1000, 0x1000, f, []}. */
static void test_img4(void **state)
{
    env *e = *state;
    static const uint8_t code[7] = { 30, 2, 0, 16, 1, 10, 0 }, mask[1] = { 0x21 };
    for (uint8_t f = 0; f < 2; f++) {
        javm_cap *img;
        assert_int_equal(javm_image_new(code, 7, mask, 1, &img), JAVM_OK);
        javm_endpoint ep;
        memset(&ep, 0, sizeof ep);
        assert_int_equal(javm_image_add_endpoint(img, &ep), JAVM_OK);
        javm_mapping m;
        memset(&m, 0, sizeof m);
        m.start = 0x1000;
        m.size = 0x1000;
        m.flags = f;
        assert_int_equal(javm_image_add_mapping(img, &m), JAVM_OK);
        javm_hash ih, inst = vm_spawn_image(e->cache, img, &ih);
        simg s = { code, 7, mask, true, 0x1000, 0x1000, f, 0, 0, 0, 0, { { 0 } } };
        javm_hash want = simg_hash(&s);
        assert_hash_equal(ih, want);
        vm_snap before, after;
        snap(e, &before);
        javm_call_result r = invoke(e, &inst, 1000, NULL, NULL);
        if (f == 1) {
            vm_assert_abbrev(&ih, "6596b35d", "4ff19c");
            vm_assert_abbrev(&inst, "bd0649c1", "49f0d5");
            assert_halt(&r, 0);
            assert_int_equal(r.gas_used, 107);
            assert_hash_hex(r.post_instance, HX_IMG4_POST);
            const javm_cap *pi = javm_cache_get_hash(e->cache, &r.post_instance);
            assert_non_null(pi);
            assert_int_equal(pi->instance.n_overlays, 1);
            assert_int_equal(pi->instance.overlays[0].start, 0x1000);
            javm_hash d1 = vm_h_data_inline((const uint8_t[]){ 1 }, 1);
            vm_assert_abbrev(&d1, "65f3635c", "1aed5e");
            assert_hash_equal(pi->instance.overlays[0].data, d1);
            assert_int_equal(pi->instance.mem_size, 0x2000);
            drop_result(e, &r);
        } else {
            vm_assert_abbrev(&ih, "9d7155bd", "945af1");
            assert_fault(&r, JAVM_EXIT_PAGE_FAULT);
            assert_int_equal(r.fault_addr, 0x1000);
            snap(e, &after);
            vm_snap_assert_equal(&before, &after);
            vm_snap_free(&after);
        }
        vm_snap_free(&before);
    }
}

static void test_mem_latency(void **state)
{
    env *e = *state;
    javm_hash img = vm_put(e->cache, img2());
    javm_cap *c;
    assert_int_equal(javm_cnode_new(8, &c), JAVM_OK);
    javm_hash root = vm_put(e->cache, c);
    javm_key rk = javm_key_of_hash(&root);
    static const uint32_t sizes[2] = { 0x800000, 0x800001 };
    javm_hash inst[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(javm_instance_new(&img, &img, &rk, &c), JAVM_OK);
        c->instance.mem_size = sizes[i];
        inst[i] = vm_put(e->cache, c);
    }
    assert_int_equal(javm_vm_image_cache_size(e->vm), 0);
    for (int i = 0; i < 2; i++) {
        javm_call_result r = invoke(e, &inst[i], 1000, NULL, NULL);
        assert_halt(&r, 0);
        drop_result(e, &r);
    }
    assert_true(javm_vm_image_cached(e->vm, &img, 25));
    assert_true(javm_vm_image_cached(e->vm, &img, 50));
    assert_int_equal(javm_vm_image_cache_size(e->vm), 2);
}

/* Records refcounts of two images from inside a run (ops 64 and 65). */
typedef struct rc_probe {
    javm_cache *cache;
    javm_hash a, b;
    uint32_t base_a, base_b, after_a, after_b;
    bool slot5_is_b;
    int calls;
} rc_probe;

static javm_host_rc probe_base(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13],
                               javm_memory *mem, int64_t *gas, void *user)
{
    rc_probe *p = user;
    (void)op; (void)regs; (void)mem; (void)gas;
    p->base_a = vm_rc(ctx->cache, &p->a);
    p->base_b = vm_rc(ctx->cache, &p->b);
    p->calls++;
    return JAVM_HOST_CONTINUE;
}

static javm_host_rc probe_after(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13],
                                javm_memory *mem, int64_t *gas, void *user)
{
    rc_probe *p = user;
    javm_hash s5;
    (void)op; (void)regs; (void)mem; (void)gas;
    p->after_a = vm_rc(ctx->cache, &p->a);
    p->after_b = vm_rc(ctx->cache, &p->b);
    p->slot5_is_b = javm_vm_top_slot_get(ctx->vm, 5, &s5) == JAVM_OK && memcmp(&s5, &p->b, 32) == 0;
    p->calls++;
    return JAVM_HOST_CONTINUE;
}

/* A: ecalli 65; load_imm φ7, 5; ecalli 17; ecalli 0. B shares A's first 7 bytes, then at the
 * pc past the ecalli 17: ecalli 64; load_imm φ7, 77; ecalli 0. Slot 5 holds B. */
static void build_set_image_pair(env *e, javm_hash *inst, javm_hash *ha, javm_hash *hb)
{
    tprog a, b;
    tprog_init(&b);
    ECALLI(&b, 65);
    TI(&b, 51, 7, 5);
    ECALLI(&b, 17);
    ECALLI(&b, 64);
    TI(&b, 51, 7, 77);
    ECALLI(&b, 0);
    tprog_init(&a);
    ECALLI(&a, 65);
    TI(&a, 51, 7, 5);
    ECALLI(&a, 17);
    ECALLI(&a, 0);
    *hb = vm_put(e->cache, vm_image_of(&b, 0, 0, 0));
    javm_cap *ia = vm_image_of(&a, 0, 0, 0);
    assert_int_equal(javm_image_add_initial(ia, 5, hb), JAVM_OK);
    *inst = vm_spawn_image(e->cache, ia, ha);
}

static void test_set_image_accounted(void **state)
{
    env *e = *state;
    javm_hash inst, a, b;
    build_set_image_pair(e, &inst, &a, &b);
    rc_probe p = { e->cache, a, b, 0, 0, 0, 0, false, 0 };
    assert_int_equal(javm_vm_register_host_fn(e->vm, 65, probe_base, &p), JAVM_OK);
    assert_int_equal(javm_vm_register_host_fn(e->vm, 64, probe_after, &p), JAVM_OK);
    javm_call_result r = invoke(e, &inst, 100000, NULL, NULL);
    assert_halt(&r, 77); /* e2e (2): only B computes 77 */
    assert_int_equal(p.calls, 2);
    assert_int_equal(p.after_b, p.base_b + 1);
    assert_int_equal(p.after_a, p.base_a - 1);
    assert_true(p.slot5_is_b);
    /* the post-instance is bound to B with the extended chain */
    const javm_cap *pi = javm_cache_get_hash(e->cache, &r.post_instance);
    assert_non_null(pi);
    assert_hash_equal(pi->instance.image_hash, b);
    uint8_t cat[64];
    memcpy(cat, a.b, 32);
    memcpy(cat + 32, b.b, 32);
    javm_hash chain = vm_h(cat, 64);
    assert_hash_equal(pi->instance.image_hash_chain, chain);
    drop_result(e, &r);
}

/* P: load_imm_64 φ7, 9; load_imm_64 φ8, 0; ecalli 26; ecalli 0, with initial [(9, S)]. */
static javm_hash spawn_parent(env *e, const javm_hash *child, bool yield_catcher,
                              const javm_hash *catcher)
{
    tprog p;
    tprog_init(&p);
    LOAD_IMM64(&p, 7, 9);
    LOAD_IMM64(&p, 8, 0);
    ECALLI(&p, 26);
    ECALLI(&p, 0);
    javm_cap *img = vm_image_of(&p, 0, 0, 0);
    assert_int_equal(javm_image_add_initial(img, 9, child), JAVM_OK);
    if (yield_catcher) {
        assert_int_equal(javm_image_add_initial(img, 10, catcher), JAVM_OK);
        img->image.has_yield_marker = true;
        img->image.yield_marker_slot = 10;
    }
    return vm_spawn_image(e->cache, img, NULL);
}

static void test_sub_vm(void **state)
{
    env *e = *state;
    tprog s;
    prog_ret42(&s);
    javm_hash child = spawn_prog(e, &s, 0, 0, 0, NULL);
    javm_hash parent = spawn_parent(e, &child, false, NULL);
    javm_hash hello = vm_put(e->cache, data_str("hello"));
    uint32_t rc_hello = vm_rc(e->cache, &hello), rc_child = vm_rc(e->cache, &child);
    javm_call_result r = invoke(e, &parent, 100000, &hello, NULL);
    assert_halt(&r, 42);
    assert_true(r.has_slot0);
    assert_hash_hex(r.slot0, HX_HELLO);
    assert_int_equal(vm_rc(e->cache, &hello), rc_hello + 1); /* the result's hold */
    /* the parent's slot 9 still names the pre-call child; nothing of the child was published */
    /* the post-instance root {9: S} equals P's spawned root, so S gains no holder */
    assert_int_equal(vm_rc(e->cache, &child), rc_child);
    drop_result(e, &r);
    assert_int_equal(vm_rc(e->cache, &hello), rc_hello);

    /* a faulting child: FAULT(TRAP), the cache as before */
    tprog t;
    tprog_init(&t);
    TI(&t, 0);
    javm_hash bad = spawn_prog(e, &t, 0, 0, 0, NULL);
    javm_hash parent2 = spawn_parent(e, &bad, false, NULL);
    vm_snap before, after;
    snap(e, &before);
    r = invoke(e, &parent2, 100000, &hello, NULL);
    assert_fault(&r, JAVM_EXIT_TRAP);
    assert_int_equal(javm_vm_depth(e->vm), 0);
    snap(e, &after);
    vm_snap_assert_equal(&before, &after);
    vm_snap_free(&before);
    vm_snap_free(&after);
}

/* e2e (3): the child sees slot 0, replaces it with a fresh CNode(2), and the parent gets it. */
typedef struct child_probe {
    javm_hash want0;
    bool saw;
    uint32_t depth;
} child_probe;

static javm_host_rc probe_child(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13],
                                javm_memory *mem, int64_t *gas, void *user)
{
    child_probe *p = user;
    javm_hash s0;
    (void)op; (void)regs; (void)mem; (void)gas;
    p->depth = javm_vm_depth(ctx->vm);
    p->saw = javm_vm_top_slot_get(ctx->vm, 0, &s0) == JAVM_OK && memcmp(&s0, &p->want0, 32) == 0;
    return JAVM_HOST_CONTINUE;
}

static void test_e2e_host_call(void **state)
{
    env *e = *state;
    tprog s;
    tprog_init(&s);
    ECALLI(&s, 64);          /* probe: depth 2, slot 0 = hello */
    TI(&s, 51, 7, 0);        /* drop slot 0 */
    ECALLI(&s, 3);
    TI(&s, 51, 7, 0);        /* cnode_mint slot 0, size_log 2 */
    TI(&s, 51, 8, 2);
    ECALLI(&s, 5);
    TI(&s, 51, 7, 99);
    ECALLI(&s, 0);
    javm_hash child = spawn_prog(e, &s, 0, 0, 0, NULL);
    javm_hash parent = spawn_parent(e, &child, false, NULL);
    javm_hash hello = vm_put(e->cache, data_str("hello"));
    child_probe cp = { hello, false, 0 };
    assert_int_equal(javm_vm_register_host_fn(e->vm, 64, probe_child, &cp), JAVM_OK);
    uint32_t rc_hello = vm_rc(e->cache, &hello);
    javm_call_result r = invoke(e, &parent, 100000, &hello, NULL);
    assert_halt(&r, 99);
    assert_true(cp.saw);
    assert_int_equal(cp.depth, 2);
    assert_true(r.has_slot0);
    javm_hash cn2 = vm_h_empty_cnode(2);
    assert_hash_equal(r.slot0, cn2);
    assert_int_equal(vm_rc(e->cache, &hello), rc_hello); /* dropped by the child */
    drop_result(e, &r);
}

/* ---- e2e (1): mint + save, then open + read + checksum in another instance --------------- */

static void test_e2e_files(void **state)
{
    env *e = *state;
    tprog w, rd;
    tprog_init(&w);
    TI(&w, 30, 2, 0x00, 0x10, 'h');
    TI(&w, 30, 2, 0x01, 0x10, 'e');
    TI(&w, 30, 2, 0x02, 0x10, 'y');
    LOAD_IMM(&w, 7, 0x1000);
    TI(&w, 51, 8, 3);
    TI(&w, 51, 9, 0);
    TI(&w, 51, 10, 5);
    ECALLI(&w, 23);          /* mint Data "hey" into slot 5 */
    TI(&w, 51, 7, 5);
    TI(&w, 51, 8, 0);
    ECALLI(&w, 25);          /* save it: φ7 = file id */
    ECALLI(&w, 0);

    tprog_init(&rd);
    TI(&rd, 51, 8, 6);
    ECALLI(&rd, 24);         /* open file φ7 into slot 6 */
    TI(&rd, 51, 7, 6);
    LOAD_IMM(&rd, 8, 0x1000);
    TI(&rd, 51, 9, 100);
    ECALLI(&rd, 22);         /* read it to 0x1000: φ7 = n */
    TI(&rd, 51, 0, 0);
    LOAD_IMM(&rd, 1, 0x1000);
    TI(&rd, 149, 0x72, 0x00, 0x10); /* φ2 = φ7 + 0x1000 */
    TI(&rd, 1);
    uint32_t loop = TI(&rd, 124, 0x13); /* φ3 = u8 [φ1] */
    TI(&rd, 150, 0x00, 31);  /* φ0 = φ0 · 31 */
    TI(&rd, 200, 0x30, 0);   /* φ0 = φ0 + φ3 */
    TI(&rd, 149, 0x11, 1);   /* φ1 += 1 */
    uint32_t br = (uint32_t)rd.L;
    TI(&rd, 172, 0x21, (uint8_t)(int8_t)((int)loop - (int)br)); /* φ1 < φ2: loop */
    TI(&rd, 100, 0x07);      /* φ7 = φ0 */
    ECALLI(&rd, 0);

    javm_hash wi = spawn_prog(e, &w, 0x1000, 0x1000, 1, NULL);
    javm_hash ri = spawn_prog(e, &rd, 0x1000, 0x1000, 1, NULL);
    e->ka->vtbl->storage_quota_set(e->ka, 0, 100);
    javm_call_result r = invoke(e, &wi, 100000, NULL, NULL);
    assert_halt(&r, 1);
    assert_int_equal(e->ka->vtbl->storage_quota_get(e->ka, 0), 94);
    javm_hash fh, want = vm_h_data_inline((const uint8_t *)"hey", 3);
    assert_int_equal(e->ka->vtbl->host_open(e->ka, 1, &fh), JAVM_OK);
    assert_hash_equal(fh, want);
    drop_result(e, &r);

    const uint64_t args[4] = { 1, 0, 0, 0 };
    r = invoke(e, &ri, 100000, NULL, args);
    uint64_t sum = 0;
    for (const char *c = "hey"; *c; c++)
        sum = sum * 31 + (uint8_t)*c;
    assert_halt(&r, sum);
    drop_result(e, &r);
}

/* ---- e2e (4): out of gas mid-way ---------------------------------------------------------- */

static void test_e2e_oog_loop(void **state)
{
    env *e = *state;
    tprog p;
    tprog_init(&p);
    TI(&p, 1);
    uint32_t loop = TI(&p, 149, 0x00, 1);
    uint32_t j = (uint32_t)p.L;
    TI(&p, 40, (uint8_t)(int8_t)((int)loop - (int)j));
    javm_hash inst = spawn_prog(e, &p, 0, 0, 0, NULL);
    vm_snap before, after;
    snap(e, &before);
    javm_call_result r = invoke(e, &inst, 5000, NULL, NULL);
    assert_fault(&r, JAVM_EXIT_OUT_OF_GAS);
    /* pvm.md §7.2: the fallthrough block costs 1 (done 2); the loop block (add_imm_64 φ0, 1
     * slot, done 1; jump, done 15) costs 12. 4999 gas pays 416 loops (4992), leaving 7 < 12:
     * OutOfGas with gas unchanged (§7.1), so 1 + 416 * 12 were used. */
    assert_int_equal(r.gas_used, 1 + 416 * 12);
    snap(e, &after);
    vm_snap_assert_equal(&before, &after);
    vm_snap_free(&before);
    vm_snap_free(&after);
}

/* ---- e2e (5): memory persists in the post-instance ---------------------------------------- */

static void test_e2e_state_persists(void **state)
{
    env *e = *state;
    tprog p;
    tprog_init(&p);
    TI(&p, 52, 7, 0x00, 0x10);   /* φ7 = u8 [0x1000] */
    TI(&p, 149, 0x78, 1);        /* φ8 = φ7 + 1 */
    TI(&p, 59, 8, 0x00, 0x10);   /* u8 [0x1000] = φ8 */
    ECALLI(&p, 0);
    javm_hash inst = spawn_prog(e, &p, 0x1000, 0x1000, 1, NULL);
    javm_hash cur = inst;
    for (uint64_t i = 0; i < 3; i++) {
        javm_call_result r = invoke(e, &cur, 100000, NULL, NULL);
        assert_halt(&r, i);
        assert_false(memcmp(&r.post_instance, &cur, 32) == 0);
        const javm_cap *pi = javm_cache_get_hash(e->cache, &r.post_instance);
        assert_non_null(pi);
        assert_int_equal(pi->instance.n_overlays, 1);
        uint8_t v = (uint8_t)(i + 1);
        javm_hash d = vm_h_data_inline(&v, 1);
        assert_hash_equal(pi->instance.overlays[0].data, d);
        if (i > 0) {
            javm_key k = javm_key_of_hash(&cur);
            assert_int_equal(javm_cache_decref(e->cache, &k), JAVM_OK);
        }
        cur = r.post_instance;
    }
}

/* ---- kernel assist (§10.5) ----------------------------------------------------------------- */

static void test_ka(void **state)
{
    env *e = *state;
    javm_ka *k = e->ka;
    javm_hash z = vm_fill(0);
    uint64_t id = 0;
    assert_int_equal(k->vtbl->storage_quota_set(k, 0, 1000), 0);
    assert_int_equal(k->vtbl->host_save(k, &z, 0, 32, &id), JAVM_OK);
    assert_int_equal(id, 1);
    assert_int_equal(k->vtbl->storage_quota_get(k, 0), 968);
    assert_int_equal(k->vtbl->host_save(k, &z, 0, 32, &id), JAVM_OK);
    assert_int_equal(id, 2);
    assert_int_equal(k->vtbl->host_save(k, &z, 7, 32, &id), JAVM_ERR_QUOTA);
    assert_int_equal(javm_ka_mem_next_file_id(k), 3);
    assert_int_equal(k->vtbl->storage_quota_get(k, 12345), 0);
    assert_int_equal(k->vtbl->storage_quota_set(k, 0, 5), 936);
    assert_int_equal(k->vtbl->storage_quota_set(k, 0, 6), 5);

    /* yield catchers: Type{H("javm:yield-catcher" ‖ u64 LE n)} */
    javm_hash c0, c1;
    assert_int_equal(javm_yield_catcher_new(e->cache, k, &c0), JAVM_OK);
    assert_int_equal(javm_yield_catcher_new(e->cache, k, &c1), JAVM_OK);
    assert_hash_hex(c0, HX_CATCHER0);
    assert_hash_hex(c1, HX_CATCHER1);
    for (int n = 0; n < 2; n++) {
        uint8_t pre[26];
        memcpy(pre, "javm:yield-catcher", 18);
        memset(pre + 18, 0, 8);
        pre[18] = (uint8_t)n;
        javm_hash chain = vm_h(pre, 26);
        if (n == 0)
            assert_hash_hex(chain, HX_CATCHER0_CHAIN);
        uint8_t t[33];
        t[0] = 0x50;
        memcpy(t + 1, chain.b, 32);
        javm_hash th = vm_h(t, 33);
        javm_hash cn = n == 0 ? c0 : c1;
        assert_hash_equal(th, cn);
        const javm_cap *got = javm_cache_get_hash(e->cache, n == 0 ? &c0 : &c1);
        assert_non_null(got);
        assert_int_equal(got->kind, JAVM_KIND_TYPE);
        assert_hash_equal(got->type.image_hash_chain, chain);
    }
    javm_hash absent = vm_fill(0xEE), m = vm_put(e->cache, data_str("hello"));
    assert_int_equal(javm_yield_catcher_add(e->cache, k, &c0, &absent), JAVM_ERR_NOT_FOUND);
    assert_false(k->vtbl->yield_catcher_contains(k, &c0, &absent));
    assert_int_equal(javm_yield_catcher_add(e->cache, k, &c0, &m), JAVM_OK);
    assert_int_equal(javm_yield_catcher_add(e->cache, k, &c0, &m), JAVM_OK);
    assert_true(k->vtbl->yield_catcher_contains(k, &c0, &m));
    assert_false(k->vtbl->yield_catcher_contains(k, &c1, &m));
    assert_int_equal(javm_yield_catcher_remove(e->cache, k, &c0, &m), JAVM_OK);
    assert_int_equal(javm_yield_catcher_remove(e->cache, k, &c0, &m), JAVM_OK);
    assert_false(k->vtbl->yield_catcher_contains(k, &c0, &m));
    assert_int_equal(javm_yield_catcher_add(e->cache, k, &absent, &m), JAVM_ERR_NOT_FOUND);
}

/* ---- journals (§10.5, in-memory store) ---------------------------------------------------- */

/* store_imm_u8 [0x1000], 7; mint 1 byte into slot 5 (quota 0); save slot 5; then `end`. */
static javm_hash spawn_saver(env *e, bool halt)
{
    tprog p;
    tprog_init(&p);
    TI(&p, 30, 2, 0x00, 0x10, 7);
    LOAD_IMM(&p, 7, 0x1000);
    TI(&p, 51, 8, 1);
    TI(&p, 51, 9, 0);
    TI(&p, 51, 10, 5);
    ECALLI(&p, 23);
    TI(&p, 51, 7, 5);
    TI(&p, 51, 8, 0);
    ECALLI(&p, 25);
    if (halt)
        ECALLI(&p, 0);
    else
        TI(&p, 0);
    return spawn_prog(e, &p, 0x1000, 0x1000, 1, NULL);
}

static void test_journal_trap(void **state)
{
    env *e = *state;
    javm_hash inst = spawn_saver(e, false);
    e->ka->vtbl->storage_quota_set(e->ka, 0, 100);
    vm_snap before, after;
    snap(e, &before);
    javm_call_result r = invoke(e, &inst, 100000, NULL, NULL);
    assert_fault(&r, JAVM_EXIT_TRAP);
    snap(e, &after);
    vm_snap_assert_equal(&before, &after);
    assert_int_equal(e->ka->vtbl->storage_quota_get(e->ka, 0), 100);
    javm_hash d7 = vm_h_data_inline((const uint8_t[]){ 7 }, 1);
    assert_null(javm_cache_get_hash(e->cache, &d7));
    vm_snap_free(&before);
    vm_snap_free(&after);
}

static void test_journal_halt(void **state)
{
    env *e = *state;
    javm_hash inst = spawn_saver(e, true);
    e->ka->vtbl->storage_quota_set(e->ka, 0, 100);
    javm_call_result r = invoke(e, &inst, 100000, NULL, NULL);
    assert_halt(&r, 1);
    assert_int_equal(e->ka->vtbl->storage_quota_get(e->ka, 0), 98);
    assert_int_equal(javm_ka_mem_next_file_id(e->ka), 2);
    javm_hash d7 = vm_h_data_inline((const uint8_t[]){ 7 }, 1), fh;
    assert_int_equal(e->ka->vtbl->host_open(e->ka, 1, &fh), JAVM_OK);
    assert_hash_equal(fh, d7);
    /* holders of Data [7]: the file record, the post-instance root's slot 5 and its overlay */
    assert_int_equal(vm_rc(e->cache, &d7), 3);
    /* committed: a second cache on the same store sees the blob and the post-instance */
    javm_cache *c2;
    assert_int_equal(javm_cache_open(e->store, &c2), JAVM_OK);
    assert_non_null(javm_cache_get_hash(c2, &d7));
    assert_non_null(javm_cache_get_hash(c2, &r.post_instance));
    uint32_t n = 0;
    javm_key k = javm_key_of_hash(&d7);
    assert_int_equal(javm_cache_refcount(c2, &k, &n), JAVM_OK);
    assert_int_equal(n, 3);
    javm_cache_close(c2);
    drop_result(e, &r);
}

/* S: cnode_mint slot 4; load_imm φ7, 3; ecalli 16 (yield marker slot 3); load_imm φ7, 42;
 * ecalli 0. P (yield catcher c in slot 10) calls S. */
static javm_hash spawn_yielder(env *e, javm_hash *marker)
{
    javm_hash c;
    assert_int_equal(javm_yield_catcher_new(e->cache, e->ka, &c), JAVM_OK);
    *marker = vm_put(e->cache, data_str("marker"));
    assert_int_equal(javm_yield_catcher_add(e->cache, e->ka, &c, marker), JAVM_OK);
    tprog s;
    tprog_init(&s);
    TI(&s, 51, 7, 4);
    TI(&s, 51, 8, 3);
    ECALLI(&s, 5);
    TI(&s, 51, 7, 3);
    ECALLI(&s, 16);
    TI(&s, 51, 7, 42);
    ECALLI(&s, 0);
    javm_cap *img = vm_image_of(&s, 0, 0, 0);
    assert_int_equal(javm_image_add_initial(img, 3, marker), JAVM_OK);
    javm_hash child = vm_spawn_image(e->cache, img, NULL);
    return spawn_parent(e, &child, true, &c);
}

static void test_pause_resume(void **state)
{
    env *e = *state;
    javm_hash marker, parent = spawn_yielder(e, &marker);
    javm_call_result r = invoke(e, &parent, 100000, NULL, NULL);
    assert_int_equal(r.kind, JAVM_RES_PAUSED);
    assert_hash_equal(r.marker, marker);
    assert_int_equal(r.catcher_position, 0);
    assert_int_equal(javm_vm_depth(e->vm), 3);
    /* pvm.md §7.2 block costs, plus JAVM_GAS_ECALL (10) for each op (caps.md §7.3):
     * P: load_imm_64 ×2 (2 slots each) then ecalli 26 opens cycle 1, done 101: 98, + 10;
     * S: load_imm ×2, ecalli 5: done 100: 97, + 10; load_imm, ecalli 16: 97, + 10. */
    assert_int_equal(r.gas_used, 98 + 10 + 97 + 10 + 97 + 10);
    /* while paused: the stack and the journal stand in the way */
    javm_call_result r2;
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &parent, 0, NOARGS, 1000, NULL, NULL, &r2),
                     JAVM_ERR_BUSY);
    assert_int_equal(javm_commit(e->cache, e->ka), JAVM_ERR_BUSY);
    assert_int_equal(javm_gc(e->vm, e->cache, e->ka, NULL, 0), JAVM_ERR_BUSY);
    assert_int_equal(javm_resume(e->vm, e->cache, e->ka, NULL, &r), JAVM_OK);
    assert_halt(&r, 42);
    /* then S: load_imm, ecalli 0: 97 + 10; P: ecalli 0: 97 + 10; gas_used counts from the
     * invocation's start */
    assert_int_equal(r.gas_used, 322 + 97 + 10 + 97 + 10);
    assert_int_equal(javm_vm_depth(e->vm), 0);
    assert_false(javm_journal_is_open(e->cache));
    drop_result(e, &r);
    assert_int_equal(javm_resume(e->vm, e->cache, e->ka, NULL, &r), JAVM_ERR_NOT_PAUSED);
}

static void test_pause_abort(void **state)
{
    env *e = *state;
    javm_hash marker, parent = spawn_yielder(e, &marker);
    vm_snap before, after;
    snap(e, &before);
    javm_call_result r = invoke(e, &parent, 100000, NULL, NULL);
    assert_int_equal(r.kind, JAVM_RES_PAUSED);
    javm_hash cn3 = vm_h_empty_cnode(3);
    assert_non_null(javm_cache_get_hash(e->cache, &cn3)); /* the child's mint, journaled */
    javm_abort(e->vm, e->cache, e->ka);
    assert_int_equal(javm_vm_depth(e->vm), 0);
    assert_false(javm_journal_is_open(e->cache));
    snap(e, &after);
    vm_snap_assert_equal(&before, &after);
    assert_null(javm_cache_get_hash(e->cache, &cn3));
    vm_snap_free(&before);
    vm_snap_free(&after);
}

/* Issue 13 item 5: resume and abort with another cache than the invocation's are refused and
 * change nothing, neither there nor in the paused invocation. */
static void test_pause_other_cache(void **state)
{
    env *e = *state;
    javm_hash marker, parent = spawn_yielder(e, &marker);
    assert_int_equal(javm_commit(e->cache, e->ka), JAVM_OK);
    javm_call_result r = invoke(e, &parent, 100000, NULL, NULL);
    assert_int_equal(r.kind, JAVM_RES_PAUSED);
    javm_cache *c2; /* the same store's blobs, another cache */
    assert_int_equal(javm_cache_open(e->store, &c2), JAVM_OK);
    vm_snap before, after;
    vm_snap_take(&before, NULL, c2, NULL, NULL, NULL, NULL);
    assert_int_equal(javm_resume(e->vm, c2, e->ka, NULL, &r), JAVM_ERR_INVALID_ARG);
    assert_int_equal(r.kind, JAVM_RES_FAULT);
    javm_abort(e->vm, c2, e->ka);
    vm_snap_take(&after, NULL, c2, NULL, NULL, NULL, NULL);
    vm_snap_assert_equal(&before, &after);
    vm_snap_free(&before);
    vm_snap_free(&after);
    assert_false(javm_journal_is_open(c2));
    javm_cache_close(c2);
    assert_int_equal(javm_vm_depth(e->vm), 3);
    assert_true(javm_journal_is_open(e->cache));
    assert_int_equal(javm_resume(e->vm, e->cache, e->ka, NULL, &r), JAVM_OK);
    assert_halt(&r, 42);
    drop_result(e, &r);
}

/* Issue 13 item 5, the epoch half: the embedder aborted the paused invocation's journal
 * itself and began another on the same cache; resume is refused, and abort drops the paused
 * stack without touching the new journal (the old one's undo already took the holds). */
static void test_pause_journal_replaced(void **state)
{
    env *e = *state;
    javm_hash marker, parent = spawn_yielder(e, &marker);
    assert_int_equal(javm_commit(e->cache, e->ka), JAVM_OK);
    vm_snap before, after;
    snap(e, &before);
    javm_call_result r = invoke(e, &parent, 100000, NULL, NULL);
    assert_int_equal(r.kind, JAVM_RES_PAUSED);
    javm_journal_abort(e->cache, e->ka);
    assert_int_equal(javm_journal_begin(e->cache, e->ka), JAVM_OK);
    javm_hash mine = vm_put(e->cache, data_str("the new journal's"));
    assert_int_equal(javm_resume(e->vm, e->cache, e->ka, NULL, &r), JAVM_ERR_INVALID_ARG);
    assert_int_equal(r.kind, JAVM_RES_FAULT);
    assert_true(javm_journal_is_open(e->cache));
    javm_abort(e->vm, e->cache, e->ka);
    assert_int_equal(javm_vm_depth(e->vm), 0);
    assert_true(javm_journal_is_open(e->cache)); /* not the paused invocation's to abort */
    assert_non_null(javm_cache_get_hash(e->cache, &mine));
    assert_int_equal(javm_journal_commit(e->cache, e->ka), JAVM_OK);
    javm_key mk = javm_key_of_hash(&mine);
    assert_int_equal(javm_cache_decref(e->cache, &mk), JAVM_OK);
    assert_int_equal(javm_commit(e->cache, e->ka), JAVM_OK);
    snap(e, &after);
    vm_snap_assert_equal(&before, &after);
    vm_snap_free(&before);
    vm_snap_free(&after);
    /* and the VM works on */
    r = invoke(e, &parent, 100000, NULL, NULL);
    assert_int_equal(r.kind, JAVM_RES_PAUSED);
    assert_int_equal(javm_resume(e->vm, e->cache, e->ka, NULL, &r), JAVM_OK);
    assert_halt(&r, 42);
    drop_result(e, &r);
}

static void test_pause_conflict(void **state)
{
    env *e = *state;
    javm_hash marker, parent = spawn_yielder(e, &marker);
    assert_int_equal(javm_commit(e->cache, e->ka), JAVM_OK);
    vm_snap before, after;
    snap(e, &before);
    javm_call_result r = invoke(e, &parent, 100000, NULL, NULL);
    assert_int_equal(r.kind, JAVM_RES_PAUSED);
    /* another writer commits between pause and resume */
    javm_cache *c2;
    assert_int_equal(javm_cache_open(e->store, &c2), JAVM_OK);
    javm_hash other = vm_put(c2, data_str("other writer"));
    assert_int_equal(javm_commit(c2, NULL), JAVM_OK);
    javm_cache_close(c2);
    assert_int_equal(javm_resume(e->vm, e->cache, e->ka, NULL, &r), JAVM_ERR_CONFLICT);
    assert_int_equal(javm_vm_depth(e->vm), 0);
    assert_false(javm_journal_is_open(e->cache));
    snap(e, &after);
    /* everything as before, plus the other writer's committed blob */
    size_t k = 0;
    for (size_t i = 0; i < after.nblobs; i++)
        if (memcmp(&after.blobs[i].h, &other, 32) != 0)
            after.blobs[k++] = after.blobs[i];
    assert_int_equal(after.nblobs, k + 1);
    after.nblobs = k;
    vm_snap_assert_equal(&before, &after);
    vm_snap_free(&before);
    vm_snap_free(&after);
}

/* ---- names (§10.5) ----------------------------------------------------------------------- */

static void test_names(void **state)
{
    env *e = *state;
    static const uint8_t N[] = "counter";
    javm_invoke_opts o = { N, sizeof N - 1 };
    tprog p;
    prog_ret42(&p);
    javm_hash inst = spawn_prog(e, &p, 0, 0, 0, NULL), got;
    assert_int_equal(javm_name_set(e->cache, N, sizeof N - 1, &inst), JAVM_OK);
    assert_int_equal(vm_rc(e->cache, &inst), 2);
    javm_call_result r;
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &inst, 0, NOARGS, 1000, NULL, &o, &r), JAVM_OK);
    assert_halt(&r, 42);
    assert_false(memcmp(&r.post_instance, &inst, 32) == 0); /* φ7 = 42 is persisted */
    assert_int_equal(javm_name_get(e->cache, N, sizeof N - 1, &got), JAVM_OK);
    assert_hash_equal(got, r.post_instance);
    assert_int_equal(vm_rc(e->cache, &inst), 1);
    assert_int_equal(vm_rc(e->cache, &r.post_instance), 2); /* the result and the name */
    javm_hash post = r.post_instance;
    drop_result(e, &r);

    /* N naming another instance: CONFLICT before build_entry (an absent instance would
     * otherwise give INSTANCE_NOT_FOUND) */
    javm_hash absent = vm_fill(0xEE);
    vm_snap before, after;
    snap(e, &before);
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &inst, 0, NOARGS, 1000, NULL, &o, &r),
                     JAVM_ERR_CONFLICT);
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &absent, 0, NOARGS, 1000, NULL, &o, &r),
                     JAVM_ERR_CONFLICT);
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &absent, 0, NOARGS, 1000, NULL, NULL, &r),
                     JAVM_ERR_INSTANCE_NOT_FOUND);
    snap(e, &after);
    vm_snap_assert_equal(&before, &after);
    vm_snap_free(&after);
    vm_snap_free(&before);
    assert_false(javm_journal_is_open(e->cache));

    /* a faulting invocation leaves N as it was */
    tprog t;
    tprog_init(&t);
    TI(&t, 0);
    javm_hash bad = spawn_prog(e, &t, 0, 0, 0, NULL);
    static const uint8_t N2[] = "faulty";
    javm_invoke_opts o2 = { N2, sizeof N2 - 1 };
    assert_int_equal(javm_name_set(e->cache, N2, sizeof N2 - 1, &bad), JAVM_OK);
    snap(e, &before);
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &bad, 0, NOARGS, 1000, NULL, &o2, &r), JAVM_OK);
    assert_fault(&r, JAVM_EXIT_TRAP);
    assert_int_equal(javm_name_get(e->cache, N2, sizeof N2 - 1, &got), JAVM_OK);
    assert_hash_equal(got, bad);
    snap(e, &after);
    vm_snap_assert_equal(&before, &after);
    vm_snap_free(&after);
    vm_snap_free(&before);
    assert_int_equal(javm_name_get(e->cache, N, sizeof N - 1, &got), JAVM_OK);
    assert_hash_equal(got, post);
}

/* ---- image files (§10.5, §11.2) ----------------------------------------------------------- */

static void test_image_file(void **state)
{
    env *e = *state;
    javm_hash hello = vm_put(e->cache, data_str("hello"));
    javm_hash img = vm_put(e->cache, img3());
    assert_hash_hex(img, HX_IMG3);
    uint8_t *file;
    size_t len;
    assert_int_equal(javm_image_save(e->cache, &img, &file, &len), JAVM_OK);

    /* the expected bytes, laid out here from §11 */
    static const uint8_t code[2] = { 0x0A, 0x00 }, mask[1] = { 0x01 };
    simg s = { code, 2, mask, true, 0x1000, 0x2000, 1, 1, 1, 1, 1, hello };
    bb want = { 0 }, body = { 0 };
    bb_raw(&want, "JIMG", 4);
    bb_u32(&want, 1);
    bb_u32(&want, 1);
    static const uint8_t rec[] = { 0x30, 0x0e, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o' };
    bb_raw(&want, rec, sizeof rec);
    simg_body(&body, &s);
    bb_raw(&want, body.p, body.n);
    assert_int_equal(want.n, 246);
    assert_int_equal(len, 246);
    assert_memory_equal(file, want.p, 246);
    javm_hash body_h = simg_hash(&s);
    assert_hash_equal(body_h, img);

    /* loading into an empty cache: Data "hello", then IMG3; the caller holds only IMG3 */
    javm_store *st2;
    javm_cache *c2;
    assert_int_equal(javm_store_mem_new(&st2), JAVM_OK);
    assert_int_equal(javm_cache_open(st2, &c2), JAVM_OK);
    javm_hash out;
    javm_decode_err err;
    assert_int_equal(javm_image_load(c2, file, len, &out, &err), JAVM_OK);
    assert_hash_hex(out, HX_IMG3);
    assert_int_equal(vm_rc(c2, &out), 1);
    assert_int_equal(vm_rc(c2, &hello), 1);
    assert_int_equal(javm_cache_blob_count(c2), 2);
    javm_cache_close(c2);
    javm_store_close(st2);

    /* the same file with n = 0 and no record: TARGET_MISSING naming "hello", nothing put */
    assert_int_equal(javm_store_mem_new(&st2), JAVM_OK);
    assert_int_equal(javm_cache_open(st2, &c2), JAVM_OK);
    bb cut = { 0 };
    bb_raw(&cut, "JIMG", 4);
    bb_u32(&cut, 1);
    bb_u32(&cut, 0);
    bb_raw(&cut, body.p, body.n);
    memset(&err, 0, sizeof err);
    assert_int_equal(javm_image_load(c2, cut.p, cut.n, &out, &err), JAVM_ERR_TARGET_MISSING);
    assert_true(err.has_missing);
    assert_hash_hex(err.missing, HX_HELLO);
    assert_int_equal(javm_cache_blob_count(c2), 0);
    javm_cache_close(c2);
    javm_store_close(st2);
    bb_free(&cut);
    bb_free(&want);
    bb_free(&body);
    javm_free(file);
}

/* ---- embedder host functions through the interpreter (§7.8) ------------------------------ */

static javm_host_rc answer_fn(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13], javm_memory *mem,
                              int64_t *gas, void *user)
{
    javm_host_rc *a = user;
    (void)ctx; (void)op; (void)mem; (void)gas;
    if (*a == JAVM_HOST_CONTINUE)
        regs[7] = 1234;
    return *a;
}

static void test_host_fn_invoke(void **state)
{
    env *e = *state;
    javm_host_rc ans = JAVM_HOST_CONTINUE;
    assert_int_equal(javm_vm_register_host_fn(e->vm, 200, answer_fn, &ans), JAVM_OK);
    tprog p, q;
    tprog_init(&p);
    TI(&p, 10, 200, 0); /* ecalli 200 needs two bytes: 200 = 0xC8 would sign-extend */
    ECALLI(&p, 0);
    tprog_init(&q);
    TI(&q, 10, 201, 0);
    ECALLI(&q, 0);
    javm_hash a = spawn_prog(e, &p, 0, 0, 0, NULL), b = spawn_prog(e, &q, 0, 0, 0, NULL);
    /* pvm.md §7.2: a block of one ecalli is done at cycle 100: 97; each op adds
     * JAVM_GAS_ECALL (10, caps.md §7.3) */
    javm_call_result r = invoke(e, &a, 1000, NULL, NULL);
    assert_halt(&r, 1234);
    assert_int_equal(r.gas_used, 97 + 10 + 97 + 10);
    drop_result(e, &r);
    ans = JAVM_HOST_TRAP;
    r = invoke(e, &a, 1000, NULL, NULL);
    assert_fault(&r, JAVM_EXIT_TRAP);
    assert_int_equal(r.trap, JAVM_TRAP_HOST_FN);
    /* the trapping call paid nothing: only its block, not the second block nor either ecall */
    assert_int_equal(r.gas_used, 97);
    r = invoke(e, &b, 1000, NULL, NULL);
    assert_fault(&r, JAVM_EXIT_TRAP);
    assert_int_equal(r.trap, JAVM_TRAP_UNASSIGNED_OP);
    assert_int_equal(r.gas_used, 97);
}

/* slot0_in errors and invoke's argument checks */
static void test_invoke_args(void **state)
{
    env *e = *state;
    javm_hash img = vm_put(e->cache, img2()), inst, absent = vm_fill(0xEE);
    assert_int_equal(javm_spawn(e->cache, &img, 8, &inst), JAVM_OK);
    javm_call_result r;
    vm_snap before, after;
    snap(e, &before);
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &inst, 0, NOARGS, 1000, &absent, NULL, &r),
                     JAVM_ERR_NOT_FOUND);
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &inst, 1, NOARGS, 1000, NULL, NULL, &r),
                     JAVM_ERR_NO_SUCH_ENDPOINT);
    assert_int_equal(javm_invoke(e->vm, NULL, e->ka, &inst, 0, NOARGS, 1000, NULL, NULL, &r),
                     JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &inst, 0, NOARGS, UINT64_C(1) << 63, NULL,
                                 NULL, &r),
                     JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &img, 0, NOARGS, 1000, NULL, NULL, &r),
                     JAVM_ERR_INSTANCE_NOT_FOUND);
    snap(e, &after);
    vm_snap_assert_equal(&before, &after);
    vm_snap_free(&after);
    vm_snap_free(&before);
    assert_int_equal(javm_vm_depth(e->vm), 0);
    assert_false(javm_journal_is_open(e->cache));
}

/* ---- settle of paged memory (§6.3 base_leaves, §6.5) ------------------------------------- */

/* An image whose mapping {0x1000, 0x3000, writable, path [1]} takes initial [(1, D)]. */
static javm_hash spawn_paged(env *e, const tprog *p, const javm_hash *d)
{
    javm_cap *img = vm_image_of(p, 0, 0, 0);
    javm_mapping m;
    memset(&m, 0, sizeof m);
    m.start = 0x1000;
    m.size = 0x3000;
    m.flags = 1;
    m.path_len = 1;
    m.path[0] = 1;
    assert_int_equal(javm_image_add_mapping(img, &m), JAVM_OK);
    assert_int_equal(javm_image_add_initial(img, 1, d), JAVM_OK);
    return vm_spawn_image(e->cache, img, NULL);
}

static void test_paged_overlay_settle(void **state)
{
    env *e = *state;
    static uint8_t buf[8193];
    for (size_t i = 0; i < 4096; i++)
        buf[i] = (uint8_t)(i % 251 + 1);
    buf[8192] = 0x09; /* page 1 all zero (Empty), page 2 holds the last byte */
    javm_cap *dc;
    assert_int_equal(javm_data_new(buf, sizeof buf, &dc), JAVM_OK);
    javm_hash d = vm_put(e->cache, dc), want = vm_h_data(buf, sizeof buf);
    assert_hash_equal(d, want);

    /* untouched memory: the post-instance is the spawned instance itself */
    tprog p;
    tprog_init(&p);
    ECALLI(&p, 0);
    javm_hash inst = spawn_paged(e, &p, &d);
    const javm_cap *ic = javm_cache_get_hash(e->cache, &inst);
    assert_int_equal(ic->instance.n_overlays, 1);
    assert_hash_equal(ic->instance.overlays[0].data, d);
    assert_int_equal(ic->instance.mem_size, 0x4000);
    javm_call_result r = invoke(e, &inst, 100000, NULL, NULL);
    assert_halt(&r, 0);
    assert_hash_equal(r.post_instance, inst);
    drop_result(e, &r);

    /* one byte written in the Empty page */
    tprog_init(&p);
    TI(&p, 30, 2, 0x05, 0x20, 0x33);
    ECALLI(&p, 0);
    inst = spawn_paged(e, &p, &d);
    r = invoke(e, &inst, 100000, NULL, NULL);
    assert_halt(&r, 0);
    static uint8_t b2[8193];
    memcpy(b2, buf, sizeof buf);
    b2[4096 + 5] = 0x33;
    want = vm_h_data(b2, sizeof b2);
    const javm_cap *pi = javm_cache_get_hash(e->cache, &r.post_instance);
    assert_non_null(pi);
    assert_int_equal(pi->instance.n_overlays, 1);
    assert_hash_equal(pi->instance.overlays[0].data, want);
    assert_int_equal(pi->instance.mem_size, 0x4000);
    drop_result(e, &r);

    /* the last byte zeroed: trailing zeros go, the Data becomes Inline (page 0 only) */
    tprog_init(&p);
    TI(&p, 30, 2, 0x00, 0x30, 0);
    ECALLI(&p, 0);
    inst = spawn_paged(e, &p, &d);
    r = invoke(e, &inst, 100000, NULL, NULL);
    assert_halt(&r, 0);
    want = vm_h_data(buf, 4096);
    pi = javm_cache_get_hash(e->cache, &r.post_instance);
    assert_int_equal(pi->instance.n_overlays, 1);
    assert_hash_equal(pi->instance.overlays[0].data, want);
    drop_result(e, &r);

    /* everything zeroed in page 0 and page 2: no overlay at all */
    tprog_init(&p);
    TI(&p, 30, 2, 0x00, 0x30, 0);
    for (uint32_t a = 0x1000; a < 0x2000; a += 8)
        TI(&p, 33, 2, (uint8_t)a, (uint8_t)(a >> 8), 0); /* store_imm_u64 [a], 0 */
    ECALLI(&p, 0);
    inst = spawn_paged(e, &p, &d);
    r = invoke(e, &inst, 1000000, NULL, NULL);
    assert_halt(&r, 0);
    pi = javm_cache_get_hash(e->cache, &r.post_instance);
    assert_int_equal(pi->instance.n_overlays, 0);
    assert_int_equal(pi->instance.mem_size, 0x4000);
    drop_result(e, &r);
}

/* SET_IMAGE on an accounted entry swaps the pinned set: A pins (7, X), B pins (8, Y). */
static void test_set_image_pinned_swap(void **state)
{
    env *e = *state;
    javm_hash x = vm_put(e->cache, data_str("x")), y = vm_put(e->cache, data_str("y"));
    tprog a, b;
    tprog_init(&b);
    TI(&b, 51, 7, 5);
    ECALLI(&b, 17);
    ECALLI(&b, 0);
    tprog_init(&a);
    TI(&a, 51, 7, 5);
    ECALLI(&a, 17);
    TI(&a, 0);
    javm_cap *ib = vm_image_of(&b, 0, 0, 0);
    assert_int_equal(javm_image_add_pinned(ib, 8, &y), JAVM_OK);
    javm_hash hb = vm_put(e->cache, ib);
    javm_cap *ia = vm_image_of(&a, 0, 0, 0);
    assert_int_equal(javm_image_add_initial(ia, 5, &hb), JAVM_OK);
    assert_int_equal(javm_image_add_pinned(ia, 7, &x), JAVM_OK);
    javm_hash ha, inst = vm_spawn_image(e->cache, ia, &ha);
    uint32_t rx = vm_rc(e->cache, &x), ry = vm_rc(e->cache, &y);
    javm_call_result r = invoke(e, &inst, 100000, NULL, NULL);
    assert_halt(&r, 5);
    const javm_cap *pi = javm_cache_get_hash(e->cache, &r.post_instance);
    assert_hash_equal(pi->instance.image_hash, hb);
    const javm_cap *root = javm_cache_get(e->cache, &pi->instance.root_cnode);
    assert_non_null(root);
    assert_int_equal(root->cnode.n_slots, 2);
    assert_int_equal(root->cnode.slots[0].slot, 5);
    assert_hash_equal(root->cnode.slots[0].target.hash, hb);
    assert_int_equal(root->cnode.slots[1].slot, 8);
    assert_hash_equal(root->cnode.slots[1].target.hash, y);
    assert_int_equal(vm_rc(e->cache, &x), rx);     /* held as before, not by the new root */
    assert_int_equal(vm_rc(e->cache, &y), ry + 1); /* + the new root's slot 8 */
    drop_result(e, &r);
}

/* Resume with a scratch cap: it lands in the yielder's (the child's) slot 0 and comes back
 * through the parent as result.slot0. */
static void test_resume_scratch(void **state)
{
    env *e = *state;
    javm_hash marker, parent = spawn_yielder(e, &marker);
    javm_hash scratch = vm_put(e->cache, data_str("scratch")), absent = vm_fill(0xEE);
    javm_call_result r = invoke(e, &parent, 100000, NULL, NULL);
    assert_int_equal(r.kind, JAVM_RES_PAUSED);
    assert_int_equal(javm_resume(e->vm, e->cache, e->ka, &absent, &r), JAVM_ERR_NOT_FOUND);
    assert_int_equal(javm_vm_depth(e->vm), 3); /* still paused */
    assert_int_equal(javm_resume(e->vm, e->cache, e->ka, &scratch, &r), JAVM_OK);
    assert_halt(&r, 42);
    assert_true(r.has_slot0);
    assert_hash_equal(r.slot0, scratch);
    drop_result(e, &r);
}

/* A guest mints a cnode, derive-spawns a child of an image it holds and calls it. */
static void test_e2e_derive_and_call(void **state)
{
    env *e = *state;
    tprog s, p;
    prog_ret42(&s);
    javm_hash s_img = vm_put(e->cache, vm_image_of(&s, 0, 0, 0));
    tprog_init(&p);
    TI(&p, 51, 7, 4);
    TI(&p, 51, 8, 8);
    ECALLI(&p, 5);           /* slot 4 = CNode(8) */
    TI(&p, 51, 7, 3);
    TI(&p, 51, 8, 4);
    TI(&p, 51, 9, 5);
    ECALLI(&p, 18);          /* slot 5 = child of the image in slot 3 */
    TI(&p, 51, 7, 5);
    TI(&p, 51, 8, 0);
    ECALLI(&p, 26);          /* call it */
    ECALLI(&p, 0);
    javm_cap *pimg = vm_image_of(&p, 0, 0, 0);
    assert_int_equal(javm_image_add_initial(pimg, 3, &s_img), JAVM_OK);
    javm_hash ph, inst = vm_spawn_image(e->cache, pimg, &ph);
    javm_call_result r = invoke(e, &inst, 100000, NULL, NULL);
    assert_halt(&r, 42);
    const javm_cap *pi = javm_cache_get_hash(e->cache, &r.post_instance);
    const javm_cap *root = javm_cache_get(e->cache, &pi->instance.root_cnode);
    assert_non_null(root);
    const javm_key *k5 = javm_cnode_get_slot(root, 5);
    assert_non_null(k5);
    assert_null(javm_cnode_get_slot(root, 4)); /* the prepared cnode was consumed */
    const javm_cap *child = javm_cache_get_hash(e->cache, &k5->hash);
    assert_non_null(child);
    assert_int_equal(child->kind, JAVM_KIND_INSTANCE);
    uint8_t cat[64];
    memcpy(cat, ph.b, 32);
    memcpy(cat + 32, s_img.b, 32);
    javm_hash chain = vm_h(cat, 64), cn8 = vm_h_empty_cnode(8);
    assert_hash_equal(child->instance.image_hash_chain, chain);
    assert_hash_equal(child->instance.image_hash, s_img);
    assert_hash_equal(child->instance.root_cnode.hash, cn8);
    assert_hash_hex(cn8, "7c676e03b0634d761e7579a5e73c14eebcefcb69e201231d2daac9e32d3bf6d4");
    drop_result(e, &r);
}

/* Registers persist: φ1 += 1; φ7 = φ1; halt — 1, 2, 3 over successive post-instances. */
static void test_regs_persist(void **state)
{
    env *e = *state;
    tprog p;
    tprog_init(&p);
    TI(&p, 149, 0x11, 1);
    TI(&p, 100, 0x17);
    ECALLI(&p, 0);
    javm_hash cur = spawn_prog(e, &p, 0, 0, 0, NULL);
    for (uint64_t i = 1; i <= 3; i++) {
        javm_call_result r = invoke(e, &cur, 100000, NULL, NULL);
        assert_halt(&r, i);
        const javm_cap *pi = javm_cache_get_hash(e->cache, &r.post_instance);
        assert_int_equal(pi->instance.regs[1], i);
        assert_int_equal(pi->instance.pc, 0);
        assert_int_equal(pi->instance.gas_remaining, 0);
        if (i > 1) {
            javm_key k = javm_key_of_hash(&cur);
            assert_int_equal(javm_cache_decref(e->cache, &k), JAVM_OK);
        }
        cur = r.post_instance;
    }
}

/* slot0_in replaces a root value in slot 0; a pinned slot 0 stays and is not handed out. */
static void test_slot0_rules(void **state)
{
    env *e = *state;
    javm_hash x = vm_put(e->cache, data_str("x")), y = vm_put(e->cache, data_str("y"));
    tprog p;
    tprog_init(&p);
    ECALLI(&p, 0);
    javm_cap *img = vm_image_of(&p, 0, 0, 0);
    assert_int_equal(javm_image_add_initial(img, 0, &x), JAVM_OK);
    javm_hash inst = vm_spawn_image(e->cache, img, NULL);
    uint32_t rx = vm_rc(e->cache, &x), ry = vm_rc(e->cache, &y);
    javm_call_result r = invoke(e, &inst, 1000, &y, NULL);
    assert_halt(&r, 0);
    assert_true(r.has_slot0);
    assert_hash_equal(r.slot0, y);
    assert_int_equal(vm_rc(e->cache, &x), rx);
    assert_int_equal(vm_rc(e->cache, &y), ry + 1);
    /* the post root lost slot 0 */
    const javm_cap *pi = javm_cache_get_hash(e->cache, &r.post_instance);
    const javm_cap *root = javm_cache_get(e->cache, &pi->instance.root_cnode);
    assert_int_equal(root->cnode.n_slots, 0);
    drop_result(e, &r);

    img = vm_image_of(&p, 0, 0, 0);
    assert_int_equal(javm_image_add_pinned(img, 0, &x), JAVM_OK);
    inst = vm_spawn_image(e->cache, img, NULL);
    assert_int_equal(javm_invoke(e->vm, e->cache, e->ka, &inst, 0, NOARGS, 1000, &y, NULL, &r),
                     JAVM_ERR_SLOT_PINNED);
    r = invoke(e, &inst, 1000, NULL, NULL);
    assert_halt(&r, 0);
    assert_false(r.has_slot0);
    assert_hash_equal(r.post_instance, inst); /* the pinned cap stays in slot 0 */
    drop_result(e, &r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, vmenv_setup, vmenv_teardown)
    const struct CMUnitTest tests[] = {
        T(test_trap_code), T(test_img2_twice), T(test_ret42), T(test_fallthrough_oog),
        T(test_img4), T(test_mem_latency), T(test_set_image_accounted), T(test_sub_vm),
        T(test_e2e_host_call), T(test_e2e_files), T(test_e2e_oog_loop),
        T(test_e2e_state_persists), T(test_ka), T(test_journal_trap), T(test_journal_halt),
        T(test_pause_resume), T(test_pause_abort), T(test_pause_other_cache), T(test_pause_journal_replaced), T(test_pause_conflict), T(test_names),
        T(test_image_file), T(test_host_fn_invoke), T(test_invoke_args),
        T(test_paged_overlay_settle), T(test_set_image_pinned_swap), T(test_resume_scratch),
        T(test_e2e_derive_and_call), T(test_regs_persist), T(test_slot0_rules),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
