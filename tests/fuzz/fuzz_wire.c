/*
 * fuzz_wire.c - libFuzzer harness for the datagram layer's untrusted input:
 * wire_open (datagrams) and wire_keyring_parse (keyring files).
 *
 * The first input byte picks what the rest is:
 *   0  a raw datagram, opened as received from the network;
 *   1  keyring text;
 *   2  a payload body sealed by hand with a valid key and header, flagged
 *      as deflated or not by the next byte, so that the code behind
 *      authentication (replay window, inflate with its cap) sees arbitrary
 *      bytes too, which a fuzzer could never forge;
 *   3  a payload sealed with wire_seal and opened again: must round-trip.
 * Violated invariants abort.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/error.h"
#include "net/keyring.h"
#include "net/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RX_ID 1u
#define TX_ID 2u
#define EPOCH 5u

/* Two fixed keys: the harness must be deterministic. */
static const char ring_text[] =
	"# fuzz keyring\n"
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
	"Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=\n";

static wire_keyring *ring;
static wire *rx, *tx;
static uint64_t hand_seq;

static void setup(void)
{
	wire_config cfg;

	if (wire_keyring_parse(ring_text, sizeof(ring_text) - 1, &ring) != 0)
		abort();
	wire_config_init(&cfg);
	cfg.cluster_tag = wire_cluster_tag("fuzz");
	cfg.sender_id = RX_ID;
	if (wire_new(&cfg, ring, &rx) != 0)
		abort();
	cfg.sender_id = TX_ID;
	cfg.boot_epoch = EPOCH;
	if (wire_new(&cfg, ring, &tx) != 0)
		abort();
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Seals body as docs/protocol.md specifies, from a sender other than tx. */
static size_t hand_seal(uint8_t flags, const uint8_t *body, size_t n, uint8_t *out)
{
	uint32_t id;
	const uint8_t *key = wire_keyring_primary(ring, &id);
	uint8_t nonce[24] = {0};
	uint64_t seq = ++hand_seq;

	out[0] = 'C';
	out[1] = 'T';
	out[2] = WIRE_VERSION;
	out[3] = 1;
	out[4] = flags;
	put_le(out + 5, id, 4);
	put_le(out + 9, wire_cluster_tag("fuzz"), 4);
	put_le(out + 13, TX_ID + 1, 8);
	put_le(out + 21, EPOCH, 4);
	put_le(out + 25, seq, 8);
	put_le(nonce, TX_ID + 1, 8);
	put_le(nonce + 8, EPOCH, 4);
	put_le(nonce + 12, seq, 8);
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

	if (wire_keyring_parse((const char *)d, n, &r) == 0) {
		if (wire_keyring_count(r) == 0 ||
		    wire_keyring_find(r, wire_keyring_primary_id(r)) == NULL)
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
	rc = wire_open(rx, dg, hand_seal(d[0] & WIRE_F_DEFLATE, d + 1, n - 1, dg), &m);
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

	if (wire_seal(tx, 1, n > 0 ? d : NULL, n, dg, sizeof(dg), &len) != 0)
		return;   /* too big even deflated: fine */
	if (wire_open(rx, dg, len, &m) != 0 || m.payload_len != n ||
	    (n > 0 && memcmp(m.payload, d, n) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (rx == NULL)
		setup();
	if (size == 0)
		return 0;
	switch (data[0] & 3) {
	case 0: open_any(data + 1, size - 1); break;
	case 1: parse_ring(data + 1, size - 1); break;
	case 2: sealed_body(data + 1, size - 1); break;
	default: round_trip(data + 1, size - 1); break;
	}
	return 0;
}
