/*
 * sim_keyed.c - clients that send writes with an idempotency key and retry
 * them with the same key and the same content (docs/semantics.md §10), and
 * checkouts, which go through the same request machinery (sim_close.c).
 *
 * A keyed request is attempted at one peer, or at two at once (hedged).
 * Its client waits for an answer: the commit of an applied attempt
 * answers after a short delay, so a crash between commit and answer loses
 * it, and some answers are lost on the way; a replay is answered once
 * everything the peer has in flight is durable, as cartd answers it.  A
 * client that times out (after a few ms: the first attempt has not even
 * replicated; or after seconds) retries at the same peer or at another,
 * before or after replication, also after the first peer crashed.  No
 * request is attempted after the active phase.
 *
 * Some requests reuse the key of an earlier request to the same cart for
 * other content (422 expected where the record is kept).  Some adds are
 * retried at another peer while a second client removes the line under a
 * token read after the first attempt (SIM_REQ_TOKREM): no attempt may
 * stay live.
 *
 * The answers are judged as they are given: what the key decides (a
 * replay, 422, or a write made) must be what the peer's cart called for
 * (the dot or a record of it, another request's kept record, neither); a
 * replay must be of a write that took effect; a refused reuse must name
 * a key another request's applied write used.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/shared/idem.h"
#include "crdt/error.h"
#include "tests/sim_internal.h"

#define MAX_ATTEMPTS 5u                          /* then the client gives up */
#define REUSE_LOOKBACK 200u                       /* requests a reused key comes from */
#define CLOCK_BASE_MS UINT64_C(1700000000000)   /* wall clocks look like ones */

uint64_t sim_clock(const sim *s, unsigned pi)
{
	uint64_t skew = s->p.skew_ms ? s->peer[pi].id % (s->p.skew_ms + 1u) : 0;
	return CLOCK_BASE_MS + s->now + skew;
}

static size_t key_text(const sim_req *r, char *buf, size_t cap)
{
	return (size_t)snprintf(buf, cap, "k%" PRIu32, r->key_of);
}

static crdt_op req_op(const sim_req *r)
{
	crdt_op op = { .kind = (enum crdt_op_kind)r->kind, .sku = r->sku, .sku_len = r->sku_len,
	               .qty = r->qty, .observed = r->has_token ? &r->token : NULL };
	return op;
}

/* r's record as peer pi derives it now: cartd's own derivation. */
static void derive(sim *s, const sim_req *r, unsigned pi, crdt_keyrec *out)
{
	char key[16];
	size_t klen = key_text(r, key, sizeof key);
	const char *id = s->cart_ids[r->cart];
	crdt_op op = req_op(r);
	int rc = idem_record(id, strlen(id), key, klen, &op, sim_clock(s, pi),
	                     s->p.idem_window_ms, out);
	if (rc)
		sim_die("idempotency record", rc);
}

static void answered(sim *s, uint32_t ri, enum sim_answer a)
{
	sim_req *r = &s->oracle.reqs[ri];
	if (r->answer == SIM_ANS_NONE)
		r->answer = (uint8_t)a;
}

static void schedule_timeout(sim *s, uint32_t ri, uint16_t attempts)
{
	uint64_t wait = sim_pct(&s->rng, 50) ? sim_range(&s->rng, 5, 60)
	                                     : sim_range(&s->rng, 200, 3000);
	sim_event ev = { .at = s->now + wait, .kind = SIM_EV_TIMEOUT, .arg = ri, .len = attempts };
	sim_schedule(s, &ev);
}

/* What the key alone answers at p, judged from the cart as it is: a
 * replay when the dot or a record of it is there (the dot outlives the
 * record), 422 when another dot's record of the key is kept until at
 * least now, else nothing (the write is made). */
static int key_answer(const sim_peer *p, const char *id, const crdt_keyrec *k)
{
	crdt_item it;
	if (crdt_store_get(p->store, id, strlen(id), &it) != 0)
		return 0;
	if (crdt_ctx_contains(&it.cart->ctx, k->dot))
		return CARTD_EIDEMPOTENT;
	bool other = false;
	for (uint32_t i = 0; i < crdt_cart_nkeys(it.cart); i++) {
		const crdt_keyrec *x = &it.cart->keys->v[i];
		if (memcmp(x->hash, k->hash, CRDT_KEY_HASH_BYTES) != 0)
			continue;
		if (crdt_dot_cmp(x->dot, k->dot) == 0)
			return CARTD_EIDEMPOTENT;
		other = other || x->until_ms >= k->at_ms;
	}
	return other ? CARTD_EKEYREUSED : 0;
}

/* A replay is answered once everything the peer has in flight is
 * durable. */
static void replayed(sim *s, sim_peer *p, uint32_t ri)
{
	s->st.idem_replays++;
	uint64_t at = p->last_commit > s->now ? p->last_commit : s->now;
	sim_event ev = { .at = at, .kind = SIM_EV_ANSWER, .peer = (uint16_t)p->idx, .gen = p->gen,
	                 .arg = ri, .len = SIM_ANS_REPLAY };
	sim_schedule(s, &ev);
}

/* 422: another request to the cart used the key and was applied. */
static void reused(sim *s, sim_peer *p, uint32_t ri)
{
	const sim_oracle *o = &s->oracle;
	const sim_req *r = &o->reqs[ri];
	bool other = false;
	for (size_t i = 0; i < o->nops && !other; i++) {
		uint32_t q = o->ops[i].req;
		other = q != SIM_NO_OP && q != ri && o->reqs[q].cart == r->cart &&
		        o->reqs[q].keyed && o->reqs[q].key_of == r->key_of;
	}
	s->st.key_reused++;
	if (!other)
		sim_problem(&s->during, "t=%" PRIu64 "ms peer %u: %s: key k%" PRIu32 " refused as "
		            "reused, but no other request under it was applied", s->now, p->idx,
		            s->cart_ids[r->cart], r->key_of);
}

/* One attempt of request ri at live peer pi. */
static void attempt(sim *s, uint32_t ri, unsigned pi)
{
	sim_req *r = &s->oracle.reqs[ri];
	sim_peer *p = &s->peer[pi];
	uint16_t n = ++r->attempts;
	r->last_peer = (uint16_t)pi;
	crdt_op op = req_op(r);
	op.now_ms = sim_clock(s, pi);
	crdt_keyrec k;
	memset(&k, 0, sizeof k);
	if (r->keyed) {
		s->st.keyed_attempts++;
		derive(s, r, pi, &k);
		op.key = &k;
	}
	const char *id = s->cart_ids[r->cart];
	int want = r->keyed ? key_answer(p, id, &k) : 0;
	uint32_t op_no;
	int rc = sim_client_apply(s, p, id, strlen(id), &op, ri, &op_no);
	r = &s->oracle.reqs[ri];
	if ((want || rc == CARTD_EIDEMPOTENT || rc == CARTD_EKEYREUSED) && rc != want)
		sim_problem(&s->during, "t=%" PRIu64 "ms peer %u: %s: a keyed write (kind %u) was "
		            "answered %s; its key and the cart call for %s", s->now, pi, id,
		            r->kind, rc ? cartd_errname(rc) : "ok", want ? cartd_errname(want) : "ok");
	switch (rc) {
	case 0:
		s->st.reapplied += r->applied > 0;
		s->st.reuse_applied += r->key_of != ri;
		r->applied++;
		break;                          /* the commit answers */
	case CARTD_EIDEMPOTENT:
		replayed(s, p, ri);
		break;
	case CARTD_ETOKENAHEAD:
		/* a keyed checkout is retried: elsewhere, or once the writes
		 * the token names have arrived */
		s->st.checkouts_refused++;
		if (!r->keyed)
			answered(s, ri, SIM_ANS_REFUSED);
		break;
	case CARTD_EKEYREUSED:
		reused(s, p, ri);
		answered(s, ri, SIM_ANS_REFUSED);
		return;
	default:
		s->st.checkouts_refused += rc == CARTD_EEMPTYCART;
		answered(s, ri, SIM_ANS_REFUSED);
		return;
	}
	if (r->keyed)
		schedule_timeout(s, ri, n);
}

/* Another live peer than pi, or s->n. */
static unsigned other_up(sim *s, unsigned pi)
{
	for (int tries = 0; tries < 8; tries++) {
		unsigned q = sim_pick_up(s);
		if (q != pi)
			return q;
	}
	return s->n;
}

/* A reused key must name other content (else it is a retry): an add of
 * a quantity no request under the key has. */
static void reuse_key(sim *s, sim_req *r, uint32_t self)
{
	const sim_oracle *o = &s->oracle;
	size_t lo = o->nreqs > REUSE_LOOKBACK ? o->nreqs - REUSE_LOOKBACK : 0;
	for (size_t j = o->nreqs; j-- > lo;) {
		const sim_req *q = &o->reqs[j];
		if (q->cart != r->cart || !q->keyed || q->kind == CRDT_OP_CLOSE)
			continue;
		r->key_of = q->key_of;
		break;
	}
	if (r->key_of == self)
		return;
	if (r->kind != CRDT_OP_ADD) {
		r->kind = CRDT_OP_ADD;
		r->qty = 1;
		r->has_token = false;
		if (r->sku_len == 0)
			r->sku_len = (uint8_t)snprintf(r->sku, sizeof r->sku, "s0");
	}
	for (bool clash = true; clash;) {
		clash = false;
		for (size_t j = 0; j < o->nreqs && !clash; j++)
			clash = o->reqs[j].key_of == r->key_of && o->reqs[j].cart == r->cart &&
			        o->reqs[j].kind == r->kind && o->reqs[j].qty == r->qty &&
			        o->reqs[j].sku_len == r->sku_len &&
			        memcmp(o->reqs[j].sku, r->sku, r->sku_len) == 0;
		r->qty += clash;
	}
}

void sim_keyed_start(sim *s, unsigned pi, uint32_t cart, const crdt_op *op, bool keyed,
                     uint8_t flags)
{
	sim_req r;
	memset(&r, 0, sizeof r);
	r.cart = cart;
	r.kind = (uint8_t)op->kind;
	r.qty = op->qty;
	r.keyed = keyed;
	r.flags = flags;
	crdt_ctx_init(&r.token);
	crdt_ctx_init(&r.seen);
	if (op->kind == CRDT_OP_ADD || op->kind == CRDT_OP_SET || op->kind == CRDT_OP_REMOVE) {
		r.sku_len = (uint8_t)(op->sku_len < SIM_SKU_MAX ? op->sku_len : SIM_SKU_MAX - 1);
		memcpy(r.sku, op->sku, r.sku_len);
	}
	if (op->observed) {
		r.has_token = true;
		if (crdt_ctx_copy(&r.token, op->observed))
			sim_die("request", CARTD_ENOMEM);
	}
	uint32_t ri = (uint32_t)s->oracle.nreqs;
	r.key_of = ri;
	if (keyed && sim_pct(&s->rng, s->p.reuse_pct))
		reuse_key(s, &r, ri);
	if (keyed) {
		derive(s, &r, pi, &r.rec);
		s->st.keyed++;
	}
	if (sim_oracle_req_add(&s->oracle, &r, &ri))
		sim_die("request", CARTD_ENOMEM);
	attempt(s, ri, pi);
	unsigned q = flags & SIM_REQ_HEDGE ? other_up(s, pi) : s->n;
	if (q < s->n) {
		s->st.hedged++;
		attempt(s, ri, q);
	}
}

void sim_keyed_attempt(sim *s, const sim_event *ev)
{
	unsigned pi = ev->peer == SIM_ANY_PEER ? sim_pick_up(s) : ev->peer;
	if (s->now >= s->p.active_ms || pi >= s->n || !s->peer[pi].up) {
		s->st.writes_skipped++;
		return;
	}
	attempt(s, ev->arg & SIM_INDEX, pi);
}

/* The first attempt of a SIM_REQ_TOKREM add committed at p: its answer
 * is lost, the client retries at another peer, and meanwhile a second
 * client that read the cart at p removes the line under that token. */
static void plan_tokrem(sim *s, sim_peer *p, uint32_t ri)
{
	sim_req *r = &s->oracle.reqs[ri];
	r->flags |= SIM_REQ_TOKREM_DONE;
	sim_token_at(s, p->idx, r->cart, &r->seen);
	unsigned c = other_up(s, p->idx), b = other_up(s, p->idx);
	if (c < s->n) {
		sim_event ev = { .at = s->now + sim_below(&s->rng, 15), .kind = SIM_EV_WRITE,
		                 .peer = (uint16_t)c, .arg = SIM_KEYED | ri };
		sim_schedule(s, &ev);
	}
	if (b < s->n) {
		sim_event ev = { .at = s->now + sim_below(&s->rng, 15), .kind = SIM_EV_WRITE,
		                 .peer = (uint16_t)b, .arg = SIM_TOKREM | ri };
		sim_schedule(s, &ev);
	}
}

void sim_keyed_tokrem(sim *s, const sim_event *ev)
{
	uint32_t ri = ev->arg & SIM_INDEX;
	sim_peer *p = &s->peer[ev->peer];
	if (s->now >= s->p.active_ms || !p->up) {
		s->st.writes_skipped++;
		return;
	}
	const sim_req *r = &s->oracle.reqs[ri];
	crdt_op op = { .kind = CRDT_OP_REMOVE, .sku = r->sku, .sku_len = r->sku_len,
	               .observed = &r->seen };
	const char *id = s->cart_ids[r->cart];
	uint32_t op_no;
	if (sim_client_apply(s, p, id, strlen(id), &op, SIM_NO_OP, &op_no) == 0 &&
	    op_no != SIM_NO_OP && sim_oracle_tokrem_add(&s->oracle, op_no, ri))
		sim_die("oracle", CARTD_ENOMEM);
}

void sim_keyed_committed(sim *s, sim_peer *p, uint32_t op)
{
	uint32_t ri = s->oracle.ops[op].req;
	const sim_req *r = &s->oracle.reqs[ri];
	if ((r->flags & SIM_REQ_TOKREM) && !(r->flags & SIM_REQ_TOKREM_DONE)) {
		plan_tokrem(s, p, ri);
		return;
	}
	if (sim_pct(&s->rng, s->p.answer_loss_pct)) {
		s->st.answers_lost++;
		return;
	}
	/* kill -9 after the commit, before the answer: the crash is queued
	 * first, so it comes before the answer however short the delay */
	if (s->commit_crashes < s->p.commit_crashes && s->now < s->p.active_ms * 9 / 10 &&
	    sim_pct(&s->rng, 5)) {
		s->commit_crashes++;
		sim_plan_crash(s, p->idx, (uint32_t)sim_range(&s->rng, 100, 3000));
	}
	sim_event ev = { .at = s->now + sim_below(&s->rng, (uint64_t)s->p.answer_ms + 1),
	                 .kind = SIM_EV_ANSWER, .peer = (uint16_t)p->idx, .gen = p->gen,
	                 .arg = ri, .len = SIM_ANS_OK };
	sim_schedule(s, &ev);
}

/* The answer to a keyed checkout is an order: the marker its key names
 * at the answering peer (the smallest id when attempts at two peers made
 * two), which must be one this request made.  A replay that names
 * another order than the client's first answer is counted: attempts at
 * two peers before either replicated make two orders, and which one a
 * peer names depends on what it has received. */
static void checkout_answer(sim *s, const sim_peer *p, uint32_t ri, bool replay)
{
	const sim_oracle *o = &s->oracle;
	sim_req *r = &s->oracle.reqs[ri];
	crdt_item it;
	const char *id = s->cart_ids[r->cart];
	const crdt_close *m = crdt_store_get(p->store, id, strlen(id), &it) == 0
	                    ? crdt_cart_close_by_key(it.cart, r->rec.dot) : NULL;
	if (m == NULL) {
		s->st.replay_no_order += replay;
		return;
	}
	bool mine = false;
	for (size_t i = 0; i < o->ncloses && !mine; i++)
		mine = o->ops[o->closes[i].op].req == ri &&
		       crdt_dot_cmp(o->closes[i].delta.closes->v[0].id, m->id) == 0;
	if (!mine)
		sim_problem(&s->during, "t=%" PRIu64 "ms peer %u: %s: a keyed checkout answers "
		            "an order this request never made", s->now, p->idx, id);
	if (r->order.counter == 0)
		r->order = m->id;
	else
		s->st.replay_other_order += replay && crdt_dot_cmp(r->order, m->id) != 0;
}

void sim_keyed_answer(sim *s, const sim_event *ev)
{
	sim_peer *p = &s->peer[ev->peer];
	uint32_t ri = ev->arg;
	if (!p->up || ev->gen != p->gen) {
		s->st.answers_lost++;
		s->st.commit_crashes += ev->len == SIM_ANS_OK;
		return;
	}
	const sim_oracle *o = &s->oracle;
	const sim_req *r = &o->reqs[ri];
	/* A replay tells the client its write took effect: some attempt did
	 * (a token never covers a keyed write's dot before it is durable, so
	 * nothing else puts the dot where a retry finds it). */
	if (ev->len == SIM_ANS_REPLAY && !sim_oracle_req_survives(o, ri))
		sim_problem(&s->during, "t=%" PRIu64 "ms peer %u: %s: a keyed write (kind %u) was "
		            "answered as a replay, but none of its %u attempts took effect",
		            s->now, p->idx, s->cart_ids[r->cart], r->kind, r->attempts);
	if (r->keyed && r->kind == CRDT_OP_CLOSE)
		checkout_answer(s, p, ri, ev->len == SIM_ANS_REPLAY);
	answered(s, ri, (enum sim_answer)ev->len);
}

void sim_keyed_timeout(sim *s, const sim_event *ev)
{
	uint32_t ri = ev->arg;
	const sim_req *r = &s->oracle.reqs[ri];
	if (r->answer != SIM_ANS_NONE || r->attempts != ev->len || r->attempts >= MAX_ATTEMPTS ||
	    s->now >= s->p.active_ms)
		return;
	unsigned pi = r->last_peer;
	if (!s->peer[pi].up || !sim_pct(&s->rng, 40))
		pi = sim_pick_up(s);
	if (pi == s->n) {
		schedule_timeout(s, ri, r->attempts);   /* nobody is up: wait more */
		return;
	}
	attempt(s, ri, pi);
}
