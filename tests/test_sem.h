/*
 * test_sem.h - the parts of the semantics suite (check_semantics.c) that
 * live in their own files: lines, dots and limits.
 */
#ifndef TEST_SEM_H
#define TEST_SEM_H

#include <check.h>

/* Replica ids used throughout the semantics tests: distinct, and B < A so
 * that id order and creation order disagree. */
#define SEM_A UINT64_C(0xA000000000000001)
#define SEM_B UINT64_C(7)
#define SEM_C UINT64_C(0x5000)

TCase *sem_dots_tcase(void);
TCase *sem_lines_tcase(void);
TCase *sem_limits_tcase(void);

#endif
