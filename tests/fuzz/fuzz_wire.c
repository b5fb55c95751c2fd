/*
 * fuzz_wire.c - libFuzzer harness for the datagram layer's untrusted input:
 * wire_open (sealed datagrams and HELLOs) and wire_keyring_parse (keyring
 * files).
 *
 * The first input byte picks what the rest is:
 *   0  a raw datagram, opened as received from the network;
 *   1  keyring text;
 *   2  a payload body sealed by hand under the session key of a real pair
 *      (computed as docs/protocol.md specifies), flagged as deflated or
 *      not by the next byte, so that the code behind authentication
 *      (replay window, inflate with its cap) sees arbitrary bytes too,
 *      which a fuzzer could never forge;
 *   3  a payload sealed with wire_seal and opened again: must round-trip;
 *   4  a valid HELLO with the input XORed over it: only the unchanged one
 *      may open.
 * Violated invariants abort.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/error.h"
#include "net/keyring.h"
#include "net/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EPOCH 5u

/* A fixed cluster secret: the harness must be deterministic. */
static const char ring_text[] =
	"# fuzz keyring\n"
	"cluster-secret AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

static wire_keyring *rx_ring, *tx_ring, *hand_ring;
static wire *rx, *tx;
static wire *hand_rx;            /* rx's twin, so hand_seal's sequences
				  * do not push tx's out of rx's window */
static uint8_t key[32];          /* tx -> rx */
static uint8_t hello[WIRE_HELLO_LEN];
static uint64_t hand_seq = 1u << 20;

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static wire *make(wire_keyring **ring, uint64_t replica, uint8_t nonce)
{
	wire_config cfg;
	wire *w;

	if (wire_keyring_parse(ring_text, sizeof(ring_text) - 1, ring, NULL, 0) != 0 ||
	    wire_keyring_derive_identity(*ring, replica) != 0)
		abort();
	wire_config_init(&cfg);
	cfg.cluster_tag = wire_cluster_tag("fuzz");
	cfg.boot_epoch = EPOCH;
	cfg.boot_nonce[0] = nonce;
	if (wire_new(&cfg, *ring, &w) != 0)
		abort();
	return w;
}

/* The tx -> rx key, from the specification (crypto_kx, then BLAKE2b). */
static void spec_key(void)
{
	static const char ctx[] = "cartd-v2-session";
	uint8_t rxk[32], txk[32], m[sizeof(ctx) - 1 + 24 + 32] = {0};
	const uint8_t *mine = wire_keyring_cert(tx_ring) + 32;
	const uint8_t *theirs = wire_keyring_cert(rx_ring) + 32;
	uint64_t a = wire_self_id(tx), b = wire_self_id(rx);
	int rc = a < b ? crypto_kx_client_session_keys(rxk, txk, mine,
						       wire_keyring_kx_sk(tx_ring), theirs)
		       : crypto_kx_server_session_keys(rxk, txk, mine,
						       wire_keyring_kx_sk(tx_ring), theirs);

	if (rc != 0)
		abort();
	memcpy(m, ctx, sizeof(ctx) - 1);
	put_le(m + 16, a, 8);
	put_le(m + 24, b, 8);
	put_le(m + 32, EPOCH, 4);
	put_le(m + 36, EPOCH, 4);
	m[40] = 2;          /* tx's nonce, then rx's */
	m[56] = 1;
	crypto_generichash(key, 32, m, sizeof(m), txk, 32);
}

static void shake(wire *a, wire *b, uint8_t *keep)
{
	uint8_t d[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN] = {0};
	size_t n;
	wire_msg m;

	if (wire_hello(a, wire_self_id(b), 0, chal, NULL, d, sizeof(d), &n) != 0 ||
	    wire_open(b, d, n, &m) != 0)
		abort();
	if (keep != NULL)
		memcpy(keep, d, n);
}

static void setup(void)
{
	rx = make(&rx_ring, 1, 1);
	tx = make(&tx_ring, 2, 2);
	shake(tx, rx, hello);
	shake(rx, tx, NULL);
	hand_rx = make(&hand_ring, 1, 1);
	if (wire_open(hand_rx, hello, sizeof(hello), &(wire_msg){0}) != 0)
		abort();
	spec_key();
}

/* Seals body as docs/protocol.md specifies, with a sequence wire.c never
 * reaches here. */
static size_t hand_seal(uint8_t flags, const uint8_t *body, size_t n, uint8_t *out)
{
	uint8_t nonce[24] = {0};
	uint64_t seq = ++hand_seq;

	out[0] = 'C';
	out[1] = 'T';
	out[2] = WIRE_VERSION;
	out[3] = 1;
	out[4] = flags;
	put_le(out + 5, wire_cluster_tag("fuzz"), 4);
	put_le(out + 9, wire_self_id(tx), 8);
	put_le(out + 17, wire_self_id(rx), 8);
	put_le(out + 25, EPOCH, 4);
	put_le(out + 29, EPOCH, 4);
	put_le(out + 33, seq, 8);
	put_le(nonce, seq, 8);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + WIRE_HEADER_LEN, NULL, body, n,
						   out, WIRE_HEADER_LEN, NULL, nonce, key);
	return n + WIRE_OVERHEAD;
}

static void open_any(const uint8_t *d, size_t n)
{
	wire_msg m;

	if (wire_open(rx, d, n, &m) == 0 && m.payload_len > WIRE_MAX_PAYLOAD_DEFAULT)
		abort();
}

static void parse_ring(const uint8_t *d, size_t n)
{
	wire_keyring *r = NULL;
	size_t nk;

	if (wire_keyring_parse((const char *)d, n, &r, NULL, 0) == 0) {
		if (wire_keyring_cluster_keys(r, &nk) == NULL || nk == 0 ||
		    (!wire_keyring_has_identity(r) && !wire_keyring_can_certify(r)))
			abort();
		wire_keyring_free(r);
	} else if (r != NULL) {
		abort();
	}
}

static void sealed_body(const uint8_t *d, size_t n)
{
	static uint8_t dg[WIRE_MAX_DATAGRAM_DEFAULT];
	wire_msg m;
	int rc;

	if (n < 1 || n - 1 > sizeof(dg) - WIRE_OVERHEAD)
		return;
	rc = wire_open(hand_rx, dg, hand_seal(d[0] & WIRE_F_DEFLATE, d + 1, n - 1, dg), &m);
	/* authentic and fresh: only the payload itself may be refused */
	if (rc != 0 && !((d[0] & WIRE_F_DEFLATE) && rc == CARTD_EINFLATE))
		abort();
	if (rc == 0 && !(d[0] & WIRE_F_DEFLATE) &&
	    (m.payload_len != n - 1 || memcmp(m.payload, d + 1, n - 1) != 0))
		abort();
}

static void round_trip(const uint8_t *d, size_t n)
{
	static uint8_t dg[WIRE_MAX_DATAGRAM_DEFAULT];
	size_t len = 0;
	wire_msg m;

	if (wire_seal(tx, wire_self_id(rx), 1, n > 0 ? d : NULL, n, dg, sizeof(dg), &len) != 0)
		return;   /* too big even deflated: fine */
	if (wire_open(rx, dg, len, &m) != 0 || m.payload_len != n ||
	    (n > 0 && memcmp(m.payload, d, n) != 0))
		abort();
}

static void mutate_hello(const uint8_t *d, size_t n)
{
	uint8_t h[WIRE_HELLO_LEN];
	bool same = true;
	wire_msg m;

	memcpy(h, hello, sizeof(h));
	for (size_t i = 0; i < n && i < sizeof(h); i++) {
		h[i] ^= d[i];
		same = same && d[i] == 0;
	}
	if (wire_open(rx, h, sizeof(h), &m) == 0 && !same)
		abort();   /* a changed HELLO must never verify */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (rx == NULL)
		setup();
	if (size == 0)
		return 0;
	switch (data[0] % 5) {
	case 0: open_any(data + 1, size - 1); break;
	case 1: parse_ring(data + 1, size - 1); break;
	case 2: sealed_body(data + 1, size - 1); break;
	case 3: round_trip(data + 1, size - 1); break;
	default: mutate_hello(data + 1, size - 1); break;
	}
	return 0;
}
