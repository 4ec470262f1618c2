/* SPDX-License-Identifier: MIT
 * tests/test_resolve.c — hash prefixes as the javm command accepts them: full hashes, unique
 * prefixes of >= 8 hex digits, unknown and ambiguous prefixes (two Data caps whose hashes
 * share their first 32 bits, found by a birthday search), malformed text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "resolve.h"

static void test_resolve(void **state)
{
    (void)state;
    javm_store *st;
    javm_cache *c;
    assert_int_equal(javm_store_mem_new(&st), JAVM_OK);
    assert_int_equal(javm_cache_open(st, &c), JAVM_OK);
    /* Birthday search: Data caps "n<i>" until two cap hashes share 4 leading bytes. */
    enum { N = 1 << 20 };
    uint32_t *seen = calloc(N, sizeof *seen); /* prefix bucket -> i + 1 */
    uint32_t *full = calloc(N, sizeof *full);
    assert_non_null(seen);
    assert_non_null(full);
    javm_hash ha = { { 0 } }, hb = { { 0 } };
    bool found = false;
    for (uint32_t i = 0; i < 4 * N && !found; i++) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "n%u", i);
        javm_cap *d;
        javm_hash h;
        assert_int_equal(javm_data_new((const uint8_t *)buf, (uint64_t)n, &d), JAVM_OK);
        assert_int_equal(javm_cap_hash(d, &h), JAVM_OK);
        uint32_t p32 = (uint32_t)h.b[0] << 24 | (uint32_t)h.b[1] << 16 | (uint32_t)h.b[2] << 8 | h.b[3];
        uint32_t bucket = p32 & (N - 1);
        if (seen[bucket] && full[bucket] == p32) {
            javm_cap *d0;
            snprintf(buf, sizeof buf, "n%u", seen[bucket] - 1);
            assert_int_equal(javm_data_new((const uint8_t *)buf, strlen(buf), &d0), JAVM_OK);
            assert_int_equal(javm_cache_put(c, d0, &ha), JAVM_OK);
            assert_int_equal(javm_cache_put(c, d, &hb), JAVM_OK);
            javm_cap_free(d0);
            found = true;
        } else {
            seen[bucket] = i + 1;
            full[bucket] = p32;
        }
        javm_cap_free(d);
    }
    free(seen);
    free(full);
    assert_true(found);
    assert_memory_equal(ha.b, hb.b, 4);
    assert_memory_not_equal(ha.b, hb.b, 32);
    char hex_a[65], hex_b[65], pre[65];
    javm_hash_to_hex(&ha, hex_a);
    javm_hash_to_hex(&hb, hex_b);
    javm_hash out;
    /* shared 8-digit prefix: ambiguous; one more distinguishing digit: unique */
    memcpy(pre, hex_a, 8);
    pre[8] = 0;
    assert_int_equal(tl_resolve_hash(c, pre, &out), TL_RESOLVE_AMBIGUOUS);
    size_t k = 8;
    while (hex_a[k] == hex_b[k])
        k++;
    memcpy(pre, hex_a, k + 1);
    pre[k + 1] = 0;
    assert_int_equal(tl_resolve_hash(c, pre, &out), TL_RESOLVE_OK);
    assert_memory_equal(out.b, ha.b, 32);
    /* full hash, upper case accepted */
    for (int i = 0; i < 64; i++)
        pre[i] = (char)(hex_b[i] >= 'a' ? hex_b[i] - 'a' + 'A' : hex_b[i]);
    pre[64] = 0;
    assert_int_equal(tl_resolve_hash(c, pre, &out), TL_RESOLVE_OK);
    assert_memory_equal(out.b, hb.b, 32);
    /* unknown: flip the first digit of a */
    memcpy(pre, hex_a, 12);
    pre[0] = pre[0] == '0' ? '1' : '0';
    pre[12] = 0;
    assert_int_equal(tl_resolve_hash(c, pre, &out), TL_RESOLVE_UNKNOWN);
    pre[0] = pre[0] == '0' ? '1' : '0';
    memset(pre + 12, '0', 52);
    pre[64] = 0;
    if (strcmp(pre, hex_a) != 0 && strcmp(pre, hex_b) != 0)
        assert_int_equal(tl_resolve_hash(c, pre, &out), TL_RESOLVE_UNKNOWN);
    /* malformed */
    assert_int_equal(tl_resolve_hash(c, "abc", &out), TL_RESOLVE_MALFORMED);
    assert_int_equal(tl_resolve_hash(c, "zzzzzzzzzz", &out), TL_RESOLVE_MALFORMED);
    memset(pre, 'a', 64);
    pre[64] = 'a';
    char longer[70];
    memcpy(longer, pre, 65);
    longer[65] = 0;
    assert_int_equal(tl_resolve_hash(c, longer, &out), TL_RESOLVE_MALFORMED);
    javm_cache_close(c);
    javm_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_resolve) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
