/*
 * bench_udp.c - the raw ceilings of this machine under replication, in one
 * run: UDP datagrams per second on loopback, and what deflate and the AEAD
 * cost per datagram.  LMDB synced commits, the third ceiling, are measured
 * by bench_commit; its figures are quoted from commit.csv when that ran
 * earlier in the same `make bench`.
 *
 *   build/bench/bench_udp [--runs N] [--seconds S]
 *
 * UDP: two sockets on 127.0.0.1, one sender thread and one receiver thread,
 * 1200-byte datagrams (cartd's default --max-datagram).  The sender floods;
 * the figure is what the receiver got per second (loopback drops what the
 * receive buffer cannot hold, as a real peer would).  Two ways of sending:
 * sendmmsg in batches of 64, and one sendto per datagram as cartd's UDP
 * adapter does; the receiver always uses recvmmsg, as cartd does.
 *
 * Crypto and compression: one datagram-sized payload of cart-delta-like
 * records (about 2:1 under deflate), sealed as net/wire.c does it (raw
 * deflate, libdeflate's level 1, then XChaCha20-Poly1305 with the 41-byte
 * header as associated data) and opened again (decrypt, inflate).
 * bench_wire measures the real framing against these primitives in detail.
 *
 * Each figure is the median of --runs runs (default 7) of --seconds each
 * (default 0.4), the kinds interleaved run by run.  Table on stdout, CSV in
 * bench/out/udp.csv ($BENCH_OUT overrides bench/out).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <libdeflate.h>

#include "bench/bench_common.h"

#define DGRAM 1200              /* bytes per datagram: cartd's default */
#define BATCH 64                /* datagrams per sendmmsg / recvmmsg */
#define SOCKBUF (4 << 20)       /* cartd's default --socket-buffer */
#define MAX_RUNS 31
#define WARMUP_SECONDS 0.05
#define HEADER_LEN 41           /* as net/wire.h (WIRE_HEADER_LEN) */
#define PAYLOAD_LEN (DGRAM - HEADER_LEN - crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define VARIANTS 16             /* distinct payloads, cycled */
#define CRYPTO_CHUNK 256        /* seals or opens between clock reads */

static void die(const char *what)
{
	fprintf(stderr, "bench_udp: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- UDP flood ---------------------------------------------------------- */

typedef struct flood {
	int tx, rx;
	int batched;                    /* sender uses sendmmsg, else sendto */
	atomic_int stop;
	atomic_uint_fast64_t sent, received, short_reads;
} flood;

static int udp_socket(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int sz = SOCKBUF;
	socklen_t len = sizeof *bound;

	if (fd < 0)
		die("socket");
	memset(bound, 0, sizeof *bound);
	bound->sin_family = AF_INET;
	bound->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)bound, sizeof *bound) != 0)
		die("bind 127.0.0.1:0");
	if (getsockname(fd, (struct sockaddr *)bound, &len) != 0)
		die("getsockname");
	/* Capped by net.core.[rw]mem_max, as for cartd. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	return fd;
}

static void *sender(void *arg)
{
	flood *f = arg;
	static uint8_t buf[DGRAM];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];

	memset(buf, 0x5a, sizeof buf);
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ buf, sizeof buf };
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		int n;
		if (f->batched) {
			n = sendmmsg(f->tx, msgs, BATCH, 0);
		} else {
			n = 0;
			for (int i = 0; i < BATCH; i++)
				n += send(f->tx, buf, sizeof buf, 0) == (ssize_t)sizeof buf;
		}
		if (n > 0)
			atomic_fetch_add_explicit(&f->sent, (uint_fast64_t)n, memory_order_relaxed);
	}
	return NULL;
}

static void *receiver(void *arg)
{
	flood *f = arg;
	static uint8_t bufs[BATCH][DGRAM + 1];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];

	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof bufs[i] };
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		/* SO_RCVTIMEO bounds the wait, so stop is seen within 20 ms. */
		int n = recvmmsg(f->rx, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		uint_fast64_t bad = 0;
		for (int i = 0; i < n; i++)
			bad += msgs[i].msg_len != DGRAM;
		atomic_fetch_add_explicit(&f->received, (uint_fast64_t)n, memory_order_relaxed);
		if (bad)
			atomic_fetch_add_explicit(&f->short_reads, bad, memory_order_relaxed);
	}
	return NULL;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One run: received and sent datagrams per second over `seconds`. */
static void flood_run(int batched, double seconds, double *rx_rate, double *tx_rate,
                      uint64_t *short_reads)
{
	flood f = { .batched = batched };
	struct sockaddr_in a, b;
	struct timeval tv = { 0, 20000 };
	pthread_t ts, tr;

	f.rx = udp_socket(&a);
	f.tx = udp_socket(&b);
	if (setsockopt(f.rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
		die("SO_RCVTIMEO");
	if (connect(f.tx, (struct sockaddr *)&a, sizeof a) != 0)
		die("connect");
	atomic_init(&f.stop, 0);
	atomic_init(&f.sent, 0);
	atomic_init(&f.received, 0);
	atomic_init(&f.short_reads, 0);
	if (pthread_create(&tr, NULL, receiver, &f) != 0 ||
	    pthread_create(&ts, NULL, sender, &f) != 0) {
		fprintf(stderr, "bench_udp: pthread_create failed\n");
		exit(1);
	}
	sleep_s(WARMUP_SECONDS);
	double t0 = bench_now();
	uint64_t s0 = atomic_load(&f.sent), r0 = atomic_load(&f.received);
	sleep_s(seconds);
	double t1 = bench_now();
	uint64_t s1 = atomic_load(&f.sent), r1 = atomic_load(&f.received);
	atomic_store(&f.stop, 1);
	pthread_join(ts, NULL);
	pthread_join(tr, NULL);
	close(f.tx);
	close(f.rx);
	*rx_rate = (double)(r1 - r0) / (t1 - t0);
	*tx_rate = (double)(s1 - s0) / (t1 - t0);
	*short_reads += atomic_load(&f.short_reads);
}

/* ---- seal and open -------------------------------------------------------- */

typedef struct crypt_ctx {
	uint8_t payload[VARIANTS][PAYLOAD_LEN];
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	uint8_t header[HEADER_LEN];
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t zbuf[PAYLOAD_LEN + 64];
	uint8_t sealed[VARIANTS][DGRAM + 64];
	unsigned long long sealed_len[VARIANTS];
	uint8_t plain[DGRAM + 64], out[PAYLOAD_LEN + 64];
	struct libdeflate_compressor *def;
	struct libdeflate_decompressor *inf;
	size_t zsum;
	uint64_t sink;
} crypt_ctx;

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	for (; v >= 0x80; v >>= 7)
		p[n++] = (uint8_t)(v | 0x80);
	p[n++] = (uint8_t)v;
	return n;
}

/* Records shaped like cart deltas: id and sku strings, a replica id from a
 * few peers, a growing counter, a kind, a quantity (as bench_wire). */
static void make_payload(uint8_t *p, uint64_t seed)
{
	static const uint64_t replicas[3] = {
		0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull };
	uint64_t st = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t off = 0;

	for (uint32_t i = 0; off < PAYLOAD_LEN; i++) {
		uint8_t rec[80];
		char s[32];
		uint64_t x = bench_rand(&st);
		size_t n = 0;
		int k = snprintf(s, sizeof s, "cart-%u", (unsigned)(x % 100000));
		n += put_varint(rec + n, (uint64_t)k);
		memcpy(rec + n, s, (size_t)k);
		n += (size_t)k;
		k = snprintf(s, sizeof s, "sku-%u", (unsigned)(x >> 20) % 50 + 1);
		n += put_varint(rec + n, (uint64_t)k);
		memcpy(rec + n, s, (size_t)k);
		n += (size_t)k;
		for (int b = 0; b < 8; b++)
			rec[n++] = (uint8_t)(replicas[(x >> 40) % 3] >> (8 * b));
		n += put_varint(rec + n, 1000 + seed * 64 + i);
		rec[n++] = 0;
		n += put_varint(rec + n, 1);
		if (n > PAYLOAD_LEN - off)
			n = PAYLOAD_LEN - off;
		memcpy(p + off, rec, n);
		off += n;
	}
}

static size_t seal_one(crypt_ctx *c, size_t v)
{
	unsigned long long clen;
	size_t zlen = libdeflate_deflate_compress(c->def, c->payload[v], PAYLOAD_LEN, c->zbuf,
	                                          sizeof c->zbuf);
	if (zlen == 0) {
		fprintf(stderr, "bench_udp: deflate failed\n");
		exit(1);
	}
	c->nonce[0] = (uint8_t)v;
	crypto_aead_xchacha20poly1305_ietf_encrypt(c->sealed[v], &clen, c->zbuf, zlen,
	                                           c->header, sizeof c->header, NULL,
	                                           c->nonce, c->key);
	c->sealed_len[v] = clen;
	return zlen;
}

static void open_one(crypt_ctx *c, size_t v)
{
	unsigned long long plen;
	size_t got;

	c->nonce[0] = (uint8_t)v;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(c->plain, &plen, NULL, c->sealed[v],
	                                               c->sealed_len[v], c->header,
	                                               sizeof c->header, c->nonce, c->key) != 0) {
		fprintf(stderr, "bench_udp: decrypt failed\n");
		exit(1);
	}
	if (libdeflate_deflate_decompress(c->inf, c->plain, (size_t)plen, c->out, sizeof c->out,
	                                  &got) != LIBDEFLATE_SUCCESS || got != PAYLOAD_LEN) {
		fprintf(stderr, "bench_udp: inflate failed\n");
		exit(1);
	}
	c->sink += c->out[v % PAYLOAD_LEN];
}

static void crypt_init(crypt_ctx *c)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "bench_udp: sodium_init failed\n");
		exit(1);
	}
	memset(c, 0, sizeof *c);
	crypto_aead_xchacha20poly1305_ietf_keygen(c->key);
	for (size_t v = 0; v < VARIANTS; v++)
		make_payload(c->payload[v], v + 1);
	memset(c->header, 0x11, sizeof c->header);
	c->def = libdeflate_alloc_compressor(1);
	c->inf = libdeflate_alloc_decompressor();
	if (c->def == NULL || c->inf == NULL) {
		fprintf(stderr, "bench_udp: libdeflate init failed\n");
		exit(1);
	}
	for (size_t v = 0; v < VARIANTS; v++)
		c->zsum += seal_one(c, v);
}

/* Nanoseconds per seal (do_open 0) or open (1), over `seconds`. */
static double crypt_run(crypt_ctx *c, int do_open, double seconds)
{
	double t0 = bench_now(), t;
	size_t n = 0;

	do {
		for (int i = 0; i < CRYPTO_CHUNK; i++, n++) {
			if (do_open)
				open_one(c, n % VARIANTS);
			else
				seal_one(c, n % VARIANTS);
		}
		t = bench_now();
	} while (t - t0 < seconds);
	return (t - t0) * 1e9 / (double)n;
}

/* ---- LMDB ceiling, quoted from bench_commit's CSV ----------------------- */

static void quote_commit_csv(void)
{
	const char *dir = getenv("BENCH_OUT");
	char path[600], line[512];
	struct stat st;

	snprintf(path, sizeof path, "%s/commit.csv", dir && *dir ? dir : "bench/out");
	FILE *f = fopen(path, "r");
	if (f == NULL || fstat(fileno(f), &st) != 0) {
		printf("   LMDB synced commits: %s not found (bench_commit measures them)\n", path);
		if (f)
			fclose(f);
		return;
	}
	printf("   LMDB ceilings, from %s (bench_commit, %.0f s ago; the disk's sync rate varies):\n",
	       path, difftime(time(NULL), st.st_mtime));
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "\"raw synced commits/s\"", 22) == 0 ||
		    strncmp(line, "\"committer 64w records/s\"", 25) == 0) {
			char *v = strchr(line, ',');
			char *end = v ? strchr(v + 1, ',') : NULL;
			if (v && end) {
				*end = '\0';
				*strchr(line + 1, '"') = '\0';
				printf("     %-28s %s\n", line + 1, v + 1);
			}
		}
	}
	fclose(f);
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: bench_udp [--runs N (1..%d)] [--seconds S]\n", MAX_RUNS);
	exit(2);
}

int main(int argc, char **argv)
{
	int runs = 7;
	double seconds = 0.4;
	static crypt_ctx cc;
	double rx[2][MAX_RUNS], tx[2][MAX_RUNS], seal[MAX_RUNS], open_ns[MAX_RUNS];
	uint64_t short_reads = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else
			usage();
	}
	if (runs < 1 || runs > MAX_RUNS || !(seconds > 0 && seconds <= 60))
		usage();

	bench_header("Raw ceilings: UDP loopback, AEAD and deflate per datagram", argc, argv);
	crypt_init(&cc);
	printf("   %d runs x %.2f s; %d-byte datagrams; payload %u bytes deflating to %.0f "
	       "(level 1, window 2^12)\n", runs, seconds, DGRAM, (unsigned)PAYLOAD_LEN,
	       (double)cc.zsum / VARIANTS);

	for (int r = 0; r < runs; r++) {
		flood_run(1, seconds, &rx[0][r], &tx[0][r], &short_reads);
		flood_run(0, seconds, &rx[1][r], &tx[1][r], &short_reads);
		seal[r] = crypt_run(&cc, 0, seconds / 4);
		open_ns[r] = crypt_run(&cc, 1, seconds / 4);
	}
	if (short_reads)
		printf("   warning: %llu datagrams arrived truncated or short\n",
		       (unsigned long long)short_reads);

	double rx_b = bench_median(rx[0], (size_t)runs), tx_b = bench_median(tx[0], (size_t)runs);
	double rx_1 = bench_median(rx[1], (size_t)runs), tx_1 = bench_median(tx[1], (size_t)runs);
	double seal_ns = bench_median(seal, (size_t)runs);
	double open_med = bench_median(open_ns, (size_t)runs);

	bench_table t;
	bench_table_open(&t, "udp");
	bench_table_row(&t, "UDP rx, sendmmsg x64", rx_b, "dgrams/s", "sent/s", tx_b,
	                BENCH_NONE, 0);
	bench_table_row(&t, "UDP rx, sendto x1 (cartd)", rx_1, "dgrams/s", "sent/s", tx_1,
	                BENCH_NONE, 0);
	bench_table_row(&t, "UDP rx, sendto x1 (cartd)", rx_1, "dgrams/s", "rx with sendmmsg x64",
	                rx_b, BENCH_NONE, 0);
	bench_table_row(&t, "UDP rx, sendmmsg x64", rx_b * DGRAM / 1e6, "MB/s", NULL, 0,
	                BENCH_NONE, 0);
	bench_table_row(&t, "seal (deflate+AEAD)", seal_ns, "ns/dgram", NULL, 0, BENCH_NONE, 0);
	bench_table_row(&t, "open (AEAD+inflate)", open_med, "ns/dgram", NULL, 0, BENCH_NONE, 0);
	bench_table_row(&t, "seals/s on one core", 1e9 / seal_ns, "dgrams/s",
	                "UDP rx, sendto x1", rx_1, BENCH_NONE, 0);
	bench_table_row(&t, "opens/s on one core", 1e9 / open_med, "dgrams/s",
	                "UDP rx, sendmmsg x64", rx_b, BENCH_NONE, 0);
	bench_table_close(&t);
	quote_commit_csv();
	libdeflate_free_compressor(cc.def);
	libdeflate_free_decompressor(cc.inf);
	/* Keeps the opened bytes observable, so the opens are not optimized out. */
	volatile uint64_t keep = cc.sink;
	(void)keep;
	return 0;
}
