/*
 * engine.c - the engine's lifecycle, datagram dispatch, timers and the
 * local-write bookkeeping (see engine.h).  The protocol parts live in
 * members.c, swim.c, push.c and ae.c.
 */
#include "net/engine.h"

#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/splitmix.h"
#include "net/checked.h"
#include "net/engine_internal.h"

void engine_config_init(engine_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->flush_delay_ms = 5;
	cfg->full_push_max = 16;
	cfg->fanout = 4;
	cfg->ae_interval_ms = 1000;
	cfg->ae_bytes_per_sec = 4u << 20;
	cfg->ping_interval_ms = 1000;
	cfg->ping_timeout_ms = 300;
	cfg->indirect_probes = 3;
	cfg->suspect_ms = 5000;
	cfg->dead_retry_ms = 2000;
	cfg->max_members = 4096;
	cfg->max_candidates = 256;
}

static int config_ok(const engine_config *c)
{
	return c->self_id != 0 && c->flush_delay_ms <= 10000 && c->full_push_max >= 1 &&
	       c->fanout >= 1 && c->ae_interval_ms >= 1 && c->ae_bytes_per_sec >= 1024 &&
	       c->ping_interval_ms >= 1 && c->ping_timeout_ms >= 1 &&
	       c->ping_timeout_ms < c->ping_interval_ms && c->suspect_ms >= 1 &&
	       c->dead_retry_ms >= 1 && c->max_members >= 1 && c->max_candidates >= 1 &&
	       c->boot_epoch != 0;
}

uint64_t engine_rand(engine *e)
{
	return splitmix64_next(&e->rng);
}

int engine_new(const engine_config *cfg, crdt_store *store, wire *w,
               const engine_callbacks *cb, engine **out)
{
	*out = NULL;
	if (!cfg || !store || !w || !cb || !cb->send || !cb->persist || !config_ok(cfg) ||
	    wire_self_id(w) != cfg->self_id ||
	    wire_max_body(w) + wire_overhead() < ENGINE_MIN_DATAGRAM)
		return CARTD_EINVAL;
	engine *e = calloc(1, sizeof *e);
	if (e == NULL)
		return CARTD_ENOMEM;
	e->cfg = *cfg;
	if (e->cfg.replica_id == 0)
		e->cfg.replica_id = cfg->self_id;
	e->store = store;
	e->w = w;
	e->cb = *cb;
	e->rng = cfg->seed ^ cfg->self_id;
	/* Epochs past 2^31 would start beyond what a rumour may carry. */
	e->incarnation = (uint64_t)cfg->boot_epoch << 32;
	if (e->incarnation > MSG_INCARNATION_MAX)
		e->incarnation = MSG_INCARNATION_MAX;
	e->dgram_cap = wire_max_body(w) + wire_overhead();
	e->dgram = malloc(e->dgram_cap);
	e->members = calloc(cfg->max_members, sizeof *e->members);
	e->ae_changed_at = calloc(crdt_store_nbuckets(store), sizeof *e->ae_changed_at);
	buf_writer_init(&e->payload);
	hello_init(e);
	if (e->dgram == NULL || e->members == NULL || e->ae_changed_at == NULL || push_init(e)) {
		engine_free(e);
		return CARTD_ENOMEM;
	}
	*out = e;
	return 0;
}

void engine_free(engine *e)
{
	if (e == NULL)
		return;
	push_destroy(e);
	buf_writer_destroy(&e->payload);
	free(e->dgram);
	free(e->members);
	free(e->ae_changed_at);
	for (size_t i = 0; i < e->npending; i++)
		free(e->pending[i].keyed);
	free(e->pending);
	free(e->pending_hash);
	free(e);
}

int engine_add_seed(engine *e, const engine_addr *addr, uint64_t now_ms)
{
	if (addr == NULL || addr->len == 0 || addr->len > ENGINE_ADDR_MAX)
		return CARTD_EINVAL;
	e->now = now_ms;
	return members_add_seed(e, addr);
}

size_t engine_max_body(const engine *e)
{
	return wire_max_body(e->w);
}

buf_writer *engine_scratch(engine *e)
{
	buf_writer_reset(&e->payload);
	return &e->payload;
}

static bool addr_eq(const engine_addr *a, const engine_addr *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

uint64_t engine_peer_at(engine *e, const engine_addr *to)
{
	if (e->cur_from && addr_eq(to, e->cur_from))
		return e->cur_sender;
	struct member *m = members_find_addr(e, to);
	return m ? m->id : 0;
}

/* Sends the datagram wire sealed for peer id at `to` (rc: the sealing's
 * result, n: its size). */
static int sealed_send(engine *e, const engine_addr *to, uint64_t id, int rc, size_t n)
{
	if (rc == CARTD_ESESSION) {
		e->stats.no_session_drops++;
		hello_send(e, to, id);
	}
	if (rc)
		return rc;
	if (!credit_allow(e, to, id, n))
		return CARTD_EUNVERIFIED;
	e->cb.send(e->cb.arg, to, e->dgram, n);
	e->stats.dgrams_out++;
	e->stats.bytes_out += n;
	return 0;
}

int engine_send_sized(engine *e, const engine_addr *to, uint8_t type, const uint8_t *payload,
                      size_t len, size_t *sent)
{
	size_t n = 0;
	uint64_t id = engine_peer_at(e, to);
	int rc = wire_seal(e->w, id, type, payload, len, e->dgram, e->dgram_cap, &n);
	if (sent)
		*sent = n;
	return sealed_send(e, to, id, rc, n);
}

/* Seals p for one target and sends it; as engine_send_sized. */
static int send_packed(engine *e, const engine_addr *to, uint8_t type, const wire_packed *p,
                       size_t *sent)
{
	uint64_t id = engine_peer_at(e, to);
	int rc = wire_seal_packed(e->w, id, type, p, e->dgram, e->dgram_cap, sent);
	return sealed_send(e, to, id, rc, *sent);
}

int engine_send_each(engine *e, const engine_addr *const *to, size_t nto, uint8_t type,
                     const uint8_t *payload, size_t len, size_t *total, size_t *last)
{
	wire_packed p;
	*total = *last = 0;
	int rc = wire_pack(e->w, payload, len, &p);
	if (rc)
		return rc;
	for (size_t i = 0; i < nto; i++) {
		size_t n = 0;
		rc = send_packed(e, to[i], type, &p, &n);
		if (rc == CARTD_EOVERSIZE)
			return rc;   /* the same for every target */
		if (rc == 0) {
			*total += n;
			*last = n;
		}
	}
	return 0;
}

int engine_send(engine *e, const engine_addr *to, uint8_t type, const uint8_t *payload,
                size_t len)
{
	return engine_send_sized(e, to, type, payload, len, NULL);
}

int engine_refuse(engine *e, enum reject_field f)
{
	e->why = f;
	return CARTD_EDECODE;
}

/* Parses a probe-family message and hands it to swim.c. */
static int dispatch_probe(engine *e, const engine_addr *from, const wire_msg *m)
{
	msg_probe p;
	if (msg_get_probe(m->payload, m->payload_len, &p, &e->why))
		return CARTD_EDECODE;
	for (size_t i = 0; i < p.ngossip; i++)
		members_apply_rumour(e, &p.gossip[i], from);
	if (m->type == MSG_PING)
		swim_on_ping(e, from, m->sender_id, &p);
	else if (m->type == MSG_ACK)
		swim_on_ack(e, from, m->sender_id, &p);
	else
		swim_on_ping_req(e, from, m->sender_id, &p);
	return 0;
}

static int dispatch(engine *e, const engine_addr *from, const wire_msg *m)
{
	const uint8_t *p = m->payload;
	size_t n = m->payload_len;
	switch (m->type) {
	case MSG_DELTA: return push_on_delta(e, from, m->sender_id, p, n);
	case MSG_PING:
	case MSG_ACK:
	case MSG_PING_REQ: return dispatch_probe(e, from, m);
	case MSG_AE_GROUPS: return ae_on_groups(e, from, m->sender_id, p, n);
	case MSG_AE_BUCKETS: return ae_on_buckets(e, from, m->sender_id, p, n);
	case MSG_AE_CARTS: return ae_on_carts(e, from, m->sender_id, p, n);
	case MSG_AE_WANT: return ae_on_want(e, from, m->sender_id, p, n);
	case MSG_AE_STATUS: return ae_on_status(e, from, m->sender_id, p, n);
	case MSG_MEMBERS: return members_on_table(e, from, p, n);
	default: return engine_refuse(e, REJECT_F_TYPE);
	}
}

/* Counts a refused payload under its reason.  A decode path that forgot to
 * name its field still counts, under the row's "truncated" at worst, never
 * outside the table. */
static void count_decode(engine *e, uint8_t type)
{
	unsigned f = e->why;
	unsigned row = f == REJECT_F_TYPE || f == REJECT_F_SENDER ? 0 : reject_row_of_type(type);
	if (!reject_valid(row, f))
		f = row == 0 ? REJECT_F_TYPE : REJECT_F_TRUNCATED;
	e->stats.rej_decode++;
	e->stats.rej_reason[row][f]++;
	e->last_row = row;
	e->last_field = f;
}

int engine_receive(engine *e, const engine_addr *from, const uint8_t *dgram,
                   size_t len, uint64_t now_ms)
{
	e->now = now_ms;
	if (from == NULL || from->len == 0 || from->len > ENGINE_ADDR_MAX)
		return CARTD_EINVAL;
	/* Whatever an unverified address sends buys it as many bytes back. */
	credit_received(e, from, len);
	wire_msg m;
	int rc = wire_open(e->w, dgram, len, &m);
	if (rc == CARTD_ESESSION || rc == CARTD_EEPOCH)
		hello_on_stale(e, from);
	if (rc)
		return rc;
	e->stats.dgrams_in++;
	e->stats.bytes_in += len;
	e->cur_from = from;
	e->cur_sender = m.sender_id;
	e->why = REJECT_F_NONE;
	if (m.type == WIRE_TYPE_HELLO) {
		hello_on_hello(e, from, &m);
	} else {
		/* Any authentic datagram is first-hand proof that its sender lives. */
		members_heard(e, m.sender_id, from);
		rc = dispatch(e, from, &m);
	}
	e->cur_from = NULL;
	if (rc == CARTD_EDECODE)
		count_decode(e, m.type);
	else if (rc == CARTD_ENOMEM)
		e->stats.rej_nomem++;
	return rc;
}

void engine_last_reject(const engine *e, unsigned *row, unsigned *field)
{
	*row = e->last_row;
	*field = e->last_field;
}

void engine_tick(engine *e, uint64_t now_ms)
{
	e->now = now_ms;
	e->ticked = true;
	push_tick(e);
	swim_tick(e);
	ae_tick(e);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

uint64_t engine_next_deadline(const engine *e, uint64_t now_ms)
{
	if (!e->ticked)
		return now_ms;   /* the first tick schedules the timers */
	/* A push that is due goes at once (its tick clears flush_at, so this
	 * cannot spin); other timers keep their 1 ms floor below. */
	if (e->flush_at != 0 && e->flush_at <= now_ms)
		return now_ms;
	uint64_t t = earliest(e->flush_at, swim_deadline(e));
	t = earliest(t, e->next_ae);
	if (t == 0)
		t = now_ms + e->cfg.ping_interval_ms;
	return t > now_ms ? t : now_ms + 1;
}

/* Writes in flight are few (bounded by the committer queue), so a scan of
 * their hashes is cheaper than keeping a hash table in step. */
static struct pending *pending_find(const engine *e, const crdt_id *id)
{
	for (size_t i = 0; i < e->npending; i++) {
		const struct pending *p = &e->pending[i];
		if (e->pending_hash[i] == id->hash && p->len == id->len &&
		    memcmp(p->id, id->s, id->len) == 0)
			return &e->pending[i];
	}
	return NULL;
}

bool engine_is_pending(const engine *e, const char *id, size_t len)
{
	if (e->npending == 0)
		return false;
	crdt_id key = crdt_id_of(id, len, crdt_name_hash(id, len));
	return pending_find(e, &key) != NULL;
}

/* The pending entry of id's writes, with one more mark: NULL only for
 * CARTD_ENOMEM. */
static struct pending *write_begin(engine *e, const crdt_id *id)
{
	struct pending *p = pending_find(e, id);
	if (p == NULL) {
		if (e->npending == e->pending_cap) {
			size_t cap = e->pending_cap ? e->pending_cap * 2 : 16;
			uint64_t *h = realloc(e->pending_hash, cap * sizeof *h);
			if (h == NULL)
				return NULL;
			e->pending_hash = h;   /* larger, and as valid at the old cap */
			struct pending *v = realloc(e->pending, cap * sizeof *v);
			if (v == NULL)
				return NULL;
			e->pending = v;
			e->pending_cap = cap;
		}
		crdt_item it;
		e->pending_hash[e->npending] = id->hash;
		p = &e->pending[e->npending++];
		p->durable_max = crdt_store_get_id(e->store, id, &it) == 0
		               ? crdt_ctx_max(&it.cart->ctx, e->cfg.replica_id) : 0;
		memcpy(p->id, id->s, id->len);
		p->id[id->len] = '\0';
		p->len = (uint8_t)id->len;
		p->count = 0;
		p->keyed = NULL;
		p->nkeyed = p->keyed_cap = 0;
	}
	p->count++;
	e->stats.pending_writes++;
	return p;
}

int engine_write_begin(engine *e, const crdt_id *id)
{
	return write_begin(e, id) ? 0 : CARTD_ENOMEM;
}

/* Clears one mark of p; the last one takes the entry away. */
static void pending_release(engine *e, struct pending *p)
{
	if (--p->count == 0) {
		free(p->keyed);
		size_t i = (size_t)(p - e->pending);
		e->pending_hash[i] = e->pending_hash[--e->npending];
		*p = e->pending[e->npending];
	}
	e->stats.pending_writes--;
}

/* Room for one more keyed dot, made before the store changes so that a
 * keyed write, once applied, is always listed. */
static int keyed_reserve(struct pending *p)
{
	if (p->nkeyed < p->keyed_cap)
		return 0;
	uint32_t cap = p->keyed_cap ? p->keyed_cap * 2 : 4;
	crdt_dot *v = realloc(p->keyed, cap * sizeof *v);
	if (v == NULL)
		return CARTD_ENOMEM;
	p->keyed = v;
	p->keyed_cap = cap;
	return 0;
}

int engine_local_write(engine *e, const crdt_id *id, const crdt_op *op, crdt_cart *delta)
{
	/* Mark first: the mark records the durable counter before the write,
	 * so neither a token nor anti-entropy can cover the new dot. */
	struct pending *p = write_begin(e, id);
	if (p == NULL)
		return CARTD_ENOMEM;
	int rc = op->key ? keyed_reserve(p) : 0;
	if (rc == 0)
		rc = crdt_store_apply_id(e->store, id, e->cfg.replica_id, op, delta);
	if (rc) {
		pending_release(e, p);
		return rc;
	}
	if (op->key)
		p->keyed[p->nkeyed++] = op->key->dot;
	ae_note_change(e, id->hash);
	return 0;
}

int engine_write_done(engine *e, const crdt_id *id, const crdt_cart *delta, uint64_t now_ms)
{
	e->now = now_ms;
	struct pending *p = pending_find(e, id);
	if (p == NULL)
		return CARTD_EINVAL;
	/* Completions come in submission order, and dots were handed out in
	 * that order: this write's dot and all below it are on disk now. */
	uint64_t mine = delta ? crdt_ctx_max(&delta->ctx, e->cfg.replica_id) : 0;
	if (mine > p->durable_max)
		p->durable_max = mine;
	/* A keyed dot is durable once a durable delta's context holds it. */
	for (uint32_t i = 0; delta && i < p->nkeyed;) {
		if (crdt_ctx_contains(&delta->ctx, p->keyed[i]))
			p->keyed[i] = p->keyed[--p->nkeyed];
		else
			i++;
	}
	pending_release(e, p);
	if (delta == NULL || crdt_cart_empty(delta))
		return 0;
	return push_enqueue(e, id, delta);
}

int engine_token_ctx(const engine *e, const crdt_id *id, const crdt_ctx *ctx, crdt_ctx *out)
{
	if (crdt_ctx_copy(out, ctx))
		return CARTD_ENOMEM;
	const struct pending *p = pending_find(e, id);
	if (p == NULL)
		return 0;
	uint64_t max = crdt_ctx_max(ctx, e->cfg.replica_id);
	for (uint64_t c = p->durable_max + 1; c <= max; c++) {
		crdt_dot d = { e->cfg.replica_id, c };
		if (crdt_ctx_remove(out, d))
			return CARTD_ENOMEM;
	}
	for (uint32_t i = 0; i < p->nkeyed; i++)
		if (crdt_ctx_remove(out, p->keyed[i]))
			return CARTD_ENOMEM;
	return 0;
}

const engine_stats *engine_get_stats(engine *e)
{
	members_count_states(e);
	/* A gauge of what waits now: read from the queues, not kept up to
	 * date on every enqueue and flush. */
	e->stats.push_queue_carts = crdt_store_count(e->queue) + crdt_store_count(e->relay_queue);
	return &e->stats;
}

size_t engine_members(const engine *e, engine_member_info *out, size_t cap)
{
	for (size_t i = 0; i < e->nmembers && i < cap; i++) {
		const struct member *m = &e->members[i];
		out[i] = (engine_member_info){
			.id = m->id, .addr = m->addr, .state = m->state,
			.incarnation = m->incarnation, .last_heard_ms = m->last_heard,
			.last_sync_ms = m->last_sync, .differing_buckets = m->differing,
			.verified = m->verified,
		};
	}
	return e->nmembers;
}

int engine_set_keyring(engine *e, const wire_keyring *ring)
{
	int rc = wire_set_keyring(e->w, ring);
	if (rc == 0)
		members_drop_revoked(e, ring);
	return rc;
}
