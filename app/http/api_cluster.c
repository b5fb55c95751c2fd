/*
 * api_cluster.c - GET /cluster and GET /health: this peer, its view of the
 * membership, and the digests anti-entropy compares.
 */
#include "app/http/api_internal.h"
#include "app/peer/node.h"
#include "crdt/error.h"

/* Milliseconds since t, or JSON null for "never" (t == 0). */
static json_t *ago(uint64_t now, uint64_t t)
{
	if (t == 0)
		return json_null();
	return json_integer(now > t ? (json_int_t)(now - t) : 0);
}

static json_t *member_json(const node_member *m, uint64_t now)
{
	char id[17];
	api_hex64(m->id, id);
	return json_pack("{s:s?,s:s,s:s,s:b,s:I,s:o,s:o,s:I}",
	                 "id", m->id ? id : NULL, "addr", m->addr_text,
	                 "state", node_member_state_name(m->state),
	                 "verified", (int)m->verified,
	                 "incarnation", (json_int_t)m->incarnation,
	                 "last_heard_ago_ms", ago(now, m->last_heard_ms),
	                 "last_sync_ago_ms", ago(now, m->last_sync_ms),
	                 "differing_buckets", (json_int_t)m->differing_buckets);
}

static json_t *members_json(node *n)
{
	node_members ms;
	json_t *arr = node_members_get(n, &ms) == 0 ? json_array() : NULL;
	for (size_t i = 0; arr && i < ms.n; i++) {
		if (json_array_append_new(arr, member_json(&ms.v[i], ms.now_ms)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	node_members_destroy(&ms);
	return arr;
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
	node_stats st;
	char digest[17];
	node_stats_get(n, &st);
	api_hex64(st.digest, digest);
	json_t *members = members_json(n);
	json_t *v = members ? json_pack("{s:o,s:o,s:I,s:I,s:s}", "self", self_json(n),
	                                "members", members,
	                                "carts", (json_int_t)st.carts,
	                                "buckets", (json_int_t)st.buckets,
	                                "digest", digest) : NULL;
	if (!v)
		api_error_rc(res, CARTD_ENOMEM, NULL);
	else
		api_respond_json(res, 200, v);
}

static void health(node *n, api_response *res)
{
	node_stats st;
	char id[17];
	node_stats_get(n, &st);
	api_hex64(node_self_id(n), id);
	json_t *v = json_pack("{s:s,s:s,s:s,s:I,s:I,s:{s:I,s:I,s:I}}", "status", "ok",
	                      "id", id, "name", node_name(n),
	                      "epoch", (json_int_t)node_boot_epoch(n),
	                      "carts", (json_int_t)st.carts,
	                      "members", "alive", (json_int_t)st.engine.members[MEMBER_ALIVE],
	                      "suspect", (json_int_t)st.engine.members[MEMBER_SUSPECT],
	                      "dead", (json_int_t)st.engine.members[MEMBER_DEAD]);
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
