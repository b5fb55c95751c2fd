/*
 * h2o.c - the h2o server of bench_httplib, on h2o's own event loop
 * (libh2o-evloop).  h2o 2.2 reads the whole body before it calls the
 * handler.  The handler starts the response with a generator (whose stop
 * callback unqueues the request if the client goes away first), queues it,
 * and the context's zero timeout - h2o's "run this on the next loop turn" -
 * sends the body with h2o_send.
 *
 * Built only where libh2o-evloop and the headers it includes (OpenSSL's)
 * are installed; elsewhere the program says "h2o: not built".
 */
#include "bench/httplib/httplib.h"

#include <errno.h>
#include <stdio.h>

#if defined(BENCH_HAVE_H2O) && __has_include(<h2o.h>) && __has_include(<openssl/ssl.h>)

#define H2O_USE_LIBUV 0
#include <h2o.h>

typedef struct hreq {
	h2o_generator_t gen;       /* first: the callbacks get it back */
	h2o_req_t *req;
	h2o_linklist_t link;       /* in the queue while the answer is due */
} hreq;

static struct {
	h2o_globalconf_t conf;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept;
	h2o_timeout_entry_t kick;
	h2o_linklist_t queue;
} S;

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
	/* The body goes out in one final h2o_send: nothing more to give. */
	(void)gen; (void)req;
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
	hreq *q = (hreq *)gen;
	(void)req;
	if (h2o_linklist_is_linked(&q->link))
		h2o_linklist_unlink(&q->link);
}

static void answer(hreq *q)
{
	h2o_req_t *req = q->req;
	const char *id = NULL;
	size_t idlen = httplib_route(req->path.base, req->path.len, &id);
	char *b = h2o_mem_alloc_pool(&req->pool, HTTPLIB_ANSWER_LEN + 1);
	h2o_iovec_t buf = h2o_iovec_init(b, httplib_render(b, id, idlen, req->path.len,
	                                                   req->entity.len));
	h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

static void on_kick(h2o_timeout_entry_t *entry)
{
	(void)entry;
	while (!h2o_linklist_is_empty(&S.queue)) {
		hreq *q = H2O_STRUCT_FROM_MEMBER(hreq, link, S.queue.next);
		h2o_linklist_unlink(&q->link);
		answer(q);
	}
}

static void add_headers(h2o_req_t *req)
{
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
	               H2O_STRLIT("application/json"));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
	               H2O_STRLIT("no-store"));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	const char *id;
	(void)self;
	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) ||
	    !httplib_route(req->path.base, req->path.len, &id)) {
		req->res.status = 404;
		req->res.reason = "Not Found";
		add_headers(req);
		h2o_send_inline(req, H2O_STRLIT(HTTPLIB_NOT_FOUND));
		return 0;
	}
	hreq *q = h2o_mem_alloc_pool(&req->pool, sizeof *q);
	q->gen.proceed = on_proceed;
	q->gen.stop = on_stop;
	q->req = req;
	q->link = (h2o_linklist_t){ NULL, NULL };
	req->res.status = 200;
	req->res.reason = "OK";
	/* Without a length h2o would answer an HTTP/1.1 request chunked. */
	req->res.content_length = HTTPLIB_ANSWER_LEN;
	add_headers(req);
	h2o_start_response(req, &q->gen);
	h2o_linklist_insert(&S.queue, &q->link);
	if (!h2o_timeout_is_linked(&S.kick))
		h2o_timeout_link(S.ctx.loop, &S.ctx.zero_timeout, &S.kick);
	return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	h2o_socket_t *sock;
	if (err || !(sock = h2o_evloop_socket_accept(listener)))
		return;
	h2o_accept(&S.accept, sock);
}

bool httplib_have_h2o(void)
{
	return true;
}

int httplib_serve_h2o(int fd)
{
	h2o_config_init(&S.conf);
	/* Its request timeout, in ms: how it treats a trickled header is what
	 * the slow probe finds out. */
	S.conf.http1.req_timeout = HTTPLIB_TIMEOUT_S * 1000;
	S.conf.max_request_entity_size = HTTPLIB_MAX_BODY;
	h2o_hostconf_t *host = h2o_config_register_host(&S.conf,
		h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
	h2o_handler_t *h = h2o_create_handler(path, sizeof *h);
	h->on_req = on_req;
	h2o_linklist_init_anchor(&S.queue);
	S.kick.cb = on_kick;
	h2o_context_init(&S.ctx, h2o_evloop_create(), &S.conf);
	S.accept.ctx = &S.ctx;
	S.accept.hosts = S.conf.hosts;
	h2o_socket_t *ls = h2o_evloop_socket_create(S.ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
	h2o_socket_read_start(ls, on_accept);
	/* A signal (a tracer attaching) makes a run fail with EINTR: go on. */
	while (h2o_evloop_run(S.ctx.loop, INT32_MAX) == 0 || errno == EINTR)
		;
	perror("h2o_evloop_run");
	return 1;
}

#else

bool httplib_have_h2o(void)
{
	return false;
}

int httplib_serve_h2o(int fd)
{
	(void)fd;
	fprintf(stderr, "h2o: not built (needs libh2o-evloop-dev and libssl-dev)\n");
	return 2;
}

#endif
