/*
 * sim_insider.c - a Byzantine insider in the simulator: the last peer runs
 * an honest engine (it holds a valid certificate and a verified address)
 * and also sees every datagram the others send, which it attacks with:
 *   - replays to the same receiver from its own address (an address hijack);
 *   - replays to another peer, from the real sender's address (cross-pair);
 *   - MEMBERS floods of made-up members at made-up addresses, sealed under
 *     its real sessions.
 * Refusals of what it injects are its own business (sim_stats
 * insider_rejected); the verdict (sim_insider_check): honest peers still
 * converge (sim_check's usual rules), each is a verified member, at its
 * own address, of another honest peer (not locked out), and the made-up
 * addresses, which never send anything, got nothing but HELLO probes within
 * their budget (8 per peer per protocol period of 1000 ms).
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "net/msg.h"
#include "tests/sim_internal.h"

#define FLOOD_MEMBERS 40u
#define FAKE_BASE 0x8000u      /* made-up addresses: indexes past any peer */

static sim_peer *insider(sim *s)
{
	return &s->peer[s->n - 1];
}

/* MEMBERS of made-up members, sealed by the insider for peer dst. */
static void flood(sim *s, unsigned dst)
{
	sim_peer *b = insider(s);
	uint64_t to = s->peer[dst].up ? wire_self_id(s->peer[dst].w) : 0;
	if (!b->up || to == 0 || wire_session_epoch(b->w, to) == 0)
		return;
	buf_writer w;
	buf_writer_init(&w);
	msg_begin_members(&w);
	for (unsigned k = 0; k < FLOOD_MEMBERS; k++) {
		unsigned a = FAKE_BASE + (unsigned)sim_below(&s->rng, 0x7fff);
		msg_member m = { sim_next(&s->rng) | 1, MEMBER_ALIVE, 1,
		                 { 2, { (uint8_t)a, (uint8_t)(a >> 8) } } };
		msg_put_member(&w, &m);
	}
	msg_end_members(&w, FLOOD_MEMBERS);
	uint8_t d[2048];
	size_t n;
	if (!w.err && wire_seal(b->w, to, MSG_MEMBERS, w.data, w.len, d, sizeof d, &n) == 0)
		sim_net_inject(s, b->idx, dst, d, n);
	buf_writer_destroy(&w);
}

void sim_insider_saw(sim *s, const sim_peer *p, unsigned dst, const uint8_t *d, size_t len)
{
	unsigned byz = s->n - 1;
	if (p->idx == byz || dst == byz || !sim_pct(&s->rng, 20))
		return;
	switch (sim_below(&s->rng, 3)) {
	case 0:
		sim_net_inject(s, byz, dst, d, len);
		break;
	case 1: {
		unsigned other = (unsigned)sim_below(&s->rng, byz);
		if (other != dst && other != p->idx)
			sim_net_inject(s, p->idx, other, d, len);
		break;
	}
	default:
		flood(s, dst);
		break;
	}
}

/* Is honest peer j a verified, alive member at its own address for i?
 * The whole table is searched: a peer that restarted after the flood was
 * learned again behind the made-up candidates. */
static bool holds(sim *s, unsigned i, unsigned j)
{
	size_t n = engine_members(s->peer[i].e, NULL, 0);
	engine_member_info *m = calloc(n ? n : 1, sizeof *m);
	if (m == NULL)
		sim_die("members", CARTD_ENOMEM);
	n = engine_members(s->peer[i].e, m, n);
	uint64_t id = wire_self_id(s->peer[j].w);
	engine_addr a = sim_addr(j);
	bool held = false;
	for (size_t k = 0; k < n; k++)
		if (m[k].id == id) {
			held = m[k].verified && m[k].addr.len == a.len &&
			       memcmp(m[k].addr.b, a.b, a.len) == 0;
			break;
		}
	free(m);
	return held;
}

void sim_insider_check(sim *s, sim_report *r)
{
	if (s->st.fake_bytes)
		sim_problem(r, "made-up addresses, which sent nothing, got %llu bytes besides "
		            "HELLO probes", (unsigned long long)s->st.fake_bytes);
	uint64_t budget = 8ull * s->n * (s->now / 1000 + 1);
	if (s->st.fake_hellos > budget)
		sim_problem(r, "made-up addresses got %llu HELLO probes; the budget is %llu",
		            (unsigned long long)s->st.fake_hellos, (unsigned long long)budget);
	/* Not locked out: every honest peer is a verified member, at its own
	 * address, of some other honest peer.  (All pairs verified is not
	 * asked: a flood of made-up candidates slows how fast a large table
	 * fills, which convergence, checked apart, does not need.) */
	for (unsigned j = 0; j + 1 < s->n && s->n <= 64; j++) {
		bool held = !s->peer[j].up;
		for (unsigned i = 0; i + 1 < s->n && !held; i++)
			held = i != j && s->peer[i].up && holds(s, i, j);
		if (!held)
			sim_problem(r, "no honest peer holds peer %u verified at its address", j);
	}
}
