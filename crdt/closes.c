/*
 * closes.c - a cart's close markers (crdt_closes in cart.h): the frozen
 * orders of checkouts, their join (union of markers, and of the fragments
 * of one marker), and the views a closed cart is read through.
 *
 * Markers are rare (one per checkout, a few if peers check out at once)
 * and joined whole into fresh arrays, so a failed allocation leaves the
 * cart as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/cart.h"
#include "crdt/cart_internal.h"
#include "crdt/error.h"

crdt_closes *cart_closes_alloc(uint32_t n)
{
	crdt_closes *c = calloc(1, sizeof *c + (size_t)n * sizeof c->v[0]);
	if (c)
		c->n = n;
	return c;
}

static void close_free(crdt_close *m)
{
	for (uint32_t i = 0; i < m->n; i++)
		cart_line_free(&m->lines[i]);
	free(m->lines);
	m->lines = NULL;
	m->n = 0;
}

void cart_closes_free(crdt_closes *c)
{
	for (uint32_t i = 0; c && i < c->n; i++)
		close_free(&c->v[i]);
	free(c);
}

uint32_t crdt_close_held(const crdt_close *m)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < m->n; i++)
		n += m->lines[i].n;
	return n;
}

/* Identity of a marker: (id, key, at_ms, total). */
int cart_close_cmp(const crdt_close *a, const crdt_close *b)
{
	int c = crdt_dot_cmp(a->id, b->id);
	if (c == 0)
		c = crdt_dot_cmp(a->key, b->key);
	if (c == 0 && a->at_ms != b->at_ms)
		c = a->at_ms < b->at_ms ? -1 : 1;
	if (c == 0 && a->total != b->total)
		c = a->total < b->total ? -1 : 1;
	return c;
}

int cart_close_copy(crdt_close *dst, const crdt_close *src)
{
	*dst = *src;
	dst->lines = NULL;
	dst->n = 0;
	if (src->n == 0)
		return 0;
	dst->lines = calloc(src->n, sizeof *dst->lines);
	if (dst->lines == NULL)
		return CARTD_ENOMEM;
	for (uint32_t i = 0; i < src->n; i++, dst->n++) {
		const crdt_line *l = &src->lines[i];
		if (cart_line_init(&dst->lines[i], crdt_line_sku(l), l->sku_len,
		                   crdt_line_entries(l), l->n)) {
			close_free(dst);
			return CARTD_ENOMEM;
		}
	}
	return 0;
}

int cart_closes_copy(crdt_closes **out, const crdt_closes *src)
{
	*out = NULL;
	if (src == NULL)
		return 0;
	crdt_closes *c = cart_closes_alloc(src->n);
	if (c == NULL)
		return CARTD_ENOMEM;
	c->n = 0;
	for (uint32_t i = 0; i < src->n; i++, c->n++) {
		if (cart_close_copy(&c->v[i], &src->v[i])) {
			cart_closes_free(c);
			return CARTD_ENOMEM;
		}
	}
	*out = c;
	return 0;
}

static bool lines_equal(const crdt_line *a, const crdt_line *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (a[i].n != b[i].n ||
		    crdt_name_cmp(crdt_line_sku(&a[i]), a[i].sku_len, crdt_line_sku(&b[i]),
		                  b[i].sku_len) ||
		    memcmp(crdt_line_entries(&a[i]), crdt_line_entries(&b[i]),
		           a[i].n * sizeof(crdt_entry)))
			return false;
	return true;
}

bool cart_closes_equal(const crdt_closes *a, const crdt_closes *b)
{
	uint32_t n = a ? a->n : 0;
	if (n != (b ? b->n : 0))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (cart_close_cmp(&a->v[i], &b->v[i]) || a->v[i].n != b->v[i].n ||
		    !lines_equal(a->v[i].lines, b->v[i].lines, a->v[i].n))
			return false;
	return true;
}

/* A marker's order: lines sorted by sku, each non-empty with entries
 * sorted by dot and valid values, at most total entries in all.  The
 * entries are copies, so their dots need not be in the cart's context. */
bool cart_close_valid(const crdt_close *m)
{
	if (m->id.counter == 0 || m->id.counter > CRDT_MAX_COUNTER || m->total == 0 ||
	    m->total > CRDT_DECODE_MAX_CLOSE_ENTRIES || m->n == 0 ||
	    (m->key.counter == 0) != (m->key.replica == 0) || m->key.counter > CRDT_MAX_COUNTER)
		return false;
	uint64_t held = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		const crdt_line *l = &m->lines[i];
		if (l->n == 0 || (l->cap == 0 && l->n > 1) ||
		    crdt_check_sku(crdt_line_sku(l), l->sku_len))
			return false;
		if (i > 0 && crdt_name_cmp(crdt_line_sku(&m->lines[i - 1]), m->lines[i - 1].sku_len,
		                           crdt_line_sku(l), l->sku_len) >= 0)
			return false;
		const crdt_entry *e = crdt_line_entries(l);
		for (uint16_t k = 0; k < l->n; k++) {
			uint32_t v = crdt_entry_value(&e[k]);
			if (v == 0 || v > CRDT_MAX_QTY || crdt_entry_counter(&e[k]) == 0)
				return false;
			if (k > 0 && crdt_dot_cmp(crdt_entry_dot(&e[k - 1]), crdt_entry_dot(&e[k])) >= 0)
				return false;
		}
		held += l->n;
	}
	return held <= m->total;
}

bool cart_closes_valid(const crdt_closes *c)
{
	if (c == NULL)
		return true;
	if (c->n == 0 || c->n > CRDT_MAX_CLOSES)
		return false;
	for (uint32_t i = 0; i < c->n; i++) {
		if (!cart_close_valid(&c->v[i]))
			return false;
		if (i > 0 && cart_close_cmp(&c->v[i - 1], &c->v[i]) >= 0)
			return false;
	}
	return true;
}

/* Union of two entry lists sorted by dot; an entry both hold once.  Two
 * different entries under one dot (only an insider makes them) keep the
 * smaller word, so the result does not depend on the order of joins. */
static uint32_t union_entries(const crdt_entry *a, uint32_t an, const crdt_entry *b,
                              uint32_t bn, crdt_entry *out)
{
	uint32_t i = 0, j = 0, n = 0;
	while (i < an || j < bn) {
		int c = i >= an ? 1 : j >= bn ? -1
		        : crdt_dot_cmp(crdt_entry_dot(&a[i]), crdt_entry_dot(&b[j]));
		if (c < 0)
			out[n++] = a[i++];
		else if (c > 0)
			out[n++] = b[j++];
		else {
			out[n++] = a[i].packed <= b[j].packed ? a[i] : b[j];
			i++;
			j++;
		}
	}
	return n;
}

/* dst := the fragments a and b of one marker, united.  CARTD_ELIMIT if the
 * union holds more entries than the marker's total. */
static int merge_fragments(const crdt_close *a, const crdt_close *b, crdt_close *dst)
{
	*dst = *a;
	dst->lines = calloc((size_t)a->n + b->n, sizeof *dst->lines);
	dst->n = 0;
	if (dst->lines == NULL)
		return CARTD_ENOMEM;
	crdt_entry *tmp = NULL;
	uint32_t i = 0, j = 0;
	uint64_t held = 0;
	int rc = 0;
	while (rc == 0 && (i < a->n || j < b->n)) {
		const crdt_line *x = i < a->n ? &a->lines[i] : NULL, *y = j < b->n ? &b->lines[j] : NULL;
		int c = !x ? 1 : !y ? -1
		        : crdt_name_cmp(crdt_line_sku(x), x->sku_len, crdt_line_sku(y), y->sku_len);
		const crdt_line *src = c <= 0 ? x : y;
		uint32_t n = src->n;
		const crdt_entry *e = crdt_line_entries(src);
		if (c == 0) {
			crdt_entry *t = realloc(tmp, ((size_t)x->n + y->n) * sizeof *t);
			if (t == NULL) {
				rc = CARTD_ENOMEM;
				break;
			}
			tmp = t;
			n = union_entries(crdt_line_entries(x), x->n, crdt_line_entries(y), y->n, tmp);
			e = tmp;
		}
		held += n;
		if (n > CRDT_DECODE_MAX_ENTRIES || held > a->total)
			rc = CARTD_ELIMIT;
		else if (cart_line_init(&dst->lines[dst->n], crdt_line_sku(src), src->sku_len, e,
		                        (uint16_t)n))
			rc = CARTD_ENOMEM;
		else
			dst->n++;
		i += c <= 0;
		j += c >= 0;
	}
	free(tmp);
	if (rc)
		close_free(dst);
	return rc;
}

int cart_closes_join(const crdt_closes *a, const crdt_closes *b, crdt_closes **out,
                     bool *changed)
{
	uint32_t an = a ? a->n : 0, bn = b ? b->n : 0;
	*changed = false;
	*out = NULL;
	if (bn == 0)
		return 0;
	crdt_closes *m = cart_closes_alloc(an + bn);
	if (m == NULL)
		return CARTD_ENOMEM;
	m->n = 0;
	uint32_t i = 0, j = 0;
	int rc = 0;
	while (rc == 0 && (i < an || j < bn)) {
		int c = i >= an ? 1 : j >= bn ? -1 : cart_close_cmp(&a->v[i], &b->v[j]);
		if (c == 0)
			rc = merge_fragments(&a->v[i], &b->v[j], &m->v[m->n]);
		else
			rc = cart_close_copy(&m->v[m->n], c < 0 ? &a->v[i] : &b->v[j]);
		if (rc == 0)
			m->n++;
		i += c <= 0;
		j += c >= 0;
	}
	if (rc == 0 && m->n > CRDT_MAX_CLOSES)
		rc = CARTD_ELIMIT;
	if (rc) {
		cart_closes_free(m);
		return rc;
	}
	if (cart_closes_equal(m, a)) {
		cart_closes_free(m);
		return 0;
	}
	*changed = true;
	*out = m;
	return 0;
}

const crdt_close *crdt_cart_close_by_key(const crdt_cart *c, crdt_dot k)
{
	for (uint32_t i = 0; k.counter && i < crdt_cart_ncloses(c); i++)
		if (crdt_dot_cmp(c->closes->v[i].key, k) == 0)
			return &c->closes->v[i];
	return NULL;
}

/* Does any marker's order hold dot d (in the line sku)? */
static bool in_some_order(const crdt_cart *c, const char *sku, size_t len, crdt_dot d)
{
	for (uint32_t i = 0; i < crdt_cart_ncloses(c); i++) {
		const crdt_close *m = &c->closes->v[i];
		for (uint32_t k = 0; k < m->n; k++) {
			const crdt_line *l = &m->lines[k];
			if (crdt_name_cmp(crdt_line_sku(l), l->sku_len, sku, len) != 0)
				continue;
			const crdt_entry *e = crdt_line_entries(l);
			for (uint16_t x = 0; x < l->n; x++)
				if (crdt_dot_cmp(crdt_entry_dot(&e[x]), d) == 0)
					return true;
		}
	}
	return false;
}

/* Appends to out a line of the entries of l that keep() accepts. */
static int append_filtered(crdt_cart *out, const crdt_line *l, const crdt_cart *c,
                           bool (*keep)(const crdt_cart *, const crdt_line *, crdt_dot))
{
	const crdt_entry *e = crdt_line_entries(l);
	crdt_entry *v = malloc((size_t)l->n * sizeof *v);
	if (v == NULL)
		return CARTD_ENOMEM;
	uint16_t n = 0;
	for (uint16_t i = 0; i < l->n; i++)
		if (keep(c, l, crdt_entry_dot(&e[i])))
			v[n++] = e[i];
	int rc = 0;
	if (n) {
		crdt_line *lines = realloc(out->lines, ((size_t)out->n + 1) * sizeof *lines);
		if (lines == NULL)
			rc = CARTD_ENOMEM;
		else {
			out->lines = lines;
			out->cap = out->n + 1;
			rc = cart_line_init(&out->lines[out->n], crdt_line_sku(l), l->sku_len, v, n);
			if (rc == 0)
				out->n++;
		}
	}
	free(v);
	return rc;
}

static bool not_in_orders(const crdt_cart *c, const crdt_line *l, crdt_dot d)
{
	return !in_some_order(c, crdt_line_sku(l), l->sku_len, d);
}

static bool not_live(const crdt_cart *c, const crdt_line *l, crdt_dot d)
{
	const crdt_line *live = crdt_cart_find(c, crdt_line_sku(l), l->sku_len);
	if (live == NULL)
		return true;
	const crdt_entry *e = crdt_line_entries(live);
	for (uint16_t i = 0; i < live->n; i++)
		if (crdt_dot_cmp(crdt_entry_dot(&e[i]), d) == 0)
			return false;
	return true;
}

int crdt_cart_late_added(const crdt_cart *c, crdt_cart *out)
{
	crdt_cart_destroy(out);
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && c->closes && i < c->n; i++)
		rc = append_filtered(out, &c->lines[i], c, not_in_orders);
	if (rc)
		crdt_cart_destroy(out);
	return rc;
}

int crdt_close_late_removed(const crdt_cart *c, const crdt_close *m, crdt_cart *out)
{
	crdt_cart_destroy(out);
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < m->n; i++)
		rc = append_filtered(out, &m->lines[i], c, not_live);
	if (rc)
		crdt_cart_destroy(out);
	return rc;
}
