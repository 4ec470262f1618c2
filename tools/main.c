/* SPDX-License-Identifier: MIT
 * tools/main.c — the javm command: dispatches to one file per subcommand (tools/cmd_*.c)
 * and holds the small helpers they share. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The subcommands: name, entry point, one-line summary (the usage text is built from this). */
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "run", cmd_run, "run one PVM program (.bin deblob or vector .json) and print its exit" },
    { "vectors", cmd_vectors, "run every JAM PVM vector in a directory (GP-compat profile)" },
    { "put", cmd_put, "load an image file (.jimg) into the store; prints the image hash" },
    { "spawn", cmd_spawn, "the first instance of an image, optionally named" },
    { "invoke", cmd_invoke, "invoke an instance endpoint; on halt the name moves on" },
    { "cat", cmd_cat, "decode and print a cap (--raw: its JCAP bytes)" },
    { "ls", cmd_ls, "names, blob count, store size" },
    { "quota", cmd_quota, "get or set a storage quota" },
    { "files", cmd_files, "the file map" },
    { "gc", cmd_gc, "delete what no name or file reaches" },
    { "fsck", cmd_fsck, "check the store: blob hashes, refcounts, edges, names, files" },
    { "backup", cmd_backup, "a consistent, compacted copy of a live store, checked" },
    { "restore", cmd_restore, "replace the store by a backup that checks clean" },
    { "bench", cmd_bench, "exec speed and committed invocations per second" },
    { "demo", cmd_demo, "run the demo" },
    { "asm", cmd_asm, "assemble PVM assembly into a JIMG image (--blob: a deblob)" },
    { "disasm", cmd_disasm, "disassemble a JIMG image, deblob or vector .json into assembly" },
    { "gas", cmd_gas, "every basic block of a program with its gas cost (--top N: the dearest)" },
    { "ld", cmd_ld, "link a static RV64EM ELF into a JIMG image" },
};

static void usage(FILE *f)
{
    fputs("usage: javm <command> [options]\n       javm --version\n\ncommands:\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\nEach command takes --help. Exit codes: 0 ok, 1 the command ran and what it checked\n"
          "failed (a vector mismatched, a guest faulted), 2 usage error, 3 bad input or store,\n"
          "4 internal error; invoke: 5 committed, but --output could not be written.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        /* the library's version: the command is built from the same tree */
        printf("javm %s\n", javm_version());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "javm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}

bool cli_is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

static const char *const profile_names[] = { "javm", "gp", "jam-draft" };
static const char *const model_names[] = { "pipeline", "instr", "jam-draft" };

bool cli_parse_profile(const char *s, javm_profile *out)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, profile_names[i]) == 0) {
            *out = (javm_profile)i;
            return true;
        }
    return false;
}

bool cli_parse_gas_model(const char *s, javm_gas_model *out)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, model_names[i]) == 0) {
            *out = (javm_gas_model)i;
            return true;
        }
    return false;
}

const char *cli_profile_name(javm_profile p) { return (unsigned)p < 3 ? profile_names[p] : "?"; }
const char *cli_gas_model_name(javm_gas_model m) { return (unsigned)m < 3 ? model_names[m] : "?"; }

javm_gas_model cli_default_model(javm_profile p)
{
    return p == JAVM_PROFILE_JAM_DRAFT ? JAVM_GAS_JAM_DRAFT : JAVM_GAS_PIPELINE;
}

bool cli_model_runs(javm_profile p, javm_gas_model m)
{
    return m == JAVM_GAS_INSTR || m == cli_default_model(p);
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
    /* digits first: strtoull would skip spaces and take a sign, so " -1" became 2^64 - 1 */
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool cli_parse_seconds(const char *s, uint64_t *ns)
{
    /* DIGITS[.DIGITS]: at most 10 integer digits (about 317 years) and 9 after the point */
    uint64_t whole = 0, frac = 0, scale = 1000000000u;
    int nw = 0, nf = 0;
    if (!s)
        return false;
    for (; *s >= '0' && *s <= '9'; s++, nw++)
        whole = whole * 10 + (uint64_t)(*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++, nf++)
            if (nf < 9)
                frac = frac * 10 + (uint64_t)(*s - '0'), scale /= 10;
    if (*s || nw == 0 || nw > 10 || (nf == 0 && s[-1] == '.'))
        return false;
    *ns = whole * 1000000000u + frac * scale;
    return *ns > 0;
}

int cli_read_file(const char *path, uint8_t **buf, size_t *len)
{
    /* One loop for every kind of file: a regular file's size is only a first guess (it may
     * change while read), and pipes and character devices (/dev/zero, /dev/stdin) have none
     * (fseek/ftell gave 0 for /dev/zero and failed on a pipe). At most CLI_READ_MAX bytes;
     * reading one more means the input is too large (EFBIG). */
    int rc = JAVM_ERR_IO, err = 0;
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        err = errno;
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        err = EISDIR;
        goto done;
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > CLI_READ_MAX) {
        err = EFBIG; /* known from its size: not read first */
        goto done;
    }
    cap = S_ISREG(st.st_mode) && st.st_size >= 0 && (uint64_t)st.st_size < CLI_READ_MAX
              ? (size_t)st.st_size + 1
              : 65536;
    for (;;) {
        if (n == cap) {
            if (cap > CLI_READ_MAX) {
                err = EFBIG;
                goto done;
            }
            size_t ncap = cap * 2 > CLI_READ_MAX + 1 ? CLI_READ_MAX + 1 : cap * 2;
            uint8_t *nb = realloc(b, ncap);
            if (!nb) {
                rc = JAVM_ERR_ALLOC;
                err = ENOMEM;
                goto done;
            }
            b = nb;
            cap = ncap;
        } else if (!b && !(b = malloc(cap))) {
            rc = JAVM_ERR_ALLOC;
            err = ENOMEM;
            goto done;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = errno;
            goto done;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > CLI_READ_MAX) {
        err = EFBIG;
        goto done;
    }
    *buf = b;
    *len = n;
    b = NULL;
    rc = JAVM_OK;
done:
    if (fd >= 0)
        close(fd);
    free(b);
    errno = err; /* what failed, kept for the caller's message */
    return rc;
}

const char *cli_read_error(void)
{
    return errno == EFBIG ? "larger than the 1 GiB input limit" : strerror(errno);
}

uint64_t cli_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
