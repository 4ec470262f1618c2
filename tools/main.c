/* SPDX-License-Identifier: MIT
 * tools/main.c — the javm command: dispatches to one file per subcommand (tools/cmd_*.c)
 * and holds the small helpers they share. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage[] =
    "usage: javm <command> [options]\n"
    "\n"
    "commands:\n"
    "  run PROGRAM.bin|VECTOR.json   run one PVM program and print its exit and state\n"
    "  vectors DIR                   run every JAM PVM vector in DIR (GP-compat profile)\n"
    "  demo                          run the built-in demo program\n"
    "\n"
    "Each command takes --help. Exit codes: 0 ok, 1 a check failed, 2 usage error,\n"
    "3 bad input, 4 internal error.\n";

int main(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "vectors") == 0)
        return cmd_vectors(argc - 1, argv + 1);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(argc - 1, argv + 1);
    fprintf(stderr, "javm: unknown command '%s'\n%s", cmd, usage);
    return CLI_USAGE;
}

bool cli_is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

bool cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

int cli_read_file(const char *path, uint8_t **buf, size_t *len)
{
    int rc = JAVM_ERR_IO;
    uint8_t *b = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        goto done;
    if (fseek(f, 0, SEEK_END) || ftell(f) < 0 || ftell(f) > (1L << 30))
        goto done;
    long n = ftell(f);
    rewind(f);
    rc = JAVM_ERR_ALLOC;
    if (!(b = malloc(n ? (size_t)n : 1)))
        goto done;
    rc = JAVM_ERR_IO;
    if (fread(b, 1, (size_t)n, f) != (size_t)n)
        goto done;
    *buf = b;
    *len = (size_t)n;
    b = NULL;
    rc = JAVM_OK;
done:
    if (f)
        fclose(f);
    free(b);
    return rc;
}

uint64_t cli_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
