/* SPDX-License-Identifier: MIT
 * tools/cmd_invoke.c — `javm invoke NAME|HASH`: one invocation (caps.md §6.4) in one store
 * transaction: HALT commits the post-instance (and moves the name), anything else leaves no
 * trace. Prints status, return value, gas used and the post-instance hash. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session.h"

static const char usage[] =
    "usage: javm invoke NAME|HASH [--endpoint E] [--gas G] [--arg V]... [--input FILE]\n"
    "                   [--output FILE] [--store PATH] [--no-sync] [--json] [--no-retry]\n"
    "                   [--engine auto|interp|jit] [--timeout SECONDS]\n"
    "Invokes endpoint E (default 0) of an instance with gas G (default 1000000000) and up to\n"
    "four arguments (φ7..φ10). --input FILE puts the file's bytes as a Data cap into slot 0\n"
    "(at most 1 GiB; a pipe or a device such as /dev/stdin is read to its end, and refused\n"
    "when longer);\n"
    "--output FILE writes the Data the guest leaves in slot 0 (checked writable first). When\n"
    "a NAME is given and the guest halts, NAME moves to the post-instance. When another writer\n"
    "moved NAME meanwhile (CONFLICT), the invocation, which left nothing behind, is retried\n"
    "with the name read again, up to 8 times; --no-retry reports the conflict instead.\n"
    "Exit: 0 halted and committed, 1 faulted or paused (the store is unchanged), 2 usage,\n"
    "3 unknown target, store error or conflict (unchanged), 4 internal error (unchanged),\n"
    "5 halted and committed, but --output could not be written, 6 stopped by --timeout\n"
    "(unchanged). --engine picks the engine (default auto: $JAVM_ENGINE, else the JIT where\n"
    "built); results are the same. --timeout SECONDS (e.g. 2 or 0.5) stops the invocation\n"
    "after that much wall time, leaving no trace. A gas unit is about 0.03-0.3 ns of guest\n"
    "code (docs/cli.md): the default 10^9 runs for well under a second, but host calls\n"
    "(saving or copying large Data) can take longer than their gas says.\n";

static const char *fault_text(const javm_call_result *r, char *buf, size_t n)
{
    if (r->fault_reason == JAVM_EXIT_PAGE_FAULT)
        snprintf(buf, n, "page-fault at 0x%x", r->fault_addr);
    else if (r->fault_reason == JAVM_EXIT_TRAP && r->trap != JAVM_TRAP_NONE)
        snprintf(buf, n, "trap (%s)", javm_trap_name(r->trap));
    else
        snprintf(buf, n, "%s", javm_exit_name((javm_exit_reason)r->fault_reason));
    return buf;
}

/* Before invoking: --output must be writable (created and removed again when absent), so
 * that a bad path fails while the store is still unchanged. */
static int check_output(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    bool created = false;
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        created = fd >= 0;
    }
    if (fd < 0) {
        fprintf(stderr, "javm invoke: cannot write %s: %s (nothing was invoked)\n", path,
                strerror(errno));
        return CLI_INPUT;
    }
    close(fd);
    if (created)
        unlink(path);
    return CLI_OK;
}

/* After the commit: any failure is CLI_COMMITTED, said as such. */
static int write_slot0(cli_session *s, const javm_call_result *r, const char *path)
{
    const javm_cap *c = r->has_slot0 ? javm_cache_get_hash(s->cache, &r->slot0) : NULL;
    if (!c || c->kind != JAVM_KIND_DATA) {
        fprintf(stderr, "javm invoke: the invocation was committed, but slot 0 holds no Data to "
                        "write to %s\n", path);
        return CLI_COMMITTED;
    }
    uint64_t n = c->data.size;
    uint8_t *buf = malloc(n ? n : 1);
    FILE *f = NULL;
    int rc = CLI_COMMITTED, err = 0;
    if (!buf || javm_data_read(c, 0, buf, n))
        goto done;
    if (!(f = fopen(path, "wb")) || fwrite(buf, 1, n, f) != n) {
        err = errno;
        goto done;
    }
    rc = CLI_OK;
done:
    if (f && fclose(f) && rc == CLI_OK) {
        err = errno;
        rc = CLI_COMMITTED;
    }
    free(buf);
    if (rc)
        fprintf(stderr, "javm invoke: the invocation was committed, but writing %s failed%s%s\n",
                path, err ? ": " : "", err ? strerror(err) : "");
    return rc;
}

int cmd_invoke(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *target = NULL, *input = NULL, *output = NULL;
    uint64_t endpoint = 0, gas = 1000000000, args[4] = { 0 };
    int nargs = 0;
    javm_engine engine = JAVM_ENGINE_AUTO;
    bool retry = true;
    uint64_t timeout_ns = 0;
    javm_stop *stop = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (cli_session_opt(&s, argc, argv, &i)) {
        } else if (strcmp(a, "--endpoint") == 0 && cli_parse_u64(v, &endpoint) &&
                   endpoint < JAVM_MAX_ENDPOINTS) {
            i++;
        } else if (strcmp(a, "--gas") == 0 && cli_parse_u64(v, &gas) && gas <= INT64_MAX) {
            i++;
        } else if (strcmp(a, "--arg") == 0 && nargs < 4 && cli_parse_u64(v, &args[nargs])) {
            nargs++;
            i++;
        } else if (strcmp(a, "--engine") == 0 && javm_engine_parse(v, &engine) == JAVM_OK) {
            i++;
        } else if (strcmp(a, "--input") == 0 && v) {
            input = v;
            i++;
        } else if (strcmp(a, "--output") == 0 && v) {
            output = v;
            i++;
        } else if (strcmp(a, "--timeout") == 0 && cli_parse_seconds(v, &timeout_ns)) {
            i++;
        } else if (strcmp(a, "--no-retry") == 0) {
            retry = false;
        } else if (!target && a[0] != '-') {
            target = a;
        } else {
            fprintf(stderr, "javm invoke: bad argument '%s'\n%s", a, usage);
            return CLI_USAGE;
        }
    }
    if (!target) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    int rc = output ? check_output(output) : CLI_OK;
    if (rc)
        return rc;
    if ((rc = cli_session_open(&s, "invoke")))
        return rc;
    javm_hash inst, in_hash;
    bool is_name, has_in = false;
    if ((rc = cli_resolve_target(&s, "invoke", target, &inst, &is_name)))
        goto done;
    if (input) {
        uint8_t *buf;
        size_t len;
        javm_cap *d;
        if (cli_read_file(input, &buf, &len)) {
            fprintf(stderr, "javm invoke: cannot read %s: %s\n", input, cli_read_error());
            rc = CLI_INPUT;
            goto done;
        }
        int drc = javm_data_new(buf, len, &d);
        free(buf);
        if (drc == JAVM_OK && (drc = javm_cache_put_owned(s.cache, d, &in_hash)))
            javm_cap_free(d);
        if (drc) {
            fprintf(stderr, "javm invoke: %s\n", javm_strerror(drc));
            rc = CLI_INTERNAL;
            goto done;
        }
        has_in = true;
    }
    javm_vm_set_engine(s.vm, engine);
    if (timeout_ns) {
        if (javm_stop_new(&stop)) {
            rc = CLI_INTERNAL;
            goto done;
        }
        javm_stop_set_timeout(stop, timeout_ns); /* one deadline for every attempt */
        javm_vm_set_stop(s.vm, stop);
    }
    javm_invoke_opts opts = { (const uint8_t *)target, strlen(target) };
    javm_call_result r;
    int irc;
    /* A CONFLICT left nothing behind and the invocation is deterministic: read the name
     * again (the failed attempt's transaction re-read it) and run again. */
    for (int attempt = 0;; attempt++) {
        irc = javm_invoke(s.vm, s.cache, s.ka, &inst, (uint32_t)endpoint, args, gas,
                          has_in ? &in_hash : NULL, is_name ? &opts : NULL, &r);
        if (irc != JAVM_ERR_CONFLICT || !retry || !is_name || attempt == 7)
            break;
        if ((rc = cli_resolve_target(&s, "invoke", target, &inst, &is_name)))
            goto done;
    }
    if (irc) {
        fprintf(stderr, "javm invoke: %s%s%s\n", javm_strerror(irc),
                *javm_store_errmsg(s.store) ? ": " : "", javm_store_errmsg(s.store));
        rc = irc == JAVM_ERR_ALLOC ? CLI_INTERNAL : CLI_INPUT;
        goto done;
    }
    char ft[64];
    if (s.json) {
        printf("{\"status\":\"%s\",\"gas_used\":%" PRIu64,
               r.kind == JAVM_RES_HALT ? "halt" : r.kind == JAVM_RES_PAUSED ? "paused" : "fault",
               r.gas_used);
        if (r.kind == JAVM_RES_HALT) {
            printf(",\"return\":%" PRIu64 ",\"post_instance\":\"", r.return_value);
            cli_print_hash(&r.post_instance);
            putchar('"');
            if (r.has_slot0) {
                fputs(",\"slot0\":\"", stdout);
                cli_print_hash(&r.slot0);
                putchar('"');
            }
        } else if (r.kind == JAVM_RES_FAULT) {
            printf(",\"fault\":\"%s\"", fault_text(&r, ft, sizeof ft));
        }
        fputs("}\n", stdout);
    } else if (r.kind == JAVM_RES_HALT) {
        printf("status: halt\nreturn: %" PRIu64 "\ngas used: %" PRIu64 "\npost-instance: ",
               r.return_value, r.gas_used);
        cli_print_hash(&r.post_instance);
        putchar('\n');
        if (r.has_slot0) {
            fputs("slot 0: ", stdout);
            cli_print_hash(&r.slot0);
            putchar('\n');
        }
        if (is_name)
            printf("name: %s -> post-instance\n", target);
    } else {
        printf("status: %s\ngas used: %" PRIu64 "\n",
               r.kind == JAVM_RES_PAUSED ? "paused (not persisted)" : fault_text(&r, ft, sizeof ft),
               r.gas_used);
    }
    rc = r.kind == JAVM_RES_HALT ? CLI_OK : CLI_FAIL;
    if (r.kind == JAVM_RES_FAULT && r.fault_reason == JAVM_EXIT_STOPPED) {
        fprintf(stderr, "javm invoke: stopped by --timeout; nothing was committed\n");
        rc = CLI_STOPPED;
    }
    if (rc == CLI_OK && output)
        rc = write_slot0(&s, &r, output);
done:
    cli_session_close(&s);
    javm_stop_free(stop);
    return rc;
}
