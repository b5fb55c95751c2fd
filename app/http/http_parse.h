/*
 * http_parse.h - a strict parser of HTTP/1.1 request heads and chunked
 * request bodies (RFC 9112), over bytes the caller owns.  No I/O, no
 * allocation, no clock: the transport (http.c) feeds it what it read.
 *
 * Strict means: whatever a lenient parser and a proxy in front of it could
 * read two ways is refused, so that one request is one request everywhere.
 * Refused with 400 and a JSON error code (docs/api.md "The HTTP edge"):
 *   bad_request   a request line that is not method SP target SP version
 *   bad_target    a target that is empty or holds a byte outside 0x21..0x7e
 *                 (a NUL, a space, a control character, non-ASCII)
 *   bad_header    a header name that is not a token (space before the
 *                 colon included), a value with a NUL, CR or other control
 *                 character, a folded (obs-fold) line, a bare CR
 *   bad_length    more than one Content-Length (equal ones too), one that
 *                 is not all digits or passes HTTP_LENGTH_MAX,
 *                 Content-Length with Transfer-Encoding, a Transfer-Encoding
 *                 other than one "chunked", any on HTTP/1.0; in a chunked
 *                 body a bad chunk size, extension or trailer, or a line
 *                 that does not end in CR LF
 *   missing_host  HTTP/1.1 without exactly one Host, or two Hosts on 1.0
 * and with 431 header_too_large (head past HTTP_HEAD_MAX bytes or
 * HTTP_HEADERS_MAX lines), 505 bad_version (an HTTP version other than
 * 1.0 and 1.1).
 *
 * Lines of a head end in CR LF or a bare LF (RFC 9112 2.2 lets a server
 * accept the latter); empty lines before the request line are skipped (2.2
 * again).  The lines of a chunked body (sizes, data ends, trailers) must end
 * in CR LF, and each trailer line must be a name, a colon and a value.
 */
#ifndef APP_HTTP_PARSE_H
#define APP_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX ((size_t)32 << 10)  /* request line + header lines */
#define HTTP_HEADERS_MAX 100u             /* header lines */
#define HTTP_LENGTH_MAX ((uint64_t)1 << 53) /* a Content-Length past this is
                                           * refused as malformed, not as
                                           * too large: no body is */
#define HTTP_CHUNK_OVERHEAD_MAX ((size_t)16 << 10) /* chunk-size lines,
                                           * extensions and trailers of
                                           * one body, all together */

enum http_parse_result {
	HTTP_PARSE_DONE,    /* complete */
	HTTP_PARSE_MORE,    /* need more bytes */
	HTTP_PARSE_BAD,     /* refused: see http_bad */
};

/* Why a request was refused: an HTTP status and a JSON error code and
 * message (static strings). */
typedef struct http_bad {
	unsigned status;
	const char *code;
	const char *message;
} http_bad;

/* A parsed request head.  The strings point into the caller's buffer and
 * are NUL-terminated in place (the parser overwrites the separator after
 * each); they live as long as that buffer's bytes do. */
typedef struct http_head {
	const char *method;
	const char *target;          /* raw: path [?query], not decoded */
	size_t target_len;
	unsigned minor;              /* HTTP/1.minor: 0 or 1 */
	const char *content_type;    /* first one; NULL when absent */
	const char *prefer;          /* first one; NULL when absent */
	const char *idem_key;        /* first Idempotency-Key; NULL when absent */
	size_t idem_key_len;
	unsigned idem_keys;          /* how many Idempotency-Key headers came */
	bool has_length;             /* Content-Length given: length */
	uint64_t length;
	bool chunked;                /* Transfer-Encoding: chunked */
	bool keep_alive;             /* the connection may serve another request */
	bool expect_continue;        /* Expect: 100-continue */
	size_t head_len;             /* bytes of buf the head took, skipped
	                              * empty lines and final blank line included */
} http_head;

/*
 * Where the head that starts at buf ends: the offset just past its blank
 * line, or 0 when buf[0..len) holds no complete head yet.  scanned is the
 * caller's cursor (start it at 0, keep it between calls on a growing
 * buffer): only bytes not scanned before are looked at, so a head that
 * arrives a byte at a time costs linear time, not quadratic.
 */
size_t http_head_end(const char *buf, size_t len, size_t *scanned);

/*
 * Parses the complete head buf[0..end), end from http_head_end.  Returns
 * HTTP_PARSE_DONE with *h filled (and separators in buf overwritten by
 * NULs), or HTTP_PARSE_BAD with *bad filled (buf unchanged).
 */
enum http_parse_result http_parse_head(char *buf, size_t end, http_head *h, http_bad *bad);

/* The state of one chunked body; zero it (or http_chunked_init) per body. */
typedef struct http_chunked {
	int state;
	uint64_t left;       /* data bytes left in the current chunk */
	size_t overhead;     /* non-data bytes seen, against HTTP_CHUNK_OVERHEAD_MAX */
	unsigned digits;     /* hex digits of the current chunk size */
} http_chunked;

void http_chunked_init(http_chunked *c);

/*
 * Decodes a chunked body in place.  buf[*in..len) are bytes not yet
 * decoded; data goes to buf[*out..], where *out <= *in always holds, so the
 * decoded body grows contiguously from where the caller started *out.
 * Advances both.  Returns HTTP_PARSE_DONE when the last chunk and its
 * trailer section have been read (*in is then just past the body: the next
 * request's bytes follow), HTTP_PARSE_MORE when every byte was consumed
 * and more are needed, HTTP_PARSE_BAD (bad_length) on a malformed body.
 * The caller enforces its own cap on the decoded size.
 */
enum http_parse_result http_chunked_decode(http_chunked *c, char *buf, size_t len, size_t *in,
                                           size_t *out, http_bad *bad);

#endif
