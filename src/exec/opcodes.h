/* SPDX-License-Identifier: MIT
 * exec/opcodes.h — the one PVM opcode table (pvm.md §4.4, §5, §6.1): number, name, operand
 * class and whether it ends a block. The decoder, gas model, interpreter, assembler and
 * disassembler all expand it, so an opcode is described in exactly one place. */
#ifndef EXEC_OPCODES_H
#define EXEC_OPCODES_H

#include <stdbool.h>
#include <stdint.h>

/* Operand classes (pvm.md §4.4). */
typedef enum exec_class {
    EXEC_CLS_NONE = 0,      /* not an opcode */
    EXEC_CLS_NOARGS,
    EXEC_CLS_ONEIMM,
    EXEC_CLS_ONEREG_EXTIMM,
    EXEC_CLS_TWOIMM,
    EXEC_CLS_ONEOFF,
    EXEC_CLS_ONEREG_ONEIMM,
    EXEC_CLS_ONEREG_TWOIMM,
    EXEC_CLS_ONEREG_IMM_OFF,
    EXEC_CLS_TWOREG,
    EXEC_CLS_TWOREG_ONEIMM,
    EXEC_CLS_TWOREG_ONEOFF,
    EXEC_CLS_TWOREG_TWOIMM,
    EXEC_CLS_THREEREG
} exec_class;

/* X(number, name, class, terminator-in-GP). ecalli (10), unlikely (2) and ecall (3) are
 * terminators in the JAVM profile only; exec_is_terminator applies that rule. */
#define EXEC_OPCODES(X) \
    X(0, trap, NOARGS, 1) X(1, fallthrough, NOARGS, 1) X(2, unlikely, NOARGS, 0) \
    X(3, ecall, NOARGS, 0) X(10, ecalli, ONEIMM, 0) X(20, load_imm_64, ONEREG_EXTIMM, 0) \
    X(30, store_imm_u8, TWOIMM, 0) X(31, store_imm_u16, TWOIMM, 0) \
    X(32, store_imm_u32, TWOIMM, 0) X(33, store_imm_u64, TWOIMM, 0) X(40, jump, ONEOFF, 1) \
    X(50, jump_ind, ONEREG_ONEIMM, 1) X(51, load_imm, ONEREG_ONEIMM, 0) \
    X(52, load_u8, ONEREG_ONEIMM, 0) X(53, load_i8, ONEREG_ONEIMM, 0) \
    X(54, load_u16, ONEREG_ONEIMM, 0) X(55, load_i16, ONEREG_ONEIMM, 0) \
    X(56, load_u32, ONEREG_ONEIMM, 0) X(57, load_i32, ONEREG_ONEIMM, 0) \
    X(58, load_u64, ONEREG_ONEIMM, 0) X(59, store_u8, ONEREG_ONEIMM, 0) \
    X(60, store_u16, ONEREG_ONEIMM, 0) X(61, store_u32, ONEREG_ONEIMM, 0) \
    X(62, store_u64, ONEREG_ONEIMM, 0) \
    X(70, store_imm_ind_u8, ONEREG_TWOIMM, 0) X(71, store_imm_ind_u16, ONEREG_TWOIMM, 0) \
    X(72, store_imm_ind_u32, ONEREG_TWOIMM, 0) X(73, store_imm_ind_u64, ONEREG_TWOIMM, 0) \
    X(80, load_imm_jump, ONEREG_IMM_OFF, 1) X(81, branch_eq_imm, ONEREG_IMM_OFF, 1) \
    X(82, branch_ne_imm, ONEREG_IMM_OFF, 1) X(83, branch_lt_u_imm, ONEREG_IMM_OFF, 1) \
    X(84, branch_le_u_imm, ONEREG_IMM_OFF, 1) X(85, branch_ge_u_imm, ONEREG_IMM_OFF, 1) \
    X(86, branch_gt_u_imm, ONEREG_IMM_OFF, 1) X(87, branch_lt_s_imm, ONEREG_IMM_OFF, 1) \
    X(88, branch_le_s_imm, ONEREG_IMM_OFF, 1) X(89, branch_ge_s_imm, ONEREG_IMM_OFF, 1) \
    X(90, branch_gt_s_imm, ONEREG_IMM_OFF, 1) \
    X(100, move_reg, TWOREG, 0) X(101, sbrk, TWOREG, 0) X(102, count_set_bits_64, TWOREG, 0) \
    X(103, count_set_bits_32, TWOREG, 0) X(104, leading_zero_bits_64, TWOREG, 0) \
    X(105, leading_zero_bits_32, TWOREG, 0) X(106, trailing_zero_bits_64, TWOREG, 0) \
    X(107, trailing_zero_bits_32, TWOREG, 0) X(108, sign_extend_8, TWOREG, 0) \
    X(109, sign_extend_16, TWOREG, 0) X(110, zero_extend_16, TWOREG, 0) \
    X(111, reverse_bytes, TWOREG, 0) \
    X(120, store_ind_u8, TWOREG_ONEIMM, 0) X(121, store_ind_u16, TWOREG_ONEIMM, 0) \
    X(122, store_ind_u32, TWOREG_ONEIMM, 0) X(123, store_ind_u64, TWOREG_ONEIMM, 0) \
    X(124, load_ind_u8, TWOREG_ONEIMM, 0) X(125, load_ind_i8, TWOREG_ONEIMM, 0) \
    X(126, load_ind_u16, TWOREG_ONEIMM, 0) X(127, load_ind_i16, TWOREG_ONEIMM, 0) \
    X(128, load_ind_u32, TWOREG_ONEIMM, 0) X(129, load_ind_i32, TWOREG_ONEIMM, 0) \
    X(130, load_ind_u64, TWOREG_ONEIMM, 0) X(131, add_imm_32, TWOREG_ONEIMM, 0) \
    X(132, and_imm, TWOREG_ONEIMM, 0) X(133, xor_imm, TWOREG_ONEIMM, 0) \
    X(134, or_imm, TWOREG_ONEIMM, 0) X(135, mul_imm_32, TWOREG_ONEIMM, 0) \
    X(136, set_lt_u_imm, TWOREG_ONEIMM, 0) X(137, set_lt_s_imm, TWOREG_ONEIMM, 0) \
    X(138, shlo_l_imm_32, TWOREG_ONEIMM, 0) X(139, shlo_r_imm_32, TWOREG_ONEIMM, 0) \
    X(140, shar_r_imm_32, TWOREG_ONEIMM, 0) X(141, neg_add_imm_32, TWOREG_ONEIMM, 0) \
    X(142, set_gt_u_imm, TWOREG_ONEIMM, 0) X(143, set_gt_s_imm, TWOREG_ONEIMM, 0) \
    X(144, shlo_l_imm_alt_32, TWOREG_ONEIMM, 0) X(145, shlo_r_imm_alt_32, TWOREG_ONEIMM, 0) \
    X(146, shar_r_imm_alt_32, TWOREG_ONEIMM, 0) X(147, cmov_iz_imm, TWOREG_ONEIMM, 0) \
    X(148, cmov_nz_imm, TWOREG_ONEIMM, 0) X(149, add_imm_64, TWOREG_ONEIMM, 0) \
    X(150, mul_imm_64, TWOREG_ONEIMM, 0) X(151, shlo_l_imm_64, TWOREG_ONEIMM, 0) \
    X(152, shlo_r_imm_64, TWOREG_ONEIMM, 0) X(153, shar_r_imm_64, TWOREG_ONEIMM, 0) \
    X(154, neg_add_imm_64, TWOREG_ONEIMM, 0) X(155, shlo_l_imm_alt_64, TWOREG_ONEIMM, 0) \
    X(156, shlo_r_imm_alt_64, TWOREG_ONEIMM, 0) X(157, shar_r_imm_alt_64, TWOREG_ONEIMM, 0) \
    X(158, rot_r_64_imm, TWOREG_ONEIMM, 0) X(159, rot_r_64_imm_alt, TWOREG_ONEIMM, 0) \
    X(160, rot_r_32_imm, TWOREG_ONEIMM, 0) X(161, rot_r_32_imm_alt, TWOREG_ONEIMM, 0) \
    X(170, branch_eq, TWOREG_ONEOFF, 1) X(171, branch_ne, TWOREG_ONEOFF, 1) \
    X(172, branch_lt_u, TWOREG_ONEOFF, 1) X(173, branch_lt_s, TWOREG_ONEOFF, 1) \
    X(174, branch_ge_u, TWOREG_ONEOFF, 1) X(175, branch_ge_s, TWOREG_ONEOFF, 1) \
    X(180, load_imm_jump_ind, TWOREG_TWOIMM, 1) \
    X(190, add_32, THREEREG, 0) X(191, sub_32, THREEREG, 0) X(192, mul_32, THREEREG, 0) \
    X(193, div_u_32, THREEREG, 0) X(194, div_s_32, THREEREG, 0) X(195, rem_u_32, THREEREG, 0) \
    X(196, rem_s_32, THREEREG, 0) X(197, shlo_l_32, THREEREG, 0) X(198, shlo_r_32, THREEREG, 0) \
    X(199, shar_r_32, THREEREG, 0) X(200, add_64, THREEREG, 0) X(201, sub_64, THREEREG, 0) \
    X(202, mul_64, THREEREG, 0) X(203, div_u_64, THREEREG, 0) X(204, div_s_64, THREEREG, 0) \
    X(205, rem_u_64, THREEREG, 0) X(206, rem_s_64, THREEREG, 0) X(207, shlo_l_64, THREEREG, 0) \
    X(208, shlo_r_64, THREEREG, 0) X(209, shar_r_64, THREEREG, 0) X(210, and, THREEREG, 0) \
    X(211, xor, THREEREG, 0) X(212, or, THREEREG, 0) X(213, mul_upper_s_s, THREEREG, 0) \
    X(214, mul_upper_u_u, THREEREG, 0) X(215, mul_upper_s_u, THREEREG, 0) \
    X(216, set_lt_u, THREEREG, 0) X(217, set_lt_s, THREEREG, 0) X(218, cmov_iz, THREEREG, 0) \
    X(219, cmov_nz, THREEREG, 0) X(220, rot_l_64, THREEREG, 0) X(221, rot_l_32, THREEREG, 0) \
    X(222, rot_r_64, THREEREG, 0) X(223, rot_r_32, THREEREG, 0) X(224, and_inv, THREEREG, 0) \
    X(225, or_inv, THREEREG, 0) X(226, xnor, THREEREG, 0) X(227, max, THREEREG, 0) \
    X(228, max_u, THREEREG, 0) X(229, min, THREEREG, 0) X(230, min_u, THREEREG, 0)

/* Operand class of byte op (EXEC_CLS_NONE when undefined in every profile). */
exec_class exec_op_class(uint8_t op);
/* Mnemonic of byte op, or NULL. */
const char *exec_op_name(uint8_t op);
/* Opcode with this mnemonic, or -1. */
int exec_op_by_name(const char *name);
/* Whether byte op is defined in the profile (0 = JAVM, 1 = GP, 2 = jam-draft): GP lacks 2
 * and 3; jam-draft lacks 2 and has 3 as `unlikely` (a NoArgs no-op, like byte 3's class). */
bool exec_op_defined(uint8_t op, int profile);
/* Whether byte op is in the profile's terminator set T (pvm.md §6.1, §8; jam-draft: GP's T,
 * gas.md §1). */
bool exec_is_terminator(uint8_t op, int profile);

#endif
