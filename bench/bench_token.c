/*
 * bench_token.c - what a read token costs the peer that issues it: every
 * answer that carries a cart (an add's, a read's) seals one.
 *
 *   build/bench/bench_token [--runs N]
 *
 * A token is sealed for a cart written by one replica (a context of one
 * range, the common case) and by 20 (a range each), and opened again.
 * Beside each figure, measured in the same run: the token's MAC alone
 * (SipHash-2-4-128, the floor of a seal), that MAC against version 2's
 * (keyed BLAKE2b-128, app/peer/token.h), and libsodium's constant-time
 * base64 against the encoder tokens use (app/peer/b64url.h) on the same
 * bytes.  Medians of --runs runs (default 5) of ITERS operations each.
 * The table also goes to bench/out/token.csv.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/peer/b64url.h"
#include "app/peer/token.h"
#include "bench/bench_common.h"
#include "crdt/codec.h"
#include "net/keyring.h"

#define MAX_RUNS 15
#define ITERS 200000
#define RING "cluster-secret AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
#define CART "cart-12345"

static void die(const char *what)
{
	fprintf(stderr, "bench_token: %s\n", what);
	exit(1);
}

/* A context of `writers` ranges of 5 dots each, replica ids spread out. */
static void context_of(crdt_ctx *c, unsigned writers)
{
	crdt_ctx_init(c);
	for (unsigned i = 0; i < writers; i++)
		if (crdt_ctx_add_range(c, 0x9e3779b97f4a7c15ull * (i + 1), 1, 5))
			die("out of memory");
}

static volatile size_t sink;   /* keeps results alive */

static double time_seal(const wire_keyring *r, const crdt_ctx *c)
{
	crdt_id id = bench_cart_id(CART, strlen(CART));   /* as the HTTP edge makes it */
	double t0 = bench_now();
	for (int i = 0; i < ITERS; i++) {
		char *tok;
		if (token_seal(r, &id, c, &tok))
			die("token_seal failed");
		sink += (size_t)tok[0];
		free(tok);
	}
	return (bench_now() - t0) * 1e9 / ITERS;
}

static double time_open(const wire_keyring *r, const char *tok)
{
	crdt_ctx out;
	crdt_ctx_init(&out);
	crdt_id id = bench_cart_id(CART, strlen(CART));
	double t0 = bench_now();
	for (int i = 0; i < ITERS; i++)
		if (token_open(r, &id, tok, strlen(tok), &out))
			die("token_open failed");
	double ns = (bench_now() - t0) * 1e9 / ITERS;
	crdt_ctx_destroy(&out);
	return ns;
}

/* The MAC of a seal alone over as many bytes: SipHash-2-4-128 under the
 * token key's SipHash key (version 3), or keyed BLAKE2b-128 under the token
 * key (version 2). */
static double time_mac(const uint8_t *key, size_t len, unsigned version)
{
	uint8_t msg[4096] = { 0 }, mac[TOKEN_MAC_BYTES];
	double t0 = bench_now();
	for (int i = 0; i < ITERS; i++) {
		if (version == 2)
			crypto_generichash(mac, sizeof mac, msg, len, key, WIRE_KEY_BYTES);
		else
			crypto_shorthash_siphashx24(mac, msg, len, key);
		msg[0] ^= mac[0];
	}
	return (bench_now() - t0) * 1e9 / ITERS;
}

static double time_b64(const uint8_t *bin, size_t n, char *out, size_t cap, int ours)
{
	double t0 = bench_now();
	for (int i = 0; i < ITERS; i++) {
		if (ours)
			b64url_encode(out, bin, n);
		else
			sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		sink += (size_t)out[1];
	}
	return (bench_now() - t0) * 1e9 / ITERS;
}

int main(int argc, char **argv)
{
	long runs = 5;
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = strtol(argv[++i], &end, 10);
		if (end == NULL || *end != '\0' || end == argv[i]) {
			fprintf(stderr, "usage: bench_token [--runs N]\n"
			        "  Seals and opens read tokens; medians of N runs (default 5,\n"
			        "  max %d).  CSV to bench/out/token.csv.\n", MAX_RUNS);
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "bench_token: --runs must be 1..%d\n", MAX_RUNS);
		return 2;
	}
	if (sodium_init() < 0)
		die("libsodium failed to initialise");
	bench_header("token: sealing and opening read tokens", argc, argv);

	wire_keyring *r = NULL;
	if (wire_keyring_parse(RING, strlen(RING), &r, NULL, 0))
		die("keyring");
	uint32_t key_id;
	const uint8_t *key = wire_keyring_token_primary(r, &key_id);
	const uint8_t *sipkey = wire_keyring_token_mac_primary(r, &key_id);

	static const unsigned shapes[] = { 1, 20 };
	bench_table t;
	bench_table_open(&t, "token");
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		crdt_ctx c;
		context_of(&c, shapes[s]);
		char *tok;
		crdt_id id = bench_cart_id(CART, strlen(CART));
		if (token_seal(r, &id, &c, &tok))
			die("token_seal failed");
		size_t sealed = TOKEN_OVERHEAD + crdt_ctx_encoded_size(&c);
		/* The MAC covers the sealed bytes but itself, the id and its
		 * length; version 2's a 20-byte label too. */
		size_t mac_in = sealed - TOKEN_MAC_BYTES + strlen(CART) + 1;
		uint8_t *bin = calloc(1, sealed);
		size_t cap = b64url_encoded_len(sealed);
		char *out = malloc(cap);
		if (!bin || !out)
			die("out of memory");
		randombytes_buf(bin, sealed);

		double seal[MAX_RUNS], open[MAX_RUNS], mac[MAX_RUNS], mac2[MAX_RUNS], ours[MAX_RUNS],
		       theirs[MAX_RUNS];
		for (int i = 0; i < runs; i++) {
			seal[i] = time_seal(r, &c);
			open[i] = time_open(r, tok);
			mac[i] = time_mac(sipkey, mac_in, 3);
			mac2[i] = time_mac(key, mac_in + 20, 2);
			ours[i] = time_b64(bin, sealed, out, cap, 1);
			theirs[i] = time_b64(bin, sealed, out, cap, 0);
		}
		char metric[96], base[64];
		double m = bench_median(mac, (size_t)runs);
		snprintf(base, sizeof base, "its MAC alone");
		snprintf(metric, sizeof metric, "seal, %u writer(s), %zu chars", shapes[s], strlen(tok));
		bench_table_row(&t, metric, bench_median(seal, (size_t)runs), "ns", base, m,
		                BENCH_NONE, 0);
		snprintf(metric, sizeof metric, "open, %u writer(s)", shapes[s]);
		bench_table_row(&t, metric, bench_median(open, (size_t)runs), "ns", base, m,
		                BENCH_NONE, 0);
		snprintf(metric, sizeof metric, "MAC of %zu bytes, SipHash-2-4-128", mac_in);
		bench_table_row(&t, metric, m, "ns", "version 2's BLAKE2b-128",
		                bench_median(mac2, (size_t)runs), BENCH_NONE, 0);
		snprintf(metric, sizeof metric, "base64 of %zu bytes, b64url", sealed);
		bench_table_row(&t, metric, bench_median(ours, (size_t)runs), "ns",
		                "sodium_bin2base64", bench_median(theirs, (size_t)runs),
		                BENCH_NONE, 0);
		free(tok);
		free(bin);
		free(out);
		crdt_ctx_destroy(&c);
	}
	bench_table_close(&t);
	wire_keyring_free(r);
	return 0;
}
