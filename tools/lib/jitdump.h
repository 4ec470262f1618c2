/* SPDX-License-Identifier: MIT
 * tools/lib/jitdump.h — prints a prepared program's JIT code beside its PVM instructions (for
 * `javm run --dump-native`). Tool layer: not part of libjavm. */
#ifndef TOOLS_JITDUMP_H
#define TOOLS_JITDUMP_H

#include <stdbool.h>
#include <stdio.h>

#include "javm.h"

/* Compiles p under gas model m when it is not compiled yet, then prints, for every record of
 * the prepared program, the PVM instruction (pc, mnemonic, operands) followed by its native
 * instructions (offset, bytes, and the instruction text when the build has capstone), then
 * the out-of-line stubs and the jump table. JAVM_OK, or the status of javm_program_compile
 * (JAVM_ERR_JIT_UNSUPPORTED, JAVM_ERR_JIT_TOO_LARGE, ...), or JAVM_ERR_INVALID_ARG. */
int jit_dump_native(FILE *out, const javm_program *p, javm_gas_model m);

/* Whether jit_dump_native decodes native code (this build found capstone). */
bool jit_dump_has_decoder(void);

#endif
