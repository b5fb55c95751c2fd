/*
 * api_cluster.c - GET /cluster and GET /health: this peer, its view of the
 * membership, and the digests anti-entropy compares.
 */
#include <stdlib.h>

#include "app/http/api_internal.h"
#include "app/peer/node.h"
#include "crdt/error.h"

static const char *state_name(enum engine_member_state s)
{
	switch (s) {
	case MEMBER_ALIVE: return "alive";
	case MEMBER_SUSPECT: return "suspect";
	case MEMBER_DEAD: return "dead";
	}
	return "unknown";
}

/* Milliseconds since t, or JSON null for "never" (t == 0). */
static json_t *ago(uint64_t now, uint64_t t)
{
	if (t == 0)
		return json_null();
	return json_integer(now > t ? (json_int_t)(now - t) : 0);
}

static json_t *member_json(const engine_member_info *m, uint64_t now)
{
	char id[17], addr[HOSTPORT_IP_STRLEN + 8];
	api_hex64(m->id, id);
	node_format_addr(&m->addr, addr, sizeof addr);
	return json_pack("{s:s?,s:s,s:s,s:b,s:I,s:o,s:o,s:I}",
	                 "id", m->id ? id : NULL, "addr", addr, "state", state_name(m->state),
	                 "verified", (int)m->verified,
	                 "incarnation", (json_int_t)m->incarnation,
	                 "last_heard_ago_ms", ago(now, m->last_heard_ms),
	                 "last_sync_ago_ms", ago(now, m->last_sync_ms),
	                 "differing_buckets", (json_int_t)m->differing_buckets);
}

static json_t *members_json(node *n)
{
	engine *e = node_engine(n);
	size_t count = engine_members(e, NULL, 0);
	engine_member_info *ms = calloc(count ? count : 1, sizeof *ms);
	json_t *arr = ms ? json_array() : NULL;
	if (arr)
		count = engine_members(e, ms, count);
	uint64_t now = node_now_ms(n);
	for (size_t i = 0; arr && i < count; i++) {
		if (json_array_append_new(arr, member_json(&ms[i], now)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(ms);
	return arr;
}

static uint64_t root_digest(const crdt_store *s)
{
	const uint64_t *d = crdt_store_bucket_digests(s);
	uint64_t x = 0;
	for (uint32_t i = 0; i < crdt_store_nbuckets(s); i++)
		x ^= d[i];
	return x;
}

static json_t *self_json(node *n)
{
	char id[17];
	api_hex64(node_self_id(n), id);
	return json_pack("{s:s,s:s,s:s,s:I}", "id", id, "name", node_name(n),
	                 "addr", node_gossip_addr(n), "epoch", (json_int_t)node_boot_epoch(n));
}

static void cluster(node *n, api_response *res)
{
	const crdt_store *s = node_store(n);
	char digest[17];
	api_hex64(root_digest(s), digest);
	json_t *members = members_json(n);
	json_t *v = members ? json_pack("{s:o,s:o,s:I,s:I,s:s}", "self", self_json(n),
	                                "members", members,
	                                "carts", (json_int_t)crdt_store_count(s),
	                                "buckets", (json_int_t)crdt_store_nbuckets(s),
	                                "digest", digest) : NULL;
	if (!v)
		api_error_rc(res, CARTD_ENOMEM, NULL);
	else
		api_respond_json(res, 200, v);
}

static void health(node *n, api_response *res)
{
	const engine_stats *st = engine_get_stats(node_engine(n));
	char id[17];
	api_hex64(node_self_id(n), id);
	json_t *v = json_pack("{s:s,s:s,s:s,s:I,s:I,s:{s:I,s:I,s:I}}", "status", "ok",
	                      "id", id, "name", node_name(n),
	                      "epoch", (json_int_t)node_boot_epoch(n),
	                      "carts", (json_int_t)crdt_store_count(node_store(n)),
	                      "members", "alive", (json_int_t)st->members[MEMBER_ALIVE],
	                      "suspect", (json_int_t)st->members[MEMBER_SUSPECT],
	                      "dead", (json_int_t)st->members[MEMBER_DEAD]);
	if (!v)
		api_error_rc(res, CARTD_ENOMEM, NULL);
	else
		api_respond_json(res, 200, v);
}

void api_cluster_respond(node *n, bool want_health, api_response *res)
{
	if (want_health)
		health(n, res);
	else
		cluster(n, res);
}
