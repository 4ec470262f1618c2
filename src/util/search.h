/* SPDX-License-Identifier: MIT
 * util/search.h — the one binary search of the library: the first element of a sorted array
 * whose key is >= a given key (issue 13 item 24: cap.c, vm.c, ka_mem.c and ka_store.c each had
 * their own copy). The array holds n elements of `stride` bytes with the key, a u32 or a u64,
 * at byte offset `at` of each; UTIL_LOWER_BOUND takes the width from the field. */
#ifndef JAVM_UTIL_SEARCH_H
#define JAVM_UTIL_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The key of width 4 or 8 bytes at p. */
static inline uint64_t util_key_at(const unsigned char *p, size_t width)
{
    if (width == 8) {
        uint64_t k;
        memcpy(&k, p, sizeof k);
        return k;
    }
    uint32_t k;
    memcpy(&k, p, sizeof k);
    return k;
}

/* The first of n elements of `stride` bytes, sorted by the key of `width` (4 or 8) bytes at
 * byte offset `at` of each, whose key is >= key; n when none is. */
static inline size_t util_lower_bound(const void *base, size_t n, size_t stride, size_t at,
                                      size_t width, uint64_t key)
{
    const unsigned char *b = base;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (util_key_at(b + mid * stride + at, width) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static inline size_t util_lower_bound_u32(const void *base, size_t n, size_t stride, size_t at,
                                          uint32_t key)
{
    return util_lower_bound(base, n, stride, at, 4, key);
}

/* Lower bound over arr[0..n) by arr[i].field (a uint32_t or uint64_t member). */
#define UTIL_LOWER_BOUND(arr, n, field, key)                                                   \
    util_lower_bound((arr), (n), sizeof((arr)[0]), offsetof(__typeof__((arr)[0]), field),     \
                     sizeof((arr)[0].field), (uint64_t)(key))

#endif
