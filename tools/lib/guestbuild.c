/* SPDX-License-Identifier: MIT
 * tools/lib/guestbuild.c — building and running C guests for tests and benchmarks (see
 * tools/lib/guestbuild.h). The compiler runs as a child process with the flags of
 * guest/build.sh; everything else happens in-process. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestbuild.h"
#include "rvld.h"

bool gb_have_clang(void)
{
    return system("command -v clang-19 >/dev/null 2>&1 && command -v ld.lld-19 >/dev/null 2>&1") == 0;
}

const char *gb_root(char *root, size_t n)
{
    snprintf(root, n, "%s", __FILE__); /* .../tools/lib/guestbuild.c */
    for (int i = 0; i < 3; i++) {
        char *s = strrchr(root, '/');
        if (s)
            *s = 0;
    }
    return root;
}

static int read_all(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return JAVM_ERR_IO;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        fclose(f);
        return JAVM_ERR_IO;
    }
    fclose(f);
    *out = b;
    *len = (size_t)n;
    return JAVM_OK;
}

int gb_build(const char *const *srcs, size_t n, const char *cflags, uint8_t **jimg, size_t *len,
             uint8_t **elf_out, size_t *elf_len, char *msg, size_t msglen)
{
    char dir[] = "/tmp/javm-guest-XXXXXX";
    char cmd[8192], elfp[64];
    uint8_t *elf = NULL;
    size_t elen = 0;
    int rc = JAVM_ERR_IO;
    asm_unit u;
    asm_unit_init(&u);
    if (!mkdtemp(dir)) {
        snprintf(msg, msglen, "cannot make a temporary directory");
        return JAVM_ERR_IO;
    }
    char rootbuf[1024];
    const char *root = gb_root(rootbuf, sizeof rootbuf);
    char cc[1536];
    snprintf(cc, sizeof cc,
             "clang-19 --target=riscv64-unknown-elf -march=rv64em_zbb -mabi=lp64e -mno-strict-align -mno-relax -fno-pic "
             "-mcmodel=medany -msmall-data-limit=0 -ffreestanding -nostdlib -O2 -ffunction-sections "
             "-fdata-sections -fno-asynchronous-unwind-tables -I%s/guest/include %s",
             root, cflags ? cflags : "");
    int k = snprintf(cmd, sizeof cmd, "cd %s/c", dir);
    for (size_t i = 0; i < n && k > 0 && (size_t)k < sizeof cmd; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " && %s -c %s/%s -o %zu.o", cc, root, srcs[i], i);
    if (k <= 0 || (size_t)k >= sizeof cmd - 200) {
        snprintf(msg, msglen, "command too long");
        goto done;
    }
    snprintf(cmd + k, sizeof cmd - (size_t)k,
             " && ld.lld-19 -static --emit-relocs -T %s/guest/javm.ld *.o -o ../guest.elf", root);
    char mk[128];
    snprintf(mk, sizeof mk, "mkdir -p %s/c", dir);
    if (system(mk) != 0 || system(cmd) != 0) {
        snprintf(msg, msglen, "compiling the guest failed: %s", cmd);
        goto done;
    }
    snprintf(elfp, sizeof elfp, "%s/guest.elf", dir);
    if ((rc = read_all(elfp, &elf, &elen))) {
        snprintf(msg, msglen, "cannot read %s", elfp);
        goto done;
    }
    if ((rc = rvld_link(elf, elen, NULL, &u, msg, msglen)))
        goto done;
    asm_err err;
    if ((rc = asm_write_jimg(&u, jimg, len, &err))) {
        snprintf(msg, msglen, "%s", err.msg);
        goto done;
    }
    if (elf_out) {
        *elf_out = elf;
        *elf_len = elen;
        elf = NULL;
    }
done:
    asm_unit_free(&u);
    free(elf);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : JAVM_ERR_IO;
    return rc;
}

int gb_open(gb_guest *g, const uint8_t *jimg, size_t len)
{
    memset(g, 0, sizeof *g);
    javm_decode_err de;
    int rc;
    if ((rc = javm_store_mem_new(&g->store)) || (rc = javm_cache_open(g->store, &g->cache))
        || (rc = javm_ka_mem_new(&g->ka)) || (rc = javm_vm_new(&g->vm, 0))
        || (rc = javm_image_load(g->cache, jimg, len, &g->image, &de))
        || (rc = javm_spawn(g->cache, &g->image, 8, &g->inst)))
        return rc;
    g->ka->vtbl->storage_quota_set(g->ka, 0, UINT64_C(1) << 40);
    return JAVM_OK;
}

int gb_invoke(gb_guest *g, uint32_t ep, uint64_t a0, uint64_t a1, const javm_hash *slot0, uint64_t gas,
              javm_call_result *r)
{
    uint64_t args[4] = { a0, a1, 0, 0 };
    int rc = javm_invoke(g->vm, g->cache, g->ka, &g->inst, ep, args, gas, slot0, NULL, r);
    if (rc == JAVM_OK && r->kind == JAVM_RES_HALT) {
        javm_key old = javm_key_of_hash(&g->inst);
        javm_cache_decref(g->cache, &old);
        g->inst = r->post_instance;
    }
    return rc;
}

int gb_put_data(gb_guest *g, const void *b, size_t n, javm_hash *out)
{
    javm_cap *c = NULL;
    int rc = javm_data_new(b, n, &c);
    if (!rc)
        rc = javm_cache_put(g->cache, c, out);
    javm_cap_free(c);
    return rc;
}

void gb_close(gb_guest *g)
{
    javm_vm_free(g->vm);
    javm_ka_free(g->ka);
    javm_cache_close(g->cache);
    javm_store_close(g->store);
    memset(g, 0, sizeof *g);
}
