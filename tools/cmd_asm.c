/* SPDX-License-Identifier: MIT
 * tools/cmd_asm.c — `javm asm`: assembles PVM assembly text (docs/guest.md) into a JIMG image
 * file, or with --blob into a GP deblob. Errors name file:line:col. */
#include <stdlib.h>
#include <string.h>

#include "asm.h"
#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: javm asm FILE.s -o OUT [--blob]\n\n"
          "Assembles PVM assembly (syntax: docs/guest.md) into a JIMG image file (the image and\n"
          "the Data caps its slots and mappings need), or with --blob into a GP deblob\n"
          "(docs/isa.md; endpoints, mappings and caps are then not allowed). FILE.s may be a pipe;\n"
          "at most 1 GiB is read.\n"
          "Exit codes: 0 ok, 2 usage, 3 the source has an error (reported as file:line:col).\n",
          f);
}

int cmd_asm(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    bool blob = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--blob") == 0) {
            blob = true;
        } else if (!in && argv[i][0] != '-') {
            in = argv[i];
        } else {
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (!in || !out) {
        usage(stderr);
        return CLI_USAGE;
    }
    uint8_t *text = NULL, *bytes = NULL;
    size_t len, n = 0;
    int ret = CLI_INPUT;
    asm_unit u;
    asm_err err;
    asm_unit_init(&u);
    memset(&err, 0, sizeof err);
    if (cli_read_file(in, &text, &len)) {
        fprintf(stderr, "javm asm: cannot read %s: %s\n", in, cli_read_error());
        goto done;
    }
    int rc = asm_parse(&u, (const char *)text, len, &err);
    if (!rc && blob && (u.neps || u.nmaps || u.ncaps || u.has_yield)) {
        snprintf(err.msg, sizeof err.msg, "--blob output cannot carry endpoints, mappings or caps");
        rc = JAVM_ERR_INVALID_ARG;
    }
    if (!rc)
        rc = blob ? asm_write_blob(&u.prog, &bytes, &n, &err) : asm_write_jimg(&u, &bytes, &n, &err);
    if (rc) {
        if (err.line)
            fprintf(stderr, "%s:%u:%u: error: %s\n", in, err.line, err.col, err.msg);
        else
            fprintf(stderr, "%s: error: %s\n", in, err.msg);
        ret = rc == JAVM_ERR_ALLOC ? CLI_INTERNAL : CLI_INPUT;
        goto done;
    }
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "javm asm: cannot write %s\n", out);
        ret = CLI_INPUT;
        goto done;
    }
    ret = CLI_OK;
done:
    free(text);
    if (blob)
        free(bytes);
    else
        javm_free(bytes);
    asm_unit_free(&u);
    return ret;
}
