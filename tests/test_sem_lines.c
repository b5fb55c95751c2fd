/*
 * test_sem_lines.c - semantics suite, tcase "lines": lines never fold, so
 * every acknowledged add counts, however many peers add to a line at once;
 * a line holding CRDT_MAX_LINE_ENTRIES entries refuses further adds
 * (line_full) until a set compacts it; and carts written by older versions,
 * folded SET entries included, read the same.  Each test is a row of
 * docs/semantics.md §6.
 */
#include <check.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "tests/test_sem.h"
#include "tests/test_util.h"

#define K CRDT_MAX_LINE_ENTRIES

static void destroy_all(crdt_cart *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crdt_cart_destroy(&c[i]);
}

/* The brief's old fold lost adds here: 16 adds of X reach A and B, then,
 * cut off from each other, A adds 1 and B adds 2.  Every add counts. */
START_TEST(hot_line_cut_both_sides_add)
{
	crdt_cart a, b, d, da, db;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&d);
	crdt_cart_init(&da);
	crdt_cart_init(&db);
	for (unsigned i = 0; i < 16; i++) {
		tu_add(&a, i % 2 ? SEM_A : SEM_B, "X", 1, &d);
		tu_join(&b, &d);
		tu_join(&a, &b);
	}
	ck_assert_uint_eq(tu_qty(&a, "X"), 16);
	tu_add(&a, SEM_A, "X", 1, &da);
	tu_add(&b, SEM_B, "X", 2, &db);
	ck_assert_uint_eq(crdt_entry_kind(&crdt_line_entries(da.lines)[0]), CRDT_ADD);
	tu_join(&a, &db);
	tu_join(&b, &da);
	ck_assert_uint_eq(tu_qty(&a, "X"), 19);
	tu_assert_converged(&a, &b, "cut, add at both sides, heal");
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
	crdt_cart_destroy(&d);
	crdt_cart_destroy(&da);
	crdt_cart_destroy(&db);
}
END_TEST

/* One client, 100 sequential adds, each to a random one of 3 replicas that
 * have seen some random part of the others' adds: the sum is exact. */
START_TEST(hot_line_round_robin_exact_sum)
{
	const uint64_t id[3] = { SEM_A, SEM_B, SEM_C };
	crdt_cart r[3], d[100];
	for (int i = 0; i < 3; i++)
		crdt_cart_init(&r[i]);
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (unsigned i = 0; i < 100; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned at = (unsigned)(x % 3);
		crdt_cart_init(&d[i]);
		tu_add(&r[at], id[at], "X", 1, &d[i]);
		for (unsigned k = 0; k < i; k++)   /* partial, out-of-order delivery */
			if ((x >> (k % 60)) & 1)
				tu_join(&r[(at + 1 + k % 2) % 3], &d[i - 1 - k]);
	}
	for (int i = 0; i < 3; i++)
		for (unsigned k = 0; k < 100; k++)
			tu_join(&r[i], &d[99 - k]);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(tu_qty(&r[i], "X"), 100);
		tu_assert_converged(&r[0], &r[i], "100 adds at random replicas");
	}
	destroy_all(d, 100);
	destroy_all(r, 3);
}
END_TEST

/* The (K+1)th live entry is refused with line_full and changes nothing; a
 * set compacts the line, and adds are taken again. */
START_TEST(line_full_refuses_add_until_set)
{
	crdt_cart c, d, before;
	crdt_cart_init(&c);
	crdt_cart_init(&d);
	for (unsigned i = 0; i < K; i++)
		tu_add(&c, SEM_A, "X", 1, NULL);
	ck_assert_uint_eq(tu_entries(&c, "X"), K);
	before = tu_copy(&c);
	tu_add(&d, 1, "junk", 1, NULL);
	ck_assert_int_eq(crdt_cart_add(&c, SEM_A, "X", 1, 1, &d), CARTD_ELINEFULL);
	ck_assert(crdt_cart_empty(&d));
	ck_assert(crdt_cart_equal(&c, &before));
	/* Other lines are not affected. */
	tu_add(&c, SEM_A, "Y", 1, NULL);
	tu_set(&c, SEM_A, "X", K + 1, NULL);
	ck_assert_uint_eq(tu_entries(&c, "X"), 1);
	ck_assert_uint_eq(tu_qty(&c, "X"), K + 1);
	tu_add(&c, SEM_A, "X", 1, NULL);
	ck_assert_uint_eq(tu_qty(&c, "X"), K + 2);
	crdt_cart_destroy(&c);
	crdt_cart_destroy(&d);
	crdt_cart_destroy(&before);
}
END_TEST

/* Entries that arrive from other peers count towards the cap too, and
 * still merge in full: two sides of a cut, K entries each, hold 2K after
 * the heal, and both then refuse adds. */
START_TEST(line_full_after_heal_holds_both_sides)
{
	crdt_cart a, b;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	for (unsigned i = 0; i < K; i++) {
		tu_add(&a, SEM_A, "X", 1, NULL);
		tu_add(&b, SEM_B, "X", 2, NULL);
	}
	tu_join(&a, &b);
	tu_join(&b, &a);
	ck_assert_uint_eq(tu_entries(&a, "X"), 2 * K);
	ck_assert_uint_eq(tu_qty(&a, "X"), 3 * K);
	ck_assert_int_eq(crdt_cart_add(&a, SEM_A, "X", 1, 1, NULL), CARTD_ELINEFULL);
	ck_assert_int_eq(crdt_cart_add(&b, SEM_B, "X", 1, 1, NULL), CARTD_ELINEFULL);
	tu_assert_converged(&a, &b, "two full sides healed");
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/* A cart written before this version (cart format 1: no deferred removes
 * section), holding a folded SET entry beside adds, decodes from its old
 * bytes to the same lines and quantities, and its new encoding is the old
 * bytes plus three zero bytes (what app/peer/db.c's upgrade writes). */
START_TEST(format1_cart_reads_the_same)
{
	crdt_cart c, old, fresh;
	crdt_cart_init(&c);
	crdt_cart_init(&old);
	crdt_cart_init(&fresh);
	tu_add(&c, SEM_A, "X", 2, NULL);
	tu_set(&c, SEM_B, "X", 17, NULL);    /* what a fold wrote */
	tu_add(&c, SEM_A, "X", 3, NULL);
	tu_add(&c, SEM_C, "Y", 1, NULL);
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, &c);
	/* No deferred removes, records or markers. */
	ck_assert_uint_eq(w.data[w.len - 3] | w.data[w.len - 2] | w.data[w.len - 1], 0);
	size_t v1_len = w.len - 3;
	ck_assert_int_eq(crdt_cart_from_bytes_version(w.data, v1_len, CRDT_CART_V1, &old), 0);
	ck_assert(crdt_cart_equal(&old, &c));
	ck_assert_uint_eq(tu_qty(&old, "X"), 20);
	ck_assert_uint_eq(tu_qty(&old, "Y"), 1);
	/* Format 1 bytes are not format 3, and format 3 bytes are not format 1. */
	ck_assert_int_eq(crdt_cart_from_bytes(w.data, v1_len, &fresh), CARTD_ETRUNC);
	ck_assert_int_eq(crdt_cart_from_bytes_version(w.data, w.len, CRDT_CART_V1, &fresh),
	                 CARTD_ETRAILING);
	ck_assert_int_eq(crdt_cart_from_bytes_version(w.data, w.len, 4, &fresh), CARTD_EINVAL);
	buf_writer_destroy(&w);
	crdt_cart_destroy(&c);
	crdt_cart_destroy(&old);
	crdt_cart_destroy(&fresh);
}
END_TEST

TCase *sem_lines_tcase(void)
{
	TCase *t = tcase_create("lines");
	tcase_add_test(t, hot_line_cut_both_sides_add);
	tcase_add_test(t, hot_line_round_robin_exact_sum);
	tcase_add_test(t, line_full_refuses_add_until_set);
	tcase_add_test(t, line_full_after_heal_holds_both_sides);
	tcase_add_test(t, format1_cart_reads_the_same);
	return t;
}
