/*
 * check_cart_add.c - the unkeyed add written in place (crdt/cart_add.c)
 * against the add built as a delta and joined (crdt_cart_add), at the
 * edges the random worlds of the props suite rarely reach: a line one entry
 * from full, a cart one line from full, a counter one from its maximum, a
 * quantity at its cap, a fresh dot that sorts between other replicas'
 * entries, refused input, and every allocation failing in turn.
 *
 * Each check makes the same add both ways on copies of one cart and
 * requires the same error, the same cart and the same delta; a refused or
 * failed add must leave the cart as it was, with an empty delta.
 *
 * The join of a one-line delta sharing no dot with the cart, also made in
 * place, is checked against the general join by commutativity: cart ⊔
 * delta (in place) must equal delta ⊔ cart (the general join, the delta
 * being the destination), with several entries, sets among them, and each
 * allocation failing in turn.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "crdt/cart.h"
#include "crdt/error.h"
#include "tests/test_alloc.h"
#include "tests/test_util.h"

Suite *cart_add_suite(void);

#define SELF 100u
#define MAX_STEPS 1000   /* no add makes that many allocations */

/* The add in place, as the store makes it. */
static int add_in_place(crdt_cart *c, uint64_t self, const char *sku, size_t len, uint32_t n,
                        crdt_cart *delta)
{
	crdt_op op = { CRDT_OP_ADD, sku, len, n, NULL, NULL, 0 };
	return crdt_cart_apply(c, self, &op, delta);
}

/* Makes the add of n of sku[0..len) to c both ways on copies; asserts they
 * agree, and that a refusal changes nothing.  Returns the error. */
static int both_ways(const crdt_cart *c, uint64_t self, const char *sku, size_t len,
                     uint32_t n)
{
	crdt_cart built = tu_copy(c), placed = tu_copy(c), bd, pd;
	crdt_cart_init(&bd);
	crdt_cart_init(&pd);
	int brc = crdt_cart_add(&built, self, sku, len, n, &bd);
	int prc = add_in_place(&placed, self, sku, len, n, &pd);
	ck_assert_msg(prc == brc, "add %u of %.*s: %s in place, %s built", n, (int)len, sku,
	              cartd_strerror(prc), cartd_strerror(brc));
	ck_assert(crdt_cart_valid(&placed));
	ck_assert_msg(crdt_cart_equal(&placed, &built) && tu_same_bytes(&placed, &built),
	              "add %u of %.*s: the carts differ", n, (int)len, sku);
	ck_assert_msg(crdt_cart_equal(&pd, &bd) && tu_same_bytes(&pd, &bd),
	              "add %u of %.*s: the deltas differ", n, (int)len, sku);
	if (prc != 0) {
		ck_assert(crdt_cart_equal(&placed, c) && tu_same_bytes(&placed, c));
		tu_assert_empty(&pd, "a refused add's delta");
	}
	crdt_cart_destroy(&built);
	crdt_cart_destroy(&placed);
	crdt_cart_destroy(&bd);
	crdt_cart_destroy(&pd);
	return prc;
}

static int both(const crdt_cart *c, const char *sku, uint32_t n)
{
	return both_ways(c, SELF, sku, strlen(sku), n);
}

/* Adds n of sku to c in place, asserting success. */
static void put(crdt_cart *c, uint64_t self, const char *sku, uint32_t n)
{
	ck_assert_int_eq(add_in_place(c, self, sku, strlen(sku), n, NULL), 0);
}

START_TEST(line_fills_then_refuses)
{
	crdt_cart c;
	crdt_cart_init(&c);
	for (unsigned i = 0; i + 1 < CRDT_MAX_LINE_ENTRIES; i++)
		put(&c, SELF, "sku", 1);
	ck_assert_int_eq(both(&c, "sku", 1), 0);   /* the last entry the line takes */
	put(&c, SELF, "sku", 1);
	ck_assert_uint_eq(tu_entries(&c, "sku"), CRDT_MAX_LINE_ENTRIES);
	ck_assert_int_eq(both(&c, "sku", 1), CARTD_ELINEFULL);
	ck_assert_int_eq(both(&c, "other", 1), 0);   /* other lines still take adds */
	crdt_cart_destroy(&c);
}
END_TEST

START_TEST(cart_fills_then_refuses)
{
	crdt_cart c;
	crdt_cart_init(&c);
	char sku[16];
	for (unsigned i = 0; i + 1 < CRDT_MAX_LINES; i++) {
		snprintf(sku, sizeof sku, "s%04u", i);
		put(&c, SELF, sku, 1);
	}
	ck_assert_int_eq(both(&c, "s9999", 1), 0);   /* the last line, at the end */
	ck_assert_int_eq(both(&c, "a", 1), 0);       /* ... or at the start */
	put(&c, SELF, "s0500x", 1);                  /* ... or in the middle */
	ck_assert_uint_eq(c.n, CRDT_MAX_LINES);
	ck_assert_int_eq(both(&c, "s9999", 1), CARTD_ELINES);
	ck_assert_int_eq(both(&c, "s0500", 2), 0);   /* an existing line still takes adds */
	crdt_cart_destroy(&c);
}
END_TEST

/* The context holds 1..max-1 of this replica: one more dot, then none. */
START_TEST(counter_runs_out)
{
	crdt_cart c;
	crdt_cart_init(&c);
	ck_assert_int_eq(crdt_ctx_add_range(&c.ctx, SELF, 1, CRDT_MAX_COUNTER - 1), 0);
	ck_assert_int_eq(both(&c, "sku", 7), 0);
	put(&c, SELF, "sku", 7);
	ck_assert_uint_eq(crdt_ctx_max(&c.ctx, SELF), CRDT_MAX_COUNTER);
	ck_assert_int_eq(both(&c, "sku", 1), CARTD_ECOUNTER);
	ck_assert_int_eq(both(&c, "new", 1), CARTD_ECOUNTER);
	/* Another replica still writes. */
	ck_assert_int_eq(both_ways(&c, SELF + 1, "sku", 3, 1), 0);
	crdt_cart_destroy(&c);
}
END_TEST

START_TEST(quantity_caps)
{
	crdt_cart c;
	crdt_cart_init(&c);
	put(&c, SELF, "sku", CRDT_MAX_QTY - 1);
	ck_assert_int_eq(both(&c, "sku", 1), 0);
	ck_assert_int_eq(both(&c, "sku", 2), 0);
	put(&c, SELF, "sku", CRDT_MAX_QTY);
	ck_assert_uint_eq(tu_qty(&c, "sku"), CRDT_MAX_QTY);
	ck_assert_int_eq(both(&c, "sku", CRDT_MAX_QTY), 0);
	put(&c, SELF, "sku", 1);
	ck_assert_uint_eq(tu_qty(&c, "sku"), CRDT_MAX_QTY);
	/* Under a set, the adds count on top of the largest set. */
	crdt_cart s;
	crdt_cart_init(&s);
	tu_set(&s, SELF + 1, "sku", CRDT_MAX_QTY - 5, NULL);
	ck_assert_int_eq(both(&s, "sku", 4), 0);
	ck_assert_int_eq(both(&s, "sku", 6), 0);
	put(&s, SELF, "sku", 4);
	ck_assert_uint_eq(tu_qty(&s, "sku"), CRDT_MAX_QTY - 1);
	crdt_cart_destroy(&c);
	crdt_cart_destroy(&s);
}
END_TEST

/* Entries sort by (replica, counter): this replica's fresh dot lands
 * between a lower and a higher replica's, whatever their counters. */
START_TEST(fresh_dot_sorts_among_replicas)
{
	static const uint64_t replicas[] = { 1, SELF - 1, SELF + 1, UINT64_MAX };
	crdt_cart c;
	crdt_cart_init(&c);
	for (unsigned k = 0; k < 3; k++)
		for (size_t i = 0; i < sizeof replicas / sizeof replicas[0]; i++) {
			ck_assert_int_eq(both_ways(&c, replicas[i], "sku", 3, 1), 0);
			put(&c, replicas[i], "sku", 1);
		}
	ck_assert_int_eq(both(&c, "sku", 1), 0);
	put(&c, SELF, "sku", 1);
	ck_assert_int_eq(both(&c, "sku", 1), 0);
	ck_assert_int_eq(both_ways(&c, 0, "sku", 3, 1), 0);
	crdt_cart_destroy(&c);
}
END_TEST

START_TEST(bad_input_changes_nothing)
{
	char longest[CRDT_MAX_NAME + 2];
	memset(longest, 'k', sizeof longest);
	crdt_cart c;
	crdt_cart_init(&c);
	put(&c, SELF, "sku", 1);
	ck_assert_int_eq(both(&c, "sku", 0), CARTD_EQTY);
	ck_assert_int_eq(both(&c, "sku", CRDT_MAX_QTY + 1), CARTD_EQTY);
	ck_assert_int_eq(both(&c, "sku", UINT32_MAX), CARTD_EQTY);
	ck_assert_int_eq(both(&c, "s k", 1), CARTD_ESKU);
	ck_assert_int_eq(both_ways(&c, SELF, "", 0, 1), CARTD_ESKU);
	ck_assert_int_eq(both_ways(&c, SELF, "sku\0x", 5, 1), CARTD_ESKU);
	ck_assert_int_eq(both_ways(&c, SELF, "sk\xff", 3, 1), CARTD_ESKU);
	ck_assert_int_eq(both_ways(&c, SELF, longest, CRDT_MAX_NAME + 1, 1), CARTD_ESKU);
	ck_assert_int_eq(both_ways(&c, SELF, longest, CRDT_MAX_NAME, 1), 0);
	crdt_cart_destroy(&c);
}
END_TEST

/* The shapes an add meets, each needing different allocations: an empty
 * cart, an inline entry becoming two, a full entry array growing, a line
 * array growing, a long (heap) sku, a full context gaining a range.  Each
 * runs on a copy (tu_copy sizes the arrays to what they hold). */
static void shape(int i, crdt_cart *c, const char **sku)
{
	static char longsku[CRDT_MAX_NAME + 1];
	crdt_cart_init(c);
	*sku = "sku";
	switch (i) {
	case 0:
		break;
	case 1:
		put(c, SELF, "sku", 1);
		break;
	case 2:
		for (int k = 0; k < 5; k++)
			put(c, SELF, "sku", 1);
		break;
	case 3:
		put(c, SELF, "a", 1);
		put(c, SELF, "b", 1);
		*sku = "aa";
		break;
	case 4:
		memset(longsku, 'L', CRDT_MAX_NAME);
		*sku = longsku;
		put(c, SELF, "sku", 1);
		break;
	case 5:
		/* 16 ranges, none of SELF: its first dot is a 17th range, which
		 * a copied context (sized to a power of two) has no room for. */
		for (uint64_t r = 1; r < 30; r += 2)
			ck_assert_int_eq(crdt_ctx_add_range(&c->ctx, r, 1, r), 0);
		put(c, SELF + 7, "sku", 1);
		ck_assert_uint_eq(c->ctx.n, 16);
		break;
	}
}

START_TEST(allocation_failure_changes_nothing)
{
	crdt_cart c;
	const char *sku;
	shape(_i, &c, &sku);
	crdt_cart want = tu_copy(&c), wd;
	crdt_cart_init(&wd);
	ck_assert_int_eq(crdt_cart_add(&want, SELF, sku, strlen(sku), 3, &wd), 0);
	long step = 0;
	for (;; step++) {
		ck_assert_int_lt(step, MAX_STEPS);
		crdt_cart t = tu_copy(&c), d;
		crdt_cart_init(&d);
		test_alloc_fail_after(step);
		int rc = add_in_place(&t, SELF, sku, strlen(sku), 3, &d);
		test_alloc_reset();
		if (rc == 0) {
			ck_assert(crdt_cart_equal(&t, &want) && tu_same_bytes(&t, &want));
			ck_assert(crdt_cart_equal(&d, &wd) && tu_same_bytes(&d, &wd));
			crdt_cart_destroy(&t);
			crdt_cart_destroy(&d);
			break;
		}
		ck_assert_msg(rc == CARTD_ENOMEM, "shape %d step %ld: %s", _i, step,
		              cartd_strerror(rc));
		ck_assert_msg(crdt_cart_equal(&t, &c) && tu_same_bytes(&t, &c),
		              "shape %d step %ld: a failed add changed the cart", _i, step);
		tu_assert_empty(&d, "a failed add's delta");
		crdt_cart_destroy(&t);
		crdt_cart_destroy(&d);
	}
	/* Every shape allocates at least the delta's line: failure was met. */
	ck_assert_msg(step > 0, "shape %d: the add allocated nothing", _i);
	crdt_cart_destroy(&c);
	crdt_cart_destroy(&want);
	crdt_cart_destroy(&wd);
}
END_TEST

/* A cart of several lines written by replicas 1..3, and a one-line delta
 * of sku written by replicas 0 and 7..9 (so sharing no dot with it), with
 * a set among its entries when with_set. */
static void disjoint_pair(crdt_cart *c, crdt_cart *delta, const char *sku, bool with_set)
{
	static const char *const skus[] = { "a", "b", "m", "z" };
	crdt_cart_init(c);
	crdt_cart_init(delta);
	for (uint64_t r = 1; r <= 3; r++)
		for (size_t i = 0; i < sizeof skus / sizeof skus[0]; i++)
			put(c, r, skus[i], (uint32_t)(r + i));
	tu_set(c, 2, "m", 40, NULL);
	put(delta, 0, sku, 2);
	put(delta, 8, sku, 3);
	if (with_set)
		tu_set(delta, 9, sku, CRDT_MAX_QTY - 1, NULL);
	put(delta, 7, sku, 1);
	ck_assert_uint_eq(delta->n, 1);
}

START_TEST(disjoint_join_is_the_general_join)
{
	static const char *const skus[] = { "a", "m", "z", "0", "n", "zz" };
	for (int with_set = 0; with_set < 2; with_set++)
		for (size_t i = 0; i < sizeof skus / sizeof skus[0]; i++) {
			crdt_cart c, d;
			disjoint_pair(&c, &d, skus[i], with_set);
			crdt_cart placed = tu_copy(&c), general = tu_copy(&d);
			ck_assert(tu_join(&placed, &d));
			ck_assert(tu_join(&general, &c));
			ck_assert_msg(crdt_cart_equal(&placed, &general) && tu_same_bytes(&placed, &general),
			              "delta of %s (set: %d): the in-place join differs", skus[i], with_set);
			crdt_cart_destroy(&c);
			crdt_cart_destroy(&d);
			crdt_cart_destroy(&placed);
			crdt_cart_destroy(&general);
		}
}
END_TEST

START_TEST(disjoint_join_failure_changes_nothing)
{
	static const char *const skus[] = { "m", "n" };   /* a line grows; a line is made */
	crdt_cart c, d;
	disjoint_pair(&c, &d, skus[_i], true);
	crdt_cart want = tu_copy(&c);
	ck_assert(tu_join(&want, &d));
	long step = 0;
	for (;; step++) {
		ck_assert_int_lt(step, MAX_STEPS);
		crdt_cart t = tu_copy(&c);
		bool changed = false;
		test_alloc_fail_after(step);
		int rc = crdt_cart_join(&t, &d, &changed);
		test_alloc_reset();
		if (rc == 0) {
			ck_assert(changed);
			ck_assert(crdt_cart_equal(&t, &want) && tu_same_bytes(&t, &want));
			crdt_cart_destroy(&t);
			break;
		}
		ck_assert_int_eq(rc, CARTD_ENOMEM);
		ck_assert_msg(crdt_cart_equal(&t, &c) && tu_same_bytes(&t, &c),
		              "%s step %ld: a failed join changed the cart", skus[_i], step);
		crdt_cart_destroy(&t);
	}
	ck_assert_msg(step > 0, "%s: the join allocated nothing", skus[_i]);
	crdt_cart_destroy(&c);
	crdt_cart_destroy(&d);
	crdt_cart_destroy(&want);
}
END_TEST

Suite *cart_add_suite(void)
{
	Suite *s = suite_create("cart_add");
	TCase *tc = tcase_create("in_place");
	tcase_add_test(tc, line_fills_then_refuses);
	tcase_add_test(tc, cart_fills_then_refuses);
	tcase_add_test(tc, counter_runs_out);
	tcase_add_test(tc, quantity_caps);
	tcase_add_test(tc, fresh_dot_sorts_among_replicas);
	tcase_add_test(tc, bad_input_changes_nothing);
	tcase_add_loop_test(tc, allocation_failure_changes_nothing, 0, 6);
	tcase_add_test(tc, disjoint_join_is_the_general_join);
	tcase_add_loop_test(tc, disjoint_join_failure_changes_nothing, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
