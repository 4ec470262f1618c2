/* SPDX-License-Identifier: MIT
 * tests/test_cli_corrupt.c — the javm command on a store holding a corrupt record (issue 6,
 * bad input): garbage is written under a blob key and a refcount key through the store
 * interface, then `javm cat`, `javm ls`, `javm invoke` and `javm gc` must exit non-zero with
 * a message naming the key where they touch it, never crash, and leave the store usable.
 * argv[1] is the javm command (CMake passes it). */
#include "store_fixtures.h"

#include <sys/wait.h>

static const char *javm_bin;

/* Runs the command with args, capturing stdout+stderr into out; returns the exit code, or
 * 128 + signal when it was killed by one (a crash). */
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

static void test_corrupt_records(void **state)
{
    (void)state;
    char dir[64], out[8192];
    tmp_make(dir);
    /* a healthy store: the counter guest spawned under a name, via the library */
    javm_store *s;
    javm_cache *c;
    javm_ka *ka;
    assert_int_equal(javm_store_lmdb_open(dir, NULL, &s), JAVM_OK);
    assert_int_equal(javm_cache_open(s, &c), JAVM_OK);
    assert_int_equal(javm_ka_store_new(s, &ka), JAVM_OK);
    tprog p;
    tprog_init(&p);
    TI(&p, 51, 7, 42);
    TI(&p, 10, 0);
    javm_cap *img;
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    assert_int_equal(javm_image_new(p.code, (uint32_t)p.L, p.mask, 1, &img), JAVM_OK);
    assert_int_equal(javm_image_add_endpoint(img, &ep), JAVM_OK);
    javm_hash ih, inst;
    assert_int_equal(javm_cache_put(c, img, &ih), JAVM_OK);
    javm_cap_free(img);
    assert_int_equal(javm_spawn(c, &ih, 4, &inst), JAVM_OK);
    assert_int_equal(javm_name_set(c, (const uint8_t *)"ok", 2, &inst), JAVM_OK);
    assert_int_equal(javm_commit(c, ka), JAVM_OK);
    /* garbage records: a blob whose body does not decode, and one with a foreign kind byte */
    javm_hash bad1, bad2;
    memset(bad1.b, 0xB1, 32);
    memset(bad2.b, 0xB2, 32);
    static const uint8_t junk1[] = { 0x30, 0xFF, 0xFF }; /* a Data body cut short */
    static const uint8_t junk2[] = { 0x99, 1, 2, 3 };    /* no such kind */
    static const uint8_t rc1[] = { 1, 0, 0, 0 };
    assert_int_equal(s->vtbl->begin(s), JAVM_OK);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_BLOBS, bad1.b, 32, junk1, sizeof junk1), JAVM_OK);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_REFCOUNTS, bad1.b, 32, rc1, 4), JAVM_OK);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_BLOBS, bad2.b, 32, junk2, sizeof junk2), JAVM_OK);
    assert_int_equal(s->vtbl->put(s, JAVM_TABLE_REFCOUNTS, bad2.b, 32, rc1, 4), JAVM_OK);
    assert_int_equal(s->vtbl->commit(s), JAVM_OK);
    javm_ka_free(ka);
    javm_cache_close(c);
    javm_store_close(s);

    char hex1[65], hex2[65];
    javm_hash_to_hex(&bad1, hex1);
    javm_hash_to_hex(&bad2, hex2);
    /* cat of each corrupt record: a clear error naming the key, exit 3 */
    int rc = run_cli(out, sizeof out, "cat %s --store %s", hex1, dir);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(out, hex1));
    rc = run_cli(out, sizeof out, "cat %s --store %s", hex2, dir);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(out, hex2));
    /* a Data put as slot 0 input can't be one of them; invoking the healthy name still works */
    rc = run_cli(out, sizeof out, "invoke ok --store %s", dir);
    if (rc != 0)
        fail_msg("invoke on a store with corrupt records: exit %d: %s", rc, out);
    assert_non_null(strstr(out, "return: 42"));
    /* fsck reports each bad record and exits 1, in text and JSON (issue 13 item 13) */
    rc = run_cli(out, sizeof out, "fsck --store %s", dir);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, hex1));
    assert_non_null(strstr(out, hex2));
    rc = run_cli(out, sizeof out, "fsck --json --store %s", dir);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "{\"problem\":"));
    assert_non_null(strstr(out, hex1));
    assert_non_null(strstr(out, "\"problems\":"));
    assert_null(strstr(out, "\"problems\":0"));
    /* ls and gc walk every blob: they must not crash; gc keeps what the name reaches */
    rc = run_cli(out, sizeof out, "ls --store %s", dir);
    assert_int_equal(rc, 3); /* lists what decodes, and names the first bad record */
    assert_non_null(strstr(out, hex1));
    assert_non_null(strstr(out, "ok "));
    rc = run_cli(out, sizeof out, "gc --store %s", dir);
    assert_true(rc == 0 || rc == 3);
    /* the unreachable bad records are gone after gc, and ls is clean again */
    rc = run_cli(out, sizeof out, "ls --store %s", dir);
    if (rc != 0)
        fail_msg("ls after gc: exit %d: %s", rc, out);
    rc = run_cli(out, sizeof out, "invoke ok --store %s", dir);
    if (rc != 0)
        fail_msg("invoke after gc: exit %d: %s", rc, out);
    assert_non_null(strstr(out, "return: 42"));
    rc = run_cli(out, sizeof out, "fsck --json --store %s", dir);
    if (rc != 0)
        fail_msg("fsck after gc: exit %d: %s", rc, out);
    assert_non_null(strstr(out, "\"problems\":0"));
    /* a truncated data.mdb: every command, fsck included, says so and exits 3 (item 11) */
    char file[96];
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    assert_int_equal(truncate(file, 8192), 0);
    const char *cmds[] = { "fsck", "ls", "gc", "files", "invoke ok" };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        rc = run_cli(out, sizeof out, "%s --store %s", cmds[i], dir);
        if (rc != 3 || !strstr(out, "corrupt"))
            fail_msg("%s on a truncated store: exit %d: %s", cmds[i], rc, out);
    }
    tmp_remove(dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        puts("skipped: needs the path of the javm command as its argument");
        return 77;
    }
    javm_bin = argv[1];
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_corrupt_records) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
