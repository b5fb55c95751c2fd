/*
 * keyring_gen.c - making keys: development keyrings, identities derived
 * for a replica, and keyrings issued to new peers (see keyring.h).
 *
 * Every secret passes through stack buffers only briefly and is wiped from
 * them; the texts written hold the only copies.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "crdt/error.h"
#include "net/keyring_internal.h"

static const char dev_comment[] =
	"# cartd keyring (development): every peer may share this file. It holds\n"
	"# the cluster-secret, so every peer can certify itself; for production\n"
	"# issue one keyring per peer with 'cartctl issue'. Keep it secret (0600).\n";

static const char peer_comment[] =
	"# cartd keyring of one peer: its identity, the trusted cluster keys and\n"
	"# the token keys. Keep it secret (0600). Revoke peers with lines\n"
	"# 'revoke <peer id>' and reload with SIGHUP.\n";

/* Appends "kind base64(v)\n" at *off; CARTD_ENOSPC when it does not fit. */
static int put_line(char *out, size_t cap, size_t *off, const char *kind,
		    const uint8_t *v, size_t n)
{
	size_t klen = strlen(kind), blen = sodium_base64_ENCODED_LEN(n, KEYRING_B64);

	if (*off + klen + 1 + blen + 1 > cap)
		return CARTD_ENOSPC;
	memcpy(out + *off, kind, klen);
	out[*off + klen] = ' ';
	sodium_bin2base64(out + *off + klen + 1, blen, v, n, KEYRING_B64);
	*off += klen + blen;          /* blen counts the NUL, replaced by '\n' */
	out[(*off)++] = '\n';
	out[*off] = '\0';
	return 0;
}

static int put_text(char *out, size_t cap, size_t *off, const char *s)
{
	size_t n = strlen(s);

	if (*off + n + 1 > cap)
		return CARTD_ENOSPC;
	memcpy(out + *off, s, n + 1);
	*off += n;
	return 0;
}

int wire_keyring_generate(char *out, size_t cap)
{
	uint8_t seed[32], pk[32], sk[64], token[WIRE_KEY_BYTES];
	size_t off = 0;
	int rc;

	if (out == NULL || cap < WIRE_KEYRING_TEXT_MAX)
		return CARTD_ENOSPC;
	if (sodium_init() < 0)
		return CARTD_ECRYPTO;
	randombytes_buf(seed, sizeof seed);
	randombytes_buf(token, sizeof token);
	crypto_sign_seed_keypair(pk, sk, seed);
	rc = put_text(out, cap, &off, dev_comment);
	if (rc == 0)
		rc = put_line(out, cap, &off, "cluster-secret", seed, sizeof seed);
	if (rc == 0)
		rc = put_line(out, cap, &off, "cluster-key", pk, sizeof pk);
	if (rc == 0)
		rc = put_line(out, cap, &off, "token", token, sizeof token);
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(token, sizeof token);
	return rc;
}

/* Certifies the identity keys now in r with its cluster secret. */
static void self_certify(wire_keyring *r)
{
	wire_cert_sign(r->cert, r->s->sign_sk + 32, r->kx_pk, r->s->cluster_sk);
	r->has_cert = r->has_identity = true;
	r->self_id = wire_cert_id(r->cert);
}

int wire_keyring_derive_identity(wire_keyring *r, uint64_t replica_id)
{
	static const char ctx[] = "cartd-dev-identity";
	uint8_t msg[sizeof ctx - 1 + 8], raw[64];

	if (r == NULL)
		return CARTD_EINVAL;
	if (!r->has_cluster_secret || r->has_identity)
		return CARTD_EKEYRING;
	memcpy(msg, ctx, sizeof ctx - 1);
	for (int i = 0; i < 8; i++)
		msg[sizeof ctx - 1 + i] = (uint8_t)(replica_id >> (8 * i));
	(void)sodium_mprotect_readwrite(r->s);
	/* keyed by the cluster seed: only holders of the secret can derive */
	crypto_generichash(raw, sizeof raw, msg, sizeof msg, r->s->cluster_sk, 32);
	keyring_set_identity_keys(r, raw);
	self_certify(r);
	(void)sodium_mprotect_readonly(r->s);
	sodium_memzero(raw, sizeof raw);
	return 0;
}

/* The public and token lines a new peer's keyring shares with cluster. */
static int put_shared(const wire_keyring *c, char *out, size_t cap, size_t *off)
{
	int rc = put_text(out, cap, off, peer_comment);

	for (size_t i = 0; rc == 0 && i < c->ncluster; i++)
		rc = put_line(out, cap, off, "cluster-key", c->cluster_pk[i], 32);
	for (size_t i = 0; rc == 0 && i < c->ntokens; i++)
		rc = put_line(out, cap, off, "token", c->s->tokens[i], WIRE_KEY_BYTES);
	return rc;
}

int wire_keyring_issue(const wire_keyring *c, char *out, size_t cap, uint64_t *id)
{
	uint8_t raw[64], pk[32], sk[64], kx_pk[32], cert[WIRE_CERT_LEN];
	size_t off = 0;
	int rc;

	if (c == NULL || out == NULL || id == NULL || cap < WIRE_KEYRING_TEXT_MAX)
		return c == NULL || id == NULL ? CARTD_EINVAL : CARTD_ENOSPC;
	if (!c->has_cluster_secret)
		return CARTD_EKEYRING;
	if (sodium_init() < 0)
		return CARTD_ECRYPTO;
	randombytes_buf(raw, sizeof raw);
	crypto_sign_seed_keypair(pk, sk, raw);
	crypto_scalarmult_base(kx_pk, raw + 32);
	wire_cert_sign(cert, pk, kx_pk, c->s->cluster_sk);
	*id = wire_cert_id(cert);
	rc = put_shared(c, out, cap, &off);
	if (rc == 0)
		rc = put_line(out, cap, &off, "peer-secret", raw, sizeof raw);
	if (rc == 0)
		rc = put_line(out, cap, &off, "peer-cert", cert, sizeof cert);
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(sk, sizeof sk);
	if (rc != 0)
		sodium_memzero(out, cap);
	return rc;
}
