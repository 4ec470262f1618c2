/* SPDX-License-Identifier: MIT
 * tests/support/tprog.c — see tprog.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "asm.h"
#include "tprog.h"

void tprog_init(tprog *p) { memset(p, 0, sizeof *p); }

uint32_t tprog_ins(tprog *p, const uint8_t *bytes, size_t n)
{
    uint32_t pc = (uint32_t)p->L;
    assert_true(p->L + n <= TPROG_MAX);
    memcpy(p->code + p->L, bytes, n);
    p->mask[pc / 8] |= (uint8_t)(1u << (pc % 8));
    p->L += n;
    return pc;
}

void tprog_raw(tprog *p, const uint8_t *bytes, size_t n)
{
    assert_true(p->L + n <= TPROG_MAX);
    memcpy(p->code + p->L, bytes, n);
    p->L += n;
}

javm_program *tprog_prepare(const tprog *p, javm_profile profile, uint32_t M)
{
    javm_program *prog = NULL;
    javm_prepare_opts o = { profile, M };
    int rc = javm_prepare(p->code, p->L, p->mask, p->jt, p->njt, &o, &prog);
    if (rc)
        fail_msg("javm_prepare: %s", javm_strerror(rc));
    return prog;
}

javm_program *tprog_prepare_asm(const char *src, javm_profile profile)
{
    asm_unit u;
    asm_err err;
    asm_unit_init(&u);
    if (asm_parse(&u, src, strlen(src), &err))
        fail_msg("asm %u:%u: %s\n%s", err.line, err.col, err.msg, src);
    javm_program *p = NULL;
    javm_prepare_opts o = { profile, 25 };
    int rc = javm_prepare(u.prog.code, u.prog.code_len, u.prog.bitmask, u.prog.jt_final,
                          u.prog.jt_count, &o, &p);
    asm_unit_free(&u);
    if (rc)
        fail_msg("javm_prepare: %s\n%s", javm_strerror(rc), src);
    return p;
}
