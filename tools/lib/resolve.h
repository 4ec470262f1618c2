/* SPDX-License-Identifier: MIT
 * tools/lib/resolve.h — turning user text into cap hashes: 64 hex digits, or a unique prefix
 * of at least 8 hex digits among the cache's blobs. Used by the javm command. */
#ifndef TOOLS_RESOLVE_H
#define TOOLS_RESOLVE_H

#include "javm.h"

typedef enum tl_resolve {
    TL_RESOLVE_OK = 0,
    TL_RESOLVE_MALFORMED,   /* not 8..64 hex digits */
    TL_RESOLVE_UNKNOWN,     /* no blob matches */
    TL_RESOLVE_AMBIGUOUS,   /* two or more blobs match the prefix */
    TL_RESOLVE_CORRUPT      /* the store record for this hash does not decode */
} tl_resolve;

#define TL_PREFIX_MIN 8

/* Resolves text (case-insensitive hex) against the blobs of cache. */
tl_resolve tl_resolve_hash(javm_cache *cache, const char *text, javm_hash *out);

#endif
