/* SPDX-License-Identifier: MIT
 * tools/cmd_demo.c — `javm demo`: runs a small built-in PVM program (iterative Fibonacci)
 * under the JAVM profile and pipeline gas, and prints what it computed. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

/* fib(n) for n in φ9: a, b = 0, 1; repeat n times: a, b = b, a + b; then ecalli 0.
 *   0: load_imm φ7, 0        2: load_imm φ8, 1        5: load_imm φ9, n     8: fallthrough
 *   9: add_64 φ10 = φ7 + φ8  12: move_reg φ7 = φ8     14: move_reg φ8 = φ10
 *  16: add_imm_64 φ9 = φ9 - 1                          19: branch_ne_imm φ9, 0 -> 9
 *  22: ecalli 0 */
static const uint8_t demo_code[] = { 51, 7, 51, 8, 1, 51, 9, 90, 1, 200, 0x87, 10, 100, 0x87,
                                     100, 0xA8, 149, 0x99, 0xFF, 82, 0x09, 0xF6, 10, 0 };
static const uint8_t demo_mask[] = { 0x25, 0x53, 0x49 };

int cmd_demo(int argc, char **argv)
{
    static const char usage[] =
        "usage: javm demo\nRuns a built-in PVM program computing fib(90) and prints the result.\n"
        "Exit: 0 the result is right, 1 it is not, 2 usage, 4 internal error.\n";
    if (argc > 1 && cli_is_help(argv[1])) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "javm demo: unexpected argument '%s'\n%s", argv[1], usage);
        return CLI_USAGE;
    }
    javm_program *prog;
    javm_memory *mem;
    int rc = javm_prepare(demo_code, sizeof demo_code, demo_mask, NULL, 0, NULL, &prog);
    if (rc) {
        fprintf(stderr, "javm demo: %s\n", javm_strerror(rc));
        return CLI_INTERNAL;
    }
    if ((rc = javm_memory_new(&mem))) {
        javm_program_free(prog);
        return CLI_INTERNAL;
    }
    javm_state st;
    memset(&st, 0, sizeof st);
    st.gas = 100000;
    st.mem = mem;
    uint64_t t0 = cli_now_ns();
    javm_exit ex = javm_run(prog, &st, JAVM_GAS_PIPELINE, NULL, NULL);
    uint64_t dt = cli_now_ns() - t0;
    printf("demo: built-in PVM program, %zu code bytes, JAVM profile, pipeline gas\n",
           sizeof demo_code);
    printf("exit: %s(%u) at pc %u\n", javm_exit_name(ex.reason), ex.arg, st.pc);
    printf("fib(90) = %" PRIu64 " (in r7)\n", st.regs[7]);
    printf("instructions: %" PRIu64 ", gas used: %" PRId64 " of 100000, %.1f us\n", st.steps,
           100000 - st.gas, (double)dt / 1e3);
    javm_memory_free(mem);
    javm_program_free(prog);
    return ex.reason == JAVM_EXIT_HOST_CALL && st.regs[7] == UINT64_C(2880067194370816120)
               ? CLI_OK : CLI_FAIL;
}
