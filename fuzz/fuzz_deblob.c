/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_deblob.c — libFuzzer target for the GP blob loader (pvm.md §9.1, §9.2): the input
 * is a blob. javm_prepare_blob must never crash or read outside it, must return the status the
 * reference loader (tests/ref) returns, and for an accepted blob the parts must match the
 * reference's, and re-encoding them (entry widths 4 and the smallest that fits) must prepare
 * again to the same code, bitmask and jump table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "javm.h"
#include "ref/diff.h"
#include "ref/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_deblob: %s; blob (%zu bytes):", what, size);
    for (size_t i = 0; i < size && i < 256; i++)
        fprintf(stderr, " %02x", data[i]);
    fputc('\n', stderr);
    abort();
}

/* Whether two prepared programs hold the same code, bitmask and jump table. */
static bool same_parts(const javm_program *a, const javm_program *b)
{
    uint64_t la, lb, ka, kb, na, nb;
    const uint8_t *ca = javm_program_code(a, &la), *cb = javm_program_code(b, &lb);
    const uint8_t *ma = javm_program_bitmask(a, &ka), *mb = javm_program_bitmask(b, &kb);
    const uint32_t *ja = javm_program_jump_table(a, &na), *jb = javm_program_jump_table(b, &nb);
    return la == lb && ka == kb && na == nb && (!la || memcmp(ca, cb, la) == 0) &&
           (!ka || memcmp(ma, mb, ka) == 0) && (!na || memcmp(ja, jb, na * sizeof *ja) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that ASan reports any read past the blob. */
    uint8_t *blob = malloc(size ? size : 1);
    if (!blob)
        abort();
    memcpy(blob, data, size);
    javm_prepare_opts opts = { JAVM_PROFILE_JAVM, 25 };
    javm_program *fp = NULL;
    ref_program rp;
    int sf = javm_prepare_blob(blob, size, &opts, &fp);
    int sr = ref_prepare_blob(blob, size, JAVM_PROFILE_JAVM, 25, &rp);
    if (sf != sr) {
        fprintf(stderr, "fast status %d (%s), reference %d (%s)\n", sf, javm_strerror(sf), sr,
                javm_strerror(sr));
        fail("statuses differ", data, size);
    }
    if (sf == JAVM_OK) {
        uint64_t L, kl, n;
        const uint8_t *code = javm_program_code(fp, &L);
        const uint8_t *mask = javm_program_bitmask(fp, &kl);
        const uint32_t *jt = javm_program_jump_table(fp, &n);
        if (L != rp.L || n != rp.njt || kl != (L + 7) / 8 || (L && memcmp(code, rp.code, L) != 0) ||
            (kl && memcmp(mask, rp.bitmask, kl) != 0) || (n && memcmp(jt, rp.jt, n * sizeof *jt) != 0))
            fail("parts differ from the reference loader's", data, size);
        uint32_t maxe = 0;
        for (uint64_t i = 0; i < n; i++)
            maxe = jt[i] > maxe ? jt[i] : maxe;
        unsigned zmin = n == 0 ? 0 : maxe < 0x100 ? 1 : maxe < 0x10000 ? 2 : maxe < 0x1000000 ? 3 : 4;
        size_t cap = 32 + 4 * (size_t)n + (size_t)L + (size_t)kl;
        uint8_t *again = malloc(cap);
        if (!again)
            abort();
        const unsigned widths[2] = { zmin, n ? 4 : 0 };
        for (int w = 0; w < 2; w++) {
            size_t len = diff_blob_encode(code, L, mask, jt, n, widths[w], again, cap);
            javm_program *fp2 = NULL;
            if (len == 0 || javm_prepare_blob(again, len, &opts, &fp2) != JAVM_OK)
                fail("re-encoded blob refused", data, size);
            if (!same_parts(fp, fp2))
                fail("re-encoded blob prepares to different parts", data, size);
            javm_program_free(fp2);
        }
        free(again);
        ref_free(&rp);
    }
    javm_program_free(fp);
    free(blob);
    return 0;
}
