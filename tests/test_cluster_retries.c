/*
 * test_cluster_retries.c - cluster suite, tcase "retries": retries at
 * other peers and checkouts across a partition (docs/semantics.md §10-11,
 * docs/api.md) with three real processes on loopback.  (A retry after a
 * kill -9 between commit and answer is in test_cluster_idem.c.)
 *
 *  - A retry at another peer after replication is a replay with the same
 *    body; one made at a peer cut off from the first attempt is applied
 *    there, yet counts once after the heal; the key with another request
 *    is refused.
 *  - A checkout during a partition: the side that has not seen it takes
 *    an add and a remove; after the heal every peer shows the order
 *    unchanged, the add as late added and the remove as late removed, and
 *    refuses writes.  Checkouts on both sides both stand.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

TCase *cluster_retries_tcase(void);

#define CONVERGE_MS 15000
#define REPLAYED "Idempotency-Replayed: true"

static char parent[64];
static tp_cluster cl;

static void dir_setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-retries");
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

/* One keyed JSON request to peer i; the answer goes to res (freed by the
 * caller with ctl_http_response_free). */
static void keyed(int i, const char *method, const char *target, const char *body,
                  const char *key, ctl_http_response *res)
{
	char hdr[300];
	snprintf(hdr, sizeof hdr, "Idempotency-Key: \"%s\"\r\n", key);
	ctl_http_request req = {
		.method = method, .target = target, .body = body,
		.body_len = body ? strlen(body) : 0,
		.content_type = body ? "application/json" : NULL, .extra_headers = hdr,
	};
	tp_http(&cl, i, &req, res);
}

static bool replayed(const ctl_http_response *r)
{
	return strstr(r->head, REPLAYED) != NULL;
}

/* Blocks, at peer `at`, the peers listed (gossip ports), retrying until it
 * knows them (a peer can block only members it knows). */
static void block(int at, const int *others, int n)
{
	char body[256];
	size_t len = (size_t)snprintf(body, sizeof body, "{\"block\":[");
	for (int k = 0; k < n; k++)
		len += (size_t)snprintf(body + len, sizeof body - len, "%s\"127.0.0.1:%u\"",
		                        k ? "," : "", cl.peers[others[k]].gossip_port);
	snprintf(body + len, sizeof body - len, "]}");
	long long deadline = tp_now_ms() + CONVERGE_MS;
	int status;
	while ((status = tp_write(&cl, at, "POST", "/admin/faults", body)) != 200 &&
	       tp_now_ms() < deadline)
		tp_sleep_ms(50);
	ck_assert_msg(status == 200, "%s could not block its peers: %d", cl.peers[at].name, status);
}

static void heal(int at)
{
	ck_assert_int_eq(tp_write(&cl, at, "DELETE", "/admin/faults", NULL), 200);
}

/* Sends a keyed add to peer i over a raw connection and returns the
 * socket without reading the answer. */
/* After replication a retry anywhere is a replay; before it (a cut) it is
 * applied at the cut-off peer as the same entry, and counts once. */
START_TEST(test_retry_at_other_peer)
{
	const char *body = "{\"sku\":\"X\",\"qty\":3}";
	ctl_http_response a, b, c;
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, true, NULL);
	/* After replication. */
	keyed(0, "POST", "/carts/r1/items", body, "after", &a);
	ck_assert_int_eq(a.status, 200);
	ck_assert(!replayed(&a));
	tp_expect_items(&cl, 1, "r1", "X:3", CONVERGE_MS);
	keyed(1, "POST", "/carts/r1/items", body, "after", &b);
	ck_assert_int_eq(b.status, 200);
	ck_assert_msg(replayed(&b), "a retry after replication was not a replay:\n%s", b.head);
	ck_assert_str_eq(a.body, b.body);
	ctl_http_response_free(&a);
	ctl_http_response_free(&b);
	/* The same key for another request. */
	keyed(1, "POST", "/carts/r1/items", "{\"sku\":\"X\",\"qty\":4}", "after", &a);
	ck_assert_int_eq(a.status, 422);
	ck_assert_ptr_nonnull(strstr(a.body, "idempotency_key_reused"));
	ctl_http_response_free(&a);

	/* Before replication: peer 2 is cut off from both others. */
	block(2, (const int[]){ 0, 1 }, 2);
	keyed(0, "POST", "/carts/r2/items", body, "before", &a);
	ck_assert_int_eq(a.status, 200);
	tp_expect_items(&cl, 1, "r2", "X:3", CONVERGE_MS);
	char seen[128];
	tp_items(&cl, 2, "r2", seen, sizeof seen);
	ck_assert_msg(strcmp(seen, "") == 0, "the cut leaked to peer2: %s", seen);
	keyed(2, "POST", "/carts/r2/items", body, "before", &b);
	ck_assert_int_eq(b.status, 200);
	ck_assert_msg(!replayed(&b), "peer2 cannot have seen the first attempt:\n%s", b.head);
	ck_assert_str_eq(a.body, b.body);
	tp_add(&cl, 2, "r2", "Y", 1);
	heal(2);
	for (int i = 0; i < 3; i++)
		tp_expect_items(&cl, i, "r2", "X:3,Y:1", CONVERGE_MS);
	keyed(1, "POST", "/carts/r2/items", body, "before", &c);
	ck_assert(replayed(&c));
	ctl_http_response_free(&a);
	ctl_http_response_free(&b);
	ctl_http_response_free(&c);
}
END_TEST

/* Items of a JSON array [{"sku","qty"},...] as "sku:qty,..." into buf. */
static void items_text(json_t *arr, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	size_t i;
	json_t *it;
	json_array_foreach(arr, i, it) {
		len += (size_t)snprintf(buf + len, cap - len, "%s%s:%lld", i ? "," : "",
		                        json_string_value(json_object_get(it, "sku")),
		                        json_integer_value(json_object_get(it, "qty")));
		if (len >= cap)
			break;
	}
}

/* What peer i shows of a closed cart: "orders|late_added|late_removed of
 * each order", e.g. "X:2,Y:1|Z:5|Y:1", polled until it equals want. */
static void expect_closed(int i, const char *cart, const char *want)
{
	char target[160], seen[512] = "";
	snprintf(target, sizeof target, "/carts/%s", cart);
	long long deadline = tp_now_ms() + CONVERGE_MS;
	do {
		int st;
		json_t *v = tp_json(&cl, i, "GET", target, NULL, &st);
		json_t *closed = json_object_get(v, "closed");
		seen[0] = '\0';
		if (st == 200 && closed) {
			char part[160];
			size_t len = 0, k;
			json_t *o;
			json_array_foreach(json_object_get(closed, "orders"), k, o) {
				items_text(json_object_get(o, "items"), part, sizeof part);
				len += (size_t)snprintf(seen + len, sizeof seen - len, "%s%s", k ? ";" : "", part);
			}
			items_text(json_object_get(closed, "late_added"), part, sizeof part);
			len += (size_t)snprintf(seen + len, sizeof seen - len, "|%s|", part);
			json_array_foreach(json_object_get(closed, "orders"), k, o) {
				items_text(json_object_get(o, "late_removed"), part, sizeof part);
				len += (size_t)snprintf(seen + len, sizeof seen - len, "%s%s", k ? ";" : "", part);
			}
		}
		json_decref(v);
		if (strcmp(seen, want) == 0)
			return;
		tp_sleep_ms(50);
	} while (tp_now_ms() < deadline);
	ck_abort_msg("%s: cart %s shows \"%s\", want \"%s\"", cl.peers[i].name, cart, seen, want);
}

static int status_of(int i, const char *method, const char *target, const char *body)
{
	return tp_write(&cl, i, method, target, body);
}

/* A checkout at peer 0 while peer 2 is cut off; peer 2 adds Z and removes
 * Y.  After the heal every peer shows the order X:2,Y:1 unchanged, Z as
 * late added, Y as late removed, and refuses writes. */
START_TEST(test_checkout_during_partition)
{
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, true, NULL);
	tp_add(&cl, 0, "shop", "X", 2);
	tp_add(&cl, 0, "shop", "Y", 1);
	for (int i = 0; i < 3; i++)
		tp_expect_items(&cl, i, "shop", "X:2,Y:1", CONVERGE_MS);
	block(2, (const int[]){ 0, 1 }, 2);
	int st;
	json_t *v = tp_json(&cl, 0, "POST", "/carts/shop/checkout", NULL, &st);
	ck_assert_int_eq(st, 200);
	char order[128];
	items_text(json_object_get(json_object_get(v, "order"), "items"), order, sizeof order);
	ck_assert_str_eq(order, "X:2,Y:1");
	json_decref(v);
	expect_closed(1, "shop", "X:2,Y:1||");
	ck_assert_int_eq(status_of(1, "POST", "/carts/shop/items", "{\"sku\":\"W\",\"qty\":1}"), 409);
	/* The other side has not seen it. */
	ck_assert_int_eq(status_of(2, "POST", "/carts/shop/items", "{\"sku\":\"Z\",\"qty\":5}"), 200);
	ck_assert_int_eq(status_of(2, "DELETE", "/carts/shop/items/Y", NULL), 200);
	heal(2);
	for (int i = 0; i < 3; i++) {
		expect_closed(i, "shop", "X:2,Y:1|Z:5|Y:1");
		tp_expect_items(&cl, i, "shop", "X:2,Z:5", CONVERGE_MS);
	}
	ck_assert_int_eq(status_of(2, "POST", "/carts/shop/items", "{\"sku\":\"Z\",\"qty\":1}"), 409);
	ck_assert_int_eq(status_of(2, "POST", "/carts/shop/checkout", NULL), 409);

	/* Checkouts on both sides of a cut both stand. */
	tp_add(&cl, 0, "twice", "X", 1);
	for (int i = 0; i < 3; i++)
		tp_expect_items(&cl, i, "twice", "X:1", CONVERGE_MS);
	block(2, (const int[]){ 0, 1 }, 2);
	tp_add(&cl, 2, "twice", "Y", 1);
	ck_assert_int_eq(status_of(0, "POST", "/carts/twice/checkout", NULL), 200);
	ck_assert_int_eq(status_of(2, "POST", "/carts/twice/checkout", NULL), 200);
	heal(2);
	/* Orders sort by id (replica, counter), and which peer's id is smaller
	 * is chance: either order of the two orders is right. */
	for (int i = 0; i < 3; i++) {
		long long deadline = tp_now_ms() + CONVERGE_MS;
		char seen[512] = "";
		bool ok = false;
		while (!ok && tp_now_ms() < deadline) {
			json_t *g = tp_json(&cl, i, "GET", "/carts/twice", NULL, &st);
			json_t *orders = json_object_get(json_object_get(g, "closed"), "orders");
			char o0[128] = "", o1[128] = "";
			if (json_array_size(orders) == 2) {
				items_text(json_object_get(json_array_get(orders, 0), "items"), o0, sizeof o0);
				items_text(json_object_get(json_array_get(orders, 1), "items"), o1, sizeof o1);
			}
			snprintf(seen, sizeof seen, "%s;%s", o0, o1);
			ok = strcmp(seen, "X:1;X:1,Y:1") == 0 || strcmp(seen, "X:1,Y:1;X:1") == 0;
			json_decref(g);
			if (!ok)
				tp_sleep_ms(50);
		}
		ck_assert_msg(ok, "%s shows orders \"%s\", want X:1 and X:1,Y:1", cl.peers[i].name,
		              seen);
		expect_closed(i, "twice", seen[3] == ';' ? "X:1;X:1,Y:1||;" : "X:1,Y:1;X:1||;");
	}
}
END_TEST

TCase *cluster_retries_tcase(void)
{
	TCase *t = tcase_create("retries");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_retry_at_other_peer);
	tcase_add_test(t, test_checkout_during_partition);
	return t;
}
