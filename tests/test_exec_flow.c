/* SPDX-License-Identifier: MIT
 * tests/test_exec_flow.c — control flow, gas and memory rules of pvm.md, written from the
 * spec: static branches and block starts (§6.1, §6.2), every djump rule (§6.3), gas model
 * values (§7.5 plus hand-computed blocks), out-of-gas semantics (§7.1), fault addresses
 * (§2.4), the handler contract (§3.2), profiles (§8), skip (§4.1) and hostile deblobs (§9.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tprog.h"

typedef struct fixture {
    javm_memory *mem;
} fixture;

static int setup(void **state)
{
    static fixture f; /* test-local storage, reset per test by setup */
    if (javm_memory_new(&f.mem))
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    javm_memory_free(f->mem);
    return 0;
}

static javm_exit run_at(const tprog *p, javm_profile prof, javm_gas_model model, uint32_t pc,
                        int64_t gas, javm_state *st, javm_memory *mem, javm_handler h, void *user)
{
    javm_program *prog = tprog_prepare(p, prof, 25);
    st->pc = pc;
    st->gas = gas;
    st->mem = mem;
    st->steps = 0;
    javm_exit ex = javm_run(prog, st, model, h, user);
    javm_program_free(prog);
    return ex;
}

static void fresh(javm_state *st) { memset(st, 0, sizeof *st); }

/* ---- static branches -------------------------------------------------------------------- */

static void test_branch_targets(void **state)
{
    fixture *f = *state;
    tprog p;
    javm_state st;
    /* 0: fallthrough | 1: load_imm φ7,1 | 4: load_imm φ8,2 | 7: jump -> 4 (not after a
     * terminator: not a valid target) */
    tprog_init(&p);
    TI(&p, 1);
    TI(&p, 51, 7, 1);
    TI(&p, 51, 8, 2);
    TI(&p, 40, 0xFD);
    fresh(&st);
    javm_exit ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
    assert_int_equal(st.pc, 7);
    assert_int_equal(st.regs[8], 2); /* the instructions before the jump ran */
    /* a branch that is not taken never validates its target */
    tprog_init(&p);
    TI(&p, 81, 0x17, 1, 0x7F); /* branch_eq_imm φ7 == 1 -> pc + 127 (beyond the code) */
    TI(&p, 0);
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
    assert_int_equal(st.pc, 4);
    fresh(&st);
    st.regs[7] = 1;
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
    assert_int_equal(st.pc, 0);
    /* taken branch to a valid target: branch_ne φ7, φ8 -> 5 (after the trap) */
    tprog_init(&p);
    TI(&p, 171, 0x87, 5);
    TI(&p, 0);
    TI(&p, 0);
    TI(&p, 51, 9, 3);
    TI(&p, 0);
    fresh(&st);
    st.regs[7] = 1;
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
    assert_int_equal(st.pc, 8);
    assert_int_equal(st.regs[9], 3);
    assert_int_equal(st.steps, 3);
    assert_int_equal(st.gas, 100 - 1 - 2);
}

/* pvm.md §10.2: a failed load_imm_jump keeps its register write, in both profiles. */
static void test_load_imm_jump_failed_keeps_write(void **state)
{
    fixture *f = *state;
    for (int prof = 0; prof < 2; prof++) {
        tprog p;
        tprog_init(&p);
        TI(&p, 80, 39, 210, 4, 1);
        TI(&p, 0);
        javm_state st;
        fresh(&st);
        javm_exit ex = run_at(&p, (javm_profile)prof, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
        assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
        assert_int_equal(st.pc, 0);
        assert_int_equal(st.regs[7], 1234);
    }
}

/* ---- dynamic jumps (pvm.md §6.3) ------------------------------------------------------- */

static void djump_prog(tprog *p)
{
    /* 0: jump_ind φ7 + 0 | 2: trap | 3: fallthrough | 4: load_imm φ8, 9 | 7: load_imm φ9, 1
     * | 10: trap. Jump table [3, 7]: entry 0 is a valid target, entry 1 is not (7 follows
     * no terminator) */
    tprog_init(p);
    TI(p, 50, 7);
    TI(p, 0);
    TI(p, 1);
    TI(p, 51, 8, 9);
    TI(p, 51, 9, 1);
    TI(p, 0);
    p->jt[0] = 3;
    p->jt[1] = 7;
    p->njt = 2;
}

static void test_djump_rules(void **state)
{
    fixture *f = *state;
    tprog p;
    djump_prog(&p);
    struct { uint64_t r7; int prof; javm_exit_reason want; uint32_t pc; } cases[] = {
        { 0, 0, JAVM_EXIT_PANIC, 0 },              /* t = 0 */
        { 1, 0, JAVM_EXIT_PANIC, 0 },              /* odd */
        { 3, 0, JAVM_EXIT_PANIC, 0 },              /* odd */
        { 6, 0, JAVM_EXIT_PANIC, 0 },              /* t > 2|j| */
        { 4, 0, JAVM_EXIT_PANIC, 0 },              /* entry 1: target not in V */
        { 2, 0, JAVM_EXIT_TRAP, 10 },              /* entry 0: arrives at 3 */
        { 0x100000002, 0, JAVM_EXIT_TRAP, 10 },    /* reduced mod 2^32 before the checks */
        { 0xFFFF0000, 0, JAVM_EXIT_PANIC, 0 },     /* no halt address in JAVM */
        { 0xFFFF0000, 1, JAVM_EXIT_HALT, 0 },      /* GP halt address, pc at the jump */
        { 2, 1, JAVM_EXIT_PANIC, 10 },             /* GP: trap panics */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        javm_state st;
        fresh(&st);
        st.regs[7] = cases[i].r7;
        javm_exit ex = run_at(&p, (javm_profile)cases[i].prof, JAVM_GAS_INSTR, 0, 100, &st, f->mem,
                              NULL, NULL);
        if (ex.reason != cases[i].want || st.pc != cases[i].pc)
            fail_msg("djump case %zu: exit %d pc %u", i, ex.reason, st.pc);
        assert_int_equal(st.regs[8], cases[i].pc == 10 ? 9 : 0);
    }
}

static void test_load_imm_jump_ind_same_regs(void **state)
{
    fixture *f = *state;
    /* 0: load_imm_jump_ind φ7 = 100, djump(old φ7 + 0) | 5: trap | 6: fallthrough | 7: trap */
    tprog p;
    tprog_init(&p);
    TI(&p, 180, 0x77, 1, 100, 0);
    TI(&p, 0);
    TI(&p, 1);
    TI(&p, 0);
    p.jt[0] = 6;
    p.njt = 1;
    javm_state st;
    fresh(&st);
    st.regs[7] = 2;
    javm_exit ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
    assert_int_equal(st.pc, 7);
    assert_int_equal(st.regs[7], 100);
    /* with a failing target the write still happens */
    fresh(&st);
    st.regs[7] = 5;
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
    assert_int_equal(st.pc, 0);
    assert_int_equal(st.regs[7], 100);
}

/* ---- positions, skip, profiles --------------------------------------------------------- */

static void test_positions_and_skip(void **state)
{
    fixture *f = *state;
    tprog p;
    javm_state st;
    /* undefined opcode at an instruction start */
    tprog_init(&p);
    TI(&p, 4);
    fresh(&st);
    javm_exit ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
    assert_int_equal(st.pc, 0);
    /* start in the middle of an instruction, and past L */
    tprog_init(&p);
    TI(&p, 51, 7, 5);
    TI(&p, 0);
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 1, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
    assert_int_equal(st.pc, 1);
    assert_int_equal(st.gas, 100);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 9, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
    assert_int_equal(st.pc, 9);
    /* skip is capped at 24: fallthrough then 29 bytes with k = 0 -> next = 25 (k = 0): Panic */
    tprog_init(&p);
    TI(&p, 1);
    uint8_t zeros[29] = { 0 };
    tprog_raw(&p, zeros, sizeof zeros);
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
    assert_int_equal(st.pc, 25);
    assert_int_equal(st.gas, 99);
    /* L = 0: the implicit trap at 0 */
    tprog_init(&p);
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_PIPELINE, 0, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
    assert_int_equal(st.pc, 0);
    assert_int_equal(st.gas, 99);
    ex = run_at(&p, JAVM_PROFILE_GP, JAVM_GAS_PIPELINE, 0, 100, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
}

static void test_profiles(void **state)
{
    fixture *f = *state;
    tprog p;
    javm_state st;
    /* unlikely (2) and ecall (3) are defined in JAVM only */
    for (uint8_t op = 2; op <= 3; op++) {
        tprog_init(&p);
        TI(&p, op);
        TI(&p, 0);
        fresh(&st);
        javm_exit ex = run_at(&p, JAVM_PROFILE_GP, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
        assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
        assert_int_equal(st.pc, 0);
        fresh(&st);
        ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 100, &st, f->mem, NULL, NULL);
        assert_int_equal(ex.reason, op == 2 ? JAVM_EXIT_TRAP : JAVM_EXIT_ECALL);
        assert_int_equal(st.pc, 1);
    }
    /* trap: Trap in JAVM, Panic in GP */
    tprog_init(&p);
    TI(&p, 0);
    fresh(&st);
    assert_int_equal(run_at(&p, JAVM_PROFILE_GP, JAVM_GAS_INSTR, 0, 5, &st, f->mem, NULL, NULL).reason,
                     JAVM_EXIT_PANIC);
    /* ecalli is not a terminator in GP: one block [ecalli, load_imm, trap] costs 3 */
    tprog_init(&p);
    TI(&p, 10, 5);
    TI(&p, 51, 8, 1);
    TI(&p, 0);
    javm_program *prog = tprog_prepare(&p, JAVM_PROFILE_GP, 25);
    assert_int_equal(javm_program_block_cost(prog, 0, JAVM_GAS_INSTR), 3);
    assert_int_equal(javm_program_block_cost(prog, 2, JAVM_GAS_INSTR), 0);
    javm_program_free(prog);
    prog = tprog_prepare(&p, JAVM_PROFILE_JAVM, 25);
    assert_int_equal(javm_program_block_cost(prog, 0, JAVM_GAS_INSTR), 1);
    assert_int_equal(javm_program_block_cost(prog, 2, JAVM_GAS_INSTR), 2);
    javm_program_free(prog);
}

/* ---- gas -------------------------------------------------------------------------------- */

typedef struct gas_case {
    uint8_t code[16];
    size_t len;
    uint8_t mask[2];
    uint32_t M;
    uint64_t pipe, instr;
} gas_case;

static void test_gas_reference_values(void **state)
{
    (void)state;
    /* pvm.md §7.5 table, then three blocks computed by hand from the §7.2 algorithm. */
    static const gas_case cases[] = {
        { { 0 }, 1, { 0x01 }, 25, 1, 1 },
        { { 1 }, 1, { 0x01 }, 25, 1, 1 },
        { { 10, 0 }, 2, { 0x01 }, 25, 97, 1 },
        { { 40, 0 }, 2, { 0x01 }, 25, 12, 1 },
        { { 51, 7, 5, 203, 135, 9, 1 }, 7, { 0x49 }, 25, 57, 3 },
        { { 56, 7, 0, 0, 2, 149, 120, 1, 1 }, 9, { 0x21, 0x01 }, 25, 23, 3 },
        { { 81, 7, 4, 1, 0 }, 5, { 0x19 }, 25, 1, 1 },
        { { 81, 7, 3, 1, 0 }, 5, { 0x19 }, 25, 17, 1 },
        { { 190, 135, 9 }, 3, { 0x01 }, 25, 1, 2 },
        /* load_u64 φ7 (done M); mul_64 waits for φ7 (+3); fallthrough: M + 3 - 3 */
        { { 58, 7, 0, 0, 2, 202, 0x77, 9, 1 }, 9, { 0x21, 0x01 }, 25, 25, 3 },
        { { 58, 7, 0, 0, 2, 202, 0x77, 9, 1 }, 9, { 0x21, 0x01 }, 50, 50, 3 },
        /* three divides, 4 slots each: cycles 0, 1, 2 -> done 62; fallthrough in cycle 3 */
        { { 203, 0x87, 9, 203, 0x87, 9, 203, 0x87, 9, 1 }, 10, { 0x49, 0x02 }, 25, 59, 4 },
        /* load_imm φ7 (done 1); move φ8 = φ7 (ready 1); divide reads φ8: start 1, done 61 */
        { { 51, 7, 5, 100, 0x78, 203, 0x88, 9, 1 }, 9, { 0x29, 0x01 }, 25, 58, 4 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        javm_program *prog;
        javm_prepare_opts o = { JAVM_PROFILE_JAVM, cases[i].M };
        assert_int_equal(javm_prepare(cases[i].code, cases[i].len, cases[i].mask, NULL, 0, &o, &prog),
                         JAVM_OK);
        uint64_t pipe = javm_program_block_cost(prog, 0, JAVM_GAS_PIPELINE);
        uint64_t instr = javm_program_block_cost(prog, 0, JAVM_GAS_INSTR);
        if (pipe != cases[i].pipe || instr != cases[i].instr)
            fail_msg("gas case %zu: pipeline %llu (want %llu), instr %llu (want %llu)", i,
                     (unsigned long long)pipe, (unsigned long long)cases[i].pipe,
                     (unsigned long long)instr, (unsigned long long)cases[i].instr);
        javm_program_free(prog);
    }
}

static void test_out_of_gas(void **state)
{
    fixture *f = *state;
    /* 0: load_imm φ7,5 | 3: fallthrough | 4: load_imm φ8,6 | 7: trap; blocks at 0 and 4, two
     * instructions each under the instruction-count model */
    tprog p;
    tprog_init(&p);
    TI(&p, 51, 7, 5);
    TI(&p, 1);
    TI(&p, 51, 8, 6);
    TI(&p, 0);
    javm_state st;
    fresh(&st);
    javm_exit ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 3, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_OUT_OF_GAS);
    assert_int_equal(st.pc, 4);     /* the unpaid block */
    assert_int_equal(st.gas, 1);    /* unchanged by the failed charge */
    assert_int_equal(st.regs[7], 5);
    assert_int_equal(st.regs[8], 0); /* nothing of that block ran */
    assert_int_equal(st.steps, 2);
    /* at the run start */
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 1, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_OUT_OF_GAS);
    assert_int_equal(st.pc, 0);
    assert_int_equal(st.gas, 1);
    assert_int_equal(st.steps, 0);
    /* resuming in the middle of a block pays nothing; at a block start it pays again */
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 7, 0, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
    assert_int_equal(st.gas, 0);
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 4, 2, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
    assert_int_equal(st.gas, 0);
    /* negative gas fails the next charge */
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, -5, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_OUT_OF_GAS);
    assert_int_equal(st.gas, -5);
    /* exact gas is enough */
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_INSTR, 0, 4, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
    assert_int_equal(st.gas, 0);
    assert_int_equal(st.steps, 4);
}

/* ---- memory faults (pvm.md §2.4) ------------------------------------------------------- */

static void test_fault_addresses(void **state)
{
    fixture *f = *state;
    javm_memory *m = f->mem;
    assert_int_equal(javm_memory_set_perm(m, 0x20000, 0x1000, JAVM_PERM_RW), JAVM_OK);
    assert_int_equal(javm_memory_set_perm(m, 0x30000, 0x1000, JAVM_PERM_RO), JAVM_OK);
    assert_int_equal(javm_memory_set_perm(m, 0x2000, 0x1000, JAVM_PERM_RW), JAVM_OK);
    assert_int_equal(javm_memory_set_perm(m, 0xFFFFF000, 0x1000, JAVM_PERM_RW), JAVM_OK);
    struct { uint8_t code[8]; size_t n; uint64_t r7; javm_exit_reason want; uint32_t addr; } cases[] = {
        /* store_ind_u16 [φ7 + 0] = φ8 at 0x20FFF: the second page is NONE (byte1: rA = 8
         * the value, rB = 7 the base) */
        { { 121, 0x78 }, 2, 0x20FFF, JAVM_EXIT_PAGE_FAULT, 0x21000 },
        /* load_ind_u8 from an unmapped page */
        { { 124, 0x79 }, 2, 0x40004, JAVM_EXIT_PAGE_FAULT, 0x40000 },
        /* store to a read-only page */
        { { 120, 0x78 }, 2, 0x30010, JAVM_EXIT_PAGE_FAULT, 0x30000 },
        /* split read whose first page is NONE: the lowest inaccessible byte's page */
        { { 126, 0x79 }, 2, 0x1FFF, JAVM_EXIT_PAGE_FAULT, 0x1000 },
        /* an access running past 2^32 over accessible pages panics */
        { { 130, 0x79 }, 2, 0xFFFFFFFC, JAVM_EXIT_PANIC, 0 },
        { { 123, 0x78 }, 2, 0xFFFFFFF9, JAVM_EXIT_PANIC, 0 },
        /* in range at the very top */
        { { 130, 0x79 }, 2, 0xFFFFFFF8, JAVM_EXIT_TRAP, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tprog p;
        tprog_init(&p);
        tprog_ins(&p, cases[i].code, cases[i].n);
        TI(&p, 0);
        javm_state st;
        fresh(&st);
        st.regs[7] = cases[i].r7;
        st.regs[8] = 0xBEEF;
        st.regs[9] = 0x77;
        javm_exit ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_PIPELINE, 0, 100, &st, m, NULL, NULL);
        if (ex.reason != cases[i].want || (ex.reason == JAVM_EXIT_PAGE_FAULT && ex.arg != cases[i].addr))
            fail_msg("fault case %zu: exit %d arg 0x%x", i, ex.reason, ex.arg);
        if (ex.reason != JAVM_EXIT_TRAP) {
            assert_int_equal(st.pc, 0);      /* pc stays at the faulting instruction */
            assert_int_equal(st.regs[9], 0x77); /* no register written */
        }
    }
    /* the split store wrote nothing, not even its accessible byte */
    uint8_t b = 1;
    javm_memory_peek(m, 0x20FFF, 1, &b);
    assert_int_equal(b, 0);
}

static void test_memory_api(void **state)
{
    fixture *f = *state;
    javm_memory *m = f->mem;
    uint32_t fa = 0;
    uint8_t buf[16] = { 1, 2, 3 };
    assert_int_equal(javm_memory_set_perm(m, 0x1001, 0x1000, JAVM_PERM_RW), JAVM_ERR_MEM_RANGE);
    assert_int_equal(javm_memory_set_perm(m, 0xFFFFF000, 0x2000, JAVM_PERM_RW), JAVM_ERR_MEM_RANGE);
    assert_int_equal(javm_memory_set_perm(m, 0x1000, 0x1000, JAVM_PERM_RW), JAVM_OK);
    assert_int_equal(javm_memory_probe(m, 0x1FF8, 16, JAVM_ACCESS_READ, &fa), JAVM_ERR_MEM_ACCESS);
    assert_int_equal(fa, 0x2000);
    assert_int_equal(javm_memory_write(m, 0x1FF8, 16, buf), JAVM_ERR_MEM_ACCESS);
    assert_int_equal(javm_memory_is_dirty(m, 1), false); /* failed without effect */
    assert_int_equal(javm_memory_write(m, 0x1FF0, 16, buf), JAVM_OK);
    assert_int_equal(javm_memory_probe(m, 0x1000, 0, JAVM_ACCESS_WRITE, NULL), JAVM_OK);
    assert_int_equal(javm_memory_peek(m, 0xFFFFFFFF, 2, buf), JAVM_ERR_MEM_RANGE);
    /* lengths near 2^64 must not wrap around into a range that looks fine */
    assert_int_equal(javm_memory_probe(m, 0x1000, UINT64_MAX - 0xFF0, JAVM_ACCESS_READ, &fa),
                     JAVM_ERR_MEM_ACCESS);
    assert_int_equal(fa, 0x2000);
    assert_int_equal(javm_memory_peek(m, 0x1000, UINT64_MAX - 0xFF0, buf), JAVM_ERR_MEM_RANGE);
    assert_int_equal(javm_memory_poke(m, 0x1000, UINT64_MAX, buf), JAVM_ERR_MEM_RANGE);
    assert_int_equal(javm_memory_read(m, 0x1000, UINT64_MAX - 0xFF0, buf), JAVM_ERR_MEM_ACCESS);
    /* poke ignores permissions and marks the page dirty; the record keeps first-write order */
    assert_int_equal(javm_memory_poke(m, 0x5000, 3, buf), JAVM_OK);
    size_t n;
    const uint32_t *d = javm_memory_dirty(m, &n);
    assert_int_equal(n, 2);
    assert_int_equal(d[0], 1);
    assert_int_equal(d[1], 5);
    assert_int_equal(javm_memory_get_perm(m, 5), JAVM_PERM_NONE);
    javm_memory_clear_dirty(m);
    assert_int_equal(javm_memory_is_dirty(m, 5), false);
    javm_memory_dirty(m, &n);
    assert_int_equal(n, 0);
    /* set_perm keeps contents; reset clears everything */
    assert_int_equal(javm_memory_set_perm(m, 0x5000, 0x1000, JAVM_PERM_RO), JAVM_OK);
    uint8_t out[3];
    assert_int_equal(javm_memory_read(m, 0x5000, 3, out), JAVM_OK);
    assert_memory_equal(out, buf, 3);
    assert_int_equal(javm_memory_write(m, 0x5000, 1, buf), JAVM_ERR_MEM_ACCESS);
    javm_memory_reset(m);
    assert_int_equal(javm_memory_get_perm(m, 5), JAVM_PERM_NONE);
    javm_memory_peek(m, 0x5000, 3, out);
    assert_int_equal(out[0] | out[1] | out[2], 0);
}

/* ---- handler (pvm.md §3.2) ------------------------------------------------------------- */

typedef struct hstate {
    int calls;
    uint32_t imm;
    javm_call_kind kind;
    javm_answer answer;
    int64_t take;
} hstate;

static javm_answer handler(void *user, javm_call_kind kind, uint32_t imm, uint64_t regs[13],
                           javm_memory *mem, int64_t *gas)
{
    (void)mem;
    hstate *h = user;
    h->calls++;
    h->imm = imm;
    h->kind = kind;
    regs[7] += 1;
    *gas -= h->take;
    return h->answer;
}

static void test_handler(void **state)
{
    fixture *f = *state;
    /* 0: ecalli 5 | 2: load_imm φ8, 1 | 5: trap */
    tprog p;
    tprog_init(&p);
    TI(&p, 10, 5);
    TI(&p, 51, 8, 1);
    TI(&p, 0);
    javm_state st;
    hstate h = { 0 };
    h.answer.cont = true;
    h.take = 10;
    fresh(&st);
    javm_exit ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_PIPELINE, 0, 1000, &st, f->mem, handler, &h);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
    assert_int_equal(st.pc, 5);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.imm, 5);
    assert_int_equal(h.kind, JAVM_CALL_ECALLI);
    assert_int_equal(st.regs[7], 1);
    assert_int_equal(st.regs[8], 1);
    /* ecalli block 97, handler 10, then the block at 2 (load_imm; trap: cost 1) */
    assert_int_equal(st.gas, 1000 - 97 - 10 - 1);
    assert_int_equal(st.steps, 3);
    /* EXIT(r): pc = next(n) whatever r is; register writes kept */
    h = (hstate){ 0 };
    h.answer = (javm_answer){ false, { JAVM_EXIT_PANIC, 0 } };
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_PIPELINE, 0, 1000, &st, f->mem, handler, &h);
    assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
    assert_int_equal(st.pc, 2);
    assert_int_equal(st.regs[7], 1);
    /* no handler: HostCall(imm) at the next instruction */
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_PIPELINE, 0, 1000, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_HOST_CALL);
    assert_int_equal(ex.arg, 5);
    assert_int_equal(st.pc, 2);
    /* a one-byte immediate 0x80 is u32 0xFFFFFF80 */
    tprog_init(&p);
    TI(&p, 10, 0x80);
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_PIPELINE, 0, 1000, &st, f->mem, NULL, NULL);
    assert_int_equal(ex.arg, 0xFFFFFF80u);
    /* ecall calls the handler with kind ECALL and imm 0; the handler may raise gas */
    tprog_init(&p);
    TI(&p, 3);
    TI(&p, 0);
    h = (hstate){ 0 };
    h.answer.cont = true;
    h.take = -500;
    fresh(&st);
    ex = run_at(&p, JAVM_PROFILE_JAVM, JAVM_GAS_PIPELINE, 0, 200, &st, f->mem, handler, &h);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
    assert_int_equal(h.kind, JAVM_CALL_ECALL);
    assert_int_equal(h.imm, 0);
    assert_int_equal(st.gas, 200 - 97 + 500 - 1);
}

/* ---- hostile deblobs (pvm.md §9.2) ----------------------------------------------------- */

static void test_bad_blobs(void **state)
{
    (void)state;
    javm_program *p = NULL;
    struct { uint8_t b[16]; size_t n; int want; } cases[] = {
        { { 0x80 }, 1, JAVM_ERR_BLOB_TRUNCATED },                  /* truncated varint */
        { { 0x80, 0x05, 0, 0 }, 4, JAVM_ERR_BLOB_VARINT },         /* 5 in two bytes */
        { { 0 }, 1, JAVM_ERR_BLOB_TRUNCATED },                     /* no z byte */
        { { 0, 0, 10, 1, 2 }, 5, JAVM_ERR_BLOB_TRUNCATED },        /* code past the end */
        { { 1, 5, 1, 0, 0, 0, 0, 0, 0, 1 }, 10, JAVM_ERR_BLOB_JT_WIDTH }, /* z > 4 */
        { { 1, 0, 1, 0, 1 }, 5, JAVM_ERR_BLOB_JT_WIDTH },          /* z = 0 with entries */
        { { 1, 1, 2, 5, 1, 0, 0x01 }, 7, JAVM_ERR_JT_ENTRY },      /* entry 5 >= L = 2 */
        { { 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 13, JAVM_ERR_BLOB_TRUNCATED }, /* bitmask short */
        { { 0, 0, 1, 0, 1, 7 }, 6, JAVM_ERR_BLOB_TRAILING },       /* trailing byte */
        { { 0, 0, 1, 0, 3 }, 5, JAVM_ERR_BITMASK_PADDING },        /* padding bit set */
        { { 0xF1, 0, 0, 0, 0, 1, 0, 0 }, 8, JAVM_ERR_BLOB_TOO_LARGE }, /* |j| = 2^32 */
        { { 0xFF, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0 }, 11, JAVM_ERR_BLOB_VARINT }, /* 2^32 in 9 bytes */
        { { 0, 0, 0 }, 3, JAVM_OK },                               /* L = 0 is valid */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = javm_prepare_blob(cases[i].b, cases[i].n, NULL, &p);
        if (rc != cases[i].want)
            fail_msg("blob case %zu: got %d (%s), want %d", i, rc, javm_strerror(rc), cases[i].want);
        javm_program_free(p);
        p = NULL;
    }
    /* a valid blob with a jump table, cut at every length: an error each time, never a read
     * out of bounds (ASan checks this: each prefix is copied to an exact-size buffer) */
    /* |j| = 2, z = 2, L = 129 (the two-byte varint 0x80 0x81) */
    uint8_t blob[200];
    size_t n = 0;
    blob[n++] = 2;               /* |j| */
    blob[n++] = 2;               /* z */
    blob[n++] = 0x80;            /* L = 129: 0x80 0x81 */
    blob[n++] = 0x81;
    blob[n++] = 1; blob[n++] = 0;   /* entry 1 */
    blob[n++] = 3; blob[n++] = 0;   /* entry 3 */
    uint8_t code[129] = { 1, 51, 7, 40 };
    memcpy(blob + n, code, 129);
    n += 129;
    uint8_t mask[17] = { 0x0B };   /* starts at 0, 1, 3 */
    mask[16] = 0x01;               /* and at 128 */
    memcpy(blob + n, mask, 17);
    n += 17;
    assert_int_equal(javm_prepare_blob(blob, n, NULL, &p), JAVM_OK);
    javm_program_free(p);
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, blob, cut);
        p = NULL;
        int rc = javm_prepare_blob(copy, cut, NULL, &p);
        assert_true(rc < 0);
        assert_null(p);
        free(copy);
    }
    /* javm_prepare itself: padding and entries */
    uint8_t c2[3] = { 0, 0, 0 }, k2 = 0x09; /* bit 3 set for L = 3 */
    assert_int_equal(javm_prepare(c2, 3, &k2, NULL, 0, NULL, &p), JAVM_ERR_BITMASK_PADDING);
    uint32_t e = 3;
    k2 = 1;
    assert_int_equal(javm_prepare(c2, 3, &k2, &e, 1, NULL, &p), JAVM_ERR_JT_ENTRY);
    assert_int_equal(javm_prepare(c2, (uint64_t)JAVM_MAX_CODE_SIZE + 1, &k2, NULL, 0, NULL, &p),
                     JAVM_ERR_CODE_TOO_LARGE);
    javm_prepare_opts bad = { JAVM_PROFILE_JAVM, JAVM_MAX_MEM_LATENCY + 1 };
    assert_int_equal(javm_prepare(c2, 3, &k2, NULL, 0, &bad, &p), JAVM_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_branch_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_imm_jump_failed_keeps_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_djump_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_imm_jump_ind_same_regs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_positions_and_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gas_reference_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_gas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_blobs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
