/*
 * keyring_internal.h - the keyring's layout, shared by keyring.c (parsing,
 * accessors) and keyring_gen.c (generating, deriving, issuing).  Not part
 * of the API.
 */
#ifndef NET_KEYRING_INTERNAL_H
#define NET_KEYRING_INTERNAL_H

#include <sodium.h>

#include "net/cert.h"
#include "net/keyring.h"

#define KEYRING_B64 sodium_base64_VARIANT_ORIGINAL

/* Everything secret, in one sodium_malloc'd block. */
struct keyring_secrets {
	uint8_t cluster_sk[64];     /* Ed25519 secret key (seed || public key) */
	uint8_t sign_sk[64];        /* this peer's Ed25519 secret key */
	uint8_t kx_sk[32];          /* this peer's X25519 secret key */
	uint8_t tokens[WIRE_TOKEN_KEYS_MAX][WIRE_KEY_BYTES];
	/* the SipHash key of each token key, derived from it (commit_token) */
	uint8_t token_macs[WIRE_TOKEN_KEYS_MAX][WIRE_TOKEN_MAC_KEY_BYTES];
};

struct wire_keyring {
	struct keyring_secrets *s;
	bool has_cluster_secret, has_peer_secret, has_cert, has_identity;
	uint8_t cluster_pk[WIRE_CLUSTER_KEYS_MAX][32];
	size_t ncluster;
	uint8_t cert[WIRE_CERT_LEN];
	uint8_t kx_pk[32];
	uint64_t self_id;
	size_t ntokens;
	uint32_t token_ids[WIRE_TOKEN_KEYS_MAX];
	uint64_t *revoked;          /* WIRE_REVOKED_MAX slots once the first is added */
	size_t nrevoked;
	const char *why;            /* while parsing: what the failing line or
	                             * whole-ring check found wrong (static) */
};

/* An empty ring with its secrets block, writable.  0 or CARTD_ENOMEM. */
int keyring_alloc(wire_keyring **out);

/* Sets sign_sk and kx_sk (and kx_pk) from 64 bytes: Ed25519 seed then
 * X25519 secret key.  The secrets block must be writable. */
void keyring_set_identity_keys(wire_keyring *r, const uint8_t raw[64]);

#endif
