/*
 * check_store.c - the many-cart store (crdt/store.h): lookup, every
 * operation, joins, incremental bucket digests checked against a
 * from-scratch recomputation (also across table growth), convergence by
 * different join orders, bucket walks, and that every failing call leaves
 * the store exactly as it was.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "tests/test_rng.h"
#include "tests/test_store.h"
#include "tests/test_store_snap.h"
#include "tests/test_util.h"

/* Few buckets, so that most buckets hold several carts. */
#define NB 64u

static const char *const skus[] = { "apple", "pear", "kiwi-1", "plum:2", "fig@x" };
#define NSKUS (sizeof skus / sizeof skus[0])

static crdt_store *store_mk(uint32_t nb)
{
	crdt_store *s = NULL;
	ck_assert_int_eq(crdt_store_new(nb, &s), 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

static crdt_op op_of(enum crdt_op_kind kind, const char *sku, uint32_t qty,
                     const crdt_ctx *observed)
{
	crdt_op op = { kind, sku, sku ? strlen(sku) : 0, qty, observed, NULL, 0 };
	return op;
}

/* Every other write, join and lookup of a valid id goes through the
 * _id variants (the engine's path), so that every test here, the
 * digests' recomputation above all, holds them to the plain calls. */
static unsigned store_calls;

static bool use_id_calls(const char *id)
{
	return store_calls++ % 2 == 1 && crdt_check_id(id, strlen(id)) == 0;
}

static int apply(crdt_store *s, const char *id, uint64_t self, crdt_op op, crdt_cart *delta)
{
	size_t len = strlen(id);
	if (use_id_calls(id)) {
		ck_assert_uint_eq(crdt_store_bucket_of_hash(s, crdt_name_hash(id, len)),
		                  crdt_store_bucket_of(s, id, len));
		return crdt_store_apply_id(s, TU_IDN(id, len), self, &op, delta);
	}
	return crdt_store_apply(s, id, len, self, &op, delta);
}

static int join(crdt_store *s, const char *id, const crdt_cart *d, bool *changed)
{
	size_t len = strlen(id);
	if (use_id_calls(id))
		return crdt_store_join_id(s, TU_IDN(id, len), d, changed);
	return crdt_store_join(s, id, len, d, changed);
}

static const crdt_cart *cart_of(const crdt_store *s, const char *id)
{
	crdt_item it;
	size_t len = strlen(id);
	if (use_id_calls(id))
		ck_assert_int_eq(crdt_store_get_id(s, TU_IDN(id, len), &it), 0);
	else
		ck_assert_int_eq(crdt_store_get(s, id, len, &it), 0);
	return it.cart;
}

static uint32_t qty_of(const crdt_store *s, const char *id, const char *sku)
{
	const crdt_line *l = crdt_cart_find(cart_of(s, id), sku, strlen(sku));
	return l ? crdt_line_qty(l) : 0;
}

static uint64_t digest_of(const char *id, const crdt_cart *c)
{
	return crdt_store_cart_digest(id, strlen(id), c);
}

/* ---- from-scratch recomputation of every digest ---- */

struct recompute {
	crdt_store *s;
	uint64_t *xor;
	size_t n;
};

static int recompute_one(const crdt_item *it, void *arg)
{
	struct recompute *r = arg;
	T_ASSERT(it->id_len == strlen(it->id), "id %s length %zu", it->id, it->id_len);
	T_ASSERT(it->bucket == crdt_store_bucket_of(r->s, it->id, it->id_len),
	         "cart %s walked in bucket %u", it->id, (unsigned)it->bucket);
	uint64_t d = crdt_store_digest(r->s, it);
	T_ASSERT(d == digest_of(it->id, it->cart), "cart %s: stale digest", it->id);
	T_ASSERT(!crdt_cart_empty(it->cart), "cart %s stored empty", it->id);
	r->xor[it->bucket] ^= d;
	r->n++;
	return 0;
}

/*
 * Every cart digest and every bucket digest equals its recomputation.
 * Digests settle when read, one cart (crdt_store_digest) or all (the bucket
 * digests): calls alternate which is read first, so both orders, and carts
 * settled alone and then written again, are checked.
 */
static void check_digests(crdt_store *s)
{
	static unsigned calls;
	uint32_t nb = crdt_store_nbuckets(s);
	struct recompute r = { s, calloc(nb, sizeof(uint64_t)), 0 };
	bool buckets_first = calls++ % 2;
	uint64_t *first = calloc(nb, sizeof(uint64_t));
	ck_assert_ptr_nonnull(r.xor);
	ck_assert_ptr_nonnull(first);
	if (buckets_first)
		memcpy(first, crdt_store_bucket_digests(s), nb * sizeof(uint64_t));
	ck_assert_int_eq(crdt_store_walk(s, recompute_one, &r), 0);
	T_ASSERT(r.n == crdt_store_count(s), "walked %zu of %zu carts", r.n, crdt_store_count(s));
	const uint64_t *bd = crdt_store_bucket_digests(s);
	for (uint32_t b = 0; b < nb; b++) {
		T_ASSERT(bd[b] == r.xor[b], "bucket %u digest differs from recomputation", b);
		T_ASSERT(!buckets_first || first[b] == r.xor[b],
		         "bucket %u digest read before the carts' differs", b);
	}
	free(first);
	free(r.xor);
}

/* ---- snapshot: everything observable, to prove a call changed nothing ---- */

static void assert_unchanged(crdt_store *s, buf_writer *before, const char *what)
{
	buf_writer now;
	test_store_snapshot(s, &now);
	ck_assert_msg(now.len == before->len && memcmp(now.data, before->data, now.len) == 0,
	              "store changed by failing call: %s", what);
	buf_writer_destroy(&now);
}

/* ---- basics ---- */

START_TEST(test_new_bounds)
{
	static char not_null;
	crdt_store *s = (void *)&not_null;  /* must be reset to NULL on error */
	ck_assert_int_eq(crdt_store_new(0, &s), CARTD_EINVAL);
	ck_assert_ptr_null(s);
	s = (void *)&not_null;
	ck_assert_int_eq(crdt_store_new(CRDT_MAX_BUCKETS + 1, &s), CARTD_EINVAL);
	ck_assert_ptr_null(s);
	s = store_mk(1);
	ck_assert_uint_eq(crdt_store_nbuckets(s), 1);
	crdt_store_free(s);
	s = store_mk(CRDT_MAX_BUCKETS);
	ck_assert_uint_eq(crdt_store_count(s), 0);
	for (uint32_t b = 0; b < CRDT_MAX_BUCKETS; b++)
		ck_assert_uint_eq(crdt_store_bucket_digests(s)[b], 0);
	crdt_store_free(s);
	crdt_store_free(NULL);
}
END_TEST

/* A plain store (the push queue's) takes the same writes and joins as a
 * digested one and ends with the same carts; it keeps no digests. */
/* Prefetching is a hint: every stage, for ids stored and not, with the
 * table growing between, leaves every lookup's answer as it was (and
 * reads nothing outside the store: the sanitized build checks that). */
START_TEST(test_prefetch_changes_nothing)
{
	crdt_store *s = NULL;
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	char id[16];
	for (unsigned i = 0; i < 3000; i++) {
		int len = snprintf(id, sizeof id, "c%u", i);
		for (unsigned stage = 0; stage < 3; stage++)
			crdt_store_prefetch_id(s, TU_IDN(id, (size_t)len), stage);
		if (i % 2 == 0) {
			crdt_op op = { CRDT_OP_ADD, "x", 1, 1 + i % 7, NULL, NULL, 0 };
			ck_assert_int_eq(crdt_store_apply(s, id, (size_t)len, 5, &op, NULL), 0);
		}
	}
	for (unsigned i = 0; i < 3000; i++) {
		int len = snprintf(id, sizeof id, "c%u", i);
		for (unsigned stage = 0; stage < 3; stage++)
			crdt_store_prefetch_id(s, TU_IDN(id, (size_t)len), stage);
		crdt_item it;
		int rc = crdt_store_get_id(s, TU_IDN(id, (size_t)len), &it);
		if (i % 2 == 0) {
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(crdt_line_qty(crdt_cart_find(it.cart, "x", 1)), 1 + i % 7);
		} else {
			ck_assert_int_eq(rc, CARTD_ENOTFOUND);
		}
	}
	crdt_store_free(s);
}
END_TEST

START_TEST(test_plain_store)
{
	crdt_store *d = store_mk(NB), *p = NULL, *src = store_mk(NB);
	ck_assert_int_eq(crdt_store_new_plain(&p), 0);
	for (int i = 0; i < 300; i++) {
		char id[16];
		snprintf(id, sizeof id, "c%d", i % 37);
		crdt_op op = op_of(i % 7 == 6 ? CRDT_OP_REMOVE : i % 5 == 4 ? CRDT_OP_SET : CRDT_OP_ADD,
		                   skus[i % NSKUS], (uint32_t)(i % 3 + (i % 5 == 4 ? 0 : 1)), NULL);
		crdt_cart delta;
		crdt_cart_init(&delta);
		if (i % 2) {   /* written in both, as a local write */
			crdt_cart scratch;
			crdt_cart_init(&scratch);
			int rd = crdt_store_apply(d, id, strlen(id), 5, &op, &delta);
			int rp = crdt_store_apply(p, id, strlen(id), 5, &op, &scratch);
			ck_assert_int_eq(rd, rp);
			ck_assert(crdt_cart_equal(&delta, &scratch));
			crdt_cart_destroy(&scratch);
		} else {       /* a delta from elsewhere, joined into both */
			if (crdt_store_apply(src, id, strlen(id), 9, &op, &delta) == 0) {
				bool cd, cp;
				ck_assert_int_eq(crdt_store_join(d, id, strlen(id), &delta, &cd), 0);
				ck_assert_int_eq(crdt_store_join(p, id, strlen(id), &delta, &cp), 0);
				ck_assert(cd == cp);
			}
		}
		crdt_cart_destroy(&delta);
	}
	ck_assert_uint_eq(crdt_store_count(p), crdt_store_count(d));
	for (int i = 0; i < 37; i++) {
		char id[16];
		snprintf(id, sizeof id, "c%d", i);
		crdt_item a, b;
		int ra = crdt_store_get(d, id, strlen(id), &a);
		ck_assert_int_eq(crdt_store_get(p, id, strlen(id), &b), ra);
		if (ra == 0)
			ck_assert(crdt_cart_equal(a.cart, b.cart));
	}
	ck_assert_uint_eq(crdt_store_nbuckets(p), 1);
	ck_assert_uint_eq(crdt_store_bucket_digests(p)[0], 0);
	crdt_store_free(src);
	crdt_store_free(p);
	crdt_store_free(d);
}
END_TEST

START_TEST(test_create_get)
{
	crdt_store *s = store_mk(NB);
	crdt_item it;
	ck_assert_int_eq(crdt_store_get(s, "c1", 2, &it), CARTD_ENOTFOUND);
	ck_assert_int_eq(apply(s, "c1", 1, op_of(CRDT_OP_ADD, "apple", 2, NULL), NULL), 0);
	ck_assert_uint_eq(crdt_store_count(s), 1);
	ck_assert_int_eq(crdt_store_get(s, "c1", 2, &it), 0);
	ck_assert_str_eq(it.id, "c1");
	ck_assert_uint_eq(it.id_len, 2);
	ck_assert_uint_eq(it.bucket, crdt_store_bucket_of(s, "c1", 2));
	ck_assert_uint_eq(it.bucket, crdt_name_hash("c1", 2) % NB);
	ck_assert_uint_eq(crdt_store_digest(s, &it), digest_of(it.id, it.cart));
	ck_assert_uint_eq(crdt_store_bucket_digests(s)[it.bucket], digest_of(it.id, it.cart));
	ck_assert_uint_eq(qty_of(s, "c1", "apple"), 2);
	/* Near misses and ids that could never be stored are not found. */
	ck_assert_int_eq(crdt_store_get(s, "c", 1, &it), CARTD_ENOTFOUND);
	ck_assert_int_eq(crdt_store_get(s, "c12", 3, &it), CARTD_ENOTFOUND);
	ck_assert_int_eq(crdt_store_get(s, "c1", 0, &it), CARTD_ENOTFOUND);
	ck_assert_int_eq(crdt_store_get(s, "c1 ", 3, &it), CARTD_ENOTFOUND);
	/* Both length limits of an id are accepted. */
	char longid[CRDT_MAX_NAME + 1];
	memset(longid, 'z', CRDT_MAX_NAME);
	longid[CRDT_MAX_NAME] = '\0';
	ck_assert_int_eq(apply(s, longid, 1, op_of(CRDT_OP_ADD, "pear", 1, NULL), NULL), 0);
	ck_assert_int_eq(apply(s, "x", 1, op_of(CRDT_OP_ADD, "pear", 1, NULL), NULL), 0);
	ck_assert_int_eq(crdt_store_get(s, longid, CRDT_MAX_NAME, &it), 0);
	ck_assert_uint_eq(it.id_len, CRDT_MAX_NAME);
	ck_assert_uint_eq(crdt_store_count(s), 3);
	check_digests(s);
	crdt_store_free(s);
}
END_TEST

/* One delta line: its sku and quantity. */
static void assert_delta_line(const crdt_cart *d, const char *sku, uint32_t q)
{
	ck_assert_uint_eq(d->n, 1);
	ck_assert_str_eq(crdt_line_sku(&d->lines[0]), sku);
	ck_assert_uint_eq(crdt_line_qty(&d->lines[0]), q);
}

START_TEST(test_ops_add_set)
{
	crdt_store *s = store_mk(NB);
	crdt_cart d;
	crdt_cart_init(&d);

	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_ADD, "apple", 2, NULL), &d), 0);
	assert_delta_line(&d, "apple", 2);
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_ADD, "apple", 3, NULL), &d), 0);
	assert_delta_line(&d, "apple", 3);
	ck_assert_uint_eq(qty_of(s, "c", "apple"), 5);
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_SET, "apple", 4, NULL), &d), 0);
	assert_delta_line(&d, "apple", 4);
	ck_assert_uint_eq(qty_of(s, "c", "apple"), 4);
	check_digests(s);
	crdt_cart_destroy(&d);
	crdt_store_free(s);
}
END_TEST

START_TEST(test_ops_remove_clear)
{
	crdt_store *s = store_mk(NB);
	crdt_cart d;
	crdt_cart_init(&d);

	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_ADD, "apple", 2, NULL), &d), 0);
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_SET, "apple", 0, NULL), &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert(!crdt_ctx_empty(&d.ctx));
	ck_assert_ptr_null(crdt_cart_find(cart_of(s, "c"), "apple", 5));

	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_ADD, "pear", 1, NULL), &d), 0);
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_REMOVE, "pear", 0, NULL), &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert(!crdt_ctx_empty(&d.ctx));
	ck_assert_uint_eq(qty_of(s, "c", "pear"), 0);
	check_digests(s);

	/* Removing what is not there changes nothing, digest included. */
	uint64_t before = crdt_store_bucket_digests(s)[crdt_store_bucket_of(s, "c", 1)];
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_REMOVE, "kiwi-1", 0, NULL), &d), 0);
	ck_assert(crdt_cart_empty(&d));
	ck_assert_uint_eq(crdt_store_bucket_digests(s)[crdt_store_bucket_of(s, "c", 1)], before);

	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_ADD, "kiwi-1", 1, NULL), &d), 0);
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_ADD, "fig@x", 1, NULL), &d), 0);
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_CLEAR, NULL, 0, NULL), &d), 0);
	ck_assert_uint_eq(d.n, 0);
	/* A cleared cart stays, with its context, so stale copies stay dead. */
	ck_assert_uint_eq(crdt_store_count(s), 1);
	ck_assert_uint_eq(cart_of(s, "c")->n, 0);
	ck_assert(!crdt_ctx_empty(&cart_of(s, "c")->ctx));
	check_digests(s);
	crdt_cart_destroy(&d);
	crdt_store_free(s);
}
END_TEST

/* remove and clear with a client's token remove only what it observed. */
START_TEST(test_observed_token)
{
	crdt_store *s = store_mk(NB);
	crdt_ctx token;
	crdt_ctx_init(&token);

	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_ADD, "apple", 1, NULL), NULL), 0);
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_ADD, "pear", 1, NULL), NULL), 0);
	ck_assert_int_eq(crdt_ctx_copy(&token, &cart_of(s, "c")->ctx), 0);
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_ADD, "apple", 2, NULL), NULL), 0);
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_ADD, "plum:2", 7, NULL), NULL), 0);

	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_REMOVE, "apple", 0, &token), NULL), 0);
	ck_assert_uint_eq(qty_of(s, "c", "apple"), 2);
	check_digests(s);
	ck_assert_int_eq(apply(s, "c", 1, op_of(CRDT_OP_CLEAR, NULL, 0, &token), NULL), 0);
	ck_assert_uint_eq(qty_of(s, "c", "apple"), 2);
	ck_assert_uint_eq(qty_of(s, "c", "pear"), 0);
	ck_assert_uint_eq(qty_of(s, "c", "plum:2"), 7);
	check_digests(s);
	crdt_ctx_destroy(&token);
	crdt_store_free(s);
}
END_TEST

/* A deferred remove travels in a delta without the line it names; joined
 * into a replica that holds that line, it drops the named entries, and the
 * incrementally kept digest must follow (store_digest.c rehashes every line
 * a delta names, deferred removes included). */
START_TEST(test_deferred_remove_digest)
{
	crdt_store *a = store_mk(NB), *b = store_mk(NB);
	crdt_cart delta;
	crdt_ctx token;
	crdt_cart_init(&delta);
	crdt_ctx_init(&token);

	/* A has apple from replica 1, which B has not seen; B has pear. */
	ck_assert_int_eq(apply(a, "c", 1, op_of(CRDT_OP_ADD, "apple", 3, NULL), NULL), 0);
	ck_assert_int_eq(apply(a, "c", 1, op_of(CRDT_OP_ADD, "kiwi", 1, NULL), NULL), 0);
	ck_assert_int_eq(apply(b, "c", 2, op_of(CRDT_OP_ADD, "pear", 1, NULL), NULL), 0);
	/* A client read at A: its token covers A's apple; it removes apple at B. */
	ck_assert_int_eq(crdt_ctx_copy(&token, &cart_of(a, "c")->ctx), 0);
	ck_assert_int_eq(apply(b, "c", 2, op_of(CRDT_OP_REMOVE, "apple", 0, &token), &delta), 0);
	ck_assert_uint_eq(crdt_cart_ndefer(&delta), 1);
	ck_assert_uint_eq(delta.n, 0);
	check_digests(b);
	bool changed = false;
	ck_assert_int_eq(crdt_store_join(a, "c", 1, &delta, &changed), 0);
	ck_assert(changed);
	ck_assert_uint_eq(qty_of(a, "c", "apple"), 0);
	ck_assert_uint_eq(qty_of(a, "c", "kiwi"), 1);
	check_digests(a);
	crdt_ctx_destroy(&token);
	crdt_cart_destroy(&delta);
	crdt_store_free(a);
	crdt_store_free(b);
}
END_TEST

/* Operations that leave a new cart empty must not create it, or replicas
 * that saw the no-op would disagree with the others' bucket digests. */
START_TEST(test_noop_creates_nothing)
{
	crdt_store *s = store_mk(NB);
	crdt_cart d, empty;
	crdt_cart_init(&d);
	crdt_cart_init(&empty);
	bool changed = true;

	ck_assert_int_eq(apply(s, "n", 1, op_of(CRDT_OP_REMOVE, "apple", 0, NULL), &d), 0);
	ck_assert(crdt_cart_empty(&d));
	ck_assert_int_eq(apply(s, "n", 1, op_of(CRDT_OP_CLEAR, NULL, 0, NULL), &d), 0);
	ck_assert_int_eq(apply(s, "n", 1, op_of(CRDT_OP_SET, "apple", 0, NULL), &d), 0);
	ck_assert_int_eq(join(s, "n", &empty, &changed), 0);
	ck_assert(!changed);
	ck_assert_uint_eq(crdt_store_count(s), 0);
	ck_assert_int_eq(crdt_store_get(s, "n", 1, &(crdt_item){ 0 }), CARTD_ENOTFOUND);
	for (uint32_t b = 0; b < NB; b++)
		ck_assert_uint_eq(crdt_store_bucket_digests(s)[b], 0);
	crdt_cart_destroy(&d);
	crdt_store_free(s);
}
END_TEST

/* ---- joins ---- */

START_TEST(test_join)
{
	crdt_store *a = store_mk(NB), *b = store_mk(NB);
	crdt_cart d[4];
	bool changed;

	for (int i = 0; i < 4; i++)
		crdt_cart_init(&d[i]);
	ck_assert_int_eq(apply(a, "j", 1, op_of(CRDT_OP_ADD, "apple", 2, NULL), &d[0]), 0);
	ck_assert_int_eq(apply(a, "j", 1, op_of(CRDT_OP_ADD, "pear", 1, NULL), &d[1]), 0);
	ck_assert_int_eq(apply(a, "j", 1, op_of(CRDT_OP_SET, "apple", 9, NULL), &d[2]), 0);
	ck_assert_int_eq(apply(a, "j", 1, op_of(CRDT_OP_REMOVE, "pear", 0, NULL), &d[3]), 0);
	for (int i = 0; i < 4; i++) {
		changed = false;
		ck_assert_int_eq(join(b, "j", &d[i], &changed), 0);
		ck_assert(changed);
		check_digests(b);
	}
	ck_assert(crdt_cart_equal(cart_of(a, "j"), cart_of(b, "j")));
	ck_assert_mem_eq(crdt_store_bucket_digests(a), crdt_store_bucket_digests(b),
	                 NB * sizeof(uint64_t));

	/* Duplicates and the full state change nothing. */
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(join(b, "j", &d[i], &changed), 0);
		ck_assert(!changed);
	}
	ck_assert_int_eq(join(b, "j", cart_of(a, "j"), &changed), 0);
	ck_assert(!changed);
	ck_assert_int_eq(join(b, "j", &d[0], NULL), 0);
	ck_assert_mem_eq(crdt_store_bucket_digests(a), crdt_store_bucket_digests(b),
	                 NB * sizeof(uint64_t));

	for (int i = 0; i < 4; i++)
		crdt_cart_destroy(&d[i]);
	crdt_store_free(a);
	crdt_store_free(b);
}
END_TEST

/* A removal arriving before its add creates the cart with only a context,
 * and the late add then changes nothing; a concurrent add is kept. */
START_TEST(test_join_out_of_order)
{
	crdt_store *a = store_mk(NB), *b = store_mk(NB);
	crdt_cart add, rm, other;
	bool changed;

	crdt_cart_init(&add);
	crdt_cart_init(&rm);
	crdt_cart_init(&other);
	ck_assert_int_eq(apply(a, "j", 1, op_of(CRDT_OP_ADD, "pear", 1, NULL), &add), 0);
	ck_assert_int_eq(apply(a, "j", 1, op_of(CRDT_OP_REMOVE, "pear", 0, NULL), &rm), 0);
	ck_assert_int_eq(join(b, "j", &rm, &changed), 0);
	ck_assert(changed);
	ck_assert_uint_eq(crdt_store_count(b), 1);
	ck_assert_uint_eq(cart_of(b, "j")->n, 0);
	ck_assert_int_eq(join(b, "j", &add, &changed), 0);
	ck_assert(!changed);
	ck_assert_uint_eq(qty_of(b, "j", "pear"), 0);
	check_digests(b);

	ck_assert_int_eq(apply(b, "j", 3, op_of(CRDT_OP_ADD, "pear", 4, NULL), &other), 0);
	ck_assert_int_eq(join(a, "j", &other, &changed), 0);
	ck_assert(changed);
	ck_assert_uint_eq(qty_of(a, "j", "pear"), 4);
	ck_assert_mem_eq(crdt_store_bucket_digests(a), crdt_store_bucket_digests(b),
	                 NB * sizeof(uint64_t));
	check_digests(a);
	crdt_cart_destroy(&add);
	crdt_cart_destroy(&rm);
	crdt_cart_destroy(&other);
	crdt_store_free(a);
	crdt_store_free(b);
}
END_TEST

/* ---- digests under random operations ---- */

#define RND_CARTS 40u
#define RND_PENDING 64u

/* A remote replica's store, and its deltas not yet (or again) delivered. */
struct rnd {
	crdt_store *local, *remote;
	crdt_cart pend[RND_PENDING];
	char pend_id[RND_PENDING][8];
	unsigned npend;
	crdt_ctx token;
};

static void rnd_op(test_rng *g, crdt_store *s, uint64_t self, const char *id,
                   const crdt_ctx *token, crdt_cart *delta)
{
	const char *sku = skus[test_rng_below(g, NSKUS)];
	uint32_t q = (uint32_t)test_rng_range(g, 1, 20);
	unsigned r = (unsigned)test_rng_below(g, 100);
	crdt_op op = op_of(CRDT_OP_ADD, sku, q, NULL);
	if (r >= 50 && r < 70)
		op = op_of(CRDT_OP_SET, sku, r < 65 ? q : 0, NULL);
	else if (r >= 70 && r < 92)
		op = op_of(CRDT_OP_REMOVE, sku, 0, r < 80 ? token : NULL);
	else if (r >= 92)
		op = op_of(CRDT_OP_CLEAR, NULL, 0, r < 96 ? token : NULL);
	int rc = apply(s, id, self, op, delta);
	/* The token may come from another cart: one naming this replica's
	 * writes that this cart never had is refused, changing nothing. */
	T_ASSERT(rc == 0 || (rc == CARTD_ETOKENFUTURE && op.observed), "op %d on %s: %s",
	         (int)op.kind, id, cartd_strerror(rc));
}

/* Delivers a random pending remote delta, keeping it half of the time so
 * it is delivered again later (duplicates) and out of order. */
static void rnd_deliver(test_rng *g, struct rnd *x)
{
	unsigned i = (unsigned)test_rng_below(g, x->npend);
	int rc = join(x->local, x->pend_id[i], &x->pend[i], NULL);
	T_ASSERT(rc == 0, "join: %s", cartd_strerror(rc));
	if (test_rng_pct(g, 50))
		return;
	crdt_cart_destroy(&x->pend[i]);
	x->npend--;
	x->pend[i] = x->pend[x->npend];
	memcpy(x->pend_id[i], x->pend_id[x->npend], sizeof x->pend_id[i]);
}

static void rnd_step(test_rng *g, struct rnd *x)
{
	char id[8];
	snprintf(id, sizeof id, "r%u", (unsigned)test_rng_below(g, RND_CARTS));
	if (test_rng_pct(g, 5)) {
		crdt_item it;
		crdt_ctx_destroy(&x->token);
		if (crdt_store_get(x->local, id, strlen(id), &it) == 0)
			ck_assert_int_eq(crdt_ctx_copy(&x->token, &it.cart->ctx), 0);
	}
	if (test_rng_pct(g, 60)) {
		rnd_op(g, x->local, 1, id, &x->token, NULL);
	} else if (x->npend < RND_PENDING && test_rng_pct(g, 70)) {
		crdt_cart_init(&x->pend[x->npend]);
		rnd_op(g, x->remote, 2, id, &x->token, &x->pend[x->npend]);
		memcpy(x->pend_id[x->npend++], id, sizeof id);
	} else if (x->npend > 0) {
		rnd_deliver(g, x);
	}
}

static void rnd_case(test_rng *g, void *arg)
{
	struct rnd x = { 0 };
	(void)arg;
	x.local = store_mk(NB);
	x.remote = store_mk(NB);
	crdt_ctx_init(&x.token);
	for (unsigned i = 1; i <= 1500; i++) {
		rnd_step(g, &x);
		if (i % 100 == 0)
			check_digests(x.local);
	}
	check_digests(x.remote);
	for (unsigned i = 0; i < x.npend; i++)
		crdt_cart_destroy(&x.pend[i]);
	crdt_ctx_destroy(&x.token);
	crdt_store_free(x.local);
	crdt_store_free(x.remote);
}

START_TEST(test_digest_random)
{
	test_run_cases("store_digest_random", 20, rnd_case, NULL);
}
END_TEST

/* Many carts: the table doubles many times and no cart or digest is lost;
 * pointers handed out before growth still point at the same cart. */
START_TEST(test_growth)
{
	unsigned n = test_scaled(100000);
	crdt_store *s = store_mk(CRDT_DEFAULT_BUCKETS);
	char id[24];
	crdt_item first, it;

	ck_assert_int_eq(apply(s, "g0", 1, op_of(CRDT_OP_ADD, "apple", 1, NULL), NULL), 0);
	ck_assert_int_eq(crdt_store_get(s, "g0", 2, &first), 0);
	for (unsigned i = 1; i < n; i++) {
		snprintf(id, sizeof id, "g%u", i);
		ck_assert_int_eq(apply(s, id, 1, op_of(CRDT_OP_ADD, skus[i % NSKUS], 1, NULL), NULL), 0);
	}
	ck_assert_uint_eq(crdt_store_count(s), n);
	check_digests(s);
	for (unsigned i = 0; i < n; i += 7) {
		snprintf(id, sizeof id, "g%u", i);
		ck_assert_int_eq(apply(s, id, 1, op_of(CRDT_OP_SET, "pear", i % 9 + 1, NULL), NULL), 0);
	}
	check_digests(s);
	for (unsigned i = 0; i < n; i++) {
		snprintf(id, sizeof id, "g%u", i);
		ck_assert_int_eq(crdt_store_get(s, id, strlen(id), &it), 0);
		ck_assert_str_eq(it.id, id);
	}
	ck_assert_int_eq(crdt_store_get(s, "g0", 2, &it), 0);
	ck_assert_ptr_eq(it.cart, first.cart);
	ck_assert_ptr_eq(it.id, first.id);
	ck_assert_uint_eq(qty_of(s, "g0", "pear"), 1);
	crdt_store_free(s);
}
END_TEST

/* ---- convergence by different orders ---- */

#define CONV_DELTAS 600u

struct conv {
	crdt_store *src[3];
	crdt_cart d[CONV_DELTAS];
	char id[CONV_DELTAS][8];
};

static void conv_make(test_rng *g, struct conv *c)
{
	for (unsigned r = 0; r < 3; r++)
		c->src[r] = store_mk(NB);
	for (unsigned i = 0; i < CONV_DELTAS; i++) {
		unsigned r = (unsigned)test_rng_below(g, 3);
		snprintf(c->id[i], sizeof c->id[i], "v%u", (unsigned)test_rng_below(g, 25));
		crdt_cart_init(&c->d[i]);
		rnd_op(g, c->src[r], 10 + r, c->id[i], NULL, &c->d[i]);
	}
}

static int join_whole(const crdt_item *it, void *arg)
{
	int rc = crdt_store_join(arg, it->id, it->id_len, it->cart, NULL);
	T_ASSERT(rc == 0, "join of %s: %s", it->id, cartd_strerror(rc));
	return 0;
}

struct pair {
	crdt_store *a, *b;
};

static int same_cart(const crdt_item *it, void *arg)
{
	struct pair *p = arg;
	crdt_item other;
	T_ASSERT(crdt_store_get(p->b, it->id, it->id_len, &other) == 0, "%s missing", it->id);
	T_ASSERT(crdt_cart_equal(it->cart, other.cart), "%s differs", it->id);
	T_ASSERT(crdt_store_digest(p->a, it) == crdt_store_digest(p->b, &other),
	         "%s digest differs", it->id);
	return 0;
}

static void assert_same_store(crdt_store *a, crdt_store *b)
{
	struct pair p = { a, b };
	T_ASSERT(crdt_store_count(a) == crdt_store_count(b), "%zu vs %zu carts",
	         crdt_store_count(a), crdt_store_count(b));
	T_ASSERT(memcmp(crdt_store_bucket_digests(a), crdt_store_bucket_digests(b),
	                NB * sizeof(uint64_t)) == 0, "bucket digests differ");
	ck_assert_int_eq(crdt_store_walk(a, same_cart, &p), 0);
}

/* In order; shuffled with every delta twice; and whole states. */
static void conv_case(test_rng *g, void *arg)
{
	struct conv *c = arg;
	crdt_store *x = store_mk(NB), *y = store_mk(NB), *z = store_mk(NB);
	size_t order[2 * CONV_DELTAS];

	conv_make(g, c);
	for (unsigned i = 0; i < CONV_DELTAS; i++) {
		ck_assert_int_eq(join(x, c->id[i], &c->d[i], NULL), 0);
		order[i] = order[i + CONV_DELTAS] = i;
	}
	test_rng_shuffle(g, order, 2 * CONV_DELTAS);
	for (unsigned i = 0; i < 2 * CONV_DELTAS; i++)
		ck_assert_int_eq(join(y, c->id[order[i]], &c->d[order[i]], NULL), 0);
	for (unsigned r = 0; r < 3; r++)
		ck_assert_int_eq(crdt_store_walk(c->src[3 - 1 - r], join_whole, z), 0);
	check_digests(x);
	assert_same_store(x, y);
	assert_same_store(y, z);
	assert_same_store(z, x);
	for (unsigned i = 0; i < CONV_DELTAS; i++)
		crdt_cart_destroy(&c->d[i]);
	for (unsigned r = 0; r < 3; r++)
		crdt_store_free(c->src[r]);
	crdt_store_free(x);
	crdt_store_free(y);
	crdt_store_free(z);
}

START_TEST(test_converge_orders)
{
	struct conv *c = malloc(sizeof *c);
	ck_assert_ptr_nonnull(c);
	test_run_cases("store_converge_orders", 10, conv_case, c);
	free(c);
}
END_TEST

/* ---- bucket walks ---- */

#define WALK_CARTS 300u
#define WALK_BUCKETS 7u     /* not a power of two on purpose */

struct walk {
	uint32_t b;
	unsigned seen[WALK_CARTS];
	unsigned calls;
	int stop;
};

static int walk_mark(const crdt_item *it, void *arg)
{
	struct walk *w = arg;
	unsigned i = (unsigned)strtoul(it->id + 1, NULL, 10);
	ck_assert_uint_lt(i, WALK_CARTS);
	ck_assert_uint_eq(it->bucket, w->b);
	w->seen[i]++;
	w->calls++;
	return w->stop;
}

START_TEST(test_walk_bucket)
{
	crdt_store *s = store_mk(WALK_BUCKETS);
	struct walk w = { 0 };
	char id[8];

	ck_assert_int_eq(crdt_store_walk_bucket(s, 0, walk_mark, &w), 0);
	ck_assert_uint_eq(w.calls, 0);
	for (unsigned i = 0; i < WALK_CARTS; i++) {
		snprintf(id, sizeof id, "w%u", i);
		ck_assert_int_eq(apply(s, id, 1, op_of(CRDT_OP_ADD, "apple", 1, NULL), NULL), 0);
	}
	for (w.b = 0; w.b < WALK_BUCKETS; w.b++)
		ck_assert_int_eq(crdt_store_walk_bucket(s, w.b, walk_mark, &w), 0);
	ck_assert_uint_eq(w.calls, WALK_CARTS);
	for (unsigned i = 0; i < WALK_CARTS; i++)
		ck_assert_uint_eq(w.seen[i], 1);
	/* Early stop returns the callback's value. */
	w.calls = 0;
	w.stop = 42;
	w.b = crdt_store_bucket_of(s, "w0", 2);
	ck_assert_int_eq(crdt_store_walk_bucket(s, w.b, walk_mark, &w), 42);
	ck_assert_uint_eq(w.calls, 1);
	ck_assert_int_eq(crdt_store_walk_bucket(s, WALK_BUCKETS, walk_mark, &w), CARTD_EINVAL);
	crdt_store_free(s);
}
END_TEST

/* ---- failures leave the store unchanged ---- */

/* Expects rc from an apply, an emptied delta, and an unchanged store. */
static void expect_fail(crdt_store *s, const char *id, size_t len, crdt_op op, int rc,
                        buf_writer *before)
{
	crdt_cart d;
	crdt_cart_init(&d);
	ck_assert_int_eq(crdt_cart_add(&d, 99, "junk", 4, 1, NULL), 0);
	ck_assert_int_eq(crdt_store_apply(s, id, len, 1, &op, &d), rc);
	ck_assert(crdt_cart_empty(&d));
	assert_unchanged(s, before, cartd_strerror(rc));
	crdt_cart_destroy(&d);
}

START_TEST(test_errors_unchanged)
{
	crdt_store *s = store_mk(NB);
	buf_writer before;
	char longid[CRDT_MAX_NAME + 2];
	crdt_op add = op_of(CRDT_OP_ADD, "apple", 1, NULL);
	crdt_op bad = add;

	ck_assert_int_eq(apply(s, "e", 1, op_of(CRDT_OP_ADD, "pear", 3, NULL), NULL), 0);
	ck_assert_int_eq(apply(s, "f", 1, op_of(CRDT_OP_ADD, "pear", 3, NULL), NULL), 0);
	test_store_snapshot(s, &before);
	memset(longid, 'a', sizeof longid);
	expect_fail(s, longid, CRDT_MAX_NAME + 1, add, CARTD_EID, &before);
	expect_fail(s, "", 0, add, CARTD_EID, &before);
	expect_fail(s, "a b", 3, add, CARTD_EID, &before);
	expect_fail(s, "e/", 2, add, CARTD_EID, &before);
	for (int fresh = 0; fresh < 2; fresh++) {
		const char *id = fresh ? "new" : "e";
		bad = op_of(CRDT_OP_ADD, "", 1, NULL);
		expect_fail(s, id, strlen(id), bad, CARTD_ESKU, &before);
		bad = op_of(CRDT_OP_ADD, "ap ple", 1, NULL);
		expect_fail(s, id, strlen(id), bad, CARTD_ESKU, &before);
		bad = op_of(CRDT_OP_REMOVE, "pe\nar", 0, NULL);
		expect_fail(s, id, strlen(id), bad, CARTD_ESKU, &before);
		bad = op_of(CRDT_OP_ADD, "pear", 0, NULL);
		expect_fail(s, id, strlen(id), bad, CARTD_EQTY, &before);
		bad = op_of(CRDT_OP_ADD, "pear", CRDT_MAX_QTY + 1, NULL);
		expect_fail(s, id, strlen(id), bad, CARTD_EQTY, &before);
		bad = op_of(CRDT_OP_SET, "pear", CRDT_MAX_QTY + 1, NULL);
		expect_fail(s, id, strlen(id), bad, CARTD_EQTY, &before);
		bad = op_of((enum crdt_op_kind)99, "pear", 1, NULL);
		expect_fail(s, id, strlen(id), bad, CARTD_EINVAL, &before);
	}
	bool changed = true;
	ck_assert_int_eq(crdt_store_join(s, "x y", 3, cart_of(s, "e"), &changed), CARTD_EID);
	ck_assert(!changed);
	assert_unchanged(s, &before, "join with a bad id");
	buf_writer_destroy(&before);
	crdt_store_free(s);
}
END_TEST

/* A cart at CRDT_MAX_LINES refuses a new line and stays as it was. */
START_TEST(test_lines_limit_unchanged)
{
	crdt_store *s = store_mk(NB);
	buf_writer before;
	char sku[16];

	for (unsigned i = 0; i < CRDT_MAX_LINES; i++) {
		snprintf(sku, sizeof sku, "s%u", i);
		ck_assert_int_eq(apply(s, "big", 1, op_of(CRDT_OP_ADD, sku, 1, NULL), NULL), 0);
	}
	test_store_snapshot(s, &before);
	expect_fail(s, "big", 3, op_of(CRDT_OP_ADD, "one-more", 1, NULL), CARTD_ELINES, &before);
	expect_fail(s, "big", 3, op_of(CRDT_OP_SET, "one-more", 1, NULL), CARTD_ELINES, &before);
	ck_assert_int_eq(apply(s, "big", 1, op_of(CRDT_OP_ADD, "s7", 1, NULL), NULL), 0);
	ck_assert_uint_eq(qty_of(s, "big", "s7"), 2);
	check_digests(s);
	buf_writer_destroy(&before);
	crdt_store_free(s);
}
END_TEST

/*
 * Carts with equal contents must not cancel in their bucket's XOR: two
 * peers whose carts a and b both differ in the same way would otherwise see
 * equal bucket digests and anti-entropy would never repair them.
 */
START_TEST(test_equal_carts_do_not_cancel)
{
	crdt_store *x, *y;
	crdt_op add = { CRDT_OP_ADD, "sku", 3, 7, NULL, NULL, 0 };
	ck_assert_int_eq(crdt_store_new(1, &x), 0);
	ck_assert_int_eq(crdt_store_new(1, &y), 0);
	ck_assert_int_eq(crdt_store_apply(x, "a", 1, 1, &add, NULL), 0);
	ck_assert_int_eq(crdt_store_apply(x, "b", 1, 1, &add, NULL), 0);
	ck_assert_uint_ne(crdt_store_bucket_digests(x)[0], 0);
	/* y holds the same two carts with a different (equal) quantity. */
	add.qty = 3;
	ck_assert_int_eq(crdt_store_apply(y, "a", 1, 1, &add, NULL), 0);
	ck_assert_int_eq(crdt_store_apply(y, "b", 1, 1, &add, NULL), 0);
	ck_assert_uint_ne(crdt_store_bucket_digests(x)[0], crdt_store_bucket_digests(y)[0]);
	crdt_store_free(x);
	crdt_store_free(y);
}
END_TEST

Suite *store_suite(void);

Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("basic");
	tcase_add_test(tc, test_new_bounds);
	tcase_add_test(tc, test_create_get);
	tcase_add_test(tc, test_plain_store);
	tcase_add_test(tc, test_prefetch_changes_nothing);
	tcase_add_test(tc, test_ops_add_set);
	tcase_add_test(tc, test_ops_remove_clear);
	tcase_add_test(tc, test_observed_token);
	tcase_add_test(tc, test_deferred_remove_digest);
	tcase_add_test(tc, test_noop_creates_nothing);
	tcase_add_test(tc, test_join);
	tcase_add_test(tc, test_join_out_of_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("digests");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_digest_random);
	tcase_add_test(tc, test_equal_carts_do_not_cancel);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_converge_orders);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, store_digest_tcase());

	tc = tcase_create("walk");
	tcase_add_test(tc, test_walk_bucket);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_errors_unchanged);
	tcase_add_test(tc, test_lines_limit_unchanged);
	suite_add_tcase(s, tc);
	return s;
}
