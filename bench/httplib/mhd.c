/*
 * mhd.c - the libmicrohttpd server of bench_httplib, run the way cartd's
 * app/http/http.c runs it: external-epoll mode under a libevent base, the
 * URI log callback keeping a copy of the target, the body collected chunk
 * by chunk, and the connection suspended until a later loop turn resumes
 * it (where cartd's committer would report the write durable).
 *
 * With defer false the handler answers as soon as the body is in, without
 * suspending: the difference is what suspend and resume cost.
 */
#include "bench/httplib/httplib.h"

#include <event2/event.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mstate { M_NEW, M_BODY, M_QUEUED, M_DUE, M_ANSWERED };

typedef struct mreq {
	struct mserver *s;
	struct MHD_Connection *conn;
	char *target;              /* copied in on_uri, as cartd does */
	char *body;
	size_t body_len, body_cap;
	bool post;
	enum mstate state;
	struct mreq *next;         /* the queue of suspended requests */
} mreq;

typedef struct mserver {
	struct event_base *base;
	struct MHD_Daemon *d;
	struct event *ev_io, *ev_timer, *ev_kick, *ev_defer;
	bool defer;
	mreq *head, **tail;
} mserver;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	mreq *r = calloc(1, sizeof *r);
	(void)conn;
	if (!r)
		return NULL;
	r->s = cls;
	r->target = strdup(uri ? uri : "");
	if (!r->target) {
		free(r);
		return NULL;
	}
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	mreq *r = *con_cls;
	(void)cls; (void)conn; (void)toe;
	*con_cls = NULL;
	if (r) {
		free(r->target);
		free(r->body);
		free(r);
	}
}

static void take_body(mreq *r, const char *data, size_t len)
{
	if (len > HTTPLIB_MAX_BODY - r->body_len)
		return;   /* the probes never send that much; cartd answers 413 */
	if (r->body_len + len > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap * 2 : 1024;
		while (cap < r->body_len + len)
			cap *= 2;
		char *b = realloc(r->body, cap);
		if (!b)
			return;
		r->body = b;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
}

static enum MHD_Result answer(mreq *r)
{
	const char *id = NULL;
	size_t tlen = strlen(r->target);
	size_t idlen = r->post ? httplib_route(r->target, tlen, &id) : 0;
	struct MHD_Response *mr;
	unsigned status = 200;
	r->state = M_ANSWERED;
	if (idlen) {
		/* Rendered into a fresh buffer that MHD frees, as cartd does. */
		char *b = malloc(HTTPLIB_ANSWER_LEN + 1);
		if (!b)
			return MHD_NO;
		size_t n = httplib_render(b, id, idlen, tlen, r->body_len);
		mr = MHD_create_response_from_buffer(n, b, MHD_RESPMEM_MUST_FREE);
		if (!mr)
			free(b);
	} else {
		status = 404;
		mr = MHD_create_response_from_buffer(sizeof HTTPLIB_NOT_FOUND - 1,
		                                     (void *)HTTPLIB_NOT_FOUND,
		                                     MHD_RESPMEM_PERSISTENT);
	}
	if (!mr)
		return MHD_NO;
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(r->conn, status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	mserver *s = cls;
	mreq *r = *con_cls;
	(void)url; (void)version;
	if (!r)
		return MHD_NO;
	r->conn = conn;
	switch (r->state) {
	case M_NEW:
		r->state = M_BODY;
		r->post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
		return MHD_YES;
	case M_BODY:
		if (*upload_data_size) {
			take_body(r, upload_data, *upload_data_size);
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (!s->defer)
			return answer(r);
		r->state = M_QUEUED;
		*s->tail = r;
		s->tail = &r->next;
		MHD_suspend_connection(conn);
		event_active(s->ev_defer, EV_TIMEOUT, 0);
		return MHD_YES;
	case M_DUE:
		return answer(r);
	default:
		*upload_data_size = 0;
		return MHD_YES;
	}
}

/* Exactly cartd's loop glue: run MHD, re-arm its timer. */
static void run_mhd(mserver *s)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	MHD_run(s->d);
	if (MHD_get_timeout(s->d, &ms) == MHD_YES) {
		struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
		evtimer_add(s->ev_timer, &tv);
	} else {
		evtimer_del(s->ev_timer);
	}
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	run_mhd(arg);
}

/* The later loop turn: every queued write is "durable"; resume each
 * connection and kick MHD, as cartd's resume_written does. */
static void on_defer(evutil_socket_t fd, short what, void *arg)
{
	mserver *s = arg;
	mreq *r = s->head;
	(void)fd; (void)what;
	s->head = NULL;
	s->tail = &s->head;
	while (r) {
		mreq *next = r->next;
		r->next = NULL;
		r->state = M_DUE;
		MHD_resume_connection(r->conn);
		r = next;
	}
	event_active(s->ev_kick, EV_TIMEOUT, 0);
}

static size_t no_unescape(void *cls, struct MHD_Connection *c, char *str)
{
	(void)cls; (void)c;
	return strlen(str);
}

int httplib_serve_mhd(int fd, bool defer)
{
	mserver s = { .defer = defer };
	s.tail = &s.head;
	s.base = httplib_event_base();
	if (!s.base)
		return 1;
	s.d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
	                       NULL, NULL, on_request, &s,
	                       MHD_OPTION_LISTEN_SOCKET, fd,
	                       MHD_OPTION_URI_LOG_CALLBACK, on_uri, &s,
	                       MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
	                       MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
	                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPLIB_TIMEOUT_S,
	                       MHD_OPTION_END);
	const union MHD_DaemonInfo *ei =
		s.d ? MHD_get_daemon_info(s.d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!ei) {
		fprintf(stderr, "mhd: MHD_start_daemon failed\n");
		return 1;
	}
	s.ev_io = event_new(s.base, ei->epoll_fd, EV_READ | EV_PERSIST, on_event, &s);
	s.ev_timer = evtimer_new(s.base, on_event, &s);
	s.ev_kick = event_new(s.base, -1, 0, on_event, &s);
	s.ev_defer = event_new(s.base, -1, 0, on_defer, &s);
	if (!s.ev_io || !s.ev_timer || !s.ev_kick || !s.ev_defer || event_add(s.ev_io, NULL) != 0)
		return 1;
	run_mhd(&s);
	return event_base_dispatch(s.base) < 0;
}
