/*
 * test_world_ops.c - the random local operations of the test universe: add,
 * set, decrement, remove and clear (with and without a client's read
 * token), taking a token, and reloading a replica from its encoding.
 */
#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "tests/test_util.h"
#include "tests/test_world.h"

static uint32_t rand_add(test_rng *rng)
{
	unsigned k = (unsigned)test_rng_below(rng, 100);
	if (k < 75)
		return (uint32_t)test_rng_range(rng, 1, 3);
	if (k < 92)
		return (uint32_t)test_rng_range(rng, 1, 1000);
	return (uint32_t)test_rng_range(rng, CRDT_MAX_QTY - 10, CRDT_MAX_QTY);
}

static uint32_t rand_set(test_rng *rng)
{
	unsigned k = (unsigned)test_rng_below(rng, 100);
	if (k < 15)
		return 0;
	if (k < 85)
		return (uint32_t)test_rng_range(rng, 1, 6);
	return (uint32_t)test_rng_range(rng, CRDT_MAX_QTY - 5, CRDT_MAX_QTY);
}

static void take_token(tw *w, unsigned r)
{
	tw_token *t;
	if (w->ntok < TW_MAX_TOKENS) {
		t = &w->tok[w->ntok++];
		crdt_ctx_init(&t->ctx);
	} else {
		t = &w->tok[test_rng_below(w->rng, TW_MAX_TOKENS)];
	}
	T_ASSERT(crdt_ctx_copy(&t->ctx, &w->cart[r].ctx) == 0, "crdt_ctx_copy failed");
	t->model = w->st[r].seen;
}

/* A token to use (NULL for none): half the time, if any was taken. */
static const tw_token *maybe_token(tw *w)
{
	if (w->ntok == 0 || test_rng_pct(w->rng, 50))
		return NULL;
	w->stats.token_ops++;
	return &w->tok[test_rng_below(w->rng, w->ntok)];
}

/* A restart: the replica's cart is replaced by the decoding of its bytes. */
static void reload(tw *w, unsigned r)
{
	buf_writer bw;
	buf_writer_init(&bw);
	crdt_encode_cart(&bw, &w->cart[r]);
	T_ASSERT(bw.err == 0, "encode failed");
	crdt_cart fresh;
	crdt_cart_init(&fresh);
	int rc = crdt_cart_from_bytes(bw.data, bw.len, &fresh);
	buf_writer_destroy(&bw);
	T_ASSERT(rc == 0, "decoding a replica's own encoding returned %d", rc);
	T_ASSERT(crdt_cart_equal(&fresh, &w->cart[r]), "reloaded cart differs");
	crdt_cart_destroy(&w->cart[r]);
	w->cart[r] = fresh;
}

/* The add as the store makes it (crdt_cart_apply, which writes an unkeyed
 * add in place), checked against the add built as a delta and joined
 * (crdt_cart_add) on a copy: the same result, cart, delta and error. */
static int op_add(tw *w, unsigned r, unsigned s, crdt_cart *d, tm_state *md)
{
	const char *sku = w->m->sku[s];
	uint32_t n = rand_add(w->rng);
	bool ok = tm_add(w->m, &w->st[r], r, s, n, md);
	crdt_cart ref = tu_copy(&w->cart[r]), ref_d;
	crdt_cart_init(&ref_d);
	int ref_rc = crdt_cart_add(&ref, w->m->ids[r], sku, strlen(sku), n, d ? &ref_d : NULL);
	crdt_op op = { CRDT_OP_ADD, sku, strlen(sku), n, NULL, NULL, 0 };
	int rc = crdt_cart_apply(&w->cart[r], w->m->ids[r], &op, d);
	T_ASSERT(rc == ref_rc, "replica %u add %u of %s: %d, built and joined %d", r, n, sku, rc,
	         ref_rc);
	T_ASSERT(crdt_cart_valid(&w->cart[r]) && crdt_cart_equal(&w->cart[r], &ref) &&
	         tu_same_bytes(&w->cart[r], &ref),
	         "replica %u add %u of %s: the cart differs from the built and joined add", r, n,
	         sku);
	T_ASSERT(d == NULL || (crdt_cart_equal(d, &ref_d) && tu_same_bytes(d, &ref_d)),
	         "replica %u add %u of %s: the delta differs from the built one", r, n, sku);
	crdt_cart_destroy(&ref);
	crdt_cart_destroy(&ref_d);
	/* A full line refuses the add, exactly when the model says so. */
	return !ok && rc == CARTD_ELINEFULL ? 0 : rc;
}

static int op_set(tw *w, unsigned r, unsigned s, uint32_t q, crdt_cart *d, tm_state *md)
{
	const char *sku = w->m->sku[s];
	tm_set_qty(w->m, &w->st[r], r, s, q, md);
	return crdt_cart_set(&w->cart[r], w->m->ids[r], sku, strlen(sku), q, d);
}

/* Decrement as a client does it: read the quantity, write it minus one. */
static int op_decrement(tw *w, unsigned r, unsigned s, crdt_cart *d, tm_state *md)
{
	const char *sku = w->m->sku[s];
	const crdt_line *l = crdt_cart_find(&w->cart[r], sku, strlen(sku));
	uint32_t q = l ? crdt_line_qty(l) : 0;
	T_ASSERT(q == tm_qty(w->m, &w->st[r], s), "replica %u sku %s: qty %u, model %u",
	         r, sku, q, tm_qty(w->m, &w->st[r], s));
	if (q == 0)
		return op_add(w, r, s, d, md);
	return op_set(w, r, s, q - 1, d, md);
}

static int op_remove(tw *w, unsigned r, unsigned s, crdt_cart *d, tm_state *md)
{
	const char *sku = w->m->sku[s];
	const tw_token *t = maybe_token(w);
	tm_remove(w->m, &w->st[r], s, t ? &t->model : NULL, md);
	return crdt_cart_remove(&w->cart[r], sku, strlen(sku), t ? &t->ctx : NULL, d);
}

static int op_clear(tw *w, unsigned r, crdt_cart *d, tm_state *md)
{
	const tw_token *t = maybe_token(w);
	tm_clear(w->m, &w->st[r], t ? &t->model : NULL, md);
	return crdt_cart_clear(&w->cart[r], t ? &t->ctx : NULL, d);
}

static int do_op(tw *w, unsigned r, crdt_cart *d, tm_state *md)
{
	unsigned s = (unsigned)test_rng_below(w->rng, w->m->nsku);
	if (test_rng_pct(w->rng, w->adds))
		return op_add(w, r, s, d, md);
	unsigned k = 40 + (unsigned)test_rng_below(w->rng, 60);
	if (k < 54)
		return op_set(w, r, s, rand_set(w->rng), d, md);
	if (k < 62)
		return op_decrement(w, r, s, d, md);
	if (k < 78)
		return op_remove(w, r, s, d, md);
	if (k < 84)
		return op_clear(w, r, d, md);
	if (k < 94)
		take_token(w, r);
	else
		reload(w, r);
	return 0;
}

void tw_op(tw *w, unsigned r, crdt_cart *delta, tm_state *mdelta)
{
	crdt_cart d;
	tm_state md;
	crdt_cart_init(&d);
	tm_state_clear(&md);
	int rc = do_op(w, r, &d, &md);
	T_ASSERT(rc == 0, "operation at replica %u returned %d", r, rc);
	w->stats.ops++;
	for (unsigned s = 0; s < w->m->nsku; s++)
		w->stats.clamps += tm_qty(w->m, &w->st[r], s) == CRDT_MAX_QTY;
	if (w->check) {
		tm_check(w->m, &w->st[r], &w->cart[r], "replica after local operation");
		tm_check(w->m, &md, &d, "delta of local operation");
	}
	if (delta) {
		crdt_cart_destroy(delta);
		*delta = d;
		*mdelta = md;
		return;
	}
	if (!crdt_cart_empty(&d))
		tw_send(w, r, &d, &md);
	crdt_cart_destroy(&d);
}
