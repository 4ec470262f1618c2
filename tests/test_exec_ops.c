/* SPDX-License-Identifier: MIT
 * tests/test_exec_ops.c — opcode semantics written from pvm.md §5, independent of the
 * vectors: every arithmetic edge case (division by zero, MIN / -1, 32-bit sign extension,
 * shift and rotate amounts >= width, mul_upper forms, cmov, min/max), loads and stores,
 * immediates. Each case runs one instruction followed by a trap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tprog.h"

#define MAXU UINT64_MAX
#define MIN64 (UINT64_C(1) << 63)

/* Runs prog (already built, ending in a trap) from pc 0 with registers r7, r8 and r9
 * preset; returns the state. */
static javm_exit run1(const tprog *p, javm_profile prof, uint64_t r7, uint64_t r8, uint64_t r9,
                      javm_state *st, javm_memory *mem)
{
    javm_program *prog = tprog_prepare(p, prof, 25);
    memset(st, 0, sizeof *st);
    st->regs[7] = r7;
    st->regs[8] = r8;
    st->regs[9] = r9;
    st->gas = 1000;
    st->mem = mem;
    javm_exit ex = javm_run(prog, st, JAVM_GAS_PIPELINE, NULL, NULL);
    javm_program_free(prog);
    return ex;
}

typedef struct case3 {
    uint8_t op;
    uint64_t a, b, want;
} case3;

/* ThreeReg: φ9 = op(φ7, φ8), φ9 preset to 0x55 (for the cmov cases). */
static const case3 three[] = {
    { 190, 0x7FFFFFFF, 1, 0xFFFFFFFF80000000 },      /* add_32 sign-extends */
    { 190, 0xFFFFFFFF00000001, 0x100000002, 3 },      /* add_32 ignores the high halves */
    { 191, 0, 1, MAXU },                              /* sub_32 */
    { 191, 0x100000005, 3, 2 },
    { 192, 0x10000, 0x10000, 0 },                     /* mul_32 truncates */
    { 192, 0x40000000, 2, 0xFFFFFFFF80000000 },
    { 193, 5, 0, MAXU },                              /* div_u_32 by zero */
    { 193, 0x1FFFFFFFF, 2, 0x7FFFFFFF },
    { 193, 0x80000000, 1, 0xFFFFFFFF80000000 },       /* unsigned result still sign-extended */
    { 194, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFF80000000 }, /* div_s_32 MIN / -1 */
    { 194, 7, 0x100000000, MAXU },                    /* div_s_32 by (32-bit) zero */
    { 194, 0xFFFFFFF9, 2, 0xFFFFFFFFFFFFFFFD },       /* -7 / 2 = -3 (toward zero) */
    { 195, 0x180000000, 0, 0xFFFFFFFF80000000 },      /* rem_u_32 by zero: sx32(a32) */
    { 195, 7, 3, 1 },
    { 196, 0x80000000, 0xFFFFFFFF, 0 },               /* rem_s_32 MIN % -1 */
    { 196, 0xFFFFFFF9, 0, 0xFFFFFFFFFFFFFFF9 },       /* rem_s_32 by zero: sx32(a) */
    { 196, 0xFFFFFFF9, 2, MAXU },                     /* -7 % 2 = -1 */
    { 196, 7, 0xFFFFFFFE, 1 },                        /* 7 % -2 = 1: sign of the dividend */
    { 197, 1, 33, 2 },                                /* shlo_l_32 amount mod 32 */
    { 197, 1, 31, 0xFFFFFFFF80000000 },
    { 198, 0x80000000, 32, 0xFFFFFFFF80000000 },      /* shlo_r_32 by 32 = by 0 */
    { 198, 0xFFFFFFFF80000000, 31, 1 },
    { 199, 0x80000000, 31, MAXU },                    /* shar_r_32 */
    { 199, 0x80000000, 63, MAXU },
    { 199, 0x40000000, 62, 1 },
    { 200, MAXU, 1, 0 },                              /* add_64 wraps */
    { 201, 0, 1, MAXU },                              /* sub_64 */
    { 202, 0x100000000, 0x100000000, 0 },             /* mul_64 */
    { 203, 9, 0, MAXU },                              /* div_u_64 by zero */
    { 203, 10, 3, 3 },
    { 204, MIN64, MAXU, MIN64 },                      /* div_s_64 MIN / -1 */
    { 204, 5, 0, MAXU },
    { 204, (uint64_t)-7, 2, (uint64_t)-3 },
    { 205, 10, 0, 10 },                               /* rem_u_64 by zero */
    { 205, 10, 3, 1 },
    { 206, MIN64, MAXU, 0 },                          /* rem_s_64 MIN % -1 */
    { 206, (uint64_t)-7, 0, (uint64_t)-7 },
    { 206, (uint64_t)-7, 2, MAXU },
    { 207, 1, 65, 2 },                                /* shlo_l_64 amount mod 64 */
    { 208, MIN64, 64, MIN64 },                        /* shlo_r_64 by 64 = by 0 */
    { 208, MIN64, 63, 1 },
    { 209, MIN64, 63, MAXU },                         /* shar_r_64 */
    { 209, MIN64, 127, MAXU },
    { 210, 0xF0F0, 0xFF00, 0xF000 },
    { 211, 0xF0F0, 0xFF00, 0x0FF0 },
    { 212, 0xF0F0, 0xFF00, 0xFFF0 },
    { 213, MAXU, MAXU, 0 },                           /* mul_upper_s_s (-1)(-1) = 1 */
    { 213, MAXU, 2, MAXU },                           /* (-1)(2) = -2: high word -1 */
    { 213, MIN64, MIN64, UINT64_C(1) << 62 },         /* 2^126 */
    { 214, MAXU, MAXU, MAXU - 1 },                    /* mul_upper_u_u */
    { 214, UINT64_C(1) << 32, UINT64_C(1) << 32, 1 },
    { 215, MAXU, MAXU, MAXU },                        /* s_u: (-1)(2^64-1): floor -> -1 */
    { 215, 2, MAXU, 1 },
    { 215, MIN64, 2, MAXU },                          /* (-2^63)(2) = -2^64: high -1 */
    { 216, 1, MAXU, 1 },                              /* set_lt_u */
    { 217, 1, MAXU, 0 },                              /* set_lt_s: 1 < -1 false */
    { 217, MAXU, 1, 1 },
    { 218, 42, 0, 42 },                               /* cmov_iz taken */
    { 218, 42, 1, 0x55 },                             /* not taken: unchanged */
    { 219, 42, 0, 0x55 },                             /* cmov_nz */
    { 219, 42, 7, 42 },
    { 220, 0x8000000000000001, 1, 3 },                /* rot_l_64 */
    { 220, 0x8000000000000001, 65, 3 },
    { 221, 0x80000001, 1, 3 },                        /* rot_l_32 */
    { 221, 0x40000000, 33, 0xFFFFFFFF80000000 },
    { 222, 1, 1, MIN64 },                             /* rot_r_64 */
    { 222, 1, 64, 1 },
    { 223, 1, 1, 0xFFFFFFFF80000000 },                /* rot_r_32 */
    { 223, 0x100000001, 33, 0xFFFFFFFF80000000 },
    { 224, 0xFF, 0x0F, 0xF0 },                        /* and_inv */
    { 225, 0, MAXU, 0 },                              /* or_inv */
    { 225, 0, 0, MAXU },
    { 226, 0x1234, 0x1234, MAXU },                    /* xnor */
    { 227, MAXU, 1, 1 },                              /* max (signed) */
    { 228, MAXU, 1, MAXU },                           /* max_u */
    { 229, MAXU, 1, MAXU },                           /* min (signed) */
    { 230, MAXU, 1, 1 },                              /* min_u */
};

static void test_three_reg(void **state)
{
    (void)state;
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    for (size_t i = 0; i < sizeof three / sizeof three[0]; i++) {
        tprog p;
        tprog_init(&p);
        TI(&p, three[i].op, 0x87, 9); /* rA = 7, rB = 8, rD = 9 */
        TI(&p, 0);
        javm_state st;
        javm_exit ex = run1(&p, JAVM_PROFILE_JAVM, three[i].a, three[i].b, 0x55, &st, mem);
        if (ex.reason != JAVM_EXIT_TRAP || st.regs[9] != three[i].want)
            fail_msg("case %zu op %u: exit %d, got 0x%llx want 0x%llx", i, three[i].op,
                     ex.reason, (unsigned long long)st.regs[9], (unsigned long long)three[i].want);
        assert_int_equal(st.regs[7], three[i].a); /* sources untouched */
        assert_int_equal(st.regs[8], three[i].b);
    }
    javm_memory_free(mem);
}

/* ThreeReg with the destination byte 0x20 names φ12 (whole byte, clamped). */
static void test_three_reg_dest_clamp(void **state)
{
    (void)state;
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    tprog p;
    tprog_init(&p);
    TI(&p, 200, 0x87, 0x20);
    TI(&p, 0);
    javm_state st;
    run1(&p, JAVM_PROFILE_JAVM, 2, 3, 0, &st, mem);
    assert_int_equal(st.regs[12], 5);
    /* a nibble of 15 names φ12 too: φ12 = φ15(=φ12) + φ8 */
    tprog_init(&p);
    TI(&p, 200, 0x8F, 12);
    TI(&p, 0);
    javm_program *prog = tprog_prepare(&p, JAVM_PROFILE_JAVM, 25);
    memset(&st, 0, sizeof st);
    st.regs[12] = 10;
    st.regs[8] = 1;
    st.gas = 100;
    st.mem = mem;
    javm_run(prog, &st, JAVM_GAS_PIPELINE, NULL, NULL);
    assert_int_equal(st.regs[12], 11);
    javm_program_free(prog);
    javm_memory_free(mem);
}

typedef struct case2 {
    uint8_t op;
    uint64_t b;      /* φ8, the source */
    uint8_t imm[4];
    uint8_t nimm;
    uint64_t want;   /* φ9 */
} case2;

/* TwoRegOneImm: φ9 = op(φ8, X) with byte1 = 0x89 (rA = 9, rB = 8); φ9 preset to 0x55. */
static const case2 two_imm[] = {
    { 131, 0x7FFFFFFF, { 1 }, 1, 0xFFFFFFFF80000000 },  /* add_imm_32 */
    { 132, 0x1234, { 0xFF }, 1, 0x1234 },                /* and_imm: 0xFF sign-extends to all ones */
    { 133, 0, { 0xFF }, 1, MAXU },                        /* xor_imm */
    { 134, 1, { 0x80 }, 1, 0xFFFFFFFFFFFFFF81 },         /* or_imm */
    { 135, 0x10000, { 0, 0, 1 }, 3, 0 },                  /* mul_imm_32 */
    { 136, 5, { 0xFF }, 1, 1 },                           /* set_lt_u_imm: 5 < 2^64-1 */
    { 137, 5, { 0xFF }, 1, 0 },                           /* set_lt_s_imm: 5 < -1 false */
    { 138, 1, { 33 }, 1, 2 },                             /* shlo_l_imm_32 mod 32 */
    { 139, 0x80000000, { 31 }, 1, 1 },                    /* shlo_r_imm_32 */
    { 140, 0x80000000, { 31 }, 1, MAXU },                 /* shar_r_imm_32 */
    { 141, 1, { 0 }, 1, MAXU },                           /* neg_add_imm_32: 0 - 1 */
    { 141, 0, { 0, 0, 0, 0x80 }, 4, 0xFFFFFFFF80000000 },
    { 142, MAXU, { 0xFF }, 1, 0 },                        /* set_gt_u_imm */
    { 142, MAXU, { 1 }, 1, 1 },
    { 143, 1, { 0xFF }, 1, 1 },                           /* set_gt_s_imm: 1 > -1 */
    { 144, 31, { 1 }, 1, 0xFFFFFFFF80000000 },            /* shlo_l_imm_alt_32: X << b */
    { 145, 4, { 0x80 }, 1, 0x0FFFFFF8 },                  /* shlo_r_imm_alt_32 */
    { 146, 4, { 0x80 }, 1, 0xFFFFFFFFFFFFFFF8 },          /* shar_r_imm_alt_32 */
    { 147, 0, { 7 }, 1, 7 },                              /* cmov_iz_imm */
    { 147, 1, { 7 }, 1, 0x55 },
    { 148, 0, { 7 }, 1, 0x55 },                           /* cmov_nz_imm */
    { 148, 2, { 7 }, 1, 7 },
    { 149, 1, { 0xFF }, 1, 0 },                           /* add_imm_64 */
    { 150, 3, { 0xFF }, 1, (uint64_t)-3 },                /* mul_imm_64 */
    { 151, 1, { 64 }, 1, 1 },                             /* shlo_l_imm_64: 64 mod 64 = 0 */
    { 151, 1, { 63 }, 1, MIN64 },
    { 152, MIN64, { 63 }, 1, 1 },                         /* shlo_r_imm_64 */
    { 153, MIN64, { 63 }, 1, MAXU },                      /* shar_r_imm_64 */
    { 154, 7, { 5 }, 1, (uint64_t)-2 },                   /* neg_add_imm_64 */
    { 155, 65, { 1 }, 1, 2 },                             /* shlo_l_imm_alt_64 */
    { 156, 1, { 0x80 }, 1, 0x7FFFFFFFFFFFFFC0 },          /* shlo_r_imm_alt_64 */
    { 157, 1, { 0x80 }, 1, 0xFFFFFFFFFFFFFFC0 },          /* shar_r_imm_alt_64 */
    { 158, 1, { 1 }, 1, MIN64 },                          /* rot_r_64_imm */
    { 159, 1, { 1 }, 1, MIN64 },                          /* rot_r_64_imm_alt */
    { 159, 65, { 1 }, 1, MIN64 },
    { 160, 1, { 1 }, 1, 0xFFFFFFFF80000000 },             /* rot_r_32_imm */
    { 160, 2, { 33 }, 1, 1 },
    { 161, 33, { 1 }, 1, 0xFFFFFFFF80000000 },            /* rot_r_32_imm_alt */
};

static void test_two_reg_imm(void **state)
{
    (void)state;
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    for (size_t i = 0; i < sizeof two_imm / sizeof two_imm[0]; i++) {
        tprog p;
        tprog_init(&p);
        uint8_t bytes[6] = { two_imm[i].op, 0x89 };
        memcpy(bytes + 2, two_imm[i].imm, two_imm[i].nimm);
        tprog_ins(&p, bytes, 2u + two_imm[i].nimm);
        TI(&p, 0);
        javm_state st;
        javm_exit ex = run1(&p, JAVM_PROFILE_JAVM, 0, two_imm[i].b, 0x55, &st, mem);
        if (ex.reason != JAVM_EXIT_TRAP || st.regs[9] != two_imm[i].want)
            fail_msg("case %zu op %u: got 0x%llx want 0x%llx", i, two_imm[i].op,
                     (unsigned long long)st.regs[9], (unsigned long long)two_imm[i].want);
    }
    javm_memory_free(mem);
}

/* TwoReg: φ9 = op(φ8), byte1 = 0x89 (high nibble rA = 8 source, low rD = 9). */
static const case3 two_reg[] = {
    { 100, 0, 0x1234, 0x1234 },
    { 102, 0, MAXU, 64 },
    { 103, 0, 0xFFFFFFFF00000001, 1 },
    { 104, 0, 0, 64 },
    { 104, 0, 1, 63 },
    { 105, 0, 0, 32 },
    { 105, 0, 0x100000000, 32 },
    { 105, 0, 1, 31 },
    { 106, 0, 0, 64 },
    { 106, 0, 8, 3 },
    { 107, 0, 0x100000000, 32 },
    { 107, 0, 0x80000000, 31 },
    { 108, 0, 0x80, 0xFFFFFFFFFFFFFF80 },
    { 108, 0, 0x17F, 0x7F },
    { 109, 0, 0x8000, 0xFFFFFFFFFFFF8000 },
    { 110, 0, 0xFFFFFFFF, 0xFFFF },
    { 111, 0, 0x0102030405060708, 0x0807060504030201 },
};

static void test_two_reg(void **state)
{
    (void)state;
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    for (size_t i = 0; i < sizeof two_reg / sizeof two_reg[0]; i++) {
        tprog p;
        tprog_init(&p);
        TI(&p, two_reg[i].op, 0x89);
        TI(&p, 0);
        javm_state st;
        run1(&p, JAVM_PROFILE_JAVM, 0, two_reg[i].b, 0x55, &st, mem);
        if (st.regs[9] != two_reg[i].want)
            fail_msg("case %zu op %u: got 0x%llx want 0x%llx", i, two_reg[i].op,
                     (unsigned long long)st.regs[9], (unsigned long long)two_reg[i].want);
    }
    javm_memory_free(mem);
}

static void test_sbrk_panics(void **state)
{
    (void)state;
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    for (int prof = 0; prof < 2; prof++) {
        tprog p;
        tprog_init(&p);
        TI(&p, 1);
        TI(&p, 101, 0x89);
        TI(&p, 0);
        javm_state st;
        javm_exit ex = run1(&p, (javm_profile)prof, 0, 5, 0x55, &st, mem);
        assert_int_equal(ex.reason, JAVM_EXIT_PANIC);
        assert_int_equal(st.pc, 1);
        assert_int_equal(st.regs[9], 0x55);
    }
    javm_memory_free(mem);
}

/* Immediate loads (pvm.md §4.3, §10.2): sign extension and load_imm_64's 8 bytes via ζ. */
static void test_immediates(void **state)
{
    (void)state;
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    tprog p;
    javm_state st;
    tprog_init(&p);
    TI(&p, 51, 7, 0xFF);                    /* load_imm φ7, -1 */
    TI(&p, 51, 8, 0x00, 0x80);              /* two bytes: 0x8000 -> sign-extended */
    TI(&p, 51, 9);                          /* no immediate bytes: 0 */
    TI(&p, 20, 10, 1, 2, 3, 4, 5, 6, 7, 0x88);
    TI(&p, 0);
    run1(&p, JAVM_PROFILE_JAVM, 1, 1, 1, &st, mem);
    assert_int_equal(st.regs[7], MAXU);
    assert_int_equal(st.regs[8], 0xFFFFFFFFFFFF8000);
    assert_int_equal(st.regs[9], 0);
    assert_int_equal(st.regs[10], 0x8807060504030201);
    /* load_imm_64 at the end of the code reads its 8 bytes through ζ (zeros past L) */
    tprog_init(&p);
    TI(&p, 20, 7, 1, 2);
    run1(&p, JAVM_PROFILE_JAVM, 5, 0, 0, &st, mem);
    assert_int_equal(st.regs[7], 0x0201);
    /* the bitmask ends early: the last instruction's operand runs to L, skip = L - pc - 1 */
    tprog_init(&p);
    TI(&p, 51, 7, 0x80);
    javm_exit ex = run1(&p, JAVM_PROFILE_JAVM, 5, 0, 0, &st, mem);
    assert_int_equal(st.regs[7], 0xFFFFFFFFFFFFFF80);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP); /* implicit trap at L */
    assert_int_equal(st.pc, 3);
    javm_memory_free(mem);
}

/* Loads and stores of every width, sign extension, and the indirect forms. */
static void test_loads_stores(void **state)
{
    (void)state;
    javm_memory *mem;
    assert_int_equal(javm_memory_new(&mem), JAVM_OK);
    assert_int_equal(javm_memory_set_perm(mem, 0x20000, 0x2000, JAVM_PERM_RW), JAVM_OK);
    tprog p;
    tprog_init(&p);
    TI(&p, 62, 7, 0x00, 0x00, 0x02);        /* store_u64 [0x20000] = φ7 */
    TI(&p, 52, 1, 0x07, 0x00, 0x02);        /* load_u8 φ1 = [0x20007] */
    TI(&p, 53, 2, 0x07, 0x00, 0x02);        /* load_i8 */
    TI(&p, 54, 3, 0x06, 0x00, 0x02);        /* load_u16 */
    TI(&p, 55, 4, 0x06, 0x00, 0x02);        /* load_i16 */
    TI(&p, 56, 5, 0x04, 0x00, 0x02);        /* load_u32 */
    TI(&p, 57, 6, 0x04, 0x00, 0x02);        /* load_i32 */
    TI(&p, 58, 10, 0x00, 0x00, 0x02);       /* load_u64 */
    TI(&p, 30, 3, 0x10, 0x00, 0x02, 0xAB);  /* store_imm_u8 [0x20010] = 0xAB (lX = 3) */
    TI(&p, 33, 3, 0x18, 0x00, 0x02, 0xFF);  /* store_imm_u64 [0x20018] = -1 */
    TI(&p, 72, 0x08, 0x20, 0x12, 0x34);     /* store_imm_ind_u32 (checked below) */
    TI(&p, 121, 0x87, 0x30);                /* store_ind_u16 [φ8 + 0x30] = φ7 */
    TI(&p, 127, 0x8B, 0x30);                /* load_ind_i16 φ11 = [φ8 + 0x30] */
    TI(&p, 0);
    javm_program *prog = tprog_prepare(&p, JAVM_PROFILE_JAVM, 25);
    javm_state st;
    memset(&st, 0, sizeof st);
    st.regs[7] = 0x8899AABBCCDDEEFF;
    st.regs[8] = 0x20000;
    st.gas = 1000;
    st.mem = mem;
    javm_exit ex = javm_run(prog, &st, JAVM_GAS_PIPELINE, NULL, NULL);
    assert_int_equal(ex.reason, JAVM_EXIT_TRAP);
    assert_int_equal(st.regs[1], 0x88);
    assert_int_equal(st.regs[2], 0xFFFFFFFFFFFFFF88);
    assert_int_equal(st.regs[3], 0x8899);
    assert_int_equal(st.regs[4], 0xFFFFFFFFFFFF8899);
    assert_int_equal(st.regs[5], 0x8899AABB);
    assert_int_equal(st.regs[6], 0xFFFFFFFF8899AABB);
    assert_int_equal(st.regs[10], 0x8899AABBCCDDEEFF);
    assert_int_equal(st.regs[11], 0xFFFFFFFFFFFFEEFF);
    uint8_t b[8];
    javm_memory_peek(mem, 0x20010, 1, b);
    assert_int_equal(b[0], 0xAB);
    javm_memory_peek(mem, 0x20018, 8, b);
    for (int i = 0; i < 8; i++)
        assert_int_equal(b[i], 0xFF);
    /* store_imm_ind_u32: byte1 0x08 -> rA = 8, lX = 0, so X = 0 and Y = the rest (0x20,
     * 0x12, 0x34 -> lY = 3: Y = 0x341220): written at φ8 + 0 */
    uint32_t w;
    javm_memory_peek(mem, 0x20000, 4, &w);
    assert_int_equal(w, 0x341220);
    javm_program_free(prog);
    javm_memory_free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_reg),
        cmocka_unit_test(test_three_reg_dest_clamp),
        cmocka_unit_test(test_two_reg_imm),
        cmocka_unit_test(test_two_reg),
        cmocka_unit_test(test_sbrk_panics),
        cmocka_unit_test(test_immediates),
        cmocka_unit_test(test_loads_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
