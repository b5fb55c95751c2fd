/*
 * bench_sim.c - scale mode of the deterministic simulator: hundreds to a
 * thousand complete peers (store, wire, engine) in one process, on a
 * loss-free virtual network with 1-5 ms one-way delay.
 *
 *   reach:  every peer starts with two seeds; after membership settles
 *           (or JOIN_DEADLINE_MS, whichever is first: the table says how
 *           many members the worst-informed peer saw alive), one write at
 *           one peer.  The simulated time until 50%, 90% and all peers hold
 *           it, the relay rounds (longest chain of datagrams that carried
 *           it), and the datagrams and bytes per peer meanwhile (all
 *           types, and DELTA alone).
 *   repair: the cluster cut into two halves; K carts written on one side
 *           and settled there; then heal.  Simulated time and bytes on the
 *           wire until every peer agrees, split by message type (DELTA:
 *           cart states; AE control: digests, listings, wants; SWIM:
 *           probes and membership), against the encoded size of those K
 *           carts times the peers that lacked them (the least any protocol
 *           must move).
 *
 * The default run keeps to about two minutes on two cores: repair with
 * K = 10,000 at 500 and 1,000 peers (and K = 1,000 at 1,000) takes many
 * minutes to simulate, so it runs only with the argument "full".  The
 * output names what ran.
 *
 * Simulated time is what the engines' timers make of it (defaults: flush
 * 5 ms, anti-entropy and probes every 1 s, suspect 5 s); wall time is this
 * machine's cost of simulating it, printed beside each row.
 *
 * The Makefile links a bench program with bench_common.o and the libraries
 * only, so the simulator's sources (tests/sim*.c, free of Check) are
 * compiled in here.
 */
#include "tests/sim.c"
#include "tests/sim_check.c"
#include "tests/sim_close.c"
#include "tests/sim_disk.c"
#include "tests/sim_drive.c"
#include "tests/sim_heap.c"
#include "tests/sim_insider.c"
#include "tests/sim_keyed.c"
#include "tests/sim_marks.c"
#include "tests/sim_net.c"
#include "tests/sim_oracle.c"
#include "tests/sim_oracle_req.c"
#include "tests/sim_peer.c"
#include "tests/sim_plan.c"
#include "tests/sim_schedule.c"
#include "tests/sim_write.c"

#include "bench/bench_common.h"
#include "crdt/codec.h"
#include "net/msg.h"

#define SEED 20240601u
#define JOIN_DEADLINE_MS 120000u   /* membership warm-up cap */
#define REACH_DEADLINE_MS 120000u
#define REPAIR_DEADLINE_MS 300000u
#define CUT_MIN_MS 12000u            /* long enough for SWIM to declare deaths */
#define WRITE_BATCH 100u             /* repair: carts written per 10 ms */

struct reach {
	unsigned n, hops, min_alive;
	uint64_t members_ms, reach_ms, reach50_ms, reach90_ms;
	double dgrams, bytes, delta_dgrams, delta_bytes;   /* per peer */
	double idle_dgrams_s, idle_bytes_s;                /* per peer per second */
	double wall;
};

struct repair {
	unsigned n, k, lacking;
	uint64_t heal_ms, side_ms;
	double bytes, delta_bytes, ae_bytes, swim_bytes, dgrams, encoded;
	double wall;
	bool converged;
};

static void die_bench(const char *what, int rc)
{
	fprintf(stderr, "bench_sim: %s: %s\n", what, cartd_strerror(rc));
	exit(1);
}

static sim *cluster(unsigned n, uint64_t seed)
{
	sim_params p;
	sim_params_init(&p, seed, n);
	p.delay_ms = 1;
	p.jitter_ms = 4;
	p.no_disk = true;
	p.max_seeds = 2;
	sim *s;
	int rc = sim_new(&p, &s);
	if (rc)
		die_bench("sim_new", rc);
	return s;
}

/* Runs until every peer counts all others alive, or the cap; returns the
 * time (checked every 2 s: counting is O(members) per peer). */
static uint64_t settle_members(sim *s, unsigned *min_alive)
{
	while ((*min_alive = sim_min_alive(s)) < sim_npeers(s) - 1 && sim_now(s) < JOIN_DEADLINE_MS)
		sim_run_until(s, sim_now(s) + 2000);
	return sim_now(s);
}

static uint64_t delta_sent(const sim_stats *st, bool bytes)
{
	return bytes ? st->bytes_by_type[MSG_DELTA] : st->by_type[MSG_DELTA];
}

static uint64_t ae_bytes(const sim_stats *st)
{
	uint64_t b = 0;
	for (unsigned t = MSG_AE_GROUPS; t <= MSG_AE_STATUS; t++)
		b += st->bytes_by_type[t];
	return b;
}

/* Idle traffic over a few seconds, then one write and its spread. */
static void run_reach(sim *s, struct reach *r)
{
	unsigned n = sim_npeers(s);
	sim_stats idle = *sim_get_stats(s);
	sim_run_until(s, sim_now(s) + 5000);
	r->idle_dgrams_s = (double)(sim_get_stats(s)->sent - idle.sent) / n / 5.0;
	r->idle_bytes_s = (double)(sim_get_stats(s)->sent_bytes - idle.sent_bytes) / n / 5.0;

	sim_stats a = *sim_get_stats(s);
	uint64_t start = sim_now(s);
	crdt_op op = { .kind = CRDT_OP_ADD, .sku = "probe-sku", .sku_len = 9, .qty = 1 };
	int rc = sim_write(s, (unsigned)(SEED % n), "probe", &op);
	if (rc)
		die_bench("write", rc);
	sim_watch(s, "probe");
	r->reach50_ms = r->reach90_ms = UINT64_MAX;
	while (sim_watch_reached(s) < n && sim_now(s) < start + REACH_DEADLINE_MS) {
		sim_run_until(s, sim_now(s) + 1);
		if (r->reach50_ms == UINT64_MAX && sim_watch_reached(s) * 2 >= n)
			r->reach50_ms = sim_now(s) - start;
		if (r->reach90_ms == UINT64_MAX && sim_watch_reached(s) * 10 >= n * 9)
			r->reach90_ms = sim_now(s) - start;
	}
	const sim_stats *b = sim_get_stats(s);
	r->reach_ms = sim_watch_reached(s) == n ? sim_watch_last(s) - start : UINT64_MAX;
	r->hops = sim_watch_hops(s);
	r->dgrams = (double)(b->sent - a.sent) / n;
	r->bytes = (double)(b->sent_bytes - a.sent_bytes) / n;
	r->delta_dgrams = (double)(delta_sent(b, false) - delta_sent(&a, false)) / n;
	r->delta_bytes = (double)(delta_sent(b, true) - delta_sent(&a, true)) / n;
	sim_watch(s, NULL);
}

/* Writes k new carts ("r<round>-<i>") at random peers of side 1, one add
 * each.  Each cart gets its own sku, so that deflate cannot make the
 * repair look cheaper by carts repeating each other byte for byte. */
static void write_side(sim *s, unsigned k, unsigned round, unsigned half, uint64_t *rng)
{
	char id[32], sku[32];
	crdt_op op = { .kind = CRDT_OP_ADD, .sku = sku };
	for (unsigned i = 0; i < k; i++) {
		if (i && i % WRITE_BATCH == 0)
			sim_run_until(s, sim_now(s) + 10);
		snprintf(id, sizeof id, "r%u-%06u", round, i);
		op.sku_len = (size_t)snprintf(sku, sizeof sku, "item-%u", i);
		op.qty = 1 + i % 5;
		int rc = sim_write(s, (unsigned)(bench_rand(rng) % half), id, &op);
		if (rc)
			die_bench("write", rc);
	}
}

/* Encoded size (id and cart) of the k carts of a round at peer 0. */
static double encoded_size(sim *s, unsigned k, unsigned round)
{
	double total = 0;
	char id[32];
	for (unsigned i = 0; i < k; i++) {
		crdt_item it;
		snprintf(id, sizeof id, "r%u-%06u", round, i);
		if (crdt_store_get(sim_store(s, 0), id, strlen(id), &it) == 0)
			total += (double)(crdt_cart_encoded_size(it.cart) + it.id_len);
	}
	return total;
}

/* Cut in halves (peers 0..n/2-1 on side 1), write k carts on side 1, let
 * that side settle and SWIM declare the other dead, heal, measure. */
static void run_repair(sim *s, unsigned k, unsigned round, struct repair *r)
{
	unsigned n = sim_npeers(s), half = n / 2;
	unsigned *side = malloc(n * sizeof *side);
	uint64_t rng = SEED + round;
	if (side == NULL)
		die_bench("malloc", CARTD_ENOMEM);
	for (unsigned i = 0; i < n; i++)
		side[i] = i < half ? 1u : 2u;
	memset(r, 0, sizeof *r);
	r->n = n;
	r->k = k;
	r->lacking = n - half;
	sim_partition(s, side);
	uint64_t cut = sim_now(s);
	write_side(s, k, round, half, &rng);
	/* side_ms: when the writing side first agreed (push at work) */
	r->side_ms = UINT64_MAX;
	for (;;) {
		bool agreed = sim_converged_side(s, 1);
		if (agreed && r->side_ms == UINT64_MAX)
			r->side_ms = sim_now(s) - cut;
		if ((agreed || sim_now(s) >= cut + REPAIR_DEADLINE_MS) && sim_now(s) >= cut + CUT_MIN_MS)
			break;
		sim_run_until(s, sim_now(s) + 100);
	}
	r->encoded = encoded_size(s, k, round);
	sim_stats a = *sim_get_stats(s);
	sim_partition(s, NULL);
	uint64_t heal = sim_now(s);
	uint64_t t = sim_run_until_converged(s, heal + REPAIR_DEADLINE_MS, 100);
	const sim_stats *b = sim_get_stats(s);
	r->converged = t != UINT64_MAX;
	r->heal_ms = sim_now(s) - heal;
	r->bytes = (double)(b->sent_bytes - a.sent_bytes);
	r->dgrams = (double)(b->sent - a.sent);
	r->delta_bytes = (double)(delta_sent(b, true) - delta_sent(&a, true));
	r->ae_bytes = (double)(ae_bytes(b) - ae_bytes(&a));
	r->swim_bytes = r->bytes - r->delta_bytes - r->ae_bytes;
	free(side);
}

/* The run: which cluster sizes, and which K at each. */
struct plan {
	unsigned n;
	unsigned ks[3];
	unsigned nk;
};

static const struct plan default_plan[] = {
	{ 100, { 100, 1000, 10000 }, 3 },
	{ 500, { 100, 1000 }, 2 },
	{ 1000, { 100 }, 1 },
};

static const struct plan full_plan[] = {
	{ 100, { 100, 1000, 10000 }, 3 },
	{ 500, { 100, 1000, 10000 }, 3 },
	{ 1000, { 100, 1000, 10000 }, 3 },
};

static void fmt_ms(char *buf, size_t cap, uint64_t ms)
{
	if (ms == UINT64_MAX)
		snprintf(buf, cap, "never");
	else
		snprintf(buf, cap, "%" PRIu64, ms);
}

static void reach_rows(bench_table *t, const struct reach *r)
{
	char m[64];
#define ROW(fmt, v, unit) do { snprintf(m, sizeof m, "n=%u " fmt, r->n); \
		bench_table_row(t, m, (double)(v), unit, NULL, 0, BENCH_NONE, 0); } while (0)
	ROW("members settled", r->members_ms, "sim ms");
	ROW("members min alive", r->min_alive, "peers");
	ROW("reach 50%%", r->reach50_ms, "sim ms");
	ROW("reach 90%%", r->reach90_ms, "sim ms");
	ROW("reach all", r->reach_ms == UINT64_MAX ? -1.0 : (double)r->reach_ms, "sim ms");
	ROW("reach relay rounds", r->hops, "hops");
	ROW("reach dgrams/peer", r->dgrams, "dgrams");
	ROW("reach bytes/peer", r->bytes, "bytes");
	ROW("reach DELTA bytes/peer", r->delta_bytes, "bytes");
	ROW("idle dgrams/peer/s", r->idle_dgrams_s, "dgrams");
	ROW("idle bytes/peer/s", r->idle_bytes_s, "bytes");
#undef ROW
}

static void repair_rows(bench_table *t, const struct repair *r)
{
	char m[64];
	double least = r->encoded * r->lacking;
	snprintf(m, sizeof m, "n=%u K=%u side agreed", r->n, r->k);
	bench_table_row(t, m, r->side_ms == UINT64_MAX ? -1.0 : (double)r->side_ms, "sim ms",
	                NULL, 0, BENCH_NONE, 0);
	snprintf(m, sizeof m, "n=%u K=%u heal->agree", r->n, r->k);
	bench_table_row(t, m, r->converged ? (double)r->heal_ms : -1.0, "sim ms", NULL, 0,
	                BENCH_NONE, 0);
	snprintf(m, sizeof m, "n=%u K=%u bytes", r->n, r->k);
	bench_table_row(t, m, r->bytes, "bytes", "encoded K x lacking", least, BENCH_NONE, 0);
	snprintf(m, sizeof m, "n=%u K=%u DELTA bytes", r->n, r->k);
	bench_table_row(t, m, r->delta_bytes, "bytes", "encoded K x lacking", least, BENCH_NONE, 0);
	snprintf(m, sizeof m, "n=%u K=%u AE ctl bytes", r->n, r->k);
	bench_table_row(t, m, r->ae_bytes, "bytes", "encoded K x lacking", least, BENCH_NONE, 0);
	snprintf(m, sizeof m, "n=%u K=%u SWIM bytes", r->n, r->k);
	bench_table_row(t, m, r->swim_bytes, "bytes", "encoded K x lacking", least, BENCH_NONE, 0);
}

static void run_size(const struct plan *pl, bench_table *t, struct reach *r,
                     struct repair *rp)
{
	double w0 = bench_now();
	sim *s = cluster(pl->n, SEED + pl->n);
	memset(r, 0, sizeof *r);
	r->n = pl->n;
	r->members_ms = settle_members(s, &r->min_alive);
	run_reach(s, r);
	r->wall = bench_now() - w0;
	reach_rows(t, r);
	for (unsigned j = 0; j < pl->nk; j++) {
		w0 = bench_now();
		run_repair(s, pl->ks[j], j, &rp[j]);
		rp[j].wall = bench_now() - w0;
		repair_rows(t, &rp[j]);
	}
	fflush(stdout);
	sim_free(s);
}

static void summary(const struct reach *r, size_t nr, const struct repair *p, size_t np)
{
	char a[24], b[24], c[24];
	printf("\nreach: one write at one peer after membership warm-up (until complete, at "
	       "most %u s; no loss, one-way delay 1-5 ms)\n", JOIN_DEADLINE_MS / 1000);
	printf("%6s %9s %6s %7s %7s %8s %7s %11s %10s %7s\n", "peers", "warmup", "alive",
	       "50% ms", "90% ms", "all ms", "rounds", "dgrams/peer", "bytes/peer", "wall s");
	for (size_t i = 0; i < nr; i++) {
		fmt_ms(a, sizeof a, r[i].reach50_ms);
		fmt_ms(b, sizeof b, r[i].reach90_ms);
		fmt_ms(c, sizeof c, r[i].reach_ms);
		printf("%6u %9" PRIu64 " %6u %7s %7s %8s %7u %11.1f %10.0f %7.1f\n", r[i].n,
		       r[i].members_ms, r[i].min_alive, a, b, c, r[i].hops, r[i].dgrams,
		       r[i].bytes, r[i].wall);
	}
	printf("\nrepair: halves cut >= %u s, K carts written on one side (side ms: until that "
	       "side agreed), then healed (heal ms: until all agreed); least = encoded size of "
	       "the K carts x peers lacking them; ratio = bytes / least\n", CUT_MIN_MS / 1000);
	printf("%6s %6s %8s %8s %11s %11s %11s %11s %11s %6s %7s\n", "peers", "K", "side ms",
	       "heal ms", "bytes", "least", "DELTA", "AE control", "SWIM", "ratio", "wall s");
	for (size_t i = 0; i < np; i++) {
		fmt_ms(a, sizeof a, p[i].converged ? p[i].heal_ms : UINT64_MAX);
		fmt_ms(b, sizeof b, p[i].side_ms);
		printf("%6u %6u %8s %8s %11.0f %11.0f %11.0f %11.0f %11.0f %6.2f %7.1f\n", p[i].n,
		       p[i].k, b, a, p[i].bytes, p[i].encoded * p[i].lacking, p[i].delta_bytes,
		       p[i].ae_bytes, p[i].swim_bytes, p[i].bytes / (p[i].encoded * p[i].lacking),
		       p[i].wall);
	}
}

int main(int argc, char **argv)
{
	bool full = argc > 1 && strcmp(argv[1], "full") == 0;
	unsigned only = argc > 1 && !full ? (unsigned)atoi(argv[1]) : 0;
	if (argc > 2 || (argc > 1 && !full && only != 100 && only != 500 && only != 1000)) {
		fprintf(stderr, "usage: bench_sim [full | 100 | 500 | 1000]\n"
		        "  default: reach at 100, 500 and 1000 peers; repair with K = 100, 1000,\n"
		        "  10000 carts at 100 peers, K = 100, 1000 at 500, K = 100 at 1000\n"
		        "  (about two minutes); full: every K at every size (much longer);\n"
		        "  a size: every K at that size only\n");
		return 2;
	}
	bench_header("deterministic simulator at scale (simulated time; wall = cost to simulate)",
	             argc, argv);
	const struct plan *plan = full || only ? full_plan : default_plan;
	bench_table t;
	bench_table_open(&t, "sim");
	struct reach r[3];
	struct repair p[9];
	size_t nr = 0, np = 0;
	for (unsigned i = 0; i < 3; i++) {
		if (only && plan[i].n != only)
			continue;
		run_size(&plan[i], &t, &r[nr++], &p[np]);
		np += plan[i].nk;
	}
	bench_table_close(&t);
	summary(r, nr, p, np);
	return 0;
}
