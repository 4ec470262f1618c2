/* SPDX-License-Identifier: MIT
 * tests/test_ld_regress.c — replays every stored fuzz_ld finding (tests/fuzz-regress/fuzz_ld/)
 * through the linker exactly as fuzz/fuzz_ld.c does: it must fail cleanly or produce an image
 * the image writer accepts, never read out of bounds (this runs under ASan in `make test`),
 * and never ask for one allocation above 256 MiB (libFuzzer's malloc limit is 2 GiB; bss-2gib
 * made `build_data` calloc 2 GiB for a .bss). The allocator is wrapped at link time. */
#include <dirent.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "asm.h"
#include "rvld.h"

/* The largest single request refused so far (0: none). Test-only state. */
static size_t big_request;
#define ALLOC_LIMIT ((size_t)256 << 20)

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static bool too_big(size_t n)
{
    if (n <= ALLOC_LIMIT)
        return false;
    if (n > big_request)
        big_request = n;
    return true;
}
void *__wrap_malloc(size_t n) { return too_big(n) ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m)
{
    return m && (n > SIZE_MAX / m || too_big(n * m)) ? NULL : __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n) { return too_big(n) ? NULL : __real_realloc(p, n); }

static void replay(const uint8_t *data, size_t size)
{
    asm_unit u;
    char msg[512];
    asm_unit_init(&u);
    if (rvld_link(data, size, NULL, &u, msg, sizeof msg) == JAVM_OK) {
        uint8_t *img = NULL;
        size_t n;
        asm_err err;
        if (asm_write_jimg(&u, &img, &n, &err) == JAVM_OK)
            javm_free(img);
    }
    asm_unit_free(&u);
}

static void test_replay_findings(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    assert_non_null(slash);
    snprintf(slash, sizeof dir - (size_t)(slash - dir), "/fuzz-regress/fuzz_ld");
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t buf[65536];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        /* an exact-size copy, so ASan sees any read past the input */
        uint8_t *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, buf, len);
        printf("replay fuzz_ld %s (%zu bytes)\n", e->d_name, len);
        big_request = 0;
        replay(copy, len);
        free(copy);
        if (big_request)
            fail_msg("%s asked for %zu bytes at once", e->d_name, big_request);
        n++;
    }
    closedir(d);
    assert_true(n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_replay_findings) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
