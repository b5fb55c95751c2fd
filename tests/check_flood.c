/*
 * check_flood.c - many datagrams, or one that asks for much, against one
 * engine with a member in session (tests/test_hostile.h):
 *
 *   want bomb      one AE_WANT naming the engine's carts thousands of
 *                  times (it deflates into one datagram): the answer stays
 *                  within the repair budget (--ae-rate), and a second one
 *                  right after gets next to nothing
 *   inflate bomb   a member's DELTA that inflates past max_payload:
 *                  refused as `inflate`, nothing changes
 *   forged ids     thousands of sealed-looking datagrams under made-up
 *                  sender ids, from as many addresses: refused as
 *                  `session` before any cryptography, no member, candidate
 *                  or answer, and bounded memory
 *   forged member  the member's id from elsewhere and from its own address,
 *                  with a stale epoch (`epoch`), a forged body (`auth`) and
 *                  sequences far ahead (`seq_jump`): no answer but one
 *                  HELLO per ping timeout to the member's own address, and
 *                  its session and replay window untouched, so its next
 *                  datagram opens
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "crdt/store.h"
#include "net/engine.h"
#include "net/msg.h"
#include "tests/test_forge.h"
#include "tests/test_hostile.h"

Suite *flood_suite(void);

#define AE_RATE 16384u
#define NCARTS 64

static void setup_rated(void)
{
	th_setup_rate(AE_RATE);
}

/* Carts "c-00" .. "c-63" of a few lines each, as the engine's own. */
static void fill_store(void)
{
	for (int i = 0; i < NCARTS; i++) {
		char id[8], sku[16];
		snprintf(id, sizeof id, "c-%02d", i);
		for (int k = 0; k < 4; k++) {
			snprintf(sku, sizeof sku, "sku-%d", k);
			crdt_op op = { .kind = CRDT_OP_ADD, .sku = sku, .sku_len = strlen(sku),
			               .qty = 1 };
			ck_assert_int_eq(crdt_store_apply(th.store, id, strlen(id), FUZZ_SELF_REPLICA, &op,
			                                  NULL), 0);
		}
	}
}

/* An AE_WANT of n ids, the engine's carts in turn. */
static void want_bomb(buf_writer *w, uint32_t n)
{
	msg_begin_want(w);
	for (uint32_t i = 0; i < n; i++) {
		char id[8];
		snprintf(id, sizeof id, "c-%02u", i % NCARTS);
		buf_put_str(w, id, strlen(id));
	}
	msg_end_want(w, n);
	ck_assert(!w->err);
}

START_TEST(want_bomb_stays_in_budget)
{
	fill_store();
	buf_writer w;
	buf_writer_init(&w);
	want_bomb(&w, 8000);                   /* 40 KB of ids, in one datagram */
	const engine_stats *st = engine_get_stats(th.eng);
	uint64_t bytes0 = th_bytes_sent(), carts0 = st->ae_carts_sent;
	ck_assert_int_eq(th_inject_w(MSG_AE_WANT, &w), 0);
	uint64_t first = th_bytes_sent() - bytes0;
	printf("want bomb: %zu payload bytes in, %llu bytes out, %llu carts\n", w.len,
	       (unsigned long long)first, (unsigned long long)(st->ae_carts_sent - carts0));
	/* something was answered, within one second of budget (plus the
	 * datagram overhead of what it packed) */
	ck_assert_uint_gt(st->ae_carts_sent, carts0);
	ck_assert_msg(first <= AE_RATE + 64 * wire_overhead(), "answered %llu bytes, budget %u",
	              (unsigned long long)first, AE_RATE);
	ck_assert_uint_gt(st->ae_throttled, 0);
	/* the budget is spent: the same bomb 1 ms later gets at most what
	 * 1 ms of refill buys */
	uint64_t bytes1 = th_bytes_sent();
	ck_assert_int_eq(th_inject_w(MSG_AE_WANT, &w), 0);
	uint64_t second = th_bytes_sent() - bytes1;
	ck_assert_msg(second <= 2 * wire_overhead() + AE_RATE / 100,
	              "second bomb answered %llu bytes", (unsigned long long)second);
	buf_writer_destroy(&w);
	/* and the member is served as before */
	ck_assert_int_eq(th_inject(MSG_AE_STATUS, (const uint8_t *)"\1\0\0\0\0\0\0\0", 8), 0);
}
END_TEST

/* A second member, bomber, at its own address: joined as fuzz_peer_join
 * does, with a payload cap of 1 MiB and deflate level 9 on its side. */
static wire *join_bomber(wire_keyring **ring, const engine_addr *at)
{
	wire_config cfg;
	wire *w;
	ck_assert_int_eq(wire_keyring_parse(fuzz_ring_text, sizeof fuzz_ring_text - 1, ring, NULL, 0),
	                 0);
	ck_assert_int_eq(wire_keyring_derive_identity(*ring, 3), 0);
	wire_config_init(&cfg);
	cfg.max_payload = 1u << 20;
	cfg.deflate_level = 9;
	cfg.cluster_tag = wire_cluster_tag("fuzz");
	ck_assert_int_eq(wire_new(&cfg, *ring, &w), 0);
	uint8_t h[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN] = { 3 };
	size_t n;
	wire_msg m;
	ck_assert_int_eq(wire_hello(w, 0, WIRE_F_WANT_REPLY, chal, NULL, h, sizeof h, &n), 0);
	ck_assert_int_eq(engine_receive(th.eng, at, h, n, th_now() + 1), 0);
	ck_assert_int_eq(wire_open(w, th.last, th.last_len, &m), 0);
	ck_assert_int_eq(wire_hello(w, wire_self_id(th.rx), 0, chal, m.challenge, h, sizeof h, &n),
	                 0);
	ck_assert_int_eq(engine_receive(th.eng, at, h, n, th_now() + 1), 0);
	return w;
}

START_TEST(inflate_bomb_refused)
{
	static const engine_addr at = { 7, { 4, 0x1f, 0x90, 127, 0, 0, 3 } };
	wire_keyring *ring;
	wire *bomber = join_bomber(&ring, &at);
	size_t n = 512u << 10, len;
	uint8_t *p = calloc(1, n), d[WIRE_MAX_DATAGRAM_DEFAULT];
	p[0] = 0;                                   /* DELTA, hops 0 */
	p[1] = 0xff;                                /* a count no payload has */
	p[2] = 0xff;
	ck_assert_int_eq(wire_seal(bomber, wire_self_id(th.rx), MSG_DELTA, p, n, d, sizeof d, &len),
	                 0);
	th_snapshot s;
	th_snap(&s);
	uint64_t inflate = wire_get_stats(th.rx)->rej_inflate;
	ck_assert_int_eq(engine_receive(th.eng, &at, d, len, th_now() + 1), CARTD_EINFLATE);
	ck_assert_uint_eq(wire_get_stats(th.rx)->rej_inflate, inflate + 1);
	ck_assert_uint_eq(engine_get_stats(th.eng)->rej_decode, s.rej_decode);
	th_assert_unchanged(&s, "inflate bomb");
	/* exactly at the cap it opens, and is refused as what it is */
	ck_assert_int_eq(wire_seal(bomber, wire_self_id(th.rx), MSG_DELTA, p,
	                           WIRE_MAX_PAYLOAD_DEFAULT, d, sizeof d, &len), 0);
	th_snap(&s);
	th_assert_refused(engine_receive(th.eng, &at, d, len, th_now() + 1), &s, MSG_DELTA,
	                  REJECT_F_COUNT, "64 KiB of zeros");
	free(p);
	wire_free(bomber);
	wire_keyring_free(ring);
}
END_TEST

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* A sealed-looking datagram to the engine's boot, of noise. */
static size_t forge(uint8_t *d, uint64_t sender, uint32_t sender_epoch, uint64_t seq,
                    size_t body)
{
	wire_hdr_spec h = { sender, wire_self_id(th.rx), sender_epoch, 1, seq };
	return tf_forge(d, &h, wire_cluster_tag("fuzz"), body);
}

static engine_addr addr_no(uint32_t k)
{
	engine_addr a = { 7, { 4, 0x1f, 0x90, 10, (uint8_t)(k >> 16), (uint8_t)(k >> 8),
	                       (uint8_t)k } };
	return a;
}

/* An AE_STATUS of the member, and the engine takes it. */
static void member_still_served(const char *after)
{
	int rc = th_inject(MSG_AE_STATUS, (const uint8_t *)"\1\0\0\0\0\0\0\0", 8);
	ck_assert_msg(rc == 0, "after %s: the member's datagram: %s", after, cartd_errname(rc));
}

START_TEST(forged_id_flood)
{
	enum { N = 50000 };
	uint8_t d[200];
	th_snapshot s;
	th_snap(&s);
	const wire_stats *ws = wire_get_stats(th.rx);
	uint64_t session0 = ws->rej_session, auth0 = ws->rej_auth;
	long rss0 = rss_kb();
	for (uint32_t k = 0; k < N; k++) {
		size_t n = forge(d, 0x5eed000000000000ull + k, 1, 1 + k, 8);
		engine_addr a = addr_no(k);
		int rc = engine_receive(th.eng, &a, d, n, th_now());
		ck_assert_msg(rc == CARTD_ESESSION, "forged id %u: %s", k, cartd_errname(rc));
	}
	long grown = rss_kb() - rss0;
	printf("forged ids: %d datagrams, RSS %+ld kB\n", N, grown);
	ck_assert_uint_eq(ws->rej_session, session0 + N);
	ck_assert_uint_eq(ws->rej_auth, auth0);   /* no cryptography spent */
	ck_assert_uint_eq(engine_get_stats(th.eng)->candidates, 0);
	th_assert_unchanged(&s, "forged ids");
	/* the bytes of each source address are counted in a bounded table */
	ck_assert_msg(grown < 8 * 1024, "RSS grew %ld kB over %d forged datagrams", grown, N);
	member_still_served("forged ids");
}
END_TEST

START_TEST(forged_member_flood)
{
	enum { N = 2000 };
	uint64_t tx = wire_self_id(th.tx);
	uint8_t d[200];
	member_still_served("set-up");
	th_snapshot s;
	th_snap(&s);
	const wire_stats *ws = wire_get_stats(th.rx);
	const engine_stats *st = engine_get_stats(th.eng);
	uint64_t epoch0 = ws->rej_epoch, auth0 = ws->rej_auth, jump0 = ws->rej_jump;
	uint64_t hellos0 = st->hellos_sent;
	size_t sent0 = th_nsent();
	/* from elsewhere: its id with an old and a future epoch, a forged body,
	 * and sequences past the bound */
	for (uint32_t k = 0; k < N; k++) {
		engine_addr a = addr_no(k);
		size_t n = forge(d, tx, k % 2 ? 2 : 0x7fffffff, 1000 + k, 8);
		ck_assert_int_eq(engine_receive(th.eng, &a, d, n, th_now()), CARTD_EEPOCH);
		n = forge(d, tx, 1, 1000 + k, 8);
		ck_assert_int_eq(engine_receive(th.eng, &a, d, n, th_now()), CARTD_EAUTH);
		n = forge(d, tx, 1, (1ull << 33) + k, 8);
		ck_assert_int_eq(engine_receive(th.eng, &a, d, n, th_now()), CARTD_EJUMP);
	}
	ck_assert_uint_eq(ws->rej_epoch, epoch0 + N);
	ck_assert_uint_eq(ws->rej_auth, auth0 + N);
	ck_assert_uint_eq(ws->rej_jump, jump0 + N);
	ck_assert_msg(th_nsent() == sent0, "answered forgeries from elsewhere %zu times",
	              th_nsent() - sent0);
	th_assert_unchanged(&s, "the member forged from elsewhere");
	/* from the member's own address, a stale epoch asks it for a HELLO:
	 * at most one per ping timeout (300 ms), over 2 s of forgeries */
	uint64_t t = th_now();
	for (uint32_t k = 0; k < N; k++) {
		size_t n = forge(d, tx, 2, 1000 + k, 8);
		ck_assert_int_eq(engine_receive(th.eng, &th.tx_addr, d, n, t + k), CARTD_EEPOCH);
	}
	uint64_t hellos = st->hellos_sent - hellos0;
	printf("forged member: %llu HELLOs for %d stale datagrams over %d ms\n",
	       (unsigned long long)hellos, N, N);
	ck_assert_uint_ge(hellos, 1);
	ck_assert_uint_le(hellos, N / 300 + 1);
	ck_assert_uint_eq(th_nsent() - sent0, hellos);
	th.now = t + N;
	s.nsent += hellos;
	th_assert_unchanged(&s, "the member forged at its address");
	/* no forgery moved its session or its window */
	ck_assert_uint_eq(wire_session_epoch(th.rx, tx), 1);
	member_still_served("forged member");
}
END_TEST

Suite *flood_suite(void)
{
	Suite *s = suite_create("flood");
	TCase *tb = tcase_create("bombs");
	tcase_add_checked_fixture(tb, setup_rated, th_teardown);
	tcase_set_timeout(tb, 60);
	tcase_add_test(tb, want_bomb_stays_in_budget);
	tcase_add_test(tb, inflate_bomb_refused);
	suite_add_tcase(s, tb);
	TCase *tf = tcase_create("forgeries");
	tcase_add_checked_fixture(tf, th_setup, th_teardown);
	tcase_set_timeout(tf, 120);
	tcase_add_test(tf, forged_id_flood);
	tcase_add_test(tf, forged_member_flood);
	suite_add_tcase(s, tf);
	return s;
}
