/*
 * check_hostile.c - the engine against a member of the cluster: sealed,
 * authentic datagrams, through a real session, whose integer fields are
 * chosen to break it.
 *
 * One engine (1024 buckets) receives datagrams sealed by a member that
 * shook hands with it (tests/test_hostile.h).  The anti-entropy ranges
 * that used to wrap 32 bits and crash it, over every boundary first (the
 * two crash datagrams themselves are check_engine.c,
 * wrapping_ranges_refused), the incarnations that used to wrap, and then a
 * sweep of boundary values (0, 1, 2^31, 2^32 - 1, 2^32, 2^63, 2^64 - 1 and
 * neighbours, cut to each field's width) over every integer field of every
 * message type.  Each datagram must be accepted exactly when the documented
 * limits allow it; otherwise refused with the documented reason
 * (net/reject.h), counted under that reason and no other, and without
 * changing the store, the member table, or sending anything.  Truncations,
 * bit flips, bombs and floods are check_mangle.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "net/engine.h"
#include "net/msg.h"
#include "net/reject.h"
#include "net/wire.h"
#include "tests/test_hostile.h"

Suite *hostile_suite(void);

static uint64_t self_id(void)
{
	return wire_self_id(th.rx);
}

static void put_addr_len(buf_writer *w, uint64_t len)
{
	static const uint8_t a[ENGINE_ADDR_MAX] = { 4, 0x1f, 0x92, 127, 0, 0, 3 };
	buf_put_u8(w, (uint8_t)len);
	if (len <= ENGINE_ADDR_MAX)
		buf_put_bytes(w, a, (size_t)len);
}

static void put_member(buf_writer *w, uint64_t id, uint64_t state, uint64_t inc,
                       uint64_t alen)
{
	buf_put_u64le(w, id);
	buf_put_u8(w, (uint8_t)state);
	buf_put_u64le(w, inc);
	put_addr_len(w, alen);
}

/* Opens the engine's latest datagram (an ACK to the member) and returns
 * the incarnation it claims for itself (its first rumour). */
static uint64_t last_self_incarnation(void)
{
	const uint8_t *p;
	size_t len;
	msg_probe pr;
	enum reject_field why;
	ck_assert_uint_eq(th_open_last(&p, &len), MSG_ACK);
	ck_assert_int_eq(msg_get_probe(p, len, &pr, &why), 0);
	ck_assert_uint_ge(pr.ngossip, 1);
	ck_assert_uint_eq(pr.gossip[0].id, self_id());
	return pr.gossip[0].incarnation;
}

/* A PING carrying one rumour, of a member at 127.0.0.3:port (port 0: at
 * the sender's address); returns the engine's verdict. */
static int ping_at(uint64_t id, uint64_t state, uint64_t inc, uint16_t port)
{
	buf_writer w;
	buf_writer_init(&w);
	buf_put_u64le(&w, 1);
	buf_put_u64le(&w, self_id());
	put_addr_len(&w, 0);
	buf_put_u8(&w, 1);
	buf_put_u64le(&w, id);
	buf_put_u8(&w, (uint8_t)state);
	buf_put_u64le(&w, inc);
	const uint8_t a[] = { 7, 4, (uint8_t)(port >> 8), (uint8_t)port, 127, 0, 0, 3 };
	if (port)
		buf_put_bytes(&w, a, sizeof a);
	else
		buf_put_u8(&w, 0);
	int rc = th_inject_w(MSG_PING, &w);
	buf_writer_destroy(&w);
	return rc;
}

static int ping_with(uint64_t id, uint64_t state, uint64_t inc)
{
	return ping_at(id, state, inc, 0);
}

/* ---- anti-entropy ranges ---------------------------------------------- */

static void digests_msg(buf_writer *w, uint32_t first, uint32_t count, uint64_t digest)
{
	buf_put_u32le(w, 1);
	buf_put_u32le(w, TH_NBUCKETS);
	buf_put_u32le(w, first);
	th_put_u16(w, count);
	for (uint32_t i = 0; i < count; i++)
		buf_put_u64le(w, digest);
}

/* first + count over every boundary first, for both messages: accepted
 * exactly when the range lies inside the groups or buckets. */
START_TEST(digest_ranges_sweep)
{
	static const uint64_t firsts[] = {
		0, 1, TH_NGROUPS - 1, TH_NGROUPS, TH_NBUCKETS - 32, TH_NBUCKETS - 1, TH_NBUCKETS,
		1u << 31, (1ull << 32) - 32, (1ull << 32) - 31, (1ull << 32) - 16,
		(1ull << 32) - 2, (1ull << 32) - 1,
	};
	static const uint32_t counts[] = { 1, 2, 16, 31, 32, 33 };
	size_t refused = 0;
	for (int groups = 0; groups < 2; groups++) {
		uint8_t type = groups ? MSG_AE_GROUPS : MSG_AE_BUCKETS;
		uint64_t limit = groups ? TH_NGROUPS : TH_NBUCKETS;
		for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++)
			for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
				char what[96];
				th_snapshot s;
				buf_writer w;
				buf_writer_init(&w);
				/* digests equal to ours (all 0): an accepted one sends only
				 * its STATUS */
				digests_msg(&w, (uint32_t)firsts[i], counts[k], 0);
				snprintf(what, sizeof what, "%s first=%llu count=%u",
				         groups ? "groups" : "buckets", (unsigned long long)firsts[i],
				         counts[k]);
				th_snap(&s);
				int rc = th_inject_w(type, &w);
				if (firsts[i] + counts[k] <= limit) {
					ck_assert_msg(rc == 0, "%s: %s", what, cartd_errname(rc));
				} else {
					th_assert_refused(rc, &s, type, REJECT_F_RANGE, what);
					refused++;
				}
				buf_writer_destroy(&w);
			}
	}
	ck_assert_uint_gt(refused, 100);
}
END_TEST

/* ---- incarnations ----------------------------------------------------- */

START_TEST(incarnation_never_wraps)
{
	uint64_t start = 1ull << 32;   /* boot epoch 1 */
	uint64_t tx = wire_self_id(th.tx);
	th_snapshot s;
	ck_assert_int_eq(ping_with(tx, MEMBER_ALIVE, 1), 0);
	ck_assert_uint_eq(last_self_incarnation(), start);
	/* 2^64 - 1 used to refute to 0 and print as -1: refused now. */
	th_snap(&s);
	th_assert_refused(ping_with(self_id(), MEMBER_SUSPECT, UINT64_MAX), &s, MSG_PING,
	                  REJECT_F_INCARNATION, "suspect at 2^64-1");
	th_snap(&s);
	th_assert_refused(ping_with(self_id(), MEMBER_DEAD, MSG_INCARNATION_MAX + 1), &s, MSG_PING,
	                  REJECT_F_INCARNATION, "dead at 2^63");
	ck_assert_int_eq(ping_with(tx, MEMBER_ALIVE, 1), 0);
	ck_assert_uint_eq(last_self_incarnation(), start);
	/* At the maximum a refutation saturates instead of wrapping. */
	ck_assert_int_eq(ping_with(self_id(), MEMBER_SUSPECT, MSG_INCARNATION_MAX - 1), 0);
	ck_assert_uint_eq(last_self_incarnation(), MSG_INCARNATION_MAX);
	ck_assert_int_eq(ping_with(self_id(), MEMBER_SUSPECT, MSG_INCARNATION_MAX), 0);
	ck_assert_uint_eq(last_self_incarnation(), MSG_INCARNATION_MAX);
	ck_assert_int_eq(ping_with(self_id(), MEMBER_DEAD, MSG_INCARNATION_MAX), 0);
	ck_assert_uint_eq(last_self_incarnation(), MSG_INCARNATION_MAX);
}
END_TEST

START_TEST(member_incarnations_stay_printable)
{
	static const uint64_t incs[] = { 0, 1, 1ull << 32, MSG_INCARNATION_MAX };
	/* each with an address of its own, so that it is kept */
	for (size_t i = 0; i < sizeof incs / sizeof incs[0]; i++)
		ck_assert_int_eq(ping_at(555 + i, MEMBER_SUSPECT, incs[i], (uint16_t)(8082 + i)), 0);
	/* A table entry may not carry more either. */
	buf_writer w;
	buf_writer_init(&w);
	buf_put_u8(&w, 1);
	put_member(&w, 777, MEMBER_ALIVE, UINT64_MAX, 7);
	th_snapshot s;
	th_snap(&s);
	th_assert_refused(th_inject_w(MSG_MEMBERS, &w), &s, MSG_MEMBERS, REJECT_F_INCARNATION,
	                  "members inc=2^64-1");
	buf_writer_destroy(&w);
	engine_member_info m[TH_MEMBERS_MAX];
	size_t n = engine_members(th.eng, m, TH_MEMBERS_MAX);
	ck_assert_uint_ge(n, 1 + sizeof incs / sizeof incs[0]);
	for (size_t i = 0; i < n && i < TH_MEMBERS_MAX; i++)
		ck_assert_msg(m[i].incarnation <= (uint64_t)INT64_MAX, "member %llx at %llu",
		              (unsigned long long)m[i].id, (unsigned long long)m[i].incarnation);
}
END_TEST

/* ---- every integer field of every message ----------------------------- */

enum width { W8 = 1, W16 = 2, W32 = 4, W64 = 8, WVAR = 0 };

/* Builds a valid message with field f set to v (the others at defaults);
 * count fields write as many items as fit a datagram (cap), so a count
 * past the cap leaves the message short. */
typedef void (*build_fn)(buf_writer *w, size_t f, uint64_t v);
/* The reason a message with field f = v must be refused for, or
 * REJECT_F_NONE when it must be accepted. */
typedef enum reject_field (*expect_fn)(size_t f, uint64_t v);

struct field_spec {
	const char *name;
	enum width width;
	uint64_t dflt;
};

struct msg_spec {
	const char *name;
	uint8_t type;
	build_fn build;
	expect_fn expect;
	size_t nfields;
	struct field_spec f[8];
};

static const struct msg_spec *spec_now;

/* Field i's value in the message being built: v for the swept field. */
static uint64_t val(size_t i, size_t f, uint64_t v)
{
	return i == f ? v : spec_now->f[i].dflt;
}
#define V(i) val((i), f, v)

static enum reject_field want_id_len(uint64_t n)
{
	return n == 0 || n > CRDT_MAX_NAME ? REJECT_F_ID : REJECT_F_NONE;
}

static void put_id(buf_writer *w, uint64_t n)
{
	buf_put_varint(w, n);
	for (uint64_t i = 0; i < n && i <= CRDT_MAX_NAME; i++)
		buf_put_u8(w, 'a' + (uint8_t)(i % 26));
}

/* DELTA: hops, count, id length, then one cart (1 line, 1 entry). */
static size_t delta_pair_len;

static void build_delta(buf_writer *w, size_t f, uint64_t v)
{
	buf_put_u8(w, (uint8_t)V(0));
	th_put_u16(w, V(1));
	put_id(w, V(2));
	crdt_cart c;
	crdt_cart_init(&c);
	ck_assert_int_eq(crdt_cart_add(&c, 4242, "sku", 3, 2, NULL), 0);
	crdt_encode_cart(w, &c);
	crdt_cart_destroy(&c);
}

static enum reject_field want_delta(size_t f, uint64_t v)
{
	switch (f) {
	case 0: return (v & 0x7f) > MSG_MAX_HOPS ? REJECT_F_HOPS : REJECT_F_NONE;
	case 1: return v == 0 || v > delta_pair_len / 4 ? REJECT_F_COUNT
	             : v > 1 ? REJECT_F_TRUNCATED : REJECT_F_NONE;
	default: return want_id_len(v);
	}
}

/* PING, ACK, PING_REQ: seq, subject, target address length, ngossip, then
 * ngossip members (id, state, incarnation, address length). */
static void build_probe(buf_writer *w, size_t f, uint64_t v)
{
	buf_put_u64le(w, V(0));
	buf_put_u64le(w, V(1));
	put_addr_len(w, V(2));
	uint64_t n = V(3);
	buf_put_u8(w, (uint8_t)n);
	for (uint64_t i = 0; i < n && i < MSG_MAX_GOSSIP; i++)
		put_member(w, V(4) + i, V(5), V(6), V(7));
}

static enum reject_field want_member(size_t f, uint64_t v)
{
	switch (f) {
	case 0: return v == 0 ? REJECT_F_MEMBER_ID : REJECT_F_NONE;
	case 1: return v > MEMBER_DEAD ? REJECT_F_STATE : REJECT_F_NONE;
	case 2: return v > MSG_INCARNATION_MAX ? REJECT_F_INCARNATION : REJECT_F_NONE;
	default: return v > ENGINE_ADDR_MAX ? REJECT_F_ADDR : REJECT_F_NONE;
	}
}

static enum reject_field want_probe(size_t f, uint64_t v)
{
	switch (f) {
	case 0: case 1: return REJECT_F_NONE;
	case 2: return v > ENGINE_ADDR_MAX ? REJECT_F_ADDR : REJECT_F_NONE;
	case 3: return v > MSG_MAX_GOSSIP ? REJECT_F_COUNT : REJECT_F_NONE;
	default: return want_member(f - 4, v);
	}
}

/* MEMBERS: count, then count members. */
static void build_members(buf_writer *w, size_t f, uint64_t v)
{
	uint64_t n = V(0);
	buf_put_u8(w, (uint8_t)n);
	for (uint64_t i = 0; i < n && i < MSG_MAX_TABLE; i++)
		put_member(w, V(1) + i, V(2), V(3), V(4));
}

static enum reject_field want_members(size_t f, uint64_t v)
{
	if (f == 0)
		return v > MSG_MAX_TABLE ? REJECT_F_COUNT : REJECT_F_NONE;
	return want_member(f - 1, v);
}

/* GROUPS and BUCKETS: round, nbuckets, first, count, then up to 64 digests. */
#define DIGESTS_CAP 64u
static void build_digests(buf_writer *w, size_t f, uint64_t v)
{
	buf_put_u32le(w, (uint32_t)V(0));
	buf_put_u32le(w, (uint32_t)V(1));
	buf_put_u32le(w, (uint32_t)V(2));
	uint64_t n = V(3);
	th_put_u16(w, n);
	for (uint64_t i = 0; i < n && i < DIGESTS_CAP; i++)
		buf_put_u64le(w, V(4));
}

static enum reject_field want_digests(size_t f, uint64_t v, uint64_t limit)
{
	switch (f) {
	case 1: return v == 0 || v > CRDT_MAX_BUCKETS ? REJECT_F_NBUCKETS
	             : v != TH_NBUCKETS ? REJECT_F_LAYOUT : REJECT_F_NONE;
	case 2: return v + 1 > limit ? REJECT_F_RANGE : REJECT_F_NONE;
	case 3: return v == 0 ? REJECT_F_COUNT : v > DIGESTS_CAP ? REJECT_F_TRUNCATED
	             : v > limit ? REJECT_F_RANGE : REJECT_F_NONE;
	default: return REJECT_F_NONE;
	}
}

static enum reject_field want_groups(size_t f, uint64_t v)
{
	return want_digests(f, v, TH_NGROUPS);
}

static enum reject_field want_buckets(size_t f, uint64_t v)
{
	return want_digests(f, v, TH_NBUCKETS);
}

/* CARTS: round, nbuckets, bucket, flags, count, then up to 8 listings
 * (id, digest). */
#define LISTINGS_CAP 8u
static void build_carts(buf_writer *w, size_t f, uint64_t v)
{
	buf_put_u32le(w, (uint32_t)V(0));
	buf_put_u32le(w, (uint32_t)V(1));
	buf_put_u32le(w, (uint32_t)V(2));
	buf_put_u8(w, (uint8_t)V(3));
	uint64_t n = V(4);
	th_put_u16(w, n);
	for (uint64_t i = 0; i < n && i < LISTINGS_CAP; i++) {
		put_id(w, V(5));
		buf_put_u64le(w, V(6));
	}
}

static enum reject_field want_carts(size_t f, uint64_t v)
{
	switch (f) {
	case 1: return v == 0 || v > CRDT_MAX_BUCKETS ? REJECT_F_NBUCKETS
	             : v != TH_NBUCKETS ? REJECT_F_LAYOUT : REJECT_F_NONE;
	case 2: return v >= TH_NBUCKETS ? REJECT_F_BUCKET : REJECT_F_NONE;
	case 3: return v & ~(uint64_t)MSG_CARTS_REPLY ? REJECT_F_FLAGS : REJECT_F_NONE;
	case 4: return v > LISTINGS_CAP ? REJECT_F_TRUNCATED : REJECT_F_NONE;
	case 5: return want_id_len(v);
	default: return REJECT_F_NONE;
	}
}

/* WANT: count, then up to 8 ids. */
static void build_want(buf_writer *w, size_t f, uint64_t v)
{
	uint64_t n = V(0);
	th_put_u16(w, n);
	for (uint64_t i = 0; i < n && i < LISTINGS_CAP; i++)
		put_id(w, V(1));
}

static enum reject_field want_want(size_t f, uint64_t v)
{
	if (f == 0)
		return v == 0 ? REJECT_F_COUNT : v > LISTINGS_CAP ? REJECT_F_TRUNCATED : REJECT_F_NONE;
	return want_id_len(v);
}

static void build_status(buf_writer *w, size_t f, uint64_t v)
{
	buf_put_u32le(w, (uint32_t)V(0));
	buf_put_u32le(w, (uint32_t)V(1));
}

static enum reject_field want_status(size_t f, uint64_t v)
{
	return f == 1 && v > TH_NGROUPS ? REJECT_F_DIFFERING : REJECT_F_NONE;
}

#define PROBE_FIELDS 8, { { "seq", W64, 1 }, { "subject", W64, 555 }, \
	{ "target_addr_len", W8, 7 }, { "ngossip", W8, 1 }, { "member_id", W64, 900 }, \
	{ "member_state", W8, 0 }, { "member_incarnation", W64, 1 }, \
	{ "member_addr_len", W8, 7 } }
#define DIGEST_FIELDS 5, { { "round", W32, 1 }, { "nbuckets", W32, TH_NBUCKETS }, \
	{ "first", W32, 0 }, { "count", W16, 1 }, { "digest", W64, 0 } }

static const struct msg_spec specs[] = {
	{ "delta", MSG_DELTA, build_delta, want_delta, 3,
	  { { "hops", W8, 0 }, { "count", W16, 1 }, { "id_len", WVAR, 2 } } },
	{ "ping", MSG_PING, build_probe, want_probe, PROBE_FIELDS },
	{ "ack", MSG_ACK, build_probe, want_probe, PROBE_FIELDS },
	{ "ping_req", MSG_PING_REQ, build_probe, want_probe, PROBE_FIELDS },
	{ "ae_groups", MSG_AE_GROUPS, build_digests, want_groups, DIGEST_FIELDS },
	{ "ae_buckets", MSG_AE_BUCKETS, build_digests, want_buckets, DIGEST_FIELDS },
	{ "ae_carts", MSG_AE_CARTS, build_carts, want_carts, 7,
	  { { "round", W32, 1 }, { "nbuckets", W32, TH_NBUCKETS }, { "bucket", W32, 0 },
	    { "flags", W8, 0 }, { "count", W16, 1 }, { "id_len", WVAR, 2 },
	    { "digest", W64, 0 } } },
	{ "ae_want", MSG_AE_WANT, build_want, want_want, 2,
	  { { "count", W16, 1 }, { "id_len", WVAR, 2 } } },
	{ "ae_status", MSG_AE_STATUS, build_status, want_status, 2,
	  { { "round", W32, 1 }, { "differing", W32, 0 } } },
	{ "members", MSG_MEMBERS, build_members, want_members, 5,
	  { { "count", W8, 1 }, { "member_id", W64, 900 }, { "member_state", W8, 0 },
	    { "member_incarnation", W64, 1 }, { "member_addr_len", W8, 7 } } },
};

/* Boundary values: the word-size edges and the protocol's own limits. */
static const uint64_t boundaries[] = {
	0, 1, 2, 7, 16, 17, 19, 20, 31, 32, 33, 64, 65, 127, 128, 129, 255, 256,
	1023, 1024, 1025, 65535, 65536, 65537,
	(1ull << 31) - 1, 1ull << 31, (1ull << 31) + 1,
	(1ull << 32) - 2, (1ull << 32) - 1, 1ull << 32, (1ull << 32) + 1,
	(1ull << 63) - 1, 1ull << 63, (1ull << 63) + 1,
	UINT64_MAX - 1, UINT64_MAX,
};

static uint64_t cut(enum width w, uint64_t v)
{
	return w == WVAR || w == W64 ? v : v & ((1ull << (8 * w)) - 1);
}

/* One message with field f = v; returns whether it was (rightly) refused. */
static bool sweep_one(const struct msg_spec *m, size_t f, uint64_t v)
{
	char what[128];
	th_snapshot s;
	buf_writer w;
	buf_writer_init(&w);
	spec_now = m;
	m->build(&w, f, v);
	enum reject_field want = m->expect(f, v);
	snprintf(what, sizeof what, "%s %s=%llu", m->name, m->f[f].name, (unsigned long long)v);
	ck_assert_msg(!w.err, "%s: build failed", what);
	th_snap(&s);
	int rc = th_inject_w(m->type, &w);
	if (want == REJECT_F_NONE)
		ck_assert_msg(rc == 0, "%s: refused (%s)", what, cartd_errname(rc));
	else
		th_assert_refused(rc, &s, m->type, want, what);
	buf_writer_destroy(&w);
	return want != REJECT_F_NONE;
}

START_TEST(boundary_sweep_every_field)
{
	/* The size of DELTA's (id, cart) pair, for its count rule. */
	buf_writer w;
	buf_writer_init(&w);
	spec_now = &specs[0];
	build_delta(&w, 99, 0);
	delta_pair_len = w.len - 3;
	buf_writer_destroy(&w);

	size_t tried = 0, refused = 0;
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		const struct msg_spec *m = &specs[i];
		for (size_t f = 0; f < m->nfields; f++)
			for (size_t k = 0; k < sizeof boundaries / sizeof boundaries[0]; k++) {
				refused += sweep_one(m, f, cut(m->f[f].width, boundaries[k]));
				tried++;
			}
	}
	/* Both outcomes were exercised, not just one. */
	ck_assert_uint_gt(refused, 100);
	ck_assert_uint_gt(tried - refused, 100);
}
END_TEST

/* The datagram as a whole: the sealed types the engine does not know, and
 * a sender id of 0, which the wire refuses in the header (since protocol
 * 3), before any session is looked up: the engine's datagram_sender never
 * fires. */
START_TEST(datagram_level_reasons)
{
	static const uint8_t junk[] = { 0, 0, 0, 0 };
	for (uint8_t t = MSG_MEMBERS + 1; t < WIRE_TYPE_HELLO; t++) {
		char what[32];
		th_snapshot s;
		snprintf(what, sizeof what, "type %u", t);
		th_snap(&s);
		th_assert_refused(th_inject(t, junk, sizeof junk), &s, 0, REJECT_F_TYPE, what);
	}
	uint8_t d[WIRE_MAX_DATAGRAM_DEFAULT];
	size_t n;
	buf_writer w;
	buf_writer_init(&w);
	buf_put_u32le(&w, 1);
	buf_put_u32le(&w, 0);
	ck_assert_int_eq(wire_seal(th.tx, self_id(), MSG_AE_STATUS, w.data, w.len, d, sizeof d, &n),
	                 0);
	buf_writer_destroy(&w);
	memset(d + 9, 0, 8);   /* sender id */
	th_snapshot s;
	th_snap(&s);
	uint64_t header = wire_get_stats(th.rx)->rej_header;
	ck_assert_int_eq(fuzz_peer_deliver(&th, d, n, th_now() + 1), CARTD_EHEADER);
	ck_assert_uint_eq(wire_get_stats(th.rx)->rej_header, header + 1);
	ck_assert_uint_eq(engine_get_stats(th.eng)->rej_decode, s.rej_decode);
	ck_assert_uint_eq(engine_get_stats(th.eng)->rej_reason[0][REJECT_F_SENDER], 0);
	th_assert_unchanged(&s, "sender 0");
}
END_TEST

/* The reason table: every valid pair has a distinct name, and the names
 * are what docs and metrics use. */
START_TEST(reason_names_are_distinct)
{
	static char seen[REJECT_ROWS * REJECT_NFIELDS][48];
	size_t n = 0;
	for (unsigned r = 0; r < REJECT_ROWS; r++)
		for (unsigned f = 0; f < REJECT_NFIELDS; f++) {
			if (!reject_valid(r, f))
				continue;
			reject_name(r, f, seen[n], sizeof seen[n]);
			for (size_t k = 0; k < n; k++)
				ck_assert_str_ne(seen[k], seen[n]);
			n++;
		}
	ck_assert_uint_gt(n, 40);
	char b[48];
	ck_assert_str_eq(reject_name(MSG_AE_GROUPS, REJECT_F_RANGE, b, sizeof b), "ae_groups_range");
	ck_assert_str_eq(reject_name(0, REJECT_F_RANGE, b, sizeof b), "invalid");
	ck_assert(!reject_valid(REJECT_ROWS, REJECT_F_TYPE));
}
END_TEST

Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("fields");
	tcase_add_checked_fixture(tc, th_setup, th_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, digest_ranges_sweep);
	tcase_add_test(tc, incarnation_never_wraps);
	tcase_add_test(tc, member_incarnations_stay_printable);
	tcase_add_test(tc, boundary_sweep_every_field);
	tcase_add_test(tc, datagram_level_reasons);
	tcase_add_test(tc, reason_names_are_distinct);
	suite_add_tcase(s, tc);
	return s;
}
