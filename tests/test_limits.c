/* SPDX-License-Identifier: MIT
 * tests/test_limits.c — every limit of javm/limits.h hit on purpose: each must come back as a
 * clear status (JAVM_ERR_LIMIT or the specific one documented beside the limit), never a crash
 * or an allocation the input's size does not justify. Code size and jump table through
 * javm_prepare, an Image and a JIMG file; image size in the decoder, the loader and put;
 * instance memory at the 2^32 edge; CNode size_log; call depth; overlay count; invoke gas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "javm.h"
#include "vmfix.h"

/* ---- a cache with a kernel assist and a VM ---------------------------------------------------- */

typedef struct env {
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
    javm_vm *vm;
} env;

static void env_open(env *e)
{
    assert_int_equal(javm_store_mem_new(&e->store), JAVM_OK);
    assert_int_equal(javm_cache_open(e->store, &e->cache), JAVM_OK);
    assert_int_equal(javm_ka_mem_new(&e->ka), JAVM_OK);
    assert_int_equal(javm_vm_new(&e->vm, 0), JAVM_OK);
}

static void env_close(env *e)
{
    javm_abort(e->vm, e->cache, e->ka);
    javm_vm_free(e->vm);
    javm_ka_free(e->ka);
    javm_cache_close(e->cache);
    javm_store_close(e->store);
}

/* An Image of `len` code bytes, all trap (0x00) instructions, with `njt` jump-table entries
 * 0 and one endpoint at pc 0. */
static javm_cap *big_image(uint32_t len, uint32_t njt)
{
    uint8_t *code = calloc(len ? len : 1, 1);
    uint8_t *mask = malloc((len + 7) / 8 + 1);
    uint32_t *jt = calloc(njt ? njt : 1, sizeof *jt);
    assert_non_null(code);
    assert_non_null(mask);
    assert_non_null(jt);
    memset(mask, 0xFF, (len + 7) / 8);
    if (len % 8)
        mask[(len + 7) / 8 - 1] = (uint8_t)((1u << (len % 8)) - 1);
    javm_cap *img = NULL;
    assert_int_equal(javm_image_new(code, len, mask, (len + 7) / 8, &img), JAVM_OK);
    if (njt)
        assert_int_equal(javm_image_set_jump_table(img, jt, njt), JAVM_OK);
    javm_endpoint ep = { 0 };
    assert_int_equal(javm_image_add_endpoint(img, &ep), JAVM_OK);
    free(jt);
    free(mask);
    free(code);
    return img;
}

/* Puts img (freed), spawns it and invokes endpoint 0: returns javm_invoke's status. When
 * through_file, the Image goes through javm_image_save and javm_image_load into a fresh cache
 * first, and that cache is the one invoked. */
static int invoke_image(javm_cap *img, bool through_file)
{
    env a, b;
    env_open(&a);
    javm_hash ih = vm_put(a.cache, img), inst;
    env *run = &a;
    if (through_file) {
        uint8_t *file = NULL;
        size_t len = 0;
        assert_int_equal(javm_image_save(a.cache, &ih, &file, &len), JAVM_OK);
        env_open(&b);
        javm_decode_err err;
        assert_int_equal(javm_image_load(b.cache, file, len, &ih, &err), JAVM_OK);
        javm_free(file);
        run = &b;
    }
    assert_int_equal(javm_spawn(run->cache, &ih, 4, &inst), JAVM_OK);
    javm_call_result res;
    int rc = javm_invoke(run->vm, run->cache, run->ka, &inst, 0, (const uint64_t[4]){ 0 }, 1000,
                         NULL, NULL, &res);
    if (through_file)
        env_close(&b);
    env_close(&a);
    return rc;
}

/* ---- code size and jump table (JAVM_MAX_CODE_SIZE, JAVM_MAX_JUMP_TABLE) ------------------------ */

static void test_code_size(void **state)
{
    (void)state;
    uint32_t L = JAVM_MAX_CODE_SIZE + 1;
    uint8_t *code = calloc(L, 1), *mask = calloc((L + 7) / 8, 1);
    assert_non_null(code);
    assert_non_null(mask);
    mask[0] = 1;
    javm_program *p = NULL;
    assert_int_equal(javm_prepare(code, L, mask, NULL, 0, NULL, &p), JAVM_ERR_CODE_TOO_LARGE);
    assert_null(p);
    free(mask);
    free(code);
    /* An Image of that code is a valid cap (the limit is the VM's, not the format's): it puts,
     * saves and loads, and invoking it fails to decode. */
    assert_int_equal(invoke_image(big_image(JAVM_MAX_CODE_SIZE + 1, 0), false), JAVM_ERR_DECODE_FAILED);
    assert_int_equal(invoke_image(big_image(JAVM_MAX_CODE_SIZE + 1, 0), true), JAVM_ERR_DECODE_FAILED);
}

static void test_jump_table_size(void **state)
{
    (void)state;
    uint32_t n = JAVM_MAX_JUMP_TABLE + 1;
    uint32_t *jt = calloc(n, sizeof *jt);
    assert_non_null(jt);
    static const uint8_t code[1] = { 0 }, mask[1] = { 1 };
    javm_program *p = NULL;
    assert_int_equal(javm_prepare(code, 1, mask, jt, n, NULL, &p), JAVM_ERR_JT_TOO_LARGE);
    assert_int_equal(javm_prepare(code, 1, mask, jt, n - 1, NULL, &p), JAVM_OK);
    javm_program_free(p);
    free(jt);
    assert_int_equal(invoke_image(big_image(1, JAVM_MAX_JUMP_TABLE + 1), false), JAVM_ERR_DECODE_FAILED);
    assert_int_equal(invoke_image(big_image(1, JAVM_MAX_JUMP_TABLE + 1), true), JAVM_ERR_DECODE_FAILED);
    /* At the limit it runs: the entry traps (code 0x00), a FAULT outcome, not a setup error. */
    assert_int_equal(invoke_image(big_image(1, JAVM_MAX_JUMP_TABLE), true), JAVM_OK);
}

/* ---- image size (JAVM_MAX_IMAGE_SIZE) ------------------------------------------------------- */

static void test_image_size(void **state)
{
    (void)state;
    /* A JIMG file one byte too long: refused at offset 0, the cache untouched. Its bytes are
     * zeros after the header (calloc: pages the loader must never touch stay unbacked). */
    size_t len = (size_t)JAVM_MAX_IMAGE_SIZE + 1;
    uint8_t *file = calloc(len, 1);
    assert_non_null(file);
    memcpy(file, "JIMG\x01\x00\x00\x00", 8);
    env e;
    env_open(&e);
    javm_hash h;
    javm_decode_err err;
    assert_int_equal(javm_image_load(e.cache, file, len, &h, &err), JAVM_ERR_LIMIT);
    assert_int_equal(err.reason, JAVM_ERR_LIMIT);
    assert_int_equal(err.offset, 0);
    assert_int_equal(javm_cache_blob_count(e.cache), 0);
    /* An Image body one byte too long, before the decoder allocates. */
    javm_cap *c = NULL;
    assert_int_equal(javm_cap_decode(JAVM_KIND_IMAGE, file, len, &c, &err), JAVM_ERR_LIMIT);
    assert_null(c);
    assert_int_equal(err.offset, 0);
    /* The same length as Data is only as large as its content says: TRUNCATED/NON_CANONICAL,
     * not a limit (the limit is the Image's). */
    assert_int_not_equal(javm_cap_decode(JAVM_KIND_DATA, file, len, &c, &err), JAVM_ERR_LIMIT);
    free(file);

    /* put refuses an Image whose encoding is above the limit: it could never be read back. */
    javm_cap *img = big_image(JAVM_MAX_IMAGE_SIZE, 0);
    assert_int_equal(javm_cap_check(img), JAVM_ERR_LIMIT);
    assert_int_equal(javm_cache_put(e.cache, img, &h), JAVM_ERR_LIMIT);
    uint8_t *enc = NULL;
    size_t n = 0;
    assert_int_equal(javm_cap_encode(img, &enc, &n), JAVM_ERR_LIMIT);
    assert_null(enc);
    assert_int_equal(javm_cache_blob_count(e.cache), 0);
    javm_cap_free(img);
    /* The largest runnable Image is well below it. */
    img = big_image(JAVM_MAX_CODE_SIZE, 0);
    assert_int_equal(javm_cap_check(img), JAVM_OK);
    javm_cap_free(img);
    env_close(&e);
}

/* ---- instance memory: everything below 2^32 (JAVM_MAX_MEM_END) ---------------------------- */

static javm_hash put_data_of(javm_cache *c, uint64_t size)
{
    uint8_t *b = calloc(size, 1);
    assert_non_null(b);
    b[size - 1] = 1;
    javm_cap *d = NULL;
    assert_int_equal(javm_data_new(b, size, &d), JAVM_OK);
    free(b);
    return vm_put(c, d);
}

static void test_instance_memory(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    javm_hash page = put_data_of(e.cache, 4096), more = put_data_of(e.cache, 4097);
    javm_hash img = vm_put(e.cache, big_image(1, 0)), inst;
    assert_int_equal(javm_spawn(e.cache, &img, 2, &inst), JAVM_OK);
    const javm_cap *ic = javm_cache_get_hash(e.cache, &inst);
    assert_non_null(ic);
    javm_cap *c = NULL;
    assert_int_equal(javm_cap_clone(ic, &c), JAVM_OK);
    /* The last page of the address space holds a page of Data; one byte more does not fit. */
    uint32_t last = (uint32_t)(JAVM_MAX_MEM_END - JAVM_PAGE_SIZE);
    assert_int_equal(javm_instance_add_overlay(c, last, &more), JAVM_OK);
    javm_hash h;
    assert_int_equal(javm_cache_put(e.cache, c, &h), JAVM_ERR_NON_CANONICAL);
    c->instance.overlays[0].data = page;
    c->instance.mem_size = UINT32_MAX;
    assert_int_equal(javm_cache_put(e.cache, c, &h), JAVM_OK);
    javm_cap_free(c);
    /* The same edge through a working Instance. */
    javm_ref r;
    assert_int_equal(javm_cache_put_working(e.cache, javm_cache_get_hash(e.cache, &h), &r), JAVM_OK);
    assert_int_equal(javm_cache_instance_set_overlay(e.cache, r, last, &more), JAVM_ERR_NON_CANONICAL);
    assert_int_equal(javm_cache_instance_set_overlay(e.cache, r, last, &page), JAVM_OK);
    assert_int_equal(javm_cache_decref(e.cache, &(javm_key){ .tag = JAVM_KEY_REF, .ref = r }), JAVM_OK);
    /* A mapping ending at 2^32 is canonical, one byte past it is not. */
    javm_cap *im = big_image(1, 0);
    javm_mapping m = { .start = JAVM_MAX_MEM_END - 8192, .size = 8192, .flags = 1 };
    assert_int_equal(javm_image_add_mapping(im, &m), JAVM_OK);
    assert_int_equal(javm_cap_check(im), JAVM_OK);
    im->image.mappings[0].size = 8193;
    assert_int_equal(javm_cap_check(im), JAVM_ERR_NON_CANONICAL);
    assert_int_equal(javm_cache_put(e.cache, im, &h), JAVM_ERR_NON_CANONICAL);
    javm_cap_free(im);
    env_close(&e);
}

/* ---- CNode size_log (JAVM_CNODE_MAX_SIZE_LOG) --------------------------------------------- */

static void test_cnode_size(void **state)
{
    (void)state;
    javm_cap *c = NULL;
    assert_int_equal(javm_cnode_new(JAVM_CNODE_MAX_SIZE_LOG + 1, &c), JAVM_ERR_INVALID_CNODE_SIZE);
    assert_int_equal(javm_cnode_new(JAVM_CNODE_MAX_SIZE_LOG, &c), JAVM_OK);
    javm_key k = javm_key_of_hash(&(javm_hash){ { 1 } });
    assert_int_equal(javm_cnode_set_slot(c, 1u << JAVM_CNODE_MAX_SIZE_LOG, &k), JAVM_ERR_SLOT_OUT_OF_RANGE);
    javm_cap_free(c);
    static const uint8_t body[5] = { JAVM_CNODE_MAX_SIZE_LOG + 1, 0, 0, 0, 0 };
    javm_decode_err err;
    assert_int_equal(javm_cap_decode(JAVM_KIND_CNODE, body, sizeof body, &c, &err),
                     JAVM_ERR_INVALID_CNODE_SIZE);
    env e;
    env_open(&e);
    javm_hash img = vm_put(e.cache, big_image(1, 0)), inst;
    assert_int_equal(javm_spawn(e.cache, &img, JAVM_CNODE_MAX_SIZE_LOG + 1, &inst), JAVM_ERR_INVALID_CNODE_SIZE);
    env_close(&e);
    /* CNODE_MINT with size_log 17 traps BAD_SIZE_LOG, 16 mints. */
    vmfix f;
    vmfix_init(&f, 0, NULL, 0);
    f.regs[7] = 3;
    f.regs[8] = JAVM_CNODE_MAX_SIZE_LOG + 1;
    assert_exit(vmfix_op(&f, JAVM_OP_CNODE_MINT), JAVM_EXIT_TRAP, 0);
    assert_int_equal(javm_vm_last_trap(f.vm), JAVM_TRAP_BAD_SIZE_LOG);
    f.regs[8] = JAVM_CNODE_MAX_SIZE_LOG;
    assert_continue(vmfix_op(&f, JAVM_OP_CNODE_MINT));
    assert_false(vmfix_slot_empty(&f, 3));
    vmfix_fini(&f);
}

/* ---- call depth (JAVM_MAX_CALL_DEPTH, JAVM_MAX_CALL_DEPTH_LIMIT) --------------------------- */

static void test_call_depth(void **state)
{
    (void)state;
    javm_vm *vm = NULL;
    assert_int_equal(javm_vm_new(&vm, JAVM_MAX_CALL_DEPTH_LIMIT + 1), JAVM_ERR_INVALID_ARG);
    assert_null(vm);
    assert_int_equal(javm_vm_new(&vm, JAVM_MAX_CALL_DEPTH_LIMIT), JAVM_OK);
    javm_vm_free(vm);
    /* A stack of one entry: HOST_CALL traps STACK_FULL with nothing changed. */
    vmfix f;
    vmfix_init(&f, 1, NULL, 0);
    javm_hash img, inst = vm_spawn_image(f.cache, big_image(1, 0), &img);
    vmfix_slot(&f, 2, &inst);
    vm_snap before, after;
    f.regs[7] = 2;
    f.regs[8] = 0;
    vmfix_snap(&f, &before);
    assert_exit(vmfix_op(&f, JAVM_OP_HOST_CALL), JAVM_EXIT_TRAP, 0);
    assert_int_equal(javm_vm_last_trap(f.vm), JAVM_TRAP_STACK_FULL);
    vmfix_snap(&f, &after);
    vm_snap_assert_equal(&before, &after);
    vm_snap_free(&before);
    vm_snap_free(&after);
    assert_int_equal(javm_vm_depth(f.vm), 1);
    /* With room for one more it pushes. */
    vmfix_new_vm(&f, 2, NULL, 0);
    vmfix_slot(&f, 2, &inst);
    assert_exit(vmfix_op(&f, JAVM_OP_HOST_CALL), JAVM_EXIT_HOST_CALL, JAVM_OP_HOST_CALL);
    assert_int_equal(javm_vm_depth(f.vm), 2);
    javm_abort(f.vm, f.cache, f.ka);
    vmfix_fini(&f);
}

/* ---- overlay count (JAVM_MAX_OVERLAYS) -------------------------------------------------------- */

static void test_overlay_count(void **state)
{
    (void)state;
    javm_hash z = { { 0 } }, d = { { 7 } };
    javm_cap *c = NULL;
    assert_int_equal(javm_instance_new(&z, &z, &(javm_key){ .tag = JAVM_KEY_HASH }, &c), JAVM_OK);
    for (uint32_t i = 0; i < JAVM_MAX_OVERLAYS; i++)
        assert_int_equal(javm_instance_add_overlay(c, i * JAVM_PAGE_SIZE, &d), JAVM_OK);
    assert_int_equal(javm_cap_check(c), JAVM_OK);
    assert_int_equal(javm_instance_add_overlay(c, 0, &d), JAVM_ERR_LIMIT);
    assert_int_equal(c->instance.n_overlays, JAVM_MAX_OVERLAYS);
    javm_cap_free(c);
    c = NULL;
    /* A body announcing 2^20 + 1 overlays is refused at its count, before allocating: OVERSIZED
     * when they cannot fit in the body, LIMIT when they could. */
    uint32_t n = JAVM_MAX_OVERLAYS + 1;
    size_t len = 96 + 4 + 36 * (size_t)n + 13 * 8 + 8 + 8 + 4;
    uint8_t *body = calloc(len, 1);
    assert_non_null(body);
    for (int i = 0; i < 4; i++)
        body[96 + i] = (uint8_t)(n >> (8 * i));
    javm_decode_err err;
    assert_int_equal(javm_cap_decode(JAVM_KIND_INSTANCE, body, 100, &c, &err), JAVM_ERR_OVERSIZED);
    assert_int_equal(err.offset, 96);
    assert_int_equal(javm_cap_decode(JAVM_KIND_INSTANCE, body, len, &c, &err), JAVM_ERR_LIMIT);
    assert_int_equal(err.offset, 96);
    assert_null(c);
    free(body);
}

/* ---- gas of one invocation (JAVM_MAX_INVOKE_GAS) --------------------------------------------- */

static void test_invoke_gas(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    tprog p;
    tprog_init(&p);
    TI(&p, 0x01);   /* fallthrough */
    TI(&p, 0x00);   /* trap */
    javm_hash img, inst = vm_spawn_image(e.cache, vm_image_of(&p, 0, 0, 0), &img);
    javm_call_result res;
    const uint64_t args[4] = { 0 };
    assert_int_equal(javm_invoke(e.vm, e.cache, e.ka, &inst, 0, args, (uint64_t)JAVM_MAX_INVOKE_GAS + 1,
                                 NULL, NULL, &res), JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_vm_depth(e.vm), 0);
    assert_false(javm_journal_is_open(e.cache));
    assert_int_equal(javm_invoke(e.vm, e.cache, e.ka, &inst, 0, args, UINT64_MAX, NULL, NULL, &res),
                     JAVM_ERR_INVALID_ARG);
    assert_int_equal(javm_invoke(e.vm, e.cache, e.ka, &inst, 0, args, (uint64_t)JAVM_MAX_INVOKE_GAS,
                                 NULL, NULL, &res), JAVM_OK);
    assert_int_equal(res.kind, JAVM_RES_FAULT);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_size),
        cmocka_unit_test(test_jump_table_size),
        cmocka_unit_test(test_image_size),
        cmocka_unit_test(test_instance_memory),
        cmocka_unit_test(test_cnode_size),
        cmocka_unit_test(test_call_depth),
        cmocka_unit_test(test_overlay_count),
        cmocka_unit_test(test_invoke_gas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
