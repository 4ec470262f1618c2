/* SPDX-License-Identifier: MIT
 * tests/support/ref_build.c — compiles the reference interpreter (tests/ref/ref.c) into the
 * javm_testsupport library, which CMake builds from the .c files of tests/support only; the source itself
 * stays in tests/ref/ so that the fuzz build can compile it directly too. */
#include "../ref/ref.c"
