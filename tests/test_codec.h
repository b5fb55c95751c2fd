/*
 * test_codec.h - the parts of the codec suite (check_codec.c) in their own
 * files.
 */
#ifndef TEST_CODEC_H
#define TEST_CODEC_H

#include <check.h>

TCase *codec_buf_tcase(void);
TCase *codec_random_tcase(void);
TCase *codec_siphash_tcase(void);

#endif
