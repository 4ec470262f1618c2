/* SPDX-License-Identifier: MIT
 * tests/store_fixtures.h — shared helpers for the store tests: temporary store directories,
 * an open store + cache + persistent kernel assist bundle, the counter guest used by the
 * journal, crash and concurrency tests, and a check that a named Instance's whole graph is
 * present. Header-only (static inline) so each test stays one file. */
#ifndef JAVM_TESTS_STORE_FIXTURES_H
#define JAVM_TESTS_STORE_FIXTURES_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, mkdtemp */
#endif
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "javm.h"
#include "support/test_store.h"
#include "support/tprog.h"

/* ---- temporary directories ------------------------------------------------------------- */

static inline void tmp_make(char path[64])
{
    strcpy(path, "/tmp/javm-store-XXXXXX");
    assert_non_null(mkdtemp(path));
}

static inline int tmp_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void tmp_remove(const char *path)
{
    nftw(path, tmp_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- store + cache + kernel assist ------------------------------------------------------ */

typedef struct sfx {
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
    javm_vm *vm;
} sfx;

/* Opens the store at dir: with o, the LMDB store there; without, the test's store
 * (tests/support/test_store.h: dir is a location from tstore_make). */
static inline int sfx_open(sfx *f, const char *dir, const javm_lmdb_opts *o)
{
    memset(f, 0, sizeof *f);
    int rc = o ? javm_store_lmdb_open(dir, o, &f->store) : tstore_open(dir, false, &f->store);
    if (rc == JAVM_OK)
        rc = javm_cache_open(f->store, &f->cache);
    if (rc == JAVM_OK)
        rc = javm_ka_store_new(f->store, &f->ka);
    if (rc == JAVM_OK)
        rc = javm_vm_new(&f->vm, 0);
    return rc;
}

static inline void sfx_close(sfx *f)
{
    if (f->vm)
        javm_vm_free(f->vm);
    javm_ka_free(f->ka);
    javm_cache_close(f->cache);
    javm_store_close(f->store);
    memset(f, 0, sizeof *f);
}

static inline void sfx_must_open(sfx *f, const char *dir)
{
    int rc = sfx_open(f, dir, NULL);
    if (rc)
        fail_msg("open %s: %s", dir, javm_strerror(rc));
}

/* ---- the counter guest ------------------------------------------------------------------ */

/* Memory [0x1000, 0x2000) is writable; the u64 at 0x1000 is the counter. Each run: counter + 1,
 * byte 0x1008 = variant (non-zero, so processes mint distinct Data), mint Data(9 bytes at
 * 0x1000) into slot 5 from quota 1 (op 23), save it as a file from quota 0 (op 25), drop slot 5
 * (op 3), return the counter; `trap_at_end` ends in trap instead of ecalli 0. */
static inline javm_hash put_counter_image(javm_cache *c, bool trap_at_end, uint8_t variant)
{
    tprog p;
    tprog_init(&p);
    TI(&p, 58, 1, 0x00, 0x10);   /* load_u64 φ1, [0x1000] */
    TI(&p, 149, 0x11, 1);        /* add_imm_64 φ1 = φ1 + 1 */
    TI(&p, 62, 1, 0x00, 0x10);   /* store_u64 φ1, [0x1000] */
    TI(&p, 30, 2, 0x08, 0x10, variant); /* store_imm_u8 [0x1008], variant */
    TI(&p, 51, 7, 0x00, 0x10);   /* load_imm φ7, 0x1000 */
    TI(&p, 51, 8, 9);            /* φ8 = 9 bytes */
    TI(&p, 51, 9, 1);            /* φ9 = quota 1 */
    TI(&p, 51, 10, 5);           /* φ10 = slot 5 */
    TI(&p, 10, 23);              /* HOST_MINT_DATA_CAP */
    TI(&p, 51, 7, 5);            /* φ7 = slot 5 */
    TI(&p, 51, 8, 0);            /* φ8 = quota 0 */
    TI(&p, 10, 25);              /* HOST_SAVE */
    TI(&p, 51, 7, 5);
    TI(&p, 10, 3);               /* DROP slot 5 */
    TI(&p, 149, 0x17, 0);        /* φ7 = φ1 */
    if (trap_at_end)
        TI(&p, 0);
    else
        TI(&p, 10, 0);
    javm_cap *img = NULL;
    assert_int_equal(javm_image_new(p.code, (uint32_t)p.L, p.mask, (uint32_t)((p.L + 7) / 8), &img),
                     JAVM_OK);
    javm_endpoint ep;
    memset(&ep, 0, sizeof ep);
    assert_int_equal(javm_image_add_endpoint(img, &ep), JAVM_OK);
    javm_mapping m;
    memset(&m, 0, sizeof m);
    m.start = 0x1000;
    m.size = 0x1000;
    m.flags = 1;
    assert_int_equal(javm_image_add_mapping(img, &m), JAVM_OK);
    javm_hash h;
    int rc = javm_cache_put(c, img, &h);
    if (rc)
        fail_msg("put image: %s", javm_strerror(rc));
    javm_cap_free(img);
    return h;
}

/* Spawns an instance of img (caller holds one reference). */
static inline javm_hash spawn_instance(javm_cache *c, const javm_hash *img)
{
    javm_hash inst;
    int rc = javm_spawn(c, img, 4, &inst);
    if (rc)
        fail_msg("spawn: %s", javm_strerror(rc));
    return inst;
}

/* ---- graph check ------------------------------------------------------------------------ */

/* True if every blob reachable from h (image, root cnode, slots, overlays' Data, pinned and
 * initial caps) is present and decodes; *n counts the blobs visited (with repeats). */
static inline bool graph_present(javm_cache *c, const javm_hash *h, size_t *n, int depth)
{
    const javm_cap *cap = javm_cache_get_hash(c, h);
    if (!cap || depth > 64)
        return false;
    (*n)++;
    switch (cap->kind) {
    case JAVM_KIND_INSTANCE: {
        /* Copy what is needed first: a later load may move the lent cap. */
        javm_instance in = cap->instance;
        javm_hash img = in.image_hash, root = in.root_cnode.hash;
        uint32_t no = in.n_overlays;
        javm_hash *ov = malloc((no ? no : 1) * sizeof *ov);
        for (uint32_t i = 0; i < no; i++)
            ov[i] = in.overlays[i].data;
        bool ok = in.root_cnode.tag == JAVM_KEY_HASH && graph_present(c, &img, n, depth + 1) &&
                  graph_present(c, &root, n, depth + 1);
        for (uint32_t i = 0; ok && i < no; i++) {
            const javm_cap *d = javm_cache_get_hash(c, &ov[i]);
            ok = d && d->kind == JAVM_KIND_DATA;
            (*n)++;
        }
        free(ov);
        return ok;
    }
    case JAVM_KIND_CNODE: {
        uint32_t ns = cap->cnode.n_slots;
        javm_hash *t = malloc((ns ? ns : 1) * sizeof *t);
        for (uint32_t i = 0; i < ns; i++)
            t[i] = cap->cnode.slots[i].target.hash;
        bool ok = true;
        for (uint32_t i = 0; ok && i < ns; i++)
            ok = graph_present(c, &t[i], n, depth + 1);
        free(t);
        return ok;
    }
    case JAVM_KIND_IMAGE: {
        uint32_t np = cap->image.n_pinned, ni = cap->image.n_initial;
        javm_hash *t = malloc((np + ni + 1) * sizeof *t);
        for (uint32_t i = 0; i < np; i++)
            t[i] = cap->image.pinned[i].cap;
        for (uint32_t i = 0; i < ni; i++)
            t[np + i] = cap->image.initial[i].cap;
        bool ok = true;
        for (uint32_t i = 0; ok && i < np + ni; i++)
            ok = graph_present(c, &t[i], n, depth + 1);
        free(t);
        return ok;
    }
    default:
        return true;
    }
}

#endif
