/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_gas_diff.c — libFuzzer target for the jam-draft gas model: the input is a
 * program (byte 0: bit 0 selects the load latency 37 instead of 25; then code bytes and,
 * after them, the bitmask: the last ceil(L/8) bytes, L = 8/9 of the rest). Every position's
 * block start, jam-draft cost and instruction count must equal the plain reference
 * (tests/ref/gas_ref.c), and preparation must never crash. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "javm.h"
#include "ref/gas_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t m = (data[0] & 1) ? 37 : 25;
    size_t rest = size - 1, L = rest * 8 / 9;
    while (L && (L + 7) / 8 > rest - L)
        L--;
    size_t kl = (L + 7) / 8;
    uint8_t *code = malloc(L ? L : 1), *mask = calloc(kl ? kl : 1, 1);
    if (!code || !mask)
        abort();
    memcpy(code, data + 1, L);
    memcpy(mask, data + 1 + L, kl);
    if (L & 7)
        mask[kl - 1] &= (uint8_t)((1u << (L & 7)) - 1); /* padding bits must be zero */
    javm_prepare_opts o = { JAVM_PROFILE_JAM_DRAFT, m };
    javm_program *p = NULL;
    if (javm_prepare(code, L, mask, NULL, 0, &o, &p) != JAVM_OK)
        abort(); /* any code and bitmask are a valid program */
    gas_ref_code g = { code, L, mask, m };
    bool *starts = malloc(L + 1);
    if (!starts)
        abort();
    gas_ref_starts(&g, starts);
    for (size_t pos = 0; pos <= L; pos++) {
        uint64_t c = javm_program_block_cost(p, (uint32_t)pos, JAVM_GAS_JAM_DRAFT);
        uint64_t n = javm_program_block_cost(p, (uint32_t)pos, JAVM_GAS_INSTR);
        uint64_t rn = 0, rc = starts[pos] ? gas_ref_cost(&g, pos, &rn) : 0;
        if (c != rc || n != rn) {
            fprintf(stderr, "fuzz_gas_diff: pos %zu (L %zu, m %u): cost %llu ref %llu, "
                    "instructions %llu ref %llu\n", pos, L, m, (unsigned long long)c,
                    (unsigned long long)rc, (unsigned long long)n, (unsigned long long)rn);
            abort();
        }
    }
    free(starts);
    javm_program_free(p);
    free(code);
    free(mask);
    return 0;
}
