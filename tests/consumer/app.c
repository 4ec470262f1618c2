/* SPDX-License-Identifier: MIT
 * tests/consumer/app.c — a program outside the javm-c tree, built by tests/install.sh against
 * an installed libjavm (once through pkg-config, once through find_package). It checks that
 * the headers and the library it runs with agree on the version, then runs fib(90) on the
 * interpreter. Exit 0 when both are right. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <javm.h>

int main(void)
{
    /* fib(90) into r7, then ecalli 0 (the program of `javm demo`) */
    static const uint8_t code[] = { 51, 7, 51, 8, 1, 51, 9, 90, 1, 200, 0x87, 10, 100, 0x87,
                                    100, 0xA8, 149, 0x99, 0xFF, 82, 0x09, 0xF6, 10, 0 };
    static const uint8_t mask[] = { 0x25, 0x53, 0x49 };
    printf("headers %s, library %s\n", JAVM_VERSION_STRING, javm_version());
    if (strcmp(JAVM_VERSION_STRING, javm_version()) != 0)
        return 1;
    javm_program *p;
    javm_memory *m;
    if (javm_prepare(code, sizeof code, mask, NULL, 0, NULL, &p) != JAVM_OK)
        return 1;
    if (javm_memory_new(&m) != JAVM_OK)
        return 1;
    javm_state st;
    memset(&st, 0, sizeof st);
    st.gas = 100000;
    st.mem = m;
    javm_exit e = javm_run(p, &st, JAVM_GAS_PIPELINE, NULL, NULL);
    printf("exit %s, fib(90) = %" PRIu64 "\n", javm_exit_name(e.reason), st.regs[7]);
    int ok = e.reason == JAVM_EXIT_HOST_CALL && st.regs[7] == UINT64_C(2880067194370816120);
    javm_memory_free(m);
    javm_program_free(p);
    return ok ? 0 : 1;
}
