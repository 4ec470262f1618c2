/* SPDX-License-Identifier: MIT
 * store/lmdb_file.h — our own reader of LMDB 0.9's data file (data.mdb, 64-bit little-endian
 * layout), written from the public format description: it never goes through LMDB, reads with
 * pread into its own buffers and bounds-checks every field, so a damaged file gives a status
 * and a message, never a fault. Two depths (docs/store.md, "What a damaged store does"):
 * lmdbf_check (cheap: the meta pages, the file size, the main tree and the named tables'
 * records and root pages; every open) and lmdbf_walk (every page of every table and the free
 * list). */
#ifndef JAVM_STORE_LMDB_FILE_H
#define JAVM_STORE_LMDB_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What lmdbf_check found: fresh is an environment LMDB initialised but nothing ever committed
 * (both txnids 0, empty main tree), which the caller may complete by creating the tables. */
typedef struct lmdbf_info {
    uint32_t psize;
    uint64_t last_pg; /* of the newer meta page */
    uint64_t txnid;   /* of the newer meta page */
    bool fresh;
} lmdbf_info;

/* The cheap checks of an open data file (fd, size bytes) whose named tables must be `names`
 * (count of them), each with flags 0. Statuses: JAVM_OK, JAVM_ERR_STORE_CORRUPT (msg says what
 * and where), JAVM_ERR_STORE (a read failed), JAVM_ERR_ALLOC. */
int lmdbf_check(int fd, uint64_t size, const char *const *names, int count, lmdbf_info *info,
                char *msg, size_t msglen);

/* The full walk of the state committed by txnid (0: the newer meta page): every page of the
 * free list, the main tree and every named table, each page's number, type, key count, node
 * offsets and sizes, overflow runs, depth, the tables' page and entry counts, no page reached
 * twice, and every page on the free list in range and not in use. JAVM_ERR_CONFLICT when no
 * meta page holds txnid (another writer moved on: retry); else as lmdbf_check, msg naming
 * "page N of table T". */
int lmdbf_walk(int fd, uint64_t size, uint64_t txnid, const char *const *names, int count,
               char *msg, size_t msglen);

#endif
