/*
 * context.h - causal context: the set of dots a replica has seen for one cart.
 *
 * A dot is (replica id, counter); counters are per (replica, cart) and start
 * at 1.  The set is kept as sorted, disjoint, non-adjacent ranges
 * [lo, hi] per replica.  A range that starts at 1 is the version-vector part;
 * any further ranges are the "dot cloud" left by out-of-order arrival, which
 * joins into the first range as gaps fill.  Ranges (rather than single dots)
 * also let a context express "everything seen except these live dots", which
 * is what join decomposition needs to ship removals in bounded pieces.
 *
 * The representation is canonical: equal sets of dots have identical range
 * arrays, so encodings compare byte for byte.  No I/O, no globals.
 */
#ifndef CRDT_CONTEXT_H
#define CRDT_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest counter a dot may carry (43 bits: see crdt_entry in cart.h). */
#define CRDT_MAX_COUNTER ((UINT64_C(1) << 43) - 1)

typedef struct crdt_dot {
	uint64_t replica;
	uint64_t counter;   /* 1..CRDT_MAX_COUNTER */
} crdt_dot;

typedef struct crdt_range {
	uint64_t replica;
	uint64_t lo;        /* 1 <= lo <= hi <= CRDT_MAX_COUNTER */
	uint64_t hi;
} crdt_range;

/* Ranges sorted by (replica, lo).  While cap == 0 the (at most one) range is
 * stored inline, because most carts have a single writer; use
 * crdt_ctx_ranges() rather than the union. */
typedef struct crdt_ctx {
	union {
		crdt_range one;
		crdt_range *many;
	} u;
	uint32_t n;
	uint32_t cap;
} crdt_ctx;

static inline const crdt_range *crdt_ctx_ranges(const crdt_ctx *c)
{
	return c->cap ? c->u.many : &c->u.one;
}

/* Dot order: by replica, then counter.  Returns <0, 0, >0. */
static inline int crdt_dot_cmp(crdt_dot a, crdt_dot b)
{
	if (a.replica != b.replica)
		return a.replica < b.replica ? -1 : 1;
	if (a.counter != b.counter)
		return a.counter < b.counter ? -1 : 1;
	return 0;
}

/* Empty context; never fails. */
void crdt_ctx_init(crdt_ctx *c);
/* The context holding the one dot d (1 <= d.counter <= CRDT_MAX_COUNTER),
 * stored inline: never fails, nothing to free. */
static inline void crdt_ctx_init_dot(crdt_ctx *c, crdt_dot d)
{
	c->u.one = (crdt_range){ d.replica, d.counter, d.counter };
	c->n = 1;
	c->cap = 0;
}
/* Frees heap storage and leaves c empty.  NULL-safe. */
void crdt_ctx_destroy(crdt_ctx *c);
/* Makes dst a copy of src (dst must be initialised).  0 or CARTD_ENOMEM;
 * on failure dst is unchanged. */
int crdt_ctx_copy(crdt_ctx *dst, const crdt_ctx *src);
/* Swaps two contexts' contents (handles inline storage). */
void crdt_ctx_swap(crdt_ctx *a, crdt_ctx *b);

bool crdt_ctx_contains(const crdt_ctx *c, crdt_dot d);
bool crdt_ctx_empty(const crdt_ctx *c);
bool crdt_ctx_equal(const crdt_ctx *a, const crdt_ctx *b);
/* Highest counter of replica in c, 0 if none: the next dot that replica makes
 * for this cart is max + 1. */
uint64_t crdt_ctx_max(const crdt_ctx *c, uint64_t replica);

/* Adds one dot (merging with neighbouring ranges).  0 or CARTD_ENOMEM. */
int crdt_ctx_add(crdt_ctx *c, crdt_dot d);
/* Adds a range [lo, hi] of one replica.  0, CARTD_EINVAL or CARTD_ENOMEM. */
int crdt_ctx_add_range(crdt_ctx *c, uint64_t replica, uint64_t lo, uint64_t hi);
/* dst := dst ∪ src.  0 or CARTD_ENOMEM (dst unchanged on failure); cannot
 * fail after crdt_ctx_reserve_join(dst, src). */
int crdt_ctx_join(crdt_ctx *dst, const crdt_ctx *src);
/* Makes room in dst, keeping its contents, so that crdt_ctx_join(dst, src)
 * with this src cannot fail: for a join that must not fail once another
 * part of a cart has changed.  Allocates no more than the join itself
 * would.  0 or CARTD_ENOMEM (dst unchanged). */
int crdt_ctx_reserve_join(crdt_ctx *dst, const crdt_ctx *src);
/* dst := a ∩ b (dst initialised, replaced).  0 or CARTD_ENOMEM. */
int crdt_ctx_intersect(crdt_ctx *dst, const crdt_ctx *a, const crdt_ctx *b);
/* dst := a \ b (dst initialised, replaced; it may not alias a or b).
 * 0 or CARTD_ENOMEM (dst unchanged). */
int crdt_ctx_subtract(crdt_ctx *dst, const crdt_ctx *a, const crdt_ctx *b);
/* True if no dot is in both a and b. */
bool crdt_ctx_disjoint(const crdt_ctx *a, const crdt_ctx *b);
/* Removes one dot from c (splitting a range).  0 or CARTD_ENOMEM. */
int crdt_ctx_remove(crdt_ctx *c, crdt_dot d);
/* Checks the invariants (sorted, disjoint, non-adjacent, bounds). */
bool crdt_ctx_valid(const crdt_ctx *c);
/* Number of dots in c, saturating at UINT64_MAX. */
uint64_t crdt_ctx_count(const crdt_ctx *c);

#endif
