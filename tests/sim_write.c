/*
 * sim_write.c - client writes at simulated peers and their commits (the
 * durability rule is described in sim_peer.c).
 *
 * Random writes favour few skus per cart, so lines pile up entries, and a
 * third of the removes and clears carry a client's read token taken from
 * some live peer (what that peer would hand out: only durable dots), or,
 * half of the time, one read earlier and kept across cuts and crashes: the
 * client's observation, not the writing peer's.  The hot cart, the last
 * one when the schedule has it, only gets adds, at every peer.
 *
 * Clients whose write was lost in a crash retry it at the same peer as
 * soon as it is back: the restarted replica then makes its next dots for
 * that cart at once, which is when a dot that escaped before the crash
 * would be reused (the hazard engine_local_write's mark exists to prevent).
 */
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

static int apply_write(sim *s, sim_peer *p, const char *id, size_t len, const crdt_op *op)
{
	sim_commit *c = calloc(1, sizeof *c);
	if (c == NULL || len > CRDT_MAX_NAME)
		sim_die("write", CARTD_ENOMEM);
	crdt_cart_init(&c->delta);
	int rc = engine_local_write(p->e, id, len, op, &c->delta);
	if (rc) {
		/* line_full is a refusal like any other: nothing changed, and
		 * the client was told (the add-only oracle counts acks only). */
		s->st.writes_failed++;
		s->st.refused_full += rc == CARTD_ELINEFULL;
		sim_free_commit(c);
		return rc;
	}
	s->st.deferred_removes += c->delta.defer != NULL;
	uint32_t cart = cart_index(s, id, len), op_no = SIM_NO_OP;
	if (cart != SIM_NO_OP &&
	    (rc = sim_oracle_applied(&s->oracle, cart, p->idx, (uint8_t)op->kind, s->now,
	                             &c->delta, &op_no)) != 0)
		sim_die("oracle", rc);
	memcpy(c->id, id, len);
	c->id_len = len;
	/* group commit: durable after a delay, never before an earlier write */
	uint64_t at = s->now + sim_below(&s->rng, (uint64_t)s->p.commit_ms + 1);
	if (at < p->last_commit)
		at = p->last_commit;
	p->last_commit = at;
	p->pending++;
	s->st.writes_applied++;
	sim_event ev = { .at = at, .kind = SIM_EV_COMMIT, .peer = (uint16_t)p->idx,
	                 .gen = p->gen, .arg = op_no, .data = c };
	sim_schedule(s, &ev);
	return 0;
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
	int rc = engine_write_done(p->e, c->id, c->id_len, &c->delta, s->now);
	if (rc)
		sim_die("engine_write_done", rc);
	p->pending--;
	s->st.writes_acked++;
	if (ev->arg != SIM_NO_OP && (rc = sim_oracle_acked(&s->oracle, ev->arg)) != 0)
		sim_die("oracle", rc);
	sim_free_commit(c);
	sim_arm(s, p);
}

/* A random live peer, or s->n when none is up. */
static unsigned pick_up(sim *s)
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

/* A read token: what a random live peer would hand out for the cart (its
 * context less its own writes not yet durable: engine_token_ctx; empty if
 * it has no such cart).  Half of the time it is kept for a later write. */
static void read_token(sim *s, unsigned cart, crdt_ctx *out)
{
	crdt_item it;
	crdt_ctx empty;
	crdt_ctx_init(&empty);
	const char *id = s->cart_ids[cart];
	sim_peer *p = &s->peer[pick_up(s)];
	const crdt_ctx *ctx = crdt_store_get(p->store, id, strlen(id), &it) == 0 ? &it.cart->ctx
	                                                                          : &empty;
	if (engine_token_ctx(p->e, id, strlen(id), ctx, out) != 0 ||
	    (sim_pct(&s->rng, 50) && crdt_ctx_copy(&s->kept[cart], out) != 0))
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
	const char *id = s->cart_ids[s->p.ncarts - 1];
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

void sim_peer_client_write(sim *s, const sim_event *ev)
{
	unsigned pi = ev->arg & SIM_RETRY ? ev->peer : pick_up(s);
	if (pi == s->n || !s->peer[pi].up || ((ev->arg & SIM_RETRY) && ev->gen != s->peer[pi].gen)) {
		s->st.writes_skipped++;
		return;
	}
	unsigned cold = s->p.ncarts - (s->p.hot_skus ? 1 : 0);
	unsigned cart = ev->arg & SIM_RETRY ? ev->arg & 0xFFFFu : (unsigned)sim_below(&s->rng, cold);
	if (ev->arg == SIM_HOT || cart >= cold) {
		hot_add(s, pi);
		return;
	}
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
	apply_write(s, &s->peer[pi], id, strlen(id), &op);
	crdt_ctx_destroy(&token);
}
