/* SPDX-License-Identifier: MIT
 * store/store_common.c — what every javm_store shares: the error message of the last failure
 * and the end-of-transaction observer (store/store.h). Persistence layer. */
#include <stdio.h>
#include <string.h>

#include "store/store.h"

static const char *const table_names[JAVM_TABLE_COUNT] = {
    "blobs", "refcounts", "files", "quotas", "names", "meta",
};

const char *store_table_name(javm_table t)
{
    return (unsigned)t < JAVM_TABLE_COUNT ? table_names[t] : "?";
}

void store_describe_key(char *buf, size_t n, javm_table t, const uint8_t *key, size_t klen)
{
    size_t k = (size_t)snprintf(buf, n, "%s[", store_table_name(t));
    bool text = t == JAVM_TABLE_NAMES || t == JAVM_TABLE_META;
    for (size_t i = 0; text && i < klen; i++)
        if (key[i] < 0x20 || key[i] > 0x7e || key[i] == ']')
            text = false;
    size_t shown = klen > 40 ? 40 : klen;
    for (size_t i = 0; i < shown && k + 4 < n; i++)
        k += (size_t)snprintf(buf + k, n - k, text ? "%c" : "%02x", key[i]);
    if (k + 6 < n)
        snprintf(buf + k, n - k, "%s]", shown < klen ? "..." : "");
}

void store_set_errmsg(javm_store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
}

void store_txn_ended(javm_store *s, bool committed)
{
    void (*fn)(void *, bool) = s->txn_end;
    void *arg = s->txn_end_arg;
    s->txn_end = NULL;
    s->txn_end_arg = NULL;
    if (fn)
        fn(arg, committed);
}

const char *javm_store_errmsg(const javm_store *s)
{
    return s ? s->errmsg : "";
}
