/* SPDX-License-Identifier: MIT
 * tools/lib/disasm.h — the PVM disassembler: turns code, a deblob or a JIMG file into an
 * asm_unit whose printed text assembles back to the same bytes (tools/lib/asm.h). */
#ifndef TOOLS_DISASM_H
#define TOOLS_DISASM_H

#include "asm.h"

/* Builds u->prog from code, bitmask (ceil(L/8) bytes) and a jump table. Every instruction is
 * printed canonically unless re-encoding it would change a byte; then it carries its exact
 * encoding ("!hex"). Extra targets (endpoint entries) get labels too. JAVM_OK or a status. */
int disasm_code(asm_unit *u, const uint8_t *code, uint32_t L, const uint8_t *bitmask,
                const uint32_t *jt, uint32_t njt, const uint64_t *extra, size_t nextra,
                asm_err *err);

/* A GP deblob (pvm.md §9.2), validated by javm_prepare_blob first. */
int disasm_blob(asm_unit *u, const uint8_t *blob, size_t len, asm_err *err);

/* A JIMG file (caps.md §11.2), loaded into a private in-memory cache: code, endpoints,
 * mappings, slots and every cap the file carries. */
int disasm_jimg(asm_unit *u, const uint8_t *file, size_t len, asm_err *err);

#endif
