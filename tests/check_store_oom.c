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

/* What a case writes with, built before any injection. */
struct inputs {
	const char *id;         /* the cart delta is joined into */
	crdt_cart delta;        /* to join */
	crdt_ctx token;         /* observed context of a remove or clear */
};

/* A delta from replica 2 of an operation on cart id, as base() holds it
 * (joined first, so that the delta's context covers what it observed). */
static void remote_delta(struct inputs *in, const char *id, enum crdt_op_kind kind,
                         const char *sku)
{
	crdt_store *b = base(), *r = mk();
	crdt_item it;
	crdt_ctx obs;
	crdt_ctx_init(&obs);
	in->id = id;
	if (crdt_store_get(b, id, strlen(id), &it) == 0) {
		ck_assert_int_eq(crdt_store_join(r, id, strlen(id), it.cart, NULL), 0);
		ck_assert_int_eq(crdt_ctx_copy(&obs, &it.cart->ctx), 0);
	}
	crdt_cart_init(&in->delta);
	ck_assert_int_eq(apply(r, id, 2, kind, sku, 5, kind == CRDT_OP_ADD ? NULL : &obs,
	                       &in->delta), 0);
	crdt_ctx_destroy(&obs);
	crdt_store_free(r);
	crdt_store_free(b);
}

/* The token of cart id as base() holds it. */
static void token_of(struct inputs *in, const char *id)
{
	crdt_store *b = base();
	crdt_item it;
	ck_assert_int_eq(crdt_store_get(b, id, strlen(id), &it), 0);
	ck_assert_int_eq(crdt_ctx_copy(&in->token, &it.cart->ctx), 0);
	crdt_store_free(b);
}

/* ---- the cases ---- */

typedef struct oom_case {
	const char *name;
	void (*prep)(struct inputs *in);
	int (*run)(crdt_store *s, struct inputs *in, crdt_cart *delta);
} oom_case;

static void prep_none(struct inputs *in) { (void)in; }
static void prep_join_line(struct inputs *in) { remote_delta(in, "c65", CRDT_OP_ADD, "fig"); }
static void prep_join_dirty(struct inputs *in) { remote_delta(in, "c4", CRDT_OP_ADD, "fig"); }
static void prep_join_new(struct inputs *in) { remote_delta(in, "fresh", CRDT_OP_ADD, "fig"); }
static void prep_join_remove(struct inputs *in) { remote_delta(in, "c5", CRDT_OP_REMOVE, "pear"); }
static void prep_join_clear(struct inputs *in) { remote_delta(in, "c2", CRDT_OP_CLEAR, NULL); }
/* A delta of cart c66 after 300 replicas each added to it: a context of
 * 300 ranges, a digest input far longer than any other in base(), so the
 * join must grow the digest scratch before it touches the cart. */
static void prep_join_wide(struct inputs *in)
{
	in->id = "c66";
	wide_state(&in->delta, "c66", 10);
}

/* Another 300 replicas' adds to c7, which base() left dirty after a first
 * 300: a write to a dirty cart must measure it, since its digest input
 * has grown past every settled one's. */
static void prep_join_wider(struct inputs *in)
{
	in->id = "c7";
	wide_state(&in->delta, "c7", 400);
}

static void prep_token5(struct inputs *in) { token_of(in, "c5"); }
static void prep_token8(struct inputs *in) { token_of(in, "c8"); }

static int run_add_new_cart(crdt_store *s, struct inputs *in, crdt_cart *d)
{
	(void)in;
	return apply(s, "new-cart", 1, CRDT_OP_ADD, "apple", 1, NULL, d);
}

static int run_add_clean_line(crdt_store *s, struct inputs *in, crdt_cart *d)
{
	(void)in;
	return apply(s, "c65", 1, CRDT_OP_ADD, "fig", 1, NULL, d);
}

static int run_add_dirty_line(crdt_store *s, struct inputs *in, crdt_cart *d)
{
	(void)in;
	return apply(s, "c4", 1, CRDT_OP_ADD, "fig", 1, NULL, d);
}

static int run_add_settled_alone(crdt_store *s, struct inputs *in, crdt_cart *d)
{
	(void)in;
	return apply(s, "c2", 1, CRDT_OP_ADD, "apple", 4, NULL, d);
}

static int run_set(crdt_store *s, struct inputs *in, crdt_cart *d)
{
	(void)in;
	return apply(s, "c5", 1, CRDT_OP_SET, "kiwi-1", 9, NULL, d);
}

static int run_remove(crdt_store *s, struct inputs *in, crdt_cart *d)
{
	return apply(s, "c5", 1, CRDT_OP_REMOVE, "pear", 0, &in->token, d);
}

static int run_clear(crdt_store *s, struct inputs *in, crdt_cart *d)
{
	return apply(s, "c8", 1, CRDT_OP_CLEAR, NULL, 0, &in->token, d);
}

static int run_join(crdt_store *s, struct inputs *in, crdt_cart *d)
{
	(void)d;        /* a join makes no delta: it stays empty */
	bool changed = false;
	int rc = crdt_store_join(s, in->id, strlen(in->id), &in->delta, &changed);
	/* No ck_assert here: Check allocates in it, and injection is on. */
	return rc == 0 && !changed ? CARTD_EINVAL : rc;
}

static const oom_case cases[] = {
	{ "add to a new cart", prep_none, run_add_new_cart },
	{ "add a line to a settled cart", prep_none, run_add_clean_line },
	{ "add a line to a dirty cart", prep_none, run_add_dirty_line },
	{ "add to a cart settled alone", prep_none, run_add_settled_alone },
	{ "set", prep_none, run_set },
	{ "remove under a token", prep_token5, run_remove },
	{ "clear under a token", prep_token8, run_clear },
	{ "join a new line into a settled cart", prep_join_line, run_join },
	{ "join a new line into a dirty cart", prep_join_dirty, run_join },
	{ "join a new cart", prep_join_new, run_join },
	{ "join a remove", prep_join_remove, run_join },
	{ "join a clear into a cart settled alone", prep_join_clear, run_join },
	{ "join a wide context into a settled cart", prep_join_wide, run_join },
	{ "join a wide context into a dirty wide cart", prep_join_wider, run_join },
};

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
	in.id = "";
	crdt_cart_init(&in.delta);
	crdt_ctx_init(&in.token);
	c->prep(&in);

	/* The result without injection. */
	crdt_store *want = base();
	crdt_cart want_delta;
	crdt_cart_init(&want_delta);
	ck_assert_int_eq(c->run(want, &in, &want_delta), 0);

	long step;
	for (step = 0; step < MAX_STEPS; step++) {
		crdt_store *s = base(), *twin = base();
		crdt_cart d;
		crdt_cart_init(&d);
		test_alloc_fail_after(step);
		int rc = c->run(s, &in, &d);
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
	buf_writer w;
	uint64_t d = 0;
	buf_writer_init(&w);
	ck_assert_int_eq(crdt_store_cart_digest(it->id, it->id_len, it->cart, &w, &d), 0);
	buf_writer_destroy(&w);
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
