/* SPDX-License-Identifier: MIT
 * tests/test_cli_store_file.c — a damaged data.mdb (issue 17): corrupted copies of a real store,
 * one kind of damage each. What the open checks cover (a truncated or empty file, a bad meta
 * page, both bad, a bad transaction id, a missing table, table flags, a root page past the end)
 * is refused by javm_store_lmdb_open with JAVM_ERR_STORE_CORRUPT and by the javm command with
 * exit 3, the file never re-initialised; damage deeper in a tree (a garbage page, swapped
 * pages, a bad overflow run) passes the open checks and is named by the page walk
 * (javm_store_lmdb_verify, every javm command, `javm fsck`); and `javm fsck --no-page-walk`
 * lets LMDB meet the damage in its child process: the child dies, fsck reports it and names
 * the page. argv[1] is the javm command (CMake passes it). */
#include "store_fixtures.h"
#include "store/lmdb_file.h"

#include <fcntl.h>
#include <sys/wait.h>

static const char *javm_bin;
static char master[64];

/* ---- the healthy store ------------------------------------------------------------------ */

/* A named counter instance, 150 Data of 3000 bytes (values on overflow pages) and 400 small
 * ones (a blobs tree two levels deep), committed in several transactions (a free list). */
static int build_master(void **state)
{
    (void)state;
    tmp_make(master);
    sfx f;
    sfx_must_open(&f, master);
    javm_hash img = put_counter_image(f.cache, false, 1);
    javm_hash inst = spawn_instance(f.cache, &img);
    assert_int_equal(javm_name_set(f.cache, (const uint8_t *)"app", 3, &inst), JAVM_OK);
    f.ka->vtbl->storage_quota_set(f.ka, 0, 1 << 20); /* the guest mints and saves a Data */
    f.ka->vtbl->storage_quota_set(f.ka, 1, 1 << 20);
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    uint8_t b[3000];
    for (int i = 0; i < 550; i++) {
        size_t n = i < 150 ? sizeof b : 40;
        for (size_t j = 0; j < n; j++)
            b[j] = (uint8_t)(i * 7 + j + 1);
        javm_cap *d;
        assert_int_equal(javm_data_new(b, n, &d), JAVM_OK);
        javm_hash h;
        assert_int_equal(javm_cache_put_owned(f.cache, d, &h), JAVM_OK);
        if (i % 100 == 99)
            assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    }
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);
    char msg[256];
    assert_int_equal(javm_store_lmdb_verify(master, true, msg, sizeof msg), JAVM_OK);
    return 0;
}

static int drop_master(void **state)
{
    (void)state;
    tmp_remove(master);
    return 0;
}

/* ---- the file ----------------------------------------------------------------------------- */

typedef struct file {
    char dir[64];
    uint8_t *b;
    size_t len;
    uint32_t ps;
    int newer; /* index of the newer meta page */
} file;

static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t g64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static void p16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void p64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

/* A copy of the master's data.mdb, in memory, for a new store directory. */
static void load(file *f)
{
    char path[96];
    snprintf(path, sizeof path, "%s/data.mdb", master);
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    f->len = (size_t)ftell(in);
    fseek(in, 0, SEEK_SET);
    f->b = malloc(f->len);
    assert_non_null(f->b);
    assert_int_equal(fread(f->b, 1, f->len, in), f->len);
    fclose(in);
    f->ps = (uint32_t)g64(f->b + 40) & 0xffffffffu;
    f->newer = g64(f->b + f->ps + 144) > g64(f->b + 144);
    tmp_make(f->dir);
}

static void save(const file *f, size_t len)
{
    char path[96];
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(f->b, 1, len, out), len);
    fclose(out);
}

static void done(file *f)
{
    tmp_remove(f->dir);
    free(f->b);
}

static uint8_t *meta(file *f, int i) { return f->b + (size_t)i * f->ps; }
static uint8_t *page(file *f, uint64_t pg) { return f->b + pg * f->ps; }
static uint64_t last_pg(file *f) { return g64(meta(f, f->newer) + 136); }

/* The 48-byte record of a named table, in the main tree's root (a leaf here). */
static uint8_t *table_rec(file *f, const char *name)
{
    uint8_t *mp = page(f, g64(meta(f, f->newer) + 88 + 40));
    assert_int_equal(g16(mp + 10), 2); /* a leaf */
    unsigned n = (g16(mp + 12) - 16u) / 2;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *nd = mp + g16(mp + 16 + 2 * i);
        uint16_t ks = g16(nd + 6);
        if (ks == strlen(name) && memcmp(nd + 8, name, ks) == 0)
            return nd + 8 + ks;
    }
    fail_msg("no table %s", name);
    return NULL;
}

/* The first leaf page of the blobs table (its tree is two levels deep) */
static uint64_t blobs_leaf(file *f)
{
    uint8_t *rec = table_rec(f, "blobs");
    assert_true(g16(rec + 6) >= 2); /* depth */
    uint64_t pg = g64(rec + 40);
    while (g16(page(f, pg) + 10) == 1) { /* branch: follow its first child */
        uint8_t *bp = page(f, pg);
        uint8_t *nd = bp + g16(bp + 16);
        pg = g16(nd) | (uint64_t)g16(nd + 2) << 16 | (uint64_t)g16(nd + 4) << 32;
    }
    return pg;
}

/* A blobs leaf holding a value on overflow pages: its page, and the node's offset */
static uint64_t bigdata_node(file *f, uint16_t *off)
{
    uint8_t *rec = table_rec(f, "blobs");
    uint8_t *root = page(f, g64(rec + 40));
    unsigned nb = (g16(root + 12) - 16u) / 2;
    for (unsigned c = 0; c < nb; c++) {
        uint8_t *bn = root + g16(root + 16 + 2 * c);
        uint64_t pg = g16(bn) | (uint64_t)g16(bn + 2) << 16 | (uint64_t)g16(bn + 4) << 32;
        uint8_t *lp = page(f, pg);
        unsigned n = (g16(lp + 12) - 16u) / 2;
        for (unsigned i = 0; i < n; i++) {
            uint8_t *nd = lp + g16(lp + 16 + 2 * i);
            if (g16(nd + 4) & 1) {
                *off = g16(lp + 16 + 2 * i);
                return pg;
            }
        }
    }
    fail_msg("no value on overflow pages");
    return 0;
}

/* ---- expectations ----------------------------------------------------------------------- */

/* Runs the javm command with args, capturing stdout+stderr into out; the exit code, or 128 +
 * the signal that killed it. */
static int run_cli(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[1024], args[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", javm_bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    if (getenv("JAVM_TEST_VERBOSE"))
        printf("$ javm %s\n%s", args, out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static off_t file_size(const file *f)
{
    char path[96];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* The open checks refuse it: library (read-write and read-only) and command, reason `why`. */
static void expect_refused(file *f, size_t len, const char *why)
{
    save(f, len);
    javm_store *s = NULL;
    assert_int_equal(javm_store_lmdb_open(f->dir, NULL, &s), JAVM_ERR_STORE_CORRUPT);
    assert_null(s);
    javm_lmdb_opts ro = { 0, false, true };
    assert_int_equal(javm_store_lmdb_open(f->dir, &ro, &s), JAVM_ERR_STORE_CORRUPT);
    char msg[256], out[4096];
    assert_int_equal(javm_store_lmdb_verify(f->dir, false, msg, sizeof msg), JAVM_ERR_STORE_CORRUPT);
    if (!strstr(msg, why))
        fail_msg("open check: '%s', expected '%s'", msg, why);
    const char *cmds[] = { "ls", "cat app", "invoke app", "gc", "fsck" };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        int rc = run_cli(out, sizeof out, "%s --store %s", cmds[i], f->dir);
        if (rc != 3 || !strstr(out, why))
            fail_msg("javm %s: exit %d (want 3, '%s'): %s", cmds[i], rc, why, out);
    }
    assert_int_equal(file_size(f), (off_t)len); /* never re-initialised */
}

/* The open checks pass; the page walk names the damage: every command exits 3 with it, fsck
 * reports it as a problem (exit 1). */
static void expect_page(file *f, const char *why)
{
    save(f, f->len);
    javm_store *s = NULL;
    assert_int_equal(javm_store_lmdb_open(f->dir, NULL, &s), JAVM_OK);
    javm_store_close(s);
    char msg[256], out[4096];
    assert_int_equal(javm_store_lmdb_verify(f->dir, true, msg, sizeof msg), JAVM_ERR_STORE_CORRUPT);
    if (!strstr(msg, why))
        fail_msg("page walk: '%s', expected '%s'", msg, why);
    const char *cmds[] = { "ls", "cat app", "invoke app", "gc", "backup %s/bk" };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char c[128];
        snprintf(c, sizeof c, cmds[i], f->dir);
        int rc = run_cli(out, sizeof out, "%s --store %s", c, f->dir);
        if (rc != 3 || !strstr(out, why))
            fail_msg("javm %s: exit %d (want 3, '%s'): %s", c, rc, why, out);
    }
    int rc = run_cli(out, sizeof out, "fsck --store %s", f->dir);
    if (rc != 1 || !strstr(out, "page-corrupt") || !strstr(out, why))
        fail_msg("javm fsck: exit %d (want 1, page-corrupt '%s'): %s", rc, why, out);
}

/* ---- the open checks ---------------------------------------------------------------------- */

static void test_truncated(void **state)
{
    (void)state;
    file f;
    load(&f);
    expect_refused(&f, f.len / 2, "truncated");
    expect_refused(&f, f.ps + 100, "truncated");
    expect_refused(&f, 100, "truncated");
    expect_refused(&f, 0, "empty");
    done(&f);
}

/* A file shorter than the size the caller saw (truncated by another process between fstat
 * and the reads): a clean corrupt-store status while the page size is still unknown (it
 * divided by a page size of 0). */
static void test_shrunk_under_the_reader(void **state)
{
    (void)state;
    char path[] = "/tmp/javm-shrunk-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    uint8_t z[10] = { 0 };
    assert_int_equal(write(fd, z, sizeof z), (ssize_t)sizeof z);
    static const char *const names[] = { "blobs" };
    lmdbf_info info;
    char msg[256] = "";
    assert_int_equal(lmdbf_check(fd, 8192, names, 1, &info, msg, sizeof msg),
                     JAVM_ERR_STORE_CORRUPT);
    assert_non_null(strstr(msg, "meta page"));
    close(fd);
}

static void test_meta_pages(void **state)
{
    (void)state;
    file f;
    /* the newer meta page's magic */
    load(&f);
    meta(&f, f.newer)[16] ^= 0x40;
    expect_refused(&f, f.len, "bad magic");
    done(&f);
    /* the older one's (LMDB would not read it, but a meta page is a meta page) */
    load(&f);
    meta(&f, !f.newer)[17] ^= 0x01;
    expect_refused(&f, f.len, "bad magic");
    done(&f);
    /* both: zeroes, as a torn or wiped start of the file */
    load(&f);
    memset(f.b, 0, 2 * f.ps);
    expect_refused(&f, f.len, "bad magic");
    done(&f);
    /* a version */
    load(&f);
    meta(&f, f.newer)[20] = 7;
    expect_refused(&f, f.len, "version 7");
    done(&f);
    /* the page size */
    load(&f);
    p16(meta(&f, 0) + 40, 3000);
    expect_refused(&f, f.len, "page size");
    done(&f);
    /* a transaction id of the wrong parity for its page, and two pages with one id */
    load(&f);
    p64(meta(&f, f.newer) + 144, g64(meta(&f, f.newer) + 144) + 1);
    expect_refused(&f, f.len, "transaction id");
    done(&f);
    load(&f);
    p64(meta(&f, !f.newer) + 144, g64(meta(&f, f.newer) + 144));
    expect_refused(&f, f.len, "transaction id");
    done(&f);
    /* the last page used, past the end of the file */
    load(&f);
    p64(meta(&f, f.newer) + 136, last_pg(&f) + 3);
    expect_refused(&f, f.len, "truncated");
    done(&f);
    /* root pages past the last page: the main tree's, the free list's (the older page's) */
    load(&f);
    p64(meta(&f, f.newer) + 128, last_pg(&f) + 1);
    expect_refused(&f, f.len, "main tree record: root page beyond");
    done(&f);
    load(&f);
    p64(meta(&f, !f.newer) + 80, 0xFFFF);
    expect_refused(&f, f.len, "free list record: root page beyond");
    done(&f);
}

static void test_tables(void **state)
{
    (void)state;
    file f;
    /* a table gone from the main tree: its name changed ("quotas" -> "quotaz" keeps the order) */
    load(&f);
    uint8_t *rec = table_rec(&f, "quotas");
    rec[-1] = 'z';
    expect_refused(&f, f.len, "table quotas is missing");
    done(&f);
    /* a table's flags (MDB_DUPSORT) */
    load(&f);
    p16(table_rec(&f, "names") + 4, 0x04);
    expect_refused(&f, f.len, "table names has flags");
    done(&f);
    /* a table's root page past the end of the file */
    load(&f);
    p64(table_rec(&f, "blobs") + 40, last_pg(&f) + 10);
    expect_refused(&f, f.len, "table blobs: root page beyond");
    done(&f);
    /* a table's root page of the wrong type (a leaf where the branch belongs) */
    load(&f);
    uint64_t root = g64(table_rec(&f, "blobs") + 40);
    p16(page(&f, root) + 10, 2);
    char why[64];
    snprintf(why, sizeof why, "page %llu of table blobs is corrupt", (unsigned long long)root);
    expect_refused(&f, f.len, why);
    done(&f);
}

/* ---- the page walk ------------------------------------------------------------------------ */

static void test_pages(void **state)
{
    (void)state;
    file f;
    char why[64];
    /* a garbage leaf page */
    load(&f);
    uint64_t pg = blobs_leaf(&f);
    for (uint32_t i = 0; i < f.ps; i++)
        page(&f, pg)[i] = (uint8_t)(i * 131 + 17);
    snprintf(why, sizeof why, "page %llu of table blobs is corrupt", (unsigned long long)pg);
    expect_page(&f, why);
    done(&f);
    /* a node offset past the page's end */
    load(&f);
    pg = blobs_leaf(&f);
    p16(page(&f, pg) + 18, 0xFFF0);
    snprintf(why, sizeof why, "page %llu of table blobs is corrupt", (unsigned long long)pg);
    expect_page(&f, why);
    done(&f);
    /* two leaf pages of the blobs table swapped */
    load(&f);
    uint8_t *root = page(&f, g64(table_rec(&f, "blobs") + 40));
    uint8_t *n0 = root + g16(root + 16), *n1 = root + g16(root + 18);
    pg = g16(n0) | (uint64_t)g16(n0 + 2) << 16;
    uint64_t other = g16(n1) | (uint64_t)g16(n1 + 2) << 16;
    uint8_t *tmp = malloc(f.ps);
    memcpy(tmp, page(&f, pg), f.ps);
    memcpy(page(&f, pg), page(&f, other), f.ps);
    memcpy(page(&f, other), tmp, f.ps);
    free(tmp);
    expect_page(&f, "is corrupt");
    done(&f);
    /* a value on overflow pages said to be 2 GB long */
    load(&f);
    uint16_t off = 0;
    pg = bigdata_node(&f, &off);
    p16(page(&f, pg) + off + 2, 0x7fff);
    uint64_t ov = g64(page(&f, pg) + off + 8 + g16(page(&f, pg) + off + 6));
    snprintf(why, sizeof why, "page %llu of table blobs is corrupt", (unsigned long long)ov);
    expect_page(&f, why);
    done(&f);
}

/* fsck's child meets the damage inside LMDB (the walk skipped): it dies, the parent reports it
 * and its own walk names the page. */
static void test_fsck_contains_a_crash(void **state)
{
    (void)state;
    file f;
    load(&f);
    /* the second leaf of the blobs table marked a branch page: a scan moving onto it stops at
     * LMDB's assertion that it is a leaf (SIGABRT) */
    uint8_t *root = page(&f, g64(table_rec(&f, "blobs") + 40));
    uint8_t *n1 = root + g16(root + 18);
    uint64_t pg = g16(n1) | (uint64_t)g16(n1 + 2) << 16;
    p16(page(&f, pg) + 10, 1);
    save(&f, f.len);
    char out[8192], why[64];
    snprintf(why, sizeof why, "page %llu of table blobs is corrupt", (unsigned long long)pg);
    int rc = run_cli(out, sizeof out, "fsck --no-page-walk --store %s", f.dir);
    if (rc != 1 || !strstr(out, "lmdb-crash") || !strstr(out, "died by") || !strstr(out, why))
        fail_msg("fsck --no-page-walk: exit %d (want 1, lmdb-crash, '%s'): %s", rc, why, out);
    /* and with the walk, nothing dies: the page is reported */
    rc = run_cli(out, sizeof out, "fsck --store %s", f.dir);
    if (rc != 1 || strstr(out, "lmdb-crash") || !strstr(out, why))
        fail_msg("fsck: exit %d: %s", rc, out);
    done(&f);
}

/* The healthy copy passes everything (the tests above damage something real). */
static void test_healthy(void **state)
{
    (void)state;
    file f;
    load(&f);
    save(&f, f.len);
    char out[8192];
    int rc = run_cli(out, sizeof out, "fsck --store %s", f.dir);
    if (rc != 0)
        fail_msg("fsck of the healthy copy: exit %d: %s", rc, out);
    rc = run_cli(out, sizeof out, "invoke app --store %s", f.dir);
    if (rc != 0)
        fail_msg("invoke on the healthy copy: exit %d: %s", rc, out);
    done(&f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        puts("skipped: needs the path of the javm command as its argument");
        return 77;
    }
    javm_bin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_shrunk_under_the_reader),
        cmocka_unit_test(test_meta_pages),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_fsck_contains_a_crash),
    };
    return cmocka_run_group_tests(tests, build_master, drop_master);
}
