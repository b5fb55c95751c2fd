/*
 * check_drops.c - a running cartd against datagrams it must drop, as an
 * operator would see it: each drop counted under its cause (a decode
 * failure also under its reason) in /metrics, a log line naming it, and
 * the peer replicating on as before.
 *
 * The sender is a member minted from the cluster's development keyring,
 * with a session over a socket of the test's own (tests/test_forge.h):
 *
 *   oversize   longer than --max-datagram (cut by the socket)
 *   version    our magic with another protocol version byte
 *   decode     an authentic AE_GROUPS whose first + count wraps 32 bits,
 *              through the session: it used to crash the peer
 *   and every other cause a datagram from outside can have: header,
 *   cluster, self, receiver, session, epoch, seq_jump, auth, replay (cert
 *   and revoked are check_attack.c; inflate, a member's bomb, is
 *   check_flood.c)
 *
 * A flood of sealed-looking datagrams under made-up sender ids leaves the
 * peer's memory and its log bounded.  And the docs: every cause and reason
 * they name exists, and every one that exists is documented.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/http/metrics.h"
#include "net/msg.h"
#include "net/reject.h"
#include "net/wire.h"
#include "tests/test_forge.h"
#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

Suite *drops_suite(void);

#define WAIT_MS 15000

static char parent[64];
static tp_cluster cl;

static void dir_setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-drops");
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

/* Polls peer i's sample until it reaches at least want. */
static void wait_metric(int i, const char *sample, double want)
{
	long long deadline = tp_now_ms() + WAIT_MS;
	double v;
	while ((v = tp_metric(&cl, i, sample)) < want && tp_now_ms() < deadline)
		tp_sleep_ms(50);
	ck_assert_msg(v >= want, "%s: %g, want >= %g", sample, v, want);
}

static double cause(int i, const char *name)
{
	char sample[96];
	snprintf(sample, sizeof sample, "cartd_datagrams_rejected_total{cause=\"%s\"}", name);
	return tp_metric(&cl, i, sample);
}

/* Sends d to peer 0 and waits until its counter of cause moved by one. */
static void expect_cause(tf_peer *f, const char *name, const uint8_t *d, size_t n)
{
	char sample[96];
	snprintf(sample, sizeof sample, "cartd_datagrams_rejected_total{cause=\"%s\"}", name);
	double before = tp_metric(&cl, 0, sample);
	tf_send(f, cl.peers[0].gossip_port, d, n);
	wait_metric(0, sample, before + 1);
}

/* Lines of peer i's log holding every one of the words. */
static int log_lines(int i, const char *const *words, size_t n)
{
	char line[1024];
	int hits = 0;
	FILE *f = fopen(cl.peers[i].log, "r");
	while (f && fgets(line, sizeof line, f)) {
		size_t k = 0;
		while (k < n && strstr(line, words[k]))
			k++;
		hits += k == n;
	}
	if (f)
		fclose(f);
	return hits;
}

/* Polls peer i's log until it holds a line with every one of the words. */
static void wait_log(int i, const char *const *words, size_t n)
{
	long long deadline = tp_now_ms() + WAIT_MS;
	while (log_lines(i, words, n) == 0 && tp_now_ms() < deadline)
		tp_sleep_ms(50);
	ck_assert_msg(log_lines(i, words, n) > 0, "%s: no log line with %s ... %s", cl.peers[i].name,
	              words[0], words[n - 1]);
}

/* Both ways between peers 0 and 1. */
static void still_replicating(const char *cart)
{
	tp_add(&cl, 0, cart, "pear", 1);
	tp_add(&cl, 1, cart, "plum", 1);
	tp_expect_items(&cl, 1, cart, "pear:1,plum:1", WAIT_MS);
	tp_expect_items(&cl, 0, cart, "pear:1,plum:1", WAIT_MS);
}

START_TEST(test_drops_counted_logged_survived)
{
	tp_add_peer(&cl, false, NULL);
	tp_add_peer(&cl, false, NULL);
	tp_add(&cl, 0, "before", "apple", 1);
	tp_expect_items(&cl, 1, "before", "apple:1", WAIT_MS);
	tf_peer f;
	tf_open(&f, cl.key, 0x5eed);

	static uint8_t big[WIRE_MAX_DATAGRAM_DEFAULT + 1];
	memset(big, 'x', sizeof big);
	expect_cause(&f, "oversize", big, sizeof big);
	const char *const oversize[] = { "event=dgram_rejected", "cause=oversize",
	                                 "max_datagram=1200" };
	wait_log(0, oversize, 3);

	uint8_t other[64] = { 'C', 'T', WIRE_VERSION + 1, 1 };   /* a newer release */
	expect_cause(&f, "version", other, sizeof other);
	char received[32], ours[32];
	snprintf(received, sizeof received, "received_version=%u", WIRE_VERSION + 1);
	snprintf(ours, sizeof ours, "our_version=%u", WIRE_VERSION);
	const char *const version[] = { "event=dgram_rejected", "cause=version", received, ours };
	wait_log(0, version, 4);

	tf_shake(&f, cl.peers[0].gossip_port);
	uint8_t d[WIRE_MAX_DATAGRAM_DEFAULT];
	size_t n = tf_wrapping_groups(&f, d, sizeof d);
	expect_cause(&f, "decode", d, n);
	wait_metric(0, "cartd_datagrams_decode_rejected_total{reason=\"ae_groups_range\"}", 1);
	const char *const decode[] = { "event=dgram_rejected", "cause=decode",
	                               "reason=ae_groups_range" };
	wait_log(0, decode, 3);

	still_replicating("after");
	tf_close(&f);
}
END_TEST

START_TEST(test_every_cause_counted)
{
	tp_add_peer(&cl, false, NULL);
	tp_add_peer(&cl, false, NULL);
	tf_peer f;
	tf_open(&f, cl.key, 0xcafe);
	tf_shake(&f, cl.peers[0].gossip_port);
	uint64_t p0 = f.peer;
	uint32_t e0 = wire_session_epoch(f.w, p0);
	uint64_t me = wire_self_id(f.w);
	uint32_t tag = wire_cluster_tag("cartd");
	uint8_t d[WIRE_MAX_DATAGRAM_DEFAULT], s[WIRE_MAX_DATAGRAM_DEFAULT];
	uint8_t status[8] = { 1 };
	size_t n = tf_seal(&f, MSG_AE_STATUS, status, sizeof status, s, sizeof s);
	/* a real datagram of the member's first (the peer reads in order): the
	 * sequence bound counts from the newest accepted */
	double decode0 = cause(0, "decode");
	tf_send(&f, cl.peers[0].gossip_port, s, n);

	/* a sender the peer holds no session with */
	wire_hdr_spec h = { 0x0ddba11, p0, 1, e0, 1 };
	expect_cause(&f, "session", d, tf_forge(d, &h, tag, 8));
	h = (wire_hdr_spec){ me, p0 ^ 1, 1, e0, 1 };
	expect_cause(&f, "receiver", d, tf_forge(d, &h, tag, 8));
	h = (wire_hdr_spec){ me, p0, 7, e0, 1 };
	expect_cause(&f, "epoch", d, tf_forge(d, &h, tag, 8));
	h = (wire_hdr_spec){ me, p0, 1, e0, 1ull << 40 };
	expect_cause(&f, "seq_jump", d, tf_forge(d, &h, tag, 8));
	h = (wire_hdr_spec){ me, p0, 1, e0, 1000 };
	expect_cause(&f, "auth", d, tf_forge(d, &h, tag, 8));
	h = (wire_hdr_spec){ p0, p0, 1, e0, 1 };
	expect_cause(&f, "self", d, tf_forge(d, &h, tag, 8));
	h = (wire_hdr_spec){ me, p0, 1, e0, 1 };
	expect_cause(&f, "cluster", d, tf_forge(d, &h, tag ^ 1, 8));
	h.seq = 0;
	expect_cause(&f, "header", d, tf_forge(d, &h, tag, 8));
	/* the member's datagram again */
	expect_cause(&f, "replay", s, n);
	ck_assert(cause(0, "decode") == decode0);
	const char *const auth[] = { "event=dgram_rejected", "cause=auth" };
	const char *const replay[] = { "level=info event=dgram_rejected", "cause=replay" };
	wait_log(0, auth, 2);
	wait_log(0, replay, 2);
	/* none of it changed a cart or a session */
	still_replicating("after-causes");
	ck_assert(tp_metric(&cl, 0, "cartd_members{state=\"alive\"}") >= 1);
	tf_close(&f);
}
END_TEST

static long rss_kb(pid_t pid)
{
	char path[64], line[128];
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	ck_assert_msg(kb > 0, "no VmRSS for pid %d", (int)pid);
	return kb;
}

START_TEST(test_forged_id_flood_bounded)
{
	enum { N = 20000, BATCH = 500 };
	tp_add_peer(&cl, false, NULL);
	tp_add_peer(&cl, false, NULL);
	tp_add(&cl, 0, "before", "apple", 1);
	tp_expect_items(&cl, 1, "before", "apple:1", WAIT_MS);
	tf_peer f;
	tf_open(&f, cl.key, 0xf100d);
	tf_shake(&f, cl.peers[0].gossip_port);
	uint64_t p0 = f.peer;
	uint32_t e0 = wire_session_epoch(f.w, p0), tag = wire_cluster_tag("cartd");
	double session0 = cause(0, "session");
	long rss0 = rss_kb(cl.peers[0].pid);
	long long t0 = tp_now_ms();
	uint8_t d[200];
	/* in batches, each waited for, so the socket buffer never overflows */
	for (int k = 0; k < N; k += BATCH) {
		for (int j = 0; j < BATCH; j++) {
			wire_hdr_spec h = { 0xf0e6000000000000ull + (uint64_t)(k + j), p0, 1, e0, 1 };
			tf_send(&f, cl.peers[0].gossip_port, d, tf_forge(d, &h, tag, 64));
		}
		wait_metric(0, "cartd_datagrams_rejected_total{cause=\"session\"}",
		            session0 + k + BATCH);
	}
	long grown = rss_kb(cl.peers[0].pid) - rss0;
	const char *const session[] = { "event=dgram_rejected", "cause=session" };
	int lines = log_lines(0, session, 2);
	printf("forged ids: %d datagrams, RSS %+ld kB, %d log lines\n", N, grown, lines);
	/* Under ASan freed memory stays in the quarantine: no bound to check. */
	ck_assert_msg(grown < 4096 || tp_sanitized(), "RSS grew %ld kB", grown);
	/* one line per 10 s per kind of drop, at most */
	int allowed = 1 + (int)((tp_now_ms() - t0) / 10000);
	ck_assert_msg(lines >= 1 && lines <= allowed, "%d log lines for %d drops, %d allowed", lines,
	              N, allowed);
	ck_assert(tp_metric(&cl, 0, "cartd_candidates") == 0);
	still_replicating("after-flood");
	tf_close(&f);
}
END_TEST

/* ---- the docs name what exists ---------------------------------------- */

static char *slurp(const char *doc)
{
	const char *bin = getenv("CARTD_BIN");
	char path[512];
	snprintf(path, sizeof path, "%s/../docs/%s", bin ? bin : "build", doc);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	static char buf[1 << 18];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	ck_assert_uint_lt(n, sizeof buf - 1);
	buf[n] = '\0';
	return strdup(buf);
}

static bool is_cause(const char *s, size_t len)
{
	for (size_t i = 0; i < METRICS_NCAUSES; i++)
		if (strlen(metrics_reject_causes[i]) == len &&
		    memcmp(metrics_reject_causes[i], s, len) == 0)
			return true;
	return false;
}

static bool is_reason(const char *s, size_t len)
{
	char name[48];
	for (unsigned r = 0; r < REJECT_ROWS; r++)
		for (unsigned f = 0; f < REJECT_NFIELDS; f++)
			if (reject_valid(r, f) && strlen(reject_name(r, f, name, sizeof name)) == len &&
			    memcmp(name, s, len) == 0)
				return true;
	return false;
}

static size_t word_len(const char *p)
{
	size_t n = 0;
	while ((p[n] >= 'a' && p[n] <= 'z') || p[n] == '_')
		n++;
	return n;
}

/* Every key="value" or key=value with a lower-case value in text must pass
 * ok(); returns how many were checked. */
static size_t check_named(const char *doc, const char *text, const char *key,
                          bool (*ok)(const char *, size_t))
{
	size_t seen = 0, klen = strlen(key);
	for (const char *p = strstr(text, key); p; p = strstr(p + 1, key)) {
		const char *v = p + klen;
		if (*v == '"')
			v++;
		size_t n = word_len(v);
		if (n == 0)
			continue;
		ck_assert_msg(ok(v, n), "%s names %s%.*s, which does not exist", doc, key, (int)n, v);
		seen++;
	}
	return seen;
}

/* The backticked names in the rows of protocol.md's reason table. */
static size_t check_reason_table(const char *text)
{
	const char *t = strstr(text, "| message | reasons |");
	ck_assert_ptr_nonnull(t);
	const char *end = strstr(t, "\n\n");
	size_t seen = 0;
	for (const char *p = strchr(t, '`'); p && p < end; p = strchr(p + 1, '`')) {
		size_t n = word_len(p + 1);
		if (n == 0 || p[1 + n] != '`')
			continue;
		ck_assert_msg(is_reason(p + 1, n), "protocol.md lists reason %.*s, which does not exist",
		              (int)n, p + 1);
		seen++;
		p += n + 1;
	}
	return seen;
}

START_TEST(test_docs_name_real_causes_and_reasons)
{
	static const char *const docs[] = { "protocol.md", "operations.md", "api.md" };
	char *text[3];
	size_t causes = 0, reasons = 0;
	for (int i = 0; i < 3; i++) {
		text[i] = slurp(docs[i]);
		causes += check_named(docs[i], text[i], "cause=", is_cause);
		/* reason= is also a key of other events (keyring_reload_failed):
		 * only the metric label and the decode log line are ours. */
		reasons += check_named(docs[i], text[i], "{reason=\"", is_reason);
		reasons += check_named(docs[i], text[i], "cause=decode reason=", is_reason);
	}
	ck_assert_uint_gt(causes, 5);
	ck_assert_uint_gt(reasons, 2);
	/* Conversely: api.md lists every cause, protocol.md every reason. */
	ck_assert_uint_gt(check_reason_table(text[0]), 40);
	for (size_t i = 0; i < METRICS_NCAUSES; i++) {
		char want[40];
		snprintf(want, sizeof want, "`%s`", metrics_reject_causes[i]);
		const char *row = strstr(text[2], "datagrams_rejected_total{cause}");
		ck_assert_ptr_nonnull(row);
		const char *eol = strchr(row, '\n');
		const char *hit = strstr(row, want);
		ck_assert_msg(hit && hit < eol, "api.md does not list cause %s", want);
	}
	char name[48];
	for (unsigned r = 0; r < REJECT_ROWS; r++)
		for (unsigned f = 0; f < REJECT_NFIELDS; f++) {
			if (!reject_valid(r, f))
				continue;
			char want[52];
			snprintf(want, sizeof want, "`%s`", reject_name(r, f, name, sizeof name));
			ck_assert_msg(strstr(text[0], want), "protocol.md does not list reason %s", want);
		}
	for (int i = 0; i < 3; i++)
		free(text[i]);
}
END_TEST

Suite *drops_suite(void)
{
	Suite *s = suite_create("drops");
	TCase *t = tcase_create("processes");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_drops_counted_logged_survived);
	tcase_add_test(t, test_every_cause_counted);
	tcase_add_test(t, test_forged_id_flood_bounded);
	suite_add_tcase(s, t);
	TCase *d = tcase_create("docs");
	tcase_add_test(d, test_docs_name_real_causes_and_reasons);
	suite_add_tcase(s, d);
	return s;
}
