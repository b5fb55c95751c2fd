/*
 * check_api.c - the HTTP API without HTTP: routing, percent-decoding, query
 * strings, body validation and every 4xx that api_prepare decides, error
 * body shape, context tokens, cart rendering.
 *
 * No process, socket or node: these are the pure pieces (api.h,
 * api_internal.h, token.h).  The same paths through real processes are
 * in check_cluster.c and check_edge.c.
 */
#include <check.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "app/http/api.h"
#include "app/http/api_internal.h"
#include "app/peer/token.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"

static const api_limits no_faults = { .fault_routes = false };
static const api_limits with_faults = { .fault_routes = true };

typedef struct prep {
	api_call call;
	api_response res;
	enum api_action action;
} prep;

static void run(prep *p, const api_limits *lim, const char *method, const char *target,
                const char *ctype, const char *body)
{
	api_request req = { .method = method, .target = target, .content_type = ctype,
	                    .body = body ? body : "", .body_len = body ? strlen(body) : 0 };
	memset(p, 0, sizeof *p);
	api_call_init(&p->call);
	p->action = api_prepare(lim, &req, &p->call, &p->res);
}

static void done(prep *p)
{
	api_call_destroy(&p->call);
	api_response_destroy(&p->res);
}

/* Asserts an error response with this status and code, and the one body
 * shape every error has. */
static void expect_error(prep *p, unsigned status, const char *code)
{
	ck_assert_int_eq(p->action, API_A_NONE);
	ck_assert_uint_eq(p->res.status, status);
	ck_assert_ptr_nonnull(p->res.body);
	json_error_t err;
	json_t *v = json_loadb(p->res.body, p->res.body_len, 0, &err);
	ck_assert_msg(v != NULL, "error body is not JSON: %s", p->res.body);
	json_t *e = json_object_get(v, "error");
	ck_assert(json_is_object(e));
	ck_assert_uint_eq(json_object_size(v), 1);
	ck_assert_msg(json_is_string(json_object_get(e, "message")), "no message");
	const char *got = json_string_value(json_object_get(e, "code"));
	ck_assert_msg(got && strcmp(got, code) == 0, "code %s, want %s (body %s)",
	              got ? got : "(none)", code, p->res.body);
	json_decref(v);
}

#define JSON "application/json"

START_TEST(test_routes_match)
{
	api_span cart = { 0 }, sku = { 0 };
	static const struct { const char *path; enum api_route r; } cases[] = {
		{ "/carts/c1", API_R_CART }, { "/carts/c1/items", API_R_ITEMS },
		{ "/carts/c1/items/apple", API_R_ITEM }, { "/cluster", API_R_CLUSTER },
		{ "/health", API_R_HEALTH }, { "/metrics", API_R_METRICS },
		{ "/admin/faults", API_R_FAULTS }, { "/", API_R_UNKNOWN },
		{ "", API_R_UNKNOWN }, { "/carts", API_R_UNKNOWN },
		{ "/carts/c1/", API_R_UNKNOWN }, { "/carts/c1/item", API_R_UNKNOWN },
		{ "/carts/c1/items/a/b", API_R_UNKNOWN }, { "/health/", API_R_UNKNOWN },
		{ "carts/c1", API_R_UNKNOWN }, { "/Carts/c1", API_R_UNKNOWN },
		{ "/carts/a/items/b/c/d", API_R_UNKNOWN },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum api_route r = api_match_path(cases[i].path, strlen(cases[i].path), &cart, &sku);
		ck_assert_msg(r == cases[i].r, "%s: route %d, want %d", cases[i].path, r, cases[i].r);
	}
	ck_assert_int_eq(api_match_path("/carts/x%2Fy/items/s", 20, &cart, &sku), API_R_ITEM);
	ck_assert_uint_eq(cart.len, 5);
	ck_assert(memcmp(cart.p, "x%2Fy", 5) == 0);
	ck_assert_uint_eq(sku.len, 1);
}
END_TEST

START_TEST(test_pct_decode)
{
	char out[8];
	size_t n = 0;
	ck_assert_int_eq(api_pct_decode("a%41b", 5, out, sizeof out, &n), 0);
	ck_assert_str_eq(out, "aAb");
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(api_pct_decode("%2f%2F", 6, out, sizeof out, &n), 0);
	ck_assert_str_eq(out, "//");
	ck_assert_int_eq(api_pct_decode("a+b", 3, out, sizeof out, &n), 0);
	ck_assert_str_eq(out, "a+b");
	ck_assert_int_eq(api_pct_decode("%4", 2, out, sizeof out, &n), -1);
	ck_assert_int_eq(api_pct_decode("%", 1, out, sizeof out, &n), -1);
	ck_assert_int_eq(api_pct_decode("%zz", 3, out, sizeof out, &n), -1);
	ck_assert_int_eq(api_pct_decode("abcdefgh", 8, out, sizeof out, &n), -2);
	ck_assert_int_eq(api_pct_decode("abcdefg", 7, out, sizeof out, &n), 0);
	ck_assert_int_eq(api_pct_decode("", 0, out, sizeof out, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_query_iter)
{
	const char *q = "a=1&&token=xy&flag&=v";
	api_span s = { q, strlen(q) }, k, v;
	size_t pos = 0;
	ck_assert(api_query_next(s, &pos, &k, &v));
	ck_assert(k.len == 1 && k.p[0] == 'a' && v.len == 1 && v.p[0] == '1');
	ck_assert(api_query_next(s, &pos, &k, &v));
	ck_assert(k.len == 5 && v.len == 2 && memcmp(v.p, "xy", 2) == 0);
	ck_assert(api_query_next(s, &pos, &k, &v));
	ck_assert(k.len == 4 && v.p == NULL);
	ck_assert(api_query_next(s, &pos, &k, &v));
	ck_assert(k.len == 0 && v.len == 1);
	ck_assert(!api_query_next(s, &pos, &k, &v));
}
END_TEST

START_TEST(test_prepare_reads)
{
	prep p;
	run(&p, &no_faults, "GET", "/carts/c-1._~:@", NULL, NULL);
	ck_assert_int_eq(p.action, API_A_GET_CART);
	ck_assert_str_eq(p.call.cart, "c-1._~:@");
	done(&p);
	run(&p, &no_faults, "HEAD", "/carts/c%31", NULL, NULL);
	ck_assert_int_eq(p.action, API_A_GET_CART);
	ck_assert_str_eq(p.call.cart, "c1");
	done(&p);
	run(&p, &no_faults, "GET", "/cluster", NULL, NULL);
	ck_assert_int_eq(p.action, API_A_CLUSTER);
	done(&p);
	run(&p, &no_faults, "GET", "/health", NULL, NULL);
	ck_assert_int_eq(p.action, API_A_HEALTH);
	done(&p);
	run(&p, &no_faults, "GET", "/metrics", NULL, NULL);
	ck_assert_int_eq(p.action, API_A_METRICS);
	done(&p);
}
END_TEST

START_TEST(test_prepare_writes)
{
	prep p;
	crdt_op op;
	run(&p, &no_faults, "POST", "/carts/c1/items", JSON, "{\"sku\":\"apple\",\"qty\":3}");
	ck_assert_int_eq(p.action, API_A_WRITE);
	ck_assert_int_eq(api_call_op(NULL, &p.call, &op), 0);   /* no token: no keys needed */
	ck_assert_int_eq(op.kind, CRDT_OP_ADD);
	ck_assert_uint_eq(op.qty, 3);
	ck_assert_uint_eq(op.sku_len, 5);
	ck_assert(memcmp(op.sku, "apple", 5) == 0);
	ck_assert_ptr_null(op.observed);
	done(&p);
	run(&p, &no_faults, "PUT", "/carts/c1/items/apple", "application/json; charset=utf-8",
	    "{\"qty\":0}");
	ck_assert_int_eq(p.action, API_A_WRITE);
	ck_assert_int_eq(p.call.op, CRDT_OP_SET);
	ck_assert_uint_eq(p.call.qty, 0);
	done(&p);
	run(&p, &no_faults, "DELETE", "/carts/c1/items/apple", NULL, NULL);
	ck_assert_int_eq(p.action, API_A_WRITE);
	ck_assert_int_eq(p.call.op, CRDT_OP_REMOVE);
	ck_assert(!p.call.has_token);
	done(&p);
	run(&p, &no_faults, "DELETE", "/carts/c1", NULL, NULL);
	ck_assert_int_eq(p.action, API_A_WRITE);
	ck_assert_int_eq(p.call.op, CRDT_OP_CLEAR);
	done(&p);
}
END_TEST

START_TEST(test_prepare_tokens)
{
	prep p;
	/* prepare judges a token's characters only; the MAC is checked with
	 * the peer's keys when the write is made (tests/test_api_token.c). */
	const char *tok = "AgAAAAA_bbb-ccc_ddd";
	char target[256], body[256];

	snprintf(target, sizeof target, "/carts/c1/items/x?token=%s", tok);
	run(&p, &no_faults, "DELETE", target, NULL, NULL);
	ck_assert_int_eq(p.action, API_A_WRITE);
	ck_assert(p.call.has_token && p.call.token_len == strlen(tok) &&
	          strcmp(p.call.token_text, tok) == 0);
	done(&p);
	snprintf(body, sizeof body, "{\"token\":\"%s\"}", tok);
	run(&p, &no_faults, "DELETE", "/carts/c1", JSON, body);
	ck_assert(p.action == API_A_WRITE && p.call.has_token);
	done(&p);
	snprintf(target, sizeof target, "/carts/c1?token=%s", tok);
	run(&p, &no_faults, "DELETE", target, JSON, body);
	expect_error(&p, 400, "bad_token");
	done(&p);
	run(&p, &no_faults, "DELETE", "/carts/c1?token=%%%", NULL, NULL);
	expect_error(&p, 400, "bad_query");
	done(&p);
	run(&p, &no_faults, "DELETE", "/carts/c1?token=A%2BB", NULL, NULL);
	expect_error(&p, 400, "bad_token");
	done(&p);
	run(&p, &no_faults, "DELETE", "/carts/c1?tokn=AA", NULL, NULL);
	expect_error(&p, 400, "bad_query");
	done(&p);
	run(&p, &no_faults, "DELETE", "/carts/c1", JSON, "{\"token\":5}");
	expect_error(&p, 422, "bad_token");
	done(&p);
}
END_TEST

START_TEST(test_prepare_routing_errors)
{
	prep p;
	run(&p, &no_faults, "GET", "/nope", NULL, NULL);
	expect_error(&p, 404, "not_found");
	done(&p);
	run(&p, &no_faults, "GET", "/admin/faults", NULL, NULL);
	expect_error(&p, 404, "not_found");
	done(&p);
	run(&p, &no_faults, "POST", "/carts/c1", JSON, "{}");
	expect_error(&p, 405, "method_not_allowed");
	ck_assert_str_eq(p.res.allow, "GET, HEAD, DELETE");
	done(&p);
	run(&p, &no_faults, "GET", "/carts/c1/items", NULL, NULL);
	expect_error(&p, 405, "method_not_allowed");
	ck_assert_str_eq(p.res.allow, "POST");
	done(&p);
	run(&p, &no_faults, "PATCH", "/carts/c1/items/x", NULL, NULL);
	expect_error(&p, 405, "method_not_allowed");
	ck_assert_str_eq(p.res.allow, "PUT, DELETE");
	done(&p);
	run(&p, &no_faults, "GET", "/carts/c1?x=1", NULL, NULL);
	expect_error(&p, 400, "bad_query");
	done(&p);
	run(&p, &no_faults, "OPTIONS", "/health", NULL, NULL);
	expect_error(&p, 405, "method_not_allowed");
	ck_assert_str_eq(p.res.allow, "GET, HEAD");
	done(&p);
	run(&p, &no_faults, "DELETE", "/carts/c1?token", NULL, NULL);
	expect_error(&p, 400, "bad_query");
	done(&p);
}
END_TEST

START_TEST(test_prepare_path_errors)
{
	prep p;
	char target[600];
	run(&p, &no_faults, "GET", "/carts/a%20b", NULL, NULL);
	expect_error(&p, 422, "bad_id");
	done(&p);
	run(&p, &no_faults, "GET", "/carts/a%2Fb", NULL, NULL);
	expect_error(&p, 422, "bad_id");
	done(&p);
	run(&p, &no_faults, "GET", "/carts/a%zzb", NULL, NULL);
	expect_error(&p, 400, "bad_path");
	done(&p);
	run(&p, &no_faults, "GET", "/carts/", NULL, NULL);
	expect_error(&p, 422, "bad_id");
	done(&p);
	memset(target, 0, sizeof target);
	strcpy(target, "/carts/");
	memset(target + 7, 'a', 129);
	run(&p, &no_faults, "GET", target, NULL, NULL);
	expect_error(&p, 422, "bad_id");
	done(&p);
	target[7 + 128] = '\0';
	run(&p, &no_faults, "GET", target, NULL, NULL);
	ck_assert_int_eq(p.action, API_A_GET_CART);
	done(&p);
	run(&p, &no_faults, "PUT", "/carts/c1/items/%E2%82%AC", JSON, "{\"qty\":1}");
	expect_error(&p, 422, "bad_sku");
	done(&p);
}
END_TEST

START_TEST(test_prepare_body_errors)
{
	static const struct {
		const char *method, *target, *ctype, *body;
		unsigned status;
		const char *code;
	} cases[] = {
		{ "POST", "/carts/c1/items", "text/plain", "{\"sku\":\"a\",\"qty\":1}", 415, "unsupported_media_type" },
		{ "POST", "/carts/c1/items", NULL, "{\"sku\":\"a\",\"qty\":1}", 415, "unsupported_media_type" },
		{ "POST", "/carts/c1/items", "application/jsonx", "{}", 415, "unsupported_media_type" },
		{ "POST", "/carts/c1/items", JSON, NULL, 422, "missing_body" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":", 400, "bad_json" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"a\",\"sku\":\"b\",\"qty\":1}", 400, "bad_json" },
		{ "POST", "/carts/c1/items", JSON, "[1]", 422, "bad_body" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"a\",\"qty\":1,\"x\":1}", 422, "unknown_field" },
		{ "POST", "/carts/c1/items", JSON, "{\"qty\":1}", 422, "bad_sku" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":7,\"qty\":1}", 422, "bad_sku" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"a b\",\"qty\":1}", 422, "bad_sku" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"\",\"qty\":1}", 422, "bad_sku" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"a\"}", 422, "bad_qty" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"a\",\"qty\":0}", 422, "bad_qty" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"a\",\"qty\":-1}", 422, "bad_qty" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"a\",\"qty\":1000001}", 422, "bad_qty" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"a\",\"qty\":1.5}", 422, "bad_qty" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"a\",\"qty\":\"2\"}", 422, "bad_qty" },
		{ "POST", "/carts/c1/items", JSON, "{\"sku\":\"a\",\"qty\":99999999999999999999999}", 422, "bad_value" },
		{ "PUT", "/carts/c1/items/a", JSON, "{}", 422, "bad_qty" },
		{ "PUT", "/carts/c1/items/a", JSON, "{\"qty\":null}", 422, "bad_qty" },
		{ "PUT", "/carts/c1/items/a", JSON, "{\"qty\":1,\"sku\":\"a\"}", 422, "unknown_field" },
		{ "DELETE", "/carts/c1", "text/plain", "x", 415, "unsupported_media_type" },
		{ "DELETE", "/carts/c1", JSON, "{\"tok\":\"AA\"}", 422, "unknown_field" },
		{ "DELETE", "/carts/c1", JSON, "{\"token\":\"A=\"}", 400, "bad_token" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		prep p;
		run(&p, &no_faults, cases[i].method, cases[i].target, cases[i].ctype, cases[i].body);
		ck_assert_msg(p.action == API_A_NONE, "case %zu accepted", i);
		ck_assert_msg(p.res.status == cases[i].status, "case %zu: status %u, want %u: %s",
		              i, p.res.status, cases[i].status, p.res.body);
		expect_error(&p, cases[i].status, cases[i].code);
		done(&p);
	}
}
END_TEST

START_TEST(test_prepare_faults)
{
	prep p;
	run(&p, &with_faults, "GET", "/admin/faults", NULL, NULL);
	ck_assert_int_eq(p.action, API_A_FAULTS_GET);
	done(&p);
	run(&p, &with_faults, "DELETE", "/admin/faults", NULL, NULL);
	ck_assert_int_eq(p.action, API_A_FAULTS_CLEAR);
	done(&p);
	run(&p, &with_faults, "POST", "/admin/faults", JSON,
	    "{\"drop\":0.5,\"delay_ms\":20,\"block\":[\"00ff\",\"127.0.0.1:7000\",\"[::1]:9\"],"
	    "\"unblock\":[\"ABC\"],\"answer_delay_ms\":60000}");
	ck_assert_int_eq(p.action, API_A_FAULTS_SET);
	ck_assert(p.call.faults.has_answer_delay && p.call.faults.answer_delay_ms == 60000);
	ck_assert(p.call.faults.has_drop && p.call.faults.drop == 0.5);
	ck_assert(!p.call.faults.has_duplicate && p.call.faults.has_delay);
	ck_assert_uint_eq(p.call.faults.delay_ms, 20);
	ck_assert_uint_eq(p.call.faults.nblock, 3);
	ck_assert(p.call.faults.block[0].by_id && p.call.faults.block[0].id == 0xff);
	ck_assert(!p.call.faults.block[1].by_id && p.call.faults.block[1].addr.port == 7000);
	ck_assert_int_eq(p.call.faults.block[2].addr.family, AF_INET6);
	ck_assert(p.call.faults.unblock[0].id == 0xabc);
	done(&p);
	static const char *const bad[] = {
		"{\"drop\":1.5}", "{\"drop\":\"x\"}", "{\"duplicate\":-0.1}", "{\"delay_ms\":60001}",
		"{\"block\":\"x\"}", "{\"block\":[\"xyz\"]}", "{\"block\":[\"0\"]}",
		"{\"block\":[\"1.2.3.4\"]}", "{\"block\":[\"1.2.3.4:99999\"]}", "{\"block\":[1]}",
		"{\"bogus\":1}", "{\"block\":[\"12345678901234567\"]}", "{\"answer_delay_ms\":60001}",
		"{\"answer_delay_ms\":-1}",
	};
	/* One entry past FAULT_MAX_BLOCKED. */
	char many[2048] = "{\"block\":[";
	for (int i = 0; i <= FAULT_MAX_BLOCKED; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"%x\"", i ? "," : "",
		         i + 1);
	strcat(many, "]}");
	run(&p, &with_faults, "POST", "/admin/faults", JSON, many);
	expect_error(&p, 422, "bad_value");
	done(&p);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		run(&p, &with_faults, "POST", "/admin/faults", JSON, bad[i]);
		ck_assert_msg(p.action == API_A_NONE && p.res.status == 422, "%s: %u", bad[i],
		              p.res.status);
		done(&p);
	}
}
END_TEST

/* The plain-form reader (api_fastbody.c) and jansson must agree: bodies in
 * the plain form, near misses that only jansson reads, and near misses
 * that nobody accepts, each with the answer the API documents. */
START_TEST(test_prepare_body_forms)
{
	static const struct {
		const char *method, *body;
		unsigned status;       /* 0: accepted */
		const char *sku;       /* accepted add: expected sku */
		uint32_t qty;
	} cases[] = {
		{ "POST", "{\"sku\":\"apple\",\"qty\":3}", 0, "apple", 3 },
		{ "POST", " {\r\n\t\"qty\" : 12 , \"sku\" : \"a.b~c:d@e-f_g\" }\n", 0, "a.b~c:d@e-f_g", 12 },
		{ "POST", "{\"sku\":\"a\",\"qty\":1000000}", 0, "a", 1000000 },
		{ "POST", "{\"sku\":\"\\u0061pple\",\"qty\":2}", 0, "apple", 2 },
		{ "POST", "{\"sk\\u0075\":\"apple\",\"qty\":4}", 0, "apple", 4 },
		{ "POST", "{\"sku\":\"a\",\"q\\\"ty\":1}", 422, NULL, 0 },
		{ "POST", "{\"sku\":\"a\",\"qty\":01}", 400, NULL, 0 },
		{ "POST", "{\"sku\":\"a\",\"qty\":1} x", 400, NULL, 0 },
		{ "POST", "{\"sku\":\"a\",\"qty\":1,}", 400, NULL, 0 },
		{ "POST", "{\"sku\":\"a\",\"qty\":1e0}", 422, NULL, 0 },
		{ "POST", "{\"sku\":\"a\",\"qty\":-0}", 422, NULL, 0 },
		{ "POST", "{\"sku\":\"a\",\"qty\":10000000000}", 422, NULL, 0 },
		{ "POST", "{\"sku\":\"a\",\"qty\":1,\"qty\":2}", 400, NULL, 0 },
		{ "POST", "{\"sku\":\"a\\\"b\",\"qty\":1}", 422, NULL, 0 },
		{ "PUT", "{\"qty\":0}", 0, NULL, 0 },
		{ "PUT", "{ \"qty\":7 }", 0, NULL, 7 },
		{ "PUT", "{\"qty\":7,\"qty\":7}", 400, NULL, 0 },
		{ "PUT", "{\"qty\":00}", 400, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		prep p;
		const char *target = cases[i].method[1] == 'O' ? "/carts/c1/items" : "/carts/c1/items/x";
		run(&p, &no_faults, cases[i].method, target, JSON, cases[i].body);
		if (cases[i].status == 0) {
			ck_assert_msg(p.action == API_A_WRITE, "case %zu refused: %s", i, p.res.body);
			ck_assert_msg(p.call.qty == cases[i].qty, "case %zu: qty %u", i, p.call.qty);
			if (cases[i].sku)
				ck_assert_str_eq(p.call.sku, cases[i].sku);
		} else {
			ck_assert_msg(p.action == API_A_NONE && p.res.status == cases[i].status,
			              "case %zu: action %d status %u, want %u", i, p.action,
			              p.res.status, cases[i].status);
		}
		done(&p);
	}
}
END_TEST

START_TEST(test_prefer_minimal)
{
	static const struct { const char *v; bool want; } cases[] = {
		{ "return=minimal", true }, { "RETURN=Minimal", true },
		{ "return = minimal", true }, { "return=\"minimal\"", true },
		{ "respond-async, return=minimal; foo=bar", true },
		{ "wait=10,return=minimal", true },
		{ "return=representation", false }, { "return=representation, return=minimal", false },
		{ "return", false }, { "returns=minimal", false }, { "return=minimalist", false },
		{ "", false }, { NULL, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(api_prefer_minimal(cases[i].v) == cases[i].want, "case %zu (%s)", i,
		              cases[i].v ? cases[i].v : "NULL");

	/* Only writes honour it; their success is then 204 without a body. */
	prep p;
	api_request req = { .method = "POST", .target = "/carts/c1/items", .content_type = JSON,
	                    .body = "{\"sku\":\"a\",\"qty\":1}", .body_len = 19,
	                    .prefer = "return=minimal" };
	memset(&p, 0, sizeof p);
	api_call_init(&p.call);
	ck_assert_int_eq(api_prepare(&no_faults, &req, &p.call, &p.res), API_A_WRITE);
	ck_assert(p.call.minimal);
	api_write_result(NULL, &p.call, 0, NULL, &p.res);
	ck_assert_uint_eq(p.res.status, 204);
	ck_assert_uint_eq(p.res.body_len, 0);
	ck_assert_str_eq(p.res.applied, "return=minimal");
	api_response_destroy(&p.res);
	/* A failed write still explains itself. */
	api_write_result(NULL, &p.call, CARTD_ENOSPC, NULL, &p.res);
	ck_assert_uint_eq(p.res.status, 503);
	ck_assert_ptr_null(p.res.applied);
	done(&p);
	api_request get = { .method = "GET", .target = "/carts/c1", .body = "",
	                    .prefer = "return=minimal" };
	memset(&p, 0, sizeof p);
	api_call_init(&p.call);
	ck_assert_int_eq(api_prepare(&no_faults, &get, &p.call, &p.res), API_A_GET_CART);
	ck_assert(!p.call.minimal);
	done(&p);
}
END_TEST

START_TEST(test_render_cart)
{
	crdt_store *s = NULL;
	api_response res = { 0 };
	crdt_item it;
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	api_render_cart(NULL, "c1", 2, "TOK", &res);   /* never written: empty */
	ck_assert_uint_eq(res.status, 200);
	ck_assert_str_eq(res.body, "{\"cart\":\"c1\",\"items\":[],\"token\":\"TOK\"}\n");
	api_response_destroy(&res);

	crdt_op op = { CRDT_OP_ADD, "pear", 4, 2, NULL, NULL, 0 };
	ck_assert_int_eq(crdt_store_apply(s, "c1", 2, 5, &op, NULL), 0);
	op.sku = "apple";
	op.sku_len = 5;
	op.qty = 1;
	ck_assert_int_eq(crdt_store_apply(s, "c1", 2, 5, &op, NULL), 0);
	ck_assert_int_eq(crdt_store_apply(s, "c1", 2, 5, &op, NULL), 0);
	ck_assert_int_eq(crdt_store_get(s, "c1", 2, &it), 0);
	api_render_cart(it.cart, "c1", 2, "TOK", &res);
	ck_assert_uint_eq(res.body_len, strlen(res.body));
	ck_assert_str_eq(res.body, "{\"cart\":\"c1\",\"items\":[{\"sku\":\"apple\",\"qty\":2},"
	                 "{\"sku\":\"pear\",\"qty\":2}],\"token\":\"TOK\"}\n");
	json_t *v = json_loadb(res.body, res.body_len, 0, NULL);
	ck_assert_ptr_nonnull(v);
	json_t *items = json_object_get(v, "items");
	ck_assert_uint_eq(json_array_size(items), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "sku")), "apple");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "qty")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 1), "sku")), "pear");
	ck_assert_str_eq(json_string_value(json_object_get(v, "token")), "TOK");
	json_decref(v);
	api_response_destroy(&res);
	crdt_store_free(s);
}
END_TEST

/* A cart at the limits renders whole and parses: the most lines a local
 * add makes, each under a 128-byte sku at the largest quantity, and a line
 * set to 0, which is no item.  The items are written into one reservation
 * sized beforehand (api_carts.c): a bound short by a byte per line would
 * write past the body, which the sanitized build reports. */
START_TEST(test_render_cart_limits)
{
	crdt_store *s = NULL;
	api_response res = { 0 };
	crdt_item it;
	char sku[CRDT_MAX_NAME + 1];
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	for (unsigned i = 0; i < CRDT_MAX_LINES; i++) {
		memset(sku, 'k', CRDT_MAX_NAME);
		sku[snprintf(sku, sizeof sku, "%04u", i)] = 'k';
		sku[CRDT_MAX_NAME] = '\0';
		crdt_op op = { i == 7 ? CRDT_OP_SET : CRDT_OP_ADD, sku, CRDT_MAX_NAME,
		               i == 7 ? 0 : CRDT_MAX_QTY, NULL, NULL, 0 };
		ck_assert_int_eq(crdt_store_apply(s, "c1", 2, 5, &op, NULL), 0);
	}
	ck_assert_int_eq(crdt_store_get(s, "c1", 2, &it), 0);
	api_render_cart(it.cart, "c1", 2, "TOK", &res);
	ck_assert_uint_eq(res.status, 200);
	ck_assert_uint_eq(res.body_len, strlen(res.body));
	json_error_t err;
	json_t *v = json_loadb(res.body, res.body_len, 0, &err);
	ck_assert_msg(v != NULL, "body does not parse: %s", err.text);
	json_t *items = json_object_get(v, "items");
	ck_assert_uint_eq(json_array_size(items), CRDT_MAX_LINES - 1);
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *item = json_array_get(items, i);
		const char *got = json_string_value(json_object_get(item, "sku"));
		ck_assert_ptr_nonnull(got);
		ck_assert_uint_eq(strlen(got), CRDT_MAX_NAME);
		unsigned k = (unsigned)(i < 7 ? i : i + 1);
		char want[8];
		snprintf(want, sizeof want, "%04u", k);
		ck_assert_msg(strncmp(got, want, 4) == 0, "item %zu: sku %.8s...", i, got);
		ck_assert_int_eq(json_integer_value(json_object_get(item, "qty")), CRDT_MAX_QTY);
	}
	ck_assert_str_eq(json_string_value(json_object_get(v, "token")), "TOK");
	json_decref(v);
	api_response_destroy(&res);
	crdt_store_free(s);
}
END_TEST

/* A cart body's buffer is kept when its response is destroyed and used by
 * the next body (api_body_writer): one at a time, only up to
 * API_BODY_KEEP bytes, and never a body it did not make; each body reads
 * as rendered whatever buffer it got. */
START_TEST(test_render_body_kept)
{
	static const char want[] = "{\"cart\":\"c1\",\"items\":[{\"sku\":\"pear\",\"qty\":2}],"
	                           "\"token\":\"T\"}\n";
	crdt_cart c;
	crdt_cart_init(&c);
	ck_assert_int_eq(crdt_cart_add(&c, 5, "pear", 4, 2, NULL), 0);
	api_response a = { 0 }, b = { 0 }, d = { 0 }, e = { 0 };
	api_render_cart(&c, "c1", 2, "T", &a);   /* takes whatever was kept */
	api_render_cart(&c, "c1", 2, "T", &b);   /* nothing kept now */
	ck_assert_ptr_ne(a.body, b.body);
	ck_assert_uint_gt(b.body_cap, b.body_len);
	char *kept = b.body;
	api_response_destroy(&b);                 /* kept */
	api_render_cart(&c, "c1", 2, "T", &d);
	ck_assert_ptr_eq(d.body, kept);
	ck_assert_str_eq(d.body, want);
	ck_assert_uint_eq(d.body_len, sizeof want - 1);
	api_render_cart(&c, "c1", 2, "T", &e);   /* the kept one is in use */
	ck_assert_ptr_ne(e.body, kept);
	ck_assert_str_eq(e.body, want);
	api_response_destroy(&d);                 /* kept */
	api_response_destroy(&e);                 /* freed: one is kept at most */
	api_render_cart(&c, "c1", 2, "T", &b);
	ck_assert_ptr_eq(b.body, kept);
	api_response_destroy(&b);

	/* An error body (jansson's) is freed, not kept. */
	api_error(&b, 404, "not_found", "x");
	ck_assert_uint_eq(b.body_cap, 0);
	api_response_destroy(&b);
	api_render_cart(&c, "c1", 2, "T", &b);
	ck_assert_ptr_eq(b.body, kept);
	api_response_destroy(&b);

	/* A body past API_BODY_KEEP is freed, not kept: the next body is a
	 * buffer of its own size. */
	crdt_cart big;
	crdt_cart_init(&big);
	char sku[CRDT_MAX_NAME + 1];
	for (unsigned i = 0; i < CRDT_MAX_LINES; i++) {
		memset(sku, 'k', CRDT_MAX_NAME);
		sku[snprintf(sku, sizeof sku, "%04u", i)] = 'k';
		ck_assert_int_eq(crdt_cart_add(&big, 5, sku, CRDT_MAX_NAME, 1, NULL), 0);
	}
	api_render_cart(&big, "c1", 2, "T", &d);   /* grows the kept buffer past the cap */
	ck_assert_uint_gt(d.body_len, API_BODY_KEEP);
	api_response_destroy(&d);
	api_render_cart(&c, "c1", 2, "T", &b);
	ck_assert_str_eq(b.body, want);
	ck_assert_uint_le(b.body_cap, API_BODY_KEEP);
	api_response_destroy(&b);
	api_response_destroy(&a);
	crdt_cart_destroy(&big);
	crdt_cart_destroy(&c);
}
END_TEST

/* Quantities come out as decimal written a pair of digits at a time
 * (api_carts.c): every quantity from 0 to 1000, and each power of ten
 * and its neighbours up to CRDT_MAX_QTY, reads back exactly as printf
 * writes it, beside skus short enough to live in the line (copied as a
 * whole slot) and long enough to live on the heap.  A digit pair read from the wrong place in the table, a count
 * of digits one short or long, or a lone digit dropped after the pairs each
 * change some body. */
START_TEST(test_render_cart_quantities)
{
	uint32_t qs[1100];
	size_t nq = 0;
	for (uint32_t q = 1; q <= 1000; q++)
		qs[nq++] = q;
	for (uint32_t p = 10000; p <= CRDT_MAX_QTY; p *= 10) {
		qs[nq++] = p - 1;
		qs[nq++] = p;
		qs[nq++] = p + 1 <= CRDT_MAX_QTY ? p + 1 : p;
	}
	qs[nq++] = CRDT_MAX_QTY - 1;
	for (size_t i = 0; i < nq; i += CRDT_MAX_LINES - 1) {
		size_t end = i + CRDT_MAX_LINES - 1 < nq ? i + CRDT_MAX_LINES - 1 : nq;
		crdt_cart c;
		crdt_cart_init(&c);
		char want[65536];
		size_t w = (size_t)snprintf(want, sizeof want, "{\"cart\":\"c1\",\"items\":[");
		for (size_t k = i; k < end; k++) {
			char sku[32];   /* 7 to 26 bytes: in the line and on the heap */
			int sl = snprintf(sku, sizeof sku, "%07zu%.*s", k, (int)(k % 20),
			                  "xxxxxxxxxxxxxxxxxxxx");
			ck_assert_int_eq(crdt_cart_add(&c, 5, sku, (size_t)sl, qs[k], NULL), 0);
			w += (size_t)snprintf(want + w, sizeof want - w, "%s{\"sku\":\"%s\",\"qty\":%u}",
			                      k == i ? "" : ",", sku, qs[k]);
		}
		snprintf(want + w, sizeof want - w, "],\"token\":\"T\"}\n");
		api_response res = { 0 };
		api_render_cart(&c, "c1", 2, "T", &res);
		ck_assert_uint_eq(res.status, 200);
		ck_assert_str_eq(res.body, want);
		api_response_destroy(&res);
		crdt_cart_destroy(&c);
	}
}
END_TEST

START_TEST(test_error_mapping)
{
	static const struct { int rc; unsigned status; } cases[] = {
		{ CARTD_EID, 422 }, { CARTD_ESKU, 422 }, { CARTD_EQTY, 422 }, { CARTD_ELINES, 422 },
		{ CARTD_ETOKEN, 400 }, { CARTD_ELINEFULL, 422 }, { CARTD_ETOKENCART, 422 },
		{ CARTD_ETOKENMAC, 403 }, { CARTD_ETOKENKEY, 409 }, { CARTD_ETOKENFUTURE, 409 },
		{ CARTD_ENOSPC, 503 }, { CARTD_ESHUTDOWN, 503 },
		{ CARTD_ESTORAGE, 500 }, { CARTD_ENOMEM, 500 }, { CARTD_ECOUNTER, 500 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_uint_eq(api_status_of(cases[i].rc), cases[i].status);
	api_response res = { 0 };
	api_error_rc(&res, CARTD_ENOSPC, NULL);
	ck_assert_uint_eq(res.status, 503);
	ck_assert_uint_eq(res.retry_after, 1);
	ck_assert_ptr_nonnull(strstr(res.body, "\"code\":\"nospc\""));
	api_response_destroy(&res);
	/* Client bytes in a message never break the JSON. */
	api_error(&res, 422, "x", "bad \"%s\"", "\xff\x01\xe2\x82");
	json_t *v = json_loadb(res.body, res.body_len, 0, NULL);
	ck_assert_msg(v != NULL, "not JSON: %s", res.body);
	json_decref(v);
	api_response_destroy(&res);
}
END_TEST

START_TEST(test_hex64)
{
	char buf[17];
	uint64_t v = 0;
	api_hex64(0x0123456789abcdefull, buf);
	ck_assert_str_eq(buf, "0123456789abcdef");
	ck_assert_int_eq(api_parse_hex64(buf, 16, &v), 0);
	ck_assert(v == 0x0123456789abcdefull);
	ck_assert_int_eq(api_parse_hex64("FFFFFFFFFFFFFFFF", 16, &v), 0);
	ck_assert(v == UINT64_MAX);
	ck_assert_int_eq(api_parse_hex64("", 0, &v), -1);
	ck_assert_int_eq(api_parse_hex64("g", 1, &v), -1);
	ck_assert_int_eq(api_parse_hex64("00000000000000000", 17, &v), -1);
}
END_TEST

Suite *api_suite(void);
TCase *api_token_tcase(void);   /* tests/test_api_token.c */
TCase *api_idem_tcase(void);    /* tests/test_api_idem.c */

Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *t = tcase_create("routing");
	tcase_add_test(t, test_routes_match);
	tcase_add_test(t, test_pct_decode);
	tcase_add_test(t, test_query_iter);
	tcase_add_test(t, test_prepare_reads);
	tcase_add_test(t, test_prepare_writes);
	tcase_add_test(t, test_prepare_tokens);
	tcase_add_test(t, test_prepare_routing_errors);
	tcase_add_test(t, test_prepare_path_errors);
	tcase_add_test(t, test_prepare_body_errors);
	tcase_add_test(t, test_prepare_faults);
	suite_add_tcase(s, t);
	t = tcase_create("values");
	tcase_add_test(t, test_prepare_body_forms);
	tcase_add_test(t, test_prefer_minimal);
	tcase_add_test(t, test_render_cart);
	tcase_add_test(t, test_render_cart_limits);
	tcase_add_test(t, test_render_cart_quantities);
	tcase_add_test(t, test_render_body_kept);
	tcase_add_test(t, test_error_mapping);
	tcase_add_test(t, test_hex64);
	suite_add_tcase(s, t);
	suite_add_tcase(s, api_token_tcase());
	suite_add_tcase(s, api_idem_tcase());
	return s;
}
