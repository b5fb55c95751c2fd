/*
 * codec.h - canonical binary encoding of contexts and carts (a delta is a
 * cart), and a strict decoder.
 *
 * Canonical: two equal values encode to identical bytes, and the decoder
 * accepts only that form, so a cart's digest is a hash of its encoding.
 *
 *   ctx   := varint nranges, nranges * (u64le replica, varint lo, varint hi-lo)
 *   cart  := ctx, varint nlines, nlines * line, varint ndefer, ndefer * defer,
 *            varint nkeys, nkeys * key, varint ncloses, ncloses * close
 *   line  := varint sku_len, sku bytes, varint nentries,
 *            nentries * (u64le replica, varint counter, u8 kind, varint value)
 *   defer := varint sku_len, sku bytes, ctx   (sorted by sku; ctx non-empty
 *            and disjoint from the cart's)
 *   key   := 16 bytes hash, u64le replica, varint counter, varint at_ms,
 *            varint until_ms - at_ms   (sorted, unique, pruned: cart.h)
 *   close := u64le id replica, varint id counter, u64le key replica,
 *            varint key counter, varint at_ms, varint total, varint nlines,
 *            nlines * line   (lines sorted by sku; their dots need not be in
 *            the context: they are the frozen copy of an order)
 *
 * That is cart format version 3 (CRDT_CART_V3).  Version 2 ends after the
 * deferred removes, version 1 after the lines; both are read only to load
 * old data dirs (app/peer/db.c upgrades them).  A version-2 cart encodes in
 * version 3 as its bytes followed by two zero bytes, a version-1 cart as
 * its bytes followed by three.
 *
 * The decoder reads through a buf_reader (cursor and end), checks the bytes
 * left before every read, checks every count against the bytes left before
 * allocating, and enforces every invariant of context.h and cart.h plus the
 * CRDT_DECODE_* limits.  It never over-reads, and on any error frees what it
 * built and leaves the output empty.
 */
#ifndef CRDT_CODEC_H
#define CRDT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/context.h"

/* Smallest encodings, used to bound counts by the bytes left. */
#define CRDT_MIN_RANGE_BYTES 10u
#define CRDT_MIN_LINE_BYTES 3u
#define CRDT_MIN_ENTRY_BYTES 11u
#define CRDT_MIN_DEFER_BYTES 13u   /* 1-byte sku and a one-range context */
#define CRDT_MIN_KEYREC_BYTES 27u
#define CRDT_MIN_CLOSE_BYTES 24u   /* with one line of one entry at least */

/* Cart format versions (see above). */
#define CRDT_CART_V1 1
#define CRDT_CART_V2 2
#define CRDT_CART_V3 3

void crdt_encode_ctx(buf_writer *w, const crdt_ctx *c);
void crdt_encode_cart(buf_writer *w, const crdt_cart *c);
/* Exact encoded sizes, without encoding. */
size_t crdt_ctx_encoded_size(const crdt_ctx *c);
size_t crdt_cart_encoded_size(const crdt_cart *c);
size_t crdt_line_encoded_size(const crdt_line *l);

/* Decode one value at r's cursor; out must be initialised and is replaced.
 * Returns 0 or CARTD_ETRUNC, CARTD_EVARINT, CARTD_EORDER, CARTD_ENONCANON,
 * CARTD_ELIMIT, CARTD_EBADVALUE, CARTD_ESKU, CARTD_ENOMEM.  On error the
 * cursor position is unspecified and out is empty. */
int crdt_decode_ctx(buf_reader *r, crdt_ctx *out);
int crdt_decode_cart(buf_reader *r, crdt_cart *out);

/* Whole-buffer forms: as above, and CARTD_ETRAILING if bytes remain. */
int crdt_ctx_from_bytes(const void *data, size_t len, crdt_ctx *out);
int crdt_cart_from_bytes(const void *data, size_t len, crdt_cart *out);
/* The same for a cart in format version (CRDT_CART_V1, _V2 or _V3;
 * anything else: CARTD_EINVAL). */
int crdt_cart_from_bytes_version(const void *data, size_t len, int version, crdt_cart *out);

/* 64-bit digest of a stored cart: SipHash-2-4 (fixed key, the same on every
 * peer) of str(id) followed by the cart's canonical encoding.  The id is in
 * the hash because bucket digests XOR their carts' digests: two carts with
 * equal contents must not cancel out.  scratch is reused between calls to
 * avoid allocation; it holds the encoding afterwards. */
int crdt_cart_digest(const char *id, size_t id_len, const crdt_cart *c,
                     buf_writer *scratch, uint64_t *out);
/* Hash of a name (cart id) used for buckets and the store's table. */
uint64_t crdt_name_hash(const char *s, size_t len);

#endif
