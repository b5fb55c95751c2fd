/*
 * http_conn.h - one HTTP/1.1 connection of the API server: reads requests
 * off a non-blocking socket on the peer's libevent loop, frames them with
 * http_parse.h, hands each complete request to the server, and writes the
 * answers back in order.
 *
 * Why the server owns its connections rather than using a library: a
 * durable write is answered on a later turn of the loop, after the commit
 * thread has synced it.  libmicrohttpd took the connection out of its
 * epoll set and put it back for that (two epoll_ctl and one extra recv per
 * write); here the socket's read event simply stays armed, so a write
 * costs one recv and one send (docs/benchmarks.md "HTTP libraries").
 *
 * One request is served at a time per connection.  Bytes that a client
 * pipelines meanwhile are kept in the room left in the input buffer (then
 * reading pauses) and served once the answer before them has been queued.
 * A client that shuts its sending side still gets the answers to every
 * complete request it sent.
 *
 * Deadlines, checked by http_conns_sweep: a request header must be
 * complete within header_ms of the connection opening or of the previous
 * answer, its body within body_ms of the header's end, and a client that
 * stops reading its answers is cut after HTTP_SEND_MS without progress.
 * A connection that is closing after an error answer first shuts down its
 * sending side and reads what the client still sends (for up to
 * HTTP_DRAIN_MS), so that the client's TCP stack does not discard the
 * answer on a reset.
 *
 * Everything here runs on the loop thread.
 */
#ifndef APP_HTTP_CONN_H
#define APP_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "app/http/api.h"
#include "app/http/http_parse.h"

#define HTTP_SEND_MS 60000u     /* an answer must make progress within this */
#define HTTP_DRAIN_MS 2000u     /* reading what a refused client still sends */
#define HTTP_PIPELINE_MAX ((size_t)64 << 10) /* room in the input buffer
                                 * beyond one request's head and body */

typedef struct http_conn http_conn;

/* A request as the connection framed it. */
typedef struct http_request {
	const http_head *head;   /* NULL when the head itself was refused */
	const http_bad *bad;     /* refused (head or chunked body): answer it;
	                          * the connection closes after the answer */
	bool too_large;          /* the body passes max_body: answer 413; the
	                          * connection closes after the answer */
	const char *body;        /* body_len bytes (not NUL-terminated) */
	size_t body_len;
} http_request;

/* What the server does with a connection's requests. */
typedef struct http_conn_ops {
	/* A request to serve.  Answer it with http_conn_respond, now or on a
	 * later turn of the loop; rq->head, the body and the strings stay
	 * valid until then (rq itself only during the call). */
	void (*request)(void *arg, http_conn *c, const http_request *rq);
	/* The connection is going away (the client left, a deadline, an
	 * answer that ends it, shutdown).  A request it had not answered yet
	 * stays unanswered: the server must not call http_conn_respond for it
	 * any more.  Called for every connection, so the server can free what
	 * it keeps in http_conn_user. */
	void (*closed)(void *arg, http_conn *c);
} http_conn_ops;

/* Every connection of a server, and their shared settings. */
typedef struct http_conns {
	struct event_base *base;
	http_conn_ops ops;
	void *arg;
	size_t max_body;
	uint32_t header_ms, body_ms;
	http_conn *head;
	size_t count;
	uint64_t header_expired;   /* connections cut by the header deadline */
	uint64_t body_expired;     /* ... and by the body deadline (counters) */
} http_conns;

/* Sets up an empty set; base and arg are borrowed. */
void http_conns_init(http_conns *cs, struct event_base *base, const http_conn_ops *ops,
                     void *arg, size_t max_body, uint32_t header_ms, uint32_t body_ms);

/* Closes every connection (ops.closed is called for each). */
void http_conns_destroy(http_conns *cs);

/* Closes the connections whose deadline has passed; now_ms from
 * http_now_ms.  Called by the server's periodic tick. */
void http_conns_sweep(http_conns *cs, int64_t now_ms);

/* Takes over accepted non-blocking socket fd (closed on failure). 0 or
 * CARTD_ENOMEM. */
int http_conn_open(http_conns *cs, int fd);

#define HTTP_ACCEPT_BATCH 64    /* connections taken per readiness */

/*
 * Accepts up to HTTP_ACCEPT_BATCH connections waiting on the non-blocking
 * listening socket lfd, each non-blocking with TCP_NODELAY (an answer is
 * one send: Nagle would only hold it back), and opens them.  Returns 0, or
 * the errno of an accept that failed for want of descriptors or memory
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM): lfd stays readable then, so the caller
 * should stop watching it for a while rather than spin.
 */
int http_conns_accept(http_conns *cs, int lfd);

/*
 * Queues the answer to the request being served and sends what it can;
 * the connection goes on to the next request (or closes, when the request
 * or the answer says so).  res is only read.  The connection may be
 * freed before this returns: do not use c afterwards.
 */
void http_conn_respond(http_conn *c, const api_response *res);

/* The connection closes after the answer to the request being served,
 * whatever that request asked (used at shutdown). */
void http_conn_close_after(http_conn *c);

/* The server's slot on a connection (NULL until set). */
void *http_conn_user(const http_conn *c);
void http_conn_set_user(http_conn *c, void *user);

/* CLOCK_MONOTONIC_COARSE in ms: the deadlines' clock. */
int64_t http_now_ms(void);

#endif
