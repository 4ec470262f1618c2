/* SPDX-License-Identifier: MIT
 * tests/support/fault_store.h — a store that forwards to another one and fails the reads a
 * test asks it to fail (a whole table, or one key of it), for the "a store error is reported
 * as itself" tests of issue 13. */
#ifndef TESTS_FAULT_STORE_H
#define TESTS_FAULT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "javm.h"

typedef struct fault_store {
    javm_store base;
    javm_store *inner;   /* owned: closed with this store */
    int fail_table;      /* -1: none */
    bool fail_key_set;   /* only this key of fail_table fails */
    uint8_t fail_key[32];
    size_t fail_klen;
    int fail_status;     /* what a failing get returns (default JAVM_ERR_STORE) */
    unsigned failed;     /* how many gets failed */
} fault_store;

/* Wraps inner (taking it over). Reads fail nowhere until fault_store_fail is called. */
fault_store *fault_store_new(javm_store *inner);
/* Every get of table t (key NULL) or of that one key fails with status; t = -1 stops. */
void fault_store_fail(fault_store *f, int t, const void *key, size_t klen, int status);

#endif
