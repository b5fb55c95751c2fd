/*
 * http_conn.h - the request deadlines of the HTTP server: every connection
 * must deliver a complete request header within a fixed time of opening, or
 * of the end of its previous request, and then the request's whole body
 * within another, or it is closed.
 *
 * libmicrohttpd's own timeout measures inactivity, so a client sending one
 * byte a second would hold a connection (and its memory) forever, in its
 * header or in its body.  MHD
 * 0.9.75 has no call to close one of its connections from outside; the
 * tracker shuts the socket down (shutdown(2)), MHD then reads end of file
 * and closes the connection itself on its next run.
 *
 * Runs on the loop thread, like the rest of the server.
 */
#ifndef APP_HTTP_CONN_H
#define APP_HTTP_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

typedef struct http_conn http_conn;

typedef struct http_conns {
	struct event *ev_tick;     /* periodic sweep */
	uint32_t deadline_ms;      /* for a request header */
	uint32_t body_deadline_ms; /* for a request body, from its header's end */
	http_conn *head;
	uint64_t expired;          /* connections closed by the header deadline */
	uint64_t body_expired;     /* ... and by the body deadline (counters) */
} http_conns;

/* Starts the sweep on base.  0 or CARTD_ENOMEM. */
int http_conns_init(http_conns *c, struct event_base *base, uint32_t deadline_ms,
                    uint32_t body_deadline_ms);
/* Stops the sweep and forgets (does not close) every connection. */
void http_conns_destroy(http_conns *c);

/* A new connection on socket fd: its header clock starts.  NULL when out
 * of memory: that connection then has only MHD's inactivity timeout. */
http_conn *http_conn_open(http_conns *c, int fd);
/* The connection went away.  NULL-safe. */
void http_conn_close(http_conns *c, http_conn *h);
/* The current request's header is complete: the body's clock starts. */
void http_conn_header_done(http_conn *h);
/* The current request's body is complete (or it has none): the clock
 * stops while the request is served. */
void http_conn_body_done(http_conn *h);
/* The request ended; the clock runs again for the next one. */
void http_conn_request_done(http_conn *h);

#endif
