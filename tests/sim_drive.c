/*
 * sim_drive.c - the simulator's public driving calls beyond the event loop
 * (see sim.h): accessors, convergence, partitions and the watched cart.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "tests/sim_internal.h"

uint64_t sim_now(const sim *s)
{
	return s->now;
}

unsigned sim_npeers(const sim *s)
{
	return s->n;
}

const sim_stats *sim_get_stats(const sim *s)
{
	return &s->st;
}

crdt_store *sim_store(sim *s, unsigned peer)
{
	return s->peer[peer].store;
}

void sim_set_faults(sim *s, unsigned loss_pct, unsigned dup_pct)
{
	s->loss_pct = loss_pct;
	s->dup_pct = dup_pct;
}

void sim_partition(sim *s, const unsigned *side)
{
	for (unsigned i = 0; i < s->n; i++)
		s->peer[i].side = side ? side[i] : 1u;
}

bool sim_converged(const sim *s)
{
	return sim_converged_side(s, ~0u);
}

bool sim_converged_side(const sim *s, unsigned mask)
{
	const sim_peer *ref = NULL;
	size_t bytes = (size_t)(s->p.nbuckets ? s->p.nbuckets : CRDT_DEFAULT_BUCKETS) * 8u;
	for (unsigned i = 0; i < s->n; i++) {
		const sim_peer *p = &s->peer[i];
		if (!p->up || !(p->side & mask))
			continue;
		if (p->pending)
			return false;
		if (ref == NULL) {
			ref = p;
			continue;
		}
		if (memcmp(crdt_store_bucket_digests(ref->store),
		           crdt_store_bucket_digests(p->store), bytes) != 0)
			return false;
	}
	return true;
}

unsigned sim_min_alive(sim *s)
{
	unsigned least = ~0u;
	for (unsigned i = 0; i < s->n; i++) {
		if (!s->peer[i].up)
			continue;
		unsigned a = (unsigned)engine_get_stats(s->peer[i].e)->members[MEMBER_ALIVE];
		if (a < least)
			least = a;
	}
	return least;
}

uint64_t sim_run_until_converged(sim *s, uint64_t deadline, uint64_t step_ms)
{
	while (!sim_converged(s)) {
		if (s->now >= deadline)
			return UINT64_MAX;
		uint64_t t = s->now + step_ms;
		sim_run_until(s, t < deadline ? t : deadline);
	}
	return s->now;
}

void sim_watch(sim *s, const char *id)
{
	free(s->watch);
	s->watch = id ? strdup(id) : NULL;
	s->watch_reached = 0;
	s->watch_hops = 0;
	s->watch_last = 0;
	for (unsigned i = 0; i < s->n; i++) {
		crdt_item it;
		bool has = id && s->peer[i].up &&
		           crdt_store_get(s->peer[i].store, id, strlen(id), &it) == 0;
		s->peer[i].hops = has ? 0 : ~0u;
		s->watch_reached += has;
	}
}

unsigned sim_watch_reached(const sim *s)
{
	return s->watch_reached;
}

unsigned sim_watch_hops(const sim *s)
{
	return s->watch_hops;
}

uint64_t sim_watch_last(const sim *s)
{
	return s->watch_last;
}
