/* SPDX-License-Identifier: MIT
 * javm/limits.h — every resource limit of libjavm in one place, with its unit and reason.
 * Hitting a limit returns JAVM_ERR_LIMIT (or the specific status named), never a crash. */
#ifndef JAVM_LIMITS_H
#define JAVM_LIMITS_H

/* Code length L in bytes. 16 MiB keeps every per-block cost below 2^32 (at most 101 cycles per
 * instruction, pvm.md §7.2), so block costs fit the predecoded record's 32-bit fields. */
#define JAVM_MAX_CODE_SIZE (16u << 20)

/* Jump-table entries. 2^22 entries = 16 MiB of u32 targets, as large as the largest code. */
#define JAVM_MAX_JUMP_TABLE (1u << 22)

/* Registers, pages (pvm.md §2). */
#define JAVM_NUM_REGS 13
#define JAVM_PAGE_SIZE 4096u
#define JAVM_PAGE_SHIFT 12
#define JAVM_NUM_PAGES (1u << 20)

#endif
