/*
 * check_framing.c - how a real cartd frames requests and answers on one
 * connection, over raw sockets: pipelined requests are answered in order
 * (a read after two writes sees both), Expect: 100-continue gets its
 * interim answer only when the body is wanted, HEAD answers carry no body,
 * every answer carries Date, Content-Type, Cache-Control and a length (a
 * 204 none), HTTP/1.0 and Connection: close end the connection and
 * keep-alive keeps it, a half-closed client still gets its answers, and
 * what is too large or of another HTTP version is refused with the API's
 * JSON error.
 *
 * What is malformed as HTTP is check_edge.c; this file is about well-formed
 * traffic and the limits.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

#define MAX_BODY 8192

static char parent[64];
static tp_cluster cl;
static const char *const framing_args[] = { "--max-body", "8192", NULL };

static void dir_setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-framing");
}

static void dir_teardown(void)
{
	tt_rmtree(parent);
}

static void cl_setup(void)
{
	tp_light();
	tp_cluster_init(&cl, parent);
	cl.extra_args = framing_args;
	tp_add_peer(&cl, false, NULL);
}

static void cl_teardown(void)
{
	tp_cluster_destroy(&cl);
}

/* One client connection and what it has read but not yet parsed. */
typedef struct client {
	int fd;
	char buf[65536];
	size_t len;
} client;

static void client_open(client *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(cl.peers[0].http_port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c->len = 0;
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
	struct timeval tv = { 10, 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void client_send(client *c, const char *s, size_t n)
{
	ck_assert_int_eq(send(c->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

#define SEND(c, s) client_send(c, s, sizeof(s) - 1)

/* One answer as read off the wire. */
typedef struct answer {
	int status;            /* 0: the connection closed first */
	char head[2048];       /* status line and headers, NUL-terminated */
	char body[16384];
	size_t body_len;
	char code[64];         /* the JSON error code, if the body is one */
} answer;

/* Reads exactly one answer; a HEAD answer has no body whatever its
 * Content-Length says (head_only). */
static void client_read(client *c, answer *a, bool head_only)
{
	memset(a, 0, sizeof *a);
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (end) {
			size_t hlen = (size_t)(end + 4 - c->buf);
			ck_assert_uint_lt(hlen, sizeof a->head);
			memcpy(a->head, c->buf, hlen);
			const char *clh = strcasestr(a->head, "\r\nContent-Length:");
			size_t blen = clh && !head_only ? strtoul(clh + 17, NULL, 10) : 0;
			ck_assert_uint_lt(blen, sizeof a->body);
			if (c->len - hlen >= blen) {
				memcpy(a->body, c->buf + hlen, blen);
				a->body_len = blen;
				memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
				c->len -= hlen + blen;
				break;
			}
		}
		ck_assert_uint_lt(c->len, sizeof c->buf);
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
		if (n <= 0)
			return;   /* status stays 0 */
		c->len += (size_t)n;
	}
	ck_assert_int_eq(sscanf(a->head, "HTTP/1.1 %d", &a->status), 1);
	json_t *v = json_loadb(a->body, a->body_len, 0, NULL);
	const char *code = json_string_value(json_object_get(json_object_get(v, "error"), "code"));
	if (code)
		snprintf(a->code, sizeof a->code, "%s", code);
	json_decref(v);
}

/* True when the server closes the connection with nothing more to read. */
static bool client_closed(client *c)
{
	char x;
	return c->len == 0 && recv(c->fd, &x, 1, 0) == 0;
}

static void client_close(client *c)
{
	close(c->fd);
}

#define JSON_HDR "Content-Type: application/json\r\n"
#define ADD(cart, sku) "POST /carts/" cart "/items HTTP/1.1\r\nHost: x\r\n" JSON_HDR \
	"Content-Length: " "22" "\r\n\r\n{\"sku\":\"" sku "\",\"qty\":1}"

/* Two writes and a read in one send: three answers, in order, and the
 * read sees both writes (it is served after them). */
START_TEST(test_pipelined_in_order)
{
	client c;
	answer a;
	client_open(&c);
	SEND(&c, ADD("p1", "pear") ADD("p1", "plum")
	     "GET /carts/p1 HTTP/1.1\r\nHost: x\r\n\r\n");
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	ck_assert_ptr_nonnull(strstr(a.body, "\"pear\""));
	ck_assert_ptr_null(strstr(a.body, "\"plum\""));
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	ck_assert_ptr_nonnull(strstr(a.body, "\"plum\""));
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	ck_assert_msg(strstr(a.body, "{\"sku\":\"pear\",\"qty\":1},{\"sku\":\"plum\",\"qty\":1}"),
	              "the pipelined read did not see both writes: %s", a.body);
	/* Still open for more. */
	SEND(&c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	client_close(&c);
}
END_TEST

/* 100 Continue comes before the body is sent, and never for a body that
 * is refused by its declared length. */
START_TEST(test_expect_continue)
{
	client c;
	answer a;
	client_open(&c);
	SEND(&c, "POST /carts/e1/items HTTP/1.1\r\nHost: x\r\n" JSON_HDR
	     "Content-Length: 22\r\nExpect: 100-continue\r\n\r\n");
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 100);
	SEND(&c, "{\"sku\":\"pear\",\"qty\":1}");
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	client_close(&c);

	client_open(&c);
	SEND(&c, "POST /carts/e1/items HTTP/1.1\r\nHost: x\r\n" JSON_HDR
	     "Content-Length: 9000\r\nExpect: 100-continue\r\n\r\n");
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 413);
	ck_assert_str_eq(a.code, "body_too_large");
	ck_assert_ptr_nonnull(strcasestr(a.head, "\r\nConnection: close\r\n"));
	ck_assert(client_closed(&c));
	client_close(&c);
	char seen[64];
	tp_items(&cl, 0, "e1", seen, sizeof seen);
	ck_assert_str_eq(seen, "pear:1");
}
END_TEST

/* HEAD: the GET's headers, Content-Length included, and no body; the next
 * answer on the connection starts right after the head. */
START_TEST(test_head_has_no_body)
{
	client c;
	answer a, g;
	client_open(&c);
	SEND(&c, ADD("h1", "pear"));
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	SEND(&c, "GET /carts/h1 HTTP/1.1\r\nHost: x\r\n\r\n");
	client_read(&c, &g, false);
	ck_assert_int_eq(g.status, 200);
	SEND(&c, "HEAD /carts/h1 HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n");
	client_read(&c, &a, true);
	ck_assert_int_eq(a.status, 200);
	char want[64];
	snprintf(want, sizeof want, "\r\nContent-Length: %zu\r\n", g.body_len);
	ck_assert_msg(strstr(a.head, want), "HEAD head lacks %s: %s", want + 2, a.head);
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	ck_assert_ptr_nonnull(strstr(a.body, "\"ok\""));
	client_close(&c);
}
END_TEST

/* The headers every answer carries, and a 204 (Prefer: return=minimal)
 * that has neither body nor Content-Length, with the next answer right
 * after it on the connection. */
START_TEST(test_answer_headers)
{
	client c;
	answer a;
	client_open(&c);
	SEND(&c, "POST /carts/m1/items HTTP/1.1\r\nHost: x\r\n" JSON_HDR
	     "Prefer: return=minimal\r\nContent-Length: 22\r\n\r\n{\"sku\":\"pear\",\"qty\":1}"
	     "GET /carts/m1 HTTP/1.1\r\nHost: x\r\n\r\n");
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 204);
	ck_assert_msg(!strcasestr(a.head, "\r\nContent-Length:"), "a 204 with a length: %s",
	              a.head);
	ck_assert_ptr_nonnull(strstr(a.head, "\r\nPreference-Applied: return=minimal\r\n"));
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	ck_assert_ptr_nonnull(strstr(a.body, "\"pear\""));
	static const char *const want[] = { "\r\nDate: ", "\r\nContent-Type: application/json\r\n",
	                                    "\r\nCache-Control: no-store\r\n",
	                                    "\r\nContent-Length: " };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_msg(strstr(a.head, want[i]), "no %s in: %s", want[i] + 2, a.head);
	client_close(&c);
}
END_TEST

/* Who ends the connection: HTTP/1.0 by default, Connection: close; who
 * keeps it: HTTP/1.1, and HTTP/1.0 with keep-alive. */
START_TEST(test_connection_lifetime)
{
	client c;
	answer a;
	client_open(&c);
	SEND(&c, "GET /health HTTP/1.0\r\n\r\n");
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	ck_assert(client_closed(&c));
	client_close(&c);

	client_open(&c);
	SEND(&c, "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	ck_assert_ptr_nonnull(strcasestr(a.head, "\r\nConnection: keep-alive\r\n"));
	SEND(&c, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	     "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	ck_assert_ptr_nonnull(strcasestr(a.head, "\r\nConnection: close\r\n"));
	ck_assert(client_closed(&c));   /* the request after close is not served */
	client_close(&c);
}
END_TEST

/* A client that shuts its sending side after two writes still hears both
 * answers, and both writes are applied; a request cut short by the
 * shutdown is not. */
START_TEST(test_half_close_answered)
{
	client c;
	answer a;
	client_open(&c);
	SEND(&c, ADD("q1", "pear") ADD("q1", "plum") "POST /carts/q1/items HTTP/1.1\r\n");
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	client_read(&c, &a, false);
	ck_assert_int_eq(a.status, 200);
	ck_assert(client_closed(&c));
	client_close(&c);
	char seen[64];
	tp_items(&cl, 0, "q1", seen, sizeof seen);
	ck_assert_str_eq(seen, "pear:1,plum:1");
}
END_TEST

/* Sends req on a new connection and returns the one answer. */
static void one(const char *req, size_t len, answer *a)
{
	client c;
	client_open(&c);
	client_send(&c, req, len);
	client_read(&c, a, false);
	client_close(&c);
}

#define ONE(s, a) one(s, sizeof(s) - 1, a)

/* The limits and other versions, each with its status and JSON code; the
 * answers come with a Date. */
START_TEST(test_limits_and_versions)
{
	answer a;
	static char big[40000];
	size_t n = (size_t)snprintf(big, sizeof big, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(big + n, 'b', 34000);
	n += 34000;
	n += (size_t)snprintf(big + n, sizeof big - n, "\r\n\r\n");
	one(big, n, &a);
	ck_assert_int_eq(a.status, 431);
	ck_assert_str_eq(a.code, "header_too_large");

	n = (size_t)snprintf(big, sizeof big, "GET /health HTTP/1.1\r\nHost: x\r\n");
	for (int k = 0; k < 101; k++)
		n += (size_t)snprintf(big + n, sizeof big - n, "X-H%d: v\r\n", k);
	n += (size_t)snprintf(big + n, sizeof big - n, "\r\n");
	one(big, n, &a);
	ck_assert_int_eq(a.status, 431);

	ONE("GET /health HTTP/2.0\r\nHost: x\r\n\r\n", &a);
	ck_assert_int_eq(a.status, 505);
	ck_assert_str_eq(a.code, "bad_version");
	ONE("GET /health HTTP/1.1x\r\nHost: x\r\n\r\n", &a);
	ck_assert_int_eq(a.status, 400);
	ck_assert_str_eq(a.code, "bad_request");

	/* A chunked body that grows past --max-body, with no length declared. */
	n = (size_t)snprintf(big, sizeof big, "POST /carts/l1/items HTTP/1.1\r\nHost: x\r\n"
	                     JSON_HDR "Transfer-Encoding: chunked\r\n\r\n");
	for (int k = 0; k < 10; k++) {
		n += (size_t)snprintf(big + n, sizeof big - n, "400\r\n");
		memset(big + n, ' ', 1024);
		n += 1024;
		n += (size_t)snprintf(big + n, sizeof big - n, "\r\n");
	}
	n += (size_t)snprintf(big + n, sizeof big - n, "0\r\n\r\n");
	one(big, n, &a);
	ck_assert_int_eq(a.status, 413);
	ck_assert_str_eq(a.code, "body_too_large");
	ck_assert_ptr_nonnull(strstr(a.head, "\r\nDate: "));

	/* Within the limit, chunked with an extension and a trailer. */
	ONE("POST /carts/l1/items HTTP/1.1\r\nHost: x\r\n" JSON_HDR
	    "Transfer-Encoding: chunked\r\n\r\n5;x=y\r\n{\"sku\r\n11\r\n\":\"pear\",\"qty\":1}\r\n"
	    "0\r\nX-T: 1\r\n\r\n", &a);
	ck_assert_int_eq(a.status, 200);
	char seen[64];
	tp_items(&cl, 0, "l1", seen, sizeof seen);
	ck_assert_str_eq(seen, "pear:1");
}
END_TEST

Suite *framing_suite(void);

Suite *framing_suite(void)
{
	Suite *s = suite_create("framing");
	TCase *t = tcase_create("framing");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_pipelined_in_order);
	tcase_add_test(t, test_expect_continue);
	tcase_add_test(t, test_head_has_no_body);
	tcase_add_test(t, test_answer_headers);
	tcase_add_test(t, test_connection_lifetime);
	tcase_add_test(t, test_half_close_answered);
	tcase_add_test(t, test_limits_and_versions);
	suite_add_tcase(s, t);
	return s;
}
