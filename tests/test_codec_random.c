/*
 * test_codec_random.c - codec suite, random inputs: random valid states
 * (from the model universe, test_world.h) truncated at every byte must fail
 * with CARTD_ETRUNC or CARTD_ELIMIT and an empty output; randomly mutated
 * encodings must either fail with an empty output or decode to a valid cart
 * that re-encodes to exactly the input (the decoder accepts only canonical
 * bytes).
 */
#include <check.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "tests/test_codec.h"
#include "tests/test_util.h"
#include "tests/test_world.h"

#define CODEC_CASES 5000u

/* Encodings of a few random states of one universe. */
static size_t random_encodings(test_rng *rng, tb *out, size_t max)
{
	tw w;
	tw_init(&w, rng, (unsigned)test_rng_range(rng, 2, TM_MAX_REPLICAS));
	w.check = false;
	size_t n = 0;
	for (; n < max; n++) {
		for (unsigned i = (unsigned)test_rng_range(rng, 0, 30); i > 0; i--)
			tw_step(&w);
		tb_init(&out[n]);
		tu_encode(&w.cart[test_rng_below(rng, w.n)], &out[n]);
	}
	tw_destroy(&w);
	return n;
}

static void check_truncations(const tb *b)
{
	crdt_cart c;
	crdt_ctx x;
	crdt_cart_init(&c);
	crdt_ctx_init(&x);
	size_t ctx_len = 0;
	buf_reader r;
	buf_reader_init(&r, b->p, b->len);
	T_ASSERT(crdt_decode_ctx(&r, &x) == 0, "context part does not decode");
	ctx_len = (size_t)(r.p - b->p);
	for (size_t len = 0; len < b->len; len++) {
		int rc = crdt_cart_from_bytes(b->p, len, &c);
		T_ASSERT(rc == CARTD_ETRUNC || rc == CARTD_ELIMIT,
		         "cart cut to %zu of %zu bytes: got %d", len, b->len, rc);
		T_ASSERT(crdt_cart_empty(&c), "output not empty after truncation");
		if (len >= ctx_len)
			continue;
		rc = crdt_ctx_from_bytes(b->p, len, &x);
		T_ASSERT(rc == CARTD_ETRUNC || rc == CARTD_ELIMIT,
		         "context cut to %zu of %zu bytes: got %d", len, ctx_len, rc);
		T_ASSERT(crdt_ctx_empty(&x), "context output not empty after truncation");
	}
	crdt_cart_destroy(&c);
	crdt_ctx_destroy(&x);
}

static void truncation_case(test_rng *rng, void *arg)
{
	(void)arg;
	tb enc[3];
	size_t n = random_encodings(rng, enc, 3);
	for (size_t i = 0; i < n; i++) {
		check_truncations(&enc[i]);
		tb_free(&enc[i]);
	}
}

START_TEST(truncated_at_every_byte)
{
	test_run_cases("truncated_at_every_byte", CODEC_CASES / 3, truncation_case, NULL);
}
END_TEST

static void mutate(test_rng *rng, tb *b)
{
	unsigned k = (unsigned)test_rng_below(rng, 4);
	size_t at = (size_t)test_rng_below(rng, b->len);
	if (k == 0) {
		b->p[at] ^= (uint8_t)(1u << test_rng_below(rng, 8));
	} else if (k == 1) {
		b->p[at] = (uint8_t)test_rng_next(rng);
	} else if (k == 2 && b->len > 1) {
		memmove(b->p + at, b->p + at + 1, b->len - at - 1);
		b->len--;
	} else {
		tb_u8(b, 0);
		memmove(b->p + at + 1, b->p + at, b->len - at - 1);
		b->p[at] = (uint8_t)test_rng_next(rng);
	}
}

/* Decodes b: an error leaves the output empty; success means canonical. */
static void decode_strictly(const tb *b)
{
	crdt_cart c;
	crdt_cart_init(&c);
	int rc = crdt_cart_from_bytes(b->p, b->len, &c);
	if (rc) {
		T_ASSERT(crdt_cart_empty(&c), "output not empty after error %d", rc);
		T_ASSERT((rc <= CARTD_ETRUNC && rc >= CARTD_ETOKEN) || rc == CARTD_ESKU,
		         "unexpected decode error %d (%s)", rc, cartd_errname(rc));
		return;
	}
	T_ASSERT(crdt_cart_valid(&c), "decoded cart is not valid");
	tb again;
	tb_init(&again);
	tu_encode(&c, &again);
	bool same = again.len == b->len && memcmp(again.p, b->p, b->len) == 0;
	tb_free(&again);
	crdt_cart_destroy(&c);
	T_ASSERT(same, "accepted a non-canonical encoding %s", tb_hex(b->p, b->len));
}

static void mutation_case(test_rng *rng, void *arg)
{
	(void)arg;
	tb enc[2];
	size_t n = random_encodings(rng, enc, 2);
	for (size_t i = 0; i < n; i++) {
		for (unsigned t = 0; t < 20; t++) {
			tb m;
			tb_init(&m);
			tb_raw(&m, enc[i].p, enc[i].len);
			for (unsigned k = (unsigned)test_rng_range(rng, 1, 3); k > 0; k--)
				mutate(rng, &m);
			decode_strictly(&m);
			tb_free(&m);
		}
		tb_free(&enc[i]);
	}
}

START_TEST(mutated_encodings)
{
	test_run_cases("mutated_encodings", CODEC_CASES, mutation_case, NULL);
}
END_TEST

TCase *codec_random_tcase(void)
{
	TCase *tc = tcase_create("random");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, truncated_at_every_byte);
	tcase_add_test(tc, mutated_encodings);
	return tc;
}
