/* SPDX-License-Identifier: MIT
 * guest/examples/fib.c — Fibonacci numbers: endpoint 0 recursively (calls and returns at
 * depth n through the jump table), endpoint 1 iteratively (mod 2^64). */
#include "javm_guest.h"

static uint64_t fib_rec(uint64_t n) { return n < 2 ? n : fib_rec(n - 1) + fib_rec(n - 2); }

static uint64_t rec(uint64_t n, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a1, (void)a2, (void)a3;
    return fib_rec(n);
}
JAVM_ENDPOINT(0, rec);

static uint64_t iter(uint64_t n, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a1, (void)a2, (void)a3;
    uint64_t a = 0, b = 1;
    while (n--) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}
JAVM_ENDPOINT(1, iter);
