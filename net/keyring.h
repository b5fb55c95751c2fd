/*
 * keyring.h - a peer's keys, loaded from one text file.
 *
 * Keyring text: one entry per line, "<kind> <value>".  Blank lines and
 * lines whose first non-blank character is '#' are ignored; leading and
 * trailing blanks and a CR before the newline are tolerated.  Kinds:
 *
 *   cluster-key <base64, 32 bytes>    a trusted cluster signing key (Ed25519
 *                                     public key); certificates signed by any
 *                                     of them are accepted (rotation: list
 *                                     the old and the new one)
 *   cluster-secret <base64, 32 bytes> the seed of a cluster signing key; its
 *                                     public key is trusted too.  Whoever holds
 *                                     it can certify peers: a development or
 *                                     bootstrap keyring, not a production one
 *   peer-secret <base64, 64 bytes>    this peer's Ed25519 seed then its X25519
 *                                     secret key
 *   peer-cert <base64, 128 bytes>     this peer's certificate (net/cert.h)
 *   revoke <16 hex digits>            a peer id refused from now on
 *   token <base64, 32 bytes>          a cluster-wide key of read tokens
 *                                     (app/peer/token.h); the first is the
 *                                     primary (it seals new tokens), every
 *                                     one opens tokens, so they rotate
 *                                     without downtime
 *
 * A ring with no token line derives one token key from its cluster-secret
 * (keyed BLAKE2b-256 of a fixed label), so peers sharing a development
 * keyring agree; a ring with neither is refused.  A token key's id is the
 * first 4 bytes, little-endian, of BLAKE2b-256 of the key (wire_key_id).
 *
 * A ring needs a trusted cluster key and either an identity (peer-secret
 * with its peer-cert) or a cluster-secret, from which an identity is derived
 * for a given replica (wire_keyring_derive_identity): that is how a laptop
 * cluster runs from one shared file with no certificate to handle.
 * docs/operations.md, "Keys", has the operator's side.
 *
 * Secrets live in sodium_malloc'd memory (guard pages, not swapped where
 * the system allows), read-only outside the calls that set them, and are
 * wiped when freed.
 */
#ifndef NET_KEYRING_H
#define NET_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_KEY_BYTES 32u          /* symmetric keys, public keys, seeds */
#define WIRE_CLUSTER_KEYS_MAX 8u    /* trusted cluster keys per ring */
#define WIRE_TOKEN_KEYS_MAX 8u      /* token keys per ring */
#define WIRE_REVOKED_MAX 4096u      /* revoked peer ids per ring */
/* Bytes wire_keyring_generate and wire_keyring_issue need at most. */
#define WIRE_KEYRING_TEXT_MAX 2048u

typedef struct wire_keyring wire_keyring;

/*
 * Parses keyring text (len bytes, need not be NUL-terminated).
 * Returns 0, CARTD_EKEYRING (an unknown kind, a value of the wrong form or
 * size, a repeated entry, a limit above exceeded, no trusted cluster key, a
 * peer-secret without its peer-cert or the other way round, or a
 * certificate that does not match the secret or no trusted key signed),
 * CARTD_EINVAL (NULL arguments), CARTD_ENOMEM or CARTD_ECRYPTO.
 * On failure *out = NULL, nothing is left allocated, and err (crdt/error.h)
 * receives what is wrong, with "line N: " first when one line is at fault;
 * it never quotes a value.  Release with wire_keyring_free.
 */
int wire_keyring_parse(const char *text, size_t len, wire_keyring **out, char *err,
                       size_t errlen);

/* Wipes and frees the ring.  NULL-safe. */
void wire_keyring_free(wire_keyring *ring);

/* Does the ring hold this peer's identity (given or derived)? */
bool wire_keyring_has_identity(const wire_keyring *ring);

/* Can the ring certify peers (it holds a cluster-secret)? */
bool wire_keyring_can_certify(const wire_keyring *ring);

/*
 * Gives a ring that has no identity but a cluster-secret the identity of
 * replica replica_id: keys derived from (cluster secret, replica id), so
 * the same replica gets the same identity on every start, and a certificate
 * signed with the cluster secret.  0, CARTD_EKEYRING (no cluster secret, or
 * the ring already has an identity) or CARTD_EINVAL.
 */
int wire_keyring_derive_identity(wire_keyring *ring, uint64_t replica_id);

/* This peer's id (wire_cert_id of its certificate); 0 without identity. */
uint64_t wire_keyring_self_id(const wire_keyring *ring);

/* This peer's certificate (WIRE_CERT_LEN bytes), or NULL without identity.
 * Owned by the ring. */
const uint8_t *wire_keyring_cert(const wire_keyring *ring);

/* This peer's Ed25519 secret key (64 bytes) and X25519 secret key
 * (32 bytes), or NULL without identity.  Owned by the ring. */
const uint8_t *wire_keyring_sign_sk(const wire_keyring *ring);
const uint8_t *wire_keyring_kx_sk(const wire_keyring *ring);

/* Trusted cluster public keys: n of them, WIRE_KEY_BYTES each, contiguous. */
const uint8_t *wire_keyring_cluster_keys(const wire_keyring *ring, size_t *n);

/* Is peer id on the revocation list? */
bool wire_keyring_revoked(const wire_keyring *ring, uint64_t id);
size_t wire_keyring_revoked_count(const wire_keyring *ring);

/* Token keys (>= 1): their number, the i-th (i = 0 is the primary; NULL
 * when out of range), the primary with its id into *id when id is not
 * NULL, and the one with an id, or NULL.  WIRE_KEY_BYTES bytes each, owned
 * by the ring. */
size_t wire_keyring_token_count(const wire_keyring *ring);
const uint8_t *wire_keyring_token(const wire_keyring *ring, size_t i);
const uint8_t *wire_keyring_token_primary(const wire_keyring *ring, uint32_t *id);
const uint8_t *wire_keyring_token_find(const wire_keyring *ring, uint32_t id);

/* The SipHash key of a token key (app/peer/token.h's MAC since version 3):
 * WIRE_TOKEN_MAC_KEY_BYTES of keyed BLAKE2b, under the token key, of the
 * label "cartd token siphash key v3"; of the primary (its id into *id when
 * id is not NULL) or of the token key with an id (NULL if none). */
#define WIRE_TOKEN_MAC_KEY_BYTES 16u
const uint8_t *wire_keyring_token_mac_primary(const wire_keyring *ring, uint32_t *id);
const uint8_t *wire_keyring_token_mac_find(const wire_keyring *ring, uint32_t id);

/* Id of a raw key: first 4 bytes (LE) of BLAKE2b-256(key). */
uint32_t wire_key_id(const uint8_t key[WIRE_KEY_BYTES]);

/*
 * Writes a new development keyring: a fresh cluster-secret, its
 * cluster-key, a fresh token key and comments, NUL-terminated, for
 * `cartctl keygen`.  Every peer may share it.  Returns 0, CARTD_ENOSPC
 * (cap < WIRE_KEYRING_TEXT_MAX is always refused) or CARTD_ECRYPTO.
 */
int wire_keyring_generate(char *out, size_t cap);

/*
 * Writes the keyring of a new peer, certified by cluster (a ring holding a
 * cluster-secret): every trusted cluster-key and token of cluster, its
 * revocations, a fresh peer-secret and its peer-cert; no cluster-secret.
 * *id receives the new peer's id.  Returns 0, CARTD_EKEYRING (cluster
 * cannot certify), CARTD_ENOSPC (cap < WIRE_KEYRING_TEXT_MAX, or the text
 * does not fit) or CARTD_ECRYPTO.
 */
int wire_keyring_issue(const wire_keyring *cluster, char *out, size_t cap, uint64_t *id);

#endif
