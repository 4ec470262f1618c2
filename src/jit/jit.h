/* SPDX-License-Identifier: MIT
 * jit/jit.h — internals of the x86-64 JIT (jit/jit.c) and the engine switch (jit/run.c).
 * The JIT sits above the exec layer: it compiles a prepared program's records (exec/exec.h)
 * into native code that behaves exactly like exec_interp_run. See docs/jit.md. */
#ifndef JIT_JIT_H
#define JIT_JIT_H

#include "exec/exec.h"

/* Whether this build has the JIT (x86-64 Linux, JAVM_JIT not disabled). */
#if defined(__x86_64__) && defined(__linux__) && !defined(JAVM_NO_JIT)
#define JIT_ENABLED 1
#else
#define JIT_ENABLED 0
#endif

/* CPU features the emitter may use (checked with CPUID at compile time of each program;
 * JAVM_JIT_CPU=baseline in the environment turns them all off, for tests). */
enum { JIT_CPU_BMI1 = 1, JIT_CPU_BMI2 = 2, JIT_CPU_LZCNT = 4, JIT_CPU_POPCNT = 8 };
unsigned jit_cpu_features(void);

/* Compiled code of one program under one gas model. Immutable once published. */
typedef struct jit_code jit_code;

/* Compiled code for (p, model), compiling it on first use (thread-safe: racing compilers
 * publish one result). NULL with *status set when the program cannot be compiled
 * (JAVM_ERR_JIT_TOO_LARGE, JAVM_ERR_ALLOC, JAVM_ERR_JIT_UNSUPPORTED); the failure is
 * remembered so later runs go straight to the interpreter. */
const jit_code *jit_get(const javm_program *p, javm_gas_model model, int *status);

/* Runs compiled code: the same contract as exec_interp_run. */
javm_exit jit_exec(const javm_program *p, const jit_code *jc, javm_state *st, javm_handler h,
                   void *user);

/* Size in bytes of the native code and the time its compilation took. */
size_t jit_code_size(const jit_code *jc);
uint64_t jit_code_compile_ns(const jit_code *jc);
/* Native offset of record i (its arrival address) and the code's start, for --dump-native. */
const uint8_t *jit_code_bytes(const jit_code *jc);
uint32_t jit_code_rec_offset(const jit_code *jc, uint32_t i);
uint32_t jit_code_stubs_offset(const jit_code *jc);

#endif
