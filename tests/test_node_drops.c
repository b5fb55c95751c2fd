/*
 * test_node_drops.c - the log lines of dropped datagrams (app/peer/node_drops.c)
 * on a whole peer: one line per kind of drop per NODE_DROP_LOG_MS, saying
 * how many of that kind it did not log, decode refusals named by their
 * reason and the causes of protocol 3 by name.  The sealed datagrams come
 * from a member that shook hands with the peer over a socket of the
 * test's own (tests/test_forge.h).  stderr is pointed at a file while the
 * peer is fed.
 */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/shared/log.h"
#include "app/peer/node_internal.h"
#include "crdt/error.h"
#include "net/msg.h"
#include "net/udp.h"
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

/* The member shakes hands with n over its socket: HELLO in, the answer
 * read back from the socket, the echo in. */
static void shake(node *n, tf_peer *f, const engine_addr *from)
{
	uint8_t h[WIRE_HELLO_LEN];
	node_receive_now(n, from, h, tf_hello(f, h));
	tf_take_hello(f, 5000);
	ck_assert_uint_eq(f->peer, wire_self_id(n->w));
	node_receive_now(n, from, h, tf_echo(f, h));
}

START_TEST(drops_log_once_per_kind)
{
	node_config c;
	char dir[256];
	tnp_config(&c, "drops", dir, sizeof dir);
	struct event_base *b = event_base_new();
	node *n;
	ck_assert_int_eq(node_new(&c, b, &n), 0);
	tf_peer f;
	tf_open(&f, tnp_key, 77);
	engine_addr from = tf_addr(&f);
	char from_s[UDP_ADDRSTR_MAX], where[UDP_ADDRSTR_MAX + 8];
	udp_addr_format(&from, from_s, sizeof from_s);
	snprintf(where, sizeof where, "from=%s", from_s);
	shake(n, &f, &from);
	uint8_t junk[60] = { 'C', 'T', WIRE_VERSION, 1 };   /* sequence 0: a bad header */
	uint8_t v9[60] = { 'C', 'T', 9, 1 };
	uint8_t groups[256];
	size_t glen = tf_wrapping_groups(&f, groups, sizeof groups);

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
	const char *dec = strstr(out, "cause=decode reason=ae_groups_range ");
	ck_assert_msg(dec && strstr(dec, where) == dec + strlen("cause=decode reason=ae_groups_range "),
	              "want %s after the reason; log:\n%s", where, out);

	/* A period later each kind logs again, with what it held back. */
	for (size_t k = 0; k < NODE_DROP_KINDS; k++)
		n->drops.last_ms[k] -= NODE_DROP_LOG_MS;
	capture_begin();
	node_receive_now(n, &from, v9, sizeof v9);
	node_receive_now(n, &from, v9, sizeof v9);
	/* the causes of protocol 3 log under their own names: a replay of the
	 * sealed datagram, and one sealed for another peer */
	node_receive_now(n, &from, groups, glen);
	/* ... and each has a kind of its own: one after the other, none hides
	 * the next (docs/protocol.md, the table of checks) */
	static const struct { size_t at; uint8_t flip; const char *cause; } cut[] = {
		{ 17, 1, "receiver" },      /* receiver id */
		{ 29, 1, "epoch" },         /* receiver epoch */
		{ 9, 1, "session" },        /* sender id: no session with it */
		{ 40, 0x40, "seq_jump" },   /* sequence, top byte */
	};
	for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
		groups[cut[i].at] ^= cut[i].flip;
		node_receive_now(n, &from, groups, glen);
		groups[cut[i].at] ^= cut[i].flip;
	}
	out = capture_end();
	ck_assert_msg(count_of(out, "event=dgram_rejected") == 6, "log:\n%s", out);
	ck_assert_msg(strstr(out, "cause=version") && strstr(out, "suppressed=4"), "log:\n%s", out);
	ck_assert_msg(strstr(out, "level=info event=dgram_rejected cause=replay"), "log:\n%s", out);
	for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
		char want[64];
		snprintf(want, sizeof want, "event=dgram_rejected cause=%s ", cut[i].cause);
		ck_assert_msg(count_of(out, want) == 1, "want one %s; log:\n%s", want, out);
	}
	log_set_level(LOG_ERROR);

	const wire_stats *ws = wire_get_stats(n->w);
	ck_assert_uint_eq(ws->rej_version, 7);
	ck_assert_uint_eq(ws->rej_header, 5);
	ck_assert_uint_eq(ws->rej_replay, 1);
	ck_assert_uint_eq(ws->rej_receiver, 1);
	ck_assert_uint_eq(ws->rej_epoch, 1);
	ck_assert_uint_eq(ws->rej_session, 1);
	ck_assert_uint_eq(ws->rej_jump, 1);
	ck_assert_uint_eq(engine_get_stats(n->eng)->rej_reason[MSG_AE_GROUPS][REJECT_F_RANGE], 1);
	tf_close(&f);
	node_free(n);
	event_base_free(b);
}
END_TEST

void tnp_add_drop_tests(TCase *tc)
{
	tcase_add_test(tc, drops_log_once_per_kind);
}
