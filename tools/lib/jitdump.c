/* SPDX-License-Identifier: MIT
 * tools/lib/jitdump.c — see jitdump.h. A placeholder that prints offsets and raw bytes until
 * the disassembler-backed version lands. */
#include "jitdump.h"
#include "jit/jit.h"

int jit_dump_native(FILE *out, const javm_program *p, javm_gas_model model)
{
    int rc;
    const jit_code *jc = jit_get(p, model, &rc);
    if (!jc)
        return rc;
    const uint8_t *code = jit_code_bytes(jc);
    for (uint32_t i = 0; i < p->nrecs; i++) {
        uint32_t a = jit_code_rec_offset(jc, i);
        uint32_t b = i + 1 < p->nrecs ? jit_code_rec_offset(jc, i + 1) : jit_code_stubs_offset(jc);
        fprintf(out, "%8u: %-24s +%05x", p->recs[i].pc, exec_op_name(p->recs[i].op) ? exec_op_name(p->recs[i].op) : "(panic)", a);
        for (uint32_t k = a; k < b; k++)
            fprintf(out, " %02x", code[k]);
        fputc('\n', out);
    }
    return JAVM_OK;
}
