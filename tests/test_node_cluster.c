/*
 * test_node_cluster.c - two real peers in one event loop, over loopback
 * UDP: writes replicate both ways, and fault injection blocks and then
 * releases the traffic.
 */
#include <check.h>
#include <string.h>

#include "app/peer/fault.h"
#include "app/peer/node.h"
#include "crdt/error.h"
#include "net/udp.h"
#include "tests/test_node_peer.h"

typedef tnp_pair pair;

void tnp_pair_start(pair *p, const char *tag, bool faults)
{
	char name[32];
	node_config c;
	p->base = event_base_new();
	snprintf(name, sizeof name, "%s-a", tag);
	tnp_config(&c, name, p->dir_a, sizeof p->dir_a);
	c.fault_injection = faults;
	c.fault_seed = 1;
	ck_assert_int_eq(node_new(&c, p->base, &p->a), 0);
	const char *seed[1] = { node_gossip_addr(p->a) };
	snprintf(name, sizeof name, "%s-b", tag);
	tnp_config(&c, name, p->dir_b, sizeof p->dir_b);
	c.peers = seed;
	c.npeers = 1;
	ck_assert_int_eq(node_new(&c, p->base, &p->b), 0);
}

void tnp_pair_stop(pair *p)
{
	node_free(p->a);
	node_free(p->b);
	event_base_free(p->base);
}


static bool answered(void *arg)
{
	return ((tnp_done *)arg)->calls > 0;
}

typedef struct until {
	struct event_base *base;
	uint64_t end_ms;
	node *n;
} until;

static bool time_up(void *arg)
{
	until *u = arg;
	return node_now_ms(u->n) >= u->end_ms;
}

START_TEST(replicates_both_ways)
{
	pair p;
	tnp_pair_start(&p, "both", false);
	tnp_done d = { 0, 1 };
	ck_assert_int_eq(tnp_write(p.a, "c1", CRDT_OP_ADD, "apple", 2, &d), 0);
	ck_assert(tnp_run_until(p.base, answered, &d) && d.rc == 0);
	tnp_want w = { p.b, "c1", "apple", 2 };
	ck_assert_msg(tnp_run_until(p.base, tnp_has_qty, &w), "A's write never reached B");
	tnp_done e = { 0, 1 };
	ck_assert_int_eq(tnp_write(p.b, "c1", CRDT_OP_SET, "apple", 7, &e), 0);
	tnp_want v = { p.a, "c1", "apple", 7 };
	ck_assert_msg(tnp_run_until(p.base, tnp_has_qty, &v), "B's write never reached A");
	ck_assert_int_eq(e.rc, 0);
	node_stats sa, sb;
	node_stats_get(p.a, &sa);
	node_stats_get(p.b, &sb);
	ck_assert(sa.node.udp_rx_dgrams > 0 && sa.node.udp_tx_dgrams > 0 &&
	          sb.node.udp_rx_dgrams > 0);
	ck_assert_uint_gt(sb.node.persist_submitted, 0);     /* A's cart written at B */
	ck_assert(sa.node.udp_rx_truncated == 0 && sa.node.persist_failed == 0 &&
	          sa.node.fault_held == 0);
	ck_assert(sa.node.writes_inflight == 0 && sa.node.writes_waiting == 0);
	/* The snapshot's parts agree with each other and across the pair. */
	ck_assert_uint_eq(sa.carts, 1);
	ck_assert_uint_eq(sb.carts, 1);
	ck_assert_uint_eq(sa.digest, sb.digest);
	ck_assert_uint_gt(sa.engine.dgrams_out, 0);
	ck_assert_uint_gt(sa.wire.sealed, 0);
	ck_assert_uint_gt(sa.committer.commits, 0);
	ck_assert_uint_gt(sa.latency.total, 0);
	ck_assert(!sa.faults_enabled);
	node_members ms;
	ck_assert_int_eq(node_members_get(p.a, &ms), 0);
	ck_assert_uint_eq(ms.n, 1);
	ck_assert_uint_eq(ms.v[0].id, node_self_id(p.b));
	ck_assert_str_eq(ms.v[0].addr_text, node_gossip_addr(p.b));
	ck_assert_str_eq(node_member_state_name(ms.v[0].state), "alive");
	node_members_destroy(&ms);
	node_members_destroy(&ms);   /* idempotent */
	tnp_pair_stop(&p);
}
END_TEST

START_TEST(blocked_then_released)
{
	pair p;
	tnp_pair_start(&p, "block", true);
	const fault_state *f = node_faults_view(p.a);
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_null(node_faults_view(p.b));
	ck_assert_int_eq(node_faults_set(p.b, f), CARTD_ENOTFOUND);
	engine_addr b_addr;
	ck_assert_int_eq(udp_resolve(node_gossip_addr(p.b), 0, &b_addr, NULL, 0), 0);
	fault_state next = *f;
	ck_assert_int_eq(fault_block_addr(&next, &b_addr), 0);
	ck_assert_int_eq(node_faults_set(p.a, &next), 0);
	ck_assert_uint_eq(f->nblocked_addrs, 1);
	tnp_done d = { 0, 1 };
	ck_assert_int_eq(tnp_write(p.a, "c1", CRDT_OP_ADD, "kiwi", 4, &d), 0);
	until u = { p.base, node_now_ms(p.a) + 400, p.a };
	tnp_run_until(p.base, time_up, &u);
	ck_assert_int_eq(d.rc, 0);          /* acknowledged locally all the same */
	ck_assert_uint_eq(tnp_qty(p.b, "c1", "kiwi"), 0);
	ck_assert_uint_gt(f->blocked, 0);
	next = *f;
	ck_assert_int_eq(fault_unblock_addr(&next, &b_addr), 0);
	ck_assert_int_eq(fault_set_rates(&next, 0, 1, 20), 0);   /* duplicated, delayed */
	next.drop = 2;          /* out of range: refused whole */
	ck_assert_int_eq(node_faults_set(p.a, &next), CARTD_EINVAL);
	ck_assert_uint_eq(f->nblocked_addrs, 1);
	next.drop = 0;
	next.blocked = 0;       /* counters are the node's own: kept */
	ck_assert_int_eq(node_faults_set(p.a, &next), 0);
	ck_assert_uint_gt(f->blocked, 0);
	ck_assert_uint_eq(f->nblocked_addrs, 0);
	tnp_want w = { p.b, "c1", "kiwi", 4 };
	ck_assert_msg(tnp_run_until(p.base, tnp_has_qty, &w), "never healed");
	ck_assert_uint_gt(f->duplicated, 0);
	ck_assert_uint_gt(f->delayed, 0);
	tnp_pair_stop(&p);
}
END_TEST

/* B's log gets the deltas replication brought, joined with what B wrote
 * itself; a replica's records wait up to COMMITTER_LAZY_MS for company,
 * and a stop must still make them durable.  B restarts alone, so nothing
 * can come back from A. */
START_TEST(replicated_changes_survive_restart)
{
	pair p;
	tnp_pair_start(&p, "keep", false);
	tnp_done d0 = { 0, 1 }, d1 = { 0, 1 }, d2 = { 0, 1 };
	ck_assert_int_eq(tnp_write(p.b, "c1", CRDT_OP_ADD, "banana", 1, &d0), 0);
	ck_assert(tnp_run_until(p.base, answered, &d0) && d0.rc == 0);
	ck_assert_int_eq(tnp_write(p.a, "c1", CRDT_OP_ADD, "apple", 2, &d1), 0);
	ck_assert(tnp_run_until(p.base, answered, &d1) && d1.rc == 0);
	ck_assert_int_eq(tnp_write(p.a, "c2", CRDT_OP_ADD, "pear", 3, &d2), 0);
	ck_assert(tnp_run_until(p.base, answered, &d2) && d2.rc == 0);
	tnp_want w1 = { p.b, "c1", "apple", 2 }, w2 = { p.b, "c2", "pear", 3 };
	ck_assert_msg(tnp_run_until(p.base, tnp_has_qty, &w1) &&
	              tnp_run_until(p.base, tnp_has_qty, &w2), "A's writes never reached B");
	node_stats sb;
	node_stats_get(p.b, &sb);
	ck_assert_uint_ge(sb.node.persist_submitted, 2);
	ck_assert_uint_eq(sb.node.persist_failed + sb.node.persist_lost, 0);
	node_free(p.a);
	node_free(p.b);

	node_config c;
	char dir[128];
	tnp_config(&c, "keep-b", dir, sizeof dir);
	ck_assert_int_eq(node_new(&c, p.base, &p.b), 0);
	ck_assert_uint_eq(tnp_qty(p.b, "c1", "banana"), 1);
	ck_assert_uint_eq(tnp_qty(p.b, "c1", "apple"), 2);
	ck_assert_uint_eq(tnp_qty(p.b, "c2", "pear"), 3);
	node_free(p.b);
	event_base_free(p.base);
}
END_TEST

void tnp_add_cluster_tests(TCase *tc)
{
	tcase_add_test(tc, replicates_both_ways);
	tcase_add_test(tc, replicated_changes_survive_restart);
	tcase_add_test(tc, blocked_then_released);
}
