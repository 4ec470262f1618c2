/* SPDX-License-Identifier: MIT
 * tests/support/gas_ref_build.c — compiles the reference jam-draft gas model
 * (tests/ref/gas_ref.c) into the javm_testsupport library; see ref_build.c. */
#include "../ref/gas_ref.c"
