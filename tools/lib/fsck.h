/* SPDX-License-Identifier: MIT
 * tools/lib/fsck.h — `javm fsck` (issue 13 item 13), like `git fsck`: walks every table of a
 * store through the vtbl (read only), recomputes every blob's hash, and checks refcounts,
 * edges, names, files, quotas and meta against each other. Each problem is reported through
 * a callback; nothing is changed. */
#ifndef TOOLS_LIB_FSCK_H
#define TOOLS_LIB_FSCK_H

#include <stddef.h>
#include <stdint.h>

#include "javm.h"

/* kind: a short stable word (blob-key, blob-decode, blob-hash, refcount-missing,
 * refcount-orphan, refcount-size, refcount-low, edge-dangling, name-size, name-target,
 * file-size, file-target, quota-size, meta); where: the table and key; detail: prose. */
typedef void (*tl_fsck_report)(void *arg, const char *kind, const char *where,
                               const char *detail);

typedef struct tl_fsck_stats {
    size_t blobs, names, files, quotas;
    size_t problems;
    size_t unreachable;   /* blobs no name or file reaches (gc would delete them): not a problem */
    uint64_t extra_holds; /* counts above the holders found: embedder holds or leaks: not a problem */
} tl_fsck_stats;

/* JAVM_OK when the walk completed (problems or not); a store or allocation failure otherwise. */
int tl_fsck(javm_store *s, tl_fsck_report report, void *arg, tl_fsck_stats *st);

#endif
