/*
 * check_wire.c - tests of the datagram layer: net/wire (sessions,
 * handshake, sealing, opening) and net/replay.  Keyring tests are in
 * check_keyring.c.
 *
 * Datagrams are also built by hand here (hand_seal, spec_key), straight
 * from the byte layout and key schedule in docs/protocol.md, so the format
 * is checked against its specification and not only against itself.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zlib.h>

#include "crdt/error.h"
#include "net/keyring.h"
#include "net/replay.h"
#include "net/wire.h"
#include "tests/test_alloc.h"
#include "tests/test_wire.h"

Suite *wire_suite(void);

#define DG_CAP 4096u

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

static size_t seal_ok(tw_peer *a, const tw_peer *b, uint8_t type, const uint8_t *p, size_t n,
		      uint8_t *out)
{
	size_t len = 0;

	ck_assert_int_eq(wire_seal(a->w, tw_id(b), type, p, n, out, DG_CAP, &len), 0);
	ck_assert_uint_ge(len, WIRE_OVERHEAD);
	return len;
}

/* Seals body exactly as docs/protocol.md describes, bypassing wire.c. */
static size_t hand_seal(const uint8_t key[32], uint8_t flags, const wire_hdr_spec *h,
			const uint8_t *body, size_t blen, uint8_t *out)
{
	uint8_t nonce[24] = {0};
	unsigned long long clen = 0;

	out[0] = 'C';
	out[1] = 'T';
	out[2] = 4;
	out[3] = 7;
	out[4] = flags;
	put_le(out + 5, tw_tag(), 4);
	put_le(out + 9, h->sender, 8);
	put_le(out + 17, h->receiver, 8);
	put_le(out + 25, h->sender_epoch, 4);
	put_le(out + 29, h->receiver_epoch, 4);
	put_le(out + 33, h->seq, 8);
	put_le(nonce, h->seq, 8);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 41, &clen, body, blen,
						   out, 41, NULL, nonce, key);
	return 41 + (size_t)clen;
}

/* What the receive order of docs/protocol.md predicts for an intact
 * length (not a HELLO's) and this (possibly damaged) header, at receiver
 * b holding one session, with a, when the body does not authenticate. */
static int predicted(const uint8_t *h, const tw_peer *a, const tw_peer *b)
{
	if (h[0] != 'C' || h[1] != 'T')
		return CARTD_EHEADER;
	if (h[2] != 4)
		return CARTD_EVERSION;
	if (h[3] == 0 || h[3] > 15 || le64(h + 33) == 0 || le64(h + 9) == 0)
		return CARTD_EHEADER;
	if (h[3] != 15 && (h[4] & 0xfe) != 0)
		return CARTD_EHEADER;
	if (le32(h + 5) != tw_tag())
		return CARTD_ECLUSTER;
	if (le64(h + 9) == tw_id(b))
		return CARTD_ESELF;
	if (h[3] == 15)
		return CARTD_EHEADER;   /* not a HELLO's length */
	if (le64(h + 17) != tw_id(b))
		return CARTD_ERECEIVER;
	if (le32(h + 29) != b->epoch)
		return CARTD_EEPOCH;
	if (le64(h + 9) != tw_id(a))
		return CARTD_ESESSION;
	if (le32(h + 25) != a->epoch)
		return CARTD_EEPOCH;
	return CARTD_EAUTH;
}

static uint64_t rejections(const wire_stats *s)
{
	return s->rej_header + s->rej_version + s->rej_cluster + s->rej_self +
	       s->rej_receiver + s->rej_cert + s->rej_revoked + s->rej_session +
	       s->rej_epoch + s->rej_jump + s->rej_auth + s->rej_replay +
	       s->rej_oversize + s->rej_inflate;
}

/* ---- round trips -------------------------------------------------------- */

static void roundtrip(tw_peer *a, tw_peer *b, const uint8_t *p, size_t n, int expect_deflate)
{
	uint8_t dg[DG_CAP];
	wire_msg m;
	size_t len = seal_ok(a, b, 3, p, n, dg);

	if (expect_deflate >= 0)
		ck_assert_int_eq(dg[4] & WIRE_F_DEFLATE, expect_deflate);
	if (dg[4] & WIRE_F_DEFLATE)
		ck_assert_uint_lt(len, n + WIRE_OVERHEAD);
	ck_assert_int_eq(wire_open(b->w, dg, len, &m), 0);
	ck_assert_uint_eq(m.type, 3);
	ck_assert_uint_eq(m.sender_id, tw_id(a));
	ck_assert_uint_eq(m.boot_epoch, a->epoch);
	ck_assert_uint_eq(m.payload_len, n);
	ck_assert_ptr_nonnull(m.payload);
	if (n > 0)
		ck_assert_mem_eq(m.payload, p, n);
}

START_TEST(test_roundtrip_sizes)
{
	tw_peer a, b;
	uint8_t *p = malloc(WIRE_MAX_PAYLOAD_DEFAULT);
	size_t max_body;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&a, &b);
	max_body = wire_max_body(a.w);
	ck_assert_uint_eq(max_body, 1200 - 57);
	for (size_t n = 0; n <= max_body; n++) {
		fill_random(p, n, (uint8_t)n);
		roundtrip(&a, &b, p, n, 0);   /* random bytes never deflate smaller */
		fill_compressible(p, n, (unsigned)n);
		roundtrip(&a, &b, p, n, n >= 128 ? 1 : -1);
	}
	/* compressible payloads far larger than a datagram, up to the cap */
	for (size_t n = 2048; n <= WIRE_MAX_PAYLOAD_DEFAULT; n *= 2) {
		memset(p, 'x', n);
		roundtrip(&a, &b, p, n, 1);
		roundtrip(&b, &a, p, n, 1);   /* and the other direction */
	}
	ck_assert_uint_eq(rejections(wire_get_stats(b.w)), 0);
	free(p);
	tw_free(&a);
	tw_free(&b);
}
END_TEST

/* One payload packed once and sealed for two peers: each opens it under its
 * own key and sequence, as push sends a delta to every live peer; and a
 * packed payload too big for a datagram is refused per seal, as wire_seal
 * refuses it. */
START_TEST(test_pack_once_seal_each)
{
	tw_peer a, b, c;
	uint8_t p[900], dg_b[DG_CAP], dg_c[DG_CAP];
	size_t lb = 0, lc = 0;
	wire_packed pk;
	wire_msg m;

	tw_make(&a, 1, 30, 3, NULL);
	tw_make(&b, 1, 31, 4, NULL);
	tw_make(&c, 1, 32, 5, NULL);
	tw_shake(&a, &b);
	tw_shake(&a, &c);
	fill_compressible(p, sizeof(p), 7);
	ck_assert_int_eq(wire_pack(a.w, p, sizeof(p), &pk), 0);
	ck_assert(pk.deflated);
	ck_assert_uint_lt(pk.len, sizeof(p));
	ck_assert_uint_eq(pk.raw_len, sizeof(p));
	ck_assert_int_eq(wire_seal_packed(a.w, tw_id(&b), 5, &pk, dg_b, DG_CAP, &lb), 0);
	ck_assert_int_eq(wire_seal_packed(a.w, tw_id(&c), 5, &pk, dg_c, DG_CAP, &lc), 0);
	ck_assert_uint_eq(lb, pk.len + WIRE_OVERHEAD);
	ck_assert_uint_eq(lc, lb);
	ck_assert_uint_ne(le64(dg_b + 33), le64(dg_c + 33));   /* a sequence each */
	ck_assert_int_eq(wire_open(c.w, dg_b, lb, &m), CARTD_ERECEIVER);   /* b's, not c's */
	ck_assert_int_eq(wire_open(b.w, dg_b, lb, &m), 0);
	ck_assert_uint_eq(m.payload_len, sizeof(p));
	ck_assert_mem_eq(m.payload, p, sizeof(p));
	ck_assert_int_eq(wire_open(c.w, dg_c, lc, &m), 0);
	ck_assert_uint_eq(m.payload_len, sizeof(p));
	ck_assert_mem_eq(m.payload, p, sizeof(p));
	ck_assert_uint_eq(wire_get_stats(a.w)->sealed_deflated, 2);

	fill_random(p, sizeof(p), 9);   /* random: does not deflate, too big */
	size_t before = wire_get_stats(a.w)->sealed;
	ck_assert_int_eq(wire_pack(a.w, p, sizeof(p), &pk), 0);
	ck_assert(!pk.deflated && pk.body == p);
	pk.len = wire_max_body(a.w) + 1;
	ck_assert_int_eq(wire_seal_packed(a.w, tw_id(&b), 5, &pk, dg_b, DG_CAP, &lb),
			 CARTD_EOVERSIZE);
	ck_assert_uint_eq(lb, pk.len + WIRE_OVERHEAD);
	ck_assert_int_eq(wire_seal_packed(a.w, 999, 5, &pk, dg_b, DG_CAP, &lb), CARTD_ESESSION);
	ck_assert_uint_eq(wire_get_stats(a.w)->sealed, before);
	ck_assert_int_eq(wire_pack(a.w, NULL, 1, &pk), CARTD_EINVAL);
	tw_free(&a);
	tw_free(&b);
	tw_free(&c);
}
END_TEST

START_TEST(test_header_layout_matches_spec)
{
	tw_peer a, b;
	uint8_t key[32], p[300], dg[DG_CAP], ref[DG_CAP];
	size_t len;

	tw_make(&a, 1, 20, 0xa1b2c3d4u, NULL);
	tw_make(&b, 1, 21, 7, NULL);
	tw_shake(&a, &b);
	tw_spec_key(&a, &b, key);
	fill_random(p, sizeof(p), 1);
	for (int i = 0; i < 3; i++) {
		len = seal_ok(&a, &b, 7, p, sizeof(p), dg);
		ck_assert_uint_eq(len, sizeof(p) + 57);
		wire_hdr_spec h = { tw_id(&a), tw_id(&b), a.epoch, b.epoch, le64(dg + 33) };
		ck_assert(hand_seal(key, 0, &h, p, sizeof(p), ref) == len);
		ck_assert_mem_eq(dg, ref, len);   /* byte-identical to the spec */
	}
	ck_assert_uint_eq(dg[0], 'C');
	ck_assert_uint_eq(dg[1], 'T');
	ck_assert_uint_eq(dg[2], WIRE_VERSION);
	ck_assert_uint_eq(WIRE_VERSION, 4);
	ck_assert_uint_eq(le32(dg + 5), tw_tag());
	ck_assert_uint_eq(le64(dg + 9), tw_id(&a));
	ck_assert_uint_eq(le64(dg + 17), tw_id(&b));
	ck_assert_uint_eq(le32(dg + 25), 0xa1b2c3d4u);
	ck_assert_uint_eq(le32(dg + 29), 7);
	ck_assert_uint_eq(wire_overhead(), 57);
	ck_assert_uint_eq(wire_sealed_size(10), 67);
	ck_assert_uint_eq(WIRE_HELLO_LEN, 281);
	/* the reverse direction has its own key */
	uint8_t back[32];
	tw_spec_key(&b, &a, back);
	ck_assert(memcmp(key, back, 32) != 0);
	tw_free(&a);
	tw_free(&b);
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
	tw_peer a, b;
	uint8_t p[600], dg[DG_CAP], bad[DG_CAP];
	size_t len, tries = 0;
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&a, &b);
	if (compressible)
		fill_compressible(p, sizeof(p), 3);
	else
		fill_random(p, sizeof(p), 3);
	len = seal_ok(&a, &b, 2, p, sizeof(p), dg);
	ck_assert_int_eq(dg[4], compressible ? WIRE_F_DEFLATE : 0);
	const wire_stats *st = wire_get_stats(b.w);
	uint64_t before = rejections(st);
	for (size_t i = 0; i < len; i++, tries++) {
		memcpy(bad, dg, len);
		bad[i] ^= 0xff;
		ck_assert_int_eq(wire_open(b.w, bad, len, &m),
				 i < 41 ? predicted(bad, &a, &b) : CARTD_EAUTH);
	}
	for (size_t bit = 0; bit < 41 * 8; bit++, tries++) {
		memcpy(bad, dg, len);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(wire_open(b.w, bad, len, &m), predicted(bad, &a, &b));
	}
	/* the predictions cover every cause, not just EAUTH */
	ck_assert_uint_gt(st->rej_header, 0);
	ck_assert_uint_gt(st->rej_version, 0);
	ck_assert_uint_gt(st->rej_cluster, 0);
	ck_assert_uint_gt(st->rej_receiver, 0);
	ck_assert_uint_gt(st->rej_session, 0);
	ck_assert_uint_gt(st->rej_epoch, 0);
	ck_assert_uint_gt(st->rej_auth, 0);
	ck_assert_uint_eq(rejections(st) - before, tries);
	/* no forgery moved the window: the original still opens, once */
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	ck_assert_mem_eq(m.payload, p, sizeof(p));
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EREPLAY);
	tw_free(&a);
	tw_free(&b);
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
	tw_peer a, b;
	uint8_t p[400], dg[DG_CAP], *cut;
	size_t len;
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&a, &b);
	uint64_t hdr0 = wire_get_stats(b.w)->rej_header;
	fill_compressible(p, sizeof(p), 1);
	len = seal_ok(&a, &b, 2, p, sizeof(p), dg);
	for (size_t n = 0; n < len; n++) {
		/* an exact-size heap copy lets ASan catch any read past n */
		cut = malloc(n > 0 ? n : 1);
		memcpy(cut, dg, n);
		ck_assert_int_eq(wire_open(b.w, n > 0 ? cut : NULL, n, &m),
				 n < WIRE_OVERHEAD ? CARTD_EHEADER : CARTD_EAUTH);
		free(cut);
	}
	dg[len] = 0;
	ck_assert_int_eq(wire_open(b.w, dg, len + 1, &m), CARTD_EAUTH);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_header - hdr0, WIRE_OVERHEAD);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_auth, len - WIRE_OVERHEAD + 1);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	tw_free(&a);
	tw_free(&b);
}
END_TEST

/* ---- who may open what -------------------------------------------------- */

START_TEST(test_cross_pair_and_cluster)
{
	tw_peer a, b, c, stranger;
	uint8_t dg[DG_CAP], f[DG_CAP], hello[WIRE_HELLO_LEN];
	wire_config cfg;
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_make(&c, 1, 12, 1, NULL);
	tw_make(&stranger, 2, 13, 1, NULL);   /* another cluster key, same tag */
	tw_shake(&a, &b);
	tw_shake(&a, &c);
	size_t len = seal_ok(&a, &b, 1, (const uint8_t *)"hello", 5, dg);
	/* what a sealed for b is refused at c, also with the receiver rewritten */
	ck_assert_int_eq(wire_open(c.w, dg, len, &m), CARTD_ERECEIVER);
	memcpy(f, dg, len);
	put_le(f + 17, tw_id(&c), 8);
	put_le(f + 29, c.epoch, 4);
	ck_assert_int_eq(wire_open(c.w, f, len, &m), CARTD_EAUTH);
	ck_assert_uint_eq(wire_get_stats(c.w)->rej_receiver, 1);
	/* a sender opening its own datagram: a reflection */
	ck_assert_int_eq(wire_open(a.w, dg, len, &m), CARTD_ESELF);
	/* a peer of another cluster key: its HELLO is refused, and it holds no
	 * session to open anything with */
	size_t hl = tw_hello(&stranger, &b, WIRE_F_WANT_REPLY, hello);
	ck_assert_int_eq(wire_open(b.w, hello, hl, &m), CARTD_ECERT);
	hl = tw_hello(&b, &stranger, WIRE_F_WANT_REPLY, hello);
	ck_assert_int_eq(wire_open(stranger.w, hello, hl, &m), CARTD_ECERT);
	ck_assert_int_eq(wire_open(stranger.w, dg, len, &m), CARTD_ERECEIVER);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_cert, 1);
	/* another cluster name: dropped on the tag */
	wire_config_init(&cfg);
	tw_peer other;
	tw_make(&other, 1, 14, 1, &cfg);
	memcpy(f, dg, len);
	put_le(f + 5, wire_cluster_tag("another"), 4);
	ck_assert_int_eq(wire_open(b.w, f, len, &m), CARTD_ECLUSTER);
	/* b still opens the original */
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	ck_assert_mem_eq(m.payload, "hello", 5);
	tw_free(&a);
	tw_free(&b);
	tw_free(&c);
	tw_free(&stranger);
	tw_free(&other);
}
END_TEST

/* A peer whose keys were stolen can speak as itself only: a datagram
 * claiming another sender does not open under that sender's key, and a
 * HELLO with its certificate under another id is refused. */
START_TEST(test_no_impersonation)
{
	tw_peer a, b, thief;
	uint8_t key[32], dg[DG_CAP], hello[WIRE_HELLO_LEN];
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_make(&thief, 1, 12, 1, NULL);
	tw_shake(&a, &b);
	tw_shake(&thief, &b);
	tw_spec_key(&thief, &b, key);   /* everything the thief can have */
	wire_hdr_spec h = { tw_id(&a), tw_id(&b), a.epoch, b.epoch, 5000 };
	size_t len = hand_seal(key, 0, &h, (const uint8_t *)"x", 1, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EAUTH);
	h.sender = tw_id(&thief);
	h.sender_epoch = thief.epoch;
	len = hand_seal(key, 0, &h, (const uint8_t *)"x", 1, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);   /* as itself: fine */
	/* its HELLO relabelled with a's id, or with a's epoch pushed far */
	size_t hl = tw_hello(&thief, &b, 0, hello);
	put_le(hello + 9, tw_id(&a), 8);
	ck_assert_int_eq(wire_open(b.w, hello, hl, &m), CARTD_ECERT);
	hl = tw_hello(&a, &b, 0, hello);
	put_le(hello + 25, UINT32_MAX, 4);
	ck_assert_int_eq(wire_open(b.w, hello, hl, &m), CARTD_EAUTH);
	ck_assert_uint_eq(wire_session_epoch(b.w, tw_id(&a)), 9);
	tw_free(&a);
	tw_free(&b);
	tw_free(&thief);
}
END_TEST

/* ---- replay ------------------------------------------------------------- */

START_TEST(test_replay_duplicate_and_reorder)
{
	tw_peer a, b;
	uint8_t (*dg)[1300] = malloc(100 * sizeof(*dg));
	size_t len[100];
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&a, &b);
	for (int i = 0; i < 100; i++) {
		uint8_t p[8];

		put_le(p, (uint64_t)i, 8);
		len[i] = seal_ok(&a, &b, 1, p, sizeof(p), dg[i]);
	}
	/* newest first, then the rest in a scrambled order: each once */
	for (int k = 0; k < 100; k++) {
		int i = k == 0 ? 99 : (k * 37) % 99;

		ck_assert_int_eq(wire_open(b.w, dg[i], len[i], &m), 0);
		ck_assert_uint_eq(le64(m.payload), (uint64_t)i);
	}
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(wire_open(b.w, dg[i], len[i], &m), CARTD_EREPLAY);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_replay, 100);
	free(dg);
	tw_free(&a);
	tw_free(&b);
}
END_TEST

START_TEST(test_replay_too_old)
{
	tw_peer a, b;
	enum { N = 2000 };
	uint8_t (*dg)[80] = malloc(N * sizeof(*dg));
	size_t len[N];
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&a, &b);
	for (int i = 0; i < N; i++)
		len[i] = seal_ok(&a, &b, 1, (const uint8_t *)"x", 1, dg[i]);
	uint64_t top = le64(dg[N - 1] + 33);
	ck_assert_int_eq(wire_open(b.w, dg[N - 1], len[N - 1], &m), 0);
	/* seq s is judged while top - s < WIRE_REPLAY_WINDOW (1024) */
	int old = (int)(N - 1 - WIRE_REPLAY_WINDOW);
	ck_assert_uint_eq(top - le64(dg[old] + 33), WIRE_REPLAY_WINDOW);
	ck_assert_int_eq(wire_open(b.w, dg[old], len[old], &m), CARTD_EREPLAY);
	ck_assert_int_eq(wire_open(b.w, dg[old + 1], len[old + 1], &m), 0);
	ck_assert_int_eq(wire_open(b.w, dg[0], len[0], &m), CARTD_EREPLAY);
	ck_assert_int_eq(wire_open(b.w, dg[1500], len[1500], &m), 0);
	free(dg);
	tw_free(&a);
	tw_free(&b);
}
END_TEST

/* A restart on either side ends the old session: its datagrams are
 * refused, and a new handshake gives a session that works. */
START_TEST(test_restarts)
{
	tw_peer a1, a2, b1, b2;
	uint8_t d1[3][DG_CAP], d2[DG_CAP], h1[WIRE_HELLO_LEN];
	size_t l1[3], l2;
	wire_msg m;

	tw_make(&a1, 1, 10, 9, NULL);
	tw_make(&b1, 1, 11, 1, NULL);
	size_t hl = tw_hello(&a1, &b1, WIRE_F_WANT_REPLY, h1);
	tw_shake(&a1, &b1);
	for (int i = 0; i < 3; i++)
		l1[i] = seal_ok(&a1, &b1, 1, (const uint8_t *)"old", 3, d1[i]);
	ck_assert_int_eq(wire_open(b1.w, d1[0], l1[0], &m), 0);
	/* a restarts (epoch 10) */
	tw_make(&a2, 1, 10, 10, NULL);
	tw_shake(&a2, &b1);
	ck_assert_uint_eq(wire_session_epoch(b1.w, tw_id(&a2)), 10);
	ck_assert_int_eq(wire_open(b1.w, d1[1], l1[1], &m), CARTD_EEPOCH);
	/* the old boot's HELLO, replayed, does not bring it back */
	ck_assert_int_eq(wire_open(b1.w, h1, hl, &m), CARTD_EEPOCH);
	l2 = seal_ok(&a2, &b1, 1, (const uint8_t *)"new", 3, d2);
	ck_assert_int_eq(wire_open(b1.w, d2, l2, &m), 0);
	ck_assert_uint_eq(m.boot_epoch, 10);
	ck_assert_int_eq(wire_open(b1.w, d2, l2, &m), CARTD_EREPLAY);
	/* b restarts (epoch 2): what a2 sealed for b's old boot is refused */
	l2 = seal_ok(&a2, &b1, 1, (const uint8_t *)"new", 3, d2);
	tw_make(&b2, 1, 11, 2, NULL);
	ck_assert_int_eq(wire_open(b2.w, d2, l2, &m), CARTD_EEPOCH);
	tw_shake(&b2, &a2);
	ck_assert_int_eq(wire_open(b2.w, d2, l2, &m), CARTD_EEPOCH);
	ck_assert_uint_eq(wire_get_stats(b2.w)->rej_epoch, 2);
	/* a sender b2 never shook hands with */
	tw_peer c;
	tw_make(&c, 1, 12, 1, NULL);
	tw_shake(&c, &b1);
	l2 = seal_ok(&c, &b1, 1, (const uint8_t *)"c", 1, d2);
	put_le(d2 + 29, b2.epoch, 4);   /* even aimed at b2's boot */
	ck_assert_int_eq(wire_open(b2.w, d2, l2, &m), CARTD_ESESSION);
	tw_free(&c);
	l2 = seal_ok(&a2, &b2, 1, (const uint8_t *)"now", 3, d2);
	ck_assert_int_eq(wire_open(b2.w, d2, l2, &m), 0);
	tw_free(&a1);
	tw_free(&a2);
	tw_free(&b1);
	tw_free(&b2);
}
END_TEST

/* Epoch and sequence jumps beyond the bounds are refused, and leave the
 * session working. */
START_TEST(test_jump_bounds)
{
	tw_peer a, b, far, near;
	uint8_t key[32], dg[DG_CAP];
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&a, &b);
	size_t len = seal_ok(&a, &b, 1, (const uint8_t *)"x", 1, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	uint64_t top = le64(dg + 33);
	tw_spec_key(&a, &b, key);
	wire_hdr_spec h = { tw_id(&a), tw_id(&b), a.epoch, b.epoch, top + WIRE_SEQ_JUMP_MAX + 1 };
	len = hand_seal(key, 0, &h, (const uint8_t *)"y", 1, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EJUMP);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_jump, 1);
	h.seq = top + WIRE_SEQ_JUMP_MAX;
	len = hand_seal(key, 0, &h, (const uint8_t *)"y", 1, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	/* a boot more than WIRE_EPOCH_JUMP_MAX ahead is refused; one at the
	 * bound is a restart */
	uint8_t hello[WIRE_HELLO_LEN];
	tw_make(&far, 1, 10, 9 + WIRE_EPOCH_JUMP_MAX + 1, NULL);
	size_t hl = tw_hello(&far, &b, 0, hello);
	ck_assert_int_eq(wire_open(b.w, hello, hl, &m), CARTD_EEPOCH);
	ck_assert_uint_eq(wire_session_epoch(b.w, tw_id(&a)), 9);
	h.seq++;
	len = hand_seal(key, 0, &h, (const uint8_t *)"z", 1, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	tw_make(&near, 1, 10, 9 + WIRE_EPOCH_JUMP_MAX, NULL);
	hl = tw_hello(&near, &b, 0, hello);
	ck_assert_int_eq(wire_open(b.w, hello, hl, &m), 0);
	/* the same epoch with another nonce: two boots claiming one epoch */
	tw_peer twin;
	wire_config cfg;
	wire_config_init(&cfg);
	tw_make(&twin, 1, 10, 9 + WIRE_EPOCH_JUMP_MAX, &cfg);
	wire_free(twin.w);
	cfg.boot_epoch = near.epoch;
	cfg.cluster_tag = tw_tag();
	cfg.boot_nonce[15] = 1;
	ck_assert_int_eq(wire_new(&cfg, twin.ring, &twin.w), 0);
	hl = tw_hello(&twin, &b, 0, hello);
	ck_assert_int_eq(wire_open(b.w, hello, hl, &m), CARTD_EEPOCH);
	tw_free(&a);
	tw_free(&b);
	tw_free(&far);
	tw_free(&near);
	tw_free(&twin);
}
END_TEST

START_TEST(test_hello_checks)
{
	tw_peer a, b;
	uint8_t hello[WIRE_HELLO_LEN], bad[WIRE_HELLO_LEN + 1];
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	size_t hl = tw_hello(&a, NULL, WIRE_F_WANT_REPLY, hello);
	ck_assert_uint_eq(le64(hello + 17), 0);
	ck_assert_int_eq(wire_open(b.w, hello, hl, &m), 0);
	ck_assert(!m.knows_us);
	ck_assert_uint_eq(m.flags, WIRE_F_WANT_REPLY);
	ck_assert_uint_eq(wire_get_stats(b.w)->sessions_new, 1);
	/* the same HELLO again is a copy: refused as a replay, unverified */
	ck_assert_int_eq(wire_open(b.w, hello, hl, &m), CARTD_EREPLAY);
	ck_assert_uint_eq(wire_get_stats(b.w)->sessions_new, 1);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_replay, 1);
	/* a newer HELLO of the same boot is taken, and after it the older one
	 * (reordered or replayed) is a copy too */
	uint8_t newer[WIRE_HELLO_LEN];
	size_t nl = tw_hello(&a, NULL, 0, newer);
	ck_assert_int_eq(wire_open(b.w, newer, nl, &m), 0);
	ck_assert_int_eq(wire_open(b.w, newer, nl, &m), CARTD_EREPLAY);
	ck_assert_uint_eq(wire_get_stats(b.w)->sessions_new, 1);
	ck_assert_uint_eq(wire_get_stats(b.w)->hellos_in, 2);
	/* every byte matters: a flip is refused, never a new session */
	for (size_t i = 0; i < hl; i++) {
		memcpy(bad, hello, hl);
		bad[i] ^= 0x40;
		ck_assert_int_ne(wire_open(b.w, bad, hl, &m), 0);
	}
	ck_assert_uint_eq(wire_get_stats(b.w)->sessions_new, 1);
	memcpy(bad, hello, hl);
	ck_assert_int_eq(wire_open(b.w, bad, hl - 1, &m), CARTD_EHEADER);
	bad[hl] = 0;
	ck_assert_int_eq(wire_open(b.w, bad, hl + 1, &m), CARTD_EHEADER);
	bad[2] = 1;   /* a version 1 peer */
	ck_assert_int_eq(wire_open(b.w, bad, hl, &m), CARTD_EVERSION);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_version, 2);   /* one from the flips */
	/* addressed to someone else */
	hl = tw_hello(&a, &a, 0, hello);
	ck_assert_int_eq(wire_open(b.w, hello, hl, &m), CARTD_ERECEIVER);
	tw_free(&a);
	tw_free(&b);
}
END_TEST

START_TEST(test_revocation)
{
	tw_peer a, b;
	char text[512], extra[64];
	uint8_t hello[WIRE_HELLO_LEN], dg[DG_CAP];
	wire_keyring *cut = NULL;
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&a, &b);
	size_t len = seal_ok(&a, &b, 1, (const uint8_t *)"x", 1, dg);
	snprintf(extra, sizeof extra, "revoke %016llx\n", (unsigned long long)tw_id(&a));
	tw_ring_text(1, extra, text, sizeof text);
	ck_assert_int_eq(wire_keyring_parse(text, strlen(text), &cut, NULL, 0), 0);
	ck_assert(wire_keyring_revoked(cut, tw_id(&a)));
	/* the reload must keep b's identity */
	ck_assert_int_eq(wire_set_keyring(b.w, cut), CARTD_EKEYRING);
	ck_assert_int_eq(wire_keyring_derive_identity(cut, 11), 0);
	ck_assert_int_eq(wire_set_keyring(b.w, cut), 0);
	wire_keyring_free(b.ring);
	b.ring = cut;
	ck_assert_uint_eq(wire_session_epoch(b.w, tw_id(&a)), 0);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EREVOKED);
	size_t hl = tw_hello(&a, &b, 0, hello);
	ck_assert_int_eq(wire_open(b.w, hello, hl, &m), CARTD_EREVOKED);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_revoked, 2);
	ck_assert(wire_peer_revoked(b.w, tw_id(&a)));
	tw_free(&a);
	tw_free(&b);
}
END_TEST

/* ---- payload limits ------------------------------------------------------ */

START_TEST(test_decompression_bomb)
{
	tw_peer big, b;
	wire_config cfg;
	size_t n = 512u << 10, len;
	uint8_t *p = calloc(1, n), dg[DG_CAP];
	wire_msg m;

	wire_config_init(&cfg);
	cfg.max_payload = 1u << 20;
	cfg.deflate_level = 9;   /* level 1 caps the ratio near 230:1 */
	tw_make(&big, 1, 10, 9, &cfg);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&big, &b);
	len = seal_ok(&big, &b, 1, p, n, dg);   /* 512 KiB of zeros in one datagram */
	ck_assert_uint_le(len, 1200);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EINFLATE);
	len = seal_ok(&big, &b, 1, p, WIRE_MAX_PAYLOAD_DEFAULT + 1, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EINFLATE);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_inflate, 2);
	len = seal_ok(&big, &b, 1, p, WIRE_MAX_PAYLOAD_DEFAULT, dg);   /* exactly the cap */
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	ck_assert_uint_eq(m.payload_len, WIRE_MAX_PAYLOAD_DEFAULT);
	free(p);
	tw_free(&big);
	tw_free(&b);
}
END_TEST

START_TEST(test_oversize_seal)
{
	tw_peer a, b;
	size_t max_body, len = 0;
	uint8_t *p = malloc(WIRE_MAX_PAYLOAD_DEFAULT + 1), dg[DG_CAP];
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	ck_assert_int_eq(wire_seal(a.w, tw_id(&b), 1, p, 1, dg, DG_CAP, &len), CARTD_ESESSION);
	tw_shake(&a, &b);
	uint64_t sealed0 = wire_get_stats(a.w)->sealed;
	max_body = wire_max_body(a.w);
	uint64_t to = tw_id(&b);
	fill_random(p, max_body + 1, 4);
	ck_assert_int_eq(wire_seal(a.w, to, 1, p, max_body + 1, dg, DG_CAP, &len), CARTD_EOVERSIZE);
	ck_assert_uint_eq(len, 1201);          /* what it would have needed */
	memset(p, 'z', WIRE_MAX_PAYLOAD_DEFAULT + 1);
	ck_assert_int_eq(wire_seal(a.w, to, 1, p, WIRE_MAX_PAYLOAD_DEFAULT + 1, dg, DG_CAP, &len),
			 CARTD_EOVERSIZE);
	/* compressible text of 5 KiB deflates, but not enough: the exact
	 * deflated size is reported */
	fill_compressible(p, 5000, 2);
	fill_random(p + 1000, 1400, 5);
	ck_assert_int_eq(wire_seal(a.w, to, 1, p, 5000, dg, DG_CAP, &len), CARTD_EOVERSIZE);
	ck_assert_uint_gt(len, 1200);
	ck_assert_uint_lt(len, 5000 + 57);
	fill_random(p, max_body, 4);
	ck_assert_int_eq(wire_seal(a.w, to, 1, p, max_body, dg, 1199, &len), CARTD_ENOSPC);
	ck_assert_uint_eq(len, 1200);
	ck_assert_uint_eq(wire_get_stats(a.w)->sealed, sealed0);
	ck_assert_int_eq(wire_seal(a.w, to, 1, p, max_body, dg, 1200, &len), 0);
	ck_assert_uint_eq(len, 1200);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	ck_assert_int_eq(wire_seal(a.w, to, 0, p, 1, dg, DG_CAP, &len), CARTD_EINVAL);
	ck_assert_int_eq(wire_seal(a.w, to, WIRE_TYPE_HELLO, p, 1, dg, DG_CAP, &len), CARTD_EINVAL);
	ck_assert_int_eq(wire_seal(a.w, to, WIRE_TYPE_HELLO - 1, NULL, 0, dg, DG_CAP, &len), 0);
	free(p);
	tw_free(&a);
	tw_free(&b);
}
END_TEST

START_TEST(test_oversize_open)
{
	tw_peer wide, b;
	wire_config cfg;
	uint8_t p[1300], dg[DG_CAP];
	size_t len;
	wire_msg m;

	wire_config_init(&cfg);
	cfg.max_datagram = 1400;
	tw_make(&wide, 1, 10, 9, &cfg);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&wide, &b);
	fill_random(p, sizeof(p), 8);
	len = seal_ok(&wide, &b, 1, p, sizeof(p), dg);
	ck_assert_uint_eq(len, 1357);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EOVERSIZE);
	ck_assert_int_eq(wire_open(b.w, dg, 1201, &m), CARTD_EOVERSIZE);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_oversize, 2);
	ck_assert_int_eq(wire_open(b.w, dg, 1200, &m), CARTD_EAUTH);
	tw_free(&wide);
	tw_free(&b);
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
	tw_peer a, b;
	uint8_t key[32], p[500], z[600], dg[DG_CAP];
	size_t zl, len;
	wire_msg m;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&a, &b);
	tw_spec_key(&a, &b, key);
	wire_hdr_spec h = { tw_id(&a), tw_id(&b), a.epoch, b.epoch, 100 };
	fill_compressible(p, sizeof(p), 9);
	zl = deflate_raw(p, sizeof(p), z, sizeof(z));
	/* control: a valid stream opens */
	len = hand_seal(key, WIRE_F_DEFLATE, &h, z, zl, dg);
	h.seq++;
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	ck_assert_mem_eq(m.payload, p, sizeof(p));
	/* flag set on bytes that are not deflate */
	fill_random(z + 300, 200, 2);
	len = hand_seal(key, WIRE_F_DEFLATE, &h, z + 300, 200, dg);
	h.seq++;
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EINFLATE);
	zl = deflate_raw(p, sizeof(p), z, sizeof(z));
	/* truncated stream, trailing byte, empty body */
	len = hand_seal(key, WIRE_F_DEFLATE, &h, z, zl - 1, dg);
	h.seq++;
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EINFLATE);
	z[zl] = 0;
	len = hand_seal(key, WIRE_F_DEFLATE, &h, z, zl + 1, dg);
	h.seq++;
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EINFLATE);
	len = hand_seal(key, WIRE_F_DEFLATE, &h, z, 0, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EINFLATE);
	ck_assert_uint_eq(wire_get_stats(b.w)->rej_inflate, 4);
	/* a rejected payload still consumed its sequence: no retry by replay */
	h.seq = 101;
	len = hand_seal(key, WIRE_F_DEFLATE, &h, z + 300, 200, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_EREPLAY);
	tw_free(&a);
	tw_free(&b);
}
END_TEST

/* wire.c allocates every buffer, the compressor and the decompressor in
 * wire_new, so that sealing and opening allocate nothing: not for a
 * payload that deflates, not for one that does not, and not for an
 * authentic deflate stream that stops short (zlib's inflate, which cartd
 * used before libdeflate, allocated its window for that one). */
START_TEST(test_seal_and_open_allocate_nothing)
{
	tw_peer a, b;
	static uint8_t p[1000], q[1000], z[1100];
	uint8_t d1[DG_CAP], d2[DG_CAP], d3[DG_CAP], key[32];
	size_t l1 = 0, l2 = 0;
	wire_msg m1, m2, m3;

	tw_make(&a, 1, 10, 9, NULL);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&a, &b);
	fill_compressible(p, sizeof p, 7);
	fill_random(q, sizeof q, 7);
	tw_spec_key(&a, &b, key);
	wire_hdr_spec h = { tw_id(&a), tw_id(&b), a.epoch, b.epoch, 1000 };
	size_t zl = deflate_raw(p, sizeof p, z, sizeof z);
	size_t l3 = hand_seal(key, WIRE_F_DEFLATE, &h, z, zl / 2, d3);
	test_alloc_fail_after(0);
	int o3 = wire_open(b.w, d3, l3, &m3);
	int s1 = wire_seal(a.w, tw_id(&b), 3, p, sizeof p, d1, DG_CAP, &l1);
	int s2 = wire_seal(a.w, tw_id(&b), 3, q, sizeof q, d2, DG_CAP, &l2);
	int o1 = s1 ? s1 : wire_open(b.w, d1, l1, &m1);
	int o2 = s2 ? s2 : wire_open(b.w, d2, l2, &m2);
	long attempts = test_alloc_attempts();
	test_alloc_reset();
	ck_assert_int_eq(s1, 0);
	ck_assert_int_eq(s2, 0);
	ck_assert_int_eq(o1, 0);
	ck_assert_int_eq(o2, 0);
	ck_assert_int_eq(o3, CARTD_EINFLATE);
	ck_assert_msg(attempts == 0, "sealing and opening attempted %ld allocations", attempts);
	ck_assert_int_eq(d1[4] & WIRE_F_DEFLATE, WIRE_F_DEFLATE);
	ck_assert_int_eq(d2[4] & WIRE_F_DEFLATE, 0);
	ck_assert_uint_eq(m1.payload_len, sizeof p);
	ck_assert_mem_eq(m1.payload, p, sizeof p);
	ck_assert_uint_eq(m2.payload_len, sizeof q);
	ck_assert_mem_eq(m2.payload, q, sizeof q);
	tw_free(&a);
	tw_free(&b);
}
END_TEST

START_TEST(test_deflate_off_and_config)
{
	tw_peer plain, b;
	wire_config cfg;
	wire *w = (wire *)(uintptr_t)1;
	uint8_t p[1000], dg[DG_CAP];
	size_t len;
	wire_msg m;

	wire_config_init(&cfg);
	cfg.deflate_level = 0;
	tw_make(&plain, 1, 10, 9, &cfg);
	tw_make(&b, 1, 11, 1, NULL);
	tw_shake(&plain, &b);
	memset(p, 'a', sizeof(p));
	len = seal_ok(&plain, &b, 1, p, sizeof(p), dg);
	ck_assert_uint_eq(len, sizeof(p) + 57);
	ck_assert_uint_eq(dg[4], 0);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	/* out-of-range configurations are refused, leaving *out NULL */
	const wire_keyring *r = b.ring;
	cfg.deflate_level = 10;
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	ck_assert_ptr_null(w);
	wire_config_init(&cfg);
	cfg.max_datagram = WIRE_HELLO_LEN - 1;   /* a HELLO must fit */
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	cfg.max_datagram = WIRE_MAX_DATAGRAM_LIMIT + 1;
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	wire_config_init(&cfg);
	cfg.max_payload = cfg.max_datagram - WIRE_OVERHEAD - 1;
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	wire_config_init(&cfg);
	cfg.max_peers = 0;
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	wire_config_init(&cfg);
	cfg.boot_epoch = 0;
	ck_assert_int_eq(wire_new(&cfg, r, &w), CARTD_EINVAL);
	wire_config_init(&cfg);
	ck_assert_int_eq(wire_new(&cfg, NULL, &w), CARTD_EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(wire_open(b.w, NULL, 5, &m), CARTD_EINVAL);
	wire_free(NULL);
	tw_free(&plain);
	tw_free(&b);
}
END_TEST

/* A full session table drops the least recently used session. */
START_TEST(test_session_eviction)
{
	tw_peer b, p[4];
	wire_config cfg;
	wire_msg m;
	uint8_t dg[DG_CAP];

	wire_config_init(&cfg);
	cfg.max_peers = 3;
	tw_make(&b, 1, 11, 1, &cfg);
	for (int i = 0; i < 3; i++) {
		tw_make(&p[i], 1, 20 + (uint64_t)i, 1, NULL);
		tw_shake(&p[i], &b);
	}
	/* p[0] is used again, so p[1] is the stalest when p[3] arrives */
	size_t len = seal_ok(&p[0], &b, 1, (const uint8_t *)"a", 1, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), 0);
	tw_make(&p[3], 1, 23, 1, NULL);
	tw_shake(&p[3], &b);
	ck_assert_uint_eq(wire_get_stats(b.w)->sessions_evicted, 1);
	ck_assert_uint_eq(wire_session_epoch(b.w, tw_id(&p[1])), 0);
	ck_assert_uint_eq(wire_session_epoch(b.w, tw_id(&p[0])), 1);
	len = seal_ok(&p[1], &b, 1, (const uint8_t *)"b", 1, dg);
	ck_assert_int_eq(wire_open(b.w, dg, len, &m), CARTD_ESESSION);
	for (int i = 0; i < 4; i++)
		tw_free(&p[i]);
	tw_free(&b);
}
END_TEST

START_TEST(test_window)
{
	wire_window w;

	wire_window_reset(&w);
	ck_assert_int_eq(wire_window_check(&w, 0), CARTD_EREPLAY);
	/* a jump of many windows forgets everything below it */
	ck_assert_int_eq(wire_window_check(&w, 5), 0);
	ck_assert_int_eq(wire_window_check(&w, 5 + 64 * 1000), 0);
	ck_assert_int_eq(wire_window_check(&w, 5), CARTD_EREPLAY);
	ck_assert_int_eq(wire_window_check(&w, 5 + 64 * 1000 - 1), 0);
	ck_assert_int_eq(wire_window_check(&w, 5 + 64 * 1000 - 1), CARTD_EREPLAY);
	/* every sequence within the window is judged on its own */
	uint64_t top = 5 + 64 * 1000;
	for (uint64_t s = top - WIRE_REPLAY_WINDOW + 1; s < top - 1; s++)
		ck_assert_int_eq(wire_window_check(&w, s), 0);
	ck_assert_int_eq(wire_window_check(&w, top - WIRE_REPLAY_WINDOW), CARTD_EREPLAY);
	wire_window_reset(&w);
	ck_assert_int_eq(wire_window_check(&w, 5), 0);
}
END_TEST

Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("framing");
	TCase *tr = tcase_create("sessions");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip_sizes);
	tcase_add_test(tc, test_seal_and_open_allocate_nothing);
	tcase_add_test(tc, test_pack_once_seal_each);
	tcase_add_test(tc, test_header_layout_matches_spec);
	tcase_add_test(tc, test_cluster_tag);
	tcase_add_test(tc, test_flip_raw);
	tcase_add_test(tc, test_flip_deflated);
	tcase_add_test(tc, test_truncation_and_extension);
	tcase_add_test(tc, test_decompression_bomb);
	tcase_add_test(tc, test_oversize_seal);
	tcase_add_test(tc, test_oversize_open);
	tcase_add_test(tc, test_bad_deflate_bodies);
	tcase_add_test(tc, test_deflate_off_and_config);
	tcase_add_test(tr, test_cross_pair_and_cluster);
	tcase_add_test(tr, test_no_impersonation);
	tcase_add_test(tr, test_replay_duplicate_and_reorder);
	tcase_add_test(tr, test_replay_too_old);
	tcase_add_test(tr, test_restarts);
	tcase_add_test(tr, test_jump_bounds);
	tcase_add_test(tr, test_hello_checks);
	tcase_add_test(tr, test_revocation);
	tcase_add_test(tr, test_session_eviction);
	tcase_add_test(tr, test_window);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tr);
	return s;
}
