/*
 * check_drops.c - a running cartd against datagrams it must drop, as an
 * operator would see it: each drop counted under its cause (and a decode
 * failure under its reason) in /metrics, one log line naming it, and the
 * peer replicating on as before.
 *
 *   oversize   a datagram longer than --max-datagram (cut by the socket)
 *   version    our magic with another protocol version byte
 *   decode     an authentic AE_GROUPS whose first + count wraps 32 bits
 *              (sealed with the cluster's own key, as a key holder could):
 *              it used to crash the peer
 *
 * And the docs: every cause and reason they name exists, and every one
 * that exists is documented.
 */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/metrics.h"
#include "net/msg.h"
#include "net/reject.h"
#include "net/wire.h"
#include "tests/test_forge.h"
#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

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

/* Sends one datagram to peer i's gossip port from a fresh socket. */
static void send_raw(int i, const uint8_t *d, size_t len)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in to = { .sin_family = AF_INET,
	                          .sin_port = htons((uint16_t)cl.peers[i].gossip_port) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(sendto(fd, d, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
	close(fd);
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

/* Polls peer i's log until it holds a line with every one of the words. */
static void wait_log(int i, const char *const *words, size_t n)
{
	long long deadline = tp_now_ms() + WAIT_MS;
	char line[1024];
	do {
		FILE *f = fopen(cl.peers[i].log, "r");
		while (f && fgets(line, sizeof line, f)) {
			size_t k = 0;
			while (k < n && strstr(line, words[k]))
				k++;
			if (k == n) {
				fclose(f);
				return;
			}
		}
		if (f)
			fclose(f);
		tp_sleep_ms(50);
	} while (tp_now_ms() < deadline);
	ck_abort_msg("%s: no log line with %s ... %s", cl.peers[i].name, words[0], words[n - 1]);
}

static void add(int i, const char *cart, const char *sku)
{
	char target[128];
	int status;
	snprintf(target, sizeof target, "/carts/%s/items", cart);
	char body[128];
	snprintf(body, sizeof body, "{\"sku\":\"%s\",\"qty\":1}", sku);
	json_decref(tp_json(&cl, i, "POST", target, body, &status));
	ck_assert_int_eq(status, 200);
}

START_TEST(test_drops_counted_logged_survived)
{
	tp_add_peer(&cl, false, NULL);
	tp_add_peer(&cl, false, NULL);
	add(0, "before", "apple");
	tp_expect_items(&cl, 1, "before", "apple:1", WAIT_MS);

	static uint8_t big[WIRE_MAX_DATAGRAM_DEFAULT + 1];
	memset(big, 'x', sizeof big);
	send_raw(0, big, sizeof big);
	wait_metric(0, "cartd_datagrams_rejected_total{cause=\"oversize\"}", 1);
	const char *const oversize[] = { "event=dgram_rejected", "cause=oversize",
	                                 "max_datagram=1200" };
	wait_log(0, oversize, 3);

	uint8_t other[64] = { 'C', 'T', WIRE_VERSION + 1, 1 };   /* a newer release */
	send_raw(0, other, sizeof other);
	wait_metric(0, "cartd_datagrams_rejected_total{cause=\"version\"}", 1);
	char received[32], ours[32];
	snprintf(received, sizeof received, "received_version=%u", WIRE_VERSION + 1);
	snprintf(ours, sizeof ours, "our_version=%u", WIRE_VERSION);
	const char *const version[] = { "event=dgram_rejected", "cause=version", received, ours };
	wait_log(0, version, 4);

	uint8_t d[WIRE_MAX_DATAGRAM_DEFAULT];
	size_t n = tf_wrapping_groups(cl.key, 0x5eed, d, sizeof d);
	send_raw(0, d, n);
	wait_metric(0, "cartd_datagrams_decode_rejected_total{reason=\"ae_groups_range\"}", 1);
	wait_metric(0, "cartd_datagrams_rejected_total{cause=\"decode\"}", 1);
	const char *const decode[] = { "event=dgram_rejected", "cause=decode",
	                               "reason=ae_groups_range" };
	wait_log(0, decode, 3);

	/* Still alive and replicating, both ways. */
	add(0, "after", "pear");
	add(1, "after", "plum");
	tp_expect_items(&cl, 1, "after", "pear:1,plum:1", WAIT_MS);
	tp_expect_items(&cl, 0, "after", "pear:1,plum:1", WAIT_MS);
}
END_TEST

/* ---- the docs name what exists ---------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: cannot open (run from the source tree)", path);
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
	static const char *const docs[] = { "docs/protocol.md", "docs/operations.md", "docs/api.md" };
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

Suite *drops_suite(void);

Suite *drops_suite(void)
{
	Suite *s = suite_create("drops");
	TCase *t = tcase_create("processes");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 90);
	tcase_add_test(t, test_drops_counted_logged_survived);
	suite_add_tcase(s, t);
	TCase *d = tcase_create("docs");
	tcase_add_test(d, test_docs_name_real_causes_and_reasons);
	suite_add_tcase(s, d);
	return s;
}
