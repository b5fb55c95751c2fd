/*
 * check_context.c - unit tests of the causal context (crdt/context.h):
 * range coalescing, the dot cloud closing, join/intersect/remove, and the
 * canonical form after every operation, checked against a bitmap model.
 */
#include <check.h>
#include <stdlib.h>

#include "crdt/context.h"
#include "crdt/error.h"

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
	ck_assert(crdt_ctx_valid(c));
	uint64_t count = 0;
	for (uint64_t r = 1; r <= 3; r++)
		for (uint64_t k = 1; k <= MODEL_MAX; k++) {
			ck_assert_msg(crdt_ctx_contains(c, dot(r, k)) == model[r][k],
			              "replica %lu counter %lu: context %d model %d", (unsigned long)r,
			              (unsigned long)k, crdt_ctx_contains(c, dot(r, k)), model[r][k]);
			count += model[r][k];
		}
	ck_assert_uint_eq(crdt_ctx_count(c), count);
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

/* Random adds, range adds and removes against the bitmap model. */
START_TEST(random_ops_match_model)
{
	srand(1000 + (unsigned)_i);
	for (uint64_t r = 0; r < 4; r++)
		for (uint64_t k = 0; k <= MODEL_MAX; k++)
			model[r][k] = false;
	crdt_ctx c;
	crdt_ctx_init(&c);
	for (int step = 0; step < 300; step++) {
		uint64_t r = 1 + (uint64_t)(rand() % 3), lo = 1 + (uint64_t)(rand() % MODEL_MAX);
		int op = rand() % 3;
		if (op == 0) {
			ck_assert_int_eq(crdt_ctx_add(&c, dot(r, lo)), 0);
			model[r][lo] = true;
		} else if (op == 1) {
			uint64_t hi = lo + (uint64_t)(rand() % 5);
			hi = hi > MODEL_MAX ? MODEL_MAX : hi;
			ck_assert_int_eq(crdt_ctx_add_range(&c, r, lo, hi), 0);
			for (uint64_t k = lo; k <= hi; k++)
				model[r][k] = true;
		} else {
			ck_assert_int_eq(crdt_ctx_remove(&c, dot(r, lo)), 0);
			model[r][lo] = false;
		}
		check_matches_model(&c);
	}
	crdt_ctx_destroy(&c);
}
END_TEST

/* Builds a random context and its bitmap. */
static void random_ctx(crdt_ctx *c, bool bits[4][MODEL_MAX + 1])
{
	crdt_ctx_init(c);
	for (int i = 0; i < 40; i++) {
		uint64_t r = 1 + (uint64_t)(rand() % 3), k = 1 + (uint64_t)(rand() % MODEL_MAX);
		ck_assert_int_eq(crdt_ctx_add(c, dot(r, k)), 0);
		bits[r][k] = true;
	}
}

START_TEST(join_and_intersect_match_model)
{
	srand(2000 + (unsigned)_i);
	bool a[4][MODEL_MAX + 1] = { { 0 } }, b[4][MODEL_MAX + 1] = { { 0 } };
	crdt_ctx x, y, z;
	random_ctx(&x, a);
	random_ctx(&y, b);
	crdt_ctx_init(&z);
	ck_assert_int_eq(crdt_ctx_intersect(&z, &x, &y), 0);
	for (int r = 0; r < 4; r++)
		for (int k = 0; k <= MODEL_MAX; k++)
			model[r][k] = a[r][k] && b[r][k];
	check_matches_model(&z);
	ck_assert_int_eq(crdt_ctx_join(&x, &y), 0);
	for (int r = 0; r < 4; r++)
		for (int k = 0; k <= MODEL_MAX; k++)
			model[r][k] = a[r][k] || b[r][k];
	check_matches_model(&x);
	/* Join is idempotent and copy/equal agree. */
	ck_assert_int_eq(crdt_ctx_copy(&z, &x), 0);
	ck_assert_int_eq(crdt_ctx_join(&x, &y), 0);
	ck_assert(crdt_ctx_equal(&x, &z));
	crdt_ctx_destroy(&x);
	crdt_ctx_destroy(&y);
	crdt_ctx_destroy(&z);
}
END_TEST

/* A random context of ranges (1..12 dots long) and its bitmap. */
static void random_ranges(crdt_ctx *c, bool bits[4][MODEL_MAX + 1], int nranges)
{
	crdt_ctx_init(c);
	for (int i = 0; i < nranges; i++) {
		uint64_t r = 1 + (uint64_t)(rand() % 3), lo = 1 + (uint64_t)(rand() % MODEL_MAX);
		uint64_t hi = lo + (uint64_t)(rand() % 12);
		hi = hi > MODEL_MAX ? MODEL_MAX : hi;
		ck_assert_int_eq(crdt_ctx_add_range(c, r, lo, hi), 0);
		for (uint64_t k = lo; k <= hi; k++)
			bits[r][k] = true;
	}
}

/* a \ b and "a and b share no dot" against the bitmaps, for contexts of
 * every density (deferred removes are token dots minus a cart's context). */
START_TEST(subtract_and_disjoint_match_model)
{
	srand(3000 + (unsigned)_i);
	bool a[4][MODEL_MAX + 1] = { { 0 } }, b[4][MODEL_MAX + 1] = { { 0 } };
	crdt_ctx x, y, z;
	random_ranges(&x, a, rand() % 12);
	random_ranges(&y, b, rand() % 12);
	crdt_ctx_init(&z);
	ck_assert_int_eq(crdt_ctx_add_range(&z, 2, 5, 9), 0);   /* replaced */
	ck_assert_int_eq(crdt_ctx_subtract(&z, &x, &y), 0);
	bool shared = false;
	for (int r = 0; r < 4; r++)
		for (int k = 0; k <= MODEL_MAX; k++) {
			model[r][k] = a[r][k] && !b[r][k];
			shared |= a[r][k] && b[r][k];
		}
	check_matches_model(&z);
	ck_assert(crdt_ctx_disjoint(&x, &y) == !shared);
	ck_assert(crdt_ctx_disjoint(&y, &x) == !shared);
	ck_assert(crdt_ctx_disjoint(&z, &y));
	/* (a \ b) joined with b is a joined with b. */
	ck_assert_int_eq(crdt_ctx_join(&z, &y), 0);
	ck_assert_int_eq(crdt_ctx_join(&x, &y), 0);
	ck_assert(crdt_ctx_equal(&x, &z));
	crdt_ctx_destroy(&x);
	crdt_ctx_destroy(&y);
	crdt_ctx_destroy(&z);
}
END_TEST

Suite *context_suite(void);

Suite *context_suite(void)
{
	Suite *s = suite_create("context");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, cloud_closes_when_gap_arrives);
	tcase_add_test(tc, add_range_rejects_bad_bounds);
	tcase_add_loop_test(tc, random_ops_match_model, 0, 50);
	tcase_add_loop_test(tc, join_and_intersect_match_model, 0, 200);
	tcase_add_loop_test(tc, subtract_and_disjoint_match_model, 0, 300);
	suite_add_tcase(s, tc);
	return s;
}
