/*
 * test_props.h - the parts of the property suite (check_props.c) in their
 * own files, and its default case count.
 */
#ifndef TEST_PROPS_H
#define TEST_PROPS_H

#include <check.h>

/* Default cases per property (CARTD_CASES overrides; valgrind scale /20). */
#define PROPS_CASES 2000u

TCase *props_split_tcase(void);

#endif
