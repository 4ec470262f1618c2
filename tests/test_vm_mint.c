/* SPDX-License-Identifier: MIT
 * tests/test_vm_mint.c — HOST_MINT_DATA_CAP over ranges longer than a page (caps.md §7.6):
 * trailing zeros are stripped across pages, pages never written count as zero without being
 * read, and a huge all-zero range with too little gas ends in OUT_OF_GAS with no effect
 * (after stripping it needs no quota, so G is the check that fails). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmfix.h"

static void test_mint_strips_across_pages(void **state)
{
    (void)state;
    vmfix f;
    vmfix_init(&f, 0, NULL, 0);
    assert_int_equal(javm_memory_set_perm(f.mem, 0, 4 * 4096, JAVM_PERM_RW), JAVM_OK);
    uint8_t b[5003];
    memset(b, 0, sizeof b);
    memcpy(b + 5000, "xyz", 3);
    b[7] = 1;
    assert_int_equal(javm_memory_poke(f.mem, 0, sizeof b, b), JAVM_OK);
    f.ka->vtbl->storage_quota_set(f.ka, 0, 100000);
    f.regs[7] = 0;          /* src */
    f.regs[8] = 4 * 4096;   /* len: pages 2 and 3 never written */
    f.regs[9] = 0;          /* quota id */
    f.regs[10] = 6;         /* destination slot */
    f.gas = 10000;
    assert_continue(vmfix_op(&f, JAVM_OP_HOST_MINT_DATA_CAP));
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 0), 100000 - 5003);
    javm_hash h = vmfix_get_slot(&f, 6), want = vm_h_data(b, sizeof b);
    assert_memory_equal(h.b, want.b, 32);
    /* charge: 10 + ceil(16384 / 32) */
    assert_int_equal(f.gas, 10000 - 10 - 512);
    vmfix_fini(&f);
}

static void test_mint_zero_range_out_of_gas(void **state)
{
    (void)state;
    vmfix f;
    vmfix_init(&f, 0, NULL, 0);
    /* 1 GiB readable and all zero: c = 0, quota 0 suffices, G(2^30) = 10 + 2^25 > gas */
    assert_int_equal(javm_memory_set_perm(f.mem, 0, UINT64_C(1) << 30, JAVM_PERM_RO), JAVM_OK);
    f.regs[7] = 0;
    f.regs[8] = UINT64_C(1) << 30;
    f.regs[9] = 0;
    f.regs[10] = 6;
    f.gas = 1000;
    vm_snap before, after;
    vmfix_snap(&f, &before);
    assert_exit(vmfix_op(&f, JAVM_OP_HOST_MINT_DATA_CAP), JAVM_EXIT_OUT_OF_GAS, 0);
    vmfix_snap(&f, &after);
    vm_snap_assert_equal(&before, &after);
    assert_int_equal(javm_vm_last_trap(f.vm), JAVM_TRAP_NONE);
    /* with the gas it becomes an empty Data (size 0) in slot 6, quota unchanged */
    f.gas = 10 + (INT64_C(1) << 25);
    assert_continue(vmfix_op(&f, JAVM_OP_HOST_MINT_DATA_CAP));
    assert_int_equal(f.gas, 0);
    javm_hash h = vmfix_get_slot(&f, 6), want = vm_h_data_inline(NULL, 0);
    assert_memory_equal(h.b, want.b, 32);
    vm_snap_free(&before);
    vm_snap_free(&after);
    vmfix_fini(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mint_strips_across_pages),
        cmocka_unit_test(test_mint_zero_range_out_of_gas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
