/*
 * check_dbdelta.c - cart records as deltas (app/peer/db_delta.c): a cart stored
 * as deltas loads as the cart that produced them, folding keeps the record
 * count bounded without changing what loads, a full state replaces the
 * deltas, and a data dir of layout 2 (full states only) still loads and
 * keeps working.
 */
#include <check.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>

#include "app/peer/db.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "tests/test_rng.h"
#include "tests/test_tmpdir.h"

static char base[64];

static void base_setup(void)
{
	tt_mkdtemp(base, sizeof base, "/tmp", "cartd-check-dbdelta");
}

static void base_teardown(void)
{
	tt_rmtree(base);
}

static db *open_dir(const char *name)
{
	char dir[128], err[256];
	db_options o;
	db *d = NULL;
	snprintf(dir, sizeof dir, "%s/%s", base, name);
	db_options_default(&o);
	o.dir = dir;
	ck_assert_msg(db_open(&o, &d, NULL, err, sizeof err) == 0, "open: %s", err);
	return d;
}

/* Writes one record of cart id from c. */
static void put(db *d, const char *id, const crdt_cart *c, enum db_kind kind)
{
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, c);
	ck_assert_int_eq(w.err, 0);
	db_record r = { id, strlen(id), w.data, w.len, kind };
	char err[DB_ERRMSG_MAX];
	ck_assert_msg(db_put_batch(d, &r, 1, err, sizeof err) == 0, "put: %s", err);
	buf_writer_destroy(&w);
}

/* Loads the data dir and asserts that cart id equals want. */
static void expect_loaded(db *d, const char *id, const crdt_cart *want)
{
	crdt_store *s;
	crdt_item it;
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	char err[DB_ERRMSG_MAX];
	ck_assert_msg(db_load_all(d, s, err, sizeof err) == 0, "load: %s", err);
	ck_assert_int_eq(crdt_store_get(s, id, strlen(id), &it), 0);
	ck_assert_msg(crdt_cart_equal(it.cart, want), "cart %s loads differently", id);
	crdt_store_free(s);
}

/* One random local operation on c as replica self; returns its delta. */
static void random_op(test_rng *rng, crdt_cart *c, uint64_t self, crdt_cart *delta)
{
	char sku[8];
	snprintf(sku, sizeof sku, "s%u", (unsigned)test_rng_below(rng, 6));
	int rc;
	switch (test_rng_below(rng, 10)) {
	case 0:
		rc = crdt_cart_set(c, self, sku, strlen(sku), 1 + (uint32_t)test_rng_below(rng, 9), delta);
		break;
	case 1:
		rc = crdt_cart_remove(c, sku, strlen(sku), NULL, delta);
		break;
	case 2:
		rc = crdt_cart_clear(c, NULL, delta);
		break;
	default:
		rc = crdt_cart_add(c, self, sku, strlen(sku), 1 + (uint32_t)test_rng_below(rng, 3), delta);
		break;
	}
	ck_assert_int_eq(rc, 0);
}

/* Every prefix of a random history, stored as deltas (some per batch, some
 * several in one batch), loads as the cart itself, and folding keeps the
 * record count below the number of deltas written. */
START_TEST(test_deltas_load_as_the_cart)
{
	test_rng rng;
	test_rng_seed(&rng, 0xde17a + (uint64_t)_i);
	db *d = open_dir(_i ? "hist1" : "hist0");
	crdt_cart cart, delta[3];
	crdt_cart_init(&cart);
	for (int k = 0; k < 3; k++)
		crdt_cart_init(&delta[k]);
	size_t written = 0, most = 0;
	for (int step = 0; step < 200; step++) {
		int nb = 1 + (int)test_rng_below(&rng, 3);
		buf_writer w[3];
		db_record recs[3];
		for (int k = 0; k < nb; k++) {
			random_op(&rng, &cart, 1 + test_rng_below(&rng, 2), &delta[k]);
			buf_writer_init(&w[k]);
			crdt_encode_cart(&w[k], &delta[k]);
			recs[k] = (db_record){ "c1", 2, w[k].data, w[k].len,
			                       crdt_cart_empty(&delta[k]) ? DB_NOTHING : DB_DELTA };
		}
		char err[DB_ERRMSG_MAX];
		ck_assert_msg(db_put_batch(d, recs, (size_t)nb, err, sizeof err) == 0, "%s", err);
		for (int k = 0; k < nb; k++)
			buf_writer_destroy(&w[k]);
		written += (size_t)nb;
		size_t count;
		ck_assert_int_eq(db_count(d, &count, NULL, 0), 0);
		most = count > most ? count : most;
		if (crdt_cart_empty(&cart))
			continue;   /* a store never holds an empty cart */
		expect_loaded(d, "c1", &cart);
	}
	ck_assert_msg(most < written / 2, "%zu records at most for %zu deltas: no folding",
	              most, written);
	/* A full state replaces every delta. */
	put(d, "c1", &cart, DB_STATE);
	size_t count;
	ck_assert_int_eq(db_count(d, &count, NULL, 0), 0);
	ck_assert_uint_eq(count, 1);
	expect_loaded(d, "c1", &cart);
	for (int k = 0; k < 3; k++)
		crdt_cart_destroy(&delta[k]);
	crdt_cart_destroy(&cart);
	db_close(d);
}
END_TEST

/* Deltas of one cart never touch the records of its neighbours in key
 * order, including ids that extend it ("c1" and "c1x"). */
START_TEST(test_neighbours)
{
	db *d = open_dir("neigh");
	crdt_cart a, b, da, db_;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&da);
	crdt_cart_init(&db_);
	ck_assert_int_eq(crdt_cart_add(&b, 9, "x", 1, 5, NULL), 0);
	put(d, "c1x", &b, DB_STATE);
	put(d, "c0", &b, DB_STATE);
	for (unsigned i = 0; i < 2 * DB_COMPACT_DELTAS + 3; i++) {
		ck_assert_int_eq(crdt_cart_add(&a, 1, "y", 1, 1, &da), 0);
		put(d, "c1", &da, DB_DELTA);
	}
	put(d, "c1x", &b, DB_STATE);   /* deletes c1x's deltas (none), not c1's */
	expect_loaded(d, "c1", &a);
	expect_loaded(d, "c1x", &b);
	expect_loaded(d, "c0", &b);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
	crdt_cart_destroy(&da);
	crdt_cart_destroy(&db_);
	db_close(d);
}
END_TEST

/* A dir of layout 2 (full states only, "cartd-db-2", cart format 2) opens,
 * is upgraded, loads, and takes deltas afterwards. */
START_TEST(test_first_layout)
{
	char dir[128];
	db *d = open_dir("v1");
	crdt_cart c, dl;
	crdt_cart_init(&c);
	crdt_cart_init(&dl);
	ck_assert_int_eq(crdt_cart_add(&c, 3, "a", 1, 2, NULL), 0);
	put(d, "old", &c, DB_STATE);
	db_close(d);

	/* Make it layout 2, as an older cartd left it: the record in format 2
	 * (without the two empty sections format 3 added) and the mark. */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, carts;
	snprintf(dir, sizeof dir, "%s/v1", base);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 2), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	char kname[] = "layout", layout[] = DB_LAYOUT_V2;
	MDB_val k = { 6, kname }, v = { strlen(layout), layout };
	ck_assert_int_eq(mdb_put(txn, meta, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "carts", 0, &carts), 0);
	char cname[] = "old";
	MDB_val ck = { 3, cname }, cv;
	ck_assert_int_eq(mdb_get(txn, carts, &ck, &cv), 0);
	uint8_t v2[256];
	ck_assert_uint_le(cv.mv_size, sizeof v2);
	memcpy(v2, cv.mv_data, cv.mv_size);
	ck_assert_uint_eq(v2[cv.mv_size - 1] | v2[cv.mv_size - 2], 0);
	cv.mv_data = v2;
	cv.mv_size -= 2;
	ck_assert_int_eq(mdb_put(txn, carts, &ck, &cv, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	d = open_dir("v1");
	expect_loaded(d, "old", &c);
	ck_assert_int_eq(crdt_cart_add(&c, 3, "b", 1, 1, &dl), 0);
	put(d, "old", &dl, DB_DELTA);
	expect_loaded(d, "old", &c);
	db_close(d);
	crdt_cart_destroy(&c);
	crdt_cart_destroy(&dl);
}
END_TEST

Suite *dbdelta_suite(void);
Suite *dbdelta_suite(void)
{
	Suite *s = suite_create("dbdelta");
	TCase *t = tcase_create("deltas");
	tcase_set_timeout(t, 60);
	tcase_add_unchecked_fixture(t, base_setup, base_teardown);
	tcase_add_loop_test(t, test_deltas_load_as_the_cart, 0, 2);
	tcase_add_test(t, test_neighbours);
	tcase_add_test(t, test_first_layout);
	suite_add_tcase(s, t);
	return s;
}
