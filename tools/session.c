/* SPDX-License-Identifier: MIT
 * tools/session.c — see session.h. */
#include <stdlib.h>
#include <string.h>

#include "resolve.h"
#include "session.h"
#include "testhook.h"

bool cli_session_opt(cli_session *s, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "--store") == 0 && *i + 1 < argc) {
        if (!*argv[*i + 1]) { /* not ./.javm: an empty path is a usage error */
            fputs("javm: --store needs a path (it is empty)\n", stderr);
            return false;
        }
        s->path = argv[++*i];
        return true;
    }
    if (strcmp(a, "--map-size") == 0 && *i + 1 < argc && cli_parse_u64(argv[*i + 1], &s->map_size)) {
        ++*i;
        return true;
    }
    if (strcmp(a, "--no-sync") == 0) {
        s->no_sync = true;
        return true;
    }
    if (strcmp(a, "--json") == 0) {
        s->json = true;
        return true;
    }
    return false;
}

int cli_store_verify(const char *cmd, const char *path)
{
    char msg[256];
    int rc = javm_store_lmdb_verify(path, true, msg, sizeof msg);
    if (rc == JAVM_OK || rc == JAVM_ERR_NOT_FOUND)
        return CLI_OK;
    fprintf(stderr, "javm %s: store %s: %s: %s\n", cmd, path, javm_strerror(rc), msg);
    return cli_status_exit(rc);
}

bool cli_store_is_rados(const char *path)
{
    return path && strncmp(path, "rados://", 8) == 0;
}

int cli_session_open(cli_session *s, const char *cmd)
{
    if (!s->path)
        s->path = getenv("JAVM_STORE");
    if (!s->path || !*s->path)
        s->path = ".javm";
    int rc;
    if (cli_store_is_rados(s->path)) {
        /* the store on Ceph RADOS (docs/scale-out.md): the cluster from ?conf= or $CEPH_CONF */
        javm_rados_opts ro = { NULL, 0, s->read_only };
        char msg[512];
        if ((rc = javm_store_rados_open(s->path, &ro, &s->store, msg, sizeof msg))) {
            fprintf(stderr, "javm %s: cannot open store %s: %s: %s\n", cmd, s->path,
                    javm_strerror(rc), msg);
            return rc == JAVM_ERR_INVALID_ARG ? CLI_USAGE : CLI_INPUT;
        }
    } else {
        int vrc = cli_store_verify(cmd, s->path);
        if (vrc)
            return vrc;
        javm_lmdb_opts o = { s->map_size, s->no_sync, s->read_only };
        if ((rc = javm_store_lmdb_open(s->path, &o, &s->store))) {
            fprintf(stderr, "javm %s: cannot open store %s: %s\n", cmd, s->path,
                    javm_strerror(rc));
            return CLI_INPUT;
        }
    }
    if ((rc = javm_cache_open(s->store, &s->cache))) {
        fprintf(stderr, "javm %s: store %s: %s%s%s\n", cmd, s->path, javm_strerror(rc),
                *javm_store_errmsg(s->store) ? ": " : "", javm_store_errmsg(s->store));
        cli_session_close(s);
        return CLI_INPUT;
    }
    if ((rc = javm_ka_store_new(s->store, &s->ka)) || (rc = javm_vm_new(&s->vm, 0))) {
        fprintf(stderr, "javm %s: %s\n", cmd, javm_strerror(rc));
        cli_session_close(s);
        return cli_status_exit(rc);
    }
    /* the fault tests' kill points (inert unless JAVM_TEST_KILL_AT / JAVM_TEST_STOP_AT) */
    if ((rc = cli_testhook_install(s->store, cmd))) {
        cli_session_close(s);
        return rc;
    }
    return CLI_OK;
}

void cli_session_close(cli_session *s)
{
    if (s->vm && s->cache)
        javm_abort(s->vm, s->cache, s->ka);
    javm_vm_free(s->vm);
    javm_ka_free(s->ka);
    javm_cache_close(s->cache);
    javm_store_close(s->store);
    s->vm = NULL;
    s->ka = NULL;
    s->cache = NULL;
    s->store = NULL;
}

int cli_session_commit(cli_session *s, const char *cmd)
{
    int rc = javm_commit(s->cache, s->ka);
    if (rc) {
        fprintf(stderr, "javm %s: commit failed: %s%s%s\n", cmd, javm_strerror(rc),
                *javm_store_errmsg(s->store) ? ": " : "", javm_store_errmsg(s->store));
        return cli_status_exit(rc);
    }
    return CLI_OK;
}

int cli_status_exit(int rc)
{
    /* only running out of memory (or a bug) is internal: every store status, a conflict or
     * a corrupt record is a store error, exit 3 (a damaged meta page made put, spawn and quota
     * set exit 4) */
    switch (rc) {
    case JAVM_OK: return CLI_OK;
    case JAVM_ERR_ALLOC:
    case JAVM_ERR_INVALID_ARG: return CLI_INTERNAL;
    default: return CLI_INPUT;
    }
}

void cli_print_hash(const javm_hash *h)
{
    char hex[65];
    javm_hash_to_hex(h, hex);
    fputs(hex, stdout);
}

const char *cli_kind_name(javm_kind k)
{
    switch (k) {
    case JAVM_KIND_INSTANCE: return "Instance";
    case JAVM_KIND_IMAGE: return "Image";
    case JAVM_KIND_DATA: return "Data";
    case JAVM_KIND_CNODE: return "CNode";
    case JAVM_KIND_TYPE: return "Type";
    }
    return "?";
}

int cli_resolve_hash(cli_session *s, const char *cmd, const char *text, javm_hash *out)
{
    switch (tl_resolve_hash(s->cache, text, out)) {
    case TL_RESOLVE_OK:
        return CLI_OK;
    case TL_RESOLVE_MALFORMED:
        fprintf(stderr, "javm %s: '%s' is not a hash or a prefix of at least %d hex digits\n", cmd,
                text, TL_PREFIX_MIN);
        return CLI_USAGE;
    case TL_RESOLVE_UNKNOWN:
        fprintf(stderr, "javm %s: no cap has a hash starting with %s\n", cmd, text);
        return CLI_INPUT;
    case TL_RESOLVE_CORRUPT:
        fprintf(stderr, "javm %s: the store record of %s is corrupt: %s\n", cmd, text,
                javm_store_errmsg(s->store));
        return CLI_INPUT;
    case TL_RESOLVE_AMBIGUOUS:
        fprintf(stderr, "javm %s: prefix %s is ambiguous (several caps match); give more digits\n",
                cmd, text);
        return CLI_INPUT;
    }
    return CLI_INTERNAL;
}

int cli_resolve_target(cli_session *s, const char *cmd, const char *text, javm_hash *out,
                       bool *is_name)
{
    size_t n = strlen(text);
    *is_name = false;
    if (n >= 1 && n <= JAVM_NAME_MAX &&
        javm_name_get(s->cache, (const uint8_t *)text, n, out) == JAVM_OK) {
        *is_name = true;
        return CLI_OK;
    }
    if (tl_resolve_hash(s->cache, text, out) == TL_RESOLVE_MALFORMED) {
        fprintf(stderr, "javm %s: no name '%s' (and it is not a hash prefix)\n", cmd, text);
        return CLI_INPUT;
    }
    return cli_resolve_hash(s, cmd, text, out);
}

void cli_json_str(const uint8_t *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7F)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}
