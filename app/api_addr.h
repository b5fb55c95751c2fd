/*
 * api_addr.h - numeric "host:port" addresses, as given to --listen, to
 * cartctl --peer and in fault-injection block lists.
 *
 * Accepted forms: "1.2.3.4:80", "[::1]:80", "host:port" where host is
 * "localhost" (taken as 127.0.0.1; no DNS lookups, so parsing never blocks
 * the event loop), and a bare ":80" meaning 127.0.0.1.  Ports are 0..65535.
 */
#ifndef APP_API_ADDR_H
#define APP_API_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest formatted address: "[" IPv6 "]:" port, NUL. */
#define API_ADDR_STRLEN 56

typedef struct api_addr {
	int family;             /* AF_INET or AF_INET6 */
	uint8_t ip[16];         /* 4 or 16 bytes used */
	uint16_t port;          /* host byte order */
} api_addr;

/* Parses s (NUL-terminated).  0 or CARTD_EINVAL. */
int api_addr_parse(const char *s, api_addr *out);

/* Same address and port. */
bool api_addr_equal(const api_addr *a, const api_addr *b);

/* Fills ss for bind/connect; returns its length. */
socklen_t api_addr_to_sockaddr(const api_addr *a, struct sockaddr_storage *ss);

/* Formats as "1.2.3.4:80" or "[::1]:80" into buf (>= API_ADDR_STRLEN). */
void api_addr_format(const api_addr *a, char *buf, size_t len);

#endif
