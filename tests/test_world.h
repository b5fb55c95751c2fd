/*
 * test_world.h - a small universe of cart replicas for property tests: 3-5
 * implementation carts driven by random operations, each shadowed by the
 * reference model (test_model.h), with a message pool that loses,
 * duplicates and reorders deltas and state copies.
 *
 * Every operation and every delivery is checked against the model (the
 * operation's delta included) when tw.check is set.
 */
#ifndef TEST_WORLD_H
#define TEST_WORLD_H

#include <stdbool.h>
#include <stddef.h>

#include "crdt/cart.h"
#include "tests/test_model.h"
#include "tests/test_rng.h"

#define TW_MAX_TOKENS 8

typedef struct tw_msg {
	crdt_cart cart;
	tm_state model;
	unsigned to;
} tw_msg;

/* A client's read token: the observed context at some replica and time. */
typedef struct tw_token {
	crdt_ctx ctx;
	tm_set model;
} tw_token;

/* Coverage counters, to assert the generator reaches the cases it should. */
typedef struct tw_stats {
	unsigned long ops, deliveries, deferred, token_ops, clouds, clamps;
	unsigned long spurious_changed;     /* joins that said changed but were not */
} tw_stats;

typedef struct tw {
	test_rng *rng;
	tm_world *m;
	unsigned n;
	crdt_cart cart[TM_MAX_REPLICAS];
	tm_state st[TM_MAX_REPLICAS];
	tw_msg *pool;
	size_t npool, cap;
	tw_token tok[TW_MAX_TOKENS];
	unsigned ntok;
	unsigned loss, dup;     /* percent */
	unsigned adds;          /* percent of operations that are adds */
	bool check;             /* compare with the model after every step */
	bool strict_changed;    /* also fail when a join reports a change that
	                         * did not happen (off: only counted) */
	tw_stats stats;
} tw;

/* nrep in 1..TM_MAX_REPLICAS; random ids, sku alphabet, loss and dup. */
void tw_init(tw *w, test_rng *rng, unsigned nrep);
void tw_destroy(tw *w);

/* One random local operation at replica r; its delta goes to the pool unless
 * delta/mdelta are given (then it is returned there and not sent). */
void tw_op(tw *w, unsigned r, crdt_cart *delta, tm_state *mdelta);
/* Queues a copy of (c, m) from replica from to every other replica, subject
 * to loss and duplication. */
void tw_send(tw *w, unsigned from, const crdt_cart *c, const tm_state *m);
/* Joins (c, m) into replica r and checks the changed flag and the model. */
void tw_join(tw *w, unsigned r, const crdt_cart *c, const tm_state *m);
/* Delivers one random pooled message (no-op on an empty pool). */
void tw_deliver(tw *w);
/* A random action: an operation, a delivery, or a state push. */
void tw_step(tw *w);
/* Full state exchange; afterwards every replica is byte-identical and
 * equal to the model, and delivering the stale pool changes nothing. */
void tw_exchange(tw *w);

#endif
