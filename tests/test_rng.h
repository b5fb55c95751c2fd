/*
 * test_rng.h - seeded randomness and replayable case loops for the test
 * suites.
 *
 * Every randomised test runs through test_run_cases(): each case gets its
 * own 64-bit seed, and a failing T_ASSERT prints that seed, so
 *
 *     CARTD_SEED=<seed> CK_RUN_SUITE=props CK_RUN_CASE=<tcase> build/tests/check_runner
 *
 * replays exactly the failing case.  Environment:
 *   CARTD_SEED        run one case with this seed (decimal or 0x hex)
 *   CARTD_CASES       number of cases per test instead of the default
 *   CARTD_SEED_BASE   vary the (otherwise fixed, so CI is repeatable) seeds
 *   CARTD_TEST_SCALE  "valgrind": default case counts divided by 20;
 *                     "sanitize" (make sanitize): divided by 4
 */
#ifndef TEST_RNG_H
#define TEST_RNG_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct test_rng {
	uint64_t s;
} test_rng;

void test_rng_seed(test_rng *r, uint64_t seed);
/* splitmix64: 64 random bits. */
uint64_t test_rng_next(test_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t test_rng_below(test_rng *r, uint64_t n);
/* Uniform in [lo, hi]. */
uint64_t test_rng_range(test_rng *r, uint64_t lo, uint64_t hi);
/* True with probability pct/100. */
bool test_rng_pct(test_rng *r, unsigned pct);
/* Random permutation of idx[0..n) (contents are permuted, not set). */
void test_rng_shuffle(test_rng *r, size_t *idx, size_t n);

/* Seed of the case being run (shown by T_ASSERT). */
extern uint64_t test_seed;

/* dflt, or CARTD_CASES; divided by 20 under valgrind scale, by 4 under
 * sanitize scale (at least 1). */
unsigned test_case_count(unsigned dflt);
/* Same scaling for a size (e.g. a loop bound) that is not a case count. */
unsigned test_scaled(unsigned dflt);

typedef void (*test_case_fn)(test_rng *rng, void *arg);
/* Runs fn test_case_count(dflt) times, each with a fresh seeded rng derived
 * from name; with CARTD_SEED set, runs it once with that seed. */
void test_run_cases(const char *name, unsigned dflt, test_case_fn fn, void *arg);

/* Formats a failure message naming the seed; returns a static buffer. */
const char *test_failmsg(const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like ck_assert_msg, but the message carries the replay seed.  At least
 * one argument after cond (the message format) is required. */
#define T_ASSERT(cond, ...)                                             \
	do {                                                                \
		if (!(cond))                                                    \
			ck_abort_msg("%s", test_failmsg(#cond, __VA_ARGS__));       \
	} while (0)

#endif
