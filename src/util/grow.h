/* SPDX-License-Identifier: MIT
 * util/grow.h — the one growth step of the library's arrays (the kernel assists, the cache's
 * undo log and vectors, gc's stack each had their own copy): the capacity doubles, from
 * `first`, until it holds `need` elements. On failure (JAVM_ERR_ALLOC, also for a size that
 * would overflow) the array and its capacity are unchanged. */
#ifndef JAVM_UTIL_GROW_H
#define JAVM_UTIL_GROW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "javm/status.h"

static inline int util_grow(void **p, size_t *cap, size_t need, size_t el, size_t first)
{
    if (need <= *cap)
        return JAVM_OK;
    size_t n = *cap ? *cap : first;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return JAVM_ERR_ALLOC;
        n *= 2;
    }
    if (el && n > SIZE_MAX / el)
        return JAVM_ERR_ALLOC;
    void *q = realloc(*p, n * el);
    if (!q)
        return JAVM_ERR_ALLOC;
    *p = q;
    *cap = n;
    return JAVM_OK;
}

/* The same for an array whose capacity is a uint32_t (cap kinds' slot and overlay lists): a
 * capacity past UINT32_MAX is recorded as UINT32_MAX (the array is at least that large). */
static inline int util_grow_u32(void **p, uint32_t *cap, uint32_t need, size_t el, uint32_t first)
{
    size_t c = *cap;
    int rc = util_grow(p, &c, need, el, first);
    if (rc == JAVM_OK)
        *cap = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
    return rc;
}

#endif
