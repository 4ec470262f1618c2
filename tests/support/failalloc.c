/* SPDX-License-Identifier: MIT
 * tests/support/failalloc.c — the wrapped allocator of failalloc.h. */
#include <stdbool.h>
#include <stddef.h>

#include "failalloc.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static long fail_at = -1; /* allocations left before the failing one; -1: never */
static long injected, live, calls;

void failalloc_arm(long n)
{
    fail_at = n;
    injected = 0;
}

void failalloc_disarm(void)
{
    fail_at = -1;
}

long failalloc_injected(void)
{
    return injected;
}

long failalloc_live(void)
{
    return live;
}

long failalloc_calls(void)
{
    return calls;
}

static bool fail_now(void)
{
    calls++;
    if (fail_at < 0)
        return false;
    if (fail_at-- == 0) {
        injected++;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t n)
{
    void *p = fail_now() ? NULL : __real_malloc(n);
    live += p != NULL;
    return p;
}

void *__wrap_calloc(size_t n, size_t m)
{
    void *p = fail_now() ? NULL : __real_calloc(n, m);
    live += p != NULL;
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    if (fail_now())
        return NULL;
    void *q = __real_realloc(p, n);
    if (!p)
        live += q != NULL;
    return q;
}

void __wrap_free(void *p)
{
    live -= p != NULL;
    __real_free(p);
}
