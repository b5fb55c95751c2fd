/*
 * http.h - the HTTP/JSON API server of a cartd peer (DESIGN.md section 5,
 * docs/api.md).
 *
 * cartd's own HTTP/1.1 server on the peer's libevent loop: a listening
 * socket, connections that frame requests strictly (http_parse.h,
 * http_conn.h), and the API behind them (api.h).  A write's answer waits
 * until the node reports the write durable, on a later turn of the loop,
 * so the loop never blocks on a disk.
 *
 * Everything here runs on the loop thread.
 */
#ifndef APP_HTTP_H
#define APP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "app/peer/node.h"

#define HTTP_DEFAULT_LISTEN "127.0.0.1:8080"
#define HTTP_DEFAULT_MAX_BODY ((size_t)64 << 10)
#define HTTP_DEFAULT_HEADER_MS 5000u
#define HTTP_DEFAULT_BODY_MS 10000u

typedef struct http_server http_server;

typedef struct http_config {
	const char *listen;     /* "host:port", IPv4 or [IPv6] literal; NULL = default */
	bool fault_routes;      /* serve /admin/faults (else 404) */
	size_t max_body;        /* request body cap in bytes; 0 = default (64 KiB) */
	uint32_t header_timeout_ms;  /* a request header must be complete within
	                         * this of the connection opening or of the
	                         * previous request ending; 0 = default (5 s) */
	uint32_t body_timeout_ms;    /* and its body within this of the header's
	                         * end; 0 = default (10 s) */
} http_config;

/*
 * Starts serving on cfg->listen.  base and n are borrowed and must outlive
 * the server.  Errors: CARTD_ECONFIG (unparsable listen address, or the
 * address cannot be bound, e.g. port in use; a message is logged),
 * CARTD_ENOMEM, CARTD_EINVAL (NULL argument).  On failure *out = NULL.
 */
int http_new(struct event_base *base, node *n, const http_config *cfg, http_server **out);

/*
 * Stops listening and frees the server.  NULL-safe.  Shutdown order:
 * node_shutdown (answers every outstanding write with its real outcome),
 * let the loop turn so those answers go out, http_free, node_free.
 * A write still outstanding here is answered 503 "shutdown" (outcome
 * unknown) and its request state is freed by node's done callback later.
 */
void http_free(http_server *s);

/* The port actually bound (useful with port 0 in tests). */
unsigned http_port(const http_server *s);

#endif
