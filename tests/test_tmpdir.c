/*
 * test_tmpdir.c - temporary directories for tests (see test_tmpdir.h).
 */
#include "tests/test_tmpdir.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

void tt_mkdtemp(char *buf, size_t len, const char *parent, const char *prefix)
{
	int n = snprintf(buf, len, "%s/%s-XXXXXX", parent, prefix);
	ck_assert_msg(n > 0 && (size_t)n < len, "temp dir name too long");
	ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp %s failed", buf);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

void tt_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
