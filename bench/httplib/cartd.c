/*
 * cartd.c - cartd's own HTTP/1.1 transport (app/http/http_conn.h) as a
 * server of bench_httplib, on a libevent base like cartd's: the same
 * connection code cartd runs, without the API behind it.  Each request is
 * queued and a later loop turn (an event made active) answers it, as a
 * write's durability report would.
 */
#include "bench/httplib/httplib.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/http/http_conn.h"

typedef struct creq {
	http_conn *conn;           /* NULL once the connection closed */
	char id[HTTPLIB_ID_MAX];
	size_t id_len, target_len, body_len;
	struct creq *next;
} creq;

typedef struct cserver {
	struct event_base *base;
	http_conns conns;
	struct event *ev_defer;
	creq *head, **tail;
} cserver;

static void reply(http_conn *c, unsigned status, const char *body, size_t len)
{
	api_response res = { .status = status, .body = (char *)body, .body_len = len,
	                     .content_type = "application/json" };
	http_conn_respond(c, &res);
}

static void on_request(void *arg, http_conn *c, const http_request *rq)
{
	cserver *s = arg;
	const char *id = NULL;
	size_t idlen = 0;
	if (rq->bad || rq->too_large) {
		static const char bad[] = "{\"error\":{\"code\":\"bad\"}}\n";
		reply(c, rq->bad ? rq->bad->status : 413, bad, sizeof bad - 1);
		return;
	}
	if (strcmp(rq->head->method, "POST") == 0)
		idlen = httplib_route(rq->head->target, rq->head->target_len, &id);
	creq *q = idlen ? malloc(sizeof *q) : NULL;
	if (!q) {
		reply(c, 404, HTTPLIB_NOT_FOUND, sizeof HTTPLIB_NOT_FOUND - 1);
		return;
	}
	q->conn = c;
	q->id_len = idlen < HTTPLIB_ID_MAX ? idlen : HTTPLIB_ID_MAX;
	memcpy(q->id, id, q->id_len);
	q->target_len = rq->head->target_len;
	q->body_len = rq->body_len;
	q->next = NULL;
	*s->tail = q;
	s->tail = &q->next;
	http_conn_set_user(c, q);
	event_active(s->ev_defer, EV_TIMEOUT, 0);
}

static void on_closed(void *arg, http_conn *c)
{
	creq *q = http_conn_user(c);
	(void)arg;
	if (q)
		q->conn = NULL;
}

static void on_defer(evutil_socket_t fd, short what, void *arg)
{
	cserver *s = arg;
	creq *q = s->head;
	char body[HTTPLIB_ANSWER_LEN + 1];
	(void)fd; (void)what;
	s->head = NULL;
	s->tail = &s->head;
	while (q) {
		creq *next = q->next;
		if (q->conn) {
			size_t n = httplib_render(body, q->id, q->id_len, q->target_len, q->body_len);
			http_conn_set_user(q->conn, NULL);
			reply(q->conn, 200, body, n);
		}
		free(q);
		q = next;
	}
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	cserver *s = arg;
	(void)what;
	http_conns_accept(&s->conns, lfd);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	cserver *s = arg;
	(void)fd; (void)what;
	http_conns_sweep(&s->conns, http_now_ms());
}

int httplib_serve_cartd(int fd)
{
	cserver s = { 0 };
	http_conn_ops ops = { on_request, on_closed };
	struct timeval tick = { 1, 0 };
	s.tail = &s.head;
	s.base = httplib_event_base();
	if (!s.base) {
		fprintf(stderr, "cartd: cannot start\n");
		return 1;
	}
	http_conns_init(&s.conns, s.base, &ops, &s, HTTPLIB_MAX_BODY,
	                HTTPLIB_TIMEOUT_S * 1000, HTTPLIB_TIMEOUT_S * 1000);
	s.ev_defer = event_new(s.base, -1, 0, on_defer, &s);
	struct event *acc = event_new(s.base, fd, EV_READ | EV_PERSIST, on_accept, &s);
	struct event *ev_tick = event_new(s.base, -1, EV_PERSIST, on_tick, &s);
	if (!s.ev_defer || !acc || !ev_tick || event_add(acc, NULL) != 0 ||
	    event_add(ev_tick, &tick) != 0) {
		fprintf(stderr, "cartd: cannot start\n");
		return 1;
	}
	return event_base_dispatch(s.base) < 0;
}
