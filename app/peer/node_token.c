/*
 * node_token.c - read tokens at the peer: issued for what is durable here,
 * sealed and opened with the current keyring's token keys (the keyring is
 * swapped on SIGHUP, so tokens follow a rotation at once).
 */
#include "app/peer/node_internal.h"
#include "app/peer/token.h"
#include "crdt/error.h"

int node_token_issue(const node *n, const crdt_id *id, const crdt_cart *cart, char *room,
                     size_t room_len, char **out)
{
	*out = NULL;
	crdt_ctx empty, covered;
	crdt_ctx_init(&empty);
	crdt_ctx_init(&covered);
	/* Only durable dots enter a token: a remove under it may be deferred
	 * at another peer, and must never name a dot that a crash could make
	 * this peer hand out again with other content. */
	int rc = engine_token_ctx(n->eng, id, cart ? &cart->ctx : &empty, &covered);
	if (rc == 0)
		rc = token_seal_in(n->ring, id, &covered, room, room_len, out);
	crdt_ctx_destroy(&covered);
	return rc;
}

int node_token_open(node *n, const crdt_id *id, const char *tok, size_t tok_len,
                    crdt_ctx *out)
{
	return token_open(n->ring, id, tok, tok_len, out);
}
