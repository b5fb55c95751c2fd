/*
 * check_http_conn.c - the deadlines of one HTTP connection
 * (app/http/http_conn.h), in process over a socketpair, with the sweep's
 * clock given by the test, so that a 60 s deadline is checked without
 * waiting 60 s: the header deadline (counted), the body deadline (counted
 * apart), the send deadline for a client that stops reading its answers,
 * and the drain after an error answer.  Each is checked just before it is
 * due (the connection lives) and just after (it is closed).
 *
 * The wire behaviour of a real cartd is in check_framing.c and
 * check_edge.c; fuzz_http_conn.c explores the state machine.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "app/http/http_conn.h"

#define HEADER_MS 5000u
#define BODY_MS 10000u

static struct event_base *base;
static http_conns conns;
static int client = -1;
static int closed;          /* ops.closed calls */
static int requests;        /* ops.request calls */
static size_t answer_len;   /* body of each answer */
static char *answer_body;

static void on_request(void *arg, http_conn *c, const http_request *rq)
{
	(void)arg;
	requests++;
	api_response res = { .status = rq->bad ? rq->bad->status : 200, .body = answer_body,
	                     .body_len = answer_len, .content_type = "application/json" };
	http_conn_respond(c, &res);
}

static void on_closed(void *arg, http_conn *c)
{
	(void)arg; (void)c;
	closed++;
}

/* A connection whose client end is `client`, with a socket buffer of
 * sndbuf bytes on the server's side (0: the default). */
static void setup_conn(int sndbuf)
{
	int sv[2];
	http_conn_ops ops = { on_request, on_closed };
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	http_conns_init(&conns, base, &ops, NULL, 2048, HEADER_MS, BODY_MS);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if (sndbuf) {
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	client = sv[1];
	closed = requests = 0;
	answer_len = 16;
	answer_body = calloc(1, 1 << 20);
	ck_assert_ptr_nonnull(answer_body);
	ck_assert_int_eq(http_conn_open(&conns, sv[0]), 0);
}

static void teardown_conn(void)
{
	http_conns_destroy(&conns);
	event_base_free(base);
	close(client);
	free(answer_body);
}

static void client_send(const char *s)
{
	ck_assert_int_eq(send(client, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Lets the loop take what the client sent. */
static void turn(void)
{
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

START_TEST(test_header_deadline)
{
	int64_t t0 = http_now_ms();
	client_send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a");
	turn();
	http_conns_sweep(&conns, t0 + HEADER_MS - 100);
	ck_assert_int_eq(closed, 0);
	http_conns_sweep(&conns, http_now_ms() + HEADER_MS + 100);
	ck_assert_int_eq(closed, 1);
	ck_assert_uint_eq(conns.header_expired, 1);
	ck_assert_uint_eq(conns.body_expired, 0);
	ck_assert_uint_eq(conns.count, 0);
}
END_TEST

/* The header's clock stops at its end; the body's runs from there. */
START_TEST(test_body_deadline)
{
	client_send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":");
	turn();
	int64_t t1 = http_now_ms();
	http_conns_sweep(&conns, t1 + HEADER_MS + 100);
	ck_assert_int_eq(closed, 0);
	http_conns_sweep(&conns, t1 + BODY_MS - 100);
	ck_assert_int_eq(closed, 0);
	http_conns_sweep(&conns, http_now_ms() + BODY_MS + 100);
	ck_assert_int_eq(closed, 1);
	ck_assert_uint_eq(conns.body_expired, 1);
	ck_assert_uint_eq(conns.header_expired, 0);
	ck_assert_int_eq(requests, 0);
}
END_TEST

/* A client that never reads its answers: the server's socket buffer
 * fills, the answer stalls, and the connection is cut HTTP_SEND_MS after
 * the stall began, not counted as a header or body timeout. */
START_TEST(test_send_deadline)
{
	answer_len = 1 << 20;   /* far past both socket buffers */
	client_send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	turn();
	ck_assert_int_eq(requests, 1);
	int64_t t1 = http_now_ms();
	/* Past the header deadline of the next request: the stalled answer
	 * is what the connection is waiting on. */
	http_conns_sweep(&conns, t1 + HTTP_SEND_MS - 1000);
	ck_assert_int_eq(closed, 0);
	http_conns_sweep(&conns, http_now_ms() + HTTP_SEND_MS + 100);
	ck_assert_int_eq(closed, 1);
	ck_assert_uint_eq(conns.body_expired, 0);
}
END_TEST

/* After an error answer the connection shuts its sending side and drains
 * the client for HTTP_DRAIN_MS; then it is closed even if the client keeps
 * its side open. */
START_TEST(test_drain_deadline)
{
	char buf[4096];
	client_send("GET /a HTTP/1.1\r\n\r\n");   /* no Host: refused, then closing */
	turn();
	ck_assert_int_eq(requests, 1);
	ssize_t n = recv(client, buf, sizeof buf - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "HTTP/1.1 400 "));
	ck_assert_ptr_nonnull(strstr(buf, "\r\nConnection: close\r\n"));
	ck_assert_int_eq(recv(client, buf, sizeof buf, 0), 0);   /* the server's FIN */
	client_send("more bytes the server reads and drops");
	turn();
	int64_t t1 = http_now_ms();
	http_conns_sweep(&conns, t1 + HTTP_DRAIN_MS - 500);
	ck_assert_int_eq(closed, 0);
	http_conns_sweep(&conns, http_now_ms() + HTTP_DRAIN_MS + 100);
	ck_assert_int_eq(closed, 1);
	ck_assert_uint_eq(conns.header_expired + conns.body_expired, 0);
}
END_TEST

static void unbuffered_setup(void)
{
	setup_conn(0);
}

static void small_buffer_setup(void)
{
	setup_conn(4096);
}

Suite *http_conn_suite(void);

Suite *http_conn_suite(void)
{
	Suite *s = suite_create("http_conn");
	TCase *t = tcase_create("deadlines");
	tcase_add_checked_fixture(t, unbuffered_setup, teardown_conn);
	tcase_add_test(t, test_header_deadline);
	tcase_add_test(t, test_body_deadline);
	tcase_add_test(t, test_drain_deadline);
	suite_add_tcase(s, t);
	TCase *w = tcase_create("send");
	tcase_add_checked_fixture(w, small_buffer_setup, teardown_conn);
	tcase_add_test(w, test_send_deadline);
	suite_add_tcase(s, w);
	return s;
}
