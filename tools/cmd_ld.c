/* SPDX-License-Identifier: MIT
 * tools/cmd_ld.c — `javm ld`: links a static RV64EM ELF into a JIMG image (tools/lib/rvld.h). */
#include "cli.h"

int cmd_ld(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("javm ld: not yet available\n", stderr);
    return CLI_INTERNAL;
}
