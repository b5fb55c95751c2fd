/*
 * sim_check.c - the final verdict on a settled cluster (the rules are in
 * sim_oracle.h): identical digests and carts everywhere, then every cart
 * held against what the clients were told.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "tests/sim_internal.h"

static const char *const reject_names[10] = {
	"replay", "decode", "auth", "header", "oversize", "inflate", "self", "other",
	"session", "epoch",
};

/* "sku=qty/entries ..." and the context's dot count: enough to see at a
 * glance how two copies of a cart differ. */
static const char *brief(const crdt_cart *c, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < c->n && i < 8 && len + 40 < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s=%u/%u ",
		                        crdt_line_sku(&c->lines[i]),
		                        crdt_line_qty(&c->lines[i]), c->lines[i].n);
	snprintf(buf + len, cap - len, "%s(%" PRIu64 " dots seen)", c->n > 8 ? "... " : "",
	         crdt_ctx_count(&c->ctx));
	return buf;
}

struct cmp {
	sim *s;
	sim_report *r;
	buf_writer a, b;
};

/* Cart `it` of peer 0 against every other peer: present, valid, same bytes. */
static int compare_cart(const crdt_item *it, void *arg)
{
	struct cmp *c = arg;
	buf_writer_reset(&c->a);
	crdt_encode_cart(&c->a, it->cart);
	if (!crdt_cart_valid(it->cart))
		sim_problem(c->r, "peer 0: cart %s is not valid", it->id);
	for (unsigned i = 1; i < c->s->n; i++) {
		crdt_item o;
		if (crdt_store_get(c->s->peer[i].store, it->id, it->id_len, &o) != 0) {
			sim_problem(c->r, "peer %u: cart %s missing (peer 0 has it)", i, it->id);
			continue;
		}
		buf_writer_reset(&c->b);
		crdt_encode_cart(&c->b, o.cart);
		char x[256], y[256];
		if (c->a.len != c->b.len || memcmp(c->a.data, c->b.data, c->a.len) != 0)
			sim_problem(c->r, "peer %u: cart %s differs: peer 0 has %s; peer %u has %s",
			            i, it->id, brief(it->cart, x, sizeof x), i,
			            brief(o.cart, y, sizeof y));
	}
	return 0;
}

static void check_identical(sim *s, sim_report *r)
{
	uint32_t nb = crdt_store_nbuckets(s->peer[0].store);
	const uint64_t *ref = crdt_store_bucket_digests(s->peer[0].store);
	for (unsigned i = 1; i < s->n; i++) {
		const uint64_t *d = crdt_store_bucket_digests(s->peer[i].store);
		for (uint32_t b = 0; b < nb; b++)
			if (d[b] != ref[b]) {
				sim_problem(r, "peer %u: bucket %u digest %016" PRIx64 ", peer 0 %016" PRIx64,
				            i, b, d[b], ref[b]);
				break;
			}
		if (crdt_store_count(s->peer[i].store) != crdt_store_count(s->peer[0].store))
			sim_problem(r, "peer %u holds %zu carts, peer 0 %zu", i,
			            crdt_store_count(s->peer[i].store), crdt_store_count(s->peer[0].store));
	}
	struct cmp c = { .s = s, .r = r };
	buf_writer_init(&c.a);
	buf_writer_init(&c.b);
	crdt_store_walk(s->peer[0].store, compare_cart, &c);
	buf_writer_destroy(&c.a);
	buf_writer_destroy(&c.b);
}

static bool same_content(const sim_entry_rec *e, const crdt_line *l, const crdt_entry *x)
{
	return e->sku_len == l->sku_len &&
	       memcmp(e->sku, crdt_line_sku(l),
	              l->sku_len < SIM_SKU_MAX ? l->sku_len : SIM_SKU_MAX) == 0 &&
	       e->e.packed == x->packed && e->e.replica == x->replica;
}

/* Every live entry: not removed, and made by a write that was not lost,
 * with the same content (a reused dot would show here). */
static void check_live(sim *s, unsigned cart, const crdt_cart *c, sim_report *r)
{
	const sim_oracle *o = &s->oracle;
	for (uint32_t i = 0; i < c->n; i++) {
		const crdt_line *l = &c->lines[i];
		const crdt_entry *x = crdt_line_entries(l);
		for (uint16_t k = 0; k < l->n; k++) {
			crdt_dot d = crdt_entry_dot(&x[k]);
			if (sim_oracle_removed(o, cart, crdt_line_sku(l), l->sku_len, d))
				sim_problem(r, "%s/%s: dot (%016" PRIx64 ",%" PRIu64 ") was removed "
				            "but is live again", s->cart_ids[cart], crdt_line_sku(l),
				            d.replica, d.counter);
			bool known = false;
			for (size_t e = 0; e < o->nent && !known; e++)
				known = o->ent[e].cart == cart &&
				        o->ops[o->ent[e].op].state != SIM_OP_LOST &&
				        same_content(&o->ent[e], l, &x[k]);
			if (!known)
				sim_problem(r, "%s/%s: live entry (%016" PRIx64 ",%" PRIu64 ") kind %u "
				            "value %u was never made by a surviving write",
				            s->cart_ids[cart], crdt_line_sku(l), d.replica, d.counter,
				            crdt_entry_kind(&x[k]), crdt_entry_value(&x[k]));
		}
	}
}

/* Every entry of an acknowledged write is live, unless its dot was
 * removed by a write that took effect. */
static void check_acked(sim *s, unsigned cart, const crdt_cart *c, sim_report *r)
{
	const sim_oracle *o = &s->oracle;
	for (size_t e = 0; e < o->nent; e++) {
		const sim_entry_rec *x = &o->ent[e];
		const sim_op_rec *op = &o->ops[x->op];
		crdt_dot d = crdt_entry_dot(&x->e);
		if (x->cart != cart || op->state != SIM_OP_ACKED ||
		    sim_oracle_removed(o, cart, x->sku, x->sku_len, d))
			continue;
		const crdt_line *l = crdt_cart_find(c, x->sku, x->sku_len);
		bool found = false;
		for (uint16_t k = 0; l && k < l->n && !found; k++)
			found = same_content(x, l, &crdt_line_entries(l)[k]);
		if (!found)
			sim_problem(r, "%s/%.*s: acknowledged write at peer %u, t=%" PRIu64 "ms "
			            "(dot %016" PRIx64 ",%" PRIu64 " kind %u value %u) is missing; "
			            "the line %s %u", s->cart_ids[cart], (int)x->sku_len, x->sku,
			            op->peer, op->at, d.replica, d.counter, crdt_entry_kind(&x->e),
			            crdt_entry_value(&x->e), l ? "has quantity" : "is absent:",
			            l ? crdt_line_qty(l) : 0);
	}
}

static void check_oracle(sim *s, sim_report *r)
{
	crdt_cart empty;
	crdt_cart_init(&empty);
	for (unsigned c = 0; c < s->p.ncarts; c++) {
		crdt_item it;
		const char *id = s->cart_ids[c];
		const crdt_cart *cart = &empty;
		if (crdt_store_get(s->peer[0].store, id, strlen(id), &it) == 0)
			cart = it.cart;
		check_live(s, c, cart, r);
		check_acked(s, c, cart, r);
		if (s->p.hot_skus && c == s->p.ncarts - 1)
			sim_check_hot(s, c, cart, r);
	}
}

static void check_rejections(sim *s, sim_report *r)
{
	/* Replays (duplication), and datagrams that overtook a handshake or
	 * outlived a boot (session, epoch), are the network's doing; the
	 * rest would be a bug. */
	for (unsigned i = 1; i < 8; i++)
		if (s->st.rejected[i])
			sim_problem(r, "engine_receive rejected %" PRIu64 " datagrams as %s",
			            s->st.rejected[i], reject_names[i]);
	if (s->st.bad_addr)
		sim_problem(r, "engines sent %" PRIu64 " datagrams to addresses never given "
		            "out, or to themselves", s->st.bad_addr);
}

void sim_check(sim *s, sim_report *r)
{
	if (s->during.problems) {
		r->problems += s->during.problems;
		sim_say(r, "while running:\n%s", s->during_buf);
	}
	check_rejections(s, r);
	if (s->p.insider)
		sim_insider_check(s, r);
	check_identical(s, r);
	check_oracle(s, r);
	sim_marks_check(s, r);
}
