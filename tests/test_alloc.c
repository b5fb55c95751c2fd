/*
 * test_alloc.c - the allocation wrappers behind test_alloc.h.  With
 * injection off (the default) each one is a plain call of the real
 * allocator.
 */
#include "tests/test_alloc.h"

#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

static _Thread_local long budget = -1;    /* allocations left; -1: no injection */
static _Thread_local long attempts;
static _Thread_local long paused = -1;    /* the budget while paused, or -1 */

void test_alloc_fail_after(long n)
{
	budget = n < 0 ? 0 : n;
	attempts = 0;
}

void test_alloc_reset(void)
{
	budget = -1;
	paused = -1;
}

void test_alloc_pause(void)
{
	paused = budget;
	budget = -1;
}

void test_alloc_resume(void)
{
	budget = paused;
	paused = -1;
}

long test_alloc_attempts(void)
{
	return attempts;
}

/* Whether the allocation now being made must fail. */
static int must_fail(void)
{
	if (budget < 0)
		return 0;
	attempts++;
	if (budget == 0)
		return 1;
	budget--;
	return 0;
}

void *__wrap_malloc(size_t n)
{
	return must_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return must_fail() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return must_fail() ? NULL : __real_realloc(p, n);
}
