/* SPDX-License-Identifier: MIT
 * tests/support/jitcmp.h — runs one prepared program on the interpreter and on the JIT from
 * the same state and memory (javm_state.engine set explicitly on each side) and asserts
 * (cmocka) that every observable agrees after every run segment: exit reason and arg, pc,
 * the 13 registers, gas, steps, the handler's view, every dirty or listed page's bytes and
 * permission, and the dirty-page set. Used by tests/test_jit_attack.c. */
#ifndef TESTS_JITCMP_H
#define TESTS_JITCMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "javm.h"

#define JC_MAX_SEG 16
#define JC_MAX_PAGES 32

typedef struct jc_opts {
    javm_gas_model model;
    /* Called on each side's fresh memory before the run (may be NULL). */
    void (*setup)(javm_memory *m, void *arg);
    void *setup_arg;
    /* The handler (may be NULL) and one user pointer per side: [0] interpreter, [1] JIT. */
    javm_handler handler;
    void *user[2];
    /* Run segments after the first: a HOST_CALL / ECALL exit continues at pc, OUT_OF_GAS adds
     * resume_gas, PAGE_FAULT maps the faulting page RW; any other exit stops. */
    unsigned resumes;
    int64_t resume_gas;
    /* Pages to compare besides the dirty ones (page numbers). */
    uint32_t pages[JC_MAX_PAGES];
    size_t npages;
    /* What the JIT side must report in javm_state.ran (0: JAVM_ENGINE_JIT). */
    javm_engine expect_ran;
} jc_opts;

typedef struct jc_result {
    unsigned segs;                /* segments run */
    javm_exit ex[JC_MAX_SEG];     /* the exit of each (the same on both sides) */
    javm_state st;                /* the final state (mem is NULL: freed) */
    javm_engine ran;              /* the JIT side's javm_state.ran of the last segment */
} jc_result;

/* Runs p from init (regs, pc, gas; init->mem is ignored) on both engines and compares them;
 * fails the test on any difference. */
void jc_run(const javm_program *p, const javm_state *init, const jc_opts *o, jc_result *out);

/* Sets or clears JAVM_JIT_CPU=baseline: call before preparing the program (its code is
 * compiled at its first JIT run and kept with the program). */
void jc_set_baseline(bool baseline);

#endif
