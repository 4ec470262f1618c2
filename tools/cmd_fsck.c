/* SPDX-License-Identifier: MIT
 * tools/cmd_fsck.c — `javm fsck`: checks a store without changing it (tools/lib/fsck.c):
 * every blob's hash, refcounts against the holders found, edges, names, files, quotas, meta. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsck.h"
#include "session.h"

static const char usage[] =
    "usage: javm fsck [--store PATH] [--json]\n"
    "Checks the store without changing it (opened read-only): recomputes every blob's hash,\n"
    "checks that each refcount covers the holders found (names, file records, edges of other\n"
    "blobs), that every edge, name and file record names a stored cap of the right kind, and\n"
    "the quota and meta records. Prints one line per problem (--json: one object per line,\n"
    "then a summary object). Blobs nothing reaches and counts above their holders are reported\n"
    "in the summary only (gc handles them).\n"
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

int cmd_fsck(int argc, char **argv)
{
    cli_session s = { 0 };
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (!cli_session_opt(&s, argc, argv, &i)) {
            fprintf(stderr, "javm fsck: bad argument '%s'\n%s", argv[i], usage);
            return CLI_USAGE;
        }
    }
    if (!s.path)
        s.path = getenv("JAVM_STORE");
    if (!s.path || !*s.path)
        s.path = ".javm";
    javm_lmdb_opts o = { s.map_size, false, true };
    javm_store *store;
    int rc = javm_store_lmdb_open(s.path, &o, &store);
    if (rc) {
        fprintf(stderr, "javm fsck: cannot open store %s: %s\n", s.path, javm_strerror(rc));
        return CLI_INPUT;
    }
    out ou = { s.json };
    tl_fsck_stats st;
    rc = tl_fsck(store, report, &ou, &st);
    if (rc) {
        fprintf(stderr, "javm fsck: %s%s%s\n", javm_strerror(rc),
                *javm_store_errmsg(store) ? ": " : "", javm_store_errmsg(store));
        javm_store_close(store);
        return rc == JAVM_ERR_ALLOC ? CLI_INTERNAL : CLI_INPUT;
    }
    if (s.json)
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
