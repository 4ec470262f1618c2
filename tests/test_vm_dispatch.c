/* SPDX-License-Identifier: MIT
 * tests/test_vm_dispatch.c — the ecall dispatcher of caps.md §7 through javm_dispatch on the
 * fixture F of §10.1: every dispatcher test of §10.2 (one function each, gas included), the
 * seven cache round trips of §10.3, and every negative case of §10.4 as a table with one setup
 * function per op, each checked against a full before/after snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cap_fixtures.h"
#include "vmfix.h"
#include "vm/vm.h"

/* Full hashes of caps.md §4.5 and §10.2. */
#define HX_CNODE3 "fc95656c1a7ee42c1967373ca504168177184d82571c284199154b17ad4d18b0"
#define HX_CNODE4 "fdd4e2487e23ca5e952614d858fddf6b8cb74572bb02a8b2aa5a411b245bdecb"
#define HX_IMG1 "d494df000b04de5de60e79ce174c72e8728391c44b523e5d9c50ed6e7d18c12d"
#define HX_IMG2 "8aad376327f4885542f7829b74e33bec15a45bdacc8e73ce395b413bf16942ff"
#define HX_IMG3 "c7824f6ae8bce86a43b1123600b2c7f7cbf572f70a0cbd88535c3a76f2f4adb0"
#define HX_CHAIN_01_IMG1 "c74ad395b2bddc8977ac2d55592286459c320bcf663d9d37eac9f06bca0e4efa"
#define HX_CHAIN_01_IMG2 "af6a6d9cb089ec203837513d12bfa1b2bfe840665c37c4873ba5e8347420c793"
#define HX_DERIVED "ab3f1eebfc2433cb9887d3c4d0554620b69052faea736cc9af43fc2edaa87fd9"
#define HX_INST_42 "e104e014d334390565d6d78845dc14fe3d29022d75551bcbba716fa626302f0d"
#define HX_TYPE_42 "73ef859848fda7aa7bdc08db16c86d4a85a3f1f779bcaf401be531672c0ffd05"
#define HX_ABC "b34d0c2d1dacaee9f376e3d2b88bd3be4670820d9b31e5cd3059ff3a43f770fc"
#define HX_HELLO "8d701b885ff92c129847ea844f81d7a9a62b718e47830c4c9ff057a1d82eeb1e"
#define HX_STORED "1cd36dd0e2630a034d9d6a9d4c502f98b5075537c30632f6f3f8f75b427977e7"
#define HX_FILE "1a83709bcf29cfe780ec30a0439bcba86ada53db3e8fe1aed1fc5742c46e6460"
#define HX_SPAWN_IMG3 "17eaf1b77dab7a7331dd31bec219444961c6419f5b7aa829f88d3c845803b812"
#define HX_SPAWN_IMG3_ROOT "02069af9501916d2136966f2e1c77e95883aaf148298f394a990ca5893abc065"
#define HX_SPAWN_IMG2 "7b056bd563af2252b45a22931f5926a97d127dbbcfa46b3ed2fee80a57e10ec9"

/* ---- per-op setups: variant 0 is the op's test of §10.2, others the §10.4 changes ------- */

static void pin(vmfix *f, uint32_t s) { assert_int_equal(javm_vm_top_set_pinned(f->vm, &s, 1), JAVM_OK); }

static javm_hash put_str(vmfix *f, const char *s) { return vm_put(f->cache, data_str(s)); }

static javm_hash put_type42(vmfix *f)
{
    javm_cap *t;
    javm_hash c = vm_fill(0x42);
    assert_int_equal(javm_type_new(&c, &t), JAVM_OK);
    return vm_put(f->cache, t);
}

/* A Paged Data of size 4097 whose page 0 is Missing(AA×32) and page 1 holds 0x07. */
static javm_hash put_missing_data(vmfix *f)
{
    javm_cap *d;
    uint8_t page[4096] = { 0x07 };
    javm_hash aa = vm_fill(0xAA);
    assert_int_equal(javm_data_new_paged(4097, &d), JAVM_OK);
    assert_int_equal(javm_data_page_missing(d, 0, &aa), JAVM_OK);
    assert_int_equal(javm_data_page_load(d, 1, page), JAVM_OK);
    return vm_put(f->cache, d);
}

static void setup_copy(vmfix *f, int v)
{
    f->regs[7] = 2;
    f->regs[8] = 7;
    switch (v) {
    case 1: f->regs[7] = 16; break;
    case 2: f->regs[8] = 200; break;
    case 3: f->regs[7] = 5; break;
    case 4: pin(f, 2); break;
    case 5: pin(f, 7); break;
    }
}

static void setup_drop(vmfix *f, int v)
{
    f->regs[7] = 2;
    switch (v) {
    case 1: f->regs[7] = 16; break;
    case 2: pin(f, 2); break;
    case 3: f->regs[7] = 5; break; /* not a trap */
    }
}

static void setup_swap(vmfix *f, int v)
{
    javm_hash hbb = vm_fill(0xBB);
    vmfix_slot(f, 3, &hbb);
    f->regs[7] = 2;
    f->regs[8] = 3;
    switch (v) {
    case 1: f->regs[7] = 16; break;
    case 2: f->regs[8] = 200; break;
    case 3: pin(f, 2); break;
    case 4: pin(f, 3); break;
    case 5: f->regs[8] = 5; break; /* not a trap: swap with an empty slot */
    }
}

static void setup_cnode_mint(vmfix *f, int v)
{
    f->regs[7] = 5;
    f->regs[8] = 3;
    switch (v) {
    case 1: f->regs[7] = 16; break;
    case 2: pin(f, 5); break;
    case 3: f->regs[8] = 17; break;
    }
}

static void setup_set_image(vmfix *f, int v)
{
    javm_hash img = vm_put(f->cache, img1());
    vmfix_slot(f, 3, &img);
    f->regs[7] = 3;
    javm_cap *c;
    javm_hash h;
    switch (v) {
    case 1: f->regs[7] = 16; break;
    case 2: f->regs[7] = 5; break;
    case 3: h = put_str(f, "hello"); vmfix_slot(f, 3, &h); break;
    case 4: f->regs[7] = 2; break;
    case 5:
        c = img1();
        assert_int_equal(javm_image_set_jump_table(c, (const uint32_t[]){ 2 }, 1), JAVM_OK);
        h = vm_put(f->cache, c);
        vmfix_slot(f, 3, &h);
        break;
    case 6:
    case 7:
        h = put_str(f, "hello");
        c = img1();
        assert_int_equal(javm_image_add_pinned(c, v == 6 ? 20 : 2, &h), JAVM_OK);
        h = vm_put(f->cache, c);
        vmfix_slot(f, 3, &h);
        break;
    }
}

static void setup_derive_spawn(vmfix *f, int v)
{
    javm_cap *c;
    javm_hash img = vm_put(f->cache, img2()), cn, h;
    assert_int_equal(javm_cnode_new(4, &c), JAVM_OK);
    cn = vm_put(f->cache, c);
    vmfix_slot(f, 3, &img);
    vmfix_slot(f, 4, &cn);
    f->regs[7] = 3;
    f->regs[8] = 4;
    f->regs[9] = 5;
    javm_mapping m;
    memset(&m, 0, sizeof m);
    m.flags = 1;
    m.path_len = 1;
    m.path[0] = 1;
    switch (v) {
    case 1: f->regs[9] = 16; break;
    case 2: f->regs[7] = 5; break;
    case 3: h = put_str(f, "hello"); vmfix_slot(f, 4, &h); break;
    case 4: pin(f, 4); break;
    case 5: pin(f, 5); break;
    case 6:
        h = put_str(f, "hello");
        c = img2();
        assert_int_equal(javm_image_add_pinned(c, 20, &h), JAVM_OK);
        h = vm_put(f->cache, c);
        vmfix_slot(f, 3, &h);
        break;
    case 7:
    case 8:
        h = v == 7 ? put_str(f, "hello") : put_missing_data(f);
        c = img2();
        m.size = v == 7 ? 3 : 0x3000;
        assert_int_equal(javm_image_add_mapping(c, &m), JAVM_OK);
        assert_int_equal(javm_image_add_initial(c, 1, &h), JAVM_OK);
        h = vm_put(f->cache, c);
        vmfix_slot(f, 3, &h);
        break;
    }
}

static void setup_type_of(vmfix *f, int v)
{
    javm_cap *c;
    javm_hash img = vm_put(f->cache, img1()), chain = vm_fill(0x42), h;
    assert_int_equal(javm_cnode_new(4, &c), JAVM_OK);
    javm_hash root = vm_put(f->cache, c);
    javm_key rk = javm_key_of_hash(&root);
    assert_int_equal(javm_instance_new(&chain, &img, &rk, &c), JAVM_OK);
    javm_hash inst = vm_put(f->cache, c);
    assert_hash_hex(inst, HX_INST_42);
    vmfix_slot(f, 3, &inst);
    f->regs[7] = 3;
    f->regs[8] = 6;
    switch (v) {
    case 1: f->regs[7] = 5; break;
    case 2: h = put_str(f, "hello"); vmfix_slot(f, 3, &h); break;
    case 3: f->regs[7] = 2; break;
    case 4: f->regs[8] = 16; break;
    case 5: pin(f, 6); break;
    }
}

static void setup_read(vmfix *f, int v)
{
    javm_hash h = put_str(f, "hello");
    vmfix_slot(f, 3, &h);
    f->regs[7] = 3;
    f->regs[8] = 16;
    f->regs[9] = 8;
    if (v != 1 && v != 3)
        vmfix_map(f, JAVM_PERM_RW);
    switch (v) {
    case 2: f->regs[8] = 0xFFFFFFFE; break;
    case 3: vmfix_map(f, JAVM_PERM_RO); break;
    case 4: h = put_missing_data(f); vmfix_slot(f, 3, &h); break;
    }
}

static void setup_mint_data(vmfix *f, int v)
{
    if (v != 3) {
        vmfix_map(f, JAVM_PERM_RW);
        assert_int_equal(javm_memory_poke(f->mem, 32, 5, "abc\0\0"), JAVM_OK);
    }
    f->ka->vtbl->storage_quota_set(f->ka, 0, v == 1 ? 2 : 10);
    f->regs[7] = 32;
    f->regs[8] = 5;
    f->regs[9] = 0;
    f->regs[10] = 6;
    if (v == 2)
        pin(f, 6);
    if (v == 4)
        f->ctx.ka = NULL;
}

static void setup_open(vmfix *f, int v)
{
    javm_hash h;
    if (v == 2) {
        h = put_type42(f);
        assert_int_equal(javm_ka_mem_register_file(f->ka, f->cache, 9, &h), JAVM_OK);
    } else if (v == 3) {
        h = vm_fill(0xAA);
        assert_int_equal(javm_ka_mem_register_file(f->ka, NULL, 9, &h), JAVM_OK);
    } else {
        h = put_str(f, "file");
        assert_int_equal(javm_ka_mem_register_file(f->ka, f->cache, 9, &h), JAVM_OK);
    }
    f->regs[7] = v == 1 ? 10 : 9;
    f->regs[8] = 6;
    if (v == 4)
        pin(f, 6);
}

static void setup_save(vmfix *f, int v)
{
    javm_hash h = v == 2 ? put_type42(f) : put_str(f, "stored");
    vmfix_slot(f, 3, &h);
    f->ka->vtbl->storage_quota_set(f->ka, 0, v == 3 ? 5 : 10);
    f->regs[7] = v == 1 ? 5 : 3;
    f->regs[8] = 0;
}

static void setup_host_call(vmfix *f, int v)
{
    if (v == 4)
        vmfix_new_vm(f, 1, NULL, 0);
    javm_hash img = vm_put(f->cache, img2()), inst, h;
    assert_int_equal(javm_spawn(f->cache, &img, 8, &inst), JAVM_OK);
    vmfix_slot(f, 3, &inst);
    f->regs[7] = 3;
    f->regs[8] = 0;
    javm_cap *c;
    switch (v) {
    case 1: f->regs[7] = 5; break;
    case 2: h = put_str(f, "hello"); vmfix_slot(f, 3, &h); break;
    case 3: f->regs[8] = 1; break;
    case 5: pin(f, 0); break;
    case 6:
        h = put_str(f, "hello");
        c = img2();
        assert_int_equal(javm_image_add_pinned(c, 0, &h), JAVM_OK);
        h = vm_put(f->cache, c);
        assert_int_equal(javm_spawn(f->cache, &h, 8, &inst), JAVM_OK);
        vmfix_slot(f, 3, &inst);
        break;
    }
}

static void setup_yield(vmfix *f, int v)
{
    f->regs[7] = 2;
    switch (v) {
    case 1: f->regs[7] = 5; break;
    case 2: f->regs[7] = 16; break;
    case 3: f->ctx.ka = NULL; break;
    }
}

/* ---- §10.4: the negative table ---------------------------------------------------------- */

typedef struct neg_case {
    const char *name;
    uint32_t op;
    void (*setup)(vmfix *f, int variant);
    int variant;
    javm_trap want; /* JAVM_TRAP_NONE: "not a trap" */
} neg_case;

static const neg_case NEG[] = {
    { "copy src 16", 1, setup_copy, 1, JAVM_TRAP_SLOT_RANGE },
    { "copy dst 200", 1, setup_copy, 2, JAVM_TRAP_SLOT_RANGE },
    { "copy src empty", 1, setup_copy, 3, JAVM_TRAP_SLOT_EMPTY },
    { "copy pinned src", 1, setup_copy, 4, JAVM_TRAP_SLOT_PINNED },
    { "copy pinned dst", 1, setup_copy, 5, JAVM_TRAP_SLOT_PINNED },
    { "move src 16", 2, setup_copy, 1, JAVM_TRAP_SLOT_RANGE },
    { "move dst 200", 2, setup_copy, 2, JAVM_TRAP_SLOT_RANGE },
    { "move src empty", 2, setup_copy, 3, JAVM_TRAP_SLOT_EMPTY },
    { "move pinned src", 2, setup_copy, 4, JAVM_TRAP_SLOT_PINNED },
    { "move pinned dst", 2, setup_copy, 5, JAVM_TRAP_SLOT_PINNED },
    { "drop 16", 3, setup_drop, 1, JAVM_TRAP_SLOT_RANGE },
    { "drop pinned", 3, setup_drop, 2, JAVM_TRAP_SLOT_PINNED },
    { "drop empty (not a trap)", 3, setup_drop, 3, JAVM_TRAP_NONE },
    { "swap a 16", 4, setup_swap, 1, JAVM_TRAP_SLOT_RANGE },
    { "swap b 200", 4, setup_swap, 2, JAVM_TRAP_SLOT_RANGE },
    { "swap pinned a", 4, setup_swap, 3, JAVM_TRAP_SLOT_PINNED },
    { "swap pinned b", 4, setup_swap, 4, JAVM_TRAP_SLOT_PINNED },
    { "swap with empty (not a trap)", 4, setup_swap, 5, JAVM_TRAP_NONE },
    { "cnode_mint 16", 5, setup_cnode_mint, 1, JAVM_TRAP_SLOT_RANGE },
    { "cnode_mint pinned", 5, setup_cnode_mint, 2, JAVM_TRAP_SLOT_PINNED },
    { "cnode_mint size_log 17", 5, setup_cnode_mint, 3, JAVM_TRAP_BAD_SIZE_LOG },
    { "set_image 16", 17, setup_set_image, 1, JAVM_TRAP_SLOT_RANGE },
    { "set_image empty", 17, setup_set_image, 2, JAVM_TRAP_SLOT_EMPTY },
    { "set_image data", 17, setup_set_image, 3, JAVM_TRAP_WRONG_KIND },
    { "set_image absent", 17, setup_set_image, 4, JAVM_TRAP_NOT_FOUND },
    { "set_image jump table", 17, setup_set_image, 5, JAVM_TRAP_DECODE },
    { "set_image pinned 20", 17, setup_set_image, 6, JAVM_TRAP_SLOT_RANGE },
    { "set_image collision", 17, setup_set_image, 7, JAVM_TRAP_COLLISION },
    { "derive_spawn d 16", 18, setup_derive_spawn, 1, JAVM_TRAP_SLOT_RANGE },
    { "derive_spawn image empty", 18, setup_derive_spawn, 2, JAVM_TRAP_SLOT_EMPTY },
    { "derive_spawn prepared data", 18, setup_derive_spawn, 3, JAVM_TRAP_WRONG_KIND },
    { "derive_spawn pinned prepared", 18, setup_derive_spawn, 4, JAVM_TRAP_SLOT_PINNED },
    { "derive_spawn pinned dest", 18, setup_derive_spawn, 5, JAVM_TRAP_SLOT_PINNED },
    { "derive_spawn pinned 20", 18, setup_derive_spawn, 6, JAVM_TRAP_SLOT_RANGE },
    { "derive_spawn too large", 18, setup_derive_spawn, 7, JAVM_TRAP_DATA_TOO_LARGE },
    { "derive_spawn missing", 18, setup_derive_spawn, 8, JAVM_TRAP_DATA_MISSING },
    { "type_of empty", 21, setup_type_of, 1, JAVM_TRAP_SLOT_EMPTY },
    { "type_of data", 21, setup_type_of, 2, JAVM_TRAP_WRONG_KIND },
    { "type_of absent", 21, setup_type_of, 3, JAVM_TRAP_NOT_FOUND },
    { "type_of dst 16", 21, setup_type_of, 4, JAVM_TRAP_SLOT_RANGE },
    { "type_of pinned", 21, setup_type_of, 5, JAVM_TRAP_SLOT_PINNED },
    { "read unmapped", 22, setup_read, 1, JAVM_TRAP_MEMORY },
    { "read past 2^32", 22, setup_read, 2, JAVM_TRAP_MEMORY },
    { "read into RO", 22, setup_read, 3, JAVM_TRAP_MEMORY },
    { "read missing page", 22, setup_read, 4, JAVM_TRAP_DATA_MISSING },
    { "mint quota 2", 23, setup_mint_data, 1, JAVM_TRAP_QUOTA },
    { "mint pinned", 23, setup_mint_data, 2, JAVM_TRAP_SLOT_PINNED },
    { "mint unmapped", 23, setup_mint_data, 3, JAVM_TRAP_MEMORY },
    { "mint no ka", 23, setup_mint_data, 4, JAVM_TRAP_NO_KA },
    { "open unknown", 24, setup_open, 1, JAVM_TRAP_UNKNOWN_FILE },
    { "open type", 24, setup_open, 2, JAVM_TRAP_WRONG_KIND },
    { "open absent", 24, setup_open, 3, JAVM_TRAP_NOT_FOUND },
    { "open pinned", 24, setup_open, 4, JAVM_TRAP_SLOT_PINNED },
    { "save empty", 25, setup_save, 1, JAVM_TRAP_SLOT_EMPTY },
    { "save type", 25, setup_save, 2, JAVM_TRAP_WRONG_KIND },
    { "save quota 5", 25, setup_save, 3, JAVM_TRAP_QUOTA },
    { "call empty", 26, setup_host_call, 1, JAVM_TRAP_SLOT_EMPTY },
    { "call data", 26, setup_host_call, 2, JAVM_TRAP_WRONG_KIND },
    { "call endpoint 1", 26, setup_host_call, 3, JAVM_TRAP_NO_ENDPOINT },
    { "call stack full", 26, setup_host_call, 4, JAVM_TRAP_STACK_FULL },
    { "call pinned E slot 0", 26, setup_host_call, 5, JAVM_TRAP_SLOT_PINNED },
    { "call pinned child slot 0", 26, setup_host_call, 6, JAVM_TRAP_SLOT_PINNED },
    { "yield empty", 16, setup_yield, 1, JAVM_TRAP_SLOT_EMPTY },
    { "yield 16", 16, setup_yield, 2, JAVM_TRAP_SLOT_RANGE },
    { "yield no ka", 16, setup_yield, 3, JAVM_TRAP_NO_KA },
    { "yield unhandled", 16, setup_yield, 4, JAVM_TRAP_UNHANDLED_MARKER },
};
#define N_NEG (sizeof NEG / sizeof NEG[0])

static void test_negative(void **state)
{
    const neg_case *c = *state;
    vmfix f;
    vm_snap before, after;
    vmfix_init(&f, 0, NULL, 0);
    c->setup(&f, c->variant);
    vmfix_snap(&f, &before);
    javm_answer a = vmfix_op(&f, c->op);
    vmfix_snap(&f, &after);
    if (c->want != JAVM_TRAP_NONE) {
        assert_exit(a, JAVM_EXIT_TRAP, 0);
        assert_string_equal(javm_trap_name(javm_vm_last_trap(f.vm)), javm_trap_name(c->want));
        vm_snap_assert_equal(&before, &after);
    } else {
        assert_continue(a);
        assert_int_equal(javm_vm_last_trap(f.vm), JAVM_TRAP_NONE);
        assert_int_equal(after.gas, 990);
        after.gas = before.gas;
        if (c->op == JAVM_OP_CNODE_SWAP) {
            /* slot 2's AA moved to the empty slot 5 and slot 2 is now empty */
            assert_false(after.slot_full[2]);
            assert_true(after.slot_full[5]);
            javm_hash aa = vm_fill(0xAA);
            assert_hash_equal(after.slots[5], aa);
            after.slot_full[2] = true;
            after.slots[2] = after.slots[5];
            after.slot_full[5] = false;
        }
        vm_snap_assert_equal(&before, &after);
    }
    vm_snap_free(&before);
    vm_snap_free(&after);
    vmfix_fini(&f);
}

/* ---- §10.2 ------------------------------------------------------------------------------ */

static int fx_setup(void **state)
{
    vmfix *f = calloc(1, sizeof *f);
    vmfix_init(f, 0, NULL, 0);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    vmfix_fini(*state);
    free(*state);
    return 0;
}

static void uncached(vmfix *f) { f->ctx.cache = NULL; }

static void test_01_copy(void **state)
{
    vmfix *f = *state;
    uncached(f);
    setup_copy(f, 0);
    assert_continue(vmfix_op(f, 1));
    javm_hash aa = vm_fill(0xAA), s2 = vmfix_get_slot(f, 2), s7 = vmfix_get_slot(f, 7);
    assert_hash_equal(s2, aa);
    assert_hash_equal(s7, aa);
    assert_int_equal(f->gas, 990);
}

static void test_02_move(void **state)
{
    vmfix *f = *state;
    uncached(f);
    f->regs[7] = 2;
    f->regs[8] = 9;
    assert_continue(vmfix_op(f, 2));
    javm_hash aa = vm_fill(0xAA), s9 = vmfix_get_slot(f, 9);
    assert_true(vmfix_slot_empty(f, 2));
    assert_hash_equal(s9, aa);
    assert_int_equal(f->gas, 990);
}

static void test_03_drop(void **state)
{
    vmfix *f = *state;
    uncached(f);
    setup_drop(f, 0);
    assert_continue(vmfix_op(f, 3));
    assert_true(vmfix_slot_empty(f, 2));
    assert_int_equal(f->gas, 990);
}

static void test_04_swap(void **state)
{
    vmfix *f = *state;
    uncached(f);
    setup_swap(f, 0);
    assert_continue(vmfix_op(f, 4));
    javm_hash aa = vm_fill(0xAA), hbb = vm_fill(0xBB), s2 = vmfix_get_slot(f, 2),
              s3 = vmfix_get_slot(f, 3);
    assert_hash_equal(s2, hbb);
    assert_hash_equal(s3, aa);
    assert_int_equal(f->gas, 990);
}

static void test_05_no_entry(void **state)
{
    vmfix *f = *state;
    javm_vm_free(f->vm);
    assert_int_equal(javm_vm_new(&f->vm, 0), JAVM_OK);
    f->ctx.vm = f->vm;
    f->regs[7] = 2;
    assert_exit(vmfix_op(f, 3), JAVM_EXIT_TRAP, 0);
    assert_int_equal(javm_vm_last_trap(f->vm), JAVM_TRAP_NO_ENTRY);
    assert_int_equal(f->gas, 1000);
}

static void test_06_halt(void **state)
{
    vmfix *f = *state;
    assert_exit(vmfix_op(f, 0), JAVM_EXIT_HALT, 0);
    assert_int_equal(f->gas, 990);
}

static void test_07_plain_ecall(void **state)
{
    vmfix *f = *state;
    uncached(f);
    f->regs[11] = 3;
    f->regs[7] = 2;
    assert_continue(javm_dispatch(&f->ctx, JAVM_CALL_ECALL, 0, f->regs, f->mem, &f->gas));
    assert_true(vmfix_slot_empty(f, 2));
    assert_int_equal(f->gas, 990);
}

typedef struct fn_log {
    int calls;
    uint32_t op;
    javm_host_rc answer;
    int64_t charge; /* gas the function takes for its own work */
} fn_log;

static javm_host_rc host_fn(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13], javm_memory *mem,
                            int64_t *gas, void *user)
{
    fn_log *l = user;
    (void)ctx;
    (void)regs;
    (void)mem;
    l->calls++;
    l->op = op;
    if (l->answer == JAVM_HOST_CONTINUE)
        *gas -= l->charge;
    return l->answer;
}

static void test_08_unassigned(void **state)
{
    vmfix *f = *state;
    static const uint32_t ops[] = { 999, 6, 15, 27, 63 };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        assert_exit(vmfix_op(f, ops[i]), JAVM_EXIT_TRAP, 0);
        assert_int_equal(javm_vm_last_trap(f->vm), JAVM_TRAP_UNASSIGNED_OP);
        assert_int_equal(f->gas, 1000);
    }
    fn_log l = { 0, 0, JAVM_HOST_CONTINUE, 0 };
    assert_int_equal(javm_vm_register_host_fn(f->vm, 999, host_fn, &l), JAVM_OK);
    assert_continue(vmfix_op(f, 999));
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.op, 999);
    assert_int_equal(f->gas, 990);
}

static void test_09_make_image(void **state)
{
    vmfix *f = *state;
    assert_exit(vmfix_op(f, 19), JAVM_EXIT_TRAP, 0);
    assert_int_equal(javm_vm_last_trap(f->vm), JAVM_TRAP_NOT_IMPLEMENTED);
    assert_int_equal(f->gas, 1000);
}

static void test_10_cnode_mint(void **state)
{
    vmfix *f = *state;
    setup_cnode_mint(f, 0);
    assert_continue(vmfix_op(f, 5));
    javm_hash s5 = vmfix_get_slot(f, 5);
    assert_hash_hex(s5, HX_CNODE3);
    assert_int_equal(f->gas, 990);
    /* §10.3: a CNode of size_log 3 with no populated slot, byte for byte */
    const javm_cap *got = javm_cache_get_hash(f->cache, &s5);
    assert_non_null(got);
    javm_cap *want;
    assert_int_equal(javm_cnode_new(3, &want), JAVM_OK);
    uint8_t *ea, *eb;
    size_t la, lb;
    assert_int_equal(javm_cap_encode(got, &ea, &la), JAVM_OK);
    assert_int_equal(javm_cap_encode(want, &eb, &lb), JAVM_OK);
    assert_int_equal(got->kind, JAVM_KIND_CNODE);
    assert_int_equal(la, lb);
    assert_memory_equal(ea, eb, la);
    assert_int_equal(la, 5); /* u8 size_log ‖ u32 count 0 */
    assert_int_equal(ea[0], 3);
    javm_free(ea);
    javm_free(eb);
    javm_cap_free(want);
}

/* §10.3: the cap at h is, byte for byte, the cap `want` (which is freed). */
static void assert_cached_is(vmfix *f, const javm_hash *h, javm_cap *want)
{
    const javm_cap *got = javm_cache_get_hash(f->cache, h);
    assert_non_null(got);
    assert_int_equal(got->kind, want->kind);
    uint8_t *ea, *eb;
    size_t la, lb;
    assert_int_equal(javm_cap_encode(got, &ea, &la), JAVM_OK);
    assert_int_equal(javm_cap_encode(want, &eb, &lb), JAVM_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(ea, eb, la);
    javm_free(ea);
    javm_free(eb);
    javm_cap_free(want);
}

static void test_11_set_image(void **state)
{
    vmfix *f = *state;
    setup_set_image(f, 0);
    javm_hash img = vm_hx(HX_IMG1);
    assert_int_equal(vm_rc(f->cache, &img), 1);
    assert_exit(vmfix_op(f, 17), JAVM_EXIT_HOST_CALL, 17);
    javm_hash chain, ih;
    const javm_program *p;
    assert_int_equal(javm_vm_top_info(f->vm, &chain, &ih, &p, NULL), JAVM_OK);
    assert_hash_hex(ih, HX_IMG1);
    assert_hash_hex(chain, HX_CHAIN_01_IMG1);
    uint64_t L;
    const uint8_t *code = javm_program_code(p, &L);
    assert_int_equal(L, 2);
    assert_int_equal(code[0], 0x0A);
    assert_int_equal(code[1], 0x00);
    javm_hash s3 = vmfix_get_slot(f, 3);
    assert_hash_hex(s3, HX_IMG1);
    assert_int_equal(vm_rc(f->cache, &img), 1);
    assert_int_equal(f->gas, 989);
    /* §10.3: get(image hash) is an Image whose code is the running program's */
    const javm_cap *got = javm_cache_get_hash(f->cache, &ih);
    assert_non_null(got);
    assert_int_equal(got->image.code_len, L);
    assert_memory_equal(got->image.code, code, L);
    assert_cached_is(f, &ih, img1());
}

static void test_12_derive_spawn(void **state)
{
    vmfix *f = *state;
    setup_derive_spawn(f, 0);
    assert_continue(vmfix_op(f, 18));
    assert_true(vmfix_slot_empty(f, 4));
    javm_hash s5 = vmfix_get_slot(f, 5);
    assert_hash_hex(s5, HX_DERIVED);
    const javm_cap *got = javm_cache_get_hash(f->cache, &s5);
    assert_non_null(got);
    assert_int_equal(got->kind, JAVM_KIND_INSTANCE);
    assert_hash_hex(got->instance.image_hash_chain, HX_CHAIN_01_IMG2);
    assert_hash_hex(got->instance.image_hash, HX_IMG2);
    assert_hash_hex(got->instance.root_cnode.hash, HX_CNODE4);
    assert_int_equal(got->instance.n_overlays, 0);
    assert_int_equal(got->instance.mem_size, 0);
    assert_int_equal(f->gas, 990);
}

static void test_13_same_type(void **state)
{
    vmfix *f = *state;
    uncached(f);
    javm_hash aa = vm_fill(0xAA), nn = vm_fill(0x99);
    vmfix_slot(f, 3, &aa);
    vmfix_slot(f, 4, &nn);
    f->regs[7] = 2;
    f->regs[8] = 3;
    assert_continue(vmfix_op(f, 20));
    assert_int_equal(f->regs[7], 1);
    f->regs[7] = 2;
    f->regs[8] = 4;
    assert_continue(vmfix_op(f, 20));
    assert_int_equal(f->regs[7], 0);
    assert_int_equal(f->gas, 980);
}

static void test_14_type_of(void **state)
{
    vmfix *f = *state;
    setup_type_of(f, 0);
    assert_continue(vmfix_op(f, 21));
    javm_hash s6 = vmfix_get_slot(f, 6), chain = vm_fill(0x42);
    assert_hash_hex(s6, HX_TYPE_42);
    assert_int_equal(f->gas, 990);
    javm_cap *t;
    assert_int_equal(javm_type_new(&chain, &t), JAVM_OK);
    assert_cached_is(f, &s6, t); /* §10.3 */
}

static void test_15_read(void **state)
{
    vmfix *f = *state;
    setup_read(f, 0);
    assert_continue(vmfix_op(f, 22));
    assert_int_equal(f->regs[7], 5);
    uint8_t m[8];
    assert_int_equal(javm_memory_peek(f->mem, 16, 8, m), JAVM_OK);
    assert_memory_equal(m, "hello\0\0\0", 8);
    assert_int_equal(f->gas, 989);
    /* §10.3: get(slot 3) is a Data of size 5 whose bytes equal mem[16..21) */
    javm_hash s3 = vmfix_get_slot(f, 3);
    const javm_cap *got = javm_cache_get_hash(f->cache, &s3);
    assert_non_null(got);
    assert_int_equal(got->data.size, 5);
    javm_cap *want;
    assert_int_equal(javm_data_new(m, 5, &want), JAVM_OK);
    assert_cached_is(f, &s3, want);
}

static void test_16_mint(void **state)
{
    vmfix *f = *state;
    setup_mint_data(f, 0);
    assert_continue(vmfix_op(f, 23));
    assert_int_equal(f->ka->vtbl->storage_quota_get(f->ka, 0), 7);
    javm_hash s6 = vmfix_get_slot(f, 6);
    assert_hash_hex(s6, HX_ABC);
    assert_int_equal(f->regs[7], 32);
    assert_int_equal(f->gas, 989);
    /* §10.3: an Inline Data, size 3, "abc" */
    const javm_cap *got = javm_cache_get_hash(f->cache, &s6);
    assert_non_null(got);
    assert_false(got->data.paged);
    assert_int_equal(got->data.size, 3);
    assert_cached_is(f, &s6, data_str("abc"));
}

static void test_17_open(void **state)
{
    vmfix *f = *state;
    setup_open(f, 0);
    assert_continue(vmfix_op(f, 24));
    javm_hash s6 = vmfix_get_slot(f, 6);
    assert_hash_hex(s6, HX_FILE);
    assert_int_equal(f->gas, 990);
    assert_cached_is(f, &s6, data_str("file")); /* §10.3 */
}

static void test_18_save(void **state)
{
    vmfix *f = *state;
    setup_save(f, 0);
    javm_hash stored = vm_hx(HX_STORED);
    assert_int_equal(vm_rc(f->cache, &stored), 1);
    assert_continue(vmfix_op(f, 25));
    assert_int_equal(f->regs[7], 1);
    assert_int_equal(f->ka->vtbl->storage_quota_get(f->ka, 0), 4);
    javm_hash h;
    assert_int_equal(f->ka->vtbl->host_open(f->ka, 1, &h), JAVM_OK);
    assert_hash_hex(h, HX_STORED);
    assert_int_equal(vm_rc(f->cache, &stored), 2);
    assert_int_equal(javm_ka_mem_next_file_id(f->ka), 2);
    assert_int_equal(f->gas, 990);
    /* §10.3: get(K.host_open(φ7)) is a Data "stored" */
    assert_int_equal(f->ka->vtbl->host_open(f->ka, f->regs[7], &h), JAVM_OK);
    assert_cached_is(f, &h, data_str("stored"));
}

/* 19: every cache-dependent op traps without a cache, with the registers of its cached test. */
/* Issue 13 item 23: HOST_SAVE of a Paged Data (size > 4096): the quota is debited by its size
 * (§7.6: the Data's size, not its stored length), the record names it, one new hold, and the
 * charge is JAVM_GAS_ECALL alone (SAVE copies no guest bytes). Its hash is computed here from
 * the bytes (vm_h_data), independently of the library. */
static void test_save_paged(void **state)
{
    vmfix *f = *state;
    uint8_t bytes[5000];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i % 253 + 1);
    javm_cap *d;
    assert_int_equal(javm_data_new(bytes, sizeof bytes, &d), JAVM_OK);
    assert_true(d->data.paged);
    javm_hash h = vm_put(f->cache, d), want = vm_h_data(bytes, sizeof bytes), got;
    assert_hash_equal(h, want);
    vmfix_slot(f, 3, &h);
    f->ka->vtbl->storage_quota_set(f->ka, 0, 6000);
    f->regs[7] = 3;
    f->regs[8] = 0;
    assert_continue(vmfix_op(f, 25));
    assert_int_equal(f->regs[7], 1);
    assert_int_equal(f->ka->vtbl->storage_quota_get(f->ka, 0), 1000);
    assert_int_equal(f->ka->vtbl->host_open(f->ka, 1, &got), JAVM_OK);
    assert_hash_equal(got, want);
    assert_int_equal(vm_rc(f->cache, &h), 2);
    assert_int_equal(f->gas, 990);
    /* the same again with a quota one byte short: QUOTA, nothing changed */
    f->ka->vtbl->storage_quota_set(f->ka, 0, 4999);
    f->regs[7] = 3;
    assert_exit(vmfix_op(f, 25), JAVM_EXIT_TRAP, 0);
    assert_string_equal(javm_trap_name(javm_vm_last_trap(f->vm)), "QUOTA");
    assert_int_equal(vm_rc(f->cache, &h), 2);
    assert_int_equal(javm_ka_mem_next_file_id(f->ka), 2);
}

static void test_19_no_cache(void **state)
{
    (void)state;
    static const struct {
        uint32_t op;
        void (*setup)(vmfix *, int);
    } ops[] = {
        { 5, setup_cnode_mint }, { 17, setup_set_image }, { 18, setup_derive_spawn },
        { 21, setup_type_of }, { 22, setup_read }, { 23, setup_mint_data },
        { 24, setup_open }, { 25, setup_save }, { 26, setup_host_call },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        vmfix f;
        vm_snap before, after;
        vmfix_init(&f, 0, NULL, 0);
        ops[i].setup(&f, 0);
        f.ctx.cache = NULL;
        vmfix_snap(&f, &before);
        javm_answer a = vmfix_op(&f, ops[i].op);
        vmfix_snap(&f, &after);
        if (a.cont || a.exit.reason != JAVM_EXIT_TRAP ||
            javm_vm_last_trap(f.vm) != JAVM_TRAP_NO_CACHE)
            fail_msg("op %u: expected TRAP(NO_CACHE), got %s", ops[i].op,
                     javm_trap_name(javm_vm_last_trap(f.vm)));
        vm_snap_assert_equal(&before, &after);
        vm_snap_free(&before);
        vm_snap_free(&after);
        vmfix_fini(&f);
    }
}

static void test_20_strip(void **state)
{
    (void)state;
    assert_int_equal(javm_strip_len((const uint8_t[]){ 1, 2, 3 }, 3), 3);
    assert_int_equal(javm_strip_len((const uint8_t[]){ 1, 2, 3, 0, 0 }, 5), 3);
    assert_int_equal(javm_strip_len((const uint8_t[]){ 0, 0, 0 }, 3), 0);
    assert_int_equal(javm_strip_len(NULL, 0), 0);
}

static void test_21_spawn_img3(void **state)
{
    vmfix *f = *state;
    javm_hash hello = put_str(f, "hello");
    javm_hash img = vm_put(f->cache, img3()), inst;
    assert_hash_hex(img, HX_IMG3);
    assert_int_equal(javm_spawn(f->cache, &img, 8, &inst), JAVM_OK);
    assert_hash_hex(inst, HX_SPAWN_IMG3);
    const javm_cap *c = javm_cache_get_hash(f->cache, &inst);
    assert_non_null(c);
    assert_hash_hex(c->instance.root_cnode.hash, HX_SPAWN_IMG3_ROOT);
    assert_int_equal(c->instance.n_overlays, 1);
    assert_int_equal(c->instance.overlays[0].start, 0x1000);
    assert_hash_hex(c->instance.overlays[0].data, HX_HELLO);
    assert_int_equal(c->instance.mem_size, 0x3000);
    assert_int_equal(vm_rc(f->cache, &hello), 4);
}

static void test_22_spawn_img2(void **state)
{
    vmfix *f = *state;
    javm_hash img = vm_put(f->cache, img2()), inst;
    assert_hash_hex(img, HX_IMG2);
    assert_int_equal(javm_spawn(f->cache, &img, 8, &inst), JAVM_OK);
    assert_hash_hex(inst, HX_SPAWN_IMG2);
}

static void test_23_out_of_gas(void **state)
{
    vmfix *f = *state;
    uncached(f);
    f->gas = 9;
    f->regs[7] = 2;
    assert_exit(vmfix_op(f, 3), JAVM_EXIT_OUT_OF_GAS, 0);
    javm_hash aa = vm_fill(0xAA), s2 = vmfix_get_slot(f, 2);
    assert_hash_equal(s2, aa);
    assert_int_equal(f->gas, 9);
    assert_int_equal(javm_vm_last_trap(f->vm), JAVM_TRAP_NONE);
}

static void test_24_exact_gas(void **state)
{
    vmfix *f = *state;
    uncached(f);
    f->gas = 10;
    f->regs[7] = 2;
    assert_continue(vmfix_op(f, 3));
    assert_true(vmfix_slot_empty(f, 2));
    assert_int_equal(f->gas, 0);
}

static void test_25_byte_charge(void **state)
{
    vmfix *f = *state;
    setup_read(f, 0);
    f->gas = 10;
    assert_exit(vmfix_op(f, 22), JAVM_EXIT_OUT_OF_GAS, 0);
    uint8_t m[8], z[8] = { 0 };
    assert_int_equal(javm_memory_peek(f->mem, 16, 8, m), JAVM_OK);
    assert_memory_equal(m, z, 8);
    assert_int_equal(f->regs[7], 3);
    assert_int_equal(f->gas, 10);
    assert_int_equal(javm_vm_last_trap(f->vm), JAVM_TRAP_NONE);
}

static void test_26_routing_first(void **state)
{
    vmfix *f = *state;
    javm_vm_free(f->vm);
    assert_int_equal(javm_vm_new(&f->vm, 0), JAVM_OK);
    f->ctx = (javm_ecall_ctx){ f->vm, NULL, f->ka };
    f->gas = 0;
    assert_exit(vmfix_op(f, 6), JAVM_EXIT_TRAP, 0);
    assert_int_equal(javm_vm_last_trap(f->vm), JAVM_TRAP_UNASSIGNED_OP);
    assert_exit(vmfix_op(f, 19), JAVM_EXIT_TRAP, 0);
    assert_int_equal(javm_vm_last_trap(f->vm), JAVM_TRAP_NOT_IMPLEMENTED);
    assert_exit(vmfix_op(f, 999), JAVM_EXIT_TRAP, 0);
    assert_int_equal(javm_vm_last_trap(f->vm), JAVM_TRAP_UNASSIGNED_OP);
    assert_int_equal(f->gas, 0);
}

/* ---- embedder host functions (§7.8) ----------------------------------------------------- */

static void test_host_fn_answers(void **state)
{
    vmfix *f = *state;
    fn_log l = { 0, 0, JAVM_HOST_CONTINUE, 5 };
    assert_int_equal(javm_vm_register_host_fn(f->vm, 63, host_fn, &l), JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_vm_register_host_fn(f->vm, 64, host_fn, &l), JAVM_OK);
    assert_int_equal(javm_vm_register_host_fn(f->vm, 64, host_fn, &l), JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_vm_register_host_fn(f->vm, 0x10000, host_fn, &l), JAVM_OK);
    /* CONTINUE: 10 for the ecall plus the function's own 5 */
    assert_continue(vmfix_op(f, 64));
    assert_int_equal(f->gas, 985);
    assert_int_equal(l.op, 64);
    assert_continue(vmfix_op(f, 0x10000));
    assert_int_equal(l.op, 0x10000);
    assert_int_equal(f->gas, 970);
    /* TRAP: the 10 come back */
    l.answer = JAVM_HOST_TRAP;
    assert_exit(vmfix_op(f, 64), JAVM_EXIT_TRAP, 0);
    assert_int_equal(javm_vm_last_trap(f->vm), JAVM_TRAP_HOST_FN);
    assert_int_equal(f->gas, 970);
    /* OUT_OF_GAS: likewise */
    l.answer = JAVM_HOST_OUT_OF_GAS;
    assert_exit(vmfix_op(f, 64), JAVM_EXIT_OUT_OF_GAS, 0);
    assert_int_equal(f->gas, 970);
    /* short of the 10: the function is not called */
    l.answer = JAVM_HOST_CONTINUE;
    int calls = l.calls;
    f->gas = 9;
    assert_exit(vmfix_op(f, 64), JAVM_EXIT_OUT_OF_GAS, 0);
    assert_int_equal(l.calls, calls);
    assert_int_equal(f->gas, 9);
    /* unregistered 65 traps */
    f->gas = 100;
    assert_exit(vmfix_op(f, 65), JAVM_EXIT_TRAP, 0);
    assert_int_equal(javm_vm_last_trap(f->vm), JAVM_TRAP_UNASSIGNED_OP);
    assert_int_equal(f->gas, 100);
}

/* Mint and read of a Paged Data (more than 4096 bytes) through guest memory. */
static void test_paged_mint_read(void **state)
{
    vmfix *f = *state;
    assert_int_equal(javm_memory_set_perm(f->mem, 0, 16384, JAVM_PERM_RW), JAVM_OK);
    static uint8_t buf[8192], back[8192];
    for (size_t i = 0; i < 5001; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    buf[4096 + 17] = 0;
    buf[5000] = 0x5A;
    assert_int_equal(javm_memory_poke(f->mem, 0, 8192, buf), JAVM_OK);
    f->ka->vtbl->storage_quota_set(f->ka, 0, 100000);
    f->gas = 100000;
    f->regs[7] = 0;
    f->regs[8] = 8192;
    f->regs[9] = 0;
    f->regs[10] = 6;
    assert_continue(vmfix_op(f, 23));
    javm_hash s6 = vmfix_get_slot(f, 6), want = vm_h_data(buf, 5001);
    assert_hash_equal(s6, want);
    assert_int_equal(f->gas, 100000 - 10 - 8192 / 32);
    assert_int_equal(f->ka->vtbl->storage_quota_get(f->ka, 0), 100000 - 5001);
    const javm_cap *d = javm_cache_get_hash(f->cache, &s6);
    assert_non_null(d);
    assert_true(d->data.paged);
    assert_int_equal(d->data.size, 5001);
    /* read it back at 8192: n = min(6000, 5001) */
    f->gas = 1000;
    f->regs[7] = 6;
    f->regs[8] = 8192;
    f->regs[9] = 6000;
    assert_continue(vmfix_op(f, 22));
    assert_int_equal(f->regs[7], 5001);
    assert_int_equal(f->gas, 1000 - 10 - (5001 + 31) / 32);
    assert_int_equal(javm_memory_peek(f->mem, 8192, 8192, back), JAVM_OK);
    assert_memory_equal(back, buf, 8192);
}

/* A read of n = 0 bytes needs no memory: mem(dst, 0) passes. */
static void test_read_zero(void **state)
{
    vmfix *f = *state;
    setup_read(f, 1); /* no memory mapped */
    f->regs[9] = 0;
    assert_continue(vmfix_op(f, 22));
    assert_int_equal(f->regs[7], 0);
    assert_int_equal(f->gas, 990);
}

/* HOST_CALL through the dispatcher: the child is pushed, E's slot 0 moves into it. */
static void test_host_call_push(void **state)
{
    vmfix *f = *state;
    setup_host_call(f, 0);
    javm_hash hello = put_str(f, "hello");
    vmfix_slot(f, 0, &hello);
    uint32_t rc_hello = vm_rc(f->cache, &hello);
    assert_exit(vmfix_op(f, 26), JAVM_EXIT_HOST_CALL, 26);
    assert_int_equal(javm_vm_depth(f->vm), 2);
    javm_hash c0 = vmfix_get_slot(f, 0), ih;
    assert_hash_equal(c0, hello);
    assert_int_equal(javm_vm_top_info(f->vm, NULL, &ih, NULL, NULL), JAVM_OK);
    assert_hash_hex(ih, HX_IMG2);
    /* the accounted child holds the unowned value it received */
    assert_int_equal(vm_rc(f->cache, &hello), rc_hello + 1);
    assert_int_equal(f->gas, 990);
    javm_abort(f->vm, f->cache, f->ka);
    assert_int_equal(vm_rc(f->cache, &hello), rc_hello);
}

/* Issue 13 item 21: the fresh hold HOST_CALL takes for an unaccounted entry's slot 0 traps
 * with its own reason: a value absent from the cache is NOT_FOUND (it was always CACHE). */
static void test_host_call_hold_reason(void **state)
{
    vmfix *f = *state;
    setup_host_call(f, 0);
    javm_hash absent = vm_fill(0x5C);
    vmfix_slot(f, 0, &absent);
    vm_snap before, after;
    vmfix_snap(f, &before);
    assert_exit(vmfix_op(f, 26), JAVM_EXIT_TRAP, 0);
    assert_string_equal(javm_trap_name(javm_vm_last_trap(f->vm)), "NOT_FOUND");
    vmfix_snap(f, &after);
    vm_snap_assert_equal(&before, &after);
    vm_snap_free(&before);
    vm_snap_free(&after);
}

int main(void)
{
    const struct CMUnitTest fixed[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
        T(test_01_copy), T(test_02_move), T(test_03_drop), T(test_04_swap),
        T(test_05_no_entry), T(test_06_halt), T(test_07_plain_ecall), T(test_08_unassigned),
        T(test_09_make_image), T(test_10_cnode_mint), T(test_11_set_image),
        T(test_12_derive_spawn), T(test_13_same_type), T(test_14_type_of), T(test_15_read),
        T(test_16_mint), T(test_17_open), T(test_18_save), T(test_save_paged), cmocka_unit_test(test_19_no_cache),
        cmocka_unit_test(test_20_strip), T(test_21_spawn_img3), T(test_22_spawn_img2),
        T(test_23_out_of_gas), T(test_24_exact_gas), T(test_25_byte_charge),
        T(test_26_routing_first), T(test_host_fn_answers), T(test_host_call_push), T(test_host_call_hold_reason),
        T(test_paged_mint_read), T(test_read_zero),
#undef T
    };
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    struct CMUnitTest *all = calloc(nfixed + N_NEG, sizeof *all);
    char (*names)[80] = calloc(N_NEG, sizeof *names);
    if (!all || !names)
        return 1;
    memcpy(all, fixed, sizeof fixed);
    for (size_t i = 0; i < N_NEG; i++) {
        snprintf(names[i], sizeof names[i], "neg: %s (%s)", NEG[i].name,
                 NEG[i].want ? javm_trap_name(NEG[i].want) : "no trap");
        all[nfixed + i] = (struct CMUnitTest){ names[i], test_negative, NULL, NULL, (void *)&NEG[i] };
    }
    int r = _cmocka_run_group_tests("vm_dispatch", all, nfixed + N_NEG, NULL, NULL);
    free(all);
    free(names);
    return r;
}
