/*
 * check_hostport.c - the one host:port grammar (net/hostport.h): every
 * accepted form with what it yields, every refused form, the numeric-only
 * variant, formatting and sockaddr conversion.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "crdt/error.h"
#include "net/hostport.h"

START_TEST(split_accepts)
{
	static const struct {
		const char *in, *host;
		unsigned port;
		enum hostport_kind kind;
	} ok[] = {
		{ "127.0.0.1:7946", "127.0.0.1", 7946, HOSTPORT_V4 },
		{ "0.0.0.0:0", "0.0.0.0", 0, HOSTPORT_V4 },
		{ ":8080", "127.0.0.1", 8080, HOSTPORT_V4 },
		{ "[::1]:0", "::1", 0, HOSTPORT_V6 },
		{ "[::]:65535", "::", 65535, HOSTPORT_V6 },
		{ "[::ffff:1.2.3.4]:1", "::ffff:1.2.3.4", 1, HOSTPORT_V6 },
		{ "localhost:65535", "localhost", 65535, HOSTPORT_NAME },
		{ "h:00080", "h", 80, HOSTPORT_NAME },
		{ "a.b-c.example:1", "a.b-c.example", 1, HOSTPORT_NAME },
		{ "1a:1", "1a", 1, HOSTPORT_NAME },
		{ "x.1:1", "x.1", 1, HOSTPORT_NAME },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char host[HOSTPORT_HOST_MAX];
		uint16_t port = 1234;
		enum hostport_kind kind = 0;
		ck_assert_msg(hostport_split(ok[i].in, host, sizeof host, &port, &kind) == 0,
		              "'%s' refused", ok[i].in);
		ck_assert_str_eq(host, ok[i].host);
		ck_assert_uint_eq(port, ok[i].port);
		ck_assert_int_eq(kind, ok[i].kind);
	}
	/* The longest name: 253 bytes in labels of 63. */
	char name[300];
	memset(name, 'a', 253);
	for (int i = 63; i < 253; i += 64)
		name[i] = '.';
	strcpy(name + 253, ":1");
	char host[HOSTPORT_HOST_MAX];
	uint16_t port;
	ck_assert_int_eq(hostport_split(name, host, sizeof host, &port, NULL), 0);
}
END_TEST

START_TEST(split_refuses)
{
	static const char *const bad[] = {
		"", "host", "host:", ":", "host:65536", "host:-1", "host:+1", "host: 1", "host:1 ",
		" host:1", "host:0x1", "host:123456", "::1:80", "[::1]80", "[::1]", "[::1",
		"[]:80", "[a]b]:1", "a[b:1", "[1.2.3.4]:80", "[fe80::1%eth0]:9", "[host]:1",
		"1.2.3:80", "1.2.3.4.5:80", "256.1.1.1:1", "a_b:1", "a b:1", "-a:1", "a-:1",
		"a..b:1", ".a:1", "a.:1", "a/b:1", "a\tb:1", "h\xc3\xa9:1", "1:2:3",
	};
	char host[HOSTPORT_HOST_MAX];
	uint16_t port;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(hostport_split(bad[i], host, sizeof host, &port, NULL) == CARTD_EINVAL,
		              "'%s' accepted", bad[i]);
		ck_assert_str_eq(host, "");
	}
	char label[80];
	memset(label, 'a', 64);
	strcpy(label + 64, ":1");       /* a 64-byte label */
	ck_assert_int_eq(hostport_split(label, host, sizeof host, &port, NULL), CARTD_EINVAL);
	char small[4];
	ck_assert_int_eq(hostport_split("abcd:1", small, sizeof small, &port, NULL), CARTD_EINVAL);
	ck_assert_int_eq(hostport_split("abc:1", small, sizeof small, &port, NULL), 0);
	ck_assert_int_eq(hostport_split(NULL, host, sizeof host, &port, NULL), CARTD_EINVAL);
}
END_TEST

START_TEST(parse_ip)
{
	hostport_ip a, b;
	char buf[HOSTPORT_IP_STRLEN];
	ck_assert_int_eq(hostport_parse_ip("127.0.0.1:8080", &a), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_uint_eq(a.port, 8080);
	hostport_ip_format(&a, buf, sizeof buf);
	ck_assert_str_eq(buf, "127.0.0.1:8080");
	ck_assert_int_eq(hostport_parse_ip("localhost:8080", &b), 0);
	ck_assert(hostport_ip_equal(&a, &b));
	ck_assert_int_eq(hostport_parse_ip(":8080", &b), 0);
	ck_assert(hostport_ip_equal(&a, &b));
	ck_assert_int_eq(hostport_parse_ip("[::1]:65535", &a), 0);
	ck_assert_int_eq(a.family, AF_INET6);
	hostport_ip_format(&a, buf, sizeof buf);
	ck_assert_str_eq(buf, "[::1]:65535");
	struct sockaddr_storage ss;
	ck_assert_uint_eq(hostport_ip_to_sockaddr(&a, &ss), sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 65535);
	/* Names other than localhost need DNS: refused here. */
	static const char *const bad[] = { "host.example:80", "somehost:18080", "localhost:",
	                                   "127.0.0.1", "[::1]:" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(hostport_parse_ip(bad[i], &a) == CARTD_EINVAL, "'%s' accepted", bad[i]);
		ck_assert_int_eq(a.family, 0);
	}
}
END_TEST

Suite *hostport_suite(void);

Suite *hostport_suite(void)
{
	Suite *s = suite_create("hostport");
	TCase *t = tcase_create("hostport");
	tcase_add_test(t, split_accepts);
	tcase_add_test(t, split_refuses);
	tcase_add_test(t, parse_ip);
	suite_add_tcase(s, t);
	return s;
}
