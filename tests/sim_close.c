/*
 * sim_close.c - checkouts in the simulator (docs/semantics.md §11): when
 * carts are checked out, and what a checkout must have frozen.
 *
 * Some carts are checked out at a random peer late in the active phase,
 * some by two clients at two peers at once; and when a partition starts,
 * sometimes one cart is checked out on one side while the other side keeps
 * adding to it and removing from it (now and then checking it out too).
 * A checkout carries a token half of the time (mostly read at the peer it
 * goes to; one read elsewhere may be ahead of it) and a key half of the
 * time; it is a request like a keyed write (sim_keyed.c).
 *
 * When a checkout applies, its order must be exactly the live entries the
 * client saw at that peer: all of them without a token, those the token
 * covers with one.  The oracle keeps the marker as made and what it
 * covered, for the verdict after convergence (sim_marks.c).
 */
#include <inttypes.h>
#include <string.h>

#include "crdt/error.h"
#include "tests/sim_internal.h"

#define CUT_WRITES 4u

static void plan_checkout(sim *s, uint64_t at, unsigned peer, uint32_t cart)
{
	sim_event ev = { .at = at, .kind = SIM_EV_WRITE, .peer = (uint16_t)peer,
	                 .arg = SIM_CLOSE | cart };
	sim_schedule(s, &ev);
}

void sim_close_plan(sim *s)
{
	if (s->p.close_pct == 0)
		return;
	for (uint32_t c = 0; c < s->p.ncarts; c++) {
		/* the hot cart rarely: its adds are what the exact sums test */
		bool hot = s->p.hot_skus && c == s->p.ncarts - 1;
		if (!sim_pct(&s->rng, hot ? s->p.close_pct / 4 : s->p.close_pct))
			continue;
		uint64_t at = sim_range(&s->rng, s->p.active_ms / 2, s->p.active_ms * 19 / 20);
		plan_checkout(s, at, SIM_ANY_PEER, c);
		if (sim_pct(&s->rng, 30))
			plan_checkout(s, at + sim_below(&s->rng, 50), SIM_ANY_PEER, c);
	}
}

void sim_close_cut(sim *s)
{
	unsigned cold = s->p.ncarts - (s->p.hot_skus ? 1 : 0);
	if (s->p.close_pct == 0 || cold == 0 || !sim_pct(&s->rng, 50))
		return;
	uint32_t cart = (uint32_t)sim_below(&s->rng, cold);
	unsigned pi = (unsigned)sim_below(&s->rng, s->n), other[64];
	unsigned side = s->peer[pi].side, nother = 0;
	if (side == 3)
		return;                 /* the bridge sees both sides */
	for (unsigned i = 0; i < s->n && nother < 64; i++)
		if ((s->peer[i].side & side) == 0)
			other[nother++] = i;
	if (nother == 0)
		return;
	plan_checkout(s, s->now + sim_range(&s->rng, 1, 300), pi, cart);
	for (unsigned k = 0; k < CUT_WRITES; k++) {
		sim_event ev = { .at = s->now + sim_range(&s->rng, 1, 500), .kind = SIM_EV_WRITE,
		                 .peer = (uint16_t)other[sim_below(&s->rng, nother)],
		                 .arg = SIM_AT | cart };
		sim_schedule(s, &ev);
	}
	if (sim_pct(&s->rng, 30))
		plan_checkout(s, s->now + sim_range(&s->rng, 1, 500),
		              other[sim_below(&s->rng, nother)], cart);
}

void sim_close_start(sim *s, const sim_event *ev)
{
	uint32_t cart = ev->arg & SIM_INDEX;
	unsigned pi = ev->peer == SIM_ANY_PEER ? sim_pick_up(s) : ev->peer;
	if (s->now >= s->p.active_ms || pi >= s->n || !s->peer[pi].up) {
		s->st.writes_skipped++;
		return;
	}
	crdt_op op = { .kind = CRDT_OP_CLOSE };
	crdt_ctx token;
	crdt_ctx_init(&token);
	if (sim_pct(&s->rng, 50)) {
		unsigned from = sim_pct(&s->rng, 75) ? pi : sim_pick_up(s);
		sim_token_at(s, from, cart, &token);
		op.observed = &token;
	}
	sim_keyed_start(s, pi, cart, &op, sim_pct(&s->rng, 50), 0);
	crdt_ctx_destroy(&token);
}

static bool covered_by(const void *arg, const crdt_line *l, const crdt_entry *e)
{
	(void)l;
	return arg == NULL || crdt_ctx_contains(arg, crdt_entry_dot(e));
}

void sim_close_applied(sim *s, const sim_peer *p, uint32_t cart, const crdt_op *op,
                       const crdt_cart *delta, uint32_t op_no)
{
	crdt_item it;
	const char *id = s->cart_ids[cart];
	s->st.checkouts++;
	if (crdt_cart_ncloses(delta) != 1 ||
	    crdt_store_get(p->store, id, strlen(id), &it) != 0)
		sim_die("checkout delta", CARTD_EINVAL);
	/* A checkout changes no line: the cart's lines now are the ones the
	 * order was frozen from. */
	const crdt_close *m = &delta->closes->v[0];
	uint64_t n = 0;
	if (!sim_view_equals(m->lines, m->n, it.cart->lines, it.cart->n, covered_by, op->observed,
	                     &n) || n != m->total || crdt_close_held(m) != m->total)
		sim_problem(&s->during, "t=%" PRIu64 "ms peer %u: %s: the checkout's order (%u "
		            "entries) is not the %" PRIu64 " live entries its client saw", s->now,
		            p->idx, id, m->total, n);
	if (sim_oracle_close_add(&s->oracle, op_no, delta,
	                         op->observed ? op->observed : &it.cart->ctx))
		sim_die("oracle", CARTD_ENOMEM);
}
