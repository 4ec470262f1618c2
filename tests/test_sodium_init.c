/* SPDX-License-Identifier: MIT
 * tests/test_sodium_init.c — issue 13 item 19 (docs/caps-impl.md, "libsodium is initialised"):
 * where the library starts (javm_cache_open, javm_vm_new) it calls sodium_init(), as
 * libsodium's contract asks. Each case runs in a fresh child process (sodium_init cannot be
 * undone) and asks libsodium afterwards: sodium_init() returns 1 when it had already been
 * called, 0 on the first call. Hashing alone does not initialise it (the control). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "javm.h"

/* Runs fn in a child; the child's exit status is sodium_init()'s answer after fn (0 or 1). */
static int in_child(void (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn();
        _exit(sodium_init() == 1 ? 1 : 0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void nothing(void) {}

static void open_cache(void)
{
    javm_store *s;
    javm_cache *c;
    if (javm_store_mem_new(&s) || javm_cache_open(s, &c))
        _exit(2);
    javm_cache_close(c);
    javm_store_close(s);
}

static void new_vm(void)
{
    javm_vm *vm;
    if (javm_vm_new(&vm, 0))
        _exit(2);
    javm_vm_free(vm);
}

static void hash_only(void)
{
    javm_hash h;
    javm_blake2b("abc", 3, &h);
}

/* Control: a child that calls nothing (or only hashes) answers 0, one that called
 * sodium_init answers 1, so the answer tells what the library did. */
static void init_it(void)
{
    if (sodium_init() < 0)
        _exit(2);
}
static void test_fresh_process_is_uninitialised(void **state)
{
    (void)state;
    assert_int_equal(in_child(nothing), 0);
    assert_int_equal(in_child(hash_only), 0);
    assert_int_equal(in_child(init_it), 1);
}

static void test_cache_open_initialises(void **state)
{
    (void)state;
    assert_int_equal(in_child(open_cache), 1);
}

static void test_vm_new_initialises(void **state)
{
    (void)state;
    assert_int_equal(in_child(new_vm), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_process_is_uninitialised),
        cmocka_unit_test(test_cache_open_initialises),
        cmocka_unit_test(test_vm_new_initialises),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
