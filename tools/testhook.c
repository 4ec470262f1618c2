/* SPDX-License-Identifier: MIT
 * tools/testhook.c — the fault tests' hook in the javm command (tests/rados_faults.sh,
 * docs/testing-rados.md "The fault test"): kills or stops the process at a chosen point of a
 * store commit, so a test can leave a client dead in the middle of its commit. Inert unless
 * JAVM_TEST_KILL_AT or JAVM_TEST_STOP_AT is set. The state is the command's own (one store a
 * process); the library holds none of it. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "testhook.h"

enum hook_point { AT_BLOB, AT_COMMIT, AT_COMMIT_AFTER, AT_COMMITTED };

static struct {
    /* The store's own vtbl, copied whole, with put, put_stream and commit replaced: every
     * other member (get, begin, del, abort, scan, close, the optional touch, collect and
     * get_stream) is the store's, so the store behaves unchanged but for the kill. */
    javm_store_vtbl vt;
    const javm_store_vtbl *inner;
    enum hook_point at;
    uint64_t n;  /* blob:N: the blob write after which to fire */
    uint64_t us; /* commit+US: microseconds after the commit starts */
    uint64_t blobs;
    int sig;     /* SIGKILL (JAVM_TEST_KILL_AT) or SIGSTOP (JAVM_TEST_STOP_AT) */
} hook;

/* Set by the timer's handler; read by the commit waiting for it. */
static volatile sig_atomic_t hook_fired;

static void hook_fire(void)
{
    hook_fired = 1;
    raise(hook.sig); /* SIGSTOP: a SIGCONT lets the command go on as if nothing happened */
}

static void hook_alarm(int sig)
{
    (void)sig;
    hook_fire();
}

/* After a blob write, whole (put) or streamed (put_stream, which the cache prefers) */
static int hook_blob_written(int rc, javm_table t)
{
    if (rc == JAVM_OK && t == JAVM_TABLE_BLOBS && hook.at == AT_BLOB && ++hook.blobs == hook.n)
        hook_fire();
    return rc;
}

static int hook_put(javm_store *s, javm_table t, const uint8_t *key, size_t klen,
                    const uint8_t *val, size_t vlen)
{
    return hook_blob_written(hook.inner->put(s, t, key, klen, val, vlen), t);
}

static int hook_put_stream(javm_store *s, javm_table t, const uint8_t *key, size_t klen,
                           uint64_t len, int (*produce)(void *, javm_store_write_fn, void *),
                           void *arg)
{
    return hook_blob_written(hook.inner->put_stream(s, t, key, klen, len, produce, arg), t);
}

static int hook_commit(javm_store *s)
{
    if (hook.at == AT_COMMIT)
        hook_fire();
    if (hook.at == AT_COMMIT_AFTER) {
        /* The head op is the commit's first RADOS op for a name that exists (docs/scale-out.md
         * §3: the blobs went out with put), so the timer runs from (about) its send. */
        struct sigaction sa = { 0 };
        sa.sa_handler = hook_alarm;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = { { 0, 0 }, { (time_t)(hook.us / 1000000),
                                             (suseconds_t)(hook.us % 1000000) } };
        if (hook.us == 0)
            hook_fire();
        else
            setitimer(ITIMER_REAL, &it, NULL);
    }
    int rc = hook.inner->commit(s);
    if (hook.at == AT_COMMIT_AFTER) {
        /* the commit was quicker than US: the kill comes after it, never not at all */
        struct timespec tick = { 0, 100000 };
        while (!hook_fired)
            nanosleep(&tick, NULL);
    }
    if (hook.at == AT_COMMITTED && rc == JAVM_OK)
        hook_fire();
    return rc;
}

/* "blob:N", "commit", "commit+US", "committed" */
static bool hook_parse(const char *spec)
{
    char *end;
    if (strncmp(spec, "blob:", 5) == 0) {
        hook.at = AT_BLOB;
        hook.n = strtoull(spec + 5, &end, 10);
        return spec[5] >= '0' && spec[5] <= '9' && !*end && hook.n > 0;
    }
    if (strcmp(spec, "commit") == 0) {
        hook.at = AT_COMMIT;
        return true;
    }
    if (strcmp(spec, "committed") == 0) {
        hook.at = AT_COMMITTED;
        return true;
    }
    if (strncmp(spec, "commit+", 7) == 0) {
        hook.at = AT_COMMIT_AFTER;
        hook.us = strtoull(spec + 7, &end, 10);
        return spec[7] >= '0' && spec[7] <= '9' && !*end && hook.us <= 60000000;
    }
    return false;
}

int cli_testhook_install(javm_store *s, const char *cmd)
{
    const char *kill_at = getenv("JAVM_TEST_KILL_AT"), *stop_at = getenv("JAVM_TEST_STOP_AT");
    if (kill_at && !*kill_at)
        kill_at = NULL;
    if (stop_at && !*stop_at)
        stop_at = NULL;
    if (!kill_at && !stop_at)
        return CLI_OK;
    if (kill_at && stop_at) {
        fprintf(stderr, "javm %s: JAVM_TEST_KILL_AT and JAVM_TEST_STOP_AT are both set\n", cmd);
        return CLI_USAGE;
    }
    const char *spec = kill_at ? kill_at : stop_at;
    if (!hook_parse(spec)) {
        fprintf(stderr, "javm %s: JAVM_TEST_%s_AT=%s: expected blob:N, commit, commit+US or "
                        "committed\n", cmd, kill_at ? "KILL" : "STOP", spec);
        return CLI_USAGE;
    }
    hook.sig = kill_at ? SIGKILL : SIGSTOP;
    hook.inner = s->vtbl;
    hook.vt = *s->vtbl;
    hook.vt.put = hook_put;
    if (hook.inner->put_stream)
        hook.vt.put_stream = hook_put_stream;
    hook.vt.commit = hook_commit;
    s->vtbl = &hook.vt;
    return CLI_OK;
}
