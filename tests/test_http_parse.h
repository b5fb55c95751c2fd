/*
 * test_http_parse.h - the parts of the http_parse suite (check_http_parse.c)
 * in their own files, and the helpers they share.
 */
#ifndef TEST_HTTP_PARSE_H
#define TEST_HTTP_PARSE_H

#include <check.h>
#include <stddef.h>

#include "app/http/http_parse.h"

TCase *http_parse_stream_tcase(void);
TCase *http_parse_random_tcase(void);

/* A copy of n bytes in a heap block of exactly n bytes, so that ASan sees
 * a read past the end; aborts the test when out of memory. */
char *thp_dup(const void *p, size_t n);

/* A string as it should appear in a failure message: unprintable bytes as
 * \xNN, at most 200 of them; one of two static buffers, used in turn. */
const char *thp_show(const char *p, size_t n);

#endif
