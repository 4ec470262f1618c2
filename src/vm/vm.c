/* SPDX-License-Identifier: MIT
 * vm/vm.c — the VM (caps.md §6): lifecycle, the image decode cache, call-stack entries and
 * build_entry, spawn, settle of the post-instance, the driver loop, invoke/resume/abort.
 * Internals in vm/vm.h; the ecall dispatcher is vm/dispatch.c. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vm/vm.h"
#include "cache/cache.h"
#include "cap/cap.h"
#include "exec/exec.h"
#include "util/search.h"

/* At most this many reset memories are kept for reuse (each reserves 4 GiB of address
 * space and ~9 MiB of lazily committed bookkeeping). */
#define VM_POOL_MAX 8
/* Largest call-stack capacity a VM accepts (entries are preallocated). */
#define VM_MAX_DEPTH_LIMIT JAVM_MAX_CALL_DEPTH_LIMIT /* javm/limits.h: bounded up-front stack */

static uint64_t round_up(uint64_t x) { return (x + 4095) & ~UINT64_C(4095); }

/* Memory latency M from the mapped size (caps.md §2, pvm.md §7.4). */
static uint32_t latency_for(uint64_t S)
{
    return S <= (UINT64_C(8) << 20) ? 25 : S <= (UINT64_C(32) << 20) ? 50
         : S <= (UINT64_C(256) << 20) ? 75 : 100;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

int javm_vm_new(javm_vm **out, uint32_t max_depth)
{
    if (!out || max_depth > VM_MAX_DEPTH_LIMIT)
        return JAVM_ERR_INVALID_ARG;
    if (max_depth == 0)
        max_depth = JAVM_MAX_CALL_DEPTH;
    if (cap_crypto_init())
        return JAVM_ERR_INTERNAL;
    javm_vm *vm = calloc(1, sizeof *vm);
    if (!vm)
        return JAVM_ERR_ALLOC;
    vm->stack = calloc(max_depth, sizeof *vm->stack);
    if (!vm->stack) {
        free(vm);
        return JAVM_ERR_ALLOC;
    }
    vm->max_depth = max_depth;
    *out = vm;
    return JAVM_OK;
}

int javm_vm_set_engine(javm_vm *vm, javm_engine engine)
{
    if (!vm || (engine != JAVM_ENGINE_AUTO && engine != JAVM_ENGINE_INTERP && engine != JAVM_ENGINE_JIT))
        return JAVM_ERR_INVALID_ARG;
    vm->engine = engine;
    return JAVM_OK;
}

void javm_vm_set_stop(javm_vm *vm, javm_stop *stop)
{
    if (vm)
        vm->stop = stop;
}

void javm_vm_free(javm_vm *vm)
{
    if (!vm)
        return;
    while (vm->depth)
        vm_entry_dispose(vm, &vm->stack[--vm->depth]);
    javm_vm_clear_image_cache(vm);
    free(vm->progs);
    for (size_t i = 0; i < vm->npool; i++)
        javm_memory_free(vm->pool[i]);
    free(vm->pool);
    free(vm->fns);
    free(vm->stack);
    free(vm);
}

void javm_vm_clear_image_cache(javm_vm *vm)
{
    for (size_t i = 0; i < vm->nprogs; i++)
        javm_program_free(vm->progs[i].program);
    vm->nprogs = 0;
}

static vm_prog *find_prog(const javm_vm *vm, const javm_hash *image, uint32_t M)
{
    for (size_t i = 0; i < vm->nprogs; i++)
        if (vm->progs[i].M == M && memcmp(&vm->progs[i].image, image, sizeof *image) == 0)
            return &vm->progs[i];
    return NULL;
}

bool javm_vm_image_cached(const javm_vm *vm, const javm_hash *image, uint32_t M)
{
    return find_prog(vm, image, M) != NULL;
}

size_t javm_vm_image_cache_size(const javm_vm *vm) { return vm->nprogs; }

javm_program *vm_get_or_decode(javm_vm *vm, const javm_hash *hash, const javm_image *img,
                               uint32_t M, int *status)
{
    vm_prog *hit = find_prog(vm, hash, M);
    if (hit)
        return hit->program;
    if (vm->nprogs == vm->capprogs) {
        size_t cap = vm->capprogs ? vm->capprogs * 2 : 8;
        vm_prog *p = realloc(vm->progs, cap * sizeof *p);
        if (!p) {
            *status = JAVM_ERR_ALLOC;
            return NULL;
        }
        vm->progs = p;
        vm->capprogs = cap;
    }
    javm_program *prog;
    javm_prepare_opts o = { JAVM_PROFILE_JAVM, M };
    int rc = javm_prepare(img->code, img->code_len, img->bitmask, img->jump_table, img->jt_count,
                          &o, &prog);
    if (rc) {
        *status = rc;
        return NULL;
    }
    vm->progs[vm->nprogs++] = (vm_prog){ *hash, M, prog };
    return prog;
}

int javm_vm_register_host_fn(javm_vm *vm, uint32_t op, javm_host_fn fn, void *user)
{
    if (op < JAVM_OP_FIRST_EMBEDDER || !fn)
        return JAVM_ERR_INVALID_ARG;
    for (size_t i = 0; i < vm->nfns; i++)
        if (vm->fns[i].op == op)
            return JAVM_ERR_INVALID_ARG;
    vm_hostfn *f = realloc(vm->fns, (vm->nfns + 1) * sizeof *f);
    if (!f)
        return JAVM_ERR_ALLOC;
    vm->fns = f;
    vm->fns[vm->nfns++] = (vm_hostfn){ op, fn, user };
    return JAVM_OK;
}

/* ---- memory pool ------------------------------------------------------------------------ */

static int pool_take(javm_vm *vm, javm_memory **out)
{
    if (vm->npool) {
        *out = vm->pool[--vm->npool];
        return JAVM_OK;
    }
    return javm_memory_new(out);
}

static void pool_give(javm_vm *vm, javm_memory *m)
{
    if (vm->npool == vm->cappool && vm->cappool < VM_POOL_MAX) {
        size_t cap = vm->cappool ? vm->cappool * 2 : 2;
        javm_memory **p = realloc(vm->pool, cap * sizeof *p);
        if (p) {
            vm->pool = p;
            vm->cappool = cap;
        }
    }
    if (vm->npool < vm->cappool) {
        javm_memory_reset(m);
        vm->pool[vm->npool++] = m;
    } else {
        javm_memory_free(m);
    }
}

/* ---- slots ------------------------------------------------------------------------------ */

static uint32_t slot_lower_bound(const vm_entry *e, uint32_t slot)
{
    return (uint32_t)UTIL_LOWER_BOUND(e->slots, e->nslots, slot, slot);
}

const vm_slot *vm_slot_find(const vm_entry *e, uint32_t slot)
{
    uint32_t i = slot_lower_bound(e, slot);
    return i < e->nslots && e->slots[i].slot == slot ? &e->slots[i] : NULL;
}

bool vm_is_pinned(const vm_entry *e, uint32_t slot)
{
    size_t i = util_lower_bound_u32(e->pinned, e->npinned, sizeof *e->pinned, 0, slot);
    return i < e->npinned && e->pinned[i] == slot;
}

int vm_slot_reserve(vm_entry *e, uint32_t extra)
{
    if (e->nslots + extra <= e->capslots)
        return JAVM_OK;
    uint32_t cap = e->capslots ? e->capslots : 8;
    while (cap < e->nslots + extra)
        cap *= 2;
    vm_slot *s = realloc(e->slots, (size_t)cap * sizeof *s);
    if (!s)
        return JAVM_ERR_ALLOC;
    e->slots = s;
    e->capslots = cap;
    return JAVM_OK;
}

int vm_slot_put(vm_entry *e, uint32_t slot, const javm_hash *h)
{
    uint32_t i = slot_lower_bound(e, slot);
    e->slots_changed = true;
    if (i < e->nslots && e->slots[i].slot == slot) {
        e->slots[i].h = *h;
        return JAVM_OK;
    }
    int rc = vm_slot_reserve(e, 1);
    if (rc)
        return rc;
    memmove(&e->slots[i + 1], &e->slots[i], (e->nslots - i) * sizeof *e->slots);
    e->slots[i] = (vm_slot){ slot, *h };
    e->nslots++;
    return JAVM_OK;
}

void vm_slot_clear(vm_entry *e, uint32_t slot)
{
    uint32_t i = slot_lower_bound(e, slot);
    e->slots_changed = true;
    if (i < e->nslots && e->slots[i].slot == slot) {
        memmove(&e->slots[i], &e->slots[i + 1], (e->nslots - i - 1) * sizeof *e->slots);
        e->nslots--;
    }
}

/* ---- entries ---------------------------------------------------------------------------- */

void vm_entry_dispose(javm_vm *vm, vm_entry *e)
{
    javm_program_free(e->program);
    if (e->st.mem)
        pool_give(vm, e->st.mem);
    free(e->slots);
    free(e->pinned);
    for (uint32_t i = 0; e->lays_held && i < e->nlays; i++) {
        const vm_lay *l = &e->lays[i];
        for (uint64_t j = 0; l->chunks && j < cap_chunk_count(l->npages); j++)
            cap_chunk_unref(l->chunks[j]);
        free((javm_chunk **)(uintptr_t)l->chunks);
    }
    free(e->lays);
    memset(e, 0, sizeof *e);
}

void vm_entry_release_holds(javm_cache *cache, vm_entry *e)
{
    if (!e->accounted || !cache)
        return;
    for (uint32_t i = 0; i < e->nslots; i++)
        javm_cache_decref(cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = e->slots[i].h });
    javm_cache_decref(cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = e->image_hash });
    e->accounted = false;
}

int vm_entry_take_holds(javm_cache *cache, vm_entry *e)
{
    uint32_t i;
    int rc = JAVM_OK;
    for (i = 0; i < e->nslots; i++)
        if ((rc = javm_cache_hold(cache, &e->slots[i].h)) != JAVM_OK)
            break;
    if (rc == JAVM_OK && (rc = javm_cache_hold(cache, &e->image_hash)) == JAVM_OK) {
        e->accounted = true;
        return JAVM_OK;
    }
    while (i--)
        javm_cache_decref(cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = e->slots[i].h });
    return rc;
}

/* Copies an Image's pinned slots (already sorted, caps.md §3.2) and yield marker into e. */
static int set_image_fields(vm_entry *e, const javm_image *img)
{
    uint32_t *p = NULL;
    if (img->n_pinned && !(p = malloc(img->n_pinned * sizeof *p)))
        return JAVM_ERR_ALLOC;
    for (uint32_t i = 0; i < img->n_pinned; i++)
        p[i] = img->pinned[i].slot;
    free(e->pinned);
    e->pinned = p;
    e->npinned = img->n_pinned;
    e->has_yield = img->has_yield_marker;
    e->yield_slot = img->yield_marker_slot;
    return JAVM_OK;
}

/* A Paged lay as a content layer (exec_layer): its chunks are the groups, page k's bytes
 * pointer sits in chunk k / 64 at pages[k % 64].bytes. */
static int lay_content(javm_memory *mem, const vm_lay *l)
{
    return exec_memory_layer_content(mem, l->first, l->npages, (const void *const *)l->chunks, CAP_CHUNK_SHIFT,
                                     offsetof(javm_chunk, pages) + offsetof(javm_page, bytes), sizeof(javm_page),
                                     l->npages);
}

/* build_entry step 7, the memory layout (the lookups and checks of steps 1-6 are done): a
 * pooled memory, [0, S) RW, each overlay RW with its logical bytes, read-only mappings, the
 * dirty record cleared. Paged overlays are content layers (exec_layer: their pages are mapped
 * lazily, each when first touched, from the Data's own buffers, borrowed: the Instance being
 * run holds the Data, docs/vm.md), so the layout costs O(overlays + mappings) whatever the
 * mapped size; the one page of an Inline overlay is poked. Each overlay is recorded in
 * e->lays (settle's base leaves). MAP_FAILED or ALLOC (the caller disposes of e either way). */
static int lay_memory(javm_vm *vm, javm_cache *cache, const javm_instance *inst,
                      const javm_image *img, uint64_t S, vm_entry *e)
{
    if (inst->n_overlays && !(e->lays = calloc(inst->n_overlays, sizeof *e->lays)))
        return JAVM_ERR_ALLOC;
    if (pool_take(vm, &e->st.mem) != JAVM_OK)
        return JAVM_ERR_MAP_FAILED;
    javm_memory *mem = e->st.mem;
    int rc = JAVM_OK;
    if (S > 0)
        rc = exec_memory_layer_perm(mem, 0, S, JAVM_PERM_RW);
    for (uint32_t i = 0; rc == JAVM_OK && i < inst->n_overlays; i++) {
        const javm_hash *dh = &inst->overlays[i].data;
        const javm_data *d = &javm_cache_get_hash(cache, dh)->data;
        uint32_t start = inst->overlays[i].start;
        vm_lay *l = &e->lays[e->nlays++];
        *l = (vm_lay){ start >> 12, d->paged ? d->n_pages : 1, !d->paged, d->paged ? d->chunks : NULL, *dh };
        rc = exec_memory_layer_perm(mem, start, round_up(d->size), JAVM_PERM_RW);
        if (rc == JAVM_OK && d->paged && d->n_pages) /* Empty pages read zero; Missing was refused before */
            rc = lay_content(mem, l);
    }
    for (uint32_t i = 0; rc == JAVM_OK && i < img->n_mappings; i++) {
        const javm_mapping *m = &img->mappings[i];
        if (!(m->flags & 1))
            rc = exec_memory_layer_perm(mem, m->start, round_up(m->size), JAVM_PERM_RO);
    }
    /* Inline overlays last: a poke touches its page, which then takes every layer above */
    for (uint32_t i = 0; rc == JAVM_OK && i < inst->n_overlays; i++) {
        const javm_data *d = &javm_cache_get_hash(cache, &inst->overlays[i].data)->data;
        if (!d->paged && d->size && javm_memory_poke(mem, inst->overlays[i].start, d->size, d->bytes))
            rc = JAVM_ERR_MAP_FAILED;
    }
    if (rc != JAVM_OK)
        return rc == JAVM_ERR_ALLOC ? rc : JAVM_ERR_MAP_FAILED;
    javm_memory_clear_dirty(mem);
    return JAVM_OK;
}

/* O(1): a Data in the cache has passed javm_cap_check or the decoder, so its count is exact */
static bool data_has_missing(const javm_data *d)
{
    return d->paged && d->n_missing;
}

/* What steps 1-6 of build_entry found: borrowed from the cache (heap nodes that stay put
 * while held, cache/cache.h), and the prepared program (owned by the decode cache). */
typedef struct entry_src {
    const javm_instance *inst;
    const javm_image *img;
    const javm_cnode *root;
    const javm_endpoint *ep;
    javm_program *prog;
    uint64_t S;
    uint32_t M;
} entry_src;

/* build_entry steps 1-6 (caps.md §6.3), lookups and checks only: nothing is allocated but the
 * decode cache's program. A lookup that failed (store, decode, allocation) is reported as
 * itself, never as an absent cap: trap reason CACHE (or ALLOC) and the lookup's status. */
static int lookup_and_check(javm_vm *vm, javm_cache *cache, const javm_hash *instance_hash,
                            uint32_t endpoint, entry_src *src, javm_trap *trap)
{
    int rc;
    /* 1-3: the Instance, its Image and its root CNode */
    const javm_cap *ic, *imc, *rc_cap;
    if ((rc = cache_get_hash(cache, instance_hash, &ic)) && rc != JAVM_ERR_NOT_FOUND) {
        *trap = vm_trap_of_status(rc);
        return rc;
    }
    if (!ic || ic->kind != JAVM_KIND_INSTANCE) {
        *trap = ic ? JAVM_TRAP_WRONG_KIND : JAVM_TRAP_NOT_FOUND;
        return JAVM_ERR_INSTANCE_NOT_FOUND;
    }
    const javm_instance *inst = &ic->instance;
    if ((rc = cache_get_hash(cache, &inst->image_hash, &imc)) && rc != JAVM_ERR_NOT_FOUND) {
        *trap = vm_trap_of_status(rc);
        return rc;
    }
    if (!imc || imc->kind != JAVM_KIND_IMAGE) {
        *trap = imc ? JAVM_TRAP_WRONG_KIND : JAVM_TRAP_NOT_FOUND;
        return JAVM_ERR_IMAGE_NOT_FOUND;
    }
    const javm_image *img = &imc->image;
    if ((rc = cache_get_key(cache, &inst->root_cnode, &rc_cap)) && rc != JAVM_ERR_NOT_FOUND) {
        *trap = vm_trap_of_status(rc);
        return rc;
    }
    if (!rc_cap || rc_cap->kind != JAVM_KIND_CNODE) {
        *trap = rc_cap ? JAVM_TRAP_WRONG_KIND : JAVM_TRAP_NOT_FOUND;
        return JAVM_ERR_ROOT_CNODE_NOT_FOUND;
    }
    /* 4: endpoint */
    if (endpoint >= img->n_endpoints) {
        *trap = JAVM_TRAP_NO_ENDPOINT;
        return JAVM_ERR_NO_SUCH_ENDPOINT;
    }
    /* 5: memory latency and the prepared program */
    uint64_t S = round_up(inst->mem_size);
    uint32_t M = latency_for(S);
    int prc = JAVM_OK;
    javm_program *prog = vm_get_or_decode(vm, &inst->image_hash, img, M, &prc);
    if (!prog) {
        *trap = prc == JAVM_ERR_ALLOC ? JAVM_TRAP_ALLOC : JAVM_TRAP_DECODE;
        return prc == JAVM_ERR_ALLOC ? JAVM_ERR_ALLOC : JAVM_ERR_DECODE_FAILED;
    }
    /* 6: every overlay's Data is present in full */
    for (uint32_t i = 0; i < inst->n_overlays; i++) {
        const javm_cap *dc;
        if ((rc = cache_get_hash(cache, &inst->overlays[i].data, &dc)) || dc->kind != JAVM_KIND_DATA) {
            *trap = rc ? vm_trap_of_status(rc) : JAVM_TRAP_CACHE;
            if (rc == JAVM_ERR_NOT_FOUND)
                *trap = JAVM_TRAP_CACHE; /* impossible through put: docs/vm.md */
            return rc ? rc : JAVM_ERR_NOT_FOUND;
        }
        if (data_has_missing(&dc->data)) {
            *trap = JAVM_TRAP_DATA_MISSING;
            return JAVM_ERR_DATA_MISSING;
        }
    }
    *src = (entry_src){ inst, img, &rc_cap->cnode, &img->endpoints[endpoint], prog, S, M };
    return JAVM_OK;
}

int vm_build_entry(javm_vm *vm, javm_cache *cache, const javm_hash *instance_hash,
                   uint32_t endpoint, const uint64_t args[4], vm_entry *e, javm_trap *trap)
{
    int rc;
    memset(e, 0, sizeof *e);
    entry_src src;
    /* 1-6: lookups and checks */
    if ((rc = lookup_and_check(vm, cache, instance_hash, endpoint, &src, trap)))
        return rc;
    const javm_instance *inst = src.inst;
    const javm_cnode *root = src.root;
    const javm_endpoint *ep = src.ep;
    /* 7: memory, on the embedder path */
    *trap = JAVM_TRAP_ALLOC;
    if ((rc = lay_memory(vm, cache, inst, src.img, src.S, e)) != JAVM_OK)
        goto fail;
    /* 8: registers */
    e->st.pc = (uint32_t)ep->entry_pc;
    for (int i = 0; i < JAVM_NUM_REGS; i++)
        e->st.regs[i] = inst->regs[i] ? inst->regs[i] : ep->initial_regs[i];
    for (int i = 0; i < 4; i++)
        e->st.regs[7 + i] = args ? args[i] : 0;
    /* 10 (without holds): the working cnode, pinned slots, yield marker */
    rc = JAVM_ERR_ALLOC;
    if (vm_slot_reserve(e, root->n_slots + 1) || set_image_fields(e, src.img))
        goto fail;
    for (uint32_t i = 0; i < root->n_slots; i++)
        e->slots[i] = (vm_slot){ root->slots[i].slot, root->slots[i].target.hash };
    e->nslots = root->n_slots;
    e->size_log = root->size_log;
    e->has_root_hash = inst->root_cnode.tag == JAVM_KEY_HASH;
    e->root_hash = inst->root_cnode.hash;
    e->instance_hash = *instance_hash;
    e->chain = inst->image_hash_chain;
    e->image_hash = inst->image_hash;
    e->M = src.M;
    e->program = javm_program_ref(src.prog);
    *trap = JAVM_TRAP_NONE;
    return JAVM_OK;
fail:
    vm_entry_dispose(vm, e);
    return rc;
}

/* ---- spawn (caps.md §6.8) --------------------------------------------------------------- */

/* Resolves a mapping's source path from root: *out is the Data it names, or NULL (no
 * overlay). A lookup that fails other than by absence returns its status. */
static int resolve_path(javm_cache *cache, const javm_cap *root, const javm_mapping *m,
                        const javm_cap **out)
{
    const javm_cap *node = root;
    *out = NULL;
    for (uint32_t step = 0; step < m->path_len; step++) {
        if (!node || node->kind != JAVM_KIND_CNODE)
            return JAVM_OK;
        const javm_key *t = javm_cnode_get_slot(node, m->path[step]);
        if (!t || t->tag != JAVM_KEY_HASH)
            return JAVM_OK;
        int rc = cache_get_hash(cache, &t->hash, &node);
        if (rc && rc != JAVM_ERR_NOT_FOUND)
            return rc;
    }
    if (node && node->kind == JAVM_KIND_DATA)
        *out = node;
    return JAVM_OK;
}

int vm_spawn_layout(javm_cache *cache, const javm_image *img, javm_cap *root, bool fill_only_empty,
                    javm_cap *inst)
{
    uint64_t nslots = UINT64_C(1) << root->cnode.size_log;
    for (uint32_t i = 0; i < img->n_pinned; i++) {
        if (img->pinned[i].slot >= nslots)
            return JAVM_ERR_SLOT_OUT_OF_RANGE;
        int rc = javm_cnode_set_slot(root, img->pinned[i].slot,
                                     &(javm_key){ .tag = JAVM_KEY_HASH, .hash = img->pinned[i].cap });
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < img->n_initial; i++) {
        if (img->initial[i].slot >= nslots)
            return JAVM_ERR_SLOT_OUT_OF_RANGE;
        if (fill_only_empty && javm_cnode_get_slot(root, img->initial[i].slot))
            continue;
        int rc = javm_cnode_set_slot(root, img->initial[i].slot,
                                     &(javm_key){ .tag = JAVM_KEY_HASH, .hash = img->initial[i].cap });
        if (rc)
            return rc;
    }
    uint64_t mem_size = 0;
    for (uint32_t i = 0; i < img->n_mappings; i++) {
        const javm_mapping *m = &img->mappings[i];
        uint64_t end = m->start + m->size;
        if (end > mem_size)
            mem_size = end;
        if (m->path_len == 0)
            continue;
        const javm_cap *dc;
        int prc = resolve_path(cache, root, m, &dc);
        if (prc)
            return prc;
        if (!dc)
            continue;
        if (data_has_missing(&dc->data))
            return JAVM_ERR_DATA_MISSING;
        if (dc->data.size > m->size)
            return JAVM_ERR_DATA_TOO_LARGE;
        if (dc->data.size > 0) {
            javm_hash h;
            int rc = javm_cap_hash(dc, &h);
            if (rc == JAVM_OK)
                rc = javm_instance_add_overlay(inst, (uint32_t)m->start, &h);
            if (rc)
                return rc;
        }
    }
    inst->instance.mem_size = mem_size > UINT32_MAX ? UINT32_MAX : (uint32_t)mem_size;
    return JAVM_OK;
}

int javm_spawn(javm_cache *cache, const javm_hash *image_hash, unsigned root_size_log,
               javm_hash *out)
{
    int rc;
    javm_cap *root = NULL, *inst = NULL, *img = NULL;
    const javm_cap *imc = NULL;
    if (!cache || !image_hash)
        return JAVM_ERR_IMAGE_NOT_FOUND;
    if ((rc = cache_get_hash(cache, image_hash, &imc)) && rc != JAVM_ERR_NOT_FOUND)
        return rc;
    if (!imc || imc->kind != JAVM_KIND_IMAGE)
        return JAVM_ERR_IMAGE_NOT_FOUND;
    if (root_size_log > JAVM_CNODE_MAX_SIZE_LOG)
        return JAVM_ERR_INVALID_CNODE_SIZE;
    javm_hash root_hash;
    bool root_held = false;
    if ((rc = javm_cap_clone(imc, &img)) || (rc = javm_cnode_new(root_size_log, &root)) ||
        (rc = javm_instance_new(image_hash, image_hash, &(javm_key){ .tag = JAVM_KEY_HASH }, &inst)))
        goto done;
    if ((rc = vm_spawn_layout(cache, &img->image, root, false, inst)))
        goto done;
    if ((rc = javm_cache_put(cache, root, &root_hash)))
        goto done;
    root_held = true;
    inst->instance.root_cnode = javm_key_of_hash(&root_hash);
    rc = javm_cache_put(cache, inst, out);
done:
    if (root_held)
        javm_cache_decref(cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = root_hash });
    javm_cap_free(root);
    javm_cap_free(inst);
    javm_cap_free(img);
    return rc;
}

/* ---- settle of the post-instance (caps.md §6.5) ----------------------------------------- */

/* The lay holding page pg (NULL: none). */
static const vm_lay *lay_at(const vm_entry *e, uint64_t pg)
{
    size_t i = UTIL_LOWER_BOUND(e->lays, e->nlays, first, pg + 1);
    if (i == 0)
        return NULL;
    const vm_lay *l = &e->lays[i - 1];
    return pg - l->first < l->npages ? l : NULL;
}

/* A page of a region whose value settle computed: bytes NULL for Empty, else a buffer of
 * 4096 bytes (one reference, owned) and its hash. */
typedef struct snap_page {
    uint64_t i;
    uint8_t *bytes;
    javm_hash hash;
} snap_page;

typedef struct snap {
    snap_page *p;
    size_t n, cap;
} snap;

static void snap_free(snap *s)
{
    for (size_t j = 0; j < s->n; j++)
        if (s->p[j].bytes)
            cap_page_unref(s->p[j].bytes);
    free(s->p);
}

static int snap_cmp(const void *a, const void *b)
{
    uint64_t x = ((const snap_page *)a)->i, y = ((const snap_page *)b)->i;
    return (x > y) - (x < y);
}

/* The computed page i, or NULL when page i has its base value. */
static snap_page *snap_find(const snap *s, uint64_t i)
{
    size_t j = UTIL_LOWER_BOUND(s->p, s->n, i, i);
    return j < s->n && s->p[j].i == i ? &s->p[j] : NULL;
}

/* How many computed pages lie below page n of the region. */
static size_t snap_count_below(const snap *s, uint64_t n)
{
    return UTIL_LOWER_BOUND(s->p, s->n, i, n);
}

/* The pages of region [start, start + size) whose value is not their base value, each
 * computed (caps.md §6.5 step 3). The base value of a page is the base leaf build_entry laid
 * there (a Loaded page of a Paged overlay: its buffer and hash, shared) or Empty without one.
 * An untouched page has its base value (the layers mapped it from that leaf, or not at all),
 * and so has a touched one that is whole, mapped, not dirty and not an Inline overlay's; the
 * others (dirty, unmapped, the partial last page, an Inline overlay's page) are read from
 * memory and hashed, Empty when unmapped or all zero. Cost: O(pages touched), never O(region)
 * (issue 13 item 2). */
static int region_changes(javm_vm *vm, const vm_entry *e, uint64_t start, uint64_t size, snap *out)
{
    javm_memory *mem = e->st.mem;
    uint64_t first = start >> 12, npages = (size + JAVM_PAGE_SIZE - 1) / JAVM_PAGE_SIZE;
    bool partial = size % JAVM_PAGE_SIZE != 0;
    snap s = { 0 };
    int rc = JAVM_OK;
    for (size_t t = 0; t <= mem->ntouched && rc == JAVM_OK; t++) {
        uint64_t i;
        if (t < mem->ntouched) {
            uint32_t pg = mem->touched[t];
            const vm_lay *l = lay_at(e, pg);
            i = (uint64_t)pg - first;
            if (i >= npages || ((!partial || i + 1 < npages) && !(l && l->reread) &&
                                !javm_memory_is_dirty(mem, pg) &&
                                javm_memory_get_perm(mem, pg) != JAVM_PERM_NONE))
                continue;
        } else if (partial) {
            i = npages - 1; /* the partial last page, touched or not */
        } else {
            break;
        }
        if (s.n == s.cap) {
            size_t c = s.cap ? s.cap * 2 : 8;
            snap_page *p = realloc(s.p, c * sizeof *p);
            if (!p) {
                rc = JAVM_ERR_ALLOC;
                break;
            }
            s.p = p;
            s.cap = c;
        }
        s.p[s.n++] = (snap_page){ i, NULL, { { 0 } } };
    }
    if (rc == JAVM_OK && s.n > 1) {
        qsort(s.p, s.n, sizeof *s.p, snap_cmp);
        size_t w = 1; /* the partial last page may also be touched */
        for (size_t j = 1; j < s.n; j++)
            if (s.p[j].i != s.p[w - 1].i)
                s.p[w++] = s.p[j];
        s.n = w;
    }
    for (size_t j = 0; j < s.n && rc == JAVM_OK; j++) {
        uint64_t addr = start + s.p[j].i * JAVM_PAGE_SIZE;
        if (javm_memory_get_perm(mem, (uint32_t)(addr >> 12)) == JAVM_PERM_NONE)
            continue; /* unmapped: reads as zero */
        uint64_t n = addr + JAVM_PAGE_SIZE <= start + size ? JAVM_PAGE_SIZE : start + size - addr;
        const vm_lay *l = lay_at(e, addr >> 12);
        const javm_page *bp = l && !l->reread ? vm_lay_page(l, (addr >> 12) - l->first) : NULL;
        vm->settle_pages_read++;
        if (n == JAVM_PAGE_SIZE && bp && bp->state == JAVM_PAGE_LOADED &&
            memcmp(exec_memory_page_bytes(mem, (uint32_t)(addr >> 12)), bp->bytes, JAVM_PAGE_SIZE) == 0) {
            s.p[j].i = UINT64_MAX; /* written back as it was: the base leaf, no copy, no hash */
            continue;
        }
        uint8_t *b = cap_page_alloc();
        if (!b) {
            rc = JAVM_ERR_ALLOC;
            break;
        }
        javm_memory_peek(mem, (uint32_t)addr, n, b);
        memset(b + n, 0, (size_t)(JAVM_PAGE_SIZE - n));
        if (n < JAVM_PAGE_SIZE && bp && bp->state == JAVM_PAGE_LOADED && memcmp(b, bp->bytes, JAVM_PAGE_SIZE) == 0) {
            cap_page_unref(b); /* the partial last page, unchanged */
            s.p[j].i = UINT64_MAX;
            continue;
        }
        if (cap_all_zero(b, JAVM_PAGE_SIZE)) {
            cap_page_unref(b);
            continue;
        }
        s.p[j].bytes = b;
        javm_blake2b(b, JAVM_PAGE_SIZE, &s.p[j].hash);
    }
    size_t w = 0; /* drop the pages found equal to their base leaf */
    for (size_t j = 0; j < s.n; j++)
        if (s.p[j].i != UINT64_MAX)
            s.p[w++] = s.p[j];
    s.n = w;
    if (rc != JAVM_OK) {
        snap_free(&s);
        return rc;
    }
    *out = s;
    return JAVM_OK;
}

/* The last non-Empty page of the region's new value (false: all Empty): the last computed
 * page with bytes, or a base leaf above it that no computed page replaces. Walks down from
 * the region's end only through the lays' pages (usually one step: a canonical Paged Data's
 * last page is Loaded). */
static bool region_last(const vm_entry *e, uint64_t first, uint64_t npages, const snap *s, uint64_t *last)
{
    bool has = false;
    for (size_t j = s->n; j-- > 0;)
        if (s->p[j].bytes) {
            *last = s->p[j].i;
            has = true;
            break;
        }
    size_t li = UTIL_LOWER_BOUND(e->lays, e->nlays, first, first + npages);
    for (size_t x = li; x-- > 0;) {
        const vm_lay *l = &e->lays[x];
        if (l->first + l->npages <= first)
            break; /* lays are disjoint and sorted: the rest lie below the region */
        if (l->reread)
            continue;
        uint64_t lo = l->first > first ? l->first : first;
        uint64_t hi = l->first + l->npages < first + npages ? l->first + l->npages : first + npages;
        for (uint64_t pg = hi; pg-- > lo;) {
            uint64_t i = pg - first;
            if (has && i <= *last)
                return true;
            if (!snap_find(s, i) && vm_lay_page(l, pg - l->first)->state == JAVM_PAGE_LOADED) {
                *last = i;
                return true;
            }
        }
    }
    return has;
}

/* Snapshots region [start, start + size) into a canonical Data (caps.md §6.5 step 3) put in
 * the cache with one hold: *has false (nothing put) when the region is all zero. When the
 * region starts at a Paged overlay with as many pages as the new value, the new Data is
 * derived from that overlay's Data: it shares every chunk (and its Merkle cache) but those of
 * the computed pages, which are copied and changed, so building and hashing it cost O(pages
 * changed x their paths) plus O(pages / 64) pointers (cap_data_derive). A Data already live
 * in the cache under the new hash (the value did not change, or came back to one still held)
 * is taken as it is. Otherwise the page list is built page by page (O(pages)). */
static int snapshot_region(javm_vm *vm, javm_cache *cache, const vm_entry *e, uint64_t start,
                           uint64_t size, javm_hash *out, bool *has)
{
    uint64_t first = start >> 12, npages = (size + JAVM_PAGE_SIZE - 1) / JAVM_PAGE_SIZE, last = 0;
    snap s;
    int rc = region_changes(vm, e, start, size, &s);
    if (rc)
        return rc;
    *has = region_last(e, first, npages, &s, &last);
    if (!*has) {
        snap_free(&s);
        return JAVM_OK;
    }
    const snap_page *lp = snap_find(&s, last);
    const vm_lay *ll = lp ? NULL : lay_at(e, first + last); /* region_last found a base leaf */
    const uint8_t *lastb = lp ? lp->bytes : vm_lay_page(ll, first + last - ll->first)->bytes;
    uint64_t dsize = last * JAVM_PAGE_SIZE + javm_strip_len(lastb, JAVM_PAGE_SIZE);
    javm_cap *d = NULL;
    javm_hash h, root;
    if (dsize <= JAVM_DATA_INLINE_MAX) { /* last == 0: lastb is page 0 */
        if ((rc = javm_data_new(lastb, dsize, &d)) == JAVM_OK && (rc = javm_cap_hash(d, &h)) == JAVM_OK &&
            (rc = cache_put_owned_hashed(cache, d, &h, out)) == JAVM_OK)
            d = NULL;
        goto done;
    }
    uint64_t n = last + 1;
    const vm_lay *base = lay_at(e, first);
    if (base && base->first == first && !base->reread && base->npages == n) {
        /* no page computed: the base value itself, no Data built */
        if (snap_count_below(&s, n) == 0 && cache_hold_live(cache, &base->data) == JAVM_OK) {
            vm->settle_reused++;
            *out = base->data;
            goto done;
        }
        /* derived: the base's chunks, the computed pages put in (copying their chunks) */
        const javm_cap *bc = cache_peek_live(cache, &base->data);
        const javm_hash *top = bc && bc->kind == JAVM_KIND_DATA && bc->data.paged && bc->data.n_pages == n &&
                                       bc->data.chunks == base->chunks ? bc->data.top : NULL;
        if ((rc = cap_data_derive(base->chunks, n, 0, top, &d)))
            goto done;
        vm->settle_derived++;
        for (size_t j = 0; j < s.n && s.p[j].i < n; j++) {
            javm_page *p = cap_data_page_mut(&d->data, s.p[j].i);
            if (!p) {
                rc = JAVM_ERR_ALLOC;
                goto done;
            }
            cap_page_unref(p->bytes);
            if (s.p[j].bytes) {
                *p = (javm_page){ JAVM_PAGE_LOADED, s.p[j].bytes, s.p[j].hash };
                s.p[j].bytes = NULL; /* moved into d */
            } else {
                *p = cap_page_empty;
            }
        }
        vm->settle_pages_shared += n - (uint64_t)snap_count_below(&s, n);
    } else {
        /* a new page list: the base leaves shared by reference, the computed pages moved in */
        vm->tree_misses++;
        if ((rc = javm_data_new_paged(n * JAVM_PAGE_SIZE, &d)))
            goto done;
        for (size_t x = UTIL_LOWER_BOUND(e->lays, e->nlays, first, first + n); x-- > 0;) {
            const vm_lay *l = &e->lays[x];
            if (l->first + l->npages <= first)
                break;
            if (l->reread)
                continue;
            uint64_t lo = l->first > first ? l->first : first;
            uint64_t hi = l->first + l->npages < first + n ? l->first + l->npages : first + n;
            for (uint64_t pg = lo; pg < hi; pg++) {
                const javm_page *bp = vm_lay_page(l, pg - l->first);
                if (bp->state != JAVM_PAGE_LOADED || snap_find(&s, pg - first))
                    continue;
                javm_page *p = cap_data_page_mut(&d->data, pg - first);
                if (!p) {
                    rc = JAVM_ERR_ALLOC;
                    goto done;
                }
                cap_page_ref(bp->bytes);
                *p = *bp;
                vm->settle_pages_shared++;
            }
        }
        for (size_t j = 0; j < s.n && s.p[j].i < n; j++) {
            if (!s.p[j].bytes)
                continue;
            javm_page *p = cap_data_page_mut(&d->data, s.p[j].i);
            if (!p) {
                rc = JAVM_ERR_ALLOC;
                goto done;
            }
            *p = (javm_page){ JAVM_PAGE_LOADED, s.p[j].bytes, s.p[j].hash };
            s.p[j].bytes = NULL; /* moved into d */
        }
    }
    d->data.size = dsize;
    if ((rc = cap_data_pages_root(&d->data, &root, &vm->tree_nodes)))
        goto done;
    cap_data_hash_of_root(dsize, &root, &h);
    if (cache_hold_live(cache, &h) == JAVM_OK) {
        vm->settle_reused++;
        *out = h;
        goto done;
    }
    if ((rc = cache_put_owned_hashed(cache, d, &h, out)) == JAVM_OK)
        d = NULL;
done:
    javm_cap_free(d);
    snap_free(&s);
    return rc;
}

/* Settles the base entry on HALT and pops it: result slot 0, post-instance (caller holds 1). */
static int settle_post_instance(javm_vm *vm, javm_cache *cache, javm_call_result *res)
{
    vm_entry *e = &vm->stack[vm->depth - 1];
    int rc;
    javm_cap *cn = NULL, *inst = NULL;
    javm_hash cnode_hash, *held = NULL;
    size_t nheld = 0;
    /* 1: slot 0 out unless pinned; its hold moves to the result */
    const vm_slot *s0 = vm_slot_find(e, 0);
    res->has_slot0 = s0 && !vm_is_pinned(e, 0);
    if (res->has_slot0) {
        res->slot0 = s0->h;
        vm_slot_clear(e, 0);
    }
    const javm_cap *imc;
    if ((rc = cache_get_hash(cache, &e->image_hash, &imc)) && rc != JAVM_ERR_NOT_FOUND)
        goto done;
    rc = JAVM_ERR_IMAGE_NOT_FOUND;
    if (!imc || imc->kind != JAVM_KIND_IMAGE)
        goto done;
    /* img stays valid across the puts below: the entry holds the Image and cache entries are
     * heap nodes that never move (cache/cache.h) */
    const javm_image *img = &imc->image;
    rc = JAVM_ERR_ALLOC;
    if (!(held = malloc((img->n_mappings + 1) * sizeof *held)))
        goto done;
    /* 2: the cnode blob: the root CNode build_entry read, while no slot changed (the same
     * slots and size give the same blob), else built from the slots and put */
    if (!e->slots_changed && e->has_root_hash && cache_hold_live(cache, &e->root_hash) == JAVM_OK) {
        cnode_hash = e->root_hash;
        vm->settle_cnode_reused++;
    } else {
        if ((rc = javm_cnode_new(e->size_log, &cn)))
            goto done;
        for (uint32_t i = 0; i < e->nslots; i++)
            if ((rc = javm_cnode_set_slot(cn, e->slots[i].slot, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = e->slots[i].h })))
                goto done;
        if ((rc = javm_cache_put(cache, cn, &cnode_hash)))
            goto done;
    }
    held[nheld++] = cnode_hash;
    if ((rc = javm_instance_new(&e->chain, &e->image_hash, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = cnode_hash }, &inst)))
        goto done;
    /* 3-4: memory snapshot per mapping, mem_size from the mappings */
    uint64_t mem_size = 0;
    for (uint32_t i = 0; i < img->n_mappings; i++) {
        const javm_mapping *m = &img->mappings[i];
        if (m->start + m->size > mem_size)
            mem_size = m->start + m->size;
        javm_hash dh;
        bool has;
        if ((rc = snapshot_region(vm, cache, e, m->start, m->size, &dh, &has)))
            goto done;
        if (!has)
            continue;
        held[nheld++] = dh;
        if ((rc = javm_instance_add_overlay(inst, (uint32_t)m->start, &dh)))
            goto done;
    }
    inst->instance.mem_size = mem_size > UINT32_MAX ? UINT32_MAX : (uint32_t)mem_size;
    memcpy(inst->instance.regs, e->st.regs, sizeof inst->instance.regs);
    /* 5: the Instance; the temporary holds go (its edges keep those blobs) */
    if ((rc = javm_cache_put(cache, inst, &res->post_instance)))
        goto done;
    /* 6: release the entry's holds and pop it */
    vm_entry_release_holds(cache, e);
    vm_entry_dispose(vm, e);
    vm->depth--;
done:
    for (size_t i = 0; i < nheld; i++)
        javm_cache_decref(cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = held[i] });
    free(held);
    javm_cap_free(cn);
    javm_cap_free(inst);
    return rc;
}

/* ---- the driver (caps.md §6.6, §6.7) ---------------------------------------------------- */

/* Drops every entry, releasing the holds of accounted ones. */
static void discard_stack(javm_vm *vm, javm_cache *cache)
{
    while (vm->depth) {
        vm_entry *e = &vm->stack[--vm->depth];
        vm_entry_release_holds(cache, e);
        vm_entry_dispose(vm, e);
    }
}

/* Moves a slot value's hold from one entry to another (caps.md §6.2): between accounted
 * entries the hold moves; into an accounted entry from an unaccounted one a fresh hold is
 * taken; the reverse releases it. */
static int move_hold(javm_cache *cache, bool from_acc, bool to_acc, const javm_hash *h)
{
    if (!from_acc && to_acc)
        return javm_cache_hold(cache, h);
    if (from_acc && !to_acc)
        javm_cache_decref(cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = *h });
    return JAVM_OK;
}

int vm_entry_hold_lays(vm_entry *e)
{
    if (e->st.mem)
        exec_memory_materialize(e->st.mem);
    if (e->lays_held)
        return JAVM_OK;
    javm_chunk ***copies = calloc(e->nlays ? e->nlays : 1, sizeof *copies);
    if (!copies)
        return JAVM_ERR_ALLOC;
    for (uint32_t i = 0; i < e->nlays; i++) {
        const vm_lay *l = &e->lays[i];
        uint64_t nc = cap_chunk_count(l->npages);
        if (l->chunks && nc && !(copies[i] = malloc((size_t)nc * sizeof *copies[i]))) {
            for (uint32_t j = 0; j < i; j++)
                free(copies[j]);
            free(copies);
            return JAVM_ERR_ALLOC;
        }
    }
    for (uint32_t i = 0; i < e->nlays; i++) {
        vm_lay *l = &e->lays[i];
        if (!copies[i])
            continue;
        uint64_t nc = cap_chunk_count(l->npages);
        memcpy(copies[i], l->chunks, (size_t)nc * sizeof *copies[i]);
        for (uint64_t j = 0; j < nc; j++)
            if (copies[i][j])
                cap_chunk_ref(copies[i][j]);
        l->chunks = copies[i];
        if (e->st.mem)
            exec_memory_layer_repoint(e->st.mem, l->first, (const void *const *)l->chunks);
    }
    free(copies);
    e->lays_held = true;
    return JAVM_OK;
}

static int drive(javm_vm *vm, javm_cache *cache, javm_ka *ka, javm_call_result *res)
{
    for (;;) {
        vm_entry *e = &vm->stack[vm->depth - 1];
        javm_ecall_ctx ctx = { vm, cache, ka };
        e->st.gas = vm->gas;
        e->st.engine = vm->engine;
        e->st.stop = vm->stop;
        javm_exit ex = javm_run(e->program, &e->st, JAVM_GAS_PIPELINE, javm_dispatch, &ctx);
        vm->gas = e->st.gas; /* the entry that ran; entries never move */
        e = &vm->stack[vm->depth - 1]; /* the top may have changed (HOST_CALL, HOST_YIELD) */
        res->gas_used = (uint64_t)(vm->gas_start - vm->gas);
        if (ex.reason == JAVM_EXIT_HOST_CALL &&
            (ex.arg == JAVM_OP_SET_IMAGE || ex.arg == JAVM_OP_HOST_CALL))
            continue; /* new program, or a child pushed: run the top again */
        if (ex.reason == JAVM_EXIT_HOST_CALL && ex.arg == JAVM_OP_HOST_YIELD) {
            /* The embedder may release the Instances while paused: copy borrowed pages in */
            int hrc = JAVM_OK;
            for (uint32_t i = 0; i < vm->depth && hrc == JAVM_OK; i++)
                hrc = vm_entry_hold_lays(&vm->stack[i]);
            if (hrc != JAVM_OK) {
                discard_stack(vm, cache);
                javm_journal_abort(cache, ka);
                return hrc; /* made a fault by error_result */
            }
            res->kind = JAVM_RES_PAUSED;
            res->marker = e->marker;
            res->catcher_position = e->target_position;
            return javm_journal_suspend(cache);
        }
        if (ex.reason == JAVM_EXIT_HALT && vm->depth > 1) {
            /* a child halts: slot 0 and φ7 go back to the parent */
            vm_entry *child = e, *parent = &vm->stack[vm->depth - 2];
            const vm_slot *s0 = vm_slot_find(child, 0);
            bool has_v = s0 && !vm_is_pinned(child, 0);
            javm_hash v = has_v ? s0->h : (javm_hash){ { 0 } };
            uint64_t r = child->st.regs[7];
            int rc = JAVM_OK;
            if (has_v) {
                rc = vm_slot_reserve(parent, 1);
                if (rc == JAVM_OK)
                    rc = move_hold(cache, child->accounted, parent->accounted, &v);
                if (rc == JAVM_OK)
                    vm_slot_clear(child, 0); /* the hold left with v */
            }
            if (rc != JAVM_OK) {
                res->kind = JAVM_RES_FAULT;
                res->fault_reason = JAVM_EXIT_TRAP;
                res->trap = vm_trap_of_status(rc);
                discard_stack(vm, cache);
                javm_journal_abort(cache, ka);
                return JAVM_OK;
            }
            vm_entry_release_holds(cache, child);
            vm_entry_dispose(vm, child);
            vm->depth--;
            if (has_v)
                vm_slot_put(parent, 0, &v); /* reserved above: cannot fail */
            parent->st.regs[7] = r;
            continue;
        }
        if (ex.reason == JAVM_EXIT_HALT) {
            uint64_t ret = e->st.regs[7]; /* settle pops the entry */
            int rc = settle_post_instance(vm, cache, res);
            if (rc == JAVM_OK && vm->has_name)
                rc = javm_name_set(cache, vm->name, vm->name_len, &res->post_instance);
            if (rc != JAVM_OK) {
                discard_stack(vm, cache);
                javm_journal_abort(cache, ka);
                return rc; /* the result is made a fault by error_result */
            }
            res->kind = JAVM_RES_HALT;
            res->return_value = ret;
            return javm_journal_commit(cache, ka); /* on failure: aborted, made a fault */
        }
        res->kind = JAVM_RES_FAULT;
        res->fault_reason = (int)ex.reason;
        res->fault_addr = ex.reason == JAVM_EXIT_PAGE_FAULT ? ex.arg : 0;
        res->trap = ex.reason == JAVM_EXIT_TRAP ? vm->last_trap : JAVM_TRAP_NONE;
        discard_stack(vm, cache);
        javm_journal_abort(cache, ka);
        return JAVM_OK;
    }
}

/* Every non-OK return of invoke and resume leaves a result that cannot be mistaken for a
 * HALT (JAVM_RES_HALT is 0): a FAULT(TRAP) with the reason (the one build_entry or an op
 * gave, else the status's), gas_used kept, nothing else filled (issue 13 item 9). */
static int error_result(javm_call_result *res, int rc)
{
    if (rc == JAVM_OK || !res)
        return rc;
    javm_trap t = res->kind == JAVM_RES_FAULT && res->trap ? res->trap : vm_trap_of_status(rc);
    uint64_t gas_used = res->gas_used;
    memset(res, 0, sizeof *res);
    res->kind = JAVM_RES_FAULT;
    res->fault_reason = JAVM_EXIT_TRAP;
    res->trap = t;
    res->gas_used = gas_used;
    return rc;
}

static int invoke(javm_vm *vm, javm_cache *cache, javm_ka *ka, const javm_hash *instance_hash,
                  uint32_t endpoint, const uint64_t args[4], uint64_t gas,
                  const javm_hash *slot0_in, const javm_invoke_opts *opts, javm_call_result *res)
{
    if (!vm || !res || !instance_hash)
        return JAVM_ERR_INVALID_ARG;
    if (vm->depth)
        return JAVM_ERR_BUSY;
    if (!cache || gas > (uint64_t)INT64_MAX ||
        (opts && opts->name && (opts->name_len == 0 || opts->name_len > JAVM_NAME_MAX)))
        return JAVM_ERR_INVALID_ARG;
    if (javm_journal_is_open(cache))
        return JAVM_ERR_BUSY;
    memset(res, 0, sizeof *res);
    vm->has_name = opts && opts->name;
    if (vm->has_name) {
        memcpy(vm->name, opts->name, opts->name_len);
        vm->name_len = opts->name_len;
    }
    vm->last_trap = JAVM_TRAP_NONE;
    int rc = javm_journal_begin(cache, ka);
    if (rc)
        return rc;
    vm->cache = cache;
    vm->cache_epoch = cache->epoch;
    if (vm->has_name) {
        javm_hash cur;
        if (javm_name_get(cache, vm->name, vm->name_len, &cur) != JAVM_OK ||
            memcmp(&cur, instance_hash, sizeof cur) != 0) {
            rc = JAVM_ERR_CONFLICT;
            goto abort;
        }
    }
    vm_entry *e = &vm->stack[0];
    javm_trap trap;
    if ((rc = vm_build_entry(vm, cache, instance_hash, endpoint, args, e, &trap))) {
        res->kind = JAVM_RES_FAULT;
        res->trap = trap;
        goto abort;
    }
    if ((rc = vm_entry_take_holds(cache, e))) {
        vm_entry_dispose(vm, e);
        goto abort;
    }
    vm->depth = 1;
    if (slot0_in) {
        const javm_cap *s0c;
        if ((rc = cache_get_hash(cache, slot0_in, &s0c)))
            goto discard;
        rc = JAVM_ERR_SLOT_PINNED;
        if (vm_is_pinned(e, 0))
            goto discard;
        if ((rc = vm_slot_reserve(e, 1)) || (rc = javm_cache_hold(cache, slot0_in)))
            goto discard;
        const vm_slot *old = vm_slot_find(e, 0);
        if (old)
            javm_cache_decref(cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = old->h });
        vm_slot_put(e, 0, slot0_in);
    }
    vm->gas = (int64_t)gas;
    vm->gas_start = (int64_t)gas;
    return drive(vm, cache, ka, res);
discard:
    discard_stack(vm, cache);
abort:
    javm_journal_abort(cache, ka);
    return rc;
}

int javm_invoke(javm_vm *vm, javm_cache *cache, javm_ka *ka, const javm_hash *instance_hash,
                uint32_t endpoint, const uint64_t args[4], uint64_t gas, const javm_hash *slot0_in,
                const javm_invoke_opts *opts, javm_call_result *res)
{
    if (res)
        memset(res, 0, sizeof *res);
    return error_result(res, invoke(vm, cache, ka, instance_hash, endpoint, args, gas, slot0_in,
                                    opts, res));
}

/* The paused invocation's journal is the one open on this cache (same cache, same epoch). */
static bool vm_owns_journal(const javm_vm *vm, const javm_cache *cache)
{
    return cache && cache == vm->cache && cache->journal && cache->epoch == vm->cache_epoch;
}

static int resume(javm_vm *vm, javm_cache *cache, javm_ka *ka, const javm_hash *scratch,
                  javm_call_result *res)
{
    if (!vm || !cache || !res)
        return JAVM_ERR_INVALID_ARG;
    if (vm->depth < 2 || !vm->stack[vm->depth - 1].is_ref)
        return JAVM_ERR_NOT_PAUSED;
    if (!vm_owns_journal(vm, cache))
        return JAVM_ERR_INVALID_ARG;
    vm_entry *y = &vm->stack[vm->depth - 2];
    if (scratch) {
        const javm_cap *sc;
        int grc = cache_get_hash(cache, scratch, &sc);
        if (grc)
            return grc;
        if (vm_is_pinned(y, 0))
            return JAVM_ERR_SLOT_PINNED;
    }
    int rc = javm_journal_resume(cache);
    if (rc) {
        javm_abort(vm, cache, ka);
        return rc;
    }
    memset(res, 0, sizeof *res);
    vm->depth--; /* pop the reference entry */
    if (scratch) {
        if ((rc = vm_slot_reserve(y, 1)) || (y->accounted && (rc = javm_cache_hold(cache, scratch)))) {
            javm_abort(vm, cache, ka);
            return rc;
        }
        const vm_slot *old = vm_slot_find(y, 0);
        if (old && y->accounted)
            javm_cache_decref(cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = old->h });
        vm_slot_put(y, 0, scratch);
    }
    return drive(vm, cache, ka, res);
}

int javm_resume(javm_vm *vm, javm_cache *cache, javm_ka *ka, const javm_hash *scratch,
                javm_call_result *res)
{
    if (res)
        memset(res, 0, sizeof *res);
    return error_result(res, resume(vm, cache, ka, scratch, res));
}

void javm_abort(javm_vm *vm, javm_cache *cache, javm_ka *ka)
{
    if (vm && vm->depth && vm->cache && cache != vm->cache)
        return; /* another cache: releasing holds there would corrupt it (issue 13 item 5) */
    if (vm && vm->depth && vm->cache && !vm_owns_journal(vm, cache)) {
        discard_stack(vm, NULL); /* its journal is gone and took the entries' holds with it */
        return;
    }
    discard_stack(vm, cache);
    if (cache)
        javm_journal_abort(cache, ka);
}

/* ---- test harness and inspection -------------------------------------------------------- */

int javm_vm_push_test_entry(javm_vm *vm, const javm_test_entry *t)
{
    if (vm->depth >= vm->max_depth || t->size_log > JAVM_CNODE_MAX_SIZE_LOG || !t->program)
        return JAVM_ERR_INVALID_ARG;
    vm_entry *e = &vm->stack[vm->depth];
    memset(e, 0, sizeof *e);
    int rc = JAVM_ERR_ALLOC;
    if (vm_slot_reserve(e, (uint32_t)t->n_slots + 1))
        goto fail;
    e->size_log = t->size_log;
    for (size_t i = 0; i < t->n_slots; i++)
        if ((rc = vm_slot_put(e, t->slot_ids[i], &t->slot_vals[i])))
            goto fail;
    e->chain = t->chain;
    e->image_hash = t->image_hash;
    e->M = t->M ? t->M : 25;
    e->program = javm_program_ref(t->program);
    e->has_yield = t->has_yield_marker;
    e->yield_slot = t->yield_marker_slot;
    vm->depth++;
    if ((rc = javm_vm_top_set_pinned(vm, t->pinned, t->n_pinned))) {
        vm->depth--;
        goto fail;
    }
    return JAVM_OK;
fail:
    vm_entry_dispose(vm, e);
    return rc;
}

static vm_entry *top_instance(const javm_vm *vm)
{
    if (!vm->depth || vm->stack[vm->depth - 1].is_ref)
        return NULL;
    return &vm->stack[vm->depth - 1];
}

uint32_t javm_vm_depth(const javm_vm *vm) { return vm->depth; }

int javm_vm_top_slot_get(const javm_vm *vm, uint32_t slot, javm_hash *h)
{
    const vm_entry *e = top_instance(vm);
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    if ((uint64_t)slot >= (UINT64_C(1) << e->size_log))
        return JAVM_ERR_SLOT_OUT_OF_RANGE;
    const vm_slot *s = vm_slot_find(e, slot);
    if (!s)
        return JAVM_ERR_NOT_FOUND;
    *h = s->h;
    return JAVM_OK;
}

int javm_vm_top_slot_set(javm_vm *vm, uint32_t slot, const javm_hash *h)
{
    vm_entry *e = top_instance(vm);
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    if ((uint64_t)slot >= (UINT64_C(1) << e->size_log))
        return JAVM_ERR_SLOT_OUT_OF_RANGE;
    if (!h) {
        vm_slot_clear(e, slot);
        return JAVM_OK;
    }
    return vm_slot_put(e, slot, h);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int javm_vm_top_set_pinned(javm_vm *vm, const uint32_t *pinned, size_t n)
{
    vm_entry *e = top_instance(vm);
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    uint32_t *p = NULL;
    if (n && !(p = malloc(n * sizeof *p)))
        return JAVM_ERR_ALLOC;
    if (n) { /* qsort and memcpy on NULL are undefined even with n == 0 */
        memcpy(p, pinned, n * sizeof *p);
        qsort(p, n, sizeof *p, cmp_u32);
    }
    free(e->pinned);
    e->pinned = p;
    e->npinned = (uint32_t)n;
    return JAVM_OK;
}

const uint32_t *javm_vm_top_pinned(const javm_vm *vm, size_t *n)
{
    const vm_entry *e = top_instance(vm);
    *n = e ? e->npinned : 0;
    return e ? e->pinned : NULL;
}

int javm_vm_top_yield_slot(const javm_vm *vm, bool *has, uint32_t *slot)
{
    const vm_entry *e = top_instance(vm);
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    *has = e->has_yield;
    *slot = e->yield_slot;
    return JAVM_OK;
}

int javm_vm_top_info(const javm_vm *vm, javm_hash *chain, javm_hash *image_hash,
                     const javm_program **program, uint8_t *size_log)
{
    const vm_entry *e = top_instance(vm);
    if (!e)
        return JAVM_ERR_NOT_FOUND;
    if (chain)
        *chain = e->chain;
    if (image_hash)
        *image_hash = e->image_hash;
    if (program)
        *program = e->program;
    if (size_log)
        *size_log = e->size_log;
    return JAVM_OK;
}

javm_trap javm_vm_last_trap(const javm_vm *vm) { return vm->last_trap; }
