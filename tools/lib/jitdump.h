/* SPDX-License-Identifier: MIT
 * tools/lib/jitdump.h — `javm run --dump-native`: a program's native code beside its PVM
 * instructions. */
#ifndef TOOLS_JITDUMP_H
#define TOOLS_JITDUMP_H

#include <stdio.h>

#include "javm.h"

/* Prints every PVM instruction of p followed by the native code compiled for it under model,
 * then the out-of-line stubs. Compiles p when needed. Returns JAVM_OK or the compile status. */
int jit_dump_native(FILE *out, const javm_program *p, javm_gas_model model);

#endif
