/* SPDX-License-Identifier: MIT
 * tools/cmd_disasm.c — `javm disasm`: prints a JIMG image, a GP deblob or the program of a
 * JAM PVM vector (.json) as PVM assembly that `javm asm` turns back into the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "disasm.h"
#include "vector.h"

static void usage(FILE *f)
{
    fputs("usage: javm disasm FILE [--blob] [-o OUT]\n\n"
          "Disassembles a JIMG image file, a GP deblob (--blob, or any file not starting with\n"
          "\"JIMG\") or the program of a JAM PVM vector (.json). The text re-assembles with\n"
          "`javm asm` (add --blob for deblobs) to the identical bytes.\n"
          "Exit codes: 0 ok, 2 usage, 3 unreadable or invalid input.\n",
          f);
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int cmd_disasm(int argc, char **argv)
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
    if (!in) {
        usage(stderr);
        return CLI_USAGE;
    }
    int ret = CLI_INPUT, rc;
    uint8_t *bytes = NULL;
    size_t len = 0;
    asm_unit u;
    asm_err err;
    tv_vector v;
    bool have_v = false;
    asm_unit_init(&u);
    memset(&err, 0, sizeof err);
    if (ends_with(in, ".json")) {
        char msg[256];
        if (tv_load(in, &v, msg, sizeof msg)) {
            fprintf(stderr, "javm disasm: %s\n", msg);
            goto done;
        }
        have_v = true;
        rc = disasm_blob(&u, v.program, v.program_len, &err);
    } else {
        if (cli_read_file(in, &bytes, &len)) {
            fprintf(stderr, "javm disasm: cannot read %s: %s\n", in, cli_read_error());
            goto done;
        }
        if (!blob && len >= 4 && memcmp(bytes, "JIMG", 4) == 0)
            rc = disasm_jimg(&u, bytes, len, &err);
        else
            rc = disasm_blob(&u, bytes, len, &err);
    }
    if (rc) {
        fprintf(stderr, "%s: error: %s\n", in, err.msg);
        ret = rc == JAVM_ERR_ALLOC ? CLI_INTERNAL : CLI_INPUT;
        goto done;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f || asm_print(&u, f) || (out && fclose(f))) {
        fprintf(stderr, "javm disasm: cannot write %s\n", out ? out : "stdout");
        goto done;
    }
    ret = CLI_OK;
done:
    if (have_v)
        tv_free(&v);
    free(bytes);
    asm_unit_free(&u);
    return ret;
}
