/*
 * sim_write.c - client writes at simulated peers and their commits (the
 * durability rule is described in sim_peer.c).
 *
 * Random writes favour few skus per cart, so lines pile up entries, and a
 * third of the removes and clears carry a client's read token taken from
 * some live peer (what that peer would hand out: only durable dots), or,
 * half of the time, one read earlier and kept across cuts and crashes: the
 * client's observation, not the writing peer's.  The hot cart, the last
 * one when the schedule has it, only gets adds, at every peer.  A share
 * of the writes (hot adds too) carry an idempotency key: sim_keyed.c
 * sends and retries those.
 *
 * Every write is checked against the closed-cart rule as it is answered:
 * a peer holding a checkout's marker refuses it (docs/semantics.md §11).
 *
 * Clients whose write was lost in a crash retry it at the same peer as
 * soon as it is back: the restarted replica then makes its next dots for
 * that cart at once, which is when a dot that escaped before the crash
 * would be reused (the hazard engine_local_write's mark exists to prevent).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "tests/sim_internal.h"

/* Index of cart id among the clients' carts, or SIM_NO_OP. */
static uint32_t cart_index(const sim *s, const char *id, size_t len)
{
	for (unsigned i = 0; i < s->p.ncarts; i++)
		if (strlen(s->cart_ids[i]) == len && memcmp(s->cart_ids[i], id, len) == 0)
			return i;
	return SIM_NO_OP;
}

/* Is cart id closed at p: has some marker (even a fragment) arrived? */
static bool closed_at(const sim_peer *p, const char *id, size_t len)
{
	crdt_item it;
	return crdt_store_get(p->store, id, len, &it) == 0 && crdt_cart_closed(it.cart);
}

/* A peer holding a marker refuses every write (docs/semantics.md §11); a
 * keyed one may be answered first by its key (a replay, a reused key). */
static void check_closed(sim *s, const sim_peer *p, const char *id, const crdt_op *op,
                         bool closed, int rc)
{
	bool keyed_answer = op->key && (rc == CARTD_EIDEMPOTENT || rc == CARTD_EKEYREUSED);
	s->st.closed_refused += rc == CARTD_ECLOSED;
	if (closed && rc != CARTD_ECLOSED && !keyed_answer)
		sim_problem(&s->during, "t=%" PRIu64 "ms peer %u: cart %s holds an order, yet a "
		            "write of kind %d was answered %s", s->now, p->idx, id, (int)op->kind,
		            rc ? cartd_errname(rc) : "ok");
	if (!closed && rc == CARTD_ECLOSED)
		sim_problem(&s->during, "t=%" PRIu64 "ms peer %u: cart %s refused as closed, but "
		            "it holds no order", s->now, p->idx, id);
}

int sim_client_apply(sim *s, sim_peer *p, const char *id, size_t len, const crdt_op *op,
                     uint32_t req, uint32_t *op_no)
{
	*op_no = SIM_NO_OP;
	sim_commit *c = calloc(1, sizeof *c);
	if (c == NULL || len > CRDT_MAX_NAME)
		sim_die("write", CARTD_ENOMEM);
	crdt_cart_init(&c->delta);
	bool closed = closed_at(p, id, len);
	crdt_id key;   /* checked and hashed once, as at cartd's HTTP edge */
	int rc = crdt_id_make(&key, id, len);
	if (rc)
		sim_die("cart id", rc);
	rc = engine_local_write(p->e, &key, op, &c->delta);
	check_closed(s, p, id, op, closed, rc);
	if (rc) {
		/* line_full is a refusal like any other: nothing changed, and
		 * the client was told (the add-only oracle counts acks only). */
		s->st.writes_failed++;
		s->st.refused_full += rc == CARTD_ELINEFULL;
		sim_free_commit(c);
		return rc;
	}
	s->st.deferred_removes += c->delta.defer != NULL;
	uint32_t cart = cart_index(s, id, len);
	if (cart != SIM_NO_OP) {
		if ((rc = sim_oracle_applied(&s->oracle, cart, p->idx, (uint8_t)op->kind, s->now,
		                             &c->delta, op_no)) != 0)
			sim_die("oracle", rc);
		s->oracle.ops[*op_no].req = req;
		if (op->kind == CRDT_OP_CLOSE)
			sim_close_applied(s, p, cart, op, &c->delta, *op_no);
	}
	memcpy(c->id, id, len);
	c->id_len = len;
	c->id_hash = key.hash;
	/* group commit: durable after a delay, never before an earlier write */
	uint64_t at = s->now + sim_below(&s->rng, (uint64_t)s->p.commit_ms + 1);
	if (at < p->last_commit)
		at = p->last_commit;
	p->last_commit = at;
	p->pending++;
	s->st.writes_applied++;
	sim_event ev = { .at = at, .kind = SIM_EV_COMMIT, .peer = (uint16_t)p->idx,
	                 .gen = p->gen, .arg = *op_no, .data = c };
	sim_schedule(s, &ev);
	return 0;
}

static int apply_write(sim *s, sim_peer *p, const char *id, size_t len, const crdt_op *op)
{
	uint32_t op_no;
	return sim_client_apply(s, p, id, len, op, SIM_NO_OP, &op_no);
}

int sim_write(sim *s, unsigned peer, const char *cart, const crdt_op *op)
{
	if (peer >= s->n || !s->peer[peer].up)
		return CARTD_EINVAL;
	return apply_write(s, &s->peer[peer], cart, strlen(cart), op);
}

void sim_peer_commit(sim *s, const sim_event *ev)
{
	sim_peer *p = &s->peer[ev->peer];
	sim_commit *c = ev->data;
	/* the peer crashed before the commit: the oracle settled the write */
	if (!p->up || ev->gen != p->gen) {
		sim_free_commit(c);
		return;
	}
	sim_peer_write_disk(s, p, c->id, c->id_len);
	crdt_id key = crdt_id_of(c->id, c->id_len, c->id_hash);
	int rc = engine_write_done(p->e, &key, &c->delta, s->now);
	if (rc)
		sim_die("engine_write_done", rc);
	p->pending--;
	s->st.writes_acked++;
	if (ev->arg != SIM_NO_OP && (rc = sim_oracle_acked(&s->oracle, ev->arg)) != 0)
		sim_die("oracle", rc);
	sim_free_commit(c);
	sim_arm(s, p);
	if (ev->arg != SIM_NO_OP && s->oracle.ops[ev->arg].req != SIM_NO_OP)
		sim_keyed_committed(s, p, ev->arg);
}

unsigned sim_pick_up(sim *s)
{
	unsigned up = 0;
	for (unsigned i = 0; i < s->n; i++)
		up += s->peer[i].up;
	if (up == 0)
		return s->n;
	unsigned k = (unsigned)sim_below(&s->rng, up);
	for (unsigned i = 0; i < s->n; i++)
		if (s->peer[i].up && k-- == 0)
			return i;
	return s->n;
}

void sim_token_at(sim *s, unsigned pi, unsigned cart, crdt_ctx *out)
{
	crdt_item it;
	crdt_ctx empty;
	crdt_ctx_init(&empty);
	const char *id = s->cart_ids[cart];
	sim_peer *p = &s->peer[pi];
	const crdt_ctx *ctx = crdt_store_get(p->store, id, strlen(id), &it) == 0 ? &it.cart->ctx
	                                                                          : &empty;
	crdt_id key;
	if (crdt_id_make(&key, id, strlen(id)) != 0 || engine_token_ctx(p->e, &key, ctx, out) != 0)
		sim_die("token", CARTD_ENOMEM);
}

/* A read token: what a random live peer would hand out for the cart (its
 * context less its own writes not yet durable: engine_token_ctx; empty if
 * it has no such cart).  Half of the time it is kept for a later write. */
static void read_token(sim *s, unsigned cart, crdt_ctx *out)
{
	sim_token_at(s, sim_pick_up(s), cart, out);
	if (sim_pct(&s->rng, 50) && crdt_ctx_copy(&s->kept[cart], out) != 0)
		sim_die("token", CARTD_ENOMEM);
}

/* The token of a remove or clear: a kept one (read before cuts, crashes
 * and other writes), or one read now. */
static void client_token(sim *s, unsigned cart, crdt_ctx *out)
{
	if (!crdt_ctx_empty(&s->kept[cart]) && sim_pct(&s->rng, s->p.token_keep_pct)) {
		s->st.old_tokens++;
		if (crdt_ctx_copy(out, &s->kept[cart]) != 0)
			sim_die("token", CARTD_ENOMEM);
		return;
	}
	read_token(s, cart, out);
}

/* An add of 1..max_add to a random line of the hot cart. */
static void hot_add(sim *s, unsigned peer)
{
	char sku[16];
	snprintf(sku, sizeof sku, "h%u", (unsigned)sim_below(&s->rng, s->p.hot_skus));
	crdt_op op = { .kind = CRDT_OP_ADD, .sku = sku, .sku_len = strlen(sku),
	               .qty = (uint32_t)sim_range(&s->rng, 1, s->p.max_add) };
	uint32_t cart = s->p.ncarts - 1;
	if (sim_pct(&s->rng, s->p.hot_keyed_pct)) {
		sim_keyed_start(s, peer, cart, &op, true, 0);
		return;
	}
	const char *id = s->cart_ids[cart];
	apply_write(s, &s->peer[peer], id, strlen(id), &op);
}

void sim_plan_retries(sim *s, sim_peer *p)
{
	uint32_t carts[2];
	size_t n = sim_oracle_lost_carts(&s->oracle, p->idx, carts, 2);
	for (size_t i = 0; i < n; i++) {
		sim_event ev = { .at = s->now + sim_below(&s->rng, 20), .kind = SIM_EV_WRITE,
		                 .peer = (uint16_t)p->idx, .gen = p->gen,
		                 .arg = SIM_RETRY | carts[i] };
		sim_schedule(s, &ev);
	}
}

/* A random write to cold cart at peer pi: an add, set, remove or clear,
 * some removes and clears under a token, some sent with a key. */
static void cold_write(sim *s, unsigned pi, unsigned cart)
{
	const char *id = s->cart_ids[cart];
	char sku[16];
	snprintf(sku, sizeof sku, "s%u", (unsigned)sim_below(&s->rng, s->p.nskus));
	crdt_op op = { .sku = sku, .sku_len = strlen(sku) };
	/* the rest: 40% sets, 40% removes, 20% clears */
	unsigned r = (unsigned)sim_below(&s->rng, 100), rest = 100 - s->p.add_pct;
	op.kind = r < s->p.add_pct ? CRDT_OP_ADD
	        : r < s->p.add_pct + rest * 2 / 5 ? CRDT_OP_SET
	        : r < s->p.add_pct + rest * 4 / 5 ? CRDT_OP_REMOVE : CRDT_OP_CLEAR;
	op.qty = op.kind == CRDT_OP_ADD ? (uint32_t)sim_range(&s->rng, 1, s->p.max_add)
	                                : (uint32_t)sim_below(&s->rng, 10);
	crdt_ctx token;
	crdt_ctx_init(&token);
	if ((op.kind == CRDT_OP_REMOVE || op.kind == CRDT_OP_CLEAR) && sim_pct(&s->rng, 33)) {
		client_token(s, cart, &token);
		op.observed = &token;
	}
	if (sim_pct(&s->rng, s->p.keyed_pct)) {
		uint8_t flags = sim_pct(&s->rng, s->p.hedge_pct) ? SIM_REQ_HEDGE : 0;
		if (op.kind == CRDT_OP_ADD && sim_pct(&s->rng, s->p.tokrem_pct))
			flags |= SIM_REQ_TOKREM;
		sim_keyed_start(s, pi, cart, &op, true, flags);
	} else {
		apply_write(s, &s->peer[pi], id, strlen(id), &op);
	}
	crdt_ctx_destroy(&token);
}

void sim_peer_client_write(sim *s, const sim_event *ev)
{
	uint32_t a = ev->arg;
	if (a & SIM_KEYED) {
		sim_keyed_attempt(s, ev);
		return;
	}
	if (a & SIM_TOKREM) {
		sim_keyed_tokrem(s, ev);
		return;
	}
	if (a & SIM_CLOSE) {
		sim_close_start(s, ev);
		return;
	}
	bool at = (a & (SIM_RETRY | SIM_AT)) != 0;
	unsigned pi = at ? ev->peer : sim_pick_up(s);
	if (pi == s->n || !s->peer[pi].up || ((a & SIM_RETRY) && ev->gen != s->peer[pi].gen) ||
	    ((a & SIM_AT) && s->now >= s->p.active_ms)) {
		s->st.writes_skipped++;
		return;
	}
	unsigned cold = s->p.ncarts - (s->p.hot_skus ? 1 : 0);
	unsigned cart = at ? a & SIM_INDEX : (unsigned)sim_below(&s->rng, cold);
	if (a == SIM_HOT || cart >= cold)
		hot_add(s, pi);
	else
		cold_write(s, pi, cart);
}
