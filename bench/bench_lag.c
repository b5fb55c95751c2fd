/*
 * bench_lag.c - replication visibility lag: from a write's acknowledgement
 * at peer A to the moment a read at peer B shows it, on a 3-peer cluster of
 * this machine (started and stopped here with cartctl, --sync on).
 *
 * One sample: POST /carts/lag-<n>/items {"sku":"x","qty":1} to A; when the
 * 200 arrives (the write is durable at A), read /carts/lag-<n> at B over
 * fresh loopback connections, back to back, until the item shows; the lag
 * is the time between the two.  The poll itself costs about 0.1 ms, which
 * bounds the resolution.  Samples are taken with the cluster idle (20 ms
 * apart, so that each write finds the peer quiet), then 2 ms apart under a
 * fixed-rate background load of adds at A (LOADERS processes, each pacing
 * its own share of the rate over fresh connections).
 *
 * A third phase measures the idle lag again while an attacker process
 * floods B's gossip port (ATTACK_RATE datagrams/s): HELLOs of identities
 * minted from the cluster's development keyring (what anyone who can read
 * it can do: they make B verify a signature and answer a challenge) and
 * junk shaped like sealed datagrams of the cluster.
 *
 * The baseline is the time of one read at B in the same run (what a
 * client pays to look at B at all).  Targets: p99 <= 10 ms idle, and the
 * p99 under attack at most twice the idle p99 of the same run.
 * BENCH_LAG_CARTD_ARGS adds cartd options (e.g. "--flush-delay-ms 0").
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/cartctl/cartctl_http.h"
#include "bench/bench_common.h"
#include "net/keyring.h"
#include "net/wire.h"

#include <netinet/in.h>
#include <sys/socket.h>

#define SAMPLES 300
#define IDLE_GAP_MS 20            /* idle: samples further apart than a flush delay */
#define LOAD_GAP_MS 2
#define DEADLINE_S 5.0
#define LOADERS 8
#define LOAD_RATE 2000.0          /* adds/s of the background load */
#define TARGET_P99_MS 10.0
#define ATTACK_RATE 4000.0        /* datagrams/s at B's gossip port */
#define ATTACK_IDS 64             /* minted identities, used in turn */
#define TARGET_ATTACK_X 2.0       /* p99 under attack / p99 idle */

static char build[256], tmp[64], dir[128];
static int base_port;
static pid_t loaders[LOADERS], attacker;

static int do_req(const hostport_ip *peer, const char *method, const char *target,
                  const char *body, ctl_http_response *res)
{
	char err[256];
	ctl_http_request req = { method, target, body ? "application/json" : NULL, body,
	                         body ? strlen(body) : 0, NULL, 5000, false };
	return ctl_http_do(peer, &req, res, err, sizeof err);
}

/* Adds sku x to cart at A; true on 200. */
static bool add_at(const hostport_ip *a, const char *cart)
{
	char target[96];
	ctl_http_response res;
	snprintf(target, sizeof target, "/carts/%s/items", cart);
	if (do_req(a, "POST", target, "{\"sku\":\"x\",\"qty\":1}", &res) != 0)
		return false;
	bool ok = res.status == 200;
	ctl_http_response_free(&res);
	return ok;
}

/* Whether B shows sku x in cart. */
static bool seen_at(const hostport_ip *b, const char *cart)
{
	char target[96];
	ctl_http_response res;
	snprintf(target, sizeof target, "/carts/%s", cart);
	if (do_req(b, "GET", target, NULL, &res) != 0)
		return false;
	bool seen = res.status == 200 && strstr(res.body, "\"sku\":\"x\"") != NULL;
	ctl_http_response_free(&res);
	return seen;
}

/* One sample in ms, or -1 when the write failed or never showed. */
static double sample(const hostport_ip *a, const hostport_ip *b, const char *tag, int n)
{
	char cart[64];
	snprintf(cart, sizeof cart, "lag-%s-%d-%d", tag, (int)getpid(), n);
	if (!add_at(a, cart))
		return -1;
	double t0 = bench_now();
	while (bench_now() - t0 < DEADLINE_S)
		if (seen_at(b, cart))
			return (bench_now() - t0) * 1e3;
	return -1;
}

static double pct(double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	bench_median(v, n);   /* sorts */
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static void measure(const hostport_ip *a, const hostport_ip *b, const char *tag, long gap_ms,
                    double *p50, double *p99, double *max, int *lost)
{
	static double v[SAMPLES];
	size_t n = 0;
	*lost = 0;
	for (int i = 0; i < SAMPLES; i++) {
		double ms = sample(a, b, tag, i);
		if (ms < 0)
			(*lost)++;
		else
			v[n++] = ms;
		struct timespec ts = { 0, gap_ms * 1000000 };
		nanosleep(&ts, NULL);
	}
	*p50 = pct(v, n, 0.50);
	*p99 = pct(v, n, 0.99);
	*max = n ? v[n - 1] : 0;
}

/* A loader: rate/LOADERS adds per second to random carts at A, paced. */
static void load_loop(const hostport_ip *a, int k)
{
	uint64_t rng = 0x1234567u + (uint64_t)k;
	double gap = LOADERS / LOAD_RATE, next = bench_now();
	for (;;) {
		char cart[48];
		snprintf(cart, sizeof cart, "load-%u", (unsigned)(bench_rand(&rng) % 100000));
		add_at(a, cart);
		next += gap;
		double wait = next - bench_now();
		if (wait > 0) {
			struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
}

/* The attacker: ATTACK_RATE datagrams/s at B's gossip port, HELLOs of
 * minted identities and junk in turn.  Never returns. */
static void attack_loop(unsigned gossip_port)
{
	char path[256], text[4096];
	snprintf(path, sizeof path, "%s/cluster.key", dir);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, sizeof text, f) : 0;
	if (f)
		fclose(f);
	static uint8_t hello[ATTACK_IDS][WIRE_HELLO_LEN];
	int nhello = 0;
	for (int k = 0; k < ATTACK_IDS && n > 0; k++, nhello++) {
		wire_keyring *ring;
		wire *w = NULL;
		wire_config cfg;
		size_t len;
		uint8_t chal[WIRE_CHALLENGE_LEN] = { (uint8_t)k };
		wire_config_init(&cfg);
		cfg.cluster_tag = wire_cluster_tag("cartd");
		if (wire_keyring_parse(text, n, &ring, NULL, 0) ||
		    wire_keyring_derive_identity(ring, 0xA77AC000u + (uint64_t)k) ||
		    wire_new(&cfg, ring, &w) ||
		    wire_hello(w, 0, WIRE_F_WANT_REPLY, chal, NULL, hello[k], sizeof hello[k], &len))
			_exit(2);
		wire_free(w);
		wire_keyring_free(ring);
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)gossip_port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t junk[1200];
	uint64_t rng = 0xBADC0DEu;
	double gap = 1.0 / ATTACK_RATE, next = bench_now();
	for (uint64_t i = 0;; i++) {
		if (nhello && i % 2 == 0) {
			sendto(fd, hello[(i / 2) % (uint64_t)nhello], WIRE_HELLO_LEN, 0,
			       (struct sockaddr *)&to, sizeof to);
		} else {
			for (size_t k = 0; k < sizeof junk; k += 8) {
				uint64_t r = bench_rand(&rng);
				memcpy(junk + k, &r, 8);
			}
			memcpy(junk, "CT\x04\x01\x00", 5);
			sendto(fd, junk, 200 + i % 1000, 0, (struct sockaddr *)&to, sizeof to);
		}
		next += gap;
		double wait = next - bench_now();
		if (wait > 0) {
			struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
}

static void stop_loaders(void)
{
	if (attacker > 0) {
		kill(attacker, SIGTERM);
		waitpid(attacker, NULL, 0);
		attacker = 0;
	}
	for (int k = 0; k < LOADERS; k++)
		if (loaders[k] > 0) {
			kill(loaders[k], SIGTERM);
			waitpid(loaders[k], NULL, 0);
			loaders[k] = 0;
		}
}

static void cluster_down(void)
{
	char cmd[1024];
	stop_loaders();
	if (!dir[0])
		return;
	snprintf(cmd, sizeof cmd, "%s/cartctl cluster down --dir %s >/dev/null 2>&1; rm -rf %s",
	         build, dir, tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_lag: could not stop the cluster in %s\n", dir);
	dir[0] = '\0';
}

/* CPU seconds (user + system) peer `which` (1-based) has used so far, from
 * /proc/PID/stat; -1 when it cannot be read. */
static double peer_cpu_s(int which)
{
	char path[256], buf[1024];
	snprintf(path, sizeof path, "%s/peer%d.pid", dir, which);
	FILE *f = fopen(path, "r");
	long pid = 0;
	if (!f || fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	if (f)
		fclose(f);
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = pid > 0 ? fopen(path, "r") : NULL;
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');   /* the name may hold spaces */
	unsigned long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void on_signal(int sig)
{
	(void)sig;
	exit(130);   /* atexit stops the cluster */
}

static bool cluster_up(void)
{
	char cmd[1024];
	const char *extra = getenv("BENCH_LAG_CARTD_ARGS");   /* e.g. --flush-delay-ms 0 */
	snprintf(tmp, sizeof tmp, "/tmp/cartd-bench-lag.XXXXXX");
	if (!mkdtemp(tmp))
		return false;
	snprintf(dir, sizeof dir, "%s/c", tmp);
	for (int try = 0; try < 5; try++) {
		base_port = 20000 + (int)((unsigned)(getpid() * 7919 + try * 211) % 200) * 200;
		snprintf(cmd, sizeof cmd, "%s/cartctl cluster up 3 --base-port %d --dir %s -- "
		         "--sync on %.200s >/dev/null 2>&1", build, base_port, dir, extra ? extra : "");
		if (system(cmd) == 0)
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	hostport_ip a, b;
	char addr[64];
	const char *env = getenv("BUILD");
	snprintf(build, sizeof build, "%s", env && *env ? env : "build");
	bench_header("lag: write acknowledged at A to visible at B (3 peers, sync on)", argc, argv);
	atexit(cluster_down);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!cluster_up()) {
		fprintf(stderr, "bench_lag: cannot start a cluster with %s/cartctl\n", build);
		return 1;
	}
	snprintf(addr, sizeof addr, "127.0.0.1:%d", base_port);
	ctl_parse_peer(addr, &a);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", base_port + 1);
	ctl_parse_peer(addr, &b);
	printf("   cluster: %s/cartctl cluster up 3 --base-port %d --dir D -- --sync on\n"
	       "   %d samples per phase, %d ms apart idle, %d ms under load; load: %d processes, "
	       "%.0f adds/s in all at A; attack: %.0f datagrams/s at B's gossip port (HELLOs of %d "
	       "minted identities, junk)\n", build, base_port, SAMPLES, IDLE_GAP_MS, LOAD_GAP_MS,
	       LOADERS, LOAD_RATE, ATTACK_RATE, ATTACK_IDS);
	/* Warm-up: the peers find each other; the first write shows at B. */
	double t0 = bench_now();
	while (sample(&a, &b, "warm", 0) < 0 && bench_now() - t0 < 30)
		;

	double read_ms[50];
	for (int i = 0; i < 50; i++) {
		double r0 = bench_now();
		seen_at(&b, "lag-none");
		read_ms[i] = (bench_now() - r0) * 1e3;
	}
	double read_p50 = bench_median(read_ms, 50);

	double ip50, ip99, imax, lp50, lp99, lmax;
	int ilost, llost;
	double c0 = peer_cpu_s(2), w0 = bench_now();
	measure(&a, &b, "idle", IDLE_GAP_MS, &ip50, &ip99, &imax, &ilost);
	double idle_cpu = (peer_cpu_s(2) - c0) / (bench_now() - w0);
	for (int k = 0; k < LOADERS; k++) {
		pid_t p = fork();
		if (p == 0) {
			/* Killed with SIGTERM, never exiting: the cluster's atexit
			 * belongs to the parent. */
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			load_loop(&a, k);
		}
		loaders[k] = p;
	}
	measure(&a, &b, "load", LOAD_GAP_MS, &lp50, &lp99, &lmax, &llost);
	stop_loaders();
	double ap50, ap99, amax;
	int alost;
	attacker = fork();
	if (attacker == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		attack_loop((unsigned)base_port + 101);
	}
	c0 = peer_cpu_s(2);
	w0 = bench_now();
	measure(&a, &b, "attack", IDLE_GAP_MS, &ap50, &ap99, &amax, &alost);
	double attack_cpu = (peer_cpu_s(2) - c0) / (bench_now() - w0);
	stop_loaders();

	bench_table t;
	bench_table_open(&t, "lag");
	bench_table_row(&t, "lag idle p50", ip50, "ms", "one read at B", read_p50, BENCH_NONE, 0);
	bench_table_row(&t, "lag idle p99", ip99, "ms", "one read at B", read_p50, BENCH_AT_MOST,
	                TARGET_P99_MS);
	bench_table_row(&t, "lag idle max", imax, "ms", NULL, 0, BENCH_NONE, 0);
	bench_table_row(&t, "lag under load p50", lp50, "ms", "lag idle p50", ip50, BENCH_NONE, 0);
	bench_table_row(&t, "lag under load p99", lp99, "ms", "lag idle p99", ip99, BENCH_NONE, 0);
	bench_table_row(&t, "lag under load max", lmax, "ms", NULL, 0, BENCH_NONE, 0);
	bench_table_row(&t, "lag under attack p50", ap50, "ms", "lag idle p50", ip50, BENCH_NONE, 0);
	bench_table_row(&t, "lag under attack p99", ap99, "ms", "lag idle p99", ip99, BENCH_AT_MOST,
	                TARGET_ATTACK_X * ip99);
	bench_table_row(&t, "lag under attack max", amax, "ms", NULL, 0, BENCH_NONE, 0);
	/* What the attack costs B itself, apart from what the attacker's own
	 * process takes from the shared cores. */
	bench_table_row(&t, "B's CPU under attack", attack_cpu * 100, "% core", "B idle",
	                idle_cpu * 100, BENCH_NONE, 0);
	bench_table_row(&t, "B's CPU per attack datagram", (attack_cpu - idle_cpu) / ATTACK_RATE * 1e6,
	                "us", NULL, 0, BENCH_NONE, 0);
	bench_table_row(&t, "samples lost (idle, load, attack)", ilost + llost + alost, "samples",
	                NULL, 0, BENCH_AT_MOST, 0);
	bench_table_close(&t);
	return 0;
}
