/*
 * check_idfifo.c - the FIFO of cart ids behind replicated persistence
 * (app/peer/node_idfifo.c): order kept across the slides and growths of
 * its buffer, ids of every length up to CRDT_MAX_NAME, and an empty pop.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "app/peer/node_internal.h"
#include "crdt/cart.h"

Suite *idfifo_suite(void);

/* The i-th id: lengths cycle through 1..CRDT_MAX_NAME. */
static size_t make_id(size_t i, char *out)
{
	size_t len = 1 + i % CRDT_MAX_NAME;
	char num[24];
	int k = snprintf(num, sizeof num, "%zu", i);
	for (size_t j = 0; j < len; j++)
		out[j] = j < (size_t)k ? num[j] : (char)('a' + (i + j) % 26);
	out[len] = '\0';
	return len;
}

START_TEST(order_across_growth_and_slides)
{
	enum { N = 20000 };
	idfifo q = { 0 };
	char want[CRDT_MAX_NAME + 1], got[CRDT_MAX_NAME + 1];
	size_t pushed = 0, popped = 0;
	/* Push three, pop two, so the front keeps moving while the buffer
	 * both slides and grows; then drain. */
	while (pushed < N) {
		for (int k = 0; k < 3 && pushed < N; k++, pushed++) {
			size_t len = make_id(pushed, want);
			ck_assert_int_eq(idfifo_reserve(&q, len), 0);
			idfifo_push(&q, want, len);
		}
		for (int k = 0; k < 2; k++, popped++) {
			size_t len = make_id(popped, want);
			ck_assert_uint_eq(idfifo_pop(&q, got), len);
			ck_assert_str_eq(got, want);
		}
		ck_assert_uint_eq(q.n, pushed - popped);
	}
	while (popped < N) {
		size_t len = make_id(popped++, want);
		ck_assert_uint_eq(idfifo_pop(&q, got), len);
		ck_assert_str_eq(got, want);
	}
	ck_assert_uint_eq(q.n, 0);
	ck_assert_uint_eq(idfifo_pop(&q, got), 0);
	ck_assert_uint_eq(q.head, 0);
	ck_assert_uint_eq(q.tail, 0);
	idfifo_destroy(&q);
	ck_assert_ptr_null(q.buf);
	ck_assert_uint_eq(idfifo_pop(&q, got), 0);   /* a destroyed FIFO is empty */
}
END_TEST

Suite *idfifo_suite(void)
{
	Suite *s = suite_create("idfifo");
	TCase *t = tcase_create("fifo");
	tcase_add_test(t, order_across_growth_and_slides);
	suite_add_tcase(s, t);
	return s;
}
