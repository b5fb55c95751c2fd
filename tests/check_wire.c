/*
 * check_wire.c - tests of the datagram layer: net/wire, net/replay and
 * net/keyring.
 *
 * Datagrams are also built by hand here (hand_seal), straight from the
 * byte layout in docs/protocol.md, so the format is checked against its
 * specification and not only against itself.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zlib.h>

#include "crdt/error.h"
#include "net/keyring.h"
#include "net/replay.h"
#include "net/wire.h"

Suite *wire_suite(void);

#define DG_CAP 4096u
#define SELF_ID 0x1122334455667788ull
#define PEER_ID (SELF_ID ^ 0x20ull)   /* one header bit away from SELF_ID */

/* ---- helpers ------------------------------------------------------------ */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t tag_test(void)
{
	return wire_cluster_tag("test-cluster");
}

static void key_of(uint8_t k[WIRE_KEY_BYTES], uint8_t seed)
{
	uint8_t s[randombytes_SEEDBYTES] = {seed, 0x4b};

	randombytes_buf_deterministic(k, WIRE_KEY_BYTES, s);
}

static void fill_random(uint8_t *p, size_t n, uint8_t seed)
{
	uint8_t s[randombytes_SEEDBYTES] = {seed, 0x52};

	randombytes_buf_deterministic(p, n, s);
}

/* Text resembling a batch of cart deltas: compresses about 3:1. */
static void fill_compressible(uint8_t *p, size_t n, unsigned seed)
{
	char rec[64];
	size_t off = 0;

	while (off < n) {
		int k = snprintf(rec, sizeof(rec), "cart:user-%05u|sku-%04u|+%u;",
				 (seed * 7919u + (unsigned)off) % 50u,
				 (seed + (unsigned)off * 13u) % 200u, (unsigned)off % 9u + 1u);
		size_t take = (size_t)k < n - off ? (size_t)k : n - off;

		memcpy(p + off, rec, take);
		off += take;
	}
}

/* A ring made of the keys with these seeds, first one primary. */
static wire_keyring *ring_of(const uint8_t *seeds, size_t n)
{
	char text[WIRE_KEY_LINE_MAX * 8];
	size_t off = 0;
	wire_keyring *r = NULL;

	for (size_t i = 0; i < n; i++) {
		uint8_t k[WIRE_KEY_BYTES];

		key_of(k, seeds[i]);
		ck_assert_int_eq(wire_key_format(k, text + off, sizeof(text) - off), 0);
		off += strlen(text + off);
	}
	ck_assert_int_eq(wire_keyring_parse(text, off, &r), 0);
	return r;
}

static wire *wire_with(const wire_config *cfg, const wire_keyring *r)
{
	wire *w = NULL;

	ck_assert_int_eq(wire_new(cfg, r, &w), 0);
	ck_assert_ptr_nonnull(w);
	return w;
}

static wire *mk_wire(uint64_t sender, uint32_t epoch, const wire_keyring *r)
{
	wire_config cfg;

	wire_config_init(&cfg);
	cfg.sender_id = sender;
	cfg.boot_epoch = epoch;
	cfg.cluster_tag = tag_test();
	return wire_with(&cfg, r);
}

static size_t seal_ok(wire *w, uint8_t type, const uint8_t *p, size_t n, uint8_t *out)
{
	size_t len = 0;

	ck_assert_int_eq(wire_seal(w, type, p, n, out, DG_CAP, &len), 0);
	ck_assert_uint_ge(len, WIRE_OVERHEAD);
	return len;
}

/* Seals body exactly as docs/protocol.md describes, bypassing wire.c. */
static size_t hand_seal(const uint8_t key[WIRE_KEY_BYTES], uint8_t flags,
			uint64_t sender, uint32_t epoch, uint64_t seq,
			const uint8_t *body, size_t blen, uint8_t *out)
{
	uint8_t nonce[24] = {0};
	unsigned long long clen = 0;

	out[0] = 'C';
	out[1] = 'T';
	out[2] = WIRE_VERSION;
	out[3] = 7;
	out[4] = flags;
	put_le(out + 5, wire_key_id(key), 4);
	put_le(out + 9, tag_test(), 4);
	put_le(out + 13, sender, 8);
	put_le(out + 21, epoch, 4);
	put_le(out + 25, seq, 8);
	put_le(nonce, sender, 8);
	put_le(nonce + 8, epoch, 4);
	put_le(nonce + 12, seq, 8);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 33, &clen, body, blen,
						   out, 33, NULL, nonce, key);
	return 33 + (size_t)clen;
}

/* What the receive order of docs/protocol.md predicts for an intact
 * length and this (possibly damaged) header, when the body does not
 * authenticate under it. */
static int predicted(const uint8_t *h, uint64_t self, const wire_keyring *r)
{
	if (h[0] != 'C' || h[1] != 'T')
		return CARTD_EHEADER;
	if (h[2] != WIRE_VERSION)
		return CARTD_EVERSION;
	if (h[3] == 0 || h[3] > 15 || (h[4] & 0xfe) != 0 || le64(h + 25) == 0)
		return CARTD_EHEADER;
	if (le32(h + 9) != tag_test())
		return CARTD_ECLUSTER;
	if (le64(h + 13) == self)
		return CARTD_ESELF;
	if (wire_keyring_find(r, le32(h + 5)) == NULL)
		return CARTD_EKEY;
	return CARTD_EAUTH;
}

static uint64_t rejections(const wire_stats *s)
{
	return s->rej_header + s->rej_cluster + s->rej_self + s->rej_key +
	       s->rej_auth + s->rej_replay + s->rej_oversize + s->rej_inflate +
	       s->rej_version;
}

/* ---- round trips -------------------------------------------------------- */

static void roundtrip(wire *a, wire *b, const uint8_t *p, size_t n, int expect_deflate)
{
	uint8_t dg[DG_CAP];
	wire_msg m;
	size_t len = seal_ok(a, 3, p, n, dg);

	if (expect_deflate >= 0)
		ck_assert_int_eq(dg[4] & WIRE_F_DEFLATE, expect_deflate);
	if (dg[4] & WIRE_F_DEFLATE)
		ck_assert_uint_lt(len, n + WIRE_OVERHEAD);
	ck_assert_int_eq(wire_open(b, dg, len, &m), 0);
	ck_assert_uint_eq(m.type, 3);
	ck_assert_uint_eq(m.sender_id, PEER_ID);
	ck_assert_uint_eq(m.boot_epoch, 9);
	ck_assert_uint_eq(m.payload_len, n);
	ck_assert_ptr_nonnull(m.payload);
	if (n > 0)
		ck_assert_mem_eq(m.payload, p, n);
}

START_TEST(test_roundtrip_sizes)
{
	const uint8_t k[] = {1};
	wire_keyring *r = ring_of(k, 1);
	wire *a = mk_wire(PEER_ID, 9, r), *b = mk_wire(SELF_ID, 1, r);
	uint8_t *p = malloc(WIRE_MAX_PAYLOAD_DEFAULT);
	size_t max_body = wire_max_body(a);

	ck_assert_uint_eq(max_body, 1200 - 49);
	for (size_t n = 0; n <= max_body; n++) {
		fill_random(p, n, (uint8_t)n);
		roundtrip(a, b, p, n, 0);   /* random bytes never deflate smaller */
		fill_compressible(p, n, (unsigned)n);
		roundtrip(a, b, p, n, n >= 128 ? 1 : -1);
	}
	/* compressible payloads far larger than a datagram, up to the cap */
	for (size_t n = 2048; n <= WIRE_MAX_PAYLOAD_DEFAULT; n *= 2) {
		memset(p, 'x', n);
		roundtrip(a, b, p, n, 1);
	}
	ck_assert_uint_eq(wire_get_stats(b)->opened, wire_get_stats(a)->sealed);
	ck_assert_uint_eq(rejections(wire_get_stats(b)), 0);
	free(p);
	wire_free(a);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

START_TEST(test_header_layout_matches_spec)
{
	const uint8_t seeds[] = {5};
	wire_keyring *r = ring_of(seeds, 1);
	wire *a = mk_wire(PEER_ID, 0xa1b2c3d4u, r);
	uint8_t key[WIRE_KEY_BYTES], p[300], dg[DG_CAP], ref[DG_CAP];
	size_t len;

	key_of(key, 5);
	fill_random(p, sizeof(p), 1);
	for (uint64_t seq = 1; seq <= 3; seq++) {
		len = seal_ok(a, 7, p, sizeof(p), dg);
		ck_assert_uint_eq(len, sizeof(p) + 49);
		ck_assert_uint_eq(le64(dg + 25), seq);
		ck_assert(hand_seal(key, 0, PEER_ID, 0xa1b2c3d4u, seq, p, sizeof(p), ref) == len);
		ck_assert_mem_eq(dg, ref, len);   /* byte-identical to the spec */
	}
	ck_assert_uint_eq(dg[0], 'C');
	ck_assert_uint_eq(dg[1], 'T');
	ck_assert_uint_eq(dg[2], WIRE_VERSION);
	ck_assert_uint_eq(le32(dg + 5), wire_keyring_primary_id(r));
	ck_assert_uint_eq(le32(dg + 9), tag_test());
	ck_assert_uint_eq(le64(dg + 13), PEER_ID);
	ck_assert_uint_eq(le32(dg + 21), 0xa1b2c3d4u);
	ck_assert_uint_eq(wire_overhead(), 49);
	ck_assert_uint_eq(wire_sealed_size(10), 59);
	wire_free(a);
	wire_keyring_free(r);
}
END_TEST

START_TEST(test_cluster_tag)
{
	uint8_t h[32];
	const char *name = "shop-eu";

	crypto_generichash(h, 32, (const uint8_t *)name, strlen(name), NULL, 0);
	ck_assert_uint_eq(wire_cluster_tag(name), le32(h));
	ck_assert_uint_ne(wire_cluster_tag("shop-eu"), wire_cluster_tag("shop-us"));
}
END_TEST

/* ---- tampering ---------------------------------------------------------- */

/* Flips every byte of a sealed datagram, then every header bit, and checks
 * each forgery fails for the cause the receive order predicts. */
static void flip_all(int compressible)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire *a = mk_wire(PEER_ID, 9, r), *b = mk_wire(SELF_ID, 1, r);
	uint8_t p[600], dg[DG_CAP], bad[DG_CAP];
	size_t len, tries = 0;
	wire_msg m;

	if (compressible)
		fill_compressible(p, sizeof(p), 3);
	else
		fill_random(p, sizeof(p), 3);
	len = seal_ok(a, 2, p, sizeof(p), dg);
	ck_assert_int_eq(dg[4], compressible ? WIRE_F_DEFLATE : 0);
	for (size_t i = 0; i < len; i++, tries++) {
		memcpy(bad, dg, len);
		bad[i] ^= 0xff;
		ck_assert_int_eq(wire_open(b, bad, len, &m),
				 i < 33 ? predicted(bad, SELF_ID, r) : CARTD_EAUTH);
	}
	for (size_t bit = 0; bit < 33 * 8; bit++, tries++) {
		memcpy(bad, dg, len);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(wire_open(b, bad, len, &m), predicted(bad, SELF_ID, r));
	}
	/* the predictions cover every cause, not just EAUTH */
	ck_assert_uint_gt(wire_get_stats(b)->rej_header, 0);
	ck_assert_uint_gt(wire_get_stats(b)->rej_cluster, 0);
	ck_assert_uint_eq(wire_get_stats(b)->rej_self, 1);   /* PEER_ID ^ 0x20 */
	ck_assert_uint_gt(wire_get_stats(b)->rej_key, 0);
	ck_assert_uint_gt(wire_get_stats(b)->rej_auth, 0);
	ck_assert_uint_eq(rejections(wire_get_stats(b)), tries);
	ck_assert_uint_eq(wire_get_stats(b)->opened, 0);
	/* no forgery moved the window: the original still opens, once */
	ck_assert_int_eq(wire_open(b, dg, len, &m), 0);
	ck_assert_mem_eq(m.payload, p, sizeof(p));
	ck_assert_int_eq(wire_open(b, dg, len, &m), CARTD_EREPLAY);
	wire_free(a);
	wire_free(b);
	wire_keyring_free(r);
}

START_TEST(test_flip_raw)
{
	flip_all(0);
}
END_TEST

START_TEST(test_flip_deflated)
{
	flip_all(1);
}
END_TEST

START_TEST(test_truncation_and_extension)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire *a = mk_wire(PEER_ID, 9, r), *b = mk_wire(SELF_ID, 1, r);
	uint8_t p[400], dg[DG_CAP], *cut;
	size_t len;
	wire_msg m;

	fill_compressible(p, sizeof(p), 1);
	len = seal_ok(a, 2, p, sizeof(p), dg);
	for (size_t n = 0; n < len; n++) {
		/* an exact-size heap copy lets ASan catch any read past n */
		cut = malloc(n > 0 ? n : 1);
		memcpy(cut, dg, n);
		ck_assert_int_eq(wire_open(b, n > 0 ? cut : NULL, n, &m),
				 n < WIRE_OVERHEAD ? CARTD_EHEADER : CARTD_EAUTH);
		free(cut);
	}
	dg[len] = 0;
	ck_assert_int_eq(wire_open(b, dg, len + 1, &m), CARTD_EAUTH);
	ck_assert_uint_eq(wire_get_stats(b)->rej_header, WIRE_OVERHEAD);
	ck_assert_uint_eq(wire_get_stats(b)->rej_auth, len - WIRE_OVERHEAD + 1);
	ck_assert_int_eq(wire_open(b, dg, len, &m), 0);
	wire_free(a);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

START_TEST(test_wrong_key_cluster_self)
{
	const uint8_t s1[] = {1}, s2[] = {2};
	wire_keyring *r1 = ring_of(s1, 1), *r2 = ring_of(s2, 1);
	wire *a = mk_wire(PEER_ID, 9, r1);
	wire *stranger = mk_wire(SELF_ID, 1, r2);
	wire *me = mk_wire(PEER_ID, 4, r1);    /* same id as the sender */
	wire_config cfg;
	wire *other_cluster;
	uint8_t dg[DG_CAP];
	size_t len = seal_ok(a, 1, (const uint8_t *)"hello", 5, dg);
	wire_msg m;

	wire_config_init(&cfg);
	cfg.sender_id = SELF_ID;
	cfg.cluster_tag = wire_cluster_tag("another-cluster");
	other_cluster = wire_with(&cfg, r1);
	ck_assert_int_eq(wire_open(stranger, dg, len, &m), CARTD_EKEY);
	ck_assert_uint_eq(wire_get_stats(stranger)->rej_key, 1);
	ck_assert_int_eq(wire_open(other_cluster, dg, len, &m), CARTD_ECLUSTER);
	ck_assert_uint_eq(wire_get_stats(other_cluster)->rej_cluster, 1);
	ck_assert_int_eq(wire_open(me, dg, len, &m), CARTD_ESELF);
	ck_assert_uint_eq(wire_get_stats(me)->rej_self, 1);
	wire_free(a);
	wire_free(stranger);
	wire_free(me);
	wire_free(other_cluster);
	wire_keyring_free(r1);
	wire_keyring_free(r2);
}
END_TEST

/* ---- replay ------------------------------------------------------------- */

START_TEST(test_replay_duplicate_and_reorder)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire *a = mk_wire(PEER_ID, 9, r), *b = mk_wire(SELF_ID, 1, r);
	uint8_t (*dg)[1300] = malloc(100 * sizeof(*dg));
	size_t len[100];
	wire_msg m;

	for (int i = 0; i < 100; i++) {
		uint8_t p[8];

		put_le(p, (uint64_t)i, 8);
		len[i] = seal_ok(a, 1, p, sizeof(p), dg[i]);
	}
	/* newest first, then the rest in a scrambled order: each once */
	for (int k = 0; k < 100; k++) {
		int i = k == 0 ? 99 : (k * 37) % 99;

		ck_assert_int_eq(wire_open(b, dg[i], len[i], &m), 0);
		ck_assert_uint_eq(m.seq, (uint64_t)i + 1);
		ck_assert_uint_eq(le64(m.payload), (uint64_t)i);
	}
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(wire_open(b, dg[i], len[i], &m), CARTD_EREPLAY);
	ck_assert_uint_eq(wire_get_stats(b)->rej_replay, 100);
	free(dg);
	wire_free(a);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

START_TEST(test_replay_too_old)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire *a = mk_wire(PEER_ID, 9, r), *b = mk_wire(SELF_ID, 1, r);
	enum { N = 2000 };
	uint8_t (*dg)[64] = malloc(N * sizeof(*dg));
	size_t len[N];
	wire_msg m;

	for (int i = 0; i < N; i++)
		len[i] = seal_ok(a, 1, (const uint8_t *)"x", 1, dg[i]);
	ck_assert_int_eq(wire_open(b, dg[N - 1], len[N - 1], &m), 0);   /* seq 2000 */
	/* seq s is judged while 2000 - s < WIRE_REPLAY_WINDOW (1024) */
	ck_assert_int_eq(wire_open(b, dg[975], len[975], &m), CARTD_EREPLAY);   /* 976 */
	ck_assert_int_eq(wire_open(b, dg[976], len[976], &m), 0);               /* 977 */
	ck_assert_int_eq(wire_open(b, dg[0], len[0], &m), CARTD_EREPLAY);
	ck_assert_int_eq(wire_open(b, dg[1500], len[1500], &m), 0);
	free(dg);
	wire_free(a);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

START_TEST(test_replay_epochs)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire *boot1 = mk_wire(PEER_ID, 9, r), *b = mk_wire(SELF_ID, 1, r);
	wire *boot2 = mk_wire(PEER_ID, 10, r);
	uint8_t d1[3][DG_CAP], d2[DG_CAP];
	size_t l1[3], l2;
	wire_msg m;

	for (int i = 0; i < 3; i++)
		l1[i] = seal_ok(boot1, 1, (const uint8_t *)"old", 3, d1[i]);
	l2 = seal_ok(boot2, 1, (const uint8_t *)"new", 3, d2);
	ck_assert_int_eq(wire_open(b, d1[0], l1[0], &m), 0);
	ck_assert_int_eq(wire_open(b, d1[1], l1[1], &m), 0);
	/* the restarted sender begins again at sequence 1 */
	ck_assert_int_eq(wire_open(b, d2, l2, &m), 0);
	ck_assert_uint_eq(m.seq, 1);
	ck_assert_uint_eq(m.boot_epoch, 10);
	/* the previous boot is over, even for a sequence never seen */
	ck_assert_int_eq(wire_open(b, d1[2], l1[2], &m), CARTD_EREPLAY);
	ck_assert_int_eq(wire_open(b, d2, l2, &m), CARTD_EREPLAY);
	wire_free(boot1);
	wire_free(boot2);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

START_TEST(test_forgery_does_not_move_window)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire *a = mk_wire(PEER_ID, 9, r), *b = mk_wire(SELF_ID, 1, r);
	uint8_t d1[DG_CAP], d2[DG_CAP], f[DG_CAP];
	size_t l1 = seal_ok(a, 1, (const uint8_t *)"one", 3, d1);
	size_t l2 = seal_ok(a, 1, (const uint8_t *)"two", 3, d2);
	wire_msg m;

	memcpy(f, d2, l2);
	put_le(f + 25, 5000, 8);           /* far ahead: would push seq 1 out */
	ck_assert_int_eq(wire_open(b, f, l2, &m), CARTD_EAUTH);
	memcpy(f, d2, l2);
	put_le(f + 21, 10, 4);             /* a newer epoch: would end epoch 9 */
	ck_assert_int_eq(wire_open(b, f, l2, &m), CARTD_EAUTH);
	memcpy(f, d2, l2);
	f[l2 - 1] ^= 1;                    /* bad tag on a fresh sequence */
	ck_assert_int_eq(wire_open(b, f, l2, &m), CARTD_EAUTH);
	ck_assert_int_eq(wire_open(b, d1, l1, &m), 0);
	ck_assert_int_eq(wire_open(b, d2, l2, &m), 0);
	ck_assert_mem_eq(m.payload, "two", 3);
	wire_free(a);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

START_TEST(test_replay_table)
{
	wire_replay *t = NULL;

	ck_assert_int_eq(wire_replay_new(0, &t), CARTD_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(wire_replay_new(4, &t), 0);
	ck_assert_int_eq(wire_replay_check(t, 1, 1, 0), CARTD_EREPLAY);
	/* a jump of many windows forgets everything below it */
	ck_assert_int_eq(wire_replay_check(t, 1, 1, 5), 0);
	ck_assert_int_eq(wire_replay_check(t, 1, 1, 5 + 64 * 1000), 0);
	ck_assert_int_eq(wire_replay_check(t, 1, 1, 5), CARTD_EREPLAY);
	for (uint64_t s = 5 + 64 * 1000 - 1; s > 5 + 64 * 1000 - WIRE_REPLAY_WINDOW; s--)
		ck_assert_int_eq(wire_replay_check(t, 1, 1, s), 0);
	ck_assert_int_eq(wire_replay_check(t, 1, 1, 5 + 64 * 1000 - WIRE_REPLAY_WINDOW),
			 CARTD_EREPLAY);
	/* every sequence of the window is now seen */
	for (uint64_t s = 5 + 64 * 1000; s > 5 + 64 * 1000 - WIRE_REPLAY_WINDOW; s--)
		ck_assert_int_eq(wire_replay_check(t, 1, 1, s), CARTD_EREPLAY);
	/* the last sequence there is */
	ck_assert_int_eq(wire_replay_check(t, 2, 1, UINT64_MAX), 0);
	ck_assert_int_eq(wire_replay_check(t, 2, 1, UINT64_MAX), CARTD_EREPLAY);
	ck_assert_int_eq(wire_replay_check(t, 2, 1, UINT64_MAX - 1023), 0);
	ck_assert_int_eq(wire_replay_check(t, 2, 1, UINT64_MAX - 1024), CARTD_EREPLAY);
	wire_replay_free(t);
}
END_TEST

START_TEST(test_replay_eviction)
{
	wire_replay *t = NULL;

	ck_assert_int_eq(wire_replay_new(4, &t), 0);
	for (uint64_t s = 1; s <= 4; s++)
		ck_assert_int_eq(wire_replay_check(t, s, 1, 1), 0);
	ck_assert_uint_eq(wire_replay_count(t), 4);
	ck_assert_int_eq(wire_replay_check(t, 1, 1, 2), 0);   /* 1 is fresh again */
	ck_assert_int_eq(wire_replay_check(t, 5, 1, 1), 0);   /* evicts 2 */
	ck_assert_uint_eq(wire_replay_count(t), 4);
	/* order, stalest first: 3 4 1 5.  Rejections refresh nobody. */
	ck_assert_int_eq(wire_replay_check(t, 1, 1, 1), CARTD_EREPLAY);
	ck_assert_int_eq(wire_replay_check(t, 3, 1, 1), CARTD_EREPLAY);
	/* 2 was forgotten, so its old sequence is news (the documented cost
	 * of a bounded table); it pushes out 3, then 3 pushes out 4, ... */
	ck_assert_int_eq(wire_replay_check(t, 2, 1, 1), 0);
	ck_assert_int_eq(wire_replay_check(t, 3, 1, 1), 0);
	ck_assert_int_eq(wire_replay_check(t, 4, 1, 1), 0);
	/* ... and 4 pushed out 1, while 5 2 3 4 are still remembered */
	ck_assert_int_eq(wire_replay_check(t, 5, 1, 1), CARTD_EREPLAY);
	ck_assert_int_eq(wire_replay_check(t, 2, 1, 1), CARTD_EREPLAY);
	ck_assert_int_eq(wire_replay_check(t, 3, 1, 1), CARTD_EREPLAY);
	ck_assert_int_eq(wire_replay_check(t, 4, 1, 1), CARTD_EREPLAY);
	ck_assert_int_eq(wire_replay_check(t, 1, 1, 1), 0);
	ck_assert_uint_eq(wire_replay_count(t), 4);
	wire_replay_free(t);
}
END_TEST

START_TEST(test_replay_many_senders)
{
	wire_replay *t = NULL;

	ck_assert_int_eq(wire_replay_new(1000, &t), 0);
	for (int round = 0; round < 3; round++)
		for (uint64_t s = 0; s < 1000; s++)
			ck_assert_int_eq(wire_replay_check(t, s * 0x100000000ull, 7,
							   (uint64_t)round + 1), 0);
	for (uint64_t s = 0; s < 1000; s++)
		ck_assert_int_eq(wire_replay_check(t, s * 0x100000000ull, 7, 2), CARTD_EREPLAY);
	ck_assert_uint_eq(wire_replay_count(t), 1000);
	/* 1000 newcomers push every old sender out */
	for (uint64_t s = 5000; s < 6000; s++)
		ck_assert_int_eq(wire_replay_check(t, s, 1, 1), 0);
	ck_assert_uint_eq(wire_replay_count(t), 1000);
	ck_assert_int_eq(wire_replay_check(t, 0, 7, 2), 0);
	wire_replay_free(t);
}
END_TEST

/* ---- limits and inflate ------------------------------------------------- */

START_TEST(test_decompression_bomb)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire_config cfg;
	wire *big, *b = mk_wire(SELF_ID, 1, r);
	size_t n = 512u << 10, len;
	uint8_t *p = calloc(1, n), dg[DG_CAP];
	wire_msg m;

	wire_config_init(&cfg);
	cfg.sender_id = PEER_ID;
	cfg.cluster_tag = tag_test();
	cfg.max_payload = 1u << 20;
	cfg.deflate_level = 9;   /* level 1 caps the ratio near 230:1 */
	big = wire_with(&cfg, r);
	len = seal_ok(big, 1, p, n, dg);   /* 512 KiB of zeros in one datagram */
	ck_assert_uint_le(len, 1200);
	ck_assert_int_eq(wire_open(b, dg, len, &m), CARTD_EINFLATE);
	len = seal_ok(big, 1, p, WIRE_MAX_PAYLOAD_DEFAULT + 1, dg);
	ck_assert_int_eq(wire_open(b, dg, len, &m), CARTD_EINFLATE);
	ck_assert_uint_eq(wire_get_stats(b)->rej_inflate, 2);
	len = seal_ok(big, 1, p, WIRE_MAX_PAYLOAD_DEFAULT, dg);   /* exactly the cap */
	ck_assert_int_eq(wire_open(b, dg, len, &m), 0);
	ck_assert_uint_eq(m.payload_len, WIRE_MAX_PAYLOAD_DEFAULT);
	free(p);
	wire_free(big);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

START_TEST(test_oversize_seal)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire *a = mk_wire(PEER_ID, 9, r), *b = mk_wire(SELF_ID, 1, r);
	size_t max_body = wire_max_body(a), len = 0;
	uint8_t *p = malloc(WIRE_MAX_PAYLOAD_DEFAULT + 1), dg[DG_CAP];
	wire_msg m;

	fill_random(p, max_body + 1, 4);
	ck_assert_int_eq(wire_seal(a, 1, p, max_body + 1, dg, DG_CAP, &len), CARTD_EOVERSIZE);
	ck_assert_uint_eq(len, 1201);          /* what it would have needed */
	memset(p, 'z', WIRE_MAX_PAYLOAD_DEFAULT + 1);
	ck_assert_int_eq(wire_seal(a, 1, p, WIRE_MAX_PAYLOAD_DEFAULT + 1, dg, DG_CAP, &len),
			 CARTD_EOVERSIZE);
	/* compressible text of 5 KiB deflates, but not enough: the exact
	 * deflated size is reported */
	fill_compressible(p, 5000, 2);
	fill_random(p + 1000, 1400, 5);
	ck_assert_int_eq(wire_seal(a, 1, p, 5000, dg, DG_CAP, &len), CARTD_EOVERSIZE);
	ck_assert_uint_gt(len, 1200);
	ck_assert_uint_lt(len, 5000 + 49);
	fill_random(p, max_body, 4);
	ck_assert_int_eq(wire_seal(a, 1, p, max_body, dg, 1199, &len), CARTD_ENOSPC);
	ck_assert_uint_eq(len, 1200);
	ck_assert_uint_eq(wire_get_stats(a)->sealed, 0);
	/* failures used no sequence: the first datagram is seq 1, max size */
	ck_assert_int_eq(wire_seal(a, 1, p, max_body, dg, 1200, &len), 0);
	ck_assert_uint_eq(len, 1200);
	ck_assert_uint_eq(le64(dg + 25), 1);
	ck_assert_int_eq(wire_open(b, dg, len, &m), 0);
	ck_assert_int_eq(wire_seal(a, 0, p, 1, dg, DG_CAP, &len), CARTD_EINVAL);
	ck_assert_int_eq(wire_seal(a, WIRE_TYPE_MAX + 1, p, 1, dg, DG_CAP, &len), CARTD_EINVAL);
	ck_assert_int_eq(wire_seal(a, WIRE_TYPE_MAX, NULL, 0, dg, DG_CAP, &len), 0);
	free(p);
	wire_free(a);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

START_TEST(test_oversize_open)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire_config cfg;
	wire *wide, *b = mk_wire(SELF_ID, 1, r);
	uint8_t p[1300], dg[DG_CAP];
	size_t len;
	wire_msg m;

	wire_config_init(&cfg);
	cfg.sender_id = PEER_ID;
	cfg.cluster_tag = tag_test();
	cfg.max_datagram = 1400;
	wide = wire_with(&cfg, r);
	fill_random(p, sizeof(p), 8);
	len = seal_ok(wide, 1, p, sizeof(p), dg);
	ck_assert_uint_eq(len, 1349);
	ck_assert_int_eq(wire_open(b, dg, len, &m), CARTD_EOVERSIZE);
	ck_assert_int_eq(wire_open(b, dg, 1201, &m), CARTD_EOVERSIZE);
	ck_assert_uint_eq(wire_get_stats(b)->rej_oversize, 2);
	ck_assert_int_eq(wire_open(b, dg, 1200, &m), CARTD_EAUTH);
	wire_free(wide);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

/* Raw-deflates src into dst (test-side, independent of wire.c). */
static size_t deflate_raw(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
	z_stream z;
	size_t out;

	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)n;
	z.next_out = dst;
	z.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	out = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

START_TEST(test_bad_deflate_bodies)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire *b = mk_wire(SELF_ID, 1, r);
	uint8_t key[WIRE_KEY_BYTES], p[500], z[600], dg[DG_CAP];
	size_t zl, len;
	uint64_t seq = 1;
	wire_msg m;

	key_of(key, 1);
	fill_compressible(p, sizeof(p), 9);
	zl = deflate_raw(p, sizeof(p), z, sizeof(z));
	/* control: a valid stream opens */
	len = hand_seal(key, WIRE_F_DEFLATE, PEER_ID, 9, seq++, z, zl, dg);
	ck_assert_int_eq(wire_open(b, dg, len, &m), 0);
	ck_assert_mem_eq(m.payload, p, sizeof(p));
	/* flag set on bytes that are not deflate */
	fill_random(z + 300, 200, 2);
	len = hand_seal(key, WIRE_F_DEFLATE, PEER_ID, 9, seq++, z + 300, 200, dg);
	ck_assert_int_eq(wire_open(b, dg, len, &m), CARTD_EINFLATE);
	zl = deflate_raw(p, sizeof(p), z, sizeof(z));
	/* truncated stream, trailing byte, empty body */
	len = hand_seal(key, WIRE_F_DEFLATE, PEER_ID, 9, seq++, z, zl - 1, dg);
	ck_assert_int_eq(wire_open(b, dg, len, &m), CARTD_EINFLATE);
	z[zl] = 0;
	len = hand_seal(key, WIRE_F_DEFLATE, PEER_ID, 9, seq++, z, zl + 1, dg);
	ck_assert_int_eq(wire_open(b, dg, len, &m), CARTD_EINFLATE);
	len = hand_seal(key, WIRE_F_DEFLATE, PEER_ID, 9, seq++, z, 0, dg);
	ck_assert_int_eq(wire_open(b, dg, len, &m), CARTD_EINFLATE);
	ck_assert_uint_eq(wire_get_stats(b)->rej_inflate, 4);
	/* a rejected payload still consumed its sequence: no retry by replay */
	len = hand_seal(key, WIRE_F_DEFLATE, PEER_ID, 9, 2, z + 300, 200, dg);
	ck_assert_int_eq(wire_open(b, dg, len, &m), CARTD_EREPLAY);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

START_TEST(test_deflate_off_and_config)
{
	const uint8_t seeds[] = {1};
	wire_keyring *r = ring_of(seeds, 1);
	wire_config cfg;
	wire *plain, *b = mk_wire(SELF_ID, 1, r), *w = (wire *)(uintptr_t)1;
	uint8_t p[1000], dg[DG_CAP];
	size_t len;
	wire_msg m;

	wire_config_init(&cfg);
	cfg.sender_id = PEER_ID;
	cfg.cluster_tag = tag_test();
	cfg.deflate_level = 0;
	plain = wire_with(&cfg, r);
	memset(p, 'a', sizeof(p));
	len = seal_ok(plain, 1, p, sizeof(p), dg);
	ck_assert_uint_eq(len, sizeof(p) + 49);
	ck_assert_uint_eq(dg[4], 0);
	ck_assert_int_eq(wire_open(b, dg, len, &m), 0);
	/* out-of-range configurations are refused, leaving *out NULL */
	cfg.deflate_level = 10;
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	ck_assert_ptr_null(w);
	wire_config_init(&cfg);
	cfg.max_datagram = WIRE_OVERHEAD;
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	cfg.max_datagram = WIRE_MAX_DATAGRAM_LIMIT + 1;
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	wire_config_init(&cfg);
	cfg.max_payload = cfg.max_datagram - WIRE_OVERHEAD - 1;
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	wire_config_init(&cfg);
	cfg.max_senders = 0;
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	wire_config_init(&cfg);
	ck_assert_int_eq(wire_new(&cfg, NULL, &w), CARTD_EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(wire_open(b, NULL, 5, &m), CARTD_EINVAL);
	wire_free(NULL);
	wire_free(plain);
	wire_free(b);
	wire_keyring_free(r);
}
END_TEST

/* ---- keyring ------------------------------------------------------------ */

static char *line_of(uint8_t seed, char buf[WIRE_KEY_LINE_MAX])
{
	uint8_t k[WIRE_KEY_BYTES];

	key_of(k, seed);
	ck_assert_int_eq(wire_key_format(k, buf, WIRE_KEY_LINE_MAX), 0);
	buf[WIRE_KEY_LINE_MAX - 2] = '\0';   /* drop the newline */
	return buf;
}

static int parse_str(const char *text, wire_keyring **out)
{
	return wire_keyring_parse(text, strlen(text), out);
}

START_TEST(test_keyring_parse)
{
	char l1[WIRE_KEY_LINE_MAX], l2[WIRE_KEY_LINE_MAX], l3[WIRE_KEY_LINE_MAX];
	char text[512];
	uint8_t k1[WIRE_KEY_BYTES], k3[WIRE_KEY_BYTES];
	wire_keyring *r = NULL;

	key_of(k1, 1);
	key_of(k3, 3);
	snprintf(text, sizeof(text),
		 "# cluster keys\n\n   %s  \r\n\t# old key below\n%s\r\n\n%s",
		 line_of(1, l1), line_of(2, l2), line_of(3, l3));
	ck_assert_int_eq(parse_str(text, &r), 0);
	ck_assert_uint_eq(wire_keyring_count(r), 3);
	ck_assert_uint_eq(wire_keyring_primary_id(r), wire_key_id(k1));
	ck_assert_mem_eq(wire_keyring_primary(r, NULL), k1, WIRE_KEY_BYTES);
	ck_assert_mem_eq(wire_keyring_find(r, wire_key_id(k3)), k3, WIRE_KEY_BYTES);
	ck_assert_ptr_null(wire_keyring_find(r, wire_key_id(k3) ^ 1));
	wire_keyring_free(r);
	wire_keyring_free(NULL);
}
END_TEST

START_TEST(test_keyring_rejects)
{
	char l1[WIRE_KEY_LINE_MAX], l2[WIRE_KEY_LINE_MAX], text[2048];
	uint8_t raw[33];
	char b64[64];
	wire_keyring *r = (wire_keyring *)(uintptr_t)1;
	size_t off = 0;

	line_of(1, l1);
	line_of(2, l2);
	snprintf(text, sizeof(text), "%s\n%s\n%s\n", l1, l2, l1);   /* duplicate */
	ck_assert_int_eq(parse_str(text, &r), CARTD_EKEYRING);
	ck_assert_ptr_null(r);
	snprintf(text, sizeof(text), "%s\n", l1);
	text[10] = '!';                                             /* bad base64 */
	ck_assert_int_eq(parse_str(text, &r), CARTD_EKEYRING);
	snprintf(text, sizeof(text), "%s # primary\n", l1);       /* trailing junk */
	ck_assert_int_eq(parse_str(text, &r), CARTD_EKEYRING);
	snprintf(text, sizeof(text), "%.43s\n", l1);               /* padding gone */
	ck_assert_int_eq(parse_str(text, &r), CARTD_EKEYRING);
	fill_random(raw, sizeof(raw), 1);
	sodium_bin2base64(b64, sizeof(b64), raw, 31, sodium_base64_VARIANT_ORIGINAL);
	ck_assert_int_eq(parse_str(b64, &r), CARTD_EKEYRING);       /* 31 bytes */
	sodium_bin2base64(b64, sizeof(b64), raw, 33, sodium_base64_VARIANT_ORIGINAL);
	ck_assert_int_eq(parse_str(b64, &r), CARTD_EKEYRING);       /* 33 bytes */
	ck_assert_int_eq(parse_str("", &r), CARTD_EKEYRING);
	ck_assert_int_eq(parse_str("# nothing here\n\n  \n", &r), CARTD_EKEYRING);
	ck_assert_int_eq(wire_keyring_parse(l1, 20, &r), CARTD_EKEYRING);  /* cut */
	memcpy(text, l1, 44);
	text[5] = '\0';                                             /* NUL inside */
	ck_assert_int_eq(wire_keyring_parse(text, 44, &r), CARTD_EKEYRING);
	for (unsigned i = 0; i <= WIRE_KEYRING_MAX; i++) {
		char l[WIRE_KEY_LINE_MAX];

		line_of((uint8_t)(i + 10), l);
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s\n", l);
	}
	ck_assert_int_eq(parse_str(text, &r), CARTD_EKEYRING);      /* 33 keys */
	ck_assert_ptr_null(r);
	text[off - WIRE_KEY_LINE_MAX + 1] = '\0';                   /* 32 keys */
	ck_assert_int_eq(parse_str(text, &r), 0);
	ck_assert_uint_eq(wire_keyring_count(r), WIRE_KEYRING_MAX);
	wire_keyring_free(r);
	ck_assert_int_eq(wire_keyring_parse(NULL, 0, &r), CARTD_EKEYRING);
	ck_assert_int_eq(wire_keyring_parse("x", 1, NULL), CARTD_EINVAL);
}
END_TEST

START_TEST(test_keyring_rotation)
{
	const uint8_t s1[] = {1}, s21[] = {2, 1}, s12[] = {1, 2}, s9[] = {9};
	wire_keyring *a_old = ring_of(s1, 1), *a_new = ring_of(s21, 2);
	wire_keyring *b_ring = ring_of(s21, 2), *b_later = ring_of(s12, 2);
	wire_keyring *stranger = ring_of(s9, 1);
	wire *a = mk_wire(PEER_ID, 9, a_old), *b = mk_wire(SELF_ID, 1, b_ring);
	wire *c = mk_wire(SELF_ID + 1, 1, stranger);
	uint8_t dg[DG_CAP];
	size_t len;
	wire_msg m;

	/* step 1: A still sends with key1; B already holds [key2, key1] */
	len = seal_ok(a, 1, (const uint8_t *)"k1", 2, dg);
	ck_assert_uint_eq(le32(dg + 5), wire_keyring_primary_id(a_old));
	ck_assert_int_eq(wire_open(b, dg, len, &m), 0);
	ck_assert_int_eq(wire_open(c, dg, len, &m), CARTD_EKEY);
	/* step 2: A reloads [key2, key1] and sends with key2; B, on an older
	 * ordering [key1, key2], still accepts */
	wire_set_keyring(a, a_new);
	wire_set_keyring(b, b_later);
	wire_keyring_free(b_ring);   /* the old ring may go once replaced */
	len = seal_ok(a, 1, (const uint8_t *)"k2", 2, dg);
	ck_assert_uint_eq(le32(dg + 5), wire_keyring_primary_id(a_new));
	ck_assert_uint_ne(le32(dg + 5), wire_keyring_primary_id(a_old));
	ck_assert_int_eq(wire_open(b, dg, len, &m), 0);
	ck_assert_mem_eq(m.payload, "k2", 2);
	ck_assert_int_eq(wire_open(c, dg, len, &m), CARTD_EKEY);
	ck_assert_uint_eq(wire_get_stats(c)->rej_key, 2);
	ck_assert_uint_eq(wire_get_stats(b)->opened, 2);
	wire_free(a);
	wire_free(b);
	wire_free(c);
	wire_keyring_free(a_old);
	wire_keyring_free(a_new);
	wire_keyring_free(b_later);
	wire_keyring_free(stranger);
}
END_TEST

START_TEST(test_keygen_roundtrip)
{
	char t1[WIRE_KEYRING_TEXT_MAX], t2[WIRE_KEYRING_TEXT_MAX];
	char line[WIRE_KEY_LINE_MAX];
	wire_keyring *r1 = NULL, *r2 = NULL;

	ck_assert_int_eq(wire_keyring_generate(t1, sizeof(t1)), 0);
	ck_assert_int_eq(wire_keyring_generate(t2, sizeof(t2)), 0);
	ck_assert_ptr_nonnull(strchr(t1, '#'));
	ck_assert_int_eq(parse_str(t1, &r1), 0);
	ck_assert_int_eq(parse_str(t2, &r2), 0);
	ck_assert_uint_eq(wire_keyring_count(r1), 1);
	ck_assert_uint_ne(wire_keyring_primary_id(r1), wire_keyring_primary_id(r2));
	/* formatting the parsed key gives back the generated line */
	ck_assert_int_eq(wire_key_format(wire_keyring_primary(r1, NULL), line, sizeof(line)), 0);
	ck_assert_ptr_nonnull(strstr(t1, line));
	ck_assert_int_eq(wire_key_format(wire_keyring_primary(r1, NULL), line, 45), CARTD_ENOSPC);
	ck_assert_int_eq(wire_keyring_generate(t2, 100), CARTD_ENOSPC);
	wire_keyring_free(r1);
	wire_keyring_free(r2);
}
END_TEST

Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("framing");
	TCase *tr = tcase_create("replay");
	TCase *tk = tcase_create("keyring");

	tcase_set_timeout(tc, 120);
	tcase_set_timeout(tr, 60);
	tcase_set_timeout(tk, 60);
	tcase_add_test(tc, test_roundtrip_sizes);
	tcase_add_test(tc, test_header_layout_matches_spec);
	tcase_add_test(tc, test_cluster_tag);
	tcase_add_test(tc, test_flip_raw);
	tcase_add_test(tc, test_flip_deflated);
	tcase_add_test(tc, test_truncation_and_extension);
	tcase_add_test(tc, test_wrong_key_cluster_self);
	tcase_add_test(tc, test_decompression_bomb);
	tcase_add_test(tc, test_oversize_seal);
	tcase_add_test(tc, test_oversize_open);
	tcase_add_test(tc, test_bad_deflate_bodies);
	tcase_add_test(tc, test_deflate_off_and_config);
	tcase_add_test(tr, test_replay_duplicate_and_reorder);
	tcase_add_test(tr, test_replay_too_old);
	tcase_add_test(tr, test_replay_epochs);
	tcase_add_test(tr, test_forgery_does_not_move_window);
	tcase_add_test(tr, test_replay_table);
	tcase_add_test(tr, test_replay_eviction);
	tcase_add_test(tr, test_replay_many_senders);
	tcase_add_test(tk, test_keyring_parse);
	tcase_add_test(tk, test_keyring_rejects);
	tcase_add_test(tk, test_keyring_rotation);
	tcase_add_test(tk, test_keygen_roundtrip);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tr);
	suite_add_tcase(s, tk);
	return s;
}
