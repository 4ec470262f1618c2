/* SPDX-License-Identifier: MIT
 * tools/cmd_fsck.c — `javm fsck`: checks a store without changing it (tools/lib/fsck.c):
 * every blob's hash, refcounts against the holders found, edges, names, files, quotas, meta.
 * The checking runs in a child process (docs/store.md, "What a damaged store does"): it walks
 * every page with our own reader first, then reads the records through LMDB; a child that
 * dies (a fault inside LMDB on damage the walk missed, or skipped with --no-page-walk) is
 * reported by the parent as corruption, with the page its own walk finds. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "fsck.h"
#include "session.h"

static const char usage[] =
    "usage: javm fsck [--store PATH] [--json] [--no-page-walk]\n"
    "Checks the store without changing it (opened read-only): recomputes every blob's hash,\n"
    "checks that each refcount covers the holders found (names, file records, edges of other\n"
    "blobs), that every edge, name and file record names a stored cap of the right kind, and\n"
    "the quota and meta records. Prints one line per problem (--json: one object per line,\n"
    "then a summary object). Blobs nothing reaches and counts above their holders are reported\n"
    "in the summary only (gc handles them). First every page of every LMDB table is walked\n"
    "(page numbers, types, node offsets, overflow pages): a damaged page is reported as\n"
    "'page-corrupt' naming the page and table, and the records are then not read. The check\n"
    "runs in a child process: if it dies (a fault inside LMDB), that is reported as\n"
    "'lmdb-crash', with the damaged page when the walk finds one. --no-page-walk skips the\n"
    "walk before the records are read (to test that containment). On a RADOS store\n"
    "(rados://...) the record checks run without the walk and without refcounts.\n"
    "Exit: 0 no problem, 1 problems found, 2 usage, 3 the store cannot be opened or read.\n";

typedef struct out {
    bool json;
} out;

static void report(void *arg, const char *kind, const char *where, const char *detail)
{
    out *o = arg;
    if (o->json) {
        printf("{\"problem\":\"%s\",\"where\":\"%s\",\"detail\":", kind, where);
        cli_json_str((const uint8_t *)detail, strlen(detail));
        puts("}");
    } else {
        printf("%s %s: %s\n", kind, where, detail);
    }
}

static int check_records(cli_session *s, javm_store *store, out *o);

/* A RADOS store (docs/scale-out.md): the record checks only (no pages to walk, no refcounts
 * stored), in this process: librados faults are not ours to contain. A blob whose chunks are
 * missing or short stops the walk: reported as a problem, exit 1. */
static int check_rados(cli_session *s)
{
    char msg[256];
    javm_rados_opts ro = { NULL, 0, true };
    javm_store *store;
    out ou = { s->json };
    int rc = javm_store_rados_open(s->path, &ro, &store, msg, sizeof msg);
    if (rc) {
        fprintf(stderr, "javm fsck: cannot open store %s: %s: %s\n", s->path, javm_strerror(rc),
                msg);
        return cli_status_exit(rc);
    }
    return check_records(s, store, &ou);
}

/* The check itself (in the child): prints problems and the summary, returns the exit code. */
static int check(cli_session *s, bool page_walk)
{
    char msg[256];
    int rc = javm_store_lmdb_verify(s->path, page_walk, msg, sizeof msg);
    out ou = { s->json };
    if (rc == JAVM_ERR_STORE_CORRUPT && page_walk) {
        /* the cheap checks passed (else the open below would refuse the store) */
        char m2[8];
        if (javm_store_lmdb_verify(s->path, false, m2, sizeof m2) == JAVM_OK) {
            report(&ou, "page-corrupt", "data.mdb", msg);
            printf(s->json ? "{\"problems\":1}\n"
                           : "1 problem: a damaged page (the records were not read)\n");
            return CLI_FAIL;
        }
    }
    if (rc && rc != JAVM_ERR_NOT_FOUND) {
        fprintf(stderr, "javm fsck: cannot open store %s: %s: %s\n", s->path, javm_strerror(rc),
                msg);
        return cli_status_exit(rc);
    }
    javm_lmdb_opts o = { s->map_size, false, true };
    javm_store *store;
    rc = javm_store_lmdb_open(s->path, &o, &store);
    if (rc) {
        fprintf(stderr, "javm fsck: cannot open store %s: %s\n", s->path, javm_strerror(rc));
        return CLI_INPUT;
    }
    return check_records(s, store, &ou);
}

/* The record checks on an open store (closed here); the exit code. */
static int check_records(cli_session *s, javm_store *store, out *o)
{
    out ou = *o;
    int rc;
    tl_fsck_stats st;
    rc = tl_fsck(store, report, &ou, &st);
    if (rc == JAVM_ERR_STORE_CORRUPT && cli_store_is_rados(s->path)) {
        report(&ou, "blob-chunks", "blobs", javm_store_errmsg(store));
        javm_store_close(store);
        return CLI_FAIL;
    }
    if (rc) {
        fprintf(stderr, "javm fsck: %s%s%s\n", javm_strerror(rc),
                *javm_store_errmsg(store) ? ": " : "", javm_store_errmsg(store));
        javm_store_close(store);
        return rc == JAVM_ERR_ALLOC ? CLI_INTERNAL : CLI_INPUT;
    }
    if (s->json)
        printf("{\"blobs\":%zu,\"names\":%zu,\"files\":%zu,\"quotas\":%zu,\"problems\":%zu,"
               "\"unreachable\":%zu,\"extra_holds\":%llu}\n",
               st.blobs, st.names, st.files, st.quotas, st.problems, st.unreachable,
               (unsigned long long)st.extra_holds);
    else
        printf("%zu blobs, %zu names, %zu files, %zu quotas: %zu problem%s (%zu blobs "
               "unreachable, %llu holds above the holders found)\n",
               st.blobs, st.names, st.files, st.quotas, st.problems, st.problems == 1 ? "" : "s",
               st.unreachable, (unsigned long long)st.extra_holds);
    javm_store_close(store);
    return st.problems ? CLI_FAIL : CLI_OK;
}

int cmd_fsck(int argc, char **argv)
{
    cli_session s = { 0 };
    bool page_walk = true;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--no-page-walk") == 0) {
            page_walk = false;
        } else if (!cli_session_opt(&s, argc, argv, &i)) {
            fprintf(stderr, "javm fsck: bad argument '%s'\n%s", argv[i], usage);
            return CLI_USAGE;
        }
    }
    if (!s.path)
        s.path = getenv("JAVM_STORE");
    if (!s.path || !*s.path)
        s.path = ".javm";
    if (cli_store_is_rados(s.path))
        return check_rados(&s);
    /* The child writes one byte to the pipe when it finished normally: a child that died (by a
     * signal, or a sanitizer's report of a fault, which exits instead) never does. */
    int done[2];
    fflush(stdout);
    fflush(stderr);
    if (pipe(done)) {
        fprintf(stderr, "javm fsck: pipe: %s\n", strerror(errno));
        return CLI_INTERNAL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "javm fsck: fork: %s\n", strerror(errno));
        close(done[0]);
        close(done[1]);
        return CLI_INTERNAL;
    }
    if (pid == 0) {
        close(done[0]);
        int code = check(&s, page_walk);
        fflush(stdout);
        fflush(stderr);
        char c = (char)code;
        ssize_t w = write(done[1], &c, 1);
        _exit(w == 1 ? code : CLI_INTERNAL);
    }
    close(done[1]);
    char c;
    ssize_t got;
    do
        got = read(done[0], &c, 1);
    while (got < 0 && errno == EINTR);
    close(done[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (got == 1 && WIFEXITED(st))
        return WEXITSTATUS(st);
    /* It died inside the check: damage LMDB met. Our own walk (it cannot fault) names it. */
    char why[64], msg[256];
    if (WIFSIGNALED(st))
        snprintf(why, sizeof why, "signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(why, sizeof why, "exit %d without finishing", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    out ou = { s.json };
    int rc = javm_store_lmdb_verify(s.path, true, msg, sizeof msg);
    char detail[400];
    snprintf(detail, sizeof detail, "the checking process died by %s reading the store; %s%s", why,
             rc == JAVM_OK ? "the page walk finds no damage" : "the page walk finds: ",
             rc == JAVM_OK ? "" : msg);
    report(&ou, "lmdb-crash", "data.mdb", detail);
    return CLI_FAIL;
}
