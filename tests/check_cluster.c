/*
 * check_cluster.c - cartd as users run it: real processes on loopback,
 * talking HTTP and gossiping over UDP (helpers in test_proc.c).
 *
 *   replicate   a write at one peer is read at the others
 *   restart     data survives SIGTERM and kill -9; a restarted peer catches up
 *   errors      every 4xx of the API, its body shape, and nothing applied
 *   tokens      a remove limited by a read token spares a later add
 *   metrics     the counters exist and move
 *   wrong_key   a peer with another key is refused and counted; its carts
 *               never arrive, nor do ours at it
 *   partition   a peer cut off by fault injection diverges (concurrent adds,
 *               a remove racing an add) and converges after healing
 *
 * Waits poll with deadlines; a failed wait prints what was last seen.
 * A per-tcase directory (unchecked fixture, so the parent removes it even
 * when a forked test fails) holds each test's data dirs, keys and logs.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

#define CONVERGE_MS 15000

static char parent[64];
static tp_cluster cl;

static void dir_setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-cluster");
}

static void dir_teardown(void)
{
	tt_rmtree(parent);
}

static void cl_setup(void)
{
	tp_light();
	tp_cluster_init(&cl, parent);
}

static void cl_teardown(void)
{
	tp_cluster_destroy(&cl);
}

/* Asserts peer i shows cart as want within the deadline. */
static void expect_items(int i, const char *cart, const char *want)
{
	tp_expect_items(&cl, i, cart, want, CONVERGE_MS);
}

static int write_json(int i, const char *method, const char *target, const char *body)
{
	return tp_write(&cl, i, method, target, body);
}

static void add(int i, const char *cart, const char *sku, int qty)
{
	tp_add(&cl, i, cart, sku, qty);
}

static char *token_of(int i, const char *cart)
{
	return tp_token(&cl, i, cart);
}

START_TEST(test_replicate)
{
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, false, NULL);
	add(0, "c1", "apple", 2);
	add(0, "c1", "pear", 1);
	expect_items(1, "c1", "apple:2,pear:1");
	expect_items(2, "c1", "apple:2,pear:1");
	ck_assert_int_eq(write_json(1, "PUT", "/carts/c1/items/apple", "{\"qty\":5}"), 200);
	ck_assert_int_eq(write_json(2, "DELETE", "/carts/c1/items/pear", NULL), 200);
	for (int i = 0; i < 3; i++)
		expect_items(i, "c1", "apple:5");
	ck_assert_int_eq(write_json(2, "DELETE", "/carts/c1", NULL), 200);
	for (int i = 0; i < 3; i++)
		expect_items(i, "c1", "");
}
END_TEST

START_TEST(test_restart)
{
	int n = tp_light() ? 5 : 40;
	char want[64];
	tp_add_peer(&cl, false, NULL);
	tp_add_peer(&cl, false, NULL);
	json_t *h = tp_json(&cl, 0, "GET", "/health", NULL, NULL);
	json_int_t epoch = json_integer_value(json_object_get(h, "epoch"));
	json_decref(h);

	for (int k = 0; k < n; k++)
		add(0, "r1", "apple", 1);
	tp_stop(&cl, 0, SIGTERM);
	tp_restart(&cl, 0);
	snprintf(want, sizeof want, "apple:%d", n);
	expect_items(0, "r1", want);
	h = tp_json(&cl, 0, "GET", "/health", NULL, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(h, "epoch")), epoch + 1);
	json_decref(h);

	/* Every acknowledged write survives kill -9, straight after the ack. */
	for (int k = 0; k < n; k++)
		add(0, "r1", "pear", 1);
	tp_stop(&cl, 0, SIGKILL);
	add(1, "r1", "kiwi", 3);     /* while peer0 is down */
	tp_restart(&cl, 0);
	snprintf(want, sizeof want, "apple:%d,kiwi:3,pear:%d", n, n);
	expect_items(0, "r1", want);
	expect_items(1, "r1", want);
}
END_TEST

/* One request with full control of headers and body; returns the status
 * and checks the error body shape and code when code is not NULL. */
static int raw(const char *method, const char *target, const char *ctype, const char *body,
               size_t body_len, const char *extra, const char *code, char *allow, size_t cap)
{
	ctl_http_request req = { method, target, ctype, body, body_len, extra, 0,
	                         extra && strstr(extra, "chunked") };
	ctl_http_response res;
	tp_http(&cl, 0, &req, &res);
	if (code) {
		json_t *v = json_loadb(res.body, res.body_len, 0, NULL);
		json_t *e = json_object_get(v, "error");
		const char *got = json_string_value(json_object_get(e, "code"));
		ck_assert_msg(got && strcmp(got, code) == 0 && json_object_size(v) == 1 &&
		              json_is_string(json_object_get(e, "message")),
		              "%s %s: want error %s, got %d %s", method, target, code, res.status,
		              res.body);
		json_decref(v);
	}
	if (allow)
		ck_assert_ptr_nonnull(ctl_http_header(&res, "Allow", allow, cap));
	int status = res.status;
	ctl_http_response_free(&res);
	return status;
}

#define J "application/json"

START_TEST(test_errors)
{
	char allow[64];
	tp_add_peer(&cl, false, NULL);
	add(0, "e1", "apple", 1);

	ck_assert_int_eq(raw("GET", "/nope", NULL, NULL, 0, NULL, "not_found", NULL, 0), 404);
	ck_assert_int_eq(raw("GET", "/admin/faults", NULL, NULL, 0, NULL, "not_found", NULL, 0), 404);
	ck_assert_int_eq(raw("PATCH", "/carts/e1", NULL, NULL, 0, NULL, "method_not_allowed",
	                     allow, sizeof allow), 405);
	ck_assert_str_eq(allow, "GET, HEAD, DELETE");
	ck_assert_int_eq(raw("GET", "/carts/e1/items", NULL, NULL, 0, NULL, "method_not_allowed",
	                     allow, sizeof allow), 405);
	ck_assert_str_eq(allow, "POST");
	ck_assert_int_eq(raw("GET", "/carts/a%zz", NULL, NULL, 0, NULL, "bad_path", NULL, 0), 400);
	ck_assert_int_eq(raw("GET", "/carts/a%20b", NULL, NULL, 0, NULL, "bad_id", NULL, 0), 422);
	ck_assert_int_eq(raw("DELETE", "/carts/e1?token=%%", NULL, NULL, 0, NULL, "bad_query", NULL, 0), 400);
	ck_assert_int_eq(raw("DELETE", "/carts/e1?token=AB", NULL, NULL, 0, NULL, "bad_token", NULL, 0), 400);
	ck_assert_int_eq(raw("DELETE", "/carts/e1?all=1", NULL, NULL, 0, NULL, "bad_query", NULL, 0), 400);
	const char *b = "{\"sku\":\"x\",\"qty\":1}";
	ck_assert_int_eq(raw("POST", "/carts/e1/items", "text/plain", b, strlen(b), NULL,
	                     "unsupported_media_type", NULL, 0), 415);
	ck_assert_int_eq(raw("POST", "/carts/e1/items", J, "{\"sku\"", 6, NULL, "bad_json", NULL, 0), 400);
	b = "{\"sku\":\"x y\",\"qty\":1}";
	ck_assert_int_eq(raw("POST", "/carts/e1/items", J, b, strlen(b), NULL, "bad_sku", NULL, 0), 422);
	b = "{\"sku\":\"x\",\"qty\":0}";
	ck_assert_int_eq(raw("POST", "/carts/e1/items", J, b, strlen(b), NULL, "bad_qty", NULL, 0), 422);
	b = "{\"qty\":1000001}";
	ck_assert_int_eq(raw("PUT", "/carts/e1/items/apple", J, b, strlen(b), NULL, "bad_qty", NULL, 0), 422);
	b = "{\"qty\":1,\"extra\":true}";
	ck_assert_int_eq(raw("PUT", "/carts/e1/items/apple", J, b, strlen(b), NULL, "unknown_field", NULL, 0), 422);
	ck_assert_int_eq(raw("PUT", "/carts/e1/items/apple", J, NULL, 0, NULL, "missing_body", NULL, 0), 422);

	/* Oversized bodies: declared up front, and sent chunked. */
	size_t big = (64 << 10) + 1;
	char *huge = malloc(big + 64);
	memset(huge, ' ', big + 64);
	ck_assert_int_eq(raw("POST", "/carts/e1/items", J, huge, big, NULL, "body_too_large", NULL, 0), 413);
	int hdr = snprintf(huge, 64, "%zx\r\n", big);
	memset(huge + hdr, ' ', big);
	memcpy(huge + hdr + big, "\r\n0\r\n\r\n", 7);
	ck_assert_int_eq(raw("POST", "/carts/e1/items", J, huge, (size_t)hdr + big + 7,
	                     "Transfer-Encoding: chunked\r\n", "body_too_large", NULL, 0), 413);
	free(huge);

	/* Nothing above was applied, and the peer still serves. */
	char seen[256];
	tp_items(&cl, 0, "e1", seen, sizeof seen);
	ck_assert_str_eq(seen, "apple:1");
	ck_assert_int_eq(raw("HEAD", "/carts/e1", NULL, NULL, 0, NULL, NULL, NULL, 0), 200);
}
END_TEST

/* Prefer: return=minimal (RFC 7240): a write answers 204 without the cart,
 * says so in Preference-Applied, and is applied like any other. */
START_TEST(test_prefer_minimal)
{
	char hv[64], seen[256];
	const char *b = "{\"sku\":\"kiwi\",\"qty\":2}";
	tp_add_peer(&cl, false, NULL);
	ctl_http_request req = { "POST", "/carts/m1/items", J, b, strlen(b),
	                         "Prefer: return=minimal\r\n", 0, false };
	ctl_http_response res;
	tp_http(&cl, 0, &req, &res);
	ck_assert_msg(res.status == 204, "status %d: %s", res.status, res.body);
	ck_assert_uint_eq(res.body_len, 0);
	ck_assert_ptr_nonnull(ctl_http_header(&res, "Preference-Applied", hv, sizeof hv));
	ck_assert_str_eq(hv, "return=minimal");
	ctl_http_response_free(&res);
	tp_items(&cl, 0, "m1", seen, sizeof seen);
	ck_assert_str_eq(seen, "kiwi:2");
	/* Counted under its own status, not as "other". */
	ctl_http_request mreq = { "GET", "/metrics", NULL, NULL, 0, NULL, 0, false };
	tp_http(&cl, 0, &mreq, &res);
	ck_assert_ptr_nonnull(strstr(res.body, "cartd_http_requests_total{route=\"items\",code=\"204\"} 1"));
	ctl_http_response_free(&res);
	/* Without the preference the answer is the cart, as always. */
	req.extra_headers = "Prefer: return=representation\r\n";
	tp_http(&cl, 0, &req, &res);
	ck_assert_int_eq(res.status, 200);
	ck_assert_ptr_nonnull(strstr(res.body, "\"qty\":4"));
	ck_assert_ptr_null(ctl_http_header(&res, "Preference-Applied", hv, sizeof hv));
	ctl_http_response_free(&res);
	/* A refused write is explained, whatever the preference. */
	b = "{\"sku\":\"kiwi\",\"qty\":0}";
	req.body = b;
	req.body_len = strlen(b);
	req.extra_headers = "Prefer: return=minimal\r\n";
	tp_http(&cl, 0, &req, &res);
	ck_assert_int_eq(res.status, 422);
	ck_assert_ptr_nonnull(strstr(res.body, "bad_qty"));
	ctl_http_response_free(&res);
}
END_TEST

START_TEST(test_tokens)
{
	char target[512], body[512], seen[256];
	tp_add_peer(&cl, false, NULL);
	add(0, "t1", "apple", 1);
	char *tok = token_of(0, "t1");
	add(0, "t1", "apple", 2);      /* after the read: not covered by tok */
	add(0, "t1", "pear", 1);
	snprintf(target, sizeof target, "/carts/t1/items/apple?token=%s", tok);
	ck_assert_int_eq(write_json(0, "DELETE", target, NULL), 200);
	tp_items(&cl, 0, "t1", seen, sizeof seen);
	ck_assert_str_eq(seen, "apple:2,pear:1");
	/* clear with the old token in the body spares everything added since */
	snprintf(body, sizeof body, "{\"token\":\"%s\"}", tok);
	ck_assert_int_eq(write_json(0, "DELETE", "/carts/t1", body), 200);
	tp_items(&cl, 0, "t1", seen, sizeof seen);
	ck_assert_str_eq(seen, "apple:2,pear:1");
	free(tok);
	tok = token_of(0, "t1");
	snprintf(body, sizeof body, "{\"token\":\"%s\"}", tok);
	ck_assert_int_eq(write_json(0, "DELETE", "/carts/t1", body), 200);
	tp_items(&cl, 0, "t1", seen, sizeof seen);
	ck_assert_str_eq(seen, "");
	free(tok);
}
END_TEST

START_TEST(test_metrics)
{
	tp_add_peer(&cl, false, NULL);
	tp_add_peer(&cl, false, NULL);
	static const char *const series[] = {
		"cartd_http_requests_total{route=\"items\",code=\"200\"}",
		"cartd_writes_total{op=\"add\",result=\"ok\"}",
		"cartd_commit_latency_seconds_count",
		"cartd_deltas_total{direction=\"out\"}",
		"cartd_wire_bytes_total{direction=\"out\"}",
		"cartd_payload_bytes_total{direction=\"out\"}",
	};
	double before[6];
	for (int k = 0; k < 6; k++)
		before[k] = tp_metric(&cl, 0, series[k]);
	ck_assert(tp_metric(&cl, 0, "cartd_datagrams_rejected_total{cause=\"auth\"}") >= 0);
	ck_assert(tp_metric(&cl, 0, "cartd_members{state=\"alive\"}") >= 0);
	ck_assert(tp_metric(&cl, 0, "cartd_anti_entropy_sync_age_seconds") >= 0);
	ck_assert(tp_metric(&cl, 0, "cartd_committer_commits_total") >= 0);
	ck_assert(tp_metric(&cl, 0, "cartd_anti_entropy_rounds_total") >= 0);
	ck_assert(tp_metric(&cl, 0, "cartd_fault_injection_enabled") == 0);
	add(0, "m1", "apple", 1);
	expect_items(1, "m1", "apple:1");
	for (int k = 0; k < 6; k++) {
		double after = tp_metric(&cl, 0, series[k]);
		ck_assert_msg(after > before[k], "%s: %g then %g", series[k], before[k], after);
	}
	ck_assert(tp_metric(&cl, 1, "cartd_deltas_total{direction=\"in\"}") >= 1);
	ck_assert(tp_metric(&cl, 1, "cartd_carts") == 1);
}
END_TEST

START_TEST(test_wrong_key)
{
	char other[300], seen[256];
	snprintf(other, sizeof other, "%s/other.key", cl.base);
	tp_keygen(other);
	tp_add_peer(&cl, false, NULL);            /* peer0: the cluster key */
	tp_add_peer(&cl, false, NULL);            /* peer1: the cluster key */
	tp_add_peer(&cl, false, other);           /* peer2: another key, seeds 0 and 1 */
	add(0, "ours", "apple", 1);
	add(2, "theirs", "pear", 1);
	expect_items(1, "ours", "apple:1");

	const char *rej = "cartd_datagrams_rejected_total{cause=\"cert\"}";
	long long deadline = tp_now_ms() + CONVERGE_MS;
	while (tp_metric(&cl, 0, rej) < 1 && tp_now_ms() < deadline)
		tp_sleep_ms(50);
	ck_assert_msg(tp_metric(&cl, 0, rej) >= 1, "peer0 never refused the stranger's certificate");
	/* Several anti-entropy periods (0.2 s) later, still nothing crossed. */
	tp_sleep_ms(1500);
	for (int i = 0; i < 2; i++) {
		tp_items(&cl, i, "theirs", seen, sizeof seen);
		ck_assert_msg(strcmp(seen, "") == 0, "%s got the stranger's cart: %s",
		              cl.peers[i].name, seen);
	}
	tp_items(&cl, 2, "ours", seen, sizeof seen);
	ck_assert_msg(strcmp(seen, "") == 0, "the stranger got our cart: %s", seen);
}
END_TEST

/* Peer i's view: items and token, for comparing replicas. */
static void snapshot(int i, const char *cart, char *buf, size_t cap)
{
	char items[512];
	char *tok = token_of(i, cart);
	tp_items(&cl, i, cart, items, sizeof items);
	snprintf(buf, cap, "%s token=%s", items, tok);
	free(tok);
}

START_TEST(test_partition)
{
	char body[256], seen[256];
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, true, NULL);
	add(0, "p1", "apple", 1);
	for (int i = 0; i < 3; i++)
		expect_items(i, "p1", "apple:1");

	/* Cut peer2 off from both others (both directions, at peer2). */
	snprintf(body, sizeof body, "{\"block\":[\"127.0.0.1:%u\",\"127.0.0.1:%u\"]}",
	         cl.peers[0].gossip_port, cl.peers[1].gossip_port);
	ck_assert_int_eq(write_json(2, "POST", "/admin/faults", body), 200);

	/* Concurrent edits on both sides, including a remove racing an add. */
	ck_assert_int_eq(write_json(0, "DELETE", "/carts/p1/items/apple", NULL), 200);
	add(0, "p1", "pear", 2);
	add(2, "p1", "apple", 1);
	add(2, "p1", "kiwi", 3);
	expect_items(1, "p1", "pear:2");
	tp_sleep_ms(800);   /* four anti-entropy periods: the cut must hold */
	tp_items(&cl, 1, "p1", seen, sizeof seen);
	ck_assert_msg(strcmp(seen, "pear:2") == 0, "partition leaked: %s", seen);
	tp_items(&cl, 2, "p1", seen, sizeof seen);
	ck_assert_msg(strcmp(seen, "apple:2,kiwi:3") == 0, "peer2 during the cut: %s", seen);
	ck_assert(tp_metric(&cl, 2, "cartd_fault_datagrams_total{action=\"blocked\"}") > 0);

	/* Heal.  The add raced with the remove, so apple survives with only
	 * peer2's new unit: the remove took the one it had seen. */
	ck_assert_int_eq(write_json(2, "DELETE", "/admin/faults", NULL), 200);
	for (int i = 0; i < 3; i++)
		expect_items(i, "p1", "apple:1,kiwi:3,pear:2");
	/* Converged means identical state, context included. */
	char a[600], b[600];
	long long deadline = tp_now_ms() + CONVERGE_MS;
	for (;;) {
		snapshot(0, "p1", a, sizeof a);
		bool same = true;
		for (int i = 1; i < 3 && same; i++) {
			snapshot(i, "p1", b, sizeof b);
			same = strcmp(a, b) == 0;
		}
		if (same)
			break;
		ck_assert_msg(tp_now_ms() < deadline, "replicas differ: %s vs %s", a, b);
		tp_sleep_ms(50);
	}
}
END_TEST

Suite *cluster_suite(void);
TCase *cluster_carts_tcase(void);   /* tests/test_cluster_carts.c */
TCase *cluster_retries_tcase(void); /* tests/test_cluster_retries.c */
TCase *cluster_idem_tcase(void);    /* tests/test_cluster_idem.c */

Suite *cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *t = tcase_create("processes");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 90);
	tcase_add_test(t, test_replicate);
	tcase_add_test(t, test_restart);
	tcase_add_test(t, test_errors);
	tcase_add_test(t, test_prefer_minimal);
	tcase_add_test(t, test_tokens);
	tcase_add_test(t, test_metrics);
	tcase_add_test(t, test_wrong_key);
	tcase_add_test(t, test_partition);
	suite_add_tcase(s, t);
	suite_add_tcase(s, cluster_carts_tcase());
	suite_add_tcase(s, cluster_idem_tcase());
	suite_add_tcase(s, cluster_retries_tcase());
	return s;
}
