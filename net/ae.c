/*
 * ae.c - anti-entropy: each round, with one live peer, narrow down what
 * differs and repair exactly that, in both directions.
 *
 *   A -> B  GROUPS   digests of bucket groups (XOR of 32 bucket digests)
 *   B -> A  STATUS   how many groups differed (0: in sync) ...
 *   B -> A  BUCKETS  ... and, per differing group, B's 32 bucket digests
 *   A -> B  CARTS    per differing bucket, A's (cart id, digest) listing,
 *                    asking for B's listing back
 *   each side, on the other's listing: sends its own state of carts whose
 *                    digest differs, and WANTs the carts it lacks
 *
 * An idle cluster exchanges one GROUPS and one STATUS per round; after a
 * partition the traffic is proportional to the differing buckets and carts.
 * Everything a round sends beyond its first two messages (bucket digests,
 * listings, cart states) draws on a byte budget refilled at
 * ae_bytes_per_sec, so repair never starves fresh writes: what is left out
 * is found again by a later round.  Carts with a write not yet durable are
 * never sent (engine.h).
 *
 * Under a steady write load most buckets differ at any moment only by
 * deltas still in flight, and listing them all would cost more than the
 * pushes themselves, every round.  So a differing bucket with a change in
 * the last AE_BUSY_MS here is listed only in one round of AE_BUSY_EVERY
 * (by bucket number, so each one's turn comes round): a divergence in a
 * bucket written without pause is still repaired, within AE_BUSY_EVERY
 * rounds, and one in a quiet bucket in the next round as before.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "net/checked.h"
#include "net/engine_internal.h"

#define DIGESTS_HEAD 14u        /* round, nbuckets, first, u16 count */
#define CARTS_HEAD 15u
#define LISTING_MAX (1u + CRDT_MAX_NAME + 8u)
#define AE_BUSY_MS 100u
#define AE_BUSY_EVERY 16u

void ae_note_change(engine *e, uint64_t h)
{
	e->ae_changed_at[crdt_store_bucket_of_hash(e->store, h)] = e->now;
}

/* Whether differing bucket b is listed in our turn-th round with a peer
 * (the rule above; counted per peer, since rounds go round-robin). */
static bool list_now(const engine *e, uint32_t b, uint32_t turn)
{
	uint64_t t = e->ae_changed_at[b];
	bool busy = t != 0 && e->now < t + AE_BUSY_MS;
	return !busy || (b + turn) % AE_BUSY_EVERY == 0;
}

static uint32_t ngroups(const engine *e)
{
	return (crdt_store_nbuckets(e->store) + MSG_GROUP_SIZE - 1) / MSG_GROUP_SIZE;
}

/* g < ngroups(e) (callers check what comes from the wire), so g * 32 is
 * below nbuckets <= 2^16; the loop stays inside the array regardless. */
static uint64_t group_digest(const engine *e, uint32_t g)
{
	const uint64_t *b = crdt_store_bucket_digests(e->store);
	uint32_t nb = crdt_store_nbuckets(e->store), first;
	uint64_t x = 0;
	if (!checked_mul_u32(g, MSG_GROUP_SIZE, &first))
		return 0;
	for (uint32_t i = first; i < nb && i - first < MSG_GROUP_SIZE; i++)
		x ^= b[i];
	return x;
}

/* Sends digests values[0..count) as GROUPS or BUCKETS, chunked to fit. */
static void send_digests(engine *e, const engine_addr *to, uint8_t type, uint32_t round,
                         uint32_t first, const uint64_t *values, uint32_t count)
{
	uint32_t per = (uint32_t)((engine_max_body(e) - DIGESTS_HEAD) / 8);
	for (uint32_t off = 0; off < count; off += per) {
		msg_digests d = { round, crdt_store_nbuckets(e->store), first + off,
		                  count - off < per ? count - off : per, NULL };
		buf_writer *w = engine_scratch(e);
		msg_put_digests(w, &d, values + off);
		if (!w->err)
			engine_send(e, to, type, w->data, w->len);
	}
}

/* Takes bytes from the repair budget; false (and counted) when it is spent.
 * Listings and bucket digests are charged too: under a steady write load
 * every round finds buckets differing by deltas still in flight, and their
 * listings would otherwise cost more than the pushes themselves. */
static bool charge(engine *e, size_t bytes)
{
	if ((double)bytes > e->ae_tokens) {
		e->stats.ae_throttled++;
		return false;
	}
	e->ae_tokens -= (double)bytes;
	e->stats.ae_bytes += bytes + wire_overhead();
	return true;
}

static void refill_tokens(engine *e)
{
	double cap = e->cfg.ae_bytes_per_sec;
	if (e->ae_tokens_at == 0)
		e->ae_tokens = cap;
	else
		e->ae_tokens += (double)(e->now - e->ae_tokens_at) * cap / 1000.0;
	if (e->ae_tokens > cap)
		e->ae_tokens = cap;
	e->ae_tokens_at = e->now;
}

void ae_tick(engine *e)
{
	if (e->next_ae == 0)
		e->next_ae = e->now + engine_rand(e) % e->cfg.ae_interval_ms + 1;
	if (e->now < e->next_ae)
		return;
	e->next_ae = e->now + e->cfg.ae_interval_ms;
	refill_tokens(e);
	size_t live = members_live_count(e);
	if (live == 0)
		return;
	struct member *m = members_live_at(e, e->ae_cursor++ % live);
	m->ae_rounds++;
	uint32_t ng = ngroups(e);
	uint64_t *g = malloc(ng * sizeof *g);
	if (g == NULL)
		return;
	for (uint32_t i = 0; i < ng; i++)
		g[i] = group_digest(e, i);
	e->stats.ae_rounds++;
	send_digests(e, &m->addr, MSG_AE_GROUPS, ++e->ae_round, 0, g, ng);
	free(g);
}

/* Every peer must hash carts into the same buckets. */
static int same_layout(engine *e, uint32_t nbuckets)
{
	return nbuckets == crdt_store_nbuckets(e->store) ? 0 : engine_refuse(e, REJECT_F_LAYOUT);
}

/* Decodes GROUPS or BUCKETS whose digests must lie within [0, limit).
 * first and count are the sender's: their sum is checked, not computed,
 * since first = 2^32 - 1 and count = 1 would wrap a u32 to 0. */
static int get_digests(engine *e, const uint8_t *p, size_t len, bool groups, msg_digests *d)
{
	if (msg_get_digests(p, len, d, &e->why))
		return CARTD_EDECODE;
	if (same_layout(e, d->nbuckets))
		return CARTD_EDECODE;
	uint32_t limit = groups ? ngroups(e) : crdt_store_nbuckets(e->store);
	if (!checked_range_within(d->first, d->count, limit))
		return engine_refuse(e, REJECT_F_RANGE);
	return 0;
}

int ae_on_groups(engine *e, const engine_addr *from, uint64_t sender, const uint8_t *p, size_t len)
{
	(void)sender;
	msg_digests d;
	if (get_digests(e, p, len, true, &d))
		return CARTD_EDECODE;
	const uint64_t *b = crdt_store_bucket_digests(e->store);
	uint32_t nb = crdt_store_nbuckets(e->store), differing = 0;
	refill_tokens(e);
	for (uint32_t i = 0; i < d.count; i++) {
		uint32_t g = d.first + i;
		if (msg_digest_at(&d, i) == group_digest(e, g))
			continue;
		differing++;
		uint32_t first = g * MSG_GROUP_SIZE;   /* g < ngroups: < nbuckets */
		uint32_t n = nb - first < MSG_GROUP_SIZE ? nb - first : MSG_GROUP_SIZE;
		if (charge(e, DIGESTS_HEAD + 8u * n))
			send_digests(e, from, MSG_AE_BUCKETS, d.round, first, b + first, n);
	}
	msg_status st = { d.round, differing };
	buf_writer *w = engine_scratch(e);
	msg_put_status(w, &st);
	if (!w->err)
		engine_send(e, from, MSG_AE_STATUS, w->data, w->len);
	return 0;
}

int ae_on_status(engine *e, const engine_addr *from, uint64_t sender, const uint8_t *p, size_t len)
{
	(void)from;
	msg_status st;
	if (msg_get_status(p, len, &st, &e->why))
		return CARTD_EDECODE;
	if (st.differing > ngroups(e))
		return engine_refuse(e, REJECT_F_DIFFERING);
	struct member *m = members_find(e, sender);
	if (m) {
		m->differing = st.differing;
		if (st.differing == 0)
			m->last_sync = e->now;
	}
	return 0;
}

struct listing {
	engine *e;
	const engine_addr *to;
	uint32_t round, bucket;
	uint8_t flags;
	uint32_t count;
	buf_writer *w;
};

static void listing_flush(struct listing *l)
{
	if (l->count == 0 && !(l->flags & MSG_CARTS_REPLY))
		return;
	msg_end_carts(l->w, l->count);
	if (!l->w->err && charge(l->e, l->w->len))
		engine_send(l->e, l->to, MSG_AE_CARTS, l->w->data, l->w->len);
	l->flags = 0;   /* only the first chunk asks for a reply */
	l->count = 0;
	l->w = engine_scratch(l->e);
	msg_begin_carts(l->w, l->round, crdt_store_nbuckets(l->e->store), l->bucket, 0);
}

static int listing_add(const crdt_item *it, void *arg)
{
	struct listing *l = arg;
	if (engine_is_pending(l->e, it->id, it->id_len))
		return 0;
	if (l->w->len + LISTING_MAX > engine_max_body(l->e) || l->count == MSG_MAX_ITEMS)
		listing_flush(l);
	msg_put_listing(l->w, it->id, it->id_len, crdt_store_digest(l->e->store, it));
	l->count++;
	return 0;
}

/* Sends our (id, digest) listing of bucket b, chunked. */
static void send_listing(engine *e, const engine_addr *to, uint32_t round, uint32_t b,
                         bool ask_reply)
{
	refill_tokens(e);
	struct listing l = { e, to, round, b, ask_reply ? MSG_CARTS_REPLY : 0, 0, NULL };
	l.w = engine_scratch(e);
	msg_begin_carts(l.w, round, crdt_store_nbuckets(e->store), b, l.flags);
	crdt_store_walk_bucket(e->store, b, listing_add, &l);
	if (l.count || l.flags)
		listing_flush(&l);
}

int ae_on_buckets(engine *e, const engine_addr *from, uint64_t sender, const uint8_t *p, size_t len)
{
	msg_digests d;
	if (get_digests(e, p, len, false, &d))
		return CARTD_EDECODE;
	const struct member *m = members_find(e, sender);
	uint32_t turn = m ? m->ae_rounds : d.round;
	const uint64_t *b = crdt_store_bucket_digests(e->store);
	for (uint32_t i = 0; i < d.count; i++) {
		uint32_t bucket = d.first + i;
		if (msg_digest_at(&d, i) == b[bucket])
			continue;
		if (list_now(e, bucket, turn))
			send_listing(e, from, d.round, bucket, true);
		else
			e->stats.ae_busy_deferred++;
	}
	return 0;
}

/* Sends our state of the given carts, as far as the repair budget allows. */
static void send_states(engine *e, const engine_addr *to, pack_item *items, size_t n)
{
	refill_tokens(e);
	size_t k = 0;
	for (; k < n; k++) {
		double cost = (double)msg_cart_size(items[k].len, items[k].cart);
		if (cost > e->ae_tokens) {
			e->stats.ae_throttled++;
			break;
		}
		e->ae_tokens -= cost;
	}
	const engine_addr *targets[1] = { to };
	size_t bytes = push_send_items(e, targets, 1, items, k, 0, true);
	e->stats.ae_carts_sent += k;
	e->stats.ae_bytes += bytes;
}

/* Collects WANT ids into a message, sending full chunks. */
struct want {
	engine *e;
	const engine_addr *to;
	buf_writer w;
	uint32_t count;
};

static void want_flush(struct want *wt)
{
	if (wt->count == 0)
		return;
	msg_end_want(&wt->w, wt->count);
	if (!wt->w.err)
		engine_send(wt->e, wt->to, MSG_AE_WANT, wt->w.data, wt->w.len);
	buf_writer_reset(&wt->w);
	msg_begin_want(&wt->w);
	wt->count = 0;
}

static void want_add(struct want *wt, const char *id, size_t len)
{
	if (wt->w.len + 1 + len > engine_max_body(wt->e) || wt->count == MSG_MAX_ITEMS)
		want_flush(wt);
	buf_put_str(&wt->w, id, len);
	wt->count++;
}

/* Reads the peer's listing: wants what we lack, sends what differs. */
static void compare_listing(engine *e, const engine_addr *from, msg_carts *c,
                            pack_item *items, size_t *nitems, struct want *wt)
{
	const char *id;
	size_t len;
	uint64_t digest;
	while (c->count && msg_next_listing(c, &id, &len, &digest) == 0) {
		crdt_item it;
		if (crdt_store_get(e->store, id, len, &it) != 0) {
			want_add(wt, id, len);
		} else if (crdt_store_digest(e->store, &it) != digest && !engine_is_pending(e, id, len)) {
			items[(*nitems)++] = (pack_item){ it.id, it.id_len, it.cart };
		}
	}
	(void)from;
}

int ae_on_carts(engine *e, const engine_addr *from, uint64_t sender, const uint8_t *p, size_t len)
{
	(void)sender;
	msg_carts c;
	if (msg_get_carts(p, len, &c, &e->why) || same_layout(e, c.nbuckets))
		return CARTD_EDECODE;
	bool reply = c.flags & MSG_CARTS_REPLY;
	uint32_t round = c.round, bucket = c.bucket;
	pack_item *items = malloc((c.count ? c.count : 1) * sizeof *items);
	struct want wt = { e, from, { 0 }, 0 };
	buf_writer_init(&wt.w);
	msg_begin_want(&wt.w);
	size_t n = 0;
	if (items == NULL) {
		buf_writer_destroy(&wt.w);
		return CARTD_ENOMEM;
	}
	compare_listing(e, from, &c, items, &n, &wt);
	want_flush(&wt);
	send_states(e, from, items, n);
	free(items);
	buf_writer_destroy(&wt.w);
	if (reply)
		send_listing(e, from, round, bucket, false);
	return 0;
}

int ae_on_want(engine *e, const engine_addr *from, uint64_t sender, const uint8_t *p, size_t len)
{
	(void)sender;
	uint32_t count;
	buf_reader r;
	if (msg_get_want(p, len, &count, &r, &e->why))
		return CARTD_EDECODE;
	pack_item *items = malloc(count * sizeof *items);   /* count < 2^16 */
	if (items == NULL)
		return CARTD_ENOMEM;
	size_t n = 0;
	for (uint32_t i = 0; i < count; i++) {
		const char *id;
		size_t idlen;
		crdt_item it;
		if (msg_next_id(&r, &id, &idlen) == 0 && crdt_store_get(e->store, id, idlen, &it) == 0 &&
		    !engine_is_pending(e, id, idlen))
			items[n++] = (pack_item){ it.id, it.id_len, it.cart };
	}
	send_states(e, from, items, n);
	free(items);
	return 0;
}
