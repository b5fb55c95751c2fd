/*
 * udp_addr.c - name resolution (the host:port syntax is net/hostport.c's)
 * and the conversions between socket addresses and engine addresses
 * (layout in udp.h).
 *
 * Everything here validates its input fully: engine addresses also arrive
 * in membership gossip from peers, so a malformed one must be refused, not
 * trusted for its length.
 */
#include "net/udp.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "crdt/error.h"
#include "net/hostport.h"

static void put_port(engine_addr *a, uint16_t port)
{
	a->b[1] = (uint8_t)(port >> 8);
	a->b[2] = (uint8_t)port;
}

int udp_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, engine_addr *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (!sa || !out)
		return CARTD_EINVAL;
	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		out->len = UDP_ADDR_V4_LEN;
		out->b[0] = UDP_FAMILY_V4;
		put_port(out, ntohs(in->sin_port));
		memcpy(out->b + 3, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *ip = in6->sin6_addr.s6_addr;
		put_port(out, ntohs(in6->sin6_port));
		if (memcmp(ip, mapped, sizeof mapped) == 0) {
			out->len = UDP_ADDR_V4_LEN;
			out->b[0] = UDP_FAMILY_V4;
			memcpy(out->b + 3, ip + 12, 4);
		} else {
			out->len = UDP_ADDR_V6_LEN;
			out->b[0] = UDP_FAMILY_V6;
			memcpy(out->b + 3, ip, 16);
		}
		return 0;
	}
	return CARTD_EINVAL;
}

unsigned udp_addr_family(const engine_addr *a)
{
	if (!a)
		return 0;
	if (a->len == UDP_ADDR_V4_LEN && a->b[0] == UDP_FAMILY_V4)
		return UDP_FAMILY_V4;
	if (a->len == UDP_ADDR_V6_LEN && a->b[0] == UDP_FAMILY_V6)
		return UDP_FAMILY_V6;
	return 0;
}

int udp_addr_check(const engine_addr *a)
{
	return udp_addr_family(a) ? 0 : CARTD_EINVAL;
}

uint16_t udp_addr_port(const engine_addr *a)
{
	if (!udp_addr_family(a))
		return 0;
	return (uint16_t)((a->b[1] << 8) | a->b[2]);
}

int udp_addr_to_sockaddr(const engine_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	unsigned fam = udp_addr_family(a);
	if (!fam || !ss || !len)
		return CARTD_EINVAL;
	memset(ss, 0, sizeof *ss);
	if (fam == UDP_FAMILY_V4) {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(udp_addr_port(a));
		memcpy(&in->sin_addr, a->b + 3, 4);
		*len = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(udp_addr_port(a));
		memcpy(&in6->sin6_addr, a->b + 3, 16);
		*len = sizeof *in6;
	}
	return 0;
}

char *udp_addr_format(const engine_addr *a, char *buf, size_t len)
{
	if (!buf || len == 0)
		return buf;
	unsigned fam = udp_addr_family(a);
	char ip[INET6_ADDRSTRLEN];
	if (!a || a->len == 0) {
		snprintf(buf, len, "-");
	} else if (!fam || !inet_ntop(fam == UDP_FAMILY_V4 ? AF_INET : AF_INET6,
	                              a->b + 3, ip, sizeof ip)) {
		snprintf(buf, len, "invalid");
	} else if (fam == UDP_FAMILY_V4) {
		snprintf(buf, len, "%s:%u", ip, (unsigned)udp_addr_port(a));
	} else {
		snprintf(buf, len, "[%s]:%u", ip, (unsigned)udp_addr_port(a));
	}
	return buf;
}

static unsigned family_of(int af)
{
	return af == AF_INET ? UDP_FAMILY_V4 : af == AF_INET6 ? UDP_FAMILY_V6 : 0;
}

int udp_resolve(const char *hostport, unsigned prefer, engine_addr *out,
                char *err, size_t errlen)
{
	char host[HOSTPORT_HOST_MAX], port[8];
	uint16_t p;
	if (err && errlen)
		err[0] = '\0';
	if (!out || hostport_split(hostport, host, sizeof host, &p, NULL) != 0) {
		if (err)
			snprintf(err, errlen, "'%s' is not host:port or [ipv6]:port", hostport ? hostport : "");
		return CARTD_EINVAL;
	}
	snprintf(port, sizeof port, "%u", (unsigned)p);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
	                          .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0) {
		if (err)
			snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(g));
		return g == EAI_MEMORY ? CARTD_ENOMEM : CARTD_ENOTFOUND;
	}
	const struct addrinfo *pick = NULL;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		unsigned f = family_of(ai->ai_family);
		if (f && (!pick || (f == prefer && family_of(pick->ai_family) != prefer)))
			pick = ai;
	}
	int rc = pick ? udp_addr_from_sockaddr(pick->ai_addr, pick->ai_addrlen, out) : CARTD_ENOTFOUND;
	if (rc && err)
		snprintf(err, errlen, "'%s' has no IPv4 or IPv6 address", host);
	freeaddrinfo(res);
	return rc;
}
