/*
 * test_forge.c - a member of a running peer's cluster, made by the test
 * (see test_forge.h).
 */
#include "tests/test_forge.h"

#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crdt/buf.h"
#include "net/msg.h"
#include "net/udp.h"

void tf_open(tf_peer *f, const char *key_file, uint64_t replica)
{
	char text[4096];
	memset(f, 0, sizeof *f);
	FILE *k = fopen(key_file, "r");
	ck_assert_msg(k != NULL, "%s: cannot open", key_file);
	size_t n = fread(text, 1, sizeof text, k);
	fclose(k);
	ck_assert_int_eq(wire_keyring_parse(text, n, &f->ring, NULL, 0), 0);
	ck_assert_int_eq(wire_keyring_derive_identity(f->ring, replica), 0);
	wire_config cfg;
	wire_config_init(&cfg);
	cfg.cluster_tag = wire_cluster_tag("cartd");
	cfg.boot_nonce[0] = (uint8_t)replica;
	ck_assert_int_eq(wire_new(&cfg, f->ring, &f->w), 0);
	f->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(f->sock, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(f->sock, (struct sockaddr *)&a, sizeof a), 0);
}

void tf_close(tf_peer *f)
{
	if (f->sock >= 0)
		close(f->sock);
	wire_free(f->w);
	wire_keyring_free(f->ring);
	memset(f, 0, sizeof *f);
	f->sock = -1;
}

engine_addr tf_addr(const tf_peer *f)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	engine_addr a;
	ck_assert_int_eq(getsockname(f->sock, (struct sockaddr *)&ss, &len), 0);
	ck_assert_int_eq(udp_addr_from_sockaddr((struct sockaddr *)&ss, len, &a), 0);
	return a;
}

void tf_send(tf_peer *f, unsigned port, const uint8_t *d, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	                         .sin_port = htons((uint16_t)port) };
	ck_assert(sendto(f->sock, d, n, 0, (struct sockaddr *)&a, sizeof a) == (ssize_t)n);
}

size_t tf_hello(tf_peer *f, uint8_t *out)
{
	uint8_t chal[WIRE_CHALLENGE_LEN] = { 0xf0 };
	size_t n;
	ck_assert_int_eq(wire_hello(f->w, 0, WIRE_F_WANT_REPLY, chal, NULL, out, WIRE_HELLO_LEN, &n),
	                 0);
	return n;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void tf_take_hello(tf_peer *f, int ms)
{
	static uint8_t d[WIRE_MAX_DATAGRAM_LIMIT];
	struct pollfd p = { f->sock, POLLIN, 0 };
	long long deadline = now_ms() + ms;
	size_t other = 0;
	do {
		ssize_t n = recv(f->sock, d, sizeof d, 0);
		wire_msg m;
		if (n > 0 && wire_open(f->w, d, (size_t)n, &m) == 0 && m.type == WIRE_TYPE_HELLO) {
			f->peer = m.sender_id;
			memcpy(f->chal, m.challenge, sizeof f->chal);
			return;
		}
		if (n > 0)
			other++;
		else
			(void)poll(&p, 1, 20);
	} while (now_ms() < deadline);
	ck_abort_msg("no HELLO came back within %d ms (%zu other datagrams)", ms, other);
}

size_t tf_echo(tf_peer *f, uint8_t *out)
{
	uint8_t chal[WIRE_CHALLENGE_LEN] = { 0xf1 };
	size_t n;
	ck_assert_int_eq(wire_hello(f->w, f->peer, 0, chal, f->chal, out, WIRE_HELLO_LEN, &n), 0);
	return n;
}

void tf_shake(tf_peer *f, unsigned port)
{
	uint8_t h[WIRE_HELLO_LEN];
	tf_send(f, port, h, tf_hello(f, h));
	tf_take_hello(f, 10000);
	tf_send(f, port, h, tf_echo(f, h));
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

size_t tf_forge(uint8_t *d, const wire_hdr_spec *h, uint32_t tag, size_t body)
{
	memcpy(d, "CT", 2);
	d[2] = WIRE_VERSION;
	d[3] = MSG_AE_STATUS;
	d[4] = 0;
	put_le(d + 5, tag, 4);
	put_le(d + 9, h->sender, 8);
	put_le(d + 17, h->receiver, 8);
	put_le(d + 25, h->sender_epoch, 4);
	put_le(d + 29, h->receiver_epoch, 4);
	put_le(d + 33, h->seq, 8);
	randombytes_buf(d + WIRE_HEADER_LEN, body + WIRE_TAG_LEN);
	return WIRE_HEADER_LEN + body + WIRE_TAG_LEN;
}

size_t tf_seal(tf_peer *f, uint8_t type, const uint8_t *p, size_t len, uint8_t *out, size_t cap)
{
	size_t n = 0;
	ck_assert_int_eq(wire_seal(f->w, f->peer, type, p, len, out, cap, &n), 0);
	return n;
}

size_t tf_wrapping_groups(tf_peer *f, uint8_t *out, size_t cap)
{
	buf_writer b;
	buf_writer_init(&b);
	buf_put_u32le(&b, 1);             /* round */
	buf_put_u32le(&b, 1024);          /* --buckets default */
	buf_put_u32le(&b, UINT32_MAX);    /* first */
	buf_put_u8(&b, 1);                /* count, u16 */
	buf_put_u8(&b, 0);
	buf_put_u64le(&b, 0x0123456789abcdefull);
	ck_assert(!b.err);
	size_t n = tf_seal(f, MSG_AE_GROUPS, b.data, b.len, out, cap);
	buf_writer_destroy(&b);
	return n;
}
