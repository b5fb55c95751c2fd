/*
 * sim.c - the simulator's core: building and freeing the cluster, the event
 * loop, engine timers, and the public driving calls (see sim.h).
 */
#include "tests/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "tests/sim_internal.h"

/* A fixed cluster secret (bytes 0..31): simulated peers share one
 * development keyring, each deriving its identity from its replica id, and
 * fixed keys (Ed25519 signatures are deterministic too) keep every sent
 * byte, hence every run, reproducible. */
static const char sim_key_text[] =
	"# simulator keyring\n"
	"cluster-secret AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

int sim_schedule(sim *s, const sim_event *ev)
{
	/* an allocation failure would silently change the run: fail loudly */
	if (sim_heap_push(&s->q, ev)) {
		fprintf(stderr, "sim: out of memory queueing an event\n");
		abort();
	}
	return 0;
}

void sim_arm(sim *s, sim_peer *p)
{
	if (!p->up)
		return;
	uint64_t d = engine_next_deadline(p->e, s->now);
	if (d < s->now)
		d = s->now;
	/* an earlier (or equal) timer is queued: it re-arms when it fires */
	if (p->tick_at != UINT64_MAX && p->tick_at <= d)
		return;
	p->tick_at = d;
	sim_event ev = { .at = d, .kind = SIM_EV_TICK, .peer = (uint16_t)p->idx, .gen = p->gen };
	sim_schedule(s, &ev);
}

static void run_tick(sim *s, const sim_event *ev)
{
	sim_peer *p = &s->peer[ev->peer];
	/* a superseded timer, or one from a previous life */
	if (!p->up || ev->gen != p->gen || ev->at != p->tick_at)
		return;
	p->tick_at = UINT64_MAX;
	engine_tick(p->e, s->now);
	uint64_t d = engine_next_deadline(p->e, s->now);
	/* everything due has run: a deadline of now again would spin */
	if (d <= s->now)
		d = s->now + 1;
	p->tick_at = d;
	sim_event next = { .at = d, .kind = SIM_EV_TICK, .peer = (uint16_t)p->idx, .gen = p->gen };
	sim_schedule(s, &next);
}

static void dispatch(sim *s, const sim_event *ev)
{
	switch (ev->kind) {
	case SIM_EV_DELIVER: sim_net_deliver(s, ev); free(ev->data); break;
	case SIM_EV_TICK: run_tick(s, ev); break;
	case SIM_EV_WRITE: sim_peer_client_write(s, ev); break;
	case SIM_EV_COMMIT: sim_peer_commit(s, ev); break;
	case SIM_EV_PERSIST: sim_peer_persisted(s, ev); free(ev->data); break;
	case SIM_EV_FAULT: sim_fault_run(s, ev); break;
	case SIM_EV_ANSWER: sim_keyed_answer(s, ev); break;
	case SIM_EV_TIMEOUT: sim_keyed_timeout(s, ev); break;
	default: abort();
	}
}

void sim_run_until(sim *s, uint64_t t)
{
	sim_event ev;
	while (sim_heap_peek(&s->q) <= t && sim_heap_pop(&s->q, &ev)) {
		s->now = ev.at;
		s->st.events++;
		dispatch(s, &ev);
	}
	s->now = t;
}

/* Random distinct non-zero replica ids and 1..max_seeds seeds per peer:
 * peer 0 (or, for peer 0, peer 1) and random others, so most of the
 * membership has to be learned by gossip. */
static void make_peers(sim *s)
{
	unsigned maxs = s->p.max_seeds ? s->p.max_seeds : 3;
	for (unsigned i = 0; i < s->n; i++) {
		sim_peer *p = &s->peer[i];
		p->sim = s;
		p->idx = i;
		p->tick_at = UINT64_MAX;
		p->side = 1;
		p->hops = ~0u;
		sim_disk_init(&p->disk);
		do {
			p->id = sim_next(&s->rng);
			for (unsigned j = 0; j < i && p->id; j++)
				if (s->peer[j].id == p->id)
					p->id = 0;
		} while (p->id == 0);
		unsigned want = (unsigned)sim_range(&s->rng, 1, maxs > 3 ? 3 : maxs);
		p->seeds[p->nseeds++] = i == 0 ? 1 : 0;
		while (p->nseeds < want) {
			unsigned o = (unsigned)sim_below(&s->rng, s->n);
			if (o != i)
				p->seeds[p->nseeds++] = o;
		}
	}
}

static int make_cart_ids(sim *s)
{
	s->cart_ids = calloc(s->p.ncarts + 1, sizeof *s->cart_ids);
	s->kept = calloc(s->p.ncarts + 1, sizeof *s->kept);
	if (s->cart_ids == NULL || s->kept == NULL)
		return CARTD_ENOMEM;
	for (unsigned i = 0; i < s->p.ncarts; i++) {
		s->cart_ids[i] = malloc(16);
		if (s->cart_ids[i] == NULL)
			return CARTD_ENOMEM;
		snprintf(s->cart_ids[i], 16, "cart-%u", i);
	}
	return 0;
}

int sim_new(const sim_params *p, sim **out)
{
	*out = NULL;
	if (p->npeers < 2 || p->npeers > SIM_MAX_PEERS)
		return CARTD_EINVAL;
	sim *s = calloc(1, sizeof *s);
	if (s == NULL)
		return CARTD_ENOMEM;
	s->p = *p;
	s->n = p->npeers;
	sim_rng_seed(&s->rng, p->seed ^ UINT64_C(0x5eed5eed5eed5eed));
	sim_heap_init(&s->q);
	s->cluster_tag = wire_cluster_tag("sim");
	sim_report_init(&s->during, s->during_buf, sizeof s->during_buf);
	s->peer = calloc(s->n, sizeof *s->peer);
	int rc = s->peer ? 0 : CARTD_ENOMEM;
	if (rc == 0)
		s->ring_text = sim_key_text;
	if (rc == 0)
		rc = make_cart_ids(s);
	if (rc == 0)
		rc = sim_oracle_init(&s->oracle, p->ncarts);
	if (rc == 0) {
		make_peers(s);
		for (unsigned i = 0; i < s->n && rc == 0; i++)
			rc = sim_peer_boot(s, &s->peer[i]);
	}
	if (rc) {
		sim_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void sim_free(sim *s)
{
	if (s == NULL)
		return;
	sim_heap_destroy(&s->q, sim_free_commit);
	for (unsigned i = 0; s->peer && i < s->n; i++) {
		sim_peer *p = &s->peer[i];
		engine_free(p->e);
		wire_free(p->w);
		wire_keyring_free(p->ring);
		crdt_store_free(p->store);
		sim_disk_destroy(&p->disk);
	}
	free(s->peer);
	for (unsigned i = 0; s->cart_ids && i < s->p.ncarts; i++)
		free(s->cart_ids[i]);
	free(s->cart_ids);
	for (unsigned i = 0; s->kept && i < s->p.ncarts; i++)
		crdt_ctx_destroy(&s->kept[i]);
	free(s->kept);
	if (s->oracle.removed)
		sim_oracle_destroy(&s->oracle);
	free(s->faults);
	free(s->watch);
	free(s);
}
