/*
 * push.c - pushing deltas: local deltas wait at most flush_delay_ms in a
 * queue where deltas of one cart coalesce by join, then leave packed into
 * as few datagrams as deflate allows, to every live peer (small cluster) or
 * to a random fanout that re-gossips for a bounded number of hops (large
 * cluster).  Also receives DELTA messages, for push and repair alike.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "net/engine_internal.h"

#define PUSH_EAGER_CARTS 512     /* flush at once past this many queued carts */
#define DELTA_HEAD 3u            /* hops byte + u16 count */
#define MAX_TARGETS 64

int push_init(engine *e)
{
	e->pack_ratio = 1.0;
	if (crdt_store_new_plain(&e->queue))
		return CARTD_ENOMEM;
	if (crdt_store_new_plain(&e->relay_queue))
		return CARTD_ENOMEM;
	return 0;
}

void push_destroy(engine *e)
{
	free(e->rx.ids);
	free(e->rx.carts);
	free(e->rx.ends);
	e->rx = (struct push_rx){ 0 };
	crdt_store_free(e->queue);
	crdt_store_free(e->relay_queue);
	e->queue = e->relay_queue = NULL;
}

/* A delta waits up to flush_delay_ms so that a busy peer packs many into a
 * datagram.  After a quiet spell (no flush within the last flush_delay_ms)
 * there is nothing to pack it with, and waiting would only add latency: it
 * is due at once, and still leaves with every delta queued before the next
 * timer turn (a group commit completes many writes together). */
static void arm_flush(engine *e)
{
	if (e->flush_at != 0)
		return;
	bool quiet = e->last_flush == 0 || e->now >= e->last_flush + e->cfg.flush_delay_ms;
	e->flush_at = quiet ? e->now : e->now + e->cfg.flush_delay_ms;
	if (e->flush_at == 0)
		e->flush_at = 1;   /* 0 means "nothing queued" */
}

int push_enqueue(engine *e, const crdt_id *id, const crdt_cart *delta)
{
	/* No live peer, no one to push to: the flush would drop the queue.  A
	 * peer that comes alive later learns the write by anti-entropy, as it
	 * would any write from before it was known. */
	if (members_live_count(e) == 0)
		return 0;
	int rc = crdt_store_join_id(e->queue, id, delta, NULL);
	if (rc)
		return rc;
	arm_flush(e);
	if (crdt_store_count(e->queue) >= PUSH_EAGER_CARTS)
		push_tick(e);
	return 0;
}

/* Seals one payload and sends it to every target; returns bytes sent, or 0
 * with *rc set when the payload does not fit a datagram. */
static size_t send_payload(engine *e, const engine_addr *const *to, size_t nto,
                           const buf_writer *w, int *rc)
{
	size_t total, last;
	/* Deflated once, sealed once per target: each pair has its own key. */
	*rc = engine_send_each(e, to, nto, MSG_DELTA, w->data, w->len, &total, &last);
	if (*rc || total == 0)
		return 0;
	/* Learn how much raw payload a datagram holds after deflate. */
	double ratio = (double)w->len / (double)(last - wire_overhead());
	e->pack_ratio = 0.8 * e->pack_ratio + 0.2 * (ratio < 1.0 ? 1.0 : ratio > 8.0 ? 8.0 : ratio);
	return total;
}

/* Encodes items[0..n) as one DELTA and sends it; halves the group when
 * deflate could not bring it under a datagram. */
static size_t send_group(engine *e, const engine_addr *const *to, size_t nto,
                         const pack_item *items, size_t n, uint8_t hops, bool repair)
{
	buf_writer *w = engine_scratch(e);
	msg_begin_delta(w, hops, repair);
	for (size_t i = 0; i < n; i++)
		msg_put_cart(w, items[i].id, items[i].len, items[i].cart);
	msg_end_delta(w, (uint32_t)n);
	if (w->err)
		return 0;
	int rc;
	size_t sent = send_payload(e, to, nto, w, &rc);
	if (rc == CARTD_EOVERSIZE && n > 1)
		return send_group(e, to, nto, items, n / 2, hops, repair) +
		       send_group(e, to, nto, items + n / 2, n - n / 2, hops, repair);
	return sent;
}

/* Sends one cart that does not fit a datagram as independent pieces. */
static size_t send_split(engine *e, const engine_addr *const *to, size_t nto,
                         const pack_item *it, uint8_t hops, bool repair)
{
	size_t budget = engine_max_body(e) - DELTA_HEAD - buf_varint_size(it->len) - it->len;
	crdt_cart *pieces;
	size_t np, sent = 0;
	if (crdt_cart_split(it->cart, budget, &pieces, &np))
		return 0;
	for (size_t i = 0; i < np; i++) {
		pack_item p = { it->id, it->len, &pieces[i] };
		sent += send_group(e, to, nto, &p, 1, hops, repair);
	}
	crdt_pieces_free(pieces, np);
	return sent;
}

size_t push_send_items(engine *e, const engine_addr *const *to, size_t nto,
                       const pack_item *items, size_t n, uint8_t hops, bool repair)
{
	size_t body = engine_max_body(e), sent = 0, from = 0, raw = DELTA_HEAD;
	size_t limit = (size_t)((double)body * e->pack_ratio * 0.9);
	limit = limit < body ? body : limit;
	if (nto == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t sz = msg_cart_size(items[i].len, items[i].cart);
		if (sz + DELTA_HEAD > body) {
			sent += send_split(e, to, nto, &items[i], hops, repair);
			if (i > from)
				sent += send_group(e, to, nto, items + from, i - from, hops, repair);
			from = i + 1;
			raw = DELTA_HEAD;
			continue;
		}
		if (raw + sz > limit || i - from >= MSG_MAX_ITEMS) {
			sent += send_group(e, to, nto, items + from, i - from, hops, repair);
			from = i;
			raw = DELTA_HEAD;
		}
		raw += sz;
	}
	if (n > from)
		sent += send_group(e, to, nto, items + from, n - from, hops, repair);
	return sent;
}

/* Chooses push targets: every live peer, or a random fanout. */
static size_t pick_targets(engine *e, const engine_addr **to, uint64_t exclude, uint8_t *hops)
{
	size_t live = members_live_count(e), n = 0;
	if (live <= e->cfg.full_push_max && live <= MAX_TARGETS) {
		for (size_t i = 0; i < live; i++) {
			struct member *m = members_live_at(e, i);
			if (m->id != exclude)
				to[n++] = &m->addr;
		}
		*hops = 0;
		return n;
	}
	uint32_t want = e->cfg.fanout < MAX_TARGETS ? e->cfg.fanout : MAX_TARGETS;
	for (size_t tries = 0; n < want && tries < 4 * want; tries++) {
		struct member *m = members_live_at(e, engine_rand(e) % live);
		bool dup = m->id == exclude;
		for (size_t k = 0; k < n && !dup; k++)
			dup = to[k] == &m->addr;
		if (!dup)
			to[n++] = &m->addr;
	}
	uint8_t log = 1;
	while (live >>= 1)
		log++;
	*hops = log > MSG_MAX_HOPS ? MSG_MAX_HOPS : log;
	return n;
}

struct collect {
	pack_item *items;
	size_t n;
};

static int collect_item(const crdt_item *it, void *arg)
{
	struct collect *c = arg;
	c->items[c->n++] = (pack_item){ it->id, it->id_len, it->cart };
	return 0;
}

/* Sends everything in *q and replaces it with an empty queue. */
static void flush_queue(engine *e, crdt_store **q, bool relay)
{
	size_t n = crdt_store_count(*q);
	if (n == 0)
		return;
	const engine_addr *to[MAX_TARGETS];
	uint8_t hops;
	size_t nto = pick_targets(e, to, 0, &hops);
	if (relay)
		hops = e->relay_hops;
	struct collect c = { malloc(n * sizeof *c.items), 0 };
	if (c.items && nto) {
		crdt_store_walk(*q, collect_item, &c);
		push_send_items(e, to, nto, c.items, c.n, hops, false);
		e->stats.deltas_out += c.n;
	}
	free(c.items);
	crdt_store *fresh;
	if (crdt_store_new_plain(&fresh) == 0) {
		crdt_store_free(*q);
		*q = fresh;
	}
}

void push_tick(engine *e)
{
	if (e->flush_at == 0 || e->now < e->flush_at)
		if (crdt_store_count(e->queue) < PUSH_EAGER_CARTS)
			return;
	e->flush_at = 0;
	e->last_flush = e->now;
	flush_queue(e, &e->queue, false);
	flush_queue(e, &e->relay_queue, true);
	e->relay_hops = 0;
	e->stats.push_queue_carts = 0;
}

/* Decodes every pair before applying any: a message applies whole or not
 * at all.  Each cart's encoding ends where the reader stands after it. */
static int decode_all(msg_delta *d, struct push_rx *rx, enum reject_field *why)
{
	uint32_t n = d->count;
	for (uint32_t i = 0; i < n; i++) {
		crdt_cart_init(&rx->carts[i]);
		int rc = msg_next_cart(d, &rx->ids[i], &rx->carts[i], why);
		if (rc) {
			for (uint32_t k = 0; k <= i; k++)
				crdt_cart_destroy(&rx->carts[k]);
			return rc;   /* CARTD_EDECODE or CARTD_ENOMEM */
		}
		rx->ends[i] = d->rest.p;
	}
	return 0;
}

/* id was checked and hashed by the decoder (msg_next_cart); c was decoded
 * from enc[0..enc_len), which the host may log as it came. */
static void apply_one(engine *e, const crdt_id *id, const crdt_cart *c, const uint8_t *enc,
                      size_t enc_len, const msg_delta *d)
{
	bool changed = false;
	if (crdt_store_join_id(e->store, id, c, &changed) || !changed)
		return;
	e->stats.carts_changed_in++;
	ae_note_change(e, id->hash);
	if (d->repair)
		e->stats.ae_carts_repaired++;
	e->cb.persist(e->cb.arg, id, c, enc, enc_len);
	if (d->hops > 0 && crdt_store_join_id(e->relay_queue, id, c, NULL) == 0) {
		if (d->hops - 1 > e->relay_hops)
			e->relay_hops = (uint8_t)(d->hops - 1);
		arm_flush(e);
	}
}

/* Room in e->rx for n decoded pairs (n < 2^16: the products cannot wrap). */
static int rx_reserve(engine *e, uint32_t n)
{
	struct push_rx *rx = &e->rx;
	if (n <= rx->cap)
		return 0;
	uint32_t cap = rx->cap ? rx->cap : 64;
	while (cap < n)
		cap *= 2;
	crdt_id *ids = realloc(rx->ids, cap * sizeof *ids);
	if (ids)
		rx->ids = ids;
	crdt_cart *carts = realloc(rx->carts, cap * sizeof *carts);
	if (carts)
		rx->carts = carts;
	const uint8_t **ends = realloc(rx->ends, cap * sizeof *ends);
	if (ends)
		rx->ends = ends;
	if (!ids || !carts || !ends)
		return CARTD_ENOMEM;   /* what did grow is kept, cap is not raised */
	rx->cap = cap;
	return 0;
}

int push_on_delta(engine *e, const engine_addr *from, uint64_t sender,
                  const uint8_t *payload, size_t len)
{
	(void)from;
	(void)sender;
	msg_delta d;
	if (msg_get_delta(payload, len, &d, &e->why))
		return CARTD_EDECODE;
	uint32_t n = d.count;   /* 1..65535 */
	struct push_rx *rx = &e->rx;
	int rc = rx_reserve(e, n);
	if (rc == 0)
		rc = decode_all(&d, rx, &e->why);
	if (rc == 0) {
		/* Most carts of a datagram are far apart in a large store. */
		for (unsigned stage = 0; stage < 3; stage++)
			for (uint32_t i = 0; i < n; i++)
				crdt_store_prefetch_id(e->store, &rx->ids[i], stage);
		for (uint32_t i = 0; i < n; i++) {
			/* The cart's encoding follows its id in the payload. */
			const uint8_t *enc = (const uint8_t *)rx->ids[i].s + rx->ids[i].len;
			apply_one(e, &rx->ids[i], &rx->carts[i], enc, (size_t)(rx->ends[i] - enc), &d);
			crdt_cart_destroy(&rx->carts[i]);
		}
		e->stats.deltas_in += n;
	}
	return rc;
}
