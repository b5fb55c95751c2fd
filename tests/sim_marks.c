/*
 * sim_marks.c - the verdict on idempotent writes once the cluster has
 * converged (besides the rules of sim_oracle.h):
 *   - on the hot cart each line's quantity is exactly the sum of the
 *     unkeyed adds that took effect and of the keyed requests one of whose
 *     attempts took effect, each request counted once however many of its
 *     attempts applied and were acknowledged;
 *   - every keyed add or set whose client heard "ok" or "replay" is live,
 *     unless a write that took effect removed its dot;
 *   - a remove under a token that saw one attempt of a keyed add leaves
 *     none of its attempts live.
 * What is judged while the schedule runs (each key's answer, replays,
 * reused keys) is in sim_keyed.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "tests/sim_internal.h"

static bool in_effect(uint8_t state)
{
	return state == SIM_OP_ACKED || state == SIM_OP_DURABLE;
}

static const crdt_cart *cart_at(sim *s, unsigned peer, unsigned cart, const crdt_cart *empty)
{
	crdt_item it;
	const char *id = s->cart_ids[cart];
	return crdt_store_get(s->peer[peer].store, id, strlen(id), &it) == 0 ? it.cart : empty;
}

/* What a request's attempts reached, for the hot sums. */
enum { REQ_NONE, REQ_LANDED, REQ_ACKED, REQ_COUNTED = 4 };

void sim_check_hot(sim *s, unsigned cart, const crdt_cart *c, sim_report *r)
{
	const sim_oracle *o = &s->oracle;
	uint8_t *best = calloc(o->nreqs + 1, 1);
	if (best == NULL)
		sim_die("hot sums", CARTD_ENOMEM);
	for (size_t i = 0; i < o->nops; i++) {
		uint32_t q = o->ops[i].req;
		if (q == SIM_NO_OP || o->ops[i].cart != cart)
			continue;
		if (o->ops[i].state == SIM_OP_ACKED)
			best[q] = REQ_ACKED;
		else if (o->ops[i].state == SIM_OP_DURABLE && best[q] == REQ_NONE)
			best[q] = REQ_LANDED;
	}
	for (unsigned h = 0; h < s->p.hot_skus; h++) {
		char sku[16];
		size_t len = (size_t)snprintf(sku, sizeof sku, "h%u", h);
		uint64_t acked = 0, landed = 0, attempts = 0;
		for (size_t e = 0; e < o->nent; e++) {
			const sim_entry_rec *x = &o->ent[e];
			if (x->cart != cart || x->sku_len != len || memcmp(x->sku, sku, len) != 0)
				continue;
			const sim_op_rec *op = &o->ops[x->op];
			uint32_t v = crdt_entry_value(&x->e);
			unsigned st = op->state == SIM_OP_ACKED ? REQ_ACKED
			            : op->state == SIM_OP_DURABLE ? REQ_LANDED : REQ_NONE;
			attempts += st != REQ_NONE ? v : 0;
			if (op->req != SIM_NO_OP) {
				/* one request, one entry: its attempts share the dot */
				if (best[op->req] & REQ_COUNTED)
					continue;
				st = best[op->req];
				best[op->req] |= REQ_COUNTED;
			}
			acked += st == REQ_ACKED ? v : 0;
			landed += st == REQ_LANDED ? v : 0;
		}
		uint64_t want = acked + landed;
		want = want > CRDT_MAX_QTY ? CRDT_MAX_QTY : want;
		const crdt_line *l = crdt_cart_find(c, sku, len);
		uint32_t got = l ? crdt_line_qty(l) : 0;
		s->st.hot_acked += acked;
		s->st.hot_landed += landed;
		if (got != want)
			sim_problem(r, "%s/%s: quantity %u, but %" PRIu64 " was acknowledged and "
			            "%" PRIu64 " more landed unacknowledged (%" PRIu64 " counting every "
			            "attempt that took effect)", s->cart_ids[cart], sku, got, acked,
			            landed, attempts);
	}
	free(best);
}

static void check_requests(sim *s, sim_report *r)
{
	const sim_oracle *o = &s->oracle;
	crdt_cart empty;
	crdt_cart_init(&empty);
	for (size_t i = 0; i < o->nreqs; i++) {
		const sim_req *q = &o->reqs[i];
		if (!q->keyed || (q->kind != CRDT_OP_ADD && q->kind != CRDT_OP_SET) ||
		    (q->answer != SIM_ANS_OK && q->answer != SIM_ANS_REPLAY))
			continue;
		if (!sim_cart_has_live(cart_at(s, 0, q->cart, &empty), q->rec.dot) &&
		    !sim_oracle_removed(o, q->cart, q->sku, q->sku_len, q->rec.dot))
			sim_problem(r, "%s/%.*s: keyed request k%" PRIu32 " (kind %u, %u) was answered "
			            "%s after %u attempts, but its entry is gone without a remove",
			            s->cart_ids[q->cart], (int)q->sku_len, q->sku, q->key_of, q->kind,
			            q->qty, q->answer == SIM_ANS_OK ? "ok" : "as a replay", q->attempts);
	}
	for (size_t i = 0; i < o->ntokrem; i++) {
		const sim_op_rec *op = &o->ops[o->tokrem[i].op];
		const sim_req *q = &o->reqs[o->tokrem[i].req];
		if (!in_effect(op->state))
			continue;
		s->st.tokrem_checked++;
		if (sim_cart_has_live(cart_at(s, 0, q->cart, &empty), q->rec.dot))
			sim_problem(r, "%s/%.*s: a remove at peer %u under a token that saw an attempt "
			            "of keyed add k%" PRIu32 " left an attempt (%u made) live",
			            s->cart_ids[q->cart], (int)q->sku_len, q->sku, op->peer, q->key_of,
			            q->attempts);
	}
}

void sim_marks_check(sim *s, sim_report *r)
{
	check_requests(s, r);
}
