/* SPDX-License-Identifier: MIT
 * fuzz/gen_corpus_caps.c — writes seed inputs for fuzz_caps and fuzz_dispatch from caps built
 * with the library itself: `gen_corpus_caps CAPS_DIR DISPATCH_DIR`. fuzz_caps gets every kind's
 * body (form 0), its JCAP export (form 1) and the JIMG files of Images with pinned and initial
 * caps (form 2); fuzz_dispatch gets one input per op with register bytes that name the
 * fixture's slots (fuzz/fuzz_dispatch.c), and a few op sequences. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "javm.h"

static int write_file(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(b, 1, n, f) != n)) {
        fprintf(stderr, "gen_corpus_caps: cannot write %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

/* Writes form byte ‖ prefix ‖ bytes. */
static int write_form(const char *dir, const char *name, uint8_t form, const uint8_t *prefix,
                      size_t np, const uint8_t *b, size_t n)
{
    uint8_t *buf = malloc(1 + np + n);
    if (!buf)
        return 1;
    buf[0] = form;
    if (np)
        memcpy(buf + 1, prefix, np);
    if (n)
        memcpy(buf + 1 + np, b, n);
    int rc = write_file(dir, name, buf, 1 + np + n);
    free(buf);
    return rc;
}

/* The body (form 0) and JCAP (form 1) seeds of one cap. */
static int seed_cap(const char *dir, const char *name, const javm_cap *c)
{
    uint8_t *body = NULL, *file = NULL;
    size_t n = 0, nf = 0;
    char fname[256];
    uint8_t kind = (uint8_t)c->kind;
    int rc = javm_cap_encode(c, &body, &n) || javm_cap_export(c, &file, &nf);
    if (!rc) {
        snprintf(fname, sizeof fname, "body_%s", name);
        rc = write_form(dir, fname, 0, &kind, 1, body, n);
    }
    if (!rc) {
        snprintf(fname, sizeof fname, "jcap_%s", name);
        rc = write_form(dir, fname, 1, NULL, 0, file, nf);
    }
    javm_free(body);
    javm_free(file);
    return rc;
}

static int put(javm_cache *cache, const javm_cap *c, javm_hash *h)
{
    return javm_cache_put(cache, c, h);
}

/* A failing step names its line and status. */
#define STEP(call) do { int s_ = (call); if (s_) { \
    fprintf(stderr, "gen_corpus_caps: line %d: %s\n", __LINE__, javm_strerror(s_)); return 1; } \
    } while (0)

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gen_corpus_caps CAPS_DIR DISPATCH_DIR\n");
        return 2;
    }
    const char *cd = argv[1], *dd = argv[2];
    javm_store *store = NULL;
    javm_cache *cache = NULL;
    STEP(javm_store_mem_new(&store));
    STEP(javm_cache_open(store, &cache));
    int rc = 0;

    /* Data: inline, empty, paged with Loaded, Empty and Missing pages. */
    uint8_t big[3 * 4096 + 100], page[4096];
    memset(big, 0, sizeof big);
    for (size_t i = 0; i < 4096; i++)
        big[i] = (uint8_t)(i | 1);
    big[sizeof big - 1] = 9; /* page 1 and 2 zero: Empty */
    memset(page, 0x33, sizeof page);
    javm_cap *d_small = NULL, *d_empty = NULL, *d_big = NULL, *d_missing = NULL, *type = NULL;
    javm_cap *cn = NULL, *img = NULL, *img2 = NULL, *inst = NULL;
    javm_hash h_small, h_big, h_type, h_cn, h_img, h_img2, h_missing;
    javm_hash chain, missing;
    javm_blake2b("seed", 4, &chain);
    javm_blake2b("absent page", 11, &missing);
    STEP(javm_data_new((const uint8_t *)"seed data", 9, &d_small));
    STEP(javm_data_new(NULL, 0, &d_empty));
    STEP(javm_data_new(big, sizeof big, &d_big));
    STEP(javm_data_new_paged(4097, &d_missing));
    STEP(javm_data_page_missing(d_missing, 0, &missing));
    STEP(javm_data_page_load(d_missing, 1, (const uint8_t[4096]){ 7 }));
    STEP(javm_type_new(&chain, &type));
    STEP(javm_cnode_new(4, &cn));
    STEP(put(cache, d_small, &h_small));
    STEP(put(cache, d_big, &h_big));
    STEP(put(cache, type, &h_type));
    STEP(put(cache, d_missing, &h_missing));
    javm_key k = javm_key_of_hash(&h_small);
    STEP(javm_cnode_set_slot(cn, 0, &k));
    k = javm_key_of_hash(&h_type);
    STEP(javm_cnode_set_slot(cn, 15, &k));
    STEP(put(cache, cn, &h_cn));

    /* Images: one with everything (endpoints, mappings with paths, jump table, pinned,
     * initial, yield marker slot), one minimal. */
    static const uint8_t code[] = { 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01 };
    static const uint8_t mask[] = { 0x03, 0x02 };
    static const uint32_t jt[] = { 0, 1 };
    javm_endpoint ep = { .entry_pc = 1, .stack_top = 0x10000, .arg_cnode_slot = 3,
                         .arg_cnode_size = 2, .initial_regs = { 1, 2, 3 } };
    javm_mapping m1 = { .start = 0, .size = 8192, .flags = 1, .path_len = 1, .path = { 2 } };
    javm_mapping m2 = { .start = 65536, .size = 100, .flags = 0, .path_len = 2, .path = { 3, 0 } };
    STEP(javm_image_new(code, sizeof code, mask, sizeof mask, &img));
    STEP(javm_image_set_jump_table(img, jt, 2));
    STEP(javm_image_add_endpoint(img, &ep));
    STEP(javm_image_add_mapping(img, &m1));
    STEP(javm_image_add_mapping(img, &m2));
    STEP(javm_image_add_pinned(img, 1, &h_type));
    STEP(javm_image_add_initial(img, 2, &h_small));
    STEP(javm_image_add_initial(img, 3, &h_cn));
    STEP(javm_image_add_initial(img, 4, &h_big));
    img->image.has_yield_marker = true;
    img->image.yield_marker_slot = 5;
    STEP(put(cache, img, &h_img));
    STEP(javm_image_new(code, 1, (const uint8_t[1]){ 1 }, 1, &img2));
    STEP(put(cache, img2, &h_img2));

    javm_hash root;
    STEP(javm_spawn(cache, &h_img, 6, &root));
    const javm_cap *ic = javm_cache_get_hash(cache, &root);
    STEP(ic ? javm_cap_clone(ic, &inst) : JAVM_ERR_NOT_FOUND);
    inst->instance.regs[7] = 77;
    inst->instance.pc = 5;
    inst->instance.gas_remaining = 1000;
    struct {
        const char *name;
        const javm_cap *c;
    } caps[] = {
        { "data_small", d_small }, { "data_empty", d_empty }, { "data_paged", d_big },
        { "data_missing", d_missing }, { "type", type }, { "cnode", cn }, { "image", img },
        { "image_min", img2 }, { "instance", inst },
    };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0] && !rc; i++)
        rc = seed_cap(cd, caps[i].name, caps[i].c);

    /* JIMG files (form 2). */
    const javm_hash *imgs[] = { &h_img, &h_img2 };
    for (int i = 0; i < 2 && !rc; i++) {
        uint8_t *file = NULL;
        size_t n = 0;
        char fname[64];
        snprintf(fname, sizeof fname, "jimg_%d", i);
        rc = javm_image_save(cache, imgs[i], &file, &n) || write_form(cd, fname, 2, NULL, 0, file, n);
        javm_free(file);
    }

    /* fuzz_dispatch: flags 0, then op byte (ecall byte for odd ops), φ7..φ10 bytes. Register
     * bytes below 0x80 are taken as is; 0x80 | p is page p << 10 (fuzz_dispatch.c, rd_reg). */
    static const struct {
        const char *name;
        uint8_t rec[24];
        size_t n;
    } ops[] = {
        { "halt", { 0, 0, 0, 0, 0, 0 }, 6 },
        { "copy", { 0, 1, 0, 3, 11, 0, 0 }, 7 },
        { "move", { 0, 2, 4, 12, 0, 0 }, 6 },
        { "drop", { 0, 3, 0, 6, 0, 0, 0 }, 7 },
        { "swap", { 0, 4, 1, 14, 0, 0 }, 6 },
        { "mint", { 0, 5, 0, 11, 3, 0, 0 }, 7 },
        { "yield", { 0, 16, 7, 0, 0, 0 }, 6 },
        { "set_image", { 0, 17, 0, 2, 0, 0, 0 }, 7 },
        { "set_image_bad", { 0, 17, 0, 8, 0, 0, 0 }, 7 },
        { "derive_spawn", { 0, 18, 2, 4, 11, 0 }, 6 },
        { "same_type", { 0, 20, 5, 5, 0, 0 }, 6 },
        { "type_of", { 0, 21, 0, 1, 11, 0, 0 }, 7 },
        { "read_data", { 0, 22, 3, 0x84, 100, 0 }, 6 },
        { "read_missing", { 0, 22, 10, 0x80, 0x7F, 0 }, 6 },
        { "mint_data", { 0, 23, 0, 0x80, 16, 0, 11 }, 7 },
        { "open", { 0, 24, 1, 11, 0, 0 }, 6 },
        { "save", { 0, 25, 0, 3, 0, 0, 0 }, 7 },
        { "call", { 0, 26, 1, 0, 0, 0 }, 6 },
        { "host_ok", { 0, 200, 0, 5, 0x41, 0x81 }, 6 },
        { "host_trap", { 0, 201, 0, 0, 0, 0 }, 6 },
        { "host_oog", { 0, 202, 0, 0, 0, 0 }, 6 },
        { "unregistered", { 0, 203, 0, 0, 0, 0 }, 6 },
        { "seq_copy_save_open", { 0, 1, 0, 3, 11, 0, 0, 25, 0, 11, 0, 0, 0, 24, 1, 12, 0, 0 }, 18 },
        { "seq_call_call", { 2, 26, 1, 0, 0, 0, 26, 1, 0, 0, 0 }, 11 },
        { "seq_low_gas", { 1, 25, 0, 17, 0, 2, 0, 0, 0, 26, 1, 0, 0, 0 }, 14 },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0] && !rc; i++)
        rc = write_file(dd, ops[i].name, ops[i].rec, ops[i].n);

    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        javm_cap_free((javm_cap *)caps[i].c);
    javm_cache_close(cache);
    javm_store_close(store);
    if (!rc)
        printf("gen_corpus_caps: seeds written to %s and %s\n", cd, dd);
    return rc;
}
