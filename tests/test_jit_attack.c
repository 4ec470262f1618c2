/* SPDX-License-Identifier: MIT
 * tests/test_jit_attack.c — hostile programs on the JIT, each run on the interpreter and on the
 * JIT from the same state with every observable compared (tests/support/jitcmp.h), under
 * JAVM_JIT_CPU unset and =baseline (the program is prepared afresh after each change: compiled
 * code belongs to the program). Also the regression tests of JIT bugs found by the
 * differential tests. Skipped (77) where the build has no JIT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "asm.h"
#include "jitcmp.h"
#include "tprog.h"

#define MAXU UINT64_MAX

/* Prepares p under profile prof, runs it on both engines from (regs, pc 0, gas) with o, and
 * does so twice: every CPU feature, then JAVM_JIT_CPU=baseline. r receives the baseline run. */
static void both_cpus(const tprog *p, javm_profile prof, const javm_state *init, const jc_opts *o,
                      jc_result *r)
{
    for (int baseline = 0; baseline < 2; baseline++) {
        jc_set_baseline(baseline);
        javm_program *prog = tprog_prepare(p, prof, 25);
        jc_run(prog, init, o, r);
        javm_program_free(prog);
    }
    jc_set_baseline(false);
}

static javm_state state_with(uint64_t gas)
{
    javm_state st;
    memset(&st, 0, sizeof st);
    st.gas = (int64_t)gas;
    return st;
}

/* ---- regressions ------------------------------------------------------------------------- */

/* Regression (found by test_differential --jit, 947 of 100,000 programs): the portable popcount
 * (JAVM_JIT_CPU=baseline, no POPCNT) addressed its four [rip + disp32] constants as if every
 * instruction ended 4 bytes after its own start, so it read 3 or 4 bytes past each constant
 * and counted wrong (count_set_bits_64 of 7 gave 0xa8). */
static void test_regress_portable_popcount(void **state)
{
    (void)state;
    static const uint64_t values[] = {
        0, 1, 2, 3, 7, 0x80, 0xFF, 0x8000000000000000u, 0x5555555555555555u, 0xAAAAAAAAAAAAAAAAu,
        0xFFFFFFFF00000000u, 0x00000000FFFFFFFFu, 0xFFFFFFFF00000001u, MAXU, 0x0123456789ABCDEFu,
    };
    for (unsigned op = 102; op <= 103; op++) {
        for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
            tprog p;
            tprog_init(&p);
            TI(&p, (uint8_t)op, 0x89); /* r9 = popcount(r8) */
            TI(&p, 0);
            javm_state init = state_with(100);
            init.regs[8] = values[k];
            jc_opts o = { .model = JAVM_GAS_PIPELINE };
            jc_result r;
            both_cpus(&p, JAVM_PROFILE_JAVM, &init, &o, &r);
            uint64_t v = op == 102 ? values[k] : (uint32_t)values[k];
            assert_int_equal(r.st.regs[9], (uint64_t)__builtin_popcountll(v));
        }
    }
}

static uint64_t diff_like(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* ---- helpers -------------------------------------------------------------------------------- */

/* Runs src on both engines under each profile in profs (bit 0 JAVM, bit 1 GP), both gas
 * models and both CPU settings. r receives the last run (GP when asked, pipeline,
 * baseline). Returns the number of comparisons. */
static unsigned all_ways(const char *src, unsigned profs, const javm_state *init, const jc_opts *o, jc_result *r)
{
    unsigned n = 0;
    for (int prof = 0; prof < 2; prof++) {
        if (!(profs & (1u << prof)))
            continue;
        for (int m = 1; m >= 0; m--) {
            for (int baseline = 0; baseline < 2; baseline++) {
                jc_set_baseline(baseline);
                javm_program *p = tprog_prepare_asm(src, (javm_profile)prof);
                jc_opts oo = *o;
                oo.model = (javm_gas_model)m;
                jc_run(p, init, &oo, r);
                javm_program_free(p);
                n++;
            }
        }
    }
    jc_set_baseline(false);
    return n;
}

#define BOTH 3u
#define ONLY_JAVM 1u
#define ONLY_GP 2u

/* A page map for jc_opts.setup: pages with a permission and a fill pattern. */
typedef struct pagemap {
    size_t n;
    struct { uint32_t page; javm_perm perm; } pg[8];
} pagemap;

static void setup_pages(javm_memory *m, void *arg)
{
    const pagemap *pm = arg;
    uint8_t buf[JAVM_PAGE_SIZE];
    for (size_t k = 0; k < pm->n; k++) {
        for (uint32_t b = 0; b < JAVM_PAGE_SIZE; b++)
            buf[b] = (uint8_t)(b * 7 + pm->pg[k].page * 13 + 1);
        assert_int_equal(javm_memory_set_perm(m, (uint64_t)pm->pg[k].page << JAVM_PAGE_SHIFT, JAVM_PAGE_SIZE,
                                              pm->pg[k].perm), JAVM_OK);
        assert_int_equal(javm_memory_poke(m, pm->pg[k].page << JAVM_PAGE_SHIFT, JAVM_PAGE_SIZE, buf), JAVM_OK);
    }
}

static jc_opts opts_pages(pagemap *pm, unsigned resumes)
{
    jc_opts o = { .model = JAVM_GAS_PIPELINE, .setup = setup_pages, .setup_arg = pm, .resumes = resumes,
                  .resume_gas = 1000 };
    for (size_t k = 0; k < pm->n && k < JC_MAX_PAGES; k++)
        o.pages[o.npages++] = pm->pg[k].page;
    return o;
}

/* ---- addresses -------------------------------------------------------------------------------- */

static const char *const load_ops[] = { "load_u8", "load_i8", "load_u16", "load_i16", "load_u32", "load_i32", "load_u64" };
static const char *const store_ops[] = { "store_u8", "store_u16", "store_u32", "store_u64" };
static const char *const store_imm_ops[] = { "store_imm_u8", "store_imm_u16", "store_imm_u32", "store_imm_u64" };
static const char *const load_ind_ops[] = { "load_ind_u8", "load_ind_i8", "load_ind_u16", "load_ind_i16",
                                            "load_ind_u32", "load_ind_i32", "load_ind_u64" };
static const char *const store_ind_ops[] = { "store_ind_u8", "store_ind_u16", "store_ind_u32", "store_ind_u64" };
static const char *const store_imm_ind_ops[] = { "store_imm_ind_u8", "store_imm_ind_u16", "store_imm_ind_u32",
                                                 "store_imm_ind_u64" };
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Addresses at the edges: 0, 2^16 - 1 and 2^16 (the inaccessible zone's end), page
 * boundaries, and the top of memory where a 2-, 4- or 8-byte access crosses 2^32. */
static const uint32_t edge_addrs[] = {
    0, 1, 0xFFFF, 0x10000, 0x10FFF, 0x10FFD, 0x10FF9, 0x7FFFFFFF, 0x80000000, 0xFFFEFFFF, 0xFFFF0000,
    0xFFFFEFFF, 0xFFFFEFFD, 0xFFFFF000, 0xFFFFFFF8, 0xFFFFFFF9, 0xFFFFFFFC, 0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF,
};

/* Page maps: nothing; the pages around the edges RW; the same RO; the top page RW alone;
 * the page below the top RW alone (so an access crossing into the top page faults there). */
static void edge_maps(pagemap maps[5])
{
    memset(maps, 0, 5 * sizeof *maps);
    const uint32_t pages[] = { 0x10, 0x7FFFF, 0x80000, 0xFFFEF, 0xFFFF0, 0xFFFFE, 0xFFFFF };
    for (int k = 1; k <= 2; k++) {
        for (size_t i = 0; i < NELEM(pages); i++) {
            maps[k].pg[maps[k].n].page = pages[i];
            maps[k].pg[maps[k].n].perm = k == 1 ? JAVM_PERM_RW : JAVM_PERM_RO;
            maps[k].n++;
        }
    }
    maps[3].n = 1;
    maps[3].pg[0].page = 0xFFFFF;
    maps[3].pg[0].perm = JAVM_PERM_RW;
    maps[4].n = 1;
    maps[4].pg[0].page = 0xFFFFE;
    maps[4].pg[0].perm = JAVM_PERM_RW;
}

/* Every load and store form (direct, indirect, immediate) at every edge address, under each
 * page map, resuming after a fault with the page mapped. */
static void test_edge_addresses(void **state)
{
    (void)state;
    pagemap maps[5];
    edge_maps(maps);
    char src[512];
    unsigned runs = 0, exits[8] = { 0 };
    for (size_t a = 0; a < NELEM(edge_addrs); a++) {
        uint32_t addr = edge_addrs[a];
        for (int form = 0; form < 6; form++) {
            size_t nops = form == 0 || form == 3 ? NELEM(load_ops) : NELEM(store_ops);
            for (size_t k = 0; k < nops; k++) {
                /* indirect forms: base r8 = addr - 0x1234 (as u32, high bits set) + 0x1234 */
                switch (form) {
                case 0: snprintf(src, sizeof src, "%s r7, 0x%x\ntrap\n", load_ops[k], addr); break;
                case 1: snprintf(src, sizeof src, "%s r9, 0x%x\ntrap\n", store_ops[k], addr); break;
                case 2: snprintf(src, sizeof src, "%s 0x%x, -2\ntrap\n", store_imm_ops[k], addr); break;
                case 3: snprintf(src, sizeof src, "%s r7, r8, 0x1234\ntrap\n", load_ind_ops[k]); break;
                case 4: snprintf(src, sizeof src, "%s r9, r8, 0x1234\ntrap\n", store_ind_ops[k]); break;
                default: snprintf(src, sizeof src, "%s r8, 0x1234, 0x7FFFFFFF\ntrap\n", store_imm_ind_ops[k]); break;
                }
                for (int mp = 0; mp < 5; mp++) {
                    javm_state init = state_with(1000);
                    init.regs[8] = UINT64_C(0xABCD000000000000) + (uint32_t)(addr - 0x1234u);
                    init.regs[9] = UINT64_C(0x0102030405060708);
                    jc_opts o = opts_pages(&maps[mp], 2);
                    jc_result r;
                    javm_program *p;
                    for (int baseline = 0; baseline < 2; baseline++) {
                        jc_set_baseline(baseline);
                        p = tprog_prepare_asm(src, JAVM_PROFILE_JAVM);
                        jc_run(p, &init, &o, &r);
                        javm_program_free(p);
                        runs++;
                    }
                    exits[r.ex[0].reason & 7]++;
                    /* an access that would cross 2^32 never succeeds */
                    unsigned size = (form == 0 || form == 3) ? 1u << (k / 2) : 1u << k;
                    if ((uint64_t)addr + size > (UINT64_C(1) << 32))
                        assert_true(r.ex[r.segs - 1].reason == JAVM_EXIT_PANIC ||
                                    r.ex[r.segs - 1].reason == JAVM_EXIT_PAGE_FAULT);
                    if (addr < 0x10000 && (uint64_t)addr + size <= 0x10000)
                        assert_int_not_equal(r.ex[0].reason, JAVM_EXIT_TRAP); /* never reaches the trap */
                }
            }
        }
    }
    jc_set_baseline(false);
    printf("edge addresses: %u runs compared (first exits: trap %u, panic %u, page-fault %u)\n", runs,
           exits[JAVM_EXIT_TRAP & 7], exits[JAVM_EXIT_PANIC & 7], exits[JAVM_EXIT_PAGE_FAULT & 7]);
    assert_true(exits[JAVM_EXIT_TRAP & 7] > 0 && exits[JAVM_EXIT_PAGE_FAULT & 7] > 0 && exits[JAVM_EXIT_PANIC & 7] > 0);
}

/* ---- immediates ------------------------------------------------------------------------------ */

static const char *const imm_ops[] = {
    "add_imm_32", "and_imm", "xor_imm", "or_imm", "mul_imm_32", "set_lt_u_imm", "set_lt_s_imm",
    "shlo_l_imm_32", "shlo_r_imm_32", "shar_r_imm_32", "neg_add_imm_32", "set_gt_u_imm", "set_gt_s_imm",
    "shlo_l_imm_alt_32", "shlo_r_imm_alt_32", "shar_r_imm_alt_32", "cmov_iz_imm", "cmov_nz_imm",
    "add_imm_64", "mul_imm_64", "shlo_l_imm_64", "shlo_r_imm_64", "shar_r_imm_64", "neg_add_imm_64",
    "shlo_l_imm_alt_64", "shlo_r_imm_alt_64", "shar_r_imm_alt_64", "rot_r_64_imm", "rot_r_64_imm_alt",
    "rot_r_32_imm", "rot_r_32_imm_alt",
};
static const char *const imms[] = { "0", "1", "-1", "31", "32", "63", "64", "127", "128", "-128", "-129",
                                    "0x7FFFFFFF", "-2147483648", "0xFFFFFFFF", "0x80000000" };
static const uint64_t reg_vals[] = { 0, 1, MAXU, UINT64_C(0x8000000000000000), UINT64_C(0x7FFFFFFFFFFFFFFF),
                                     UINT64_C(0xFFFFFFFF), UINT64_C(0x80000000), UINT64_C(0x123456789ABCDEF0) };

/* Every TwoRegOneImm ALU op with the largest immediates, each register pair (source and
 * destination the same register, the spilled one or any other), over extreme values. */
static void test_largest_immediates(void **state)
{
    (void)state;
    char src[256];
    unsigned runs = 0;
    for (size_t k = 0; k < NELEM(imm_ops); k++) {
        for (size_t i = 0; i < NELEM(imms); i++) {
            /* r12 is the least used register (the JIT spills it); r3 = op(r3), r12 = op(r5) */
            snprintf(src, sizeof src, "%s r3, r3, %s\n%s r12, r5, %s\n%s r4, r12, %s\ntrap\n", imm_ops[k], imms[i],
                     imm_ops[k], imms[i], imm_ops[k], imms[i]);
            for (int baseline = 0; baseline < 2; baseline++) {
                jc_set_baseline(baseline);
                javm_program *p = tprog_prepare_asm(src, JAVM_PROFILE_JAVM);
                for (size_t v = 0; v < NELEM(reg_vals); v++) {
                    javm_state init = state_with(100);
                    for (int g = 0; g < JAVM_NUM_REGS; g++)
                        init.regs[g] = reg_vals[(v + (size_t)g) % NELEM(reg_vals)];
                    jc_opts o = { .model = JAVM_GAS_PIPELINE };
                    jc_result r;
                    jc_run(p, &init, &o, &r);
                    assert_int_equal(r.ex[0].reason, JAVM_EXIT_TRAP);
                    runs++;
                }
                javm_program_free(p);
            }
        }
    }
    /* load_imm_64 / load_imm and the branch-with-immediate forms at the extremes */
    static const char *const bops[] = { "branch_eq_imm", "branch_ne_imm", "branch_lt_u_imm", "branch_le_u_imm",
                                        "branch_ge_u_imm", "branch_gt_u_imm", "branch_lt_s_imm", "branch_le_s_imm",
                                        "branch_ge_s_imm", "branch_gt_s_imm" };
    for (size_t k = 0; k < NELEM(bops); k++) {
        for (size_t i = 0; i < NELEM(imms); i++) {
            snprintf(src, sizeof src,
                     "load_imm_64 r1, 0xFFFFFFFFFFFFFFFF\nload_imm r2, %s\n%s r7, %s, yes\n"
                     "load_imm r0, 1\ntrap\nyes:\nload_imm_64 r0, 0x8000000000000000\ntrap\n",
                     imms[i], bops[k], imms[i]);
            for (size_t v = 0; v < NELEM(reg_vals); v++) {
                javm_state init = state_with(100);
                init.regs[7] = reg_vals[v];
                jc_opts o = { .model = JAVM_GAS_PIPELINE };
                jc_result r;
                runs += all_ways(src, ONLY_JAVM, &init, &o, &r);
            }
            /* the register equal to the immediate (sign-extended) and one either side */
            static const int64_t delta[] = { -1, 0, 1 };
            for (int d = 0; d < 3; d++) {
                javm_state init = state_with(100);
                init.regs[7] = (uint64_t)(strtoll(imms[i], NULL, 0) == 0xFFFFFFFF || strcmp(imms[i], "0x80000000") == 0
                                              ? (int64_t)(int32_t)(uint32_t)strtoull(imms[i], NULL, 0)
                                              : strtoll(imms[i], NULL, 0)) + (uint64_t)delta[d];
                jc_opts o = { .model = JAVM_GAS_PIPELINE };
                jc_result r;
                runs += all_ways(src, ONLY_JAVM, &init, &o, &r);
            }
        }
    }
    jc_set_baseline(false);
    printf("largest immediates: %u runs compared\n", runs);
}

/* Branch and jump offsets: 4-byte encodings forward and backward, offsets that leave the code
 * (to 2^31 - 1, -2^31), to the middle of an instruction and to L itself. */
static void test_largest_offsets(void **state)
{
    (void)state;
    static const char *const progs[] = {
        /* jump +0x7FFFFFFF, -0x80000000 (the target wraps mod 2^32): out of the code, panic */
        ".insn 28ffffff7f\ntrap\n",
        ".insn 2800000080\ntrap\n",
        /* jump 0 with a 4-byte offset: to itself (valid: first instruction), loops until out of gas */
        ".insn 2800000000\n",
        /* jump to L (one past the last instruction) */
        ".insn 2805000000\n",
        /* branch_eq r0, r0 (0xAA: rA = 10, rB = 10) with offsets: +6 (next instr), -1, into own bytes */
        "fallthrough\n.insn aaaa05000000\ntrap\ntrap\n",
        "fallthrough\n.insn aaaaffffffff\ntrap\n",
        "fallthrough\n.insn aaaa02000000\ntrap\n",
        /* branch_eq_imm r7, -1, +0x7FFFFFFF with 4-byte immediate: lengths 1+1+4+4 */
        "fallthrough\n.insn 5147ffffffffffffff7f\ntrap\n",
    };
    unsigned runs = 0;
    for (size_t k = 0; k < NELEM(progs); k++) {
        for (int r7 = 0; r7 < 2; r7++) {
            javm_state init = state_with(57);
            init.regs[7] = r7 ? MAXU : 0;
            init.regs[10] = 5;
            jc_opts o = { .model = JAVM_GAS_PIPELINE, .resumes = 2, .resume_gas = 11 };
            jc_result r;
            runs += all_ways(progs[k], BOTH, &init, &o, &r);
        }
    }
    /* a long forward jump over 70,000 one-byte traps (a 3-byte offset) and back */
    size_t cap = 1 << 20;
    char *src = malloc(cap);
    assert_non_null(src);
    size_t n = (size_t)snprintf(src, cap, "jump far\nback:\nload_imm r1, 7\ntrap\n");
    for (int i = 0; i < 70000; i++)
        n += (size_t)snprintf(src + n, cap - n, "trap\n");
    n += (size_t)snprintf(src + n, cap - n, "far:\nload_imm r0, 1\nbranch_eq_imm r0, 1, back\ntrap\n");
    javm_state init = state_with(1000);
    jc_opts o = { .model = JAVM_GAS_PIPELINE };
    jc_result r;
    runs += all_ways(src, BOTH, &init, &o, &r);
    assert_int_equal(r.st.regs[1], 7);
    free(src);
    printf("largest offsets: %u runs compared\n", runs);
}

/* ---- dynamic jumps ---------------------------------------------------------------------------- */

/* Self-referencing jump tables: entries that point at the jump itself (a loop that ends out of
 * gas), at each other, at L, at instructions that are not block starts; and addresses 0, odd,
 * past the table, 2^32 - 2^16 (GP: halt; JAVM: panic), 2^32 - 2, and values above 2^32 whose
 * low 32 bits select an entry. */
static void test_jump_tables(void **state)
{
    (void)state;
    static const char *const src =
        "self:\njump_ind r7, 0\n"                      /* jt[0] = self */
        "next:\nload_imm_jump_ind r8, r7, 0x55, 2\n"   /* jt[1] = next: r8 = 0x55, jump to jt[0] */
        "third:\nadd_imm_64 r9, r9, 1\n"
        "notstart:\njump_ind r9, 0\n"
        "tail:\ntrap\n"
        ".jumptable self, next, third, notstart, tail\n";
    static const uint64_t targets[] = {
        0, 1, 2, 3, 4, 6, 8, 9, 10, 11, 12, 14, 0xFFFF0000, 0xFFFEFFFE, 0xFFFFFFFE, 0xFFFFFFFF,
        UINT64_C(0x100000002), UINT64_C(0xFFFFFFFF00000004), 0x80000000, 0x7FFFFFFF,
    };
    unsigned runs = 0, halts = 0;
    for (size_t t = 0; t < NELEM(targets); t++) {
        for (int gas = 0; gas < 3; gas++) {
            javm_state init = state_with(gas == 0 ? 3 : gas == 1 ? 40 : 400);
            init.regs[7] = targets[t];
            init.regs[9] = targets[t] + 3;
            jc_opts o = { .model = JAVM_GAS_PIPELINE, .resumes = 1, .resume_gas = 17 };
            jc_result r;
            runs += all_ways(src, BOTH, &init, &o, &r);
            halts += r.ex[0].reason == JAVM_EXIT_HALT;
        }
    }
    /* the same with the jump_ind's immediate carrying the address (register 0) */
    char buf[256];
    for (size_t t = 0; t < NELEM(targets); t++) {
        snprintf(buf, sizeof buf, "self:\njump_ind r0, 0x%llx\nnext:\ntrap\n.jumptable self, next, self\n",
                 (unsigned long long)(uint32_t)targets[t]);
        javm_state init = state_with(100);
        jc_opts o = { .model = JAVM_GAS_PIPELINE };
        jc_result r;
        runs += all_ways(buf, BOTH, &init, &o, &r);
        halts += r.ex[0].reason == JAVM_EXIT_HALT;
    }
    /* load_imm_jump_ind with rA = rB: the jump uses the old value */
    for (size_t t = 0; t < 6; t++) {
        javm_state init = state_with(100);
        init.regs[7] = targets[t];
        jc_opts o = { .model = JAVM_GAS_PIPELINE };
        jc_result r;
        runs += all_ways("a:\nload_imm_jump_ind r7, r7, 4, 0\nb:\nload_imm_jump_ind r7, r7, 2, 0\ntrap\n.jumptable a, b\n",
                         BOTH, &init, &o, &r);
    }
    /* no jump table at all */
    javm_state init = state_with(100);
    init.regs[7] = 2;
    jc_opts o = { .model = JAVM_GAS_PIPELINE };
    jc_result r;
    runs += all_ways("jump_ind r7, 0\ntrap\n", BOTH, &init, &o, &r);
    assert_int_equal(r.ex[0].reason, JAVM_EXIT_PANIC);
    printf("jump tables: %u runs compared, %u GP halts\n", runs, halts);
    assert_true(halts > 0);
}

/* ---- a program that is all branches ------------------------------------------------------------- */

static void test_all_branches(void **state)
{
    (void)state;
    static const char *const ops[] = { "branch_eq", "branch_ne", "branch_lt_u", "branch_lt_s", "branch_ge_u",
                                       "branch_ge_s" };
    static const char *const iops[] = { "branch_eq_imm", "branch_ne_imm", "branch_lt_u_imm", "branch_le_u_imm",
                                        "branch_ge_u_imm", "branch_gt_u_imm", "branch_lt_s_imm", "branch_le_s_imm",
                                        "branch_ge_s_imm", "branch_gt_s_imm" };
    enum { N = 3000 };
    size_t cap = (size_t)N * 64;
    char *src = malloc(cap);
    assert_non_null(src);
    uint64_t rng = 12345;
    size_t n = 0;
    for (int i = 0; i < N; i++) {
        uint64_t r = diff_like(&rng);
        int t = (int)(r % N);
        if (r >> 40 & 1)
            n += (size_t)snprintf(src + n, cap - n, "b%d:\n%s r%d, r%d, b%d\n", i, ops[(r >> 8) % 6],
                                  (int)((r >> 12) % 13), (int)((r >> 16) % 13), t);
        else
            n += (size_t)snprintf(src + n, cap - n, "b%d:\n%s r%d, %d, b%d\n", i, iops[(r >> 8) % 10],
                                  (int)((r >> 12) % 13), (int)((int64_t)(r >> 20) % 5) - 2, t);
    }
    unsigned runs = 0;
    for (int v = 0; v < 3; v++) {
        javm_state init = state_with(v == 0 ? 5000 : v == 1 ? 777 : 30000);
        for (int g = 0; g < JAVM_NUM_REGS; g++)
            init.regs[g] = (uint64_t)((int64_t)((g * (v + 1)) % 5) - 2);
        init.pc = 0;
        jc_opts o = { .model = JAVM_GAS_PIPELINE, .resumes = 2, .resume_gas = 333 };
        jc_result r;
        runs += all_ways(src, BOTH, &init, &o, &r);
        assert_true(r.st.steps > 10);
    }
    free(src);
    printf("all branches: %u runs compared\n", runs);
}

/* ---- host calls in the middle of a block ------------------------------------------------------ */

typedef struct hscript {
    unsigned mode, calls;
    uint64_t seen;   /* hash of what the handler saw */
} hscript;

static javm_answer host_script(void *user, javm_call_kind kind, uint32_t imm, uint64_t regs[JAVM_NUM_REGS],
                               javm_memory *mem, int64_t *gas)
{
    hscript *h = user;
    javm_answer a = { true, { JAVM_EXIT_HALT, 0 } };
    h->calls++;
    h->seen = h->seen * 31 + kind * 7 + imm + (uint64_t)*gas;
    for (int g = 0; g < JAVM_NUM_REGS; g++)
        h->seen = h->seen * 31 + regs[g];
    switch ((h->mode + h->calls) % 8) {
    case 0: break;
    case 1: regs[1] = UINT64_C(0xFEDCBA9876543210); regs[12] = 3; *gas -= 5; break;
    case 2: *gas = -1; break;                  /* continue with no gas: the next block start stops */
    case 3: a.cont = false; a.exit.reason = JAVM_EXIT_HOST_CALL; a.exit.arg = imm; break;
    case 4: a.cont = false; a.exit.reason = JAVM_EXIT_PANIC; break;
    case 5: {
        uint64_t v = UINT64_C(0x1122334455667788) + h->calls;
        h->seen += (uint64_t)javm_memory_write(mem, 0x20000 + 8 * (h->calls % 4), 8, &v);
        break;
    }
    case 6: a.cont = false; a.exit.reason = JAVM_EXIT_OUT_OF_GAS; break;
    default: a.cont = false; a.exit.reason = JAVM_EXIT_PAGE_FAULT; a.exit.arg = 0x12345000; break;
    }
    return a;
}

static void test_host_calls_mid_block(void **state)
{
    (void)state;
    /* in the GP profile ecalli is no terminator: the calls sit inside one block */
    static const char *const src =
        "start:\nload_imm r1, 1\necalli 5\nadd_64 r2, r1, r1\nstore_u64 r2, 0x20000\necalli 6\n"
        "load_u64 r3, 0x20008\nadd_imm_64 r12, r12, 1\necalli 0xFFFFFFFF\nmul_64 r4, r3, r12\n"
        "ecalli 7\nbranch_ne_imm r12, 4, start\ntrap\n";
    pagemap pm = { 1, { { 0x20, JAVM_PERM_RW } } };
    unsigned runs = 0;
    for (unsigned mode = 0; mode < 9; mode++) {
        for (int gas = 0; gas < 2; gas++) {
            hscript hi = { mode, 0, 0 }, hj = hi;
            javm_state init = state_with(gas ? 1000 : 12);
            jc_opts o = opts_pages(&pm, 6);
            o.resume_gas = 50;
            if (mode < 8) {
                o.handler = host_script;
                o.user[0] = &hi;
                o.user[1] = &hj;
            }
            for (int prof = 0; prof < 2; prof++) {
                for (int m = 0; m < 2; m++) {
                    for (int baseline = 0; baseline < 2; baseline++) {
                        hi = (hscript){ mode, 0, 0 };
                        hj = hi;
                        jc_set_baseline(baseline);
                        javm_program *p = tprog_prepare_asm(src, (javm_profile)prof);
                        o.model = (javm_gas_model)m;
                        jc_result r;
                        jc_run(p, &init, &o, &r);
                        javm_program_free(p);
                        assert_int_equal(hi.calls, hj.calls);
                        assert_int_equal(hi.seen, hj.seen);
                        runs++;
                    }
                }
            }
        }
    }
    jc_set_baseline(false);
    printf("host calls: %u runs compared\n", runs);
}

/* ---- out of gas at block entry, and every start pc ---------------------------------------------- */

static void test_out_of_gas_sweep(void **state)
{
    (void)state;
    static const char *const src =
        "load_imm r1, 3\nfallthrough\n"
        "loop:\nadd_imm_64 r2, r2, 7\nstore_u32 r2, 0x20004\nload_u16 r3, 0x20004\n"
        "add_imm_64 r1, r1, -1\nbranch_ne_imm r1, 0, loop\n"
        "div_u_64 r4, r2, r3\ntrap\n";
    pagemap pm = { 1, { { 0x20, JAVM_PERM_RW } } };
    unsigned runs = 0, oog = 0;
    for (int64_t gas = -3; gas <= 90; gas++) {
        javm_state init = state_with(0);
        init.gas = gas;
        jc_opts o = opts_pages(&pm, 10);
        o.resume_gas = 2;
        jc_result r;
        runs += all_ways(src, BOTH, &init, &o, &r);
        oog += r.ex[0].reason == JAVM_EXIT_OUT_OF_GAS;
    }
    /* the extremes of the signed gas counter (a block cost subtracted from INT64_MIN + 1
     * must not wrap into "enough gas") */
    static const int64_t extremes[] = { INT64_MIN, INT64_MIN + 1, INT64_MIN + 40, INT64_MAX, INT64_MAX - 1 };
    for (size_t k = 0; k < NELEM(extremes); k++) {
        javm_state init = state_with(0);
        init.gas = extremes[k];
        jc_opts o = opts_pages(&pm, 1);
        jc_result r;
        runs += all_ways(src, BOTH, &init, &o, &r);
        if (extremes[k] < 0)
            assert_int_equal(r.ex[0].reason, JAVM_EXIT_OUT_OF_GAS);
        else /* the last run is GP's, where trap exits PANIC */
            assert_int_equal(r.ex[0].reason, JAVM_EXIT_PANIC);
    }
    printf("out-of-gas sweep: %u runs compared, %u ran out of gas first\n", runs, oog);
    assert_true(oog > 10);
}

static void test_every_start_pc(void **state)
{
    (void)state;
    static const char *const src =
        "load_imm_64 r1, 0x123456789\nadd_64 r2, r1, r1\necalli 3\nload_imm r3, -5\n"
        "jump_ind r7, 0\nx:\nstore_imm_u8 0x20000, 1\nbranch_eq r1, r2, x\ntrap\n.jumptable x\n";
    pagemap pm = { 1, { { 0x20, JAVM_PERM_RW } } };
    unsigned runs = 0;
    for (uint32_t pc = 0; pc < 48; pc++) {
        javm_state init = state_with(200);
        init.pc = pc;
        init.regs[7] = 2;
        jc_opts o = opts_pages(&pm, 3);
        jc_result r;
        runs += all_ways(src, BOTH, &init, &o, &r);
    }
    printf("start pcs: %u runs compared\n", runs);
}

/* ---- a div and a rem of the same operands (the JIT shares one division) ----------------------- */

/* Every div/rem pair of one width (and mismatched pairs, which must not be fused), with the
 * destination and operand registers drawn from a set that includes the spilled register and
 * every overlap (the div writing an operand of the rem, both writing one register), at the
 * division edge cases; from the segment start (through the fast version: two grouped loads
 * lead the segment) and from the rem itself (its own code, which the fused div jumps over). */
static void test_div_rem_pairs(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        { "div_u_64", "rem_u_64" }, { "div_s_64", "rem_s_64" }, { "div_u_32", "rem_u_32" },
        { "div_s_32", "rem_s_32" }, { "div_u_64", "rem_s_64" }, { "div_s_32", "rem_u_32" },
        { "div_u_64", "rem_u_32" }, { "rem_u_64", "div_u_64" },
    };
    static const uint64_t vals[][2] = {
        { 7, 2 }, { (uint64_t)-7, 2 }, { UINT64_C(0x8000000000000000), MAXU }, { 5, 0 },
        { 0x80000000, 0xFFFFFFFF }, { UINT64_C(0xFFFFFFFF80000000), UINT64_C(0x1FFFFFFFF) },
        { MAXU, 3 }, { UINT64_C(0x123456789ABCDEF), UINT64_C(0x100000000) },
    };
    static const unsigned regs[] = { 1, 2, 3, 12 };
    pagemap pm = { 1, { { 0x20, JAVM_PERM_RW } } };
    char src[256];
    unsigned runs = 0;
    for (size_t k = 0; k < NELEM(pairs); k++) {
        for (unsigned m = 0; m < 256; m++) {
            unsigned d1 = regs[m & 3], a = regs[(m >> 2) & 3], b = regs[(m >> 4) & 3], d2 = regs[m >> 6];
            snprintf(src, sizeof src,
                     "load_ind_u64 r5, r6, 16\nload_ind_u64 r7, r6, 8\n%s r%u, r%u, r%u\n%s r%u, r%u, r%u\n"
                     "add_64 r8, r%u, r%u\ntrap\n", pairs[k][0], d1, a, b, pairs[k][1], d2, a, b, d1, d2);
            for (int baseline = 0; baseline < 2; baseline++) {
                jc_set_baseline(baseline);
                javm_program *p = tprog_prepare_asm(src, JAVM_PROFILE_JAVM);
                for (size_t v = 0; v < NELEM(vals); v++) {
                    for (int at_rem = 0; at_rem < 2; at_rem++) {
                        javm_state init = state_with(1000);
                        init.regs[6] = 0x20000;
                        init.regs[a] = vals[v][0];
                        if (b != a)
                            init.regs[b] = vals[v][1];
                        init.regs[d1 == a || d1 == b ? 9 : d1] = 0x5555;
                        init.pc = at_rem ? 9 : 0; /* 3 + 3 + 3 bytes: the second ThreeReg */
                        jc_opts o = opts_pages(&pm, 0);
                        jc_result r;
                        jc_run(p, &init, &o, &r);
                        assert_int_equal(r.ex[0].reason, JAVM_EXIT_TRAP);
                        runs++;
                    }
                }
                javm_program_free(p);
            }
        }
    }
    jc_set_baseline(false);
    printf("div/rem pairs: %u runs compared\n", runs);
}

/* ---- accesses the JIT checks once per segment ---------------------------------------------------- */

/* Segments with two to four loads and stores through one base register (which the JIT checks
 * once at the segment start: by alignment for a one-word group, else by page offset), the
 * base moved by add_imm_64 between them, at base addresses around page edges and misaligned,
 * over a written (dirty), a writable clean, a read-only and an unmapped page; sometimes a
 * first segment writes the page so that the group's store check can pass. */
static void test_grouped_accesses(void **state)
{
    (void)state;
    static const char *const lds[] = { "load_ind_u8", "load_ind_i16", "load_ind_u32", "load_ind_u64" };
    static const char *const sts[] = { "store_ind_u8", "store_ind_u16", "store_ind_u32", "store_ind_u64" };
    static const uint32_t bases[] = { 0x20000, 0x20001, 0x20004, 0x20007, 0x20008, 0x20FF8, 0x20FFC, 0x20FFF,
                                      0x21000, 0x21FF8, 0x21FFE, 0x22000, 0x1FFFC, 0x1FFF8 };
    pagemap pm = { 3, { { 0x1F, JAVM_PERM_RW }, { 0x20, JAVM_PERM_RW }, { 0x21, JAVM_PERM_RO } } };
    uint64_t rng = 777;
    char src[512];
    unsigned runs = 0, faults = 0;
    for (int n = 0; n < 600; n++) {
        size_t len = 0;
        bool dirty_first = diff_like(&rng) & 1;
        if (dirty_first)
            len += (size_t)snprintf(src + len, sizeof src - len, "store_imm_ind_u8 r6, 1, 9\nfallthrough\n");
        int nacc = 2 + (int)(diff_like(&rng) % 3);
        for (int k = 0; k < nacc; k++) {
            uint64_t r = diff_like(&rng);
            unsigned sz = (unsigned)(r % 4), reg = 1 + (unsigned)((r >> 8) % 5);
            int off = (int)((r >> 16) % 24) - 8;
            if ((r >> 24) % 5 == 0)
                len += (size_t)snprintf(src + len, sizeof src - len, "add_imm_64 r6, r6, %d\n", (int)((r >> 32) % 17) - 8);
            len += (size_t)snprintf(src + len, sizeof src - len, "%s r%u, r6, %d\n",
                                    (r >> 40) & 1 ? sts[sz] : lds[sz], reg, off);
        }
        snprintf(src + len, sizeof src - len, "trap\n");
        uint32_t base = bases[diff_like(&rng) % NELEM(bases)];
        javm_state init = state_with(1000);
        init.regs[6] = UINT64_C(0x7700000000000000) | base; /* high bits: the address is u32 */
        for (int g = 1; g <= 5; g++)
            init.regs[g] = UINT64_C(0x0123456789ABCDEF) * (uint64_t)g;
        jc_opts o = opts_pages(&pm, 3);
        jc_result r;
        for (int baseline = 0; baseline < 2; baseline++) {
            jc_set_baseline(baseline);
            javm_program *p = tprog_prepare_asm(src, JAVM_PROFILE_JAVM);
            jc_run(p, &init, &o, &r);
            /* and entered at the first access (mid-segment: the fully checked version) */
            if (dirty_first) {
                javm_state mid = init;
                mid.pc = 4; /* store_imm_ind_u8 r6, 1, 9 (3 bytes) + fallthrough */
                jc_run(p, &mid, &o, &r);
                runs++;
            }
            javm_program_free(p);
            runs++;
            faults += r.ex[0].reason == JAVM_EXIT_PAGE_FAULT;
        }
    }
    jc_set_baseline(false);
    printf("grouped accesses: %u runs compared, %u first exits page faults\n", runs, faults);
    assert_true(faults > 0 && faults < runs);
}

/* ---- the largest programs ------------------------------------------------------------------------ */

/* n one-byte traps after a load_imm_64 (10 bytes) and an add: the JIT reserves REC_ROOM (256)
 * bytes per record, so a program of more than (JAVM_MAX_JIT_CODE_SIZE - 4096) / 256 records
 * is too large for it. */
static javm_program *big_program(size_t n)
{
    size_t L = 13 + n;
    uint8_t *code = calloc(L, 1), *mask = calloc((L + 7) / 8, 1);
    assert_true(code && mask);
    const uint8_t head[13] = { 20, 1, 0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01, 200, 0x11, 2 };
    memcpy(code, head, sizeof head);
    mask[0] |= 1;                              /* load_imm_64 at 0 */
    mask[1] |= 1 << 2;                         /* add_64 at 10 */
    for (size_t i = 13; i < L; i++)
        mask[i / 8] |= (uint8_t)(1u << (i % 8));
    javm_program *p = NULL;
    javm_prepare_opts o = { JAVM_PROFILE_JAVM, 25 };
    assert_int_equal(javm_prepare(code, L, mask, NULL, 0, &o, &p), JAVM_OK);
    free(code);
    free(mask);
    return p;
}

static void test_largest_program(void **state)
{
    (void)state;
    /* past the JIT's limit: the JIT sizes its buffer at 64 bytes a record at least (jit.c
     * REC_TYPICAL), so this many records cannot fit JAVM_MAX_JIT_CODE_SIZE: compile says
     * so, the run falls back to the interpreter and says so */
    size_t over = JAVM_MAX_JIT_CODE_SIZE / 64 + 16;
    javm_program *p = big_program(over);
    int rc = javm_program_compile(p, JAVM_GAS_PIPELINE);
    if (rc != JAVM_ERR_JIT_TOO_LARGE)
        fail_msg("a program of %zu records compiled (%s): the JIT's minimum per record changed?", over + 2,
                 javm_strerror(rc));
    assert_int_equal(javm_program_compile(p, JAVM_GAS_PIPELINE), JAVM_ERR_JIT_TOO_LARGE); /* remembered */
    for (uint32_t pc = 0; pc < 2; pc++) {
        javm_state init = state_with(100);
        init.pc = pc == 0 ? 0 : (uint32_t)(13 + over - 1);
        jc_opts o = { .model = JAVM_GAS_PIPELINE, .expect_ran = JAVM_ENGINE_INTERP };
        jc_result r;
        jc_run(p, &init, &o, &r);
        assert_int_equal(r.ran, JAVM_ENGINE_INTERP);
        assert_int_equal(r.ex[0].reason, JAVM_EXIT_TRAP);
    }
    javm_program_free(p);
    /* a million records, where the JIT's worst-case reservation (256 bytes a record) just
     * fits: compiled, and both engines agree at the first and the last instruction */
    size_t n = (JAVM_MAX_JIT_CODE_SIZE - 4096) / 256 - 64;
    p = big_program(n);
    assert_int_equal(javm_program_compile(p, JAVM_GAS_INSTR), JAVM_OK);
    for (uint32_t pc = 0; pc < 2; pc++) {
        javm_state init = state_with(100);
        init.pc = pc == 0 ? 0 : (uint32_t)(13 + n - 1);
        jc_opts o = { .model = JAVM_GAS_INSTR };
        jc_result r;
        jc_run(p, &init, &o, &r);
        assert_int_equal(r.ran, JAVM_ENGINE_JIT);
        assert_int_equal(r.ex[0].reason, JAVM_EXIT_TRAP);
        if (pc == 0)
            assert_int_equal(r.st.regs[2], UINT64_C(0x0123456789ABCDEF) * 2);
    }
    javm_program_free(p);
}

int main(void)
{
    if (!javm_jit_available()) {
        printf("test_jit_attack: this build has no JIT; skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regress_portable_popcount),
        cmocka_unit_test(test_edge_addresses),
        cmocka_unit_test(test_largest_immediates),
        cmocka_unit_test(test_largest_offsets),
        cmocka_unit_test(test_jump_tables),
        cmocka_unit_test(test_all_branches),
        cmocka_unit_test(test_host_calls_mid_block),
        cmocka_unit_test(test_out_of_gas_sweep),
        cmocka_unit_test(test_every_start_pc),
        cmocka_unit_test(test_div_rem_pairs),
        cmocka_unit_test(test_grouped_accesses),
        cmocka_unit_test(test_largest_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
