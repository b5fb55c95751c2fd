/*
 * fuzz_http_parse.c - libFuzzer harness for the strict HTTP/1.1 request
 * parser (app/http/http_parse.h), which reads every byte a client sends.
 *
 * Each piece the parser reads is handed over in a heap block of exactly its
 * size, so that ASan reports a read past the bytes received.
 *   1. http_head_end, fed one more byte per call with its cursor kept,
 *      finds the head's end exactly when the head's last byte arrives, and
 *      agrees with one call on the whole input and with one call on a
 *      prefix cut where the input says.
 *   2. When a head ends, http_parse_head on it.  A refusal carries a
 *      status and code of the header's list and leaves the bytes as they
 *      came.  An accepted head holds what the header promises: head_len is
 *      the end, minor is 0 or 1, the method a non-empty token, the target
 *      visible ASCII with a NUL at target_len, the kept values inside the
 *      head, NUL-terminated, without control characters or OWS at either
 *      end; never both Content-Length and chunked, chunked only on 1.1, a
 *      length within HTTP_LENGTH_MAX.
 *   3. The bytes after the head (all of them when there is none) as a
 *      chunked body, decoded whole, split in two where the input says, and
 *      a byte at a time: the same result, bytes consumed and data; *out
 *      never passes *in, MORE only when every byte was used, overhead
 *      within HTTP_CHUNK_OVERHEAD_MAX, and the bytes after a complete body
 *      left as they came.
 *
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                 \
	do {                                                                            \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_http_parse: check failed: %s (%s:%d)\n", #cond,   \
			        __FILE__, __LINE__);                                            \
			abort();                                                                \
		}                                                                           \
	} while (0)

/* A heap block of exactly n bytes (malloc(0) may give NULL: one byte). */
static char *dup_exact(const void *p, size_t n)
{
	char *b = malloc(n ? n : 1);
	CHECK(b != NULL);
	if (n)
		memcpy(b, p, n);
	return b;
}

/* Where the input says to cut n bytes: from its last two bytes, so that
 * the fuzzer can steer it. */
static size_t cut_at(const uint8_t *data, size_t size, size_t n)
{
	size_t x = size >= 2 ? (size_t)data[size - 1] << 8 | data[size - 2] : size;
	return x % (n + 1);
}

/* RFC 9110 tchar, written independently of the parser's table. */
static bool is_token_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t head_end_checked(const char *buf, size_t size, size_t cut)
{
	size_t scanned = 0, end = 0, fresh = 0;
	for (size_t l = 0; l <= size && !end; l++) {
		end = http_head_end(buf, l, &scanned);
		CHECK(scanned <= l);
		CHECK(end == 0 || end == l);
	}
	CHECK(http_head_end(buf, size, &fresh) == end);
	char *prefix = dup_exact(buf, cut);
	fresh = 0;
	CHECK(http_head_end(prefix, cut, &fresh) == (end && end <= cut ? end : 0));
	free(prefix);
	return end;
}

/* A string of the head: inside it, NUL-terminated there, and if a field
 * value, without control characters or OWS at either end. */
static void check_string(const char *s, const char *head, size_t end, bool value)
{
	CHECK(s > head && s < head + end);
	size_t n = strnlen(s, (size_t)(head + end - s));
	CHECK(s + n < head + end);
	if (!value)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
	}
	CHECK(n == 0 || (s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t'));
}

static void check_accepted(const http_head *h, const char *head, size_t end)
{
	CHECK(h->head_len == end && end <= HTTP_HEAD_MAX);
	CHECK(h->minor <= 1);
	CHECK(h->method >= head && h->method < head + end);
	size_t m = strnlen(h->method, (size_t)(head + end - h->method));
	CHECK(m > 0 && h->method + m < head + end);
	for (size_t i = 0; i < m; i++)
		CHECK(is_token_char((unsigned char)h->method[i]));
	check_string(h->target, head, end, false);
	CHECK(h->target_len > 0 && strlen(h->target) == h->target_len);
	for (size_t i = 0; i < h->target_len; i++)
		CHECK((unsigned char)h->target[i] > 0x20 && (unsigned char)h->target[i] < 0x7f);
	if (h->content_type)
		check_string(h->content_type, head, end, true);
	if (h->prefer)
		check_string(h->prefer, head, end, true);
	CHECK((h->idem_keys == 0) == (h->idem_key == NULL));
	if (h->idem_key) {
		check_string(h->idem_key, head, end, true);
		CHECK(strlen(h->idem_key) == h->idem_key_len);
	}
	CHECK(!(h->has_length && h->chunked));
	CHECK(!h->chunked || h->minor == 1);
	CHECK(h->has_length ? h->length <= HTTP_LENGTH_MAX : h->length == 0);
}

static void check_refused(const http_bad *bad)
{
	CHECK(bad->code != NULL && bad->message != NULL && bad->message[0] != '\0');
	if (bad->status == 431)
		CHECK(strcmp(bad->code, "header_too_large") == 0);
	else if (bad->status == 505)
		CHECK(strcmp(bad->code, "bad_version") == 0);
	else
		CHECK(bad->status == 400 &&
		      (strcmp(bad->code, "bad_request") == 0 || strcmp(bad->code, "bad_target") == 0 ||
		       strcmp(bad->code, "bad_header") == 0 || strcmp(bad->code, "bad_length") == 0 ||
		       strcmp(bad->code, "missing_host") == 0));
}

static void parse_checked(const char *buf, size_t end)
{
	char *head = dup_exact(buf, end);
	http_head h;
	http_bad bad = { 0 };
	enum http_parse_result r = http_parse_head(head, end, &h, &bad);
	if (r == HTTP_PARSE_BAD) {
		check_refused(&bad);
		CHECK(memcmp(head, buf, end) == 0);
	} else {
		CHECK(r == HTTP_PARSE_DONE);
		check_accepted(&h, head, end);
	}
	free(head);
}

/* One way of feeding a chunked body, and what came of it. */
typedef struct decoding {
	enum http_parse_result r;
	size_t in, out;
	char *buf;
	http_bad bad;
} decoding;

static void decode_step(http_chunked *c, decoding *d, size_t len)
{
	d->r = http_chunked_decode(c, d->buf, len, &d->in, &d->out, &d->bad);
	CHECK(d->out <= d->in && d->in <= len);
	CHECK(d->r != HTTP_PARSE_MORE || d->in == len);
	CHECK(d->in - d->out <= HTTP_CHUNK_OVERHEAD_MAX);
}

static void decode_split(decoding *d, const char *body, size_t n, size_t k)
{
	http_chunked c;
	http_chunked_init(&c);
	char *first = dup_exact(body, k);
	d->buf = first;
	decode_step(&c, d, k);
	d->buf = dup_exact(body, n);
	memcpy(d->buf, first, k);
	free(first);
	if (d->r == HTTP_PARSE_MORE)
		decode_step(&c, d, n);
}

static void decode_bytewise(decoding *d, const char *body, size_t n)
{
	http_chunked c;
	http_chunked_init(&c);
	d->buf = dup_exact(body, n);
	d->r = HTTP_PARSE_MORE;
	for (size_t l = 0; l <= n && d->r == HTTP_PARSE_MORE; l++)
		decode_step(&c, d, l);
}

static void same(const decoding *a, const decoding *b)
{
	CHECK(a->r == b->r && a->in == b->in && a->out == b->out);
	CHECK(memcmp(a->buf, b->buf, a->out) == 0);
}

static void chunked_checked(const char *body, size_t n, size_t k)
{
	decoding whole = { 0 }, split = { 0 }, bytewise = { 0 };
	decode_split(&whole, body, n, n);
	decode_split(&split, body, n, k);
	decode_bytewise(&bytewise, body, n);
	same(&whole, &split);
	same(&whole, &bytewise);
	if (whole.r == HTTP_PARSE_BAD)
		CHECK(whole.bad.status == 400 && strcmp(whole.bad.code, "bad_length") == 0);
	if (whole.r == HTTP_PARSE_DONE)
		CHECK(memcmp(whole.buf + whole.in, body + whole.in, n - whole.in) == 0);
	free(whole.buf);
	free(split.buf);
	free(bytewise.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = dup_exact(data, size);
	size_t end = head_end_checked(buf, size, cut_at(data, size, size));
	if (end)
		parse_checked(buf, end);
	chunked_checked(buf + end, size - end, cut_at(data, size, size - end));
	free(buf);
	return 0;
}
