/*
 * log.c - key=value event lines on stderr (see log.h).
 *
 * Each line is formatted into one buffer and written with a single write(2),
 * so lines from the loop thread and any other thread never interleave
 * mid-line (POSIX keeps a write of this size to a pipe atomic).
 */
#include "app/shared/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crdt/error.h"

#define LOG_LINE_MAX 2048   /* longer lines are cut, ending in "..." */

static atomic_int min_level = LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int log_parse_level(const char *s, enum log_level *out)
{
	if (!s || !out)
		return CARTD_ECONFIG;
	for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return CARTD_ECONFIG;
}

void log_set_level(enum log_level lvl)
{
	atomic_store(&min_level, (int)lvl);
}

int log_enabled(enum log_level lvl)
{
	return (int)lvl >= atomic_load(&min_level);
}

/* "2026-11-26T16:20:01.123Z" into buf (at least 25 bytes). */
static void format_ts(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
	if (!log_enabled(lvl) || lvl < LOG_DEBUG || lvl > LOG_ERROR)
		return;
	char line[LOG_LINE_MAX];
	char ts[32];
	format_ts(ts, sizeof ts);
	int n = snprintf(line, sizeof line, "ts=%s level=%s event=%s", ts,
	                 level_names[lvl], event ? event : "-");
	size_t len = n < 0 ? 0 : (size_t)n;
	if (fmt && fmt[0] && len + 1 < sizeof line) {
		line[len++] = ' ';
		va_list ap;
		va_start(ap, fmt);
		n = vsnprintf(line + len, sizeof line - len, fmt, ap);
		va_end(ap);
		len += n < 0 ? 0 : (size_t)n;
	}
	if (len > sizeof line - 2) {           /* cut: mark it, keep the newline */
		len = sizeof line - 2;
		memcpy(line + len - 3, "...", 3);
	}
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;   /* nowhere left to report a failed log write */
}

/* Bytes the escaped form of c takes. */
static size_t quoted_len(unsigned char c)
{
	if (c == '"' || c == '\\')
		return 2;
	return (c < 0x20 || c == 0x7f) ? 4 : 1;
}

char *log_quote(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	if (!buf || len == 0)
		return buf;
	if (len < 3) {          /* no room for the two quotes */
		buf[0] = '\0';
		return buf;
	}
	size_t o = 0;
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		size_t need = quoted_len(*p);
		if (o + need + 2 > len)        /* closing quote and NUL must fit */
			break;
		if (need == 1) {
			buf[o++] = (char)*p;
		} else if (need == 2) {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
