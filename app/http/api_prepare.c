/*
 * api_prepare.c - turns a raw request into a validated api_call, or into
 * the 4xx that explains what is wrong with it.
 *
 * Checks run in a fixed order so each bad request gets one predictable
 * answer: route (404), method (405), path parameters (400/422), the
 * Idempotency-Key header of a write (400), query (400), body
 * (415/400/422).  Nothing touches the peer here, so a refused request can
 * never have changed anything.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "app/http/api_internal.h"
#include "app/peer/node.h"
#include "app/peer/token.h"
#include "crdt/error.h"

void api_call_init(api_call *c)
{
	/* faults (5 KiB) is filled by api_parse_faults when a request has it:
	 * zeroing it for every request was a visible share of a write's CPU. */
	memset(c, 0, offsetof(api_call, faults));
	crdt_ctx_init(&c->token);
}

void api_call_destroy(api_call *c)
{
	if (!c)
		return;
	crdt_ctx_destroy(&c->token);
	free(c->token_text);
	c->token_text = NULL;
}

int api_call_op(node *n, api_call *call, crdt_op *op)
{
	memset(op, 0, sizeof *op);
	op->kind = call->op;
	op->sku = call->sku;
	op->sku_len = call->sku_len;
	op->qty = call->qty;
	/* Only a checkout's marker and an idempotency key's record have a
	 * time: the clock is read for them alone. */
	if (op->kind == CRDT_OP_CLOSE || call->has_key)
		op->now_ms = node_wall_ms(n);
	int rc = 0;
	if (call->has_token) {
		crdt_id id = api_call_cart(call);
		rc = node_token_open(n, &id, call->token_text, call->token_len, &call->token);
		op->observed = rc == 0 ? &call->token : NULL;
	}
	/* After the token: what the token covers is part of the request. */
	if (rc == 0 && call->has_key) {
		rc = idem_record(call->cart, call->cart_len, call->key, call->key_len, op,
		                 op->now_ms, node_idem_window_ms(n), &call->rec);
		op->key = rc == 0 ? &call->rec : NULL;
	}
	return rc;
}

/* Decodes one path parameter, then checks it with check (the cart id's
 * or the sku's check), whose error code is err.  A value too long to decode
 * breaks the same length rule, so it gets the same error. */
static int path_param(api_span raw, char *out, size_t *out_len, int (*check)(api_call *),
                      api_call *call, int err, const char *what, api_response *res)
{
	int rc = api_pct_decode(raw.p, raw.len, out, CRDT_MAX_NAME + 1, out_len);
	if (rc == -1) {
		api_error(res, 400, "bad_path", "malformed percent-escape in the %s", what);
		return -1;
	}
	if (rc == -2 || check(call) != 0) {
		api_error_rc(res, err, NULL);   /* the message names the field */
		return -1;
	}
	return 0;
}

/* The cart id's one check, which hashes it too (cart_id.h). */
static int check_cart(api_call *call)
{
	crdt_id id;
	int rc = crdt_id_make(&id, call->cart, call->cart_len);
	call->cart_hash = rc == 0 ? id.hash : 0;
	return rc;
}

static int check_sku(api_call *call)
{
	return crdt_check_sku(call->sku, call->sku_len);
}

static int set_token(api_call *call, const char *s, size_t len, api_response *res)
{
	if (call->has_token) {
		api_error(res, 400, "bad_token", "token given both in the query and the body");
		return -1;
	}
	/* Only the characters are judged here; the MAC needs the peer's keys
	 * and is checked by api_call_op, before anything is written. */
	int rc = token_check_text(s, len);
	char *copy = rc == 0 ? malloc(len + 1) : NULL;
	if (rc == 0 && !copy)
		rc = CARTD_ENOMEM;
	if (rc != 0) {
		api_error_rc(res, rc, NULL);
		return -1;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	call->token_text = copy;
	call->token_len = len;
	call->has_token = true;
	return 0;
}

/* The Idempotency-Key of a write: at most one header, well-formed
 * (app/shared/idem.h).  A key that cannot be read is refused, never ignored: the
 * client counts on it to make a retry safe. */
static int idem_header(const api_request *req, api_call *call, api_response *res)
{
	if (req->idem_keys == 0 && !req->idem_key)
		return 0;
	if (req->idem_keys > 1) {
		api_error(res, 400, "bad_idempotency_key", "more than one Idempotency-Key header");
		return -1;
	}
	if (!req->idem_key || req->idem_key_len > IDEM_HEADER_MAX ||
	    idem_parse(req->idem_key, req->idem_key_len, call->key, &call->key_len) != 0) {
		api_error(res, 400, "bad_idempotency_key", "Idempotency-Key must be a string "
		          "(\"...\", printable ASCII, escapes \\\" and \\\\) or a token of "
		          "[A-Za-z0-9._~:@/+=-], of 1..%u characters", IDEM_KEY_MAX);
		return -1;
	}
	call->has_key = true;
	return 0;
}

/* DELETE on a cart or an item, and POST of a checkout, take one query
 * parameter: token.  Any other parameter is refused rather than ignored,
 * because a misspelt ?token would otherwise silently widen a remove to
 * everything. */
static int parse_query(api_span q, bool token_ok, api_call *call, api_response *res)
{
	size_t pos = 0;
	api_span key, val;
	while (api_query_next(q, &pos, &key, &val)) {
		if (!token_ok || key.len != 5 || memcmp(key.p, "token", 5) != 0 || !val.p) {
			api_error(res, 400, "bad_query", "unexpected query parameter \"%.*s\"",
			          (int)(key.len > 64 ? 64 : key.len), key.p);
			return -1;
		}
		if (val.len > TOKEN_MAX_CHARS) {
			api_error_rc(res, CARTD_ETOKEN, NULL);
			return -1;
		}
		char *dec = malloc(val.len + 1);
		size_t dlen = 0;
		int rc = dec ? api_pct_decode(val.p, val.len, dec, val.len + 1, &dlen) : -3;
		if (rc == 0)
			rc = set_token(call, dec, dlen, res);
		else if (rc == -3)
			api_error_rc(res, CARTD_ENOMEM, NULL);
		else
			api_error(res, 400, "bad_query", "malformed percent-escape in the query");
		free(dec);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* DELETE and checkout bodies: nothing, or {"token": "..."}. */
static int body_token(const api_request *req, api_call *call, api_response *res)
{
	static const char *const fields[] = { "token", NULL };
	json_t *obj = NULL;
	if (api_body_json(req, false, &obj, res) != 0)
		return -1;
	if (!obj)
		return 0;
	int rc = api_body_fields(obj, fields, res);
	json_t *t = json_object_get(obj, "token");
	if (rc == 0 && t && !json_is_string(t)) {
		api_error(res, 422, "bad_token", "field \"token\" must be a string");
		rc = -1;
	}
	if (rc == 0 && t)
		rc = set_token(call, json_string_value(t), json_string_length(t), res);
	json_decref(obj);
	return rc;
}

static int body_add(const api_request *req, api_call *call, api_response *res)
{
	static const char *const fields[] = { "sku", "qty", NULL };
	json_t *obj = NULL;
	if (req->body_len > 0 && api_is_json_type(req->content_type) &&
	    api_fast_body(req->body, req->body_len, true, 1, call))
		return 0;
	if (api_body_json(req, true, &obj, res) != 0)
		return -1;
	int rc = api_body_fields(obj, fields, res);
	json_t *sku = json_object_get(obj, "sku");
	if (rc == 0 && (!sku || !json_is_string(sku) ||
	                crdt_check_sku(json_string_value(sku), json_string_length(sku)) != 0)) {
		api_error(res, 422, "bad_sku", "field \"sku\" must be a string of 1..%u "
		          "characters of [A-Za-z0-9._~:@-]", CRDT_MAX_NAME);
		rc = -1;
	}
	if (rc == 0) {
		call->sku_len = json_string_length(sku);
		memcpy(call->sku, json_string_value(sku), call->sku_len + 1);
		rc = api_field_uint(obj, "qty", "bad_qty", 1, CRDT_MAX_QTY, true, NULL,
		                    &call->qty, res);
	}
	json_decref(obj);
	return rc;
}

static int body_set(const api_request *req, api_call *call, api_response *res)
{
	static const char *const fields[] = { "qty", NULL };
	json_t *obj = NULL;
	if (req->body_len > 0 && api_is_json_type(req->content_type) &&
	    api_fast_body(req->body, req->body_len, false, 0, call))
		return 0;
	if (api_body_json(req, true, &obj, res) != 0)
		return -1;
	int rc = api_body_fields(obj, fields, res);
	if (rc == 0)
		rc = api_field_uint(obj, "qty", "bad_qty", 0, CRDT_MAX_QTY, true, NULL,
		                    &call->qty, res);
	json_decref(obj);
	return rc;
}

static int body_faults(const api_request *req, api_call *call, api_response *res)
{
	json_t *obj = NULL;
	if (api_body_json(req, true, &obj, res) != 0)
		return -1;
	int rc = api_parse_faults(obj, &call->faults, res);
	json_decref(obj);
	return rc;
}

/* The action of a route and method (both already allowed), with its body
 * parsed into call. */
static enum api_action by_route(const api_request *req, unsigned m, api_call *call,
                                api_response *res)
{
	int rc = 0;
	enum api_action a = API_A_WRITE;
	switch (call->route) {
	case API_R_CART:
		if (m != API_M_DELETE)
			return API_A_GET_CART;
		call->op = CRDT_OP_CLEAR;
		rc = body_token(req, call, res);
		break;
	case API_R_ITEMS:
		call->op = CRDT_OP_ADD;
		rc = body_add(req, call, res);
		break;
	case API_R_ITEM:
		call->op = m == API_M_PUT ? CRDT_OP_SET : CRDT_OP_REMOVE;
		rc = m == API_M_PUT ? body_set(req, call, res) : body_token(req, call, res);
		break;
	case API_R_CHECKOUT:
		a = API_A_CHECKOUT;
		call->op = CRDT_OP_CLOSE;
		rc = body_token(req, call, res);
		break;
	case API_R_CLUSTER:
		return API_A_CLUSTER;
	case API_R_HEALTH:
		return API_A_HEALTH;
	case API_R_METRICS:
		return API_A_METRICS;
	case API_R_FAULTS:
		a = m == API_M_POST ? API_A_FAULTS_SET
		  : m == API_M_DELETE ? API_A_FAULTS_CLEAR : API_A_FAULTS_GET;
		if (a == API_A_FAULTS_SET)
			rc = body_faults(req, call, res);
		break;
	default:
		return API_A_NONE;
	}
	return rc == 0 ? a : API_A_NONE;
}

static int path_params(api_span cart, api_span sku, api_call *call, api_response *res)
{
	if (call->route != API_R_CART && call->route != API_R_ITEMS && call->route != API_R_ITEM &&
	    call->route != API_R_CHECKOUT)
		return 0;
	if (path_param(cart, call->cart, &call->cart_len, check_cart, call, CARTD_EID, "cart id",
	               res) != 0)
		return -1;
	if (call->route == API_R_ITEM &&
	    path_param(sku, call->sku, &call->sku_len, check_sku, call, CARTD_ESKU, "sku", res) != 0)
		return -1;
	return 0;
}

enum api_action api_prepare(const api_limits *lim, const api_request *req,
                            api_call *call, api_response *res)
{
	const char *q = strchr(req->target, '?');
	size_t plen = q ? (size_t)(q - req->target) : strlen(req->target);
	api_span query = { q ? q + 1 : "", q ? strlen(q + 1) : 0 };
	api_span cart = { NULL, 0 }, sku = { NULL, 0 };

	call->route = api_match_path(req->target, plen, &cart, &sku);
	if (call->route == API_R_FAULTS && !lim->fault_routes)
		call->route = API_R_UNKNOWN;
	if (call->route == API_R_UNKNOWN) {
		api_error(res, 404, "not_found", "no such resource");
		return API_A_NONE;
	}
	unsigned m = api_method_bit(req->method);
	if (!(m & api_route_methods(call->route))) {
		api_error(res, 405, "method_not_allowed", "method %.16s is not allowed here",
		          req->method);
		res->allow = api_route_allow(call->route);
		return API_A_NONE;
	}
	if (path_params(cart, sku, call, res) != 0)
		return API_A_NONE;
	bool cart_route = call->route == API_R_CART || call->route == API_R_ITEMS ||
	                  call->route == API_R_ITEM || call->route == API_R_CHECKOUT;
	bool writes = cart_route && (m & (API_M_POST | API_M_PUT | API_M_DELETE));
	if (writes && idem_header(req, call, res) != 0)
		return API_A_NONE;
	bool token_ok = call->route == API_R_CHECKOUT ||
	                (m == API_M_DELETE && (call->route == API_R_CART || call->route == API_R_ITEM));
	if (parse_query(query, token_ok, call, res) != 0)
		return API_A_NONE;
	call->action = by_route(req, m == API_M_HEAD ? API_M_GET : m, call, res);
	call->minimal = call->action == API_A_WRITE && api_prefer_minimal(req->prefer);
	return call->action;
}
