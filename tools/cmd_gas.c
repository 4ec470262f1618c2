/* SPDX-License-Identifier: MIT
 * tools/cmd_gas.c — `javm gas`: where a program's gas goes. Prepares a JIMG image, a GP
 * deblob or a vector's program under a profile and lists every basic block with its start
 * pc, instruction count and cost under a gas model (any of the three: a model the program
 * does not hold is computed on demand), then the total; --top N shows the N dearest blocks
 * with their disassembly (tools/lib/disasm). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "disasm.h"
#include "vector.h"

static const char usage[] =
    "usage: javm gas FILE [--profile P] [--gas-model M] [--mem-latency N] [--json] [--top N]\n"
    "                     [--blob]\n"
    "Lists every basic block of FILE (a JIMG image, a GP deblob -- any file not starting with\n"
    "\"JIMG\", or --blob -- or the program of a vector .json): start pc, number of\n"
    "instructions and cost, then the total of all blocks.\n"
    "  --profile P      javm (default), gp or jam-draft: block boundaries and semantics\n"
    "  --gas-model M    pipeline, instr or jam-draft (default: the profile's, jam-draft for\n"
    "                   jam-draft, else pipeline)\n"
    "  --mem-latency N  memory latency (default 25; jam-draft: 25 L2 hit, 37 L3 hit)\n"
    "  --top N          only the N most expensive blocks, each with its disassembly\n"
    "  --json           one object {\"blocks\": [{\"pc\": P, \"instructions\": N, \"cost\": C}, ...],\n"
    "                   \"total\": T} (with --top, the blocks also carry \"disassembly\")\n"
    "Exit: 0 ok, 2 usage, 3 unreadable or invalid input, 4 internal error.\n";

typedef struct gas_block {
    uint32_t pc;
    uint64_t instructions, cost;
} gas_block;

static int by_cost_desc(const void *a, const void *b)
{
    const gas_block *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? 1 : -1;
    return x->pc < y->pc ? -1 : x->pc > y->pc;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* next(p) of pvm.md §4.1 over a laid-out program. */
static uint64_t next_pos(const asm_prog *p, uint64_t i)
{
    uint64_t j = 0;
    while (j < 24 && i + 1 + j < p->code_len &&
           !((p->bitmask[(i + 1 + j) / 8] >> ((i + 1 + j) % 8)) & 1))
        j++;
    return i + 1 + j;
}

/* The disassembly of block b (its n positions) as lines; jam-draft names byte 3 `unlikely`. */
static void print_block(FILE *f, const asm_prog *p, const gas_block *b, javm_profile profile,
                        bool json)
{
    uint64_t end = b->pc;
    for (uint64_t i = 0; i < b->instructions && end < p->code_len; i++)
        end = next_pos(p, end);
    bool firstl = true;
    for (size_t i = 0; i < p->n; i++) {
        const asm_item *it = &p->items[i];
        if (it->pc < b->pc || it->pc >= end || (it->len == 0 && it->kind != ASM_ITEM_INSN))
            continue;
        char *line = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&line, &len);
        if (!m)
            return;
        if (profile == JAVM_PROFILE_JAM_DRAFT && it->kind == ASM_ITEM_INSN && it->op == 3)
            fputs("    unlikely\n", m);
        else
            asm_print_insn(m, p, it);
        fclose(m);
        if (len && line[len - 1] == '\n')
            line[--len] = 0;
        const char *t = line;
        while (*t == ' ')
            t++;
        if (json) {
            fputs(firstl ? "\"" : ",\"", f);
            for (; *t; t++)
                fprintf(f, *t == '"' || *t == '\\' ? "\\%c" : "%c", *t);
            fputc('"', f);
        } else {
            fprintf(f, "    %6u  %s\n", it->pc, t);
        }
        firstl = false;
        free(line);
    }
}

int cmd_gas(int argc, char **argv)
{
    const char *in = NULL;
    bool json = false, blob = false, has_model = false;
    uint64_t top = 0, lat = 25;
    javm_profile profile = JAVM_PROFILE_JAVM;
    javm_gas_model model = JAVM_GAS_PIPELINE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--blob") == 0) {
            blob = true;
        } else if (strcmp(a, "--profile") == 0 && cli_parse_profile(val, &profile)) {
            i++;
        } else if (strcmp(a, "--gas-model") == 0 && cli_parse_gas_model(val, &model)) {
            has_model = true;
            i++;
        } else if (strcmp(a, "--mem-latency") == 0 && cli_parse_u64(val, &lat) && lat >= 1 &&
                   lat <= JAVM_MAX_MEM_LATENCY) {
            i++;
        } else if (strcmp(a, "--top") == 0 && cli_parse_u64(val, &top) && top > 0) {
            i++;
        } else if (!in && a[0] != '-') {
            in = a;
        } else {
            fprintf(stderr, "javm gas: bad argument '%s'\n%s", a, usage);
            return CLI_USAGE;
        }
    }
    if (!in) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    if (!has_model)
        model = cli_default_model(profile);
    if (profile == JAVM_PROFILE_JAM_DRAFT && lat != 25 && lat != 37) {
        fputs("javm gas: the jam-draft profile takes --mem-latency 25 (L2 hit) or 37 (L3 hit)\n",
              stderr);
        return CLI_USAGE;
    }
    int ret = CLI_INPUT, rc;
    uint8_t *bytes = NULL;
    size_t len = 0;
    asm_unit u;
    asm_err err;
    tv_vector v;
    bool have_v = false;
    javm_program *prog = NULL;
    gas_block *blocks = NULL;
    asm_unit_init(&u);
    memset(&err, 0, sizeof err);
    if (ends_with(in, ".json")) {
        char msg[256];
        if (tv_load(in, &v, msg, sizeof msg)) {
            fprintf(stderr, "javm gas: %s\n", msg);
            goto done;
        }
        have_v = true;
        rc = disasm_blob(&u, v.program, v.program_len, &err);
    } else {
        if (cli_read_file(in, &bytes, &len)) {
            fprintf(stderr, "javm gas: cannot read %s: %s\n", in, cli_read_error());
            goto done;
        }
        if (!blob && len >= 4 && memcmp(bytes, "JIMG", 4) == 0)
            rc = disasm_jimg(&u, bytes, len, &err);
        else
            rc = disasm_blob(&u, bytes, len, &err);
    }
    if (rc) {
        fprintf(stderr, "%s: error: %s\n", in, err.msg);
        ret = rc == JAVM_ERR_ALLOC ? CLI_INTERNAL : CLI_INPUT;
        goto done;
    }
    const asm_prog *p = &u.prog;
    javm_prepare_opts o = { profile, (uint32_t)lat };
    rc = javm_prepare(p->code, p->code_len, p->bitmask, p->jt_final, p->jt_count, &o, &prog);
    if (rc) {
        fprintf(stderr, "javm gas: %s: %s\n", in, javm_strerror(rc));
        ret = rc == JAVM_ERR_ALLOC ? CLI_INTERNAL : rc == JAVM_ERR_INVALID_ARG ? CLI_USAGE : CLI_INPUT;
        goto done;
    }
    ret = CLI_INTERNAL;
    size_t n = 0, nb = 0;
    for (uint64_t pc = 0; pc <= p->code_len; pc++)
        nb += javm_program_block_cost(prog, (uint32_t)pc, JAVM_GAS_INSTR) != 0; /* held: cheap */
    if (!(blocks = malloc((nb ? nb : 1) * sizeof *blocks)))
        goto done;
    uint64_t total = 0;
    for (uint64_t pc = 0; pc <= p->code_len; pc++) {
        uint64_t c = javm_program_block_cost(prog, (uint32_t)pc, model);
        if (!c || n == nb)
            continue;
        blocks[n].pc = (uint32_t)pc;
        blocks[n].cost = c;
        blocks[n].instructions = javm_program_block_cost(prog, (uint32_t)pc, JAVM_GAS_INSTR);
        total += c;
        n++;
    }
    size_t shown = n;
    if (top) {
        qsort(blocks, n, sizeof *blocks, by_cost_desc);
        shown = top < n ? (size_t)top : n;
    }
    if (json) {
        fputs("{\"blocks\": [", stdout);
        for (size_t i = 0; i < shown; i++) {
            printf("%s{\"pc\": %u, \"instructions\": %" PRIu64 ", \"cost\": %" PRIu64, i ? ", " : "",
                   blocks[i].pc, blocks[i].instructions, blocks[i].cost);
            if (top) {
                fputs(", \"disassembly\": [", stdout);
                print_block(stdout, p, &blocks[i], profile, true);
                fputc(']', stdout);
            }
            fputc('}', stdout);
        }
        printf("], \"total\": %" PRIu64 "}\n", total);
    } else {
        printf("%s profile, %s gas, memory latency %" PRIu64 ": %zu blocks\n",
               cli_profile_name(profile), cli_gas_model_name(model), lat, n);
        printf("%10s %12s %12s\n", "pc", "instructions", "cost");
        for (size_t i = 0; i < shown; i++) {
            printf("%10u %12" PRIu64 " %12" PRIu64 "\n", blocks[i].pc, blocks[i].instructions,
                   blocks[i].cost);
            if (top)
                print_block(stdout, p, &blocks[i], profile, false);
        }
        printf("total %" PRIu64 "\n", total);
    }
    ret = CLI_OK;
done:
    free(blocks);
    javm_program_free(prog);
    asm_unit_free(&u);
    free(bytes);
    if (have_v)
        tv_free(&v);
    return ret;
}
