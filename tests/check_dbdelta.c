/*
 * check_dbdelta.c - cart records as deltas (app/peer/db_delta.c): a cart stored
 * as deltas loads as the cart that produced them, folding keeps the record
 * count bounded without changing what loads, a full state replaces the
 * deltas, and a data dir of layout 2 (full states only) still loads and
 * keeps working; and a checkpoint chunk with each cart's records joined
 * first (db_coalesce) stores the same carts as the records one by one.
 */
#include <check.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/peer/db.h"
#include "app/peer/db_internal.h"
#include "app/peer/wal.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "tests/test_rng.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

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
	db_record r = { tu_idn(id, strlen(id)), w.data, w.len, kind };
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
			recs[k] = (db_record){ tu_idn("c1", 2), w[k].data, w[k].len,
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

#define CO_CARTS 6
#define CO_RECORDS 300

/* Loads d and asserts every cart equals carts[k] (cart "k<k>"). */
static void expect_carts(db *d, crdt_cart *carts)
{
	crdt_store *s;
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	char err[DB_ERRMSG_MAX];
	T_ASSERT(db_load_all(d, s, err, sizeof err) == 0, "load: %s", err);
	for (int k = 0; k < CO_CARTS; k++) {
		char id[8];
		snprintf(id, sizeof id, "k%d", k);
		crdt_item it;
		if (crdt_cart_empty(&carts[k]))
			continue;
		T_ASSERT(crdt_store_get(s, id, strlen(id), &it) == 0, "cart %s missing", id);
		T_ASSERT(crdt_cart_equal(it.cart, &carts[k]), "cart %s loads differently", id);
	}
	crdt_store_free(s);
}

/* One case: a random chunk of deltas and a few full states over a handful
 * of carts, written raw into one dir and coalesced into another. */
static void coalesce_case(test_rng *rng, void *arg)
{
	unsigned *round = arg;
	crdt_cart carts[CO_CARTS], delta;
	buf_writer w[CO_RECORDS];
	db_record recs[CO_RECORDS];
	char ids[CO_RECORDS][8];
	size_t n = 0;
	for (int k = 0; k < CO_CARTS; k++)
		crdt_cart_init(&carts[k]);
	crdt_cart_init(&delta);
	while (n < CO_RECORDS) {
		int k = (int)test_rng_below(rng, CO_CARTS);
		bool state = test_rng_pct(rng, 4);
		random_op(rng, &carts[k], 1 + test_rng_below(rng, 2), &delta);
		if (!state && crdt_cart_empty(&delta))
			continue;   /* the log holds no empty deltas */
		snprintf(ids[n], sizeof ids[n], "k%d", k);
		buf_writer_init(&w[n]);
		crdt_encode_cart(&w[n], state ? &carts[k] : &delta);
		recs[n] = (db_record){ tu_idn(ids[n], strlen(ids[n])), w[n].data, w[n].len,
		                       state ? DB_STATE : DB_DELTA };
		n++;
	}
	db_coalesced co;
	T_ASSERT(db_coalesce(recs, n, &co) == 0, "coalesce");
	T_ASSERT(co.n <= CO_CARTS && co.joined == n - co.n, "%zu records out, %zu joined", co.n,
	         co.joined);
	for (size_t i = 1; i < co.n; i++)   /* in key order, one record per cart */
		T_ASSERT(strcmp(co.recs[i - 1].id.s, co.recs[i].id.s) < 0, "record %zu: %s after %s",
		         i, co.recs[i].id.s, co.recs[i - 1].id.s);
	char name[32];
	snprintf(name, sizeof name, "raw%u", *round);
	db *raw = open_dir(name);
	snprintf(name, sizeof name, "joined%u", *round);
	db *joined = open_dir(name);
	(*round)++;
	char err[DB_ERRMSG_MAX];
	T_ASSERT(db_put_batch(raw, recs, n, err, sizeof err) == 0, "raw: %s", err);
	T_ASSERT(db_put_batch(joined, co.recs, co.n, err, sizeof err) == 0, "joined: %s", err);
	expect_carts(raw, carts);
	expect_carts(joined, carts);
	db_close(raw);
	db_close(joined);
	db_coalesced_free(&co);
	for (size_t i = 0; i < n; i++)
		buf_writer_destroy(&w[i]);
	for (int k = 0; k < CO_CARTS; k++)
		crdt_cart_destroy(&carts[k]);
	crdt_cart_destroy(&delta);
}

START_TEST(test_coalesced_chunk)
{
	unsigned round = 0;
	test_run_cases("coalesced_chunk", 20, coalesce_case, &round);
}
END_TEST

/* Records that do not decode pass through untouched, with the rest of
 * their cart's records, for the load to judge; other carts still join.
 * Carts come out in key order: bytes, then the shorter id first. */
START_TEST(test_coalesce_passes_bad_groups)
{
	crdt_cart c, d1, d2;
	crdt_cart_init(&c);
	crdt_cart_init(&d1);
	crdt_cart_init(&d2);
	ck_assert_int_eq(crdt_cart_add(&c, 1, "a", 1, 1, &d1), 0);
	ck_assert_int_eq(crdt_cart_add(&c, 1, "b", 1, 1, &d2), 0);
	buf_writer w1, w2;
	buf_writer_init(&w1);
	buf_writer_init(&w2);
	crdt_encode_cart(&w1, &d1);
	crdt_encode_cart(&w2, &d2);
	const uint8_t junk[] = { 0xff, 0xff };
	db_record recs[] = {
		{ tu_id("good"), w1.data, w1.len, DB_DELTA },
		{ tu_id("bad"), junk, sizeof junk, DB_DELTA },
		{ tu_id("goo"), w1.data, w1.len, DB_DELTA },
		{ tu_id("bad"), w2.data, w2.len, DB_DELTA },
		{ tu_id("good"), w2.data, w2.len, DB_DELTA },
	};
	db_coalesced co;
	ck_assert_int_eq(db_coalesce(recs, 5, &co), 0);
	ck_assert_uint_eq(co.n, 4);
	ck_assert_uint_eq(co.joined, 1);
	ck_assert(co.recs[0].val == junk && co.recs[1].val == w2.data);   /* "bad", in order */
	ck_assert(co.recs[2].id.len == 3 && memcmp(co.recs[2].id.s, "goo", 3) == 0 &&
	          co.recs[2].val == w1.data);
	crdt_cart got;
	crdt_cart_init(&got);
	ck_assert(co.recs[3].id.len == 4 && memcmp(co.recs[3].id.s, "good", 4) == 0);
	ck_assert_int_eq(crdt_cart_from_bytes(co.recs[3].val, co.recs[3].val_len, &got), 0);
	ck_assert(crdt_cart_equal(&got, &c));   /* "good": both adds in one delta */
	ck_assert(co.recs[3].kind == DB_DELTA);
	db_coalesced_free(&co);
	ck_assert_int_eq(db_coalesce(recs, 0, &co), 0);
	ck_assert_uint_eq(co.n, 0);
	db_coalesced_free(&co);
	crdt_cart_destroy(&got);
	buf_writer_destroy(&w1);
	buf_writer_destroy(&w2);
	crdt_cart_destroy(&c);
	crdt_cart_destroy(&d1);
	crdt_cart_destroy(&d2);
}
END_TEST

#define BIG_CARTS 1200
#define BIG_LINES 32
#define BIG_SKU 120

/* A checkpoint of a generation bigger than one fold transaction: the
 * records, logged in an order unrelated to their ids, two deltas per cart,
 * are folded in several transactions, and every cart loads whole, both
 * deltas joined. */
START_TEST(test_fold_spans_transactions)
{
	db *d = open_dir("big");
	char dir[128], err[DB_ERRMSG_MAX];
	snprintf(dir, sizeof dir, "%s/big", base);
	wal *w;
	uint64_t gen = db_wal_gen(d);
	ck_assert_msg(wal_open(dir, gen, true, &w, err, sizeof err) == 0, "wal: %s", err);
	crdt_cart *carts = calloc(BIG_CARTS, sizeof *carts);
	ck_assert_ptr_nonnull(carts);
	size_t bytes = 0, records = 0;
	for (int half = 0; half < 2; half++) {
		for (int i = 0; i < BIG_CARTS; i++) {
			int k = (i * 7 + half * 3) % BIG_CARTS;   /* not in id order */
			crdt_cart delta, one;
			crdt_cart_init(&delta);
			crdt_cart_init(&one);
			for (int l = 0; l < BIG_LINES; l++) {
				char sku[BIG_SKU + 1];
				memset(sku, 'x', BIG_SKU);
				sku[snprintf(sku, 16, "%d-%d", half, l)] = '-';
				sku[BIG_SKU] = 0;
				ck_assert_int_eq(crdt_cart_add(&carts[k], 1, sku, BIG_SKU, 1, &one), 0);
				bool changed;
				ck_assert_int_eq(crdt_cart_join(&delta, &one, &changed), 0);
			}
			char id[16];
			snprintf(id, sizeof id, "big-%d", k);
			buf_writer v;
			buf_writer_init(&v);
			crdt_encode_cart(&v, &delta);
			db_record r = { tu_idn(id, strlen(id)), v.data, v.len, DB_DELTA };
			ck_assert_msg(wal_append(w, &r, 1, err, sizeof err) == 0, "append: %s", err);
			bytes += v.len;
			records++;
			buf_writer_destroy(&v);
			crdt_cart_destroy(&delta);
			crdt_cart_destroy(&one);
		}
	}
	/* Each cart's two deltas join into one of about twice the size. */
	ck_assert_uint_gt(bytes, 2 * DB_CHECKPOINT_CHUNK);
	uint64_t before = db_commits(d);
	size_t folded;
	ck_assert_msg(db_checkpoint(d, gen, &folded, err, sizeof err) == 0, "fold: %s", err);
	ck_assert_uint_eq(folded, records);
	/* Values over twice a transaction's worth: three transactions or more
	 * (db_commits counts the records' transactions, not wal-gen's). */
	ck_assert_uint_ge(db_commits(d) - before, 3);
	ck_assert_uint_eq(db_wal_gen(d), gen + 1);
	wal_close(w);
	crdt_store *s;
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	T_ASSERT(db_load_all(d, s, err, sizeof err) == 0, "load: %s", err);
	ck_assert_uint_eq(crdt_store_count(s), BIG_CARTS);
	for (int k = 0; k < BIG_CARTS; k++) {
		char id[16];
		crdt_item it;
		snprintf(id, sizeof id, "big-%d", k);
		T_ASSERT(crdt_store_get(s, id, strlen(id), &it) == 0, "cart %s missing", id);
		T_ASSERT(crdt_cart_equal(it.cart, &carts[k]), "cart %s loads differently", id);
		crdt_cart_destroy(&carts[k]);
	}
	crdt_store_free(s);
	free(carts);
	db_close(d);
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
	tcase_add_test(t, test_coalesced_chunk);
	tcase_add_test(t, test_coalesce_passes_bad_groups);
	tcase_add_test(t, test_fold_spans_transactions);
	suite_add_tcase(s, t);
	return s;
}
