/*
 * keyring.h - the shared AEAD keys of a cluster, loaded from text.
 *
 * Keyring text: one key per line, each the standard base64 (with padding)
 * of WIRE_KEY_BYTES random bytes.  Blank lines and lines whose first
 * non-blank character is '#' are ignored; leading and trailing blanks and
 * a CR before the newline are tolerated.  The first key is the primary: it
 * seals everything this peer sends.  Every key opens what peers send, so
 * keys rotate without downtime (docs/protocol.md, "Keyring").
 *
 * Lines of the form "token KEY" hold the cluster-wide keys of read tokens
 * (app/token.h), in the same base64 form; the first is the primary (it
 * seals new tokens) and every one opens tokens, so they rotate the same
 * way.  A keyring with no token line derives one token key from each
 * transport key (keyed BLAKE2b-256 of a fixed label), in the same order.
 *
 * A key's id is the first 4 bytes, read little-endian, of BLAKE2b-256 of the
 * key; datagrams name the key they were sealed with by this id.
 *
 * Keys live in sodium_malloc'd memory (guard pages, not swapped where the
 * system allows), read-only after loading, and are wiped when freed.
 */
#ifndef NET_KEYRING_H
#define NET_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_KEY_BYTES 32u      /* crypto_aead_xchacha20poly1305_ietf_KEYBYTES */
#define WIRE_KEYRING_MAX 32u    /* keys of each kind per ring; a rotation needs two or three */
/* Bytes wire_key_format writes: 44 base64 chars, '\n', NUL. */
#define WIRE_KEY_LINE_MAX 46u
/* Bytes wire_keyring_generate needs at most, NUL included. */
#define WIRE_KEYRING_TEXT_MAX 384u

typedef struct wire_keyring wire_keyring;

/*
 * Parses keyring text (len bytes, need not be NUL-terminated).
 * Returns 0, CARTD_EKEYRING (a line is not base64, does not hold exactly
 * WIRE_KEY_BYTES bytes, repeats a key or a key id, more than
 * WIRE_KEYRING_MAX keys of a kind, or no transport key at all), CARTD_EINVAL (NULL arguments),
 * CARTD_ENOMEM or CARTD_ECRYPTO (libsodium failed to initialise).
 * On failure *out = NULL and nothing is left allocated.  The caller owns
 * the ring; release with wire_keyring_free.
 */
int wire_keyring_parse(const char *text, size_t len, wire_keyring **out);

/* Wipes and frees the ring.  NULL-safe. */
void wire_keyring_free(wire_keyring *ring);

/* Number of keys (>= 1). */
size_t wire_keyring_count(const wire_keyring *ring);

/* Id of the primary (sending) key. */
uint32_t wire_keyring_primary_id(const wire_keyring *ring);

/* The primary key (WIRE_KEY_BYTES bytes, owned by the ring, valid until
 * wire_keyring_free); its id into *id when id is not NULL. */
const uint8_t *wire_keyring_primary(const wire_keyring *ring, uint32_t *id);

/* The key with this id, or NULL.  Owned by the ring. */
const uint8_t *wire_keyring_find(const wire_keyring *ring, uint32_t id);

/* Token keys (>= 1, derived or from "token" lines): their number, the
 * primary (its id into *id when id is not NULL) and the one with an id, or
 * NULL.  WIRE_KEY_BYTES bytes each, owned by the ring. */
size_t wire_keyring_token_count(const wire_keyring *ring);
const uint8_t *wire_keyring_token_primary(const wire_keyring *ring, uint32_t *id);
const uint8_t *wire_keyring_token_find(const wire_keyring *ring, uint32_t id);

/* Id of a raw key: first 4 bytes (LE) of BLAKE2b-256(key). */
uint32_t wire_key_id(const uint8_t key[WIRE_KEY_BYTES]);

/*
 * Writes key as one keyring line: base64, '\n', NUL (WIRE_KEY_LINE_MAX
 * bytes).  Returns 0 or CARTD_ENOSPC (cap too small; out untouched).
 */
int wire_key_format(const uint8_t key[WIRE_KEY_BYTES], char *out, size_t cap);

/*
 * Writes a new keyring text holding one fresh random transport key and one
 * fresh token key (randombytes_buf) and a comment, NUL-terminated, for `cartctl keygen`.  The key is wiped
 * from every temporary; out holds the only copy.  Returns 0, CARTD_ENOSPC
 * (cap < WIRE_KEYRING_TEXT_MAX is always refused) or CARTD_ECRYPTO.
 */
int wire_keyring_generate(char *out, size_t cap);

#endif
