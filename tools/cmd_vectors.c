/* SPDX-License-Identifier: MIT
 * tools/cmd_vectors.c — `javm vectors DIR`: JAM PVM conformance (pvm.md §9.4) over every
 * *.json in DIR, in name order; one line per failing vector and field, then
 * "N passed, M failed". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vector.h"

static const char usage[] =
    "usage: javm vectors DIR [--json] [--engine auto|interp|jit] [--profile P] [--gas-model M]\n"
    "Runs every JAM PVM vector (*.json) in DIR with the GP-compatibility profile and\n"
    "one gas per instruction (or --profile jam-draft: the JAM draft's profile and, unless\n"
    "--gas-model says instr, its block gas), compares status, pc, registers, memory, gas and\n"
    "fault address,\n"
    "prints each failing vector with its mismatching fields and ends with 'N passed, M failed'.\n"
    "--engine picks the engine (default auto: $JAVM_ENGINE, else the JIT where built).\n"
    "--json prints one JSON object per vector instead. Exit: 0 all passed, 1 some failed,\n"
    "2 usage, 3 DIR unreadable or holding no .json vector, 4 internal error.\n";

int cmd_vectors(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false, has_model = false;
    javm_engine engine = JAVM_ENGINE_AUTO;
    javm_profile profile = JAVM_PROFILE_GP;
    javm_gas_model model = JAVM_GAS_INSTR;
    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--profile") == 0 && cli_parse_profile(val, &profile) &&
                   profile != JAVM_PROFILE_JAVM) {
            i++;
        } else if (strcmp(argv[i], "--gas-model") == 0 && cli_parse_gas_model(val, &model)) {
            has_model = true;
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--engine") == 0 && i + 1 < argc &&
                   javm_engine_parse(argv[i + 1], &engine) == JAVM_OK) {
            i++;
        } else if (!dir && argv[i][0] != '-') {
            dir = argv[i];
        } else {
            fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    if (!has_model)
        model = profile == JAVM_PROFILE_JAM_DRAFT ? JAVM_GAS_JAM_DRAFT : JAVM_GAS_INSTR;
    if (!dir || !cli_model_runs(profile, model)) {
        if (dir)
            fprintf(stderr, "javm vectors: the %s profile cannot run the %s gas model\n",
                    cli_profile_name(profile), cli_gas_model_name(model));
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = tv_list_json(dir, &names, &n), open_errno = errno; /* opendir's reason */
    if (rc == JAVM_ERR_ALLOC) {
        fprintf(stderr, "javm vectors: out of memory\n");
        return CLI_INTERNAL;
    }
    if (rc) {
        fprintf(stderr, "javm vectors: cannot open %s: %s\n", dir, strerror(open_errno));
        return CLI_INPUT;
    }
    if (n == 0) {
        fprintf(stderr, "javm vectors: no .json vectors in %s\n", dir);
        rc = CLI_INPUT;
        goto done;
    }
    size_t passed = 0, failed = 0;
    char path[4096], err[512], report[8192];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        tv_vector v;
        int lrc = tv_load(path, &v, err, sizeof err);
        int bad;
        if (lrc) {
            snprintf(report, sizeof report, "  load: %s\n", lrc == JAVM_ERR_DECODE ? err : javm_strerror(lrc));
            bad = 1;
        } else {
            bad = tv_conform_with(&v, engine, profile, model, NULL, report, sizeof report);
            if (bad < 0)
                snprintf(report, sizeof report, "  run: %s\n", javm_strerror(bad));
            tv_free(&v);
        }
        if (bad == 0)
            passed++;
        else
            failed++;
        if (json)
            printf("{\"vector\":\"%s\",\"pass\":%s}\n", names[i], bad ? "false" : "true");
        else if (bad)
            printf("FAIL %s\n%s", names[i], report);
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    rc = failed ? CLI_FAIL : CLI_OK;
done:
    tv_names_free(names, n);
    return rc;
}
