/*
 * node_views.c - the read models of node_views.h: a cart with its token, the
 * member table, the counters, each filled from the node's parts in one
 * place so that the HTTP layer never reaches into them.
 */
#include <stdlib.h>
#include <string.h>

#include "app/peer/node_internal.h"
#include "crdt/error.h"

_Static_assert(NODE_ADDR_STRLEN >= UDP_ADDRSTR_MAX, "a formatted address fits");

const crdt_cart *node_cart(const node *n, const crdt_id *id)
{
	crdt_item it;
	return crdt_store_get_id(n->store, id, &it) == 0 ? it.cart : NULL;
}

int node_cart_view_get(const node *n, const crdt_id *id, node_cart_view *out)
{
	/* One lookup for both, so the token is of the very state rendered. */
	const crdt_cart *c = node_cart(n, id);
	int rc = node_token_issue(n, id, c, out->token_room, sizeof out->token_room, &out->token);
	out->cart = rc == 0 ? c : NULL;
	return rc;
}

void node_cart_view_destroy(node_cart_view *v)
{
	if (!v)
		return;
	if (v->token != v->token_room)
		free(v->token);
	v->token = NULL;
	v->cart = NULL;
}

int node_members_get(const node *n, node_members *out)
{
	out->now_ms = node_now_ms(n);
	out->n = 0;
	size_t count = engine_members(n->eng, NULL, 0);
	engine_member_info *ms = calloc(count ? count : 1, sizeof *ms);
	out->v = calloc(count ? count : 1, sizeof *out->v);
	if (!ms || !out->v) {
		free(ms);
		free(out->v);
		out->v = NULL;
		return CARTD_ENOMEM;
	}
	/* Nothing runs between the two calls (one thread), so the count holds. */
	count = engine_members(n->eng, ms, count);
	for (size_t i = 0; i < count; i++) {
		node_member *m = &out->v[i];
		*m = (node_member){
			.id = ms[i].id, .addr = ms[i].addr, .state = ms[i].state,
			.verified = ms[i].verified, .incarnation = ms[i].incarnation,
			.last_heard_ms = ms[i].last_heard_ms, .last_sync_ms = ms[i].last_sync_ms,
			.differing_buckets = ms[i].differing_buckets,
		};
		node_format_addr(&ms[i].addr, m->addr_text, sizeof m->addr_text);
	}
	out->n = count;
	free(ms);
	return 0;
}

void node_members_destroy(node_members *m)
{
	if (!m)
		return;
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const char *node_member_state_name(enum engine_member_state s)
{
	switch (s) {
	case MEMBER_ALIVE: return "alive";
	case MEMBER_SUSPECT: return "suspect";
	case MEMBER_DEAD: return "dead";
	}
	return "unknown";
}

static void counters_get(const node *n, node_counters *out)
{
	const udp_stats *u = udp_get_stats(n->udp);
	*out = (node_counters){
		.udp_rx_dgrams = u->rx_dgrams, .udp_rx_bytes = u->rx_bytes,
		.udp_rx_truncated = u->rx_truncated, .udp_rx_badaddr = u->rx_badaddr,
		.udp_rx_errors = u->rx_errors, .udp_tx_dgrams = u->tx_dgrams,
		.udp_tx_bytes = u->tx_bytes, .udp_tx_dropped = u->tx_dropped,
		.udp_tx_errors = u->tx_errors,
		.persist_submitted = n->persist_submitted, .persist_failed = n->persist_failed,
		.persist_lost = n->persist_lost, .persist_waiting = n->dirty.n,
		.write_commit_failed = n->write_failed, .writes_inflight = n->inflight.n,
		.writes_waiting = n->waiting.n, .fault_held = n->ndelayed,
	};
}

void node_stats_get(const node *n, node_stats *out)
{
	memset(out, 0, sizeof *out);
	out->engine = *engine_get_stats(n->eng);
	out->wire = *wire_get_stats(n->w);
	committer_stats_get(n->com, &out->committer);
	counters_get(n, &out->node);
	node_commit_latency(n, &out->latency);
	out->faults_enabled = n->faults != NULL;
	if (n->faults)
		out->faults = *n->faults;
	out->carts = crdt_store_count(n->store);
	out->buckets = crdt_store_nbuckets(n->store);
	const uint64_t *d = crdt_store_bucket_digests(n->store);
	for (uint32_t i = 0; i < out->buckets; i++)
		out->digest ^= d[i];
}
