/*
 * test_node_peer.c - a whole peer (app/node*.c) on a real event loop,
 * socket and data dir: the write path (durable before done, refusals that
 * change nothing, back-pressure, no-op writes), shutdown answering what is
 * pending, restart reloading carts, keyring checks and SIGHUP reload, and
 * two peers in one loop replicating, also through injected faults.
 *
 * The tests share one mkdtemp base per test case (an unchecked fixture, so
 * the parent cleans up even when a forked test fails) and use their own
 * data dirs under it; loops run with a deadline, never with sleeps.
 */
#include <check.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/shared/log.h"
#include "app/peer/node.h"
#include "app/peer/node_internal.h"
#include "crdt/error.h"
#include "net/keyring.h"
#include "net/udp.h"
#include "tests/test_node.h"
#include "tests/test_node_peer.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static char base_dir[64];
char tnp_key[128];

static char last_key[WIRE_KEYRING_TEXT_MAX + 64];

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void write_key(const char *path, mode_t mode)
{
	char text[WIRE_KEYRING_TEXT_MAX];
	ck_assert_int_eq(wire_keyring_generate(text, sizeof text), 0);
	snprintf(last_key, sizeof last_key, "%s", text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

void tnp_fixture_setup(void)
{
	tt_mkdtemp(base_dir, sizeof base_dir, "/tmp", "cartd-check-node");
	snprintf(tnp_key, sizeof tnp_key, "%s/key", base_dir);
	write_key(tnp_key, 0600);
	log_set_level(LOG_ERROR);
}

void tnp_fixture_teardown(void)
{
	tt_rmtree(base_dir);
}

void tnp_config(node_config *c, const char *dir_name, char *dir, size_t dirlen)
{
	snprintf(dir, dirlen, "%s/%s", base_dir, dir_name);
	node_config_init(c);
	c->data_dir = dir;
	c->key_file = tnp_key;
	c->gossip_addr = "127.0.0.1:0";
	c->engine.ae_interval_ms = 50;
	c->engine.ping_interval_ms = 100;
	c->engine.ping_timeout_ms = 50;
}

static void on_done(void *arg, int rc, const crdt_cart *delta)
{
	(void)delta;
	tnp_done *d = arg;
	d->calls++;
	d->rc = rc;
}

int tnp_write(node *n, const char *cart, enum crdt_op_kind kind, const char *sku,
              uint32_t qty, tnp_done *d)
{
	crdt_op op = { kind, sku, sku ? strlen(sku) : 0, qty, NULL, NULL, 0 };
	return node_write(n, TU_IDN(cart, strlen(cart)), &op, on_done, d);
}

bool tnp_run_until(struct event_base *b, bool (*cond)(void *), void *arg)
{
	for (int i = 0; i < 20000 && !cond(arg); i++) {
		struct timeval tv = { 0, 1000 };
		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
	return cond(arg);
}

bool tnp_has_qty(void *arg)
{
	const tnp_want *w = arg;
	return tnp_qty(w->n, w->cart, w->sku) == w->qty;
}

static bool answered(void *arg)
{
	return ((tnp_done *)arg)->calls > 0;
}

uint32_t tnp_qty(const node *n, const char *cart, const char *sku)
{
	const crdt_cart *c = node_cart(n, TU_IDN(cart, strlen(cart)));
	if (!c)
		return 0;
	const crdt_line *l = crdt_cart_find(c, sku, strlen(sku));
	return l ? crdt_line_qty(l) : 0;
}

/* The token of a cart view covers the state it comes with, minus the
 * writes not yet durable (covers_cart false: it is empty); a cart never
 * written reads as none. */
static void view_covers(node *n, const char *cart, bool has_cart, bool covers_cart)
{
	node_cart_view v;
	crdt_ctx seen;
	crdt_ctx_init(&seen);
	ck_assert_int_eq(node_cart_view_get(n, TU_IDN(cart, strlen(cart)), &v), 0);
	ck_assert(v.cart == node_cart(n, TU_IDN(cart, strlen(cart))));
	ck_assert(has_cart == (v.cart != NULL));
	ck_assert_int_eq(node_token_open(n, TU_IDN(cart, strlen(cart)), v.token, strlen(v.token), &seen), 0);
	if (covers_cart)
		ck_assert(crdt_ctx_equal(&seen, &v.cart->ctx));
	else
		ck_assert(crdt_ctx_empty(&seen));
	crdt_ctx_destroy(&seen);
	node_cart_view_destroy(&v);
	ck_assert_ptr_null(v.token);
	node_cart_view_destroy(&v);   /* idempotent */
}

START_TEST(write_is_durable_then_answered)
{
	struct event_base *b = event_base_new();
	node_config c;
	char dir[128];
	tnp_config(&c, "durable", dir, sizeof dir);
	node *n;
	ck_assert_int_eq(node_new(&c, b, &n), 0);
	view_covers(n, "c1", false, false);
	tnp_done d = { 0, 1 };
	ck_assert_int_eq(tnp_write(n, "c1", CRDT_OP_ADD, "apple", 3, &d), 0);
	view_covers(n, "c1", true, false);                  /* applied, not durable */
	ck_assert_int_eq(d.calls, 0);                       /* not before the sync */
	ck_assert_uint_eq(engine_get_stats(n->eng)->pending_writes, 1);
	ck_assert(tnp_run_until(b, answered, &d));
	ck_assert_int_eq(d.rc, 0);
	ck_assert_uint_eq(engine_get_stats(n->eng)->pending_writes, 0);
	committer_stats st;
	committer_stats_get(n->com, &st);
	ck_assert_uint_ge(st.records, 1);
	node_latency lat;
	node_commit_latency(n, &lat);
	ck_assert_uint_eq(lat.total, 1);
	ck_assert_uint_eq(lat.count[NODE_LAT_BUCKETS - 1], 1);
	view_covers(n, "c1", true, true);
	/* a write that changes nothing still completes, through the committer */
	tnp_done e = { 0, 1 };
	ck_assert_int_eq(tnp_write(n, "c1", CRDT_OP_REMOVE, "pear", 0, &e), 0);
	ck_assert(tnp_run_until(b, answered, &e));
	ck_assert_int_eq(e.rc, 0);
	ck_assert_uint_eq(tnp_qty(n, "c1", "apple"), 3);
	node_free(n);
	event_base_free(b);
}
END_TEST

START_TEST(refusals_change_nothing)
{
	struct event_base *b = event_base_new();
	node_config c;
	char dir[128];
	tnp_config(&c, "refusals", dir, sizeof dir);
	c.max_pending = 1;
	node *n;
	ck_assert_int_eq(node_new(&c, b, &n), 0);
	tnp_done d = { 0, 1 }, e = { 0, 1 };
	/* (A bad cart id never gets this far: its edge refuses it.) */
	ck_assert_int_eq(tnp_write(n, "c1", CRDT_OP_ADD, "bad sku", 1, &e), CARTD_ESKU);
	ck_assert_int_eq(tnp_write(n, "c1", CRDT_OP_ADD, "x", 0, &e), CARTD_EQTY);
	ck_assert_uint_eq(engine_get_stats(n->eng)->pending_writes, 0);
	ck_assert_uint_eq(crdt_store_count(n->store), 0);
	ck_assert_int_eq(tnp_write(n, "c1", CRDT_OP_ADD, "x", 1, &d), 0);
	/* the queue holds one record: the next write is refused, untouched */
	ck_assert_int_eq(tnp_write(n, "c2", CRDT_OP_ADD, "y", 1, &e), CARTD_ENOSPC);
	ck_assert_int_eq(crdt_store_get(n->store, "c2", 2, &(crdt_item){ 0 }), CARTD_ENOTFOUND);
	ck_assert(tnp_run_until(b, answered, &d));
	ck_assert_int_eq(e.calls, 0);
	ck_assert_int_eq(tnp_write(n, "c2", CRDT_OP_ADD, "y", 1, &e), 0);
	ck_assert(tnp_run_until(b, answered, &e));
	node_free(n);
	event_base_free(b);
}
END_TEST

/* A write applied while the committer is full waits, is re-submitted after
 * the next drain, and is answered only once durable, after the earlier one.
 * White-box: the node is told it has more room than its committer. */
START_TEST(full_committer_retries)
{
	struct event_base *b = event_base_new();
	node_config c;
	char dir[128];
	tnp_config(&c, "retry", dir, sizeof dir);
	c.max_pending = 1;
	node *n;
	ck_assert_int_eq(node_new(&c, b, &n), 0);
	n->max_pending = 100;
	tnp_done d = { 0, 1 }, e = { 0, 1 };
	ck_assert_int_eq(tnp_write(n, "c1", CRDT_OP_ADD, "x", 1, &d), 0);
	ck_assert_int_eq(tnp_write(n, "c2", CRDT_OP_ADD, "y", 2, &e), 0);
	ck_assert_uint_eq(n->waiting.n, 1);              /* refused by the committer */
	ck_assert_uint_eq(tnp_qty(n, "c2", "y"), 2);     /* but applied in memory */
	ck_assert_uint_eq(engine_get_stats(n->eng)->pending_writes, 2);
	ck_assert(tnp_run_until(b, answered, &e));
	ck_assert(d.calls == 1 && d.rc == 0 && e.rc == 0);
	ck_assert_uint_eq(n->waiting.n + n->inflight.n, 0);
	ck_assert_uint_eq(engine_get_stats(n->eng)->pending_writes, 0);
	/* a foreign submission (cookie 0) is ignored by the completion handler */
	ck_assert_int_eq(committer_submit(n->com, TU_IDN("z", 1), "", 0, 0), 0);
	tnp_done f = { 0, 1 };
	ck_assert_int_eq(tnp_write(n, "c3", CRDT_OP_ADD, "z", 1, &f), 0);
	ck_assert(tnp_run_until(b, answered, &f) && f.rc == 0);
	node_free(n);
	event_base_free(b);
}
END_TEST

START_TEST(shutdown_answers_and_restart_reloads)
{
	struct event_base *b = event_base_new();
	node_config c;
	char dir[128];
	tnp_config(&c, "restart", dir, sizeof dir);
	node *n;
	ck_assert_int_eq(node_new(&c, b, &n), 0);
	uint64_t id = node_self_id(n);
	ck_assert_uint_eq(node_boot_epoch(n), 1);
	tnp_done d[5];
	for (int i = 0; i < 5; i++) {
		d[i] = (tnp_done){ 0, 1 };
		char sku[8];
		snprintf(sku, sizeof sku, "s%d", i);
		ck_assert_int_eq(tnp_write(n, "cart", CRDT_OP_SET, sku, (uint32_t)i + 1, &d[i]), 0);
	}
	node_shutdown(n);                    /* answers all five, synchronously */
	for (int i = 0; i < 5; i++)
		ck_assert(d[i].calls == 1 && d[i].rc == 0);
	tnp_done late = { 0, 1 };
	ck_assert_int_eq(tnp_write(n, "cart", CRDT_OP_ADD, "z", 1, &late), CARTD_ESHUTDOWN);
	node_shutdown(n);                    /* idempotent */
	node_free(n);
	ck_assert_int_eq(node_new(&c, b, &n), 0);
	ck_assert_uint_eq(node_self_id(n), id);
	ck_assert_uint_eq(node_boot_epoch(n), 2);
	for (int i = 0; i < 5; i++) {
		char sku[8];
		snprintf(sku, sizeof sku, "s%d", i);
		ck_assert_uint_eq(tnp_qty(n, "cart", sku), (uint32_t)i + 1);
	}
	node_free(n);
	event_base_free(b);
}
END_TEST

START_TEST(keyring_file_checks)
{
	struct event_base *b = event_base_new();
	node_config c;
	char dir[128], path[160];
	tnp_config(&c, "keys", dir, sizeof dir);
	snprintf(path, sizeof path, "%s.open", tnp_key);
	c.key_file = path;
	node *n = (node *)1;
	write_key(path, 0620);               /* group-writable: refused */
	ck_assert_int_eq(node_new(&c, b, &n), CARTD_EKEYRING);
	ck_assert_ptr_null(n);
	write_key(path, 0644);               /* world-readable: a warning only */
	ck_assert_int_eq(node_new(&c, b, &n), 0);
	char orig[sizeof last_key + 64];
	snprintf(orig, sizeof orig, "%s", last_key);
	/* SIGHUP with a broken file keeps the old keys; a good one swaps */
	FILE *f = fopen(path, "w");
	fputs("not base64!\n", f);
	fclose(f);
	ck_assert_int_eq(node_reload_keys(n), CARTD_EKEYRING);
	tnp_done d = { 0, 1 };
	ck_assert_int_eq(tnp_write(n, "c", CRDT_OP_ADD, "x", 1, &d), 0);
	ck_assert(tnp_run_until(b, answered, &d));
	/* another cluster's keyring would change the peer's identity: kept out */
	write_key(path, 0600);
	ck_assert_int_eq(node_reload_keys(n), CARTD_EKEYRING);
	/* the same keys with a revocation added swap in */
	strcat(orig, "revoke 00000000000000ab\n");
	write_text(path, orig, 0600);
	ck_assert_int_eq(node_reload_keys(n), 0);
	unlink(path);
	ck_assert_int_eq(node_reload_keys(n), CARTD_EKEYRING);
	node_free(n);
	c.key_file = "/nonexistent/key";
	ck_assert_int_eq(node_new(&c, b, &n), CARTD_EKEYRING);
	event_base_free(b);
}
END_TEST

TCase *node_peer_tcase(void)
{
	TCase *tc = tcase_create("peer");
	tcase_add_unchecked_fixture(tc, tnp_fixture_setup, tnp_fixture_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, write_is_durable_then_answered);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, full_committer_retries);
	tcase_add_test(tc, shutdown_answers_and_restart_reloads);
	tcase_add_test(tc, keyring_file_checks);
	tnp_add_cluster_tests(tc);
	tnp_add_drop_tests(tc);
	return tc;
}
