/* SPDX-License-Identifier: MIT
 * javm/limits.h — every resource limit of libjavm in one place, with its unit and reason.
 * Hitting a limit returns JAVM_ERR_LIMIT (or the specific status named), never a crash. */
#ifndef JAVM_LIMITS_H
#define JAVM_LIMITS_H

#include <stdint.h>

/* Code length L in bytes. 16 MiB keeps every per-block cost below 2^32 (at most 101 cycles per
 * instruction, pvm.md §7.2), so block costs fit the predecoded record's 32-bit fields. */
#define JAVM_MAX_CODE_SIZE (16u << 20)

/* Jump-table entries. 2^22 entries = 16 MiB of u32 targets, as large as the largest code. */
#define JAVM_MAX_JUMP_TABLE (1u << 22)

/* Memory latency M of the pipeline gas model (pvm.md §7.4 uses 25..100). Capped so that
 * a block cost stays below 2^32 at the largest code size. */
#define JAVM_MAX_MEM_LATENCY 100u

/* Registers, pages (pvm.md §2). */
#define JAVM_NUM_REGS 13
#define JAVM_PAGE_SIZE 4096u
#define JAVM_PAGE_SHIFT 12
#define JAVM_NUM_PAGES (1u << 20)

/* ---- capability layer (caps.md §2, §3, §5) ---- */

/* CNode size_log 0..16: at most 65536 slots, the slot numbers images may name. */
#define JAVM_CNODE_MAX_SIZE_LOG 16u
#define JAVM_DEFAULT_ROOT_SIZE_LOG 8u
/* Image slot numbers (pinned, initial, yield marker) are below 2^16 (caps.md §3.2). */
#define JAVM_IMAGE_SLOT_LIMIT 65536u
/* Data of at most 4096 bytes is Inline, larger Data is Paged (caps.md §3.3). */
#define JAVM_DATA_INLINE_MAX 4096u
/* Endpoints per Image and steps per mapping source path (caps.md §2). */
#define JAVM_MAX_ENDPOINTS 64u
#define JAVM_MAX_SOURCE_DEPTH 8u
/* A name is 1..255 bytes (caps.md §5.7). */
#define JAVM_NAME_MAX 255u
/* Largest refcount: reaching 2^32 - 1 fails with JAVM_ERR_REFCOUNT_OVERFLOW (caps.md §5.2). */
#define JAVM_REFCOUNT_MAX 0xFFFFFFFEu

/* Encoded bytes of an Image body, and of a whole JIMG file (records and body): 64 MiB. The
 * largest runnable Image (JAVM_MAX_CODE_SIZE of code, its bitmask, JAVM_MAX_JUMP_TABLE entries)
 * takes 34 MiB, so nothing runnable is refused; the bound is checked before the decoder or
 * the loader allocates anything, and put refuses an Image it could not read back.
 * JAVM_ERR_LIMIT. */
#define JAVM_MAX_IMAGE_SIZE (64u << 20)

/* Overlays of an Instance: one per page at most (starts are page-aligned, strictly increasing
 * and below 2^32), so 2^20. Checked by the decoder before it allocates and by
 * javm_instance_add_overlay. JAVM_ERR_LIMIT. */
#define JAVM_MAX_OVERLAYS (1u << 20)

/* Instance memory: mem_size is a u32 and every mapping and overlay lies below 2^32 bytes
 * (start + round_up(size) <= 2^32: JAVM_ERR_NON_CANONICAL), the guest's 32-bit address space. */
#define JAVM_MAX_MEM_END (UINT64_C(1) << 32)

/* Call-stack capacity given to javm_vm_new (its default is JAVM_MAX_CALL_DEPTH, javm/vm.h):
 * at most 2^16 entries, so a stack is allocated up front in bounded memory. Above it
 * javm_vm_new fails with JAVM_ERR_INVALID_ARG; a full stack traps HOST_CALL and HOST_YIELD with
 * STACK_FULL. */
#define JAVM_MAX_CALL_DEPTH_LIMIT 65536u

/* Gas given to one javm_invoke: at most 2^63 - 1 (the counter is signed), else
 * JAVM_ERR_INVALID_ARG. */
#define JAVM_MAX_INVOKE_GAS INT64_MAX

/* Native code the JIT may emit for one program under one gas model: 256 MiB (the emitter
 * reserves room for the worst case of every instruction, so this caps a program at roughly
 * one million instructions). A program past it runs on the interpreter, and
 * javm_program_compile returns JAVM_ERR_JIT_TOO_LARGE. */
#define JAVM_MAX_JIT_CODE_SIZE (256u << 20)

#endif
