/*
 * fuzz_http_conn.c - libFuzzer harness for one HTTP/1.1 connection of the
 * API server (app/http/http_conn.h): its growing input buffer, framing,
 * chunked bodies decoded in place, pipelining, answers now or later,
 * 100 Continue, HEAD, keep-alive and close, half-close, the draining close
 * after an error, and the deadline sweep.  The connection runs on a real
 * libevent loop over a non-blocking AF_UNIX socketpair; this file plays
 * both the client (the other end) and the server (http_conn_ops).
 *
 * Input: three control bytes, then the client's byte stream with ops.
 *   byte 0  bits 0-1  when the server answers: 0 inside ops.request,
 *                     1 at the end of the loop turn, 2 inside or at the
 *                     end by bit (seq % 8) of byte 1, 3 two turns late
 *                     (the client meanwhile pipelines into the buffer of a
 *                     request being served)
 *           bit 2     at the end the client shuts its sending side and
 *                     reads every answer (else it closes its socket)
 *           bit 3     slow reader: socket buffers of 4 KiB, the client
 *                     reads only on a turn where it could not send
 *           bit 4     large answers (60 KB bodies, three in four: a few
 *                     pipelined requests pass the output's high mark)
 *           bit 5     a second, idle connection beside the first
 *           bit 6     http_conns_sweep an hour ahead once the client ended
 *           bit 7     the client ends right with its last bytes, before
 *                     the loop has seen them
 *   byte 1  picks each answer's status and headers (and bit 0)
 *   byte 2  the request after which the server calls
 *           http_conn_close_after (0xff: none)
 *   then bytes as sent, except:
 *     0xfe     send what came before it, then one more loop turn
 *     0xfd k   (k + 1) * 64 bytes of 'x' (bodies and heads past 4 KiB)
 *     0xfc b   the byte b itself
 *     0xfb k   http_conns_sweep(now + k seconds)
 *     0xfa     the client reads what came back
 *     0xf9     http_conns_destroy, as at shutdown, whatever is under way
 *
 * Checks, aborting on a failure:
 *   - each request handed over has exactly one of head and bad, too_large
 *     only with a head; the head's strings readable and NUL-terminated, the
 *     method a token, strlen(target) == target_len, target bytes
 *     0x21..0x7e; body_len <= max_body, 0 when refused, every body byte
 *     read (ASan); and the request is the one fuzz_http_conn_ref.h frames
 *     from the whole stream: same kind, head fields and strings, status
 *     and code, body bytes.  Checked again when a late answer is given:
 *     the head, its strings and the body must not have moved meanwhile.
 *   - ops.request is never re-entered nor called for the idle connection
 *     nor while an answer is owed; ops.closed once per connection, never
 *     inside ops.request; no answer is given after ops.closed (pending
 *     ones are dropped), and the client's send fails only once it was.
 *   - the client reads well-formed answers in order: "HTTP/1.1", the
 *     status and its reason, one Date, Content-Length equal to the body
 *     the server gave (none on 204), Connection: close exactly on the last
 *     answer and keep-alive on HTTP/1.0 ones, the body (each names its
 *     request) except for HEAD and 204, nothing after Connection: close,
 *     and 100 Continue only before the answer to a request that asked.
 *   - nothing stalls: while the client has bytes to send, something moves
 *     within a few loop turns; once it ended, every connection closes.
 *   - when the client shut its side and no sweep or destroy cut the
 *     connection, every framed request was handed over and answered, and
 *     every answer read, up to the connection's end of file.
 *   - a sweep less than 5 s ahead leaves the idle connection, one of 11 s
 *     or more closes it and counts a header timeout, and one at now
 *     closes nothing at all; http_conns_destroy ends every connection
 *     through ops.closed.
 *
 *   make fuzz FUZZ_SECONDS=60
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "app/http/http_conn.h"
#include "app/http/http_parse.h"
#include "app/http/http_reply.h"
#include "tests/fuzz/fuzz_http_conn_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                 \
	do {                                                                            \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_http_conn: check failed: %s (%s:%d)\n", #cond,   \
			        __FILE__, __LINE__);                                            \
			abort();                                                                \
		}                                                                           \
	} while (0)

#define MAX_BODY ((size_t)2048)   /* small: 413 and the buffer's growth are near */
#define HEADER_MS 10000u          /* deadlines apart, so a sweep's k picks them */
#define BODY_MS 30000u
#define STREAM_MAX ((size_t)256 << 10) /* past the input buffer's bound (98 KiB) */
#define FILL_UNIT 64
#define BIG_BODY 60000            /* five of these pass the output's high mark */
#define SMALL_BUF 4096            /* slow reader's socket buffers */
#define LOOP_PASSES 4             /* loop passes per turn */
#define STALL_TURNS 32            /* turns without anything moving */
#define TURNS_MAX 1000000u

#define OP_SPLIT 0xfe
#define OP_FILL 0xfd
#define OP_LITERAL 0xfc
#define OP_SWEEP 0xfb
#define OP_READ 0xfa
#define OP_DESTROY 0xf9

#define F_ANSWER 0x03
#define F_HALF_CLOSE 0x04
#define F_SLOW_READER 0x08
#define F_BIG 0x10
#define F_IDLE_CONN 0x20
#define F_SWEEP_END 0x40
#define F_EARLY_END 0x80

enum { ANSWER_INLINE, ANSWER_NEXT_TURN, ANSWER_MIXED, ANSWER_LATE };

/* ---- the input ---- */

typedef struct step {
	size_t end;            /* stream bytes sent before the op */
	unsigned op, arg;      /* OP_SPLIT, OP_SWEEP, OP_READ or OP_DESTROY */
} step;

typedef struct plan {
	unsigned flags, pattern, close_seq;
	char *stream;
	size_t len, cap;
	step *steps;
	size_t nsteps;
} plan;

static void plan_put(plan *p, int byte, size_t n)
{
	if (n > STREAM_MAX - p->len)
		n = STREAM_MAX - p->len;
	if (n == 0)
		return;
	if (p->cap - p->len < n) {
		while (p->cap - p->len < n)
			p->cap = p->cap ? p->cap * 2 : 256;
		p->stream = realloc(p->stream, p->cap);
		CHECK(p->stream != NULL);
	}
	memset(p->stream + p->len, byte, n);
	p->len += n;
}

static void plan_build(plan *p, const uint8_t *d, size_t n)
{
	memset(p, 0, sizeof *p);
	p->flags = n > 0 ? d[0] : 0;
	p->pattern = n > 1 ? d[1] : 0;
	p->close_seq = n > 2 && d[2] != 0xff ? d[2] : UINT_MAX;
	p->steps = calloc(n + 1, sizeof *p->steps);
	CHECK(p->steps != NULL);
	for (size_t i = 3; i < n; i++) {
		unsigned arg = i + 1 < n ? d[i + 1] : 0;
		if (d[i] == OP_SPLIT || d[i] == OP_READ || d[i] == OP_SWEEP || d[i] == OP_DESTROY) {
			p->steps[p->nsteps++] = (step){ p->len, d[i], arg };
			i += d[i] == OP_SWEEP;
		} else if (d[i] == OP_FILL) {
			plan_put(p, 'x', (arg + 1) * FILL_UNIT);
			i++;
		} else if (d[i] == OP_LITERAL) {
			plan_put(p, (int)arg, 1);
			i++;
		} else {
			plan_put(p, d[i], 1);
		}
	}
	p->steps[p->nsteps++] = (step){ p->len, OP_SPLIT, 0 };
}

/* ---- the run ---- */

typedef struct conn_rec {
	http_conn *c;          /* NULL once ops.closed said it went */
	int fd;                /* its socket (the connection owns it) */
} conn_rec;

/* An answer the server gives, as the client must read it. */
typedef struct given {
	unsigned status;
	size_t body_len;       /* Content-Length */
	bool with_body;        /* the body's bytes follow: not HEAD, not 204 */
	bool closes, keep_alive, big;
} given;

/* A request whose answer is given on a later turn. */
typedef struct owed {
	bool on;
	unsigned seq, turns;
	http_request rq;       /* its pointers stay valid until answered */
} owed;

typedef struct harness {
	plan p;
	ref_stream ref;
	struct event_base *base;
	http_conns cs;
	conn_rec main, idle;
	unsigned open;         /* connections ops.closed has not ended */
	bool in_request;
	unsigned delivered, answered;
	given *answers;        /* one per framed request */
	owed owed;
	bool cut;              /* no completeness: a sweep or the client cut it */
	int queued;            /* bytes waiting in the connection's socket */
	/* the client */
	int fd, idle_fd;
	size_t sent;
	bool send_failed, ended, eof;
	char *rx;
	size_t rx_off, rx_len, rx_cap;
	unsigned parsed;       /* final answers read */
	bool continued, closed_by_answer;
} harness;

static char tx_body[BIG_BODY + 64], rx_body[BIG_BODY + 64];

/* An answer's body: names its request, so that order shows. */
static size_t answer_body(char *dst, unsigned seq, unsigned status, bool big)
{
	size_t n = (size_t)snprintf(dst, 64, "{\"seq\":%u,\"status\":%u}\n", seq, status);
	if (!big)
		return n;
	memset(dst + n, 'a' + (int)(seq % 26), BIG_BODY - n);
	return BIG_BODY;
}

/* ---- what the server is handed ---- */

/* RFC 9110 tchar, written independently of the parser's table. */
static bool is_token_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void check_head_shape(const http_head *h, size_t body_len, bool too_large)
{
	size_t m = strlen(h->method);
	CHECK(m > 0);
	for (size_t i = 0; i < m; i++)
		CHECK(is_token_char((unsigned char)h->method[i]));
	CHECK(h->target_len > 0 && strlen(h->target) == h->target_len);
	for (size_t i = 0; i < h->target_len; i++)
		CHECK((unsigned char)h->target[i] >= 0x21 && (unsigned char)h->target[i] <= 0x7e);
	CHECK(h->minor <= 1 && h->head_len <= HTTP_HEAD_MAX);
	CHECK(!h->content_type || strlen(h->content_type) < h->head_len);
	CHECK(!h->prefer || strlen(h->prefer) < h->head_len);
	CHECK(!h->idem_key || strlen(h->idem_key) == h->idem_key_len);
	CHECK(!(h->has_length && h->chunked));
	CHECK(too_large || !h->has_length || h->length == body_len);
}

static void check_shape(const http_request *rq)
{
	CHECK((rq->head == NULL) != (rq->bad == NULL));
	CHECK(!rq->too_large || rq->head != NULL);
	CHECK(rq->body != NULL && rq->body_len <= MAX_BODY);
	CHECK(!(rq->bad || rq->too_large) || rq->body_len == 0);
	size_t sum = 0;   /* every byte read, for ASan */
	for (size_t i = 0; i < rq->body_len; i++)
		sum += (unsigned char)rq->body[i];
	CHECK(sum <= 255 * rq->body_len);
	if (rq->bad)
		CHECK(rq->bad->code && rq->bad->message && (rq->bad->status == 400 ||
		      rq->bad->status == 431 || rq->bad->status == 505));
	else
		check_head_shape(rq->head, rq->body_len, rq->too_large);
}

static bool str_eq(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static void check_head_as_ref(const http_head *g, const http_head *e)
{
	CHECK(strcmp(g->method, e->method) == 0);
	CHECK(g->target_len == e->target_len && memcmp(g->target, e->target, e->target_len + 1) == 0);
	CHECK(g->minor == e->minor && g->head_len == e->head_len);
	CHECK(str_eq(g->content_type, e->content_type) && str_eq(g->prefer, e->prefer));
	CHECK(str_eq(g->idem_key, e->idem_key) && g->idem_key_len == e->idem_key_len &&
	      g->idem_keys == e->idem_keys);
	CHECK(g->has_length == e->has_length && g->length == e->length);
	CHECK(g->chunked == e->chunked && g->keep_alive == e->keep_alive &&
	      g->expect_continue == e->expect_continue);
}

/* The request is the one the whole stream frames as number seq. */
static void check_as_ref(const harness *h, unsigned seq, const http_request *rq)
{
	check_shape(rq);
	CHECK(seq < h->ref.n);
	const ref_req *e = &h->ref.reqs[seq];
	CHECK(e->kind != REF_INCOMPLETE);
	if (e->kind == REF_BAD) {
		CHECK(rq->bad && rq->bad->status == e->bad.status && strcmp(rq->bad->code, e->bad.code) == 0);
		return;
	}
	CHECK(rq->head && rq->too_large == (e->kind == REF_TOO_LARGE));
	check_head_as_ref(rq->head, &e->head);
	if (e->kind == REF_OK)
		CHECK(rq->body_len == e->body_len && memcmp(rq->body, e->body, e->body_len) == 0);
}

/* ---- the server ---- */

static const unsigned statuses[] = { 200, 204, 200, 400, 404, 405, 409, 415, 422, 500, 503 };
#define NSTATUSES (sizeof statuses / sizeof statuses[0])

/* The answer to request seq, logged for the client before it goes out. */
static void answer(harness *h, const http_request *rq, unsigned seq)
{
	check_as_ref(h, seq, rq);
	unsigned status = rq->bad ? rq->bad->status : rq->too_large ? 413
	                : statuses[(h->p.pattern + seq) % NSTATUSES];
	given *g = &h->answers[seq];
	g->status = status;
	g->big = (h->p.flags & F_BIG) && seq % 4 != 3;
	g->body_len = answer_body(tx_body, seq, status, g->big);
	g->with_body = status != 204 && !(rq->head && strcmp(rq->head->method, "HEAD") == 0);
	g->closes = rq->bad || rq->too_large || !rq->head->keep_alive || seq == h->p.close_seq;
	CHECK(g->closes == h->ref.reqs[seq].closes);
	g->keep_alive = !g->closes && rq->head->minor == 0;
	api_response res = {
		.status = status,
		.body = tx_body,
		.body_len = g->body_len,
		.content_type = seq % 2 ? "application/json" : NULL,
		.allow = status == 405 ? "GET, DELETE" : NULL,
		.retry_after = status == 503 ? 1 : 0,
		.applied = (h->p.pattern & 0x40) ? "return=minimal" : NULL,
		.replayed = (h->p.pattern & 0x20) != 0,
	};
	h->answered++;
	http_conn_respond(h->main.c, &res);
}

static bool answer_inside(const harness *h, unsigned seq)
{
	switch (h->p.flags & F_ANSWER) {
	case ANSWER_INLINE: return true;
	case ANSWER_MIXED: return (h->p.pattern >> (seq % 8)) & 1;
	default: return false;
	}
}

static void on_request(void *arg, http_conn *c, const http_request *rq)
{
	harness *h = arg;
	CHECK(!h->in_request && !h->owed.on);
	CHECK(c == h->main.c && http_conn_user(c) == &h->main);
	h->in_request = true;
	unsigned seq = h->delivered++;
	check_as_ref(h, seq, rq);
	if (seq == h->p.close_seq)
		http_conn_close_after(c);
	if (answer_inside(h, seq))
		answer(h, rq, seq);
	else
		h->owed = (owed){ true, seq, (h->p.flags & F_ANSWER) == ANSWER_LATE ? 2 : 0, *rq };
	h->in_request = false;
}

static void on_closed(void *arg, http_conn *c)
{
	harness *h = arg;
	CHECK(!h->in_request && h->open > 0);
	conn_rec *r = c == h->main.c ? &h->main : c == h->idle.c ? &h->idle : NULL;
	CHECK(r != NULL && http_conn_user(c) == r);   /* a second call finds none */
	r->c = NULL;
	h->open--;
	if (r == &h->main)
		h->owed.on = false;   /* the server must not answer it any more */
}

/* Gives an owed answer whose turn has come; true when anything moved. */
static bool answer_owed(harness *h)
{
	if (!h->owed.on)
		return false;
	if (h->owed.turns > 0) {
		h->owed.turns--;
		return true;
	}
	h->owed.on = false;
	answer(h, &h->owed.rq, h->owed.seq);
	return true;
}

/* ---- the client: answers ---- */

typedef struct answer_head {
	unsigned status, dates;
	bool has_length, close, keep_alive;
	size_t length;
} answer_head;

static void answer_field(answer_head *a, const char *f, const char *eol)
{
	const char *colon = memchr(f, ':', (size_t)(eol - f));
	CHECK(colon && colon > f && colon + 1 < eol && colon[1] == ' ');
	size_t nlen = (size_t)(colon - f), vlen = (size_t)(eol - colon - 2);
	const char *v = colon + 2;
	if (nlen == 14 && memcmp(f, "Content-Length", 14) == 0) {
		CHECK(!a->has_length && vlen > 0 && vlen < 12);
		a->has_length = true;
		for (size_t i = 0; i < vlen; i++) {
			CHECK(v[i] >= '0' && v[i] <= '9');
			a->length = a->length * 10 + (size_t)(v[i] - '0');
		}
	} else if (nlen == 10 && memcmp(f, "Connection", 10) == 0) {
		CHECK(!a->close && !a->keep_alive);
		a->close = vlen == 5 && memcmp(v, "close", 5) == 0;
		a->keep_alive = vlen == 10 && memcmp(v, "keep-alive", 10) == 0;
		CHECK(a->close || a->keep_alive);
	} else if (nlen == 4 && memcmp(f, "Date", 4) == 0) {
		a->dates++;
	}
}

/* The head p[0..hl), which ends in its blank line. */
static void parse_answer_head(const char *p, size_t hl, answer_head *a)
{
	memset(a, 0, sizeof *a);
	CHECK(hl >= 17 && memcmp(p, "HTTP/1.1 ", 9) == 0 && p[12] == ' ');
	for (int i = 9; i < 12; i++) {
		CHECK(p[i] >= '0' && p[i] <= '9');
		a->status = a->status * 10 + (unsigned)(p[i] - '0');
	}
	const char *reason = http_reply_reason(a->status);
	size_t rl = strlen(reason);
	CHECK(hl >= 17 + rl && memcmp(p + 13, reason, rl) == 0 && memcmp(p + 13 + rl, "\r\n", 2) == 0);
	const char *f = p + 15 + rl, *end = p + hl - 2;
	while (f < end) {
		const char *eol = memmem(f, (size_t)(end - f), "\r\n", 2);
		CHECK(eol != NULL);
		answer_field(a, f, eol);
		f = eol + 2;
	}
}

static void take_continue(harness *h, const char *p, size_t hl)
{
	CHECK(hl == 25 && memcmp(p, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
	CHECK(h->parsed < h->ref.n && h->ref.reqs[h->parsed].may_continue && !h->continued);
	h->continued = true;
}

/* Reads one answer off the front; false when it is not all there. */
static bool take_answer(harness *h)
{
	const char *p = h->rx + h->rx_off;
	size_t n = h->rx_len - h->rx_off;
	CHECK(n == 0 || !h->closed_by_answer);   /* nothing after Connection: close */
	const char *e = memmem(p, n, "\r\n\r\n", 4);
	if (!e) {
		CHECK(n < HTTP_REPLY_HEAD_MAX);
		return false;
	}
	size_t hl = (size_t)(e + 4 - p);
	answer_head a;
	parse_answer_head(p, hl, &a);
	if (a.status == 100) {
		take_continue(h, p, hl);
		h->rx_off += hl;
		return true;
	}
	CHECK(h->parsed < h->answered);   /* only what the server gave */
	const given *g = &h->answers[h->parsed];
	CHECK(a.status == g->status && a.dates == 1);
	CHECK(a.has_length == (g->status != 204) && (!a.has_length || a.length == g->body_len));
	CHECK(a.close == g->closes && a.keep_alive == g->keep_alive);
	size_t blen = g->with_body ? g->body_len : 0;
	if (n - hl < blen)
		return false;
	CHECK(answer_body(rx_body, h->parsed, g->status, g->big) == g->body_len);
	CHECK(memcmp(p + hl, rx_body, blen) == 0);
	h->rx_off += hl + blen;
	h->parsed++;
	h->continued = false;
	h->closed_by_answer = g->closes;
	return true;
}

/* Room to read 16 KiB more, after dropping the answers already read. */
static void rx_reserve(harness *h)
{
	if (h->rx_cap - h->rx_len >= 16384)
		return;
	if (h->rx_off) {
		memmove(h->rx, h->rx + h->rx_off, h->rx_len - h->rx_off);
		h->rx_len -= h->rx_off;
		h->rx_off = 0;
	}
	while (h->rx_cap - h->rx_len < 16384)
		h->rx_cap = h->rx_cap ? h->rx_cap * 2 : 65536;
	h->rx = realloc(h->rx, h->rx_cap);
	CHECK(h->rx != NULL);
}

/* Reads what came back and checks every whole answer; true when any byte
 * (or the end of file) came. */
static bool client_read(harness *h)
{
	if (h->fd < 0 || h->eof)
		return false;
	bool got = false;
	for (;;) {
		rx_reserve(h);
		ssize_t n = recv(h->fd, h->rx + h->rx_len, h->rx_cap - h->rx_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		got = true;
		if (n <= 0) {
			h->eof = true;
			break;
		}
		h->rx_len += (size_t)n;
	}
	while (take_answer(h))
		;
	return got;
}

/* ---- the client: sending, ending ---- */

/* Sends stream[sent..end) as far as it goes; true when any went. */
static bool client_send(harness *h, size_t end)
{
	if (h->fd < 0 || h->ended || h->send_failed || h->sent >= end)
		return false;
	ssize_t n = send(h->fd, h->p.stream + h->sent, end - h->sent, MSG_NOSIGNAL);
	if (n > 0) {
		h->sent += (size_t)n;
		return true;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	CHECK(h->main.c == NULL);   /* its socket closes only with ops.closed */
	h->send_failed = true;
	return true;
}

static void client_end(harness *h)
{
	if (h->ended)
		return;
	h->ended = true;
	if (h->idle_fd >= 0) {
		close(h->idle_fd);
		h->idle_fd = -1;
	}
	if (h->p.flags & F_HALF_CLOSE) {
		shutdown(h->fd, SHUT_WR);
		return;
	}
	close(h->fd);
	h->fd = -1;
	h->cut = true;
}

/* ---- turns of the loop ---- */

/* Bytes waiting in the connection's socket changed: it read some. */
static bool server_read(harness *h)
{
	if (!h->main.c)
		return false;
	int q = 0;
	CHECK(ioctl(h->main.fd, FIONREAD, &q) == 0);
	bool moved = q != h->queued;
	h->queued = q;
	return moved;
}

/* One turn: send, let the loop run, read, give owed answers.  True when
 * anything moved. */
static bool turn(harness *h, size_t end, bool read_now)
{
	unsigned open = h->open;
	bool sent = client_send(h, end);
	if (sent && h->sent == h->p.len && (h->p.flags & F_EARLY_END))
		client_end(h);
	for (int i = 0; i < LOOP_PASSES; i++)
		event_base_loop(h->base, EVLOOP_NONBLOCK);
	bool moved = sent;
	if (read_now || !sent || !(h->p.flags & F_SLOW_READER))
		moved |= client_read(h);
	moved |= answer_owed(h);
	moved |= server_read(h);
	return moved || h->open != open;
}

static void sweep(harness *h, unsigned k)
{
	unsigned open = h->open;
	bool idle = h->idle.c != NULL;
	uint64_t expired = h->cs.header_expired;
	http_conns_sweep(&h->cs, http_now_ms() + (int64_t)k * 1000);
	if (k == 0)
		CHECK(h->open == open);
	if (idle && k <= 5)
		CHECK(h->idle.c != NULL);
	if (idle && k >= 11)
		CHECK(h->idle.c == NULL && h->cs.header_expired > expired);
	if (h->open != open)
		h->cut = true;
}

/* Shutdown: every connection goes, an owed answer with it. */
static void destroy(harness *h)
{
	unsigned open = h->open;
	http_conns_destroy(&h->cs);
	CHECK(h->open == 0 && !h->owed.on && h->cs.count == 0 && h->cs.head == NULL);
	if (open)
		h->cut = true;
}

static void send_upto(harness *h, size_t end)
{
	unsigned still = 0;
	while (h->sent < end && !h->send_failed && !h->ended) {
		still = turn(h, end, false) ? 0 : still + 1;
		CHECK(still < STALL_TURNS);   /* the connection stopped reading */
	}
}

static void run_step(harness *h, const step *s)
{
	send_upto(h, s->end);
	if (s->op == OP_SWEEP)
		sweep(h, s->arg);
	else if (s->op == OP_DESTROY)
		destroy(h);
	else
		turn(h, s->end, s->op == OP_READ);
}

/* The client ends; every connection must close by itself. */
static void finish(harness *h)
{
	client_end(h);
	unsigned still = 0;
	for (unsigned turns = 0; h->open > 0; turns++) {
		bool moved = turn(h, h->p.len, true);
		if (turns == 0 && (h->p.flags & F_SWEEP_END)) {
			sweep(h, 3600);
			moved = true;
		}
		still = moved ? 0 : still + 1;
		CHECK(still < STALL_TURNS && turns < TURNS_MAX);   /* never closes */
	}
	while (client_read(h))
		;
}

/* Nothing was cut: everything framed was served, answered and read. */
static void check_complete(const harness *h)
{
	CHECK(h->parsed <= h->answered && h->answered <= h->delivered);
	CHECK(h->delivered <= h->ref.deliverable);
	if (h->cut)
		return;
	CHECK(h->delivered == h->ref.deliverable);
	CHECK(h->answered == h->delivered && h->parsed == h->answered);
	CHECK(h->eof && h->rx_off == h->rx_len);
}

/* ---- set-up ---- */

static void open_conn(harness *h, conn_rec *r, int *client)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	if (h->p.flags & F_SLOW_READER) {
		int small = SMALL_BUF;
		for (int i = 0; i < 2; i++) {
			setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
			setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
		}
	}
	CHECK(http_conn_open(&h->cs, sv[1]) == 0);
	r->c = h->cs.head;   /* a new connection goes first in the list */
	r->fd = sv[1];
	http_conn_set_user(r->c, r);
	*client = sv[0];
	h->open++;
}

static void start(harness *h, const uint8_t *data, size_t size)
{
	plan_build(&h->p, data, size);
	ref_build(&h->ref, h->p.stream, h->p.len, h->p.close_seq, MAX_BODY);
	h->answers = calloc(h->ref.n, sizeof *h->answers);
	CHECK(h->answers != NULL);
	h->base = event_base_new();
	CHECK(h->base != NULL);
	static const http_conn_ops ops = { on_request, on_closed };
	http_conns_init(&h->cs, h->base, &ops, h, MAX_BODY, HEADER_MS, BODY_MS);
	h->fd = h->idle_fd = -1;
	if (h->p.flags & F_IDLE_CONN)
		open_conn(h, &h->idle, &h->idle_fd);
	open_conn(h, &h->main, &h->fd);
}

static void stop(harness *h)
{
	CHECK(h->cs.count == 0 && h->cs.head == NULL);
	http_conns_destroy(&h->cs);
	event_base_free(h->base);
	if (h->fd >= 0)
		close(h->fd);
	free(h->rx);
	free(h->answers);
	ref_free(&h->ref);
	free(h->p.stream);
	free(h->p.steps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	harness h;
	memset(&h, 0, sizeof h);
	start(&h, data, size);
	for (size_t i = 0; i < h.p.nsteps; i++)
		run_step(&h, &h.p.steps[i]);
	finish(&h);
	check_complete(&h);
	stop(&h);
	return 0;
}
