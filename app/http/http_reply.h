/*
 * http_reply.h - the status line and header of an API answer, rendered
 * straight into the connection's output buffer (no library, no
 * allocation, no printf on the path of every write).
 *
 * Every answer carries Date (RFC 9110 6.6.1: an origin server with a clock
 * must), Content-Type when it has one, Content-Length (except 204, which
 * must not), Cache-Control: no-store (carts change under a reader), and
 * the API's own headers from api_response.
 */
#ifndef APP_HTTP_REPLY_H
#define APP_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "app/http/api.h"

/* Enough for any head http_reply_head renders. */
#define HTTP_REPLY_HEAD_MAX 512

/* How the connection goes on after this answer. */
enum http_reply_conn {
	HTTP_REPLY_PERSIST,     /* HTTP/1.1 default: no Connection header */
	HTTP_REPLY_KEEP_ALIVE,  /* an HTTP/1.0 client asked to keep it */
	HTTP_REPLY_CLOSE,       /* Connection: close */
};

/*
 * Writes the head of res (status, headers, blank line) to dst, which has
 * room for HTTP_REPLY_HEAD_MAX bytes; body_len is the body's length even
 * when the body is not sent (HEAD).  Returns the bytes written.
 */
size_t http_reply_head(char *dst, const api_response *res, size_t body_len,
                       enum http_reply_conn how);

/* The reason phrase of a status ("" for one the API never sends). */
const char *http_reply_reason(unsigned status);

#endif
