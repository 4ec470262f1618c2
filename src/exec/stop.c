/* SPDX-License-Identifier: MIT
 * exec/stop.c — javm_stop: a request flag and a deadline that runs check between gas
 * slices (the slicing itself is in jit/run.c, beside the engine switch). */
#include <stdlib.h>
#include <time.h>

#include "exec/exec.h"

uint64_t exec_monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int javm_stop_new(javm_stop **out)
{
    if (!out)
        return JAVM_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? JAVM_OK : JAVM_ERR_ALLOC;
}

void javm_stop_free(javm_stop *s) { free(s); }

void javm_stop_request(javm_stop *s)
{
    if (s)
        atomic_store_explicit(&s->requested, true, memory_order_relaxed);
}

void javm_stop_set_timeout(javm_stop *s, uint64_t ns)
{
    if (!s)
        return;
    uint64_t now = exec_monotonic_ns();
    uint64_t at = ns == 0 ? 0 : ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
    atomic_store_explicit(&s->deadline, at, memory_order_relaxed);
}

void javm_stop_reset(javm_stop *s)
{
    if (!s)
        return;
    atomic_store_explicit(&s->requested, false, memory_order_relaxed);
    atomic_store_explicit(&s->deadline, 0, memory_order_relaxed);
}

bool javm_stop_fired(javm_stop *s)
{
    if (!s)
        return false;
    if (atomic_load_explicit(&s->requested, memory_order_relaxed))
        return true;
    uint64_t at = atomic_load_explicit(&s->deadline, memory_order_relaxed);
    return at != 0 && exec_monotonic_ns() >= at;
}
