/* SPDX-License-Identifier: MIT
 * tools/cmd_store.c — the store-inspection subcommands, each small: `javm ls` (names, blob
 * count, store size), `javm quota get|set`, `javm files`, `javm gc`. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "session.h"

/* Parses the arguments every command here takes: global options and positionals. */
static int parse(cli_session *s, int argc, char **argv, const char *usage, const char **pos,
                 int max_pos, int *npos)
{
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return -1;
        } else if (cli_session_opt(s, argc, argv, &i)) {
        } else if (argv[i][0] != '-' && *npos < max_pos) {
            pos[(*npos)++] = argv[i];
        } else {
            fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    return CLI_OK;
}

/* ---- ls -------------------------------------------------------------------------------- */

static const char ls_usage[] =
    "usage: javm ls [--store PATH] [--json]\n"
    "Lists the names and the instances they point at, the number of blobs and the store's\n"
    "size on disk. Exit: 0 ok, 3 store error.\n";

typedef struct ls_state {
    bool json;
    size_t n;
} ls_state;

static int ls_name(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    ls_state *st = arg;
    if (vlen != 32)
        return 0;
    javm_hash h;
    memcpy(h.b, val, 32);
    if (st->json) {
        printf("%s{\"name\":", st->n ? "," : "");
        cli_json_str(key, klen);
        fputs(",\"instance\":\"", stdout);
        cli_print_hash(&h);
        fputs("\"}", stdout);
    } else {
        printf("%-24.*s ", (int)klen, (const char *)key);
        cli_print_hash(&h);
        putchar('\n');
    }
    st->n++;
    return 0;
}

static int count_blob(void *arg, const javm_hash *h, const javm_cap *cap, uint32_t refcount)
{
    (void)h;
    (void)cap;
    (void)refcount;
    (*(size_t *)arg)++;
    return 0;
}

int cmd_ls(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *pos[1];
    int npos, rc = parse(&s, argc, argv, ls_usage, pos, 0, &npos);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    s.read_only = true;
    if ((rc = cli_session_open(&s, "ls")))
        return rc;
    ls_state st = { s.json, 0 };
    if (s.json)
        fputs("{\"names\":[", stdout);
    s.store->vtbl->scan(s.store, JAVM_TABLE_NAMES, ls_name, &st);
    size_t blobs = 0;
    int irc = javm_cache_iter_blobs(s.cache, count_blob, &blobs);
    if (irc) {
        fprintf(stderr, "javm ls: %s: %s\n", javm_strerror(irc), javm_store_errmsg(s.store));
        rc = CLI_INPUT;
    }
    char file[4096];
    snprintf(file, sizeof file, "%s/data.mdb", s.path);
    struct stat sb;
    long long size = !cli_store_is_rados(s.path) && stat(file, &sb) == 0 ? (long long)sb.st_size
                                                                          : -1;
    if (s.json)
        printf("],\"blobs\":%zu,\"store_bytes\":%lld}\n", blobs, size);
    else if (size < 0)
        printf("%zu name%s, %zu blobs, store %s\n", st.n, st.n == 1 ? "" : "s", blobs, s.path);
    else
        printf("%zu name%s, %zu blobs, store %s: %lld bytes\n", st.n, st.n == 1 ? "" : "s", blobs,
               s.path, size);
    cli_session_close(&s);
    return rc;
}

/* ---- quota ----------------------------------------------------------------------------- */

static const char quota_usage[] =
    "usage: javm quota get ID | javm quota set ID N  [--name NAME] [--store PATH] [--json]\n"
    "Reads or sets storage quota ID (bytes a guest may still mint or save under it).\n"
    "--name NAME: on a RADOS store (rados://...) quotas are kept per name, and an invocation\n"
    "of NAME spends NAME's (docs/scale-out.md); without it, the quotas of nameless\n"
    "invocations. An LMDB store's quotas are global: NAME must exist and changes nothing.\n"
    "Exit: 0 ok, 2 usage, 3 store error.\n";

int cmd_quota(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *pos[3], *name = NULL;
    char *args[64];
    int n = 0;
    for (int i = 0; i < argc && n < 64; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc && !name)
            name = argv[++i];
        else
            args[n++] = argv[i];
    }
    if (n == 64 || (name && (!*name || strlen(name) > JAVM_NAME_MAX))) {
        fputs(quota_usage, stderr);
        return CLI_USAGE;
    }
    int npos, rc = parse(&s, n, args, quota_usage, pos, 3, &npos);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    uint64_t id, val = 0;
    bool set = npos == 3 && strcmp(pos[0], "set") == 0;
    if (!((npos == 2 && strcmp(pos[0], "get") == 0) || set) || !cli_parse_u64(pos[1], &id) ||
        (set && !cli_parse_u64(pos[2], &val))) {
        fputs(quota_usage, stderr);
        return CLI_USAGE;
    }
    s.read_only = !set;
    if ((rc = cli_session_open(&s, "quota")))
        return rc;
    if (name) {
        javm_hash h;
        int nrc = javm_name_get(s.cache, (const uint8_t *)name, strlen(name), &h);
        if (nrc == JAVM_OK && cli_store_is_rados(s.path))
            nrc = javm_store_rados_home(s.store, (const uint8_t *)name, strlen(name));
        if (nrc) {
            fprintf(stderr, "javm quota: name %s: %s\n", name, javm_strerror(nrc));
            cli_session_close(&s);
            return nrc == JAVM_ERR_NOT_FOUND ? CLI_INPUT : cli_status_exit(nrc);
        }
    }
    uint64_t before = 0;
    int qrc = s.ka->vtbl->storage_quota_read(s.ka, id, &before);
    if (qrc) {
        fprintf(stderr, "javm quota: %s%s%s\n", javm_strerror(qrc),
                *javm_store_errmsg(s.store) ? ": " : "", javm_store_errmsg(s.store));
        cli_session_close(&s);
        return CLI_INPUT;
    }
    if (set) {
        s.ka->vtbl->storage_quota_set(s.ka, id, val);
        rc = cli_session_commit(&s, "quota");
    }
    if (rc == CLI_OK) {
        uint64_t now = set ? val : before;
        if (s.json)
            printf("{\"quota\":%" PRIu64 ",\"value\":%" PRIu64 ",\"previous\":%" PRIu64 "}\n", id,
                   now, before);
        else
            printf("%" PRIu64 "\n", now);
    }
    cli_session_close(&s);
    return rc;
}

/* ---- files ----------------------------------------------------------------------------- */

static const char files_usage[] =
    "usage: javm files [--store PATH] [--json]\n"
    "Lists the file map: each file id with the Data it names and its size.\n"
    "Exit: 0 ok, 3 store error.\n";

typedef struct files_state {
    cli_session *s;
    size_t n;
} files_state;

static int file_cb(void *arg, uint64_t id, const javm_hash *h)
{
    files_state *st = arg;
    const javm_cap *c = javm_cache_get_hash(st->s->cache, h);
    uint64_t size = c && c->kind == JAVM_KIND_DATA ? c->data.size : 0;
    if (st->s->json) {
        printf("%s{\"id\":%" PRIu64 ",\"data\":\"", st->n ? "," : "", id);
        cli_print_hash(h);
        printf("\",\"size\":%" PRIu64 "}", size);
    } else {
        printf("%8" PRIu64 " ", id);
        cli_print_hash(h);
        printf(" %" PRIu64 " bytes\n", size);
    }
    st->n++;
    return 0;
}

int cmd_files(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *pos[1];
    int npos, rc = parse(&s, argc, argv, files_usage, pos, 0, &npos);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    s.read_only = true;
    if ((rc = cli_session_open(&s, "files")))
        return rc;
    files_state st = { &s, 0 };
    if (s.json)
        fputs("[", stdout);
    s.ka->vtbl->file_iter(s.ka, file_cb, &st);
    if (s.json)
        fputs("]\n", stdout);
    else if (st.n == 0)
        puts("no files");
    cli_session_close(&s);
    return CLI_OK;
}

/* ---- gc -------------------------------------------------------------------------------- */

static const char gc_usage[] =
    "usage: javm gc [--store PATH] [--json] [--grace SECONDS]\n"
    "Deletes every blob that no name and no file reaches (docs/store.md), repairs refcounts,\n"
    "and commits, in one transaction. On a RADOS store (docs/scale-out.md §5) gc runs while\n"
    "other clients commit: it starts a new gc epoch, fences every name, marks, and deletes the\n"
    "unreachable blobs not written or touched in this epoch or the one before (so a blob\n"
    "becomes garbage two runs after it was last used); --grace (default 600) is the least time\n"
    "between two epochs, 0 in tests. Exit: 0 ok, 3 store error (also: another gc runs, or the\n"
    "last epoch is younger than the grace).\n";

int cmd_gc(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *pos[1];
    long grace = -1;
    char *args[64];
    int n = 0;
    for (int i = 0; i < argc && n < 64; i++) {
        if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc && grace < 0) {
            char *end;
            grace = strtol(argv[++i], &end, 10);
            if (*end || grace < 0 || grace > 100000000) {
                fprintf(stderr, "javm gc: --grace takes seconds, not '%s'\n", argv[i]);
                return CLI_USAGE;
            }
            continue;
        }
        args[n++] = argv[i];
    }
    int npos, rc = parse(&s, n, args, gc_usage, pos, 0, &npos);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = cli_session_open(&s, "gc")))
        return rc;
    bool rados = cli_store_is_rados(s.path);
    if (grace >= 0 && !rados) {
        fprintf(stderr, "javm gc: --grace is for a RADOS store\n");
        cli_session_close(&s);
        return CLI_USAGE;
    }
    if (grace >= 0)
        javm_store_rados_gc_grace(s.store, (unsigned)grace);
    if (rados) {
        uint64_t t0 = cli_now_ns();
        int grc = javm_gc(s.vm, s.cache, s.ka, NULL, 0);
        double ms = (double)(cli_now_ns() - t0) / 1e6;
        javm_rados_gc_stats st;
        javm_store_rados_gc_stats(s.store, &st);
        if (grc) {
            fprintf(stderr, "javm gc: %s%s%s\n", javm_strerror(grc),
                    *javm_store_errmsg(s.store) ? ": " : "", javm_store_errmsg(s.store));
            rc = CLI_INPUT;
        } else if (s.json) {
            printf("{\"epoch\":%llu,\"heads\":%llu,\"fence_retries\":%llu,\"marked\":%llu,"
                   "\"listed\":%llu,\"kept_stamped\":%llu,\"deleted\":%llu,"
                   "\"kept_racing\":%llu,\"chunks_deleted\":%llu,\"ms\":%.3f}\n",
                   (unsigned long long)st.epoch, (unsigned long long)st.heads,
                   (unsigned long long)st.fence_retries, (unsigned long long)st.marked,
                   (unsigned long long)st.listed, (unsigned long long)st.kept_stamped,
                   (unsigned long long)st.deleted, (unsigned long long)st.kept_racing,
                   (unsigned long long)st.chunks_deleted, ms);
        } else {
            printf("gc: epoch %llu, %llu heads fenced, %llu blobs listed, %llu marked, %llu "
                   "kept (recent), %llu deleted, %llu kept (touched meanwhile), %llu chunks "
                   "deleted in %.3f ms\n",
                   (unsigned long long)st.epoch, (unsigned long long)st.heads,
                   (unsigned long long)st.listed, (unsigned long long)st.marked,
                   (unsigned long long)st.kept_stamped, (unsigned long long)st.deleted,
                   (unsigned long long)st.kept_racing, (unsigned long long)st.chunks_deleted, ms);
        }
        cli_session_close(&s);
        return rc;
    }
    size_t before = 0, after = 0;
    javm_cache_iter_blobs(s.cache, count_blob, &before);
    uint64_t t0 = cli_now_ns();
    int grc = javm_gc(s.vm, s.cache, s.ka, NULL, 0);
    uint64_t dt = cli_now_ns() - t0;
    if (grc) {
        fprintf(stderr, "javm gc: %s%s%s\n", javm_strerror(grc),
                *javm_store_errmsg(s.store) ? ": " : "", javm_store_errmsg(s.store));
        rc = CLI_INPUT;
    } else {
        javm_cache_iter_blobs(s.cache, count_blob, &after);
        if (s.json)
            printf("{\"before\":%zu,\"after\":%zu,\"freed\":%zu,\"ms\":%.3f}\n", before, after,
                   before - after, (double)dt / 1e6);
        else
            printf("gc: %zu blobs before, %zu after (%zu freed) in %.3f ms\n", before, after,
                   before - after, (double)dt / 1e6);
    }
    cli_session_close(&s);
    return rc;
}
