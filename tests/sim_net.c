/*
 * sim_net.c - the virtual network: the engines' send callback, seeded
 * loss, duplication, delay and reordering, partitions, and delivery.
 *
 * An address is two bytes holding the peer's index (little-endian).  Each
 * datagram is copied when sent, so the engine may reuse its buffer.
 * Partitions are judged at delivery time: cutting a link also drops what
 * was in flight on it, which is what a real partition does to queued
 * packets.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "tests/sim_internal.h"

engine_addr sim_addr(unsigned idx)
{
	engine_addr a;
	memset(&a, 0, sizeof a);
	a.len = 2;
	a.b[0] = (uint8_t)idx;
	a.b[1] = (uint8_t)(idx >> 8);
	return a;
}

/* Peer index of an address, or -1 for one the simulator never handed out. */
static long addr_index(const sim *s, const engine_addr *a)
{
	if (a->len != 2)
		return -1;
	unsigned i = (unsigned)a->b[0] | (unsigned)a->b[1] << 8;
	return i < s->n ? (long)i : -1;
}

static void queue_copy_as(sim *s, unsigned from, unsigned to, const uint8_t *d, size_t len,
                          uint32_t injected)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, d, len);
	uint64_t delay = s->p.delay_ms + sim_below(&s->rng, (uint64_t)s->p.jitter_ms + 1);
	if (sim_pct(&s->rng, s->p.straggle_pct))
		delay += sim_below(&s->rng, SIM_STRAGGLE_MS);
	sim_event ev = { .at = s->now + delay, .kind = SIM_EV_DELIVER, .peer = (uint16_t)to,
	                 .from = (uint16_t)from, .arg = injected, .len = (uint32_t)len,
	                 .data = copy };
	sim_schedule(s, &ev);
}

static void queue_copy(sim *s, unsigned from, unsigned to, const uint8_t *d, size_t len)
{
	queue_copy_as(s, from, to, d, len, 0);
}

void sim_net_inject(sim *s, unsigned from, unsigned to, const uint8_t *d, size_t len)
{
	s->st.injected++;
	queue_copy_as(s, from, to, d, len, 1);
}

void sim_net_send(void *arg, const engine_addr *to, const uint8_t *dgram, size_t len)
{
	sim_peer *p = arg;
	sim *s = p->sim;
	unsigned type = len > 3 ? dgram[3] & 15u : 0;   /* header byte 3: type */
	s->st.sent++;
	s->st.sent_bytes += len;
	s->st.by_type[type]++;
	s->st.bytes_by_type[type] += len;
	long dst = addr_index(s, to);
	if (dst < 0 && s->p.insider && to->len == 2) {
		/* an address the insider made up: only probes may go there */
		if (type == WIRE_TYPE_HELLO)
			s->st.fake_hellos++;
		else
			s->st.fake_bytes += len;
		return;
	}
	if (dst < 0 || (unsigned)dst == p->idx) {
		s->st.bad_addr++;
		return;
	}
	if (s->p.insider)
		sim_insider_saw(s, p, (unsigned)dst, dgram, len);
	if (sim_pct(&s->rng, s->loss_pct)) {
		s->st.lost++;
		return;
	}
	queue_copy(s, p->idx, (unsigned)dst, dgram, len);
	if (sim_pct(&s->rng, s->dup_pct)) {
		s->st.duplicated++;
		queue_copy(s, p->idx, (unsigned)dst, dgram, len);
	}
}

/* Index into sim_stats.rejected for an engine_receive error. */
static unsigned reject_slot(int rc)
{
	switch (rc) {
	case CARTD_EREPLAY: return 0;
	case CARTD_EDECODE: return 1;
	case CARTD_EAUTH: return 2;
	case CARTD_EHEADER: return 3;
	case CARTD_EOVERSIZE: return 4;
	case CARTD_EINFLATE: return 5;
	case CARTD_ESELF: return 6;
	case CARTD_ESESSION: return 8;
	case CARTD_EEPOCH: return 9;
	default: return 7;
	}
}

/* The watched cart arrived at `to` through this datagram: one hop more
 * than the peer that sent it. */
static void watch_arrival(sim *s, sim_peer *from, sim_peer *to)
{
	crdt_item it;
	if (to->hops != ~0u ||
	    crdt_store_get(to->store, s->watch, strlen(s->watch), &it) != 0)
		return;
	to->hops = from->hops == ~0u ? 1 : from->hops + 1;
	s->watch_reached++;
	if (to->hops > s->watch_hops)
		s->watch_hops = to->hops;
	s->watch_last = s->now;
}

void sim_net_deliver(sim *s, const sim_event *ev)
{
	sim_peer *to = &s->peer[ev->peer], *from = &s->peer[ev->from];
	if (!to->up) {
		s->st.to_down++;
		return;
	}
	if ((to->side & from->side) == 0) {
		s->st.cut++;
		return;
	}
	s->st.delivered++;
	s->st.delivered_bytes += ev->len;
	engine_addr a = sim_addr(ev->from);
	int rc = engine_receive(to->e, &a, ev->data, ev->len, s->now);
	/* Refusing the insider is the point, and what the insider refuses
	 * (challenges for the addresses it replays from) is its business. */
	if (rc && (ev->arg || (s->p.insider && ev->peer == s->n - 1)))
		s->st.insider_rejected++;
	else if (rc)
		s->st.rejected[reject_slot(rc)]++;
	if (s->watch)
		watch_arrival(s, from, to);
	sim_arm(s, to);
}

/* Puts every peer on side 1 or 2 at random, both sides non-empty; with a
 * bridge, one peer (not counted in either half) reaches both (side 3). */
static void cut_halves(sim *s, bool bridge)
{
	unsigned n = s->n, b = bridge ? (unsigned)sim_below(&s->rng, n) : n;
	unsigned ones = 0, rest = bridge ? n - 1 : n;
	for (unsigned i = 0; i < n; i++) {
		s->peer[i].side = i == b ? 3u : 1u + (unsigned)sim_below(&s->rng, 2);
		ones += i != b && s->peer[i].side == 1;
	}
	if (rest < 2)
		return;
	/* force both halves non-empty by flipping the first non-bridge peer */
	if (ones == 0 || ones == rest) {
		unsigned i = b == 0 ? 1 : 0;
		s->peer[i].side = s->peer[i].side == 1 ? 2 : 1;
	}
}

void sim_net_cut(sim *s, enum sim_fault_kind shape)
{
	s->st.partitions++;
	if (shape == SIM_FAULT_ISOLATE) {
		unsigned v = (unsigned)sim_below(&s->rng, s->n);
		for (unsigned i = 0; i < s->n; i++)
			s->peer[i].side = i == v ? 1u : 2u;
		return;
	}
	cut_halves(s, shape == SIM_FAULT_BRIDGE && s->n >= 3);
}
