/*
 * cartctl_http.c - the minimal HTTP/1.1 client (see cartctl_http.h).
 */
#include "app/cartctl/cartctl_http.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline.  1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { fd, events, 0 };
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int connect_to(const hostport_ip *peer, int64_t deadline, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = hostport_ip_to_sockaddr(peer, &ss);
	int fd = socket(peer->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
		return fd;
	int e = errno, soerr = 0;
	socklen_t len = sizeof soerr;
	if (e == EINPROGRESS) {
		int w = wait_fd(fd, POLLOUT, deadline);
		if (w > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
			return fd;
		e = w == 0 ? ETIMEDOUT : soerr ? soerr : errno;
	}
	snprintf(err, errlen, "connect: %s", strerror(e));
	close(fd);
	return -1;
}

static int send_all(int fd, const char *p, size_t len, int64_t deadline, char *err, size_t errlen)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "send: %s", strerror(errno));
			return -1;
		}
		if (n < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline) <= 0) {
			snprintf(err, errlen, "send: timed out");
			return -1;
		}
	}
	return 0;
}

/* Reads until EOF (the server closes after answering: Connection: close). */
static int recv_all(int fd, char **out, size_t *out_len, int64_t deadline, char *err,
                    size_t errlen)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 1 >= cap) {
			char *b = cap >= CTL_HTTP_MAX_RESPONSE ? NULL : realloc(buf, cap * 2);
			if (!b) {
				snprintf(err, errlen, "response too large");
				break;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n > 0) {
			len += (size_t)n;
		} else if (n == 0) {
			buf[len] = '\0';
			*out = buf;
			*out_len = len;
			return 0;
		} else if (errno == EAGAIN || errno == EINTR) {
			if (errno == EAGAIN && wait_fd(fd, POLLIN, deadline) <= 0) {
				snprintf(err, errlen, "no complete answer before the timeout");
				break;
			}
		} else {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			break;
		}
	}
	if (!buf)
		snprintf(err, errlen, "out of memory");
	free(buf);
	return -1;
}

static char *build_request(const hostport_ip *peer, const ctl_http_request *req, size_t *len)
{
	char host[HOSTPORT_IP_STRLEN], clen[48] = "", ctype[160] = "";
	hostport_ip_format(peer, host, sizeof host);
	if (req->body && !req->no_length)
		snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", req->body_len);
	if (req->content_type)
		snprintf(ctype, sizeof ctype, "Content-Type: %s\r\n", req->content_type);
	const char *extra = req->extra_headers ? req->extra_headers : "";
	size_t head = strlen(req->method) + strlen(req->target) + strlen(host) + strlen(clen) +
	              strlen(ctype) + strlen(extra) + 96;
	size_t blen = req->body ? req->body_len : 0;
	char *buf = malloc(head + blen);
	if (!buf)
		return NULL;
	int n = snprintf(buf, head, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cartctl\r\n"
	                 "Connection: close\r\nAccept: */*\r\n%s%s%s\r\n",
	                 req->method, req->target, host, ctype, clen, extra);
	if (blen)
		memcpy(buf + n, req->body, blen);
	*len = (size_t)n + blen;
	return buf;
}

/* Splits raw into status, head and body; honours Content-Length when
 * present (bytes past it are ignored). */
static int parse_response(char *raw, size_t len, bool head_only, ctl_http_response *out,
                          char *err, size_t errlen)
{
	char *end = strstr(raw, "\r\n\r\n");
	int major, minor, status;
	if (!end || sscanf(raw, "HTTP/%d.%d %d", &major, &minor, &status) != 3 ||
	    status < 100 || status > 999) {
		snprintf(err, errlen, "malformed HTTP answer");
		return -1;
	}
	size_t hlen = (size_t)(end - raw) + 2, boff = hlen + 2;
	out->status = status;
	out->head = strndup(raw, hlen);
	out->body_len = len - boff;
	out->body = malloc(out->body_len + 1);
	if (!out->head || !out->body) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(out->body, raw + boff, out->body_len);
	out->body[out->body_len] = '\0';
	char cl[32];
	/* A HEAD answer announces the length of a body it does not carry. */
	if (!head_only && ctl_http_header(out, "Content-Length", cl, sizeof cl)) {
		size_t want = strtoull(cl, NULL, 10);
		if (want > out->body_len) {
			snprintf(err, errlen, "answer cut short (%zu of %zu body bytes)",
			         out->body_len, want);
			return -1;
		}
		out->body_len = want;
		out->body[want] = '\0';
	}
	return 0;
}

int ctl_http_do(const hostport_ip *peer, const ctl_http_request *req, ctl_http_response *out,
                char *err, size_t errlen)
{
	int64_t deadline = now_ms() + (req->timeout_ms > 0 ? req->timeout_ms : 10000);
	char *raw = NULL, *msg = NULL;
	size_t raw_len = 0, msg_len = 0;
	int rc = -1;

	memset(out, 0, sizeof *out);
	msg = build_request(peer, req, &msg_len);
	if (!msg) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int fd = connect_to(peer, deadline, err, errlen);
	if (fd >= 0 && send_all(fd, msg, msg_len, deadline, err, errlen) == 0 &&
	    recv_all(fd, &raw, &raw_len, deadline, err, errlen) == 0)
		rc = parse_response(raw, raw_len, strcmp(req->method, "HEAD") == 0, out, err, errlen);
	if (fd >= 0)
		close(fd);
	free(msg);
	free(raw);
	if (rc != 0)
		ctl_http_response_free(out);
	return rc;
}

void ctl_http_response_free(ctl_http_response *r)
{
	if (!r)
		return;
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof *r);
}

const char *ctl_http_header(const ctl_http_response *r, const char *name, char *buf, size_t cap)
{
	size_t nlen = strlen(name);
	for (const char *line = r->head ? strstr(r->head, "\r\n") : NULL; line; ) {
		line += 2;
		const char *eol = strstr(line, "\r\n");
		size_t llen = eol ? (size_t)(eol - line) : strlen(line);
		if (llen > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t vlen = llen - (size_t)(v - line);
			if (vlen >= cap)
				vlen = cap - 1;
			memcpy(buf, v, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		line = eol;
	}
	return NULL;
}

int ctl_parse_peer(const char *s, hostport_ip *peer)
{
	char tmp[128];
	if (strncmp(s, "http://", 7) == 0)
		s += 7;
	size_t len = strcspn(s, "/");
	if (len >= sizeof tmp || (s[len] == '/' && s[len + 1] != '\0'))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return hostport_parse_ip(tmp, peer) == 0 ? 0 : -1;
}
