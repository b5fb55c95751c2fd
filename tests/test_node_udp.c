/*
 * test_node_udp.c - the UDP adapter (net/udp*.c): name resolution (the
 * host:port grammar is in check_hostport.c), the engine address layout and
 * its validation, formatting,
 * and real sockets on loopback: ephemeral ports, batched receive under a
 * budget, oversized datagrams dropped and counted, family checks on send.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/un.h>

#include "crdt/error.h"
#include "net/udp.h"
#include "tests/test_node.h"

START_TEST(resolve)
{
	engine_addr a;
	char err[256];
	ck_assert_int_eq(udp_resolve("127.0.0.1:7946", 0, &a, err, sizeof err), 0);
	const uint8_t v4[7] = { 4, 0x1f, 0x0a, 127, 0, 0, 1 };
	ck_assert(a.len == 7 && memcmp(a.b, v4, 7) == 0);
	ck_assert_int_eq(udp_resolve("[::1]:1", 0, &a, err, sizeof err), 0);
	ck_assert_uint_eq(a.len, 19);
	ck_assert(a.b[0] == 6 && a.b[1] == 0 && a.b[2] == 1 && a.b[18] == 1);
	/* mapped IPv4 is stored as IPv4 */
	ck_assert_int_eq(udp_resolve("[::ffff:10.1.2.3]:5", 0, &a, err, sizeof err), 0);
	ck_assert(a.len == 7 && a.b[3] == 10 && a.b[6] == 3);
	ck_assert_int_eq(udp_resolve("localhost:9", UDP_FAMILY_V4, &a, err, sizeof err), 0);
	ck_assert_uint_eq(udp_addr_port(&a), 9);
	ck_assert_int_eq(udp_resolve("no-such-host.invalid:1", 0, &a, err, sizeof err),
	                 CARTD_ENOTFOUND);
	ck_assert(strstr(err, "no-such-host.invalid"));
	ck_assert_int_eq(udp_resolve("nohost", 0, &a, err, sizeof err), CARTD_EINVAL);
	ck_assert(strstr(err, "nohost"));
}
END_TEST

START_TEST(sockaddr_round_trip)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(80) };
	inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
	engine_addr a;
	ck_assert_int_eq(udp_addr_from_sockaddr((struct sockaddr *)&in, sizeof in, &a), 0);
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(udp_addr_to_sockaddr(&a, &ss, &len), 0);
	ck_assert(len == sizeof in && memcmp(&ss, &in, sizeof in) == 0);
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	inet_pton(AF_INET6, "2001:db8::5", &in6.sin6_addr);
	ck_assert_int_eq(udp_addr_from_sockaddr((struct sockaddr *)&in6, sizeof in6, &a), 0);
	ck_assert_int_eq(udp_addr_family(&a), UDP_FAMILY_V6);
	ck_assert_int_eq(udp_addr_to_sockaddr(&a, &ss, &len), 0);
	ck_assert(len == sizeof in6 && memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr,
	                                      &in6.sin6_addr, 16) == 0);
	/* wrong family, short lengths */
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	ck_assert_int_eq(udp_addr_from_sockaddr((struct sockaddr *)&un, sizeof un, &a), CARTD_EINVAL);
	ck_assert_int_eq(udp_addr_from_sockaddr((struct sockaddr *)&in, sizeof in - 1, &a), CARTD_EINVAL);
	ck_assert_int_eq(udp_addr_from_sockaddr((struct sockaddr *)&in6, sizeof in - 1, &a), CARTD_EINVAL);
}
END_TEST

START_TEST(validate_and_format)
{
	char buf[UDP_ADDRSTR_MAX];
	engine_addr v4 = { 7, { 4, 0x1f, 0x0a, 127, 0, 0, 1 } };
	ck_assert_str_eq(udp_addr_format(&v4, buf, sizeof buf), "127.0.0.1:7946");
	engine_addr v6 = { 19, { 6, 0, 80 } };
	v6.b[18] = 1;
	ck_assert_str_eq(udp_addr_format(&v6, buf, sizeof buf), "[::1]:80");
	engine_addr bad[] = {
		{ 7, { 6 } }, { 19, { 4 } }, { 6, { 4 } }, { 8, { 4 } }, { 7, { 5 } },
		{ 20, { 4 } }, { 255, { 6 } },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(udp_addr_check(&bad[i]), CARTD_EINVAL);
		ck_assert_str_eq(udp_addr_format(&bad[i], buf, sizeof buf), "invalid");
		struct sockaddr_storage ss;
		socklen_t len;
		ck_assert_int_eq(udp_addr_to_sockaddr(&bad[i], &ss, &len), CARTD_EINVAL);
		ck_assert_uint_eq(udp_addr_port(&bad[i]), 0);
	}
	engine_addr none = { 0, { 0 } };
	ck_assert_str_eq(udp_addr_format(&none, buf, sizeof buf), "-");
	ck_assert_str_eq(udp_addr_format(&v4, buf, 6), "127.0");
	ck_assert_int_eq(udp_addr_check(&v4), 0);
	ck_assert_int_eq(udp_addr_check(NULL), CARTD_EINVAL);
}
END_TEST

TCase *node_udp_addr_tcase(void)
{
	TCase *tc = tcase_create("udp_addr");
	tcase_add_test(tc, resolve);
	tcase_add_test(tc, sockaddr_round_trip);
	tcase_add_test(tc, validate_and_format);
	return tc;
}
