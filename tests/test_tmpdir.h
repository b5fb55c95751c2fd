/*
 * test_tmpdir.h - temporary directories for tests that touch the disk.
 */
#ifndef TEST_TMPDIR_H
#define TEST_TMPDIR_H

#include <stddef.h>

/* Creates a fresh directory "<parent>/<prefix>-XXXXXX" and writes its path
 * into buf; fails the current test if it cannot. */
void tt_mkdtemp(char *buf, size_t len, const char *parent, const char *prefix);
/* Removes path and everything below it, without following links. */
void tt_rmtree(const char *path);

#endif
