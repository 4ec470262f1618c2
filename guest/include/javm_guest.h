/* SPDX-License-Identifier: MIT
 * javm_guest.h — the JAVM guest SDK for C (clang-19, RV64EM, translated by `javm ld`): one
 * inline function per ecall op of caps.md §7 with its register convention, the endpoint
 * marker, and a freestanding mini libc (memcpy, memmove, memset, memcmp, strlen). Build flags
 * and conventions: docs/guest.md. */
#ifndef JAVM_GUEST_H
#define JAVM_GUEST_H

#include <stddef.h>
#include <stdint.h>

/* ---- endpoints ----------------------------------------------------------------------------
 * An endpoint is `uint64_t fn(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)`: the four
 * invocation arguments arrive in φ7..φ10 (a0..a3) and the return value (φ7) is the
 * invocation's return value. JAVM_ENDPOINT(i, fn) makes fn endpoint i; indices run 0..n-1. */
typedef uint64_t (*javm_entry_fn)(uint64_t, uint64_t, uint64_t, uint64_t);
typedef struct javm_endpoint_rec {
    uint64_t index;
    javm_entry_fn fn;
} javm_endpoint_rec;
#define JAVM_ENDPOINT(idx, fn)                                                                 \
    static const javm_endpoint_rec javm__ep_##fn                                               \
        __attribute__((section(".javm_endpoints"), used, aligned(8))) = { (idx), (fn) }

/* ---- ecalls -------------------------------------------------------------------------------
 * `ecalli N` is written as the custom-0 word `.insn i 0x0b, 0, x0, x0, N`, which `javm ld`
 * turns into PVM `ecalli N`. The kernel reads a0..a3 (φ7..φ10) and writes only a0 (φ7), and
 * may read or write guest memory, hence the "memory" clobber. An op that fails traps the
 * whole invocation, so these functions return only on success. */
#define JAVM__ECALLI(n, r0, r1, r2, r3)                                                        \
    ({                                                                                         \
        register uint64_t a0_ __asm__("a0") = (uint64_t)(r0);                                  \
        register uint64_t a1_ __asm__("a1") = (uint64_t)(r1);                                  \
        register uint64_t a2_ __asm__("a2") = (uint64_t)(r2);                                  \
        register uint64_t a3_ __asm__("a3") = (uint64_t)(r3);                                  \
        __asm__ volatile(".insn i 0x0b, 0, x0, x0, " #n                                        \
                         : "+r"(a0_)                                                           \
                         : "r"(a1_), "r"(a2_), "r"(a3_)                                        \
                         : "memory");                                                          \
        a0_;                                                                                   \
    })

/* op 0: ends the invocation (HALT) with return value v. */
static inline __attribute__((noreturn)) void javm_halt(uint64_t v)
{
    JAVM__ECALLI(0, v, 0, 0, 0);
    __builtin_unreachable();
}
/* MGMT ops 1-5 (slots are the low 8 bits of the register). */
static inline void javm_copy(uint64_t src, uint64_t dst) { JAVM__ECALLI(1, src, dst, 0, 0); }
static inline void javm_move(uint64_t src, uint64_t dst) { JAVM__ECALLI(2, src, dst, 0, 0); }
static inline void javm_drop(uint64_t slot) { JAVM__ECALLI(3, slot, 0, 0, 0); }
static inline void javm_cnode_swap(uint64_t a, uint64_t b) { JAVM__ECALLI(4, a, b, 0, 0); }
static inline void javm_cnode_mint(uint64_t slot, uint64_t size_log) { JAVM__ECALLI(5, slot, size_log, 0, 0); }
/* Host calls 16-26. */
static inline void javm_host_yield(uint64_t marker_slot) { JAVM__ECALLI(16, marker_slot, 0, 0, 0); }
static inline void javm_set_image(uint64_t slot) { JAVM__ECALLI(17, slot, 0, 0, 0); }
static inline void javm_derive_spawn(uint64_t image_slot, uint64_t cnode_slot, uint64_t dst)
{
    JAVM__ECALLI(18, image_slot, cnode_slot, dst, 0);
}
static inline void javm_make_image(void) { JAVM__ECALLI(19, 0, 0, 0, 0); }
static inline uint64_t javm_same_type(uint64_t a, uint64_t b) { return JAVM__ECALLI(20, a, b, 0, 0); }
static inline void javm_type_of(uint64_t src, uint64_t dst) { JAVM__ECALLI(21, src, dst, 0, 0); }
/* Copies min(len, size) bytes of the Data cap in `slot` to dst; returns that count. */
static inline uint64_t javm_read_data_cap(uint64_t slot, void *dst, uint64_t len)
{
    return JAVM__ECALLI(22, slot, (uintptr_t)dst, len, 0);
}
/* Mints a Data cap of src[0..len) into slot dst, charged to storage quota q. */
static inline void javm_mint_data_cap(const void *src, uint64_t len, uint64_t quota, uint64_t dst)
{
    JAVM__ECALLI(23, (uintptr_t)src, len, quota, dst);
}
/* Puts the Data cap of a saved file into slot dst. */
static inline void javm_host_open(uint64_t file_id, uint64_t dst) { JAVM__ECALLI(24, file_id, dst, 0, 0); }
/* Saves the Data cap in `slot` as a file charged to quota q; returns its file id. */
static inline uint64_t javm_host_save(uint64_t slot, uint64_t quota) { return JAVM__ECALLI(25, slot, quota, 0, 0); }
/* Calls endpoint ep of the Instance in `slot` (slot 0 is handed over); returns its φ7. */
static inline uint64_t javm_host_call(uint64_t slot, uint64_t ep) { return JAVM__ECALLI(26, slot, ep, 0, 0); }
/* Any op (embedder host functions >= 64 included) through `ecall`: op in a4 (φ11). */
static inline uint64_t javm_ecall(uint64_t op, uint64_t r0, uint64_t r1, uint64_t r2, uint64_t r3)
{
    register uint64_t a0 __asm__("a0") = r0;
    register uint64_t a1 __asm__("a1") = r1;
    register uint64_t a2 __asm__("a2") = r2;
    register uint64_t a3 __asm__("a3") = r3;
    register uint64_t a4 __asm__("a4") = op;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a4) : "memory");
    return a0;
}

/* ---- freestanding mini libc ---------------------------------------------------------------
 * clang emits calls to memcpy, memmove and memset even with -ffreestanding, so they are
 * defined here, weak so that every translation unit may include this header. */
#define JAVM__LIBC __attribute__((weak, used, no_builtin))
JAVM__LIBC void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    while (n >= 8 && !(((uintptr_t)dp | (uintptr_t)sp) & 7)) {
        *(uint64_t *)(void *)dp = *(const uint64_t *)(const void *)sp;
        dp += 8;
        sp += 8;
        n -= 8;
    }
    while (n--)
        *dp++ = *sp++;
    return d;
}
JAVM__LIBC void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp < sp)
        while (n--)
            *dp++ = *sp++;
    else
        while (n--)
            dp[n] = sp[n];
    return d;
}
JAVM__LIBC void *memset(void *d, int c, size_t n)
{
    unsigned char *dp = d;
    while (n--)
        *dp++ = (unsigned char)c;
    return d;
}
JAVM__LIBC int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}
JAVM__LIBC size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

#endif
