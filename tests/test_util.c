/* SPDX-License-Identifier: MIT
 * tests/test_util.c — the small helpers of src/util/ (util/table.h has tests/test_table.c):
 * util/search.h, the one binary search (lower bound by a u32 or u64 field) behind CNode slots,
 * VM entry slots and pinned lists, and the kernel assists' file and quota records: every
 * position of every key in arrays of each length up to 40, duplicates, keys at the ends of the
 * u32 and u64 ranges, fields at an offset. util/grow.h, the one array growth step: doubling
 * from the first capacity, a need beyond double, sizes that would overflow, and allocation
 * failure (the allocator is wrapped at link time, tests/support/failalloc.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "util/grow.h"
#include "util/search.h"

typedef struct rec32 {
    uint8_t pad[3];
    uint32_t k;
    uint64_t other;
} rec32;

typedef struct rec64 {
    uint32_t other;
    uint64_t k;
} rec64;

/* The first index whose key is >= key, by a linear scan. */
static size_t slow32(const rec32 *a, size_t n, uint32_t key)
{
    size_t i = 0;
    while (i < n && a[i].k < key)
        i++;
    return i;
}

static size_t slow64(const rec64 *a, size_t n, uint64_t key)
{
    size_t i = 0;
    while (i < n && a[i].k < key)
        i++;
    return i;
}

static void test_every_position(void **state)
{
    (void)state;
    rec32 a[40];
    rec64 b[40];
    for (size_t n = 0; n <= 40; n++) {
        /* keys 2, 4, 4, 8, 10, 10, 14, ...: every third one repeated */
        for (size_t i = 0; i < n; i++) {
            a[i].k = (uint32_t)(2 * (i - i / 3) + 2);
            b[i].k = UINT64_C(1) << 40 | a[i].k;
        }
        for (uint32_t key = 0; key <= 2 * n + 4; key++) {
            assert_int_equal(UTIL_LOWER_BOUND(a, n, k, key), slow32(a, n, key));
            assert_int_equal(util_lower_bound_u32(a, n, sizeof a[0], offsetof(rec32, k), key),
                             slow32(a, n, key));
            uint64_t key64 = UINT64_C(1) << 40 | key;
            assert_int_equal(UTIL_LOWER_BOUND(b, n, k, key64), slow64(b, n, key64));
            /* the high half decides: a key below 2^40 comes first */
            assert_int_equal(UTIL_LOWER_BOUND(b, n, k, key), 0);
        }
    }
}

static void test_extremes(void **state)
{
    (void)state;
    rec32 a[3] = { { { 0 }, 0, 0 }, { { 0 }, 0x80000000u, 0 }, { { 0 }, UINT32_MAX, 0 } };
    assert_int_equal(UTIL_LOWER_BOUND(a, 3, k, 0), 0);
    assert_int_equal(UTIL_LOWER_BOUND(a, 3, k, 1), 1);
    assert_int_equal(UTIL_LOWER_BOUND(a, 3, k, 0x80000000u), 1);
    assert_int_equal(UTIL_LOWER_BOUND(a, 3, k, 0x80000001u), 2);
    assert_int_equal(UTIL_LOWER_BOUND(a, 3, k, UINT32_MAX), 2);
    rec64 b[3] = { { 0, 0 }, { 0, UINT64_C(1) << 63 }, { 0, UINT64_MAX } };
    assert_int_equal(UTIL_LOWER_BOUND(b, 3, k, UINT64_C(1) << 63), 1);
    assert_int_equal(UTIL_LOWER_BOUND(b, 3, k, (UINT64_C(1) << 63) + 1), 2);
    assert_int_equal(UTIL_LOWER_BOUND(b, 3, k, UINT64_MAX), 2);
    assert_int_equal(UTIL_LOWER_BOUND(b, 2, k, UINT64_MAX), 2);
    /* a plain u32 array (the pinned lists) */
    uint32_t pins[4] = { 1, 5, 9, 65535 };
    assert_int_equal(util_lower_bound_u32(pins, 4, sizeof pins[0], 0, 9), 2);
    assert_int_equal(util_lower_bound_u32(pins, 4, sizeof pins[0], 0, 10), 3);
    assert_int_equal(util_lower_bound_u32(pins, 4, sizeof pins[0], 0, 65536), 4);
}

static void test_grow(void **state)
{
    (void)state;
    uint64_t *a = NULL;
    size_t cap = 0;
    assert_int_equal(util_grow((void **)&a, &cap, 0, sizeof *a, 8), JAVM_OK);
    assert_null(a); /* nothing needed: nothing allocated */
    assert_int_equal(util_grow((void **)&a, &cap, 1, sizeof *a, 8), JAVM_OK);
    assert_int_equal(cap, 8);
    for (size_t i = 0; i < 8; i++)
        a[i] = i;
    long calls = failalloc_calls();
    assert_int_equal(util_grow((void **)&a, &cap, 8, sizeof *a, 8), JAVM_OK); /* fits */
    assert_int_equal(failalloc_calls(), calls);
    assert_int_equal(util_grow((void **)&a, &cap, 9, sizeof *a, 8), JAVM_OK);
    assert_int_equal(cap, 16);
    assert_int_equal(util_grow((void **)&a, &cap, 100, sizeof *a, 8), JAVM_OK);
    assert_int_equal(cap, 128);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(a[i], i); /* the contents move along */
    /* a failed growth changes nothing */
    uint64_t *before = a;
    failalloc_arm(0);
    assert_int_equal(util_grow((void **)&a, &cap, 129, sizeof *a, 8), JAVM_ERR_ALLOC);
    assert_int_equal(failalloc_injected(), 1);
    failalloc_disarm();
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 128);
    assert_int_equal(a[7], 7);
    /* sizes that would overflow are refused without asking the allocator */
    calls = failalloc_calls();
    assert_int_equal(util_grow((void **)&a, &cap, SIZE_MAX, sizeof *a, 8), JAVM_ERR_ALLOC);
    assert_int_equal(util_grow((void **)&a, &cap, SIZE_MAX / 8 + 1, sizeof *a, 8), JAVM_ERR_ALLOC);
    assert_int_equal(failalloc_calls(), calls);
    assert_int_equal(cap, 128);
    free(a);
    /* the uint32_t-capacity form (CNode slots, overlays) */
    uint32_t *b = NULL, bcap = 0;
    assert_int_equal(util_grow_u32((void **)&b, &bcap, 5, sizeof *b, 4), JAVM_OK);
    assert_int_equal(bcap, 8);
    b[7] = 7;
    failalloc_arm(0);
    assert_int_equal(util_grow_u32((void **)&b, &bcap, 9, sizeof *b, 4), JAVM_ERR_ALLOC);
    failalloc_disarm();
    assert_int_equal(bcap, 8);
    assert_int_equal(b[7], 7);
    assert_int_equal(util_grow_u32((void **)&b, &bcap, 9, sizeof *b, 4), JAVM_OK);
    assert_int_equal(bcap, 16);
    assert_int_equal(b[7], 7);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_position),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
