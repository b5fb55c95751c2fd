/*
 * http_conn.c - one HTTP/1.1 connection: reading, framing, answering in
 * order, deadlines, closing (see http_conn.h).
 *
 * The input buffer holds the request being read or served at its start,
 * then whatever the client pipelined after it.  A chunked body is decoded
 * in place right behind its head, so a request is always one contiguous
 * run of bytes, dropped from the buffer when its answer is queued.
 */
#include "app/http/http_conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app/http/http_reply.h"
#include "crdt/error.h"

#define IN_FIRST ((size_t)4 << 10)     /* a connection's first read buffer */
#define IN_ROOM ((size_t)2 << 10)      /* grow the buffer below this much room */
#define OUT_HIGH ((size_t)256 << 10)   /* answers queued before parsing waits */

enum conn_state {
	C_HEAD,      /* reading a request header */
	C_BODY,      /* reading its body */
	C_SERVING,   /* the server has the request */
	C_CLOSING,   /* the last answer is queued; then C_DRAIN */
	C_DRAIN,     /* sending side shut: reading and dropping until EOF */
};

struct http_conn {
	http_conns *cs;
	int fd;
	struct event *ev_read, *ev_write;
	bool reading, writing;     /* which events are armed */
	enum conn_state state;
	char *in;
	size_t in_len, in_cap;
	size_t scanned;            /* http_head_end's cursor */
	http_head head;
	http_chunked chunked;
	size_t body_len;           /* decoded so far (chunked) or declared */
	size_t raw_at;             /* chunked: the next byte not decoded yet */
	size_t req_end;            /* the request's bytes, once complete */
	http_bad bad;
	bool refused;              /* the request being served is an error */
	bool close_after;          /* no request after this one */
	bool head_only;            /* HEAD: the answer has no body */
	bool eof;                  /* the client shut its sending side */
	bool in_callback;          /* inside ops.request */
	char *out;
	size_t out_len, out_off, out_cap;
	int64_t due_ms;            /* header or body deadline (0: none) */
	bool due_body;
	int64_t send_due_ms;       /* an answer stalled since (+ HTTP_SEND_MS) */
	int64_t drain_due_ms;
	void *user;
	http_conn *prev, *next;
};

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void process(http_conn *c);

int64_t http_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_conn_close_after(http_conn *c)
{
	c->close_after = true;
}

void *http_conn_user(const http_conn *c)
{
	return c->user;
}

void http_conn_set_user(http_conn *c, void *user)
{
	c->user = user;
}

/* ---- lifetime ---- */

void http_conns_init(http_conns *cs, struct event_base *base, const http_conn_ops *ops,
                     void *arg, size_t max_body, uint32_t header_ms, uint32_t body_ms)
{
	memset(cs, 0, sizeof *cs);
	cs->base = base;
	cs->ops = *ops;
	cs->arg = arg;
	cs->max_body = max_body;
	cs->header_ms = header_ms;
	cs->body_ms = body_ms;
}

static size_t in_cap_max(const http_conns *cs)
{
	return HTTP_HEAD_MAX + cs->max_body + HTTP_PIPELINE_MAX;
}

/* Frees c; the server hears of an unanswered request first. */
static void conn_free(http_conn *c)
{
	http_conns *cs = c->cs;
	cs->ops.closed(cs->arg, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		cs->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	cs->count--;
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_write)
		event_free(c->ev_write);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

int http_conn_open(http_conns *cs, int fd)
{
	http_conn *c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return CARTD_ENOMEM;
	}
	c->cs = cs;
	c->fd = fd;
	c->in = malloc(IN_FIRST);
	c->in_cap = IN_FIRST;
	c->ev_read = event_new(cs->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->ev_write = event_new(cs->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	c->next = cs->head;
	if (cs->head)
		cs->head->prev = c;
	cs->head = c;
	cs->count++;
	c->state = C_HEAD;
	c->due_ms = http_now_ms() + cs->header_ms;
	if (!c->in || !c->ev_read || !c->ev_write || event_add(c->ev_read, NULL) != 0) {
		conn_free(c);
		return CARTD_ENOMEM;
	}
	c->reading = true;
	return 0;
}

int http_conns_accept(http_conns *cs, int lfd)
{
	for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM ? e : 0;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (http_conn_open(cs, fd) != 0)
			return 0;   /* out of memory for this one: try at the next readiness */
	}
	return 0;
}

void http_conns_destroy(http_conns *cs)
{
	while (cs->head)
		conn_free(cs->head);
}

void http_conns_sweep(http_conns *cs, int64_t now)
{
	http_conn *next;
	for (http_conn *c = cs->head; c; c = next) {
		next = c->next;
		/* While an answer is stuck in a client's window, the client is
		 * not late with its next request: only the send deadline runs. */
		bool request_late = c->due_ms && now >= c->due_ms && !c->send_due_ms;
		bool late = request_late || (c->send_due_ms && now >= c->send_due_ms) ||
		            (c->drain_due_ms && now >= c->drain_due_ms);
		if (!late)
			continue;
		if (request_late) {
			if (c->due_body)
				cs->body_expired++;
			else
				cs->header_expired++;
		}
		conn_free(c);
	}
}

/* ---- events on and off ---- */

static void set_reading(http_conn *c, bool on)
{
	if (on == c->reading)
		return;
	if (on ? event_add(c->ev_read, NULL) == 0 : event_del(c->ev_read) == 0)
		c->reading = on;
}

static void set_writing(http_conn *c, bool on)
{
	if (on == c->writing)
		return;
	if (on ? event_add(c->ev_write, NULL) == 0 : event_del(c->ev_write) == 0)
		c->writing = on;
}

/* ---- output ---- */

/* Room for n more bytes of output; false when out of memory. */
static bool out_reserve(http_conn *c, size_t n)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_cap - c->out_len >= n)
		return true;
	size_t cap = c->out_cap ? c->out_cap : 1024;
	while (cap - c->out_len < n)
		cap *= 2;
	char *o = realloc(c->out, cap);
	if (!o)
		return false;
	c->out = o;
	c->out_cap = cap;
	return true;
}

static void out_append(http_conn *c, const char *s, size_t n)
{
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
}

/* The last answer went out: stop sending, read until the client is done. */
static void start_drain(http_conn *c)
{
	c->state = C_DRAIN;
	c->due_ms = 0;
	c->drain_due_ms = http_now_ms() + HTTP_DRAIN_MS;
	shutdown(c->fd, SHUT_WR);
	set_reading(c, true);
}

/*
 * Sends what is queued.  Returns false when c was freed.
 */
static bool flush(http_conn *c)
{
	bool was_stalled = c->send_due_ms != 0;
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			c->send_due_ms = 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_writing(c, true);
			if (!c->send_due_ms)
				c->send_due_ms = http_now_ms() + HTTP_SEND_MS;
			return true;
		}
		conn_free(c);   /* the client is gone */
		return false;
	}
	c->out_off = c->out_len = 0;
	if (was_stalled && c->state == C_HEAD)
		c->due_ms = http_now_ms() + c->cs->header_ms;   /* its clock starts now */
	c->send_due_ms = 0;
	set_writing(c, false);
	if (c->state == C_CLOSING) {
		start_drain(c);
	} else if (c->eof && c->state == C_HEAD && c->in_len == 0) {
		conn_free(c);   /* answered everything the client sent */
		return false;
	}
	return true;
}

/* ---- input ---- */

/* Where each string of the head sits in the buffer, to point there again
 * once the buffer has moved. */
typedef struct head_offsets {
	size_t method, target, content_type, prefer, idem_key;
} head_offsets;

static size_t offset_of(const http_conn *c, const char *p)
{
	return p ? (size_t)(p - c->in) : SIZE_MAX;
}

static const char *at_offset(const http_conn *c, size_t off)
{
	return off == SIZE_MAX ? NULL : c->in + off;
}

/* Makes room to read into; false when there is none.  The buffer grows
 * only while a request is being read: while one is served, its strings
 * point into the buffer and must not move.  While its body is read, the
 * head's strings are moved along with the buffer. */
static bool in_room(http_conn *c)
{
	if (c->in_cap - c->in_len >= IN_ROOM)
		return true;
	size_t max = in_cap_max(c->cs);
	if (c->in_cap >= max || (c->state != C_HEAD && c->state != C_BODY))
		return c->in_len < c->in_cap;
	size_t cap = c->in_cap * 2 < max ? c->in_cap * 2 : max;
	http_head *h = &c->head;
	bool moving_head = c->state == C_BODY;
	head_offsets o = { 0 };
	if (moving_head)
		o = (head_offsets){ offset_of(c, h->method), offset_of(c, h->target),
		                    offset_of(c, h->content_type), offset_of(c, h->prefer),
		                    offset_of(c, h->idem_key) };
	char *b = realloc(c->in, cap);
	if (!b)
		return c->in_len < c->in_cap;
	c->in = b;
	c->in_cap = cap;
	if (moving_head) {
		h->method = at_offset(c, o.method);
		h->target = at_offset(c, o.target);
		h->content_type = at_offset(c, o.content_type);
		h->prefer = at_offset(c, o.prefer);
		h->idem_key = at_offset(c, o.idem_key);
	}
	return true;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	http_conn *c = arg;
	(void)what;
	if (c->state == C_DRAIN) {
		ssize_t n = recv(fd, c->in, c->in_cap, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			conn_free(c);
		return;
	}
	if (!in_room(c)) {
		set_reading(c, false);   /* pipelined past the bound: wait */
		return;
	}
	ssize_t n = recv(fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (n > 0) {
		c->in_len += (size_t)n;
	} else if (n == 0) {
		c->eof = true;
		set_reading(c, false);
	} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		return;
	} else {
		conn_free(c);
		return;
	}
	process(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	http_conn *c = arg;
	(void)fd; (void)what;
	if (flush(c) && c->state == C_HEAD)
		process(c);   /* parsing waited for the output to drain */
}

/* Hands the request over; returns once ops.request does. */
static void deliver(http_conn *c, bool refused, bool too_large)
{
	http_request rq = {
		.head = refused && !too_large ? NULL : &c->head,
		.bad = refused && !too_large ? &c->bad : NULL,
		.too_large = too_large,
		.body = c->in + c->head.head_len,
		.body_len = c->body_len,
	};
	if (refused) {
		/* The bytes after a refused request cannot be framed. */
		c->close_after = true;
		c->req_end = c->in_len;
		rq.body = c->in;
		rq.body_len = 0;
	}
	c->refused = refused;
	c->state = C_SERVING;
	c->due_ms = 0;
	c->in_callback = true;
	c->cs->ops.request(c->cs->arg, c, &rq);
	c->in_callback = false;
}

static void refuse(http_conn *c, const http_bad *why)
{
	c->bad = *why;
	c->head_only = false;
	deliver(c, true, false);
}

/* A head is complete: sets up reading its body. */
static void begin_body(http_conn *c)
{
	const http_head *h = &c->head;
	c->head_only = strcmp(h->method, "HEAD") == 0;
	c->close_after = !h->keep_alive;
	c->body_len = 0;
	c->raw_at = h->head_len;
	c->state = C_BODY;
	c->due_body = true;
	c->due_ms = http_now_ms() + c->cs->body_ms;
	if (h->chunked)
		http_chunked_init(&c->chunked);
	else
		c->body_len = (size_t)h->length;
}

/* Reads what of the body is here; true once it is complete (or refused). */
static bool take_body(http_conn *c)
{
	const http_head *h = &c->head;
	if (!h->chunked) {
		if (c->in_len - h->head_len < c->body_len)
			return false;
		c->req_end = h->head_len + c->body_len;
		deliver(c, false, false);
		return true;
	}
	size_t out = h->head_len + c->body_len;
	enum http_parse_result r = http_chunked_decode(&c->chunked, c->in, c->in_len,
	                                               &c->raw_at, &out, &c->bad);
	c->body_len = out - h->head_len;
	/* Close the gap the decoding left between data and what follows. */
	memmove(c->in + out, c->in + c->raw_at, c->in_len - c->raw_at);
	c->in_len -= c->raw_at - out;
	c->raw_at = out;
	if (c->body_len > c->cs->max_body) {
		deliver(c, true, true);
		return true;
	}
	if (r == HTTP_PARSE_BAD) {
		refuse(c, &c->bad);
		return true;
	}
	if (r == HTTP_PARSE_MORE)
		return false;
	c->req_end = out;
	deliver(c, false, false);
	return true;
}

/* Reads a head; true when one was taken (or refused). */
static bool take_head(http_conn *c)
{
	static const http_bad too_big = { 431, "header_too_large",
		"the request header is too large or has too many lines" };
	size_t end = http_head_end(c->in, c->in_len, &c->scanned);
	if (end == 0 || end > HTTP_HEAD_MAX) {
		if (end > HTTP_HEAD_MAX || c->in_len >= HTTP_HEAD_MAX) {
			refuse(c, &too_big);
			return true;
		}
		return false;
	}
	c->scanned = 0;
	if (http_parse_head(c->in, end, &c->head, &c->bad) != HTTP_PARSE_DONE) {
		refuse(c, &c->bad);
		return true;
	}
	begin_body(c);
	const http_head *h = &c->head;
	if (h->has_length && h->length > c->cs->max_body) {
		deliver(c, true, true);   /* refused before any of it is asked for */
		return true;
	}
	bool body_here = !h->chunked && c->in_len - h->head_len >= c->body_len;
	if (h->expect_continue && h->minor == 1 && !body_here && out_reserve(c, 25))
		out_append(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	return true;
}

/* Frames and hands over every complete request it can, in order, then
 * sends what was answered.  May free c. */
static void process(http_conn *c)
{
	for (;;) {
		if (c->state == C_HEAD) {
			if (c->out_len - c->out_off >= OUT_HIGH || !take_head(c))
				break;
		} else if (c->state == C_BODY) {
			if (!take_body(c))
				break;
		} else {
			break;   /* serving, or closing */
		}
	}
	if (c->eof && (c->state == C_HEAD || c->state == C_BODY) && c->in_len &&
	    c->out_len - c->out_off < OUT_HIGH) {
		/* The client stopped sending within a request: nothing more to
		 * answer once what is queued has gone out. */
		c->state = C_CLOSING;
		c->in_len = 0;
		c->due_ms = 0;   /* not a deadline's cut */
	}
	if (!c->reading && !c->eof && (c->state == C_HEAD || c->state == C_BODY ||
	                               (c->state == C_SERVING && c->in_len < c->in_cap)))
		set_reading(c, true);   /* paused when the buffer was full */
	flush(c);
}

void http_conn_respond(http_conn *c, const api_response *res)
{
	if (c->state != C_SERVING)
		return;
	bool body = !c->head_only && res->status != 204;
	size_t blen = res->body_len;
	if (c->refused)
		c->close_after = true;
	enum http_reply_conn how = c->close_after ? HTTP_REPLY_CLOSE
	                         : c->head.minor == 0 ? HTTP_REPLY_KEEP_ALIVE : HTTP_REPLY_PERSIST;
	if (out_reserve(c, HTTP_REPLY_HEAD_MAX + (body ? blen : 0))) {
		c->out_len += http_reply_head(c->out + c->out_len, res, blen, how);
		if (body && blen)
			out_append(c, res->body, blen);
	} else {
		c->close_after = true;   /* out of memory: the client sees a close */
	}
	/* Drop the request's bytes; what was pipelined moves up. */
	memmove(c->in, c->in + c->req_end, c->in_len - c->req_end);
	c->in_len -= c->req_end;
	c->req_end = 0;
	c->scanned = 0;
	if (c->close_after) {
		c->state = C_CLOSING;
		c->in_len = 0;
	} else {
		c->state = C_HEAD;
		c->due_body = false;
		c->due_ms = http_now_ms() + c->cs->header_ms;
	}
	if (!c->in_callback)
		process(c);
}
