/* SPDX-License-Identifier: MIT
 * tests/test_vm_cost.c — issue 13 item 2: an invocation costs what it touches, never the mapped
 * size. The memory's layers (exec_layer) behave exactly as the per-page calls they replace
 * (a random differential); on a 64 MiB instance the guest's memory has touched only the pages
 * it used, an invocation that writes back what was there or only reads gives the same
 * Instance without building a page list or a CNode, and a new value is still exact; the Data's
 * Missing count the O(1) DATA_MISSING check trusts is kept and checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cap_fixtures.h"
#include "cap/cap.h"
#include "exec/exec.h"
#include "vm/vm.h"
#include "vmfix.h"

/* ---- the layers against the per-page calls --------------------------------------------- */

static uint64_t seed = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

#define LPAGES 48 /* the pages the differential looks at: [0, LPAGES) */

/* Everything an accessor can see of page pg, compared between the two memories. */
static void same_page(const javm_memory *a, const javm_memory *b, uint32_t pg)
{
    assert_int_equal(javm_memory_get_perm(a, pg), javm_memory_get_perm(b, pg));
    assert_int_equal(javm_memory_is_dirty(a, pg), javm_memory_is_dirty(b, pg));
    assert_int_equal(javm_memory_page_written(a, pg), javm_memory_page_written(b, pg));
    uint8_t x[4096], y[4096];
    assert_int_equal(javm_memory_peek(a, pg << 12, 4096, x), JAVM_OK);
    assert_int_equal(javm_memory_peek(b, pg << 12, 4096, y), JAVM_OK);
    assert_memory_equal(x, y, 4096);
}

/* Random layouts laid as layers on one memory and as set_perm + map_lazy per page on the
 * other, then random guest accesses, pokes, permission changes and probes: every result and
 * every page's state agree. A layer lookup that took the first layer instead of the last, or
 * a content layer that ignored the permission, fails here. */
static void test_layers_match_per_page(void **state)
{
    (void)state;
    javm_memory *a, *b;
    assert_int_equal(javm_memory_new(&a), JAVM_OK);
    assert_int_equal(javm_memory_new(&b), JAVM_OK);
    static uint8_t src[8][4096];
    for (int s = 0; s < 8; s++)
        memset(src[s], 0x11 * (s + 1), sizeof src[s]);
    javm_page pages[2][16];
    const void *groups[2][4]; /* content layers read their pages in groups of 4 (a Data's chunks) */
    for (int round = 0; round < 300; round++) {
        /* a layout: [0, S) RW, two disjoint content ranges RW, one read-only range */
        uint32_t S = (uint32_t)(rnd() % LPAGES);
        uint32_t c0 = (uint32_t)(rnd() % 16), n0 = 1 + (uint32_t)(rnd() % 12);
        uint32_t c1 = 30 + (uint32_t)(rnd() % 8), n1 = 1 + (uint32_t)(rnd() % 10);
        uint32_t r0 = (uint32_t)(rnd() % LPAGES), rn = (uint32_t)(rnd() % 8);
        if (r0 + rn > LPAGES)
            rn = LPAGES - r0;
        uint32_t cf[2] = { c0, c1 }, cn[2] = { n0, n1 };
        for (int l = 0; l < 2; l++)
            for (int k = 0; k < 16; k++) {
                bool loaded = rnd() % 4 != 0;
                pages[l][k] = (javm_page){ loaded ? JAVM_PAGE_LOADED : JAVM_PAGE_EMPTY,
                                           loaded ? src[rnd() % 8] : NULL, { { 0 } } };
            }
        for (int l = 0; l < 2; l++)
            for (int g = 0; g < 4; g++) /* a NULL group reads zero, like a NULL chunk */
                groups[l][g] = rnd() % 5 == 0 ? NULL : (const void *)&pages[l][4 * g];
        if (S) {
            assert_int_equal(exec_memory_layer_perm(a, 0, (uint64_t)S << 12, JAVM_PERM_RW), JAVM_OK);
            assert_int_equal(javm_memory_set_perm(b, 0, (uint64_t)S << 12, JAVM_PERM_RW), JAVM_OK);
        }
        for (int l = 0; l < 2; l++) {
            uint64_t nitems = rnd() % (cn[l] + 1); /* pages past nitems read zero */
            assert_int_equal(exec_memory_layer_perm(a, (uint64_t)cf[l] << 12, (uint64_t)cn[l] << 12, JAVM_PERM_RW), JAVM_OK);
            assert_int_equal(exec_memory_layer_content(a, cf[l], cn[l], groups[l], 2, offsetof(javm_page, bytes),
                                                       sizeof(javm_page), nitems),
                             JAVM_OK);
            assert_int_equal(javm_memory_set_perm(b, (uint64_t)cf[l] << 12, (uint64_t)cn[l] << 12, JAVM_PERM_RW), JAVM_OK);
            for (uint32_t k = 0; k < nitems; k++)
                if (groups[l][k / 4] && pages[l][k].bytes)
                    assert_int_equal(exec_memory_map_lazy(b, cf[l] + k, pages[l][k].bytes), JAVM_OK);
        }
        if (rn) {
            assert_int_equal(exec_memory_layer_perm(a, (uint64_t)r0 << 12, (uint64_t)rn << 12, JAVM_PERM_RO), JAVM_OK);
            assert_int_equal(javm_memory_set_perm(b, (uint64_t)r0 << 12, (uint64_t)rn << 12, JAVM_PERM_RO), JAVM_OK);
        }
        javm_memory_clear_dirty(a);
        javm_memory_clear_dirty(b);
        for (uint32_t pg = 0; pg < LPAGES; pg++)
            same_page(a, b, pg);
        /* then random operations on both */
        for (int op = 0; op < 40; op++) {
            uint32_t addr = (uint32_t)(rnd() % ((uint64_t)LPAGES << 12));
            unsigned n = 1u << (rnd() % 4);
            uint8_t v[8] = { (uint8_t)rnd(), 2, 3, 4, 5, 6, 7, 8 };
            uint32_t fa = 0, fb = 0;
            switch (rnd() % 6) {
            case 0: /* a guest load or store through the slow path */
            case 1: {
                bool w = rnd() % 2;
                assert_int_equal(exec_mem_slow(a, addr, n, w, JAVM_PROFILE_JAVM, &fa),
                                 exec_mem_slow(b, addr, n, w, JAVM_PROFILE_JAVM, &fb));
                assert_int_equal(fa, fb);
                break;
            }
            case 2:
                assert_int_equal(javm_memory_write(a, addr, n, v), javm_memory_write(b, addr, n, v));
                break;
            case 3:
                assert_int_equal(javm_memory_poke(a, addr, n, v), javm_memory_poke(b, addr, n, v));
                break;
            case 4: {
                uint32_t pg = (uint32_t)(rnd() % LPAGES);
                javm_perm p = (javm_perm)(rnd() % 3);
                assert_int_equal(javm_memory_set_perm(a, (uint64_t)pg << 12, 4096, p),
                                 javm_memory_set_perm(b, (uint64_t)pg << 12, 4096, p));
                break;
            }
            default: {
                javm_access m = rnd() % 2 ? JAVM_ACCESS_WRITE : JAVM_ACCESS_READ;
                assert_int_equal(javm_memory_probe(a, addr, 4096, m, &fa), javm_memory_probe(b, addr, 4096, m, &fb));
                uint8_t x[8], y[8];
                assert_int_equal(javm_memory_read(a, addr, n, x), javm_memory_read(b, addr, n, y));
                break;
            }
            }
        }
        size_t nda, ndb;
        const uint32_t *da = javm_memory_dirty(a, &nda), *db = javm_memory_dirty(b, &ndb);
        assert_int_equal(nda, ndb);
        assert_memory_equal(da, db, nda * sizeof *da);
        for (uint32_t pg = 0; pg < LPAGES; pg++)
            same_page(a, b, pg);
        javm_memory_reset(a);
        javm_memory_reset(b);
    }
    javm_memory_free(a);
    javm_memory_free(b);
}

/* ---- a 64 MiB instance ------------------------------------------------------------------ */

typedef vmenv env;

#define BIG_PAGES 16384 /* 64 MiB */
#define BASE 0x10000u

#define page_byte vm_page_byte

static javm_cap *big_data(void) { return vm_paged_data(BIG_PAGES); }

/* What the host function saw of the running memory. */
typedef struct seen {
    size_t touched, layers;
} seen;

static javm_host_rc observe(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13], javm_memory *mem,
                            int64_t *gas, void *user)
{
    (void)ctx; (void)op; (void)regs; (void)gas;
    seen *s = user;
    s->touched = mem->ntouched;
    s->layers = mem->nlayers;
    return JAVM_HOST_CONTINUE;
}

/* Spawns code (instruction starts in mask) over one writable 64 MiB mapping at BASE whose
 * overlay is big_data(). */
static javm_hash spawn_big(javm_cache *c, const uint8_t *code, uint32_t len, const uint8_t *mask,
                           uint32_t mlen, javm_hash *data_out)
{
    return vm_spawn_over(c, code, len, mask, mlen, BASE, (uint64_t)BIG_PAGES * 4096, big_data(), data_out);
}

/* store_u8 [BASE + 5], φ7; ecalli 64 (observe); ecalli 0 (halt) */
static const uint8_t writer[9] = { 0x3b, 0x07, 0x05, 0x00, 0x01, 10, 64, 10, 0 };
static const uint8_t writer_mask[2] = { 0xA1, 0x00 };
/* load_u8 φ7, [BASE + 0x3007]; ecalli 64; ecalli 0 */
static const uint8_t reader[9] = { 0x34, 0x07, 0x07, 0x30, 0x01, 10, 64, 10, 0 };

static javm_call_result invoke(env *E, const javm_hash *inst, uint64_t a0)
{
    javm_call_result r;
    uint64_t args[4] = { a0, 0, 0, 0 };
    assert_int_equal(javm_invoke(E->vm, E->cache, E->ka, inst, 0, args, 1000, NULL, NULL, &r), JAVM_OK);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    return r;
}

/* Writing the byte already there: the guest's memory touched two pages of 16,384 (the stored
 * one, and none other: the layout is three layers), settle read one page, found it equal to
 * its base leaf, took the Data and the root CNode as they were (no page list, no cnode), and
 * the post-instance is the instance itself. Writing a new value then gives exactly the Data a
 * from-scratch construction gives. Per-page layout fails the touched bound; a settle that
 * builds the page list anyway fails the shared count. */
static void test_touches_what_it_uses(void **state)
{
    env *E = *state;
    seen s = { 0, 0 };
    assert_int_equal(javm_vm_register_host_fn(E->vm, 64, observe, &s), JAVM_OK);
    javm_hash dh, inst = spawn_big(E->cache, writer, sizeof writer, writer_mask, sizeof writer_mask, &dh);
    javm_call_result r = invoke(E, &inst, 0x77); /* a first invocation: a new value */
    javm_hash cur = r.post_instance;
    uint64_t read0 = E->vm->settle_pages_read, shared0 = E->vm->settle_pages_shared;
    uint64_t reused0 = E->vm->settle_reused, cn0 = E->vm->settle_cnode_reused;
    r = invoke(E, &cur, 0x77); /* the same byte again */
    assert_true(s.touched >= 1 && s.touched <= 2);
    assert_int_equal(s.layers, 3); /* [0, S) RW, the overlay's permission and its contents */
    assert_hash_equal(r.post_instance, cur);
    assert_int_equal(E->vm->settle_pages_read - read0, 1);
    assert_int_equal(E->vm->settle_pages_shared - shared0, 0);
    assert_int_equal(E->vm->settle_reused - reused0, 1);
    assert_int_equal(E->vm->settle_cnode_reused - cn0, 1);
    javm_key k = javm_key_of_hash(&r.post_instance);
    assert_int_equal(javm_cache_decref(E->cache, &k), JAVM_OK);
    /* a new value: the Data of big_data() with that byte, hashed from scratch */
    r = invoke(E, &cur, 0x78);
    javm_cap *want = big_data();
    uint8_t page[4096];
    memset(page, page_byte(0), sizeof page);
    page[5] = 0x78;
    assert_int_equal(javm_data_page_load(want, 0, page), JAVM_OK);
    javm_hash wh;
    assert_int_equal(javm_cap_hash(want, &wh), JAVM_OK);
    javm_cap_free(want);
    const javm_cap *post = javm_cache_get_hash(E->cache, &r.post_instance);
    assert_non_null(post);
    assert_hash_equal(post->instance.overlays[0].data, wh);
    assert_int_equal(E->vm->settle_pages_shared - shared0, BIG_PAGES - 1);
    k = javm_key_of_hash(&r.post_instance);
    assert_int_equal(javm_cache_decref(E->cache, &k), JAVM_OK);
    k = javm_key_of_hash(&cur);
    assert_int_equal(javm_cache_decref(E->cache, &k), JAVM_OK);
}

/* An invocation that only reads: one page touched, nothing read by settle, the same Instance. */
static void test_reader_gives_the_same_instance(void **state)
{
    env *E = *state;
    seen s = { 0, 0 };
    assert_int_equal(javm_vm_register_host_fn(E->vm, 64, observe, &s), JAVM_OK);
    javm_hash inst = spawn_big(E->cache, reader, sizeof reader, writer_mask, sizeof writer_mask, NULL);
    uint64_t read0 = E->vm->settle_pages_read, shared0 = E->vm->settle_pages_shared;
    javm_call_result r = invoke(E, &inst, 0); /* φ7 changes: a new Instance, the same Data */
    javm_hash cur = r.post_instance;
    assert_hash_equal(javm_cache_get_hash(E->cache, &cur)->instance.overlays[0].data,
                      javm_cache_get_hash(E->cache, &inst)->instance.overlays[0].data);
    r = invoke(E, &cur, 0);
    assert_int_equal(r.return_value, page_byte(3));
    assert_int_equal(s.touched, 1);
    assert_hash_equal(r.post_instance, cur);
    assert_int_equal(E->vm->settle_pages_read - read0, 0);
    assert_int_equal(E->vm->settle_pages_shared - shared0, 0);
    javm_key k = javm_key_of_hash(&r.post_instance);
    assert_int_equal(javm_cache_decref(E->cache, &k), JAVM_OK);
    assert_int_equal(javm_cache_decref(E->cache, &k), JAVM_OK);
}

/* ---- the Missing count ---------------------------------------------------------------- */

/* javm_data_page_missing / _load keep n_missing; clone and decoding carry it; a Data whose
 * count is wrong (a page's state written by hand) is not canonical, so nothing in the cache
 * can have a wrong count. */
static void test_missing_count_kept_and_checked(void **state)
{
    (void)state;
    javm_cap *d;
    uint8_t page[4096];
    memset(page, 9, sizeof page);
    assert_int_equal(javm_data_new_paged(3 * 4096, &d), JAVM_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(javm_data_page_load(d, (uint64_t)i, page), JAVM_OK);
    assert_int_equal(d->data.n_missing, 0);
    javm_hash h = (*javm_data_page(&d->data, 1)).hash;
    assert_int_equal(javm_data_page_missing(d, 1, &h), JAVM_OK);
    assert_int_equal(javm_data_page_missing(d, 1, &h), JAVM_OK); /* already Missing */
    assert_int_equal(d->data.n_missing, 1);
    assert_int_equal(javm_cap_check(d), JAVM_OK);
    javm_cap *c;
    assert_int_equal(javm_cap_clone(d, &c), JAVM_OK);
    assert_int_equal(c->data.n_missing, 1);
    javm_cap_free(c);
    uint8_t *body;
    size_t len;
    assert_int_equal(javm_cap_encode(d, &body, &len), JAVM_OK);
    assert_int_equal(javm_cap_decode(JAVM_KIND_DATA, body, len, &c, NULL), JAVM_OK);
    assert_int_equal(c->data.n_missing, 1);
    javm_cap_free(c);
    javm_free(body);
    assert_int_equal(javm_data_page_load(d, 1, page), JAVM_OK);
    assert_int_equal(d->data.n_missing, 0);
    /* by hand: the count is now wrong */
    javm_page *p2 = cap_data_page_mut(&d->data, 2);
    p2->state = JAVM_PAGE_MISSING;
    cap_page_unref(p2->bytes);
    p2->bytes = NULL;
    assert_int_equal(javm_cap_check(d), JAVM_ERR_NON_CANONICAL);
    javm_cap_free(d);
}

/* An Instance whose overlay Data has a Missing page is refused by build_entry, from the count
 * (caps.md §6.3 step 6). */
static void test_missing_overlay_refused(void **state)
{
    env *E = *state;
    javm_hash inst = spawn_big(E->cache, reader, sizeof reader, writer_mask, sizeof writer_mask, NULL);
    javm_cap *d = big_data(), *ic;
    uint8_t other[4096];
    memset(other, 0x42, sizeof other);
    javm_hash h, mh;
    javm_blake2b(other, sizeof other, &h); /* a page whose bytes this cache never saw */
    assert_int_equal(javm_data_page_missing(d, BIG_PAGES / 2, &h), JAVM_OK);
    assert_int_equal(javm_cache_put_owned(E->cache, d, &mh), JAVM_OK);
    assert_int_equal(javm_cap_clone(javm_cache_get_hash(E->cache, &inst), &ic), JAVM_OK);
    ic->instance.overlays[0].data = mh;
    javm_hash bad;
    assert_int_equal(javm_cache_put(E->cache, ic, &bad), JAVM_OK);
    javm_cap_free(ic);
    javm_call_result r;
    uint64_t args[4] = { 0 };
    assert_int_equal(javm_invoke(E->vm, E->cache, E->ka, &bad, 0, args, 1000, NULL, NULL, &r),
                     JAVM_ERR_DATA_MISSING);
    assert_int_equal(r.kind, JAVM_RES_FAULT);
    assert_int_equal(r.trap, JAVM_TRAP_DATA_MISSING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers_match_per_page),
        cmocka_unit_test_setup_teardown(test_touches_what_it_uses, vmenv_setup, vmenv_teardown),
        cmocka_unit_test_setup_teardown(test_reader_gives_the_same_instance, vmenv_setup, vmenv_teardown),
        cmocka_unit_test(test_missing_count_kept_and_checked),
        cmocka_unit_test_setup_teardown(test_missing_overlay_refused, vmenv_setup, vmenv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
