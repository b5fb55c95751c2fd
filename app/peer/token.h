/*
 * token.h - the opaque context token a client gets with every cart read and
 * may hand back to DELETE, so that a remove or clear takes away exactly
 * what the client saw (DESIGN.md section 3, docs/api.md "Context tokens").
 *
 * A token is the URL-safe base64, without padding, of
 *
 *   u8 version (3) | u32le key id | u32le cart tag | context | 16-byte MAC
 *
 * context is the canonical encoding of the observed causal context
 * (crdt_encode_ctx); cart tag is the low 32 bits of crdt_name_hash(cart id);
 * the MAC is SipHash-2-4 with 128-bit output, under the SipHash key of the
 * keyring's token key of that id (wire_keyring_token_mac_find), of every
 * byte before the MAC, then the cart id, then the id's length as one byte.
 * So a token names its cart, cannot be edited, and verifies at every peer
 * of the cluster (the token keys are cluster-wide, net/keyring.h).  The
 * MAC is what makes deferred removes safe: a token could otherwise claim
 * dots that were never issued and swallow future writes.
 *
 * SipHash-2-4 is a PRF made for authenticating short inputs, and a token's
 * input is a few dozen bytes: it costs a fifth of keyed BLAKE2b, which
 * compresses the key's block and then the input's, and every answer that
 * carries a cart seals a token.  Version 2, sealed until then, had a keyed
 * BLAKE2b-128 MAC, under the token key itself, of the label "cartd read
 * token v2" (with its NUL), the id's length, the id and the bytes before
 * the MAC; tokens of version 2 still open, so that none a client holds
 * breaks when its peers are upgraded.
 *
 * Decoding is strict: alphabet, no padding, nothing trailing, canonical
 * context.  Errors name what is wrong, checked in this order:
 *   CARTD_ETOKEN       empty, too long, not base64url, too short, unknown
 *                      version, or (after the MAC) a non-canonical context
 *   CARTD_ETOKENKEY    sealed under a key this keyring no longer holds
 *   CARTD_ETOKENCART   issued for another cart
 *   CARTD_ETOKENMAC    the MAC does not verify: edited or forged
 */
#ifndef APP_TOKEN_H
#define APP_TOKEN_H

#include <stddef.h>

#include "crdt/cart_id.h"
#include "crdt/context.h"
#include "net/keyring.h"

/* Longest token accepted (characters): bounds the work a request can ask
 * for before anything is allocated. */
#define TOKEN_MAX_CHARS ((size_t)48 << 10)
#define TOKEN_VERSION 3u   /* sealed now; version 2 opens too */
#define TOKEN_MAC_BYTES 16u
/* version, key id, cart tag, MAC: the bytes a token adds to its context. */
#define TOKEN_OVERHEAD (1u + 4u + 4u + TOKEN_MAC_BYTES)

/*
 * Seals context c for cart (checked and hashed, cart_id.h) under ring's
 * primary token key into a NUL-terminated token in a new heap string
 * (*out, the caller frees it).  0, CARTD_ENOMEM, or CARTD_EINVAL when c
 * does not encode to crdt_ctx_encoded_size (a broken codec); *out = NULL
 * on error.
 */
int token_seal(const wire_keyring *ring, const crdt_id *cart, const crdt_ctx *c, char **out);

/*
 * token_seal into room (room_len bytes, the NUL included) when the token
 * fits, else into a new heap string: *out is room or a string the caller
 * frees.  A cart's token is a few dozen characters, and every answer that
 * carries a cart seals one.
 */
int token_seal_in(const wire_keyring *ring, const crdt_id *cart, const crdt_ctx *c, char *room,
                  size_t room_len, char **out);

/*
 * Checks only the characters of a token (length and alphabet): what can be
 * judged without the keyring.  0 or CARTD_ETOKEN.
 */
int token_check_text(const char *s, size_t len);

/*
 * Opens len characters of s (need not be NUL-terminated) as a token for
 * cart into out, which must be initialised and is replaced.  0, the errors
 * above, or CARTD_ENOMEM; on error out is empty.
 */
int token_open(const wire_keyring *ring, const crdt_id *cart, const char *s, size_t len,
               crdt_ctx *out);

#endif
