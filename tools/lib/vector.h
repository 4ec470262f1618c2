/* SPDX-License-Identifier: MIT
 * tools/lib/vector.h — JAM PVM test-vector files (pvm.md §9.3): a hostile-input JSON loader
 * (json-c, exact u64), the runner mapping of pvm.md §9.4 and a field-by-field comparison.
 * Shared by the javm command, the tests and the benchmarks. */
#ifndef TOOLS_VECTOR_H
#define TOOLS_VECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "javm.h"

typedef struct tv_chunk {
    uint32_t addr;
    uint8_t *bytes;
    size_t len;
} tv_chunk;

typedef struct tv_page {
    uint32_t addr, len;
    bool writable;
} tv_page;

typedef struct tv_vector {
    char *name;
    uint64_t init_regs[JAVM_NUM_REGS];
    uint32_t init_pc;
    tv_page *pages;
    size_t npages;
    tv_chunk *init_mem;
    size_t ninit;
    int64_t init_gas;
    uint8_t *program;
    size_t program_len;
    /* expectations (absent keys leave has_* false) */
    char *exp_status;  /* "halt", "panic", "page-fault", "out-of-gas", "host", ... */
    uint64_t exp_regs[JAVM_NUM_REGS];
    uint32_t exp_pc;
    tv_chunk *exp_mem;
    size_t nexp;
    int64_t exp_gas;
    bool has_fault;
    uint32_t exp_fault;
    /* extra keys of bench/programs */
    bool has_instructions, has_fnv, has_gas_1pi;
    uint64_t exp_instructions, exp_fnv;
    uint32_t fnv_addr, fnv_len;      /* region hashed by expected-memory-fnv1a64 */
    int64_t exp_gas_1pi;
} tv_vector;

/* Loads one vector file. On failure returns a javm status and writes a message naming the
 * file and key to err. The vector owns its memory: tv_free. */
int tv_load(const char *path, tv_vector *v, char *err, size_t errlen);
void tv_free(tv_vector *v);

/* Memory and state as pvm.md §9.4 steps 3-5 lay them out (mem must be fresh or reset). */
int tv_setup(const tv_vector *v, javm_memory *mem, javm_state *st);

/* Status word of an exit in the vectors' vocabulary. */
const char *tv_status_word(javm_exit_reason r, javm_profile profile);

/* Compares a finished run with the expectations; appends one line per mismatching field to
 * report (NUL-terminated, truncated to cap). Returns the number of mismatching fields.
 * Memory is compared byte for byte, or by FNV-1a when the vector gives a hash instead; the
 * executed-instruction count is compared when the vector gives one.
 * With gas_key_1pi the `expected-gas-1pi` key is used for gas when present. */
int tv_compare(const tv_vector *v, const javm_state *st, javm_exit ex, javm_profile profile,
               bool gas_key_1pi, char *report, size_t cap);

/* FNV-1a 64 over [addr, addr + len) (peeked). */
uint64_t tv_fnv1a(const javm_memory *mem, uint32_t addr, uint32_t len);

/* Runs a vector the conformance way (pvm.md §9.4): GP profile, instruction-count gas.
 * Returns the number of mismatching fields, or a negative status if memory could not be
 * created. *report receives the mismatch lines. */
int tv_conform(const tv_vector *v, javm_engine engine, char *report, size_t cap);
/* The same under another profile and gas model (e.g. jam-draft vectors: JAVM_PROFILE_JAM_DRAFT
 * with JAVM_GAS_JAM_DRAFT), and with a stop (javm_state.stop; NULL for none). */
int tv_conform_with(const tv_vector *v, javm_engine engine, javm_profile profile,
                    javm_gas_model model, javm_stop *stop, char *report, size_t cap);

/* The names of the *.json files in dir, sorted (*names: n strdup'd strings; tv_names_free).
 * JAVM_ERR_IO (errno set) when dir cannot be read, JAVM_ERR_ALLOC. */
int tv_list_json(const char *dir, char ***names, size_t *n);
void tv_names_free(char **names, size_t n);

#endif
