/* SPDX-License-Identifier: MIT
 * tests/test_store_crash.c — the LMDB store under SIGKILL and under two concurrent writers.
 * A child process runs the counter guest (one file saved per invocation, the name moved on
 * each HALT) and is killed at seeded random moments; after every kill the store is reopened
 * and checked: the named Instance's graph is whole, file ids are unique and dense, each file
 * holds the counter value of its invocation, quotas match the committed saves, and the counter
 * never goes backwards nor loses an invocation the child saw committed. */
#include "store_fixtures.h" /* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define QUOTA0 (1ull << 40)
#define CRASH_TARGET 1000   /* committed invocations in total */
#define CRASH_MIN_KILLS 20
#define CONC_EACH 200       /* invocations per process in the concurrency test */

static const uint8_t name_ctr[] = "ctr";

static void setup_names(const char *dir, const uint8_t *const *names, const uint8_t *variants,
                        int n)
{
    sfx f;
    sfx_must_open(&f, dir);
    for (int i = 0; i < n; i++) {
        javm_hash img = put_counter_image(f.cache, false, variants[i]);
        javm_hash inst = spawn_instance(f.cache, &img);
        assert_int_equal(javm_name_set(f.cache, names[i], strlen((const char *)names[i]), &inst),
                         JAVM_OK);
    }
    f.ka->vtbl->storage_quota_set(f.ka, 0, QUOTA0);
    f.ka->vtbl->storage_quota_set(f.ka, 1, QUOTA0);
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);
}

/* ---- the child: invoke the named counter until it reaches target --------------------------- */

static void child_die(const char *what, int rc, sfx *f)
{
    fprintf(stderr, "child %d: %s: %s (%s)\n", (int)getpid(), what, javm_strerror(rc),
            f->store ? javm_store_errmsg(f->store) : "");
    _exit(3);
}

/* Never returns. Each committed counter value is written to fd (if >= 0) after the invoke
 * returns, so the parent knows a lower bound of what must have survived a kill. Stops when
 * the counter reaches target, or with `own` after this process's own target-th commit. A
 * CONFLICT (another process moved the name first) is retried with the name read again: the
 * failed invocation's transaction has already refreshed the cache's view of the store. */
static void child_run(const char *dir, const uint8_t *name, uint64_t target, int fd, bool own)
{
    sfx f;
    int rc = sfx_open(&f, dir, NULL);
    if (rc)
        child_die("open", rc, &f);
    size_t nlen = strlen((const char *)name);
    static const uint64_t args[4] = { 0 };
    javm_invoke_opts o = { name, nlen };
    uint64_t done_own = 0;
    for (;;) {
        javm_hash h;
        if ((rc = javm_name_get(f.cache, name, nlen, &h)))
            child_die("name_get", rc, &f);
        javm_call_result r;
        rc = javm_invoke(f.vm, f.cache, f.ka, &h, 0, args, 100000, NULL, &o, &r);
        if (rc == JAVM_ERR_CONFLICT && own)
            continue;
        if (rc)
            child_die("invoke", rc, &f);
        if (r.kind != JAVM_RES_HALT)
            child_die("not HALT", r.fault_reason, &f);
        if (fd >= 0 && write(fd, &r.return_value, 8) != 8)
            child_die("pipe", JAVM_ERR_IO, &f);
        javm_cache_decref(f.cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = r.post_instance });
        if (own ? ++done_own >= target : r.return_value >= target)
            break;
    }
    sfx_close(&f);
    _exit(0);
}

/* ---- the checks ----------------------------------------------------------------------------- */

typedef struct file_list {
    uint64_t *ids;
    javm_hash *h;
    size_t n, cap;
} file_list;

static int list_file(void *arg, uint64_t id, const javm_hash *h)
{
    file_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->ids = realloc(l->ids, l->cap * sizeof *l->ids);
        l->h = realloc(l->h, l->cap * sizeof *l->h);
        assert_non_null(l->ids);
        assert_non_null(l->h);
    }
    l->ids[l->n] = id;
    l->h[l->n] = *h;
    l->n++;
    return 0;
}

/* The counter of a named instance: the u64 at 0x1000 (its overlay), 0 before the first run. */
static uint64_t named_counter(sfx *f, const uint8_t *name, size_t *graph_blobs)
{
    javm_hash h;
    assert_int_equal(javm_name_get(f->cache, name, strlen((const char *)name), &h), JAVM_OK);
    size_t n = 0;
    assert_true(graph_present(f->cache, &h, &n, 0));
    if (graph_blobs)
        *graph_blobs += n;
    const javm_cap *c = javm_cache_get_hash(f->cache, &h);
    assert_non_null(c);
    assert_int_equal(c->kind, JAVM_KIND_INSTANCE);
    if (c->instance.n_overlays == 0)
        return 0;
    assert_int_equal(c->instance.overlays[0].start, 0x1000);
    javm_hash dh = c->instance.overlays[0].data;
    const javm_cap *d = javm_cache_get_hash(f->cache, &dh);
    assert_non_null(d);
    uint8_t b[8];
    assert_int_equal(javm_data_read(d, 0, b, 8), JAVM_OK);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* Files dense 1..next-1, each a present Data of 9 bytes = (counter, variant); returns the
 * number of files per variant in per_variant[1..2] and checks the quotas. */
static void check_files(sfx *f, size_t per_variant[3], uint64_t *max_counter)
{
    file_list l = { 0 };
    assert_int_equal(f->ka->vtbl->file_iter(f->ka, list_file, &l), JAVM_OK);
    uint64_t next = javm_ka_store_next_file_id(f->ka);
    assert_int_equal(l.n, next - 1);
    uint64_t spent = 0;
    per_variant[1] = per_variant[2] = 0;
    bool *seen = calloc(3 * (l.n + 2), sizeof *seen);
    for (size_t i = 0; i < l.n; i++) {
        assert_int_equal(l.ids[i], i + 1); /* dense, increasing, hence unique */
        const javm_cap *d = javm_cache_get_hash(f->cache, &l.h[i]);
        assert_non_null(d);
        assert_int_equal(d->kind, JAVM_KIND_DATA);
        assert_int_equal(d->data.size, 9);
        uint8_t b[9];
        assert_int_equal(javm_data_read(d, 0, b, 9), JAVM_OK);
        uint64_t v = 0;
        for (int k = 7; k >= 0; k--)
            v = v << 8 | b[k];
        uint8_t var = b[8];
        assert_true(var == 1 || var == 2);
        assert_true(v >= 1 && v <= l.n);
        assert_false(seen[var * (l.n + 2) + v]); /* each counter value saved once */
        seen[var * (l.n + 2) + v] = true;
        per_variant[var]++;
        if (max_counter && v > max_counter[var])
            max_counter[var] = v;
        spent += d->data.size;
    }
    free(seen);
    assert_int_equal(f->ka->vtbl->storage_quota_get(f->ka, 0), QUOTA0 - spent);
    assert_int_equal(f->ka->vtbl->storage_quota_get(f->ka, 1), QUOTA0 - spent);
    free(l.ids);
    free(l.h);
}

/* splitmix64: the seeded delays. */
static uint64_t prng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void sleep_us(uint64_t us)
{
    struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Reads every complete 8-byte report; returns the last one (or prev). */
static uint64_t drain(int fd, uint64_t prev)
{
    uint64_t v;
    while (read(fd, &v, 8) == 8)
        prev = v;
    return prev;
}

static void test_crash(void **state)
{
    (void)state;
    char dir[64];
    tmp_make(dir);
    const uint8_t *names[1] = { name_ctr };
    const uint8_t variants[1] = { 1 };
    setup_names(dir, names, variants, 1);

    uint64_t seed = 0x6a61766d2d637273ull, counter = 0, reported = 0, max_delay_us = 20000;
    int kills = 0, rounds = 0;
    size_t graph_blobs = 0;
    while (counter < CRASH_TARGET) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        /* A child that finishes the target before the kill exits on its own. */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            child_run(dir, name_ctr, CRASH_TARGET, pfd[1], false);
        }
        close(pfd[1]);
        fcntl(pfd[0], F_SETFL, O_NONBLOCK);
        uint64_t delay = max_delay_us / 4 + prng(&seed) % (max_delay_us - max_delay_us / 4 + 1);
        sleep_us(delay);
        int status;
        bool killed = false;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == 0) {
            kill(pid, SIGKILL);
            killed = true;
            w = waitpid(pid, &status, 0);
        }
        assert_int_equal(w, pid);
        if (killed && WIFSIGNALED(status))
            kills++;
        else
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        reported = drain(pfd[0], reported);
        close(pfd[0]);
        rounds++;

        /* Reopen and check everything. */
        sfx f;
        sfx_must_open(&f, dir);
        uint64_t now = named_counter(&f, name_ctr, &graph_blobs);
        assert_true(now >= counter);               /* never backwards */
        assert_true(now >= reported);              /* nothing the child saw committed is lost */
        /* At most one commit per round is not yet reported (killed between commit and write). */
        assert_true(now <= (reported > counter ? reported : counter) + 1);
        size_t per[3];
        uint64_t maxc[3] = { 0 };
        check_files(&f, per, maxc);
        assert_int_equal(per[1], now);             /* one file per committed invocation */
        assert_int_equal(maxc[1], now);
        sfx_close(&f);
        /* Keep at least CRASH_MIN_KILLS kills before the target: shorten the delay when a
         * round makes much progress, lengthen it when a child dies before committing. */
        uint64_t step = now - counter;
        if (step > CRASH_TARGET / (2 * CRASH_MIN_KILLS) && max_delay_us > 2000)
            max_delay_us = max_delay_us * 2 / 3;
        else if (step == 0 && max_delay_us < 500000)
            max_delay_us = max_delay_us * 3 / 2;
        counter = now;
    }
    print_message("crash: %d rounds, %d kills, %llu invocations committed, %zu graph blobs "
                  "checked, final delay bound %llu us\n",
                  rounds, kills, (unsigned long long)counter, graph_blobs,
                  (unsigned long long)max_delay_us);
    assert_true(kills >= CRASH_MIN_KILLS);
    assert_int_equal(counter, CRASH_TARGET);

    /* gc after the crashes: keeps every named and filed blob, repairs the counts. */
    sfx f;
    sfx_must_open(&f, dir);
    assert_int_equal(javm_gc(f.vm, f.cache, f.ka, NULL, 0), JAVM_OK);
    sfx_close(&f);
    sfx_must_open(&f, dir);
    assert_int_equal(named_counter(&f, name_ctr, NULL), CRASH_TARGET);
    size_t per[3];
    check_files(&f, per, NULL);
    assert_int_equal(per[1], CRASH_TARGET);
    sfx_close(&f);
    tmp_remove(dir);
}

/* Two processes advance two names on one store at once. */
static void test_two_writers(void **state)
{
    (void)state;
    char dir[64];
    tmp_make(dir);
    static const uint8_t na[] = "a", nb[] = "b";
    const uint8_t *names[2] = { na, nb };
    const uint8_t variants[2] = { 1, 2 };
    setup_names(dir, names, variants, 2);
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            child_run(dir, names[i], CONC_EACH, -1, false);
    }
    for (int i = 0; i < 2; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    sfx f;
    sfx_must_open(&f, dir);
    assert_int_equal(named_counter(&f, na, NULL), CONC_EACH);
    assert_int_equal(named_counter(&f, nb, NULL), CONC_EACH);
    size_t per[3];
    uint64_t maxc[3] = { 0 };
    check_files(&f, per, maxc);
    assert_int_equal(per[1], CONC_EACH);
    assert_int_equal(per[2], CONC_EACH);
    assert_int_equal(javm_ka_store_next_file_id(f.ka), 2 * CONC_EACH + 1);
    /* gc keeps both graphs whole. */
    assert_int_equal(javm_gc(f.vm, f.cache, f.ka, NULL, 0), JAVM_OK);
    sfx_close(&f);
    sfx_must_open(&f, dir);
    assert_int_equal(named_counter(&f, na, NULL), CONC_EACH);
    assert_int_equal(named_counter(&f, nb, NULL), CONC_EACH);
    sfx_close(&f);
    tmp_remove(dir);
}

/* Two processes advance the same name at once, neither dropping its cache between
 * invocations: each commit must see the other's refcounts, names, file ids and quotas through
 * its transaction (the cache re-reads what another writer may have changed when the store's
 * generation moved), a stale name ends in CONFLICT and a retry, and nothing is lost. */
static void test_one_name_two_writers(void **state)
{
    (void)state;
    char dir[64];
    tmp_make(dir);
    static const uint8_t na[] = "a";
    const uint8_t *names[1] = { na };
    const uint8_t variants[1] = { 1 };
    setup_names(dir, names, variants, 1);
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            child_run(dir, na, CONC_EACH / 2, -1, true);
    }
    for (int i = 0; i < 2; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    sfx f;
    sfx_must_open(&f, dir);
    size_t graph = 0;
    assert_int_equal(named_counter(&f, na, &graph), 2 * (CONC_EACH / 2));
    size_t per[3];
    check_files(&f, per, NULL);
    assert_int_equal(per[1], 2 * (CONC_EACH / 2));
    assert_int_equal(javm_ka_store_next_file_id(f.ka), 2 * (CONC_EACH / 2) + 1);
    assert_int_equal(javm_gc(f.vm, f.cache, f.ka, NULL, 0), JAVM_OK);
    sfx_close(&f);
    sfx_must_open(&f, dir);
    assert_int_equal(named_counter(&f, na, NULL), 2 * (CONC_EACH / 2));
    sfx_close(&f);
    tmp_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash),
        cmocka_unit_test(test_two_writers),
        cmocka_unit_test(test_one_name_two_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
