/*
 * test_cluster_carts.c - cluster suite, tcase "carts": the cart semantics
 * of docs/semantics.md §5-6 with real processes on loopback.  Acknowledged
 * adds to one hot line, sent one after another to random peers, all count;
 * a full line refuses adds with line_full; a remove under a token read at
 * one peer and sent, during a cut, to a peer that has not received what
 * the token covers takes it away everywhere after the heal; a token is good
 * only for its cart, unedited, under the cluster's token keys.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

TCase *cluster_carts_tcase(void);

#define CONVERGE_MS 15000

static char parent[64];
static tp_cluster cl;

static void dir_setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-carts");
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

/* A request expecting status and, for an error, its code. */
static void expect_answer(int i, const char *method, const char *target, const char *body,
                          int status, const char *code)
{
	int got;
	json_t *v = tp_json(&cl, i, method, target, body, &got);
	const char *c = json_string_value(json_object_get(json_object_get(v, "error"), "code"));
	ck_assert_msg(got == status && (code == NULL || (c && strcmp(c, code) == 0)),
	              "%s %s at %s: %d %s, want %d %s", method, target, cl.peers[i].name, got,
	              c ? c : "", status, code ? code : "");
	json_decref(v);
}

/* One client, N adds of one sku, each to a random peer of three and each
 * acknowledged before the next: every peer ends with exactly N.  Then the
 * line fills up at CRDT_MAX_LINE_ENTRIES entries and adds get line_full,
 * while a set still works. */
START_TEST(test_hot_line_sequential_adds)
{
	const int n = tp_light() ? 100 : 1000;
	char want[64];
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, false, NULL);
	unsigned seed = (unsigned)tp_now_ms();
	srand(seed);
	for (int k = 0; k < n; k++)
		tp_add(&cl, rand() % 3, "hot", "X", 1);
	snprintf(want, sizeof want, "X:%d", n);
	for (int i = 0; i < 3; i++)
		tp_expect_items(&cl, i, "hot", want, CONVERGE_MS);
	/* Fill the line to 1024 entries at peer 0, then it refuses. */
	for (int k = n; k < 1024; k++)
		tp_add(&cl, 0, "hot", "X", 1);
	tp_expect_items(&cl, 1, "hot", "X:1024", CONVERGE_MS);
	expect_answer(0, "POST", "/carts/hot/items", "{\"sku\":\"X\",\"qty\":1}", 422, "line_full");
	expect_answer(1, "POST", "/carts/hot/items", "{\"sku\":\"X\",\"qty\":1}", 422, "line_full");
	expect_answer(1, "PUT", "/carts/hot/items/X", "{\"qty\":1025}", 200, NULL);
	tp_add(&cl, 2, "hot", "Y", 1);   /* other lines are not affected */
	for (int i = 0; i < 3; i++)
		tp_expect_items(&cl, i, "hot", "X:1025,Y:1", CONVERGE_MS);
	tp_add(&cl, 0, "hot", "X", 1);   /* the set compacted the line */
	for (int i = 0; i < 3; i++)
		tp_expect_items(&cl, i, "hot", "X:1026,Y:1", CONVERGE_MS);
	fprintf(stderr, "carts: %d sequential adds at random peers (seed %u) all counted\n", n, seed);
}
END_TEST

/* Read at A; cut B off; B never receives d; DELETE d at B under A's token;
 * heal: d is gone everywhere, and e, added at A after the read, stays. */
START_TEST(test_token_remove_at_lagging_peer)
{
	char body[256], target[1024];
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, true, NULL);
	tp_add(&cl, 0, "lag", "a", 1);
	for (int i = 0; i < 3; i++)
		tp_expect_items(&cl, i, "lag", "a:1", CONVERGE_MS);
	/* Peer1 can block only members it knows: it learns peer2 by gossip. */
	snprintf(body, sizeof body, "{\"block\":[\"127.0.0.1:%u\",\"127.0.0.1:%u\"]}",
	         cl.peers[0].gossip_port, cl.peers[2].gossip_port);
	long long deadline = tp_now_ms() + CONVERGE_MS;
	int status;
	while ((status = tp_write(&cl, 1, "POST", "/admin/faults", body)) != 200 &&
	       tp_now_ms() < deadline)
		tp_sleep_ms(50);
	ck_assert_msg(status == 200, "peer1 could not block peers 0 and 2: %d", status);
	tp_add(&cl, 0, "lag", "d", 1);
	tp_expect_items(&cl, 2, "lag", "a:1,d:1", CONVERGE_MS);
	char *tok = tp_token(&cl, 0, "lag");
	tp_add(&cl, 0, "lag", "e", 1);
	char seen[256];
	tp_items(&cl, 1, "lag", seen, sizeof seen);
	ck_assert_msg(strcmp(seen, "a:1") == 0, "the cut leaked to peer1: %s", seen);
	snprintf(target, sizeof target, "/carts/lag/items/d?token=%s", tok);
	ck_assert_int_eq(tp_write(&cl, 1, "DELETE", target, NULL), 200);
	ck_assert_int_eq(tp_write(&cl, 1, "DELETE", "/admin/faults", NULL), 200);
	for (int i = 0; i < 3; i++)
		tp_expect_items(&cl, i, "lag", "a:1,e:1", CONVERGE_MS);
	free(tok);
}
END_TEST

/* A token is good for its own cart only, unedited, and under the keys of
 * the cluster; each refusal has its own code and removes nothing. */
START_TEST(test_token_refusals)
{
	char target[1024], path[300], seen[256];
	tp_add_peer(&cl, false, NULL);
	snprintf(path, sizeof path, "%s/other.key", cl.base);
	tp_keygen(path);
	int other = tp_add_peer(&cl, false, path);
	tp_add(&cl, 0, "c1", "apple", 1);
	tp_add(&cl, 0, "c2", "apple", 1);
	tp_add(&cl, other, "c2", "apple", 1);
	char *t1 = tp_token(&cl, 0, "c1"), *foreign = tp_token(&cl, other, "c2");
	snprintf(target, sizeof target, "/carts/c2/items/apple?token=%s", t1);
	expect_answer(0, "DELETE", target, NULL, 422, "token_wrong_cart");
	snprintf(target, sizeof target, "/carts/c2?token=%s", t1);
	expect_answer(0, "DELETE", target, NULL, 422, "token_wrong_cart");
	/* One character of the MAC changed, within the alphabet. */
	size_t len = strlen(t1);
	t1[len - 3] = t1[len - 3] == 'A' ? 'B' : 'A';
	snprintf(target, sizeof target, "/carts/c1/items/apple?token=%s", t1);
	expect_answer(0, "DELETE", target, NULL, 403, "token_forged");
	snprintf(target, sizeof target, "/carts/c2/items/apple?token=%s", foreign);
	expect_answer(0, "DELETE", target, NULL, 409, "token_unknown_key");
	tp_items(&cl, 0, "c1", seen, sizeof seen);
	ck_assert_str_eq(seen, "apple:1");
	tp_items(&cl, 0, "c2", seen, sizeof seen);
	ck_assert_str_eq(seen, "apple:1");
	free(t1);
	free(foreign);
}
END_TEST

TCase *cluster_carts_tcase(void)
{
	TCase *t = tcase_create("carts");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_hot_line_sequential_adds);
	tcase_add_test(t, test_token_remove_at_lagging_peer);
	tcase_add_test(t, test_token_refusals);
	return t;
}
