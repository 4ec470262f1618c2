/* SPDX-License-Identifier: MIT
 * tests/support/failalloc.h — allocation failure injection for the tests linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free (CMakeLists.txt): every call to
 * those from the statically linked library and the test goes through __wrap_*, which reach
 * the real allocator (the sanitizers' own under ASan and UBSan) through __real_*, so the
 * failure paths also run under the sanitizers (issue 13 item 18); the library keeps no
 * allocator hook (no global state). The counters are test-program state. */
#ifndef JAVM_TESTS_FAILALLOC_H
#define JAVM_TESTS_FAILALLOC_H

/* The allocation n from now fails (0: the next one); -1: none fails. Resets the count of
 * injected failures. */
void failalloc_arm(long n);
/* No allocation fails from now on; the count of injected failures is kept. */
void failalloc_disarm(void);
/* Failures injected since the last arm. */
long failalloc_injected(void);
/* Successful allocations not yet freed. */
long failalloc_live(void);
/* Allocation calls (malloc, calloc, realloc) so far, failed or not. */
long failalloc_calls(void);

#endif
