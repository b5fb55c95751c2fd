/*
 * test_sem_fold.c - semantics suite, folding: past CRDT_MAX_ENTRIES live
 * entries a local add folds the line into one SET of the observed quantity
 * plus the addition, and concurrent adds on other replicas still merge by
 * the quantity rule.
 */
#include <check.h>

#include "crdt/cart.h"
#include "tests/test_rng.h"
#include "tests/test_sem.h"
#include "tests/test_util.h"

#define N CRDT_MAX_ENTRIES

static void assert_one_set(const crdt_cart *c, const char *sku, uint32_t value)
{
	const crdt_line *l = crdt_cart_find(c, sku, 1);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_uint_eq(crdt_entry_kind(crdt_line_entries(l)), CRDT_SET);
	ck_assert_uint_eq(crdt_entry_value(crdt_line_entries(l)), value);
}

static void destroy_n(crdt_cart *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crdt_cart_destroy(&c[i]);
}

START_TEST(fold_at_max_entries)
{
	crdt_cart a, b, d[N], db, dfold;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&db);
	crdt_cart_init(&dfold);
	for (unsigned i = 0; i < N; i++) {
		crdt_cart_init(&d[i]);
		tu_add(&a, SEM_A, "X", 1, &d[i]);
	}
	ck_assert_uint_eq(tu_entries(&a, "X"), N);
	for (unsigned i = 0; i < 10; i++)
		tu_join(&b, &d[i]);
	tu_add(&b, SEM_B, "X", 5, &db);     /* concurrent, B saw only 10 of A's */
	tu_add(&a, SEM_A, "X", 1, &dfold);  /* the (N+1)th add folds */
	assert_one_set(&a, "X", N + 1);
	assert_one_set(&dfold, "X", N + 1);
	ck_assert_uint_eq(crdt_ctx_count(&dfold.ctx), N + 1);
	for (uint64_t k = 1; k <= N + 1; k++)
		ck_assert(crdt_ctx_contains(&dfold.ctx, (crdt_dot){ SEM_A, k }));

	tu_join(&b, &dfold);                /* the fold overtakes 6 older adds */
	ck_assert_uint_eq(tu_qty(&b, "X"), N + 1 + 5);
	for (unsigned i = 10; i < N; i++)
		ck_assert_msg(!tu_join(&b, &d[i]), "add %u folded away came back", i);
	tu_join(&a, &db);
	ck_assert_uint_eq(tu_qty(&a, "X"), N + 1 + 5);
	ck_assert_uint_eq(tu_entries(&a, "X"), 2);
	tu_assert_converged(&a, &b, "fold with a concurrent add");
	destroy_n(d, N);
	crdt_cart_destroy(&db);
	crdt_cart_destroy(&dfold);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/* A line that grew past the limit by merging (two writers of N entries
 * each) folds everything A observed; a third replica's add survives. */
START_TEST(fold_after_merge_past_limit)
{
	crdt_cart c[3], d[2 * N + 2];
	const uint64_t id[3] = { SEM_A, SEM_B, SEM_C };
	for (int i = 0; i < 3; i++)
		crdt_cart_init(&c[i]);
	for (unsigned i = 0; i < 2 * N + 2; i++)
		crdt_cart_init(&d[i]);
	for (unsigned i = 0; i < 2 * N; i++)
		tu_add(&c[i % 2], id[i % 2], "X", 1, &d[i]);
	for (unsigned i = 1; i < 2 * N; i += 2)
		tu_join(&c[0], &d[i]);
	ck_assert_uint_eq(tu_entries(&c[0], "X"), 2 * N);
	tu_add(&c[2], id[2], "X", 2, &d[2 * N]);
	tu_add(&c[0], id[0], "X", 3, &d[2 * N + 1]);
	assert_one_set(&c[0], "X", 2 * N + 3);
	for (int r = 0; r < 3; r++)
		for (unsigned i = 0; i < 2 * N + 2; i++)
			tu_join(&c[r], &d[2 * N + 1 - i]);
	for (int r = 0; r < 3; r++) {
		ck_assert_uint_eq(tu_qty(&c[r], "X"), 2 * N + 3 + 2);
		tu_assert_converged(&c[0], &c[r], "fold after merge");
	}
	destroy_n(d, 2 * N + 2);
	destroy_n(c, 3);
}
END_TEST

/* The folded SET is clamped like any quantity. */
START_TEST(fold_clamped)
{
	crdt_cart a;
	crdt_cart_init(&a);
	for (unsigned i = 0; i < N; i++)
		tu_add(&a, SEM_A, "X", 100000, NULL);
	ck_assert_uint_eq(tu_qty(&a, "X"), CRDT_MAX_QTY);
	tu_add(&a, SEM_A, "X", 7, NULL);
	assert_one_set(&a, "X", CRDT_MAX_QTY);
	crdt_cart_destroy(&a);
}
END_TEST

/* Only add folds; a line just under the limit keeps its entries. */
START_TEST(no_fold_below_limit)
{
	crdt_cart a;
	crdt_cart_init(&a);
	for (unsigned i = 0; i < N; i++)
		tu_add(&a, SEM_A, "X", 2, NULL);
	ck_assert_uint_eq(tu_entries(&a, "X"), N);
	ck_assert_uint_eq(tu_qty(&a, "X"), 2 * N);
	tu_set(&a, SEM_A, "X", 3, NULL);
	assert_one_set(&a, "X", 3);
	crdt_cart_destroy(&a);
}
END_TEST

/*
 * A folding add is a SET: against a concurrent set elsewhere the larger
 * value wins (17 here), where an unfolded add would have been added to the
 * other set (3 + 1).  docs/semantics.md explains this.
 */
START_TEST(fold_vs_concurrent_set)
{
	crdt_cart a, b, d[N], da, db;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&da);
	crdt_cart_init(&db);
	for (unsigned i = 0; i < N; i++) {
		crdt_cart_init(&d[i]);
		tu_add(&a, SEM_A, "X", 1, &d[i]);
		tu_join(&b, &d[i]);
	}
	tu_set(&b, SEM_B, "X", 3, &db);
	tu_add(&a, SEM_A, "X", 1, &da);
	tu_join(&a, &db);
	tu_join(&b, &da);
	ck_assert_uint_eq(tu_qty(&a, "X"), N + 1);
	tu_assert_converged(&a, &b, "fold vs set");
	destroy_n(d, N);
	crdt_cart_destroy(&da);
	crdt_cart_destroy(&db);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

TCase *sem_fold_tcase(void)
{
	TCase *tc = tcase_create("fold");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, fold_at_max_entries);
	tcase_add_test(tc, fold_after_merge_past_limit);
	tcase_add_test(tc, fold_clamped);
	tcase_add_test(tc, no_fold_below_limit);
	tcase_add_test(tc, fold_vs_concurrent_set);
	return tc;
}
