/*
 * bench_crdtref.c - the cart store on the workloads of the delta-enabled-crdts
 * reference (Almeida, Shoker and Baquero's C++ library), against that
 * library's ORSWOT shape measured in the same run.
 *
 *   W1:             100k carts, 1M adds of random skus in shuffled order,
 *                   each producing its delta (crdt_store_apply);
 *   shuffled joins: those 1M deltas joined, in another shuffled order, into
 *                   a second, empty replica (crdt_store_join).
 *
 * Baselines, measured in the same run:
 *   - the C++ reference itself (its aworset<string>), when ref_w1 was built
 *     beside this program (bench/ref/ref_w1.cc says how; the reference is
 *     not packaged, so make does not build it).  The targets are against it.
 *   - always: the reference's aworset add/join re-implemented here in C with
 *     the same shape: a dot -> value map and a causal context of version
 *     vector plus dot cloud per set; add = rmv(value) then add with a fresh
 *     dot, each returning a freshly allocated delta; join = the dotkernel
 *     join (keep entries on both sides, drop those the other context saw,
 *     compact the context).  Sorted arrays stand in for std::map/std::set,
 *     so this shape is several times faster than the C++ original: it shows
 *     what the store's extra work (ids, digests, quantities) costs.
 * Every side verifies that the joined replica equals the one that produced
 * the deltas.
 *
 *   build/bench/bench_crdtref [--runs N] [--adds N]
 *
 * --runs: runs after the warm-up (default 5).  --adds: a smaller W1 for
 * instruction counts (valgrind --tool=callgrind), with adds / 10 carts as
 * in W1 and the reference not run (it only knows the full size); default
 * and maximum 1000000.
 */
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_common.h"
#include "crdt/cart.h"
#include "crdt/error.h"
#include "crdt/store.h"

#define MAX_RUNS 25
#define CARTS 100000u
#define SKUS 100000u
#define ADDS 1000000u           /* the default and the maximum */
#define NAME_LEN 16
#define TARGET_X 2.0

/* The run's size: W1's unless --adds says otherwise. */
static uint32_t nadds = ADDS, ncarts = CARTS;

/* ---- the reference's shape ---------------------------------------------- */

typedef struct rdot { uint64_t rep, ctr; } rdot;
typedef struct rent { rdot dot; const char *val; } rent;
typedef struct rvv { uint64_t rep, max; } rvv;

typedef struct rset {
	rent *ds;               /* dot -> value, sorted by dot */
	uint32_t n, cap;
	rvv *vv;                /* version vector, sorted by replica */
	uint32_t nvv, capvv;
	rdot *dc;               /* dot cloud, sorted */
	uint32_t ndc, capdc;
} rset;

static int dot_cmp(rdot a, rdot b)
{
	return a.rep != b.rep ? (a.rep < b.rep ? -1 : 1) : a.ctr != b.ctr ? (a.ctr < b.ctr ? -1 : 1) : 0;
}

static void *grow(void *p, uint32_t *cap, uint32_t need, size_t size)
{
	if (need <= *cap)
		return p;
	uint32_t c = *cap ? *cap * 2 : 2;
	while (c < need)
		c *= 2;
	p = realloc(p, c * size);
	if (!p) {
		fprintf(stderr, "bench_crdtref: out of memory\n");
		exit(1);
	}
	*cap = c;
	return p;
}

static void rset_free(rset *s)
{
	free(s->ds);
	free(s->vv);
	free(s->dc);
	memset(s, 0, sizeof *s);
}

static uint64_t *vv_slot(rset *s, uint64_t rep, bool create)
{
	uint32_t i = 0;
	while (i < s->nvv && s->vv[i].rep < rep)
		i++;
	if (i < s->nvv && s->vv[i].rep == rep)
		return &s->vv[i].max;
	if (!create)
		return NULL;
	s->vv = grow(s->vv, &s->capvv, s->nvv + 1, sizeof *s->vv);
	memmove(&s->vv[i + 1], &s->vv[i], (s->nvv - i) * sizeof *s->vv);
	s->vv[i] = (rvv){ rep, 0 };
	s->nvv++;
	return &s->vv[i].max;
}

static bool dot_in(rset *s, rdot d)
{
	uint64_t *m = vv_slot(s, d.rep, false);
	if (m && d.ctr <= *m)
		return true;
	for (uint32_t i = 0; i < s->ndc; i++)
		if (dot_cmp(s->dc[i], d) == 0)
			return true;
	return false;
}

/* dotcontext::compact: cloud dots that extend the vector move into it. */
static void compact(rset *s)
{
	bool moved = true;
	while (moved) {
		moved = false;
		uint32_t k = 0;
		for (uint32_t i = 0; i < s->ndc; i++) {
			uint64_t *m = vv_slot(s, s->dc[i].rep, s->dc[i].ctr == 1);
			if (m && s->dc[i].ctr == *m + 1) {
				*m = s->dc[i].ctr;
				moved = true;
			} else if (!m || s->dc[i].ctr > *m) {
				s->dc[k++] = s->dc[i];
			}
		}
		s->ndc = k;
	}
}

static void insert_dot(rset *s, rdot d, bool compact_now)
{
	uint32_t i = 0;
	while (i < s->ndc && dot_cmp(s->dc[i], d) < 0)
		i++;
	if (i == s->ndc || dot_cmp(s->dc[i], d) != 0) {
		s->dc = grow(s->dc, &s->capdc, s->ndc + 1, sizeof *s->dc);
		memmove(&s->dc[i + 1], &s->dc[i], (s->ndc - i) * sizeof *s->dc);
		s->dc[i] = d;
		s->ndc++;
	}
	if (compact_now)
		compact(s);
}

static void ds_insert(rset *s, rent e)
{
	uint32_t lo = 0, hi = s->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (dot_cmp(s->ds[mid].dot, e.dot) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	s->ds = grow(s->ds, &s->cap, s->n + 1, sizeof *s->ds);
	memmove(&s->ds[lo + 1], &s->ds[lo], (s->n - lo) * sizeof *s->ds);
	s->ds[lo] = e;
	s->n++;
}

/* aworset::add(id, val): delta = rmv(val) joined with the new dot's add. */
static void ref_add(rset *s, uint64_t id, const char *val, rset *delta)
{
	memset(delta, 0, sizeof *delta);
	uint32_t k = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		if (strcmp(s->ds[i].val, val) == 0)
			insert_dot(delta, s->ds[i].dot, false);
		else
			s->ds[k++] = s->ds[i];
	}
	s->n = k;
	compact(delta);
	uint64_t *m = vv_slot(s, id, true);
	rent e = { { id, ++*m }, val };
	ds_insert(s, e);
	ds_insert(delta, e);
	insert_dot(delta, e.dot, true);
}

/* dotkernel::join: a := a ⊔ b. */
static void ref_join(rset *a, rset *b)
{
	rent *out = malloc((a->n + b->n + 1) * sizeof *out);
	uint32_t i = 0, j = 0, n = 0;
	if (!out)
		exit(1);
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : dot_cmp(a->ds[i].dot, b->ds[j].dot);
		if (c == 0) {
			out[n++] = a->ds[i++];
			j++;
		} else if (c < 0) {
			if (!dot_in(b, a->ds[i].dot))
				out[n++] = a->ds[i];
			i++;
		} else {
			if (!dot_in(a, b->ds[j].dot))
				out[n++] = b->ds[j];
			j++;
		}
	}
	free(a->ds);
	a->ds = out;
	a->n = n;
	a->cap = a->n + b->n + 1;
	for (uint32_t k = 0; k < b->nvv; k++) {
		uint64_t *m = vv_slot(a, b->vv[k].rep, true);
		if (b->vv[k].max > *m)
			*m = b->vv[k].max;
	}
	for (uint32_t k = 0; k < b->ndc; k++)
		insert_dot(a, b->dc[k], false);
	compact(a);
}

static bool rset_equal(const rset *a, const rset *b)
{
	if (a->n != b->n || a->nvv != b->nvv || a->ndc != b->ndc)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (dot_cmp(a->ds[i].dot, b->ds[i].dot) != 0 || strcmp(a->ds[i].val, b->ds[i].val))
			return false;
	return memcmp(a->vv, b->vv, a->nvv * sizeof *a->vv) == 0 &&
	       memcmp(a->dc, b->dc, a->ndc * sizeof *a->dc) == 0;
}

/* ---- workload --------------------------------------------------------- */

static char ids[CARTS][NAME_LEN], skus[SKUS][NAME_LEN];
static size_t id_len, sku_len;

typedef struct op { uint32_t cart, sku; } op;

static void shuffle(uint32_t *v, size_t n, uint64_t *rng)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(bench_rand(rng) % (i + 1));
		uint32_t t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_crdtref: %s: %s\n", what, cartd_strerror(rc));
	exit(1);
}

static int same_in_other(const crdt_item *it, void *arg)
{
	crdt_item o;
	if (crdt_store_get(arg, it->id, it->id_len, &o) != 0 || !crdt_cart_equal(it->cart, o.cart))
		die("joined replica differs", CARTD_EINVAL);
	return 0;
}

/* One run of both workloads on both sides; fills adds/s and joins/s. */
static void run(const op *ops, const uint32_t *order, double *fig)
{
	crdt_store *a, *b;
	crdt_cart *deltas = malloc(nadds * sizeof *deltas);
	rset *ra = calloc(ncarts, sizeof *ra), *rb = calloc(ncarts, sizeof *rb);
	rset *rdeltas = malloc(nadds * sizeof *rdeltas);
	if (!deltas || !ra || !rb || !rdeltas || crdt_store_new(CRDT_DEFAULT_BUCKETS, &a) ||
	    crdt_store_new(CRDT_DEFAULT_BUCKETS, &b))
		die("setup", CARTD_ENOMEM);

	double t0 = bench_now();
	for (uint32_t i = 0; i < nadds; i++) {
		crdt_op o = { CRDT_OP_ADD, skus[ops[i].sku], sku_len, 1, NULL, NULL, 0 };
		crdt_cart_init(&deltas[i]);
		int rc = crdt_store_apply(a, ids[ops[i].cart], id_len, 1, &o, &deltas[i]);
		if (rc)
			die("crdt_store_apply", rc);
	}
	/* Digests settle when read: one anti-entropy round's read is timed, so
	 * every changed cart's digest is in the figure. */
	const uint64_t *da = crdt_store_bucket_digests(a);
	fig[0] = nadds / (bench_now() - t0);
	t0 = bench_now();
	for (uint32_t i = 0; i < nadds; i++)
		ref_add(&ra[ops[i].cart], 1, skus[ops[i].sku], &rdeltas[i]);
	fig[1] = nadds / (bench_now() - t0);

	t0 = bench_now();
	for (uint32_t k = 0; k < nadds; k++) {
		uint32_t i = order[k];
		int rc = crdt_store_join(b, ids[ops[i].cart], id_len, &deltas[i], NULL);
		if (rc)
			die("crdt_store_join", rc);
	}
	const uint64_t *db = crdt_store_bucket_digests(b);
	fig[2] = nadds / (bench_now() - t0);
	t0 = bench_now();
	for (uint32_t k = 0; k < nadds; k++)
		ref_join(&rb[ops[order[k]].cart], &rdeltas[order[k]]);
	fig[3] = nadds / (bench_now() - t0);

	if (memcmp(da, db, CRDT_DEFAULT_BUCKETS * sizeof *da) != 0)
		die("joined replica's digests differ", CARTD_EINVAL);
	crdt_store_walk(a, same_in_other, b);
	for (uint32_t c = 0; c < ncarts; c++)
		if (!rset_equal(&ra[c], &rb[c]))
			die("joined baseline replica differs", CARTD_EINVAL);
	for (uint32_t i = 0; i < nadds; i++) {
		crdt_cart_destroy(&deltas[i]);
		rset_free(&rdeltas[i]);
	}
	for (uint32_t c = 0; c < ncarts; c++) {
		rset_free(&ra[c]);
		rset_free(&rb[c]);
	}
	free(deltas);
	free(rdeltas);
	free(ra);
	free(rb);
	crdt_store_free(a);
	crdt_store_free(b);
}

/* Runs the C++ reference (ref_w1 beside this program) once; false when it
 * is not there or gave no result. */
static bool run_ref(const char *bin, unsigned seed, double *adds, double *joins)
{
	char cmd[600], line[256];
	bool ok = false;
	snprintf(cmd, sizeof cmd, "%s %u", bin, seed);
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	while (fgets(line, sizeof line, p))
		if (sscanf(line, "REF adds_per_s=%lf joins_per_s=%lf", adds, joins) == 2)
			ok = true;
	return pclose(p) == 0 && ok;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_crdtref [--runs N (1..%d)] [--adds N (10..%u)]\n",
	        MAX_RUNS, ADDS);
	exit(2);
}

int main(int argc, char **argv)
{
	static double runs[6][MAX_RUNS];
	int nruns = 5;
	double med[6];
	char ref[512];
	int nref = 0;
	uint64_t rng = 0x5DEECE66Du;
	op *ops = malloc(ADDS * sizeof *ops);
	uint32_t *order = malloc(ADDS * sizeof *order);
	if (!ops || !order)
		die("setup", CARTD_ENOMEM);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			nruns = atoi(argv[++i]);
		else if (strcmp(argv[i], "--adds") == 0 && i + 1 < argc)
			nadds = (uint32_t)strtoul(argv[++i], NULL, 10);
		else
			usage();
	}
	if (nruns < 1 || nruns > MAX_RUNS || nadds < 10 || nadds > ADDS)
		usage();
	ncarts = nadds / 10;

	bench_header("crdtref: the store on the reference's W1 and shuffled joins", argc, argv);
	printf("   %d runs (after one warm-up); %u carts, %u adds of %u skus, shuffled; "
	       "baseline: the reference's aworset shape in C (see the source)\n",
	       nruns, ncarts, nadds, SKUS);
	for (unsigned i = 0; i < CARTS; i++)
		snprintf(ids[i], NAME_LEN, "cart-%07u", i);
	for (unsigned i = 0; i < SKUS; i++)
		snprintf(skus[i], NAME_LEN, "sku-%07u", i);
	id_len = strlen(ids[0]);
	sku_len = strlen(skus[0]);
	/* ref_w1 lives beside this program. */
	snprintf(ref, sizeof ref, "%s", argv[0]);
	char *slash = strrchr(ref, '/');
	snprintf(slash ? slash + 1 : ref, sizeof ref - (size_t)(slash ? slash + 1 - ref : 0),
	         "ref_w1");
	bool have_ref = nadds == ADDS && access(ref, X_OK) == 0;
	printf("   C++ reference: %s\n", have_ref ? ref : nadds != ADDS ? "not run (--adds)"
	       : "not built (bench/ref/ref_w1.cc)");
	for (int r = -1; r < nruns; r++) {
		double fig[6] = { 0 };
		/* Every cart gets 10 adds, in shuffled order. */
		for (uint32_t i = 0; i < nadds; i++) {
			ops[i].cart = i % ncarts;
			ops[i].sku = (uint32_t)(bench_rand(&rng) % SKUS);
			order[i] = i;
		}
		shuffle(order, nadds, &rng);
		for (uint32_t i = 0; i < nadds; i++) {   /* the adds in shuffled order */
			uint32_t j = order[i];
			op t = ops[i];
			ops[i] = ops[j];
			ops[j] = t;
		}
		shuffle(order, nadds, &rng);             /* the joins in another */
		run(ops, order, fig);
		if (have_ref && r >= 0 && run_ref(ref, (unsigned)r + 1, &fig[4], &fig[5]))
			nref++;
		for (int f = 0; f < 6 && r >= 0; f++)
			runs[f][r] = fig[f];
	}
	for (int f = 0; f < 6; f++)
		med[f] = bench_median(runs[f], f >= 4 ? (size_t)nref : (size_t)nruns);

	bench_table t;
	bench_table_open(&t, "crdtref");
	if (nref > 0) {
		bench_table_row(&t, "W1 adds (store_apply)", med[0], "ops/s", "C++ reference aworset",
		                med[4], BENCH_AT_LEAST, TARGET_X * med[4]);
		bench_table_row(&t, "shuffled joins (store_join)", med[2], "ops/s",
		                "C++ reference aworset", med[5], BENCH_AT_LEAST, TARGET_X * med[5]);
	}
	bench_table_row(&t, "W1 adds (store_apply)", med[0], "ops/s", "reference shape, C", med[1],
	                BENCH_NONE, 0);
	bench_table_row(&t, "shuffled joins (store_join)", med[2], "ops/s", "reference shape, C",
	                med[3], BENCH_NONE, 0);
	bench_table_close(&t);
	free(ops);
	free(order);
	return 0;
}
