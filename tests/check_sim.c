/*
 * check_sim.c - the deterministic simulator as a test suite: 1800 seeded
 * schedules spread over the fault kinds (lossy network, isolated peer,
 * halves, bridge, crashes, all mixed), a third of them with a hot cart
 * added to at every peer, most with keyed writes and checkouts, a
 * determinism check, and checks that the oracle itself catches
 * divergence, lost writes, orders no checkout made or that changed, and
 * a keyed request counted once per attempt.  Each kind prints one summary
 * line of what its schedules reached, and fails if a hard shape (hot
 * lines, keyed writes applied twice, replays, checkouts, late items...)
 * never occurred.
 *
 * Environment:
 *   CARTD_SIM_SEED=<seed>       run only that schedule (its kind is
 *                               seed % 6; the other kinds' tests pass empty)
 *   CARTD_SIM_SCHEDULES=<n>     schedules in all instead of 1800 (30 under
 *                               CARTD_TEST_SCALE=valgrind; make sanitize
 *                               sets 60)
 *   CARTD_SIM_VERBOSE=1         one line per schedule
 *   CARTD_TEST_JOBS=<n>         processes a kind's schedules are spread over
 *                               (default: the online CPUs; 1 with CK_FORK=no)
 * A failing schedule prints its parameters, the replay command and what
 * differed; the test then fails naming every failing seed.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crdt/error.h"
#include "tests/sim.h"
#include "tests/sim_internal.h"
#include "tests/test_jobs.h"

Suite *sim_suite(void);

#define DEFAULT_SCHEDULES 1800u   /* 300 of each fault kind */
#define VALGRIND_SCHEDULES 30u
#define MAX_LISTED 8u

static const char *const kind_name[SIM_FAULT_KINDS] = {
	"net", "isolate", "halves", "bridge", "crash", "mixed",
};

static bool env_u64(const char *name, uint64_t *out)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		return false;
	*out = strtoull(v, NULL, 0);
	return true;
}

static unsigned schedules_per_kind(void)
{
	uint64_t n = DEFAULT_SCHEDULES;
	const char *scale = getenv("CARTD_TEST_SCALE");
	if (!env_u64("CARTD_SIM_SCHEDULES", &n) && scale && strcmp(scale, "valgrind") == 0)
		n = VALGRIND_SCHEDULES;
	return (unsigned)((n + SIM_FAULT_KINDS - 1) / SIM_FAULT_KINDS);
}

/* The i-th CI seed of a kind: fixed (CI is repeatable), and congruent to
 * the kind mod SIM_FAULT_KINDS so that the seed alone says the kind. */
static uint64_t kind_seed(unsigned kind, unsigned i)
{
	uint64_t x = UINT64_C(0xC0FFEE) * (kind + 1) + i;
	uint64_t s = sim_mix(&x) >> 1;
	return s - s % SIM_FAULT_KINDS + kind;
}

static void verbose_line(const sim_params *p, const sim_result *r)
{
	if (getenv("CARTD_SIM_VERBOSE") == NULL)
		return;
	const sim_stats *st = &r->stats;
	fprintf(stderr, "sim %-7s seed=%-20" PRIu64 " peers=%u loss=%u%% acked=%" PRIu64
	        " lost=%" PRIu64 " durable=%" PRIu64 " crashes=%" PRIu64 " dgrams=%" PRIu64
	        " replays=%" PRIu64 " cut=%" PRIu64 " hot=%" PRIu64 "+%" PRIu64 " full=%" PRIu64
	        " deferred=%" PRIu64 " old_tokens=%" PRIu64 " keyed=%" PRIu64 "/%" PRIu64
	        " hedged=%" PRIu64 " reapplied=%" PRIu64 " idem_replays=%" PRIu64
	        " reused=%" PRIu64 "+%" PRIu64 " answers_lost=%" PRIu64 "(%" PRIu64 " crash)"
	        " tokrem=%" PRIu64 " checkouts=%" PRIu64 "/%" PRIu64 " closed=%" PRIu64
	        " double=%" PRIu64 " late=%" PRIu64 "+%" PRIu64 " no_order=%" PRIu64
	        " other_order=%" PRIu64 " key_two_orders=%" PRIu64 " %s converged_in=%" PRIu64 "\n",
	        kind_name[p->kind], p->seed, p->npeers, p->loss_pct, st->writes_acked,
	        st->writes_lost, st->writes_durable, st->crashes, st->sent, st->rejected[0],
	        st->cut, st->hot_acked, st->hot_landed, st->refused_full, st->deferred_removes,
	        st->old_tokens, st->keyed, st->keyed_attempts, st->hedged, st->reapplied,
	        st->idem_replays, st->key_reused, st->reuse_applied, st->answers_lost,
	        st->commit_crashes, st->tokrem_checked, st->checkouts, st->checkouts_refused,
	        st->closed_refused, st->double_closed, st->late_added, st->late_removed,
	        st->replay_no_order, st->replay_other_order, st->key_two_orders,
	        r->ok ? "ok" : "FAIL",
	        r->converged ? r->converged_at - r->heal_at : 0);
}

/* What a kind's schedules reached, summed: the hard shapes must occur. */
struct reached {
	uint64_t hot, full, deferred, old_tokens;
	uint64_t keyed, reapplied, replays, reused, tokrem, commit_crashes;
	uint64_t checkouts, closed, double_closed, late;
};

/* What one schedule reached. */
static struct reached reached_of(const sim_stats *st)
{
	return (struct reached){
		.hot = st->hot_acked, .full = st->refused_full, .deferred = st->deferred_removes,
		.old_tokens = st->old_tokens, .keyed = st->keyed, .reapplied = st->reapplied,
		.replays = st->idem_replays, .reused = st->key_reused, .tokrem = st->tokrem_checked,
		.commit_crashes = st->commit_crashes, .checkouts = st->checkouts,
		.closed = st->closed_refused, .double_closed = st->double_closed,
		.late = st->late_added + st->late_removed,
	};
}

static void add_reached(struct reached *sum, const struct reached *r)
{
	sum->hot += r->hot;
	sum->full += r->full;
	sum->deferred += r->deferred;
	sum->old_tokens += r->old_tokens;
	sum->keyed += r->keyed;
	sum->reapplied += r->reapplied;
	sum->replays += r->replays;
	sum->reused += r->reused;
	sum->tokrem += r->tokrem;
	sum->commit_crashes += r->commit_crashes;
	sum->checkouts += r->checkouts;
	sum->closed += r->closed;
	sum->double_closed += r->double_closed;
	sum->late += r->late;
}

/* What one process found over its share of a kind's schedules. */
struct share {
	unsigned nfailed;
	uint64_t failed[MAX_LISTED];  /* the first failing seeds */
	struct reached sum;
};

/* Runs one seed; on failure prints the report and lists the seed. */
static void run_seed(uint64_t seed, struct share *sh)
{
	sim_params p;
	static sim_result res;     /* 8 KiB report: keep it off the stack */
	sim_params_from_seed(seed, &p);
	sim_run_schedule(&p, &res);
	verbose_line(&p, &res);
	struct reached r = reached_of(&res.stats);
	add_reached(&sh->sum, &r);
	if (res.ok)
		return;
	fprintf(stderr, "%s\n", res.report);
	if (sh->nfailed < MAX_LISTED)
		sh->failed[sh->nfailed] = seed;
	sh->nfailed++;
}

static void add_share(struct share *all, const struct share *sh)
{
	for (unsigned i = 0; i < sh->nfailed && i < MAX_LISTED; i++)
		if (all->nfailed + i < MAX_LISTED)
			all->failed[all->nfailed + i] = sh->failed[i];
	all->nfailed += sh->nfailed;
	add_reached(&all->sum, &sh->sum);
}

/* Schedules w, w + nw, w + 2 nw ... of a kind's n. */
static void run_share(unsigned kind, unsigned n, unsigned w, unsigned nw, struct share *sh)
{
	for (unsigned i = w; i < n; i += nw)
		run_seed(kind_seed(kind, i), sh);
}

/* A kind's n schedules spread over as many processes as the runner would
 * run suites at once (the schedules are independent and CPU bound): the
 * children send their shares down a pipe, this process runs share 0.
 * With CK_FORK=no (valgrind, debuggers) everything runs here. */
static void run_kind(unsigned kind, unsigned n, struct share *all)
{
	unsigned nw = test_jobs_wanted();
	if (nw > n)
		nw = n ? n : 1;
	pid_t pid[TEST_JOBS_MAX];
	int fd[TEST_JOBS_MAX];
	fflush(NULL);
	for (unsigned w = 1; w < nw; w++) {
		int p[2];
		ck_assert_int_eq(pipe(p), 0);
		pid[w] = fork();
		ck_assert_int_ge(pid[w], 0);
		if (pid[w] == 0) {
			close(p[0]);
			struct share sh = { 0 };
			run_share(kind, n, w, nw, &sh);
			fflush(NULL);
			_exit(write(p[1], &sh, sizeof sh) == (ssize_t)sizeof sh ? 0 : 1);
		}
		close(p[1]);
		fd[w] = p[0];
	}
	run_share(kind, n, 0, nw, all);
	for (unsigned w = 1; w < nw; w++) {
		struct share sh;
		int status;
		ssize_t r = read(fd[w], &sh, sizeof sh);
		close(fd[w]);
		ck_assert_int_eq(waitpid(pid[w], &status, 0), pid[w]);
		ck_assert_msg(r == (ssize_t)sizeof sh && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "%s schedules: worker %u of %u died (status %d)", kind_name[kind], w,
		              nw, status);
		add_share(all, &sh);
	}
}

START_TEST(test_schedules)
{
	unsigned kind = (unsigned)_i, n = 0;
	struct share all = { 0 };
	uint64_t seed;
	if (env_u64("CARTD_SIM_SEED", &seed)) {
		if (seed % SIM_FAULT_KINDS == kind)
			run_seed(seed, &all);
	} else {
		n = schedules_per_kind();
		run_kind(kind, n, &all);
	}
	char failed[512] = "";
	for (unsigned i = 0; i < all.nfailed && i < MAX_LISTED; i++) {
		size_t len = strlen(failed);
		snprintf(failed + len, sizeof failed - len, " %" PRIu64, all.failed[i]);
	}
	unsigned nfailed = all.nfailed;
	struct reached sum = all.sum;
	ck_assert_msg(nfailed == 0, "%u %s schedule(s) failed; seeds:%s (replay one with "
	              "CARTD_SIM_SEED=<seed> CK_RUN_SUITE=sim build/tests/check_runner)",
	              nfailed, kind_name[kind], failed);
	/* Hot lines (some past CRDT_MAX_LINE_ENTRIES), deferred removes and
	 * tokens kept across faults must all occur in a full run. */
	if (n < 200)
		return;
	ck_assert_msg(sum.hot > 0 && sum.full > 0 && sum.deferred > 0 && sum.old_tokens > 0,
	              "%s schedules never reached a hard shape: hot adds %" PRIu64
	              ", line_full %" PRIu64 ", deferred removes %" PRIu64
	              ", kept tokens %" PRIu64, kind_name[kind], sum.hot, sum.full,
	              sum.deferred, sum.old_tokens);
	/* Keyed writes applied twice (the same dot at two peers), replays,
	 * reused keys refused, removes over retried attempts, checkouts,
	 * refusals of closed carts, two orders of one cart and late items
	 * must occur too; and, where peers crash, a crash between a keyed
	 * write's commit and its answer. */
	ck_assert_msg(sum.keyed > 0 && sum.reapplied > 0 && sum.replays > 0 && sum.reused > 0 &&
	              sum.tokrem > 0 && sum.checkouts > 0 && sum.closed > 0 &&
	              sum.double_closed > 0 && sum.late > 0,
	              "%s schedules never reached a keyed or checkout shape: keyed %" PRIu64
	              ", applied twice %" PRIu64 ", replays %" PRIu64 ", reused keys %" PRIu64
	              ", token removes over attempts %" PRIu64 ", checkouts %" PRIu64
	              ", closed refusals %" PRIu64 ", two orders %" PRIu64 ", late items %" PRIu64,
	              kind_name[kind], sum.keyed, sum.reapplied, sum.replays, sum.reused,
	              sum.tokrem, sum.checkouts, sum.closed, sum.double_closed, sum.late);
	if (kind == SIM_FAULT_CRASH || kind == SIM_FAULT_MIXED)
		ck_assert_msg(sum.commit_crashes > 0, "%s schedules never crashed a peer between "
		              "a keyed write's commit and its answer", kind_name[kind]);
	fprintf(stderr, "sim %s: %u schedules: keyed %" PRIu64 ", applied twice %" PRIu64
	        ", replays %" PRIu64 ", reused keys refused %" PRIu64 ", token removes over "
	        "attempts %" PRIu64 ", answers lost to a crash %" PRIu64 ", checkouts %" PRIu64
	        ", closed refusals %" PRIu64 ", two orders %" PRIu64 ", late items %" PRIu64 "\n",
	        kind_name[kind], n, sum.keyed, sum.reapplied, sum.replays, sum.reused, sum.tokrem,
	        sum.commit_crashes, sum.checkouts, sum.closed, sum.double_closed, sum.late);
}
END_TEST

/* A Byzantine insider (sim_insider.c) during random schedules of every
 * kind: honest peers converge, keep each other verified, and addresses it
 * made up get nothing but budgeted probes. */
START_TEST(test_insider)
{
	static sim_result res;
	unsigned nfailed = 0;
	uint64_t injected = 0, refused = 0;
	char failed[512] = "";
	for (unsigned i = 0; i < 24; i++) {
		sim_params p;
		sim_params_from_seed(kind_seed(i % SIM_FAULT_KINDS, 5000 + i), &p);
		if (p.npeers < 3)
			p.npeers = 3;
		p.insider = true;
		sim_run_schedule(&p, &res);
		injected += res.stats.injected;
		refused += res.stats.insider_rejected;
		if (res.ok)
			continue;
		fprintf(stderr, "insider: %s\n", res.report);
		if (nfailed++ < MAX_LISTED) {
			size_t len = strlen(failed);
			snprintf(failed + len, sizeof failed - len, " %" PRIu64, p.seed);
		}
	}
	ck_assert_msg(nfailed == 0, "%u insider schedule(s) failed; seeds:%s", nfailed, failed);
	ck_assert_uint_gt(injected, 0);
	ck_assert_uint_gt(refused, 0);
}
END_TEST

/* Same seed, same run: final state and every counter. */
START_TEST(test_deterministic)
{
	static sim_result a, b;
	sim_params p;
	sim_params_from_seed(kind_seed(SIM_FAULT_MIXED, 1000), &p);
	sim_run_schedule(&p, &a);
	sim_run_schedule(&p, &b);
	ck_assert_msg(a.fingerprint == b.fingerprint, "fingerprints differ");
	ck_assert_msg(memcmp(&a.stats, &b.stats, sizeof a.stats) == 0, "statistics differ");
	ck_assert_uint_gt(a.stats.sent, 0);
	ck_assert_uint_eq(a.stats.events, b.stats.events);
	ck_assert_uint_eq(a.heal_at, b.heal_at);
	ck_assert_uint_eq(a.converged_at, b.converged_at);
}
END_TEST

/* A converged loss-free cluster with writes, for testing the oracle;
 * with marks, also keyed writes (every hot add keyed, half of them sent
 * to two peers at once) and checkouts of every cart. */
static sim *settled_cluster(bool marks)
{
	sim_params p;
	sim_params_from_seed(kind_seed(SIM_FAULT_NET, 7), &p);
	p.loss_pct = p.dup_pct = 0;
	p.writes = 150;
	p.ncarts = 2;
	p.nskus = 3;
	p.keyed_pct = p.hot_keyed_pct = p.close_pct = 0;
	if (marks) {
		p.ncarts = 3;
		p.hot_skus = 1;
		p.hot_writes = 300;
		p.keyed_pct = 50;
		p.hot_keyed_pct = 100;
		p.hedge_pct = 50;
		p.close_pct = 100;
	}
	sim *s;
	ck_assert_int_eq(sim_new(&p, &s), 0);
	sim_plan(s);
	sim_run_until(s, p.active_ms);
	sim_heal(s);
	ck_assert(sim_run_until_converged(s, s->now + p.settle_ms, 100) != UINT64_MAX);
	return s;
}

static unsigned verdict(sim *s)
{
	static char buf[SIM_REPORT_MAX];
	sim_report r;
	sim_report_init(&r, buf, sizeof buf);
	sim_check(s, &r);
	return r.problems;
}

/* A cart of the settled cluster that has lines (the writes are random). */
static const char *cart_with_lines(sim *s, unsigned *idx)
{
	for (unsigned c = 0; c < s->p.ncarts; c++) {
		crdt_item it;
		const char *id = s->cart_ids[c];
		if (crdt_store_get(s->peer[0].store, id, strlen(id), &it) == 0 && it.cart->n) {
			*idx = c;
			return id;
		}
	}
	ck_abort_msg("no cart has lines");
	return NULL;
}

/* The oracle passes a good cluster and catches a diverged peer, a lost
 * acknowledged write and a removed entry that is live. */
START_TEST(test_oracle_catches)
{
	unsigned c;
	sim *s = settled_cluster(false);
	ck_assert_uint_eq(verdict(s), 0);
	crdt_op add = { .kind = CRDT_OP_ADD, .sku = "zz", .sku_len = 2, .qty = 1 };
	ck_assert_int_eq(crdt_store_apply(s->peer[1].store, "cart-0", 6, s->peer[1].id, &add, NULL), 0);
	ck_assert_uint_gt(verdict(s), 0);
	sim_free(s);

	/* every peer drops the cart's entries alike: identical, but acked
	 * adds are gone without a client's remove */
	s = settled_cluster(false);
	const char *id = cart_with_lines(s, &c);
	crdt_op clear = { .kind = CRDT_OP_CLEAR };
	for (unsigned i = 0; i < s->n; i++)
		ck_assert_int_eq(crdt_store_apply(s->peer[i].store, id, strlen(id), s->peer[i].id,
		                                  &clear, NULL), 0);
	ck_assert(sim_converged(s));
	ck_assert_uint_gt(verdict(s), 0);
	sim_free(s);

	s = settled_cluster(false);
	id = cart_with_lines(s, &c);
	crdt_item it;
	ck_assert_int_eq(crdt_store_get(s->peer[0].store, id, strlen(id), &it), 0);
	crdt_dot d = crdt_entry_dot(crdt_line_entries(&it.cart->lines[0]));
	ck_assert_int_eq(crdt_ctx_add(&s->oracle.removed[c], d), 0);
	ck_assert_uint_gt(verdict(s), 0);
	sim_free(s);
}
END_TEST

static bool in_effect(const sim_op_rec *op)
{
	return op->state == SIM_OP_ACKED || op->state == SIM_OP_DURABLE;
}

/* The oracle catches an order no checkout made, an order that changed,
 * and a keyed add counted once per attempt instead of once. */
START_TEST(test_oracle_catches_marks)
{
	sim *s = settled_cluster(true);
	sim_oracle *o = &s->oracle;
	ck_assert_uint_eq(verdict(s), 0);
	ck_assert_uint_gt(o->ncloses, 0);
	o->ncloses--;
	ck_assert_uint_gt(verdict(s), 0);
	o->ncloses++;
	ck_assert_uint_eq(verdict(s), 0);

	crdt_close *m = &o->closes[0].delta.closes->v[0];
	crdt_entry *e = m->lines[0].cap ? m->lines[0].u.many : &m->lines[0].u.one;
	e->packed ^= 1;
	ck_assert_uint_gt(verdict(s), 0);
	e->packed ^= 1;
	ck_assert_uint_eq(verdict(s), 0);

	/* two attempts of one request, both applied (hedged): once counted
	 * as two requests, the hot sum is off */
	size_t twin = SIZE_MAX;
	for (size_t i = 0; i < o->nops && twin == SIZE_MAX; i++)
		for (size_t j = i + 1; j < o->nops && twin == SIZE_MAX; j++)
			if (o->ops[i].req != SIM_NO_OP && o->ops[j].req == o->ops[i].req &&
			    o->ops[i].kind == CRDT_OP_ADD && o->ops[i].cart == s->p.ncarts - 1 &&
			    in_effect(&o->ops[i]) && in_effect(&o->ops[j]))
				twin = j;
	ck_assert_msg(twin != SIZE_MAX, "no keyed add applied at two peers");
	o->ops[twin].req = SIM_NO_OP;
	ck_assert_uint_gt(verdict(s), 0);
	sim_free(s);
}
END_TEST

Suite *sim_suite(void)
{
	Suite *s = suite_create("sim");
	TCase *tc = tcase_create("schedules");
	tcase_set_timeout(tc, 900);
	tcase_add_loop_test(tc, test_schedules, 0, SIM_FAULT_KINDS);
	suite_add_tcase(s, tc);

	tc = tcase_create("insider");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_insider);
	suite_add_tcase(s, tc);

	tc = tcase_create("determinism");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_deterministic);
	suite_add_tcase(s, tc);

	tc = tcase_create("oracle");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_oracle_catches);
	tcase_add_test(tc, test_oracle_catches_marks);
	suite_add_tcase(s, tc);
	return s;
}
