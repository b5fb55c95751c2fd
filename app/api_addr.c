/*
 * api_addr.c - numeric host:port parsing and formatting (see api_addr.h).
 */
#include "app/api_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"

static int parse_port(const char *s, uint16_t *out)
{
	if (*s < '0' || *s > '9' || strlen(s) > 5)
		return CARTD_EINVAL;
	char *end = NULL;
	unsigned long v = strtoul(s, &end, 10);
	if (*end != '\0' || v > 65535)
		return CARTD_EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* host is NUL-terminated and has no brackets. */
static int parse_host(const char *host, bool v6, api_addr *out)
{
	if (v6) {
		out->family = AF_INET6;
		return inet_pton(AF_INET6, host, out->ip) == 1 ? 0 : CARTD_EINVAL;
	}
	out->family = AF_INET;
	if (host[0] == '\0' || strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	return inet_pton(AF_INET, host, out->ip) == 1 ? 0 : CARTD_EINVAL;
}

int api_addr_parse(const char *s, api_addr *out)
{
	char host[64];
	const char *colon;
	bool v6 = s[0] == '[';

	memset(out, 0, sizeof *out);
	if (v6) {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return CARTD_EINVAL;
		s++;
		colon = close + 1;
		if ((size_t)(close - s) >= sizeof host)
			return CARTD_EINVAL;
		memcpy(host, s, (size_t)(close - s));
		host[close - s] = '\0';
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof host || memchr(s, ':', (size_t)(colon - s)))
			return CARTD_EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	int rc = parse_host(host, v6, out);
	if (rc == 0)
		rc = parse_port(colon + 1, &out->port);
	if (rc != 0)
		memset(out, 0, sizeof *out);
	return rc;
}

bool api_addr_equal(const api_addr *a, const api_addr *b)
{
	size_t n = a->family == AF_INET6 ? 16 : 4;
	return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}

socklen_t api_addr_to_sockaddr(const api_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		memcpy(&s6->sin6_addr, a->ip, 16);
		return sizeof *s6;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(a->port);
	memcpy(&s4->sin_addr, a->ip, 4);
	return sizeof *s4;
}

void api_addr_format(const api_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	inet_ntop(a->family, a->ip, ip, sizeof ip);
	if (a->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, (unsigned)a->port);
	else
		snprintf(buf, len, "%s:%u", ip, (unsigned)a->port);
}
