/*
 * api_carts.c - cart bodies: GET /carts/{cart} and the answer to a write.
 *
 *   {"cart":"c1","items":[{"sku":"apple","qty":2}, ...],"token":"..."}
 *
 * Items come out in the store's line order, which is bytewise sku order.
 * A cart never written reads as empty, with the token of the empty
 * context: reading is never an error for a valid id.
 */
#include <stdlib.h>

#include "app/api_internal.h"
#include "crdt/error.h"

static json_t *items_json(const crdt_cart *c)
{
	json_t *arr = json_array();
	for (uint32_t i = 0; c && arr && i < c->n; i++) {
		const crdt_line *l = &c->lines[i];
		json_t *it = json_pack("{s:s%,s:I}", "sku", l->sku, (size_t)l->sku_len,
		                       "qty", (json_int_t)crdt_line_qty(l));
		if (json_array_append_new(arr, it) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

void api_render_cart(const crdt_store *store, const char *id, size_t len, const char *token,
                     api_response *res)
{
	crdt_item it;
	const crdt_cart *c = NULL;

	if (crdt_store_get(store, id, len, &it) == 0)
		c = it.cart;
	json_t *items = items_json(c);
	json_t *v = items ? json_pack("{s:s%,s:o,s:s}", "cart", id, len, "items", items,
	                              "token", token) : NULL;
	if (!v) {
		api_error_rc(res, CARTD_ENOMEM, NULL);
		return;
	}
	api_respond_json(res, 200, v);
}
