/*
 * cart_add.c - entries added to a cart in place: the unkeyed add, the write
 * a shop makes most (cart_add_in_place in cart_internal.h), and the join of
 * a one-line delta that shares no dot with the cart, the delta a replica
 * receives most (cart_join_disjoint_line).
 *
 * Every other write builds its delta and joins it into the cart, so one
 * join decides what a write does.  An unkeyed add's delta is one entry at
 * a fresh dot, under a context holding that dot alone; joined into a cart
 * with no deferred removes, it keeps every entry of the cart (its context
 * covers none of them: the dot is new), inserts the entry in its line, and
 * adds the dot to the context.  That is all this file does, directly: one
 * search of the lines instead of three, and the line's entries grown by one
 * realloc instead of copied into a new array and the old one freed.  A
 * received delta disjoint from the cart likewise removes nothing and keeps
 * all it carries: its entries are merged into their line (join.c takes
 * this path before its general one-line join).
 *
 * Checked: every add of the props suite's random worlds is made both ways
 * (here, and built then joined) and must agree in error, cart and delta;
 * tests/check_cart_add.c does the same at every limit, holds the in-place
 * join equal to the general join by commutativity, and fails each
 * allocation in turn.
 *
 * As in the join, everything that can fail is done before the cart
 * changes, so a failed add leaves it as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/cart.h"
#include "crdt/cart_internal.h"
#include "crdt/error.h"

/* Merges e[0..k) (sorted by dot; none of their dots among l's) into l's
 * entries and adds their values to the line's quantity.  0 or CARTD_ENOMEM
 * (l unchanged).  The caller keeps l->n + k within a line's limit. */
static int line_insert(crdt_line *l, const crdt_entry *e, uint16_t k)
{
	uint16_t n = l->n, cap = l->cap, total = (uint16_t)(n + k);
	crdt_entry *v;
	if (cap == 0) {                 /* one entry, inline */
		v = malloc((size_t)total * sizeof *v);
		if (v == NULL)
			return CARTD_ENOMEM;
		v[0] = l->u.one;
		cap = total;
	} else if (cap >= total) {
		v = l->u.many;
	} else {
		/* A quarter more than needed: a hot line takes an add at a time
		 * up to its 1024 entries, and growing it by exactly one entry
		 * moved the whole array on most adds. */
		uint32_t want = (uint32_t)total + total / 4u;
		uint16_t grown = want > UINT16_MAX ? UINT16_MAX : (uint16_t)want;
		v = realloc(l->u.many, (size_t)grown * sizeof *v);
		if (v == NULL)
			return CARTD_ENOMEM;
		cap = grown;
	}
	/* Merged from the back, in place.  A replica's fresh dot sorts after
	 * its own older dots: for a local add the scan passes only the
	 * entries of replicas above it. */
	long i = (long)n - 1, out = (long)total - 1;
	for (long j = (long)k - 1; j >= 0; out--) {
		if (i >= 0 && crdt_dot_cmp(crdt_entry_dot(&v[i]), crdt_entry_dot(&e[j])) > 0)
			v[out] = v[i--];
		else
			v[out] = e[j--];
	}
	l->u.many = v;
	l->cap = cap;
	l->n = total;
	/* The quantity is the largest set plus the adds, capped: adds add
	 * their values, and a capped quantity stays capped; a set among the
	 * new entries changes the largest set, so the line is counted anew. */
	uint64_t q = crdt_line_qty(l);
	for (uint16_t j = 0; j < k && q <= CRDT_MAX_QTY; j++) {
		if (crdt_entry_kind(&e[j]) != CRDT_ADD) {
			cart_line_count(l);
			return 0;
		}
		q += crdt_entry_value(&e[j]);
	}
	cart_line_set_qty(l, q > CRDT_MAX_QTY ? CRDT_MAX_QTY : (uint32_t)q);
	return 0;
}

int cart_add_in_place(crdt_cart *c, uint64_t self, const char *sku, size_t len, uint32_t n,
                      crdt_cart *delta)
{
	crdt_dot dot;
	/* The checks the built add makes, in its order, so both forms refuse
	 * a write with the same error. */
	long ai;
	bool found;
	int rc = cart_next_dot(c, self, &dot);
	if (rc == 0)
		rc = cart_check_add(c, sku, len, n, &ai, &found);
	if (rc)
		return rc;
	crdt_entry e = crdt_entry_make(dot, CRDT_ADD, n);

	/* The delta: the dot as its context (inline: no allocation), and the
	 * entry in a line of its own when the caller wants it. */
	crdt_cart d;
	crdt_cart_init(&d);
	crdt_ctx_init_dot(&d.ctx, dot);
	if (delta != NULL) {
		d.lines = malloc(sizeof *d.lines);
		if (d.lines == NULL || cart_line_init(&d.lines[0], sku, len, &e, 1))
			rc = CARTD_ENOMEM;
		else
			d.n = d.cap = 1;
	}
	if (rc == 0 && crdt_ctx_reserve_join(&c->ctx, &d.ctx))
		rc = CARTD_ENOMEM;
	if (rc == 0)
		rc = found ? line_insert(&c->lines[ai], &e, 1) : cart_insert_line(c, ai, sku, len, &e, 1);
	if (rc) {
		crdt_cart_destroy(&d);
		return rc;
	}
	(void)crdt_ctx_join(&c->ctx, &d.ctx);   /* room reserved: cannot fail */
	if (delta != NULL)
		*delta = d;
	else
		crdt_cart_destroy(&d);
	return 0;
}

int cart_join_disjoint_line(crdt_cart *dst, const crdt_cart *src)
{
	const crdt_line *b = &src->lines[0];
	bool found;
	long ai = cart_find_index(dst, crdt_line_sku(b), b->sku_len, &found);
	if ((found && (size_t)dst->lines[ai].n + b->n > CRDT_DECODE_MAX_ENTRIES) ||
	    (!found && dst->n >= CRDT_DECODE_MAX_LINES))
		return 0;   /* the general join says why */
	if (crdt_ctx_reserve_join(&dst->ctx, &src->ctx))
		return CARTD_ENOMEM;
	const crdt_entry *e = crdt_line_entries(b);
	int rc = found ? line_insert(&dst->lines[ai], e, b->n)
	               : cart_insert_line(dst, ai, crdt_line_sku(b), b->sku_len, e, b->n);
	if (rc)
		return rc;
	(void)crdt_ctx_join(&dst->ctx, &src->ctx);   /* room reserved: cannot fail */
	return 1;
}
