/* SPDX-License-Identifier: MIT
 * tests/test_docs.c — the reference pages agree with the code they describe: the opcode table
 * of docs/isa.md has one row per opcode of src/exec/opcodes.h (number, mnemonic, operands,
 * whether it ends a block, whether GP has it) and no other row; docs/ecalls.md has a row for
 * every ecall op and names every trap reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exec/opcodes.h"
#include "javm.h"

static char *slurp(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", JAVM_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static const char *operands(exec_class c)
{
    switch (c) {
    case EXEC_CLS_NOARGS: return "none";
    case EXEC_CLS_ONEIMM: return "imm";
    case EXEC_CLS_ONEREG_EXTIMM: return "reg, imm64";
    case EXEC_CLS_TWOIMM: return "imm, imm";
    case EXEC_CLS_ONEOFF: return "offset";
    case EXEC_CLS_ONEREG_ONEIMM: return "reg, imm";
    case EXEC_CLS_ONEREG_TWOIMM: return "reg, imm, imm";
    case EXEC_CLS_ONEREG_IMM_OFF: return "reg, imm, offset";
    case EXEC_CLS_TWOREG: return "reg, reg";
    case EXEC_CLS_TWOREG_ONEIMM: return "reg, reg, imm";
    case EXEC_CLS_TWOREG_ONEOFF: return "reg, reg, offset";
    case EXEC_CLS_TWOREG_TWOIMM: return "reg, reg, imm, imm";
    case EXEC_CLS_THREEREG: return "reg, reg, reg";
    case EXEC_CLS_NONE: break;
    }
    return "?";
}

/* Lines of text that start with "| <digit>": the rows of the opcode table. */
static size_t count_number_rows(const char *text)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "\n| ")); p++)
        if (p[3] >= '0' && p[3] <= '9')
            n++;
    return n;
}

static void test_opcode_table(void **state)
{
    (void)state;
    char *isa = slurp("docs/isa.md");
    size_t defined = 0;
    for (int op = 0; op < 256; op++) {
        if (exec_op_class((uint8_t)op) == EXEC_CLS_NONE)
            continue;
        defined++;
        bool gp = exec_op_defined((uint8_t)op, 1), t_gp = exec_is_terminator((uint8_t)op, 1),
             t_javm = exec_is_terminator((uint8_t)op, 0);
        const char *term = t_gp && t_javm ? "both" : t_javm ? "JAVM only" : t_gp ? "GP only" : "";
        char row[256];
        snprintf(row, sizeof row, "\n| %d | `%s` | %s | %s | %s |\n", op, exec_op_name((uint8_t)op),
                 operands(exec_op_class((uint8_t)op)), term, gp ? "yes" : "no");
        if (!strstr(isa, row))
            fail_msg("docs/isa.md lacks the row%s", row);
    }
    assert_int_equal(defined, 141);
    /* the table is the only numbered table of the page */
    assert_int_equal(count_number_rows(isa), defined);
    free(isa);
}

static void test_ecalls_page(void **state)
{
    (void)state;
    char *ec = slurp("docs/ecalls.md");
    static const struct { int op; const char *name; } ops[] = {
        { JAVM_OP_HALT, "HALT" }, { JAVM_OP_COPY, "COPY" }, { JAVM_OP_MOVE, "MOVE" },
        { JAVM_OP_DROP, "DROP" }, { JAVM_OP_CNODE_SWAP, "CNODE_SWAP" },
        { JAVM_OP_CNODE_MINT, "CNODE_MINT" }, { JAVM_OP_HOST_YIELD, "HOST_YIELD" },
        { JAVM_OP_SET_IMAGE, "SET_IMAGE" }, { JAVM_OP_DERIVE_SPAWN, "DERIVE_SPAWN" },
        { JAVM_OP_MAKE_IMAGE, "MAKE_IMAGE" }, { JAVM_OP_HOST_SAME_TYPE, "HOST_SAME_TYPE" },
        { JAVM_OP_HOST_TYPE_OF, "HOST_TYPE_OF" }, { JAVM_OP_HOST_READ_DATA_CAP, "HOST_READ_DATA_CAP" },
        { JAVM_OP_HOST_MINT_DATA_CAP, "HOST_MINT_DATA_CAP" }, { JAVM_OP_HOST_OPEN, "HOST_OPEN" },
        { JAVM_OP_HOST_SAVE, "HOST_SAVE" }, { JAVM_OP_HOST_CALL, "HOST_CALL" },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char row[128];
        snprintf(row, sizeof row, "\n| %d | `%s` |", ops[i].op, ops[i].name);
        if (!strstr(ec, row))
            fail_msg("docs/ecalls.md has no row for op %d %s", ops[i].op, ops[i].name);
    }
    /* every trap reason the dispatcher can record is named on the page */
    for (int t = JAVM_TRAP_NO_ENTRY; t <= JAVM_TRAP_CACHE; t++) {
        char name[64];
        snprintf(name, sizeof name, "`%s`", javm_trap_name((javm_trap)t));
        if (t == JAVM_TRAP_CACHE)
            continue; /* internal: a cache invariant broken, not a guest-visible rule */
        if (!strstr(ec, name))
            fail_msg("docs/ecalls.md never names trap reason %s", name);
    }
    free(ec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opcode_table),
        cmocka_unit_test(test_ecalls_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
