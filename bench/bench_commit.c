/*
 * bench_commit.c - what the write-ahead log and group commit buy: synced
 * LMDB commits per second with one record per transaction (what a write
 * cost when LMDB was where it became durable), against the committer with
 * N concurrent writers (one synced log frame per batch, folded into LMDB by
 * its checkpoint thread: wal.h), in the same run on the same disk.
 *
 * "raw piped" is the same with the sync of each commit's meta page left to
 * the next commit (db_write_batch, as checkpoints write): one sync per
 * commit instead of two.
 *
 * A "writer" is what an HTTP client is to cartd: it has one write in flight,
 * and submits its next one as soon as the previous one is durable.  One
 * thread plays the event loop for all of them (submit, poll the committer's
 * fd, drain), so the numbers include the loop-side cost.
 *
 *   build/bench/bench_commit [--runs N] [--seconds S] [--dir D]
 *
 * Each figure is the median of --runs runs (default 5) of --seconds each,
 * the jobs interleaved run by run;
 * every run uses a fresh data dir under --dir (default $TMPDIR or /tmp,
 * which should sit on the disk being measured).  The detail table goes to
 * stdout; the summary table also to bench/out/commit.csv (bench_common).
 */
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/peer/committer.h"
#include "app/peer/db.h"
#include "bench/bench_common.h"
#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"

#define MAX_RUNS 31
#define CART_IDS 1000

typedef struct opts {
	int runs;
	double seconds;
	const char *dir;
} opts;

/* One table row: medians over the runs. */
typedef struct row {
	const char *mode;
	int writers;
	double rec_s;
	double commit_s;
	double p50_us;
	double p99_us;
} row;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void die(const char *what, int rc, const char *detail)
{
	fprintf(stderr, "bench_commit: %s: %s%s%s\n", what, cartd_strerror(rc),
	        detail && *detail ? ": " : "", detail ? detail : "");
	exit(1);
}

/* A fresh data dir for one run; the caller removes path. */
static db *fresh_db(const opts *o, bool sync, char *path, size_t cap)
{
	snprintf(path, cap, "%s/cartd-bench-commit-XXXXXX", o->dir);
	if (!mkdtemp(path))
		die("mkdtemp", CARTD_EDATADIR, path);
	db_options dopt;
	db_options_default(&dopt);
	dopt.dir = path;
	dopt.sync = sync;
	db *d;
	char err[DB_ERRMSG_MAX];
	int rc = db_open(&dopt, &d, NULL, err, sizeof err);
	if (rc)
		die("db_open", rc, err);
	return d;
}

/* The value every record carries: a small cart, as a real one would be. */
static void make_cart(crdt_cart *c)
{
	static const char *skus[] = { "sku-apple", "sku-pear", "sku-fig" };
	crdt_cart_init(c);
	for (unsigned i = 0; i < 3; i++)
		if (crdt_cart_add(c, 0x1234, skus[i], strlen(skus[i]), i + 1, NULL))
			die("crdt_cart_add", CARTD_ENOMEM, NULL);
}

/* Per-record latencies of one run, in microseconds. */
typedef struct lat {
	double *v;
	size_t n;
	size_t cap;
} lat;

static void lat_push(lat *l, double us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		if (!l->v)
			die("realloc", CARTD_ENOMEM, NULL);
	}
	l->v[l->n++] = us;
}

/* Fills the row's latency percentiles and frees l. */
static void lat_finish(lat *l, row *r)
{
	r->p50_us = bench_median(l->v, l->n);   /* sorts l->v */
	r->p99_us = l->n ? l->v[(l->n * 99) / 100] : 0;
	free(l->v);
	*l = (lat){ NULL, 0, 0 };
}

static int cart_id(char *buf, size_t cap, uint64_t i)
{
	return snprintf(buf, cap, "cart-%llu", (unsigned long long)(i % CART_IDS));
}

/* One record per transaction, back to back: the ceiling without batching.
 * pipelined: db_write_batch, each commit's sync making the one before it
 * durable (what the committer does under load: one sync per commit), the
 * last one flushed; else db_put_batch, two syncs per commit. */
static void run_raw(const opts *o, bool sync, bool pipelined, const uint8_t *val, size_t len,
                    row *r)
{
	char path[512], id[32];
	db *d = fresh_db(o, sync, path, sizeof path);
	lat l = { NULL, 0, 0 };
	double t0 = bench_now(), t = t0;
	while (t - t0 < o->seconds) {
		db_record rec = { bench_cart_id(id, (size_t)cart_id(id, sizeof id, l.n)), val, len,
		                  DB_STATE };
		bool synced;
		char err[DB_ERRMSG_MAX];
		int rc = pipelined ? db_write_batch(d, &rec, 1, &synced, err, sizeof err)
		                   : db_put_batch(d, &rec, 1, err, sizeof err);
		if (rc)
			die("db_put_batch", rc, err);
		double t1 = bench_now();
		lat_push(&l, (t1 - t) * 1e6);
		t = t1;
	}
	char err[DB_ERRMSG_MAX];
	int rc = db_flush(d, err, sizeof err);
	if (rc)
		die("db_flush", rc, err);
	t = bench_now();
	r->rec_s = r->commit_s = (double)l.n / (t - t0);
	lat_finish(&l, r);
	db_close(d);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The loop side of a committer run: writers with one write in flight each. */
typedef struct group {
	committer *c;
	const crdt_cart *cart;
	double *start;          /* per writer: when its write was submitted */
	double end;             /* no new writes after this */
	double last;            /* time of the last completion */
	int inflight;
	lat l;
} group;

static void submit_for(group *g, uint64_t w)
{
	char id[32];
	int n = cart_id(id, sizeof id, w);
	g->start[w] = bench_now();
	crdt_id cid = bench_cart_id(id, (size_t)n);
	int rc = committer_submit_cart(g->c, &cid, g->cart, w);
	if (rc)
		die("committer_submit_cart", rc, NULL);
	g->inflight++;
}

static void on_done(void *arg, uint64_t w, int rc)
{
	group *g = arg;
	if (rc)
		die("commit", rc, NULL);
	double t = bench_now();
	lat_push(&g->l, (t - g->start[w]) * 1e6);
	g->last = t;
	g->inflight--;
	if (t < g->end)
		submit_for(g, w);
}

static void run_group(const opts *o, int writers, const crdt_cart *cart, row *r)
{
	char path[512];
	db *d = fresh_db(o, true, path, sizeof path);
	group g = { .cart = cart, .inflight = 0 };
	g.start = calloc((size_t)writers, sizeof *g.start);
	int rc = g.start ? committer_new(d, NULL, &g.c, NULL, 0) : CARTD_ENOMEM;
	if (rc)
		die("committer_new", rc, NULL);
	double t0 = bench_now();
	g.end = t0 + o->seconds;
	for (int w = 0; w < writers; w++)
		submit_for(&g, (uint64_t)w);
	while (g.inflight > 0) {
		struct pollfd p = { .fd = committer_fd(g.c), .events = POLLIN };
		if (poll(&p, 1, 10000) <= 0)
			die("poll", CARTD_ESTORAGE, "no completion within 10 s");
		committer_drain(g.c, on_done, &g);
	}
	committer_stats st;
	committer_stats_get(g.c, &st);
	r->rec_s = (double)g.l.n / (g.last - t0);
	r->commit_s = (double)st.commits / (g.last - t0);
	lat_finish(&g.l, r);
	committer_free(g.c);
	free(g.start);
	db_close(d);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct job {
	const char *mode;
	int writers;
	bool raw;
	bool sync;
	bool pipelined;
} job;

enum { J_RAW_SYNC, J_RAW_PIPELINED, J_RAW_NOSYNC, J_FIRST_GROUP };
static const job jobs[] = {
	{ "raw synced", 1, true, true, false },
	{ "raw piped", 1, true, true, true },
	{ "raw nosync", 1, true, false, false },
	{ "committer", 1, false, true, false },
	{ "committer", 4, false, true, false },
	{ "committer", 16, false, true, false },
	{ "committer", 64, false, true, false },
	{ "committer", 256, false, true, false },
};
#define NJOBS (sizeof jobs / sizeof jobs[0])

/* Figures of every run of every job, for the medians. */
typedef struct samples {
	double rec[NJOBS][MAX_RUNS];
	double com[NJOBS][MAX_RUNS];
	double p50[NJOBS][MAX_RUNS];
	double p99[NJOBS][MAX_RUNS];
} samples;

/* Runs every job o->runs times, interleaved (run 1 of each job, then run 2
 * of each ...): this disk's sync latency drifts over seconds, and
 * interleaving spreads the drift over all jobs instead of skewing some. */
static void measure_all(const opts *o, const crdt_cart *cart, const uint8_t *val,
                        size_t len, row *rows)
{
	static samples s;
	size_t n = (size_t)o->runs;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < NJOBS; j++) {
			row r;
			if (jobs[j].raw)
				run_raw(o, jobs[j].sync, jobs[j].pipelined, val, len, &r);
			else
				run_group(o, jobs[j].writers, cart, &r);
			s.rec[j][i] = r.rec_s;
			s.com[j][i] = r.commit_s;
			s.p50[j][i] = r.p50_us;
			s.p99[j][i] = r.p99_us;
		}
		printf("   run %zu/%zu done\n", i + 1, n);
		fflush(stdout);
	}
	for (size_t j = 0; j < NJOBS; j++)
		rows[j] = (row){ jobs[j].mode, jobs[j].writers, bench_median(s.rec[j], n),
		                 bench_median(s.com[j], n), bench_median(s.p50[j], n),
		                 bench_median(s.p99[j], n) };
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: bench_commit [--runs N] [--seconds S] [--dir DIR]\n"
	    "  Synced LMDB commits/s with one record per transaction, against the\n"
	    "  group committer with 1..256 concurrent writers (one write in flight\n"
	    "  each).  Medians of N runs (default 5, max %d) of S seconds (default\n"
	    "  0.5); fresh data dirs under DIR (default $TMPDIR or /tmp).  CSV to\n"
	    "  bench/out/commit.csv ($BENCH_OUT overrides bench/out).\n", MAX_RUNS);
}

static void parse_args(int argc, char **argv, opts *o)
{
	const char *tmp = getenv("TMPDIR");
	*o = (opts){ 5, 0.5, tmp && *tmp ? tmp : "/tmp" };
	for (int i = 1; i < argc; i += 2) {   /* every option takes a value */
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (v && !strcmp(a, "--runs"))
			o->runs = atoi(v);
		else if (v && !strcmp(a, "--seconds"))
			o->seconds = atof(v);
		else if (v && !strcmp(a, "--dir"))
			o->dir = v;
		else {
			usage(stderr);
			exit(2);
		}
	}
	if (o->runs < 1 || o->runs > MAX_RUNS || !(o->seconds > 0)) {
		usage(stderr);
		exit(2);
	}
}

static void print_row(const row *r)
{
	printf("   %-11s %7d %12.0f %11.0f %10.2f %9.1f %9.1f\n", r->mode, r->writers,
	       r->rec_s, r->commit_s, r->rec_s / r->commit_s, r->p50_us, r->p99_us);
	fflush(stdout);
}

/* The summary table (and CSV): every committer figure beside the raw synced
 * ceiling measured in the same run.  The one target: at 64 writers a sync
 * must carry at least 8 records, or group commit is not grouping. */
static void summary(const row *rows)
{
	const row *raw = &rows[J_RAW_SYNC];
	const char *ceil = "raw synced, 1 rec/txn";
	bench_table t;
	bench_table_open(&t, "commit");
	bench_table_row(&t, "raw synced commits/s", raw->commit_s, "commits/s", NULL, 0,
	                BENCH_NONE, 0);
	bench_table_row(&t, "raw pipelined commits/s", rows[J_RAW_PIPELINED].commit_s, "commits/s",
	                ceil, raw->commit_s, BENCH_NONE, 0);
	bench_table_row(&t, "raw nosync commits/s", rows[J_RAW_NOSYNC].commit_s, "commits/s",
	                ceil, raw->commit_s, BENCH_NONE, 0);
	for (size_t i = J_FIRST_GROUP; i < NJOBS; i++) {
		char m[64];
		snprintf(m, sizeof m, "committer %dw records/s", rows[i].writers);
		bench_table_row(&t, m, rows[i].rec_s, "records/s", ceil, raw->rec_s, BENCH_NONE, 0);
		snprintf(m, sizeof m, "committer %dw commits/s", rows[i].writers);
		bench_table_row(&t, m, rows[i].commit_s, "commits/s", ceil, raw->commit_s,
		                BENCH_NONE, 0);
		if (rows[i].writers != 64)
			continue;
		bench_table_row(&t, "committer 64w records/commit", rows[i].rec_s / rows[i].commit_s,
		                "records", NULL, 0, BENCH_AT_LEAST, 8);
		bench_table_row(&t, "committer 64w p99 latency", rows[i].p99_us, "us",
		                "raw synced p99", raw->p99_us, BENCH_NONE, 0);
	}
	bench_table_close(&t);
}

int main(int argc, char **argv)
{
	opts o;
	parse_args(argc, argv, &o);
	crdt_cart cart;
	make_cart(&cart);
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, &cart);
	if (w.err)
		die("encode", w.err, NULL);
	bench_header("bench_commit: group commit vs. one synced commit per record", argc, argv);
	printf("   data dirs under %s; medians of %d runs x %.2f s; record = %zu-byte cart\n",
	       o.dir, o.runs, o.seconds, w.len);
	row rows[NJOBS];
	measure_all(&o, &cart, w.data, w.len, rows);
	printf("\n   %-11s %7s %12s %11s %10s %9s %9s\n", "mode", "writers", "records/s",
	       "commits/s", "rec/commit", "p50 us", "p99 us");
	for (size_t i = 0; i < NJOBS; i++)
		print_row(&rows[i]);
	summary(rows);
	buf_writer_destroy(&w);
	crdt_cart_destroy(&cart);
	return 0;
}
