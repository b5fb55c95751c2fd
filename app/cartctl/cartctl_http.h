/*
 * cartctl_http.h - a minimal blocking HTTP/1.1 client over one TCP
 * connection per request, for cartctl and the cluster tests.
 *
 * Each request sends "Connection: close" and reads the answer to the end:
 * no pooling, no redirects, no TLS, no chunked decoding (cartd always sends
 * Content-Length).  Everything is bounded: one deadline covers connect,
 * send and receive, and an answer larger than CTL_HTTP_MAX_RESPONSE is an
 * error.
 */
#ifndef APP_CARTCTL_HTTP_H
#define APP_CARTCTL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "net/hostport.h"

#define CTL_HTTP_MAX_RESPONSE ((size_t)64 << 20)

typedef struct ctl_http_response {
	int status;             /* HTTP status code */
	char *head;             /* status line and headers, NUL-terminated */
	char *body;             /* body_len bytes plus a NUL */
	size_t body_len;
} ctl_http_response;

typedef struct ctl_http_request {
	const char *method;
	const char *target;         /* path and query, sent as is */
	const char *content_type;   /* NULL: no Content-Type header */
	const char *body;           /* NULL: no body (and no Content-Length) */
	size_t body_len;
	const char *extra_headers;  /* NULL or "Name: value\r\n" lines */
	int timeout_ms;             /* whole exchange; <= 0 means 10 s */
	bool no_length;             /* omit Content-Length: body is already framed
	                               (tests send chunked bodies this way) */
} ctl_http_request;

/*
 * Sends req to peer and reads the answer into *out (released with
 * ctl_http_response_free).  Returns 0 (any HTTP status), or -1 with a
 * message in err: connection refused, timeout, malformed or oversized
 * answer.  On failure *out is empty.
 */
int ctl_http_do(const hostport_ip *peer, const ctl_http_request *req, ctl_http_response *out,
                char *err, size_t errlen);

void ctl_http_response_free(ctl_http_response *r);   /* NULL-safe */

/* Value of header name (case-insensitive) copied into buf, or NULL. */
const char *ctl_http_header(const ctl_http_response *r, const char *name, char *buf, size_t cap);

/* Parses "http://host:port[/]" or "host:port" into peer.  0 or -1. */
int ctl_parse_peer(const char *s, hostport_ip *peer);

#endif
