/* SPDX-License-Identifier: MIT
 * tools/cmd_backup.c — `javm backup DEST`: a consistent, compacted copy of a live store
 * (LMDB's copy in one read transaction, so other processes keep invoking), checked with fsck;
 * `javm restore SRC`: fsck the backup, then copy it over the store (no process may have the
 * store open). docs/store.md, "Backups". */
#include <stdlib.h>
#include <string.h>

#include "fsck.h"
#include "session.h"

static const char backup_usage[] =
    "usage: javm backup DEST [--store PATH] [--json]\n"
    "Writes a consistent, compacted copy of the store to the directory DEST (created; an\n"
    "existing DEST/data.mdb is never overwritten) while other processes may keep invoking,\n"
    "then checks the copy as `javm fsck` does. DEST is itself a store: restore it with\n"
    "`javm restore DEST`, or use it directly with --store DEST.\n"
    "Exit: 0 backed up and the copy checks clean, 1 the copy has problems (the store had\n"
    "them: see javm fsck), 2 usage, 3 store error (DEST exists, disk full, unreadable store).\n";

static const char restore_usage[] =
    "usage: javm restore SRC [--store PATH] [--json]\n"
    "Checks the backup SRC as `javm fsck` does and, when it has no problem, replaces the store\n"
    "(created if missing) by a compacted copy of it. No process may have the store open\n"
    "meanwhile (exit 3 if one does); the old data.mdb is replaced in one rename.\n"
    "Exit: 0 restored, 1 SRC has problems (nothing changed), 2 usage, 3 store error or store\n"
    "in use (nothing changed).\n";

static void quiet(void *arg, const char *kind, const char *where, const char *detail)
{
    (void)arg;
    fprintf(stderr, "  %s %s: %s\n", kind, where, detail);
}

/* fsck of the store at path; CLI_OK clean, CLI_FAIL problems, else a CLI exit code. */
static int check(const char *cmd, const char *path, tl_fsck_stats *st)
{
    javm_lmdb_opts o = { 0, false, true };
    javm_store *store;
    int rc = cli_store_verify(cmd, path);
    if (rc)
        return rc;
    rc = javm_store_lmdb_open(path, &o, &store);
    if (rc) {
        fprintf(stderr, "javm %s: cannot open %s: %s\n", cmd, path, javm_strerror(rc));
        return cli_status_exit(rc);
    }
    rc = tl_fsck(store, quiet, NULL, st);
    if (rc) {
        fprintf(stderr, "javm %s: checking %s: %s%s%s\n", cmd, path, javm_strerror(rc),
                *javm_store_errmsg(store) ? ": " : "", javm_store_errmsg(store));
        javm_store_close(store);
        return cli_status_exit(rc);
    }
    javm_store_close(store);
    if (st->problems) {
        fprintf(stderr, "javm %s: %s has %zu problem%s (listed above)\n", cmd, path, st->problems,
                st->problems == 1 ? "" : "s");
        return CLI_FAIL;
    }
    return CLI_OK;
}

static int parse(cli_session *s, int argc, char **argv, const char *usage, const char **arg)
{
    *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return -1;
        } else if (cli_session_opt(s, argc, argv, &i)) {
        } else if (!*arg && argv[i][0] != '-' && argv[i][0]) {
            *arg = argv[i];
        } else {
            fprintf(stderr, "javm: bad argument '%s'\n%s", argv[i], usage);
            return CLI_USAGE;
        }
    }
    if (!*arg) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    if (!s->path)
        s->path = getenv("JAVM_STORE");
    if (!s->path || !*s->path)
        s->path = ".javm";
    if (cli_store_is_rados(s->path)) {
        fprintf(stderr, "javm: backup and restore copy an LMDB store; a RADOS pool is "
                        "replicated by Ceph (docs/scale-out.md)\n");
        return CLI_USAGE;
    }
    return CLI_OK;
}

static void summary(const cli_session *s, const char *what, const char *path,
                    const tl_fsck_stats *st)
{
    if (s->json)
        printf("{\"%s\":\"%s\",\"blobs\":%zu,\"names\":%zu,\"files\":%zu,\"quotas\":%zu}\n", what,
               path, st->blobs, st->names, st->files, st->quotas);
    else
        printf("%s %s: %zu blobs, %zu names, %zu files, %zu quotas, checked clean\n", what, path,
               st->blobs, st->names, st->files, st->quotas);
}

int cmd_backup(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *dest;
    int rc = parse(&s, argc, argv, backup_usage, &dest);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    javm_lmdb_opts o = { s.map_size, false, true };
    javm_store *store;
    if ((rc = cli_store_verify("backup", s.path)))
        return rc;
    if ((rc = javm_store_lmdb_open(s.path, &o, &store))) {
        fprintf(stderr, "javm backup: cannot open store %s: %s\n", s.path, javm_strerror(rc));
        return cli_status_exit(rc);
    }
    rc = javm_store_lmdb_backup(store, dest);
    if (rc) {
        fprintf(stderr, "javm backup: %s: %s\n", javm_strerror(rc), javm_store_errmsg(store));
        javm_store_close(store);
        return rc == JAVM_ERR_ALLOC ? CLI_INTERNAL : CLI_INPUT;
    }
    javm_store_close(store);
    tl_fsck_stats st;
    if ((rc = check("backup", dest, &st)))
        return rc;
    summary(&s, "backup", dest, &st);
    return CLI_OK;
}

int cmd_restore(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *src;
    int rc = parse(&s, argc, argv, restore_usage, &src);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    tl_fsck_stats st;
    if ((rc = check("restore", src, &st))) {
        if (rc == CLI_FAIL)
            fprintf(stderr, "javm restore: not restored; %s is unchanged\n", s.path);
        return rc;
    }
    char msg[512];
    if ((rc = javm_store_lmdb_restore(src, s.path, msg, sizeof msg))) {
        fprintf(stderr, "javm restore: %s: %s (the store is unchanged)\n", javm_strerror(rc), msg);
        return cli_status_exit(rc);
    }
    summary(&s, "restored", s.path, &st);
    return CLI_OK;
}
