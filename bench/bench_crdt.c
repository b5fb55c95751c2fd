/*
 * bench_crdt.c - throughput and memory of the cart CRDT and the many-cart
 * store: local add/set/remove through crdt_store_apply (digests included:
 * each timed phase ends with one read of the bucket digests, as an
 * anti-entropy round would read them, which settles every changed cart),
 * joins of single-line remote deltas, canonical encode and decode, and the
 * heap held by a million three-line carts.
 *
 * Each throughput figure is the median of RUNS runs, each on a fresh store
 * with fresh random data.  Beside each figure sits a baseline measured in
 * the same run (malloc+free pairs for the operations, memcpy of the same
 * byte counts for the codec), so ratios stay readable on a noisy machine.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_common.h"
#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"

#define RUNS 5
#define OP_CARTS 100000u    /* carts in the throughput runs */
#define OP_LINES 4u         /* lines each of them reaches */
#define SKU_POOL 50000u
#define MEM_CARTS 1000000u
#define MEM_LINES 3u
#define NAME_MAX_LEN 16
#define HOT_CARTS 1000u     /* codec working set that stays in cache */
#define HOT_REPS 100

/* Targets on the 2-core reference machine (see the task brief). */
#define TARGET_OPS 2000000.0
#define TARGET_MBS 300.0
#define TARGET_LINE_BYTES 100.0

enum fig { F_ADD, F_SET, F_REMOVE, F_ADD_CART, F_JOIN, F_JOIN_DUP, F_ENC, F_DEC,
           F_ENC_COLD, F_DEC_COLD, F_MALLOC, F_MEMCPY, F_MEMCPY_COLD, F_COUNT };

/* Fixed-width names, so timed loops need no strlen. */
struct names {
	char id[OP_CARTS][NAME_MAX_LEN];
	char sku[SKU_POOL][NAME_MAX_LEN];
	size_t id_len, sku_len;
};

/* One run's random choices: the sku of each (cart, line) and quantities. */
struct plan {
	uint32_t sku[OP_CARTS][OP_LINES];
	uint32_t qty[OP_CARTS][OP_LINES];
	uint32_t remote_sku[OP_CARTS];
};

static struct names names;
static struct plan plan;

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_crdt: %s: %s\n", what, cartd_strerror(rc));
	exit(1);
}

static void make_names(void)
{
	for (unsigned i = 0; i < OP_CARTS; i++)
		snprintf(names.id[i], NAME_MAX_LEN, "cart-%07u", i);
	for (unsigned i = 0; i < SKU_POOL; i++)
		snprintf(names.sku[i], NAME_MAX_LEN, "sku-%06u", i);
	names.id_len = strlen(names.id[0]);
	names.sku_len = strlen(names.sku[0]);
}

/* Distinct skus per cart: a random base plus the line number. */
static void make_plan(uint64_t *rng)
{
	for (unsigned c = 0; c < OP_CARTS; c++) {
		uint32_t base = (uint32_t)(bench_rand(rng) % (SKU_POOL - OP_LINES - 1));
		for (unsigned k = 0; k < OP_LINES; k++) {
			plan.sku[c][k] = base + k;
			plan.qty[c][k] = 1 + (uint32_t)(bench_rand(rng) % 9);
		}
		plan.remote_sku[c] = base + OP_LINES;
	}
}

static void store_op(crdt_store *s, unsigned c, uint64_t self, enum crdt_op_kind kind,
                     uint32_t sku, uint32_t qty, crdt_cart *delta)
{
	const char *name = names.sku[sku];
	crdt_op op = { kind, name, names.sku_len, qty, NULL, NULL, 0 };
	int rc = crdt_store_apply(s, names.id[c], names.id_len, self, &op, delta);
	if (rc != 0)
		die("crdt_store_apply", rc);
}

/* Lines [from, to) of every cart, one operation kind; returns ops/s. */
static double timed_ops(crdt_store *s, enum crdt_op_kind kind, unsigned from, unsigned to)
{
	crdt_cart delta;
	crdt_cart_init(&delta);
	double t0 = bench_now();
	for (unsigned k = from; k < to; k++)
		for (unsigned c = 0; c < OP_CARTS; c++)
			store_op(s, c, 1, kind, plan.sku[c][k], plan.qty[c][k] + k, &delta);
	(void)crdt_store_bucket_digests(s);
	double t = bench_now() - t0;
	crdt_cart_destroy(&delta);
	return (double)(to - from) * OP_CARTS / t;
}

/* Line 0 untimed, then add lines 1..3, set all, remove all. */
static void run_local_ops(double *fig)
{
	crdt_store *s;
	int rc = crdt_store_new(CRDT_DEFAULT_BUCKETS, &s);
	if (rc != 0)
		die("crdt_store_new", rc);
	timed_ops(s, CRDT_OP_ADD, 0, 1);
	fig[F_ADD] = timed_ops(s, CRDT_OP_ADD, 1, OP_LINES);
	fig[F_SET] = timed_ops(s, CRDT_OP_SET, 0, OP_LINES);
	fig[F_REMOVE] = timed_ops(s, CRDT_OP_REMOVE, 0, OP_LINES);
	crdt_store_free(s);
}

/* Lines [from, to) of every bare cart; returns ops/s. */
static double timed_cart_adds(crdt_cart *carts, unsigned from, unsigned to)
{
	crdt_cart delta;
	crdt_cart_init(&delta);
	double t0 = bench_now();
	for (unsigned k = from; k < to; k++) {
		for (unsigned c = 0; c < OP_CARTS; c++) {
			const char *sku = names.sku[plan.sku[c][k]];
			int rc = crdt_cart_add(&carts[c], 1, sku, names.sku_len, plan.qty[c][k], &delta);
			if (rc != 0)
				die("crdt_cart_add", rc);
		}
	}
	double t = bench_now() - t0;
	crdt_cart_destroy(&delta);
	return (double)(to - from) * OP_CARTS / t;
}

/* The store's add workload on bare carts: what the store adds to it. */
static double run_cart_adds(void)
{
	crdt_cart *carts = malloc(OP_CARTS * sizeof *carts);
	if (carts == NULL)
		die("malloc", CARTD_ENOMEM);
	for (unsigned c = 0; c < OP_CARTS; c++)
		crdt_cart_init(&carts[c]);
	timed_cart_adds(carts, 0, 1);
	double rate = timed_cart_adds(carts, 1, OP_LINES);
	for (unsigned c = 0; c < OP_CARTS; c++)
		crdt_cart_destroy(&carts[c]);
	free(carts);
	return rate;
}

/* Joins every delta into s; returns ops/s. */
static double timed_joins(crdt_store *s, const crdt_cart *deltas, bool expect_change)
{
	double t0 = bench_now();
	for (unsigned c = 0; c < OP_CARTS; c++) {
		bool changed;
		int rc = crdt_store_join(s, names.id[c], names.id_len, &deltas[c], &changed);
		if (rc != 0)
			die("crdt_store_join", rc);
		if (changed != expect_change) {
			fprintf(stderr, "bench_crdt: join of %s: changed=%d, expected %d\n",
			        names.id[c], changed, expect_change);
			exit(1);
		}
	}
	(void)crdt_store_bucket_digests(s);
	return OP_CARTS / (bench_now() - t0);
}

/*
 * A local store of three-line carts receives one single-line delta per cart
 * from a concurrent replica, then the same deltas again (duplicates: the
 * cheap path).  Returns the local store for the codec runs.
 */
static crdt_store *run_joins(double *fig)
{
	crdt_store *local, *remote;
	crdt_cart *deltas = malloc(OP_CARTS * sizeof *deltas);
	if (deltas == NULL || crdt_store_new(CRDT_DEFAULT_BUCKETS, &local) != 0 ||
	    crdt_store_new(CRDT_DEFAULT_BUCKETS, &remote) != 0)
		die("setup", CARTD_ENOMEM);
	for (unsigned k = 0; k < OP_LINES - 1; k++)
		for (unsigned c = 0; c < OP_CARTS; c++)
			store_op(local, c, 1, CRDT_OP_ADD, plan.sku[c][k], plan.qty[c][k], NULL);
	for (unsigned c = 0; c < OP_CARTS; c++) {
		crdt_cart_init(&deltas[c]);
		store_op(remote, c, 2, CRDT_OP_ADD, plan.remote_sku[c], 1, &deltas[c]);
	}
	fig[F_JOIN] = timed_joins(local, deltas, true);
	fig[F_JOIN_DUP] = timed_joins(local, deltas, false);
	for (unsigned c = 0; c < OP_CARTS; c++)
		crdt_cart_destroy(&deltas[c]);
	free(deltas);
	crdt_store_free(remote);
	return local;
}

/* Encoded carts of a store, back to back, in store-walk order. */
struct corpus {
	const crdt_cart **cart;
	size_t *len;
	size_t n, total;
	uint8_t *enc;           /* the encodings */
	uint8_t *copy;          /* memcpy target */
	buf_writer w;           /* encode target, presized */
};

enum pass { P_ENCODE, P_DECODE, P_MEMCPY };

static int corpus_add(const crdt_item *it, void *arg)
{
	struct corpus *k = arg;
	k->cart[k->n] = it->cart;
	k->len[k->n] = crdt_cart_encoded_size(it->cart);
	k->total += k->len[k->n++];
	return 0;
}

/* One pass over carts [0, n): encode, decode or copy them. */
static void codec_pass(struct corpus *k, size_t n, enum pass what, crdt_cart *out)
{
	const uint8_t *p = k->enc;
	buf_writer_reset(&k->w);
	for (size_t i = 0; i < n; p += k->len[i++]) {
		if (what == P_ENCODE) {
			crdt_encode_cart(&k->w, k->cart[i]);
		} else if (what == P_MEMCPY) {
			memcpy(k->copy + (p - k->enc), p, k->len[i]);
		} else {
			int rc = crdt_cart_from_bytes(p, k->len[i], out);
			if (rc != 0)
				die("crdt_cart_from_bytes", rc);
		}
	}
	if (k->w.err != 0)
		die("encode", k->w.err);
}

/* MB/s of reps passes over the first n carts, after one untimed pass. */
static double timed_passes(struct corpus *k, size_t n, int reps, enum pass what)
{
	crdt_cart out;
	size_t bytes = 0;
	crdt_cart_init(&out);
	for (size_t i = 0; i < n; i++)
		bytes += k->len[i];
	codec_pass(k, n, what, &out);
	double t0 = bench_now();
	for (int r = 0; r < reps; r++)
		codec_pass(k, n, what, &out);
	double t = bench_now() - t0;
	crdt_cart_destroy(&out);
	return (double)bytes * reps / t / 1e6;
}

/* The whole corpus (cold: carts scattered over the heap, as anti-entropy
 * meets them), and a cache-resident slice many times (the codec's own
 * cost).  First-touch of the output buffers is paid before timing. */
static void run_codec(crdt_store *s, double *fig)
{
	struct corpus k = { 0 };
	size_t n = crdt_store_count(s);
	k.cart = malloc(n * sizeof *k.cart);
	k.len = malloc(n * sizeof *k.len);
	if (k.cart == NULL || k.len == NULL)
		die("malloc", CARTD_ENOMEM);
	crdt_store_walk(s, corpus_add, &k);
	buf_writer_init(&k.w);
	k.copy = malloc(k.total);
	if (k.copy == NULL || buf_reserve(&k.w, k.total) == NULL)
		die("malloc", CARTD_ENOMEM);
	memset(k.w.data, 0xA5, k.total);
	memset(k.copy, 0xA5, k.total);
	codec_pass(&k, k.n, P_ENCODE, NULL);
	k.enc = k.w.data;
	fig[F_ENC_COLD] = timed_passes(&k, k.n, 1, P_ENCODE);
	fig[F_DEC_COLD] = timed_passes(&k, k.n, 1, P_DECODE);
	fig[F_MEMCPY_COLD] = timed_passes(&k, k.n, 1, P_MEMCPY);
	fig[F_ENC] = timed_passes(&k, HOT_CARTS, HOT_REPS, P_ENCODE);
	fig[F_DEC] = timed_passes(&k, HOT_CARTS, HOT_REPS, P_DECODE);
	fig[F_MEMCPY] = timed_passes(&k, HOT_CARTS, HOT_REPS, P_MEMCPY);
	buf_writer_destroy(&k.w);
	free(k.copy);
	free(k.cart);
	free(k.len);
}

/* malloc+free pairs of cart-sized blocks: the allocator's pace, which
 * bounds any operation that allocates. */
static double run_malloc_pairs(void)
{
	enum { RING = 64, PAIRS = 4000000 };
	void *ring[RING] = { 0 };
	double t0 = bench_now();
	for (unsigned i = 0; i < PAIRS; i++) {
		free(ring[i % RING]);
		ring[i % RING] = malloc(16 + (i % 7) * 16);
		if (ring[i % RING] == NULL)
			die("malloc", CARTD_ENOMEM);
	}
	double t = bench_now() - t0;
	for (unsigned i = 0; i < RING; i++)
		free(ring[i]);
	return PAIRS / t;
}

struct mem_result {
	double per_cart, per_line, build_s;
	double cart_own;        /* per cart: chunks the crdt_cart itself owns */
	size_t id_len, sku_len;
};

/* glibc chunk size of a live allocation: usable size plus its header. */
static size_t chunk(const void *p)
{
	return p ? malloc_usable_size((void *)p) + sizeof(size_t) : 0;
}

/* Sums the heap chunks each cart owns (lines, skus, entry and range
 * arrays), to split the total into cart contents and store overhead. */
static int sum_cart_chunks(const crdt_item *it, void *arg)
{
	const crdt_cart *c = it->cart;
	size_t *sum = arg;
	*sum += chunk(c->lines) + (c->ctx.cap ? chunk(c->ctx.u.many) : 0);
	for (uint32_t i = 0; i < c->n; i++) {
		const crdt_line *l = &c->lines[i];
		*sum += (l->sku_len > CRDT_LINE_INLINE_SKU ? chunk(l->sku_mem.heap) : 0) +
		        (l->cap ? chunk(l->u.many) : 0);
	}
	return 0;
}

/* A million carts of three lines, line by line across all carts. */
static void run_memory(struct mem_result *m)
{
	char id[NAME_MAX_LEN], sku[NAME_MAX_LEN];
	size_t sku_bytes = 0;
	crdt_store *s;
	size_t h0 = bench_heap_in_use();
	double t0 = bench_now();
	if (crdt_store_new(CRDT_DEFAULT_BUCKETS, &s) != 0)
		die("crdt_store_new", CARTD_ENOMEM);
	for (unsigned k = 0; k < MEM_LINES; k++) {
		for (unsigned c = 0; c < MEM_CARTS; c++) {
			int n = snprintf(id, sizeof id, "cart-%07u", c);
			int sn = snprintf(sku, sizeof sku, "sku-%06u", (c * 7 + k) % 1000000);
			crdt_op op = { CRDT_OP_ADD, sku, (size_t)sn, 1 + k, NULL, NULL, 0 };
			int rc = crdt_store_apply(s, id, (size_t)n, 1, &op, NULL);
			if (rc != 0)
				die("crdt_store_apply", rc);
			sku_bytes += (size_t)sn;
			m->id_len = (size_t)n;
			m->sku_len = (size_t)sn;
		}
	}
	m->build_s = bench_now() - t0;
	double used = (double)(bench_heap_in_use() - h0);
	m->per_cart = used / MEM_CARTS;
	m->per_line = (used - (double)sku_bytes) / ((double)MEM_CARTS * MEM_LINES);
	size_t own = 0;
	crdt_store_walk(s, sum_cart_chunks, &own);
	m->cart_own = (double)own / MEM_CARTS;
	crdt_store_free(s);
}

static void report(const double *med, const struct mem_result *m)
{
	bench_table t;
	const char *mal = "malloc+free pairs/s", *cpy = "memcpy MB/s, same sizes";
	bench_table_open(&t, "crdt");
	bench_table_row(&t, "add (store_apply)", med[F_ADD], "ops/s", mal, med[F_MALLOC],
	                BENCH_AT_LEAST, TARGET_OPS);
	bench_table_row(&t, "add (bare cart, no store)", med[F_ADD_CART], "ops/s", mal,
	                med[F_MALLOC], BENCH_NONE, 0);
	bench_table_row(&t, "set (store_apply)", med[F_SET], "ops/s", mal, med[F_MALLOC],
	                BENCH_NONE, 0);
	bench_table_row(&t, "remove (store_apply)", med[F_REMOVE], "ops/s", mal, med[F_MALLOC],
	                BENCH_NONE, 0);
	bench_table_row(&t, "join 1-line delta (store)", med[F_JOIN], "ops/s", mal,
	                med[F_MALLOC], BENCH_AT_LEAST, TARGET_OPS);
	bench_table_row(&t, "join duplicate delta (store)", med[F_JOIN_DUP], "ops/s", mal,
	                med[F_MALLOC], BENCH_NONE, 0);
	bench_table_row(&t, "encode (1k carts, in cache)", med[F_ENC], "MB/s", cpy,
	                med[F_MEMCPY], BENCH_AT_LEAST, TARGET_MBS);
	bench_table_row(&t, "decode (1k carts, in cache)", med[F_DEC], "MB/s", cpy,
	                med[F_MEMCPY], BENCH_AT_LEAST, TARGET_MBS);
	bench_table_row(&t, "encode (100k carts, cold)", med[F_ENC_COLD], "MB/s", cpy,
	                med[F_MEMCPY_COLD], BENCH_NONE, 0);
	bench_table_row(&t, "decode (100k carts, cold)", med[F_DEC_COLD], "MB/s", cpy,
	                med[F_MEMCPY_COLD], BENCH_NONE, 0);
	bench_table_row(&t, "memory per cart (1M x 3 lines)", m->per_cart, "bytes", NULL, 0,
	                BENCH_NONE, 0);
	bench_table_row(&t, "  of which cart's own chunks", m->cart_own, "bytes", NULL, 0,
	                BENCH_NONE, 0);
	bench_table_row(&t, "  of which store node+table", m->per_cart - m->cart_own, "bytes",
	                NULL, 0, BENCH_NONE, 0);
	bench_table_row(&t, "memory per line beyond sku", m->per_line, "bytes", NULL, 0,
	                BENCH_AT_MOST, TARGET_LINE_BYTES);
	bench_table_close(&t);
	printf("memory: ids of %zu bytes, skus of %zu bytes, heap in use (mallinfo2); "
	       "built in %.2f s\n", m->id_len, m->sku_len, m->build_s);
}

int main(int argc, char **argv)
{
	static double runs[F_COUNT][RUNS];
	double med[F_COUNT];
	struct mem_result mem;
	uint64_t rng = 0x9E3779B97F4A7C15u;

	bench_header("crdt: cart operations, store, codec, memory", argc, argv);
	printf("   %d runs (after one warm-up) of %u carts x %u lines each, median reported\n",
	       RUNS, OP_CARTS, OP_LINES);
	/* Keep freed memory in the heap between runs: on this VM first-touch
	 * page faults cost more than the code under test, and a long-running
	 * peer reuses its heap.  Run -1 is a discarded warm-up. */
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	make_names();
	for (int r = -1; r < RUNS; r++) {
		double fig[F_COUNT];
		make_plan(&rng);
		fig[F_MALLOC] = run_malloc_pairs();
		run_local_ops(fig);
		fig[F_ADD_CART] = run_cart_adds();
		crdt_store *s = run_joins(fig);
		run_codec(s, fig);
		crdt_store_free(s);
		for (int f = 0; f < F_COUNT && r >= 0; f++)
			runs[f][r] = fig[f];
	}
	for (int f = 0; f < F_COUNT; f++)
		med[f] = bench_median(runs[f], RUNS);
	run_memory(&mem);
	report(med, &mem);
	return 0;
}
