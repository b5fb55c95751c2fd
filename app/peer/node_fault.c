/*
 * node_fault.c - applying fault injection (fault.h) to the peer's real
 * datagrams, in both directions: drop, duplicate, delay, block; and the
 * settings the fault admin API reads and replaces (node.h).
 *
 * Delayed datagrams are copied and held on a libevent timer each, bounded
 * by NODE_DELAY_MAX so a long delay under load cannot eat the memory; past
 * the bound they are dropped, as a congested network would.  Peers can be
 * blocked by replica id, but the socket only sees addresses, so the replica
 * id last seen at each address (from member events) is kept here.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "app/peer/node_internal.h"
#include "crdt/error.h"

#define NODE_DELAY_MAX 8192u     /* datagrams held at once */
#define NODE_IDS_MAX 65536u      /* addresses remembered */

struct delayed_dgram {
	delayed_dgram *prev, *next;
	node *n;
	struct event *ev;
	bool inbound;
	engine_addr addr;
	size_t len;
	uint8_t data[];
};

static void unlink_delayed(node *n, delayed_dgram *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		n->delayed = d->next;
	if (d->next)
		d->next->prev = d->prev;
	n->ndelayed--;
	event_free(d->ev);
}

static void deliver(node *n, bool inbound, const engine_addr *a, const uint8_t *d, size_t len)
{
	if (inbound)
		node_receive_now(n, a, d, len);
	else
		node_send_now(n, a, d, len);
}

static void on_due(evutil_socket_t fd, short what, void *arg)
{
	delayed_dgram *d = arg;
	node *n = d->n;
	(void)fd;
	(void)what;
	unlink_delayed(n, d);
	deliver(n, d->inbound, &d->addr, d->data, d->len);
	free(d);
	node_persist_dirty(n);   /* a received datagram may have changed carts */
	node_rearm(n);
}

/* Copies the datagram onto a timer.  0, CARTD_ENOSPC or CARTD_ENOMEM. */
static int hold(node *n, bool inbound, const engine_addr *a, const uint8_t *data,
                size_t len, uint32_t delay_ms)
{
	if (n->ndelayed >= NODE_DELAY_MAX)
		return CARTD_ENOSPC;
	delayed_dgram *d = malloc(sizeof *d + len);
	if (!d)
		return CARTD_ENOMEM;
	d->ev = evtimer_new(n->base, on_due, d);
	struct timeval tv = { (time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000 };
	if (!d->ev || evtimer_add(d->ev, &tv) != 0) {
		if (d->ev)
			event_free(d->ev);
		free(d);
		return CARTD_ENOMEM;
	}
	d->n = n;
	d->inbound = inbound;
	d->addr = *a;
	d->len = len;
	memcpy(d->data, data, len);
	d->prev = NULL;
	d->next = n->delayed;
	if (n->delayed)
		n->delayed->prev = d;
	n->delayed = d;
	n->ndelayed++;
	return 0;
}

static uint64_t id_at(const node *n, const engine_addr *a)
{
	for (size_t i = 0; i < n->nids; i++)
		if (n->ids[i].addr.len == a->len && memcmp(n->ids[i].addr.b, a->b, a->len) == 0)
			return n->ids[i].id;
	return 0;
}

static void apply(node *n, bool inbound, const engine_addr *a, const uint8_t *d, size_t len)
{
	fault_verdict v = fault_decide(n->faults, id_at(n, a), a);
	for (unsigned i = 0; i < v.copies; i++) {
		if (v.delay_ms == 0)
			deliver(n, inbound, a, d, len);
		else if (hold(n, inbound, a, d, len, v.delay_ms) != 0)
			n->faults->dropped++;
	}
}

void node_fault_send(node *n, const engine_addr *to, const uint8_t *d, size_t len)
{
	apply(n, false, to, d, len);
}

void node_fault_receive(node *n, const engine_addr *from, const uint8_t *d, size_t len)
{
	apply(n, true, from, d, len);
}

void node_fault_learn(node *n, uint64_t id, const engine_addr *addr)
{
	for (size_t i = 0; i < n->nids; i++) {
		if (n->ids[i].addr.len == addr->len &&
		    memcmp(n->ids[i].addr.b, addr->b, addr->len) == 0) {
			n->ids[i].id = id;     /* a restarted peer with a new identity */
			return;
		}
	}
	if (n->nids == n->ids_cap) {
		size_t cap = n->ids_cap ? n->ids_cap * 2 : 16;
		addr_id *p = cap <= NODE_IDS_MAX ? realloc(n->ids, cap * sizeof *p) : NULL;
		if (!p)
			return;    /* blocking by id then misses this peer; by address works */
		n->ids = p;
		n->ids_cap = cap;
	}
	n->ids[n->nids].addr = *addr;
	n->ids[n->nids].id = id;
	n->nids++;
}

const fault_state *node_faults_view(const node *n)
{
	return n->faults;
}

int node_faults_set(node *n, const fault_state *f)
{
	if (!n->faults)
		return CARTD_ENOTFOUND;
	if (f->nblocked_ids > FAULT_MAX_BLOCKED || f->nblocked_addrs > FAULT_MAX_BLOCKED)
		return CARTD_ENOSPC;
	/* Through the validated setters, onto a copy that keeps the counters
	 * and the random state: f is the caller's, and only settings that
	 * fault.h would have accepted may reach the datagrams. */
	fault_state next = *n->faults;
	fault_clear(&next);
	int rc = fault_set_rates(&next, f->drop, f->duplicate, f->delay_ms);
	if (rc == 0)
		rc = fault_set_answer_delay(&next, f->answer_delay_ms);
	for (size_t i = 0; rc == 0 && i < f->nblocked_ids; i++)
		rc = fault_block_id(&next, f->blocked_ids[i]);
	for (size_t i = 0; rc == 0 && i < f->nblocked_addrs; i++)
		rc = fault_block_addr(&next, &f->blocked_addrs[i]);
	if (rc == 0)
		*n->faults = next;
	return rc;
}

void node_fault_free(node *n)
{
	while (n->delayed) {
		delayed_dgram *d = n->delayed;
		unlink_delayed(n, d);
		free(d);
	}
	free(n->ids);
	n->ids = NULL;
	n->nids = n->ids_cap = 0;
	free(n->faults);
	n->faults = NULL;
}
