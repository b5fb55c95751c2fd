/*
 * check_marks.c - idempotent writes and checkouts in the CRDT: what a
 * write under an idempotency key and a close marker do to a cart, alone
 * and concurrently at two replicas, and how records and markers encode,
 * decode, split and join (docs/semantics.md §11 and §12).
 *
 * Keyed writes here take their dot straight from the test (the peer
 * derives it by a hash of cart, key and request: app/shared/idem.c); what the
 * CRDT must guarantee is what happens once two writes share one.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "tests/test_bytes.h"
#include "tests/test_rng.h"
#include "tests/test_sem.h"
#include "tests/test_util.h"

#define HOUR_MS UINT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)

/* A key record: hash byte h, dot (0xD0 << 56 | h, counter), at_ms at. */
static crdt_keyrec rec(uint8_t h, uint64_t counter, uint64_t at)
{
	crdt_keyrec k;
	memset(&k, 0, sizeof k);
	memset(k.hash, h, sizeof k.hash);
	k.dot.replica = UINT64_C(0xD0) << 56 | h;
	k.dot.counter = counter;
	k.at_ms = at;
	k.until_ms = at + DAY_MS;
	return k;
}

static int keyed(crdt_cart *c, uint64_t self, enum crdt_op_kind kind, const char *sku,
                 uint32_t qty, const crdt_ctx *observed, const crdt_keyrec *key,
                 uint64_t now, crdt_cart *delta)
{
	crdt_op op = { kind, sku, sku ? strlen(sku) : 0, qty, observed, key, now };
	int rc = crdt_cart_apply(c, self, &op, delta);
	T_ASSERT(crdt_cart_valid(c), "cart invalid after apply (rc %d)", rc);
	if (delta && rc == 0)
		T_ASSERT(crdt_cart_valid(delta), "delta invalid after apply");
	return rc;
}

static crdt_cart fresh(void)
{
	crdt_cart c;
	crdt_cart_init(&c);
	return c;
}

static void free_all(crdt_cart *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crdt_cart_destroy(&v[i]);
}

/* A retry at the same replica applies nothing, with the record or, once
 * the record is gone, by the dot alone. */
START_TEST(retry_applies_once)
{
	crdt_cart a = fresh(), before = fresh(), d = fresh();
	crdt_keyrec k = rec(1, 77, 1000);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "X", 2, NULL, &k, 1000, &d), 0);
	ck_assert_uint_eq(tu_qty(&a, "X"), 2);
	ck_assert_uint_eq(crdt_cart_nkeys(&d), 1);
	ck_assert(crdt_ctx_contains(&d.ctx, k.dot));
	before = tu_copy(&a);
	crdt_keyrec later = k;
	later.at_ms = later.until_ms = 1000 + 10 * DAY_MS;   /* long past the window */
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "X", 2, NULL, &k, 2000, &d), CARTD_EIDEMPOTENT);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "X", 2, NULL, &later, 2000, &d),
	                 CARTD_EIDEMPOTENT);
	ck_assert(crdt_cart_empty(&d));
	tu_assert_converged(&a, &before, "after retries");
	free_all((crdt_cart[]){ a, before, d }, 3);
}
END_TEST

/* The same key with another request (another dot) is refused while the
 * record is kept, and allowed once its window has passed. */
START_TEST(key_reused_for_another_request)
{
	crdt_cart a = fresh();
	crdt_keyrec k = rec(2, 5, 1000), other = rec(2, 6, 1000 + HOUR_MS);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "X", 1, NULL, &k, 1000, NULL), 0);
	crdt_cart before = tu_copy(&a);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "Y", 1, NULL, &other, 0, NULL),
	                 CARTD_EKEYREUSED);
	tu_assert_converged(&a, &before, "reused key changes nothing");
	other.at_ms = k.until_ms + 1;
	other.until_ms = other.at_ms + DAY_MS;
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "Y", 1, NULL, &other, 0, NULL), 0);
	ck_assert_uint_eq(tu_qty(&a, "Y"), 1);
	/* The new record's time prunes the expired one. */
	ck_assert_uint_eq(crdt_cart_nkeys(&a), 1);
	ck_assert_uint_eq(a.keys->v[0].dot.counter, 6);
	free_all((crdt_cart[]){ a, before }, 2);
}
END_TEST

/* Two attempts of one add, at two replicas before either replicated,
 * count once when they meet, in either order, and converge. */
START_TEST(attempts_at_two_peers_count_once)
{
	crdt_cart a = fresh(), b = fresh(), da = fresh(), db = fresh();
	tu_add(&a, SEM_A, "X", 1, &da);
	tu_join(&b, &da);
	crdt_keyrec ka = rec(3, 9, 5000), kb = ka;
	kb.at_ms += 7;                   /* the retry, a little later, elsewhere */
	kb.until_ms += 7;
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "X", 4, NULL, &ka, 0, &da), 0);
	ck_assert_int_eq(keyed(&b, SEM_B, CRDT_OP_ADD, "X", 4, NULL, &kb, 0, &db), 0);
	tu_join(&a, &db);
	tu_join(&b, &da);
	tu_join(&b, &da);
	ck_assert_uint_eq(tu_qty(&a, "X"), 5);
	ck_assert_uint_eq(tu_entries(&a, "X"), 2);
	tu_assert_converged(&a, &b, "two attempts");
	ck_assert_uint_eq(crdt_cart_nkeys(&a), 2);
	/* A third attempt anywhere is a replay now. */
	crdt_keyrec kc = ka;
	kc.at_ms += 100;
	kc.until_ms += 100;
	ck_assert_int_eq(keyed(&b, SEM_B, CRDT_OP_ADD, "X", 4, NULL, &kc, 0, NULL),
	                 CARTD_EIDEMPOTENT);
	free_all((crdt_cart[]){ a, b, da, db }, 4);
}
END_TEST

/* A remove that saw one attempt removes the other: B removes under a
 * token that saw A's attempt; C made the same attempt unseen by anyone.
 * Whatever the order they meet in, the line is gone everywhere. */
START_TEST(remove_of_one_attempt_removes_all)
{
	crdt_cart a = fresh(), b = fresh(), c = fresh(), da = fresh(), dc = fresh(), dr = fresh();
	crdt_keyrec k = rec(4, 11, 100), kc = k;
	kc.at_ms = 150;
	kc.until_ms = 150 + DAY_MS;
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "X", 3, NULL, &k, 0, &da), 0);
	ck_assert_int_eq(keyed(&c, SEM_C, CRDT_OP_ADD, "X", 3, NULL, &kc, 0, &dc), 0);
	/* B removes with A's token before receiving anything: deferred. */
	crdt_ctx tok;
	crdt_ctx_init(&tok);
	ck_assert_int_eq(crdt_ctx_copy(&tok, &a.ctx), 0);
	ck_assert_int_eq(keyed(&b, SEM_B, CRDT_OP_REMOVE, "X", 0, &tok, NULL, 0, &dr), 0);
	tu_join(&b, &dc);                /* C's attempt reaches B first */
	ck_assert_uint_eq(tu_qty(&b, "X"), 0);
	tu_join(&b, &da);
	tu_join(&a, &dr);
	tu_join(&a, &dc);
	tu_join(&c, &da);
	tu_join(&c, &dr);
	ck_assert_uint_eq(tu_qty(&a, "X"), 0);
	ck_assert_uint_eq(tu_qty(&c, "X"), 0);
	tu_assert_converged(&a, &b, "a and b");
	tu_assert_converged(&a, &c, "a and c");
	/* And a later retry stays a replay, not a new add. */
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "X", 3, NULL, &k, 0, NULL),
	                 CARTD_EIDEMPOTENT);
	ck_assert_uint_eq(tu_qty(&a, "X"), 0);
	crdt_ctx_destroy(&tok);
	free_all((crdt_cart[]){ a, b, c, da, dc, dr }, 6);
}
END_TEST

/* Keyed remove, clear and set are replays too: their dot marks the context
 * even when they remove nothing. */
START_TEST(keyed_remove_clear_set_replay)
{
	crdt_cart a = fresh(), d = fresh();
	crdt_keyrec kr = rec(5, 1, 10), kc = rec(6, 1, 20), ks = rec(7, 1, 30);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_REMOVE, "nothing", 0, NULL, &kr, 0, &d), 0);
	ck_assert(!crdt_cart_empty(&d));
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_REMOVE, "nothing", 0, NULL, &kr, 0, NULL),
	                 CARTD_EIDEMPOTENT);
	tu_add(&a, SEM_A, "X", 1, NULL);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_SET, "X", 9, NULL, &ks, 0, NULL), 0);
	tu_add(&a, SEM_A, "X", 1, NULL);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_SET, "X", 9, NULL, &ks, 0, NULL),
	                 CARTD_EIDEMPOTENT);
	ck_assert_uint_eq(tu_qty(&a, "X"), 10);   /* the retry removed nothing */
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLEAR, NULL, 0, NULL, &kc, 0, NULL), 0);
	tu_add(&a, SEM_A, "Y", 1, NULL);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLEAR, NULL, 0, NULL, &kc, 0, NULL),
	                 CARTD_EIDEMPOTENT);
	ck_assert_uint_eq(tu_qty(&a, "Y"), 1);
	ck_assert_uint_eq(crdt_cart_nkeys(&a), 3);
	free_all((crdt_cart[]){ a, d }, 2);
}
END_TEST

/* Records past the count limit: the newest CRDT_MAX_KEYS stay, and the
 * same set results whatever order the records arrive in. */
START_TEST(records_pruned_the_same_everywhere)
{
	enum { N = CRDT_MAX_KEYS + 20 };
	static crdt_cart deltas[N];
	crdt_cart a = fresh(), b = fresh(), w = fresh();
	for (unsigned i = 0; i < N; i++) {
		crdt_keyrec k = rec((uint8_t)(i + 1), 1, 1000 + i);
		crdt_cart_init(&deltas[i]);
		ck_assert_int_eq(keyed(&w, SEM_A, CRDT_OP_ADD, "X", 1, NULL, &k, 0, &deltas[i]), 0);
	}
	ck_assert_uint_eq(crdt_cart_nkeys(&w), CRDT_MAX_KEYS);
	ck_assert_uint_eq(w.keys->v[0].hash[0], N - CRDT_MAX_KEYS + 1);
	test_rng rng;
	test_rng_seed(&rng, 0xC0FFEE);
	for (unsigned i = 0; i < N; i++)
		tu_join(&a, &deltas[i]);
	for (unsigned i = N; i-- > 0;)
		tu_join(&b, &deltas[(i * 7 + (unsigned)test_rng_below(&rng, 2)) % N]);
	for (unsigned i = 0; i < N; i++)
		tu_join(&b, &deltas[i]);
	tu_assert_converged(&a, &w, "in order");
	tu_assert_converged(&b, &w, "shuffled");
	ck_assert_uint_eq(tu_qty(&a, "X"), N);
	free_all(deltas, N);
	free_all((crdt_cart[]){ a, b, w }, 3);
}
END_TEST

/* A record whose window has ended before the newest record's time goes,
 * whichever side held it. */
START_TEST(records_pruned_by_window)
{
	crdt_cart a = fresh(), b = fresh(), da = fresh(), db = fresh();
	crdt_keyrec old = rec(8, 1, 0), young = rec(9, 1, DAY_MS + 1);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "X", 1, NULL, &old, 0, &da), 0);
	ck_assert_int_eq(keyed(&b, SEM_B, CRDT_OP_ADD, "Y", 1, NULL, &young, 0, &db), 0);
	tu_join(&a, &db);
	tu_join(&b, &da);
	tu_assert_converged(&a, &b, "window");
	ck_assert_uint_eq(crdt_cart_nkeys(&a), 1);
	ck_assert_uint_eq(a.keys->v[0].hash[0], 9);
	/* The old write is still a replay by its dot. */
	ck_assert_int_eq(keyed(&b, SEM_B, CRDT_OP_ADD, "X", 1, NULL, &old, 0, NULL),
	                 CARTD_EIDEMPOTENT);
	free_all((crdt_cart[]){ a, b, da, db }, 4);
}
END_TEST

/* Checkout: the order is what the cart held; later writes are refused. */
START_TEST(checkout_freezes_and_refuses)
{
	crdt_cart a = fresh(), d = fresh();
	tu_add(&a, SEM_A, "X", 2, NULL);
	tu_add(&a, SEM_A, "Y", 1, NULL);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLOSE, NULL, 0, NULL, NULL, 12345, &d), 0);
	ck_assert(crdt_cart_closed(&a));
	ck_assert_uint_eq(crdt_cart_ncloses(&d), 1);
	const crdt_close *m = &a.closes->v[0];
	ck_assert_uint_eq(m->at_ms, 12345);
	ck_assert_uint_eq(m->total, 2);
	ck_assert_uint_eq(crdt_close_held(m), 2);
	ck_assert_uint_eq(crdt_line_qty(&m->lines[0]), 2);
	crdt_cart before = tu_copy(&a);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "Z", 1, NULL, NULL, 0, NULL), CARTD_ECLOSED);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_REMOVE, "X", 0, NULL, NULL, 0, NULL),
	                 CARTD_ECLOSED);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLEAR, NULL, 0, NULL, NULL, 0, NULL),
	                 CARTD_ECLOSED);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLOSE, NULL, 0, NULL, NULL, 1, NULL),
	                 CARTD_ECLOSED);
	tu_assert_converged(&a, &before, "refused writes");
	crdt_cart late = fresh();
	ck_assert_int_eq(crdt_cart_late_added(&a, &late), 0);
	ck_assert_uint_eq(late.n, 0);
	ck_assert_int_eq(crdt_close_late_removed(&a, m, &late), 0);
	ck_assert_uint_eq(late.n, 0);
	free_all((crdt_cart[]){ a, d, before, late }, 4);
}
END_TEST

/* A checkout under a token orders what the token saw; a token ahead of the
 * replica and an empty order are refused. */
START_TEST(checkout_with_token)
{
	crdt_cart a = fresh(), b = fresh(), d = fresh();
	tu_add(&a, SEM_A, "X", 2, &d);
	tu_join(&b, &d);
	crdt_ctx tok;
	crdt_ctx_init(&tok);
	ck_assert_int_eq(crdt_ctx_copy(&tok, &a.ctx), 0);
	tu_add(&a, SEM_A, "Y", 1, NULL);        /* after the client's read */
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLOSE, NULL, 0, &tok, NULL, 1, NULL), 0);
	ck_assert_uint_eq(a.closes->v[0].n, 1);
	ck_assert_uint_eq(a.closes->v[0].total, 1);
	crdt_cart late = fresh();
	ck_assert_int_eq(crdt_cart_late_added(&a, &late), 0);
	ck_assert_uint_eq(tu_qty(&late, "Y"), 1);
	/* B has X; a token naming A's Y (not at B) is ahead of B. */
	crdt_ctx ahead;
	crdt_ctx_init(&ahead);
	ck_assert_int_eq(crdt_ctx_copy(&ahead, &a.ctx), 0);
	crdt_cart before = tu_copy(&b);
	ck_assert_int_eq(keyed(&b, SEM_B, CRDT_OP_CLOSE, NULL, 0, &ahead, NULL, 1, NULL),
	                 CARTD_ETOKENAHEAD);
	crdt_ctx empty;
	crdt_ctx_init(&empty);
	ck_assert_int_eq(keyed(&b, SEM_B, CRDT_OP_CLOSE, NULL, 0, &empty, NULL, 1, NULL),
	                 CARTD_EEMPTYCART);
	crdt_cart none = fresh();
	ck_assert_int_eq(keyed(&none, SEM_B, CRDT_OP_CLOSE, NULL, 0, NULL, NULL, 1, NULL),
	                 CARTD_EEMPTYCART);
	tu_assert_converged(&b, &before, "refused checkouts");
	crdt_ctx_destroy(&tok);
	crdt_ctx_destroy(&ahead);
	free_all((crdt_cart[]){ a, b, d, late, before, none }, 6);
}
END_TEST

/* close ∥ add and close ∥ remove: writes the checkout did not see never
 * change its order; they show as late items at every replica. */
START_TEST(close_concurrent_with_add_and_remove)
{
	crdt_cart a = fresh(), b = fresh(), d = fresh(), dc = fresh(), dadd = fresh(), drm = fresh();
	tu_add(&a, SEM_A, "X", 2, &d);
	tu_join(&b, &d);
	tu_add(&a, SEM_A, "Y", 1, &d);
	tu_join(&b, &d);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLOSE, NULL, 0, NULL, NULL, 7, &dc), 0);
	tu_add(&b, SEM_B, "Z", 5, &dadd);       /* close ∥ add */
	tu_remove(&b, "Y", NULL, &drm);         /* close ∥ remove */
	tu_join(&a, &dadd);
	tu_join(&a, &drm);
	tu_join(&b, &dc);
	tu_assert_converged(&a, &b, "after the partition");
	const crdt_close *m = &b.closes->v[0];
	ck_assert_uint_eq(m->total, 2);
	ck_assert_uint_eq(crdt_close_held(m), 2);
	crdt_cart late = fresh(), gone = fresh();
	ck_assert_int_eq(crdt_cart_late_added(&b, &late), 0);
	ck_assert_uint_eq(late.n, 1);
	ck_assert_uint_eq(tu_qty(&late, "Z"), 5);
	ck_assert_int_eq(crdt_close_late_removed(&b, m, &gone), 0);
	ck_assert_uint_eq(gone.n, 1);
	ck_assert_uint_eq(tu_qty(&gone, "Y"), 1);
	/* The live lines moved on; the order did not. */
	ck_assert_uint_eq(tu_qty(&b, "Y"), 0);
	ck_assert_uint_eq(tu_qty(&b, "Z"), 5);
	free_all((crdt_cart[]){ a, b, d, dc, dadd, drm, late, gone }, 8);
}
END_TEST

/* close ∥ close: both orders stay, at both replicas. */
START_TEST(close_concurrent_with_close)
{
	crdt_cart a = fresh(), b = fresh(), d = fresh(), da = fresh(), db = fresh(), dy = fresh();
	tu_add(&a, SEM_A, "X", 2, &d);
	tu_join(&b, &d);
	tu_add(&b, SEM_B, "Y", 1, &dy);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLOSE, NULL, 0, NULL, NULL, 10, &da), 0);
	ck_assert_int_eq(keyed(&b, SEM_B, CRDT_OP_CLOSE, NULL, 0, NULL, NULL, 11, &db), 0);
	tu_join(&a, &db);
	tu_join(&a, &dy);                 /* late at A: its order never saw Y */
	tu_join(&b, &da);
	tu_assert_converged(&a, &b, "two checkouts");
	ck_assert_uint_eq(crdt_cart_ncloses(&a), 2);
	/* Ordered by id: B's id (replica SEM_B) sorts first. */
	ck_assert_uint_eq(a.closes->v[0].id.replica, SEM_B);
	ck_assert_uint_eq(a.closes->v[0].total, 2);
	ck_assert_uint_eq(a.closes->v[1].total, 1);
	crdt_cart late = fresh();
	ck_assert_int_eq(crdt_cart_late_added(&a, &late), 0);
	ck_assert_uint_eq(late.n, 0);     /* B's order holds Y */
	free_all((crdt_cart[]){ a, b, d, da, db, dy, late }, 7);
}
END_TEST

/* A keyed checkout is found by its key and is a replay when retried. */
START_TEST(keyed_checkout_replays)
{
	crdt_cart a = fresh();
	tu_add(&a, SEM_A, "X", 2, NULL);
	crdt_keyrec k = rec(10, 3, 50);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLOSE, NULL, 0, NULL, &k, 50, NULL), 0);
	const crdt_close *m = crdt_cart_close_by_key(&a, k.dot);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->total, 1);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLOSE, NULL, 0, NULL, &k, 60, NULL),
	                 CARTD_EIDEMPOTENT);
	crdt_dot none = { 1, 1 };
	ck_assert_ptr_null(crdt_cart_close_by_key(&a, none));
	crdt_cart_destroy(&a);
}
END_TEST

/* Records and markers survive the canonical encoding, and the split:
 * every piece fits the budget and is valid, and the pieces joined in any
 * order give back the cart; a marker joined from part of its fragments is
 * incomplete. */
START_TEST(marks_encode_split_join)
{
	crdt_cart a = fresh();
	char sku[16];
	for (unsigned i = 0; i < 40; i++) {
		snprintf(sku, sizeof sku, "sku-%02u", i);
		crdt_keyrec k = rec((uint8_t)(i + 1), 1 + i, 100 + i);
		for (unsigned j = 0; j < 1 + i % 4; j++)
			tu_add(&a, SEM_A, sku, 1 + j, NULL);
		ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, sku, 3, NULL, &k, 0, NULL), 0);
	}
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_CLOSE, NULL, 0, NULL, NULL, 999, NULL), 0);
	tu_add(&a, SEM_B, "late", 1, NULL);   /* a replica that had not seen it */
	tb bytes;
	tb_init(&bytes);
	tu_encode(&a, &bytes);
	crdt_cart back = fresh();
	ck_assert_int_eq(crdt_cart_from_bytes(bytes.p, bytes.len, &back), 0);
	tu_assert_converged(&a, &back, "decoded");
	crdt_cart *pieces;
	size_t n;
	ck_assert_int_eq(crdt_cart_split(&a, CRDT_MIN_PIECE_BUDGET, &pieces, &n), 0);
	test_rng rng;
	test_rng_seed(&rng, 0x5EED);
	crdt_cart part = fresh(), all = fresh();
	unsigned fragments = 0;
	for (size_t i = 0; i < n; i++) {
		tu_encode(&pieces[i], &bytes);
		ck_assert_uint_le(bytes.len, CRDT_MIN_PIECE_BUDGET);
		ck_assert(crdt_cart_valid(&pieces[i]));
		fragments += crdt_cart_ncloses(&pieces[i]);
	}
	ck_assert_uint_gt(fragments, 1);
	size_t order[512];
	ck_assert_uint_le(n, 512);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	test_rng_shuffle(&rng, order, n);
	for (size_t i = 0; i < n; i++)
		tu_join(&all, &pieces[order[i]]);
	tu_assert_converged(&all, &a, "all pieces");
	bool first_fragment = true;
	for (size_t i = 0; i < n; i++) {
		if (pieces[i].closes && first_fragment) {
			first_fragment = false;
			tu_join(&part, &pieces[i]);
		}
	}
	ck_assert(crdt_cart_closed(&part));
	ck_assert_uint_lt(crdt_close_held(&part.closes->v[0]), part.closes->v[0].total);
	tb_free(&bytes);
	crdt_pieces_free(pieces, n);
	free_all((crdt_cart[]){ a, back, part, all }, 4);
}
END_TEST

/* The decoder takes records and markers only in their canonical form. */
START_TEST(marks_decoder_strict)
{
	crdt_cart a = fresh(), out = fresh();
	crdt_keyrec k1 = rec(1, 1, 10), k2 = rec(2, 1, 20);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "X", 1, NULL, &k2, 0, NULL), 0);
	ck_assert_int_eq(keyed(&a, SEM_A, CRDT_OP_ADD, "Y", 1, NULL, &k1, 0, NULL), 0);
	tb b;
	tb_init(&b);
	tu_encode(&a, &b);
	/* The records section starts after the (empty) deferred removes: find
	 * the two records (27 + bytes each) by their hashes and swap them. */
	size_t at = 0;
	for (size_t i = 0; i + CRDT_KEY_HASH_BYTES <= b.len; i++)
		if (b.p[i] == 1 && memcmp(&b.p[i], k1.hash, CRDT_KEY_HASH_BYTES) == 0) {
			at = i;
			break;
		}
	ck_assert_uint_gt(at, 0);
	ck_assert_uint_eq(b.p[at - 1], 2);          /* the record count */
	/* Each record here is 16 + 8 + 1 + 1 + 4 bytes (at 10/20 is one byte,
	 * the window a 4-byte varint). */
	size_t len = CRDT_KEY_HASH_BYTES + 8 + 1 + 1 + 4;
	uint8_t tmp[64];
	memcpy(tmp, &b.p[at], len);
	memcpy(&b.p[at], &b.p[at + len], len);
	memcpy(&b.p[at + len], tmp, len);
	ck_assert_int_eq(crdt_cart_from_bytes(b.p, b.len, &out), CARTD_ENONCANON);
	ck_assert(crdt_cart_empty(&out));
	/* A zero counter in a record is impossible. */
	tu_encode(&a, &b);
	b.p[at + CRDT_KEY_HASH_BYTES + 8] = 0;
	ck_assert_int_eq(crdt_cart_from_bytes(b.p, b.len, &out), CARTD_EBADVALUE);
	/* A window that overflows 64 bits. */
	crdt_cart c = fresh();
	crdt_keyrec huge = rec(3, 1, UINT64_MAX - 5);
	huge.until_ms = UINT64_MAX;
	ck_assert_int_eq(keyed(&c, SEM_A, CRDT_OP_ADD, "X", 1, NULL, &huge, 0, NULL), 0);
	tu_encode(&c, &b);
	crdt_cart back = fresh();
	ck_assert_int_eq(crdt_cart_from_bytes(b.p, b.len, &back), 0);
	tu_assert_converged(&c, &back, "boundary times");
	b.p[b.len - 2] = 0x7f;   /* the window's last byte (before the marker count) */
	int rc = crdt_cart_from_bytes(b.p, b.len, &out);
	ck_assert(rc == CARTD_EBADVALUE || rc == CARTD_EVARINT);
	tb_free(&b);
	free_all((crdt_cart[]){ a, out, c, back }, 4);
}
END_TEST

/* Random keyed writes, retries at other replicas, removes under tokens
 * and checkouts at three replicas, with deltas delivered in random order,
 * duplicated or late: all replicas converge, and every keyed add counts
 * at most once however many replicas made it. */
struct rx {
	crdt_cart r[3];
	crdt_cart log[400];
	unsigned from[400];
	size_t nlog;
};

static void rx_case(test_rng *rng, void *arg)
{
	(void)arg;
	static struct rx x;
	uint64_t ids[3] = { SEM_A, SEM_B, SEM_C };
	for (int i = 0; i < 3; i++)
		crdt_cart_init(&x.r[i]);
	x.nlog = 0;
	unsigned nops = 20 + (unsigned)test_rng_below(rng, 60);
	for (unsigned op = 0; op < nops && x.nlog < 400; op++) {
		unsigned at = (unsigned)test_rng_below(rng, 3);
		crdt_cart *c = &x.r[at];
		/* Deliver something old first, sometimes. */
		if (x.nlog && test_rng_pct(rng, 60))
			tu_join(c, &x.log[test_rng_below(rng, x.nlog)]);
		crdt_cart *d = &x.log[x.nlog];
		crdt_cart_init(d);
		unsigned kind = (unsigned)test_rng_below(rng, 10);
		/* Keys 1..6: few, so retries of the same request happen at
		 * several replicas; the dot is a function of the key alone,
		 * as H(cart, key, request) is for one request. */
		uint8_t key = (uint8_t)(1 + test_rng_below(rng, 6));
		crdt_keyrec k = rec(key, key, 1000 + op);
		char sku[2] = { (char)('A' + key % 3), 0 };
		int rc;
		if (kind < 6)
			rc = keyed(c, ids[at], CRDT_OP_ADD, sku, key, NULL, &k, 0, d);
		else if (kind < 8) {
			crdt_ctx tok;
			crdt_ctx_init(&tok);
			ck_assert_int_eq(crdt_ctx_copy(&tok, &x.r[test_rng_below(rng, 3)].ctx), 0);
			crdt_op o = { CRDT_OP_REMOVE, sku, 1, 0, &tok, NULL, 0 };
			/* A token from another replica may name this one's future. */
			rc = crdt_cart_apply(c, ids[at], &o, d);
			crdt_ctx_destroy(&tok);
		} else if (kind < 9)
			rc = keyed(c, ids[at], CRDT_OP_ADD, sku, 1, NULL, NULL, 0, d);
		else
			rc = keyed(c, ids[at], CRDT_OP_CLOSE, NULL, 0, NULL, NULL, op, d);
		ck_assert_msg(rc == 0 || rc == CARTD_EIDEMPOTENT || rc == CARTD_ECLOSED ||
		              rc == CARTD_EEMPTYCART || rc == CARTD_ETOKENFUTURE,
		              "op %u kind %u: rc %d", op, kind, rc);
		if (rc == 0 && !crdt_cart_empty(d))
			x.from[x.nlog++] = at;
		else
			crdt_cart_destroy(d);
	}
	static size_t order[400];
	for (int i = 0; i < 3; i++) {
		for (size_t j = 0; j < x.nlog; j++)
			order[j] = j;
		test_rng_shuffle(rng, order, x.nlog);
		for (size_t j = 0; j < x.nlog; j++)
			tu_join(&x.r[i], &x.log[order[j]]);
	}
	tu_assert_converged(&x.r[0], &x.r[1], "replicas 0 and 1");
	tu_assert_converged(&x.r[0], &x.r[2], "replicas 0 and 2");
	/* Each key's entry (its dot) is live at most once, in one line. */
	for (uint8_t key = 1; key <= 6; key++) {
		crdt_dot dot = rec(key, key, 0).dot;
		unsigned seen = 0;
		for (uint32_t i = 0; i < x.r[0].n; i++) {
			const crdt_line *l = &x.r[0].lines[i];
			for (uint16_t e = 0; e < l->n; e++)
				seen += crdt_dot_cmp(crdt_entry_dot(&crdt_line_entries(l)[e]), dot) == 0;
		}
		ck_assert_uint_le(seen, 1);
	}
	for (int i = 0; i < 3; i++)
		crdt_cart_destroy(&x.r[i]);
	free_all(x.log, x.nlog);
}

START_TEST(random_exchanges_converge)
{
	test_run_cases("marks_random_exchanges", 300, rx_case, NULL);
}
END_TEST

Suite *marks_suite(void);

Suite *marks_suite(void)
{
	Suite *s = suite_create("marks");
	TCase *tc = tcase_create("idempotency");
	tcase_add_test(tc, retry_applies_once);
	tcase_add_test(tc, key_reused_for_another_request);
	tcase_add_test(tc, attempts_at_two_peers_count_once);
	tcase_add_test(tc, remove_of_one_attempt_removes_all);
	tcase_add_test(tc, keyed_remove_clear_set_replay);
	tcase_add_test(tc, records_pruned_the_same_everywhere);
	tcase_add_test(tc, records_pruned_by_window);
	suite_add_tcase(s, tc);
	tc = tcase_create("checkout");
	tcase_add_test(tc, checkout_freezes_and_refuses);
	tcase_add_test(tc, checkout_with_token);
	tcase_add_test(tc, close_concurrent_with_add_and_remove);
	tcase_add_test(tc, close_concurrent_with_close);
	tcase_add_test(tc, keyed_checkout_replays);
	suite_add_tcase(s, tc);
	tc = tcase_create("encoding");
	tcase_add_test(tc, marks_encode_split_join);
	tcase_add_test(tc, marks_decoder_strict);
	tcase_add_test(tc, random_exchanges_converge);
	suite_add_tcase(s, tc);
	return s;
}
