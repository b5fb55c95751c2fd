/*
 * test_node_fault.c - fault injection state (app/peer/fault.c): validated
 * setters that change nothing on error, blocking by id and by address,
 * verdicts, their counters, and repeatability from the seed.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "app/peer/fault.h"
#include "crdt/error.h"
#include "tests/test_node.h"

static engine_addr mk_addr(uint8_t last)
{
	engine_addr a = { 7, { 4, 0x1f, 0x0a, 127, 0, 0, last } };
	return a;
}

START_TEST(rates_validated)
{
	fault_state f;
	fault_init(&f, 1);
	ck_assert_int_eq(fault_set_rates(&f, 0.25, 0.5, 100), 0);
	const double bad[] = { -0.01, 1.01, NAN, INFINITY, -INFINITY };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(fault_set_rates(&f, bad[i], 0, 0), CARTD_EINVAL);
		ck_assert_int_eq(fault_set_rates(&f, 0, bad[i], 0), CARTD_EINVAL);
	}
	ck_assert_int_eq(fault_set_rates(&f, 0, 0, FAULT_MAX_DELAY_MS + 1), CARTD_EINVAL);
	/* nothing changed by the refused calls */
	ck_assert(f.drop == 0.25 && f.duplicate == 0.5 && f.delay_ms == 100);
	ck_assert_int_eq(fault_set_rates(&f, 1, 1, FAULT_MAX_DELAY_MS), 0);
	ck_assert_int_eq(fault_set_rates(&f, 0, 0, 0), 0);
}
END_TEST

START_TEST(block_ids)
{
	fault_state f;
	fault_init(&f, 1);
	ck_assert_int_eq(fault_block_id(&f, 0), CARTD_EINVAL);
	ck_assert_int_eq(fault_unblock_id(&f, 0), CARTD_EINVAL);
	for (uint64_t id = 1; id <= FAULT_MAX_BLOCKED; id++)
		ck_assert_int_eq(fault_block_id(&f, id), 0);
	ck_assert_int_eq(fault_block_id(&f, 5), 0);          /* idempotent */
	ck_assert_uint_eq(f.nblocked_ids, FAULT_MAX_BLOCKED);
	ck_assert_int_eq(fault_block_id(&f, 1000), CARTD_ENOSPC);
	ck_assert_int_eq(fault_unblock_id(&f, 1000), 0);     /* absent: no-op */
	ck_assert_int_eq(fault_unblock_id(&f, 5), 0);
	ck_assert_uint_eq(f.nblocked_ids, FAULT_MAX_BLOCKED - 1);
	engine_addr a = mk_addr(1);
	ck_assert_uint_eq(fault_decide(&f, 5, &a).copies, 1);
	ck_assert_uint_eq(fault_decide(&f, 6, &a).copies, 0);
	ck_assert_uint_eq(f.blocked, 1);
	fault_clear(&f);
	ck_assert_uint_eq(fault_decide(&f, 6, &a).copies, 1);
	ck_assert_uint_eq(f.blocked, 1);                      /* counters kept */
}
END_TEST

START_TEST(block_addrs)
{
	fault_state f;
	fault_init(&f, 1);
	engine_addr empty = { 0, { 0 } }, big = { ENGINE_ADDR_MAX + 1, { 0 } };
	ck_assert_int_eq(fault_block_addr(&f, &empty), CARTD_EINVAL);
	ck_assert_int_eq(fault_block_addr(&f, &big), CARTD_EINVAL);
	ck_assert_int_eq(fault_block_addr(&f, NULL), CARTD_EINVAL);
	for (unsigned i = 0; i < FAULT_MAX_BLOCKED; i++) {
		engine_addr a = mk_addr((uint8_t)i);
		ck_assert_int_eq(fault_block_addr(&f, &a), 0);
	}
	engine_addr extra = mk_addr(200), first = mk_addr(0);
	ck_assert_int_eq(fault_block_addr(&f, &extra), CARTD_ENOSPC);
	ck_assert_int_eq(fault_block_addr(&f, &first), 0);
	ck_assert_uint_eq(fault_decide(&f, 0, &first).copies, 0);
	ck_assert_uint_eq(fault_decide(&f, 77, &extra).copies, 1);
	ck_assert_int_eq(fault_unblock_addr(&f, &first), 0);
	ck_assert_int_eq(fault_unblock_addr(&f, &extra), 0);
	ck_assert_uint_eq(fault_decide(&f, 0, &first).copies, 1);
	ck_assert_uint_eq(f.nblocked_addrs, FAULT_MAX_BLOCKED - 1);
}
END_TEST

START_TEST(verdicts)
{
	fault_state f;
	fault_init(&f, 42);
	engine_addr a = mk_addr(1);
	fault_verdict v = fault_decide(&f, 0, &a);
	ck_assert(v.copies == 1 && v.delay_ms == 0);
	ck_assert_int_eq(fault_set_rates(&f, 1, 0, 0), 0);
	ck_assert_uint_eq(fault_decide(&f, 0, &a).copies, 0);
	ck_assert_int_eq(fault_set_rates(&f, 0, 1, 250), 0);
	v = fault_decide(&f, 0, &a);
	ck_assert(v.copies == 2 && v.delay_ms == 250);
	ck_assert_uint_eq(f.dropped, 1);
	ck_assert_uint_eq(f.duplicated, 1);
	ck_assert_uint_eq(f.delayed, 1);
}
END_TEST

/* Same seed, same decisions; observed rates near the configured ones. */
START_TEST(seeded_rates)
{
	fault_state f, g;
	fault_init(&f, 7);
	fault_init(&g, 7);
	engine_addr a = mk_addr(1);
	ck_assert_int_eq(fault_set_rates(&f, 0.3, 0.2, 0), 0);
	ck_assert_int_eq(fault_set_rates(&g, 0.3, 0.2, 0), 0);
	const unsigned n = 100000;
	unsigned copies[3] = { 0, 0, 0 };
	for (unsigned i = 0; i < n; i++) {
		fault_verdict v = fault_decide(&f, 0, &a), w = fault_decide(&g, 0, &a);
		ck_assert_uint_eq(v.copies, w.copies);
		copies[v.copies]++;
	}
	/* drop 30%; of the rest (70%), 20% duplicated = 14% */
	ck_assert(fabs(copies[0] / (double)n - 0.30) < 0.01);
	ck_assert(fabs(copies[2] / (double)n - 0.14) < 0.01);
	ck_assert_uint_eq(f.dropped, copies[0]);
	ck_assert_uint_eq(f.duplicated, copies[2]);
}
END_TEST

TCase *node_fault_tcase(void)
{
	TCase *tc = tcase_create("fault");
	tcase_add_test(tc, rates_validated);
	tcase_add_test(tc, block_ids);
	tcase_add_test(tc, block_addrs);
	tcase_add_test(tc, verdicts);
	tcase_add_test(tc, seeded_rates);
	return tc;
}
