/* SPDX-License-Identifier: MIT
 * javm/exec.h — the exec layer: program preparation, guest memory, and the interpreter
 * (reference: docs/isa.md, docs/gas.md). Part of the public API; include <javm.h>. */
#ifndef JAVM_EXEC_H
#define JAVM_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- exits (pvm.md §3.1) ---------------------------------------------------------------- */

typedef enum javm_exit_reason {
    JAVM_EXIT_HALT = 0,
    JAVM_EXIT_PANIC = 1,
    JAVM_EXIT_OUT_OF_GAS = 2,
    JAVM_EXIT_PAGE_FAULT = 3,  /* arg = page-aligned address of the lowest inaccessible byte */
    JAVM_EXIT_HOST_CALL = 4,   /* arg = the ecalli immediate */
    JAVM_EXIT_ECALL = 6,
    JAVM_EXIT_TRAP = 7,
    JAVM_EXIT_STOPPED = 8      /* the run's javm_stop fired (javm_state.stop): pc at a block
                                * start, no instruction of that block ran; running the state
                                * again continues exactly as if it had never stopped */
} javm_exit_reason;

typedef struct javm_exit {
    javm_exit_reason reason;
    uint32_t arg; /* PAGE_FAULT: fault page address; HOST_CALL: immediate; else 0 */
} javm_exit;

/* "halt", "panic", "out-of-gas", "page-fault", "host-call", "ecall", "trap", "stopped"; "?"
 * otherwise. */
JAVM_API const char *javm_exit_name(javm_exit_reason r);

/* ---- preparation (pvm.md §2.1, §9.2) ---------------------------------------------------- */

typedef enum javm_profile {
    JAVM_PROFILE_JAVM = 0,    /* the default: trap exits Trap, opcodes 2/3 defined */
    JAVM_PROFILE_GP = 1,      /* GP-compatibility, for the public JAM PVM vectors only */
    JAVM_PROFILE_JAM_DRAFT = 2 /* GP-compat with the JAM draft's differences: opcode 3 is
                               * `unlikely` (a no-op inside a block), 2 is undefined, a load
                               * or store below 2^16 panics, a store to a read-only page
                               * panics; blocks and gas of shared/spec/gas.md */
} javm_profile;

typedef enum javm_gas_model {
    JAVM_GAS_PIPELINE = 0,    /* per-block pipeline cycle estimate (pvm.md §7.2), the default */
    JAVM_GAS_INSTR = 1,       /* one gas per instruction of the block (pvm.md §7.3) */
    JAVM_GAS_JAM_DRAFT = 2    /* the JAM draft's block simulation (gas.md), jam-draft's default */
} javm_gas_model;

/* Gas models a prepared program holds, chosen by its profile: JAVM and GP hold pipeline and
 * instr; jam-draft holds jam-draft and instr. javm_run charges only those; the block costs
 * of every model remain readable through javm_program_block_cost. */

typedef struct javm_prepare_opts {
    javm_profile profile;
    uint32_t mem_latency;     /* M of pvm.md §7.4; 0 means the default 25. Under the jam-draft
                               * profile it is gas.md's load latency m and must be 25 (L2 hit,
                               * the default) or 37 (L3 hit) */
} javm_prepare_opts;

/* An immutable prepared program. Never written after javm_prepare returns, so it may be shared
 * by any number of runs and threads. Reference counted: javm_program_ref / javm_program_free. */
typedef struct javm_program javm_program;

/* Validates (code, bitmask, jump table) and predecodes them once (pvm.md §2.1, §9.2).
 * code: L bytes (read only during the call; the program keeps its own copy). bitmask: exactly
 * ceil(L/8) bytes, bit i in byte i/8 at position i%8. entries: n targets. opts: NULL = JAVM
 * profile, M 25. On success *out holds one reference. Statuses: JAVM_ERR_CODE_TOO_LARGE,
 * JAVM_ERR_JT_TOO_LARGE, JAVM_ERR_BITMASK_PADDING, JAVM_ERR_JT_ENTRY, JAVM_ERR_INVALID_ARG,
 * JAVM_ERR_ALLOC. */
JAVM_API int javm_prepare(const uint8_t *code, uint64_t L, const uint8_t *bitmask, const uint32_t *entries,
                 uint64_t n, const javm_prepare_opts *opts, javm_program **out);

/* Splits a GP "deblob" blob (pvm.md §9.2) and calls javm_prepare. Blob-level statuses:
 * JAVM_ERR_BLOB_TRUNCATED, _VARINT, _TOO_LARGE, _JT_WIDTH, _TRAILING; then those of
 * javm_prepare. Never reads outside [blob, blob + len). */
JAVM_API int javm_prepare_blob(const uint8_t *blob, size_t len, const javm_prepare_opts *opts,
                      javm_program **out);

JAVM_API javm_program *javm_program_ref(javm_program *p);   /* +1 reference; returns p */
JAVM_API void javm_program_free(javm_program *p);           /* -1 reference; NULL is a no-op */

/* Read-only views of a prepared program (valid while the caller holds a reference). */
JAVM_API const uint8_t *javm_program_code(const javm_program *p, uint64_t *len);
JAVM_API const uint8_t *javm_program_bitmask(const javm_program *p, uint64_t *len);
JAVM_API const uint32_t *javm_program_jump_table(const javm_program *p, uint64_t *n);
JAVM_API javm_profile javm_program_profile(const javm_program *p);
JAVM_API uint32_t javm_program_mem_latency(const javm_program *p);
/* Cost of the block starting at pc under a model, or 0 when pc is not a block start (or the
 * model is unknown). A model the program does not hold is computed on each call (slow). */
JAVM_API uint64_t javm_program_block_cost(const javm_program *p, uint32_t pc, javm_gas_model model);

/* ---- memory (pvm.md §2.3, §2.4) ---------------------------------------------------------- */

typedef enum javm_perm { JAVM_PERM_NONE = 0, JAVM_PERM_RO = 1, JAVM_PERM_RW = 2 } javm_perm;
typedef enum javm_access { JAVM_ACCESS_READ = 0, JAVM_ACCESS_WRITE = 1 } javm_access;

/* A 32-bit paged guest address space: every page NONE and zero when created. */
typedef struct javm_memory javm_memory;

JAVM_API int javm_memory_new(javm_memory **out);            /* JAVM_ERR_ALLOC */
JAVM_API void javm_memory_free(javm_memory *m);             /* NULL is a no-op */
/* Makes every page NONE and zero again, keeping the reservation (cheap reuse). */
JAVM_API void javm_memory_reset(javm_memory *m);

/* Guest-checked path: apply pvm.md §2.4 permissions; fail without effect.
 * probe: JAVM_OK, or JAVM_ERR_MEM_ACCESS (a byte lacks the permission, or passes 2^32).
 * If fault_addr is non-NULL it receives the page of the lowest inaccessible byte (or 0 when
 * the range only fails by passing 2^32). len 0 always succeeds. */
JAVM_API int javm_memory_probe(const javm_memory *m, uint32_t addr, uint64_t len, javm_access mode,
                      uint32_t *fault_addr);
JAVM_API int javm_memory_read(const javm_memory *m, uint32_t addr, uint64_t len, void *buf);
JAVM_API int javm_memory_write(javm_memory *m, uint32_t addr, uint64_t len, const void *buf);

/* Embedder path: ignores permissions. JAVM_ERR_MEM_RANGE when addr + len > 2^32, or for
 * set_perm when start or size is not page-aligned; no effect then. set_perm keeps contents. */
JAVM_API int javm_memory_peek(const javm_memory *m, uint32_t addr, uint64_t len, void *buf);
JAVM_API int javm_memory_poke(javm_memory *m, uint32_t addr, uint64_t len, const void *buf);
JAVM_API int javm_memory_set_perm(javm_memory *m, uint64_t start, uint64_t size, javm_perm perm);
JAVM_API javm_perm javm_memory_get_perm(const javm_memory *m, uint32_t page);

/* Dirty-page record: pages written (store instruction, write or poke) since the last clear.
 * javm_memory_dirty returns the page numbers in the order first written; *n receives their
 * count; the array is valid until the next write or clear. */
JAVM_API const uint32_t *javm_memory_dirty(const javm_memory *m, size_t *n);
JAVM_API bool javm_memory_is_dirty(const javm_memory *m, uint32_t page);
/* False when the page's contents were never written (store, write or poke) since the memory
 * was created or reset: it then reads as all zero. Lets callers skip zero pages cheaply. */
JAVM_API bool javm_memory_page_written(const javm_memory *m, uint32_t page);
JAVM_API void javm_memory_clear_dirty(javm_memory *m);

/* ---- running (pvm.md §2.5, §3) ---------------------------------------------------------- */

typedef enum javm_call_kind { JAVM_CALL_ECALLI = 0, JAVM_CALL_ECALL = 1 } javm_call_kind;

/* A handler's answer: cont = CONTINUE, else EXIT(exit). */
typedef struct javm_answer {
    bool cont;
    javm_exit exit;
} javm_answer;

/* Called for every ecalli/ecall with pc already past it (pvm.md §3.2). It must reach memory
 * only through the guest-checked path and must not change pc. */
typedef javm_answer (*javm_handler)(void *user, javm_call_kind kind, uint32_t imm,
                                    uint64_t regs[JAVM_NUM_REGS], javm_memory *mem, int64_t *gas);

/* Execution engines. Both give exactly the same observable results (status, pc, registers,
 * gas, steps, fault address, memory and its dirty record) for every profile and gas model.
 * AUTO resolves to $JAVM_ENGINE when it names an engine ("interp", "jit", "auto"), else to
 * the JIT where the build has one (x86-64 Linux), else the interpreter. */
typedef enum javm_engine {
    JAVM_ENGINE_AUTO = 0,
    JAVM_ENGINE_INTERP = 1,
    JAVM_ENGINE_JIT = 2
} javm_engine;

/* "auto", "interp", "jit"; "?" otherwise. */
JAVM_API const char *javm_engine_name(javm_engine e);
/* Parses "auto", "interp" or "jit"; JAVM_ERR_INVALID_ARG otherwise (*out unchanged). */
JAVM_API int javm_engine_parse(const char *s, javm_engine *out);
/* INTERP or JIT: what AUTO (or e itself) means in this process and build. Reads the
 * environment, so call it once and keep the answer where runs are hot. */
JAVM_API javm_engine javm_engine_resolve(javm_engine e);
/* Whether this build and CPU have the JIT. */
JAVM_API bool javm_jit_available(void);

/* Compiles p for the JIT under a gas model now (otherwise the first JIT run does it). The
 * native code belongs to p: shared by every run and thread, freed with p's last reference.
 * Thread-safe. JAVM_OK, JAVM_ERR_JIT_UNSUPPORTED, JAVM_ERR_JIT_TOO_LARGE (the program then
 * runs on the interpreter), JAVM_ERR_ALLOC, JAVM_ERR_INVALID_ARG. A failure is remembered:
 * later calls return it at once. */
JAVM_API int javm_program_compile(const javm_program *p, javm_gas_model model);
/* Size of p's native code under model and how long compiling it took; JAVM_OK, or the status
 * of javm_program_compile when it is not compiled (JAVM_ERR_NOT_FOUND: not tried yet). */
JAVM_API int javm_program_jit_info(const javm_program *p, javm_gas_model model, size_t *code_bytes,
                                   uint64_t *compile_ns);

/* ---- stopping a run: a timeout, or a cancel from another thread -------------------------- */

/* A stop signal for runs (docs/exec.md "Stopping a run"). A run whose state names one
 * (javm_state.stop) is cut into gas slices of about a millisecond each and checks the stop
 * between them, so it ends with JAVM_EXIT_STOPPED within about a millisecond of the request
 * or the deadline (longer only while a handler runs). A run without one has no check at all.
 * Slicing changes nothing observable: the same exit, pc, registers, gas, steps and memory.
 * Thread-safety: request, set_timeout, reset and fired may be called from any thread while
 * runs use the stop; javm_stop_request is also async-signal-safe. Any number of runs may
 * share one stop. Free it only when no run uses it. */
typedef struct javm_stop javm_stop;

/* A stop with no request and no deadline. JAVM_ERR_INVALID_ARG, JAVM_ERR_ALLOC. */
JAVM_API int javm_stop_new(javm_stop **out);
JAVM_API void javm_stop_free(javm_stop *s); /* NULL is a no-op */
/* Asks every run using s to stop (it stays asked until javm_stop_reset). */
JAVM_API void javm_stop_request(javm_stop *s);
/* Stops runs using s once ns nanoseconds (CLOCK_MONOTONIC) have passed from now; 0 removes
 * the deadline. */
JAVM_API void javm_stop_set_timeout(javm_stop *s, uint64_t ns);
/* Clears the request and the deadline. */
JAVM_API void javm_stop_reset(javm_stop *s);
/* Whether s has been requested or its deadline has passed. */
JAVM_API bool javm_stop_fired(javm_stop *s);

/* The exec state of one VM (pvm.md §2.1). mem is borrowed: the caller owns it. */
typedef struct javm_state {
    uint64_t regs[JAVM_NUM_REGS];
    uint32_t pc;
    int64_t gas;
    javm_memory *mem;
    uint64_t steps; /* out: instructions dispatched by runs, incl. the one that ended each run */
    javm_engine engine; /* in: which engine runs (AUTO when zero-initialised) */
    javm_engine ran;    /* out: the engine that ran the last javm_run: INTERP when the JIT was
                         * asked for but the program cannot be compiled (too large) */
    javm_stop *stop;    /* in: NULL (when zero-initialised), or a stop that ends the run with
                         * JAVM_EXIT_STOPPED; borrowed */
} javm_state;

/* Runs from state until an exit; updates regs, pc, gas, memory and steps in place, on the
 * engine state->engine selects; with state->stop set it may also end JAVM_EXIT_STOPPED. handler may be NULL (ecalli then exits HOST_CALL, ecall
 * ECALL). model must be one the program holds (see javm_prepare_opts): any other exits Panic
 * at the start pc with nothing dispatched and the state unchanged (an unknown value means
 * JAVM_GAS_PIPELINE). Never fails otherwise. A thread may run any number of states one at a
 * time; runs of one program on many threads at once are safe as long as each has its own
 * state and memory. */
JAVM_API javm_exit javm_run(const javm_program *p, javm_state *state, javm_gas_model model,
                   javm_handler handler, void *user);

#endif
