/*
 * store_digest.h - the pieces of a stored cart's digest that the store
 * keeps up to date incrementally (see crdt_store_cart_digest in store.h for
 * the definition).  Not part of the API.
 *
 * A cart's live entries enter its digest through one 64-bit sum: the sum,
 * modulo 2^64, of a keyed hash of every live entry (its sku and its whole
 * entry word).  Entries are unique by dot, so the sum is a hash of the set of
 * entries; adding or removing an entry adds or subtracts its hash.  A write
 * therefore rehashes only the line it touched, and a join only the lines the
 * delta names (its lines and its deferred removes) and the entries its
 * context removes, never the whole cart.  The context and the deferred
 * removes (rare, small) are hashed whole.  Every function here is pure and cannot fail (a join into a cart of
 * more than 256 lines borrows a little heap, and works without it too).
 */
#ifndef CRDT_STORE_DIGEST_H
#define CRDT_STORE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/cart.h"

/* Sum of the entry hashes of one line; 0 for NULL (no such line). */
uint64_t store_line_sum(const crdt_line *l);
/* Sum of the entry hashes of every line of c. */
uint64_t store_cart_sum(const crdt_cart *c);

/*
 * What crdt_cart_join(dst, src) is about to take out of dst's sum: every
 * line of dst whose sku src names, in a line or a deferred remove (it is
 * rehashed whole afterwards, see store_join_readded), and every other entry
 * of dst whose dot src's context holds (the join drops exactly those: dst's
 * own deferred removes never name dots of its context).  Call before the
 * join.  disjoint is crdt_ctx_disjoint(&src->ctx, &dst->ctx), which the
 * store asks before it calls this.
 */
uint64_t store_join_removed(const crdt_cart *dst, const crdt_cart *src, bool disjoint);
/* After the join: the sums of the lines of dst (now joined) whose sku src
 * names.  new sum = old sum - removed + readded. */
uint64_t store_join_readded(const crdt_cart *dst, const crdt_cart *src);

/*
 * The digest from its parts: SipHash-2-4 (fixed public key) of str(id),
 * the canonical encoding of c's context, the entry sum as u64le, c's
 * deferred removes (varint count, then str(sku) and the dots' encoding of
 * each), and its idempotency records and close markers in their cart
 * encoding (codec.h).  id_len is 1..CRDT_MAX_NAME.  Allocates nothing and
 * cannot fail.
 */
uint64_t store_digest_finish(const char *id, size_t id_len, const crdt_cart *c, uint64_t sum);

#endif
