/* SPDX-License-Identifier: MIT
 * tools/lib/jitdump.c — see jitdump.h. The native side comes from the JIT's own record
 * offsets (jit/jit.h: jit_code_rec_offset, jit_code_stubs_offset) and is decoded with
 * capstone when HAVE_CAPSTONE; otherwise the bytes are printed in hex. Under a segment's
 * first record come its prologue, its checked-once fast version when it has one, and then
 * the record's own (fully checked) code; the jump table is the code's last njt * 4 bytes. */
#include "jitdump.h"

#include <inttypes.h>
#include <string.h>

#include "asm.h"
#include "exec/exec.h"
#include "exec/opcodes.h"
#include "jit/jit.h"

#ifdef HAVE_CAPSTONE
#include <capstone/capstone.h>
#endif

bool jit_dump_has_decoder(void)
{
#ifdef HAVE_CAPSTONE
    return true;
#else
    return false;
#endif
}

static void reg(FILE *out, unsigned r, bool comma) { fprintf(out, "%sr%u", comma ? ", " : " ", r); }
static void num(FILE *out, uint64_t v) { fprintf(out, v < 10 ? ", %" PRIu64 : ", 0x%" PRIx64, v); }

/* One PVM instruction as `javm disasm` would name it: mnemonic and operands in text order. */
static void print_pvm(FILE *out, const javm_program *p, uint32_t i)
{
    const exec_rec *r = &p->recs[i];
    fprintf(out, "%8u:", r->pc);
    asm_dec d;
    if (r->pc >= p->L) {
        fprintf(out, " (end of code)");
    } else if (!asm_decode(p->code, (uint32_t)p->L, p->bitmask, r->pc, &d)) {
        fprintf(out, " (undefined opcode %u)", p->code[r->pc]);
    } else {
        fprintf(out, " %s", exec_op_name(d.op));
        switch (exec_op_class(d.op)) {
        case EXEC_CLS_ONEIMM: fprintf(out, " 0x%" PRIx64, d.x); break;
        case EXEC_CLS_TWOIMM: fprintf(out, " 0x%" PRIx64, d.x); num(out, d.y); break;
        case EXEC_CLS_ONEOFF: fprintf(out, " %u", d.t); break;
        case EXEC_CLS_ONEREG_EXTIMM: case EXEC_CLS_ONEREG_ONEIMM:
            reg(out, d.r[0], false); num(out, d.x); break;
        case EXEC_CLS_ONEREG_TWOIMM: reg(out, d.r[0], false); num(out, d.x); num(out, d.y); break;
        case EXEC_CLS_ONEREG_IMM_OFF: reg(out, d.r[0], false); num(out, d.x); fprintf(out, ", %u", d.t); break;
        case EXEC_CLS_TWOREG: reg(out, d.r[0], false); reg(out, d.r[1], true); break;
        case EXEC_CLS_TWOREG_ONEIMM: reg(out, d.r[0], false); reg(out, d.r[1], true); num(out, d.x); break;
        case EXEC_CLS_TWOREG_ONEOFF: reg(out, d.r[0], false); reg(out, d.r[1], true); fprintf(out, ", %u", d.t); break;
        case EXEC_CLS_TWOREG_TWOIMM:
            reg(out, d.r[0], false); reg(out, d.r[1], true); num(out, d.x); num(out, d.y); break;
        case EXEC_CLS_THREEREG:
            reg(out, d.r[0], false); reg(out, d.r[1], true); reg(out, d.r[2], true); break;
        default: break;
        }
    }
    switch (r->op) {
    case EXEC_OP_PANIC: fprintf(out, "    ; panics"); break;
    case EXEC_OP_ECALLI_GP: fprintf(out, "    ; GP: not a terminator"); break;
    case EXEC_OP_JUMP_IND_GP: case EXEC_OP_LIJI_GP: fprintf(out, "    ; GP: halt address"); break;
    default: break;
    }
    fputc('\n', out);
}

/* Native code [from, to) of the mapping that starts at code. */
static void print_native(FILE *out, const uint8_t *code, uint32_t from, uint32_t to, void *dec)
{
#ifdef HAVE_CAPSTONE
    csh cs = *(csh *)dec;
    const uint8_t *at = code + from;
    size_t left = to - from;
    uint64_t addr = from;
    cs_insn *insn = cs_malloc(cs);
    while (left && insn && cs_disasm_iter(cs, &at, &left, &addr, insn)) {
        fprintf(out, "    %08" PRIx64 "  ", insn->address);
        for (unsigned k = 0; k < 10; k++) {
            if (k < insn->size)
                fprintf(out, "%02x", insn->bytes[k]);
            else
                fputs("  ", out);
        }
        fprintf(out, "%s %s %s\n", insn->size > 10 ? "+" : " ", insn->mnemonic, insn->op_str);
    }
    if (insn)
        cs_free(insn, 1);
    from = (uint32_t)(at - code);
#else
    (void)dec;
#endif
    /* whatever is left (no decoder, or bytes it does not know): hex, 16 a line */
    for (uint32_t k = from; k < to; k += 16) {
        fprintf(out, "    %08x  ", k);
        for (uint32_t b = k; b < to && b < k + 16; b++)
            fprintf(out, "%02x", code[b]);
        fputc('\n', out);
    }
}

int jit_dump_native(FILE *out, const javm_program *p, javm_gas_model m)
{
    if (!out || !p || (unsigned)m >= EXEC_JIT_SLOTS)
        return JAVM_ERR_INVALID_ARG;
    int rc;
    const jit_code *jc = jit_get(p, m, &rc);
    if (!jc)
        return rc;
    void *dec = NULL;
#ifdef HAVE_CAPSTONE
    csh cs;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
        return JAVM_ERR_ALLOC;
    dec = &cs;
#endif
    const uint8_t *code = jit_code_bytes(jc);
    uint32_t size = (uint32_t)jit_code_size(jc), stubs = jit_code_stubs_offset(jc);
    uint32_t table = (uint32_t)(size - p->njt * 4); /* int32 offsets from the table, at the end */
    fprintf(out, "; %u PVM records (L = %" PRIu64 ", %s profile, %s gas), %u bytes of native code%s\n",
            p->nrecs, p->L, p->profile == JAVM_PROFILE_GP ? "GP" : "JAVM",
            m == JAVM_GAS_INSTR ? "instruction" : m == JAVM_GAS_PIPELINE ? "pipeline" : "jam-draft", size,
            dec ? "" : " (no decoder in this build: hex)");
    uint32_t first = p->nrecs ? jit_code_rec_offset(jc, 0) : stubs;
    fprintf(out, "; constants, entry, exits and trampolines: [0, 0x%x)\n", first);
    for (uint32_t i = 0; i < p->nrecs; i++) {
        uint32_t from = jit_code_rec_offset(jc, i);
        uint32_t to = i + 1 < p->nrecs ? jit_code_rec_offset(jc, i + 1) : stubs;
        print_pvm(out, p, i);
        print_native(out, code, from, to, dec);
    }
    fprintf(out, "; stubs\n");
    print_native(out, code, stubs, table, dec);
    if (p->njt) {
        fprintf(out, "; jump table at 0x%x (%" PRIu64 " entries: offsets from the table)\n", table, p->njt);
        for (uint64_t k = 0; k < p->njt; k++) {
            int32_t a;
            memcpy(&a, code + table + 4 * k, 4);
            uint32_t to = (uint32_t)((int64_t)table + a);
            if (p->jt_rec[k] == EXEC_NO_TARGET)
                fprintf(out, "    [%" PRIu64 "] -> 0x%x: panic (target %u is not a block start)\n", k, to, p->jt[k]);
            else
                fprintf(out, "    [%" PRIu64 "] -> 0x%x (pc %u)\n", k, to, p->jt[k]);
        }
    }
#ifdef HAVE_CAPSTONE
    cs_close(&cs);
#endif
    return JAVM_OK;
}
