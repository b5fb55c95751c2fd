/*
 * fuzz_http_conn_ref.h - what a connection should hand to the server, for
 * fuzz_http_conn.c: the client's whole byte stream framed at once, with
 * http_parse.h, by the rules http_conn.h states (one request after the
 * other, a refused head or body or a body past max_body ends the
 * connection, as does a head without keep-alive or the request the server
 * closes after).
 *
 * However the stream is cut into reads, the connection must hand over
 * exactly these requests, in this order, with these heads and bodies; a
 * connection cut short (a deadline, a client gone) hands over a prefix.
 * The conditions under which the connection refuses do not depend on how
 * the bytes arrive (a head with no end within HTTP_HEAD_MAX bytes is 431
 * either way, the decoded body only grows), which is what makes one
 * framing of the whole stream the oracle for all of them.
 *
 * Header-only, like fuzz_peer.h: each harness is built on its own.
 */
#ifndef TESTS_FUZZ_HTTP_CONN_REF_H
#define TESTS_FUZZ_HTTP_CONN_REF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/http/http_parse.h"

enum ref_kind {
	REF_OK,
	REF_BAD,          /* refused: bad is the answer's status and code */
	REF_TOO_LARGE,    /* the body passes max_body */
	REF_INCOMPLETE,   /* the stream ends inside it: never handed over */
};

typedef struct ref_req {
	enum ref_kind kind;
	http_head head;       /* REF_OK and REF_TOO_LARGE */
	http_bad bad;         /* REF_BAD */
	const char *body;     /* REF_OK: decoded, in ref_stream.buf */
	size_t body_len;
	bool closes;          /* the connection ends after its answer */
	bool may_continue;    /* a 100 Continue may come before its answer */
} ref_req;

typedef struct ref_stream {
	char *buf;            /* a copy of the stream, parsed in place */
	size_t len;
	ref_req *reqs;
	size_t n, cap;
	size_t deliverable;   /* reqs not REF_INCOMPLETE (all but maybe the last) */
} ref_stream;

static ref_req *ref_push(ref_stream *r)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->reqs = realloc(r->reqs, r->cap * sizeof *r->reqs);
		if (!r->reqs)
			abort();
	}
	ref_req *q = &r->reqs[r->n++];
	memset(q, 0, sizeof *q);
	return q;
}

/* A body of Content-Length bytes (none without one). */
static size_t ref_plain(ref_stream *r, ref_req *q, size_t start)
{
	if (r->len - start < q->head.length) {
		q->kind = REF_INCOMPLETE;
		return SIZE_MAX;
	}
	q->kind = REF_OK;
	q->body = r->buf + start;
	q->body_len = (size_t)q->head.length;
	return start + q->body_len;
}

/* A chunked body, decoded in one call: the size check comes before the
 * refusal, as in http_conn.c, and what is decoded only grows, so a read
 * cut anywhere reaches the same verdict. */
static size_t ref_chunked(ref_stream *r, ref_req *q, size_t start, size_t max_body)
{
	http_chunked ch;
	http_chunked_init(&ch);
	size_t in = start, out = start;
	enum http_parse_result res = http_chunked_decode(&ch, r->buf, r->len, &in, &out, &q->bad);
	if (out - start > max_body)
		q->kind = REF_TOO_LARGE;
	else if (res == HTTP_PARSE_BAD)
		q->kind = REF_BAD;
	else if (res == HTTP_PARSE_MORE)
		q->kind = REF_INCOMPLETE;
	else
		q->kind = REF_OK;
	q->body = r->buf + start;
	q->body_len = out - start;
	return q->kind == REF_OK ? in : SIZE_MAX;
}

/* Frames the request at buf[pos..len); returns where the next one starts,
 * or SIZE_MAX when nothing can follow it. */
static size_t ref_take(ref_stream *r, size_t pos, unsigned close_seq, size_t max_body)
{
	static const http_bad too_big = { 431, "header_too_large", "" };
	unsigned seq = (unsigned)r->n;
	ref_req *q = ref_push(r);
	char *b = r->buf + pos;
	size_t n = r->len - pos, scanned = 0;
	size_t end = http_head_end(b, n, &scanned);
	q->kind = REF_BAD;
	q->closes = true;
	if (end > HTTP_HEAD_MAX || (end == 0 && n >= HTTP_HEAD_MAX)) {
		q->bad = too_big;
		return SIZE_MAX;
	}
	if (end == 0) {
		q->kind = REF_INCOMPLETE;
		return SIZE_MAX;
	}
	if (http_parse_head(b, end, &q->head, &q->bad) != HTTP_PARSE_DONE)
		return SIZE_MAX;
	const http_head *h = &q->head;
	bool too_large = h->has_length && h->length > max_body;
	/* Sent when the head is taken and its body is not all there yet. */
	q->may_continue = h->expect_continue && h->minor == 1 && !too_large;
	if (too_large) {
		q->kind = REF_TOO_LARGE;
		return SIZE_MAX;
	}
	size_t next = h->chunked ? ref_chunked(r, q, pos + end, max_body) : ref_plain(r, q, pos + end);
	if (q->kind != REF_OK)
		return SIZE_MAX;
	q->closes = !h->keep_alive || seq == close_seq;
	return q->closes ? SIZE_MAX : next;
}

/* Frames the whole stream; close_seq is the request the server calls
 * http_conn_close_after for (UINT_MAX: none). */
static void ref_build(ref_stream *r, const char *stream, size_t len, unsigned close_seq,
                      size_t max_body)
{
	memset(r, 0, sizeof *r);
	r->buf = malloc(len ? len : 1);
	if (!r->buf)
		abort();
	if (len)
		memcpy(r->buf, stream, len);
	r->len = len;
	for (size_t pos = 0; pos != SIZE_MAX;)
		pos = ref_take(r, pos, close_seq, max_body);
	for (size_t i = 0; i < r->n; i++)
		r->deliverable += r->reqs[i].kind != REF_INCOMPLETE;
}

static void ref_free(ref_stream *r)
{
	free(r->buf);
	free(r->reqs);
}

#endif
