/* SPDX-License-Identifier: MIT
 * tests/ref/gas_ref.h — a second, deliberately plain implementation of the jam-draft gas
 * model, written straight from shared/spec/gas.md and sharing no code with src/exec: its own
 * opcode table, decoding, block starts and a literal transcription of the §5.3 pseudocode
 * (a list of live entries with register sets and dependency lists, one micro-step at a
 * time). Slow on purpose; test_gas_diff compares it with the prepared programs' costs. */
#ifndef TESTS_GAS_REF_H
#define TESTS_GAS_REF_H

#include <stdbool.h>
#include <stdint.h>

/* code: L bytes; bitmask: ceil(L/8) bytes; m: load latency (25 or 37). */
typedef struct gas_ref_code {
    const uint8_t *code;
    uint64_t L;
    const uint8_t *bitmask;
    uint32_t m;
} gas_ref_code;

/* The block starts (gas.md §2.1): is_start[pos] for pos = 0 .. L (L + 1 entries). */
void gas_ref_starts(const gas_ref_code *g, bool *is_start);

/* The cost of the block at block start pos (gas.md §5, §6) and, through *count, the number
 * of positions its walk visits (gas.md §2.2). */
uint64_t gas_ref_cost(const gas_ref_code *g, uint64_t pos, uint64_t *count);

#endif
