/*
 * test_world.c - replicas, random operations and a lossy message pool,
 * checked step by step against the reference model (see test_world.h).
 */
#include "tests/test_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"

#define S16 "0123456789abcdef"
static const char *const all_skus[TM_MAX_SKUS] = {
	"a", "b", "ab", "B", "a-1", "x.y~z:w@v", "aa",
	S16 S16 S16 S16 S16 S16 S16 S16,    /* CRDT_MAX_NAME bytes */
};

static void pick_ids(tw *w)
{
	static const uint64_t edge[] = {
		1, 2, UINT64_MAX, UINT64_MAX - 1, UINT64_C(1) << 63,
		(UINT64_C(1) << 63) - 1, 0x100, 0xFF,
	};
	unsigned mode = (unsigned)test_rng_below(w->rng, 3);
	for (unsigned i = 0; i < w->n; i++) {
		uint64_t id;
		bool dup;
		do {
			if (mode == 0)
				id = test_rng_range(w->rng, 1, 6);
			else if (mode == 1)
				id = test_rng_next(w->rng) | 1;
			else
				id = edge[test_rng_below(w->rng, sizeof edge / sizeof edge[0])];
			dup = false;
			for (unsigned j = 0; j < i; j++)
				dup |= w->m->ids[j] == id;
		} while (dup);
		w->m->ids[i] = id;
	}
}

void tw_init(tw *w, test_rng *rng, unsigned nrep)
{
	memset(w, 0, sizeof *w);
	w->rng = rng;
	w->n = nrep;
	w->m = calloc(1, sizeof *w->m);
	T_ASSERT(w->m != NULL, "out of memory");
	w->m->nrep = nrep;
	pick_ids(w);
	size_t idx[TM_MAX_SKUS];
	for (size_t i = 0; i < TM_MAX_SKUS; i++)
		idx[i] = i;
	test_rng_shuffle(rng, idx, TM_MAX_SKUS);
	w->m->nsku = (unsigned)test_rng_range(rng, 1, TM_MAX_SKUS);
	for (unsigned i = 0; i < w->m->nsku; i++)
		w->m->sku[i] = all_skus[idx[i]];
	for (unsigned r = 0; r < nrep; r++)
		crdt_cart_init(&w->cart[r]);
	w->loss = (unsigned)test_rng_below(rng, 60);
	w->dup = (unsigned)test_rng_below(rng, 30);
	/* Some universes mostly add (to few skus), so lines pile up entries. */
	w->adds = test_rng_pct(rng, 25) ? (unsigned)test_rng_range(rng, 75, 95) : 40;
	w->check = true;
}

void tw_destroy(tw *w)
{
	for (unsigned r = 0; r < w->n; r++)
		crdt_cart_destroy(&w->cart[r]);
	for (size_t i = 0; i < w->npool; i++)
		crdt_cart_destroy(&w->pool[i].cart);
	for (unsigned i = 0; i < w->ntok; i++)
		crdt_ctx_destroy(&w->tok[i].ctx);
	free(w->pool);
	free(w->m);
	memset(w, 0, sizeof *w);
}

static void push(tw *w, unsigned to, const crdt_cart *c, const tm_state *m)
{
	if (w->npool == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 32;
		w->pool = realloc(w->pool, w->cap * sizeof *w->pool);
		T_ASSERT(w->pool != NULL, "out of memory");
	}
	tw_msg *msg = &w->pool[w->npool++];
	crdt_cart_init(&msg->cart);
	T_ASSERT(crdt_cart_copy(&msg->cart, c) == 0, "crdt_cart_copy failed");
	msg->model = *m;
	msg->to = to;
}

void tw_send(tw *w, unsigned from, const crdt_cart *c, const tm_state *m)
{
	for (unsigned to = 0; to < w->n; to++) {
		if (to == from || test_rng_pct(w->rng, w->loss))
			continue;
		push(w, to, c, m);
		while (test_rng_pct(w->rng, w->dup))
			push(w, to, c, m);
	}
}

static bool has_cloud(const crdt_ctx *c)
{
	const crdt_range *r = crdt_ctx_ranges(c);
	for (uint32_t i = 1; i < c->n; i++)
		if (r[i].replica == r[i - 1].replica)
			return true;
	return false;
}

void tw_join(tw *w, unsigned r, const crdt_cart *c, const tm_state *m)
{
	tm_state before = w->st[r];
	bool changed = false;
	int rc = crdt_cart_join(&w->cart[r], c, &changed);
	T_ASSERT(rc == 0, "crdt_cart_join returned %d", rc);
	tm_join(w->m, &w->st[r], m);
	w->stats.deferred += w->cart[r].defer != NULL;
	bool mchanged = memcmp(&before, &w->st[r], sizeof before) != 0;
	T_ASSERT(changed || !mchanged, "join into replica %u changed it but reported no change", r);
	T_ASSERT(!w->strict_changed || changed == mchanged,
	         "join into replica %u reported a change, but the state is the same", r);
	w->stats.spurious_changed += changed && !mchanged;
	if (w->check)
		tm_check(w->m, &w->st[r], &w->cart[r], "replica after join");
	w->stats.deliveries++;
	w->stats.clouds += has_cloud(&w->cart[r].ctx);
}

void tw_deliver(tw *w)
{
	if (w->npool == 0)
		return;
	size_t i = (size_t)test_rng_below(w->rng, w->npool);
	tw_msg msg = w->pool[i];
	w->pool[i] = w->pool[--w->npool];
	tw_join(w, msg.to, &msg.cart, &msg.model);
	crdt_cart_destroy(&msg.cart);
}

void tw_step(tw *w)
{
	unsigned k = (unsigned)test_rng_below(w->rng, 100);
	unsigned r = (unsigned)test_rng_below(w->rng, w->n);
	if (k < 45 || (k < 92 && w->npool == 0)) {
		tw_op(w, r, NULL, NULL);
	} else if (k < 92) {
		tw_deliver(w);
	} else if (w->n > 1) {
		unsigned to = (r + 1 + (unsigned)test_rng_below(w->rng, w->n - 1)) % w->n;
		if (!test_rng_pct(w->rng, w->loss))
			push(w, to, &w->cart[r], &w->st[r]);
	}
}

static void check_converged(tw *w)
{
	buf_writer a, b;
	buf_writer_init(&a);
	buf_writer_init(&b);
	crdt_encode_cart(&a, &w->cart[0]);
	for (unsigned r = 0; r < w->n; r++) {
		tm_check(w->m, &w->st[r], &w->cart[r], "replica after full exchange");
		buf_writer_reset(&b);
		crdt_encode_cart(&b, &w->cart[r]);
		T_ASSERT(crdt_cart_equal(&w->cart[0], &w->cart[r]),
		         "replicas 0 and %u differ after full exchange", r);
		T_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
		         "replicas 0 and %u encode differently after full exchange", r);
	}
	buf_writer_destroy(&a);
	buf_writer_destroy(&b);
}

void tw_exchange(tw *w)
{
	for (unsigned r = 1; r < w->n; r++)
		tw_join(w, 0, &w->cart[r], &w->st[r]);
	for (unsigned r = 1; r < w->n; r++)
		tw_join(w, r, &w->cart[0], &w->st[0]);
	check_converged(w);
	/* Stale deltas and state copies still in flight change nothing. */
	while (w->npool)
		tw_deliver(w);
	check_converged(w);
}
