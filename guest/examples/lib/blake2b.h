/* SPDX-License-Identifier: MIT
 * guest/examples/lib/blake2b.h — BLAKE2b (RFC 7693), unkeyed, written for both guest and
 * native builds (no libc): the differential test and the benchmark compare the two. */
#ifndef GUEST_BLAKE2B_H
#define GUEST_BLAKE2B_H
#include <stdint.h>
void g_blake2b(uint8_t *out, unsigned outlen, const uint8_t *in, uint64_t len);
#endif
