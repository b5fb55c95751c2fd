/*
 * check_http_parse.c - the strict HTTP/1.1 request parser
 * (app/http/http_parse.h), held to its header's contract: what a
 * well-formed head yields, and every refusal with its status and code.
 * http_head_end and chunked bodies fed in pieces are in
 * test_http_parse_stream.c, random well-formed requests in
 * test_http_parse_random.c.  Unit level: no socket.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/http/http_parse.h"
#include "tests/test_http_parse.h"

char *thp_dup(const void *p, size_t n)
{
	char *b = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(b);
	if (n)
		memcpy(b, p, n);
	return b;
}

const char *thp_show(const char *p, size_t n)
{
	static char bufs[2][1024];   /* two, so that one message can show two */
	static unsigned which;
	char *out = bufs[which++ % 2];
	size_t o = 0;
	for (size_t i = 0; i < n && i < 200; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof bufs[0] - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

/* The request under test.  The strings of a parsed head point into it, so
 * it lives until the next parse or the end of the test (the fixture). */
static char *held;
static size_t held_len;

static void release(void)
{
	free(held);
	held = NULL;
}

/*
 * Parses s[0..n), copied into a heap block of exactly n bytes, after
 * asserting that http_head_end puts the head's end tail bytes before the
 * end.  A refusal must leave the bytes as they came (the contract).
 */
static enum http_parse_result parse_tail(const char *s, size_t n, size_t tail, http_head *h,
                                         http_bad *bad)
{
	release();
	held = thp_dup(s, n);
	held_len = n;
	size_t scanned = 0, end = http_head_end(held, n, &scanned);
	ck_assert_msg(end == n - tail, "head end %zu, want %zu: '%s'", end, n - tail,
	              thp_show(s, n));
	enum http_parse_result r = http_parse_head(held, end, h, bad);
	if (r == HTTP_PARSE_BAD)
		ck_assert_msg(memcmp(held, s, n) == 0, "a refused head was changed: '%s'",
		              thp_show(held, n));
	return r;
}

static enum http_parse_result parse_n(const char *s, size_t n, http_head *h, http_bad *bad)
{
	return parse_tail(s, n, 0, h, bad);
}

/* A well-formed head: parsed, and its whole length taken. */
static void parse_ok(const char *s, size_t n, http_head *h)
{
	http_bad bad = { 0 };
	enum http_parse_result r = parse_n(s, n, h, &bad);
	ck_assert_msg(r == HTTP_PARSE_DONE, "refused (%s): '%s'", r == HTTP_PARSE_BAD ? bad.code : "?",
	              thp_show(s, n));
	ck_assert_uint_eq(h->head_len, n);
}

#define PARSE_OK(lit, h) parse_ok(lit, sizeof lit - 1, h)

/* A string of the head: NUL-terminated where the contract says, inside
 * the request's bytes. */
static void assert_str(const char *got, const char *want, size_t want_len)
{
	ck_assert_ptr_nonnull(got);
	ck_assert_msg(got >= held && got + want_len < held + held_len, "string outside the buffer");
	ck_assert_msg(memcmp(got, want, want_len) == 0 && got[want_len] == '\0', "'%s', want '%s'",
	              thp_show(got, strlen(got)), want);
}

#define ASSERT_STR(got, lit) assert_str(got, lit, sizeof lit - 1)

START_TEST(head_crlf)
{
	http_head h;
	PARSE_OK("POST /carts/c1/items?x=1 HTTP/1.1\r\nHost: a:1\r\n"
	         "Content-Type: application/json\r\nContent-Length: 22\r\n\r\n", &h);
	ck_assert_ptr_eq(h.method, held);
	ASSERT_STR(h.method, "POST");
	ck_assert_ptr_eq(h.target, held + 5);
	ASSERT_STR(h.target, "/carts/c1/items?x=1");
	ck_assert_uint_eq(h.target_len, 19);
	ck_assert_uint_eq(h.minor, 1);
	ASSERT_STR(h.content_type, "application/json");
	ck_assert_ptr_null(h.prefer);
	ck_assert_ptr_null(h.idem_key);
	ck_assert_uint_eq(h.idem_key_len, 0);
	ck_assert_uint_eq(h.idem_keys, 0);
	ck_assert(h.has_length);
	ck_assert_uint_eq(h.length, 22);
	ck_assert(!h.chunked);
	ck_assert(h.keep_alive);
	ck_assert(!h.expect_continue);
}
END_TEST

START_TEST(head_bare_lf_and_mixed)
{
	http_head h;
	PARSE_OK("PUT /a HTTP/1.1\nHost: h\nPrefer: return=minimal\n\n", &h);
	ASSERT_STR(h.method, "PUT");
	ASSERT_STR(h.target, "/a");
	ASSERT_STR(h.prefer, "return=minimal");
	ck_assert(!h.has_length);
	ck_assert_uint_eq(h.length, 0);
	PARSE_OK("GET /b HTTP/1.1\r\nHost: h\nX-A: 1\r\nPrefer: p\n\r\n", &h);
	ASSERT_STR(h.target, "/b");
	ASSERT_STR(h.prefer, "p");
	PARSE_OK("GET /c HTTP/1.0\n\r\n", &h);
	ASSERT_STR(h.target, "/c");
}
END_TEST

START_TEST(leading_empty_lines_skipped)
{
	http_head h;
	PARSE_OK("\r\n\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n", &h);
	ck_assert_ptr_eq(h.method, held + 5);
	ASSERT_STR(h.method, "GET");
	ASSERT_STR(h.target, "/x");
	PARSE_OK("\nDELETE /y HTTP/1.1\nHost: a\n\n", &h);
	ck_assert_ptr_eq(h.method, held + 1);
	ASSERT_STR(h.method, "DELETE");
}
END_TEST

START_TEST(http10)
{
	http_head h;
	PARSE_OK("GET / HTTP/1.0\r\n\r\n", &h);
	ck_assert_uint_eq(h.minor, 0);
	ASSERT_STR(h.target, "/");
	ck_assert(!h.keep_alive);
	PARSE_OK("GET / HTTP/1.0\r\nHost: a\r\n\r\n", &h);
	ck_assert_uint_eq(h.minor, 0);
	PARSE_OK("POST /p HTTP/1.0\r\nContent-Length: 3\r\n\r\n", &h);
	ck_assert(h.has_length);
	ck_assert_uint_eq(h.length, 3);
}
END_TEST

START_TEST(header_names_any_case)
{
	http_head h;
	PARSE_OK("POST /n HTTP/1.1\r\nhOsT: a\r\ncOnTeNt-TyPe: t/x\r\nPREFER: p\r\n"
	         "IDEMPOTENCY-key: k1\r\neXpEcT: 100-continue\r\nCONTENT-LENGTH: 3\r\n"
	         "connection: CLOSE\r\n\r\n", &h);
	ASSERT_STR(h.content_type, "t/x");
	ASSERT_STR(h.prefer, "p");
	ASSERT_STR(h.idem_key, "k1");
	ck_assert_uint_eq(h.idem_key_len, 2);
	ck_assert(h.expect_continue);
	ck_assert(h.has_length);
	ck_assert_uint_eq(h.length, 3);
	ck_assert(!h.keep_alive);
	PARSE_OK("POST /n HTTP/1.1\r\nHOST: a\r\ntransfer-ENCODING: ChUnKeD\r\n\r\n", &h);
	ck_assert(h.chunked);
}
END_TEST

START_TEST(ows_trimmed)
{
	http_head h;
	PARSE_OK("POST / HTTP/1.1\r\nHost:a\r\nContent-Type: \t text/plain; q=1 \t \r\n"
	         "Prefer:respond-async\r\nIdempotency-Key:\t\tk  1\t\r\nX-Empty: \t \r\n"
	         "Content-Length:  7\t\r\n\r\n", &h);
	ASSERT_STR(h.content_type, "text/plain; q=1");
	ASSERT_STR(h.prefer, "respond-async");
	ASSERT_STR(h.idem_key, "k  1");
	ck_assert_uint_eq(h.idem_key_len, 4);
	ck_assert_uint_eq(h.length, 7);
	PARSE_OK("GET / HTTP/1.1\nHost: a\nContent-Type:\t\n\n", &h);
	ASSERT_STR(h.content_type, "");
}
END_TEST

START_TEST(first_of_repeated_kept)
{
	http_head h;
	PARSE_OK("POST / HTTP/1.1\r\nContent-Type: first\r\nHost: a\r\nPrefer: p1\r\n"
	         "Idempotency-Key: key-one\r\nContent-Type: second\r\nIdempotency-Key: k2\r\n"
	         "Prefer: p2\r\nidempotency-key: k3\r\n\r\n", &h);
	ASSERT_STR(h.content_type, "first");
	ASSERT_STR(h.prefer, "p1");
	ASSERT_STR(h.idem_key, "key-one");
	ck_assert_uint_eq(h.idem_key_len, 7);
	ck_assert_uint_eq(h.idem_keys, 3);
	PARSE_OK("POST / HTTP/1.1\r\nHost: a\r\nIdempotency-Key: \r\nIdempotency-Key: b\r\n\r\n", &h);
	ASSERT_STR(h.idem_key, "");
	ck_assert_uint_eq(h.idem_key_len, 0);
	ck_assert_uint_eq(h.idem_keys, 2);
}
END_TEST

START_TEST(connection_and_keep_alive)
{
	static const struct {
		const char *version, *lines;
		bool keep;
	} cases[] = {
		{ "1.1", "", true },
		{ "1.1", "Connection: keep-alive, Upgrade\r\n", true },
		{ "1.1", "Connection: Close\r\n", false },
		{ "1.1", "Connection: Upgrade,close\r\n", false },
		{ "1.1", "Connection: , ,\tclose , \r\n", false },
		{ "1.1", "Connection: closed\r\n", true },
		{ "1.1", "Connection: Upgrade\r\nConnection: close\r\n", false },
		{ "1.0", "", false },
		{ "1.0", "Connection: keep-alive, Upgrade\r\n", true },
		{ "1.0", "Connection: Keep-Alive\r\n", true },
		{ "1.0", "Connection: keep-alive, close\r\n", false },
		{ "1.0", "Connection: keep-alive\r\nConnection: close\r\n", false },
		{ "1.0", "Connection: keep-alive-x\r\n", false },
		{ "1.0", "Connection: Upgrade\r\n", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char req[256];
		int n = snprintf(req, sizeof req, "GET / HTTP/%s\r\nHost: a\r\n%s\r\n", cases[i].version,
		                 cases[i].lines);
		http_head h;
		parse_ok(req, (size_t)n, &h);
		ck_assert_msg(h.keep_alive == cases[i].keep, "keep_alive %d for '%s'", h.keep_alive,
		              thp_show(req, (size_t)n));
	}
}
END_TEST

START_TEST(expect_continue)
{
	http_head h;
	PARSE_OK("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", &h);
	ck_assert(h.expect_continue);
	PARSE_OK("POST / HTTP/1.1\r\nHost: a\r\nExpect:  100-Continue \r\n\r\n", &h);
	ck_assert(h.expect_continue);
	PARSE_OK("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continued\r\n\r\n", &h);
	ck_assert(!h.expect_continue);
	PARSE_OK("POST / HTTP/1.1\r\nHost: a\r\nX-Expect: 100-continue\r\n\r\n", &h);
	ck_assert(!h.expect_continue);
}
END_TEST

START_TEST(content_length_values)
{
	static const struct {
		const char *text;
		uint64_t value;
	} ok[] = {
		{ "0", 0 },
		{ "22", 22 },
		{ "007", 7 },
		{ "4294967295", UINT64_C(4294967295) },
		{ "4294967296", UINT64_C(4294967296) },   /* 2^32: no 32-bit wrap */
		{ "9007199254740991", HTTP_LENGTH_MAX - 1 },
		{ "9007199254740992", HTTP_LENGTH_MAX },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char req[128];
		int n = snprintf(req, sizeof req, "PUT /l HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n",
		                 ok[i].text);
		http_head h;
		parse_ok(req, (size_t)n, &h);
		ck_assert(h.has_length);
		ck_assert_msg(h.length == ok[i].value, "'%s' read as %llu", ok[i].text,
		              (unsigned long long)h.length);
		ck_assert(!h.chunked);
	}
}
END_TEST

START_TEST(chunked_head)
{
	http_head h;
	PARSE_OK("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &h);
	ck_assert(h.chunked);
	ck_assert(!h.has_length);
	PARSE_OK("POST /c HTTP/1.1\r\nHost: a\r\n\r\n", &h);
	ck_assert(!h.chunked);
}
END_TEST

START_TEST(head_len_leaves_the_rest)
{
	static const char req[] = "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n"
	                          "body\r\n\r\nGET / HTTP/1.1\r\n\r\n";
	size_t head = sizeof "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n" - 1;
	size_t n = sizeof req - 1;
	http_head h;
	http_bad bad;
	ck_assert_int_eq(parse_tail(req, n, n - head, &h, &bad), HTTP_PARSE_DONE);
	ck_assert_uint_eq(h.head_len, head);
	ck_assert_mem_eq(held + head, req + head, n - head);
}
END_TEST

/* Only the separators after the strings of the head become NULs: the
 * names, the other values and the line ends are still there. */
START_TEST(strings_terminated_in_place)
{
	static const char req[] = "GET /t?q HTTP/1.1\r\nHost: a\r\nContent-Type: c/t\r\n"
	                          "Idempotency-Key: ik\r\nPrefer: pr\n\r\n";
	http_head h;
	PARSE_OK(req, &h);
	size_t cuts[] = {
		(size_t)(h.method - held) + 3, (size_t)(h.target - held) + h.target_len,
		(size_t)(h.content_type - held) + 3, (size_t)(h.idem_key - held) + 2,
		(size_t)(h.prefer - held) + 2,
	};
	static const size_t want[] = { 3, 8, 45, 66, 78 };
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		ck_assert_uint_eq(cuts[i], want[i]);
		ck_assert_int_eq(held[cuts[i]], '\0');
	}
	ck_assert_uint_eq(strlen(h.target), h.target_len);
	ck_assert_mem_eq(held + 9, "HTTP/1.1\r\nHost: a", 17);
	ck_assert_mem_eq(held + 79, "\r\n", 2);
}
END_TEST

START_TEST(obs_text_in_values)
{
	http_head h;
	PARSE_OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Type: text/caf\xc3\xa9\r\n"
	         "X-Raw: \x80\x81 \xfe\xff\r\nIdempotency-Key: \xff\r\n\r\n", &h);
	ASSERT_STR(h.content_type, "text/caf\xc3\xa9");
	ASSERT_STR(h.idem_key, "\xff");
	ck_assert_uint_eq(h.idem_key_len, 1);
}
END_TEST

START_TEST(targets_and_methods)
{
	http_head h;
	PARSE_OK("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &h);
	ASSERT_STR(h.method, "OPTIONS");
	ASSERT_STR(h.target, "*");
	PARSE_OK("M-SEARCH http://h:1/p?a=%20&b=~!$'()*+,;= HTTP/1.1\r\nHost: a\r\n\r\n", &h);
	ASSERT_STR(h.method, "M-SEARCH");
	ASSERT_STR(h.target, "http://h:1/p?a=%20&b=~!$'()*+,;=");
	PARSE_OK("x /%00 HTTP/1.1\r\nHost: a\r\n\r\n", &h);
	ASSERT_STR(h.method, "x");
	ASSERT_STR(h.target, "/%00");
}
END_TEST

/* ---- refusals ---- */

typedef struct refusal {
	const char *req;
	size_t len;
	unsigned status;
	const char *code;
} refusal;

#define R(lit, status, code) { lit, sizeof lit - 1, status, code }
#define H11 "GET / HTTP/1.1\r\nHost: a\r\n"
#define P11 "POST / HTTP/1.1\r\nHost: a\r\n"

static const refusal refusals[] = {
	R("GET/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R("GET /\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R("GET\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R("GET / HTTP/11.1\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R("GET / HTTP/1,1\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"),
	R("GET  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"),
	R("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"),
	R("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"),
	R("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"),
	R("GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"),
	R("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"),
	R("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"),
	R("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"),
	R("GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"),
	R(H11 "X: a\0b\r\n\r\n", 400, "bad_header"),
	R(H11 "X: a\rb\r\n\r\n", 400, "bad_header"),
	R(H11 "X: a\r\r\n\r\n", 400, "bad_header"),
	R(H11 "\rX: a\r\n\r\n", 400, "bad_header"),
	R(H11 "X: a\x7f\r\n\r\n", 400, "bad_header"),
	R(H11 "X: a\x01\r\n\r\n", 400, "bad_header"),
	R(H11 "X: \x1f\r\n\r\n", 400, "bad_header"),
	R(H11 "Content-Type: a\x0b\r\n\r\n", 400, "bad_header"),
	R(H11 "X : a\r\n\r\n", 400, "bad_header"),
	R(H11 "Host : a\r\n\r\n", 400, "bad_header"),
	R(H11 ": a\r\n\r\n", 400, "bad_header"),
	R(H11 "X a\r\n\r\n", 400, "bad_header"),
	R(H11 "X(: a\r\n\r\n", 400, "bad_header"),
	R(H11 "X\xc3\xa9: a\r\n\r\n", 400, "bad_header"),
	R(H11 "X-A: 1\r\n folded\r\n\r\n", 400, "bad_header"),
	R(H11 "X-A: 1\r\n\tfolded\r\n\r\n", 400, "bad_header"),
	R("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "bad_header"),
	R(P11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 5, 5\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: +5\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: -1\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 0x10\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 1 0\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: \r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 9007199254740993\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 9007199254741000\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 1234567890123456789012345\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 18446744073709551615\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 18446744073709551616\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 36893488147419103232\r\n\r\n", 400, "bad_length"),
	R(P11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad_length"),
	R(P11 "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, "bad_length"),
	R(P11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad_length"),
	R(P11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 400, "bad_length"),
	R(P11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 400, "bad_length"),
	R(P11 "Transfer-Encoding: identity\r\n\r\n", 400, "bad_length"),
	R(P11 "Transfer-Encoding: \r\n\r\n", 400, "bad_length"),
	R("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad_length"),
	R("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad_length"),
	R("GET / HTTP/1.1\r\n\r\n", 400, "missing_host"),
	R("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", 400, "missing_host"),
	R(H11 "Host: a\r\n\r\n", 400, "missing_host"),
	R(H11 "HOST: b\r\n\r\n", 400, "missing_host"),
	R("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400, "missing_host"),
	R("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "bad_version"),
	R("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "bad_version"),
	R("GET / HTTP/1.9\r\nHost: a\r\n\r\n", 505, "bad_version"),
	R("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "bad_version"),
	R("GET / HTTP/3.0\r\n\r\n", 505, "bad_version"),
};

static void assert_refused(const char *req, size_t n, unsigned status, const char *code)
{
	http_head h;
	http_bad bad = { 0 };
	enum http_parse_result r = parse_n(req, n, &h, &bad);
	ck_assert_msg(r == HTTP_PARSE_BAD, "accepted: '%s'", thp_show(req, n));
	ck_assert_msg(bad.status == status && bad.code && strcmp(bad.code, code) == 0,
	              "%u %s, want %u %s: '%s'", bad.status, bad.code ? bad.code : "(null)", status,
	              code, thp_show(req, n));
	ck_assert(bad.message && bad.message[0]);
}

START_TEST(refused_with_status_and_code)
{
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
		assert_refused(refusals[i].req, refusals[i].len, refusals[i].status, refusals[i].code);
}
END_TEST

/*
 * Values and targets are judged eight bytes at a time (http_parse.c): a
 * byte is judged the same at every offset of a value or target from 1 to
 * 24 bytes long, on both sides of every word boundary and in the bytes
 * after the last whole word.
 */
START_TEST(bytes_judged_at_every_offset)
{
	static const unsigned char bad_value[] = { 0x00, 0x01, 0x0b, 0x1f, 0x7f, '\r' };
	static const unsigned char bad_target[] = { 0x00, 0x09, 0x1f, ' ', 0x7f, 0x80, 0xff };
	static const unsigned char fine_value[] = { '\t', 0x80, 0xff, '~', '!' };
	char req[256];
	http_head h;
	for (size_t len = 1; len <= 24; len++) {
		for (size_t j = 0; j < len; j++) {
			static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\nX-V: ";
			size_t v = sizeof pre - 1, n = v + len + 4;
			memcpy(req, pre, v);
			memset(req + v, 'v', len);
			memcpy(req + v + len, "\r\n\r\n", 4);
			for (size_t k = 0; k < sizeof bad_value; k++) {
				req[v + j] = (char)bad_value[k];
				assert_refused(req, n, 400, "bad_header");
			}
			for (size_t k = 0; k < sizeof fine_value; k++) {
				req[v + j] = (char)fine_value[k];
				parse_ok(req, n, &h);
			}

			memcpy(req, "GET ", 4);
			memset(req + 4, 'a', len);
			static const char post[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
			memcpy(req + 4 + len, post, sizeof post - 1);
			n = 4 + len + sizeof post - 1;
			parse_ok(req, n, &h);
			ck_assert_uint_eq(h.target_len, len);
			for (size_t k = 0; k < sizeof bad_target; k++) {
				req[4 + j] = (char)bad_target[k];
				assert_refused(req, n, 400, "bad_target");
			}
		}
	}
}
END_TEST

/* A request line, Host and lines - 1 more header lines. */
static size_t with_lines(char *buf, size_t cap, unsigned lines)
{
	size_t n = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (unsigned i = 1; i < lines; i++)
		n += (size_t)snprintf(buf + n, cap - n, "X-%u: v\r\n", i);
	n += (size_t)snprintf(buf + n, cap - n, "\r\n");
	ck_assert_uint_lt(n, cap);
	return n;
}

START_TEST(header_line_limit)
{
	static char req[4096];
	http_head h;
	parse_ok(req, with_lines(req, sizeof req, HTTP_HEADERS_MAX), &h);
	assert_refused(req, with_lines(req, sizeof req, HTTP_HEADERS_MAX + 1), 431,
	               "header_too_large");
}
END_TEST

/* A head of exactly n bytes: request line, Host and one padded line. */
static char *head_of(size_t n)
{
	static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
	char *b = malloc(n);
	ck_assert_ptr_nonnull(b);
	memcpy(b, pre, sizeof pre - 1);
	memset(b + sizeof pre - 1, 'p', n - (sizeof pre - 1) - 4);
	memcpy(b + n - 4, "\r\n\r\n", 4);
	return b;
}

START_TEST(head_size_limit)
{
	http_head h;
	char *b = head_of(HTTP_HEAD_MAX);
	parse_ok(b, HTTP_HEAD_MAX, &h);
	free(b);
	b = head_of(HTTP_HEAD_MAX + 1);
	assert_refused(b, HTTP_HEAD_MAX + 1, 431, "header_too_large");
	free(b);
}
END_TEST

Suite *http_parse_suite(void);

Suite *http_parse_suite(void)
{
	Suite *s = suite_create("http_parse");
	TCase *t = tcase_create("head");
	tcase_add_checked_fixture(t, NULL, release);
	tcase_add_test(t, head_crlf);
	tcase_add_test(t, head_bare_lf_and_mixed);
	tcase_add_test(t, leading_empty_lines_skipped);
	tcase_add_test(t, http10);
	tcase_add_test(t, header_names_any_case);
	tcase_add_test(t, ows_trimmed);
	tcase_add_test(t, first_of_repeated_kept);
	tcase_add_test(t, connection_and_keep_alive);
	tcase_add_test(t, expect_continue);
	tcase_add_test(t, content_length_values);
	tcase_add_test(t, chunked_head);
	tcase_add_test(t, head_len_leaves_the_rest);
	tcase_add_test(t, strings_terminated_in_place);
	tcase_add_test(t, obs_text_in_values);
	tcase_add_test(t, targets_and_methods);
	tcase_add_test(t, refused_with_status_and_code);
	tcase_add_test(t, header_line_limit);
	tcase_add_test(t, bytes_judged_at_every_offset);
	tcase_add_test(t, head_size_limit);
	suite_add_tcase(s, t);
	suite_add_tcase(s, http_parse_stream_tcase());
	suite_add_tcase(s, http_parse_random_tcase());
	return s;
}
