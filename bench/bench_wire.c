/*
 * bench_wire.c - cost of the datagram framing against its raw primitives.
 *
 * On the same ~1100-byte cart-delta payloads, in the same run, measures:
 *   seal  = wire_seal (session lookup, deflate + XChaCha20-Poly1305 under
 *           the pair's key, header, counters)
 *   open  = wire_open (checks, session lookup, AEAD verify, the session's
 *           replay window, inflate)
 * and the primitives alone, with the same parameters and reused streams:
 *   deflate+encrypt, decrypt+inflate, and each primitive on its own.
 * ratio = framing time / raw primitives time (target <= 1.15).
 * It also measures what a new pair of peers costs: one HELLO signed by its
 * sender and verified by its receiver (certificate, signature, crypto_kx,
 * key derivation); a handshake is three of them.
 *
 * Each operation runs REPS times, interleaved so that drift of the machine
 * hits all rows alike, and the median is reported.  Table on stdout, CSV in
 * bench/out/wire.csv ($BENCH_OUT overrides bench/out).  Timing helpers are
 * local: this program does not depend on bench_common.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#define ZLIB_CONST
#include <libdeflate.h>
#include <zlib.h>

#include "net/keyring.h"
#include "net/wire.h"

#define REPS 7
#define REP_SECONDS 0.2
#define PASS 1024               /* datagrams opened per fresh receiver */
#define VARIANTS 64             /* distinct payloads, cycled */
#define PAYLOAD_LEN 1100u
#define CHUNK 32                /* steps between clock reads; divides PASS */
#define SLICES 10               /* a repetition is spread over this many turns */
#define NSWEEP 6
#define TARGET_RATIO 1.15       /* framing may cost this much over its primitives */

typedef struct ctx {
	uint8_t payload[VARIANTS][PAYLOAD_LEN];
	uint8_t (*dg)[WIRE_MAX_DATAGRAM_DEFAULT];   /* PASS sealed datagrams */
	size_t dg_len[PASS];
	uint8_t nonce[PASS][24];
	uint8_t zbuf[VARIANTS][PAYLOAD_LEN];        /* deflated payloads */
	size_t zlen[VARIANTS];
	/* separate buffers, as wire.c has: deflate output, sealed datagram,
	 * decrypted body, inflated payload */
	uint8_t zout[PAYLOAD_LEN], sealed[WIRE_MAX_DATAGRAM_DEFAULT];
	uint8_t plain[WIRE_MAX_DATAGRAM_DEFAULT], out[WIRE_MAX_PAYLOAD_DEFAULT];
	uint8_t ad[WIRE_HEADER_LEN], fixed_nonce[24];
	uint8_t key[32];                            /* raw rows' key */
	uint8_t (*raw)[WIRE_MAX_DATAGRAM_DEFAULT];  /* PASS datagrams sealed raw */
	size_t raw_len[PASS];
	wire_keyring *ring[4];                      /* rx, tx, sealer, handshake */
	wire_config rx_cfg;
	wire *tx, *rx, *hs;
	uint8_t hello[WIRE_HELLO_LEN];              /* sealer's, to a fresh rx */
	uint64_t rx_id, hs_id;
	struct libdeflate_compressor *def;          /* as wire.c's */
	struct libdeflate_decompressor *inf;
	z_stream sweep[NSWEEP];                     /* one per zparams row (zlib) */
	uint64_t sink;
} ctx;

typedef struct op op;
struct op {
	const char *name;
	void (*prepare)(ctx *c);                       /* untimed, per pass */
	size_t (*step)(ctx *c, const op *o, size_t i); /* timed */
	int arg;
	size_t pos;                                    /* next step in the pass */
	double med;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_wire: %s\n", what);
	exit(1);
}

/* ---- payloads ----------------------------------------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/*
 * Records shaped like the cart codec's deltas: cart id and sku strings, a
 * replica id from a handful of peers, a growing dot counter, a kind and a
 * quantity.  Deflates about 2:1, like real batches of deltas.
 */
static void make_payload(uint8_t *p, uint32_t seed)
{
	static const uint64_t replicas[4] = {
		0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull,
		0x3c6ef372fe94f82bull, 0xa54ff53a5f1d36f1ull};
	uint8_t rec[96];
	size_t off = 0;

	for (uint32_t i = 0; off < PAYLOAD_LEN; i++) {
		uint32_t x = (seed * 2654435761u) ^ (i * 40503u);
		size_t n = 0;
		char id[40];
		int k = snprintf(id, sizeof(id), "cart-%08x", x % 5000u * 2654435761u);

		n += put_varint(rec + n, (uint64_t)k);
		memcpy(rec + n, id, (size_t)k);
		n += (size_t)k;
		k = snprintf(id, sizeof(id), "SKU-%06u", x % 997u);
		n += put_varint(rec + n, (uint64_t)k);
		memcpy(rec + n, id, (size_t)k);
		n += (size_t)k;
		for (int b = 0; b < 8; b++)
			rec[n++] = (uint8_t)(replicas[x % 4] >> (8 * b));
		n += put_varint(rec + n, 1000u + seed * 50u + i);
		rec[n++] = (uint8_t)(x % 2);
		n += put_varint(rec + n, x % 7u + 1u);
		if (n > PAYLOAD_LEN - off)
			n = PAYLOAD_LEN - off;
		memcpy(p + off, rec, n);
		off += n;
	}
}

/* ---- framing ------------------------------------------------------------ */

static size_t step_seal(ctx *c, const op *o, size_t i)
{
	size_t len = 0;

	(void)o;
	if (wire_seal(c->tx, c->rx_id, 1, c->payload[i % VARIANTS], PAYLOAD_LEN,
		      c->sealed, sizeof(c->sealed), &len) != 0)
		die("seal failed");
	return len;
}

static void prep_open(ctx *c)
{
	wire_msg m;

	/* a fresh receiver, in the same boot: the sealer's HELLO gives it the
	 * session the datagrams were sealed under, with an empty window */
	wire_free(c->rx);
	c->rx = NULL;
	if (wire_new(&c->rx_cfg, c->ring[0], &c->rx) != 0)
		die("wire_new");
	if (wire_open(c->rx, c->hello, sizeof(c->hello), &m) != 0)
		die("hello to a fresh receiver");
}

/* One HELLO made and verified, for a pair the receiver does not know. */
static size_t step_hello(ctx *c, const op *o, size_t i)
{
	uint8_t chal[WIRE_CHALLENGE_LEN] = {(uint8_t)i};
	wire_msg m;
	size_t len = 0;

	(void)o;
	wire_forget(c->rx, c->hs_id);
	if (wire_hello(c->hs, c->rx_id, 0, chal, NULL, c->sealed, sizeof(c->sealed), &len) != 0 ||
	    wire_open(c->rx, c->sealed, len, &m) != 0)
		die("hello");
	return len;
}

static size_t step_open(ctx *c, const op *o, size_t i)
{
	wire_msg m;

	(void)o;
	if (wire_open(c->rx, c->dg[i], c->dg_len[i], &m) != 0)
		die("open failed");
	return m.payload_len;
}

/* ---- raw primitives ----------------------------------------------------- */

/* Same bound as wire.c: the deflated form is only of use if smaller. */
static size_t raw_deflate(ctx *c, const uint8_t *p, size_t n)
{
	size_t z = libdeflate_deflate_compress(c->def, p, n, c->zout, n - 1);
	if (z == 0)
		die("deflate");
	return z;
}

static size_t raw_inflate(ctx *c, const uint8_t *z, size_t n)
{
	size_t out = 0;
	if (libdeflate_deflate_decompress(c->inf, z, n, c->out, sizeof(c->out), &out) !=
	    LIBDEFLATE_SUCCESS)
		die("inflate");
	return out;
}

static size_t step_deflate(ctx *c, const op *o, size_t i)
{
	(void)o;
	return raw_deflate(c, c->payload[i % VARIANTS], PAYLOAD_LEN);
}

static size_t step_encrypt(ctx *c, const op *o, size_t i)
{
	unsigned long long n = 0;

	(void)o;
	crypto_aead_xchacha20poly1305_ietf_encrypt(c->sealed + WIRE_HEADER_LEN, &n,
		c->zbuf[i % VARIANTS], c->zlen[i % VARIANTS], c->ad, sizeof(c->ad),
		NULL, c->fixed_nonce, c->key);
	return (size_t)n;
}

static size_t step_raw_seal(ctx *c, const op *o, size_t i)
{
	unsigned long long n = 0;
	size_t z = raw_deflate(c, c->payload[i % VARIANTS], PAYLOAD_LEN);

	(void)o;
	crypto_aead_xchacha20poly1305_ietf_encrypt(c->sealed + WIRE_HEADER_LEN, &n, c->zout, z,
		c->ad, sizeof(c->ad), NULL, c->fixed_nonce, c->key);
	return (size_t)n;
}

static size_t decrypt_dg(ctx *c, size_t i)
{
	unsigned long long n = 0;

	if (crypto_aead_xchacha20poly1305_ietf_decrypt(c->plain, &n, NULL,
			c->raw[i] + WIRE_HEADER_LEN, c->raw_len[i] - WIRE_HEADER_LEN,
			c->raw[i], WIRE_HEADER_LEN, c->nonce[i], c->key) != 0)
		die("decrypt");
	return (size_t)n;
}

static size_t step_decrypt(ctx *c, const op *o, size_t i)
{
	(void)o;
	return decrypt_dg(c, i);
}

static size_t step_inflate(ctx *c, const op *o, size_t i)
{
	(void)o;
	return raw_inflate(c, c->zbuf[i % VARIANTS], c->zlen[i % VARIANTS]);
}

static size_t step_raw_open(ctx *c, const op *o, size_t i)
{
	(void)o;
	return raw_inflate(c, c->plain, decrypt_dg(c, i));
}

/* ---- setup -------------------------------------------------------------- */

static void streams_init(ctx *c, int level)
{
	c->def = libdeflate_alloc_compressor(level);
	c->inf = libdeflate_alloc_decompressor();
	if (c->def == NULL || c->inf == NULL)
		die("libdeflate init");
}

/* A wire with identity k (derived from one development keyring). */
static wire *new_wire(ctx *c, const char *text, int k)
{
	wire_config cfg;
	wire *w = NULL;

	if (wire_keyring_parse(text, strlen(text), &c->ring[k], NULL, 0) != 0 ||
	    wire_keyring_derive_identity(c->ring[k], (uint64_t)k + 1) != 0)
		die("keyring");
	wire_config_init(&cfg);
	cfg.boot_epoch = 1;
	cfg.cluster_tag = wire_cluster_tag("bench");
	randombytes_buf(cfg.boot_nonce, sizeof(cfg.boot_nonce));
	if (wire_new(&cfg, c->ring[k], &w) != 0)
		die("wire_new");
	if (k == 0)
		c->rx_cfg = cfg;
	return w;
}

/* HELLO from a to b (stored in out when not NULL), opened by b. */
static void hello(wire *a, wire *b, uint8_t *out)
{
	uint8_t d[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN] = {0};
	size_t n;
	wire_msg m;

	if (wire_hello(a, wire_self_id(b), 0, chal, NULL, d, sizeof(d), &n) != 0 ||
	    wire_open(b, d, n, &m) != 0)
		die("handshake");
	if (out != NULL)
		memcpy(out, d, n);
}

/* The raw rows seal the same deflated payloads under a key of their own,
 * with the same header as associated data and nonces as wire.c builds. */
static void raw_seal_all(ctx *c)
{
	randombytes_buf(c->key, sizeof(c->key));
	c->raw = malloc(PASS * sizeof(*c->raw));
	if (c->raw == NULL)
		die("out of memory");
	for (size_t i = 0; i < PASS; i++) {
		unsigned long long n = 0;

		memcpy(c->raw[i], c->dg[i], WIRE_HEADER_LEN);
		/* nonce = sequence (header bytes 33..40) || 16 zeros */
		memset(c->nonce[i], 0, sizeof(c->nonce[i]));
		memcpy(c->nonce[i], c->dg[i] + 33, 8);
		crypto_aead_xchacha20poly1305_ietf_encrypt(c->raw[i] + WIRE_HEADER_LEN, &n,
			c->zbuf[i % VARIANTS], c->zlen[i % VARIANTS], c->raw[i],
			WIRE_HEADER_LEN, NULL, c->nonce[i], c->key);
		c->raw_len[i] = WIRE_HEADER_LEN + (size_t)n;
	}
}

static void setup(ctx *c)
{
	char text[WIRE_KEYRING_TEXT_MAX];
	wire *sealer;

	if (sodium_init() < 0 || wire_keyring_generate(text, sizeof(text)) != 0)
		die("keyring");
	c->dg = malloc(PASS * sizeof(*c->dg));
	if (c->dg == NULL)
		die("out of memory");
	for (uint32_t v = 0; v < VARIANTS; v++)
		make_payload(c->payload[v], v);
	c->rx = new_wire(c, text, 0);
	c->tx = new_wire(c, text, 1);
	sealer = new_wire(c, text, 2);
	c->hs = new_wire(c, text, 3);
	c->rx_id = wire_self_id(c->rx);
	c->hs_id = wire_self_id(c->hs);
	hello(c->tx, c->rx, NULL);
	hello(c->rx, c->tx, NULL);
	hello(sealer, c->rx, c->hello);
	hello(c->rx, sealer, NULL);
	for (size_t i = 0; i < PASS; i++) {
		if (wire_seal(sealer, c->rx_id, 1, c->payload[i % VARIANTS], PAYLOAD_LEN, c->dg[i],
			      sizeof(c->dg[i]), &c->dg_len[i]) != 0 ||
		    !(c->dg[i][4] & WIRE_F_DEFLATE))
			die("pre-seal");
	}
	wire_free(sealer);
	memcpy(c->ad, c->dg[0], sizeof(c->ad));
	randombytes_buf(c->fixed_nonce, sizeof(c->fixed_nonce));
	streams_init(c, WIRE_DEFLATE_LEVEL_DEFAULT);
	for (size_t v = 0; v < VARIANTS; v++) {
		c->zlen[v] = raw_deflate(c, c->payload[v], PAYLOAD_LEN);
		memcpy(c->zbuf[v], c->zout, c->zlen[v]);
	}
	raw_seal_all(c);
}

/* ---- measuring ---------------------------------------------------------- */

/* Runs o in chunks of CHUNK steps until seconds have been spent in step();
 * adds the operations done and the time spent to *n and *t.  A fresh pass
 * (prepare, untimed) starts every PASS steps. */
static void run_slice(ctx *c, op *o, double seconds, double *n, double *t)
{
	double spent = 0;

	while (spent < seconds) {
		size_t end = o->pos + CHUNK;
		double t0;

		if (o->pos == 0 && o->prepare != NULL)
			o->prepare(c);
		t0 = now();
		for (size_t i = o->pos; i < end; i++)
			c->sink += o->step(c, o, i);
		spent += now() - t0;
		*n += CHUNK;
		o->pos = end % PASS;
	}
	*t += spent;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * REPS repetitions of every operation.  A repetition is spread over SLICES
 * turns taken in round robin with the other operations, so a burst of
 * load from elsewhere on the machine hits every row alike.
 */
static void measure_all(ctx *c, op *ops, size_t nops, double rep_seconds)
{
	double (*rate)[REPS] = calloc(nops, sizeof(*rate));
	double warm_n = 0, warm_t = 0;

	if (rate == NULL)
		die("out of memory");
	for (size_t o = 0; o < nops; o++)   /* warm caches and CPU clock */
		run_slice(c, &ops[o], rep_seconds / SLICES, &warm_n, &warm_t);
	for (int r = 0; r < REPS; r++) {
		double n[16] = {0}, t[16] = {0};

		for (int sl = 0; sl < SLICES; sl++)
			for (size_t o = 0; o < nops; o++)
				run_slice(c, &ops[o], rep_seconds / SLICES, &n[o], &t[o]);
		for (size_t o = 0; o < nops; o++)
			rate[o][r] = n[o] / t[o];
	}
	for (size_t o = 0; o < nops; o++)
		ops[o].med = median(rate[o], REPS);
	free(rate);
}

/* ---- zlib's deflate parameters, for comparison (cartd used level 1,
 * wbits 12, memlevel 5 before libdeflate) -------------------------------- */

typedef struct zparams {
	int level, wbits, memlevel;
} zparams;

static const zparams zp[NSWEEP] = {
	{1, 12, 5}, {3, 12, 5}, {6, 12, 5}, {1, 15, 8}, {6, 15, 8}, {9, 15, 8}};

static size_t step_sweep(ctx *c, const op *o, size_t i)
{
	z_stream *z = &c->sweep[o->arg];

	deflateReset(z);
	z->next_in = c->payload[i % VARIANTS];
	z->avail_in = PAYLOAD_LEN;
	z->next_out = c->zout;
	z->avail_out = PAYLOAD_LEN - 1;
	if (deflate(z, Z_FINISH) != Z_STREAM_END)
		die("deflate");
	return PAYLOAD_LEN - 1 - z->avail_out;
}

static void sweep(ctx *c, FILE *csv)
{
	op ops[NSWEEP];
	char names[NSWEEP][48];
	size_t size[NSWEEP] = {0};

	for (int k = 0; k < NSWEEP; k++) {
		memset(&c->sweep[k], 0, sizeof(c->sweep[k]));
		if (deflateInit2(&c->sweep[k], zp[k].level, Z_DEFLATED, -zp[k].wbits,
				 zp[k].memlevel, Z_DEFAULT_STRATEGY) != Z_OK)
			die("zlib init");
		snprintf(names[k], sizeof(names[k]), "zlib level=%d wbits=%d memlevel=%d",
			 zp[k].level, zp[k].wbits, zp[k].memlevel);
		ops[k] = (op){names[k], NULL, step_sweep, k, 0, 0};
		for (size_t v = 0; v < VARIANTS; v++)
			size[k] += step_sweep(c, &ops[k], v);
	}
	measure_all(c, ops, NSWEEP, REP_SECONDS / 4);
	printf("\n%-40s %10s %8s %10s\n", "zlib deflate parameters (raw deflate)",
	       "ops/s", "MB/s", "bytes out");
	for (int k = 0; k < NSWEEP; k++) {
		double mbs = ops[k].med * PAYLOAD_LEN / 1e6;

		printf("%-40s %10.0f %8.1f %10zu\n", names[k], ops[k].med, mbs,
		       size[k] / VARIANTS);
		fprintf(csv, "%s,%.0f,%.2f,,,,%zu\n", names[k], ops[k].med, mbs,
			size[k] / VARIANTS);
		deflateEnd(&c->sweep[k]);
	}
}

/* ---- report --------------------------------------------------------------- */

/* mkdir -p: every prefix of path that ends at a '/', then path itself. */
static void mkdir_p(const char *path)
{
	char buf[512];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		die("bad output directory");
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST)
			die("cannot create the CSV directory");
		buf[i] = path[i];
	}
}

/* bench/out/wire.csv, or $BENCH_OUT/wire.csv, as the other benchmarks. */
static FILE *open_csv(void)
{
	const char *dir = getenv("BENCH_OUT");
	char path[600];
	FILE *f;

	if (dir == NULL || *dir == '\0')
		dir = "bench/out";
	mkdir_p(dir);
	snprintf(path, sizeof(path), "%s/wire.csv", dir);
	f = fopen(path, "w");
	if (f == NULL)
		die("cannot write wire.csv");
	fprintf(f, "operation,median_ops_per_s,payload_mb_per_s,framing_over_raw,"
		   "target,status,bytes_out\n");
	return f;
}

/* ops[0] and ops[2] are framing, each followed by its raw twin.  A missed
 * target is reported (MISS), not an error: benchmarks are not tests. */
static void report(const op *ops, size_t nops, double wire_bytes, FILE *csv)
{
	printf("%-30s %10s %7s %7s %12s\n", "operation (median of 7)", "ops/s",
	       "us/op", "MB/s", "framing/raw");
	for (size_t o = 0; o < nops; o++) {
		double mbs = ops[o].med * PAYLOAD_LEN / 1e6, r = 0;
		const char *status = "";

		if (o == 0 || o == 2) {
			r = ops[o + 1].med / ops[o].med;
			status = r <= TARGET_RATIO ? "PASS" : "MISS";
		}
		printf("%-30s %10.0f %7.2f %7.1f", ops[o].name, ops[o].med,
		       1e6 / ops[o].med, mbs);
		if (r > 0)
			printf(" %11.3fx  %s (target <= %.2fx)", r, status, TARGET_RATIO);
		printf("\n");
		fprintf(csv, "%s,%.0f,%.2f,", ops[o].name, ops[o].med, mbs);
		if (r > 0)
			fprintf(csv, "%.3f,%.2f,%s,", r, TARGET_RATIO, status);
		else
			fprintf(csv, ",,,");
		if (o == 0)
			fprintf(csv, "%.0f", wire_bytes);
		fprintf(csv, "\n");
	}
}

int main(int argc, char **argv)
{
	static ctx c;
	op ops[] = {
		{"seal: wire_seal", NULL, step_seal, 0, 0, 0},
		{"raw: deflate + aead encrypt", NULL, step_raw_seal, 0, 0, 0},
		{"open: wire_open", prep_open, step_open, 0, 0, 0},
		{"raw: aead decrypt + inflate", NULL, step_raw_open, 0, 0, 0},
		{"raw: deflate alone", NULL, step_deflate, 0, 0, 0},
		{"raw: aead encrypt alone", NULL, step_encrypt, 0, 0, 0},
		{"raw: aead decrypt alone", NULL, step_decrypt, 0, 0, 0},
		{"raw: inflate alone", NULL, step_inflate, 0, 0, 0},
		{"handshake: one HELLO, new pair", NULL, step_hello, 0, 0, 0},
	};
	size_t wire_total = 0;
	FILE *csv;

	printf("command:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\ncores online: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	setup(&c);
	for (size_t i = 0; i < PASS; i++)
		wire_total += c.dg_len[i];
	printf("payload: %u bytes of cart-delta records (%d variants), sealed to %.0f "
	       "bytes on average\nsender deflate: libdeflate level %d; "
	       "MB/s counts payload bytes;\nframing/raw = time per op of framing over "
	       "the raw primitives alone\n\n",
	       PAYLOAD_LEN, VARIANTS, (double)wire_total / PASS, WIRE_DEFLATE_LEVEL_DEFAULT);
	csv = open_csv();
	measure_all(&c, ops, sizeof(ops) / sizeof(ops[0]), REP_SECONDS);
	report(ops, sizeof(ops) / sizeof(ops[0]), (double)wire_total / PASS, csv);
	sweep(&c, csv);
	fclose(csv);
	libdeflate_free_compressor(c.def);
	libdeflate_free_decompressor(c.inf);
	wire_free(c.tx);
	wire_free(c.rx);
	wire_free(c.hs);
	for (int k = 0; k < 4; k++)
		wire_keyring_free(c.ring[k]);
	free(c.dg);
	free(c.raw);
	return c.sink == 0;   /* uses the sink, so no step is optimised away */
}
