/*
 * http.c - the HTTP transport of the API: the listening socket, the
 * connections' deadline tick, and the glue from a framed request
 * (http_conn.h) to the API (api.h) and the peer's write path (node.h).
 *
 * A request's life: its connection frames it and calls on_request.  Reads
 * are answered at once.  Writes (and checkouts) go to node_write; node's
 * done callback, on a later turn of the loop, renders the answer (the
 * write's delta is alive only then) and hands it to the connection.
 *
 * Ownership: each connection has one http_req, made at its first request
 * and reused for the next ones.  It is freed with its connection, unless
 * a node_write for it is still outstanding: then the done callback frees
 * it (the done callback may outlive the connection and the server).
 */
#include "app/http/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/http/api.h"
#include "app/http/api_internal.h"
#include "app/http/http_conn.h"
#include "app/http/metrics.h"
#include "app/shared/log.h"
#include "crdt/error.h"
#include "net/hostport.h"

#define ACCEPT_PAUSE_MS 100       /* out of descriptors: try again after */
#define TICK_MAX_MS 1000u
#define TICK_MIN_MS 20u

typedef struct http_req {
	http_server *srv;          /* NULL once the server is gone */
	http_conn *conn;           /* NULL once the connection is gone */
	const char *target;        /* in the connection's buffer, while served */
	bool submitting;           /* inside node_write */
	bool written;              /* done called inside node_write */
	bool write_outstanding;    /* node_write accepted, done not called yet */
	bool waiting;              /* on the server's waiting list */
	struct event *ev_answer;   /* fault injection: holds a durable write's answer */
	api_response wres;         /* the write's answer, rendered when it completed */
	api_call call;
	struct http_req *prev, *next;   /* the waiting list */
} http_req;

struct http_server {
	struct event_base *base;
	node *n;
	int lfd;
	struct event *ev_accept, *ev_accept_again, *ev_tick;
	api_limits lim;
	size_t max_body;
	unsigned port;
	http_conns conns;
	metrics_http metrics;
	http_req *waiting;         /* answered later: writes, held answers */
};

/* ---- request objects ---- */

static void req_free(http_req *r)
{
	if (r->ev_answer)
		event_free(r->ev_answer);
	api_response_destroy(&r->wres);
	api_call_destroy(&r->call);
	free(r);
}

static http_req *req_new(http_server *s, http_conn *c)
{
	/* Not calloc: the call's fault block is large and only ever used by
	 * /admin/faults (api_call_init). */
	http_req *r = malloc(sizeof *r);
	if (!r)
		return NULL;
	memset(r, 0, offsetof(http_req, call));
	r->prev = r->next = NULL;
	r->srv = s;
	r->conn = c;
	api_call_init(&r->call);
	return r;
}

/* Ready for the connection's next request. */
static void req_reset(http_req *r)
{
	api_response_destroy(&r->wres);
	memset(&r->wres, 0, sizeof r->wres);
	api_call_destroy(&r->call);
	api_call_init(&r->call);
	r->submitting = r->written = false;
}

static void wait_add(http_server *s, http_req *r)
{
	r->waiting = true;
	r->prev = NULL;
	r->next = s->waiting;
	if (s->waiting)
		s->waiting->prev = r;
	s->waiting = r;
	s->metrics.writes_waiting++;
}

static void wait_remove(http_server *s, http_req *r)
{
	if (!r->waiting)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		s->waiting = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	r->waiting = false;
	s->metrics.writes_waiting--;
}

/* ---- answering ---- */

/*
 * Answers r's request with res (taken: its body is freed here).  The
 * connection may close inside, and r with it: callers do not use r after.
 */
static void answer(http_req *r, api_response *res)
{
	http_server *s = r->srv;
	api_response out = *res;
	memset(res, 0, sizeof *res);
	metrics_count_request(&s->metrics, r->call.route, out.status);
	if (log_enabled(LOG_DEBUG)) {
		char q[160];
		log_event(LOG_DEBUG, "http_request", "target=%s status=%u",
		          log_quote(r->target ? r->target : "", q, sizeof q), out.status);
	}
	http_conn_respond(r->conn, &out);
	api_response_destroy(&out);
}

static void answer_abandoned(http_req *r)
{
	api_response res = { 0 };
	api_error(&res, 503, cartd_errname(CARTD_ESHUTDOWN), "the peer is shutting down "
	          "and this write was not yet confirmed durable: read the cart to see "
	          "whether it was applied");
	answer(r, &res);
}

/* ---- writes ---- */

static void on_answer_due(evutil_socket_t fd, short what, void *arg)
{
	http_req *r = arg;
	(void)fd; (void)what;
	wait_remove(r->srv, r);
	answer(r, &r->wres);
}

static void on_write_done(void *arg, int rc, const crdt_cart *delta)
{
	http_req *r = arg;
	http_server *s = r->srv;
	r->write_outstanding = false;
	if (!s) {
		req_free(r);   /* the server is gone */
		return;
	}
	wait_remove(s, r);
	/* Counted here, not when answering: the outcome is the same whether
	 * or not the client is still there to hear it. */
	metrics_count_write(&s->metrics, r->call.op, rc);
	if (!r->conn) {
		req_free(r);   /* the client left first */
		return;
	}
	api_write_result(s->n, &r->call, rc, delta, &r->wres);
	if (r->submitting) {
		r->written = true;   /* answered by start_write */
		return;
	}
	const fault_state *f = node_faults_view(s->n);
	if (f && f->answer_delay_ms && !r->ev_answer)
		r->ev_answer = evtimer_new(s->base, on_answer_due, r);
	if (f && f->answer_delay_ms && r->ev_answer) {
		struct timeval tv = { (time_t)(f->answer_delay_ms / 1000),
		                      (suseconds_t)(f->answer_delay_ms % 1000) * 1000 };
		if (evtimer_add(r->ev_answer, &tv) == 0) {
			wait_add(s, r);
			return;
		}
	}
	answer(r, &r->wres);
}

static void start_write(http_req *r)
{
	http_server *s = r->srv;
	crdt_op op;
	r->submitting = true;
	int rc = api_call_op(s->n, &r->call, &op);
	if (rc == 0) {
		crdt_id id = api_call_cart(&r->call);
		rc = node_write(s->n, &id, &op, on_write_done, r);
	}
	r->submitting = false;
	if (rc != 0) {
		metrics_count_write(&s->metrics, r->call.op, rc);
		api_write_result(s->n, &r->call, rc, NULL, &r->wres);
		answer(r, &r->wres);
		return;
	}
	if (r->written) {
		answer(r, &r->wres);
		return;
	}
	r->write_outstanding = true;
	wait_add(s, r);
}

/* ---- requests ---- */

static int metrics_text(void *arg, char **text, size_t *len)
{
	http_server *s = arg;
	s->metrics.header_timeouts = s->conns.header_expired;
	s->metrics.body_timeouts = s->conns.body_expired;
	return metrics_render(s->n, &s->metrics, text, len);
}

/* The connection could not get its http_req: a bare 500. */
static void answer_nomem(http_server *s, http_conn *c)
{
	api_response res = { 0 };
	api_error(&res, 500, "nomem", "out of memory");
	metrics_count_request(&s->metrics, API_R_UNKNOWN, res.status);
	http_conn_respond(c, &res);
	api_response_destroy(&res);
}

static void on_request(void *arg, http_conn *c, const http_request *rq)
{
	http_server *s = arg;
	http_req *r = http_conn_user(c);
	if (r) {
		req_reset(r);
	} else if ((r = req_new(s, c)) != NULL) {
		http_conn_set_user(c, r);
	} else {
		answer_nomem(s, c);
		return;
	}
	api_response res = { 0 };
	if (rq->bad) {
		r->target = NULL;
		api_error(&res, rq->bad->status, rq->bad->code, "%s", rq->bad->message);
		answer(r, &res);
		return;
	}
	const http_head *h = rq->head;
	r->target = h->target;
	if (rq->too_large) {
		api_span cart, sku;   /* only for the metric's route label */
		const char *q = strchr(h->target, '?');
		r->call.route = api_match_path(h->target, q ? (size_t)(q - h->target) : h->target_len,
		                               &cart, &sku);
		api_error(&res, 413, "body_too_large", "request bodies are limited to %zu bytes",
		          s->max_body);
		answer(r, &res);
		return;
	}
	api_request req = {
		.method = h->method,
		.target = h->target,
		.content_type = h->content_type,
		.body = rq->body,
		.body_len = rq->body_len,
		.prefer = h->prefer,
		.idem_key = h->idem_key,
		.idem_key_len = h->idem_key_len,
		.idem_keys = h->idem_keys,
	};
	enum api_action a = api_prepare(&s->lim, &req, &r->call, &res);
	if (a == API_A_WRITE || a == API_A_CHECKOUT) {
		start_write(r);
		return;
	}
	if (a != API_A_NONE)
		api_execute(s->n, &r->call, metrics_text, s, &res);
	answer(r, &res);
}

static void on_closed(void *arg, http_conn *c)
{
	http_server *s = arg;
	http_req *r = http_conn_user(c);
	if (!r)
		return;
	r->conn = NULL;
	if (r->write_outstanding)
		return;   /* on_write_done frees it */
	wait_remove(s, r);
	req_free(r);
}

/* ---- sockets and timers ---- */

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	http_server *s = arg;
	(void)what;
	int e = http_conns_accept(&s->conns, lfd);
	if (e) {
		/* Level-triggered: retrying at once would spin. */
		struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
		log_event(LOG_WARN, "http_accept", "errno=%d msg=\"%s; pausing accepts for %d ms\"",
		          e, strerror(e), ACCEPT_PAUSE_MS);
		event_del(s->ev_accept);
		evtimer_add(s->ev_accept_again, &tv);
	}
}

static void on_accept_again(evutil_socket_t fd, short what, void *arg)
{
	http_server *s = arg;
	(void)fd; (void)what;
	event_add(s->ev_accept, NULL);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	http_server *s = arg;
	(void)fd; (void)what;
	http_conns_sweep(&s->conns, http_now_ms());
}

/* Binds and listens on a; the bound port goes to s->port. */
static int listen_on(http_server *s, const hostport_ip *a)
{
	struct sockaddr_storage ss;
	socklen_t len = hostport_ip_to_sockaddr(a, &ss);
	int one = 1;
	s->lfd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return CARTD_ECONFIG;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (a->family == AF_INET6)
		setsockopt(s->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(s->lfd, (struct sockaddr *)&ss, len) != 0 || listen(s->lfd, SOMAXCONN) != 0)
		return CARTD_ECONFIG;
	len = sizeof ss;
	if (getsockname(s->lfd, (struct sockaddr *)&ss, &len) != 0)
		return CARTD_ECONFIG;
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                         : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* A sweep every quarter of the shorter deadline closes a connection within
 * 1.25 deadlines of its clock starting. */
static int start_tick(http_server *s, uint32_t header_ms, uint32_t body_ms)
{
	uint32_t tick = (header_ms < body_ms ? header_ms : body_ms) / 4;
	tick = tick > TICK_MAX_MS ? TICK_MAX_MS : tick < TICK_MIN_MS ? TICK_MIN_MS : tick;
	struct timeval tv = { (time_t)(tick / 1000), (suseconds_t)(tick % 1000) * 1000 };
	s->ev_tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
	if (!s->ev_tick || event_add(s->ev_tick, &tv) != 0)
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
	const char *listen_addr = cfg->listen ? cfg->listen : HTTP_DEFAULT_LISTEN;
	if (hostport_parse_ip(listen_addr, &a) != 0) {
		log_event(LOG_ERROR, "http_config", "listen=%s msg=\"not a numeric host:port\"",
		          log_quote(listen_addr, q, sizeof q));
		return CARTD_ECONFIG;
	}
	http_server *s = calloc(1, sizeof *s);
	if (!s)
		return CARTD_ENOMEM;
	s->base = base;
	s->n = n;
	s->lfd = -1;
	s->lim.fault_routes = cfg->fault_routes;
	s->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
	uint32_t header_ms = cfg->header_timeout_ms ? cfg->header_timeout_ms : HTTP_DEFAULT_HEADER_MS;
	uint32_t body_ms = cfg->body_timeout_ms ? cfg->body_timeout_ms : HTTP_DEFAULT_BODY_MS;
	http_conn_ops ops = { on_request, on_closed };
	http_conns_init(&s->conns, base, &ops, s, s->max_body, header_ms, body_ms);
	int rc = listen_on(s, &a);
	if (rc != 0) {
		log_event(LOG_ERROR, "http_start", "listen=%s errno=%d msg=\"cannot serve HTTP here "
		          "(%s)\"", log_quote(listen_addr, q, sizeof q), errno, strerror(errno));
		http_free(s);
		return rc;
	}
	s->ev_accept = event_new(base, s->lfd, EV_READ | EV_PERSIST, on_accept, s);
	s->ev_accept_again = evtimer_new(base, on_accept_again, s);
	if (!s->ev_accept || !s->ev_accept_again || event_add(s->ev_accept, NULL) != 0 ||
	    (rc = start_tick(s, header_ms, body_ms)) != 0) {
		http_free(s);
		return CARTD_ENOMEM;
	}
	*out = s;
	return 0;
}

unsigned http_port(const http_server *s)
{
	return s->port;
}

/* Answers what waits (a write not yet durable with 503, a held answer
 * with itself), and lets go of every request the server still knows. */
static void answer_waiting(http_server *s)
{
	http_req *next;
	for (http_req *r = s->waiting; r; r = next) {
		next = r->next;
		if (!r->write_outstanding) {
			wait_remove(s, r);
			evtimer_del(r->ev_answer);
			http_conn_close_after(r->conn);
			answer(r, &r->wres);
		}
	}
	/* Each connection closes after this answer: none may go on to a
	 * pipelined request and reuse an http_req that node still holds. */
	for (http_req *r = s->waiting; r; r = r->next) {
		if (r->conn) {
			http_conn_close_after(r->conn);
			answer_abandoned(r);   /* r stays: its write is outstanding */
		}
	}
}

void http_free(http_server *s)
{
	if (!s)
		return;
	if (s->ev_accept)
		event_free(s->ev_accept);
	if (s->lfd >= 0)
		close(s->lfd);
	answer_waiting(s);
	http_conns_destroy(&s->conns);
	while (s->waiting) {
		http_req *r = s->waiting;
		wait_remove(s, r);
		r->srv = NULL;   /* node's done callback frees it */
	}
	if (s->ev_accept_again)
		event_free(s->ev_accept_again);
	if (s->ev_tick)
		event_free(s->ev_tick);
	free(s);
}
