/* SPDX-License-Identifier: MIT
 * tools/lib/vector.c — loader, runner mapping and comparison for JAM PVM vector files
 * (pvm.md §9.3, §9.4). Every key is type- and range-checked: vector files are input. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vector.h"

static bool cli_hex_u64(const char *s, uint64_t *out)
{
    char *end;
    /* a digit first: strtoull would take "0x-1" as 2^64 - 1 */
    if (strncmp(s, "0x", 2) != 0 || !isxdigit((unsigned char)s[2]))
        return false;
    errno = 0;
    unsigned long long v = strtoull(s + 2, &end, 16);
    if (errno || *end || end == s + 2)
        return false;
    *out = v;
    return true;
}

static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return JAVM_ERR_DECODE;
}

/* A non-negative integer up to max; json-c keeps values above 2^63 exactly as uint64. */
static bool get_u64(json_object *o, uint64_t max, uint64_t *out)
{
    if (!o || !json_object_is_type(o, json_type_int))
        return false;
    errno = 0;
    if (json_object_get_int64(o) < 0)
        return false;
    uint64_t v = json_object_get_uint64(o);
    if (errno || v > max)
        return false;
    *out = v;
    return true;
}

static bool get_i64(json_object *o, int64_t *out)
{
    if (!o || !json_object_is_type(o, json_type_int))
        return false;
    errno = 0;
    int64_t v = json_object_get_int64(o);
    if (errno)
        return false;
    if (v == INT64_MAX && json_object_get_uint64(o) > (uint64_t)INT64_MAX)
        return false;
    *out = v;
    return true;
}

static int get_regs(json_object *root, const char *key, uint64_t regs[JAVM_NUM_REGS], char *err,
                    size_t n)
{
    json_object *a;
    if (!json_object_object_get_ex(root, key, &a) || !json_object_is_type(a, json_type_array) ||
        json_object_array_length(a) != JAVM_NUM_REGS)
        return fail(err, n, "%s: expected an array of 13 integers", key);
    for (size_t i = 0; i < JAVM_NUM_REGS; i++)
        if (!get_u64(json_object_array_get_idx(a, i), UINT64_MAX, &regs[i]))
            return fail(err, n, "%s[%zu]: not a u64", key, i);
    return JAVM_OK;
}

static int get_bytes(json_object *a, const char *key, uint8_t **out, size_t *len, char *err,
                     size_t n)
{
    if (!a || !json_object_is_type(a, json_type_array))
        return fail(err, n, "%s: expected an array of bytes", key);
    size_t cnt = json_object_array_length(a);
    uint8_t *b = malloc(cnt ? cnt : 1);
    if (!b)
        return JAVM_ERR_ALLOC;
    for (size_t i = 0; i < cnt; i++) {
        uint64_t v;
        if (!get_u64(json_object_array_get_idx(a, i), 255, &v)) {
            free(b);
            return fail(err, n, "%s[%zu]: not a byte", key, i);
        }
        b[i] = (uint8_t)v;
    }
    *out = b;
    *len = cnt;
    return JAVM_OK;
}

static int get_chunks(json_object *root, const char *key, tv_chunk **out, size_t *count,
                      char *err, size_t n)
{
    json_object *a;
    if (!json_object_object_get_ex(root, key, &a) || !json_object_is_type(a, json_type_array))
        return fail(err, n, "%s: expected an array", key);
    size_t cnt = json_object_array_length(a);
    tv_chunk *c = calloc(cnt ? cnt : 1, sizeof *c);
    if (!c)
        return JAVM_ERR_ALLOC;
    *out = c;
    *count = cnt;
    for (size_t i = 0; i < cnt; i++) {
        json_object *e = json_object_array_get_idx(a, i), *addr, *contents;
        uint64_t ad;
        if (!json_object_is_type(e, json_type_object) ||
            !json_object_object_get_ex(e, "address", &addr) || !get_u64(addr, UINT32_MAX, &ad) ||
            !json_object_object_get_ex(e, "contents", &contents))
            return fail(err, n, "%s[%zu]: expected {address u32, contents}", key, i);
        c[i].addr = (uint32_t)ad;
        int rc = get_bytes(contents, key, &c[i].bytes, &c[i].len, err, n);
        if (rc)
            return rc;
        if (ad + c[i].len > (UINT64_C(1) << 32))
            return fail(err, n, "%s[%zu]: chunk passes 2^32", key, i);
    }
    return JAVM_OK;
}

int tv_load(const char *path, tv_vector *v, char *err, size_t n)
{
    memset(v, 0, sizeof *v);
    int rc = JAVM_ERR_DECODE;
    json_object *root = json_object_from_file(path), *o;
    if (!root) {
        fail(err, n, "%s: cannot read or parse JSON", path);
        goto done;
    }
    if (!json_object_is_type(root, json_type_object)) {
        fail(err, n, "%s: top level is not an object", path);
        goto done;
    }
    if (json_object_object_get_ex(root, "name", &o) && json_object_is_type(o, json_type_string))
        v->name = strdup(json_object_get_string(o));
    else {
        const char *slash = strrchr(path, '/');
        v->name = strdup(slash ? slash + 1 : path);
    }
    char sub[256];
    if ((rc = get_regs(root, "initial-regs", v->init_regs, sub, sizeof sub)))
        goto bad;
    uint64_t u;
    rc = JAVM_ERR_DECODE;
    if (!json_object_object_get_ex(root, "initial-pc", &o) || !get_u64(o, UINT32_MAX, &u)) {
        snprintf(sub, sizeof sub, "initial-pc: not a u32");
        goto bad;
    }
    v->init_pc = (uint32_t)u;
    if (!json_object_object_get_ex(root, "initial-gas", &o) || !get_i64(o, &v->init_gas)) {
        snprintf(sub, sizeof sub, "initial-gas: not an i64");
        goto bad;
    }
    json_object *pm;
    if (!json_object_object_get_ex(root, "initial-page-map", &pm) ||
        !json_object_is_type(pm, json_type_array)) {
        snprintf(sub, sizeof sub, "initial-page-map: expected an array");
        goto bad;
    }
    v->npages = json_object_array_length(pm);
    v->pages = calloc(v->npages ? v->npages : 1, sizeof *v->pages);
    if (!v->pages) {
        rc = JAVM_ERR_ALLOC;
        goto done;
    }
    for (size_t i = 0; i < v->npages; i++) {
        json_object *e = json_object_array_get_idx(pm, i), *a, *l, *w;
        uint64_t ad, len;
        if (!json_object_is_type(e, json_type_object) ||
            !json_object_object_get_ex(e, "address", &a) || !get_u64(a, UINT32_MAX, &ad) ||
            !json_object_object_get_ex(e, "length", &l) || !get_u64(l, UINT32_MAX, &len) ||
            !json_object_object_get_ex(e, "is-writable", &w) ||
            !json_object_is_type(w, json_type_boolean) || ad + len > (UINT64_C(1) << 32)) {
            snprintf(sub, sizeof sub, "initial-page-map[%zu]: expected {address, length, is-writable}", i);
            goto bad;
        }
        v->pages[i] = (tv_page){ (uint32_t)ad, (uint32_t)len, json_object_get_boolean(w) };
    }
    if ((rc = get_chunks(root, "initial-memory", &v->init_mem, &v->ninit, sub, sizeof sub)))
        goto bad;
    json_object *prog;
    json_object_object_get_ex(root, "program", &prog);
    if ((rc = get_bytes(prog, "program", &v->program, &v->program_len, sub, sizeof sub)))
        goto bad;
    /* Expectations. */
    rc = JAVM_ERR_DECODE;
    if (!json_object_object_get_ex(root, "expected-status", &o) ||
        !json_object_is_type(o, json_type_string)) {
        snprintf(sub, sizeof sub, "expected-status: not a string");
        goto bad;
    }
    v->exp_status = strdup(json_object_get_string(o));
    if ((rc = get_regs(root, "expected-regs", v->exp_regs, sub, sizeof sub)))
        goto bad;
    rc = JAVM_ERR_DECODE;
    if (!json_object_object_get_ex(root, "expected-pc", &o) || !get_u64(o, UINT32_MAX, &u)) {
        snprintf(sub, sizeof sub, "expected-pc: not a u32");
        goto bad;
    }
    v->exp_pc = (uint32_t)u;
    if (!json_object_object_get_ex(root, "expected-gas", &o) || !get_i64(o, &v->exp_gas)) {
        snprintf(sub, sizeof sub, "expected-gas: not an i64");
        goto bad;
    }
    if ((rc = get_chunks(root, "expected-memory", &v->exp_mem, &v->nexp, sub, sizeof sub)))
        goto bad;
    rc = JAVM_ERR_DECODE;
    if (json_object_object_get_ex(root, "expected-page-fault-address", &o)) {
        if (!get_u64(o, UINT32_MAX, &u)) {
            snprintf(sub, sizeof sub, "expected-page-fault-address: not a u32");
            goto bad;
        }
        v->has_fault = true;
        v->exp_fault = (uint32_t)u;
    }
    if (json_object_object_get_ex(root, "expected-instructions", &o))
        v->has_instructions = get_u64(o, UINT64_MAX, &v->exp_instructions);
    if (json_object_object_get_ex(root, "expected-memory-fnv1a64", &o)) {
        json_object *a, *l, *h;
        uint64_t ad, len;
        if (!json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, "address", &a) || !get_u64(a, UINT32_MAX, &ad) ||
            !json_object_object_get_ex(o, "length", &l) || !get_u64(l, UINT32_MAX, &len) ||
            !json_object_object_get_ex(o, "hash", &h) || !json_object_is_type(h, json_type_string) ||
            !cli_hex_u64(json_object_get_string(h), &v->exp_fnv)) {
            snprintf(sub, sizeof sub, "expected-memory-fnv1a64: expected {address, length, hash}");
            goto bad;
        }
        v->has_fnv = true;
        v->fnv_addr = (uint32_t)ad;
        v->fnv_len = (uint32_t)len;
    }
    if (json_object_object_get_ex(root, "expected-gas-1pi", &o))
        v->has_gas_1pi = get_i64(o, &v->exp_gas_1pi);
    if (!v->name || !v->exp_status) {
        rc = JAVM_ERR_ALLOC;
        goto done;
    }
    rc = JAVM_OK;
    goto done;
bad:
    if (rc == JAVM_ERR_DECODE)
        fail(err, n, "%s: %s", path, sub);
done:
    if (root)
        json_object_put(root);
    if (rc)
        tv_free(v);
    return rc;
}

void tv_free(tv_vector *v)
{
    free(v->name);
    free(v->pages);
    for (size_t i = 0; v->init_mem && i < v->ninit; i++)
        free(v->init_mem[i].bytes);
    free(v->init_mem);
    for (size_t i = 0; v->exp_mem && i < v->nexp; i++)
        free(v->exp_mem[i].bytes);
    free(v->exp_mem);
    free(v->program);
    free(v->exp_status);
    memset(v, 0, sizeof *v);
}

int tv_setup(const tv_vector *v, javm_memory *mem, javm_state *st)
{
    memset(st, 0, sizeof *st); /* engine AUTO */
    for (size_t i = 0; i < v->npages; i++) {
        /* every page overlapping [address, address + length) (pvm.md §9.4 step 3) */
        uint64_t start = v->pages[i].addr & ~UINT64_C(0xFFF);
        uint64_t end = ((uint64_t)v->pages[i].addr + v->pages[i].len + 0xFFF) & ~UINT64_C(0xFFF);
        int rc = javm_memory_set_perm(mem, start, end - start,
                                      v->pages[i].writable ? JAVM_PERM_RW : JAVM_PERM_RO);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < v->ninit; i++) {
        int rc = javm_memory_poke(mem, v->init_mem[i].addr, v->init_mem[i].len, v->init_mem[i].bytes);
        if (rc)
            return rc;
    }
    memcpy(st->regs, v->init_regs, sizeof st->regs);
    st->pc = v->init_pc;
    st->gas = v->init_gas;
    st->mem = mem;
    st->steps = 0;
    return JAVM_OK;
}

const char *tv_status_word(javm_exit_reason r, javm_profile profile)
{
    switch (r) {
    case JAVM_EXIT_HALT: return "halt";
    case JAVM_EXIT_PANIC: return "panic";
    case JAVM_EXIT_TRAP: return profile != JAVM_PROFILE_JAVM ? "panic" : "trap";
    case JAVM_EXIT_PAGE_FAULT: return "page-fault";
    case JAVM_EXIT_OUT_OF_GAS: return "out-of-gas";
    case JAVM_EXIT_HOST_CALL: return "host";
    case JAVM_EXIT_ECALL: return "ecall";
    case JAVM_EXIT_STOPPED: return "stopped";
    }
    return "?";
}

static void append(char *report, size_t cap, const char *fmt, ...)
{
    size_t used = strlen(report);
    if (used + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(report + used, cap - used, fmt, ap);
    va_end(ap);
}

uint64_t tv_fnv1a(const javm_memory *mem, uint32_t addr, uint32_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    uint8_t buf[4096];
    uint64_t pos = addr, end = (uint64_t)addr + len;
    while (pos < end) {
        size_t n = end - pos < sizeof buf ? (size_t)(end - pos) : sizeof buf;
        if (javm_memory_peek(mem, (uint32_t)pos, n, buf))
            break;
        for (size_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= UINT64_C(0x100000001b3);
        }
        pos += n;
    }
    return h;
}

static int compare_memory(const tv_vector *v, const javm_state *st, char *report, size_t cap)
{
    uint8_t want[4096], got[4096];
    for (size_t i = 0; i < v->npages; i++) {
        uint64_t start = v->pages[i].addr & ~UINT64_C(0xFFF);
        uint64_t end = ((uint64_t)v->pages[i].addr + v->pages[i].len + 0xFFF) & ~UINT64_C(0xFFF);
        for (uint64_t pg = start; pg < end; pg += 4096) {
            memset(want, 0, sizeof want);
            for (size_t c = 0; c < v->nexp; c++) {
                const tv_chunk *ch = &v->exp_mem[c];
                for (size_t b = 0; b < ch->len; b++) {
                    uint64_t a = (uint64_t)ch->addr + b;
                    if (a >= pg && a < pg + 4096)
                        want[a - pg] = ch->bytes[b];
                }
            }
            javm_memory_peek(st->mem, (uint32_t)pg, 4096, got);
            for (size_t b = 0; b < 4096; b++) {
                if (want[b] != got[b]) {
                    append(report, cap, "  memory: at 0x%" PRIx64 " expected 0x%02x, got 0x%02x\n",
                           pg + b, want[b], got[b]);
                    return 1;
                }
            }
        }
    }
    return 0;
}

int tv_compare(const tv_vector *v, const javm_state *st, javm_exit ex, javm_profile profile,
               bool gas_key_1pi, char *report, size_t cap)
{
    int bad = 0;
    report[0] = 0;
    const char *got = tv_status_word(ex.reason, profile);
    if (strcmp(got, v->exp_status) != 0) {
        append(report, cap, "  status: expected %s, got %s\n", v->exp_status, got);
        bad++;
    }
    if (st->pc != v->exp_pc) {
        append(report, cap, "  pc: expected %u, got %u\n", v->exp_pc, st->pc);
        bad++;
    }
    for (int i = 0; i < JAVM_NUM_REGS; i++) {
        if (st->regs[i] != v->exp_regs[i]) {
            append(report, cap, "  registers: r%d expected %" PRIu64 ", got %" PRIu64 "\n", i,
                   v->exp_regs[i], st->regs[i]);
            bad++;
        }
    }
    int64_t want_gas = gas_key_1pi && v->has_gas_1pi ? v->exp_gas_1pi : v->exp_gas;
    if (st->gas != want_gas) {
        append(report, cap, "  gas: expected %" PRId64 ", got %" PRId64 "\n", want_gas, st->gas);
        bad++;
    }
    if (v->has_fault || ex.reason == JAVM_EXIT_PAGE_FAULT) {
        if (!v->has_fault || ex.reason != JAVM_EXIT_PAGE_FAULT || ex.arg != v->exp_fault) {
            append(report, cap, "  fault address: expected %s0x%x, got %s0x%x\n",
                   v->has_fault ? "" : "none ", v->exp_fault,
                   ex.reason == JAVM_EXIT_PAGE_FAULT ? "" : "none ", ex.arg);
            bad++;
        }
    }
    if (v->has_fnv) {
        uint64_t h = tv_fnv1a(st->mem, v->fnv_addr, v->fnv_len);
        if (h != v->exp_fnv) {
            append(report, cap, "  memory: FNV-1a expected 0x%016" PRIx64 ", got 0x%016" PRIx64 "\n",
                   v->exp_fnv, h);
            bad++;
        }
    } else {
        bad += compare_memory(v, st, report, cap);
    }
    if (v->has_instructions && st->steps != v->exp_instructions) {
        append(report, cap, "  instructions: expected %" PRIu64 ", got %" PRIu64 "\n",
               v->exp_instructions, st->steps);
        bad++;
    }
    return bad;
}

int tv_conform(const tv_vector *v, javm_engine engine, char *report, size_t cap)
{
    return tv_conform_with(v, engine, JAVM_PROFILE_GP, JAVM_GAS_INSTR, NULL, report, cap);
}

int tv_conform_with(const tv_vector *v, javm_engine engine, javm_profile profile,
                    javm_gas_model model, javm_stop *stop, char *report, size_t cap)
{
    javm_memory *mem;
    javm_state st;
    int rc = javm_memory_new(&mem);
    if (rc)
        return rc;
    report[0] = 0;
    javm_program *prog = NULL;
    javm_prepare_opts opts = { profile, 25 };
    javm_exit ex = { JAVM_EXIT_PANIC, 0 };
    rc = tv_setup(v, mem, &st);
    st.engine = engine;
    st.stop = stop;
    if (rc == JAVM_OK) {
        /* pvm.md §9.4 step 1: an undecodable blob is an immediate panic, state unchanged. */
        if (javm_prepare_blob(v->program, v->program_len, &opts, &prog) == JAVM_OK)
            ex = javm_run(prog, &st, model, NULL, NULL);
        rc = tv_compare(v, &st, ex, profile, false, report, cap);
    } else {
        snprintf(report, cap, "  setup: %s\n", javm_strerror(rc));
        rc = 1;
    }
    javm_program_free(prog);
    javm_memory_free(mem);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void tv_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int tv_list_json(const char *dir, char ***names_out, size_t *n_out)
{
    DIR *d = opendir(dir);
    if (!d)
        return JAVM_ERR_IO;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 512;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn)
                goto oom;
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name)))
            goto oom;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    *names_out = names;
    *n_out = n;
    return JAVM_OK;
oom:
    closedir(d);
    tv_names_free(names, n);
    return JAVM_ERR_ALLOC;
}
