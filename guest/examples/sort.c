/* SPDX-License-Identifier: MIT
 * guest/examples/sort.c — sorts a0 (up to 2^20) pseudo-random 32-bit keys made from seed a1
 * and returns an order-dependent checksum of the result (~0 if it were not sorted). */
#include "javm_guest.h"
#include "lib/kernels.h"

#define MAX_KEYS (1u << 20)
static uint32_t keys[MAX_KEYS];

static uint64_t sort(uint64_t n, uint64_t seed, uint64_t a2, uint64_t a3)
{
    (void)a2, (void)a3;
    if (n > MAX_KEYS)
        n = MAX_KEYS;
    g_fill(keys, n, seed);
    g_sort(keys, n);
    return g_sorted_sum(keys, n);
}
JAVM_ENDPOINT(0, sort);
