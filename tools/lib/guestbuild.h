/* SPDX-License-Identifier: MIT
 * tools/lib/guestbuild.h — test and benchmark support for guests: compile C sources with
 * clang-19 (guest/build.sh flags), link them with rvld into a JIMG image in memory, and run
 * them on an in-memory store (spawn once, invoke many times). */
#ifndef TOOLS_GUESTBUILD_H
#define TOOLS_GUESTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "javm.h"

/* Whether clang-19 and ld.lld-19 are on PATH. */
bool gb_have_clang(void);
/* The project root (derived from this file's path at build time), written to root[0..n). */
const char *gb_root(char *root, size_t n);
/* Compiles sources (paths relative to the project root) and links them into an ELF; then
 * translates it into a JIMG image (*jimg: javm_free). elf/elf_len may be NULL; when given they
 * receive the ELF bytes (free()). Returns JAVM_OK or a status with msg filled. */
int gb_build(const char *const *srcs, size_t n, const char *cflags, uint8_t **jimg, size_t *len,
             uint8_t **elf, size_t *elf_len, char *msg, size_t msglen);

/* A spawned guest on a private in-memory store with an in-process kernel assist. */
typedef struct gb_guest {
    javm_store *store;
    javm_cache *cache;
    javm_ka *ka;
    javm_vm *vm;
    javm_hash image, inst;
} gb_guest;

/* Loads the image, gives quota 0 a large budget and spawns the first instance. */
int gb_open(gb_guest *g, const uint8_t *jimg, size_t len);
/* Invokes an endpoint; on HALT the guest moves on to the post-instance (state persists). */
int gb_invoke(gb_guest *g, uint32_t ep, uint64_t a0, uint64_t a1, const javm_hash *slot0,
              uint64_t gas, javm_call_result *r);
/* Puts bytes as a Data cap (one hold for the caller). */
int gb_put_data(gb_guest *g, const void *b, size_t n, javm_hash *out);
void gb_close(gb_guest *g);

#endif
