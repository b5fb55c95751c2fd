/*
 * test_props_split.c - property (d) of the props suite: join decomposition.
 *
 * crdt_cart_split pieces, for random budgets >= CRDT_MIN_PIECE_BUDGET, each
 * encode within the budget and carry either live entries with exactly their
 * own dots or removed dots only.  Merged in random subsets and orders into
 * other replicas they never lose a live entry the receiver has that the
 * source did not remove, never bring back an entry either side removed, and
 * all together equal joining the whole state.  Sources come from the model
 * universe (test_world.h) and from a generator of wide carts (many lines,
 * long skus) that need many pieces.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "tests/test_props.h"
#include "tests/test_util.h"
#include "tests/test_world.h"

/* True if c holds entry e (same dot and payload) on the line named sku. */
static bool holds(const crdt_cart *c, const crdt_line *sku, const crdt_entry *e)
{
	const crdt_line *l = crdt_cart_find(c, crdt_line_sku(sku), sku->sku_len);
	if (l == NULL)
		return false;
	const crdt_entry *v = crdt_line_entries(l);
	for (uint16_t i = 0; i < l->n; i++)
		if (v[i].replica == e->replica && v[i].packed == e->packed)
			return true;
	return false;
}

/* True if c's deferred removes name dot d for line sku. */
static bool deferred_in(const crdt_cart *c, const char *sku, size_t len, crdt_dot d)
{
	for (uint32_t i = 0; i < crdt_cart_ndefer(c); i++) {
		const crdt_defer *x = &c->defer->v[i];
		if (x->sku_len == len && memcmp(x->sku, sku, len) == 0)
			return crdt_ctx_contains(&x->dots, d);
	}
	return false;
}

/* True if c removed e: its context has seen e's dot but c does not hold
 * e, or a deferred remove of e's line names it. */
static bool removed_in(const crdt_cart *c, const crdt_line *sku, const crdt_entry *e)
{
	return (crdt_ctx_contains(&c->ctx, crdt_entry_dot(e)) && !holds(c, sku, e)) ||
	       deferred_in(c, crdt_line_sku(sku), sku->sku_len, crdt_entry_dot(e));
}

static void live_dots(const crdt_cart *c, crdt_ctx *out)
{
	crdt_ctx_init(out);
	for (uint32_t i = 0; i < c->n; i++)
		for (uint16_t k = 0; k < c->lines[i].n; k++)
			T_ASSERT(crdt_ctx_add(out, crdt_entry_dot(&crdt_line_entries(&c->lines[i])[k])) == 0,
			         "crdt_ctx_add failed");
}

static void check_piece(const crdt_cart *s, const crdt_ctx *live, const crdt_cart *p,
                        size_t budget)
{
	tb bytes;
	tb_init(&bytes);
	tu_encode(p, &bytes);
	size_t len = bytes.len;
	tb_free(&bytes);
	T_ASSERT(len <= budget, "piece of %zu bytes over budget %zu", len, budget);
	T_ASSERT(crdt_cart_encoded_size(p) == len, "piece encoded size %zu, length %zu",
	         crdt_cart_encoded_size(p), len);
	T_ASSERT(!crdt_cart_empty(p), "empty piece");
	uint64_t entries = 0;
	for (uint32_t i = 0; i < p->n; i++)
		for (uint16_t k = 0; k < p->lines[i].n; k++, entries++)
			T_ASSERT(holds(s, &p->lines[i], &crdt_line_entries(&p->lines[i])[k]),
			         "piece carries an entry the source does not hold");
	if (p->n > 0) {
		T_ASSERT(crdt_ctx_count(&p->ctx) == entries,
		         "piece with entries carries %llu dots for %llu entries",
		         (unsigned long long)crdt_ctx_count(&p->ctx), (unsigned long long)entries);
		return;
	}
	/* A deferred-remove piece carries nothing else, and only what the
	 * source defers for that line. */
	for (uint32_t i = 0; i < crdt_cart_ndefer(p); i++) {
		const crdt_defer *x = &p->defer->v[i];
		const crdt_range *q = crdt_ctx_ranges(&x->dots);
		T_ASSERT(crdt_ctx_empty(&p->ctx), "deferred-remove piece carries a context");
		for (uint32_t j = 0; j < x->dots.n; j++)
			for (uint64_t k = q[j].lo; k <= q[j].hi; k++)
				T_ASSERT(deferred_in(s, x->sku, x->sku_len, (crdt_dot){ q[j].replica, k }),
				         "deferred-remove piece names a dot the source does not defer");
	}
	const crdt_range *r = crdt_ctx_ranges(&p->ctx);
	for (uint32_t i = 0; i < p->ctx.n; i++)
		for (uint64_t k = r[i].lo; k <= r[i].hi; k++) {
			crdt_dot d = { r[i].replica, k };
			T_ASSERT(crdt_ctx_contains(&s->ctx, d) && !crdt_ctx_contains(live, d),
			         "removal piece carries a dot the source did not remove");
		}
}

/* t = rx joined with some pieces: nothing lost, nothing resurrected. */
static void check_safe(const crdt_cart *rx, const crdt_cart *s, const crdt_cart *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		for (uint16_t k = 0; k < t->lines[i].n; k++) {
			const crdt_entry *e = &crdt_line_entries(&t->lines[i])[k];
			bool from_rx = holds(rx, &t->lines[i], e);
			T_ASSERT(from_rx || (holds(s, &t->lines[i], e) && !removed_in(rx, &t->lines[i], e)),
			         "an entry was resurrected or invented by a subset of pieces");
		}
	for (uint32_t i = 0; i < rx->n; i++)
		for (uint16_t k = 0; k < rx->lines[i].n; k++) {
			const crdt_entry *e = &crdt_line_entries(&rx->lines[i])[k];
			T_ASSERT(removed_in(s, &rx->lines[i], e) || holds(t, &rx->lines[i], e),
			         "a live entry the source did not remove was lost");
		}
}

/* Joins a random subset of the pieces into a copy of rx in a random order,
 * checks safety, then the rest: the result must be rx ⊔ s. */
static void merge_subset(test_rng *rng, const crdt_cart *rx, const crdt_cart *s,
                         const crdt_cart *p, size_t n, size_t *idx)
{
	crdt_cart t = tu_copy(rx), full = tu_copy(rx);
	tu_join(&full, s);
	test_rng_shuffle(rng, idx, n);
	size_t cut = (size_t)test_rng_below(rng, n + 1);
	for (size_t i = 0; i < cut; i++) {
		tu_join(&t, &p[idx[i]]);
		if (test_rng_pct(rng, 30))
			check_safe(rx, s, &t);
	}
	check_safe(rx, s, &t);
	crdt_cart probe = tu_copy(&full);
	tu_join_noop(&probe, &t, "rx and a subset of pieces joined into rx ⊔ s");
	for (size_t i = cut; i < n; i++)
		tu_join(&t, &p[idx[i]]);
	for (size_t i = 0; i < n; i++)      /* duplicates change nothing */
		if (test_rng_pct(rng, 20))
			tu_join_noop(&t, &p[i], "a duplicate piece");
	T_ASSERT(crdt_cart_equal(&t, &full) && tu_same_bytes(&t, &full),
	         "all pieces differ from the whole state");
	crdt_cart_destroy(&probe);
	crdt_cart_destroy(&t);
	crdt_cart_destroy(&full);
}

static size_t rand_budget(test_rng *rng)
{
	unsigned k = (unsigned)test_rng_below(rng, 100);
	if (k < 15)
		return CRDT_MIN_PIECE_BUDGET;
	if (k < 80)
		return (size_t)test_rng_range(rng, CRDT_MIN_PIECE_BUDGET, 700);
	return (size_t)test_rng_range(rng, 700, 5000);
}

/* Splits s and checks the pieces against s and the receivers rx[0..n). */
static void split_check(test_rng *rng, const crdt_cart *s, const crdt_cart *rx, unsigned n)
{
	crdt_cart *p = NULL;
	size_t np = 0, budget = rand_budget(rng);
	int rc = crdt_cart_split(s, budget, &p, &np);
	T_ASSERT(rc == 0, "split with budget %zu returned %d", budget, rc);
	crdt_ctx live;
	live_dots(s, &live);
	for (size_t i = 0; i < np; i++)
		check_piece(s, &live, &p[i], budget);
	crdt_ctx_destroy(&live);
	size_t *idx = malloc((np + 1) * sizeof *idx);
	T_ASSERT(idx != NULL, "out of memory");
	for (size_t i = 0; i < np; i++)
		idx[i] = i;
	crdt_cart empty;
	crdt_cart_init(&empty);
	merge_subset(rng, &empty, s, p, np, idx);
	for (unsigned r = 0; r < n; r++)
		merge_subset(rng, &rx[r], s, p, np, idx);
	free(idx);
	crdt_pieces_free(p, np);
}

static void model_split_case(test_rng *rng, void *arg)
{
	(void)arg;
	tw w;
	tw_init(&w, rng, (unsigned)test_rng_range(rng, 2, TM_MAX_REPLICAS));
	for (unsigned i = (unsigned)test_rng_range(rng, 5, 200); i > 0; i--)
		tw_step(&w);
	split_check(rng, &w.cart[test_rng_below(rng, w.n)], w.cart, w.n);
	tw_destroy(&w);
}

START_TEST(split_model_states)
{
	test_run_cases("split_model_states", PROPS_CASES / 2, model_split_case, NULL);
}
END_TEST

#define WIDE_REPS 3

/* One random write on a wide cart; its delta reaches each other replica
 * with probability one half. */
static void wide_op(test_rng *rng, crdt_cart *c, unsigned r, unsigned nsku, bool longsku)
{
	static const char pad[] = "long-sku-padding-long-sku-padding-long-sku-padding-"
	                          "long-sku-padding-long-sku-padding-long-sku-padding-";
	char sku[CRDT_MAX_NAME + 1];
	snprintf(sku, sizeof sku, "%s%u", longsku ? pad : "w", (unsigned)test_rng_below(rng, nsku));
	crdt_cart d;
	crdt_cart_init(&d);
	unsigned k = (unsigned)test_rng_below(rng, 100);
	uint64_t id = r + 1;
	if (k < 70)
		tu_add(&c[r], id, sku, (uint32_t)test_rng_range(rng, 1, 50000), &d);
	else if (k < 80)
		tu_set(&c[r], id, sku, (uint32_t)test_rng_range(rng, 0, 9), &d);
	else if (k < 99)
		tu_remove(&c[r], sku, NULL, &d);
	else
		tu_clear(&c[r], NULL, &d);
	for (unsigned j = 0; j < WIDE_REPS; j++)
		if (j != r && test_rng_pct(rng, 50))
			tu_join(&c[j], &d);
	crdt_cart_destroy(&d);
}

static void wide_split_case(test_rng *rng, void *arg)
{
	(void)arg;
	crdt_cart c[WIDE_REPS];
	for (unsigned r = 0; r < WIDE_REPS; r++)
		crdt_cart_init(&c[r]);
	unsigned nsku = (unsigned)test_rng_range(rng, 5, 300);
	bool longsku = test_rng_pct(rng, 30);
	for (unsigned i = (unsigned)test_rng_range(rng, 50, 500); i > 0; i--)
		wide_op(rng, c, (unsigned)test_rng_below(rng, WIDE_REPS), nsku, longsku);
	split_check(rng, &c[test_rng_below(rng, WIDE_REPS)], c, WIDE_REPS);
	for (unsigned r = 0; r < WIDE_REPS; r++)
		crdt_cart_destroy(&c[r]);
}

START_TEST(split_wide_carts)
{
	test_run_cases("split_wide_carts", PROPS_CASES / 10, wide_split_case, NULL);
}
END_TEST

TCase *props_split_tcase(void)
{
	TCase *tc = tcase_create("split");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, split_model_states);
	tcase_add_test(tc, split_wide_carts);
	return tc;
}
