/*
 * api_carts.c - cart bodies: GET /carts/{cart} and the answer to a write.
 *
 *   {"cart":"c1","items":[{"sku":"apple","qty":2}, ...],"token":"..."}
 *
 * Items come out in the store's line order, which is bytewise sku order.
 * A cart never written reads as empty, with the token of the empty
 * context: reading is never an error for a valid id.
 *
 * The body is written straight into one buffer rather than through a JSON
 * tree: ids and skus are limited to [A-Za-z0-9._~:@-] and tokens are
 * base64url (node_token_issue), so nothing needs escaping, and this is the hottest answer the
 * peer renders (every read, every write without Prefer: return=minimal).
 */
#include <string.h>

#include "app/api_internal.h"
#include "crdt/buf.h"
#include "crdt/error.h"

#define JSON_TYPE "application/json"

static void put_lit(buf_writer *w, const char *s)
{
	buf_put_bytes(w, s, strlen(s));
}

static void put_uint(buf_writer *w, uint32_t v)
{
	char d[10];
	size_t n = 0;
	do {
		d[sizeof d - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_put_bytes(w, d + sizeof d - n, n);
}

static void put_items(buf_writer *w, const crdt_cart *c)
{
	for (uint32_t i = 0; c && i < c->n; i++) {
		const crdt_line *l = &c->lines[i];
		put_lit(w, i ? ",{\"sku\":\"" : "{\"sku\":\"");
		buf_put_bytes(w, l->sku, l->sku_len);
		put_lit(w, "\",\"qty\":");
		put_uint(w, crdt_line_qty(l));
		buf_put_u8(w, '}');
	}
}

void api_render_cart(const crdt_store *store, const char *id, size_t len, const char *token,
                     api_response *res)
{
	crdt_item it;
	const crdt_cart *c = NULL;
	buf_writer w;
	size_t tlen = strlen(token);

	buf_writer_init(&w);
	if (crdt_store_get(store, id, len, &it) == 0)
		c = it.cart;
	/* One allocation in the common case: the lines at a typical size. */
	if (buf_reserve(&w, 64 + len + tlen + (c ? c->n * 48u : 0)) != NULL)
		buf_writer_reset(&w);
	put_lit(&w, "{\"cart\":\"");
	buf_put_bytes(&w, id, len);
	put_lit(&w, "\",\"items\":[");
	put_items(&w, c);
	put_lit(&w, "],\"token\":\"");
	buf_put_bytes(&w, token, tlen);
	put_lit(&w, "\"}\n");
	buf_put_u8(&w, '\0');   /* a C string too, though counted without it */
	w.len--;
	if (w.err) {
		buf_writer_destroy(&w);
		api_error_rc(res, CARTD_ENOMEM, NULL);
		return;
	}
	/* The writer's heap buffer becomes the body (malloc'd, freed by the
	 * response). */
	api_respond(res, 200, (char *)w.data, w.len, JSON_TYPE);
}
