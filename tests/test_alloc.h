/*
 * test_alloc.h - allocation failure injection for the test runner.
 *
 * The runner is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
 * (Makefile), so every allocation the project's code makes from a static
 * object goes through test_alloc.c: libcrdt, libnet, libapp and the tests.
 * Shared libraries (libc's own calls, libsodium, Check) are not affected.
 * Injection is per thread, so a test's failures never reach another
 * thread's allocations.
 */
#ifndef TESTS_TEST_ALLOC_H
#define TESTS_TEST_ALLOC_H

/* On this thread, the next n allocations succeed and every one after them
 * fails (returns NULL) until test_alloc_reset.  n >= 0. */
void test_alloc_fail_after(long n);
/* Ends injection on this thread: every allocation succeeds again. */
void test_alloc_reset(void);
/* Suspends injection on this thread (a check that itself allocates, run
 * from inside the code under test) and resumes it where it was.  Not
 * nested. */
void test_alloc_pause(void);
void test_alloc_resume(void);
/* Allocations attempted on this thread since the last test_alloc_fail_after,
 * the failed ones included. */
long test_alloc_attempts(void);

#endif
