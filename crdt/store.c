/*
 * store.c - many carts keyed by cart id, with bucket digests (see store.h).
 *
 * The carts live in store_table.c's arena and hash table.  Here: the digest
 * buckets (each threads its carts on a singly linked list, so anti-entropy
 * walks one bucket without scanning the table), and the writes.  A cart's
 * digest is built from its context and an entry sum that each write
 * adjusts by the lines it touched (store_digest.h), so a write costs the
 * same in a 1-line and a 50-line cart.
 *
 * Digests are settled lazily.  A write keeps the entry sum current but only
 * marks the cart dirty; the digest itself (a SipHash over the context and
 * the marks) is computed when something reads it: crdt_store_digest for
 * one cart, crdt_store_bucket_digests for all.  Anti-entropy reads them
 * once a round, so a cart written a hundred times between rounds is
 * digested once, not a hundred times; the same holds for the push queue,
 * whose digests nobody reads.
 *
 * Invariants, between calls:
 *   - a node is on the dirty list exactly when its state is not CLEAN;
 *   - digests[b] is the XOR of n->digest over bucket b's nodes, and
 *     n->digest is the digest of n's cart unless n is DIRTY.
 * Settling cannot fail: a digest is hashed as it is written out, through a
 * window on the stack (store_digest.c), and every write secures its place
 * on the dirty list before it touches the cart, because a cart mutation
 * cannot be undone, and every write either succeeds completely or leaves
 * the store as it was.
 */
#include "crdt/store.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/cart_internal.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store_digest.h"
#include "crdt/store_internal.h"

_Static_assert(CRDT_MAX_BUCKETS - 1 <= UINT16_MAX, "a node's bucket is two bytes");

struct crdt_store {
	store_table t;
	uint32_t nbuckets;
	store_ref *heads;           /* first cart of each digest bucket */
	uint64_t *digests;          /* XOR of each bucket's node digests */
	store_ref *dirty;           /* the nodes whose state is not CLEAN */
	size_t ndirty, dirty_cap;
	bool undigested;            /* keeps no digests (crdt_store_new_plain):
	                               no sums, no dirty list */
};

int crdt_store_new(uint32_t nbuckets, crdt_store **out)
{
	crdt_store *s;

	*out = NULL;
	if (nbuckets == 0 || nbuckets > CRDT_MAX_BUCKETS)
		return CARTD_EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CARTD_ENOMEM;
	s->heads = calloc(nbuckets, sizeof(*s->heads));
	s->digests = calloc(nbuckets, sizeof(*s->digests));
	if (store_table_init(&s->t) != 0 || s->heads == NULL || s->digests == NULL) {
		crdt_store_free(s);
		return CARTD_ENOMEM;
	}
	s->nbuckets = nbuckets;
	*out = s;
	return 0;
}

int crdt_store_new_plain(crdt_store **out)
{
	int rc = crdt_store_new(1, out);
	if (rc == 0)
		(*out)->undigested = true;
	return rc;
}

void crdt_store_free(crdt_store *s)
{
	if (s == NULL)
		return;
	store_table_destroy(&s->t);
	free(s->heads);
	free(s->digests);
	free(s->dirty);
	free(s);
}

size_t crdt_store_count(const crdt_store *s)
{
	return s->t.count;
}

uint32_t crdt_store_nbuckets(const crdt_store *s)
{
	return s->nbuckets;
}

static uint32_t bucket_of_hash(const crdt_store *s, uint64_t h)
{
	return (uint32_t)(h % s->nbuckets);
}

uint32_t crdt_store_bucket_of(const crdt_store *s, const char *id, size_t len)
{
	return bucket_of_hash(s, crdt_name_hash(id, len));
}

uint32_t crdt_store_bucket_of_hash(const crdt_store *s, uint64_t h)
{
	return bucket_of_hash(s, h);
}

static void fill_item(const store_node *n, crdt_item *out)
{
	out->id = n->id;
	out->id_len = n->id_len;
	out->bucket = n->bucket;
	out->cart = &n->cart;
}

int crdt_store_get(const crdt_store *s, const char *id, size_t len, crdt_item *out)
{
	/* An id that could never have been stored is simply not found. */
	if (len == 0 || len > CRDT_MAX_NAME)
		return CARTD_ENOTFOUND;
	crdt_id key = crdt_id_of(id, len, crdt_name_hash(id, len));
	return crdt_store_get_id(s, &key, out);
}

void crdt_store_prefetch_id(const crdt_store *s, const crdt_id *id, unsigned stage)
{
	store_table_prefetch(&s->t, (uint32_t)id->hash, stage);
}

int crdt_store_get_id(const crdt_store *s, const crdt_id *id, crdt_item *out)
{
	store_ref r = store_table_find(&s->t, (uint32_t)id->hash, id->s, id->len);
	if (r == 0)
		return CARTD_ENOTFOUND;
	fill_item(store_node_at(&s->t, r), out);
	return 0;
}

/* Room for one more node on the dirty list.  0 or CARTD_ENOMEM. */
static int reserve_dirty(crdt_store *s)
{
	if (s->ndirty < s->dirty_cap)
		return 0;
	size_t cap = s->dirty_cap ? s->dirty_cap * 2 : 64;
	store_ref *v = realloc(s->dirty, cap * sizeof(*v));
	if (v == NULL)
		return CARTD_ENOMEM;
	s->dirty = v;
	s->dirty_cap = cap;
	return 0;
}

/* Secures, before a write touches n's cart, what marking it dirty needs:
 * a place on the dirty list.  0 or CARTD_ENOMEM. */
static int prepare_write(crdt_store *s, const store_node *n)
{
	return n->state == STORE_CLEAN && !s->undigested ? reserve_dirty(s) : 0;
}

/* After a write changed node r's cart (prepare_write made room). */
static void mark_dirty(crdt_store *s, store_ref r, store_node *n)
{
	if (s->undigested)
		return;
	if (n->state == STORE_CLEAN)
		s->dirty[s->ndirty++] = r;
	n->state = STORE_DIRTY;
}

/* Computes a dirty node's digest and swaps it into its bucket's XOR. */
static void settle_node(crdt_store *s, store_node *n)
{
	uint64_t d = store_digest_finish(n->id, n->id_len, &n->cart, n->sum);

	s->digests[n->bucket] ^= n->digest ^ d;
	n->digest = d;
}

const uint64_t *crdt_store_bucket_digests(crdt_store *s)
{
	for (size_t i = 0; i < s->ndirty; i++) {
		store_node *n = store_node_at(&s->t, s->dirty[i]);
		if (n->state == STORE_DIRTY)
			settle_node(s, n);
		n->state = STORE_CLEAN;
	}
	s->ndirty = 0;
	return s->digests;
}

uint64_t crdt_store_digest(crdt_store *s, const crdt_item *it)
{
	/* The item's cart lives inside its node. */
	store_node *n = (store_node *)(void *)((char *)(uintptr_t)it->cart -
	                                       offsetof(store_node, cart));
	if (n->state == STORE_DIRTY) {
		settle_node(s, n);
		n->state = STORE_SETTLED_LISTED;
	}
	return n->digest;
}

/* Puts a new node, whose cart is final, into the table, its bucket and the
 * dirty list.  Room in the table and on the list was reserved before the
 * node was made. */
static void link_new(crdt_store *s, store_ref r, uint64_t h)
{
	store_node *n = store_node_at(&s->t, r);
	uint32_t b = bucket_of_hash(s, h);

	n->bucket = (uint16_t)b;
	if (!s->undigested)
		n->sum = store_cart_sum(&n->cart);
	store_table_insert(&s->t, (uint32_t)h, r);
	n->next = s->heads[b];
	s->heads[b] = r;
	mark_dirty(s, r, n);
}

/* What a new node needs before it is made: table room and a place on
 * the dirty list.  0 or CARTD_ENOMEM. */
static int prepare_new(crdt_store *s)
{
	int rc = store_table_reserve(&s->t);
	return rc == 0 && !s->undigested ? reserve_dirty(s) : rc;
}

/* The line an operation can change, or NULL when it may change any
 * (clear) or none (checkout). */
static const crdt_line *op_line(const crdt_cart *c, const crdt_op *op)
{
	if (op->kind == CRDT_OP_CLEAR || op->kind == CRDT_OP_CLOSE)
		return NULL;
	return crdt_cart_find(c, op->sku, op->sku_len);
}

static int apply_existing(crdt_store *s, store_ref r, uint64_t self, const crdt_op *op,
                          crdt_cart *delta)
{
	store_node *n = store_node_at(&s->t, r);
	/* An unkeyed add writes one entry at a fresh dot and removes nothing
	 * (its context is that dot alone): the line's sum only gains the new
	 * entry's hash, read from the delta.  Hashing the whole line before
	 * and after would cost two hashes per entry of a line that, adds
	 * never folding, grows with every add. */
	bool plain_add = op->kind == CRDT_OP_ADD && op->key == NULL && delta != NULL;
	int rc = prepare_write(s, n);
	uint64_t before = plain_add || s->undigested ? 0 : store_line_sum(op_line(&n->cart, op));

	if (rc == 0)
		rc = crdt_cart_apply(&n->cart, self, op, delta);
	if (rc != 0)
		return rc;
	/* An empty delta means the operation changed nothing. */
	if ((delta != NULL && crdt_cart_empty(delta)) || s->undigested)
		return 0;
	if (plain_add)
		n->sum += store_cart_sum(delta);
	else if (op->kind == CRDT_OP_CLEAR)
		n->sum = store_cart_sum(&n->cart);
	else if (op->kind != CRDT_OP_CLOSE)
		n->sum += store_line_sum(op_line(&n->cart, op)) - before;
	mark_dirty(s, r, n);
	return 0;
}

/*
 * The cart is built in a node outside the table and linked only once the
 * operation has succeeded.  An operation that leaves the new cart empty
 * (remove or clear of an unknown cart) creates nothing: a stored cart is
 * never empty, so replicas that saw such a no-op and replicas that did not
 * hold the same carts and the same bucket digests.
 */
static int apply_new(crdt_store *s, const char *id, size_t len, uint64_t h,
                     uint64_t self, const crdt_op *op, crdt_cart *delta)
{
	store_ref r;
	int rc = prepare_new(s);

	if (rc == 0)
		rc = store_node_new(&s->t, id, len, &r);
	if (rc != 0)
		return rc;
	store_node *n = store_node_at(&s->t, r);
	rc = crdt_cart_apply(&n->cart, self, op, delta);
	if (rc != 0 || crdt_cart_empty(&n->cart)) {
		store_node_drop(&s->t, r);
		return rc;
	}
	link_new(s, r, h);
	return 0;
}

int crdt_store_apply_id(crdt_store *s, const crdt_id *id, uint64_t self, const crdt_op *op,
                        crdt_cart *delta)
{
	store_ref r = store_table_find(&s->t, (uint32_t)id->hash, id->s, id->len);
	int rc = r != 0 ? apply_existing(s, r, self, op, delta)
	                : apply_new(s, id->s, id->len, id->hash, self, op, delta);
	/* cart.h promises an empty delta on error, whichever step failed. */
	if (rc != 0 && delta != NULL)
		crdt_cart_destroy(delta);
	return rc;
}

int crdt_store_apply(crdt_store *s, const char *id, size_t len, uint64_t self,
                     const crdt_op *op, crdt_cart *delta)
{
	crdt_id key;
	int rc = crdt_id_make(&key, id, len);

	if (rc != 0) {
		if (delta != NULL)
			crdt_cart_destroy(delta);
		return rc;
	}
	return crdt_store_apply_id(s, &key, self, op, delta);
}

static int join_existing(crdt_store *s, store_ref r, const crdt_cart *delta, bool *changed)
{
	store_node *n = store_node_at(&s->t, r);
	int rc = prepare_write(s, n);
	uint64_t removed = 0;

	if (rc != 0)
		return rc;
	if (s->undigested)
		return crdt_cart_join(&n->cart, delta, changed);
	/* A delta whose context shares no dot with the cart's (another
	 * replica's new write, the usual replicated delta) removes no entry
	 * of the cart, live entries lying in its context, and every entry it
	 * carries is new, its dot being in its own context: unless deferred
	 * removes on either side drop some, the sum gains exactly the delta's
	 * entries, without rehashing the lines it names before and after.
	 * Asked once: store_join_removed and the join take the answer. */
	bool disjoint = crdt_ctx_disjoint(&delta->ctx, &n->cart.ctx);
	bool adds_only = !delta->defer && !n->cart.defer && disjoint;
	/* Otherwise measured before the join, which drops what it removes. */
	if (!adds_only && !crdt_cart_empty(delta))
		removed = store_join_removed(&n->cart, delta, disjoint);
	rc = cart_join_known(&n->cart, delta, disjoint, changed);
	if (rc != 0 || !*changed)
		return rc;
	if (adds_only)
		n->sum += store_cart_sum(delta);
	else
		n->sum += store_join_readded(&n->cart, delta) - removed;
	mark_dirty(s, r, n);
	return 0;
}

/* As apply_new: an empty delta creates nothing. */
static int join_new(crdt_store *s, const char *id, size_t len, uint64_t h,
                    const crdt_cart *delta, bool *changed)
{
	store_ref r;
	int rc;

	if (crdt_cart_empty(delta))
		return 0;
	rc = prepare_new(s);
	if (rc == 0)
		rc = store_node_new(&s->t, id, len, &r);
	if (rc != 0)
		return rc;
	rc = crdt_cart_join(&store_node_at(&s->t, r)->cart, delta, changed);
	if (rc != 0) {
		store_node_drop(&s->t, r);
		return rc;
	}
	link_new(s, r, h);
	return 0;
}

int crdt_store_join_id(crdt_store *s, const crdt_id *id, const crdt_cart *delta,
                       bool *changed)
{
	bool ch = false;
	store_ref r = store_table_find(&s->t, (uint32_t)id->hash, id->s, id->len);
	int rc = r != 0 ? join_existing(s, r, delta, &ch)
	                : join_new(s, id->s, id->len, id->hash, delta, &ch);

	if (changed != NULL)
		*changed = rc == 0 && ch;
	return rc;
}

int crdt_store_join(crdt_store *s, const char *id, size_t len,
                    const crdt_cart *delta, bool *changed)
{
	crdt_id key;
	int rc = crdt_id_make(&key, id, len);

	if (rc != 0) {
		if (changed != NULL)
			*changed = false;
		return rc;
	}
	return crdt_store_join_id(s, &key, delta, changed);
}

int crdt_store_walk_bucket(const crdt_store *s, uint32_t b, crdt_store_fn fn, void *arg)
{
	crdt_item it;

	if (b >= s->nbuckets)
		return CARTD_EINVAL;
	for (store_ref r = s->heads[b]; r != 0;) {
		const store_node *n = store_node_at(&s->t, r);
		fill_item(n, &it);
		int rc = fn(&it, arg);
		if (rc != 0)
			return rc;
		r = n->next;
	}
	return 0;
}

int crdt_store_walk(const crdt_store *s, crdt_store_fn fn, void *arg)
{
	for (uint32_t b = 0; b < s->nbuckets; b++) {
		int rc = crdt_store_walk_bucket(s, b, fn, arg);
		if (rc != 0)
			return rc;
	}
	return 0;
}
