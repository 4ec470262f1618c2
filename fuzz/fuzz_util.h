/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_util.h — what the store targets (fuzz_store_file, fuzz_store_records) share: a
 * cursor that reads the input as big-endian numbers (bytes past its end read as zero, so every
 * input is a case), and the report of a finding: the target's name, what failed, the status
 * and the input (its first 256 bytes, in hex) on stderr, then abort, so that libFuzzer keeps
 * the input. tests/test_fuzz_regress.c compiles several targets into one program, so this is
 * guarded and its names are not renamed there. */
#ifndef JAVM_FUZZ_UTIL_H
#define JAVM_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "javm.h"

static inline void fuzz_report(const char *target, const char *what, int rc, const uint8_t *in, size_t len)
{
    fprintf(stderr, "%s: %s (%d: %s); input (%zu bytes):", target, what, rc, javm_strerror(rc), len);
    for (size_t i = 0; i < len && i < 256; i++)
        fprintf(stderr, " %02x", in[i]);
    fputc('\n', stderr);
    abort();
}

typedef struct cur {
    const uint8_t *p;
    size_t n, i;
} cur;

/* The next `bytes` bytes of the input, big-endian. */
static inline unsigned take(cur *c, int bytes)
{
    unsigned v = 0;
    for (int k = 0; k < bytes; k++)
        v = v << 8 | (c->i < c->n ? c->p[c->i++] : 0);
    return v;
}

#endif
