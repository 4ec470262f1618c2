/* SPDX-License-Identifier: MIT
 * tests/test_jit_dump.c — jit_dump_native (tools/lib/jitdump.c, for `javm run --dump-native`)
 * on a small program: every PVM instruction is listed once, in pc order, each followed by
 * native code; with capstone the gas prologue, the page-state check and the stubs decode to
 * the instructions the JIT emits. Skipped (77) where the build has no JIT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "asm.h"
#include "jitdump.h"

static const char *const src =
    "start:\nload_imm r7, 0x20000\nstore_u64 r7, 0x20008\nload_ind_u32 r8, r7, 8\n"
    "count_set_bits_64 r9, r8\nbranch_ne_imm r9, 0, done\necalli 7\n"
    "done:\njump_ind r7, 0\nx:\ntrap\n.jumptable start, x\n";

static javm_program *prep(javm_profile prof)
{
    asm_unit u;
    asm_err err;
    asm_unit_init(&u);
    if (asm_parse(&u, src, strlen(src), &err))
        fail_msg("asm %u:%u: %s", err.line, err.col, err.msg);
    javm_program *p = NULL;
    javm_prepare_opts o = { prof, 25 };
    assert_int_equal(javm_prepare(u.prog.code, u.prog.code_len, u.prog.bitmask, u.prog.jt_final, u.prog.jt_count,
                                  &o, &p), JAVM_OK);
    asm_unit_free(&u);
    return p;
}

static char *dump(const javm_program *p, javm_gas_model m, int *rc)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    *rc = jit_dump_native(f, p, m);
    long len = ftell(f);
    assert_true(len >= 0);
    char *text = malloc((size_t)len + 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    text[len] = 0;
    fclose(f);
    return text;
}

static void test_dump_small_program(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "       0: load_imm r7, 0x20000", "store_u64 r7, 0x20008", "load_ind_u32 r8, r7, 8",
        "count_set_bits_64 r9, r8", "branch_ne_imm r9, 0, ", "ecalli 0x7", "jump_ind r7, 0", "trap",
        "(end of code)",
    };
    for (int prof = 0; prof < 2; prof++) {
        for (int m = 0; m < 2; m++) {
            javm_program *p = prep((javm_profile)prof);
            int rc;
            char *text = dump(p, (javm_gas_model)m, &rc);
            assert_int_equal(rc, JAVM_OK);
            if (prof == 0 && m == 0)
                printf("%s", text);
            /* each PVM instruction once, in order, each followed by a native line */
            const char *at = text;
            for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++) {
                const char *hit = strstr(at, lines[k]);
                if (!hit)
                    fail_msg("'%s' missing (or out of order) in:\n%s", lines[k], text);
                at = hit + strlen(lines[k]);
                const char *nl = strchr(at, '\n');
                assert_non_null(nl);
                if (strncmp(nl + 1, "    ", 4) != 0)
                    fail_msg("no native code after '%s'", lines[k]);
            }
            /* one PVM line per record (native lines are "    %08x  ...") */
            unsigned pvm_lines = 0;
            for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
                pvm_lines += strlen(l) > 9 && l[8] == ':'; /* "%8u:" */
            assert_int_equal(pvm_lines, sizeof lines / sizeof lines[0]);
            assert_non_null(strstr(text, "; stubs\n"));
            assert_non_null(strstr(text, "; jump table at 0x"));
            /* entry 0 (the label start, pc 0) leads to the first native instruction of pc 0 */
            unsigned first = 0, entry0 = 1;
            const char *pc0 = strstr(text, "       0: ");
            assert_non_null(pc0);
            assert_int_equal(sscanf(strchr(pc0, '\n') + 1, " %x", &first), 1);
            const char *e0 = strstr(text, "    [0] -> 0x");
            assert_non_null(e0);
            assert_int_equal(sscanf(e0, "    [0] -> 0x%x", &entry0), 1);
            assert_int_equal(entry0, first);
            if (jit_dump_has_decoder()) {
                /* the gas prologue of the first block, the page-state test of the store and
                 * the host-call trampoline call, as the JIT emits them (jit/jit.c) */
                assert_non_null(strstr(text, "sub qword ptr [rsp], "));
                assert_non_null(strstr(text, "add qword ptr [rsp + 8], "));
                assert_non_null(strstr(text, "cmp byte ptr [r15 + rcx - 0x100000], "));
                assert_non_null(strstr(text, " call "));
                assert_null(strstr(text, "(bad)"));
            }
            free(text);
            javm_program_free(p);
        }
    }
}

static void test_dump_errors(void **state)
{
    (void)state;
    javm_program *p = prep(JAVM_PROFILE_JAVM);
    assert_int_equal(jit_dump_native(NULL, p, JAVM_GAS_PIPELINE), JAVM_ERR_INVALID_ARG);
    assert_int_equal(jit_dump_native(stdout, NULL, JAVM_GAS_PIPELINE), JAVM_ERR_INVALID_ARG);
    assert_int_equal(jit_dump_native(stdout, p, (javm_gas_model)7), JAVM_ERR_INVALID_ARG);
    javm_program_free(p);
}

int main(void)
{
    if (!javm_jit_available()) {
        printf("test_jit_dump: this build has no JIT; skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_small_program),
        cmocka_unit_test(test_dump_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
