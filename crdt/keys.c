/*
 * keys.c - a cart's idempotency records (crdt_keys in cart.h): lookup,
 * copy, equality, validity, and the join (union, then the prune rule).
 *
 * Records are few (at most CRDT_MAX_KEYS) and small, so every operation
 * builds a fresh array rather than editing in place: simple, and a failed
 * allocation leaves the cart as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/cart.h"
#include "crdt/cart_internal.h"
#include "crdt/error.h"

crdt_keys *cart_keys_alloc(uint32_t n)
{
	crdt_keys *k = calloc(1, sizeof *k + (size_t)n * sizeof k->v[0]);
	if (k)
		k->n = n;
	return k;
}

/* Identity order: (hash, dot, at_ms, until_ms).  Two attempts of one
 * request made at two peers share hash and dot but not their times, and
 * stay two records, so that union is a plain set union. */
int cart_keyrec_cmp(const crdt_keyrec *a, const crdt_keyrec *b)
{
	int c = memcmp(a->hash, b->hash, CRDT_KEY_HASH_BYTES);
	if (c)
		return c;
	if ((c = crdt_dot_cmp(a->dot, b->dot)) != 0)
		return c;
	if (a->at_ms != b->at_ms)
		return a->at_ms < b->at_ms ? -1 : 1;
	if (a->until_ms != b->until_ms)
		return a->until_ms < b->until_ms ? -1 : 1;
	return 0;
}

/* Keep order: newer first, then the identity order reversed, so the
 * records kept past the count limit are a function of the set alone. */
static int newer_first(const void *pa, const void *pb)
{
	const crdt_keyrec *a = pa, *b = pb;
	if (a->at_ms != b->at_ms)
		return a->at_ms > b->at_ms ? -1 : 1;
	return -cart_keyrec_cmp(a, b);
}

static int identity_order(const void *a, const void *b)
{
	return cart_keyrec_cmp(a, b);
}

static uint64_t newest(const crdt_keyrec *v, uint32_t n)
{
	uint64_t t = 0;
	for (uint32_t i = 0; i < n; i++)
		if (v[i].at_ms > t)
			t = v[i].at_ms;
	return t;
}

/* Prunes v[0..n) (sorted by identity, unique) in place and returns the
 * count left, still sorted by identity. */
static uint32_t prune(crdt_keyrec *v, uint32_t n)
{
	uint64_t t = newest(v, n);
	uint32_t w = 0;
	for (uint32_t i = 0; i < n; i++)
		if (v[i].until_ms >= t)
			v[w++] = v[i];
	if (w > CRDT_MAX_KEYS) {
		qsort(v, w, sizeof *v, newer_first);
		w = CRDT_MAX_KEYS;
		qsort(v, w, sizeof *v, identity_order);
	}
	return w;
}

int cart_keys_join(const crdt_keys *a, const crdt_keys *b, crdt_keys **out, bool *changed)
{
	uint32_t an = a ? a->n : 0, bn = b ? b->n : 0;
	*changed = false;
	*out = NULL;
	if (bn == 0)
		return 0;
	crdt_keys *m = cart_keys_alloc(an + bn);
	if (m == NULL)
		return CARTD_ENOMEM;
	uint32_t i = 0, j = 0, n = 0;
	while (i < an || j < bn) {
		int c = i >= an ? 1 : j >= bn ? -1 : cart_keyrec_cmp(&a->v[i], &b->v[j]);
		if (c <= 0)
			m->v[n++] = a->v[i++];
		else
			m->v[n++] = b->v[j++];
		if (c == 0)
			j++;
	}
	n = prune(m->v, n);
	if (n == an && (an == 0 || memcmp(m->v, a->v, (size_t)n * sizeof m->v[0]) == 0)) {
		free(m);
		return 0;
	}
	*changed = true;
	if (n == 0) {
		free(m);
		return 0;
	}
	m->n = n;
	*out = m;
	return 0;
}

int cart_keys_copy(crdt_keys **out, const crdt_keys *src)
{
	*out = NULL;
	if (src == NULL)
		return 0;
	crdt_keys *k = cart_keys_alloc(src->n);
	if (k == NULL)
		return CARTD_ENOMEM;
	memcpy(k->v, src->v, (size_t)src->n * sizeof k->v[0]);
	*out = k;
	return 0;
}

bool cart_keys_equal(const crdt_keys *a, const crdt_keys *b)
{
	uint32_t n = a ? a->n : 0;
	if (n != (b ? b->n : 0))
		return false;
	return n == 0 || memcmp(a->v, b->v, (size_t)n * sizeof a->v[0]) == 0;
}

bool cart_keys_valid(const crdt_keys *k)
{
	if (k == NULL)
		return true;
	if (k->n == 0 || k->n > CRDT_MAX_KEYS)
		return false;
	uint64_t t = newest(k->v, k->n);
	for (uint32_t i = 0; i < k->n; i++) {
		const crdt_keyrec *r = &k->v[i];
		if (r->dot.counter == 0 || r->dot.counter > CRDT_MAX_COUNTER ||
		    r->until_ms < r->at_ms || r->until_ms < t)
			return false;
		if (i > 0 && cart_keyrec_cmp(&k->v[i - 1], r) >= 0)
			return false;
	}
	return true;
}

int cart_keys_lookup(const crdt_keys *k, const crdt_keyrec *want)
{
	bool other = false;
	for (uint32_t i = 0; k && i < k->n; i++) {
		const crdt_keyrec *r = &k->v[i];
		if (memcmp(r->hash, want->hash, CRDT_KEY_HASH_BYTES) != 0)
			continue;
		if (crdt_dot_cmp(r->dot, want->dot) == 0)
			return CARTD_EIDEMPOTENT;
		if (r->until_ms >= want->at_ms)
			other = true;
	}
	return other ? CARTD_EKEYREUSED : 0;
}
