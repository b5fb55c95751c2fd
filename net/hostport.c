/*
 * hostport.c - host:port parsing and numeric addresses (see hostport.h).
 */
#include "net/hostport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "crdt/error.h"

#define LABEL_MAX 63u
#define NAME_MAX_LEN 253u

/* Decimal 0..65535, digits only. */
static int parse_port(const char *s, uint16_t *port)
{
	uint32_t v = 0;
	size_t n = 0;
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 5)
			return CARTD_EINVAL;
		v = v * 10 + (uint32_t)(s[n] - '0');
	}
	if (n == 0 || v > 65535)
		return CARTD_EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 1123 host name, and not something that only looks like an IPv4
 * literal. */
static bool is_name(const char *h, size_t n)
{
	bool only_digits = true;
	size_t label = 0;
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > LABEL_MAX)
			return false;
		only_digits = only_digits && c >= '0' && c <= '9';
	}
	return label > 0 && h[n - 1] != '-' && !only_digits;
}

static int classify(const char *host, bool bracketed, enum hostport_kind *kind)
{
	uint8_t ip[16];
	if (bracketed) {
		*kind = HOSTPORT_V6;
		return inet_pton(AF_INET6, host, ip) == 1 ? 0 : CARTD_EINVAL;
	}
	if (inet_pton(AF_INET, host, ip) == 1) {
		*kind = HOSTPORT_V4;
		return 0;
	}
	*kind = HOSTPORT_NAME;
	return is_name(host, strlen(host)) ? 0 : CARTD_EINVAL;
}

static int split(const char *s, char *host, size_t cap, uint16_t *port, enum hostport_kind *kind)
{
	const char *h = s, *colon;
	size_t hlen;
	bool bracketed = s[0] == '[';
	if (bracketed) {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return CARTD_EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		if (hlen == 0)
			return CARTD_EINVAL;
	} else {
		colon = strchr(s, ':');
		if (!colon || strchr(colon + 1, ':'))   /* none, or an unbracketed IPv6 */
			return CARTD_EINVAL;
		hlen = (size_t)(colon - s);
	}
	if (parse_port(colon + 1, port) != 0)
		return CARTD_EINVAL;
	if (hlen == 0) {
		h = "127.0.0.1";
		hlen = strlen(h);
	}
	if (hlen >= cap)
		return CARTD_EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return classify(host, bracketed, kind);
}

int hostport_split(const char *s, char *host, size_t cap, uint16_t *port,
                   enum hostport_kind *kind)
{
	enum hostport_kind k;
	if (!s || !host || cap == 0 || !port)
		return CARTD_EINVAL;
	int rc = split(s, host, cap, port, &k);
	if (rc != 0) {
		host[0] = '\0';
		*port = 0;
		return rc;
	}
	if (kind)
		*kind = k;
	return 0;
}

int hostport_parse_ip(const char *s, hostport_ip *out)
{
	char host[HOSTPORT_HOST_MAX];
	enum hostport_kind kind;
	memset(out, 0, sizeof *out);
	if (hostport_split(s, host, sizeof host, &out->port, &kind) != 0)
		return CARTD_EINVAL;
	if (kind == HOSTPORT_NAME) {
		if (strcmp(host, "localhost") != 0) {
			memset(out, 0, sizeof *out);
			return CARTD_EINVAL;
		}
		strcpy(host, "127.0.0.1");
		kind = HOSTPORT_V4;
	}
	out->family = kind == HOSTPORT_V6 ? AF_INET6 : AF_INET;
	(void)inet_pton(out->family, host, out->ip);   /* checked by hostport_split */
	return 0;
}

bool hostport_ip_equal(const hostport_ip *a, const hostport_ip *b)
{
	size_t n = a->family == AF_INET6 ? 16 : 4;
	return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}

socklen_t hostport_ip_to_sockaddr(const hostport_ip *a, struct sockaddr_storage *ss)
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

void hostport_ip_format(const hostport_ip *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	inet_ntop(a->family, a->ip, ip, sizeof ip);
	if (a->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, (unsigned)a->port);
	else
		snprintf(buf, len, "%s:%u", ip, (unsigned)a->port);
}
