/*
 * check_engine.c - unit tests of the replication engine (net/engine.h) with
 * two or three engines wired together in-process: push, anti-entropy after
 * loss, durability gating of local writes, membership learning and failure
 * detection, and hand-built malformed messages.  Delivery is synchronous
 * through a mailbox the test drains, so every outcome is deterministic.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "net/engine.h"
#include "net/engine_internal.h"
#include "net/reject.h"
#include "net/msg.h"
#include "net/wire.h"
#include "tests/test_alloc.h"
#include "tests/test_util.h"

#define NPEERS 3
#define MAILBOX 4096

struct mail {
	int from, to;
	size_t len;
	uint8_t d[1200];
};

struct peer {
	crdt_store *store;
	wire *w;
	engine *e;
	int persisted;
};

static struct peer peers[NPEERS];
static struct mail *box;
static size_t nbox;
static bool cut[NPEERS];          /* peer i neither sends nor receives */
static bool drop_deltas;          /* drop DELTA datagrams (type byte 1) */
static int oom_peer = -1;         /* this peer's receives fail allocations... */
static long oom_step;             /* ...after their first oom_step */
static long oom_failed;           /* receives in which one failed */
static int enc_mismatch;          /* persists whose enc was not the delta's
                                   * encoding */
static int oversize, invalid;     /* counted, not asserted, in callbacks: Check
                                   * allocates in ck_assert, and a callback may run
                                   * while allocations are failing */
static wire_keyring *rings[NPEERS];
static uint64_t now;

static engine_addr addr_of(int i)
{
	engine_addr a = { 1, { (uint8_t)i } };
	return a;
}

static void on_send(void *arg, const engine_addr *to, const uint8_t *d, size_t len)
{
	int from = (int)(intptr_t)arg;
	if (len > sizeof box[0].d) {
		oversize++;
		return;
	}
	if (nbox == MAILBOX || cut[from] || cut[to->b[0]] || (drop_deltas && d[3] == MSG_DELTA))
		return;
	box[nbox] = (struct mail){ from, to->b[0], len, { 0 } };
	memcpy(box[nbox++].d, d, len);
}

static void on_persist(void *arg, const crdt_id *id, const crdt_cart *delta, const uint8_t *enc,
                       size_t enc_len)
{
	(void)id;
	test_alloc_pause();               /* the check allocates */
	if (!crdt_cart_valid(delta))
		invalid++;
	/* The bytes the host logs instead of encoding delta again: its
	 * encoding as the sending engine made it. */
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, delta);
	if (w.err || enc_len != w.len || memcmp(enc, w.data, w.len) != 0)
		enc_mismatch++;
	buf_writer_destroy(&w);
	test_alloc_resume();
	peers[(intptr_t)arg].persisted++;
}

static void setup(void)
{
	char text[WIRE_KEYRING_TEXT_MAX];
	ck_assert_int_eq(wire_keyring_generate(text, sizeof text), 0);
	box = calloc(MAILBOX, sizeof *box);
	nbox = 0;
	now = 1000;
	drop_deltas = false;
	oom_peer = -1;
	oom_failed = 0;
	oversize = invalid = enc_mismatch = 0;
	for (int i = 0; i < NPEERS; i++) {
		struct peer *p = &peers[i];
		cut[i] = false;
		p->persisted = 0;
		/* one development keyring, an identity derived per replica */
		ck_assert_int_eq(wire_keyring_parse(text, strlen(text), &rings[i], NULL, 0), 0);
		ck_assert_int_eq(wire_keyring_derive_identity(rings[i], 100 + (uint64_t)i), 0);
		wire_config wc;
		wire_config_init(&wc);
		wc.boot_epoch = 1;
		wc.boot_nonce[0] = (uint8_t)i;
		wc.cluster_tag = wire_cluster_tag("test");
		ck_assert_int_eq(crdt_store_new(64, &p->store), 0);
		ck_assert_int_eq(wire_new(&wc, rings[i], &p->w), 0);
		engine_config ec;
		engine_config_init(&ec);
		ec.self_id = wire_self_id(p->w);
		ec.replica_id = 100 + (uint64_t)i;
		ec.boot_epoch = 1;
		ec.seed = 7;
		ec.ae_interval_ms = 200;
		engine_callbacks cb = { on_send, on_persist, NULL, (void *)(intptr_t)i };
		ck_assert_int_eq(engine_new(&ec, p->store, p->w, &cb, &p->e), 0);
	}
}

static void teardown(void)
{
	ck_assert_int_eq(oversize, 0);
	ck_assert_int_eq(invalid, 0);
	ck_assert_int_eq(enc_mismatch, 0);
	for (int i = 0; i < NPEERS; i++) {
		engine_free(peers[i].e);
		wire_free(peers[i].w);
		crdt_store_free(peers[i].store);
		wire_keyring_free(rings[i]);
	}
	free(box);
}

/* Delivers mail (including mail sent while delivering) and runs timers,
 * advancing virtual time in 1 ms steps up to ms. */
static void run_for(uint64_t ms)
{
	uint64_t end = now + ms;
	for (; now <= end; now++) {
		for (size_t i = 0; i < nbox; i++) {
			struct mail m = box[i];
			if (!cut[m.to] && !cut[m.from]) {
				engine_addr from = addr_of(m.from);
				if (m.to == oom_peer)
					test_alloc_fail_after(oom_step);
				(void)engine_receive(peers[m.to].e, &from, m.d, m.len, now);
				if (m.to == oom_peer && test_alloc_attempts() > oom_step)
					oom_failed++;
				test_alloc_reset();
			}
		}
		nbox = 0;
		for (int i = 0; i < NPEERS; i++)
			if (engine_next_deadline(peers[i].e, now) <= now + 1)
				engine_tick(peers[i].e, now);
	}
}

/* Peer i writes as a client would: local write, durable, done. */
static void client_add(int i, const char *cart, const char *sku, uint32_t n)
{
	crdt_op op = { CRDT_OP_ADD, sku, strlen(sku), n, NULL, NULL, 0 };
	crdt_cart delta;
	crdt_cart_init(&delta);
	struct peer *p = &peers[i];
	ck_assert_int_eq(engine_local_write(p->e, TU_IDN(cart, strlen(cart)), &op, &delta), 0);
	ck_assert_int_eq(engine_write_done(p->e, TU_IDN(cart, strlen(cart)), &delta, now), 0);
	crdt_cart_destroy(&delta);
}

static uint32_t qty_at(int i, const char *cart, const char *sku)
{
	crdt_item it;
	if (crdt_store_get(peers[i].store, cart, strlen(cart), &it))
		return 0;
	const crdt_line *l = crdt_cart_find(it.cart, sku, strlen(sku));
	return l ? crdt_line_qty(l) : 0;
}

static void seed_all(void)
{
	for (int i = 1; i < NPEERS; i++) {
		engine_addr a = addr_of(0);
		ck_assert_int_eq(engine_add_seed(peers[i].e, &a, now), 0);
	}
}

static bool digests_equal(void)
{
	for (int i = 1; i < NPEERS; i++)
		if (memcmp(crdt_store_bucket_digests(peers[0].store),
		           crdt_store_bucket_digests(peers[i].store), 64 * sizeof(uint64_t)))
			return false;
	return true;
}

START_TEST(membership_learned_through_seed)
{
	seed_all();
	run_for(8000);
	for (int i = 0; i < NPEERS; i++) {
		engine_member_info m[8];
		size_t n = engine_members(peers[i].e, m, 8);
		ck_assert_msg(n == NPEERS - 1, "peer %d knows %zu members", i, n);
		for (size_t k = 0; k < n; k++)
			ck_assert_msg(m[k].id != 0 && m[k].state == MEMBER_ALIVE,
			              "peer %d member %zu id %llu state %d", i, k,
			              (unsigned long long)m[k].id, m[k].state);
	}
}
END_TEST

START_TEST(push_reaches_all_quickly)
{
	seed_all();
	run_for(3000);
	client_add(1, "cart-1", "apple", 3);
	run_for(20);   /* flush delay is 5 ms: push, not anti-entropy */
	for (int i = 0; i < NPEERS; i++)
		ck_assert_msg(qty_at(i, "cart-1", "apple") == 3, "peer %d has %u", i,
		              qty_at(i, "cart-1", "apple"));
	ck_assert_int_gt(peers[0].persisted, 0);
	ck_assert_uint_gt(engine_get_stats(peers[1].e)->deltas_out, 0);
}
END_TEST

/* A delta after a quiet spell is due at once; one right after a push waits
 * for the flush delay, so that a busy peer batches. */
START_TEST(push_after_quiet_is_due_at_once)
{
	seed_all();
	run_for(3000);
	/* The push timer itself (engine_internal.h): the engine's next
	 * deadline is the earliest of all its timers, and the probe and
	 * anti-entropy timers are randomised, so it can come sooner. */
	engine *e = peers[1].e;
	client_add(1, "cart-q", "apple", 1);
	ck_assert_uint_eq(e->flush_at, now);
	ck_assert_uint_eq(engine_next_deadline(e, now), now);
	run_for(1);
	ck_assert_uint_gt(engine_get_stats(e)->deltas_out, 0);
	ck_assert_uint_eq(e->flush_at, 0);   /* flushed */
	client_add(1, "cart-q", "pear", 1);
	ck_assert_msg(e->flush_at == now + e->cfg.flush_delay_ms,
	              "second delta due at %llu, now %llu, last flush %llu",
	              (unsigned long long)e->flush_at, (unsigned long long)now,
	              (unsigned long long)e->last_flush);
	run_for(20);
	for (int i = 0; i < NPEERS; i++)
		ck_assert_uint_eq(qty_at(i, "cart-q", "pear"), 1);
}
END_TEST

/* A peer that knows no live member queues nothing (there is no one to
 * push to); once it knows one, its deltas wait in the queue for the flush,
 * and a peer that came alive after a write still learns it (anti-entropy). */
START_TEST(lone_peer_queues_nothing)
{
	engine *e = peers[1].e;
	client_add(1, "cart-early", "apple", 2);
	ck_assert_uint_eq(crdt_store_count(e->queue), 0);
	ck_assert_uint_eq(e->flush_at, 0);
	seed_all();
	run_for(3000);
	ck_assert_uint_gt(members_live_count(e), 0);
	client_add(1, "cart-late", "pear", 1);
	ck_assert_uint_eq(crdt_store_count(e->queue), 1);
	run_for(8000);
	for (int i = 0; i < NPEERS; i++) {
		ck_assert_msg(qty_at(i, "cart-early", "apple") == 2, "peer %d has %u early", i,
		              qty_at(i, "cart-early", "apple"));
		ck_assert_uint_eq(qty_at(i, "cart-late", "pear"), 1);
	}
}
END_TEST

START_TEST(anti_entropy_repairs_lost_deltas)
{
	seed_all();
	run_for(3000);
	drop_deltas = true;
	for (int k = 0; k < 50; k++) {
		char cart[32];
		snprintf(cart, sizeof cart, "cart-%d", k);
		client_add(k % NPEERS, cart, "sku", (uint32_t)k + 1);
	}
	run_for(50);
	ck_assert(!digests_equal());
	drop_deltas = false;
	uint64_t deadline = now + 10000;
	while (!digests_equal() && now < deadline)
		run_for(100);
	ck_assert_msg(digests_equal(), "no convergence by t=%llu", (unsigned long long)now);
	for (int k = 0; k < 50; k++) {
		char cart[32];
		snprintf(cart, sizeof cart, "cart-%d", k);
		for (int i = 0; i < NPEERS; i++)
			ck_assert_uint_eq(qty_at(i, cart, "sku"), (uint32_t)k + 1);
	}
	ck_assert_uint_gt(engine_get_stats(peers[0].e)->ae_carts_repaired +
	                  engine_get_stats(peers[1].e)->ae_carts_repaired +
	                  engine_get_stats(peers[2].e)->ae_carts_repaired, 0);
}
END_TEST

/*
 * A peer whose receives run out of memory part-way (the n-th allocation of
 * each receive failing, n = 0, 1, 2, ...) loses what it could not take,
 * and nothing else: once memory is back, anti-entropy brings every cart
 * to it, with no leak (the sanitizer and valgrind runs) and no invalid
 * state.  Each step must make some receive fail.
 */
START_TEST(receive_out_of_memory_heals)
{
	/* Past 34 no receive of this run makes that many allocations. */
	static const long steps[] = { 0, 1, 2, 3, 4, 5, 8, 13, 21, 34 };
	long step = steps[_i];
	seed_all();
	run_for(3000);
	oom_peer = 1;
	oom_step = step;
	for (int k = 0; k < 30; k++) {
		char cart[32];
		snprintf(cart, sizeof cart, "oom-%d", k);
		client_add(k % 2 == 0 ? 0 : 2, cart, "sku", (uint32_t)k + 1);
	}
	run_for(1500);
	oom_peer = -1;
	ck_assert_msg(oom_failed > 0, "step %ld: no receive ran out of memory", step);
	uint64_t deadline = now + 20000;
	while (!digests_equal() && now < deadline)
		run_for(100);
	ck_assert_msg(digests_equal(), "step %ld: no convergence by t=%llu", step,
	              (unsigned long long)now);
	for (int k = 0; k < 30; k++) {
		char cart[32];
		snprintf(cart, sizeof cart, "oom-%d", k);
		ck_assert_msg(qty_at(1, cart, "sku") == (uint32_t)k + 1, "step %ld: %s holds %u",
		              step, cart, qty_at(1, cart, "sku"));
	}
}
END_TEST

/* The i-th cart id of bucket b at peer 0's store, into out. */
static void id_in_bucket(uint32_t b, int i, char *out, size_t cap)
{
	for (int k = 0;; k++) {
		snprintf(out, cap, "busy-%d", k);
		if (crdt_store_bucket_of(peers[0].store, out, strlen(out)) == b && i-- == 0)
			return;
	}
}

/* A bucket written at both peers without pause differs all the time by
 * deltas in flight; anti-entropy leaves it to one round in AE_BUSY_EVERY,
 * yet a change that never went out (written to the store behind the
 * engine's back, as if its push were lost) is still repaired. */
START_TEST(busy_bucket_deferred_not_starved)
{
	cut[2] = true;
	seed_all();
	run_for(3000);
	crdt_op op = { CRDT_OP_ADD, "lost", 4, 1, NULL, NULL, 0 };
	ck_assert_int_eq(crdt_store_apply(peers[1].store, "hidden", 6, 101, &op, NULL), 0);
	uint32_t b = crdt_store_bucket_of(peers[0].store, "hidden", 6);
	uint64_t deadline = now + 30000;
	for (int k = 0; qty_at(0, "hidden", "lost") != 1 && now < deadline; k++) {
		char cart[32];
		id_in_bucket(b, k % 8, cart, sizeof cart);
		client_add(k % 2, cart, "sku", 1);   /* both peers, every 40 ms */
		run_for(40);
	}
	uint64_t deferred = engine_get_stats(peers[0].e)->ae_busy_deferred +
	                    engine_get_stats(peers[1].e)->ae_busy_deferred;
	ck_assert_msg(qty_at(0, "hidden", "lost") == 1,
	              "not repaired by t=%llu; %llu busy buckets deferred",
	              (unsigned long long)now, (unsigned long long)deferred);
	ck_assert_uint_gt(deferred, 0);
}
END_TEST

START_TEST(pending_write_is_not_sent)
{
	seed_all();
	run_for(3000);
	crdt_op op = { CRDT_OP_ADD, "pear", 4, 2, NULL, NULL, 0 };
	ck_assert_int_eq(engine_local_write(peers[0].e, TU_IDN("c", 1), &op, NULL), 0);
	run_for(3000);   /* many anti-entropy rounds */
	ck_assert_uint_eq(qty_at(1, "c", "pear"), 0);
	ck_assert_uint_eq(qty_at(2, "c", "pear"), 0);
	crdt_cart empty;
	crdt_cart_init(&empty);
	ck_assert_int_eq(engine_write_done(peers[0].e, TU_IDN("c", 1), &empty, now), 0);
	uint64_t deadline = now + 5000;
	while (qty_at(1, "c", "pear") != 2 && now < deadline)
		run_for(50);
	ck_assert_uint_eq(qty_at(1, "c", "pear"), 2);
}
END_TEST

START_TEST(failure_detection_and_rejoin)
{
	seed_all();
	run_for(3000);
	cut[2] = true;
	uint64_t deadline = now + 20000;
	engine_member_info m[8];
	bool dead = false;
	while (!dead && now < deadline) {
		run_for(100);
		size_t n = engine_members(peers[0].e, m, 8);
		for (size_t k = 0; k < n; k++)
			dead = dead || (m[k].id == wire_self_id(peers[2].w) && m[k].state == MEMBER_DEAD);
	}
	ck_assert_msg(dead, "peer 2 never declared dead by peer 0");
	cut[2] = false;
	deadline = now + 20000;
	bool alive = false;
	while (!alive && now < deadline) {
		run_for(100);
		size_t n = engine_members(peers[0].e, m, 8);
		for (size_t k = 0; k < n; k++)
			alive = alive || (m[k].id == wire_self_id(peers[2].w) && m[k].state == MEMBER_ALIVE);
	}
	ck_assert_msg(alive, "peer 2 never rejoined");
	ck_assert_uint_gt(engine_get_stats(peers[0].e)->revivals, 0);
}
END_TEST

/* Gives peers a and b a session both ways, straight through their wires. */
static void shake(int a, int b)
{
	uint8_t d[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN] = { 0 };
	size_t n;
	wire_msg m;
	ck_assert_int_eq(wire_hello(peers[a].w, 0, 0, chal, NULL, d, sizeof d, &n), 0);
	ck_assert_int_eq(wire_open(peers[b].w, d, n, &m), 0);
	ck_assert_int_eq(wire_hello(peers[b].w, 0, 0, chal, NULL, d, sizeof d, &n), 0);
	ck_assert_int_eq(wire_open(peers[a].w, d, n, &m), 0);
}

/* Seals payload with peer 1's wire and feeds it to peer 0. */
static int inject(uint8_t type, const uint8_t *payload, size_t len)
{
	uint8_t d[1200];
	size_t n;
	if (wire_session_epoch(peers[1].w, wire_self_id(peers[0].w)) == 0)
		shake(1, 0);
	ck_assert_int_eq(wire_seal(peers[1].w, wire_self_id(peers[0].w), type, payload, len, d,
	                           sizeof d, &n), 0);
	engine_addr from = addr_of(1);
	return engine_receive(peers[0].e, &from, d, n, now);
}

START_TEST(malformed_messages_change_nothing)
{
	client_add(0, "keep", "x", 1);
	uint64_t before = crdt_store_bucket_digests(peers[0].store)[crdt_store_bucket_of(peers[0].store, "keep", 4)];
	/* A DELTA whose second cart is truncated: the first must not apply. */
	crdt_cart c;
	crdt_cart_init(&c);
	ck_assert_int_eq(crdt_cart_add(&c, 101, "y", 1, 5, NULL), 0);
	buf_writer w;
	buf_writer_init(&w);
	msg_begin_delta(&w, 0, false);
	msg_put_cart(&w, "keep", 4, &c);
	msg_put_cart(&w, "other", 5, &c);
	msg_end_delta(&w, 2);
	ck_assert_int_eq(inject(MSG_DELTA, w.data, w.len - 1), CARTD_EDECODE);
	ck_assert_int_eq(inject(MSG_DELTA, w.data, 2), CARTD_EDECODE);
	static const uint8_t junk[] = { 1, 2, 3 };
	ck_assert_int_eq(inject(MSG_PING, junk, sizeof junk), CARTD_EDECODE);
	ck_assert_int_eq(inject(MSG_AE_GROUPS, junk, sizeof junk), CARTD_EDECODE);
	ck_assert_int_eq(inject(MSG_AE_WANT, junk, sizeof junk), CARTD_EDECODE);
	ck_assert_int_eq(inject(12, junk, sizeof junk), CARTD_EDECODE);
	ck_assert_uint_eq(engine_get_stats(peers[0].e)->rej_decode, 6);
	ck_assert_uint_eq(crdt_store_count(peers[0].store), 1);
	ck_assert_uint_eq(qty_at(0, "keep", "y"), 0);
	ck_assert_uint_eq(before, crdt_store_bucket_digests(peers[0].store)[crdt_store_bucket_of(peers[0].store, "keep", 4)]);
	/* The whole message applies when intact. */
	ck_assert_int_eq(inject(MSG_DELTA, w.data, w.len), 0);
	ck_assert_uint_eq(qty_at(0, "keep", "y"), 5);
	ck_assert_uint_eq(qty_at(0, "other", "y"), 5);
	buf_writer_destroy(&w);
	crdt_cart_destroy(&c);
}
END_TEST

START_TEST(big_cart_travels_in_pieces)
{
	seed_all();
	run_for(3000);
	for (int k = 0; k < 300; k++) {
		char sku[32];
		snprintf(sku, sizeof sku, "sku-%04d-with-a-long-name", k);
		client_add(0, "big", sku, 1);
	}
	uint64_t deadline = now + 5000;
	while (!digests_equal() && now < deadline)
		run_for(50);
	ck_assert(digests_equal());
	crdt_item a, b;
	ck_assert_int_eq(crdt_store_get(peers[2].store, "big", 3, &b), 0);
	ck_assert_int_eq(crdt_store_get(peers[0].store, "big", 3, &a), 0);
	ck_assert(crdt_cart_equal(a.cart, b.cart));
}
END_TEST

/* A read token never covers our own dots that are not yet on disk: reads
 * while one commit, then two, are held, through engine_local_write (the
 * write path cartd and the simulator share). */
START_TEST(token_leaves_out_undurable_dots)
{
	client_add(0, "t", "kept", 1);                  /* durable: dot 1 */
	crdt_op op = { CRDT_OP_ADD, "new", 3, 1, NULL, NULL, 0 };
	crdt_cart d2, d3;
	crdt_cart_init(&d2);
	crdt_cart_init(&d3);
	ck_assert_int_eq(engine_local_write(peers[0].e, TU_IDN("t", 1), &op, &d2), 0);
	ck_assert_int_eq(engine_local_write(peers[0].e, TU_IDN("t", 1), &op, &d3), 0);
	crdt_item it;
	ck_assert_int_eq(crdt_store_get(peers[0].store, "t", 1, &it), 0);
	crdt_ctx tok;
	crdt_ctx_init(&tok);
	crdt_dot dot[4] = { { 0, 0 }, { 100, 1 }, { 100, 2 }, { 100, 3 } };
	ck_assert_int_eq(engine_token_ctx(peers[0].e, TU_IDN("t", 1), &it.cart->ctx, &tok), 0);
	ck_assert(crdt_ctx_contains(&tok, dot[1]));
	ck_assert(!crdt_ctx_contains(&tok, dot[2]) && !crdt_ctx_contains(&tok, dot[3]));
	ck_assert(crdt_ctx_contains(&it.cart->ctx, dot[3]));   /* the read shows them */
	/* A write the store refuses changes nothing and leaves no mark. */
	crdt_op bad = { CRDT_OP_ADD, "new", 3, 0, NULL, NULL, 0 };
	ck_assert_int_eq(engine_local_write(peers[0].e, TU_IDN("t", 1), &bad, NULL), CARTD_EQTY);
	ck_assert_uint_eq(engine_get_stats(peers[0].e)->pending_writes, 2);
	/* Commits complete in order: after the first, only dot 3 is held. */
	ck_assert_int_eq(engine_write_done(peers[0].e, TU_IDN("t", 1), &d2, now), 0);
	ck_assert_int_eq(engine_token_ctx(peers[0].e, TU_IDN("t", 1), &it.cart->ctx, &tok), 0);
	ck_assert(crdt_ctx_contains(&tok, dot[2]) && !crdt_ctx_contains(&tok, dot[3]));
	ck_assert_int_eq(engine_write_done(peers[0].e, TU_IDN("t", 1), &d3, now), 0);
	ck_assert_int_eq(engine_token_ctx(peers[0].e, TU_IDN("t", 1), &it.cart->ctx, &tok), 0);
	ck_assert(crdt_ctx_contains(&tok, dot[3]));     /* durable now */
	ck_assert_uint_eq(engine_get_stats(peers[0].e)->pending_writes, 0);
	crdt_ctx_destroy(&tok);
	crdt_cart_destroy(&d2);
	crdt_cart_destroy(&d3);
}
END_TEST

/* A keyed write's dot is derived from its request, not taken from our
 * counter, so durable_max cannot keep it out of tokens: it is listed until
 * the durable delta holding it completes.  An add and a remove in flight at
 * once, completed in order; a replay of one refused without a mark. */
START_TEST(token_leaves_out_undurable_keyed_dots)
{
	client_add(0, "t", "kept", 1);                  /* durable: dot {100, 1} */
	crdt_keyrec ka = { .hash = { 1 }, .dot = { 0xabcdef0123ull, 4242 }, .at_ms = 5,
	                   .until_ms = 50 };
	crdt_keyrec kr = { .hash = { 2 }, .dot = { 0x77ull, 9 }, .at_ms = 5, .until_ms = 50 };
	crdt_op add = { .kind = CRDT_OP_ADD, .sku = "k", .sku_len = 1, .qty = 2, .key = &ka };
	crdt_op rm = { .kind = CRDT_OP_REMOVE, .sku = "kept", .sku_len = 4, .key = &kr };
	crdt_cart da, dr;
	crdt_cart_init(&da);
	crdt_cart_init(&dr);
	ck_assert_int_eq(engine_local_write(peers[0].e, TU_IDN("t", 1), &add, &da), 0);
	ck_assert_int_eq(engine_local_write(peers[0].e, TU_IDN("t", 1), &rm, &dr), 0);
	crdt_item it;
	ck_assert_int_eq(crdt_store_get(peers[0].store, "t", 1, &it), 0);
	ck_assert(crdt_ctx_contains(&it.cart->ctx, ka.dot));    /* the read shows both */
	ck_assert(crdt_ctx_contains(&it.cart->ctx, kr.dot));
	crdt_ctx tok;
	crdt_ctx_init(&tok);
	crdt_dot own = { 100, 1 };
	ck_assert_int_eq(engine_token_ctx(peers[0].e, TU_IDN("t", 1), &it.cart->ctx, &tok), 0);
	ck_assert(crdt_ctx_contains(&tok, own));
	ck_assert(!crdt_ctx_contains(&tok, ka.dot) && !crdt_ctx_contains(&tok, kr.dot));
	/* The same request again is a replay: refused, no mark left. */
	ck_assert_int_eq(engine_local_write(peers[0].e, TU_IDN("t", 1), &add, NULL), CARTD_EIDEMPOTENT);
	ck_assert_uint_eq(engine_get_stats(peers[0].e)->pending_writes, 2);
	ck_assert_int_eq(engine_write_done(peers[0].e, TU_IDN("t", 1), &da, now), 0);
	ck_assert_int_eq(engine_token_ctx(peers[0].e, TU_IDN("t", 1), &it.cart->ctx, &tok), 0);
	ck_assert(crdt_ctx_contains(&tok, ka.dot) && !crdt_ctx_contains(&tok, kr.dot));
	ck_assert_int_eq(engine_write_done(peers[0].e, TU_IDN("t", 1), &dr, now), 0);
	ck_assert_int_eq(engine_token_ctx(peers[0].e, TU_IDN("t", 1), &it.cart->ctx, &tok), 0);
	ck_assert(crdt_ctx_contains(&tok, ka.dot) && crdt_ctx_contains(&tok, kr.dot));
	ck_assert_uint_eq(engine_get_stats(peers[0].e)->pending_writes, 0);
	crdt_ctx_destroy(&tok);
	crdt_cart_destroy(&da);
	crdt_cart_destroy(&dr);
}
END_TEST

/* An AE_GROUPS or AE_BUCKETS of our layout (nbuckets) whose range wraps 32
 * bits: each used to read far past the bucket array (SIGSEGV). */
static int inject_wrapping(uint8_t type, uint32_t nbuckets, uint32_t first, uint16_t count)
{
	buf_writer b;
	buf_writer_init(&b);
	buf_put_u32le(&b, 1);             /* round */
	buf_put_u32le(&b, nbuckets);
	buf_put_u32le(&b, first);
	buf_put_u8(&b, (uint8_t)count);   /* count, u16 LE */
	buf_put_u8(&b, (uint8_t)(count >> 8));
	for (uint16_t i = 0; i < count; i++)
		buf_put_u64le(&b, 0x0123456789abcdefull + i);
	int rc = inject(type, b.data, b.len);
	buf_writer_destroy(&b);
	return rc;
}

/* The two crash datagrams of a key holder are refused with their reason,
 * counted, and change nothing; the peer keeps replicating. */
START_TEST(wrapping_ranges_refused)
{
	client_add(0, "keep", "x", 1);
	uint32_t nb = crdt_store_nbuckets(peers[0].store);
	uint64_t digest = crdt_store_bucket_digests(peers[0].store)[0];
	const engine_stats *st = engine_get_stats(peers[0].e);
	uint64_t decode = st->rej_decode;
	ck_assert_int_eq(inject_wrapping(MSG_AE_GROUPS, nb, UINT32_MAX, 1), CARTD_EDECODE);
	unsigned row, field;
	engine_last_reject(peers[0].e, &row, &field);
	ck_assert_uint_eq(field, REJECT_F_RANGE);
	ck_assert_int_eq(inject_wrapping(MSG_AE_BUCKETS, nb, UINT32_MAX - 15, 32), CARTD_EDECODE);
	engine_last_reject(peers[0].e, &row, &field);
	ck_assert_uint_eq(field, REJECT_F_RANGE);
	st = engine_get_stats(peers[0].e);
	ck_assert_uint_eq(st->rej_decode, decode + 2);
	ck_assert_uint_eq(crdt_store_bucket_digests(peers[0].store)[0], digest);
	client_add(0, "after", "y", 2);
	uint64_t deadline = now + 5000;
	while (qty_at(1, "after", "y") != 2 && now < deadline)
		run_for(50);
	ck_assert_uint_eq(qty_at(1, "after", "y"), 2);
}
END_TEST

Suite *engine_suite(void);

Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, membership_learned_through_seed);
	tcase_add_test(tc, push_reaches_all_quickly);
	tcase_add_test(tc, push_after_quiet_is_due_at_once);
	tcase_add_test(tc, lone_peer_queues_nothing);
	tcase_add_test(tc, anti_entropy_repairs_lost_deltas);
	tcase_add_loop_test(tc, receive_out_of_memory_heals, 0, 10);
	tcase_add_test(tc, busy_bucket_deferred_not_starved);
	tcase_add_test(tc, pending_write_is_not_sent);
	tcase_add_test(tc, failure_detection_and_rejoin);
	tcase_add_test(tc, malformed_messages_change_nothing);
	tcase_add_test(tc, big_cart_travels_in_pieces);
	tcase_add_test(tc, token_leaves_out_undurable_dots);
	tcase_add_test(tc, token_leaves_out_undurable_keyed_dots);
	tcase_add_test(tc, wrapping_ranges_refused);
	suite_add_tcase(s, tc);
	return s;
}
