/*
 * check_metrics.c - /metrics against the docs and against what happens.
 *
 * Every series named in docs/api.md and docs/operations.md must be served,
 * every served series must be in docs/api.md, and each must move when the
 * thing it counts happens: real peers are driven through writes, faults,
 * a partition and its repair, a slow client and an oversized datagram, and
 * each series is polled (with a deadline) until it moves.  The few series
 * that only move on failures a black-box test cannot cause (a failing
 * disk, a full socket buffer) or that only show work in flight are listed
 * in not_driven with the reason; a documented series in neither place
 * fails the test, so a new metric needs a test or a stated reason.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

#define MOVE_MS 20000
#define MAX_FAMILIES 128

static char parent[64];
static tp_cluster cl;
static const char *const common_args[] = { "--header-timeout-ms", "500", "--body-timeout-ms",
                                           "500", "--ae-rate", "1024", "--log-size", "4096",
                                           NULL };
static const char *const slow_push_args[] = { "--header-timeout-ms", "500", "--body-timeout-ms",
                                              "500", "--ae-rate", "1024",
                                              "--flush-delay-ms", "10000", NULL };

/* Families seen to move (or hold their documented value) in this run. */
static char moved[MAX_FAMILIES][96];
static size_t nmoved;

/* Only move on failures a black-box test cannot cause, or only show work
 * in flight (0 at rest; checked to be served and 0 after the run). */
static const char *const not_driven[] = {
	"cartd_http_writes_waiting",            /* in flight */
	"cartd_pending_writes",                 /* in flight */
	"cartd_committer_queued_records",       /* in flight */
	"cartd_committer_queued_bytes",         /* in flight */
	"cartd_persist_waiting",                /* in flight */
	"cartd_fault_held_datagrams",           /* in flight (delayed datagrams) */
	"cartd_committer_records_rejected_total",  /* a full commit queue */
	"cartd_amplification_refused_total",    /* an insider's spoofing: check_insider */
	"cartd_candidates",                     /* unverified peers: check_insider */
	"cartd_candidates_evicted_total",       /* a member flood: check_insider */
	"cartd_addresses_verified_total",       /* at start-up, before the first scrape */
	"cartd_handshakes_sent_total",          /* at start-up, before the first scrape */
	"cartd_handshakes_answered_total",      /* at start-up, before the first scrape */
	"cartd_hello_probes_total",             /* at start-up, before the first scrape */
	"cartd_no_session_drops_total",         /* at start-up, before the first scrape */
	"cartd_committer_records_failed_total", /* a failing disk */
	"cartd_persist_failed_total",           /* a failing disk */
	"cartd_persist_lost_total",             /* out of memory */
	"cartd_write_commit_failed_total",      /* a failing disk */
	"cartd_checkpoint_failures_total",      /* a failing disk: check_db */
	"cartd_datagrams_rejected_total",       /* by cause: check_cluster (cert) and the net suites */
	"cartd_datagrams_decode_rejected_total",   /* by reason: check_engine (wrapping ranges) */
};

static void dir_setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-metrics");
}

static void dir_teardown(void)
{
	tt_rmtree(parent);
}

static void cl_setup(void)
{
	tp_light();
	tp_cluster_init(&cl, parent);
	cl.extra_args = common_args;
}

static void cl_teardown(void)
{
	tp_cluster_destroy(&cl);
}

/* GET /metrics of peer i as a heap string. */
static char *scrape(int i)
{
	ctl_http_request req = { .method = "GET", .target = "/metrics" };
	ctl_http_response res;
	tp_http(&cl, i, &req, &res);
	ck_assert_int_eq(res.status, 200);
	char *s = strndup(res.body, res.body_len);
	ctl_http_response_free(&res);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* The family a sample belongs to: its name, without labels and without a
 * histogram suffix. */
static void family_of(const char *sample, char *out, size_t cap)
{
	static const char hist[] = "cartd_commit_latency_seconds";   /* the one histogram */
	snprintf(out, cap, "%.*s", (int)strcspn(sample, "{"), sample);
	if (strncmp(out, hist, sizeof hist - 1) == 0)
		out[sizeof hist - 1] = '\0';
}

static void note_moved(const char *sample)
{
	char f[96];
	family_of(sample, f, sizeof f);
	for (size_t i = 0; i < nmoved; i++)
		if (strcmp(moved[i], f) == 0)
			return;
	ck_assert_uint_lt(nmoved, MAX_FAMILIES);
	snprintf(moved[nmoved++], sizeof moved[0], "%s", f);
}

/* What a probe waits for. */
enum want { UP, EQ };

typedef struct probe {
	int peer;
	const char *sample;    /* exactly as printed, labels included */
	enum want want;
	double value;          /* EQ: the value; UP: filled by take() */
} probe;

static void take(probe *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].want == UP)
			p[i].value = tp_metric(&cl, p[i].peer, p[i].sample);
}

static bool met(const probe *p, double v)
{
	return v >= 0 && (p->want == UP ? v > p->value : v == p->value);
}

/* Polls until every probe is met, or fails naming those that are not. */
static void expect(probe *p, size_t n, const char *after)
{
	long long deadline = tp_now_ms() + MOVE_MS;
	for (;;) {
		char missing[1024] = "";
		for (size_t i = 0; i < n; i++) {
			double v = tp_metric(&cl, p[i].peer, p[i].sample);
			if (!met(&p[i], v)) {
				size_t len = strlen(missing);
				snprintf(missing + len, sizeof missing - len, "\n  peer%d %s = %g (%s %g)",
				         p[i].peer, p[i].sample, v, p[i].want == UP ? "want above" : "want",
				         p[i].value);
			}
		}
		if (!missing[0])
			break;
		ck_assert_msg(tp_now_ms() < deadline, "after %s, within %d ms:%s", after, MOVE_MS,
		              missing);
		tp_sleep_ms(50);
	}
	for (size_t i = 0; i < n; i++)
		note_moved(p[i].sample);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int write_json(int i, const char *method, const char *target, const char *body)
{
	int status;
	json_t *v = tp_json(&cl, i, method, target, body, &status);
	json_decref(v);
	return status;
}

static void faults(int i, const char *body)
{
	if (body)
		ck_assert_int_eq(write_json(i, "POST", "/admin/faults", body), 200);
	else
		ck_assert_int_eq(write_json(i, "DELETE", "/admin/faults", NULL), 200);
}

/* Writes of every kind at peer 0, replicated to peer 1. */
static void drive_writes(void)
{
	/* A long, repetitive sku: its delta deflates. */
	char sku[129], body[256];
	memset(sku, 'z', 128);
	sku[128] = '\0';
	probe p[] = {
		{ 0, "cartd_http_requests_total{route=\"items\",code=\"200\"}", UP, 0 },
		{ 0, "cartd_http_requests_total{route=\"item\",code=\"200\"}", UP, 0 },
		{ 0, "cartd_http_requests_total{route=\"cart\",code=\"200\"}", UP, 0 },
		{ 0, "cartd_writes_total{op=\"add\",result=\"ok\"}", UP, 0 },
		{ 0, "cartd_writes_total{op=\"set\",result=\"ok\"}", UP, 0 },
		{ 0, "cartd_writes_total{op=\"remove\",result=\"ok\"}", UP, 0 },
		{ 0, "cartd_writes_total{op=\"clear\",result=\"ok\"}", UP, 0 },
		{ 0, "cartd_writes_total{op=\"add\",result=\"replayed\"}", UP, 0 },
		{ 0, "cartd_writes_total{op=\"checkout\",result=\"ok\"}", UP, 0 },
		{ 0, "cartd_http_requests_total{route=\"checkout\",code=\"200\"}", UP, 0 },
		{ 0, "cartd_commit_latency_seconds_count", UP, 0 },
		{ 0, "cartd_commit_latency_seconds_sum", UP, 0 },
		{ 0, "cartd_committer_records_submitted_total", UP, 0 },
		{ 0, "cartd_committer_records_written_total", UP, 0 },
		{ 0, "cartd_committer_batches_total", UP, 0 },
		{ 0, "cartd_committer_commits_total", UP, 0 },
		{ 0, "cartd_committer_bytes_total", UP, 0 },
		{ 0, "cartd_committer_syncs_total", UP, 0 },
		{ 0, "cartd_committer_commit_seconds_total", UP, 0 },
		{ 0, "cartd_committer_commit_seconds_max", UP, 0 },
		{ 0, "cartd_committer_max_batch", UP, 0 },

		{ 0, "cartd_deltas_total{direction=\"out\"}", UP, 0 },
		{ 0, "cartd_datagrams_deflated_total", UP, 0 },
		{ 0, "cartd_carts", UP, 0 },
		{ 1, "cartd_deltas_total{direction=\"in\"}", UP, 0 },
		{ 1, "cartd_carts_changed_by_replication_total", UP, 0 },
		{ 1, "cartd_persist_submitted_total", UP, 0 },
		{ 1, "cartd_carts", UP, 0 },
	};
	take(p, N(p));
	snprintf(body, sizeof body, "{\"sku\":\"%s\",\"qty\":1}", sku);
	ck_assert_int_eq(write_json(0, "POST", "/carts/w1/items", body), 200);
	ck_assert_int_eq(write_json(0, "POST", "/carts/w2/items", "{\"sku\":\"a\",\"qty\":1}"), 200);
	ck_assert_int_eq(write_json(0, "PUT", "/carts/w2/items/a", "{\"qty\":3}"), 200);
	ck_assert_int_eq(write_json(0, "DELETE", "/carts/w2/items/a", NULL), 200);
	ck_assert_int_eq(write_json(0, "DELETE", "/carts/w2", NULL), 200);
	/* A keyed add and its retry, and a checkout. */
	ctl_http_request kreq = { "POST", "/carts/w3/items", "application/json",
	                          "{\"sku\":\"a\",\"qty\":1}", 19, "Idempotency-Key: k\r\n",
	                          0, false };
	for (int k = 0; k < 2; k++) {
		ctl_http_response res;
		tp_http(&cl, 0, &kreq, &res);
		ck_assert_int_eq(res.status, 200);
		ctl_http_response_free(&res);
	}
	ck_assert_int_eq(write_json(0, "POST", "/carts/w3/checkout", NULL), 200);
	expect(p, N(p), "writes at peer0");
}

/* Writes at peer 0 until its log passes --log-size (4096 bytes) and is
 * folded.  The log's size rises with each write and drops at each fold, so
 * it counts as moving once it is seen above 0. */
static void drive_log(void)
{
	probe p[] = {
		{ 0, "cartd_checkpoints_total", UP, 0 },
		{ 0, "cartd_checkpoint_records_total", UP, 0 },
		{ 0, "cartd_checkpoint_seconds_total", UP, 0 },
	};
	take(p, N(p));
	bool log_seen = false;
	for (int k = 0; k < 400 && !(log_seen && tp_metric(&cl, 0, p[0].sample) > p[0].value); k++) {
		ck_assert_int_eq(write_json(0, "POST", "/carts/log1/items",
		                            "{\"sku\":\"a-rather-long-sku-to-fill-the-log\",\"qty\":1}"),
		                 200);
		log_seen |= tp_metric(&cl, 0, "cartd_log_bytes") > 0;
	}
	ck_assert_msg(log_seen, "cartd_log_bytes never rose above 0");
	note_moved("cartd_log_bytes");
	expect(p, N(p), "writes past --log-size");
}

/* Sets a fault at peer 0, writes until the probes are met, clears it. */
static void fault_round(const char *fault, probe *p, size_t n, int writes)
{
	take(p, n);
	faults(0, fault);
	for (int k = 0; k < writes; k++)
		ck_assert_int_eq(write_json(0, "POST", "/carts/f1/items",
		                            "{\"sku\":\"a\",\"qty\":1}"), 200);
	expect(p, n, fault);
	faults(0, NULL);
}

/* Datagrams duplicated, delayed and dropped by fault injection. */
static void drive_faults(void)
{
	probe dup[] = {
		{ 0, "cartd_fault_datagrams_total{action=\"duplicated\"}", UP, 0 },
		{ 0, "cartd_fault_duplicate_ratio", EQ, 1 },
		{ 0, "cartd_fault_injection_enabled", EQ, 1 },
	};
	fault_round("{\"duplicate\":1.0}", dup, N(dup), 1);
	probe delay[] = {
		{ 0, "cartd_fault_datagrams_total{action=\"delayed\"}", UP, 0 },
		{ 0, "cartd_fault_delay_ms", EQ, 20 },
	};
	fault_round("{\"delay_ms\":20}", delay, N(delay), 1);
	probe drop[] = {
		{ 0, "cartd_fault_datagrams_total{action=\"dropped\"}", UP, 0 },
		{ 0, "cartd_fault_drop_ratio", EQ, 0.5 },
	};
	fault_round("{\"drop\":0.5}", drop, N(drop), 8);
}

/* Peer 0 cut off from both others, written to, then healed: failure
 * detection and anti-entropy repair. */
static void drive_partition(void)
{
	char body[256];
	probe cut[] = {
		{ 0, "cartd_fault_datagrams_total{action=\"blocked\"}", UP, 0 },
		{ 0, "cartd_fault_blocked_peers", EQ, 2 },
		{ 0, "cartd_swim_suspicions_total", UP, 0 },
		{ 0, "cartd_swim_indirect_pings_total", UP, 0 },
		{ 0, "cartd_swim_deaths_total", UP, 0 },
		{ 0, "cartd_members{state=\"dead\"}", EQ, 2 },
	};
	take(cut, N(cut));
	snprintf(body, sizeof body, "{\"block\":[\"127.0.0.1:%u\",\"127.0.0.1:%u\"]}",
	         cl.peers[1].gossip_port, cl.peers[2].gossip_port);
	faults(0, body);
	expect(cut, N(cut), "peer0 cut off");

	/* Enough state that repair outruns --ae-rate 1024 B/s. */
	for (int k = 0; k < 24; k++) {
		char target[64], sku[129];
		memset(sku, 'a' + k % 26, 100);
		sku[100] = '\0';
		snprintf(target, sizeof target, "/carts/cut%d/items", k);
		snprintf(body, sizeof body, "{\"sku\":\"%s\",\"qty\":1}", sku);
		ck_assert_int_eq(write_json(0, "POST", target, body), 200);
	}
	probe heal[] = {
		{ 0, "cartd_swim_revivals_total", UP, 0 },
		{ 0, "cartd_members{state=\"alive\"}", EQ, 2 },
		{ 0, "cartd_anti_entropy_carts_sent_total", UP, 0 },
		{ 0, "cartd_anti_entropy_bytes_total", UP, 0 },
		{ 0, "cartd_anti_entropy_throttled_total", UP, 0 },
		{ 1, "cartd_anti_entropy_carts_repaired_total", UP, 0 },
	};
	take(heal, N(heal));
	faults(0, NULL);
	expect(heal, N(heal), "healing peer0");
}

/* A client that never sends its header, one that stops in its body, and
 * a datagram over --max-datagram (1200 by default). */
static void drive_edges(void)
{
	probe p[] = {
		{ 0, "cartd_http_header_timeouts_total", UP, 0 },
		{ 0, "cartd_http_body_timeouts_total", UP, 0 },
		{ 0, "cartd_udp_dropped_total{cause=\"rx_truncated\"}", UP, 0 },
	};
	take(p, N(p));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int idle = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_port = htons(cl.peers[0].http_port);
	ck_assert_int_eq(connect(idle, (struct sockaddr *)&a, sizeof a), 0);
	int stalled = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(stalled, (struct sockaddr *)&a, sizeof a), 0);
	static const char head[] = "POST /carts/m/items HTTP/1.1\r\nHost: x\r\n"
	                           "Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{";
	ck_assert_int_eq(send(stalled, head, sizeof head - 1, MSG_NOSIGNAL), (ssize_t)sizeof head - 1);
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	static char big[1500];
	a.sin_port = htons(cl.peers[0].gossip_port);
	ck_assert_int_eq(sendto(u, big, sizeof big, 0, (struct sockaddr *)&a, sizeof a),
	                 (ssize_t)sizeof big);
	expect(p, N(p), "an idle connection, a stalled body and a 1500-byte datagram");
	close(idle);
	close(stalled);
	close(u);
}

/* The background: probes, anti-entropy, traffic both ways. */
static void drive_background(void)
{
	probe p[] = {
		{ 0, "cartd_swim_pings_total", UP, 0 },
		{ 0, "cartd_swim_acks_total", UP, 0 },
		{ 0, "cartd_anti_entropy_rounds_total", UP, 0 },
		{ 0, "cartd_datagrams_total{direction=\"in\"}", UP, 0 },
		{ 0, "cartd_datagrams_total{direction=\"out\"}", UP, 0 },
		{ 0, "cartd_wire_bytes_total{direction=\"in\"}", UP, 0 },
		{ 0, "cartd_wire_bytes_total{direction=\"out\"}", UP, 0 },
		{ 0, "cartd_payload_bytes_total{direction=\"in\"}", UP, 0 },
		{ 0, "cartd_payload_bytes_total{direction=\"out\"}", UP, 0 },
		{ 0, "cartd_http_requests_total{route=\"metrics\",code=\"200\"}", UP, 0 },
		{ 0, "cartd_members_never_synced", EQ, 0 },
		{ 0, "cartd_anti_entropy_sync_age_seconds", UP, 0 },
	};
	take(p, N(p) - 1);   /* the age is compared with 0: found in sync, some time ago */
	expect(p, N(p), "the cluster running idle");
	/* Constant: one sample, value 1, naming this peer. */
	char *text = scrape(0);
	const char *info = strstr(text, "\ncartd_info{id=\"");
	ck_assert_msg(info && strstr(info, "name=\"peer0\"") &&
	              strstr(info, "} 1\n") == strchr(info, '}'), "cartd_info: %s",
	              info ? info : "(absent)");
	free(text);
	note_moved("cartd_info");
}

/* Peer 2 holds its pushes for 10 s: its queue is visible.  The first write
 * after a quiet spell is pushed at once (docs/protocol.md, Push); the
 * second, within the flush delay of that push, waits in the queue. */
static void drive_push_queue(void)
{
	probe p[] = { { 2, "cartd_push_queue_carts", UP, 0 } };
	ck_assert_int_eq(write_json(2, "POST", "/carts/q1/items", "{\"sku\":\"a\",\"qty\":1}"), 200);
	ck_assert_int_eq(write_json(2, "POST", "/carts/q2/items", "{\"sku\":\"a\",\"qty\":1}"), 200);
	expect(p, N(p), "two writes at a peer with --flush-delay-ms 10000");
}

/* Every family in a document, as "`cartd_..." spans. */
static void documented(const char *doc, char fam[][96], size_t *n, size_t cap)
{
	const char *bin = getenv("CARTD_BIN");
	char path[512];
	snprintf(path, sizeof path, "%s/../docs/%s", bin ? bin : "build", doc);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	static char text[1 << 17];
	size_t len = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[len] = '\0';
	for (const char *p = strstr(text, "`cartd_"); p; p = strstr(p + 1, "`cartd_")) {
		size_t k = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz0123456789_");
		bool dup = false;
		for (size_t i = 0; i < *n && !dup; i++)
			dup = strlen(fam[i]) == k && strncmp(fam[i], p + 1, k) == 0;
		if (dup)
			continue;
		ck_assert_uint_lt(*n, cap);
		snprintf(fam[(*n)++], 96, "%.*s", (int)k, p + 1);
	}
}

static bool served(const char *text, const char *family)
{
	char want[128];
	snprintf(want, sizeof want, "# TYPE %.95s ", family);
	return strstr(text, want) != NULL;
}

static bool listed(const char *f, char fam[][96], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(fam[i], f) == 0)
			return true;
	return false;
}

START_TEST(test_documented_series_move)
{
	tp_add_peer(&cl, true, NULL);
	tp_add_peer(&cl, true, NULL);
	cl.extra_args = slow_push_args;     /* peer2 */
	tp_add_peer(&cl, true, NULL);
	cl.extra_args = common_args;

	drive_background();
	drive_writes();
	drive_log();
	drive_faults();
	drive_push_queue();
	drive_edges();
	drive_partition();

	static char api[MAX_FAMILIES][96], ops[MAX_FAMILIES][96];
	size_t napi = 0, nops = 0;
	documented("api.md", api, &napi, MAX_FAMILIES);
	documented("operations.md", ops, &nops, MAX_FAMILIES);
	char *text = scrape(0);
	char missing[2048] = "";
	for (size_t i = 0; i < napi + nops; i++) {
		const char *f = i < napi ? api[i] : ops[i - napi];
		const char *why = !served(text, f) ? "documented, not served"
		                  : listed(f, moved, nmoved) ? NULL : "never seen to move";
		for (size_t k = 0; why && k < N(not_driven); k++)
			if (strcmp(not_driven[k], f) == 0 && served(text, f))
				why = NULL;
		if (why) {
			size_t len = strlen(missing);
			snprintf(missing + len, sizeof missing - len, "\n  %.95s (%s): %s", f,
			         i < napi ? "api.md" : "operations.md", why);
		}
	}
	/* The other way round: nothing served that api.md does not list. */
	for (const char *p = strstr(text, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
		char f[96];
		snprintf(f, sizeof f, "%.*s", (int)strcspn(p + 7, " "), p + 7);
		if (!listed(f, api, napi)) {
			size_t len = strlen(missing);
			snprintf(missing + len, sizeof missing - len, "\n  %s: served, not in api.md", f);
		}
	}
	free(text);
	ck_assert_msg(!missing[0], "metrics and docs disagree:%s", missing);
	/* Work in flight drains: the in-flight gauges read 0 at rest. */
	for (size_t k = 0; k < 6; k++)
		ck_assert_msg(tp_metric(&cl, 0, not_driven[k]) == 0, "%s not 0 at rest",
		              not_driven[k]);
}
END_TEST

Suite *metrics_suite(void);

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *t = tcase_create("metrics");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 240);
	tcase_add_test(t, test_documented_series_move);
	suite_add_tcase(s, t);
	return s;
}
