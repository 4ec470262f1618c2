/* SPDX-License-Identifier: MIT
 * tests/support/sanitizer.h — which sanitizer a test is built with, for tests that shorten
 * long sweeps there: TESTS_ASAN and TESTS_TSAN are 1 or 0 (gcc's __SANITIZE_*__ macros, or
 * clang's __has_feature). */
#ifndef TESTS_SANITIZER_H
#define TESTS_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define TESTS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TESTS_ASAN 1
#endif
#endif
#ifndef TESTS_ASAN
#define TESTS_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define TESTS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TESTS_TSAN 1
#endif
#endif
#ifndef TESTS_TSAN
#define TESTS_TSAN 0
#endif

#endif
