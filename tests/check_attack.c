/*
 * check_attack.c - attacks from outside against real cartd processes on
 * loopback, through a UDP socket of the test's own: HELLO floods of minted
 * identities (the development keyring lets its holder certify itself),
 * the amplification ratio they get, junk and sealed-looking datagrams,
 * another protocol version, a real peer's id forged with the largest
 * epoch, and a peer cut out by a revocation and SIGHUP.  After each, the
 * attacked peer is alive, the rejection is counted under its cause, and
 * the real peers still replicate.  In-process attacks with exact byte
 * accounting are check_insider.c.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/keyring.h"
#include "net/wire.h"
#include "tests/test_proc.h"
#include "tests/test_tmpdir.h"

Suite *attack_suite(void);

#define CONVERGE_MS 15000

static char parent[64];
static tp_cluster cl;
static int sock = -1;
static uint64_t sent_bytes;

static void dir_setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-attack");
}

static void dir_teardown(void)
{
	tt_rmtree(parent);
}

static void cl_setup(void)
{
	tp_light();
	tp_cluster_init(&cl, parent);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(sock, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(sock, (struct sockaddr *)&a, sizeof a), 0);
	sent_bytes = 0;
}

static void cl_teardown(void)
{
	close(sock);
	tp_cluster_destroy(&cl);
}

static void send_to(int i, const uint8_t *d, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	                         .sin_port = htons((uint16_t)cl.peers[i].gossip_port) };
	ck_assert(sendto(sock, d, n, 0, (struct sockaddr *)&a, sizeof a) == (ssize_t)n);
	sent_bytes += n;
}

/* Bytes waiting on the attacker's socket (non-blocking drain). */
static uint64_t drain(void)
{
	uint8_t buf[65536];
	uint64_t got = 0;
	ssize_t r;
	while ((r = recv(sock, buf, sizeof buf, 0)) > 0)
		got += (uint64_t)r;
	return got;
}

/* Polls a metric of peer i until it reaches at least want. */
static double wait_metric(int i, const char *sample, double want)
{
	long long deadline = tp_now_ms() + CONVERGE_MS;
	double v = tp_metric(&cl, i, sample);
	while (v < want && tp_now_ms() < deadline) {
		poll(NULL, 0, 20);
		v = tp_metric(&cl, i, sample);
	}
	ck_assert_msg(v >= want, "peer%d: %s is %g, wanted %g", i, sample, v, want);
	return v;
}

static uint64_t self_id(int i)
{
	int st = 0;
	json_t *v = tp_json(&cl, i, "GET", "/cluster", NULL, &st);
	ck_assert_int_eq(st, 200);
	const char *id = json_string_value(json_object_get(json_object_get(v, "self"), "id"));
	ck_assert_ptr_nonnull(id);
	uint64_t x = strtoull(id, NULL, 16);
	json_decref(v);
	return x;
}

/* A write at `from`, visible at `to`; returns the lag seen, in ms. */
static long long replicate(int from, int to, const char *cart)
{
	long long t0 = tp_now_ms();
	tp_add(&cl, from, cart, "sku", 1);
	tp_expect_items(&cl, to, cart, "sku:1", CONVERGE_MS);
	return tp_now_ms() - t0;
}

/* A wire with an identity minted from the cluster's development keyring:
 * what anyone who can read that file can do. */
static wire *mint(const char *keyfile, uint64_t replica, wire_keyring **ring)
{
	char text[4096];
	FILE *f = fopen(keyfile, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(text, 1, sizeof text, f);
	fclose(f);
	ck_assert_int_eq(wire_keyring_parse(text, n, ring, NULL, 0), 0);
	ck_assert_int_eq(wire_keyring_derive_identity(*ring, replica), 0);
	wire_config cfg;
	wire_config_init(&cfg);
	cfg.cluster_tag = wire_cluster_tag("cartd");
	wire *w = NULL;
	ck_assert_int_eq(wire_new(&cfg, *ring, &w), 0);
	return w;
}

START_TEST(test_hello_flood_amplification)
{
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, false, NULL);
	long long base = replicate(1, 0, "before");
	double answered0 = tp_metric(&cl, 0, "cartd_handshakes_answered_total");
	/* 40 new identities, each sending a HELLO that wants an answer */
	for (uint64_t k = 0; k < 40; k++) {
		wire_keyring *r;
		wire *w = mint(cl.key, 9000 + k, &r);
		uint8_t h[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN] = { 1 };
		size_t n;
		ck_assert_int_eq(wire_hello(w, 0, WIRE_F_WANT_REPLY, chal, NULL, h, sizeof h, &n), 0);
		send_to(0, h, n);
		wire_free(w);
		wire_keyring_free(r);
	}
	/* and junk shaped like sealed datagrams of ours */
	uint8_t junk[1200];
	memset(junk, 0x5a, sizeof junk);
	memcpy(junk, "CT\x03\x01\x00", 5);
	for (int k = 0; k < 40; k++)
		send_to(0, junk, sizeof junk);
	wait_metric(0, "cartd_handshakes_answered_total", answered0 + 40);
	replicate(1, 0, "fence");   /* everything sent earlier was handled */
	uint64_t got = drain();
	printf("attack: %llu bytes sent, %llu answered (ratio %.2f)\n",
	       (unsigned long long)sent_bytes, (unsigned long long)got,
	       (double)got / (double)sent_bytes);
	ck_assert_msg(got <= sent_bytes, "amplified: %llu bytes for %llu",
	              (unsigned long long)got, (unsigned long long)sent_bytes);
	ck_assert(tp_metric(&cl, 0, "cartd_candidates") <= 256);
	ck_assert(tp_metric(&cl, 0, "cartd_members{state=\"alive\"}") >= 2);
	long long after = replicate(1, 0, "after");
	printf("attack: replication lag %lld ms before, %lld ms after\n", base, after);
}
END_TEST

START_TEST(test_version_and_forged_epoch)
{
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, false, NULL);
	replicate(1, 0, "before");
	/* a peer of version 2 */
	uint8_t old[200] = { 'C', 'T', 2, 1, 0 };
	double v0 = tp_metric(&cl, 0, "cartd_datagrams_rejected_total{cause=\"version\"}");
	send_to(0, old, sizeof old);
	wait_metric(0, "cartd_datagrams_rejected_total{cause=\"version\"}", v0 + 1);
	/* a minted identity's HELLO relabelled as peer 1, at the last epoch:
	 * the lock-out of protocol 1 */
	uint64_t victim = self_id(1);
	wire_keyring *r;
	wire *w = mint(cl.key, 31337, &r);
	uint8_t h[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN] = { 2 };
	size_t n;
	ck_assert_int_eq(wire_hello(w, self_id(0), 0, chal, NULL, h, sizeof h, &n), 0);
	for (int i = 0; i < 8; i++)
		h[9 + i] = (uint8_t)(victim >> (8 * i));
	memset(h + 25, 0xff, 4);
	double c0 = tp_metric(&cl, 0, "cartd_datagrams_rejected_total{cause=\"cert\"}");
	send_to(0, h, n);
	wait_metric(0, "cartd_datagrams_rejected_total{cause=\"cert\"}", c0 + 1);
	wire_free(w);
	wire_keyring_free(r);
	/* peer 1 is not locked out, not even across its restart */
	replicate(1, 0, "after");
	tp_stop(&cl, 1, SIGTERM);
	tp_restart(&cl, 1);
	replicate(1, 0, "restarted");
	replicate(0, 1, "back");
}
END_TEST

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

START_TEST(test_revocation_by_sighup)
{
	/* production keyrings: one issued per peer, no cluster secret */
	char text[4096], path[3][300], issued[3][WIRE_KEYRING_TEXT_MAX];
	uint64_t ids[3];
	FILE *f = fopen(cl.key, "r");
	size_t n = fread(text, 1, sizeof text, f);
	fclose(f);
	wire_keyring *c;
	ck_assert_int_eq(wire_keyring_parse(text, n, &c, NULL, 0), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(wire_keyring_issue(c, issued[i], sizeof issued[i], &ids[i]), 0);
		snprintf(path[i], sizeof path[i], "%s/peer%d.key", cl.base, i);
		write_file(path[i], issued[i]);
		tp_add_peer(&cl, false, path[i]);
	}
	wire_keyring_free(c);
	ck_assert_uint_eq(self_id(2), ids[2]);
	replicate(2, 0, "before");
	/* peers 0 and 1 revoke peer 2, and reload */
	for (int i = 0; i < 2; i++) {
		char more[sizeof issued + 64];
		snprintf(more, sizeof more, "%srevoke %016llx\n", issued[i],
		         (unsigned long long)ids[2]);
		write_file(path[i], more);
		ck_assert_int_eq(kill(cl.peers[i].pid, SIGHUP), 0);
	}
	wait_metric(0, "cartd_datagrams_rejected_total{cause=\"revoked\"}", 1);
	wait_metric(1, "cartd_datagrams_rejected_total{cause=\"revoked\"}", 1);
	tp_add(&cl, 2, "cut", "sku", 1);
	replicate(1, 0, "still");   /* the others go on */
	char seen[256];
	tp_items(&cl, 0, "cut", seen, sizeof seen);
	ck_assert_msg(strcmp(seen, "") == 0, "peer0 took a revoked peer's write: %s", seen);
	tp_items(&cl, 1, "cut", seen, sizeof seen);
	ck_assert_msg(strcmp(seen, "") == 0, "peer1 took a revoked peer's write: %s", seen);
}
END_TEST

Suite *attack_suite(void)
{
	Suite *s = suite_create("attack");
	TCase *t = tcase_create("outside");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_hello_flood_amplification);
	tcase_add_test(t, test_version_and_forged_epoch);
	tcase_add_test(t, test_revocation_by_sighup);
	suite_add_tcase(s, t);
	return s;
}
