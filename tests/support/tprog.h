/* SPDX-License-Identifier: MIT
 * tests/support/tprog.h — a tiny builder for hand-written PVM test programs: instructions
 * are byte lists, the bitmask follows from where each instruction starts. */
#ifndef TESTS_TPROG_H
#define TESTS_TPROG_H

#include <stddef.h>
#include <stdint.h>

#include "javm.h"

#define TPROG_MAX 8192

typedef struct tprog {
    uint8_t code[TPROG_MAX];
    uint8_t mask[TPROG_MAX / 8];
    size_t L;
    uint32_t jt[64];
    size_t njt;
} tprog;

void tprog_init(tprog *p);
/* Appends one instruction; returns its pc. */
uint32_t tprog_ins(tprog *p, const uint8_t *bytes, size_t n);
/* Appends bytes that are not instruction starts. */
void tprog_raw(tprog *p, const uint8_t *bytes, size_t n);
#define TI(p, ...) tprog_ins((p), (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

/* Prepares p with a profile and M (0 = 25); fails the test on error. */
javm_program *tprog_prepare(const tprog *p, javm_profile profile, uint32_t M);

/* Assembles src (docs/guest.md syntax, code only) and prepares it; fails the test on error. */
javm_program *tprog_prepare_asm(const char *src, javm_profile profile);

#endif
