/*
 * bench_common.h - the little every benchmark program shares: a monotonic
 * clock, medians of repeated runs, a run header (command line, cores), heap
 * in use, a tiny PRNG for test data, and a result table that prints each
 * figure beside its baseline and target and also writes it to
 * bench/out/<name>.csv.
 *
 * Benchmarks are not tests: they report, and a missed target is a MISS in
 * the table, not a failed exit status.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crdt/cart_id.h"

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);
/* Median of v[0..n) (sorts v in place); 0 when n == 0. */
double bench_median(double *v, size_t n);
/* Online processor count. */
int bench_cores(void);
/* Prints the program's title, its command line and the core count. */
void bench_header(const char *title, int argc, char **argv);
/* Bytes the malloc heap holds in use now (mallinfo2: arena + mmapped). */
size_t bench_heap_in_use(void);
/* xorshift64*: fast, deterministic data for a given seed (nonzero state). */
uint64_t bench_rand(uint64_t *state);
/* Cart id s (len bytes) made a crdt_id as cartd's edges make it
 * (crdt/cart_id.h); exits with a message if it is not a valid id. */
crdt_id bench_cart_id(const char *s, size_t len);

/* Direction of a target: the figure must be at least, or at most, it. */
enum bench_goal { BENCH_NONE, BENCH_AT_LEAST, BENCH_AT_MOST };

typedef struct bench_table {
	FILE *csv;          /* NULL if the CSV could not be opened (warned once) */
	int misses;
} bench_table;

/* Opens bench/out/<name>.csv (directory created; $BENCH_OUT overrides
 * bench/out) and prints the table heading. */
void bench_table_open(bench_table *t, const char *name);
/*
 * One row: metric, its value and unit, a baseline measured in the same run
 * (baseline_what NULL for none) and a target (goal BENCH_NONE for none).
 * Prints PASS or MISS against the target.
 */
void bench_table_row(bench_table *t, const char *metric, double value, const char *unit,
                     const char *baseline_what, double baseline,
                     enum bench_goal goal, double target);
/* Prints the summary line (misses, and the share of wall time the process
 * was on a CPU since bench_header: well under 100% for a single-threaded
 * program means it shared the machine) and closes the CSV. */
void bench_table_close(bench_table *t);

#endif
