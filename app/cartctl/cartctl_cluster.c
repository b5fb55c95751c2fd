/*
 * cartctl_cluster.c - `cartctl cluster up N` and `cartctl cluster down`: a
 * local cluster of cartd processes on 127.0.0.1 for trying things out and
 * for the demo.
 *
 * Layout of the cluster directory D (default ./cartd-local):
 *   cluster.key      fresh keyring shared by the peers (mode 0600)
 *   peerI/           data dir of peer I (1-based)
 *   peerI.log        its stdout and stderr
 *   peerI.pid        its process id, read by `cluster down`
 *   cluster.env      PEERI_HTTP=... / PEERI_GOSSIP=... lines for scripts
 * Peer I serves HTTP on base+I-1 and gossips on base+100+I-1, and is given
 * every other peer's gossip address as a seed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/cartctl/cartctl.h"

#define CLUSTER_MAX 100
#define DEFAULT_DIR "./cartd-local"
#define START_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 10000
/* Paths under the cluster dir: the dir (< PATH_MAX) plus a file name. */
#define SUBPATH_MAX (PATH_MAX + 32)

typedef struct up_opts {
	int n;
	unsigned base;
	const char *dir;
	bool faults;
	const char *cartd;
	char **extra;            /* arguments after "--", passed to every cartd */
	int nextra;
} up_opts;

static long long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* cartd next to this cartctl if there is one, else from PATH. */
static const char *find_cartd(const char *given, char *buf, size_t cap)
{
	if (given)
		return given;
	ssize_t n = readlink("/proc/self/exe", buf, cap - 8);
	if (n > 0) {
		buf[n] = '\0';
		char *slash = strrchr(buf, '/');
		if (slash) {
			strcpy(slash + 1, "cartd");
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return "cartd";
}

static int read_pid(const char *path, pid_t *pid)
{
	FILE *f = fopen(path, "r");
	long v = 0;
	int ok = f && fscanf(f, "%ld", &v) == 1 && v > 1;
	if (f)
		fclose(f);
	*pid = (pid_t)v;
	return ok ? 0 : -1;
}

/* Is pid a cartd process whose command line mentions data_dir?  Guards
 * against signalling an unrelated process that reused a stale pid. */
static bool is_our_cartd(pid_t pid, const char *data_dir)
{
	char path[64], buf[8192];
	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	bool cartd = false, dir = false;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
		const char *base = strrchr(buf + i, '/');
		if (i == 0 && strcmp(base ? base + 1 : buf, "cartd") == 0)
			cartd = true;
		if (strcmp(buf + i, data_dir) == 0)
			dir = true;
	}
	return cartd && dir;
}

static bool alive(pid_t pid)
{
	char path[64], state = '?';
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	/* A zombie has exited; it only waits for its parent to reap it. */
	int ok = fscanf(f, "%*d (%*[^)]) %c", &state) == 1;
	fclose(f);
	return ok && state != 'Z';
}

static void peer_path(char *buf, size_t cap, const char *dir, int i, const char *suffix)
{
	snprintf(buf, cap, "%s/peer%d%s", dir, i, suffix);
}

/* Storage for one peer's command line. */
typedef struct peer_cmd {
	char data[SUBPATH_MAX], log[SUBPATH_MAX], key[SUBPATH_MAX], http[32], gossip[32];
	char seeds[CLUSTER_MAX][32];
	const char *args[16 + 2 * CLUSTER_MAX + 64];
} peer_cmd;

static void build_cmd(const up_opts *u, const char *cartd, int i, peer_cmd *c)
{
	int a = 0;
	peer_path(c->data, sizeof c->data, u->dir, i, "");
	peer_path(c->log, sizeof c->log, u->dir, i, ".log");
	snprintf(c->key, sizeof c->key, "%s/cluster.key", u->dir);
	snprintf(c->http, sizeof c->http, "127.0.0.1:%u", u->base + (unsigned)i - 1);
	snprintf(c->gossip, sizeof c->gossip, "127.0.0.1:%u", u->base + 100 + (unsigned)i - 1);
	c->args[a++] = cartd;
	c->args[a++] = "--data-dir"; c->args[a++] = c->data;
	c->args[a++] = "--key-file"; c->args[a++] = c->key;
	c->args[a++] = "--http"; c->args[a++] = c->http;
	c->args[a++] = "--gossip"; c->args[a++] = c->gossip;
	c->args[a++] = "--name"; c->args[a++] = c->data + strlen(u->dir) + 1;
	for (int j = 1; j <= u->n; j++) {
		if (j == i)
			continue;
		snprintf(c->seeds[j - 1], sizeof c->seeds[j - 1], "127.0.0.1:%u",
		         u->base + 100 + (unsigned)j - 1);
		c->args[a++] = "--peer";
		c->args[a++] = c->seeds[j - 1];
	}
	if (u->faults)
		c->args[a++] = "--enable-fault-injection";
	for (int j = 0; j < u->nextra && j < 64; j++)
		c->args[a++] = u->extra[j];
	c->args[a] = NULL;
}

/* Starts peer i (1-based) in the background and returns its pid. */
static pid_t spawn_peer(const up_opts *u, const char *cartd, int i)
{
	static peer_cmd c;   /* large; cartctl is single-threaded */
	build_cmd(u, cartd, i, &c);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* Child: its own session, so closing the terminal does not stop it. */
	setsid();
	int out = open(c.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (out >= 0 && in >= 0) {
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		execvp(cartd, (char *const *)c.args);
		fprintf(stderr, "cartctl: cannot run %s: %s\n", cartd, strerror(errno));
	}
	_exit(127);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void tail_log(const char *dir, int i)
{
	char path[SUBPATH_MAX], line[512];
	peer_path(path, sizeof path, dir, i, ".log");
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	fprintf(stderr, "--- last lines of %s ---\n", path);
	/* Keep the last few lines in a small ring. */
	char ring[8][512];
	int n = 0;
	while (fgets(line, sizeof line, f))
		snprintf(ring[n++ % 8], sizeof ring[0], "%s", line);
	fclose(f);
	for (int k = n > 8 ? n - 8 : 0; k < n; k++)
		fputs(ring[k % 8], stderr);
}

/* Polls peer i's /health until it answers 200, its process exits, or the
 * deadline passes. */
static int wait_ready(const up_opts *u, int i, pid_t pid, long long deadline)
{
	hostport_ip a = { .family = AF_INET, .ip = { 127, 0, 0, 1 },
	               .port = (uint16_t)(u->base + (unsigned)i - 1) };
	ctl_http_request req = { .method = "GET", .target = "/health", .timeout_ms = 500 };
	while (ms_now() < deadline) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "cartctl: peer%d exited during start-up (%s %d)\n", i,
			        WIFEXITED(status) ? "status" : "signal",
			        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			tail_log(u->dir, i);
			return CTL_FAIL;
		}
		ctl_http_response res;
		char err[128], name[32];
		if (ctl_http_do(&a, &req, &res, err, sizeof err) == 0) {
			/* The answer must come from our peer, not from another
			 * process that happens to hold the port. */
			snprintf(name, sizeof name, "\"name\":\"peer%d\"", i);
			bool ours = res.status == 200 && strstr(res.body, name);
			ctl_http_response_free(&res);
			if (ours)
				return CTL_OK;
		}
		sleep_ms(50);
	}
	fprintf(stderr, "cartctl: peer%d did not answer /health within %d s\n", i,
	        START_TIMEOUT_MS / 1000);
	tail_log(u->dir, i);
	return CTL_FAIL;
}

static void print_started(const up_opts *u, const pid_t *pids)
{
	printf("started %d peer%s in %s (key %s/cluster.key)\n", u->n, u->n == 1 ? "" : "s",
	       u->dir, u->dir);
	for (int i = 1; i <= u->n; i++)
		printf("  peer%-3d pid %-7ld http 127.0.0.1:%u  gossip 127.0.0.1:%u  log %s/peer%d.log\n",
		       i, (long)pids[i - 1], u->base + i - 1, u->base + 100 + i - 1, u->dir, i);
	printf("try:  cartctl --peer 127.0.0.1:%u add cart1 apple 2\n", u->base);
	printf("      cartctl --peer 127.0.0.1:%u get cart1\n", u->base + (u->n > 1 ? 1 : 0));
	printf("stop: cartctl cluster down --dir %s\n", u->dir);
}

/* Can port be bound on 127.0.0.1 (type SOCK_STREAM or SOCK_DGRAM)? */
static bool port_free(unsigned port, int type)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	/* As cartd does: a TCP port in TIME_WAIT counts as free. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

static int check_ports(const up_opts *u)
{
	for (int i = 0; i < u->n; i++) {
		unsigned http = u->base + (unsigned)i, gossip = u->base + 100 + (unsigned)i;
		if (!port_free(http, SOCK_STREAM) || !port_free(gossip, SOCK_DGRAM)) {
			fprintf(stderr, "cartctl: port %u is already in use on 127.0.0.1; pick other "
			        "ports with --base-port\n", port_free(http, SOCK_STREAM) ? gossip : http);
			return CTL_FAIL;
		}
	}
	return CTL_OK;
}

static int up_files(const up_opts *u)
{
	char path[SUBPATH_MAX];
	if (mkdir(u->dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "cartctl: cannot create %s: %s\n", u->dir, strerror(errno));
		return CTL_FAIL;
	}
	for (int i = 1; i <= CLUSTER_MAX; i++) {
		pid_t pid;
		peer_path(path, sizeof path, u->dir, i, ".pid");
		if (read_pid(path, &pid) == 0 && alive(pid)) {
			fprintf(stderr, "cartctl: a cluster is already running in %s (peer%d, pid %ld);"
			        " stop it with: cartctl cluster down --dir %s\n", u->dir, i, (long)pid,
			        u->dir);
			return CTL_FAIL;
		}
	}
	snprintf(path, sizeof path, "%s/cluster.key", u->dir);
	return ctl_keygen_file(path, true, true);
}

static void stop_pids(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
}

static int start_all(const up_opts *u)
{
	pid_t pids[CLUSTER_MAX] = { 0 };
	char cartd_buf[PATH_MAX], path[SUBPATH_MAX], env[64 * CLUSTER_MAX] = "", line[128];
	const char *cartd = find_cartd(u->cartd, cartd_buf, sizeof cartd_buf);

	for (int i = 1; i <= u->n; i++) {
		pids[i - 1] = spawn_peer(u, cartd, i);
		if (pids[i - 1] < 0) {
			fprintf(stderr, "cartctl: fork: %s\n", strerror(errno));
			stop_pids(pids, u->n);
			return CTL_FAIL;
		}
		snprintf(line, sizeof line, "%ld\n", (long)pids[i - 1]);
		peer_path(path, sizeof path, u->dir, i, ".pid");
		write_text(path, line);
		snprintf(line, sizeof line, "PEER%d_HTTP=127.0.0.1:%u\nPEER%d_GOSSIP=127.0.0.1:%u\n",
		         i, u->base + i - 1, i, u->base + 100 + i - 1);
		strcat(env, line);
	}
	snprintf(line, sizeof line, "PEERS=%d\n", u->n);
	strcat(env, line);
	snprintf(path, sizeof path, "%s/cluster.env", u->dir);
	write_text(path, env);

	long long deadline = ms_now() + START_TIMEOUT_MS;
	for (int i = 1; i <= u->n; i++) {
		if (wait_ready(u, i, pids[i - 1], deadline) != CTL_OK) {
			fprintf(stderr, "cartctl: stopping the peers that did start\n");
			stop_pids(pids, u->n);
			return CTL_FAIL;
		}
	}
	print_started(u, pids);
	return CTL_OK;
}

/* Absolute paths: the peers' command lines are how `down` recognises
 * them, whatever directory it is run from. */
static int make_absolute(up_opts *u, char *absdir)
{
	if (mkdir(u->dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "cartctl: cannot create %s: %s\n", u->dir, strerror(errno));
		return CTL_FAIL;
	}
	errno = 0;
	if (!realpath(u->dir, absdir) || strlen(absdir) > PATH_MAX - 64) {
		fprintf(stderr, "cartctl: %s: %s\n", u->dir, errno ? strerror(errno) : "path too long");
		return CTL_FAIL;
	}
	u->dir = absdir;
	return CTL_OK;
}

static int parse_up(int argc, char **argv, up_opts *u, char *absdir)
{
	int i = 2;
	memset(u, 0, sizeof *u);
	u->base = 8080;
	u->dir = DEFAULT_DIR;
	if (argc < 3 || (u->n = atoi(argv[2])) < 1 || u->n > CLUSTER_MAX ||
	    strspn(argv[2], "0123456789") != strlen(argv[2]))
		return ctl_usage_error("usage: cluster up N (1..%d) [--base-port P] [--dir D] "
		                       "[--fault-injection] [--cartd PATH] [-- CARTD-ARGS...]",
		                       CLUSTER_MAX);
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--base-port") == 0 && i + 1 < argc) {
			long p = strtol(argv[++i], NULL, 10);
			if (p < 1 || p + 100 + u->n > 65535)
				return ctl_usage_error("--base-port: %s leaves no room for %d peers",
				                       argv[i], u->n);
			u->base = (unsigned)p;
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			u->dir = argv[++i];
		} else if (strcmp(argv[i], "--fault-injection") == 0) {
			u->faults = true;
		} else if (strcmp(argv[i], "--cartd") == 0 && i + 1 < argc) {
			u->cartd = argv[++i];
		} else if (strcmp(argv[i], "--") == 0) {
			u->extra = argv + i + 1;
			u->nextra = argc - i - 1;
			break;
		} else {
			return ctl_usage_error("cluster up: unknown or incomplete option \"%s\"", argv[i]);
		}
	}
	if (u->nextra > 64)
		return ctl_usage_error("cluster up: too many cartd arguments");
	return make_absolute(u, absdir);
}

int ctl_cmd_cluster_up(const ctl_opts *o, int argc, char **argv)
{
	up_opts u;
	char absdir[PATH_MAX];
	(void)o;
	int rc = parse_up(argc, argv, &u, absdir);
	if (rc == CTL_OK)
		rc = up_files(&u);
	if (rc == CTL_OK)
		rc = check_ports(&u);
	if (rc == CTL_OK)
		rc = start_all(&u);
	return rc;
}

/* Stops one peer of a `cluster up`: SIGTERM, then SIGKILL past the timeout. */
static int stop_peer(const char *dir, int i)
{
	char pidfile[SUBPATH_MAX], data[SUBPATH_MAX];
	pid_t pid;
	peer_path(pidfile, sizeof pidfile, dir, i, ".pid");
	peer_path(data, sizeof data, dir, i, "");
	if (read_pid(pidfile, &pid) != 0)
		return -1;   /* no such peer */
	if (!alive(pid) || !is_our_cartd(pid, data)) {
		printf("  peer%-3d not running (stale pid %ld)\n", i, (long)pid);
		unlink(pidfile);
		return 0;
	}
	long long t0 = ms_now();
	kill(pid, SIGTERM);
	while (alive(pid) && ms_now() - t0 < STOP_TIMEOUT_MS)
		sleep_ms(20);
	if (alive(pid)) {
		kill(pid, SIGKILL);
		printf("  peer%-3d pid %-7ld did not stop within %d s: killed\n", i, (long)pid,
		       STOP_TIMEOUT_MS / 1000);
		unlink(pidfile);
		return 1;
	}
	printf("  peer%-3d pid %-7ld stopped in %.2f s\n", i, (long)pid,
	       (double)(ms_now() - t0) / 1000.0);
	unlink(pidfile);
	return 0;
}

int ctl_cmd_cluster_down(int argc, char **argv)
{
	char absdir[PATH_MAX];
	const char *dir = DEFAULT_DIR;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else
			return ctl_usage_error("usage: cluster down [--dir D]");
	}
	if (!realpath(dir, absdir)) {
		fprintf(stderr, "cartctl: %s: %s\n", dir, strerror(errno));
		return CTL_FAIL;
	}
	int found = 0, killed = 0;
	printf("stopping the cluster in %s\n", absdir);
	for (int i = 1; i <= CLUSTER_MAX; i++) {
		int r = stop_peer(absdir, i);
		found += r >= 0;
		killed += r > 0;
	}
	if (!found)
		printf("  no peers recorded there\n");
	return killed ? CTL_FAIL : CTL_OK;
}
