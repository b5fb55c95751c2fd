/*
 * fuzz_hostport.c - libFuzzer harness for the host:port grammar
 * (net/hostport.h), which reads fault-injection block lists from HTTP and
 * every address on a command line.
 *
 * The input, cut at its first NUL, goes to hostport_split and
 * hostport_parse_ip.  A refusal leaves the outputs empty.  An accepted
 * address is within its limits, a numeric one formats back to text that
 * parses to the same address, and a name is never reported for something
 * hostport_parse_ip accepts other than localhost or the empty host.
 *
 *   make fuzz FUZZ_SECONDS=60
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/hostport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                             \
	do {                                                                        \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_hostport: check failed: %s (%s:%d)\n", #cond, \
			        __FILE__, __LINE__);                                        \
			abort();                                                            \
		}                                                                       \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[512], host[HOSTPORT_HOST_MAX], text[HOSTPORT_IP_STRLEN];
	if (size >= sizeof s)
		size = sizeof s - 1;
	memcpy(s, data, size);
	s[size] = '\0';

	uint16_t port = 1;
	enum hostport_kind kind = 0;
	int rc = hostport_split(s, host, sizeof host, &port, &kind);
	if (rc != 0) {
		CHECK(host[0] == '\0' && port == 0);
	} else {
		CHECK(strlen(host) > 0 && strlen(host) < sizeof host);
		CHECK(kind == HOSTPORT_NAME || kind == HOSTPORT_V4 || kind == HOSTPORT_V6);
	}

	hostport_ip a, b;
	int rc_ip = hostport_parse_ip(s, &a);
	if (rc_ip != 0) {
		CHECK(a.family == 0 && a.port == 0);
		return 0;
	}
	CHECK(rc == 0);
	CHECK(a.family == AF_INET || a.family == AF_INET6);
	CHECK(a.port == port);
	CHECK(kind != HOSTPORT_NAME || strcmp(host, "localhost") == 0);
	hostport_ip_format(&a, text, sizeof text);
	CHECK(hostport_parse_ip(text, &b) == 0 && hostport_ip_equal(&a, &b));
	return 0;
}
