/* SPDX-License-Identifier: MIT
 * tests/support/test_store.h — the store a store-interface test runs on, chosen by the
 * environment (docs/testing-rados.md, "The store suite on both backends"): JAVM_TEST_STORE =
 * mem, lmdb or rados (unset: the test's own default). On RADOS each store is a fresh RADOS
 * namespace "<test>-<pid>-<n>" on the cluster JAVM_TEST_RADOS_CONF names; without one the test
 * exits 77, or fails when CI is set. A location is what names one store: a temporary
 * directory (LMDB), a namespace (RADOS), nothing (mem: each open is a new empty store). */
#ifndef TESTS_TEST_STORE_H
#define TESTS_TEST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "javm.h"

typedef enum tstore_kind { TSTORE_MEM, TSTORE_LMDB, TSTORE_RADOS } tstore_kind;

#define TSTORE_LOC 160

/* Reads JAVM_TEST_STORE (dflt when unset) and, for RADOS, checks that the cluster answers.
 * Returns -1 when the test should run, else the exit status main should return (77: skipped,
 * 1: a bad setting, no cluster under CI, or a cluster that does not answer). */
int tstore_init(const char *test, tstore_kind dflt);
tstore_kind tstore_kind_of(void);
bool tstore_is_rados(void);
const char *tstore_kind_name(void);
/* A fresh, empty store location (an LMDB directory is created, a RADOS namespace is new). */
void tstore_make(char loc[TSTORE_LOC]);
/* Opens the store at loc (read_only: begin fails with JAVM_ERR_STORE_READONLY). */
int tstore_open(const char *loc, bool read_only, javm_store **out);
/* Removes what tstore_make made on disk (a RADOS namespace is left to the throwaway cluster). */
void tstore_remove(const char *loc);
/* RADOS: transactions that use no name, and quota reads outside a transaction, use the head
 * of name (docs/scale-out.md §4: quotas and file records live in a name's head). LMDB and
 * mem have one global quota and file table: nothing to choose, JAVM_OK. */
int tstore_home(javm_store *s, const uint8_t *name, size_t len);

#endif
