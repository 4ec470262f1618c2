/* SPDX-License-Identifier: MIT
 * tools/cmd_spawn.c — `javm spawn IMAGE [--name N]`: the first Instance of an Image
 * (caps.md §6.8), optionally named; prints the instance hash. */
#include <string.h>

#include "session.h"

static const char usage[] =
    "usage: javm spawn IMAGE_HASH [--name NAME] [--size-log L] [--store PATH] [--json]\n"
    "Builds the first Instance of an image already in the store (IMAGE_HASH: 64 hex digits\n"
    "or a unique prefix of at least 8) with a root cnode of 2^L slots (default 8), and\n"
    "prints its hash. --name points NAME at it (replacing what NAME named before).\n"
    "Exit: 0 ok, 2 usage, 3 unknown image, bad image or store.\n";

int cmd_spawn(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *img = NULL, *name = NULL;
    uint64_t size_log = JAVM_DEFAULT_ROOT_SIZE_LOG;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (cli_session_opt(&s, argc, argv, &i)) {
        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp(argv[i], "--size-log") == 0 && i + 1 < argc &&
                   cli_parse_u64(argv[i + 1], &size_log) && size_log <= JAVM_CNODE_MAX_SIZE_LOG) {
            i++;
        } else if (!img && argv[i][0] != '-') {
            img = argv[i];
        } else {
            fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    if (!img || (name && (strlen(name) == 0 || strlen(name) > JAVM_NAME_MAX))) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    int rc = cli_session_open(&s, "spawn");
    if (rc)
        return rc;
    javm_hash ih, inst;
    if ((rc = cli_resolve_hash(&s, "spawn", img, &ih)))
        goto done;
    int src = javm_spawn(s.cache, &ih, (unsigned)size_log, &inst);
    if (src == JAVM_OK && name)
        src = javm_name_set(s.cache, (const uint8_t *)name, strlen(name), &inst);
    if (src) {
        fprintf(stderr, "javm spawn: %s\n", javm_strerror(src));
        rc = CLI_INPUT;
        goto done;
    }
    if ((rc = cli_session_commit(&s, "spawn")))
        goto done;
    if (s.json) {
        fputs("{\"instance\":\"", stdout);
        cli_print_hash(&inst);
        fputs("\",\"name\":", stdout);
        if (name)
            cli_json_str((const uint8_t *)name, strlen(name));
        else
            fputs("null", stdout);
        fputs("}\n", stdout);
    } else {
        cli_print_hash(&inst);
        fputc('\n', stdout);
    }
done:
    cli_session_close(&s);
    return rc;
}
