/*
 * test_jobs.h - runs Check suites in parallel child processes, a few at a
 * time, and prints one summary in Check's own format.
 *
 * Used by the test runner (check_main.c); the simulator suite uses
 * test_jobs_wanted() to split its schedules over the same number of CPUs.
 */
#ifndef TEST_JOBS_H
#define TEST_JOBS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#define TEST_JOBS_MAX 64u

typedef struct test_job {
	const char *name;        /* the suite's name, as CK_RUN_SUITE takes it */
	Suite *(*make)(void);    /* builds the suite (called in the child) */
} test_job;

/* How many processes may run at once: 1 with CK_FORK=no (valgrind and
 * debuggers want one process), else CARTD_TEST_JOBS if set to a number
 * from 1 to 64, else the online CPUs (at least 1). */
unsigned test_jobs_wanted(void);

/* Runs each suite in its own child process, at most `jobs` at a time, the
 * slow ones first.  Each child's stdout and stderr go to a file of its
 * own, printed whole when the child ends, with how long it took.  A child
 * that dies without reporting counts as one error.  Every failed check is
 * listed again (file:line: suite: test case: message) after all suites
 * have run, so a log read from its tail names them.  Ends with the line
 * "P%: Checks: N, Failures: F, Errors: E" for all suites together.
 * Returns true when every check passed. */
bool test_jobs_run(const test_job *suites, size_t n, unsigned jobs);

#endif
