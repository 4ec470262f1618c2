/* SPDX-License-Identifier: MIT
 * tools/cmd_ld.c — `javm ld`: links a static RV64EM ELF into a JIMG image (tools/lib/rvld.h);
 * --asm also writes the translated PVM assembly for inspection. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rvld.h"

static void usage(FILE *f)
{
    fputs("usage: javm ld GUEST.elf -o GUEST.jimg [--stack-size BYTES] [--asm OUT.s]\n\n"
          "Translates a static RV64EM ELF (clang-19 --target=riscv64-unknown-elf -march=rv64em\n"
          "-mabi=lp64e ...; ld.lld-19 -static --emit-relocs -T guest/javm.ld, see docs/guest.md)\n"
          "into a JIMG image: PVM code, data sections as mappings backed by Data caps in the\n"
          "initial slots 1.., a stack (default 64 KiB) above the data, and one endpoint per\n"
          "JAVM_ENDPOINT. --asm writes the translated program as PVM assembly.\n"
          "Exit codes: 0 ok, 2 usage, 3 the ELF is unreadable or uses something unsupported.\n",
          f);
}

int cmd_ld(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *asm_out = NULL;
    rvld_opts o = { 0 };
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--asm") == 0 && i + 1 < argc) {
            asm_out = argv[++i];
        } else if (strcmp(argv[i], "--stack-size") == 0 && i + 1 < argc) {
            if (!cli_parse_u64(argv[++i], &o.stack_size)) {
                usage(stderr);
                return CLI_USAGE;
            }
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
    uint8_t *elf = NULL, *img = NULL;
    size_t len, n = 0;
    char msg[512];
    int ret = CLI_INPUT, rc;
    asm_unit u;
    asm_err err;
    asm_unit_init(&u);
    if (cli_read_file(in, &elf, &len)) {
        fprintf(stderr, "javm ld: cannot read %s: %s\n", in, cli_read_error());
        goto done;
    }
    if ((rc = rvld_link(elf, len, &o, &u, msg, sizeof msg))) {
        fprintf(stderr, "%s: error: %s\n", in, msg);
        ret = rc == JAVM_ERR_ALLOC ? CLI_INTERNAL : CLI_INPUT;
        goto done;
    }
    if (asm_out) {
        FILE *f = fopen(asm_out, "w");
        if (!f || asm_print(&u, f) || fclose(f)) {
            fprintf(stderr, "javm ld: cannot write %s\n", asm_out);
            goto done;
        }
    }
    if ((rc = asm_write_jimg(&u, &img, &n, &err))) {
        fprintf(stderr, "%s: error: %s\n", in, err.msg);
        ret = CLI_INTERNAL;
        goto done;
    }
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(img, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "javm ld: cannot write %s\n", out);
        goto done;
    }
    ret = CLI_OK;
done:
    free(elf);
    javm_free(img);
    asm_unit_free(&u);
    return ret;
}
