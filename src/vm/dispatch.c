/* SPDX-License-Identifier: MIT
 * vm/dispatch.c — the ecall dispatcher (caps.md §7): routing, then for each op its checks in
 * the spec's order with the gas check G last, then effects that cannot fail (a fallible one
 * comes first and is undone on failure). A failing op answers EXIT(TRAP), changes nothing and
 * records the reason; an op short of gas answers EXIT(OUT_OF_GAS) and changes nothing. */
#include <stdlib.h>
#include <string.h>

#include "vm/vm.h"
#include "cache/cache.h"

/* Everything an op needs, built once per dispatch. */
typedef struct op {
    javm_ecall_ctx *ctx;
    javm_vm *vm;
    javm_cache *cache;
    javm_ka *ka;
    vm_entry *E;          /* the running instance entry, or NULL */
    uint64_t *regs;
    javm_memory *mem;
    int64_t *gas;
    int64_t charge;       /* what G computed, deducted when the op applies */
} op;

static const javm_answer CONTINUE = { true, { JAVM_EXIT_HALT, 0 } };

static javm_answer trap(op *o, javm_trap t)
{
    o->vm->last_trap = t;
    return (javm_answer){ false, { JAVM_EXIT_TRAP, 0 } };
}

static javm_answer exit_with(javm_exit_reason r, uint32_t arg)
{
    return (javm_answer){ false, { r, arg } };
}

const char *javm_trap_name(javm_trap t)
{
    static const char *const names[] = {
        "NONE", "NO_ENTRY", "NO_CACHE", "NO_KA", "SLOT_RANGE", "SLOT_EMPTY", "SLOT_PINNED",
        "NOT_FOUND", "WRONG_KIND", "BAD_SIZE_LOG", "QUOTA", "MEMORY", "DATA_MISSING",
        "DATA_TOO_LARGE", "DECODE", "COLLISION", "UNKNOWN_FILE", "STACK_FULL",
        "UNHANDLED_MARKER", "NO_ENDPOINT", "UNASSIGNED_OP", "NOT_IMPLEMENTED", "HOST_FN",
        "ALLOC", "CACHE",
    };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

javm_trap vm_trap_of_status(int status)
{
    switch (status) {
    case JAVM_ERR_NOT_FOUND: return JAVM_TRAP_NOT_FOUND;
    case JAVM_ERR_WRONG_KIND: return JAVM_TRAP_WRONG_KIND;
    case JAVM_ERR_ALLOC: return JAVM_TRAP_ALLOC;
    case JAVM_ERR_DATA_MISSING: return JAVM_TRAP_DATA_MISSING;
    case JAVM_ERR_DATA_TOO_LARGE: return JAVM_TRAP_DATA_TOO_LARGE;
    case JAVM_ERR_SLOT_OUT_OF_RANGE: return JAVM_TRAP_SLOT_RANGE;
    default: return JAVM_TRAP_CACHE;
    }
}

/* ---- checks (caps.md §7.3) -------------------------------------------------------------- */

static bool in_range(const vm_entry *E, uint64_t s) { return s < (UINT64_C(1) << E->size_log); }

/* G(b): the charge JAVM_GAS_ECALL + ceil(b / 32) fits the gas counter. */
static bool gas_ok(op *o, uint64_t b)
{
    o->charge = JAVM_GAS_ECALL + (int64_t)((b + JAVM_GAS_BYTES_PER_UNIT - 1) / JAVM_GAS_BYTES_PER_UNIT);
    return *o->gas >= o->charge;
}

/* The op applies: deduct G and continue. */
static javm_answer applied(op *o)
{
    *o->gas -= o->charge;
    return CONTINUE;
}

static javm_answer out_of_gas(void) { return exit_with(JAVM_EXIT_OUT_OF_GAS, 0); }

/* is(h, kind): present (NOT_FOUND) and of that kind (WRONG_KIND). */
static javm_trap is_kind(op *o, const javm_hash *h, javm_kind kind, const javm_cap **out)
{
    const javm_cap *c;
    int rc = cache_get_hash(o->cache, h, &c);
    if (rc) /* a failed load is not an absent cap: CACHE (or ALLOC) */
        return vm_trap_of_status(rc);
    if (c->kind != kind)
        return JAVM_TRAP_WRONG_KIND;
    if (out)
        *out = c;
    return JAVM_TRAP_NONE;
}

/* mem(addr, n, mode): addr + n <= 2^32 and the guest-checked probe succeeds; n = 0 passes. */
static bool mem_ok(op *o, uint64_t addr, uint64_t n, javm_access mode)
{
    if (n == 0)
        return true;
    /* n first: addr + n wraps for n near 2^64 (HOST_MINT_DATA_CAP took len = 2^64 - 30) */
    return n <= (UINT64_C(1) << 32) && addr <= (UINT64_C(1) << 32) - n &&
           javm_memory_probe(o->mem, (uint32_t)addr, n, mode, NULL) == JAVM_OK;
}

static void release(javm_cache *cache, const javm_hash *h)
{
    javm_cache_decref(cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = *h });
}

/* write(s, h) (caps.md §6.2): on an accounted entry the slot takes its hold (a new one unless
 * the caller passes one, have_hold) and then the old value is released. On an unaccounted
 * entry no hold is taken or released. Slot storage must be reserved, so only the hold can
 * fail. */
static int slot_write(op *o, uint32_t s, const javm_hash *h, bool have_hold)
{
    vm_entry *E = o->E;
    if (E->accounted && !have_hold) {
        int rc = javm_cache_hold(o->cache, h);
        if (rc)
            return rc;
    }
    const vm_slot *old = vm_slot_find(E, s);
    if (old && E->accounted)
        release(o->cache, &old->h);
    vm_slot_put(E, s, h);
    return JAVM_OK;
}

/* Empties slot s, releasing its value on an accounted entry. */
static void slot_empty(op *o, uint32_t s)
{
    const vm_slot *old = vm_slot_find(o->E, s);
    if (old && o->E->accounted)
        release(o->cache, &old->h);
    vm_slot_clear(o->E, s);
}

/* An accounted entry keeps holds, which needs the cache; ops 1-4 and 20 otherwise work
 * uncached (caps.md §7.7). */
static bool holds_possible(op *o) { return !o->E->accounted || o->cache; }

#define CHECK(cond, t) do { if (!(cond)) return trap(o, (t)); } while (0)
#define NEED_E() CHECK(o->E, JAVM_TRAP_NO_ENTRY)
#define NEED_C() CHECK(o->cache, JAVM_TRAP_NO_CACHE)
#define NEED_K() CHECK(o->ka, JAVM_TRAP_NO_KA)
#define RANGE(s) CHECK(in_range(o->E, (s)), JAVM_TRAP_SLOT_RANGE)
#define FULL(s) CHECK(vm_slot_find(o->E, (s)), JAVM_TRAP_SLOT_EMPTY)
#define FREE(s) CHECK(!vm_is_pinned(o->E, (s)), JAVM_TRAP_SLOT_PINNED)
#define IS(h, kind, out) do { javm_trap t_ = is_kind(o, (h), (kind), (out)); if (t_) return trap(o, t_); } while (0)
#define RESERVE(n) CHECK(vm_slot_reserve(o->E, (n)) == JAVM_OK, JAVM_TRAP_ALLOC)
#define G(b) do { if (!gas_ok(o, (b))) return out_of_gas(); } while (0)

/* ---- MGMT (caps.md §7.4) ---------------------------------------------------------------- */

static javm_answer op_copy_move(op *o, bool move)
{
    uint32_t a = o->regs[7] & 0xFF, b = o->regs[8] & 0xFF;
    NEED_E();
    CHECK(holds_possible(o), JAVM_TRAP_NO_CACHE);
    RANGE(a); RANGE(b); FULL(a); FREE(a); FREE(b);
    RESERVE(1);
    G(0);
    javm_hash v = vm_slot_find(o->E, a)->h;
    if (move) {
        if (a != b) {
            vm_slot_clear(o->E, a);
            slot_write(o, b, &v, true); /* the hold moves with v */
        }
    } else {
        int rc = slot_write(o, b, &v, false);
        if (rc)
            return trap(o, vm_trap_of_status(rc));
    }
    return applied(o);
}

static javm_answer op_drop(op *o)
{
    uint32_t a = o->regs[7] & 0xFF;
    NEED_E();
    CHECK(holds_possible(o), JAVM_TRAP_NO_CACHE);
    RANGE(a); FREE(a);
    G(0);
    slot_empty(o, a);
    return applied(o);
}

static javm_answer op_swap(op *o)
{
    uint32_t a = o->regs[7] & 0xFF, b = o->regs[8] & 0xFF;
    NEED_E();
    RANGE(a); RANGE(b); FREE(a); FREE(b);
    RESERVE(1);
    G(0);
    const vm_slot *sa = vm_slot_find(o->E, a), *sb = vm_slot_find(o->E, b);
    bool ha = sa != NULL, hb = sb != NULL;
    javm_hash va = ha ? sa->h : (javm_hash){ { 0 } }, vb = hb ? sb->h : (javm_hash){ { 0 } };
    vm_slot_clear(o->E, a);
    vm_slot_clear(o->E, b);
    if (hb)
        vm_slot_put(o->E, a, &vb);
    if (ha)
        vm_slot_put(o->E, b, &va);
    return applied(o);
}

static javm_answer op_cnode_mint(op *o)
{
    uint32_t a = o->regs[7] & 0xFF;
    uint64_t size_log = o->regs[8] & 0xFF;
    NEED_C(); NEED_E();
    RANGE(a); FREE(a);
    CHECK(size_log <= JAVM_CNODE_MAX_SIZE_LOG, JAVM_TRAP_BAD_SIZE_LOG);
    RESERVE(1);
    G(0);
    javm_cap *cn;
    javm_hash h;
    int rc = javm_cnode_new((unsigned)size_log, &cn);
    if (rc == JAVM_OK) {
        rc = javm_cache_put(o->cache, cn, &h);
        javm_cap_free(cn);
    }
    if (rc)
        return trap(o, vm_trap_of_status(rc));
    slot_write(o, a, &h, true); /* the put's hold becomes the slot's */
    return applied(o);
}

/* ---- host calls without cache access (caps.md §7.5) ------------------------------------- */

static javm_answer op_yield(op *o)
{
    javm_vm *vm = o->vm;
    uint32_t m = o->regs[7] & 0xFF;
    NEED_E(); NEED_K();
    RANGE(m); FULL(m);
    CHECK(vm->depth + 1 <= vm->max_depth, JAVM_TRAP_STACK_FULL);
    javm_hash x = vm_slot_find(o->E, m)->h;
    uint32_t pos = UINT32_MAX;
    for (uint32_t i = vm->depth - 1; i-- > 0;) {
        const vm_entry *c = &vm->stack[i];
        if (c->is_ref || !c->has_yield)
            continue;
        const vm_slot *cs = vm_slot_find(c, c->yield_slot);
        if (cs && o->ka->vtbl->yield_catcher_contains(o->ka, &cs->h, &x)) {
            pos = i;
            break;
        }
    }
    CHECK(pos != UINT32_MAX, JAVM_TRAP_UNHANDLED_MARKER);
    G(0);
    vm_entry *r = &vm->stack[vm->depth++];
    memset(r, 0, sizeof *r);
    r->is_ref = true;
    r->target_position = pos;
    r->marker = x;
    *o->gas -= o->charge;
    return exit_with(JAVM_EXIT_HOST_CALL, JAVM_OP_HOST_YIELD);
}

static javm_answer op_same_type(op *o)
{
    uint32_t a = o->regs[7] & 0xFF, b = o->regs[8] & 0xFF;
    NEED_E();
    RANGE(a); RANGE(b); FULL(a); FULL(b);
    G(0);
    o->regs[7] = memcmp(&vm_slot_find(o->E, a)->h, &vm_slot_find(o->E, b)->h, sizeof(javm_hash)) == 0;
    return applied(o);
}

/* ---- cache-dependent host calls (caps.md §7.6) ------------------------------------------ */

static javm_answer op_set_image(op *o)
{
    uint32_t s = o->regs[7] & 0xFF;
    NEED_C(); NEED_E();
    RANGE(s); FULL(s);
    javm_hash nh = vm_slot_find(o->E, s)->h;
    const javm_cap *ic;
    IS(&nh, JAVM_KIND_IMAGE, &ic);
    /* img stays valid across the holds and releases below: the Image is held (slot s, then
     * the binding) and cache entries are heap nodes that never move (cache/cache.h) */
    const javm_image *img = &ic->image;
    int prc = JAVM_OK;
    javm_program *prog = vm_get_or_decode(o->vm, &nh, img, o->E->M, &prc);
    CHECK(prog, prc == JAVM_ERR_ALLOC ? JAVM_TRAP_ALLOC : JAVM_TRAP_DECODE);
    /* with E's current pinned slots set aside, each new pinned slot fits and is empty */
    for (uint32_t i = 0; i < img->n_pinned; i++)
        CHECK(in_range(o->E, img->pinned[i].slot), JAVM_TRAP_SLOT_RANGE);
    for (uint32_t i = 0; i < img->n_pinned; i++) {
        uint32_t ps = img->pinned[i].slot;
        CHECK(!vm_slot_find(o->E, ps) || vm_is_pinned(o->E, ps), JAVM_TRAP_COLLISION);
    }
    RESERVE(img->n_pinned);
    uint32_t *newpins = NULL;
    CHECK(!img->n_pinned || (newpins = malloc(img->n_pinned * sizeof *newpins)), JAVM_TRAP_ALLOC);
    if (!gas_ok(o, img->code_len)) {
        free(newpins);
        return out_of_gas();
    }
    vm_entry *E = o->E;
    /* 1: new holds (binding, new pinned caps), undone if one fails */
    if (E->accounted) {
        int rc = javm_cache_hold(o->cache, &nh);
        bool bound = rc == JAVM_OK;
        uint32_t taken = 0;
        while (rc == JAVM_OK && taken < img->n_pinned)
            if ((rc = javm_cache_hold(o->cache, &img->pinned[taken].cap)) == JAVM_OK)
                taken++;
        if (rc) {
            while (taken--)
                release(o->cache, &img->pinned[taken].cap);
            if (bound)
                release(o->cache, &nh);
            free(newpins);
            return trap(o, vm_trap_of_status(rc));
        }
    }
    /* 2-3: empty the old pinned slots (releasing their values), install the new pinned caps,
     * release the old binding */
    for (uint32_t i = 0; i < E->npinned; i++)
        slot_empty(o, E->pinned[i]);
    for (uint32_t i = 0; i < img->n_pinned; i++) {
        vm_slot_put(E, img->pinned[i].slot, &img->pinned[i].cap);
        newpins[i] = img->pinned[i].slot;
    }
    if (E->accounted)
        release(o->cache, &E->image_hash);
    /* 4: chain, image, program, pinned set, yield marker; M kept */
    javm_hash chain;
    javm_chain_extend(&E->chain, &nh, &chain);
    E->chain = chain;
    E->image_hash = nh;
    javm_program_free(E->program);
    E->program = javm_program_ref(prog);
    free(E->pinned);
    E->pinned = newpins;
    E->npinned = img->n_pinned;
    E->has_yield = img->has_yield_marker;
    E->yield_slot = img->yield_marker_slot;
    *o->gas -= o->charge;
    return exit_with(JAVM_EXIT_HOST_CALL, JAVM_OP_SET_IMAGE);
}

static javm_answer op_derive_spawn(op *o)
{
    uint32_t i = o->regs[7] & 0xFF, p = o->regs[8] & 0xFF, d = o->regs[9] & 0xFF;
    NEED_C(); NEED_E();
    RANGE(i); RANGE(p); RANGE(d);
    FULL(i);
    javm_hash ih = vm_slot_find(o->E, i)->h;
    const javm_cap *ic, *pc;
    IS(&ih, JAVM_KIND_IMAGE, &ic);
    FULL(p);
    javm_hash ph = vm_slot_find(o->E, p)->h;
    IS(&ph, JAVM_KIND_CNODE, &pc);
    FREE(p); FREE(d);
    RESERVE(1);
    javm_cap *root = NULL, *inst = NULL;
    javm_hash chain;
    javm_chain_extend(&o->E->chain, &ih, &chain);
    int rc = javm_cap_clone(pc, &root);
    if (rc == JAVM_OK)
        rc = javm_instance_new(&chain, &ih, &(javm_key){ .tag = JAVM_KEY_HASH }, &inst);
    if (rc == JAVM_OK)
        rc = vm_spawn_layout(o->cache, &ic->image, root, true, inst);
    if (rc) {
        javm_cap_free(root);
        javm_cap_free(inst);
        return trap(o, vm_trap_of_status(rc));
    }
    if (!gas_ok(o, 0)) {
        javm_cap_free(root);
        javm_cap_free(inst);
        return out_of_gas();
    }
    javm_hash rh, nh;
    rc = javm_cache_put(o->cache, root, &rh);
    if (rc == JAVM_OK) {
        inst->instance.root_cnode = javm_key_of_hash(&rh);
        rc = javm_cache_put(o->cache, inst, &nh);
        release(o->cache, &rh); /* undo the first put on failure, else its temporary hold */
    }
    javm_cap_free(root);
    javm_cap_free(inst);
    if (rc)
        return trap(o, vm_trap_of_status(rc));
    slot_empty(o, p);
    slot_write(o, d, &nh, true);
    return applied(o);
}

static javm_answer op_type_of(op *o)
{
    uint32_t s = o->regs[7] & 0xFF, d = o->regs[8] & 0xFF;
    NEED_C(); NEED_E();
    RANGE(s); FULL(s);
    const javm_cap *ic;
    IS(&vm_slot_find(o->E, s)->h, JAVM_KIND_INSTANCE, &ic);
    RANGE(d); FREE(d);
    RESERVE(1);
    G(0);
    javm_cap *t;
    javm_hash h;
    int rc = javm_type_new(&ic->instance.image_hash_chain, &t);
    if (rc == JAVM_OK) {
        rc = javm_cache_put(o->cache, t, &h);
        javm_cap_free(t);
    }
    if (rc)
        return trap(o, vm_trap_of_status(rc));
    slot_write(o, d, &h, true);
    return applied(o);
}

/* Whether a Missing page meets [0, n) of a Data. */
static bool missing_in(const javm_data *d, uint64_t n)
{
    if (!d->paged || !d->n_missing)
        return false;
    for (uint64_t i = 0; i < d->n_pages && i * JAVM_PAGE_SIZE < n; i++)
        if (javm_data_page(d, i)->state == JAVM_PAGE_MISSING)
            return true;
    return false;
}

static javm_answer op_read_data(op *o)
{
    uint32_t s = o->regs[7] & 0xFF;
    uint64_t dst = o->regs[8] & 0xFFFFFFFFu, want = o->regs[9];
    NEED_C(); NEED_E();
    RANGE(s); FULL(s);
    const javm_cap *dc;
    IS(&vm_slot_find(o->E, s)->h, JAVM_KIND_DATA, &dc);
    uint64_t n = want < dc->data.size ? want : dc->data.size;
    CHECK(!missing_in(&dc->data, n), JAVM_TRAP_DATA_MISSING);
    CHECK(mem_ok(o, dst, n, JAVM_ACCESS_WRITE), JAVM_TRAP_MEMORY);
    G(n);
    uint8_t buf[JAVM_PAGE_SIZE];
    for (uint64_t off = 0; off < n; off += sizeof buf) {
        uint64_t k = n - off < sizeof buf ? n - off : sizeof buf;
        javm_data_read(dc, off, buf, k);           /* checked above: cannot fail */
        javm_memory_write(o->mem, (uint32_t)(dst + off), k, buf); /* probed above */
    }
    o->regs[7] = n;
    return applied(o);
}

/* Length of guest bytes [src, src + len) without trailing zeros, read backwards through
 * the guest-checked path without allocating (the range was probed). Pages never written are
 * zero and skipped unread, so a long all-zero range (len can reach 4 GiB before the gas check,
 * which comes last) costs one state lookup per page, not a read of every byte. */
static uint64_t guest_strip_len(javm_memory *mem, uint64_t src, uint64_t len)
{
    uint8_t buf[JAVM_PAGE_SIZE];
    uint64_t end = len;
    while (end > 0) {
        uint64_t last = src + end - 1;                    /* last byte of the chunk */
        uint64_t chunk_start = last & ~(uint64_t)(JAVM_PAGE_SIZE - 1);
        if (chunk_start < src)
            chunk_start = src;
        uint64_t k = last + 1 - chunk_start;              /* within one page */
        if (javm_memory_page_written(mem, (uint32_t)(last >> JAVM_PAGE_SHIFT))) {
            javm_memory_read(mem, (uint32_t)chunk_start, k, buf);
            uint64_t z = javm_strip_len(buf, k);
            if (z)
                return end - k + z;
        }
        end -= k;
    }
    return 0;
}

/* quota(q) with a status: a failed read traps CACHE instead of looking like quota 0. */
static int quota_of(op *o, uint64_t q, uint64_t *out)
{
    if (o->ka->vtbl->storage_quota_read)
        return o->ka->vtbl->storage_quota_read(o->ka, q, out);
    *out = o->ka->vtbl->storage_quota_get(o->ka, q);
    return JAVM_OK;
}

static javm_answer op_mint_data(op *o)
{
    uint64_t src = o->regs[7] & 0xFFFFFFFFu, len = o->regs[8], q = o->regs[9];
    uint32_t d = o->regs[10] & 0xFF;
    NEED_C(); NEED_K(); NEED_E();
    RANGE(d); FREE(d);
    CHECK(mem_ok(o, src, len, JAVM_ACCESS_READ), JAVM_TRAP_MEMORY);
    uint64_t c = guest_strip_len(o->mem, src, len);
    uint64_t quota;
    int qrc = quota_of(o, q, &quota);
    CHECK(qrc == JAVM_OK, vm_trap_of_status(qrc));
    CHECK(quota >= c, JAVM_TRAP_QUOTA);
    RESERVE(1);
    G(len);
    uint8_t *bytes = malloc(c ? c : 1);
    CHECK(bytes, JAVM_TRAP_ALLOC);
    javm_memory_read(o->mem, (uint32_t)src, c, bytes);
    javm_cap *data;
    javm_hash h;
    int rc = javm_data_new(bytes, c, &data);
    free(bytes);
    if (rc)
        return trap(o, vm_trap_of_status(rc));
    /* The debit first, read back: a kernel assist's set cannot report failure (caps.md §9)
     * but may drop an insertion when out of memory, and a minted Data must not go unpaid
     * (issue 13 item 10). Undoing it sets an existing entry, which cannot be dropped. */
    o->ka->vtbl->storage_quota_set(o->ka, q, quota - c);
    uint64_t now;
    if (quota_of(o, q, &now) != JAVM_OK || now != quota - c) {
        o->ka->vtbl->storage_quota_set(o->ka, q, quota);
        javm_cap_free(data);
        return trap(o, JAVM_TRAP_ALLOC);
    }
    rc = javm_cache_put_owned(o->cache, data, &h);
    if (rc) {
        javm_cap_free(data);
        o->ka->vtbl->storage_quota_set(o->ka, q, quota);
        return trap(o, vm_trap_of_status(rc));
    }
    slot_write(o, d, &h, true);
    return applied(o);
}

static javm_answer op_open(op *o)
{
    uint64_t file_id = o->regs[7];
    uint32_t d = o->regs[8] & 0xFF;
    NEED_C(); NEED_K(); NEED_E();
    RANGE(d); FREE(d);
    javm_hash h;
    int orc = o->ka->vtbl->host_open(o->ka, file_id, &h);
    CHECK(orc == JAVM_OK, orc == JAVM_ERR_NOT_FOUND ? JAVM_TRAP_UNKNOWN_FILE : vm_trap_of_status(orc));
    IS(&h, JAVM_KIND_DATA, NULL);
    RESERVE(1);
    G(0);
    int rc = slot_write(o, d, &h, false);
    if (rc)
        return trap(o, vm_trap_of_status(rc));
    return applied(o);
}

static javm_answer op_save(op *o)
{
    uint32_t s = o->regs[7] & 0xFF;
    uint64_t q = o->regs[8];
    NEED_C(); NEED_K(); NEED_E();
    RANGE(s); FULL(s);
    javm_hash h = vm_slot_find(o->E, s)->h;
    const javm_cap *dc;
    IS(&h, JAVM_KIND_DATA, &dc);
    uint64_t size = dc->data.size;
    uint64_t quota;
    int qrc = quota_of(o, q, &quota);
    CHECK(qrc == JAVM_OK, vm_trap_of_status(qrc));
    CHECK(quota >= size, JAVM_TRAP_QUOTA);
    G(0);
    /* the file record's hold first (fallible), then the kernel assist's atomic save */
    int rc = javm_cache_hold(o->cache, &h);
    if (rc)
        return trap(o, vm_trap_of_status(rc));
    uint64_t id;
    if ((rc = o->ka->vtbl->host_save(o->ka, &h, q, size, &id)) != JAVM_OK) {
        release(o->cache, &h);
        return trap(o, rc == JAVM_ERR_QUOTA ? JAVM_TRAP_QUOTA : vm_trap_of_status(rc));
    }
    o->regs[7] = id;
    return applied(o);
}

static javm_answer op_host_call(op *o)
{
    javm_vm *vm = o->vm;
    uint32_t s = o->regs[7] & 0xFF, endpoint = o->regs[8] & 0xFF;
    NEED_C(); NEED_E();
    RANGE(s); FULL(s);
    javm_hash ih = vm_slot_find(o->E, s)->h;
    IS(&ih, JAVM_KIND_INSTANCE, NULL);
    vm_entry child;
    javm_trap t;
    static const uint64_t zero_args[4] = { 0, 0, 0, 0 };
    /* build_entry 1-7 into a local entry; nothing is pushed and no hold taken yet */
    if (vm_build_entry(vm, o->cache, &ih, endpoint, zero_args, &child, &t) != JAVM_OK)
        return trap(o, t);
#define FAIL(tr) do { vm_entry_dispose(vm, &child); return trap(o, (tr)); } while (0)
    if (vm->depth + 1 > vm->max_depth)
        FAIL(JAVM_TRAP_STACK_FULL);
    if (vm_is_pinned(o->E, 0) || vm_is_pinned(&child, 0))
        FAIL(JAVM_TRAP_SLOT_PINNED);
    if (vm_slot_reserve(&child, 1))
        FAIL(JAVM_TRAP_ALLOC);
    if (!gas_ok(o, 0)) {
        vm_entry_dispose(vm, &child);
        return out_of_gas();
    }
    /* step 10: the child's holds */
    int rc = vm_entry_take_holds(o->cache, &child);
    if (rc)
        FAIL(vm_trap_of_status(rc));
#undef FAIL
    /* slot 0 handover: E's value (if any) moves into the child, whose own slot 0 is released */
    vm_entry *E = o->E;
    const vm_slot *e0 = vm_slot_find(E, 0);
    bool has_v = e0 != NULL;
    javm_hash v = has_v ? e0->h : (javm_hash){ { 0 } };
    const vm_slot *c0 = vm_slot_find(&child, 0);
    if (c0)
        release(o->cache, &c0->h);
    vm_slot_clear(&child, 0);
    if (has_v) {
        int hrc = E->accounted ? JAVM_OK : javm_cache_hold(o->cache, &v);
        if (hrc != JAVM_OK) {
            /* an unowned value needs a fresh hold in the accounted child; its failure traps
             * with its own reason (ALLOC, NOT_FOUND, CACHE for the store), not always CACHE */
            vm_entry_release_holds(o->cache, &child);
            vm_entry_dispose(vm, &child);
            return trap(o, vm_trap_of_status(hrc));
        }
        vm_slot_clear(E, 0);
        vm_slot_put(&child, 0, &v);
    }
    vm->stack[vm->depth++] = child;
    *o->gas -= o->charge;
    return exit_with(JAVM_EXIT_HOST_CALL, JAVM_OP_HOST_CALL);
}

/* ---- embedder host functions (caps.md §7.8) -------------------------------------------- */

static javm_answer op_host_fn(op *o, const vm_hostfn *f, uint32_t num)
{
    G(0);
    *o->gas -= o->charge;
    javm_host_rc r = f->fn(o->ctx, num, o->regs, o->mem, o->gas, f->user);
    if (r == JAVM_HOST_CONTINUE)
        return CONTINUE;
    *o->gas += o->charge;
    if (r == JAVM_HOST_OUT_OF_GAS)
        return out_of_gas();
    return trap(o, JAVM_TRAP_HOST_FN);
}

/* ---- routing (caps.md §7.1) ------------------------------------------------------------- */

javm_answer javm_dispatch(void *user, javm_call_kind kind, uint32_t imm, uint64_t regs[13],
                          javm_memory *mem, int64_t *gas)
{
    javm_ecall_ctx *ctx = user;
    javm_vm *vm = ctx->vm;
    uint32_t num = kind == JAVM_CALL_ECALL ? (uint32_t)regs[11] : imm;
    op o = { ctx, vm, ctx->cache, ctx->ka, NULL, regs, mem, gas, 0 };
    vm->last_trap = JAVM_TRAP_NONE;
    if (vm->depth && !vm->stack[vm->depth - 1].is_ref)
        o.E = &vm->stack[vm->depth - 1];
    switch (num) {
    case JAVM_OP_HALT:
        if (!gas_ok(&o, 0))
            return out_of_gas();
        *gas -= o.charge;
        return exit_with(JAVM_EXIT_HALT, 0);
    case JAVM_OP_COPY: return op_copy_move(&o, false);
    case JAVM_OP_MOVE: return op_copy_move(&o, true);
    case JAVM_OP_DROP: return op_drop(&o);
    case JAVM_OP_CNODE_SWAP: return op_swap(&o);
    case JAVM_OP_CNODE_MINT: return op_cnode_mint(&o);
    case JAVM_OP_HOST_YIELD: return op_yield(&o);
    case JAVM_OP_SET_IMAGE: return op_set_image(&o);
    case JAVM_OP_DERIVE_SPAWN: return op_derive_spawn(&o);
    case JAVM_OP_MAKE_IMAGE: return trap(&o, JAVM_TRAP_NOT_IMPLEMENTED);
    case JAVM_OP_HOST_SAME_TYPE: return op_same_type(&o);
    case JAVM_OP_HOST_TYPE_OF: return op_type_of(&o);
    case JAVM_OP_HOST_READ_DATA_CAP: return op_read_data(&o);
    case JAVM_OP_HOST_MINT_DATA_CAP: return op_mint_data(&o);
    case JAVM_OP_HOST_OPEN: return op_open(&o);
    case JAVM_OP_HOST_SAVE: return op_save(&o);
    case JAVM_OP_HOST_CALL: return op_host_call(&o);
    default:
        break;
    }
    if (num >= JAVM_OP_FIRST_EMBEDDER)
        for (size_t i = 0; i < vm->nfns; i++)
            if (vm->fns[i].op == num)
                return op_host_fn(&o, &vm->fns[i], num);
    return trap(&o, JAVM_TRAP_UNASSIGNED_OP);
}
