/*
 * test_node_drops.c - the log lines of dropped datagrams (app/node_drops.c)
 * on a whole peer: one line per kind of drop per NODE_DROP_LOG_MS, saying
 * how many of that kind it did not log, and decode refusals named by their
 * reason.  stderr is pointed at a file while the peer is fed.
 */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/log.h"
#include "app/node_internal.h"
#include "crdt/error.h"
#include "net/msg.h"
#include "tests/test_forge.h"
#include "tests/test_node_peer.h"

static int saved_fd = -1, cap_fd = -1;

static void capture_begin(void)
{
	char path[] = "/tmp/cartd-check-drops-XXXXXX";
	cap_fd = mkstemp(path);
	ck_assert_int_ge(cap_fd, 0);
	unlink(path);
	fflush(stderr);
	saved_fd = dup(STDERR_FILENO);
	dup2(cap_fd, STDERR_FILENO);
}

/* Stops capturing; returns what was written (static buffer). */
static const char *capture_end(void)
{
	static char buf[16384];
	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	ssize_t n = pread(cap_fd, buf, sizeof buf - 1, 0);
	close(cap_fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static int count_of(const char *text, const char *word)
{
	int n = 0;
	for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
		n++;
	return n;
}

START_TEST(drops_log_once_per_kind)
{
	node_config c;
	char dir[256];
	tnp_config(&c, "drops", dir, sizeof dir);
	struct event_base *b = event_base_new();
	node *n;
	ck_assert_int_eq(node_new(&c, b, &n), 0);
	engine_addr from = { 7, { 4, 0x1f, 0x90, 127, 0, 0, 9 } };
	uint8_t junk[60] = { 'C', 'T', WIRE_VERSION, 1 };   /* sequence 0: a bad header */
	uint8_t v9[60] = { 'C', 'T', 9, 1 };
	uint8_t groups[256];
	size_t glen = tf_wrapping_groups(tnp_key, 77, groups, sizeof groups);

	log_set_level(LOG_INFO);
	capture_begin();
	for (int i = 0; i < 5; i++) {
		node_receive_now(n, &from, junk, sizeof junk);
		node_receive_now(n, &from, v9, sizeof v9);
	}
	node_receive_now(n, &from, groups, glen);
	const char *out = capture_end();
	ck_assert_msg(count_of(out, "event=dgram_rejected") == 3, "log:\n%s", out);
	ck_assert_msg(count_of(out, "cause=header") == 1, "log:\n%s", out);
	char ours[32];
	snprintf(ours, sizeof ours, "our_version=%u", WIRE_VERSION);
	ck_assert_msg(strstr(out, "cause=version") && strstr(out, "received_version=9") &&
	              strstr(out, ours), "log:\n%s", out);
	ck_assert_msg(strstr(out, "cause=decode reason=ae_groups_range from=127.0.0.9:8080"),
	              "log:\n%s", out);

	/* A period later each kind logs again, with what it held back. */
	for (size_t k = 0; k < NODE_DROP_KINDS; k++)
		n->drops.last_ms[k] -= NODE_DROP_LOG_MS;
	capture_begin();
	node_receive_now(n, &from, v9, sizeof v9);
	node_receive_now(n, &from, v9, sizeof v9);
	out = capture_end();
	ck_assert_msg(count_of(out, "event=dgram_rejected") == 1, "log:\n%s", out);
	ck_assert_msg(strstr(out, "cause=version") && strstr(out, "suppressed=4"), "log:\n%s", out);
	log_set_level(LOG_ERROR);

	node_stats st;
	node_stats_get(n, &st);
	const wire_stats *ws = wire_get_stats(node_wire(n));
	ck_assert_uint_eq(ws->rej_version, 7);
	ck_assert_uint_eq(engine_get_stats(node_engine(n))->rej_reason[MSG_AE_GROUPS][REJECT_F_RANGE], 1);
	node_free(n);
	event_base_free(b);
}
END_TEST

void tnp_add_drop_tests(TCase *tc)
{
	tcase_add_test(tc, drops_log_once_per_kind);
}
