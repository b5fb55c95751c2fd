/*
 * check_props.c - property tests of the cart CRDT on random states.
 *
 * (a) convergence: 3-5 replicas run random operations (add, set,
 *     decrement, remove and clear with and without read tokens, reloads)
 *     over skus that collide, exchanging deltas and state copies through a
 *     pool that loses, duplicates and reorders; every step is compared with
 *     the reference model (test_model.h), and after a full state exchange
 *     all replicas are byte-identical and equal to the model.
 * (b) join is commutative, associative and idempotent on random states
 *     (snapshots and deltas, so contexts carry clouds).
 * (c) joining a replica's deltas in any order, any number of times, equals
 *     joining its state.
 * (e) encode/decode round trip; equal states give identical bytes.
 * Decomposition (d) is in test_props_split.c.
 *
 * Seeds: see test_rng.h (CARTD_SEED replays one case).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/store.h"
#include "tests/test_props.h"
#include "tests/test_util.h"
#include "tests/test_world.h"

/* Runs a random history of steps on w. */
static void random_history(tw *w, unsigned steps)
{
	for (unsigned i = 0; i < steps; i++)
		tw_step(w);
}

static void converge_case(test_rng *rng, void *arg)
{
	tw_stats *total = arg;
	tw w;
	tw_init(&w, rng, (unsigned)test_rng_range(rng, 3, TM_MAX_REPLICAS));
	random_history(&w, (unsigned)test_rng_range(rng, 10, 150));
	tw_exchange(&w);
	total->ops += w.stats.ops;
	total->deliveries += w.stats.deliveries;
	total->deferred += w.stats.deferred;
	total->token_ops += w.stats.token_ops;
	total->clouds += w.stats.clouds;
	total->clamps += w.stats.clamps;
	total->spurious_changed += w.stats.spurious_changed;
	tw_destroy(&w);
}

START_TEST(converge_to_model)
{
	tw_stats total = { 0 };
	unsigned cases = test_case_count(2 * PROPS_CASES);
	test_run_cases("converge_to_model", 2 * PROPS_CASES, converge_case, &total);
	if (getenv("CARTD_TEST_VERBOSE"))
		fprintf(stderr, "converge_to_model: %u cases, %lu ops, %lu deliveries, %lu deferred removes, "
		        "%lu token ops, %lu clouds, %lu clamped lines, %lu spurious changed\n",
		        cases, total.ops, total.deliveries, total.deferred, total.token_ops,
		        total.clouds, total.clamps, total.spurious_changed);
	/* The generator must reach the interesting cases, or the test proves
	 * little; only checked on a full run. */
	if (cases >= 500 && getenv("CARTD_SEED") == NULL) {
		ck_assert_msg(total.deferred > 0, "no deferred remove was generated");
		ck_assert_msg(total.token_ops > 0, "no token operation was generated");
		ck_assert_msg(total.clouds > 0, "no dot cloud was generated");
		ck_assert_msg(total.clamps > 0, "no clamped quantity was generated");
	}
}
END_TEST

/*
 * crdt_cart_join's changed flag is exact: true if and only if the
 * destination's state changed.  (The other properties only require it to be
 * true on a change; the store relies on it to skip digests, persistence and
 * re-gossip of stale data.)
 */
static void changed_case(test_rng *rng, void *arg)
{
	(void)arg;
	tw w;
	tw_init(&w, rng, (unsigned)test_rng_range(rng, 2, TM_MAX_REPLICAS));
	w.strict_changed = true;
	random_history(&w, (unsigned)test_rng_range(rng, 10, 150));
	tw_exchange(&w);
	tw_destroy(&w);
}

START_TEST(join_changed_flag_exact)
{
	test_run_cases("join_changed_flag_exact", PROPS_CASES / 4, changed_case, NULL);
}
END_TEST

/* A state of the universe with its model: a snapshot or a delta. */
typedef struct snap {
	crdt_cart c;
	tm_state m;
} snap;

#define NSNAP 12

/* Fills s[0..NSNAP) with replica snapshots and deltas taken along a random
 * history. */
static void collect_states(tw *w, snap *s)
{
	for (unsigned i = 0; i < NSNAP; i++) {
		random_history(w, (unsigned)test_rng_range(w->rng, 0, 25));
		unsigned r = (unsigned)test_rng_below(w->rng, w->n);
		crdt_cart_init(&s[i].c);
		if (test_rng_pct(w->rng, 30)) {
			tw_op(w, r, &s[i].c, &s[i].m);
		} else {
			s[i].c = tu_copy(&w->cart[r]);
			s[i].m = w->st[r];
		}
	}
}

static void free_states(snap *s)
{
	for (unsigned i = 0; i < NSNAP; i++)
		crdt_cart_destroy(&s[i].c);
}

/* x := a ⊔ b, checked against the model. */
static void join2(const tw *w, const snap *a, const snap *b, snap *x)
{
	x->c = tu_copy(&a->c);
	x->m = a->m;
	tu_join(&x->c, &b->c);
	tm_join(w->m, &x->m, &b->m);
	tm_check(w->m, &x->m, &x->c, "join of two states");
}

static void assert_same(const crdt_cart *a, const crdt_cart *b, const char *law)
{
	T_ASSERT(crdt_cart_equal(a, b), "%s does not hold", law);
	T_ASSERT(tu_same_bytes(a, b), "%s: equal carts encode differently", law);
}

static void check_laws(const tw *w, const snap *a, const snap *b, const snap *c)
{
	snap ab, ba, bc, ab_c, a_bc, aa;
	join2(w, a, b, &ab);
	join2(w, b, a, &ba);
	assert_same(&ab.c, &ba.c, "commutativity");
	join2(w, b, c, &bc);
	join2(w, &ab, c, &ab_c);
	join2(w, a, &bc, &a_bc);
	assert_same(&ab_c.c, &a_bc.c, "associativity");
	join2(w, a, a, &aa);
	assert_same(&aa.c, &a->c, "idempotence");
	tu_join_noop(&aa.c, &a->c, "joining a into a⊔a");
	tu_join_noop(&ab.c, &b->c, "joining b into a⊔b");
	snap *all[] = { &ab, &ba, &bc, &ab_c, &a_bc, &aa };
	for (unsigned i = 0; i < 6; i++)
		crdt_cart_destroy(&all[i]->c);
}

static void laws_case(test_rng *rng, void *arg)
{
	(void)arg;
	tw w;
	snap s[NSNAP];
	tw_init(&w, rng, (unsigned)test_rng_range(rng, 2, TM_MAX_REPLICAS));
	collect_states(&w, s);
	for (unsigned k = 0; k < 8; k++) {
		const snap *a = &s[test_rng_below(rng, NSNAP)];
		const snap *b = &s[test_rng_below(rng, NSNAP)];
		const snap *c = &s[test_rng_below(rng, NSNAP)];
		check_laws(&w, a, b, c);
	}
	free_states(s);
	tw_destroy(&w);
}

START_TEST(join_laws)
{
	test_run_cases("join_laws", PROPS_CASES, laws_case, NULL);
}
END_TEST

#define MAXD 16

/* Joins each of the k deltas into c 1-3 times, in a random order. */
static void join_shuffled(test_rng *rng, crdt_cart *c, const crdt_cart *d, unsigned k)
{
	size_t idx[3 * MAXD], n = 0;
	for (unsigned i = 0; i < k; i++)
		for (unsigned t = (unsigned)test_rng_range(rng, 1, 3); t > 0; t--)
			idx[n++] = i;
	test_rng_shuffle(rng, idx, n);
	for (size_t i = 0; i < n; i++)
		tu_join(c, &d[idx[i]]);
}

static void deltas_case(test_rng *rng, void *arg)
{
	(void)arg;
	tw w;
	tw_init(&w, rng, (unsigned)test_rng_range(rng, 2, TM_MAX_REPLICAS));
	random_history(&w, (unsigned)test_rng_range(rng, 0, 60));
	unsigned r = (unsigned)test_rng_below(rng, w.n), x = (unsigned)test_rng_below(rng, w.n);
	crdt_cart r0 = tu_copy(&w.cart[r]), seen = tu_copy(&w.cart[x]), d[MAXD], acc;
	tu_join(&seen, &r0);                /* a replica that had r's old state */
	unsigned k = (unsigned)test_rng_range(rng, 1, MAXD);
	for (unsigned i = 0; i < k; i++) {
		tm_state md;
		crdt_cart_init(&d[i]);
		tw_op(&w, r, &d[i], &md);
	}
	crdt_cart by_deltas = tu_copy(&seen), by_state = tu_copy(&seen);
	join_shuffled(rng, &by_deltas, d, k);
	tu_join(&by_state, &w.cart[r]);
	assert_same(&by_deltas, &by_state, "deltas equal state");
	crdt_cart_init(&acc);               /* the deltas coalesced, then applied */
	join_shuffled(rng, &acc, d, k);
	tu_join(&r0, &acc);
	assert_same(&r0, &w.cart[r], "old state joined with coalesced deltas");
	for (unsigned i = 0; i < k; i++) {
		tu_join_noop(&w.cart[r], &d[i], "a delta joined into its own replica");
		crdt_cart_destroy(&d[i]);
	}
	crdt_cart *all[] = { &r0, &seen, &acc, &by_deltas, &by_state };
	for (unsigned i = 0; i < 5; i++)
		crdt_cart_destroy(all[i]);
	tw_destroy(&w);
}

START_TEST(deltas_equal_state)
{
	test_run_cases("deltas_equal_state", PROPS_CASES, deltas_case, NULL);
}
END_TEST

static void roundtrip_one(const crdt_cart *c)
{
	tb bytes, again;
	tb_init(&bytes);
	tb_init(&again);
	tu_encode(c, &bytes);
	T_ASSERT(crdt_cart_encoded_size(c) == bytes.len, "encoded size is not the length");
	crdt_cart back;
	crdt_cart_init(&back);
	int rc = crdt_cart_from_bytes(bytes.p, bytes.len, &back);
	T_ASSERT(rc == 0, "decoding a valid encoding returned %d", rc);
	T_ASSERT(crdt_cart_equal(&back, c), "decoded cart differs from the original");
	tu_encode(&back, &again);
	T_ASSERT(again.len == bytes.len && memcmp(again.p, bytes.p, bytes.len) == 0,
	         "re-encoding differs");
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_ctx(&w, &c->ctx);
	crdt_ctx ctx;
	crdt_ctx_init(&ctx);
	T_ASSERT(crdt_ctx_encoded_size(&c->ctx) == w.len, "context encoded size");
	T_ASSERT(crdt_ctx_from_bytes(w.data, w.len, &ctx) == 0, "context round trip fails");
	T_ASSERT(crdt_ctx_equal(&ctx, &c->ctx), "context round trip differs");
	crdt_ctx_destroy(&ctx);
	buf_writer_destroy(&w);
	crdt_cart_destroy(&back);
	tb_free(&bytes);
	tb_free(&again);
}

static uint64_t digest(const crdt_cart *c)
{
	return crdt_store_cart_digest("cart", 4, c);
}

static void roundtrip_case(test_rng *rng, void *arg)
{
	(void)arg;
	tw w;
	snap s[NSNAP];
	tw_init(&w, rng, (unsigned)test_rng_range(rng, 2, TM_MAX_REPLICAS));
	collect_states(&w, s);
	for (unsigned i = 0; i < NSNAP; i++)
		roundtrip_one(&s[i].c);
	/* Equal states reached by different paths: identical bytes, digests. */
	crdt_cart fwd, rev;
	crdt_cart_init(&fwd);
	crdt_cart_init(&rev);
	for (unsigned i = 0; i < NSNAP; i++) {
		tu_join(&fwd, &s[i].c);
		tu_join(&rev, &s[NSNAP - 1 - i].c);
	}
	assert_same(&fwd, &rev, "join order independence");
	T_ASSERT(digest(&fwd) == digest(&rev), "equal carts have different digests");
	crdt_cart_destroy(&fwd);
	crdt_cart_destroy(&rev);
	free_states(s);
	tw_destroy(&w);
}

START_TEST(encode_roundtrip)
{
	test_run_cases("encode_roundtrip", PROPS_CASES / 2, roundtrip_case, NULL);
}
END_TEST

Suite *props_suite(void);

Suite *props_suite(void)
{
	Suite *s = suite_create("props");
	TCase *tc = tcase_create("converge");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, converge_to_model);
	tcase_add_test(tc, join_changed_flag_exact);
	suite_add_tcase(s, tc);
	tc = tcase_create("laws");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, join_laws);
	tcase_add_test(tc, deltas_equal_state);
	tcase_add_test(tc, encode_roundtrip);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, props_split_tcase());
	return s;
}
