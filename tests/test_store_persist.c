/* SPDX-License-Identifier: MIT
 * tests/test_store_persist.c — caps.md §10.5 journal, names and persistence bullets on the
 * LMDB store with the persistent kernel assist: a trapping invocation leaves the store's bytes
 * unchanged, a halting one persists across close and reopen, test 18's save survives only a
 * commit, names persist. Run on LMDB and, as test_store_persist_rados, on RADOS
 * (tests/support/test_store.h), where quotas and file ids live in the head of the name whose
 * commit wrote them (docs/scale-out.md §4): read_home checks that and reads them there. */
#include "store_fixtures.h" /* first: it defines _GNU_SOURCE */
#include "cap_fixtures.h"
#include "vm/vm.h"

/* ---- a digest of every table, to compare whole stores ----------------------------------- */

typedef struct digest {
    crypto_generichash_state st;
    size_t records;
} digest;

static int digest_cb(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    digest *d = arg;
    uint64_t l[2] = { klen, vlen };
    crypto_generichash_update(&d->st, (const uint8_t *)l, sizeof l);
    crypto_generichash_update(&d->st, key, klen);
    crypto_generichash_update(&d->st, val, vlen);
    d->records++;
    return 0;
}

static void store_digest(javm_store *s, uint8_t out[32], size_t *records)
{
    digest d;
    d.records = 0;
    crypto_generichash_init(&d.st, NULL, 0, 32);
    for (int t = 0; t < JAVM_TABLE_COUNT; t++) {
        uint8_t sep = (uint8_t)t;
        crypto_generichash_update(&d.st, &sep, 1);
        assert_int_equal(s->vtbl->scan(s, (javm_table)t, digest_cb, &d), JAVM_OK);
    }
    crypto_generichash_final(&d.st, out, 32);
    *records = d.records;
}

/* ---- setup: the counter guest spawned, named "ctr", quotas 0 and 1, committed ------------ */

static const uint8_t name_ctr[] = "ctr";

static javm_hash setup_store(const char *dir, bool trap_at_end)
{
    sfx f;
    sfx_must_open(&f, dir);
    javm_hash img = put_counter_image(f.cache, trap_at_end, 1);
    javm_hash inst = spawn_instance(f.cache, &img);
    assert_int_equal(javm_name_set(f.cache, name_ctr, 3, &inst), JAVM_OK);
    f.ka->vtbl->storage_quota_set(f.ka, 0, 1000);
    f.ka->vtbl->storage_quota_set(f.ka, 1, 1000);
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);
    return inst;
}

/* Quotas and next_file_id as a name's commits left them. LMDB: one global table, nothing to
 * choose. RADOS (scale-out.md §4): the default head holds none of them, the name's head all. */
static void read_home(sfx *f, const uint8_t *name, size_t len)
{
    if (!tstore_is_rados())
        return;
    assert_int_equal(tstore_home(f->store, (const uint8_t *)"", 0), JAVM_OK);
    assert_int_equal(f->ka->vtbl->storage_quota_get(f->ka, 0), 0);
    assert_int_equal(f->ka->vtbl->storage_quota_get(f->ka, 1), 0);
    assert_int_equal(javm_ka_store_next_file_id(f->ka), 1);
    assert_int_equal(tstore_home(f->store, name, len), JAVM_OK);
}

static javm_call_result invoke_named(sfx *f, const javm_hash *inst)
{
    static const uint64_t args[4] = { 0 };
    javm_invoke_opts o = { name_ctr, 3 };
    javm_call_result r;
    memset(&r, 0, sizeof r);
    int rc = javm_invoke(f->vm, f->cache, f->ka, inst, 0, args, 100000, NULL, &o, &r);
    if (rc)
        fail_msg("invoke: %s (%s)", javm_strerror(rc), javm_store_errmsg(f->store));
    return r;
}

/* A guest that saves a file and mints a Data and then traps: every table is byte-for-byte as
 * before the invocation. */
static void test_journal_trap(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    javm_hash inst = setup_store(dir, true);
    sfx f;
    sfx_must_open(&f, dir);
    uint8_t before[32], after[32];
    size_t nb, na;
    store_digest(f.store, before, &nb);
    size_t blobs_before = javm_cache_blob_count(f.cache);
    javm_call_result r = invoke_named(&f, &inst);
    assert_int_equal(r.kind, JAVM_RES_FAULT);
    assert_int_equal(r.fault_reason, JAVM_EXIT_TRAP);
    store_digest(f.store, after, &na);
    assert_int_equal(na, nb);
    assert_memory_equal(before, after, 32);
    /* And the process's own view: quotas, files, next_file_id, name, resident blobs. */
    read_home(&f, name_ctr, 3);
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 0), 1000);
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 1), 1000);
    assert_int_equal(javm_ka_store_next_file_id(f.ka), 1);
    javm_hash h;
    assert_int_equal(f.ka->vtbl->host_open(f.ka, 1, &h), JAVM_ERR_NOT_FOUND);
    assert_int_equal(javm_name_get(f.cache, name_ctr, 3, &h), JAVM_OK);
    assert_memory_equal(h.b, inst.b, 32);
    assert_true(javm_cache_blob_count(f.cache) >= blobs_before);
    assert_int_equal(javm_cache_working_count(f.cache), 0);
    sfx_close(&f);
    tstore_remove(dir);
}

/* The same guest ending in ecalli 0: everything persists across close and reopen. */
static void test_journal_halt_persists(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    javm_hash inst = setup_store(dir, false);
    sfx f;
    sfx_must_open(&f, dir);
    uint8_t before[32];
    size_t nb;
    store_digest(f.store, before, &nb);
    javm_call_result r = invoke_named(&f, &inst);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    assert_int_equal(r.return_value, 1);
    javm_hash post = r.post_instance;
    sfx_close(&f); /* no explicit commit: the invocation committed */

    sfx_must_open(&f, dir);
    read_home(&f, name_ctr, 3);
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 0), 1000 - 9);
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 1), 1000 - 9);
    assert_int_equal(javm_ka_store_next_file_id(f.ka), 2);
    javm_hash file1;
    assert_int_equal(f.ka->vtbl->host_open(f.ka, 1, &file1), JAVM_OK);
    const javm_cap *d = javm_cache_get_hash(f.cache, &file1);
    assert_non_null(d);
    assert_int_equal(d->kind, JAVM_KIND_DATA);
    assert_int_equal(d->data.size, 9);
    assert_int_equal(d->data.bytes[0], 1);
    assert_int_equal(d->data.bytes[8], 1);
    javm_hash named;
    assert_int_equal(javm_name_get(f.cache, name_ctr, 3, &named), JAVM_OK);
    assert_memory_equal(named.b, post.b, 32);
    size_t n = 0;
    assert_true(graph_present(f.cache, &named, &n, 0));
    /* A second invocation continues the counter from the persisted memory. */
    r = invoke_named(&f, &named);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    assert_int_equal(r.return_value, 2);
    assert_int_equal(javm_ka_store_next_file_id(f.ka), 3);
    sfx_close(&f);
    tstore_remove(dir);
}

/* Persistence (caps.md §10.5): Data "stored", test 18's save, commit, close, reopen. */
static void run_test18(const char *dir, bool commit, const uint8_t *name, javm_hash *named_inst)
{
    sfx f;
    sfx_must_open(&f, dir);
    javm_cap *d;
    javm_hash stored;
    assert_int_equal(javm_data_new((const uint8_t *)"stored", 6, &d), JAVM_OK);
    assert_int_equal(javm_cache_put(f.cache, d, &stored), JAVM_OK);
    javm_cap_free(d);
    f.ka->vtbl->storage_quota_set(f.ka, 0, 10);

    tprog p;
    tprog_init(&p);
    TI(&p, 0);
    javm_program *prog = tprog_prepare(&p, JAVM_PROFILE_JAVM, 25);
    uint32_t slot = 3;
    javm_test_entry e;
    memset(&e, 0, sizeof e);
    e.size_log = 4;
    e.slot_ids = &slot;
    e.slot_vals = &stored;
    e.n_slots = 1;
    memset(e.chain.b, 1, 32);
    memset(e.image_hash.b, 2, 32);
    e.M = 25;
    e.program = prog;
    assert_int_equal(javm_vm_push_test_entry(f.vm, &e), JAVM_OK);
    javm_program_free(prog);
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    javm_ecall_ctx ctx = { f.vm, f.cache, f.ka };
    uint64_t regs[13] = { 0 };
    regs[7] = 3;
    regs[8] = 0;
    int64_t gas = 1000;
    javm_answer a = javm_dispatch(&ctx, JAVM_CALL_ECALLI, JAVM_OP_HOST_SAVE, regs, mem, &gas);
    (void)a;
    assert_int_equal(regs[7], 1);
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 0), 4);
    javm_memory_free(mem);
    javm_vm_free(f.vm);
    f.vm = NULL;

    /* A named instance beside it. */
    javm_hash img = put_counter_image(f.cache, false, 2);
    *named_inst = spawn_instance(f.cache, &img);
    assert_int_equal(javm_name_set(f.cache, name, strlen((const char *)name), named_inst), 0);
    if (commit)
        assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);
}

static void test_persistence(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    javm_hash inst;
    run_test18(dir, true, (const uint8_t *)"kept", &inst);
    sfx f;
    sfx_must_open(&f, dir);
    read_home(&f, (const uint8_t *)"kept", 4); /* the commit's first name is its home */
    javm_hash h;
    assert_int_equal(f.ka->vtbl->host_open(f.ka, 1, &h), JAVM_OK);
    assert_hash_hex(h, "1cd36dd0e2630a034d9d6a9d4c502f98b5075537c30632f6f3f8f75b427977e7");
    const javm_cap *d = javm_cache_get_hash(f.cache, &h);
    assert_non_null(d);
    assert_int_equal(d->data.size, 6);
    assert_memory_equal(d->data.bytes, "stored", 6);
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 0), 4);
    uint64_t id;
    assert_int_equal(f.ka->vtbl->host_save(f.ka, &h, 0, 4, &id), JAVM_OK);
    assert_int_equal(id, 2);
    javm_hash named;
    assert_int_equal(javm_name_get(f.cache, (const uint8_t *)"kept", 4, &named), JAVM_OK);
    assert_memory_equal(named.b, inst.b, 32);
    size_t n = 0;
    assert_true(graph_present(f.cache, &named, &n, 0));
    sfx_close(&f);
    tstore_remove(dir);

    /* Without the commit none of it survives. */
    tstore_make(dir);
    run_test18(dir, false, (const uint8_t *)"lost", &inst);
    sfx_must_open(&f, dir);
    read_home(&f, (const uint8_t *)"lost", 4);
    assert_int_equal(f.ka->vtbl->host_open(f.ka, 1, &h), JAVM_ERR_NOT_FOUND);
    assert_null(javm_cache_get_hash(f.cache, &inst));
    assert_int_equal(f.ka->vtbl->storage_quota_get(f.ka, 0), 0);
    assert_int_equal(javm_ka_store_next_file_id(f.ka), 1);
    assert_int_equal(javm_name_get(f.cache, (const uint8_t *)"lost", 4, &named), JAVM_ERR_NOT_FOUND);
    javm_hash stored = hx("1cd36dd0e2630a034d9d6a9d4c502f98b5075537c30632f6f3f8f75b427977e7");
    assert_null(javm_cache_get_hash(f.cache, &stored));
    sfx_close(&f);
    tstore_remove(dir);
}

/* Names: set, moved by invocations, removed — each persisted by its commit. */
static void test_names_persist(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    javm_hash inst = setup_store(dir, false);
    sfx f;
    sfx_must_open(&f, dir);
    assert_int_equal(javm_name_set(f.cache, (const uint8_t *)"second", 6, &inst), JAVM_OK);
    assert_int_equal(javm_name_set(f.cache, (const uint8_t *)"gone", 4, &inst), JAVM_OK);
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    javm_call_result r = invoke_named(&f, &inst);
    assert_int_equal(r.kind, JAVM_RES_HALT);
    assert_int_equal(javm_name_set(f.cache, (const uint8_t *)"gone", 4, NULL), JAVM_OK);
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    sfx_close(&f);

    sfx_must_open(&f, dir);
    javm_hash h;
    assert_int_equal(javm_name_get(f.cache, name_ctr, 3, &h), JAVM_OK);
    assert_memory_equal(h.b, r.post_instance.b, 32);
    assert_int_equal(javm_name_get(f.cache, (const uint8_t *)"second", 6, &h), JAVM_OK);
    assert_memory_equal(h.b, inst.b, 32);
    assert_int_equal(javm_name_get(f.cache, (const uint8_t *)"gone", 4, &h), JAVM_ERR_NOT_FOUND);
    sfx_close(&f);
    tstore_remove(dir);
}

/* File ids (caps.md §9 next_file_id): on LMDB one dense sequence over every commit; on RADOS
 * (scale-out.md §4) each name's head takes ids from blocks of 65,536 leased to it alone, so
 * the ids of one name are dense and in commit order, and two names never share a block. */
typedef struct saved {
    uint64_t id[8];
    uint8_t variant[8], counter[8];
    size_t n;
    javm_cache *cache;
} saved;

static int saved_cb(void *arg, uint64_t id, const javm_hash *h)
{
    saved *s = arg;
    assert_true(s->n < 8);
    const javm_cap *d = javm_cache_get_hash(s->cache, h);
    assert_non_null(d);
    assert_int_equal(d->kind, JAVM_KIND_DATA);
    assert_int_equal(d->data.size, 9);
    s->id[s->n] = id;
    s->counter[s->n] = d->data.bytes[0];
    s->variant[s->n] = d->data.bytes[8];
    s->n++;
    return 0;
}

static void test_file_ids(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    static const uint8_t *const names[2] = { (const uint8_t *)"a", (const uint8_t *)"b" };
    javm_hash inst[2];
    for (int k = 0; k < 2; k++) { /* one commit per name: on RADOS its quotas go to its head */
        javm_hash img = put_counter_image(f.cache, false, (uint8_t)(k + 1));
        inst[k] = spawn_instance(f.cache, &img);
        assert_int_equal(javm_name_set(f.cache, names[k], 1, &inst[k]), JAVM_OK);
        f.ka->vtbl->storage_quota_set(f.ka, 0, 1000);
        f.ka->vtbl->storage_quota_set(f.ka, 1, 1000);
        assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);
    }
    static const uint64_t args[4] = { 0 };
    for (int round = 0; round < 4; round++) { /* a, b, a, b */
        int k = round & 1;
        javm_invoke_opts o = { names[k], 1 };
        javm_call_result r;
        assert_int_equal(javm_invoke(f.vm, f.cache, f.ka, &inst[k], 0, args, 100000, NULL, &o, &r),
                         JAVM_OK);
        assert_int_equal(r.kind, JAVM_RES_HALT);
        assert_int_equal(r.return_value, (uint64_t)(round / 2 + 1));
        inst[k] = r.post_instance;
    }
    sfx_close(&f);

    sfx_must_open(&f, dir);
    saved sv = { .n = 0, .cache = f.cache };
    assert_int_equal(f.ka->vtbl->file_iter(f.ka, saved_cb, &sv), JAVM_OK);
    assert_int_equal(sv.n, 4);
    for (size_t i = 1; i < 4; i++)
        assert_true(sv.id[i] > sv.id[i - 1]);
    if (!tstore_is_rados()) {
        for (size_t i = 0; i < 4; i++) { /* 1..4 in commit order: a1, b1, a2, b2 */
            assert_int_equal(sv.id[i], i + 1);
            assert_int_equal(sv.variant[i], 1 + (i & 1));
            assert_int_equal(sv.counter[i], 1 + i / 2);
        }
    } else {
        /* id order is name order here: a's block was leased first (its first save). */
        for (size_t k = 0; k < 2; k++) {
            size_t i = 2 * k;
            assert_int_equal(sv.variant[i], k + 1);
            assert_int_equal(sv.variant[i + 1], k + 1);
            assert_int_equal(sv.counter[i], 1);
            assert_int_equal(sv.counter[i + 1], 2);
            assert_int_equal(sv.id[i + 1], sv.id[i] + 1);   /* dense per head */
            assert_int_equal((sv.id[i] - 1) % 65536, 0);   /* the start of a leased block */
        }
        assert_true(sv.id[2] - sv.id[0] >= 65536);          /* another block */
        /* Each head's next id, read through that head. */
        assert_int_equal(tstore_home(f.store, names[0], 1), JAVM_OK);
        assert_int_equal(javm_ka_store_next_file_id(f.ka), sv.id[1] + 1);
        assert_int_equal(tstore_home(f.store, names[1], 1), JAVM_OK);
        assert_int_equal(javm_ka_store_next_file_id(f.ka), sv.id[3] + 1);
    }
    sfx_close(&f);
    tstore_remove(dir);
}

/* A transaction over two names. LMDB: one atomic commit, and no other writer can commit in
 * between (the journal holds the write lock). RADOS (scale-out.md §4): atomic per head, one op
 * each in name order; a head another client moved since the journal read it is a CONFLICT
 * after the heads before it were committed, and the message says so; no lost update. */
static void test_two_names_one_commit(void **state)
{
    (void)state;
    char dir[TSTORE_LOC];
    tstore_make(dir);
    sfx f;
    sfx_must_open(&f, dir);
    static const uint8_t A[] = "A", B[] = "B";
    javm_hash img = put_counter_image(f.cache, false, 1);
    javm_hash i1 = spawn_instance(f.cache, &img), i2 = spawn_instance(f.cache, &img);
    javm_hash i3 = spawn_instance(f.cache, &img);
    assert_int_equal(javm_name_set(f.cache, A, 1, &i1), JAVM_OK);
    assert_int_equal(javm_name_set(f.cache, B, 1, &i1), JAVM_OK);
    assert_int_equal(javm_commit(f.cache, f.ka), JAVM_OK);

    javm_hash got;
    assert_int_equal(javm_journal_begin(f.cache, f.ka), JAVM_OK);
    /* B used first: on RADOS the heads are still committed in name order (scale-out.md §3) */
    assert_int_equal(javm_name_get(f.cache, B, 1, &got), JAVM_OK);
    assert_int_equal(javm_name_get(f.cache, A, 1, &got), JAVM_OK);
    assert_int_equal(javm_name_set(f.cache, A, 1, &i2), JAVM_OK);
    assert_int_equal(javm_name_set(f.cache, B, 1, &i2), JAVM_OK);
    if (!tstore_is_rados()) {
        assert_int_equal(javm_journal_commit(f.cache, f.ka), JAVM_OK);
        sfx_close(&f);
        sfx_must_open(&f, dir);
        assert_int_equal(javm_name_get(f.cache, A, 1, &got), JAVM_OK);
        assert_hash_equal(got, i2);
        assert_int_equal(javm_name_get(f.cache, B, 1, &got), JAVM_OK);
        assert_hash_equal(got, i2);
        sfx_close(&f);
        tstore_remove(dir);
        return;
    }
    sfx g; /* another client moves B */
    sfx_must_open(&g, dir);
    assert_int_equal(javm_name_set(g.cache, B, 1, &i3), JAVM_OK);
    assert_int_equal(javm_commit(g.cache, g.ka), JAVM_OK);
    assert_int_equal(javm_journal_commit(f.cache, f.ka), JAVM_ERR_CONFLICT);
    assert_non_null(strstr(javm_store_errmsg(f.store), "1 other head was committed"));
    sfx_close(&f);
    sfx_close(&g);
    sfx_must_open(&f, dir);
    assert_int_equal(javm_name_get(f.cache, A, 1, &got), JAVM_OK);
    assert_hash_equal(got, i2); /* committed before B's head op failed */
    assert_int_equal(javm_name_get(f.cache, B, 1, &got), JAVM_OK);
    assert_hash_equal(got, i3); /* the other client's, not lost */
    sfx_close(&f);
    tstore_remove(dir);
}

int main(void)
{
    int st = tstore_init("test_store_persist", TSTORE_LMDB);
    if (st >= 0)
        return st;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_trap),
        cmocka_unit_test(test_journal_halt_persists),
        cmocka_unit_test(test_persistence),
        cmocka_unit_test(test_names_persist),
        cmocka_unit_test(test_file_ids),
        cmocka_unit_test(test_two_names_one_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
