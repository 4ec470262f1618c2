/* SPDX-License-Identifier: MIT
 * tools/cmd_bench.c — `javm bench`: the exec-layer programs (ns per instruction) and
 * committed invocations per second of a trivial endpoint on a temporary LMDB store. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "session.h"

static const char usage[] =
    "usage: javm bench [--programs DIR] [--runs N] [--invocations N] [--engine E] [--profile P]\n"
    "Prints ns per executed instruction on the four benchmark programs (DIR; default\n"
    "$JAVM_BENCH_PROGRAMS, else ../share/javm/bench-programs beside an installed javm, else\n"
    "the source tree's bench/programs) and committed invocations per second of a trivial endpoint\n"
    "on a temporary LMDB store, durable and with --no-sync.\n"
    "--engine auto (default) times the programs on both engines side by side; interp or jit\n"
    "times one. The invocations run on the chosen engine (auto: $JAVM_ENGINE, else the JIT).\n"
    "--profile P runs the programs under javm (default), gp or jam-draft, charging the\n"
    "profile's default gas model (gas is then not checked against the programs' JSON).\n"
    "Exit: 0 every figure was measured, 2 usage, 3 a program in DIR could not be read or\n"
    "prepared (the other figures are still printed), 4 the store benchmark failed.\n";

/* Committed invocations per second: an image that halts at once, spawned under a name, and
 * invoked n times, each invocation one committed store transaction. */
static int invocations(const char *dir, uint64_t n, bool no_sync, javm_engine engine, double *per_sec)
{
    cli_session s = { 0 };
    s.path = dir;
    s.no_sync = no_sync;
    int rc = cli_session_open(&s, "bench");
    if (rc)
        return rc;
    static const uint8_t code[] = { 10, 0 }, mask[] = { 1 };
    javm_cap *img = NULL;
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    javm_hash ih, inst;
    rc = CLI_INTERNAL;
    if (javm_image_new(code, 2, mask, 1, &img) || javm_image_add_endpoint(img, &ep) ||
        javm_cache_put(s.cache, img, &ih) || javm_spawn(s.cache, &ih, 4, &inst) ||
        javm_name_set(s.cache, (const uint8_t *)"bench", 5, &inst) || javm_commit(s.cache, s.ka))
        goto done;
    javm_vm_set_engine(s.vm, engine);
    javm_invoke_opts opts = { (const uint8_t *)"bench", 5 };
    uint64_t t0 = cli_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        javm_call_result r;
        uint64_t args[4] = { i, 0, 0, 0 };
        if (javm_invoke(s.vm, s.cache, s.ka, &inst, 0, args, 1000, NULL, &opts, &r) ||
            r.kind != JAVM_RES_HALT)
            goto done;
        inst = r.post_instance;
    }
    *per_sec = (double)n / ((double)(cli_now_ns() - t0) / 1e9);
    rc = CLI_OK;
done:
    javm_cap_free(img);
    cli_session_close(&s);
    return rc;
}

/* BINDIR/../share/javm/bench-programs beside an installed javm, wherever the tree was
 * installed (cmake --install --prefix P); false when the command runs from a build tree. */
static bool installed_programs(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0 || (size_t)n >= size - 1)
        return false;
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return false;
    *slash = 0;
    static const char rel[] = "/../share/javm/bench-programs";
    if (strlen(buf) + sizeof rel > size)
        return false;
    strcat(buf, rel);
    char probe[4096 + 16];
    snprintf(probe, sizeof probe, "%s/fib.bin", buf);
    return access(probe, R_OK) == 0;
}

int cmd_bench(int argc, char **argv)
{
    const char *dir = getenv("JAVM_BENCH_PROGRAMS");
    javm_engine engine = JAVM_ENGINE_AUTO;
    uint64_t runs = 5, n = 2000;
    javm_profile profile = JAVM_PROFILE_JAVM;
    char installed[4096];
    if (!dir && installed_programs(installed, sizeof installed))
        dir = installed;
    if (!dir)
        dir = JAVM_BENCH_PROGRAMS_DIR;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--programs") == 0 && v) {
            dir = v;
            i++;
        } else if (strcmp(argv[i], "--runs") == 0 && cli_parse_u64(v, &runs) && runs && runs < 1000) {
            i++;
        } else if (strcmp(argv[i], "--invocations") == 0 && cli_parse_u64(v, &n) && n) {
            i++;
        } else if (strcmp(argv[i], "--engine") == 0 && javm_engine_parse(v, &engine) == JAVM_OK) {
            i++;
        } else if (strcmp(argv[i], "--profile") == 0 && cli_parse_profile(v, &profile)) {
            i++;
        } else {
            fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    printf("== exec layer (%s)\n", dir);
    unsigned engines = engine == JAVM_ENGINE_AUTO ? TB_INTERP | TB_JIT
                       : javm_engine_resolve(engine) == JAVM_ENGINE_JIT ? TB_JIT : TB_INTERP;
    int ret = tb_exec_programs_profile(dir, (int)runs, engines, profile, stdout) ? CLI_INPUT : CLI_OK;
    char tmpl[] = "/tmp/javm-bench-XXXXXX";
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "javm bench: cannot create a temporary directory\n");
        return CLI_INTERNAL;
    }
    printf("== committed invocations (LMDB store in %s)\n", tmpl);
    for (int sync = 0; sync < 2; sync++) {
        char path[sizeof tmpl + 16];
        snprintf(path, sizeof path, "%s/%s", tmpl, sync ? "nosync" : "durable");
        double ps = 0;
        int rc = invocations(path, n, sync == 1, engine, &ps);
        if (rc) {
            printf("%-8s failed\n", sync ? "no-sync" : "durable");
            ret = CLI_INTERNAL;
        }
        else
            printf("%-8s %8.0f invocations/s (%llu invocations)\n", sync ? "no-sync" : "durable", ps,
                   (unsigned long long)n);
        char cmd[sizeof path + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
        if (system(cmd) != 0)
            fprintf(stderr, "javm bench: could not remove %s\n", path);
    }
    rmdir(tmpl);
    return ret;
}
