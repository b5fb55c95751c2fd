/*
 * check_store_oom.c - the store under allocation failure (crdt/store.h
 * promises that a failing write leaves the store as it was, and that
 * digests, settled when read, are read without allocating), and the cart
 * decoder, which every received delta goes through.
 *
 * Every case runs one write with its n-th allocation failing, for n = 0,
 * 1, 2, ... until the write succeeds.  After each failure the store must
 * equal an untouched twin (carts, digests, bucket lists), the delta must
 * be empty, and reading every digest must attempt no allocation at all;
 * the write that finally succeeds must leave what it leaves without
 * injection.  The base store mixes carts whose digests were read since
 * their last write with carts written since, and one read alone
 * (crdt_store_digest), since a write secures different things for each.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/context.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "tests/test_alloc.h"
#include "tests/test_store_snap.h"

Suite *store_oom_suite(void);

#define NB 8u
#define NCARTS 76
#define NSETTLED 12      /* c64..c75 */
#define MAX_STEPS 10000       /* no write makes that many allocations */

static const char *const skus[] = { "apple", "pear", "kiwi-1" };

static crdt_store *mk(void)
{
	crdt_store *s = NULL;
	ck_assert_int_eq(crdt_store_new(NB, &s), 0);
	return s;
}

static int apply(crdt_store *s, const char *id, uint64_t self, enum crdt_op_kind kind,
                 const char *sku, uint32_t qty, const crdt_ctx *observed, crdt_cart *delta)
{
	crdt_op op = { kind, sku, sku ? strlen(sku) : 0, qty, observed, NULL, 0 };
	return crdt_store_apply(s, id, strlen(id), self, &op, delta);
}

static void add(crdt_store *s, const char *id, uint64_t self, const char *sku, uint32_t qty)
{
	ck_assert_int_eq(apply(s, id, self, CRDT_OP_ADD, sku, qty, NULL, NULL), 0);
}

static const char *cart_id(int i)
{
	static char buf[NCARTS][8];
	snprintf(buf[i], sizeof buf[i], "c%d", i);
	return buf[i];
}

/* *out := cart id after replicas lo..lo+299 each added a line "wide". */
static void wide_state(crdt_cart *out, const char *id, uint64_t lo)
{
	crdt_store *r = mk();
	crdt_item it;
	for (uint64_t rep = lo; rep < lo + 300; rep++)
		add(r, id, rep, "wide", 1);
	ck_assert_int_eq(crdt_store_get(r, id, strlen(id), &it), 0);
	ck_assert_int_eq(crdt_cart_copy(out, it.cart), 0);
	crdt_store_free(r);
}

/*
 * The store every case starts from; deterministic, so two are equal.
 * Carts c64..c75 are settled (their digests read since their last write);
 * then c0..c63 are written, which fills the dirty list to exactly its
 * capacity (64), so that a write to a settled or new cart must grow it;
 * c7 takes 300 other replicas' adds, and c2's digest alone is read.
 */
static crdt_store *base(void)
{
	crdt_store *s = mk();
	for (int i = NCARTS - NSETTLED; i < NCARTS; i++)
		for (int k = 0; k <= i % 3; k++)
			add(s, cart_id(i), 1, skus[k], (uint32_t)k + 1);
	(void)crdt_store_bucket_digests(s);
	for (int i = 0; i < NCARTS - NSETTLED; i++)
		for (int k = 0; k <= i % 3; k++)
			add(s, cart_id(i), 1, skus[k], (uint32_t)k + 1);
	crdt_cart wide;
	crdt_cart_init(&wide);
	wide_state(&wide, "c7", 10);
	ck_assert_int_eq(crdt_store_join(s, "c7", 2, &wide, NULL), 0);
	crdt_cart_destroy(&wide);
	crdt_item it;
	ck_assert_int_eq(crdt_store_get(s, "c2", 2, &it), 0);
	(void)crdt_store_digest(s, &it);
	return s;
}

/* A case: one local operation, or the join of replica 2's delta of it. */
typedef struct oom_case {
	const char *name;
	bool join;
	enum crdt_op_kind kind;
	const char *id, *sku;
	uint32_t qty;
	uint64_t wide_from;     /* join: instead, the state of 300 replicas' adds,
	                         * the first replica this one (wide_state) */
} oom_case;

static const oom_case cases[] = {
	{ "add to a new cart", false, CRDT_OP_ADD, "new-cart", "apple", 1, 0 },
	{ "add a line to a settled cart", false, CRDT_OP_ADD, "c65", "fig", 1, 0 },
	{ "add a line to a dirty cart", false, CRDT_OP_ADD, "c4", "fig", 1, 0 },
	{ "add to a cart settled alone", false, CRDT_OP_ADD, "c2", "apple", 4, 0 },
	{ "set", false, CRDT_OP_SET, "c5", "kiwi-1", 9, 0 },
	{ "remove under a token", false, CRDT_OP_REMOVE, "c5", "pear", 0, 0 },
	{ "clear under a token", false, CRDT_OP_CLEAR, "c8", NULL, 0, 0 },
	{ "join a new line into a settled cart", true, CRDT_OP_ADD, "c65", "fig", 5, 0 },
	{ "join a new line into a dirty cart", true, CRDT_OP_ADD, "c4", "fig", 5, 0 },
	{ "join a new cart", true, CRDT_OP_ADD, "fresh", "fig", 5, 0 },
	{ "join a remove", true, CRDT_OP_REMOVE, "c5", "pear", 0, 0 },
	{ "join a clear into a cart settled alone", true, CRDT_OP_CLEAR, "c2", NULL, 0, 0 },
	/* A context of 300 ranges, a digest input far longer than any other
	 * in base(): the join must grow the digest scratch before it touches
	 * the cart. */
	{ "join a wide context into a settled cart", true, CRDT_OP_ADD, "c66", NULL, 0, 10 },
	/* Another 300 replicas' adds to c7, which base() left dirty after a
	 * first 300: a write to a dirty cart must measure it, since its digest
	 * input has grown past every settled one's. */
	{ "join a wide context into a dirty wide cart", true, CRDT_OP_ADD, "c7", NULL, 0, 400 },
};

static bool observes(const oom_case *c)
{
	return c->kind == CRDT_OP_REMOVE || c->kind == CRDT_OP_CLEAR;
}

/* What a case writes with, built before any injection. */
struct inputs {
	crdt_cart delta;        /* to join */
	crdt_ctx token;         /* observed context of a remove or clear */
};

/* in->token := the context of the case's cart as base() holds it; for a
 * join, in->delta := replica 2's delta of the operation, made on a copy of
 * that cart (so that its context covers what it observed). */
static void prep(const oom_case *c, struct inputs *in)
{
	if (c->wide_from) {
		wide_state(&in->delta, c->id, c->wide_from);
		return;
	}
	crdt_store *b = base(), *r = mk();
	crdt_item it;
	if (crdt_store_get(b, c->id, strlen(c->id), &it) == 0) {
		ck_assert_int_eq(crdt_store_join(r, c->id, strlen(c->id), it.cart, NULL), 0);
		ck_assert_int_eq(crdt_ctx_copy(&in->token, &it.cart->ctx), 0);
	}
	if (c->join)
		ck_assert_int_eq(apply(r, c->id, 2, c->kind, c->sku, c->qty,
		                       observes(c) ? &in->token : NULL, &in->delta), 0);
	crdt_store_free(r);
	crdt_store_free(b);
}

/* The case's write on s; a local operation's delta into d (a join's stays
 * empty).  No ck_assert here: Check allocates in it, and injection is on. */
static int run(const oom_case *c, crdt_store *s, struct inputs *in, crdt_cart *d)
{
	if (!c->join)
		return apply(s, c->id, 1, c->kind, c->sku, c->qty,
		             observes(c) ? &in->token : NULL, d);
	bool changed = false;
	int rc = crdt_store_join(s, c->id, strlen(c->id), &in->delta, &changed);
	return rc == 0 && !changed ? CARTD_EINVAL : rc;
}

/* ---- checks ---- */

static int read_digest(const crdt_item *it, void *arg)
{
	(void)crdt_store_digest(arg, it);
	return 0;
}

/* Reads every digest of s, one cart at a time and then all buckets, with
 * every allocation failing: none may be attempted.  Returns the attempts
 * (0 expected).  Check's own calls allocate, so none is made meanwhile. */
static long settle_attempts(crdt_store *s)
{
	test_alloc_fail_after(0);
	crdt_store_walk(s, read_digest, s);
	(void)crdt_store_bucket_digests(s);
	long n = test_alloc_attempts();
	test_alloc_reset();
	return n;
}

static void assert_same(crdt_store *a, crdt_store *b, const char *name, long step)
{
	buf_writer x, y;
	test_store_snapshot(a, &x);
	test_store_snapshot(b, &y);
	ck_assert_msg(x.len == y.len && memcmp(x.data, y.data, x.len) == 0,
	              "%s, allocation %ld failing: the store differs from its twin", name, step);
	buf_writer_destroy(&x);
	buf_writer_destroy(&y);
}

static void assert_same_delta(const crdt_cart *a, const crdt_cart *b, const char *name)
{
	buf_writer x, y;
	buf_writer_init(&x);
	buf_writer_init(&y);
	crdt_encode_cart(&x, a);
	crdt_encode_cart(&y, b);
	ck_assert_msg(x.err == 0 && y.err == 0 && x.len == y.len &&
	              memcmp(x.data, y.data, x.len) == 0,
	              "%s: the delta differs from the one made without failures", name);
	buf_writer_destroy(&x);
	buf_writer_destroy(&y);
}

/* Runs one case at every failing allocation until it succeeds. */
static void run_case(const oom_case *c)
{
	struct inputs in;
	crdt_cart_init(&in.delta);
	crdt_ctx_init(&in.token);
	prep(c, &in);

	/* The result without injection. */
	crdt_store *want = base();
	crdt_cart want_delta;
	crdt_cart_init(&want_delta);
	ck_assert_int_eq(run(c, want, &in, &want_delta), 0);

	long step;
	for (step = 0; step < MAX_STEPS; step++) {
		crdt_store *s = base(), *twin = base();
		crdt_cart d;
		crdt_cart_init(&d);
		test_alloc_fail_after(step);
		int rc = run(c, s, &in, &d);
		test_alloc_reset();
		long n = settle_attempts(s);
		ck_assert_msg(n == 0, "%s, allocation %ld failing: reading digests attempted %ld "
		              "allocations", c->name, step, n);
		if (rc == 0) {
			assert_same(s, want, c->name, step);
			assert_same_delta(&d, &want_delta, c->name);
		} else {
			ck_assert_msg(rc == CARTD_ENOMEM, "%s, allocation %ld failing: %s", c->name,
			              step, cartd_strerror(rc));
			ck_assert_msg(crdt_cart_empty(&d), "%s: a delta left after an error", c->name);
			assert_same(s, twin, c->name, step);
		}
		crdt_cart_destroy(&d);
		crdt_store_free(s);
		crdt_store_free(twin);
		if (rc == 0)
			break;
	}
	ck_assert_msg(step < MAX_STEPS, "%s never succeeded", c->name);
	/* Each of these writes allocates (a line, a delta, a context range),
	 * so at least its first allocation was made to fail. */
	ck_assert_msg(step > 0, "%s succeeded with every allocation failing", c->name);
	crdt_cart_destroy(&want_delta);
	crdt_store_free(want);
	crdt_cart_destroy(&in.delta);
	crdt_ctx_destroy(&in.token);
}

START_TEST(test_write_oom)
{
	run_case(&cases[_i]);
}
END_TEST

static int check_digest(const crdt_item *it, void *arg)
{
	uint64_t d = crdt_store_cart_digest(it->id, it->id_len, it->cart);
	ck_assert_msg(crdt_store_digest(arg, it) == d, "cart %s: digest differs from its "
	              "recomputation", it->id);
	return 0;
}

/*
 * A cart written many times between two reads of its digest grows its
 * digest input a little with each write (here a context range per
 * replica); each write must keep the scratch ahead of it, so that the
 * read still allocates nothing.  Small settled carts keep the longest
 * settled input short.
 */
START_TEST(test_dirty_cart_grows_between_reads)
{
	crdt_store *s = mk();
	add(s, "small", 1, "apple", 1);
	(void)crdt_store_bucket_digests(s);
	for (uint64_t rep = 2; rep < 2002; rep++) {
		crdt_store *r = mk();
		crdt_cart d;
		crdt_cart_init(&d);
		ck_assert_int_eq(apply(r, "hot", rep, CRDT_OP_ADD, "pear", 1, NULL, &d), 0);
		ck_assert_int_eq(crdt_store_join(s, "hot", 3, &d, NULL), 0);
		crdt_cart_destroy(&d);
		crdt_store_free(r);
	}
	long n = settle_attempts(s);
	ck_assert_msg(n == 0, "reading digests attempted %ld allocations", n);
	ck_assert_int_eq(crdt_store_walk(s, check_digest, s), 0);
	crdt_store_free(s);
}
END_TEST

struct decode_all {
	long failures;      /* allocations made to fail, over every cart */
};

/* Decodes its cart's encoding with each allocation failing in turn: each
 * failure is CARTD_ENOMEM with an empty result (and no leak, which the
 * sanitizer and valgrind runs see); the decode that succeeds is equal. */
static int decode_one(const crdt_item *it, void *arg)
{
	struct decode_all *da = arg;
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, it->cart);
	ck_assert_int_eq(w.err, 0);
	for (long step = 0;; step++) {
		ck_assert_msg(step < MAX_STEPS, "decode of %s never succeeded", it->id);
		crdt_cart c;
		crdt_cart_init(&c);
		test_alloc_fail_after(step);
		int rc = crdt_cart_from_bytes(w.data, w.len, &c);
		test_alloc_reset();
		if (rc == 0) {
			ck_assert_msg(crdt_cart_equal(&c, it->cart), "cart %s decodes unequal", it->id);
			crdt_cart_destroy(&c);
			break;
		}
		ck_assert_msg(rc == CARTD_ENOMEM, "cart %s, allocation %ld failing: %s", it->id,
		              step, cartd_strerror(rc));
		ck_assert_msg(crdt_cart_empty(&c), "cart %s: a result left after an error", it->id);
		crdt_cart_destroy(&c);
		da->failures++;
	}
	buf_writer_destroy(&w);
	return 0;
}

START_TEST(test_decode_oom)
{
	crdt_store *s = base();
	struct decode_all da = { 0 };
	ck_assert_int_eq(crdt_store_walk(s, decode_one, &da), 0);
	ck_assert_msg(da.failures >= (long)crdt_store_count(s), "only %ld failing allocations "
	              "over %zu carts", da.failures, crdt_store_count(s));
	crdt_store_free(s);
}
END_TEST

Suite *store_oom_suite(void)
{
	Suite *s = suite_create("store_oom");
	TCase *tc = tcase_create("writes");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_write_oom, 0, (int)(sizeof cases / sizeof cases[0]));
	tcase_add_test(tc, test_dirty_cart_grows_between_reads);
	tcase_add_test(tc, test_decode_oom);
	suite_add_tcase(s, tc);
	return s;
}
