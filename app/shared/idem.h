/*
 * idem.h - the Idempotency-Key request header: its grammar, and the
 * idempotency record (crdt_keyrec, crdt/cart.h) a keyed write carries.
 *
 * The header (IETF httpapi draft "The Idempotency-Key HTTP Header Field")
 * is an RFC 8941 Item whose value is a String: "..." of printable ASCII
 * (0x20-0x7E) in which only \" and \\ are escapes.  A bare token of
 * [A-Za-z0-9._~:@/+=-] is accepted too, since clients commonly send one;
 * "abc" and abc are the same key.  The key (the string's value) is 1 to
 * IDEM_KEY_MAX bytes.  Parameters (;x=1) and anything else are refused:
 * a key that two parsers could read two ways would break the promise that
 * a retry is recognised.
 *
 * The record is derived so that every attempt of one request, at any peer,
 * gives the same dot, and another request under the same key another dot:
 *
 *   hash    = BLAKE2b-128 under IDEM_HASH_LABEL of the key bytes
 *   h       = BLAKE2b-128 under IDEM_DOT_LABEL of
 *             u32le len, cart id | u32le len, key | u8 op kind |
 *             u32le len, sku | u32le qty | crdt_encode_ctx(token) or nothing
 *             (sku only for add, set and remove; qty only for add and set)
 *   dot     = { le64(h[0..8]) (0 becomes 1), 1 + le64(h[8..16]) % CRDT_MAX_COUNTER }
 *   at_ms   = the peer's wall clock; until_ms = at_ms + the peer's window
 *
 * A hash is not a replica id, but with 64 random bits a clash with one of
 * the cluster's replicas is as unlikely as two replicas clashing.
 */
#ifndef APP_IDEM_H
#define APP_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/cart.h"

#define IDEM_KEY_MAX 255u                 /* bytes of a key's value */
#define IDEM_HEADER_MAX 1024u             /* header characters looked at */
#define IDEM_WINDOW_DEFAULT_S 86400u      /* --idempotency-window: 24 h */
#define IDEM_WINDOW_MIN_S 1u
#define IDEM_WINDOW_MAX_S 31536000u       /* a year */
#define IDEM_HASH_LABEL "cartd-idem-key-v1"
#define IDEM_DOT_LABEL "cartd-idem-dot-v1"

/*
 * Parses a header value (len bytes, need not be NUL-terminated; optional
 * whitespace around it is allowed) into the key's bytes: out (at least
 * IDEM_KEY_MAX bytes) and *out_len.  0, or CARTD_EINVAL with *out_len = 0
 * for anything that is not a String or bare token of 1..IDEM_KEY_MAX
 * bytes.
 */
int idem_parse(const char *v, size_t len, char *out, size_t *out_len);

/*
 * The record of a keyed write: op (kind, sku, qty, observed) on cart under
 * key, applied at wall clock now_ms by a peer keeping keys window_ms.
 * op->key and op->now_ms are not read.  0, or CARTD_EINVAL (empty or
 * overlong key, unknown kind, or now_ms + window_ms past UINT64_MAX) or
 * CARTD_ENOMEM; *out is zeroed on error.
 */
int idem_record(const char *cart, size_t cart_len, const char *key, size_t key_len,
                const crdt_op *op, uint64_t now_ms, uint64_t window_ms, crdt_keyrec *out);

#endif
