/*
 * test_sem_dots.c - semantics suite, dots: out-of-order delivery leaves a
 * dot cloud that closes when the gap arrives, and a replica never reuses a
 * dot (its next dot follows its own maximum, after removals, after a reload
 * from the encoding, and when its maximum is only known as a cloud), up to
 * CRDT_MAX_COUNTER where it stops with CARTD_ECOUNTER.
 */
#include <check.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "tests/test_bytes.h"
#include "tests/test_rng.h"
#include "tests/test_sem.h"
#include "tests/test_util.h"

static void assert_ranges(const crdt_ctx *c, uint32_t n, const crdt_range *want)
{
	ck_assert_uint_eq(c->n, n);
	const crdt_range *r = crdt_ctx_ranges(c);
	for (uint32_t i = 0; i < n; i++) {
		ck_assert_uint_eq(r[i].replica, want[i].replica);
		ck_assert_uint_eq(r[i].lo, want[i].lo);
		ck_assert_uint_eq(r[i].hi, want[i].hi);
	}
}

START_TEST(cloud_closes_when_gap_arrives)
{
	crdt_cart a, b, d[3];
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	const char *sku[3] = { "X", "Y", "Z" };
	for (int i = 0; i < 3; i++) {
		crdt_cart_init(&d[i]);
		tu_add(&a, SEM_A, sku[i], 1, &d[i]);
	}
	tu_join(&b, &d[2]);
	assert_ranges(&b.ctx, 1, (crdt_range[]){ { SEM_A, 3, 3 } });
	ck_assert(!crdt_ctx_contains(&b.ctx, (crdt_dot){ SEM_A, 1 }));
	ck_assert_uint_eq(tu_qty(&b, "Z"), 1);
	tu_join(&b, &d[0]);
	assert_ranges(&b.ctx, 2, (crdt_range[]){ { SEM_A, 1, 1 }, { SEM_A, 3, 3 } });
	tu_join(&b, &d[1]);
	assert_ranges(&b.ctx, 1, (crdt_range[]){ { SEM_A, 1, 3 } });
	tu_assert_converged(&a, &b, "cloud closed");
	for (int i = 0; i < 3; i++)
		crdt_cart_destroy(&d[i]);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/* A removal that arrives before the add it removes: the add stays dead. */
START_TEST(removal_before_its_add)
{
	crdt_cart a, b, d1, d2, d3;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&d1);
	crdt_cart_init(&d2);
	crdt_cart_init(&d3);
	tu_add(&a, SEM_A, "X", 1, &d1);
	tu_add(&a, SEM_A, "Y", 1, &d2);
	tu_remove(&a, "X", NULL, &d3);
	tu_join(&b, &d3);
	assert_ranges(&b.ctx, 1, (crdt_range[]){ { SEM_A, 1, 1 } });
	ck_assert_uint_eq(b.n, 0);
	tu_join(&b, &d1);
	ck_assert_uint_eq(tu_qty(&b, "X"), 0);
	tu_join(&b, &d2);
	tu_assert_converged(&a, &b, "removal first");
	crdt_cart_destroy(&d1);
	crdt_cart_destroy(&d2);
	crdt_cart_destroy(&d3);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

static uint64_t next_counter(crdt_cart *c, uint64_t self)
{
	crdt_cart d;
	crdt_cart_init(&d);
	tu_add(c, self, "probe", 1, &d);
	ck_assert_uint_eq(d.n, 1);
	uint64_t ctr = crdt_entry_counter(crdt_line_entries(&d.lines[0]));
	ck_assert_uint_eq(crdt_line_entries(&d.lines[0])->replica, self);
	crdt_cart_destroy(&d);
	return ctr;
}

START_TEST(next_dot_follows_own_max)
{
	crdt_cart a, other;
	crdt_cart_init(&a);
	crdt_cart_init(&other);
	ck_assert_uint_eq(next_counter(&a, SEM_A), 1);
	ck_assert_uint_eq(next_counter(&other, SEM_A), 1);  /* counters are per cart */
	tu_add(&a, SEM_A, "X", 1, NULL);
	tu_set(&a, SEM_A, "X", 4, NULL);
	ck_assert_uint_eq(next_counter(&a, SEM_A), 4);
	tu_clear(&a, NULL, NULL);           /* removed dots still count */
	ck_assert_uint_eq(a.n, 0);
	ck_assert_uint_eq(next_counter(&a, SEM_A), 5);
	ck_assert_uint_eq(next_counter(&a, SEM_B), 1);      /* another replica */
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&other);
}
END_TEST

START_TEST(next_dot_after_reload)
{
	crdt_cart a, back;
	crdt_cart_init(&a);
	crdt_cart_init(&back);
	for (int i = 0; i < 5; i++)
		tu_add(&a, SEM_A, "X", 1, NULL);
	tu_clear(&a, NULL, NULL);
	tb bytes;
	tb_init(&bytes);
	tu_encode(&a, &bytes);
	ck_assert_int_eq(crdt_cart_from_bytes(bytes.p, bytes.len, &back), 0);
	tu_assert_converged(&a, &back, "reloaded");
	ck_assert_uint_eq(next_counter(&back, SEM_A), 6);
	tb_free(&bytes);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&back);
}
END_TEST

/* A cart that knows A's dots 1-3 and 7 (7 arrived out of order): A's next
 * dot is 8, not the first gap. */
START_TEST(next_dot_after_own_cloud)
{
	crdt_cart a, b, d[7];
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	for (int i = 0; i < 7; i++) {
		crdt_cart_init(&d[i]);
		tu_add(&a, SEM_A, "X", 1, &d[i]);
	}
	for (int i = 0; i < 3; i++)
		tu_join(&b, &d[i]);
	tu_join(&b, &d[6]);
	ck_assert_uint_eq(crdt_ctx_max(&b.ctx, SEM_A), 7);
	ck_assert_uint_eq(next_counter(&b, SEM_A), 8);
	for (int i = 0; i < 7; i++)
		crdt_cart_destroy(&d[i]);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/* A cart whose context holds [1, hi] for replica self, decoded from bytes. */
static void cart_with_counter(crdt_cart *c, uint64_t self, uint64_t hi)
{
	tb b;
	tb_init(&b);
	tb_varint(&b, 1);
	tb_u64le(&b, self);
	tb_varint(&b, 1);
	tb_varint(&b, hi - 1);
	tb_varint(&b, 0);   /* no lines */
	tb_varint(&b, 0);   /* no deferred removes */
	tb_varint(&b, 0);   /* no records */
	tb_varint(&b, 0);   /* no markers */
	crdt_cart_init(c);
	ck_assert_int_eq(crdt_cart_from_bytes(b.p, b.len, c), 0);
	tb_free(&b);
}

START_TEST(counter_exhausted)
{
	crdt_cart c, d;
	cart_with_counter(&c, SEM_A, CRDT_MAX_COUNTER - 1);
	crdt_cart_init(&d);
	tu_add(&c, SEM_A, "X", 1, &d);
	ck_assert_uint_eq(crdt_entry_counter(crdt_line_entries(&d.lines[0])), CRDT_MAX_COUNTER);
	crdt_cart before = tu_copy(&c);
	tu_add(&d, 99, "junk", 1, NULL);
	ck_assert_int_eq(crdt_cart_add(&c, SEM_A, "X", 1, 1, &d), CARTD_ECOUNTER);
	tu_assert_empty(&d, "delta of a failed add");
	ck_assert_int_eq(crdt_cart_set(&c, SEM_A, "Y", 1, 1, &d), CARTD_ECOUNTER);
	tu_assert_converged(&c, &before, "cart after ECOUNTER");
	tu_add(&c, SEM_B, "X", 1, NULL);    /* other replicas are unaffected */
	tu_remove(&c, "X", NULL, NULL);     /* removing needs no dot */
	ck_assert_uint_eq(c.n, 0);
	crdt_cart_destroy(&before);
	crdt_cart_destroy(&d);
	crdt_cart_destroy(&c);
}
END_TEST

TCase *sem_dots_tcase(void)
{
	TCase *tc = tcase_create("dots");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, cloud_closes_when_gap_arrives);
	tcase_add_test(tc, removal_before_its_add);
	tcase_add_test(tc, next_dot_follows_own_max);
	tcase_add_test(tc, next_dot_after_reload);
	tcase_add_test(tc, next_dot_after_own_cloud);
	tcase_add_test(tc, counter_exhausted);
	return tc;
}
