/*
 * check_insider.c - a Byzantine insider against three honest engines, all
 * in-process and deterministic: a peer with a valid certificate (and, as a
 * development keyring allows, the power to mint more) floods the member
 * table, replays captured datagrams across pairs and from its own address,
 * forges other peers' ids and epochs, and aims HELLOs at a victim's
 * address.  After each attack the honest engines still replicate with full
 * push, keep each other verified at their own addresses, and no address
 * that did not prove itself got more bytes than it sent.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "net/engine.h"
#include "net/msg.h"
#include "net/wire.h"
#include "tests/test_wire.h"
#include "tests/test_util.h"

Suite *insider_suite(void);

#define NP 3
#define BYZ_ADDR 8          /* where the insider really is */
#define VICTIM 9            /* an address the insider names or spoofs */
#define NADDR 256
#define MAILBOX 8192

struct mail {
	int from, to;
	size_t len;
	uint8_t d[1200];
};

static struct {
	tw_peer tw;
	crdt_store *store;
	engine *e;
} hp[NP];
static tw_peer byz;
static struct mail *box;
static size_t nbox;
static uint64_t now;
static uint64_t bytes_to[NADDR], bytes_from[NADDR];   /* honest peers' view */
static struct mail captured;                          /* last 1 -> 0 DELTA */

static engine_addr addr_of(int i)
{
	engine_addr a = { 1, { (uint8_t)i } };
	return a;
}

static void on_send(void *arg, const engine_addr *to, const uint8_t *d, size_t len)
{
	int from = (int)(intptr_t)arg;
	bytes_to[to->b[0]] += len;
	if (from == 1 && to->b[0] == 0 && d[3] == MSG_DELTA) {
		captured = (struct mail){ from, 0, len, { 0 } };
		memcpy(captured.d, d, len);
	}
	if (nbox < MAILBOX) {
		box[nbox] = (struct mail){ from, to->b[0], len, { 0 } };
		memcpy(box[nbox++].d, d, len);
	}
}

static void on_persist(void *arg, const crdt_id *id, const crdt_cart *delta, const uint8_t *enc,
                       size_t enc_len)
{
	(void)enc;
	(void)enc_len;
	(void)arg;
	(void)id;
	(void)delta;
}

/* Delivers datagram d to honest peer `to` as if from address `from`. */
static int deliver(int from, int to, const uint8_t *d, size_t len)
{
	engine_addr a = addr_of(from);
	if (from >= NP)
		bytes_from[from] += len;
	return engine_receive(hp[to].e, &a, d, len, now);
}

/* The insider answers challenges sent to its own address, as a real peer
 * would; whatever reaches other addresses is lost. */
static void byz_receive(const struct mail *m)
{
	wire_msg w;
	if (m->to != BYZ_ADDR || wire_open(byz.w, m->d, m->len, &w) != 0 ||
	    w.type != WIRE_TYPE_HELLO || !(w.flags & WIRE_F_WANT_REPLY))
		return;
	uint8_t chal[WIRE_CHALLENGE_LEN] = { 0xb7 }, out[WIRE_HELLO_LEN];
	size_t n;
	ck_assert_int_eq(wire_hello(byz.w, w.sender_id, 0, chal, w.challenge, out, sizeof out, &n), 0);
	deliver(BYZ_ADDR, m->from, out, n);
}

static void run_for(uint64_t ms)
{
	static struct mail cur[MAILBOX];
	uint64_t end = now + ms;
	for (; now <= end; now++) {
		size_t n = nbox;
		memcpy(cur, box, n * sizeof *box);
		nbox = 0;
		for (size_t i = 0; i < n; i++) {
			if (cur[i].to < NP)
				deliver(cur[i].from, cur[i].to, cur[i].d, cur[i].len);
			else
				byz_receive(&cur[i]);
		}
		for (int i = 0; i < NP; i++)
			if (engine_next_deadline(hp[i].e, now) <= now + 1)
				engine_tick(hp[i].e, now);
	}
}

static void setup(void)
{
	char text[512];
	tw_ring_text(3, NULL, text, sizeof text);
	box = calloc(MAILBOX, sizeof *box);
	nbox = 0;
	now = 1000;
	memset(bytes_to, 0, sizeof bytes_to);
	memset(bytes_from, 0, sizeof bytes_from);
	memset(&captured, 0, sizeof captured);
	for (int i = 0; i < NP; i++) {
		tw_make_text(&hp[i].tw, text, 100 + (uint64_t)i, 1, NULL);
		engine_config ec;
		engine_config_init(&ec);
		ec.self_id = tw_id(&hp[i].tw);
		ec.replica_id = 100 + (uint64_t)i;
		ec.boot_epoch = 1;
		ec.seed = 11;
		ec.ae_interval_ms = 200;
		engine_callbacks cb = { on_send, on_persist, NULL, (void *)(intptr_t)i };
		ck_assert_int_eq(crdt_store_new(64, &hp[i].store), 0);
		ck_assert_int_eq(engine_new(&ec, hp[i].store, hp[i].tw.w, &cb, &hp[i].e), 0);
	}
	tw_make_text(&byz, text, 666, 1, NULL);   /* a valid certificate */
	for (int i = 1; i < NP; i++) {
		engine_addr a = addr_of(0);
		ck_assert_int_eq(engine_add_seed(hp[i].e, &a, now), 0);
	}
	run_for(4000);
}

static void teardown(void)
{
	for (int i = 0; i < NP; i++) {
		engine_free(hp[i].e);
		tw_free(&hp[i].tw);
		crdt_store_free(hp[i].store);
	}
	tw_free(&byz);
	free(box);
}

static uint32_t qty_at(int i, const char *cart, const char *sku)
{
	crdt_item it;
	if (crdt_store_get(hp[i].store, cart, strlen(cart), &it))
		return 0;
	const crdt_line *l = crdt_cart_find(it.cart, sku, strlen(sku));
	return l ? crdt_line_qty(l) : 0;
}

/* A write at peer 1 reaches both others by push (flush delay 5 ms) with
 * nobody pushing to a random fan-out: the baseline the attacks must keep. */
static void expect_push(const char *cart)
{
	crdt_op op = { CRDT_OP_ADD, "sku", 3, 2, NULL, NULL, 0 };
	crdt_cart delta;
	crdt_cart_init(&delta);
	ck_assert_int_eq(crdt_store_apply(hp[1].store, cart, strlen(cart), 101, &op, &delta), 0);
	ck_assert_int_eq(engine_write_begin(hp[1].e, TU_IDN(cart, strlen(cart))), 0);
	ck_assert_int_eq(engine_write_done(hp[1].e, TU_IDN(cart, strlen(cart)), &delta, now), 0);
	crdt_cart_destroy(&delta);
	run_for(20);
	for (int i = 0; i < NP; i++)
		ck_assert_msg(qty_at(i, cart, "sku") == 2, "peer %d has %u of %s", i,
		              qty_at(i, cart, "sku"), cart);
}

/* Every honest peer holds the others verified, alive, at their own address. */
static void expect_members_intact(void)
{
	for (int i = 0; i < NP; i++) {
		engine_member_info m[512];
		size_t n = engine_members(hp[i].e, m, 512), ok = 0;
		for (size_t k = 0; k < n && k < 512; k++)
			for (int j = 0; j < NP; j++)
				if (j != i && m[k].id == tw_id(&hp[j].tw)) {
					ck_assert_msg(m[k].verified && m[k].state == MEMBER_ALIVE &&
					              m[k].addr.len == 1 && m[k].addr.b[0] == j,
					              "peer %d sees peer %d verified=%d state=%d at %d",
					              i, j, m[k].verified, m[k].state, m[k].addr.b[0]);
					ok++;
				}
		ck_assert_msg(ok == NP - 1, "peer %d holds %zu honest members", i, ok);
	}
}

/* No unverified address got more than it sent, HELLO probes (bounded per
 * period, counted apart) aside.  The insider's own address answered the
 * challenge: it is a member's, and traffic to it is not amplification. */
static void expect_no_amplification(uint64_t probe_bytes_allowed)
{
	for (int a = NP; a < NADDR; a++)
		ck_assert_msg(a == BYZ_ADDR || bytes_to[a] <= bytes_from[a] + probe_bytes_allowed,
		              "address %d got %llu bytes for %llu", a,
		              (unsigned long long)bytes_to[a], (unsigned long long)bytes_from[a]);
}

/* The insider proves its own address to peer 0, as any member would. */
static void byz_join(void)
{
	uint8_t h[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN] = { 1 };
	size_t n;
	ck_assert_int_eq(wire_hello(byz.w, 0, WIRE_F_WANT_REPLY, chal, NULL, h, sizeof h, &n), 0);
	ck_assert_int_eq(deliver(BYZ_ADDR, 0, h, n), 0);
	run_for(10);
}

static void byz_send(int to, int from_addr, uint8_t type, const buf_writer *w)
{
	uint8_t d[1200];
	size_t n;
	ck_assert_int_eq(wire_seal(byz.w, tw_id(&hp[to].tw), type, w->data, w->len, d, sizeof d, &n), 0);
	(void)deliver(from_addr, to, d, n);
}

START_TEST(member_flood)
{
	byz_join();
	uint64_t probes0 = engine_get_stats(hp[0].e)->hello_probes;
	/* 2000 members nobody verified, in MEMBERS tables and as rumours */
	for (int k = 0; k < 2000; k += 50) {
		buf_writer w;
		buf_writer_init(&w);
		msg_begin_members(&w);
		for (int j = 0; j < 50; j++) {
			msg_member m = { 0xfa6e000000000000ull + (uint64_t)(k + j), MEMBER_ALIVE, 5,
			                 { 2, { (uint8_t)(NP + 16 + (k + j) % 200),
			                        (uint8_t)((k + j) / 200) } } };
			msg_put_member(&w, &m);
		}
		msg_end_members(&w, 50);
		ck_assert(!w.err);
		byz_send(0, BYZ_ADDR, MSG_MEMBERS, &w);
		buf_writer_destroy(&w);
	}
	run_for(3000);
	const engine_stats *st = engine_get_stats(hp[0].e);
	ck_assert_uint_le(st->candidates, 256);
	ck_assert_uint_gt(st->candidates_evicted, 0);
	/* not spread: the others learn at most the insider itself */
	for (int i = 1; i < NP; i++)
		ck_assert_uint_le(engine_get_stats(hp[i].e)->candidates, 1);
	expect_members_intact();
	expect_push("after-flood");
	/* the fake addresses got HELLO probes only, within the budget:
	 * 8 per 1000 ms protocol period */
	uint64_t probes = engine_get_stats(hp[0].e)->hello_probes - probes0;
	ck_assert_uint_le(probes, 8 * 4 + 8);
	expect_no_amplification(probes * WIRE_HELLO_LEN);
}
END_TEST

START_TEST(replay_and_hijack)
{
	expect_push("warm");
	ck_assert_uint_gt(captured.len, 0);
	/* across pairs: what peer 1 sealed for peer 0 is refused at peer 2 */
	ck_assert_int_eq(deliver(1, 2, captured.d, captured.len), CARTD_ERECEIVER);
	/* the same pair again: a replay */
	ck_assert_int_eq(deliver(1, 0, captured.d, captured.len), CARTD_EREPLAY);
	/* a fresh datagram of peer 1, raced from the insider's address: it
	 * opens (it is authentic), but peer 1's address does not move */
	nbox = 0;
	crdt_op op = { CRDT_OP_ADD, "x", 1, 1, NULL, NULL, 0 };
	crdt_cart delta;
	crdt_cart_init(&delta);
	ck_assert_int_eq(crdt_store_apply(hp[1].store, "raced", 5, 101, &op, &delta), 0);
	ck_assert_int_eq(engine_write_begin(hp[1].e, TU_IDN("raced", 5)), 0);
	ck_assert_int_eq(engine_write_done(hp[1].e, TU_IDN("raced", 5), &delta, now), 0);
	crdt_cart_destroy(&delta);
	memset(&captured, 0, sizeof captured);
	engine_tick(hp[1].e, now + 10);
	ck_assert_uint_gt(captured.len, 0);
	ck_assert_int_eq(deliver(VICTIM, 0, captured.d, captured.len), 0);
	run_for(1500);
	expect_members_intact();
	ck_assert_uint_eq(qty_at(0, "raced", "x"), 1);
	expect_push("after-hijack");
	expect_no_amplification(0);
}
END_TEST

START_TEST(forged_ids_and_epochs)
{
	byz_join();
	uint8_t h[WIRE_HELLO_LEN], d[1200], chal[WIRE_CHALLENGE_LEN] = { 2 };
	size_t n;
	/* its own HELLO relabelled as peer 1, with the largest epoch */
	ck_assert_int_eq(wire_hello(byz.w, tw_id(&hp[0].tw), 0, chal, NULL, h, sizeof h, &n), 0);
	for (int i = 0; i < 8; i++)
		h[9 + i] = (uint8_t)(tw_id(&hp[1].tw) >> (8 * i));
	memset(h + 25, 0xff, 4);
	ck_assert_int_eq(deliver(BYZ_ADDR, 0, h, n), CARTD_ECERT);
	/* a datagram under its own session, claiming peer 1 and its
	 * largest sequence */
	uint8_t p[4] = { 0 };
	ck_assert_int_eq(wire_seal(byz.w, tw_id(&hp[0].tw), MSG_AE_STATUS, p, sizeof p, d,
	                           sizeof d, &n), 0);
	for (int i = 0; i < 8; i++)
		d[9 + i] = (uint8_t)(tw_id(&hp[1].tw) >> (8 * i));
	memset(d + 33, 0xff, 8);
	ck_assert_int_eq(deliver(BYZ_ADDR, 0, d, n), CARTD_EJUMP);
	memset(d + 33, 0, 8);
	d[33] = 0x40;
	ck_assert_int_eq(deliver(BYZ_ADDR, 0, d, n), CARTD_EAUTH);
	/* minted identities (a development keyring lets an insider certify
	 * itself) aimed at a victim's address: each HELLO gets one answer of
	 * its own size, and no table */
	char text[512];
	tw_ring_text(3, NULL, text, sizeof text);
	for (uint64_t k = 0; k < 20; k++) {
		tw_peer minted;
		tw_make_text(&minted, text, 5000 + k, 1, NULL);
		size_t hl = tw_hello(&minted, NULL, WIRE_F_WANT_REPLY, h);
		ck_assert_int_eq(deliver(VICTIM, 0, h, hl), 0);
		tw_free(&minted);
	}
	run_for(2000);
	ck_assert_uint_le(bytes_to[VICTIM], bytes_from[VICTIM]);
	ck_assert_uint_gt(engine_get_stats(hp[0].e)->amp_refused +
	                  engine_get_stats(hp[0].e)->hellos_answered, 0);
	expect_members_intact();
	expect_push("after-forgeries");
	expect_no_amplification(engine_get_stats(hp[0].e)->hello_probes * WIRE_HELLO_LEN);
}
END_TEST

Suite *insider_suite(void)
{
	Suite *s = suite_create("insider");
	TCase *tc = tcase_create("attacks");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, member_flood);
	tcase_add_test(tc, replay_and_hijack);
	tcase_add_test(tc, forged_ids_and_epochs);
	suite_add_tcase(s, tc);
	return s;
}
