/* SPDX-License-Identifier: MIT
 * tools/lib/bench.h — benchmark loops shared by `javm bench` and bench/ programs. They print
 * figures; nothing here asserts on time. */
#ifndef TOOLS_BENCH_H
#define TOOLS_BENCH_H

#include <stdio.h>

#include "javm.h"

/* Runs the four programs of DIR (bench/programs) under the JAVM profile with pipeline
 * gas, best of `runs`, and prints ns per executed instruction beside the upstream Rust
 * interpreter's figures. Returns 0, or -1 when a program is missing or its result differs. */
/* Engines to time (a mask). */
enum { TB_INTERP = 1, TB_JIT = 2 };
int tb_exec_programs(const char *dir, int runs, unsigned engines, FILE *out);
/* The same under another profile, charging that profile's default gas model (jam-draft for
 * jam-draft). Gas is then not compared: the programs' expected gas is the JAVM pipeline's. */
int tb_exec_programs_profile(const char *dir, int runs, unsigned engines, javm_profile profile,
                             FILE *out);

#endif
