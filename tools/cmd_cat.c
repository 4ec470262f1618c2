/* SPDX-License-Identifier: MIT
 * tools/cmd_cat.c — `javm cat HASH`: decode and print any cap in the store; --raw writes its
 * JCAP export bytes (caps.md §11.2) to standard output. */
#include <inttypes.h>
#include <string.h>

#include "session.h"

static const char usage[] =
    "usage: javm cat HASH [--raw] [--store PATH] [--json]\n"
    "Prints the cap with this hash (or unique prefix of >= 8 hex digits): its kind and\n"
    "fields. --raw writes the JCAP export file bytes instead.\n"
    "Exit: 0 ok, 2 usage, 3 unknown or ambiguous hash, store error.\n";

static void print_hash_line(const char *label, const javm_hash *h)
{
    printf("%s", label);
    cli_print_hash(h);
    putchar('\n');
}

static void print_text(const javm_cap *c)
{
    printf("kind: %s\n", cli_kind_name(c->kind));
    switch (c->kind) {
    case JAVM_KIND_INSTANCE: {
        const javm_instance *in = &c->instance;
        print_hash_line("chain: ", &in->image_hash_chain);
        print_hash_line("image: ", &in->image_hash);
        print_hash_line("root cnode: ", &in->root_cnode.hash);
        printf("mem_size: %u\noverlays: %u\n", in->mem_size, in->n_overlays);
        for (uint32_t i = 0; i < in->n_overlays; i++) {
            printf("  0x%08x ", in->overlays[i].start);
            cli_print_hash(&in->overlays[i].data);
            putchar('\n');
        }
        printf("regs:");
        for (int i = 0; i < 13; i++)
            printf(" %" PRIu64, in->regs[i]);
        putchar('\n');
        break;
    }
    case JAVM_KIND_IMAGE: {
        const javm_image *im = &c->image;
        printf("code: %u bytes\njump table: %u entries\nendpoints: %u\n", im->code_len,
               im->jt_count, im->n_endpoints);
        for (uint32_t i = 0; i < im->n_endpoints; i++)
            printf("  %u: entry_pc %" PRIu64 ", sp %" PRIu64 "\n", i, im->endpoints[i].entry_pc,
                   im->endpoints[i].initial_regs[1]);
        printf("mappings: %u\n", im->n_mappings);
        for (uint32_t i = 0; i < im->n_mappings; i++)
            printf("  0x%08" PRIx64 " +0x%" PRIx64 " %s, source path of %u steps\n",
                   im->mappings[i].start, im->mappings[i].size,
                   (im->mappings[i].flags & 1) ? "rw" : "ro", im->mappings[i].path_len);
        printf("pinned: %u\n", im->n_pinned);
        for (uint32_t i = 0; i < im->n_pinned; i++) {
            printf("  slot %u ", im->pinned[i].slot);
            cli_print_hash(&im->pinned[i].cap);
            putchar('\n');
        }
        printf("initial: %u\n", im->n_initial);
        for (uint32_t i = 0; i < im->n_initial; i++) {
            printf("  slot %u ", im->initial[i].slot);
            cli_print_hash(&im->initial[i].cap);
            putchar('\n');
        }
        if (im->has_yield_marker)
            printf("yield marker slot: %u\n", im->yield_marker_slot);
        break;
    }
    case JAVM_KIND_DATA: {
        const javm_data *d = &c->data;
        printf("size: %" PRIu64 "\nform: %s\n", d->size, d->paged ? "paged" : "inline");
        uint8_t buf[64];
        uint64_t n = d->size < sizeof buf ? d->size : sizeof buf;
        if (javm_data_read(c, 0, buf, n) == JAVM_OK) {
            printf("head:");
            for (uint64_t i = 0; i < n; i++)
                printf(" %02x", buf[i]);
            putchar('\n');
        }
        break;
    }
    case JAVM_KIND_CNODE:
        printf("size_log: %u\nslots: %u\n", c->cnode.size_log, c->cnode.n_slots);
        for (uint32_t i = 0; i < c->cnode.n_slots; i++) {
            printf("  %u ", c->cnode.slots[i].slot);
            cli_print_hash(&c->cnode.slots[i].target.hash);
            putchar('\n');
        }
        break;
    case JAVM_KIND_TYPE:
        print_hash_line("chain: ", &c->type.image_hash_chain);
        break;
    }
}

int cmd_cat(int argc, char **argv)
{
    cli_session s = { 0 };
    const char *text = NULL;
    bool raw = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (cli_session_opt(&s, argc, argv, &i)) {
        } else if (strcmp(argv[i], "--raw") == 0) {
            raw = true;
        } else if (!text && argv[i][0] != '-') {
            text = argv[i];
        } else {
            fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    if (!text) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    s.read_only = true;
    int rc = cli_session_open(&s, "cat");
    if (rc)
        return rc;
    javm_hash h;
    if ((rc = cli_resolve_hash(&s, "cat", text, &h)))
        goto done;
    const javm_cap *c = javm_cache_get_hash(s.cache, &h);
    if (!c) {
        fprintf(stderr, "javm cat: cannot load the cap: %s\n", javm_store_errmsg(s.store));
        rc = CLI_INPUT;
        goto done;
    }
    uint32_t refs = 0;
    javm_cache_refcount(s.cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = h }, &refs);
    if (raw) {
        uint8_t *bytes;
        size_t len;
        if (javm_cap_export(c, &bytes, &len)) {
            rc = CLI_INTERNAL;
            goto done;
        }
        fwrite(bytes, 1, len, stdout);
        javm_free(bytes);
    } else if (s.json) {
        uint8_t *body;
        size_t len;
        if (javm_cap_encode(c, &body, &len)) {
            rc = CLI_INTERNAL;
            goto done;
        }
        printf("{\"hash\":\"");
        cli_print_hash(&h);
        printf("\",\"kind\":\"%s\",\"refcount\":%u,\"body_len\":%zu}\n", cli_kind_name(c->kind),
               refs, len);
        javm_free(body);
    } else {
        print_hash_line("hash: ", &h);
        printf("refcount: %u\n", refs);
        print_text(c);
    }
done:
    cli_session_close(&s);
    return rc;
}
