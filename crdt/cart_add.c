/*
 * cart_add.c - the unkeyed add written into the cart in place
 * (cart_add_in_place in cart_internal.h), the write a shop makes most.
 *
 * Every other write builds its delta and joins it into the cart, so one
 * join decides what a write does.  An unkeyed add's delta is one entry at
 * a fresh dot, under a context holding that dot alone; joined into a cart
 * with no deferred removes, it keeps every entry of the cart (its context
 * covers none of them: the dot is new), inserts the entry in its line, and
 * adds the dot to the context.  That is all this file does, directly: one
 * search of the lines instead of three, and the line's entries grown by one
 * realloc instead of copied into a new array and the old one freed.
 * tests/check_cart_add.c holds the result equal to the join's, delta and
 * cart, on random carts and at every limit.
 *
 * As in the join, everything that can fail is done before the cart
 * changes, so a failed add leaves it as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/cart.h"
#include "crdt/cart_internal.h"
#include "crdt/error.h"

/* Inserts e into l's entries (sorted by dot; e's dot is not among them)
 * and adds its value to the line's quantity.  0 or CARTD_ENOMEM (l
 * unchanged). */
static int line_insert(crdt_line *l, crdt_entry e)
{
	uint16_t n = l->n, cap = l->cap;
	crdt_entry *v;
	if (cap == 0) {                 /* one entry, inline */
		v = malloc(2 * sizeof *v);
		if (v == NULL)
			return CARTD_ENOMEM;
		v[0] = l->u.one;
		cap = 2;
	} else if (cap > n) {
		v = l->u.many;
	} else {
		v = realloc(l->u.many, ((size_t)n + 1) * sizeof *v);
		if (v == NULL)
			return CARTD_ENOMEM;
		cap = (uint16_t)(n + 1);
	}
	/* A replica's fresh dot sorts after its own older dots: the scan
	 * passes only the entries of replicas above it. */
	crdt_dot d = crdt_entry_dot(&e);
	uint16_t i = n;
	for (; i > 0 && crdt_dot_cmp(crdt_entry_dot(&v[i - 1]), d) > 0; i--)
		v[i] = v[i - 1];
	v[i] = e;
	l->u.many = v;
	l->cap = cap;
	l->n = (uint16_t)(n + 1);
	/* The quantity is the largest set plus the adds, capped: one more add
	 * of value adds it, and a capped quantity stays capped. */
	uint64_t q = (uint64_t)crdt_line_qty(l) + crdt_entry_value(&e);
	if (q > CRDT_MAX_QTY)
		q = CRDT_MAX_QTY;
	l->qty[0] = (uint8_t)q;
	l->qty[1] = (uint8_t)(q >> 8);
	l->qty[2] = (uint8_t)(q >> 16);
	return 0;
}

/* Inserts a new line of sku holding e alone at index ai.  0 or
 * CARTD_ENOMEM (c unchanged, but for spare room in its line array). */
static int insert_line(crdt_cart *c, long ai, const char *sku, size_t len, crdt_entry e)
{
	crdt_line fresh;
	if (cart_reserve_line(c) || cart_line_init(&fresh, sku, len, &e, 1))
		return CARTD_ENOMEM;
	memmove(&c->lines[ai + 1], &c->lines[ai], (c->n - (size_t)ai) * sizeof fresh);
	c->lines[ai] = fresh;
	c->n++;
	return 0;
}

int cart_add_in_place(crdt_cart *c, uint64_t self, const char *sku, size_t len, uint32_t n,
                      crdt_cart *delta)
{
	crdt_dot dot;
	/* The checks in the order the built add makes them, so both forms
	 * refuse a write with the same error. */
	int rc = cart_next_dot(c, self, &dot);
	if (rc == 0)
		rc = crdt_check_sku(sku, len);
	if (rc)
		return rc;
	if (n == 0 || n > CRDT_MAX_QTY)
		return CARTD_EQTY;
	bool found;
	long ai = cart_find_index(c, sku, len, &found);
	if (found && c->lines[ai].n >= CRDT_MAX_LINE_ENTRIES)
		return CARTD_ELINEFULL;
	if (!found && c->n >= CRDT_MAX_LINES)
		return CARTD_ELINES;
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
		rc = found ? line_insert(&c->lines[ai], e) : insert_line(c, ai, sku, len, e);
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
