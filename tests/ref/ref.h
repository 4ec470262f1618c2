/* SPDX-License-Identifier: MIT
 * tests/ref/ref.h — a deliberately simple reference interpreter for the exec layer, written
 * straight from the PVM specification (pvm.md) and sharing no code with src/exec: it decodes every
 * instruction from the raw code, bitmask and jump table at every step and computes a block's
 * cost by walking the block when execution arrives at its start. Used by the differential
 * tests and the fuzz targets to check the fast interpreter (javm_prepare / javm_run). */
#ifndef TESTS_REF_H
#define TESTS_REF_H

#include <stddef.h>
#include <stdint.h>

#include "javm.h"

/* A program as pvm.md §2.1 describes it: the three raw parts plus profile and M. Owns
 * copies of code, bitmask and jump table (ref_free). Never written by ref_run. */
typedef struct ref_program {
    uint8_t *code;       /* L bytes */
    uint64_t L;
    uint8_t *bitmask;    /* ceil(L/8) bytes, bit i in byte i/8 at position i%8 */
    uint32_t *jt;        /* njt entries */
    uint64_t njt;
    javm_profile profile;
    uint32_t M;          /* memory latency of the pipeline model (pvm.md §7.4) */
} ref_program;

/* The checks of pvm.md §9.2 for the raw parts, with the statuses javm_prepare returns:
 * JAVM_ERR_INVALID_ARG (NULL parts, unknown profile, M > JAVM_MAX_MEM_LATENCY),
 * JAVM_ERR_CODE_TOO_LARGE, JAVM_ERR_JT_TOO_LARGE, JAVM_ERR_BITMASK_PADDING,
 * JAVM_ERR_JT_ENTRY, JAVM_ERR_ALLOC. M = 0 means 25. On success *out owns its copies. */
int ref_prepare(const uint8_t *code, uint64_t L, const uint8_t *bitmask, const uint32_t *entries,
                uint64_t n, javm_profile profile, uint32_t M, ref_program *out);

/* Splits a deblob blob (pvm.md §9.1, §9.2) and calls ref_prepare. Blob statuses:
 * JAVM_ERR_BLOB_TRUNCATED, _VARINT, _TOO_LARGE, _JT_WIDTH, _TRAILING. */
int ref_prepare_blob(const uint8_t *blob, size_t len, javm_profile profile, uint32_t M,
                     ref_program *out);

void ref_free(ref_program *p);   /* frees the copies; a zeroed program is fine */

/* Cost of the block starting at pos under a model, or 0 when pos is not a block start. */
uint64_t ref_block_cost(const ref_program *p, uint64_t pos, javm_gas_model model);

/* Runs from st until an exit, exactly as javm_run (pvm.md §2.5, §3): updates regs, pc, gas,
 * memory and steps (+1 for every instruction dispatched, including the one that ends the run;
 * an OutOfGas block charge adds nothing). h may be NULL. */
javm_exit ref_run(const ref_program *p, javm_state *st, javm_gas_model model, javm_handler h,
                  void *user);

#endif
