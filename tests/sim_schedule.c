/*
 * sim_schedule.c - one whole schedule: plan, run, heal, settle, verdict,
 * and the report a failing seed prints.
 *
 * After the heal the cluster must converge within settle_ms and then stay
 * put: it runs QUIET_MS more and the final state must not have moved (a
 * cluster that keeps changing after every peer agreed is a bug too).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "tests/sim_internal.h"

#define STEP_MS 100u
#define QUIET_MS 3000u

/* FNV-1a over every live peer's bucket digests and cart count. */
static uint64_t fingerprint(const sim *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (unsigned i = 0; i < s->n; i++) {
		const sim_peer *p = &s->peer[i];
		if (!p->up)
			continue;
		const uint64_t *d = crdt_store_bucket_digests(p->store);
		uint32_t nb = crdt_store_nbuckets(p->store);
		for (uint32_t b = 0; b <= nb; b++) {
			uint64_t v = b < nb ? d[b] : crdt_store_count(p->store);
			for (int k = 0; k < 8; k++)
				h = (h ^ (uint8_t)(v >> (8 * k))) * UINT64_C(0x100000001b3);
		}
	}
	return h;
}

static const char *state_name(enum engine_member_state st)
{
	return st == MEMBER_ALIVE ? "alive" : st == MEMBER_SUSPECT ? "suspect" : "dead";
}

/* What each peer looks like when the cluster failed to converge. */
static void describe_peers(sim *s, sim_report *r)
{
	engine_member_info m[16];
	for (unsigned i = 0; i < s->n; i++) {
		sim_peer *p = &s->peer[i];
		const engine_stats *es = engine_get_stats(p->e);
		size_t nm = engine_members(p->e, m, 16);
		char buf[512];
		size_t len = 0;
		for (size_t k = 0; k < nm && k < 16 && len < sizeof buf - 64; k++)
			len += (size_t)snprintf(buf + len, sizeof buf - len, " %u:%s",
			                        (unsigned)m[k].addr.b[0] | (unsigned)m[k].addr.b[1] << 8,
			                        state_name(m[k].state));
		buf[len] = '\0';
		sim_say(r, "  peer %u: epoch %u, %zu carts, pending %u, ae rounds %" PRIu64
		        ", members%s", i, p->disk.epoch, crdt_store_count(p->store), p->pending,
		        es->ae_rounds, buf);
	}
}

static void report_head(const sim_params *p, sim_result *res, sim_report *r)
{
	char params[512];
	sim_params_format(p, params, sizeof params);
	sim_say(r, "simulator schedule FAILED: %s", params);
	sim_say(r, "replay: CARTD_SIM_SEED=%" PRIu64 " CK_RUN_SUITE=sim build/tests/check_runner",
	        p->seed);
	sim_say(r, "healed at %" PRIu64 " ms; %s", res->heal_at,
	        res->converged ? "converged" : "did NOT converge");
}

/* Runs the heal and settle phases; returns whether the cluster converged
 * and then stayed put. */
static bool settle(sim *s, sim_result *res, sim_report *r)
{
	sim_heal(s);
	res->heal_at = s->now;
	uint64_t t = sim_run_until_converged(s, s->now + s->p.settle_ms, STEP_MS);
	if (t == UINT64_MAX) {
		sim_problem(r, "no convergence within %" PRIu64 " ms of the heal", s->p.settle_ms);
		return false;
	}
	res->converged_at = t;
	uint64_t before = fingerprint(s);
	sim_run_until(s, s->now + QUIET_MS);
	if (!sim_converged(s) || fingerprint(s) != before)
		sim_problem(r, "state changed after convergence (during %u quiet ms)", QUIET_MS);
	return true;
}

int sim_run_schedule(const sim_params *p, sim_result *res)
{
	char body[SIM_REPORT_MAX];
	sim_report r;
	memset(res, 0, sizeof *res);
	sim_report_init(&r, body, sizeof body);
	sim *s;
	int rc = sim_new(p, &s);
	if (rc) {
		sim_problem(&r, "sim_new: %s", cartd_strerror(rc));
	} else {
		sim_plan(s);
		sim_run_until(s, p->active_ms);
		res->converged = settle(s, res, &r);
		sim_check(s, &r);
		if (r.problems)
			describe_peers(s, &r);
		res->fingerprint = fingerprint(s);
		res->stats = s->st;
		uint64_t counts[4];
		sim_oracle_counts(&s->oracle, counts);
		res->stats.writes_lost = counts[SIM_OP_LOST];
		res->stats.writes_durable = counts[SIM_OP_DURABLE];
		sim_free(s);
	}
	res->ok = r.problems == 0;
	sim_report head;
	sim_report_init(&head, res->report, sizeof res->report);
	if (!res->ok) {
		report_head(p, res, &head);
		sim_say(&head, "%u problem(s):\n%s", r.problems, body);
	}
	return res->ok ? 0 : -1;
}
