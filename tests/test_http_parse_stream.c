/*
 * test_http_parse_stream.c - the http_parse suite on bytes that arrive in
 * pieces: http_head_end with its cursor kept across calls, and
 * http_chunked_decode split at every byte.  A transport reads into a
 * buffer that grows, so each piece here is handed over in a heap block of
 * exactly the bytes received so far: a read past them is an ASan report.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "app/http/http_parse.h"
#include "tests/test_http_parse.h"

/* ---- http_head_end ---- */

typedef struct framed {
	const char *s;
	size_t len, end;   /* the bytes, and where the head among them ends */
} framed;

/* A head and bytes after it that must not be taken for part of it. */
#define F(head, after) { head after, sizeof head after - 1, sizeof head - 1 }

static const framed heads[] = {
	F("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "body\r\n\r\n"),
	F("GET / HTTP/1.1\nHost: a\n\n", "\n\n"),
	F("GET / HTTP/1.1\r\nHost: a\n\r\n", "\r\n"),
	F("GET / HTTP/1.1\nHost: a\r\n\n", "x\n\n"),
	F("\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "\r\n\r\n"),
	F("\n\n\nGET / HTTP/1.0\n\n", "\r\n"),
	F("\r\nGET / HTTP/1.0\r\n\r\n", ""),
	F("GET / HTTP/1.1\r\nX: a\n\rY: b\r\n\r\n", "\n"),
	F("GET / HTTP/1.1\r\nX: \r\r\n\r\n", ""),
	F("X\n\n", "\n"),
};

/* Fed a byte at a time, with the cursor kept: nothing until the last byte
 * of the head, then exactly its end; and a fresh cursor on every prefix
 * says the same. */
START_TEST(head_end_byte_at_a_time)
{
	for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
		const framed *f = &heads[i];
		size_t scanned = 0, found = 0;
		for (size_t l = 0; l <= f->len && !found; l++) {
			char *b = thp_dup(f->s, l);
			size_t fresh = 0, again;
			found = http_head_end(b, l, &scanned);
			ck_assert_msg(found == (l == f->end ? f->end : 0), "end %zu at %zu bytes of '%s'",
			              found, l, thp_show(f->s, f->len));
			ck_assert_uint_le(scanned, l);
			ck_assert_uint_eq(http_head_end(b, l, &fresh), l >= f->end ? f->end : 0);
			again = http_head_end(b, l, &scanned);   /* no new bytes */
			ck_assert_uint_eq(again, found);
			free(b);
		}
		ck_assert_msg(found == f->end, "no end in '%s'", thp_show(f->s, f->len));
	}
}
END_TEST

/* Leading empty lines alone are not a head, however many come. */
START_TEST(head_end_empty_lines_only)
{
	static const char s[] = "\r\n\n\r\n\n\n\r\n";
	size_t scanned = 0;
	for (size_t l = 0; l < sizeof s; l++)
		ck_assert_uint_eq(http_head_end(s, l, &scanned), 0);
	size_t fresh = 0;
	ck_assert_uint_eq(http_head_end(s, sizeof s - 1, &fresh), 0);
}
END_TEST

static const char realistic[] =
	"POST /carts/c-17/items HTTP/1.1\r\nHost: shop.example:8080\r\n"
	"User-Agent: curl/8.5.0\r\nAccept: */*\r\nContent-Type: application/json\r\n"
	"Idempotency-Key: 5f0c-9a\r\nPrefer: return=representation\r\nContent-Length: 22\r\n\r\n"
	"{\"sku\":\"a-1\",\"qty\":3}\n";

/* Split in two at every position: the first call with the bytes before
 * the split, the second with all of them and the same cursor. */
START_TEST(head_end_split_anywhere)
{
	size_t n = sizeof realistic - 1, end = n - 22, fresh = 0;
	ck_assert_uint_eq(http_head_end(realistic, n, &fresh), end);
	for (size_t k = 0; k <= n; k++) {
		size_t scanned = 0;
		char *a = thp_dup(realistic, k);
		size_t first = http_head_end(a, k, &scanned);
		free(a);
		ck_assert_msg(first == (k >= end ? end : 0), "end %zu after %zu bytes", first, k);
		char *b = thp_dup(realistic, n);
		size_t got = first ? first : http_head_end(b, n, &scanned);
		ck_assert_msg(got == end, "end %zu split at %zu", got, k);
		http_head h;
		http_bad bad;
		ck_assert_int_eq(http_parse_head(b, got, &h, &bad), HTTP_PARSE_DONE);
		ck_assert_uint_eq(h.head_len, end);
		ck_assert_uint_eq(h.length, 22);
		free(b);
	}
}
END_TEST

/* The cursor's promise: bytes scanned before are not looked at again, so
 * a head a byte at a time costs linear time.  The first page of a long run
 * of leading empty lines is made unreadable once the cursor is past it. */
START_TEST(head_end_reads_only_new_bytes)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t n = 2 * page + sizeof req - 1;
	char *b = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(b != MAP_FAILED);
	memset(b, '\n', 2 * page);
	memcpy(b + 2 * page, req, sizeof req - 1);
	size_t scanned = 0, end = 0, l = 0;
	for (; l <= page + 64; l++)
		ck_assert_uint_eq(http_head_end(b, l, &scanned), 0);
	ck_assert_int_eq(mprotect(b, page, PROT_NONE), 0);
	for (; l <= n && !end; l++)
		end = http_head_end(b, l, &scanned);
	ck_assert_uint_eq(end, n);
	munmap(b, 3 * page);
}
END_TEST

/* ---- http_chunked_decode ---- */

/*
 * Decodes body[0..n) as a transport would: first the k bytes before a
 * split (in a block of exactly k), then all n bytes (in a block of n that
 * carries over what the first call decoded in place), with one state.
 * *data is the second block, for the caller to read and free.
 */
static enum http_parse_result decode_split(const char *body, size_t n, size_t k, size_t *in,
                                           size_t *out, char **data, http_bad *bad)
{
	http_chunked c;
	http_chunked_init(&c);
	*in = *out = 0;
	char *a = thp_dup(body, k);
	enum http_parse_result r = http_chunked_decode(&c, a, k, in, out, bad);
	char *b = thp_dup(body, n);
	memcpy(b, a, k);
	free(a);
	if (r == HTTP_PARSE_MORE) {
		ck_assert_uint_eq(*in, k);
		r = http_chunked_decode(&c, b, n, in, out, bad);
	}
	ck_assert_uint_le(*out, *in);
	ck_assert_uint_le(*in, n);
	*data = b;
	return r;
}

/* The same, one more byte per call. */
static enum http_parse_result decode_bytewise(const char *body, size_t n, size_t *in,
                                              size_t *out, char **data, http_bad *bad)
{
	http_chunked c;
	http_chunked_init(&c);
	*in = *out = 0;
	char *b = thp_dup(body, n);
	enum http_parse_result r = HTTP_PARSE_MORE;
	for (size_t l = 0; l <= n && r == HTTP_PARSE_MORE; l++) {
		r = http_chunked_decode(&c, b, l, in, out, bad);
		ck_assert(r != HTTP_PARSE_MORE || *in == l);
		ck_assert_uint_le(*out, *in);
	}
	*data = b;
	return r;
}

typedef struct body_case {
	const char *s;
	size_t len, body_len;   /* the bytes; how many of them the body takes */
	const char *data;
	size_t data_len;
} body_case;

#define B(body, after, data) { body after, sizeof body after - 1, sizeof body - 1, data, sizeof data - 1 }

static const body_case bodies[] = {
	B("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n", "", "Wikipedia"),
	B("4;a=b\r\nWiki\r\n5 ; c=\"d e\"\r\npedia\r\n0;last\r\n\r\n", "", "Wikipedia"),
	B("A\r\n0123456789\r\n1F\r\n0123456789abcdefghijklmnopqrstu\r\nb\r\nvwxyzABCDEF\r\n0\r\n\r\n",
	  "", "0123456789" "0123456789abcdefghijklmnopqrstu" "vwxyzABCDEF"),
	B("4\r\nWiki\r\n0\r\nX-Sum: 1\r\nY:2\r\n\r\n", "", "Wiki"),
	B("0\r\n\r\n", "", ""),
	B("0000004\r\nWiki\r\n000\r\n\r\n", "", "Wiki"),
	B("7\r\n0\r\n\r\nxy\r\n0\r\n\r\n", "", "0\r\n\r\nxy"),
	B("3\r\n\0\xff\n\r\n0\r\n\r\n", "", "\0\xff\n"),
	B("4\r\nWiki\r\n0\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "Wiki"),
	B("0\r\nT: v\r\n\r\n", "0\r\n\r\n", ""),
};

static void assert_decoded(const body_case *bc, enum http_parse_result r, size_t in, size_t out,
                           const char *data, const char *how)
{
	ck_assert_msg(r == HTTP_PARSE_DONE, "%s: result %d for '%s'", how, r,
	              thp_show(bc->s, bc->len));
	ck_assert_msg(in == bc->body_len, "%s: in %zu, want %zu for '%s'", how, in, bc->body_len,
	              thp_show(bc->s, bc->len));
	ck_assert_uint_eq(out, bc->data_len);
	ck_assert_msg(memcmp(data, bc->data, bc->data_len) == 0, "%s: data '%s'", how,
	              thp_show(data, out));
	/* What follows the body is left as it came, for the next request. */
	ck_assert_mem_eq(data + in, bc->s + in, bc->len - in);
}

START_TEST(chunked_whole_split_and_bytewise)
{
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		const body_case *bc = &bodies[i];
		size_t in, out;
		char *data;
		http_bad bad;
		for (size_t k = 0; k <= bc->len; k++) {
			enum http_parse_result r = decode_split(bc->s, bc->len, k, &in, &out, &data, &bad);
			assert_decoded(bc, r, in, out, data, k == bc->len ? "whole" : "split");
			free(data);
		}
		enum http_parse_result r = decode_bytewise(bc->s, bc->len, &in, &out, &data, &bad);
		assert_decoded(bc, r, in, out, data, "bytewise");
		free(data);
	}
}
END_TEST

/* A body after a head in the same buffer: the data lands where *out
 * started and the head before it is untouched. */
START_TEST(chunked_after_a_head)
{
	static const char s[] = "HEAD5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
	char *b = thp_dup(s, sizeof s - 1);
	http_chunked c;
	http_chunked_init(&c);
	size_t in = 4, out = 4;
	http_bad bad;
	ck_assert_int_eq(http_chunked_decode(&c, b, sizeof s - 1, &in, &out, &bad), HTTP_PARSE_DONE);
	ck_assert_uint_eq(in, sizeof s - 1);
	ck_assert_uint_eq(out, 4 + 11);
	ck_assert_mem_eq(b, "HEADhello world", 15);
	free(b);
}
END_TEST

/* A chunk size is accepted up to HTTP_LENGTH_MAX (the caller caps the
 * body); past it, and far past 2^64, it is refused. */
START_TEST(chunk_sizes)
{
	static const struct {
		const char *line;
		bool ok;
		uint64_t left;
	} sizes[] = {
		{ "ffffffff\r\n", true, UINT64_C(0xffffffff) },
		{ "FFFFFFFF;x\r\n", true, UINT64_C(0xffffffff) },
		{ "100000000\r\n", true, UINT64_C(0x100000000) },
		{ "1fffffffffffff\r\n", true, HTTP_LENGTH_MAX - 1 },
		{ "20000000000000\r\n", true, HTTP_LENGTH_MAX },
		{ "0000000000000000000020000000000000\r\n", true, HTTP_LENGTH_MAX },
		{ "20000000000001\r\n", false, 0 },
		{ "2000000000000f\r\n", false, 0 },
		{ "20000000000010\r\n", false, 0 },
		{ "ffffffffffffffff\r\n", false, 0 },
		{ "10000000000000000\r\n", false, 0 },
		{ "fffffffffffffffff\r\n", false, 0 },
		{ "100000000000000000000\r\n", false, 0 },
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = strlen(sizes[i].line), in = 0, out = 0;
		char *b = thp_dup(sizes[i].line, n);
		http_chunked c;
		http_chunked_init(&c);
		http_bad bad = { 0 };
		enum http_parse_result r = http_chunked_decode(&c, b, n, &in, &out, &bad);
		if (sizes[i].ok) {
			ck_assert_msg(r == HTTP_PARSE_MORE, "'%s' refused", thp_show(b, n));
			ck_assert_uint_eq(in, n);
			ck_assert_uint_eq(out, 0);
			ck_assert_msg(c.left == sizes[i].left, "'%s' read as %llx", thp_show(b, n),
			              (unsigned long long)c.left);
		} else {
			ck_assert_msg(r == HTTP_PARSE_BAD, "'%s' accepted", thp_show(b, n));
			ck_assert_uint_eq(bad.status, 400);
			ck_assert_str_eq(bad.code, "bad_length");
		}
		free(b);
	}
}
END_TEST

#define S(lit) { lit, sizeof lit - 1 }

static const struct {
	const char *s;
	size_t len;
} bad_bodies[] = {
	S("4\r\nWikiX\r\n0\r\n\r\n"),
	/* Bare LFs in the framing, and trailer lines that are not fields. */
	S("4\nWiki\r\n0\r\n\r\n"),
	S("4\r\nWiki\n0\r\n\r\n"),
	S("4;x\nWiki\r\n0\r\n\r\n"),
	S("4 \nWiki\r\n0\r\n\r\n"),
	S("0\r\n\n"),
	S("0\r\nX: a\n\r\n"),
	S("0\r\nX\r\n\r\n"),
	S("0\r\nX :a\r\n\r\n"),
	/* A stray byte where a line end belongs, and a body that would end
	 * well if that byte were skipped. */
	S("4\r\nWikiX0\r\n\r\n"),
	S("4\r\nWiki\rX0\r\n\r\n"),
	S("4z\r\nWiki\r\n0\r\n\r\n"),
	S("4\rzWiki\r\n0\r\n\r\n"),
	S("0\r\nX: a\rz\r\n\r\n"),
	S("0\r\n\rz\n"),
	S("4\r\nWiki0\r\n\r\n"),
	S("4\r\nWiki\r0\r\n\r\n"),
	S("4\r\nWik\r\n\r\n0\r\n\r\n"),
	S("g\r\n"),
	S("\r\n"),
	S("\n"),
	S(";a\r\n"),
	S("-1\r\n"),
	S("+4\r\n"),
	S("0x4\r\n"),
	S(" 4\r\n"),
	S("4 4\r\n"),
	S("4\rX"),
	S("4\r\r\n"),
	S("4;a\x01\r\n"),
	S("4;\x7f\r\n"),
	S("4;a\0b\r\n"),
	S("4;a\rb\r\n"),
	S("0\r\n X: folded\r\n\r\n"),
	S("0\r\n\tX: folded\r\n\r\n"),
	S("0\r\n:x\r\n\r\n"),
	S("0\r\nX: a\0\r\n\r\n"),
	S("0\r\nX: a\rb\r\n\r\n"),
	S("0\r\n\r\r\n"),
	S("0\r\nX: a\r\r\n\r\n"),
};

/* Refused the same way whole, split anywhere, or a byte at a time. */
START_TEST(chunked_malformed)
{
	for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
		const char *s = bad_bodies[i].s;
		size_t n = bad_bodies[i].len, in, out, in_whole = 0;
		char *data;
		for (size_t k = n + 1; k-- > 0;) {
			http_bad bad = { 0 };
			enum http_parse_result r = decode_split(s, n, k, &in, &out, &data, &bad);
			free(data);
			ck_assert_msg(r == HTTP_PARSE_BAD, "'%s' split at %zu: %d", thp_show(s, n), k, r);
			ck_assert_uint_eq(bad.status, 400);
			ck_assert_str_eq(bad.code, "bad_length");
			if (k == n)
				in_whole = in;
			ck_assert_uint_eq(in, in_whole);
		}
		http_bad bad;
		ck_assert_int_eq(decode_bytewise(s, n, &in, &out, &data, &bad), HTTP_PARSE_BAD);
		ck_assert_uint_eq(in, in_whole);
		free(data);
	}
}
END_TEST

/* Decodes s whole; the result. */
static enum http_parse_result decode_whole(const char *s, size_t n)
{
	size_t in, out;
	char *data;
	http_bad bad;
	enum http_parse_result r = decode_split(s, n, n, &in, &out, &data, &bad);
	free(data);
	return r;
}

/* A body of extra overhead bytes past the minimum "0\r\n\r\n": an
 * extension, chunks of one byte, or a trailer. */
static size_t overhead_body(char *b, size_t cap, int kind, size_t total)
{
	size_t n = 0;
	if (kind == 0) {
		n = (size_t)snprintf(b, cap, "0;");
		memset(b + n, 'e', total - 6);
		n += total - 6;
		memcpy(b + n, "\r\n\r\n", 4);
		return n + 4;
	}
	if (kind == 1) {
		for (size_t i = 0; i + 5 < total; i += 5)
			n += (size_t)snprintf(b + n, cap - n, "1\r\nx\r\n");
		return n + (size_t)snprintf(b + n, cap - n, "0\r\n\r\n");
	}
	n = (size_t)snprintf(b, cap, "0\r\nX: ");
	memset(b + n, 't', total - 10);
	n += total - 10;
	memcpy(b + n, "\r\n\r\n", 4);
	return n + 4;
}

START_TEST(chunked_overhead_limit)
{
	size_t cap = 2 * HTTP_CHUNK_OVERHEAD_MAX + 64;
	char *b = malloc(cap);
	ck_assert_ptr_nonnull(b);
	/* Extension and trailer: every byte is overhead. */
	for (int kind = 0; kind <= 2; kind += 2) {
		size_t n = overhead_body(b, cap, kind, HTTP_CHUNK_OVERHEAD_MAX);
		ck_assert_uint_eq(n, HTTP_CHUNK_OVERHEAD_MAX);
		ck_assert_int_eq(decode_whole(b, n), HTTP_PARSE_DONE);
		n = overhead_body(b, cap, kind, HTTP_CHUNK_OVERHEAD_MAX + 1);
		ck_assert_int_eq(decode_whole(b, n), HTTP_PARSE_BAD);
	}
	/* One-byte chunks: 5 bytes of overhead each, and 5 for the end. */
	size_t fit = (HTTP_CHUNK_OVERHEAD_MAX / 5) * 5;
	size_t n = overhead_body(b, cap, 1, fit);
	ck_assert_uint_eq(n - (fit / 5 - 1), fit);
	ck_assert_int_eq(decode_whole(b, n), HTTP_PARSE_DONE);
	n = overhead_body(b, cap, 1, fit + 5);
	ck_assert_int_eq(decode_whole(b, n), HTTP_PARSE_BAD);
	free(b);
	/* Data is not overhead. */
	size_t big = 4 * HTTP_CHUNK_OVERHEAD_MAX;
	b = malloc(big + 64);
	ck_assert_ptr_nonnull(b);
	n = (size_t)snprintf(b, 64, "%zx\r\n", big);
	memset(b + n, 'd', big);
	n += big;
	memcpy(b + n, "\r\n0\r\n\r\n", 7);
	ck_assert_int_eq(decode_whole(b, n + 7), HTTP_PARSE_DONE);
	free(b);
}
END_TEST

TCase *http_parse_stream_tcase(void)
{
	TCase *t = tcase_create("stream");
	tcase_add_test(t, head_end_byte_at_a_time);
	tcase_add_test(t, head_end_empty_lines_only);
	tcase_add_test(t, head_end_split_anywhere);
	tcase_add_test(t, head_end_reads_only_new_bytes);
	tcase_add_test(t, chunked_whole_split_and_bytewise);
	tcase_add_test(t, chunked_after_a_head);
	tcase_add_test(t, chunk_sizes);
	tcase_add_test(t, chunked_malformed);
	tcase_add_test(t, chunked_overhead_limit);
	return t;
}
