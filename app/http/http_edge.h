/*
 * http_edge.h - the request-header rules of RFC 9112 that libmicrohttpd
 * 0.9.75 does not enforce itself, checked before a request reaches the API.
 *
 * MHD splits the request line and header lines at CR LF and then treats the
 * pieces as C strings, so a NUL byte silently cuts a target or a header
 * value short ("DELETE /carts/c1<NUL>zzz" clears c1).  It takes the first
 * of two Content-Length headers, lets Transfer-Encoding win over
 * Content-Length, and serves HTTP/1.1 without Host unless its strict mode
 * is on (which answers with an HTML page, not our JSON error).  See
 * docs/api.md "The HTTP edge".
 *
 * How a NUL is found: every piece MHD hands over (method, target, version,
 * each header's name and value) points into MHD's read buffer, in the order
 * it was received, and MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE is the raw
 * length of the header from the method on.  Between consecutive pieces
 * there may only be what MHD consumed as separators (the CR LF and ':' it
 * overwrote with NULs, spaces and tabs).  Bytes left over between pieces
 * are what a NUL hid from the parser.  A piece outside that layout (an
 * obs-fold line, which MHD copies elsewhere) is refused as well.
 */
#ifndef APP_HTTP_EDGE_H
#define APP_HTTP_EDGE_H

#include <stddef.h>

#include <microhttpd.h>

#include "app/http/api.h"

/* Which request, as MHD gave it: method and version from the access
 * handler, the raw target pointer from the URI callback, and a copy of the
 * target taken there (before MHD cut the query string into pieces in
 * place). */
typedef struct http_edge_req {
	struct MHD_Connection *conn;
	const char *method;
	const char *version;
	const char *raw_target;
	const char *target;       /* the copy; its length is the raw one's */
	size_t target_len;
} http_edge_req;

/*
 * Checks the request header.  Returns 0 when it may be served; otherwise
 * fills res with a 400 JSON error (codes bad_target, bad_header,
 * bad_length, missing_host; docs/api.md) and returns -1.
 */
int http_edge_check(const http_edge_req *q, api_response *res);

#endif
