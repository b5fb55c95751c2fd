/*
 * api.h - the HTTP/JSON API without HTTP: routing, request validation,
 * handlers and error bodies (docs/api.md is the user-facing contract).
 *
 * The transport (app/http/http.c) hands over a request as plain values (method,
 * raw request target, content type, body) and gets back a response as plain
 * values, so that everything here can be unit-tested without sockets.
 *
 * A request goes through two steps:
 *   api_prepare  pure: route, method, path and query parameters, body.  Every
 *                4xx that does not depend on the peer's state is decided
 *                here, before anything is applied, so nothing is ever
 *                half-applied.  The result is an api_call.
 *   api_execute  reads or changes the peer (node.h) for that call.  Writes
 *                are not executed here: the transport submits them with
 *                node_write (api_call_op builds the operation), waits for
 *                durability, and answers with api_write_result.
 *
 * Status conventions (docs/api.md "Errors"): 400 request syntax (JSON,
 * percent-escapes, token, query, Idempotency-Key), 404 route, 405 method
 * (with Allow), 409 the cart's state refuses the write (checked out, token
 * ahead of this peer), 413 body too large, 415 body not JSON, 422
 * well-formed but invalid values (ids, skus, quantities, fields, also for
 * ids in the path; a reused idempotency key; an empty checkout), 503
 * overload or shutdown (overload with Retry-After), 500 storage failure.
 *
 * Keyed writes (Idempotency-Key, app/shared/idem.h): a write to add, set, remove or
 * clear that carries a key answers a receipt that depends only on the
 * request, never on the cart's state, so that every attempt of it, at any
 * peer, gets the same answer; a replay is marked (api_response.replayed).
 * A checkout answers its order, rendered from the close marker.
 */
#ifndef APP_API_H
#define APP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/hostport.h"
#include "app/peer/fault.h"
#include "app/shared/idem.h"
#include "crdt/cart.h"
#include "crdt/cart_id.h"
#include "crdt/context.h"

typedef struct node node;

/* Routes; also the "route" label of the request metric (api_route_name). */
enum api_route {
	API_R_UNKNOWN,   /* no such path */
	API_R_CART,      /* /carts/{cart}                 GET, DELETE */
	API_R_ITEMS,     /* /carts/{cart}/items           POST */
	API_R_ITEM,      /* /carts/{cart}/items/{sku}     PUT, DELETE */
	API_R_CHECKOUT,  /* /carts/{cart}/checkout        POST */
	API_R_CLUSTER,   /* /cluster                      GET */
	API_R_HEALTH,    /* /health                       GET */
	API_R_METRICS,   /* /metrics                      GET */
	API_R_FAULTS,    /* /admin/faults                 GET, POST, DELETE */
	API_R_COUNT
};

/* What api_execute (or the transport, for writes) has to do. */
enum api_action {
	API_A_NONE,          /* the response is already built (an error) */
	API_A_GET_CART,
	API_A_WRITE,         /* add, set, remove or clear: see api_call_op */
	API_A_CHECKOUT,      /* a write too (CRDT_OP_CLOSE), answered with the order */
	API_A_CLUSTER,
	API_A_HEALTH,
	API_A_METRICS,
	API_A_FAULTS_GET,
	API_A_FAULTS_SET,
	API_A_FAULTS_CLEAR,
};

/* A request as the transport received it.  All pointers are borrowed. */
typedef struct api_request {
	const char *method;        /* "GET", ... */
	const char *target;        /* raw request target: path [?query], not decoded */
	const char *content_type;  /* NULL when absent */
	const char *body;          /* body_len bytes, need not be NUL-terminated */
	size_t body_len;
	const char *prefer;        /* Prefer header (RFC 7240), NULL when absent */
	const char *idem_key;      /* the first Idempotency-Key header, NULL when absent */
	size_t idem_key_len;
	unsigned idem_keys;        /* how many Idempotency-Key headers came */
} api_request;

/* A response.  body is heap memory (malloc) owned by the response. */
typedef struct api_response {
	unsigned status;
	char *body;
	size_t body_len;
	size_t body_cap;           /* the body's allocation when it may be kept
	                              for the next body (api_body_writer), else 0 */
	const char *content_type;  /* static string */
	const char *allow;         /* Allow header for 405, static, or NULL */
	unsigned retry_after;      /* seconds for Retry-After, 0 = none */
	const char *applied;       /* Preference-Applied header, static, or NULL */
	bool replayed;             /* Idempotency-Replayed: true (a keyed write's retry) */
} api_response;

/* A peer named in a fault block list: by replica id or by address. */
typedef struct api_fault_peer {
	bool by_id;
	uint64_t id;
	hostport_ip addr;
} api_fault_peer;

typedef struct api_fault_change {
	bool has_drop, has_duplicate, has_delay, has_answer_delay;
	double drop, duplicate;
	uint32_t delay_ms;
	uint32_t answer_delay_ms;
	api_fault_peer block[FAULT_MAX_BLOCKED];
	size_t nblock;
	api_fault_peer unblock[FAULT_MAX_BLOCKED];
	size_t nunblock;
} api_fault_change;

/* A validated request (api_prepare's output). */
typedef struct api_call {
	enum api_route route;
	enum api_action action;
	enum crdt_op_kind op;      /* API_A_WRITE */
	char cart[CRDT_MAX_NAME + 1];   /* the cart id, checked and hashed once */
	size_t cart_len;                /* here (api_call_cart) */
	uint64_t cart_hash;
	char sku[CRDT_MAX_NAME + 1];
	size_t sku_len;
	uint32_t qty;
	bool has_token;            /* remove/clear limited to the token's context */
	bool minimal;              /* write: Prefer: return=minimal, answer 204 */
	bool has_key;              /* Idempotency-Key given (writes and checkout) */
	char key[IDEM_KEY_MAX];    /* its value, key_len bytes (idem_parse) */
	size_t key_len;
	crdt_keyrec rec;           /* the write's record, derived by api_call_op */
	char *token_text;          /* the token as the client sent it (checked
	                              characters, heap), opened by api_call_op */
	size_t token_len;
	crdt_ctx token;            /* what the opened token covers */
	api_fault_change faults;   /* API_A_FAULTS_SET only (not initialised
	                              otherwise); keep it the last field */
} api_call;

/* The call's cart id, for the layers below that take it checked
 * (cart_id.h).  Routes without a cart leave it empty. */
static inline crdt_id api_call_cart(const api_call *call)
{
	return crdt_id_of(call->cart, call->cart_len, call->cart_hash);
}

/* What the API layer serves beyond the fixed routes. */
typedef struct api_limits {
	bool fault_routes;         /* /admin/faults exists */
} api_limits;

void api_call_init(api_call *c);
void api_call_destroy(api_call *c);   /* frees the token; NULL-safe */

/*
 * Validates req into call (initialised).  Returns the action; for
 * API_A_NONE, res holds the error response.  res must be zeroed by the
 * caller and is released with api_response_destroy.
 */
enum api_action api_prepare(const api_limits *lim, const api_request *req,
                            api_call *call, api_response *res);

/* The crdt_op of a write or checkout call; points into call, valid while
 * call is.  Opens the call's token, if any, with n's token keys
 * (app/peer/token.h), then derives the idempotency record of a keyed call into
 * call->rec (op->key points to it; app/shared/idem.h, with n's wall clock and
 * window); op->now_ms is n's wall clock.  0, or the token's error, or
 * idem_record's (nothing may be written then). */
int api_call_op(node *n, api_call *call, crdt_op *op);

/*
 * Builds the response of a non-write call against the peer.  metrics_text
 * renders /metrics (see app/http/metrics.h); it is passed in because the request
 * counters live in the transport.
 */
typedef int (*api_metrics_fn)(void *arg, char **text, size_t *len);
void api_execute(node *n, const api_call *call, api_metrics_fn metrics, void *marg,
                 api_response *res);

/*
 * The response to a write that node_write refused (rc) or completed (rc and
 * delta from its done callback; delta may be NULL).  Completed (0, or
 * CARTD_EIDEMPOTENT for a replay, which also sets res->replayed):
 *  - a checkout: 200 with its order (api_render_order): for a keyed one the
 *    marker made under its key (crdt_cart_close_by_key, as the store holds
 *    it now, so every attempt gets it), else the marker in delta;
 *  - with return=minimal: 204 without a body;
 *  - a keyed write: 200 with its receipt (api_render_receipt);
 *  - else 200 with the cart as it is now.
 */
void api_write_result(node *n, const api_call *call, int rc, const crdt_cart *delta,
                      api_response *res);

/* Renders cart id, whose state is cart (NULL: none, read as empty), as the
 * GET /carts/{cart} body (200), with token (a sealed token, see
 * node_cart_view_get) as its "token".  A closed cart has a "closed" member
 * after those: its orders, each with what was removed from it later, and
 * the items no order holds (docs/api.md). */
void api_render_cart(const crdt_cart *cart, const char *id, size_t len, const char *token,
                     api_response *res);

/* The receipt of a keyed add, set, remove or clear (200): the cart, the
 * key and the write as the request made it, nothing of the cart's state. */
void api_render_receipt(const api_call *call, api_response *res);

/* The answer to a checkout (200): {"cart":...,"order":{...}} for marker m
 * of cart id.  m NULL is a 500 (the marker must exist once durable). */
void api_render_order(const char *id, size_t len, const crdt_close *m, api_response *res);

/* Fills res with a JSON error {"error":{"code":code,"message":...}}. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void api_error(api_response *res, unsigned status, const char *code, const char *fmt, ...);

/* Fills res with the error for a CARTD_* code (status by the table above). */
void api_error_rc(api_response *res, int rc, const char *detail);

/* HTTP status for a CARTD_* code returned by the write path. */
unsigned api_status_of(int rc);

/* Takes ownership of a malloc'd JSON text as a 200-style response. */
void api_respond(api_response *res, unsigned status, char *body, size_t len,
                 const char *content_type);

void api_response_destroy(api_response *res);   /* NULL-safe */

/* Does a Prefer header value (RFC 7240) ask for return=minimal?  Only the
 * first "return" preference counts; NULL is false. */
bool api_prefer_minimal(const char *prefer);

/* Metric label of a route ("cart", "items", ...). */
const char *api_route_name(enum api_route r);

#endif
