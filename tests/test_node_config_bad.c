/*
 * test_node_config_bad.c - every way cartd's command line can be wrong:
 * each refusal returns CARTD_ECONFIG with a message naming the flag, and
 * each numeric flag refuses both ends of its range and every malformed
 * number.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "app/config.h"
#include "crdt/error.h"
#include "tests/test_node.h"
#include "tests/test_node_config.h"

#define REQ "--data-dir", "/tmp/d", "--key-file", "/tmp/k"

/* Parses args after the required flags; asserts refusal mentioning want. */
static void refused(const char *a, const char *b, const char *want)
{
	cartd_config c;
	enum config_action act;
	char err[CONFIG_ERR_MAX];
	const char *args[] = { REQ, a, b, NULL };
	int rc = tnc_parse(&c, &act, err, sizeof err, args);
	ck_assert_msg(rc == CARTD_ECONFIG, "'%s %s' accepted", a, b ? b : "");
	ck_assert_msg(strstr(err, want), "'%s %s': error '%s' lacks '%s'", a, b ? b : "",
	              err, want);
	config_destroy(&c);
}

START_TEST(malformed_arguments)
{
	refused("--bogus", NULL, "unknown option '--bogus'");
	refused("--bogus=1", NULL, "unknown option '--bogus'");
	refused("-x", NULL, "unexpected argument '-x'");
	refused("stray", NULL, "unexpected argument 'stray'");
	refused("--", NULL, "unexpected argument '--'");
	refused("--name", NULL, "--name needs a value");
	refused("--name", "--cluster", "--name needs a value (got option '--cluster')");
	refused("--name", "", "--name: the value must not be empty");
	refused("--name=", NULL, "--name: the value must not be empty");
	refused("--cluster=", NULL, "--cluster");
	refused("--enable-fault-injection=yes", NULL, "--enable-fault-injection takes no value");
	refused("--help=1", NULL, "--help takes no value");
	refused("--sync", "yes", "--sync: 'yes' is neither 'on' nor 'off'");
	refused("--sync", "ON", "--sync");
	refused("--log-level", "verbose", "--log-level: 'verbose' is not one of");
}
END_TEST

START_TEST(bad_addresses)
{
	const char *flags[] = { "--http", "--gossip", "--peer" };
	const char *bad[] = { "localhost", "127.0.0.1:", ":", "host:65536", "host:-1",
	                      "host:+1", "host:1x", "::1:80", "[::1]80", "[::1", "[]:1",
	                      "host:123456", "", "a b:1", "-a:1", "a..b:1", "1.2.3:1",
	                      "[1.2.3.4]:1", "[fe80::1%lo]:1", "a_b:1" };
	for (size_t f = 0; f < 3; f++)
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
			refused(flags[f], bad[i], flags[f]);
	refused("--peer", "x", "--peer: 'x' is not HOST:PORT, [IPV6]:PORT or :PORT");
	/* The HTTP address takes no names: it is refused here, not after the
	 * data dir was opened. */
	refused("--http", "somehost:18080", "--http: 'somehost:18080' is not IPV4:PORT");
	refused("--peer", "127.0.0.1:0", "a peer's port cannot be 0");
	refused("--peer", ":0", "a peer's port cannot be 0");
}
END_TEST

/* The forms each address flag takes (names only where they resolve without
 * a network: localhost). */
START_TEST(good_addresses)
{
	static const struct { const char *flag, *value; } ok[] = {
		{ "--http", ":8080" }, { "--http", "localhost:0" }, { "--http", "[::1]:8080" },
		{ "--http", "0.0.0.0:80" }, { "--gossip", ":7946" }, { "--gossip", "localhost:0" },
		{ "--gossip", "[::]:7946" }, { "--peer", ":7946" }, { "--peer", "localhost:7946" },
		{ "--peer", "[::1]:1" }, { "--peer", "10.1.2.3:65535" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		cartd_config c;
		enum config_action act;
		char err[CONFIG_ERR_MAX];
		const char *args[] = { REQ, ok[i].flag, ok[i].value, NULL };
		ck_assert_msg(tnc_parse(&c, &act, err, sizeof err, args) == 0, "%s %s: %s",
		              ok[i].flag, ok[i].value, err);
		config_destroy(&c);
	}
}
END_TEST

START_TEST(required_and_combined)
{
	cartd_config c;
	enum config_action act;
	char err[CONFIG_ERR_MAX];
	const char *no_dir[] = { "--key-file", "k", NULL };
	ck_assert_int_eq(tnc_parse(&c, &act, err, sizeof err, no_dir), CARTD_ECONFIG);
	ck_assert_str_eq(err, "--data-dir is required");
	config_destroy(&c);
	const char *no_key[] = { "--data-dir", "d", NULL };
	ck_assert_int_eq(tnc_parse(&c, &act, err, sizeof err, no_key), CARTD_ECONFIG);
	ck_assert(strstr(err, "--key-file is required"));
	config_destroy(&c);
	refused("--ping-timeout-ms", "1000", "--ping-timeout-ms (1000) must be less than "
	        "--ping-interval-ms (1000)");
	const char *both[] = { REQ, "--ping-interval-ms", "100", "--ping-timeout-ms", "150", NULL };
	ck_assert_int_eq(tnc_parse(&c, &act, err, sizeof err, both), CARTD_ECONFIG);
	ck_assert(strstr(err, "must be less than"));
	config_destroy(&c);
}
END_TEST

static const struct { const char *flag; unsigned long long min, max; } numeric[] = {
	{ "--max-datagram", 512, 65507 }, { "--deflate-level", 0, 9 },
	{ "--buckets", 1, 65536 }, { "--max-pending", 1, 1000000 },
	{ "--log-size", 4096, 1u << 30 },
	{ "--max-body", 1024, 16u << 20 }, { "--socket-buffer", 0, 1u << 30 },
	{ "--flush-delay-ms", 0, 10000 }, { "--full-push-max", 1, 100000 },
	{ "--fanout", 1, 1000 }, { "--ae-interval-ms", 10, 3600000 },
	{ "--ae-rate", 1024, 1u << 30 }, { "--ping-interval-ms", 10, 600000 },
	{ "--ping-timeout-ms", 1, 599999 }, { "--indirect-probes", 0, 64 },
	{ "--suspect-ms", 1, 3600000 }, { "--dead-retry-ms", 10, 3600000 },
	{ "--max-members", 1, 1000000 }, { "--fault-seed", 0, 18446744073709551615ull },
	{ "--idempotency-window", 1, 31536000 },
};

START_TEST(numeric_ranges)
{
	size_t i = (size_t)_i;
	const char *flag = numeric[i].flag;
	char v[32], want[96];
	if (numeric[i].min > 0) {
		snprintf(v, sizeof v, "%llu", numeric[i].min - 1);
		snprintf(want, sizeof want, "%s: %s is out of range %llu..%llu", flag, v,
		         numeric[i].min, numeric[i].max);
		refused(flag, v, want);
	}
	if (numeric[i].max < 18446744073709551615ull) {
		snprintf(v, sizeof v, "%llu", numeric[i].max + 1);
		refused(flag, v, "is out of range");
	}
	refused(flag, "18446744073709551616", "is out of range");   /* 2^64 */
	refused(flag, "99999999999999999999999", "is out of range");
	const char *junk[] = { "-1", "+1", " 1", "1 ", "0x10", "1e3", "1.5", "ten", "" };
	for (size_t j = 0; j < sizeof junk / sizeof junk[0]; j++) {
		snprintf(want, sizeof want, "%s: '%s' is not an unsigned decimal number",
		         flag, junk[j]);
		refused(flag, junk[j], want);
	}
}
END_TEST

/* A numeric flag with its range ends accepted, so the table above is
 * the real range, not a stricter one. */
START_TEST(numeric_ends_accepted)
{
	size_t i = (size_t)_i;
	unsigned long long ends[2] = { numeric[i].min, numeric[i].max };
	for (int k = 0; k < 2; k++) {
		cartd_config c;
		enum config_action act;
		char err[CONFIG_ERR_MAX], v[32];
		snprintf(v, sizeof v, "%llu", ends[k]);
		/* keep ping timeout < interval whichever end is tested */
		const char *pi = strcmp(numeric[i].flag, "--ping-timeout-ms") == 0 ? "600000" : "1000";
		const char *pt = strcmp(numeric[i].flag, "--ping-interval-ms") == 0 ? "1" : "300";
		const char *args[] = { REQ, "--ping-interval-ms", pi, "--ping-timeout-ms", pt,
		                       numeric[i].flag, v, NULL };
		ck_assert_msg(tnc_parse(&c, &act, err, sizeof err, args) == 0, "%s %s: %s",
		              numeric[i].flag, v, err);
		config_destroy(&c);
	}
}
END_TEST

TCase *node_config_bad_tcase(void)
{
	TCase *tc = tcase_create("config_bad");
	int n = (int)(sizeof numeric / sizeof numeric[0]);
	tcase_add_test(tc, malformed_arguments);
	tcase_add_test(tc, bad_addresses);
	tcase_add_test(tc, good_addresses);
	tcase_add_test(tc, required_and_combined);
	tcase_add_loop_test(tc, numeric_ranges, 0, n);
	tcase_add_loop_test(tc, numeric_ends_accepted, 0, n);
	return tc;
}
