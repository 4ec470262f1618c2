/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_dispatch.c — libFuzzer target for the ecall dispatcher (caps.md §7) against a fixture
 * cache and kernel assist. Each input builds the fixture afresh: Data (inline, paged, with a
 * Missing page), CNode, Type, two Images (one whose code does not prepare), their Instances, a
 * yield catcher, files, quotas and a name; opens a journal; pushes an unaccounted base entry and
 * lets it HOST_CALL the fixture Instance, so the entry the ops run on is built by build_entry
 * and accounted. Then the input is a list of ops (weighted toward 0..30 and 64..67, 64..66
 * registered) with register values, each run through javm_dispatch on the top entry.
 * After each op: a trap or OUT_OF_GAS changed nothing (cache blobs and refcounts, quotas, files,
 * next_file_id, every entry's slots, image and pinned list, registers, gas, the top memory);
 * a success left every blob's refcount equal to its holders counted independently (§5.2: edges
 * from blobs, slots and images of accounted entries, file records, the name, the harness's own
 * holds). At the end javm_abort must restore the cache, quotas and files to their state before
 * the journal, and everything is freed (LeakSanitizer checks the rest).
 *
 * Kept between inputs, for speed (a fresh VM and guest memory cost page faults and 4 GiB
 * mappings, most of an input's time): the two VMs (max_depth 2 and 4) with their host functions
 * and their pool of reset guest memories, and the harness's base memory, reset per input
 * (all made afresh every 4096 inputs, which bounds the resident pages they keep). Each
 * input starts with an empty stack, an empty program cache (javm_vm_clear_image_cache) and its
 * own store, cache and kernel assist, so only javm_memory_reset's "as new" promise carries
 * over (test_exec_flow checks it); the snapshots' buffers keep their capacity.
 *
 * Input: byte 0 = flags (bit 0: gas from bytes 1-2, else 2^40; bit 1: max_depth 2, else 4),
 * then records of 1 op byte + 4 register bytes (+ 8 raw bytes for each 0xFF), see rd_op/rd_reg. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "javm.h"
#include "vm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *g_in;
static size_t g_len;
static size_t g_op; /* index of the op being checked */

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_dispatch: %s (op %zu); input (%zu bytes):", what, g_op, g_len);
    for (size_t i = 0; i < g_len && i < 256; i++)
        fprintf(stderr, " %02x", g_in[i]);
    fputc('\n', stderr);
    abort();
}

#define CHECK(cond, what) do { if (!(cond)) fail(what); } while (0)

static void *grow(void *p, size_t *cap, size_t need, size_t el)
{
    if (need <= *cap)
        return p;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *q = realloc(p, nc * el);
    if (!q)
        abort();
    *cap = nc;
    return q;
}

/* A multiset of hashes: holders counted by the harness. */
typedef struct hlist {
    javm_hash *h;
    size_t n, cap;
} hlist;

static void hl_add(hlist *l, const javm_hash *h)
{
    l->h = grow(l->h, &l->cap, l->n + 1, sizeof *l->h);
    l->h[l->n++] = *h;
}

/* memcmp's order, compared 8 bytes at a time (memcmp is intercepted and traced by libFuzzer:
 * most of the harness's time when it sorted holders with it) */
static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int hash_cmp(const void *a, const void *b)
{
    const uint8_t *x = a, *y = b;
    for (int i = 0; i < 32; i += 8) {
        uint64_t u = be64(x + i), v = be64(y + i);
        if (u != v)
            return u < v ? -1 : 1;
    }
    return 0;
}

/* ---- the fixture --------------------------------------------------------------------------- */

#define MEM_BYTES (6 * 4096u)  /* the top entry's memory compared on a trap: pages 0..5 */
#define NQUOTA 4

typedef struct fix {
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
    javm_vm *vm;
    javm_program *prog;
    javm_memory *base_mem;
    javm_ecall_ctx ctx;
    hlist held;             /* the harness's own holds */
    javm_hash name_target;  /* "fix" names this Instance */
} fix;

static javm_hash put(fix *f, javm_cap *c)
{
    javm_hash h = { { 0 } };
    CHECK(c && javm_cache_put(f->cache, c, &h) == JAVM_OK, "fixture put failed");
    javm_cap_free(c);
    hl_add(&f->held, &h);
    return h;
}

static javm_hash put_data(fix *f, const uint8_t *b, size_t n)
{
    javm_cap *c = NULL;
    CHECK(javm_data_new(b, n, &c) == JAVM_OK, "javm_data_new");
    return put(f, c);
}

static javm_cap *image(const uint8_t *code, uint32_t len, const uint32_t *jt, uint32_t njt)
{
    uint8_t mask[4] = { 0 };
    for (uint32_t i = 0; i < len && i < 32; i++)
        mask[i / 8] |= (uint8_t)(1u << (i % 8)); /* every byte starts an instruction */
    javm_cap *c = NULL;
    javm_endpoint ep = { 0 };
    CHECK(javm_image_new(code, len, mask, (len + 7) / 8, &c) == JAVM_OK, "javm_image_new");
    CHECK(!njt || javm_image_set_jump_table(c, jt, njt) == JAVM_OK, "jump table");
    CHECK(javm_image_add_endpoint(c, &ep) == JAVM_OK, "endpoint");
    return c;
}

static void add_map(javm_cap *img, uint64_t start, uint64_t size, uint8_t flags, int path)
{
    javm_mapping m = { .start = start, .size = size, .flags = flags };
    if (path >= 0) {
        m.path_len = 1;
        m.path[0] = (uint32_t)path;
    }
    CHECK(javm_image_add_mapping(img, &m) == JAVM_OK, "mapping");
}

static javm_hash spawn(fix *f, const javm_hash *img)
{
    javm_hash h;
    CHECK(javm_spawn(f->cache, img, 4, &h) == JAVM_OK, "javm_spawn");
    hl_add(&f->held, &h);
    return h;
}

static javm_host_rc host_ok(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13], javm_memory *mem,
                            int64_t *gas, void *user)
{
    (void)ctx; (void)op; (void)user;
    uint64_t cost = regs[8] & 0xFF;
    if ((uint64_t)*gas < cost)
        return JAVM_HOST_OUT_OF_GAS;
    uint8_t b = (uint8_t)regs[9];
    if (javm_memory_probe(mem, (uint32_t)regs[10] & 0xFFFF, 1, JAVM_ACCESS_WRITE, NULL) != JAVM_OK)
        return JAVM_HOST_TRAP;
    javm_memory_write(mem, (uint32_t)regs[10] & 0xFFFF, 1, &b);
    *gas -= (int64_t)cost;
    regs[7] += 1;
    return JAVM_HOST_CONTINUE;
}

static javm_host_rc host_trap(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13],
                              javm_memory *mem, int64_t *gas, void *user)
{
    (void)ctx; (void)op; (void)regs; (void)mem; (void)gas; (void)user;
    return JAVM_HOST_TRAP;
}

static javm_host_rc host_oog(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13],
                             javm_memory *mem, int64_t *gas, void *user)
{
    (void)ctx; (void)op; (void)regs; (void)mem; (void)gas; (void)user;
    return JAVM_HOST_OUT_OF_GAS;
}

/* The VMs (index 0: max_depth 2, 1: max_depth 4) and the base memory kept between inputs. */
static javm_vm *g_vms[2];
static javm_memory *g_base_mem;
static hlist g_held;

static void fix_init(fix *f, uint32_t max_depth)
{
    static unsigned uses;
    if (++uses % 4096 == 0) {
        /* fresh VMs and base memory now and then: every page an input touched stays
         * resident (zeroed) in the pooled memories */
        for (int i = 0; i < 2; i++) {
            javm_vm_free(g_vms[i]);
            g_vms[i] = NULL;
        }
        javm_memory_free(g_base_mem);
        g_base_mem = NULL;
    }
    memset(f, 0, sizeof *f);
    CHECK(javm_store_mem_new(&f->store) == JAVM_OK, "store");
    CHECK(javm_cache_open(f->store, &f->cache) == JAVM_OK, "cache");
    CHECK(javm_ka_mem_new(&f->ka) == JAVM_OK, "ka");
    javm_vm **vm = &g_vms[max_depth == 4];
    if (!*vm) {
        CHECK(javm_vm_new(vm, max_depth) == JAVM_OK, "vm");
        CHECK(javm_vm_register_host_fn(*vm, 64, host_ok, NULL) == JAVM_OK &&
              javm_vm_register_host_fn(*vm, 65, host_trap, NULL) == JAVM_OK &&
              javm_vm_register_host_fn(*vm, 66, host_oog, NULL) == JAVM_OK, "host fns");
    }
    f->vm = *vm;
    CHECK(f->vm->depth == 0, "a kept VM has a stack");
    javm_vm_clear_image_cache(f->vm);
    if (!g_base_mem)
        CHECK(javm_memory_new(&g_base_mem) == JAVM_OK, "memory");
    f->base_mem = g_base_mem;
    f->held = g_held;
    f->held.n = 0;
    f->ctx = (javm_ecall_ctx){ f->vm, f->cache, f->ka };

    static const uint8_t small[] = "small data", marker[] = "marker", zero[1] = { 0 };
    uint8_t big[5000], page[4096];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + 1);
    memset(page, 0x5A, sizeof page);
    javm_hash d_small = put_data(f, small, sizeof small - 1);
    javm_hash d_marker = put_data(f, marker, sizeof marker - 1);
    javm_hash d_big = put_data(f, big, sizeof big);
    javm_hash d_empty = put_data(f, zero, 0);
    javm_cap *c = NULL;
    javm_hash missing_page;
    javm_blake2b("not resident", 12, &missing_page);
    CHECK(javm_data_new_paged(8192, &c) == JAVM_OK && javm_data_page_load(c, 0, page) == JAVM_OK &&
          javm_data_page_missing(c, 1, &missing_page) == JAVM_OK, "paged data");
    javm_hash d_missing = put(f, c);
    javm_hash chain;
    javm_blake2b("fuzz type", 9, &chain);
    CHECK(javm_type_new(&chain, &c) == JAVM_OK, "type");
    javm_hash type = put(f, c);
    CHECK(javm_cnode_new(3, &c) == JAVM_OK, "cnode");
    javm_key k = javm_key_of_hash(&d_small);
    CHECK(javm_cnode_set_slot(c, 1, &k) == JAVM_OK, "cnode slot");
    k = javm_key_of_hash(&type);
    CHECK(javm_cnode_set_slot(c, 5, &k) == JAVM_OK, "cnode slot");
    javm_hash cnode = put(f, c);

    /* Image B: pinned slot 12, one writable mapping; Image "bad": a jump-table entry past the
     * code (javm_prepare refuses it: SET_IMAGE traps DECODE). */
    static const uint8_t code[] = { 0x00, 0x01 };
    c = image(code, 2, NULL, 0);
    add_map(c, 0, 8192, 1, -1);
    CHECK(javm_image_add_pinned(c, 12, &type) == JAVM_OK, "pinned");
    javm_hash img_b = put(f, c);
    static const uint32_t bad_jt[] = { 7 };
    javm_hash img_bad = put(f, image(code, 1, bad_jt, 1));
    javm_hash inst_b = spawn(f, &img_b);

    /* Image A: memory [0, 8192) RW from slot 3's Data, [16384, 20480) RO; pinned 9, the
     * fixture's caps in slots 1..8 and 10. */
    c = image(code, 1, NULL, 0);
    add_map(c, 0, 8192, 1, 3);
    add_map(c, 16384, 4096, 0, -1);
    CHECK(javm_image_add_pinned(c, 9, &d_small) == JAVM_OK, "pinned");
    const javm_hash *init[] = { &inst_b, &img_b, &d_small, &cnode, &type, &d_big, &d_marker,
                                &img_bad, NULL, &d_missing };
    for (uint32_t s = 1; s <= 10; s++)
        if (init[s - 1])
            CHECK(javm_image_add_initial(c, s, init[s - 1]) == JAVM_OK, "initial");
    javm_hash img_a = put(f, c);
    javm_hash inst_a = spawn(f, &img_a);

    /* Kernel assist: files 1 (Data) and 2 (a Type), quotas, a catcher catching d_marker. */
    CHECK(javm_ka_mem_register_file(f->ka, f->cache, 1, &d_small) == JAVM_OK &&
          javm_ka_mem_register_file(f->ka, f->cache, 2, &type) == JAVM_OK, "files");
    f->ka->vtbl->storage_quota_set(f->ka, 0, 1u << 20);
    f->ka->vtbl->storage_quota_set(f->ka, 1, 4);
    javm_hash catcher;
    CHECK(javm_yield_catcher_new(f->cache, f->ka, &catcher) == JAVM_OK, "catcher");
    hl_add(&f->held, &catcher);
    CHECK(javm_yield_catcher_add(f->cache, f->ka, &catcher, &d_marker) == JAVM_OK, "catcher add");
    CHECK(javm_name_set(f->cache, (const uint8_t *)"fix", 3, &inst_a) == JAVM_OK, "name");
    f->name_target = inst_a;

    /* The base entry: unaccounted, slot 1 the Instance, slot 0 handed to the child, slot 13
     * the catcher (its yield marker slot). */
    static const uint8_t bm = 1;
    CHECK(javm_prepare(code, 1, &bm, NULL, 0, NULL, &f->prog) == JAVM_OK, "prepare");
    const uint32_t ids[] = { 0, 1, 13 };
    const javm_hash vals[] = { d_empty, inst_a, catcher };
    javm_test_entry t = { .size_log = 4, .slot_ids = ids, .slot_vals = vals, .n_slots = 3,
                          .chain = img_a, .image_hash = img_a, .program = f->prog,
                          .has_yield_marker = true, .yield_marker_slot = 13 };
    CHECK(javm_vm_push_test_entry(f->vm, &t) == JAVM_OK, "push_test_entry");
}

static void fix_fini(fix *f)
{
    javm_abort(f->vm, f->cache, f->ka);
    CHECK(f->vm->depth == 0, "javm_abort left a stack");
    javm_vm_clear_image_cache(f->vm); /* its programs hold nothing of this input's cache */
    javm_program_free(f->prog);
    javm_memory_reset(f->base_mem);
    javm_ka_free(f->ka);
    javm_cache_close(f->cache);
    javm_store_close(f->store);
    g_held = f->held;
}

/* ---- snapshots ----------------------------------------------------------------------------- */

typedef struct blob_rc {
    javm_hash h;
    uint32_t rc;
} blob_rc;

typedef struct file_rec {
    uint64_t id;
    javm_hash h;
} file_rec;

typedef struct entry_snap {
    bool is_ref, accounted;
    javm_hash chain, image;
    const javm_program *program;
    uint8_t size_log;
    vm_slot *slots;
    uint32_t nslots;
    uint32_t *pinned;
    uint32_t npinned;
    size_t capslots, cappinned;
} entry_snap;

typedef struct snap {
    blob_rc *blobs;
    size_t nblobs, capblobs;
    hlist edges;            /* every edge of every blob */
    size_t working;
    uint64_t quota[NQUOTA + 2];
    uint64_t qid[NQUOTA + 2];
    file_rec *files;
    size_t nfiles, capfiles;
    uint64_t next_file_id;
    uint32_t depth;
    entry_snap entries[8];
    uint64_t regs[13];
    int64_t gas;
    javm_perm perm[MEM_BYTES / 4096];
    uint8_t mem[MEM_BYTES];
} snap;

static void add_edges(hlist *l, const javm_cap *c)
{
    switch (c->kind) {
    case JAVM_KIND_INSTANCE:
        hl_add(l, &c->instance.image_hash);
        hl_add(l, &c->instance.root_cnode.hash);
        for (uint32_t i = 0; i < c->instance.n_overlays; i++)
            hl_add(l, &c->instance.overlays[i].data);
        break;
    case JAVM_KIND_IMAGE:
        for (uint32_t i = 0; i < c->image.n_pinned; i++)
            hl_add(l, &c->image.pinned[i].cap);
        for (uint32_t i = 0; i < c->image.n_initial; i++)
            hl_add(l, &c->image.initial[i].cap);
        break;
    case JAVM_KIND_CNODE:
        for (uint32_t i = 0; i < c->cnode.n_slots; i++) {
            CHECK(c->cnode.slots[i].target.tag == JAVM_KEY_HASH, "a blob CNode holds a REF");
            hl_add(l, &c->cnode.slots[i].target.hash);
        }
        break;
    default:
        break;
    }
}

static int snap_blob(void *arg, const javm_hash *h, const javm_cap *c, uint32_t rc)
{
    snap *s = arg;
    s->blobs = grow(s->blobs, &s->capblobs, s->nblobs + 1, sizeof *s->blobs);
    s->blobs[s->nblobs++] = (blob_rc){ *h, rc };
    add_edges(&s->edges, c);
    return 0;
}

static int snap_file(void *arg, uint64_t id, const javm_hash *h)
{
    snap *s = arg;
    s->files = grow(s->files, &s->capfiles, s->nfiles + 1, sizeof *s->files);
    s->files[s->nfiles++] = (file_rec){ id, *h };
    return 0;
}

static javm_memory *top_mem(fix *f)
{
    javm_vm *vm = f->vm;
    if (vm->depth && !vm->stack[vm->depth - 1].is_ref && vm->stack[vm->depth - 1].st.mem)
        return vm->stack[vm->depth - 1].st.mem;
    return f->base_mem;
}

/* Everything §7.2 says a trap leaves alone. qa, qb: the quota ids the op may name. The
 * snapshot's buffers (from an earlier snap_take, or zero) are reused: only counts reset. */
static void snap_take(snap *s, fix *f, const uint64_t *regs, int64_t gas, uint64_t qa, uint64_t qb)
{
    s->nblobs = s->edges.n = s->nfiles = 0;
    s->working = 0;
    s->next_file_id = 0;
    s->depth = 0;
    memset(s->quota, 0, sizeof s->quota);
    memset(s->regs, 0, sizeof s->regs);
    memset(s->perm, 0, sizeof s->perm);
    memset(s->mem, 0, sizeof s->mem);
    javm_cache_iter_blobs(f->cache, snap_blob, s);
    s->working = javm_cache_working_count(f->cache);
    for (uint64_t q = 0; q < NQUOTA; q++)
        s->qid[q] = q;
    s->qid[NQUOTA] = qa;
    s->qid[NQUOTA + 1] = qb;
    for (int q = 0; q < NQUOTA + 2; q++)
        s->quota[q] = f->ka->vtbl->storage_quota_get(f->ka, s->qid[q]);
    f->ka->vtbl->file_iter(f->ka, snap_file, s);
    s->next_file_id = javm_ka_mem_next_file_id(f->ka);
    s->depth = f->vm->depth;
    CHECK(s->depth <= 8, "deeper stack than the fixture allows");
    for (uint32_t i = 0; i < s->depth; i++) {
        const vm_entry *e = &f->vm->stack[i];
        entry_snap *es = &s->entries[i];
        es->is_ref = e->is_ref;
        es->accounted = e->accounted;
        es->nslots = es->npinned = 0;
        if (e->is_ref)
            continue;
        es->chain = e->chain;
        es->image = e->image_hash;
        es->program = e->program;
        es->size_log = e->size_log;
        es->nslots = e->nslots;
        es->slots = grow(es->slots, &es->capslots, e->nslots, sizeof *es->slots);
        es->npinned = e->npinned;
        es->pinned = grow(es->pinned, &es->cappinned, e->npinned, sizeof *es->pinned);
        if (e->nslots)
            memcpy(es->slots, e->slots, e->nslots * sizeof *es->slots);
        if (e->npinned)
            memcpy(es->pinned, e->pinned, e->npinned * sizeof *es->pinned);
    }
    if (regs)
        memcpy(s->regs, regs, sizeof s->regs);
    s->gas = gas;
    javm_memory *m = top_mem(f);
    for (uint32_t p = 0; p < MEM_BYTES / 4096; p++) {
        s->perm[p] = javm_memory_get_perm(m, p);
        if (s->perm[p] != JAVM_PERM_NONE)
            javm_memory_peek(m, p * 4096, 4096, s->mem + p * 4096);
    }
}


/* s as it is after snap_take with other registers and quota ids, nothing having run since. */
static void snap_retarget(snap *s, fix *f, const uint64_t *regs, uint64_t qa, uint64_t qb)
{
    memcpy(s->regs, regs, sizeof s->regs);
    s->qid[NQUOTA] = qa;
    s->qid[NQUOTA + 1] = qb;
    for (int q = NQUOTA; q < NQUOTA + 2; q++)
        s->quota[q] = f->ka->vtbl->storage_quota_get(f->ka, s->qid[q]);
}

static void snap_equal(const snap *a, const snap *b, bool stack_and_regs)
{
    CHECK(a->nblobs == b->nblobs, "blob count changed");
    for (size_t i = 0; i < a->nblobs; i++) {
        CHECK(memcmp(&a->blobs[i].h, &b->blobs[i].h, sizeof a->blobs[i].h) == 0, "blob set changed");
        CHECK(a->blobs[i].rc == b->blobs[i].rc, "a refcount changed");
    }
    CHECK(a->working == b->working, "working tier changed");
    for (int q = 0; q < NQUOTA + 2; q++)
        CHECK(a->quota[q] == b->quota[q], "a quota changed");
    CHECK(a->nfiles == b->nfiles && (a->nfiles == 0 ||
          memcmp(a->files, b->files, a->nfiles * sizeof *a->files) == 0), "file map changed");
    CHECK(a->next_file_id == b->next_file_id, "next_file_id changed");
    if (!stack_and_regs)
        return;
    CHECK(a->depth == b->depth, "stack depth changed");
    for (uint32_t i = 0; i < a->depth; i++) {
        const entry_snap *x = &a->entries[i], *y = &b->entries[i];
        CHECK(x->is_ref == y->is_ref && x->accounted == y->accounted, "entry kind changed");
        if (x->is_ref)
            continue;
        CHECK(memcmp(&x->chain, &y->chain, sizeof x->chain) == 0 &&
              memcmp(&x->image, &y->image, sizeof x->image) == 0 && x->program == y->program,
              "entry image changed");
        CHECK(x->size_log == y->size_log && x->nslots == y->nslots && x->npinned == y->npinned,
              "entry shape changed");
        for (uint32_t k = 0; k < x->nslots; k++)
            CHECK(x->slots[k].slot == y->slots[k].slot &&
                  memcmp(&x->slots[k].h, &y->slots[k].h, sizeof x->slots[k].h) == 0, "a slot changed");
        CHECK(x->npinned == 0 || memcmp(x->pinned, y->pinned, x->npinned * sizeof *x->pinned) == 0,
              "pinned slots changed");
    }
    CHECK(memcmp(a->regs, b->regs, sizeof a->regs) == 0, "registers changed");
    CHECK(a->gas == b->gas, "gas changed");
    CHECK(memcmp(a->perm, b->perm, sizeof a->perm) == 0, "page permissions changed");
    CHECK(memcmp(a->mem, b->mem, sizeof a->mem) == 0, "memory changed");
}

/* §5.2: every blob's refcount is its holders, counted from the snapshot's edges, the accounted
 * entries, the file records, the name and the harness's own holds. */
static hlist g_all; /* check_holders' list; its buffer is reused */

static void check_holders(fix *f, const snap *s)
{
    hlist all = g_all;
    all.n = 0;
    for (size_t i = 0; i < s->edges.n; i++)
        hl_add(&all, &s->edges.h[i]);
    for (uint32_t i = 0; i < s->depth; i++) {
        const entry_snap *e = &s->entries[i];
        if (e->is_ref || !e->accounted)
            continue;
        hl_add(&all, &e->image);
        for (uint32_t k = 0; k < e->nslots; k++)
            hl_add(&all, &e->slots[k].h);
    }
    for (size_t i = 0; i < s->nfiles; i++)
        hl_add(&all, &s->files[i].h);
    hl_add(&all, &f->name_target);
    for (size_t i = 0; i < f->held.n; i++)
        hl_add(&all, &f->held.h[i]);
    if (all.n)
        qsort(all.h, all.n, sizeof *all.h, hash_cmp);
    CHECK(s->working == 0, "a working entry outlived an op");
    /* Both lists are sorted: walk them together. */
    size_t j = 0;
    for (size_t i = 0; i < s->nblobs; i++) {
        while (j < all.n && hash_cmp(&all.h[j], &s->blobs[i].h) < 0) {
            fail("a holder names no live blob");
        }
        uint32_t n = 0;
        while (j < all.n && hash_cmp(&all.h[j], &s->blobs[i].h) == 0) {
            n++;
            j++;
        }
        if (n != s->blobs[i].rc) {
            char hex[65];
            javm_hash_to_hex(&s->blobs[i].h, hex);
            const javm_cap *c = javm_cache_get_hash(f->cache, &s->blobs[i].h);
            fprintf(stderr, "blob %s (kind %#x): refcount %u, holders %u\n", hex,
                    c ? (unsigned)c->kind : 0u, s->blobs[i].rc, n);
            fail("a refcount is not its number of holders");
        }
    }
    CHECK(j == all.n, "a holder names no live blob");
    g_all = all;
}

/* ---- input decoding ------------------------------------------------------------------------ */

typedef struct rd {
    const uint8_t *p;
    size_t n, off;
} rd;

static uint8_t rd_u8(rd *r) { return r->off < r->n ? r->p[r->off++] : 0; }

static uint64_t rd_u64(rd *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)rd_u8(r) << (8 * i);
    return v;
}

/* Op byte: < 200 ops 0..30 (assigned and a few unassigned), 200..239 ops 64..67, else raw u32. */
static uint32_t rd_op(rd *r)
{
    uint8_t b = rd_u8(r);
    if (b < 200)
        return b % 31u;
    if (b < 240)
        return 64u + b % 4u;
    return (uint32_t)rd_u64(r);
}

/* Register byte: slot numbers and small lengths below 0x80, page-ish addresses, values near
 * 2^32 and near 2^64, or a raw u64 after 0xFF. */
static uint64_t rd_reg(rd *r)
{
    uint8_t b = rd_u8(r);
    if (b < 0x80)
        return b;
    if (b < 0xC0)
        return (uint64_t)(b & 0x3F) << 10;
    if (b < 0xE0)
        return (UINT64_C(1) << 32) - ((uint64_t)(b & 0x1F) << 8);
    if (b < 0xFF)
        return UINT64_MAX - (b & 0x1F);
    return rd_u64(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_in = data;
    g_len = size;
    g_op = 0;
    rd r = { data, size, 0 };
    uint8_t flags = rd_u8(&r);
    int64_t gas = INT64_C(1) << 40;
    if (flags & 1)
        gas = rd_u8(&r) | (int64_t)rd_u8(&r) << 8;
    fix f;
    fix_init(&f, flags & 2 ? 2 : 4);

    /* before the journal, and before and after each op (buffers reused between inputs) */
    static snap before_journal, sa, sb;
    snap *s0 = &sa, *s1 = &sb;
    snap_take(&before_journal, &f, NULL, 0, 0, 0);
    CHECK(javm_journal_begin(f.cache, f.ka) == JAVM_OK, "journal_begin");

    /* The accounted entry: HOST_CALL of the base entry's slot 1, endpoint 0. */
    uint64_t regs[13] = { 0 };
    regs[7] = 1;
    int64_t call_gas = 1000;
    javm_answer a = javm_dispatch(&f.ctx, JAVM_CALL_ECALLI, JAVM_OP_HOST_CALL, regs, f.base_mem,
                                  &call_gas);
    CHECK(!a.cont && a.exit.reason == JAVM_EXIT_HOST_CALL && f.vm->depth == 2 &&
          f.vm->stack[1].accounted, "fixture HOST_CALL failed");
    snap_take(s1, &f, regs, gas, 0, 0);
    check_holders(&f, s1);

    for (g_op = 1; r.off < r.n && g_op <= 64; g_op++) {
        uint32_t op = rd_op(&r);
        bool ecall = op % 2 == 1 && rd_u8(&r) & 1;
        for (int i = 7; i <= 10; i++)
            regs[i] = rd_reg(&r);
        regs[11] = ecall ? op : regs[11];
        /* the state before this op is the one after the last, with the new registers */
        snap *t0 = s0;
        s0 = s1;
        s1 = t0;
        snap_retarget(s0, &f, regs, regs[9], regs[8]);
        javm_memory *mem = top_mem(&f);
        a = javm_dispatch(&f.ctx, ecall ? JAVM_CALL_ECALL : JAVM_CALL_ECALLI, op, regs, mem, &gas);
        javm_trap t = javm_vm_last_trap(f.vm);
        bool no_effect = !a.cont && (a.exit.reason == JAVM_EXIT_TRAP ||
                                     a.exit.reason == JAVM_EXIT_OUT_OF_GAS);
        CHECK((t != JAVM_TRAP_NONE) == (!a.cont && a.exit.reason == JAVM_EXIT_TRAP),
              "a trap reason without EXIT(TRAP), or the reverse");
        snap_take(s1, &f, regs, gas, s0->qid[NQUOTA], s0->qid[NQUOTA + 1]);
        if (no_effect) {
            /* The answer is compared with the state from before, the memory too: the top entry
             * is the same one (no push on failure). */
            snap_equal(s0, s1, true);
        } else {
            CHECK(gas < s0->gas, "an applied op charged no gas");
            check_holders(&f, s1);
        }
    }

    g_op = 0;
    javm_abort(f.vm, f.cache, f.ka);
    snap_take(s1, &f, NULL, 0, 0, 0);
    snap_equal(&before_journal, s1, false);
    fix_fini(&f);
    return 0;
}
