/* SPDX-License-Identifier: MIT
 * tools/lib/rvld.h — the guest linker: translates a static RV64EM ELF (clang-19, see
 * docs/guest.md for the flags) into a JAVM image: RISC-V code becomes PVM code with the same
 * control flow, data sections become mappings backed by Data caps, and the `.javm_endpoints`
 * section names the endpoints. The ELF is hostile input: every read is bounds-checked. */
#ifndef TOOLS_RVLD_H
#define TOOLS_RVLD_H

#include <stddef.h>
#include <stdint.h>

#include "asm.h"

/* The most data and bss (the sum of the data mappings' sizes) one image may declare. */
#define RVLD_MAX_MEMORY (UINT64_C(1) << 30)

typedef struct rvld_opts {
    uint64_t stack_size;   /* bytes of stack (0 = 64 KiB), placed above the highest data page */
} rvld_opts;

/* Translates elf[0..len) into u (laid out, ready for asm_write_jimg). On failure returns a
 * negative status and writes one sentence naming the problem (and the RISC-V address of the
 * offending instruction) to msg. */
int rvld_link(const uint8_t *elf, size_t len, const rvld_opts *opts, asm_unit *u, char *msg,
              size_t msglen);

#endif
