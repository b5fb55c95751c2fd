/*
 * common.c - listening socket, route and answer body shared by the servers
 * of bench_httplib (see httplib.h).
 */
#include "bench/httplib/httplib.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int httplib_listen(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		return -1;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* A backlog well above the 64 connections wrk opens at once. */
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1024) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		perror("listen");
		close(fd);
		return -1;
	}
	printf("port %u\n", (unsigned)ntohs(a.sin_port));
	fflush(stdout);
	return fd;
}

size_t httplib_route(const char *target, size_t len, const char **id)
{
	static const char pre[] = "/carts/", post[] = "/items";
	size_t np = sizeof pre - 1, ns = sizeof post - 1;
	if (len <= np + ns || memcmp(target, pre, np) != 0 ||
	    memcmp(target + len - ns, post, ns) != 0)
		return 0;
	size_t n = len - np - ns;
	if (memchr(target + np, '/', n))
		return 0;
	*id = target + np;
	return n;
}

size_t httplib_render(char *out, const char *id, size_t id_len, size_t target_len,
                      size_t body_len)
{
	/* Shaped like cartd's answer to an add (the cart, its line, a context
	 * token), so that every library sends a body of the same size. */
	int n = snprintf(out, HTTPLIB_ANSWER_LEN + 1,
	                 "{\"cart\":\"%.*s\",\"target_len\":%zu,\"body_len\":%zu,"
	                 "\"items\":[{\"sku\":\"sku-1\",\"qty\":1}],\"context\":\"",
	                 (int)(id_len < HTTPLIB_ID_MAX ? id_len : HTTPLIB_ID_MAX), id,
	                 target_len, body_len);
	size_t at = n < 0 ? 0 : (size_t)n;
	if (at > HTTPLIB_ANSWER_LEN - 3)
		at = HTTPLIB_ANSWER_LEN - 3;
	memset(out + at, 'x', HTTPLIB_ANSWER_LEN - 3 - at);
	memcpy(out + HTTPLIB_ANSWER_LEN - 3, "\"}\n", 4);
	return HTTPLIB_ANSWER_LEN;
}

struct event_base *httplib_event_base(void)
{
	struct event_base *b = NULL;
	struct event_config *cfg = event_config_new();
	if (cfg && event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
		b = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return b ? b : event_base_new();
}
