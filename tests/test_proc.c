/*
 * test_proc.c - cartd processes for the cluster suite (see test_proc.h).
 */
#include "tests/test_proc.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crdt/error.h"
#include "net/keyring.h"
#include "tests/test_tmpdir.h"

#define START_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 10000

/* Short protocol timers: a cut peer is suspected in about 0.3 s, declared
 * dead after 1 s, probed again every 0.3 s, and repaired by anti-entropy
 * every 0.2 s, so partition tests take seconds rather than tens. */
static const char *const fast_args[] = {
	"--ping-interval-ms", "200", "--ping-timeout-ms", "80", "--suspect-ms", "1000",
	"--dead-retry-ms", "300", "--ae-interval-ms", "200", "--log-level", "info",
};

long long tp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tp_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool tp_sanitized(void)
{
	const char *v = getenv("CARTD_TEST_SANITIZED");
	return v != NULL && strcmp(v, "1") == 0;
}

bool tp_light(void)
{
	static int noted;
	const char *s = getenv("CARTD_TEST_SCALE");
	bool light = s && strcmp(s, "valgrind") == 0;
	if (light && !noted++)
		fprintf(stderr, "cluster suite: CARTD_TEST_SCALE=valgrind: lighter runs "
		        "(fewer writes per test; every case still runs)\n");
	return light;
}

const char *tp_cartd(void)
{
	static char path[512];
	const char *dir = getenv("CARTD_BIN");
	snprintf(path, sizeof path, "%s/cartd", dir && *dir ? dir : "build");
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "cluster suite: no cartd binary at %s (set CARTD_BIN to the "
		        "build directory)\n", path);
		return NULL;
	}
	return path;
}

void tp_keygen(const char *path)
{
	char text[WIRE_KEYRING_TEXT_MAX];
	ck_assert_int_eq(wire_keyring_generate(text, sizeof text), 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

void tp_cluster_init(tp_cluster *c, const char *parent)
{
	memset(c, 0, sizeof *c);
	tt_mkdtemp(c->base, sizeof c->base, parent, "cl");
	snprintf(c->key, sizeof c->key, "%s/cluster.key", c->base);
	tp_keygen(c->key);
}

static void print_log(const tp_peer *p)
{
	char line[512];
	FILE *f = fopen(p->log, "r");
	fprintf(stderr, "--- %s log (%s) ---\n", p->name, p->log);
	while (f && fgets(line, sizeof line, f))
		fputs(line, stderr);
	if (f)
		fclose(f);
}

/* SIGTERM every running peer and reap it; SIGKILL past the deadline.
 * Returns the index of a peer that did not exit cleanly, or -1.  Under the
 * sanitizers a leak or error makes cartd exit non-zero, so a clean stop
 * here checks the whole run of every peer. */
static int stop_all(tp_cluster *c)
{
	int bad = -1;
	for (int i = 0; i < c->n; i++)
		if (c->peers[i].pid > 0)
			kill(c->peers[i].pid, SIGTERM);
	long long deadline = tp_now_ms() + STOP_TIMEOUT_MS;
	for (int i = 0; i < c->n; i++) {
		tp_peer *p = &c->peers[i];
		int status = 0;
		pid_t r = 0;
		while (p->pid > 0 && (r = waitpid(p->pid, &status, WNOHANG)) == 0 &&
		       tp_now_ms() < deadline)
			tp_sleep_ms(10);
		if (p->pid > 0 && r != p->pid) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
		}
		if (p->pid > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && bad < 0)
			bad = i;
		p->pid = 0;
	}
	return bad;
}

void tp_cluster_destroy(tp_cluster *c)
{
	int bad = stop_all(c);
	if (bad >= 0)
		print_log(&c->peers[bad]);
	if (c->base[0])
		tt_rmtree(c->base);
	c->base[0] = '\0';
	ck_assert_msg(bad < 0, "%s did not shut down cleanly on SIGTERM", bad >= 0 ?
	              c->peers[bad].name : "");
}

/* A port nobody listens on right now (TCP or UDP).  Another process may
 * take it before cartd binds it; tp_add_peer retries when that happens. */
static unsigned free_port(int type)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void exec_peer(const tp_cluster *c, const tp_peer *p, const char *cartd)
{
	char http[32], gossip[32], seeds[TP_MAX_PEERS][32];
	const char *args[64];
	int a = 0;
	snprintf(http, sizeof http, "127.0.0.1:%u", p->http_port);
	snprintf(gossip, sizeof gossip, "127.0.0.1:%u", p->gossip_port);
	args[a++] = cartd;
	args[a++] = "--data-dir"; args[a++] = p->dir;
	args[a++] = "--key-file"; args[a++] = p->key;
	args[a++] = "--http"; args[a++] = http;
	args[a++] = "--gossip"; args[a++] = gossip;
	args[a++] = "--name"; args[a++] = p->name;
	for (int k = 0; k < p->nseeds; k++) {
		snprintf(seeds[k], sizeof seeds[k], "127.0.0.1:%u", c->peers[p->seeds[k]].gossip_port);
		args[a++] = "--peer";
		args[a++] = seeds[k];
	}
	if (p->seed_addr[0]) {
		args[a++] = "--peer";
		args[a++] = p->seed_addr;
	}
	for (size_t k = 0; k < sizeof fast_args / sizeof fast_args[0]; k++)
		args[a++] = fast_args[k];
	if (p->faults)
		args[a++] = "--enable-fault-injection";
	for (int k = 0; c->extra_args && c->extra_args[k] && a < 63; k++)
		args[a++] = c->extra_args[k];
	args[a] = NULL;

	/* Die with the test process, even if it is killed or _exits. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int out = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out >= 0) {
		dup2(out, 1);
		dup2(out, 2);
		execv(cartd, (char *const *)args);
	}
	_exit(127);
}

static pid_t spawn(const tp_cluster *c, const tp_peer *p, const char *cartd)
{
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (getppid() != parent)   /* the parent died before prctl */
			_exit(127);
		exec_peer(c, p, cartd);
	}
	return pid;
}

/* 1 when /health answers 200, 0 when the process exited, -1 on timeout. */
static int wait_health(tp_peer *p)
{
	ctl_http_request req = { .method = "GET", .target = "/health", .timeout_ms = 1000 };
	long long deadline = tp_now_ms() + START_TIMEOUT_MS;
	while (tp_now_ms() < deadline) {
		int status;
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return 0;
		}
		ctl_http_response res;
		char err[128];
		if (ctl_http_do(&p->http, &req, &res, err, sizeof err) == 0) {
			int code = res.status;
			ctl_http_response_free(&res);
			if (code == 200)
				return 1;
		}
		tp_sleep_ms(20);
	}
	return -1;
}

/* Starts p on its ports; with pick_ports, new ports are tried when the
 * chosen ones turn out to be taken. */
static void start(tp_cluster *c, tp_peer *p, bool pick_ports)
{
	const char *cartd = tp_cartd();
	ck_assert_msg(cartd != NULL, "cartd binary not found");
	for (int attempt = 0; attempt < 5; attempt++) {
		if (pick_ports) {
			p->http_port = free_port(SOCK_STREAM);
			p->gossip_port = free_port(SOCK_DGRAM);
		}
		hostport_parse_ip("127.0.0.1:0", &p->http);
		p->http.port = (uint16_t)p->http_port;
		p->pid = spawn(c, p, cartd);
		int r = wait_health(p);
		if (r == 1)
			return;
		if (r < 0) {
			print_log(p);
			ck_abort_msg("%s did not answer /health within %d ms", p->name, START_TIMEOUT_MS);
		}
		/* Exited: a port taken meanwhile, or (restart) not yet released. */
		tp_sleep_ms(200);
	}
	print_log(p);
	ck_abort_msg("%s would not start", p->name);
}

/* A new peer slot: name, data dir, log and key set, no seeds. */
static tp_peer *new_peer(tp_cluster *c, bool faults, const char *key)
{
	ck_assert_int_lt(c->n, TP_MAX_PEERS);
	int i = c->n++;
	tp_peer *p = &c->peers[i];
	memset(p, 0, sizeof *p);
	char base[sizeof c->base];   /* a copy: c->base and p are both in c */
	memcpy(base, c->base, sizeof base);
	snprintf(p->name, sizeof p->name, "peer%d", i);
	snprintf(p->dir, sizeof p->dir, "%s/peer%d", base, i);
	snprintf(p->log, sizeof p->log, "%s/peer%d.log", base, i);
	snprintf(p->key, sizeof p->key, "%s", key ? key : c->key);
	p->faults = faults;
	return p;
}

int tp_add_peer(tp_cluster *c, bool faults, const char *key)
{
	tp_peer *p = new_peer(c, faults, key);
	int i = (int)(p - c->peers);
	for (int k = 0; k < i; k++)
		p->seeds[p->nseeds++] = k;
	start(c, p, true);
	return i;
}

int tp_add_peer_via(tp_cluster *c, const char *addr)
{
	tp_peer *p = new_peer(c, false, NULL);
	if (addr)
		snprintf(p->seed_addr, sizeof p->seed_addr, "%s", addr);
	start(c, p, true);
	return (int)(p - c->peers);
}

void tp_restart(tp_cluster *c, int i)
{
	ck_assert_int_eq(c->peers[i].pid, 0);
	start(c, &c->peers[i], false);
}

void tp_stop(tp_cluster *c, int i, int sig)
{
	tp_peer *p = &c->peers[i];
	int status = 0;
	ck_assert_int_gt(p->pid, 0);
	kill(p->pid, sig);
	long long deadline = tp_now_ms() + STOP_TIMEOUT_MS;
	pid_t r;
	while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 && tp_now_ms() < deadline)
		tp_sleep_ms(10);
	if (r != p->pid) {
		print_log(p);
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
		ck_abort_msg("%s did not stop within %d ms of signal %d", p->name, STOP_TIMEOUT_MS, sig);
	}
	p->pid = 0;
	if (sig == SIGTERM && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		print_log(p);
		ck_abort_msg("%s: SIGTERM ended it with status %d", p->name, status);
	}
}

void tp_http(tp_cluster *c, int i, const ctl_http_request *req, ctl_http_response *res)
{
	char err[256];
	ck_assert_int_gt(c->peers[i].pid, 0);
	int rc = ctl_http_do(&c->peers[i].http, req, res, err, sizeof err);
	ck_assert_msg(rc == 0, "%s %s to %s: %s", req->method, req->target, c->peers[i].name, err);
}

json_t *tp_json(tp_cluster *c, int i, const char *method, const char *target,
                const char *body, int *status)
{
	ctl_http_request req = {
		.method = method, .target = target,
		.content_type = body ? "application/json" : NULL,
		.body = body, .body_len = body ? strlen(body) : 0,
	};
	ctl_http_response res;
	json_error_t err;
	tp_http(c, i, &req, &res);
	json_t *v = json_loadb(res.body, res.body_len, 0, &err);
	ck_assert_msg(v != NULL, "%s %s: answer %d is not JSON: %s", method, target, res.status,
	              res.body);
	if (status)
		*status = res.status;
	ctl_http_response_free(&res);
	return v;
}

int tp_write(tp_cluster *c, int i, const char *method, const char *target, const char *body)
{
	int status;
	json_t *v = tp_json(c, i, method, target, body, &status);
	json_decref(v);
	return status;
}

void tp_add(tp_cluster *c, int i, const char *cart, const char *sku, int qty)
{
	char target[256], body[256];
	snprintf(target, sizeof target, "/carts/%s/items", cart);
	snprintf(body, sizeof body, "{\"sku\":\"%s\",\"qty\":%d}", sku, qty);
	int status = tp_write(c, i, "POST", target, body);
	ck_assert_msg(status == 200, "add %s %d to %s at %s: %d", sku, qty, cart,
	              c->peers[i].name, status);
}

char *tp_token(tp_cluster *c, int i, const char *cart)
{
	char target[256];
	snprintf(target, sizeof target, "/carts/%s", cart);
	json_t *v = tp_json(c, i, "GET", target, NULL, NULL);
	const char *t = json_string_value(json_object_get(v, "token"));
	ck_assert_msg(t != NULL, "GET %s at %s: no token", target, c->peers[i].name);
	char *copy = strdup(t);
	json_decref(v);
	return copy;
}

void tp_items(tp_cluster *c, int i, const char *cart, char *buf, size_t cap)
{
	char target[300];
	int status;
	snprintf(target, sizeof target, "/carts/%s", cart);
	json_t *v = tp_json(c, i, "GET", target, NULL, &status);
	ck_assert_msg(status == 200, "GET %s at %s: %d", target, c->peers[i].name, status);
	json_t *items = json_object_get(v, "items"), *it;
	size_t k, o = 0;
	buf[0] = '\0';
	json_array_foreach(items, k, it) {
		int n = snprintf(buf + o, cap - o, "%s%s:%lld", k ? "," : "",
		                 json_string_value(json_object_get(it, "sku")),
		                 (long long)json_integer_value(json_object_get(it, "qty")));
		if (n < 0 || (size_t)n >= cap - o)
			break;
		o += (size_t)n;
	}
	json_decref(v);
}

void tp_expect_items(tp_cluster *c, int i, const char *cart, const char *want, int timeout_ms)
{
	char seen[1024];
	bool ok = tp_wait_items(c, i, cart, want, timeout_ms, seen, sizeof seen);
	ck_assert_msg(ok, "%s: cart %s is \"%s\", want \"%s\" (after %d ms)",
	              c->peers[i].name, cart, seen, want, timeout_ms);
}

bool tp_wait_items(tp_cluster *c, int i, const char *cart, const char *want, int timeout_ms,
                   char *seen, size_t cap)
{
	long long deadline = tp_now_ms() + timeout_ms;
	for (;;) {
		tp_items(c, i, cart, seen, cap);
		if (strcmp(seen, want) == 0)
			return true;
		if (tp_now_ms() >= deadline)
			return false;
		tp_sleep_ms(25);
	}
}

double tp_metric(tp_cluster *c, int i, const char *sample)
{
	ctl_http_request req = { .method = "GET", .target = "/metrics" };
	ctl_http_response res;
	double v = -1;
	size_t n = strlen(sample);
	tp_http(c, i, &req, &res);
	ck_assert_int_eq(res.status, 200);
	for (const char *line = res.body; line && *line; ) {
		if (strncmp(line, sample, n) == 0 && line[n] == ' ') {
			v = strtod(line + n + 1, NULL);
			break;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	ctl_http_response_free(&res);
	return v;
}
