/*
 * api_exec.c - runs a validated call against the peer: reads directly,
 * and the answer to a write or checkout once node_write has reported its
 * outcome.
 */
#include "app/http/api_internal.h"
#include "app/peer/node.h"
#include "crdt/error.h"

/* The cart as it is now, with a token sealed for it. */
static void render_cart(node *n, const api_call *call, api_response *res)
{
	node_cart_view v;
	crdt_id id = api_call_cart(call);
	int rc = node_cart_view_get(n, &id, &v);
	if (rc != 0)
		api_error_rc(res, rc, NULL);
	else
		api_render_cart(v.cart, call->cart, call->cart_len, v.token, res);
	node_cart_view_destroy(&v);
}

void api_execute(node *n, const api_call *call, api_metrics_fn metrics, void *marg,
                 api_response *res)
{
	char *text = NULL;
	size_t len = 0;

	switch (call->action) {
	case API_A_GET_CART:
		render_cart(n, call, res);
		break;
	case API_A_CLUSTER:
	case API_A_HEALTH:
		api_cluster_respond(n, call->action == API_A_HEALTH, res);
		break;
	case API_A_METRICS:
		if (metrics(marg, &text, &len) != 0)
			api_error_rc(res, CARTD_ENOMEM, NULL);
		else
			api_respond(res, 200, text, len, "text/plain; version=0.0.4; charset=utf-8");
		break;
	case API_A_FAULTS_GET:
	case API_A_FAULTS_SET:
	case API_A_FAULTS_CLEAR:
		api_faults_respond(n, call, res);
		break;
	default:
		/* Writes go through the transport (node_write); reaching here is
		 * a bug in the caller, answered rather than crashed on. */
		api_error(res, 500, "internal", "request routed to the wrong handler");
		break;
	}
}

/* The order a checkout made.  A keyed checkout's answer comes from the
 * marker made under its key as replicated state holds it, so a replay (which
 * has no delta) answers what the first attempt answered; an unkeyed one has
 * only its delta to tell which marker is its own. */
static const crdt_close *checkout_marker(node *n, const api_call *call, const crdt_cart *delta)
{
	if (call->has_key) {
		crdt_id id = api_call_cart(call);
		const crdt_cart *c = node_cart(n, &id);
		return c ? crdt_cart_close_by_key(c, call->rec.dot) : NULL;
	}
	return delta && crdt_cart_ncloses(delta) ? &delta->closes->v[0] : NULL;
}

void api_write_result(node *n, const api_call *call, int rc, const crdt_cart *delta,
                      api_response *res)
{
	bool replay = rc == CARTD_EIDEMPOTENT && call->has_key;
	if (rc != 0 && !replay) {
		api_error_rc(res, rc, NULL);
		return;
	}
	if (call->op == CRDT_OP_CLOSE) {
		api_render_order(call->cart, call->cart_len, checkout_marker(n, call, delta), res);
	} else if (call->minimal) {
		api_respond(res, 204, NULL, 0, NULL);
		res->applied = "return=minimal";
	} else if (call->has_key) {
		api_render_receipt(call, res);
	} else {
		render_cart(n, call, res);
	}
	res->replayed = replay && res->status < 300;
}
