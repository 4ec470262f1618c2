/* SPDX-License-Identifier: MIT
 * javm/store.h — the persistent store on LMDB and the persistent kernel assist (reference:
 * docs/store.md). The store interface itself (javm_store_vtbl) and the
 * in-memory store are in javm/cap.h. Part of the public API; include <javm.h>. */
#ifndef JAVM_STORE_H
#define JAVM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "javm/cap.h"

/* Options of the LMDB store (NULL = defaults). */
typedef struct javm_lmdb_opts {
    uint64_t map_size;   /* bytes; 0 = 1 GiB. A full map gives JAVM_ERR_STORE_FULL */
    bool no_sync;        /* skip fdatasync at commit (MDB_NOSYNC): faster, not crash-durable */
    bool read_only;      /* open without write access; begin fails with JAVM_ERR_STORE_READONLY */
} javm_lmdb_opts;

/* Opens (creating the directory and the environment on first use) an LMDB store with the six
 * tables of caps.md §5.7 as named databases in one environment. The meta table's format and
 * hash_profile records are written by javm_cache_open on a fresh store and checked on an old
 * one. Statuses: JAVM_ERR_STORE_READONLY (cannot create or write where asked),
 * JAVM_ERR_NOT_FOUND (a read-only open where no store exists: no path/data.mdb),
 * JAVM_ERR_STORE_CORRUPT (a data.mdb that is empty or shorter than its meta page says),
 * JAVM_ERR_STORE_FORMAT, JAVM_ERR_STORE, JAVM_ERR_ALLOC, JAVM_ERR_BUSY (this process already
 * has the store open: LMDB forbids a second handle; a javm.lock file beside data.mdb detects
 * it). Close with javm_store_close. Writers in
 * different processes serialise on LMDB's write lock (begin waits); readers never block. */
JAVM_API int javm_store_lmdb_open(const char *path, const javm_lmdb_opts *opts, javm_store **out);

/* Checks the data file of the LMDB store at path without LMDB (our own bounds-checked reader,
 * so a damaged file gives a status, never a fault): the checks javm_store_lmdb_open makes
 * (meta pages, file size, the six tables' records and root pages), and with every_page the
 * walk of every page of every table and of the free list (page numbers, types, key counts,
 * node offsets and sizes, overflow runs, depths, counts, no page reached twice or both free
 * and used). Cost: a few pages, or every page of the file (docs/store.md). JAVM_OK;
 * JAVM_ERR_STORE_CORRUPT with msg naming the damage ("page N of table T is corrupt: ...");
 * JAVM_ERR_STORE_FORMAT (another LMDB data version); JAVM_ERR_NOT_FOUND (no data.mdb);
 * JAVM_ERR_STORE (an I/O error). Safe while other processes use the store. A store that passes
 * with every_page cannot make LMDB fault in the operations javm uses (docs/store.md says what
 * is and is not guaranteed). */
JAVM_API int javm_store_lmdb_verify(const char *path, bool every_page, char *msg, size_t msglen);

/* Writes a consistent, compacted copy of an LMDB store (one read transaction: other processes
 * keep committing meanwhile) to dest/data.mdb, creating the directory dest; an existing
 * dest/data.mdb is never overwritten (JAVM_ERR_INVALID_ARG). The copy is fsynced; a failed
 * copy is removed. JAVM_ERR_INVALID_ARG also for a store that is not LMDB. */
JAVM_API int javm_store_lmdb_backup(javm_store *s, const char *dest);
/* Replaces the LMDB store at dest (created if missing) by a compacted copy of the one at src:
 * the copy is written beside it and renamed over dest/data.mdb. JAVM_ERR_BUSY when a process
 * has dest open (javm.lock), and new opens of dest are BUSY until it is done. Checking src
 * first (fsck) is the caller's job. On failure dest is unchanged and msg says why. */
JAVM_API int javm_store_lmdb_restore(const char *src, const char *dest, char *msg, size_t msglen);

/* Options of the RADOS store (NULL = defaults). */
typedef struct javm_rados_opts {
    const char *conf;   /* ceph.conf path; NULL = the URL's ?conf=, else $CEPH_CONF, else
                         * librados' own search */
    unsigned timeout_s; /* client op, mon and mount timeout in seconds; 0 = the URL's
                         * ?timeout=, else 30 */
    bool read_only;     /* begin fails with JAVM_ERR_STORE_READONLY */
} javm_rados_opts;

/* Opens the store on Ceph RADOS named by url, "rados://POOL[/NAMESPACE][?conf=PATH&timeout=S]"
 * (docs/scale-out.md: object layout, commit protocol, gc, failures). The pool must exist; the
 * store's objects are created in the namespace on first use. On failure msg (msglen bytes; may
 * be NULL) says why. The store is JAVM_STORE_SHARED (javm/cap.h). Statuses:
 * JAVM_ERR_INVALID_ARG (a malformed URL), JAVM_ERR_STORE_UNSUPPORTED (built without librados),
 * JAVM_ERR_STORE_TIMEOUT (the cluster did not answer within the timeout), JAVM_ERR_NOT_FOUND
 * (no such pool), JAVM_ERR_STORE_FORMAT, JAVM_ERR_STORE, JAVM_ERR_ALLOC. Commits of different
 * names never conflict; two commits of the same name: one gets JAVM_ERR_CONFLICT. Close with
 * javm_store_close. */
JAVM_API int javm_store_rados_open(const char *url, const javm_rados_opts *opts, javm_store **out,
                                   char *msg, size_t msglen);

/* Quotas and file records live in the head of a name on RADOS (docs/scale-out.md §4): an
 * invocation uses its name's, a transaction that uses no name the head chosen here (name of
 * len bytes; len 0 = the default head, where the store starts). Quota reads outside a
 * transaction read it too. JAVM_ERR_INVALID_ARG for a store that is not RADOS, JAVM_ERR_BUSY
 * inside a transaction. */
JAVM_API int javm_store_rados_home(javm_store *s, const uint8_t *name, size_t len);

/* gc on RADOS (docs/scale-out.md §5) runs through javm_gc: it starts a new gc epoch, fences
 * every name's head, marks from the names, file records and the roots given to javm_gc, and
 * deletes the unreachable blobs not written or touched in this epoch or the one before, while
 * other processes go on committing. A new epoch starts only when the last one began at least
 * grace seconds ago (javm_gc is JAVM_ERR_BUSY before, and when another gc holds the lock):
 * grace 0 lets every run start one (tests; a writer slower than two epochs between its first
 * chunk and its commit then has to retry). Default 600 s. JAVM_ERR_INVALID_ARG for a store
 * that is not RADOS. */
JAVM_API int javm_store_rados_gc_grace(javm_store *s, unsigned seconds);

/* What the last gc run on this handle did (all 0 before one). */
typedef struct javm_rados_gc_stats {
    uint64_t epoch;        /* the epoch it started */
    uint64_t heads;        /* heads fenced */
    uint64_t fence_retries; /* fences redone because a commit landed in between */
    uint64_t marked;       /* blobs reached from the roots (and from kept blobs) */
    uint64_t listed;       /* blob objects listed (first objects, not chunks) */
    uint64_t kept_stamped; /* unreachable blobs kept: written or touched since the last epoch */
    uint64_t deleted;      /* blobs deleted */
    uint64_t kept_racing;  /* deletes refused: touched between the listing and the delete */
    uint64_t chunks_deleted; /* chunk objects deleted (of deleted blobs, and orphans) */
} javm_rados_gc_stats;
JAVM_API int javm_store_rados_gc_stats(const javm_store *s, javm_rados_gc_stats *out);

/* A human-readable description of the store's last failure (naming the table and key of a
 * corrupt record, or the LMDB reason), or "" when none. Valid until the next store call. */
JAVM_API const char *javm_store_errmsg(const javm_store *s);

/* The persistent kernel assist (caps.md §9): quotas, files and next_file_id in the store's
 * tables, read through the open transaction and buffered until persist; gas meters and yield
 * catchers in memory. The store is borrowed and must outlive the kernel assist. */
JAVM_API int javm_ka_store_new(javm_store *store, javm_ka **out);
/* next_file_id of a persistent kernel assist as it would read it now (committed state through
 * the open transaction, if any, plus its buffered saves); 0 for another kind of kernel assist
 * or a store error. */
JAVM_API uint64_t javm_ka_store_next_file_id(javm_ka *ka);

#endif
