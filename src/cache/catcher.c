/* SPDX-License-Identifier: MIT
 * cache/catcher.c — yield catchers (caps.md §9): Type caps put in the cache, whose marker sets
 * the kernel assist keeps. The cache checks happen here; the sets live behind javm_ka_vtbl. */
#include <string.h>

#include "cache/cache.h"

int javm_yield_catcher_new(javm_cache *c, javm_ka *ka, javm_hash *out)
{
    static const char tag[] = "javm:yield-catcher"; /* 18 ASCII bytes */
    uint8_t buf[sizeof tag - 1 + 8];
    javm_hash chain, h;
    javm_cap *type = NULL;
    if (!c || !ka || !out)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    uint64_t nonce = ka->vtbl->yield_catcher_nonce(ka);
    memcpy(buf, tag, sizeof tag - 1);
    cap_put_u64(buf + sizeof tag - 1, nonce);
    javm_blake2b(buf, sizeof buf, &chain);
    int rc = javm_type_new(&chain, &type);
    if (rc == JAVM_OK)
        rc = javm_cache_put_owned(c, type, &h);
    if (rc) {
        javm_cap_free(type);
        return rc;
    }
    rc = ka->vtbl->yield_catcher_register(ka, &h);
    if (rc) {
        javm_key k = javm_key_of_hash(&h);
        javm_cache_decref(c, &k);
        return rc;
    }
    *out = h;
    return JAVM_OK;
}

int javm_yield_catcher_add(javm_cache *c, javm_ka *ka, const javm_hash *catcher,
                           const javm_hash *marker)
{
    cache_entry *e;
    if (!c || !ka || !catcher || !marker)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    /* The kernel assist tells "registered" by answering the add; the cache checks follow and
     * take the add back if they fail, so the set is unchanged on any error. */
    bool was = ka->vtbl->yield_catcher_contains(ka, catcher, marker);
    int rc = ka->vtbl->yield_catcher_add(ka, catcher, marker);
    if (rc)
        return rc;
    rc = cache_blob(c, catcher, &e);
    if (rc == JAVM_OK && !e)
        rc = JAVM_ERR_NOT_FOUND;
    if (rc == JAVM_OK && e->cap->kind != JAVM_KIND_TYPE)
        rc = CAP_ERR(JAVM_ERR_WRONG_KIND);
    if (rc == JAVM_OK && (rc = cache_blob(c, marker, &e)) == JAVM_OK && !e)
        rc = JAVM_ERR_NOT_FOUND;
    if (rc && !was)
        ka->vtbl->yield_catcher_remove(ka, catcher, marker);
    return rc;
}

int javm_yield_catcher_remove(javm_cache *c, javm_ka *ka, const javm_hash *catcher,
                              const javm_hash *marker)
{
    if (!c || !ka || !catcher || !marker)
        return CAP_ERR(JAVM_ERR_INVALID_ARG);
    return ka->vtbl->yield_catcher_remove(ka, catcher, marker);
}
