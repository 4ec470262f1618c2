/* SPDX-License-Identifier: MIT
 * tools/cmd_invoke.c — `javm invoke NAME|HASH`: one invocation (caps.md §6.4) in one store
 * transaction: HALT commits the post-instance (and moves the name), anything else leaves no
 * trace. Prints status, return value, gas used and the post-instance hash. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

static const char usage[] =
    "usage: javm invoke NAME|HASH [--endpoint E] [--gas G] [--arg V]... [--input FILE]\n"
    "                   [--output FILE] [--store PATH] [--no-sync] [--json]\n"
    "                   [--engine auto|interp|jit]\n"
    "Invokes endpoint E (default 0) of an instance with gas G (default 1000000000) and up to\n"
    "four arguments (φ7..φ10). --input FILE puts the file's bytes as a Data cap into slot 0;\n"
    "--output FILE writes the Data the guest leaves in slot 0. When a NAME is given and the\n"
    "guest halts, NAME moves to the post-instance. Exit: 0 halted, 1 faulted or paused (the\n"
    "store is unchanged), 2 usage, 3 unknown target or store error. --engine picks the\n"
    "engine (default auto: $JAVM_ENGINE, else the JIT where built); results are the same.\n";

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

static int write_slot0(cli_session *s, const javm_call_result *r, const char *path)
{
    const javm_cap *c = r->has_slot0 ? javm_cache_get_hash(s->cache, &r->slot0) : NULL;
    if (!c || c->kind != JAVM_KIND_DATA) {
        fprintf(stderr, "javm invoke: slot 0 holds no Data to write to %s\n", path);
        return CLI_FAIL;
    }
    uint64_t n = c->data.size;
    uint8_t *buf = malloc(n ? n : 1);
    FILE *f = NULL;
    int rc = CLI_INTERNAL;
    if (!buf || javm_data_read(c, 0, buf, n))
        goto done;
    rc = CLI_INPUT;
    if (!(f = fopen(path, "wb")) || fwrite(buf, 1, n, f) != n)
        goto done;
    rc = CLI_OK;
done:
    if (f && fclose(f))
        rc = CLI_INPUT;
    free(buf);
    if (rc)
        fprintf(stderr, "javm invoke: cannot write %s\n", path);
    return rc;
}

int cmd_invoke(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *target = NULL, *input = NULL, *output = NULL;
    uint64_t endpoint = 0, gas = 1000000000, args[4] = { 0 };
    int nargs = 0;
    javm_engine engine = JAVM_ENGINE_AUTO;
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
    int rc = cli_session_open(&s, "invoke");
    if (rc)
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
            fprintf(stderr, "javm invoke: cannot read %s\n", input);
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
    javm_invoke_opts opts = { (const uint8_t *)target, strlen(target) };
    javm_call_result r;
    int irc = javm_invoke(s.vm, s.cache, s.ka, &inst, (uint32_t)endpoint, args, gas,
                          has_in ? &in_hash : NULL, is_name ? &opts : NULL, &r);
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
    if (rc == CLI_OK && output)
        rc = write_slot0(&s, &r, output);
done:
    cli_session_close(&s);
    return rc;
}
