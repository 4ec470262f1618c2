/* SPDX-License-Identifier: MIT
 * tests/test_fuzz_regress.c — replays every stored fuzz finding (STYLE.md, "Tests"): each file
 * of tests/fuzz-regress/<target>/ goes through that libFuzzer target's own check function,
 * compiled in here, so a finding that comes back aborts the normal test run. The targets'
 * static helpers are renamed by macros so that both fit in one program. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLVMFuzzerTestOneInput fuzz_caps_one
#define fail caps_fail
#define grow caps_grow
#define g_in caps_g_in
#define g_len caps_g_len
#define check_holders caps_check_holders
#include "../fuzz/fuzz_caps.c"
#undef LLVMFuzzerTestOneInput
#undef fail
#undef grow
#undef g_in
#undef g_len
#undef check_holders

#define LLVMFuzzerTestOneInput fuzz_dispatch_one
#define fail dispatch_fail
#define grow dispatch_grow
#define g_in dispatch_g_in
#define g_len dispatch_g_len
#define check_holders dispatch_check_holders
#include "../fuzz/fuzz_dispatch.c"
#undef LLVMFuzzerTestOneInput
#undef fail
#undef g_in
#undef g_len

#define LLVMFuzzerTestOneInput fuzz_store_file_one
#define fail store_file_fail
#define g_in store_file_g_in
#define g_len store_file_g_len
#include "../fuzz/fuzz_store_file.c"
#undef LLVMFuzzerTestOneInput
#undef fail
#undef g_in
#undef g_len

#define LLVMFuzzerTestOneInput fuzz_store_records_one
#define fail store_records_fail
#define must store_records_must
#define g_in store_records_g_in
#define g_len store_records_g_len
#define collect store_records_collect
#include "../fuzz/fuzz_store_records.c"
#undef LLVMFuzzerTestOneInput

typedef struct target {
    const char *name;
    int (*one)(const uint8_t *data, size_t size);
} target;

static const target targets[] = {
    { "fuzz_caps", fuzz_caps_one },
    { "fuzz_dispatch", fuzz_dispatch_one },
    { "fuzz_store_file", fuzz_store_file_one },
    { "fuzz_store_records", fuzz_store_records_one },
};

/* The directory of this source file: CMake compiles it by its absolute path. */
static void source_dir(char *out, size_t n)
{
    snprintf(out, n, "%s", __FILE__);
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(out, n, ".");
}

static int replay_file(const target *t, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return 1;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    /* An exact-size copy, as libFuzzer passes it. */
    uint8_t *in = malloc(len ? len : 1);
    if (!in) {
        free(buf);
        return 1;
    }
    if (len)
        memcpy(in, buf, len);
    free(buf);
    printf("replay %s %s (%zu bytes)\n", t->name, path, len);
    t->one(in, len);
    free(in);
    return 0;
}

int main(void)
{
    char dir[4096], sub[4352], path[4608];
    source_dir(dir, sizeof dir);
    int rc = 0, n = 0;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        snprintf(sub, sizeof sub, "%s/fuzz-regress/%s", dir, targets[i].name);
        DIR *d = opendir(sub);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", sub, de->d_name);
            rc |= replay_file(&targets[i], path);
            n++;
        }
        closedir(d);
    }
    printf("%d fuzz findings replayed\n", n);
    if (n == 0) {
        fprintf(stderr, "no findings under %s/fuzz-regress\n", dir);
        return 1;
    }
    return rc;
}
