/*
 * cart.c - the cart ORSWOT: names, lines, mutators (see cart.h).
 *
 * Every mutator builds its delta first and then joins the delta into the
 * cart, so the cart changes by exactly the same code path that applies a
 * remote delta, and atomicity comes from the join's.
 */
#include "crdt/cart.h"

#include <stdlib.h>
#include <string.h>

#include "crdt/cart_internal.h"
#include "crdt/error.h"

/* The name alphabet [A-Za-z0-9._~:@-] as a byte table: ids and skus are
 * checked on every write and every received delta, and a table lookup per
 * byte, with the loop folding the results, takes no branch per byte. */
#define NAME_RANGE(lo, hi) [lo ... hi] = 1
static const uint8_t name_chars[256] = {
	NAME_RANGE('A', 'Z'), NAME_RANGE('a', 'z'), NAME_RANGE('0', '9'),
	['.'] = 1, ['_'] = 1, ['~'] = 1, [':'] = 1, ['@'] = 1, ['-'] = 1,
};

static bool name_ok(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > CRDT_MAX_NAME)
		return false;
	unsigned ok = 1;
	for (size_t i = 0; i < len; i++)
		ok &= name_chars[(unsigned char)s[i]];
	return ok != 0;
}

int crdt_check_id(const char *s, size_t len)
{
	return name_ok(s, len) ? 0 : CARTD_EID;
}

int crdt_check_sku(const char *s, size_t len)
{
	return name_ok(s, len) ? 0 : CARTD_ESKU;
}

int crdt_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

void crdt_cart_init(crdt_cart *c)
{
	memset(c, 0, sizeof *c);
	crdt_ctx_init(&c->ctx);
}

void cart_line_free(crdt_line *l)
{
	if (l->sku_len > CRDT_LINE_INLINE_SKU)
		free(l->sku_mem.heap);
	if (l->cap)
		free(l->u.many);
	memset(l, 0, sizeof *l);
}

void cart_defers_free(crdt_defers *d)
{
	for (uint32_t i = 0; d && i < d->n; i++) {
		free(d->v[i].sku);
		crdt_ctx_destroy(&d->v[i].dots);
	}
	free(d);
}

crdt_defers *cart_defers_alloc(uint32_t n)
{
	crdt_defers *d = calloc(1, sizeof *d + (size_t)n * sizeof d->v[0]);
	for (uint32_t i = 0; d && i < n; i++)
		crdt_ctx_init(&d->v[i].dots);
	return d;
}

int cart_defer_init(crdt_defer *d, const char *sku, size_t len, const crdt_ctx *dots)
{
	d->sku = malloc(len + 1);
	if (d->sku == NULL)
		return CARTD_ENOMEM;
	memcpy(d->sku, sku, len);
	d->sku[len] = '\0';
	d->sku_len = (uint8_t)len;
	crdt_ctx_init(&d->dots);
	if (crdt_ctx_copy(&d->dots, dots)) {
		free(d->sku);
		d->sku = NULL;
		return CARTD_ENOMEM;
	}
	return 0;
}

int cart_defers_copy(crdt_defers **out, const crdt_defers *src)
{
	*out = NULL;
	if (src == NULL)
		return 0;
	crdt_defers *d = cart_defers_alloc(src->n);
	if (d == NULL)
		return CARTD_ENOMEM;
	for (uint32_t i = 0; i < src->n; i++, d->n++) {
		const crdt_defer *x = &src->v[i];
		if (cart_defer_init(&d->v[i], x->sku, x->sku_len, &x->dots)) {
			cart_defers_free(d);
			return CARTD_ENOMEM;
		}
	}
	*out = d;
	return 0;
}

const crdt_defer *cart_find_defer(const crdt_defers *d, const char *sku, size_t len)
{
	long lo = 0, hi = d ? (long)d->n - 1 : -1;
	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;
		int c = crdt_name_cmp(d->v[mid].sku, d->v[mid].sku_len, sku, len);
		if (c == 0)
			return &d->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

void crdt_cart_destroy(crdt_cart *c)
{
	if (c == NULL)
		return;
	for (uint32_t i = 0; i < c->n; i++)
		cart_line_free(&c->lines[i]);
	free(c->lines);
	cart_defers_free(c->defer);
	free(c->keys);
	cart_closes_free(c->closes);
	crdt_ctx_destroy(&c->ctx);
	crdt_cart_init(c);
}

_Static_assert(CRDT_MAX_QTY < (1u << 24), "a line's quantity is kept in 24 bits");

/* The quantity of entries e[0..n) by cart.h's rule. */
static uint32_t entries_qty(const crdt_entry *e, uint16_t n)
{
	uint64_t set = 0, add = 0;
	for (uint16_t i = 0; i < n; i++) {
		uint32_t v = crdt_entry_value(&e[i]);
		if (crdt_entry_kind(&e[i]) == CRDT_SET)
			set = v > set ? v : set;
		else
			add += v;
	}
	uint64_t q = set + add;
	return q > CRDT_MAX_QTY ? CRDT_MAX_QTY : (uint32_t)q;
}

int cart_line_set_entries(crdt_line *l, const crdt_entry *e, uint16_t n)
{
	if (n <= 1) {
		l->cap = 0;
		if (n)
			l->u.one = e[0];
	} else {
		crdt_entry *m = malloc((size_t)n * sizeof *m);
		if (m == NULL)
			return CARTD_ENOMEM;
		memcpy(m, e, (size_t)n * sizeof *m);
		l->u.many = m;
		l->cap = n;
	}
	l->n = n;
	cart_line_count(l);
	return 0;
}

void cart_line_set_qty(crdt_line *l, uint32_t q)
{
	l->qty[0] = (uint8_t)q;
	l->qty[1] = (uint8_t)(q >> 8);
	l->qty[2] = (uint8_t)(q >> 16);
}

void cart_line_count(crdt_line *l)
{
	cart_line_set_qty(l, entries_qty(crdt_line_entries(l), l->n));
}

int cart_line_init(crdt_line *l, const char *sku, size_t len,
                   const crdt_entry *e, uint16_t n)
{
	memset(l, 0, sizeof *l);
	char *to = l->sku_mem.in;
	if (len > CRDT_LINE_INLINE_SKU) {
		to = malloc(len + 1);
		if (to == NULL)
			return CARTD_ENOMEM;
		l->sku_mem.heap = to;
	}
	memcpy(to, sku, len);
	to[len] = '\0';
	l->sku_len = (uint8_t)len;
	if (cart_line_set_entries(l, e, n)) {
		cart_line_free(l);
		return CARTD_ENOMEM;
	}
	return 0;
}

int crdt_cart_copy(crdt_cart *dst, const crdt_cart *src)
{
	if (dst == src)
		return 0;
	crdt_cart t;
	crdt_cart_init(&t);
	if (crdt_ctx_copy(&t.ctx, &src->ctx))
		goto fail;
	if (src->n) {
		t.lines = calloc(src->n, sizeof *t.lines);
		if (t.lines == NULL)
			goto fail;
		t.cap = src->n;
	}
	for (uint32_t i = 0; i < src->n; i++, t.n++) {
		const crdt_line *l = &src->lines[i];
		if (cart_line_init(&t.lines[i], crdt_line_sku(l), l->sku_len, crdt_line_entries(l),
		                   l->n))
			goto fail;
	}
	if (cart_defers_copy(&t.defer, src->defer) || cart_keys_copy(&t.keys, src->keys) ||
	    cart_closes_copy(&t.closes, src->closes))
		goto fail;
	crdt_cart_destroy(dst);
	*dst = t;
	return 0;
fail:
	crdt_cart_destroy(&t);
	return CARTD_ENOMEM;
}

static bool defers_equal(const crdt_defers *a, const crdt_defers *b)
{
	uint32_t n = a ? a->n : 0;
	if (n != (b ? b->n : 0))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (crdt_name_cmp(a->v[i].sku, a->v[i].sku_len, b->v[i].sku, b->v[i].sku_len) ||
		    !crdt_ctx_equal(&a->v[i].dots, &b->v[i].dots))
			return false;
	return true;
}

bool crdt_cart_equal(const crdt_cart *a, const crdt_cart *b)
{
	if (a->n != b->n || !crdt_ctx_equal(&a->ctx, &b->ctx) || !defers_equal(a->defer, b->defer) ||
	    !cart_keys_equal(a->keys, b->keys) || !cart_closes_equal(a->closes, b->closes))
		return false;
	for (uint32_t i = 0; i < a->n; i++) {
		const crdt_line *x = &a->lines[i], *y = &b->lines[i];
		if (x->n != y->n ||
		    crdt_name_cmp(crdt_line_sku(x), x->sku_len, crdt_line_sku(y), y->sku_len))
			return false;
		if (memcmp(crdt_line_entries(x), crdt_line_entries(y), x->n * sizeof(crdt_entry)))
			return false;
	}
	return true;
}

bool crdt_cart_empty(const crdt_cart *c)
{
	return c->n == 0 && c->defer == NULL && c->keys == NULL && c->closes == NULL &&
	       crdt_ctx_empty(&c->ctx);
}

/*
 * Room for one more line in c.  The array grows by half: a cart filled
 * line by line, one write or delta at a time, then moves its lines a
 * logarithmic number of times instead of at every new line (each move was
 * an allocation, a copy and a free), for a slack of at most a third of the
 * array until a general join trims it.
 */
static int cart_reserve_line(crdt_cart *c)
{
	if (c->n < c->cap)
		return 0;
	uint32_t cap = c->n + c->n / 2 + 1;
	crdt_line *grown = realloc(c->lines, (size_t)cap * sizeof *grown);
	if (grown == NULL)
		return CARTD_ENOMEM;
	c->lines = grown;
	c->cap = cap;
	return 0;
}

int cart_insert_line(crdt_cart *c, long ai, const char *sku, size_t len, const crdt_entry *e,
                     uint16_t k)
{
	crdt_line fresh;
	if (cart_reserve_line(c) || cart_line_init(&fresh, sku, len, e, k))
		return CARTD_ENOMEM;
	memmove(&c->lines[ai + 1], &c->lines[ai], (c->n - (size_t)ai) * sizeof fresh);
	c->lines[ai] = fresh;
	c->n++;
	return 0;
}

long cart_find_index(const crdt_cart *c, const char *sku, size_t len, bool *found)
{
	long lo = 0, hi = (long)c->n - 1;
	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;
		const crdt_line *l = &c->lines[mid];
		int cmp = crdt_name_cmp(sku, len, crdt_line_sku(l), l->sku_len);
		if (cmp == 0) {
			*found = true;
			return mid;
		}
		if (cmp < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

const crdt_line *crdt_cart_find(const crdt_cart *c, const char *sku, size_t len)
{
	bool found;
	long i = cart_find_index(c, sku, len, &found);
	return found ? &c->lines[i] : NULL;
}

static int cmp_dot_qsort(const void *a, const void *b)
{
	return crdt_dot_cmp(*(const crdt_dot *)a, *(const crdt_dot *)b);
}

static bool line_valid(const crdt_cart *c, uint32_t i)
{
	const crdt_line *l = &c->lines[i];
	if (l->n == 0 || (l->cap == 0 && l->n > 1) ||
	    crdt_check_sku(crdt_line_sku(l), l->sku_len))
		return false;
	if (i > 0 && crdt_name_cmp(crdt_line_sku(&c->lines[i - 1]), c->lines[i - 1].sku_len,
	                           crdt_line_sku(l), l->sku_len) >= 0)
		return false;
	const crdt_entry *e = crdt_line_entries(l);
	for (uint16_t k = 0; k < l->n; k++) {
		uint32_t v = crdt_entry_value(&e[k]);
		crdt_dot d = crdt_entry_dot(&e[k]);
		if (v == 0 || v > CRDT_MAX_QTY || d.counter == 0 || !crdt_ctx_contains(&c->ctx, d))
			return false;
		if (k > 0 && crdt_dot_cmp(crdt_entry_dot(&e[k - 1]), d) >= 0)
			return false;
	}
	return crdt_line_qty(l) == entries_qty(e, l->n);
}

/* Deferred removes: sorted by sku, each a valid, non-empty set of dots the
 * context has not seen. */
static bool defers_valid(const crdt_cart *c)
{
	const crdt_defers *d = c->defer;
	if (d == NULL)
		return true;
	if (d->n == 0 || d->n > CRDT_DECODE_MAX_LINES)
		return false;
	for (uint32_t i = 0; i < d->n; i++) {
		const crdt_defer *x = &d->v[i];
		if (crdt_check_sku(x->sku, x->sku_len) || !crdt_ctx_valid(&x->dots) ||
		    crdt_ctx_empty(&x->dots) || !crdt_ctx_disjoint(&x->dots, &c->ctx))
			return false;
		if (i > 0 && crdt_name_cmp(d->v[i - 1].sku, d->v[i - 1].sku_len,
		                           x->sku, x->sku_len) >= 0)
			return false;
	}
	return true;
}

bool crdt_cart_valid(const crdt_cart *c)
{
	if (!crdt_ctx_valid(&c->ctx) || c->n > c->cap || !defers_valid(c) ||
	    !cart_keys_valid(c->keys) || !cart_closes_valid(c->closes))
		return false;
	size_t total = 0;
	for (uint32_t i = 0; i < c->n; i++) {
		if (!line_valid(c, i))
			return false;
		total += c->lines[i].n;
	}
	/* Dots must be unique across lines too: one dot is one entry. */
	crdt_dot *all = malloc((total ? total : 1) * sizeof *all);
	if (all == NULL)
		return false;
	size_t k = 0;
	for (uint32_t i = 0; i < c->n; i++)
		for (uint16_t j = 0; j < c->lines[i].n; j++)
			all[k++] = crdt_entry_dot(&crdt_line_entries(&c->lines[i])[j]);
	qsort(all, total, sizeof *all, cmp_dot_qsort);
	bool ok = true;
	for (size_t i = 1; i < total && ok; i++)
		ok = crdt_dot_cmp(all[i - 1], all[i]) != 0;
	free(all);
	return ok;
}
