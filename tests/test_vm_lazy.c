/* SPDX-License-Identifier: MIT
 * tests/test_vm_lazy.c — issue 13 item 2: an invocation costs what it touches, not the mapped
 * size. build_entry maps the Loaded pages of Paged overlays lazily (exec_memory_map_lazy): no
 * page contents are copied until the guest or an accessor touches them; every accessor sees
 * the overlay's bytes; a paused invocation copies them in (the embedder may release the
 * Instance while paused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cap_fixtures.h"
#include "exec/exec.h"
#include "vm/vm.h"
#include "vmfix.h"

/* ---- the memory on its own -------------------------------------------------------------- */

static void test_memory_lazy_page(void **state)
{
    (void)state;
    javm_memory *m;
    assert_int_equal(javm_memory_new(&m), JAVM_OK);
    uint8_t src[4096], buf[4096];
    for (int i = 0; i < 4096; i++)
        src[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(exec_memory_map_lazy(m, 1, src), JAVM_ERR_MEM_RANGE); /* not mapped */
    assert_int_equal(javm_memory_set_perm(m, 0, 3 * 4096, JAVM_PERM_RW), JAVM_OK);
    assert_int_equal(exec_memory_map_lazy(m, 1, src), JAVM_OK);
    assert_int_equal(javm_memory_get_perm(m, 1), JAVM_PERM_RW);
    assert_true(javm_memory_page_written(m, 1));
    assert_false(javm_memory_is_dirty(m, 1));
    /* Accessors read the borrowed bytes, also across a page boundary. */
    assert_int_equal(javm_memory_peek(m, 4096 - 8, 16, buf), JAVM_OK);
    assert_memory_equal(buf + 8, src, 8);
    assert_int_equal(javm_memory_read(m, 4096 + 100, 50, buf), JAVM_OK);
    assert_memory_equal(buf, src + 100, 50);
    assert_int_equal(javm_memory_probe(m, 4096, 4096, JAVM_ACCESS_WRITE, NULL), JAVM_OK);
    /* Read-only keeps it lazy with the new permission. */
    assert_int_equal(javm_memory_set_perm(m, 4096, 4096, JAVM_PERM_RO), JAVM_OK);
    assert_int_equal(javm_memory_get_perm(m, 1), JAVM_PERM_RO);
    assert_int_equal(javm_memory_probe(m, 4096, 1, JAVM_ACCESS_WRITE, NULL), JAVM_ERR_MEM_ACCESS);
    assert_int_equal(javm_memory_set_perm(m, 4096, 4096, JAVM_PERM_RW), JAVM_OK);
    /* A write copies the page in first: the rest of the page keeps the borrowed bytes. */
    uint8_t v = 0xEE;
    assert_int_equal(javm_memory_write(m, 4096 + 3, 1, &v), JAVM_OK);
    assert_true(javm_memory_is_dirty(m, 1));
    memset(src, 0, sizeof src); /* no longer borrowed */
    assert_int_equal(javm_memory_peek(m, 4096, 8, buf), JAVM_OK);
    assert_int_equal(buf[0], 1);
    assert_int_equal(buf[3], 0xEE);
    assert_int_equal(buf[4], (uint8_t)(4 * 7 + 1));
    /* Reset forgets everything; a page mapped lazily again reads its new source. */
    javm_memory_reset(m);
    assert_int_equal(javm_memory_get_perm(m, 1), JAVM_PERM_NONE);
    assert_int_equal(javm_memory_set_perm(m, 0, 2 * 4096, JAVM_PERM_RW), JAVM_OK);
    assert_int_equal(javm_memory_peek(m, 4096, 4096, buf), JAVM_OK);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(buf[i], 0);
    memset(src, 0x5A, sizeof src);
    assert_int_equal(exec_memory_map_lazy(m, 0, src), JAVM_OK);
    exec_memory_materialize(m);
    memset(src, 0, sizeof src);
    assert_int_equal(javm_memory_peek(m, 0, 4096, buf), JAVM_OK);
    assert_int_equal(buf[0], 0x5A);
    assert_int_equal(buf[4095], 0x5A);
    javm_memory_free(m);
}

/* ---- invocations ------------------------------------------------------------------------ */

typedef vmenv env;

#define NPAGES 256 /* 1 MiB */
#define BASE 0x10000u

#define page_byte vm_page_byte

static javm_cap *big_data(void) { return vm_paged_data(NPAGES); }

/* store_u8 [BASE + 5], φ7; load_u8 φ7, [BASE + 0x3007]; then `tail` (2 bytes). */
static javm_hash spawn_big(javm_cache *c, const uint8_t tail[2], javm_hash *data_out)
{
    uint8_t code[12] = { 0x3b, 0x07, 0x05, 0x00, 0x01, 0x34, 0x07, 0x07, 0x30, 0x01, tail[0], tail[1] };
    static const uint8_t mask[2] = { 0x21, 0x04 };
    return vm_spawn_over(c, code, sizeof code, mask, sizeof mask, BASE, (uint64_t)NPAGES * 4096, big_data(), data_out);
}

/* build_entry copies no page of a Paged overlay: each stays lazily mapped until touched. */
/* Unmapping a lazily mapped page drops its borrowed bytes: mapped again it reads zero, so it
 * is dirty (settle shares the base leaf of a clean page, which would keep the old bytes). */
static void test_lazy_unmap_is_a_change(void **state)
{
    (void)state;
    javm_memory *m;
    assert_int_equal(javm_memory_new(&m), JAVM_OK);
    uint8_t src[4096], b[4];
    memset(src, 0xAA, sizeof src);
    assert_int_equal(javm_memory_set_perm(m, 0x10000, 4096, JAVM_PERM_RW), JAVM_OK);
    assert_int_equal(exec_memory_map_lazy(m, 0x10, src), JAVM_OK);
    javm_memory_clear_dirty(m);
    assert_false(javm_memory_is_dirty(m, 0x10));
    assert_int_equal(javm_memory_set_perm(m, 0x10000, 4096, JAVM_PERM_NONE), JAVM_OK);
    assert_int_equal(javm_memory_set_perm(m, 0x10000, 4096, JAVM_PERM_RW), JAVM_OK);
    assert_int_equal(javm_memory_read(m, 0x10000, 4, b), JAVM_OK);
    assert_int_equal(b[0], 0);
    assert_true(javm_memory_is_dirty(m, 0x10));
    javm_memory_free(m);
}

static void test_build_entry_copies_nothing(void **state)
{
    env *E = *state;
    static const uint8_t halt[2] = { 10, 0 };
    javm_hash dh, inst = spawn_big(E->cache, halt, &dh);
    vm_entry e;
    javm_trap trap;
    assert_int_equal(vm_build_entry(E->vm, E->cache, &inst, 0, NULL, &e, &trap), JAVM_OK);
    const javm_memory *m = e.st.mem;
    /* The layout is layers: no page has been touched, so build_entry did nothing per page */
    assert_int_equal(m->ntouched, 0);
    for (uint32_t pg = BASE >> 12; pg < (BASE >> 12) + NPAGES; pg++) {
        assert_int_equal(m->page[pg], 0);
        assert_int_equal(javm_memory_get_perm(m, pg), JAVM_PERM_RW);
        assert_true(javm_memory_page_written(m, pg));
    }
    uint8_t b;
    assert_int_equal(javm_memory_peek(m, BASE + 77 * 4096 + 9, 1, &b), JAVM_OK);
    assert_int_equal(b, page_byte(77));
    vm_entry_dispose(E->vm, &e);
}

/* The guest writes one byte and reads another page: the post-instance's Data is the old one
 * with that byte changed (hash computed here from bytes). */
static void test_invoke_one_byte(void **state)
{
    env *E = *state;
    static const uint8_t halt[2] = { 10, 0 };
    javm_hash dh, inst = spawn_big(E->cache, halt, &dh);
    javm_call_result r;
    uint64_t args[4] = { 0x99, 0, 0, 0 };
    for (int round = 0; round < 2; round++) { /* the second reuses the pooled memory */
        assert_int_equal(javm_invoke(E->vm, E->cache, E->ka, &inst, 0, args, 1000, NULL, NULL, &r),
                         JAVM_OK);
        assert_int_equal(r.kind, JAVM_RES_HALT);
        assert_int_equal(r.return_value, page_byte(3));
        const javm_cap *post = javm_cache_get_hash(E->cache, &r.post_instance);
        assert_non_null(post);
        assert_int_equal(post->instance.n_overlays, 1);
        javm_cap *want = big_data();
        uint8_t page[4096];
        memset(page, page_byte(0), sizeof page);
        page[5] = 0x99;
        assert_int_equal(javm_data_page_load(want, 0, page), JAVM_OK);
        javm_hash wh;
        assert_int_equal(javm_cap_hash(want, &wh), JAVM_OK);
        javm_cap_free(want);
        assert_hash_equal(post->instance.overlays[0].data, wh);
        javm_key k = javm_key_of_hash(&r.post_instance);
        assert_int_equal(javm_cache_decref(E->cache, &k), JAVM_OK);
    }
}

/* vm_entry_hold_lays (run when an invocation pauses) copies touched borrowed pages in and
 * takes the entry's own references on the rest: the embedder may then drop the Instance and
 * its overlay Data and the memory keeps the bytes (ASan checks that nothing freed is read). */
static void test_materialize_owns_pages(void **state)
{
    env *E = *state;
    static const uint8_t halt[2] = { 10, 0 };
    javm_hash dh, inst = spawn_big(E->cache, halt, &dh);
    vm_entry e;
    javm_trap trap;
    assert_int_equal(vm_build_entry(E->vm, E->cache, &inst, 0, NULL, &e, &trap), JAVM_OK);
    uint8_t b;
    assert_int_equal(javm_memory_read(e.st.mem, BASE + 3 * 4096, 1, &b), JAVM_OK); /* not touched */
    assert_int_equal(javm_memory_write(e.st.mem, BASE + 5 * 4096, 1, &b), JAVM_OK); /* touched */
    assert_int_equal(vm_entry_hold_lays(&e), JAVM_OK);
    /* the entry reads its own copy of the chunk list from now on, not the Data's */
    assert_true(e.lays_held);
    assert_ptr_not_equal(e.lays[0].chunks, javm_cache_get_hash(E->cache, &dh)->data.chunks);
    javm_key k = javm_key_of_hash(&inst);
    assert_int_equal(javm_cache_decref(E->cache, &k), JAVM_OK);
    k = javm_key_of_hash(&dh);
    assert_int_equal(javm_cache_decref(E->cache, &k), JAVM_OK); /* the put's hold */
    for (uint32_t pg = 0; pg < NPAGES; pg += 17) {
        assert_int_equal(javm_memory_peek(e.st.mem, BASE + pg * 4096 + 4095, 1, &b), JAVM_OK);
        assert_int_equal(b, page_byte(pg));
    }
    assert_false(e.st.mem->page[(BASE >> 12) + 5] & EXEC_P_L); /* the touched page: copied in */
    assert_int_equal(javm_memory_read(e.st.mem, BASE + 5 * 4096, 1, &b), JAVM_OK);
    assert_int_equal(b, page_byte(3));
    vm_entry_dispose(E->vm, &e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_lazy_page),
        cmocka_unit_test(test_lazy_unmap_is_a_change),
        cmocka_unit_test_setup_teardown(test_build_entry_copies_nothing, vmenv_setup, vmenv_teardown),
        cmocka_unit_test_setup_teardown(test_invoke_one_byte, vmenv_setup, vmenv_teardown),
        cmocka_unit_test_setup_teardown(test_materialize_owns_pages, vmenv_setup, vmenv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
