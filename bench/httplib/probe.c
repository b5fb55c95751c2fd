/*
 * probe.c - the malformed-request probes of bench_httplib: raw requests
 * with a NUL byte, conflicting lengths or no Host, and a header trickled
 * one byte a second, to see what a library does with each by itself.
 *
 * A probe reports the first answer's status; for a 200 also the target
 * and body lengths the library handed to the handler ("t=15 b=23"; the
 * server echoes them, httplib_render), which is how a NUL that silently
 * cut a target shows, or a body framed by the other of two lengths; and
 * any further answers on the same connection (", then 400"), which is how
 * bytes one framing leaves over show when they are parsed as a second
 * request.
 */
#include "bench/httplib/httplib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BODY "{\"sku\":\"sku-1\",\"qty\":1}"   /* 23 bytes, as add.lua sends */
#define JSON "Content-Type: application/json\r\n"
#define HOST "Host: 127.0.0.1\r\n"

/* How long to wait for a first answer, and for more after it. */
#define FIRST_MS 2000
#define MORE_MS 300

typedef struct pcase {
	const char *name;
	const char *req;
	size_t len;
} pcase;

/* sizeof - 1: the requests hold NUL bytes. */
#define CASE(name, lit) { name, lit, sizeof lit - 1 }
static const pcase cases[] = {
	CASE("well-formed", "POST /carts/c1/items HTTP/1.1\r\n" HOST JSON
	     "Content-Length: 23\r\n\r\n" BODY),
	CASE("NUL in target", "POST /carts/c1/items\0zzz HTTP/1.1\r\n" HOST JSON
	     "Content-Length: 23\r\n\r\n" BODY),
	CASE("two Content-Length (23, 5)", "POST /carts/c1/items HTTP/1.1\r\n" HOST JSON
	     "Content-Length: 23\r\nContent-Length: 5\r\n\r\n" BODY),
	CASE("two Content-Length (5, 23)", "POST /carts/c1/items HTTP/1.1\r\n" HOST JSON
	     "Content-Length: 5\r\nContent-Length: 23\r\n\r\n" BODY),
	CASE("Content-Length + chunked", "POST /carts/c1/items HTTP/1.1\r\n" HOST JSON
	     "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n17\r\n" BODY "\r\n0\r\n\r\n"),
	CASE("HTTP/1.1 without Host", "POST /carts/c1/items HTTP/1.1\r\n" JSON
	     "Content-Length: 23\r\n\r\n" BODY),
	CASE("NUL in a header value", "POST /carts/c1/items HTTP/1.1\r\n" HOST JSON
	     "Idempotency-Key: k1\0zzz\r\nContent-Length: 23\r\n\r\n" BODY),
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Reads answers until the server closes, or is quiet MORE_MS after the
 * first one (FIRST_MS before it).  Returns the bytes read; *closed says
 * whether the server closed the connection. */
static size_t collect(int fd, char *buf, size_t cap, bool *closed)
{
	size_t n = 0;
	int64_t deadline = now_ms() + FIRST_MS;
	*closed = false;
	while (n < cap - 1) {
		int64_t left = deadline - now_ms();
		struct pollfd p = { fd, POLLIN, 0 };
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
		if (r <= 0) {
			*closed = true;
			break;
		}
		n += (size_t)r;
		deadline = now_ms() + MORE_MS;
	}
	buf[n] = '\0';
	return n;
}

/* One line saying what the answers in buf were. */
static void describe(const char *buf, size_t n, bool closed, char *out, size_t cap)
{
	const char *p = buf, *end = buf + n;
	size_t at = 0;
	unsigned answers = 0;
	while (p < end && (p = memmem(p, (size_t)(end - p), "HTTP/1.", 7)) != NULL) {
		int status = atoi(p + 9);
		if (answers == 0) {
			at += (size_t)snprintf(out + at, cap - at, "%d", status);
			const char *t = strstr(p, "\"target_len\":"), *b = strstr(p, "\"body_len\":");
			if (status == 200 && t && b)
				at += (size_t)snprintf(out + at, cap - at, " t=%d b=%d",
				                       atoi(t + 13), atoi(b + 11));
		} else {
			at += (size_t)snprintf(out + at, cap - at, ", then %d", status);
		}
		answers++;
		p += 7;
		if (at >= cap)
			break;
	}
	if (answers == 0)
		snprintf(out, cap, "%s", closed ? "closed, no answer" : "no answer in 2 s");
}

static void probe_one(unsigned port, const pcase *c)
{
	char buf[16384], what[256];
	bool closed;
	int fd = dial(port);
	if (fd < 0) {
		printf("%s\tcannot connect: %s\n", c->name, strerror(errno));
		return;
	}
	if (send(fd, c->req, c->len, MSG_NOSIGNAL) != (ssize_t)c->len) {
		printf("%s\tsend failed: %s\n", c->name, strerror(errno));
		close(fd);
		return;
	}
	size_t n = collect(fd, buf, sizeof buf, &closed);
	describe(buf, n, closed, what, sizeof what);
	printf("%s\t%s\n", c->name, what);
	close(fd);
}

int httplib_probe(unsigned port)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		probe_one(port, &cases[i]);
	return 0;
}

int httplib_slow(unsigned port, unsigned seconds)
{
	static const char head[] = "POST /carts/c1/items HTTP/1.1\r\n" HOST "X-Pad: ";
	char buf[4096], what[256];
	int fd = dial(port);
	if (fd < 0) {
		printf("one byte a second\tcannot connect: %s\n", strerror(errno));
		return 1;
	}
	int64_t t0 = now_ms();
	for (size_t i = 0; now_ms() - t0 < (int64_t)seconds * 1000; i++) {
		char c = i < sizeof head - 1 ? head[i] : 'a';
		struct pollfd p = { fd, POLLIN, 0 };
		/* A second between bytes, and an eye on the server meanwhile. */
		if (poll(&p, 1, 1000) > 0 || send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
			bool closed;
			size_t n = collect(fd, buf, sizeof buf, &closed);
			describe(buf, n, closed, what, sizeof what);
			printf("one byte a second\tcut at %.0f s%s%s\n",
			       (double)(now_ms() - t0) / 1000.0, n ? ": " : "", n ? what : "");
			close(fd);
			return 0;
		}
	}
	printf("one byte a second\topen at %u s\n", seconds);
	close(fd);
	return 0;
}
