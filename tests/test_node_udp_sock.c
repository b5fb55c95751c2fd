/*
 * test_node_udp_sock.c - the UDP adapter on real loopback sockets: bound
 * port reporting, delivery with the sender's address, the receive budget,
 * oversized datagrams dropped and counted, and send-side checks.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "crdt/error.h"
#include "net/udp.h"
#include "tests/test_node.h"

typedef struct rx_log {
	size_t n, bytes;
	engine_addr from;
	uint8_t first;
} rx_log;

static void on_rx(void *arg, const engine_addr *from, uint8_t *d, size_t len)
{
	rx_log *l = arg;
	l->from = *from;
	l->first = len ? d[0] : 0;
	l->n++;
	l->bytes += len;
}

static udp_sock *open_at(const char *bind, size_t max)
{
	udp_options o = { bind, max, UDP_SOCKBUF_DEFAULT };
	udp_sock *u = NULL;
	char err[256];
	int rc = udp_open(&o, &u, err, sizeof err);
	ck_assert_msg(rc == 0, "%s: %s", bind, err);
	ck_assert_uint_ne(udp_addr_port(udp_local_addr(u)), 0);
	return u;
}

/* Waits until u is readable (datagrams on loopback arrive at once, but
 * the test must not depend on it). */
static void wait_readable(udp_sock *u)
{
	struct pollfd p = { udp_fd(u), POLLIN, 0 };
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
}

START_TEST(exchange_and_budget)
{
	udp_sock *a = open_at("127.0.0.1:0", 1200), *b = open_at("localhost:0", 1200);
	uint8_t msg[1200] = { 0 };
	for (int i = 0; i < 100; i++) {
		msg[0] = (uint8_t)i;
		ck_assert_int_eq(udp_send(a, udp_local_addr(b), msg, 10 + (size_t)i), 0);
	}
	rx_log l = { 0 };
	wait_readable(b);
	ck_assert_uint_eq(udp_receive(b, 40, on_rx, &l), 40);
	ck_assert_uint_eq(l.n, 40);
	ck_assert(memcmp(&l.from, udp_local_addr(a), sizeof l.from) == 0);
	size_t more = udp_receive(b, 0, on_rx, &l);
	ck_assert_uint_eq(more, 60);
	ck_assert_uint_eq(l.first, 99);
	ck_assert_uint_eq(udp_get_stats(b)->rx_dgrams, 100);
	ck_assert_uint_eq(udp_get_stats(a)->tx_dgrams, 100);
	ck_assert_uint_eq(udp_receive(b, 0, on_rx, &l), 0);   /* empty: no block */
	udp_close(a);
	udp_close(b);
}
END_TEST

START_TEST(oversized_dropped)
{
	udp_sock *a = open_at("127.0.0.1:0", 4096), *b = open_at("127.0.0.1:0", 512);
	uint8_t big[600] = { 1 }, fits[512] = { 2 };
	ck_assert_int_eq(udp_send(a, udp_local_addr(b), big, sizeof big), 0);
	ck_assert_int_eq(udp_send(a, udp_local_addr(b), fits, sizeof fits), 0);
	rx_log l = { 0 };
	wait_readable(b);
	size_t taken = 0;
	for (int tries = 0; taken < 2 && tries < 100; tries++) {
		taken += udp_receive(b, 0, on_rx, &l);
		if (taken < 2)
			wait_readable(b);
	}
	ck_assert_uint_eq(taken, 2);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_uint_eq(l.bytes, 512);
	ck_assert_uint_eq(l.first, 2);
	ck_assert_uint_eq(udp_get_stats(b)->rx_truncated, 1);
	udp_close(a);
	udp_close(b);
}
END_TEST

START_TEST(send_checks)
{
	udp_sock *a = open_at("127.0.0.1:0", 1200);
	engine_addr v6 = { 19, { 6, 0, 9 } }, junk = { 3, { 4 } };
	v6.b[18] = 1;
	ck_assert_int_eq(udp_send(a, &v6, "x", 1), CARTD_EINVAL);
	ck_assert_int_eq(udp_send(a, &junk, "x", 1), CARTD_EINVAL);
	ck_assert_uint_eq(udp_get_stats(a)->tx_errors, 2);
	udp_close(a);
}
END_TEST

/* An IPv6 socket reaches IPv4 peers through mapped addresses and reports
 * them in IPv4 form.  Skipped where the host has no IPv6 loopback. */
START_TEST(dual_stack)
{
	udp_options o = { "[::]:0", 1200, 0 };
	udp_sock *six = NULL;
	if (udp_open(&o, &six, NULL, 0) != 0)
		return;
	udp_sock *four = open_at("127.0.0.1:0", 1200);
	engine_addr to = *udp_local_addr(four);
	ck_assert_int_eq(udp_send(six, &to, "hi", 2), 0);
	rx_log l = { 0 };
	wait_readable(four);
	ck_assert_uint_eq(udp_receive(four, 0, on_rx, &l), 1);
	ck_assert_uint_eq(udp_addr_family(&l.from), UDP_FAMILY_V4);
	ck_assert_int_eq(udp_send(four, &l.from, "ok", 2), 0);
	rx_log m = { 0 };
	wait_readable(six);
	ck_assert_uint_eq(udp_receive(six, 0, on_rx, &m), 1);
	ck_assert_uint_eq(udp_addr_family(&m.from), UDP_FAMILY_V4);   /* mapped -> v4 */
	ck_assert(memcmp(&m.from, &to, sizeof to) == 0);
	udp_close(six);
	udp_close(four);
}
END_TEST

START_TEST(open_errors)
{
	udp_sock *u = open_at("127.0.0.1:0", 1200), *v = (udp_sock *)1;
	char addr[UDP_ADDRSTR_MAX], err[256];
	udp_addr_format(udp_local_addr(u), addr, sizeof addr);
	udp_options o = { addr, 1200, 0 };
	ck_assert_int_eq(udp_open(&o, &v, err, sizeof err), -EADDRINUSE);
	ck_assert_ptr_null(v);
	ck_assert(strstr(err, addr));
	o.bind = "127.0.0.1";
	ck_assert_int_eq(udp_open(&o, &v, err, sizeof err), CARTD_EINVAL);
	o.bind = "127.0.0.1:0";
	o.max_datagram = 65508;
	ck_assert_int_eq(udp_open(&o, &v, err, sizeof err), CARTD_EINVAL);
	o.max_datagram = 0;
	ck_assert_int_eq(udp_open(&o, &v, err, sizeof err), CARTD_EINVAL);
	o.max_datagram = 1200;
	o.bind = "192.0.2.1:0";      /* TEST-NET: not a local address */
	ck_assert_int_eq(udp_open(&o, &v, err, sizeof err), -EADDRNOTAVAIL);
	udp_close(u);
	udp_close(NULL);
}
END_TEST

TCase *node_udp_sock_tcase(void)
{
	TCase *tc = tcase_create("udp_sock");
	tcase_add_test(tc, exchange_and_budget);
	tcase_add_test(tc, oversized_dropped);
	tcase_add_test(tc, send_checks);
	tcase_add_test(tc, dual_stack);
	tcase_add_test(tc, open_errors);
	return tc;
}
