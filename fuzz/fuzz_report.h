/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_report.h — how the store targets report a finding: the target's name, what
 * failed, the status and the input (its first 256 bytes, in hex) on stderr, then abort, so
 * that libFuzzer keeps the input. tests/test_fuzz_regress.c compiles several targets into one
 * program, so this is guarded and its one function is not renamed there. */
#ifndef JAVM_FUZZ_REPORT_H
#define JAVM_FUZZ_REPORT_H

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

#endif
