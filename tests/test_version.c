/* SPDX-License-Identifier: MIT
 * tests/test_version.c — the version macros of javm/version.h agree with each other and with
 * what the linked library reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "javm.h"

static void test_library_matches_header(void **state)
{
    (void)state;
    assert_string_equal(javm_version(), JAVM_VERSION_STRING);
    assert_int_equal(javm_version_number(), JAVM_VERSION_NUMBER);
}

static void test_string_and_number_agree(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", JAVM_VERSION_MAJOR, JAVM_VERSION_MINOR, JAVM_VERSION_PATCH);
    assert_string_equal(JAVM_VERSION_STRING, want);
    assert_int_equal(JAVM_VERSION_NUMBER,
                     JAVM_VERSION_MAJOR * 10000 + JAVM_VERSION_MINOR * 100 + JAVM_VERSION_PATCH);
    assert_true(JAVM_VERSION_MINOR < 100 && JAVM_VERSION_PATCH < 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_matches_header),
        cmocka_unit_test(test_string_and_number_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
