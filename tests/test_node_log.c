/*
 * test_node_log.c - log lines (app/shared/log.c): level names and filtering, the
 * exact shape of a line (captured by pointing stderr at a file for the
 * duration of one call), and log_quote's escaping and truncation.
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/shared/log.h"
#include "crdt/error.h"
#include "tests/test_node.h"

START_TEST(parse_levels)
{
	const char *names[] = { "debug", "info", "warn", "error" };
	for (int i = 0; i < 4; i++) {
		enum log_level l = LOG_ERROR;
		ck_assert_int_eq(log_parse_level(names[i], &l), 0);
		ck_assert_int_eq(l, (enum log_level)i);
	}
	const char *bad[] = { "", "INFO", "warning", "err", "info ", " debug", "5" };
	enum log_level l = LOG_WARN;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_int_eq(log_parse_level(bad[i], &l), CARTD_ECONFIG);
	ck_assert_int_eq(log_parse_level(NULL, &l), CARTD_ECONFIG);
	ck_assert_int_eq(l, LOG_WARN);     /* untouched on error */
}
END_TEST

START_TEST(filtering)
{
	log_set_level(LOG_WARN);
	ck_assert(!log_enabled(LOG_DEBUG) && !log_enabled(LOG_INFO));
	ck_assert(log_enabled(LOG_WARN) && log_enabled(LOG_ERROR));
	log_set_level(LOG_DEBUG);
	ck_assert(log_enabled(LOG_DEBUG));
	log_set_level(LOG_INFO);
}
END_TEST

/* Runs one log_event with stderr redirected; returns what it wrote. */
static char *capture(enum log_level lvl, const char *event, const char *pairs)
{
	char path[] = "/tmp/cartd-check-log-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_event(lvl, event, "%s", pairs);
	dup2(saved, STDERR_FILENO);
	close(saved);
	static char buf[4096];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

START_TEST(line_shape)
{
	log_set_level(LOG_INFO);
	const char *line = capture(LOG_WARN, "peer_dead", "peer=127.0.0.1:7947 id=00ff");
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
	                 "[0-9]{2}\\.[0-9]{3}Z level=warn event=peer_dead "
	                 "peer=127\\.0\\.0\\.1:7947 id=00ff\n$", REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, line, 0, NULL, 0) == 0, "line: %s", line);
	regfree(&re);
	ck_assert_str_eq(capture(LOG_DEBUG, "hidden", "x=1"), "");
	/* a very long line is cut but still ends in a newline */
	char *big = malloc(10000);
	memset(big, 'a', 9999);
	big[9999] = '\0';
	const char *cut = capture(LOG_ERROR, "big", big);
	size_t len = strlen(cut);
	ck_assert_uint_lt(len, 4096);
	ck_assert_str_eq(cut + len - 4, "...\n");
	free(big);
}
END_TEST

START_TEST(quoting)
{
	char buf[64];
	ck_assert_str_eq(log_quote("plain", buf, sizeof buf), "\"plain\"");
	ck_assert_str_eq(log_quote("a \"b\" \\c", buf, sizeof buf), "\"a \\\"b\\\" \\\\c\"");
	ck_assert_str_eq(log_quote("t\tn\n\x7f", buf, sizeof buf), "\"t\\x09n\\x0a\\x7f\"");
	ck_assert_str_eq(log_quote("", buf, sizeof buf), "\"\"");
	ck_assert_str_eq(log_quote(NULL, buf, sizeof buf), "\"\"");
	ck_assert_str_eq(log_quote("caf\xc3\xa9", buf, sizeof buf), "\"caf\xc3\xa9\"");
}
END_TEST

/* Truncation keeps the closing quote and never splits an escape. */
START_TEST(quoting_truncates)
{
	char buf[8];
	ck_assert_str_eq(log_quote("abcdefghij", buf, sizeof buf), "\"abcde\"");
	ck_assert_str_eq(log_quote("abcd\n", buf, sizeof buf), "\"abcd\"");
	ck_assert_str_eq(log_quote("ab\"cd", buf, sizeof buf), "\"ab\\\"c\"");
	ck_assert_str_eq(log_quote("x", buf, 3), "\"\"");
	ck_assert_str_eq(log_quote("x", buf, 2), "");
	ck_assert_str_eq(log_quote("x", buf, 1), "");
	buf[0] = 'z';
	ck_assert_ptr_eq(log_quote("x", buf, 0), buf);
	ck_assert_int_eq(buf[0], 'z');
}
END_TEST

TCase *node_log_tcase(void)
{
	TCase *tc = tcase_create("log");
	tcase_add_test(tc, parse_levels);
	tcase_add_test(tc, filtering);
	tcase_add_test(tc, line_shape);
	tcase_add_test(tc, quoting);
	tcase_add_test(tc, quoting_truncates);
	return tc;
}
