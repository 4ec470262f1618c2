/* SPDX-License-Identifier: MIT
 * tools/cmd_run.c — `javm run`: prepare and run one PVM program (a GP deblob file or a
 * vector JSON with its pages, registers and memory) and print exit, state and speed. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jitdump.h"
#include "vector.h"

static const char usage[] =
    "usage: javm run PROGRAM.bin|VECTOR.json [options]\n"
    "  --gas N                 initial gas (default: the vector's, or 2^50 for a .bin)\n"
    "  --gas-model M           pipeline (the default, javm and gp profiles), instr (one gas\n"
    "                          per instruction) or jam-draft (the default of jam-draft)\n"
    "  --profile P             javm (default), gp (GP-compatibility) or jam-draft (the JAM\n"
    "                          draft: docs/exec.md)\n"
    "  --mem-latency M         memory latency of the gas model (default 25; jam-draft: 25 for\n"
    "                          an L2 hit, 37 for an L3 hit)\n"
    "  --page ADDR:LEN[:ro]    make [ADDR, ADDR+LEN) accessible (read-write unless :ro);\n"
    "                          repeatable; ADDR and LEN are rounded out to whole pages\n"
    "  --repeat N              run N times from the same start state (default 1); the\n"
    "                          time printed is the best run\n"
    "  --check                 compare with the vector's expected-* keys (exit 1 on mismatch)\n"
    "  --engine E              auto (default: $JAVM_ENGINE, else the JIT where built),\n"
    "                          interp or jit; with the JIT the compile time is printed\n"
    "  --dump-native           print each PVM instruction with its native code, then run\n"
    "  --timeout SECONDS       stop the run after SECONDS of wall time (e.g. 2 or 0.5; with\n"
    "                          --repeat, for all repetitions together); a gas unit is about\n"
    "                          0.03-0.3 ns of guest code (docs/cli.md), so 2^50 is days\n"
    "  --json                  print one JSON object\n"
    "Prints the exit reason, pc, the 13 registers, gas left, instructions executed (every\n"
    "instruction dispatched, including the one that ended the run), the best wall time and\n"
    "'<x> ns/instr'. Exit: 0 ran (any exit reason), 1 --check mismatch, 2 usage, 3 bad input,\n"
    "6 stopped by --timeout (the exit printed is 'stopped', with the state where it stopped).\n";

#define MAX_PAGES 64

typedef struct run_opts {
    const char *path;
    bool has_gas, json, check, has_model;
    uint64_t gas, repeat;
    javm_gas_model model;
    javm_engine engine;
    bool dump;
    uint64_t timeout_ns; /* 0: none */
    javm_prepare_opts prep;
    tv_page pages[MAX_PAGES];
    size_t npages;
} run_opts;

static bool parse_page(const char *s, tv_page *pg)
{
    char buf[128];
    if (strlen(s) >= sizeof buf)
        return false;
    strcpy(buf, s);
    char *c1 = strchr(buf, ':');
    if (!c1)
        return false;
    *c1++ = 0;
    char *c2 = strchr(c1, ':');
    pg->writable = true;
    if (c2) {
        *c2++ = 0;
        if (strcmp(c2, "ro") != 0)
            return false;
        pg->writable = false;
    }
    uint64_t a, l;
    /* a + l could wrap around 2^64 (18446744073709551615:1 passed): compare without adding */
    if (!cli_parse_u64(buf, &a) || !cli_parse_u64(c1, &l) || a > (UINT64_C(1) << 32) ||
        l > (UINT64_C(1) << 32) - a)
        return false;
    pg->addr = (uint32_t)a;
    pg->len = (uint32_t)l;
    return true;
}

static int parse(int argc, char **argv, run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->repeat = 1;
    o->model = JAVM_GAS_PIPELINE;
    o->prep = (javm_prepare_opts){ JAVM_PROFILE_JAVM, 25 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            exit(CLI_OK);
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--check") == 0) {
            o->check = true;
        } else if (strcmp(a, "--dump-native") == 0) {
            o->dump = true;
        } else if (strcmp(a, "--engine") == 0 && javm_engine_parse(val, &o->engine) == JAVM_OK) {
            i++;
        } else if (strcmp(a, "--gas") == 0 && cli_parse_u64(val, &o->gas) && o->gas <= INT64_MAX) {
            o->has_gas = true;
            i++;
        } else if (strcmp(a, "--timeout") == 0 && cli_parse_seconds(val, &o->timeout_ns)) {
            i++;
        } else if (strcmp(a, "--repeat") == 0 && cli_parse_u64(val, &o->repeat) && o->repeat) {
            i++;
        } else if (strcmp(a, "--mem-latency") == 0 && cli_parse_u64(val, &u) && u >= 1 &&
                   u <= JAVM_MAX_MEM_LATENCY) {
            o->prep.mem_latency = (uint32_t)u;
            i++;
        } else if (strcmp(a, "--gas-model") == 0 && cli_parse_gas_model(val, &o->model)) {
            o->has_model = true;
            i++;
        } else if (strcmp(a, "--profile") == 0 && cli_parse_profile(val, &o->prep.profile)) {
            i++;
        } else if (strcmp(a, "--page") == 0 && val && o->npages < MAX_PAGES &&
                   parse_page(val, &o->pages[o->npages])) {
            o->npages++;
            i++;
        } else if (a[0] != '-' && !o->path) {
            o->path = a;
        } else {
            fprintf(stderr, "javm run: bad argument '%s'\n%s", a, usage);
            return CLI_USAGE;
        }
    }
    if (!o->path) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    if (!o->has_model)
        o->model = cli_default_model(o->prep.profile);
    if (o->prep.profile == JAVM_PROFILE_JAM_DRAFT && o->prep.mem_latency != 25 &&
        o->prep.mem_latency != 37) {
        fputs("javm run: the jam-draft profile takes --mem-latency 25 (L2 hit) or 37 (L3 hit)\n",
              stderr);
        return CLI_USAGE;
    }
    if (!cli_model_runs(o->prep.profile, o->model)) {
        fprintf(stderr, "javm run: the %s profile cannot run the %s gas model\n",
                cli_profile_name(o->prep.profile), cli_gas_model_name(o->model));
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* Lays out memory and state for one repetition. */
static int setup(const run_opts *o, const tv_vector *v, javm_memory *mem, javm_state *st)
{
    int rc = tv_setup(v, mem, st);
    for (size_t i = 0; rc == JAVM_OK && i < o->npages; i++) {
        uint64_t s = o->pages[i].addr & ~UINT64_C(0xFFF);
        uint64_t e = ((uint64_t)o->pages[i].addr + o->pages[i].len + 0xFFF) & ~UINT64_C(0xFFF);
        rc = javm_memory_set_perm(mem, s, e - s, o->pages[i].writable ? JAVM_PERM_RW : JAVM_PERM_RO);
    }
    if (o->has_gas)
        st->gas = (int64_t)o->gas;
    return rc;
}

/* What ran: the engine, and for the JIT its compile time and code size, or why it could not
 * compile (the run then went to the interpreter). */
typedef struct engine_info {
    javm_engine ran;
    int jit_status;      /* JAVM_OK or why the JIT was not used (when it was asked for) */
    uint64_t compile_ns;
    size_t code_bytes;
} engine_info;

static void print_result(const run_opts *o, const javm_state *st, javm_exit ex, uint64_t best_ns,
                         const engine_info *ei)
{
    double nspi = st->steps ? (double)best_ns / (double)st->steps : 0.0;
    if (o->json) {
        printf("{\"exit\":\"%s\",\"arg\":%u,\"pc\":%u,\"engine\":\"%s\",", javm_exit_name(ex.reason),
               ex.arg, st->pc, javm_engine_name(ei->ran));
        if (ei->ran == JAVM_ENGINE_JIT)
            printf("\"compile_us\":%.1f,\"code_bytes\":%zu,", (double)ei->compile_ns / 1e3, ei->code_bytes);
        else if (ei->jit_status)
            printf("\"jit_error\":\"%s\",", javm_strerror(ei->jit_status));
        printf("\"regs\":[");
        for (int i = 0; i < JAVM_NUM_REGS; i++)
            printf("%s%" PRIu64, i ? "," : "", st->regs[i]);
        printf("],\"gas\":%" PRId64 ",\"instructions\":%" PRIu64 ",\"best_ns\":%" PRIu64
               ",\"ns_per_instr\":%.3f,\"repeat\":%" PRIu64 "}\n",
               st->gas, st->steps, best_ns, nspi, o->repeat);
        return;
    }
    printf("exit: %s", javm_exit_name(ex.reason));
    if (ex.reason == JAVM_EXIT_PAGE_FAULT)
        printf(" at 0x%x", ex.arg);
    else if (ex.reason == JAVM_EXIT_HOST_CALL)
        printf("(%u)", ex.arg);
    printf("\npc: %u\nregisters:", st->pc);
    for (int i = 0; i < JAVM_NUM_REGS; i++)
        printf(" r%d=%" PRIu64, i, st->regs[i]);
    printf("\ngas left: %" PRId64 "\ninstructions: %" PRIu64 "\n", st->gas, st->steps);
    printf("time: best %.3f ms of %" PRIu64 " run%s, %.3f ns/instr\n", (double)best_ns / 1e6,
           o->repeat, o->repeat == 1 ? "" : "s", nspi);
    if (ei->ran == JAVM_ENGINE_JIT)
        printf("engine: jit, compiled in %.1f us (%zu bytes of native code)\n", (double)ei->compile_ns / 1e3,
               ei->code_bytes);
    else if (ei->jit_status)
        printf("engine: interp (the JIT could not compile this program: %s)\n", javm_strerror(ei->jit_status));
    else
        printf("engine: interp\n");
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    tv_vector v;
    memset(&v, 0, sizeof v);
    javm_memory *mem = NULL;
    javm_program *prog = NULL;
    javm_stop *stop = NULL;
    char err[512];
    size_t plen = strlen(o.path);
    bool is_json = plen > 5 && strcmp(o.path + plen - 5, ".json") == 0;
    int lrc;
    if (is_json) {
        lrc = tv_load(o.path, &v, err, sizeof err);
    } else {
        lrc = cli_read_file(o.path, &v.program, &v.program_len);
        v.init_gas = (int64_t)1 << 50;
        snprintf(err, sizeof err, "%s: %s", o.path,
                 lrc == JAVM_ERR_IO ? cli_read_error() : javm_strerror(lrc));
    }
    if (lrc) {
        fprintf(stderr, "javm run: %s\n", lrc == JAVM_ERR_DECODE || !is_json ? err : javm_strerror(lrc));
        return CLI_INPUT;
    }
    rc = CLI_INPUT;
    int prc = javm_prepare_blob(v.program, v.program_len, &o.prep, &prog);
    if (prc) {
        fprintf(stderr, "javm run: %s: %s\n", o.path, javm_strerror(prc));
        goto done;
    }
    rc = CLI_INTERNAL;
    if (javm_memory_new(&mem))
        goto done;
    /* compile up front so the compile time is known even when the run ends at once */
    engine_info ei = { JAVM_ENGINE_INTERP, JAVM_OK, 0, 0 };
    if (javm_engine_resolve(o.engine) == JAVM_ENGINE_JIT) {
        ei.jit_status = javm_program_compile(prog, o.model);
        if (ei.jit_status == JAVM_OK)
            javm_program_jit_info(prog, o.model, &ei.code_bytes, &ei.compile_ns);
        if (o.dump && ei.jit_status == JAVM_OK)
            jit_dump_native(stdout, prog, o.model);
    } else if (o.dump) {
        fprintf(stderr, "javm run: --dump-native needs the JIT engine\n");
        rc = CLI_USAGE;
        goto done;
    }
    if (o.timeout_ns && javm_stop_new(&stop))
        goto done;
    javm_stop_set_timeout(stop, o.timeout_ns);
    javm_state st;
    javm_exit ex = { JAVM_EXIT_PANIC, 0 };
    uint64_t best = UINT64_MAX;
    for (uint64_t i = 0; i < o.repeat && ex.reason != JAVM_EXIT_STOPPED; i++) {
        if (i)
            javm_memory_reset(mem);
        if (setup(&o, &v, mem, &st)) {
            fprintf(stderr, "javm run: cannot lay out memory\n");
            rc = CLI_INPUT;
            goto done;
        }
        st.engine = o.engine;
        st.stop = stop;
        uint64_t t0 = cli_now_ns();
        ex = javm_run(prog, &st, o.model, NULL, NULL);
        ei.ran = st.ran;
        uint64_t dt = cli_now_ns() - t0;
        if (dt < best)
            best = dt;
    }
    print_result(&o, &st, ex, best, &ei);
    rc = ex.reason == JAVM_EXIT_STOPPED ? CLI_STOPPED : CLI_OK;
    if (o.check) {
        char report[8192];
        bool use_1pi = o.model == JAVM_GAS_INSTR;
        if (!is_json || !v.exp_status) {
            fprintf(stderr, "javm run: --check needs a vector JSON\n");
            rc = CLI_USAGE;
        } else if (tv_compare(&v, &st, ex, o.prep.profile, use_1pi, report, sizeof report)) {
            printf("check: FAIL\n%s", report);
            rc = CLI_FAIL;
        } else {
            printf("check: ok\n");
        }
    }
done:
    javm_stop_free(stop);
    javm_program_free(prog);
    javm_memory_free(mem);
    tv_free(&v);
    return rc;
}
