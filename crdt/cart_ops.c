/*
 * cart_ops.c - the cart's local operations: add, set, remove, clear.
 *
 * Each builds the delta the operation stands for (new entry plus the dots it
 * removes: the cart_build_* functions, which crdt_cart_apply shares) and
 * joins it into the cart; see cart.h for the contracts.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/cart.h"
#include "crdt/cart_internal.h"
#include "crdt/error.h"

/* The next dot replica self makes in this cart. */
int cart_next_dot(const crdt_cart *c, uint64_t self, crdt_dot *out)
{
	uint64_t max = crdt_ctx_max(&c->ctx, self);
	if (max >= CRDT_MAX_COUNTER)
		return CARTD_ECOUNTER;
	out->replica = self;
	out->counter = max + 1;
	return 0;
}

/* Adds to ctx the dots of line l that observed covers (all, if NULL). */
static int collect_dots(crdt_ctx *ctx, const crdt_line *l, const crdt_ctx *observed)
{
	const crdt_entry *e = crdt_line_entries(l);
	for (uint16_t i = 0; i < l->n; i++) {
		crdt_dot d = crdt_entry_dot(&e[i]);
		if (observed && !crdt_ctx_contains(observed, d))
			continue;
		if (crdt_ctx_add(ctx, d))
			return CARTD_ENOMEM;
	}
	return 0;
}

/* Joins the built delta d into c and hands it to the caller (or frees it). */
static int apply_delta(crdt_cart *c, crdt_cart *d, crdt_cart *delta_out)
{
	int rc = crdt_cart_join(c, d, NULL);
	if (rc == 0 && delta_out) {
		crdt_cart_destroy(delta_out);
		*delta_out = *d;
		return 0;
	}
	crdt_cart_destroy(d);
	return rc;
}

/* Builds the delta "remove observed entries of line l, then write entry e"
 * (e may be NULL: remove only). */
static int build_replace(const crdt_line *l, const char *sku, size_t len,
                         const crdt_entry *e, const crdt_ctx *observed, crdt_cart *d)
{
	crdt_cart_init(d);
	if (l && collect_dots(&d->ctx, l, observed))
		goto nomem;
	if (e == NULL)
		return 0;
	if (crdt_ctx_add(&d->ctx, crdt_entry_dot(e)))
		goto nomem;
	d->lines = malloc(sizeof *d->lines);
	if (d->lines == NULL || cart_line_init(&d->lines[0], sku, len, e, 1))
		goto nomem;
	d->n = d->cap = 1;
	return 0;
nomem:
	crdt_cart_destroy(d);
	return CARTD_ENOMEM;
}

static void clear_delta(crdt_cart *delta)
{
	if (delta)
		crdt_cart_destroy(delta);
}

int cart_check_add(const crdt_cart *c, const char *sku, size_t len, uint32_t n, long *ai,
                   bool *found)
{
	int rc = crdt_check_sku(sku, len);
	if (rc)
		return rc;
	if (n == 0 || n > CRDT_MAX_QTY)
		return CARTD_EQTY;
	/* Never fold: a fold is a SET, and two peers folding one line at once
	 * meet by max and lose the adds only one of them had seen.  A full
	 * line is the client's cue to set the quantity (docs/semantics.md §6). */
	*ai = cart_find_index(c, sku, len, found);
	if (*found && c->lines[*ai].n >= CRDT_MAX_LINE_ENTRIES)
		return CARTD_ELINEFULL;
	if (!*found && c->n >= CRDT_MAX_LINES)
		return CARTD_ELINES;
	return 0;
}

int cart_build_add(const crdt_cart *c, crdt_dot dot, const char *sku, size_t len,
                   uint32_t n, crdt_cart *d)
{
	crdt_cart_init(d);
	long ai;
	bool found;
	int rc = cart_check_add(c, sku, len, n, &ai, &found);
	if (rc)
		return rc;
	crdt_entry e = crdt_entry_make(dot, CRDT_ADD, n);
	return build_replace(NULL, sku, len, &e, NULL, d);
}

int cart_build_set(const crdt_cart *c, crdt_dot dot, const char *sku, size_t len,
                   uint32_t q, crdt_cart *d)
{
	crdt_cart_init(d);
	int rc = crdt_check_sku(sku, len);
	if (rc)
		return rc;
	if (q > CRDT_MAX_QTY)
		return CARTD_EQTY;
	if (q == 0)
		return cart_build_remove(c, sku, len, NULL, d);
	/* A set replaces every entry of its line. */
	const crdt_line *l = crdt_cart_find(c, sku, len);
	if (l == NULL && c->n >= CRDT_MAX_LINES)
		return CARTD_ELINES;
	crdt_entry e = crdt_entry_make(dot, CRDT_SET, q);
	return build_replace(l, sku, len, &e, NULL, d);
}

int crdt_cart_add(crdt_cart *c, uint64_t self, const char *sku, size_t len,
                  uint32_t n, crdt_cart *delta)
{
	clear_delta(delta);
	crdt_dot dot;
	crdt_cart d;
	int rc = cart_next_dot(c, self, &dot);
	if (rc == 0)
		rc = cart_build_add(c, dot, sku, len, n, &d);
	return rc ? rc : apply_delta(c, &d, delta);
}

int crdt_cart_set(crdt_cart *c, uint64_t self, const char *sku, size_t len,
                  uint32_t q, crdt_cart *delta)
{
	clear_delta(delta);
	crdt_dot dot;
	crdt_cart d;
	int rc = cart_next_dot(c, self, &dot);
	if (rc == 0)
		rc = cart_build_set(c, dot, sku, len, q, &d);
	if (rc == 0 && crdt_cart_empty(&d))
		return 0;
	return rc ? rc : apply_delta(c, &d, delta);
}

/* d := the delta's deferred remove of sku: the dots of observed that c
 * has not seen (none: d->defer stays NULL). */
static int defer_unseen(const crdt_cart *c, const char *sku, size_t len,
                        const crdt_ctx *observed, crdt_cart *d)
{
	crdt_ctx unseen;
	crdt_ctx_init(&unseen);
	int rc = crdt_ctx_subtract(&unseen, observed, &c->ctx);
	if (rc == 0 && !crdt_ctx_empty(&unseen)) {
		d->defer = cart_defers_alloc(1);
		rc = d->defer ? cart_defer_init(&d->defer->v[0], sku, len, &unseen) : CARTD_ENOMEM;
		if (rc == 0)
			d->defer->n = 1;
	}
	crdt_ctx_destroy(&unseen);
	return rc;
}

int cart_build_remove(const crdt_cart *c, const char *sku, size_t len,
                      const crdt_ctx *observed, crdt_cart *d)
{
	crdt_cart_init(d);
	int rc = crdt_check_sku(sku, len);
	if (rc)
		return rc;
	const crdt_line *l = crdt_cart_find(c, sku, len);
	if (l == NULL && observed == NULL)
		return 0;
	rc = build_replace(l, sku, len, NULL, observed, d);
	/* What the client saw and this replica has not received yet is
	 * removed when it arrives: a deferred remove of this line only, since
	 * an unknown dot may belong to any line. */
	if (rc == 0 && observed)
		rc = defer_unseen(c, sku, len, observed, d);
	if (rc)
		crdt_cart_destroy(d);
	return rc;
}

int cart_build_clear(const crdt_cart *c, const crdt_ctx *observed, crdt_cart *d)
{
	crdt_cart_init(d);
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < c->n; i++)
		rc = collect_dots(&d->ctx, &c->lines[i], observed);
	/* A clear takes every line the client saw, so the dots it saw that
	 * have not arrived join the context: they arrive removed. */
	crdt_ctx unseen;
	crdt_ctx_init(&unseen);
	if (rc == 0 && observed)
		rc = crdt_ctx_subtract(&unseen, observed, &c->ctx);
	if (rc == 0)
		rc = crdt_ctx_join(&d->ctx, &unseen);
	crdt_ctx_destroy(&unseen);
	if (rc) {
		crdt_cart_destroy(d);
		return CARTD_ENOMEM;
	}
	return 0;
}

/* Joins d into c unless it is empty (the operation changed nothing). */
static int apply_nonempty(crdt_cart *c, crdt_cart *d, crdt_cart *delta)
{
	if (crdt_cart_empty(d)) {
		crdt_cart_destroy(d);
		return 0;
	}
	return apply_delta(c, d, delta);
}

int crdt_cart_remove(crdt_cart *c, const char *sku, size_t len,
                     const crdt_ctx *observed, crdt_cart *delta)
{
	clear_delta(delta);
	crdt_cart d;
	int rc = cart_build_remove(c, sku, len, observed, &d);
	return rc ? rc : apply_nonempty(c, &d, delta);
}

int crdt_cart_clear(crdt_cart *c, const crdt_ctx *observed, crdt_cart *delta)
{
	clear_delta(delta);
	crdt_cart d;
	int rc = cart_build_clear(c, observed, &d);
	return rc ? rc : apply_nonempty(c, &d, delta);
}
