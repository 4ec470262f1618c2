/* SPDX-License-Identifier: MIT
 * guest/examples/blake2b.c — hashes the Data cap passed in slot 0 (up to 4 MiB) with
 * BLAKE2b-256, leaves the digest as a Data cap in slot 0 and returns its first 8 bytes
 * (little-endian). */
#include "javm_guest.h"
#include "lib/blake2b.h"

#define MAX_INPUT (4u << 20)
static uint8_t input[MAX_INPUT];

static uint64_t hash(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a0, (void)a1, (void)a2, (void)a3;
    uint8_t digest[32];
    uint64_t n = javm_read_data_cap(0, input, MAX_INPUT);
    g_blake2b(digest, 32, input, n);
    javm_drop(0);
    javm_mint_data_cap(digest, 32, 0, 0);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | digest[i];
    return v;
}
JAVM_ENDPOINT(0, hash);
