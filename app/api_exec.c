/*
 * api_exec.c - runs a validated call against the peer: reads directly,
 * and the answer to a write once node_write has reported its outcome.
 */
#include <stdlib.h>

#include "app/api_internal.h"
#include "app/node.h"
#include "crdt/error.h"

/* The cart as it is now, with a token sealed for it. */
static void render_cart(node *n, const api_call *call, api_response *res)
{
	char *tok = NULL;
	int rc = node_token_issue(n, call->cart, call->cart_len, &tok);
	if (rc != 0)
		api_error_rc(res, rc, NULL);
	else
		api_render_cart(node_store(n), call->cart, call->cart_len, tok, res);
	free(tok);
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

void api_write_result(node *n, const api_call *call, int rc, api_response *res)
{
	if (rc != 0) {
		api_error_rc(res, rc, NULL);
		return;
	}
	if (call->minimal) {
		api_respond(res, 204, NULL, 0, NULL);
		res->applied = "return=minimal";
		return;
	}
	render_cart(n, call, res);
}
