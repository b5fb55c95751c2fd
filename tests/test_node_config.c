/*
 * test_node_config.c - cartd's command line (app/config.c), accepted
 * forms: defaults, every flag in both "--flag V" and "--flag=V" forms, the
 * early exits, and the help text covering every option.  The refusals are
 * in test_node_config_bad.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "crdt/error.h"
#include "tests/test_node.h"
#include "tests/test_node_config.h"

int tnc_parse(cartd_config *cfg, enum config_action *act, char *err, size_t errlen,
              const char *const *args)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)"cartd";
	for (; *args; args++) {
		ck_assert_int_lt(argc, 63);
		argv[argc++] = (char *)*args;
	}
	argv[argc] = NULL;
	return config_parse(cfg, argc, argv, act, err, errlen);
}

#define REQ "--data-dir", "/tmp/d", "--key-file", "/tmp/k"

START_TEST(defaults)
{
	cartd_config c;
	enum config_action act;
	char err[CONFIG_ERR_MAX];
	const char *args[] = { REQ, NULL };
	ck_assert_int_eq(tnc_parse(&c, &act, err, sizeof err, args), 0);
	ck_assert_int_eq(act, CONFIG_RUN);
	ck_assert_str_eq(c.node.data_dir, "/tmp/d");
	ck_assert_str_eq(c.node.key_file, "/tmp/k");
	ck_assert_str_eq(c.node.gossip_addr, "127.0.0.1:7946");
	ck_assert_str_eq(c.http_listen, "127.0.0.1:8080");
	ck_assert_str_eq(c.node.cluster, "cartd");
	ck_assert_ptr_null(c.node.name);
	ck_assert_uint_eq(c.node.npeers, 0);
	ck_assert(c.node.sync && !c.node.fault_injection);
	ck_assert_uint_eq(c.node.max_datagram, 1200);
	ck_assert_uint_eq(c.node.nbuckets, 1024);
	ck_assert_uint_eq(c.node.engine.flush_delay_ms, 5);
	ck_assert_uint_eq(c.node.engine.ping_interval_ms, 1000);
	ck_assert_uint_eq(c.http_max_body, 64 << 10);
	ck_assert_uint_eq(c.node.idem_window_s, 86400);
	ck_assert_int_eq(c.log_level, LOG_INFO);
	config_destroy(&c);
}
END_TEST

START_TEST(every_flag)
{
	cartd_config c;
	enum config_action act;
	char err[CONFIG_ERR_MAX];
	const char *args[] = {
		REQ, "--name", "alpha", "--http=[::1]:0", "--gossip", "localhost:7000",
		"--peer", "10.0.0.1:7946", "--peer=[fe80::1]:1", "--peer", "localhost:65535",
		"--cluster", "shop", "--log-level", "debug", "--sync", "off",
		"--enable-fault-injection", "--fault-seed", "18446744073709551615",
		"--max-datagram", "65507", "--deflate-level=0", "--buckets", "65536",
		"--max-pending", "1", "--log-size", "4096", "--max-body", "1024", "--socket-buffer", "0",
		"--flush-delay-ms", "0", "--full-push-max", "3", "--fanout", "2",
		"--ae-interval-ms", "10", "--ae-rate", "1024", "--ping-interval-ms", "200",
		"--ping-timeout-ms", "199", "--indirect-probes", "0", "--suspect-ms", "1",
		"--dead-retry-ms", "10", "--max-members", "1000000",
		"--idempotency-window", "31536000", NULL };
	ck_assert_msg(tnc_parse(&c, &act, err, sizeof err, args) == 0, "%s", err);
	ck_assert_str_eq(c.node.name, "alpha");
	ck_assert_str_eq(c.http_listen, "[::1]:0");
	ck_assert_str_eq(c.node.gossip_addr, "localhost:7000");
	ck_assert_uint_eq(c.node.npeers, 3);
	ck_assert_str_eq(c.node.peers[1], "[fe80::1]:1");
	ck_assert_str_eq(c.node.peers[2], "localhost:65535");
	ck_assert_str_eq(c.node.cluster, "shop");
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
	ck_assert(!c.node.sync && c.node.fault_injection);
	ck_assert(c.node.fault_seed == UINT64_MAX);
	ck_assert_uint_eq(c.node.max_datagram, 65507);
	ck_assert_int_eq(c.node.deflate_level, 0);
	ck_assert_uint_eq(c.node.nbuckets, 65536);
	ck_assert_uint_eq(c.node.max_pending, 1);
	ck_assert_uint_eq(c.node.wal_size, 4096);
	ck_assert_uint_eq(c.http_max_body, 1024);
	ck_assert_uint_eq(c.node.udp_sockbuf, 0);
	ck_assert_uint_eq(c.node.idem_window_s, 31536000);
	const engine_config *e = &c.node.engine;
	ck_assert(e->flush_delay_ms == 0 && e->full_push_max == 3 && e->fanout == 2);
	ck_assert(e->ae_interval_ms == 10 && e->ae_bytes_per_sec == 1024);
	ck_assert(e->ping_interval_ms == 200 && e->ping_timeout_ms == 199);
	ck_assert(e->indirect_probes == 0 && e->suspect_ms == 1 && e->dead_retry_ms == 10);
	ck_assert_uint_eq(e->max_members, 1000000);
	config_destroy(&c);
	ck_assert_uint_eq(c.node.npeers, 0);     /* left defaulted */
}
END_TEST

START_TEST(last_wins_and_leading_zeros)
{
	cartd_config c;
	enum config_action act;
	char err[CONFIG_ERR_MAX];
	const char *args[] = { REQ, "--buckets", "7", "--buckets=0008", "--sync=on",
	                       "--data-dir=/other", NULL };
	ck_assert_int_eq(tnc_parse(&c, &act, err, sizeof err, args), 0);
	ck_assert_uint_eq(c.node.nbuckets, 8);
	ck_assert_str_eq(c.node.data_dir, "/other");
	config_destroy(&c);
}
END_TEST

START_TEST(early_exits)
{
	struct { const char *a, *b; enum config_action want; } cases[] = {
		{ "--help", NULL, CONFIG_HELP }, { "-h", NULL, CONFIG_HELP },
		{ "--version", NULL, CONFIG_VERSION }, { "-V", NULL, CONFIG_VERSION },
		/* wins over a later bad argument and over missing required flags */
		{ "--help", "--bogus", CONFIG_HELP },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cartd_config c;
		enum config_action act;
		char err[CONFIG_ERR_MAX];
		const char *args[] = { cases[i].a, cases[i].b, NULL };
		ck_assert_int_eq(tnc_parse(&c, &act, err, sizeof err, args), 0);
		ck_assert_int_eq(act, cases[i].want);
		config_destroy(&c);
	}
}
END_TEST

START_TEST(help_documents_every_option)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	config_usage(f);
	fclose(f);
	ck_assert_uint_gt(config_option_count(), 20);
	for (size_t i = 0; i < config_option_count(); i++) {
		char flag[64];
		snprintf(flag, sizeof flag, "--%s", config_option_name(i));
		ck_assert_msg(strstr(text, flag), "%s not in --help", flag);
	}
	ck_assert_ptr_null(config_option_name(config_option_count()));
	const char *sections[] = { "SYNOPSIS", "DESCRIPTION", "SIGNALS", "EXIT STATUS",
	                           "EXAMPLES", "SIGHUP", "SIGTERM" };
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
		ck_assert_msg(strstr(text, sections[i]), "%s missing", sections[i]);
	free(text);
}
END_TEST

TCase *node_config_tcase(void)
{
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_flag);
	tcase_add_test(tc, last_wins_and_leading_zeros);
	tcase_add_test(tc, early_exits);
	tcase_add_test(tc, help_documents_every_option);
	return tc;
}
