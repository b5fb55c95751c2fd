/*
 * test_sem_limits.c - semantics suite, limits: names (CARTD_ESKU / EID),
 * quantities (CARTD_EQTY) and lines per cart (CARTD_ELINES).  A rejected
 * operation leaves the cart exactly as it was and its delta empty.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "crdt/cart.h"
#include "crdt/cart_id.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "tests/test_rng.h"
#include "tests/test_sem.h"
#include "tests/test_util.h"

enum lop_kind { LOP_ADD, LOP_SET, LOP_REMOVE };

static int apply(crdt_cart *c, int kind, const char *sku, size_t len, uint32_t n, crdt_cart *d)
{
	if (kind == LOP_ADD)
		return crdt_cart_add(c, SEM_A, sku, len, n, d);
	if (kind == LOP_SET)
		return crdt_cart_set(c, SEM_A, sku, len, n, d);
	return crdt_cart_remove(c, sku, len, NULL, d);
}

/* Asserts the operation fails with want, changing neither cart nor leaving
 * anything in a (previously non-empty) delta. */
static void expect_rejected(crdt_cart *c, int kind, const char *sku, size_t len, uint32_t n,
                            int want)
{
	crdt_cart before = tu_copy(c), d;
	crdt_cart_init(&d);
	tu_add(&d, 99, "junk", 1, NULL);
	int rc = apply(c, kind, sku, len, n, &d);
	ck_assert_msg(rc == want, "op %d on sku of %zu bytes (first 0x%02x), n=%u: got %d, want %d",
	              kind, len, len ? (unsigned char)sku[0] : 0, n, rc, want);
	tu_assert_converged(c, &before, "cart after a rejected operation");
	tu_assert_empty(&d, "delta of a rejected operation");
	crdt_cart_destroy(&before);
	crdt_cart_destroy(&d);
}

static bool allowed(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("._~:@-", ch) != NULL;
}

/* Cart ids: the check, and crdt_id_make, which an edge calls instead (the
 * check and the hash at once), refusing the same ids and leaving *id as
 * it was when it does. */
static void expect_id(const char *s, size_t len, int want)
{
	const char *kept = "kept";
	crdt_id id = { kept, 4, 42 };
	ck_assert_int_eq(crdt_check_id(s, len), want);
	ck_assert_int_eq(crdt_id_make(&id, s, len), want);
	if (want)
		ck_assert(id.s == kept && id.len == 4 && id.hash == 42);
	else
		ck_assert(id.s == s && id.len == len && id.hash == crdt_name_hash(s, len));
}

START_TEST(sku_characters)
{
	crdt_cart c;
	crdt_cart_init(&c);
	tu_add(&c, SEM_A, "keep", 1, NULL);
	for (int ch = 0; ch < 256; ch++) {
		char s1[1] = { (char)ch }, s3[3] = { 'a', (char)ch, 'b' };
		ck_assert_int_eq(crdt_check_sku(s1, 1), allowed(ch) && ch ? 0 : CARTD_ESKU);
		expect_id(s3, 3, allowed(ch) && ch ? 0 : CARTD_EID);
		if (allowed(ch) && ch)
			continue;
		for (int k = LOP_ADD; k <= LOP_REMOVE; k++) {
			expect_rejected(&c, k, s1, 1, 1, CARTD_ESKU);
			expect_rejected(&c, k, s3, 3, 1, CARTD_ESKU);
		}
	}
	const char *ok = "AZaz09._~:@-";
	for (const char *p = ok; *p; p++)
		ck_assert_int_eq(crdt_cart_add(&c, SEM_A, p, 1, 1, NULL), 0);
	ck_assert_uint_eq(c.n, 1 + strlen(ok));
	crdt_cart_destroy(&c);
}
END_TEST

START_TEST(sku_lengths)
{
	char s[CRDT_MAX_NAME + 2];
	memset(s, 'k', sizeof s);
	crdt_cart c;
	crdt_cart_init(&c);
	for (int k = LOP_ADD; k <= LOP_REMOVE; k++) {
		expect_rejected(&c, k, s, 0, 1, CARTD_ESKU);
		expect_rejected(&c, k, s, CRDT_MAX_NAME + 1, 1, CARTD_ESKU);
	}
	expect_id(s, 0, CARTD_EID);
	expect_id(s, CRDT_MAX_NAME + 1, CARTD_EID);
	expect_id(s, CRDT_MAX_NAME, 0);
	expect_id(s, 1, 0);
	ck_assert_int_eq(crdt_cart_add(&c, SEM_A, s, CRDT_MAX_NAME, 1, NULL), 0);
	ck_assert_ptr_nonnull(crdt_cart_find(&c, s, CRDT_MAX_NAME));
	ck_assert_int_eq(crdt_cart_add(&c, SEM_A, s, 1, 1, NULL), 0);
	ck_assert_uint_eq(c.n, 2);
	crdt_cart_destroy(&c);
}
END_TEST

START_TEST(quantities)
{
	crdt_cart c;
	crdt_cart_init(&c);
	tu_add(&c, SEM_A, "X", 1, NULL);
	expect_rejected(&c, LOP_ADD, "X", 1, 0, CARTD_EQTY);
	expect_rejected(&c, LOP_ADD, "X", 1, CRDT_MAX_QTY + 1, CARTD_EQTY);
	expect_rejected(&c, LOP_ADD, "Y", 1, UINT32_MAX, CARTD_EQTY);
	expect_rejected(&c, LOP_SET, "X", 1, CRDT_MAX_QTY + 1, CARTD_EQTY);
	expect_rejected(&c, LOP_SET, "Y", 1, UINT32_MAX, CARTD_EQTY);
	tu_add(&c, SEM_A, "Y", CRDT_MAX_QTY, NULL);
	tu_set(&c, SEM_A, "X", CRDT_MAX_QTY, NULL);
	ck_assert_uint_eq(tu_qty(&c, "X"), CRDT_MAX_QTY);
	ck_assert_uint_eq(tu_qty(&c, "Y"), CRDT_MAX_QTY);
	crdt_cart_destroy(&c);
}
END_TEST

static void fill_lines(crdt_cart *c, unsigned n)
{
	char sku[16];
	for (unsigned i = 0; i < n; i++) {
		snprintf(sku, sizeof sku, "s%u", i);
		tu_add(c, SEM_A, sku, 1, NULL);
	}
}

START_TEST(lines_per_cart)
{
	crdt_cart c;
	crdt_cart_init(&c);
	fill_lines(&c, CRDT_MAX_LINES);
	ck_assert_uint_eq(c.n, CRDT_MAX_LINES);
	expect_rejected(&c, LOP_ADD, "new", 3, 1, CARTD_ELINES);
	expect_rejected(&c, LOP_SET, "new", 3, 2, CARTD_ELINES);
	tu_add(&c, SEM_A, "s0", 1, NULL);   /* existing lines still take writes */
	tu_set(&c, SEM_A, "s1", 5, NULL);
	ck_assert_uint_eq(tu_qty(&c, "s0"), 2);
	tu_remove(&c, "s2", NULL, NULL);
	tu_add(&c, SEM_A, "new", 1, NULL);  /* room again */
	ck_assert_uint_eq(c.n, CRDT_MAX_LINES);

	/* A remote writer may take the cart past the local limit; the local
	 * limit still applies to new lines, not to existing ones. */
	crdt_cart other, d;
	crdt_cart_init(&other);
	crdt_cart_init(&d);
	tu_add(&other, SEM_B, "remote", 1, &d);
	tu_join(&c, &d);
	ck_assert_uint_eq(c.n, CRDT_MAX_LINES + 1);
	expect_rejected(&c, LOP_ADD, "new2", 4, 1, CARTD_ELINES);
	tu_add(&c, SEM_A, "remote", 1, NULL);
	ck_assert_uint_eq(tu_qty(&c, "remote"), 2);
	crdt_cart_destroy(&other);
	crdt_cart_destroy(&d);
	crdt_cart_destroy(&c);
}
END_TEST

TCase *sem_limits_tcase(void)
{
	TCase *tc = tcase_create("limits");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, sku_characters);
	tcase_add_test(tc, sku_lengths);
	tcase_add_test(tc, quantities);
	tcase_add_test(tc, lines_per_cart);
	return tc;
}
