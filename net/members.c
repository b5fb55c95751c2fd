/*
 * members.c - the membership table: who we know, how they are, and the
 * rumours (state changes) we piggyback on probe messages, SWIM style.
 *
 * State precedence follows SWIM: a rumour about a member wins when its
 * incarnation is newer, and at equal incarnation SUSPECT beats ALIVE and
 * DEAD beats both.  A member refutes a rumour about itself by raising its
 * incarnation.  First-hand contact (an authentic datagram from the member
 * at its verified address) always makes it ALIVE: that is how a healed
 * partition rejoins.
 *
 * Verified before trusted: an entry is a member only once its address has
 * answered our challenge (hello.c); until then it is a candidate, learned
 * from a rumour, a table or a datagram from an address it has not proven.
 * Candidates are not probed, pushed to, gossiped or sent the table; they
 * are at most cfg.max_candidates, and a full table drops its least recently
 * heard candidate, never a member, to make room.
 */
#include <string.h>

#include "crdt/error.h"
#include "net/checked.h"
#include "net/engine_internal.h"

static bool addr_eq(const engine_addr *a, const engine_addr *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

struct member *members_find(engine *e, uint64_t id)
{
	for (size_t i = 0; id && i < e->nmembers; i++)
		if (e->members[i].id == id)
			return &e->members[i];
	return NULL;
}

struct member *members_find_addr(engine *e, const engine_addr *a)
{
	for (size_t i = 0; i < e->nmembers; i++)
		if (addr_eq(&e->members[i].addr, a))
			return &e->members[i];
	return NULL;
}

/* How many probe messages carry a state change: about 3 log2(n). */
static uint32_t rumour_budget(const engine *e)
{
	uint32_t n = (uint32_t)e->nmembers + 1, log = 1;
	while (n >>= 1)
		log++;
	return 3 * log;
}

/* Removes entry i, keeping the cursors in range. */
static void drop_at(engine *e, size_t i)
{
	struct member *m = &e->members[i];
	if (e->probe.target == m->id)
		e->probe.active = false;
	*m = e->members[--e->nmembers];
}

/* Makes room for one more entry (a candidate when candidate is true): the
 * least recently heard candidate goes when the table, or the candidates'
 * share of it, is full.  Seeds and members never go. */
static bool make_room(engine *e, bool candidate)
{
	size_t ncand = 0, victim = SIZE_MAX;
	for (size_t i = 0; i < e->nmembers; i++) {
		const struct member *m = &e->members[i];
		if (m->verified || m->seed)
			continue;
		ncand++;
		/* the least vouched for goes first, then the least recently heard */
		const struct member *v = victim == SIZE_MAX ? NULL : &e->members[victim];
		if (v == NULL || m->vouches < v->vouches ||
		    (m->vouches == v->vouches && m->last_heard < v->last_heard))
			victim = i;
	}
	bool full = e->nmembers >= e->cfg.max_members ||
	            (candidate && ncand >= e->cfg.max_candidates);
	if (!full)
		return true;
	if (victim == SIZE_MAX)
		return false;
	drop_at(e, victim);
	e->stats.candidates_evicted++;
	return true;
}

static struct member *add_member(engine *e, uint64_t id, const engine_addr *addr,
                                 enum engine_member_state st, uint64_t inc, bool verified)
{
	if ((id != 0 && wire_peer_revoked(e->w, id)) || !make_room(e, !verified))
		return NULL;
	struct member *m = &e->members[e->nmembers++];
	memset(m, 0, sizeof *m);
	m->id = id;
	m->addr = *addr;
	m->state = st;
	m->incarnation = inc;
	m->state_since = e->now;
	m->next_retry = e->now;
	m->last_heard = verified ? e->now : 0;
	m->verified = verified;
	m->rumours = id && verified ? rumour_budget(e) : 0;
	e->members_learnt = e->members_learnt || (id != 0 && verified);
	return m;
}

int members_add_seed(engine *e, const engine_addr *addr)
{
	struct member *m = members_find_addr(e, addr);
	if (m == NULL && make_room(e, false)) {
		/* a seed: never evicted, probed unasked until it answers */
		m = &e->members[e->nmembers++];
		memset(m, 0, sizeof *m);
		m->addr = *addr;
		m->state = MEMBER_DEAD;
		m->state_since = m->next_retry = e->now;
	}
	if (m == NULL)
		return CARTD_ENOSPC;
	m->seed = true;
	return 0;
}

void members_set_state(engine *e, struct member *m, enum engine_member_state st,
                       uint64_t incarnation)
{
	m->incarnation = incarnation;
	if (m->state == st)
		return;
	enum engine_member_state from = m->state;
	m->state = st;
	m->state_since = e->now;
	m->rumours = rumour_budget(e);
	if (st == MEMBER_SUSPECT)
		e->stats.suspicions++;
	else if (st == MEMBER_DEAD) {
		e->stats.deaths++;
		m->next_retry = e->now + e->cfg.dead_retry_ms;
	} else if (from == MEMBER_DEAD)
		e->stats.revivals++;
	if (e->cb.member_event)
		e->cb.member_event(e->cb.arg, m->id, &m->addr, from, st);
}

bool members_addr_verified(engine *e, const engine_addr *addr, uint64_t id)
{
	for (size_t i = 0; i < e->nmembers; i++) {
		const struct member *m = &e->members[i];
		if (m->verified && (id == 0 || m->id == id) && addr_eq(&m->addr, addr))
			return true;
	}
	return false;
}

static void mark_alive(engine *e, struct member *m)
{
	m->last_heard = e->now;
	if (m->state != MEMBER_ALIVE)
		members_set_state(e, m, MEMBER_ALIVE, m->incarnation);
}

struct member *members_heard(engine *e, uint64_t id, const engine_addr *addr)
{
	struct member *m = members_find(e, id);
	if (m && m->verified && addr_eq(&m->addr, addr)) {
		mark_alive(e, m);
		return m;
	}
	/* Not proven here: the address stays where it was until this one
	 * answers a challenge (a replayer's source address never does). */
	if (m == NULL && members_find_addr(e, addr) == NULL)
		m = add_member(e, id, addr, MEMBER_ALIVE, 0, false);
	if (m != NULL && !m->verified)
		m->last_heard = e->now;
	hello_send(e, addr, id);
	return NULL;
}

struct member *members_verified(engine *e, uint64_t id, const engine_addr *addr)
{
	struct member *m = members_find(e, id);
	/* Whoever held this address before (a seed known by address only, an
	 * older identity of a restarted peer) is not there any more. */
	for (size_t i = 0; i < e->nmembers; i++) {
		struct member *o = &e->members[i];
		if (o == m || !addr_eq(&o->addr, addr))
			continue;
		if (m == NULL && o->id == 0) {
			m = o;                       /* a seed learns its id */
			m->id = id;
			continue;
		}
		o->addr.len = 0;
		o->verified = false;
		if (o->state != MEMBER_DEAD)
			members_set_state(e, o, MEMBER_DEAD, o->incarnation);
	}
	if (m == NULL)
		m = add_member(e, id, addr, MEMBER_ALIVE, 0, true);
	if (m == NULL)
		return NULL;
	bool first = !m->verified;
	m->addr = *addr;
	m->verified = true;
	mark_alive(e, m);
	if (first) {
		m->rumours = rumour_budget(e);
		e->members_learnt = true;
		members_send_table(e, addr);   /* first contact: share what we know */
	}
	return m;
}

void members_drop_revoked(engine *e, const wire_keyring *ring)
{
	for (size_t i = 0; i < e->nmembers;) {
		struct member *m = &e->members[i];
		if (m->id == 0 || !wire_keyring_revoked(ring, m->id)) {
			i++;
			continue;
		}
		drop_at(e, i);
	}
	e->gossip_cursor = 0;
	e->probe_cursor = 0;
}

/* Does rumour (st, inc) override what we know of m?  (SWIM's rules.) */
static bool overrides(const struct member *m, enum engine_member_state st, uint64_t inc)
{
	if (inc != m->incarnation)
		return inc > m->incarnation;
	return st > m->state;
}

/* Counts a peer telling us of candidate m: distinct tellers in turn raise
 * its rank, so that candidates many peers know are probed first and a
 * single member's flood of made-up ones cannot crowd them out. */
static void vouch(engine *e, struct member *m)
{
	uint64_t src = e->cur_sender;
	if (m == NULL || m->verified || src == 0 || src == m->voucher)
		return;
	m->voucher = src;
	if (m->vouches < UINT8_MAX)
		m->vouches++;
}

void members_apply_rumour(engine *e, const msg_member *r, const engine_addr *from)
{
	(void)from;
	enum engine_member_state st = (enum engine_member_state)r->state;
	if (r->id == e->cfg.self_id) {
		if (st != MEMBER_ALIVE && r->incarnation >= e->incarnation) {
			/* Refute.  Rumours carry at most MSG_INCARNATION_MAX (msg.c
			 * refuses more), and ours saturates there instead of wrapping:
			 * at the maximum a rumour can no longer be outbid, but our
			 * own datagrams still prove us alive to every receiver. */
			e->incarnation = checked_inc_sat(r->incarnation, MSG_INCARNATION_MAX);
			e->self_rumours = rumour_budget(e);
		}
		return;
	}
	struct member *m = members_find(e, r->id);
	if (m == NULL) {
		/* Learn of a new member, if we are told where it is. */
		if (st != MEMBER_DEAD && r->addr.len > 0 && r->addr.len <= ENGINE_ADDR_MAX &&
		    members_find_addr(e, &r->addr) == NULL)
			vouch(e, add_member(e, r->id, &r->addr, st, r->incarnation, false));
		return;
	}
	vouch(e, m);
	if (m->addr.len == 0 && r->addr.len > 0)
		m->addr = r->addr;
	if (overrides(m, st, r->incarnation))
		members_set_state(e, m, st, r->incarnation);
}

static void put_member(msg_probe *p, const struct member *m)
{
	msg_member *g = &p->gossip[p->ngossip++];
	g->id = m->id;
	g->state = (uint8_t)m->state;
	g->incarnation = m->incarnation;
	g->addr = m->addr;
}

void members_fill_gossip(engine *e, msg_probe *p)
{
	p->ngossip = 0;
	msg_member *self = &p->gossip[p->ngossip++];
	memset(self, 0, sizeof *self);
	self->id = e->cfg.self_id;
	self->state = MEMBER_ALIVE;
	self->incarnation = e->incarnation;
	if (e->self_rumours)
		e->self_rumours--;
	/* Fresh state changes first, then the next members of the table in
	 * turn: a sweep, unlike random picks, shows a receiver the whole table
	 * in about nmembers / MSG_MAX_GOSSIP messages. */
	for (size_t i = 0; i < e->nmembers && p->ngossip < MSG_MAX_GOSSIP / 2; i++) {
		struct member *m = &e->members[i];
		if (m->id && m->addr.len && m->verified && m->rumours) {
			m->rumours--;
			put_member(p, m);
		}
	}
	for (size_t seen = 0; seen < e->nmembers && p->ngossip < MSG_MAX_GOSSIP; seen++) {
		struct member *m = &e->members[e->gossip_cursor++ % e->nmembers];
		bool dup = false;
		for (size_t k = 1; k < p->ngossip; k++)
			dup = dup || p->gossip[k].id == m->id;
		if (m->id && m->addr.len && m->verified && !dup)
			put_member(p, m);
	}
}

size_t members_live_count(const engine *e)
{
	size_t n = 0;
	for (size_t i = 0; i < e->nmembers; i++)
		n += e->members[i].id && e->members[i].verified &&
		     e->members[i].state != MEMBER_DEAD;
	return n;
}

struct member *members_live_at(engine *e, size_t k)
{
	for (size_t i = 0; i < e->nmembers; i++) {
		struct member *m = &e->members[i];
		if (m->id && m->verified && m->state != MEMBER_DEAD && k-- == 0)
			return m;
	}
	return NULL;
}

void members_count_states(engine *e)
{
	e->stats.members[MEMBER_ALIVE] = 0;
	e->stats.members[MEMBER_SUSPECT] = 0;
	e->stats.members[MEMBER_DEAD] = 0;
	e->stats.candidates = 0;
	for (size_t i = 0; i < e->nmembers; i++) {
		const struct member *m = &e->members[i];
		if (m->verified || (m->seed && m->addr.len))
			e->stats.members[m->state]++;
		else if (m->addr.len)
			e->stats.candidates++;
	}
}

/* Sends our whole member table (ourselves first) to one peer, in as many
 * MEMBERS messages as it takes.  Used when we first hear a peer, so that a
 * joining peer learns the cluster at once, and periodically with a random
 * member (push-pull), so that a large cluster does not rely on rumours
 * alone to learn its tail. */
void members_send_table(engine *e, const engine_addr *to)
{
	msg_member self = { e->cfg.self_id, MEMBER_ALIVE, e->incarnation, { 0, { 0 } } };
	buf_writer *w = engine_scratch(e);
	uint32_t n = 1;
	msg_begin_members(w);
	msg_put_member(w, &self);
	for (size_t i = 0; i < e->nmembers; i++) {
		const struct member *m = &e->members[i];
		if (m->id == 0 || m->addr.len == 0 || !m->verified)
			continue;
		if (n == MSG_MAX_TABLE || w->len + MSG_MEMBER_MAX_BYTES > engine_max_body(e)) {
			msg_end_members(w, n);
			if (!w->err)
				engine_send(e, to, MSG_MEMBERS, w->data, w->len);
			w = engine_scratch(e);
			msg_begin_members(w);
			n = 0;
		}
		msg_member g = { m->id, (uint8_t)m->state, m->incarnation, m->addr };
		msg_put_member(w, &g);
		n++;
	}
	msg_end_members(w, n);
	if (!w->err && n)
		engine_send(e, to, MSG_MEMBERS, w->data, w->len);
}

int members_on_table(engine *e, const engine_addr *from, const uint8_t *p, size_t len)
{
	msg_member v[MSG_MAX_TABLE];
	size_t n;
	if (msg_get_members(p, len, v, &n, &e->why))
		return CARTD_EDECODE;
	for (size_t i = 0; i < n; i++)
		members_apply_rumour(e, &v[i], from);
	return 0;
}
