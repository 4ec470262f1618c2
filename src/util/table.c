/* SPDX-License-Identifier: MIT
 * util/table.c — growth and deletion of the open-addressing table of util/table.h. */
#include <stdlib.h>

#include "javm/status.h"
#include "util/table.h"

/* Puts a used slot's bytes into the first empty slot of its chain (room guaranteed). */
static void *place(util_table *t, uint64_t tag)
{
    size_t i = (size_t)tag & t->mask;
    while (util_table_used(util_table_at(t, i)))
        i = (i + 1) & t->mask;
    return util_table_at(t, i);
}

int util_table_grow(util_table *t, size_t more)
{
    size_t cap = util_table_cap(t);
    if (more > SIZE_MAX / 2 - t->count)
        return JAVM_ERR_ALLOC;
    size_t need = (t->count + more) * 2;
    if (need <= cap)
        return JAVM_OK;
    size_t n = cap ? cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return JAVM_ERR_ALLOC;
        n *= 2;
    }
    if (n > SIZE_MAX / t->esize)
        return JAVM_ERR_ALLOC;
    unsigned char *s = calloc(n, t->esize);
    if (!s)
        return JAVM_ERR_ALLOC;
    unsigned char *old = t->slots;
    t->slots = s;
    t->mask = n - 1;
    for (size_t i = 0; i < cap; i++) {
        const unsigned char *o = old + i * t->esize;
        if (util_table_used(o))
            memcpy(place(t, util_table_slot_tag(o)), o, t->esize);
    }
    free(old);
    return JAVM_OK;
}

void util_table_delete(util_table *t, void *slot)
{
    size_t i = (size_t)((unsigned char *)slot - t->slots) / t->esize;
    /* Backward shift: each later slot of the chain whose ideal position is not in (i, j]
     * cyclically would be cut off from it by the hole at i, so it moves into the hole. */
    for (size_t j = i;;) {
        j = (j + 1) & t->mask;
        unsigned char *sj = util_table_at(t, j);
        uint64_t g = util_table_slot_tag(sj);
        if (g == 0)
            break;
        size_t k = (size_t)g & t->mask;
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            memcpy(util_table_at(t, i), sj, t->esize);
            i = j;
        }
    }
    memset(util_table_at(t, i), 0, t->esize);
    t->count--;
}

void util_table_clear(util_table *t)
{
    if (t->slots)
        memset(t->slots, 0, util_table_cap(t) * t->esize);
    t->count = 0;
}

int util_table_copy(util_table *dst, const util_table *src)
{
    size_t cap = util_table_cap(src);
    unsigned char *s = NULL;
    if (cap) {
        s = malloc(cap * src->esize);
        if (!s)
            return JAVM_ERR_ALLOC;
        memcpy(s, src->slots, cap * src->esize);
    }
    free(dst->slots);
    *dst = *src;
    dst->slots = s;
    return JAVM_OK;
}

void util_table_free(util_table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->mask = 0;
    t->count = 0;
}
