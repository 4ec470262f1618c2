/* SPDX-License-Identifier: MIT
 * javm/vm.h — the VM: call stack, invoke/resume/abort, spawn, the image decode cache and the
 * ecall dispatcher with its per-invocation context (reference: docs/ecalls.md).
 * Part of the public API; include <javm.h>, not this file. Design notes: docs/vm.md. */
#ifndef JAVM_VM_H
#define JAVM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "javm/cap.h"
#include "javm/exec.h"

/* Gas and limits of the VM (caps.md §2). */
#define JAVM_GAS_ECALL 10             /* charged for every dispatched ecall/ecalli */
#define JAVM_GAS_BYTES_PER_UNIT 32    /* + ceil(b / 32) for b guest bytes copied or hashed */
#define JAVM_MAX_CALL_DEPTH 256       /* default call-stack capacity */

typedef struct javm_vm javm_vm;

/* The context of one interpreter run (caps.md §1): built by the driver on its stack for each
 * run and passed as the handler's user pointer; nothing in it outlives the run. */
typedef struct javm_ecall_ctx {
    javm_vm *vm;          /* never NULL */
    javm_cache *cache;    /* NULL = uncached: every cache-dependent op traps (NO_CACHE) */
    javm_ka *ka;          /* kernel assist; NULL only in dispatcher unit tests */
} javm_ecall_ctx;

/* Why the last dispatched op trapped (caps.md §7.2), for tests and diagnostics. */
typedef enum javm_trap {
    JAVM_TRAP_NONE = 0,
    JAVM_TRAP_NO_ENTRY, JAVM_TRAP_NO_CACHE, JAVM_TRAP_NO_KA, JAVM_TRAP_SLOT_RANGE,
    JAVM_TRAP_SLOT_EMPTY, JAVM_TRAP_SLOT_PINNED, JAVM_TRAP_NOT_FOUND, JAVM_TRAP_WRONG_KIND,
    JAVM_TRAP_BAD_SIZE_LOG, JAVM_TRAP_QUOTA, JAVM_TRAP_MEMORY, JAVM_TRAP_DATA_MISSING,
    JAVM_TRAP_DATA_TOO_LARGE, JAVM_TRAP_DECODE, JAVM_TRAP_COLLISION, JAVM_TRAP_UNKNOWN_FILE,
    JAVM_TRAP_STACK_FULL, JAVM_TRAP_UNHANDLED_MARKER, JAVM_TRAP_NO_ENDPOINT,
    JAVM_TRAP_UNASSIGNED_OP, JAVM_TRAP_NOT_IMPLEMENTED, JAVM_TRAP_HOST_FN, JAVM_TRAP_ALLOC,
    JAVM_TRAP_CACHE
} javm_trap;

/* "NO_ENTRY", "SLOT_RANGE", ... ("NONE" for JAVM_TRAP_NONE). */
JAVM_API const char *javm_trap_name(javm_trap t);

/* Ecall op numbers (caps.md §7.1). */
enum {
    JAVM_OP_HALT = 0, JAVM_OP_COPY = 1, JAVM_OP_MOVE = 2, JAVM_OP_DROP = 3,
    JAVM_OP_CNODE_SWAP = 4, JAVM_OP_CNODE_MINT = 5,
    JAVM_OP_HOST_YIELD = 16, JAVM_OP_SET_IMAGE = 17, JAVM_OP_DERIVE_SPAWN = 18,
    JAVM_OP_MAKE_IMAGE = 19, JAVM_OP_HOST_SAME_TYPE = 20, JAVM_OP_HOST_TYPE_OF = 21,
    JAVM_OP_HOST_READ_DATA_CAP = 22, JAVM_OP_HOST_MINT_DATA_CAP = 23, JAVM_OP_HOST_OPEN = 24,
    JAVM_OP_HOST_SAVE = 25, JAVM_OP_HOST_CALL = 26, JAVM_OP_FIRST_EMBEDDER = 64
};

/* ---- lifecycle --------------------------------------------------------------------------- */

/* A VM with an empty call stack of capacity max_depth (>= 1; 0 means JAVM_MAX_CALL_DEPTH),
 * an empty image decode cache and no host functions. JAVM_ERR_ALLOC, _INVALID_ARG. */
JAVM_API int javm_vm_new(javm_vm **out, uint32_t max_depth);
/* Frees the VM. Entries still on the stack are dropped without releasing cache holds
 * (abort first with javm_abort to release them). NULL is a no-op. */
JAVM_API void javm_vm_free(javm_vm *vm);
/* The engine every run of this VM uses (javm/exec.h: AUTO, the default, INTERP or JIT).
 * Results are the same on every engine. JAVM_ERR_INVALID_ARG for any other value. */
JAVM_API int javm_vm_set_engine(javm_vm *vm, javm_engine engine);
/* A stop for every run of this VM (javm/exec.h; NULL, the default, for none; borrowed: it
 * must outlive its use). When it fires during javm_invoke or javm_resume, the invocation
 * ends as a FAULT with fault_reason JAVM_EXIT_STOPPED and, like every fault, leaves no trace:
 * the journal is aborted. */
JAVM_API void javm_vm_set_stop(javm_vm *vm, javm_stop *stop);
/* Drops every prepared program of the decode cache (programs still used by entries live on). */
JAVM_API void javm_vm_clear_image_cache(javm_vm *vm);
/* Whether the decode cache holds a program for (image hash, M). */
JAVM_API bool javm_vm_image_cached(const javm_vm *vm, const javm_hash *image, uint32_t M);
JAVM_API size_t javm_vm_image_cache_size(const javm_vm *vm);

/* ---- host functions (caps.md §7.8) ------------------------------------------------------ */

typedef enum javm_host_rc {
    JAVM_HOST_CONTINUE = 0x100,
    JAVM_HOST_TRAP = 0x101,        /* the function left no effect; the op traps (HOST_FN) */
    JAVM_HOST_OUT_OF_GAS = 0x102   /* likewise; the run ends with OUT_OF_GAS */
} javm_host_rc;

/* Called for op >= 64 after JAVM_GAS_ECALL is deducted. Reaches guest memory only through the
 * guest-checked path; may lower *gas (never below 0, never raising it). */
typedef javm_host_rc (*javm_host_fn)(javm_ecall_ctx *ctx, uint32_t op, uint64_t regs[13],
                                     javm_memory *mem, int64_t *gas, void *user);
/* Registers fn for op (>= 64, not yet registered: else JAVM_ERR_INVALID_ARG). */
JAVM_API int javm_vm_register_host_fn(javm_vm *vm, uint32_t op, javm_host_fn fn, void *user);

/* ---- the dispatcher (caps.md §7) -------------------------------------------------------- */

/* The exec-layer handler for ecalli/ecall (pvm.md §3.2) with user = a javm_ecall_ctx *.
 * A failing op answers EXIT(TRAP) with no effect and records javm_vm_last_trap; an op short of
 * gas answers EXIT(OUT_OF_GAS) with no effect. */
JAVM_API javm_answer javm_dispatch(void *user, javm_call_kind kind, uint32_t imm, uint64_t regs[13],
                          javm_memory *mem, int64_t *gas);
/* The reason of the last trap (JAVM_TRAP_NONE when the last dispatched op did not trap). */
JAVM_API javm_trap javm_vm_last_trap(const javm_vm *vm);

/* ---- invoke, resume, abort (caps.md §6.4-6.7) ------------------------------------------- */

typedef enum javm_res_kind { JAVM_RES_HALT = 0, JAVM_RES_FAULT = 1, JAVM_RES_PAUSED = 2 } javm_res_kind;

typedef struct javm_call_result {
    javm_res_kind kind;
    uint64_t gas_used;          /* gas at drive start minus gas at drive end */
    uint64_t return_value;      /* HALT: φ7 */
    javm_hash post_instance;    /* HALT: caller holds 1 */
    bool has_slot0;             /* HALT: slot 0, taken out before settling */
    javm_hash slot0;            /* HALT: caller holds 1 */
    int fault_reason;           /* FAULT: JAVM_EXIT_* code */
    uint32_t fault_addr;        /* FAULT: PAGE_FAULT address */
    javm_trap trap;             /* FAULT with TRAP from an op: its reason (else NONE) */
    javm_hash marker;           /* PAUSED: no hold */
    uint32_t catcher_position;  /* PAUSED */
} javm_call_result;

typedef struct javm_invoke_opts {
    const uint8_t *name;        /* on HALT, move this name to the post-instance */
    size_t name_len;
} javm_invoke_opts;

/* Invokes endpoint of an Instance (caps.md §6.4): one store transaction and journal; HALT
 * settles the post-instance and commits; any other end aborts (PAUSED keeps the journal).
 * Needs an empty stack (JAVM_ERR_BUSY), a cache (JAVM_ERR_INVALID_ARG) without an open
 * journal (_BUSY), gas <= 2^63 - 1 (_INVALID_ARG). slot0_in may be NULL. Setup failures return
 * their status (build_entry's: INSTANCE_NOT_FOUND, IMAGE_NOT_FOUND, ROOT_CNODE_NOT_FOUND,
 * NO_SUCH_ENDPOINT, DECODE_FAILED, DATA_MISSING, MAP_FAILED; CONFLICT for a name that does
 * not name instance_hash; NOT_FOUND / SLOT_PINNED for slot0_in); outcomes are in *res. On
 * any non-OK return (also a failed settle or commit after the guest halted) *res is a FAULT
 * with fault_reason JAVM_EXIT_TRAP and trap the reason (CACHE for a store failure), gas_used
 * kept and nothing else filled; the same holds for javm_resume. */
JAVM_API int javm_invoke(javm_vm *vm, javm_cache *cache, javm_ka *ka, const javm_hash *instance_hash,
                uint32_t endpoint, const uint64_t args[4], uint64_t gas, const javm_hash *slot0_in,
                const javm_invoke_opts *opts, javm_call_result *res);
/* Resumes a paused invocation (caps.md §6.7): JAVM_ERR_NOT_PAUSED, _INVALID_ARG for another
 * cache than the invocation's (or its journal gone), _CONFLICT (the invocation is then
 * discarded), _NOT_FOUND / _SLOT_PINNED for scratch. */
JAVM_API int javm_resume(javm_vm *vm, javm_cache *cache, javm_ka *ka, const javm_hash *scratch,
                javm_call_result *res);
/* Discards every entry and the journal. Does nothing while an invocation is running or
 * paused on another cache than `cache` (its entries hold blobs of that cache); when the
 * invocation's journal is no longer open, drops the entries without touching the cache. */
JAVM_API void javm_abort(javm_vm *vm, javm_cache *cache, javm_ka *ka);

/* The first Instance of an Image (caps.md §6.8); the caller holds one reference.
 * IMAGE_NOT_FOUND, INVALID_CNODE_SIZE, SLOT_OUT_OF_RANGE, DATA_MISSING, DATA_TOO_LARGE and
 * cache errors. */
JAVM_API int javm_spawn(javm_cache *cache, const javm_hash *image_hash, unsigned root_size_log,
               javm_hash *out);

/* ---- test harness and inspection -------------------------------------------------------- */

/* (The test harness's mutators, which can break the holds of accounted entries, are not
 * part of the API: src/vm/vm.h.) */

/* Number of entries on the stack. */
JAVM_API uint32_t javm_vm_depth(const javm_vm *vm);
/* Top instance entry accessors (JAVM_ERR_NOT_FOUND when the top is absent or a reference
 * entry). slot_get: JAVM_OK with *h, JAVM_ERR_NOT_FOUND when empty, _SLOT_OUT_OF_RANGE. */
JAVM_API int javm_vm_top_slot_get(const javm_vm *vm, uint32_t slot, javm_hash *h);
JAVM_API int javm_vm_top_info(const javm_vm *vm, javm_hash *chain, javm_hash *image_hash,
                     const javm_program **program, uint8_t *size_log);
/* The pinned slot list of the top entry (borrowed until the next VM call) and its count. */
JAVM_API const uint32_t *javm_vm_top_pinned(const javm_vm *vm, size_t *n);
/* The top entry's yield marker slot: *has is false when its image names none.
 * JAVM_ERR_NOT_FOUND when the top is absent or a reference entry. */
JAVM_API int javm_vm_top_yield_slot(const javm_vm *vm, bool *has, uint32_t *slot);

#endif
