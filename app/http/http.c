/*
 * http.c - the HTTP transport of the API: libmicrohttpd in external-epoll
 * mode on the peer's libevent loop, request bodies, suspended writes.
 *
 * MHD runs no thread of its own.  Its epoll fd is one libevent read event;
 * after every MHD_run the timer is re-armed from MHD_get_timeout, which is
 * how MHD's connection timeouts and buffered work get their turn.
 *
 * A request's life: the URI log callback allocates its http_req and keeps
 * the raw request target (MHD would otherwise hand over a decoded path, in
 * which "%2F" has become a separator).  The access handler collects the
 * body up to max_body, then api_prepare validates everything.  Reads are
 * answered at once.  Writes (and checkouts) go to node_write and the
 * connection is suspended; node's done callback renders the answer (the
 * write's delta is alive only then) and resumes it, and MHD then calls the
 * handler once more, which sends the answer.
 *
 * Ownership: an http_req is freed when MHD is done with the request, unless
 * a node_write for it is still outstanding; then whichever of the two
 * events comes last frees it (the done callback may outlive the server).
 */
#include "app/http/http.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app/http/api.h"
#include "net/hostport.h"
#include "app/http/api_internal.h"
#include "app/http/http_conn.h"
#include "app/http/http_edge.h"
#include "app/shared/log.h"
#include "app/http/metrics.h"
#include "crdt/error.h"

enum req_state {
	REQ_NEW,        /* headers seen, nothing decided */
	REQ_BODY,       /* collecting the body */
	REQ_SUBMITTING, /* inside node_write */
	REQ_SUSPENDED,  /* write submitted, connection suspended */
	REQ_WRITTEN,    /* write finished; answer on the next handler call */
	REQ_ANSWERED,
};

typedef struct http_req {
	http_server *srv;          /* NULL once the server is gone */
	struct MHD_Connection *conn;
	char *target;
	const char *raw_target;    /* MHD's own copy, in its read buffer */
	char *body;
	size_t body_len, body_cap;
	bool too_large;
	bool write_outstanding;    /* node_write accepted, done not yet called */
	struct event *ev_answer;   /* fault injection: holds a durable write's answer */
	bool abandoned;            /* server stopping before the write completed */
	enum req_state state;
	int write_rc;
	api_response wres;         /* the write's answer, rendered when it completed */
	api_call call;
	struct http_req *prev, *next;   /* the server's suspended list */
} http_req;

struct http_server {
	struct event_base *base;
	node *n;
	struct MHD_Daemon *d;
	struct event *ev_io, *ev_timer, *ev_kick;
	api_limits lim;
	size_t max_body;
	unsigned port;
	http_conns conns;
	metrics_http metrics;
	http_req *suspended;
};

/* ---- request objects ---- */

static void req_free(http_req *r)
{
	if (r->ev_answer)
		event_free(r->ev_answer);
	api_response_destroy(&r->wres);
	api_call_destroy(&r->call);
	free(r->target);
	free(r->body);
	free(r);
}

static void list_remove(http_server *s, http_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else if (s->suspended == r)
		s->suspended = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

/* The header-deadline record of a connection (set by on_connection). */
static http_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	http_server *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = ci ? http_conn_open(&s->conns, ci->connect_fd) : NULL;
	} else {
		http_conn_close(&s->conns, *socket_context);
		*socket_context = NULL;
	}
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	/* Not calloc: the call's fault block is large and only ever used by
	 * /admin/faults (api_call_init). */
	http_req *r = malloc(sizeof *r);
	(void)conn;
	if (!r)
		return NULL;
	memset(r, 0, offsetof(http_req, call));
	r->prev = r->next = NULL;
	r->srv = cls;
	r->raw_target = uri;
	r->target = strdup(uri ? uri : "");
	api_call_init(&r->call);
	if (!r->target) {
		req_free(r);
		return NULL;
	}
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	http_req *r = *con_cls;
	(void)cls; (void)toe;
	*con_cls = NULL;
	http_conn_request_done(conn_of(conn));
	if (!r)
		return;
	r->conn = NULL;
	if (r->write_outstanding) {
		if (r->srv && r->state == REQ_SUSPENDED) {
			list_remove(r->srv, r);
			r->srv->metrics.suspended--;
		}
		r->srv = NULL;     /* the done callback frees it */
		return;
	}
	req_free(r);
}

/* ---- answering ---- */

static enum MHD_Result send_response(http_req *r, api_response *res)
{
	http_server *s = r->srv;
	struct MHD_Response *mr = MHD_create_response_from_buffer(
		res->body_len, res->body, MHD_RESPMEM_MUST_FREE);
	if (!mr) {
		api_response_destroy(res);
		return MHD_NO;
	}
	res->body = NULL;   /* MHD frees it now */
	if (res->content_type)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (res->allow)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, res->allow);
	if (res->applied)
		MHD_add_response_header(mr, "Preference-Applied", res->applied);
	if (res->replayed)
		MHD_add_response_header(mr, "Idempotency-Replayed", "true");
	if (res->retry_after) {
		char ra[16];
		snprintf(ra, sizeof ra, "%u", res->retry_after);
		MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	enum MHD_Result ret = MHD_queue_response(r->conn, res->status, mr);
	MHD_destroy_response(mr);
	metrics_count_request(&s->metrics, r->call.route, res->status);
	if (log_enabled(LOG_DEBUG)) {
		char q[160];
		log_event(LOG_DEBUG, "http_request", "target=%s status=%u",
		          log_quote(r->target, q, sizeof q), res->status);
	}
	r->state = REQ_ANSWERED;
	return ret;
}

static enum MHD_Result answer_write(http_req *r)
{
	if (r->abandoned) {
		api_response res = { 0 };
		api_error(&res, 503, cartd_errname(CARTD_ESHUTDOWN), "the peer is shutting down "
		          "and this write was not yet confirmed durable: read the cart to see "
		          "whether it was applied");
		return send_response(r, &res);
	}
	return send_response(r, &r->wres);
}

/* ---- writes ---- */

/* The answer to a suspended write is ready: resume its connection. */
static void resume_written(http_req *r)
{
	http_server *s = r->srv;
	list_remove(s, r);
	s->metrics.suspended--;
	r->state = REQ_WRITTEN;
	MHD_resume_connection(r->conn);
	/* MHD notices the resumption on its next run; make that now rather
	 * than at the next network event. */
	event_active(s->ev_kick, EV_TIMEOUT, 0);
}

static void on_answer_due(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	resume_written(arg);
}

static void on_write_done(void *arg, int rc, const crdt_cart *delta)
{
	http_req *r = arg;
	r->write_outstanding = false;
	r->write_rc = rc;
	if (!r->srv) {
		/* MHD (or the whole server) finished with the request first. */
		req_free(r);
		return;
	}
	api_write_result(r->srv->n, &r->call, rc, delta, &r->wres);
	/* Counted here, not when answering: the outcome is the same whether
	 * or not the client is still there to hear it. */
	metrics_count_write(&r->srv->metrics, r->call.op, rc);
	if (r->state == REQ_SUBMITTING) {
		/* Called from inside node_write: answered by start_write. */
		r->state = REQ_WRITTEN;
		return;
	}
	const fault_state *f = node_faults_view(r->srv->n);
	if (f && f->answer_delay_ms && !r->ev_answer &&
	    (r->ev_answer = evtimer_new(r->srv->base, on_answer_due, r)) != NULL) {
		struct timeval tv = { (time_t)(f->answer_delay_ms / 1000),
		                      (suseconds_t)(f->answer_delay_ms % 1000) * 1000 };
		evtimer_add(r->ev_answer, &tv);
		return;
	}
	resume_written(r);
}

static enum MHD_Result start_write(http_req *r)
{
	http_server *s = r->srv;
	crdt_op op;
	r->state = REQ_SUBMITTING;
	int rc = api_call_op(s->n, &r->call, &op);
	if (rc == 0)
		rc = node_write(s->n, r->call.cart, r->call.cart_len, &op, on_write_done, r);
	if (rc != 0) {
		r->write_rc = rc;
		metrics_count_write(&s->metrics, r->call.op, rc);
		api_write_result(s->n, &r->call, rc, NULL, &r->wres);
		return answer_write(r);
	}
	if (r->state == REQ_WRITTEN)
		return answer_write(r);
	r->write_outstanding = true;
	r->state = REQ_SUSPENDED;
	r->next = s->suspended;
	if (s->suspended)
		s->suspended->prev = r;
	s->suspended = r;
	s->metrics.suspended++;
	MHD_suspend_connection(r->conn);
	return MHD_YES;
}

/* ---- the access handler ---- */

static long long content_length(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!cl)
		return -1;
	char *end = NULL;
	long long v = strtoll(cl, &end, 10);
	return end != cl && *end == '\0' && v >= 0 ? v : -1;
}

/* Appends a chunk of body; past max_body the rest is read and dropped, and
 * the request is answered 413 once it has been received. */
static void take_body(http_req *r, const char *data, size_t len)
{
	size_t max = r->srv->max_body;
	if (r->too_large || len > max - r->body_len) {
		r->too_large = true;
		return;
	}
	if (r->body_len + len > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 1024;
		while (cap < r->body_len + len)
			cap *= 2;
		if (cap > max)
			cap = max;
		char *b = realloc(r->body, cap);
		if (!b) {
			r->too_large = true;   /* answered 413: the same for the client */
			return;
		}
		r->body = b;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
}

/* Counts the Idempotency-Key headers and keeps the first: two of them
 * are refused (api_prepare), not resolved by picking one. */
typedef struct idem_headers {
	unsigned n;
	const char *first;
} idem_headers;

static enum MHD_Result count_idem(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	idem_headers *h = cls;
	(void)kind;
	if (key && strcasecmp(key, "Idempotency-Key") == 0 && h->n++ == 0)
		h->first = value ? value : "";
	return MHD_YES;
}

static int metrics_text(void *arg, char **text, size_t *len)
{
	http_server *s = arg;
	s->metrics.header_timeouts = s->conns.expired;
	s->metrics.body_timeouts = s->conns.body_expired;
	return metrics_render(s->n, &s->metrics, text, len);
}

static enum MHD_Result dispatch(http_req *r, const char *method)
{
	http_server *s = r->srv;
	api_response res = { 0 };
	idem_headers ih = { 0, NULL };
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_idem, &ih);
	api_request req = {
		.method = method,
		.target = r->target,
		.content_type = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
		                                            MHD_HTTP_HEADER_CONTENT_TYPE),
		.body = r->body ? r->body : "",
		.body_len = r->body_len,
		.prefer = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Prefer"),
		.idem_key = ih.first,
		.idem_key_len = ih.first ? strlen(ih.first) : 0,
		.idem_keys = ih.n,
	};
	if (r->too_large) {
		api_span cart, sku;   /* only for the metric's route label */
		const char *q = strchr(r->target, '?');
		r->call.route = api_match_path(r->target, q ? (size_t)(q - r->target)
		                                            : strlen(r->target), &cart, &sku);
		api_error(&res, 413, "body_too_large", "request bodies are limited to %zu bytes",
		          s->max_body);
		return send_response(r, &res);
	}
	enum api_action a = api_prepare(&s->lim, &req, &r->call, &res);
	if (a == API_A_WRITE || a == API_A_CHECKOUT)
		return start_write(r);
	if (a != API_A_NONE)
		api_execute(s->n, &r->call, metrics_text, s, &res);
	return send_response(r, &res);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	http_req *r = *con_cls;
	(void)cls; (void)url;
	if (!r) {
		/* on_uri could not allocate: nothing to keep state in. */
		static char oom[] = "{\"error\":{\"code\":\"nomem\",\"message\":\"out of memory\"}}\n";
		struct MHD_Response *mr = MHD_create_response_from_buffer(
			sizeof oom - 1, oom, MHD_RESPMEM_PERSISTENT);
		if (!mr)
			return MHD_NO;
		enum MHD_Result ret = MHD_queue_response(conn, 500, mr);
		MHD_destroy_response(mr);
		return ret;
	}
	r->conn = conn;
	switch (r->state) {
	case REQ_NEW: {
		r->state = REQ_BODY;
		http_conn_header_done(conn_of(conn));
		/* RFC 9112 framing and NUL bytes, before anything of the body is
		 * read or any route sees the request. */
		api_response res = { 0 };
		http_edge_req q = { conn, method, version, r->raw_target, r->target,
		                    strlen(r->target) };
		if (http_edge_check(&q, &res) != 0)
			return send_response(r, &res);
		/* Refuse a declared oversize body before MHD sends 100 Continue
		 * or reads any of it. */
		if (content_length(conn) > (long long)r->srv->max_body) {
			r->too_large = true;
			return dispatch(r, method);
		}
		return MHD_YES;
	}
	case REQ_BODY:
		if (*upload_data_size) {
			take_body(r, upload_data, *upload_data_size);
			*upload_data_size = 0;
			return MHD_YES;
		}
		/* The whole body is in; an answer sent earlier (an error, an
		 * oversize body) leaves the clock running while MHD drains the
		 * rest, so a trickled unwanted body is cut too. */
		http_conn_body_done(conn_of(conn));
		return dispatch(r, method);
	case REQ_WRITTEN:
		return answer_write(r);
	default:
		/* Already answered: MHD is draining a body we do not want. */
		*upload_data_size = 0;
		return MHD_YES;
	}
}

/* ---- the loop glue ---- */

static void run_mhd(http_server *s)
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

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256], q[300];
	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_event(LOG_WARN, "http_error", "msg=%s", log_quote(msg, q, sizeof q));
}

/* Decoding the path is the API's job (see the header comment): MHD's own
 * unescaping is turned into a no-op. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls; (void)c;
	return strlen(s);
}

static int start_daemon(http_server *s, const hostport_ip *a)
{
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	hostport_ip_to_sockaddr(a, &ss);
	if (a->family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The logger goes first so that MHD reports option errors through it. */
	s->d = MHD_start_daemon(flags, a->port, NULL, NULL, on_request, s,
	                        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
	                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	                        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
	                        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
	                        MHD_OPTION_END);
	if (!s->d)
		return CARTD_ECONFIG;
	const union MHD_DaemonInfo *pi = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	const union MHD_DaemonInfo *ei = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!pi || !ei)
		return CARTD_ECONFIG;
	s->port = pi->port;
	s->ev_io = event_new(s->base, ei->epoll_fd, EV_READ | EV_PERSIST, on_event, s);
	s->ev_timer = evtimer_new(s->base, on_event, s);
	s->ev_kick = event_new(s->base, -1, 0, on_event, s);
	if (!s->ev_io || !s->ev_timer || !s->ev_kick || event_add(s->ev_io, NULL) != 0)
		return CARTD_ENOMEM;
	return 0;
}

int http_new(struct event_base *base, node *n, const http_config *cfg, http_server **out)
{
	hostport_ip a;
	char q[160];
	*out = NULL;
	if (!base || !n || !cfg)
		return CARTD_EINVAL;
	const char *listen = cfg->listen ? cfg->listen : HTTP_DEFAULT_LISTEN;
	if (hostport_parse_ip(listen, &a) != 0) {
		log_event(LOG_ERROR, "http_config", "listen=%s msg=\"not a numeric host:port\"",
		          log_quote(listen, q, sizeof q));
		return CARTD_ECONFIG;
	}
	http_server *s = calloc(1, sizeof *s);
	if (!s)
		return CARTD_ENOMEM;
	s->base = base;
	s->n = n;
	s->lim.fault_routes = cfg->fault_routes;
	s->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
	int rc = http_conns_init(&s->conns, base,
	                         cfg->header_timeout_ms ? cfg->header_timeout_ms
	                                                : HTTP_DEFAULT_HEADER_MS,
	                         cfg->body_timeout_ms ? cfg->body_timeout_ms : HTTP_DEFAULT_BODY_MS);
	if (rc != 0) {
		http_free(s);
		return rc;
	}
	rc = start_daemon(s, &a);
	if (rc != 0) {
		log_event(LOG_ERROR, "http_start", "listen=%s msg=\"cannot serve HTTP here "
		          "(address in use or not local?)\"", log_quote(listen, q, sizeof q));
		http_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

unsigned http_port(const http_server *s)
{
	return s->port;
}

/* MHD must not be stopped with suspended connections.  Each is resumed and
 * answered 503 (its write's outcome is not known yet); its http_req stays
 * alive until node calls the done callback. */
static void abandon_suspended(http_server *s)
{
	while (s->suspended) {
		http_req *r = s->suspended;
		list_remove(s, r);
		s->metrics.suspended--;
		r->abandoned = true;
		r->state = REQ_WRITTEN;
		if (r->ev_answer)
			event_del(r->ev_answer);   /* answered 503 now instead */
		MHD_resume_connection(r->conn);
	}
}

void http_free(http_server *s)
{
	if (!s)
		return;
	if (s->d) {
		MHD_socket lfd = MHD_quiesce_daemon(s->d);
		abandon_suspended(s);
		/* A few rounds let the resumed connections send their answers;
		 * the sockets are non-blocking, so this cannot hang. */
		for (int i = 0; i < 4; i++)
			MHD_run(s->d);
		MHD_stop_daemon(s->d);
		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
	}
	http_conns_destroy(&s->conns);
	if (s->ev_io)
		event_free(s->ev_io);
	if (s->ev_timer)
		event_free(s->ev_timer);
	if (s->ev_kick)
		event_free(s->ev_kick);
	free(s);
}
