/* SPDX-License-Identifier: MIT
 * tests/support/vmfix.h — fixtures for the VM tests: the dispatcher fixture F of caps.md §10.1,
 * a full-state snapshot for the "a trap changes nothing" checks of §10.4, image and instance
 * builders for invocation tests, and hashes computed from the spec without the library. */
#ifndef TESTS_VMFIX_H
#define TESTS_VMFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "javm.h"
#include "tprog.h"

/* ---- the fixture F of caps.md §10.1 ------------------------------------------------------ */

typedef struct vmfix {
    javm_vm *vm;
    javm_store *store;
    javm_cache *cache;     /* C */
    javm_ka *ka;           /* K */
    javm_memory *mem;      /* the memory handed to javm_dispatch ("mem" maps [0, 4096) RW) */
    javm_program *prog;    /* javm_prepare([0x00], [0x01]) with M 25 */
    javm_ecall_ctx ctx;    /* {vm, C, K} unless a test changes it */
    uint64_t regs[13];
    int64_t gas;
} vmfix;

/* Builds F with a VM of max_depth (0 = 256) and pushes the fixture entry with the given
 * pinned slots. */
void vmfix_init(vmfix *f, uint32_t max_depth, const uint32_t *pinned, size_t npinned);
void vmfix_fini(vmfix *f);
/* Replaces the VM by a fresh one of max_depth holding the same fixture entry. */
void vmfix_new_vm(vmfix *f, uint32_t max_depth, const uint32_t *pinned, size_t npinned);
/* Maps [0, 4096) with a permission ("mem" is RW). */
void vmfix_map(vmfix *f, javm_perm perm);
/* Runs one op through javm_dispatch as ECALLI with f->regs and f->gas. */
javm_answer vmfix_op(vmfix *f, uint32_t op);
/* Sets slot s of the top entry without holds (NULL empties it). */
void vmfix_slot(vmfix *f, uint32_t s, const javm_hash *h);
/* The value of slot s of the top entry; fails the test when empty. */
javm_hash vmfix_get_slot(vmfix *f, uint32_t s);
bool vmfix_slot_empty(vmfix *f, uint32_t s);

/* A VM on an in-memory store, cache and kernel assist: the cmocka group state of invocation
 * tests (vmenv_setup / vmenv_teardown; teardown aborts a paused invocation first). */
typedef struct vmenv {
    javm_vm *vm;
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
} vmenv;
int vmenv_setup(void **state);
int vmenv_teardown(void **state);

/* A Paged Data of npages pages, page i all bytes vm_page_byte(i) (never zero). */
uint8_t vm_page_byte(uint64_t page);
javm_cap *vm_paged_data(uint64_t npages);
/* Puts data (owned; the caller keeps the put's hold) and an Image of code (instruction starts
 * in mask) with one zero endpoint and one writable mapping [base, base + size) filled from
 * slot 1, which holds data; spawns it (root size 8). *data_out (may be NULL) receives the
 * Data's hash. */
javm_hash vm_spawn_over(javm_cache *c, const uint8_t *code, uint32_t len, const uint8_t *mask,
                        uint32_t mlen, uint32_t base, uint64_t size, javm_cap *data,
                        javm_hash *data_out);

/* Puts a cap, frees it, returns its hash (test fails on error). */
javm_hash vm_put(javm_cache *c, javm_cap *cap);
uint32_t vm_rc(javm_cache *c, const javm_hash *h);

bool vm_answer_is(javm_answer a, bool cont, javm_exit_reason r, uint32_t arg);
#define assert_continue(a) assert_true(vm_answer_is((a), true, JAVM_EXIT_HALT, 0))
#define assert_exit(a, r, arg) assert_true(vm_answer_is((a), false, (r), (arg)))

/* ---- snapshots (caps.md §10.4) ------------------------------------------------------------ */

typedef struct vm_blob_rec {
    javm_hash h;
    uint8_t kind;
    uint32_t rc;
} vm_blob_rec;

typedef struct vm_file_rec {
    uint64_t id;
    javm_hash h;
} vm_file_rec;

#define VM_SNAP_QUOTAS 4       /* quota ids 0, 1, 7 and 9 are the ones tests touch */
#define VM_SNAP_MEM 16384      /* bytes [0, 16384): pages 0..3 */

typedef struct vm_snap {
    vm_blob_rec *blobs;
    size_t nblobs;
    size_t working;
    uint64_t quotas[VM_SNAP_QUOTAS];
    uint64_t next_file_id;
    vm_file_rec *files;
    size_t nfiles;
    uint32_t depth;
    bool has_top;
    bool slot_full[256];
    javm_hash slots[256];
    javm_hash chain, image;
    const javm_program *program;
    uint8_t size_log;
    uint32_t pinned[64];
    size_t npinned;
    bool has_yield;
    uint32_t yield_slot;
    uint64_t regs[13];
    int64_t gas;
    javm_perm perms[VM_SNAP_MEM / 4096];
    uint8_t mem[VM_SNAP_MEM];
    size_t image_cache;
} vm_snap;

/* Everything of caps.md §10.4. vm, regs, mem and gas may be NULL (not recorded). */
void vm_snap_take(vm_snap *s, javm_vm *vm, javm_cache *c, javm_ka *ka, const uint64_t *regs,
                  const int64_t *gas, const javm_memory *mem);
void vm_snap_free(vm_snap *s);
/* Fails the test, naming the first difference, unless a and b are equal. */
void vm_snap_assert_equal(const vm_snap *a, const vm_snap *b);
void vmfix_snap(vmfix *f, vm_snap *s);

/* ---- images, instances, invocation ------------------------------------------------------- */

/* An Image of the program p with one all-zero endpoint; optional mapping (size 0 = none,
 * flags, empty path). Not put. */
javm_cap *vm_image_of(const tprog *p, uint64_t map_start, uint64_t map_size, uint8_t map_flags);
/* Puts an Image and spawns it with root size_log 8. *img_out receives the image hash. */
javm_hash vm_spawn_image(javm_cache *c, javm_cap *img, javm_hash *img_out);

/* Every live blob's (hash, kind, refcount): cache comparisons before and after. */
void vm_blobs_take(vm_snap *s, javm_cache *c);

/* ---- independent hashing (libsodium, bytes laid out as caps.md §4 and §11.1) ------------- */

javm_hash vm_h(const void *p, size_t n);
/* Cap hash of an Inline Data of the given bytes (n <= 4096, stripped by the caller). */
javm_hash vm_h_data_inline(const uint8_t *b, size_t n);
/* Cap hash of the canonical Data of b[0..n) (n = its stripped size), Inline or Paged. */
javm_hash vm_h_data(const uint8_t *b, size_t n);
/* Cap hash of an empty CNode of 2^size_log slots. */
javm_hash vm_h_empty_cnode(unsigned size_log);
/* Checks an abbreviated spec hash "aaaaaaaa…bbbbbb" by its first and last hex digits. */
void vm_assert_abbrev(const javm_hash *h, const char *head, const char *tail);
javm_hash vm_hx(const char *hex);
javm_hash vm_fill(uint8_t b);

#endif
