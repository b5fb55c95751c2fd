/*
 * check_semantics.c - the user-visible semantics of a cart, example by
 * example: one test per row of the concurrency table (DESIGN.md §3 and
 * docs/semantics.md), the quantity rule, decrement, set-to-zero, and remove
 * and clear under a client's observed-context token, also at a peer that has
 * not received what the token covers.  Lines, dots and
 * limits are in test_sem_*.c.
 *
 * Every table row runs with two replicas of distinct ids.  The start state
 * is written on A and reaches B by replication; then A and B act
 * concurrently, exchange what they did (as deltas in order, as deltas
 * reversed and duplicated, or as full states), and both must show the
 * table's quantities, be crdt_cart_equal and encode to identical bytes.
 */
#include <check.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "tests/test_rng.h"
#include "tests/test_sem.h"
#include "tests/test_util.h"

enum sop_kind { SOP_END, SOP_ADD, SOP_SET, SOP_REMOVE, SOP_CLEAR };
typedef struct sop {
	enum sop_kind kind;
	const char *sku;
	uint32_t n;
} sop;

typedef struct want {
	const char *sku;
	uint32_t qty;       /* 0: no line */
} want;

typedef struct row {
	sop start[2], a[3], b[3];
	want want[3];
	unsigned lines;
} row;

#define MAX_DELTAS 4
enum { BY_DELTAS, BY_DELTAS_REVERSED_TWICE, BY_STATES, NMODES };

/* Applies ops to c as replica self, keeping each operation's delta. */
static size_t run_ops(crdt_cart *c, uint64_t self, const sop *ops, crdt_cart *d)
{
	size_t n = 0;
	for (; ops[n].kind != SOP_END; n++) {
		const sop *o = &ops[n];
		crdt_cart_init(&d[n]);
		if (o->kind == SOP_ADD)
			tu_add(c, self, o->sku, o->n, &d[n]);
		else if (o->kind == SOP_SET)
			tu_set(c, self, o->sku, o->n, &d[n]);
		else if (o->kind == SOP_REMOVE)
			tu_remove(c, o->sku, NULL, &d[n]);
		else
			tu_clear(c, NULL, &d[n]);
	}
	return n;
}

static void deliver(crdt_cart *to, crdt_cart *d, size_t n, int mode, const crdt_cart *state)
{
	if (mode == BY_STATES) {
		tu_join(to, state);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = mode == BY_DELTAS ? i : n - 1 - i;
		tu_join(to, &d[k]);
		if (mode == BY_DELTAS_REVERSED_TWICE)
			ck_assert_msg(!tu_join(to, &d[k]), "a duplicate delta changed the cart");
	}
}

static void free_all(crdt_cart *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crdt_cart_destroy(&d[i]);
}

static void check_want(const row *r, const crdt_cart *c, const char *who, int mode)
{
	for (const want *w = r->want; w->sku; w++)
		ck_assert_msg(tu_qty(c, w->sku) == w->qty, "replica %s (mode %d): %s is %u, want %u",
		              who, mode, w->sku, tu_qty(c, w->sku), w->qty);
	ck_assert_msg(c->n == r->lines, "replica %s (mode %d): %u lines, want %u", who, mode,
	              c->n, r->lines);
}

static void run_row_mode(const row *r, int mode)
{
	crdt_cart a, b, da[MAX_DELTAS], db[MAX_DELTAS];
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	size_t n = run_ops(&a, SEM_A, r->start, da);
	deliver(&b, da, n, BY_DELTAS, NULL);
	free_all(da, n);
	tu_assert_converged(&a, &b, "start state");

	size_t na = run_ops(&a, SEM_A, r->a, da);
	size_t nb = run_ops(&b, SEM_B, r->b, db);
	crdt_cart sa = tu_copy(&a), sb = tu_copy(&b);
	deliver(&b, da, na, mode, &sa);
	deliver(&a, db, nb, mode, &sb);
	check_want(r, &a, "A", mode);
	check_want(r, &b, "B", mode);
	tu_assert_converged(&a, &b, "after exchange");

	free_all(da, na);
	free_all(db, nb);
	crdt_cart_destroy(&sa);
	crdt_cart_destroy(&sb);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}

static void run_row(const row *r)
{
	for (int mode = 0; mode < NMODES; mode++)
		run_row_mode(r, mode);
}

#define X1 { { SOP_ADD, "X", 1 }, { SOP_END, NULL, 0 } }

START_TEST(row_add_add)
{
	static const row r = { X1, { { SOP_ADD, "X", 2 } }, { { SOP_ADD, "X", 3 } },
	                       { { "X", 6 } }, 1 };
	run_row(&r);
}
END_TEST

START_TEST(row_remove_add)
{
	static const row r = { X1, { { SOP_REMOVE, "X", 0 } }, { { SOP_ADD, "X", 1 } },
	                       { { "X", 1 } }, 1 };
	run_row(&r);
}
END_TEST

START_TEST(row_set_set)
{
	static const row r = { X1, { { SOP_SET, "X", 3 } }, { { SOP_SET, "X", 5 } },
	                       { { "X", 5 } }, 1 };
	run_row(&r);
}
END_TEST

START_TEST(row_set_add)
{
	static const row r = { X1, { { SOP_SET, "X", 5 } }, { { SOP_ADD, "X", 1 } },
	                       { { "X", 6 } }, 1 };
	run_row(&r);
}
END_TEST

START_TEST(row_remove_set)
{
	static const row r = { X1, { { SOP_REMOVE, "X", 0 } }, { { SOP_SET, "X", 4 } },
	                       { { "X", 4 } }, 1 };
	run_row(&r);
}
END_TEST

START_TEST(row_clear_add_other)
{
	static const row r = { X1, { { SOP_CLEAR, NULL, 0 } }, { { SOP_ADD, "Y", 1 } },
	                       { { "X", 0 }, { "Y", 1 } }, 1 };
	run_row(&r);
}
END_TEST

/*
 * Row 7: A adds X and removes it; a stale copy holding X:1 (the add's delta,
 * and a snapshot taken in between) turns up later, on B and back on A.  X
 * stays absent, and the stale copy is recognised as nothing new.
 */
START_TEST(row_stale_copy_after_remove)
{
	crdt_cart a, b, d_add, d_rm;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&d_add);
	crdt_cart_init(&d_rm);
	tu_add(&a, SEM_A, "X", 1, &d_add);
	crdt_cart snap = tu_copy(&a);
	tu_remove(&a, "X", NULL, &d_rm);
	ck_assert_uint_eq(tu_qty(&a, "X"), 0);

	tu_join(&b, &d_rm);                 /* the removal overtakes the add */
	ck_assert_msg(!tu_join(&b, &d_add), "stale add delta reported as a change on B");
	ck_assert_msg(!tu_join(&b, &snap), "stale snapshot reported as a change on B");
	ck_assert_msg(!tu_join(&a, &snap), "stale snapshot reported as a change on A");
	ck_assert_msg(!tu_join(&a, &d_add), "stale add delta reported as a change on A");
	ck_assert_uint_eq(tu_qty(&a, "X"), 0);
	ck_assert_uint_eq(tu_qty(&b, "X"), 0);
	ck_assert_uint_eq(a.n, 0);
	tu_assert_converged(&a, &b, "stale copy");
	crdt_cart_destroy(&snap);
	crdt_cart_destroy(&d_add);
	crdt_cart_destroy(&d_rm);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/* Same end state whatever the order: the add, the removal and the stale
 * snapshot delivered to a third replica in all six orders. */
START_TEST(row_stale_copy_any_order)
{
	crdt_cart a, d[3];
	crdt_cart_init(&a);
	crdt_cart_init(&d[0]);
	crdt_cart_init(&d[1]);
	tu_add(&a, SEM_A, "X", 1, &d[0]);
	d[2] = tu_copy(&a);
	tu_remove(&a, "X", NULL, &d[1]);
	static const int perm[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
	                                { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
	for (int p = 0; p < 6; p++) {
		crdt_cart c;
		crdt_cart_init(&c);
		for (int i = 0; i < 3; i++)
			tu_join(&c, &d[perm[p][i]]);
		ck_assert_msg(tu_qty(&c, "X") == 0, "order %d resurrected X", p);
		tu_assert_converged(&a, &c, "any order");
		crdt_cart_destroy(&c);
	}
	for (int i = 0; i < 3; i++)
		crdt_cart_destroy(&d[i]);
	crdt_cart_destroy(&a);
}
END_TEST

/* Quantity = max of live SETs + sum of live ADDs: three replicas set X
 * concurrently (3, 7, 5), two of them then add (+2, +4). */
START_TEST(qty_max_set_plus_sum_add)
{
	crdt_cart c[3], d[6];
	const uint64_t id[3] = { SEM_A, SEM_B, SEM_C };
	const uint32_t set[3] = { 3, 7, 5 };
	for (int i = 0; i < 3; i++) {
		crdt_cart_init(&c[i]);
		crdt_cart_init(&d[i]);
		crdt_cart_init(&d[i + 3]);
		tu_set(&c[i], id[i], "X", set[i], &d[i]);
	}
	tu_add(&c[0], id[0], "X", 2, &d[3]);
	tu_add(&c[1], id[1], "X", 4, &d[4]);
	ck_assert_uint_eq(tu_qty(&c[0], "X"), 5);
	ck_assert_uint_eq(tu_qty(&c[1], "X"), 11);
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 5; k++)
			tu_join(&c[i], &d[k]);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(tu_qty(&c[i], "X"), 7 + 2 + 4);
		ck_assert_uint_eq(tu_entries(&c[i], "X"), 5);
		tu_assert_converged(&c[0], &c[i], "three replicas");
	}
	for (int i = 0; i < 6; i++)
		crdt_cart_destroy(&d[i]);
	for (int i = 0; i < 3; i++)
		crdt_cart_destroy(&c[i]);
}
END_TEST

/* The sum is clamped at CRDT_MAX_QTY, also when each entry is within it;
 * the entries themselves keep their values. */
START_TEST(qty_clamped)
{
	crdt_cart a, b, da, db;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&da);
	crdt_cart_init(&db);
	tu_add(&a, SEM_A, "X", CRDT_MAX_QTY, &da);
	tu_add(&b, SEM_B, "X", CRDT_MAX_QTY, &db);
	tu_join(&a, &db);
	tu_join(&b, &da);
	ck_assert_uint_eq(tu_qty(&a, "X"), CRDT_MAX_QTY);
	ck_assert_uint_eq(tu_entries(&a, "X"), 2);
	tu_assert_converged(&a, &b, "clamped adds");
	tu_set(&a, SEM_A, "Y", CRDT_MAX_QTY, NULL);
	tu_add(&a, SEM_A, "Y", 1, NULL);
	ck_assert_uint_eq(tu_qty(&a, "Y"), CRDT_MAX_QTY);
	tu_add(&a, SEM_A, "Z", CRDT_MAX_QTY - 1, NULL);
	tu_add(&a, SEM_A, "Z", 1, NULL);
	ck_assert_uint_eq(tu_qty(&a, "Z"), CRDT_MAX_QTY);
	crdt_cart_destroy(&da);
	crdt_cart_destroy(&db);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/* Decrement is set(observed - 1): a concurrent add elsewhere still counts,
 * and two concurrent decrements of the same observation count once. */
START_TEST(decrement_is_set_observed_minus_one)
{
	crdt_cart a, b, d0, da, db;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&d0);
	crdt_cart_init(&da);
	crdt_cart_init(&db);
	tu_add(&a, SEM_A, "X", 5, &d0);
	tu_join(&b, &d0);
	tu_set(&a, SEM_A, "X", tu_qty(&a, "X") - 1, &da);
	tu_add(&b, SEM_B, "X", 2, &db);
	tu_join(&a, &db);
	tu_join(&b, &da);
	ck_assert_uint_eq(tu_qty(&a, "X"), 4 + 2);
	tu_assert_converged(&a, &b, "decrement vs add");

	tu_set(&a, SEM_A, "X", tu_qty(&a, "X") - 1, &da);
	tu_set(&b, SEM_B, "X", tu_qty(&b, "X") - 1, &db);
	tu_join(&a, &db);
	tu_join(&b, &da);
	ck_assert_uint_eq(tu_qty(&a, "X"), 5);
	tu_assert_converged(&a, &b, "decrement vs decrement");
	crdt_cart_destroy(&d0);
	crdt_cart_destroy(&da);
	crdt_cart_destroy(&db);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/* A cart with X written by two replicas, and Y. */
static void two_writer_cart(crdt_cart *c)
{
	crdt_cart other, d;
	crdt_cart_init(c);
	crdt_cart_init(&other);
	crdt_cart_init(&d);
	tu_add(c, SEM_A, "X", 2, NULL);
	tu_add(&other, SEM_B, "X", 3, &d);
	tu_join(c, &d);
	tu_add(c, SEM_A, "Y", 1, NULL);
	crdt_cart_destroy(&other);
	crdt_cart_destroy(&d);
}

START_TEST(set_zero_is_remove)
{
	crdt_cart c1, c2, d1, d2;
	two_writer_cart(&c1);
	c2 = tu_copy(&c1);
	crdt_cart_init(&d1);
	crdt_cart_init(&d2);
	tu_set(&c1, SEM_A, "X", 0, &d1);
	tu_remove(&c2, "X", NULL, &d2);
	ck_assert_uint_eq(tu_qty(&c1, "X"), 0);
	ck_assert_uint_eq(tu_qty(&c1, "Y"), 1);
	tu_assert_converged(&c1, &c2, "carts after set 0 / remove");
	tu_assert_converged(&d1, &d2, "deltas of set 0 / remove");
	ck_assert_uint_eq(d1.n, 0);
	ck_assert_uint_eq(crdt_ctx_count(&d1.ctx), 2);
	/* Setting an absent line to 0 changes nothing and uses no dot. */
	crdt_cart before = tu_copy(&c1);
	tu_set(&c1, SEM_A, "X", 0, &d1);
	tu_assert_empty(&d1, "set 0 of an absent line");
	tu_assert_converged(&c1, &before, "set 0 of an absent line");
	crdt_cart_destroy(&before);
	crdt_cart_destroy(&d1);
	crdt_cart_destroy(&d2);
	crdt_cart_destroy(&c1);
	crdt_cart_destroy(&c2);
}
END_TEST

/* A client's token as it travels: encoded, handed out, decoded again. */
static void read_token(const crdt_cart *c, crdt_ctx *tok)
{
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_ctx(&w, &c->ctx);
	crdt_ctx_init(tok);
	ck_assert_int_eq(crdt_ctx_from_bytes(w.data, w.len, tok), 0);
	buf_writer_destroy(&w);
}

START_TEST(remove_with_token_spares_unobserved_add)
{
	crdt_cart a, b, d, db;
	crdt_ctx tok;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&d);
	crdt_cart_init(&db);
	tu_add(&a, SEM_A, "X", 1, &d);
	tu_join(&b, &d);
	read_token(&a, &tok);               /* the client sees X:1 */
	tu_add(&b, SEM_B, "X", 2, &db);     /* an add the client never saw */
	tu_join(&a, &db);
	crdt_cart untokened = tu_copy(&a);

	tu_remove(&a, "X", &tok, &d);
	ck_assert_uint_eq(tu_qty(&a, "X"), 2);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(crdt_ctx_count(&d.ctx), 1);
	ck_assert(crdt_ctx_contains(&d.ctx, (crdt_dot){ SEM_A, 1 }));
	tu_join(&b, &d);
	ck_assert_uint_eq(tu_qty(&b, "X"), 2);
	tu_assert_converged(&a, &b, "remove with token");

	tu_remove(&untokened, "X", NULL, &d);   /* the peer's own view: both go */
	ck_assert_uint_eq(tu_qty(&untokened, "X"), 0);
	crdt_ctx_destroy(&tok);
	crdt_cart_destroy(&untokened);
	crdt_cart_destroy(&d);
	crdt_cart_destroy(&db);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

START_TEST(clear_with_token_spares_unobserved_adds)
{
	crdt_cart a, b, d1, d2, dx, dz;
	crdt_ctx tok;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&d1);
	crdt_cart_init(&d2);
	crdt_cart_init(&dx);
	crdt_cart_init(&dz);
	tu_add(&a, SEM_A, "X", 1, &d1);
	tu_add(&a, SEM_A, "Y", 1, &d2);
	tu_join(&b, &d1);
	tu_join(&b, &d2);
	read_token(&b, &tok);               /* read from B, written to A */
	tu_add(&b, SEM_B, "Z", 1, &dz);
	tu_add(&b, SEM_B, "X", 4, &dx);
	tu_join(&a, &dz);
	tu_join(&a, &dx);
	tu_clear(&a, &tok, &d1);
	ck_assert_uint_eq(tu_qty(&a, "X"), 4);
	ck_assert_uint_eq(tu_qty(&a, "Y"), 0);
	ck_assert_uint_eq(tu_qty(&a, "Z"), 1);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_uint_eq(crdt_ctx_count(&d1.ctx), 2);
	tu_join(&b, &d1);
	tu_assert_converged(&a, &b, "clear with token");
	tu_clear(&a, NULL, &d1);
	ck_assert_uint_eq(a.n, 0);
	crdt_ctx_destroy(&tok);
	crdt_cart_destroy(&d1);
	crdt_cart_destroy(&d2);
	crdt_cart_destroy(&dx);
	crdt_cart_destroy(&dz);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/*
 * A token read on B that covers an entry A has not received yet: A removes
 * what it holds and the token covers, and nothing else, so the entry
 * survives when it arrives (documented in docs/semantics.md: a token covers
 * only what the peer that applies it has too).
 */
/* Read at B (the token covers a1 and b1), remove at A, which has not yet
 * received b1: the remove reaches b1 when it arrives, at every peer, in
 * either order (docs/semantics.md §5, "removes reach what the client saw"). */
START_TEST(token_remove_reaches_writes_not_yet_received)
{
	crdt_cart a, b, c, d, db;
	crdt_ctx tok;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&c);
	crdt_cart_init(&d);
	crdt_cart_init(&db);
	tu_add(&a, SEM_A, "X", 1, &d);
	tu_join(&b, &d);
	tu_join(&c, &d);
	tu_add(&b, SEM_B, "X", 2, &db);
	read_token(&b, &tok);               /* covers a1 and b1 */
	tu_remove(&a, "X", &tok, &d);       /* A has only a1 */
	ck_assert_uint_eq(tu_qty(&a, "X"), 0);
	ck_assert_ptr_nonnull(d.defer);     /* b1 is deferred for line X */
	ck_assert(crdt_ctx_contains(&d.defer->v[0].dots, (crdt_dot){ SEM_B, 1 }));
	tu_join(&a, &db);                   /* b1 arrives at A: dropped */
	ck_assert_uint_eq(tu_qty(&a, "X"), 0);
	ck_assert_ptr_null(a.defer);        /* settled: b1 is in the context */
	tu_join(&b, &d);                    /* the remove arrives at B, which holds b1 */
	ck_assert_uint_eq(tu_qty(&b, "X"), 0);
	tu_join(&c, &d);                    /* C: the remove first, then b1 */
	ck_assert_ptr_nonnull(c.defer);
	tu_join(&c, &db);
	ck_assert_uint_eq(tu_qty(&c, "X"), 0);
	tu_assert_converged(&a, &b, "token remove at a lagging peer");
	tu_assert_converged(&a, &c, "token remove at a lagging peer, third replica");
	crdt_ctx_destroy(&tok);
	crdt_cart_destroy(&c);
	crdt_cart_destroy(&d);
	crdt_cart_destroy(&db);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/* The deferred remove belongs to its line: the token also covers y1, an add
 * to another line that A has not received, and y1 survives everywhere
 * (merging the token into A's context would have dropped it). */
START_TEST(token_remove_spares_other_lines_not_yet_received)
{
	crdt_cart a, b, d, dy;
	crdt_ctx tok;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&d);
	crdt_cart_init(&dy);
	tu_add(&a, SEM_A, "X", 1, &d);
	tu_join(&b, &d);
	tu_add(&b, SEM_B, "Y", 1, &dy);
	read_token(&b, &tok);               /* covers a1 (X) and y1 (Y) */
	tu_remove(&a, "X", &tok, &d);
	tu_join(&a, &dy);
	tu_join(&b, &d);
	ck_assert_uint_eq(tu_qty(&a, "X"), 0);
	ck_assert_uint_eq(tu_qty(&a, "Y"), 1);
	ck_assert_uint_eq(tu_qty(&b, "Y"), 1);
	ck_assert_ptr_null(a.defer);
	tu_assert_converged(&a, &b, "token remove of X spares Y");
	crdt_ctx_destroy(&tok);
	crdt_cart_destroy(&d);
	crdt_cart_destroy(&dy);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/* A clear under a token takes every line the client saw, received or not,
 * and nothing added after the read. */
START_TEST(token_clear_reaches_writes_not_yet_received)
{
	crdt_cart a, b, d, dy, dz;
	crdt_ctx tok;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_cart_init(&d);
	crdt_cart_init(&dy);
	crdt_cart_init(&dz);
	tu_add(&a, SEM_A, "X", 1, &d);
	tu_join(&b, &d);
	tu_add(&b, SEM_B, "Y", 1, &dy);
	read_token(&b, &tok);               /* X and Y */
	tu_add(&b, SEM_B, "Z", 1, &dz);     /* after the read */
	tu_clear(&a, &tok, &d);             /* A lacks y1 */
	tu_join(&a, &dy);
	tu_join(&a, &dz);
	tu_join(&b, &d);
	ck_assert_uint_eq(tu_qty(&a, "X") + tu_qty(&a, "Y"), 0);
	ck_assert_uint_eq(tu_qty(&a, "Z"), 1);
	tu_assert_converged(&a, &b, "token clear at a lagging peer");
	crdt_ctx_destroy(&tok);
	crdt_cart_destroy(&d);
	crdt_cart_destroy(&dy);
	crdt_cart_destroy(&dz);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

/* A token naming the applying replica's own dots beyond those it made would
 * swallow its next writes: the store refuses it and changes nothing. */
START_TEST(token_naming_own_future_writes_refused)
{
	crdt_store *s = NULL;
	ck_assert_int_eq(crdt_store_new(4, &s), 0);
	crdt_op add = { CRDT_OP_ADD, "X", 1, 1, NULL, NULL, 0 };
	ck_assert_int_eq(crdt_store_apply(s, "c", 1, SEM_A, &add, NULL), 0);
	crdt_ctx tok;
	crdt_ctx_init(&tok);
	ck_assert_int_eq(crdt_ctx_add_range(&tok, SEM_A, 1, 2), 0);
	crdt_op rm = { CRDT_OP_REMOVE, "X", 1, 0, &tok, NULL, 0 };
	crdt_item before, after;
	ck_assert_int_eq(crdt_store_get(s, "c", 1, &before), 0);
	uint64_t digest = crdt_store_digest(s, &before);
	ck_assert_int_eq(crdt_store_apply(s, "c", 1, SEM_A, &rm, NULL), CARTD_ETOKENFUTURE);
	rm.kind = CRDT_OP_CLEAR;
	ck_assert_int_eq(crdt_store_apply(s, "c", 1, SEM_A, &rm, NULL), CARTD_ETOKENFUTURE);
	ck_assert_int_eq(crdt_store_apply(s, "new", 3, SEM_A, &rm, NULL), CARTD_ETOKENFUTURE);
	ck_assert_int_eq(crdt_store_get(s, "c", 1, &after), 0);
	ck_assert_uint_eq(crdt_store_digest(s, &after), digest);
	ck_assert_int_eq(crdt_store_get(s, "new", 3, &after), CARTD_ENOTFOUND);
	/* Another replica may apply it: those are A's real writes to come. */
	rm.kind = CRDT_OP_REMOVE;
	ck_assert_int_eq(crdt_store_apply(s, "c", 1, SEM_B, &rm, NULL), 0);
	crdt_ctx_destroy(&tok);
	crdt_store_free(s);
}
END_TEST

/* Fills d with something, so tests see that a delta is replaced. */
static void dirty(crdt_cart *d)
{
	crdt_cart_destroy(d);
	tu_add(d, 99, "junk", 9, NULL);
}

/* Each operation's delta is exactly its new entry plus the dots it removed. */
START_TEST(delta_contents)
{
	crdt_cart c, d;
	two_writer_cart(&c);                /* X: A+2 (a1), B+3 (b1); Y: a2 */
	crdt_cart_init(&d);
	dirty(&d);
	tu_add(&c, SEM_A, "X", 4, &d);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.lines[0].n, 1);
	const crdt_entry *e = crdt_line_entries(&d.lines[0]);
	ck_assert_uint_eq(crdt_entry_kind(e), CRDT_ADD);
	ck_assert_uint_eq(crdt_entry_value(e), 4);
	ck_assert_uint_eq(crdt_entry_counter(e), 3);
	ck_assert_uint_eq(e->replica, SEM_A);
	ck_assert_uint_eq(crdt_ctx_count(&d.ctx), 1);

	dirty(&d);
	tu_set(&c, SEM_A, "X", 8, &d);      /* replaces a1, b1, a3 */
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(crdt_entry_kind(crdt_line_entries(&d.lines[0])), CRDT_SET);
	ck_assert_uint_eq(crdt_ctx_count(&d.ctx), 4);
	ck_assert(crdt_ctx_contains(&d.ctx, (crdt_dot){ SEM_B, 1 }));

	dirty(&d);
	tu_remove(&c, "Q", NULL, &d);       /* no such line: nothing to do */
	tu_assert_empty(&d, "remove of an absent line");
	tu_clear(&c, NULL, &d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(crdt_ctx_count(&d.ctx), 2);   /* a2 (Y) and a4 (X) */
	ck_assert(crdt_ctx_contains(&d.ctx, (crdt_dot){ SEM_A, 2 }));
	ck_assert(crdt_ctx_contains(&d.ctx, (crdt_dot){ SEM_A, 4 }));
	dirty(&d);
	tu_clear(&c, NULL, &d);
	tu_assert_empty(&d, "clear of an empty cart");
	ck_assert_uint_eq(c.n, 0);
	ck_assert_uint_eq(crdt_ctx_count(&c.ctx), 5);   /* a1..a4, b1 */
	crdt_cart_destroy(&d);
	crdt_cart_destroy(&c);
}
END_TEST

Suite *semantics_suite(void);

Suite *semantics_suite(void)
{
	Suite *s = suite_create("semantics");
	TCase *tc = tcase_create("table");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, row_add_add);
	tcase_add_test(tc, row_remove_add);
	tcase_add_test(tc, row_set_set);
	tcase_add_test(tc, row_set_add);
	tcase_add_test(tc, row_remove_set);
	tcase_add_test(tc, row_clear_add_other);
	tcase_add_test(tc, row_stale_copy_after_remove);
	tcase_add_test(tc, row_stale_copy_any_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, qty_max_set_plus_sum_add);
	tcase_add_test(tc, qty_clamped);
	tcase_add_test(tc, decrement_is_set_observed_minus_one);
	tcase_add_test(tc, set_zero_is_remove);
	tcase_add_test(tc, remove_with_token_spares_unobserved_add);
	tcase_add_test(tc, clear_with_token_spares_unobserved_adds);
	tcase_add_test(tc, token_remove_reaches_writes_not_yet_received);
	tcase_add_test(tc, token_remove_spares_other_lines_not_yet_received);
	tcase_add_test(tc, token_clear_reaches_writes_not_yet_received);
	tcase_add_test(tc, token_naming_own_future_writes_refused);
	tcase_add_test(tc, delta_contents);
	suite_add_tcase(s, tc);

	suite_add_tcase(s, sem_lines_tcase());
	suite_add_tcase(s, sem_dots_tcase());
	suite_add_tcase(s, sem_limits_tcase());
	return s;
}
