/* SPDX-License-Identifier: MIT
 * store/store.h — internal helpers every javm_store implementation and its users share: the
 * per-store error message and the end-of-transaction observer (fields of struct javm_store in
 * javm/cap.h). Persistence layer; the LMDB store's design is in docs/store.md. */
#ifndef JAVM_SRC_STORE_H
#define JAVM_SRC_STORE_H

#include <stdarg.h>

#include "javm.h"

/* printf-style into s->errmsg (truncated to fit). */
void store_set_errmsg(javm_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Names a record in a message: "<table>[<key>]", the key in hex (shortened past 40 bytes) or,
 * for names and meta, as printable text. */
void store_describe_key(char *buf, size_t n, javm_table t, const uint8_t *key, size_t klen);
const char *store_table_name(javm_table t);
/* Called by a store when its write transaction ends: runs and clears the observer. */
void store_txn_ended(javm_store *s, bool committed);

#endif
