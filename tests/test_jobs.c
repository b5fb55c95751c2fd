/*
 * test_jobs.c - parallel suite runner (contract in test_jobs.h).
 *
 * Each suite runs in a forked child with its own SRunner, as it would
 * under CK_RUN_SUITE.  The child writes its counts down a pipe and its
 * output to an unlinked temporary file; the parent prints that file once
 * the child has ended, so a failing suite's diagnostics stay together.
 * After the counts the child sends one line per failed check down the same
 * pipe; the parent repeats those lines just before the summary, because a
 * CI log is often read from its tail and the suite that failed may have
 * printed its diagnostics thousands of lines earlier.
 */
#include "tests/test_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Suites that take longest (by far: sim, then the cluster suites), started
 * first so that no long suite starts last.  The order changes only the
 * wall time, never a result. */
static const char *const slow_first[] = {
	"sim", "chaos", "cluster", "context", "props", "node", "metrics", "store", "edge",
};

struct counts {
	int run, failures, errors;
};

/* What the children may send after their counts: the pipe holds 64 KiB, and
 * the child writes before the parent reads, so it must stay well below. */
#define RECAP_MAX 8192

/* The failed checks of every suite so far, one line each. */
struct recap {
	char *text;
	size_t len;
};

struct slot {
	pid_t pid;
	const test_job *job;
	FILE *out;          /* the child's stdout and stderr */
	int counts_fd;      /* read end of the child's counts pipe */
	struct timespec started;
};

unsigned test_jobs_wanted(void)
{
	const char *fork = getenv("CK_FORK");
	if (fork != NULL && strcmp(fork, "no") == 0)
		return 1;
	const char *v = getenv("CARTD_TEST_JOBS");
	if (v != NULL && *v != '\0') {
		char *end;
		unsigned long n = strtoul(v, &end, 10);
		if (*end == '\0' && n >= 1 && n <= TEST_JOBS_MAX)
			return (unsigned)n;
		fprintf(stderr, "CARTD_TEST_JOBS=%s: want a number from 1 to %u; using 1\n", v,
		        TEST_JOBS_MAX);
		return 1;
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 1 ? 1u : cpus > (long)TEST_JOBS_MAX ? TEST_JOBS_MAX : (unsigned)cpus;
}

/* In the child: run the suite, report the counts, never return. */
static void run_child(const test_job *job, FILE *out, int counts_fd)
{
	fflush(NULL);
	if (dup2(fileno(out), STDOUT_FILENO) < 0 || dup2(fileno(out), STDERR_FILENO) < 0)
		_exit(127);
	setvbuf(stdout, NULL, _IOLBF, 0);
	SRunner *sr = srunner_create(job->make());
	srunner_run_all(sr, CK_NORMAL);
	struct counts c = { .run = srunner_ntests_run(sr) };
	int nfailed = srunner_ntests_failed(sr);
	TestResult **failed = srunner_failures(sr);
	char lines[RECAP_MAX];
	size_t len = 0;
	for (int i = 0; i < nfailed; i++) {
		if (tr_rtype(failed[i]) == CK_ERROR)
			c.errors++;
		else
			c.failures++;
		int k = snprintf(lines + len, sizeof lines - len, "%s:%d: %s: %s: %s\n",
		                 tr_lfile(failed[i]), tr_lno(failed[i]), job->name,
		                 tr_tcname(failed[i]), tr_msg(failed[i]));
		if (k > 0)
			len += (size_t)k < sizeof lines - len ? (size_t)k : sizeof lines - len - 1;
	}
	free(failed);
	srunner_free(sr);
	fflush(NULL);
	ssize_t w = write(counts_fd, &c, sizeof c);
	if (w == (ssize_t)sizeof c && len > 0 && write(counts_fd, lines, len) != (ssize_t)len)
		w = -1;
	_exit(w == (ssize_t)sizeof c ? 0 : 127);
}

static void recap_append(struct recap *r, const char *text, size_t len)
{
	char *grown = realloc(r->text, r->len + len + 1);
	if (grown == NULL)
		return;
	memcpy(grown + r->len, text, len);
	r->len += len;
	grown[r->len] = '\0';
	r->text = grown;
}

/* Appends what the child sent after its counts (its failed checks). */
static void recap_take(struct recap *r, int fd)
{
	char buf[RECAP_MAX];
	size_t got = 0;
	ssize_t k;
	while (got < sizeof buf && (k = read(fd, buf + got, sizeof buf - got)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)k;
	}
	recap_append(r, buf, got);
}

static bool start(struct slot *s, const test_job *job)
{
	int fds[2];
	FILE *out = tmpfile();
	if (out == NULL || pipe2(fds, O_CLOEXEC) != 0) {
		fprintf(stderr, "%s: cannot start: %s\n", job->name, strerror(errno));
		if (out)
			fclose(out);
		return false;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", job->name, strerror(errno));
		fclose(out);
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	if (pid == 0) {
		close(fds[0]);
		run_child(job, out, fds[1]);
	}
	close(fds[1]);
	*s = (struct slot){ .pid = pid, .job = job, .out = out, .counts_fd = fds[0] };
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	return true;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The child has ended: print its output, add its counts to *sum and its
 * failed checks to *recap. */
static void finish(struct slot *s, int status, struct counts *sum, struct recap *recap)
{
	struct counts c;
	ssize_t r = read(s->counts_fd, &c, sizeof c);
	if (r == (ssize_t)sizeof c)
		recap_take(recap, s->counts_fd);
	close(s->counts_fd);
	fflush(stdout);
	rewind(s->out);
	char buf[8192];
	size_t k;
	while ((k = fread(buf, 1, sizeof buf, s->out)) > 0)
		fwrite(buf, 1, k, stdout);
	fclose(s->out);
	if (r != (ssize_t)sizeof c || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFSIGNALED(status))
			printf("%s: the suite's runner died of signal %d\n", s->job->name,
			       WTERMSIG(status));
		else
			printf("%s: the suite's runner ended without its counts (status %d)\n",
			       s->job->name, status);
		c = (struct counts){ .run = 1, .errors = 1 };
		char line[128];
		int len = snprintf(line, sizeof line, "%s: the suite's runner did not end cleanly\n",
		                   s->job->name);
		if (len > 0)
			recap_append(recap, line, (size_t)len);
	}
	printf("(%s: %.1f s)\n", s->job->name, seconds_since(&s->started));
	fflush(stdout);
	sum->run += c.run;
	sum->failures += c.failures;
	sum->errors += c.errors;
}

/* The suites in starting order: slow_first's, then the rest as given. */
static size_t order(const test_job *suites, size_t n, const test_job **out)
{
	size_t k = 0;
	bool *taken = calloc(n, sizeof *taken);
	if (taken == NULL)
		return 0;
	for (size_t j = 0; j < sizeof slow_first / sizeof slow_first[0]; j++)
		for (size_t i = 0; i < n; i++)
			if (!taken[i] && strcmp(suites[i].name, slow_first[j]) == 0) {
				taken[i] = true;
				out[k++] = &suites[i];
			}
	for (size_t i = 0; i < n; i++)
		if (!taken[i])
			out[k++] = &suites[i];
	free(taken);
	return k;
}

bool test_jobs_run(const test_job *suites, size_t n, unsigned jobs)
{
	const test_job **queue = calloc(n ? n : 1, sizeof *queue);
	struct slot *slots = calloc(jobs, sizeof *slots);
	struct counts sum = { 0 };
	struct recap recap = { NULL, 0 };
	bool ok = queue != NULL && slots != NULL && order(suites, n, queue) == n;
	size_t next = 0, running = 0;
	printf("Running %zu suites, %u at a time (CARTD_TEST_JOBS)\n", n, jobs);
	while (ok && (next < n || running > 0)) {
		for (unsigned i = 0; i < jobs && next < n; i++)
			if (slots[i].pid == 0) {
				if (!start(&slots[i], queue[next++])) {
					sum.run++;
					sum.errors++;
					continue;
				}
				running++;
			}
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "waitpid: %s\n", strerror(errno));
			ok = false;
			break;
		}
		for (unsigned i = 0; i < jobs; i++)
			if (slots[i].pid == pid) {
				finish(&slots[i], status, &sum, &recap);
				slots[i].pid = 0;
				running--;
			}
	}
	free(queue);
	free(slots);
	if (!ok) {
		sum.run++;
		sum.errors++;
	}
	int bad = sum.failures + sum.errors;
	if (recap.len > 0)
		printf("Failed checks (their suites' output is above):\n%s", recap.text);
	free(recap.text);
	int pct = bad == 0 ? 100 : sum.run == 0 ? 0
	        : (int)((float)(sum.run - bad) / (float)sum.run * 100);
	printf("%d%%: Checks: %d, Failures: %d, Errors: %d\n", pct, sum.run, sum.failures,
	       sum.errors);
	return bad == 0;
}
