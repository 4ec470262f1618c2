/* SPDX-License-Identifier: MIT
 * guest/examples/diff.c — the guest half of the differential test (tests/test_guest.c): each
 * endpoint runs one kernel that the test also runs natively. 0: g_mix, 1: g_switchy,
 * 2: BLAKE2b-256 of the slot-0 Data (first 8 bytes), 3: sort checksum of (n, seed). */
#include "javm_guest.h"
#include "lib/blake2b.h"
#include "lib/kernels.h"

static uint8_t data[1 << 16];
static uint32_t keys[1 << 14];

static uint64_t mix(uint64_t a, uint64_t b, uint64_t a2, uint64_t a3) { (void)a2, (void)a3; return g_mix(a, b); }
JAVM_ENDPOINT(0, mix);
static uint64_t sw(uint64_t a, uint64_t b, uint64_t a2, uint64_t a3) { (void)a2, (void)a3; return g_switchy(a, b); }
JAVM_ENDPOINT(1, sw);

static uint64_t hash(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a0, (void)a1, (void)a2, (void)a3;
    uint8_t d[32];
    uint64_t n = javm_read_data_cap(0, data, sizeof data);
    g_blake2b(d, 32, data, n);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | d[i];
    return v;
}
JAVM_ENDPOINT(2, hash);

static uint64_t sort(uint64_t n, uint64_t seed, uint64_t a2, uint64_t a3)
{
    (void)a2, (void)a3;
    if (n > sizeof keys / sizeof keys[0])
        n = sizeof keys / sizeof keys[0];
    g_fill(keys, n, seed);
    g_sort(keys, n);
    return g_sorted_sum(keys, n);
}
JAVM_ENDPOINT(3, sort);
