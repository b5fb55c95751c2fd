/*
 * check_hostile.c - the engine against a key holder: sealed, authentic
 * datagrams whose integer fields are chosen to break it.
 *
 * One engine (replica 100, 1024 buckets) receives datagrams sealed by a
 * second wire object posing as replica 101.  The two datagrams that used to
 * crash it (AE_GROUPS and AE_BUCKETS ranges wrapping 32 bits), the
 * incarnations that used to wrap, and then a sweep of boundary values
 * (0, 1, 2^31, 2^32 - 1, 2^32, 2^63, 2^64 - 1 and neighbours, cut to each
 * field's width) over every integer field of every message type.  Each
 * datagram must be accepted exactly when the documented limits allow it;
 * otherwise refused with the documented reason (net/reject.h), counted
 * under that reason, and without changing the store, the member table, or
 * sending anything.
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
#include "tests/fuzz/fuzz_peer.h"

#define SELF 100u
#define PEER 101u
#define NBUCKETS 1024u
#define NGROUPS (NBUCKETS / MSG_GROUP_SIZE)
#define SENT_MAX 256

static wire_keyring *ring;
static crdt_store *store;
static wire *rx, *tx, *spy;
static engine *eng;
static uint64_t now;
static size_t nsent;
static uint8_t sent[SENT_MAX][1200];
static size_t sent_len[SENT_MAX];

static void on_send(void *arg, const engine_addr *to, const uint8_t *d, size_t len)
{
	(void)arg;
	(void)to;
	ck_assert_uint_le(len, sizeof sent[0]);
	if (nsent < SENT_MAX) {
		memcpy(sent[nsent], d, len);
		sent_len[nsent] = len;
	}
	nsent++;
}

static void on_persist(void *arg, const char *id, size_t len)
{
	(void)arg;
	ck_assert_int_eq(crdt_check_id(id, len), 0);
}

static const engine_addr peer_addr = { 7, { 4, 0x1f, 0x91, 127, 0, 0, 2 } };

/* Seals payload as type from w and hands it to the engine. */
static int inject_from(wire *w, uint8_t type, const uint8_t *p, size_t len)
{
	uint8_t d[1200];
	size_t n;
	ck_assert_int_eq(wire_seal(w, type, p, len, d, sizeof d, &n), 0);
	return engine_receive(eng, &peer_addr, d, n, ++now);
}

static int inject(uint8_t type, const buf_writer *b)
{
	ck_assert(!b->err);
	return inject_from(tx, type, b->data, b->len);
}

static void put_u16(buf_writer *w, uint64_t v)
{
	buf_put_u8(w, (uint8_t)v);
	buf_put_u8(w, (uint8_t)(v >> 8));
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

/* Opens the engine's latest datagram as an ACK and returns the incarnation
 * it claims for itself (first rumour). */
static uint64_t last_self_incarnation(void)
{
	ck_assert_uint_gt(nsent, 0);
	size_t i = (nsent < SENT_MAX ? nsent : SENT_MAX) - 1;
	wire_msg m;
	msg_probe p;
	enum reject_field why;
	ck_assert_int_eq(wire_open(spy, sent[i], sent_len[i], &m), 0);
	ck_assert_uint_eq(m.type, MSG_ACK);
	ck_assert_int_eq(msg_get_probe(m.payload, m.payload_len, &p, &why), 0);
	ck_assert_uint_ge(p.ngossip, 1);
	ck_assert_uint_eq(p.gossip[0].id, SELF);
	return p.gossip[0].incarnation;
}

/* A PING carrying one rumour; returns the engine's verdict. */
static int ping_with(uint64_t id, uint64_t state, uint64_t inc)
{
	buf_writer w;
	buf_writer_init(&w);
	buf_put_u64le(&w, 1);
	buf_put_u64le(&w, SELF);
	put_addr_len(&w, 0);
	buf_put_u8(&w, 1);
	put_member(&w, id, state, inc, 0);
	int rc = inject(MSG_PING, &w);
	buf_writer_destroy(&w);
	return rc;
}

static void setup(void)
{
	char text[WIRE_KEYRING_TEXT_MAX];
	ck_assert_int_eq(wire_keyring_generate(text, sizeof text), 0);
	ck_assert_int_eq(wire_keyring_parse(text, strlen(text), &ring), 0);
	ck_assert_int_eq(crdt_store_new(NBUCKETS, &store), 0);
	rx = fuzz_wire_new(ring, SELF, WIRE_DEFLATE_LEVEL_DEFAULT);
	tx = fuzz_wire_new(ring, PEER, WIRE_DEFLATE_LEVEL_DEFAULT);
	spy = fuzz_wire_new(ring, 102, WIRE_DEFLATE_LEVEL_DEFAULT);
	engine_config ec;
	engine_config_init(&ec);
	ec.self_id = SELF;
	ec.boot_epoch = 1;
	ec.seed = 3;
	engine_callbacks cb = { on_send, on_persist, NULL, NULL };
	ck_assert_int_eq(engine_new(&ec, store, rx, &cb, &eng), 0);
	now = 1000;
	/* Introduce the sender, so that later datagrams are not first contact
	 * (which would send our member table). */
	ck_assert_int_eq(ping_with(PEER, MEMBER_ALIVE, 1), 0);
	nsent = 0;
}

static void teardown(void)
{
	engine_free(eng);
	wire_free(rx);
	wire_free(tx);
	wire_free(spy);
	crdt_store_free(store);
	wire_keyring_free(ring);
}

/* ---- what must not change --------------------------------------------- */

#define MEMBERS_MAX 64
struct snapshot {
	size_t carts, nmembers, nsent;
	uint64_t rej_decode;
	uint64_t buckets[NBUCKETS];
	engine_member_info members[MEMBERS_MAX];
};

static void snap(struct snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->carts = crdt_store_count(store);
	memcpy(s->buckets, crdt_store_bucket_digests(store), sizeof s->buckets);
	s->nmembers = engine_members(eng, s->members, MEMBERS_MAX);
	s->nsent = nsent;
	s->rej_decode = engine_get_stats(eng)->rej_decode;
}

/* Everything but last_heard (an authentic datagram is proof of life). */
static bool members_equal(const struct snapshot *a, const struct snapshot *b)
{
	if (a->nmembers != b->nmembers)
		return false;
	for (size_t i = 0; i < a->nmembers && i < MEMBERS_MAX; i++) {
		const engine_member_info *x = &a->members[i], *y = &b->members[i];
		if (x->id != y->id || x->state != y->state || x->incarnation != y->incarnation ||
		    x->addr.len != y->addr.len || memcmp(x->addr.b, y->addr.b, x->addr.len) != 0 ||
		    x->last_sync_ms != y->last_sync_ms || x->differing_buckets != y->differing_buckets)
			return false;
	}
	return true;
}

/* Asserts the engine refused the last datagram with (row, field) and that
 * nothing but the counters moved. */
static void assert_refused(int rc, const struct snapshot *before, unsigned row,
                           enum reject_field field, const char *what)
{
	char want[48], got[48];
	unsigned r, f;
	struct snapshot after;
	ck_assert_msg(rc == CARTD_EDECODE, "%s: rc %s, want decode/%s", what,
	              cartd_errname(rc), reject_name(row, field, want, sizeof want));
	engine_last_reject(eng, &r, &f);
	ck_assert_msg(r == row && f == field, "%s: reason %s, want %s", what,
	              reject_name(r, f, got, sizeof got), reject_name(row, field, want, sizeof want));
	snap(&after);
	ck_assert_msg(after.rej_decode == before->rej_decode + 1, "%s: rej_decode %llu -> %llu",
	              what, (unsigned long long)before->rej_decode,
	              (unsigned long long)after.rej_decode);
	ck_assert_msg(after.nsent == before->nsent, "%s: sent %zu datagrams", what,
	              after.nsent - before->nsent);
	ck_assert_msg(after.carts == before->carts &&
	              memcmp(after.buckets, before->buckets, sizeof after.buckets) == 0,
	              "%s: store changed", what);
	ck_assert_msg(members_equal(&after, before), "%s: member table changed", what);
}

/* The reason counter of (row, field) moved by exactly one. */
static void assert_counted(uint64_t before, unsigned row, enum reject_field f)
{
	ck_assert_uint_eq(engine_get_stats(eng)->rej_reason[row][f], before + 1);
}

/* ---- the reported crashes --------------------------------------------- */

static void digests_msg(buf_writer *w, uint32_t first, uint32_t count, uint64_t digest)
{
	buf_put_u32le(w, 1);
	buf_put_u32le(w, NBUCKETS);
	buf_put_u32le(w, first);
	put_u16(w, count);
	for (uint32_t i = 0; i < count; i++)
		buf_put_u64le(w, digest);
}

/* One digests message with first, count must be refused as type_range,
 * counted there, and change nothing. */
static void expect_range_refused(uint8_t type, uint32_t first, uint32_t count, const char *what)
{
	struct snapshot s;
	buf_writer w;
	buf_writer_init(&w);
	digests_msg(&w, first, count, 0x0123456789abcdefull);
	snap(&s);
	uint64_t c = engine_get_stats(eng)->rej_reason[type][REJECT_F_RANGE];
	assert_refused(inject(type, &w), &s, type, REJECT_F_RANGE, what);
	assert_counted(c, type, REJECT_F_RANGE);
	buf_writer_destroy(&w);
}

START_TEST(ae_groups_first_wrapping_is_refused)
{
	expect_range_refused(MSG_AE_GROUPS, UINT32_MAX, 1, "groups first=2^32-1");
}
END_TEST

START_TEST(ae_buckets_first_wrapping_is_refused)
{
	expect_range_refused(MSG_AE_BUCKETS, UINT32_MAX - 15, 32, "buckets first=2^32-16");
}
END_TEST

/* first + count over every boundary first, for both messages: accepted
 * exactly when the range lies inside the groups or buckets. */
START_TEST(digest_ranges_sweep)
{
	static const uint64_t firsts[] = {
		0, 1, NGROUPS - 1, NGROUPS, NBUCKETS - 32, NBUCKETS - 1, NBUCKETS, 1u << 31,
		(1ull << 32) - 32, (1ull << 32) - 31, (1ull << 32) - 16, (1ull << 32) - 2,
		(1ull << 32) - 1,
	};
	static const uint32_t counts[] = { 1, 2, 16, 31, 32, 33 };
	for (int groups = 0; groups < 2; groups++) {
		uint8_t type = groups ? MSG_AE_GROUPS : MSG_AE_BUCKETS;
		uint64_t limit = groups ? NGROUPS : NBUCKETS;
		for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++)
			for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
				char what[96];
				struct snapshot s;
				buf_writer w;
				buf_writer_init(&w);
				/* digests equal to ours (all 0): an accepted one sends only
				 * its STATUS */
				digests_msg(&w, (uint32_t)firsts[i], counts[k], 0);
				snprintf(what, sizeof what, "%s first=%llu count=%u", groups ? "groups" : "buckets",
				         (unsigned long long)firsts[i], counts[k]);
				snap(&s);
				int rc = inject(type, &w);
				if (firsts[i] + counts[k] <= limit)
					ck_assert_msg(rc == 0, "%s: %s", what, cartd_errname(rc));
				else
					assert_refused(rc, &s, type, REJECT_F_RANGE, what);
				buf_writer_destroy(&w);
			}
	}
}
END_TEST

/* ---- incarnations ----------------------------------------------------- */

START_TEST(incarnation_never_wraps)
{
	uint64_t start = 1ull << 32;   /* boot epoch 1 */
	struct snapshot s;
	ck_assert_int_eq(ping_with(PEER, MEMBER_ALIVE, 1), 0);
	ck_assert_uint_eq(last_self_incarnation(), start);
	/* 2^64 - 1 used to refute to 0 and print as -1: refused now. */
	snap(&s);
	assert_refused(ping_with(SELF, MEMBER_SUSPECT, UINT64_MAX), &s, MSG_PING,
	               REJECT_F_INCARNATION, "suspect at 2^64-1");
	snap(&s);
	assert_refused(ping_with(SELF, MEMBER_DEAD, MSG_INCARNATION_MAX + 1), &s, MSG_PING,
	               REJECT_F_INCARNATION, "dead at 2^63");
	ck_assert_int_eq(ping_with(PEER, MEMBER_ALIVE, 1), 0);
	ck_assert_uint_eq(last_self_incarnation(), start);
	/* At the maximum a refutation saturates instead of wrapping. */
	ck_assert_int_eq(ping_with(SELF, MEMBER_SUSPECT, MSG_INCARNATION_MAX - 1), 0);
	ck_assert_uint_eq(last_self_incarnation(), MSG_INCARNATION_MAX);
	ck_assert_int_eq(ping_with(SELF, MEMBER_SUSPECT, MSG_INCARNATION_MAX), 0);
	ck_assert_uint_eq(last_self_incarnation(), MSG_INCARNATION_MAX);
	ck_assert_int_eq(ping_with(SELF, MEMBER_DEAD, MSG_INCARNATION_MAX), 0);
	ck_assert_uint_eq(last_self_incarnation(), MSG_INCARNATION_MAX);
}
END_TEST

START_TEST(member_incarnations_stay_printable)
{
	static const uint64_t incs[] = { 0, 1, 1ull << 32, MSG_INCARNATION_MAX };
	for (size_t i = 0; i < sizeof incs / sizeof incs[0]; i++)
		ck_assert_int_eq(ping_with(555 + i, MEMBER_SUSPECT, incs[i]), 0);
	/* A table entry may not carry more either. */
	buf_writer w;
	buf_writer_init(&w);
	buf_put_u8(&w, 1);
	put_member(&w, 777, MEMBER_ALIVE, UINT64_MAX, 7);
	struct snapshot s;
	snap(&s);
	assert_refused(inject(MSG_MEMBERS, &w), &s, MSG_MEMBERS, REJECT_F_INCARNATION,
	               "members inc=2^64-1");
	buf_writer_destroy(&w);
	engine_member_info m[MEMBERS_MAX];
	size_t n = engine_members(eng, m, MEMBERS_MAX);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_le(m[i].incarnation, (uint64_t)INT64_MAX);
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

static uint64_t val(const struct msg_spec *m, size_t f, size_t at, uint64_t v)
{
	return f == at ? v : m->f[f].dflt;
}

#define V(i) val(spec_of(type_now), (i), f, v)
static uint8_t type_now;
static const struct msg_spec *spec_of(uint8_t type);

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
	put_u16(w, V(1));
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
	put_u16(w, n);
	for (uint64_t i = 0; i < n && i < DIGESTS_CAP; i++)
		buf_put_u64le(w, V(4));
}

static enum reject_field want_digests(size_t f, uint64_t v, uint64_t limit)
{
	switch (f) {
	case 1: return v == 0 || v > CRDT_MAX_BUCKETS ? REJECT_F_NBUCKETS
	             : v != NBUCKETS ? REJECT_F_LAYOUT : REJECT_F_NONE;
	case 2: return v + 1 > limit ? REJECT_F_RANGE : REJECT_F_NONE;
	case 3: return v == 0 ? REJECT_F_COUNT : v > DIGESTS_CAP ? REJECT_F_TRUNCATED
	             : v > limit ? REJECT_F_RANGE : REJECT_F_NONE;
	default: return REJECT_F_NONE;
	}
}

static enum reject_field want_groups(size_t f, uint64_t v)
{
	return want_digests(f, v, NGROUPS);
}

static enum reject_field want_buckets(size_t f, uint64_t v)
{
	return want_digests(f, v, NBUCKETS);
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
	put_u16(w, n);
	for (uint64_t i = 0; i < n && i < LISTINGS_CAP; i++) {
		put_id(w, V(5));
		buf_put_u64le(w, V(6));
	}
}

static enum reject_field want_carts(size_t f, uint64_t v)
{
	switch (f) {
	case 1: return v == 0 || v > CRDT_MAX_BUCKETS ? REJECT_F_NBUCKETS
	             : v != NBUCKETS ? REJECT_F_LAYOUT : REJECT_F_NONE;
	case 2: return v >= NBUCKETS ? REJECT_F_BUCKET : REJECT_F_NONE;
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
	put_u16(w, n);
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
	return f == 1 && v > NGROUPS ? REJECT_F_DIFFERING : REJECT_F_NONE;
}

#define PROBE_FIELDS 8, { { "seq", W64, 1 }, { "subject", W64, 555 }, \
	{ "target_addr_len", W8, 7 }, { "ngossip", W8, 1 }, { "member_id", W64, 900 }, \
	{ "member_state", W8, 0 }, { "member_incarnation", W64, 1 }, \
	{ "member_addr_len", W8, 7 } }
#define DIGEST_FIELDS 5, { { "round", W32, 1 }, { "nbuckets", W32, NBUCKETS }, \
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
	  { { "round", W32, 1 }, { "nbuckets", W32, NBUCKETS }, { "bucket", W32, 0 },
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

static const struct msg_spec *spec_of(uint8_t type)
{
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
		if (specs[i].type == type)
			return &specs[i];
	return NULL;
}

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

static size_t sweep_one(const struct msg_spec *m, size_t f, uint64_t v)
{
	char what[128];
	struct snapshot s;
	buf_writer w;
	buf_writer_init(&w);
	type_now = m->type;
	m->build(&w, f, v);
	enum reject_field want = m->expect(f, v);
	snprintf(what, sizeof what, "%s %s=%llu", m->name, m->f[f].name, (unsigned long long)v);
	ck_assert_msg(!w.err, "%s: build failed", what);
	snap(&s);
	uint64_t before = want ? engine_get_stats(eng)->rej_reason[m->type][want] : 0;
	int rc = inject(m->type, &w);
	if (want == REJECT_F_NONE) {
		ck_assert_msg(rc == 0, "%s: refused (%s)", what, cartd_errname(rc));
	} else {
		assert_refused(rc, &s, m->type, want, what);
		assert_counted(before, m->type, want);
	}
	buf_writer_destroy(&w);
	return want != REJECT_F_NONE;
}

START_TEST(boundary_sweep_every_field)
{
	/* The size of DELTA's (id, cart) pair, for its count rule. */
	buf_writer w;
	buf_writer_init(&w);
	type_now = MSG_DELTA;
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
	/* Every refusal above was one of the table's reasons; make sure the
	 * sweep exercised both outcomes. */
	ck_assert_uint_gt(refused, 100);
	ck_assert_uint_gt(tried - refused, 100);
}
END_TEST

/* The datagram as a whole: unknown message types and sender id 0. */
START_TEST(datagram_level_reasons)
{
	static const uint8_t junk[] = { 0, 0, 0, 0 };
	for (uint8_t t = MSG_MEMBERS + 1; t <= WIRE_TYPE_MAX; t++) {
		struct snapshot s;
		snap(&s);
		assert_refused(inject_from(tx, t, junk, sizeof junk), &s, 0, REJECT_F_TYPE,
		               "unknown type");
	}
	wire *anon = fuzz_wire_new(ring, 0, WIRE_DEFLATE_LEVEL_DEFAULT);
	buf_writer w;
	buf_writer_init(&w);
	buf_put_u32le(&w, 1);
	buf_put_u32le(&w, 0);
	struct snapshot s;
	snap(&s);
	assert_refused(inject_from(anon, MSG_AE_STATUS, w.data, w.len), &s, 0, REJECT_F_SENDER,
	               "sender 0");
	buf_writer_destroy(&w);
	wire_free(anon);
}
END_TEST

/* The reason table: every valid pair has a distinct name, and the names
 * are what docs and metrics use. */
START_TEST(reason_names_are_distinct)
{
	char seen[REJECT_ROWS * REJECT_NFIELDS][48];
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

Suite *hostile_suite(void);

Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ae_groups_first_wrapping_is_refused);
	tcase_add_test(tc, ae_buckets_first_wrapping_is_refused);
	tcase_add_test(tc, digest_ranges_sweep);
	tcase_add_test(tc, incarnation_never_wraps);
	tcase_add_test(tc, member_incarnations_stay_printable);
	tcase_add_test(tc, boundary_sweep_every_field);
	tcase_add_test(tc, datagram_level_reasons);
	tcase_add_test(tc, reason_names_are_distinct);
	suite_add_tcase(s, tc);
	return s;
}
