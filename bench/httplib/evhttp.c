/*
 * evhttp.c - the libevent evhttp server of bench_httplib, on a libevent
 * base like cartd's.  evhttp reads the whole body before it calls the
 * request callback; the callback queues the request and a later loop turn
 * (an event made active) answers it with evhttp_send_reply, as a write's
 * durability report would.
 *
 * A request whose client went away while it was queued stays valid:
 * evhttp detaches it from the connection, and evhttp_send_reply then only
 * frees it.
 */
#include "bench/httplib/httplib.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ereq {
	struct evhttp_request *req;
	char id[HTTPLIB_ID_MAX];
	size_t id_len, target_len, body_len;
	struct ereq *next;
} ereq;

typedef struct eserver {
	struct event_base *base;
	struct evhttp *http;
	struct event *ev_defer;
	struct evbuffer *out;      /* reused: evhttp_send_reply moves its bytes out */
	ereq *head, **tail;
} eserver;

static void reply(eserver *s, struct evhttp_request *req, int status, const char *reason,
                  const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evbuffer_add(s->out, body, len);
	evhttp_send_reply(req, status, reason, s->out);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	eserver *s = arg;
	const char *target = evhttp_request_get_uri(req);
	size_t tlen = strlen(target), idlen = 0;
	const char *id = NULL;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t blen = evbuffer_get_length(in);
	/* The body in one piece, as cartd needs it for its JSON parser. */
	evbuffer_pullup(in, -1);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST)
		idlen = httplib_route(target, tlen, &id);
	ereq *q = idlen ? malloc(sizeof *q) : NULL;
	if (!q) {
		reply(s, req, 404, "Not Found", HTTPLIB_NOT_FOUND, sizeof HTTPLIB_NOT_FOUND - 1);
		return;
	}
	q->req = req;
	q->id_len = idlen < HTTPLIB_ID_MAX ? idlen : HTTPLIB_ID_MAX;
	memcpy(q->id, id, q->id_len);
	q->target_len = tlen;
	q->body_len = blen;
	q->next = NULL;
	*s->tail = q;
	s->tail = &q->next;
	event_active(s->ev_defer, EV_TIMEOUT, 0);
}

static void on_defer(evutil_socket_t fd, short what, void *arg)
{
	eserver *s = arg;
	ereq *q = s->head;
	char body[HTTPLIB_ANSWER_LEN + 1];
	(void)fd; (void)what;
	s->head = NULL;
	s->tail = &s->head;
	while (q) {
		ereq *next = q->next;
		size_t n = httplib_render(body, q->id, q->id_len, q->target_len, q->body_len);
		reply(s, q->req, 200, "OK", body, n);
		free(q);
		q = next;
	}
}

int httplib_serve_evhttp(int fd)
{
	eserver s = { 0 };
	s.tail = &s.head;
	s.base = httplib_event_base();
	s.http = s.base ? evhttp_new(s.base) : NULL;
	s.out = evbuffer_new();
	s.ev_defer = s.base ? event_new(s.base, -1, 0, on_defer, &s) : NULL;
	if (!s.http || !s.out || !s.ev_defer || !evhttp_accept_socket_with_handle(s.http, fd)) {
		fprintf(stderr, "evhttp: cannot start\n");
		return 1;
	}
	/* Its only timeout: reads and writes idle this long (bufferevent). */
	evhttp_set_timeout(s.http, HTTPLIB_TIMEOUT_S);
	evhttp_set_max_body_size(s.http, HTTPLIB_MAX_BODY);
	evhttp_set_gencb(s.http, on_request, &s);
	return event_base_dispatch(s.base) < 0;
}
