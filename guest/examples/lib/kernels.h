/* SPDX-License-Identifier: MIT
 * guest/examples/lib/kernels.h — small computations compiled both as guests and natively
 * (differential test, benchmark): sorting, a 64-bit arithmetic mix, a switch-heavy loop. */
#ifndef GUEST_KERNELS_H
#define GUEST_KERNELS_H
#include <stdint.h>
/* Fills a[0..n) from an xorshift stream seeded with seed. */
void g_fill(uint32_t *a, uint64_t n, uint64_t seed);
/* Sorts ascending (quicksort, median of three, insertion sort below 16, no recursion). */
void g_sort(uint32_t *a, uint64_t n);
/* A checksum of a[0..n) that depends on the order; ~0 if a is not sorted. */
uint64_t g_sorted_sum(const uint32_t *a, uint64_t n);
/* Multiplication, division, remainders, shifts, rotations and signed comparisons of 64 and 32 bits. */
uint64_t g_mix(uint64_t a, uint64_t b);
/* A state machine over a dense switch (a jump table) and a sparse one. */
uint64_t g_switchy(uint64_t a, uint64_t b);
#endif
