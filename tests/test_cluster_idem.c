/*
 * test_cluster_idem.c - cluster suite, tcase "idempotency": keyed writes
 * and checkout through real cartd processes and the cartctl binary.  What
 * only HTTP shows: the header as clients send it (case, one or two of
 * them), the Idempotency-Replayed header, a replay after kill -9 and a
 * restart, and cartctl's --idempotency-key and checkout.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test_chaos.h"
#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

TCase *cluster_idem_tcase(void);

#define J "application/json"
#define ADD "{\"sku\":\"apple\",\"qty\":2}"
#define RECEIPT "{\"cart\":\"c1\",\"idempotency_key\":\"k1\",\"write\":{\"op\":\"add\"," \
                "\"sku\":\"apple\",\"qty\":2}}\n"

static char parent[64];
static tp_cluster cl;

static void dir_setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-idem");
}

static void dir_teardown(void)
{
	tt_rmtree(parent);
}

static void cl_setup(void)
{
	tp_cluster_init(&cl, parent);
}

static void cl_teardown(void)
{
	tp_cluster_destroy(&cl);
}

/* POST of an add to c1 at peer 0 with header lines hdrs. */
static ctl_http_request add_request(const char *hdrs)
{
	ctl_http_request req = { "POST", "/carts/c1/items", J, ADD, strlen(ADD), hdrs, 0, false };
	return req;
}

static void post_add(const char *hdrs, ctl_http_response *res)
{
	ctl_http_request req = add_request(hdrs);
	tp_http(&cl, 0, &req, res);
}

static bool replayed(const ctl_http_response *res)
{
	char v[16];
	return ctl_http_header(res, "Idempotency-Replayed", v, sizeof v) && strcmp(v, "true") == 0;
}

/* kill -9 and restart peer 0, then send req (the keyed add) again: a
 * replay, answered as the first attempt, and the add counted once. */
static void expect_replay_after_kill(const ctl_http_request *req)
{
	char seen[64];
	ctl_http_response res;
	tp_stop(&cl, 0, SIGKILL);
	tp_restart(&cl, 0);            /* faults start cleared */
	tp_http(&cl, 0, req, &res);
	ck_assert_int_eq(res.status, 200);
	ck_assert_str_eq(res.body, RECEIPT);
	ck_assert(replayed(&res));
	ctl_http_response_free(&res);
	tp_items(&cl, 0, "c1", seen, sizeof seen);
	ck_assert_str_eq(seen, "apple:2");
}

/* The first attempt and its retry, also after kill -9 and a restart,
 * answer the same bytes; only the retry is marked.  The header's name is
 * case-insensitive; two of them, or a malformed one, are refused. */
START_TEST(test_http_replay_header_and_restart)
{
	char seen[64];
	ctl_http_response res;
	tp_add_peer(&cl, false, NULL);
	post_add("Idempotency-Key: \"k1\"\r\n", &res);
	ck_assert_msg(res.status == 200, "%d %s", res.status, res.body);
	ck_assert_str_eq(res.body, RECEIPT);
	ck_assert(!replayed(&res));
	ctl_http_response_free(&res);
	post_add("idempotency-key: k1\r\n", &res);
	ck_assert_int_eq(res.status, 200);
	ck_assert_str_eq(res.body, RECEIPT);
	ck_assert(replayed(&res));
	ctl_http_response_free(&res);
	ctl_http_request again = add_request("Idempotency-Key: \"k1\"\r\n");
	expect_replay_after_kill(&again);
	static const char *const bad[] = {
		"Idempotency-Key: k1\r\nIdempotency-Key: k1\r\n",
		"Idempotency-Key: \"k1\";x=1\r\n",
		"Idempotency-Key: a b\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		post_add(bad[i], &res);
		ck_assert_msg(res.status == 400 && strstr(res.body, "bad_idempotency_key"),
		              "%s: %d %s", bad[i], res.status, res.body);
		ctl_http_response_free(&res);
	}
	tp_items(&cl, 0, "c1", seen, sizeof seen);
	ck_assert_str_eq(seen, "apple:2");
	ck_assert_int_eq((int)tp_metric(&cl, 0, "cartd_writes_total{op=\"add\",result=\"replayed\"}"),
	                 1);    /* the one after the restart */
}
END_TEST

/* A client whose answer is lost: the write is durable (counted ok) while
 * its answer is held by fault injection; the peer is killed with -9 before
 * it answers, restarted, and the retry is a replay of the durable write. */
START_TEST(test_retry_after_kill_between_commit_and_answer)
{
	char err[256];
	tp_add_peer(&cl, true, NULL);
	ck_assert_int_eq(tp_write(&cl, 0, "POST", "/admin/faults", "{\"answer_delay_ms\":20000}"),
	                 200);
	ctl_http_request req = add_request("Idempotency-Key: k1\r\n");
	req.timeout_ms = 500;
	ctl_http_response res;
	ck_assert_int_eq(ctl_http_do(&cl.peers[0].http, &req, &res, err, sizeof err), -1);
	long long deadline = tp_now_ms() + 10000;
	while (tp_metric(&cl, 0, "cartd_writes_total{op=\"add\",result=\"ok\"}") < 1 &&
	       tp_now_ms() < deadline)
		tp_sleep_ms(20);
	ck_assert_msg(tp_metric(&cl, 0, "cartd_writes_total{op=\"add\",result=\"ok\"}") == 1,
	              "the write never became durable");
	req.timeout_ms = 0;
	expect_replay_after_kill(&req);
}
END_TEST

/* Runs cartctl against peer 0; its exit status, output into out. */
static int cartctl(char *out, size_t cap, const char *a1, const char *a2, const char *a3,
                   const char *a4, const char *a5, const char *a6, const char *a7)
{
	char ctl[600], peer[64];
	const char *cartd = tp_cartd();
	ck_assert_ptr_nonnull(cartd);
	snprintf(ctl, sizeof ctl, "%s", cartd);
	snprintf(strrchr(ctl, '/') + 1, sizeof ctl - (size_t)(strrchr(ctl, '/') + 1 - ctl),
	         "cartctl");
	snprintf(peer, sizeof peer, "127.0.0.1:%u", cl.peers[0].http_port);
	const char *const argv[] = { ctl, "--peer", peer, a1, a2, a3, a4, a5, a6, a7, NULL };
	return tc_run(argv, NULL, out, cap, 10000);
}

#define CTL(out, ...) cartctl(out, sizeof out, __VA_ARGS__)

START_TEST(test_cartctl_idempotency_key_and_checkout)
{
	char out[4096];
	tp_add_peer(&cl, false, NULL);
	ck_assert_int_eq(CTL(out, "add", "c1", "apple", "2", "--idempotency-key", "k1", NULL), 0);
	ck_assert_str_eq(out, "cart c1: add apple 2 done, idempotency key k1\n");
	ck_assert_int_eq(CTL(out, "add", "c1", "apple", "2", "--idempotency-key=k1", NULL, NULL), 0);
	ck_assert_msg(strstr(out, "replayed: ") == out, "%s", out);
	ck_assert_int_eq(CTL(out, "--json", "add", "c1", "apple", "2", "--idempotency-key",
	                     "k1"), 0);
	ck_assert_ptr_nonnull(strstr(out, RECEIPT));
	ck_assert_ptr_nonnull(strstr(out, "cartctl: replayed"));
	ck_assert_int_eq(CTL(out, "add", "c1", "apple", "3", "--idempotency-key", "k1", NULL), 1);
	ck_assert_ptr_nonnull(strstr(out, "422 idempotency_key_reused"));
	ck_assert_int_eq(CTL(out, "set", "c1", "pear", "1", "--idempotency-key", "p \"1\"", NULL), 0);
	ck_assert_str_eq(out, "cart c1: set pear 1 done, idempotency key p \"1\"\n");
	ck_assert_int_eq(CTL(out, "checkout", "c1", "--idempotency-key", "order-1", NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "cart c1 checked out\norder ") == out, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, ": 2 lines, 3 items\n"));
	char first[4096];
	snprintf(first, sizeof first, "%s", out);
	ck_assert_int_eq(CTL(out, "checkout", "c1", "--idempotency-key", "order-1", NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "replayed: ") == out && strstr(out, first), "%s", out);
	ck_assert_int_eq(CTL(out, "get", "c1", NULL, NULL, NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "checked out (1 order); writes are refused\n"));
	ck_assert_int_eq(CTL(out, "remove", "c1", "apple", NULL, NULL, NULL, NULL), 1);
	ck_assert_ptr_nonnull(strstr(out, "409 cart_closed"));
	ck_assert_int_eq(CTL(out, "checkout", NULL, NULL, NULL, NULL, NULL, NULL), 2);
	ck_assert_int_eq(CTL(out, "add", "c1", "a", "1", "--idempotency-key", NULL, NULL), 2);
	ck_assert_int_eq(CTL(out, "clear", "c1", "--idempotency-key", "caf\xc3\xa9", NULL, NULL, NULL), 2);
}
END_TEST

/* `cartctl cluster` shows a member's incarnation as epoch.refutations: a
 * peer on its first boot is 1.0 (the API's raw number is 4294967296), and
 * 2.0 once it restarted. */
static bool member_row_shows(const char *inc, char *out, size_t cap)
{
	long long deadline = tp_now_ms() + 15000;
	char want[64];
	snprintf(want, sizeof want, " %-8s %12s ", "alive", inc);
	do {
		if (cartctl(out, cap, "cluster", NULL, NULL, NULL, NULL, NULL, NULL) == 0 &&
		    strstr(out, want))
			return true;
		tp_sleep_ms(100);
	} while (tp_now_ms() < deadline);
	return false;
}

START_TEST(test_cartctl_cluster_incarnation)
{
	char out[4096];
	tp_add_peer(&cl, false, NULL);
	tp_add_peer(&cl, false, NULL);
	ck_assert_msg(member_row_shows("1.0", out, sizeof out), "member row never showed 1.0:\n%s",
	              out);
	ck_assert_ptr_null(strstr(out, "4294967296"));
	tp_stop(&cl, 1, SIGTERM);
	tp_restart(&cl, 1);
	ck_assert_msg(member_row_shows("2.0", out, sizeof out),
	              "restarted member never showed 2.0:\n%s", out);
}
END_TEST

TCase *cluster_idem_tcase(void)
{
	TCase *t = tcase_create("idempotency");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_http_replay_header_and_restart);
	tcase_add_test(t, test_retry_after_kill_between_commit_and_answer);
	tcase_add_test(t, test_cartctl_idempotency_key_and_checkout);
	tcase_add_test(t, test_cartctl_cluster_incarnation);
	return t;
}
