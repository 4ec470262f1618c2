/* SPDX-License-Identifier: MIT
 * tests/test_rados_load.c — independent commits on RADOS (docs/scale-out.md §7, issue 16):
 * 4 client processes, each with its own connection, cache and VM, invoke a counter in a loop
 * for JAVM_LOAD_SECONDS (30) per phase.
 *   own names: each client its own name. Every success a client logged (the value the guest
 *     returned, the post-instance) is there afterwards: the values are 1..n in order, the name
 *     is at the last post-instance, the next invocation returns n + 1; no CONFLICT at all.
 *   shared name: all four on one name, a CONFLICT counted and the name read again. No update
 *     lost: the values of all clients are distinct and together 1..S, the name is at the
 *     post-instance of S, the next invocation returns S + 1; the clients did race (conflicts > 0).
 * Prints commits per client, conflicts and commits/s. Each run uses its own RADOS namespace.
 * The clients are this program again (fork and exec: librados is not fork-safe once the parent
 * has used it), run as: test_rados_load --client NS NAME SECONDS READY_FD GO_FD LOG_FD SUM_FD.
 * Skipped (77) without a cluster, except in CI. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cap_fixtures.h"
#include "tprog.h"
#include "vmfix.h"

#include "rados_fix.h"

#define NCLIENTS 4

/* What a client logs for each success. */
typedef struct success {
    uint64_t value;  /* the counter the guest returned */
    javm_hash post;  /* the post-instance the name moved to */
} success;

/* What a client reports when its phase ends. */
typedef struct client_sum {
    long commits, conflicts;
    double secs;
} client_sum;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double load_seconds(void)
{
    const char *e = getenv("JAVM_LOAD_SECONDS");
    double s = e && *e ? strtod(e, NULL) : 30;
    return s > 0 ? s : 30;
}

/* A client process (no cmocka in here: failures are an exit status and a line on stderr).
 * Opens its own store on ns, tells ready_fd, waits for go_fd, invokes name for secs, logs each
 * success to log_fd and the sum to sum_fd. */
static void client(const char *ns, const char *name, double secs, int ready_fd, int go_fd,
                   int log_fd, int sum_fd)
{
    char url[4200], msg[256];
    rfx_url(url, sizeof url, ns);
    javm_store *s = NULL;
    javm_cache *c = NULL;
    javm_ka *ka = NULL;
    javm_vm *vm = NULL;
    int rc = javm_store_rados_open(url, NULL, &s, msg, sizeof msg);
    if (rc == JAVM_OK && !(rc = javm_cache_open(s, &c)) && !(rc = javm_ka_store_new(s, &ka)))
        rc = javm_vm_new(&vm, 0);
    if (rc) {
        fprintf(stderr, "client %s: setup: %s %s\n", name, javm_strerror(rc), msg);
        _exit(2);
    }
    size_t nl = strlen(name);
    javm_hash inst;
    char x = 'r';
    if ((rc = javm_name_get(c, (const uint8_t *)name, nl, &inst)) || write(ready_fd, &x, 1) != 1 ||
        read(go_fd, &x, 1) != 1) {
        fprintf(stderr, "client %s: name or barrier: %s\n", name, javm_strerror(rc));
        _exit(2);
    }
    javm_invoke_opts opts = { (const uint8_t *)name, nl };
    static const uint64_t args[4] = { 0 };
    client_sum sum = { 0, 0, 0 };
    double t0 = now_s();
    while (now_s() - t0 < secs) {
        javm_call_result r;
        rc = javm_invoke(vm, c, ka, &inst, 0, args, 1000, NULL, &opts, &r);
        if (rc == JAVM_ERR_CONFLICT) {
            sum.conflicts++;
            if ((rc = javm_name_get(c, (const uint8_t *)name, nl, &inst)) == JAVM_OK)
                continue;
        }
        if (rc || r.kind != JAVM_RES_HALT) {
            fprintf(stderr, "client %s: invoke: %s (%s), result kind %d\n", name,
                    javm_strerror(rc), javm_store_errmsg(s), rc ? -1 : (int)r.kind);
            _exit(3);
        }
        success ok = { r.return_value, r.post_instance };
        if (write(log_fd, &ok, sizeof ok) != (ssize_t)sizeof ok) {
            fprintf(stderr, "client %s: log: %s\n", name, strerror(errno));
            _exit(2);
        }
        sum.commits++;
        inst = r.post_instance;
        javm_key k = javm_key_of_hash(&r.post_instance);
        javm_cache_decref(c, &k);
    }
    sum.secs = now_s() - t0;
    javm_vm_free(vm);
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(s);
    if (write(sum_fd, &sum, sizeof sum) != (ssize_t)sizeof sum)
        _exit(2);
    _exit(0);
}

typedef struct phase {
    char log[NCLIENTS][256];
    client_sum sum[NCLIENTS];
    double wall;
} phase;

/* Runs NCLIENTS clients on ns, client i on names[i], started together; asserts each exited 0.
 * A client that dies before it is ready fails the phase (never a hang). */
static void run_phase(const char *ns, const char *const names[NCLIENTS], const char *dir,
                      const char *tag, phase *ph)
{
    int ready[2], go[2], sums[NCLIENTS][2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    char secs[32];
    snprintf(secs, sizeof secs, "%g", load_seconds());
    pid_t pid[NCLIENTS];
    bool reaped[NCLIENTS] = { false };
    int status[NCLIENTS] = { 0 };
    for (int i = 0; i < NCLIENTS; i++) {
        snprintf(ph->log[i], sizeof ph->log[i], "%s/%s%d.log", dir, tag, i);
        int lfd = open(ph->log[i], O_CREAT | O_WRONLY | O_TRUNC | O_APPEND, 0600);
        assert_true(lfd >= 0);
        assert_int_equal(pipe(sums[i]), 0);
        char fds[4][16];
        snprintf(fds[0], sizeof fds[0], "%d", ready[1]);
        snprintf(fds[1], sizeof fds[1], "%d", go[0]);
        snprintf(fds[2], sizeof fds[2], "%d", lfd);
        snprintf(fds[3], sizeof fds[3], "%d", sums[i][1]);
        fflush(NULL);
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) {
            execl("/proc/self/exe", "test_rados_load", "--client", ns, names[i], secs, fds[0],
                  fds[1], fds[2], fds[3], (char *)NULL);
            _exit(127);
        }
        close(lfd);
        close(sums[i][1]);
    }
    close(ready[1]);
    close(go[0]);
    int ready_n = 0, dead = 0;
    double t_ready = now_s();
    while (ready_n < NCLIENTS && !dead && now_s() - t_ready < 300) {
        struct pollfd pf = { ready[0], POLLIN, 0 };
        char x;
        if (poll(&pf, 1, 500) > 0 && read(ready[0], &x, 1) == 1) {
            ready_n++;
            continue;
        }
        for (int i = 0; i < NCLIENTS; i++)
            if (!reaped[i] && waitpid(pid[i], &status[i], WNOHANG) == pid[i])
                reaped[i] = true, dead++;
    }
    if (ready_n < NCLIENTS)
        for (int i = 0; i < NCLIENTS; i++)
            if (!reaped[i])
                kill(pid[i], SIGKILL);
    double t0 = now_s();
    for (int i = 0; ready_n == NCLIENTS && i < NCLIENTS; i++)
        if (write(go[1], "g", 1) != 1)
            break;
    close(go[1]);
    close(ready[0]);
    int bad = 0;
    for (int i = 0; i < NCLIENTS; i++) {
        memset(&ph->sum[i], 0, sizeof ph->sum[i]);
        if (read(sums[i][0], &ph->sum[i], sizeof ph->sum[i]) != (ssize_t)sizeof ph->sum[i])
            bad++;
        close(sums[i][0]);
        if (!reaped[i] && waitpid(pid[i], &status[i], 0) != pid[i])
            status[i] = -1;
        if (!WIFEXITED(status[i]) || WEXITSTATUS(status[i]) != 0) {
            printf("%s client %d (%s) ended with status 0x%x\n", tag, i, names[i], status[i]);
            bad++;
        }
    }
    ph->wall = now_s() - t0;
    if (ready_n < NCLIENTS)
        fail_msg("%s: only %d of %d clients got ready", tag, ready_n, NCLIENTS);
    assert_int_equal(bad, 0);
}

/* The successes client i logged (*n of them; free the array). */
static success *read_log(const phase *ph, int i, size_t *n)
{
    FILE *f = fopen(ph->log[i], "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(len >= 0 && len % (long)sizeof(success) == 0);
    *n = (size_t)len / sizeof(success);
    success *v = malloc(*n ? *n * sizeof *v : 1);
    assert_non_null(v);
    assert_int_equal(fread(v, sizeof *v, *n, f), *n);
    fclose(f);
    return v;
}

/* A fresh client on ns: the instance name is at, and the value its next invocation returns. */
static uint64_t name_state(const char *ns, const char *name, javm_hash *at)
{
    rfx_client c;
    rfx_client_open(&c, ns);
    assert_int_equal(javm_name_get(c.cache, (const uint8_t *)name, strlen(name), at), JAVM_OK);
    javm_invoke_opts opts = { (const uint8_t *)name, strlen(name) };
    static const uint64_t args[4] = { 0 };
    javm_call_result r;
    assert_int_equal(javm_invoke(c.vm, c.cache, c.ka, at, 0, args, 1000, NULL, &opts, &r), JAVM_OK);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    rfx_client_close(&c);
    return r.return_value;
}

/* Counter instances named names[0..n) on ns, committed. */
static void spawn_named(const char *ns, const char *const *names, int n)
{
    rfx_client c;
    rfx_client_open(&c, ns);
    javm_hash inst = rfx_spawn_counter(c.cache);
    for (int i = 0; i < n; i++)
        assert_int_equal(javm_name_set(c.cache, (const uint8_t *)names[i], strlen(names[i]), &inst),
                         JAVM_OK);
    assert_int_equal(javm_commit(c.cache, c.ka), JAVM_OK);
    rfx_client_close(&c);
}

static void tmpdir(char dir[64])
{
    strcpy(dir, "/tmp/javm-rados-load-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void rmdir_logs(const char *dir, const phase *ph)
{
    for (int i = 0; i < NCLIENTS; i++)
        unlink(ph->log[i]);
    rmdir(dir);
}

static void test_own_names(void **state)
{
    (void)state;
    static const char *const names[NCLIENTS] = { "own0", "own1", "own2", "own3" };
    char dir[64];
    tmpdir(dir);
    spawn_named("own", names, NCLIENTS);
    static phase ph;
    run_phase("own", names, dir, "own", &ph);
    long total = 0, conflicts = 0;
    for (int i = 0; i < NCLIENTS; i++) {
        size_t n;
        success *v = read_log(&ph, i, &n);
        printf("own names: client %d: %ld commits, %ld conflicts, %.1f commits/s\n", i,
               ph.sum[i].commits, ph.sum[i].conflicts, (double)ph.sum[i].commits / ph.sum[i].secs);
        assert_int_equal(n, (size_t)ph.sum[i].commits);
        assert_true(n > 0);
        for (size_t j = 0; j < n; j++)
            if (v[j].value != j + 1)
                fail_msg("own%d: success %zu returned %" PRIu64, i, j, v[j].value);
        javm_hash at;
        uint64_t next = name_state("own", names[i], &at);
        if (memcmp(&at, &v[n - 1].post, sizeof at) != 0)
            fail_msg("own%d: the name is not at its last success's post-instance", i);
        if (next != n + 1)
            fail_msg("own%d: next value %" PRIu64 ", expected %zu + 1", i, next, n);
        total += (long)n;
        conflicts += ph.sum[i].conflicts;
        free(v);
    }
    printf("own names: %ld commits, %ld conflicts in %.1f s: %.1f commits/s\n", total, conflicts,
           ph.wall, (double)total / ph.wall);
    assert_int_equal(conflicts, 0); /* different names never conflict (scale-out.md §2) */
    rmdir_logs(dir, &ph);
}

static int cmp_success(const void *a, const void *b)
{
    uint64_t x = ((const success *)a)->value, y = ((const success *)b)->value;
    return (x > y) - (x < y);
}

static void test_shared_name(void **state)
{
    (void)state;
    static const char *const names[NCLIENTS] = { "shared", "shared", "shared", "shared" };
    char dir[64];
    tmpdir(dir);
    spawn_named("shared", names, 1);
    static phase ph;
    run_phase("shared", names, dir, "shared", &ph);
    size_t total = 0;
    long conflicts = 0;
    success *all = NULL;
    for (int i = 0; i < NCLIENTS; i++) {
        size_t n;
        success *v = read_log(&ph, i, &n);
        printf("shared name: client %d: %ld commits, %ld conflicts\n", i, ph.sum[i].commits,
               ph.sum[i].conflicts);
        assert_int_equal(n, (size_t)ph.sum[i].commits);
        all = realloc(all, (total + n + 1) * sizeof *all);
        assert_non_null(all);
        memcpy(all + total, v, n * sizeof *v);
        total += n;
        conflicts += ph.sum[i].conflicts;
        free(v);
    }
    printf("shared name: %zu commits, %ld conflicts in %.1f s: %.1f commits/s\n", total,
           conflicts, ph.wall, (double)total / ph.wall);
    assert_true(total > 0);
    qsort(all, total, sizeof *all, cmp_success);
    size_t dups = 0;
    for (size_t j = 0; j < total; j++)
        dups += all[j].value != j + 1;
    if (dups)
        fail_msg("lost updates: %zu of %zu successes are not the values 1..%zu (highest %" PRIu64
                 ")", dups, total, total, all[total - 1].value);
    javm_hash at;
    uint64_t next = name_state("shared", "shared", &at);
    if (memcmp(&at, &all[total - 1].post, sizeof at) != 0)
        fail_msg("shared: the name is not at the post-instance of value %zu", total);
    if (next != total + 1)
        fail_msg("shared: next value %" PRIu64 ", expected %zu + 1 (an update lost)", next, total);
    assert_true(conflicts > 0); /* the clients did race: CONFLICT, never a lost update */
    free(all);
    rmdir_logs(dir, &ph);
}

int main(int argc, char **argv)
{
    if (argc == 9 && strcmp(argv[1], "--client") == 0) {
        rfx_conf = getenv("JAVM_TEST_RADOS_CONF");
        const char *pre = getenv("JAVM_TEST_LOAD_PREFIX");
        if (!rfx_conf || !pre)
            return 2;
        snprintf(rfx_prefix, sizeof rfx_prefix, "%s", pre);
        client(argv[2], argv[3], strtod(argv[4], NULL), atoi(argv[5]), atoi(argv[6]),
               atoi(argv[7]), atoi(argv[8]));
    }
    int st = rfx_setup("test_rados_load", 'L');
    if (st >= 0)
        return st;
    setenv("JAVM_TEST_LOAD_PREFIX", rfx_prefix, 1); /* the clients' namespaces */
    printf("test_rados_load: %d clients, %.1f s per phase\n", NCLIENTS, load_seconds());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_names),
        cmocka_unit_test(test_shared_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
