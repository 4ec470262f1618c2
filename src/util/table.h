/* SPDX-License-Identifier: MIT
 * util/table.h — the one open-addressing hash table of the library (issue 13 item 24: the
 * cache's two tiers, its forwarding map and gc's mark table each had their own copy).
 *
 * Linear probing, load at most 1/2, backward-shift deletion (no tombstones, so a table that
 * sees many inserts and deletes never degrades). A slot is `esize` bytes chosen by the user:
 * its first 8 bytes are a uint64_t tag, the key's hash, and the rest is the user's payload
 * (the key itself or a pointer to it, and any value). Tag 0 marks an empty slot, so a tag is
 * never 0 (util_table_tag maps 0 to 1); an empty slot is all zero bytes. The slot of a key
 * starts its probe at tag & mask, so tags must be uniform in their low bits: the first bytes
 * of a Blake2b hash are, a small integer key goes through util_table_mix.
 *
 * A lookup compares tags first and calls the user's equality only on a tag match; a table
 * whose tag determines the key (util_table_mix is a bijection on nonzero keys) may pass no
 * equality at all. Pointers to slots are valid until the next add, reserve or delete.
 * Allocation failure is JAVM_ERR_ALLOC and leaves the table as it was; delete, find and
 * every reserved add cannot fail. */
#ifndef JAVM_UTIL_TABLE_H
#define JAVM_UTIL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "javm/status.h"

typedef struct util_table {
    unsigned char *slots; /* capacity * esize bytes; NULL before the first insertion */
    size_t mask;          /* capacity - 1, capacity a power of two (0 while slots is NULL) */
    size_t count;         /* used slots */
    size_t esize;         /* bytes per slot, at least 8, a multiple of 8 */
} util_table;

/* Does the slot hold key? (The tags already matched.) */
typedef bool (*util_table_eq)(const void *slot, const void *key);

/* An empty table of slots of type T (its first member a uint64_t tag). */
#define UTIL_TABLE_INIT(T) ((util_table){ NULL, 0, 0, sizeof(T) })

static inline uint64_t util_table_tag(uint64_t h)
{
    return h ? h : 1;
}

/* The tag of a key that is already uniform: the first 8 bytes of a hash. */
static inline uint64_t util_table_tag_bytes(const void *b)
{
    uint64_t t;
    memcpy(&t, b, sizeof t);
    return util_table_tag(t);
}

/* The tag of an integer key: a bijection of the 64-bit integers that maps 0 to 0, then 0 to
 * 1, so two nonzero keys never share a tag (a table that never holds key 0 may look up by tag
 * alone); key 0 shares its tag with one other key. */
static inline uint64_t util_table_mix(uint64_t k)
{
    uint64_t x = k * 0x9E3779B97F4A7C15ull;
    return util_table_tag(x ^ (x >> 29));
}

static inline size_t util_table_cap(const util_table *t)
{
    return t->slots ? t->mask + 1 : 0;
}

/* Slot i, 0 <= i < util_table_cap(t); used or empty. */
static inline void *util_table_at(const util_table *t, size_t i)
{
    return t->slots + i * t->esize;
}

static inline uint64_t util_table_slot_tag(const void *slot)
{
    uint64_t g;
    memcpy(&g, slot, sizeof g);
    return g;
}

static inline bool util_table_used(const void *slot)
{
    return util_table_slot_tag(slot) != 0;
}

/* The slot holding key (tag and eq agree; eq NULL: the tag alone), or NULL. */
static inline void *util_table_find(const util_table *t, uint64_t tag, const void *key,
                                    util_table_eq eq)
{
    if (!t->slots)
        return NULL;
    for (size_t i = (size_t)tag & t->mask;; i = (i + 1) & t->mask) {
        void *s = util_table_at(t, i);
        uint64_t g = util_table_slot_tag(s);
        if (g == 0)
            return NULL;
        if (g == tag && (!eq || eq(s, key)))
            return s;
    }
}

/* Grows the array to hold count + more at load 1/2 (util_table_reserve's slow path). */
int util_table_grow(util_table *t, size_t more);

/* Room for `more` additions without allocating. */
static inline int util_table_reserve(util_table *t, size_t more)
{
    if (more <= SIZE_MAX / 2 - t->count && (t->count + more) * 2 <= util_table_cap(t))
        return JAVM_OK;
    return util_table_grow(t, more);
}

/* Claims an empty slot for a new key with this tag (the caller checked that the key is
 * absent) and returns it, zeroed but for the tag, for the caller to fill; NULL when the
 * table had to grow and could not (nothing changed). Never fails after util_table_reserve. */
static inline void *util_table_place(util_table *t, uint64_t tag);

static inline void *util_table_add(util_table *t, uint64_t tag)
{
    if (tag == 0 || util_table_reserve(t, 1) != JAVM_OK)
        return NULL;
    return util_table_place(t, tag);
}

/* Like util_table_add, but never grows: for a rollback that puts back what it removed, which
 * must not fail. The load may pass 1/2 for a while (the next reserve grows the array); it
 * needs one slot left empty after the add, else NULL (nothing changed). */
static inline void *util_table_link(util_table *t, uint64_t tag)
{
    if (tag == 0 || t->count + 2 > util_table_cap(t))
        return NULL;
    return util_table_place(t, tag);
}

/* Claims the first empty slot of tag's probe chain: the caller made sure one exists and
 * another stays empty. */
static inline void *util_table_place(util_table *t, uint64_t tag)
{
    size_t i = (size_t)tag & t->mask;
    while (util_table_used(util_table_at(t, i)))
        i = (i + 1) & t->mask;
    void *s = util_table_at(t, i);
    memcpy(s, &tag, sizeof tag);
    t->count++;
    return s;
}

/* Deletes a used slot (a pointer from find, add or at). Later slots of its probe chain move
 * back, so during a walk by index the slot just deleted must be looked at again; a slot that
 * wrapped round from the start of the array may come back into it, and is then seen twice. */
void util_table_delete(util_table *t, void *slot);

/* Every slot empty; the array is kept. */
void util_table_clear(util_table *t);

/* dst (empty or not) becomes a copy of src, slot for slot; on failure (JAVM_ERR_ALLOC) dst is
 * unchanged. */
int util_table_copy(util_table *dst, const util_table *src);

/* Frees the array; the table is empty and reusable. */
void util_table_free(util_table *t);

#endif
