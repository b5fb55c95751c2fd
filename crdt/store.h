/*
 * store.h - many carts keyed by cart id, with per-cart digests and bucket
 * digests, settled when they are read.
 *
 * Carts live in an open-addressing hash table that grows by doubling, so it
 * scales to millions of carts.  Each cart id also maps to one of nbuckets
 * buckets (crdt_name_hash(id) % nbuckets); a bucket's digest is the XOR of
 * its carts' digests, updated incrementally (old digest out, new digest in).
 * A write only marks its cart dirty; digests are computed when read
 * (crdt_store_digest, crdt_store_bucket_digests), so a cart written many
 * times between two reads is digested once.  Anti-entropy compares bucket
 * digests first, then the carts of differing buckets, so every peer must
 * use the same nbuckets.
 *
 * Carts are never deleted: a cleared cart keeps its causal context, which is
 * what stops a stale copy from bringing its items back.  Conversely a cart
 * whose state would be empty (a remove or clear of an unknown cart, an empty
 * delta) is never created, so replicas that saw such a no-op and replicas
 * that did not hold the same carts and bucket digests.
 *
 * Memory: a cart costs its crdt_cart (cart.h) plus about 24 bytes of
 * header and its id rounded up to 8 bytes, carved from 64 KiB blocks, plus
 * 8-byte table slots at a load of 0.35..0.7.
 *
 * Pointers returned by lookups stay valid until the store is freed (carts
 * are never moved), but their contents change with the next write.
 */
#ifndef CRDT_STORE_H
#define CRDT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/cart.h"
#include "crdt/cart_id.h"

#define CRDT_DEFAULT_BUCKETS 1024u
#define CRDT_MAX_BUCKETS 65536u

typedef struct crdt_store crdt_store;

/* A stored cart as seen from outside: read-only. */
typedef struct crdt_item {
	const char *id;         /* NUL-terminated */
	size_t id_len;
	uint32_t bucket;
	const crdt_cart *cart;  /* its digest: crdt_store_digest */
} crdt_item;

/* A local operation (crdt_op, cart.h), applied by crdt_store_apply. */

/*
 * The digest of cart id as the store keeps it: SipHash-2-4 (a fixed public
 * key, the same on every peer) of str(id), the canonical encoding of the
 * cart's context, the sum modulo 2^64 of a keyed hash of each live entry
 * (its sku and entry word) as u64le, and the cart's deferred removes,
 * idempotency records and close markers in their encoding
 * (store_digest_finish in store_digest.h).  Equal carts have equal digests
 * on every peer; the id is in it because bucket digests XOR their carts'
 * digests, and two carts with equal contents must not cancel out.  The
 * store updates it incrementally; this computes it from scratch (tests,
 * tools).  id_len is 1..CRDT_MAX_NAME.  Allocates nothing; cannot fail.
 */
uint64_t crdt_store_cart_digest(const char *id, size_t id_len, const crdt_cart *c);

/* nbuckets: 1..CRDT_MAX_BUCKETS.  0, CARTD_EINVAL or CARTD_ENOMEM. */
int crdt_store_new(uint32_t nbuckets, crdt_store **out);
/* A store of one bucket that keeps no digests: its writes skip the entry
 * sums and the dirty list, and crdt_store_bucket_digests and
 * crdt_store_digest give 0 for it.  For a queue of carts that is only
 * written, read and walked, such as the push queue.  0 or CARTD_ENOMEM. */
int crdt_store_new_plain(crdt_store **out);
/* Frees the store and every cart.  NULL-safe. */
void crdt_store_free(crdt_store *s);

size_t crdt_store_count(const crdt_store *s);
uint32_t crdt_store_nbuckets(const crdt_store *s);
/* Bucket of a cart id (whether or not it is stored). */
uint32_t crdt_store_bucket_of(const crdt_store *s, const char *id, size_t len);
/* Array of nbuckets bucket digests, valid until the next write.  Settles
 * every cart written since the last call first: costs one digest per such
 * cart, nothing when none was written. */
const uint64_t *crdt_store_bucket_digests(crdt_store *s);

/* The digest of a stored cart, it filled by crdt_store_get or a walk of s
 * and no write since: crdt_store_cart_digest(it->id, it->cart), computed
 * now if the cart changed since it was last read.  Cannot fail.  Allowed
 * during a walk (it changes no cart and no bucket list). */
uint64_t crdt_store_digest(crdt_store *s, const crdt_item *it);

/* Looks up a cart.  0 and *out filled, or CARTD_ENOTFOUND (also for an id
 * that could never be stored). */
int crdt_store_get(const crdt_store *s, const char *id, size_t len, crdt_item *out);

/*
 * Applies a local operation to cart id (creating the cart if needed) as
 * replica self.  delta (may be NULL) receives the operation's delta as in
 * cart.h, and is left empty on any error.  Errors: CARTD_EID, the cart.h
 * mutator errors, CARTD_EINVAL (unknown op kind), CARTD_ENOMEM; the store is
 * unchanged on error.  The cart's digest and its bucket's digest follow at
 * their next read.
 */
int crdt_store_apply(crdt_store *s, const char *id, size_t len, uint64_t self,
                     const crdt_op *op, crdt_cart *delta);

/*
 * Joins a (remote) delta or state into cart id, creating it if needed.
 * changed (may be NULL) tells whether the stored cart changed; a delta that
 * changes nothing leaves the cart's digest as it was.  delta must be valid
 * (crdt_cart_valid), as the decoder guarantees.
 * Errors: CARTD_EID, CARTD_ENOMEM; the store is unchanged on error (and
 * *changed false).
 */
int crdt_store_join(crdt_store *s, const char *id, size_t len,
                    const crdt_cart *delta, bool *changed);

/*
 * crdt_store_get, _apply and _join for an id checked and hashed already
 * (cart_id.h): the engine marks a write pending, applies it, notes its
 * bucket and queues its push with the one hash its edge computed.  Same
 * results and errors otherwise, less CARTD_EID.
 */
int crdt_store_get_id(const crdt_store *s, const crdt_id *id, crdt_item *out);

/*
 * A hint, with no effect on any result: starts fetching into the cache
 * what a lookup of id will read, in stages (0, 1, 2) that each need the
 * one before to have arrived.  A caller with many ids to apply (a
 * replica's datagram of deltas) runs stage 0 over all of them, then 1,
 * then 2, then applies: the cache misses of a large store overlap instead
 * of coming one after another.
 */
void crdt_store_prefetch_id(const crdt_store *s, const crdt_id *id, unsigned stage);
int crdt_store_apply_id(crdt_store *s, const crdt_id *id, uint64_t self, const crdt_op *op,
                        crdt_cart *delta);
int crdt_store_join_id(crdt_store *s, const crdt_id *id, const crdt_cart *delta,
                       bool *changed);
/* crdt_store_bucket_of for an id's hash (crdt_id.hash). */
uint32_t crdt_store_bucket_of_hash(const crdt_store *s, uint64_t h);

/*
 * Calls fn for each cart of bucket b (in no particular order), stopping early
 * when fn returns non-zero, which is then returned; CARTD_EINVAL if
 * b >= nbuckets.  Costs only the bucket's carts, not the table.  The store
 * must not be modified during the walk.
 */
typedef int (*crdt_store_fn)(const crdt_item *item, void *arg);
int crdt_store_walk_bucket(const crdt_store *s, uint32_t b, crdt_store_fn fn, void *arg);
/* Calls fn for every cart, likewise. */
int crdt_store_walk(const crdt_store *s, crdt_store_fn fn, void *arg);

#endif
