/*
 * bench_line.c - one hot line: its size in memory and on the wire after 1,
 * 16, 1,000 and 100,000 adds (docs/semantics.md §6 states the bound these
 * figures check), and the cost of an add as the line grows.
 *
 * Three ways of adding, each through crdt_store_apply as cartd does:
 *   one peer      every add at one replica; past CRDT_MAX_LINE_ENTRIES the
 *                 adds are refused (line_full) and the line stays put;
 *   hinted client the same, but the client follows line_full's hint and
 *                 sets the quantity, which compacts the line;
 *   three peers   adds round robin at three replicas that exchange every
 *                 delta: the line is the union of their entries.
 * Sizes are deterministic; the cost of an add is the median of RUNS runs,
 * beside malloc+free pairs measured in the same run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_common.h"
#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "net/wire.h"

#define RUNS 5
#define PIECE_BUDGET (WIRE_MAX_DATAGRAM_DEFAULT - WIRE_OVERHEAD - 3u - 8u)

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_line: %s: %s\n", what, cartd_strerror(rc));
	exit(1);
}

struct line_size {
	unsigned long accepted, refused;
	unsigned entries;
	uint32_t qty;
	size_t heap;        /* the line's entry array and sku */
	size_t encoded;     /* the cart's canonical encoding */
	size_t pieces;      /* datagram-sized pieces to send it whole */
};

static const crdt_cart *cart_of(crdt_store *s)
{
	crdt_item it;
	int rc = crdt_store_get(s, "hot", 3, &it);
	if (rc)
		die("crdt_store_get", rc);
	return it.cart;
}

static void measure(crdt_store *s, struct line_size *m)
{
	const crdt_cart *c = cart_of(s);
	const crdt_line *l = crdt_cart_find(c, "X", 1);
	m->entries = l ? l->n : 0;
	m->qty = l ? crdt_line_qty(l) : 0;
	m->heap = l ? (l->cap ? (size_t)l->cap * sizeof(crdt_entry) : 0) + l->sku_len + 1 : 0;
	m->encoded = crdt_cart_encoded_size(c);
	crdt_cart *pieces = NULL;
	int rc = crdt_cart_split(c, PIECE_BUDGET, &pieces, &m->pieces);
	if (rc)
		die("crdt_cart_split", rc);
	crdt_pieces_free(pieces, m->pieces);
}

static crdt_store *new_store(void)
{
	crdt_store *s;
	int rc = crdt_store_new(CRDT_DEFAULT_BUCKETS, &s);
	if (rc)
		die("crdt_store_new", rc);
	return s;
}

/* n adds of 1 at replica 1; hinted: a refused add becomes a set. */
static void one_peer(unsigned long n, bool hinted, struct line_size *m)
{
	crdt_store *s = new_store();
	memset(m, 0, sizeof *m);
	crdt_op add = { CRDT_OP_ADD, "X", 1, 1, NULL, NULL, 0 };
	for (unsigned long k = 0; k < n; k++) {
		int rc = crdt_store_apply(s, "hot", 3, 1, &add, NULL);
		if (rc == CARTD_ELINEFULL && hinted) {
			const crdt_line *l = crdt_cart_find(cart_of(s), "X", 1);
			uint32_t q = crdt_line_qty(l);
			crdt_op set = { CRDT_OP_SET, "X", 1, q < CRDT_MAX_QTY ? q + 1 : q, NULL, NULL, 0 };
			rc = crdt_store_apply(s, "hot", 3, 1, &set, NULL);
		} else if (rc == CARTD_ELINEFULL) {
			m->refused++;
			continue;
		}
		if (rc)
			die("crdt_store_apply", rc);
		m->accepted++;
	}
	measure(s, m);
	crdt_store_free(s);
}

/* n adds round robin at three replicas, every delta joined everywhere. */
static void three_peers(unsigned long n, struct line_size *m)
{
	crdt_store *s[3] = { new_store(), new_store(), new_store() };
	crdt_cart d;
	crdt_cart_init(&d);
	memset(m, 0, sizeof *m);
	crdt_op add = { CRDT_OP_ADD, "X", 1, 1, NULL, NULL, 0 };
	for (unsigned long k = 0; k < n; k++) {
		unsigned at = (unsigned)(k % 3);
		int rc = crdt_store_apply(s[at], "hot", 3, at + 1, &add, &d);
		if (rc == CARTD_ELINEFULL) {
			m->refused++;
			continue;
		}
		if (rc)
			die("crdt_store_apply", rc);
		m->accepted++;
		for (unsigned o = 1; o < 3; o++)
			if ((rc = crdt_store_join(s[(at + o) % 3], "hot", 3, &d, NULL)) != 0)
				die("crdt_store_join", rc);
	}
	measure(s[0], m);
	for (int i = 0; i < 3; i++)
		crdt_store_free(s[i]);
	crdt_cart_destroy(&d);
}

/* Seconds per add to a line that already holds `entries` entries, over
 * `reps` adds each undone by keeping the line at that size (a set resets it
 * to `entries` one-unit adds every `reps`). */
static double add_cost(unsigned entries, unsigned reps)
{
	crdt_store *s = new_store();
	crdt_op add = { CRDT_OP_ADD, "X", 1, 1, NULL, NULL, 0 };
	for (unsigned k = 0; k < entries; k++)
		if (crdt_store_apply(s, "hot", 3, 1, &add, NULL) != 0)
			die("fill", CARTD_EINVAL);
	/* Adds to a second line of the same cart: the cart holds the hot line
	 * while the measured line stays small, so both costs are comparable. */
	crdt_op other = { CRDT_OP_ADD, "Y", 1, 1, NULL, NULL, 0 };
	crdt_op set = { CRDT_OP_SET, "Y", 1, 1, NULL, NULL, 0 };
	double t0 = bench_now();
	for (unsigned k = 0; k < reps; k++) {
		const crdt_op *op = k % 64 == 63 ? &set : &other;
		int rc = crdt_store_apply(s, "hot", 3, 1, op, NULL);
		if (rc)
			die("crdt_store_apply", rc);
	}
	double dt = (bench_now() - t0) / reps;
	crdt_store_free(s);
	return dt;
}

static double malloc_pairs_cost(unsigned reps)
{
	double t0 = bench_now();
	for (unsigned k = 0; k < reps; k++) {
		void *volatile p = malloc(64 + (k & 63));
		free(p);
	}
	return (bench_now() - t0) / reps;
}

static void size_rows(bench_table *t, const char *how, unsigned long n, const struct line_size *m)
{
	char metric[96];
	snprintf(metric, sizeof metric, "%s, %lu adds: entries", how, n);
	bench_table_row(t, metric, m->entries, "entries", NULL, 0, BENCH_AT_MOST,
	                3.0 * CRDT_MAX_LINE_ENTRIES);
	snprintf(metric, sizeof metric, "%s, %lu adds: memory", how, n);
	bench_table_row(t, metric, (double)m->heap, "bytes", NULL, 0, BENCH_NONE, 0);
	snprintf(metric, sizeof metric, "%s, %lu adds: wire", how, n);
	bench_table_row(t, metric, (double)m->encoded, "bytes", NULL, 0, BENCH_NONE, 0);
	printf("   %s, %lu adds: %lu accepted, %lu refused (line_full), quantity %u, "
	       "%zu datagram piece(s)\n", how, n, m->accepted, m->refused, m->qty, m->pieces);
}

int main(int argc, char **argv)
{
	static const unsigned long adds[] = { 1, 16, 1000, 100000 };
	bench_header("line: a hot line's size after N adds, and an add's cost", argc, argv);
	printf("   sizes are exact (deterministic); line cap %u entries per peer\n",
	       CRDT_MAX_LINE_ENTRIES);
	bench_table t;
	bench_table_open(&t, "line");
	for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++) {
		struct line_size m;
		one_peer(adds[i], false, &m);
		size_rows(&t, "one peer", adds[i], &m);
		one_peer(adds[i], true, &m);
		size_rows(&t, "hinted client", adds[i], &m);
		three_peers(adds[i], &m);
		size_rows(&t, "three peers", adds[i], &m);
	}
	double small[RUNS], full[RUNS], base[RUNS];
	for (int r = 0; r < RUNS; r++) {
		small[r] = add_cost(1, 200000);
		full[r] = add_cost(CRDT_MAX_LINE_ENTRIES, 20000);
		base[r] = malloc_pairs_cost(2000000);
	}
	double b = bench_median(base, RUNS);
	bench_table_row(&t, "add beside a 1-entry line", 1e9 * bench_median(small, RUNS), "ns",
	                "malloc+free ns", 1e9 * b, BENCH_NONE, 0);
	bench_table_row(&t, "add beside a full line", 1e9 * bench_median(full, RUNS), "ns",
	                "malloc+free ns", 1e9 * b, BENCH_NONE, 0);
	bench_table_close(&t);
	return 0;
}
