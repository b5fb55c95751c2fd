/*
 * udp.c - the non-blocking UDP socket: bind, batched receive, send.
 *
 * Receive buffers for one recvmmsg batch are allocated once at open, each
 * exactly max_datagram bytes long: a longer datagram comes back with
 * MSG_TRUNC set and is dropped, so the engine never sees a cut datagram.
 */
#include "net/udp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crdt/error.h"
#include "net/hostport.h"
#include "net/wire.h"

struct udp_sock {
	int fd;
	int af;                          /* AF_INET or AF_INET6 */
	size_t max_datagram;
	engine_addr local;
	udp_stats st;
	engine_addr trunc_from;          /* source of the last datagram cut */
	uint8_t *bufs;                   /* UDP_RECV_BATCH * max_datagram */
	struct iovec iov[UDP_RECV_BATCH];
	struct sockaddr_storage from[UDP_RECV_BATCH];
	struct mmsghdr msgs[UDP_RECV_BATCH];
};

/* Asks for want bytes: SO_*BUFFORCE passes the sysctl cap when privileged;
 * otherwise the plain option is clamped to it by the kernel.  Returns what
 * the kernel reports (Linux doubles the value for bookkeeping). */
static int raise_buf(int fd, int force_opt, int opt, size_t want)
{
	int v = want > (size_t)(1 << 30) ? 1 << 30 : (int)want;
	if (want && setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof v) != 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
	int got = 0;
	socklen_t len = sizeof got;
	if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) != 0)
		got = 0;
	return got;
}

/* Creates and binds a socket for ai; 0 and u->fd set, or -errno. */
static int bind_one(udp_sock *u, const struct addrinfo *ai, size_t sockbuf)
{
	int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	u->fd = fd;
	u->af = ai->ai_family;
	u->st.rcvbuf = raise_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, sockbuf);
	u->st.sndbuf = raise_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, sockbuf);
	return 0;
}

/* Tries IPv4 results first, then IPv6 ones (udp.h); the first error is the
 * one reported, since later candidates are fallbacks. */
static int bind_any(udp_sock *u, const struct addrinfo *res, size_t sockbuf)
{
	static const int order[2] = { AF_INET, AF_INET6 };
	int first_err = CARTD_ENOTFOUND;
	for (int pass = 0; pass < 2; pass++) {
		for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			if (ai->ai_family != order[pass])
				continue;
			int rc = bind_one(u, ai, sockbuf);
			if (rc == 0)
				return 0;
			if (first_err == CARTD_ENOTFOUND)
				first_err = rc;
		}
	}
	return first_err;
}

/* Learns the bound address (the kernel's port when 0 was asked). */
static int read_local(udp_sock *u)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(u->fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
	return udp_addr_from_sockaddr((struct sockaddr *)&ss, len, &u->local);
}

static int alloc_bufs(udp_sock *u)
{
	u->bufs = malloc(UDP_RECV_BATCH * u->max_datagram);
	if (!u->bufs)
		return CARTD_ENOMEM;
	for (size_t i = 0; i < UDP_RECV_BATCH; i++) {
		u->iov[i].iov_base = u->bufs + i * u->max_datagram;
		u->iov[i].iov_len = u->max_datagram;
	}
	return 0;
}

static int open_socket(udp_sock *u, const udp_options *o, char *err, size_t errlen)
{
	char host[HOSTPORT_HOST_MAX], port[8];
	uint16_t p;
	if (hostport_split(o->bind, host, sizeof host, &p, NULL) != 0) {
		snprintf(err, errlen, "'%s' is not host:port or [ipv6]:port", o->bind);
		return CARTD_EINVAL;
	}
	snprintf(port, sizeof port, "%u", (unsigned)p);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
	                          .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(g));
		return g == EAI_MEMORY ? CARTD_ENOMEM : CARTD_ENOTFOUND;
	}
	int rc = bind_any(u, res, o->sockbuf);
	freeaddrinfo(res);
	if (rc == 0)
		rc = read_local(u);
	if (rc)
		snprintf(err, errlen, "cannot bind UDP %s: %s", o->bind, cartd_strerror(rc));
	return rc;
}

int udp_open(const udp_options *o, udp_sock **out, char *err, size_t errlen)
{
	char dummy[1];
	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (out)
		*out = NULL;
	if (!o || !o->bind || !out || o->max_datagram == 0 ||
	    o->max_datagram > WIRE_MAX_DATAGRAM_LIMIT) {
		snprintf(err, errlen, "invalid UDP socket options");
		return CARTD_EINVAL;
	}
	udp_sock *u = calloc(1, sizeof *u);
	if (!u)
		return CARTD_ENOMEM;
	u->fd = -1;
	u->max_datagram = o->max_datagram;
	int rc = alloc_bufs(u);
	if (rc == 0)
		rc = open_socket(u, o, err, errlen);
	if (rc) {
		udp_close(u);
		return rc;
	}
	*out = u;
	return 0;
}

void udp_close(udp_sock *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	free(u->bufs);
	free(u);
}

int udp_fd(const udp_sock *u)
{
	return u->fd;
}

const engine_addr *udp_local_addr(const udp_sock *u)
{
	return &u->local;
}

const udp_stats *udp_get_stats(const udp_sock *u)
{
	return &u->st;
}

const engine_addr *udp_last_truncated_from(const udp_sock *u)
{
	return &u->trunc_from;
}

/* One recvmmsg of up to want datagrams; returns how many came, 0 when the
 * socket is empty or failed. */
static size_t recv_batch(udp_sock *u, size_t want)
{
	for (size_t i = 0; i < want; i++) {
		struct msghdr *h = &u->msgs[i].msg_hdr;
		memset(h, 0, sizeof *h);
		h->msg_name = &u->from[i];
		h->msg_namelen = sizeof u->from[i];
		h->msg_iov = &u->iov[i];
		h->msg_iovlen = 1;
	}
	int n;
	do
		n = recvmmsg(u->fd, u->msgs, (unsigned)want, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		/* ECONNREFUSED and the like are ICMP echoes of earlier sends; they
		 * are counted and the next call reads on. */
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			u->st.rx_errors++;
		return 0;
	}
	if (n > 0)
		u->st.rx_calls++;
	return (size_t)n;
}

/* Hands datagram i of the batch to fn, or drops and counts it. */
static void deliver(udp_sock *u, size_t i, udp_recv_fn fn, void *arg)
{
	const struct msghdr *h = &u->msgs[i].msg_hdr;
	size_t len = u->msgs[i].msg_len;
	engine_addr from;
	if (h->msg_flags & MSG_TRUNC) {
		u->st.rx_truncated++;
		if (udp_addr_from_sockaddr(h->msg_name, h->msg_namelen, &u->trunc_from) != 0)
			u->trunc_from.len = 0;
		return;
	}
	if (udp_addr_from_sockaddr(h->msg_name, h->msg_namelen, &from) != 0) {
		u->st.rx_badaddr++;
		return;
	}
	u->st.rx_dgrams++;
	u->st.rx_bytes += len;
	if (fn)
		fn(arg, &from, u->iov[i].iov_base, len);
}

size_t udp_receive(udp_sock *u, size_t budget, udp_recv_fn fn, void *arg)
{
	if (budget == 0)
		budget = UDP_RECV_BUDGET_DEFAULT;
	size_t taken = 0;
	while (taken < budget) {
		size_t want = budget - taken < UDP_RECV_BATCH ? budget - taken : UDP_RECV_BATCH;
		size_t n = recv_batch(u, want);
		for (size_t i = 0; i < n; i++)
			deliver(u, i, fn, arg);
		taken += n;
		if (n < want)        /* a short batch: the socket is empty */
			break;
	}
	return taken;
}

/* IPv4 destinations from an IPv6 socket go through ::ffff:a.b.c.d. */
static void map_v4(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in in;
	memcpy(&in, ss, sizeof in);
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
	memset(in6, 0, sizeof *in6);
	in6->sin6_family = AF_INET6;
	in6->sin6_port = in.sin_port;
	in6->sin6_addr.s6_addr[10] = 0xff;
	in6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(in6->sin6_addr.s6_addr + 12, &in.sin_addr, 4);
	*len = sizeof *in6;
}

int udp_send(udp_sock *u, const engine_addr *a, const void *data, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (udp_addr_to_sockaddr(a, &ss, &sl) != 0 ||
	    (u->af == AF_INET && ss.ss_family != AF_INET)) {
		u->st.tx_errors++;
		return CARTD_EINVAL;
	}
	if (u->af == AF_INET6 && ss.ss_family == AF_INET)
		map_v4(&ss, &sl);
	ssize_t n;
	do
		n = sendto(u->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;
		if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
			u->st.tx_dropped++;
			return -EAGAIN;
		}
		u->st.tx_errors++;
		return -e;
	}
	u->st.tx_dgrams++;
	u->st.tx_bytes += (size_t)n;
	return 0;
}
