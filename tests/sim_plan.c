/*
 * sim_plan.c - a schedule's parameters and fault plan, all derived from its
 * seed, and the faults themselves (partitions, crashes, the final heal).
 *
 * Partition windows follow each other (one cut at a time, each mended
 * before the next); crashes are independent, so several peers, sometimes
 * all of them, can be down together.  Every planned fault happens before
 * active_ms, when the heal starts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "tests/sim_internal.h"

static const char *const kind_names[SIM_FAULT_KINDS] = {
	"net", "isolate", "halves", "bridge", "crash", "mixed",
};

void sim_params_init(sim_params *p, uint64_t seed, unsigned npeers)
{
	memset(p, 0, sizeof *p);
	p->seed = seed;
	p->kind = SIM_FAULT_NET;
	p->npeers = npeers;
	p->nskus = 1;
	p->add_pct = 50;
	p->max_add = 5;
	p->settle_ms = 120000;
	p->delay_ms = 1;
	p->max_seeds = 3;
}

void sim_params_from_seed(uint64_t seed, sim_params *p)
{
	static const uint32_t buckets[] = { 1, 8, 64, CRDT_DEFAULT_BUCKETS };
	sim_rng r;
	sim_rng_seed(&r, seed);
	sim_params_init(p, seed, (unsigned)sim_range(&r, 3, 8));
	p->kind = (enum sim_fault_kind)(seed % SIM_FAULT_KINDS);
	/* a quarter of the schedules write many small carts, mostly one add
	 * each: carts with byte-identical content then share buckets and
	 * groups, which digests must tell apart */
	bool many = sim_pct(&r, 25);
	p->ncarts = (unsigned)(many ? sim_range(&r, 20, 200) : sim_range(&r, 1, 6));
	p->nskus = (unsigned)(many ? sim_range(&r, 1, 2) : sim_range(&r, 2, 6));
	p->add_pct = many ? 90 : 50;
	p->max_add = many ? 2 : 5;
	p->writes = (unsigned)sim_range(&r, 20, 500);
	p->active_ms = sim_range(&r, 5000, 40000);
	/* a third of the schedules stay below 10% loss, the rest up to 50% */
	p->loss_pct = (unsigned)sim_below(&r, sim_pct(&r, 33) ? 11 : 51);
	p->dup_pct = (unsigned)sim_below(&r, 21);
	p->delay_ms = (unsigned)sim_range(&r, 1, 10);
	p->jitter_ms = (unsigned)sim_below(&r, 41);
	p->straggle_pct = (unsigned)sim_below(&r, 4);
	/* slow disks in a quarter of the schedules: crashes catch more writes
	 * between apply and commit */
	p->commit_ms = (unsigned)(sim_pct(&r, 25) ? sim_range(&r, 50, 300) : sim_below(&r, 21));
	p->persist_ms = (unsigned)(sim_pct(&r, 25) ? sim_range(&r, 50, 300) : sim_below(&r, 21));
	p->nfaults = (unsigned)sim_range(&r, 1, 4);
	p->ncrashes = p->kind == SIM_FAULT_CRASH ? (unsigned)sim_range(&r, 2, 10)
	            : p->kind == SIM_FAULT_MIXED ? (unsigned)sim_range(&r, 1, 5) : 0;
	if (sim_pct(&r, 33)) {   /* bounded fanout with re-gossip, even when small */
		p->full_push_max = (uint32_t)sim_range(&r, 1, 3);
		p->fanout = (uint32_t)sim_range(&r, 1, 3);
	}
	p->nbuckets = buckets[sim_below(&r, 4)];
	/* small datagrams make carts travel as join-decomposition pieces */
	p->max_datagram = sim_pct(&r, 33) ? (size_t)sim_range(&r, ENGINE_MIN_DATAGRAM, 700) : 0;
	/* a third of the schedules also have a hot cart: a few lines added to
	 * at every peer at once, sometimes past CRDT_MAX_LINE_ENTRIES */
	if (sim_pct(&r, 33)) {
		p->hot_skus = (unsigned)sim_range(&r, 1, 3);
		p->hot_writes = (unsigned)sim_range(&r, 300, 1500);
		p->ncarts++;
	}
	p->token_keep_pct = 50;
	/* keys in three quarters of the schedules, a short window (keys
	 * reusable, retries replayed by the dot alone) in a third of those */
	bool keys = sim_pct(&r, 60);
	p->keyed_pct = keys ? (unsigned)sim_range(&r, 10, 40) : 0;
	/* about 250 keyed adds at most: every keyed write leaves a range in
	 * the cart's context, which each later change re-encodes for the
	 * digest, so the cost grows with their square */
	p->hot_keyed_pct = keys && p->hot_writes && sim_pct(&r, 33)
	                 ? (unsigned)sim_range(&r, 20, 60) : 0;
	if (p->hot_keyed_pct > 25000 / (p->hot_writes + 1))
		p->hot_keyed_pct = 25000 / (p->hot_writes + 1);
	p->reuse_pct = (unsigned)sim_range(&r, 5, 15);
	p->hedge_pct = (unsigned)sim_range(&r, 5, 20);
	p->tokrem_pct = (unsigned)sim_range(&r, 5, 20);
	p->answer_loss_pct = (unsigned)sim_below(&r, 21);
	p->answer_ms = (unsigned)sim_below(&r, 31);
	p->idem_window_ms = sim_pct(&r, 33) ? sim_range(&r, 1000, 15000) : UINT64_C(86400000);
	p->skew_ms = (unsigned)sim_below(&r, 2001);
	p->close_pct = sim_pct(&r, 70) ? (unsigned)sim_range(&r, 20, 60) : 0;
	p->commit_crashes = p->ncrashes ? (unsigned)sim_range(&r, 1, 3) : 0;
}

void sim_params_format(const sim_params *p, char *buf, size_t cap)
{
	snprintf(buf, cap,
	         "seed=%" PRIu64 " kind=%s peers=%u carts=%u skus=%u adds=%u%%<=%u writes=%u "
	         "active=%" PRIu64 "ms loss=%u%% dup=%u%% delay=%u+%ums straggle=%u%% "
	         "commit<=%ums persist<=%ums cuts=%u crashes=%u full_push_max=%u fanout=%u "
	         "buckets=%u max_datagram=%zu hot=%u/%u keyed=%u%% hot_keyed=%u%% reuse=%u%% "
	         "hedge=%u%% tokrem=%u%% answer_loss=%u%% answer<=%ums window=%" PRIu64 "ms "
	         "skew<=%ums close=%u%% commit_crashes=%u",
	         p->seed, p->kind < SIM_FAULT_KINDS ? kind_names[p->kind] : "?", p->npeers,
	         p->ncarts, p->nskus, p->add_pct, p->max_add, p->writes, p->active_ms,
	         p->loss_pct, p->dup_pct, p->delay_ms, p->jitter_ms, p->straggle_pct,
	         p->commit_ms, p->persist_ms, p->nfaults, p->ncrashes, p->full_push_max,
	         p->fanout, p->nbuckets, p->max_datagram, p->hot_skus, p->hot_writes,
	         p->keyed_pct, p->hot_keyed_pct, p->reuse_pct, p->hedge_pct, p->tokrem_pct,
	         p->answer_loss_pct, p->answer_ms, p->idem_window_ms, p->skew_ms, p->close_pct,
	         p->commit_crashes);
}

static void plan_fault(sim *s, uint64_t at, const sim_fault *f)
{
	if (s->nfaults == s->faults_cap) {
		size_t cap = s->faults_cap ? s->faults_cap * 2 : 16;
		sim_fault *nf = realloc(s->faults, cap * sizeof *nf);
		if (nf == NULL)
			sim_die("fault plan", CARTD_ENOMEM);
		s->faults = nf;
		s->faults_cap = cap;
	}
	s->faults[s->nfaults] = *f;
	sim_event ev = { .at = at, .kind = SIM_EV_FAULT, .arg = (uint32_t)s->nfaults++ };
	sim_schedule(s, &ev);
}

void sim_plan_crash(sim *s, unsigned peer, uint32_t down_ms)
{
	plan_fault(s, s->now, &(sim_fault){ .op = SIM_OP_CRASH, .peer = (uint16_t)peer,
	                                    .down_ms = down_ms });
}

/* nfaults partition windows, one per slice of the active phase. */
static void plan_cuts(sim *s, bool any_shape)
{
	uint64_t slot = s->p.active_ms / s->p.nfaults;
	for (unsigned i = 0; i < s->p.nfaults; i++) {
		uint64_t start = i * slot + sim_below(&s->rng, slot / 2);
		uint64_t end = start + sim_range(&s->rng, slot / 8, slot / 2);
		unsigned shape = any_shape ? SIM_FAULT_ISOLATE + (unsigned)sim_below(&s->rng, 3)
		                           : s->p.kind;
		plan_fault(s, start, &(sim_fault){ .op = SIM_OP_CUT, .shape = (uint8_t)shape });
		plan_fault(s, end, &(sim_fault){ .op = SIM_OP_MEND });
	}
}

/* ncrashes crashes, each down for 0.1-5 s, half of them of the peer with
 * the most writes waiting for their commit (chosen when the crash comes);
 * a quarter of the schedules also crash every peer at one instant. */
static void plan_crashes(sim *s)
{
	for (unsigned i = 0; i < s->p.ncrashes; i++) {
		sim_fault f = { .op = SIM_OP_CRASH, .down_ms = (uint32_t)sim_range(&s->rng, 100, 5000) };
		f.peer = sim_pct(&s->rng, 50) ? SIM_BUSIEST : (uint16_t)sim_below(&s->rng, s->n);
		plan_fault(s, sim_below(&s->rng, s->p.active_ms * 9 / 10), &f);
	}
	if (!sim_pct(&s->rng, 25))
		return;
	uint64_t at = sim_below(&s->rng, s->p.active_ms * 9 / 10);
	for (unsigned peer = 0; peer < s->n; peer++) {
		sim_fault f = { .op = SIM_OP_CRASH, .peer = (uint16_t)peer,
		                .down_ms = (uint32_t)sim_range(&s->rng, 100, 3000) };
		plan_fault(s, at, &f);
	}
}

/* Writes at random times; a third of them land in the same millisecond
 * as the previous one, so concurrent writes to one cart are common. */
int sim_plan(sim *s)
{
	uint64_t at = 0;
	for (unsigned i = 0; i < s->p.writes; i++) {
		if (i == 0 || !sim_pct(&s->rng, 33))
			at = sim_below(&s->rng, s->p.active_ms);
		sim_event ev = { .at = at, .kind = SIM_EV_WRITE };
		sim_schedule(s, &ev);
	}
	for (unsigned i = 0; i < s->p.hot_writes; i++) {
		sim_event ev = { .at = sim_below(&s->rng, s->p.active_ms), .kind = SIM_EV_WRITE,
		                 .arg = SIM_HOT };
		sim_schedule(s, &ev);
	}
	s->loss_pct = s->p.loss_pct;
	s->dup_pct = s->p.dup_pct;
	switch (s->p.kind) {
	case SIM_FAULT_ISOLATE:
	case SIM_FAULT_HALVES:
	case SIM_FAULT_BRIDGE: plan_cuts(s, false); break;
	case SIM_FAULT_CRASH: plan_crashes(s); break;
	case SIM_FAULT_MIXED: plan_cuts(s, true); plan_crashes(s); break;
	default: break;
	}
	sim_close_plan(s);
	return 0;
}

/* The peer with the most pending writes; a random one if none has any. */
static unsigned busiest(sim *s)
{
	unsigned best = s->n;
	for (unsigned i = 0; i < s->n; i++)
		if (s->peer[i].up && s->peer[i].pending &&
		    (best == s->n || s->peer[i].pending > s->peer[best].pending))
			best = i;
	return best < s->n ? best : (unsigned)sim_below(&s->rng, s->n);
}

/* Crashes a peer and plans its restart (before the heal at the latest). */
static void crash(sim *s, const sim_fault *f)
{
	unsigned i = f->peer == SIM_BUSIEST ? busiest(s) : f->peer;
	if (!s->peer[i].up)
		return;
	sim_peer_crash(s, &s->peer[i]);
	uint64_t back = s->now + f->down_ms;
	plan_fault(s, back < s->p.active_ms ? back : s->p.active_ms - 1,
	           &(sim_fault){ .op = SIM_OP_RESTART, .peer = (uint16_t)i });
}

void sim_fault_run(sim *s, const sim_event *ev)
{
	sim_fault f = s->faults[ev->arg];   /* a copy: crash() may grow the array */
	sim_peer *p = &s->peer[f.peer == SIM_BUSIEST ? 0 : f.peer];
	int rc;
	switch (f.op) {
	case SIM_OP_CUT:
		sim_net_cut(s, (enum sim_fault_kind)f.shape);
		sim_close_cut(s);
		break;
	case SIM_OP_MEND: sim_partition(s, NULL); break;
	case SIM_OP_CRASH: crash(s, &f); break;
	case SIM_OP_RESTART:
		if (p->up)
			break;
		if ((rc = sim_peer_boot(s, p)) != 0)
			sim_die("restart", rc);
		sim_plan_retries(s, p);
		break;
	default: abort();
	}
}

void sim_heal(sim *s)
{
	sim_partition(s, NULL);
	sim_set_faults(s, 0, 0);
	for (unsigned i = 0; i < s->n; i++) {
		int rc;
		if (!s->peer[i].up && (rc = sim_peer_boot(s, &s->peer[i])) != 0)
			sim_die("restart at heal", rc);
	}
}
