/*
 * fuzz_codec.c - libFuzzer harness for the cart and context decoders
 * (crdt_cart_from_bytes, crdt_ctx_from_bytes).
 *
 * Every input goes to both decoders.  A failed decode must leave the output
 * empty.  A successful one must be canonical (re-encodes to exactly the
 * input, encoded_size agrees), satisfy crdt_cart_valid / crdt_ctx_valid,
 * and behave as a state: joining it into an empty cart gives it back,
 * joining it into itself or a copy changes nothing, joining it into a fixed
 * local cart gives a valid cart on which a second join changes nothing, its
 * split pieces fit their budget and rebuild it, and the local mutators, a
 * keyed add and a checkout work on it (or fail with a limit error or a
 * refusal) keeping it valid.
 *
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
	do {                                                                     \
		if (!(cond)) {                                                       \
			fprintf(stderr, "fuzz_codec: check failed: %s (%s:%d)\n", #cond, \
			        __FILE__, __LINE__);                                     \
			abort();                                                         \
		}                                                                    \
	} while (0)

static bool same_cart_bytes(const crdt_cart *c, const uint8_t *data, size_t size)
{
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, c);
	bool same = w.err == 0 && w.len == size && (size == 0 || memcmp(w.data, data, size) == 0);
	buf_writer_destroy(&w);
	return same;
}

/* Joins src into dst; returns the changed flag. */
static bool join(crdt_cart *dst, const crdt_cart *src)
{
	bool changed = false;
	CHECK(crdt_cart_join(dst, src, &changed) == 0);
	CHECK(crdt_cart_valid(dst));
	return changed;
}

/* Joins src into dst and checks dst did not change.  (Content, not the
 * changed flag: see the props suite's join_changed_flag_exact.) */
static void join_stable(crdt_cart *dst, const crdt_cart *src)
{
	crdt_cart before;
	crdt_cart_init(&before);
	CHECK(crdt_cart_copy(&before, dst) == 0);
	join(dst, src);
	CHECK(crdt_cart_equal(dst, &before));
	crdt_cart_destroy(&before);
}

static void check_joins(const crdt_cart *c)
{
	crdt_cart e, copy, local;
	crdt_cart_init(&e);
	crdt_cart_init(&copy);
	crdt_cart_init(&local);
	CHECK(join(&e, c) == !crdt_cart_empty(c));
	CHECK(crdt_cart_equal(&e, c));
	CHECK(crdt_cart_copy(&copy, c) == 0);
	CHECK(!join(&copy, c));
	CHECK(!join(&copy, &copy));
	CHECK(crdt_cart_equal(&copy, c));
	/* A small local cart, perhaps sharing replicas, skus and dots. */
	CHECK(crdt_cart_add(&local, 1, "a", 1, 3, NULL) == 0);
	CHECK(crdt_cart_set(&local, 2, "b", 1, 5, NULL) == 0);
	CHECK(crdt_cart_add(&local, 1, "a", 1, 1, NULL) == 0);
	CHECK(crdt_cart_remove(&local, "b", 1, NULL, NULL) == 0);
	join(&local, c);
	join_stable(&local, c);
	crdt_cart_destroy(&e);
	crdt_cart_destroy(&copy);
	crdt_cart_destroy(&local);
}

static void check_split(const crdt_cart *c, size_t budget)
{
	crdt_cart *p = NULL, all;
	size_t n = 0;
	CHECK(crdt_cart_split(c, budget, &p, &n) == 0);
	crdt_cart_init(&all);
	for (size_t i = 0; i < n; i++) {
		CHECK(crdt_cart_valid(&p[i]));
		CHECK(crdt_cart_encoded_size(&p[i]) <= budget);
		join(&all, &p[i]);
	}
	CHECK(crdt_cart_equal(&all, c));
	crdt_cart_destroy(&all);
	crdt_pieces_free(p, n);
}

/* The mutators on a decoded state: success or a limit, never a bad cart. */
static void check_ops(const crdt_cart *c)
{
	crdt_cart m, d;
	crdt_cart_init(&m);
	crdt_cart_init(&d);
	CHECK(crdt_cart_copy(&m, c) == 0);
	int rc = crdt_cart_add(&m, 1, "a", 1, 2, &d);
	CHECK(rc == 0 || rc == CARTD_ECOUNTER || rc == CARTD_ELINES);
	CHECK(crdt_cart_valid(&m) && crdt_cart_valid(&d));
	rc = crdt_cart_set(&m, UINT64_MAX, "a", 1, 7, &d);
	CHECK(rc == 0 || rc == CARTD_ECOUNTER || rc == CARTD_ELINES);
	CHECK(crdt_cart_valid(&m) && crdt_cart_valid(&d));
	/* A keyed add and a checkout, as a peer makes them (its records and
	 * markers may already hold anything the decoder accepts). */
	crdt_keyrec k = { .hash = { 7 }, .dot = { 0xD0D0, 5 }, .at_ms = UINT64_C(1) << 40,
	                  .until_ms = UINT64_MAX };
	crdt_op kop = { CRDT_OP_ADD, "k", 1, 1, NULL, &k, 0 };
	rc = crdt_cart_apply(&m, 3, &kop, &d);
	CHECK(rc == 0 || rc == CARTD_EIDEMPOTENT || rc == CARTD_EKEYREUSED ||
	      rc == CARTD_ECLOSED || rc == CARTD_ELINES || rc == CARTD_ELINEFULL);
	CHECK(crdt_cart_valid(&m) && crdt_cart_valid(&d));
	crdt_op close = { CRDT_OP_CLOSE, NULL, 0, 0, NULL, NULL, UINT64_MAX };
	rc = crdt_cart_apply(&m, 4, &close, &d);
	CHECK(rc == 0 || rc == CARTD_ECLOSED || rc == CARTD_EEMPTYCART || rc == CARTD_ECOUNTER ||
	      rc == CARTD_ELIMIT);
	CHECK(crdt_cart_valid(&m) && crdt_cart_valid(&d));
	if (rc == 0) {
		crdt_cart late;
		crdt_cart_init(&late);
		CHECK(crdt_cart_late_added(&m, &late) == 0);
		for (uint32_t i = 0; i < crdt_cart_ncloses(&m); i++)
			CHECK(crdt_close_late_removed(&m, &m.closes->v[i], &late) == 0);
		crdt_cart_destroy(&late);
	}
	if (c->n > 0) {
		const crdt_line *l = &c->lines[0];
		CHECK(crdt_cart_remove(&m, crdt_line_sku(l), l->sku_len, &c->ctx, &d) == 0);
		CHECK(crdt_cart_find(&m, crdt_line_sku(l), l->sku_len) == NULL ||
		      crdt_cart_find(&m, crdt_line_sku(l), l->sku_len)->n > 0);
	}
	CHECK(crdt_cart_clear(&m, &c->ctx, &d) == 0);
	CHECK(crdt_cart_valid(&m) && crdt_cart_valid(&d));
	join_stable(&m, c);                 /* everything of c is now removed */
	crdt_cart_destroy(&m);
	crdt_cart_destroy(&d);
}

static void fuzz_cart(const uint8_t *data, size_t size)
{
	crdt_cart c;
	crdt_cart_init(&c);
	int rc = crdt_cart_from_bytes(data, size, &c);
	if (rc != 0) {
		CHECK(rc < 0 && crdt_cart_empty(&c));
		return;
	}
	CHECK(crdt_cart_valid(&c));
	CHECK(same_cart_bytes(&c, data, size));
	CHECK(crdt_cart_encoded_size(&c) == size);
	check_joins(&c);
	check_split(&c, CRDT_MIN_PIECE_BUDGET + (size % 1024));
	check_ops(&c);
	crdt_cart_destroy(&c);
}

static void fuzz_ctx(const uint8_t *data, size_t size)
{
	crdt_ctx c, copy, both;
	crdt_ctx_init(&c);
	crdt_ctx_init(&copy);
	crdt_ctx_init(&both);
	int rc = crdt_ctx_from_bytes(data, size, &c);
	if (rc != 0) {
		CHECK(rc < 0 && crdt_ctx_empty(&c));
		return;
	}
	CHECK(crdt_ctx_valid(&c));
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_ctx(&w, &c);
	CHECK(w.err == 0 && w.len == size && memcmp(w.data, data, size) == 0);
	CHECK(crdt_ctx_encoded_size(&c) == size);
	buf_writer_destroy(&w);
	CHECK(crdt_ctx_copy(&copy, &c) == 0);
	CHECK(crdt_ctx_join(&copy, &c) == 0 && crdt_ctx_equal(&copy, &c));
	CHECK(crdt_ctx_intersect(&both, &c, &copy) == 0 && crdt_ctx_equal(&both, &c));
	crdt_ctx_destroy(&c);
	crdt_ctx_destroy(&copy);
	crdt_ctx_destroy(&both);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_cart(data, size);
	fuzz_ctx(data, size);
	return 0;
}
