/*
 * log.h - one line per event, key=value, to stderr:
 *
 *   ts=2026-11-26T16:20:01.123Z level=info event=peer_alive peer=127.0.0.1:7947 id=9f3a...
 *
 * Callers pass the event name and already-formatted key=value pairs; values
 * that may hold spaces or quotes go through log_quote().  The level filter
 * is process-wide state set once at start-up from --log-level.
 */
#ifndef APP_LOG_H
#define APP_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Parses "debug", "info", "warn" or "error".  0 or CARTD_ECONFIG. */
int log_parse_level(const char *s, enum log_level *out);
void log_set_level(enum log_level lvl);
int log_enabled(enum log_level lvl);

/* Writes "ts=... level=... event=<event> " then the formatted pairs. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void log_event(enum log_level lvl, const char *event, const char *fmt, ...);

/* Copies s into buf as a double-quoted value with \" and \\ escaped and
 * control characters as \xNN; truncates to fit.  Returns buf. */
char *log_quote(const char *s, char *buf, size_t len);

#endif
