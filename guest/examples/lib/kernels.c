/* SPDX-License-Identifier: MIT
 * guest/examples/lib/kernels.c — the kernels of kernels.h, in plain C without libc. */
#include "kernels.h"

void g_fill(uint32_t *a, uint64_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15u + 1;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        a[i] = (uint32_t)(x >> 16);
    }
}

static void insertion(uint32_t *a, uint64_t n)
{
    for (uint64_t i = 1; i < n; i++) {
        uint32_t v = a[i];
        uint64_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

void g_sort(uint32_t *a, uint64_t n)
{
    uint64_t lo_stack[64], hi_stack[64];
    int sp = 0;
    lo_stack[sp] = 0;
    hi_stack[sp++] = n;
    while (sp) {
        sp--;
        uint64_t lo = lo_stack[sp], hi = hi_stack[sp];
        while (hi - lo > 16) {
            uint64_t mid = lo + (hi - lo) / 2;
            uint32_t x = a[lo], y = a[mid], z = a[hi - 1];
            uint32_t p = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
            uint64_t i = lo, j = hi - 1;
            for (;;) {
                while (a[i] < p)
                    i++;
                while (a[j] > p)
                    j--;
                if (i >= j)
                    break;
                uint32_t t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
            /* recurse into the smaller part later, loop on the larger */
            if (j + 1 - lo < hi - (j + 1)) {
                lo_stack[sp] = j + 1;
                hi_stack[sp++] = hi;
                hi = j + 1;
            } else {
                lo_stack[sp] = lo;
                hi_stack[sp++] = j + 1;
                lo = j + 1;
            }
        }
        insertion(a + lo, hi - lo);
    }
}

uint64_t g_sorted_sum(const uint32_t *a, uint64_t n)
{
    uint64_t h = 1469598103934665603u;
    for (uint64_t i = 0; i < n; i++) {
        if (i && a[i - 1] > a[i])
            return ~(uint64_t)0;
        h = (h ^ a[i]) * 1099511628211u;
    }
    return h;
}

uint64_t g_mix(uint64_t a, uint64_t b)
{
    uint64_t r = a * 0x2545F4914F6CDD1Du + b;
    int64_t sa = (int64_t)a, sb = (int64_t)b;
    r ^= b ? a / b : 7;
    r += b ? a % b : 11;
    r ^= (sb != 0 && !(sa == INT64_MIN && sb == -1)) ? (uint64_t)(sa / sb) : 13;
    r += (sb != 0 && !(sa == INT64_MIN && sb == -1)) ? (uint64_t)(sa % sb) : 17;
    uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b;
    r ^= (uint64_t)(b32 ? a32 / b32 : 19) << 7;
    r += (uint64_t)(int64_t)(int32_t)(a32 * b32 + (a32 >> (b & 31)));
    r ^= (r << (a & 63)) | (r >> ((64 - (a & 63)) & 63));
    r += (uint64_t)((int64_t)a >> (b & 63));
    r ^= (sa < sb) ? 0x1234 : (a < b) ? 0x5678 : 0x9abc;
    r += (uint64_t)(((unsigned __int128)a * b) >> 64);
    r ^= (uint64_t)(int64_t)((int32_t)a32 >> (b32 & 31));
    return r;
}

uint64_t g_switchy(uint64_t a, uint64_t b)
{
    uint64_t acc = b;
    for (int i = 0; i < 24; i++) {
        switch ((a >> (i % 16 * 4)) & 15) {
        case 0: acc += 3; break;
        case 1: acc ^= acc >> 7; break;
        case 2: acc *= 5; break;
        case 3: acc -= a; break;
        case 4: acc = acc << 3 | acc >> 61; break;
        case 5: acc += i; break;
        case 6: acc ^= 0xdeadbeef; break;
        case 7: acc = ~acc; break;
        case 8: acc += acc >> 11; break;
        case 9: acc = acc * 7 + 1; break;
        case 10: acc ^= b; break;
        case 11: acc -= 99; break;
        default: acc += (uint64_t)i * i; break;
        }
        switch (acc % 1000) {
        case 7: acc += 1; break;
        case 500: acc ^= 2; break;
        case 999: acc -= 3; break;
        default: break;
        }
    }
    return acc;
}
