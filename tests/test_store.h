/*
 * test_store.h - the parts of the store suite (check_store.c) in their own
 * files.
 */
#ifndef TEST_STORE_H
#define TEST_STORE_H

#include <check.h>

TCase *store_digest_tcase(void);

#endif
