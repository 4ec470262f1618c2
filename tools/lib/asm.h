/* SPDX-License-Identifier: MIT
 * tools/lib/asm.h — the PVM program builder shared by the text assembler, the disassembler and
 * the RISC-V linker: a list of items (instructions, raw bytes) with labels, laid out and encoded
 * from the one opcode table (src/exec/opcodes.h), plus the text syntax (docs/guest.md) and the
 * image / deblob writers. Tool layer: not part of libjavm. */
#ifndef TOOLS_ASM_H
#define TOOLS_ASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "javm.h"

/* An operand that names a value: a number, a label (code offset or data address, plus `add`),
 * or the jump-table address 2*(index+1) of a code label (`&label`). */
typedef enum asm_opd_kind { ASM_OPD_NUM = 0, ASM_OPD_LABEL, ASM_OPD_JT } asm_opd_kind;

typedef struct asm_opd {
    asm_opd_kind kind;
    uint32_t label;   /* LABEL, JT: label index */
    uint64_t num;     /* NUM: the value; LABEL: added to the label's value */
} asm_opd;

typedef enum asm_item_kind {
    ASM_ITEM_INSN = 0,   /* an instruction; `bytes`, when set, is its exact encoding */
    ASM_ITEM_RAW,        /* bytes that start no instruction (bitmask 0) */
    ASM_ITEM_RAWINSN     /* bytes whose first one is an instruction start (undefined opcodes) */
} asm_item_kind;

/* Register operands in text order: ONEREG_*: r[0] = rA. TWOREG: r[0] = rD, r[1] = rA.
 * TWOREG_ONEIMM / _ONEOFF / _TWOIMM: r[0] = rA, r[1] = rB. THREEREG: r[0] = rD, r[1] = rA,
 * r[2] = rB. Immediates X and Y in x and y; a branch or jump target in t. */
typedef struct asm_item {
    uint8_t kind, op;
    uint8_t r[3];
    asm_opd x, y, t;
    uint8_t *bytes;       /* owned */
    uint32_t nbytes;
    uint32_t line, col;   /* source position, for errors (0 when generated) */
    uint32_t pc, len;     /* layout results */
    uint8_t w[3];         /* layout: widths of x, y and the offset, grown until stable */
} asm_item;

typedef struct asm_label {
    char *name;           /* owned; NULL for generated labels */
    bool defined, is_code;
    uint32_t item;        /* code label: index of the item it precedes (n = end of code) */
    uint64_t value;       /* data label: its address; code label: its pc after layout */
    uint32_t line, col;   /* first use or definition */
} asm_label;

typedef struct asm_prog {
    asm_item *items;
    size_t n, cap;
    asm_label *labels;
    size_t nlabels, caplabels;
    uint32_t *lhash;      /* open-addressing index of named labels (label + 1; 0 = empty) */
    size_t lhash_cap;
    asm_opd *jt;          /* explicit jump-table entries, in order (.jumptable) */
    size_t njt, capjt;
    uint32_t *jt_auto;    /* labels referenced by &label, in order of first use */
    size_t njt_auto, capjt_auto;
    int jt_width;         /* deblob entry width z; -1 = the smallest that fits */
    bool no_verify;       /* layout skips the decode-back check (disassembler's fitting passes) */
    /* results of asm_layout */
    uint8_t *code;
    uint32_t code_len;
    uint8_t *bitmask;
    uint32_t bitmask_len;
    uint32_t *jt_final;   /* entries (explicit, then the &label ones not already listed) */
    uint32_t *jt_label;   /* label of each final entry, or UINT32_MAX for numbers */
    uint32_t jt_count;
    uint32_t *jt_of_label; /* per label: its first entry index + 1, or 0 */
} asm_prog;

/* An error with its source position (line 0: no position). */
typedef struct asm_err {
    uint32_t line, col;
    char msg[256];
} asm_err;

void asm_prog_init(asm_prog *p);
void asm_prog_free(asm_prog *p);
/* Appends an item (copied; `bytes` ownership moves to the program). Returns its index or -1. */
long asm_add(asm_prog *p, const asm_item *it);
/* A new anonymous code label bound to nothing yet; returns its index or -1 (out of memory). */
long asm_label_new(asm_prog *p);
/* Named label lookup or creation; returns its index or -1. */
long asm_label_get(asm_prog *p, const char *name, size_t len, uint32_t line, uint32_t col);
/* Named label lookup without creation: its index or -1. */
long asm_label_find(const asm_prog *p, const char *name, size_t len);
/* Binds a code label to the next item to be appended. */
void asm_label_here(asm_prog *p, uint32_t label);
/* Notes a use of &label (adds it to the automatic jump-table list once). */
int asm_jt_use(asm_prog *p, uint32_t label);
/* Whether the last appended item is a terminator in the JAVM profile (raw items count as not). */
bool asm_last_is_terminator(const asm_prog *p);

/* Lays out and encodes every item: offsets and label-valued immediates get the smallest widths
 * that fit (grown until stable), the jump table is resolved, and every instruction is decoded
 * back from the final code and compared with what was asked for (a mismatching encoding
 * override or a neighbouring .raw that changes an operand is an error). JAVM_OK or a negative
 * status with *err filled. */
int asm_layout(asm_prog *p, asm_err *err);
/* The value of an operand after layout (jump-table entries must be resolved). */
uint64_t asm_opd_value(const asm_prog *p, const asm_opd *o);
/* The jump-table address of a label after layout (0 when it has no entry). */
uint32_t asm_jt_addr(const asm_prog *p, uint32_t label);

/* ---- decoding (pvm.md §4) -------------------------------------------------------------- */

typedef struct asm_dec {
    uint8_t op;
    uint8_t r[3];         /* text order, as asm_item */
    uint64_t x, y;
    uint32_t t;
    uint32_t next;        /* next(pc) */
} asm_dec;

/* Decodes the instruction at pc < L (whatever k[pc] is) through ζ. False when the opcode is
 * undefined in the JAVM profile. */
bool asm_decode(const uint8_t *code, uint32_t L, const uint8_t *bitmask, uint32_t pc, asm_dec *d);
/* skip(pc) of pvm.md §4.1. */
uint32_t asm_skip(const uint8_t *bitmask, uint32_t L, uint32_t pc);

/* ---- text ------------------------------------------------------------------------------- */

/* Everything an image needs besides the code: filled by the parser, printed by the disassembler. */
typedef struct asm_capdef {
    char *name;
    uint8_t kind;         /* JAVM_KIND_DATA with contents in buf, or any kind as a raw body */
    bool raw;
    uint8_t *buf;
    size_t len, cap;
    struct asm_fixup *fix;
    size_t nfix, capfix;
    uint64_t addr;        /* section sugar: address of byte 0 */
    bool is_section, writable;
    uint64_t map_size;    /* section sugar: mapping size (0 = the contents' length) */
    javm_hash hash;
} asm_capdef;

typedef struct asm_fixup {
    size_t off;
    unsigned width;
    asm_opd v;
    uint32_t line, col;
} asm_fixup;

typedef struct asm_ep {
    asm_opd entry;
    uint64_t stack_top;
    uint64_t regs[13];
    uint32_t arg_slot;
    uint8_t arg_size;
} asm_ep;

typedef struct asm_slotref {
    uint32_t slot;
    uint32_t cap;         /* index into caps */
} asm_slotref;

typedef struct asm_unit {
    asm_prog prog;
    asm_ep *eps;
    size_t neps;
    javm_mapping *maps;
    size_t nmaps;
    asm_capdef *caps;
    size_t ncaps;
    asm_slotref *pinned, *initial;
    size_t npinned, ninitial;
    bool has_yield;
    uint32_t yield_slot;
} asm_unit;

void asm_unit_init(asm_unit *u);
void asm_unit_free(asm_unit *u);

/* Parses assembly text (text[0..len), NUL not needed) into u and lays it out. JAVM_OK or a
 * negative status with err (line:col of the offending token). */
int asm_parse(asm_unit *u, const char *text, size_t len, asm_err *err);

/* Builds the Image and its caps into a fresh in-memory cache and writes the JIMG file
 * (javm_free). Needs a laid-out unit. */
int asm_write_jimg(asm_unit *u, uint8_t **out, size_t *len, asm_err *err);
/* Writes the deblob (pvm.md §9.2) of a laid-out program (free()). */
int asm_write_blob(const asm_prog *p, uint8_t **out, size_t *len, asm_err *err);

/* Prints one item as a line of that text (labels as the unit names them). */
void asm_print_insn(FILE *f, const asm_prog *p, const asm_item *it);

/* Prints a unit as text that asm_parse turns back into the same unit (see docs/guest.md). */
int asm_print(const asm_unit *u, FILE *f);

#endif
