/*
 * test_rng.c - splitmix64 generator and the seeded case loop (see
 * test_rng.h).
 */
#include "tests/test_rng.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crdt/splitmix.h"

uint64_t test_seed;
static const char *test_name = "";

void test_rng_seed(test_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t test_rng_next(test_rng *r)
{
	return splitmix64_next(&r->s);
}

uint64_t test_rng_below(test_rng *r, uint64_t n)
{
	return n ? test_rng_next(r) % n : 0;
}

uint64_t test_rng_range(test_rng *r, uint64_t lo, uint64_t hi)
{
	if (hi - lo == UINT64_MAX)
		return test_rng_next(r);
	return lo + test_rng_below(r, hi - lo + 1);
}

bool test_rng_pct(test_rng *r, unsigned pct)
{
	return test_rng_below(r, 100) < pct;
}

void test_rng_shuffle(test_rng *r, size_t *idx, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)test_rng_below(r, i);
		size_t t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

static bool env_u64(const char *name, uint64_t *out)
{
	const char *s = getenv(name);
	if (s == NULL || *s == '\0')
		return false;
	*out = strtoull(s, NULL, 0);
	return true;
}

/* The divisor CARTD_TEST_SCALE asks for: valgrind runs about 30x slower
 * than a plain build, ASan with UBSan about 3x. */
static unsigned scale_divisor(void)
{
	const char *s = getenv("CARTD_TEST_SCALE");
	if (s != NULL && strcmp(s, "valgrind") == 0)
		return 20;
	if (s != NULL && strcmp(s, "sanitize") == 0)
		return 4;
	return 1;
}

unsigned test_scaled(unsigned dflt)
{
	unsigned d = scale_divisor();
	return dflt / d ? dflt / d : 1;
}

unsigned test_case_count(unsigned dflt)
{
	uint64_t n;
	if (env_u64("CARTD_CASES", &n))
		return n ? (unsigned)n : 1;
	return test_scaled(dflt);
}

/* FNV-1a, so each test gets its own stream of seeds. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
	return h;
}

void test_run_cases(const char *name, unsigned dflt, test_case_fn fn, void *arg)
{
	test_rng rng;
	uint64_t seed, base = 0;
	test_name = name;
	if (env_u64("CARTD_SEED", &seed)) {
		test_seed = seed;
		test_rng_seed(&rng, seed);
		fn(&rng, arg);
		test_name = "";
		return;
	}
	env_u64("CARTD_SEED_BASE", &base);
	test_rng_seed(&rng, name_hash(name) ^ base);
	unsigned cases = test_case_count(dflt);
	for (unsigned i = 0; i < cases; i++) {
		test_rng gen;
		test_seed = test_rng_next(&rng);
		test_rng_seed(&gen, test_seed);
		fn(&gen, arg);
	}
	test_name = "";
}

const char *test_failmsg(const char *cond, const char *fmt, ...)
{
	static char buf[2048];
	int n;
	if (*test_name)
		n = snprintf(buf, sizeof buf, "[%s: replay with CARTD_SEED=%" PRIu64 "] %s: ",
		             test_name, test_seed, cond);
	else
		n = snprintf(buf, sizeof buf, "%s: ", cond);
	if (n < 0 || (size_t)n >= sizeof buf)
		return buf;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	return buf;
}
