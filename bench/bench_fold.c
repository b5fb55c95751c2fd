/*
 * bench_fold.c - what a checkpoint costs: folding one generation of the
 * write-ahead log into an LMDB that already holds the one before it, on the
 * shape that costs most, one-add deltas spread over many carts.
 *
 * Four ways to fold the same generation, each from the same starting
 * data dir, in the same run:
 *   - "checkpoint": db_checkpoint, what cartd runs (db_checkpoint.c): each
 *     cart's records of a 32 MiB pass joined, written in id order;
 *   - "4 MiB sorted": the records read 4 MiB at a time, each chunk
 *     coalesced (so in id order) and written in a transaction of its own,
 *     then one flush;
 *   - "4 MiB log order": the same with each chunk's joined records in the
 *     order their carts first appear in the log, which is how checkpoints
 *     wrote until 2026-12-01;
 *   - "raw": every record written as it is, in log order, in transactions
 *     of 4 MiB of records, then one flush: no joining at all.
 *
 *   build/bench/bench_fold [--runs N] [--carts C] [--records R] [--dir D]
 *
 * Each figure is the median of --runs runs (default 3), the modes
 * interleaved run by run.  Reported per mode: wall time and the folding
 * thread's CPU time (user + system, so the kernel's writeback of synced
 * pages counts) per record, against "4 MiB log order" measured in the same
 * run.  The
 * table also goes to bench/out/fold.csv (bench_common).
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/peer/db.h"
#include "app/peer/db_internal.h"
#include "app/peer/wal.h"
#include "bench/bench_common.h"
#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"

#define MAX_RUNS 15
#define FRAME_RECORDS 64      /* records per log frame, as a busy committer batches */
#define CHUNK ((size_t)4 << 20)

enum mode { M_CHECKPOINT, M_CHUNKS, M_CHUNKS_LOG, M_RAW, NMODES };
static const char *const mode_name[NMODES] = { "checkpoint", "4 MiB sorted", "4 MiB log order",
	                                           "raw" };

typedef struct opts {
	int runs;
	size_t carts;
	size_t records;
	const char *dir;
} opts;

static void die(const char *what, int rc, const char *detail)
{
	fprintf(stderr, "bench_fold: %s: %s%s%s\n", what, cartd_strerror(rc),
	        detail && *detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends generation gen: o->records one-add deltas, a random sku in a
 * random cart each (rng seeded per generation), in frames of
 * FRAME_RECORDS.  carts[] are the writer's carts, so dots never repeat. */
static void log_generation(const opts *o, const char *dir, uint64_t gen, crdt_cart *carts)
{
	wal *w;
	char err[DB_ERRMSG_MAX];
	int rc = wal_open(dir, gen, false, &w, err, sizeof err);
	if (rc)
		die("wal_open", rc, err);
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (gen + 1);
	char ids[FRAME_RECORDS][32];
	buf_writer vals[FRAME_RECORDS];
	db_record recs[FRAME_RECORDS];
	for (size_t k = 0; k < FRAME_RECORDS; k++)
		buf_writer_init(&vals[k]);
	for (size_t i = 0; i < o->records;) {
		size_t n = 0;
		for (; n < FRAME_RECORDS && i < o->records; n++, i++) {
			size_t c = (size_t)(bench_rand(&rng) % o->carts);
			char sku[32];
			int sl = snprintf(sku, sizeof sku, "sku-%llu",
			                  (unsigned long long)(bench_rand(&rng) % 100000));
			crdt_cart delta;
			crdt_cart_init(&delta);
			if ((rc = crdt_cart_add(&carts[c], 1, sku, (size_t)sl, 1, &delta)) != 0)
				die("crdt_cart_add", rc, NULL);
			vals[n].len = 0;
			crdt_encode_cart(&vals[n], &delta);
			crdt_cart_destroy(&delta);
			int il = snprintf(ids[n], sizeof ids[n], "cart-%zu", c);
			recs[n] = (db_record){ bench_cart_id(ids[n], (size_t)il), vals[n].data, vals[n].len,
			                       DB_DELTA };
		}
		if ((rc = wal_append(w, recs, n, err, sizeof err)) != 0)
			die("wal_append", rc, err);
	}
	for (size_t k = 0; k < FRAME_RECORDS; k++)
		buf_writer_destroy(&vals[k]);
	wal_close(w);
}

/* A data dir whose LMDB holds generation 0 and whose log holds generation
 * 1, both the same in every run. */
static db *prepare(const opts *o, char *path, size_t cap)
{
	snprintf(path, cap, "%s/cartd-bench-fold-XXXXXX", o->dir);
	if (!mkdtemp(path))
		die("mkdtemp", CARTD_EDATADIR, path);
	db_options dopt;
	db_options_default(&dopt);
	dopt.dir = path;
	db *d;
	char err[DB_ERRMSG_MAX];
	int rc = db_open(&dopt, &d, NULL, err, sizeof err);
	if (rc)
		die("db_open", rc, err);
	crdt_cart *carts = calloc(o->carts, sizeof *carts);
	if (carts == NULL)
		die("calloc", CARTD_ENOMEM, NULL);
	log_generation(o, path, 0, carts);
	size_t folded;
	if ((rc = db_checkpoint(d, 0, &folded, err, sizeof err)) != 0)
		die("db_checkpoint 0", rc, err);
	log_generation(o, path, 1, carts);
	for (size_t c = 0; c < o->carts; c++)
		crdt_cart_destroy(&carts[c]);
	free(carts);
	return d;
}

/* Writes recs[0..n) as a checkpoint does: transactions of at most
 * DB_CHECKPOINT_CHUNK value bytes. */
static void write_chunked(db *d, const db_record *recs, size_t n)
{
	char err[DB_ERRMSG_MAX];
	int rc = db_write_chunked(d, recs, n, err, sizeof err);
	if (rc)
		die("db_write_chunked", rc, err);
}

/* A record's id and where it stands in the log, for log_order. */
typedef struct seen {
	const char *id;
	size_t len;
	size_t at;
} seen;

static int seen_cmp(const void *a, const void *b)
{
	const seen *x = a, *y = b;
	int c = crdt_name_cmp(x->id, x->len, y->id, y->len);
	return c ? c : (x->at > y->at) - (x->at < y->at);
}

static int at_cmp(const void *a, const void *b)
{
	const seen *x = a, *y = b;
	return (x->at > y->at) - (x->at < y->at);
}

/* Puts co's records (one per cart, in id order) in the order their carts
 * first appear among recs[0..n). */
static void log_order(db_coalesced *co, const db_record *recs, size_t n)
{
	seen *all = malloc(n * sizeof *all), *first = malloc(co->n * sizeof *first);
	db_record *out = malloc(co->n * sizeof *out);
	if (!all || !first || !out)
		die("malloc", CARTD_ENOMEM, NULL);
	for (size_t i = 0; i < n; i++)
		all[i] = (seen){ recs[i].id.s, recs[i].id.len, i };
	qsort(all, n, sizeof *all, seen_cmp);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || all[i].len != all[i - 1].len || memcmp(all[i].id, all[i - 1].id, all[i].len))
			first[k++] = (seen){ NULL, 0, all[i].at };
	if (k != co->n)
		die("log_order: one record per cart expected", CARTD_EINVAL, NULL);
	for (size_t i = 0; i < k; i++)
		first[i].len = i;   /* co's index, sorted along with the position */
	qsort(first, k, sizeof *first, at_cmp);
	for (size_t i = 0; i < k; i++)
		out[i] = co->recs[first[i].len];
	memcpy(co->recs, out, k * sizeof *out);
	free(all);
	free(first);
	free(out);
}

/* Folds generation 1 the old ways: CHUNK of log at a time, coalesced (in
 * id or log order) or raw, then one flush.  *aside gets the CPU seconds
 * spent putting records back in log order, which the old code never paid. */
static void fold_by_chunks(db *d, const char *dir, enum mode m, double *aside)
{
	wal_reader *r;
	char err[DB_ERRMSG_MAX];
	int rc = wal_reader_open(dir, 1, &r, err, sizeof err);
	if (rc)
		die("wal_reader_open", rc, err);
	for (;;) {
		const db_record *recs;
		size_t n;
		if ((rc = wal_reader_next(r, CHUNK, &recs, &n, err, sizeof err)) != 0)
			die("wal_reader_next", rc, err);
		if (n == 0)
			break;
		if (m == M_RAW) {
			write_chunked(d, recs, n);
			continue;
		}
		db_coalesced co;
		if ((rc = db_coalesce(recs, n, &co)) != 0)
			die("db_coalesce", rc, NULL);
		if (m == M_CHUNKS_LOG) {
			double c0 = thread_cpu();
			log_order(&co, recs, n);
			*aside += thread_cpu() - c0;
		}
		write_chunked(d, co.recs, co.n);
		db_coalesced_free(&co);
	}
	wal_reader_close(r);
	if ((rc = db_flush(d, err, sizeof err)) != 0)
		die("db_flush", rc, err);
}

/* One fold of generation 1 in mode m; wall and CPU seconds. */
static void run_mode(const opts *o, enum mode m, double *wall, double *cpu)
{
	char path[512], err[DB_ERRMSG_MAX];
	db *d = prepare(o, path, sizeof path);
	double w0 = bench_now(), c0 = thread_cpu(), aside = 0;
	if (m == M_CHECKPOINT) {
		size_t folded;
		int rc = db_checkpoint(d, 1, &folded, err, sizeof err);
		if (rc)
			die("db_checkpoint 1", rc, err);
	} else {
		fold_by_chunks(d, path, m, &aside);
	}
	*cpu = thread_cpu() - c0 - aside;
	*wall = bench_now() - w0 - aside;
	db_close(d);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: bench_fold [--runs N] [--carts C] [--records R] [--dir DIR]\n"
	    "  Folds one log generation of R one-add deltas over C carts (defaults\n"
	    "  600000 and 100000) into an LMDB holding the generation before it,\n"
	    "  four ways; medians of N runs (default 3, max %d); data dirs under\n"
	    "  DIR (default $TMPDIR or /tmp).  CSV to bench/out/fold.csv.\n", MAX_RUNS);
}

static void parse_args(int argc, char **argv, opts *o)
{
	const char *tmp = getenv("TMPDIR");
	*o = (opts){ 3, 100000, 600000, tmp && *tmp ? tmp : "/tmp" };
	for (int i = 1; i < argc; i += 2) {   /* every option takes a value */
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char *end = NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (v && !strcmp(a, "--runs"))
			o->runs = (int)strtol(v, (char **)&end, 10);
		else if (v && !strcmp(a, "--carts"))
			o->carts = (size_t)strtoull(v, (char **)&end, 10);
		else if (v && !strcmp(a, "--records"))
			o->records = (size_t)strtoull(v, (char **)&end, 10);
		else if (v && !strcmp(a, "--dir")) {
			o->dir = v;
			end = "";
		}
		if (end == NULL || *end != '\0') {
			usage(stderr);
			exit(2);
		}
	}
	if (o->runs < 1 || o->runs > MAX_RUNS || o->carts < 1 || o->carts > 10000000 ||
	    o->records < 1 || o->records > 100000000) {
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	opts o;
	parse_args(argc, argv, &o);
	bench_header("bench_fold: one checkpoint of one-add deltas over many carts", argc, argv);
	printf("   %zu records over %zu carts per generation; medians of %d runs; dirs under %s\n",
	       o.records, o.carts, o.runs, o.dir);
	static double wall[NMODES][MAX_RUNS], cpu[NMODES][MAX_RUNS];
	for (int i = 0; i < o.runs; i++) {
		for (int m = 0; m < NMODES; m++)
			run_mode(&o, (enum mode)m, &wall[m][i], &cpu[m][i]);
		printf("   run %d/%d done\n", i + 1, o.runs);
		fflush(stdout);
	}
	double wm[NMODES], cm[NMODES];
	printf("\n   %-15s %10s %10s %12s %12s\n", "mode", "wall s", "cpu s", "wall us/rec",
	       "cpu us/rec");
	for (int m = 0; m < NMODES; m++) {
		wm[m] = bench_median(wall[m], (size_t)o.runs);
		cm[m] = bench_median(cpu[m], (size_t)o.runs);
		printf("   %-15s %10.2f %10.2f %12.2f %12.2f\n", mode_name[m], wm[m], cm[m],
		       wm[m] * 1e6 / (double)o.records, cm[m] * 1e6 / (double)o.records);
	}
	bench_table t;
	bench_table_open(&t, "fold");
	for (int m = 0; m < NMODES; m++) {
		char name[64];
		snprintf(name, sizeof name, "%s CPU per record", mode_name[m]);
		bench_table_row(&t, name, cm[m] * 1e6 / (double)o.records, "us",
		                m == M_CHUNKS_LOG ? NULL : "4 MiB log order",
		                cm[M_CHUNKS_LOG] * 1e6 / (double)o.records, BENCH_NONE, 0);
		snprintf(name, sizeof name, "%s wall per record", mode_name[m]);
		bench_table_row(&t, name, wm[m] * 1e6 / (double)o.records, "us",
		                m == M_CHUNKS_LOG ? NULL : "4 MiB log order",
		                wm[M_CHUNKS_LOG] * 1e6 / (double)o.records, BENCH_NONE, 0);
	}
	bench_table_close(&t);
	return 0;
}
