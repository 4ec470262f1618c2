/* SPDX-License-Identifier: MIT
 * tools/cli.h — shared pieces of the javm command: subcommand entry points, argument
 * parsing helpers and exit codes (documented in `javm --help`). */
#ifndef TOOLS_CLI_H
#define TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "javm.h"

/* Exit codes of every subcommand. */
enum {
    CLI_OK = 0,        /* the command did what it was asked */
    CLI_FAIL = 1,      /* it ran, and what it checked failed (e.g. a vector mismatched) */
    CLI_USAGE = 2,     /* bad command line */
    CLI_INPUT = 3,     /* an input file or the store was unreadable or invalid */
    CLI_INTERNAL = 4,  /* out of memory or another library failure */
    CLI_COMMITTED = 5, /* invoke: committed, but what was asked after the commit (writing
                        * --output) failed */
    CLI_STOPPED = 6    /* run, invoke: --timeout stopped the run (invoke: nothing committed) */
};

int cmd_asm(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_ld(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_vectors(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_spawn(int argc, char **argv);
int cmd_invoke(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_quota(int argc, char **argv);
int cmd_files(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_gas(int argc, char **argv);

/* Parses a u64 (decimal or 0x hex); false on junk or overflow. */
bool cli_parse_u64(const char *s, uint64_t *out);
/* Parses a positive duration in seconds, SECONDS[.FRACTION] (e.g. 2, 0.5), into ns. */
bool cli_parse_seconds(const char *s, uint64_t *ns);
/* Whether a is --help or -h. */
bool cli_is_help(const char *a);
/* The most cli_read_file reads: 1 GiB. */
#define CLI_READ_MAX ((size_t)1 << 30)
/* Reads a whole file, pipe or character device as a stream, up to CLI_READ_MAX bytes; caller
 * frees *buf. Returns a javm status; on JAVM_ERR_IO errno says why (ENOENT, EISDIR, EFBIG
 * when the input is longer than the limit, ...). */
int cli_read_file(const char *path, uint8_t **buf, size_t *len);
/* Why cli_read_file failed, from errno (EFBIG: "larger than the 1 GiB input limit"). */
const char *cli_read_error(void);
/* Monotonic nanoseconds. */
uint64_t cli_now_ns(void);
/* Profile names: javm, gp, jam-draft. Gas model names: pipeline, instr, jam-draft. */
bool cli_parse_profile(const char *s, javm_profile *out);
bool cli_parse_gas_model(const char *s, javm_gas_model *out);
const char *cli_profile_name(javm_profile p);
const char *cli_gas_model_name(javm_gas_model m);
/* The model a profile runs with by default (jam-draft for jam-draft, else pipeline), and
 * whether a program of the profile holds a model so javm_run can charge it
 * (include/javm/exec.h: pipeline and instr, or jam-draft and instr). */
javm_gas_model cli_default_model(javm_profile p);
bool cli_model_runs(javm_profile p, javm_gas_model m);

#endif
