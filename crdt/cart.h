/*
 * cart.h - one shopping cart as an add-wins observed-remove set of line
 * entries with a causal context (an ORSWOT, delta-state flavour).
 *
 * A live entry is (sku, dot, kind, value).  A line is the live entries of one
 * sku; its quantity is max(values of its SET entries, or 0) + sum(values of
 * its ADD entries), clamped to CRDT_MAX_QTY.  A line with no live entries does
 * not exist.  An entry whose dot is in the context but not live was removed.
 *
 * Every mutator returns the delta it produced: a (partial) cart whose entries
 * are the new entries and whose context is the new dot plus every dot the
 * operation removed.  Joining deltas in any order, any number of times, gives
 * the same cart as joining the full state.
 *
 * A cart may also hold deferred removes (crdt_defer): a remove under a
 * client's token names dots this replica has not received yet; an entry of
 * that line with one of those dots is dropped when it arrives, and the dot
 * leaves the deferred set as it enters the context (docs/semantics.md §5).
 *
 * Atomicity: every function that modifies a cart either succeeds or returns
 * an error leaving the cart exactly as it was.  No I/O, clock or globals.
 */
#ifndef CRDT_CART_H
#define CRDT_CART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/context.h"

/* Limits (see docs/semantics.md).  Local writes past them fail with a named
 * error.  Concurrent writers, each within the local limits, can together
 * exceed them, and every state joins can reach must survive its own encoding
 * (peers persist and reload carts that way), so the decoder's limits are the
 * structure's own maxima and join refuses (CARTD_ELIMIT) to go past them. */
#define CRDT_MAX_NAME 128          /* cart id and sku length in bytes */
#define CRDT_MAX_QTY 1000000u      /* quantity of a line, and of one operation */
#define CRDT_MAX_LINES 1000u       /* distinct skus a local add may create */
#define CRDT_MAX_LINE_ENTRIES 1024u /* live entries of a line past which a local add
                                      is refused (CARTD_ELINEFULL): set instead */
#define CRDT_DECODE_MAX_LINES 262144u
#define CRDT_DECODE_MAX_ENTRIES 65535u   /* crdt_line.n is 16 bits */

enum crdt_kind { CRDT_ADD = 0, CRDT_SET = 1 };

/* 16 bytes: the counter (43 bits), kind (1 bit) and value (20 bits: the
 * quantity limit fits) share one word, because carts are held in memory by
 * the million.  Use the accessors. */
typedef struct crdt_entry {
	uint64_t replica;
	uint64_t packed;
} crdt_entry;

static inline uint64_t crdt_entry_counter(const crdt_entry *e) { return e->packed >> 21; }
static inline unsigned crdt_entry_kind(const crdt_entry *e) { return (unsigned)(e->packed >> 20) & 1u; }
static inline uint32_t crdt_entry_value(const crdt_entry *e) { return (uint32_t)(e->packed & 0xFFFFFu); }
static inline crdt_dot crdt_entry_dot(const crdt_entry *e)
{
	crdt_dot d = { e->replica, crdt_entry_counter(e) };
	return d;
}
/* Builds an entry; the caller guarantees counter <= CRDT_MAX_COUNTER,
 * kind is 0 or 1 and value <= CRDT_MAX_QTY. */
static inline crdt_entry crdt_entry_make(crdt_dot d, unsigned kind, uint32_t value)
{
	crdt_entry e = { d.replica, (d.counter << 21) | ((uint64_t)(kind & 1u) << 20) | value };
	return e;
}

/* Skus up to this long live in the line itself: no allocation per line,
 * and a search by sku compares within the line array instead of following
 * a pointer per probe.  Longer ones are on the heap. */
#define CRDT_LINE_INLINE_SKU 15

typedef struct crdt_line {
	union {
		crdt_entry one;     /* when cap == 0: the single entry */
		crdt_entry *many;   /* when cap > 0: n entries */
	} u;
	union {                 /* read through crdt_line_sku() */
		char in[CRDT_LINE_INLINE_SKU + 1];  /* sku_len <= CRDT_LINE_INLINE_SKU */
		char *heap;                          /* longer skus */
	} sku_mem;
	uint16_t n;             /* live entries, >= 1, sorted by dot */
	uint16_t cap;
	uint8_t sku_len;
	uint8_t qty[3];         /* crdt_line_qty, little-endian, set with the
	                           entries: rendering a cart then costs nothing
	                           per entry.  24 bits fill the padding. */
} crdt_line;

/* The line's sku: sku_len bytes of CRDT name chars, NUL-terminated.  A
 * short sku is stored in the line, so the pointer is only valid until the
 * cart's lines next change (a write or join moves them). */
static inline const char *crdt_line_sku(const crdt_line *l)
{
	return l->sku_len <= CRDT_LINE_INLINE_SKU ? l->sku_mem.in : l->sku_mem.heap;
}

/* Deferred remove of line sku: dots a token covered that the replica had
 * not seen.  dots is non-empty and disjoint from the cart's context. */
typedef struct crdt_defer {
	char *sku;              /* NUL-terminated, sku_len bytes */
	uint8_t sku_len;
	crdt_ctx dots;
} crdt_defer;

/* The deferred removes of a cart, sorted by sku; one heap block, absent
 * (NULL) in almost every cart, so carts pay 8 bytes for the feature. */
typedef struct crdt_defers {
	uint32_t n;             /* >= 1 */
	crdt_defer v[];
} crdt_defers;

/*
 * Idempotency records (docs/semantics.md §10).  A write sent with a client's
 * idempotency key gets its dot from the key rather than from a counter: the
 * caller derives dot = H(cart, key, request) (app/shared/idem.c), so every attempt
 * of one request, at any peer, makes the same entry, which ORSWOT joins as
 * one, and a remove of one attempt is a remove of all.  The record ties the
 * key to that dot, so a different request with the same key can be refused
 * while the record is kept.
 *
 * Records are part of the cart state and join by union, then by the prune
 * rule, which depends only on the records themselves (so every replica
 * keeps the same ones): with T the largest at_ms of the cart's records,
 * drop every record whose until_ms < T, then keep the CRDT_MAX_KEYS
 * greatest by (at_ms, hash, dot).  Whatever a subset of records prunes, a
 * superset prunes too, which is what makes prune-after-union a join.
 */
#define CRDT_KEY_HASH_BYTES 16
#define CRDT_MAX_KEYS 64u          /* records a cart keeps (the newest) */
typedef struct crdt_keyrec {
	uint8_t hash[CRDT_KEY_HASH_BYTES]; /* hash of the client's key string */
	crdt_dot dot;           /* the write's dot (H(cart, key, request)) */
	uint64_t at_ms;         /* origin's clock when the write was first applied */
	uint64_t until_ms;      /* >= at_ms: kept at least until then */
} crdt_keyrec;

/* Sorted by (hash, dot); unique; pruned (above); n >= 1. */
typedef struct crdt_keys {
	uint32_t n;
	crdt_keyrec v[];
} crdt_keys;

/*
 * Close markers (checkout, docs/semantics.md §11).  A checkout freezes a
 * copy of the entries it closed over: the order.  Later removes of those
 * entries (made where the close had not arrived) change the live lines, not
 * the order.  A marker may travel in fragments (each holding part of the
 * order's entries; crdt_cart_split); fragments of one marker join by union
 * of their entries, and the marker is complete when it holds total entries.
 * Markers are never removed; two checkouts of one cart at two peers give
 * two markers, and both orders stay.
 */
#define CRDT_MAX_CLOSES 16u        /* markers a cart may hold (concurrent checkouts) */
typedef struct crdt_close {
	crdt_dot id;            /* the checkout's own dot (a counter dot of its peer) */
	crdt_dot key;           /* dot of the checkout's idempotency key, or {0, 0} */
	uint64_t at_ms;         /* closing peer's clock */
	uint32_t total;         /* entries of the complete order, >= 1 */
	crdt_line *lines;       /* the order's entries held so far, by sku; n >= 1 */
	uint32_t n;
} crdt_close;

/* Sorted by (id, key, at_ms, total): one marker per checkout, n >= 1. */
typedef struct crdt_closes {
	uint32_t n;
	crdt_close v[];
} crdt_closes;

typedef struct crdt_cart {
	crdt_ctx ctx;
	crdt_line *lines;       /* sorted by sku (crdt_name_cmp) */
	uint32_t n;
	uint32_t cap;
	crdt_defers *defer;     /* NULL when there is none */
	crdt_keys *keys;        /* NULL when there is none */
	crdt_closes *closes;    /* NULL while the cart is open */
} crdt_cart;

static inline uint32_t crdt_cart_ndefer(const crdt_cart *c)
{
	return c->defer ? c->defer->n : 0;
}
static inline uint32_t crdt_cart_nkeys(const crdt_cart *c)
{
	return c->keys ? c->keys->n : 0;
}
static inline uint32_t crdt_cart_ncloses(const crdt_cart *c)
{
	return c->closes ? c->closes->n : 0;
}
/* Closed: some checkout has reached this replica; local writes are refused. */
static inline bool crdt_cart_closed(const crdt_cart *c)
{
	return c->closes != NULL;
}
/* Entries a marker holds so far; complete when equal to m->total. */
uint32_t crdt_close_held(const crdt_close *m);

static inline const crdt_entry *crdt_line_entries(const crdt_line *l)
{
	return l->cap ? l->u.many : &l->u.one;
}

/* Name order used for skus (and cart ids): bytewise, shorter first on a tie
 * of the common prefix.  Returns <0, 0, >0. */
int crdt_name_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* 0 if s is 1..CRDT_MAX_NAME bytes of [A-Za-z0-9._~:@-], else CARTD_EID. */
int crdt_check_id(const char *s, size_t len);
/* Same rule; CARTD_ESKU on failure. */
int crdt_check_sku(const char *s, size_t len);

void crdt_cart_init(crdt_cart *c);
/* Frees everything; c is left empty and reusable.  NULL-safe. */
void crdt_cart_destroy(crdt_cart *c);
/* dst := deep copy of src; dst initialised, its old contents freed on
 * success.  0 or CARTD_ENOMEM (dst unchanged). */
int crdt_cart_copy(crdt_cart *dst, const crdt_cart *src);
bool crdt_cart_equal(const crdt_cart *a, const crdt_cart *b);
/* True if the cart has no lines, no deferred removes and an empty context. */
bool crdt_cart_empty(const crdt_cart *c);
/* Checks every invariant (order, non-empty lines, dots unique and covered by
 * the context, value bounds).  For tests and the decoder. */
bool crdt_cart_valid(const crdt_cart *c);

/* The line for sku, or NULL. */
const crdt_line *crdt_cart_find(const crdt_cart *c, const char *sku, size_t len);
/* Quantity of a line by the rule above (kept with the entries: O(1);
 * inline, read once per line of every answer rendered). */
static inline uint32_t crdt_line_qty(const crdt_line *l)
{
	return (uint32_t)l->qty[0] | (uint32_t)l->qty[1] << 8 | (uint32_t)l->qty[2] << 16;
}

/*
 * Mutators.  self is the local replica id; delta, if not NULL, must be an
 * initialised cart and is replaced with the operation's delta (left empty on
 * error or when the operation changed nothing).
 *
 * add: quantity n (1..CRDT_MAX_QTY) as a new ADD entry.  Refused with
 *   CARTD_ELINEFULL when the line already holds CRDT_MAX_LINE_ENTRIES live
 *   entries: entries are never folded (two folds meeting by max lose adds),
 *   so the client sets the quantity instead.
 * set: q (1..CRDT_MAX_QTY) replaces every observed entry of the sku with one
 *   SET entry; q == 0 is remove.
 * remove: removes the observed entries of the sku.  With observed != NULL
 *   (a client's read token) it removes exactly what observed covers: the
 *   covered entries the cart holds now, and, as a deferred remove of this
 *   sku, the covered dots the cart has not seen yet.
 * clear: removes every observed entry of the cart; with observed, every
 *   covered entry, and the covered dots not seen yet join the context, so
 *   they arrive removed whatever their line.
 * observed must only name dots that exist (tokens are authenticated and
 * cover only durable writes: app/peer/token.h); crdt_store_apply also refuses
 * one naming the local replica's own future dots.
 * Errors: CARTD_ESKU, CARTD_EQTY, CARTD_ELINES (add/set creating a line past
 * CRDT_MAX_LINES), CARTD_ELINEFULL, CARTD_ECOUNTER, CARTD_ENOMEM.
 */
int crdt_cart_add(crdt_cart *c, uint64_t self, const char *sku, size_t len,
                  uint32_t n, crdt_cart *delta);
int crdt_cart_set(crdt_cart *c, uint64_t self, const char *sku, size_t len,
                  uint32_t q, crdt_cart *delta);
int crdt_cart_remove(crdt_cart *c, const char *sku, size_t len,
                     const crdt_ctx *observed, crdt_cart *delta);
int crdt_cart_clear(crdt_cart *c, const crdt_ctx *observed, crdt_cart *delta);

/*
 * One local write, as crdt_cart_apply (and crdt_store_apply) take it.
 *
 * CRDT_OP_CLOSE is a checkout: it freezes the live entries the client saw
 * (all of them without a token; with observed, those whose dots observed
 * covers) into a close marker with a new dot of self as its id and
 * now_ms as its time.  The answer to a checkout is that marker's order.
 */
enum crdt_op_kind { CRDT_OP_ADD, CRDT_OP_SET, CRDT_OP_REMOVE, CRDT_OP_CLEAR, CRDT_OP_CLOSE };
typedef struct crdt_op {
	enum crdt_op_kind kind;
	const char *sku;        /* ADD, SET, REMOVE only; not a sku of the cart
	                           written to (crdt_line_sku: it may move) */
	size_t sku_len;
	uint32_t qty;           /* ADD: 1..max; SET: 0..max */
	const crdt_ctx *observed; /* REMOVE/CLEAR/CLOSE: client's token, or NULL */
	const crdt_keyrec *key; /* idempotency record of the write, or NULL */
	uint64_t now_ms;        /* CLOSE: the marker's time */
} crdt_op;

/*
 * Applies op to c as replica self; delta as for the mutators above.
 * Checks, in this order, each refusal changing nothing:
 *  - key: a write already made under this key: a record with key->hash and
 *    key->dot, or key->dot in the context (the record may be pruned, the
 *    dot is kept forever): CARTD_EIDEMPOTENT, and the caller answers it as
 *    a replay.  A record with key->hash, another dot and until_ms >=
 *    key->at_ms: CARTD_EKEYREUSED.
 *  - a closed cart: CARTD_ECLOSED (for every kind, CLOSE too);
 *  - observed naming self's dots beyond its counter: CARTD_ETOKENFUTURE;
 *  - CLOSE: observed naming dots c has not seen: CARTD_ETOKENAHEAD (the
 *    order must be what the client saw); nothing to check out:
 *    CARTD_EEMPTYCART;
 *  - the mutators' own errors.
 * A keyed ADD or SET writes its entry at key->dot (not self's counter); a
 * keyed REMOVE, CLEAR or CLOSE puts key->dot into the context; every keyed
 * write adds the record.  key->dot must not be a dot of a real replica:
 * the caller derives it by a hash (app/shared/idem.h).
 */
int crdt_cart_apply(crdt_cart *c, uint64_t self, const crdt_op *op, crdt_cart *delta);

/* Checkout views (docs/api.md).  Each fills out (an initialised cart,
 * replaced) with lines only, context empty; 0 or CARTD_ENOMEM.
 * late_added: the live entries no marker's order holds (writes no checkout
 * saw).  late_removed: the entries of m's order that are no longer live
 * (removed by writes m did not see). */
int crdt_cart_late_added(const crdt_cart *c, crdt_cart *out);
int crdt_close_late_removed(const crdt_cart *c, const crdt_close *m, crdt_cart *out);
/* The marker of the checkout made under key dot k (the smallest id if
 * two peers ran the same keyed checkout at once), or NULL. */
const crdt_close *crdt_cart_close_by_key(const crdt_cart *c, crdt_dot k);

/*
 * dst := dst ⊔ src, the causal join: an entry survives if both sides hold it,
 * or one side holds it and the other's context has not seen its dot, and no
 * deferred remove of its line (either side's) names its dot; contexts union;
 * deferred removes union, minus the joined context.  Commutative,
 * associative, idempotent.  changed (may be NULL) is set
 * to whether dst changed.  0, CARTD_ENOMEM, or CARTD_ELIMIT when the result
 * would exceed CRDT_DECODE_MAX_LINES or _ENTRIES (dst unchanged).
 * src must be valid (crdt_cart_valid); the decoder guarantees that for
 * anything received.
 */
int crdt_cart_join(crdt_cart *dst, const crdt_cart *src, bool *changed);

/*
 * Join decomposition.  Splits c into pieces whose canonical encoding is at
 * most budget bytes each, each independently mergeable: joining any subset of
 * the pieces, in any order, into any replica never loses a live entry of
 * that replica that c has not removed and never brings back one c removed.
 * Joining all of them gives c.  Pieces carry either live entries with exactly
 * their own dots, or removed dots only.
 *
 * On success *pieces is a heap array of *count initialised carts, owned by
 * the caller (crdt_pieces_free).  budget must be >= CRDT_MIN_PIECE_BUDGET.
 * Errors: CARTD_EINVAL, CARTD_ENOMEM (then *pieces = NULL, *count = 0).
 */
#define CRDT_MIN_PIECE_BUDGET 256u
int crdt_cart_split(const crdt_cart *c, size_t budget, crdt_cart **pieces, size_t *count);
void crdt_pieces_free(crdt_cart *pieces, size_t count);

#endif
