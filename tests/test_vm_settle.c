/* SPDX-License-Identifier: MIT
 * tests/test_vm_settle.c — issue 13 item 2, the settle half: the post-instance snapshot costs
 * what the invocation touched. Clean pages of a Paged overlay are shared with the base Data
 * (same buffer, same hash: caps.md §3.3, §6.5 step 3), only written pages are read and hashed
 * (vm->settle_pages_read), and the result is exact: over chains of invocations writing random
 * bytes (zeros included, the partial last page, bytes past the region), every post-instance's
 * overlay is the Data a from-scratch javm_data_new of the expected bytes gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cap_fixtures.h"
#include "cap/cap.h"
#include "tprog.h"
#include "vmfix.h"
#include "vm/vm.h"

typedef vmenv env;

#define BASE 0x10000u
#define NPAGES 150 /* three chunks of the Data: 64, 64 and a short one of 22 */
#define REGION ((uint64_t)NPAGES * 4096 - 100) /* a partial last page */

/* store_ind_u8 [φ8], φ7; store_ind_u8 [φ9], φ10; halt. */
static const uint8_t code[6] = { 120, 0x87, 120, 0x9A, 10, 0 };
static const uint8_t mask[1] = { 0x15 };

/* Spawns the writer over one writable mapping [BASE, BASE + REGION) whose overlay holds
 * `bytes` (REGION bytes: the initial model; may be all zero). */
static javm_hash spawn_writer(javm_cache *c, const uint8_t *bytes)
{
    javm_cap *d;
    assert_int_equal(javm_data_new(bytes, REGION, &d), JAVM_OK);
    javm_hash dh, inst = vm_spawn_over(c, code, sizeof code, mask, sizeof mask, BASE, REGION, d, &dh);
    javm_key k = javm_key_of_hash(&dh);
    assert_int_equal(javm_cache_decref(c, &k), JAVM_OK); /* the image and instance hold it */
    return inst;
}

/* The one overlay Data of an Instance (NULL when it has none). */
static const javm_cap *overlay_data(javm_cache *c, const javm_hash *inst)
{
    const javm_cap *ic = javm_cache_get_hash(c, inst);
    assert_non_null(ic);
    if (ic->instance.n_overlays == 0)
        return NULL;
    assert_int_equal(ic->instance.n_overlays, 1);
    assert_int_equal(ic->instance.overlays[0].start, BASE);
    const javm_cap *d = javm_cache_get_hash(c, &ic->instance.overlays[0].data);
    assert_non_null(d);
    return d;
}

/* Checks inst's overlay against the model: the hash a from-scratch Data of the model gives,
 * and the same logical bytes. */
static void check_against_model(javm_cache *c, const javm_hash *inst, const uint8_t *model)
{
    javm_cap *want;
    assert_int_equal(javm_data_new(model, REGION, &want), JAVM_OK);
    const javm_cap *got = overlay_data(c, inst);
    if (want->data.size == 0) {
        assert_null(got);
    } else {
        assert_non_null(got);
        javm_hash wh, gh;
        assert_int_equal(javm_cap_hash(want, &wh), JAVM_OK);
        assert_int_equal(javm_cap_hash(got, &gh), JAVM_OK);
        assert_hash_equal(gh, wh);
        assert_int_equal(javm_cap_check(got), JAVM_OK);
        uint8_t *buf = malloc(REGION);
        assert_int_equal(javm_data_read(got, 0, buf, REGION), JAVM_OK);
        assert_memory_equal(buf, model, REGION);
        free(buf);
    }
    javm_cap_free(want);
}

static javm_hash invoke_writes(env *E, const javm_hash *inst, uint64_t a1, uint8_t v1, uint64_t a2,
                               uint8_t v2)
{
    javm_call_result r;
    uint64_t args[4] = { v1, a1, a2, v2 };
    assert_int_equal(javm_invoke(E->vm, E->cache, E->ka, inst, 0, args, 1000, NULL, NULL, &r), JAVM_OK);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    return r.post_instance;
}

/* One byte written: the other pages of the post-instance's Data are the base Data's own
 * buffers with their hashes, and settle read exactly one page. Copying (or re-reading) every
 * clean page, as before issue 13 item 2, fails both checks. */
static void test_clean_pages_shared(void **state)
{
    env *E = *state;
    uint8_t *model = malloc(REGION);
    for (uint64_t i = 0; i < REGION; i++)
        model[i] = (uint8_t)(i / 4096 % 251 + 1);
    javm_hash inst = spawn_writer(E->cache, model);
    const javm_cap *base = overlay_data(E->cache, &inst);
    uint64_t read0 = E->vm->settle_pages_read, shared0 = E->vm->settle_pages_shared;
    /* both writes land in page 5 */
    javm_hash post = invoke_writes(E, &inst, BASE + 5 * 4096 + 7, 0xAB, BASE + 5 * 4096 + 9, 0xCD);
    model[5 * 4096 + 7] = 0xAB;
    model[5 * 4096 + 9] = 0xCD;
    check_against_model(E->cache, &post, model);
    /* page 5 and the partial last page are read (as §6.5 says); the last page is found equal
     * to its base leaf, so it is shared like the untouched ones */
    assert_int_equal(E->vm->settle_pages_read - read0, 2);
    assert_int_equal(E->vm->settle_pages_shared - shared0, NPAGES - 1);
    base = overlay_data(E->cache, &inst);
    const javm_cap *got = overlay_data(E->cache, &post);
    assert_int_equal(got->data.n_pages, base->data.n_pages);
    for (uint64_t i = 0; i < NPAGES; i++) {
        if (i == 5) {
            assert_ptr_not_equal((*javm_data_page(&got->data, i)).bytes, (*javm_data_page(&base->data, i)).bytes);
            continue;
        }
        assert_ptr_equal((*javm_data_page(&got->data, i)).bytes, (*javm_data_page(&base->data, i)).bytes);
        assert_hash_equal((*javm_data_page(&got->data, i)).hash, (*javm_data_page(&base->data, i)).hash);
    }
    /* The post Data, once only we hold it, moves into the working tier with its shared
     * buffers (javm_cache_get_mut); writing through javm_cache_working leaves the base Data
     * untouched (the buffer is made private first). */
    javm_hash dh = javm_cache_get_hash(E->cache, &post)->instance.overlays[0].data;
    javm_key dk = javm_key_of_hash(&dh), pk = javm_key_of_hash(&post);
    assert_int_equal(javm_cache_incref(E->cache, &dk), JAVM_OK);
    assert_int_equal(javm_cache_decref(E->cache, &pk), JAVM_OK);
    javm_ref ref;
    assert_int_equal(javm_cache_get_mut(E->cache, &dk, &ref), JAVM_OK);
    javm_cap *w;
    assert_int_equal(javm_cache_working(E->cache, ref, &w), JAVM_OK);
    (*javm_data_page(&w->data, 1)).bytes[0] = 0xEE;
    base = overlay_data(E->cache, &inst);
    assert_int_equal((*javm_data_page(&base->data, 1)).bytes[0], model[4096]);
    javm_key wk = { .tag = JAVM_KEY_REF, .ref = ref };
    assert_int_equal(javm_cache_decref(E->cache, &wk), JAVM_OK);
    free(model);
}

static uint64_t rnd(void);

/* cap_bmt_update against a full rebuild, for every tree shape up to 300 leaves (odd levels,
 * a single leaf) and random sets of changed leaves, with and without the copy. */
static void test_bmt_update_matches_rebuild(void **state)
{
    (void)state;
    for (uint64_t n = 1; n <= 300; n++) {
        uint64_t total = cap_bmt_total(n);
        javm_hash *lv = malloc(total * sizeof *lv), *fresh = malloc(total * sizeof *fresh);
        javm_hash *copy = malloc(total * sizeof *copy), *val = malloc(n * sizeof *val);
        uint64_t *idx = malloc(n * sizeof *idx);
        for (uint64_t i = 0; i < n; i++)
            javm_blake2b(&i, sizeof i, &lv[i]);
        cap_bmt_build(lv, n);
        for (int round = 0; round < 4; round++) {
            memcpy(fresh, lv, n * sizeof *fresh);
            size_t k = 0;
            for (uint64_t i = 0; i < n; i++) {
                if (rnd() % (round + 2) != 0 && !(round == 3 && i + 1 == n))
                    continue;
                idx[k] = i;
                uint64_t x = rnd();
                javm_blake2b(&x, sizeof x, &val[k]);
                fresh[i] = val[k++];
            }
            cap_bmt_build(fresh, n);
            memcpy(copy, lv, total * sizeof *copy);
            javm_hash root;
            uint64_t hashed = cap_bmt_update(lv, n, idx, val, k, copy, &root);
            assert_hash_equal(root, fresh[total - 1]);
            assert_memory_equal(copy, fresh, total * sizeof *copy);
            assert_true(hashed <= total - n);
        }
        free(lv);
        free(fresh);
        free(copy);
        free(val);
        free(idx);
    }
}

/* The Merkle caches: each invocation of a chain that writes one page derives the post Data from
 * its base and hashes one path: 6 nodes inside the page's chunk (64 leaves; 5 in the short
 * last chunk of 22, plus its pairing with itself up to level 6) and 2 above the 3 chunks, so
 * 8 in all, never the whole tree, and never falls back to a page-by-page build. */
static void test_merkle_paths_only(void **state)
{
    env *E = *state;
    uint8_t *model = malloc(REGION);
    for (uint64_t i = 0; i < REGION; i++)
        model[i] = (uint8_t)(i % 253 + 1);
    javm_hash inst = spawn_writer(E->cache, model);
    javm_key ik = javm_key_of_hash(&inst);
    assert_int_equal(javm_cache_incref(E->cache, &ik), JAVM_OK);
    for (int step = 0; step < 20; step++) {
        uint64_t derived = E->vm->settle_derived, nodes = E->vm->tree_nodes;
        uint64_t off = (uint64_t)(step * 7 % (NPAGES - 1)) * 4096 + 11;
        /* both writes on one page, new values each time */
        javm_hash post = invoke_writes(E, &inst, BASE + off, (uint8_t)(step + 1), BASE + off + 1,
                                       (uint8_t)(step + 2));
        model[off] = (uint8_t)(step + 1);
        model[off + 1] = (uint8_t)(step + 2);
        check_against_model(E->cache, &post, model);
        assert_int_equal(E->vm->settle_derived - derived, 1);
        assert_int_equal(E->vm->tree_nodes - nodes, 8);
        assert_int_equal(javm_cache_decref(E->cache, &ik), JAVM_OK);
        inst = post;
        ik = javm_key_of_hash(&inst);
    }
    assert_int_equal(E->vm->tree_misses, 0);
    assert_int_equal(javm_cache_decref(E->cache, &ik), JAVM_OK);
    free(model);
}

/* A paused invocation: the base entry's leaves are shared into the post-instance at settle,
 * so they must outlive the overlay Data, which the embedder may evict (or release) while the
 * invocation is paused. P (overlay over [BASE, BASE + REGION)) calls S, which yields; while
 * paused every clean blob is evicted (the overlay Data's cap and its page buffers with it,
 * unless the entry holds them); on resume P writes one byte and halts. */
static void test_pause_keeps_leaves(void **state)
{
    env *E = *state;
    uint8_t *model = malloc(REGION);
    for (uint64_t i = 0; i < REGION; i++)
        model[i] = (uint8_t)(i / 4096 + 1);
    javm_cap *d;
    assert_int_equal(javm_data_new(model, REGION, &d), JAVM_OK);
    javm_hash dh, c, marker;
    assert_int_equal(javm_cache_put_owned(E->cache, d, &dh), JAVM_OK);
    assert_int_equal(javm_yield_catcher_new(E->cache, E->ka, &c), JAVM_OK);
    javm_cap *md;
    assert_int_equal(javm_data_new((const uint8_t *)"marker", 6, &md), JAVM_OK);
    assert_int_equal(javm_cache_put_owned(E->cache, md, &marker), JAVM_OK);
    assert_int_equal(javm_yield_catcher_add(E->cache, E->ka, &c, &marker), JAVM_OK);
    /* S: cnode_mint slot 4; load_imm φ7, 3; ecalli 16 (marker in slot 3); halt */
    tprog s;
    tprog_init(&s);
    TI(&s, 51, 7, 4);
    TI(&s, 51, 8, 3);
    TI(&s, 10, 5);
    TI(&s, 51, 7, 3);
    TI(&s, 10, 16);
    TI(&s, 10, 0);
    javm_cap *simg = vm_image_of(&s, 0, 0, 0);
    assert_int_equal(javm_image_add_initial(simg, 3, &marker), JAVM_OK);
    javm_hash child = vm_spawn_image(E->cache, simg, NULL);
    /* P: load_imm φ7, 9; load_imm φ8, 0; ecalli 26; store_imm_u8 [BASE + 5], 0xEE; halt */
    tprog p;
    tprog_init(&p);
    TI(&p, 51, 7, 9);
    TI(&p, 51, 8, 0);
    TI(&p, 10, 26);
    TI(&p, 30, 4, (uint8_t)(BASE + 5), (uint8_t)((BASE + 5) >> 8), (uint8_t)((BASE + 5) >> 16), 0, 0xEE);
    TI(&p, 10, 0);
    javm_cap *pimg = vm_image_of(&p, BASE, REGION, 1);
    pimg->image.mappings[0].path_len = 1;
    pimg->image.mappings[0].path[0] = 1;
    assert_int_equal(javm_image_add_initial(pimg, 1, &dh), JAVM_OK);
    assert_int_equal(javm_image_add_initial(pimg, 9, &child), JAVM_OK);
    assert_int_equal(javm_image_add_initial(pimg, 10, &c), JAVM_OK);
    pimg->image.has_yield_marker = true;
    pimg->image.yield_marker_slot = 10;
    javm_hash spawned = vm_spawn_image(E->cache, pimg, NULL);
    /* The same Instance with slot 1 emptied, so that no slot of the running entry holds the
     * overlay Data (its refcount stays clean and eviction drops it while paused). */
    javm_cap *inst, *root;
    assert_int_equal(javm_cap_clone(javm_cache_get_hash(E->cache, &spawned), &inst), JAVM_OK);
    assert_int_equal(javm_cap_clone(javm_cache_get(E->cache, &inst->instance.root_cnode), &root),
                     JAVM_OK);
    assert_int_equal(javm_cnode_set_slot(root, 1, NULL), JAVM_OK);
    javm_hash rh, parent;
    assert_int_equal(javm_cache_put(E->cache, root, &rh), JAVM_OK);
    inst->instance.root_cnode = javm_key_of_hash(&rh);
    assert_int_equal(javm_cache_put(E->cache, inst, &parent), JAVM_OK);
    javm_cap_free(inst);
    javm_cap_free(root);
    assert_int_equal(javm_commit(E->cache, E->ka), JAVM_OK); /* every blob stored and clean */
    javm_call_result r;
    assert_int_equal(javm_invoke(E->vm, E->cache, E->ka, &parent, 0, NULL, 100000, NULL, NULL, &r),
                     JAVM_OK);
    assert_int_equal(r.kind, JAVM_RES_PAUSED);
    javm_cache_evict_clean(E->cache);
    assert_int_equal(javm_resume(E->vm, E->cache, E->ka, NULL, &r), JAVM_OK);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    model[5] = 0xEE;
    check_against_model(E->cache, &r.post_instance, model);
    free(model);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* An address to write: mostly inside the region, sometimes past its end (the rest of the
 * last page, mapped RW but outside the snapshot) or below BASE (in [0, S) but no mapping). */
static uint64_t pick_addr(void)
{
    uint64_t k = rnd() % 16;
    if (k == 0)
        return BASE + REGION + rnd() % 100;
    if (k == 1)
        return rnd() % BASE;
    if (k == 2)
        return BASE + REGION - 1 - rnd() % 8; /* the last bytes: size shrinks or grows */
    return BASE + rnd() % REGION;
}

static uint8_t pick_val(void) { return rnd() % 3 == 0 ? 0 : (uint8_t)rnd(); }

/* Chains of invocations from random initial states (sparse, dense, empty, one byte): each
 * post-instance is the next base, each checked against the from-scratch Data. */
static void test_random_chains_exact(void **state)
{
    env *E = *state;
    uint8_t *model = malloc(REGION);
    for (int chain = 0; chain < 6; chain++) {
        memset(model, 0, REGION);
        if (chain == 1) {
            for (uint64_t i = 0; i < REGION; i++)
                model[i] = (uint8_t)(rnd() | 1);
        } else if (chain == 2 || chain == 3) {
            for (int p = 0; p < NPAGES / 3; p++)
                model[(rnd() % NPAGES) * 4096 % REGION + rnd() % 64] = (uint8_t)(rnd() | 1);
        } else if (chain == 4) {
            model[4100] = 1; /* one byte on page 1: Paged with an Empty page 0 */
        }
        javm_hash inst = spawn_writer(E->cache, model);
        javm_key ik = javm_key_of_hash(&inst);
        assert_int_equal(javm_cache_incref(E->cache, &ik), JAVM_OK);
        for (int step = 0; step < 60; step++) {
            uint64_t a1 = pick_addr(), a2 = chain == 5 ? a1 + 4096 : pick_addr();
            if (a2 >= BASE + REGION + 100)
                a2 = BASE;
            uint8_t v1 = pick_val(), v2 = pick_val();
            javm_hash post = invoke_writes(E, &inst, a1, v1, a2, v2);
            if (a1 >= BASE && a1 < BASE + REGION)
                model[a1 - BASE] = v1;
            if (a2 >= BASE && a2 < BASE + REGION)
                model[a2 - BASE] = v2;
            check_against_model(E->cache, &post, model);
            assert_int_equal(javm_cache_decref(E->cache, &ik), JAVM_OK);
            inst = post;
            ik = javm_key_of_hash(&inst);
        }
        assert_int_equal(javm_cache_decref(E->cache, &ik), JAVM_OK);
    }
    /* most settles derived their Data (a size change falls back) */
    assert_true(E->vm->tree_nodes > 0);
    assert_true(E->vm->tree_misses < E->vm->settle_derived);
    free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bmt_update_matches_rebuild),
        cmocka_unit_test_setup_teardown(test_clean_pages_shared, vmenv_setup, vmenv_teardown),
        cmocka_unit_test_setup_teardown(test_merkle_paths_only, vmenv_setup, vmenv_teardown),
        cmocka_unit_test_setup_teardown(test_pause_keeps_leaves, vmenv_setup, vmenv_teardown),
        cmocka_unit_test_setup_teardown(test_random_chains_exact, vmenv_setup, vmenv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
