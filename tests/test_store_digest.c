/*
 * test_store_digest.c - the store's cart digest, hashed a window at a time
 * as it is written out (crdt/store_digest.c), against its definition
 * (crdt/store.h) computed the plain way: the input laid out whole by the
 * codec's contiguous encoder, then one SipHash.  The cart grows one
 * operation at a time past several windows, with a 128-byte id, 128-byte
 * skus, contexts of many ranges at the largest counters, deferred removes,
 * idempotency records and a close marker that freezes every line, so the
 * window drains at every offset and inside every kind of piece.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/context.h"
#include "crdt/error.h"
#include "crdt/siphash.h"
#include "crdt/store.h"
#include "crdt/store_digest.h"
#include "tests/test_store.h"

#define DAY_MS UINT64_C(86400000)

/* The store's public digest key, as store.h defines the digest. */
static const unsigned char digest_key[16] = "cartd-digest-v2";

/* str(id), the context's encoding, the entry sum, then the deferred
 * removes and the marks: the cart's own encoding without its lines. */
static uint64_t digest_oracle(const char *id, size_t id_len, const crdt_cart *c, size_t *in_len)
{
	buf_writer all, in;
	buf_writer_init(&all);
	buf_writer_init(&in);
	crdt_encode_cart(&all, c);
	size_t ctx_len = crdt_ctx_encoded_size(&c->ctx);
	size_t lines_len = buf_varint_size(c->n);
	for (uint32_t i = 0; i < c->n; i++)
		lines_len += crdt_line_encoded_size(&c->lines[i]);
	ck_assert_uint_eq(all.err, 0);
	ck_assert_uint_ge(all.len, ctx_len + lines_len);
	buf_put_str(&in, id, id_len);
	buf_put_bytes(&in, all.data, ctx_len);
	buf_put_u64le(&in, store_cart_sum(c));
	buf_put_bytes(&in, all.data + ctx_len + lines_len, all.len - ctx_len - lines_len);
	ck_assert_uint_eq(in.err, 0);
	uint64_t d = siphash24(siphash_key_from(digest_key), in.data, in.len);
	*in_len = in.len;
	buf_writer_destroy(&all);
	buf_writer_destroy(&in);
	return d;
}

static void check_digest(const char *id, const crdt_cart *c, const char *step, int i,
                         size_t *max_in)
{
	size_t in_len;
	uint64_t want = digest_oracle(id, strlen(id), c, &in_len);
	uint64_t got = crdt_store_cart_digest(id, strlen(id), c);
	ck_assert_msg(got == want, "%s %d (input %zu bytes, id %zu bytes): %016llx, defined %016llx",
	              step, i, in_len, strlen(id), (unsigned long long)got,
	              (unsigned long long)want);
	if (in_len > *max_in)
		*max_in = in_len;
}

static void apply(crdt_cart *c, uint64_t self, const crdt_op *op)
{
	int rc = crdt_cart_apply(c, self, op, NULL);
	ck_assert_msg(rc == 0, "op kind %d: %s", (int)op->kind, cartd_strerror(rc));
}

/* A 128-byte name ending in the number k, or a short one. */
static void name(char *out, size_t cap, int k, bool long_name)
{
	if (long_name) {
		memset(out, 'n', CRDT_MAX_NAME);
		out[CRDT_MAX_NAME] = '\0';
		char tail[16];
		int w = snprintf(tail, sizeof tail, "%d", k);
		memcpy(out + CRDT_MAX_NAME - w, tail, (size_t)w);
	} else {
		snprintf(out, cap, "s%d", k);
	}
}

static void grow_and_check(const char *id)
{
	static const uint64_t replicas[] = { 1, UINT64_C(0xffffffff), UINT64_C(0x100000000),
	                                     UINT64_MAX };
	crdt_cart c;
	char sku[CRDT_MAX_NAME + 1];
	size_t max_in = 0;
	crdt_cart_init(&c);
	check_digest(id, &c, "empty", 0, &max_in);

	/* Lines, some under long skus, and keyed adds (records). */
	for (int i = 0; i < 120; i++) {
		name(sku, sizeof sku, i % 40, i % 3 == 0);
		crdt_keyrec k;
		memset(&k, 0, sizeof k);
		memset(k.hash, i, sizeof k.hash);
		k.dot = (crdt_dot){ UINT64_C(0xD0) << 56 | (uint64_t)i, 1 };
		k.at_ms = UINT64_C(1) << 40;
		k.until_ms = k.at_ms + DAY_MS;
		crdt_op op = { CRDT_OP_ADD, sku, strlen(sku), (uint32_t)(i + 1),
		               NULL, i % 4 == 1 ? &k : NULL, 0 };
		apply(&c, replicas[i % 4], &op);
		check_digest(id, &c, "add", i, &max_in);
	}
	/* Context ranges with gaps, up to the largest counter. */
	for (int i = 0; i < 60; i++) {
		uint64_t hi = CRDT_MAX_COUNTER - (uint64_t)i * 1000;
		ck_assert_int_eq(crdt_ctx_add_range(&c.ctx, replicas[i % 4], hi - 10, hi), 0);
		check_digest(id, &c, "range", i, &max_in);
	}
	/* Removes under tokens that saw dots this replica has not: deferred
	 * removes, each with its own ranges. */
	for (int i = 0; i < 30; i++) {
		crdt_ctx seen;
		crdt_ctx_init(&seen);
		for (int r = 0; r < 5; r++)
			ck_assert_int_eq(crdt_ctx_add_range(&seen, UINT64_C(7000) + (uint64_t)r,
			                                    (uint64_t)i * 10 + 1,
			                                    (uint64_t)i * 10 + 3), 0);
		name(sku, sizeof sku, 1000 + i, i % 2 == 0);
		crdt_op op = { CRDT_OP_REMOVE, sku, strlen(sku), 0, &seen, NULL, 0 };
		apply(&c, 1, &op);
		crdt_ctx_destroy(&seen);
		check_digest(id, &c, "deferred remove", i, &max_in);
	}
	/* Checkout: a marker that freezes every line, entry by entry. */
	crdt_op close = { CRDT_OP_CLOSE, NULL, 0, 0, NULL, NULL, UINT64_C(1) << 41 };
	apply(&c, 2, &close);
	check_digest(id, &c, "close", 0, &max_in);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(crdt_ctx_add_range(&c.ctx, 9000 + (uint64_t)i, 1, 1 + (uint64_t)i), 0);
		check_digest(id, &c, "range after close", i, &max_in);
	}
	ck_assert_uint_gt(crdt_cart_ndefer(&c), 0);
	ck_assert_uint_gt(crdt_cart_nkeys(&c), 0);
	ck_assert_uint_eq(crdt_cart_ncloses(&c), 1);
	/* Past several windows of the store's 512 bytes. */
	ck_assert_uint_gt(max_in, 8 * 512);
	crdt_cart_destroy(&c);
}

START_TEST(digest_streamed_as_defined)
{
	char id[CRDT_MAX_NAME + 1];
	memset(id, 'c', CRDT_MAX_NAME);
	id[CRDT_MAX_NAME] = '\0';
	grow_and_check(id);
	grow_and_check("c");
	grow_and_check("cart-12345");
}
END_TEST

TCase *store_digest_tcase(void)
{
	TCase *tc = tcase_create("digest_stream");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, digest_streamed_as_defined);
	return tc;
}
