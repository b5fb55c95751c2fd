/*
 * test_util.c - cart helpers for the test suites (see test_util.h).
 */
#include "tests/test_util.h"

#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "tests/test_rng.h"

uint32_t tu_qty(const crdt_cart *c, const char *sku)
{
	const crdt_line *l = crdt_cart_find(c, sku, strlen(sku));
	return l ? crdt_line_qty(l) : 0;
}

unsigned tu_entries(const crdt_cart *c, const char *sku)
{
	const crdt_line *l = crdt_cart_find(c, sku, strlen(sku));
	return l ? l->n : 0;
}

void tu_add(crdt_cart *c, uint64_t self, const char *sku, uint32_t n, crdt_cart *delta)
{
	int rc = crdt_cart_add(c, self, sku, strlen(sku), n, delta);
	T_ASSERT(rc == 0, "add %s +%u returned %d", sku, n, rc);
	T_ASSERT(crdt_cart_valid(c), "cart invalid after add %s", sku);
}

void tu_set(crdt_cart *c, uint64_t self, const char *sku, uint32_t q, crdt_cart *delta)
{
	int rc = crdt_cart_set(c, self, sku, strlen(sku), q, delta);
	T_ASSERT(rc == 0, "set %s %u returned %d", sku, q, rc);
	T_ASSERT(crdt_cart_valid(c), "cart invalid after set %s", sku);
}

void tu_remove(crdt_cart *c, const char *sku, const crdt_ctx *observed, crdt_cart *delta)
{
	int rc = crdt_cart_remove(c, sku, strlen(sku), observed, delta);
	T_ASSERT(rc == 0, "remove %s returned %d", sku, rc);
	T_ASSERT(crdt_cart_valid(c), "cart invalid after remove %s", sku);
}

void tu_clear(crdt_cart *c, const crdt_ctx *observed, crdt_cart *delta)
{
	int rc = crdt_cart_clear(c, observed, delta);
	T_ASSERT(rc == 0, "clear returned %d", rc);
	T_ASSERT(crdt_cart_valid(c), "cart invalid after clear");
}

bool tu_join(crdt_cart *dst, const crdt_cart *src)
{
	bool changed = false;
	T_ASSERT(crdt_cart_valid(src), "joining an invalid cart");
	int rc = crdt_cart_join(dst, src, &changed);
	T_ASSERT(rc == 0, "join returned %d", rc);
	T_ASSERT(crdt_cart_valid(dst), "cart invalid after join");
	return changed;
}

void tu_join_noop(crdt_cart *dst, const crdt_cart *src, const char *what)
{
	crdt_cart before = tu_copy(dst);
	tu_join(dst, src);
	bool same = crdt_cart_equal(dst, &before);
	crdt_cart_destroy(&before);
	T_ASSERT(same, "%s changed the cart", what);
}

crdt_cart tu_copy(const crdt_cart *c)
{
	crdt_cart t;
	crdt_cart_init(&t);
	T_ASSERT(crdt_cart_copy(&t, c) == 0, "crdt_cart_copy failed");
	return t;
}

void tu_encode(const crdt_cart *c, tb *out)
{
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, c);
	T_ASSERT(w.err == 0, "crdt_encode_cart failed: %d", w.err);
	out->len = 0;
	tb_raw(out, w.data, w.len);
	buf_writer_destroy(&w);
}

bool tu_same_bytes(const crdt_cart *a, const crdt_cart *b)
{
	tb x, y;
	tb_init(&x);
	tb_init(&y);
	tu_encode(a, &x);
	tu_encode(b, &y);
	bool same = x.len == y.len && memcmp(x.p, y.p, x.len) == 0;
	tb_free(&x);
	tb_free(&y);
	return same;
}

void tu_assert_converged(const crdt_cart *a, const crdt_cart *b, const char *what)
{
	T_ASSERT(crdt_cart_valid(a) && crdt_cart_valid(b), "%s: invalid cart", what);
	T_ASSERT(crdt_cart_equal(a, b), "%s: carts differ", what);
	T_ASSERT(tu_same_bytes(a, b), "%s: equal carts encode differently", what);
}

void tu_assert_empty(const crdt_cart *c, const char *what)
{
	T_ASSERT(crdt_cart_empty(c) && c->n == 0 && crdt_ctx_empty(&c->ctx),
	         "%s: expected the empty cart (%u lines, %u ranges)", what, c->n, c->ctx.n);
}

crdt_id tu_idn(const char *s, size_t len)
{
	crdt_id id;
	ck_assert_msg(crdt_id_make(&id, s, len) == 0, "not a cart id: '%.*s'", (int)len, s);
	return id;
}

crdt_id tu_id(const char *s)
{
	return tu_idn(s, strlen(s));
}
