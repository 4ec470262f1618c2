/* SPDX-License-Identifier: MIT
 * tests/support/diff_build.c — compiles the differential engine (tests/ref/diff.c) into the
 * javm_testsupport library; see ref_build.c for why the source lives in tests/ref/. */
#include "../ref/diff.c"
