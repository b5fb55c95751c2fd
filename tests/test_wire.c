/*
 * test_wire.c - wire objects with real identities for the tests (see
 * test_wire.h).
 */
#include "tests/test_wire.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "net/cert.h"

uint32_t tw_tag(void)
{
	return wire_cluster_tag("test-cluster");
}

void tw_ring_text(uint8_t cluster, const char *extra, char *buf, size_t cap)
{
	uint8_t seed[32], s[randombytes_SEEDBYTES] = { cluster, 0xc1 };
	char b64[64];
	randombytes_buf_deterministic(seed, sizeof seed, s);
	sodium_bin2base64(b64, sizeof b64, seed, sizeof seed, sodium_base64_VARIANT_ORIGINAL);
	int n = snprintf(buf, cap, "# test cluster %u\ncluster-secret %s\n%s", cluster, b64,
	                 extra ? extra : "");
	ck_assert(n > 0 && (size_t)n < cap);
}

void tw_make_text(tw_peer *p, const char *text, uint64_t replica, uint32_t epoch,
		  const wire_config *base)
{
	wire_config cfg;
	memset(p, 0, sizeof *p);
	ck_assert_int_eq(wire_keyring_parse(text, strlen(text), &p->ring, NULL, 0), 0);
	if (!wire_keyring_has_identity(p->ring))
		ck_assert_int_eq(wire_keyring_derive_identity(p->ring, replica), 0);
	if (base)
		cfg = *base;
	else
		wire_config_init(&cfg);
	cfg.boot_epoch = epoch;
	cfg.cluster_tag = tw_tag();
	for (int i = 0; i < 8; i++)
		cfg.boot_nonce[i] = (uint8_t)(replica >> (8 * i));
	for (int i = 0; i < 4; i++)
		cfg.boot_nonce[8 + i] = (uint8_t)(epoch >> (8 * i));
	p->replica = replica;
	p->epoch = epoch;
	memcpy(p->nonce, cfg.boot_nonce, sizeof p->nonce);
	ck_assert_int_eq(wire_new(&cfg, p->ring, &p->w), 0);
}

void tw_make(tw_peer *p, uint8_t cluster, uint64_t replica, uint32_t epoch,
	     const wire_config *base)
{
	char text[512];
	tw_ring_text(cluster, NULL, text, sizeof text);
	tw_make_text(p, text, replica, epoch, base);
}

void tw_free(tw_peer *p)
{
	wire_free(p->w);
	wire_keyring_free(p->ring);
	memset(p, 0, sizeof *p);
}

uint64_t tw_id(const tw_peer *p)
{
	return wire_keyring_self_id(p->ring);
}

size_t tw_hello(tw_peer *from, const tw_peer *to, uint8_t flags, uint8_t *dg)
{
	uint8_t chal[WIRE_CHALLENGE_LEN] = { 0x5a };
	size_t n = 0;
	ck_assert_int_eq(wire_hello(from->w, to ? tw_id(to) : 0, flags, chal, NULL, dg,
	                            WIRE_HELLO_LEN, &n), 0);
	ck_assert_uint_eq(n, WIRE_HELLO_LEN);
	return n;
}

void tw_shake(tw_peer *a, tw_peer *b)
{
	uint8_t dg[WIRE_HELLO_LEN];
	wire_msg m;
	size_t n = tw_hello(a, b, WIRE_F_WANT_REPLY, dg);
	ck_assert_int_eq(wire_open(b->w, dg, n, &m), 0);
	ck_assert_uint_eq(m.type, WIRE_TYPE_HELLO);
	ck_assert_uint_eq(m.sender_id, tw_id(a));
	n = tw_hello(b, a, 0, dg);
	ck_assert_int_eq(wire_open(a->w, dg, n, &m), 0);
	ck_assert(m.knows_us);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void tw_spec_key(const tw_peer *from, const tw_peer *to, uint8_t key[32])
{
	static const char ctx[] = "cartd-v2-session";
	uint8_t rx[32], tx[32], m[sizeof ctx - 1 + 24 + 2 * WIRE_NONCE_LEN], *p = m;
	const uint8_t *my_pk = wire_keyring_cert(from->ring) + WIRE_CERT_KX_PK;
	const uint8_t *their_pk = wire_keyring_cert(to->ring) + WIRE_CERT_KX_PK;
	const uint8_t *sk = wire_keyring_kx_sk(from->ring);
	/* the lower id takes crypto_kx's client role */
	if (tw_id(from) < tw_id(to))
		ck_assert_int_eq(crypto_kx_client_session_keys(rx, tx, my_pk, sk, their_pk), 0);
	else
		ck_assert_int_eq(crypto_kx_server_session_keys(rx, tx, my_pk, sk, their_pk), 0);
	memcpy(p, ctx, sizeof ctx - 1);
	p += sizeof ctx - 1;
	put_le(p, tw_id(from), 8);
	put_le(p + 8, tw_id(to), 8);
	put_le(p + 16, from->epoch, 4);
	put_le(p + 20, to->epoch, 4);
	memcpy(p + 24, from->nonce, WIRE_NONCE_LEN);
	memcpy(p + 24 + WIRE_NONCE_LEN, to->nonce, WIRE_NONCE_LEN);
	crypto_generichash(key, 32, m, sizeof m, tx, 32);
}
