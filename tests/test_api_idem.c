/*
 * test_api_idem.c - api suite, tcase "idempotency": the Idempotency-Key
 * header and the checkout route as api_prepare takes them, and the answers
 * they get (receipts, orders, replays, the closed-cart body, the new
 * errors), without a peer: what a node adds is in tests/test_node_idem.c.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/http/api.h"
#include "app/http/api_internal.h"
#include "crdt/error.h"
#include "crdt/store.h"

TCase *api_idem_tcase(void);

#define JSON "application/json"

static const api_limits lim = { .fault_routes = true };

typedef struct prep {
	api_call call;
	api_response res;
	enum api_action action;
} prep;

/* api_prepare of one request; key is the Idempotency-Key header (NULL:
 * none), sent nkeys times. */
static void run(prep *p, const char *method, const char *target, const char *body,
                const char *key, unsigned nkeys, const char *prefer)
{
	api_request req = {
		.method = method, .target = target, .content_type = body ? JSON : NULL,
		.body = body ? body : "", .body_len = body ? strlen(body) : 0, .prefer = prefer,
		.idem_key = key, .idem_key_len = key ? strlen(key) : 0, .idem_keys = key ? nkeys : 0,
	};
	memset(p, 0, sizeof *p);
	api_call_init(&p->call);
	p->action = api_prepare(&lim, &req, &p->call, &p->res);
}

static void done(prep *p)
{
	api_call_destroy(&p->call);
	api_response_destroy(&p->res);
}

static void expect_code(prep *p, unsigned status, const char *code)
{
	ck_assert_int_eq(p->action, API_A_NONE);
	ck_assert_msg(p->res.status == status, "status %u, want %u: %s", p->res.status, status,
	              p->res.body);
	json_t *v = json_loadb(p->res.body, p->res.body_len, 0, NULL);
	ck_assert_msg(v != NULL, "not JSON: %s", p->res.body);
	const char *got = json_string_value(json_object_get(json_object_get(v, "error"), "code"));
	ck_assert_msg(got && strcmp(got, code) == 0, "code %s, want %s", got ? got : "-", code);
	json_decref(v);
}

START_TEST(test_checkout_route)
{
	api_span cart, sku;
	ck_assert_int_eq(api_match_path("/carts/c1/checkout", 18, &cart, &sku), API_R_CHECKOUT);
	ck_assert(cart.len == 2 && memcmp(cart.p, "c1", 2) == 0);
	ck_assert_int_eq(api_match_path("/carts/c1/checkout/x", 20, &cart, &sku), API_R_UNKNOWN);
	ck_assert_int_eq(api_match_path("/carts/c1/Checkout", 18, &cart, &sku), API_R_UNKNOWN);
	ck_assert_str_eq(api_route_name(API_R_CHECKOUT), "checkout");
	prep p;
	run(&p, "POST", "/carts/c1/checkout", NULL, NULL, 0, "return=minimal");
	ck_assert_int_eq(p.action, API_A_CHECKOUT);
	ck_assert_int_eq(p.call.op, CRDT_OP_CLOSE);
	ck_assert(!p.call.has_token && !p.call.has_key);
	ck_assert(!p.call.minimal);          /* the order is the answer: never 204 */
	done(&p);
	run(&p, "GET", "/carts/c1/checkout", NULL, NULL, 0, NULL);
	expect_code(&p, 405, "method_not_allowed");
	ck_assert_str_eq(p.res.allow, "POST");
	done(&p);
	run(&p, "POST", "/carts/bad%20id/checkout", NULL, NULL, 0, NULL);
	expect_code(&p, 422, "bad_id");
	done(&p);
}
END_TEST

/* A checkout takes a token as the DELETEs do: query or JSON body, not both. */
START_TEST(test_checkout_token)
{
	const char *tok = "AgAAAAA_bbb-ccc_ddd";
	char target[128], body[128];
	prep p;
	snprintf(target, sizeof target, "/carts/c1/checkout?token=%s", tok);
	run(&p, "POST", target, NULL, NULL, 0, NULL);
	ck_assert_int_eq(p.action, API_A_CHECKOUT);
	ck_assert(p.call.has_token && strcmp(p.call.token_text, tok) == 0);
	done(&p);
	snprintf(body, sizeof body, "{\"token\":\"%s\"}", tok);
	run(&p, "POST", "/carts/c1/checkout", body, NULL, 0, NULL);
	ck_assert_int_eq(p.action, API_A_CHECKOUT);
	ck_assert(p.call.has_token);
	done(&p);
	run(&p, "POST", target, body, NULL, 0, NULL);
	expect_code(&p, 400, "bad_token");
	done(&p);
	run(&p, "POST", "/carts/c1/checkout", "{\"token\":\"x\",\"sku\":\"a\"}", NULL, 0, NULL);
	expect_code(&p, 422, "unknown_field");
	done(&p);
	run(&p, "POST", "/carts/c1/checkout?tokn=x", NULL, NULL, 0, NULL);
	expect_code(&p, 400, "bad_query");
	done(&p);
	run(&p, "POST", "/carts/c1/checkout", "{\"token\":7}", NULL, 0, NULL);
	expect_code(&p, 422, "bad_token");
	done(&p);
}
END_TEST

/* Every write route and the checkout read the header; reads and the admin
 * routes ignore it, even malformed. */
START_TEST(test_idempotency_key_read_by_writes)
{
	static const struct { const char *method, *target, *body; } writes[] = {
		{ "POST", "/carts/c1/items", "{\"sku\":\"a\",\"qty\":1}" },
		{ "PUT", "/carts/c1/items/a", "{\"qty\":2}" },
		{ "DELETE", "/carts/c1/items/a", NULL },
		{ "DELETE", "/carts/c1", NULL },
		{ "POST", "/carts/c1/checkout", NULL },
	};
	prep p;
	for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
		run(&p, writes[i].method, writes[i].target, writes[i].body, "\"k \\\"1\\\"\"", 1, NULL);
		ck_assert_msg(p.action == API_A_WRITE || p.action == API_A_CHECKOUT, "%s %s",
		              writes[i].method, writes[i].target);
		ck_assert(p.call.has_key && p.call.key_len == 5 && memcmp(p.call.key, "k \"1\"", 5) == 0);
		done(&p);
		run(&p, writes[i].method, writes[i].target, writes[i].body, "k,1", 1, NULL);
		expect_code(&p, 400, "bad_idempotency_key");
		done(&p);
	}
	run(&p, "GET", "/carts/c1", NULL, "not a key", 1, NULL);
	ck_assert_int_eq(p.action, API_A_GET_CART);
	ck_assert(!p.call.has_key);
	done(&p);
	run(&p, "DELETE", "/admin/faults", NULL, "not a key", 2, NULL);
	ck_assert_int_eq(p.action, API_A_FAULTS_CLEAR);
	done(&p);
}
END_TEST

START_TEST(test_idempotency_key_refused)
{
	const char *add = "{\"sku\":\"a\",\"qty\":1}";
	prep p;
	static const char *const bad[] = { "", "\"\"", "\"a\";x=1", "a b", "\"open", "\"\\n\"" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		run(&p, "POST", "/carts/c1/items", add, bad[i], 1, NULL);
		expect_code(&p, 400, "bad_idempotency_key");
		done(&p);
	}
	/* Two headers are refused even when both are good (and equal). */
	run(&p, "POST", "/carts/c1/items", add, "k1", 2, NULL);
	expect_code(&p, 400, "bad_idempotency_key");
	ck_assert_ptr_nonnull(strstr(p.res.body, "more than one"));
	done(&p);
	char key[IDEM_KEY_MAX + 2];
	memset(key, 'k', sizeof key - 1);
	key[IDEM_KEY_MAX + 1] = '\0';
	run(&p, "POST", "/carts/c1/items", add, key, 1, NULL);
	expect_code(&p, 400, "bad_idempotency_key");
	done(&p);
	key[IDEM_KEY_MAX] = '\0';
	run(&p, "POST", "/carts/c1/items", add, key, 1, NULL);
	ck_assert_int_eq(p.action, API_A_WRITE);
	ck_assert_uint_eq(p.call.key_len, IDEM_KEY_MAX);
	done(&p);
	/* Order of checks: path before the header, the header before query
	 * and body. */
	run(&p, "POST", "/carts/bad%20id/items", add, "k,1", 1, NULL);
	expect_code(&p, 422, "bad_id");
	done(&p);
	run(&p, "POST", "/carts/c1/items", "{oops", "k,1", 1, NULL);
	expect_code(&p, 400, "bad_idempotency_key");
	done(&p);
	run(&p, "DELETE", "/carts/c1?x=1", NULL, "k,1", 1, NULL);
	expect_code(&p, 400, "bad_idempotency_key");
	done(&p);
}
END_TEST

static void expect_receipt(const char *method, const char *target, const char *body,
                           const char *want)
{
	prep p;
	run(&p, method, target, body, "k1", 1, NULL);
	ck_assert_int_eq(p.action, API_A_WRITE);
	api_write_result(NULL, &p.call, 0, NULL, &p.res);
	ck_assert_uint_eq(p.res.status, 200);
	ck_assert_msg(strcmp(p.res.body, want) == 0, "%s %s: %s", method, target, p.res.body);
	ck_assert_uint_eq(p.res.body_len, strlen(want));
	ck_assert(!p.res.replayed);
	/* The replay: the same status and body, marked. */
	api_response again = { 0 };
	api_write_result(NULL, &p.call, CARTD_EIDEMPOTENT, NULL, &again);
	ck_assert_uint_eq(again.status, 200);
	ck_assert_str_eq(again.body, p.res.body);
	ck_assert(again.replayed);
	api_response_destroy(&again);
	done(&p);
}

/* A keyed write's receipt is the request, never the cart: so the same
 * answer comes back from any peer, first time or replay. */
START_TEST(test_receipts_depend_only_on_the_request)
{
	expect_receipt("POST", "/carts/c1/items", "{\"sku\":\"apple\",\"qty\":2}",
	               "{\"cart\":\"c1\",\"idempotency_key\":\"k1\",\"write\":{\"op\":\"add\","
	               "\"sku\":\"apple\",\"qty\":2}}\n");
	expect_receipt("PUT", "/carts/c1/items/apple", "{\"qty\":0}",
	               "{\"cart\":\"c1\",\"idempotency_key\":\"k1\",\"write\":{\"op\":\"set\","
	               "\"sku\":\"apple\",\"qty\":0}}\n");
	expect_receipt("DELETE", "/carts/c1/items/apple", NULL,
	               "{\"cart\":\"c1\",\"idempotency_key\":\"k1\",\"write\":{\"op\":\"remove\","
	               "\"sku\":\"apple\"}}\n");
	expect_receipt("DELETE", "/carts/c1", NULL,
	               "{\"cart\":\"c1\",\"idempotency_key\":\"k1\",\"write\":{\"op\":\"clear\"}}\n");
	/* A key with quotes and backslashes stays valid JSON, and round-trips. */
	prep p;
	run(&p, "DELETE", "/carts/c1", NULL, "\"a\\\"b\\\\c d\"", 1, NULL);
	api_render_receipt(&p.call, &p.res);
	json_t *v = json_loadb(p.res.body, p.res.body_len, 0, NULL);
	ck_assert_msg(v != NULL, "not JSON: %s", p.res.body);
	ck_assert_str_eq(json_string_value(json_object_get(v, "idempotency_key")), "a\"b\\c d");
	json_decref(v);
	done(&p);
}
END_TEST

/* With return=minimal a keyed write answers 204, and so does its replay,
 * marked; a refusal is never marked a replay. */
START_TEST(test_minimal_and_refused_keyed_writes)
{
	prep p;
	run(&p, "POST", "/carts/c1/items", "{\"sku\":\"a\",\"qty\":1}", "k1", 1, "return=minimal");
	api_write_result(NULL, &p.call, CARTD_EIDEMPOTENT, NULL, &p.res);
	ck_assert_uint_eq(p.res.status, 204);
	ck_assert_uint_eq(p.res.body_len, 0);
	ck_assert(p.res.replayed);
	ck_assert_str_eq(p.res.applied, "return=minimal");
	api_response_destroy(&p.res);
	memset(&p.res, 0, sizeof p.res);
	api_write_result(NULL, &p.call, CARTD_EKEYREUSED, NULL, &p.res);
	ck_assert_uint_eq(p.res.status, 422);
	ck_assert(!p.res.replayed);
	ck_assert_ptr_nonnull(strstr(p.res.body, "\"code\":\"idempotency_key_reused\""));
	done(&p);
}
END_TEST

START_TEST(test_new_error_codes)
{
	static const struct { int rc; unsigned status; const char *code; } cases[] = {
		{ CARTD_EKEYREUSED, 422, "idempotency_key_reused" },
		{ CARTD_ECLOSED, 409, "cart_closed" },
		{ CARTD_ETOKENAHEAD, 409, "token_ahead" },
		{ CARTD_EEMPTYCART, 422, "cart_empty" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		api_response res = { 0 };
		api_error_rc(&res, cases[i].rc, NULL);
		ck_assert_uint_eq(res.status, cases[i].status);
		char want[64];
		snprintf(want, sizeof want, "\"code\":\"%s\"", cases[i].code);
		ck_assert_msg(strstr(res.body, want) != NULL, "%s", res.body);
		api_response_destroy(&res);
	}
}
END_TEST

/* An order as a checkout answers it, from a marker made by hand. */
START_TEST(test_render_order)
{
	crdt_cart c;
	crdt_cart_init(&c);
	ck_assert_int_eq(crdt_cart_add(&c, 5, "pear", 4, 2, NULL), 0);
	ck_assert_int_eq(crdt_cart_add(&c, 5, "apple", 5, 1, NULL), 0);
	ck_assert_int_eq(crdt_cart_add(&c, 6, "apple", 5, 3, NULL), 0);
	crdt_close m = { .id = { 0x0123456789abcdefull, 42 }, .at_ms = 1764518400123ull,
	                 .total = 3, .lines = c.lines, .n = c.n };
	api_response res = { 0 };
	api_render_order("c1", 2, &m, &res);
	ck_assert_uint_eq(res.status, 200);
	ck_assert_str_eq(res.body, "{\"cart\":\"c1\",\"order\":{\"id\":\"0123456789abcdef.42\","
	                 "\"at_ms\":1764518400123,\"complete\":true,\"items\":[{\"sku\":\"apple\","
	                 "\"qty\":4},{\"sku\":\"pear\",\"qty\":2}]}}\n");
	api_response_destroy(&res);
	m.total = 4;                           /* a fragment: not all entries here yet */
	api_render_order("c1", 2, &m, &res);
	ck_assert_ptr_nonnull(strstr(res.body, "\"complete\":false"));
	api_response_destroy(&res);
	/* 64-bit fields at their ends: every digit of UINT64_MAX. */
	m.id.counter = 0;
	m.at_ms = UINT64_MAX;
	api_render_order("c1", 2, &m, &res);
	ck_assert_ptr_nonnull(strstr(res.body, "\"id\":\"0123456789abcdef.0\","
	                                       "\"at_ms\":18446744073709551615,"));
	api_response_destroy(&res);
	m.id.counter = 4294967296ull;                   /* 2^32 */
	m.at_ms = 4294967295ull;
	api_render_order("c1", 2, &m, &res);
	ck_assert_ptr_nonnull(strstr(res.body, "\"id\":\"0123456789abcdef.4294967296\","
	                                       "\"at_ms\":4294967295,"));
	api_response_destroy(&res);
	api_render_order("c1", 2, NULL, &res);
	ck_assert_uint_eq(res.status, 500);
	api_response_destroy(&res);
	crdt_cart_destroy(&c);
}
END_TEST

/* A checkout at replica 5 while replica 6, which has not seen it, adds a
 * pear and removes the apple: joined, the cart shows the pear live and
 * late, the apple in the order and removed from it since. */
START_TEST(test_render_closed_cart)
{
	crdt_cart a, b;
	crdt_cart_init(&a);
	crdt_cart_init(&b);
	crdt_op add = { .kind = CRDT_OP_ADD, .sku = "apple", .sku_len = 5, .qty = 2 };
	ck_assert_int_eq(crdt_cart_apply(&a, 5, &add, NULL), 0);
	ck_assert_int_eq(crdt_cart_copy(&b, &a), 0);
	crdt_op close = { .kind = CRDT_OP_CLOSE, .now_ms = 1000 };
	ck_assert_int_eq(crdt_cart_apply(&a, 5, &close, NULL), 0);
	crdt_op pear = { .kind = CRDT_OP_ADD, .sku = "pear", .sku_len = 4, .qty = 1 };
	crdt_op rm = { .kind = CRDT_OP_REMOVE, .sku = "apple", .sku_len = 5 };
	ck_assert_int_eq(crdt_cart_apply(&b, 6, &pear, NULL), 0);
	ck_assert_int_eq(crdt_cart_apply(&b, 6, &rm, NULL), 0);
	ck_assert_int_eq(crdt_cart_join(&a, &b, NULL), 0);
	ck_assert_int_eq(crdt_cart_apply(&a, 5, &pear, NULL), CARTD_ECLOSED);
	crdt_store *s;
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	ck_assert_int_eq(crdt_store_join(s, "c1", 2, &a, NULL), 0);
	api_response res = { 0 };
	crdt_item it;
	ck_assert_int_eq(crdt_store_get(s, "c1", 2, &it), 0);
	api_render_cart(it.cart, "c1", 2, "TOK", &res);
	char want[512];
	snprintf(want, sizeof want, "{\"cart\":\"c1\",\"items\":[{\"sku\":\"pear\",\"qty\":1}],"
	         "\"token\":\"TOK\",\"closed\":{\"orders\":[{\"id\":\"%016llx.%llu\",\"at_ms\":1000,"
	         "\"complete\":true,\"items\":[{\"sku\":\"apple\",\"qty\":2}],\"late_removed\":"
	         "[{\"sku\":\"apple\",\"qty\":2}]}],\"late_added\":[{\"sku\":\"pear\",\"qty\":1}]}}\n",
	         (unsigned long long)a.closes->v[0].id.replica,
	         (unsigned long long)a.closes->v[0].id.counter);
	ck_assert_str_eq(res.body, want);
	ck_assert_uint_eq(a.closes->v[0].id.replica, 5);
	api_response_destroy(&res);
	crdt_store_free(s);
	crdt_cart_destroy(&a);
	crdt_cart_destroy(&b);
}
END_TEST

TCase *api_idem_tcase(void)
{
	TCase *t = tcase_create("idempotency");
	tcase_add_test(t, test_checkout_route);
	tcase_add_test(t, test_checkout_token);
	tcase_add_test(t, test_idempotency_key_read_by_writes);
	tcase_add_test(t, test_idempotency_key_refused);
	tcase_add_test(t, test_receipts_depend_only_on_the_request);
	tcase_add_test(t, test_minimal_and_refused_keyed_writes);
	tcase_add_test(t, test_new_error_codes);
	tcase_add_test(t, test_render_order);
	tcase_add_test(t, test_render_closed_cart);
	return t;
}
