/*
 * bench_common.c - shared benchmark helpers (see bench_common.h).
 */
#include "bench/bench_common.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int bench_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* Wall and CPU clocks at bench_header, for the contention figure printed
 * by bench_table_close. */
static double start_wall, start_cpu;

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_header(const char *title, int argc, char **argv)
{
	start_wall = bench_now();
	start_cpu = cpu_now();
	printf("== %s\n   command:", title);
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n   cores: %d online", bench_cores());
	/* Other work on a 2-core machine skews every figure: say how much. */
	FILE *f = fopen("/proc/loadavg", "r");
	double l1;
	if (f != NULL && fscanf(f, "%lf", &l1) == 1)
		printf(", load average %.2f at start", l1);
	if (f != NULL)
		fclose(f);
	printf("\n");
}

size_t bench_heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

uint64_t bench_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(2685821657736338717);
}

/* mkdir -p for a relative or absolute path. */
static int mkdirs(const char *path)
{
	char buf[512];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST)
			return -1;
		*p = c;
		if (c == '\0')
			return 0;
	}
}

void bench_table_open(bench_table *t, const char *name)
{
	const char *dir = getenv("BENCH_OUT");
	char path[600];

	if (dir == NULL || *dir == '\0')
		dir = "bench/out";
	t->misses = 0;
	t->csv = NULL;
	snprintf(path, sizeof path, "%s/%s.csv", dir, name);
	if (mkdirs(dir) == 0)
		t->csv = fopen(path, "w");
	if (t->csv == NULL)
		fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
	else
		fprintf(t->csv, "metric,value,unit,baseline_what,baseline,ratio,goal,target,status\n");
	printf("\n%-30s %14s %-9s %14s %-24s %8s %15s  %s\n", "metric", "value", "unit",
	       "baseline", "(same run)", "x base", "target", "status");
}

static void fmt_num(char *buf, size_t n, double v)
{
	snprintf(buf, n, v >= 1000 || v <= -1000 ? "%.0f" : "%.2f", v);
}

void bench_table_row(bench_table *t, const char *metric, double value, const char *unit,
                     const char *baseline_what, double baseline,
                     enum bench_goal goal, double target)
{
	static const char *const goals[] = { "", ">=", "<=" };
	char v[32], b[32] = "-", r[32] = "-", tg[40] = "-";
	const char *status = "-";

	fmt_num(v, sizeof v, value);
	if (baseline_what != NULL) {
		fmt_num(b, sizeof b, baseline);
		if (baseline != 0)
			snprintf(r, sizeof r, "%.3f", value / baseline);
	}
	if (goal != BENCH_NONE) {
		char n[32];
		fmt_num(n, sizeof n, target);
		snprintf(tg, sizeof tg, "%s %s", goals[goal], n);
		int ok = goal == BENCH_AT_LEAST ? value >= target : value <= target;
		status = ok ? "PASS" : "MISS";
		t->misses += !ok;
	}
	printf("%-30s %14s %-9s %14s %-24s %8s %15s  %s\n", metric, v, unit, b,
	       baseline_what ? baseline_what : "", r, tg, status);
	if (t->csv != NULL)
		fprintf(t->csv, "\"%s\",%.6g,%s,\"%s\",%.6g,%s,%s,%.6g,%s\n", metric, value, unit,
		        baseline_what ? baseline_what : "", baseline_what ? baseline : 0,
		        baseline_what && baseline != 0 ? r : "", goals[goal],
		        goal != BENCH_NONE ? target : 0, status);
}

void bench_table_close(bench_table *t)
{
	double wall = bench_now() - start_wall;
	printf("%d target(s) missed", t->misses);
	/* A single-threaded program that got less than a whole core was
	 * sharing the machine: its figures are low by about that much. */
	if (start_wall > 0 && wall > 0)
		printf("; on a CPU %.0f%% of the wall time", 100 * (cpu_now() - start_cpu) / wall);
	printf("\n");
	if (t->csv != NULL)
		fclose(t->csv);
	t->csv = NULL;
}

crdt_id bench_cart_id(const char *s, size_t len)
{
	crdt_id id;
	if (crdt_id_make(&id, s, len) != 0) {
		fprintf(stderr, "not a cart id: '%.*s'\n", (int)len, s);
		exit(2);
	}
	return id;
}
