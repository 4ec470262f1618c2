/* SPDX-License-Identifier: MIT
 * vm/vm.h — internals of the VM layer (caps.md §6, §7): call-stack entries, the image decode
 * cache, build_entry in two halves (check-and-lay-out, then take holds) so HOST_CALL can
 * check everything before any effect, and the helpers the dispatcher shares with the driver. */
#ifndef VM_VM_H
#define VM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "javm.h"
#include "cap/cap.h"

/* One populated slot of an entry's working cnode (sorted by slot). */
typedef struct vm_slot {
    uint32_t slot;
    javm_hash h;
} vm_slot;

/* An overlay build_entry laid (caps.md §6.2 base_leaves, kept per overlay, not per page, so
 * that laying out a large instance costs O(overlays): issue 13 item 2). Paged: page k of
 * [first, first + npages) has the base leaf vm_lay_page(l, k) when Loaded (hash and buffer;
 * settle shares the chunks holding both into the post-instance), none when Empty. Inline: its
 * one page is marked for re-reading. chunks is borrowed from the Data in the cache (which has
 * no Missing page: build_entry refuses them), or the entry's own copy, each chunk with a
 * reference of the entry, once the invocation pauses (vm_entry.lays_held). */
typedef struct vm_lay {
    uint32_t first;
    uint64_t npages;
    bool reread;
    javm_chunk *const *chunks; /* Paged; NULL for Inline */
    javm_hash data;            /* the overlay Data's cap hash */
} vm_lay;

static inline const javm_page *vm_lay_page(const vm_lay *l, uint64_t k)
{
    const javm_chunk *c = l->chunks[k >> CAP_CHUNK_SHIFT];
    return c ? &c->pages[k & (CAP_CHUNK_PAGES - 1)] : &cap_page_empty;
}

typedef struct vm_entry {
    bool is_ref;                /* reference entry pushed by HOST_YIELD */
    uint32_t target_position;   /* reference entry: the catcher's position */
    javm_hash marker;           /* reference entry: the yielded marker */
    bool accounted;             /* built by build_entry: holds its slots and image */
    javm_hash instance_hash, chain, image_hash;
    javm_program *program;      /* one reference */
    uint32_t M;
    uint8_t size_log;
    vm_slot *slots;
    uint32_t nslots, capslots;
    bool slots_changed;         /* vm_slot_put / vm_slot_clear ran since build_entry */
    bool has_root_hash;         /* root_hash: the root CNode build_entry took the slots from, */
    javm_hash root_hash;        /* which settle reuses while the slots are unchanged */
    uint32_t *pinned;           /* sorted */
    uint32_t npinned;
    bool has_yield;
    uint32_t yield_slot;
    vm_lay *lays;               /* one per overlay, by increasing first page */
    uint32_t nlays;
    bool lays_held;             /* each Paged lay's chunks is the entry's own copy and each of
                                 * its chunks carries a reference of this entry (taken when
                                 * the invocation pauses: the Data may go meanwhile) */
    javm_state st;              /* regs, pc, mem (owned, from the VM's pool); gas unused */
} vm_entry;


typedef struct vm_prog {
    javm_hash image;
    uint32_t M;
    javm_program *program;
} vm_prog;

typedef struct vm_hostfn {
    uint32_t op;
    javm_host_fn fn;
    void *user;
} vm_hostfn;

struct javm_vm {
    vm_entry *stack;
    uint32_t depth, max_depth;
    vm_prog *progs;             /* decode cache: (image hash, M) -> program, unsorted */
    size_t nprogs, capprogs;
    vm_hostfn *fns;
    size_t nfns;
    javm_trap last_trap;
    javm_engine engine;         /* javm_vm_set_engine; AUTO by default */
    javm_stop *stop;            /* javm_vm_set_stop; NULL by default */
    javm_memory **pool;         /* reset memories ready for reuse */
    size_t npool, cappool;
    int64_t gas;                /* the invocation's one gas counter */
    int64_t gas_start;
    javm_cache *cache;          /* the running or paused invocation's cache and its */
    uint64_t cache_epoch;       /* journal epoch: resume and abort check them */
    /* settle_post_instance's page work, cumulative (tests read it: issue 13 item 2): pages
     * read with peek and hashed, pages whose base buffer and hash were shared */
    uint64_t settle_pages_read, settle_pages_shared;
    /* settle's Paged Data (cumulative, for tests): derived from their base overlay's Data
     * (sharing its unchanged chunks and Merkle caches), built page by page (no base of the
     * same page count), and Merkle nodes hashed for them (cap_data_pages_root) */
    uint64_t settle_derived, tree_misses, tree_nodes;
    uint64_t settle_cnode_reused; /* settles that took the root CNode as it was (cumulative) */
    uint64_t settle_reused;     /* snapshots whose Data was found live in the cache by its
                                 * hash, so no Data was kept (cumulative, for tests) */
    bool has_name;              /* the pending invocation's name option */
    uint8_t name[JAVM_NAME_MAX];
    size_t name_len;
};

/* ---- entries (vm.c) ---- */

const vm_slot *vm_slot_find(const vm_entry *e, uint32_t slot);
bool vm_is_pinned(const vm_entry *e, uint32_t slot);
/* Sets or clears a slot's value without touching holds. JAVM_ERR_ALLOC. */
int vm_slot_put(vm_entry *e, uint32_t slot, const javm_hash *h);
void vm_slot_clear(vm_entry *e, uint32_t slot);
/* Reserves room for one more slot so a later vm_slot_put cannot fail. */
int vm_slot_reserve(vm_entry *e, uint32_t extra);

/* Releases the entry's own memory (program reference, memory back to the pool), not holds. */
void vm_entry_dispose(javm_vm *vm, vm_entry *e);
/* A pausing entry stops borrowing from the overlay Data, which the embedder may release or
 * evict while paused: touched lazy pages are copied in, and each Paged lay's page list
 * becomes the entry's own copy with a reference on every buffer (settle shares them; the
 * memory's content layer reads the copy from now on). O(pages of the overlays), once per
 * entry. JAVM_ERR_ALLOC (nothing changed). */
int vm_entry_hold_lays(vm_entry *e);
/* Releases the holds of an accounted entry (slot values, image). */
void vm_entry_release_holds(javm_cache *cache, vm_entry *e);
/* Takes the holds of step 10 (each slot value, the image); undone on failure. */
int vm_entry_take_holds(javm_cache *cache, vm_entry *e);

/* build_entry steps 1-9 (caps.md §6.3) into *e, taking no hold. On failure returns the
 * status of §6.9 and writes the trap reason an op would record to *trap. */
int vm_build_entry(javm_vm *vm, javm_cache *cache, const javm_hash *instance_hash,
                   uint32_t endpoint, const uint64_t args[4], vm_entry *e, javm_trap *trap);

/* The decode cache (caps.md §6.1): the prepared program for (image, M), preparing it on a
 * miss. Returns a borrowed program (owned by the cache) or NULL on a prepare failure. */
javm_program *vm_get_or_decode(javm_vm *vm, const javm_hash *hash, const javm_image *img,
                               uint32_t M, int *status);

/* Spawn steps 2-3 on a given root (caps.md §6.8): pinned entries overwrite, initial entries
 * fill only empty slots when fill_only_empty, else both overwrite. Computes overlays and
 * mem_size into inst (whose overlays must be empty). Status of §6.9 on failure. */
int vm_spawn_layout(javm_cache *cache, const javm_image *img, javm_cap *root, bool fill_only_empty,
                    javm_cap *inst);

/* ---- dispatch (dispatch.c) ---- */

javm_trap vm_trap_of_status(int status);

/* ---- the test harness (not exported: tests, benchmarks and fuzzers link the static
 * library). These mutate entries without holds, so on an accounted entry they would break
 * the slot-hold invariant: test use only (issue 13 item 6). ---- */

/* An unaccounted entry built from explicit fields (caps.md §10.1): it holds nothing. */
typedef struct javm_test_entry {
    uint8_t size_log;
    const uint32_t *slot_ids;       /* n_slots populated slots, any order */
    const javm_hash *slot_vals;
    size_t n_slots;
    javm_hash chain, image_hash;
    uint32_t M;
    javm_program *program;          /* a reference is taken */
    const uint32_t *pinned;
    size_t n_pinned;
    bool has_yield_marker;
    uint32_t yield_marker_slot;
} javm_test_entry;
int javm_vm_push_test_entry(javm_vm *vm, const javm_test_entry *e);
/* Sets (h) or empties (NULL) a slot of the top entry without holds. */
int javm_vm_top_slot_set(javm_vm *vm, uint32_t slot, const javm_hash *h);
int javm_vm_top_set_pinned(javm_vm *vm, const uint32_t *pinned, size_t n);

#endif
