/*
 * keyring.c - parsing keyring text and answering for the keys it holds.
 * Generating keyrings is keyring_gen.c.
 *
 * The secrets of a ring share one sodium_malloc'd block, made read-only
 * once loaded so that a stray write faults instead of silently changing a
 * key; the public parts live in the plain struct.
 */
#include "net/keyring.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/error.h"
#include "net/cert.h"
#include "net/keyring_internal.h"

/* Records why parsing failed; returns CARTD_EKEYRING. */
static int refuse(wire_keyring *r, const char *why)
{
	r->why = why;
	return CARTD_EKEYRING;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Decodes base64 of exactly n bytes: anything else is more likely a pasting
 * accident than a key. */
static int decode_b64(const char *p, size_t len, uint8_t *out, size_t n)
{
	size_t got = 0;

	if (len != sodium_base64_ENCODED_LEN(n, KEYRING_B64) - 1)
		return CARTD_EKEYRING;
	if (sodium_base642bin(out, n, p, len, NULL, &got, NULL, KEYRING_B64) != 0 || got != n)
		return CARTD_EKEYRING;
	return 0;
}

/* Exactly 16 hex digits, not all zero. */
static int decode_id(const char *p, size_t len, uint64_t *id)
{
	uint64_t v = 0;

	if (len != 16)
		return CARTD_EKEYRING;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return CARTD_EKEYRING;
		v = v << 4 | (uint64_t)d;
	}
	*id = v;
	return v != 0 ? 0 : CARTD_EKEYRING;
}

static int add_cluster_pk(wire_keyring *r, const uint8_t pk[32])
{
	for (size_t i = 0; i < r->ncluster; i++)
		if (memcmp(r->cluster_pk[i], pk, 32) == 0)
			return 0;   /* the secret's own key, also listed: fine */
	if (r->ncluster == WIRE_CLUSTER_KEYS_MAX)
		return refuse(r, "more cluster keys than a ring holds");
	memcpy(r->cluster_pk[r->ncluster++], pk, 32);
	return 0;
}

static int set_cluster_secret(wire_keyring *r, const char *v, size_t n)
{
	uint8_t seed[32], pk[32];
	int rc;

	if (r->has_cluster_secret)
		return refuse(r, "a second cluster-secret");
	rc = decode_b64(v, n, seed, sizeof seed);
	if (rc != 0)
		refuse(r, "cluster-secret: not 32 bytes in base64");
	if (rc == 0) {
		crypto_sign_seed_keypair(pk, r->s->cluster_sk, seed);
		r->has_cluster_secret = true;
		rc = add_cluster_pk(r, pk);
	}
	sodium_memzero(seed, sizeof seed);
	return rc;
}

static int set_peer_secret(wire_keyring *r, const char *v, size_t n)
{
	uint8_t raw[64];
	int rc;

	if (r->has_peer_secret)
		return refuse(r, "a second peer-secret");
	rc = decode_b64(v, n, raw, sizeof raw);
	if (rc != 0)
		refuse(r, "peer-secret: not 64 bytes in base64");
	if (rc == 0) {
		keyring_set_identity_keys(r, raw);
		r->has_peer_secret = true;
	}
	sodium_memzero(raw, sizeof raw);
	return rc;
}

static int add_revoked(wire_keyring *r, const char *v, size_t n)
{
	uint64_t id;

	if (decode_id(v, n, &id) != 0)
		return refuse(r, "revoke: want a peer id of 16 hex digits, not all zero");
	if (r->nrevoked == WIRE_REVOKED_MAX)
		return refuse(r, "more revoke lines than a ring holds");
	if (r->revoked == NULL) {
		r->revoked = malloc(WIRE_REVOKED_MAX * sizeof *r->revoked);
		if (r->revoked == NULL)
			return CARTD_ENOMEM;
	}
	r->revoked[r->nrevoked++] = id;
	return 0;
}

uint32_t wire_key_id(const uint8_t key[WIRE_KEY_BYTES])
{
	uint8_t h[crypto_generichash_BYTES];   /* BLAKE2b-256 */
	uint32_t id;

	crypto_generichash(h, sizeof(h), key, WIRE_KEY_BYTES, NULL, 0);
	id = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
	     (uint32_t)h[3] << 24;
	sodium_memzero(h, sizeof(h));  /* a key's hash is key material too */
	return id;
}

/* The slot of the token key with an id, or ntokens. */
static size_t token_slot(const wire_keyring *r, uint32_t id)
{
	size_t i = 0;
	while (i < r->ntokens && r->token_ids[i] != id)
		i++;
	return i;
}

/* Appends the token key now in slot ntokens, refusing a repeated id (the
 * same key twice, or an id collision). */
static int commit_token(wire_keyring *r)
{
	uint32_t id = wire_key_id(r->s->tokens[r->ntokens]);

	if (token_slot(r, id) < r->ntokens)
		return refuse(r, "the same token key twice");
	/* Its own key for SipHash, so that the token key itself keys nothing
	 * but BLAKE2b (the MAC of version-2 tokens). */
	static const char label[] = "cartd token siphash key v3";
	crypto_generichash(r->s->token_macs[r->ntokens], WIRE_TOKEN_MAC_KEY_BYTES,
			   (const uint8_t *)label, sizeof label - 1, r->s->tokens[r->ntokens],
			   WIRE_KEY_BYTES);
	r->token_ids[r->ntokens++] = id;
	return 0;
}

static int add_token(wire_keyring *r, const char *v, size_t n)
{
	if (r->ntokens == WIRE_TOKEN_KEYS_MAX)
		return refuse(r, "more token lines than a ring holds");
	if (decode_b64(v, n, r->s->tokens[r->ntokens], WIRE_KEY_BYTES) != 0)
		return refuse(r, "token: not 32 bytes in base64");
	return commit_token(r);
}

/* No token line: one token key from the cluster secret, the same at every
 * peer sharing it. */
static int derive_token(wire_keyring *r)
{
	static const char label[] = "cartd token key v1";

	if (!r->has_cluster_secret)
		return refuse(r, "no token line, and no cluster-secret to derive one from");
	crypto_generichash(r->s->tokens[0], WIRE_KEY_BYTES, (const uint8_t *)label,
			   sizeof label - 1, r->s->cluster_sk, 32);
	return commit_token(r);
}

/* Applies one trimmed, non-comment line "kind value". */
static int add_entry(wire_keyring *r, const char *p, size_t n)
{
	size_t k = 0, v;
	uint8_t pk[32];

	while (k < n && !is_blank(p[k]))
		k++;
	v = k;
	while (v < n && is_blank(p[v]))
		v++;
	if (v == k || v == n)   /* a kind with no value, or a version 1 bare key */
		return refuse(r, "a kind without a value (a version 1 keyring, one shared key? "
		                 "make a new one with 'cartctl keygen')");
#define KIND(s) (k == sizeof(s) - 1 && memcmp(p, s, k) == 0)
	if (KIND("cluster-key"))
		return decode_b64(p + v, n - v, pk, 32) != 0
		       ? refuse(r, "cluster-key: not 32 bytes in base64") : add_cluster_pk(r, pk);
	if (KIND("cluster-secret"))
		return set_cluster_secret(r, p + v, n - v);
	if (KIND("peer-secret"))
		return set_peer_secret(r, p + v, n - v);
	if (KIND("peer-cert")) {
		if (r->has_cert)
			return refuse(r, "a second peer-cert");
		r->has_cert = true;
		return decode_b64(p + v, n - v, r->cert, WIRE_CERT_LEN) != 0
		       ? refuse(r, "peer-cert: not a certificate in base64") : 0;
	}
	if (KIND("revoke"))
		return add_revoked(r, p + v, n - v);
	if (KIND("token"))
		return add_token(r, p + v, n - v);
#undef KIND
	return refuse(r, "unknown kind (want cluster-key, cluster-secret, peer-secret, "
	                 "peer-cert, revoke or token)");
}

static int add_line(wire_keyring *r, const char *p, size_t n)
{
	while (n > 0 && is_blank(*p))
		p++, n--;
	while (n > 0 && is_blank(p[n - 1]))
		n--;
	if (n == 0 || *p == '#')
		return 0;
	return add_entry(r, p, n);
}

static int parse_lines(wire_keyring *r, const char *text, size_t len, size_t *line)
{
	const char *p = text, *end = text + len;

	*line = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		int rc;

		++*line;
		rc = add_line(r, p, (size_t)(eol - p));
		if (rc != 0)
			return rc;
		p = nl != NULL ? nl + 1 : end;
	}
	*line = 0;
	return 0;
}

/* Whole-ring rules, once every line is in. */
static int check_ring(wire_keyring *r)
{
	if (r->ncluster == 0)
		return refuse(r, "no cluster-key or cluster-secret");
	if (r->has_peer_secret && !r->has_cert)
		return refuse(r, "a peer-secret without its peer-cert");
	if (r->has_cert && !r->has_peer_secret)
		return refuse(r, "a peer-cert without its peer-secret");
	if (r->ntokens == 0 && derive_token(r) != 0)
		return CARTD_EKEYRING;
	if (!r->has_peer_secret)
		return r->has_cluster_secret ? 0
		       : refuse(r, "neither a peer-secret with its peer-cert nor a cluster-secret");
	/* the certificate must name this secret's keys and be trusted */
	if (memcmp(r->cert + WIRE_CERT_SIGN_PK, r->s->sign_sk + 32, 32) != 0 ||
	    memcmp(r->cert + WIRE_CERT_KX_PK, r->kx_pk, 32) != 0)
		return refuse(r, "the peer-cert was issued for another peer-secret");
	if (wire_cert_verify(r->cert, r->cluster_pk[0], r->ncluster) != 0)
		return refuse(r, "the peer-cert is not signed by a trusted cluster key");
	r->has_identity = true;
	r->self_id = wire_cert_id(r->cert);
	return 0;
}

int keyring_alloc(wire_keyring **out)
{
	wire_keyring *r = calloc(1, sizeof *r);

	*out = NULL;
	if (r == NULL)
		return CARTD_ENOMEM;
	r->s = sodium_malloc(sizeof *r->s);
	if (r->s == NULL) {
		free(r);
		return CARTD_ENOMEM;
	}
	memset(r->s, 0, sizeof *r->s);
	*out = r;
	return 0;
}

int wire_keyring_parse(const char *text, size_t len, wire_keyring **out, char *err,
                       size_t errlen)
{
	wire_keyring *r;
	size_t line = 0;
	int rc;

	if (out == NULL || (text == NULL && len > 0)) {
		cartd_errmsg(err, errlen, "no keyring text or no place for the ring");
		return CARTD_EINVAL;
	}
	*out = NULL;
	if (sodium_init() < 0) {
		cartd_errmsg(err, errlen, "libsodium failed to initialise");
		return CARTD_ECRYPTO;
	}
	rc = keyring_alloc(&r);
	if (rc != 0) {
		cartd_errmsg(err, errlen, "%s", cartd_strerror(rc));
		return rc;
	}
	rc = len > 0 ? parse_lines(r, text, len, &line) : refuse(r, "empty keyring");
	if (rc == 0)
		rc = check_ring(r);
	if (rc != 0) {
		const char *why = r->why != NULL ? r->why : cartd_strerror(rc);
		if (line > 0)
			cartd_errmsg(err, errlen, "line %zu: %s", line, why);
		else
			cartd_errmsg(err, errlen, "%s", why);
		wire_keyring_free(r);
		return rc;
	}
	(void)sodium_mprotect_readonly(r->s);  /* hardening only; may be unsupported */
	*out = r;
	return 0;
}

void wire_keyring_free(wire_keyring *r)
{
	if (r == NULL)
		return;
	sodium_free(r->s);   /* makes it writable again and wipes it */
	free(r->revoked);
	sodium_memzero(r, sizeof *r);
	free(r);
}

void keyring_set_identity_keys(wire_keyring *r, const uint8_t raw[64])
{
	uint8_t pk[32];

	crypto_sign_seed_keypair(pk, r->s->sign_sk, raw);
	memcpy(r->s->kx_sk, raw + 32, 32);
	crypto_scalarmult_base(r->kx_pk, r->s->kx_sk);
}

bool wire_keyring_has_identity(const wire_keyring *r)
{
	return r->has_identity;
}

bool wire_keyring_can_certify(const wire_keyring *r)
{
	return r->has_cluster_secret;
}

uint64_t wire_keyring_self_id(const wire_keyring *r)
{
	return r->has_identity ? r->self_id : 0;
}

const uint8_t *wire_keyring_cert(const wire_keyring *r)
{
	return r->has_identity ? r->cert : NULL;
}

const uint8_t *wire_keyring_sign_sk(const wire_keyring *r)
{
	return r->has_identity ? r->s->sign_sk : NULL;
}

const uint8_t *wire_keyring_kx_sk(const wire_keyring *r)
{
	return r->has_identity ? r->s->kx_sk : NULL;
}

const uint8_t *wire_keyring_cluster_keys(const wire_keyring *r, size_t *n)
{
	*n = r->ncluster;
	return r->cluster_pk[0];
}

bool wire_keyring_revoked(const wire_keyring *r, uint64_t id)
{
	for (size_t i = 0; i < r->nrevoked; i++)
		if (r->revoked[i] == id)
			return true;
	return false;
}

size_t wire_keyring_revoked_count(const wire_keyring *r)
{
	return r->nrevoked;
}

size_t wire_keyring_token_count(const wire_keyring *r)
{
	return r->ntokens;
}

const uint8_t *wire_keyring_token(const wire_keyring *r, size_t i)
{
	return i < r->ntokens ? r->s->tokens[i] : NULL;
}

const uint8_t *wire_keyring_token_primary(const wire_keyring *r, uint32_t *id)
{
	if (id != NULL)
		*id = r->token_ids[0];
	return r->s->tokens[0];
}

const uint8_t *wire_keyring_token_mac_primary(const wire_keyring *r, uint32_t *id)
{
	if (id)
		*id = r->token_ids[0];
	return r->s->token_macs[0];
}

const uint8_t *wire_keyring_token_mac_find(const wire_keyring *r, uint32_t id)
{
	size_t i = token_slot(r, id);
	return i < r->ntokens ? r->s->token_macs[i] : NULL;
}

const uint8_t *wire_keyring_token_find(const wire_keyring *r, uint32_t id)
{
	size_t i = token_slot(r, id);
	return i < r->ntokens ? r->s->tokens[i] : NULL;
}
