/*
 * check_idem.c - the Idempotency-Key header grammar and the derivation of
 * a keyed write's record (app/shared/idem.h): what is a key, at its boundaries,
 * and that every attempt of one request gets the same dot while any other
 * request gets another.
 */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/shared/idem.h"
#include "crdt/error.h"

Suite *idem_suite(void);

static int parse(const char *v, char *out, size_t *n)
{
	return idem_parse(v, strlen(v), out, n);
}

static void expect_key(const char *header, const char *want, size_t want_len)
{
	char out[IDEM_KEY_MAX];
	size_t n = 99;
	int rc = parse(header, out, &n);
	ck_assert_msg(rc == 0, "[%s] refused", header);
	ck_assert_msg(n == want_len && memcmp(out, want, n) == 0, "[%s]: key of %zu bytes",
	              header, n);
}

static void expect_bad(const char *header)
{
	char out[IDEM_KEY_MAX];
	size_t n = 99;
	ck_assert_msg(parse(header, out, &n) == CARTD_EINVAL, "[%s] accepted", header);
	ck_assert_uint_eq(n, 0);
}

START_TEST(test_header_strings_and_tokens)
{
	expect_key("\"k1\"", "k1", 2);
	expect_key("k1", "k1", 2);
	expect_key("  \"k1\"\t", "k1", 2);              /* OWS around the item */
	expect_key("\"a b,c;d=e\"", "a b,c;d=e", 9);      /* inside quotes anything printable */
	expect_key("\"a\\\"b\\\\c\"", "a\"b\\c", 5);      /* the two escapes */
	expect_key("\"~\"", "~", 1);
	expect_key("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324", 36);
	expect_key("a._~:@/+=-Z9", "a._~:@/+=-Z9", 12);
}
END_TEST

START_TEST(test_header_malformed)
{
	static const char *const bad[] = {
		"", "   ", "\"\"", "\"", "\"abc", "abc\"", "\"a\"b", "\"a\" \"b\"",
		"\"a\";p=1", "a;p=1", "a b", "a,b", "(a)", "a\\b", "\"a\\nb\"", "\"a\\\"",
		"\"a\x01\"", "\"a\x7f\"", "\"a\xc3\xa9\"", "\"tab\there\"", "caf\xc3\xa9", "*a",
		"a\"b", "{k}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_bad(bad[i]);
	char out[IDEM_KEY_MAX];
	size_t n = 99;
	ck_assert_int_eq(idem_parse(NULL, 0, out, &n), CARTD_EINVAL);
	/* A NUL inside the value is not the end of it. */
	ck_assert_int_eq(idem_parse("ab\0c", 4, out, &n), CARTD_EINVAL);
	ck_assert_int_eq(idem_parse("\"ab\0c\"", 6, out, &n), CARTD_EINVAL);
}
END_TEST

/* 1 and 255 bytes of key are accepted in both forms, 256 in neither; an
 * escape counts one byte of key. */
START_TEST(test_header_length_bounds)
{
	char v[2 * IDEM_KEY_MAX + 8], want[IDEM_KEY_MAX + 1];
	memset(want, 'k', sizeof want);
	memset(v, 'k', IDEM_KEY_MAX);
	v[IDEM_KEY_MAX] = '\0';
	expect_key(v, want, IDEM_KEY_MAX);
	expect_key("k", want, 1);
	v[IDEM_KEY_MAX] = 'k';
	v[IDEM_KEY_MAX + 1] = '\0';
	expect_bad(v);
	v[0] = '"';
	memset(v + 1, 'k', IDEM_KEY_MAX);
	strcpy(v + 1 + IDEM_KEY_MAX, "\"");
	expect_key(v, want, IDEM_KEY_MAX);
	strcpy(v + 1 + IDEM_KEY_MAX, "k\"");
	expect_bad(v);
	/* 255 escaped quotes: 512 characters, 255 bytes of key */
	char q[IDEM_KEY_MAX + 1];
	memset(q, '"', sizeof q);
	v[0] = '"';
	for (size_t i = 0; i < IDEM_KEY_MAX; i++)
		memcpy(v + 1 + 2 * i, "\\\"", 2);
	strcpy(v + 1 + 2 * IDEM_KEY_MAX, "\"");
	expect_key(v, q, IDEM_KEY_MAX);
	char *big = malloc(2 * IDEM_KEY_MAX + 8);
	big[0] = '"';
	for (size_t i = 0; i <= IDEM_KEY_MAX; i++)
		memcpy(big + 1 + 2 * i, "\\\"", 2);
	strcpy(big + 1 + 2 * (IDEM_KEY_MAX + 1), "\"");
	expect_bad(big);
	free(big);
}
END_TEST

static crdt_op op_of(enum crdt_op_kind kind, const char *sku, uint32_t qty, const crdt_ctx *obs)
{
	crdt_op op = { .kind = kind, .sku = sku, .sku_len = sku ? strlen(sku) : 0, .qty = qty,
	               .observed = obs };
	return op;
}

static crdt_keyrec rec_of(const char *cart, const char *key, const crdt_op *op)
{
	crdt_keyrec r;
	ck_assert_int_eq(idem_record(cart, strlen(cart), key, strlen(key), op, 1000, 5000, &r), 0);
	return r;
}

static bool same_dot(crdt_keyrec a, crdt_keyrec b)
{
	return a.dot.replica == b.dot.replica && a.dot.counter == b.dot.counter;
}

/* A fixed answer pins the derivation: peers of different builds must agree
 * on it, so changing it is a protocol change.  (Computed independently
 * with Python's hashlib.blake2b.) */
START_TEST(test_record_known_answer)
{
	static const uint8_t hash[16] = {
		0x5a, 0x19, 0xe9, 0x15, 0x27, 0x7a, 0x33, 0x4b,
		0x1d, 0x71, 0x24, 0xd9, 0xa4, 0x62, 0x3d, 0x74,
	};
	crdt_op op = op_of(CRDT_OP_ADD, "apple", 2, NULL);
	crdt_keyrec r = rec_of("c1", "k1", &op);
	ck_assert(memcmp(r.hash, hash, sizeof hash) == 0);
	ck_assert_uint_eq(r.dot.replica, UINT64_C(0xf58d02cf59627b79));
	ck_assert_uint_eq(r.dot.counter, UINT64_C(2699848602475));
	ck_assert_uint_eq(r.at_ms, 1000);
	ck_assert_uint_eq(r.until_ms, 6000);
}
END_TEST

START_TEST(test_record_same_request_same_dot)
{
	crdt_ctx t;
	crdt_ctx_init(&t);
	ck_assert_int_eq(crdt_ctx_add_range(&t, 77, 1, 5), 0);
	crdt_op a = op_of(CRDT_OP_REMOVE, "apple", 0, &t);
	crdt_keyrec r1 = rec_of("c1", "k", &a), r2;
	/* Another peer, another clock and window: the same dot and hash. */
	ck_assert_int_eq(idem_record("c1", 2, "k", 1, &a, 99999, 1, &r2), 0);
	ck_assert(same_dot(r1, r2));
	ck_assert(memcmp(r1.hash, r2.hash, sizeof r1.hash) == 0);
	ck_assert_uint_eq(r2.until_ms, 100000);
	/* Fields the operation does not take are not part of the request. */
	crdt_op rq = op_of(CRDT_OP_REMOVE, "apple", 7, &t);
	ck_assert(same_dot(r1, rec_of("c1", "k", &rq)));
	crdt_op c1 = op_of(CRDT_OP_CLEAR, NULL, 0, NULL), c2 = op_of(CRDT_OP_CLEAR, "x", 3, NULL);
	ck_assert(same_dot(rec_of("c1", "k", &c1), rec_of("c1", "k", &c2)));
	crdt_ctx_destroy(&t);
}
END_TEST

START_TEST(test_record_other_request_other_dot)
{
	crdt_ctx t, empty;
	crdt_ctx_init(&t);
	crdt_ctx_init(&empty);
	ck_assert_int_eq(crdt_ctx_add_range(&t, 77, 1, 5), 0);
	crdt_op base = op_of(CRDT_OP_ADD, "apple", 2, NULL);
	crdt_keyrec r = rec_of("c1", "k", &base);
	crdt_op ops[] = {
		op_of(CRDT_OP_ADD, "apple", 3, NULL), op_of(CRDT_OP_ADD, "apples", 2, NULL),
		op_of(CRDT_OP_SET, "apple", 2, NULL), op_of(CRDT_OP_REMOVE, "apple", 0, NULL),
		op_of(CRDT_OP_CLEAR, NULL, 0, NULL), op_of(CRDT_OP_CLOSE, NULL, 0, NULL),
		op_of(CRDT_OP_ADD, "apple", 2, &t),
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		crdt_keyrec o = rec_of("c1", "k", &ops[i]);
		ck_assert_msg(!same_dot(r, o), "op %zu shares the dot", i);
		ck_assert(memcmp(r.hash, o.hash, sizeof r.hash) == 0);   /* same key */
	}
	ck_assert(!same_dot(r, rec_of("c2", "k", &base)));
	crdt_keyrec other = rec_of("c1", "k2", &base);
	ck_assert(!same_dot(r, other));
	ck_assert(memcmp(r.hash, other.hash, sizeof r.hash) != 0);
	/* Length prefixes: moving a byte from the cart id to the key counts. */
	ck_assert(!same_dot(rec_of("ab", "c", &base), rec_of("a", "bc", &base)));
	/* No token and a token of the empty context are different requests. */
	crdt_op c0 = op_of(CRDT_OP_CLOSE, NULL, 0, NULL), ce = op_of(CRDT_OP_CLOSE, NULL, 0, &empty);
	ck_assert(!same_dot(rec_of("c1", "k", &c0), rec_of("c1", "k", &ce)));
	crdt_ctx_destroy(&t);
	crdt_ctx_destroy(&empty);
}
END_TEST

START_TEST(test_record_bounds)
{
	crdt_op op = op_of(CRDT_OP_ADD, "a", 1, NULL);
	crdt_keyrec r;
	char key[IDEM_KEY_MAX + 1];
	memset(key, 'k', sizeof key);
	ck_assert_int_eq(idem_record("c", 1, key, IDEM_KEY_MAX, &op, 0, 0, &r), 0);
	ck_assert_int_eq(idem_record("c", 1, key, IDEM_KEY_MAX + 1, &op, 0, 0, &r), CARTD_EINVAL);
	ck_assert_int_eq(idem_record("c", 1, key, 0, &op, 0, 0, &r), CARTD_EINVAL);
	/* until_ms = at_ms + window, checked: the last that fits, and one past */
	uint64_t w = (uint64_t)IDEM_WINDOW_MAX_S * 1000;
	ck_assert_int_eq(idem_record("c", 1, "k", 1, &op, UINT64_MAX - w, w, &r), 0);
	ck_assert_uint_eq(r.until_ms, UINT64_MAX);
	ck_assert_int_eq(idem_record("c", 1, "k", 1, &op, UINT64_MAX - w + 1, w, &r), CARTD_EINVAL);
	ck_assert_uint_eq(r.dot.replica, 0);             /* zeroed on error */
	op.kind = (enum crdt_op_kind)(CRDT_OP_CLOSE + 1);
	ck_assert_int_eq(idem_record("c", 1, "k", 1, &op, 0, 0, &r), CARTD_EINVAL);
	/* Dots are valid: replica not 0, counter 1..CRDT_MAX_COUNTER. */
	op.kind = CRDT_OP_ADD;
	for (unsigned i = 0; i < 2000; i++) {
		char k[16];
		snprintf(k, sizeof k, "key-%u", i);
		ck_assert_int_eq(idem_record("c", 1, k, strlen(k), &op, 0, 0, &r), 0);
		ck_assert(r.dot.replica != 0);
		ck_assert(r.dot.counter >= 1 && r.dot.counter <= CRDT_MAX_COUNTER);
	}
}
END_TEST

Suite *idem_suite(void)
{
	Suite *s = suite_create("idem");
	TCase *t = tcase_create("header");
	if (sodium_init() < 0)
		abort();
	tcase_add_test(t, test_header_strings_and_tokens);
	tcase_add_test(t, test_header_malformed);
	tcase_add_test(t, test_header_length_bounds);
	suite_add_tcase(s, t);
	t = tcase_create("record");
	tcase_add_test(t, test_record_known_answer);
	tcase_add_test(t, test_record_same_request_same_dot);
	tcase_add_test(t, test_record_other_request_other_dot);
	tcase_add_test(t, test_record_bounds);
	suite_add_tcase(s, t);
	return s;
}
