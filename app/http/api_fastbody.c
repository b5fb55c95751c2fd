/*
 * api_fastbody.c - the add and set bodies in their plain form, read without
 * building a JSON tree.
 *
 * Nearly every write body is {"sku":"...","qty":N} or {"qty":N}.  Parsing
 * those through jansson cost more CPU than the rest of validation together
 * (an object, a hash table and two values per request).  This reader accepts
 * only a strict subset of JSON whose meaning is unambiguous: exactly the
 * expected keys, each once, in either order; a sku of [A-Za-z0-9._~:@-]
 * without escapes; a qty of plain decimal digits within the route's range;
 * JSON whitespace between tokens and nothing after the object.  Anything
 * else, valid or not, goes to the jansson path, which gives the documented
 * answer; so this reader changes speed, never outcomes.
 */
#include <string.h>

#include "app/http/api_internal.h"
#include "crdt/cart.h"

typedef struct cursor {
	const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool take(cursor *c, char ch)
{
	skip_ws(c);
	if (c->p == c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

/* The bytes between two quotes.  A key is then compared with "sku" and
 * "qty", and anything else (an escape included) sends the body to jansson;
 * a sku value must be name characters only (crdt_check_sku), so that it
 * has no escapes either. */
static bool quoted(cursor *c, const char **s, size_t *len)
{
	if (!take(c, '"'))
		return false;
	const char *start = c->p;
	const char *q = memchr(start, '"', (size_t)(c->end - start));
	if (q == NULL)
		return false;
	*s = start;
	*len = (size_t)(q - start);
	c->p = q + 1;
	return true;
}

/* Plain digits, no sign, fraction, exponent or leading zero. */
static bool small_uint(cursor *c, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	skip_ws(c);
	const char *start = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && c->p - start < 10)
		v = v * 10 + (uint64_t)(*c->p++ - '0');
	size_t n = (size_t)(c->p - start);
	if (n == 0 || (n > 1 && *start == '0') || v < min || v > max)
		return false;
	if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E' ||
	                      (*c->p >= '0' && *c->p <= '9')))
		return false;
	*out = (uint32_t)v;
	return true;
}

bool api_fast_body(const char *body, size_t len, bool with_sku, uint32_t min_qty,
                   api_call *call)
{
	cursor c = { body, body + len };
	bool seen_sku = !with_sku, seen_qty = false;
	const char *key, *sku = NULL;
	size_t klen, sku_len = 0;
	uint32_t qty = 0;

	if (!take(&c, '{'))
		return false;
	do {
		if (!quoted(&c, &key, &klen) || !take(&c, ':'))
			return false;
		if (klen == 3 && memcmp(key, "sku", 3) == 0 && !seen_sku) {
			if (!quoted(&c, &sku, &sku_len) || crdt_check_sku(sku, sku_len) != 0)
				return false;
			seen_sku = true;
		} else if (klen == 3 && memcmp(key, "qty", 3) == 0 && !seen_qty) {
			if (!small_uint(&c, min_qty, CRDT_MAX_QTY, &qty))
				return false;
			seen_qty = true;
		} else {
			return false;
		}
	} while (take(&c, ','));
	if (!take(&c, '}') || !seen_sku || !seen_qty)
		return false;
	skip_ws(&c);
	if (c.p != c.end)
		return false;
	if (with_sku) {
		memcpy(call->sku, sku, sku_len);
		call->sku[sku_len] = '\0';
		call->sku_len = sku_len;
	}
	call->qty = qty;
	return true;
}
