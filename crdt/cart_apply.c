/*
 * cart_apply.c - one local write as the peer makes it (crdt_cart_apply in
 * cart.h): the idempotency and closed-cart checks, the checkout, and the
 * keyed form of every operation.
 *
 * Everything a write does goes into one delta, joined into the cart once,
 * so a refused or failed write leaves the cart exactly as it was, and what
 * the peer persists and pushes is exactly what it applied.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/cart.h"
#include "crdt/cart_internal.h"
#include "crdt/error.h"

/* Is the write under key already made here (or on its way here)?  The dot
 * in the context outlives the record, so a retry stays a replay after the
 * record is pruned; the record alone (without the dot yet) means another
 * peer made it and its delta travels in other pieces. */
static int check_key(const crdt_cart *c, const crdt_keyrec *key)
{
	if (key->dot.counter == 0 || key->dot.counter > CRDT_MAX_COUNTER ||
	    key->until_ms < key->at_ms)
		return CARTD_EINVAL;
	if (crdt_ctx_contains(&c->ctx, key->dot))
		return CARTD_EIDEMPOTENT;
	return cart_keys_lookup(c->keys, key);
}

/* Copies the entries of line l that observed covers (all, if NULL) into
 * the order o; *count grows by their number. */
static int freeze_line(crdt_close *o, const crdt_line *l, const crdt_ctx *observed,
                       uint64_t *count)
{
	const crdt_entry *e = crdt_line_entries(l);
	crdt_entry *v = malloc((size_t)l->n * sizeof *v);
	if (v == NULL)
		return CARTD_ENOMEM;
	uint16_t n = 0;
	for (uint16_t i = 0; i < l->n; i++)
		if (observed == NULL || crdt_ctx_contains(observed, crdt_entry_dot(&e[i])))
			v[n++] = e[i];
	int rc = 0;
	if (n) {
		rc = cart_line_init(&o->lines[o->n], crdt_line_sku(l), l->sku_len, v, n);
		if (rc == 0)
			o->n++;
		*count += n;
	}
	free(v);
	return rc;
}

/* Builds the checkout's delta: its id in the context and its marker. */
static int build_close(const crdt_cart *c, uint64_t self, const crdt_op *op, crdt_cart *d)
{
	crdt_cart_init(d);
	if (op->observed) {
		/* The order must be what the client saw: every dot the token
		 * covers must have arrived (removed ones included). */
		crdt_ctx unseen;
		crdt_ctx_init(&unseen);
		int rc = crdt_ctx_subtract(&unseen, op->observed, &c->ctx);
		bool ahead = !crdt_ctx_empty(&unseen);
		crdt_ctx_destroy(&unseen);
		if (rc)
			return rc;
		if (ahead)
			return CARTD_ETOKENAHEAD;
	}
	crdt_dot id;
	int rc = cart_next_dot(c, self, &id);
	if (rc)
		return rc;
	crdt_closes *cl = cart_closes_alloc(1);
	if (cl == NULL)
		return CARTD_ENOMEM;
	crdt_close *o = &cl->v[0];
	o->id = id;
	if (op->key)
		o->key = op->key->dot;
	o->at_ms = op->now_ms;
	o->lines = c->n ? calloc(c->n, sizeof *o->lines) : NULL;
	uint64_t count = 0;
	rc = c->n && o->lines == NULL ? CARTD_ENOMEM : 0;
	for (uint32_t i = 0; rc == 0 && i < c->n; i++)
		rc = freeze_line(o, &c->lines[i], op->observed, &count);
	if (rc == 0 && count == 0)
		rc = CARTD_EEMPTYCART;
	if (rc == 0 && count > CRDT_DECODE_MAX_CLOSE_ENTRIES)
		rc = CARTD_ELIMIT;
	if (rc == 0)
		rc = crdt_ctx_add(&d->ctx, id) ? CARTD_ENOMEM : 0;
	if (rc) {
		cart_closes_free(cl);
		crdt_cart_destroy(d);
		return rc;
	}
	o->total = (uint32_t)count;
	d->closes = cl;
	return 0;
}

/* Builds op's delta (without the key's record) into d. */
static int build_op(const crdt_cart *c, uint64_t self, const crdt_op *op, crdt_cart *d)
{
	crdt_dot dot = { 0, 0 };
	int rc = 0;
	crdt_cart_init(d);
	if (op->kind == CRDT_OP_ADD || op->kind == CRDT_OP_SET) {
		if (op->key)
			dot = op->key->dot;
		else
			rc = cart_next_dot(c, self, &dot);
		if (rc)
			return rc;
	}
	switch (op->kind) {
	case CRDT_OP_ADD:
		return cart_build_add(c, dot, op->sku, op->sku_len, op->qty, d);
	case CRDT_OP_SET:
		return cart_build_set(c, dot, op->sku, op->sku_len, op->qty, d);
	case CRDT_OP_REMOVE:
		return cart_build_remove(c, op->sku, op->sku_len, op->observed, d);
	case CRDT_OP_CLEAR:
		return cart_build_clear(c, op->observed, d);
	case CRDT_OP_CLOSE:
		return build_close(c, self, op, d);
	}
	return CARTD_EINVAL;
}

/* Adds the key's dot and record to the delta d. */
static int add_key(crdt_cart *d, const crdt_keyrec *key)
{
	if (crdt_ctx_add(&d->ctx, key->dot))
		return CARTD_ENOMEM;
	d->keys = cart_keys_alloc(1);
	if (d->keys == NULL)
		return CARTD_ENOMEM;
	d->keys->v[0] = *key;
	return 0;
}

int crdt_cart_apply(crdt_cart *c, uint64_t self, const crdt_op *op, crdt_cart *delta)
{
	if (delta)
		crdt_cart_destroy(delta);
	int rc = op->key ? check_key(c, op->key) : 0;
	if (rc)
		return rc;
	if (crdt_cart_closed(c))
		return CARTD_ECLOSED;
	/* A token naming this replica's dots beyond those it has made would
	 * defer-remove (or pre-remove) its own next writes. */
	if (op->observed && op->kind != CRDT_OP_ADD && op->kind != CRDT_OP_SET &&
	    crdt_ctx_max(op->observed, self) > crdt_ctx_max(&c->ctx, self))
		return CARTD_ETOKENFUTURE;
	/* The most common write, without building and joining a delta; the
	 * same result (cart_add.c).  Deferred removes may name any dot, so a
	 * cart holding some takes the join. */
	if (op->kind == CRDT_OP_ADD && op->key == NULL && c->defer == NULL)
		return cart_add_in_place(c, self, op->sku, op->sku_len, op->qty, delta);
	crdt_cart d;
	rc = build_op(c, self, op, &d);
	if (rc == 0 && op->key)
		rc = add_key(&d, op->key);
	if (rc == 0 && !crdt_cart_empty(&d))
		rc = crdt_cart_join(c, &d, NULL);
	if (rc == 0 && delta)
		*delta = d;
	else
		crdt_cart_destroy(&d);
	return rc;
}
