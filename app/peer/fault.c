/*
 * fault.c - the fault injection state and its per-datagram decision (see
 * fault.h).  Pure: no I/O, no clock; the node applies the verdict.
 */
#include "app/peer/fault.h"

#include <math.h>
#include <string.h>

#include "crdt/error.h"
#include "crdt/splitmix.h"

/* Reproducible from the seed alone. */
static uint64_t next_u64(fault_state *f)
{
	return splitmix64_next(&f->rng);
}

/* Uniform in [0, 1) with 53 bits. */
static double next_unit(fault_state *f)
{
	return (double)(next_u64(f) >> 11) * 0x1.0p-53;
}

void fault_init(fault_state *f, uint64_t seed)
{
	memset(f, 0, sizeof *f);
	f->rng = seed;
}

void fault_clear(fault_state *f)
{
	f->drop = 0;
	f->duplicate = 0;
	f->delay_ms = 0;
	f->answer_delay_ms = 0;
	f->nblocked_ids = 0;
	f->nblocked_addrs = 0;
}

static int valid_rate(double r)
{
	return !isnan(r) && r >= 0.0 && r <= 1.0;
}

int fault_set_rates(fault_state *f, double drop, double duplicate, uint32_t delay_ms)
{
	if (!valid_rate(drop) || !valid_rate(duplicate) || delay_ms > FAULT_MAX_DELAY_MS)
		return CARTD_EINVAL;
	f->drop = drop;
	f->duplicate = duplicate;
	f->delay_ms = delay_ms;
	return 0;
}

int fault_set_answer_delay(fault_state *f, uint32_t ms)
{
	if (ms > FAULT_MAX_DELAY_MS)
		return CARTD_EINVAL;
	f->answer_delay_ms = ms;
	return 0;
}

static size_t find_id(const fault_state *f, uint64_t id)
{
	for (size_t i = 0; i < f->nblocked_ids; i++)
		if (f->blocked_ids[i] == id)
			return i;
	return SIZE_MAX;
}

static int addr_valid(const engine_addr *a)
{
	return a && a->len > 0 && a->len <= ENGINE_ADDR_MAX;
}

static int addr_eq(const engine_addr *a, const engine_addr *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static size_t find_addr(const fault_state *f, const engine_addr *a)
{
	for (size_t i = 0; i < f->nblocked_addrs; i++)
		if (addr_eq(&f->blocked_addrs[i], a))
			return i;
	return SIZE_MAX;
}

int fault_block_id(fault_state *f, uint64_t id)
{
	if (id == 0)
		return CARTD_EINVAL;
	if (find_id(f, id) != SIZE_MAX)
		return 0;
	if (f->nblocked_ids == FAULT_MAX_BLOCKED)
		return CARTD_ENOSPC;
	f->blocked_ids[f->nblocked_ids++] = id;
	return 0;
}

int fault_unblock_id(fault_state *f, uint64_t id)
{
	if (id == 0)
		return CARTD_EINVAL;
	size_t i = find_id(f, id);
	if (i != SIZE_MAX)   /* order does not matter: move the last one in */
		f->blocked_ids[i] = f->blocked_ids[--f->nblocked_ids];
	return 0;
}

int fault_block_addr(fault_state *f, const engine_addr *a)
{
	if (!addr_valid(a))
		return CARTD_EINVAL;
	if (find_addr(f, a) != SIZE_MAX)
		return 0;
	if (f->nblocked_addrs == FAULT_MAX_BLOCKED)
		return CARTD_ENOSPC;
	f->blocked_addrs[f->nblocked_addrs] = *a;
	memset(f->blocked_addrs[f->nblocked_addrs].b + a->len, 0, ENGINE_ADDR_MAX - a->len);
	f->nblocked_addrs++;
	return 0;
}

int fault_unblock_addr(fault_state *f, const engine_addr *a)
{
	if (!addr_valid(a))
		return CARTD_EINVAL;
	size_t i = find_addr(f, a);
	if (i != SIZE_MAX)
		f->blocked_addrs[i] = f->blocked_addrs[--f->nblocked_addrs];
	return 0;
}

static int is_blocked(const fault_state *f, uint64_t id, const engine_addr *a)
{
	if (id != 0 && find_id(f, id) != SIZE_MAX)
		return 1;
	return addr_valid(a) && find_addr(f, a) != SIZE_MAX;
}

fault_verdict fault_decide(fault_state *f, uint64_t peer_id, const engine_addr *peer_addr)
{
	fault_verdict v = { 1, 0 };
	if (is_blocked(f, peer_id, peer_addr)) {
		f->blocked++;
		v.copies = 0;
		return v;
	}
	/* Draw only for rates in use, so a run with one fault enabled replays
	 * the same decisions from the same seed whatever else was set before. */
	if (f->drop > 0 && next_unit(f) < f->drop) {
		f->dropped++;
		v.copies = 0;
		return v;
	}
	if (f->duplicate > 0 && next_unit(f) < f->duplicate) {
		f->duplicated++;
		v.copies = 2;
	}
	if (f->delay_ms > 0) {
		f->delayed++;
		v.delay_ms = f->delay_ms;
	}
	return v;
}
