/* SPDX-License-Identifier: MIT
 * tools/session.h — what every store-backed javm subcommand shares: the global options
 * (--store, --map-size, --no-sync, --json), opening the store, cache, kernel assist and VM, and turning
 * user text (names, full hashes, unique prefixes of >= 8 hex digits) into hashes. */
#ifndef TOOLS_SESSION_H
#define TOOLS_SESSION_H

#include "cli.h"

typedef struct cli_session {
    const char *path;    /* --store, else $JAVM_STORE, else ./.javm; rados://... for RADOS */
    bool no_sync, json;
    uint64_t map_size;   /* --map-size, bytes; 0 = the store's default */
    bool read_only;      /* set by commands that only read (ls, cat, files, quota get): the
                          * store is opened read-only, so a read-only mount or an immutable
                          * data file can still be inspected (issue 13 item 14) */
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
    javm_vm *vm;
} cli_session;

/* Consumes a global option at argv[*i] (--store PATH, --no-sync, --json), advancing *i past
 * its value. Returns true when it was one. */
bool cli_session_opt(cli_session *s, int argc, char **argv, int *i);
/* Opens everything (creating the store on first use). Prints the reason on failure and
 * returns a CLI exit code. */
int cli_session_open(cli_session *s, const char *cmd);
/* Whether --store names the store on Ceph RADOS ("rados://POOL[/NAMESPACE][?conf=...]"). */
bool cli_store_is_rados(const char *path);
/* Every page of the store at path checked before LMDB maps it (javm_store_lmdb_verify), so a
 * damaged store is exit 3 with the damage named, never a signal (docs/store.md). CLI_OK also
 * when there is no data.mdb yet (a store to create). */
int cli_store_verify(const char *cmd, const char *path);
void cli_session_close(cli_session *s);
/* Commits changes made outside invocations; prints and returns a CLI exit code. */
int cli_session_commit(cli_session *s, const char *cmd);

/* The exit code for a failed library call on the store: 4 (internal) for out of memory or a
 * misuse, else 3 (a store error: full, read-only, corrupt, conflict, ...). */
int cli_status_exit(int rc);

/* A blob hash from 64 hex digits or a unique prefix of 8..63 hex digits. Prints the reason
 * (unknown, ambiguous, malformed) and returns a CLI exit code on failure. */
int cli_resolve_hash(cli_session *s, const char *cmd, const char *text, javm_hash *out);
/* A name if one exists with this text, else a hash as cli_resolve_hash. *is_name tells. */
int cli_resolve_target(cli_session *s, const char *cmd, const char *text, javm_hash *out,
                       bool *is_name);
void cli_print_hash(const javm_hash *h);
/* Prints bytes as a JSON string (non-ASCII bytes as \u00XX). */
void cli_json_str(const uint8_t *s, size_t n);
const char *cli_kind_name(javm_kind k);

#endif
