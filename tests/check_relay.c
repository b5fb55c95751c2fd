/*
 * check_relay.c - replays of real traffic between cartd processes.
 *
 * The test stands between two peers as a UDP relay: peer 1 knows the
 * cluster only through the relay's address, and peer 0 sees the relay as
 * peer 1.  The relay forwards both ways and records every sealed datagram
 * peer 1 sends.  Then it plays them back, from the address they came from:
 * at once to peer 0 (the same pair, the same boot), to a third peer
 * (across pairs), and to peer 0 after it restarted (a new boot epoch).
 * Every copy must be refused under the cause docs/protocol.md names for it
 * (replay, receiver, epoch), the carts must not change, and the peers must
 * go on replicating.
 */
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

Suite *relay_suite(void);

#define CONVERGE_MS 15000
#define MAX_RECORDED 512
#define HELLO_TYPE 15

static char parent[64];
static tp_cluster cl;

struct relay {
	int to1, to0;                   /* faces peer 1; faces peer 0 (as peer 1) */
	struct sockaddr_in peer0, peer1;
	bool have1;
	atomic_bool stop, recording;
	pthread_t thread;
	pthread_mutex_t lock;
	uint8_t rec[MAX_RECORDED][1500];
	size_t len[MAX_RECORDED];
	size_t n;
};

static struct relay rl;

static int udp_socket(unsigned *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static struct sockaddr_in loopback(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return a;
}

/* Peer 1 -> relay -> peer 0, recording sealed datagrams; peer 0 -> relay
 * -> peer 1.  No assertions here: this runs beside the test's thread. */
static void *relay_main(void *arg)
{
	(void)arg;
	uint8_t buf[2048];
	while (!atomic_load(&rl.stop)) {
		struct pollfd p[2] = { { rl.to1, POLLIN, 0 }, { rl.to0, POLLIN, 0 } };
		if (poll(p, 2, 50) <= 0)
			continue;
		struct sockaddr_in from;
		socklen_t flen = sizeof from;
		ssize_t n = recvfrom(rl.to1, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
		if (n > 0) {
			pthread_mutex_lock(&rl.lock);
			rl.peer1 = from;
			rl.have1 = true;
			if (atomic_load(&rl.recording) && n >= 4 && buf[3] != HELLO_TYPE &&
			    rl.n < MAX_RECORDED && (size_t)n <= sizeof rl.rec[0]) {
				memcpy(rl.rec[rl.n], buf, (size_t)n);
				rl.len[rl.n++] = (size_t)n;
			}
			pthread_mutex_unlock(&rl.lock);
			sendto(rl.to0, buf, (size_t)n, 0, (struct sockaddr *)&rl.peer0, sizeof rl.peer0);
		}
		n = recv(rl.to0, buf, sizeof buf, 0);
		pthread_mutex_lock(&rl.lock);
		bool have1 = rl.have1;
		struct sockaddr_in to = rl.peer1;
		pthread_mutex_unlock(&rl.lock);
		if (n > 0 && have1)
			sendto(rl.to1, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof to);
	}
	return NULL;
}

static void setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-relay");
	tp_light();
	tp_cluster_init(&cl, parent);
	memset(&rl, 0, sizeof rl);
	pthread_mutex_init(&rl.lock, NULL);
}

static void teardown(void)
{
	if (rl.thread) {
		atomic_store(&rl.stop, true);
		pthread_join(rl.thread, NULL);
		close(rl.to1);
		close(rl.to0);
	}
	pthread_mutex_destroy(&rl.lock);
	tp_cluster_destroy(&cl);
	tt_rmtree(parent);
}

static double metric(int i, const char *cause)
{
	char sample[128];
	snprintf(sample, sizeof sample, "cartd_datagrams_rejected_total{cause=\"%s\"}", cause);
	double v = tp_metric(&cl, i, sample);
	return v < 0 ? 0 : v;
}

/* Waits until peer i counts at least want rejections under cause. */
static void expect_rejected(int i, const char *cause, double want)
{
	long long deadline = tp_now_ms() + CONVERGE_MS;
	double v = metric(i, cause);
	while (v < want && tp_now_ms() < deadline) {
		tp_sleep_ms(20);
		v = metric(i, cause);
	}
	ck_assert_msg(v >= want, "peer%d: %g datagrams rejected as %s, wanted %g", i, v, cause,
	              want);
}

/* Plays every recorded datagram to port from sock. */
static size_t replay_to(int sock, unsigned port)
{
	struct sockaddr_in to = loopback(port);
	pthread_mutex_lock(&rl.lock);
	size_t n = rl.n;
	for (size_t k = 0; k < n; k++)
		ck_assert_int_eq(sendto(sock, rl.rec[k], rl.len[k], 0, (struct sockaddr *)&to,
		                        sizeof to), (ssize_t)rl.len[k]);
	pthread_mutex_unlock(&rl.lock);
	return n;
}

START_TEST(test_replays_refused)
{
	tp_add_peer(&cl, false, NULL);                       /* peer 0 */
	unsigned p1, p0;
	rl.to1 = udp_socket(&p1);
	rl.to0 = udp_socket(&p0);
	rl.peer0 = loopback(cl.peers[0].gossip_port);
	ck_assert_int_eq(pthread_create(&rl.thread, NULL, relay_main, NULL), 0);
	char via[32];
	snprintf(via, sizeof via, "127.0.0.1:%u", p1);
	tp_add_peer_via(&cl, via);                           /* peer 1, behind the relay */
	tp_add_peer_via(&cl, NULL);                          /* peer 2, alone */

	/* Record what peer 1 sends while it replicates writes to peer 0. */
	atomic_store(&rl.recording, true);
	for (int k = 0; k < 5; k++)
		tp_add(&cl, 1, "c", "sku", 1);
	tp_expect_items(&cl, 0, "c", "sku:5", CONVERGE_MS);
	tp_add(&cl, 0, "d", "sku", 2);
	tp_expect_items(&cl, 1, "d", "sku:2", CONVERGE_MS);
	atomic_store(&rl.recording, false);
	ck_assert_uint_gt(rl.n, 0);

	/* The same pair, the same boot, from the address they came from. */
	double r0 = metric(0, "replay");
	size_t n = replay_to(rl.to0, cl.peers[0].gossip_port);
	printf("relay: replayed %zu sealed datagrams of peer1 to peer0\n", n);
	expect_rejected(0, "replay", r0 + (double)n);

	/* Across pairs: another peer of the cluster is not the receiver. */
	double x0 = metric(2, "receiver");
	replay_to(rl.to0, cl.peers[2].gossip_port);
	expect_rejected(2, "receiver", x0 + (double)n);

	/* After peer 0 restarts: a new boot, so they name a stale epoch. */
	tp_stop(&cl, 0, SIGTERM);
	tp_restart(&cl, 0);
	tp_add(&cl, 1, "after", "sku", 1);                 /* a new session first */
	tp_expect_items(&cl, 0, "after", "sku:1", CONVERGE_MS);
	double e0 = metric(0, "epoch");
	replay_to(rl.to0, cl.peers[0].gossip_port);
	expect_rejected(0, "epoch", e0 + (double)n);

	/* Nothing changed, and both ways still replicate. */
	tp_expect_items(&cl, 0, "c", "sku:5", CONVERGE_MS);
	tp_expect_items(&cl, 1, "c", "sku:5", CONVERGE_MS);
	tp_add(&cl, 1, "last", "sku", 3);
	tp_expect_items(&cl, 0, "last", "sku:3", CONVERGE_MS);
	tp_add(&cl, 0, "back", "sku", 4);
	tp_expect_items(&cl, 1, "back", "sku:4", CONVERGE_MS);
}
END_TEST

Suite *relay_suite(void)
{
	Suite *s = suite_create("relay");
	TCase *t = tcase_create("replays");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_replays_refused);
	suite_add_tcase(s, t);
	return s;
}
