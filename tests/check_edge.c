/*
 * check_edge.c - the HTTP edge of a real cartd, byte by byte over raw
 * sockets: requests that are malformed as HTTP (RFC 9112) get a 400 with
 * the API's JSON error and change nothing; well-formed variants still
 * work; a client that trickles its header is cut off by the header
 * deadline (--header-timeout-ms), one that trickles its body by the body
 * deadline (--body-timeout-ms), and each cut is counted.  A bad address
 * on the command line stops cartd before it touches its data dir.
 *
 * The API's own 4xx answers (routes, ids, bodies) are in check_cluster.c
 * and check_api.c; this file is about what reaches the API at all.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

#define HEADER_MS "500"
#define BODY_MS "700"
#define TRICKLE_CAP_MS 30000

static char parent[64];
static tp_cluster cl;
static const char *const edge_args[] = { "--header-timeout-ms", HEADER_MS,
                                         "--body-timeout-ms", BODY_MS, NULL };

static void dir_setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-edge");
}

static void dir_teardown(void)
{
	tt_rmtree(parent);
}

static void cl_setup(void)
{
	tp_light();
	tp_cluster_init(&cl, parent);
	cl.extra_args = edge_args;
}

static void cl_teardown(void)
{
	tp_cluster_destroy(&cl);
}

static int connect_peer(int i)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(cl.peers[i].http_port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

/* True once buf holds a whole response (header and Content-Length body). */
static bool complete(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	if (!end)
		return false;
	const char *cl_hdr = strcasestr(buf, "\r\nContent-Length:");
	size_t body = cl_hdr && cl_hdr < end ? strtoul(cl_hdr + 17, NULL, 10) : 0;
	return len - (size_t)(end + 4 - buf) >= body;
}

/*
 * Sends len raw bytes to peer 0, reads one response, and returns its status
 * (0 if the peer closed without answering).  When the body is a JSON error,
 * its code goes to code.
 */
static int raw(const char *req, size_t len, char *code, size_t cap)
{
	static char buf[16384];
	size_t got = 0;
	int fd = connect_peer(0);
	ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	while (got < sizeof buf - 1 && !complete(buf, got)) {
		ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	code[0] = '\0';
	int status = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return 0;
	const char *body = strstr(buf, "\r\n\r\n");
	json_t *v = body ? json_loads(body + 4, 0, NULL) : NULL;
	json_t *e = json_object_get(v, "error");
	const char *c = json_string_value(json_object_get(e, "code"));
	if (c && json_is_string(json_object_get(e, "message")) && json_object_size(v) == 1)
		snprintf(code, cap, "%s", c);
	json_decref(v);
	return status;
}

#define BODY "{\"sku\":\"pear\",\"qty\":1}"
#define JSON_HDR "Content-Type: application/json\r\n"
#define POST_ITEMS(target) "POST " target " HTTP/1.1\r\nHost: x\r\n" JSON_HDR

/* sizeof - 1: the requests hold NUL bytes, so strlen would cut them. */
#define R(s) s, sizeof(s) - 1

static const struct malformed {
	const char *what;
	const char *req;
	size_t len;
	const char *code;
} malformed[] = {
	{ "NUL in the target of a clear", R("DELETE /carts/c1\0zzz HTTP/1.1\r\nHost: x\r\n\r\n"),
	  "bad_target" },
	{ "NUL in the target of an add",
	  R(POST_ITEMS("/carts/c1/items\0zzz") "Content-Length: 22\r\n\r\n" BODY), "bad_target" },
	{ "NUL in the query", R("DELETE /carts/c1?token=\0x HTTP/1.1\r\nHost: x\r\n\r\n"),
	  "bad_target" },
	{ "space in the target", R("DELETE /carts/c1 x HTTP/1.1\r\nHost: x\r\n\r\n"),
	  "bad_target" },
	{ "two different Content-Length",
	  R(POST_ITEMS("/carts/c1/items") "Content-Length: 22\r\nContent-Length: 5\r\n\r\n" BODY),
	  "bad_length" },
	{ "two equal Content-Length",
	  R(POST_ITEMS("/carts/c1/items") "Content-Length: 22\r\nContent-Length: 22\r\n\r\n" BODY),
	  "bad_length" },
	{ "Content-Length with chunked",
	  R(POST_ITEMS("/carts/c1/items") "Content-Length: 22\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n16\r\n" BODY "\r\n0\r\n\r\n"), "bad_length" },
	{ "chunked twice",
	  R(POST_ITEMS("/carts/c1/items") "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n16\r\n" BODY "\r\n0\r\n\r\n"), "bad_length" },
	{ "Transfer-Encoding other than chunked",
	  R(POST_ITEMS("/carts/c1/items") "Transfer-Encoding: gzip, chunked\r\n"
	    "\r\n16\r\n" BODY "\r\n0\r\n\r\n"), "bad_length" },
	{ "HTTP/1.1 without Host, a write",
	  R("POST /carts/c1/items HTTP/1.1\r\n" JSON_HDR "Content-Length: 22\r\n\r\n" BODY),
	  "missing_host" },
	{ "HTTP/1.1 without Host, a clear", R("DELETE /carts/c1 HTTP/1.1\r\n\r\n"), "missing_host" },
	{ "two Host headers", R("DELETE /carts/c1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
	  "missing_host" },
	{ "NUL in a header value",
	  R("POST /carts/c1/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\0junk\r\n"
	    "Content-Length: 22\r\n\r\n" BODY), "bad_header" },
	{ "NUL in the Host value", R("DELETE /carts/c1 HTTP/1.1\r\nHost: x\0y\r\n\r\n"),
	  "bad_header" },
	{ "CR inside a header value", R("DELETE /carts/c1 HTTP/1.1\r\nHost: x\ry\r\n\r\n"),
	  "bad_header" },
	{ "space before the colon", R("DELETE /carts/c1 HTTP/1.1\r\nHost : x\r\n\r\n"),
	  "bad_header" },
	{ "folded header line", R("DELETE /carts/c1 HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n"),
	  "bad_header" },
};

START_TEST(test_malformed)
{
	char code[64], seen[256];
	tp_add_peer(&cl, false, NULL);
	ck_assert_int_eq(raw(R(POST_ITEMS("/carts/c1/items") "Content-Length: 23\r\n\r\n"
	                       "{\"sku\":\"apple\",\"qty\":1}"), code, sizeof code), 200);
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		const struct malformed *m = &malformed[i];
		int status = raw(m->req, m->len, code, sizeof code);
		ck_assert_msg(status == 400 && strcmp(code, m->code) == 0,
		              "%s: got %d %s, want 400 %s", m->what, status, code, m->code);
	}
	/* Nothing above was applied. */
	tp_items(&cl, 0, "c1", seen, sizeof seen);
	ck_assert_str_eq(seen, "apple:1");
}
END_TEST

/* What the strict edge must still let through. */
START_TEST(test_wellformed)
{
	char code[64], seen[256];
	tp_add_peer(&cl, false, NULL);
	ck_assert_int_eq(raw(R(POST_ITEMS("/carts/w1/items") "Content-Length: 22\r\n\r\n" BODY),
	                     code, sizeof code), 200);
	ck_assert_int_eq(raw(R(POST_ITEMS("/carts/w1/items") "Transfer-Encoding: chunked\r\n"
	                       "\r\n16\r\n" BODY "\r\n0\r\n\r\n"), code, sizeof code), 200);
	ck_assert_int_eq(raw(R("GET /carts/w1 HTTP/1.0\r\n\r\n"), code, sizeof code), 200);
	ck_assert_int_eq(raw(R("GET /carts/w1 HTTP/1.1\r\nhost:x\r\nX-A:  b \t\r\n\r\n"),
	                     code, sizeof code), 200);
	ck_assert_int_eq(raw(R("GET /carts/w1 HTTP/1.1\nHost: x\n\n"), code, sizeof code), 200);
	/* Big headers, which make the server grow its buffer while parsing,
	 * are no NUL in disguise. */
	static char big[24000];
	size_t n = (size_t)snprintf(big, sizeof big, "GET /carts/w1 HTTP/1.1\r\nHost: x\r\n");
	for (int k = 0; k < 40; k++)
		n += (size_t)snprintf(big + n, sizeof big - n, "X-H%d: v%d\r\n", k, k);
	n += (size_t)snprintf(big + n, sizeof big - n, "X-Big: ");
	memset(big + n, 'b', 20000);
	n += 20000;
	n += (size_t)snprintf(big + n, sizeof big - n, "\r\nX-After: 1\r\n\r\n");
	ck_assert_uint_lt(n, sizeof big);
	ck_assert_int_eq(raw(big, n, code, sizeof code), 200);
	/* The query string reaches the API (which refuses this one). */
	ck_assert_int_eq(raw(R("GET /carts/w1?a=1&b HTTP/1.1\r\nHost: x\r\n\r\n"), code,
	                     sizeof code), 400);
	ck_assert_str_eq(code, "bad_query");
	tp_items(&cl, 0, "w1", seen, sizeof seen);
	ck_assert_str_eq(seen, "pear:2");
}
END_TEST

/* Sends first (may be NULL) at once, then hdr one byte at a time, 50 ms
 * apart (round and round), until the peer closes the connection; returns
 * how many trickled bytes went out (-1: never closed). */
static long trickle_after(const char *first, const char *hdr, size_t len)
{
	int fd = connect_peer(0);
	if (first)
		ck_assert_int_eq(send(fd, first, strlen(first), MSG_NOSIGNAL), (ssize_t)strlen(first));
	long long deadline = tp_now_ms() + TRICKLE_CAP_MS;
	size_t i = 0;
	while (tp_now_ms() < deadline) {
		char c;
		ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			close(fd);
			return (long)i;
		}
		if (send(fd, hdr + i % len, 1, MSG_NOSIGNAL) != 1) {
			close(fd);
			return (long)i;
		}
		i++;
		tp_sleep_ms(50);   /* the pace of the attack, not a wait for a state */
	}
	close(fd);
	return -1;
}

static long trickle(const char *hdr, size_t len)
{
	return trickle_after(NULL, hdr, len);
}

START_TEST(test_header_deadline)
{
	static const char hdr[] = "GET /carts/s1 HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaa";
	tp_add_peer(&cl, false, NULL);
	ck_assert_int_eq(tp_metric(&cl, 0, "cartd_http_header_timeouts_total"), 0);
	long sent = trickle(hdr, sizeof hdr - 1);
	ck_assert_msg(sent >= 0, "a trickling client was still connected after %d ms "
	              "(header deadline " HEADER_MS " ms)", TRICKLE_CAP_MS);
	/* A connection that sends nothing is closed by the same deadline. */
	int fd = connect_peer(0);
	struct timeval tv = { TRICKLE_CAP_MS / 1000, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char c;
	ssize_t n = recv(fd, &c, 1, 0);
	ck_assert_msg(n == 0, "an idle connection was not closed (recv %zd, errno %d)", n, errno);
	close(fd);
	ck_assert_int_ge(tp_metric(&cl, 0, "cartd_http_header_timeouts_total"), 2);
	/* The peer still serves. */
	char code[64];
	ck_assert_int_eq(raw(R("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), code, sizeof code), 200);
}
END_TEST

/* A complete header, then a body trickled a byte at a time: cut by the
 * body deadline, counted apart from header cuts, nothing applied; a body
 * sent at once still works. */
START_TEST(test_body_deadline)
{
	static const char head[] = "POST /carts/b1/items HTTP/1.1\r\nHost: x\r\n"
	                           "Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n";
	static const char body[] = "{\"sku\":\"pear\",\"qty\":1}                    ";
	tp_add_peer(&cl, false, NULL);
	double headers0 = tp_metric(&cl, 0, "cartd_http_header_timeouts_total");
	ck_assert_int_eq(tp_metric(&cl, 0, "cartd_http_body_timeouts_total"), 0);
	long sent = trickle_after(head, body, sizeof body - 1);
	ck_assert_msg(sent >= 0, "a client trickling its body was still connected after %d ms "
	              "(body deadline " BODY_MS " ms)", TRICKLE_CAP_MS);
	ck_assert_int_ge(tp_metric(&cl, 0, "cartd_http_body_timeouts_total"), 1);
	ck_assert_int_eq(tp_metric(&cl, 0, "cartd_http_header_timeouts_total"), headers0);
	char seen[64], code[64];
	tp_items(&cl, 0, "b1", seen, sizeof seen);
	ck_assert_str_eq(seen, "");
	ck_assert_int_eq(raw(R("POST /carts/b1/items HTTP/1.1\r\nHost: x\r\n"
	                       "Content-Type: application/json\r\nContent-Length: 22\r\n\r\n"
	                       "{\"sku\":\"pear\",\"qty\":1}"), code, sizeof code), 200);
	tp_items(&cl, 0, "b1", seen, sizeof seen);
	ck_assert_str_eq(seen, "pear:1");
}
END_TEST

/* Runs cartd with args (NULL-ended, after argv[0]) and returns its exit
 * status; its output goes to log. */
static int run_cartd(const char *const *args, const char *log)
{
	const char *argv[16] = { tp_cartd() };
	ck_assert_ptr_nonnull(argv[0]);
	for (int i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			execv(argv[0], (char *const *)argv);
		}
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A bad address is a usage error (exit 2) found before the data dir is
 * touched, whichever flag carries it. */
START_TEST(test_bad_address_no_side_effect)
{
	char dir[256], log[256], msg[512] = "";
	snprintf(dir, sizeof dir, "%s/never", cl.base);
	snprintf(log, sizeof log, "%s/bad-address.log", cl.base);
	static const char *const cases[][2] = {
		{ "--http", "somehost:18080" }, { "--http", "127.0.0.1:" }, { "--gossip", "a_b:1" },
		{ "--peer", "127.0.0.1:0" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *args[] = { "--data-dir", dir, "--key-file", cl.key, cases[i][0],
		                       cases[i][1], NULL };
		int status = run_cartd(args, log);
		FILE *f = fopen(log, "r");
		if (f) {
			size_t n = fread(msg, 1, sizeof msg - 1, f);
			msg[n] = '\0';
			fclose(f);
		}
		ck_assert_msg(status == 2, "%s %s: exit %d, output: %s", cases[i][0], cases[i][1],
		              status, msg);
		ck_assert_msg(strstr(msg, cases[i][0]), "%s %s: output: %s", cases[i][0],
		              cases[i][1], msg);
		ck_assert_msg(access(dir, F_OK) != 0, "%s %s created the data dir", cases[i][0],
		              cases[i][1]);
	}
}
END_TEST

Suite *edge_suite(void);

Suite *edge_suite(void)
{
	Suite *s = suite_create("edge");
	TCase *t = tcase_create("edge");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_malformed);
	tcase_add_test(t, test_wellformed);
	tcase_add_test(t, test_header_deadline);
	tcase_add_test(t, test_body_deadline);
	tcase_add_test(t, test_bad_address_no_side_effect);
	suite_add_tcase(s, t);
	return s;
}
