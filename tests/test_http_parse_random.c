/*
 * test_http_parse_random.c - the http_parse suite on random well-formed
 * requests: header order, name case, OWS, line endings, leading empty
 * lines, Content-Length or a chunked body cut into random chunks, all
 * drawn from a seeded generator (tests/test_rng.h; a failure prints the
 * seed that replays it).  The request is fed in random pieces, and what
 * the parser reports must be what was generated.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/http/http_parse.h"
#include "tests/test_bytes.h"
#include "tests/test_http_parse.h"
#include "tests/test_rng.h"

#define FIELDS_MAX 48        /* header lines generated, under HTTP_HEADERS_MAX */
#define VALUE_MAX 64
#define DATA_MAX 300         /* bytes of a chunked body's data */

static const char tchars[] = "!#$%&'*+-.^_`|~0123456789"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* One header line as generated: its value without the OWS around it. */
typedef struct field {
	const char *name;
	char value[VALUE_MAX];
	size_t len;
} field;

/* What the parser must report. */
typedef struct model {
	char method[12];
	char target[48];
	size_t target_len;
	unsigned minor;
	field f[FIELDS_MAX];
	size_t nf;
	bool close, keep, expect, has_length, chunked;
	uint64_t length;
	uint8_t data[DATA_MAX];
	size_t data_len;
} model;

static char tchar(test_rng *r)
{
	return tchars[test_rng_below(r, sizeof tchars - 1)];
}

static void tokens(test_rng *r, char *s, size_t min, size_t max)
{
	size_t n = (size_t)test_rng_range(r, min, max);
	for (size_t i = 0; i < n; i++)
		s[i] = tchar(r);
	s[n] = '\0';
}

/* A value: visible ASCII and obs-text, with SP and HTAB only inside. */
static size_t random_value(test_rng *r, char *v)
{
	size_t n = (size_t)test_rng_below(r, VALUE_MAX - 1);
	for (size_t i = 0; i < n; i++) {
		unsigned k = (unsigned)test_rng_below(r, 10);
		v[i] = (char)(k < 6 ? 0x21 + test_rng_below(r, 94)
		              : k < 8 ? 0x80 + test_rng_below(r, 128) : k == 8 ? ' ' : '\t');
	}
	if (n && (v[0] == ' ' || v[0] == '\t'))
		v[0] = 'v';
	if (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[n - 1] = 'v';
	return n;
}

static field *add(model *m, const char *name)
{
	ck_assert_uint_lt(m->nf, FIELDS_MAX);
	field *f = &m->f[m->nf++];
	f->name = name;
	f->len = 0;
	return f;
}

/* A field of this name with a random value. */
static void add_random(test_rng *r, model *m, const char *name)
{
	field *f = add(m, name);
	f->len = random_value(r, f->value);
}

static void set(field *f, const char *s)
{
	f->len = strlen(s);
	memcpy(f->value, s, f->len);
}

/* s with each letter's case drawn at random. */
static void any_case(test_rng *r, char *s)
{
	for (; *s; s++)
		if (((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z') && test_rng_pct(r, 50))
			*s ^= 0x20;
}

/* Connection: a list of tokens, some of them the ones that count. */
static void connection(test_rng *r, model *m)
{
	static const char *const words[] = { "close", "keep-alive", "Upgrade", "te", "closed",
	                                     "x-keep-alive" };
	field *f = add(m, "Connection");
	char v[VALUE_MAX] = "";
	unsigned n = (unsigned)test_rng_range(r, 1, 3);
	for (unsigned i = 0; i < n; i++) {
		char w[16];
		strcpy(w, words[test_rng_below(r, 6)]);
		any_case(r, w);
		m->close |= strcasecmp(w, "close") == 0;
		m->keep |= strcasecmp(w, "keep-alive") == 0;
		strcat(v, w);
		if (i + 1 < n)
			strcat(v, test_rng_pct(r, 50) ? ", " : (test_rng_pct(r, 50) ? "," : " ,\t"));
	}
	set(f, v);
}

/* Body framing: none, Content-Length, or (1.1 only) chunked. */
static void framing(test_rng *r, model *m)
{
	unsigned k = (unsigned)test_rng_below(r, m->minor ? 3 : 2);
	if (k == 1) {
		m->has_length = true;
		m->length = test_rng_pct(r, 70) ? test_rng_below(r, 1000)
		                                : test_rng_below(r, HTTP_LENGTH_MAX + 1);
		char v[VALUE_MAX];
		snprintf(v, sizeof v, "%.*s%llu", (int)test_rng_below(r, 3), "00",
		         (unsigned long long)m->length);
		set(add(m, "Content-Length"), v);
	} else if (k == 2) {
		m->chunked = true;
		char v[] = "chunked";
		any_case(r, v);
		set(add(m, "Transfer-Encoding"), v);
	}
}

static void random_fields(test_rng *r, model *m)
{
	if (m->minor == 1 || test_rng_pct(r, 50))
		add_random(r, m, "Host");
	static const char *const repeatable[] = { "Content-Type", "Prefer", "Idempotency-Key" };
	for (size_t i = 0; i < 3; i++)
		for (unsigned n = (unsigned)test_rng_below(r, 4); n > 0; n--)
			add_random(r, m, repeatable[i]);
	for (unsigned n = (unsigned)test_rng_below(r, 3); n > 0; n--)
		connection(r, m);
	if (test_rng_pct(r, 30)) {
		char v[] = "100-continue";
		bool yes = test_rng_pct(r, 70);
		any_case(r, v);
		set(add(m, "Expect"), yes ? v : "100-wait");
		m->expect = yes;
	}
	framing(r, m);
	static char names[FIELDS_MAX][16];
	for (unsigned n = (unsigned)test_rng_below(r, 20); n > 0; n--) {
		char *name = names[m->nf];
		strcpy(name, "X-");
		tokens(r, name + 2, 1, 10);
		add_random(r, m, name);
	}
	/* Random order: Fisher-Yates over the fields. */
	for (size_t i = m->nf; i > 1; i--) {
		size_t j = (size_t)test_rng_below(r, i);
		field t = m->f[i - 1];
		m->f[i - 1] = m->f[j];
		m->f[j] = t;
	}
}

static void eol(test_rng *r, tb *b)
{
	if (test_rng_pct(r, 50))
		tb_raw(b, "\r\n", 2);
	else
		tb_raw(b, "\n", 1);
}

static void ows(test_rng *r, tb *b)
{
	for (unsigned n = (unsigned)test_rng_below(r, 4); n > 0; n--)
		tb_u8(b, test_rng_pct(r, 50) ? ' ' : '\t');
}

static void request_line(test_rng *r, model *m, tb *b)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH" };
	if (test_rng_pct(r, 70))
		strcpy(m->method, methods[test_rng_below(r, 5)]);
	else
		tokens(r, m->method, 1, sizeof m->method - 1);
	if (test_rng_pct(r, 5)) {
		strcpy(m->target, "*");
	} else {
		size_t n = (size_t)test_rng_below(r, sizeof m->target - 1);
		m->target[0] = '/';
		for (size_t i = 1; i < n; i++)
			m->target[i] = (char)(0x21 + test_rng_below(r, 94));
		m->target[n ? n : 1] = '\0';
	}
	m->target_len = strlen(m->target);
	m->minor = (unsigned)test_rng_below(r, 2);
	tb_raw(b, m->method, strlen(m->method));
	tb_u8(b, ' ');
	tb_raw(b, m->target, m->target_len);
	tb_raw(b, m->minor ? " HTTP/1.1" : " HTTP/1.0", 9);
	eol(r, b);
}

static void head(test_rng *r, model *m, tb *b)
{
	for (unsigned n = (unsigned)test_rng_below(r, 4); n > 0; n--)
		eol(r, b);
	request_line(r, m, b);
	random_fields(r, m);
	for (size_t i = 0; i < m->nf; i++) {
		char name[32];
		strcpy(name, m->f[i].name);
		any_case(r, name);
		tb_raw(b, name, strlen(name));
		tb_u8(b, ':');
		ows(r, b);
		tb_raw(b, m->f[i].value, m->f[i].len);
		ows(r, b);
		eol(r, b);
	}
	eol(r, b);
}

/* A chunk-size line: the size in hex of either case, maybe zero-padded,
 * maybe with extensions. */
static void size_line(test_rng *r, tb *b, size_t size)
{
	char hex[32];
	int n = snprintf(hex, sizeof hex, "%.*s%zx", (int)test_rng_below(r, 3), "00", size);
	any_case(r, hex);
	tb_raw(b, hex, (size_t)n);
	for (unsigned e = (unsigned)test_rng_below(r, 3); test_rng_pct(r, 40) && e > 0; e--) {
		char ext[16];
		ows(r, b);
		tb_u8(b, ';');
		tokens(r, ext, 1, 6);
		tb_raw(b, ext, strlen(ext));
		if (test_rng_pct(r, 50)) {
			tb_u8(b, '=');
			tokens(r, ext, 1, 6);
			tb_raw(b, ext, strlen(ext));
		}
	}
	tb_raw(b, "\r\n", 2);   /* chunk lines: CR LF only */
}

static void chunked_body(test_rng *r, model *m, tb *b)
{
	m->data_len = (size_t)test_rng_below(r, DATA_MAX + 1);
	for (size_t i = 0; i < m->data_len; i++)
		m->data[i] = (uint8_t)test_rng_next(r);
	for (size_t off = 0; off < m->data_len;) {
		size_t left = m->data_len - off;
		size_t k = (size_t)test_rng_range(r, 1, test_rng_pct(r, 50) && left > 8 ? 8 : left);
		size_line(r, b, k);
		tb_raw(b, m->data + off, k);
		off += k;
		tb_raw(b, "\r\n", 2);   /* chunk lines: CR LF only */
	}
	size_line(r, b, 0);
	for (unsigned t = (unsigned)test_rng_below(r, 3); t > 0; t--) {
		char name[16], v[VALUE_MAX];
		tokens(r, name, 1, 8);
		tb_raw(b, name, strlen(name));
		tb_u8(b, ':');
		ows(r, b);
		tb_raw(b, v, random_value(r, v));
		tb_raw(b, "\r\n", 2);   /* chunk lines: CR LF only */
	}
	tb_raw(b, "\r\n", 2);   /* chunk lines: CR LF only */
}

/* The first field of this name, or NULL. */
static const field *first(const model *m, const char *name)
{
	for (size_t i = 0; i < m->nf; i++)
		if (strcmp(m->f[i].name, name) == 0)
			return &m->f[i];
	return NULL;
}

static unsigned count(const model *m, const char *name)
{
	unsigned n = 0;
	for (size_t i = 0; i < m->nf; i++)
		n += strcmp(m->f[i].name, name) == 0;
	return n;
}

static void check_value(const char *got, const model *m, const char *name, const char *buf,
                        size_t head_len)
{
	const field *f = first(m, name);
	if (!f) {
		T_ASSERT(got == NULL, "%s reported though absent", name);
		return;
	}
	T_ASSERT(got != NULL, "%s missing", name);
	T_ASSERT(got > buf && got + f->len < buf + head_len, "%s outside the head", name);
	T_ASSERT(memcmp(got, f->value, f->len) == 0 && got[f->len] == '\0', "%s: '%s', want '%s'",
	         name, thp_show(got, f->len), thp_show(f->value, f->len));
}

static void check_head(const model *m, const http_head *h, const char *buf, size_t head_len)
{
	T_ASSERT(strcmp(h->method, m->method) == 0, "method '%s', want '%s'", h->method, m->method);
	T_ASSERT(h->target_len == m->target_len && strcmp(h->target, m->target) == 0,
	         "target '%s', want '%s'", h->target, m->target);
	T_ASSERT(h->minor == m->minor, "minor %u", h->minor);
	check_value(h->content_type, m, "Content-Type", buf, head_len);
	check_value(h->prefer, m, "Prefer", buf, head_len);
	check_value(h->idem_key, m, "Idempotency-Key", buf, head_len);
	const field *ik = first(m, "Idempotency-Key");
	T_ASSERT(h->idem_key_len == (ik ? ik->len : 0), "idem_key_len %zu", h->idem_key_len);
	T_ASSERT(h->idem_keys == count(m, "Idempotency-Key"), "idem_keys %u", h->idem_keys);
	T_ASSERT(h->has_length == m->has_length && h->length == m->length, "length %d %llu, want %llu",
	         h->has_length, (unsigned long long)h->length, (unsigned long long)m->length);
	T_ASSERT(h->chunked == m->chunked, "chunked %d", h->chunked);
	bool keep = m->minor == 1 ? !m->close : m->keep && !m->close;
	T_ASSERT(h->keep_alive == keep, "keep_alive %d", h->keep_alive);
	T_ASSERT(h->expect_continue == m->expect, "expect_continue %d", h->expect_continue);
	T_ASSERT(h->head_len == head_len, "head_len %zu, want %zu", h->head_len, head_len);
}

/* The bytes handed over up to l, grown by a random step (sometimes one). */
static size_t grow(test_rng *r, size_t l, size_t n)
{
	size_t step = test_rng_pct(r, 30) ? 1 : (size_t)test_rng_range(r, 1, 64);
	return l + step < n ? l + step : n;
}

static void decode_body(test_rng *r, const model *m, char *buf, size_t head_len, size_t body_end,
                        size_t n)
{
	http_chunked c;
	http_chunked_init(&c);
	size_t in = head_len, out = head_len, l = head_len;
	http_bad bad = { 0 };
	enum http_parse_result res = HTTP_PARSE_MORE;
	while (res == HTTP_PARSE_MORE && l < n) {
		l = grow(r, l, n);
		res = http_chunked_decode(&c, buf, l, &in, &out, &bad);
		T_ASSERT(res != HTTP_PARSE_MORE || in == l, "more, with %zu of %zu bytes used", in, l);
	}
	T_ASSERT(res == HTTP_PARSE_DONE, "chunked body: %d %s", res,
	         res == HTTP_PARSE_BAD ? bad.code : "-");
	T_ASSERT(in == body_end, "body ends at %zu, want %zu", in, body_end);
	T_ASSERT(out - head_len == m->data_len && memcmp(buf + head_len, m->data, m->data_len) == 0,
	         "decoded %zu bytes, want %zu", out - head_len, m->data_len);
}

static const char next_request[] = "GET /next HTTP/1.1\r\nHost: n\r\n\r\n";

static void random_request_case(test_rng *r, void *arg)
{
	(void)arg;
	model *m = calloc(1, sizeof *m);
	ck_assert_ptr_nonnull(m);
	tb b;
	tb_init(&b);
	head(r, m, &b);
	size_t head_len = b.len;
	if (m->chunked)
		chunked_body(r, m, &b);
	size_t body_end = b.len;
	tb_raw(&b, next_request, sizeof next_request - 1);
	size_t n = b.len;
	char *buf = thp_dup(b.p, n);

	size_t scanned = 0, end = 0;
	for (size_t l = 0; !end && l < n;) {
		l = grow(r, l, n);
		end = http_head_end(buf, l, &scanned);
		T_ASSERT(end == (l >= head_len ? head_len : 0), "head end %zu with %zu bytes, want %zu",
		         end, l, head_len);
	}
	http_head h;
	http_bad bad = { 0 };
	enum http_parse_result res = http_parse_head(buf, end, &h, &bad);
	T_ASSERT(res == HTTP_PARSE_DONE, "refused (%s): '%s'", res == HTTP_PARSE_BAD ? bad.code : "-",
	         thp_show((const char *)b.p, head_len));
	check_head(m, &h, buf, head_len);
	if (m->chunked)
		decode_body(r, m, buf, head_len, body_end, n);
	T_ASSERT(memcmp(buf + body_end, next_request, sizeof next_request - 1) == 0,
	         "the next request was touched");
	free(buf);
	tb_free(&b);
	free(m);
}

START_TEST(random_requests_match)
{
	test_run_cases("http_parse_random_requests", 2000, random_request_case, NULL);
}
END_TEST

TCase *http_parse_random_tcase(void)
{
	TCase *t = tcase_create("random");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, random_requests_match);
	return t;
}
