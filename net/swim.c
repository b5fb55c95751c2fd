/*
 * swim.c - failure detection, SWIM style: each protocol period probe one
 * member round-robin; without an answer within the timeout ask a few others
 * to probe it for us (indirect ping); without any answer by the end of the
 * period suspect it, and declare it dead when the suspicion is not refuted
 * in time.  Dead members and unheard seeds are probed again periodically so
 * that a healed partition rejoins by itself.
 */
#include <string.h>

#include "net/engine_internal.h"

static void send_probe(engine *e, const engine_addr *to, uint8_t type, uint64_t seq,
                       uint64_t subject, const engine_addr *target_addr)
{
	msg_probe p;
	memset(&p, 0, sizeof p);
	p.seq = seq;
	p.subject = subject;
	if (target_addr)
		p.target_addr = *target_addr;
	members_fill_gossip(e, &p);
	buf_writer *w = engine_scratch(e);
	msg_put_probe(w, &p);
	if (!w->err)
		engine_send(e, to, type, w->data, w->len);
}

static void start_probe(engine *e)
{
	size_t live = members_live_count(e);
	e->next_probe = e->now + e->cfg.ping_interval_ms;
	if (live == 0)
		return;
	struct member *m = members_live_at(e, e->probe_cursor++ % live);
	e->probe.active = true;
	e->probe.acked = false;
	e->probe.indirect_sent = false;
	e->probe.seq = ++e->probe_seq;
	e->probe.target = m->id;
	e->probe.started = e->now;
	e->stats.pings_out++;
	send_probe(e, &m->addr, MSG_PING, e->probe.seq, m->id, NULL);
}

static void send_indirect(engine *e, const struct member *target)
{
	size_t live = members_live_count(e);
	uint32_t sent = 0;
	for (size_t tries = 0; live > 1 && tries < 4 * e->cfg.indirect_probes &&
	     sent < e->cfg.indirect_probes; tries++) {
		struct member *h = members_live_at(e, engine_rand(e) % live);
		if (h == NULL || h->id == target->id)
			continue;
		send_probe(e, &h->addr, MSG_PING_REQ, e->probe.seq, target->id, &target->addr);
		e->stats.indirect_out++;
		sent++;
	}
}

static void advance_probe(engine *e)
{
	if (!e->probe.active)
		return;
	struct member *m = members_find(e, e->probe.target);
	if (m == NULL || e->probe.acked) {
		e->probe.active = e->probe.active && !e->probe.acked && m != NULL;
		return;
	}
	if (!e->probe.indirect_sent && e->now >= e->probe.started + e->cfg.ping_timeout_ms) {
		e->probe.indirect_sent = true;
		send_indirect(e, m);
		/* Our session may have outlived its boot: ask for a fresh one. */
		hello_send(e, &m->addr, m->id);
	}
	if (e->now >= e->probe.started + e->cfg.ping_interval_ms) {
		e->probe.active = false;
		if (m->state == MEMBER_ALIVE)
			members_set_state(e, m, MEMBER_SUSPECT, m->incarnation);
	}
}

/* Dead members, seeds and candidates are retried at most
 * DEAD_PROBES_PER_PERIOD times per protocol period in all: after a partition of a large cluster every peer
 * would otherwise probe hundreds of dead members at once.  Revival does not
 * wait for our own retry: rumours and the dead members' own probes carry it
 * too. */
#define DEAD_PROBES_PER_PERIOD 8u

static uint64_t dead_spacing(const engine *e)
{
	uint64_t gap = e->cfg.ping_interval_ms / DEAD_PROBES_PER_PERIOD;
	return gap ? gap : 1;
}

static void retry_later(engine *e, struct member *m)
{
	e->dead_gate = e->now + dead_spacing(e);
	/* Jitter keeps a cluster's retries from synchronising. */
	m->next_retry = e->now + e->cfg.dead_retry_ms +
	                engine_rand(e) % (e->cfg.dead_retry_ms / 4 + 1);
}

/* The due candidate most peers told us of, or NULL. */
static struct member *best_candidate(engine *e)
{
	struct member *best = NULL;
	for (size_t i = 0; i < e->nmembers; i++) {
		struct member *m = &e->members[i];
		if (m->verified || m->seed || m->addr.len == 0 || e->now < m->next_retry)
			continue;
		if (best == NULL || m->vouches > best->vouches)
			best = m;
	}
	return best;
}

/* Suspects whose time ran out die; dead members, seeds and candidates get
 * a retry. */
static void sweep_members(engine *e)
{
	for (size_t i = 0; i < e->nmembers; i++) {
		struct member *m = &e->members[i];
		if (!m->verified && !m->seed)
			continue;   /* candidates: by rank, below */
		if (m->state == MEMBER_SUSPECT && e->now >= m->state_since + e->cfg.suspect_ms)
			members_set_state(e, m, MEMBER_DEAD, m->incarnation);
		if ((m->state == MEMBER_DEAD || !m->verified) && m->addr.len &&
		    e->now >= m->next_retry && e->now >= e->dead_gate) {
			retry_later(e, m);
			if (!m->verified) {
				/* a seed: a challenge, within this budget, is all an
				 * unproven address gets unasked */
				hello_probe(e, m);
				continue;
			}
			/* A dead member may have restarted: renew the session. */
			hello_send(e, &m->addr, m->id);
			send_probe(e, &m->addr, MSG_PING, ++e->probe_seq, m->id, NULL);
		}
	}
	struct member *c = e->now >= e->dead_gate ? best_candidate(e) : NULL;
	if (c != NULL) {
		retry_later(e, c);
		hello_probe(e, c);
	}
	for (size_t i = 0; i < ENGINE_RELAYS; i++)
		if (e->relays[i].expires && e->now >= e->relays[i].expires)
			e->relays[i].expires = 0;
}

/* Each peer pushes its member table to one random live member, every
 * protocol period while it keeps learning new members (a cluster forming
 * or growing: knowledge then spreads like an epidemic, in about log n
 * periods) and every TABLE_SYNC_PERIODS periods once its table is stable.
 * Rumours alone leave the tail of a large cluster's table to chance.  Every
 * peer pushes, so tables flow both ways without a reply that could echo. */
#define TABLE_SYNC_PERIODS 10u

static void sync_table(engine *e)
{
	size_t live = members_live_count(e);
	uint64_t periods = e->members_learnt ? 1 : TABLE_SYNC_PERIODS;
	e->members_learnt = false;
	e->next_table_sync = e->now + periods * e->cfg.ping_interval_ms;
	if (live)
		members_send_table(e, &members_live_at(e, engine_rand(e) % live)->addr);
}

void swim_tick(engine *e)
{
	advance_probe(e);
	sweep_members(e);
	if (e->now >= e->next_probe)
		start_probe(e);
	if (e->now >= e->next_table_sync)
		sync_table(e);
}

uint64_t swim_deadline(const engine *e)
{
	uint64_t t = e->next_probe;
	if (e->next_table_sync < t)
		t = e->next_table_sync;
	if (e->probe.active && !e->probe.acked) {
		uint64_t end = e->probe.started + e->cfg.ping_interval_ms;
		uint64_t ind = e->probe.started + e->cfg.ping_timeout_ms;
		t = end < t ? end : t;
		if (!e->probe.indirect_sent && ind < t)
			t = ind;
	}
	for (size_t i = 0; i < e->nmembers; i++) {
		const struct member *m = &e->members[i];
		uint64_t due = m->state == MEMBER_SUSPECT ? m->state_since + e->cfg.suspect_ms
		             : m->state == MEMBER_DEAD && m->addr.len ? m->next_retry : 0;
		if (due && m->state == MEMBER_DEAD && due < e->dead_gate)
			due = e->dead_gate;
		if (due && due < t)
			t = due;
	}
	return t;
}

void swim_on_ping(engine *e, const engine_addr *from, uint64_t sender, const msg_probe *p)
{
	(void)sender;
	send_probe(e, from, MSG_ACK, p->seq, e->cfg.self_id, NULL);
}

void swim_on_ack(engine *e, const engine_addr *from, uint64_t sender, const msg_probe *p)
{
	(void)from;
	(void)sender;
	e->stats.acks_in++;
	if (e->probe.active && p->seq == e->probe.seq && p->subject == e->probe.target) {
		e->probe.acked = true;
		struct member *m = members_find(e, p->subject);
		/* Relayed proof of life clears our own suspicion. */
		if (m && m->state == MEMBER_SUSPECT)
			members_set_state(e, m, MEMBER_ALIVE, m->incarnation);
	}
	for (size_t i = 0; i < ENGINE_RELAYS; i++) {
		struct relay *r = &e->relays[i];
		if (r->expires && r->my_seq == p->seq && r->target == p->subject) {
			send_probe(e, &r->requester, MSG_ACK, r->their_seq, r->target, NULL);
			r->expires = 0;
		}
	}
}

void swim_on_ping_req(engine *e, const engine_addr *from, uint64_t sender, const msg_probe *p)
{
	(void)sender;
	struct member *t = members_find(e, p->subject);
	const engine_addr *addr = t && t->addr.len ? &t->addr : &p->target_addr;
	if (addr->len == 0 || p->subject == e->cfg.self_id)
		return;
	struct relay *slot = &e->relays[0];
	for (size_t i = 0; i < ENGINE_RELAYS; i++)
		if (e->relays[i].expires < slot->expires)
			slot = &e->relays[i];
	slot->my_seq = ++e->probe_seq;
	slot->their_seq = p->seq;
	slot->target = p->subject;
	slot->requester = *from;
	slot->expires = e->now + e->cfg.ping_interval_ms;
	send_probe(e, addr, MSG_PING, slot->my_seq, p->subject, NULL);
}
