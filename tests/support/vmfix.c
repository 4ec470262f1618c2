/* SPDX-License-Identifier: MIT
 * tests/support/vmfix.c — see vmfix.h: fixture F, snapshots, image builders and hashes
 * computed with libsodium straight from the byte layouts of caps.md §4 and §11.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "vmfix.h"
#include "vm/vm.h"

/* ---- fixture ---------------------------------------------------------------------------- */

static void push_fixture_entry(vmfix *f, const uint32_t *pinned, size_t npinned)
{
    static const uint32_t ids[1] = { 2 };
    javm_hash vals[1] = { vm_fill(0xAA) };
    javm_test_entry e;
    memset(&e, 0, sizeof e);
    e.size_log = 4;
    e.slot_ids = ids;
    e.slot_vals = vals;
    e.n_slots = 1;
    e.chain = vm_fill(0x01);
    e.image_hash = vm_fill(0x02);
    e.M = 25;
    e.program = f->prog;
    e.pinned = pinned;
    e.n_pinned = npinned;
    assert_int_equal(javm_vm_push_test_entry(f->vm, &e), JAVM_OK);
}

void vmfix_init(vmfix *f, uint32_t max_depth, const uint32_t *pinned, size_t npinned)
{
    static const uint8_t code[1] = { 0x00 }, bm[1] = { 0x01 };
    memset(f, 0, sizeof *f);
    javm_prepare_opts o = { JAVM_PROFILE_JAVM, 25 };
    assert_int_equal(javm_prepare(code, 1, bm, NULL, 0, &o, &f->prog), JAVM_OK);
    assert_int_equal(javm_vm_new(&f->vm, max_depth), JAVM_OK);
    assert_int_equal(javm_store_mem_new(&f->store), JAVM_OK);
    assert_int_equal(javm_cache_open(f->store, &f->cache), JAVM_OK);
    assert_int_equal(javm_ka_mem_new(&f->ka), JAVM_OK);
    assert_int_equal(javm_memory_new(&f->mem), JAVM_OK);
    push_fixture_entry(f, pinned, npinned);
    f->ctx = (javm_ecall_ctx){ f->vm, f->cache, f->ka };
    f->gas = 1000;
}

void vmfix_new_vm(vmfix *f, uint32_t max_depth, const uint32_t *pinned, size_t npinned)
{
    javm_vm_free(f->vm);
    assert_int_equal(javm_vm_new(&f->vm, max_depth), JAVM_OK);
    push_fixture_entry(f, pinned, npinned);
    f->ctx.vm = f->vm;
}

void vmfix_fini(vmfix *f)
{
    javm_vm_free(f->vm);
    javm_ka_free(f->ka);
    javm_cache_close(f->cache);
    javm_store_close(f->store);
    javm_memory_free(f->mem);
    javm_program_free(f->prog);
    memset(f, 0, sizeof *f);
}

void vmfix_map(vmfix *f, javm_perm perm)
{
    assert_int_equal(javm_memory_set_perm(f->mem, 0, 4096, perm), JAVM_OK);
}

javm_answer vmfix_op(vmfix *f, uint32_t op)
{
    return javm_dispatch(&f->ctx, JAVM_CALL_ECALLI, op, f->regs, f->mem, &f->gas);
}

void vmfix_slot(vmfix *f, uint32_t s, const javm_hash *h)
{
    assert_int_equal(javm_vm_top_slot_set(f->vm, s, h), JAVM_OK);
}

javm_hash vmfix_get_slot(vmfix *f, uint32_t s)
{
    javm_hash h;
    assert_int_equal(javm_vm_top_slot_get(f->vm, s, &h), JAVM_OK);
    return h;
}

bool vmfix_slot_empty(vmfix *f, uint32_t s)
{
    javm_hash h;
    return javm_vm_top_slot_get(f->vm, s, &h) == JAVM_ERR_NOT_FOUND;
}

javm_hash vm_put(javm_cache *c, javm_cap *cap)
{
    javm_hash h;
    int rc = javm_cache_put(c, cap, &h);
    if (rc)
        fail_msg("javm_cache_put: %s", javm_strerror(rc));
    javm_cap_free(cap);
    return h;
}

uint8_t vm_page_byte(uint64_t page) { return (uint8_t)(page % 251 + 1); }

javm_cap *vm_paged_data(uint64_t npages)
{
    javm_cap *d;
    assert_int_equal(javm_data_new_paged(npages * 4096, &d), JAVM_OK);
    uint8_t page[4096];
    for (uint64_t i = 0; i < npages; i++) {
        memset(page, vm_page_byte(i), sizeof page);
        assert_int_equal(javm_data_page_load(d, i, page), JAVM_OK);
    }
    return d;
}

javm_hash vm_spawn_over(javm_cache *c, const uint8_t *code, uint32_t len, const uint8_t *mask,
                        uint32_t mlen, uint32_t base, uint64_t size, javm_cap *data,
                        javm_hash *data_out)
{
    javm_hash dh;
    assert_int_equal(javm_cache_put_owned(c, data, &dh), JAVM_OK);
    javm_cap *img;
    assert_int_equal(javm_image_new(code, len, mask, mlen, &img), JAVM_OK);
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    assert_int_equal(javm_image_add_endpoint(img, &ep), JAVM_OK);
    javm_mapping m = { .start = base, .size = size, .flags = 1, .path_len = 1, .path = { 1 } };
    assert_int_equal(javm_image_add_mapping(img, &m), JAVM_OK);
    assert_int_equal(javm_image_add_initial(img, 1, &dh), JAVM_OK);
    javm_hash ih, inst;
    assert_int_equal(javm_cache_put(c, img, &ih), JAVM_OK);
    assert_int_equal(javm_spawn(c, &ih, 8, &inst), JAVM_OK);
    javm_cap_free(img);
    if (data_out)
        *data_out = dh;
    return inst;
}

uint32_t vm_rc(javm_cache *c, const javm_hash *h)
{
    uint32_t n = 0;
    javm_key k = javm_key_of_hash(h);
    return javm_cache_refcount(c, &k, &n) == JAVM_OK ? n : 0;
}

bool vm_answer_is(javm_answer a, bool cont, javm_exit_reason r, uint32_t arg)
{
    if (cont)
        return a.cont;
    return !a.cont && a.exit.reason == r && a.exit.arg == arg;
}

/* ---- snapshots -------------------------------------------------------------------------- */

static int blob_cb(void *arg, const javm_hash *h, const javm_cap *cap, uint32_t refcount)
{
    vm_snap *s = arg;
    vm_blob_rec *b = realloc(s->blobs, (s->nblobs + 1) * sizeof *b);
    assert_non_null(b);
    s->blobs = b;
    s->blobs[s->nblobs++] = (vm_blob_rec){ *h, (uint8_t)cap->kind, refcount };
    return 0;
}

static int file_cb(void *arg, uint64_t id, const javm_hash *h)
{
    vm_snap *s = arg;
    vm_file_rec *r = realloc(s->files, (s->nfiles + 1) * sizeof *r);
    assert_non_null(r);
    s->files = r;
    s->files[s->nfiles++] = (vm_file_rec){ id, *h };
    return 0;
}

void vm_blobs_take(vm_snap *s, javm_cache *c)
{
    assert_int_equal(javm_cache_iter_blobs(c, blob_cb, s), 0);
    s->working = javm_cache_working_count(c);
}

void vm_snap_take(vm_snap *s, javm_vm *vm, javm_cache *c, javm_ka *ka, const uint64_t *regs,
                  const int64_t *gas, const javm_memory *mem)
{
    static const uint64_t qids[VM_SNAP_QUOTAS] = { 0, 1, 7, 9 };
    memset(s, 0, sizeof *s);
    if (c)
        vm_blobs_take(s, c);
    if (ka) {
        for (int i = 0; i < VM_SNAP_QUOTAS; i++)
            s->quotas[i] = ka->vtbl->storage_quota_get(ka, qids[i]);
        s->next_file_id = javm_ka_mem_next_file_id(ka);
        assert_int_equal(ka->vtbl->file_iter(ka, file_cb, s), 0);
    }
    if (vm) {
        s->depth = javm_vm_depth(vm);
        s->image_cache = javm_vm_image_cache_size(vm);
        s->has_top = javm_vm_top_info(vm, &s->chain, &s->image, &s->program, &s->size_log) == JAVM_OK;
        if (s->has_top) {
            uint32_t n = s->size_log > 8 ? 256 : 1u << s->size_log;
            for (uint32_t i = 0; i < n; i++)
                s->slot_full[i] = javm_vm_top_slot_get(vm, i, &s->slots[i]) == JAVM_OK;
            const uint32_t *p = javm_vm_top_pinned(vm, &s->npinned);
            assert_true(s->npinned <= 64);
            if (s->npinned)
                memcpy(s->pinned, p, s->npinned * sizeof *p);
            assert_int_equal(javm_vm_top_yield_slot(vm, &s->has_yield, &s->yield_slot), JAVM_OK);
        }
    }
    if (regs)
        memcpy(s->regs, regs, sizeof s->regs);
    if (gas)
        s->gas = *gas;
    if (mem) {
        for (uint32_t p = 0; p < VM_SNAP_MEM / 4096; p++)
            s->perms[p] = javm_memory_get_perm(mem, p);
        assert_int_equal(javm_memory_peek(mem, 0, VM_SNAP_MEM, s->mem), JAVM_OK);
    }
}

void vmfix_snap(vmfix *f, vm_snap *s)
{
    vm_snap_take(s, f->vm, f->cache, f->ka, f->regs, &f->gas, f->mem);
}

void vm_snap_free(vm_snap *s)
{
    free(s->blobs);
    free(s->files);
    s->blobs = NULL;
    s->files = NULL;
}

#define SNAP_SAME(field, what)                                                                 \
    do {                                                                                       \
        if (memcmp(&a->field, &b->field, sizeof a->field) != 0)                                \
            fail_msg("snapshot differs: %s", what);                                            \
    } while (0)

void vm_snap_assert_equal(const vm_snap *a, const vm_snap *b)
{
    if (a->nblobs != b->nblobs)
        fail_msg("snapshot differs: blob count %zu vs %zu", a->nblobs, b->nblobs);
    for (size_t i = 0; i < a->nblobs; i++) {
        const vm_blob_rec *x = &a->blobs[i], *y = &b->blobs[i];
        if (memcmp(&x->h, &y->h, 32) || x->kind != y->kind || x->rc != y->rc) {
            char hx[65], hy[65];
            javm_hash_to_hex(&x->h, hx);
            javm_hash_to_hex(&y->h, hy);
            fail_msg("snapshot differs: blob %zu %s kind %02x rc %u vs %s kind %02x rc %u", i, hx,
                     x->kind, x->rc, hy, y->kind, y->rc);
        }
    }
    if (a->nfiles != b->nfiles)
        fail_msg("snapshot differs: file count %zu vs %zu", a->nfiles, b->nfiles);
    for (size_t i = 0; i < a->nfiles; i++)
        if (a->files[i].id != b->files[i].id || memcmp(&a->files[i].h, &b->files[i].h, 32))
            fail_msg("snapshot differs: file record %zu", i);
    SNAP_SAME(working, "working count");
    SNAP_SAME(quotas, "quotas");
    SNAP_SAME(next_file_id, "next_file_id");
    SNAP_SAME(depth, "stack depth");
    SNAP_SAME(has_top, "top entry");
    SNAP_SAME(slot_full, "slot occupancy");
    for (int i = 0; i < 256; i++)
        if (a->slot_full[i] && memcmp(&a->slots[i], &b->slots[i], 32))
            fail_msg("snapshot differs: slot %d", i);
    SNAP_SAME(chain, "chain");
    SNAP_SAME(image, "image hash");
    SNAP_SAME(program, "program");
    SNAP_SAME(size_log, "size_log");
    SNAP_SAME(npinned, "pinned count");
    SNAP_SAME(pinned, "pinned list");
    SNAP_SAME(has_yield, "yield marker");
    SNAP_SAME(yield_slot, "yield slot");
    SNAP_SAME(regs, "registers");
    if (a->gas != b->gas)
        fail_msg("snapshot differs: gas %lld vs %lld", (long long)a->gas, (long long)b->gas);
    SNAP_SAME(perms, "page permissions");
    SNAP_SAME(mem, "memory bytes");
}

/* ---- images ----------------------------------------------------------------------------- */

javm_cap *vm_image_of(const tprog *p, uint64_t map_start, uint64_t map_size, uint8_t map_flags)
{
    javm_cap *img;
    assert_int_equal(javm_image_new(p->code, (uint32_t)p->L, p->mask, (uint32_t)((p->L + 7) / 8), &img),
                     JAVM_OK);
    if (p->njt)
        assert_int_equal(javm_image_set_jump_table(img, p->jt, (uint32_t)p->njt), JAVM_OK);
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    assert_int_equal(javm_image_add_endpoint(img, &ep), JAVM_OK);
    if (map_size) {
        javm_mapping m;
        memset(&m, 0, sizeof m);
        m.start = map_start;
        m.size = map_size;
        m.flags = map_flags;
        assert_int_equal(javm_image_add_mapping(img, &m), JAVM_OK);
    }
    return img;
}

javm_hash vm_spawn_image(javm_cache *c, javm_cap *img, javm_hash *img_out)
{
    javm_hash ih = vm_put(c, img), inst;
    int rc = javm_spawn(c, &ih, 8, &inst);
    if (rc)
        fail_msg("javm_spawn: %s", javm_strerror(rc));
    if (img_out)
        *img_out = ih;
    return inst;
}

/* ---- independent hashing ---------------------------------------------------------------- */

javm_hash vm_h(const void *p, size_t n)
{
    javm_hash h;
    crypto_generichash(h.b, 32, p, n, NULL, 0);
    return h;
}

javm_hash vm_h_data_inline(const uint8_t *b, size_t n)
{
    uint8_t buf[1 + 8 + 32];
    javm_hash root = vm_h(b, n);
    buf[0] = 0x30;
    for (int i = 0; i < 8; i++)
        buf[1 + i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(buf + 9, root.b, 32);
    return vm_h(buf, sizeof buf);
}

javm_hash vm_h_data(const uint8_t *b, size_t n)
{
    if (n <= 4096)
        return vm_h_data_inline(b, n);
    /* Paged: one leaf per page, H("") for an all-zero page, else H(page), then the BMT */
    size_t np = (n + 4095) / 4096;
    javm_hash *lv = calloc(np, sizeof *lv);
    uint8_t *page = malloc(4096), buf[65];
    assert_non_null(lv);
    assert_non_null(page);
    for (size_t i = 0; i < np; i++) {
        size_t k = n - i * 4096 < 4096 ? n - i * 4096 : 4096;
        memset(page, 0, 4096);
        memcpy(page, b + i * 4096, k);
        bool zero = true;
        for (size_t j = 0; j < 4096 && zero; j++)
            zero = page[j] == 0;
        lv[i] = zero ? vm_h("", 0) : vm_h(page, 4096);
    }
    while (np > 1) {
        size_t m = 0;
        for (size_t i = 0; i < np; i += 2) {
            buf[0] = 0x01;
            memcpy(buf + 1, lv[i].b, 32);
            memcpy(buf + 33, (i + 1 < np ? lv[i + 1] : lv[i]).b, 32);
            lv[m++] = vm_h(buf, 65);
        }
        np = m;
    }
    uint8_t pre[41];
    pre[0] = 0x30;
    for (int i = 0; i < 8; i++)
        pre[1 + i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(pre + 9, lv[0].b, 32);
    javm_hash h = vm_h(pre, 41);
    free(lv);
    free(page);
    return h;
}

javm_hash vm_h_empty_cnode(unsigned size_log)
{
    /* BMT over 2^size_log leaves H(0x00): every level pairs equal nodes. */
    uint8_t zero = 0, buf[65];
    javm_hash node = vm_h(&zero, 1);
    for (unsigned i = 0; i < size_log; i++) {
        buf[0] = 0x01;
        memcpy(buf + 1, node.b, 32);
        memcpy(buf + 33, node.b, 32);
        node = vm_h(buf, 65);
    }
    buf[0] = 0x40;
    memcpy(buf + 1, node.b, 32);
    return vm_h(buf, 33);
}

void vm_assert_abbrev(const javm_hash *h, const char *head, const char *tail)
{
    char hex[65];
    javm_hash_to_hex(h, hex);
    size_t nh = strlen(head), nt = strlen(tail);
    if (strncmp(hex, head, nh) != 0 || strcmp(hex + 64 - nt, tail) != 0)
        fail_msg("hash %s is not %s…%s", hex, head, tail);
}

javm_hash vm_hx(const char *hex)
{
    javm_hash h;
    assert_int_equal(javm_hash_from_hex(hex, &h), JAVM_OK);
    return h;
}

javm_hash vm_fill(uint8_t b)
{
    javm_hash h;
    memset(h.b, b, 32);
    return h;
}

int vmenv_setup(void **state)
{
    vmenv *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_int_equal(javm_vm_new(&e->vm, 0), JAVM_OK);
    assert_int_equal(javm_store_mem_new(&e->store), JAVM_OK);
    assert_int_equal(javm_cache_open(e->store, &e->cache), JAVM_OK);
    assert_int_equal(javm_ka_mem_new(&e->ka), JAVM_OK);
    *state = e;
    return 0;
}

int vmenv_teardown(void **state)
{
    vmenv *e = *state;
    javm_abort(e->vm, e->cache, e->ka); /* NOT_PAUSED unless a test left one paused */
    javm_vm_free(e->vm);
    javm_ka_free(e->ka);
    javm_cache_close(e->cache);
    javm_store_close(e->store);
    free(e);
    return 0;
}
