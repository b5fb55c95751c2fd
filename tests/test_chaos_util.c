/*
 * test_chaos_util.c - the rest of the chaos suite's helpers (see
 * test_chaos.h): peer state from the API, running the user scripts, and a
 * private network namespace for nftables.
 */
#include "tests/test_chaos.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

long long tc_epoch(tp_cluster *c, int i)
{
	json_t *h = tp_json(c, i, "GET", "/health", NULL, NULL);
	json_t *e = json_object_get(h, "epoch");
	ck_assert_msg(json_is_integer(e), "%s: /health has no epoch", c->peers[i].name);
	long long v = (long long)json_integer_value(e);
	json_decref(h);
	return v;
}

void tc_member_state(tp_cluster *c, int i, unsigned port, char *state, size_t cap)
{
	char want[32];
	json_t *v = tp_json(c, i, "GET", "/cluster", NULL, NULL), *m;
	size_t k;
	snprintf(want, sizeof want, "127.0.0.1:%u", port);
	snprintf(state, cap, "absent");
	json_array_foreach(json_object_get(v, "members"), k, m) {
		const char *addr = json_string_value(json_object_get(m, "addr"));
		const char *st = json_string_value(json_object_get(m, "state"));
		if (addr && st && strcmp(addr, want) == 0)
			snprintf(state, cap, "%s", st);
	}
	json_decref(v);
}

void tc_wait_member_state(tp_cluster *c, int i, unsigned port, const char *want,
                          int timeout_ms)
{
	char seen[32];
	long long deadline = tp_now_ms() + timeout_ms;
	for (;;) {
		tc_member_state(c, i, port, seen, sizeof seen);
		if (strcmp(seen, want) == 0)
			return;
		ck_assert_msg(tp_now_ms() < deadline, "%s sees 127.0.0.1:%u as %s, not %s, after "
		              "%d ms", c->peers[i].name, port, seen, want, timeout_ms);
		tp_sleep_ms(25);
	}
}

/* Child side of tc_run: output to the pipe, exec. */
static void run_child(const char *const *argv, const char *const *env, int out)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	dup2(out, 1);
	dup2(out, 2);
	for (size_t i = 0; env && env[i]; i++)
		putenv((char *)env[i]);
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

/* Reads the child's output until EOF or the deadline; returns false on
 * timeout. */
static bool drain(int fd, char *out, size_t cap, long long deadline)
{
	size_t o = 0;
	char sink[512];
	for (;;) {
		int left = (int)(deadline - tp_now_ms());
		if (left <= 0)
			return false;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, left) <= 0)
			continue;
		ssize_t n = o + 1 < cap ? read(fd, out + o, cap - o - 1) : read(fd, sink, sizeof sink);
		if (n == 0)
			return true;
		if (n < 0 && errno != EINTR)
			return true;
		if (n > 0 && o + 1 < cap) {
			o += (size_t)n;
			out[o] = '\0';
		}
	}
}

int tc_run(const char *const *argv, const char *const *env, char *out, size_t cap,
           int timeout_ms)
{
	int p[2];
	out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0)
		run_child(argv, env, p[1]);
	close(p[1]);
	bool done = drain(p[0], out, cap, tp_now_ms() + timeout_ms);
	close(p[0]);
	int status = 0;
	if (!done)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (!done)
		return 128 + SIGKILL;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char *tc_scripts_dir(void)
{
	static char dir[512];
	const char *s = getenv("CARTD_SCRIPTS"), *bin = getenv("CARTD_BIN");
	if (s && *s) {
		snprintf(dir, sizeof dir, "%s", s);
	} else if (bin && *bin) {
		snprintf(dir, sizeof dir, "%s", bin);
		char *slash = strrchr(dir, '/');
		if (slash && slash[1] == '\0') {   /* a trailing slash */
			*slash = '\0';
			slash = strrchr(dir, '/');
		}
		if (slash)
			snprintf(slash + 1, sizeof dir - (size_t)(slash + 1 - dir), "scripts");
		else
			snprintf(dir, sizeof dir, "scripts");
	} else {
		snprintf(dir, sizeof dir, "scripts");
	}
	return dir;
}

void tc_write_cluster_env(const tp_cluster *c)
{
	char path[300];
	snprintf(path, sizeof path, "%s/cluster.env", c->base);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "create %s: %s", path, strerror(errno));
	for (int i = 0; i < c->n; i++)
		fprintf(f, "PEER%d_HTTP=127.0.0.1:%u\nPEER%d_GOSSIP=127.0.0.1:%u\n", i + 1,
		        c->peers[i].http_port, i + 1, c->peers[i].gossip_port);
	fprintf(f, "PEERS=%d\n", c->n);
	ck_assert_int_eq(fclose(f), 0);
}

/* Sets loopback up in the current network namespace.  0 or an errno. */
static int loopback_up(void)
{
	struct ifreq ifr;
	int rc = 0, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
		rc = errno;
	} else {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
			rc = errno;
	}
	close(fd);
	return rc;
}

void tc_enter_netns(void)
{
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	int rc = loopback_up();
	ck_assert_msg(rc == 0, "bringing lo up in the new namespace: %s", strerror(rc));
}

/* The probe's child: a namespace of its own, loopback up, a table. */
static int probe_child(void)
{
	static const char *const argv[] = { "nft", "add", "table", "inet", "cartd_probe", NULL };
	char out[512];
	if (unshare(CLONE_NEWNET) != 0)
		return 10;
	if (loopback_up() != 0)
		return 11;
	int rc = tc_run(argv, NULL, out, sizeof out, 10000);
	if (rc != 0) {
		fprintf(stderr, "chaos: nft in a private namespace: exit %d: %s\n", rc, out);
		return 12;
	}
	return 0;
}

bool tc_nft_usable(char *reason, size_t cap)
{
	static const char *const which[] = { "sh", "-c", "command -v nft", NULL };
	char out[512];
	const char *fork_mode = getenv("CK_FORK");
	if (geteuid() != 0) {
		snprintf(reason, cap, "not running as root (nftables rules and network "
		         "namespaces need it)");
		return false;
	}
	if (fork_mode && strcmp(fork_mode, "no") == 0) {
		snprintf(reason, cap, "CK_FORK=no: the test moves its own process into a new network "
		         "namespace, which needs Check's fork mode");
		return false;
	}
	if (tc_run(which, NULL, out, sizeof out, 5000) != 0) {
		snprintf(reason, cap, "no nft command (apt-get install nftables)");
		return false;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(probe_child());
	int status = -1;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		snprintf(reason, cap, "the namespace probe did not run");
		return false;
	}
	switch (WEXITSTATUS(status)) {
	case 0:
		return true;
	case 10:
		snprintf(reason, cap, "unshare(CLONE_NEWNET) is refused here (a container without "
		         "CAP_SYS_ADMIN?)");
		return false;
	case 11:
		snprintf(reason, cap, "loopback cannot be brought up in a new network namespace");
		return false;
	default:
		snprintf(reason, cap, "nft cannot create a table in a new network namespace "
		         "(nf_tables missing from the kernel?)");
		return false;
	}
}
