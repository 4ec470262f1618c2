/* SPDX-License-Identifier: MIT
 * tests/test_table.c — util/table.h, the open-addressing table behind the cache's tiers, its
 * forwarding map and gc's marks: insert, lookup, backward-shift deletion (chains that collide
 * and wrap round the end of the array), growth, many keys against a reference model with the
 * probe-chain invariant checked after every change, walks that delete, and allocation failure
 * (the allocator is wrapped at link time, tests/support/failalloc.h, so this runs under the
 * sanitizers too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "javm/status.h"
#include "util/table.h"

/* A u64 -> u64 map, the key kept in the slot. */
typedef struct kv_slot {
    uint64_t tag;
    uint64_t key, val;
} kv_slot;

static bool kv_eq(const void *slot, const void *key)
{
    return ((const kv_slot *)slot)->key == *(const uint64_t *)key;
}

/* The tag function under test: normally the mixer; `collide` forces every key of a group of
 * 64 onto one tag, so chains are long and eq must tell keys apart. */
static bool collide;

static uint64_t tag_of(uint64_t k)
{
    return collide ? util_table_mix(k / 64 + 1) : util_table_mix(k);
}

static kv_slot *lookup(const util_table *t, uint64_t k)
{
    return util_table_find(t, tag_of(k), &k, kv_eq);
}

static kv_slot *put(util_table *t, uint64_t k, uint64_t v)
{
    kv_slot *s = lookup(t, k);
    if (!s) {
        s = util_table_add(t, tag_of(k));
        if (!s)
            return NULL;
        s->key = k;
    }
    s->val = v;
    return s;
}

static bool del(util_table *t, uint64_t k)
{
    kv_slot *s = lookup(t, k);
    if (s)
        util_table_delete(t, s);
    return s != NULL;
}

/* The invariants: count matches the used slots, load <= 1/2, empty slots are all zero, and
 * every used slot is reached from its ideal position without crossing an empty slot (what a
 * lookup relies on, and what a deletion without backward shift breaks). */
static void check(const util_table *t)
{
    size_t cap = util_table_cap(t), used = 0;
    assert_true(cap == 0 || (cap & (cap - 1)) == 0);
    assert_true(t->count * 2 <= cap || (cap == 0 && t->count == 0));
    static const unsigned char zero[sizeof(kv_slot)];
    for (size_t i = 0; i < cap; i++) {
        const kv_slot *s = util_table_at(t, i);
        if (!util_table_used(s)) {
            assert_memory_equal(s, zero, sizeof *s);
            continue;
        }
        used++;
        for (size_t j = (size_t)s->tag & t->mask; j != i; j = (j + 1) & t->mask)
            assert_true(util_table_used(util_table_at(t, j)));
        assert_ptr_equal(lookup(t, s->key), s);
    }
    assert_int_equal(used, t->count);
}

static void test_empty(void **state)
{
    (void)state;
    util_table t = UTIL_TABLE_INIT(kv_slot);
    uint64_t k = 5;
    assert_null(util_table_find(&t, util_table_mix(k), &k, kv_eq));
    assert_int_equal(util_table_cap(&t), 0);
    assert_false(del(&t, 5));
    util_table_clear(&t);
    util_table_free(&t);
    check(&t);
    /* tag 0 marks an empty slot: never a key's tag */
    assert_int_equal(util_table_tag(0), 1);
    assert_int_equal(util_table_mix(0), 1);
    assert_null(util_table_add(&t, 0));
    assert_int_equal(t.count, 0);
    unsigned char zeros[8] = { 0 };
    assert_int_equal(util_table_tag_bytes(zeros), 1);
}

static void test_insert_lookup_delete(void **state)
{
    (void)state;
    util_table t = UTIL_TABLE_INIT(kv_slot);
    assert_non_null(put(&t, 1, 100));
    assert_non_null(put(&t, 2, 200));
    assert_non_null(put(&t, 0, 7)); /* key 0 is an ordinary key */
    assert_int_equal(t.count, 3);
    assert_int_equal(util_table_cap(&t), 16);
    assert_int_equal(lookup(&t, 1)->val, 100);
    assert_int_equal(lookup(&t, 2)->val, 200);
    assert_int_equal(lookup(&t, 0)->val, 7);
    assert_null(lookup(&t, 3));
    put(&t, 1, 101); /* replace */
    assert_int_equal(t.count, 3);
    assert_int_equal(lookup(&t, 1)->val, 101);
    assert_true(del(&t, 1));
    assert_false(del(&t, 1));
    assert_null(lookup(&t, 1));
    assert_int_equal(lookup(&t, 2)->val, 200);
    assert_int_equal(t.count, 2);
    check(&t);
    util_table_clear(&t);
    assert_int_equal(t.count, 0);
    assert_null(lookup(&t, 2));
    check(&t);
    util_table_free(&t);
}

/* 64 keys sharing one tag, then deletions from the head, middle and tail of the chain. */
static void test_collisions(void **state)
{
    (void)state;
    collide = true;
    util_table t = UTIL_TABLE_INIT(kv_slot);
    for (uint64_t k = 0; k < 64; k++)
        assert_non_null(put(&t, k, k * 3));
    check(&t);
    uint64_t order[] = { 0, 63, 31, 1, 62, 32 };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        assert_true(del(&t, order[i]));
        check(&t);
    }
    for (uint64_t k = 0; k < 64; k++) {
        bool gone = k == 0 || k == 63 || k == 31 || k == 1 || k == 62 || k == 32;
        kv_slot *s = lookup(&t, k);
        if (gone)
            assert_null(s);
        else
            assert_int_equal(s->val, k * 3);
    }
    util_table_free(&t);
    collide = false;
}

/* Chains that start near the end of the array wrap round to slot 0; deleting in them must
 * keep the wrapped part reachable, and must not pull in a slot whose chain starts after it. */
typedef struct raw_slot {
    uint64_t tag;
    uint64_t id;
} raw_slot;

static bool raw_eq(const void *slot, const void *key)
{
    return ((const raw_slot *)slot)->id == *(const uint64_t *)key;
}

/* Every layout of 6 keys whose ideal slots are among the last three and first two of a
 * 16-slot array (5^6 of them), each key deleted in turn. */
static void test_wraparound(void **state)
{
    (void)state;
    enum { N = 6 };
    const uint64_t ideal[5] = { 13, 14, 15, 16, 17 }; /* 16 and 17 are slots 0 and 1 */
    for (unsigned combo = 0; combo < 5 * 5 * 5 * 5 * 5 * 5; combo++) {
        uint64_t tags[N];
        for (unsigned id = 0, c = combo; id < N; id++, c /= 5)
            tags[id] = ideal[c % 5];
        for (uint64_t del_id = 0; del_id < N; del_id++) {
            util_table t = UTIL_TABLE_INIT(raw_slot);
            assert_int_equal(util_table_reserve(&t, 8), JAVM_OK);
            assert_int_equal(util_table_cap(&t), 16);
            for (uint64_t id = 0; id < N; id++) {
                raw_slot *s = util_table_add(&t, tags[id]);
                assert_non_null(s);
                s->id = id;
            }
            assert_int_equal(util_table_cap(&t), 16); /* reserved: no growth */
            raw_slot *s = util_table_find(&t, tags[del_id], &del_id, raw_eq);
            assert_true(s && s->id == del_id);
            util_table_delete(&t, s);
            assert_int_equal(t.count, N - 1);
            for (uint64_t id = 0; id < N; id++) {
                raw_slot *f = util_table_find(&t, tags[id], &id, raw_eq);
                if (id == del_id)
                    assert_null(f);
                else
                    assert_true(f && f->id == id);
            }
            util_table_free(&t);
        }
    }
}

/* Growth keeps every key and the load at most 1/2; capacity doubles from 16. */
static void test_growth(void **state)
{
    (void)state;
    util_table t = UTIL_TABLE_INIT(kv_slot);
    size_t last_cap = 0;
    for (uint64_t k = 1; k <= 5000; k++) {
        assert_non_null(put(&t, k * 7919, k));
        size_t cap = util_table_cap(&t);
        if (cap != last_cap) {
            assert_true(last_cap == 0 ? cap == 16 : cap == last_cap * 2);
            assert_true(t.count * 2 <= cap && (t.count - 1) * 2 <= last_cap);
            check(&t);
            last_cap = cap;
        }
    }
    assert_int_equal(t.count, 5000);
    assert_int_equal(util_table_cap(&t), 16384);
    for (uint64_t k = 1; k <= 5000; k++)
        assert_int_equal(lookup(&t, k * 7919)->val, k);
    assert_null(lookup(&t, 7918));
    /* reserve ahead: no allocation for what was reserved */
    assert_int_equal(util_table_reserve(&t, 5000), JAVM_OK);
    size_t cap = util_table_cap(&t);
    long before = failalloc_calls();
    for (uint64_t k = 5001; k <= 10000; k++)
        assert_non_null(put(&t, k * 7919, k));
    assert_int_equal(failalloc_calls(), before);
    assert_int_equal(util_table_cap(&t), cap);
    check(&t);
    util_table_free(&t);
}

/* Many random inserts, replacements and deletions over a small key space, against a plain
 * array; both tag functions. */
static uint64_t rng = 0x243F6A8885A308D3ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void model_run(bool with_collisions)
{
    enum { KEYS = 3000, OPS = 200000 };
    collide = with_collisions;
    static uint64_t model[KEYS]; /* 0: absent; else value + 1 */
    memset(model, 0, sizeof model);
    size_t n = 0;
    util_table t = UTIL_TABLE_INIT(kv_slot);
    for (long op = 0; op < OPS; op++) {
        uint64_t r = next_rand();
        uint64_t k = r % KEYS;
        /* phases: mostly inserts, then mostly deletes, so the table fills and empties */
        bool insert = (op / 20000) % 2 == 0 ? (r >> 32) % 4 != 0 : (r >> 32) % 4 == 0;
        if (insert) {
            uint64_t v = r >> 40;
            assert_non_null(put(&t, k, v));
            n += model[k] == 0;
            model[k] = v + 1;
        } else {
            assert_int_equal(del(&t, k), model[k] != 0);
            n -= model[k] != 0;
            model[k] = 0;
        }
        assert_int_equal(t.count, n);
        if (op % 997 == 0) {
            check(&t);
            for (uint64_t q = 0; q < KEYS; q++) {
                kv_slot *s = lookup(&t, q);
                if (model[q])
                    assert_true(s && s->val + 1 == model[q]);
                else
                    assert_null(s);
            }
        }
    }
    check(&t);
    util_table_free(&t);
    collide = false;
}

static void test_many_keys(void **state)
{
    (void)state;
    model_run(false);
}

static void test_many_keys_colliding(void **state)
{
    (void)state;
    model_run(true);
}

/* A walk by index that deletes: looking at the same index again after a deletion visits
 * every slot, so every even key goes and every odd key stays. */
static void test_walk_delete(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        collide = round == 1;
        util_table t = UTIL_TABLE_INIT(kv_slot);
        for (uint64_t k = 0; k < 1000; k++)
            assert_non_null(put(&t, k, k));
        for (size_t i = 0; i < util_table_cap(&t);) {
            kv_slot *s = util_table_at(&t, i);
            if (util_table_used(s) && s->key % 2 == 0) {
                util_table_delete(&t, s);
                continue;
            }
            i++;
        }
        assert_int_equal(t.count, 500);
        for (uint64_t k = 0; k < 1000; k++)
            assert_true(k % 2 ? lookup(&t, k) != NULL : lookup(&t, k) == NULL);
        check(&t);
        util_table_free(&t);
    }
    collide = false;
}

/* A copy is independent of its source; a failed copy leaves the destination as it was. */
static void test_copy(void **state)
{
    (void)state;
    util_table a = UTIL_TABLE_INIT(kv_slot), b = UTIL_TABLE_INIT(kv_slot);
    for (uint64_t k = 0; k < 100; k++)
        assert_non_null(put(&a, k, k + 1));
    assert_int_equal(util_table_copy(&b, &a), JAVM_OK);
    assert_int_equal(b.count, 100);
    assert_true(b.slots != a.slots);
    for (uint64_t k = 0; k < 50; k++)
        assert_true(del(&a, k));
    put(&a, 70, 0);
    for (uint64_t k = 0; k < 100; k++)
        assert_int_equal(lookup(&b, k)->val, k + 1);
    check(&a);
    check(&b);
    /* a failed copy over a table with contents */
    util_table c = UTIL_TABLE_INIT(kv_slot);
    put(&c, 5, 5);
    unsigned char *slots = c.slots;
    failalloc_arm(0);
    assert_int_equal(util_table_copy(&c, &a), JAVM_ERR_ALLOC);
    failalloc_disarm();
    assert_ptr_equal(c.slots, slots);
    assert_int_equal(c.count, 1);
    assert_int_equal(lookup(&c, 5)->val, 5);
    /* copying an empty table empties the destination */
    util_table e = UTIL_TABLE_INIT(kv_slot);
    assert_int_equal(util_table_copy(&c, &e), JAVM_OK);
    assert_int_equal(c.count, 0);
    assert_null(lookup(&c, 5));
    check(&c);
    util_table_free(&a);
    util_table_free(&b);
    util_table_free(&c);
}

/* Every allocation failure is JAVM_ERR_ALLOC (or NULL from add) and leaves the table as it
 * was; sizes that would overflow fail without allocating. */
static void test_alloc_failure(void **state)
{
    (void)state;
    util_table t = UTIL_TABLE_INIT(kv_slot);
    failalloc_arm(0);
    assert_null(put(&t, 1, 1)); /* the first array */
    assert_int_equal(failalloc_injected(), 1);
    failalloc_disarm();
    assert_int_equal(t.count, 0);
    assert_null(t.slots);
    failalloc_arm(0);
    assert_int_equal(util_table_reserve(&t, 1), JAVM_ERR_ALLOC);
    failalloc_disarm();
    /* fill to the load limit, then fail the growth */
    for (uint64_t k = 0; k < 8; k++)
        assert_non_null(put(&t, k, k));
    assert_int_equal(util_table_cap(&t), 16);
    unsigned char before[16 * sizeof(kv_slot)];
    memcpy(before, t.slots, sizeof before);
    failalloc_arm(0);
    assert_null(put(&t, 8, 8));
    assert_int_equal(failalloc_injected(), 1);
    failalloc_disarm();
    assert_int_equal(t.count, 8);
    assert_int_equal(util_table_cap(&t), 16);
    assert_memory_equal(t.slots, before, sizeof before);
    check(&t);
    /* the same add succeeds once memory is back */
    assert_non_null(put(&t, 8, 8));
    assert_int_equal(util_table_cap(&t), 32);
    check(&t);
    /* overflowing requests: refused before any allocation */
    long a = failalloc_calls(), live = failalloc_live();
    assert_int_equal(util_table_reserve(&t, SIZE_MAX), JAVM_ERR_ALLOC);
    assert_int_equal(util_table_reserve(&t, SIZE_MAX / 2), JAVM_ERR_ALLOC);
    assert_int_equal(failalloc_calls(), a);
    util_table big = { NULL, 0, 0, SIZE_MAX / 4 };
    assert_int_equal(util_table_reserve(&big, 1), JAVM_ERR_ALLOC);
    assert_int_equal(failalloc_calls(), a);
    assert_int_equal(t.count, 9);
    check(&t);
    assert_int_equal(failalloc_live(), live);
    util_table_free(&t);
    assert_int_equal(failalloc_live(), live - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_insert_lookup_delete),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_many_keys_colliding),
        cmocka_unit_test(test_walk_delete),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
