/*
 * split.c - join decomposition of a cart into datagram-sized pieces
 * (crdt_cart_split in cart.h).
 *
 * A cart is the join of its irreducible parts: each live entry with exactly
 * its own dot, and each removed dot alone.  Any group of irreducibles is safe
 * to merge on its own: an entry travels only with its own dot, so a receiver
 * that removed it drops it again, and a removed dot travels without an entry,
 * so it deletes only what the source really removed.  The pieces are such
 * groups, packed greedily in canonical order up to the byte budget.
 *
 * Sizes are bounded from above while packing (each entry is charged its own
 * context range and two-byte counts), so a piece never exceeds the budget.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/cart_internal.h"
#include "crdt/codec.h"
#include "crdt/error.h"

/* Count varints of one piece fit in two bytes: a piece of at most 64 KiB
 * cannot hold 16384 ranges, lines or entries of at least 10 bytes each. */
#define COUNT_BYTES 2u
#define MAX_BUDGET 65536u

struct pieces {
	crdt_cart *v;
	size_t n, cap;
	size_t budget;
	size_t used;        /* upper bound of the open piece's encoding */
};

static crdt_cart *open_piece(struct pieces *ps)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 4;
		crdt_cart *v = realloc(ps->v, cap * sizeof *v);
		if (v == NULL)
			return NULL;
		ps->v = v;
		ps->cap = cap;
	}
	crdt_cart_init(&ps->v[ps->n]);
	ps->used = 5 * COUNT_BYTES;   /* ranges, lines, deferred removes, records, markers */
	return &ps->v[ps->n++];
}

/* The open piece, or a new one when cost would overflow the budget. */
static crdt_cart *piece_for(struct pieces *ps, size_t cost, bool *fresh)
{
	*fresh = false;
	if (ps->n == 0 || ps->used + cost > ps->budget) {
		*fresh = true;
		return open_piece(ps);
	}
	return &ps->v[ps->n - 1];
}

static size_t entry_cost(const crdt_entry *e)
{
	uint64_t ctr = crdt_entry_counter(e);
	size_t entry = 8 + buf_varint_size(ctr) + 1 + buf_varint_size(crdt_entry_value(e));
	size_t range = 8 + buf_varint_size(ctr) + 1;
	return entry + range;
}

/* Appends entries e[0..n) of line src to piece p as one line. */
static int piece_add_line(crdt_cart *p, const crdt_line *src, const crdt_entry *e, uint16_t n)
{
	crdt_line *lines = realloc(p->lines, (p->n + 1) * sizeof *lines);
	if (lines == NULL)
		return CARTD_ENOMEM;
	p->lines = lines;
	p->cap = p->n + 1;
	if (cart_line_init(&p->lines[p->n], crdt_line_sku(src), src->sku_len, e, n))
		return CARTD_ENOMEM;
	p->n++;
	for (uint16_t i = 0; i < n; i++)
		if (crdt_ctx_add(&p->ctx, crdt_entry_dot(&e[i])))
			return CARTD_ENOMEM;
	return 0;
}

/* Packs one line's entries, splitting it across pieces when it must. */
static int pack_line(struct pieces *ps, const crdt_line *l)
{
	const crdt_entry *e = crdt_line_entries(l);
	size_t head = buf_varint_size(l->sku_len) + l->sku_len + COUNT_BYTES;
	uint16_t from = 0;
	while (from < l->n) {
		bool fresh;
		crdt_cart *p = piece_for(ps, head + entry_cost(&e[from]), &fresh);
		if (p == NULL)
			return CARTD_ENOMEM;
		size_t used = ps->used + head;
		uint16_t to = from;
		while (to < l->n && used + entry_cost(&e[to]) <= ps->budget)
			used += entry_cost(&e[to++]);
		if (to == from)
			return CARTD_EINVAL;   /* one entry larger than a fresh piece */
		int rc = piece_add_line(p, l, &e[from], (uint16_t)(to - from));
		if (rc)
			return rc;
		ps->used = used;
		from = to;
	}
	return 0;
}

/* Packs the removed dots: the context minus every live dot. */
static int pack_removed(struct pieces *ps, const crdt_cart *c)
{
	crdt_ctx dead;
	crdt_ctx_init(&dead);
	int rc = crdt_ctx_copy(&dead, &c->ctx);
	for (uint32_t i = 0; rc == 0 && i < c->n; i++) {
		const crdt_entry *e = crdt_line_entries(&c->lines[i]);
		for (uint16_t k = 0; rc == 0 && k < c->lines[i].n; k++)
			rc = crdt_ctx_remove(&dead, crdt_entry_dot(&e[k]));
	}
	const crdt_range *r = crdt_ctx_ranges(&dead);
	for (uint32_t i = 0; rc == 0 && i < dead.n; i++) {
		size_t cost = 8 + buf_varint_size(r[i].lo) + buf_varint_size(r[i].hi - r[i].lo);
		bool fresh;
		crdt_cart *p = piece_for(ps, cost, &fresh);
		/* Removed dots go in pieces of their own, never with entries. */
		if (p && !fresh && p->n > 0)
			p = open_piece(ps);
		if (p == NULL) {
			rc = CARTD_ENOMEM;
			break;
		}
		rc = crdt_ctx_add_range(&p->ctx, r[i].replica, r[i].lo, r[i].hi);
		ps->used += cost;
	}
	crdt_ctx_destroy(&dead);
	return rc;
}

/* Packs the deferred removes, each split by ranges as needed, in pieces of
 * their own: a deferred remove is safe alone (it drops only entries of its
 * line that the source's client saw removed). */
static int pack_defers(struct pieces *ps, const crdt_cart *c)
{
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < crdt_cart_ndefer(c); i++) {
		const crdt_defer *d = &c->defer->v[i];
		const crdt_range *r = crdt_ctx_ranges(&d->dots);
		size_t head = buf_varint_size(d->sku_len) + d->sku_len + COUNT_BYTES;
		crdt_ctx part;
		crdt_ctx_init(&part);
		for (uint32_t k = 0; rc == 0 && k < d->dots.n; ) {
			crdt_cart *p = open_piece(ps);
			if (p == NULL) {
				rc = CARTD_ENOMEM;
				break;
			}
			size_t used = ps->used + head;
			crdt_ctx_destroy(&part);
			do {
				used += 8 + buf_varint_size(r[k].lo) + buf_varint_size(r[k].hi - r[k].lo);
				rc = crdt_ctx_add_range(&part, r[k].replica, r[k].lo, r[k].hi);
				k++;
			} while (rc == 0 && k < d->dots.n &&
			         used + 8 + buf_varint_size(r[k].lo) +
			         buf_varint_size(r[k].hi - r[k].lo) <= ps->budget);
			p->defer = rc == 0 ? cart_defers_alloc(1) : NULL;
			if (rc == 0 && p->defer == NULL)
				rc = CARTD_ENOMEM;
			if (rc == 0)
				rc = cart_defer_init(&p->defer->v[0], d->sku, d->sku_len, &part);
			if (rc == 0)
				p->defer->n = 1;
			ps->used = used;
		}
		crdt_ctx_destroy(&part);
	}
	return rc;
}

/* Packs the idempotency records, in pieces of their own: a record is safe
 * alone (records join by union), and any subset of a pruned set is pruned. */
static int pack_keys(struct pieces *ps, const crdt_cart *c)
{
	const size_t cost = CRDT_KEY_HASH_BYTES + 8 + 7 + 10 + 10;
	for (uint32_t i = 0; i < crdt_cart_nkeys(c); ) {
		crdt_cart *p = open_piece(ps);
		if (p == NULL)
			return CARTD_ENOMEM;
		uint32_t n = 0;
		while (i + n < c->keys->n && ps->used + cost <= ps->budget) {
			ps->used += cost;
			n++;
		}
		p->keys = cart_keys_alloc(n);
		if (p->keys == NULL)
			return CARTD_ENOMEM;
		memcpy(p->keys->v, &c->keys->v[i], (size_t)n * sizeof p->keys->v[0]);
		i += n;
	}
	return 0;
}

static size_t frozen_cost(const crdt_entry *e)
{
	return 8 + buf_varint_size(crdt_entry_counter(e)) + 1 + buf_varint_size(crdt_entry_value(e));
}

/* A fresh piece holding an empty fragment of marker m. */
static crdt_close *open_fragment(struct pieces *ps, const crdt_close *m)
{
	/* id and key (8 + 7 bytes each), time, total and line count. */
	const size_t head = 2 * (8 + 7) + 10 + 5 + COUNT_BYTES;
	crdt_cart *p = open_piece(ps);
	if (p == NULL || (p->closes = cart_closes_alloc(1)) == NULL)
		return NULL;
	crdt_close *f = &p->closes->v[0];
	*f = *m;
	f->lines = NULL;
	f->n = 0;
	ps->used += head;
	return f;
}

static int fragment_add_line(crdt_close *f, const crdt_line *l, const crdt_entry *e, uint16_t n)
{
	crdt_line *lines = realloc(f->lines, ((size_t)f->n + 1) * sizeof *lines);
	if (lines == NULL)
		return CARTD_ENOMEM;
	f->lines = lines;
	if (cart_line_init(&f->lines[f->n], crdt_line_sku(l), l->sku_len, e, n))
		return CARTD_ENOMEM;
	f->n++;
	return 0;
}

/* Packs each close marker in fragments of their own, split by lines and
 * entries as needed: fragments of one marker join by union. */
static int pack_closes(struct pieces *ps, const crdt_cart *c)
{
	for (uint32_t i = 0; i < crdt_cart_ncloses(c); i++) {
		const crdt_close *m = &c->closes->v[i];
		crdt_close *f = open_fragment(ps, m);
		if (f == NULL)
			return CARTD_ENOMEM;
		for (uint32_t k = 0; k < m->n; k++) {
			const crdt_line *l = &m->lines[k];
			const crdt_entry *e = crdt_line_entries(l);
			size_t head = buf_varint_size(l->sku_len) + l->sku_len + COUNT_BYTES;
			uint16_t from = 0;
			while (from < l->n) {
				if (ps->used + head + frozen_cost(&e[from]) > ps->budget &&
				    (f = open_fragment(ps, m)) == NULL)
					return CARTD_ENOMEM;
				size_t used = ps->used + head;
				uint16_t to = from;
				while (to < l->n && used + frozen_cost(&e[to]) <= ps->budget)
					used += frozen_cost(&e[to++]);
				if (to == from)
					return CARTD_EINVAL;
				int rc = fragment_add_line(f, l, &e[from], (uint16_t)(to - from));
				if (rc)
					return rc;
				ps->used = used;
				from = to;
			}
		}
	}
	return 0;
}

void crdt_pieces_free(crdt_cart *pieces, size_t count)
{
	for (size_t i = 0; pieces && i < count; i++)
		crdt_cart_destroy(&pieces[i]);
	free(pieces);
}

int crdt_cart_split(const crdt_cart *c, size_t budget, crdt_cart **pieces, size_t *count)
{
	*pieces = NULL;
	*count = 0;
	if (budget < CRDT_MIN_PIECE_BUDGET)
		return CARTD_EINVAL;
	struct pieces ps = { .budget = budget > MAX_BUDGET ? MAX_BUDGET : budget };
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < c->n; i++)
		rc = pack_line(&ps, &c->lines[i]);
	if (rc == 0)
		rc = pack_removed(&ps, c);
	if (rc == 0)
		rc = pack_defers(&ps, c);
	if (rc == 0)
		rc = pack_keys(&ps, c);
	if (rc == 0)
		rc = pack_closes(&ps, c);
	if (rc) {
		crdt_pieces_free(ps.v, ps.n);
		return rc;
	}
	*pieces = ps.v;
	*count = ps.n;
	return 0;
}
