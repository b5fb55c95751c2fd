/*
 * test_node_idem.c - node suite, tcase "idempotency": keyed writes and
 * checkouts through the API layer and a real peer (event loop, data dir,
 * committer), as the HTTP transport drives them: api_prepare, api_call_op,
 * node_write, and the answer rendered when the write completes.
 *
 * A retry answers byte for byte what the first attempt answered, marked a
 * replay, applies nothing, waits for the first attempt to be durable, and
 * is recognised after a restart and past the key's window; the same key
 * with another request is refused within the window.  A checkout answers
 * its order, closes the cart to every write, shows the order on GET, and
 * refuses an empty cart and a token ahead of the peer; writes the checkout
 * did not see show as late items.
 */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "app/http/api.h"
#include "app/peer/fault.h"
#include "app/peer/node.h"
#include "app/peer/node_internal.h"
#include "crdt/error.h"
#include "net/udp.h"
#include "tests/test_node.h"
#include "tests/test_node_peer.h"
#include "tests/test_util.h"

#define ADD_APPLE "{\"sku\":\"apple\",\"qty\":2}"

static const api_limits lim = { .fault_routes = false };

/* One request, and its answer once there is one. */
typedef struct areq {
	node *n;
	api_call call;
	api_response res;
	int calls, rc;
	int order;                 /* completions so far when this one came */
} areq;

static int completions;

static void on_api_done(void *arg, int rc, const crdt_cart *delta)
{
	areq *q = arg;
	q->calls++;
	q->rc = rc;
	q->order = ++completions;
	api_write_result(q->n, &q->call, rc, delta, &q->res);
}

static int no_metrics(void *arg, char **text, size_t *len)
{
	(void)arg; (void)text; (void)len;
	return CARTD_ENOMEM;
}

/* Starts a request as app/http/http.c does; a read or a refusal is answered
 * at once, a write when it completes. */
static void start(areq *q, node *n, const char *method, const char *target, const char *body,
                  const char *key, const char *prefer)
{
	api_request req = {
		.method = method, .target = target,
		.content_type = body ? "application/json" : NULL,
		.body = body ? body : "", .body_len = body ? strlen(body) : 0, .prefer = prefer,
		.idem_key = key, .idem_key_len = key ? strlen(key) : 0, .idem_keys = key ? 1 : 0,
	};
	memset(q, 0, sizeof *q);
	q->n = n;
	api_call_init(&q->call);
	enum api_action a = api_prepare(&lim, &req, &q->call, &q->res);
	if (a == API_A_WRITE || a == API_A_CHECKOUT) {
		crdt_op op;
		int rc = api_call_op(n, &q->call, &op);
		if (rc == 0)
			rc = node_write(n, TU_IDN(q->call.cart, q->call.cart_len), &op, on_api_done, q);
		if (rc != 0)
			on_api_done(q, rc, NULL);
		return;
	}
	if (a != API_A_NONE)
		api_execute(n, &q->call, no_metrics, NULL, &q->res);
	q->calls = 1;
}

static bool answered(void *arg)
{
	return ((areq *)arg)->calls > 0;
}

static void finish(struct event_base *b, areq *q)
{
	ck_assert_msg(tnp_run_until(b, answered, q), "no answer");
	ck_assert_int_eq(q->calls, 1);
}

static void request(struct event_base *b, areq *q, node *n, const char *method,
                    const char *target, const char *body, const char *key)
{
	start(q, n, method, target, body, key, NULL);
	finish(b, q);
}

static void release(areq *q)
{
	api_call_destroy(&q->call);
	api_response_destroy(&q->res);
}

/* A request that must be refused with status and code, changing nothing. */
static void expect_refused(struct event_base *b, node *n, const char *method,
                           const char *target, const char *body, const char *key,
                           unsigned status, const char *code)
{
	areq q;
	request(b, &q, n, method, target, body, key);
	char want[80];
	snprintf(want, sizeof want, "\"code\":\"%s\"", code);
	ck_assert_msg(q.res.status == status && strstr(q.res.body, want) && !q.res.replayed,
	              "%s %s: %u %s, want %u %s", method, target, q.res.status, q.res.body,
	              status, code);
	release(&q);
}

/* The answer's body parsed (the caller decrefs). */
static json_t *body_of(const areq *q)
{
	json_t *v = json_loadb(q->res.body, q->res.body_len, 0, NULL);
	ck_assert_msg(v != NULL, "not JSON: %s", q->res.body ? q->res.body : "(none)");
	return v;
}

static node *start_node(struct event_base *b, const char *name, char *dir, size_t cap,
                        uint32_t window_s)
{
	node_config c;
	node *n;
	tnp_config(&c, name, dir, cap);
	if (window_s)
		c.idem_window_s = window_s;
	ck_assert_int_eq(node_new(&c, b, &n), 0);
	return n;
}

START_TEST(keyed_add_replayed_byte_identical)
{
	struct event_base *b = event_base_new();
	char dir[128];
	node *n = start_node(b, "idem-add", dir, sizeof dir, 0);
	areq first, again;
	request(b, &first, n, "POST", "/carts/c1/items", ADD_APPLE, "k1");
	ck_assert_int_eq(first.rc, 0);
	ck_assert_uint_eq(first.res.status, 200);
	ck_assert_str_eq(first.res.body, "{\"cart\":\"c1\",\"idempotency_key\":\"k1\",\"write\":"
	                 "{\"op\":\"add\",\"sku\":\"apple\",\"qty\":2}}\n");
	ck_assert(!first.res.replayed);
	request(b, &again, n, "POST", "/carts/c1/items", ADD_APPLE, "\"k1\"");
	ck_assert_int_eq(again.rc, CARTD_EIDEMPOTENT);
	ck_assert_uint_eq(again.res.status, 200);
	ck_assert_str_eq(again.res.body, first.res.body);
	ck_assert(again.res.replayed);
	ck_assert_uint_eq(tnp_qty(n, "c1", "apple"), 2);          /* counted once */
	release(&again);
	/* The replay of a write sent with return=minimal is 204 too. */
	start(&again, n, "POST", "/carts/c1/items", ADD_APPLE, "k1", "return=minimal");
	finish(b, &again);
	ck_assert(again.res.status == 204 && again.res.replayed && again.res.body_len == 0);
	release(&again);
	/* The same key with another request: refused, nothing applied. */
	expect_refused(b, n, "POST", "/carts/c1/items", "{\"sku\":\"apple\",\"qty\":3}", "k1",
	               422, "idempotency_key_reused");
	expect_refused(b, n, "DELETE", "/carts/c1", NULL, "k1", 422, "idempotency_key_reused");
	ck_assert_uint_eq(tnp_qty(n, "c1", "apple"), 2);
	/* Keys belong to their cart: k1 is free on c2. */
	request(b, &again, n, "POST", "/carts/c2/items", ADD_APPLE, "k1");
	ck_assert(again.rc == 0 && !again.res.replayed);
	release(&again);
	/* A write without a key answers the cart, as before keys existed. */
	request(b, &again, n, "POST", "/carts/c1/items", ADD_APPLE, NULL);
	ck_assert_ptr_nonnull(strstr(again.res.body, "{\"cart\":\"c1\",\"items\":[{\"sku\":\"apple\","
	                                             "\"qty\":4}],\"token\":\""));
	release(&again);
	release(&first);
	node_free(n);
	event_base_free(b);
}
END_TEST

/* A retry that arrives while the first attempt is still being committed
 * is answered after it, never before: a replay confirms only what is on
 * disk. */
START_TEST(replay_answered_after_first_attempt)
{
	struct event_base *b = event_base_new();
	char dir[128];
	node *n = start_node(b, "idem-order", dir, sizeof dir, 0);
	areq first, again;
	completions = 0;
	start(&first, n, "PUT", "/carts/c1/items/pear", "{\"qty\":5}", "set-5", NULL);
	start(&again, n, "PUT", "/carts/c1/items/pear", "{\"qty\":5}", "set-5", NULL);
	ck_assert_int_eq(first.calls + again.calls, 0);
	finish(b, &again);
	finish(b, &first);
	ck_assert_int_eq(first.rc, 0);
	ck_assert_int_eq(again.rc, CARTD_EIDEMPOTENT);
	ck_assert_int_lt(first.order, again.order);
	ck_assert_str_eq(again.res.body, first.res.body);
	ck_assert_uint_eq(tnp_qty(n, "c1", "pear"), 5);
	release(&first);
	release(&again);
	node_free(n);
	event_base_free(b);
}
END_TEST

/* A first attempt the committer could not take yet waits, applied; its
 * retry waits behind it rather than confirming it early, even when the
 * retry could be submitted first.  White-box, as in test_node_peer.c: the
 * node is told it has more room than its committer, and the first attempt
 * is not due again for a while, as after a failed commit. */
START_TEST(replay_waits_for_first_attempt_not_yet_submitted)
{
	struct event_base *b = event_base_new();
	node_config c;
	char dir[128];
	tnp_config(&c, "idem-waiting", dir, sizeof dir);
	c.max_pending = 1;
	node *n;
	ck_assert_int_eq(node_new(&c, b, &n), 0);
	n->max_pending = 100;
	areq fill, first, again;
	completions = 0;
	start(&fill, n, "POST", "/carts/c0/items", ADD_APPLE, NULL, NULL);
	start(&first, n, "POST", "/carts/c1/items", ADD_APPLE, "k1", NULL);
	start(&again, n, "POST", "/carts/c1/items", ADD_APPLE, "k1", NULL);
	ck_assert_uint_eq(n->waiting.n, 2);              /* both held back */
	ck_assert_ptr_eq(n->waiting.head->arg, &first);
	n->waiting.head->retry_at_ms = node_now_ms(n) + 300;
	finish(b, &again);
	ck_assert(first.calls == 1 && first.rc == 0);
	ck_assert_int_lt(first.order, again.order);
	ck_assert(again.rc == CARTD_EIDEMPOTENT && again.res.replayed);
	ck_assert_str_eq(again.res.body, first.res.body);
	release(&fill);
	release(&first);
	release(&again);
	node_free(n);
	event_base_free(b);
}
END_TEST

/* The key is durable with the write: after a restart the retry is still a
 * replay, for a write and for a checkout. */
START_TEST(replay_after_restart)
{
	struct event_base *b = event_base_new();
	char dir[128];
	node *n = start_node(b, "idem-restart", dir, sizeof dir, 0);
	areq q, r;
	request(b, &q, n, "POST", "/carts/c1/items", ADD_APPLE, "k1");
	request(b, &r, n, "POST", "/carts/c2/items", ADD_APPLE, NULL);
	release(&r);
	request(b, &r, n, "POST", "/carts/c2/checkout", NULL, "order-1");
	ck_assert_uint_eq(r.res.status, 200);
	node_shutdown(n);
	node_free(n);
	n = start_node(b, "idem-restart", dir, sizeof dir, 0);
	areq again;
	request(b, &again, n, "POST", "/carts/c1/items", ADD_APPLE, "k1");
	ck_assert(again.rc == CARTD_EIDEMPOTENT && again.res.replayed);
	ck_assert_str_eq(again.res.body, q.res.body);
	ck_assert_uint_eq(tnp_qty(n, "c1", "apple"), 2);
	release(&again);
	request(b, &again, n, "POST", "/carts/c2/checkout", NULL, "order-1");
	ck_assert(again.res.status == 200 && again.res.replayed);
	ck_assert_str_eq(again.res.body, r.res.body);
	release(&again);
	release(&q);
	release(&r);
	node_free(n);
	event_base_free(b);
}
END_TEST

/* A replayed remove or clear applies nothing: an item added since stays. */
START_TEST(replayed_remove_and_clear_apply_nothing)
{
	struct event_base *b = event_base_new();
	char dir[128];
	node *n = start_node(b, "idem-rm", dir, sizeof dir, 0);
	areq q, again;
	request(b, &q, n, "POST", "/carts/c1/items", ADD_APPLE, NULL);
	release(&q);
	request(b, &q, n, "DELETE", "/carts/c1/items/apple", NULL, "rm-1");
	ck_assert_str_eq(q.res.body, "{\"cart\":\"c1\",\"idempotency_key\":\"rm-1\",\"write\":"
	                 "{\"op\":\"remove\",\"sku\":\"apple\"}}\n");
	ck_assert_uint_eq(tnp_qty(n, "c1", "apple"), 0);
	release(&q);
	request(b, &q, n, "DELETE", "/carts/c1", NULL, "clear-1");
	release(&q);
	request(b, &q, n, "POST", "/carts/c1/items", ADD_APPLE, NULL);
	release(&q);
	request(b, &again, n, "DELETE", "/carts/c1/items/apple", NULL, "rm-1");
	ck_assert(again.res.replayed && again.res.status == 200);
	release(&again);
	request(b, &again, n, "DELETE", "/carts/c1", NULL, "clear-1");
	ck_assert(again.res.replayed && again.res.status == 200);
	release(&again);
	ck_assert_uint_eq(tnp_qty(n, "c1", "apple"), 2);
	node_free(n);
	event_base_free(b);
}
END_TEST

/* Past the window the key may be used for another request; a retry of
 * the first request is still a replay (its dot is in the cart for ever). */
START_TEST(key_free_past_window_replay_kept)
{
	struct event_base *b = event_base_new();
	char dir[128];
	node *n = start_node(b, "idem-window", dir, sizeof dir, 1);
	areq q;
	request(b, &q, n, "POST", "/carts/c1/items", ADD_APPLE, "k1");
	release(&q);
	expect_refused(b, n, "POST", "/carts/c1/items", "{\"sku\":\"pear\",\"qty\":1}", "k1",
	               422, "idempotency_key_reused");
	uint64_t end = node_wall_ms(n) + 1100;
	while (node_wall_ms(n) < end) {
		struct timeval tv = { 0, 20000 };
		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
	request(b, &q, n, "POST", "/carts/c1/items", "{\"sku\":\"pear\",\"qty\":1}", "k1");
	ck_assert(q.rc == 0 && !q.res.replayed);
	release(&q);
	request(b, &q, n, "POST", "/carts/c1/items", ADD_APPLE, "k1");
	ck_assert(q.rc == CARTD_EIDEMPOTENT && q.res.replayed);
	release(&q);
	ck_assert_uint_eq(tnp_qty(n, "c1", "apple"), 2);
	ck_assert_uint_eq(tnp_qty(n, "c1", "pear"), 1);
	node_free(n);
	event_base_free(b);
}
END_TEST

/* The order a checkout answers, with its id from this peer's replica. */
static json_t *checkout_order(const areq *q)
{
	ck_assert_msg(q->res.status == 200, "checkout: %u %s", q->res.status, q->res.body);
	json_t *v = body_of(q), *order = json_object_get(v, "order");
	ck_assert_ptr_nonnull(order);
	ck_assert(json_is_true(json_object_get(order, "complete")));
	ck_assert(json_integer_value(json_object_get(order, "at_ms")) > 1700000000000);
	json_incref(order);
	json_decref(v);
	return order;
}

START_TEST(checkout_answers_order_and_closes_cart)
{
	struct event_base *b = event_base_new();
	char dir[128];
	node *n = start_node(b, "idem-checkout", dir, sizeof dir, 0);
	areq q;
	request(b, &q, n, "POST", "/carts/c1/items", ADD_APPLE, NULL);
	release(&q);
	request(b, &q, n, "PUT", "/carts/c1/items/pear", "{\"qty\":1}", NULL);
	release(&q);
	request(b, &q, n, "POST", "/carts/c1/checkout", NULL, NULL);
	json_t *order = checkout_order(&q);
	char *items = json_dumps(json_object_get(order, "items"), JSON_COMPACT);
	ck_assert_str_eq(items, "[{\"sku\":\"apple\",\"qty\":2},{\"sku\":\"pear\",\"qty\":1}]");
	free(items);
	release(&q);
	/* Every write is refused from now on, keyed or not, checkout too. */
	expect_refused(b, n, "POST", "/carts/c1/items", ADD_APPLE, NULL, 409, "cart_closed");
	expect_refused(b, n, "PUT", "/carts/c1/items/apple", "{\"qty\":9}", NULL, 409, "cart_closed");
	expect_refused(b, n, "DELETE", "/carts/c1/items/apple", NULL, "k9", 409, "cart_closed");
	expect_refused(b, n, "DELETE", "/carts/c1", NULL, NULL, 409, "cart_closed");
	expect_refused(b, n, "POST", "/carts/c1/checkout", NULL, NULL, 409, "cart_closed");
	/* GET: the items as they were, and the order, nothing late. */
	request(b, &q, n, "GET", "/carts/c1", NULL, NULL);
	json_t *v = body_of(&q), *closed = json_object_get(v, "closed");
	ck_assert_uint_eq(json_array_size(json_object_get(v, "items")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(closed, "orders")), 1);
	json_t *got = json_array_get(json_object_get(closed, "orders"), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(got, "late_removed")), 0);
	json_object_del(got, "late_removed");
	ck_assert(json_equal(got, order));
	ck_assert_uint_eq(json_array_size(json_object_get(closed, "late_added")), 0);
	json_decref(v);
	json_decref(order);
	release(&q);
	node_free(n);
	event_base_free(b);
}
END_TEST

/* A keyed checkout's replay answers the same order, even though the cart
 * is closed by then; another checkout under another key is refused. */
START_TEST(keyed_checkout_replayed)
{
	struct event_base *b = event_base_new();
	char dir[128];
	node *n = start_node(b, "idem-checkout-key", dir, sizeof dir, 0);
	areq q, again;
	request(b, &q, n, "POST", "/carts/c1/items", ADD_APPLE, NULL);
	release(&q);
	request(b, &q, n, "POST", "/carts/c1/checkout", NULL, "order-7");
	ck_assert(q.res.status == 200 && !q.res.replayed);
	request(b, &again, n, "POST", "/carts/c1/checkout", NULL, "order-7");
	ck_assert(again.res.status == 200 && again.res.replayed);
	ck_assert_str_eq(again.res.body, q.res.body);
	release(&again);
	expect_refused(b, n, "POST", "/carts/c1/checkout", NULL, "order-8", 409, "cart_closed");
	release(&q);
	node_free(n);
	event_base_free(b);
}
END_TEST

START_TEST(checkout_of_empty_cart_refused)
{
	struct event_base *b = event_base_new();
	char dir[128];
	node *n = start_node(b, "idem-empty", dir, sizeof dir, 0);
	expect_refused(b, n, "POST", "/carts/never/checkout", NULL, NULL, 422, "cart_empty");
	areq q;
	request(b, &q, n, "POST", "/carts/c1/items", ADD_APPLE, NULL);
	release(&q);
	request(b, &q, n, "DELETE", "/carts/c1", NULL, NULL);
	release(&q);
	expect_refused(b, n, "POST", "/carts/c1/checkout", NULL, "k", 422, "cart_empty");
	/* Refused, so not closed: the cart still takes writes. */
	request(b, &q, n, "POST", "/carts/c1/items", ADD_APPLE, NULL);
	ck_assert_uint_eq(q.res.status, 200);
	release(&q);
	node_free(n);
	event_base_free(b);
}
END_TEST

/* With a token, the order is what the token saw; a later add stays live
 * and shows as a late item. */
START_TEST(checkout_with_token_orders_what_was_seen)
{
	struct event_base *b = event_base_new();
	char dir[128], target[512];
	node *n = start_node(b, "idem-token", dir, sizeof dir, 0);
	areq q;
	request(b, &q, n, "POST", "/carts/c1/items", ADD_APPLE, NULL);
	json_t *v = body_of(&q);
	snprintf(target, sizeof target, "/carts/c1/checkout?token=%s",
	         json_string_value(json_object_get(v, "token")));
	json_decref(v);
	release(&q);
	request(b, &q, n, "POST", "/carts/c1/items", "{\"sku\":\"pear\",\"qty\":3}", NULL);
	release(&q);
	request(b, &q, n, "POST", target, NULL, NULL);
	json_t *order = checkout_order(&q);
	char *items = json_dumps(json_object_get(order, "items"), JSON_COMPACT);
	ck_assert_str_eq(items, "[{\"sku\":\"apple\",\"qty\":2}]");
	free(items);
	json_decref(order);
	release(&q);
	request(b, &q, n, "GET", "/carts/c1", NULL, NULL);
	v = body_of(&q);
	items = json_dumps(json_object_get(json_object_get(v, "closed"), "late_added"), JSON_COMPACT);
	ck_assert_str_eq(items, "[{\"sku\":\"pear\",\"qty\":3}]");
	free(items);
	json_decref(v);
	release(&q);
	node_free(n);
	event_base_free(b);
}
END_TEST

static bool is_closed(void *arg)
{
	const crdt_cart *c = node_cart(arg, TU_IDN("c1", 2));
	return c && crdt_cart_closed(c);
}

/* Two peers, cut apart.  A token read at A names a write B has not
 * received: B refuses a checkout under it (token_ahead).  A checks out;
 * B, not knowing, adds a pear and removes the apple.  Healed: both show
 * the order with the apple, the apple removed from it since, the pear as
 * a late item, and refuse writes. */
START_TEST(partitioned_checkout_late_items_and_token_ahead)
{
	tnp_pair p;
	tnp_pair_start(&p, "idem-late", true);
	areq q;
	request(p.base, &q, p.a, "POST", "/carts/c1/items", ADD_APPLE, NULL);
	release(&q);
	tnp_want w = { p.b, "c1", "apple", 2 };
	ck_assert_msg(tnp_run_until(p.base, tnp_has_qty, &w), "apple never reached B");
	engine_addr b_addr;
	ck_assert_int_eq(udp_resolve(node_gossip_addr(p.b), 0, &b_addr, NULL, 0), 0);
	ck_assert_int_eq(fault_block_addr(p.a->faults, &b_addr), 0);
	request(p.base, &q, p.a, "POST", "/carts/c1/items", "{\"sku\":\"fig\",\"qty\":1}", NULL);
	json_t *v = body_of(&q);
	char target[512];
	snprintf(target, sizeof target, "/carts/c1/checkout?token=%s",
	         json_string_value(json_object_get(v, "token")));
	json_decref(v);
	release(&q);
	expect_refused(p.base, p.b, "POST", target, NULL, NULL, 409, "token_ahead");
	request(p.base, &q, p.a, "POST", "/carts/c1/checkout", NULL, "order-1");
	ck_assert_uint_eq(q.res.status, 200);
	release(&q);
	request(p.base, &q, p.b, "POST", "/carts/c1/items", "{\"sku\":\"pear\",\"qty\":1}", NULL);
	ck_assert_uint_eq(q.res.status, 200);
	release(&q);
	request(p.base, &q, p.b, "DELETE", "/carts/c1/items/apple", NULL, NULL);
	ck_assert_uint_eq(q.res.status, 200);
	release(&q);
	ck_assert_int_eq(fault_unblock_addr(p.a->faults, &b_addr), 0);
	tnp_want pear = { p.a, "c1", "pear", 1 };
	ck_assert_msg(tnp_run_until(p.base, tnp_has_qty, &pear), "B's late add never reached A");
	ck_assert_msg(tnp_run_until(p.base, is_closed, p.b), "the checkout never reached B");
	tnp_want apple = { p.a, "c1", "apple", 0 };
	ck_assert(tnp_run_until(p.base, tnp_has_qty, &apple));
	node *peers[2] = { p.a, p.b };
	for (int i = 0; i < 2; i++) {
		request(p.base, &q, peers[i], "GET", "/carts/c1", NULL, NULL);
		v = body_of(&q);
		json_t *closed = json_object_get(v, "closed");
		json_t *order = json_array_get(json_object_get(closed, "orders"), 0);
		char *s = json_dumps(json_object_get(order, "items"), JSON_COMPACT);
		ck_assert_str_eq(s, "[{\"sku\":\"apple\",\"qty\":2},{\"sku\":\"fig\",\"qty\":1}]");
		free(s);
		s = json_dumps(json_object_get(order, "late_removed"), JSON_COMPACT);
		ck_assert_str_eq(s, "[{\"sku\":\"apple\",\"qty\":2}]");
		free(s);
		s = json_dumps(json_object_get(closed, "late_added"), JSON_COMPACT);
		ck_assert_str_eq(s, "[{\"sku\":\"pear\",\"qty\":1}]");
		free(s);
		json_decref(v);
		release(&q);
		expect_refused(p.base, peers[i], "POST", "/carts/c1/items", ADD_APPLE, NULL, 409,
		               "cart_closed");
	}
	tnp_pair_stop(&p);
}
END_TEST

TCase *node_idem_tcase(void)
{
	TCase *tc = tcase_create("idempotency");
	tcase_add_unchecked_fixture(tc, tnp_fixture_setup, tnp_fixture_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, keyed_add_replayed_byte_identical);
	tcase_add_test(tc, replay_answered_after_first_attempt);
	tcase_add_test(tc, replay_waits_for_first_attempt_not_yet_submitted);
	tcase_add_test(tc, replay_after_restart);
	tcase_add_test(tc, replayed_remove_and_clear_apply_nothing);
	tcase_add_test(tc, key_free_past_window_replay_kept);
	tcase_add_test(tc, checkout_answers_order_and_closes_cart);
	tcase_add_test(tc, keyed_checkout_replayed);
	tcase_add_test(tc, checkout_of_empty_cart_refused);
	tcase_add_test(tc, checkout_with_token_orders_what_was_seen);
	tcase_add_test(tc, partitioned_checkout_late_items_and_token_ahead);
	return tc;
}
