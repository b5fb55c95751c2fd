/*
 * test_model_enc.c - the reference model's canonical encoding, built from
 * codec.h's grammar alone, and the check that compares a cart with it.
 */
#include <stdio.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "tests/test_model.h"
#include "tests/test_rng.h"

/* Replica indexes in ascending id order. */
static void rep_order(const tm_world *w, unsigned *o)
{
	for (unsigned i = 0; i < w->nrep; i++)
		o[i] = i;
	for (unsigned i = 1; i < w->nrep; i++)
		for (unsigned j = i; j > 0 && w->ids[o[j - 1]] > w->ids[o[j]]; j--) {
			unsigned t = o[j];
			o[j] = o[j - 1];
			o[j - 1] = t;
		}
}

/* Bytewise, shorter first on a common prefix: cart.h's name order. */
static int name_cmp(const char *a, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static void sku_order(const tm_world *w, unsigned *o)
{
	for (unsigned i = 0; i < w->nsku; i++)
		o[i] = i;
	for (unsigned i = 1; i < w->nsku; i++)
		for (unsigned j = i; j > 0 && name_cmp(w->sku[o[j - 1]], w->sku[o[j]]) > 0; j--) {
			unsigned t = o[j];
			o[j] = o[j - 1];
			o[j - 1] = t;
		}
}

/* Emits (or, with out NULL, only counts) the ranges of replica r in seen. */
static unsigned rep_ranges(const tm_world *w, const tm_set *seen, unsigned r, tb *out)
{
	unsigned n = 0;
	uint64_t c = 1;
	while (c <= w->top[r]) {
		if (!tm_has(seen, r, c)) {
			c++;
			continue;
		}
		uint64_t lo = c;
		while (c + 1 <= w->top[r] && tm_has(seen, r, c + 1))
			c++;
		if (out) {
			tb_u64le(out, w->ids[r]);
			tb_varint(out, lo);
			tb_varint(out, c - lo);
		}
		n++;
		c++;
	}
	return n;
}

static void encode_ctx(const tm_world *w, const tm_set *seen, tb *out)
{
	unsigned order[TM_MAX_REPLICAS], total = 0;
	rep_order(w, order);
	for (unsigned i = 0; i < w->nrep; i++)
		total += rep_ranges(w, seen, order[i], NULL);
	tb_varint(out, total);
	for (unsigned i = 0; i < w->nrep; i++)
		rep_ranges(w, seen, order[i], out);
}

static void encode_line(const tm_world *w, const tm_state *s, unsigned sku, tb *out)
{
	unsigned order[TM_MAX_REPLICAS];
	rep_order(w, order);
	tb_str(out, w->sku[sku], strlen(w->sku[sku]));
	tb_varint(out, tm_nlive(w, s, sku));
	for (unsigned i = 0; i < w->nrep; i++) {
		unsigned r = order[i];
		for (uint64_t c = 1; c <= w->top[r]; c++) {
			if (!tm_live(s, r, c) || w->made[r][c].sku != sku)
				continue;
			tb_u64le(out, w->ids[r]);
			tb_varint(out, c);
			tb_u8(out, w->made[r][c].kind);
			tb_varint(out, w->made[r][c].value);
		}
	}
}

void tm_encode(const tm_world *w, const tm_state *s, tb *out)
{
	unsigned order[TM_MAX_SKUS], lines = 0;
	encode_ctx(w, &s->seen, out);
	sku_order(w, order);
	for (unsigned i = 0; i < w->nsku; i++)
		lines += tm_nlive(w, s, i) > 0;
	tb_varint(out, lines);
	for (unsigned i = 0; i < w->nsku; i++)
		if (tm_nlive(w, s, order[i]) > 0)
			encode_line(w, s, order[i], out);
	unsigned defers = 0;
	for (unsigned i = 0; i < w->nsku; i++)
		defers += !tm_set_empty(&s->defer[i]);
	tb_varint(out, defers);
	for (unsigned i = 0; i < w->nsku; i++)
		if (!tm_set_empty(&s->defer[order[i]])) {
			tb_str(out, w->sku[order[i]], strlen(w->sku[order[i]]));
			encode_ctx(w, &s->defer[order[i]], out);
		}
	tb_varint(out, 0);   /* the model writes without idempotency keys */
	tb_varint(out, 0);   /* and never checks out */
}

/* Formats where two byte strings first differ. */
static const char *diff_at(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	static char msg[512];
	size_t i = 0;
	while (i < al && i < bl && a[i] == b[i])
		i++;
	size_t from = i > 8 ? i - 8 : 0;
	int n = snprintf(msg, sizeof msg, "lengths %zu vs %zu, first difference at %zu; "
	                 "impl[%zu..]=%s ", al, bl, i, from, tb_hex(a + from, al - from));
	snprintf(msg + n, sizeof msg - (size_t)n, "model[%zu..]=%s", from,
	         tb_hex(b + from, bl - from));
	return msg;
}

static void check_qty(const tm_world *w, const tm_state *s, const crdt_cart *cart,
                      const char *what)
{
	for (unsigned k = 0; k < w->nsku; k++) {
		const crdt_line *l = crdt_cart_find(cart, w->sku[k], strlen(w->sku[k]));
		uint32_t got = l ? crdt_line_qty(l) : 0, want = tm_qty(w, s, k);
		T_ASSERT(got == want, "%s: sku %s quantity %u, model says %u", what,
		         w->sku[k], got, want);
		T_ASSERT((l != NULL) == (tm_nlive(w, s, k) > 0),
		         "%s: sku %s line presence differs from model", what, w->sku[k]);
	}
}

void tm_check(const tm_world *w, const tm_state *s, const crdt_cart *cart, const char *what)
{
	T_ASSERT(crdt_cart_valid(cart), "%s: crdt_cart_valid is false", what);
	tb want;
	tb_init(&want);
	tm_encode(w, s, &want);
	buf_writer bw;
	buf_writer_init(&bw);
	crdt_encode_cart(&bw, cart);
	bool same = bw.err == 0 && bw.len == want.len && memcmp(bw.data, want.p, want.len) == 0;
	const char *why = same ? "" : diff_at(bw.data, bw.len, want.p, want.len);
	size_t esize = crdt_cart_encoded_size(cart), blen = bw.len;
	buf_writer_destroy(&bw);
	tb_free(&want);
	T_ASSERT(same, "%s: encoding differs from the model's: %s", what, why);
	T_ASSERT(esize == blen, "%s: crdt_cart_encoded_size %zu, encoding has %zu bytes",
	         what, esize, blen);
	check_qty(w, s, cart, what);
}
