/*
 * check_context.c - unit tests of the causal context (crdt/context.h):
 * range coalescing, the dot cloud closing, join/intersect/remove, and the
 * canonical form after every operation, checked against a bitmap model.
 * The random cases run in a loop inside one test each (test_run_cases), not
 * one forked test per case: a forked test costs a process, and under the
 * sanitizers a leak check at its exit, about a second each.
 */
#include <check.h>
#include <stdlib.h>

#include "crdt/context.h"
#include "crdt/error.h"
#include "tests/test_alloc.h"
#include "tests/test_rng.h"

#define MODEL_MAX 64   /* counters 1..MODEL_MAX for replicas 1..3 */

static bool model[4][MODEL_MAX + 1];

static crdt_dot dot(uint64_t r, uint64_t c)
{
	crdt_dot d = { r, c };
	return d;
}

/* The context holds exactly the model's dots and is canonical. */
static void check_matches_model(const crdt_ctx *c)
{
	T_ASSERT(crdt_ctx_valid(c), "context not canonical");
	uint64_t count = 0;
	for (uint64_t r = 1; r <= 3; r++)
		for (uint64_t k = 1; k <= MODEL_MAX; k++) {
			T_ASSERT(crdt_ctx_contains(c, dot(r, k)) == model[r][k],
			         "replica %lu counter %lu: context %d model %d", (unsigned long)r,
			         (unsigned long)k, crdt_ctx_contains(c, dot(r, k)), model[r][k]);
			count += model[r][k];
		}
	T_ASSERT(crdt_ctx_count(c) == count, "count %lu, model %lu",
	         (unsigned long)crdt_ctx_count(c), (unsigned long)count);
}

START_TEST(cloud_closes_when_gap_arrives)
{
	crdt_ctx c;
	crdt_ctx_init(&c);
	ck_assert_int_eq(crdt_ctx_add(&c, dot(7, 1)), 0);
	ck_assert_int_eq(crdt_ctx_add(&c, dot(7, 3)), 0);
	ck_assert_uint_eq(c.n, 2);            /* [1,1] and the cloud [3,3] */
	ck_assert_uint_eq(crdt_ctx_max(&c, 7), 3);
	ck_assert(!crdt_ctx_contains(&c, dot(7, 2)));
	ck_assert_int_eq(crdt_ctx_add(&c, dot(7, 2)), 0);
	ck_assert_uint_eq(c.n, 1);            /* closed: [1,3] */
	ck_assert_uint_eq(crdt_ctx_ranges(&c)[0].lo, 1);
	ck_assert_uint_eq(crdt_ctx_ranges(&c)[0].hi, 3);
	crdt_ctx_destroy(&c);
}
END_TEST

START_TEST(add_range_rejects_bad_bounds)
{
	crdt_ctx c;
	crdt_ctx_init(&c);
	ck_assert_int_eq(crdt_ctx_add_range(&c, 1, 0, 3), CARTD_EINVAL);
	ck_assert_int_eq(crdt_ctx_add_range(&c, 1, 5, 4), CARTD_EINVAL);
	ck_assert_int_eq(crdt_ctx_add_range(&c, 1, 1, CRDT_MAX_COUNTER + 1), CARTD_EINVAL);
	ck_assert(crdt_ctx_empty(&c));
	crdt_ctx_destroy(&c);
}
END_TEST

/* A number in [0, n): the cases' randomness. */
static int rnd(test_rng *rng, int n)
{
	return (int)test_rng_below(rng, (uint64_t)n);
}

/* Random adds, range adds and removes against the bitmap model. */
static void random_ops_case(test_rng *rng, void *arg)
{
	(void)arg;
	for (uint64_t r = 0; r < 4; r++)
		for (uint64_t k = 0; k <= MODEL_MAX; k++)
			model[r][k] = false;
	crdt_ctx c;
	crdt_ctx_init(&c);
	for (int step = 0; step < 300; step++) {
		uint64_t r = 1 + (uint64_t)rnd(rng, 3), lo = 1 + (uint64_t)rnd(rng, MODEL_MAX);
		int op = rnd(rng, 3);
		if (op == 0) {
			T_ASSERT(crdt_ctx_add(&c, dot(r, lo)) == 0, "add");
			model[r][lo] = true;
		} else if (op == 1) {
			uint64_t hi = lo + (uint64_t)rnd(rng, 5);
			hi = hi > MODEL_MAX ? MODEL_MAX : hi;
			T_ASSERT(crdt_ctx_add_range(&c, r, lo, hi) == 0, "add_range");
			for (uint64_t k = lo; k <= hi; k++)
				model[r][k] = true;
		} else {
			T_ASSERT(crdt_ctx_remove(&c, dot(r, lo)) == 0, "remove");
			model[r][lo] = false;
		}
		check_matches_model(&c);
	}
	crdt_ctx_destroy(&c);
}

START_TEST(random_ops_match_model)
{
	test_run_cases("random_ops_match_model", 50, random_ops_case, NULL);
}
END_TEST

/* Builds a random context and its bitmap. */
static void random_ctx(test_rng *rng, crdt_ctx *c, bool bits[4][MODEL_MAX + 1])
{
	crdt_ctx_init(c);
	for (int i = 0; i < 40; i++) {
		uint64_t r = 1 + (uint64_t)rnd(rng, 3), k = 1 + (uint64_t)rnd(rng, MODEL_MAX);
		T_ASSERT(crdt_ctx_add(c, dot(r, k)) == 0, "add");
		bits[r][k] = true;
	}
}

static void join_intersect_case(test_rng *rng, void *arg)
{
	(void)arg;
	bool a[4][MODEL_MAX + 1] = { { 0 } }, b[4][MODEL_MAX + 1] = { { 0 } };
	crdt_ctx x, y, z;
	random_ctx(rng, &x, a);
	random_ctx(rng, &y, b);
	crdt_ctx_init(&z);
	T_ASSERT(crdt_ctx_intersect(&z, &x, &y) == 0, "intersect");
	for (int r = 0; r < 4; r++)
		for (int k = 0; k <= MODEL_MAX; k++)
			model[r][k] = a[r][k] && b[r][k];
	check_matches_model(&z);
	T_ASSERT(crdt_ctx_join(&x, &y) == 0, "join");
	for (int r = 0; r < 4; r++)
		for (int k = 0; k <= MODEL_MAX; k++)
			model[r][k] = a[r][k] || b[r][k];
	check_matches_model(&x);
	/* Join is idempotent and copy/equal agree. */
	T_ASSERT(crdt_ctx_copy(&z, &x) == 0, "copy");
	T_ASSERT(crdt_ctx_join(&x, &y) == 0, "join");
	T_ASSERT(crdt_ctx_equal(&x, &z), "join not idempotent");
	crdt_ctx_destroy(&x);
	crdt_ctx_destroy(&y);
	crdt_ctx_destroy(&z);
}

START_TEST(join_and_intersect_match_model)
{
	test_run_cases("join_and_intersect_match_model", 200, join_intersect_case, NULL);
}
END_TEST

/* A random context of ranges (1..12 dots long) and its bitmap. */
static void random_ranges(test_rng *rng, crdt_ctx *c, bool bits[4][MODEL_MAX + 1],
                          int nranges)
{
	crdt_ctx_init(c);
	for (int i = 0; i < nranges; i++) {
		uint64_t r = 1 + (uint64_t)rnd(rng, 3), lo = 1 + (uint64_t)rnd(rng, MODEL_MAX);
		uint64_t hi = lo + (uint64_t)rnd(rng, 12);
		hi = hi > MODEL_MAX ? MODEL_MAX : hi;
		T_ASSERT(crdt_ctx_add_range(c, r, lo, hi) == 0, "add_range");
		for (uint64_t k = lo; k <= hi; k++)
			bits[r][k] = true;
	}
}

/* a \ b and "a and b share no dot" against the bitmaps, for contexts of
 * every density (deferred removes are token dots minus a cart's context). */
static void subtract_disjoint_case(test_rng *rng, void *arg)
{
	(void)arg;
	bool a[4][MODEL_MAX + 1] = { { 0 } }, b[4][MODEL_MAX + 1] = { { 0 } };
	crdt_ctx x, y, z;
	random_ranges(rng, &x, a, rnd(rng, 12));
	random_ranges(rng, &y, b, rnd(rng, 12));
	crdt_ctx_init(&z);
	T_ASSERT(crdt_ctx_add_range(&z, 2, 5, 9) == 0, "add_range");   /* replaced */
	T_ASSERT(crdt_ctx_subtract(&z, &x, &y) == 0, "subtract");
	bool shared = false;
	for (int r = 0; r < 4; r++)
		for (int k = 0; k <= MODEL_MAX; k++) {
			model[r][k] = a[r][k] && !b[r][k];
			shared |= a[r][k] && b[r][k];
		}
	check_matches_model(&z);
	T_ASSERT(crdt_ctx_disjoint(&x, &y) == !shared, "disjoint(x, y) wrong");
	T_ASSERT(crdt_ctx_disjoint(&y, &x) == !shared, "disjoint(y, x) wrong");
	T_ASSERT(crdt_ctx_disjoint(&z, &y), "x \\ y shares a dot with y");
	/* Each range of y alone (a delta's context), against x both ways. */
	for (uint32_t i = 0; i < y.n; i++) {
		crdt_range r = crdt_ctx_ranges(&y)[i];
		crdt_ctx one;
		crdt_ctx_init(&one);
		T_ASSERT(crdt_ctx_add_range(&one, r.replica, r.lo, r.hi) == 0, "add_range");
		bool hit = false;
		for (uint64_t k = r.lo; k <= r.hi; k++)
			hit |= a[r.replica][k];
		T_ASSERT(crdt_ctx_disjoint(&x, &one) == !hit, "disjoint(x, range %u) wrong", i);
		T_ASSERT(crdt_ctx_disjoint(&one, &x) == !hit, "disjoint(range %u, x) wrong", i);
		crdt_ctx_destroy(&one);
	}
	/* (a \ b) joined with b is a joined with b. */
	T_ASSERT(crdt_ctx_join(&z, &y) == 0, "join");
	T_ASSERT(crdt_ctx_join(&x, &y) == 0, "join");
	T_ASSERT(crdt_ctx_equal(&x, &z), "(x \\ y) + y differs from x + y");
	crdt_ctx_destroy(&x);
	crdt_ctx_destroy(&y);
	crdt_ctx_destroy(&z);
}

START_TEST(subtract_and_disjoint_match_model)
{
	test_run_cases("subtract_and_disjoint_match_model", 300, subtract_disjoint_case, NULL);
}
END_TEST

/*
 * The join of one range after crdt_ctx_reserve_join, as a cart makes it:
 * reserve, then join with no allocation allowed.  x and twin hold the
 * same dots in the same storage (built by the same calls); bits is their
 * bitmap.  The reserve must leave x's dots alone, let the join allocate
 * nothing, and make exactly the room the join alone takes (twin, joined
 * without a reserve): no less, or the join could fail after the cart
 * changed; no more, or a context that stays one range leaves inline
 * storage.  The result must be the union.
 */
static void check_reserved_join(crdt_ctx *x, crdt_ctx *twin, bool bits[4][MODEL_MAX + 1],
                                uint64_t r, uint64_t lo, uint64_t hi)
{
	crdt_ctx one;
	crdt_ctx_init(&one);
	T_ASSERT(crdt_ctx_add_range(&one, r, lo, hi) == 0, "add_range");
	uint32_t n0 = x->n, cap0 = x->cap;
	T_ASSERT(crdt_ctx_reserve_join(x, &one) == 0, "reserve_join");
	T_ASSERT(crdt_ctx_equal(x, twin), "reserve changed the dots");
	test_alloc_fail_after(0);
	int rc = crdt_ctx_join(x, &one);
	long attempts = test_alloc_attempts();
	test_alloc_reset();
	T_ASSERT(rc == 0 && attempts == 0,
	         "[%lu, %lu] of %lu into %u ranges (cap %u): join after reserve allocated",
	         (unsigned long)lo, (unsigned long)hi, (unsigned long)r, n0, cap0);
	T_ASSERT(crdt_ctx_join(twin, &one) == 0, "join");
	T_ASSERT(x->cap == twin->cap,
	         "[%lu, %lu] of %lu into %u ranges (cap %u): room %u, the join takes %u",
	         (unsigned long)lo, (unsigned long)hi, (unsigned long)r, n0, cap0, x->cap,
	         twin->cap);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k <= MODEL_MAX; k++)
			model[i][k] = bits[i][k] || (i == (int)r && k >= (int)lo && k <= (int)hi);
	check_matches_model(x);
	T_ASSERT(crdt_ctx_equal(x, twin), "reserved join differs from the plain join");
	crdt_ctx_destroy(&one);
}

/* n runs [4m + 1, 4m + 2] of replica 2, m < n: gaps of two between them. */
static void runs(crdt_ctx *c, bool bits[4][MODEL_MAX + 1], uint32_t n)
{
	crdt_ctx_init(c);
	for (uint64_t m = 0; m < n; m++) {
		ck_assert_int_eq(crdt_ctx_add_range(c, 2, 4 * m + 1, 4 * m + 2), 0);
		bits[2][4 * m + 1] = bits[2][4 * m + 2] = true;
	}
}

/* Every range of replica 2 over 1..4n + 3, and one of each other replica,
 * into 0..9 runs: storage inline, full (n = cap: 1, 2, 4, 8) and with room,
 * the range before, between, touching, bridging or covering the runs. */
START_TEST(reserve_join_one_range_exact_room)
{
	for (uint32_t n = 0; n <= 9; n++) {
		uint64_t top = 4 * (uint64_t)n + 3;
		for (uint64_t r = 1; r <= 3; r++)
			for (uint64_t lo = 1; lo <= top; lo++)
				for (uint64_t hi = lo; hi <= top; hi++) {
					if (r != 2 && (lo != 3 || hi != 3))
						continue;
					bool bits[4][MODEL_MAX + 1] = { { 0 } };
					crdt_ctx x, twin;
					runs(&x, bits, n);
					runs(&twin, bits, n);
					check_reserved_join(&x, &twin, bits, r, lo, hi);
					crdt_ctx_destroy(&x);
					crdt_ctx_destroy(&twin);
				}
	}
}
END_TEST

/* The same on random contexts (of 0..11 ranges) and random ranges. */
static void reserve_join_case(test_rng *rng, void *arg)
{
	(void)arg;
	bool bits[4][MODEL_MAX + 1] = { { 0 } };
	crdt_ctx x, twin;
	int nranges = rnd(rng, 12);
	test_rng again = *rng;
	random_ranges(rng, &x, bits, nranges);
	random_ranges(&again, &twin, bits, nranges);
	uint64_t r = 1 + (uint64_t)rnd(rng, 3), lo = 1 + (uint64_t)rnd(rng, MODEL_MAX);
	uint64_t hi = lo + (uint64_t)rnd(rng, 12);
	check_reserved_join(&x, &twin, bits, r, lo, hi > MODEL_MAX ? MODEL_MAX : hi);
	crdt_ctx_destroy(&x);
	crdt_ctx_destroy(&twin);
}

START_TEST(reserve_join_one_range_matches_model)
{
	test_run_cases("reserve_join_one_range_matches_model", 500, reserve_join_case, NULL);
}
END_TEST

Suite *context_suite(void);

Suite *context_suite(void)
{
	Suite *s = suite_create("context");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, cloud_closes_when_gap_arrives);
	tcase_add_test(tc, add_range_rejects_bad_bounds);
	tcase_add_test(tc, random_ops_match_model);
	tcase_add_test(tc, join_and_intersect_match_model);
	tcase_add_test(tc, subtract_and_disjoint_match_model);
	tcase_add_test(tc, reserve_join_one_range_exact_room);
	tcase_add_test(tc, reserve_join_one_range_matches_model);
	suite_add_tcase(s, tc);
	return s;
}
