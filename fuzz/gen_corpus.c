/* SPDX-License-Identifier: MIT
 * fuzz/gen_corpus.c — writes seed inputs for the fuzz targets from the differential test's own
 * generators (tests/ref/diff.h): `gen_corpus EXEC_DIR DEBLOB_DIR COUNT [SEED]` writes COUNT
 * fuzz_exec_diff inputs (structured and random programs, a sixth as blobs) and COUNT blobs. */
#include <stdio.h>
#include <stdlib.h>

#include "ref/diff.h"

static int write_file(const char *dir, const char *kind, unsigned long i, const uint8_t *b, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/gen_%s_%05lu", dir, kind, i);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) {
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: gen_corpus EXEC_DIR DEBLOB_DIR COUNT [SEED]\n");
        return 2;
    }
    unsigned long count = strtoul(argv[3], NULL, 0);
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 0) : UINT64_C(0x636F72707573); /* "corpus" */
    diff_case *c = malloc(sizeof *c);
    diff_prog *p = malloc(sizeof *p);
    uint8_t *in = malloc(DIFF_MAX_BLOB + 1024);
    if (!c || !p || !in)
        return 1;
    int rc = 0;
    for (unsigned long i = 0; i < count && !rc; i++) {
        uint64_t rng = seed ^ (i * UINT64_C(0xD1342543DE82EF95));
        if (diff_below(&rng, 2))
            diff_gen_structured(&rng, c, p);
        else
            diff_gen_random(&rng, c, p);
        if (diff_below(&rng, 6) == 0)
            diff_to_blob(&rng, p);
        rc = write_file(argv[1], "exec", i, in, diff_encode(c, p, in, DIFF_MAX_BLOB + 1024));
        if (!p->is_blob)
            diff_to_blob(&rng, p);
        if (!rc)
            rc = write_file(argv[2], "blob", i, p->blob, p->blob_len);
    }
    free(in);
    free(p);
    free(c);
    return rc;
}
