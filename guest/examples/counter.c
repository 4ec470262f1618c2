/* SPDX-License-Identifier: MIT
 * guest/examples/counter.c — a counter whose value lives in guest memory (.data) and so
 * persists from one invocation to the next: endpoint 0 adds a0 and returns the new value,
 * endpoint 1 returns how many times endpoint 0 ran. */
#include "javm_guest.h"

static uint64_t count = 1000;
static uint64_t calls;

static uint64_t add(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a1, (void)a2, (void)a3;
    calls++;
    count += a0;
    return count;
}
JAVM_ENDPOINT(0, add);

static uint64_t times(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a0, (void)a1, (void)a2, (void)a3;
    return calls;
}
JAVM_ENDPOINT(1, times);
