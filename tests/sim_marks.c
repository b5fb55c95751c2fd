/*
 * sim_marks.c - the verdict on idempotent writes and checkouts once the
 * cluster has converged (besides the rules of sim_oracle.h):
 *   - on the hot cart each line's quantity is exactly the sum of the
 *     unkeyed adds that took effect and of the keyed requests one of whose
 *     attempts took effect, each request counted once however many of its
 *     attempts applied and were acknowledged;
 *   - every keyed add or set whose client heard "ok" or "replay" is live,
 *     unless a write that took effect removed its dot;
 *   - a remove under a token that saw one attempt of a keyed add leaves
 *     none of its attempts live;
 *   - at every peer the markers are exactly those of the checkouts that
 *     took effect, each complete and identical to the order as made;
 *   - at every peer crdt_cart_late_added is exactly the live entries that
 *     no order holds, none of which a checkout had covered, and
 *     crdt_close_late_removed of each marker is exactly the entries of its
 *     order that are no longer live, each removed by a write that took
 *     effect (one the checkout had not seen: it was live when it closed).
 * What is judged while the schedule runs (refusals of closed carts,
 * replays, orders at checkout time) is in sim_write.c, sim_keyed.c and
 * sim_close.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "tests/sim_internal.h"

static bool entry_eq(const crdt_entry *a, const crdt_entry *b)
{
	return a->replica == b->replica && a->packed == b->packed;
}

bool sim_view_equals(const crdt_line *view, uint32_t vn, const crdt_line *src, uint32_t n,
                     sim_keep_fn keep, const void *arg, uint64_t *count)
{
	uint32_t j = 0;
	uint64_t kept = 0;
	bool ok = true;
	for (uint32_t i = 0; i < n; i++) {
		const crdt_line *l = &src[i], *v = NULL;
		const crdt_entry *e = crdt_line_entries(l);
		uint16_t k = 0;
		for (uint16_t x = 0; x < l->n; x++) {
			if (!keep(arg, l, &e[x]))
				continue;
			kept++;
			if (v == NULL &&
			    (j >= vn || crdt_name_cmp(crdt_line_sku(&view[j]), view[j].sku_len,
			                              crdt_line_sku(l), l->sku_len) != 0)) {
				ok = false;
				break;
			}
			if (v == NULL)
				v = &view[j++];
			ok = ok && k < v->n && entry_eq(&crdt_line_entries(v)[k], &e[x]);
			k++;
		}
		ok = ok && (v == NULL || k == v->n);
	}
	if (count)
		*count = kept;
	return ok && j == vn;
}

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

static bool same_lines(const crdt_line *a, const crdt_line *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (a[i].n != b[i].n || crdt_name_cmp(crdt_line_sku(&a[i]), a[i].sku_len,
		                                      crdt_line_sku(&b[i]), b[i].sku_len))
			return false;
		for (uint16_t k = 0; k < a[i].n; k++)
			if (!entry_eq(&crdt_line_entries(&a[i])[k], &crdt_line_entries(&b[i])[k]))
				return false;
	}
	return true;
}

/* The marker of c with the identity of want (id, key, time, size). */
static const crdt_close *find_marker(const crdt_cart *c, const crdt_close *want)
{
	for (uint32_t i = 0; i < crdt_cart_ncloses(c); i++) {
		const crdt_close *m = &c->closes->v[i];
		if (crdt_dot_cmp(m->id, want->id) == 0 && crdt_dot_cmp(m->key, want->key) == 0 &&
		    m->at_ms == want->at_ms && m->total == want->total)
			return m;
	}
	return NULL;
}

static const crdt_close *made(const sim_close_rec *x)
{
	return &x->delta.closes->v[0];
}

/* The markers of cart at peer: those of the checkouts that took effect,
 * complete, each exactly the order as made, and no other. */
static void check_markers(sim *s, unsigned cart, unsigned peer, const crdt_cart *c,
                          sim_report *r)
{
	const sim_oracle *o = &s->oracle;
	const char *id = s->cart_ids[cart];
	uint32_t matched = 0;
	for (size_t i = 0; i < o->ncloses; i++) {
		const sim_op_rec *op = &o->ops[o->closes[i].op];
		if (op->cart != cart)
			continue;
		const crdt_close *want = made(&o->closes[i]), *m = find_marker(c, want);
		matched += m != NULL;
		if (in_effect(op->state) && m == NULL)
			sim_problem(r, "peer %u: %s: the order of the checkout at peer %u, t=%" PRIu64
			            "ms, is missing", peer, id, op->peer, op->at);
		else if (!in_effect(op->state) && m != NULL)
			sim_problem(r, "peer %u: %s holds the order of a checkout lost in a crash "
			            "(peer %u, t=%" PRIu64 "ms)", peer, id, op->peer, op->at);
		else if (m && (m->n != want->n || crdt_close_held(m) != m->total ||
		               !same_lines(m->lines, want->lines, m->n)))
			sim_problem(r, "peer %u: %s: the order of the checkout at peer %u, t=%" PRIu64
			            "ms, changed: %u of %u entries held", peer, id, op->peer, op->at,
			            crdt_close_held(m), m->total);
	}
	if (matched != crdt_cart_ncloses(c))
		sim_problem(r, "peer %u: %s holds %u orders, only %u of them made by checkouts",
		            peer, id, crdt_cart_ncloses(c), matched);
}

static bool not_ordered(const void *arg, const crdt_line *l, const crdt_entry *e)
{
	(void)l;
	return !crdt_ctx_contains(arg, crdt_entry_dot(e));
}

static bool not_live(const void *arg, const crdt_line *l, const crdt_entry *e)
{
	const crdt_line *live = crdt_cart_find(arg, crdt_line_sku(l), l->sku_len);
	for (uint16_t i = 0; live && i < live->n; i++)
		if (entry_eq(&crdt_line_entries(live)[i], e))
			return false;
	return true;
}

/* Late added: the live entries of c no order holds (orders as made), none
 * of them covered by a checkout. */
static void check_late_added(sim *s, unsigned cart, unsigned peer, const crdt_cart *c,
                             sim_report *r)
{
	const sim_oracle *o = &s->oracle;
	crdt_ctx ordered;
	crdt_ctx_init(&ordered);
	for (size_t i = 0; i < o->ncloses; i++) {
		const crdt_close *m = made(&o->closes[i]);
		if (o->ops[o->closes[i].op].cart != cart || !in_effect(o->ops[o->closes[i].op].state))
			continue;
		for (uint32_t k = 0; k < m->n; k++)
			for (uint16_t x = 0; x < m->lines[k].n; x++)
				if (crdt_ctx_add(&ordered, crdt_entry_dot(&crdt_line_entries(&m->lines[k])[x])))
					sim_die("late items", CARTD_ENOMEM);
	}
	crdt_cart view;
	crdt_cart_init(&view);
	uint64_t n = 0;
	if (crdt_cart_late_added(c, &view))
		sim_die("late items", CARTD_ENOMEM);
	if (!sim_view_equals(view.lines, view.n, c->lines, c->n, not_ordered, &ordered, &n))
		sim_problem(r, "peer %u: %s: the late added items are not the %" PRIu64 " live "
		            "entries that no order holds", peer, s->cart_ids[cart], n);
	s->st.late_added += peer == 0 ? n : 0;
	for (uint32_t i = 0; n && i < c->n; i++)
		for (uint16_t k = 0; k < c->lines[i].n; k++) {
			crdt_dot d = crdt_entry_dot(&crdt_line_entries(&c->lines[i])[k]);
			for (size_t j = 0; j < o->ncloses && !crdt_ctx_contains(&ordered, d); j++)
				if (o->ops[o->closes[j].op].cart == cart &&
				    in_effect(o->ops[o->closes[j].op].state) &&
				    crdt_ctx_contains(&o->closes[j].covered, d))
					sim_problem(r, "peer %u: %s/%s: a late item (%016" PRIx64 ",%" PRIu64
					            ") was seen by a checkout that left it out", peer,
					            s->cart_ids[cart], crdt_line_sku(&c->lines[i]),
					            d.replica, d.counter);
		}
	crdt_cart_destroy(&view);
	crdt_ctx_destroy(&ordered);
}

/* Late removed, per marker: its order's entries no longer live, each
 * removed by a write that took effect. */
static void check_late_removed(sim *s, unsigned cart, unsigned peer, const crdt_cart *c,
                               sim_report *r)
{
	const sim_oracle *o = &s->oracle;
	const char *id = s->cart_ids[cart];
	crdt_cart view;
	crdt_cart_init(&view);
	for (size_t i = 0; i < o->ncloses; i++) {
		const crdt_close *want = made(&o->closes[i]), *m = find_marker(c, want);
		if (o->ops[o->closes[i].op].cart != cart || m == NULL)
			continue;
		uint64_t n = 0;
		if (crdt_close_late_removed(c, m, &view))
			sim_die("late items", CARTD_ENOMEM);
		if (!sim_view_equals(view.lines, view.n, want->lines, want->n, not_live, c, &n))
			sim_problem(r, "peer %u: %s: the late removed items of an order are not its "
			            "%" PRIu64 " entries that are no longer live", peer, id, n);
		s->st.late_removed += peer == 0 ? n : 0;
		for (uint32_t k = 0; n && k < want->n; k++) {
			const crdt_line *l = &want->lines[k];
			for (uint16_t x = 0; x < l->n; x++) {
				const crdt_entry *e = &crdt_line_entries(l)[x];
				if (not_live(c, l, e) &&
				    !sim_oracle_removed(o, cart, crdt_line_sku(l), l->sku_len,
				                        crdt_entry_dot(e)))
					sim_problem(r, "peer %u: %s/%s: an order's entry is gone, but no "
					            "write that took effect removed it", peer, id,
					            crdt_line_sku(l));
			}
		}
	}
	crdt_cart_destroy(&view);
}

/* Does c hold two orders of one keyed checkout? */
static bool key_twice(const crdt_cart *c)
{
	for (uint32_t i = 0; i < crdt_cart_ncloses(c); i++)
		for (uint32_t j = i + 1; j < crdt_cart_ncloses(c); j++)
			if (c->closes->v[i].key.counter &&
			    crdt_dot_cmp(c->closes->v[i].key, c->closes->v[j].key) == 0)
				return true;
	return false;
}

void sim_marks_check(sim *s, sim_report *r)
{
	crdt_cart empty;
	crdt_cart_init(&empty);
	check_requests(s, r);
	for (unsigned cart = 0; cart < s->p.ncarts; cart++)
		for (unsigned i = 0; i < s->n; i++) {
			const crdt_cart *c = cart_at(s, i, cart, &empty);
			check_markers(s, cart, i, c, r);
			if (!crdt_cart_closed(c))
				continue;
			check_late_added(s, cart, i, c, r);
			check_late_removed(s, cart, i, c, r);
			s->st.double_closed += i == 0 && crdt_cart_ncloses(c) >= 2;
			s->st.key_two_orders += i == 0 && key_twice(c);
		}
}
