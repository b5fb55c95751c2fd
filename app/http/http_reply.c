/*
 * http_reply.c - answer heads (see http_reply.h).
 */
#include "app/http/http_reply.h"

#include <string.h>
#include <time.h>

const char *http_reply_reason(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}

/* "Date: ...\r\n", formatted once a second: the loop answers thousands of
 * requests in each.  Loop thread only. */
static const char *date_line(size_t *len)
{
	static time_t at = -1;
	static char line[64];
	static size_t n;
	time_t now = time(NULL);
	if (now != at) {
		struct tm tm;
		at = now;
		gmtime_r(&now, &tm);
		n = strftime(line, sizeof line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
	}
	*len = n;
	return line;
}

static char *put(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

static char *put_uint(char *p, unsigned long long v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_header(char *p, const char *name, const char *value)
{
	p = put(p, name);
	p = put(p, value);
	return put(p, "\r\n");
}

size_t http_reply_head(char *dst, const api_response *res, size_t body_len,
                       enum http_reply_conn how)
{
	size_t dlen;
	const char *date = date_line(&dlen);
	char *p = put(dst, "HTTP/1.1 ");
	p = put_uint(p, res->status % 1000);
	*p++ = ' ';
	p = put(p, http_reply_reason(res->status));
	p = put(p, "\r\n");
	memcpy(p, date, dlen);
	p += dlen;
	if (res->content_type)
		p = put_header(p, "Content-Type: ", res->content_type);
	if (res->status != 204) {
		p = put(p, "Content-Length: ");
		p = put_uint(p, body_len);
		p = put(p, "\r\n");
	}
	p = put(p, "Cache-Control: no-store\r\n");
	if (res->allow)
		p = put_header(p, "Allow: ", res->allow);
	if (res->applied)
		p = put_header(p, "Preference-Applied: ", res->applied);
	if (res->replayed)
		p = put(p, "Idempotency-Replayed: true\r\n");
	if (res->retry_after) {
		p = put(p, "Retry-After: ");
		p = put_uint(p, res->retry_after);
		p = put(p, "\r\n");
	}
	if (how == HTTP_REPLY_CLOSE)
		p = put(p, "Connection: close\r\n");
	else if (how == HTTP_REPLY_KEEP_ALIVE)
		p = put(p, "Connection: keep-alive\r\n");
	p = put(p, "\r\n");
	return (size_t)(p - dst);
}
