/*
 * hostport.h - the one "host:port" grammar of cartd and cartctl: --http,
 * --gossip, --peer, cartctl --peer and fault-injection block lists all go
 * through hostport_split.
 *
 *   hostport = [host] ":" port
 *   host     = IPv4 literal | "[" IPv6 literal "]" | name | empty
 *   port     = 1 to 5 decimal digits, 0..65535 (no sign, blank or hex)
 *
 * A name is RFC 1123: dot-separated labels of letters, digits and '-', not
 * starting or ending with '-', at most 63 bytes each and 253 in all, and
 * not all digits and dots (so "1.2.3" is a bad IPv4 literal, not a name).
 * An empty host means 127.0.0.1, like "localhost": a bare ":8080" is
 * loopback, never a wildcard.  An unbracketed IPv6 literal is refused as
 * ambiguous.  Nothing here does a DNS lookup: hostport_split only says that
 * a name is a name; whoever needs its address resolves it (udp_resolve).
 *
 * Errors follow crdt/error.h.
 */
#ifndef NET_HOSTPORT_H
#define NET_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HOSTPORT_HOST_MAX 254u     /* a 253-byte name and its NUL */
/* Longest formatted address: "[" IPv6 "]:" port, NUL. */
#define HOSTPORT_IP_STRLEN 56u

enum hostport_kind {
	HOSTPORT_NAME = 1,         /* a DNS name, "localhost" included */
	HOSTPORT_V4 = 4,           /* an IPv4 literal (or the empty host) */
	HOSTPORT_V6 = 6,           /* a bracketed IPv6 literal */
};

/* A numeric address with its port. */
typedef struct hostport_ip {
	int family;                /* AF_INET or AF_INET6 */
	uint8_t ip[16];            /* 4 or 16 bytes used */
	uint16_t port;             /* host byte order */
} hostport_ip;

/*
 * Parses s (NUL-terminated) by the grammar above.  host (cap bytes) gets the
 * host without brackets ("127.0.0.1" for an empty one), *port the port,
 * *kind (may be NULL) what the host is.  0 or CARTD_EINVAL; on failure
 * host is "" and *port 0.
 */
int hostport_split(const char *s, char *host, size_t cap, uint16_t *port,
                   enum hostport_kind *kind);

/*
 * hostport_split for places that take no names (they must not block on
 * DNS): IP literals, the empty host and "localhost" (both 127.0.0.1).
 * 0 or CARTD_EINVAL (malformed, or another name); *out zeroed on failure.
 */
int hostport_parse_ip(const char *s, hostport_ip *out);

/* Same address and port. */
bool hostport_ip_equal(const hostport_ip *a, const hostport_ip *b);

/* Fills ss for bind/connect; returns its length. */
socklen_t hostport_ip_to_sockaddr(const hostport_ip *a, struct sockaddr_storage *ss);

/* Formats as "1.2.3.4:80" or "[::1]:80" into buf (>= HOSTPORT_IP_STRLEN). */
void hostport_ip_format(const hostport_ip *a, char *buf, size_t len);

#endif
