/* SPDX-License-Identifier: MIT
 * tools/cmd_put.c — `javm put FILE.jimg`: load an image file (the Image and the caps it
 * needs, caps.md §11.2) into the store and print the image hash. */
#include <stdlib.h>
#include <string.h>

#include "session.h"

static const char usage[] =
    "usage: javm put FILE.jimg [--store PATH] [--no-sync] [--json]\n"
    "Loads a JIMG image file into the store and prints the image hash. Nothing is stored\n"
    "when any record fails to decode or names a cap that is neither in the file nor in the\n"
    "store. Exit: 0 ok, 2 usage, 3 bad file or store.\n";

int cmd_put(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (cli_session_opt(&s, argc, argv, &i)) {
        } else if (!file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    if (!file) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    uint8_t *buf;
    size_t len;
    if (cli_read_file(file, &buf, &len)) {
        fprintf(stderr, "javm put: cannot read %s: %s\n", file, cli_read_error());
        return CLI_INPUT;
    }
    int rc = cli_session_open(&s, "put");
    if (rc) {
        free(buf);
        return rc;
    }
    javm_hash h;
    javm_decode_err err = { 0 };
    int lrc = javm_image_load(s.cache, buf, len, &h, &err);
    free(buf);
    if (lrc) {
        fprintf(stderr, "javm put: %s: %s at byte %llu", file, javm_strerror(err.reason ? err.reason : lrc),
                (unsigned long long)err.offset);
        if (err.has_missing) {
            char hex[65];
            javm_hash_to_hex(&err.missing, hex);
            fprintf(stderr, " (missing cap %s)", hex);
        }
        fputc('\n', stderr);
        cli_session_close(&s);
        return CLI_INPUT;
    }
    rc = cli_session_commit(&s, "put");
    if (rc == CLI_OK) {
        if (s.json) {
            fputs("{\"image\":\"", stdout);
            cli_print_hash(&h);
            fputs("\"}\n", stdout);
        } else {
            cli_print_hash(&h);
            fputc('\n', stdout);
        }
    }
    cli_session_close(&s);
    return rc;
}
