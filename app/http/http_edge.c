/*
 * http_edge.c - strict request-header checks on top of libmicrohttpd
 * (see http_edge.h for why and how).
 */
#include "app/http/http_edge.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#if MHD_VERSION < 0x00097300 || MHD_VERSION >= 0x00100000
/* The layout check relies on how 0.9.7x keeps the header in its read
 * buffer; check_edge in tests/check_edge.c proves it for the version built. */
#error "http_edge.c is written against libmicrohttpd 0.9.73..0.9.x"
#endif

/* The walk over the raw header: cur is the end of the last piece seen. */
typedef struct walk {
	uintptr_t cur, end;
	bool bad;                 /* leftover bytes, or a piece out of place */
	bool in_target;           /* the leftover follows the method or target */
	bool bad_name, bad_value; /* a name that is not a token; a CTL in a value */
	unsigned hosts, lengths, encodings;
	const char *te;           /* the Transfer-Encoding value (last seen) */
	size_t te_len;
} walk;

static bool is_sep(unsigned char c)
{
	return c == '\0' || c == ' ' || c == '\t';
}

/* Accounts for one piece [p, p + len): everything between the previous
 * piece and this one must be separators. */
static void piece(walk *w, const char *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	if (w->bad)
		return;
	if (!p || a < w->cur || a > w->end || len > w->end - a) {
		w->bad = true;
		return;
	}
	for (const char *s = (const char *)w->cur; (uintptr_t)s < a; s++) {
		if (!is_sep((unsigned char)*s)) {
			w->bad = true;
			return;
		}
	}
	w->cur = a + len;
}

/* RFC 9110 5.6.2 token characters. */
static bool is_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", c)))
			return false;
	}
	return true;
}

/* Field values: visible characters, spaces and tabs (no CR, no NUL). */
static bool is_field_value(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static bool name_is(const char *key, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(key, want, n) == 0;
}

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
	walk *w = cls;
	(void)kind;
	w->in_target = false;
	piece(w, key, key_size);
	piece(w, value, value_size);
	if (!is_token(key, key_size))
		w->bad_name = true;
	if (value && !is_field_value(value, value_size))
		w->bad_value = true;
	if (name_is(key, key_size, MHD_HTTP_HEADER_HOST))
		w->hosts++;
	else if (name_is(key, key_size, MHD_HTTP_HEADER_CONTENT_LENGTH))
		w->lengths++;
	else if (name_is(key, key_size, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		w->encodings++;
		w->te = value;
		w->te_len = value_size;
	}
	return MHD_YES;
}

/* The request target: visible ASCII only (RFC 9112 3.2; no space, no CTL). */
static bool is_target(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Walks the whole raw header; false if anything is out of place. */
static bool walk_header(const http_edge_req *q, walk *w)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	if (!ci || ci->header_size == 0 || !q->method || !q->version)
		return false;
	w->cur = (uintptr_t)q->method;
	w->end = w->cur + ci->header_size;
	if (w->end < w->cur)
		return false;
	w->in_target = true;
	piece(w, q->method, strlen(q->method));
	piece(w, q->raw_target, q->target_len);
	piece(w, q->version, strlen(q->version));
	if (w->bad)
		return false;
	w->in_target = false;
	MHD_get_connection_values_n(q->conn, MHD_HEADER_KIND, on_header, w);
	piece(w, (const char *)w->end, 0);   /* the final blank line */
	return !w->bad;
}

int http_edge_check(const http_edge_req *q, api_response *res)
{
	walk w = { 0 };
	bool ok = walk_header(q, &w);
	if (!ok && w.in_target) {
		api_error(res, 400, "bad_target", "the request target has a NUL byte or a "
		          "character that is not visible ASCII");
		return -1;
	}
	if (!ok || w.bad_name || w.bad_value) {
		api_error(res, 400, "bad_header", "a header line has a NUL byte, a control "
		          "character, a name that is not a token, or is folded (obs-fold)");
		return -1;
	}
	if (!q->target || !is_target(q->target, q->target_len)) {
		api_error(res, 400, "bad_target", "the request target has a NUL byte or a "
		          "character that is not visible ASCII");
		return -1;
	}
	bool v10 = strcmp(q->version, MHD_HTTP_VERSION_1_0) == 0;
	if (w.hosts > 1 || (w.hosts == 0 && !v10)) {
		api_error(res, 400, "missing_host", "HTTP/1.1 needs exactly one Host header "
		          "(this request has %u)", w.hosts);
		return -1;
	}
	if (w.lengths > 1 || (w.lengths && w.encodings) || w.encodings > 1 ||
	    (w.encodings && (v10 || w.te_len != 7 || strncasecmp(w.te, "chunked", 7) != 0))) {
		api_error(res, 400, "bad_length", "the body length is ambiguous: more than one "
		          "Content-Length, Content-Length with Transfer-Encoding, or a "
		          "Transfer-Encoding other than a single \"chunked\" on HTTP/1.1");
		return -1;
	}
	return 0;
}
