/*
 * udp.h - the UDP socket adapter: the one place where cartd's datagrams meet
 * the kernel, and the mapping between socket addresses and the engine's
 * opaque engine_addr.
 *
 * engine_addr layout (also carried in membership gossip, so it is part of
 * the protocol and must not depend on the platform's AF_* values):
 *
 *   IPv4: len 7   b[0] = UDP_FAMILY_V4 (4), b[1..2] port big-endian, b[3..6] address
 *   IPv6: len 19  b[0] = UDP_FAMILY_V6 (6), b[1..2] port big-endian, b[3..18] address
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, seen on a dual-stack socket)
 * are stored as IPv4, so one peer has one engine address whichever socket
 * heard it; an IPv6 socket sends to an IPv4 engine address through the
 * mapped form.  IPv6 scope ids are not kept: link-local peers need a global
 * or loopback address.
 *
 * The socket is non-blocking and knows nothing of the event loop: the owner
 * watches udp_fd() for readability and calls udp_receive(), which reads in
 * batches (recvmmsg) up to a budget so one busy socket cannot starve the
 * loop.  Datagrams longer than max_datagram are dropped and counted, never
 * delivered cut.  Sending never blocks: a full socket buffer drops the
 * datagram and counts it (the protocol repairs losses).
 *
 * Errors follow crdt/error.h.  Not thread-safe: one thread uses a socket.
 */
#ifndef NET_UDP_H
#define NET_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/engine.h"

#define UDP_FAMILY_V4 4u
#define UDP_FAMILY_V6 6u
#define UDP_ADDR_V4_LEN 7u
#define UDP_ADDR_V6_LEN 19u
/* "[ffff:...:255.255.255.255]:65535" and its NUL fit. */
#define UDP_ADDRSTR_MAX 64u

#define UDP_RECV_BATCH 32u           /* datagrams per recvmmsg call */
#define UDP_RECV_BUDGET_DEFAULT 256u /* datagrams per udp_receive call */
#define UDP_SOCKBUF_DEFAULT ((size_t)4 << 20)

typedef struct udp_sock udp_sock;

typedef struct udp_options {
	const char *bind;        /* host:port or [v6]:port; port 0 = ephemeral */
	size_t max_datagram;     /* largest datagram accepted, 1..65507 */
	size_t sockbuf;          /* SO_RCVBUF/SO_SNDBUF wanted (0: leave the OS default) */
} udp_options;

typedef struct udp_stats {
	uint64_t rx_dgrams, rx_bytes;  /* delivered to the callback */
	uint64_t rx_truncated;         /* longer than max_datagram: dropped */
	uint64_t rx_badaddr;           /* source not IPv4/IPv6: dropped */
	uint64_t rx_errors;            /* recvmmsg failures other than EAGAIN/EINTR */
	uint64_t rx_calls;             /* recvmmsg calls that returned datagrams */
	uint64_t tx_dgrams, tx_bytes;  /* accepted by the kernel */
	uint64_t tx_dropped;           /* EAGAIN/ENOBUFS: socket buffer full */
	uint64_t tx_errors;            /* every other send failure */
	int rcvbuf, sndbuf;            /* sizes the kernel granted, bytes */
} udp_stats;

/*
 * Resolves host:port (syntax: net/hostport.h; getaddrinfo with AI_NUMERICSERV: names such as
 * "localhost" are looked up, ports must be numeric) to an engine address.
 * prefer is UDP_FAMILY_V4, UDP_FAMILY_V6 or 0: the first result of that
 * family is chosen, else the first result.  err (may be NULL) receives a
 * one-line message on failure.
 * Returns 0, CARTD_EINVAL (malformed), CARTD_ENOTFOUND (no such host or
 * no address).
 */
int udp_resolve(const char *hostport, unsigned prefer, engine_addr *out,
                char *err, size_t errlen);

/* Socket address (AF_INET or AF_INET6) to engine address.
 * 0 or CARTD_EINVAL (other family, or len too short for it). */
int udp_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, engine_addr *out);

/* Engine address to a socket address of the same family.
 * 0 or CARTD_EINVAL (not a valid engine address, see udp_addr_check). */
int udp_addr_to_sockaddr(const engine_addr *a, struct sockaddr_storage *ss, socklen_t *len);

/* 0 if a is a well-formed UDP engine address (family byte and matching
 * length), else CARTD_EINVAL. */
int udp_addr_check(const engine_addr *a);

/* UDP_FAMILY_V4, UDP_FAMILY_V6, or 0 for a malformed address. */
unsigned udp_addr_family(const engine_addr *a);

/* Port of a well-formed address (0 for a malformed one). */
uint16_t udp_addr_port(const engine_addr *a);

/*
 * Formats a as "1.2.3.4:port" or "[::1]:port" into buf (truncated to len,
 * always NUL-terminated when len > 0); "-" for an empty address and
 * "invalid" for a malformed one.  Returns buf.
 */
char *udp_addr_format(const engine_addr *a, char *buf, size_t len);

/*
 * Opens a non-blocking, close-on-exec UDP socket bound to o->bind, raising
 * its buffers to o->sockbuf where the system allows (SO_RCVBUFFORCE, then
 * SO_RCVBUF up to the sysctl limit).  A name that resolves to several
 * addresses binds the first IPv4 one that works, else the first other.
 * err (may be NULL) receives a one-line message on failure.
 * Returns 0, CARTD_EINVAL (bad options or address), CARTD_ENOTFOUND,
 * CARTD_ENOMEM, or a negative errno (socket, bind: e.g. -EADDRINUSE).
 * On failure *out = NULL.
 */
int udp_open(const udp_options *o, udp_sock **out, char *err, size_t errlen);

/* Closes the socket and frees everything.  NULL-safe. */
void udp_close(udp_sock *u);

/* The socket's fd, for the event loop (owned by u: do not close). */
int udp_fd(const udp_sock *u);

/* The bound address (the real port when 0 was asked), in engine form. */
const engine_addr *udp_local_addr(const udp_sock *u);

/* Called once per received datagram; data is valid only during the call
 * and may be modified by it. */
typedef void (*udp_recv_fn)(void *arg, const engine_addr *from, uint8_t *data, size_t len);

/*
 * Reads datagrams until the socket is empty or budget of them (0: the
 * default) were taken, calling fn for each that fits max_datagram and comes
 * from an IPv4/IPv6 address.  fn may call udp_send on the same socket.
 * Returns the number of datagrams taken off the socket, dropped ones
 * included; if it equals budget more may be waiting.
 */
size_t udp_receive(udp_sock *u, size_t budget, udp_recv_fn fn, void *arg);

/*
 * Sends one datagram to a, without blocking.
 * Returns 0, CARTD_EINVAL (malformed address, or IPv6 from an IPv4
 * socket; counted as an error), -EAGAIN (socket buffer full: dropped and
 * counted), or another negative errno (counted).
 */
int udp_send(udp_sock *u, const engine_addr *a, const void *data, size_t len);

/* Counters since udp_open; owned by u. */
const udp_stats *udp_get_stats(const udp_sock *u);
/* Where the last datagram dropped as longer than max_datagram came from
 * (len 0: none yet, or an unusable source); for logs.  Owned by u. */
const engine_addr *udp_last_truncated_from(const udp_sock *u);

#endif
