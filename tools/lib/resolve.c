/* SPDX-License-Identifier: MIT
 * tools/lib/resolve.c — see resolve.h. Prefixes are matched by one ascending walk over the
 * blobs, stopped as soon as the answer is known (a second match, or a hash past the prefix). */
#include <string.h>

#include "resolve.h"

typedef struct prefix_scan {
    char prefix[65];
    size_t len;
    size_t matches;
    javm_hash first;
} prefix_scan;

static int prefix_cb(void *arg, const javm_hash *h, const javm_cap *cap, uint32_t refcount)
{
    (void)cap;
    (void)refcount;
    prefix_scan *p = arg;
    char hex[65];
    javm_hash_to_hex(h, hex);
    int c = strncmp(hex, p->prefix, p->len);
    if (c == 0) {
        if (p->matches++ == 0)
            p->first = *h;
        return p->matches > 1;
    }
    return c > 0;
}

tl_resolve tl_resolve_hash(javm_cache *cache, const char *text, javm_hash *out)
{
    size_t n = strlen(text);
    prefix_scan p;
    memset(&p, 0, sizeof p);
    p.len = n;
    if (n < TL_PREFIX_MIN || n > 64)
        return TL_RESOLVE_MALFORMED;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return TL_RESOLVE_MALFORMED;
        p.prefix[i] = c;
    }
    if (n == 64) {
        javm_hash_from_hex(p.prefix, out);
        if (javm_cache_get_hash(cache, out))
            return TL_RESOLVE_OK;
        uint32_t rc;
        return javm_cache_refcount(cache, &(javm_key){ .tag = JAVM_KEY_HASH, .hash = *out }, &rc) ==
                       JAVM_ERR_STORE_CORRUPT
                   ? TL_RESOLVE_CORRUPT
                   : TL_RESOLVE_UNKNOWN;
    }
    javm_cache_iter_blobs(cache, prefix_cb, &p);
    if (p.matches == 0)
        return TL_RESOLVE_UNKNOWN;
    if (p.matches > 1)
        return TL_RESOLVE_AMBIGUOUS;
    *out = p.first;
    return TL_RESOLVE_OK;
}
